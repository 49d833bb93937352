"""``darkmoments library``: a G4DarkBreM event library (ldmx-sw's dark-brem simulation).

A thin wrapper over :mod:`darkmoments.library`: every option is validated (energies above the
production threshold included) before anything runs; the library directory
``--out/<name>`` appears only when complete, with ``xsec.json`` and ``xsec.tsv``
(sigma(E_incident), pb, with MC errors).  Defaults and names follow dark-brem-lib-gen.  JSON
keys (``--json``): ``library`` (directory), ``model``, ``mass`` (GeV), ``lepton``, ``target``,
``format``, ``energies`` (GeV), ``n_events`` (per energy), ``seed``, ``aprime_pdg_id``,
``resumed``, ``xsec`` (path of the JSON table).
"""

from __future__ import annotations

import click

from ..validation import check_int
from ._common import (
    echo_json,
    example,
    progress_enabled,
    progress_option,
    resolve_workers,
    workers_option,
)

__all__ = ["library_cmd"]


@click.command(
    "library",
    epilog=example(
        "mkdir -p libs",
        "darkmoments library --model md --mass 0.1 --max-energy 8 --min-energy 2 --step 0.5 "
        "--events-per-energy 20000 --out libs/",
    ),
)
@click.option("--model", required=True, help="Model: km, md, ed, cr or am.  Required.")
@click.option("--mass", type=float, required=True, help="A' mass [GeV].  Required, no default.")
@click.option("--lepton", default="e", show_default=True, help="Incident lepton: e or mu.")
@click.option("--target", default="W", show_default=True, help="Target: W, Pb, Cu, Fe, Al or C.")
@click.option(
    "--max-energy",
    type=float,
    default=8.0,
    show_default=True,
    help="Highest incident energy [GeV] (dark-brem-lib-gen's default).",
)
@click.option(
    "--min-energy",
    type=float,
    default=None,
    help="Lowest incident energy [GeV].  [default: half of --max-energy]",
)
@click.option(
    "--step",
    type=float,
    default=None,
    help="Absolute energy step [GeV]: max, max - step, ... down to --min-energy.  "
    "[default: relative steps, --rel-step]",
)
@click.option(
    "--rel-step",
    type=float,
    default=None,
    help="Relative energy step in (0, 1), dark-brem-lib-gen's ladder E <- round(E (1 - "
    "rel), 3).  [default: 0.1; exclusive with --step]",
)
@click.option(
    "--events-per-energy",
    type=int,
    default=20_000,
    show_default=True,
    help="Unweighted events per incident energy.",
)
@click.option(
    "--seed",
    type=int,
    default=3000,
    show_default=True,
    help="Seed, an integer >= 0 (dark-brem-lib-gen's --run); each energy gets its own seed "
    "from SeedSequence(seed).spawn.",
)
@click.option(
    "--coupling",
    type=float,
    default=1.0,
    show_default=True,
    help="g_f (model units) for the cross-section table (sigma ~ g_f^2; the kinematics do "
    "not depend on it).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["lhe", "csv"]),
    default="lhe",
    show_default=True,
    help="lhe: one .lhe.gz per energy; csv: G4DarkBreM's 10-column CSV per energy.",
)
@click.option(
    "--csv-units",
    type=click.Choice(["GeV", "MeV"]),
    default="GeV",
    show_default=True,
    help="Units of the CSV columns.  G4DarkBreM's model reads library numbers as GeV (its "
    "parse::csv comment says MeV; see docs/cli.md).",
)
@click.option(
    "--aprime-id",
    type=int,
    default=622,
    show_default=True,
    help="PDG id of the A' in the LHE files (G4DarkBreM's aprime_lhe_id).",
)
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    help="Existing directory that receives the library directory <name> (never created).",
)
@click.option("--force", is_flag=True, help="Replace an existing library of the same name.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same library.")
@workers_option
@click.option("--scheduler", default=None, help="dask.distributed scheduler address.")
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def library_cmd(
    model: str,
    mass: float,
    lepton: str,
    target: str,
    max_energy: float,
    min_energy: float | None,
    step: float | None,
    rel_step: float | None,
    events_per_energy: int,
    seed: int,
    coupling: float,
    fmt: str,
    csv_units: str,
    aprime_id: int,
    out: str,
    force: bool,
    resume: bool,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Write a G4DarkBreM event library: one event file per incident energy, plus sigma(E).

    Point ldmx-sw's dark-brem configuration (``dark_brem.library_path``) at the printed
    library directory.  Resumable (--resume), parallel (--workers, --scheduler),
    deterministic per --seed.
    """
    from ..library import build_library, check_library_output, plan_library

    plan = plan_library(
        model,
        mass,
        lepton=lepton,
        target=target,
        max_energy=max_energy,
        min_energy=min_energy,
        rel_step=rel_step,
        step=step,
        n_events=check_int("--events-per-energy", events_per_energy, lo=1),
        seed=check_int("--seed", seed, lo=0),
        coupling=coupling,
        fmt=fmt,
        csv_units=csv_units,
        aprime_id=aprime_id,
    )
    check_library_output(out, plan.name, force=force)
    w = resolve_workers(workers)
    res = build_library(
        plan,
        out,
        resume=resume,
        force=force,
        workers=w,
        scheduler=scheduler,
        progress=progress_enabled(progress),
    )
    if as_json:
        echo_json(res.summary)
        return
    click.echo(
        f"wrote {len(res.files)} energies ({', '.join(f'{e:g}' for e in plan.energies)} GeV), "
        f"{plan.n_events} events each, to {res.directory}"
    )
    click.echo(f"sigma(E_incident) [pb]: {res.directory / 'xsec.tsv'}")
