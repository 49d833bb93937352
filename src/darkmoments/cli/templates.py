"""``darkmoments templates build|list`` and ``darkmoments yield``.

Thin click wrappers over :mod:`darkmoments.templates` and :mod:`darkmoments.experiments`.
"""

from __future__ import annotations

import os
from typing import Any

import click

from . import main
from ._common import echo_json, positive_float, positive_int

__all__ = ["templates_group", "yield_command"]


def _split(text: str | None) -> list[str]:
    if not text:
        return []
    return [x.strip() for x in text.split(",") if x.strip()]


def _parse_masses(text: str | None) -> list[float] | None:
    items = _split(text)
    if not items:
        return None
    out = []
    for x in items:
        try:
            out.append(positive_float("mass", float(x)))
        except ValueError:
            raise ValueError(
                f"--masses must be a comma-separated list of masses > 0 in GeV, got {x!r}"
            ) from None
    return out


@main.group("templates")
def templates_group() -> None:
    """Build and list the (E, p_T) signal templates."""


@templates_group.command("build")
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Experiment name or TOML file (repeatable; default: ldmx-phase1 and ldmx-phase2).",
)
@click.option("--models", default=None, help="Comma-separated model ids (default: all five).")
@click.option(
    "--masses", default=None, help="Comma-separated A' masses in GeV (default: the grid)."
)
@click.option("--events", "n_events", type=int, default=None, help="Events per template.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Local processes (default: number of CPUs; 1 = serial).",
)
@click.option("--scheduler", default=None, help="dask.distributed scheduler address.")
@click.option("--out", "out", default=None, help="Output directory (default: shipped templates).")
@click.option("--seed", "base_seed", type=int, default=None, help="Base seed of the grid.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build_command(
    experiments: tuple[str, ...],
    models: str | None,
    masses: str | None,
    n_events: int | None,
    workers: int | None,
    scheduler: str | None,
    out: str | None,
    base_seed: int | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Regenerate templates (resumable: completed templates are skipped)."""
    from .. import templates
    from ..experiments import EXPERIMENTS, get_experiment

    exps = [get_experiment(e) for e in (experiments or tuple(EXPERIMENTS))]
    mids = _split(models) or None
    mass_values = _parse_masses(masses)
    n = positive_int("--events", templates.DEFAULT_N_EVENTS if n_events is None else n_events)
    w = positive_int("--workers", (os.cpu_count() or 1) if workers is None else workers)
    seed = templates.DEFAULT_BASE_SEED if base_seed is None else base_seed
    if seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {seed}")
    rows: list[dict[str, Any]] = []
    for exp in exps:
        rep = templates.build_grid(
            exp,
            mids,
            mass_values,
            n,
            out=out,
            workers=w,
            scheduler=scheduler,
            base_seed=seed,
            progress=progress,
        )
        rows.append(
            {
                "experiment": rep.experiment,
                "path": str(rep.path),
                "built": rep.built,
                "skipped": rep.skipped,
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


@templates_group.command("list")
@click.option("--dir", "directory", default=None, help="Template directory (default: shipped).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
def list_command(directory: str | None, as_json: bool) -> None:
    """Show which templates are available (experiment, model, mass range)."""
    from .. import templates

    rows = templates.catalogue(directory)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        where = directory or str(templates.default_directory())
        click.echo(f"no templates in {where}")
        return
    click.echo(
        f"{'experiment':<14} {'model':<5} {'masses':>6} {'m_min [GeV]':>12} "
        f"{'m_max [GeV]':>12} {'file':<20} {'MB':>7}"
    )
    for r in rows:
        click.echo(
            f"{r['experiment']:<14} {r['model']:<5} {r['n_masses']:>6} {r['m_min']:>12.4g} "
            f"{r['m_max']:>12.4g} {r['file']:<20} {r['size_mb']:>7.2f}"
        )


@main.command("yield")
@click.option("--model", required=True, help="Model id: km md ed cr am.")
@click.option("--mass", type=float, required=True, help="A' mass in GeV.")
@click.option("--coupling", type=float, required=True, help="g_f in the model's units.")
@click.option("--experiment", default="ldmx-phase2", help="Experiment name or TOML file.")
@click.option("--dir", "directory", default=None, help="Template directory (default: shipped).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def yield_command(
    model: str,
    mass: float,
    coupling: float,
    experiment: str,
    directory: str | None,
    as_json: bool,
) -> None:
    """Expected signal events N_sig and its MC error."""
    from ..experiments import signal_yield

    positive_float("--mass", mass)
    y = signal_yield(model, mass, coupling, experiment, directory=directory)
    if as_json:
        echo_json(y.to_dict())
        return
    click.echo(f"n_signal = {y.n_signal:.6g} +- {y.error:.2g} events")
