"""Combined likelihoods over several experiments: one A' mass and coupling, many data sets.

Several missing-momentum setups (LDMX Phase I and II with electrons, M3 with muons; any
:class:`~darkmoments.experiments.Experiment`) see the same A' (one mass m, one coupling g)
through different beams, so a hypothesis (a model) predicts every experiment's shape
p_i(m) *and* the ratios of their rates R_i(m) = g^2 N1_i(m) (N1_i the expected events at unit
coupling, :attr:`~darkmoments.stats.shapes.ShapeGrid.n1`, with the thick-target depth factor
of :mod:`darkmoments.thick_target` for M3).  The combined deviance of data n = (n_1 .. n_K) is

    D(n) = min_{m, normalisation} [ sum_i D_i(n_i; mu_i, m) + constraints ],

D_i the package's one binned likelihood (:mod:`darkmoments.stats.fast`: Barlow-Beeston with
each experiment's own template MC statistics, or plain Poisson), with three treatments of the
normalisations mu_i (expected events of experiment i):

``"free"`` (shape only)
    every mu_i free: only the shapes inform (each experiment's total is profiled away).
``"shared"`` (shape + rate ratios)
    mu_i = c R_i(m) theta_i with one free scale c (the coupling is unknown but common): the
    ratios of the experiments' rates are the model's prediction, known up to each
    experiment's normalisation nuisance theta_i.  A shared theory nuisance would be
    degenerate with c and is absorbed in it.
``"tied"`` (shape + rate)
    mu_i = R_i(m) theta_i theta_T with the coupling predicted (relic target times a factor,
    or given): per-experiment nuisances theta_i and one shared theory nuisance theta_T.

Nuisances (:class:`CombinedSystematics`, from
:class:`~darkmoments.stats.systematics.NormalisationSystematics`): theta_i is log-normal with
width s_i = ln(1 + sqrt(eot^2 + thickness^2 + efficiency^2)) of experiment i (independent
between experiments: their beams, targets and efficiencies are measured separately); theta_T
with s_T = ln(1 + theory), one for all (the same generator and form factor).  Each adds
(ln theta / s)^2 to D.  With one experiment and ``"tied"`` the two nuisances act as one of
width sqrt(s_1^2 + s_T^2); with no nuisances, ``"tied"`` with one experiment is exactly
:func:`~darkmoments.stats.fast.profile_mass` with ``rates``, and ``"free"`` /``"shared"`` are
its free normalisation (tested).

Profiling.  For each experiment and mass the deviance depends on mu_i only through the
experiment's totals: D_i(mu) = D_i(mu_hat_i) + 2 [g_i(ln mu) - g_i(ln mu_hat_i)] with
g = :func:`~darkmoments.stats.fast.norm_term`'s tied term (Barlow-Beeston:
(n + A) ln(1 + mu/N) - n ln(mu/N), A = N S; plain: mu S - n ln mu - n) and mu_hat_i the free
fit, so the fast path's free-normalisation deviance of every experiment (sparse over each
toy's non-empty bins) is computed once and the normalisation parameters (ln c or ln theta_T,
and the ln theta_i) are profiled by a vectorised Newton iteration on this convex function of
a few variables: the common parameter by the Schur complement of the arrow-shaped Hessian,
then each ln theta_i (:func:`profile_normalisation`).  The mass is profiled as in
:func:`~darkmoments.stats.fast.profile_mass`: every experiment's spline interpolation
sampled at most :data:`~darkmoments.stats.fast.SAMPLE_STEP` apart in ln m over the common
mass range, then a batched golden-section search on the exact splines around the two
lowest local minima (the fast path's own objective and search, reused).

Discrimination (:func:`run_combined_discrimination`): t = D_alt - D_true, Asimov point of the
alternative, toys of both hypotheses (with ``"free"`` the alternative's toys are multinomial
per experiment at that experiment's total: each total is sufficient for its normalisation;
otherwise Poisson at the fitted alternative), direct and importance-sampled p-values
(:mod:`darkmoments.stats.sampling`), and the luminosity scale k (running time in units of
every experiment's nominal EOT, all scaled together) for Z_A = 3 and 5
(:func:`combined_events_for_significance`).  Also the degeneracy curve
(:func:`combined_degeneracy`), mass fits (:func:`fit_mass_combined`), the zero-background
reach (:func:`combined_reach`), a combined pyhf workspace with one channel per experiment
(:func:`combined_spec`, built with :func:`~darkmoments.stats.workspace.build_spec`), and the
entry points the command line uses (:func:`parse_experiments`, :func:`combined_setup`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline

from ..errors import InputError, InputTypeError, NonFiniteResultError
from ..validation import check_finite_result, check_int, check_real
from ._roots import luminosity_scale
from .discovery import p_to_z
from .fast import (
    P_FLOOR,
    SAMPLE_STEP,
    PreparedCounts,
    _golden,
    _Objective,
    _starts,
    check_p_floor,
    deviance_grid,
    norm_term,
    prepare_counts,
)
from .fits import asimov
from .sampling import (
    empirical_p_value,
    log_likelihood_ratio,
    mixture_tail_probability,
    null_toys,
)
from .shapes import ShapeGrid
from .systematics import NormalisationSystematics
from .toys import _CHUNK_KEYS, _load_chunk, _save_chunk

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments import Experiment
    from ..templates import Template

__all__ = [
    "NORMALISATIONS",
    "PYHF_MODIFIER_SETTINGS",
    "STATISTICS",
    "CombinedDegeneracy",
    "CombinedDiscrimination",
    "CombinedHypothesis",
    "CombinedIdentity",
    "CombinedMassFit",
    "CombinedProfile",
    "CombinedSetup",
    "CombinedSystematics",
    "combined_alternative_point",
    "combined_asimov",
    "combined_degeneracy",
    "combined_events_for_significance",
    "combined_p_values",
    "combined_reach",
    "combined_setup",
    "combined_shape_identity",
    "combined_spec",
    "combined_statistic",
    "combined_workspace",
    "combined_yields",
    "coupling_hypothesis",
    "deviance_at_masses",
    "fit_mass_combined",
    "load_hypothesis",
    "parse_experiments",
    "profile_combined",
    "profile_normalisation",
    "relic_hypothesis",
    "run_combined_discrimination",
    "split_counts",
]

FloatArray = NDArray[np.float64]

#: Normalisation treatments (module docstring).
NORMALISATIONS: tuple[str, ...] = ("free", "shared", "tied")
#: Names of the statistics of the command line and the study: shape only (``"free"``),
#: shape + rate ratios (``"shared"``), shape + rate (``"tied"``).
STATISTICS: dict[str, str] = {"shape": "free", "ratio": "shared", "shape+rate": "tied"}

#: Newton iterations of the normalisation profile (converges in < 10 on every problem seen)
#: and the largest step in a log normalisation.
_NEWTON_ITERS: int = 100
_MAX_STEP: float = 2.0
_NEWTON_TOL: float = 1e-12


def _check_normalisation(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in NORMALISATIONS:
        raise InputError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {value!r}")
    return value.strip().lower()


# ----------------------------------------------------------------------------- hypotheses


class _LnRate:
    """ln R(u) by the not-a-knot spline in u = ln m (the fast path's interpolation of rates).

    A class rather than a closure so that hypotheses pickle (process workers).
    """

    def __init__(self, masses: FloatArray, rates: FloatArray) -> None:
        self.lr = np.log(np.asarray(rates, dtype=float))
        self.spline = (
            None if masses.size == 1 else CubicSpline(np.log(masses), self.lr, bc_type="not-a-knot")
        )

    def __call__(self, u: Any) -> FloatArray:
        if self.spline is None:
            return np.full(np.shape(u), self.lr[0])
        return np.asarray(self.spline(u), dtype=float)


@dataclass(frozen=True, eq=False)
class CombinedHypothesis:
    """One model seen by several experiments.

    Attributes
    ----------
    model : str
        Model id (the same in every grid).
    grids : tuple of ShapeGrid
        The model's shapes in each experiment (its own binning and mass grid).
    rates : tuple of ndarray or None
        Expected events at each grid's masses (tied or shared normalisation; any common scale
        with ``"shared"``); None: only ``"free"`` fits.

    Examples
    --------
    km in LDMX Phase I and II (recoil energy) with the events at unit coupling: at 0.1 GeV
    Phase II sees 38 times more (25 x the electrons, 1.5 x the cross section at 8 GeV):

    >>> from darkmoments.stats.combined import load_hypothesis
    >>> hyp = load_hypothesis("km", "ldmx-phase1,ldmx-phase2", "E")
    >>> hyp.n_experiments, hyp.mass_range  # the common range, GeV
    (2, (0.001, 2.0))
    >>> f"{hyp.rate(0, 0.1):.3g}", f"{hyp.rate(1, 0.1):.3g}"
    ('1.97e+09', '7.41e+10')
    >>> round(hyp.scaled(2.0).rate(1, 0.1) / hyp.rate(1, 0.1), 9)
    2.0
    """

    model: str
    grids: tuple[ShapeGrid, ...]
    rates: tuple[FloatArray, ...] | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        grids = tuple(self.grids)
        if not grids or not all(isinstance(g, ShapeGrid) for g in grids):
            raise InputTypeError("grids must be a non-empty sequence of ShapeGrid")
        if any(g.model != self.model for g in grids):
            raise InputError(
                f"every grid must hold model {self.model}, got {[g.model for g in grids]}"
            )
        object.__setattr__(self, "grids", grids)
        if self.rates is not None:
            rates = tuple(np.asarray(r, dtype=float) for r in self.rates)
            if len(rates) != len(grids):
                raise InputError(f"{len(rates)} rate arrays for {len(grids)} experiments")
            for g, r in zip(grids, rates, strict=True):
                if r.shape != g.masses.shape or not (np.all(np.isfinite(r)) and np.all(r > 0)):
                    raise InputError("rates must be finite, > 0 events, one per grid mass")
            object.__setattr__(self, "rates", rates)
        self.mass_range  # noqa: B018  (validates the overlap)

    @classmethod
    def join(cls, parts: Sequence[CombinedHypothesis]) -> CombinedHypothesis:
        """One model's single-experiment hypotheses joined into one over all of them.

        Parameters
        ----------
        parts : sequence of CombinedHypothesis
            One per experiment (the first grid and rate of each are used), same model.

        Returns
        -------
        CombinedHypothesis

        Examples
        --------
        >>> from darkmoments.stats.combined import CombinedHypothesis, load_hypothesis
        >>> parts = [load_hypothesis("km", [e], "E") for e in ("ldmx-phase1", "ldmx-phase2")]
        >>> CombinedHypothesis.join(parts).n_experiments
        2
        """
        rates = tuple(h.rates[0] for h in parts if h.rates is not None)
        return cls(parts[0].model, tuple(h.grids[0] for h in parts), rates)

    @property
    def n_experiments(self) -> int:
        """Number of experiments K."""
        return len(self.grids)

    @property
    def mass_range(self) -> tuple[float, float]:
        """The masses (GeV) every experiment's grid covers: (max of lows, min of highs)."""
        lo = max(g.mass_range[0] for g in self.grids)
        hi = min(g.mass_range[1] for g in self.grids)
        if lo > hi * (1 + 1e-12):
            raise InputError(
                f"the experiments' mass grids of model {self.model} do not overlap: "
                + ", ".join(f"[{g.mass_range[0]:g}, {g.mass_range[1]:g}]" for g in self.grids)
            )
        return lo, min(max(hi, lo), hi)

    def check_mass(self, mass: Any) -> float:
        """``mass`` as float if inside :attr:`mass_range`, else an InputError naming it."""
        m = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")
        lo, hi = self.mass_range
        if m < lo * (1 - 1e-12) or m > hi * (1 + 1e-12):
            raise InputError(
                f"mass {m:g} GeV outside [{lo:g}, {hi:g}] GeV, the range of model {self.model} "
                "in every experiment"
            )
        return min(max(m, lo), hi)

    def lnrate(self, i: int) -> _LnRate:
        """ln R_i(u), u = ln m (cached)."""
        if self.rates is None:
            raise InputError(f"hypothesis {self.model} has no rates (tied or shared fits)")
        key = ("lnrate", i)
        if key not in self._cache:
            self._cache[key] = _LnRate(self.grids[i].masses, self.rates[i])
        return self._cache[key]

    def rate(self, i: int, mass: float) -> float:
        """R_i at ``mass`` (GeV), events."""
        return float(np.exp(self.lnrate(i)(np.array(math.log(mass)))))

    def scaled(self, k: float) -> CombinedHypothesis:
        """The same hypothesis with every rate multiplied by ``k`` (more luminosity)."""
        if self.rates is None:
            return self
        return CombinedHypothesis(self.model, self.grids, tuple(r * k for r in self.rates))

    def sampled(self, i: int, masses: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Probabilities (n_m, n_bins) and effective MC counts (n_m,) of grid i at ``masses``.

        The grid's spline interpolation (:meth:`ShapeGrid.shape`, :meth:`ShapeGrid.n_eff`),
        exactly as :meth:`ShapeGrid.refined` samples it; cached per mass set.
        """
        key = ("sampled", i, masses.tobytes())
        if key not in self._cache:
            g = self.grids[i]
            # a grid node is its own interpolation: take it as stored (no spline evaluation)
            j = np.clip(np.searchsorted(g.masses, masses), 0, g.masses.size - 1)
            on_node = np.abs(g.masses[j] - masses) <= 1e-12 * masses
            probs = np.array(
                [
                    g.probs[jj] if node else g.shape(float(m))
                    for m, jj, node in zip(masses, j, on_node, strict=True)
                ]
            )
            ne = np.array(
                [
                    g.node_n_eff[jj] if node else g.n_eff(float(m))
                    for m, jj, node in zip(masses, j, on_node, strict=True)
                ]
            )
            self._cache[key] = (probs, ne)
        return self._cache[key]


# ----------------------------------------------------------------------------- systematics


@dataclass(frozen=True)
class CombinedSystematics:
    """Normalisation nuisances of a combination (relative uncertainties, 0.05 = 5 %).

    Attributes
    ----------
    experiment : tuple of float
        Per experiment: its own eot (+) thickness (+) efficiency uncertainty, independent
        between experiments.
    theory : float
        The shared cross-section uncertainty (one nuisance for all experiments).

    Examples
    --------
    The defaults for two experiments: each sqrt(0.02^2 + 0.02^2 + 0.05^2) = 5.7 % of its
    own, 10 % theory shared:

    >>> from darkmoments.stats.combined import CombinedSystematics
    >>> from darkmoments.stats.systematics import DEFAULT_SYSTEMATICS
    >>> syst = CombinedSystematics.from_systematics(DEFAULT_SYSTEMATICS, 2)
    >>> [round(x, 4) for x in syst.experiment], syst.theory
    ([0.0574, 0.0574], 0.1)
    >>> s_i, s_t = syst.widths()  # log-normal widths ln(1 + sigma)
    >>> s_i.round(4), round(s_t, 4)
    (array([0.0559, 0.0559]), 0.0953)
    """

    experiment: tuple[float, ...]
    theory: float = 0.0

    def __post_init__(self) -> None:
        vals = tuple(
            check_real(f"experiment systematic {i}", v, lo=0.0, hi=1e6)
            for i, v in enumerate(self.experiment)
        )
        object.__setattr__(self, "experiment", vals)
        object.__setattr__(self, "theory", check_real("theory systematic", self.theory, lo=0.0))

    @classmethod
    def from_systematics(
        cls, systematics: NormalisationSystematics | Sequence[NormalisationSystematics], n: int
    ) -> CombinedSystematics:
        """From one :class:`NormalisationSystematics` (every experiment alike) or one each.

        The experiment part of each is sqrt(eot^2 + thickness^2 + efficiency^2); the theory
        part is the first one's (it is one shared nuisance).
        """
        items = (
            [systematics] * n
            if isinstance(systematics, NormalisationSystematics)
            else list(systematics)
        )
        if len(items) != n or not all(isinstance(s, NormalisationSystematics) for s in items):
            raise InputError(f"need one NormalisationSystematics or {n} of them")
        exp = tuple(math.sqrt(s.eot**2 + s.thickness**2 + s.efficiency**2) for s in items)
        return cls(exp, items[0].theory)

    def widths(self) -> tuple[FloatArray, float]:
        """(s_i per experiment, s_T): log-normal widths ln(1 + sigma); 0 = no nuisance."""
        return np.log1p(np.array(self.experiment, dtype=float)), math.log1p(self.theory)

    def summary(self) -> dict[str, Any]:
        """JSON-able record: relative uncertainties and log-normal widths."""
        s, s_t = self.widths()
        return {
            "experiment": list(self.experiment),
            "theory": self.theory,
            "experiment_widths": s.tolist(),
            "theory_width": s_t,
        }


# ----------------------------------------------------------------------------- normalisation


def _g(n: FloatArray, s: FloatArray, ne: FloatArray, x: FloatArray) -> FloatArray:
    """The tied term of :func:`~darkmoments.stats.fast.norm_term` at mu = e^x."""
    with np.errstate(over="ignore", under="ignore"):
        mu = np.exp(np.clip(x, -745.0, 700.0))
    return norm_term(n, s, ne, np.maximum(mu, 1e-300))[0]


def _g_derivatives(
    n: FloatArray, s: FloatArray, ne: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """dg/dx and d2g/dx2 (Barlow-Beeston, or plain where N = inf)."""
    plain = ~np.isfinite(ne)
    big = np.where(plain, 1.0, ne)
    mu = np.exp(np.clip(x, -745.0, 700.0))
    q = mu / big
    a_tot = big * s
    g1 = np.where(plain, mu * s - n, (n + a_tot) * q / (1.0 + q) - n)
    g2 = np.where(plain, mu * s, (n + a_tot) * q / (1.0 + q) ** 2)
    return g1, g2


def profile_normalisation(
    n: FloatArray,
    s: FloatArray,
    n_eff: FloatArray,
    lnrate: FloatArray | None,
    *,
    normalisation: str,
    widths: FloatArray | None = None,
    theory_width: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """The normalisation part of the combined deviance, minimised; and the fitted ln mu_i.

    Parameters
    ----------
    n, s, n_eff : ndarray, shape (K, ...)
        Each experiment's total count, shape total S and effective MC count N (inf: plain
        Poisson), broadcast over any trailing shape (toys, masses).
    lnrate : ndarray, shape (K, ...), optional
        ln R_i (``"shared"``, ``"tied"``).
    normalisation : str
        ``"free"``, ``"shared"`` or ``"tied"``.
    widths : ndarray, shape (K,), optional
        s_i of the per-experiment nuisances (0 or None: none).
    theory_width : float
        s_T of the shared nuisance (``"tied"`` only; 0: none).

    Returns
    -------
    value, ln_mu : ndarray
        value (shape (...)) = sum_i 2 [g_i(x_i) - g_i(free)] + sum (ln theta / s)^2, to be
        added to the sum of the experiments' free-normalisation deviances; ln_mu (K, ...) the
        fitted log expected events.

    Examples
    --------
    Two experiments count 30 and 50 events; the model predicts 10 and 30 (plain Poisson).
    ``"free"`` fits each count (cost 0); ``"shared"`` keeps the ratio 1:3 with a free scale
    (20 and 60, cost 6.1); ``"tied"`` keeps the prediction (cost 37.0), and with 5 %
    experiment and 10 % theory uncertainties moves to 13.6 and 40.0 (cost 24.9):

    >>> import numpy as np
    >>> from darkmoments.stats.combined import profile_normalisation
    >>> n, s, plain = np.array([[30.0], [50.0]]), np.ones((2, 1)), np.full((2, 1), np.inf)
    >>> lnr = np.log(np.array([[10.0], [30.0]]))
    >>> for mode in ("free", "shared", "tied"):
    ...     value, x = profile_normalisation(n, s, plain, lnr, normalisation=mode)
    ...     print(mode, value.round(2), np.exp(x).ravel().round(2))
    free [0.] [30. 50.]
    shared [6.1] [20. 60.]
    tied [37.] [10. 30.]
    >>> value, x = profile_normalisation(n, s, plain, lnr, normalisation="tied",
    ...                                  widths=np.array([0.05, 0.05]), theory_width=0.1)
    >>> value.round(2), np.exp(x).ravel().round(2)
    (array([24.93]), array([13.57, 40.04]))
    """
    mode = _check_normalisation(normalisation)
    n, s, ne = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n, s, n_eff)))
    with np.errstate(divide="ignore"):
        free_x = np.log(np.where(n > 0, n / s, 0.0))
    if mode == "free":
        return np.zeros(n.shape[1:]), free_x
    if lnrate is None:
        raise InputError(f"normalisation {mode!r} needs the hypotheses' rates")
    lr = np.broadcast_to(np.asarray(lnrate, dtype=float), n.shape)
    k = n.shape[0]
    s2 = np.zeros(k) if widths is None else np.asarray(widths, dtype=float) ** 2
    s2 = s2.reshape((k,) + (1,) * (n.ndim - 1))
    phi, phi0 = _newton(n, s, ne, lr, s2, mode == "shared", float(theory_width) ** 2)
    x = lr + phi0 + phi
    g_free = norm_term(n, s, ne, None)[0]
    value = 2.0 * np.sum(_g(n, s, ne, x) - g_free, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = value + np.sum(np.where(s2 > 0, phi**2 / np.where(s2 > 0, s2, 1.0), 0.0), axis=0)
        if mode == "tied" and theory_width > 0:
            value = value + phi0**2 / theory_width**2
    return np.maximum(value, 0.0), x


def _newton(
    n: FloatArray,
    s: FloatArray,
    ne: FloatArray,
    lr: FloatArray,
    s2: FloatArray,
    free0: bool,
    s0sq: float,
) -> tuple[FloatArray, FloatArray]:
    """Newton iteration on (phi_0, phi_i): x_i = ln R_i + phi_0 + phi_i (module docstring).

    The Hessian is diagonal in the phi_i plus the common phi_0 coupling to all; the step of
    phi_0 follows from the Schur complement, then each phi_i's.  ``free0``: phi_0 free (the
    shared coupling); else constrained with width^2 ``s0sq`` (0: fixed at 0).
    """
    phi = np.zeros(n.shape)
    if free0:
        tot_n = n.sum(axis=0)
        tot_r = np.sum(np.exp(lr) * s, axis=0)
        with np.errstate(divide="ignore"):
            phi0 = np.log(np.maximum(tot_n, 1e-300) / tot_r)
    else:
        phi0 = np.zeros(n.shape[1:])
    move0 = free0 or s0sq > 0
    for _ in range(_NEWTON_ITERS):
        g1, g2 = _g_derivatives(n, s, ne, lr + phi0 + phi)
        a = (g1 * s2 + phi) / (1.0 + g2 * s2)  # G_i / (h_i + lambda_i) in the s^2 form
        d0 = np.zeros(phi0.shape)
        if move0:
            den = np.sum(g2 / (1.0 + g2 * s2), axis=0)
            num = np.sum(g1, axis=0) - np.sum(g2 * a, axis=0)
            if free0:  # no events at all: mu -> 0 is the optimum (value 0), stop there
                ok = (den > 0) & (tot_n > 0)
                d0 = np.where(ok, num / np.where(ok, den, 1.0), 0.0)
            else:
                d0 = (s0sq * num + phi0) / (1.0 + s0sq * den)
        d = a - g2 * s2 * d0 / (1.0 + g2 * s2)
        d0 = np.clip(d0, -_MAX_STEP, _MAX_STEP)
        d = np.clip(d, -_MAX_STEP, _MAX_STEP)
        phi0 = phi0 - d0
        phi = phi - d
        if np.all(np.abs(d0) < _NEWTON_TOL) and np.all(np.abs(d) < _NEWTON_TOL):
            break
    return phi, phi0


# ----------------------------------------------------------------------------- counts


def _prepared(counts: Any, hypothesis: CombinedHypothesis) -> list[PreparedCounts]:
    """Every experiment's :class:`~darkmoments.stats.fast.PreparedCounts` (made once)."""
    if (
        isinstance(counts, Sequence)
        and counts
        and all(isinstance(c, PreparedCounts) for c in counts)
    ):
        if len(counts) != hypothesis.n_experiments:
            raise InputError(
                f"counts for {len(counts)} experiments, the hypothesis has "
                f"{hypothesis.n_experiments}"
            )
        return [prepare_counts(c, g.n_bins) for c, g in zip(counts, hypothesis.grids, strict=True)]
    parts = split_counts(counts, hypothesis)
    return [prepare_counts(c, g.n_bins) for c, g in zip(parts, hypothesis.grids, strict=True)]


