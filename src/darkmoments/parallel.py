"""One executor interface for serial, local-process and Dask execution.

Public interface
----------------
``get_executor(workers=1, scheduler=None) -> Executor``
    ``scheduler`` (a ``dask.distributed`` address such as ``tcp://host:8786``, or a
    ``distributed.Client``) selects :class:`DaskExecutor`; otherwise ``workers == 1`` gives
    :class:`SerialExecutor` and ``workers > 1`` gives :class:`ProcessExecutor` (a
    ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method, safe with
    threads and identical on every platform).
``Executor.imap_unordered(fn, items) -> Iterator[tuple[int, result]]``
    Applies ``fn`` to every item and yields ``(index, fn(items[index]))`` as results arrive.
    ``fn`` and the items must be picklable (module-level functions) for processes and Dask.
    An exception raised by ``fn`` is re-raised in the caller.
``Executor.close()``; every executor is also a context manager.

Randomness never depends on the executor: callers pass explicit seeds in the items, so the
same items give bit-identical results on every backend.
"""

from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import TracebackType
from typing import Any, TypeVar

__all__ = [
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "get_executor",
]

T = TypeVar("T")
R = TypeVar("R")


class Executor(ABC):
    """Common interface of the execution backends."""

    #: Backend name (``serial``, ``processes``, ``dask``).
    name: str = "executor"

    @abstractmethod
    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` for every item, in completion order."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]`` in input order (computed by this backend)."""
        out: dict[int, R] = dict(self.imap_unordered(fn, items))
        return [out[i] for i in range(len(items))]

    def close(self) -> None:  # noqa: B027  (default: nothing to release)
        """Release workers / connections."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(Executor):
    """Run everything in the calling process, in order."""

    name = "serial"

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` in input order."""
        for i, item in enumerate(items):
            yield i, fn(item)


class ProcessExecutor(Executor):
    """Local worker processes (``spawn`` start method).

    Parameters
    ----------
    workers : int
        Number of processes (>= 1).
    """

    name = "processes"

    def __init__(self, workers: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` as the processes finish them."""
        futures: dict[Future[R], int] = {
            self._pool.submit(fn, item): i for i, item in enumerate(items)
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield futures[fut], fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        """Shut the pool down (cancelling queued work)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """A ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client
        Scheduler address (``tcp://host:8786``) or an existing client (not closed by
        :meth:`close`).
    """

    name = "dask"

    def __init__(self, scheduler: Any) -> None:
        from distributed import Client

        if isinstance(scheduler, Client):
            self.client = scheduler
            self._owns = False
        elif isinstance(scheduler, str) and scheduler.strip():
            try:
                self.client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise OSError(f"cannot connect to Dask scheduler {scheduler!r}: {exc}") from exc
            self._owns = True
        else:
            raise ValueError(
                f"scheduler must be an address such as 'tcp://127.0.0.1:8786' or a "
                f"distributed.Client, got {scheduler!r}"
            )

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` as the cluster finishes them."""
        from distributed import as_completed

        futures = [self.client.submit(fn, item, pure=False) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                fut.release()

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._owns:
            self.client.close()


def get_executor(workers: int = 1, scheduler: Any = None) -> Executor:
    """Choose the backend: Dask if ``scheduler`` is given, else processes or serial.

    Parameters
    ----------
    workers : int
        Local processes (>= 1); 1 runs serially in this process.  Ignored with a scheduler.
    scheduler : str or distributed.Client, optional
        ``dask.distributed`` scheduler address or client.

    Returns
    -------
    Executor
    """
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)
