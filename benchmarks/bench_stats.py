"""Benchmark: discrimination-toy throughput, fast vectorised path vs pyhf + iminuit.

Problem: synthetic templates (:mod:`darkmoments.testing.synthetic`) on the LDMX Phase II
binning (40 x 48 = 1920 (E, p_T) bins) at 40 log-spaced masses (the shipped grid's size),
true km at 1.0 GeV against md, N = 50 signal events.  Throughput is counted in
toys x hypotheses x mass points per second.  The pyhf reference fits each toy at every grid
mass with pyhf's Minuit optimizer (grid nodes only, i.e. less work than the fast path, which
also refines the mass continuously).  Issue targets: fast path >= 100x pyhf per toy, and a
10^4-toy discrimination (one model pair, mass, N) in < 10 s on one core.

``run(fast)`` returns one row per case; run as a script to print a table.
"""

from __future__ import annotations

import time

import numpy as np

from darkmoments.experiments import get_experiment
from darkmoments.stats import DiscriminationSetup, ShapeGrid, asimov, run_discrimination
from darkmoments.stats.toys import discrimination_statistic, reference_statistic_pyhf
from darkmoments.testing.synthetic import synthetic_template

__all__ = ["run"]

N_EVENTS = 50.0
TRUE_MASS = 1.0


def _grid(model: str, masses: np.ndarray) -> ShapeGrid:
    exp = get_experiment("ldmx-phase2")
    assert exp.binning is not None
    ts = [
        synthetic_template(
            model,
            float(m),
            beam_energy=exp.beam_energy,
            e_edges=np.asarray(exp.binning.e_edges),
            pt_edges=np.asarray(exp.binning.pt_edges),
        )
        for m in masses
    ]
    return ShapeGrid.from_templates(ts, "E,pt")


def run(fast: bool = False) -> list[dict]:
    """Time the fast toy path, the pyhf reference and a full discrimination run.

    Parameters
    ----------
    fast : bool
        Fewer toys (2000 fast-path toys, 1 pyhf toy, 2000-toy discrimination).

    Returns
    -------
    list of dict
        Rows with ``case``, ``toys``, ``seconds`` and ``rate`` (toys x hypotheses x mass
        points per second), plus ``speedup`` on the pyhf row.
    """
    masses = np.geomspace(0.01, 3.0, 40)
    gt, ga = _grid("km", masses), _grid("md", masses)
    setup = DiscriminationSetup(gt, ga, TRUE_MASS, N_EVENTS)
    n_fast = 2000 if fast else 10000
    n_ref = 1 if fast else 3
    rng = np.random.default_rng(1)
    lam = asimov(gt, TRUE_MASS, N_EVENTS)
    counts = rng.poisson(lam, size=(n_fast, lam.size)).astype(float)
    work = 2 * masses.size  # hypotheses x mass points per toy

    rows = []
    t0 = time.perf_counter()
    discrimination_statistic(counts, setup)
    dt = time.perf_counter() - t0
    fast_rate = n_fast * work / dt
    rows.append(
        {"case": "fast path (refined mass)", "toys": n_fast, "seconds": dt, "rate": fast_rate}
    )

    t0 = time.perf_counter()
    ref = reference_statistic_pyhf(counts[:n_ref], gt, ga)
    dt = time.perf_counter() - t0
    ref_rate = n_ref * work / dt
    assert np.all(np.isfinite(ref))
    rows.append(
        {
            "case": "pyhf + iminuit reference (grid)",
            "toys": n_ref,
            "seconds": dt,
            "rate": ref_rate,
            "speedup": fast_rate / ref_rate,
        }
    )

    n_disc = 2000 if fast else 10000
    t0 = time.perf_counter()
    res = run_discrimination(setup, n_disc, seed=1, workers=1, chunk_size=2500)
    dt = time.perf_counter() - t0
    rows.append(
        {
            "case": f"discrimination {n_disc} toys, 1 core",
            "toys": n_disc,
            "seconds": dt,
            "rate": 2 * n_disc * work / dt,
            "z": res.z,
        }
    )
    return rows


if __name__ == "__main__":  # same table as ``make bench``, this benchmark only
    import sys

    import run as runner  # benchmarks/run.py, next to this script

    raise SystemExit(runner.main(["stats", *sys.argv[1:]]))
