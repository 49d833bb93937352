"""Process inspection through ``/proc`` (Linux) for tests of signal handling.

Tests that signal a command line run check that the run and every process it started (pool
workers, the resource tracker) are gone in time.  These helpers read ``/proc/<pid>/stat`` and
``/proc/<pid>/cmdline`` directly, so psutil is not needed; where ``/proc`` does not exist
every process looks absent (skip such tests off Linux).

:func:`default_sigint` is the ``preexec_fn`` for such runs: a command started in the
background by a shell without job control (``nohup make test &``, many CI runners) inherits
SIGINT *ignored* (POSIX), Python then keeps it ignored and the run, by design, ignores Ctrl-C;
a test of the Ctrl-C behaviour must start its child as a terminal would.
"""

from __future__ import annotations

import signal
from pathlib import Path

__all__ = ["alive", "children", "cmdline", "cpu_ticks", "default_sigint", "proc_stat"]

_PROC = Path("/proc")
#: States of a process that has exited: zombie (not yet reaped) and dead.
_EXITED = ("Z", "X")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, None if unreadable."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # the name may contain spaces and ")"


def default_sigint() -> None:
    """Reset SIGINT to its default disposition (``subprocess.Popen(preexec_fn=...)``).

    Examples
    --------
    >>> import subprocess, sys
    >>> code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    >>> subprocess.run([sys.executable, "-c", code], preexec_fn=default_sigint,
    ...                capture_output=True, text=True).stdout.strip()
    'False'
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def proc_stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of process ``pid``, None if it does not exist."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has exited)."""
    st = proc_stat(pid)
    return st is not None and st[1] not in _EXITED


def children(pid: int, *, exited: bool = True) -> list[int]:
    """The pids of the child processes of ``pid``; ``exited=False`` leaves out zombies."""
    out = []
    for d in _PROC.iterdir() if _PROC.is_dir() else ():
        if not d.name.isdigit():
            continue
        st = proc_stat(int(d.name))
        if st is not None and st[0] == pid and (exited or st[1] not in _EXITED):
            out.append(int(d.name))
    return out


def cmdline(pid: int) -> str:
    """The command line of process ``pid``, arguments separated by spaces ("" if unreadable)."""
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu_ticks(pid: int) -> int:
    """User plus system CPU time of process ``pid`` in clock ticks (0 if unreadable)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime
