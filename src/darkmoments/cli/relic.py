"""``darkmoments relic``: relic-target coupling for one mass, or a scan table plus plot.

JSON keys (one per quantity, as in the other commands): single mass ``model`` (canonical
id), ``mass`` (m_A' in GeV), ``m_chi`` (GeV), ``coupling`` with ``coupling_unit``, ``y``,
``omega_h2``, ``hadrons``; scan ``out`` (the directory), ``csv``, ``plot``, ``models``,
``n_masses``, ``n_rows``.

The scan is ``--mass-scan`` (the spelling of ``workspace --mass-scan``); ``--scan`` is its
hidden alias and error messages name the spelling given.  The scan refuses to overwrite the
files of an earlier scan in ``--out`` without ``--force``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..errors import InputError, OutputPathError
from ..models import MODEL_IDS
from ..validation import check_int, check_real
from ._common import (
    check_not_overwriting,
    deprecated_alias,
    echo_json,
    example,
    force_option,
    progress_enabled,
    progress_option,
)

__all__ = ["COMMANDS", "check_output_dir", "relic"]

#: Options of --mass-scan only: parameter name -> option name (--m-min/--m-max are the
#: hidden, silent aliases of --mass-min/--mass-max, the names of a mass on every other command).
_SCAN_ONLY = {
    "out_dir": "--out",
    "force": "--force",
    "n_masses": "--n-masses",
    "m_min": "--mass-min",
    "m_max": "--mass-max",
    "old_m_min": "--m-min",
    "old_m_max": "--m-max",
}
_MASS_RANGE = (0.003, 3.0)  # GeV, the default scan range
_FILE_SUFFIXES = (".csv", ".png", ".pdf", ".svg", ".json", ".txt")
_SCAN_FILES = ("relic_targets.csv", "relic_targets.png")  # what a scan writes into --out


def check_output_dir(path: Path, *, option: str = "--out") -> Path:
    """Check a multi-file output directory: its parent must exist (never created silently).

    The directory itself is created if missing (one level: it is the named output).  A
    path that exists as a file, or whose name looks like a file (``x.csv``), is refused.

    Raises
    ------
    OutputPathError
        Naming the option and the path or the missing parent directory.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.cli.relic import check_output_dir
    >>> d = Path(tempfile.mkdtemp())
    >>> check_output_dir(d / "relic_targets").name  # created later by the command
    'relic_targets'
    >>> check_output_dir(d / "relic.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.OutputPathError: --out ...: expected a ...
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"{option} {p}: directory {parent} does not exist (create it first)")
    if p.exists() and not p.is_dir():
        raise OutputPathError(
            f"{option} {p} is a file; give a directory (it receives several files)"
        )
    if not p.exists() and p.suffix.lower() in _FILE_SUFFIXES:
        raise OutputPathError(
            f"{option} {p}: expected a directory (it receives relic_targets.csv and "
            "relic_targets.png), got a file name"
        )
    return p


@click.command(
    "relic",
    epilog=example(
        "darkmoments relic --model km --mass 0.1 --json",
        "darkmoments relic --model all --mass-scan --n-masses 20 --mass-min 0.01 --mass-max 1 "
        "--out relic_targets",
    ),
)
@click.option(
    "--model",
    "model",
    default="km",
    show_default=True,
    help=f"Model id ({', '.join(MODEL_IDS)}), or 'all' (with --mass-scan).",
)
@click.option(
    "--mass",
    type=float,
    default=None,
    help="m_A' [GeV], in (2 m_e, 1000] (single-mass mode; not with --mass-scan).  [default: none]",
)
@click.option(
    "--mass-scan",
    "scan",
    is_flag=True,
    help="Scan m_A' over --mass-min..--mass-max and write relic_targets.csv and relic_targets.png "
    "into --out.  [default: off, single mass]",
)
@click.option("--scan", "old_scan", is_flag=True, hidden=True, help="Alias of --mass-scan.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("relic_targets"),
    show_default=True,
    help="Output directory of --mass-scan (two files; created if missing, its parent must exist).",
)
@force_option
@click.option(
    "--n-masses",
    type=int,
    default=50,
    show_default=True,
    help="Scan points, log-spaced (>= 2; --mass-scan).",
)
@click.option(
    "--mass-min",
    "m_min",
    type=float,
    default=None,
    help=f"Scan minimum m_A' [GeV].  [default: {_MASS_RANGE[0]}]",
)
@click.option(
    "--mass-max",
    "m_max",
    type=float,
    default=None,
    help=f"Scan maximum m_A' [GeV].  [default: {_MASS_RANGE[1]}]",
)
@click.option("--m-min", "old_m_min", type=float, default=None, hidden=True)
@click.option("--m-max", "old_m_max", type=float, default=None, hidden=True)
@click.option(
    "--ratio",
    "mass_ratio",
    type=float,
    default=3.0,
    show_default=True,
    help="m_A'/m_chi, dimensionless (> 2).",
)
@click.option(
    "--alpha-d",
    type=float,
    default=0.5,
    show_default=True,
    help="Dark coupling alpha_D, dimensionless, in (0, 4 pi).",
)
@click.option(
    "--cutoff",
    type=float,
    default=1000.0,
    show_default=True,
    help="Lambda_f [GeV] (enters y only).",
)
@click.option(
    "--hadrons",
    type=click.Choice(["auto", "none", "rratio", "proxy"]),
    default="auto",
    show_default=True,
    help="Hadronic final states (auto: R-ratio for km, none otherwise; rratio: km only; "
    "proxy: the R-ratio formula for any model).  With --mass-scan and auto/none the other "
    "models "
    "also get the proxy band.",
)
@click.option(
    "--paper-normalisation",
    is_flag=True,
    help="Use the printed eqs. A.4-A.7, A.11 (2x / 0.5x the trace results).  [default: off]",
)
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def relic(
    ctx: click.Context,
    model: str,
    mass: float | None,
    scan: bool,
    old_scan: bool,
    out_dir: Path,
    force: bool,
    n_masses: int,
    m_min: float | None,
    m_max: float | None,
    old_m_min: float | None,
    old_m_max: float | None,
    mass_ratio: float,
    alpha_d: float,
    cutoff: float,
    hadrons: str,
    paper_normalisation: bool,
    progress: bool,
    as_json: bool,
) -> None:
    """Relic target: coupling g_f and y (eq. 3.3) with Omega h^2 = 0.120."""

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)

    common = dict(
        mass_ratio=mass_ratio,
        alpha_d=alpha_d,
        cutoff=cutoff,
        paper_normalisation=paper_normalisation,
    )
    flag = "--scan" if old_scan and not scan else "--mass-scan"
    if scan or old_scan:
        if mass is not None:
            raise InputError(
                f"--mass {mass:g} and {flag} exclude each other: the scan uses "
                f"--mass-min/--mass-max/--n-masses; drop --mass (or {flag} for one mass)"
            )
        lo = deprecated_alias("--mass-min", m_min, "--m-min", old_m_min, notice=False)
        hi = deprecated_alias("--mass-max", m_max, "--m-max", old_m_max, notice=False)
        mass_range = (
            (_MASS_RANGE[0] if lo[0] is None else lo[0], lo[1]),
            (_MASS_RANGE[1] if hi[0] is None else hi[0], hi[1]),
        )
        out = (out_dir, force)
        _scan(model, out, n_masses, mass_range, hadrons, progress, as_json, common)
        return
    scan_only = [opt for n, opt in _SCAN_ONLY.items() if given(n)]
    if scan_only:
        raise InputError(
            f"{', '.join(scan_only)}: only used with --mass-scan (single mass: --mass)"
        )
    if model.strip().lower() == "all":
        raise InputError("--model all needs --mass-scan; give one model id for a single mass")
    if mass is None:
        raise InputError("give --mass (GeV) or --mass-scan")
    _single(model, mass, hadrons, as_json, common)


