"""Total cross section sigma(m_A') for the five models at E0 = 4 and 8 GeV on tungsten.

A thin wrapper of :func:`darkmoments.figures.ours.sigma_point` (the computation behind
``darkmoments reproduce``) with its own model and mass selection.

For every (model, beam energy, mass) the exact tree-level cross section
(:func:`darkmoments.cross_section`) is compared with the analytic Weizsacker-Williams result
(:func:`darkmoments.physics.analytic.sigma_ww`, BEST normalisation, theta integrated to pi)
through the K-factor K = exact / analytic.  One coupling convention for every model:
g_f = Lambda_f^-n with Lambda_f = 1 TeV (epsilon = 1 for km; the y of eq. 3.3), so the
cross sections of the five models share one axis; K does not depend on it.  (For md/ed the
WW normalisation rests on the derivation in the analytic module; the WW result for the
dipoles is dominated by large angles and depends on theta_max, so their K is far from one.)

Outputs in ``--out``: ``sigma_vs_mass.csv`` (columns model, beam_energy_GeV, mass_GeV,
sigma_pb, sigma_err_pb, sigma_ww_pb, k_factor, k_factor_err) and ``sigma_vs_mass.png``.
``--fast`` uses two masses and only km and md (seconds); the full run uses all five models
and 9 masses.

Usage::

    python studies/sigma_vs_mass.py --out results/sigma [--fast] [--seed 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm import tqdm

from darkmoments import MODEL_IDS, plotting
from darkmoments.figures.ours import sigma_point
from darkmoments.io.atomic import write_csv_atomic

__all__ = ["main", "run"]

BEAM_ENERGIES = (4.0, 8.0)
LABEL = r"$e^-$ on W; couplings $g_f\,\Lambda_f^{\,n}$ = 1 with $\Lambda_f$ = 1 TeV"


def run(out: Path, *, fast: bool = False, seed: int = 1, rtol: float = 0.01) -> pd.DataFrame:
    """Compute the table, write CSV and plot; returns the table.

    Parameters
    ----------
    out : Path
        Output directory (created if missing).
    fast : bool
        Two masses, km and md only.
    seed : int
        Seed of every cross-section integration.
    rtol : float
        Target relative MC precision of the exact cross sections.
    """
    out.mkdir(parents=True, exist_ok=True)
    models = ("km", "md") if fast else MODEL_IDS
    masses = (0.05, 0.5) if fast else tuple(float(m) for m in np.geomspace(0.01, 1.0, 9))
    items = [(m, e0, x, seed, rtol) for m in models for e0 in BEAM_ENERGIES for x in masses]
    table = pd.DataFrame([sigma_point(i) for i in tqdm(items, desc="cross sections")])
    fig = plotting.plot_sigma_vs_mass(table, label=LABEL, sigma_label=r"$\sigma$ [pb]")
    plotting.save_figure(fig, out / "sigma_vs_mass.png", dpi=100)
    plt.close(fig)
    table = table.rename(columns={"beam_energy": "beam_energy_GeV", "mass": "mass_GeV"})
    write_csv_atomic(table, out / "sigma_vs_mass.csv")
    return table


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--fast", action="store_true", help="two masses, km and md (seconds)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rtol", type=float, default=0.01)
    args = ap.parse_args(argv)
    table = run(args.out, fast=args.fast, seed=args.seed, rtol=args.rtol)
    with pd.option_context("display.width", 140, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
