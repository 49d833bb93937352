"""The Template type and the pure functions on templates (no files, no look-up, no building).

Everything here is a function of its arguments: the :class:`Template` value type, the
histogram helpers (:func:`empty_hist`, :func:`fill_template_hist`), the content fingerprint
(:func:`template_checksum`, also what the file format stores and verifies), and the mass
interpolation (:func:`lagrange_weights`, :func:`stencil`, :func:`spline_weights`,
:func:`empty_segments`, :func:`interpolate_bins`, :func:`interpolate_sigma`,
:func:`interpolate`; :func:`interpolate_bins` is the one shape interpolation of the package,
used by :mod:`darkmoments.stats.shapes` too).  The scheme is described in
:mod:`darkmoments.templates`.

Data flows one way: :mod:`darkmoments.experiments` -> this module ->
:mod:`darkmoments.io.templates_io` (the file format) -> :mod:`darkmoments.templates.library`
(look-up, yields) and :mod:`darkmoments.templates.build` (generation).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hist
import numpy as np
from hist import Hist
from numpy.typing import ArrayLike, NDArray

from ..errors import InputError
from ..experiments import EDGE_RTOL, Binning, edges_difference
from ..io.jsonio import to_jsonable
from ..validation import check_int, check_real

__all__ = [
    "SHAPE_POINTS",
    "SigmaInterpolation",
    "Template",
    "canonical_json",
    "content_digest",
    "copy_template",
    "derived_checksum",
    "empty_hist",
    "empty_segments",
    "fill_template_hist",
    "interpolate",
    "interpolate_bins",
    "interpolate_sigma",
    "lagrange_weights",
    "segment_of",
    "spline_weights",
    "stencil",
    "template_checksum",
    "template_record",
]

#: Size of the local Lagrange stencil (:func:`stencil`).  No longer used by :func:`interpolate`
#: (shapes are interpolated by the cubic spline through every node since issue 11); kept for
#: callers and for the leave-one-out comparison (:func:`darkmoments.stats.shapes.leave_one_out`).
SHAPE_POINTS: int = 4

#: Metadata keys that describe where a template is, not what it is (not in its record).
_NOT_RECORDED = ("checksum", "source_file")


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

    Examples
    --------
    A shipped template at a grid mass (:func:`darkmoments.templates.load`): 40 x 48 (E, p_T)
    bins of unit sum, built from 1e6 generated events; md at 0.0607 GeV and 8 GeV has
    sigma = 4.8e7 pb at mu_f / e = 1 GeV^-1:

    >>> from darkmoments import templates
    >>> t = templates.load("md", templates.masses("md", "ldmx-phase2")[20])
    >>> t.model, t.mass, t.experiment, t.hist.values().shape
    ('md', 0.0606931, 'ldmx-phase2', (40, 48))
    >>> f"{t.sigma_pb:.2g} pb", round(float(t.hist.values().sum()), 12), t.metadata["n_events"]
    ('4.8e+07 pb', 1.0, 1000000)
    >>> round(float(t.to_hist(50.0).values().sum()), 9)  # scaled to 50 expected events
    50.0
    """

    hist: hist.Hist
    model: str
    mass: float
    experiment: str
    sigma_pb: float
    sigma_err_pb: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_hist(self, n_events: float | None = None) -> Hist:  # (the field hist shadows the module)
        """A copy of the (E, p_T) histogram: the unit-sum shape, or scaled to ``n_events``.

        With ``n_events`` the values are multiplied by it and the variances by its square.
        """
        h = self.hist.copy()
        if n_events is not None:
            n = float(n_events)
            if not (math.isfinite(n) and n > 0):
                raise InputError(f"n_events must be a finite number > 0, got {n_events}")
            view: Any = h.view(flow=True)  # Weight storage: fields value and variance
            view["value"] *= n
            view["variance"] *= n * n
        return h