def _scan(
    model: str,
    out_force: tuple[Path, bool],
    n_masses: int,
    mass_range: tuple[tuple[float, str], tuple[float, str]],
    hadrons: str,
    progress: bool,
    as_json: bool,
    common: dict[str, Any],
) -> None:
    """``--mass-scan``: the table and figure into the --out directory.

    ``out_force`` is (--out, --force): files of an earlier scan there are refused without
    --force.  ``mass_range`` is ((minimum, its option name), (maximum, its option name)) in
    GeV, the names as the user gave them (``--mass-min`` or its alias ``--m-min``).
    """
    from .. import relic as rel
    from ..relic.output import plot_targets, write_csv_atomic

    (m_min, min_opt), (m_max, max_opt) = mass_range
    check_int("--n-masses", n_masses, lo=2)
    check_real(min_opt, m_min, lo=rel.targets.M_AP_MIN, lo_open=True, unit="GeV")
    check_real(max_opt, m_max, hi=rel.targets.M_AP_MAX, unit="GeV")
    if not m_min < m_max:
        raise InputError(f"{min_opt} {m_min:g} must be below {max_opt} {m_max:g} (GeV)")
    out_dir, force = out_force
    out = check_output_dir(out_dir)
    for name in _SCAN_FILES:  # no earlier scan's files overwritten without --force
        check_not_overwriting(out / name, option="--out", force=force)
    models = "all" if model.strip().lower() == "all" else model
    table = rel.scan(
        models,
        n_masses=n_masses,
        m_min=m_min,
        m_max=m_max,
        proxy_band=hadrons in ("auto", "none"),
        hadrons=hadrons,
        progress=progress_enabled(progress),
        **common,
    )
    out.mkdir(exist_ok=True)  # the named output directory; its parent was checked
    csv = write_csv_atomic(table, out / _SCAN_FILES[0], mkdir=False)
    png = plot_targets(table, out / _SCAN_FILES[1], mkdir=False)
    if as_json:
        echo_json(
            {
                "out": str(out),
                "csv": str(csv),
                "plot": str(png),
                "models": list(dict.fromkeys(table["model"])),
                "n_masses": n_masses,
                "n_rows": len(table),
            }
        )
    else:
        click.echo(f"wrote {csv} ({len(table)} rows) and {png}")


def _single(model: str, mass: float, hadrons: str, as_json: bool, common: dict[str, Any]) -> None:
    """One mass: the relic-target coupling and y, as text or one JSON object."""
    from .. import relic as rel

    check_real("--mass", mass, lo=0.0, lo_open=True, unit="GeV")
    res = rel.target(model, mass, hadrons=hadrons, **common)
    out_obj = {
        "model": res.model,
        "mass": res.m_ap,
        "m_chi": res.m_chi,
        "coupling": res.coupling,
        "coupling_unit": res.coupling_unit,
        "y": res.y,
        "omega_h2": res.omega_h2,
        "hadrons": hadrons,
    }
    if as_json:
        echo_json(out_obj)
    else:
        click.echo(f"model     {res.model}")
        click.echo(f"m_A'      {res.m_ap:.6g} GeV (m_chi = {res.m_chi:.6g} GeV)")
        click.echo(f"coupling  {res.coupling:.6g} [{res.coupling_unit}]")
        click.echo(f"y         {res.y:.6g}")
        click.echo(f"omega_h2  {res.omega_h2:.6g}")


#: The commands of this module, for ``main.add_command`` in :mod:`darkmoments.cli`.
COMMANDS: tuple[click.Command, ...] = (relic,)
