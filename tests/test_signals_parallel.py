"""Signals to the main process of a parallel run end it within seconds and leave no workers.

Each test starts a real command line run with two worker processes (``ProcessExecutor``,
spawn), waits until the workers are busy, signals the *main* process only, and checks that
the main process exits with 130 (SIGINT) or 143 (SIGTERM) within 5 s, that every process it
started is gone within 5 s, and that no temporary file is left in the output directory.
Processes are found through /proc (Linux), so psutil is not needed.
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

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/proc/self/stat").exists(),
    reason="process inspection through /proc (Linux)",
)

EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: The main process must be gone this many seconds after the signal, and its workers too.
LIMIT_S = 5.0


def _workers(pid: int) -> list[int]:
    return [c for c in procs.children(pid) if "spawn_main" in procs.cmdline(c) and procs.alive(c)]


def _run_and_signal(args: list[str], sig: int, cwd: Path) -> dict:
    """Start ``python -m darkmoments ARGS``, signal it once its 2 workers are busy."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "darkmoments", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # our own process group: nothing leaks to pytest
        preexec_fn=procs.default_sigint,  # pytest may run with SIGINT ignored (nohup ... &)
    )
    started: set[int] = set()
    try:
        t_end = time.monotonic() + 60.0
        while time.monotonic() < t_end:
            assert proc.poll() is None, proc.communicate()
            workers = _workers(proc.pid)
            started.update(procs.children(proc.pid))
            # busy: both workers spawned and past their imports (CPU time > 1 s each)
            if len(workers) >= 2 and all(
                procs.cpu_ticks(w) > os.sysconf("SC_CLK_TCK") for w in workers
            ):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the two workers did not start within 60 s")
        started.update(procs.children(proc.pid))
        t0 = time.monotonic()
        os.kill(proc.pid, sig)  # the main process only, not the group
        try:
            _out, err = proc.communicate(timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            started.update(procs.children(proc.pid))
            state = {
                p: (procs.cmdline(p)[:60], procs.proc_stat(p)) for p in sorted(started | {proc.pid})
            }
            alive = procs.alive(proc.pid)
            if alive:  # faulthandler prints every thread's stack
                os.kill(proc.pid, signal.SIGABRT)
            try:
                _out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                err = b""
            text = err.decode(errors="replace")
            text = text[text.find("Fatal Python error") :].split("Extension modules")[0]
            pytest.fail(
                f"run not over {LIMIT_S} s after signal {sig!r} (main alive: {alive}); "
                f"processes: {state}; stacks: {text[-6000:]}"
            )
        t_main = time.monotonic() - t0
        while any(procs.alive(p) for p in started) and time.monotonic() - t0 < 2 * LIMIT_S:
            time.sleep(0.05)
        left = [p for p in started if procs.alive(p)]
        return {
            "rc": proc.returncode,
            "t_main": t_main,
            "t_all": time.monotonic() - t0,
            "left": left,
            "workers": workers,
            "stderr": err.decode(errors="replace"),
        }
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for p in started:
            if procs.alive(p):
                os.kill(p, signal.SIGKILL)


def _temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp" in p.name]


def _check(res: dict, sig: int) -> None:
    assert res["rc"] == EXIT_CODE[sig], res
    assert "Traceback" not in res["stderr"], res["stderr"]
    assert res["t_main"] < LIMIT_S, res
    assert res["left"] == [], f"processes left running: {res['left']}"
    assert res["t_all"] < LIMIT_S, res


def _build_args(out: Path) -> list[str]:
    return [
        "templates",
        "build",
        "--experiment",
        "ldmx-phase2",
        "--models",
        "km",
        "--masses",
        "0.1,0.2,0.3",
        "--events",
        "200000",
        "--workers",
        "2",
        "--seed",
        "3",
        "--out",
        str(out),
        "--no-progress",
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_templates_build_signal_ends_run_and_workers(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "tpl"
    out.mkdir()
    res = _run_and_signal(_build_args(out), sig, tmp_path)
    _check(res, sig)
    assert _temporary_files(tmp_path) == []
    assert not (out / "ldmx-phase2.h5").exists()  # interrupted: no packed file
    # what remains is resumable data only: a checkpoint with its manifest and finished
    # templates, and no empty checkpoint directory
    for parts in out.glob(".parts-*"):
        names = sorted(p.name for p in parts.iterdir())
        assert "manifest.json" in names, names
        assert all(n == "manifest.json" or n.endswith(".h5") for n in names), names


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_discriminate_signal_ends_run_and_workers(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "toys"
    args = [
        "discriminate",
        "--true",
        "km:1.0",
        "--alt",
        "md",
        "--signal-events",
        "50",
        "--toys",
        "5000000",
        "--chunk-size",
        "1000",
        "--workers",
        "2",
        "--seed",
        "1",
        "--out",
        str(out),
        "--no-progress",
    ]
    res = _run_and_signal(args, sig, tmp_path)
    _check(res, sig)
    assert _temporary_files(tmp_path) == []
    # the chunks written before the signal are complete (resumable) files
    import numpy as np

    for chunk in out.rglob("chunk_*.npz"):
        with np.load(chunk) as z:
            assert z["t_true"].size == 1000
