"""Several experiments at once: ``--experiment A,B,...`` on the statistics commands.

With one experiment every statistics command runs as before; with a comma-separated list
(``ldmx-phase1,ldmx-phase2,m3-phase2``: names or TOML files, each at most once) ``workspace``,
``reach``, ``discovery``, ``degeneracy`` and ``discriminate`` call the combined likelihood of
:mod:`darkmoments.stats.combined` (one A' mass and coupling seen by every experiment; every
number is computed there).  The combination is at truth level without background, so the
options that have no combined meaning (``--level detector``, background histograms, the
pyhf mass-scan patchset, the single-experiment degeneracy figure) end in one line naming the
option, exit code 2; the combined-only options (``workspace --normalisation``/``--syst``,
``degeneracy --statistic``) are refused likewise with one experiment.

Every combined output names its experiments: ``experiments`` is the list of canonical names
in the order given, and per-experiment values are lists in that order (``n1``,
``n_signal_per_experiment``, ``n_true``, ``alt_norm``).  CSV tables carry them as
``experiments`` (names joined by ``,``, quoted) and ``n1_total``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import click

from ..errors import InputError
from ._common import check_output_path, echo_discrimination_checks, echo_json, sigterm_as_exit

__all__ = [
    "STATISTICS",
    "check_options",
    "degeneracy",
    "discovery",
    "discriminate",
    "parse",
    "reach",
    "refuse",
    "refuse_combined_only",
    "workspace",
]

#: Statistics of a combined discrimination (``stats.combined.STATISTICS``) and the suffix of
#: their checkpoint directories (``DIR/<true>_vs_<alt>_<suffix>``).
STATISTICS: dict[str, str] = {"shape": "shape", "ratio": "ratio", "shape+rate": "shape_rate"}

#: Why an option has no combined meaning (the end of the one-line error).
_WHY: dict[str, str] = {
    "--level": "the combined likelihood uses the truth-level templates (give one --experiment "
    "for --level detector)",
    "--background": "the combination is at zero background (a background histogram belongs to "
    "one experiment's binning)",
    "--flat-background": "the combination is at zero background",
    "--background-uncertainty": "the combination is at zero background",
    "--mass-scan": "the pyhf mass-scan patchset is of one experiment (give --mass for a "
    "combined workspace)",
    "--plot": "the figure is of one experiment's (true mass, fitted mass) surfaces (--json "
    "gives the combined curve at the true mass)",
    "--signal-events": "a counting test of given events does not depend on the experiments "
    "(give --model, --mass and --coupling: their yields are summed)",
}


def parse(text: str) -> tuple[Any, ...]:
    """The experiments of ``--experiment`` (one, or a comma-separated list).

    :func:`~darkmoments.stats.combined.parse_experiments`: unknown, repeated or no
    experiments are an :class:`~darkmoments.errors.InputError` listing them.
    """
    from ..stats.combined import parse_experiments

    try:
        return parse_experiments(text)
    except InputError as exc:
        raise InputError(f"--experiment {text!r}: {exc}") from None


def _names(exps: Sequence[Any]) -> list[str]:
    return [e.name for e in exps]


def refuse(given: Mapping[str, bool], exps: Sequence[Any]) -> None:
    """One line naming the first option of ``given`` (option -> given) without combined meaning."""
    for option, is_given in given.items():
        if is_given:
            why = _WHY.get(option.split()[0], "it has no combined meaning")
            raise InputError(
                f"{option}: not available with several experiments "
                f"(--experiment {','.join(_names(exps))}): {why}"
            )


def refuse_combined_only(given: Mapping[str, bool]) -> None:
    """One line naming the first combined-only option given with one experiment."""
    for option, is_given in given.items():
        if is_given:
            raise InputError(
                f"{option} needs several experiments (--experiment A,B,..., e.g. "
                "ldmx-phase1,ldmx-phase2)"
            )


def check_options(
    exps: Sequence[Any], single_only: Mapping[str, bool], combined_only: Mapping[str, bool]
) -> None:
    """:func:`refuse` with several experiments, :func:`refuse_combined_only` with one."""
    if len(exps) > 1:
        refuse(single_only, exps)
    else:
        refuse_combined_only(combined_only)


def _syst(text: str | None) -> Any:
    """``--syst`` as :class:`~darkmoments.stats.systematics.NormalisationSystematics` or None."""
    from ..stats.systematics import parse_systematics

    return None if text is None else parse_systematics(text)


# ----------------------------------------------------------------------------- workspace
def workspace(
    model: str,
    mass: float,
    exps: Sequence[Any],
    opts: Mapping[str, Any],
    out_force: tuple[Path, bool],
    *,
    as_json: bool,
    directory: str | None,
) -> None:
    """``workspace --experiment A,B``: one pyhf channel per experiment, one shared coupling.

    :func:`~darkmoments.stats.combined.combined_workspace`; mu = 1 is ``--coupling`` or, by
    default, the coupling whose summed signal is the exact zero-background counting limit at
    ``--cl`` (2.303 events at 90% CL, the combined reach).  ``opts``: coupling, cl,
    normalisation (shared or tied), syst (text), observables, layout, staterror.
    """
    from ..models import get_model
    from ..stats.combined import combined_workspace, combined_yields
    from ..stats.limits import poisson_upper_limit
    from ..stats.workspace import readme_path, write_workspace

    out, force = out_force
    check_output_path(out, option="--out", force=force)
    check_output_path(readme_path(out), option="--out (README sidecar)", force=force)
    mid = get_model(model).id
    g = opts["coupling"]
    if g is None:
        unit = combined_yields(mid, mass, 1.0, exps, directory=directory)
        g = math.sqrt(poisson_upper_limit(0.0, 0.0, opts["cl"]) / sum(r["n_signal"] for r in unit))
    syst = _syst(opts["syst"])
    spec = combined_workspace(
        mid,
        mass,
        exps,
        coupling=g,
        normalisation=opts["normalisation"],
        systematics=syst,
        observables=opts["observables"],
        layout=opts["layout"],
        staterror=opts["staterror"],
        directory=directory,
    )
    n_sig = [r["n_signal"] for r in combined_yields(mid, mass, g, exps, directory=directory)]
    ws_path, rd_path = write_workspace(spec, out)
    summary = {
        "model": mid,
        "mass": float(mass),
        "experiments": _names(exps),
        "coupling": g,
        "coupling_unit": get_model(mid).coupling_unit,
        "n_signal": float(sum(n_sig)),
        "n_signal_per_experiment": n_sig,
        "normalisation": opts["normalisation"],
        "systematics": None if syst is None else syst.components(),
        "observables": opts["observables"],
        "layout": opts["layout"],
        "staterror": opts["staterror"],
        "cl": opts["cl"],
        "poi": spec["measurements"][0]["config"]["poi"],
        "channels": [c["name"] for c in spec["channels"]],
        "n_bins": sum(len(o["data"]) for o in spec["observations"]),
        "out": str(ws_path),
        "readme": str(rd_path),
    }
    if as_json:
        echo_json(summary)
        return
    per = ", ".join(f"{e} {n:.6g}" for e, n in zip(summary["channels"], n_sig, strict=True))
    click.echo(
        f"wrote {ws_path} and {rd_path}: {len(n_sig)} channels, {summary['n_bins']} bins, "
        f"mu = 1 is {summary['n_signal']:.6g} signal events ({per}; g = {g:.6g} "
        f"[{summary['coupling_unit']}], {opts['normalisation']} normalisation)"
    )


# ----------------------------------------------------------------------------- reach
def reach(
    models: Sequence[str],
    everything: bool,
    exps: Sequence[Any],
    cl: float,
    out: Path | None,
    *,
    as_json: bool,
    directory: str | None,
) -> None:
    """``reach --experiment A,B``: the combined zero-background reach per mass.

    :func:`~darkmoments.stats.combined.combined_reach`: the exact counting limit on the
    summed signal; masses: every grid mass inside all experiments' ranges.
    """
    import pandas as pd

    from ..io.atomic import write_csv_atomic
    from ..stats.combined import combined_reach

    names = _names(exps)
    keys = ("mass", "coupling", "y", "n1", "n1_total")
    by_model: dict[str, list[dict[str, Any]]] = {}
    for mid in models:
        rows = combined_reach(mid, exps, cl=cl, directory=directory)
        by_model[mid] = [{**{k: r[k] for k in keys}, "experiments": names} for r in rows]
    if out is not None:
        table = pd.DataFrame(
            [
                {"model": mid, **{k: r[k] for k in ("mass", "coupling", "y", "n1_total")}}
                | {"experiments": ",".join(names)}
                for mid, rows in by_model.items()
                for r in rows
            ]
        )
        write_csv_atomic(table, out)
    if as_json:
        echo_json(by_model if everything else by_model[models[0]])
        return
    click.echo(f"{' + '.join(names)} combined: zero background, {100 * cl:g}% CL")
    click.echo(f"{'model':>5} {'m_A [GeV]':>12} {'coupling':>14} {'y':>14} {'N1 total':>12}")
    for mid, rows in by_model.items():
        for r in rows:
            click.echo(
                f"{mid:>5} {r['mass']:12.6g} {r['coupling']:14.6e} {r['y']:14.6e} "
                f"{r['n1_total']:12.6g}"
            )
    if out is not None:
        click.echo(f"wrote {out}")


# ----------------------------------------------------------------------------- discovery
def discovery_background(
    background: str | None, flat: float | None, uncertainty: float | None
) -> tuple[float, float | None]:
    """The combined background: a total number of events (summed over the experiments).

    ``--flat-background N`` or ``--background N``; a histogram file has no combined meaning
    (each experiment has its own binning), and the experiments' ``[background]`` tables are
    not summed implicitly.  Returns (events, relative uncertainty or None).
    """
    from ..validation import check_real

    if background is not None:
        try:
            number = float(background)
        except ValueError:
            raise InputError(
                f"--background {background}: a background histogram is one experiment's; "
                "with several experiments give the total events (--flat-background N)"
            ) from None
        if flat is not None:
            raise InputError("give either --background or --flat-background N, not both")
        flat = number
    if flat is None:
        raise InputError(
            "discovery with several experiments needs the total background, "
            "--flat-background N (events summed over the experiments)"
        )
    b = check_real("--flat-background", flat, lo=0.0, unit="events")
    if not b > 0:
        raise InputError("discovery needs a background > 0 events (--flat-background N)")
    unc = None
    if uncertainty is not None:
        unc = check_real("--background-uncertainty", uncertainty, lo=0.0, hi=10.0) or None
    return b, unc


def discovery(
    model: str,
    mass: float,
    coupling: float,
    exps: Sequence[Any],
    background: tuple[float, float | None],
    opts: Mapping[str, Any],
    *,
    directory: str | None,
) -> tuple[dict[str, Any], Any]:
    """``discovery --experiment A,B``: the counting test of the summed yields.

    :func:`~darkmoments.stats.combined.combined_yields` summed (a sum of Poisson counts is
    Poisson) over the total background; returns (record, the Discovery).
    """
    from ..stats.combined import combined_yields
    from ..stats.discovery import discovery_significance

    b, unc = background
    rows = combined_yields(model, mass, coupling, exps, directory=directory)
    n_each = [float(r["n_signal"]) for r in rows]
    d = discovery_significance(sum(n_each), b, background_uncertainty=unc, **opts)
    rec = {
        "experiments": _names(exps),
        "n_signal": float(sum(n_each)),
        "n_signal_per_experiment": n_each,
        "background": float(b),
        "background_uncertainty": unc,
        **d.to_dict(),
    }
    return rec, d


# ----------------------------------------------------------------------------- degeneracy
def _deg_panel(setup: Any, points: int, observables: str) -> dict[str, Any]:
    """One ``fits`` entry: the alternative's best fit, its interval and the curve."""
    import numpy as np

    from ..stats.combined import combined_asimov, combined_degeneracy, fit_mass_combined

    lo, hi = setup.alt.mass_range
    deg = combined_degeneracy(setup, np.geomspace(lo, hi, points))
    data = combined_asimov(setup.true, setup.true_mass, setup.n_true)[None, :]
    kw: dict[str, Any] = {"normalisation": setup.normalisation, "systematics": setup.systematics}
    alt = fit_mass_combined(data, setup.alt, **kw)
    true = fit_mass_combined(data, setup.true, **kw)
    return {
        "observables": observables,
        "alt_mass": deg.best_mass,
        "alt_mass_low": alt.lower,
        "alt_mass_high": alt.upper,
        "alt_n_signal": float(alt.norm.sum()),
        "alt_norm": alt.norm.tolist(),
        "delta_2lnL": deg.best_delta,
        "true_fit_mass": true.mass,
        "masses": deg.masses.tolist(),
        "delta": deg.delta.tolist(),
    }


