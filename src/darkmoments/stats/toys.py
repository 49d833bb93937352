"""Model-discrimination pseudo-experiments.

Statistic (for binned data n): t = min_{m, mu} D_alt(n) - min_{m, mu} D_true(n), the
likelihood ratio between the best fit of the alternative model and of the true model, both
with the A' mass profiled (continuous, template interpolation in log m) and the normalisation
free (or tied to the rate).  Large t favours the true model.

Procedure for a true (model, mass) with N expected signal events:

1. Asimov data of the true model; the alternative's best fit to it, (m*, N*), is the most
   degenerate alternative point ("closest" alternative), t_A its statistic.
2. Toys under the true hypothesis (Poisson(N p_true(m))) and under the alternative, all
   fitted with :func:`~darkmoments.stats.fast.profile_mass`.  The alternative is a composite
   null (its mass and normalisation are fitted): with the normalisation free its toys are
   drawn conditionally on the observed total, ``Multinomial(n, p_alt(m_hat))``, which removes
   the normalisation exactly (n is sufficient for it), with the mass at its fit to the data
   (parametric bootstrap; for the median experiment n = round(N), m_hat = m*).  With tied rates
   the total count is information and the toys are ``Poisson(N* p_alt(m*))``.  The
   calibration across the null (N from 0.5 to 2 N*, mass +-10 %) is tested; see
   :func:`alternative_p_values` for the p-value of one observed data set.
3. p-value of rejecting the alternative for the median true experiment, two estimates:

   * direct toys: p = (k + 1) / (n_toys + 1) with k = #(t_alt >= median t_true) (a valid
     p-value, never 0), Z = Phi^-1(1 - p); a lower bound (``z_is_bound``) when k = 0;
   * importance sampling (:func:`~darkmoments.stats.sampling.mixture_tail_probability`):
     the alternative toys and toys of the true hypothesis from the same family (conditional
     or Poisson), pooled as a sample of their mixture and weighted by the exact likelihood
     ratio of the generating hypotheses, give p with its standard error far below 1 / n_toys
     (1e4 toys resolve 5 sigma to about 0.05 in Z).

   The Asimov approximation is Z_A = sqrt(t_A); with free normalisation t_A is exactly
   proportional to N, so the events needed for Z sigma are N_Z = Z^2 N / t_A.
   If every alternative toy reaches the median the significance is not defined and
   :class:`~darkmoments.errors.NonFiniteResultError` is raised.  Z < 0 (p > 0.5) means the
   alternative is not disfavoured at all.
4. Shape identity: a calibrated bootstrap test of "the two shapes are identical, t_A is
   template MC noise" (:func:`~darkmoments.stats.calibration.shape_identity_test`) gives
   ``p_identity`` (``template_limited`` = not resolved at 99 % CL) and the
   template-statistics bands of t_A, N(3 sigma), N(5 sigma).

Toys run in chunks with seeds from ``np.random.SeedSequence(seed).spawn(n_chunks)`` so the
results do not depend on the number of workers or the executor.  With ``out_dir`` the chunks
go through the shared checkpoint (:mod:`darkmoments.checkpoint`): each finished chunk is
written atomically as ``chunk_XXXXX.npz`` and recorded with its SHA-256 in ``manifest.json``,
which also holds the identity of the run (:func:`run_identity`: the setup fingerprint, toy
counts, seed, chunk size, ``p_floor``); ``resume=True`` reuses only recorded chunks whose
checksums match, and chunk files of another (or an unknown) run are refused.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, InputTypeError, NonFiniteResultError, StaleCheckpointError
from ..validation import check_finite_result, check_int, check_real
from ._roots import luminosity_scale
from .calibration import ShapeIdentity, shape_identity_test
from .discovery import p_to_z
from .fast import (
    P_FLOOR,
    PreparedCounts,
    check_background,
    check_background_sigma,
    prepare_counts,
    profile_mass,
)
from .fits import asimov
from .reference import reference_statistic_pyhf  # re-export (moved there)
from .sampling import (
    ImportanceEstimate,
    empirical_p_value,
    log_likelihood_ratio,
    mixture_tail_probability,
    null_toys,
)
from .shapes import ShapeGrid
from .systematics import NormalisationSystematics

__all__ = [
    "BAND_RESAMPLES",
    "MIN_TOYS",
    "DiscriminationResult",
    "DiscriminationSetup",
    "EventsForSignificance",
    "alternative_fit",
    "alternative_p_values",
    "alternative_point",
    "discrimination_statistic",
    "empirical_p_values",
    "events_for_significance",
    "events_with_bands",
    "identity_p_value",
    "reference_statistic_pyhf",
    "relic_domain",
    "relic_setup",
    "run_discrimination",
    "run_identity",
    "shape_identity",
    "template_noise_floor",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DiscriminationSetup:
    """What to discriminate.

    Attributes
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes of the true and the alternative model (same observables and binning).
    true_mass : float
        True A' mass in GeV.
    n_events : float
        Expected signal events of the true hypothesis (> 0).
    rates_true, rates_alt : ndarray, optional
        Expected events at each grid mass of each model when the coupling is tied (e.g. to
        the relic target); if given, the normalisation is tied in the fits and ``n_events``
        must equal the true rate at ``true_mass`` (interpolated as the fits do, ln R by the
        spline in ln m: :meth:`~darkmoments.stats.shapes.ShapeGrid.rate_of`).
    refine : bool
        Continuous mass refinement between grid nodes (True) or grid-node profiling.
    p_floor : float
        Floor on the template probabilities, in (0, 1e-3): an empty template bin stands for
        p below the MC resolution, not p = 0 (which would make the deviance infinite).  An
        event in a bin that a hypothesis never populates costs 2 ln(1 / (N p_floor)) in its
        deviance, so with finite-statistics templates the tails of t depend on this choice
        (the median, and hence the expected significance, much less).  Default
        :data:`~darkmoments.stats.fast.P_FLOOR`.
    systematics : NormalisationSystematics, optional
        Normalisation systematics of tied rates (only with ``rates_true``/``rates_alt``):
        each hypothesis is fitted with mu = theta R(m) and the log-normal constraint
        (ln theta)^2 / s^2, s = ``systematics.rate_sigma``, theta profiled per toy and per
        hypothesis (:mod:`darkmoments.stats.systematics`).  None (or all components zero):
        the rates are exactly tied.
    background : ndarray, shape (n_bins,), optional
        Expected background events per bin (the grids' observables), the same under both
        hypotheses: each expects signal + theta_b x background, theta_b = 1 in the toys of
        the true hypothesis and fitted in those of the alternative
        (:func:`~darkmoments.stats.fast.profile_mass`).  None or all zeros: no background
        (the setup is then exactly the one without).
    background_sigma : float, optional
        Width s_b = ln(1 + sigma_b) of the log-normal background normalisation, a nuisance
        profiled per toy and hypothesis with the constraint (ln theta_b)^2 / s_b^2; None:
        theta_b = 1.

    Examples
    --------
    50 km events at 0.1 GeV (LDMX Phase II, recoil energy) against the magnetic dipole:

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.1, 50.0)
    >>> setup.fit_options()
    {'refine': True, 'p_floor': 1e-12}
    >>> round(float(setup.expected(km, 0.1, 50.0).sum()), 9), len(setup.fingerprint())
    (50.0, 64)
    >>> DiscriminationSetup(km, km, 0.1, 50.0)
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: the alternative hypothesis is the true one ...
    """

    true_grid: ShapeGrid
    alt_grid: ShapeGrid
    true_mass: float
    n_events: float
    rates_true: FloatArray | None = None
    rates_alt: FloatArray | None = None
    refine: bool = True
    p_floor: float = P_FLOOR
    systematics: NormalisationSystematics | None = None
    background: FloatArray | None = None
    background_sigma: float | None = None

    def __post_init__(self) -> None:
        for name in ("true_grid", "alt_grid"):
            if not isinstance(getattr(self, name), ShapeGrid):
                raise InputTypeError(
                    f"{name} must be a ShapeGrid, got {type(getattr(self, name)).__name__}"
                )
        if self.true_grid.n_bins != self.alt_grid.n_bins:
            raise InputError(
                f"true and alternative shapes have {self.true_grid.n_bins} and "
                f"{self.alt_grid.n_bins} bins; use the same observables and binning"
            )
        if self.true_grid is self.alt_grid or (
            self.true_grid.model == self.alt_grid.model
            and self.true_grid.probs.shape == self.alt_grid.probs.shape
            and self.true_grid.masses.shape == self.alt_grid.masses.shape
            # indistinguishable (not bit-equal): the same templates give t = 0 in every toy
            and np.allclose(self.true_grid.masses, self.alt_grid.masses, rtol=1e-12, atol=0.0)
            and np.allclose(self.true_grid.probs, self.alt_grid.probs, rtol=1e-12, atol=0.0)
        ):
            raise InputError(
                f"the alternative hypothesis is the true one (model {self.alt_grid.model}, same "
                "templates): t = 0 for every toy; choose another alternative model"
            )
        check_real("number of events", self.n_events, lo=0.0, lo_open=True, unit="events")
        check_real("p_floor", self.p_floor, lo=0.0, hi=1e-3, lo_open=True, hi_open=True)
        self.true_grid.check_mass(self.true_mass)
        if (self.rates_true is None) != (self.rates_alt is None):
            raise InputError("give both rates_true and rates_alt (tied rates) or neither")
        self._check_systematics()
        bkg = check_background(self.background, self.true_grid.n_bins)
        object.__setattr__(self, "background", bkg)
        sigma = check_background_sigma(self.background_sigma)
        object.__setattr__(self, "background_sigma", None if bkg is None else sigma)
        if self.rates_true is not None:
            rt = np.asarray(self.rates_true, dtype=float)
            ra = np.asarray(self.rates_alt, dtype=float)
            if rt.shape != self.true_grid.masses.shape or ra.shape != self.alt_grid.masses.shape:
                raise InputError("rates_true / rates_alt need one value per grid mass")
            if not (
                np.all(np.isfinite(rt))
                and np.all(rt > 0)
                and np.all(np.isfinite(ra))
                and np.all(ra > 0)
            ):
                raise InputError("tied rates must be finite and > 0 events")
            expected = self.true_grid.rate_of(rt, float(self.true_mass))
            if not np.isclose(self.n_events, expected, rtol=1e-9):
                raise InputError(
                    f"n_events = {self.n_events} differs from the tied true rate {expected} "
                    f"at m = {self.true_mass} GeV"
                )

    def _check_systematics(self) -> None:
        if self.systematics is None:
            return
        if not isinstance(self.systematics, NormalisationSystematics):
            raise InputTypeError(
                "systematics must be a NormalisationSystematics, got "
                f"{type(self.systematics).__name__}"
            )
        if self.rates_true is None:
            raise InputError(
                "normalisation systematics need tied rates (rates_true, rates_alt): with a "
                "free normalisation the rate carries no information to be uncertain about"
            )

    @property
    def rate_sigma(self) -> float | None:
        """Width of the log-normal rate constraint (ln theta), or None (exactly tied/free)."""
        if self.rates_true is None or self.systematics is None:
            return None
        return self.systematics.rate_sigma

    def fit_options(self) -> dict[str, Any]:
        """Keywords of :func:`~darkmoments.stats.fast.profile_mass` for this setup.

        ``refine`` and ``p_floor``, and ``rate_sigma`` when the tied rates carry
        normalisation systematics.
        """
        kw: dict[str, Any] = {"refine": self.refine, "p_floor": self.p_floor}
        if self.rate_sigma is not None:
            kw["rate_sigma"] = self.rate_sigma
        if self.background is not None:
            kw["background"] = self.background
            kw["background_sigma"] = self.background_sigma
        return kw

    def expected(self, grid: ShapeGrid, mass: float, n: float, theta_b: float = 1.0) -> FloatArray:
        """Expected events per bin of a hypothesis: signal n p(mass) + theta_b x background."""
        return asimov(grid, mass, n, background=self.background, background_scale=theta_b)

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the toys (for safe ``--resume``)."""
        h = hashlib.sha256()
        for g in (self.true_grid, self.alt_grid):
            h.update(g.model.encode())
            h.update(np.ascontiguousarray(g.masses).tobytes())
            h.update(np.ascontiguousarray(g.probs).tobytes())
        for r in (self.rates_true, self.rates_alt):
            h.update(b"none" if r is None else np.ascontiguousarray(r).tobytes())
        h.update(
            repr(
                (
                    tuple(self.true_grid.observables),
                    float(self.true_mass),
                    float(self.n_events),
                    bool(self.refine),
                    float(self.p_floor),
                )
            ).encode()
        )
        if self.rate_sigma is not None:  # (setups without systematics keep their old hash)
            h.update(repr(sorted(self.systematics.components().items())).encode())  # type: ignore[union-attr]
        if self.background is not None:  # (setups without background keep their old hash)
            h.update(np.ascontiguousarray(self.background).tobytes())
            h.update(repr(self.background_sigma).encode())
        return h.hexdigest()


