"""The ``darkmoments`` command line: thin click commands over the library.

Every sub-command lives in its own module of this package and is registered below.  Bad input
(``ValueError``, ``TypeError``, ``OSError`` raised by the library, or click's own usage errors)
ends in a one-line message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .._version import __version__

__all__ = ["DarkmomentsGroup", "main"]


class DarkmomentsGroup(click.Group):
    """Click group that turns library input errors into one-line messages with exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ValueError, TypeError, OSError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            click.echo(f"darkmoments: error: {msg}", err=True)
            sys.exit(2)

    def main(self, *args: Any, **kwargs: Any) -> Any:  # one-line usage errors
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


def _register() -> None:
    # Each module adds its commands to ``main``; keep one import per line.
    from . import generate as _generate  # noqa: F401  (xsec, generate)
    from . import relic as _relic  # noqa: F401  (relic)
    from . import stats as _stats  # noqa: F401  (workspace reach discovery degeneracy ...)
    from . import templates as _templates  # noqa: F401  (templates build|list, yield)


_register()