def degeneracy(
    true: tuple[str, float],
    alt: str,
    exps: Sequence[Any],
    events: float,
    obs_list: Sequence[str],
    *,
    points: int,
    statistic: str,
    directory: str | None,
    progress: bool,
) -> dict[str, Any]:
    """``degeneracy --experiment A,B``: -2 Delta lnL of the alternative vs its mass.

    Asimov data of the true model with ``events`` signal events in total, split over the
    experiments as the model's rates N1_i(m) (the coupling cancels in the split); shape only
    (``"shape"``, every normalisation free) or with the model's rate ratios between the
    experiments (``"ratio"``, one free coupling, per-experiment normalisation nuisances).
    :func:`~darkmoments.stats.combined.combined_degeneracy` on ``points`` alternative
    masses, :func:`~darkmoments.stats.combined.fit_mass_combined` for the 68% intervals.
    """
    from tqdm.auto import tqdm

    from ..stats.combined import combined_setup

    fits, setup = [], None
    for obs in tqdm(obs_list, desc="degeneracy", unit="panel", disable=not progress):
        setup = combined_setup(
            true,
            alt,
            exps,
            statistic=statistic,
            couplings={true[0]: 1.0, alt: 1.0},
            signal_events=events,
            observables=obs,
            directory=directory,
        )
        fits.append(_deg_panel(setup, points, obs))
    assert setup is not None  # at least one panel
    return {
        "true_model": true[0],
        "true_mass": setup.true_mass,
        "alt_model": alt,
        "experiments": _names(exps),
        "statistic": statistic,
        "n_signal": events,
        "n_true": list(setup.n_true),
        "fits": fits,
    }