def relic_setup(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    true_mass: float,
    *,
    coupling_factor: float = 1.0,
    systematics: NormalisationSystematics | None = None,
    refine: bool = True,
    p_floor: float = P_FLOOR,
) -> DiscriminationSetup:
    """A setup with the normalisations tied to the relic-target couplings of each model.

    Under each hypothesis the expected signal at mass m is N(m) = (f g_relic(m))^2 N_1(m),
    with g_relic from :func:`darkmoments.relic.target` (Omega h^2 = 0.120, paper section 3)
    and N_1 the expected events at unit coupling (``grid.n1``); f = ``coupling_factor``
    scales both couplings (1 = exactly on the relic targets).  N is computed at the grid
    masses and interpolated in between as the fits interpolate it (ln N by the spline in
    ln m, :meth:`~darkmoments.stats.shapes.ShapeGrid.rate_of`), so the true expected events
    at an off-grid true mass are the tied fit's own rate there.

    Fit range: the relic target is defined only for 2 m_e < m_A' <= 1000 GeV
    (:data:`darkmoments.relic.targets.M_AP_MIN`, ``M_AP_MAX``: A' -> e+e- must be open).
    Grid masses outside that range (on the shipped grids the lowest, 1 MeV) are dropped from
    both hypotheses' grids (:func:`relic_domain`), so neither model is fitted there, and the
    true mass must lie inside the remaining grid of the true model (on the shipped Phase II
    grid [0.00122788, 3] GeV).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes with ``n1`` (e.g. from :func:`~darkmoments.stats.shapes.load_grid`).
    true_mass : float
        True A' mass in GeV.
    coupling_factor : float
        f > 0.
    systematics : NormalisationSystematics, optional
        Normalisation systematics of the tied rates (None: exactly tied).
    refine : bool
        Continuous mass refinement.
    p_floor : float
        Floor on the template probabilities (:class:`DiscriminationSetup`).

    Returns
    -------
    DiscriminationSetup
        On the grids restricted to the relic-target range.

    Raises
    ------
    InputError
        A grid without ``n1`` or without any mass in the relic-target range, ``true_mass``
        outside the restricted grid (the message names the range), ``coupling_factor`` <= 0.

    Examples
    --------
    km at 0.1 GeV exactly on its relic target expects 2128 events at LDMX Phase II; cr
    on its own relic target has the same shapes but another rate, so its best fit to the
    km data moves to 0.31 GeV and t_A = 57 (it would be 0.14, template noise, with the
    normalisation free):

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import alternative_point, relic_setup
    >>> km, cr = load_grid("km", observables="E"), load_grid("cr", observables="E")
    >>> setup = relic_setup(km, cr, 0.1)  # about 1 s (the relic targets)
    >>> round(setup.n_events), float(setup.true_grid.masses[0])  # 1 MeV < 2 m_e dropped
    (2128, 0.00122788)
    >>> [round(x, 2) for x in alternative_point(setup)]  # GeV, events, t_A
    [0.31, 2149.56, 57.28]
    """
    from ..relic import target

    coupling_factor = check_real("coupling_factor", coupling_factor, lo=0.0, lo_open=True)
    grids = [relic_domain(g) for g in (true_grid, alt_grid)]
    true_mass = _check_relic_true_mass(grids[0], true_mass)
    rates = []
    for g in grids:
        if g.n1 is None:
            raise InputError(f"shape grid of model {g.model} has no event rates (n1)")
        gr = np.asarray(target(g.model, g.masses).coupling, dtype=float)
        rates.append((coupling_factor * gr) ** 2 * g.n1)
    n_true = grids[0].rate_of(rates[0], true_mass)
    return DiscriminationSetup(
        grids[0], grids[1], true_mass, n_true, rates[0], rates[1], refine, p_floor, systematics
    )