def copy_template(t: Template) -> Template:
    """An independent copy of a template (histogram and metadata), safe to modify.

    Parameters
    ----------
    t : Template
        The template.

    Returns
    -------
    Template

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.templates.core import copy_template
    >>> t = templates.load("km", 0.1)
    >>> c = copy_template(t)
    >>> c.metadata["note"] = "mine"
    >>> "note" in t.metadata, c.sigma_pb == t.sigma_pb
    (False, True)
    """
    return Template(
        hist=t.hist.copy(),
        model=t.model,
        mass=t.mass,
        experiment=t.experiment,
        sigma_pb=t.sigma_pb,
        sigma_err_pb=t.sigma_err_pb,
        metadata=copy.deepcopy(t.metadata),
    )


# ----------------------------------------------------------------------------- histograms


def empty_hist(binning: Binning) -> hist.Hist:
    """An empty (E, p_T) histogram with Weight storage and no flow bins.

    Parameters
    ----------
    binning : Binning
        Edges in GeV.

    Returns
    -------
    hist.Hist
        Axes ``E`` and ``pt`` (GeV), all bins 0.

    Examples
    --------
    >>> from darkmoments.experiments import get_experiment
    >>> from darkmoments.templates.core import empty_hist
    >>> h = empty_hist(get_experiment("ldmx-phase2").binning)
    >>> h.shape, [ax.name for ax in h.axes], h.sum().value
    ((40, 48), ['E', 'pt'], 0.0)
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

    Examples
    --------
    Four unit-weight events (E, p_T in GeV), one outside the p_T range: 3 of 4 selected
    (eps = 0.75 +- sqrt(0.75 x 0.25 / 4) = 0.22), each bin holding 1/3 with the multinomial
    variance (1/3)(2/3)/3 = 0.074:

    >>> from darkmoments.experiments import Binning
    >>> from darkmoments.templates.core import fill_template_hist
    >>> b = Binning((0.0, 4.0, 8.0), (0.0, 0.1, 8.0))
    >>> h, eps, err = fill_template_hist([1.0, 2.0, 5.0, 6.0], [0.05, 0.5, 0.05, 9.0], None, b)
    >>> h.values().round(3)
    array([[0.333, 0.333],
           [0.333, 0.   ]])
    >>> h.variances().round(3)
    array([[0.074, 0.074],
           [0.074, 0.   ]])
    >>> eps, round(err, 3)
    (0.75, 0.217)
    """
    e = np.asarray(energy, dtype=float)
    p = np.asarray(pt, dtype=float)
    if e.shape != p.shape or e.ndim != 1:
        raise InputError(
            f"energy and pt must be 1D arrays of equal length, got {e.shape}, {p.shape}"
        )
    w = np.ones_like(e) if weight is None else np.asarray(weight, dtype=float)
    if w.shape != e.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError("weights must be finite, >= 0 and one per event")
    sel = np.ones(e.shape, dtype=bool) if passed is None else np.asarray(passed, dtype=bool)
    ee, pe = binning.e_edges, binning.pt_edges
    sel = sel & (e >= ee[0]) & (e < ee[-1]) & (p >= pe[0]) & (p < pe[-1])
    W, V = float(w.sum()), float((w**2).sum())
    if W <= 0:
        raise InputError("no events with positive weight: cannot build a template")
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
    view: Any = h.view()  # Weight storage: a structured view, fields value and variance
    view["value"] = frac
    view["variance"] = np.clip(var, 0.0, None)
    if np.all(sel):  # exact: avoids a 1 - 1e-15 from summing in another order
        return h, 1.0, 0.0
    eps = Ws / W
    eps_var = ((1.0 - eps) ** 2 * Vs + eps**2 * (V - Vs)) / W**2
    return h, eps, math.sqrt(max(eps_var, 0.0))


# ----------------------------------------------------------------------------- fingerprint


def template_record(t: Template) -> dict[str, Any]:
    """The JSON record of a template: what the file format stores next to the histogram.

    Its metadata (without ``checksum`` and ``source_file``) plus ``model``, ``mass`` [GeV],
    ``experiment``, ``sigma_pb`` and ``sigma_err_pb`` [pb].

    Parameters
    ----------
    t : Template
        The template.

    Returns
    -------
    dict

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.templates.core import template_record
    >>> rec = template_record(templates.load("km", templates.masses("km")[20]))
    >>> rec["model"], rec["mass"], rec["n_events"], "checksum" in rec
    ('km', 0.0606931, 1000000, False)
    """
    rec = {k: v for k, v in t.metadata.items() if k not in _NOT_RECORDED}
    rec.update(
        model=t.model,
        mass=float(t.mass),
        experiment=t.experiment,
        sigma_pb=float(t.sigma_pb),
        sigma_err_pb=float(t.sigma_err_pb),
    )
    return rec


