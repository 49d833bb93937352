"""Template look-up: a :class:`TemplateLibrary` over a directory of template files, and yields.

A :class:`TemplateLibrary` is one directory of ``<experiment>.h5`` files (default: the
shipped templates, :func:`default_directory`) with a bounded cache of opened files
(:class:`TemplateFileCache`, :data:`FILE_CACHE_SIZE` files, least recently used dropped).
Every template it returns is an independent copy: a caller that edits one cannot change
what the next caller gets.  Methods: :meth:`~TemplateLibrary.load`,
:meth:`~TemplateLibrary.masses`, :meth:`~TemplateLibrary.catalogue`,
:meth:`~TemplateLibrary.template_path`, :meth:`~TemplateLibrary.signal_yield`.

The module-level :func:`load`, :func:`masses`, :func:`catalogue`, :func:`template_path` and
:func:`signal_yield` are thin functions over the default library (:func:`default_library`;
``directory=`` selects another directory, sharing the same cache).

An experiment is resolved once (:func:`darkmoments.experiments.get_experiment`) in the
public methods, which accept a name, a TOML path or an
:class:`~darkmoments.experiments.Experiment`; everything below them takes the
:class:`~darkmoments.experiments.Experiment`.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, TemplateFileError
from ..experiments import (
    CUT_RTOL,
    Experiment,
    ExperimentLike,
    check_level,
    cuts_difference,
    get_experiment,
)
from ..io import templates_io
from ..models import MODEL_IDS, get_model
from ..validation import check_finite_result, check_int, check_real
from .core import Template, interpolate

__all__ = [
    "FILE_CACHE_SIZE",
    "SignalYield",
    "TemplateFileCache",
    "TemplateLibrary",
    "catalogue",
    "check_matches",
    "clear_cache",
    "default_directory",
    "default_library",
    "is_shipped_directory",
    "level_file_name",
    "load",
    "masses",
    "read",
    "save",
    "signal_yield",
    "template_path",
]

#: Open template files kept in memory by a cache (least recently used beyond that dropped).
FILE_CACHE_SIZE: int = 8

#: The installed package directory (``.../darkmoments``) and, in a source checkout, the
#: repository root above ``src/``.
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_SOURCE_ROOT = _PACKAGE_DIR.parents[1]


# ----------------------------------------------------------------------------- files


def level_file_name(experiment_name: str, level: str = "truth") -> str:
    """File name of an experiment's templates at a level.

    ``<experiment>.h5`` (truth, the paper's level) or ``<experiment>.detector.h5``.

    Examples
    --------
    >>> from darkmoments.templates import level_file_name
    >>> level_file_name("ldmx-phase2"), level_file_name("ldmx-phase2", "detector")
    ('ldmx-phase2.h5', 'ldmx-phase2.detector.h5')
    """
    lvl = check_level(level)
    return f"{experiment_name}.h5" if lvl == "truth" else f"{experiment_name}.{lvl}.h5"


def _file_level(path: Path) -> str:
    """The level of a template file from its name (``*.detector.h5`` or truth)."""
    return "detector" if path.name.endswith(".detector.h5") else "truth"


def save(template: Template, path: str | os.PathLike[str]) -> Path:
    """Write one template to an HDF5 file (atomically).  Returns the path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> p = templates.save(templates.load("km", 0.05), Path(tempfile.mkdtemp()) / "km.h5")
    >>> p.suffix, templates.read(p).mass
    ('.h5', 0.05)
    """
    return templates_io.write_templates(path, [template])


def read(path: str | os.PathLike[str]) -> Template:
    """Read the single template of a file written by :func:`save` (verified).

    Raises
    ------
    TemplateFileError
        If the file is corrupted, of another format version, lacks a field, or holds more
        than one template.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> t = templates.load("cr", 0.2)
    >>> p = templates.save(t, Path(tempfile.mkdtemp()) / "cr_0.2.h5")
    >>> back = templates.read(p)
    >>> back.model, back.sigma_pb == t.sigma_pb
    ('cr', True)
    """
    ts = templates_io.read_templates(path)
    if len(ts) != 1:
        raise TemplateFileError(f"{path}: holds {len(ts)} templates, expected exactly 1 (use load)")
    return ts[0]


_RESOURCES = ExitStack()


def default_directory() -> Path:
    """Directory of the shipped templates.

    In order: ``$DARKMOMENTS_TEMPLATES`` if set; the package resource
    ``darkmoments/_templates`` found with ``importlib.resources`` (the wheel, where
    pyproject's force-include maps the repository's ``templates/`` there); else, in a source
    checkout or editable install (where that resource does not exist), the repository's
    ``templates/`` directory next to ``src/``.

    Examples
    --------
    >>> from darkmoments import templates
    >>> (templates.default_directory() / "ldmx-phase2.h5").is_file()
    True
    """
    env = os.environ.get("DARKMOMENTS_TEMPLATES")
    if env:
        return Path(env)
    res = files("darkmoments") / "_templates"
    if res.is_dir():
        return Path(_RESOURCES.enter_context(as_file(res)))
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "templates").is_dir():
        return _SOURCE_ROOT / "templates"
    return Path(_RESOURCES.enter_context(as_file(res)))


def _shipped_directories() -> set[Path]:
    dirs = {default_directory().resolve()}
    if (_SOURCE_ROOT / "pyproject.toml").is_file():
        dirs.add((_SOURCE_ROOT / "templates").resolve())
    dirs.add((_PACKAGE_DIR / "_templates").resolve())
    return dirs


def is_shipped_directory(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is the directory of the shipped templates.

    Examples
    --------
    >>> import tempfile
    >>> from darkmoments import templates
    >>> templates.is_shipped_directory(templates.default_directory())
    True
    >>> templates.is_shipped_directory(tempfile.mkdtemp())
    False
    """
    return Path(path).resolve() in _shipped_directories()


class TemplateFileCache:
    """A bounded least-recently-used cache of opened template files.

    Holds :class:`darkmoments.io.templates_io.TemplateFile` objects (each with its index and
    the templates read so far).

    Keyed by (resolved path, mtime_ns, size): a rewritten file is read (and verified) again
    and its old entry dropped.  The files hand out copies of their templates
    (:meth:`TemplateFile.get`), so sharing a cache never shares mutable templates.

    Parameters
    ----------
    size : int
        Files kept (>= 1; default :data:`FILE_CACHE_SIZE`).

    Examples
    --------
    >>> from darkmoments.templates import TemplateFileCache, default_directory
    >>> cache = TemplateFileCache(size=2)
    >>> f = cache.get(default_directory() / "ldmx-phase2.h5")
    >>> len(cache), cache.get(default_directory() / "ldmx-phase2.h5") is f
    (1, True)
    """

    def __init__(self, size: int = FILE_CACHE_SIZE) -> None:
        self.size = check_int("size", size, lo=1)
        self._files: OrderedDict[tuple[str, int, int], templates_io.TemplateFile] = OrderedDict()

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        return iter(self.keys())

    def keys(self) -> list[tuple[str, int, int]]:
        """The cached entries, oldest first: (resolved path, mtime_ns, size)."""
        return list(self._files)

    def clear(self) -> None:
        """Forget every cached file (they are re-read and re-verified on next use)."""
        self._files.clear()

    def get(self, path: Path) -> templates_io.TemplateFile:
        """The opened template file at ``path`` (opened and indexed on first use).

        Raises
        ------
        OSError
            No such file (the message says how to build it).
        TemplateFileError
            Not a readable template file.
        """
        try:
            st = path.stat()
        except FileNotFoundError:
            raise OSError(
                f"no template file {path}; build it with `darkmoments templates build`"
            ) from None
        resolved = str(path.resolve())
        key = (resolved, st.st_mtime_ns, st.st_size)
        tf = self._files.get(key)
        if tf is None:
            tf = templates_io.TemplateFile(path)
            for old in [k for k in self._files if k[0] == resolved]:  # a rewritten file
                del self._files[old]
            self._files[key] = tf
            while len(self._files) > self.size:
                self._files.popitem(last=False)
        else:
            self._files.move_to_end(key)
        return tf


def check_matches(t: Template, exp: Experiment, path: Path, *, level: str = "truth") -> None:
    """Refuse a stored template that was not made for ``exp`` at ``level``.

    The level (metadata ``level``, absent = truth), the selection of that level
    (:meth:`Experiment.cuts_at`) and, at detector level, the detector configuration
    (metadata ``detector``, every parameter within ``CUT_RTOL``) must match.

    No comparison here depends on floats recomputed bit-exactly: the beam energy and the
    cuts are compared within ``CUT_RTOL`` (1e-9 relative), the bin edges within
    ``EDGE_RTOL`` (1e-9 relative, 1e-15 GeV absolute; :func:`experiments.edges_difference`).
    The template keeps the file's own edges (they are authoritative); the experiment's
    edges, computed on this machine, only have to agree within the tolerance.

    Raises
    ------
    TemplateFileError
        Naming the file, the template and every difference.

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.errors import TemplateFileError
    >>> from darkmoments.experiments import get_experiment
    >>> from darkmoments.templates.library import check_matches
    >>> t = templates.load("km", 0.1, "ldmx-phase2")
    >>> path = templates.template_path("ldmx-phase2")
    >>> check_matches(t, get_experiment("ldmx-phase2"), path)  # made for it: no error
    >>> try:
    ...     check_matches(t, get_experiment("ldmx-phase1"), path)
    ... except TemplateFileError as exc:
    ...     print("refused:", "ldmx-phase1" in str(exc))
    ...
    refused: True
    """
    md = t.metadata
    problems = []
    if t.experiment != exp.name:
        problems.append(f"experiment {t.experiment!r} != {exp.name!r}")
    if not math.isclose(float(md["beam_energy"]), exp.beam_energy, rel_tol=CUT_RTOL):
        problems.append(f"beam_energy {md['beam_energy']} != {exp.beam_energy} GeV")
    if md["lepton"] != exp.lepton:
        problems.append(f"lepton {md['lepton']!r} != {exp.lepton!r}")
    if md["target"] != exp.target.symbol:
        problems.append(f"target {md['target']!r} != {exp.target.symbol!r}")
    e_file, pt_file = (np.asarray(ax.edges, dtype=float) for ax in t.hist.axes)
    diff = exp.binning.difference(e_file, pt_file)
    if diff is not None:
        problems.append(f"binning differs from the experiment's: {diff}")
    level = check_level(level)
    cuts = md["cuts"] if isinstance(md["cuts"], dict) else {}
    cdiff = cuts_difference(cuts, exp.cuts_at(level).to_dict())
    if cdiff is not None:
        problems.append(cdiff)
    problems.extend(_level_problems(md, exp, level))
    if problems:
        raise TemplateFileError(
            f"{path}: template {t.model} m={t.mass} GeV does not match experiment "
            f"{exp.name}: " + "; ".join(problems)
        )


def _level_problems(md: dict[str, Any], exp: Experiment, level: str) -> list[str]:
    """Differences of a template's level and detector configuration from the request."""
    stored = md.get("level", "truth")
    if stored != level:
        return [f"level {stored!r} != {level!r}"]
    if level == "truth":
        return []
    want = exp.require_detector().to_dict()
    have = md.get("detector")
    if not isinstance(have, dict) or set(have) != set(want):
        return [f"detector configuration {have!r} != {want!r}"]
    out = []
    for k in sorted(want):
        a, b = have[k], want[k]
        if isinstance(b, bool | str):
            same = a == b
        else:
            same = np.allclose(
                np.asarray(a, float), np.asarray(b, float), rtol=CUT_RTOL, atol=1e-15
            )
        if not same:
            out.append(f"detector {k} is {a!r}, expected {b!r}")
    return out


@dataclass(frozen=True)
class SignalYield:
    """Expected signal yield and its MC uncertainty.

    Attributes
    ----------
    n_signal : float
        Expected events.
    error : float
        Uncertainty on ``n_signal`` (events): the template's MC error on sigma, the error of
        the mass interpolation of sigma (``sigma_interp_err_pb``, 0 on a grid node) and the
        binomial error of the selection efficiency, added in quadrature.
    model, experiment : str
        Identifiers.
    mass : float
        A' mass in GeV.
    coupling : float
        g_f in the model's units.
    sigma_pb : float
        Cross section at unit coupling (pb, before selection).
    selection_efficiency : float
        Fraction of signal passing the cuts.
    efficiency : float
        Experiment signal efficiency.
    events_per_pb : float
        Events per pb at efficiency 1.
    sigma_err_pb : float
        MC error of ``sigma_pb`` (pb).
    sigma_interp_err_pb : float
        Estimated error of the mass interpolation of ``sigma_pb`` (pb; 0 on a grid node;
        :func:`darkmoments.templates.interpolate`).

    Examples
    --------
    >>> from darkmoments import templates
    >>> y = templates.signal_yield("km", 0.1, 1e-5)
    >>> print(f"{y.n_signal:.3g} events")
    7.41 events
    >>> bool(abs(y.n_signal - y.events_per_pb * y.sigma_pb * 1e-10 * y.efficiency
    ...          * y.selection_efficiency) < 1e-9 * y.n_signal)
    True
    """

    n_signal: float
    error: float
    model: str
    mass: float
    coupling: float
    experiment: str
    sigma_pb: float
    selection_efficiency: float
    efficiency: float
    events_per_pb: float
    sigma_err_pb: float = 0.0
    sigma_interp_err_pb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (for ``--json``)."""
        return dict(self.__dict__)


class TemplateLibrary:
    """The templates of one directory, with a bounded cache that returns copies.

    Parameters
    ----------
    directory : path, optional
        Directory holding ``<experiment>.h5`` files; default :func:`default_directory`
        (looked up on every use, so ``$DARKMOMENTS_TEMPLATES`` is honoured).
    cache : TemplateFileCache, optional
        The cache of opened files (default: a new one of :data:`FILE_CACHE_SIZE` files).
        Libraries may share one cache.

    Examples
    --------
    >>> from darkmoments.templates import TemplateLibrary
    >>> lib = TemplateLibrary()                      # the shipped templates
    >>> t = lib.load("km", 0.1, "ldmx-phase2")       # interpolated: 0.1 is off the grid
    >>> t.model, t.experiment
    ('km', 'ldmx-phase2')
    >>> round(lib.signal_yield("km", 0.1, 1e-5).n_signal, 2)   # events at epsilon = 1e-5
    7.41
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        cache: TemplateFileCache | None = None,
    ) -> None:
        self._directory = None if directory is None else Path(directory)
        self.cache = TemplateFileCache() if cache is None else cache

    def __repr__(self) -> str:
        where = "default" if self._directory is None else str(self._directory)
        return f"TemplateLibrary({where})"

    @property
    def directory(self) -> Path:
        """The template directory."""
        return default_directory() if self._directory is None else self._directory

    # -- public entry points: experiment as a name, TOML path or Experiment ---------------

    def template_path(self, experiment: ExperimentLike, *, level: str = "truth") -> Path:
        """Path of an experiment's template file (:func:`level_file_name` in the directory)."""
        return self._path(get_experiment(experiment), level)

    def masses(
        self, model: str, experiment: ExperimentLike = "ldmx-phase2", *, level: str = "truth"
    ) -> NDArray[np.float64]:
        """Grid masses (GeV, ascending) of the templates of a model and experiment.

        Raises
        ------
        TemplateFileError
            The file holds no templates of ``model``.
        OSError
            No template file for the experiment.
        """
        mid = get_model(model).id
        path = self._path(get_experiment(experiment), level)
        return self._grid(self.cache.get(path), mid, path).copy()

    def load(
        self,
        model: str,
        mass: float,
        experiment: ExperimentLike = "ldmx-phase2",
        *,
        level: str = "truth",
    ) -> Template:
        """The template of a model at an A' mass [GeV] for an experiment (a copy).

        See :func:`darkmoments.templates.load` (grid masses as stored, others
        interpolated; errors).
        """
        mid = get_model(model).id
        m = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")  # numpy scalars too
        return self._load(mid, m, get_experiment(experiment), check_level(level))

    def catalogue(self) -> list[dict[str, Any]]:
        """What the directory holds: one row per (file, model).

        Returns
        -------
        list of dict
            ``file``, ``experiment``, ``model``, ``n_masses``, ``m_min``, ``m_max`` (GeV),
            ``size_mb`` (of the file), ``level`` (``truth`` or ``detector``, from the file
            name, :func:`level_file_name`).
        """
        d = self.directory
        rows: list[dict[str, Any]] = []
        if not d.is_dir():
            return rows
        for path in sorted(d.glob("*.h5")):
            tf = self.cache.get(path)
            try:
                exp_name = json.loads(tf.experiment_json).get("name", path.stem)
            except json.JSONDecodeError:
                exp_name = path.stem
            for model in sorted(tf.index, key=_model_order):
                g = tf.index[model]
                rows.append(
                    {
                        "file": path.name,
                        "experiment": exp_name,
                        "model": model,
                        "n_masses": int(g.size),
                        "m_min": float(g[0]),
                        "m_max": float(g[-1]),
                        "size_mb": round(path.stat().st_size / 1e6, 3),
                        "level": _file_level(path),
                    }
                )
        return rows

    def signal_yield(
        self,
        model: str,
        mass: float,
        coupling: float,
        experiment: ExperimentLike = "ldmx-phase2",
        *,
        level: str = "truth",
    ) -> SignalYield:
        """Expected signal events with their error (see :func:`signal_yield`)."""
        # the same rule as cross_section and generate: g_f is a finite number > 0
        g = check_real("coupling", coupling, lo=0.0, lo_open=True)
        m = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")
        exp = get_experiment(experiment)
        tpl = self._load(get_model(model).id, m, exp, check_level(level))
        return _yield_from_template(tpl, m, g, exp)

    def clear_cache(self) -> None:
        """Forget every cached file of this library's cache."""
        self.cache.clear()

    # -- internals: a resolved Experiment ---------------------------------------------------

    def _path(self, exp: Experiment, level: str = "truth") -> Path:
        return self.directory / level_file_name(exp.name, level)

    @staticmethod
    def _grid(tf: templates_io.TemplateFile, mid: str, path: Path) -> NDArray[np.float64]:
        if mid not in tf.index:
            raise TemplateFileError(
                f"{path}: no templates for model {mid}; present: {sorted(tf.index)}"
            )
        return tf.index[mid]

    def _load(self, mid: str, m: float, exp: Experiment, level: str = "truth") -> Template:
        path = self._path(exp, level)
        tf = self.cache.get(path)
        grid = self._grid(tf, mid, path)
        rtol = templates_io.MASS_KEY_RTOL
        if m < grid[0] * (1 - rtol) or m > grid[-1] * (1 + rtol):
            raise InputError(
                f"mass {m} GeV outside the template grid [{grid[0]}, {grid[-1]}] GeV of "
                f"model {mid}, experiment {exp.name}"
            )
        i = int(np.searchsorted(grid, m))
        for j in (i - 1, i):
            if 0 <= j < grid.size and abs(grid[j] - m) <= rtol * m:
                t = tf.get(mid, float(grid[j]))
                check_matches(t, exp, path, level=level)
                return t
        nodes = tf.model_templates(mid)  # cached, verified; read only here
        for t in nodes:
            check_matches(t, exp, path, level=level)
        # one interpolation (issue 11): the cubic spline in ln m through every node
        return interpolate(nodes, m, sigma_nodes=nodes)


