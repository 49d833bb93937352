"""Every command's ``--help`` works and ends with a runnable example (issue 15).

The commands are found by walking the root click group, so a command added later is checked
without touching this file.  An example is an ``Example:`` line followed by at least one
indented ``darkmoments <the command's path> ...`` line.
"""

from __future__ import annotations

import re
import shlex

import click
import pytest
from click.testing import CliRunner

from darkmoments.cli import main


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, cmd in sorted(group.commands.items()):
        found.append((*path, name))
        if isinstance(cmd, click.Group):
            found += _commands(cmd, (*path, name))
    return found


COMMANDS = _commands(main)


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_expected_command_is_registered() -> None:
    names = {" ".join(p) for p in COMMANDS}
    expected = {"xsec", "generate", "relic", "workspace", "reach", "discovery", "degeneracy",
                "discriminate", "templates", "templates build", "templates list",
                "templates export", "yield", "library"}  # fmt: skip
    assert expected <= names, expected - names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert text.startswith(f"Usage: main {' '.join(path)}") or "Usage:" in text
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:")]
    assert starts, f"darkmoments {' '.join(path)} --help has no 'Example:' section"
    examples = [
        line.strip()
        for line in lines[starts[0] + 1 :]
        if line.startswith("  ") and line.strip().startswith("darkmoments ")
    ]
    prefix = "darkmoments " + " ".join(path)
    assert any(e == prefix or e.startswith(prefix + " ") for e in examples), (
        f"no example line starting with {prefix!r} after 'Example:'",
        examples,
    )


def _resolve(words: list[str]) -> click.Command:
    """The command that an example's words name (a group's example may run a sub-command)."""
    cmd: click.Command = main
    for word in words:
        if not (isinstance(cmd, click.Group) and word in cmd.commands):
            break
        cmd = cmd.commands[word]
    return cmd


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_example_options_exist(path: tuple[str, ...]) -> None:
    """Every --option used in the examples is a visible option of the command it runs."""
    prefix = "darkmoments " + " ".join(path)
    for line in _help(path).split("Example", 1)[-1].splitlines():
        if not line.strip().startswith(prefix):
            continue
        words = shlex.split(line)
        cmd = _resolve(words[1:])
        visible = {
            o
            for p in cmd.params
            if not getattr(p, "hidden", False)
            for o in (*p.opts, *p.secondary_opts)
        }
        used = {a.split("=", 1)[0] for a in words if re.match(r"--[a-z]", a)}
        assert used <= visible, (line, sorted(used - visible))
