"""Benchmark: relic-target scan, all five models x 50 masses (issue target: < 10 s, one core).

``run(fast)`` returns one row per case with the wall time; run as a script to print a table.
"""

from __future__ import annotations

import time

import numpy as np

from darkmoments.relic import omega_h2, scan
from darkmoments.relic.dof import dof_table

__all__ = ["run"]


def run(fast: bool = False) -> list[dict]:
    """Time the relic computations.

    Parameters
    ----------
    fast : bool
        10 masses instead of 50.

    Returns
    -------
    list of dict
        Rows with ``case``, ``points`` and ``seconds`` (wall time).
    """
    rows = []
    t0 = time.perf_counter()
    dof_table.cache_clear()
    dof_table()
    rows.append({"case": "g_* table (cold)", "points": 1, "seconds": time.perf_counter() - t0})
    t0 = time.perf_counter()
    omega_h2("km", 0.1, 1.7e-4)
    rows.append({"case": "omega_h2 single point", "points": 1, "seconds": time.perf_counter() - t0})
    n = 10 if fast else 50
    t0 = time.perf_counter()
    table = scan("all", n_masses=n, proxy_band=False)
    rows.append(
        {
            "case": f"targets 5 models x {n} masses",
            "points": len(table),
            "seconds": time.perf_counter() - t0,
        }
    )
    t0 = time.perf_counter()
    table = scan("all", n_masses=n, proxy_band=True)
    rows.append(
        {
            "case": f"targets + hadron proxy band, {n} masses",
            "points": len(table),
            "seconds": time.perf_counter() - t0,
        }
    )
    assert np.all(np.isfinite(table["y"]))
    return rows


if __name__ == "__main__":  # same table as ``make bench``, this benchmark only
    import sys

    import run as runner  # benchmarks/run.py, next to this script

    raise SystemExit(runner.main(["relic", *sys.argv[1:]]))
