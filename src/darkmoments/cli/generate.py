"""``darkmoments xsec`` and ``darkmoments generate``: thin wrappers over the generator."""

from __future__ import annotations

import math
import sys

import click

from ..generator import cross_section, generate
from . import main
from ..validation import check_int
from ._common import echo_json, positive_int

__all__ = ["generate_cmd", "xsec_cmd"]

_EVENT_SUFFIXES = (".parquet", ".csv", ".lhe", ".lhe.gz")


def _process_options(f):
    f = click.option(
        "--inelastic/--no-inelastic",
        default=True,
        show_default=True,
        help="Include the inelastic nuclear form factor.",
    )(f)
    f = click.option("--lepton", default="e", show_default=True, help="Beam lepton: e or mu.")(f)
    f = click.option(
        "--target", default="W", show_default=True, help="Target material: W, Pb, Cu, Fe, Al, C."
    )(f)
    f = click.option(
        "--coupling",
        type=float,
        default=1.0,
        show_default=True,
        help="g_f in the model's units (1, GeV^-1, GeV^-2).",
    )(f)
    f = click.option("--beam-energy", type=float, required=True, help="Beam energy [GeV].")(f)
    f = click.option("--mass", type=float, required=True, help="A' mass [GeV].")(f)
    f = click.option("--model", required=True, help="km, md, ed, cr or am.")(f)
    return f


@main.command("xsec")
@_process_options
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same result).")
@click.option(
    "--rtol", type=float, default=0.01, show_default=True, help="Target relative MC uncertainty."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def xsec_cmd(model, mass, beam_energy, coupling, target, lepton, inelastic, seed, rtol, as_json):
    """Total cross section of l N -> l N A' in pb, with its MC uncertainty."""
    if seed is not None:
        check_int("--seed", seed, lo=0)
    xs = cross_section(
        model,
        mass,
        beam_energy,
        lepton=lepton,
        target=target,
        coupling=coupling,
        seed=seed,
        rtol=rtol,
        inelastic=inelastic,
    )
    if as_json:
        echo_json(
            {
                "model": model,
                "mass": mass,
                "beam_energy": beam_energy,
                "lepton": lepton,
                "target": target,
                "coupling": coupling,
                "sigma_pb": xs.value_pb,
                "sigma_err_pb": xs.error_pb,
                "n_evaluations": xs.n_evaluations,
            }
        )
    else:
        click.echo(f"sigma = {xs.value_pb:.6g} +- {xs.error_pb:.2g} pb")


@main.command("generate")
@_process_options
@click.option("--events", "n_events", type=int, required=True, help="Number of events.")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same events).")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output file: .parquet, .csv, .lhe or .lhe.gz.",
)
@click.option("--weighted", is_flag=True, help="Write weighted events (no unweighting).")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: on when stderr is a terminal).",
)
def generate_cmd(
    model,
    mass,
    beam_energy,
    coupling,
    target,
    lepton,
    inelastic,
    n_events,
    seed,
    out,
    weighted,
    progress,
):
    """Generate events and write them to OUT with the cross section."""
    from ..io.events import write_events

    positive_int("--events", n_events)
    if seed is not None:
        check_int("--seed", seed, lo=0)
    if not str(out).lower().endswith(_EVENT_SUFFIXES):
        raise ValueError(
            f"--out {out!r}: the file name must end in one of {', '.join(_EVENT_SUFFIXES)}"
        )
    if progress is None:
        progress = sys.stderr.isatty()
    sample = generate(
        model,
        mass,
        beam_energy,
        n_events,
        lepton=lepton,
        target=target,
        coupling=coupling,
        seed=seed,
        weighted=weighted,
        progress=progress,
        inelastic=inelastic,
    )
    path = write_events(sample.events, out, metadata=sample.metadata)
    eff = sample.unweighting_efficiency
    eff_txt = "" if math.isnan(eff) else f", unweighting efficiency {eff:.3f}"
    click.echo(
        f"sigma = {sample.sigma_pb:.6g} +- {sample.sigma_err_pb:.2g} pb; "
        f"{sample.n_events} events written to {path}{eff_txt}"
    )
