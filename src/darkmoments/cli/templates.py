"""``darkmoments templates build|list|export`` and ``darkmoments yield``.

Thin click wrappers over :mod:`darkmoments.templates` (build, catalogue, signal yields) and
:mod:`darkmoments.experiments` (setups).
Vocabulary (:mod:`darkmoments.cli._common`): ``--templates DIR`` is the template directory
(``--dir`` is a hidden, deprecated alias), ``--model``/``--mass`` select templates
(comma-separated lists where several are taken; ``--models``/``--masses`` are hidden
aliases, accepted silently), ``--out DIR`` the directory a build writes ``<experiment>.h5`` into,
``--json`` prints one JSON document, progress bars are drawn only when stderr is a terminal.

The commands are defined here as standalone click objects (``templates_group``,
``yield_command``) and attached to the root group with ``add_command``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import InputError
from ._common import (
    deprecated_alias,
    echo_json,
    example,
    force_option,
    progress_enabled,
    progress_option,
    resolve_workers,
    workers_option,
)

_F = TypeVar("_F", bound=Callable[..., Any])  # a click command function

__all__ = ["level_option", "templates_group", "yield_command"]


def level_option(f: _F) -> _F:
    """``--level truth|detector`` (default truth, the paper's level) for template readers.

    ``detector`` reads ``<experiment>.detector.h5``: templates after the target, the tracker,
    the acceptance and the experiment's detector-level selection (docs/detector.md).

    Examples
    --------
    >>> import click
    >>> from click.testing import CliRunner
    >>> from darkmoments.cli.templates import level_option
    >>> show = click.command("show")(level_option(lambda level: click.echo(level)))
    >>> CliRunner().invoke(show, ["--level", "detector"]).output.strip()
    'detector'
    >>> CliRunner().invoke(show, []).output.strip()  # the default, the paper's level
    'truth'
    """
    return click.option(
        "--level",
        type=click.Choice(["truth", "detector"], case_sensitive=False),
        default="truth",
        show_default=True,
        help="Template level: truth (the recoil at the vertex, as the paper) or detector "
        "(after target, tracker, acceptance and the detector-level selection).",
    )(f)


def _split(text: str | None) -> list[str]:
    if not text:
        return []
    return [x.strip() for x in text.split(",") if x.strip()]


def _parse_masses(text: str | None, option: str = "--mass") -> list[float] | None:
    if text is None:
        return None
    items = _split(text)
    if not items:
        raise InputError(f"{option} must be a comma-separated list of masses in GeV, got {text!r}")
    out = []
    for x in items:
        try:
            v = float(x)
        except ValueError:
            v = float("nan")
        if not (v > 0 and v < float("inf")):
            raise InputError(
                f"{option} must be a comma-separated list of masses > 0 in GeV, got {x!r}"
            )
        out.append(v)
    return out


def _template_dir(templates_dir: str | None, old_dir: str | None) -> str | None:
    """``--templates`` with the deprecated ``--dir`` alias (both: they must agree)."""
    return deprecated_alias("--templates", templates_dir, "--dir", old_dir)[0]


def _selection_options(models_default: str, masses_default: str) -> Callable[[_F], _F]:
    """``--model`` and ``--mass`` lists (hidden, deprecated ``--models``, ``--masses``)."""

    def decorate(f: _F) -> _F:
        for name, dest, text in (
            ("--masses", "old_masses", "Deprecated alias of --mass."),
            ("--models", "old_models", "Deprecated alias of --model."),
        ):
            f = click.option(name, dest, default=None, hidden=True, help=text)(f)
        f = click.option(
            "--mass",
            "masses",
            default=None,
            help=f"A' mass(es) in GeV, comma-separated [default: {masses_default}].",
        )(f)
        return click.option(
            "--model",
            "models",
            default=None,
            help=f"Model id(s), comma-separated, or 'all' [default: {models_default}].",
        )(f)

    return decorate


def _selection(
    models: str | None, old_models: str | None, masses: str | None, old_masses: str | None
) -> tuple[list[str] | None, list[float] | None]:
    """(model ids or None for all, masses in GeV or None for the grid) of the options."""
    text, option = deprecated_alias("--model", models, "--models", old_models, notice=False)
    if text is not None and not _split(text):
        raise InputError(f"{option} must be a comma-separated list of model ids, got {text!r}")
    mids = None if text is None or text.strip().lower() == "all" else _split(text)
    mass_text, mass_option = deprecated_alias(
        "--mass", masses, "--masses", old_masses, notice=False
    )
    return mids, _parse_masses(mass_text, mass_option)


def _templates_options(f: _F) -> _F:
    f = click.option(
        "--dir", "old_dir", default=None, hidden=True, help="Deprecated alias of --templates."
    )(f)
    return click.option(
        "--templates",
        "templates_dir",
        default=None,
        metavar="DIR",
        help="Template directory holding <experiment>.h5 (default: the shipped templates).",
    )(f)


@click.group(
    "templates",
    epilog=example(
        "darkmoments templates list",
        "darkmoments templates build --experiment ldmx-phase2 --model km --mass 0.1 "
        "--events 1000 --out mytemplates",
    ),
)
def templates_group() -> None:
    """Build and list the (E, p_T) signal templates."""


@templates_group.command(
    "build",
    epilog=example(
        "darkmoments templates build --experiment ldmx-phase2 --model km,md --mass 0.05,0.1 "
        "--events 2000 --workers 2 --out mytemplates"
    ),
)
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Experiment name or TOML file (repeatable; default: ldmx-phase1 and ldmx-phase2).",
)
@_selection_options("all: km,md,ed,cr,am", "the experiment's grid, 40 masses")
@click.option(
    "--events",
    "n_events",
    type=int,
    default=None,
    help="Unweighted MC events per template (default: 1000000, as the shipped truth templates).",
)
@workers_option
@click.option(
    "--scheduler", default=None, help="dask.distributed scheduler address (default: none)."
)
@click.option(
    "--out",
    "out",
    default=None,
    metavar="DIR",
    help="Directory for the <experiment>.h5 files (required; created if missing, its parent "
    "must exist).  May be the shipped templates/ directory when named explicitly.",
)
@click.option(
    "--update-shipped",
    is_flag=True,
    help="Without --out: rebuild the shipped templates in place (default: refused).",
)
@click.option(
    "--seed",
    "base_seed",
    type=int,
    default=None,
    help="Base seed of the grid, an integer >= 0 (default: 20250904).",
)
@progress_option
@level_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build_command(
    experiments: tuple[str, ...],
    models: str | None,
    masses: str | None,
    old_models: str | None,
    old_masses: str | None,
    n_events: int | None,
    workers: int | None,
    scheduler: str | None,
    out: str | None,
    update_shipped: bool,
    base_seed: int | None,
    progress: bool,
    level: str,
    as_json: bool,
) -> None:
    """Generate templates (resumable: completed templates are skipped).

    An interrupted build continues where it stopped.  Every job is validated before anything
    is written.  ``--level detector`` writes <experiment>.detector.h5 (experiments with a
    [detector] table only).
    """
    from .. import templates
    from ..experiments import EXPERIMENTS, get_experiment
    from ..validation import check_int

    out_dir = templates.build_output_directory(out, update_shipped=update_shipped)
    exps = [get_experiment(e) for e in (experiments or tuple(EXPERIMENTS))]
    mids, mass_values = _selection(models, old_models, masses, old_masses)
    n = check_int("--events", templates.DEFAULT_N_EVENTS if n_events is None else n_events, lo=1)
    w = resolve_workers(workers)
    seed = check_int(
        "--seed", templates.DEFAULT_BASE_SEED if base_seed is None else base_seed, lo=0
    )
    # every job of every experiment is validated before the first one starts
    plans = [
        templates.plan_grid(exp, mids, mass_values, n, base_seed=seed, level=level.lower())
        for exp in exps
    ]
    if templates.is_shipped_directory(out_dir) and not as_json:
        click.echo(f"darkmoments: writing into the shipped template directory {out_dir}", err=True)
    rows: list[dict[str, Any]] = []
    for plan in plans:
        rep = templates.build_grid(
            plan,
            out=out_dir,
            workers=w,
            scheduler=scheduler,
            progress=progress_enabled(progress),
        )
        rows.append(
            {
                "experiment": rep.experiment,
                "level": plan.level,
                "path": str(rep.path),
                "built": rep.built,
                "skipped": rep.skipped,
                "resumed": rep.resumed,
                "seconds": round(rep.seconds, 2),
            }
        )
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['experiment']}: built {r['built']}, skipped {r['skipped']} "
            f"in {r['seconds']} s -> {r['path']}"
        )


@templates_group.command(
    "list", epilog=example("darkmoments templates list", "darkmoments templates list --json")
)
@_templates_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
def list_command(templates_dir: str | None, old_dir: str | None, as_json: bool) -> None:
    """Show which templates are available (experiment, model, mass range in GeV)."""
    from .. import templates

    directory = _template_dir(templates_dir, old_dir)
    if directory is not None and not os.path.isdir(directory):
        raise InputError(f"--templates {directory}: no such directory")
    rows = templates.catalogue(directory)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        where = directory or str(templates.default_directory())
        click.echo(f"no templates in {where}")
        return
    click.echo(
        f"{'experiment':<14} {'level':<8} {'model':<5} {'masses':>6} {'m_min [GeV]':>12} "
        f"{'m_max [GeV]':>12} {'file':<28} {'MB':>7}"
    )
    for r in rows:
        click.echo(
            f"{r['experiment']:<14} {r['level']:<8} {r['model']:<5} {r['n_masses']:>6} "
            f"{r['m_min']:>12.4g} {r['m_max']:>12.4g} {r['file']:<28} {r['size_mb']:>7.2f}"
        )


@click.command(
    "yield",
    epilog=example(
        "darkmoments yield --model km --mass 0.1 --experiment ldmx-phase2 --coupling 1e-5 --json"
    ),
)
@click.option("--model", required=True, help="Model id: km md ed cr am.")
@click.option(
    "--mass", type=float, required=True, help="A' mass in GeV (inside the template grid)."
)
@click.option(
    "--coupling",
    type=float,
    required=True,
    help="g_f in the model's units (1, GeV^-1, GeV^-2), a finite number > 0.",
)
@click.option(
    "--experiment",
    default="ldmx-phase2",
    show_default=True,
    help="Experiment name or TOML file.",
)
@_templates_options
@level_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def yield_command(
    model: str,
    mass: float,
    coupling: float,
    experiment: str,
    templates_dir: str | None,
    old_dir: str | None,
    level: str,
    as_json: bool,
) -> None:
    """Expected signal events N_sig and its error (MC and mass interpolation), in events."""
    from ..templates import signal_yield
    from ..validation import check_real

    check_real("--mass", mass, lo=0.0, lo_open=True, unit="GeV")
    check_real("--coupling", coupling, lo=0.0, lo_open=True)
    directory = _template_dir(templates_dir, old_dir)
    y = signal_yield(model, mass, coupling, experiment, directory=directory, level=level.lower())
    if as_json:
        extra = {"level": "detector"} if level.lower() == "detector" else {}
        echo_json({**y.to_dict(), **extra})
        return
    click.echo(f"n_signal = {y.n_signal:.6g} +- {y.error:.2g} events")


@templates_group.command(
    "export",
    epilog=example(
        "darkmoments templates export --format root --model km --mass 0.01,0.1 --out templates.root"
    ),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["root"]),
    required=True,
    help="Output format: root = one TH2D per template (uproot, extra 'root').",
)
@click.option(
    "--experiment", default="ldmx-phase2", show_default=True, help="Experiment name or TOML file."
)
@_selection_options("all in the file", "every grid mass; off-grid masses are interpolated")
@_templates_options
@level_option
@click.option(
    "--out", required=True, metavar="FILE", help="Output .root file; its directory must exist."
)
@force_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def export_command(
    fmt: str,
    experiment: str,
    models: str | None,
    masses: str | None,
    old_models: str | None,
    old_masses: str | None,
    templates_dir: str | None,
    old_dir: str | None,
    level: str,
    out: str,
    force: bool,
    as_json: bool,
) -> None:
    """Export templates: TH2D histograms (E, p_T in GeV) named <model>/mA_<mass>.

    Each holds the unit-sum shape with its MC variances (fSumw2); the TObjString ``metadata``
    (JSON) lists every template's model, mass, sigma_pb, sigma_err_pb and metadata.
    """
    from ..experiments import get_experiment
    from ..io.root import write_hists_root
    from ..models import get_model
    from ..templates import TemplateLibrary
    from ._common import check_output_path

    if fmt != "root":  # pragma: no cover - click.Choice
        raise InputError(f"--format must be root, got {fmt!r}")
    path = check_output_path(out, option="--out", force=force)
    if not path.name.endswith(".root"):
        raise InputError(f"--out {out}: a ROOT file must end in .root")
    directory = _template_dir(templates_dir, old_dir)
    if directory is not None and not os.path.isdir(directory):
        raise InputError(f"--templates {directory}: no such directory")
    exp = get_experiment(experiment)
    lib = TemplateLibrary(directory)
    lvl = level.lower()
    selected, wanted = _selection(models, old_models, masses, old_masses)
    mids = [get_model(m).id for m in selected or []] or [
        r["model"]
        for r in lib.catalogue()
        if r["experiment"] == exp.name and r.get("level", "truth") == lvl
    ]
    if not mids:
        raise InputError(f"no {lvl}-level templates of {exp.name} in {lib.directory}")
    hists: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for mid in mids:
        grid = wanted if wanted is not None else lib.masses(mid, exp, level=lvl)
        for m in [float(x) for x in grid]:
            t = lib.load(mid, m, exp, level=lvl)
            name = f"{t.model}/mA_{m:.6g}"
            hists[name] = t.to_hist()
            rows.append(
                {
                    "name": name,
                    "model": t.model,
                    "mass": float(m),
                    "sigma_pb": t.sigma_pb,
                    "sigma_err_pb": t.sigma_err_pb,
                    "metadata": t.metadata,
                }
            )
    meta = {"experiment": exp.name, "level": lvl,
            "units": {"E": "GeV", "pt": "GeV", "sigma_pb": "pb"}, "templates": rows}  # fmt: skip
    write_hists_root(hists, path, metadata=meta)
    summary = {
        "out": str(path),
        "format": fmt,
        "experiment": exp.name,
        "level": lvl,
        "n_templates": len(rows),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(f"wrote {len(rows)} templates ({', '.join(mids)}) of {exp.name} to {path}")
