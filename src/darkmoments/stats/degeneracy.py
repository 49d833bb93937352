"""Mass-model degeneracy surfaces (paper section 4.4, figure 6, made quantitative).

For each true mass m_i, Asimov data of the true model with N events are fitted by the
alternative model at every fit mass m_j (normalisation profiled):

    q_ij = D_alt(m_j | Asimov_true(m_i)) - min_m D_true(m | Asimov_true(m_i)),

the -2 Delta ln L of the wrong model at m_j relative to the best fit of the right one (which
is 0 for Asimov data).  q_ij < 1 (4, 9) marks where the wrong model fits the data as well as
the right one within 1 (2, 3) sigma for one parameter.  The likelihood is the package's one
(:mod:`~darkmoments.stats.fast`: Barlow-Beeston for the templates' MC statistics, spline
interpolation in ln m); with free normalisation q is proportional to N up to the MC term
(exactly so with ``mc_stat=False``).

:func:`compare_fits` answers the same question at one true mass with the continuous iminuit
fits of :func:`~darkmoments.stats.fits.fit_mass` (both models fitted to the true Asimov data,
with the interval of the alternative's mass): the numbers of ``darkmoments degeneracy``.

:func:`degeneracy_noise` accounts for the templates' MC noise in the best-fit q: both grids
are redrawn from themselves (ordinary bootstrap of the MC samples), the best q recomputed,
and the basic bootstrap gives the noise bias (template noise raises q), the bias-corrected q
and its 16-84 % band.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..validation import check_int, check_real
from .fast import deviance_grid, profile_mass
from .fits import MassFit, asimov, fit_mass
from .shapes import ShapeGrid

__all__ = [
    "DegeneracyNoise",
    "DegeneracySurface",
    "FitComparison",
    "compare_fits",
    "degeneracy_noise",
    "degeneracy_surface",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DegeneracySurface:
    """-2 Delta ln L of the alternative model versus (true mass, fitted mass).

    Attributes
    ----------
    true_model, alt_model : str
        Model ids.
    observables : tuple of str
        Observables used.
    n_events : float
        Expected signal events of the Asimov data.
    true_masses : ndarray, shape (n_true,)
        True A' masses in GeV.
    fit_masses : ndarray, shape (n_fit,)
        Alternative-model masses in GeV.
    q : ndarray, shape (n_true, n_fit)
        -2 Delta ln L.
    best_alt_mass : ndarray, shape (n_true,)
        Best-fit alternative mass (continuous) per true mass, GeV.
    best_alt_q : ndarray, shape (n_true,)
        q at the best-fit alternative mass.

    Examples
    --------
    >>> from darkmoments.stats import degeneracy_surface, load_grid
    >>> surf = degeneracy_surface(load_grid("km", observables="pt"),
    ...                           load_grid("md", observables="pt"), 100.0,
    ...                           true_masses=[1.0], points=20)
    >>> row = surf.summary()["rows"][0]
    >>> row["true_mass"], round(row["best_alt_mass"], 3), round(row["q"], 2)
    (1.0, 0.822, 1.67)
    """

    true_model: str
    alt_model: str
    observables: tuple[str, ...]
    n_events: float
    true_masses: FloatArray
    fit_masses: FloatArray
    q: FloatArray
    best_alt_mass: FloatArray
    best_alt_q: FloatArray

    def summary(self) -> dict[str, Any]:
        """JSON-able per-true-mass summary (``n_signal``: the expected signal events)."""
        return {
            "true_model": self.true_model,
            "alt_model": self.alt_model,
            "observables": list(self.observables),
            "n_signal": self.n_events,
            "rows": [
                {"true_mass": float(m), "best_alt_mass": float(a), "q": float(q)}
                for m, a, q in zip(
                    self.true_masses, self.best_alt_mass, self.best_alt_q, strict=True
                )
            ],
        }


def degeneracy_surface(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    n_events: float,
    *,
    true_masses: FloatArray | None = None,
    fit_masses: FloatArray | None = None,
    points: int = 60,
    mc_stat: bool = True,
) -> DegeneracySurface:
    """Compute the degeneracy surface of ``alt_grid`` against data from ``true_grid``.

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes of the true and alternative model (same observables and binning).
    n_events : float
        Expected signal events (> 0).
    true_masses, fit_masses : array, optional
        Masses in GeV (default: ``points`` log-spaced masses over each grid's range).
    points : int
        Default number of masses per axis.
    mc_stat : bool
        Template MC uncertainty in the likelihood (Barlow-Beeston, default); False gives the
        plain Poisson deviance, in which q is exactly proportional to ``n_events``.

    Returns
    -------
    DegeneracySurface

    Examples
    --------
    The paper's figure 6: with 100 events, km at 1 GeV and md at 0.82 GeV have nearly the
    same recoil p_T spectrum (q = 1.7 < 4, within 2 sigma); the energy spectrum and both
    observables together tell them apart.  At 0.1 GeV the p_T-only fit of md runs to a far
    lighter A' (0.008 GeV) and still misses (q = 3.7):

    >>> from darkmoments.stats import degeneracy_surface, load_grid
    >>> km, md = load_grid("km", observables="pt"), load_grid("md", observables="pt")
    >>> surf = degeneracy_surface(km, md, 100.0, true_masses=[0.1, 1.0], points=20)
    >>> surf.q.shape, surf.best_alt_mass.round(3), surf.best_alt_q.round(2)
    ((2, 20), array([0.008, 0.822]), array([3.75, 1.67]))
    >>> both = degeneracy_surface(load_grid("km"), load_grid("md"), 100.0,
    ...                           true_masses=[0.1, 1.0], points=20)
    >>> both.best_alt_mass.round(3), both.best_alt_q.round(1)  # (E, p_T)
    (array([0.083, 0.918]), array([39.4,  7.5]))
    """
    n_events = check_real("number of events", n_events, lo=0.0, lo_open=True, unit="events")
    if true_grid.n_bins != alt_grid.n_bins:
        raise InputError("true and alternative shapes must share observables and binning")
    points = check_int("points", points, lo=2)
    tm = (
        np.geomspace(*true_grid.mass_range, int(points))
        if true_masses is None
        else np.asarray(true_masses, dtype=float)
    )
    fm = (
        np.geomspace(*alt_grid.mass_range, int(points))
        if fit_masses is None
        else np.asarray(fit_masses, dtype=float)
    )
    data = np.array([n_events * true_grid.shape(m) / true_grid.shape(m).sum() for m in tm])
    alt_probs = np.array([alt_grid.shape(m) for m in fm])
    alt_neff = np.array([alt_grid.n_eff(m) for m in fm])
    d_alt = deviance_grid(data, alt_probs, n_eff=alt_neff, mc_stat=mc_stat)
    d_true = profile_mass(data, true_grid, mc_stat=mc_stat).deviance
    q = d_alt - d_true[:, None]
    best = profile_mass(data, alt_grid, mc_stat=mc_stat)
    return DegeneracySurface(
        true_model=true_grid.model,
        alt_model=alt_grid.model,
        observables=true_grid.observables,
        n_events=float(n_events),
        true_masses=tm,
        fit_masses=fm,
        q=q,
        best_alt_mass=best.mass,
        best_alt_q=best.deviance - d_true,
    )


@dataclass(frozen=True)
class FitComparison:
    """Both models fitted to the Asimov data of the true one (:func:`compare_fits`).

    Attributes
    ----------
    true_model, alt_model : str
        Model ids.
    observables : tuple of str
        Observables of the fits.
    true_mass : float
        True A' mass in GeV.
    n_events : float
        Expected signal events of the Asimov data.
    alt : MassFit
        Fit of the alternative model (mass, interval in GeV, events).
    true : MassFit
        Fit of the true model (returns the true mass up to the fit's tolerance).

    Examples
    --------
    >>> from darkmoments.stats import compare_fits, load_grid
    >>> c = compare_fits(load_grid("km", observables="pt"), load_grid("md", observables="pt"),
    ...                  1.0, 100.0)
    >>> sorted(c.summary())  # doctest: +NORMALIZE_WHITESPACE
    ['alt_mass', 'alt_mass_high', 'alt_mass_low', 'alt_n_signal', 'delta_2lnL', 'observables',
     'true_fit_mass']
    >>> c.summary()["observables"], round(c.delta_2lnl, 2)
    ('pt', 1.67)
    """

    true_model: str
    alt_model: str
    observables: tuple[str, ...]
    true_mass: float
    n_events: float
    alt: MassFit
    true: MassFit

    @property
    def delta_2lnl(self) -> float:
        """-2 Delta ln L of the alternative's best fit against the true model's."""
        return self.alt.deviance - self.true.deviance

    def summary(self) -> dict[str, Any]:
        """JSON-able record, one ``fits`` entry of ``darkmoments degeneracy --json``.

        Keys: ``observables`` (``"E"``, ``"pt"`` or ``"E,pt"``), ``alt_mass``,
        ``alt_mass_low``, ``alt_mass_high`` (GeV), ``alt_n_signal`` (events),
        ``delta_2lnL`` and ``true_fit_mass`` (GeV).
        """
        return {
            "observables": ",".join(self.observables),
            "alt_mass": self.alt.mass,
            "alt_mass_low": self.alt.mass_low,
            "alt_mass_high": self.alt.mass_high,
            "alt_n_signal": self.alt.norm,
            "delta_2lnL": self.delta_2lnl,
            "true_fit_mass": self.true.mass,
        }


def compare_fits(
    true_grid: ShapeGrid, alt_grid: ShapeGrid, true_mass: float, n_events: float
) -> FitComparison:
    """Fit both models to the Asimov data of the true model at one mass (iminuit).

    The Asimov data are ``n_events`` times the true shape at ``true_mass``
    (:func:`~darkmoments.stats.fits.asimov`); both fits profile the normalisation and accept
    events in bins the other model's finite-statistics template never populates
    (``strict=False``: the probabilities are floored).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes of the true and the alternative model (same observables and binning).
    true_mass : float
        True A' mass in GeV (inside the true grid).
    n_events : float
        Expected signal events (> 0).

    Returns
    -------
    FitComparison

    Raises
    ------
    InputError
        Mass outside the true grid, non-positive events, different binnings.

    Examples
    --------
    100 km events at 1 GeV in p_T: md fits best at 0.82 GeV (0.75-0.89 GeV at 68 % CL),
    only 1.7 worse in -2 ln L; in the recoil energy the mimic is at 0.72 GeV and 3.9 worse:

    >>> from darkmoments.stats import compare_fits, load_grid
    >>> c = compare_fits(load_grid("km", observables="pt"), load_grid("md", observables="pt"),
    ...                  1.0, 100.0)
    >>> round(c.alt.mass, 2), round(c.alt.mass_low, 2), round(c.alt.mass_high, 2)
    (0.82, 0.75, 0.89)
    >>> round(c.delta_2lnl, 2), round(c.true.mass, 4)
    (1.67, 1.0)
    >>> c = compare_fits(load_grid("km", observables="E"), load_grid("md", observables="E"),
    ...                  1.0, 100.0)
    >>> round(c.alt.mass, 2), round(c.delta_2lnl, 1)
    (0.72, 3.9)
    """
    if true_grid.n_bins != alt_grid.n_bins:
        raise InputError("true and alternative shapes must share observables and binning")
    true_grid.check_mass(true_mass)
    data = asimov(true_grid, true_mass, n_events)
    return FitComparison(
        true_model=true_grid.model,
        alt_model=alt_grid.model,
        observables=tuple(true_grid.observables),
        true_mass=float(true_mass),
        n_events=float(n_events),
        alt=fit_mass(data, alt_grid, strict=False),
        true=fit_mass(data, true_grid, strict=False),
    )


@dataclass(frozen=True)
class DegeneracyNoise:
    """Template MC noise of the best-fit degeneracy q (:func:`degeneracy_noise`).

    Attributes
    ----------
    true_masses : ndarray, shape (n_true,)
        True A' masses in GeV.
    best_alt_q : ndarray, shape (n_true,)
        q at the alternative's best-fit mass with the shipped templates.
    bias : ndarray, shape (n_true,)
        mean(q*) - q: how much template noise raises q (the noise floor of q).
    corrected : ndarray, shape (n_true,)
        2 q - mean(q*): the bias-corrected q (basic bootstrap).
    band_lo, band_hi : ndarray, shape (n_true,)
        2 q - q84(q*), 2 q - q16(q*): its 16-84 % template-statistics band.
    n_resamples : int
        B.
    q_boot : ndarray, shape (B, n_true)
        The resampled q*.

    Examples
    --------
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.degeneracy import degeneracy_noise
    >>> noise = degeneracy_noise(load_grid("km", observables="pt"),
    ...                          load_grid("md", observables="pt"), 100.0,
    ...                          true_masses=[1.0], n_resamples=5, seed=1)
    >>> sorted(noise.summary()["rows"][0]), noise.q_boot.shape
    (['band', 'bias', 'q', 'q_corrected', 'true_mass'], (5, 1))
    """

    true_masses: FloatArray
    best_alt_q: FloatArray
    bias: FloatArray
    corrected: FloatArray
    band_lo: FloatArray
    band_hi: FloatArray
    n_resamples: int
    q_boot: FloatArray

    def summary(self) -> dict[str, Any]:
        """JSON-able rows (true mass in GeV, q, bias, corrected q and its band)."""
        return {
            "n_resamples": self.n_resamples,
            "rows": [
                {
                    "true_mass": float(m),
                    "q": float(q),
                    "bias": float(b),
                    "q_corrected": float(c),
                    "band": [float(lo), float(hi)],
                }
                for m, q, b, c, lo, hi in zip(
                    self.true_masses,
                    self.best_alt_q,
                    self.bias,
                    self.corrected,
                    self.band_lo,
                    self.band_hi,
                    strict=True,
                )
            ],
        }


def _best_q(
    true_grid: ShapeGrid, alt_grid: ShapeGrid, n_events: float, tm: FloatArray, mc_stat: bool
) -> FloatArray:
    """min over the alternative's mass of q at each true mass (Asimov of ``true_grid``)."""
    data = np.array([n_events * true_grid.shape(m) / true_grid.shape(m).sum() for m in tm])
    d_true = profile_mass(data, true_grid, mc_stat=mc_stat).deviance
    return np.asarray(profile_mass(data, alt_grid, mc_stat=mc_stat).deviance - d_true)


def degeneracy_noise(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    n_events: float,
    *,
    true_masses: FloatArray,
    n_resamples: int = 20,
    seed: int = 0,
    mc_stat: bool = True,
) -> DegeneracyNoise:
    """The best-fit degeneracy q with its template-noise bias and band.

    Every node of both grids is redrawn from its own shape with its MC statistics
    (:func:`~darkmoments.stats.calibration.resample_grid`), the Asimov data of the redrawn
    true grid fitted by the redrawn alternative (mass profiled) and the true model, and the
    basic bootstrap applied to q* (:class:`DegeneracyNoise`).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes with MC variances (same observables and binning).
    n_events : float
        Expected signal events (> 0).
    true_masses : array
        True masses in GeV (inside the true grid).
    n_resamples : int
        B >= 2.
    seed : int
        Seed (>= 0).
    mc_stat : bool
        Barlow-Beeston likelihood (default) or the plain Poisson deviance.

    Returns
    -------
    DegeneracyNoise

    Examples
    --------
    The 1e6-event shipped templates hardly move q: 10 resamples of both grids shift the
    p_T-only q of km at 1 GeV against md (1.67 at 100 events) by less than 0.01, with a
    16-84 % band of +-0.02:

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.degeneracy import degeneracy_noise
    >>> noise = degeneracy_noise(load_grid("km", observables="pt"),
    ...                          load_grid("md", observables="pt"), 100.0,
    ...                          true_masses=[1.0], n_resamples=10, seed=1)
    >>> noise.best_alt_q.round(2), bool(abs(noise.bias[0]) < 0.01)
    (array([1.67]), True)
    >>> bool(noise.band_lo[0] < noise.corrected[0] < noise.band_hi[0])
    True
    >>> bool(noise.band_hi[0] - noise.band_lo[0] < 0.1)
    True
    """
    from .calibration import resample_grid

    n_events = check_real("number of events", n_events, lo=0.0, lo_open=True, unit="events")
    b = check_int("n_resamples", n_resamples, lo=2)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    if true_grid.n_bins != alt_grid.n_bins:
        raise InputError("true and alternative shapes must share observables and binning")
    tm = np.array([true_grid.check_mass(m) for m in np.atleast_1d(true_masses)])
    q0 = _best_q(true_grid, alt_grid, n_events, tm, mc_stat)
    it, ia = np.arange(true_grid.masses.size), np.arange(alt_grid.masses.size)
    boot = np.array(
        [
            _best_q(
                resample_grid(true_grid, rng, it),
                resample_grid(alt_grid, rng, ia),
                n_events,
                tm,
                mc_stat,
            )
            for _ in range(b)
        ]
    )
    q16, q84 = np.quantile(boot, [0.16, 0.84], axis=0)
    mean = boot.mean(axis=0)
    return DegeneracyNoise(
        true_masses=tm,
        best_alt_q=q0,
        bias=mean - q0,
        corrected=2.0 * q0 - mean,
        band_lo=2.0 * q0 - q84,
        band_hi=2.0 * q0 - q16,
        n_resamples=b,
        q_boot=boot,
    )
