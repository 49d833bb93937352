"""Mass-model degeneracy (paper section 4.4, figure 6) made quantitative, MC noise included.

For each ordered model pair (true, alternative) and each observable set (E only, p_T only,
(E, p_T)), the Asimov -2 Delta ln L of the alternative model versus (true mass, fitted mass)
at N signal events (:func:`darkmoments.stats.degeneracy_surface`, Barlow-Beeston
likelihood); one contour figure per pair.  The templates' MC noise raises q: for the
best-fit q at every true mass, :func:`darkmoments.stats.degeneracy.degeneracy_noise` redraws
both template grids from themselves (bootstrap of the MC samples) and gives the noise bias
(the noise floor of q), the bias-corrected q and its 16-84 % band; a second figure per pair
shows them against the true mass.  Summary per pair and observables: the fraction of true
masses where the wrong model fits within 1 sigma (q < 1) and within 2 sigma (q < 4), raw and
bias-corrected, and the paper's example (km at 1.0 GeV against md: degenerate in p_T, broken
by adding E) with 100 resamples.

Outputs in ``--out``: ``degeneracy_<true>_vs_<alt>.png`` (contours),
``degeneracy_best_<true>_vs_<alt>.png`` (best q with the noise band), ``degeneracy_best.csv``,
``degeneracy.md`` and ``summary.json``.

Usage::

    python studies/degeneracy.py --out results/degeneracy [--fast] [--events 100]
        [--experiment ldmx-phase2] [--templates DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm import tqdm

from darkmoments import MODEL_IDS, get_model
from darkmoments.io.atomic import write_csv_atomic, write_text_atomic
from darkmoments.io.jsonio import dumps
from darkmoments.plotting import plot_degeneracy, save_figure
from darkmoments.stats import degeneracy_surface, load_grid
from darkmoments.stats.degeneracy import DegeneracyNoise, DegeneracySurface, degeneracy_noise

__all__ = ["main", "run"]

OBSERVABLES = ("E", "pt", "E,pt")
#: Template resamples per (pair, observables) of the surfaces' best q, and of the example.
NOISE_RESAMPLES = 20
EXAMPLE_RESAMPLES = 100


def run(
    out: Path,
    *,
    fast: bool = False,
    events: float = 100.0,
    experiment: str = "ldmx-phase2",
    templates: str | None = None,
    seed: int = 1,
) -> dict[str, Any]:
    """Compute the surfaces and their noise, write figures, tables and ``summary.json``.

    ``fast``: only the paper's pair (km true, md alternative) on a 25 x 25 mass grid, 5
    resamples (20 for the example).
    """
    out.mkdir(parents=True, exist_ok=True)
    pairs = [("km", "md")] if fast else list(itertools.permutations(MODEL_IDS, 2))
    points = 25 if fast else 60
    b, b_ex = (5, 20) if fast else (NOISE_RESAMPLES, EXAMPLE_RESAMPLES)
    grids = {
        (m, o): load_grid(m, experiment, o, directory=templates)
        for m in sorted({p for pair in pairs for p in pair})
        for o in OBSERVABLES
    }
    summary: dict[str, Any] = {
        "experiment": experiment,
        "events": events,
        "noise_resamples": b,
        "pairs": [],
    }
    rows: list[dict[str, Any]] = []
    for true, alt in tqdm(pairs, desc="degeneracy", unit="pair"):
        surfaces, noises = [], []
        for o in OBSERVABLES:
            s = degeneracy_surface(grids[(true, o)], grids[(alt, o)], events, points=points)
            n = degeneracy_noise(
                grids[(true, o)],
                grids[(alt, o)],
                events,
                true_masses=s.true_masses,
                n_resamples=b,
                seed=seed,
            )
            surfaces.append(s)
            noises.append(n)
            rows.extend(_rows(s, n))
        fig = plot_degeneracy(surfaces)
        save_figure(fig, out / f"degeneracy_{true}_vs_{alt}.png")
        plt.close(fig)
        _plot_best(surfaces, noises, out / f"degeneracy_best_{true}_vs_{alt}.png")
        summary["pairs"].append(_pair_summary(true, alt, noises))
    example = _paper_example(grids, events, b_ex, seed)
    if example:
        summary["paper_example_km_1GeV_vs_md"] = example
    table = pd.DataFrame(rows)
    write_csv_atomic(table, out / "degeneracy_best.csv")
    write_text_atomic(out / "degeneracy.md", _markdown(summary))
    write_text_atomic(out / "summary.json", dumps(summary, indent=1) + "\n")
    return summary


def _rows(s: DegeneracySurface, n: DegeneracyNoise) -> list[dict[str, Any]]:
    """CSV rows of one surface's best fits with their noise."""
    return [
        {
            "true": s.true_model,
            "alt": s.alt_model,
            "observables": ",".join(s.observables),
            "true_mass": float(m),
            "best_alt_mass": float(a),
            "q": float(q),
            "noise_bias": float(bi),
            "q_corrected": float(c),
            "q_band_lo": float(lo),
            "q_band_hi": float(hi),
        }
        for m, a, q, bi, c, lo, hi in zip(
            s.true_masses,
            s.best_alt_mass,
            n.best_alt_q,
            n.bias,
            n.corrected,
            n.band_lo,
            n.band_hi,
            strict=True,
        )
    ]