def relic_domain(grid: ShapeGrid) -> ShapeGrid:
    """``grid`` without the masses where the relic target is undefined (m <= 2 m_e, > 1 TeV).

    Returns ``grid`` itself when every mass is inside (2 m_e, 1000] GeV.

    Parameters
    ----------
    grid : ShapeGrid
        The shapes.

    Returns
    -------
    ShapeGrid

    Raises
    ------
    InputError
        No grid mass is inside the range.

    Examples
    --------
    The shipped grids start at 1 MeV, below 2 m_e = 1.022 MeV:

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import relic_domain
    >>> grid = load_grid("km", observables="E")
    >>> grid.masses[:2], relic_domain(grid).masses[:2]
    (array([0.001     , 0.00122788]), array([0.00122788, 0.0015077 ]))
    """
    from ..relic.targets import M_AP_MAX, M_AP_MIN

    keep = (grid.masses > M_AP_MIN) & (grid.masses <= M_AP_MAX)
    if np.all(keep):
        return grid
    if not np.any(keep):
        raise InputError(
            f"no grid mass of model {grid.model} ({grid.mass_range[0]:g}-{grid.mass_range[1]:g}"
            f" GeV) has a relic target: it needs 2 m_e = {M_AP_MIN:.6g} < m_A' <= {M_AP_MAX:g} GeV"
        )
    return ShapeGrid(
        grid.model,
        grid.masses[keep],
        grid.probs[keep],
        grid.variances[keep],
        None if grid.n1 is None else grid.n1[keep],
        grid.observables,
    )


def _check_relic_true_mass(grid: ShapeGrid, mass: Any) -> float:
    """The true mass as float if inside the relic-restricted grid, else an InputError."""
    from ..relic.targets import M_AP_MIN

    m = check_real("true mass", mass, lo=0.0, lo_open=True, unit="GeV")
    lo, hi = grid.mass_range
    if m < lo * (1 - 1e-12) or m > hi * (1 + 1e-12):
        raise InputError(
            f"true mass {m:g} GeV outside [{lo:g}, {hi:g}] GeV, the grid masses of model "
            f"{grid.model} where the relic target is defined (m_A' > 2 m_e = {M_AP_MIN:.6g} "
            "GeV); couplings tied to the relic target need a true mass in that range"
        )
    return min(max(m, lo), hi)


def discrimination_statistic(
    counts: FloatArray | PreparedCounts, setup: DiscriminationSetup
) -> FloatArray:
    """t = min D_alt - min D_true for each toy (rows of ``counts``), masses profiled.

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins), or PreparedCounts
        Events per bin.
    setup : DiscriminationSetup
        The hypotheses and fit options.

    Returns
    -------
    ndarray, shape (n_toys,)
        t; large favours the true model, negative the alternative.

    Examples
    --------
    The Asimov data of km at 0.1 GeV favour km (t = 3.66), those of md at 0.49 GeV favour
    md (t < 0):

    >>> import numpy as np
    >>> from darkmoments.stats import asimov
    >>> from darkmoments.stats.toys import discrimination_statistic
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> data = np.vstack([asimov(km, 0.1, 50.0), asimov(md, 0.485, 50.0)])
    >>> discrimination_statistic(data, DiscriminationSetup(km, md, 0.1, 50.0)).round(2)
    array([ 3.66, -2.78])
    """
    counts = prepare_counts(counts, setup.true_grid.n_bins)
    kw = setup.fit_options()
    alt = profile_mass(counts, setup.alt_grid, rates=setup.rates_alt, **kw)
    tru = profile_mass(counts, setup.true_grid, rates=setup.rates_true, **kw)
    return alt.deviance - tru.deviance


def alternative_point(setup: DiscriminationSetup) -> tuple[float, float, float]:
    """Best fit of the alternative model to the true Asimov data.

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem.

    Returns
    -------
    mass, norm, t_asimov : float
        Alternative mass (GeV), its expected events and the Asimov statistic t_A.

    Examples
    --------
    The closest md point to 50 km events at 0.1 GeV in the recoil energy: 0.49 GeV,
    t_A = 3.66, Z_A = sqrt(t_A) = 1.9:

    >>> from darkmoments.stats.toys import alternative_point
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> mass, norm, t_a = alternative_point(DiscriminationSetup(km, md, 0.1, 50.0))
    >>> round(mass, 3), round(norm, 6), round(t_a, 2), round(t_a**0.5, 2)
    (0.485, 50.0, 3.66, 1.91)
    """
    mass, norm, _, t_a = alternative_fit(setup)
    return mass, norm, t_a


def alternative_fit(setup: DiscriminationSetup) -> tuple[float, float, float, float]:
    """:func:`alternative_point` with the alternative's background normalisation.

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem.

    Returns
    -------
    mass, norm, theta_b, t_asimov : float
        As :func:`alternative_point`, and theta_b (1 without a background or without its
        uncertainty).

    Examples
    --------
    With 20 background events known to 20 %, md also adjusts the background (theta_b):

    >>> import numpy as np
    >>> from darkmoments.stats.toys import alternative_fit
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.1, 50.0, background=np.full(40, 0.5),
    ...                             background_sigma=np.log(1.2))
    >>> mass, norm, theta_b, t_a = alternative_fit(setup)
    >>> round(mass, 2), round(t_a, 2), bool(0.8 < theta_b < 1.2)
    (0.56, 2.24, True)
    """
    data = setup.expected(setup.true_grid, setup.true_mass, setup.n_events)[None, :]
    kw = setup.fit_options()
    alt = profile_mass(data, setup.alt_grid, rates=setup.rates_alt, **kw)
    tru = profile_mass(data, setup.true_grid, rates=setup.rates_true, **kw)
    theta = 1.0 if alt.background_scale is None else float(alt.background_scale[0])
    t_a = float(alt.deviance[0] - tru.deviance[0])
    return float(alt.mass[0]), float(alt.norm[0]), theta, t_a