def _model_order(model: str) -> int:
    return MODEL_IDS.index(model) if model in MODEL_IDS else 99


def _yield_from_template(tpl: Template, m: float, g: float, exp: Experiment) -> SignalYield:
    """N_sig and its error from a loaded template (formula in :func:`signal_yield`)."""
    eps = float(tpl.metadata["selection_efficiency"])
    eps_err = float(tpl.metadata.get("selection_efficiency_err", 0.0))
    interp_err = float(tpl.metadata.get("sigma_interp_err_pb", 0.0))
    # thick targets (M3): the depth factor f = <sigma> / sigma(E0) of the model at this mass
    n = float(exp.expected_events(tpl.sigma_pb, g, eps, model=tpl.model, mass=m))
    rel2 = 0.0
    if tpl.sigma_pb > 0:
        rel2 += (tpl.sigma_err_pb / tpl.sigma_pb) ** 2 + (interp_err / tpl.sigma_pb) ** 2
    if eps > 0:
        rel2 += (eps_err / eps) ** 2
    err = n * math.sqrt(rel2)
    hint = f"coupling {g!r} is too large for a float result; the yield scales as coupling^2"
    check_finite_result("n_signal", n, hint=hint)
    check_finite_result("n_signal error", err, hint=hint)
    return SignalYield(
        n_signal=n,
        error=err,
        model=tpl.model,
        mass=m,
        coupling=g,
        experiment=exp.name,
        sigma_pb=tpl.sigma_pb,
        selection_efficiency=eps,
        efficiency=exp.efficiency,
        events_per_pb=exp.events_per_pb,
        sigma_err_pb=tpl.sigma_err_pb,
        sigma_interp_err_pb=interp_err,
    )


