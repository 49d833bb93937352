"""Relic targets (paper section 3, figure 1 solid curves) for all five models.

For each model the coupling g_f(m_A') giving Omega h^2 = 0.120 is found with
:func:`darkmoments.relic.scan` (Boltzmann equation 3.2, benchmark m_A'/m_chi = 3, alpha_D = 0.5,
Lambda_f = 1 TeV) and reported as y (eq. 3.3).  For md, ed, cr, am the hadronic proxy of the
paper's footnote 4 gives the other edge of a shaded band.  The figure is drawn by
:func:`darkmoments.plotting.plot_reach_relic` (the style of every darkmoments figure); the
reach overlay of figure 1 is ``studies/reach.py`` and ``darkmoments reproduce``.

Outputs in ``--out``: ``relic_targets.csv`` (model, mass, m_chi, coupling,
coupling_unit, y, omega_h2, y_hadron_proxy) and ``relic_targets.png`` (log-log y vs m_A', solid
lines in the paper colours).  ``--fast`` uses 8 masses; the full run 50 masses from 3 MeV to
3 GeV.  ``--paper-normalisation`` uses the printed eqs. A.4-A.7, A.11 (see
:mod:`darkmoments.relic.annihilation`).

Usage::

    python studies/relic_targets.py --out results/relic [--fast] [--paper-normalisation]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

from darkmoments.relic import scan

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from darkmoments.plotting import plot_reach_relic, save_figure
from darkmoments.relic.output import write_csv_atomic

__all__ = ["main", "run"]


def run(out: Path, fast: bool = False, paper_normalisation: bool = False) -> dict[str, object]:
    """Compute the table and the figure.

    Parameters
    ----------
    out : Path
        Output directory (created).
    fast : bool
        8 masses instead of 50.
    paper_normalisation : bool
        Use the printed amplitudes A.4-A.7, A.11.

    Returns
    -------
    dict
        Paths written, number of rows and wall time in s.
    """
    t0 = time.perf_counter()
    table = scan(
        "all",
        n_masses=8 if fast else 50,
        m_min=0.003,
        m_max=3.0,
        paper_normalisation=paper_normalisation,
        progress=True,
    )
    csv = write_csv_atomic(table, out / "relic_targets.csv")
    band = table.dropna(subset=["y_hadron_proxy"])
    curves = pd.concat(
        [
            table.assign(curve="relic")[["model", "curve", "mass", "y"]],
            band.assign(curve="relic_hadron_proxy", y=band.y_hadron_proxy)[
                ["model", "curve", "mass", "y"]
            ],
        ],
        ignore_index=True,
    )
    norm = "printed eqs. A.4-A.7, A.11" if paper_normalisation else "traced amplitudes"
    label = rf"relic targets, $m_{{A'}}/m_\chi$ = 3, $\alpha_D$ = 0.5 ({norm})"
    fig = plot_reach_relic(curves, label=label)
    png = save_figure(fig, out / "relic_targets.png", dpi=100)
    plt.close(fig)
    return {"csv": csv, "plot": png, "rows": len(table), "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results/relic_targets"))
    ap.add_argument("--fast", action="store_true", help="8 masses (seconds)")
    ap.add_argument("--paper-normalisation", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.out, fast=args.fast, paper_normalisation=args.paper_normalisation)
    print(f"wrote {res['csv']} ({res['rows']} rows) and {res['plot']} in {res['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
