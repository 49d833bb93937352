"""Paper figures 4 and 5 from the signal templates (4 GeV beam, LDMX Phase I setup).

A thin wrapper of :func:`darkmoments.figures.paper.kinematics` (the computation behind
``darkmoments reproduce``) on any template directory.

Figure 4: normalised recoil-electron energy and transverse momentum p_T for the five models
at three A' masses.  Figure 5: the (energy, p_T) 2D distributions at m_A' = 1 GeV for the two
groups of the paper (KM, C, A | M, E), with the kinematic limit p_T = E.  Besides the PNGs
(and the CSV tables behind them), ``summary.json`` records for every (model, mass) the mean
energy and, per mass, the chi2/ndf between models that the paper says share a shape: km vs
cr must agree within MC errors (sigma_cr = m^4 sigma_km with identical distributions,
docs/physics.md section 1), md vs ed and cr vs am nearly so; and the ratio
sigma_cr / (m^4 sigma_km), which must be 1.

Usage::

    python studies/fig4_fig5_kinematics.py [--out DIR] [--templates DIR] [--fast]

Default: the shipped templates, masses 0.01, 0.1 and 1 GeV.  ``--fast`` builds a small
template set (5 models at 1 GeV, 3000 events each) into ``OUT/templates`` with the public
build API and makes the same figures from it (about a minute on one core).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from darkmoments import plotting, templates
from darkmoments.figures.common import experiment_label
from darkmoments.figures.paper import GROUP_NAMES, kinematics
from darkmoments.io.atomic import write_csv_atomic, write_json_atomic
from darkmoments.models import MODEL_IDS

EXPERIMENT = "ldmx-phase1"
MASSES = (0.01, 0.1, 1.0)
FAST_MASSES = (1.0,)


def _figures(t4: Any, t5: Any, mass: float, out: Path) -> list[str]:
    titles = {g: f"{g} (mean of {len(ms)} models)" for g, ms in GROUP_NAMES.items()}
    paths = []
    for name, table, fig in (
        ("fig4_kinematics", t4,
         plotting.plot_kinematics(t4, label=experiment_label(EXPERIMENT, "normalised"))),
        ("fig5_2d", t5, plotting.plot_2d_groups(
            t5, label=experiment_label(EXPERIMENT, rf"$m_{{A'}}$ = {mass:g} GeV"), titles=titles)),
    ):  # fmt: skip
        write_csv_atomic(table, out / f"{name}.csv", float_format="%.8g")
        paths.append(str(plotting.save_figure(fig, out / f"{name}.png", dpi=100)))
        plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the study; returns the summary dict (also written to OUT/summary.json)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="studies/output/fig4_fig5", help="output directory")
    ap.add_argument("--templates", default=None, help="template directory (default: shipped)")
    ap.add_argument("--fast", action="store_true", help="small self-built template set")
    ap.add_argument("--events", type=int, default=3000, help="events per template (--fast)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    directory = args.templates
    masses = MASSES
    if args.fast:
        masses = FAST_MASSES
        directory = directory or str(out / "templates")
        templates.build_grid(EXPERIMENT, list(MODEL_IDS), list(masses), args.events,
                             out=directory, workers=1, progress=True)  # fmt: skip
    tpl = {
        (mid, m): templates.load(mid, m, EXPERIMENT, directory=directory)
        for mid in MODEL_IDS
        for m in masses
    }
    t4, t5, numbers = kinematics(tpl, masses, masses[-1])
    summary = {"experiment": EXPERIMENT, **numbers}
    summary["figures"] = _figures(t4, t5, masses[-1], out)
    write_json_atomic(summary, out / "summary.json", indent=1)
    for key, val in summary["chi2_ndf"].items():
        print(f"chi2/ndf {key:>16}: {val['chi2']:8.1f} / {val['ndf']:4d}")
    for m, r in summary["sigma_cr_over_m4_sigma_km"].items():
        print(f"sigma_cr / (m^4 sigma_km) at {m} GeV: {r['ratio']:.4f} +- {r['error']:.4f}")
    return summary


if __name__ == "__main__":
    main()