# ----------------------------------------------------------------------------- module level

_DEFAULT = TemplateLibrary()


def default_library() -> TemplateLibrary:
    """The library of the shipped templates that the module-level functions use.

    Examples
    --------
    >>> from darkmoments import templates
    >>> lib = templates.default_library()
    >>> lib.directory == templates.default_directory()
    True
    """
    return _DEFAULT


def _library(directory: str | os.PathLike[str] | None) -> TemplateLibrary:
    if directory is None:
        return _DEFAULT
    return TemplateLibrary(directory, cache=_DEFAULT.cache)


def clear_cache() -> None:
    """Forget every cached template file (they are re-read and re-verified on next use).

    Examples
    --------
    >>> from darkmoments import templates
    >>> _ = templates.load("km", 0.1)
    >>> templates.clear_cache()  # the next load re-reads and re-verifies the file
    >>> templates.load("km", 0.1).model
    'km'
    """
    _DEFAULT.cache.clear()


def template_path(
    experiment: ExperimentLike,
    directory: str | os.PathLike[str] | None = None,
    *,
    level: str = "truth",
) -> Path:
    """Path of an experiment's template file: ``<directory>/<experiment name>.h5``.

    Examples
    --------
    >>> from darkmoments import templates
    >>> templates.template_path("ldmx-phase1").name
    'ldmx-phase1.h5'
    >>> templates.template_path("ldmx-phase2", level="detector").name
    'ldmx-phase2.detector.h5'
    """
    return _library(directory).template_path(experiment, level=level)