def template_noise_floor(
    setup: DiscriminationSetup, alt_mass: float, *, n_resamples: int = 20, seed: int = 0
) -> float:
    r"""Asimov t that the templates' own MC noise produces when the two shapes are equal.

    The true template p (at ``setup.true_mass``) is resampled twice, independently, with
    the MC statistics of the true and of the alternative template (multinomial with the
    effective event counts N_eff = sum p(1-p) / sum V); the Asimov t of one copy fitted by the
    other (mass fixed, same ``p_floor``) is averaged over ``n_resamples`` pairs.  In the
    large-count limit this is

    .. math:: t_{floor} = N \sum_b (V_{true,b} + V_{alt,b}) / p_b ,

    but bins with few MC entries (and those empty in one copy) are included exactly.  This
    is the mean noise at a fixed mass; the calibrated decision whether t_A is noise (mass
    profiled, full noise distribution, p-value) is :func:`shape_identity`.

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem (true shape at ``setup.true_mass``, ``setup.n_events`` events).
    alt_mass : float
        Mass of the alternative template in GeV (its Asimov best fit).
    n_resamples : int
        Resampled pairs to average.
    seed : int
        Seed of the resampling (the floor is deterministic).

    Returns
    -------
    float
        The expected t from template noise alone (dimensionless).

    Examples
    --------
    The 1e6-event templates: noise alone gives t ~ 0.005 for 50 events, 1/800 of the
    km-md t_A = 3.66:

    >>> from darkmoments.stats.toys import template_noise_floor
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> floor = template_noise_floor(DiscriminationSetup(km, md, 0.1, 50.0), 0.485,
    ...                              n_resamples=5)
    >>> bool(0.001 < floor < 0.01)
    True
    """
    p = setup.true_grid.shape(setup.true_mass)
    p = p / p.sum()
    n_eff = []
    for grid, m in ((setup.true_grid, setup.true_mass), (setup.alt_grid, alt_mass)):
        v = grid.variance(m)
        q = grid.shape(m)
        n_eff.append(max(float(np.sum(q * (1 - q)) / max(float(np.sum(v)), 1e-300)), 1.0))
    rng = np.random.default_rng(seed)
    mass = np.array([setup.true_mass])
    ts = []
    for _ in range(n_resamples):
        copies = [rng.multinomial(round(n), p) / round(n) for n in n_eff]
        grids = [
            ShapeGrid(g.model, mass, c[None], (c * (1 - c) / n)[None], None, g.observables)
            for g, c, n in zip((setup.true_grid, setup.alt_grid), copies, n_eff, strict=True)
        ]
        pair = DiscriminationSetup(
            grids[0],
            grids[1],
            setup.true_mass,
            setup.n_events,
            refine=False,
            p_floor=setup.p_floor,
            background=setup.background,
            background_sigma=setup.background_sigma,
        )
        ts.append(alternative_point(pair)[2])
    return float(np.mean(ts))


def conditional_null(setup: DiscriminationSetup) -> bool:
    """Whether the alternative's toys are conditional on the total count (free normalisation).

    With the normalisation free, n is sufficient for it: multinomial toys at the observed n
    do not depend on it.  With tied rates (with or without normalisation systematics) the
    total is information and the toys are Poisson at the fitted point; so with a background
    (the total then mixes signal and background: n is not sufficient for the signal).
    """
    return setup.rates_alt is None and setup.background is None


def _asimov_total(setup: DiscriminationSetup) -> int:
    """Total count of the median experiment for conditional toys: round(N) (0 if N < 0.5)."""
    return round(setup.n_events)


def _run_chunk(
    args: tuple[DiscriminationSetup, int, np.random.SeedSequence, float, float],
) -> dict[str, FloatArray]:
    """Toys of one chunk (arrays of :data:`_CHUNK_KEYS`).

    ``t_true``: Poisson toys of the true hypothesis; ``t_alt``: toys of the alternative
    point (conditional on n = round(N) with free normalisation, else Poisson); ``t_prop``:
    toys of the true hypothesis in the alternative's family (the importance-sampling
    proposal; the ``t_true`` toys themselves when Poisson); ``llr_alt``, ``llr_prop``:
    ln P_alt(n) - ln P_true(n) of the alternative and proposal toys.
    """
    setup, n, seq, m_alt, n_alt = args
    rng = np.random.default_rng(seq)
    lam_true = setup.expected(setup.true_grid, setup.true_mass, setup.n_events)
    theta = 1.0 if setup.background is None else alternative_fit(setup)[2]
    lam_alt = setup.expected(setup.alt_grid, m_alt, n_alt, theta)
    c_true = rng.poisson(lam_true, size=(n, lam_true.size)).astype(float)
    cond = conditional_null(setup)
    t_true = discrimination_statistic(c_true, setup)
    if cond:
        total = _asimov_total(setup)
        c_alt = null_toys(rng, lam_alt, n, conditional=True, n_total=total)
        c_prop = null_toys(rng, lam_true, n, conditional=True, n_total=total)
        t_prop = discrimination_statistic(c_prop, setup)
    else:
        c_alt = rng.poisson(lam_alt, size=(n, lam_alt.size)).astype(float)
        c_prop, t_prop = c_true, t_true
    return {
        "t_true": t_true,
        "t_alt": discrimination_statistic(c_alt, setup),
        "t_prop": t_prop,
        "llr_alt": log_likelihood_ratio(c_alt, lam_alt, lam_true, conditional=cond),
        "llr_prop": log_likelihood_ratio(c_prop, lam_alt, lam_true, conditional=cond),
    }


def empirical_p_values(t_obs: FloatArray, t_ref: FloatArray) -> FloatArray:
    """P(T >= t_obs) from reference toys ``t_ref``: (k + 1) / (n + 1), never 0.

    k = #(t_ref >= t_obs) of n toys (:func:`~darkmoments.stats.sampling.empirical_p_value`).

    Parameters
    ----------
    t_obs : array_like
        Observed statistics.
    t_ref : array_like
        Reference toys (>= 1).

    Returns
    -------
    ndarray
        One p-value per observation.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.stats.toys import empirical_p_values
    >>> empirical_p_values(np.array([0.5, 3.0]), np.array([0.1, 0.2, 1.0, 2.5, 4.0])).round(4)
    array([0.6667, 0.3333])
    """
    ref = np.sort(np.asarray(t_ref, dtype=float))
    if ref.size == 0:
        raise InputError("need at least one reference toy")
    idx = np.searchsorted(ref, np.asarray(t_obs, dtype=float), side="left")
    # float64 at run time; numpy's stubs make intp - intp + float a floating[Any] array
    return (ref.size - idx + 1.0) / (ref.size + 1.0)  # type: ignore[return-value]


