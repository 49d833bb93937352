"""Mass-model degeneracy (paper section 4.4, figure 6) made quantitative.

For each (true model, alternative model) pair and each observable set (E only, p_T only,
(E, p_T)), the Asimov -2 Delta ln L of the alternative model versus (true mass, fitted mass)
at N signal events (:func:`darkmoments.stats.degeneracy_surface`); one contour figure per
pair.  Summary per pair and observables: the fraction of true masses where the wrong model
fits within 1 sigma (best q < 1) and within 2 sigma (q < 4), and the paper's example
(km at 1.0 GeV against md: degenerate in p_T at ~0.75 GeV, broken by adding E).

Outputs in ``--out``: ``degeneracy_<true>_vs_<alt>.png`` and ``summary.json``.

Usage::

    python studies/degeneracy.py --out results/degeneracy [--fast] [--events 100]
        [--experiment ldmx-phase2] [--templates DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from darkmoments import MODEL_IDS
from darkmoments.io.atomic import write_text_atomic
from darkmoments.io.jsonio import dumps
from darkmoments.plotting import plot_degeneracy, save_figure
from darkmoments.stats import degeneracy_surface, load_grid

__all__ = ["main", "run"]

OBSERVABLES = ("E", "pt", "E,pt")


def run(
    out: Path,
    *,
    fast: bool = False,
    events: float = 100.0,
    experiment: str = "ldmx-phase2",
    templates: str | None = None,
) -> dict[str, Any]:
    """Compute the surfaces, write figures and ``summary.json``; return the summary.

    ``fast``: only the paper's pair (km true, md alternative) on a 25 x 25 mass grid.
    """
    out.mkdir(parents=True, exist_ok=True)
    pairs = [("km", "md")] if fast else list(itertools.permutations(MODEL_IDS, 2))
    points = 25 if fast else 60
    grids = {
        (m, o): load_grid(m, experiment, o, directory=templates)
        for m in sorted({p for pair in pairs for p in pair})
        for o in OBSERVABLES
    }
    summary: dict[str, Any] = {"experiment": experiment, "events": events, "pairs": []}
    for true, alt in tqdm(pairs, desc="degeneracy", unit="pair"):
        surfaces = [
            degeneracy_surface(grids[(true, o)], grids[(alt, o)], events, points=points)
            for o in OBSERVABLES
        ]
        save_figure(plot_degeneracy(surfaces), out / f"degeneracy_{true}_vs_{alt}.png")
        row: dict[str, Any] = {"true": true, "alt": alt}
        for o, s in zip(OBSERVABLES, surfaces, strict=True):
            row[o] = {
                "frac_within_1sigma": float(np.mean(s.best_alt_q < 1.0)),
                "frac_within_2sigma": float(np.mean(s.best_alt_q < 4.0)),
            }
        summary["pairs"].append(row)
    # the paper's example
    gk = {o: grids[("km", o)] for o in OBSERVABLES}
    gm = {o: grids[("md", o)] for o in OBSERVABLES}
    lo, hi = gk["pt"].mass_range
    if lo <= 1.0 <= hi:
        ex = {}
        for o in OBSERVABLES:
            s = degeneracy_surface(gk[o], gm[o], events, true_masses=np.array([1.0]), points=2)
            ex[o] = {"best_md_mass": float(s.best_alt_mass[0]), "q": float(s.best_alt_q[0])}
        summary["paper_example_km_1GeV_vs_md"] = ex
    write_text_atomic(out / "summary.json", dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/degeneracy"))
    ap.add_argument("--fast", action="store_true", help="km vs md only, coarse grid")
    ap.add_argument("--events", type=float, default=100.0)
    ap.add_argument("--experiment", default="ldmx-phase2")
    ap.add_argument("--templates", default=None, help="template directory")
    a = ap.parse_args(argv)
    s = run(a.out, fast=a.fast, events=a.events, experiment=a.experiment, templates=a.templates)
    ex = s.get("paper_example_km_1GeV_vs_md")
    if ex:
        for o, v in ex.items():
            print(
                f"km@1.0 GeV vs md [{o}]: best md mass {v['best_md_mass']:.3f} GeV, "
                f"q = {v['q']:.3g}"
            )


if __name__ == "__main__":
    main()
