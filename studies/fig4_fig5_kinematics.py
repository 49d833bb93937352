"""Paper figures 4 and 5 from the signal templates (4 GeV beam, LDMX Phase I setup).

Figure 4: normalised recoil-electron energy E and transverse momentum p_T for the five models
at three A' masses.  Figure 5: the (E, p_T) 2D distributions at m_A' = 1 GeV for the two
groups of the paper (KM, C, A | M, E).  Besides the PNGs, ``summary.json`` records for every
(model, mass) the mean E and median p_T and, per mass, the chi2/ndf between models that the
paper says share a shape: km vs cr must agree within MC errors (sigma_cr = m^4 sigma_km with
identical distributions, docs/physics.md section 1), md vs ed and cr vs am nearly so; and the
ratio sigma_cr / (m^4 sigma_km), which must be 1.

Usage::

    python studies/fig4_fig5_kinematics.py [--out DIR] [--templates DIR] [--fast]

Default: the shipped templates, masses 0.01, 0.1 and 1 GeV.  ``--fast`` builds a small
template set (5 models at 1 GeV, 3000 events each) into ``OUT/templates`` with the public
build API and makes the same figures from it (about a minute on one core).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from darkmoments import get_model, templates
from darkmoments.io.atomic import atomic_path, write_json_atomic
from darkmoments.models import MODEL_IDS

EXPERIMENT = "ldmx-phase1"
MASSES = (0.01, 0.1, 1.0)
FAST_MASSES = (1.0,)
GROUPS = {"KM, C, A": ("km", "cr", "am"), "M, E": ("md", "ed")}
PAIRS = (("km", "cr"), ("cr", "am"), ("md", "ed"), ("km", "md"))


def _n_eff(t: templates.Template) -> float:
    """Effective number of events: sum p(1-p) / sum V (exactly N for unweighted events)."""
    p, v = t.hist.values(), t.hist.variances()
    return float(np.sum(p * (1 - p)) / np.sum(v))


def chi2_ndf(a: templates.Template, b: templates.Template) -> tuple[float, int]:
    """Two-sample chi2/ndf between normalised templates (pooled-fraction variances).

    With effective event numbers N_a, N_b (:func:`_n_eff`) and the pooled fraction
    q = (N_a p_a + N_b p_b) / (N_a + N_b), chi2 = sum (p_a - p_b)^2 / [q (1 - q)
    (1/N_a + 1/N_b)] over bins filled in either; unbiased also for sparsely filled bins.
    """
    na, nb = _n_eff(a), _n_eff(b)
    pa, pb = a.hist.values(), b.hist.values()
    q = (na * pa + nb * pb) / (na + nb)
    m = q > 0
    var = q[m] * (1 - q[m]) * (1 / na + 1 / nb)
    return float(np.sum((pa[m] - pb[m]) ** 2 / var)), max(int(m.sum()) - 1, 1)


def _savefig(fig: Any, path: Path) -> None:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)


def figure4(
    tpl: dict[tuple[str, float], templates.Template], masses: tuple[float, ...], out: Path
) -> Path:
    """E and p_T of the five models at each mass (rows), normalised to unit area."""
    fig, axes = plt.subplots(len(masses), 2, figsize=(10, 3.2 * len(masses)), squeeze=False)
    for row, m in enumerate(masses):
        ax_e, ax_pt = axes[row]
        for mid in MODEL_IDS:
            t = tpl[(mid, m)]
            h = t.hist
            e_edges, pt_edges = h.axes["E"].edges, h.axes["pt"].edges
            pe = h.values().sum(axis=1) / np.diff(e_edges)  # 1/GeV
            style = {"color": get_model(mid).color, "label": get_model(mid).letter}
            ax_e.stairs(pe, e_edges, **style)
            # p_T per unit ln p_T on a log axis (the first bin starts at 0: drop it)
            ppt = h.values().sum(axis=0)[1:] / np.diff(np.log(pt_edges[1:]))
            ax_pt.stairs(ppt, pt_edges[1:], **style)
        ax_e.set_xlabel("E of recoil e [GeV]")
        ax_e.set_ylabel("1/N dN/dE [1/GeV]")
        ax_e.set_title(f"m_A' = {m:g} GeV, E0 = 4 GeV")
        ax_pt.set_xscale("log")
        ax_pt.set_xlabel("p_T of recoil e [GeV]")
        ax_pt.set_ylabel("1/N dN/dln p_T")
        ax_pt.legend(fontsize=8)
    fig.tight_layout()
    path = out / "fig4_kinematics.png"
    _savefig(fig, path)
    return path


def figure5(tpl: dict[tuple[str, float], templates.Template], mass: float, out: Path) -> Path:
    """2D (E, p_T) distributions of the two groups at one mass (average of each group)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (name, members) in zip(axes, GROUPS.items(), strict=True):
        vals = np.mean([tpl[(mid, mass)].hist.values() for mid in members], axis=0)
        h = tpl[(members[0], mass)].hist
        e_edges, pt_edges = h.axes["E"].edges, h.axes["pt"].edges
        pt_plot = pt_edges.copy()
        pt_plot[0] = pt_edges[1] / 2  # draw the [0, 20 keV] bin on the log axis
        dens = vals / np.diff(e_edges)[:, None] / np.diff(np.log(pt_plot))[None, :]
        dens = np.where(dens > 0, dens, np.nan)
        mesh = ax.pcolormesh(
            e_edges, pt_plot, dens.T, shading="flat", norm=matplotlib.colors.LogNorm()
        )
        ax.plot([pt_plot[0], e_edges[-1]], [pt_plot[0], e_edges[-1]], "k--", lw=1, label="p_T = E")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, e_edges[-1])
        ax.set_xlabel("E of recoil e [GeV]")
        ax.set_ylabel("p_T of recoil e [GeV]")
        ax.set_title(f"{name}: m_A' = {mass:g} GeV")
        ax.legend(loc="lower right", fontsize=8)
        fig.colorbar(mesh, ax=ax, label="1/N d2N/dE dln p_T")
    fig.tight_layout()
    path = out / "fig5_2d.png"
    _savefig(fig, path)
    return path