def _pair_summary(true: str, alt: str, noises: list[DegeneracyNoise]) -> dict[str, Any]:
    """Fractions of true masses within 1 and 2 sigma (raw and bias-corrected q)."""
    row: dict[str, Any] = {"true": true, "alt": alt}
    for o, n in zip(OBSERVABLES, noises, strict=True):
        row[o] = {
            "frac_within_1sigma": float(np.mean(n.best_alt_q < 1.0)),
            "frac_within_2sigma": float(np.mean(n.best_alt_q < 4.0)),
            "frac_within_1sigma_corrected": float(np.mean(n.corrected < 1.0)),
            "frac_within_2sigma_corrected": float(np.mean(n.corrected < 4.0)),
            "median_noise_bias": float(np.median(n.bias)),
        }
    return row


def _paper_example(
    grids: dict[tuple[str, str], Any], events: float, n_resamples: int, seed: int
) -> dict[str, Any] | None:
    """km at 1.0 GeV fitted by md, per observable set, with the template-noise band."""
    if ("km", "pt") not in grids or ("md", "pt") not in grids:
        return None
    lo, hi = grids[("km", "pt")].mass_range
    if not lo <= 1.0 <= hi:
        return None
    ex = {}
    for o in OBSERVABLES:
        gk, gm = grids[("km", o)], grids[("md", o)]
        s = degeneracy_surface(gk, gm, events, true_masses=np.array([1.0]), points=2)
        n = degeneracy_noise(
            gk, gm, events, true_masses=np.array([1.0]), n_resamples=n_resamples, seed=seed
        )
        ex[o] = {
            "best_md_mass": float(s.best_alt_mass[0]),
            "q": float(n.best_alt_q[0]),
            "noise_bias": float(n.bias[0]),
            "q_corrected": float(n.corrected[0]),
            "q_band": [float(n.band_lo[0]), float(n.band_hi[0])],
            "n_resamples": n.n_resamples,
        }
    return ex


