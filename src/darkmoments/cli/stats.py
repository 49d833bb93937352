"""Statistics commands: ``workspace``, ``reach``, ``discovery``, ``degeneracy``, ``discriminate``.

Thin wrappers over :mod:`darkmoments.stats`; every number is computed there.  The commands
are standalone click commands (:data:`COMMANDS`), attached to the root group with
``main.add_command``.

Vocabulary (see :mod:`darkmoments.cli._common`): ``--templates DIR``, ``--out`` a file (a
directory only for ``discriminate``, which checkpoints many chunk files), ``--plot`` a figure,
``--level truth|detector`` the templates (``<experiment>.h5`` or ``<experiment>.detector.h5``),
``--background FILE`` / ``--flat-background N`` / ``--background-uncertainty X`` a background
(default: the experiment's ``[background]`` table, none for the shipped setups),
``--signal-events`` expected signal counts (``--events`` is kept as a hidden, deprecated
alias on these commands, where it never meant Monte Carlo events).  Output directories are
never created silently: the parent directory of every output must exist.

Keys of the JSON and CSV outputs (one key per quantity, the same on every command):

================  ======================================================================
key               meaning
================  ======================================================================
model             canonical model id (km md ed cr am); ``true_model`` / ``alt_model``
experiment        canonical experiment name (ldmx-phase2, or the TOML setup's name)
mass              A' mass in GeV; ``true_mass``, ``alt_mass``, ``true_fit_mass``
mass_low/high     interval of a fitted mass in GeV (``alt_mass_low``, ``alt_mass_high``)
coupling          g_f in the model's units (1, GeV^-1, GeV^-2; ``coupling_unit``); ``y``: eq. 3.3
cl                confidence level (0.9 = 90%)
n_signal          expected signal events; ``alt_n_signal`` the alternative's fitted events;
                  ``n_3sigma`` / ``n_5sigma`` the signal events needed for 3 / 5 sigma
background        expected background events (summed over every bin); ``n_obs`` observed
                  events; ``background_uncertainty`` its relative normalisation uncertainty
level             template level, only when ``detector`` (``--level``; default truth)
z, p0, p_value    significance (one-sided sigma), background-only p-value, toy p-value
n_toys, seed      pseudo-experiments per hypothesis and the root seed
observables       binned observables (``E``, ``pt`` or ``E,pt``); ``n_bins`` their bins
out               the file written
================  ======================================================================
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from ..errors import InputError, OutputPathError
from ..models import check_coupling
from ..stats.fast import P_FLOOR
from ..validation import check_int, check_real
from . import _combined
from ._common import (
    check_output_path,
    echo_discrimination_checks,
    echo_json,
    example,
    force_option,
    positive_float,
    positive_int,
    progress_enabled,
    progress_option,
    resolve_workers,
    sigterm_as_exit,
    workers_option,
)
from .templates import level_option

__all__ = [
    "COMMANDS",
    "degeneracy_cmd",
    "discovery_cmd",
    "discriminate_cmd",
    "parse_model_mass",
    "reach_cmd",
    "workspace_cmd",
]

_OBS_CHOICES = ["E,pt", "E", "pt"]
_FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
_templates_option = click.option(
    "--templates",
    "templates_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Template directory [default: the shipped templates, or $DARKMOMENTS_TEMPLATES].",
)
_experiment_option = click.option(
    "--experiment",
    default="ldmx-phase2",
    show_default=True,
    help="Experiment name (ldmx-phase1, ldmx-phase2, m3-phase1, m3-phase2) or a TOML setup "
    "file; several, comma-separated (ldmx-phase1,ldmx-phase2,m3-phase2), for the combined "
    "likelihood of darkmoments.stats.combined (truth level, no background).",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout [default: text]."
)


def _experiment_set(text: str) -> tuple[Any, ...]:
    """``--experiment``: one experiment, or several (a comma-separated list, combined).

    Without a comma exactly :func:`_experiment` (the single-experiment path unchanged).
    """
    if "," not in text:
        return (_experiment(text),)
    return _combined.parse(text)


def _single_only(
    level: str,
    background_file: Any,
    flat_background: float | None,
    background_uncertainty: float | None,
) -> dict[str, bool]:
    """Options of the statistics commands without combined meaning: option -> given.

    The combination is at truth level without background (``--flat-background 0`` is no
    background, so it is accepted).
    """
    return {
        "--level detector": level.lower() == "detector",
        "--background": background_file is not None,
        "--flat-background": flat_background not in (None, 0.0),
        "--background-uncertainty": background_uncertainty is not None,
    }


def _experiment(text: str) -> Any:
    """The one parser of ``--experiment``: a name (ldmx-phase1, ldmx-phase2) or a TOML file.

    Returns the :class:`~darkmoments.experiments.Experiment`.
    """
    from ..experiments import get_experiment

    return get_experiment(text)


def _level(exp: Any, level: str, templates_dir: Path | None) -> str:
    """``--level`` checked for the experiment: its templates file must exist at that level."""
    from ..stats.inputs import check_level_file

    return check_level_file(exp, level.lower(), _dir(templates_dir))


def _background_record(bkg: Any) -> dict[str, Any]:
    """``background`` and ``background_uncertainty`` keys, only with a background (> 0)."""
    from ..stats.inputs import background_total

    b = background_total(bkg)
    if b <= 0:
        return {}
    return {"background": b, "background_uncertainty": bkg.normalisation_uncertainty or None}


def _level_record(level: str) -> dict[str, str]:
    """The ``level`` key of a JSON output: present only at detector level (as ``yield``)."""
    return {"level": level} if level == "detector" else {}


def _background_options(f: Any, *, number_ok: bool = False) -> Any:
    """``--background FILE``, ``--flat-background N``, ``--background-uncertainty X``.

    ``number_ok``: ``--background`` also takes a number of events (``discovery``).
    """
    f = click.option(
        "--background-uncertainty",
        type=float,
        default=None,
        help="Relative background normalisation uncertainty sigma_b in [0, 10] (log-normal, "
        "kappa = 1 + sigma_b), e.g. 0.3 for 30% [default: the background's own, none].",
    )(f)
    f = click.option(
        "--flat-background",
        type=float,
        default=None,
        help="Instead of --background: this many expected events in total, spread evenly "
        "over the template bins; 0 = no background [default: none].",
    )(f)
    return click.option(
        "--background",
        "background_file",
        default=None,
        help="Background (E, p_T) histogram: .json/.npz with e_edges, pt_edges (GeV) and "
        "counts (expected events per bin, full exposure), or .npy/.json flattened counts "
        "(E major) [default: the experiment's [background] table at --level, none for "
        "ldmx-phase1/2]." + (" A number: that many events in total." if number_ok else ""),
    )(f)


def _cli_background(
    exp: Any,
    level: str,
    background_file: str | None,
    flat_background: float | None,
    uncertainty: float | None,
    *,
    number_ok: bool = False,
) -> Any:
    """The :class:`~darkmoments.experiments.Background` of the background options (or None).

    ``number_ok``: ``--background N`` (a number of events) is accepted as ``--flat-background
    N`` (``discovery``, whose ``--background`` has always been a number of events).
    """
    from ..stats.inputs import resolve_background

    if background_file is not None and number_ok:
        try:
            value = float(background_file)
        except ValueError:
            pass
        else:
            if flat_background is not None:
                raise InputError("give either --background or --flat-background N, not both")
            background_file, flat_background = None, value
    if background_file is not None and flat_background is not None:
        raise InputError("give either --background FILE or --flat-background N, not both")
    if flat_background is not None:
        check_real("--flat-background", flat_background, lo=0.0, unit="events")
    if uncertainty is not None:
        check_real("--background-uncertainty", uncertainty, lo=0.0, hi=10.0)
        if background_file is None and flat_background is None and exp.background_at(level) is None:
            raise InputError(
                "--background-uncertainty needs --background FILE or --flat-background N "
                f"(experiment {exp.name} has no [background] table at level {level})"
            )
    return resolve_background(
        exp,
        level,
        background=None if background_file is None else Path(background_file),
        flat=flat_background,
        uncertainty=uncertainty,
    )


def _signal_events_options(required: bool, what: str) -> Any:
    """``--signal-events`` plus the hidden deprecated alias ``--events``."""

    def deco(f: Any) -> Any:
        f = click.option(
            "--events",
            "events_deprecated",
            type=float,
            default=None,
            hidden=True,
            help="Deprecated alias of --signal-events.",
        )(f)
        return click.option(
            "--signal-events",
            "signal_events",
            type=float,
            default=None,
            help=f"{what} (events, > 0) [{'required' if required else 'default: none'}].",
        )(f)

    return deco


def _merge_signal_events(new: float | None, old: float | None, *, required: bool) -> float | None:
    if old is not None:
        if new is not None:
            raise InputError("give --signal-events only (--events is its deprecated alias)")
        click.echo(
            "darkmoments: warning: --events is deprecated here (expected signal events); "
            "use --signal-events",
            err=True,
        )
        new = old
    if new is None:
        if required:
            raise InputError("missing option --signal-events (expected signal events)")
        return None
    return positive_float("--signal-events", new)


def parse_model_mass(text: str, option: str = "--true") -> tuple[str, float]:
    """Parse ``"km:1.0"`` into (model id, mass in GeV); ``InputError`` naming the option."""
    from ..models import get_model

    if ":" not in text:
        raise InputError(
            f"{option}: expected MODEL:MASS such as km:1.0 (mass in GeV), got {text!r}"
        )
    model, _, mass = text.partition(":")
    try:
        m = float(mass)
    except ValueError:
        raise InputError(f"{option}: mass in {text!r} must be a number in GeV") from None
    return get_model(model).id, positive_float(f"{option} mass (GeV)", m)


def _dir(p: Path | None) -> str | None:
    return None if p is None else str(p)


def _check_figure(path: Path | None, option: str = "--plot", *, force: bool) -> Path | None:
    """Refuse a figure path before any work: suffix, existing directory, existing file."""
    if path is None:
        return None
    if path.suffix.lower() not in _FIGURE_SUFFIXES:
        raise InputError(f"{option} {path}: the figure file must end in .png, .pdf or .svg")
    return check_output_path(path, option=option, force=force)


# ------------------------------------------------------------------------------- workspace
@click.command(
    "workspace",
    epilog=example(
        "darkmoments workspace --model km --mass 0.1 --experiment ldmx-phase2 --out ws.json",
        "pyhf cls ws.json",
    ),
)
@click.option("--model", required=True, help="Model id (km, md, ed, cr, am; case-insensitive).")
@click.option(
    "--mass", type=float, default=None, help="A' mass in GeV (required unless --mass-scan)."
)
@click.option(
    "--mass-scan",
    is_flag=True,
    help="Instead of one mass: write a background-only workspace to --out and a pyhf patchset "
    "<name>.patchset.json next to it, one signal patch per template grid mass.",
)
@click.option("--scan", "old_scan", is_flag=True, hidden=True, help="Alias of --mass-scan.")
@_experiment_option
@click.option(
    "--coupling",
    type=float,
    default=None,
    help="Coupling g_f at mu = 1, in the model's units (1, GeV^-1, GeV^-2) [default: the "
    "coupling whose signal equals the exact counting limit of the data, 2.303 events at 90% "
    "CL without background, so that mu ~ 1 is where the limit lies].",
)
@click.option(
    "--observables",
    type=click.Choice(_OBS_CHOICES),
    default="E,pt",
    show_default=True,
    help="Binned observables (recoil-lepton energy E and transverse momentum pt, GeV).",
)
@click.option(
    "--background",
    "background_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Background template file (.npy or .json): expected events per template bin, "
    "flattened (E major) [default: no background].",
)
@click.option(
    "--flat-background",
    type=float,
    default=None,
    help="Flat background: total expected events spread evenly over the bins "
    "[default: no background].",
)
@click.option(
    "--background-uncertainty",
    type=float,
    default=None,
    help="Relative background normalisation uncertainty in (0, 1), e.g. 0.1 for 10% "
    "[default: none].",
)
@click.option(
    "--staterror",
    type=click.Choice(["auto", "all", "none"]),
    default="auto",
    show_default=True,
    help="Template MC statistical uncertainty (pyhf staterror): auto = only in bins where it "
    "matters at the limit (usually none), all = every bin with signal, none.",
)
@click.option(
    "--no-staterror",
    is_flag=True,
    hidden=True,
    help="Deprecated alias of --staterror none.",
)
@click.option(
    "--layout",
    type=click.Choice(["coarse", "full"]),
    default="coarse",
    show_default=True,
    help="Workspace bins: coarse = fixed merge of the template bins (96 on LDMX), full = every "
    "template bin; fixed per experiment either way.",
)
@click.option(
    "--cl",
    type=float,
    default=0.9,
    show_default=True,
    help="Confidence level of the reference limit that sets mu = 1 (0.9 = 90% CL).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Workspace JSON file to write (with its sidecar <name>.README.txt next to it); its "
    "directory must exist.",
)
@click.option(
    "--normalisation",
    type=click.Choice(["shared", "tied"]),
    default=None,
    help="Several experiments only: shared = one free coupling mu for every channel with "
    "per-experiment log-normal normsys norm_<experiment>; tied = mu fixed at 1 (the given "
    "coupling) with those and a shared normsys theory, a likelihood for fits (pyhf cls needs "
    "a free POI) [default: shared].",
)
@click.option(
    "--syst",
    default=None,
    help="Several experiments only: the normsys widths, as discriminate --syst ('default', "
    "'none' or NAME=VALUE,... of eot, thickness, efficiency, theory) [default: 'default'].",
)
@force_option
@level_option
@_json_option
@_templates_option
def workspace_cmd(
    model: str,
    mass: float | None,
    mass_scan: bool,
    old_scan: bool,
    experiment: str,
    coupling: float | None,
    observables: str,
    background_file: Path | None,
    flat_background: float | None,
    background_uncertainty: float | None,
    staterror: str,
    no_staterror: bool,
    layout: str,
    cl: float,
    out: Path,
    normalisation: str | None,
    syst: str | None,
    force: bool,
    level: str,
    as_json: bool,
    templates_dir: Path | None,
) -> None:
    """Export the pyhf JSON workspace of one (model, mass, experiment), with a README sidecar.

    The sidecar holds the zero-background note and the meaning of mu = 1.  Without
    --background/--flat-background the experiment's [background] table at --level is used
    (none for ldmx-phase1/2).  With several experiments (--experiment A,B,...): one channel
    per experiment and one shared coupling (darkmoments.stats.combined.combined_workspace),
    truth level, no background.
    """
    from ..models import get_model

    mid = get_model(model).id
    exps = _experiment_set(experiment)
    scan_flag = "--scan" if old_scan and not mass_scan else "--mass-scan"
    mass_scan = mass_scan or old_scan
    single_only = _single_only(level, background_file, flat_background, background_uncertainty)
    combined_only = {"--normalisation": normalisation is not None, "--syst": syst is not None}
    _combined.check_options(exps, {scan_flag: mass_scan, **single_only}, combined_only)
    exp = exps[0]
    lvl = _level(exp, level, templates_dir)
    if mass_scan == (mass is not None):
        raise InputError(f"give either --mass (GeV) or {scan_flag}")
    if mass is not None:
        positive_float("--mass (GeV)", mass)
    if coupling is not None:
        check_coupling(coupling, name="--coupling")
    check_real("--cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    staterror = _staterror_choice(staterror, no_staterror)
    if len(exps) > 1:
        assert mass is not None  # --mass-scan refused above
        combined: dict[str, Any] = {"coupling": coupling, "cl": cl, "syst": syst, "layout": layout}
        combined.update(normalisation=normalisation or "shared", staterror=staterror)
        combined["observables"] = observables
        where: dict[str, Any] = {"as_json": as_json, "directory": _dir(templates_dir)}
        _combined.workspace(mid, mass, exps, combined, (out, force), **where)
        return
    bkg = _background_option(
        background_file,
        flat_background,
        background_uncertainty,
        experiment_has=exp.background_at(lvl) is not None,
    )
    opts: dict[str, Any] = {
        "coupling": coupling,
        "observables": observables,
        "background": bkg,
        "background_uncertainty": background_uncertainty,
        "staterror": staterror,
        "layout": layout,
        "cl": cl,
        "level": lvl,
    }
    if mass_scan:
        _workspace_mass_scan(mid, exp, (out, force), as_json, _dir(templates_dir), opts)
        return
    assert mass is not None  # exactly one of --mass, --mass-scan (checked above)
    _workspace_one(mid, mass, exp, opts, (out, force), as_json, _dir(templates_dir))


def _workspace_one(
    mid: str,
    mass: float,
    exp: Any,
    opts: dict[str, Any],
    out_force: tuple[Path, bool],
    as_json: bool,
    directory: str | None,
) -> None:
    """``workspace --mass M`` of one experiment: the workspace, its README, the summary."""
    from ..stats.workspace import export_workspace, readme_path

    out, force = out_force
    check_output_path(out, option="--out", force=force)
    check_output_path(readme_path(out), option="--out (README sidecar)", force=force)
    res = export_workspace(mid, mass, exp, out=out, directory=directory, **opts)
    summary = res.summary()
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"wrote {out} and {readme_path(out)}: {summary['n_bins']} bins, mu = 1 is "
        f"{summary['n_signal']:.6g} signal events (g = {summary['coupling']:.6g} "
        f"[{summary['coupling_unit']}])"
    )
    for w in [*(() if res.note is None else (res.note,)), *res.warnings]:
        click.echo(f"  note: {w}")


def _workspace_mass_scan(
    mid: str,
    experiment: Any,
    out_force: tuple[Path, bool],
    as_json: bool,
    directory: Any,
    opts: dict[str, Any],
) -> None:
    """``workspace --mass-scan``: background-only workspace + patchset, one patch per mass.

    ``out_force``: (--out, --force); existing files are refused without --force.
    """
    from ..stats.workspace import mass_scan_patchset, patchset_path, write_mass_scan

    out, force = out_force
    check_output_path(out, option="--out", force=force)
    check_output_path(patchset_path(out), option="--out (patchset)", force=force)
    bkg, patchset, infos = mass_scan_patchset(mid, experiment, directory=directory, **opts)
    ws_path, ps_path = write_mass_scan(bkg, patchset, out)
    names = [p["metadata"]["name"] for p in patchset["patches"]]
    if as_json:
        echo_json(
            {
                "out": str(ws_path),
                "patchset": str(ps_path),
                "model": mid,
                "experiment": infos[0]["experiment"],
                "masses": [i["mass"] for i in infos],
                "patches": names,
            }
        )
        return
    click.echo(
        f"wrote {ws_path} (background only) and {ps_path} ({len(names)} patches, "
        f"{names[0]} ... {names[-1]}); e.g. pyhf patchset apply {ws_path} {ps_path} "
        f"--name {names[0]}"
    )


def _staterror_choice(staterror: str, no_staterror: bool) -> str:
    """``--staterror`` with its hidden deprecated alias ``--no-staterror``."""
    if not no_staterror:
        return staterror
    if staterror != "auto":
        raise InputError("give --staterror only (--no-staterror is its deprecated alias)")
    click.echo("darkmoments: warning: --no-staterror is deprecated; use --staterror none", err=True)
    return "none"


def _background_option(
    background_file: Path | None,
    flat_background: float | None,
    uncertainty: float | None,
    *,
    experiment_has: bool = False,
) -> Any:
    """The background of ``workspace``: events per bin, a flat total, or None.

    Events per bin from --background FILE, a flat total from --flat-background, or None (the
    experiment's [background] table if it has one at the level, ``experiment_has``);
    --background-uncertainty checked against it.
    """
    from ..stats.workspace import load_background

    if background_file is not None and flat_background is not None:
        raise InputError("give either --background FILE or --flat-background N, not both")
    bkg: Any = None
    if background_file is not None:
        if not background_file.is_file():
            raise InputError(f"--background {background_file}: no such file")
        try:
            bkg = load_background(background_file)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
            raise InputError(
                f"--background {background_file}: cannot read a background template: {msg}"
            ) from None
    elif flat_background is not None:
        bkg = check_real("--flat-background", flat_background, lo=0.0, unit="events")
    if uncertainty is not None:
        if bkg is None and not experiment_has:
            raise InputError("--background-uncertainty needs --background or --flat-background")
        check_real(
            "--background-uncertainty", uncertainty, lo=0.0, hi=1.0, lo_open=True, hi_open=True
        )
    return bkg


# ----------------------------------------------------------------------------------- reach
@click.command(
    "reach",
    epilog=example(
        "darkmoments reach --model all --experiment ldmx-phase2 --out reach.csv",
        "darkmoments reach --model km --flat-background 5 --background-uncertainty 0.3 --json",
        "darkmoments reach --model km --experiment ldmx-phase1,ldmx-phase2 --json",
    ),
)
@click.option(
    "--model",
    required=True,
    help="Model id (km, md, ed, cr, am), or 'all' for every model.",
)
@_experiment_option
@level_option
@click.option(
    "--cl",
    type=float,
    default=0.9,
    show_default=True,
    help="Confidence level of the exact counting CLs limit (0.9 = 90% CL: 2.303 signal "
    "events without background).",
)
@_background_options
@_json_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file for the table (columns model, mass, coupling, y); its directory must "
    "exist [default: none, nothing is written].",
)
@force_option
@_templates_option
def reach_cmd(
    model: str,
    experiment: str,
    level: str,
    cl: float,
    background_file: str | None,
    flat_background: float | None,
    background_uncertainty: float | None,
    as_json: bool,
    out: Path | None,
    force: bool,
    templates_dir: Path | None,
) -> None:
    """Reach at 90% CL (--cl): coupling limit and y (eq. 3.3) per template mass.

    From the exact counting CLs limit on the totals (2.303 events at 90% CL without
    background, the paper's projection) and the expected yields at --level.  With a
    background b (summed over the bins) the expected limit of the background-only Asimov
    data n = b, its normalisation uncertainty averaged over (docs/physics.md).  With
    several experiments (--experiment A,B,...) the limit on the summed signal of all of
    them, at every grid mass inside every experiment's range (truth level, no background).
    """
    from ..io.atomic import write_csv_atomic
    from ..models import MODEL_IDS, get_model
    from ..stats.inputs import background_total
    from ..stats.limits import event_limit, reach_by_model, reach_table

    cl = check_real("--cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    everything = model.strip().lower() == "all"
    models = list(MODEL_IDS) if everything else [get_model(model).id]
    if out is not None:
        check_output_path(out, option="--out", force=force)
    exps = _experiment_set(experiment)
    if len(exps) > 1:
        _combined.refuse(
            _single_only(level, background_file, flat_background, background_uncertainty), exps
        )
        directory = _dir(templates_dir)
        _combined.reach(models, everything, exps, cl, out, as_json=as_json, directory=directory)
        return
    exp = exps[0]
    lvl = _level(exp, level, templates_dir)
    bkg = _cli_background(exp, lvl, background_file, flat_background, background_uncertainty)
    opts: dict[str, Any] = {"cl": cl, "directory": _dir(templates_dir), "level": lvl}
    table = reach_table(models, exp, background=0.0 if bkg is None else bkg, **opts)
    if out is not None:
        write_csv_atomic(table, out)
    all_rows = reach_by_model(table)
    if as_json:
        echo_json(all_rows if everything else all_rows[models[0]])
        return
    where = "" if lvl == "truth" else " (detector level)"
    if bkg is None or background_total(bkg) == 0:
        click.echo(f"{exp.name}{where}: zero background, {100 * cl:g}% CL")
    else:
        b, u = background_total(bkg), bkg.normalisation_uncertainty
        n_up = event_limit(None, b, cl, background_uncertainty=u)
        unc = f" +- {100 * u:g}%" if u else ""
        click.echo(
            f"{exp.name}{where}: background {b:.6g}{unc} events, expected limit "
            f"{n_up:.6g} signal events at {100 * cl:g}% CL"
        )
    click.echo(f"{'model':>5} {'m_A [GeV]':>12} {'coupling':>14} {'y':>14}")
    for mid, rows in all_rows.items():
        for r in rows:
            click.echo(f"{mid:>5} {r['mass']:12.6g} {r['coupling']:14.6e} {r['y']:14.6e}")
    if out is not None:
        click.echo(f"wrote {out}")


# ------------------------------------------------------------------------------- discovery
@click.command(
    "discovery",
    epilog=example(
        "darkmoments discovery --signal-events 10 --background 3 --n-obs 10 --json",
        "darkmoments discovery --model km --mass 0.1 --coupling 1e-5 --flat-background 5 "
        "--background-uncertainty 0.2",
        "darkmoments discovery --model km --mass 0.1 --coupling 1e-6 --flat-background 2 "
        "--experiment ldmx-phase1,ldmx-phase2",
    ),
)
@click.option(
    "--model",
    default=None,
    help="Model id, with --mass and --coupling [default: none, use --signal-events].",
)
@click.option("--mass", type=float, default=None, help="A' mass in GeV [default: none].")
@click.option(
    "--coupling",
    type=float,
    default=None,
    help="Coupling g_f in the model's units (1, GeV^-1, GeV^-2) [default: none].",
)
@_signal_events_options(False, "Expected signal events, instead of --model/--mass/--coupling")
@functools.partial(_background_options, number_ok=True)
@_experiment_option
@level_option
@click.option(
    "--method",
    type=click.Choice(["exact", "asimov", "toys"]),
    default="exact",
    show_default=True,
    help="exact: Poisson counting; asimov: Cowan et al. eq. 97 (profiled with a background "
    "uncertainty); toys: median of pseudo-experiments.",
)
@click.option(
    "--n-obs",
    type=click.IntRange(min=0),
    default=None,
    help="Observed events, a whole number (--method exact only) [default: the median of "
    "Poisson(s + b), the expected significance].",
)
@click.option(
    "--toys",
    "n_toys",
    type=click.IntRange(min=1),
    default=10000,
    show_default=True,
    help="Pseudo-experiments for --method toys.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed (integer >= 0) for --method toys.",
)
@_json_option
@_templates_option
def discovery_cmd(
    model: str | None,
    mass: float | None,
    coupling: float | None,
    signal_events: float | None,
    events_deprecated: float | None,
    background_file: str | None,
    flat_background: float | None,
    background_uncertainty: float | None,
    experiment: str,
    level: str,
    method: str,
    n_obs: int | None,
    n_toys: int,
    seed: int,
    as_json: bool,
    templates_dir: Path | None,
) -> None:
    """Discovery significance Z of a signal over a background (one-sided counting test).

    The background (> 0 events, summed over the bins) is --flat-background N, a --background
    histogram or the experiment's [background] table at --level.  A deficit, n below the
    background, gives Z = 0.  With several experiments (--experiment A,B,...) the signal is
    the sum of their yields (--model, --mass, --coupling; truth level) and the background
    the total --flat-background N over all of them.
    """
    events = _merge_signal_events(signal_events, events_deprecated, required=False)
    if n_obs is not None and method != "exact":
        raise InputError(
            f"--n-obs is only used by --method exact (--method {method} computes the expected "
            "significance from s + b)"
        )
    opts: dict[str, Any] = {"n_obs": n_obs, "method": method, "n_toys": n_toys, "seed": seed}
    exps = _experiment_set(experiment)
    background = (background_file, flat_background, background_uncertainty)
    signal = (model, mass, coupling, events)
    if len(exps) > 1:
        res, d = _discovery_combined(exps, signal, level, background, opts, templates_dir)
    else:
        res, d = _discovery_single(exps[0], signal, level, background, opts, templates_dir)
    if method == "toys":
        res.update(n_toys=n_toys, seed=seed)
    if as_json:
        echo_json(res)
    else:
        note = " (no excess over the background: one-sided Z = 0)" if d.z == 0 else ""
        unc = res["background_uncertainty"]
        pm = "" if unc is None else f" +- {100 * unc:g}%"
        where = f" ({' + '.join(res['experiments'])})" if "experiments" in res else ""
        click.echo(
            f"Z = {d.z:.4g} (p0 = {d.p0:.4g}, {d.method}) for s = {res['n_signal']:.6g}"
            f"{where}, b = {res['background']:g}{pm}, n = {d.n_obs:g}{note}"
        )


def _discovery_single(
    exp: Any,
    signal: tuple[str | None, float | None, float | None, float | None],
    level: str,
    background: tuple[str | None, float | None, float | None],
    opts: dict[str, Any],
    templates_dir: Path | None,
) -> tuple[dict[str, Any], Any]:
    """``discovery`` with one experiment: (record, Discovery).

    ``signal``: (model, mass, coupling, --signal-events); ``background``: (--background,
    --flat-background, --background-uncertainty).
    """
    from ..stats.discovery import discovery_for, discovery_significance
    from ..stats.inputs import background_total

    model, mass, coupling, events = signal
    lvl = level.lower()
    if lvl == "detector":
        exp.require_detector()
    bkg = _cli_background(exp, lvl, *background, number_ok=True)
    b = background_total(bkg)
    if b <= 0:
        raise InputError(
            "discovery needs a background > 0 events: give --flat-background N or "
            f"--background FILE (experiment {exp.name} has no [background] table at level {lvl})"
        )
    unc = bkg.normalisation_uncertainty or None
    if events is not None:
        if model is not None or mass is not None or coupling is not None:
            raise InputError("give either --signal-events or --model/--mass/--coupling, not both")
        n_sig = events
        d = discovery_significance(n_sig, b, background_uncertainty=unc, **opts)
    else:
        if model is None or mass is None or coupling is None:
            raise InputError("give --signal-events N or all of --model, --mass and --coupling")
        check_coupling(coupling, name="--coupling")
        lvl = _level(exp, lvl, templates_dir)
        n_sig, b, unc, d = discovery_for(
            model,
            mass,
            coupling,
            exp,
            level=lvl,
            background=bkg,
            directory=_dir(templates_dir),
            **opts,
        )
    res = {
        "n_signal": float(n_sig),
        "background": float(b),
        "background_uncertainty": unc,
        **d.to_dict(),
        **_level_record(lvl),
    }
    return res, d


def _discovery_combined(
    exps: tuple[Any, ...],
    signal: tuple[str | None, float | None, float | None, float | None],
    level: str,
    background: tuple[str | None, float | None, float | None],
    opts: dict[str, Any],
    templates_dir: Path | None,
) -> tuple[dict[str, Any], Any]:
    """``discovery --experiment A,B``: the summed yields over the total background."""
    model, mass, coupling, events = signal
    _combined.refuse(
        {"--level detector": level.lower() == "detector", "--signal-events": events is not None},
        exps,
    )
    if model is None or mass is None or coupling is None:
        raise InputError(
            "discovery with several experiments needs --model, --mass and --coupling "
            "(the experiments' yields are summed)"
        )
    positive_float("--mass (GeV)", mass)
    check_coupling(coupling, name="--coupling")
    bkg = _combined.discovery_background(*background)
    return _combined.discovery(
        model, mass, coupling, exps, bkg, opts, directory=_dir(templates_dir)
    )


def _grid_pair(
    true_model: str,
    alt_model: str,
    experiment: Any,
    observables: str,
    directory: str | None,
    level: str = "truth",
) -> tuple[Any, Any]:
    """The shape grids of the true and the alternative model at ``level``."""
    from ..stats.inputs import load_grid_at

    opts: dict[str, Any] = {"level": level, "directory": directory}
    return (
        load_grid_at(true_model, experiment, observables, **opts),
        load_grid_at(alt_model, experiment, observables, **opts),
    )


# ------------------------------------------------------------------------------ degeneracy
@click.command(
    "degeneracy",
    epilog=example(
        "darkmoments degeneracy --true km:1.0 --alt md --observables E,pt --signal-events 100 "
        "--plot deg.png",
        "darkmoments degeneracy --true km:1.0 --alt md --observables E,pt --signal-events 100 "
        "--experiment ldmx-phase1,ldmx-phase2 --statistic ratio --json",
    ),
)
@click.option(
    "--true",
    "true_spec",
    required=True,
    help="True MODEL:MASS, mass in GeV (e.g. km:1.0).",
)
@click.option("--alt", "alt_model", required=True, help="Alternative model id.")
@click.option(
    "--observables",
    type=click.Choice([*_OBS_CHOICES, "all"]),
    default="all",
    show_default=True,
    help="One panel, or 'all' for E, pt and (E, pt) panels.",
)
@_signal_events_options(True, "Expected signal events of the Asimov data")
@_experiment_option
@level_option
@click.option(
    "--points",
    type=click.IntRange(min=2),
    default=60,
    show_default=True,
    help="Masses per axis of the surface (log-spaced over the template range); with several "
    "experiments the alternative masses of the combined curve.",
)
@click.option(
    "--statistic",
    type=click.Choice(["shape", "ratio"]),
    default=None,
    help="Several experiments only: shape = every experiment's normalisation free; ratio = "
    "one free coupling, the model's rate ratios between the experiments (with the default "
    "per-experiment normalisation nuisances) [default: shape].",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Figure file (.png, .pdf, .svg); its directory must exist [default: no figure].",
)
@click.option(
    "--out",
    "out_deprecated",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    hidden=True,
    help="Deprecated alias of --plot.",
)
@force_option
@_json_option
@progress_option
@_templates_option
def degeneracy_cmd(
    true_spec: str,
    alt_model: str,
    observables: str,
    signal_events: float | None,
    events_deprecated: float | None,
    experiment: str,
    level: str,
    points: int,
    statistic: str | None,
    plot: Path | None,
    out_deprecated: Path | None,
    force: bool,
    as_json: bool,
    progress: bool,
    templates_dir: Path | None,
) -> None:
    """-2 Delta lnL of the alternative model vs (true mass, fitted mass); contour figure.

    Asimov data of the true model at --level (truth or detector templates), no background.
    With several experiments (--experiment A,B,...): the combined curve of the alternative's
    masses at the true mass (--points masses, in --json), shape only or with the rate
    ratios between the experiments (--statistic), truth level; no figure.
    """
    import numpy as np

    from ..models import get_model

    true_model, true_mass = parse_model_mass(true_spec)
    alt = get_model(alt_model).id
    events = _merge_signal_events(signal_events, events_deprecated, required=True)
    assert events is not None
    plot = _deprecated_plot(plot, out_deprecated)
    exps = _experiment_set(experiment)
    obs_list = ["E", "pt", "E,pt"] if observables == "all" else [observables]
    if len(exps) > 1:
        plot_flag = "--plot" if out_deprecated is None else "--out"
        _combined.refuse(
            {"--level detector": level.lower() == "detector", plot_flag: plot is not None}, exps
        )
        result = _combined.degeneracy(
            (true_model, true_mass),
            alt,
            exps,
            events,
            obs_list,
            points=points,
            statistic=statistic or "shape",
            directory=_dir(templates_dir),
            progress=progress_enabled(progress),
        )
    else:
        _combined.refuse_combined_only({"--statistic": statistic is not None})
        _check_figure(plot, force=force)
        result = _degeneracy_single(
            (true_model, true_mass), alt, exps[0], events, obs_list, level, points, plot,
            progress=progress, templates_dir=templates_dir,
        )  # fmt: skip
    if as_json:
        echo_json(result)
        return

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.4g}"

    for f in result["fits"]:
        click.echo(
            f"[{f['observables']}] {alt} best fit m = {f['alt_mass']:.4g} GeV "
            f"[{num(f['alt_mass_low'])}, {num(f['alt_mass_high'])}], "
            f"-2 dlnL = {f['delta_2lnL']:.4g} vs {true_model} at {true_mass:g} GeV"
            + (f" ({np.sqrt(max(f['delta_2lnL'], 0.0)):.2f} sigma)" if f["delta_2lnL"] > 0 else "")
        )
    if plot is not None:
        click.echo(f"wrote {plot}")


def _degeneracy_single(
    true: tuple[str, float],
    alt: str,
    exp: Any,
    events: float,
    obs_list: list[str],
    level: str,
    points: int,
    plot: Path | None,
    *,
    progress: bool,
    templates_dir: Path | None,
) -> dict[str, Any]:
    """``degeneracy`` with one experiment: surfaces, fits, the figure; the JSON record."""
    from tqdm.auto import tqdm

    from ..stats.degeneracy import compare_fits, degeneracy_surface

    true_model, true_mass = true
    lvl = _level(exp, level, templates_dir)
    surfaces = []
    fits = []
    for obs in tqdm(
        obs_list,
        desc="degeneracy",
        unit="panel",
        disable=not progress_enabled(progress),
    ):
        gt, ga = _grid_pair(true_model, alt, exp, obs, _dir(templates_dir), lvl)
        gt.check_mass(true_mass)
        surfaces.append(degeneracy_surface(gt, ga, events, points=points))
        fits.append(compare_fits(gt, ga, true_mass, events).summary())
    if plot is not None:
        from ..plotting import plot_degeneracy, save_figure

        with sigterm_as_exit():
            save_figure(plot_degeneracy(surfaces), plot)
    return {
        "true_model": true_model,
        "true_mass": true_mass,
        "alt_model": alt,
        "experiment": exp.name,
        "n_signal": events,
        "fits": fits,
        **_level_record(lvl),
    }


def _deprecated_plot(plot: Path | None, out_deprecated: Path | None) -> Path | None:
    """``degeneracy --plot`` with its hidden deprecated alias ``--out``."""
    if out_deprecated is None:
        return plot
    if plot is not None:
        raise InputError("give --plot only (--out is its deprecated alias here)")
    click.echo("darkmoments: warning: degeneracy --out is deprecated; use --plot", err=True)
    return out_deprecated


# ---------------------------------------------------------------------------- discriminate
@click.command(
    "discriminate",
    epilog=example(
        "darkmoments discriminate --true km:1.0 --alt md --signal-events 50 --toys 1000 "
        "--seed 1 --json",
        "darkmoments discriminate --true km:0.1 --alt md --signal-events 50 --toys 1000 "
        "--experiment ldmx-phase1,ldmx-phase2 --json",
    ),
)
@click.option(
    "--true",
    "true_spec",
    required=True,
    help="True MODEL:MASS, mass in GeV (e.g. km:1.0).",
)
@click.option(
    "--alt",
    "alt_models",
    required=True,
    help="Alternative model id(s), comma separated, or 'all' (every other model).",
)
@_signal_events_options(
    False, "Expected signal events of the true hypothesis, normalisation free (or --relic)"
)
@click.option(
    "--relic",
    is_flag=True,
    help="Instead of --signal-events: tie each model's rate to its relic-target coupling "
    "[default: off].",
)
@click.option(
    "--coupling-factor",
    type=float,
    default=1.0,
    show_default=True,
    help="With --relic: couplings = factor x relic-target coupling (dimensionless).",
)
@click.option(
    "--coupling",
    "couplings",
    default=None,
    help="Instead of --signal-events/--relic: tie each model's rate to a given coupling, "
    "MODEL=G,... in the model's units (km 1, md/ed GeV^-1, cr/am GeV^-2), one for the true "
    "model and every alternative, e.g. km=1e-5,cr=0.05 [default: none].",
)
@click.option(
    "--syst",
    "syst",
    default=None,
    help="Normalisation systematics of tied rates (relative): 'default', 'none' (exactly "
    "tied) or NAME=VALUE,... overriding the defaults eot=0.02,thickness=0.02,"
    "efficiency=0.05,theory=0.1 (docs/physics.md) [default: 'default' with --relic/--coupling].",
)
@click.option(
    "--rate/--no-rate",
    "with_rate",
    default=None,
    help="With --relic/--coupling: report shape only and shape + rate (--rate, the default), "
    "or shape only (--no-rate); --signal-events is always shape only.  Several experiments: "
    "--no-rate reports shape only, the default also ratio (and shape+rate with --relic/"
    "--coupling).",
)
@click.option(
    "--toys",
    "n_toys",
    type=int,
    default=10000,
    show_default=True,
    help="Toys per hypothesis (>= 10).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Root random seed (integer >= 0).",
)
@click.option(
    "--observables",
    type=click.Choice(_OBS_CHOICES),
    default="E,pt",
    show_default=True,
    help="Binned observables (recoil-lepton E and pt, GeV).",
)
@_experiment_option
@level_option
@_background_options
@workers_option
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address, e.g. tcp://host:8786 [default: none, local processes].",
)
@click.option(
    "--chunk-size",
    type=int,
    default=1000,
    show_default=True,
    help="Toys per checkpoint chunk (part of a run's identity for --resume).",
)
@click.option(
    "--p-floor",
    type=float,
    default=P_FLOOR,
    show_default=True,
    help="Floor on template bin probabilities for empty MC bins (dimensionless, in (0, 1e-3)).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Checkpoint DIRECTORY (a directory: the run writes many chunk files), one "
    "sub-directory <true>_vs_<alt> per alternative (several experiments: "
    "<true>_vs_<alt>_<shape|ratio|shape_rate>); created if its parent exists "
    "[default: none, toys kept in memory].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run in --out (same settings) [default: off].",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Figure of the statistic distributions of the first alternative (.png, .pdf, .svg); "
    "its directory must exist [default: no figure].",
)
@click.option(
    "--identity-resamples",
    type=int,
    default=None,
    help="Template resamples (>= 20) of the calibrated shape-identity test behind "
    "p_identity and template_limited (p < 0.01 needs >= 100) [default: 200 with one "
    "experiment; 100 with several, on the grid-node statistic].",
)
@force_option
@_json_option
@progress_option
@_templates_option
def discriminate_cmd(
    true_spec: str,
    alt_models: str,
    signal_events: float | None,
    events_deprecated: float | None,
    relic: bool,
    coupling_factor: float,
    couplings: str | None,
    syst: str | None,
    with_rate: bool | None,
    n_toys: int,
    seed: int,
    observables: str,
    experiment: str,
    level: str,
    background_file: str | None,
    flat_background: float | None,
    background_uncertainty: float | None,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int,
    p_floor: float,
    out_dir: Path | None,
    resume: bool,
    plot: Path | None,
    identity_resamples: int | None,
    force: bool,
    as_json: bool,
    progress: bool,
    templates_dir: Path | None,
) -> None:
    """Model-discrimination toys: p-value and significance for rejecting each alternative.

    With --signal-events the normalisation is free (shape only).  With --relic or --coupling
    each model predicts its rate: both shape only and shape + rate (rates tied, log-normal
    normalisation systematics --syst) are reported, one JSON record each (``statistic``).
    --level detector uses the detector-level templates (shapes and rates).  A background
    (--background FILE, --flat-background N or the experiment's [background] table) is
    expected under both hypotheses, its normalisation (--background-uncertainty) a
    constrained nuisance of every fit.  With several experiments (--experiment A,B,...)
    the combined likelihood (truth level, no background): shape, ratio (one free coupling,
    the rate ratios between the experiments) and, with --relic/--coupling, shape + rate.
    """
    true_model, true_mass = parse_model_mass(true_spec)
    events = _merge_signal_events(signal_events, events_deprecated, required=False)
    positive_float("--coupling-factor", coupling_factor)
    _check_toy_options(n_toys, chunk_size, p_floor)
    if identity_resamples is not None:
        check_int("--identity-resamples", identity_resamples, lo=20)
    if resume and out_dir is None:
        raise InputError("--resume needs --out DIR of the interrupted run")
    n_workers = resolve_workers(workers)
    alts = _alternatives(alt_models, true_model, true_spec)
    exps = _experiment_set(experiment)
    run: dict[str, Any] = {"n_toys": n_toys, "seed": seed, "chunk_size": chunk_size}
    run.update(workers=n_workers, scheduler=scheduler, resume=resume)
    run["progress"] = progress_enabled(progress)
    signal: dict[str, Any] = {"events": events, "relic": relic, "couplings": couplings}
    signal.update(syst=syst, coupling_factor=coupling_factor, with_rate=with_rate)
    signal["p_floor"] = p_floor
    paths = (out_dir, plot, force)
    where: dict[str, Any] = {"as_json": as_json, "observables": observables}
    where["templates_dir"] = templates_dir
    if len(exps) > 1:
        _combined.refuse(
            _single_only(level, background_file, flat_background, background_uncertainty), exps
        )
        _discriminate_combined((true_model, true_mass), alts, exps, signal, run, paths,
                               identity_resamples=identity_resamples, **where)  # fmt: skip
        return
    if identity_resamples is not None:
        run["identity_resamples"] = identity_resamples
    background = (background_file, flat_background, background_uncertainty)
    _discriminate_single((true_model, true_mass), alts, exps[0], signal, run, paths,
                         level=level, background=background, **where)  # fmt: skip


def _discriminate_single(
    true: tuple[str, float],
    alts: list[str],
    exp: Any,
    signal: dict[str, Any],
    run: dict[str, Any],
    paths: tuple[Path | None, Path | None, bool],
    *,
    level: str,
    background: tuple[str | None, float | None, float | None],
    as_json: bool,
    observables: str,
    templates_dir: Path | None,
) -> None:
    """``discriminate`` with one experiment: every alternative, shape only and shape + rate.

    ``signal``, ``run`` and ``paths`` as :func:`_discriminate_combined`; ``background``:
    (--background, --flat-background, --background-uncertainty).
    """
    true_model, true_mass = true
    out_dir, plot, force = paths
    events = signal["events"]
    tie = _rate_tie(
        events, signal["relic"], signal["couplings"], [true_model, *alts], signal["syst"],
        signal["with_rate"],
    )  # fmt: skip
    _check_figure(plot, force=force)
    _check_checkpoint_dir(out_dir)
    lvl = _level(exp, level, templates_dir)
    bkg = _cli_background(exp, lvl, *background)
    opts: dict[str, Any] = {
        "observables": observables,
        "level": lvl,
        "directory": _dir(templates_dir),
        "background": 0.0 if bkg is None else bkg,
    }
    single = {"events": events, "coupling_factor": signal["coupling_factor"], "tie": tie}
    p_floor = signal["p_floor"]
    jobs = [
        (
            f"{true_model}_vs_{alt}",
            _discrimination_setup(true_model, true_mass, alt, exp, opts, p_floor=p_floor, **single),
        )
        for alt in alts
    ]
    with_rate = tie is not None and tie["rate"]
    records = _run_discriminations(jobs, out_dir, plot, with_rate=with_rate, **run)
    context = {"experiment": exp.name, "observables": observables, "seed": int(run["seed"])}
    if as_json:
        extra = {**_level_record(lvl), **_background_record(bkg)}
        echo_json([{**rec, **context, **extra} for rec in records])
        return
    for rec in records:
        _echo_discrimination(rec, tied=tie is not None)


def _discriminate_combined(
    true: tuple[str, float],
    alts: list[str],
    exps: tuple[Any, ...],
    signal: dict[str, Any],
    run: dict[str, Any],
    paths: tuple[Path | None, Path | None, bool],
    *,
    identity_resamples: int | None,
    as_json: bool,
    observables: str,
    templates_dir: Path | None,
) -> None:
    """``discriminate --experiment A,B``: every alternative and statistic, combined.

    ``signal``: events, relic, couplings (text), syst (text), coupling_factor, with_rate,
    p_floor; ``run``: the toy options; ``paths``: (--out, --plot, --force).
    """
    from ..stats.systematics import parse_systematics

    out_dir, plot, force = paths
    statistics = _combined.statistics_of(
        signal["events"], signal["relic"], signal["couplings"], signal["with_rate"]
    )
    if signal["syst"] is not None and statistics == ["shape"]:
        raise InputError(
            "--syst needs a statistic with rates (ratio, shape+rate): with --no-rate only "
            "the shapes are compared and every normalisation is free"
        )
    couplings = signal["couplings"]
    spec = {
        "events": signal["events"],
        "couplings": None if couplings is None else _parse_couplings(couplings, [true[0], *alts]),
        "coupling_factor": signal["coupling_factor"],
        "systematics": None if signal["syst"] is None else parse_systematics(signal["syst"]),
        "observables": observables,
        "p_floor": signal["p_floor"],
        "directory": _dir(templates_dir),
    }
    _check_figure(plot, force=force)
    _check_checkpoint_dir(out_dir)
    records = _combined.discriminate(
        true, alts, exps, statistics, spec, run,
        out_dir=out_dir, plot=plot, identity_resamples=identity_resamples,
    )  # fmt: skip
    if as_json:
        echo_json(
            [{**rec, "observables": observables, "seed": int(run["seed"])} for rec in records]
        )
        return
    for rec in records:
        _combined.echo_discrimination(rec)


def _rate_tie(
    events: float | None,
    relic: bool,
    couplings: str | None,
    models: list[str],
    syst: str | None,
    with_rate: bool | None,
) -> dict[str, Any] | None:
    """How ``discriminate`` ties the rates: None (free, --signal-events) or a dict.

    The dict holds ``couplings`` ({model: g} from --coupling, or None for --relic),
    ``systematics`` (:class:`~darkmoments.stats.systematics.NormalisationSystematics`) and
    ``rate`` (report shape + rate as well as shape only).
    """
    from ..stats.systematics import DEFAULT_SYSTEMATICS, parse_systematics

    given = [events is not None, relic, couplings is not None]
    if sum(given) != 1:
        raise InputError(
            "give exactly one of --signal-events N or --relic or --coupling MODEL=G,..."
        )
    if events is not None:
        for flag, value in (("--syst", syst), ("--rate/--no-rate", with_rate)):
            if value is not None:
                raise InputError(
                    f"{flag} needs tied rates (--relic or --coupling): with --signal-events the "
                    "normalisation is free and the rate carries no information"
                )
        return None
    return {
        "couplings": None if couplings is None else _parse_couplings(couplings, models),
        "systematics": DEFAULT_SYSTEMATICS if syst is None else parse_systematics(syst),
        "rate": with_rate is None or with_rate,
    }


def _parse_couplings(text: str, models: list[str]) -> dict[str, float]:
    """``--coupling km=1e-5,cr=0.05`` as {model id: g}; every model in ``models`` needed."""
    from ..models import get_model

    out: dict[str, float] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--coupling: {item!r} is not MODEL=G (e.g. km=1e-5)")
        model = get_model(name.strip())
        if model.id in out:
            raise InputError(f"--coupling: model {model.id} given twice")
        try:
            g = float(value)
        except ValueError:
            raise InputError(f"--coupling: {item!r}: {value.strip()!r} is not a number") from None
        out[model.id] = check_coupling(g, name=f"--coupling {model.id} ({model.coupling_unit})")
    missing = [m for m in models if m not in out]
    if missing:
        raise InputError(
            f"--coupling: no coupling for model(s) {', '.join(missing)} (give MODEL=G for the "
            "true model and every alternative)"
        )
    return out


def _check_toy_options(n_toys: int, chunk_size: int, p_floor: float) -> None:
    """--toys, --chunk-size and --p-floor of ``discriminate``."""
    from ..stats.toys import MIN_TOYS

    if n_toys < MIN_TOYS:
        raise InputError(
            f"--toys must be >= {MIN_TOYS} (toys per hypothesis; the p-value resolution is "
            f"1/toys), got {n_toys}"
        )
    positive_int("--chunk-size", chunk_size)
    check_real("--p-floor", p_floor, lo=0.0, hi=1e-3, lo_open=True, hi_open=True)


def _alternatives(alt_models: str, true_model: str, true_spec: str) -> list[str]:
    """The model ids of ``--alt`` (comma separated or 'all'), none twice, not the true one."""
    from ..models import MODEL_IDS, get_model

    if alt_models.strip().lower() == "all":
        alts = [m for m in MODEL_IDS if m != true_model]
    else:
        alts = [get_model(a).id for a in alt_models.split(",") if a.strip()]
    if not alts:
        raise InputError("--alt: no alternative model given")
    if true_model in alts:
        raise InputError(
            f"--alt {true_model} is the true model of --true {true_spec}: t = 0 for every toy; "
            "choose another alternative"
        )
    if len(set(alts)) != len(alts):
        raise InputError(f"--alt {alt_models}: a model is given twice")
    return alts


def _check_checkpoint_dir(out_dir: Path | None) -> None:
    """``discriminate --out DIR``: a directory (or nothing yet) whose parent exists."""
    if out_dir is None:
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputPathError(f"--out {out_dir} exists and is not a directory")
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(
            f"--out {out_dir}: directory {parent} does not exist (create it first)"
        )


def _discrimination_setup(
    true_model: str,
    true_mass: float,
    alt: str,
    experiment: Any,
    opts: dict[str, Any],
    *,
    events: float | None,
    coupling_factor: float,
    p_floor: float,
    tie: dict[str, Any] | None,
) -> Any:
    """The :func:`~darkmoments.stats.rate.discrimination_setup` of one alternative.

    Free normalisation at ``events`` signal events (``tie`` None), or rates tied to the given
    couplings (``tie["couplings"]``) or to the relic targets times ``coupling_factor``, with
    ``tie["systematics"]``; ``opts``: observables, level, directory.
    """
    from ..stats.rate import discrimination_setup

    if tie is None:
        assert events is not None  # _rate_tie gives None only with --signal-events
        return discrimination_setup(
            true_model, true_mass, alt, experiment, n_events=events, p_floor=p_floor, **opts
        )
    return discrimination_setup(
        true_model,
        true_mass,
        alt,
        experiment,
        couplings=tie["couplings"],
        relic=tie["couplings"] is None,
        coupling_factor=coupling_factor,
        systematics=tie["systematics"],
        p_floor=p_floor,
        **opts,
    )


def _run_discriminations(
    named_setups: list[tuple[str, Any]],
    out_dir: Path | None,
    plot: Path | None,
    *,
    with_rate: bool,
    **options: Any,
) -> list[dict[str, Any]]:
    """The discrimination records of every (name, setup), shape only or shape + rate too.

    Free setups run :func:`~darkmoments.stats.toys.run_discrimination` with the checkpoint in
    ``out_dir/<name>``; tied setups with ``with_rate`` run
    :func:`~darkmoments.stats.rate.discriminate_shape_and_rate` (shape only in
    ``out_dir/<name>_shape``, shape + rate in ``out_dir/<name>``), without it the shape-only
    run alone.  Then the figure of the first (shape + rate if run) is drawn; SIGTERM ends it
    like SIGINT (temporary files removed, workers stopped).
    """
    from ..stats.rate import SHAPE, discriminate_shape_and_rate, shape_only
    from ..stats.toys import run_discrimination

    records: list[dict[str, Any]] = []
    first = None
    with sigterm_as_exit():
        if out_dir is not None:
            out_dir.mkdir(exist_ok=True)
        for name, setup in named_setups:
            run_dir = None if out_dir is None else out_dir / name
            shape_dir = None if out_dir is None else out_dir / f"{name}_shape"
            if setup.rates_true is not None and with_rate:
                both = discriminate_shape_and_rate(setup, out_dirs=(shape_dir, run_dir), **options)
                records.extend(both.records())
                first = first or both.shape_rate
                continue
            if setup.rates_true is not None:  # tied, but only the shape reported
                setup, run_dir = shape_only(setup), shape_dir
            r = run_discrimination(setup, out_dir=run_dir, **options)
            records.append({**r.summary(), "statistic": SHAPE, "systematics": None})
            first = first or r
        if plot is not None:
            from ..plotting import plot_discrimination, save_figure

            assert first is not None  # one setup per --alt model, at least one (_alternatives)
            save_figure(plot_discrimination(first), plot)
    return records


def _echo_discrimination(rec: dict[str, Any], *, tied: bool) -> None:
    """The text report of one discrimination record (:func:`_run_discriminations`)."""
    bound = ">=" if rec["z_is_bound"] else "="
    n3 = "-" if rec["n_3sigma"] is None else f"{rec['n_3sigma']:.4g}"
    n5 = "-" if rec["n_5sigma"] is None else f"{rec['n_5sigma']:.4g}"
    label = ""
    if tied:
        syst = rec["systematics"]
        width = "" if syst is None else f", sigma_rel = {syst['sigma_rel']:.3g}"
        label = f" [{rec['statistic']}{width}]"
    click.echo(
        f"{rec['true_model']}@{rec['true_mass']:g} vs {rec['alt_model']}{label} (best m = "
        f"{rec['alt_mass']:.4g} GeV): N = {rec['n_signal']:g}, p = {rec['p_value']:.3g}, "
        f"Z {bound} {rec['z']:.3f} (Asimov {rec['z_asimov']:.3f}); N(3 sigma) = {n3}, "
        f"N(5 sigma) = {n5}"
    )
    echo_discrimination_checks(rec)


#: The statistics commands, for ``main.add_command`` in :mod:`darkmoments.cli`.
COMMANDS: tuple[click.Command, ...] = (
    workspace_cmd,
    reach_cmd,
    discovery_cmd,
    degeneracy_cmd,
    discriminate_cmd,
)
