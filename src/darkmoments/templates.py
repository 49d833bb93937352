"""2D (E, p_T) signal templates of the recoil lepton.

A :class:`Template` is one (model, mass, experiment) entry: a ``hist.Hist`` with two axes,
``E`` (recoil-lepton energy, GeV, 0..E0) and ``pt`` (recoil-lepton transverse momentum, GeV),
``Weight`` storage holding the *normalised* shape (values sum to 1 over all bins, variances
are the MC variances of those fractions), and the cross section at unit coupling.

Public interface (other modules code against it; keep it stable)
-----------------------------------------------------------------
``load(model, mass, experiment="ldmx-phase2", *, directory=None) -> Template``
    The shipped template (or one from ``directory``).  ``hist`` is normalised to unit sum
    over the bins of the *selected* events, variances are the MC variances of the fractions;
    ``sigma_pb`` is the cross section at coupling 1 *before* selection; ``metadata`` holds
    ``selection_efficiency`` (+ ``selection_efficiency_err``), ``beam_energy``, ``lepton``,
    ``target``, ``coupling``, ``n_events``, ``seed``, ``generator_version``, ``binning``,
    ``cuts``, ``checksum`` ...  An off-grid mass is interpolated (:func:`interpolate`); a mass
    outside the grid raises ``ValueError`` naming the allowed range.
``masses(model, experiment="ldmx-phase2", *, directory=None) -> numpy.ndarray``
    The grid masses in GeV.
``build_template(model, mass, experiment, n_events, seed) -> Template``
    Calls ``darkmoments.generate`` (unweighted events), applies the experiment's cuts and
    fills the histogram.
``save(template, path)`` / ``read(path)``
    One template per file, same HDF5 format as the shipped files
    (:mod:`darkmoments.io.templates_io`).
``plan_grid(experiment, models, masses, n_events)`` / ``build_grid(..., out=DIR, ...)``
    The engine of ``darkmoments templates build``: every job validated up front, deterministic
    seed per template (:func:`template_seed`), resumable through :mod:`darkmoments.checkpoint`,
    atomic writes, progress bar, serial / processes / Dask.  ``out`` is required: the shipped
    templates are only written when named explicitly (or with ``update_shipped=True``).
``interpolate_sigma``, ``lagrange_weights``, ``spline_weights``, ``stencil``
    The interpolation scheme (below), public for reuse.

Interpolation in mass
---------------------
At an off-grid mass m (:func:`load`, :func:`interpolate`):

* shape, variances and selection efficiency: Lagrange-interpolated in ln m, bin by bin,
  through the 4 consecutive grid masses of :func:`stencil` (two on each side; one-sided
  4-node stencils in the first and last interval, never a lower order): fractions
  sum_i L_i p_i (negative values, possible only in nearly empty bins because the cubic has
  negative weights, are set to 0 and the shape renormalised), variances sum_i L_i^2 V_i;
* cross section: ln sigma by the not-a-knot cubic spline in ln m through every grid node
  (:func:`interpolate_sigma`; exact for any power law), with MC error sum_i c_i^2
  (dsigma_i/sigma_i)^2 and an interpolation error estimate (:func:`interpolate_sigma`) quoted
  as ``metadata["sigma_interp_err_pb"]`` (included in
  :func:`darkmoments.experiments.signal_yield`'s error).  Against cross sections generated
  directly at the log-midpoints of the top halves of both LDMX grids it is within 2e-3
  (rms 7e-4, the size of the MC errors); a 4-node cubic misplaces sigma by up to 5e-3 at the
  form-factor kink near 1 GeV, the former linear top interval by 2-6 %.
  Leave-one-out on every node: tests/test_sigma_interpolation.py.

:func:`lagrange_weights`, :func:`spline_weights` and :func:`stencil` are general and public so
that other modules (the statistics) can use the same scheme.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import hist
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._version import __version__
from .errors import InputError, OutputPathError, StaleCheckpointError, TemplateFileError
from .experiments import (
    CUT_RTOL,
    EDGE_RTOL,
    MASS_DIGITS,
    Binning,
    Experiment,
    cuts_difference,
    edges_difference,
    get_experiment,
    round_significant,
)
from .io import templates_io
from .models import MODEL_IDS, get_model
from .validation import check_int, check_real

__all__ = [
    "DEFAULT_BASE_SEED",
    "DEFAULT_N_EVENTS",
    "SHAPE_POINTS",
    "BuildPlan",
    "BuildReport",
    "SigmaInterpolation",
    "Template",
    "build_grid",
    "build_output_directory",
    "build_template",
    "catalogue",
    "clear_cache",
    "default_directory",
    "empty_hist",
    "fill_template_hist",
    "interpolate",
    "interpolate_sigma",
    "is_shipped_directory",
    "lagrange_weights",
    "load",
    "masses",
    "plan_grid",
    "read",
    "save",
    "spline_weights",
    "stencil",
    "template_from_events",
    "template_path",
    "template_seed",
]

#: Events per shipped template (issue 3: at least 1e5 unweighted events).
DEFAULT_N_EVENTS: int = 100_000
#: Base seed of the shipped grid (per-template seeds derive from it, :func:`template_seed`).
DEFAULT_BASE_SEED: int = 20250904


@dataclass(frozen=True)
class Template:
    """One signal template.

    Attributes
    ----------
    hist : hist.Hist
        2D histogram over axes ``E`` and ``pt`` (GeV), Weight storage, values normalised to a
        unit sum (probability per bin), variances = MC variance of each fraction.
    model : str
        Model id (``km md ed cr am``).
    mass : float
        A' mass in GeV.
    experiment : str
        Experiment name (``ldmx-phase1``, ``ldmx-phase2`` or a user setup).
    sigma_pb : float
        Total cross section at unit coupling g_f = 1 (model units) in pb, before selection.
    sigma_err_pb : float
        Its MC uncertainty in pb.
    metadata : dict
        Everything else stored with the file (lepton, target, beam energy, events, seed,
        generator version, binning, selection efficiency, checksum ...).
    """

    hist: hist.Hist
    model: str
    mass: float
    experiment: str
    sigma_pb: float
    sigma_err_pb: float
    metadata: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- histograms


def empty_hist(binning: Binning) -> hist.Hist:
    """An empty (E, p_T) histogram with Weight storage and no flow bins.

    Parameters
    ----------
    binning : Binning
        Edges in GeV.
    """
    return hist.Hist(
        hist.axis.Variable(
            binning.e_edges, name="E", label="E [GeV]", underflow=False, overflow=False
        ),
        hist.axis.Variable(
            binning.pt_edges, name="pt", label="p_T [GeV]", underflow=False, overflow=False
        ),
        storage=hist.storage.Weight(),
    )


def fill_template_hist(
    energy: ArrayLike,
    pt: ArrayLike,
    weight: ArrayLike | None,
    binning: Binning,
    passed: ArrayLike | None = None,
) -> tuple[hist.Hist, float, float]:
    """Normalised template histogram and selection efficiency from events.

    With W_b = sum of weights in bin b, V_b = sum of squared weights, W and V the totals over
    *all* events (selected or not) and W_s = sum_b W_b the selected total, the fractions are
    p_b = W_b / W_s with the delta-method variance
    [(1 - p_b)^2 V_b + p_b^2 (V_s - V_b)] / W_s^2, which is the multinomial p_b (1 - p_b) / n
    for unit weights.  The selection efficiency is eps = W_s / W with variance
    [(1 - eps)^2 V_s + eps^2 (V - V_s)] / W^2 (binomial eps (1 - eps) / n for unit weights).

    Parameters
    ----------
    energy, pt : array_like
        Recoil-lepton E and p_T in GeV, one entry per event.
    weight : array_like or None
        Event weights (any common unit, e.g. pb per event); ``None`` means 1.
    binning : Binning
        Template edges (GeV); events outside count as not selected.
    passed : array_like of bool, optional
        Selection mask (default: all events pass).

    Returns
    -------
    (hist.Hist, float, float)
        The normalised histogram, the selection efficiency and its MC error.
    """
    e = np.asarray(energy, dtype=float)
    p = np.asarray(pt, dtype=float)
    if e.shape != p.shape or e.ndim != 1:
        raise ValueError(
            f"energy and pt must be 1D arrays of equal length, got {e.shape}, {p.shape}"
        )
    w = np.ones_like(e) if weight is None else np.asarray(weight, dtype=float)
    if w.shape != e.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, >= 0 and one per event")
    sel = np.ones(e.shape, dtype=bool) if passed is None else np.asarray(passed, dtype=bool)
    ee, pe = binning.e_edges, binning.pt_edges
    sel = sel & (e >= ee[0]) & (e < ee[-1]) & (p >= pe[0]) & (p < pe[-1])
    W, V = float(w.sum()), float((w**2).sum())
    if W <= 0:
        raise ValueError("no events with positive weight: cannot build a template")
    h = empty_hist(binning)
    h.fill(E=e[sel], pt=p[sel], weight=w[sel])
    Wb = h.values()
    Vb = h.variances()
    assert Vb is not None
    Ws, Vs = float(Wb.sum()), float(Vb.sum())
    if Ws > 0:
        frac = Wb / Ws
        var = ((1.0 - frac) ** 2 * Vb + frac**2 * (Vs - Vb)) / Ws**2
    else:
        frac = np.zeros_like(Wb)
        var = np.zeros_like(Wb)
    h.view()["value"] = frac
    h.view()["variance"] = np.clip(var, 0.0, None)
    if np.all(sel):  # exact: avoids a 1 - 1e-15 from summing in another order
        return h, 1.0, 0.0
    eps = Ws / W
    eps_var = ((1.0 - eps) ** 2 * Vs + eps**2 * (V - Vs)) / W**2
    return h, eps, math.sqrt(max(eps_var, 0.0))


def template_from_events(
    events: Any,
    model: str,
    mass: float,
    experiment: str | Experiment,
    sigma_pb: float,
    sigma_err_pb: float,
    metadata: dict[str, Any] | None = None,
) -> Template:
    """Template from an event table (columns ``lepton_E``, ``lepton_pt``, ``weight``).

    Applies the experiment's cuts and binning (:func:`fill_template_hist`) and fills the
    standard metadata.

    Parameters
    ----------
    events : pandas.DataFrame or mapping of arrays
        Recoil-lepton energy and p_T in GeV, weight in pb per event (optional).
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    experiment : str or Experiment
        The setup (beam, cuts, binning).
    sigma_pb, sigma_err_pb : float
        Cross section at unit coupling and its MC error, pb, before selection.
    metadata : dict, optional
        Extra metadata (``n_events``, ``seed``, ``generator_version`` ...).

    Returns
    -------
    Template
    """
    exp = get_experiment(experiment)
    mid = get_model(model).id
    assert exp.binning is not None
    energy = np.asarray(events["lepton_E"], dtype=float)
    pt = np.asarray(events["lepton_pt"], dtype=float)
    weight = np.asarray(events["weight"], dtype=float) if "weight" in events else None
    passed = exp.cuts.mask(energy, pt, exp.beam_energy)
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
        "cuts": exp.cuts.to_dict(),
    }
    meta.update(metadata or {})
    return Template(h, mid, float(mass), exp.name, float(sigma_pb), float(sigma_err_pb), meta)


def template_seed(
    model: str, mass: float, experiment: str, base_seed: int = DEFAULT_BASE_SEED
) -> int:
    """Deterministic 32-bit seed of one template.

    The first 4 bytes (little endian) of SHA-256 of ``"base_seed|experiment|model|%.6e mass"``:
    independent of the order and the machine a grid is built on.
    """
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise ValueError(f"base_seed must be an integer >= 0, got {base_seed!r}")
    text = f"{base_seed}|{experiment}|{get_model(model).id}|{templates_io.mass_key(mass)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def build_template(
    model: str,
    mass: float,
    experiment: str | Experiment,
    n_events: int,
    seed: int,
    *,
    progress: bool = False,
) -> Template:
    """Generate ``n_events`` unweighted events and make the template.

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    experiment : str or Experiment
        Setup: beam lepton and energy, target, cuts, binning.
    n_events : int
        Unweighted events to generate (>= 1).
    seed : int
        Generator seed (same seed -> bit-identical template).
    progress : bool
        Show the generator's progress bar.

    Returns
    -------
    Template
    """
    import darkmoments

    exp = get_experiment(experiment)
    n_events = check_int("n_events", n_events, lo=1)
    mass = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")
    generate = getattr(darkmoments, "generate", None)
    if generate is None:  # the package namespace may not re-export it yet
        from .generator import generate
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
    meta = {
        "seed": int(seed),
        "generator_version": str(gen_meta.get("generator_version", darkmoments.__version__)),
        "unweighting_efficiency": float(getattr(sample, "unweighting_efficiency", float("nan"))),
    }
    if not math.isfinite(meta["unweighting_efficiency"]):
        del meta["unweighting_efficiency"]
    return template_from_events(
        sample.events, model, mass, exp, sample.sigma_pb, sample.sigma_err_pb, meta
    )


# ----------------------------------------------------------------------------- files


def save(template: Template, path: str | os.PathLike[str]) -> Path:
    """Write one template to an HDF5 file (atomically).  Returns the path."""
    return templates_io.write_templates(path, [template])


def read(path: str | os.PathLike[str]) -> Template:
    """Read the single template of a file written by :func:`save` (verified).

    Raises
    ------
    ValueError
        If the file is corrupted, of another format version, lacks a field, or holds more
        than one template.
    """
    ts = templates_io.read_templates(path)
    if len(ts) != 1:
        raise ValueError(f"{path}: holds {len(ts)} templates, expected exactly 1 (use load)")
    return ts[0]


_RESOURCES = ExitStack()


def default_directory() -> Path:
    """Directory of the shipped templates.

    In order: ``$DARKMOMENTS_TEMPLATES`` if set; the package resource
    ``darkmoments/_templates`` found with ``importlib.resources`` (the wheel, where
    pyproject's force-include maps the repository's ``templates/`` there); else, in a source
    checkout or editable install (where that resource does not exist), the repository's
    ``templates/`` directory next to ``src/``.
    """
    env = os.environ.get("DARKMOMENTS_TEMPLATES")
    if env:
        return Path(env)
    res = files("darkmoments") / "_templates"
    if res.is_dir():
        return Path(_RESOURCES.enter_context(as_file(res)))
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "templates").is_dir():
        return root / "templates"
    return Path(_RESOURCES.enter_context(as_file(res)))


def template_path(
    experiment: str | Experiment, directory: str | os.PathLike[str] | None = None
) -> Path:
    """Path of an experiment's template file: ``<directory>/<experiment name>.h5``."""
    exp = get_experiment(experiment)
    d = default_directory() if directory is None else Path(directory)
    return d / f"{exp.name}.h5"


