"""Generator speed and memory: adaptation time, unweighted events per second per core,
unweighting efficiency and peak memory for every model at 8 GeV and m_A' = 0.01, 0.1, 1 GeV.

"adapt_s" is the VEGAS adaptation, "pilot_s" the 2e5-point pilot that fixes the unweighting
threshold; "unweighted_ev_per_s" is the rate after both (the issue's "after adaptation");
"total_s" is the whole call (adaptation + pilot + generation + cross section).
Targets (issue 2): >= 20,000 unweighted events / s / core after adaptation, and a 1e5-event
sample with its cross section at 1 % in under a minute on one core.  For scale, MadGraph 5
needs 4-23 minutes for 20,000 such events on this 2-core machine (15-80 events / s).
Run with ``make bench`` (all benchmarks) or ``python benchmarks/bench_generator.py [--fast]``.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import darkmoments as dm

__all__ = ["run"]

MODELS = ("km", "md", "ed", "cr", "am")
MASSES = (0.01, 0.1, 1.0)


def _one(model: str, mass: float, n_events: int) -> dict:
    timings: dict[str, float] = {}
    tracemalloc.start()
    t0 = time.perf_counter()
    s = dm.generate(model, mass, 8.0, n_events, seed=1, timings=timings)
    total = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = n_events / timings["generation"]
    return {
        "model": model,
        "mass_GeV": mass,
        "events": n_events,
        "adapt_s": round(timings["adaptation"], 2),
        "pilot_s": round(timings["pilot"], 2),
        "unweighted_ev_per_s": round(rate),
        "efficiency": round(s.unweighting_efficiency, 3),
        "total_s": round(total, 2),
        "sigma_rel_err": f"{s.sigma_err_pb / s.sigma_pb:.1e}",
        "peak_MB": round(peak / 2**20, 1),
    }


def run(fast: bool = False) -> list[dict]:
    """Benchmark rows (one per model and mass); ``fast`` uses fewer events and masses."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    n = 20_000 if fast else 100_000
    masses = (0.1,) if fast else MASSES
    models = ("km", "md") if fast else MODELS
    return [_one(m, mass, n) for m in models for mass in masses]


if __name__ == "__main__":  # same table as ``make bench``, this benchmark only
    import sys

    import run as runner  # benchmarks/run.py, next to this script

    raise SystemExit(runner.main(["generator", *sys.argv[1:]]))
