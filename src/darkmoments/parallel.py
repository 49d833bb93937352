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

Signals and worker lifetime (:class:`ProcessExecutor`)
------------------------------------------------------
* Workers never outlive the process that started them: each one polls its parent pid (every
  0.2 s) and, on Linux, also asks the kernel to SIGKILL it when its parent dies
  (``PR_SET_PDEATHSIG``, only when the pool was started from the main thread, whose death is
  the process's).  This holds even if the parent is killed with SIGKILL.
* Workers ignore SIGINT: a Ctrl-C in the terminal (sent to the whole process group) reaches
  the parent, which stops the run; a worker interrupted inside a queue operation could
  otherwise leave a lock held and hang the pool.
* While a pool exists, SIGINT and SIGTERM to the parent (main thread) first terminate the
  workers, then continue as before: SIGINT raises ``KeyboardInterrupt``, SIGTERM raises
  ``SystemExit(143)`` (128 + 15) unless the application installed its own SIGTERM handler,
  which is then called.  Either way ``with`` blocks and ``finally`` clauses run (atomic
  writers remove their temporary files), and the exception ends the run.
* :meth:`ProcessExecutor.close` never waits for running work: it cancels what is queued,
  terminates the workers that do not exit at once, kills those still alive after
  ``TERMINATE_TIMEOUT`` seconds, and returns within a few seconds.

Dask needs the ``dask`` extra (``pip install 'darkmoments[dask]'``); without it
:class:`DaskExecutor` raises :class:`~darkmoments.errors.MissingExtraError` naming it.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.context
import os
import queue
import signal
import sys
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import FrameType, TracebackType
from typing import Any, TypeVar

from ._optional import require
from .errors import InputError, InputTypeError

__all__ = [
    "TERMINATE_TIMEOUT",
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "get_executor",
]

T = TypeVar("T")
R = TypeVar("R")

#: Seconds :meth:`ProcessExecutor.close` waits for workers to exit before killing them.
TERMINATE_TIMEOUT: float = 2.0
#: Seconds between a worker's checks that its parent is alive.
_PARENT_POLL_S: float = 0.2
#: Linux prctl option: signal sent to this process when its parent thread dies.
_PR_SET_PDEATHSIG = 1


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise InputTypeError(f"workers must be an integer >= 1, got {workers!r}")
    if workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    return workers


class Executor(ABC):
    """Common interface of the execution backends.

    Examples
    --------
    >>> from darkmoments.parallel import get_executor
    >>> with get_executor(workers=1) as ex:
    ...     print(ex.map(abs, [-1, 2, -3]))
    ...     print(sorted(ex.imap_unordered(abs, [-4, 5])))
    ...
    [1, 2, 3]
    [(0, 4), (1, 5)]
    """

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
    """Run everything in the calling process, in order.

    Examples
    --------
    >>> from darkmoments.parallel import SerialExecutor
    >>> SerialExecutor().map(len, ["a", "bb", "ccc"])
    [1, 2, 3]
    """

    name = "serial"

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` in input order."""
        for i, item in enumerate(items):
            yield i, fn(item)


# --------------------------------------------------------------------------------------------
# Worker processes that die with their parent


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned process that knows its parent's pid and the spawning thread.

    The two attributes are set in the parent just before the child is launched and travel
    with the pickled process object, so the child can read them in :func:`_worker_init`.
    """

    def start(self) -> None:
        self._dm_parent_pid = os.getpid()
        self._dm_main_thread = threading.current_thread() is threading.main_thread()
        super().start()


class _WorkerContext(multiprocessing.context.SpawnContext):
    """The ``spawn`` start method with :class:`_WorkerProcess`."""

    Process = _WorkerProcess


def _set_pdeathsig(sig: int) -> bool:
    """Linux: have the kernel send ``sig`` to this process when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return False


def _watch_parent(parent_pid: int) -> None:
    """Worker thread: end the worker as soon as its parent is gone (reparented)."""
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_init() -> None:
    """Initializer of every :class:`ProcessExecutor` worker (runs in the worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; see module docstring
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    proc = multiprocessing.current_process()
    parent = getattr(proc, "_dm_parent_pid", None)
    if parent is None:  # pragma: no cover - not started by _WorkerContext
        return
    if getattr(proc, "_dm_main_thread", False):
        _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="darkmoments-parent-watch", daemon=True
    ).start()


def _release_queue(queue: Any) -> None:
    """Unblock a pool's queue feeder thread once the workers are dead.

    The feeder thread may be blocked writing a large task into the pipe to the workers; with
    them dead and the parent's read end still open it would block forever, and the
    interpreter joins it at exit (a hang).  Closing the parent's read end makes the write fail
    at once (as ``concurrent.futures`` does for a broken pool, CPython gh-94777), and the
    queue is no longer joined at exit.
    """
    if queue is None:
        return
    with contextlib.suppress(Exception):
        queue._reader.close()
    with contextlib.suppress(Exception):
        queue.cancel_join_thread()


class ProcessExecutor(Executor):
    """Local worker processes (``spawn`` start method) that never outlive the caller.

    Parameters
    ----------
    workers : int
        Number of processes (>= 1).

    Notes
    -----
    See the module docstring for signals: SIGINT/SIGTERM to the caller terminate the workers
    and end the run (``KeyboardInterrupt`` / ``SystemExit(143)``); workers exit when their
    parent dies, however it dies.

    Examples
    --------
    >>> import math
    >>> from darkmoments.parallel import ProcessExecutor
    >>> with ProcessExecutor(1) as ex:  # spawned: the worker imports darkmoments afresh
    ...     print(ex.map(math.sqrt, [1.0, 4.0, 9.0]))
    ...
    [1.0, 2.0, 3.0]
    """

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = _check_workers(workers)
        self._closed = False
        self._previous: dict[int, Any] = {}
        # handlers first: a signal while the pool is being set up is handled the same way
        self._install_signal_handlers()
        try:
            self._pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=_WorkerContext(), initializer=_worker_init
            )
        except BaseException:
            self._closed = True
            self._restore_signal_handlers()
            raise

    # -- signals -----------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; workers still die with us
        for sig in (signal.SIGINT, signal.SIGTERM):
            prev = signal.getsignal(sig)
            if prev is signal.SIG_IGN or prev is None:
                continue  # the application ignores it (or it is not Python-managed)
            self._previous[sig] = prev
            signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, prev in self._previous.items():
            # only if ours is still the installed handler (not replaced by someone since)
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, prev)

    def _on_signal(self, signum: int, frame: FrameType | None) -> Any:
        if not self._closed:
            self._terminate_workers()
        prev = self._previous.get(signum, signal.SIG_DFL)
        if callable(prev):
            return prev(signum, frame)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    # -- processes ---------------------------------------------------------------------------

    def _processes(self) -> list[multiprocessing.process.BaseProcess]:
        procs = getattr(getattr(self, "_pool", None), "_processes", None) or {}
        return list(procs.values())

    def _terminate_workers(self) -> None:
        for p in self._processes():
            with contextlib.suppress(Exception):
                if p.is_alive():
                    p.terminate()

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` as the processes finish them."""
        if self._closed:
            raise RuntimeError("this ProcessExecutor is closed")
        # Results arrive through a queue fed by done-callbacks (run by the pool's own thread),
        # not through concurrent.futures.wait(): wait() acquires the condition locks of many
        # futures in turn, and a signal handler raising between two acquisitions leaves some
        # held by this thread for ever, so the pool's manager thread deadlocks in
        # Future.cancel() at shutdown and interpreter exit hangs (seen once in ~20 SIGINTs).
        # SimpleQueue.get() is interrupted cleanly by a signal.
        # No fut.cancel() here when the caller stops early: close() cancels what is queued
        # (shutdown(cancel_futures=True), done by the pool's own thread).  A future cancelled
        # from this thread while close() terminates busy workers makes the pool's manager
        # thread crash (InvalidStateError in terminate_broken) and leaves its queue feeder
        # blocked, which hangs interpreter exit.
        arrived: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()
        futures: dict[Future[R], int] = {}
        for i, item in enumerate(items):
            fut = self._pool.submit(fn, item)
            futures[fut] = i
            fut.add_done_callback(arrived.put)
        for _ in range(len(futures)):
            fut = arrived.get()
            yield futures[fut], fut.result()

    def close(self) -> None:
        """Stop the workers and release the pool (within ~``TERMINATE_TIMEOUT`` + 1 s).

        Queued work is cancelled; workers still running a task are terminated (SIGTERM), and
        killed (SIGKILL) if they are still alive after ``TERMINATE_TIMEOUT`` seconds.
        Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        try:
            procs = self._processes()
            # shutdown() drops these references; keep them to finish the job below
            queue = getattr(self._pool, "_call_queue", None)
            manager = getattr(self._pool, "_executor_manager_thread", None)
            self._pool.shutdown(wait=False, cancel_futures=True)
            # idle workers exit at once on the shutdown sentinel; busy ones get terminated
            deadline = time.monotonic() + 0.2
            for p in procs:
                p.join(max(0.0, deadline - time.monotonic()))
            alive = [p for p in procs if p.is_alive()]
            for p in alive:
                with contextlib.suppress(Exception):
                    p.terminate()
            deadline = time.monotonic() + TERMINATE_TIMEOUT
            for p in alive:
                p.join(max(0.0, deadline - time.monotonic()))
            for p in alive:
                if p.is_alive():
                    with contextlib.suppress(Exception):
                        p.kill()
                    p.join(1.0)
            # the workers are gone (or were killed by a signal handler before close()):
            # a feeder thread blocked on the pipe to them must not hang interpreter exit
            # let the pool's manager thread close the queue itself first (it does so for a
            # broken pool); closing it from here at the same moment makes that thread print
            # an OSError traceback
            if manager is not None and manager.is_alive():
                manager.join(0.5)
            if manager is None or manager.is_alive():
                _release_queue(queue)
            elif queue is not None:
                with contextlib.suppress(Exception):
                    queue.cancel_join_thread()
            if manager is not None and manager.is_alive():
                manager.join(TERMINATE_TIMEOUT)
                if manager.is_alive():  # pragma: no cover - would block interpreter exit
                    warnings.warn(
                        "ProcessExecutor: the pool's manager thread did not stop",
                        RuntimeWarning,
                        stacklevel=2,
                    )
        finally:
            self._restore_signal_handlers()

    def __del__(self) -> None:
        # an executor dropped without close(): do not leave processes behind
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self._terminate_workers()


class DaskExecutor(Executor):
    """A ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client
        Scheduler address (``tcp://host:8786``) or an existing client (not closed by
        :meth:`close`).

    Examples
    --------
    >>> from darkmoments.parallel import DaskExecutor, Executor
    >>> issubclass(DaskExecutor, Executor)  # DaskExecutor("tcp://host:8786") for a cluster
    True
    """

    name = "dask"

    def __init__(self, scheduler: Any) -> None:
        Client = require("distributed", "dask", "the Dask executor (--scheduler)").Client

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
            raise InputError(
                f"scheduler must be an address such as 'tcp://127.0.0.1:8786' or a "
                f"distributed.Client, got {scheduler!r}"
            )

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(i, fn(items[i]))`` as the cluster finishes them."""
        as_completed = require("distributed", "dask", "the Dask executor").as_completed

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

    Examples
    --------
    >>> from darkmoments.parallel import get_executor
    >>> type(get_executor()).__name__
    'SerialExecutor'
    >>> with get_executor(workers=2) as ex:  # worker processes start on the first task
    ...     print(type(ex).__name__)
    ...
    ProcessExecutor
    """
    if scheduler is not None:
        return DaskExecutor(scheduler)
    _check_workers(workers)
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)
