"""Which pairs of the five models become separable with which experiments (issue 14).

For every ordered pair (true, alternative) of the five models, true masses across the grid
(inside every experiment's range and the relic-target range), and every experiment alone
(LDMX Phase I and II, M3 Phase 1 and 2) and combined (LDMX I + II, LDMX II + M3 2, all four),
the Asimov discrimination statistic of the combined likelihood
(:mod:`darkmoments.stats.combined`) with the couplings of both models at ``factor`` x their
relic targets, and the luminosity scale k that gives Z_A = 3 and 5 (every experiment's
exposure times k: the running time in units of each experiment's nominal one; k <= 1 means
separable within the planned running), for three statistics:

* ``shape``: every experiment's normalisation free (shapes only);
* ``ratio``: one free coupling shared by the experiments (shapes + the model's rate ratios
  between beams; per-experiment log-normal nuisances of docs/physics.md 5.9);
* ``shape+rate``: couplings predicted (the relic targets times ``factor``; per-experiment and
  shared theory nuisances).

Within the groups {km, cr, am} and {md, ed} the shape and ratio separations are checked
against template MC noise with the calibrated identity test
(:func:`~darkmoments.stats.combined.combined_shape_identity`, grid-node statistic,
``--identity-resamples`` B = 50 resamples, resolved at p < 0.02); a row whose separation could
be noise is ``template_limited`` and gets no k.  km and cr have identical shapes *and* rate ratios
(sigma_cr = m_A'^4 sigma_km at every energy and lepton): only ``shape+rate`` can separate them.

Outputs in ``--out``: ``combined.csv`` (one row per pair, mass, experiment set, statistic),
``summary.json``, ``summary.md`` (the table "which pairs become separable with what": per
unordered pair and statistic, the experiment sets and true masses with k(5 sigma) <= 1),
``k5sigma_<statistic>.png``/``.pdf`` (median over masses of k(5 sigma), pairs x experiment
sets) and ``k5sigma_mass_<pair>.png``/``.pdf``.  A toy check of the Asimov Z at one point
(plain toys and importance-sampled ones).  ``--replot`` rewrites ``summary.md`` and the
figures from an earlier run's ``combined.csv`` without recomputing.

The full run uses the shipped M3 templates (``templates/m3-phase1.h5``, ``m3-phase2.h5``,
built by ``make templates``); ``--fast`` builds small M3 Phase 2 templates
(5 masses, 20000 events) in ``--out`` and uses four pairs, one mass (0.1 GeV) and three
experiment sets: a smoke run whose M3 numbers are not physics-grade (5-mass grid, 5x fewer MC
events, so more rows are template-limited).  Cost of the full run at the six default masses:
about 2040 rows of ~5 s (Asimov fits and two luminosity root findings) plus ~360 identity
tests of ~8 s, i.e. ~3.5 CPU hours (``--workers 2``: ~1.8 h); ``--masses`` chooses fewer.
The run is resumable: every finished row is saved in ``--out/checkpoint``
(:mod:`darkmoments.checkpoint`, bound to the settings and a fingerprint of the templates)
and reused when the same command is run again; the directory is removed once every output
is written.

Usage::

    python studies/combined.py --out studies/results/combined [--fast] [--factor 1.0]
        [--identity-resamples 50] [--toys 2000] [--workers 1] [--templates DIR]
        [--masses 0.003,0.01,0.03,0.1,0.3,1]
    python studies/combined.py --out studies/results/combined --replot
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from darkmoments import MODEL_IDS, get_model
from darkmoments.checkpoint import Checkpoint, run_checkpointed
from darkmoments.experiments import get_experiment
from darkmoments.io.atomic import write_csv_atomic, write_text_atomic
from darkmoments.io.jsonio import dumps
from darkmoments.plotting import save_figure, style
from darkmoments.stats.combined import (
    CombinedHypothesis,
    CombinedSetup,
    CombinedSystematics,
    combined_alternative_point,
    combined_events_for_significance,
    combined_shape_identity,
    load_hypothesis,
    relic_hypothesis,
    run_combined_discrimination,
)
from darkmoments.stats.systematics import DEFAULT_SYSTEMATICS

__all__ = ["main", "run"]

SINGLE = ("ldmx-phase1", "ldmx-phase2", "m3-phase1", "m3-phase2")
SETS: dict[str, tuple[str, ...]] = {
    **{e: (e,) for e in SINGLE},
    "ldmx-phase1+ldmx-phase2": ("ldmx-phase1", "ldmx-phase2"),
    "ldmx-phase2+m3-phase2": ("ldmx-phase2", "m3-phase2"),
    "all": SINGLE,
}
STATISTICS = {"shape": "free", "ratio": "shared", "shape+rate": "tied"}
GROUPS = ({"km", "cr", "am"}, {"md", "ed"})
#: True masses of the full run (GeV; grid nodes nearest to these are used).
MASSES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FAST_MASSES = (0.01, 0.03, 0.1, 0.3, 1.0)
FAST_PAIRS = (("km", "am"), ("md", "ed"), ("km", "md"), ("km", "cr"))
FAST_SETS = ("ldmx-phase2", "m3-phase2", "ldmx-phase2+m3-phase2")
#: Tolerance of ln k in the luminosity root finding (0.1 % on k).
K_XTOL = 1e-3
#: Level of the identity test: with B = 50 resamples the smallest p-value is 1/51 < 0.02.
IDENTITY_ALPHA = 0.02


def _same_group(a: str, b: str) -> bool:
    return any(a in g and b in g for g in GROUPS)


def _fast_templates(d: Path, shipped: str | None) -> Path:
    """``d`` with the shipped LDMX files (copied) and small M3 Phase 2 templates built."""
    from darkmoments import templates

    d.mkdir(parents=True, exist_ok=True)
    src = Path(shipped) if shipped else templates.default_directory()
    for name in ("ldmx-phase1.h5", "ldmx-phase2.h5"):
        if not (d / name).exists():
            shutil.copyfile(src / name, d / name)
    if not (d / "m3-phase2.h5").exists():
        plan = templates.plan_grid(get_experiment("m3-phase2"), None, list(FAST_MASSES), 20000)
        templates.build_grid(plan, out=d, workers=1, progress=False)
    return d


def _hypotheses(
    models: set[str], experiments: set[str], directory: str | None, factor: float
) -> dict[tuple[str, str], CombinedHypothesis]:
    """One-experiment hypotheses with relic-target rates, per (model, experiment)."""
    out = {}
    for m in sorted(models):
        for e in sorted(experiments):
            out[(m, e)] = relic_hypothesis(load_hypothesis(m, [e], directory=directory), factor)
    return out


def _fingerprint(hyps: dict[tuple[str, str], CombinedHypothesis]) -> str:
    """SHA-256 of every hypothesis' grids and rates (the templates the rows depend on)."""
    h = hashlib.sha256()
    for key in sorted(hyps):
        hyp = hyps[key]
        h.update(repr(key).encode())
        for g in hyp.grids:
            for a in (g.masses, g.probs, g.variances, g.n1):
                if a is not None:
                    h.update(np.ascontiguousarray(a, dtype=float).tobytes())
        for r in hyp.rates or ():
            h.update(np.ascontiguousarray(r, dtype=float).tobytes())
    return h.hexdigest()


