"""Vectorised binned likelihood fits of many pseudo-experiments at once (the fast toy path).

The likelihood (one for the whole package: discrimination, degeneracy and mass fits)
----------------------------------------------------------------------------------
Observed counts n_b; hypothesis template with bin probabilities p_b(m) and effective MC count
N = N_eff(m) (:meth:`~darkmoments.stats.shapes.ShapeGrid.n_eff`), i.e. MC counts
a_b = N p_b and weight w = 1/N.  Barlow-Beeston, full, one sample: the true template content
A_b is a nuisance parameter per bin with

    n_b ~ Poisson(mu w A_b),    a_b ~ Poisson(A_b)     (mu = expected signal events).

Profiling A_b in closed form (d/dA_b = 0) gives A_b = (n_b + a_b) / (1 + mu w) and the
deviance (-2 ln of the likelihood ratio to the saturated model of data *and* MC)

    D(mu, m) = 2 sum_b [ xlogx(n_b) + xlogx(a_b) - xlogx(n_b + a_b)
                          + (n_b + a_b) ln(1 + mu w) - n_b ln(mu w) ],   xlogx(x) = x ln x.

Bins without data contribute a_b ln(1 + mu w); summed they give (N S - sum_{n_b>0} a_b)
ln(1 + mu w) with S = sum_b p_b, so D needs only each toy's non-empty bins:

    D = 2 [ sum_{n_b>0} (xlogx(n_b) + xlogx(a_b) - xlogx(n_b + a_b))
            + (n + A) ln(1 + mu w) - n ln(mu w) ],      n = sum n_b,  A = N S.

* Free normalisation: dD/dmu = 0 at mu_hat = n / S (as without MC uncertainty), where
  (n + A) ln(1 + mu w) - n ln(mu w) = xlogx(n + A) - xlogx(A) - xlogx(n).
* Tied normalisation: mu = R(m) (expected events of the hypothesis, e.g. at the relic
  coupling).
* Tied with a normalisation nuisance (``rate_sigma`` = s, relative): mu = R(m) theta with the
  log-normal constraint (ln theta)^2 / s^2 added to D; theta is profiled per toy (Newton in
  ln theta, the objective is convex).  ``rate_sigma=None`` is exactly tied.

Background (``background`` b_b, expected events per bin; ``background_sigma`` s_b): every
hypothesis expects n_b ~ Poisson(mu w A_b + theta_b b_b), the background normalisation
theta_b fixed to 1 or a log-normal nuisance with (ln theta_b)^2 / s_b^2 added to D.  For one
template sample plus a fixed background per bin the profile of A_b is still closed form:
d/dA_b = 0 is the quadratic nu (1 + nu) A^2 - [nu (n + a) - (1 + nu) t] A - a t = 0
(nu = mu w, t = theta_b b_b), whose positive root is taken without cancellation
(``_bkg_nuisance``; t = 0 gives (n + a) / (1 + nu) as above).  A bin without data still has
A = a / (1 + nu) and contributes t + a ln(1 + nu), so the sums over each toy's non-empty
bins stay exact.  mu (free, or R e^phi with ``rate_sigma``) and theta_b are no longer closed
form: Newton's method in (ln mu, ln theta_b) with the exact profiled gradient and Hessian
(envelope theorem; Schur complement of the A_b block), backtracking, per toy.  Validated
against pyhf (numerical ``shapesys`` gammas, background ``normsys`` with interpolation code
1) and iminuit to 1e-6 (tests/stats/test_background.py).  ``background=None`` or all zeros
is the likelihood above, bit-identical.

No probability floor enters: A_b > 0 wherever n_b > 0 even if a_b = 0 (an empty template
bin), and an event there costs 2 [xlogx(n) - xlogx(n) + ... ] = 2 n ln((1 + mu w)/(mu w)),
about 2 n ln(N / mu): finite and set by the MC statistics.  ``mc_stat=False`` gives the
plain Poisson deviance D = 2 sum [mu p_b - n_b + n_b ln(n_b / (mu p_b))] (the N -> inf
limit) for comparison; only there are probabilities floored at ``p_floor``
(:data:`P_FLOOR`), which is then a choice that changes results.  A template without
variances (N_eff = inf) is fitted with the plain deviance.

Mass profiling
--------------
On a mass grid all toys and masses are evaluated at once (sparse over each toy's non-empty
bins).  ``refine=True`` minimises the same deviance continuously in u = ln m on the smooth
(C2) interpolation of :class:`~darkmoments.stats.shapes.ShapeGrid` (not-a-knot cubic spline
per bin, clipped at 0, renormalised; N_eff and ln R by the same spline): first on the grid
sampled at most :data:`SAMPLE_STEP` = 0.1 apart in ln m, then a batched golden-section
search on the two sampled intervals around each toy's best sample (and its second-best local
minimum), evaluating the exact
spline (:class:`~darkmoments.stats.shapes.SplineTables`), to |du| < 1e-9; the result is
never above the best sample.  The statistic is therefore the minimum of one smooth function
of m, without kinks or pile-up at the grid nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import xlogy

from ..errors import InputError
from ..validation import check_int, check_real
from .shapes import ShapeGrid, SplineTables

__all__ = [
    "P_FLOOR",
    "SAMPLE_STEP",
    "PreparedCounts",
    "ProfileResult",
    "check_p_floor",
    "check_rate_sigma",
    "deviance_fixed",
    "deviance_grid",
    "norm_term",
    "prepare_counts",
    "profile_mass",
    "xlogx",
]

FloatArray = NDArray[np.float64]

#: Floor of template bin probabilities (dimensionless) of the plain Poisson deviance
#: (``mc_stat=False``) only; the default Barlow-Beeston likelihood needs no floor.
P_FLOOR: float = 1.0e-12

#: Largest spacing in ln m of the sampled profile before the continuous search (default).
SAMPLE_STEP: float = 0.1

#: Golden-section iterations of the continuous mass refinement (bracket shrinks 0.618^n),
#: followed by successive parabolic steps.
_GOLDEN_ITERS: int = 16
_PARABOLIC_STEPS: int = 4

#: A second local minimum of the sampled profile is searched only if its sampled deviance is
#: within this of the best sample's (a search can gain at most the depth of a dip between
#: samples, far below this on any grid sampled <= 0.1 apart in ln m).
_SECOND_START_WINDOW: float = 2.0

#: Toys x bins per block of the continuous refinement (memory bound, ~16 MB per array).
_BLOCK: int = 2_000_000


def xlogx(x: FloatArray) -> FloatArray:
    """Elementwise x ln x with the limit 0 ln 0 = 0.

    Parameters
    ----------
    x : array_like
        Values >= 0 (counts).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.stats.fast import xlogx
    >>> xlogx(np.array([0.0, 1.0, np.e])).round(6)
    array([0.      , 0.      , 2.718282])
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(x)
    return np.where(x > 0, out, 0.0)


@dataclass(frozen=True)
class PreparedCounts:
    """Counts of many toys with their sparse (non-empty bin) representation, computed once.

    Attributes
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        The counts.
    order : ndarray of int, shape (n_toys, k)
        Bin indices of each toy's non-empty bins first (k = max non-empty bins of a toy).
    cnt : ndarray, shape (n_toys, k)
        Counts at ``order`` (zero padding after the non-empty bins).
    n : ndarray, shape (n_toys,)
        Total counts.
    sat : ndarray, shape (n_toys,)
        sum_b n_b ln n_b.

    Examples
    --------
    Two toys of 6 bins with at most 2 non-empty bins each: 2 columns suffice:

    >>> import numpy as np
    >>> from darkmoments.stats.fast import prepare_counts
    >>> pc = prepare_counts(np.array([[0.0, 3, 0, 0, 0, 1], [2.0, 0, 0, 0, 0, 0]]))
    >>> pc.order, pc.cnt
    (array([[1, 5],
           [0, 1]]), array([[3., 1.],
           [2., 0.]]))
    >>> pc.n, pc.sat.round(4), pc.n_bins, pc.rows(slice(1, 2)).n  # sat: sum n ln n
    (array([4., 2.]), array([3.2958, 1.3863]), 6, array([2.]))
    """

    counts: FloatArray
    order: NDArray[np.intp]
    cnt: FloatArray
    n: FloatArray
    sat: FloatArray

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.counts.shape[1])

    def rows(self, sel: slice | NDArray[np.intp]) -> PreparedCounts:
        """The toys ``sel`` only."""
        return PreparedCounts(
            self.counts[sel], self.order[sel], self.cnt[sel], self.n[sel], self.sat[sel]
        )


