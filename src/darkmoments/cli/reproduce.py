"""``darkmoments reproduce``: the paper's figures and ours, with a report (one command)."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import example, resolve_workers, workers_option

__all__ = ["reproduce_cmd"]

DEFAULT_OUT = Path("out/reproduce")


@click.command(
    "reproduce",
    epilog=example(
        "darkmoments reproduce --out out/repro --workers 2",
        "darkmoments reproduce --fast --out /tmp/repro --only fig1,fig5_2d",
        "darkmoments reproduce --out out/repro --figures-dir docs/figures",
    ),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory (default out/reproduce, created); a given DIR is "
    "created if its parent exists.",
)
@click.option("--fast", is_flag=True, help="Smoke-test sizes: the same files in under 2 minutes.")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Base seed of every random number.",
)
@workers_option
@click.option(
    "--only",
    default=None,
    metavar="NAMES",
    help="Comma-separated jobs or figures (e.g. fig1,fig5_2d,degeneracy).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Discard the checkpoint of an earlier run in --out; recompute all.",
)
@click.option(
    "--figures-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Existing directory to copy the PNGs into (e.g. docs/figures).",
)
def reproduce_cmd(
    out: Path | None,
    fast: bool,
    seed: int,
    workers: int | None,
    only: str | None,
    restart: bool,
    figures_dir: Path | None,
) -> None:
    """Write every paper figure and ours as PNG, PDF and CSV, with a report.

    Files fig1_* ... fig6_* (the paper's figures) and ours, each as PNG, PDF and the CSV
    behind it, and report.md / report.html with one paragraph per figure.

    Resumable: a rerun keeps the figures already made (files checked against their
    SHA-256) and makes the rest; a run with other settings in the same --out is refused
    (--restart).  Full run under 10 minutes on 2 cores (--workers 2).
    """
    from ..figures import reproduce

    res = reproduce(
        DEFAULT_OUT if out is None else out,
        fast=fast,
        seed=seed,
        workers=resolve_workers(workers),
        only=only,
        restart=restart,
        figures_dir=figures_dir,
        create_parents=out is None,
    )
    click.echo(
        f"{len(res['figures'])} figures in {res['out']} (made: {', '.join(res['made']) or 'none'};"
        f" kept: {', '.join(res['kept']) or 'none'}) in {res['seconds']:.0f} s"
    )
    click.echo(f"report: {res['report']} and report.html")