# ----------------------------------------------------------------------------- discriminate
def statistics_of(
    events: float | None, relic: bool, couplings: Any, with_rate: bool | None
) -> list[str]:
    """The statistics a combined ``discriminate`` reports.

    Shape only and with the rate ratios (``shape``, ``ratio``) for ``--signal-events``; also
    shape + rate (``shape+rate``, the predicted couplings) for ``--relic`` and
    ``--coupling``; ``--no-rate``: shape only.
    """
    given = [events is not None, relic, couplings is not None]
    if sum(given) != 1:
        raise InputError(
            "give exactly one of --signal-events N or --relic or --coupling MODEL=G,..."
        )
    if with_rate is False:
        return ["shape"]
    return ["shape", "ratio"] if events is not None else ["shape", "ratio", "shape+rate"]


def _setup(
    true: tuple[str, float], alt: str, exps: Sequence[Any], statistic: str, spec: Mapping[str, Any]
) -> Any:
    """The :func:`~darkmoments.stats.combined.combined_setup` of one alternative and statistic.

    ``spec``: events (or None), couplings ({model: g} or None for the relic targets),
    coupling_factor, systematics, observables, p_floor, directory.
    """
    from ..stats.combined import combined_setup
    from ..stats.fast import P_FLOOR

    events = spec["events"]
    couplings = spec["couplings"]
    if events is not None and couplings is None:  # free total: the split needs N1_i only
        couplings = {true[0]: 1.0, alt: 1.0}
    setup = combined_setup(
        true,
        alt,
        exps,
        statistic=statistic,
        coupling_factor=spec["coupling_factor"],
        couplings=couplings,
        signal_events=events,
        systematics=None if statistic == "shape" else spec["systematics"],
        observables=spec["observables"],
        directory=spec["directory"],
    )
    if spec["p_floor"] != P_FLOOR:
        setup = replace(setup, p_floor=spec["p_floor"])
    return setup


