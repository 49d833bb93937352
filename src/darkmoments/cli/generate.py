"""``darkmoments xsec`` and ``darkmoments generate``: thin wrappers over the generator.

Both take the beam from ``--beam-energy/--lepton/--target`` or from a setup
(``--experiment NAME|TOML``, :func:`darkmoments.experiments.get_experiment`); an explicit option
that disagrees with the setup is an error naming both.  ``generate`` streams the events to
``--out`` in bounded memory (:func:`darkmoments.io.events.generate_to_file`), refuses to
overwrite an existing file without ``--force`` and, like ``xsec``, prints one JSON object with
``--json``.  Keys (one per quantity, as in the other commands): ``model`` (canonical id),
``mass`` and ``beam_energy`` (GeV), ``lepton``, ``target``, ``coupling`` (with
``coupling_unit``), ``experiment``, ``seed``, ``sigma_pb``, ``sigma_err_pb``,
``n_evaluations``; xsec adds ``rtol``, ``rel_error`` and ``converged``; generate adds ``out``,
``format``, ``n_events``, ``weighted``, ``unweighting_efficiency`` and ``level``.

``generate --level detector`` (with ``--experiment``, whose ``[detector]`` table is used)
writes detector-level events (:func:`darkmoments.detector_level.generate_detector`):
``lepton_*`` after the target and the detector, plus ``truth_lepton_E``, ``truth_lepton_pt``
(and px/py/pz), ``incident_E``, ``beam_E``, ``tagger_E`` [GeV], ``depth`` (fraction of the
target) and ``accepted``; ``sigma_pb`` is then the straggling-averaged cross section.
Parquet or CSV only (a smeared lepton breaks the four-momentum balance an LHE file states).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import InputError
from ..generator import PrecisionWarning, cross_section
from ..validation import check_int
from ._common import (
    check_output_path,
    echo_json,
    example,
    progress_enabled,
    progress_option,
)

__all__ = ["COMMANDS", "EventCount", "generate_cmd", "resolve_beam", "xsec_cmd"]

_EVENT_SUFFIXES = (".parquet", ".csv", ".lhe", ".lhe.gz")
_F = TypeVar("_F", bound=Callable[..., Any])  # a click command function


class EventCount(click.ParamType):
    """A number of events: an integer, also written as ``1e6`` if the value is whole.

    Examples
    --------
    >>> from darkmoments.cli.generate import EventCount
    >>> EventCount().convert("2e4", None, None)
    20000
    >>> EventCount().convert("2.5", None, None)
    Traceback (most recent call last):
        ...
    click.exceptions.BadParameter: '2.5' is not a whole number of events (e.g. 20000 or 2e4)
    """

    name = "integer"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        """The whole number of events in ``value``; anything else fails as a usage error."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            d = Decimal(text)
        except InvalidOperation:
            d = None
        if d is None or not d.is_finite() or d != d.to_integral_value():
            self.fail(f"{text!r} is not a whole number of events (e.g. 20000 or 2e4)", param, ctx)
        return int(d)


def _process_options(f: _F) -> _F:
    f = click.option(
        "--inelastic/--no-inelastic",
        default=True,
        show_default=True,
        help="Include the inelastic nuclear form factor.",
    )(f)
    f = click.option(
        "--experiment",
        default=None,
        metavar="NAME|TOML",
        help="Take beam energy, lepton and target from a setup (ldmx-phase1, ldmx-phase2 or "
        "a TOML file); an explicit --beam-energy/--lepton/--target must agree with it.  "
        "[default: none]",
    )(f)
    f = click.option(
        "--lepton",
        default=None,
        help="Beam lepton: e or mu.  [default: e, or the --experiment's]",
    )(f)
    f = click.option(
        "--target",
        default=None,
        help="Target material: W, Pb, Cu, Fe, Al or C.  [default: W, or the --experiment's]",
    )(f)
    f = click.option(
        "--coupling",
        type=float,
        default=1.0,
        show_default=True,
        help="g_f in the model's units (km: 1, md/ed: GeV^-1, cr/am: GeV^-2); sigma ~ g_f^2.",
    )(f)
    f = click.option(
        "--beam-energy",
        type=float,
        default=None,
        help="Beam energy [GeV] (target at rest).  Required unless --experiment is given.",
    )(f)
    f = click.option(
        "--mass", type=float, required=True, help="A' mass [GeV].  Required, no default."
    )(f)
    return click.option(
        "--model",
        required=True,
        help="Model: km, md, ed, cr or am (paper letters and long names accepted).  Required.",
    )(f)


