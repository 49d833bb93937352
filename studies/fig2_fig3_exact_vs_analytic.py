"""Paper figures 2 and 3: exact generator vs the analytic (Weizsacker-Williams) method.

Figure 2: normalised recoil-lepton energy and p_T distributions for kinetic mixing (red) and
magnetic dipole (green) at E0 = 4 GeV, m_A' = 100 MeV on tungsten; solid = exact tree level
(:func:`darkmoments.generate`), dotted = analytic WW method (eqs. 4.1/4.2,
:mod:`darkmoments.physics.analytic`, nucleus at rest, theta integrated to pi).
Figure 3: transverse momentum of the recoiling nucleus for the five models.

Printed (and written to ``summary.json``): the fraction of events with nucleus p_T > 100 MeV
per model, and for km and md the fraction of recoil leptons above several p_T thresholds,
exact vs analytic (the paper's finding: the analytic method over-estimates high recoil p_T
because the nucleus cannot take transverse momentum).

Usage::

    python studies/fig2_fig3_exact_vs_analytic.py --out results/fig2 [--fast] [--events N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mplhep
import numpy as np
from tqdm import tqdm

import darkmoments as dm
from darkmoments.io.atomic import atomic_path
from darkmoments.physics import analytic

__all__ = ["main", "run"]

E0 = 4.0  # GeV, paper figure 2
MASS = 0.1  # GeV
TARGET = "W"
PT_THRESHOLDS = (0.1, 0.2, 0.3)  # GeV, "high recoil p_T"
NUCLEUS_PT_CUT = 0.1  # GeV, paper figure 3 discussion
E_EDGES = np.linspace(0.0, E0, 41)
PT_EDGES = np.linspace(0.0, 1.0, 41)
NUC_EDGES = np.linspace(0.0, 0.5, 51)


def _atomic_save(path: Path, write: Any) -> None:
    with atomic_path(path) as tmp:
        write(str(tmp))


def _analytic_fraction_above(model: str, threshold: float) -> float:
    pmax = E0  # p_T <= |k| < E0
    _, sp = analytic.recoil_binned_sigma(
        model, MASS, E0, E_EDGES, [0.0, threshold, pmax], target=TARGET
    )
    return float(sp[1] / sp.sum())


def run(out: Path, *, fast: bool = False, n_events: int | None = None, seed: int = 1) -> dict:
    """Generate, compare and plot; returns the summary dict (also written to summary.json).

    Parameters
    ----------
    out : Path
        Output directory (created if missing).
    fast : bool
        Few events (seconds) for a smoke test.
    n_events : int, optional
        Events per model (default 3000 fast, 100000 full).
    seed : int
        Base seed; model i uses seed + i.
    """
    out.mkdir(parents=True, exist_ok=True)
    n = n_events or (3000 if fast else 100_000)
    pilot = 50_000 if fast else 200_000
    samples = {}
    for i, model in enumerate(tqdm(dm.MODEL_IDS, desc="generating", unit="model")):
        s = dm.generate(
            model, MASS, E0, n if model in ("km", "md") else max(n // 3, 500),
            target=TARGET, seed=seed + i, n_pilot=pilot,
        )  # fmt: skip
        samples[model] = s.events

    summary: dict[str, Any] = {
        "beam_energy": E0, "mass": MASS, "target": TARGET, "n_events": n, "seed": seed,
        "nucleus_pt_fraction_above_0.1": {}, "recoil_pt_fraction": {},
    }  # fmt: skip
    for model, ev in samples.items():
        summary["nucleus_pt_fraction_above_0.1"][model] = float(
            np.mean(ev["nucleus_pt"] > NUCLEUS_PT_CUT)
        )
    for model in ("km", "md"):
        ev = samples[model]
        rows = {}
        for thr in PT_THRESHOLDS:
            k = int(np.sum(ev["lepton_pt"] > thr))
            rows[f"{thr:g}"] = {
                "exact": k / len(ev),
                "exact_err": float(np.sqrt(max(k, 1))) / len(ev),
                "analytic": _analytic_fraction_above(model, thr),
            }
        summary["recoil_pt_fraction"][model] = rows

    # ---- figure 2
    plt.style.use(mplhep.style.ROOT)
    fig, axes = plt.subplots(1, 2, figsize=(16, 7))
    colours = {"km": "red", "md": "green"}
    for model in ("km", "md"):
        ev = samples[model]
        hE, hp = analytic.recoil_distributions(model, MASS, E0, E_EDGES, PT_EDGES, target=TARGET)
        for ax, col, edges, ana in ((axes[0], "lepton_E", E_EDGES, hE),
                                    (axes[1], "lepton_pt", PT_EDGES, hp)):  # fmt: skip
            ex, _ = np.histogram(ev[col], bins=edges, density=True)
            mplhep.histplot(ex, edges, ax=ax, color=colours[model], ls="-",
                            label=f"{model.upper()} exact")  # fmt: skip
            mplhep.histplot(ana, edges, ax=ax, color=colours[model], ls=":",
                            label=f"{model.upper()} analytic")  # fmt: skip
    axes[0].set_xlabel(r"$E_{e_f^-}$ [GeV]")
    axes[1].set_xlabel(r"$|p_T|_{e_f^-}$ [GeV]")
    for ax in axes:
        ax.set_ylabel("normalised")
        ax.set_yscale("log")
        ax.legend(title=rf"$m_{{A'}}$ = {MASS * 1e3:.0f} MeV, $E_0$ = {E0:g} GeV")
    fig.tight_layout()
    _atomic_save(
        out / "fig2_recoil_exact_vs_analytic.png", lambda p: fig.savefig(p, dpi=80, format="png")
    )
    plt.close(fig)

    # ---- figure 3
    fig, ax = plt.subplots(figsize=(9, 7))
    for model, ev in samples.items():
        h, _ = np.histogram(ev["nucleus_pt"], bins=NUC_EDGES, density=True)
        mplhep.histplot(h, NUC_EDGES, ax=ax, color=dm.get_model(model).color,
                        label=dm.get_model(model).letter)  # fmt: skip
    ax.set_xlabel(r"$|p_T|_{W}$ [GeV]")
    ax.set_ylabel("normalised")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    _atomic_save(out / "fig3_nucleus_pt.png", lambda p: fig.savefig(p, dpi=80, format="png"))
    plt.close(fig)

    text = json.dumps(summary, indent=1)
    _atomic_save(out / "summary.json", lambda p: Path(p).write_text(text))
    return summary


def _print(summary: dict) -> None:
    print(f"nucleus p_T > {NUCLEUS_PT_CUT:g} GeV (fraction of events):")
    for model, f in summary["nucleus_pt_fraction_above_0.1"].items():
        print(f"  {model}: {f:.4f}")
    print("recoil-lepton fraction above p_T threshold: exact +- stat | analytic (WW)")
    for model, rows in summary["recoil_pt_fraction"].items():
        for thr, r in rows.items():
            print(f"  {model} p_T > {thr} GeV: {r['exact']:.4f} +- {r['exact_err']:.4f} | "
                  f"{r['analytic']:.4f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--fast", action="store_true", help="few events, runs in seconds")
    ap.add_argument("--events", type=int, default=None, help="events per model (km, md)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    _print(run(args.out, fast=args.fast, n_events=args.events, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