def canonical_json(rec: dict[str, Any]) -> str:
    """Canonical JSON of a record: the checksummed bytes of a template.

    Sorted keys, no spaces, NaN refused, numpy as Python
    (:func:`darkmoments.io.jsonio.to_jsonable`).

    Parameters
    ----------
    rec : dict
        A record (:func:`template_record`).

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.templates.core import canonical_json
    >>> canonical_json({"sigma_pb": np.float64(2.5e8), "model": "km"})
    '{"model":"km","sigma_pb":250000000.0}'
    >>> canonical_json({"sigma_pb": float("nan")})
    Traceback (most recent call last):
    ...
    ValueError: Out of range float values are not JSON compliant...
    """
    return json.dumps(
        rec, default=to_jsonable, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def content_digest(
    record_json: str, edges: Sequence[ArrayLike], values: ArrayLike, variances: ArrayLike
) -> str:
    """SHA-256 hex digest of a record string, the axis edges, values and variances.

    The arrays enter as float64 little-endian bytes, so the digest of the same numbers is
    the same on every machine.

    Parameters
    ----------
    record_json : str
        :func:`canonical_json` of the record.
    edges : sequence of array_like
        Axis edges in GeV.
    values, variances : array_like
        Bin contents and variances.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.templates.core import content_digest
    >>> a = content_digest("{}", [[0.0, 1.0]], [1.0], [0.0])
    >>> b = content_digest("{}", [np.array([0, 1], dtype=">f4")], np.ones(1), [0])
    >>> len(a), a == b  # the same numbers in any dtype or byte order: the same digest
    (64, True)
    """
    h = hashlib.sha256(record_json.encode())
    for arr in (*edges, values, variances):
        h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
    return h.hexdigest()


def template_checksum(t: Template) -> str:
    """SHA-256 hex digest of a template's record, edges, values and variances.

    Parameters
    ----------
    t : Template
        The template.

    Returns
    -------
    str
        :func:`content_digest` of :func:`template_record`, the edges, values and variances.

    Examples
    --------
    A stored template's checksum (verified when the file is read) is its content digest; any
    change of content changes it:

    >>> from darkmoments import templates
    >>> from darkmoments.templates.core import copy_template, template_checksum
    >>> t = templates.load("km", templates.masses("km")[20])
    >>> template_checksum(t) == t.metadata["checksum"]
    True
    >>> c = copy_template(t)
    >>> c.metadata["seed"] += 1
    >>> template_checksum(c) == t.metadata["checksum"]
    False
    """
    edges = [np.asarray(ax.edges, dtype=float) for ax in t.hist.axes]
    var = t.hist.variances()
    assert var is not None
    return content_digest(canonical_json(template_record(t)), edges, t.hist.values(), var)


def derived_checksum(kind: str, mass: float, sources: Sequence[str | None]) -> str:
    """Fingerprint of a derived template from its stored inputs (never from computed floats).

    SHA-256 of the scheme, the target mass (its ``repr``) and the checksums of every stored
    template it was computed from: the same on every machine.

    Parameters
    ----------
    kind : str
        The derivation scheme (part of the fingerprint).
    mass : float
        Target mass in GeV.
    sources : sequence of str or None
        Checksums of the inputs (None: an input without one).

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> from darkmoments.templates.core import derived_checksum
    >>> a = derived_checksum("interpolated", 0.1, ["ab12", "cd34"])
    >>> a == derived_checksum("interpolated", 0.1, ["ab12", "cd34"]), len(a)
    (True, 64)
    >>> a == derived_checksum("interpolated", 0.1000001, ["ab12", "cd34"])
    False
    """
    h = hashlib.sha256(f"{kind}|{float(mass)!r}".encode())
    for c in sources:
        h.update(b"|" + (c or "none").encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- interpolation


def lagrange_weights(x: Sequence[float] | NDArray[np.float64], x0: float) -> NDArray[np.float64]:
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

    Examples
    --------
    >>> from darkmoments.templates.core import lagrange_weights
    >>> lagrange_weights([0.0, 1.0], 0.25)  # linear
    array([0.75, 0.25])
    >>> lagrange_weights([0.0, 1.0, 2.0, 3.0], 1.5)  # the cubic through 4 nodes, mid-way
    array([-0.0625,  0.5625,  0.5625, -0.0625])
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


def stencil(
    nodes: Sequence[float] | NDArray[np.float64], x0: float, n_points: int = SHAPE_POINTS
) -> NDArray[np.intp]:
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

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.templates.core import stencil
    >>> x = np.arange(10.0)
    >>> stencil(x, 4.5), stencil(x, 0.2), stencil(x, 9.9)  # centred, shifted inwards at ends
    (array([3, 4, 5, 6]), array([0, 1, 2, 3]), array([6, 7, 8, 9]))
    """
    xs = np.asarray(nodes, dtype=float)
    k = min(check_int("n_points", n_points, lo=1), xs.size)
    i = int(np.searchsorted(xs, x0))
    lo = min(max(i - k // 2, 0), xs.size - k)
    return np.arange(lo, lo + k)


def spline_weights(
    x: Sequence[float] | NDArray[np.float64], x0: float, degree: int = 3
) -> NDArray[np.float64]:
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

    Examples
    --------
    Six equally spaced nodes, mid-way between the third and fourth: the weights sum to 1
    and reach two nodes beyond the interval:

    >>> import numpy as np
    >>> from darkmoments.templates.core import spline_weights
    >>> c = spline_weights(np.arange(6.0), 2.5)
    >>> c.round(4), round(float(c.sum()), 12)
    (array([ 0.0125, -0.1   ,  0.5875,  0.5875, -0.1   ,  0.0125]), 1.0)
    >>> spline_weights([0.0, 1.0, 2.0], 0.5)  # fewer than 4 nodes: the parabola
    array([ 0.375,  0.75 , -0.125])
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


def empty_segments(values: ArrayLike) -> NDArray[np.bool_]:
    """Bins that are empty at both nodes of each mass segment.

    Parameters
    ----------
    values : array_like, shape (n_nodes, ...)
        Bin contents (probabilities) at each node, nodes in increasing mass.

    Returns
    -------
    numpy.ndarray of bool, shape (n_nodes - 1, ...)
        Entry ``[j, b]`` is True when bin b is exactly 0 at node j and at node j + 1: on that
        segment the interpolated bin is 0 (:func:`interpolate_bins`).

    Examples
    --------
    Two bins at three masses: the first is empty at the two lower masses, the second at
    the two upper ones:

    >>> from darkmoments.templates.core import empty_segments
    >>> empty_segments([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    array([[ True, False],
           [False,  True]])
    """
    v = np.asarray(values, dtype=float)
    if v.ndim < 1 or v.shape[0] < 1:
        raise InputError(f"empty_segments needs one row of bins per node, got shape {v.shape}")
    return np.asarray((v[:-1] == 0) & (v[1:] == 0), dtype=bool)


def segment_of(nodes: Sequence[float] | NDArray[np.float64], x0: float) -> int:
    """Index j of the segment [x_j, x_(j+1)] of increasing ``nodes`` holding ``x0``.

    Ends included (a node belongs to the segment on its right, the last to the last
    segment); outside the nodes: the first or last segment.  0 for fewer than 2 nodes.

    Parameters
    ----------
    nodes : sequence of float
        Increasing nodes (ln m).
    x0 : float
        The point.

    Returns
    -------
    int

    Examples
    --------
    >>> from darkmoments.templates.core import segment_of
    >>> segment_of([0.0, 1.0, 2.0], 1.0), segment_of([0.0, 1.0, 2.0], 2.0)
    (1, 1)
    >>> segment_of([0.0, 1.0, 2.0], -5.0)
    0
    """
    xs = np.asarray(nodes, dtype=float)
    if xs.size < 2:
        return 0
    return int(np.clip(np.searchsorted(xs, x0, side="right") - 1, 0, xs.size - 2))


def interpolate_bins(
    values: ArrayLike,
    variances: ArrayLike,
    nodes: Sequence[float] | NDArray[np.float64],
    x0: float | ArrayLike,
    weights: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The package's shape interpolation from node weights (templates and statistics).

    With node weights c_i (:func:`spline_weights`: the not-a-knot cubic spline in ln m) the
    raw shape is sum_i c_i p_i.  The spline through every node rings: next to a bin's
    populated masses it overshoots into masses where the bin is empty (~1e-5 of the
    probability in all, at most ~2e-6 per bin on the shipped grid).  So a bin that is empty
    at both nodes of the segment holding ``x0`` (:func:`empty_segments`) is 0 there; the
    other negative values are set to 0; the shape is renormalised to the interpolated total
    ``sum_i c_i sum_b p_ib`` (1 for normalised templates).  Variances are sum_i c_i^2 V_i
    (independent MC samples; 0 in the zeroed bins) times the renormalisation squared.

    Parameters
    ----------
    values, variances : array_like, shape (n_nodes, ...)
        Bin contents and their MC variances at each node.
    nodes : sequence of float
        Increasing node coordinates (ln m).
    x0 : float or array_like, shape (n_x,)
        Where to interpolate (same coordinate); an array evaluates several points at once.
    weights : array_like, shape (n_nodes,) or (n_x, n_nodes)
        c_i(x0) (a unit vector at a node reproduces it exactly).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Interpolated contents and variances, shape ``values.shape[1:]`` (scalar ``x0``) or
        ``(n_x, *values.shape[1:])``.

    Examples
    --------
    Three bins at two masses (linear weights half-way): the last bin, empty at both nodes,
    stays 0, and the shape keeps its unit sum:

    >>> import numpy as np
    >>> from darkmoments.templates.core import interpolate_bins
    >>> p = np.array([[0.6, 0.4, 0.0], [0.2, 0.8, 0.0]])
    >>> q, v = interpolate_bins(p, 1e-4 * np.ones_like(p), [0.0, 1.0], 0.5, [0.5, 0.5])
    >>> q.round(3), v.round(6)  # variances sum c_i^2 V_i = 0.5e-4 (0 in the empty bin)
    (array([0.4, 0.6, 0. ]), array([5.e-05, 5.e-05, 0.e+00]))
    """
    p = np.asarray(values, dtype=float)
    v = np.asarray(variances, dtype=float)
    xs = np.atleast_1d(np.asarray(x0, dtype=float))
    c = np.atleast_2d(np.asarray(weights, dtype=float))
    if p.shape != v.shape or p.ndim < 1 or c.shape != (xs.size, p.shape[0]):
        raise InputError(
            f"interpolate_bins needs values {p.shape} and variances {v.shape} of one shape "
            f"and one weight per node and point ({c.shape} for {xs.size} points)"
        )
    flat_p = p.reshape(p.shape[0], -1)
    raw = c @ flat_p
    var = (c**2) @ v.reshape(p.shape[0], -1)
    if p.shape[0] >= 2:
        j = np.array([segment_of(nodes, float(x)) for x in xs])
        empty = (flat_p[j] == 0) & (flat_p[j + 1] == 0)
        raw[empty] = 0.0
        var[empty] = 0.0
    q = np.clip(raw, 0.0, None)
    total = c @ flat_p.sum(axis=1)
    qs = q.sum(axis=1)
    scale = np.where(qs > 0, total / np.where(qs > 0, qs, 1.0), 1.0)[:, None]
    shape = p.shape[1:] if np.ndim(x0) == 0 else (xs.size, *p.shape[1:])
    return (q * scale).reshape(shape), (var * scale**2).reshape(shape)


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

    Examples
    --------
    >>> from darkmoments.templates.core import interpolate_sigma
    >>> r = interpolate_sigma([0.01, 0.1], [1e10, 1e8], [1e7, 1e5], 0.03)
    >>> f"{r.sigma_pb:.4g} pb", r.scheme
    ('1.111e+09 pb', 'ln sigma: not-a-knot 2-node polynomial in ln m through 2 nodes; ...')
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

    Why this scheme (issue 9.2; evidence in tests/templates/test_sigma_interpolation.py): sigma
    falls by 12 orders of magnitude over the grid and bends sharply at 0.6-2 GeV (the nuclear
    form factor), so a local cubic through 4 nodes misplaces it by up to 0.5 % between nodes
    there (linear at the top interval: 2-6 %), ~10 times its MC error of ~5e-4.  The cubic
    spline is of the same order everywhere, and against directly generated cross sections at the
    log-midpoints of the upper half of both LDMX grids it stays within 2e-3 (rms 7e-4, the size
    of the MC errors themselves).  ln sigma is exact for any power law sigma ~ m^k.

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

    Examples
    --------
    A power law sigma = 1e9 pb (m / GeV)^-2 is exact (linear in ln sigma, ln m): at 0.05 GeV
    4e11 pb, to the round-off of the spline weights, with the nodes' 0.1 % MC error:

    >>> import numpy as np
    >>> from darkmoments.templates.core import interpolate_sigma
    >>> ms = np.geomspace(0.01, 1.0, 5)
    >>> r = interpolate_sigma(ms, 1e9 * ms**-2, 1e6 * ms**-2, 0.05)
    >>> f"{r.sigma_pb:.6g}", round(r.mc_err_pb / r.sigma_pb, 5)
    ('4e+11', 0.00082)
    >>> r.interp_err_pb < 1e-6 * r.sigma_pb  # the estimate sees an exact power law
    True
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


def _check_neighbours(ts: Sequence[Template], mass: float) -> NDArray[np.float64]:
    """Validate the shape nodes of :func:`interpolate`; return their masses (GeV)."""
    if len(ts) < 2:
        raise InputError(f"interpolate needs at least 2 templates, got {len(ts)}")
    first = ts[0]
    ms = np.array([t.mass for t in ts])
    if any(t.model != first.model or t.experiment != first.experiment for t in ts):
        raise InputError("interpolate needs templates of the same model and experiment")
    if np.any(np.diff(ms) <= 0):
        raise InputError(f"interpolate needs strictly increasing masses, got {ms.tolist()}")
    if not (ms[0] <= mass <= ms[-1]):
        raise InputError(f"mass {mass} GeV outside [{ms[0]}, {ms[-1]}] GeV")
    e0, pt0 = (np.asarray(ax.edges, dtype=float) for ax in first.hist.axes)
    for t in ts[1:]:
        if len(t.hist.axes) != 2:
            raise InputError("interpolate needs 2D (E, pt) templates")
        e1, pt1 = (np.asarray(ax.edges, dtype=float) for ax in t.hist.axes)
        lab = (f"at m={t.mass} GeV", f"at m={first.mass} GeV")
        diff = edges_difference("E", e1, e0, labels=lab) or edges_difference(
            "p_T", pt1, pt0, labels=lab
        )
        if diff is not None:
            raise InputError(
                f"interpolate needs templates with the same binning (within {EDGE_RTOL:g} "
                f"relative): {diff}"
            )
    return ms


def _interpolate_shape(
    ts: Sequence[Template], lw: NDArray[np.float64], ms: NDArray[np.float64], mass: float
) -> hist.Hist:
    """The interpolated histogram (:func:`interpolate_bins` at ``mass`` with weights ``lw``)."""
    values, variances = interpolate_bins(
        np.array([t.hist.values() for t in ts]),
        np.array([t.hist.variances() for t in ts]),
        np.log(ms),
        math.log(mass),
        lw,
    )
    h = ts[0].hist.copy()
    view: Any = h.view()  # Weight storage: a structured view, fields value and variance
    view["value"] = values
    view["variance"] = variances
    return h


def _interpolate_efficiency(ts: Sequence[Template], lw: NDArray[np.float64]) -> tuple[float, float]:
    """Selection efficiency sum_i L_i eps_i (clipped to [0, 1]) and its propagated error."""
    effs = [float(t.metadata["selection_efficiency"]) for t in ts]
    # a constant is interpolated exactly (no 1 - 1e-16 from summing the weights)
    eps = effs[0] if len(set(effs)) == 1 else float(np.dot(lw, effs))
    eps_err = math.sqrt(
        sum(
            (w * float(t.metadata["selection_efficiency_err"])) ** 2
            for w, t in zip(lw, ts, strict=True)
        )
    )
    return min(max(eps, 0.0), 1.0), eps_err


def _stored_checksum(t: Template) -> str:
    return t.metadata.get("checksum") or template_checksum(t)


def interpolate(
    neighbours: Sequence[Template],
    mass: float,
    *,
    sigma_nodes: Sequence[Template] | None = None,
) -> Template:
    """Template at an off-grid mass: shape from ``neighbours``, sigma from ``sigma_nodes``.

    * Shape (bin fractions), variances and selection efficiency: the not-a-knot cubic spline
      in ln m through all ``neighbours`` (:func:`spline_weights`; 2 nodes: linear, 3: the
      parabola, 4: the cubic through them; :func:`darkmoments.templates.load` passes every
      grid node of the model), by :func:`interpolate_bins`: fractions sum_i c_i p_i, a bin
      empty at both nodes of the segment holding ``mass`` is 0 (no spline ringing into
      it), other negative fractions are set to 0 and the shape is renormalised; variances
      sum_i c_i^2 V_i (independent MC samples).  The same scheme as
      :class:`darkmoments.stats.shapes.ShapeGrid` (one interpolation for templates and
      statistics, C2 in the mass: no kinks at the nodes); the evidence for it is the
      leave-one-out test in docs/templates.md.
    * Cross section: :func:`interpolate_sigma` (not-a-knot cubic spline of ln sigma in ln m)
      through ``sigma_nodes`` (:func:`darkmoments.templates.load` passes every grid node of
      the model), or through ``neighbours`` if not given.  ``sigma_err_pb`` is the
      propagated MC error; the estimated interpolation error is
      ``metadata["sigma_interp_err_pb"]`` (pb) and :func:`darkmoments.templates.signal_yield`
      adds it to the yield's error.

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

    Examples
    --------
    md at 0.1 GeV from the four shipped Phase II grid templates around it (0.061-0.112
    GeV); :func:`darkmoments.templates.load` does the same with every grid node:

    >>> import numpy as np
    >>> from darkmoments import templates
    >>> from darkmoments.templates.core import interpolate
    >>> ts = [templates.load("md", m) for m in templates.masses("md")[20:24]]
    >>> [t.mass for t in ts]  # GeV
    [0.0606931, 0.074524, 0.0915067, 0.11236]
    >>> t = interpolate(ts, 0.1)
    >>> f"{t.sigma_pb:.3g} pb", t.metadata["interpolation"]
    ('3.17e+07 pb', 'not-a-knot cubic spline in ln m through 4 nodes')
    >>> full = templates.load("md", 0.1)  # through all 40 nodes: sigma the same to 1e-3
    >>> abs(full.sigma_pb / t.sigma_pb - 1) < 1e-3
    True
    >>> float(np.abs(full.hist.values() - t.hist.values()).sum()) < 0.02  # shapes too
    True
    """
    ts = list(neighbours)
    ms = _check_neighbours(ts, mass)
    first = ts[0]
    lw = spline_weights(np.log(ms), math.log(mass), 3)
    k = np.flatnonzero(np.abs(ms - mass) <= 1e-12 * mass)
    if k.size:  # exactly a node: its template, without rounding from the spline
        lw = np.zeros(ms.size)
        lw[k[0]] = 1.0
    h = _interpolate_shape(ts, lw, ms, float(mass))
    nodes = ts if sigma_nodes is None else list(sigma_nodes)
    if any(t.model != first.model or t.experiment != first.experiment for t in nodes):
        raise InputError("interpolate needs sigma nodes of the same model and experiment")
    sig = interpolate_sigma(
        [t.mass for t in nodes],
        [t.sigma_pb for t in nodes],
        [t.sigma_err_pb for t in nodes],
        float(mass),
    )
    meta = {k: v for k, v in first.metadata.items() if k not in _NOT_RECORDED}
    eps, eps_err = _interpolate_efficiency(ts, lw)
    shape_scheme = (
        f"not-a-knot cubic spline in ln m through {len(ts)} nodes"
        if len(ts) >= 4
        else f"{len(ts)}-point Lagrange in ln m"
    )
    meta.update(
        selection_efficiency=eps,
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
    sources = [_stored_checksum(t) for t in ts] + ["sigma"] + [_stored_checksum(t) for t in nodes]
    out.metadata["checksum"] = derived_checksum(
        f"interpolated|{shape_scheme}|{sig.scheme}", float(mass), sources
    )
    return out
