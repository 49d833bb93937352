"""One checkpoint-and-resume mechanism for every long run (template grids, toys, libraries).

A run is a list of independent *chunks* (one template, one block of toys, ...), each with a
string key.  :class:`Checkpoint` binds a directory to the run's *identity* (a JSON-able dict
of every input that determines the results: seeds, sizes, settings, input fingerprints):

* ``manifest.json`` holds the identity and, for every finished chunk, the SHA-256 of its file;
* each chunk file is written atomically (:mod:`darkmoments.io.atomic`) and only then recorded;
* on resume, a chunk is reused only if it is recorded and its checksum matches; a recorded
  chunk whose file was modified or truncated is refused (:class:`StaleCheckpointError`), an
  unrecorded file (left by an interrupted write) or a removed one is recomputed;
* chunk files in a directory *without* a manifest, or a manifest of another identity, are
  refused: results are never silently reused from another run.

:func:`run_checkpointed` maps a function over the chunks on any executor
(:func:`darkmoments.parallel.get_executor`), skipping the finished ones, saving each result
as soon as it arrives and showing progress.  The results do not depend on the executor or on
interruptions: callers pass explicit seeds in the items.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from darkmoments.checkpoint import Checkpoint, run_checkpointed
>>> def square(x):
...     return np.array([x * x])
>>> d = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> cp = Checkpoint(d, {"what": "squares", "n": 3}, resume=False, suffix=".npy")
>>> run_checkpointed(square, [1, 2, 3], keys=["a", "b", "c"], checkpoint=cp,
...                  save=lambda r, p: np.save(p, r), load=np.load)
[array([1]), array([4]), array([9])]
>>> sorted(Checkpoint(d, {"what": "squares", "n": 3}, resume=True, suffix=".npy").done())
['a', 'b', 'c']
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import OutputPathError, StaleCheckpointError
from .io.atomic import atomic_path, write_json_atomic
from .io.jsonio import to_jsonable

__all__ = ["Checkpoint", "file_sha256", "run_checkpointed"]

T = TypeVar("T")
R = TypeVar("R")

MANIFEST = "manifest.json"
_FORMAT = "darkmoments-checkpoint"
_VERSION = 1
_KEY = re.compile(r"^[A-Za-z0-9_.+-]+$")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's bytes.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.checkpoint import file_sha256
    >>> p = Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _canonical(identity: Mapping[str, Any]) -> dict[str, Any]:
    # JSON round trip: numpy scalars become Python numbers, tuples lists, keys sorted.
    return json.loads(json.dumps(dict(identity), default=to_jsonable, sort_keys=True))


class Checkpoint:
    """A directory of chunk files bound to one run by a fingerprinted manifest.

    Parameters
    ----------
    directory : path-like
        The checkpoint directory.  Created if missing; its parent must exist.
    identity : mapping
        Every input that determines the chunk results (JSON-able).  A directory whose
        manifest has another identity is refused.
    resume : bool
        Continue a run already in ``directory``.  Without it, a directory that holds a run
        is refused (the message says to pass ``--resume`` or choose another directory).
    what : str
        Name of the run in messages (``"toy run"``, ``"template build"``).
    suffix : str
        Chunk file suffix (``".npz"``, ``".h5"``).

    Raises
    ------
    StaleCheckpointError
        The directory holds another run, chunk files without a manifest, or (with
        ``resume=False``) a run at all.
    OutputPathError
        The parent directory does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.checkpoint import Checkpoint
    >>> from darkmoments.errors import StaleCheckpointError
    >>> d = Path(tempfile.mkdtemp()) / "run"
    >>> cp = Checkpoint(d, {"seed": 1, "n": 2}, resume=False, suffix=".txt")
    >>> cp.save("a", lambda p: p.write_text("first chunk")).name
    'chunk_a.txt'
    >>> cp.done()
    ['a']
    >>> Checkpoint(d, {"seed": 1, "n": 2}, resume=True, suffix=".txt").verified("a").name
    'chunk_a.txt'
    >>> try:
    ...     Checkpoint(d, {"seed": 2, "n": 2}, resume=True, suffix=".txt")
    ... except StaleCheckpointError as exc:
    ...     print(type(exc).__name__)
    ...
    StaleCheckpointError
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        identity: Mapping[str, Any],
        *,
        resume: bool,
        what: str = "run",
        suffix: str = ".npz",
    ) -> None:
        self.directory = Path(directory)
        self.identity = _canonical(identity)
        self.what = what
        self.suffix = suffix
        self._manifest_path = self.directory / MANIFEST
        self._chunks: dict[str, dict[str, Any]] = {}
        d = self.directory
        if d.exists() and not d.is_dir():
            raise OutputPathError(f"{d} exists and is not a directory")
        if self._manifest_path.exists():
            old = self._read_manifest()
            if not resume:
                raise StaleCheckpointError(
                    f"{d} already holds a {what}; pass resume=True (--resume) to continue it "
                    "or choose another directory"
                )
            if old.get("identity") != self.identity:
                prev = old.get("identity") or {}
                diff = sorted(
                    k for k in set(prev) | set(self.identity) if prev.get(k) != self.identity.get(k)
                )
                raise StaleCheckpointError(f"cannot resume {d}: settings differ in {diff}")
            self._chunks = dict(old.get("chunks", {}))
            return
        if d.is_dir():
            stray = sorted(p.name for p in d.glob(f"chunk_*{suffix}"))
            if stray:
                raise StaleCheckpointError(
                    f"{d} holds {len(stray)} chunk file(s) ({stray[0]}, ...) but no {MANIFEST}: "
                    "they cannot be bound to this run; remove them or choose another directory"
                )
        else:
            if not d.parent.is_dir():
                raise OutputPathError(f"directory {d.parent} does not exist (create it first)")
            d.mkdir()
        self._write_manifest()

    def _read_manifest(self) -> dict[str, Any]:
        try:
            data = json.loads(self._manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StaleCheckpointError(
                f"{self._manifest_path}: unreadable manifest ({exc})"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise StaleCheckpointError(
                f"{self._manifest_path}: not a darkmoments checkpoint manifest (format "
                f"{data.get('format') if isinstance(data, dict) else None!r}); remove the "
                "directory or choose another one"
            )
        if data.get("version") != _VERSION:
            raise StaleCheckpointError(
                f"{self._manifest_path}: checkpoint version {data.get('version')!r}, "
                f"this darkmoments writes {_VERSION}"
            )
        return data

    def _write_manifest(self) -> None:
        write_json_atomic(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "what": self.what,
                "identity": self.identity,
                "chunks": self._chunks,
            },
            self._manifest_path,
            sort_keys=True,
            indent=1,
        )

    def path(self, key: str) -> Path:
        """File of chunk ``key``."""
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"chunk key must match {_KEY.pattern}, got {key!r}")
        return self.directory / f"chunk_{key}{self.suffix}"

    def done(self) -> list[str]:
        """Keys of the recorded chunks."""
        return list(self._chunks)

    def verified(self, key: str) -> Path | None:
        """The file of a finished chunk, checked against its recorded SHA-256, or ``None``.

        A recorded chunk whose file was removed is forgotten (it will be recomputed from its
        own seed), so "remove the file to recompute it" works as the message says.

        Raises
        ------
        StaleCheckpointError
            The file was modified or truncated after it was recorded.
        """
        rec = self._chunks.get(key)
        if rec is None:
            return None
        f = self.path(key)
        if not f.is_file():  # removed by the user: recompute it (chunks carry their seeds)
            del self._chunks[key]
            self._write_manifest()
            return None
        if file_sha256(f) != rec["sha256"]:
            raise StaleCheckpointError(
                f"{f}: contents differ from the checksum in {self._manifest_path} (modified or "
                "truncated); remove the file to recompute it"
            )
        return f

    def save(self, key: str, write: Callable[[Path], object]) -> Path:
        """Write chunk ``key`` atomically with ``write(tmp_path)``, then record its checksum."""
        f = self.path(key)
        with atomic_path(f) as tmp:
            write(tmp)
        self._chunks[key] = {"sha256": file_sha256(f), "bytes": f.stat().st_size}
        self._write_manifest()
        return f

    def remove(self) -> None:
        """Delete the checkpoint directory (after the results were packed elsewhere)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def run_checkpointed(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    keys: Sequence[str],
    checkpoint: Checkpoint | None,
    save: Callable[[R, Path], object],
    load: Callable[[Path], R],
    workers: int = 1,
    scheduler: Any = None,
    progress: bool = False,
    desc: str = "",
    unit: str = "chunk",
    weights: Sequence[int] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` with resume from, and saving to, a :class:`Checkpoint`.

    Parameters
    ----------
    fn : callable
        Module-level (picklable) function of one item.
    items : sequence
        Inputs, one per chunk (carrying their own seeds).
    keys : sequence of str
        Chunk keys, one per item, unique.
    checkpoint : Checkpoint or None
        Where finished chunks are stored; ``None`` keeps everything in memory.
    save, load : callable
        ``save(result, path)`` writes a result to a file; ``load(path)`` reads it back.
    workers, scheduler
        Executor choice (:func:`darkmoments.parallel.get_executor`).
    progress : bool
        Show a tqdm bar (stderr).
    desc, unit : str
        Progress-bar label and unit.
    weights : sequence of int, optional
        Progress units per chunk (e.g. toys per chunk); default 1 each.

    Returns
    -------
    list
        Results in the order of ``items``.

    Examples
    --------
    >>> from darkmoments.checkpoint import run_checkpointed
    >>> run_checkpointed(abs, [-1, -2, 3], keys=["a", "b", "c"], checkpoint=None,
    ...                  save=None, load=None)
    [1, 2, 3]
    """
    from tqdm.auto import tqdm

    from .parallel import get_executor

    if len(keys) != len(items) or len(set(keys)) != len(keys):
        raise ValueError("run_checkpointed needs one unique key per item")
    w = [1] * len(items) if weights is None else [int(x) for x in weights]
    results: dict[int, R] = {}
    if checkpoint is not None:
        for i, k in enumerate(keys):
            f = checkpoint.verified(k)
            if f is not None:
                try:
                    results[i] = load(f)
                except Exception as exc:  # a checksum-valid file that cannot be read
                    raise StaleCheckpointError(f"{f}: cannot be read ({exc})") from exc
    todo = [i for i in range(len(items)) if i not in results]
    if todo:
        with (
            get_executor(workers=workers, scheduler=scheduler) as ex,
            tqdm(
                total=sum(w),
                initial=sum(w) - sum(w[i] for i in todo),
                disable=not progress,
                unit=unit,
                desc=desc,
            ) as bar,
        ):
            for j, res in ex.imap_unordered(fn, [items[i] for i in todo]):
                i = todo[j]
                results[i] = res
                if checkpoint is not None:
                    checkpoint.save(keys[i], functools.partial(save, res))
                bar.update(w[i])
    return [results[i] for i in range(len(items))]
