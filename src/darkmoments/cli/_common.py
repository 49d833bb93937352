"""Small helpers shared by the CLI modules: JSON output, option checks, output paths, progress.

Conventions of every command (one CLI vocabulary)
-------------------------------------------------
* ``--templates DIR``: the template directory (default: the shipped templates).
* ``--out PATH``: the main output file (a directory only where a command writes several files,
  and its ``--help`` says so).  The parent directory must exist; it is never created silently
  (:func:`check_output_path`).  ``--force`` allows overwriting where a command refuses it.
* ``--plot PATH``: a figure (PNG/PDF by suffix).
* ``--events N``: Monte Carlo events; ``--signal-events N``: expected signal counts.
* ``--json``: one JSON object on stdout (:func:`echo_json`).
* Progress bars go to stderr and only when it is a terminal (:func:`progress_enabled`).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import InputError, OutputPathError
from ..io.jsonio import dumps

__all__ = [
    "check_output_path",
    "echo_json",
    "positive_float",
    "positive_int",
    "progress_enabled",
]


def echo_json(obj: Any) -> None:
    """Print ``obj`` as one JSON object (NaN/inf refused, numpy scalars converted)."""
    click.echo(dumps(obj))


def positive_float(name: str, value: float) -> float:
    """Return ``value`` if finite and > 0, else raise ``InputError`` naming ``name``."""
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value}")
    return value


def positive_int(name: str, value: int) -> int:
    """Return ``value`` if > 0, else raise ``InputError`` naming ``name``."""
    if value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value}")
    return value


def check_output_path(
    path: str | os.PathLike[str], *, option: str = "--out", force: bool | None = None
) -> Path:
    """Check that ``path`` can be written; return it as a :class:`~pathlib.Path`.

    The one rule of every command: the parent directory must exist (it is never created
    silently) and must be a directory; with ``force=False`` an existing file is refused
    (``force=None``: overwriting is allowed, for commands without ``--force``).

    Raises
    ------
    OutputPathError
        Naming the option and the directory or file.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"{option} {p}: directory {parent} does not exist (create it first)")
    if p.is_dir():
        raise OutputPathError(f"{option} {p} is a directory; give a file name")
    if force is False and p.exists():
        raise OutputPathError(f"{option} {p} exists; pass --force to overwrite it")
    return p


def progress_enabled(requested: bool = True) -> bool:
    """Whether to draw progress bars: requested and stderr is a terminal (never in logs)."""
    return bool(requested) and sys.stderr.isatty()
