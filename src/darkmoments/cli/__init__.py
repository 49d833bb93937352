"""The ``darkmoments`` command line: thin click commands over the library.

Every sub-command is defined in its own module of this package as a standalone click command
and attached to the root group here with ``main.add_command`` (pyhf's ``cli/cli.py``
pattern), so the command modules never import this one.

Errors: the darkmoments error family (:class:`darkmoments.errors.DarkmomentsError`, which
covers bad input, bad files and unwritable outputs), ``OSError`` (a missing or unreadable
file) and click's own usage errors end in a one-line message on stderr and exit code 2.
Anything else is a bug and surfaces as a traceback.  A closed output pipe
(``darkmoments templates list | head``) ends quietly.  A missing optional extra
(:class:`darkmoments.errors.MissingExtraError`) is one line naming the extra to install.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .._version import __version__
from ..errors import DarkmomentsError, MissingExtraError

__all__ = ["DarkmomentsGroup", "main"]


class DarkmomentsGroup(click.Group):
    """Click group that turns input errors into one-line messages with exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the sub-command; input errors become one line on stderr and exit code 2."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader went away (| head): no message, no traceback
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except (DarkmomentsError, MissingExtraError, OSError) as exc:
            click.echo(f"darkmoments: error: {exc}", err=True)
            sys.exit(2)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the CLI: usage errors as one line with exit code 2, an abort with exit 130."""
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.Abort:
            click.echo("darkmoments: aborted", err=True)
            sys.exit(130)
        except click.exceptions.ClickException as exc:
            click.echo(f"darkmoments: error: {exc.format_message()}", err=True)
            sys.exit(2)


@click.group(cls=DarkmomentsGroup)
@click.version_option(__version__, prog_name="darkmoments")
def main() -> None:
    """darkmoments: dark bremsstrahlung through higher electromagnetic moments."""


def _attach() -> None:
    from .generate import COMMANDS as generate_commands
    from .relic import COMMANDS as relic_commands
    from .stats import COMMANDS as stats_commands
    from .templates import templates_group, yield_command

    for command in (
        *generate_commands,  # xsec, generate
        *relic_commands,  # relic
        *stats_commands,  # workspace, reach, discovery, degeneracy, discriminate
        templates_group,  # templates build | list
        yield_command,
    ):
        main.add_command(command)
    main.add_command(__import__(f"{__name__}.library", fromlist=["x"]).library_cmd)  # library
    main.add_command(__import__(f"{__name__}.reproduce", fromlist=["x"]).reproduce_cmd)  # reproduce


_attach()