def alternative_p_values(
    counts: FloatArray, setup: DiscriminationSetup, n_toys: int, *, seed: int
) -> FloatArray:
    """p-value of the (composite) alternative hypothesis for each observed data set.

    For each row n of ``counts``: t_obs = t(n); the alternative is fitted to n (mass m_hat,
    normalisation); ``n_toys`` toys are drawn from it, conditional on the observed total
    (free normalisation) or Poisson at the fitted rate (tied), and p = (k + 1) / (n_toys + 1)
    with k = #(t_toy >= t_obs).  This is the procedure whose calibration across the null is
    tested (uniform p-values for data generated anywhere in the null).

    Parameters
    ----------
    counts : ndarray, shape (n_data, n_bins)
        Observed data sets.
    setup : DiscriminationSetup
        Hypotheses (``true_mass`` and ``n_events`` are not used).
    n_toys : int
        Toys per data set (>= :data:`MIN_TOYS`).
    seed : int
        Seed (>= 0).

    Returns
    -------
    ndarray, shape (n_data,)

    Examples
    --------
    Two data sets, the Asimov spectra of 50 km events at 0.0915 GeV and of 50 md events at
    0.47 GeV; 50 toys of md (fitted to each) per data set: the first is unlikely under md
    (p ~ 0.1, 1.3 sigma with 50 events), the second fits it:

    >>> import numpy as np
    >>> from darkmoments.stats import asimov
    >>> from darkmoments.stats.toys import alternative_p_values
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.0915067, 50.0, refine=False)
    >>> data = np.vstack([asimov(km, 0.0915067, 50.0), asimov(md, 0.472834, 50.0)])
    >>> p = alternative_p_values(data, setup, 50, seed=1)
    >>> bool(p[0] < 0.3 < p[1]), p.size
    (True, 2)
    """
    n_toys = check_int("n_toys", n_toys, lo=MIN_TOYS)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    c = prepare_counts(counts, setup.true_grid.n_bins)
    t_obs = discrimination_statistic(c, setup)
    fit = profile_mass(c, setup.alt_grid, rates=setup.rates_alt, **setup.fit_options())
    cond = conditional_null(setup)
    out = np.empty(t_obs.size)
    block = max(1, 20_000 // n_toys)  # data sets per batch of toys
    for lo in range(0, t_obs.size, block):
        sl = slice(lo, min(lo + block, t_obs.size))
        th = np.ones(c.n.size) if fit.background_scale is None else fit.background_scale
        pairs = zip(fit.mass[sl], fit.norm[sl], th[sl], strict=True)
        lam = np.array([setup.expected(setup.alt_grid, m, max(v, 1e-300), t) for m, v, t in pairs])
        total = np.rint(c.n[sl]).astype(np.int64) if cond else None
        toys = null_toys(rng, lam, n_toys, conditional=cond, n_total=total)
        t = discrimination_statistic(toys.reshape(-1, lam.shape[1]), setup)
        k = np.count_nonzero(t.reshape(lam.shape[0], n_toys) >= t_obs[sl, None], axis=1)
        out[sl] = (k + 1.0) / (n_toys + 1.0)
    return out


def shape_identity(
    setup: DiscriminationSetup,
    alt_mass: float | None = None,
    *,
    n_resamples: int = 200,
    seed: int = 0,
) -> ShapeIdentity:
    """Calibrated shape-identity test of a setup (replaces the former 3x-floor rule).

    :func:`~darkmoments.stats.calibration.shape_identity_test` with the setup's own Asimov
    statistic (same likelihood, rates, refinement) on resampled template pairs.

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem.
    alt_mass : float, optional
        The alternative's Asimov best fit in GeV (default: :func:`alternative_point`).
    n_resamples : int
        Bootstrap resamples B (the p-value resolution is 1 / (B + 1)).
    seed : int
        Seed of the resampling.

    Returns
    -------
    ShapeIdentity

    Examples
    --------
    km against md at 0.0915 GeV (grid nodes only, fast): t_A = 3.77 beyond every one of
    20 noise-only resamples; p = 1/21 is the resolution of B = 20 (not below the default
    alpha = 0.01: use the default B = 200 to resolve it):

    >>> from darkmoments.stats.toys import shape_identity
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.0915067, 50.0, refine=False)
    >>> res = shape_identity(setup, n_resamples=20, seed=1)
    >>> round(res.t_asimov, 2), round(res.p_value, 3), res.resolved
    (3.77, 0.048, False)
    """
    if alt_mass is None:
        alt_mass = alternative_point(setup)[0]

    def asimov_t(g_true: ShapeGrid, g_alt: ShapeGrid) -> float:
        return alternative_point(replace(setup, true_grid=g_true, alt_grid=g_alt))[2]

    return shape_identity_test(
        setup.true_grid,
        setup.alt_grid,
        true_mass=float(setup.true_mass),
        alt_mass=float(alt_mass),
        n_events=float(setup.n_events),
        asimov_t=asimov_t,
        scalable=setup.rates_alt is None and setup.background is None,
        n_resamples=n_resamples,
        seed=seed,
    )


def identity_p_value(
    setup: DiscriminationSetup,
    alt_mass: float | None = None,
    *,
    n_resamples: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """p-value of "the shapes are identical" alone: :func:`shape_identity` without the band.

    The same test at half the cost (:func:`~darkmoments.stats.calibration.identity_p_value`).

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem.
    alt_mass : float, optional
        The alternative's Asimov best fit in GeV (default: :func:`alternative_point`).
    n_resamples : int
        Resamples B (>= 20).
    seed : int
        Seed.

    Returns
    -------
    (float, float)
        The p-value (k + 1) / (B + 1) and the mean noise-only t.

    Examples
    --------
    >>> from darkmoments.stats.toys import identity_p_value
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> p, noise = identity_p_value(DiscriminationSetup(km, md, 0.0915067, 50.0, refine=False),
    ...                             n_resamples=20, seed=1)
    >>> round(p, 3), bool(noise < 0.01)  # t_A = 3.77 is far above the noise
    (0.048, True)
    """
    from .calibration import identity_p_value as _identity_p

    if alt_mass is None:
        alt_mass = alternative_point(setup)[0]

    def asimov_t(g_true: ShapeGrid, g_alt: ShapeGrid) -> float:
        return alternative_point(replace(setup, true_grid=g_true, alt_grid=g_alt))[2]

    _, p, noise = _identity_p(
        setup.true_grid,
        setup.alt_grid,
        true_mass=float(setup.true_mass),
        alt_mass=float(alt_mass),
        asimov_t=asimov_t,
        n_resamples=n_resamples,
        seed=seed,
    )
    return p, float(noise.mean())


@dataclass(frozen=True)
class DiscriminationResult:
    """Outcome of the discrimination toys (statistic t = D_alt - D_true; see module doc).

    Attributes
    ----------
    true_model, alt_model : str
        Model ids.
    true_mass : float
        True A' mass in GeV.
    n_events : float
        Expected signal events of the true hypothesis.
    alt_mass, alt_norm : float
        Alternative point fitted to the true Asimov data (GeV, events).
    t_asimov : float
        Asimov statistic.
    z_asimov : float
        sqrt(t_A).
    n_3sigma, n_5sigma : float or None
        Events for Z_A = 3, 5 (free normalisation only; meaningless when
        ``template_limited``, which the CLI and the studies report).
    n_3sigma_band, n_5sigma_band : tuple of (float or None) or None
        Template-statistics band (16-84 %, basic bootstrap of the templates evaluated at
        N(3, 5 sigma) itself, :func:`events_with_bands`) of N(3, 5 sigma); an upper end None:
        not reached at the low edge of the t_A band.  None with tied rates.
    t_asimov_band : tuple of float
        (low, central, high) template-statistics band of t_A (noise bias removed).
    p_value : float
        Direct-toy p-value of the alternative for the median true experiment,
        (k + 1) / (n_toys + 1).
    z : float
        Its significance; a lower bound if ``z_is_bound``.
    z_is_bound : bool
        True if no alternative toy reached the median (k = 0: p = 1 / (n_toys + 1)).
    p_importance, p_importance_err : float
        Importance-sampling estimate of the same p-value and its standard error.
    z_importance, z_importance_err : float or None
        Its significance and error (None if no toy reached the median).
    ess_importance : float or None
        Effective number of direct toys of the importance-sampling estimate (None when its
        error is zero, e.g. no toy reached the median: not estimable).
    null : str
        ``"conditional"`` (alternative toys multinomial at n = round(N): free normalisation)
        or ``"poisson"`` (tied rates).
    n_toys : int
        Toys per hypothesis.
    median_t_true : float
        Median of t under the true hypothesis.
    t_template_floor : float
        Mean t_A from template MC noise alone (shapes identical, masses profiled).
    p_identity : float
        p-value of t_A under "shapes identical, differences are template noise"
        (:func:`shape_identity`, (k + 1) / (B + 1) over B bootstrap resamples).
    template_limited : bool
        ``p_identity`` >= 0.01: the templates do not resolve a shape difference (Z, N(3
        sigma), N(5 sigma) then reflect template noise, not physics).  Replaces the former
        uncalibrated rule t_A < 3 t_template_floor.
    identity_resamples : int
        B.
    t_true, t_alt : ndarray
        The toy statistics (true, alternative).
    t_prop, llr_alt, llr_prop : ndarray
        Proposal toys of the importance sampling and the log likelihood ratios
        ln P_alt - ln P_true of the alternative and proposal toys.

    Examples
    --------
    See :func:`run_discrimination`; the summary has the keys of ``darkmoments
    discriminate --json``:

    >>> from darkmoments.stats.toys import DiscriminationResult
    >>> [f for f in DiscriminationResult.__dataclass_fields__][:6]
    ['true_model', 'alt_model', 'true_mass', 'n_events', 'alt_mass', 'alt_norm']
    """

    true_model: str
    alt_model: str
    true_mass: float
    n_events: float
    alt_mass: float
    alt_norm: float
    t_asimov: float
    z_asimov: float
    n_3sigma: float | None
    n_5sigma: float | None
    n_3sigma_band: tuple[float | None, float | None] | None
    n_5sigma_band: tuple[float | None, float | None] | None
    t_asimov_band: tuple[float, float, float]
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
    t_template_floor: float
    p_identity: float
    template_limited: bool
    identity_resamples: int
    t_true: FloatArray = field(repr=False)
    t_alt: FloatArray = field(repr=False)
    t_prop: FloatArray = field(repr=False)
    llr_alt: FloatArray = field(repr=False)
    llr_prop: FloatArray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (without the toy arrays), in the keys of the command line.

        The attributes, except ``n_events`` -> ``n_signal`` and ``alt_norm`` ->
        ``alt_n_signal`` (expected signal events of the true and the alternative hypothesis).
        """
        d = asdict(self)
        for k in _CHUNK_KEYS:
            d.pop(k)
        renamed = {"n_events": "n_signal", "alt_norm": "alt_n_signal"}
        return {renamed.get(k, k): v for k, v in d.items()}


#: Template resamples of the N(Z sigma) bands (:func:`events_with_bands`) by default.
BAND_RESAMPLES: int = 50

#: Relative step of the local slope d ln t_A / d ln N (:func:`events_with_bands`).
_SLOPE_STEP: float = 1.05


#: Fewest toys per hypothesis :func:`run_discrimination` accepts: the direct p-value
#: resolution is 1 / (n_toys + 1), so 10 toys can at least bound Z >= 1.34.
MIN_TOYS: int = 10

#: Version of the toy statistic stored in checkpoints (bump when the chunk contents change).
#: 2: conditional alternative toys, importance-sampling proposal toys and likelihood ratios.
_TOY_FORMAT = "discrimination-toys-2"
#: Arrays of one chunk (and of a result), one value per toy.
_CHUNK_KEYS: tuple[str, ...] = ("t_true", "t_alt", "t_prop", "llr_alt", "llr_prop")


def _save_chunk(res: dict[str, FloatArray], path: Path) -> None:
    # a file handle, so that numpy does not append ".npz" to the temporary name
    with open(path, "wb") as fh:
        arrays: dict[str, Any] = {k: res[k] for k in _CHUNK_KEYS}
        np.savez(fh, **arrays)


def _load_chunk(path: Path) -> dict[str, FloatArray]:
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in _CHUNK_KEYS if k not in z.files]
        if missing:
            raise StaleCheckpointError(f"chunk {path} lacks {missing} (another toy format)")
        return {k: np.asarray(z[k], dtype=float) for k in _CHUNK_KEYS}


def run_identity(
    setup: DiscriminationSetup, n_toys: int, *, seed: int, chunk_size: int
) -> dict[str, Any]:
    """Every input that determines the toy chunks of a run (the checkpoint identity).

    The setup's fingerprint (both grids' masses and probabilities, tied rates, true mass,
    expected events, refinement, ``p_floor``), the toy counts and seed, and the numpy version
    (its Poisson stream is not guaranteed across releases).  A directory whose manifest holds
    another identity is refused on resume.

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem.
    n_toys : int
        Toys per hypothesis.
    seed : int
        Root seed.
    chunk_size : int
        Toys per chunk.

    Returns
    -------
    dict
        JSON-able.

    Examples
    --------
    >>> from darkmoments.stats.toys import run_identity
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> ident = run_identity(DiscriminationSetup(km, md, 0.1, 50.0), 1000, seed=1, chunk_size=100)
    >>> ident["format"], ident["observables"], ident["n_toys"], len(ident["setup"])
    ('discrimination-toys-2', ['E'], 1000, 64)
    """
    return {
        "format": _TOY_FORMAT,
        "setup": setup.fingerprint(),
        "true_model": setup.true_grid.model,
        "alt_model": setup.alt_grid.model,
        "observables": list(setup.true_grid.observables),
        "true_mass": float(setup.true_mass),
        "n_events": float(setup.n_events),
        "tied_rates": setup.rates_true is not None,
        "rate_sigma": setup.rate_sigma,
        **(
            {}
            if setup.background is None
            else {
                "background_events": float(setup.background.sum()),
                "background_sigma": setup.background_sigma,
            }
        ),
        "refine": bool(setup.refine),
        "p_floor": float(setup.p_floor),
        "n_toys": int(n_toys),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "numpy": np.__version__,
    }


def run_discrimination(
    setup: DiscriminationSetup,
    n_toys: int,
    *,
    seed: int = 0,
    chunk_size: int = 1000,
    workers: int = 1,
    scheduler: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = False,
    identity_resamples: int = 200,
    band_resamples: int = BAND_RESAMPLES,
) -> DiscriminationResult:
    """Run discrimination toys (see module docstring).

    Parameters
    ----------
    setup : DiscriminationSetup
        True and alternative hypotheses.
    n_toys : int
        Toys per hypothesis (>= :data:`MIN_TOYS`).
    seed : int
        Root seed (an integer >= 0, required explicitly: ``None`` is refused); chunk seeds are
        ``SeedSequence(seed).spawn(n_chunks)``.
    chunk_size : int
        Toys per chunk (>= 1); part of the identity of a run (a resumed run must use the
        same value).
    workers : int
        Local processes (1 = in this process).
    scheduler : str or distributed.Client, optional
        Dask scheduler; overrides ``workers``.
    out_dir : path, optional
        Checkpoint directory for streamed chunk results (:class:`darkmoments.checkpoint.
        Checkpoint`: ``manifest.json`` with the identity of the run, :func:`run_identity`, and
        the SHA-256 of every finished ``chunk_XXXXX.npz``).  Its parent directory must exist.
    resume : bool
        Continue a run in ``out_dir``: only chunks recorded in its manifest, with matching
        checksums, are reused; another identity, modified chunks or chunk files without a
        manifest are refused (:class:`~darkmoments.errors.StaleCheckpointError`).
    progress : bool
        Show a tqdm progress bar.
    identity_resamples : int
        Template resamples B (>= 20) of the shape-identity test and the t_A band
        (:func:`shape_identity`, seeded by ``seed``; about 15 ms each on the shipped
        (E, p_T) grids); not part of the checkpoint identity (no toy depends on it).
    band_resamples : int
        Template resamples (>= 10) of the N(3, 5 sigma) bands (:func:`events_with_bands`,
        free normalisation only; seeded by ``seed``).

    Returns
    -------
    DiscriminationResult

    Raises
    ------
    InputError, InputTypeError
        ``n_toys`` below :data:`MIN_TOYS`, a non-integer or negative ``seed`` (or ``None``),
        non-positive ``chunk_size`` / ``workers``, ``identity_resamples`` < 20.
    StaleCheckpointError
        ``out_dir`` holds another run, chunks without a manifest, or modified chunks.
    OutputPathError
        The parent of ``out_dir`` does not exist.
    NonFiniteResultError
        The toys cannot estimate a significance: every alternative toy has t at or above the
        median true t (p = 1, e.g. so few signal events that the toys are mostly empty).

    Examples
    --------
    50 km events at 0.0915 GeV against md in the recoil energy (grid nodes only, 100
    toys: well under a second).  Asimov: t_A = 3.77, Z_A = 1.94, 120 events for 3 sigma;
    the toys: Z = 1.6 directly (p = 5/101) and 1.87 +- 0.07 by importance sampling.  The
    templates resolve the shapes only at p_identity = 1/21, the resolution of 20
    resamples, so ``template_limited`` (use the defaults, 200 resamples, for real runs):

    >>> from darkmoments.stats.toys import run_discrimination
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.0915067, 50.0, refine=False)
    >>> res = run_discrimination(setup, 100, seed=1, identity_resamples=20, band_resamples=10)
    >>> round(res.t_asimov, 2), round(res.z_asimov, 2), round(res.n_3sigma), res.null
    (3.77, 1.94, 120, 'conditional')
    >>> bool(1.0 < res.z < 2.5), bool(1.5 < res.z_importance < 2.3), res.z_is_bound
    (True, True, False)
    >>> round(res.p_identity, 3), res.template_limited, res.t_true.size
    (0.048, True, 100)
    """
    n_toys, chunk_size, seed = _check_run_args(n_toys, chunk_size, workers, seed)
    identity_resamples = check_int("identity_resamples", identity_resamples, lo=20)
    band_resamples = check_int("band_resamples", band_resamples, lo=10)
    m_alt, n_alt, t_a = _checked_alternative_point(setup)
    toys = _run_toys(
        setup,
        (m_alt, n_alt),
        n_toys,
        seed=seed,
        chunk_size=chunk_size,
        workers=workers,
        scheduler=scheduler,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
    )
    identity = shape_identity(setup, m_alt, n_resamples=identity_resamples, seed=seed)
    events: tuple[EventsForSignificance, ...] = ()
    if setup.rates_alt is None and t_a > 0:
        events = events_with_bands(setup, alt_mass=m_alt, n_resamples=band_resamples, seed=seed)
    return _result(setup, toys, (m_alt, n_alt, t_a), identity, events)


def _check_run_args(n_toys: Any, chunk_size: Any, workers: Any, seed: Any) -> tuple[int, int, int]:
    """Validated (n_toys, chunk_size, seed) of :func:`run_discrimination`."""
    n_toys = check_int("n_toys", n_toys, lo=MIN_TOYS)
    chunk_size = check_int("chunk_size", chunk_size, lo=1)
    check_int("workers", workers, lo=1)
    if seed is None or isinstance(seed, np.random.Generator):
        raise InputTypeError(
            f"seed must be an integer >= 0 (toys are reproducible only from an explicit seed), "
            f"got {seed!r}"
        )
    return n_toys, chunk_size, check_int("seed", seed, lo=0)


def _checked_alternative_point(setup: DiscriminationSetup) -> tuple[float, float, float]:
    """:func:`alternative_point`, refusing a non-finite Asimov statistic."""
    m_alt, n_alt, t_a = alternative_point(setup)
    check_finite_result(
        "Asimov discrimination statistic t_A",
        t_a,
        hint=f"{setup.true_grid.model} vs {setup.alt_grid.model} at N = {setup.n_events:g}",
    )
    return m_alt, n_alt, t_a


def _run_toys(
    setup: DiscriminationSetup,
    alt: tuple[float, float],
    n_toys: int,
    *,
    seed: int,
    chunk_size: int,
    workers: int,
    scheduler: Any,
    out_dir: str | os.PathLike[str] | None,
    resume: bool,
    progress: bool,
) -> dict[str, FloatArray]:
    """The toy arrays (:data:`_CHUNK_KEYS`) of every chunk, through the checkpoint if asked.

    ``alt`` is the alternative point (mass in GeV, expected events) the alternative toys are
    drawn from.  Chunk ``i`` has ``min(chunk_size, n_toys - i chunk_size)`` toys and the seed
    ``SeedSequence(seed).spawn(n_chunks)[i]``.
    """
    from ..checkpoint import Checkpoint, run_checkpointed

    n_chunks = math.ceil(n_toys / chunk_size)
    seqs = np.random.SeedSequence(seed).spawn(n_chunks)
    sizes = [min(chunk_size, n_toys - i * chunk_size) for i in range(n_chunks)]
    cp = None
    if out_dir is not None:
        cp = Checkpoint(
            out_dir,
            run_identity(setup, n_toys, seed=seed, chunk_size=chunk_size),
            resume=resume,
            what="discrimination toy run",
            suffix=".npz",
        )
    keys = [f"{i:05d}" for i in range(n_chunks)]
    results = run_checkpointed(
        _run_chunk,
        [(setup, sizes[i], seqs[i], alt[0], alt[1]) for i in range(n_chunks)],
        keys=keys,
        checkpoint=cp,
        save=_save_chunk,
        load=_load_chunk,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        desc="discrimination toys",
        unit="toy",
        weights=sizes,
    )
    for key, size, res in zip(keys, sizes, results, strict=True):
        for k in _CHUNK_KEYS:
            if res[k].shape != (size,):
                raise StaleCheckpointError(
                    f"chunk {key} holds {res[k].shape} values of {k}, expected {size}"
                )
    return {k: np.concatenate([r[k] for r in results]) for k in _CHUNK_KEYS}


def _scaled(setup: DiscriminationSetup, k: float) -> DiscriminationSetup:
    """``setup`` with both hypotheses' rates (and the true events) multiplied by ``k``."""
    bkg = None if setup.background is None else setup.background * k  # the luminosity
    if setup.rates_true is None or setup.rates_alt is None:
        return replace(setup, n_events=setup.n_events * k, background=bkg)
    return replace(
        setup,
        n_events=setup.n_events * k,
        rates_true=setup.rates_true * k,
        rates_alt=setup.rates_alt * k,
        background=bkg,
    )


