"""Projected zero-background reach (paper section 4.2, figure 1 style) for all five models.

For every template mass of each model: N_sig(g = 1) from the templates and the experiment,
the 90% CL event limit (exactly -ln 0.1 = 2.303 events without background, docs/physics.md
section 3), the coupling limit g = sqrt(2.303 / N_sig(1)) and y (eq. 3.3).

Outputs in ``--out``: ``reach.csv`` (model, mass [GeV], coupling, y), ``reach.png`` (the
reach dashed with the relic targets of :func:`darkmoments.relic.scan` solid and their
hadronic proxy band, the paper's figure 1, drawn by
:func:`darkmoments.plotting.plot_reach_relic` as in ``darkmoments reproduce``; ``--no-relic``
to leave them out) and ``summary.json`` (the best y reach per model and where it is
reached).

Usage::

    python studies/reach.py --out results/reach [--fast] [--experiment ldmx-phase2]
        [--templates DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from darkmoments import MODEL_IDS
from darkmoments.figures.common import experiment_label
from darkmoments.io.atomic import write_csv_atomic, write_text_atomic
from darkmoments.io.jsonio import dumps
from darkmoments.plotting import plot_reach_relic, save_figure
from darkmoments.stats import reach_by_model, reach_table

__all__ = ["main", "run"]


def run(
    out: Path,
    *,
    fast: bool = False,
    experiment: str = "ldmx-phase2",
    templates: str | None = None,
    cl: float = 0.9,
    relic_overlay: bool = True,
) -> dict[str, Any]:
    """Compute the reach table, write CSV, figure and summary into ``out``; return the summary.

    ``fast`` restricts the study to the km and md models.
    """
    out.mkdir(parents=True, exist_ok=True)
    models = ("km", "md") if fast else MODEL_IDS
    table = reach_table(models, experiment, cl=cl, directory=templates, progress=True)
    write_csv_atomic(table, out / "reach.csv")
    rows = reach_by_model(table)
    curves = [table.assign(curve="reach")[["model", "curve", "mass", "y"]]]
    if relic_overlay:
        from darkmoments import relic

        targets = relic.scan(list(models), n_masses=12 if fast else 40, proxy_band=True)
        write_csv_atomic(targets, out / "relic_targets.csv")
        band = targets.dropna(subset=["y_hadron_proxy"])
        curves += [
            targets.assign(curve="relic")[["model", "curve", "mass", "y"]],
            band.assign(curve="relic_hadron_proxy", y=band.y_hadron_proxy)[
                ["model", "curve", "mass", "y"]
            ],
        ]
    label = experiment_label(experiment, f"{cl:.0%} CL, zero background")
    fig = plot_reach_relic(pd.concat(curves, ignore_index=True), label=label)
    save_figure(fig, out / "reach.png", dpi=100)
    summary = {
        "experiment": experiment,
        "cl": cl,
        "best": {m: min(rr, key=lambda r: r["y"]) for m, rr in rows.items()},
    }
    write_text_atomic(out / "summary.json", dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/reach"))
    ap.add_argument("--fast", action="store_true", help="km and md only")
    ap.add_argument("--experiment", default="ldmx-phase2")
    ap.add_argument("--templates", default=None, help="template directory")
    ap.add_argument("--cl", type=float, default=0.9)
    ap.add_argument("--no-relic", action="store_true", help="do not overlay relic targets")
    a = ap.parse_args(argv)
    s = run(
        a.out,
        fast=a.fast,
        experiment=a.experiment,
        templates=a.templates,
        cl=a.cl,
        relic_overlay=not a.no_relic,
    )
    for model, best in s["best"].items():
        print(f"{model}: best y = {best['y']:.3e} at m = {best['mass']:.4g} GeV")


if __name__ == "__main__":
    main()
