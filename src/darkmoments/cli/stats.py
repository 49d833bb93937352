"""Statistics commands: ``workspace``, ``reach``, ``discovery``, ``degeneracy``, ``discriminate``.

Thin wrappers over :mod:`darkmoments.stats`; every number is computed there.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import click

from ..io.atomic import write_text_atomic
from ..stats.fast import P_FLOOR
from . import main
from ._common import echo_json, positive_float, positive_int

__all__ = [
    "degeneracy_cmd",
    "discovery_cmd",
    "discriminate_cmd",
    "parse_model_mass",
    "reach_cmd",
    "workspace_cmd",
]

_OBS_CHOICES = ["E,pt", "E", "pt"]
_templates_option = click.option(
    "--templates",
    "templates_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Template directory (default: the shipped templates or $DARKMOMENTS_TEMPLATES).",
)


def parse_model_mass(text: str) -> tuple[str, float]:
    """Parse ``"km:1.0"`` into (model id, mass in GeV); ValueError on bad input."""
    from ..models import get_model

    if ":" not in text:
        raise ValueError(f"expected MODEL:MASS such as km:1.0 (mass in GeV), got {text!r}")
    model, _, mass = text.partition(":")
    try:
        m = float(mass)
    except ValueError:
        raise ValueError(f"mass in {text!r} must be a number in GeV") from None
    return get_model(model).id, positive_float("mass", m)


def _dir(p: Path | None) -> str | None:
    return None if p is None else str(p)


def _write_text_atomic(path: Path, text: str) -> None:
    write_text_atomic(path, text, mkdir=True)


@main.command("workspace")
@click.option("--model", required=True, help="Model id (km md ed cr am).")
@click.option("--mass", type=float, required=True, help="A' mass in GeV.")
@click.option("--experiment", default="ldmx-phase2", show_default=True)
@click.option(
    "--coupling",
    type=float,
    default=1.0,
    show_default=True,
    help="Reference coupling g_f (model units) for mu = 1.",
)
@click.option("--observables", type=click.Choice(_OBS_CHOICES), default="E,pt", show_default=True)
@click.option(
    "--background",
    "background_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Background template (.npy or .json, events per bin).",
)
@click.option(
    "--flat-background",
    type=float,
    default=None,
    help="Flat background: total events spread evenly over the bins.",
)
@click.option(
    "--background-uncertainty",
    type=float,
    default=None,
    help="Relative background normalisation uncertainty (e.g. 0.1).",
)
@click.option("--no-staterror", is_flag=True, help="Omit the template MC uncertainty.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@_templates_option
def workspace_cmd(
    model: str,
    mass: float,
    experiment: str,
    coupling: float,
    observables: str,
    background_file: Path | None,
    flat_background: float | None,
    background_uncertainty: float | None,
    no_staterror: bool,
    out: Path,
    as_json: bool,
    templates_dir: Path | None,
) -> None:
    """Export the pyhf JSON workspace of one (model, mass, experiment)."""
    from .. import templates
    from ..experiments import signal_yield
    from ..stats.workspace import build_spec, load_background, write_json_atomic

    positive_float("coupling", coupling)
    if background_file is not None and flat_background is not None:
        raise ValueError("give either --background FILE or --flat-background N, not both")
    bkg: Any = None
    if background_file is not None:
        bkg = load_background(background_file)
    elif flat_background is not None:
        bkg = flat_background
    tpl = templates.load(model, mass, experiment, directory=_dir(templates_dir))
    n_sig = signal_yield(model, mass, coupling, experiment, directory=_dir(templates_dir)).n_signal
    spec = build_spec(
        tpl,
        n_sig,
        observables=observables,
        background=bkg,
        background_uncertainty=background_uncertainty,
        staterror=not no_staterror,
    )
    write_json_atomic(spec, out)
    summary = {
        "out": str(out),
        "model": tpl.model,
        "mass": float(mass),
        "experiment": experiment,
        "n_signal": n_sig,
        "bins": len(spec["observations"][0]["data"]),
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"wrote {out}: {summary['bins']} bins, N_sig = {n_sig:.6g} events at g = {coupling:g}"
        )


@main.command("reach")
@click.option("--model", required=True, help="Model id, or 'all' for a CSV table of all models.")
@click.option("--experiment", default="ldmx-phase2", show_default=True)
@click.option("--cl", type=float, default=0.9, show_default=True, help="Confidence level.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {mass, coupling, y}.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file (for --model all; default reach_<experiment>.csv).",
)
@_templates_option
def reach_cmd(
    model: str,
    experiment: str,
    cl: float,
    as_json: bool,
    out: Path | None,
    templates_dir: Path | None,
) -> None:
    """Zero-background 90% CL reach: coupling limit and y (eq. 3.3) per template mass."""
    from ..models import MODEL_IDS
    from ..stats.limits import reach_for

    if not 0 < cl < 1:
        raise ValueError(f"--cl must be in (0, 1), got {cl}")
    if model.strip().lower() == "all":
        from ..experiments import get_experiment

        name = get_experiment(experiment).name
        path = out if out is not None else Path(f"reach_{name}.csv")
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["model", "mass_GeV", "coupling", "y"])
        all_rows: dict[str, list[dict[str, float]]] = {}
        for mid in MODEL_IDS:
            rows = reach_for(mid, experiment, cl=cl, directory=_dir(templates_dir))
            all_rows[mid] = rows
            for r in rows:
                w.writerow([mid, repr(r["mass"]), repr(r["coupling"]), repr(r["y"])])
        _write_text_atomic(path, buf.getvalue())
        if as_json:
            echo_json(all_rows)
        else:
            click.echo(f"wrote {path}")
        return
    rows = reach_for(model, experiment, cl=cl, directory=_dir(templates_dir))
    if out is not None:
        raise ValueError("--out is only used with --model all")
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'m_A [GeV]':>12} {'coupling':>14} {'y':>14}")
    for r in rows:
        click.echo(f"{r['mass']:12.6g} {r['coupling']:14.6e} {r['y']:14.6e}")


@main.command("discovery")
@click.option("--model", default=None, help="Model id (with --mass and --coupling).")
@click.option("--mass", type=float, default=None, help="A' mass in GeV.")
@click.option("--coupling", type=float, default=None, help="g_f in the model's units.")
@click.option("--events", type=float, default=None, help="Signal events (instead of a model).")
@click.option("--background", type=float, required=True, help="Expected background events.")
@click.option("--experiment", default="ldmx-phase2", show_default=True)
@click.option(
    "--method", type=click.Choice(["exact", "asimov", "toys"]), default="exact", show_default=True
)
@click.option("--n-obs", type=float, default=None, help="Observed events (default: median).")
@click.option("--toys", "n_toys", type=int, default=10000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_templates_option
def discovery_cmd(
    model: str | None,
    mass: float | None,
    coupling: float | None,
    events: float | None,
    background: float,
    experiment: str,
    method: str,
    n_obs: float | None,
    n_toys: int,
    seed: int,
    as_json: bool,
    templates_dir: Path | None,
) -> None:
    """Discovery significance Z of a signal over a background (counting experiment)."""
    from ..stats.discovery import discovery_significance

    if events is not None:
        if model is not None or mass is not None or coupling is not None:
            raise ValueError("give either --events or --model/--mass/--coupling, not both")
        n_sig = positive_float("events", events)
    else:
        if model is None or mass is None or coupling is None:
            raise ValueError("give --events N or all of --model, --mass and --coupling")
        from ..experiments import signal_yield

        positive_float("coupling", coupling)
        n_sig = signal_yield(model, mass, coupling, experiment, directory=_dir(templates_dir))
        n_sig = n_sig.n_signal
    positive_int("toys", n_toys)
    d = discovery_significance(
        n_sig, background, n_obs=n_obs, method=method, n_toys=n_toys, seed=seed
    )
    out = {"n_signal": n_sig, "background": background, **d.to_dict()}
    if as_json:
        echo_json(out)
    else:
        click.echo(
            f"Z = {d.z:.4g} (p0 = {d.p0:.4g}, {d.method}) for s = {n_sig:.6g}, "
            f"b = {background:g}, n = {d.n_obs:g}"
        )


def _grid_pair(
    true_model: str,
    alt_model: str,
    experiment: str,
    observables: str,
    directory: str | None,
) -> tuple[Any, Any]:
    from ..stats.shapes import load_grid

    return (
        load_grid(true_model, experiment, observables, directory=directory),
        load_grid(alt_model, experiment, observables, directory=directory),
    )


@main.command("degeneracy")
@click.option("--true", "true_spec", required=True, help="True MODEL:MASS, e.g. km:1.0 (GeV).")
@click.option("--alt", "alt_model", required=True, help="Alternative model id.")
@click.option(
    "--observables",
    type=click.Choice([*_OBS_CHOICES, "all"]),
    default="all",
    show_default=True,
    help="One panel, or 'all' for E, pt and (E, pt) panels.",
)
@click.option("--events", type=float, required=True, help="Expected signal events.")
@click.option("--experiment", default="ldmx-phase2", show_default=True)
@click.option("--points", type=int, default=60, show_default=True, help="Masses per axis.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Figure file (.png, .pdf, .svg).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the best fits as JSON.")
@_templates_option
def degeneracy_cmd(
    true_spec: str,
    alt_model: str,
    observables: str,
    events: float,
    experiment: str,
    points: int,
    out: Path | None,
    as_json: bool,
    templates_dir: Path | None,
) -> None:
    """-2 Delta lnL of the alternative model vs (true mass, fitted mass); contour figure."""
    import numpy as np

    from ..models import get_model
    from ..stats.degeneracy import degeneracy_surface
    from ..stats.fits import fit_mass

    true_model, true_mass = parse_model_mass(true_spec)
    alt = get_model(alt_model).id
    positive_float("events", events)
    positive_int("points", points)
    obs_list = ["E", "pt", "E,pt"] if observables == "all" else [observables]
    surfaces = []
    fits = []
    for obs in obs_list:
        gt, ga = _grid_pair(true_model, alt, experiment, obs, _dir(templates_dir))
        gt.check_mass(true_mass)
        surfaces.append(degeneracy_surface(gt, ga, events, points=points))
        data = events * gt.shape(true_mass) / gt.shape(true_mass).sum()
        # Asimov data of one finite-MC template may fill bins the other never populates
        f_alt = fit_mass(data, ga, strict=False)
        f_true = fit_mass(data, gt, strict=False)
        fits.append(
            {
                "observables": obs,
                "alt_mass": f_alt.mass,
                "alt_mass_low": f_alt.mass_low,
                "alt_mass_high": f_alt.mass_high,
                "delta_2lnL": f_alt.deviance - f_true.deviance,
                "true_fit_mass": f_true.mass,
            }
        )
    if out is not None:
        from ..plotting import plot_degeneracy, save_figure

        save_figure(plot_degeneracy(surfaces), out)
    result = {
        "true_model": true_model,
        "true_mass": true_mass,
        "alt_model": alt,
        "events": events,
        "fits": fits,
    }
    if as_json:
        echo_json(result)
        return
    for f in fits:
        click.echo(
            f"[{f['observables']}] {alt} best fit m = {f['alt_mass']:.4g} GeV "
            f"[{f['alt_mass_low']:.4g}, {f['alt_mass_high']:.4g}], "
            f"-2 dlnL = {f['delta_2lnL']:.4g} vs {true_model} at {true_mass:g} GeV"
            + (f" ({np.sqrt(max(f['delta_2lnL'], 0.0)):.2f} sigma)" if f["delta_2lnL"] > 0 else "")
        )
    if out is not None:
        click.echo(f"wrote {out}")


@main.command("discriminate")
@click.option("--true", "true_spec", required=True, help="True MODEL:MASS, e.g. km:1.0 (GeV).")
@click.option(
    "--alt", "alt_models", required=True, help="Alternative model id(s), comma separated, or 'all'."
)
@click.option(
    "--events", type=float, default=None, help="Expected signal events (normalisation free)."
)
@click.option(
    "--relic", is_flag=True, help="Instead of --events: tie each model's rate to its relic target."
)
@click.option(
    "--coupling-factor",
    type=float,
    default=1.0,
    show_default=True,
    help="With --relic: couplings = factor x relic-target coupling.",
)
@click.option(
    "--toys", "n_toys", type=int, default=10000, show_default=True, help="Toys per hypothesis."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--observables", type=click.Choice(_OBS_CHOICES), default="E,pt", show_default=True)
@click.option("--experiment", default="ldmx-phase2", show_default=True)
@click.option(
    "--workers", type=int, default=None, help="Local worker processes (default: all cores)."
)
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:port).")
@click.option("--chunk-size", type=int, default=1000, show_default=True)
@click.option(
    "--p-floor",
    type=float,
    default=P_FLOOR,
    show_default=True,
    help="Floor on template bin probabilities (empty MC bins).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory streaming the toy results (one sub-directory per alternative).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Figure of the statistic distributions (first alternative).",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-progress", is_flag=True)
@_templates_option
def discriminate_cmd(
    true_spec: str,
    alt_models: str,
    events: float | None,
    relic: bool,
    coupling_factor: float,
    n_toys: int,
    seed: int,
    observables: str,
    experiment: str,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int,
    p_floor: float,
    out_dir: Path | None,
    resume: bool,
    plot: Path | None,
    as_json: bool,
    no_progress: bool,
    templates_dir: Path | None,
) -> None:
    """Model-discrimination toys: p-value and significance for rejecting each alternative."""
    from ..models import MODEL_IDS, get_model
    from ..stats.toys import DiscriminationSetup, relic_setup, run_discrimination

    true_model, true_mass = parse_model_mass(true_spec)
    if relic == (events is not None):
        raise ValueError("give exactly one of --events N or --relic")
    if events is not None:
        positive_float("events", events)
    positive_float("coupling-factor", coupling_factor)
    positive_int("toys", n_toys)
    positive_int("chunk-size", chunk_size)
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if resume and out_dir is None:
        raise ValueError("--resume needs --out DIR of the interrupted run")
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    positive_int("workers", n_workers)
    if alt_models.strip().lower() == "all":
        alts = [m for m in MODEL_IDS if m != true_model]
    else:
        alts = [get_model(a).id for a in alt_models.split(",") if a.strip()]
    if not alts:
        raise ValueError("no alternative model given")
    results = []
    for alt in alts:
        gt, ga = _grid_pair(true_model, alt, experiment, observables, _dir(templates_dir))
        if events is not None:
            setup = DiscriminationSetup(gt, ga, true_mass, events, p_floor=p_floor)
        else:
            setup = relic_setup(gt, ga, true_mass, coupling_factor=coupling_factor)
            setup = DiscriminationSetup(
                gt,
                ga,
                true_mass,
                setup.n_events,
                setup.rates_true,
                setup.rates_alt,
                p_floor=p_floor,
            )
        res = run_discrimination(
            setup,
            n_toys,
            seed=seed,
            chunk_size=chunk_size,
            workers=n_workers,
            scheduler=scheduler,
            out_dir=None if out_dir is None else out_dir / f"{true_model}_vs_{alt}",
            resume=resume,
            progress=not no_progress,
        )
        results.append(res)
    if plot is not None:
        from ..plotting import plot_discrimination, save_figure

        save_figure(plot_discrimination(results[0]), plot)
    if as_json:
        echo_json([r.summary() for r in results])
        return
    for r in results:
        bound = ">=" if r.z_is_bound else "="
        n3 = "-" if r.n_3sigma is None else f"{r.n_3sigma:.4g}"
        n5 = "-" if r.n_5sigma is None else f"{r.n_5sigma:.4g}"
        click.echo(
            f"{r.true_model}@{r.true_mass:g} vs {r.alt_model} (best m = {r.alt_mass:.4g} GeV): "
            f"N = {r.n_events:g}, p = {r.p_value:.3g}, Z {bound} {r.z:.3f} "
            f"(Asimov {r.z_asimov:.3f}); N(3 sigma) = {n3}, N(5 sigma) = {n5}"
        )
        if r.template_limited:
            click.echo(
                f"  warning: t_A = {r.t_asimov:.3g} is below 3 x the template-statistics floor "
                f"{r.t_template_floor:.3g}: the shapes are not resolved by the templates"
            )