def events_for_significance(setup: DiscriminationSetup, z: float) -> float | None:
    """True expected events for an Asimov significance Z_A = sqrt(t_A) = ``z``.

    Both hypotheses' rates are scaled by one factor k (the luminosity: more electrons on
    target), the couplings and systematics kept; the result is k N.  With the plain Poisson
    deviance and a free normalisation t_A is proportional to k (N_Z = Z^2 N / t_A); with tied
    rates and a log-normal nuisance, t_A(k) = min [k D + (ln theta)^2 / s^2] grows less than
    linearly, and with template MC uncertainty (Barlow-Beeston) t_A saturates at large k.  So
    k is found by Brent's method in ln k (to 1e-9), after bracketing from the linear guess
    Z^2 / t_A(1) by factors of 4 (the search shared with
    :func:`~darkmoments.stats.combined.combined_events_for_significance`).

    Parameters
    ----------
    setup : DiscriminationSetup
        Free or tied normalisation.
    z : float
        Significance in sigma (> 0).

    Returns
    -------
    float or None
        Events (the true hypothesis' expected signal).  None if t_A = 0 at the setup's
        events, or if no scale up to 4^20 reaches Z (t_A saturates: the template statistics
        or the systematics bound the separation).

    Examples
    --------
    km against md at 0.1 GeV in the recoil energy: t_A = 3.66 at 50 events, so with the
    normalisation free 9 x 50 / 3.66 = 123 events for 3 sigma and 343 for 5 sigma:

    >>> from darkmoments.stats.toys import events_for_significance
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.1, 50.0)
    >>> round(events_for_significance(setup, 3.0)), round(events_for_significance(setup, 5.0))
    (123, 343)
    """
    z = check_real("z", z, lo=0.0, lo_open=True)
    t1 = alternative_point(setup)[2]
    k = luminosity_scale(lambda k: alternative_point(_scaled(setup, k))[2], z * z, t1)
    return None if k is None else setup.n_events * k


