"""G4DarkBreM event libraries: darkmoments events at a ladder of incident lepton energies.

G4DarkBreM (LDMX-Software/G4DarkBreM, the dark-bremsstrahlung process of ldmx-sw's Geant4
simulation) samples the outgoing recoil lepton and A' of each dark brem from a pre-generated
*event library*: for a set of incident energies, events ``l N -> l N A'`` in the target rest
frame.  At run time it takes the library energy closest above the lepton's energy and scales
the kinematics down (``G4DarkBreMModel::scale``).  LDMX makes these libraries with MadGraph
(LDMX-Software/dark-brem-lib-gen, kinetic mixing only); :func:`build_library` makes them for
all five models with the darkmoments generator.

What G4DarkBreM reads (``src/G4DarkBreM/ParseLibrary.cxx``; ported and tested in
``tests/io/test_library.py``)
    A library is a file or a *flat* directory; every ``.lhe``, ``.lhe.gz``, ``.csv`` and
    ``.csv.gz`` file in it is parsed (so nothing else in the library directory may carry
    those suffixes: the cross-section table is ``xsec.tsv`` and ``xsec.json``).

    ``parse::lhe`` takes the target Z from the line tagged ``Znuc`` (``6 7.4e+01 # Znuc``,
    written by :mod:`darkmoments.io.events` in the ``<slha>`` header block), and for every
    incoming lepton line (id 11 or 13, status -1) the incident energy E from it, the recoil
    lepton four-momentum two lines below (id 11/13, status 1) and the A' four-momentum two
    lines further (id ``aprime_lhe_id``, default 622, status 1); the centre-of-momentum
    vector is recoil + A'.  darkmoments' event order (lepton, nucleus, lepton, nucleus, A')
    is that layout.

    ``parse::csv``: one header line, then 10 comma-separated columns per line: target Z,
    incident energy, recoil E, px, py, pz, centre-of-momentum E, px, py, pz; reading stops
    at the first empty line.

Units.  The darkmoments API is in GeV throughout.  G4DarkBreM's documentation of
``parse::csv`` says the 10 columns are in MeV, but its model uses every library number as GeV
(``G4DarkBreMModel::GenerateChange`` divides the lepton energy by ``CLHEP::GeV`` "to match
the LHE files" before looking it up, ``scale`` multiplies the sampled momenta by
``CLHEP::GeV``), and its own CSV writers (``dumpLibrary`` behind ``g4db-extract-library``,
and ``g4db-scale``: "convert to GeV to match MG output") write GeV.  A CSV in MeV would make
every library energy 1000 times too high for the model.  So the CSV is written in GeV by
default (what G4DarkBreM consumes); ``csv_units="MeV"`` writes the documented MeV for a
reader that follows the documentation literally.

Conventions of dark-brem-lib-gen (``context/bin/dark-brem-lib-gen``), followed here
    * energies: from ``max_energy`` (default 8 GeV) down to ``min_energy`` (default
      ``max_energy / 2``) in relative steps ``rel_step`` (default 0.1):
      ``E <- round(E * (1 - rel_step), 3)`` while ``E > min_energy * (1 - rel_step)``,
      so the lowest point lies at or just below ``min_energy`` (8 GeV: 8.0, 7.2, 6.48,
      5.832, 5.249, 4.724, 4.252, 3.827).  An absolute ``step`` (GeV) instead gives
      ``max_energy, max_energy - step, ...`` down to ``min_energy`` (inclusive);
    * 20,000 events per energy, run number (here: ``seed``) 3000;
    * the library is the directory ``<out>/<name>`` with
      ``<name> = <model>_<lepton>_<target>_MaxE_<max>_MinE_<min>_RelEStep_<rel>_UndecayedAP_
      mA_<mass>_run_<seed>`` (``EStep_<step>`` for an absolute step; dark-brem-lib-gen's
      name without the leading model), and one file per energy,
      ``<name>_<target>_IncidentEnergy_<E>_unweighted_events.lhe.gz`` (``.csv``);
      ``<lepton>`` is ``electron``/``muon``, ``<target>`` the element name (``tungsten``).

Cross sections.  G4DarkBreM computes the total dark-brem cross section itself with the
kinetic-mixing Weizsaecker-Williams formula (times epsilon^2); for the other models it is
wrong.  ``xsec.json`` / ``xsec.tsv`` in the library hold sigma(E_incident) of this model,
mass and target with its MC error (pb, at the given coupling; sigma ~ g^2), to normalise the
simulated rate (e.g. through G4DarkBreM's global bias, or by event weights).

Running: the energies are independent chunks on :func:`darkmoments.checkpoint.run_checkpointed`
(serial, processes or Dask; a progress bar; resumable: finished energies are kept in
``<out>/.<name>.checkpoint`` until the library is complete).  Each energy has its own seed,
``SeedSequence(seed).spawn(n_energies)``, so the library does not depend on the executor,
the order or interruptions.  The library directory appears only when complete: it is
assembled in a hidden staging directory and renamed into place.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._version import __version__
from .checkpoint import Checkpoint, run_checkpointed
from .errors import InputError, OutputPathError
from .generator import DarkBremProcess, _canonical_lepton, generate
from .io import jsonio
from .io.atomic import atomic_path, sigterm_raises, write_text_atomic
from .io.events import APRIME_PDG_ID, _check_aprime_id, read_events, write_events
from .models import check_coupling, get_model
from .targets import get_target
from .validation import check_choice, check_int, check_real

__all__ = [
    "DEFAULT_MAX_ENERGY",
    "DEFAULT_N_EVENTS",
    "DEFAULT_REL_STEP",
    "DEFAULT_SEED",
    "FORMATS",
    "LibraryPlan",
    "LibraryResult",
    "build_library",
    "energy_file_name",
    "g4db_csv_frame",
    "library_energies",
    "plan_library",
    "write_g4db_csv",
]

#: dark-brem-lib-gen's defaults (``--max-energy``, ``--rel-step``, ``--nevents``, ``--run``).
DEFAULT_MAX_ENERGY: float = 8.0
DEFAULT_REL_STEP: float = 0.1
DEFAULT_N_EVENTS: int = 20_000
DEFAULT_SEED: int = 3000
#: Library file formats: gzipped LHE (as dark-brem-lib-gen) or G4DarkBreM's 10-column CSV.
FORMATS: tuple[str, ...] = ("lhe", "csv")
CSV_UNITS: tuple[str, ...] = ("GeV", "MeV")
#: G4DarkBreM's CSV header (``dumpLibrary`` in ParseLibrary.cxx).
G4DB_CSV_COLUMNS: tuple[str, ...] = (
    "target_Z",
    "incident_energy",
    "recoil_energy",
    "recoil_px",
    "recoil_py",
    "recoil_pz",
    "centerMomentum_energy",
    "centerMomentum_px",
    "centerMomentum_py",
    "centerMomentum_pz",
)
_LEPTON_NAMES = {"e": "electron", "mu": "muon"}
_XSEC_COLUMNS = (
    "model", "mass", "lepton", "target", "Z", "coupling", "coupling_unit", "incident_energy",
    "sigma_pb", "sigma_err_pb", "n_events", "seed", "unweighting_efficiency", "file",
)  # fmt: skip


def library_energies(
    max_energy: float = DEFAULT_MAX_ENERGY,
    min_energy: float | None = None,
    *,
    rel_step: float | None = None,
    step: float | None = None,
) -> list[float]:
    """Incident energies of a library in GeV, highest first (dark-brem-lib-gen's ladder).

    Parameters
    ----------
    max_energy : float
        Highest energy, GeV (> 0).
    min_energy : float, optional
        Lowest energy, GeV, in (0, max_energy]; default ``max_energy / 2``.
    rel_step : float, optional
        Relative step in (0, 1) (default 0.1 when ``step`` is not given): ``E <- round(E (1 -
        rel_step), 3)`` while ``E > min_energy (1 - rel_step)``, exactly as dark-brem-lib-gen.
    step : float, optional
        Absolute step in GeV (> 0): ``max_energy - k step`` for k = 0, 1, ... down to
        ``min_energy`` (1e-9 GeV tolerance).  Exclusive with ``rel_step``.

    Returns
    -------
    list of float
        At least one energy.

    Raises
    ------
    InputError
        Non-positive or non-finite values, ``min_energy > max_energy``, both or invalid steps.

    Examples
    --------
    >>> from darkmoments.library import library_energies
    >>> library_energies(8.0, 2.0, step=2.0)
    [8.0, 6.0, 4.0, 2.0]
    >>> library_energies(4.0, 3.0)  # dark-brem-lib-gen's relative steps of 10 %
    [4.0, 3.6, 3.24, 2.916]
    """
    emax = check_real("max_energy", max_energy, lo=0.0, lo_open=True, unit="GeV")
    emin = (
        emax / 2
        if min_energy is None
        else check_real("min_energy", min_energy, lo=0.0, lo_open=True, unit="GeV")
    )
    if emin > emax:
        raise InputError(
            f"min_energy {emin:g} GeV exceeds max_energy {emax:g} GeV: the energy range is empty"
        )
    if step is not None and rel_step is not None:
        raise InputError("give either step (GeV) or rel_step (relative), not both")
    if step is not None:
        st = check_real("step", step, lo=0.0, lo_open=True, unit="GeV")
        n = math.floor((emax - emin) / st + 1e-9)
        return [round(emax - k * st, 9) for k in range(n + 1)]
    rel = DEFAULT_REL_STEP if rel_step is None else rel_step
    rel = check_real("rel_step", rel, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    out: list[float] = []
    energy = emax
    while energy > emin * (1.0 - rel) and energy > 0:
        out.append(energy)
        energy = round(energy * (1.0 - rel), 3)
    return out


def energy_seeds(seed: int, n: int) -> list[int]:
    """One generator seed per energy: ``SeedSequence(seed).spawn(n)``, each as a 63-bit int."""
    children = np.random.SeedSequence(check_int("seed", seed, lo=0)).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def _name_number(x: float) -> str:
    """A number as dark-brem-lib-gen's f-strings print it (Python float repr)."""
    return repr(float(x))


def energy_file_name(name: str, target_name: str, energy: float, fmt: str) -> str:
    """dark-brem-lib-gen's file name of one energy (``.lhe.gz`` or ``.csv``).

    Examples
    --------
    >>> from darkmoments.library import energy_file_name
    >>> energy_file_name("md_electron_tungsten_run_3000", "tungsten", 4.0, "lhe")
    'md_electron_tungsten_run_3000_tungsten_IncidentEnergy_4.0_unweighted_events.lhe.gz'
    """
    suffix = ".lhe.gz" if fmt == "lhe" else ".csv"
    return f"{name}_{target_name}_IncidentEnergy_{_name_number(energy)}_unweighted_events{suffix}"


@dataclass(frozen=True)
class LibraryPlan:
    """The validated inputs of one library (see :func:`plan_library`).

    Examples
    --------
    >>> from darkmoments.library import plan_library
    >>> plan = plan_library("md", 0.1, max_energy=8.0, min_energy=6.0, step=1.0, n_events=100)
    >>> plan.energies
    (8.0, 7.0, 6.0)
    >>> plan.name  # dark-brem-lib-gen's directory name
    'md_electron_tungsten_MaxE_8.0_MinE_6.0_EStep_1.0_UndecayedAP_mA_0.1_run_3000'
    """

    model: str
    mass: float
    lepton: str
    target: str
    energies: tuple[float, ...]
    seeds: tuple[int, ...]
    n_events: int
    seed: int
    coupling: float
    fmt: str
    csv_units: str
    aprime_id: int
    inelastic: bool
    n_pilot: int
    name: str
    files: tuple[str, ...]

    def identity(self) -> dict[str, Any]:
        """Everything that determines the events (the checkpoint fingerprint)."""
        return {
            "what": "g4db-library",
            "model": self.model,
            "mass": self.mass,
            "lepton": self.lepton,
            "target": self.target,
            "energies": list(self.energies),
            "seeds": list(self.seeds),
            "n_events": self.n_events,
            "coupling": self.coupling,
            "inelastic": self.inelastic,
            "n_pilot": self.n_pilot,
            "generator_version": __version__,
        }


def plan_library(
    model: str,
    mass: float,
    *,
    lepton: str = "e",
    target: str = "W",
    max_energy: float = DEFAULT_MAX_ENERGY,
    min_energy: float | None = None,
    rel_step: float | None = None,
    step: float | None = None,
    n_events: int = DEFAULT_N_EVENTS,
    seed: int = DEFAULT_SEED,
    coupling: float = 1.0,
    fmt: str = "lhe",
    csv_units: str = "GeV",
    aprime_id: int = APRIME_PDG_ID,
    inelastic: bool = True,
    n_pilot: int = 200_000,
) -> LibraryPlan:
    """Validate every input of a library (cheap; nothing is generated or written).

    Every energy is checked to be above the production threshold of the process.

    Raises
    ------
    InputError, InputTypeError
        Any value out of range (the message names it and the allowed range).

    Examples
    --------
    >>> from darkmoments.library import plan_library
    >>> plan = plan_library("cr", 0.05, max_energy=8.0, min_energy=2.0, step=0.5)
    >>> len(plan.energies), plan.n_events, plan.seed
    (13, 20000, 3000)
    >>> plan_library("cr", 0.05, step=0.5, rel_step=0.1)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: give either step (GeV) or rel_step (relative), not both
    """
    mid = get_model(model).id
    fmt = check_choice("format", fmt, FORMATS)
    csv_units = check_choice("csv_units", csv_units, CSV_UNITS)
    lep = _canonical_lepton(lepton)
    tgt = get_target(target)
    energies = library_energies(max_energy, min_energy, rel_step=rel_step, step=step)
    for e in energies:  # threshold and mass checks of the generator, per energy
        DarkBremProcess.create(mid, mass, e, lepton=lep, target=tgt)
    n = check_int("n_events", n_events, lo=1)
    seed = check_int("seed", seed, lo=0)
    g = check_coupling(coupling)
    a_id = _check_aprime_id(aprime_id)
    emin = max_energy / 2 if min_energy is None else min_energy
    steptext = (
        f"EStep_{_name_number(step)}"
        if step is not None
        else (f"RelEStep_{_name_number(DEFAULT_REL_STEP if rel_step is None else rel_step)}")
    )
    tname = tgt.name.split()[0]
    name = (
        f"{mid}_{_LEPTON_NAMES[lep]}_{tname}_MaxE_{_name_number(max_energy)}_MinE_"
        f"{_name_number(emin)}_{steptext}_UndecayedAP_mA_{_name_number(mass)}_run_{seed}"
    )
    files = tuple(energy_file_name(name, tname, e, fmt) for e in energies)
    seeds = tuple(energy_seeds(seed, len(energies)))
    return LibraryPlan(
        mid, float(mass), lep, tgt.symbol, tuple(energies), seeds, n, seed, g, fmt, csv_units,
        a_id, bool(inelastic), int(n_pilot), name, files,
    )  # fmt: skip


# ----------------------------------------------------------------------------- one energy


@dataclass(frozen=True)
class _EnergyTask:
    model: str
    mass: float
    energy: float
    n_events: int
    lepton: str
    target: str
    coupling: float
    seed: int
    inelastic: bool
    n_pilot: int


def _generate_energy(task: _EnergyTask) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Events and metadata of one library energy (module level: runs in worker processes)."""
    sample = generate(
        task.model,
        task.mass,
        task.energy,
        task.n_events,
        lepton=task.lepton,
        target=task.target,
        coupling=task.coupling,
        seed=task.seed,
        inelastic=task.inelastic,
        n_pilot=task.n_pilot,
    )
    return sample.events, sample.metadata


def _save_chunk(result: tuple[pd.DataFrame, dict[str, Any]], path: Path) -> None:
    write_events(result[0], path, metadata=result[1], fmt=".parquet")


def _load_chunk(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    return read_events(path)


# ----------------------------------------------------------------------------- CSV format


def g4db_csv_frame(events: pd.DataFrame, metadata: dict[str, Any], units: str = "GeV") -> Any:
    """The 10 columns G4DarkBreM's ``parse::csv`` reads, one row per event.

    Parameters
    ----------
    events : pandas.DataFrame
        Columns of :data:`darkmoments.events_schema.EVENT_COLUMNS` (GeV).
    metadata : dict
        Needs ``Z`` and ``beam_energy`` (GeV).
    units : str
        ``"GeV"`` (what G4DarkBreM's model consumes; module docstring) or ``"MeV"``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`G4DB_CSV_COLUMNS`: target Z, incident energy, recoil (E, px, py, pz),
        centre of momentum = recoil + A' (E, px, py, pz).

    Examples
    --------
    >>> import darkmoments as dm
    >>> from darkmoments.library import G4DB_CSV_COLUMNS, g4db_csv_frame
    >>> s = dm.generate("km", 0.1, 4.0, 50, seed=1, n_pilot=20_000)
    >>> frame = g4db_csv_frame(s.events, s.metadata)
    >>> tuple(frame.columns) == G4DB_CSV_COLUMNS, int(frame["target_Z"].iloc[0])
    (True, 74)
    """
    units = check_choice("csv_units", units, CSV_UNITS)
    f = 1000.0 if units == "MeV" else 1.0
    n = len(events)
    lep = {c: events[f"lepton_{c}"].to_numpy(float) for c in ("E", "px", "py", "pz")}
    dph = {c: events[f"dark_photon_{c}"].to_numpy(float) for c in ("E", "px", "py", "pz")}
    data = {
        "target_Z": np.full(n, int(metadata["Z"])),
        "incident_energy": np.full(n, float(metadata["beam_energy"]) * f),
    }
    for c in ("E", "px", "py", "pz"):
        data["recoil_" + ("energy" if c == "E" else c)] = lep[c] * f
    for c in ("E", "px", "py", "pz"):
        data["centerMomentum_" + ("energy" if c == "E" else c)] = (lep[c] + dph[c]) * f
    return pd.DataFrame(data, columns=list(G4DB_CSV_COLUMNS))


def write_g4db_csv(
    events: pd.DataFrame, metadata: dict[str, Any], path: str | os.PathLike[str], units: str = "GeV"
) -> Path:
    """Write :func:`g4db_csv_frame` atomically: one header line, no comments, no blank line.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import darkmoments as dm
    >>> from darkmoments.library import write_g4db_csv
    >>> s = dm.generate("km", 0.1, 4.0, 20, seed=1, n_pilot=20_000)
    >>> p = write_g4db_csv(s.events, s.metadata, Path(tempfile.mkdtemp()) / "lib.csv")
    >>> lines = p.read_text().splitlines()
    >>> len(lines), lines[0].split(",")[:3]
    (21, ['target_Z', 'incident_energy', 'recoil_energy'])
    """
    frame = g4db_csv_frame(events, metadata, units)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.17g", lineterminator="\n")
    return Path(path)


# ----------------------------------------------------------------------------- the library


@dataclass
class LibraryResult:
    """A written library.

    Attributes
    ----------
    directory : Path
        The library directory (point G4DarkBreM at it).
    files : list of Path
        One event file per energy, highest energy first.
    xsec : list of dict
        sigma(E_incident) rows (pb), also in ``xsec.json`` and ``xsec.tsv``.
    resumed : int
        Energies taken from an earlier, interrupted run.

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments.library import build_library, plan_library
    >>> plan = plan_library("km", 0.1, max_energy=4.0, min_energy=3.0, step=1.0, n_events=100,
    ...                     n_pilot=20_000)
    >>> res = build_library(plan, tempfile.mkdtemp())
    >>> [f.name.split("_IncidentEnergy_")[1] for f in res.files]
    ['4.0_unweighted_events.lhe.gz', '3.0_unweighted_events.lhe.gz']
    >>> [(row["incident_energy"], row["n_events"]) for row in res.xsec]
    [(4.0, 100), (3.0, 100)]
    """

    directory: Path
    files: list[Path]
    xsec: list[dict[str, Any]]
    resumed: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def check_library_output(out: str | os.PathLike[str], name: str, *, force: bool) -> Path:
    """The library directory ``out/name``; ``out`` must be an existing writable directory.

    Raises
    ------
    OutputPathError
        ``out`` missing, not a directory or not writable; the library exists (without
        ``force``) or is not a directory.
    """
    base = Path(out)
    if not base.is_dir():
        raise OutputPathError(f"--out {base}: no such directory (create it first)")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"--out {base}: directory is not writable")
    final = base / name
    if final.exists() and not final.is_dir():
        raise OutputPathError(f"{final} exists and is not a directory")
    if final.exists() and not force:
        raise OutputPathError(f"library {final} exists; pass --force to replace it")
    return final


def _xsec_rows(plan: LibraryPlan, metas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e, s, f, meta in zip(plan.energies, plan.seeds, plan.files, metas, strict=True):
        rows.append(
            {
                "model": plan.model,
                "mass": plan.mass,
                "lepton": plan.lepton,
                "target": plan.target,
                "Z": int(meta["Z"]),
                "coupling": plan.coupling,
                "coupling_unit": meta["coupling_unit"],
                "incident_energy": float(e),
                "sigma_pb": float(meta["sigma_pb"]),
                "sigma_err_pb": float(meta["sigma_err_pb"]),
                "n_events": int(meta["n_events"]),
                "seed": int(s),
                "unweighting_efficiency": float(meta["unweighting_efficiency"]),
                "file": f,
            }
        )
    return rows


def _xsec_document(plan: LibraryPlan, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "description": (
            "sigma(E_incident) of the darkmoments library: total cross section of l N -> l N "
            "A' at each incident lepton energy, pb, at the given coupling (sigma ~ coupling^2), "
            "with its Monte Carlo error; energies in GeV"
        ),
        "library": plan.name,
        "model": plan.model,
        "mass": plan.mass,
        "lepton": plan.lepton,
        "target": plan.target,
        "coupling": plan.coupling,
        "aprime_pdg_id": plan.aprime_id,
        "format": plan.fmt,
        "csv_units": plan.csv_units if plan.fmt == "csv" else None,
        "generator": "darkmoments",
        "generator_version": __version__,
        "units": {"incident_energy": "GeV", "mass": "GeV", "sigma_pb": "pb", "sigma_err_pb": "pb"},
        "rows": rows,
    }


def _write_energy_file(plan: LibraryPlan, ev: pd.DataFrame, meta: dict, path: Path) -> None:
    if plan.fmt == "lhe":
        write_events(ev, path, metadata=meta, aprime_id=plan.aprime_id, fmt=".lhe.gz")
    else:
        write_g4db_csv(ev, meta, path, plan.csv_units)


def _assemble(plan: LibraryPlan, results: Sequence[Any], final: Path, force: bool) -> list[Path]:
    """Write the library into a hidden staging directory, then rename it to ``final``."""
    base = final.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{plan.name}.", suffix=".partial", dir=base))
    old: Path | None = None
    try:
        for (ev, meta), fname in zip(results, plan.files, strict=True):
            _write_energy_file(plan, ev, meta, staging / fname)
        rows = _xsec_rows(plan, [m for _, m in results])
        write_text_atomic(
            staging / "xsec.json", jsonio.dumps(_xsec_document(plan, rows), indent=1) + "\n"
        )
        table = pd.DataFrame(rows, columns=list(_XSEC_COLUMNS))
        with atomic_path(staging / "xsec.tsv") as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.10g", lineterminator="\n")
        os.chmod(staging, 0o777 & ~_umask())
        if final.exists() and force:
            old = Path(tempfile.mkdtemp(prefix=f".{plan.name}.", suffix=".old", dir=base))
            os.replace(final, old / "lib")
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and (old / "lib").exists() and not final.exists():
            os.replace(old / "lib", final)  # put the previous library back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return [final / f for f in plan.files]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def build_library(
    plan: LibraryPlan,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    force: bool = False,
    workers: int = 1,
    scheduler: Any = None,
    progress: bool = False,
) -> LibraryResult:
    """Generate and write the library of ``plan`` into ``out/<plan.name>``.

    Parameters
    ----------
    plan : LibraryPlan
        From :func:`plan_library`.
    out : path
        Existing, writable directory that receives the library directory.
    resume : bool
        Continue an interrupted run (its energies in ``out/.<name>.checkpoint`` are kept if
        their checksums match and the settings are the same).
    force : bool
        Replace an existing library of the same name (atomically, at the end).
    workers, scheduler
        Processes or a Dask scheduler (:func:`darkmoments.parallel.get_executor`).
    progress : bool
        A progress bar over the energies (stderr).

    Returns
    -------
    LibraryResult

    Raises
    ------
    OutputPathError, StaleCheckpointError
        Unusable output directory, an existing library without ``force``, a checkpoint of
        another run or one present without ``resume``.

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments.library import build_library, plan_library
    >>> plan = plan_library("md", 0.1, max_energy=4.0, min_energy=4.0, n_events=100,
    ...                     n_pilot=20_000)
    >>> res = build_library(plan, tempfile.mkdtemp())
    >>> sorted(p.name for p in res.directory.iterdir())[-2:]
    ['xsec.json', 'xsec.tsv']
    >>> build_library(plan, res.directory.parent)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.OutputPathError: library ...
    """
    final = check_library_output(out, plan.name, force=force)
    cp_dir = final.parent / f".{plan.name}.checkpoint"
    fresh = not cp_dir.exists()
    cp = Checkpoint(cp_dir, plan.identity(), resume=resume, what="library run", suffix=".parquet")
    keys = [f"E{i:03d}" for i in range(len(plan.energies))]
    resumed = len([k for k in cp.done() if k in keys])
    tasks = [
        _EnergyTask(plan.model, plan.mass, e, plan.n_events, plan.lepton, plan.target,
                    plan.coupling, s, plan.inelastic, plan.n_pilot)
        for e, s in zip(plan.energies, plan.seeds, strict=True)
    ]  # fmt: skip
    with sigterm_raises():
        try:
            results = run_checkpointed(
                _generate_energy, tasks, keys=keys, checkpoint=cp, save=_save_chunk,
                load=_load_chunk, workers=workers, scheduler=scheduler, progress=progress,
                desc=f"library {plan.model} {plan.mass:g} GeV", unit="energy",
            )  # fmt: skip
        except BaseException:
            if fresh and not cp.done():  # nothing finished: leave no empty checkpoint
                cp.remove()
            raise
        files = _assemble(plan, results, final, force)
    cp.remove()
    rows = _xsec_rows(plan, [m for _, m in results])
    summary = {
        "library": str(final),
        "model": plan.model,
        "mass": plan.mass,
        "lepton": plan.lepton,
        "target": plan.target,
        "format": plan.fmt,
        "energies": list(plan.energies),
        "n_events": plan.n_events,
        "seed": plan.seed,
        "aprime_pdg_id": plan.aprime_id,
        "resumed": resumed,
        "xsec": str(final / "xsec.json"),
    }
    return LibraryResult(final, files, rows, resumed, summary)
