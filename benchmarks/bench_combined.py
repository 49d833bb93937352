"""Benchmark: a combined 1e4-toy discrimination over three experiments (issue 14).

Problem: synthetic templates (:mod:`darkmoments.testing.synthetic`) on the binnings of
LDMX Phase I (4 GeV), LDMX Phase II (8 GeV) and M3 Phase 2 (15 GeV), 40 x 48 = 1920 (E, p_T)
bins each (5760 in all), at the 39 grid masses above 1 MeV of each experiment; true km at
1.0 GeV against md with N = 50 signal events in total, split 10 : 25 : 15 between the three.
The fast combined path (:func:`darkmoments.stats.combined.run_combined_discrimination`:
Barlow-Beeston per experiment, every experiment's normalisation free or one shared coupling
with log-normal nuisances, mass profiled continuously over the common range) on one core,
with importance sampling, without the luminosity root finding.  Issue target: 1e4 toys in
< 30 s on one core.

``run(fast)`` returns one row per case (wall and process CPU seconds); run as a script to
print a table.
"""

from __future__ import annotations

import time

import numpy as np

from darkmoments.experiments import get_experiment
from darkmoments.stats import ShapeGrid
from darkmoments.stats.combined import (
    CombinedHypothesis,
    CombinedSetup,
    CombinedSystematics,
    run_combined_discrimination,
)
from darkmoments.testing.synthetic import synthetic_template

__all__ = ["run"]

EXPERIMENTS = ("ldmx-phase1", "ldmx-phase2", "m3-phase2")
N_TRUE = (10.0, 25.0, 15.0)
TRUE_MASS = 1.0


def _grid(model: str, name: str) -> ShapeGrid:
    exp = get_experiment(name)
    masses = exp.mass_grid.masses()[1:]  # synthetic shapes need m > 1 MeV
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
    return ShapeGrid.from_templates(ts, "E,pt", events_per_pb=1.0)


def _hypothesis(model: str) -> CombinedHypothesis:
    grids = tuple(_grid(model, e) for e in EXPERIMENTS)
    rates = []
    for g, n in zip(grids, N_TRUE, strict=True):
        assert g.n1 is not None
        rates.append(n * g.n1 / g.rate(TRUE_MASS))
    return CombinedHypothesis(model, grids, tuple(rates))


def run(fast: bool = False) -> list[dict]:
    """Time the combined discrimination (free normalisations, and a shared coupling).

    Parameters
    ----------
    fast : bool
        2000 toys instead of 10000.

    Returns
    -------
    list of dict
        Rows with ``case``, ``toys``, ``seconds`` (wall), ``cpu_seconds``, ``z``, ``target``.
    """
    ht, ha = _hypothesis("km"), _hypothesis("md")
    n_toys = 2000 if fast else 10000
    rows = []
    for mode, syst in (("free", None), ("shared", CombinedSystematics((0.055, 0.055, 0.055)))):
        setup = CombinedSetup(EXPERIMENTS, ht, ha, TRUE_MASS, N_TRUE, mode, syst)
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_combined_discrimination(
            setup, n_toys, seed=1, workers=1, chunk_size=2500, significance_events=False
        )
        rows.append(
            {
                "case": f"combined, 3 experiments, {mode} normalisation",
                "toys": n_toys,
                "seconds": round(time.perf_counter() - t0, 1),
                "cpu_seconds": round(time.process_time() - c0, 1),
                "z": round(res.z, 2),
                "z_importance": None if res.z_importance is None else round(res.z_importance, 2),
                "target": "< 30 s",
            }
        )
    return rows


if __name__ == "__main__":  # same table as ``make bench``, this benchmark only
    import sys

    import run as runner  # benchmarks/run.py, next to this script

    raise SystemExit(runner.main(["combined", *sys.argv[1:]]))