@dataclass(frozen=True)
class EventsForSignificance:
    """Expected true events for an Asimov significance Z, with its template-statistics band.

    Attributes
    ----------
    z : float
        Significance in sigma.
    n : float or None
        Events (:func:`events_for_significance`; None: not reached).
    band : tuple of (float or None) or None
        (low, high) 16-84 % band of ``n`` from the templates' MC statistics (see
        :func:`events_with_bands`); high None: the low end of the t band is <= 0 (Z not
        reached there); None when ``n`` is None.
    t_band : tuple of float or None
        (low, high) basic-bootstrap band of t_A at ``n`` events (t_A = z^2 there).
    slope : float or None
        gamma = d ln t_A / d ln N at ``n`` (1 for the plain Poisson deviance with a free
        normalisation, below 1 with Barlow-Beeston or tied rates).

    Examples
    --------
    See :func:`events_with_bands`:

    >>> from darkmoments.stats.toys import EventsForSignificance
    >>> EventsForSignificance(5.0, 333.0, (332.8, 336.6), (24.7, 25.0), 1.0).n
    333.0
    """

    z: float
    n: float | None
    band: tuple[float | None, float | None] | None
    t_band: tuple[float, float] | None
    slope: float | None


def events_with_bands(
    setup: DiscriminationSetup,
    zs: tuple[float, ...] = (3.0, 5.0),
    *,
    alt_mass: float | None = None,
    n_resamples: int = BAND_RESAMPLES,
    seed: int = 0,
) -> tuple[EventsForSignificance, ...]:
    """N(Z sigma) for each Z with a template-statistics band evaluated at N(Z sigma) itself.

    For each Z: N_Z from :func:`events_for_significance` (both hypotheses' rates scaled by
    one factor, so free and tied normalisations alike).  The templates near the true mass
    and the alternative's best fit are redrawn from themselves ``n_resamples`` times
    (:func:`~darkmoments.stats.calibration.bootstrap_statistics`, one set of resampled pairs
    for every Z) and t_A* recomputed at N_Z; the basic-bootstrap band of t_A there is
    [2 Z^2 - q84(t*), 2 Z^2 - q16(t*)] (template noise biases t_A upwards; the basic interval
    removes that to first order).  With the local slope gamma = d ln t_A / d ln N at N_Z
    (central templates, N_Z x 1.05^{+-1}) the band of N is N_Z (Z^2 / t_hi)^{1/gamma} to
    N_Z (Z^2 / t_lo)^{1/gamma}.  Because of the bias correction the band can lie above N_Z
    itself (then the shipped templates' noise makes N_Z optimistic).

    Parameters
    ----------
    setup : DiscriminationSetup
        Free or tied normalisation.
    zs : tuple of float
        Significances (> 0).
    alt_mass : float, optional
        The alternative's Asimov best fit in GeV (default :func:`alternative_point`).
    n_resamples : int
        B >= 10 template resamples.
    seed : int
        Seed of the resampling (>= 0).

    Returns
    -------
    tuple of EventsForSignificance
        One per Z, in the order of ``zs``.

    Examples
    --------
    N(5 sigma) of km against md at 0.0915 GeV, 333 events, with its template-statistics
    band from 10 resamples (about 1 % wide: 1e6 MC events per mass):

    >>> from darkmoments.stats.toys import events_with_bands
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> (e,) = events_with_bands(DiscriminationSetup(km, md, 0.0915067, 50.0, refine=False),
    ...                          (5.0,), n_resamples=10, seed=1)
    >>> e.z, round(e.n), bool(320 < e.band[0] < e.band[1] < 345), round(e.slope, 2)
    (5.0, 333, True, 1.0)
    """
    from .calibration import bootstrap_statistics

    b = check_int("n_resamples", n_resamples, lo=10)
    zs = tuple(check_real("z", z, lo=0.0, lo_open=True) for z in zs)
    if alt_mass is None:
        alt_mass = alternative_point(setup)[0]
    ns = [events_for_significance(setup, z) for z in zs]
    out: dict[int, EventsForSignificance] = {
        k: EventsForSignificance(z, None, None, None, None)
        for k, (z, n) in enumerate(zip(zs, ns, strict=True))
        if n is None
    }
    live = [(k, n, _scaled(setup, n / setup.n_events)) for k, n in enumerate(ns) if n is not None]
    if live:

        def t_at(g_t: ShapeGrid, g_a: ShapeGrid) -> FloatArray:
            return np.array(
                [
                    alternative_point(replace(sc, true_grid=g_t, alt_grid=g_a))[2]
                    for _, _, sc in live
                ]
            )

        masses = (float(setup.true_mass), float(alt_mass))
        boot = bootstrap_statistics(
            setup.true_grid, setup.alt_grid, masses, t_at, n_resamples=b, seed=seed
        )
        for col, (k, n, _) in enumerate(live):
            out[k] = _events_band(setup, zs[k], n, boot[:, col])
    return tuple(out[k] for k in range(len(zs)))