#: Open template files kept in memory (least recently used beyond that are dropped).
FILE_CACHE_SIZE: int = 8
# (resolved path, mtime_ns, size) -> TemplateFile.  Bounded; the TemplateFile hands out
# copies of its templates, so no caller can change what another caller gets.
_FILES: OrderedDict[tuple[str, int, int], templates_io.TemplateFile] = OrderedDict()


def _template_file(path: Path) -> templates_io.TemplateFile:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise OSError(
            f"no template file {path}; build it with `darkmoments templates build`"
        ) from None
    resolved = str(path.resolve())
    key = (resolved, st.st_mtime_ns, st.st_size)
    tf = _FILES.get(key)
    if tf is None:
        tf = templates_io.TemplateFile(path)
        for old in [k for k in _FILES if k[0] == resolved]:  # a rewritten file: drop the old
            del _FILES[old]
        _FILES[key] = tf
        while len(_FILES) > FILE_CACHE_SIZE:
            _FILES.popitem(last=False)
    else:
        _FILES.move_to_end(key)
    return tf


def clear_cache() -> None:
    """Forget every cached template file (they are re-read and re-verified on next use)."""
    _FILES.clear()


def _check_matches(t: Template, exp: Experiment, path: Path) -> None:
    """Refuse a stored template that was not made for ``exp``.

    No comparison here depends on floats recomputed bit-exactly: the beam energy and the
    cuts are compared within ``CUT_RTOL`` (1e-9 relative), the bin edges within
    ``EDGE_RTOL`` (1e-9 relative, 1e-15 GeV absolute; :func:`experiments.edges_difference`).
    The template keeps the file's own edges (they are authoritative); the experiment's
    edges, computed on this machine, only have to agree within the tolerance.
    """
    md = t.metadata
    assert exp.binning is not None
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
    cuts = md["cuts"] if isinstance(md["cuts"], dict) else {}
    cdiff = cuts_difference(cuts, exp.cuts.to_dict())
    if cdiff is not None:
        problems.append(cdiff)
    if problems:
        raise TemplateFileError(
            f"{path}: template {t.model} m={t.mass} GeV does not match experiment "
            f"{exp.name}: " + "; ".join(problems)
        )