def masses(
    model: str,
    experiment: ExperimentLike = "ldmx-phase2",
    *,
    directory: str | os.PathLike[str] | None = None,
    level: str = "truth",
) -> NDArray[np.float64]:
    """Grid masses (GeV, ascending) of the templates of a model and experiment.

    Examples
    --------
    >>> from darkmoments import templates
    >>> m = templates.masses("km", "ldmx-phase2")
    >>> len(m), float(m[0]), float(m[-1])
    (40, 0.001, 3.0)
    """
    return _library(directory).masses(model, experiment, level=level)


def catalogue(directory: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """What a template directory holds: one row per (file, model).

    Returns
    -------
    list of dict
        ``file``, ``experiment``, ``model``, ``n_masses``, ``m_min``, ``m_max`` (GeV),
        ``size_mb`` (of the file).

    Examples
    --------
    >>> from darkmoments import templates
    >>> rows = templates.catalogue()
    >>> sorted({(r["experiment"], r["level"]) for r in rows})  # doctest: +NORMALIZE_WHITESPACE
    [('ldmx-phase1', 'detector'), ('ldmx-phase1', 'truth'), ('ldmx-phase2', 'detector'),
     ('ldmx-phase2', 'truth'), ('m3-phase1', 'truth'), ('m3-phase2', 'truth')]
    >>> [(r["model"], r["n_masses"]) for r in rows if r["experiment"] == "ldmx-phase2"][:2]
    [('km', 40), ('md', 40)]
    """
    return _library(directory).catalogue()


def load(
    model: str,
    mass: float,
    experiment: ExperimentLike = "ldmx-phase2",
    *,
    directory: str | os.PathLike[str] | None = None,
    level: str = "truth",
) -> Template:
    """The template of a model at an A' mass [GeV] for an experiment.

    Parameters
    ----------
    model : str
        Model id, letter or name.
    mass : float
        A' mass in GeV (Python or numpy number); grid masses (within
        ``templates_io.MASS_KEY_RTOL`` = 1e-6 relative) are returned as stored, others
        interpolated (:func:`~darkmoments.templates.core.interpolate`: shape and sigma by
        the not-a-knot cubic spline in ln m through every node of the model, with
        ``metadata["sigma_interp_err_pb"]``).
    experiment : str or Experiment
        ``ldmx-phase1``, ``ldmx-phase2``, a TOML path or an Experiment.
    directory : path, optional
        Directory holding ``<experiment>.h5``; default :func:`default_directory`
        (the shipped templates).
    level : str
        ``"truth"`` (default, the paper's: the recoil at the vertex) or ``"detector"``
        (``<experiment>.detector.h5``: after target, tracker, acceptance and the
        experiment's ``detector_cuts``; docs/detector.md).

    Returns
    -------
    Template
        An independent copy: changing it does not change what later calls return.

    Raises
    ------
    InputError, InputTypeError
        Mass not a finite number > 0, or outside the grid (the message names the range).
    TemplateFileError
        Corrupted file, or a file made for another setup (names file, template, difference).
    OSError
        No template file for the experiment.

    Examples
    --------
    >>> from darkmoments import templates
    >>> t = templates.load("md", 0.1, experiment="ldmx-phase2")  # between grid masses
    >>> round(t.hist.sum().value, 12), t.metadata["interpolated"]
    (1.0, True)
    >>> print(f"sigma = {t.sigma_pb:.3g} pb at g_f = 1 GeV^-1")
    sigma = 3.17e+07 pb at g_f = 1 GeV^-1
    >>> templates.load("md", 5.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: mass 5.0 GeV outside the template grid [0.001, 3.0] ...
    """
    return _library(directory).load(model, mass, experiment, level=level)


def signal_yield(
    model: str,
    mass: float,
    coupling: float,
    experiment: ExperimentLike = "ldmx-phase2",
    *,
    directory: str | os.PathLike[str] | None = None,
    level: str = "truth",
) -> SignalYield:
    """Expected signal events for a model, A' mass [GeV] and coupling g_f, with MC error.

    N = sigma_pb(g=1) * g^2 * selection_efficiency * efficiency * events_per_pb, with
    sigma_pb and the selection efficiency from the template (interpolated off-grid).
    Relative error = sqrt((d sigma_MC / sigma)^2 + (d sigma_interp / sigma)^2 +
    (d eps_sel / eps_sel)^2), d sigma_interp the template's ``sigma_interp_err_pb``.

    Parameters
    ----------
    model : str
        Model id (``km md ed cr am``).
    mass : float
        A' mass in GeV (within the template grid).
    coupling : float
        g_f in the model's units (1, GeV^-1, GeV^-2), a finite number > 0.
    experiment : str or Experiment
        Setup name, TOML path or Experiment.
    directory : path, optional
        Template directory; default: the templates shipped with darkmoments.

    Returns
    -------
    SignalYield

    Raises
    ------
    InputError, InputTypeError
        Coupling or mass not a finite number > 0; mass outside the grid.
    NonFiniteResultError
        The yield overflows (a coupling so large that g^2 sigma is not a finite float).

    Examples
    --------
    >>> from darkmoments import templates
    >>> a = templates.signal_yield("md", 0.1, 1e-6)
    >>> b = templates.signal_yield("md", 0.1, 2e-6)
    >>> round(b.n_signal / a.n_signal, 9)  # N ~ g_f^2
    4.0
    """
    return _library(directory).signal_yield(model, mass, coupling, experiment, level=level)