def split_counts(
    counts: FloatArray | Sequence[FloatArray], hypothesis: CombinedHypothesis
) -> list[FloatArray]:
    """Counts of every experiment as a list of (n_toys, n_bins_i) arrays.

    ``counts`` is such a sequence, or one array of the experiments' bins concatenated (in the
    hypothesis' order), which is split.

    Parameters
    ----------
    counts : ndarray or sequence of ndarray
        Concatenated or per-experiment counts.
    hypothesis : CombinedHypothesis
        Gives the experiments' bins.

    Returns
    -------
    list of ndarray

    Raises
    ------
    InputError
        Wrong number of experiments or bins, different toy counts.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.stats.combined import load_hypothesis, split_counts
    >>> hyp = load_hypothesis("km", "ldmx-phase1,ldmx-phase2", "E")  # 40 + 40 bins
    >>> [p.shape for p in split_counts(np.ones((3, 80)), hyp)]
    [(3, 40), (3, 40)]
    """
    sizes = [g.n_bins for g in hypothesis.grids]
    if isinstance(counts, np.ndarray):
        c = np.atleast_2d(np.asarray(counts, dtype=float))
        if c.shape[1] != sum(sizes):
            raise InputError(
                f"counts have {c.shape[1]} bins, the experiments {sizes} (total {sum(sizes)})"
            )
        return list(np.split(c, np.cumsum(sizes)[:-1], axis=1))
    parts = [np.atleast_2d(np.asarray(x, dtype=float)) for x in counts]
    if len(parts) != len(sizes):
        raise InputError(f"counts for {len(parts)} experiments, the hypothesis has {len(sizes)}")
    for p, nb in zip(parts, sizes, strict=True):
        if p.shape[1] != nb or p.shape[0] != parts[0].shape[0]:
            raise InputError(
                f"counts of shape {[q.shape for q in parts]} do not match the bins {sizes}"
            )
    return parts


