"""Template building: events to templates, and resumable grids of them.

* :func:`template_from_events` and :func:`build_template` (one template: generate unweighted
  events with :func:`darkmoments.generator.generate`, apply the experiment's cuts, fill the
  normalised histogram);
* :func:`plan_grid` (validate every job of a build before anything exists) and
  :func:`build_grid` (the engine of ``darkmoments templates build``: deterministic seed per
  template, :func:`template_seed`; resumable through :mod:`darkmoments.checkpoint`; atomic
  writes; serial, processes or Dask).  The output directory is explicit
  (:func:`build_output_directory`): the shipped templates are only written when named.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..checkpoint import Checkpoint, run_checkpointed
from ..detector_level import generate_detector
from ..errors import InputError, OutputPathError, StaleCheckpointError
from ..experiments import (
    MASS_DIGITS,
    Experiment,
    ExperimentLike,
    check_level,
    get_experiment,
    round_significant,
)
from ..generator import DarkBremProcess, generate
from ..io import jsonio, templates_io
from ..models import MODEL_IDS, get_model
from ..validation import check_int, check_real
from .core import Template, fill_template_hist
from .library import check_matches, default_directory, level_file_name, read, save

__all__ = [
    "DEFAULT_BASE_SEED",
    "DEFAULT_N_EVENTS",
    "BuildPlan",
    "BuildReport",
    "build_grid",
    "build_output_directory",
    "build_template",
    "plan_grid",
    "template_from_events",
    "template_seed",
]

#: Events per shipped truth-level template (issue 3: at least 1e5; issue 12: 1e6 unweighted events).
DEFAULT_N_EVENTS: int = 1_000_000
#: Base seed of the shipped grid (per-template seeds derive from it, :func:`template_seed`).
DEFAULT_BASE_SEED: int = 20250904


# ----------------------------------------------------------------------------- one template


def template_from_events(
    events: Any,
    model: str,
    mass: float,
    experiment: ExperimentLike,
    sigma_pb: float,
    sigma_err_pb: float,
    metadata: dict[str, Any] | None = None,
    *,
    level: str = "truth",
) -> Template:
    """Template from an event table (columns ``lepton_E``, ``lepton_pt``, ``weight``).

    Applies the experiment's cuts of the level (:meth:`Experiment.cuts_at`) and binning
    (:func:`fill_template_hist`) and fills the standard metadata.  At detector level an
    ``accepted`` column (the tracker acceptance) is part of the selection, and the metadata
    gain ``level`` and ``detector`` (the configuration); truth-level metadata are unchanged.

    Parameters
    ----------
    events : pandas.DataFrame or mapping of arrays
        Recoil-lepton energy and p_T in GeV, weight in pb per event (optional).
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    experiment : str, path or Experiment
        The setup (beam, cuts, binning).
    sigma_pb, sigma_err_pb : float
        Cross section at unit coupling and its MC error, pb, before selection.
    metadata : dict, optional
        Extra metadata (``n_events``, ``seed``, ``generator_version`` ...).
    level : str
        ``"truth"`` (default) or ``"detector"`` (the events are detector level).

    Returns
    -------
    Template

    Examples
    --------
    >>> import darkmoments as dm
    >>> from darkmoments import templates
    >>> s = dm.generate("km", 0.1, 8.0, 1000, seed=1, n_pilot=20_000)
    >>> t = templates.template_from_events(s.events, "km", 0.1, "ldmx-phase2", s.sigma_pb,
    ...                                    s.sigma_err_pb)
    >>> [ax.name for ax in t.hist.axes], round(t.hist.sum().value, 12)
    (['E', 'pt'], 1.0)
    """
    exp = get_experiment(experiment)
    level = check_level(level)
    mid = get_model(model).id
    cuts = exp.cuts_at(level)
    energy = np.asarray(events["lepton_E"], dtype=float)
    pt = np.asarray(events["lepton_pt"], dtype=float)
    weight = np.asarray(events["weight"], dtype=float) if "weight" in events else None
    passed = cuts.mask(energy, pt, exp.beam_energy)
    if level == "detector" and "accepted" in events:
        passed &= np.asarray(events["accepted"], dtype=bool)
    h, eps, eps_err = fill_template_hist(energy, pt, weight, exp.binning, passed)
    meta: dict[str, Any] = {
        "lepton": exp.lepton,
        "target": exp.target.symbol,
        "beam_energy": exp.beam_energy,
        "coupling": 1.0,
        "n_events": int(energy.size),
        "n_selected": int(np.count_nonzero(passed)),
        "seed": None,
        "generator_version": __version__,
        "darkmoments_version": __version__,
        "selection_efficiency": eps,
        "selection_efficiency_err": eps_err,
        "binning": exp.binning.to_dict(),
        "cuts": cuts.to_dict(),
    }
    if level == "detector":
        meta["level"] = "detector"
        meta["detector"] = exp.require_detector().to_dict()
    meta.update(metadata or {})
    return Template(h, mid, float(mass), exp.name, float(sigma_pb), float(sigma_err_pb), meta)


def template_seed(
    model: str,
    mass: float,
    experiment: str,
    base_seed: int = DEFAULT_BASE_SEED,
    level: str = "truth",
) -> int:
    """Deterministic 32-bit seed of one template.

    The first 4 bytes (little endian) of SHA-256 of ``"base_seed|experiment|model|%.6e mass"``
    (``"...|detector"`` appended at detector level, so the two levels are independent
    samples; the truth seeds are those of the shipped grid): independent of the order and
    the machine a grid is built on.

    Raises
    ------
    InputError, InputTypeError
        ``base_seed`` not an integer >= 0.

    Examples
    --------
    >>> from darkmoments import templates
    >>> seed = templates.template_seed("km", 0.1, "ldmx-phase2")
    >>> seed == templates.template_seed("km", 0.1, "ldmx-phase2"), 0 <= seed < 2**32
    (True, True)
    >>> seed != templates.template_seed("md", 0.1, "ldmx-phase2")
    True
    """
    base_seed = check_int("base_seed", base_seed, lo=0)
    text = f"{base_seed}|{experiment}|{get_model(model).id}|{templates_io.mass_key(mass)}"
    if check_level(level) == "detector":
        text += "|detector"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def build_template(
    model: str,
    mass: float,
    experiment: ExperimentLike,
    n_events: int,
    seed: int,
    *,
    progress: bool = False,
    level: str = "truth",
) -> Template:
    """Generate ``n_events`` unweighted events and make the template.

    At detector level the events come from
    :func:`darkmoments.detector_level.generate_detector` (incident energies with the
    cross-section weight, the experiment's ``detector``), ``sigma_pb`` is the effective
    cross section <sigma> and the selection is the tracker acceptance and ``detector_cuts``.

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    experiment : str, path or Experiment
        Setup: beam lepton and energy, target, cuts, binning.
    n_events : int
        Unweighted events to generate (>= 1).
    seed : int
        Generator seed (same seed -> bit-identical template).
    progress : bool
        Show the generator's progress bar.
    level : str
        ``"truth"`` (default) or ``"detector"``.

    Returns
    -------
    Template

    Examples
    --------
    >>> from darkmoments import templates
    >>> t = templates.build_template("km", 0.1, "ldmx-phase2", 1000, seed=1)
    >>> t.model, t.metadata["n_events"], round(t.hist.sum().value, 12)
    ('km', 1000, 1.0)
    """
    exp = get_experiment(experiment)
    n_events = check_int("n_events", n_events, lo=1)
    mass = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")
    if check_level(level) == "detector":
        return _detector_template(model, mass, exp, n_events, seed, progress)
    sample = generate(
        get_model(model).id,
        float(mass),
        exp.beam_energy,
        int(n_events),
        lepton=exp.lepton,
        target=exp.target.symbol,
        coupling=1.0,
        seed=seed,
        weighted=False,
        progress=progress,
    )
    gen_meta = dict(getattr(sample, "metadata", {}) or {})
    meta: dict[str, Any] = {
        "seed": int(seed),
        "generator_version": str(gen_meta.get("generator_version", __version__)),
        "unweighting_efficiency": float(getattr(sample, "unweighting_efficiency", float("nan"))),
    }
    if not math.isfinite(meta["unweighting_efficiency"]):
        del meta["unweighting_efficiency"]
    return template_from_events(
        sample.events, model, mass, exp, sample.sigma_pb, sample.sigma_err_pb, meta
    )


def _detector_template(
    model: str, mass: float, exp: Experiment, n_events: int, seed: int, progress: bool
) -> Template:
    """The detector-level template (:func:`build_template` with ``level="detector"``)."""
    exp.require_detector()
    sample = generate_detector(
        get_model(model).id, float(mass), exp, int(n_events), seed=int(seed), progress=progress
    )
    md = sample.metadata
    meta = {
        "seed": int(seed),
        "generator_version": str(md.get("generator_version", __version__)),
        "unweighting_efficiency": float(sample.unweighting_efficiency),
        "sigma_nominal_pb": float(md["sigma_nominal_pb"]),
        "energy_step": md["energy_step"],
        "n_accepted": int(np.count_nonzero(sample.events["accepted"].to_numpy())),
    }
    return template_from_events(
        sample.events,
        model,
        mass,
        exp,
        sample.sigma_pb,
        sample.sigma_err_pb,
        meta,
        level="detector",
    )


# ----------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class _Task:
    model: str
    mass: float
    experiment: Experiment
    n_events: int
    seed: int
    level: str = "truth"

    @property
    def key(self) -> str:
        """Checkpoint chunk key, e.g. ``km_1.000000e-01``."""
        return f"{self.model}_{templates_io.mass_key(self.mass)}"


def _run_task(task: _Task) -> Template:
    return build_template(
        task.model, task.mass, task.experiment, task.n_events, task.seed, level=task.level
    )


@dataclass
class BuildReport:
    """Outcome of :func:`build_grid` for one experiment.

    Attributes
    ----------
    experiment : str
    path : pathlib.Path
        The packed template file.
    built : int
        Templates generated in this run.
    skipped : int
        Templates not generated: already in the packed file with the same seed and event
        count, or finished by an interrupted run of the same build (``resumed`` of them).
    resumed : int
        Templates taken from the checkpoint of an interrupted run.
    seconds : float
        Wall time of the generation.

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments import templates
    >>> plan = templates.plan_grid("ldmx-phase2", ["km"], [0.1], 1000)
    >>> rep = templates.build_grid(plan, out=tempfile.mkdtemp(), progress=False)
    >>> rep.built, rep.skipped, rep.path.name
    (1, 0, 'ldmx-phase2.h5')
    """

    experiment: str
    path: Path
    built: int = 0
    skipped: int = 0
    resumed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildPlan:
    """The validated jobs of one experiment's build (:func:`plan_grid`); nothing on disk yet.

    Attributes
    ----------
    experiment : Experiment
    models : tuple of str
    masses : tuple of float
        A' masses in GeV (rounded to 6 significant digits, as stored).
    n_events : int
    base_seed : int
    level : str
        ``"truth"`` or ``"detector"``.

    Examples
    --------
    >>> from darkmoments import templates
    >>> plan = templates.plan_grid("ldmx-phase2", ["km"], [0.05, 0.1], 1000)
    >>> plan.models, plan.masses, plan.n_events
    (('km',), (0.05, 0.1), 1000)
    """

    experiment: Experiment
    models: tuple[str, ...]
    masses: tuple[float, ...]
    n_events: int
    base_seed: int
    level: str = "truth"

    def tasks(self) -> list[_Task]:
        """One task per (model, mass), with its seed (:func:`template_seed`)."""
        exp, lvl = self.experiment, self.level
        return [
            _Task(
                mid,
                m,
                exp,
                self.n_events,
                template_seed(mid, m, exp.name, self.base_seed, lvl),
                lvl,
            )
            for mid in self.models
            for m in self.masses
        ]

    def identity(self) -> dict[str, Any]:
        """What determines every template of this build (the checkpoint identity).

        At truth level the experiment's detector-level keys are left out (they do not
        change a truth template); at detector level ``level`` is added.
        """
        exp = self.experiment.to_dict()
        out: dict[str, Any] = {
            "experiment": exp,
            "n_events": self.n_events,
            "base_seed": self.base_seed,
            "format_version": templates_io.FORMAT_VERSION,
            "darkmoments_version": __version__,
        }
        if self.level == "truth":
            exp.pop("detector", None)
            exp.pop("background", None)
        else:
            out["level"] = self.level
        return out


def plan_grid(
    experiment: ExperimentLike,
    models: Sequence[str] | None = None,
    mass_values: Sequence[float] | None = None,
    n_events: int = DEFAULT_N_EVENTS,
    *,
    base_seed: int = DEFAULT_BASE_SEED,
    level: str = "truth",
) -> BuildPlan:
    """Validate every job of a build up front, before any directory or worker exists.

    Each (model, mass) is checked the way the generator will check it (A' mass below the
    kinematic threshold of the experiment's beam on its target, :class:`DarkBremProcess`),
    so a build never fails half-way on an input error.

    Parameters
    ----------
    experiment : str, path or Experiment
        The setup.
    models : sequence of str, optional
        Model ids (default: all five).
    mass_values : sequence of float, optional
        A' masses in GeV (default: the experiment's ``mass_grid``).
    n_events : int
        Unweighted events per template (>= 1).
    base_seed : int
        Base of the per-template seeds (>= 0).
    level : str
        ``"truth"`` (default) or ``"detector"`` (needs the experiment's ``detector``).

    Returns
    -------
    BuildPlan

    Raises
    ------
    InputError, InputTypeError
        Naming the first invalid model, mass, event count or seed.

    Examples
    --------
    >>> from darkmoments import templates
    >>> len(templates.plan_grid("ldmx-phase2").masses)  # the experiment's grid
    40
    >>> templates.plan_grid("ldmx-phase2", ["xx"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: unknown model 'xx'; allowed: km (KM, ...
    """
    exp = get_experiment(experiment)
    lvl = check_level(level)
    if lvl == "detector":
        exp.require_detector()
    n = check_int("n_events", n_events, lo=1)
    seed = check_int("base_seed", base_seed, lo=0)
    if models is not None and (isinstance(models, str) or len(models) == 0):
        raise InputError(f"models must be a non-empty list of model ids, got {models!r}")
    mids = tuple(dict.fromkeys(get_model(m).id for m in (models or MODEL_IDS)))
    if mass_values is None:
        raw = [float(m) for m in exp.mass_grid.masses()]
    else:
        if isinstance(mass_values, str) or np.ndim(mass_values) != 1 or len(mass_values) == 0:
            raise InputError(
                f"masses must be a non-empty list of masses in GeV, got {mass_values!r}"
            )
        raw = [check_real("mass", m, lo=0.0, lo_open=True, unit="GeV") for m in mass_values]
    masses = tuple(dict.fromkeys(round_significant(m, MASS_DIGITS) for m in raw))
    for m in masses:
        for mid in mids:
            try:
                DarkBremProcess.create(
                    mid, m, exp.beam_energy, lepton=exp.lepton, target=exp.target.symbol
                )
            except (ValueError, TypeError) as exc:
                raise InputError(
                    f"experiment {exp.name}: cannot build model {mid} at m = {m} GeV: {exc}"
                ) from None
    return BuildPlan(exp, mids, masses, n, seed, lvl)


def build_output_directory(
    out: str | os.PathLike[str] | None, *, update_shipped: bool = False
) -> Path:
    """The directory a build writes to: ``out``, or the shipped one only when asked.

    Building never modifies the shipped templates unless asked explicitly: either ``out``
    names the directory (``make templates`` passes ``--out templates``), or
    ``update_shipped=True`` (``--update-shipped``) selects :func:`default_directory`.  The
    directory itself may be created by the build; its parent must exist.

    Raises
    ------
    InputError
        Neither ``out`` nor ``update_shipped`` given.
    OutputPathError
        The parent directory does not exist or ``out`` is a file.

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments import templates
    >>> d = tempfile.mkdtemp()
    >>> templates.build_output_directory(d) == templates.build_output_directory(d)
    True
    >>> templates.build_output_directory(None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: templates build needs --out DIR (the directory for ...
    """
    if out is None:
        if not update_shipped:
            raise InputError(
                "templates build needs --out DIR (the directory for <experiment>.h5; "
                "give it explicitly, also for the shipped templates/ directory) or "
                "--update-shipped to rebuild the shipped templates in place"
            )
        return default_directory()
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise OutputPathError(f"--out {d} is a file; give a directory for the template files")
    parent = d.parent if str(d.parent) else Path(".")
    if not d.exists() and not parent.is_dir():
        raise OutputPathError(f"--out {d}: directory {parent} does not exist (create it first)")
    return d


def build_grid(
    experiment: ExperimentLike | BuildPlan,
    models: Sequence[str] | None = None,
    mass_values: Sequence[float] | None = None,
    n_events: int = DEFAULT_N_EVENTS,
    *,
    out: str | os.PathLike[str] | None = None,
    update_shipped: bool = False,
    workers: int = 1,
    scheduler: Any = None,
    base_seed: int = DEFAULT_BASE_SEED,
    progress: bool = True,
    level: str = "truth",
) -> BuildReport:
    """Build (or complete) the template file of one experiment and level.

    The file is ``<out>/<experiment>.h5`` (truth level) or ``<out>/<experiment>.detector.h5``
    (``level="detector"``).

    Every job is validated first (:func:`plan_grid`); nothing is created on bad input.  Each
    (model, mass) is generated with seed :func:`template_seed` and stored, as soon as it is
    done, as a chunk of a :class:`darkmoments.checkpoint.Checkpoint` in
    ``<out>/.parts-<experiment>/`` (a manifest binding the chunks to this build's identity:
    experiment, event count, base seed; SHA-256 per chunk).  Templates already in the packed
    file with the same seed and event count are skipped; rerunning an interrupted build
    resumes it (bit-identical to an uninterrupted one); chunks of another build or altered
    chunks are refused (:class:`~darkmoments.errors.StaleCheckpointError`).  At the end the
    packed file is rewritten atomically with the union and the checkpoint is removed.

    Parameters
    ----------
    experiment : str, path, Experiment or BuildPlan
        The setup, or a plan from :func:`plan_grid` (then ``models``, ``mass_values``,
        ``n_events`` and ``base_seed`` are taken from it).
    models : sequence of str, optional
        Model ids (default: all five).
    mass_values : sequence of float, optional
        Masses in GeV (default: the experiment's ``mass_grid``).
    n_events : int
        Unweighted events per template.
    out : path
        Output directory (required unless ``update_shipped``; may be the shipped directory
        when named explicitly).  Created if missing; its parent must exist.
    update_shipped : bool
        Without ``out``: write into the shipped template directory.
    workers : int
        Local processes (1 = serial in this process).
    scheduler : str or distributed.Client, optional
        Dask scheduler: run the tasks on that cluster instead.
    base_seed : int
        Base of the per-template seeds.
    progress : bool
        tqdm progress bar.
    level : str
        ``"truth"`` (default) or ``"detector"``; ignored with a :class:`BuildPlan` (its own).

    Returns
    -------
    BuildReport

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments import templates
    >>> out = tempfile.mkdtemp()
    >>> rep = templates.build_grid("ldmx-phase2", ["md"], [0.1], 1000, out=out, progress=False)
    >>> rep.built
    1
    >>> again = templates.build_grid("ldmx-phase2", ["md"], [0.1], 1000, out=out, progress=False)
    >>> again.built, again.skipped  # resumed: the finished template is kept
    (0, 1)
    >>> templates.load("md", 0.1, directory=out).metadata["n_events"]
    1000
    """
    if isinstance(experiment, BuildPlan):
        plan = experiment
    else:
        plan = plan_grid(
            experiment, models, mass_values, n_events, base_seed=base_seed, level=level
        )
    exp = plan.experiment
    out_dir = build_output_directory(out, update_shipped=update_shipped)
    final = out_dir / level_file_name(exp.name, plan.level)
    report = BuildReport(exp.name, final)
    have = _read_packed(final, exp, plan.level)
    tasks = _pending_tasks(plan, have, report)
    parts = out_dir / f".parts-{final.name.removesuffix('.h5')}"
    if not tasks and not parts.exists() and final.exists():
        return report

    created = not out_dir.exists()
    if created:
        out_dir.mkdir()
    cp = _open_checkpoint(parts, plan, out_dir if created else None)
    built = _run_tasks(
        tasks,
        cp,
        report,
        created_dir=out_dir if created else None,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        desc=f"templates {exp.name}" + ("" if plan.level == "truth" else f" ({plan.level})"),
    )
    _merge_built(tasks, built, cp, exp, have, plan.level)
    _merge_unrequested(cp, {t.key for t in tasks}, exp, have, plan.level)
    ordered = sorted(have.values(), key=lambda t: (t.model, t.mass))
    templates_io.write_templates(final, ordered, jsonio.dumps(exp.to_dict(), sort_keys=True))
    cp.remove()
    return report


_Packed = dict[tuple[str, str], Template]


def _packed_key(t: Template) -> tuple[str, str]:
    return (t.model, templates_io.mass_key(t.mass))


def _read_packed(final: Path, exp: Experiment, level: str = "truth") -> _Packed:
    """The templates already in the packed file (each checked against the experiment)."""
    have: _Packed = {}
    if final.exists():
        for t in templates_io.read_templates(final):
            check_matches(t, exp, final, level=level)
            have[_packed_key(t)] = t
    return have


def _pending_tasks(plan: BuildPlan, have: _Packed, report: BuildReport) -> list[_Task]:
    """The tasks not yet in the packed file with the same seed and event count."""
    tasks: list[_Task] = []
    for task in plan.tasks():
        done = have.get((task.model, templates_io.mass_key(task.mass)))
        if (
            done is not None
            and done.metadata.get("seed") == task.seed
            and int(done.metadata.get("n_events", -1)) == task.n_events
        ):
            report.skipped += 1
        else:
            tasks.append(task)
    return tasks


def _open_checkpoint(parts: Path, plan: BuildPlan, created_dir: Path | None) -> Checkpoint:
    """The build's checkpoint; a checkpoint of other settings is refused with advice."""
    try:
        return Checkpoint(parts, plan.identity(), resume=True, what="template build", suffix=".h5")
    except StaleCheckpointError as exc:
        if created_dir is not None:
            shutil.rmtree(created_dir, ignore_errors=True)
        if "settings differ" in str(exc):
            raise StaleCheckpointError(
                f"{exc} (an interrupted build with other settings; rerun it with those "
                f"settings to finish it, or remove {parts} to discard it)"
            ) from None
        raise


def _run_tasks(
    tasks: list[_Task],
    cp: Checkpoint,
    report: BuildReport,
    *,
    created_dir: Path | None,
    workers: int,
    scheduler: Any,
    progress: bool,
    desc: str,
) -> list[Template]:
    """Run the tasks through the checkpoint (finished chunks reused); fill the counts."""
    keys = [t.key for t in tasks]
    resumed = {k for k in cp.done() if k in set(keys)}
    t0 = time.perf_counter()
    try:
        built = run_checkpointed(
            _run_task,
            tasks,
            keys=keys,
            checkpoint=cp,
            save=save,
            load=read,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            desc=desc,
            unit="tpl",
        )
    except BaseException:
        if not cp.done():  # nothing finished: leave no empty checkpoint behind
            cp.remove()
            if created_dir is not None:
                shutil.rmtree(created_dir, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - t0
    report.resumed = len(resumed)
    report.skipped += len(resumed)
    report.built = len(tasks) - len(resumed)
    return built


def _merge_built(
    tasks: list[_Task],
    built: list[Template],
    cp: Checkpoint,
    exp: Experiment,
    have: _Packed,
    level: str = "truth",
) -> None:
    """Add this run's templates, each checked to be the one its chunk was for."""
    for task, t in zip(tasks, built, strict=True):
        if t.model != task.model or templates_io.mass_key(t.mass) != templates_io.mass_key(
            task.mass
        ):
            raise StaleCheckpointError(
                f"{cp.path(task.key)}: holds model {t.model} m={t.mass} GeV, expected "
                f"{task.model} m={task.mass} GeV"
            )
        check_matches(t, exp, cp.path(task.key), level=level)
        have[_packed_key(t)] = t


def _merge_unrequested(
    cp: Checkpoint, requested: set[str], exp: Experiment, have: _Packed, level: str = "truth"
) -> None:
    """Add finished chunks of this build that this run did not ask for."""
    for key in cp.done():
        if key not in requested:
            f = cp.verified(key)
            if f is not None:
                t = read(f)
                check_matches(t, exp, f, level=level)
                have[_packed_key(t)] = t
