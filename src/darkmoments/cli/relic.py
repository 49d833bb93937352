"""``darkmoments relic``: relic-target coupling for one mass, or a scan table plus plot."""

from __future__ import annotations

from pathlib import Path

import click

from ..models import MODEL_IDS
from . import main
from ._common import echo_json, positive_float, positive_int

__all__ = ["relic"]


@main.command("relic")
@click.option(
    "--model",
    "model",
    default="km",
    show_default=True,
    help=f"Model id ({', '.join(MODEL_IDS)}) or 'all' (with --scan).",
)
@click.option("--mass", type=float, default=None, help="m_A' in GeV (single-point mode).")
@click.option("--scan", is_flag=True, help="Scan m_A' and write a CSV table and a plot.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("relic_targets"),
    show_default=True,
    help="Output directory (--scan).",
)
@click.option("--n-masses", type=int, default=50, show_default=True, help="Scan points.")
@click.option("--m-min", type=float, default=0.003, show_default=True, help="Scan minimum [GeV].")
@click.option("--m-max", type=float, default=3.0, show_default=True, help="Scan maximum [GeV].")
@click.option(
    "--ratio", "mass_ratio", type=float, default=3.0, show_default=True, help="m_A'/m_chi (> 2)."
)
@click.option("--alpha-d", type=float, default=0.5, show_default=True, help="alpha_D.")
@click.option(
    "--cutoff",
    type=float,
    default=1000.0,
    show_default=True,
    help="Lambda_f in GeV (enters y only).",
)
@click.option(
    "--hadrons",
    type=click.Choice(["auto", "none", "rratio", "proxy"]),
    default="auto",
    show_default=True,
    help="Hadronic final states (auto: R-ratio for km, none otherwise).",
)
@click.option(
    "--paper-normalisation",
    is_flag=True,
    help="Use the printed eqs. A.4-A.7, A.11 (2x / 0.5x the trace results).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def relic(
    model: str,
    mass: float | None,
    scan: bool,
    out_dir: Path,
    n_masses: int,
    m_min: float,
    m_max: float,
    mass_ratio: float,
    alpha_d: float,
    cutoff: float,
    hadrons: str,
    paper_normalisation: bool,
    as_json: bool,
) -> None:
    """Relic target: coupling g_f and y (eq. 3.3) with Omega h^2 = 0.120."""
    from .. import relic as rel
    from ..relic.output import plot_targets, write_csv_atomic

    common = dict(
        mass_ratio=mass_ratio,
        alpha_d=alpha_d,
        cutoff=cutoff,
        paper_normalisation=paper_normalisation,
    )
    if scan:
        positive_int("--n-masses", n_masses)
        models = "all" if model == "all" else model
        table = rel.scan(
            models,
            n_masses=n_masses,
            m_min=m_min,
            m_max=m_max,
            proxy_band=hadrons == "auto",
            progress=not as_json,
            **common,
        )
        csv = write_csv_atomic(table, out_dir / "relic_targets.csv")
        png = plot_targets(table, out_dir / "relic_targets.png")
        if as_json:
            echo_json({"csv": str(csv), "plot": str(png), "rows": len(table)})
        else:
            click.echo(f"wrote {csv} ({len(table)} rows) and {png}")
        return
    if model == "all":
        raise ValueError("--model all needs --scan; give one model id for a single mass")
    if mass is None:
        raise ValueError("give --mass (GeV) or --scan")
    positive_float("--mass", mass)
    res = rel.target(model, mass, hadrons=hadrons, **common)
    out = {
        "model": res.model,
        "m_ap": res.m_ap,
        "m_chi": res.m_chi,
        "coupling": res.coupling,
        "coupling_unit": res.coupling_unit,
        "y": res.y,
        "omega_h2": res.omega_h2,
    }
    if as_json:
        echo_json(out)
    else:
        click.echo(f"model     {res.model}")
        click.echo(f"m_A'      {res.m_ap:.6g} GeV (m_chi = {res.m_chi:.6g} GeV)")
        click.echo(f"coupling  {res.coupling:.6g} [{res.coupling_unit}]")
        click.echo(f"y         {res.y:.6g}")
        click.echo(f"omega_h2  {res.omega_h2:.6g}")