def _record(setup: Any, result: Any, statistic: str, identity: Any) -> dict[str, Any]:
    rec = {
        **result.summary(),
        "statistic": statistic,
        "systematics": None if setup.systematics is None else setup.systematics.summary(),
        "alt_n_signal": float(sum(result.alt_norm)),
        "p_identity": None,
        "template_limited": None,
        "t_template_floor": None,
    }
    if identity is not None:
        rec.update(
            p_identity=identity.p_value,
            template_limited=not identity.resolved,
            t_template_floor=identity.t_noise_mean,
            identity_resamples=identity.n_resamples,
        )
    return rec


#: Template resamples of the combined shape-identity test (grid-node statistic).
IDENTITY_RESAMPLES: int = 100


def discriminate(
    true: tuple[str, float],
    alts: Sequence[str],
    exps: Sequence[Any],
    statistics: Sequence[str],
    spec: Mapping[str, Any],
    run: Mapping[str, Any],
    *,
    out_dir: Path | None,
    plot: Path | None,
    identity_resamples: int | None,
) -> list[dict[str, Any]]:
    """``discriminate --experiment A,B``: toys of every alternative and statistic.

    :func:`~darkmoments.stats.combined.run_combined_discrimination` (checkpoint
    ``out_dir/<true>_vs_<alt>_<shape|ratio|shape_rate>``; ``run``: n_toys, seed,
    chunk_size, workers, scheduler, resume, progress); the shape and ratio records get the
    calibrated combined shape-identity test
    (:func:`~darkmoments.stats.combined.combined_shape_identity`, ``identity_resamples``
    resamples, default 100, on the grid-node statistic as ``studies/combined.py``);
    shape + rate records are not tested (``p_identity`` null).  The figure is the first
    record's.
    """
    from ..stats.combined import combined_shape_identity, run_combined_discrimination

    b = IDENTITY_RESAMPLES if identity_resamples is None else identity_resamples
    records, first = [], None
    with sigterm_as_exit():
        if out_dir is not None:
            out_dir.mkdir(exist_ok=True)
        for alt in alts:
            for stat in statistics:
                setup = _setup(true, alt, exps, stat, spec)
                name = f"{true[0]}_vs_{alt}_{STATISTICS[stat]}"
                res = run_combined_discrimination(
                    setup, out_dir=None if out_dir is None else out_dir / name, **run
                )
                ident = None
                if stat != "shape+rate":
                    ident = combined_shape_identity(
                        setup, res.alt_mass, n_resamples=b, seed=run["seed"], refine=False
                    )
                records.append(_record(setup, res, stat, ident))
                first = first or res
        if plot is not None:
            _plot(first, exps, plot)
    return records