def _events_band(
    setup: DiscriminationSetup, z: float, n: float, t_boot: FloatArray
) -> EventsForSignificance:
    """The band of N_Z = ``n`` from bootstrap t* at N_Z (:func:`events_with_bands`)."""
    z2 = z * z
    q16, q84 = np.quantile(t_boot, [0.16, 0.84])
    t_lo, t_hi = 2.0 * z2 - float(q84), 2.0 * z2 - float(q16)
    up = alternative_point(_scaled(setup, n * _SLOPE_STEP / setup.n_events))[2]
    dn = alternative_point(_scaled(setup, n / _SLOPE_STEP / setup.n_events))[2]
    gamma = math.log(up / dn) / (2.0 * math.log(_SLOPE_STEP)) if up > 0 and dn > 0 else 1.0
    gamma = max(gamma, 1e-3)
    band = (
        n * (z2 / t_hi) ** (1.0 / gamma) if t_hi > 0 else None,
        n * (z2 / t_lo) ** (1.0 / gamma) if t_lo > 0 else None,
    )
    return EventsForSignificance(z, n, band, (t_lo, t_hi), gamma)


def _result(
    setup: DiscriminationSetup,
    toys: dict[str, FloatArray],
    asimov_point: tuple[float, float, float],
    identity: ShapeIdentity,
    events: tuple[EventsForSignificance, ...] = (),
) -> DiscriminationResult:
    """p-values, significances and event estimates of finished toys (see the module doc).

    ``asimov_point`` is (alternative mass in GeV, its events, t_A) from
    :func:`alternative_point`; ``identity`` the shape-identity test.
    """
    m_alt, n_alt, t_a = asimov_point
    t_true, t_alt = toys["t_true"], toys["t_alt"]
    med = float(np.median(t_true))
    k = int(np.count_nonzero(t_alt >= med))
    if k == t_alt.size:
        raise NonFiniteResultError(
            f"{setup.true_grid.model} vs {setup.alt_grid.model}: every one of the {t_alt.size} "
            f"alternative toys has t >= the median true t = {med:.3g} (p = 1, Z = -inf): the "
            f"toys cannot tell the hypotheses apart at N = {setup.n_events:g} expected events "
            "(increase the signal events)"
        )
    p = empirical_p_value(k, t_alt.size)
    z = float(p_to_z(p))
    imp = mixture_tail_probability(t_alt, toys["llr_alt"], toys["t_prop"], toys["llr_prop"], med)
    n3, n5 = (
        events if events else (EventsForSignificance(z, None, None, None, None) for z in (3, 5))
    )
    for name, v in (
        ("toy significance Z", z),
        ("median true-toy statistic", med),
        ("template-statistics floor", identity.t_noise_mean),
        ("alternative best-fit mass", m_alt),
        ("alternative best-fit events", n_alt),
        ("importance-sampling p-value", imp.p),
    ):
        check_finite_result(name, v)
    return DiscriminationResult(
        true_model=setup.true_grid.model,
        alt_model=setup.alt_grid.model,
        true_mass=float(setup.true_mass),
        n_events=float(setup.n_events),
        alt_mass=m_alt,
        alt_norm=n_alt,
        t_asimov=t_a,
        z_asimov=math.sqrt(max(t_a, 0.0)),
        n_3sigma=n3.n,
        n_5sigma=n5.n,
        n_3sigma_band=n3.band,
        n_5sigma_band=n5.band,
        t_asimov_band=identity.t_band,
        p_value=p,
        z=z,
        z_is_bound=k == 0,
        **_importance_fields(imp),
        null="conditional" if conditional_null(setup) else "poisson",
        n_toys=int(t_true.size),
        median_t_true=med,
        t_template_floor=identity.t_noise_mean,
        p_identity=identity.p_value,
        template_limited=not identity.resolved,
        identity_resamples=identity.n_resamples,
        **dict[str, Any]({key: toys[key] for key in _CHUNK_KEYS}),  # not typed per keyword
    )


def _importance_fields(imp: ImportanceEstimate) -> dict[str, Any]:
    """The ``*_importance`` fields of :class:`DiscriminationResult`."""
    return {
        "p_importance": imp.p,
        "p_importance_err": imp.p_err,
        "z_importance": imp.z,
        "z_importance_err": imp.z_err,
        "ess_importance": imp.ess,
    }