# ----------------------------------------------------------------------------- fit options


@dataclass(frozen=True)
class _Options:
    """How a hypothesis is fitted (normalisation treatment, nuisances, likelihood)."""

    normalisation: str = "free"
    widths: FloatArray | None = None
    theory_width: float = 0.0
    refine: bool = True
    mc_stat: bool = True
    p_floor: float = P_FLOOR

    @classmethod
    def make(
        cls,
        normalisation: str,
        systematics: CombinedSystematics | None,
        n_exp: int,
        *,
        refine: bool = True,
        mc_stat: bool = True,
        p_floor: float | None = None,
    ) -> _Options:
        mode = _check_normalisation(normalisation)
        widths, s_t = None, 0.0
        if systematics is not None:
            if len(systematics.experiment) != n_exp:
                raise InputError(
                    f"systematics for {len(systematics.experiment)} experiments, need {n_exp}"
                )
            widths, s_t = systematics.widths()
        floor = P_FLOOR if p_floor is None else check_p_floor(p_floor)
        return cls(mode, widths, s_t, bool(refine), bool(mc_stat), floor)

    def profile(
        self,
        n: FloatArray,
        s: FloatArray,
        ne: FloatArray,
        lnrate: FloatArray | None,
    ) -> tuple[FloatArray, FloatArray]:
        """:func:`profile_normalisation` with these options."""
        return profile_normalisation(
            n,
            s,
            ne,
            lnrate,
            normalisation=self.normalisation,
            widths=self.widths,
            theory_width=self.theory_width if self.normalisation == "tied" else 0.0,
        )


# ----------------------------------------------------------------------------- evaluation


def _sample_points(hyp: CombinedHypothesis, refine: bool) -> FloatArray:
    """Masses (GeV) where the profile is sampled before the continuous search.

    One experiment: exactly the masses :func:`~darkmoments.stats.fast.profile_mass`
    samples (its grid's nodes, with ``refine`` subdivided at most
    :data:`~darkmoments.stats.fast.SAMPLE_STEP` apart in ln m).  Several: without
    ``refine`` the union of the grids' nodes in the common range; with ``refine`` a uniform
    grid in ln m over the common range, at most ``SAMPLE_STEP`` apart (the samples only
    start the golden-section search, which uses the exact splines of every grid).
    """
    lo, hi = hyp.mass_range
    grids = list(hyp.grids)
    if len(grids) == 1 or not refine:
        pts: list[float] = []
        for g in grids:
            if refine and g.masses.size > 1:
                h = float(np.max(np.diff(np.log(g.masses))))
                k = max(2, int(np.ceil(h / SAMPLE_STEP - 1e-9)))
                pts.extend(g.sample_masses(k).tolist())
            else:
                pts.extend(g.masses.tolist())
        m = np.array(sorted(set(pts)))
        m = m[(m >= lo * (1 - 1e-12)) & (m <= hi * (1 + 1e-12))]
        m = np.unique(np.concatenate([[lo], m, [hi]]))
        keep = np.concatenate([[True], np.diff(np.log(m)) > 1e-12])  # one node in two grids
        return m[keep]
    n = int(np.ceil(math.log(hi / lo) / SAMPLE_STEP - 1e-9)) + 1 if hi > lo else 1
    return np.exp(np.linspace(math.log(lo), math.log(hi), max(n, 2))) if n > 1 else np.array([lo])


def _plain(opts: _Options, ne: FloatArray) -> NDArray[np.bool_]:
    return np.full(np.shape(ne), not opts.mc_stat) | ~np.isfinite(ne)


def _terms_at_masses(
    preps: Sequence[PreparedCounts],
    hyp: CombinedHypothesis,
    masses: FloatArray,
    opts: _Options,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray | None]:
    """Per experiment at ``masses``: free deviance (K, T, M), n (K, T, 1), S, N (K, 1, M), ln R."""
    d_free, n, s, ne, lr = [], [], [], [], []
    for i, prep in enumerate(preps):
        probs, n_eff = hyp.sampled(i, masses)
        if not opts.mc_stat:
            n_eff = np.full(n_eff.shape, np.inf)
        plain = _plain(opts, n_eff)
        pf = np.where(plain[:, None], np.maximum(probs, opts.p_floor), probs)
        d_free.append(
            deviance_grid(prep, probs, n_eff=n_eff, mc_stat=opts.mc_stat, p_floor=opts.p_floor)
        )
        n.append(prep.n[:, None])
        s.append(pf.sum(axis=1)[None, :])
        ne.append(n_eff[None, :])
        if hyp.rates is not None:
            lr.append(hyp.lnrate(i)(np.log(masses))[None, :])
    lnr = np.array(lr) if lr else None
    return np.array(d_free), np.array(n), np.array(s), np.array(ne), lnr


def _combine(
    d_free: FloatArray,
    n: FloatArray,
    s: FloatArray,
    ne: FloatArray,
    lnr: FloatArray | None,
    opts: _Options,
) -> tuple[FloatArray, FloatArray]:
    """Combined deviance (...) and fitted expected events (K, ...) from per-experiment terms."""
    if opts.normalisation != "free" and lnr is None:
        raise InputError(f"normalisation {opts.normalisation!r} needs the hypotheses' rates")
    n, s, ne = np.broadcast_arrays(n, s, ne)
    value, x = opts.profile(n, s, ne, None if lnr is None else np.broadcast_to(lnr, n.shape))
    return np.maximum(d_free.sum(axis=0) + value, 0.0), np.exp(x)