def _plot(result: Any, exps: Sequence[Any], plot: Path) -> None:
    """:func:`~darkmoments.plotting.plot_discrimination` of a combined result."""
    from ..plotting import plot_discrimination, save_figure

    view = SimpleNamespace(**result.summary(), t_true=result.t_true, t_alt=result.t_alt)
    view.n_events = float(sum(result.n_true))
    # the figure reads the toy statistics and the summary numbers, whose names are shared
    fig = plot_discrimination(cast(Any, view), label=" + ".join(_names(exps)))
    save_figure(fig, plot)


def echo_discrimination(rec: Mapping[str, Any]) -> None:
    """The text report of one combined discrimination record."""
    bound = ">=" if rec["z_is_bound"] else "="
    n3 = "-" if rec["n_3sigma"] is None else f"{rec['n_3sigma']:.4g}"
    n5 = "-" if rec["n_5sigma"] is None else f"{rec['n_5sigma']:.4g}"
    per = ", ".join(f"{e} {n:.4g}" for e, n in zip(rec["experiments"], rec["n_true"], strict=True))
    click.echo(
        f"{rec['true_model']}@{rec['true_mass']:g} vs {rec['alt_model']} [{rec['statistic']}] "
        f"(best m = {rec['alt_mass']:.4g} GeV): N = {rec['n_signal']:.4g} ({per}), "
        f"p = {rec['p_value']:.3g}, Z {bound} {rec['z']:.3f} (Asimov {rec['z_asimov']:.3f}); "
        f"N(3 sigma) = {n3}, N(5 sigma) = {n5}"
    )
    echo_discrimination_checks(rec)
