"""Total cross section sigma(m_A') for the five models at E0 = 4 and 8 GeV on tungsten.

For every (model, beam energy, mass) the exact tree-level cross section
(:func:`darkmoments.cross_section`, coupling g_f = 1 in the model's units) is compared with
the analytic Weizsacker-Williams result (:func:`darkmoments.physics.analytic.sigma_ww`,
BEST normalisation, theta integrated to pi) through the K-factor K = exact / analytic.
(For md/ed the WW normalisation rests on the derivation in the analytic module; the WW
result for the dipoles is dominated by large angles and depends on theta_max, so their K is
far from one.)

Outputs in ``--out``: ``sigma_vs_mass.csv`` (columns model, beam_energy_GeV, mass_GeV,
sigma_pb, sigma_err_pb, sigma_ww_pb, k_factor, k_factor_err) and ``sigma_vs_mass.png``
(log-log, mplhep style, solid exact with error bars, dotted WW).  ``--fast`` uses two
masses and only km and md (seconds); the full run uses all five models and 9 masses.

Usage::

    python studies/sigma_vs_mass.py --out results/sigma [--fast] [--seed 1]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pandas as pd
from tqdm import tqdm

import darkmoments as dm
from darkmoments.io.atomic import atomic_path
from darkmoments.physics import analytic

__all__ = ["main", "run"]

TARGET = "W"
BEAM_ENERGIES = (4.0, 8.0)


def _atomic_save(path: Path, write: Any) -> None:
    with atomic_path(path) as tmp:
        write(str(tmp))


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
    models = ("km", "md") if fast else dm.MODEL_IDS
    masses = (0.05, 0.5) if fast else tuple(np.geomspace(0.01, 1.0, 9))
    rows = []
    grid = list(itertools.product(models, BEAM_ENERGIES, masses))
    for model, e0, m in tqdm(grid, desc="cross sections", unit="point"):
        cs = dm.cross_section(model, float(m), e0, target=TARGET, seed=seed, rtol=rtol)
        ww = analytic.sigma_ww(model, float(m), e0, target=TARGET)
        rows.append({
            "model": model, "beam_energy_GeV": e0, "mass_GeV": float(m),
            "sigma_pb": cs.value_pb, "sigma_err_pb": cs.error_pb, "sigma_ww_pb": ww,
            "k_factor": cs.value_pb / ww, "k_factor_err": cs.error_pb / ww,
        })  # fmt: skip
    table = pd.DataFrame(rows)
    _atomic_save(out / "sigma_vs_mass.csv", lambda p: table.to_csv(p, index=False))

    plt.style.use(mplhep.style.ROOT)
    fig, axes = plt.subplots(1, 2, figsize=(16, 7), sharey=True)
    for ax, e0 in zip(axes, BEAM_ENERGIES, strict=True):
        for model in models:
            t = table[(table.model == model) & (table.beam_energy_GeV == e0)]
            c = dm.get_model(model).color
            ax.errorbar(t.mass_GeV, t.sigma_pb, yerr=t.sigma_err_pb, color=c, ls="-",
                        marker="o", ms=4, label=f"{dm.get_model(model).letter} exact")  # fmt: skip
            ax.plot(t.mass_GeV, t.sigma_ww_pb, color=c, ls=":", label="WW")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$m_{A'}$ [GeV]")
        ax.set_title(rf"$E_0$ = {e0:g} GeV, {TARGET}, $g_f$ = 1", fontsize=16)
    axes[0].set_ylabel(r"$\sigma$ [pb]")
    axes[0].legend(fontsize=12, ncol=2)
    fig.tight_layout()
    _atomic_save(out / "sigma_vs_mass.png", lambda p: fig.savefig(p, dpi=80, format="png"))
    plt.close(fig)
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