def _seed_option(what: str) -> Callable[[_F], _F]:
    return click.option(
        "--seed",
        type=int,
        default=None,
        help=f"Random seed, an integer >= 0 (same seed, same {what}).  [default: fresh "
        "entropy, not reproducible]",
    )


def _json_option(f: _F) -> _F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(f)


def resolve_beam(
    experiment: str | None,
    beam_energy: float | None,
    lepton: str | None,
    target: str | None,
) -> tuple[float, str, str, str | None]:
    """(beam energy GeV, lepton, target symbol, experiment name or None) from the options.

    Raises
    ------
    InputError
        No beam energy and no experiment, or an explicit option disagreeing with the
        experiment (the message names both).

    Examples
    --------
    >>> from darkmoments.cli.generate import resolve_beam
    >>> resolve_beam("ldmx-phase1", None, None, None)
    (4.0, 'e', 'W', 'ldmx-phase1')
    >>> resolve_beam(None, 8.0, None, None)
    (8.0, 'e', 'W', None)
    >>> resolve_beam("ldmx-phase1", 8.0, None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: --experiment ldmx-phase1 conflicts with ...
    """
    from ..generator import _canonical_lepton
    from ..targets import get_target

    if experiment is None:
        if beam_energy is None:
            raise InputError("give --beam-energy (GeV) or --experiment NAME|TOML")
        return beam_energy, lepton or "e", target or "W", None
    from ..experiments import get_experiment

    exp = get_experiment(experiment)
    conflicts = []
    if beam_energy is not None and beam_energy != exp.beam_energy:
        conflicts.append(f"--beam-energy {beam_energy:g} GeV (setup: {exp.beam_energy:g} GeV)")
    if lepton is not None and _canonical_lepton(lepton) != exp.lepton:
        conflicts.append(f"--lepton {lepton} (setup: {exp.lepton})")
    if target is not None and get_target(target).symbol != exp.target.symbol:
        conflicts.append(f"--target {target} (setup: {exp.target.symbol})")
    if conflicts:
        raise InputError(
            f"--experiment {exp.name} conflicts with " + "; ".join(conflicts) + ": drop one"
        )
    return exp.beam_energy, exp.lepton, exp.target.symbol, exp.name


def _canonical(model: str, lepton: str, target: str) -> tuple[str, str, str, str]:
    from ..generator import _canonical_lepton
    from ..models import get_model
    from ..targets import get_target

    m = get_model(model)
    return m.id, m.coupling_unit, _canonical_lepton(lepton), get_target(target).symbol


def _check_seed(seed: int | None) -> None:
    if seed is not None:
        check_int("--seed", seed, lo=0)


def _process_keys(
    mid: str,
    mass: float,
    beam_energy: float,
    lepton: str,
    target: str,
    experiment: str | None,
    coupling: float,
    coupling_unit: str,
    seed: int | None,
) -> dict[str, Any]:
    """The JSON keys that describe the process (docs/cli.md), shared by xsec and generate."""
    return {
        "model": mid,
        "mass": float(mass),
        "beam_energy": float(beam_energy),
        "lepton": lepton,
        "target": target,
        "experiment": experiment,
        "coupling": float(coupling),
        "coupling_unit": coupling_unit,
        "seed": seed,
    }