def _markdown(summary: dict[str, Any]) -> str:
    """The paper example and the per-pair fractions as markdown tables."""
    lines = [
        f"# Mass-model degeneracy, {summary['experiment']}, {summary['events']:g} signal events\n",
        "-2 Delta lnL (q) of the alternative's best fit to the Asimov data of the true model, "
        "Barlow-Beeston likelihood.  Template MC noise raises q: `bias` = mean(q*) - q over "
        "template resamples, `corrected` = 2 q - mean(q*), band 16-84 %.\n",
    ]
    ex = summary.get("paper_example_km_1GeV_vs_md")
    if ex:
        lines += [
            "## km at 1.0 GeV fitted by md\n",
            "| observables | best md mass [GeV] | q | noise bias | q corrected [band] |",
            "|---|---|---|---|---|",
        ]
        for o, v in ex.items():
            band = f"[{v['q_band'][0]:.3g}, {v['q_band'][1]:.3g}]"
            lines.append(
                f"| {o} | {v['best_md_mass']:.3f} | {v['q']:.3g} | {v['noise_bias']:.2g} | "
                f"{v['q_corrected']:.3g} {band} |"
            )
        lines.append("")
    lines += [
        "## Fraction of true masses where the wrong model fits within 1 (2) sigma\n",
        "Corrected q; raw q in parentheses; median noise bias of q.\n",
        "| true vs alt | " + " | ".join(OBSERVABLES) + " |",
        "|---|" + "---|" * len(OBSERVABLES),
    ]
    for p in summary["pairs"]:
        cells = []
        for o in OBSERVABLES:
            v = p[o]
            cells.append(
                f"{v['frac_within_1sigma_corrected']:.2f} ({v['frac_within_1sigma']:.2f}) / "
                f"{v['frac_within_2sigma_corrected']:.2f} ({v['frac_within_2sigma']:.2f}); "
                f"bias {v['median_noise_bias']:.2g}"
            )
        lines.append(f"| {p['true']} vs {p['alt']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot_best(
    surfaces: list[DegeneracySurface], noises: list[DegeneracyNoise], path: Path
) -> None:
    """Best-fit q vs true mass per observable set: raw, corrected with band, noise bias."""
    fig, axes = plt.subplots(1, len(surfaces), figsize=(5.2 * len(surfaces), 4.5))
    for ax, s, n in zip(np.atleast_1d(axes), surfaces, noises, strict=True):
        color = get_model(s.alt_model).color
        m = s.true_masses
        ax.fill_between(m, np.maximum(n.band_lo, 1e-3), np.maximum(n.band_hi, 1e-3),
                        color=color, alpha=0.25, lw=0, label="corrected, 16-84 %")  # fmt: skip
        ax.plot(m, np.maximum(n.corrected, 1e-3), color=color, label="corrected")
        ax.plot(m, np.maximum(n.best_alt_q, 1e-3), color=color, lw=0.8, ls="--", label="raw")
        ax.plot(m, np.maximum(n.bias, 1e-3), color="grey", ls=":", label="noise bias")
        for level in (1.0, 4.0, 9.0):
            ax.axhline(level, color="k", lw=0.5, alpha=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(rf"true $m_{{A'}}$ [GeV], {get_model(s.true_model).letter}")
        ax.set_ylabel(rf"best-fit $-2\Delta\ln L$ of {get_model(s.alt_model).letter}")
        ax.set_title(f"observables {','.join(s.observables)}, N = {s.n_events:g}")
    np.atleast_1d(axes)[0].legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/degeneracy"))
    ap.add_argument("--fast", action="store_true", help="km vs md only, coarse grid")
    ap.add_argument("--events", type=float, default=100.0)
    ap.add_argument("--experiment", default="ldmx-phase2")
    ap.add_argument("--templates", default=None, help="template directory")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    s = run(
        a.out,
        fast=a.fast,
        events=a.events,
        experiment=a.experiment,
        templates=a.templates,
        seed=a.seed,
    )
    for o, v in (s.get("paper_example_km_1GeV_vs_md") or {}).items():
        print(
            f"km@1.0 GeV vs md [{o}]: best md mass {v['best_md_mass']:.3f} GeV, q = {v['q']:.3g}"
            f" (noise bias {v['noise_bias']:.2g}; corrected {v['q_corrected']:.3g}, band "
            f"{v['q_band'][0]:.3g}-{v['q_band'][1]:.3g})"
        )


if __name__ == "__main__":
    main()
