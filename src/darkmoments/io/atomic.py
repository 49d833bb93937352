"""Atomic file writing: nothing half-written survives a crash, Ctrl-C or SIGTERM.

Every writer in darkmoments goes through :func:`atomic_path`: the content is written to a
temporary file in the destination's directory, flushed to disk, given the usual file mode and
moved onto the destination with :func:`os.replace` (atomic on POSIX).  On any exception the
temporary file is removed and an existing destination is left untouched.

Signals: Ctrl-C (SIGINT) raises :class:`KeyboardInterrupt`, which the cleanup handles.  SIGTERM
would kill the process without any cleanup, so while an atomic write (or a
:func:`scratch_path`) is in progress in the main thread of the main process,
:func:`sigterm_raises` turns SIGTERM into :class:`Terminated` (a :class:`SystemExit` with code
143 = 128 + SIGTERM): the same cleanup runs and the process then exits.  The previous handler
is restored afterwards.  The handler is only installed where SIGTERM still has its default
action: a handler set by the application (or an outer :func:`sigterm_raises`) is left alone,
and worker processes and threads are never touched.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "Terminated",
    "atomic_path",
    "scratch_path",
    "sigterm_raises",
    "write_csv_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives inside :func:`sigterm_raises`.

    Examples
    --------
    >>> import os, signal
    >>> from darkmoments.io.atomic import Terminated, sigterm_raises
    >>> try:
    ...     with sigterm_raises():
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ... except Terminated as exc:
    ...     print(type(exc).__name__, exc.signum == signal.SIGTERM)
    ...
    Terminated True
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(128 + int(signum))
        self.signum = int(signum)

    def __str__(self) -> str:
        return f"terminated by signal {self.signum}"


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


def _may_install() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    if multiprocessing.parent_process() is not None:  # a worker: its parent decides
        return False
    try:
        return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    except (ValueError, AttributeError):  # pragma: no cover - platforms without SIGTERM
        return False


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` so ``finally``/cleanup code runs.

    No-op outside the main thread of the main process, or if SIGTERM already has a handler
    that is not the default one.  The previous handler is restored on exit.

    Examples
    --------
    >>> import os, signal
    >>> from darkmoments.io.atomic import Terminated, sigterm_raises
    >>> try:
    ...     with sigterm_raises():
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ... except Terminated:
    ...     print("cleaned up")
    ...
    cleaned up
    """
    if not _may_install():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, mkdir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    Parameters
    ----------
    path : path-like
        Destination.  The temporary name ends in the destination's suffix, so writers that
        pick a format from the name (matplotlib, pandas) behave the same.
    mkdir : bool
        Create missing parent directories (default: a missing directory is an error).

    Raises
    ------
    FileNotFoundError
        If the directory does not exist and ``mkdir`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.io.atomic import atomic_path
    >>> out = Path(tempfile.mkdtemp()) / "result.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("complete")
    ...
    >>> out.read_text()
    'complete'
    >>> try:
    ...     with atomic_path(out) as tmp:
    ...         _ = tmp.write_text("half")
    ...         raise RuntimeError("interrupted")
    ... except RuntimeError:
    ...     pass
    ...
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('complete', ['result.txt'])
    """
    target = Path(path)
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    with sigterm_raises():
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
            )
            os.close(fd)
            yield Path(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
            os.replace(tmp, target)
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise


@contextmanager
def scratch_path(directory: str | os.PathLike[str], *, prefix: str, suffix: str) -> Iterator[Path]:
    """Yield a new empty hidden file in ``directory``, always removed on exit.

    For intermediate data too large for memory (e.g. the event spool of
    :func:`darkmoments.io.events.generate_to_file`); SIGTERM is handled as in
    :func:`atomic_path`.

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments.io.atomic import scratch_path
    >>> d = tempfile.mkdtemp()
    >>> with scratch_path(d, prefix="spool", suffix=".bin") as p:
    ...     _ = p.write_bytes(b"rows")
    ...     print(p.exists())
    ...
    True
    >>> p.exists()
    False
    """
    with sigterm_raises():
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{prefix}.", suffix=suffix, dir=directory)
            os.close(fd)
            yield Path(tmp)
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, mkdir: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.io.atomic import write_text_atomic
    >>> write_text_atomic(Path(tempfile.mkdtemp()) / "note.txt", "hello").read_text()
    'hello'
    >>> write_text_atomic("no/such/dir/note.txt", "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    FileNotFoundError: [Errno 2] No such file or directory: ...
    """
    with atomic_path(path, mkdir=mkdir) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(
    obj: Any, path: str | os.PathLike[str], *, mkdir: bool = False, **dump_kwargs: Any
) -> Path:
    """Write ``obj`` as JSON (NaN refused, trailing newline) to ``path`` atomically.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from darkmoments.io.atomic import write_json_atomic
    >>> p = Path(tempfile.mkdtemp()) / "x.json"
    >>> _ = write_json_atomic({"sigma_pb": np.float64(3.3e9)}, p)
    >>> print(p.read_text(), end='')
    {
      "sigma_pb": 3300000000.0
    }
    >>> write_json_atomic({"z": float("nan")}, p)
    Traceback (most recent call last):
        ...
    ValueError: Out of range float values are not JSON compliant: nan
    """
    dump_kwargs.setdefault("indent", 2)
    dump_kwargs.setdefault("allow_nan", False)
    return write_text_atomic(path, json.dumps(obj, **dump_kwargs) + "\n", mkdir=mkdir)


def write_csv_atomic(
    table: Any, path: str | os.PathLike[str], *, mkdir: bool = False, **to_csv_kwargs: Any
) -> Path:
    """Write a pandas DataFrame as CSV (no index by default) to ``path`` atomically.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from darkmoments.io.atomic import write_csv_atomic
    >>> table = pd.DataFrame({"mass": [0.1], "y": [1e-13]})
    >>> p = write_csv_atomic(table, Path(tempfile.mkdtemp()) / "t.csv")
    >>> print(p.read_text(), end='')
    mass,y
    0.1,1e-13
    """
    to_csv_kwargs.setdefault("index", False)
    with atomic_path(path, mkdir=mkdir) as tmp:
        table.to_csv(tmp, **to_csv_kwargs)
    return Path(path)
