"""Small helpers shared by the CLI modules: JSON output, option checks, output paths, progress.

Conventions of every command (one CLI vocabulary)
-------------------------------------------------
* ``--templates DIR``: the template directory (default: the shipped templates).
* ``--out PATH``: the main output file (a directory only where a command writes several files,
  and its ``--help`` says so).  The parent directory must exist; it is never created silently
  (:func:`check_output_path`).  An existing output file (``--out``, ``--plot``, a sidecar) is
  never overwritten without ``--force`` (:func:`force_option`); resumable directories
  (``templates build``, ``discriminate``, ``library``, ``reproduce``) are continued instead.
* ``--plot PATH``: a figure (PNG/PDF by suffix).
* ``--events N``: Monte Carlo events; ``--signal-events N``: expected signal counts.
* ``--json``: one JSON object on stdout (:func:`echo_json`).
* Progress bars go to stderr and only when it is a terminal (:func:`progress_enabled`);
  ``--progress/--no-progress`` switch them, default on (:func:`progress_option`).
* ``--workers N``: local worker processes, default all CPUs (:func:`workers_option`,
  :func:`resolve_workers`); results never depend on it.
* ``--model``: a model id (``km``, ``MD``, ``kinetic-mixing``); where a command takes several,
  a comma-separated list or ``all``.  ``--mass``: A' mass(es) in GeV, likewise.
* Renamed options stay as hidden, deprecated aliases (:func:`deprecated_alias`): ``--dir``
  for ``--templates``, ``--models``/``--masses`` for ``--model``/``--mass``, ``--scan`` for
  ``--mass-scan``.
* Every command's ``--help`` ends with a runnable example (:func:`example`).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import InputError, OutputPathError
from ..io.jsonio import dumps

__all__ = [
    "check_not_overwriting",
    "check_output_path",
    "default_workers",
    "deprecated_alias",
    "echo_discrimination_checks",
    "echo_json",
    "example",
    "force_option",
    "positive_float",
    "positive_int",
    "progress_enabled",
    "progress_option",
    "resolve_workers",
    "sigterm_as_exit",
    "workers_option",
]


_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])  # a click command function


def example(*commands: str) -> str:
    """Epilog of a command's ``--help``: ``Example:`` and the command lines, unwrapped.

    Parameters
    ----------
    *commands : str
        Complete command lines, each runnable as printed.

    Returns
    -------
    str
        Text for ``click.command(epilog=...)``: ``Example:``, then click's no-rewrap marker
        (a backspace line) and the commands indented by two spaces.

    Examples
    --------
    >>> example("darkmoments templates list").splitlines()[0]
    'Example:'
    >>> example("darkmoments templates list").splitlines()[-1]
    '  darkmoments templates list'
    """
    lines = "\n".join(f"  {c}" for c in commands)
    return f"Example:\n\n\b\n{lines}"


def deprecated_alias(
    option: str,
    value: _T | None,
    old_option: str,
    old_value: _T | None,
    *,
    notice: bool = True,
) -> tuple[_T | None, str]:
    """The value of ``option`` or of its hidden, deprecated alias ``old_option``.

    A renamed option keeps working under its old name, and both names at once must agree.
    With ``notice`` the old name prints a deprecation line on stderr; without it the alias
    is accepted silently (for renames made for consistency only, whose old name stays
    valid and whose bad input must still end in exactly one line on stderr).

    Parameters
    ----------
    option, old_option : str
        The current and the deprecated option names (``"--model"``, ``"--models"``).
    value, old_value
        What click parsed for each (``None`` when not given).
    notice : bool
        Print a deprecation line on stderr when the old name is used.

    Returns
    -------
    tuple
        The value and the name it was given under (for error messages that name what the
        user typed).

    Raises
    ------
    InputError
        If both names are given with different values.

    Examples
    --------
    >>> deprecated_alias("--model", "km,md", "--models", None)
    ('km,md', '--model')
    """
    if old_value is None:
        return value, option
    if value is not None and value != old_value:
        raise InputError(
            f"{old_option} {old_value!r} (deprecated) and {option} {value!r} disagree; "
            f"give {option} only"
        )
    if notice:
        click.echo(f"darkmoments: warning: {old_option} is deprecated, use {option}", err=True)
    return old_value, old_option


def echo_json(obj: Any) -> None:
    """Print ``obj`` as one JSON object (NaN/inf refused, numpy scalars converted).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.cli._common import echo_json
    >>> echo_json({"sigma_pb": np.float64(3.3e9), "n": np.int64(2)})
    {"sigma_pb": 3300000000.0, "n": 2}
    """
    click.echo(dumps(obj))


def positive_float(name: str, value: float) -> float:
    """Return ``value`` if finite and > 0, else raise ``InputError`` naming ``name``.

    Examples
    --------
    >>> from darkmoments.cli._common import positive_float
    >>> positive_float("--coupling", 1e-5)
    1e-05
    >>> positive_float("--coupling", 0.0)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: --coupling must be a finite number > 0, got 0.0
    """
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value}")
    return value


def positive_int(name: str, value: int) -> int:
    """Return ``value`` if > 0, else raise ``InputError`` naming ``name``.

    Examples
    --------
    >>> from darkmoments.cli._common import positive_int
    >>> positive_int("--toys", 100)
    100
    >>> positive_int("--toys", -1)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: --toys must be a positive integer, got -1
    """
    if value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value}")
    return value


def check_output_path(
    path: str | os.PathLike[str], *, option: str = "--out", force: bool = False
) -> Path:
    """Check that ``path`` can be written; return it as a :class:`~pathlib.Path`.

    The one rule of every command that writes a file: the parent directory must exist (it
    is never created silently) and must be a directory, and an existing file is refused
    unless ``force`` (the command's ``--force``, :func:`force_option`).

    Raises
    ------
    OutputPathError
        Naming the option and the directory or file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.cli._common import check_output_path
    >>> d = Path(tempfile.mkdtemp())
    >>> check_output_path(d / "ws.json").name
    'ws.json'
    >>> check_output_path(d / "missing" / "ws.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.OutputPathError: --out ...
    >>> _ = (d / "ws.json").write_text("{}")
    >>> check_output_path(d / "ws.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.OutputPathError: --out .../ws.json exists; pass --force to overwrite it
    >>> check_output_path(d / "ws.json", force=True).name
    'ws.json'
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"{option} {p}: directory {parent} does not exist (create it first)")
    if p.is_dir():
        raise OutputPathError(f"{option} {p} is a directory; give a file name")
    return check_not_overwriting(p, option=option, force=force)


def check_not_overwriting(
    path: str | os.PathLike[str], *, option: str = "--out", force: bool = False
) -> Path:
    """``path``, unless it exists and ``force`` is off (the shared ``--force`` rule).

    :func:`check_output_path` applies it to a file output; a multi-file output directory
    applies it to each file it is about to write.

    Raises
    ------
    OutputPathError
        ``<option> <path> exists; pass --force to overwrite it``.
    """
    p = Path(path)
    if not force and p.exists():
        raise OutputPathError(f"{option} {p} exists; pass --force to overwrite it")
    return p


def force_option(f: _F) -> _F:
    """``--force``: overwrite existing output files (default: refuse, one line, exit 2).

    Examples
    --------
    >>> import click
    >>> from click.testing import CliRunner
    >>> show = click.command("show")(force_option(lambda force: click.echo(force)))
    >>> CliRunner().invoke(show, ["--force"]).output.strip()
    'True'
    """
    return click.option(
        "--force",
        is_flag=True,
        help="Overwrite existing output files (--out, --plot and their sidecars) "
        "[default: refuse them].",
    )(f)


def progress_option(f: _F) -> _F:
    """``--progress/--no-progress`` (parameter ``progress``, default on) of every command.

    The bar is drawn on stderr only when it is a terminal (:func:`progress_enabled`).

    Examples
    --------
    >>> import click
    >>> from click.testing import CliRunner
    >>> show = click.command("show")(progress_option(lambda progress: click.echo(progress)))
    >>> [CliRunner().invoke(show, a).output.strip() for a in ([], ["--no-progress"])]
    ['True', 'False']
    """
    return click.option(
        "--progress/--no-progress",
        "progress",
        default=True,
        show_default=True,
        help="Progress bar on stderr (drawn only when stderr is a terminal, never into a "
        "file or pipe).",
    )(f)


def default_workers() -> int:
    """The default of every ``--workers``: all CPUs (``os.cpu_count()``, 1 if unknown)."""
    return os.cpu_count() or 1


def workers_option(f: _F) -> _F:
    """``--workers N`` (parameter ``workers``, None = :func:`default_workers`)."""
    return click.option(
        "--workers",
        type=int,
        default=None,
        help="Local worker processes, >= 1 (1 = serial; results do not depend on it) "
        "[default: all CPUs].",
    )(f)


def resolve_workers(workers: int | None, option: str = "--workers") -> int:
    """``--workers`` as a number of processes: None gives :func:`default_workers`.

    Raises
    ------
    InputError
        Below 1, naming the option.

    Examples
    --------
    >>> from darkmoments.cli._common import default_workers, resolve_workers
    >>> resolve_workers(2), resolve_workers(None) == default_workers()
    (2, True)
    >>> resolve_workers(0)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: --workers must be an integer >= 1, got 0
    """
    from ..validation import check_int

    return check_int(option, default_workers() if workers is None else workers, lo=1)


def progress_enabled(requested: bool = True) -> bool:
    """Whether to draw progress bars: requested and stderr is a terminal (never in logs).

    Examples
    --------
    >>> from darkmoments.cli._common import progress_enabled
    >>> progress_enabled(False)  # never when not requested (and never into a file or pipe)
    False
    """
    return bool(requested) and sys.stderr.isatty()


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM ends the command like SIGINT does, with ``SystemExit(143)``.

    So ``finally`` clauses run (atomic writers remove their temporary files, workers are
    stopped).  Outside the main thread, or with a SIGTERM handler already installed, it
    does nothing.

    Examples
    --------
    >>> from darkmoments.cli._common import sigterm_as_exit
    >>> with sigterm_as_exit():
    ...     pass
    """
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):

        def handler(signum: int, _frame: Any) -> None:
            raise SystemExit(128 + signum)

        old = signal.signal(signal.SIGTERM, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, old)
    else:
        yield


def echo_discrimination_checks(rec: Mapping[str, Any]) -> None:
    """Echo the lines under a discrimination report (importance sampling, template noise).

    The importance-sampled p-value and Z when computed, and the warning of a separation the
    templates do not resolve.  Shared by ``discriminate`` with one experiment and with
    several (``--experiment A,B``).
    """
    if rec.get("z_importance") is not None:
        click.echo(
            f"  importance sampling: p = {rec['p_importance']:.3g} +- "
            f"{rec['p_importance_err']:.2g}, Z = {rec['z_importance']:.3f} +- "
            f"{rec['z_importance_err']:.3f}"
        )
    if rec["template_limited"]:
        click.echo(
            f"  warning: shape-identity p = {rec['p_identity']:.3g} >= 0.01 (t_A = "
            f"{rec['t_asimov']:.3g}, template noise alone {rec['t_template_floor']:.3g} on "
            "average): the shapes are not resolved by the templates"
        )