def _combine(
    hyps: dict[tuple[str, str], CombinedHypothesis], model: str, exps: tuple[str, ...]
) -> CombinedHypothesis:
    return CombinedHypothesis.join([hyps[(model, e)] for e in exps])


def _k_values(setup: CombinedSetup, t_a: float, suffix: str = "") -> dict[str, float | None]:
    """Luminosity scales and true events for Z_A = 3 and 5 (None: not reached)."""
    out: dict[str, float | None] = {}
    for z in (3, 5):
        k = combined_events_for_significance(setup, float(z), xtol=K_XTOL) if t_a > 0 else None
        out[f"k_{z}sigma{suffix}"] = k
        out[f"n_{z}sigma{suffix}"] = None if k is None else k * float(sum(setup.n_true))
    return out


def _row(task: tuple[Any, ...]) -> dict[str, Any]:
    """One (pair, mass, experiment set, statistic): t_A, Z_A, k(3, 5 sigma), noise checks.

    Within a group, shape and ratio rows get the identity test; shape + rate rows also the
    rate-only separation (the alternative with the true model's shapes and its own rates),
    which :func:`_effective` uses when the shapes are template-limited.
    """
    true, alt, mass, label, exps, stat, ht, ha, factor, n_identity = task
    mode = STATISTICS[stat]
    m = ht.check_mass(mass)
    n_true = tuple(ht.rate(i, m) for i in range(len(exps)))
    syst = (
        None
        if mode == "free"
        else CombinedSystematics.from_systematics(DEFAULT_SYSTEMATICS, len(exps))
    )
    setup = CombinedSetup(exps, ht, ha, m, n_true, mode, syst)
    m_alt, _, t_a = combined_alternative_point(setup)
    row: dict[str, Any] = {
        "true": true,
        "alt": alt,
        "mass": m,
        "experiments": label,
        "statistic": stat,
        "coupling_factor": factor,
        "n_true": float(sum(n_true)),
        "n_true_per_experiment": ";".join(f"{v:.6g}" for v in n_true),
        "alt_mass": m_alt,
        "t_asimov": t_a,
        "z_asimov": math.sqrt(max(t_a, 0.0)),
        "p_identity": None,
        "template_limited": False,
    }
    same = _same_group(true, alt)
    if {true, alt} == {"km", "cr"} and mode != "tied":
        row["template_limited"] = True  # equal shapes and ratios by construction
    elif same and mode != "tied" and n_identity:
        ident = combined_shape_identity(
            setup, m_alt, n_resamples=n_identity, seed=1, refine=False, alpha=IDENTITY_ALPHA
        )
        row["p_identity"] = ident.p_value
        row["template_limited"] = not ident.resolved
    row.update(
        _k_values(setup, t_a)
        if not row["template_limited"]
        else {f"{q}_{z}sigma": None for q in ("k", "n") for z in (3, 5)}
    )
    if same and mode == "tied":
        # the true model's shapes under the alternative's name, with the alternative's rates
        shapes = tuple(dataclasses.replace(g, model=ha.model) for g in ht.grids)
        rate_alt = CombinedHypothesis(ha.model, shapes, ha.rates)
        rate_setup = CombinedSetup(exps, ht, rate_alt, m, n_true, mode, syst)
        t_r = combined_alternative_point(rate_setup)[2]
        row["t_rate_only"] = t_r
        row.update(_k_values(rate_setup, t_r, "_rate_only"))
    return row