def deviance_at_masses(
    counts: FloatArray | Sequence[FloatArray],
    hypothesis: CombinedHypothesis,
    masses: Any,
    *,
    normalisation: str = "free",
    systematics: CombinedSystematics | None = None,
    mc_stat: bool = True,
    p_floor: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Combined deviance of every toy at given masses (normalisations profiled).

    Parameters
    ----------
    counts : ndarray or sequence of ndarray
        Toys (:func:`split_counts`).
    hypothesis : CombinedHypothesis
        Shapes (and rates) per experiment.
    masses : array_like
        A' masses in GeV inside :attr:`CombinedHypothesis.mass_range`.
    normalisation, systematics, mc_stat, p_floor
        As :func:`profile_combined`.

    Returns
    -------
    deviance : ndarray, shape (n_toys, n_m)
    norm : ndarray, shape (K, n_toys, n_m)
        Fitted expected events of each experiment.

    Examples
    --------
    The running example of this module: 60 km events at 0.1 GeV shared between LDMX
    Phase I (4 GeV, 4e14 EOT: 1.55 events) and Phase II (8 GeV, 1e16 EOT: 58.45 events) in
    the recoil energy, against md, normalisations free:

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_asimov, deviance_at_masses
    >>> data = combined_asimov(setup.true, 0.1, setup.n_true)[None, :]
    >>> dev, norm = deviance_at_masses(data, setup.alt, [0.1, 0.485])
    >>> dev.round(2), norm.shape  # md at 0.1 GeV is far off, at 0.485 GeV close
    (array([[15.78,  4.43]]), (2, 1, 2))
    """
    m = np.atleast_1d(np.asarray(masses, dtype=float))
    m = np.array([hypothesis.check_mass(x) for x in m])
    opts = _Options.make(
        normalisation, systematics, hypothesis.n_experiments, mc_stat=mc_stat, p_floor=p_floor
    )
    preps = _prepared(counts, hypothesis)
    return _combine(*_terms_at_masses(preps, hypothesis, m, opts), opts)


# ----------------------------------------------------------------------------- mass profile


@dataclass(frozen=True)
class CombinedProfile:
    """Result of :func:`profile_combined` for many toys.

    Attributes
    ----------
    deviance : ndarray, shape (n_toys,)
        Minimum combined deviance over the mass and the normalisations.
    mass : ndarray, shape (n_toys,)
        Best-fit A' mass in GeV.
    norm : ndarray, shape (K, n_toys)
        Best-fit expected events of each experiment.

    Examples
    --------
    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_asimov, profile_combined
    >>> prof = profile_combined(combined_asimov(setup.true, 0.1, setup.n_true)[None], setup.true)
    >>> prof.mass.round(4), prof.norm.ravel().round(2)
    (array([0.1]), array([ 1.55, 58.45]))
    """

    deviance: FloatArray
    mass: FloatArray
    norm: FloatArray


#: Toys x listed bins per block of the continuous refinement (memory bound).
_BLOCK: int = 2_000_000


class _CombinedObjective:
    """Combined D(u) of a block of toys on the experiments' exact spline interpolations."""

    def __init__(
        self, preps: Sequence[PreparedCounts], hyp: CombinedHypothesis, opts: _Options
    ) -> None:
        self.hyp, self.opts = hyp, opts
        self.objs = [
            _Objective(p, g.spline, None, None, opts.mc_stat, opts.p_floor)
            for p, g in zip(preps, hyp.grids, strict=True)
        ]
        self.n = np.array([p.n for p in preps])

    def terms(
        self, u: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray | None]:
        """Per experiment at per-toy u: free deviance, n, S, N, ln R (each (K, T))."""
        d, s, ne, lr = [], [], [], []
        for i, obj in enumerate(self.objs):
            di, _ = obj(u)
            tab = self.hyp.grids[i].spline
            total = tab.total(u)
            nei = tab.n_eff(u) if self.opts.mc_stat else np.full(u.shape, np.inf)
            if not (self.opts.mc_stat and np.all(np.isfinite(nei))):
                total = total + obj._floor_excess(u, total)  # the floored plain shape's total
                nei = np.full(u.shape, np.inf)
            d.append(di)
            s.append(total)
            ne.append(nei)
            if self.hyp.rates is not None:
                lr.append(self.hyp.lnrate(i)(u))
        return np.array(d), self.n, np.array(s), np.array(ne), (np.array(lr) if lr else None)

    def __call__(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(D, total fitted events) at u (one value per toy), for the golden-section search."""
        dev, norm = _combine(*self.terms(u), self.opts)
        return dev, norm.sum(axis=0)


def profile_combined(
    counts: FloatArray | Sequence[FloatArray] | Sequence[PreparedCounts],
    hypothesis: CombinedHypothesis,
    *,
    normalisation: str = "free",
    systematics: CombinedSystematics | None = None,
    refine: bool = True,
    mc_stat: bool = True,
    p_floor: float | None = None,
    n_starts: int = 2,
    with_norm: bool = True,
) -> CombinedProfile:
    """Minimise the combined deviance over the A' mass and the normalisations, for many toys.

    Parameters
    ----------
    counts : ndarray or sequence of ndarray or of PreparedCounts
        Toys of every experiment (:func:`split_counts`), or each experiment's prepared
        counts (:func:`~darkmoments.stats.fast.prepare_counts`).
    hypothesis : CombinedHypothesis
        Shapes (and rates) of the model in each experiment.
    normalisation : str
        ``"free"``, ``"shared"`` or ``"tied"`` (module docstring).
    systematics : CombinedSystematics, optional
        Normalisation nuisances (``"shared"``: the experiments'; ``"tied"``: theirs and the
        theory one); None: none.
    refine : bool
        Continuous mass (the fast path's sampling + golden-section search on the exact
        splines) or the grid nodes only.
    mc_stat : bool
        Barlow-Beeston (each experiment's template statistics) or plain Poisson.
    p_floor : float, optional
        Floor of the plain deviance.
    n_starts : int
        Local minima of the sampled profile searched (as
        :func:`~darkmoments.stats.fast.profile_mass`).
    with_norm : bool
        Also return the fitted normalisations at the refined masses (False: ``norm`` holds
        the best sample's, which saves a pass over the toys when only the deviance is used).

    Returns
    -------
    CombinedProfile

    Examples
    --------
    The running example of this module: 60 km events at 0.1 GeV shared between LDMX
    Phase I (4 GeV, 4e14 EOT: 1.55 events) and Phase II (8 GeV, 1e16 EOT: 58.45 events) in
    the recoil energy, against md, normalisations free:

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_asimov, profile_combined
    >>> data = combined_asimov(setup.true, 0.1, setup.n_true)[None, :]
    >>> alt = profile_combined(data, setup.alt)
    >>> alt.mass.round(2), alt.deviance.round(2), alt.norm.ravel().round(2)
    (array([0.48]), array([4.43]), array([ 1.55, 58.45]))
    """
    opts = _Options.make(
        normalisation,
        systematics,
        hypothesis.n_experiments,
        refine=refine,
        mc_stat=mc_stat,
        p_floor=p_floor,
    )
    n_starts = check_int("n_starts", n_starts, lo=1)
    preps = _prepared(counts, hypothesis)
    lo, hi = hypothesis.mass_range
    smooth = opts.refine and hi > lo and all(g.masses.size > 1 for g in hypothesis.grids)
    m_s = _sample_points(hypothesis, smooth)
    d, norm = _combine(*_terms_at_masses(preps, hypothesis, m_s, opts), opts)
    t_idx = np.arange(d.shape[0])
    j = np.argmin(d, axis=1)
    dmin, mass, nrm = d[t_idx, j], m_s[j].astype(float), norm[:, t_idx, j]
    if smooth and m_s.size > 1:
        _refine(preps, hypothesis, opts, np.log(m_s), d, (dmin, mass, nrm), n_starts, with_norm)
    return CombinedProfile(dmin, mass, nrm)


def _refine(
    preps: Sequence[PreparedCounts],
    hyp: CombinedHypothesis,
    opts: _Options,
    u_s: FloatArray,
    d: FloatArray,
    best: tuple[FloatArray, FloatArray, FloatArray],
    n_starts: int,
    with_norm: bool = True,
) -> None:
    """Golden-section search around the sampled minima; updates ``best`` in place."""
    dmin, mass, nrm = best
    t_idx = np.arange(d.shape[0])
    j = np.argmin(d, axis=1)
    d_best = d[t_idx, j]
    width = max(sum(p.cnt.shape[1] for p in preps), 1)
    block = max(1, _BLOCK // width)
    for k_start, js in enumerate(_starts(d, n_starts)):
        todo = t_idx if k_start == 0 else np.flatnonzero((js != j) & (d[t_idx, js] < d_best + 2.0))
        lo_i, hi_i = np.maximum(js - 1, 0), np.minimum(js + 1, u_s.size - 1)
        for start in range(0, todo.size, block):
            ti = todo[start : start + block]
            rows = [p if ti.size == p.n.size else p.rows(ti) for p in preps]
            f = _CombinedObjective(rows, hyp, opts)
            u, dv, _ = _golden(f, u_s[lo_i[ti]], u_s[hi_i[ti]], d[ti, lo_i[ti]], d[ti, hi_i[ti]])
            dv = np.maximum(dv, 0.0)
            better = dv < dmin[ti]
            if not np.any(better):
                continue
            idx = ti[better]
            dmin[idx], mass[idx] = dv[better], np.exp(u[better])
            if with_norm:
                sub = _CombinedObjective([p.rows(np.flatnonzero(better)) for p in rows], hyp, opts)
                nrm[:, idx] = _combine(*sub.terms(u[better]), opts)[1]


# ----------------------------------------------------------------------------- setups


@dataclass(frozen=True, eq=False)
class CombinedSetup:
    """What to discriminate with several experiments at once.

    Attributes
    ----------
    experiments : tuple of str
        Experiment names, in the order of the hypotheses' grids.
    true, alt : CombinedHypothesis
        The true and the alternative model (same experiments and binnings).
    true_mass : float
        True A' mass in GeV.
    n_true : tuple of float
        Expected signal events of the true hypothesis in each experiment (> 0).
    normalisation : str
        ``"free"``, ``"shared"`` or ``"tied"``; with ``"tied"`` ``n_true`` must be the true
        rates at ``true_mass``.
    systematics : CombinedSystematics, optional
        Normalisation nuisances (not with ``"free"``).
    refine, mc_stat : bool
        Continuous mass; Barlow-Beeston.
    p_floor : float
        Floor of the plain deviance.

    Examples
    --------
    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> setup.summary()  # doctest: +NORMALIZE_WHITESPACE
    {'experiments': ['ldmx-phase1', 'ldmx-phase2'], 'true_model': 'km', 'alt_model': 'md',
     'true_mass': 0.1, 'n_true': [1.554..., 58.445...], 'normalisation': 'free',
     'systematics': None}
    >>> [round(n, 2) for n in setup.scaled(2.0).n_true], len(setup.fingerprint())
    ([3.11, 116.89], 64)
    """

    experiments: tuple[str, ...]
    true: CombinedHypothesis
    alt: CombinedHypothesis
    true_mass: float
    n_true: tuple[float, ...]
    normalisation: str = "free"
    systematics: CombinedSystematics | None = None
    refine: bool = True
    mc_stat: bool = True
    p_floor: float = P_FLOOR

    def __post_init__(self) -> None:
        object.__setattr__(self, "experiments", tuple(str(e) for e in self.experiments))
        object.__setattr__(self, "normalisation", _check_normalisation(self.normalisation))
        k = len(self.experiments)
        if self.true.n_experiments != k or self.alt.n_experiments != k:
            raise InputError(f"both hypotheses need grids for the {k} experiments")
        for gt, ga, name in zip(self.true.grids, self.alt.grids, self.experiments, strict=True):
            if gt.n_bins != ga.n_bins:
                raise InputError(f"{name}: true and alternative shapes have different bins")
        if self.true.model == self.alt.model and self.true.grids == self.alt.grids:
            raise InputError("the alternative hypothesis is the true one: t = 0 for every toy")
        object.__setattr__(self, "true_mass", self.true.check_mass(self.true_mass))
        n = tuple(
            check_real(f"true events of {e}", v, lo=0.0, lo_open=True, unit="events")
            for e, v in zip(self.experiments, self.n_true, strict=True)
        )
        if len(n) != k:
            raise InputError(f"n_true needs {k} values, got {len(self.n_true)}")
        object.__setattr__(self, "n_true", n)
        self._check_rates()

    def _check_rates(self) -> None:
        if self.normalisation == "free":
            if self.systematics is not None:
                raise InputError("normalisation systematics need rates: not with 'free'")
            return
        if self.true.rates is None or self.alt.rates is None:
            raise InputError(f"normalisation {self.normalisation!r} needs both hypotheses' rates")
        if self.normalisation == "tied":
            for i, (e, v) in enumerate(zip(self.experiments, self.n_true, strict=True)):
                r = self.true.rate(i, self.true_mass)
                if not math.isclose(v, r, rel_tol=1e-9):
                    raise InputError(
                        f"{e}: n_true = {v:g} differs from the tied true rate {r:g} at "
                        f"m = {self.true_mass:g} GeV"
                    )

    @property
    def options(self) -> _Options:
        """The fit options of both hypotheses."""
        return _Options.make(
            self.normalisation,
            self.systematics,
            len(self.experiments),
            refine=self.refine,
            mc_stat=self.mc_stat,
            p_floor=self.p_floor,
        )

    def fit_kwargs(self) -> dict[str, Any]:
        """Keywords of :func:`profile_combined` for this setup."""
        return {
            "normalisation": self.normalisation,
            "systematics": self.systematics,
            "refine": self.refine,
            "mc_stat": self.mc_stat,
            "p_floor": self.p_floor,
        }

    def scaled(self, k: float) -> CombinedSetup:
        """Every experiment's luminosity times ``k``: true events and tied/shared rates."""
        k = check_real("luminosity scale", k, lo=0.0, lo_open=True)
        return replace(
            self,
            true=self.true.scaled(k),
            alt=self.alt.scaled(k),
            n_true=tuple(v * k for v in self.n_true),
        )

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the toys (checkpoint identity)."""
        import hashlib

        h = hashlib.sha256()
        for hyp in (self.true, self.alt):
            h.update(hyp.model.encode())
            for i, g in enumerate(hyp.grids):
                h.update(np.ascontiguousarray(g.masses).tobytes())
                h.update(np.ascontiguousarray(g.probs).tobytes())
                h.update(np.ascontiguousarray(g.node_n_eff).tobytes())
                if hyp.rates is not None:
                    h.update(np.ascontiguousarray(hyp.rates[i]).tobytes())
        syst = None if self.systematics is None else self.systematics.summary()
        h.update(repr((self.summary(), syst, self.refine, self.mc_stat, self.p_floor)).encode())
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        """JSON-able description."""
        return {
            "experiments": list(self.experiments),
            "true_model": self.true.model,
            "alt_model": self.alt.model,
            "true_mass": self.true_mass,
            "n_true": list(self.n_true),
            "normalisation": self.normalisation,
            "systematics": None if self.systematics is None else self.systematics.summary(),
        }


def combined_asimov(
    hypothesis: CombinedHypothesis, mass: float, n_events: Sequence[float] | FloatArray
) -> FloatArray:
    """Expected counts of every experiment, concatenated: n_i p_i(m), ``n_events`` = (n_i).

    Parameters
    ----------
    hypothesis : CombinedHypothesis
        Shapes per experiment.
    mass : float
        A' mass in GeV.
    n_events : sequence of float
        Expected events per experiment.

    Returns
    -------
    ndarray
        Events per bin, the experiments' bins one after the other.

    Examples
    --------
    >>> from darkmoments.stats.combined import combined_asimov, load_hypothesis
    >>> hyp = load_hypothesis("km", "ldmx-phase1,ldmx-phase2", "E")
    >>> data = combined_asimov(hyp, 0.1, [1.55, 58.45])
    >>> data.shape, round(float(data[:40].sum()), 9), round(float(data[40:].sum()), 9)
    ((80,), 1.55, 58.45)
    """
    if len(n_events) != hypothesis.n_experiments:
        raise InputError(f"need {hypothesis.n_experiments} event counts, got {len(n_events)}")
    return np.concatenate(
        [asimov(g, mass, float(n)) for g, n in zip(hypothesis.grids, n_events, strict=True)]
    )


def combined_statistic(
    counts: FloatArray | Sequence[FloatArray], setup: CombinedSetup
) -> FloatArray:
    """t = min D_alt - min D_true of each toy (masses and normalisations profiled).

    Parameters
    ----------
    counts : ndarray or sequence of ndarray
        Toys (:func:`split_counts`).
    setup : CombinedSetup
        The hypotheses and fit options.

    Returns
    -------
    ndarray, shape (n_toys,)

    Examples
    --------
    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_asimov, combined_statistic
    >>> combined_statistic(combined_asimov(setup.true, 0.1, setup.n_true)[None], setup).round(2)
    array([4.43])
    """
    kw = setup.fit_kwargs()
    preps = _prepared(counts, setup.true)  # the same bins for both hypotheses
    alt = profile_combined(preps, setup.alt, with_norm=False, **kw)
    tru = profile_combined(preps, setup.true, with_norm=False, **kw)
    return alt.deviance - tru.deviance


def combined_alternative_point(setup: CombinedSetup) -> tuple[float, FloatArray, float]:
    """The alternative's best fit to the true Asimov data.

    Parameters
    ----------
    setup : CombinedSetup
        The problem.

    Returns
    -------
    mass, norm, t_asimov
        Alternative mass (GeV), its expected events per experiment (K,), and t_A.

    Examples
    --------
    Phase II alone gives t_A = 3.66 for 50 events (:func:`darkmoments.stats.toys.
    alternative_point`); the two phases with 60 events, 4.43.  With the couplings
    predicted (``"shape+rate"``: 1.33 + 50.10 events) md must sit at 0.115 GeV and t_A =
    12.9:

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_alternative_point
    >>> mass, norm, t_a = combined_alternative_point(setup)
    >>> round(mass, 2), norm.round(2), round(t_a, 2)
    (0.48, array([ 1.55, 58.45]), 4.43)
    >>> tied = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                       statistic="shape+rate", couplings={"km": 2.6e-5, "md": 2.67e-4})
    >>> mass, norm, t_a = combined_alternative_point(tied)
    >>> round(mass, 3), round(t_a, 1)
    (0.115, 12.9)
    """
    data = combined_asimov(setup.true, setup.true_mass, setup.n_true)[None, :]
    kw = setup.fit_kwargs()
    alt = profile_combined(data, setup.alt, **kw)
    tru = profile_combined(data, setup.true, **kw)
    return float(alt.mass[0]), alt.norm[:, 0].copy(), float(alt.deviance[0] - tru.deviance[0])


def combined_events_for_significance(
    setup: CombinedSetup, z: float, *, xtol: float = 1e-9
) -> float | None:
    """Luminosity scale k (every experiment's EOT times k) for Z_A = sqrt(t_A) = ``z``.

    The true events and the tied/shared rates of every experiment are scaled together (the
    running time, in units of each experiment's nominal luminosity), and k is found by
    Brent's method in ln k after bracketing from the linear guess z^2 / t_A(1) by factors of
    4 (as :func:`~darkmoments.stats.toys.events_for_significance`).  The true events needed
    are k * sum(n_true).

    ``xtol`` is the tolerance of ln k (1e-9; 1e-3 = 0.1 % on k is ample for tables).

    Parameters
    ----------
    setup : CombinedSetup
        The problem at the nominal luminosity.
    z : float
        Significance in sigma (> 0).
    xtol : float
        Tolerance of ln k.

    Returns
    -------
    float or None
        k; None if t_A = 0 at k = 1 or no k up to 4^20 reaches ``z`` (t_A saturates: template
        statistics or systematics bound the separation).

    Examples
    --------
    t_A = 4.43 at 60 events, free normalisations: about 9 / 4.43 = 2.03 times the
    luminosity (122 events) for 3 sigma:

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_events_for_significance
    >>> k = combined_events_for_significance(setup, 3.0)
    >>> round(k, 3), round(k * sum(setup.n_true))
    (2.034, 122)
    """
    z = check_real("z", z, lo=0.0, lo_open=True)
    xtol = check_real("xtol", xtol, lo=0.0, lo_open=True)
    t1 = combined_alternative_point(setup)[2]
    return luminosity_scale(
        lambda k: combined_alternative_point(setup.scaled(k))[2], z * z, t1, xtol=xtol
    )


# ----------------------------------------------------------------------------- toys

# Toy chunks: the arrays and files of stats.toys (_CHUNK_KEYS, _save_chunk, _load_chunk).


def _per_experiment(setup: CombinedSetup, lam: FloatArray) -> list[FloatArray]:
    return split_counts(lam[None, :], setup.true)


def _run_chunk(
    args: tuple[CombinedSetup, int, np.random.SeedSequence, float, FloatArray],
) -> dict[str, FloatArray]:
    """Toys of one chunk: true (Poisson), alternative, proposal; statistics and ln LR.

    With ``"free"`` the alternative and proposal toys are multinomial per experiment at
    round(n_true_i) (each experiment's total is sufficient for its own normalisation), else
    Poisson at the fitted alternative point (the proposal toys are then the true toys).
    """
    setup, n, seq, m_alt, norm_alt = args
    rng = np.random.default_rng(seq)
    lam_t = combined_asimov(setup.true, setup.true_mass, setup.n_true)
    lam_a = combined_asimov(setup.alt, m_alt, list(norm_alt))
    c_true = rng.poisson(lam_t, size=(n, lam_t.size)).astype(float)
    t_true = combined_statistic(c_true, setup)
    if setup.normalisation != "free":
        c_alt = rng.poisson(lam_a, size=(n, lam_a.size)).astype(float)
        t_alt = combined_statistic(c_alt, setup)
        return {
            "t_true": t_true,
            "t_alt": t_alt,
            "t_prop": t_true,
            "llr_alt": log_likelihood_ratio(c_alt, lam_a, lam_t, conditional=False),
            "llr_prop": log_likelihood_ratio(c_true, lam_a, lam_t, conditional=False),
        }
    lt, la = _per_experiment(setup, lam_t), _per_experiment(setup, lam_a)
    totals = [round(v) for v in setup.n_true]
    cond_alt = [
        null_toys(rng, a[0], n, conditional=True, n_total=k)
        for a, k in zip(la, totals, strict=True)
    ]
    cond_prop = [
        null_toys(rng, t[0], n, conditional=True, n_total=k)
        for t, k in zip(lt, totals, strict=True)
    ]

    def llr(c: list[FloatArray]) -> FloatArray:
        return np.sum(
            [
                log_likelihood_ratio(ci, a[0], t[0], conditional=True)
                for ci, a, t in zip(c, la, lt, strict=True)
            ],
            axis=0,
        )

    return {
        "t_true": t_true,
        "t_alt": combined_statistic(cond_alt, setup),
        "t_prop": combined_statistic(cond_prop, setup),
        "llr_alt": llr(cond_alt),
        "llr_prop": llr(cond_prop),
    }


@dataclass(frozen=True)
class CombinedDiscrimination:
    """Outcome of :func:`run_combined_discrimination` (t = D_alt - D_true).

    Attributes
    ----------
    experiments : list of str
    true_model, alt_model : str
    true_mass : float
        GeV.
    normalisation : str
        ``"free"`` (shape), ``"shared"`` (shape + rate ratios), ``"tied"`` (shape + rate).
    n_true : list of float
        True expected events per experiment.
    alt_mass : float
        Alternative best fit to the true Asimov data, GeV.
    alt_norm : list of float
        Its expected events per experiment.
    t_asimov, z_asimov : float
        Asimov statistic and sqrt(t_A).
    k_3sigma, k_5sigma : float or None
        Luminosity scale (every experiment's EOT times k) for Z_A = 3, 5.
    n_3sigma, n_5sigma : float or None
        True events (all experiments) for Z_A = 3, 5: k sum(n_true).
    p_value, z : float
        Direct-toy p-value of the alternative for the median true experiment and its Z.
    z_is_bound : bool
        No alternative toy reached the median (Z is a lower bound).
    p_importance, p_importance_err : float
        Importance-sampling estimate and standard error.
    z_importance, z_importance_err, ess_importance : float or None
    null : str
        ``"conditional"`` or ``"poisson"``.
    n_toys : int
    median_t_true : float
    t_true, t_alt, t_prop, llr_alt, llr_prop : ndarray

    Examples
    --------
    See :func:`run_combined_discrimination`; the summary adds ``n_signal``:

    >>> from darkmoments.stats.combined import CombinedDiscrimination
    >>> list(CombinedDiscrimination.__dataclass_fields__)[:5]
    ['experiments', 'true_model', 'alt_model', 'true_mass', 'normalisation']
    """

    experiments: list[str]
    true_model: str
    alt_model: str
    true_mass: float
    normalisation: str
    n_true: list[float]
    alt_mass: float
    alt_norm: list[float]
    t_asimov: float
    z_asimov: float
    k_3sigma: float | None
    k_5sigma: float | None
    n_3sigma: float | None
    n_5sigma: float | None
    p_value: float
    z: float
    z_is_bound: bool
    p_importance: float
    p_importance_err: float
    z_importance: float | None
    z_importance_err: float | None
    ess_importance: float | None
    null: str
    n_toys: int
    median_t_true: float
    t_true: FloatArray = field(repr=False)
    t_alt: FloatArray = field(repr=False)
    t_prop: FloatArray = field(repr=False)
    llr_alt: FloatArray = field(repr=False)
    llr_prop: FloatArray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-able summary without the toy arrays."""
        out = {k: v for k, v in self.__dict__.items() if k not in _CHUNK_KEYS}
        out["n_signal"] = float(sum(self.n_true))
        return out


def run_combined_discrimination(
    setup: CombinedSetup,
    n_toys: int,
    *,
    seed: int,
    chunk_size: int = 1000,
    workers: int = 1,
    scheduler: Any = None,
    out_dir: Any = None,
    resume: bool = False,
    progress: bool = False,
    significance_events: bool = True,
) -> CombinedDiscrimination:
    """Discrimination toys of a combined setup (module docstring).

    Parameters
    ----------
    setup : CombinedSetup
        Hypotheses, experiments, normalisation treatment.
    n_toys : int
        Toys per hypothesis (>= 10).
    seed : int
        Root seed (>= 0); chunk seeds ``SeedSequence(seed).spawn(n_chunks)``, so results do
        not depend on ``workers``.
    chunk_size : int
        Toys per chunk.
    workers, scheduler, out_dir, resume, progress
        As :func:`~darkmoments.stats.toys.run_discrimination` (the shared checkpoint,
        :func:`darkmoments.checkpoint.run_checkpointed`; the identity holds
        :meth:`CombinedSetup.fingerprint`, the toy counts and the seed).
    significance_events : bool
        Also root-find the luminosity for Z_A = 3 and 5 (a few dozen Asimov fits).

    Returns
    -------
    CombinedDiscrimination

    Raises
    ------
    NonFiniteResultError
        A non-finite Asimov statistic, or every alternative toy at or above the median true t.

    Examples
    --------
    The running example with 20 toys: t_A = 4.43 (Z_A = 2.1); the importance-sampled Z
    agrees with it roughly; 340 events (5.7 x the luminosity) for Z_A = 5:

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import run_combined_discrimination
    >>> res = run_combined_discrimination(setup, 20, seed=1)
    >>> round(res.z_asimov, 2), res.null, res.t_true.size
    (2.11, 'conditional', 20)
    >>> bool(1.0 < res.z_importance < 3.0), round(res.k_5sigma, 2), round(res.n_5sigma)
    (True, 5.66, 340)
    >>> res.summary()["n_signal"]
    60.0
    """
    from ..checkpoint import Checkpoint, run_checkpointed

    n_toys = check_int("n_toys", n_toys, lo=10)
    chunk_size = check_int("chunk_size", chunk_size, lo=1)
    if seed is None or isinstance(seed, np.random.Generator):
        raise InputTypeError(f"seed must be an integer >= 0, got {seed!r}")
    seed = check_int("seed", seed, lo=0)
    m_alt, norm_alt, t_a = combined_alternative_point(setup)
    check_finite_result("combined Asimov statistic t_A", t_a)
    n_chunks = math.ceil(n_toys / chunk_size)
    seqs = np.random.SeedSequence(seed).spawn(n_chunks)
    sizes = [min(chunk_size, n_toys - i * chunk_size) for i in range(n_chunks)]
    cp = None
    if out_dir is not None:
        identity = {
            "format": "combined-discrimination-toys-1",
            "setup": setup.fingerprint(),
            "n_toys": n_toys,
            "seed": seed,
            "chunk_size": chunk_size,
            "numpy": np.__version__,
        }
        cp = Checkpoint(out_dir, identity, resume=resume, what="combined discrimination toys")
    results = run_checkpointed(
        _run_chunk,
        [(setup, sizes[i], seqs[i], m_alt, norm_alt) for i in range(n_chunks)],
        keys=[f"{i:05d}" for i in range(n_chunks)],
        checkpoint=cp,
        save=_save_chunk,
        load=_load_chunk,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        desc="combined discrimination toys",
        unit="toy",
        weights=sizes,
    )
    toys = {k: np.concatenate([r[k] for r in results]) for k in _CHUNK_KEYS}
    ks: list[float | None] = (
        [combined_events_for_significance(setup, z) for z in (3.0, 5.0)]
        if significance_events
        else [None, None]
    )
    return _result(setup, toys, (m_alt, norm_alt, t_a), ks)


def _result(
    setup: CombinedSetup,
    toys: dict[str, FloatArray],
    point: tuple[float, FloatArray, float],
    ks: list[float | None],
) -> CombinedDiscrimination:
    """p-values and significances of finished toys."""
    m_alt, norm_alt, t_a = point
    t_true, t_alt = toys["t_true"], toys["t_alt"]
    med = float(np.median(t_true))
    k = int(np.count_nonzero(t_alt >= med))
    if k == t_alt.size:
        raise NonFiniteResultError(
            f"{setup.true.model} vs {setup.alt.model}: every alternative toy has t >= the "
            f"median true t = {med:.3g}; the toys cannot tell the hypotheses apart at "
            f"{sum(setup.n_true):g} expected events (increase the luminosity)"
        )
    p = empirical_p_value(k, t_alt.size)
    imp = mixture_tail_probability(t_alt, toys["llr_alt"], toys["t_prop"], toys["llr_prop"], med)
    total = float(sum(setup.n_true))
    return CombinedDiscrimination(
        experiments=list(setup.experiments),
        true_model=setup.true.model,
        alt_model=setup.alt.model,
        true_mass=float(setup.true_mass),
        normalisation=setup.normalisation,
        n_true=[float(v) for v in setup.n_true],
        alt_mass=m_alt,
        alt_norm=[float(v) for v in norm_alt],
        t_asimov=t_a,
        z_asimov=math.sqrt(max(t_a, 0.0)),
        k_3sigma=ks[0],
        k_5sigma=ks[1],
        n_3sigma=None if ks[0] is None else ks[0] * total,
        n_5sigma=None if ks[1] is None else ks[1] * total,
        p_value=p,
        z=float(p_to_z(p)),
        z_is_bound=k == 0,
        p_importance=imp.p,
        p_importance_err=imp.p_err,
        z_importance=imp.z,
        z_importance_err=imp.z_err,
        ess_importance=imp.ess,
        null="conditional" if setup.normalisation == "free" else "poisson",
        n_toys=int(t_true.size),
        median_t_true=med,
        **toys,
    )


def combined_p_values(
    counts: FloatArray | Sequence[FloatArray], setup: CombinedSetup, n_toys: int, *, seed: int
) -> FloatArray:
    """p-value of the (composite) alternative for each observed data set.

    For each data set: t_obs; the alternative fitted to it (mass, normalisations); ``n_toys``
    toys from that fit (multinomial per experiment at the observed totals with ``"free"``,
    Poisson at the fitted events otherwise), p = (k + 1) / (n_toys + 1), k = #(t >= t_obs).
    The procedure whose calibration is tested (uniform p-values under the alternative).

    Parameters
    ----------
    counts : ndarray or sequence of ndarray
        Observed data sets (:func:`split_counts`).
    setup : CombinedSetup
        Hypotheses (``true_mass`` and ``n_true`` unused).
    n_toys : int
        Toys per data set (>= 10).
    seed : int
        Seed (>= 0).

    Returns
    -------
    ndarray, shape (n_data,)

    Examples
    --------
    The km Asimov data against md, 20 toys of the fitted md point (the p-value resolution
    is 1/21; the data are not far in the tail for only 60 events):

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_asimov, combined_p_values
    >>> p = combined_p_values(combined_asimov(setup.true, 0.1, setup.n_true)[None], setup, 20,
    ...                       seed=1)
    >>> p.shape, bool(1 / 21 <= p[0] < 0.5)
    ((1,), True)
    """
    n_toys = check_int("n_toys", n_toys, lo=10)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    parts = split_counts(counts, setup.true)
    data = np.concatenate(parts, axis=1)
    t_obs = combined_statistic(data, setup)
    fit = profile_combined(data, setup.alt, **setup.fit_kwargs())
    out = np.empty(t_obs.size)
    block = max(1, 20_000 // n_toys)  # data sets per batch of toys
    for lo in range(0, t_obs.size, block):
        rows = range(lo, min(lo + block, t_obs.size))
        toys = np.concatenate([_null_toys_for(setup, fit, parts, r, n_toys, rng) for r in rows])
        t = combined_statistic(toys, setup).reshape(len(rows), n_toys)
        k = np.count_nonzero(t >= t_obs[lo : lo + len(rows), None], axis=1)
        out[lo : lo + len(rows)] = (k + 1.0) / (n_toys + 1.0)
    return out


def _null_toys_for(
    setup: CombinedSetup,
    fit: CombinedProfile,
    parts: Sequence[FloatArray],
    r: int,
    n_toys: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Toys of the alternative fitted to data set ``r`` (conditional per experiment if free)."""
    lam = _per_experiment(setup, combined_asimov(setup.alt, fit.mass[r], fit.norm[:, r]))
    if setup.normalisation == "free":
        return np.concatenate(
            [
                null_toys(rng, lam_i[0], n_toys, conditional=True, n_total=round(p[r].sum()))
                for lam_i, p in zip(lam, parts, strict=True)
            ],
            axis=1,
        )
    full = np.concatenate([x[0] for x in lam])
    return rng.poisson(full, size=(n_toys, full.size)).astype(float)


# ----------------------------------------------------------------------------- pyhf

#: pyhf modifier settings under which the workspace's normsys are exactly the log-normal
#: nuisances of the fast path: ``code1`` (kappa^alpha; pyhf 0.7's default ``code4`` replaces
#: it by a polynomial for |alpha| < 1).
PYHF_MODIFIER_SETTINGS: dict[str, dict[str, str]] = {
    "normsys": {"interpcode": "code1"},
    "histosys": {"interpcode": "code4p"},
}


def _log_normal_normsys(name: str, sigma: float) -> dict[str, Any]:
    """A normsys with hi = 1 + sigma, lo = 1 / (1 + sigma).

    With code1 it is the log-normal theta = (1 + sigma)^alpha, alpha ~ N(0, 1), i.e.
    (ln theta / ln(1 + sigma))^2 in D.
    """
    return {"name": name, "type": "normsys", "data": {"hi": 1.0 + sigma, "lo": 1.0 / (1.0 + sigma)}}


def _channel_of(
    built: Mapping[str, Any], name: str, poi: str, extra: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Channel and observation of one :func:`build_spec` spec, renamed to ``name``."""
    from .workspace import CHANNEL, POI

    ch = next(c for c in built["channels"] if c["name"] == CHANNEL)
    samples = []
    for smp in ch["samples"]:
        mods = []
        for m in smp["modifiers"]:
            m = dict(m)
            if m["name"] == POI and m["type"] == "normfactor":
                m["name"] = poi
            elif m["type"] in ("staterror", "shapesys") or m["name"] in ("signal_norm", "bkg_norm"):
                m["name"] = f"{m['name']}_{name}"
            mods.append(m)
        if any(m["name"] == poi for m in mods):
            mods.extend(dict(e) for e in extra)
        samples.append({**smp, "modifiers": mods})
    obs = next(o for o in built["observations"] if o["name"] == CHANNEL)
    return {"name": name, "samples": samples}, {"name": name, "data": list(obs["data"])}


def combined_spec(
    templates: Sequence[Template],
    n_signal: Sequence[float],
    experiments: Sequence[str],
    *,
    normalisation: str = "shared",
    systematics: CombinedSystematics | None = None,
    observed: Sequence[Any] | None = None,
    backgrounds: Sequence[Any] | None = None,
    observables: str | Sequence[str] = "E,pt",
    layout: str = "coarse",
    staterror: bool | str = "auto",
    mu_max: float = 1.0e4,
) -> dict[str, Any]:
    """A combined pyhf workspace: one channel per experiment, one shared coupling.

    Each experiment's channel is :func:`~darkmoments.stats.workspace.build_spec` of its
    template (renamed to the experiment; its ``mcstat_signal``/``signal_norm``/``bkg_norm``
    modifiers suffixed with it), with the signal at mu = 1 equal to ``n_signal`` of that
    experiment (the events of one common coupling g_ref, so mu = (g / g_ref)^2 for all):

    * ``"shared"``: one free POI ``mu``, and per experiment the log-normal normsys
      ``norm_<experiment>`` of its own systematics;
    * ``"tied"``: ``mu`` fixed at 1 (the predicted coupling), the experiments' normsys and
      one shared normsys ``theory``;
    * ``"free"``: one free normfactor ``mu_<experiment>`` per channel (the POI is the first).

    The normsys are exact log-normals (hi = 1 + sigma, lo = 1/(1 + sigma)) when pyhf uses
    ``code1`` interpolation: ``pyhf.Workspace(spec).model(modifier_settings=
    PYHF_MODIFIER_SETTINGS)`` reproduces the fast path (tested to 1e-6); pyhf's default
    ``code4`` (used by ``pyhf cls``) differs inside |alpha| < 1 by a smooth polynomial.

    Parameters
    ----------
    templates : sequence of Template
        One template per experiment (the model at the mass of the workspace).
    n_signal : sequence of float
        Expected signal events of each experiment at the reference coupling (> 0).
    experiments : sequence of str
        Channel names (experiment names, unique).
    normalisation : str
        ``"shared"``, ``"tied"`` or ``"free"``.
    systematics : CombinedSystematics, optional
        Normalisation nuisances (not with ``"free"``).
    observed, backgrounds : sequence, optional
        Per experiment, as ``observed`` / ``background`` of ``build_spec`` (None entries:
        its defaults).
    observables, layout, staterror
        As ``build_spec`` (``staterror`` per channel).
    mu_max : float
        Upper bound of the normfactors.

    Returns
    -------
    dict
        Workspace spec (validates against pyhf's schema).

    Examples
    --------
    km at 0.1 GeV in both LDMX phases at epsilon = 1e-5 (0.197 and 7.41 events), the
    coupling shared, each experiment's normalisation known to 5.7 %:

    >>> import pyhf
    >>> from darkmoments import templates
    >>> from darkmoments.stats.combined import (PYHF_MODIFIER_SETTINGS, CombinedSystematics,
    ...                                         combined_spec)
    >>> tpls = [templates.load("km", 0.1, e) for e in ("ldmx-phase1", "ldmx-phase2")]
    >>> spec = combined_spec(tpls, [0.197, 7.41], ["ldmx-phase1", "ldmx-phase2"],
    ...                      systematics=CombinedSystematics((0.057, 0.057)), observables="E")
    >>> model = pyhf.Workspace(spec).model(modifier_settings=PYHF_MODIFIER_SETTINGS)
    >>> model.config.channels, model.config.poi_name, model.config.npars
    (['ldmx-phase1', 'ldmx-phase2'], 'mu', 3)
    """
    from .workspace import MEASUREMENT, build_spec

    mode = _check_normalisation(normalisation)
    k = len(experiments)
    if len(set(experiments)) != k or len(templates) != k or len(n_signal) != k:
        raise InputError("need unique experiment names and one template and n_signal each")
    if mode == "free" and systematics is not None:
        raise InputError("normalisation systematics need rates: not with 'free'")
    if systematics is not None and len(systematics.experiment) != k:
        raise InputError(f"systematics for {len(systematics.experiment)} experiments, need {k}")
    observed = [None] * k if observed is None else list(observed)
    backgrounds = [None] * k if backgrounds is None else list(backgrounds)
    channels, observations, params = [], [], []
    for i, name in enumerate(experiments):
        built = build_spec(
            templates[i],
            float(n_signal[i]),
            observables=observables,
            background=backgrounds[i],
            observed=observed[i],
            staterror=staterror,
            layout=layout,
        )
        extra = []
        if systematics is not None and systematics.experiment[i] > 0:
            extra.append(_log_normal_normsys(f"norm_{name}", systematics.experiment[i]))
        if mode == "tied" and systematics is not None and systematics.theory > 0:
            extra.append(_log_normal_normsys("theory", systematics.theory))
        poi = f"mu_{name}" if mode == "free" else "mu"
        ch, obs = _channel_of(built, name, poi, extra)
        channels.append(ch)
        observations.append(obs)
        if mode == "free" or i == 0:
            par: dict[str, Any] = {"name": poi, "bounds": [[0.0, mu_max]], "inits": [1.0]}
            if mode == "tied":
                par["fixed"] = True
            params.append(par)
    poi_name = f"mu_{experiments[0]}" if mode == "free" else "mu"
    return {
        "channels": channels,
        "observations": observations,
        "measurements": [{"name": MEASUREMENT, "config": {"poi": poi_name, "parameters": params}}],
        "version": "1.0.0",
    }


# ----------------------------------------------------------------------------- degeneracy, fits


@dataclass(frozen=True)
class CombinedDegeneracy:
    """-2 Delta ln L of the alternative model against the true Asimov data, vs its mass.

    Attributes
    ----------
    masses : ndarray
        Alternative masses in GeV.
    delta : ndarray
        D_alt(m) - min D_true (normalisations profiled at each m; the true model's minimum
        is ~0 on its own Asimov data).
    best_mass, best_delta : float
        The alternative's continuous best fit and its -2 Delta ln L (= t_A).
    norm : ndarray, shape (K, n_m)
        Fitted expected events of each experiment along the curve.

    Examples
    --------
    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_degeneracy
    >>> sorted(combined_degeneracy(setup, [0.1, 0.485]).summary())
    ['best_delta', 'best_mass', 'delta', 'masses', 'norm']
    """

    masses: FloatArray
    delta: FloatArray
    best_mass: float
    best_delta: float
    norm: FloatArray

    def summary(self) -> dict[str, Any]:
        """JSON-able record."""
        return {
            "masses": self.masses.tolist(),
            "delta": self.delta.tolist(),
            "best_mass": self.best_mass,
            "best_delta": self.best_delta,
            "norm": self.norm.tolist(),
        }


def combined_degeneracy(setup: CombinedSetup, masses: Any = None) -> CombinedDegeneracy:
    """The degeneracy curve of a combined setup (paper figure 6, several experiments).

    Parameters
    ----------
    setup : CombinedSetup
        True hypothesis and mass (the Asimov data), alternative model, fit options.
    masses : array_like, optional
        Alternative masses (GeV); default the profile's sample points over the common range.

    Returns
    -------
    CombinedDegeneracy

    Examples
    --------
    md against the running example's km data: the curve dips to t_A = 4.43 at 0.48 GeV:

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_degeneracy
    >>> curve = combined_degeneracy(setup, [0.1, 0.3, 0.485, 1.0])
    >>> curve.delta.round(1), round(curve.best_mass, 2), round(curve.best_delta, 2)
    (array([15.8,  6. ,  4.4, 11. ]), 0.48, 4.43)
    """
    data = combined_asimov(setup.true, setup.true_mass, setup.n_true)[None, :]
    kw = setup.fit_kwargs()
    tru = profile_combined(data, setup.true, **kw)
    alt = profile_combined(data, setup.alt, **kw)
    m = _sample_points(setup.alt, True) if masses is None else np.asarray(masses, dtype=float)
    kw.pop("refine")
    dev, norm = deviance_at_masses(data, setup.alt, m, **kw)
    base = float(tru.deviance[0])
    return CombinedDegeneracy(
        np.asarray(m, dtype=float),
        dev[0] - base,
        float(alt.mass[0]),
        float(alt.deviance[0] - base),
        norm[:, 0, :],
    )


@dataclass(frozen=True)
class CombinedMassFit:
    """A combined mass fit of one data set (:func:`fit_mass_combined`).

    Attributes
    ----------
    mass : float
        Best-fit A' mass, GeV.
    deviance : float
        Minimum combined deviance.
    lower, upper : float or None
        Ends of the interval where D - D_min <= ``level`` (GeV; None: beyond the range).
    level : float
        The Delta D of the interval (1: 68 % CL for one parameter).
    norm : ndarray, shape (K,)
        Fitted expected events per experiment.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.stats.combined import CombinedMassFit
    >>> CombinedMassFit(0.1, 0.0, 0.022, 0.26, 1.0, np.array([1.55, 58.45])).to_dict()["norm"]
    [1.55, 58.45]
    """

    mass: float
    deviance: float
    lower: float | None
    upper: float | None
    level: float
    norm: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record."""
        return {**self.__dict__, "norm": self.norm.tolist()}


def _crossing(u: FloatArray, dd: FloatArray, i0: int, level: float, step: int) -> float | None:
    """ln m where dd crosses ``level`` walking from i0 by ``step`` (linear), or None."""
    i = i0
    while 0 <= i + step < u.size:
        if dd[i + step] > level:
            a, b = dd[i], dd[i + step]
            return float(u[i] + (level - a) / (b - a) * (u[i + step] - u[i]))
        i += step
    return None


def fit_mass_combined(
    counts: FloatArray | Sequence[FloatArray],
    hypothesis: CombinedHypothesis,
    *,
    normalisation: str = "free",
    systematics: CombinedSystematics | None = None,
    level: float = 1.0,
    n_scan: int = 400,
    mc_stat: bool = True,
) -> CombinedMassFit:
    """Fit the A' mass to one data set of several experiments (normalisations profiled).

    The minimum by :func:`profile_combined`; the interval by a scan of ``n_scan`` masses
    log-spaced over the common range (:func:`deviance_at_masses`), linear crossing of
    D - D_min = ``level``.

    Parameters
    ----------
    counts : ndarray or sequence of ndarray
        One data set (:func:`split_counts`).
    hypothesis : CombinedHypothesis
        The model.
    normalisation : str
        ``"free"``, ``"shared"`` or ``"tied"``.
    systematics : CombinedSystematics, optional
        Normalisation nuisances.
    level : float
        Delta D of the interval.
    n_scan : int
        Masses of the interval scan (>= 3).
    mc_stat : bool
        Barlow-Beeston or plain Poisson.

    Returns
    -------
    CombinedMassFit

    Examples
    --------
    With normalisations free and only the recoil energy of 60 events, the mass is known
    to a factor ~3 (0.022-0.26 GeV at 68 % CL):

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_asimov, fit_mass_combined
    >>> fit = fit_mass_combined(combined_asimov(setup.true, 0.1, setup.n_true)[None], setup.true)
    >>> round(fit.mass, 3), round(fit.lower, 3), round(fit.upper, 2)
    (0.1, 0.022, 0.26)
    """
    level = check_real("level", level, lo=0.0, lo_open=True)
    n_scan = check_int("n_scan", n_scan, lo=3)
    parts = split_counts(counts, hypothesis)
    if parts[0].shape[0] != 1:
        raise InputError(f"fit one data set at a time, got {parts[0].shape[0]}")
    kw: dict[str, Any] = {
        "normalisation": normalisation,
        "systematics": systematics,
        "mc_stat": mc_stat,
    }
    best = profile_combined(parts, hypothesis, **kw)
    lo, hi = hypothesis.mass_range
    m = np.geomspace(lo, hi, n_scan)
    dev = deviance_at_masses(parts, hypothesis, m, **kw)[0][0]
    u = np.log(m)
    d0 = float(best.deviance[0])
    i0 = int(np.argmin(np.abs(u - math.log(best.mass[0]))))
    dd = dev - d0
    lo_u = _crossing(u, dd, i0, level, -1)
    hi_u = _crossing(u, dd, i0, level, +1)
    return CombinedMassFit(
        float(best.mass[0]),
        d0,
        None if lo_u is None else math.exp(lo_u),
        None if hi_u is None else math.exp(hi_u),
        level,
        best.norm[:, 0].copy(),
    )


# ----------------------------------------------------------------------------- loading


def parse_experiments(experiments: Any) -> tuple[Experiment, ...]:
    """Experiments from ``"ldmx-phase1,ldmx-phase2,m3-phase2"`` (names or TOML paths) or a list.

    Parameters
    ----------
    experiments : str, Experiment or sequence
        Names, TOML paths or Experiments.

    Returns
    -------
    tuple of Experiment

    Raises
    ------
    InputError
        Empty, unknown or repeated experiments (the message lists the names).

    Examples
    --------
    >>> from darkmoments.stats.combined import parse_experiments
    >>> [e.name for e in parse_experiments("ldmx-phase1, ldmx-phase2")]
    ['ldmx-phase1', 'ldmx-phase2']
    >>> parse_experiments("ldmx-phase2,ldmx-phase2")
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: experiment given twice in ['ldmx-phase2', 'ldmx-phase2']
    """
    from ..experiments import Experiment, get_experiment

    if isinstance(experiments, str):
        items: list[Any] = [s.strip() for s in experiments.split(",") if s.strip()]
    elif isinstance(experiments, Experiment):
        items = [experiments]
    else:
        items = list(experiments)
    if not items:
        raise InputError(f"no experiment given in {experiments!r}")
    exps = tuple(get_experiment(e) for e in items)
    names = [e.name for e in exps]
    if len(set(names)) != len(names):
        raise InputError(f"experiment given twice in {names}")
    return exps


def load_hypothesis(
    model: str,
    experiments: Any,
    observables: str | Sequence[str] = "E,pt",
    *,
    directory: str | None = None,
    depth_nodes: int = 9,
) -> CombinedHypothesis:
    """The shipped (or ``directory``'s) templates of a model in every experiment.

    Rates are the expected events at unit coupling, N1_i(m) = events_per_pb x efficiency x
    sigma x selection efficiency (:func:`~darkmoments.stats.shapes.load_grid`) times the
    thick-target depth factor (:meth:`Experiment.depth_factor`, computed at ``depth_nodes``
    masses and interpolated; 1 for thin targets).

    Parameters
    ----------
    model : str
        Model id.
    experiments : str or sequence
        Experiments (:func:`parse_experiments`).
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    directory : str, optional
        Template directory.
    depth_nodes : int
        Masses at which thick-target depth factors are computed (M3; ~1 s each on first
        use).

    Returns
    -------
    CombinedHypothesis

    Examples
    --------
    >>> from darkmoments.stats.combined import load_hypothesis
    >>> hyp = load_hypothesis("md", "ldmx-phase1,ldmx-phase2", "E")
    >>> [g.masses.size for g in hyp.grids], hyp.mass_range  # Phase I reaches 2 GeV
    ([40, 40], (0.001, 2.0))
    """
    from ..models import get_model
    from .shapes import load_grid

    mid = get_model(model).id
    grids, rates = [], []
    for exp in parse_experiments(experiments):
        # load_grid resolves any ExperimentLike (annotated str): pass the resolved setup
        # n1 includes the thick-target depth factor (load_grid, depth_nodes masses)
        g = load_grid(
            mid, cast(Any, exp), observables, directory=directory, depth_nodes=depth_nodes
        )
        if g.n1 is None:  # pragma: no cover - load_grid always sets n1
            raise InputError(f"no rates for {mid} in {exp.name}")
        grids.append(g)
        rates.append(g.n1)
    return CombinedHypothesis(mid, tuple(grids), tuple(rates))


def relic_hypothesis(hyp: CombinedHypothesis, factor: float = 1.0) -> CombinedHypothesis:
    """``hyp`` on the relic-target range with rates (f g_relic(m))^2 N1_i(m).

    ``hyp`` holds N1_i (:func:`load_hypothesis`); g_relic from :func:`darkmoments.relic.target`
    at every grid mass; masses without a relic target (m <= 2 m_e) are dropped
    (:func:`~darkmoments.stats.toys.relic_domain`).

    Parameters
    ----------
    hyp : CombinedHypothesis
        With rates N1_i.
    factor : float
        f (> 0).

    Returns
    -------
    CombinedHypothesis

    Examples
    --------
    km on its relic target at 0.1 GeV: 57 events at Phase I, 2128 at Phase II:

    >>> from darkmoments.stats.combined import load_hypothesis, relic_hypothesis
    >>> hyp = relic_hypothesis(load_hypothesis("km", "ldmx-phase1,ldmx-phase2", "E"))
    >>> round(hyp.rate(0, 0.1)), round(hyp.rate(1, 0.1)), float(hyp.grids[0].masses[0])
    (57, 2128, 0.00121518)
    """
    from ..relic import target
    from .toys import relic_domain

    assert hyp.rates is not None
    grids, rates = [], []
    for g in hyp.grids:
        gr = relic_domain(g)
        assert gr.n1 is not None
        coupling = np.asarray(target(hyp.model, gr.masses).coupling, dtype=float)
        grids.append(gr)
        rates.append((factor * coupling) ** 2 * gr.n1)
    return CombinedHypothesis(hyp.model, tuple(grids), tuple(rates))


def coupling_hypothesis(hyp: CombinedHypothesis, coupling: float) -> CombinedHypothesis:
    """``hyp`` (rates N1_i) with rates g^2 N1_i for a constant coupling g (model units).

    Parameters
    ----------
    hyp : CombinedHypothesis
        With rates N1_i.
    coupling : float
        g (model units).

    Returns
    -------
    CombinedHypothesis

    Examples
    --------
    >>> from darkmoments.stats.combined import coupling_hypothesis, load_hypothesis
    >>> hyp = coupling_hypothesis(load_hypothesis("km", "ldmx-phase1,ldmx-phase2", "E"), 1e-5)
    >>> round(hyp.rate(0, 0.1), 3), round(hyp.rate(1, 0.1), 2)  # events at epsilon = 1e-5
    (0.197, 7.41)
    """
    from ..models import check_coupling

    g = check_coupling(coupling, name=f"coupling of {hyp.model}")
    assert hyp.rates is not None
    return CombinedHypothesis(hyp.model, hyp.grids, tuple(g**2 * r for r in hyp.rates))


def _parse_true(true: Any) -> tuple[str, float]:
    if isinstance(true, str):
        model, sep, mass = true.partition(":")
        if not sep:
            raise InputError(f"true must be MODEL:MASS (GeV), e.g. 'km:1.0', got {true!r}")
        try:
            return model.strip(), float(mass)
        except ValueError:
            raise InputError(f"true mass in {true!r} is not a number (GeV)") from None
    model, mass = true
    return str(model), float(mass)


def combined_setup(
    true: Any,
    alt: str,
    experiments: Any,
    *,
    statistic: str = "shape",
    coupling_factor: float = 1.0,
    couplings: Mapping[str, float] | None = None,
    signal_events: float | None = None,
    systematics: NormalisationSystematics | Sequence[NormalisationSystematics] | None = None,
    observables: str | Sequence[str] = "E,pt",
    directory: str | None = None,
    refine: bool = True,
    mc_stat: bool = True,
) -> CombinedSetup:
    """The combined discrimination problem the command line builds (one call).

    Parameters
    ----------
    true : str or (str, float)
        ``"km:1.0"``: true model and A' mass (GeV).
    alt : str
        Alternative model id.
    experiments : str or sequence
        ``"ldmx-phase1,ldmx-phase2,m3-phase2"`` (names or TOML paths).
    statistic : str
        ``"shape"`` (normalisations free), ``"ratio"`` (one free coupling, the model's
        rate ratios between experiments) or ``"shape+rate"`` (couplings predicted).
    coupling_factor : float
        Couplings = factor x the relic target of each model (when ``couplings`` is None).
    couplings : mapping, optional
        ``{model: g}`` constant couplings (model units) instead of the relic targets.
    signal_events : float, optional
        Total true events over the experiments (split in proportion to the true model's
        rates); only for ``"shape"`` and ``"ratio"``; default: the predicted couplings.
    systematics : NormalisationSystematics or one per experiment, optional
        Default :data:`~darkmoments.stats.systematics.DEFAULT_SYSTEMATICS` for ``"ratio"``
        and ``"shape+rate"``; unused for ``"shape"``.
    observables, directory : optional
        Template observables and directory.
    refine, mc_stat : bool
        Fit options.

    Returns
    -------
    CombinedSetup

    Examples
    --------
    The three statistics for km at 0.1 GeV against md, couplings given (epsilon = 2.6e-5,
    mu/e = 2.67e-4 GeV^-1: 1.33 + 50.10 km events):

    >>> from darkmoments.stats.combined import combined_setup
    >>> kw = {"observables": "E", "couplings": {"km": 2.6e-5, "md": 2.67e-4}}
    >>> for stat in ("shape", "ratio", "shape+rate"):
    ...     s = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", statistic=stat, **kw)
    ...     print(stat, s.normalisation, [round(n, 2) for n in s.n_true], s.systematics is None)
    shape free [1.33, 50.1] True
    ratio shared [1.33, 50.1] False
    shape+rate tied [1.33, 50.1] False
    """
    from .systematics import DEFAULT_SYSTEMATICS

    if statistic not in STATISTICS:
        raise InputError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    mode = STATISTICS[statistic]
    model_t, mass = _parse_true(true)
    exps = parse_experiments(experiments)
    hyps = [load_hypothesis(m, exps, observables, directory=directory) for m in (model_t, alt)]
    if couplings is None:
        f = check_real("coupling_factor", coupling_factor, lo=0.0, lo_open=True)
        hyps = [relic_hypothesis(h, f) for h in hyps]
    else:
        missing = [h.model for h in hyps if h.model not in couplings]
        if missing:
            raise InputError(f"couplings needed for {missing}; got {sorted(couplings)}")
        hyps = [coupling_hypothesis(h, couplings[h.model]) for h in hyps]
    mass = hyps[0].check_mass(mass)
    n_true = [hyps[0].rate(i, mass) for i in range(len(exps))]
    if signal_events is not None:
        if mode == "tied":
            raise InputError("signal_events fixes the true events: not with 'shape+rate'")
        total = check_real("signal_events", signal_events, lo=0.0, lo_open=True, unit="events")
        n_true = [total * v / sum(n_true) for v in n_true]
        if mode == "shared":  # the true rates scale with the events (a different coupling)
            k = total / sum(hyps[0].rate(i, mass) for i in range(len(exps)))
            hyps = [h.scaled(k) for h in hyps]
    syst = None
    if mode != "free":
        s = DEFAULT_SYSTEMATICS if systematics is None else systematics
        syst = CombinedSystematics.from_systematics(s, len(exps))
    return CombinedSetup(
        tuple(e.name for e in exps),
        hyps[0],
        hyps[1],
        mass,
        tuple(n_true),
        mode,
        syst,
        refine=refine,
        mc_stat=mc_stat,
    )


def combined_reach(
    model: str,
    experiments: Any,
    masses: Any = None,
    *,
    cl: float = 0.9,
    directory: str | None = None,
) -> list[dict[str, Any]]:
    """Zero-background reach of several experiments together, per mass.

    Without background (and nothing observed) the exact limit of the combined binned
    likelihood is the counting limit on the summed signal, N_up = -ln(1 - cl) = 2.303 events
    at 90 % CL (:func:`~darkmoments.stats.limits.poisson_upper_limit`), so g_up =
    sqrt(N_up / sum_i N1_i(m)) with N1_i the events at unit coupling (depth factor included).

    Parameters
    ----------
    model : str
        Model id.
    experiments : str or sequence
        Experiments (:func:`parse_experiments`).
    masses : array_like, optional
        A' masses in GeV (default: every grid mass inside the common range).
    cl : float
        Confidence level.
    directory : str, optional
        Template directory.

    Returns
    -------
    list of dict
        Rows with ``mass`` (GeV), ``n1`` (per experiment), ``n1_total``, ``coupling`` (model
        units) and ``y``.

    Examples
    --------
    LDMX Phase I adds 2.7 % to the Phase II yield of km at 0.1 GeV: epsilon < 5.50e-6
    instead of 5.57e-6:

    >>> from darkmoments.stats.combined import combined_reach
    >>> (row,) = combined_reach("km", "ldmx-phase1,ldmx-phase2", [0.1])
    >>> f"{row['coupling']:.3g}", f"{row['n1_total']:.3g}", row["experiments"]
    ('5.5e-06', '7.61e+10', ['ldmx-phase1', 'ldmx-phase2'])
    """
    from ..models import y_parameter
    from .limits import poisson_upper_limit

    exps = parse_experiments(experiments)
    hyp = load_hypothesis(model, exps, directory=directory)
    lo, hi = hyp.mass_range
    if masses is None:
        m = np.unique(np.concatenate([g.masses for g in hyp.grids]))
        m = m[(m >= lo * (1 - 1e-12)) & (m <= hi * (1 + 1e-12))]
    else:
        m = np.array([hyp.check_mass(x) for x in np.atleast_1d(masses)])
    n_up = poisson_upper_limit(0.0, 0.0, cl)
    rows = []
    for x in m:
        n1 = [hyp.rate(i, float(x)) for i in range(len(exps))]
        g = math.sqrt(n_up / sum(n1))
        rows.append(
            {
                "model": hyp.model,
                "mass": float(x),
                "experiments": [e.name for e in exps],
                "n1": n1,
                "n1_total": float(sum(n1)),
                "coupling": g,
                "y": float(y_parameter(hyp.model, g)),
                "cl": cl,
            }
        )
    return rows


def combined_workspace(
    model: str,
    mass: float,
    experiments: Any,
    *,
    coupling: float = 1.0,
    normalisation: str = "shared",
    systematics: NormalisationSystematics | Sequence[NormalisationSystematics] | None = None,
    observables: str | Sequence[str] = "E,pt",
    layout: str = "coarse",
    staterror: bool | str = "auto",
    directory: str | None = None,
) -> dict[str, Any]:
    """:func:`combined_spec` of the shipped templates of a model at a mass (one call).

    Each experiment's signal at mu = 1 is its yield at ``coupling`` (model units), depth
    factor included (:meth:`Experiment.expected_events`); ``systematics`` default to
    :data:`~darkmoments.stats.systematics.DEFAULT_SYSTEMATICS` (not with ``"free"``).

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    experiments : str or sequence
        Experiments.
    coupling : float
        Reference coupling at mu = 1 (model units).
    normalisation : str
        ``"shared"``, ``"tied"`` or ``"free"``.
    systematics : NormalisationSystematics or one per experiment, optional
        Normalisation systematics.
    observables, layout, staterror
        As :func:`~darkmoments.stats.workspace.build_spec`.
    directory : str, optional
        Template directory.

    Returns
    -------
    dict
        pyhf workspace spec.

    Examples
    --------
    >>> from darkmoments.stats.combined import combined_workspace
    >>> spec = combined_workspace("km", 0.1, "ldmx-phase1,ldmx-phase2", coupling=1e-5,
    ...                           observables="E")
    >>> [(ch["name"], len(ch["samples"][0]["data"])) for ch in spec["channels"]]  # 8 E bins
    [('ldmx-phase1', 8), ('ldmx-phase2', 8)]
    >>> [round(sum(ch["samples"][0]["data"]), 3) for ch in spec["channels"]]  # events at 1e-5
    [0.197, 7.411]
    """
    from .. import templates
    from .systematics import DEFAULT_SYSTEMATICS

    exps = parse_experiments(experiments)
    mode = _check_normalisation(normalisation)
    tpls, n_sig = [], []
    for exp in exps:
        t = templates.load(model, mass, exp, directory=directory)
        eps = float(t.metadata.get("selection_efficiency", 1.0))
        n_sig.append(float(exp.expected_events(t.sigma_pb, coupling, eps, model=model, mass=mass)))
        tpls.append(t)
    syst = None
    if mode != "free":
        s = DEFAULT_SYSTEMATICS if systematics is None else systematics
        syst = CombinedSystematics.from_systematics(s, len(exps))
    return combined_spec(
        tpls,
        n_sig,
        [e.name for e in exps],
        normalisation=mode,
        systematics=syst,
        observables=observables,
        layout=layout,
        staterror=staterror,
    )


# ----------------------------------------------------------------------------- template noise


@dataclass(frozen=True)
class CombinedIdentity:
    """Whether the combined t_A could be template MC noise (:func:`combined_shape_identity`).

    Attributes
    ----------
    t_asimov : float
        t_A of the templates as they are.
    p_value : float
        (k + 1) / (B + 1), k = resamples with noise-only t >= t_A.
    resolved : bool
        ``p_value < alpha``.
    alpha : float
    t_noise_mean : float
        Mean noise-only t.
    n_resamples : int
        B.

    Examples
    --------
    >>> from darkmoments.stats.combined import CombinedIdentity
    >>> CombinedIdentity(4.43, 1 / 11, False, 0.01, 0.003, 10).resolved
    False
    """

    t_asimov: float
    p_value: float
    resolved: bool
    alpha: float
    t_noise_mean: float
    n_resamples: int


def _identity_pair(
    gt: ShapeGrid, ga: ShapeGrid, masses: tuple[float, float], rng: np.random.Generator
) -> tuple[ShapeGrid, ShapeGrid]:
    """Both grids redrawn near ``masses`` from their common shape under the null, own N_MC each.

    The same null as the single-experiment test: :func:`~darkmoments.stats.calibration.
    window_nodes` and the pooled shape with :data:`~darkmoments.stats.calibration.POOL_PRIOR`
    pseudo-events (without them the null is anti-conservative with sparse templates).
    """
    from .calibration import _pooled, resample_grid, template_mc_counts, window_nodes

    out = []
    for own, other in ((gt, ga), (ga, gt)):
        n_own, n_other = template_mc_counts(own), float(np.median(template_mc_counts(other)))
        nodes = window_nodes(own, masses)
        src = _pooled(own, other, nodes, n_own, n_other)
        out.append(resample_grid(own, rng, nodes, source=src, n_mc=n_own))
    return out[0], out[1]


def combined_shape_identity(
    setup: CombinedSetup,
    alt_mass: float | None = None,
    *,
    n_resamples: int = 100,
    seed: int = 0,
    alpha: float = 0.01,
    refine: bool | None = None,
) -> CombinedIdentity:
    """Calibrated test of "the two models' distributions are identical in every experiment".

    The combination's version of :func:`~darkmoments.stats.calibration.shape_identity_test`:
    in every experiment both models' template nodes near the true mass and the
    alternative's best fit (+-3 nodes) are redrawn from their pooled shape, each with its own
    MC statistics (:func:`~darkmoments.stats.calibration.resample_grid`), the rates kept,
    and the combined Asimov t is recomputed; p = (k + 1) / (B + 1) over B resamples.  The
    separation is *resolved* when p < ``alpha``; otherwise t_A may be template noise.
    ``refine=False`` runs the test (t_A and every resample) on the grid-node statistic, about
    40 times faster (no spline tables per resample): a calibrated test of that statistic,
    used as a proxy of the refined one.

    Parameters
    ----------
    setup : CombinedSetup
        The problem.
    alt_mass : float, optional
        The alternative's Asimov best fit (GeV).
    n_resamples : int
        B (>= 10).
    seed : int
        Seed.
    alpha : float
        Level of ``resolved``.
    refine : bool, optional
        Override the setup's ``refine``.

    Returns
    -------
    CombinedIdentity

    Examples
    --------
    t_A = 4.43 against a noise-only mean of 0.003: above all 10 resamples (p = 1/11, the
    resolution of B = 10; the default B = 100 resolves it at 1 %):

    >>> from darkmoments.stats.combined import combined_setup
    >>> setup = combined_setup("km:0.1", "md", "ldmx-phase1,ldmx-phase2", observables="E",
    ...                        couplings={"km": 2.6e-5, "md": 2.67e-4}, signal_events=60.0)
    >>> from darkmoments.stats.combined import combined_shape_identity
    >>> res = combined_shape_identity(setup, n_resamples=10, seed=1, refine=False)
    >>> round(res.t_asimov, 2), round(res.p_value, 3), bool(res.t_noise_mean < 0.05)
    (4.43, 0.091, True)
    """
    b = check_int("n_resamples", n_resamples, lo=10)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    if refine is not None:
        setup = replace(setup, refine=bool(refine))
    m_alt, _, t_a = combined_alternative_point(setup)
    if alt_mass is not None:
        m_alt = float(alt_mass)
    noise = np.empty(b)
    for r in range(b):
        pairs = [
            _identity_pair(gt, ga, (setup.true_mass, m_alt), rng)
            for gt, ga in zip(setup.true.grids, setup.alt.grids, strict=True)
        ]
        true = CombinedHypothesis(setup.true.model, tuple(p[0] for p in pairs), setup.true.rates)
        alt = CombinedHypothesis(setup.alt.model, tuple(p[1] for p in pairs), setup.alt.rates)
        noise[r] = combined_alternative_point(replace(setup, true=true, alt=alt))[2]
    p = empirical_p_value(int(np.count_nonzero(noise >= t_a)), b)
    return CombinedIdentity(t_a, p, p < alpha, alpha, float(noise.mean()), b)


def combined_yields(
    model: str,
    mass: float,
    coupling: float,
    experiments: Any,
    *,
    directory: str | None = None,
) -> list[dict[str, Any]]:
    """Expected signal events of a model in every experiment (depth factor included).

    :func:`darkmoments.templates.signal_yield`'s template, then
    :meth:`Experiment.expected_events` with ``model`` and ``mass`` (thick targets integrate
    over depth).  Summed, they are the combined counting experiment of discovery and of the
    zero-background reach (a sum of independent Poisson counts is Poisson).

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    coupling : float
        g_f (model units).
    experiments : str or sequence
        Experiments.
    directory : str, optional
        Template directory.

    Returns
    -------
    list of dict
        Per experiment: ``experiment``, ``n_signal`` (events), ``depth_factor``,
        ``sigma_pb``, ``selection_efficiency``.

    Examples
    --------
    km at 0.1 GeV and epsilon = 1e-5: 0.20 events at Phase I (2.2e9 pb at 4 GeV), 7.41 at
    Phase II (3.3e9 pb at 8 GeV); thin targets, depth factor 1:

    >>> from darkmoments.stats.combined import combined_yields
    >>> for row in combined_yields("km", 0.1, 1e-5, "ldmx-phase1,ldmx-phase2"):
    ...     print(row["experiment"], round(row["n_signal"], 2), f"{row['sigma_pb']:.2g}",
    ...           row["depth_factor"])
    ldmx-phase1 0.2 2.2e+09 1.0
    ldmx-phase2 7.41 3.3e+09 1.0
    """
    from .. import templates

    rows = []
    for exp in parse_experiments(experiments):
        t = templates.load(model, mass, exp, directory=directory)
        eps = float(t.metadata.get("selection_efficiency", 1.0))
        f = float(exp.depth_factor(model, mass))
        n = float(exp.expected_events(t.sigma_pb, coupling, eps, depth_factor=f))
        rows.append(
            {
                "experiment": exp.name,
                "n_signal": n,
                "depth_factor": f,
                "sigma_pb": float(t.sigma_pb),
                "selection_efficiency": eps,
            }
        )
    return rows
