"""Atomic file writing: nothing half-written survives a crash.

Every writer in darkmoments goes through :func:`atomic_path`: the content is written to a
temporary file in the destination's directory, flushed to disk, given the usual file mode and
moved onto the destination with :func:`os.replace` (atomic on POSIX).  On any exception the
temporary file is removed and an existing destination is left untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_csv_atomic", "write_json_atomic", "write_text_atomic"]


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
    """
    target = Path(path)
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str, *, mkdir: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path, mkdir=mkdir) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(
    obj: Any, path: str | os.PathLike[str], *, mkdir: bool = False, **dump_kwargs: Any
) -> Path:
    """Write ``obj`` as JSON (NaN refused, trailing newline) to ``path`` atomically."""
    dump_kwargs.setdefault("indent", 2)
    dump_kwargs.setdefault("allow_nan", False)
    return write_text_atomic(path, json.dumps(obj, **dump_kwargs) + "\n", mkdir=mkdir)


def write_csv_atomic(
    table: Any, path: str | os.PathLike[str], *, mkdir: bool = False, **to_csv_kwargs: Any
) -> Path:
    """Write a pandas DataFrame as CSV (no index by default) to ``path`` atomically."""
    to_csv_kwargs.setdefault("index", False)
    with atomic_path(path, mkdir=mkdir) as tmp:
        table.to_csv(tmp, **to_csv_kwargs)
    return Path(path)