@click.command(
    "xsec",
    epilog=example(
        "darkmoments xsec --model km --mass 0.1 --beam-energy 8 --json",
        "darkmoments xsec --model md --mass 0.05 --experiment ldmx-phase1 --coupling 1e-6",
    ),
)
@_process_options
@_seed_option("result")
@click.option(
    "--rtol",
    type=float,
    default=0.01,
    show_default=True,
    help="Target relative MC uncertainty, in (0, 1); the integration stops when reached.",
)
@click.option(
    "--max-evaluations",
    type=EventCount(),
    default=20_000_000,
    show_default=True,
    help="Most integrand evaluations after adaptation (>= 1000; 1e7 notation accepted).  If "
    "they run out first, a warning is printed and converged is false.",
)
@progress_option
@_json_option
def xsec_cmd(
    model: str,
    mass: float,
    beam_energy: float | None,
    coupling: float,
    target: str | None,
    lepton: str | None,
    experiment: str | None,
    inelastic: bool,
    seed: int | None,
    rtol: float,
    max_evaluations: int,
    progress: bool,
    as_json: bool,
) -> None:
    """Total cross section of l N -> l N A' in pb, with its MC uncertainty."""
    _check_seed(seed)
    beam_energy, lepton, target, exp_name = resolve_beam(experiment, beam_energy, lepton, target)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PrecisionWarning)
        xs = cross_section(
            model,
            mass,
            beam_energy,
            lepton=lepton,
            target=target,
            coupling=coupling,
            seed=seed,
            rtol=rtol,
            max_evaluations=max_evaluations,
            inelastic=inelastic,
            progress=progress_enabled(progress),
        )
    for w in caught:
        if issubclass(w.category, PrecisionWarning):
            click.echo(f"darkmoments: warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    mid, unit, lep, tgt = _canonical(model, lepton, target)
    if as_json:
        echo_json(
            {
                **_process_keys(mid, mass, beam_energy, lep, tgt, exp_name, coupling, unit, seed),
                "rtol": float(rtol),
                "sigma_pb": xs.value_pb,
                "sigma_err_pb": xs.error_pb,
                "rel_error": xs.rel_error,
                "converged": xs.converged,
                "n_evaluations": xs.n_evaluations,
            }
        )
    else:
        click.echo(f"sigma = {xs.value_pb:.6g} +- {xs.error_pb:.2g} pb")


@click.command(
    "generate",
    epilog=example(
        "darkmoments generate --model km --mass 0.1 --beam-energy 8 --events 20000 --seed 1 "
        "--out ev.lhe.gz",
        "darkmoments generate --model md --mass 0.1 --experiment ldmx-phase2 --level detector "
        "--events 2000 --seed 1 --out ev.parquet",
    ),
)
@_process_options
@click.option(
    "--events",
    "n_events",
    type=EventCount(),
    required=True,
    help="Number of MC events, an integer > 0 (2e4 notation accepted if whole).  Required.  "
    "Memory does not grow with it (events are streamed to --out); a sample that does not fit "
    "on the disk is refused up front.",
)
@_seed_option("events and file bytes")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output file: .parquet, .csv, .lhe or .lhe.gz (its directory must exist).  Required.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an existing --out file (replaced atomically at the end).  [default: refuse]",
)
@click.option(
    "--weighted",
    is_flag=True,
    help="Write weighted events (no unweighting; weights in pb sum to sigma).  [default: "
    "unweighted, equal weights sigma/N]",
)
@click.option(
    "--level",
    type=click.Choice(["truth", "detector"], case_sensitive=False),
    default="truth",
    show_default=True,
    help="truth: the generator's events; detector: after target, tracker and acceptance "
    "(needs --experiment with a [detector] table; .parquet or .csv).",
)
@progress_option
@_json_option
def generate_cmd(
    model: str,
    mass: float,
    beam_energy: float | None,
    coupling: float,
    target: str | None,
    lepton: str | None,
    experiment: str | None,
    inelastic: bool,
    n_events: int,
    seed: int | None,
    out: str,
    force: bool,
    weighted: bool,
    level: str,
    progress: bool,
    as_json: bool,
) -> None:
    """Generate events and write them to --out with the cross section (pb)."""
    from ..io.events import _format_of, check_disk_space

    if n_events <= 0:
        raise InputError(f"--events must be a positive integer, got {n_events}")
    if not str(out).lower().endswith(_EVENT_SUFFIXES):
        raise InputError(
            f"--out {out!r}: the file name must end in one of {', '.join(_EVENT_SUFFIXES)}"
        )
    _check_seed(seed)
    path = check_output_path(out, option="--out", force=force)
    beam_energy, lepton, target, exp_name = resolve_beam(experiment, beam_energy, lepton, target)
    mid, unit, lep, tgt = _canonical(model, lepton, target)
    check_disk_space(n_events, path, name="--events")
    if level.lower() == "detector":
        _check_detector_options(experiment, weighted, inelastic, path)
        res, seed = _detector_events(model, mass, experiment, n_events, seed, coupling, path)
    else:
        res = _truth_events(
            path,
            model,
            mass,
            beam_energy,
            n_events,
            lepton,
            target,
            coupling,
            seed,
            weighted,
            progress,
            inelastic,
        )
    path = res.path
    fmt = _format_of(path)
    eff = res.unweighting_efficiency
    if as_json:
        echo_json(
            {
                "out": str(path),
                "format": fmt.lstrip("."),
                **_process_keys(mid, mass, beam_energy, lep, tgt, exp_name, coupling, unit, seed),
                "n_events": res.n_events,
                "weighted": bool(weighted),
                "sigma_pb": res.sigma_pb,
                "sigma_err_pb": res.sigma_err_pb,
                "unweighting_efficiency": eff,
                "n_evaluations": res.n_evaluations,
                **({"level": "detector"} if level.lower() == "detector" else {}),
            }
        )
        return
    eff_txt = "" if math.isnan(eff) else f", unweighting efficiency {eff:.3f}"
    click.echo(
        f"sigma = {res.sigma_pb:.6g} +- {res.sigma_err_pb:.2g} pb; "
        f"{res.n_events} events written to {path}{eff_txt}"
    )