def summarise(
    tpl: dict[tuple[str, float], templates.Template], masses: tuple[float, ...]
) -> dict[str, Any]:
    """Means, model-pair chi2/ndf and the sigma_cr / (m^4 sigma_km) identity check."""
    rows = []
    for (mid, m), t in sorted(tpl.items()):
        h = t.hist
        pe = h.values().sum(axis=1)
        ppt = np.cumsum(h.values().sum(axis=0))
        median_pt = float(h.axes["pt"].edges[1:][np.searchsorted(ppt, 0.5)])
        rows.append(
            {
                "model": mid,
                "mass": m,
                "sigma_pb": t.sigma_pb,
                "sigma_err_pb": t.sigma_err_pb,
                "mean_E": float((pe * h.axes["E"].centers).sum()),
                "median_pt_upper_edge": median_pt,
            }
        )
    pairs = {}
    for m in masses:
        for a, b in PAIRS:
            chi2, ndf = chi2_ndf(tpl[(a, m)], tpl[(b, m)])
            pairs[f"{a}-{b}@{m:g}"] = {"chi2": chi2, "ndf": ndf}
    ratio = {}
    for m in masses:
        cr, km = tpl[("cr", m)], tpl[("km", m)]
        r = cr.sigma_pb / (m**4 * km.sigma_pb)
        err = r * math.hypot(cr.sigma_err_pb / cr.sigma_pb, km.sigma_err_pb / km.sigma_pb)
        ratio[f"{m:g}"] = {"ratio": r, "error": err}
    return {
        "experiment": EXPERIMENT,
        "rows": rows,
        "chi2_ndf": pairs,
        "sigma_cr_over_m4_sigma_km": ratio,
    }


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
        templates.build_grid(
            EXPERIMENT,
            list(MODEL_IDS),
            list(masses),
            args.events,
            out=directory,
            workers=1,
            progress=True,
        )
    tpl = {
        (mid, m): templates.load(mid, m, EXPERIMENT, directory=directory)
        for mid in MODEL_IDS
        for m in masses
    }
    summary = summarise(tpl, masses)
    summary["figures"] = [str(figure4(tpl, masses, out)), str(figure5(tpl, masses[-1], out))]
    write_json_atomic(summary, out / "summary.json", indent=1)
    for key, val in summary["chi2_ndf"].items():
        print(f"chi2/ndf {key:>16}: {val['chi2']:8.1f} / {val['ndf']:4d}")
    for m, r in summary["sigma_cr_over_m4_sigma_km"].items():
        print(f"sigma_cr / (m^4 sigma_km) at {m} GeV: {r['ratio']:.4f} +- {r['error']:.4f}")
    return summary


if __name__ == "__main__":
    main()