def masses(
    model: str,
    experiment: str | Experiment = "ldmx-phase2",
    *,
    directory: str | os.PathLike[str] | None = None,
) -> NDArray[np.float64]:
    """Grid masses (GeV, ascending) of the templates of a model and experiment."""
    mid = get_model(model).id
    path = template_path(experiment, directory)
    tf = _template_file(path)
    if mid not in tf.index:
        raise ValueError(f"{path}: no templates for model {mid}; present: {sorted(tf.index)}")
    return tf.index[mid].copy()


#: Nodes of the Lagrange stencil in ln m for shapes and the selection efficiency (cubic).
SHAPE_POINTS: int = 4


def lagrange_weights(x: Sequence[float], x0: float) -> NDArray[np.float64]:
    """Lagrange interpolation weights L_i(x0) for any nodes x (distinct; they sum to 1).

    ``sum_i L_i(x0) y_i`` is the polynomial of degree ``len(x) - 1`` through ``(x_i, y_i)``
    evaluated at ``x0`` (linear for 2 nodes, cubic for 4); ``x0`` outside the nodes
    extrapolates.  General and public: the statistics can use the same weights.

    Parameters
    ----------
    x : sequence of float
        Distinct nodes (any order; e.g. ln m).
    x0 : float
        Where to evaluate.

    Returns
    -------
    numpy.ndarray
        One weight per node.
    """
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1 or xs.size < 1:
        raise InputError(f"lagrange_weights needs a 1D list of nodes, got {x!r}")
    if np.unique(xs).size != xs.size:
        raise InputError(f"lagrange_weights needs distinct nodes, got {xs.tolist()}")
    w = np.ones(xs.size)
    for i in range(xs.size):
        for j in range(xs.size):
            if i != j:
                w[i] *= (x0 - xs[j]) / (xs[i] - xs[j])
    return w