@dataclass(frozen=True)
class _Written:
    """What ``generate`` reports about the file it wrote."""

    path: Any
    n_events: int
    sigma_pb: float
    sigma_err_pb: float
    unweighting_efficiency: float
    n_evaluations: int


def _check_detector_options(
    experiment: str | None, weighted: bool, inelastic: bool, path: Any
) -> None:
    """--level detector needs --experiment, unweighted events and a Parquet/CSV file."""
    if experiment is None:
        raise InputError(
            "--level detector needs --experiment NAME|TOML (its [detector] table sets the "
            "target and detector simulation)"
        )
    if weighted:
        raise InputError("--level detector writes unweighted events; drop --weighted")
    if not inelastic:
        raise InputError("--level detector uses the full form factor; drop --no-inelastic")
    if not str(path).lower().endswith((".parquet", ".csv")):
        raise InputError(
            f"--out {str(path)!r}: --level detector writes .parquet or .csv (an LHE event "
            "would state a four-momentum balance the smeared lepton breaks)"
        )


def _detector_events(
    model: str,
    mass: float,
    experiment: str | None,
    n_events: int,
    seed: int | None,
    coupling: float,
    path: Path,
) -> tuple[_Written, int]:
    """Detector-level events to ``path`` (atomic); returns (_Written, the seed used)."""
    import numpy as np

    from ..detector_level import generate_detector
    from ..experiments import get_experiment
    from ..io.atomic import Terminated
    from ..io.events import write_events

    assert experiment is not None  # _check_detector_options refused --level detector without it
    exp = get_experiment(experiment)
    exp.require_detector()
    if seed is None:  # fresh entropy, reported in the output so the run can be repeated
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    sample = generate_detector(model, mass, exp, n_events, seed=seed, coupling=coupling)
    try:
        out = write_events(sample.events, path, metadata=sample.metadata)
    except Terminated:
        click.echo("darkmoments: terminated by SIGTERM; no partial output left", err=True)
        raise
    n_eval = int(sample.metadata.get("n_trials", 0))
    written = _Written(
        out,
        sample.n_events,
        sample.sigma_pb,
        sample.sigma_err_pb,
        sample.unweighting_efficiency,
        n_eval,
    )
    return written, seed


def _truth_events(
    path: Path,
    model: str,
    mass: float,
    beam_energy: float,
    n_events: int,
    lepton: str,
    target: str,
    coupling: float,
    seed: int | None,
    weighted: bool,
    progress: bool,
    inelastic: bool,
) -> _Written:
    """Truth-level events streamed to ``path`` (:func:`generate_to_file`)."""
    from ..io.atomic import Terminated
    from ..io.events import generate_to_file

    try:
        path, res = generate_to_file(
            path,
            model,
            mass,
            beam_energy,
            n_events,
            lepton=lepton,
            target=target,
            coupling=coupling,
            seed=seed,
            weighted=weighted,
            progress=progress_enabled(progress),
            inelastic=inelastic,
        )
    except Terminated:
        click.echo("darkmoments: terminated by SIGTERM; no partial output left", err=True)
        raise
    return _Written(
        path,
        res.n_events,
        res.sigma_pb,
        res.sigma_err_pb,
        res.unweighting_efficiency,
        res.metadata["n_evaluations"],
    )


#: The commands of this module, for ``main.add_command`` in :mod:`darkmoments.cli`.
COMMANDS: tuple[click.Command, ...] = (xsec_cmd, generate_cmd)
