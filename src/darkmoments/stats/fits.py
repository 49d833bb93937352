"""Maximum-likelihood mass fits with iminuit.

For binned data n_b (Asimov or toy) and a hypothesis model given as a
:class:`~darkmoments.stats.shapes.ShapeGrid` (shapes interpolated by the not-a-knot cubic
spline in ln m), fit the A' mass as a continuous parameter, with the normalisation free (a
second Minuit parameter, total expected events) or tied to the rate (``rate_coupling``:
N(m) = g^2 N_1(m)).  The objective is the package's likelihood (:mod:`darkmoments.stats.fast`):
the Barlow-Beeston deviance with the template's MC statistics (per-bin nuisances profiled in
closed form, here summed over *every* bin, an independent implementation of the fast path's
sparse sums), or the plain Poisson deviance with ``mc_stat=False``.  Minuit's ``errordef =
1`` and the interval is where the profiled deviance rises by ``delta`` (1 for 68.3% CL in one
parameter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from iminuit import Minuit
from numpy.typing import NDArray
from scipy.optimize import brentq

from ..errors import InputError
from ..models import check_coupling
from ..validation import check_real
from .fast import P_FLOOR, check_p_floor, check_rate_sigma, xlogx
from .shapes import ShapeGrid

__all__ = [
    "MassFit",
    "asimov",
    "check_data",
    "deviance",
    "fit_mass",
    "profile_deviance",
]

FloatArray = NDArray[np.float64]


def asimov(
    grid: ShapeGrid,
    mass: float,
    n_events: float,
    background: FloatArray | None = None,
    background_scale: float = 1.0,
) -> FloatArray:
    """Asimov data set: expected events per bin, ``n_events * p_b(mass)`` (+ background).

    Parameters
    ----------
    grid : ShapeGrid
        The true model's shapes.
    mass : float
        True A' mass in GeV (inside the grid range).
    n_events : float
        Expected total number of signal events (> 0).
    background : ndarray, shape (n_bins,), optional
        Expected background events per bin, added times ``background_scale`` (theta_b);
        None: signal only (the result is then exactly the signal expectation).
    background_scale : float
        theta_b (>= 0).

    Returns
    -------
    ndarray, shape (n_bins,)

    Examples
    --------
    50 km events at 0.1 GeV in the 40 x 48 (E, p_T) bins of the shipped Phase II grid:

    >>> import numpy as np
    >>> from darkmoments.stats import asimov, load_grid
    >>> grid = load_grid("km", "ldmx-phase2")
    >>> data = asimov(grid, 0.1, 50.0)
    >>> data.shape, round(float(data.sum()), 9), round(float(data.max()), 2)  # events
    ((1920,), 50.0, 2.35)
    >>> flat = np.full(grid.n_bins, 10.0 / grid.n_bins)  # plus 10 background events
    >>> round(float(asimov(grid, 0.1, 50.0, background=flat).sum()), 9)
    60.0
    """
    n_events = check_real("number of events", n_events, lo=0.0, lo_open=True, unit="events")
    p = grid.shape(mass)
    lam = float(n_events) * p / p.sum()
    if background is None:
        return lam
    b = np.asarray(background, dtype=float)
    if b.shape != lam.shape or not np.all(np.isfinite(b)) or np.any(b < 0):
        raise InputError(f"background must be finite, >= 0 and of shape {lam.shape}")
    scale = check_real("background_scale", background_scale, lo=0.0)
    return lam + scale * b


def check_data(counts: FloatArray, grid: ShapeGrid, *, strict: bool = True) -> FloatArray:
    """Validate observed counts against a hypothesis grid.

    With ``strict=False`` events in bins that the hypothesis never populates are accepted
    (finite in the Barlow-Beeston likelihood: an empty template bin means fewer than about one
    MC event there, see :mod:`darkmoments.stats.fast`): use this for Asimov data built from
    another model's finite-statistics template.

    Parameters
    ----------
    counts : ndarray, shape (n_bins,)
        Observed events per bin.
    grid : ShapeGrid
        The hypothesis.
    strict : bool
        Refuse events in bins the hypothesis never populates.

    Returns
    -------
    ndarray
        The counts as floats.

    Raises
    ------
    ValueError
        Wrong length, negative or non-finite counts, no events at all, or events in a bin
        where the hypothesis expects exactly zero at every mass (the likelihood would be
        zero: such data exclude the model outright and no fit is meaningful).

    Examples
    --------
    The Asimov data of km at 0.1 GeV put a few 1e-5 events in a bin that the md templates
    never populate; ``strict=False`` accepts them (the Barlow-Beeston likelihood is finite):

    >>> from darkmoments.stats import asimov, load_grid
    >>> from darkmoments.stats.fits import check_data
    >>> data = asimov(load_grid("km"), 0.1, 50.0)
    >>> md = load_grid("md")
    >>> try:
    ...     check_data(data, md)
    ... except ValueError as exc:
    ...     print(exc)
    bins [1914] have zero expected events for model md at all masses but non-zero observed
    counts [3.43...e-05]
    >>> check_data(data, md, strict=False).shape
    (1920,)
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim != 1 or c.size != grid.n_bins:
        raise InputError(f"data must be a 1D array of {grid.n_bins} bins, got shape {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InputError("data must be finite and >= 0 in every bin")
    if c.sum() <= 0:
        raise InputError("data contain no events; a mass fit needs at least one event")
    empty = np.all(grid.probs <= 0, axis=0) & (c > 0)
    if strict and np.any(empty):
        idx = np.flatnonzero(empty)
        raise InputError(
            f"bins {idx[:10].tolist()} have zero expected events for model {grid.model} at all "
            f"masses but non-zero observed counts {c[idx[:10]].tolist()}"
        )
    return c


def deviance(
    counts: FloatArray,
    probs: FloatArray,
    norm: float,
    *,
    n_eff: float | None = None,
    mc_stat: bool = True,
    p_floor: float | None = None,
    background: FloatArray | None = None,
) -> float:
    """Deviance of data at a fixed shape and normalisation (dimensionless), every bin summed.

    Barlow-Beeston (``mc_stat=True``; MC counts a = N p, w = 1/N, N = ``n_eff``):
    2 sum_b [xlogx(n) + xlogx(a) - xlogx(n + a) + (n + a) ln(1 + mu w) - n ln(mu w)],
    mu = ``norm``.  Plain Poisson (``mc_stat=False`` or N = inf):
    2 sum [nu - n + n ln(n / nu)], nu = mu max(p, p_floor) (``p_floor`` default
    :data:`~darkmoments.stats.fast.P_FLOOR`; ignored with Barlow-Beeston).

    ``background`` (expected events per bin, already times its normalisation theta_b): the
    expectation is mu w A_b + b_b; Barlow-Beeston profiles every A_b in closed form, the
    positive root of nu (1 + nu) A^2 - [nu (n + a) - (1 + nu) b] A - a b = 0 (nu = mu w),
    and D = 2 sum_b [lambda - n + n ln(n / lambda) + A - a + a ln(a / A)] with lambda =
    nu A + b (plain Poisson: A = a).  An independent, every-bin implementation of the fast
    path's background likelihood (:mod:`darkmoments.stats.fast`).

    Parameters
    ----------
    counts : ndarray, shape (n_bins,)
        Observed events per bin.
    probs : ndarray, shape (n_bins,)
        Bin probabilities of the hypothesis.
    norm : float
        mu, the expected signal events.
    n_eff : float, optional
        Effective MC events of the template (needed with ``mc_stat``).
    mc_stat : bool
        Barlow-Beeston (True) or plain Poisson.
    p_floor : float, optional
        Floor of the plain deviance.
    background : ndarray, shape (n_bins,), optional
        Expected background events per bin.

    Returns
    -------
    float

    Examples
    --------
    The Asimov data at their own shape: 0 at mu = 50 events, and at mu = 60 the deviance of
    a counting experiment, 2 [60 - 50 - 50 ln(60/50)] = 1.768 (the 1e6 MC events of the
    template change it by 1e-4):

    >>> from darkmoments.stats import asimov, load_grid
    >>> from darkmoments.stats.fits import deviance
    >>> grid = load_grid("km")
    >>> data, p = asimov(grid, 0.1, 50.0), grid.shape(0.1)
    >>> n_mc = grid.n_eff(0.1)  # 1e6 events
    >>> abs(deviance(data, p, 50.0, n_eff=n_mc)) < 1e-9
    True
    >>> round(deviance(data, p, 60.0, mc_stat=False), 4)
    1.7678
    >>> round(deviance(data, p, 60.0, n_eff=n_mc), 4)
    1.7677
    """
    floor = P_FLOOR if p_floor is None else check_p_floor(p_floor)
    c = np.asarray(counts, dtype=float)
    p = np.asarray(probs, dtype=float)
    if mc_stat:
        if n_eff is None:
            raise InputError("deviance needs n_eff (effective MC events) or mc_stat=False")
        if not (isinstance(n_eff, float | int) and n_eff == float("inf")):
            n_eff = check_real("n_eff", n_eff, lo=0.0, lo_open=True, unit="events")
    plain = not mc_stat or not np.isfinite(n_eff)  # type: ignore[arg-type]
    if background is not None:
        b = np.asarray(background, dtype=float)
        return _with_background(c, np.maximum(p, floor) if plain else p, norm, n_eff, plain, b)
    if plain:
        return _plain(c, np.maximum(p, floor), norm)
    return _bb(c, p, norm, float(n_eff))  # type: ignore[arg-type]


def _with_background(
    counts: FloatArray, probs: FloatArray, norm: float, n_eff: Any, plain: bool, b: FloatArray
) -> float:
    """Every-bin deviance with a background (see :func:`deviance`)."""
    from scipy.special import xlogy

    if plain:
        a = big_a = probs
        nu = float(norm)
    else:
        a = float(n_eff) * probs
        nu = float(norm) / float(n_eff)
        q = nu * (counts + a) - (1.0 + nu) * b
        root = np.sqrt(q * q + 4.0 * nu * (1.0 + nu) * a * b)
        with np.errstate(divide="ignore", invalid="ignore"):
            big_a = np.where(
                q >= 0,
                (q + root) / (2.0 * nu * (1.0 + nu)),
                np.where(root - q > 0, 2.0 * a * b / (root - q), 0.0),
            )
    lam = nu * big_a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        data = lam - counts + xlogy(counts, counts) - xlogy(counts, lam)
        mc = big_a - a + xlogy(a, a) - xlogy(a, big_a)
    return float(2.0 * np.sum(data + (0.0 if plain else mc)))


def _plain(counts: FloatArray, probs: FloatArray, norm: float) -> float:
    """Plain Poisson deviance for probabilities already floored (> 0)."""
    nu = float(norm) * np.asarray(probs, dtype=float)
    c = np.asarray(counts, dtype=float)
    return float(2.0 * np.sum(nu - c + xlogx(c) - c * np.log(nu)))


def _bb(counts: FloatArray, probs: FloatArray, norm: float, n_eff: float) -> float:
    """Barlow-Beeston deviance summed over every bin (see :func:`deviance`)."""
    a = n_eff * probs
    muw = float(norm) / n_eff
    terms = xlogx(counts) + xlogx(a) - xlogx(counts + a) + (counts + a) * np.log1p(muw)
    return float(2.0 * (np.sum(terms) - counts.sum() * np.log(muw)))


def _theta_profiled(
    counts: FloatArray,
    probs: FloatArray,
    rate: float,
    n_eff: float,
    mc_stat: bool,
    floor: float,
    rate_sigma: float | None,
) -> tuple[float, float]:
    """(deviance, mu) at the rate R, with mu = R theta profiled if ``rate_sigma`` is given."""

    def dev(mu: float) -> float:
        if not mc_stat or not np.isfinite(n_eff):
            return _plain(counts, np.maximum(probs, floor), mu)
        return _bb(counts, probs, mu, n_eff)

    if rate_sigma is None:
        return dev(rate), rate
    from scipy.optimize import minimize_scalar

    def obj(phi: float) -> float:
        return dev(rate * np.exp(phi)) + phi**2 / rate_sigma**2

    width = 10.0 * rate_sigma + 5.0
    res = minimize_scalar(obj, bounds=(-width, width), method="bounded", options={"xatol": 1e-12})
    return float(res.fun), float(rate * np.exp(res.x))


def profile_deviance(
    counts: FloatArray,
    grid: ShapeGrid,
    mass: float,
    *,
    rate_coupling: float | None = None,
    p_floor: float | None = None,
    mc_stat: bool = True,
    rate_sigma: float | None = None,
) -> float:
    """Deviance at fixed mass with the normalisation profiled (closed form) or tied.

    Parameters
    ----------
    counts : ndarray
        Observed events per bin.
    grid : ShapeGrid
        Hypothesis (shape, :meth:`~ShapeGrid.n_eff` and rate interpolated in ln m).
    mass : float
        A' mass in GeV.
    rate_coupling : float, optional
        If given, the normalisation is tied: N = rate_coupling^2 * grid.rate(mass).
    p_floor : float, optional
        Floor of the plain deviance (``mc_stat=False``); no effect with Barlow-Beeston.
    mc_stat : bool
        Barlow-Beeston (default) or plain Poisson.
    rate_sigma : float, optional
        Relative log-normal uncertainty of the tied normalisation (profiled numerically);
        only with ``rate_coupling``.

    Returns
    -------
    float

    Examples
    --------
    50 km events at 0.1 GeV: 0 at the true mass, 1.5 at 0.12 GeV; the best md point
    (0.083 GeV) stays 19.7 above, the separation of the two models:

    >>> from darkmoments.stats import asimov, load_grid
    >>> from darkmoments.stats.fits import profile_deviance
    >>> data = asimov(load_grid("km"), 0.1, 50.0)
    >>> round(profile_deviance(data, load_grid("km"), 0.12), 2)
    1.52
    >>> round(profile_deviance(data, load_grid("md"), 0.083), 1)
    19.7
    """
    floor = P_FLOOR if p_floor is None else check_p_floor(p_floor)
    rate_sigma = check_rate_sigma(rate_sigma)
    p = grid.shape(mass)
    n_eff = grid.n_eff(mass)
    c = np.asarray(counts, dtype=float)
    if rate_coupling is None:
        if rate_sigma is not None:
            raise InputError("rate_sigma needs a tied normalisation (rate_coupling)")
        pp = p if mc_stat and np.isfinite(n_eff) else np.maximum(p, floor)
        norm = c.sum() / pp.sum()
        if norm <= 0:
            return 0.0
        return deviance(c, p, norm, n_eff=n_eff, mc_stat=mc_stat, p_floor=floor)
    rate = rate_coupling**2 * grid.rate(mass)
    return _theta_profiled(c, p, rate, n_eff, mc_stat, floor, rate_sigma)[0]


@dataclass(frozen=True)
class MassFit:
    """Result of a mass fit.

    Attributes
    ----------
    model : str
        Hypothesis model id.
    mass : float
        Best-fit A' mass in GeV.
    mass_low, mass_high : float
        Interval where the profiled deviance is within ``delta`` of its minimum (GeV);
        clipped at the template range (then ``at_edge`` is True).
    norm : float
        Best-fit total expected events.
    deviance : float
        Minimum deviance (-2 ln L ratio to the saturated model).
    delta : float
        Deviance rise defining the interval.
    at_edge : bool
        True if the interval hit the template mass range.
    valid : bool
        Minuit's validity flag.

    Examples
    --------
    >>> from darkmoments.stats import asimov, fit_mass, load_grid
    >>> grid = load_grid("km")
    >>> fit = fit_mass(asimov(grid, 0.1, 50.0), grid)
    >>> sorted(fit.to_dict())
    ['at_edge', 'delta', 'deviance', 'mass', 'mass_high', 'mass_low', 'model', 'norm', 'valid']
    """

    model: str
    mass: float
    mass_low: float
    mass_high: float
    norm: float
    deviance: float
    delta: float
    at_edge: bool
    valid: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def fit_mass(
    counts: FloatArray,
    grid: ShapeGrid,
    *,
    rate_coupling: float | None = None,
    delta: float = 1.0,
    scan_points: int = 4,
    p_floor: float | None = None,
    strict: bool = True,
    mc_stat: bool = True,
    rate_sigma: float | None = None,
) -> MassFit:
    """Fit the A' mass (continuous, via template interpolation) to binned data with iminuit.

    Parameters
    ----------
    counts : ndarray, shape (n_bins,)
        Observed (or Asimov) events per bin, same binning as ``grid``.
    grid : ShapeGrid
        Hypothesis model shapes (mass range in GeV defines the parameter limits).
    rate_coupling : float, optional
        Tie the normalisation to the rate, N(m) = rate_coupling^2 * N_1(m) (coupling in the
        model's units); None leaves the normalisation free (fitted as a Minuit parameter).
    delta : float
        Deviance rise for the interval (1: 68.3% CL, 3.84: 95% CL, one parameter).
    scan_points : int
        Starting-point scan density (points per grid segment) to avoid local minima.
    p_floor : float, optional
        Floor of the plain deviance (``mc_stat=False``); no effect with Barlow-Beeston.
    strict : bool
        Refuse data with events where the hypothesis expects zero at every mass (True), or
        accept them (False; see :func:`check_data`).
    mc_stat : bool
        Barlow-Beeston likelihood with the template MC statistics (default) or plain Poisson.
    rate_sigma : float, optional
        Relative log-normal uncertainty of the tied normalisation (profiled); only with
        ``rate_coupling``.

    Returns
    -------
    MassFit

    Raises
    ------
    ValueError
        Invalid data (see :func:`check_data`), non-positive ``delta`` or coupling.

    Examples
    --------
    50 km events at 0.1 GeV (LDMX Phase II, Asimov data): with the normalisation free the
    mass is measured to +-15 % (68 % CL); tied to the rate of the coupling that gives 50
    events (epsilon = 2.6e-5) to +-5 %, +-6 % with the default 11.5 % rate systematics:

    >>> from darkmoments.stats import asimov, fit_mass, load_grid
    >>> grid = load_grid("km")
    >>> data = asimov(grid, 0.1, 50.0)
    >>> fit = fit_mass(data, grid)
    >>> round(fit.mass, 4), round(fit.mass_low, 3), round(fit.mass_high, 3), round(fit.norm, 3)
    (0.1, 0.086, 0.116, 50.0)
    >>> eps = (50.0 / grid.rate(0.1)) ** 0.5
    >>> tied = fit_mass(data, grid, rate_coupling=eps)
    >>> round(tied.mass_low, 3), round(tied.mass_high, 3)
    (0.095, 0.105)
    >>> syst = fit_mass(data, grid, rate_coupling=eps, rate_sigma=0.109)
    >>> round(syst.mass_low, 3), round(syst.mass_high, 3)
    (0.094, 0.106)

    The magnetic dipole fits the same data best at a lower mass, 19.7 worse in deviance:

    >>> md = fit_mass(data, load_grid("md"), strict=False)
    >>> round(md.mass, 3), round(md.deviance, 1)
    (0.083, 19.7)
    """
    c = check_data(counts, grid, strict=strict)
    floor = P_FLOOR if p_floor is None else check_p_floor(p_floor)
    delta = check_real("delta", delta, lo=0.0, lo_open=True)
    rate_sigma = check_rate_sigma(rate_sigma)
    if rate_coupling is not None:
        rate_coupling = check_coupling(rate_coupling, name="rate_coupling")
    elif rate_sigma is not None:
        raise InputError("rate_sigma needs a tied normalisation (rate_coupling)")
    opts = {"rate_coupling": rate_coupling, "p_floor": floor, "mc_stat": mc_stat}
    opts["rate_sigma"] = rate_sigma
    lo_m, hi_m = grid.mass_range
    u_lo, u_hi = np.log(lo_m), np.log(hi_m)
    prof = _profiler(c, grid, opts)
    u0 = _scan_start(prof, grid, u_lo, u_hi, scan_points)
    if grid.masses.size == 1:
        m_fit = lo_m
        norm = _norm_at(c, grid, m_fit, opts)
        return MassFit(grid.model, m_fit, m_fit, m_fit, float(norm), prof(u_lo), delta, True, True)
    mi = _migrad(c, grid, prof, u0, (u_lo, u_hi), opts)
    u_fit = float(mi.values["u"])
    d_min = float(mi.fval)
    if prof(u0) < d_min:  # keep the scan point if Minuit wandered off
        u_fit, d_min = u0, prof(u0)
    d_min = prof(u_fit)  # the profiled value (closed-form or 1D-profiled normalisation)
    norm_fit = _norm_at(c, grid, float(np.exp(u_fit)), opts)
    # interval from the profiled deviance
    ul, edge_l = _crossing(prof, u_fit, d_min + delta, u_lo)
    uh, edge_h = _crossing(prof, u_fit, d_min + delta, u_hi)
    return MassFit(
        model=grid.model,
        mass=float(np.exp(u_fit)),
        mass_low=float(np.exp(ul)),
        mass_high=float(np.exp(uh)),
        norm=norm_fit,
        deviance=d_min,
        delta=float(delta),
        at_edge=bool(edge_l or edge_h),
        valid=bool(mi.valid),
    )


def _norm_at(counts: FloatArray, grid: ShapeGrid, mass: float, opts: dict[str, Any]) -> float:
    """Best-fit expected events at ``mass`` (n / S free; R or R theta tied)."""
    g = opts["rate_coupling"]
    p = grid.shape(mass)
    if g is None:
        plain = not opts["mc_stat"] or not np.isfinite(grid.n_eff(mass))
        pp = np.maximum(p, opts["p_floor"]) if plain else p
        return float(counts.sum() / pp.sum())
    rate = g**2 * grid.rate(mass)
    return _theta_profiled(
        counts, p, rate, grid.n_eff(mass), opts["mc_stat"], opts["p_floor"], opts["rate_sigma"]
    )[1]


def _profiler(
    counts: FloatArray, grid: ShapeGrid, opts: dict[str, Any]
) -> Callable[[float], float]:
    """The profiled deviance as a function of u = ln(m / GeV) (:func:`profile_deviance`)."""

    def prof(u: float) -> float:
        return profile_deviance(counts, grid, float(np.exp(u)), **opts)

    return prof


def _scan_start(
    prof: Callable[[float], float], grid: ShapeGrid, u_lo: float, u_hi: float, scan_points: int
) -> float:
    """Starting u = ln m of the fit: the best of a dense scan (``scan_points`` per segment)."""
    n_scan = max(2, (grid.masses.size - 1) * max(int(scan_points), 1) + 1)
    us = np.linspace(u_lo, u_hi, n_scan) if grid.masses.size > 1 else np.array([u_lo])
    vals = np.array([prof(u) for u in us])
    return float(us[int(np.argmin(vals))])


def _migrad(
    counts: FloatArray,
    grid: ShapeGrid,
    prof: Callable[[float], float],
    u0: float,
    u_limits: tuple[float, float],
    opts: dict[str, Any],
) -> Minuit:
    """Minuit's MIGRAD from ``u0`` in u = ln m (and the free normalisation if untied).

    Free normalisation: (u, norm) are both Minuit parameters and the deviance is the
    every-bin :func:`deviance` (the closed-form mu_hat is *not* used: an independent check
    of the fast path).  Tied: u only, on the profiled deviance.
    """
    if opts["rate_coupling"] is None:

        def fcn(u: float, norm: float) -> float:
            m = float(np.exp(u))
            return deviance(
                counts,
                grid.shape(m),
                norm,
                n_eff=grid.n_eff(m),
                mc_stat=opts["mc_stat"],
                p_floor=opts["p_floor"],
            )

        mi = Minuit(fcn, u=u0, norm=_norm_at(counts, grid, float(np.exp(u0)), opts))
        mi.limits["norm"] = (1e-9, None)
    else:

        def fcn1(u: float) -> float:
            return prof(u)

        mi = Minuit(fcn1, u=u0)
    mi.errordef = Minuit.LEAST_SQUARES
    mi.limits["u"] = u_limits
    mi.strategy = 2
    mi.tol = 1e-6
    mi.migrad()
    return mi


def _crossing(
    prof: Callable[[float], float], u_fit: float, target: float, edge: float
) -> tuple[float, bool]:
    """Where the profiled deviance reaches ``target`` between ``u_fit`` and ``edge``.

    Returns the crossing in u = ln m and False, or ``edge`` and True if the deviance stays
    below ``target`` up to the template range.
    """
    pts = np.linspace(u_fit, edge, 64)
    vals_side = np.array([prof(x) for x in pts])
    above = np.flatnonzero(vals_side >= target)
    if above.size == 0:
        return float(edge), True
    j = int(above[0])
    if j == 0:
        return u_fit, False
    root = brentq(lambda x: prof(x) - target, pts[j - 1], pts[j], xtol=1e-12)
    return float(root), False
