"""Binned signal shapes for the statistics: projection of templates and mass interpolation.

A :class:`ShapeGrid` holds, for one model and one choice of observables, the normalised
bin probabilities ``p_b(m)`` of the recoil lepton on a grid of A' masses, their MC variances
and (optionally) the expected number of signal events at unit coupling ``N_1(m)``.

Mass interpolation (the one scheme of the package, shared with
:func:`darkmoments.templates.interpolate`): every bin probability is interpolated in
``u = ln m`` by the not-a-knot cubic spline through every grid node (C2: no kinks at the
nodes); on a segment where a bin is empty at both nodes it is 0 (the global spline would
ring into it, ~1e-5 of the probability in all), other negative values are set to 0 and the
shape is renormalised to the interpolated total; variances are ``sum_i c_i(u)^2 V_i`` with
the cardinal-spline weights ``c_i`` (0 in the zeroed bins); ``ln N_1`` is interpolated by the
same spline (:meth:`ShapeGrid.rate`, :func:`interpolate_rate`).  The shape part is
:func:`darkmoments.templates.core.interpolate_bins`, shared with the templates.  The evidence
for this choice (leave-one-out on the shipped grid) is in docs/templates.md and
tests/stats/test_interpolation.py.

The template's MC statistics enter the likelihoods (Barlow-Beeston, :mod:`.fast`) through the
effective MC count :meth:`ShapeGrid.n_eff`: at a node ``N_eff = sum_b p_b (1 - p_b) /
sum_b V_b`` (the number of MC events for an unweighted template, 1e5 for the shipped ones),
between nodes the same spline of the node values, clipped to their range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, InputTypeError
from ..templates.core import empty_segments, interpolate_bins
from ..validation import check_int, check_real

if TYPE_CHECKING:  # pragma: no cover
    from ..templates import Template

__all__ = [
    "INTERPOLATION",
    "OBSERVABLES",
    "LeaveOneOut",
    "ShapeGrid",
    "leave_one_out",
    "load_grid",
    "parse_observables",
    "project_template",
]

#: The observables a template can be projected on (axis names of ``Template.hist``).
OBSERVABLES: tuple[str, ...] = ("E", "pt")

FloatArray = NDArray[np.float64]

#: The mass interpolation of shapes, variances and rates (one scheme for the whole package).
INTERPOLATION: str = (
    "not-a-knot cubic spline in ln m through every node, 0 in bins empty at both ends of "
    "the segment, clipped at 0, renormalised"
)


def parse_observables(observables: str | Sequence[str]) -> tuple[str, ...]:
    """Normalise an observable selection to a tuple of axis names.

    Parameters
    ----------
    observables : str or sequence of str
        ``"E,pt"`` (both; recoil-lepton energy and transverse momentum in GeV), ``"E"`` or
        ``"pt"``; case-insensitive, ``"pT"`` accepted.

    Returns
    -------
    tuple of str
        ``("E", "pt")``, ``("E",)`` or ``("pt",)``.

    Raises
    ------
    ValueError
        Unknown or repeated observable names, or an empty selection.
    TypeError
        If ``observables`` is neither a string nor a sequence of strings.

    Examples
    --------
    >>> from darkmoments.stats import parse_observables
    >>> parse_observables("pT"), parse_observables(["pt", "E"])  # always in (E, pt) order
    (('pt',), ('E', 'pt'))
    >>> parse_observables("theta")
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: unknown observable 'theta'; allowed: 'E', 'pt' or 'E,pt'
    """
    if isinstance(observables, str):
        names = [s.strip() for s in observables.split(",") if s.strip()]
    elif isinstance(observables, Sequence):
        names = list(observables)
        if not all(isinstance(s, str) for s in names):
            raise InputTypeError(f"observables must be strings, got {observables!r}")
    else:
        raise InputTypeError(f"observables must be a string such as 'E,pt', got {observables!r}")
    canon = {"e": "E", "pt": "pt", "p_t": "pt"}
    out: list[str] = []
    for name in names:
        key = name.strip().lower()
        if key not in canon:
            raise InputError(f"unknown observable {name!r}; allowed: 'E', 'pt' or 'E,pt'")
        if canon[key] in out:
            raise InputError(f"observable {name!r} given twice in {observables!r}")
        out.append(canon[key])
    if not out:
        raise InputError(f"no observable selected in {observables!r}; allowed: 'E', 'pt', 'E,pt'")
    return tuple(o for o in OBSERVABLES if o in out)


def project_template(
    template: Template, observables: str | Sequence[str] = "E,pt"
) -> tuple[FloatArray, FloatArray]:
    """Flattened bin probabilities and MC variances of a template for the chosen observables.

    Parameters
    ----------
    template : Template
        Template whose ``hist`` has axes ``E`` and ``pt`` (GeV) with Weight storage.
    observables : str or sequence of str
        ``"E,pt"`` (2D, flattened in C order, E major), ``"E"`` or ``"pt"`` (projections).

    Returns
    -------
    probs, variances : ndarray
        Probability per bin (sums to the template's total, 1 for a normalised template) and
        the MC variance of each probability (variances of projected bins are summed, i.e.
        bin-to-bin correlations of the fractions are neglected).

    Raises
    ------
    ValueError
        If the histogram lacks the requested axes or holds negative / non-finite entries.

    Examples
    --------
    km at 0.1 GeV: the (E, p_T) template flattened to 40 x 48 bins, or projected on the
    recoil energy (40 bins of 200 MeV; most events in the lowest bin, E < 0.2 GeV: the
    x -> 1 endpoint of the recoil spectrum):

    >>> from darkmoments import templates
    >>> from darkmoments.stats import project_template
    >>> t = templates.load("km", 0.1)
    >>> p, v = project_template(t, "E,pt")
    >>> p.shape, round(float(p.sum()), 12)
    ((1920,), 1.0)
    >>> p, v = project_template(t, "E")
    >>> p.shape, int(p.argmax()), f"{v.sum():.2g}"  # MC variances of the fractions
    ((40,), 0, '7.5e-07')
    """
    obs = parse_observables(observables)
    h = template.hist
    names = tuple(h.axes.name)
    for o in obs:
        if o not in names:
            raise InputError(f"template histogram has axes {names}, observable {o!r} missing")
    h_proj = h.project(*obs) if len(obs) < len(names) or obs != names else h
    values = np.asarray(h_proj.values(), dtype=float).ravel()
    variances_raw = h_proj.variances()
    variances = (
        np.zeros_like(values)
        if variances_raw is None
        else np.asarray(variances_raw, dtype=float).ravel()
    )
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        raise InputError(
            f"template {template.model} m={template.mass} GeV has negative or non-finite "
            "bin contents; probabilities must be finite and >= 0"
        )
    if not (np.all(np.isfinite(variances)) and np.all(variances >= 0)):
        raise InputError(
            f"template {template.model} m={template.mass} GeV has negative or non-finite variances"
        )
    return values, variances


@dataclass(frozen=True, eq=False)
class ShapeGrid:
    """Normalised shapes of one model on a grid of A' masses.

    Attributes
    ----------
    model : str
        Model id.
    masses : ndarray, shape (n_m,)
        Strictly increasing A' masses in GeV (> 0).
    probs : ndarray, shape (n_m, n_bins)
        Bin probabilities at each mass (each row sums to ~1).
    variances : ndarray, shape (n_m, n_bins)
        MC variances of ``probs``.
    n1 : ndarray or None, shape (n_m,)
        Expected signal events at unit coupling g_f = 1 (model units) at each mass, or None.
    observables : tuple of str
        Observables the bins belong to.
    n_mc : ndarray or None, shape (n_m,)
        Effective MC count of each row (events) if it is not the one implied by the variances
        (:attr:`node_n_eff`); set by :meth:`refined` so that a sampled grid keeps the
        Barlow-Beeston counts of the grid it samples.

    Examples
    --------
    A hand-made grid of two bins at two masses (GeV), 2400 and 1600 MC events (from the
    variances), 100 and 50 events at unit coupling; half-way in ln m the shape, the rate
    (ln N_1 linear in ln m: sqrt(100 x 50) = 70.7) and the weights are interpolated:

    >>> from darkmoments.stats import ShapeGrid
    >>> g = ShapeGrid("km", [0.1, 0.2], [[0.6, 0.4], [0.2, 0.8]],
    ...               [[1e-4, 1e-4], [1e-4, 1e-4]], n1=[100.0, 50.0])
    >>> m = 0.1 * 2**0.5
    >>> g.shape(m).round(3), round(g.rate(m), 2), g.weights(m).round(3), g.node_n_eff
    (array([0.4, 0.6]), 70.71, array([0.5, 0.5]), array([2400., 1600.]))

    The shipped km grid in the recoil energy, with the events at unit coupling of LDMX
    Phase II:

    >>> from darkmoments.stats import load_grid
    >>> grid = load_grid("km", "ldmx-phase2", "E")
    >>> grid.summary()  # doctest: +NORMALIZE_WHITESPACE
    {'model': 'km', 'observables': ['E'], 'mass_min': 0.001, 'mass_max': 3.0,
     'n_masses': 40, 'n_bins': 40}
    >>> f"{grid.rate(0.1):.3g}", round(float(grid.shape(0.1).sum()), 12)
    ('7.41e+10', 1.0)
    >>> grid.refined(2).masses.size  # every segment halved
    79
    """

    model: str
    masses: FloatArray
    probs: FloatArray
    variances: FloatArray
    n1: FloatArray | None = None
    observables: tuple[str, ...] = ("E", "pt")
    n_mc: FloatArray | None = None

    def __post_init__(self) -> None:
        masses = np.asarray(self.masses, dtype=float)
        probs = np.atleast_2d(np.asarray(self.probs, dtype=float))
        variances = np.atleast_2d(np.asarray(self.variances, dtype=float))
        if masses.ndim != 1 or masses.size < 1:
            raise InputError(f"masses must be a non-empty 1D array, got shape {masses.shape}")
        if not np.all(np.isfinite(masses)) or np.any(masses <= 0):
            raise InputError(f"masses must be finite and > 0 GeV, got {masses}")
        if np.any(np.diff(masses) <= 0):
            raise InputError(f"masses must be strictly increasing, got {masses}")
        if probs.shape[0] != masses.size or variances.shape != probs.shape:
            raise InputError(
                f"probs {probs.shape} and variances {variances.shape} must have one row per "
                f"mass ({masses.size})"
            )
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            raise InputError("probs must be finite and >= 0")
        if np.any(probs.sum(axis=1) <= 0):
            raise InputError("every mass needs a shape with non-zero total probability")
        object.__setattr__(self, "masses", masses)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "variances", variances)
        if self.n1 is not None:
            n1 = np.asarray(self.n1, dtype=float)
            if n1.shape != masses.shape or not np.all(np.isfinite(n1)) or np.any(n1 <= 0):
                raise InputError(f"n1 must be finite, > 0 and have one value per mass, got {n1}")
            object.__setattr__(self, "n1", n1)
        if self.n_mc is not None:
            n_mc = np.asarray(self.n_mc, dtype=float)
            if n_mc.shape != masses.shape or np.any(np.isnan(n_mc)) or np.any(n_mc <= 0):
                raise InputError(f"n_mc must be > 0 (inf allowed), one per mass, got {n_mc}")
            object.__setattr__(self, "n_mc", n_mc)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_templates(
        cls,
        templates: Sequence[Template],
        observables: str | Sequence[str] = "E,pt",
        *,
        events_per_pb: float | None = None,
    ) -> ShapeGrid:
        """Build a grid from templates of one model at several masses.

        Parameters
        ----------
        templates : sequence of Template
            Same model and binning, any order (sorted by mass here).
        observables : str or sequence of str
            ``"E,pt"``, ``"E"`` or ``"pt"``.
        events_per_pb : float, optional
            Experiment luminosity factor times its signal efficiency (events per pb of cross
            section, e.g. 22.2 for LDMX Phase II at efficiency 1).  If given,
            ``n1 = events_per_pb * sigma_pb * selection_efficiency``
            (``metadata["selection_efficiency"]``, default 1).

        Returns
        -------
        ShapeGrid
        """
        if len(templates) == 0:
            raise InputError("need at least one template to build a ShapeGrid")
        models = {t.model for t in templates}
        if len(models) != 1:
            raise InputError(f"templates of one model expected, got {sorted(models)}")
        ts = sorted(templates, key=lambda t: t.mass)
        obs = parse_observables(observables)
        pv = [project_template(t, obs) for t in ts]
        n1 = None
        if events_per_pb is not None:
            events_per_pb = check_real(
                "events_per_pb", events_per_pb, lo=0.0, lo_open=True, unit="events/pb"
            )
            n1 = np.array(
                [
                    events_per_pb * t.sigma_pb * float(t.metadata.get("selection_efficiency", 1.0))
                    for t in ts
                ]
            )
        return cls(
            model=ts[0].model,
            masses=np.array([t.mass for t in ts], dtype=float),
            probs=np.array([p for p, _ in pv]),
            variances=np.array([v for _, v in pv]),
            n1=n1,
            observables=obs,
        )

    # ------------------------------------------------------------------ queries
    @property
    def n_bins(self) -> int:
        """Number of bins per shape."""
        return int(self.probs.shape[1])

    @property
    def mass_range(self) -> tuple[float, float]:
        """(lowest, highest) grid mass in GeV."""
        return float(self.masses[0]), float(self.masses[-1])

    def check_mass(self, mass: float) -> float:
        """Return ``mass`` as float if inside the grid range, else raise ``ValueError``."""
        m = float(mass)
        lo, hi = self.mass_range
        if not np.isfinite(m) or m < lo * (1 - 1e-12) or m > hi * (1 + 1e-12):
            raise InputError(
                f"mass {mass} GeV outside the template range [{lo:g}, {hi:g}] GeV "
                f"of model {self.model}"
            )
        return min(max(m, lo), hi)

    # ------------------------------------------------------------------ interpolation
    @cached_property
    def _u(self) -> FloatArray:
        return np.log(self.masses)

    @cached_property
    def _cardinal(self) -> Any:
        """Cardinal splines in u = ln m: ``self._cardinal(u)`` -> weights c_i(u), one per node."""
        from scipy.interpolate import CubicSpline

        return CubicSpline(self._u, np.eye(self.masses.size), bc_type="not-a-knot")

    def weights(self, mass: float) -> FloatArray:
        """Interpolation weights c_i(m) of the nodes: ``shape = clip(sum_i c_i p_i)``.

        The values at ``u = ln m`` of the not-a-knot cubic splines through the unit vectors
        (for 2 nodes: linear, 3 nodes: the parabola, 4: the cubic through all).  They sum to 1
        and equal the unit vector at a node.

        Parameters
        ----------
        mass : float
            A' mass in GeV, inside the grid range.

        Returns
        -------
        ndarray, shape (n_m,)
        """
        return self._weights_at(np.array([self.check_mass(mass)]))[0]

    def _weights_at(self, masses: FloatArray) -> FloatArray:
        """:meth:`weights` at several (checked) masses, shape (n, n_m)."""
        if self.masses.size == 1:
            return np.ones((masses.size, 1))
        out = np.asarray(self._cardinal(np.log(masses)), dtype=float).reshape(masses.size, -1)
        for r, m in enumerate(masses):
            k = np.flatnonzero(np.abs(self.masses - m) <= 1e-12 * m)
            if k.size:  # exactly a node (no rounding from the spline)
                out[r] = 0.0
                out[r, k[0]] = 1.0
        return out

    def _interpolated(self, mass: float) -> tuple[FloatArray, FloatArray]:
        """(shape, variance) at ``mass`` by :func:`~darkmoments.templates.core.interpolate_bins`."""
        m = self.check_mass(mass)
        return interpolate_bins(self.probs, self.variances, self._u, math.log(m), self.weights(m))

    def shape(self, mass: float) -> FloatArray:
        """Bin probabilities at ``mass`` (GeV): spline in ln m, clipped at 0, renormalised.

        :func:`~darkmoments.templates.core.interpolate_bins` (the scheme of
        :func:`darkmoments.templates.interpolate`): a bin empty at both nodes of the segment
        holding ``mass`` is 0, other negative interpolated values are set to 0 and the shape
        is scaled back to the interpolated total ``sum_i c_i sum_b p_ib`` (1 for normalised
        templates).
        """
        return self._interpolated(mass)[0]

    def variance(self, mass: float) -> FloatArray:
        """MC variances of :meth:`shape`: ``sum_i c_i^2 V_i`` times the renormalisation^2.

        0 in the bins that :meth:`shape` sets to 0 on an empty segment.
        """
        return self._interpolated(mass)[1]

    @cached_property
    def node_n_eff(self) -> FloatArray:
        """Effective MC count of each node's template, ``sum p (1 - p) / sum V`` (inf if V = 0).

        For an unweighted template of N_MC events (V_b = p_b (1 - p_b) / N_MC) this is
        exactly N_MC; for a weighted one, the Kish-like count with the same total variance.
        ``n_mc`` overrides it when given.
        """
        if self.n_mc is not None:
            return np.asarray(self.n_mc, dtype=float)
        num = np.sum(self.probs * (1.0 - self.probs), axis=1)
        den = np.sum(self.variances, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
        return np.asarray(out, dtype=float)

    def n_eff(self, mass: float) -> float:
        """Effective MC count of the template at ``mass`` (events; used by Barlow-Beeston).

        The not-a-knot spline in ln m of :attr:`node_n_eff`, clipped to the nodes' range
        (constant, 1e5, for the shipped grid).  Deliberately *not* the count implied by
        :meth:`variance` (which is up to ~2 N_MC between nodes, an average of two independent
        samples): that would make the template penalty of the likelihood oscillate between
        nodes and pull fitted masses to the segment middles, and the interpolation error
        (docs/templates.md) is of the same size as the variance it would remove.
        """
        return float(self._n_eff_from(self.weights(mass)[None, :])[0])

    def _n_eff_from(self, w: FloatArray) -> FloatArray:
        """:meth:`n_eff` from weight rows ``w`` (n, n_m)."""
        ne = self.node_n_eff
        if not np.all(np.isfinite(ne)):
            return np.full(w.shape[0], np.inf)
        if np.ptp(ne) == 0:
            return np.full(w.shape[0], float(ne[0]))
        return np.clip(w @ ne, float(ne.min()), float(ne.max()))

    def rate(self, mass: float) -> float:
        """Expected events at unit coupling at ``mass``: ln N_1 by the same spline in ln m."""
        if self.n1 is None:
            raise InputError(f"ShapeGrid of model {self.model} has no event rates (n1)")
        return self.rate_of(self.n1, mass)

    def rate_of(self, rates: Sequence[float] | FloatArray, mass: float) -> float:
        """Any rate given at the grid masses, at ``mass``: the scheme of :meth:`rate`.

        ln R interpolated in ln m by the not-a-knot spline through every node (the cardinal
        weights of :meth:`weights`; exact at a node, exact for any power law R ~ m^k through
        3 or fewer nodes and for ln R cubic in ln m), as the fits do
        (:func:`~darkmoments.stats.fast.profile_mass` with ``rates``).  One scheme for tied
        rates everywhere (the true expected events of a tied setup, the fits' rates).

        Parameters
        ----------
        rates : array_like, shape (n_m,)
            Finite, > 0 (events), one per grid mass.
        mass : float
            A' mass in GeV, inside the grid range.

        Returns
        -------
        float
        """
        r = np.asarray(rates, dtype=float)
        if r.shape != self.masses.shape or not np.all(np.isfinite(r)) or np.any(r <= 0):
            raise InputError(
                f"rates must be finite, > 0 and one per grid mass ({self.masses.size}), got {r}"
            )
        return float(np.exp(self.weights(mass) @ np.log(r)))

    def refined(self, n_per_segment: int) -> ShapeGrid:
        """The same interpolated function sampled on a finer grid.

        Parameters
        ----------
        n_per_segment : int
            Number of sub-intervals per original segment (>= 1); masses are spaced
            uniformly in log m inside each segment.

        Returns
        -------
        ShapeGrid
            Shapes, variances and rates evaluated as by :meth:`shape`, :meth:`variance`,
            :meth:`rate` at the new masses (the original masses are kept exactly); computed
            once per ``n_per_segment`` and cached (the grid is immutable).  Note that
            the finer grid's own interpolation is a new spline through these samples: use it
            as a sampling of this grid, not as a replacement (:meth:`n_eff` of the samples is
            kept through their variances' total only approximately).
        """
        k = check_int("n_per_segment", n_per_segment, lo=1)
        if self.masses.size == 1 or k == 1:
            return self
        if k not in self._refined_cache:
            masses = self.sample_masses(k)
            w = self._weights_at(masses)
            probs, variances = interpolate_bins(
                self.probs, self.variances, self._u, np.log(masses), w
            )
            n1 = None if self.n1 is None else np.exp(w @ np.log(self.n1))
            n_mc = self._n_eff_from(w)
            self._refined_cache[k] = ShapeGrid(
                self.model, masses, probs, variances, n1, self.observables, n_mc
            )
        return self._refined_cache[k]

    @cached_property
    def _refined_cache(self) -> dict[int, ShapeGrid]:
        """:meth:`refined` grids by ``n_per_segment`` (a grid is immutable)."""
        return {}

    @cached_property
    def spline(self) -> SplineTables:
        """Piecewise-cubic tables of the interpolation for the vectorised fits (:mod:`.fast`)."""
        return SplineTables.build(self)

    def sample_masses(self, n_per_segment: int) -> FloatArray:
        """Masses (GeV) with ``n_per_segment`` log-uniform sub-intervals per segment.

        The original masses are included exactly (every ``n_per_segment``-th entry).
        """
        k = check_int("n_per_segment", n_per_segment, lo=1)
        u = self._u
        if u.size == 1:
            return self.masses.copy()
        new_u = [u[0]]
        for i in range(u.size - 1):
            new_u.extend(np.linspace(u[i], u[i + 1], k + 1)[1:])
        masses = np.exp(np.array(new_u))
        masses[::k] = self.masses  # exact originals
        return masses

    def restricted(self, bins: NDArray[np.bool_] | NDArray[np.intp]) -> ShapeGrid:
        """A grid holding only the selected bins (mask or index array); rows not renormalised."""
        return ShapeGrid(
            self.model,
            self.masses,
            self.probs[:, bins],
            self.variances[:, bins],
            self.n1,
            self.observables,
            self.n_mc,
        )

    def summary(self) -> dict[str, Any]:
        """Small JSON-able description (model, observables, mass range in GeV, bins)."""
        return {
            "model": self.model,
            "observables": list(self.observables),
            "mass_min": self.mass_range[0],
            "mass_max": self.mass_range[1],
            "n_masses": int(self.masses.size),
            "n_bins": self.n_bins,
        }


@dataclass(frozen=True, eq=False)
class SplineTables:
    """The interpolated shape of a :class:`ShapeGrid` as piecewise cubics in u = ln m.

    For u in segment j (``knots[j] <= u <= knots[j+1]``) and t = u - knots[j], the raw
    spline of bin b is ``sum_k coef[k, j, b] t^(3-k)`` (scipy's ``PPoly`` layout; all 0 on a
    segment where bin b is empty at both nodes, as in
    :func:`~darkmoments.templates.core.interpolate_bins`); the shape is
    ``max(raw, 0) * total(u) / clipped(u)`` with ``total`` the spline of the row sums and
    ``clipped`` the exact sum over all bins of the clipped raw splines.  ``clipped`` is itself
    piecewise cubic with extra breakpoints where a bin's spline crosses 0 (found by sampling
    each segment at 64 points and bisection to 1e-15 of its width), so the fast path can
    evaluate the renormalisation exactly without summing all bins.

    Attributes
    ----------
    knots : ndarray, shape (n_m,)
        u = ln m of the nodes.
    coef : ndarray, shape (4, n_m - 1, n_bins)
        Cubic coefficients of every bin on every segment.
    total, neff, lnrate : scipy PPoly-like callables of u
        Spline of the row sums, of :attr:`ShapeGrid.node_n_eff` (None if infinite) and of
        ln N_1 (None without rates).
    q_breaks, q_origin, q_coef : ndarray
        Breakpoints (sorted u), expansion origin and cubic coefficients (n, 4) of
        ``clipped(u)`` on each interval between breakpoints.
    """

    knots: FloatArray
    coef: FloatArray
    total: Any
    neff: Any
    neff_range: tuple[float, float]
    q_breaks: FloatArray
    q_origin: FloatArray
    q_coef: FloatArray

    @classmethod
    def build(cls, grid: ShapeGrid) -> SplineTables:
        """Tables of ``grid`` (at least 2 masses)."""
        from scipy.interpolate import CubicSpline

        if grid.masses.size < 2:
            raise InputError("spline tables need at least 2 masses")
        u = np.log(grid.masses)
        coef = np.array(CubicSpline(u, grid.probs, axis=0, bc_type="not-a-knot").c)
        # a bin empty at both ends of a segment is 0 on it (interpolate_bins)
        coef[:, empty_segments(grid.probs)] = 0.0
        total = CubicSpline(u, grid.probs.sum(axis=1), bc_type="not-a-knot")
        ne = grid.node_n_eff
        neff = CubicSpline(u, ne, bc_type="not-a-knot") if np.all(np.isfinite(ne)) else None
        rng = (float(ne.min()), float(ne.max()))
        breaks, origin, qc = _clipped_total_pieces(u, coef)
        return cls(u, coef, total, neff, rng, breaks, origin, qc)

    def n_eff(self, u: FloatArray) -> FloatArray:
        """Effective MC count at u (inf if the nodes have no variances)."""
        if self.neff is None:
            return np.full(np.shape(u), np.inf)
        if self.neff_range[0] == self.neff_range[1]:
            return np.full(np.shape(u), self.neff_range[0])
        return np.clip(self.neff(u), *self.neff_range)

    def clipped(self, u: FloatArray) -> FloatArray:
        """sum_b max(raw_b(u), 0), exactly (piecewise cubic)."""
        u = np.asarray(u, dtype=float)
        last = self.q_coef.shape[0] - 1
        i = np.clip(np.searchsorted(self.q_breaks, u, side="right") - 1, 0, last)
        t = u - self.q_origin[i]
        c = self.q_coef[i]
        return ((c[..., 0] * t + c[..., 1]) * t + c[..., 2]) * t + c[..., 3]

    def segment(self, u: FloatArray) -> NDArray[np.intp]:
        """Index of the segment holding each u."""
        j = np.searchsorted(self.knots, u, side="right") - 1
        return np.clip(j, 0, self.knots.size - 2)


def _cubic(c: FloatArray, t: FloatArray) -> FloatArray:
    """sum_k c[k] t^(3-k) (Horner), broadcasting."""
    return ((c[0] * t + c[1]) * t + c[2]) * t + c[3]


def _monotone_points(c: FloatArray, h: FloatArray | float) -> FloatArray:
    """Per bin: 0, the extrema of its cubic inside (0, h) (else repeated ends), h.

    ``c`` has shape (4, ...) (cubic coefficients), ``h`` broadcasts against ``c[0]``;
    returns shape (4, ...), sorted along the first axis.
    """
    a3, b2, c1 = 3.0 * c[0], 2.0 * c[1], c[2]
    disc = np.maximum(b2 * b2 - 4.0 * a3 * c1, 0.0)
    sq = np.sqrt(disc)
    # numerically stable quadratic roots (q = -(b + sign(b) sqrt(disc)) / 2)
    qq = -0.5 * (b2 + np.where(b2 >= 0, sq, -sq))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(a3 != 0, qq / a3, np.where(b2 != 0, -c1 / b2, 0.0))
        r2 = np.where(qq != 0, c1 / qq, 0.0)
    r = np.nan_to_num(np.stack([r1, r2]), nan=0.0, posinf=0.0, neginf=0.0)
    r = np.clip(r, 0.0, h)
    ends = np.broadcast_to(h, c.shape[1:])
    pts = np.concatenate([np.zeros((1, *c.shape[1:])), r, ends[None]])
    return np.sort(pts, axis=0)


def _clipped_total_pieces(
    u: FloatArray, coef: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Breakpoints, origins and coefficients of sum_b max(raw_b, 0) (see :class:`SplineTables`).

    On each segment every bin's cubic is monotone between the segment ends and its extrema
    (closed form), so each of those (at most 3) pieces holds at most one zero crossing, found
    by bisection (all segments and bins at once); between consecutive crossings of all bins
    the set of negative bins is fixed and the clipped total is one cubic (the sum of all
    bins' cubics, those zeroed on an empty segment included as 0, minus the negative ones).
    """
    total_c = coef.sum(axis=2)  # (4, n_m - 1)
    h = np.diff(u)  # (n_seg,)
    pts = _monotone_points(coef, h[:, None])  # (4, n_seg, n_bins)
    neg: NDArray[np.bool_] = np.asarray(_cubic(coef, pts) < 0)
    k_idx, s_idx, b_idx = np.nonzero(neg[1:] != neg[:-1])
    lo = pts[k_idx, s_idx, b_idx]
    hi = pts[k_idx + 1, s_idx, b_idx]
    cc = coef[:, s_idx, b_idx]
    s_lo = neg[k_idx, s_idx, b_idx]
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        same = (_cubic(cc, mid) < 0) == s_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    crossings = 0.5 * (lo + hi)
    has_neg: NDArray[np.bool_] = np.asarray(neg.any(axis=0))  # (n_seg, n_bins)
    breaks: list[float] = []
    origin: list[float] = []
    pieces: list[FloatArray] = []
    for j in range(u.size - 1):
        hj = float(h[j])
        r = np.unique(np.clip(np.concatenate([[0.0, hj], crossings[s_idx == j]]), 0.0, hj))
        mids = 0.5 * (r[:-1] + r[1:])
        base = total_c[:, j]
        cand = np.flatnonzero(has_neg[j])
        if cand.size:
            cn = coef[:, j, cand]
            negm = (_cubic(cn[:, None, :], mids[:, None]) < 0).astype(float)  # (n_pieces, n_cand)
            qc = base[None, :] - negm @ cn.T
        else:
            qc = np.broadcast_to(base, (mids.size, 4))
        breaks.extend((u[j] + r[:-1]).tolist())
        origin.extend([float(u[j])] * mids.size)
        pieces.append(np.asarray(qc, dtype=float))
    breaks.append(float(u[-1]))
    return np.array(breaks), np.array(origin), np.concatenate(pieces, axis=0)


@dataclass(frozen=True)
class LeaveOneOut:
    """Leave-one-out test of a mass interpolation scheme on a grid (:func:`leave_one_out`).

    Attributes
    ----------
    scheme : str
        ``"linear"``, ``"lagrange4"`` or ``"spline"``.
    masses : ndarray
        The held-out (interior) node masses in GeV.
    chi2, ndf : ndarray
        Per held-out node: sum over the used bins of (interpolated - held out)^2 / (V_held +
        V_interpolated), and the number of bins used.

    Examples
    --------
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.shapes import leave_one_out
    >>> loo = leave_one_out(load_grid("km"))
    >>> loo.scheme, loo.masses.size, round(loo.excess, 2)
    ('spline', 38, 0.01)
    """

    scheme: str
    masses: FloatArray
    chi2: FloatArray
    ndf: NDArray[np.intp]

    @property
    def chi2_per_ndf(self) -> float:
        """Pooled chi2 / ndf over every held-out node."""
        return float(self.chi2.sum() / max(int(self.ndf.sum()), 1))

    @property
    def excess(self) -> float:
        """max(0, chi2/ndf - 1), the interpolation variance relative to the MC variance.

        At *twice* the grid spacing: an upper bound of the real one, which is smaller by
        2^-4 (linear) to 2^-8 (cubic) for a smooth dependence.
        """
        return max(0.0, self.chi2_per_ndf - 1.0)


def _scheme_weights(scheme: str, u: FloatArray, x: float) -> FloatArray:
    """Interpolation weights of the nodes u at x for a named scheme (leave-one-out only)."""
    from scipy.interpolate import CubicSpline

    from ..templates.core import lagrange_weights, stencil

    n = u.size
    w = np.zeros(n)
    if scheme == "linear":
        i = int(np.clip(np.searchsorted(u, x) - 1, 0, n - 2))
        t = (x - u[i]) / (u[i + 1] - u[i])
        w[i], w[i + 1] = 1.0 - t, t
    elif scheme == "lagrange4":
        idx = stencil(u, x, 4)
        w[idx] = lagrange_weights(u[idx], x)
    elif scheme == "spline":
        w = np.asarray(CubicSpline(u, np.eye(n), bc_type="not-a-knot")(x), dtype=float)
    else:
        raise InputError(f"scheme must be 'linear', 'lagrange4' or 'spline', got {scheme!r}")
    return w


def leave_one_out(grid: ShapeGrid, scheme: str = "spline", *, min_mc: float = 25.0) -> LeaveOneOut:
    """Hold out each interior node, interpolate it from the others, compare (chi2 per bin).

    The interpolated shape is made as :meth:`ShapeGrid.shape` does
    (:func:`~darkmoments.templates.core.interpolate_bins`: 0 in bins empty at both ends of
    the segment, clipped at 0, renormalised), its variance sum_i c_i^2 V_i.  Bins are used
    where both the held-out and the interpolated shape have at least ``min_mc`` expected MC
    events (N_eff p >= min_mc), so that chi2 is chi2-distributed; chi2/ndf near 1 means the
    interpolation error is below the MC error at twice the grid spacing.

    Parameters
    ----------
    grid : ShapeGrid
        At least 4 masses.
    scheme : str
        ``"linear"`` (in ln m), ``"lagrange4"`` (4-node stencil in ln m) or ``"spline"`` (the
        package's not-a-knot cubic spline through every other node).
    min_mc : float
        Minimum expected MC events per used bin.

    Returns
    -------
    LeaveOneOut

    Examples
    --------
    The evidence for the package's spline (docs/templates.md): on the shipped km grid, each
    interior node interpolated from the others at twice the grid spacing agrees within the
    MC errors (chi2/ndf = 1.01 over 23313 bins); linear interpolation in ln m does not:

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.shapes import leave_one_out
    >>> grid = load_grid("km")
    >>> spline = leave_one_out(grid)
    >>> round(spline.chi2_per_ndf, 2), int(spline.ndf.sum())
    (1.01, 23313)
    >>> round(leave_one_out(grid, "linear").chi2_per_ndf, 2)
    3.01
    """
    if grid.masses.size < 4:
        raise InputError(f"leave_one_out needs at least 4 masses, got {grid.masses.size}")
    u = np.log(grid.masses)
    p, v, ne = grid.probs, grid.variances, grid.node_n_eff
    chi2, ndf = [], []
    for i in range(1, u.size - 1):
        keep = np.arange(u.size) != i
        c = _scheme_weights(scheme, u[keep], float(u[i]))
        q, var_q = interpolate_bins(p[keep], v[keep], u[keep], float(u[i]), c)
        var = v[i] + var_q
        n_mc = float(ne[i]) if np.isfinite(ne[i]) else 1e300
        use = (var > 0) & (np.minimum(q, p[i]) * n_mc >= min_mc)
        chi2.append(float(np.sum((q[use] - p[i][use]) ** 2 / var[use])))
        ndf.append(int(use.sum()))
    return LeaveOneOut(scheme, grid.masses[1:-1].copy(), np.array(chi2), np.array(ndf))


def load_grid(
    model: str,
    experiment: str = "ldmx-phase2",
    observables: str | Sequence[str] = "E,pt",
    *,
    directory: str | None = None,
    level: str = "truth",
    depth_nodes: int | None = 9,
) -> ShapeGrid:
    """The shipped templates of a model and experiment as a :class:`ShapeGrid`.

    Parameters
    ----------
    model : str
        Model id.
    experiment : str
        Experiment name or TOML path.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    directory : str, optional
        Template directory (default: the shipped templates).
    level : str
        ``"truth"`` (``<experiment>.h5``) or ``"detector"`` (``<experiment>.detector.h5``).
    depth_nodes : int or None
        Thick targets (M3): the depth factor f = <sigma> / sigma(E0) is computed at this
        many of the masses and interpolated (:meth:`Experiment.depth_factor`; None: at
        every mass).  Thin targets: f = 1 exactly, nothing is computed.

    Returns
    -------
    ShapeGrid
        With ``n1`` = expected events at unit coupling (experiment efficiency, selection
        efficiency, luminosity and the thick-target depth factor included: the yield of
        :func:`darkmoments.templates.signal_yield` at g = 1).

    Examples
    --------
    km at 0.1 GeV: 7.4e10 events at epsilon = 1 at LDMX Phase II (1e16 electrons of 8
    GeV).  (``load_grid("km", "m3-phase1").rate(0.1)`` is 3.9e6, 1e10 muons of 15 GeV on
    a thick target; its depth factor runs the generator at 9 masses, ~10 s on first use.)

    >>> from darkmoments.stats import load_grid
    >>> grid = load_grid("km", "ldmx-phase2")
    >>> grid.model, grid.masses.size, grid.n_bins, f"{grid.rate(0.1):.2g}"
    ('km', 40, 1920, '7.4e+10')
    """
    from .. import templates
    from ..experiments import get_experiment

    exp = get_experiment(experiment)
    ms = templates.masses(model, exp, directory=directory, level=level)
    ts = [templates.load(model, float(m), exp, directory=directory, level=level) for m in ms]
    grid = ShapeGrid.from_templates(
        ts, observables, events_per_pb=exp.events_per_pb * exp.efficiency
    )
    if not exp.thick_target or grid.n1 is None:
        return grid
    f = np.asarray(exp.depth_factor(grid.model, grid.masses, nodes=depth_nodes), dtype=float)
    return replace(grid, n1=grid.n1 * f)
