"""SIGINT and SIGTERM to ``darkmoments generate``: the run ends within 5 s, nothing is left.

The signal goes to the main (only) process either while it generates (the event spool exists)
or while it writes the output (the temporary output file exists).  Afterwards the output
directory must be empty: no spool, no temporary file, no partial output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from darkmoments.testing import processes as procs

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _start(out: Path, n_events: int) -> subprocess.Popen:
    args = [
        sys.executable, "-m", "darkmoments", "generate", "--model", "km", "--mass", "0.1",
        "--beam-energy", "8", "--events", str(n_events), "--seed", "1", "--out", str(out),
        "--no-progress",
    ]  # fmt: skip
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a child of a shell without job control may inherit SIGINT ignored; undo that so
        # Python installs its KeyboardInterrupt handler
        preexec_fn=procs.default_sigint,
    )


def _wait_for(directory: Path, pattern: str, proc: subprocess.Popen, timeout: float = 120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        hits = [p for p in directory.glob(pattern) if p.stat().st_size > 0]
        if hits:
            return hits[0]
        if proc.poll() is not None:
            pytest.fail(f"generate ended before {pattern} appeared: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"{pattern} did not appear within {timeout} s")


def _signal_and_check(proc: subprocess.Popen, sig: int, directory: Path) -> None:
    proc.send_signal(sig)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"generate did not end within 5 s of signal {sig}")
    assert time.monotonic() - t0 < 5
    assert proc.returncode == EXIT[sig], err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in directory.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_writing_leaves_nothing(tmp_path, sig):
    out = tmp_path / "ev.lhe.gz"
    proc = _start(out, 60_000)
    _wait_for(tmp_path, ".ev.lhe.gz.*.tmp.gz", proc)  # the atomic writer's temporary file
    assert list(tmp_path.glob(".ev.lhe.gz.*.spool")), "spool should exist while writing"
    _signal_and_check(proc, sig, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_generating_leaves_nothing(tmp_path, sig):
    out = tmp_path / "ev.csv"
    proc = _start(out, 2_000_000)
    _wait_for(tmp_path, ".ev.csv.*.spool", proc)  # events are being spooled
    assert not list(tmp_path.glob(".ev.csv.*.tmp.csv"))
    _signal_and_check(proc, sig, tmp_path)