def prepare_counts(
    counts: FloatArray | PreparedCounts, n_bins: int | None = None
) -> PreparedCounts:
    """Validate counts (shape (n_toys, n_bins), finite, >= 0) and index their non-empty bins.

    Parameters
    ----------
    counts : ndarray or PreparedCounts
        Events per bin of each toy (a PreparedCounts is returned as is).
    n_bins : int, optional
        Required number of bins.

    Returns
    -------
    PreparedCounts

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.stats.fast import prepare_counts
    >>> prepare_counts(np.array([1.0, 0.0, 2.0])).n  # one toy: a row
    array([3.])
    >>> prepare_counts(np.array([[1.0, -1.0]]))
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: counts must be finite and >= 0
    """
    if isinstance(counts, PreparedCounts):
        if n_bins is not None and counts.n_bins != n_bins:
            raise InputError(f"counts have {counts.n_bins} bins, expected {n_bins}")
        return counts
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    if c.ndim != 2 or (n_bins is not None and c.shape[1] != n_bins):
        raise InputError(f"counts must have shape (n_toys, {n_bins}), got {np.shape(counts)}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InputError("counts must be finite and >= 0")
    pos = c > 0
    kmax = max(int(pos.sum(axis=1).max()) if c.size else 0, 1)
    if kmax * 2 < c.shape[1]:
        order = np.argsort(~pos, axis=1, kind="stable")[:, :kmax]
    else:
        order = np.broadcast_to(np.arange(c.shape[1]), c.shape).copy()
    cnt = np.take_along_axis(c, order, axis=1)
    return PreparedCounts(c, order, cnt, cnt.sum(axis=1), xlogx(cnt).sum(axis=1))


def check_p_floor(p_floor: float) -> float:
    """Validate a probability floor: a finite number in (0, 1e-3).

    p_floor = 0 would give empty template bins probability zero in the plain Poisson
    deviance, an infinite deviance for any toy with an event there; above 1e-3 the floor
    would distort real bins.

    Parameters
    ----------
    p_floor : float
        The floor (a probability).

    Returns
    -------
    float

    Raises
    ------
    InputError, InputTypeError
        Outside (0, 1e-3) or not a number.

    Examples
    --------
    >>> from darkmoments.stats.fast import check_p_floor
    >>> check_p_floor(1e-9)
    1e-09
    >>> check_p_floor(0.0)
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: p_floor must be a finite number > 0 and < 0.001, got 0.0
    """
    return check_real("p_floor", p_floor, lo=0.0, hi=1e-3, lo_open=True, hi_open=True)


def check_rate_sigma(rate_sigma: float | None) -> float | None:
    """Validate a relative normalisation uncertainty: None (exactly tied) or a number > 0.

    Parameters
    ----------
    rate_sigma : float or None
        Width of the log-normal constraint on ln theta (dimensionless).

    Returns
    -------
    float or None

    Examples
    --------
    >>> from darkmoments.stats.fast import check_rate_sigma
    >>> check_rate_sigma(None), check_rate_sigma(0.109)
    (None, 0.109)
    """
    if rate_sigma is None:
        return None
    return check_real("rate_sigma", rate_sigma, lo=0.0, lo_open=True)


def _floor(p_floor: float | None) -> float:
    return P_FLOOR if p_floor is None else check_p_floor(p_floor)


# ----------------------------------------------------------------------------- normalisation


def norm_term(
    n: FloatArray,
    s: FloatArray,
    n_eff: FloatArray,
    rate: FloatArray | None,
    rate_sigma: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The mu-dependent part of D/2, minimised over the normalisation, and the best mu.

    With A = N S and w = 1/N (N = ``n_eff``; N = inf: plain Poisson):

    * ``rate`` None (free): xlogx(n + A) - xlogx(A) - xlogx(n), mu = n / S
      (plain: n ln S - xlogx(n));
    * tied, mu = R: (n + A) ln(1 + R w) - n ln(R w)   (plain: R S - n ln R - n);
    * tied with ``rate_sigma`` s: min over phi = ln theta of the tied term at R e^phi plus
      phi^2 / (2 s^2), mu = R e^phi.

    All arguments broadcast together (e.g. toys x masses).

    Parameters
    ----------
    n : ndarray
        Total observed events.
    s : ndarray
        Total probability of the shape (sum_b p_b, ~1).
    n_eff : ndarray
        Effective MC events (inf: plain Poisson).
    rate : ndarray or None
        Tied expected events R; None: free.
    rate_sigma : float, optional
        Width of the log-normal rate constraint (with ``rate``).

    Returns
    -------
    value, mu : ndarray
        The term (dimensionless) and the best-fit expected events.

    Examples
    --------
    50 events seen: free, mu = 50; tied to R = 60, the term is higher by
    60 - 50 - 50 ln(60/50) = 0.884 (half the counting deviance 1.768); with a 10 % rate
    uncertainty mu moves towards the data (56.3 events) and costs less:

    >>> import numpy as np
    >>> from darkmoments.stats.fast import norm_term
    >>> n, s, plain = np.array([50.0]), np.array([1.0]), np.array([np.inf])
    >>> free, mu = norm_term(n, s, plain, None)
    >>> tied, _ = norm_term(n, s, plain, np.array([60.0]))
    >>> syst, mu_s = norm_term(n, s, plain, np.array([60.0]), 0.1)
    >>> (tied - free).round(4), (syst - free).round(4), mu, mu_s.round(2)
    (array([0.8839]), array([0.569]), array([50.]), array([56.32]))
    """
    n, s, n_eff = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (n, s, n_eff)))
    plain = ~np.isfinite(n_eff)
    big = np.where(plain, 1.0, n_eff)
    a_tot = big * s
    if rate is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            bb = xlogx(n + a_tot) - xlogx(a_tot) - xlogx(n)
            pl = n * np.log(s) - xlogx(n)
            mu = np.where(n > 0, n / s, 0.0)
        return np.where(plain, pl, bb), mu
    r = np.broadcast_to(np.asarray(rate, dtype=float), n.shape)
    if rate_sigma is None:
        return _tied(n, a_tot, big, s, r, plain), r
    return _tied_sigma(n, a_tot, big, s, r, plain, float(rate_sigma))


def _tied(
    n: FloatArray,
    a_tot: FloatArray,
    big: FloatArray,
    s: FloatArray,
    r: FloatArray,
    plain: NDArray[np.bool_],
) -> FloatArray:
    rw = r / big
    bb = (n + a_tot) * np.log1p(rw) - n * np.log(rw)
    pl = r * s - n * np.log(r) - n
    return np.where(plain, pl, bb)


def _tied_sigma(
    n: FloatArray,
    a_tot: FloatArray,
    big: FloatArray,
    s: FloatArray,
    r: FloatArray,
    plain: NDArray[np.bool_],
    sigma: float,
) -> tuple[FloatArray, FloatArray]:
    """Newton in phi = ln theta of the convex tied term + phi^2 / (2 sigma^2)."""
    inv = 1.0 / sigma**2
    rw = r / big
    phi = np.zeros(n.shape)
    for _ in range(100):
        e = rw * np.exp(phi)
        g_bb = (n + a_tot) * e / (1.0 + e) - n
        h_bb = (n + a_tot) * e / (1.0 + e) ** 2
        mu = r * np.exp(phi)
        g_pl = mu * s - n
        h_pl = mu * s
        g = np.where(plain, g_pl, g_bb) + phi * inv
        h = np.where(plain, h_pl, h_bb) + inv
        step = np.clip(g / h, -2.0, 2.0)
        phi = phi - step
        if np.all(np.abs(step) < 1e-13):
            break
    val = _tied(n, a_tot, big, s, r * np.exp(phi), plain) + 0.5 * phi**2 * inv
    return val, r * np.exp(phi)


# ----------------------------------------------------------------------------- grid deviance


def _binned(
    cnt: FloatArray,
    x: FloatArray,
    s: FloatArray,
    n_eff: FloatArray,
    mu: FloatArray,
) -> FloatArray:
    """D at a given normalisation mu, summed bin by bin (the numerically careful form).

    ``cnt`` (T, K): each toy's listed bins (its non-empty ones, maybe zero padding); ``x``
    (T, K): the shape probabilities there; ``s``, ``n_eff``, ``mu`` (T,).  Barlow-Beeston,
    with a = N p, A = N S, m = mu / N:

        D/2 = sum_listed [n ln(1 + m) - n ln m - n ln(1 + a/n) - a ln(1 + n/a)]
              + A ln(1 + m),

    each listed term of the size of that bin's chi^2 (no cancellation between large
    x ln x terms).  Plain Poisson (N = inf): sum_listed [mu p - n + n ln(n / (mu p))]
    + mu (S - sum_listed p).  With ``rate_sigma`` the constraint (ln(mu / R))^2 / s^2 is
    added by the caller.
    """
    mu = np.asarray(mu, dtype=float)
    n_eff = np.asarray(n_eff, dtype=float)
    plain = ~np.isfinite(n_eff)
    out = np.empty(mu.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.any(~plain):
            i = ~plain
            every = bool(np.all(i))
            c = cnt if every else cnt[i]
            a = (x if every else x[i]) * n_eff[i][:, None]
            m = (mu[i] / n_eff[i])[:, None]
            l1m = np.log1p(m)
            # per listed bin n ln(1 + a/n) + a ln(1 + n/a), 0 where n = 0 or a = 0 (padding,
            # empty template bins); the n ln((1 + m)/m) part summed per toy (sum_listed n = n)
            inv_c = np.divide(1.0, c, out=np.zeros(c.shape), where=c > 0)
            inv_a = np.divide(1.0, a, out=np.zeros(a.shape), where=a > 0)
            term = np.log1p(a * inv_c)
            term *= c
            q = np.log1p(c * inv_a)
            q *= a
            term += q
            n_i = c.sum(axis=1)
            out[i] = n_i * l1m[:, 0] - xlogy(n_i, m[:, 0]) - term.sum(axis=1)
            # sum_listed a ln(1 + m) + the unlisted bins' share = A ln(1 + m)
            out[i] += n_eff[i] * s[i] * l1m[:, 0]
        if np.any(plain):
            i = plain
            c, pp, mm = cnt[i], x[i], mu[i][:, None]
            nu = mm * pp
            term = nu - c + np.where(c > 0, c * np.log(c / nu), 0.0)
            out[i] = np.sum(term, axis=1) + mu[i] * (s[i] - pp.sum(axis=1))
    return 2.0 * out


def _constraint(mu: FloatArray, rate: FloatArray | None, rate_sigma: float | None) -> FloatArray:
    """(ln theta)^2 / s^2 with theta = mu / R (0 without a normalisation nuisance)."""
    if rate is None or rate_sigma is None:
        return np.zeros(np.shape(mu))
    return np.log(mu / rate) ** 2 / rate_sigma**2


def _node_n_eff(
    probs: FloatArray, n_eff: FloatArray | float | None, variances: FloatArray | None
) -> FloatArray:
    if n_eff is not None:
        ne = np.broadcast_to(np.asarray(n_eff, dtype=float), (probs.shape[0],)).copy()
    elif variances is not None:
        v = np.atleast_2d(np.asarray(variances, dtype=float))
        if v.shape != probs.shape:
            raise InputError(f"variances {v.shape} must have the shape of probs {probs.shape}")
        num = np.sum(probs * (1 - probs), axis=1)
        den = np.sum(v, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ne = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
    else:
        raise InputError(
            "the Barlow-Beeston likelihood needs the templates' MC statistics: give n_eff "
            "(effective MC events per shape) or variances, or a ShapeGrid; mc_stat=False "
            "for the plain Poisson deviance"
        )
    if np.any(np.isnan(ne)) or np.any(ne <= 0):
        raise InputError(f"n_eff must be > 0 (inf: no MC uncertainty), got {ne}")
    return ne


def deviance_grid(
    counts: FloatArray | PreparedCounts,
    probs: FloatArray | ShapeGrid,
    rates: FloatArray | None = None,
    *,
    n_eff: FloatArray | float | None = None,
    variances: FloatArray | None = None,
    mc_stat: bool = True,
    rate_sigma: float | None = None,
    p_floor: float | None = None,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> FloatArray:
    """Deviance of every toy at every grid mass (normalisation profiled or tied).

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Observed events per bin (need not be integers, e.g. Asimov data).
    probs : ndarray, shape (n_m, n_bins), or ShapeGrid
        Bin probabilities of the hypothesis at each grid mass (a ShapeGrid supplies its
        ``probs`` and :attr:`~darkmoments.stats.shapes.ShapeGrid.node_n_eff`).
    rates : ndarray, shape (n_m,), optional
        Expected total events (mu) at each mass when the normalisation is tied to the rate;
        None profiles it freely.
    n_eff : float or ndarray, shape (n_m,), optional
        Effective MC events of each shape (Barlow-Beeston); or give ``variances``.
    variances : ndarray, shape (n_m, n_bins), optional
        MC variances of ``probs`` (n_eff = sum p (1 - p) / sum V).
    mc_stat : bool
        True (default): Barlow-Beeston; False: plain Poisson (template taken as exact).
    rate_sigma : float, optional
        Relative normalisation uncertainty of tied rates (log-normal, profiled); None =
        exactly tied.  Only with ``rates``.
    p_floor : float, optional
        Floor of the probabilities of the plain deviance (``mc_stat=False``, default
        :data:`P_FLOOR`); validated but without effect on the Barlow-Beeston deviance.
    background : ndarray, shape (n_bins,), optional
        Expected background events per bin (fixed shape): lambda_b = mu w A_b + theta_b b_b
        (section "background" of this module).  None or all zeros: no background (the
        numbers above, bit-identical).
    background_sigma : float, optional
        Width s_b of the log-normal background normalisation, (ln theta_b)^2 / s_b^2 added
        to D with theta_b profiled per toy; None: theta_b = 1 (the background is known).

    Returns
    -------
    ndarray, shape (n_toys, n_m)
        D (dimensionless, -2 Delta ln L to the saturated model).

    Examples
    --------
    The Asimov recoil-energy spectra of 50 and 100 km events at 0.1 GeV against the 40
    shipped grid masses: both are best at the node nearest 0.1 GeV, 0.0915 GeV, where D is
    small and proportional to the events:

    >>> import numpy as np
    >>> from darkmoments.stats import asimov, load_grid
    >>> from darkmoments.stats.fast import deviance_grid
    >>> grid = load_grid("km", observables="E")
    >>> data = asimov(grid, 0.1, 50.0)
    >>> d = deviance_grid(np.vstack([data, 2 * data]), grid)
    >>> d.shape, grid.masses[d.argmin(axis=1)], d.min(axis=1).round(4)
    ((2, 40), array([0.0915067, 0.0915067]), array([0.0034, 0.0069]))
    """
    bkg = (background, background_sigma)
    return _grid_eval(counts, probs, rates, n_eff, variances, mc_stat, rate_sigma, p_floor, *bkg)[0]


def _grid_eval(
    counts: FloatArray | PreparedCounts,
    probs: FloatArray | ShapeGrid,
    rates: FloatArray | None,
    n_eff: FloatArray | float | None,
    variances: FloatArray | None,
    mc_stat: bool,
    rate_sigma: float | None,
    p_floor: float | None,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """(D, mu, theta_b) of every toy at every mass (see :func:`deviance_grid`).

    theta_b is None without a background.
    """
    floor = _floor(p_floor)
    rate_sigma = check_rate_sigma(rate_sigma)
    if isinstance(probs, ShapeGrid):
        if n_eff is None and variances is None:
            n_eff = probs.node_n_eff
        probs = probs.probs
    p = np.atleast_2d(np.asarray(probs, dtype=float))
    prep = prepare_counts(counts, p.shape[1])
    ne = _node_n_eff(p, n_eff, variances) if mc_stat else np.full(p.shape[0], np.inf)
    r = None
    if rates is not None:
        r = np.asarray(rates, dtype=float)
        if r.shape != (p.shape[0],) or np.any(r <= 0) or not np.all(np.isfinite(r)):
            raise InputError(f"rates must be finite, > 0, one per mass; got {rates}")
    elif rate_sigma is not None:
        raise InputError("rate_sigma needs tied rates")
    pf = np.where(np.isfinite(ne)[:, None], p, np.maximum(p, floor))
    bkg = check_background(background, p.shape[1])
    if bkg is not None:
        return _grid_eval_background(
            prep, pf, ne, r, rate_sigma, bkg, check_background_sigma(background_sigma)
        )
    s = pf.sum(axis=1)
    _, mu = norm_term(prep.n[:, None], s[None, :], ne[None, :], r, rate_sigma)
    d = np.empty(mu.shape)
    n_toys = prep.n.size
    for j in range(p.shape[0]):
        d[:, j] = _binned(
            prep.cnt,
            pf[j][prep.order],
            np.full(n_toys, s[j]),
            np.full(n_toys, ne[j]),
            mu[:, j],
        ) + _constraint(mu[:, j], None if r is None else r[j], rate_sigma)
    return np.maximum(d, 0.0), mu, None


def deviance_fixed(
    counts: FloatArray | PreparedCounts,
    probs: FloatArray,
    rate: float | None = None,
    *,
    n_eff: float | None = None,
    variances: FloatArray | None = None,
    mc_stat: bool = True,
    rate_sigma: float | None = None,
    p_floor: float | None = None,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> FloatArray:
    """Deviance of every toy for one fixed shape (normalisation profiled or fixed).

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Observed events per bin.
    probs : ndarray, shape (n_bins,)
        Bin probabilities of the hypothesis.
    rate : float, optional
        Fixed expected total (events); None profiles the normalisation.
    n_eff, variances, mc_stat, rate_sigma, p_floor, background, background_sigma
        As :func:`deviance_grid` (``variances`` of shape (n_bins,)).

    Returns
    -------
    ndarray, shape (n_toys,)

    Examples
    --------
    50 and 100 Asimov events at their own shape: 0 with the normalisation free; fixed to
    50 events, the second costs 2 [50 - 100 + 100 ln 2] = 38.6:

    >>> import numpy as np
    >>> from darkmoments.stats import asimov, load_grid
    >>> from darkmoments.stats.fast import deviance_fixed
    >>> grid = load_grid("km", observables="E")
    >>> toys = np.vstack([asimov(grid, 0.1, 50.0), asimov(grid, 0.1, 100.0)])
    >>> deviance_fixed(toys, grid.shape(0.1), n_eff=1e6).round(6)
    array([0., 0.])
    >>> deviance_fixed(toys, grid.shape(0.1), 50.0, n_eff=1e6).round(2)
    array([ 0.  , 38.63])
    """
    rates = None if rate is None else np.array([float(rate)])
    v = None if variances is None else np.asarray(variances, dtype=float)[None, :]
    return deviance_grid(
        counts,
        np.asarray(probs, dtype=float)[None, :],
        rates,
        n_eff=n_eff,
        variances=v,
        mc_stat=mc_stat,
        rate_sigma=rate_sigma,
        p_floor=p_floor,
        background=background,
        background_sigma=background_sigma,
    )[:, 0]


# ----------------------------------------------------------------------------- mass profile


@dataclass(frozen=True)
class ProfileResult:
    """Result of profiling the mass for many toys.

    Attributes
    ----------
    deviance : ndarray, shape (n_toys,)
        Minimum deviance over the mass (and the normalisation if free or constrained).
    mass : ndarray, shape (n_toys,)
        Best-fit A' mass in GeV.
    norm : ndarray, shape (n_toys,)
        Best-fit total expected events (mu; R(m) theta with a normalisation nuisance).
    background_scale : ndarray, shape (n_toys,), or None
        Best-fit background normalisation theta_b (only with a ``background``; None
        without).

    Examples
    --------
    >>> from darkmoments.stats import asimov, load_grid, profile_mass
    >>> grid = load_grid("km", observables="E")
    >>> r = profile_mass(asimov(grid, 0.1, 50.0), grid)
    >>> r.mass.round(4), r.norm.round(3), r.background_scale
    (array([0.1]), array([50.]), None)
    """

    deviance: FloatArray
    mass: FloatArray
    norm: FloatArray
    background_scale: FloatArray | None = None


class _Objective:
    """D(u) of a block of toys on the exact spline interpolation of a grid (u = ln m)."""

    def __init__(
        self,
        prep: PreparedCounts,
        tables: SplineTables,
        lnrate: Callable[[FloatArray], FloatArray] | None,
        rate_sigma: float | None,
        mc_stat: bool,
        floor: float,
    ) -> None:
        self.prep, self.tab, self.lnrate = prep, tables, lnrate
        self.rate_sigma, self.mc_stat, self.floor = rate_sigma, mc_stat, floor
        self._seg = np.full(prep.n.size, -1)
        self._coef = np.empty((4, *prep.cnt.shape))

    def _coefficients(self, seg: NDArray[np.intp]) -> FloatArray:
        """Cubic coefficients of every toy's listed bins on its segment (gathered on change)."""
        chg = np.flatnonzero(seg != self._seg)
        if chg.size:
            self._coef[:, chg] = self.tab.coef[:, seg[chg, None], self.prep.order[chg]]
            self._seg[chg] = seg[chg]
        return self._coef

    def __call__(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(D, mu) at u (one value per toy)."""
        p, s, ne, rate = self.shape_at(u)
        _, mu = norm_term(self.prep.n, s, ne, rate, self.rate_sigma)
        d = _binned(self.prep.cnt, p, s, ne, mu)
        return d + _constraint(mu, rate, self.rate_sigma), mu

    def shape_at(
        self, u: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
        """(p at the listed bins, S, N_eff, R) at u: the spline, floored where plain."""
        tab = self.tab
        seg = tab.segment(u)
        t = (u - tab.knots[seg])[:, None]
        c = self._coefficients(seg)  # (4, T, K)
        raw = c[0] * t
        raw += c[1]
        raw *= t
        raw += c[2]
        raw *= t
        raw += c[3]
        total = tab.total(u)
        p = np.maximum(raw, 0.0) * (total / tab.clipped(u))[:, None]
        ne = tab.n_eff(u) if self.mc_stat else np.full(u.shape, np.inf)
        rate = None if self.lnrate is None else np.exp(self.lnrate(u))
        if self.mc_stat and np.all(np.isfinite(ne)):
            s = total
        else:  # plain Poisson, floored; total of the floored shape needs every bin
            s = total + self._floor_excess(u, total)
            p = np.maximum(p, self.floor)
            ne = np.full(u.shape, np.inf)
        return p, s, ne, rate

    def _floor_excess(self, u: FloatArray, total: FloatArray) -> FloatArray:
        """sum_b max(p_b, floor) - sum_b p_b at u (all bins; plain deviance only)."""
        tab = self.tab
        seg = tab.segment(u)
        t = (u - tab.knots[seg])[:, None]
        c = tab.coef[:, seg, :]
        raw = ((c[0] * t + c[1]) * t + c[2]) * t + c[3]
        p = np.maximum(raw, 0.0) * (total / tab.clipped(u))[:, None]
        return np.sum(np.maximum(p, self.floor) - p, axis=1)


def _golden(
    f: Callable[[FloatArray], tuple[FloatArray, FloatArray]],
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
    iters: int = _GOLDEN_ITERS,
    parabolic: int = _PARABOLIC_STEPS,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Batched minimisation of f on [lo, hi] -> (u, f(u), mu(u)).

    ``iters`` golden-section steps (the bracket shrinks to 0.618^iters), then ``parabolic``
    steps of successive parabolic interpolation through the best point and its two
    neighbours (Brent's final phase; converges superlinearly on the smooth deviance).  Only
    evaluated points are returned, so the result is never above the best evaluated value;
    ``f_lo``, ``f_hi`` are the (known) values at the bracket ends.
    """
    g = 0.5 * (np.sqrt(5.0) - 1.0)
    a, b, fa, fb = lo.copy(), hi.copy(), f_lo.copy(), f_hi.copy()
    c = b - g * (b - a)
    d = a + g * (b - a)
    fc, mc = f(c)
    fd, md = f(d)
    for _ in range(iters):
        left = fc < fd  # minimum in [a, d]
        b, fb = np.where(left, d, b), np.where(left, fd, fb)
        a, fa = np.where(left, a, c), np.where(left, fa, fc)
        new = np.where(left, b - g * (b - a), a + g * (b - a))
        fn, mn = f(new)
        # left: (c, d) <- (new, c); right: (c, d) <- (d, new)
        c, d = np.where(left, new, d), np.where(left, c, new)
        fc, fd = np.where(left, fn, fd), np.where(left, fc, fn)
        mc, md = np.where(left, mn, md), np.where(left, mc, mn)
    nan = np.full(a.shape, np.nan)
    xs = np.stack([a, c, d, b], axis=1)
    fs = np.stack([fa, fc, fd, fb], axis=1)
    ms = np.stack([nan, mc, md, nan], axis=1)
    rows = np.arange(a.size)
    for _ in range(parabolic):
        order = np.argsort(xs, axis=1)
        xs, fs, ms = (np.take_along_axis(v, order, axis=1) for v in (xs, fs, ms))
        j = np.clip(np.argmin(np.where(np.isnan(ms), np.inf, fs), axis=1), 1, xs.shape[1] - 2)
        x0, x1, x2 = xs[rows, j - 1], xs[rows, j], xs[rows, j + 1]
        f0, f1, f2 = fs[rows, j - 1], fs[rows, j], fs[rows, j + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            num = (x1 - x0) ** 2 * (f1 - f2) - (x1 - x2) ** 2 * (f1 - f0)
            den = (x1 - x0) * (f1 - f2) - (x1 - x2) * (f1 - f0)
            v = x1 - 0.5 * num / den
        ok = np.isfinite(v) & (v > x0) & (v < x2) & (np.abs(v - x1) > 1e-13)
        v = np.where(ok, v, 0.5 * (x1 + np.where(f0 < f2, x0, x2)))
        fv, mv = f(v)
        xs = np.concatenate([xs, v[:, None]], axis=1)
        fs = np.concatenate([fs, fv[:, None]], axis=1)
        ms = np.concatenate([ms, mv[:, None]], axis=1)
    fs = np.where(np.isnan(ms), np.inf, fs)  # bracket ends are sampled points, already known
    k = np.argmin(fs, axis=1)
    return xs[rows, k], fs[rows, k], ms[rows, k]


def _lnrate_spline(grid: ShapeGrid, rates: FloatArray | None) -> Callable | None:
    """ln R(u) by the not-a-knot spline through the nodes' ln rates (None if free)."""
    if rates is None:
        return None
    from scipy.interpolate import CubicSpline

    r = np.asarray(rates, dtype=float)
    if r.shape != grid.masses.shape or np.any(r <= 0) or not np.all(np.isfinite(r)):
        raise InputError(f"rates must be finite, > 0, one per grid mass; got {rates}")
    if grid.masses.size == 1:
        return lambda u: np.full(np.shape(u), np.log(r[0]))
    return CubicSpline(np.log(grid.masses), np.log(r), bc_type="not-a-knot")


def _starts(d: FloatArray, n_starts: int) -> list[NDArray[np.intp]]:
    """Sample indices of the ``n_starts`` lowest local minima of each toy's sampled profile.

    The first is the global sampled minimum; a toy with fewer local minima repeats it.
    """
    best = np.argmin(d, axis=1)
    if n_starts == 1 or d.shape[1] < 3:
        return [best]
    inf = np.full((d.shape[0], 1), np.inf)
    left = np.concatenate([inf, d[:, :-1]], axis=1)
    right = np.concatenate([d[:, 1:], inf], axis=1)
    masked = np.where((d <= left) & (d <= right), d, np.inf)
    order = np.argsort(masked, axis=1)[:, :n_starts]
    out = [best]
    for k in range(1, n_starts):
        jk = order[:, k]
        ok = np.isfinite(masked[np.arange(d.shape[0]), jk])
        out.append(np.where(ok, jk, best))
    return out


def profile_mass(
    counts: FloatArray | PreparedCounts,
    grid: ShapeGrid,
    *,
    rates: FloatArray | None = None,
    refine: bool = True,
    p_floor: float | None = None,
    mc_stat: bool = True,
    rate_sigma: float | None = None,
    samples_per_segment: int | None = None,
    n_starts: int = 2,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> ProfileResult:
    """Minimise the deviance over the A' mass (and the normalisation) for many toys.

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Observed events per bin for each toy.
    grid : ShapeGrid
        Hypothesis shapes on a mass grid (GeV), with their MC statistics.
    rates : ndarray, shape (n_m,), optional
        Expected events at each grid mass when the normalisation is tied to the rate
        (e.g. relic coupling), interpolated as ln R by the spline in ln m; None =
        normalisation free.
    refine : bool
        True: minimise continuously in m on the spline interpolation (module docstring);
        False: the minimum over the grid nodes only.
    p_floor : float, optional
        Floor of the plain deviance (``mc_stat=False``); no effect with Barlow-Beeston.
    mc_stat : bool
        Barlow-Beeston (True, default) or the plain Poisson deviance (False).
    rate_sigma : float, optional
        Relative (log-normal) uncertainty of the tied normalisation: mu = R(m) theta,
        (ln theta)^2 / rate_sigma^2 added to D, theta profiled per toy.  None = exactly tied.
        Only with ``rates``.
    samples_per_segment : int, optional
        Sampling of each grid segment before the continuous search (>= 1); default: enough
        that samples are at most :data:`SAMPLE_STEP` apart in ln m, and at least 2.
    n_starts : int
        The continuous search runs around the ``n_starts`` lowest local minima of the
        sampled profile (>= 1; 2 guards against a second minimum between samples, which
        templates with few MC events can produce).
    background, background_sigma
        Expected background events per bin and the log-normal width of its normalisation
        (:func:`deviance_grid`); the same sampling and continuous search.

    Returns
    -------
    ProfileResult
        Minimum deviance, best mass (GeV) and best normalisation (events) per toy, and
        with a background its best normalisation theta_b.

    Examples
    --------
    Asimov recoil-energy data of 50 and 100 km events at 0.1 GeV.  Profiled continuously,
    the mass comes back exactly; on the grid nodes only, at the nearest node:

    >>> import numpy as np
    >>> from darkmoments.stats import asimov, load_grid, profile_mass
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> toys = np.vstack([asimov(km, 0.1, 50.0), asimov(km, 0.1, 100.0)])
    >>> r = profile_mass(toys, km)
    >>> r.mass.round(4), r.norm.round(3), bool(np.all(r.deviance < 1e-6))
    (array([0.1, 0.1]), array([ 50., 100.]), True)
    >>> profile_mass(toys, km, refine=False).mass
    array([0.0915067, 0.0915067])

    The magnetic dipole mimics the km energy spectrum with a heavier A' (in E alone the
    models are nearly degenerate: D = 3.7 for 50 events):

    >>> r = profile_mass(toys, md)
    >>> r.mass.round(3), r.deviance.round(2)
    (array([0.485, 0.485]), array([3.66, 7.3 ]))

    With the rate tied to the coupling that gives 50 events at 0.1 GeV, 100 observed
    events pull the mass down (the rate rises towards lower masses):

    >>> r = profile_mass(toys, km, rates=km.n1 * 2.6e-5**2)
    >>> r.mass.round(3), r.norm.round(1)
    (array([0.1  , 0.077]), array([50. , 99.9]))
    """
    floor = _floor(p_floor)
    rate_sigma = check_rate_sigma(rate_sigma)
    if rate_sigma is not None and rates is None:
        raise InputError("rate_sigma needs tied rates")
    if samples_per_segment is None:
        h = float(np.max(np.diff(np.log(grid.masses)))) if grid.masses.size > 1 else 0.0
        samples_per_segment = max(2, int(np.ceil(h / SAMPLE_STEP - 1e-9)))
    k = check_int("samples_per_segment", samples_per_segment, lo=1)
    n_starts = check_int("n_starts", n_starts, lo=1)
    prep = prepare_counts(counts, grid.n_bins)
    bkg = check_background(background, grid.n_bins)
    bkg_opt = (bkg, check_background_sigma(background_sigma))
    lnrate = _lnrate_spline(grid, rates)
    if not refine or grid.masses.size == 1:
        k = 1
    sampled = grid if k == 1 else grid.refined(k)
    u_s = np.log(sampled.masses)
    r_s = None if lnrate is None else np.exp(lnrate(u_s))
    if rates is not None and k == 1:
        r_s = np.asarray(rates, dtype=float)
    d, mu, th = _grid_eval(
        prep, sampled.probs, r_s, sampled.node_n_eff, None, mc_stat, rate_sigma, floor, *bkg_opt
    )
    j = np.argmin(d, axis=1)
    t_idx = np.arange(prep.n.size)
    dmin, norm = d[t_idx, j], mu[t_idx, j]
    mass = sampled.masses[j].astype(float)
    if not refine or grid.masses.size == 1:
        return ProfileResult(dmin, mass, norm, None if th is None else th[t_idx, j])
    tab = grid.spline
    block = max(1, _BLOCK // max(prep.cnt.shape[1], 1))
    d_best = d[t_idx, j]
    for k_start, js in enumerate(_starts(d, n_starts)):
        todo = (
            t_idx
            if k_start == 0
            else np.flatnonzero((js != j) & (d[t_idx, js] < d_best + _SECOND_START_WINDOW))
        )
        lo_i, hi_i = np.maximum(js - 1, 0), np.minimum(js + 1, u_s.size - 1)
        for start in range(0, todo.size, block):
            ti = todo[start : start + block]
            rows = prep if ti.size == prep.n.size else prep.rows(ti)
            f = _objective(rows, tab, lnrate, rate_sigma, mc_stat, floor, bkg_opt, norm[ti])
            u, dv, mv = _golden(f, u_s[lo_i[ti]], u_s[hi_i[ti]], d[ti, lo_i[ti]], d[ti, hi_i[ti]])
            dv = np.maximum(dv, 0.0)
            better = dv < dmin[ti]
            idx = ti[better]
            dmin[idx], norm[idx], mass[idx] = dv[better], mv[better], np.exp(u[better])
    if bkg is None:
        return ProfileResult(dmin, mass, norm)
    f = _BkgObjective(prep, tab, lnrate, rate_sigma, mc_stat, floor, (bkg, bkg_opt[1]), norm)
    f(np.log(mass))  # theta_b at the best (mass, mu)
    return ProfileResult(dmin, mass, norm, f.theta)


def _objective(
    prep: PreparedCounts,
    tables: SplineTables,
    lnrate: Callable[[FloatArray], FloatArray] | None,
    rate_sigma: float | None,
    mc_stat: bool,
    floor: float,
    background: tuple[FloatArray | None, float | None],
    start: FloatArray,
) -> _Objective:
    """:class:`_Objective`, or with a background :class:`_BkgObjective` from ``start``."""
    bkg, bkg_sigma = background
    if bkg is None:
        return _Objective(prep, tables, lnrate, rate_sigma, mc_stat, floor)
    return _BkgObjective(prep, tables, lnrate, rate_sigma, mc_stat, floor, (bkg, bkg_sigma), start)


# ----------------------------------------------------------------------------- background
#
# With a background b_i per bin (expected events, fixed shape) the expectation of bin i is
# lambda_i = mu w A_i + theta_b b_i.  The per-bin Barlow-Beeston nuisance A_i is still
# profiled in closed form (a quadratic, see _bkg_nuisance); the normalisations (mu free or
# R e^phi, theta_b = e^psi) by Newton's method in (ln mu, ln theta_b) with exact profiled
# derivatives.  Everything is additive: ``background=None`` (or all zeros) never reaches
# this code, so those results are bit-identical to the no-background likelihood.

#: Newton iterations (each with a backtracking line search) of the normalisation profile.
_BKG_NEWTON_ITERS: int = 80
#: Convergence of a toy: its Newton step in (ln mu, ln theta_b) below this, or the Newton
#: decrement g.H^-1.g (twice the predicted gain in D/2) below :data:`_BKG_DECREMENT_TOL`
#: times max(1, D/2), the rounding of D/2 itself: then no step can lower D/2 measurably,
#: and D is within that of its minimum.
_BKG_STEP_TOL: float = 1e-8
_BKG_DECREMENT_TOL: float = 1e-13
#: Largest Newton step in ln mu or ln theta_b (a factor e^2 per iteration).
_BKG_MAX_STEP: float = 2.0
#: Smallest free signal normalisation in events (the boundary mu -> 0: D is flat there).
_BKG_MU_MIN: float = 1e-10


def check_background(background: FloatArray | None, n_bins: int) -> FloatArray | None:
    """Validate a background: expected events per bin, shape (n_bins,), finite, >= 0.

    Returns None for None or an all-zero background (the no-background likelihood, exactly).
    """
    if background is None:
        return None
    b = np.asarray(background, dtype=float)
    if b.shape != (n_bins,):
        raise InputError(
            f"background must have one value per bin, shape ({n_bins},), got {b.shape}"
        )
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise InputError("background must be finite and >= 0 events in every bin")
    return b if float(b.sum()) > 0 else None


def check_background_sigma(background_sigma: float | None) -> float | None:
    """Validate the log-normal width s_b of the background normalisation: None or > 0."""
    if background_sigma is None:
        return None
    return check_real("background_sigma", background_sigma, lo=0.0, lo_open=True)


def _h(u: FloatArray) -> FloatArray:
    """u - ln(1 + u) (>= 0), the per-bin deviance x h(lambda/x - 1) / x of a Poisson term."""
    return u - np.log1p(u)


def _bkg_nuisance(nu: FloatArray, c: FloatArray, a: FloatArray, tb: FloatArray) -> FloatArray:
    """The profiled Barlow-Beeston A of each bin with a background, in closed form.

    -ln L_i = lambda - n ln lambda + A - a ln A with lambda = nu A + t (nu = mu / N, t =
    theta_b b_i); d/dA = 0 gives nu (1 + nu) A^2 - [nu (n + a) - (1 + nu) t] A - a t = 0,
    whose root A >= 0 is taken in the cancellation-free form (q = the bracket):
    A = (q + sqrt(q^2 + 4 nu (1 + nu) a t)) / (2 nu (1 + nu)) for q >= 0, else
    2 a t / (sqrt(...) - q).  t = 0 gives (n + a) / (1 + nu), n = 0 gives a / (1 + nu), and
    a = 0 gives max(q, 0) / (nu (1 + nu)).
    """
    q = nu * (c + a) - (1.0 + nu) * tb
    quad = nu * (1.0 + nu)
    root = np.sqrt(q * q + 4.0 * quad * a * tb)
    with np.errstate(divide="ignore", invalid="ignore"):
        big = (q + root) / (2.0 * quad)
        small = np.where(root - q > 0, 2.0 * a * tb / (root - q), 0.0)
    return np.where(q >= 0, big, small)


@dataclass(frozen=True)
class _BkgRows:
    """One block of toys x listed bins for the background likelihood (see ``_bkg_state``)."""

    cnt: FloatArray  # (T, K) counts of the listed bins
    x: FloatArray  # (T, K) shape probabilities there (floored for plain rows)
    s: FloatArray  # (T,) total shape probability S
    n_eff: FloatArray  # (T,) effective MC events (inf: plain Poisson)
    b: FloatArray  # (T, K) background at the listed bins
    b_tot: float  # background summed over every bin


def _bkg_state(
    rows: _BkgRows, y: FloatArray, psi: FloatArray, derivs: bool
) -> tuple[FloatArray, tuple[FloatArray, ...]]:
    """D/2 (data and MC saturated) at nu = e^y, theta_b = e^psi, and its profiled derivatives.

    Barlow-Beeston rows (finite N; nu = mu / N): listed bins summed exactly, the other bins
    (no data) in closed form, theta_b b_i + a_i ln(1 + nu) each (A = a / (1 + nu) there), so

        D/2 = sum_listed [n h(lambda/n - 1) + a h(A/a - 1) - theta_b b - a ln(1 + nu)]
              + theta_b B + N S ln(1 + nu).

    Plain rows (N = inf; nu = mu): A = a fixed, lambda = mu p + theta_b b.  The derivatives
    (``derivs``) are those of the function profiled over every A_i (envelope theorem for the
    gradient, the Schur complement of the A_i block for the Hessian), returned as (g_y, g_psi,
    H_yy, H_ypsi, H_psipsi) in the logarithmic variables.
    """
    plain = ~np.isfinite(rows.n_eff)
    nu, th = np.exp(y), np.exp(psi)
    c, b = rows.cnt, rows.b
    ne = np.where(plain, 1.0, rows.n_eff)[:, None]
    a = rows.x * ne
    tb = th[:, None] * b
    nu_ = nu[:, None]
    any_bb = not bool(np.all(plain))
    big_a = _bkg_nuisance(nu_, c, a, tb) if any_bb else rows.x
    if any_bb and np.any(plain):
        big_a = np.where(plain[:, None], rows.x, big_a)
    lam = nu_ * big_a + tb
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(c > 0, c * _h((lam - c) / np.where(c > 0, c, 1.0)), lam)
    l1 = np.log1p(nu)
    a_tot = ne[:, 0] * rows.s
    value = np.sum(t1 - lam, axis=1) + nu * rows.s + th * rows.b_tot  # plain
    if any_bb:
        with np.errstate(divide="ignore", invalid="ignore"):
            t2 = np.where(a > 0, a * _h((big_a - a) / np.where(a > 0, a, 1.0)), big_a)
        t2 += t1 - tb - a * l1[:, None]
        bb = np.sum(t2, axis=1) + th * rows.b_tot + a_tot * l1
        value = np.where(plain, value, bb)
    if not derivs:
        return value, ()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = 1.0 - np.where(c > 0, c / lam, 0.0)
        qq = np.where(c > 0, c / (lam * lam), 0.0)
        f_aa = nu_ * nu_ * qq + np.where(a > 0, a / (big_a * big_a), 0.0)
        inv = np.where(plain[:, None] | (big_a <= 0) | ~(f_aa > 0), 0.0, 1.0 / f_aa)
    f_an = r + nu_ * big_a * qq
    f_at = nu_ * b * qq
    rest_a = np.where(plain, 0.0, a_tot - a.sum(axis=1))  # MC of the bins without data
    rest_p = np.where(plain, rows.s - rows.x.sum(axis=1), 0.0)
    f_n = np.sum(big_a * r, axis=1) + rest_a / (1.0 + nu) + rest_p
    f_t = np.sum(b * r, axis=1) + (rows.b_tot - b.sum(axis=1))
    h_nn = np.sum(big_a * big_a * qq - f_an * f_an * inv, axis=1) - rest_a / (1.0 + nu) ** 2
    h_nt = np.sum(big_a * b * qq - f_an * f_at * inv, axis=1)
    h_tt = np.sum(b * b * qq - f_at * f_at * inv, axis=1)
    g = (nu * f_n, th * f_t)
    hess = (nu * nu * h_nn + nu * f_n, nu * th * h_nt, th * th * h_tt + th * f_t)
    return value, (*g, *hess)


def _bkg_profile(
    rows: _BkgRows,
    y0: FloatArray,
    lnrate: FloatArray | None,
    rate_sigma: float | None,
    bkg_sigma: float | None,
    psi0: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """min over the free normalisations of D/2 + constraints, per toy.

    Variables y = ln nu (free if ``lnrate`` is None, else y = ln(R / N) + phi with phi free
    only with ``rate_sigma``, constraint phi^2 / (2 s^2)) and psi = ln theta_b (free only
    with ``bkg_sigma``, constraint psi^2 / (2 s_b^2)).  Newton's method with the exact
    profiled Hessian (a scaled gradient step where it is not positive definite), steps
    clipped to +-2 and halved until the objective does not increase; a free mu stays above
    :data:`_BKG_MU_MIN` events (the boundary mu -> 0, where D is flat).  Each iteration
    works on the toys not yet converged only.

    Returns
    -------
    value, y, psi, ok : ndarray
        D/2 with the constraints (so D = 2 value), the final y and psi, and whether the
        step tolerance was reached (else no step lowered the value any more).
    """
    n = y0.size
    y = y0.astype(float).copy()
    psi = np.zeros(n) if psi0 is None else psi0.astype(float).copy()
    free_y = lnrate is None or rate_sigma is not None
    free_p = bkg_sigma is not None
    inv_r = 0.0 if rate_sigma is None else 1.0 / rate_sigma**2
    inv_b = 0.0 if bkg_sigma is None else 1.0 / bkg_sigma**2
    y_ref = np.zeros(n) if lnrate is None else lnrate
    scale = np.where(np.isfinite(rows.n_eff), rows.n_eff, 1.0)
    y_min = np.log(_BKG_MU_MIN / scale) if lnrate is None else np.full(n, -np.inf)
    if free_y:
        y = np.maximum(y, y_min)

    def objective(yv: FloatArray, pv: FloatArray, sel: Any, derivs: bool) -> Any:
        v, d = _bkg_state(_bkg_rows_take(rows, sel), yv, pv, derivs)
        return v + 0.5 * inv_r * (yv - y_ref[sel]) ** 2 + 0.5 * inv_b * pv**2, d

    everyone = np.arange(n)
    ok = np.ones(n, dtype=bool)
    if not (free_y or free_p):
        return objective(y, psi, everyone, False)[0], y, psi, ok
    value, d = objective(y, psi, everyone, True)
    act = everyone
    for _ in range(_BKG_NEWTON_ITERS):
        dy, dp, dec = _bkg_newton_step(
            d, y[act] - y_ref[act], psi[act], inv_r, inv_b, free_y, free_p
        )
        dy = np.maximum(dy, y_min[act] - y[act])  # mu >= _BKG_MU_MIN
        small = dec < _BKG_DECREMENT_TOL * np.maximum(1.0, np.abs(value[act]))
        go = ~((np.maximum(np.abs(dy), np.abs(dp)) < _BKG_STEP_TOL) | small)
        act, dy, dp = act[go], dy[go], dp[go]
        if act.size == 0:
            break
        # the full Newton step, value and derivatives at once (accepted almost always)
        vt, dt = objective(y[act] + dy, psi[act] + dp, act, True)
        better = vt < value[act]
        acc = act[better]
        y[acc], psi[acc], value[acc] = y[acc] + dy[better], psi[acc] + dp[better], vt[better]
        d_new = tuple(x[better] for x in dt)
        rest = ~better  # backtracking (from half the step) for the others
        moved = _bkg_line_search(
            objective, y, psi, value, act[rest], 0.5 * dy[rest], 0.5 * dp[rest]
        )
        back = act[rest][moved]
        act, d = acc, d_new
        if back.size:  # derivatives where the step was shortened
            d_back = objective(y[back], psi[back], back, True)[1]
            act = np.concatenate([acc, back])
            d = tuple(np.concatenate([x, xb]) for x, xb in zip(d_new, d_back, strict=True))
    ok[act] = False
    return value, y, psi, ok


def _bkg_newton_step(
    d: tuple[FloatArray, ...],
    phi: FloatArray,
    psi: FloatArray,
    inv_r: float,
    inv_b: float,
    free_y: bool,
    free_p: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Newton step (dy, dpsi) and decrement from :func:`_bkg_state`'s derivatives + constraints.

    ``phi`` = y - y_ref (the rate nuisance), ``psi`` = ln theta_b.  A fixed variable gets
    step 0; where the 2 x 2 Hessian is not positive definite, a scaled gradient step.  The
    decrement is -g.step (before clipping).
    """
    g_y, g_p, h_yy, h_yp, h_pp = d
    zero = np.zeros(phi.shape)
    g_y = g_y + inv_r * phi if free_y else zero
    g_p = g_p + inv_b * psi if free_p else zero
    h_yy = h_yy + inv_r if free_y else np.ones(phi.shape)
    h_pp = h_pp + inv_b if free_p else np.ones(phi.shape)
    h_yp = h_yp if (free_y and free_p) else zero
    det = h_yy * h_pp - h_yp * h_yp
    pd = (h_yy > 0) & (h_pp > 0) & (det > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dy = np.where(pd, -(h_pp * g_y - h_yp * g_p) / det, -g_y / np.abs(h_yy))
        dp = np.where(pd, -(h_yy * g_p - h_yp * g_y) / det, -g_p / np.abs(h_pp))
    dy, dp = np.nan_to_num(dy), np.nan_to_num(dp)
    dec = -(g_y * dy + g_p * dp)
    dy = np.clip(dy, -_BKG_MAX_STEP, _BKG_MAX_STEP)
    dp = np.clip(dp, -_BKG_MAX_STEP, _BKG_MAX_STEP)
    return dy, dp, np.where(pd, dec, np.inf)


def _bkg_rows_take(rows: _BkgRows, sel: NDArray[np.intp]) -> _BkgRows:
    """The toys ``sel`` of a block (the block itself if ``sel`` is every toy)."""
    if sel.size == rows.s.size:
        return rows
    return _BkgRows(
        rows.cnt[sel], rows.x[sel], rows.s[sel], rows.n_eff[sel], rows.b[sel], rows.b_tot
    )


def _bkg_line_search(
    objective: Callable[..., Any],
    y: FloatArray,
    psi: FloatArray,
    value: FloatArray,
    todo: NDArray[np.intp],
    dy: FloatArray,
    dp: FloatArray,
) -> NDArray[np.bool_]:
    """Backtracking: halve the step of every toy ``todo`` whose objective would increase.

    Updates ``y``, ``psi``, ``value`` in place (at most 30 halvings).  Returns, per toy of
    ``todo``, whether a step was taken (False: no step lowers the value, it is at its
    minimum to machine precision).
    """
    moved = np.zeros(todo.size, dtype=bool)
    left = np.arange(todo.size)
    step = 1.0
    for _ in range(30):
        if left.size == 0:
            break
        idx = todo[left]
        yt, pt = y[idx] + step * dy[left], psi[idx] + step * dp[left]
        vt = objective(yt, pt, idx, False)[0]
        better = vt < value[idx]
        acc = idx[better]
        y[acc], psi[acc], value[acc] = yt[better], pt[better], vt[better]
        moved[left[better]] = True
        left = left[~better]
        step *= 0.5
    return moved


def _bkg_start(n: FloatArray, s: FloatArray | float, b_tot: float) -> FloatArray:
    """Starting signal events of a free fit with background: the excess, at least 0.5 / S."""
    return np.maximum(n - b_tot, 0.5) / s


def _grid_eval_background(
    prep: PreparedCounts,
    pf: FloatArray,
    ne: FloatArray,
    r: FloatArray | None,
    rate_sigma: float | None,
    bkg: FloatArray,
    bkg_sigma: float | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(D, mu, theta_b) of every toy at every mass with a background (floored shapes ``pf``).

    The (toy, mass) pairs are fitted in batches of about :data:`_BLOCK` bin entries: all
    masses at once for few toys (one Asimov data set), mass by mass for many, each mass then
    started from the previous one's fit.
    """
    n_toys, n_m = prep.n.size, pf.shape[0]
    d, mu, th = (np.empty((n_toys, n_m)) for _ in range(3))
    bl, b_tot = bkg[prep.order], float(bkg.sum())
    s = pf.sum(axis=1)
    per = max(1, _BLOCK // max(n_toys * prep.cnt.shape[1], 1))  # masses per batch
    start = _BkgStart(np.empty(0), np.empty(0), np.empty(0))
    for j0 in range(0, n_m, per):
        js = np.arange(j0, min(j0 + per, n_m))
        jj = np.repeat(js, n_toys)  # mass of each row (mass major)
        tt = np.tile(np.arange(n_toys), js.size)  # toy of each row
        if start.mu.size != jj.size:  # a new batch size: the generic start
            zero = np.zeros(jj.size)
            start = _BkgStart(_bkg_start(prep.n[tt], s[jj], b_tot), zero, zero.copy())
        x = pf[jj[:, None], prep.order[tt]]
        rows = _BkgRows(prep.cnt[tt], x, s[jj], ne[jj], bl[tt], b_tot)
        rate = None if r is None else r[jj]
        value, m_fit, t_fit = start.fit(rows, rate, rate_sigma, bkg_sigma)
        shape = (js.size, n_toys)
        d[:, js], mu[:, js] = 2.0 * value.reshape(shape).T, m_fit.reshape(shape).T
        th[:, js] = t_fit.reshape(shape).T
    return np.maximum(d, 0.0), mu, th


@dataclass
class _BkgStart:
    """Warm start of successive background fits of the same toys: mu, phi, psi per toy."""

    mu: FloatArray  # signal events (free normalisation)
    phi: FloatArray  # ln(mu / R) (tied)
    psi: FloatArray  # ln theta_b

    def fit(
        self,
        rows: _BkgRows,
        rate: FloatArray | None,
        rate_sigma: float | None,
        bkg_sigma: float | None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(D/2, mu, theta_b) of :func:`_bkg_profile` from the stored start; store the result."""
        scale = np.where(np.isfinite(rows.n_eff), rows.n_eff, 1.0)
        lnr = None if rate is None else np.log(rate / scale)
        y0 = np.log(self.mu / scale) if lnr is None else lnr + self.phi
        value, y, psi, _ = _bkg_profile(rows, y0, lnr, rate_sigma, bkg_sigma, self.psi)
        mu = np.exp(y) * scale
        self.mu, self.psi = mu, psi
        if lnr is not None:
            self.phi = y - lnr
        return value, mu, np.exp(psi)


class _BkgObjective(_Objective):
    """D(u) with a background: :class:`_Objective`'s spline shapes, :func:`_bkg_profile`."""

    def __init__(
        self,
        prep: PreparedCounts,
        tables: SplineTables,
        lnrate: Callable[[FloatArray], FloatArray] | None,
        rate_sigma: float | None,
        mc_stat: bool,
        floor: float,
        background: tuple[FloatArray, float | None],
        start: FloatArray,
    ) -> None:
        super().__init__(prep, tables, lnrate, rate_sigma, mc_stat, floor)
        bkg, self.bkg_sigma = background
        self.b, self.b_tot = bkg[prep.order], float(bkg.sum())
        n = prep.n.size
        self.start = _BkgStart(np.asarray(start, dtype=float).copy(), np.zeros(n), np.zeros(n))
        self.theta = np.ones(n)

    def __call__(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(D, mu) at u; theta_b of the last call in :attr:`theta`."""
        p, s, ne, rate = self.shape_at(u)
        rows = _BkgRows(self.prep.cnt, p, s, ne, self.b, self.b_tot)
        value, mu, self.theta = self.start.fit(rows, rate, self.rate_sigma, self.bkg_sigma)
        return 2.0 * value, mu