def stencil(nodes: Sequence[float], x0: float, n_points: int = SHAPE_POINTS) -> NDArray[np.intp]:
    """Indices of the ``n_points`` consecutive nodes used to interpolate at ``x0``.

    The same rule at every position: ``n_points // 2`` nodes on each side of ``x0`` where
    they exist; near the ends the window is shifted inwards (a one-sided stencil of the same
    size, never a lower order); all nodes if there are fewer.

    Parameters
    ----------
    nodes : sequence of float
        Strictly increasing nodes (e.g. ln m of the grid).
    x0 : float
        Where to interpolate.
    n_points : int
        Stencil size (>= 1).

    Returns
    -------
    numpy.ndarray of int
    """
    xs = np.asarray(nodes, dtype=float)
    k = min(check_int("n_points", n_points, lo=1), xs.size)
    i = int(np.searchsorted(xs, x0))
    lo = min(max(i - k // 2, 0), xs.size - k)
    return np.arange(lo, lo + k)


def spline_weights(x: Sequence[float], x0: float, degree: int = 3) -> NDArray[np.float64]:
    """Weights c_i(x0) of the interpolating spline through nodes x: ``s(x0) = sum c_i y_i``.

    ``degree=3``: the not-a-knot cubic spline (C2; its first two and last two intervals
    are each one cubic, so the ends are interpolated at the same order as the interior);
    ``degree=5``: the quintic interpolating spline (used to estimate the cubic's error).
    With fewer than ``degree + 1`` nodes the weights are those of the polynomial through all
    nodes (:func:`lagrange_weights`), which is what the spline reduces to.  The weights are
    the values at ``x0`` of the cardinal splines (the spline of each unit vector), so MC
    errors propagate as ``sum_i c_i^2 err_i^2``.

    Parameters
    ----------
    x : sequence of float
        Strictly increasing nodes.
    x0 : float
        Where to evaluate (outside the nodes: the end polynomials extrapolate).
    degree : int
        3 or 5.

    Returns
    -------
    numpy.ndarray
    """
    from scipy.interpolate import CubicSpline, make_interp_spline

    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1 or xs.size < 1 or np.any(np.diff(xs) <= 0):
        raise InputError(f"spline_weights needs strictly increasing nodes, got {x!r}")
    if degree not in (3, 5):
        raise InputError(f"spline degree must be 3 or 5, got {degree!r}")
    if xs.size <= degree:
        return lagrange_weights(xs, x0)
    eye = np.eye(xs.size)
    if degree == 3:
        return np.asarray(CubicSpline(xs, eye, bc_type="not-a-knot")(x0), dtype=float)
    return np.asarray(make_interp_spline(xs, eye, k=5)(x0), dtype=float)


@dataclass(frozen=True)
class SigmaInterpolation:
    """Cross section at an off-grid mass from the grid's cross sections.

    Attributes
    ----------
    sigma_pb : float
        Interpolated sigma (pb).
    mc_err_pb : float
        Its MC error, propagated from the nodes' MC errors (pb).
    interp_err_pb : float
        Estimated interpolation error (pb): the larger of the difference from the quintic
        spline (>= 6 nodes; the polynomial through one node fewer otherwise) and the
        cubic-spline error bound (5/384) h^4 |d^4 ln sigma / d (ln m)^4|.
    scheme : str
        Human-readable description.
    """

    sigma_pb: float
    mc_err_pb: float
    interp_err_pb: float
    scheme: str


def interpolate_sigma(
    masses: Sequence[float],
    sigma_pb: Sequence[float],
    sigma_err_pb: Sequence[float],
    mass: float,
) -> SigmaInterpolation:
    """ln sigma interpolated in ln m by the not-a-knot cubic spline through every node.

    Why this scheme (issue 9.2; evidence in tests/test_sigma_interpolation.py): sigma falls
    by 12 orders of magnitude over the grid and bends sharply at 0.6-2 GeV (the nuclear form
    factor), so a local cubic through 4 nodes misplaces it by up to 0.5 % between nodes there
    (linear at the top interval: 2-6 %), ~10 times its MC error of ~5e-4.  The cubic spline
    is of the same order everywhere, and against directly generated cross sections at the
    log-midpoints of the upper half of both LDMX grids it stays within 2e-3 (rms 7e-4, the
    size of the MC errors themselves).  ln sigma is exact for any power law sigma ~ m^k.

    The interpolation error is estimated as the larger of |cubic spline - quintic spline|
    (both through all nodes; dominant when extrapolating) and the classical cubic-spline
    bound (5/384) h^4 |d^4 ln sigma / d (ln m)^4|, the fourth derivative from the divided
    differences of the nodes around ``mass`` (dominant near the form-factor kink), and
    quoted with the result.  Calibration: leave-one-out on all 400 nodes of the shipped
    grids gives pulls (deviation over the combined MC and estimated errors) below 2.2, and
    132 directly generated midpoint cross sections below 2.6 (rms 0.8).

    Parameters
    ----------
    masses : sequence of float
        Grid masses in GeV, strictly increasing.
    sigma_pb, sigma_err_pb : sequence of float
        Cross sections (> 0) and their MC errors (pb).
    mass : float
        Target mass in GeV (outside the grid: extrapolated, with a larger error estimate).

    Returns
    -------
    SigmaInterpolation
    """
    m = np.asarray(masses, dtype=float)
    s = np.asarray(sigma_pb, dtype=float)
    e = np.asarray(sigma_err_pb, dtype=float)
    if m.ndim != 1 or m.size < 1 or s.shape != m.shape or e.shape != m.shape:
        raise InputError("interpolate_sigma needs equal-length 1D masses, sigma and errors")
    if np.any(m <= 0) or np.any(np.diff(m) <= 0):
        raise InputError(f"masses must be > 0 GeV and strictly increasing, got {m.tolist()}")
    x, x0 = np.log(m), math.log(check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV"))
    if m.size == 1:
        return SigmaInterpolation(float(s[0]), float(e[0]), 0.0, "single node")
    if np.all(s > 0):
        y, rel = np.log(s), e / s
        c = spline_weights(x, x0, 3)
        ly = float(c @ y)
        sigma = math.exp(ly)
        mc = sigma * math.sqrt(float((c**2) @ (rel**2)))
        if m.size >= 6:
            alt = float(spline_weights(x, x0, 5) @ y)
            what = "quintic spline"
        else:
            idx = np.sort(np.argsort(np.abs(x - x0), kind="stable")[: m.size - 1])
            alt = float(lagrange_weights(x[idx], x0) @ y[idx])
            what = f"{m.size - 1}-node polynomial"
        err_ln = max(abs(alt - ly), _spline_error_bound(x, y, x0))
        interp = sigma * math.expm1(err_ln)
        order = "cubic spline" if m.size >= 4 else f"{m.size}-node polynomial"
        scheme = (
            f"ln sigma: not-a-knot {order} in ln m through {m.size} nodes; error estimate "
            f"max(|{order} - {what}|, 5/384 h^4 |d^4 ln sigma / d (ln m)^4|)"
        )
        return SigmaInterpolation(sigma, mc, interp, scheme)
    # a zero cross section somewhere (no events): linear in sigma, no log
    c = spline_weights(x, x0, 3)
    sigma = max(float(c @ s), 0.0)
    return SigmaInterpolation(
        sigma, math.sqrt(float((c**2) @ (e**2))), 0.0, "sigma: cubic spline in ln m"
    )


def _spline_error_bound(x: NDArray[np.float64], y: NDArray[np.float64], x0: float) -> float:
    """(5/384) h^4 max|y^(4)|: the classical error bound of cubic-spline interpolation.

    h is the width of the node interval holding ``x0`` (outside the nodes: the distance to
    the nearest node if larger); y^(4) is estimated as 4! times the largest fourth divided
    difference over the 5-node windows that touch that interval.  0 with fewer than 5 nodes.
    """
    n = x.size
    if n < 5:
        return 0.0
    i = min(max(int(np.searchsorted(x, x0)), 1), n - 1)
    h = float(x[i] - x[i - 1])
    if x0 < x[0] or x0 > x[-1]:
        h = max(h, float(min(abs(x0 - x[0]), abs(x0 - x[-1]))))
    d4 = 0.0
    for lo in range(max(0, i - 5), min(n - 5, i) + 1):
        xs, ys = x[lo : lo + 5], y[lo : lo + 5]
        w = [1.0 / math.prod(xs[a] - xs[b] for b in range(5) if b != a) for a in range(5)]
        d4 = max(d4, 24.0 * abs(float(np.dot(w, ys))))
    return 5.0 / 384.0 * h**4 * d4


def _derived_checksum(kind: str, mass: float, sources: Sequence[str | None]) -> str:
    """Fingerprint of a derived template from its stored inputs (never from computed floats).

    SHA-256 of the scheme, the target mass (its ``repr``) and the checksums of every stored
    template it was computed from: the same on every machine.
    """
    h = hashlib.sha256(f"{kind}|{float(mass)!r}".encode())
    for c in sources:
        h.update(b"|" + (c or "none").encode())
    return h.hexdigest()


def interpolate(
    neighbours: Sequence[Template],
    mass: float,
    *,
    sigma_nodes: Sequence[Template] | None = None,
) -> Template:
    """Template at an off-grid mass: shape from ``neighbours``, sigma from ``sigma_nodes``.

    * Shape (bin fractions), variances and selection efficiency: Lagrange interpolation in
      ln m through all ``neighbours`` (:func:`lagrange_weights`; :func:`load` passes the 4
      nodes of :func:`stencil`, one-sided at the ends): fractions sum_i L_i p_i (negative
      fractions from the cubic's negative weights in nearly empty bins are set to 0 and the
      shape renormalised), variances sum_i L_i^2 V_i (independent MC samples).
    * Cross section: :func:`interpolate_sigma` (not-a-knot cubic spline of ln sigma in ln m)
      through ``sigma_nodes`` (:func:`load` passes every grid node of the model), or
      through ``neighbours`` if not given.  ``sigma_err_pb`` is the propagated MC error;
      the estimated interpolation error is ``metadata["sigma_interp_err_pb"]`` (pb) and
      :func:`darkmoments.experiments.signal_yield` adds it to the yield's error.

    Parameters
    ----------
    neighbours : sequence of Template
        Same model, experiment and binning (within :data:`EDGE_RTOL`), masses strictly
        increasing, ``mass`` inside their range.
    mass : float
        Target mass in GeV.
    sigma_nodes : sequence of Template, optional
        Templates (same model and experiment, increasing masses) whose cross sections are
        interpolated; default ``neighbours``.

    Returns
    -------
    Template
        With metadata ``interpolated = True``, ``interpolated_from`` (the shape nodes),
        ``interpolation``, ``sigma_interpolation``, ``sigma_interp_err_pb`` and a
        ``checksum`` derived from the checksums of every template used.
    """
    ts = list(neighbours)
    if len(ts) < 2:
        raise ValueError(f"interpolate needs at least 2 templates, got {len(ts)}")
    first = ts[0]
    ms = np.array([t.mass for t in ts])
    if any(t.model != first.model or t.experiment != first.experiment for t in ts):
        raise ValueError("interpolate needs templates of the same model and experiment")
    if np.any(np.diff(ms) <= 0):
        raise ValueError(f"interpolate needs strictly increasing masses, got {ms.tolist()}")
    if not (ms[0] <= mass <= ms[-1]):
        raise ValueError(f"mass {mass} GeV outside [{ms[0]}, {ms[-1]}] GeV")
    e0, pt0 = (np.asarray(ax.edges, dtype=float) for ax in first.hist.axes)
    for t in ts[1:]:
        if len(t.hist.axes) != 2:
            raise ValueError("interpolate needs 2D (E, pt) templates")
        e1, pt1 = (np.asarray(ax.edges, dtype=float) for ax in t.hist.axes)
        lab = (f"at m={t.mass} GeV", f"at m={first.mass} GeV")
        diff = edges_difference("E", e1, e0, labels=lab) or edges_difference(
            "p_T", pt1, pt0, labels=lab
        )
        if diff is not None:
            raise ValueError(
                f"interpolate needs templates with the same binning (within {EDGE_RTOL:g} "
                f"relative): {diff}"
            )
    lw = lagrange_weights(np.log(ms), math.log(mass))
    values = sum(w * t.hist.values() for w, t in zip(lw, ts, strict=True))
    variances = sum(w**2 * t.hist.variances() for w, t in zip(lw, ts, strict=True))
    values = np.clip(values, 0.0, None)
    total = float(values.sum())
    if total > 0:
        values = values / total
        variances = variances / total**2
    h = first.hist.copy()
    h.view()["value"] = values
    h.view()["variance"] = variances
    nodes = ts if sigma_nodes is None else list(sigma_nodes)
    if any(t.model != first.model or t.experiment != first.experiment for t in nodes):
        raise ValueError("interpolate needs sigma nodes of the same model and experiment")
    sig = interpolate_sigma(
        [t.mass for t in nodes],
        [t.sigma_pb for t in nodes],
        [t.sigma_err_pb for t in nodes],
        float(mass),
    )
    meta = {k: v for k, v in first.metadata.items() if k not in ("checksum", "source_file")}
    effs = [float(t.metadata["selection_efficiency"]) for t in ts]
    # a constant is interpolated exactly (no 1 - 1e-16 from summing the weights)
    eps = effs[0] if len(set(effs)) == 1 else float(np.dot(lw, effs))
    eps_err = math.sqrt(
        sum(
            (w * float(t.metadata["selection_efficiency_err"])) ** 2
            for w, t in zip(lw, ts, strict=True)
        )
    )
    shape_scheme = "cubic in ln m" if len(ts) == 4 else f"{len(ts)}-point Lagrange in ln m"
    meta.update(
        selection_efficiency=min(max(eps, 0.0), 1.0),
        selection_efficiency_err=eps_err,
        interpolated=True,
        interpolated_from=ms.tolist(),
        interpolation=shape_scheme,
        sigma_interpolation=sig.scheme,
        sigma_interp_err_pb=sig.interp_err_pb,
        seed=[t.metadata.get("seed") for t in ts],
        n_events=min(int(t.metadata["n_events"]) for t in ts),
        source_checksums=[t.metadata.get("checksum") for t in ts],
    )
    out = Template(h, first.model, float(mass), first.experiment, sig.sigma_pb, sig.mc_err_pb, meta)
    sources = [t.metadata.get("checksum") or templates_io.template_checksum(t) for t in ts]
    sources += ["sigma"] + [
        t.metadata.get("checksum") or templates_io.template_checksum(t) for t in nodes
    ]
    out.metadata["checksum"] = _derived_checksum(
        f"interpolated|{shape_scheme}|{sig.scheme}", float(mass), sources
    )
    return out


def load(
    model: str,
    mass: float,
    experiment: str | Experiment = "ldmx-phase2",
    *,
    directory: str | os.PathLike[str] | None = None,
) -> Template:
    """The template of a model at an A' mass [GeV] for an experiment.

    Parameters
    ----------
    model : str
        Model id, letter or name.
    mass : float
        A' mass in GeV (Python or numpy number); grid masses (within
        ``templates_io.MASS_KEY_RTOL`` = 1e-6 relative) are returned as stored, others
        interpolated (:func:`interpolate`: shape cubic in ln m through the 4 nodes of
        :func:`stencil`, sigma by a cubic spline through every node, with
        ``metadata["sigma_interp_err_pb"]``).
    experiment : str or Experiment
        ``ldmx-phase1``, ``ldmx-phase2``, a TOML path or an Experiment.
    directory : path, optional
        Directory holding ``<experiment>.h5``; default :func:`default_directory`.

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
    """
    mid = get_model(model).id
    mass = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")  # numpy scalars too
    exp = get_experiment(experiment)
    path = template_path(exp, directory)
    tf = _template_file(path)
    if mid not in tf.index:
        raise TemplateFileError(
            f"{path}: no templates for model {mid}; present: {sorted(tf.index)}"
        )
    grid = tf.index[mid]
    m = float(mass)
    rtol = templates_io.MASS_KEY_RTOL
    if m < grid[0] * (1 - rtol) or m > grid[-1] * (1 + rtol):
        raise InputError(
            f"mass {m} GeV outside the template grid [{grid[0]}, {grid[-1]}] GeV of model "
            f"{mid}, experiment {exp.name}"
        )
    i = int(np.searchsorted(grid, m))
    for j in (i - 1, i):
        if 0 <= j < grid.size and abs(grid[j] - m) <= rtol * m:
            t = tf.get(mid, float(grid[j]))
            _check_matches(t, exp, path)
            return t
    idx = stencil(np.log(grid), math.log(m), SHAPE_POINTS)
    ts = [tf.get(mid, float(grid[j])) for j in idx]
    for t in ts:
        _check_matches(t, exp, path)
    nodes = tf.model_templates(mid)  # cached, verified; read only here
    return interpolate(ts, m, sigma_nodes=nodes)


def catalogue(directory: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """What a template directory holds: one row per (file, model).

    Returns
    -------
    list of dict
        ``file``, ``experiment``, ``model``, ``n_masses``, ``m_min``, ``m_max`` (GeV),
        ``size_mb`` (of the file).
    """
    d = default_directory() if directory is None else Path(directory)
    rows: list[dict[str, Any]] = []
    if not d.is_dir():
        return rows
    for path in sorted(d.glob("*.h5")):
        tf = _template_file(path)
        try:
            exp_name = json.loads(tf.experiment_json).get("name", path.stem)
        except json.JSONDecodeError:
            exp_name = path.stem
        for model in sorted(tf.index, key=lambda m: MODEL_IDS.index(m) if m in MODEL_IDS else 99):
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
                }
            )
    return rows


# ----------------------------------------------------------------------------- building


@dataclass(frozen=True)
class _Task:
    model: str
    mass: float
    experiment: Experiment
    n_events: int
    seed: int

    @property
    def key(self) -> str:
        """Checkpoint chunk key, e.g. ``km_1.000000e-01``."""
        return f"{self.model}_{templates_io.mass_key(self.mass)}"


def _run_task(task: _Task) -> Template:
    return build_template(task.model, task.mass, task.experiment, task.n_events, task.seed)


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
    """

    experiment: Experiment
    models: tuple[str, ...]
    masses: tuple[float, ...]
    n_events: int
    base_seed: int

    def tasks(self) -> list[_Task]:
        """One task per (model, mass), with its seed (:func:`template_seed`)."""
        exp = self.experiment
        return [
            _Task(mid, m, exp, self.n_events, template_seed(mid, m, exp.name, self.base_seed))
            for mid in self.models
            for m in self.masses
        ]

    def identity(self) -> dict[str, Any]:
        """What determines every template of this build (the checkpoint identity)."""
        return {
            "experiment": self.experiment.to_dict(),
            "n_events": self.n_events,
            "base_seed": self.base_seed,
            "format_version": templates_io.FORMAT_VERSION,
            "darkmoments_version": __version__,
        }


def plan_grid(
    experiment: str | Experiment,
    models: Sequence[str] | None = None,
    mass_values: Sequence[float] | None = None,
    n_events: int = DEFAULT_N_EVENTS,
    *,
    base_seed: int = DEFAULT_BASE_SEED,
) -> BuildPlan:
    """Validate every job of a build up front, before any directory or worker exists.

    Each (model, mass) is checked the way the generator will check it (A' mass below the
    kinematic threshold of the experiment's beam on its target, :class:`DarkBremProcess`),
    so a build never fails half-way on an input error.

    Parameters
    ----------
    experiment : str or Experiment
        The setup.
    models : sequence of str, optional
        Model ids (default: all five).
    mass_values : sequence of float, optional
        A' masses in GeV (default: the experiment's ``mass_grid``).
    n_events : int
        Unweighted events per template (>= 1).
    base_seed : int
        Base of the per-template seeds (>= 0).

    Returns
    -------
    BuildPlan

    Raises
    ------
    InputError, InputTypeError
        Naming the first invalid model, mass, event count or seed.
    """
    from .generator import DarkBremProcess

    exp = get_experiment(experiment)
    assert exp.mass_grid is not None
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
    return BuildPlan(exp, mids, masses, n, seed)


def _shipped_directories() -> set[Path]:
    dirs = {default_directory().resolve()}
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        dirs.add((root / "templates").resolve())
    dirs.add((Path(__file__).resolve().parent / "_templates").resolve())
    return dirs


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


def is_shipped_directory(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is the directory of the shipped templates."""
    return Path(path).resolve() in _shipped_directories()


def _load_part(path: Path) -> Template:
    return read(path)


def build_grid(
    experiment: str | Experiment | BuildPlan,
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
) -> BuildReport:
    """Build (or complete) the template file ``<out>/<experiment>.h5``.

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
    experiment : str, Experiment or BuildPlan
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

    Returns
    -------
    BuildReport
    """
    import time

    from .checkpoint import Checkpoint, run_checkpointed

    if isinstance(experiment, BuildPlan):
        plan = experiment
    else:
        plan = plan_grid(experiment, models, mass_values, n_events, base_seed=base_seed)
    exp = plan.experiment
    out_dir = build_output_directory(out, update_shipped=update_shipped)
    final = out_dir / f"{exp.name}.h5"
    report = BuildReport(exp.name, final)

    have: dict[tuple[str, str], Template] = {}
    if final.exists():
        for t in templates_io.read_templates(final):
            _check_matches(t, exp, final)
            have[(t.model, templates_io.mass_key(t.mass))] = t
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
    parts = out_dir / f".parts-{exp.name}"
    if not tasks and not parts.exists() and final.exists():
        return report

    created = not out_dir.exists()
    if created:
        out_dir.mkdir()
    try:
        cp = Checkpoint(parts, plan.identity(), resume=True, what="template build", suffix=".h5")
    except StaleCheckpointError as exc:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        if "settings differ" in str(exc):
            raise StaleCheckpointError(
                f"{exc} (an interrupted build with other settings; rerun it with those "
                f"settings to finish it, or remove {parts} to discard it)"
            ) from None
        raise
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
            load=_load_part,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            desc=f"templates {exp.name}",
            unit="tpl",
        )
    except BaseException:
        if not cp.done():  # nothing finished: leave no empty checkpoint behind
            cp.remove()
            if created:
                shutil.rmtree(out_dir, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - t0
    report.resumed = len(resumed)
    report.skipped += len(resumed)
    report.built = len(tasks) - len(resumed)
    for task, t in zip(tasks, built, strict=True):
        if t.model != task.model or templates_io.mass_key(t.mass) != templates_io.mass_key(
            task.mass
        ):
            raise StaleCheckpointError(
                f"{cp.path(task.key)}: holds model {t.model} m={t.mass} GeV, expected "
                f"{task.model} m={task.mass} GeV"
            )
        _check_matches(t, exp, cp.path(task.key))
        have[(t.model, templates_io.mass_key(t.mass))] = t
    for key in cp.done():  # finished chunks of this build that this run did not ask for
        if key not in keys:
            f = cp.verified(key)
            if f is not None:
                t = read(f)
                _check_matches(t, exp, f)
                have[(t.model, templates_io.mass_key(t.mass))] = t
    ordered = sorted(have.values(), key=lambda t: (t.model, t.mass))
    templates_io.write_templates(final, ordered, json.dumps(exp.to_dict(), sort_keys=True))
    cp.remove()
    return report