def _effective(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``k_5sigma_used``: shape + rate rows whose shape row is template-limited use the
    rate-only separation (the shapes' part of t_A may be template noise)."""
    df = df.copy()
    df["k_5sigma_used"] = df["k_5sigma"]
    if "k_5sigma_rate_only" not in df:
        return df
    keys = ["true", "alt", "mass", "experiments"]
    shape = df[df["statistic"] == "shape"].set_index(keys)["template_limited"]
    for i, r in df[df["statistic"] == "shape+rate"].iterrows():
        key = tuple(r[k] for k in keys)
        if key in shape.index and bool(shape.loc[key]) and not pd.isna(r.get("t_rate_only")):
            df.at[i, "k_5sigma_used"] = r["k_5sigma_rate_only"]
    return df


def _tasks(
    hyps: dict[tuple[str, str], CombinedHypothesis],
    pairs: list[tuple[str, str]],
    masses: tuple[float, ...],
    sets: tuple[str, ...],
    factor: float,
    n_identity: int,
) -> list[tuple[Any, ...]]:
    out = []
    for label in sets:
        exps = SETS[label]
        for true, alt in pairs:
            ht, ha = _combine(hyps, true, exps), _combine(hyps, alt, exps)
            lo, hi = ht.mass_range
            lo, hi = max(lo, ha.mass_range[0]), min(hi, ha.mass_range[1])
            for mass in masses:
                if not lo <= mass <= hi:
                    continue
                for stat in STATISTICS:
                    if stat == "ratio" and len(exps) == 1:
                        continue  # one experiment: a free shared coupling is a free norm
                    out.append((true, alt, mass, label, exps, stat, ht, ha, factor, n_identity))
    return out


def _nearest_nodes(masses: tuple[float, ...], grid: np.ndarray) -> tuple[float, ...]:
    return tuple(sorted({float(grid[int(np.argmin(np.abs(np.log(grid / m))))]) for m in masses}))


def run(
    out: Path,
    *,
    fast: bool = False,
    factor: float = 1.0,
    identity_resamples: int = 50,
    toys: int = 2000,
    workers: int = 1,
    templates: str | None = None,
    masses: tuple[float, ...] = MASSES,
) -> dict[str, Any]:
    """Compute the table, the summary and the figures; return the summary.

    ``masses``: the true masses of the full run (GeV; the nearest grid nodes are used).
    """
    out.mkdir(parents=True, exist_ok=True)
    if not fast:
        return _run(out, False, factor, identity_resamples, toys, workers, templates, masses)
    with tempfile.TemporaryDirectory(prefix="darkmoments-combined-") as tmp:
        directory = str(_fast_templates(Path(tmp), templates))
        return _run(out, True, factor, identity_resamples, toys, workers, directory)


def _run(
    out: Path,
    fast: bool,
    factor: float,
    identity_resamples: int,
    toys: int,
    workers: int,
    directory: str | None,
    true_masses: tuple[float, ...] = MASSES,
) -> dict[str, Any]:
    """:func:`run` with the template directory resolved."""
    pairs = list(FAST_PAIRS) if fast else [(a, b) for a in MODEL_IDS for b in MODEL_IDS if a != b]
    sets = FAST_SETS if fast else tuple(SETS)
    n_identity = identity_resamples
    exps = {e for s in sets for e in SETS[s]}
    models = {m for p in pairs for m in p}
    hyps = _hypotheses(models, exps, directory, factor)
    grid = hyps[(pairs[0][0], sorted(exps)[0])].grids[0].masses
    masses = (0.1,) if fast else _nearest_nodes(true_masses, grid)
    tasks = _tasks(hyps, pairs, masses, sets, factor, n_identity)
    identity = {
        "study": "combined",
        "fast": fast,
        "factor": factor,
        "identity_resamples": n_identity,
        "masses": list(masses),
        "sets": list(sets),
        "pairs": [list(p) for p in pairs],
        "hypotheses": _fingerprint(hyps),
    }
    # one resumable run (darkmoments.checkpoint): an interrupted study continues where it was
    cp = Checkpoint(
        out / "checkpoint", identity, resume=True, what="combined study", suffix=".json"
    )
    rows = run_checkpointed(
        _row,
        tasks,
        keys=[f"{t[0]}-{t[1]}-{t[2]:.6g}-{t[3]}-{t[5]}" for t in tasks],
        checkpoint=cp,
        save=lambda r, f: write_text_atomic(f, dumps(r) + "\n"),
        load=lambda f: json.loads(Path(f).read_text()),
        workers=workers,
        progress=True,
        desc="combined",
        unit="row",
    )
    df = _effective(pd.DataFrame(rows))
    write_csv_atomic(df, out / "combined.csv")
    check = _toy_check(hyps, min(toys, 1000) if fast else toys)
    summary = _summary(df, factor, check, fast)
    write_text_atomic(out / "summary.json", dumps(summary, indent=1) + "\n")
    write_text_atomic(out / "summary.md", _markdown(df, factor))
    _figures(df, out)
    shutil.rmtree(out / "checkpoint")  # every output written: the run is complete
    return summary


def replot(out: Path) -> dict[str, Any]:
    """Rewrite ``summary.md`` and the figures from ``out/combined.csv`` (no recomputation).

    The table and the summary's coupling factor come from the earlier run's outputs, so a
    change of the figures' style or of the markdown layout needs no new run.
    """
    csv, js = out / "combined.csv", out / "summary.json"
    for f in (csv, js):
        if not f.is_file():
            print(f"combined.py: error: --replot needs {f} from an earlier run", file=sys.stderr)
            raise SystemExit(2)
    df = pd.read_csv(csv)
    summary: dict[str, Any] = json.loads(js.read_text())
    write_text_atomic(out / "summary.md", _markdown(df, float(summary["coupling_factor"])))
    _figures(df, out)
    return summary


def _figures(df: pd.DataFrame, out: Path) -> None:
    """The heat maps per statistic and k(5 sigma) vs mass per within-group pair, PNG + PDF."""
    with plt.style.context(style()):
        for stat in STATISTICS:
            _plot_heatmap(df, stat, out / f"k5sigma_{stat.replace('+', '_')}")
        for true, alt in (("km", "am"), ("md", "ed")):
            if ((df["true"] == true) & (df["alt"] == alt)).any():
                _plot_mass(df, true, alt, out / f"k5sigma_mass_{true}_{alt}")


def _save(fig: Any, stem: Path) -> None:
    for suffix in ("png", "pdf"):
        save_figure(fig, stem.with_name(f"{stem.name}.{suffix}"))
    plt.close(fig)


def _toy_check(hyps: dict[tuple[str, str], CombinedHypothesis], n_toys: int) -> dict[str, Any]:
    """Toys of km vs md at 0.1 GeV in the largest available set (shape only)."""
    label = "ldmx-phase2+m3-phase2"
    exps = SETS[label]
    ht, ha = _combine(hyps, "km", exps), _combine(hyps, "md", exps)
    m = ht.check_mass(0.1)
    n = tuple(ht.rate(i, m) for i in range(len(exps)))
    # at 2 % of the nominal luminosity the pair is near 3-5 sigma, where toys resolve Z
    scale = 0.02
    setup = CombinedSetup(
        exps, ht.scaled(scale), ha.scaled(scale), m, tuple(scale * v for v in n), "free"
    )
    res = run_combined_discrimination(setup, n_toys, seed=1, significance_events=False)
    return {**res.summary(), "luminosity_scale": scale, "experiments_label": label}


def _summary(df: pd.DataFrame, factor: float, check: dict[str, Any], fast: bool) -> dict[str, Any]:
    sep = df[(df["k_5sigma_used"].notna()) & (df["k_5sigma_used"] <= 1.0)]
    return {
        "fast": fast,
        "coupling_factor": factor,
        "rows": len(df),
        "true_masses": sorted(float(m) for m in df["mass"].unique()),
        "separable_rows": len(sep),
        "toy_check": check,
        "median_k5sigma": {
            f"{t}_vs_{a}|{s}|{st}": float(g["k_5sigma_used"].median())
            for (t, a, s, st), g in df.groupby(["true", "alt", "experiments", "statistic"])
            if g["k_5sigma_used"].notna().any()
        },
    }


def _markdown(df: pd.DataFrame, factor: float) -> str:
    """The table "which pairs become separable with what" (k(5 sigma) <= 1, per mass)."""
    lines = [
        "# Which pairs become separable with what",
        "",
        f"Couplings: {factor:g} x each model's relic target.  A cell lists the true masses (GeV)",
        "at which Z_A >= 5 is reached within the nominal running of every experiment of the set",
        "(k(5 sigma) <= 1), for either model true; '-' none; 'noise' = only template-limited.",
        "shape+rate within a group uses the rate-only separation where the shapes are",
        "template-limited (k_5sigma_used in combined.csv).",
        "",
    ]
    sets = list(dict.fromkeys(df["experiments"]))
    for stat in STATISTICS:
        lines += [
            f"## {stat}",
            "",
            "| pair | " + " | ".join(sets) + " |",
            "|---|" + "---|" * len(sets),
        ]
        pairs = sorted({tuple(sorted((t, a))) for t, a in zip(df["true"], df["alt"], strict=True)})
        for a, b in pairs:
            cells = []
            for s in sets:
                g = df[
                    (df["statistic"] == stat)
                    & (df["experiments"] == s)
                    & (
                        ((df["true"] == a) & (df["alt"] == b))
                        | ((df["true"] == b) & (df["alt"] == a))
                    )
                ]
                ok = sorted(
                    {
                        float(x)
                        for x in g[(g["k_5sigma_used"].notna()) & (g["k_5sigma_used"] <= 1.0)][
                            "mass"
                        ]
                    }
                )
                if ok:
                    cells.append(", ".join(f"{x:.3g}" for x in ok))
                elif len(g) and g["template_limited"].all():
                    cells.append("noise")
                else:
                    cells.append("-")
            lines.append(f"| {a}/{b} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _plot_heatmap(df: pd.DataFrame, stat: str, path: Path) -> None:
    g = df[df["statistic"] == stat]
    if g.empty:
        return
    pairs = sorted({f"{t}/{a}" for t, a in zip(g["true"], g["alt"], strict=True)})
    sets = list(dict.fromkeys(g["experiments"]))
    z = np.full((len(pairs), len(sets)), np.nan)
    for i, p in enumerate(pairs):
        t, a = p.split("/")
        for j, s in enumerate(sets):
            k = g[(g["true"] == t) & (g["alt"] == a) & (g["experiments"] == s)][
                "k_5sigma_used"
            ].dropna()
            if len(k):
                z[i, j] = np.log10(float(k.median()))
    fig, ax = plt.subplots(
        figsize=(1.4 * len(sets) + 3, 0.35 * len(pairs) + 2), layout="constrained"
    )
    im = ax.imshow(z, aspect="auto", cmap="viridis_r", vmin=-4, vmax=4)
    for (i, j), v in np.ndenumerate(z):  # the median k itself in every reached cell
        if np.isfinite(v):
            ax.text(
                j,
                i,
                f"{10**v:.2g}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if v > 0 else "k",
            )
    ax.set_xticks(range(len(sets)), sets, rotation=30, ha="right")
    ax.set_yticks(
        range(len(pairs)), [f"true {p.split('/')[0]} vs {p.split('/')[1]}" for p in pairs]
    )
    fig.colorbar(im, ax=ax, label=r"$\log_{10}$ median $k(5\sigma)$")
    ax.set_title(f"{stat}: luminosity for 5$\\sigma$ (white: not reached or template noise)")
    _save(fig, path)


#: Largest k drawn in the k(5 sigma)-vs-mass figures (beyond it: never, in practice).
K_PLOT_MAX = 1e5
#: Line style per statistic and colour per experiment set of the k(5 sigma)-vs-mass figures
#: (curves of one set often coincide: the statistics differ in line style and marker).
_STAT_STYLE = {
    "shape": {"ls": "-", "marker": "o"},
    "ratio": {"ls": "--", "marker": "s"},
    "shape+rate": {"ls": ":", "marker": "^"},
}


def _plot_mass(df: pd.DataFrame, true: str, alt: str, path: Path) -> None:
    g = df[(df["true"] == true) & (df["alt"] == alt)]
    fig, ax = plt.subplots(figsize=(8, 6), layout="constrained")
    # tab10, not the style's cycle: seven experiment sets need seven distinct colours
    tab10 = plt.get_cmap("tab10")
    colours = {s: tab10(i % 10) for i, s in enumerate(dict.fromkeys(g["experiments"]))}
    for (s, st), gg in g.groupby(["experiments", "statistic"]):
        gg = gg.dropna(subset=["k_5sigma_used"]).sort_values("mass")
        gg = gg[gg["k_5sigma_used"] <= K_PLOT_MAX]
        if len(gg):
            ax.plot(
                gg["mass"],
                gg["k_5sigma_used"],
                color=colours[s],
                mfc="none",
                label=f"{s}, {st}",
                **_STAT_STYLE.get(st, {}),
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(0.7 * g["mass"].min(), 1.4 * g["mass"].max())  # every true mass of the run
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel(r"true $m_{A'}$ [GeV]")
    ax.set_ylabel(r"$k(5\sigma)$: running time / nominal")
    ax.set_title(
        f"true {get_model(true).letter} vs {get_model(alt).letter} (k > {K_PLOT_MAX:.0e} not shown)"
    )
    ax.legend(fontsize=7)
    _save(fig, path)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/combined"))
    ap.add_argument("--fast", action="store_true")
    ap.add_argument("--factor", type=float, default=1.0, help="couplings / relic targets")
    ap.add_argument("--identity-resamples", type=int, default=50)
    ap.add_argument("--toys", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    ap.add_argument("--templates", default=None, help="template directory")
    ap.add_argument(
        "--masses",
        default=",".join(f"{m:g}" for m in MASSES),
        help="true masses of the full run, GeV, comma-separated (nearest grid nodes)",
    )
    ap.add_argument(
        "--replot",
        action="store_true",
        help="only rewrite summary.md and the figures from --out/combined.csv",
    )
    a = ap.parse_args(argv)
    if a.replot:
        replot(a.out)
        print(f"summary.md and figures rewritten from {a.out / 'combined.csv'}")
        return
    s = run(
        a.out,
        fast=a.fast,
        factor=a.factor,
        identity_resamples=a.identity_resamples,
        toys=a.toys,
        workers=a.workers,
        templates=a.templates,
        masses=tuple(float(m) for m in a.masses.split(",")),
    )
    c = s["toy_check"]
    print(
        f"{s['rows']} rows, {s['separable_rows']} separable at 5 sigma within the nominal running"
    )
    print(
        f"toy check {c['true_model']} vs {c['alt_model']} ({c['experiments_label']}): "
        f"Z(toys) = {c['z']:.2f}{' (bound)' if c.get('z_is_bound') else ''}, "
        + (
            f"Z(importance-sampled toys) = {c['z_importance']:.2f} +- {c['z_importance_err']:.2f}, "
            if c.get("z_importance") is not None
            else ""
        )
        + f"Z(Asimov) = {c['z_asimov']:.2f}"
    )


if __name__ == "__main__":
    main()
