"""Is a model separation physics or template MC noise?  A calibrated shape-identity test.

The shipped templates are histograms of N_MC = 1e6 unweighted events per mass, so two models
with identical normalised distributions (km and cr: sigma_cr = m^4 sigma_km point by point)
still give an Asimov statistic t_A > 0.  :func:`shape_identity_test` measures how large t_A
can be from template noise alone, by a parametric bootstrap of the templates:

* **Null "shapes identical"**: both models' shapes are one common shape p0, estimated by
  pooling the two templates at the same mass (weights N_MC) with :data:`POOL_PRIOR`
  pseudo-events in every bin of the local support (so that bins empty in both templates,
  where the truth is small but not 0, are populated by the resamples as they would be by
  new MC samples; without it the null is anti-conservative); each node of each grid near the
  masses that matter (the true mass and the alternative's best fit, +-``WINDOW`` nodes) is
  redrawn as ``Multinomial(N_MC, p0) / N_MC`` with that template's own N_MC, and the Asimov
  t (masses profiled, the statistic's own likelihood) is recomputed.  The p-value of the
  observed t_A is ``(k + 1) / (B + 1)`` over B resamples; the shapes are *resolved* when it is
  below ``alpha`` (default :data:`IDENTITY_ALPHA`).
* **Template-statistics band**: each template redrawn from itself (ordinary bootstrap of the
  MC sample); the spread of t* gives the band of t_A, as the basic bootstrap interval
  [2 t_A - q(84 %), 2 t_A - q(16 %)] (template noise biases t_A upwards by about the noise-only
  mean; the basic interval removes that bias to first order, Davison and Hinkley 1997,
  eq. 5.6), and with free normalisation the band of N(Z sigma) = Z^2 N / t.

N_MC per template node is read from the stored variances (unweighted templates have
V_b = p_b (1 - p_b) / N_MC): the median of p (1 - p) / V over populated bins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..validation import check_int, check_real
from .sampling import empirical_p_value
from .shapes import ShapeGrid

__all__ = [
    "IDENTITY_ALPHA",
    "POOL_PRIOR",
    "WINDOW",
    "ShapeIdentity",
    "bootstrap_statistics",
    "identity_p_value",
    "resample_grid",
    "shape_identity_test",
    "template_mc_counts",
    "window_nodes",
]

FloatArray = NDArray[np.float64]

#: Shapes count as resolved when the shape-identity p-value is below this (99 % CL).
IDENTITY_ALPHA: float = 0.01
#: Grid nodes on each side of the true mass and of the alternative best fit that are
#: resampled (the interpolation and the mass fit use no node further away in practice).
WINDOW: int = 3
#: Pseudo-events per bin of the local support added to the pooled MC counts of the null's
#: common shape (a Jeffreys prior, 1/2).  Without it the null is anti-conservative with sparse
#: templates: a bin empty in both templates gets probability 0 and is never populated by the
#: resamples, although the truth there is small but not 0, so the noise-only t is too small.
#: Measured (identical truth, both "models" drawn from it, B = 40): on the shipped 1e6-event
#: (E, p_T) km grid at 0.3 GeV, 30 pairs, mean p 0.31 and 17 % with p <= 0.05 with the plain
#: pooled shape, mean p 0.55 and 3 % with it; synthetic 24 x 20 bins at N_MC = 3000, 60
#: pairs: 0.27 / 17 % and 0.59 / 3 % (tests/stats/test_calibration_null.py).
POOL_PRIOR: float = 0.5
#: Quantiles of the template-statistics band (one standard deviation for a Gaussian).
BAND_QUANTILES: tuple[float, float] = (0.16, 0.84)


def template_mc_counts(grid: ShapeGrid) -> FloatArray:
    """MC events behind each template node, from the stored variances.

    Parameters
    ----------
    grid : ShapeGrid
        Shapes with their MC variances.

    Returns
    -------
    ndarray, shape (n_m,)
        N_MC = median over populated bins of p (1 - p) / V (>= 1; events).

    Raises
    ------
    InputError
        A node without populated bins with a positive variance (no MC information).

    Examples
    --------
    The shipped templates hold 1e6 events per mass; projected on E (variances summed,
    bin-to-bin correlations neglected) the estimate is a little lower:

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.calibration import template_mc_counts
    >>> [f"{n:.2g}" for n in template_mc_counts(load_grid("km", observables="E"))[:3]]
    ['9.8e+05', '9.8e+05', '9.8e+05']
    """
    out = np.empty(grid.masses.size)
    for i, (p, v) in enumerate(zip(grid.probs, grid.variances, strict=True)):
        ok = (p > 0) & (v > 0)
        if not np.any(ok):
            raise InputError(
                f"template {grid.model} at m = {grid.masses[i]:g} GeV has no MC variances: "
                "its statistical precision (N_MC) is unknown"
            )
        out[i] = max(float(np.median(p[ok] * (1 - p[ok]) / v[ok])), 1.0)
    return out


def resample_grid(
    grid: ShapeGrid,
    rng: np.random.Generator,
    nodes: NDArray[np.intp],
    *,
    source: FloatArray | None = None,
    n_mc: FloatArray | None = None,
) -> ShapeGrid:
    """A copy of ``grid`` whose ``nodes`` are redrawn as MC histograms.

    Parameters
    ----------
    grid : ShapeGrid
        The templates.
    rng : numpy.random.Generator
        Random stream.
    nodes : ndarray of int
        Node indices to redraw (the others are kept).
    source : ndarray, shape (len(nodes), n_bins), optional
        Shapes to draw from (default: the nodes' own shapes: a bootstrap of the MC sample).
    n_mc : ndarray, shape (n_m,), optional
        MC events per node (default :func:`template_mc_counts`).

    Returns
    -------
    ShapeGrid
        Redrawn nodes have p = k / N_MC (k ~ Multinomial(N_MC, source)) and
        V = p (1 - p) / N_MC, the convention of the shipped templates.

    Examples
    --------
    Node 21 (0.0915 GeV) of the km energy templates redrawn with its ~1e6 MC events moves
    by a few 1e-3 in total (sum of |changes| over the 40 bins); the other nodes are kept:

    >>> import numpy as np
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.calibration import resample_grid
    >>> grid = load_grid("km", observables="E")
    >>> new = resample_grid(grid, np.random.default_rng(1), np.array([21]))
    >>> bool(1e-3 < np.abs(new.probs[21] - grid.probs[21]).sum() < 1e-2)
    True
    >>> bool(np.allclose(new.probs[20], grid.probs[20], rtol=1e-15, atol=0.0))  # node 20 kept
    True
    """
    n_mc = template_mc_counts(grid) if n_mc is None else np.asarray(n_mc, dtype=float)
    src = grid.probs[nodes] if source is None else np.asarray(source, dtype=float)
    src = src / src.sum(axis=1, keepdims=True)
    n = np.rint(n_mc[nodes]).astype(np.int64)
    k = rng.multinomial(n, src).astype(float)
    probs, variances = grid.probs.copy(), grid.variances.copy()
    probs[nodes] = k / n[:, None]
    variances[nodes] = probs[nodes] * (1 - probs[nodes]) / n[:, None]
    return ShapeGrid(grid.model, grid.masses, probs, variances, grid.n1, grid.observables)


@dataclass(frozen=True)
class ShapeIdentity:
    """Outcome of :func:`shape_identity_test` (t is the Asimov discrimination statistic).

    Attributes
    ----------
    t_asimov : float
        Observed t_A of the shipped templates.
    p_value : float
        P(t >= t_A | shapes identical, differences are template noise), (k + 1) / (B + 1).
    resolved : bool
        ``p_value < alpha``: the templates resolve a shape difference.
    alpha : float
        Level of ``resolved``.
    t_noise_mean, t_noise_std : float
        Mean and standard deviation of the noise-only t.
    z_noise : float
        (t_A - t_noise_mean) / t_noise_std (descriptive: t_A in noise standard deviations).
    t_band : tuple of float
        (low, central, high) basic-bootstrap band of t_A from the template statistics:
        2 t_A - (q84, q50, q16) of the resampled t*.
    n_3sigma_band, n_5sigma_band : tuple of (float or None) or None
        Band of the events for Z_A = 3, 5 (9 N / t and 25 N / t over ``t_band``; high end
        None when the low t is <= 0: not resolved at the low edge); None with tied rates.
    n_resamples : int
        B (each for the null and for the band).
    t_noise, t_boot : ndarray
        The noise-only and the bootstrap t*.

    Examples
    --------
    See :func:`shape_identity_test`; the fields of a result:

    >>> from darkmoments.stats.calibration import ShapeIdentity
    >>> [f for f in ShapeIdentity.__dataclass_fields__][:4]
    ['t_asimov', 'p_value', 'resolved', 'alpha']
    """

    t_asimov: float
    p_value: float
    resolved: bool
    alpha: float
    t_noise_mean: float
    t_noise_std: float
    z_noise: float
    t_band: tuple[float, float, float]
    n_3sigma_band: tuple[float | None, float | None] | None
    n_5sigma_band: tuple[float | None, float | None] | None
    n_resamples: int
    t_noise: FloatArray = field(repr=False)
    t_boot: FloatArray = field(repr=False)


def window_nodes(grid: ShapeGrid, masses: tuple[float, ...]) -> NDArray[np.intp]:
    """Node indices within :data:`WINDOW` nodes of any of ``masses`` (GeV).

    The nodes a template bootstrap redraws: the interpolation and the mass fits near those
    masses use no node further away in practice.

    Parameters
    ----------
    grid : ShapeGrid
        The templates.
    masses : tuple of float
        Masses in GeV.

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.calibration import window_nodes
    >>> grid = load_grid("km", observables="E")
    >>> window_nodes(grid, (0.1,))  # 0.1 GeV lies between nodes 21 and 22
    array([19, 20, 21, 22, 23, 24, 25, 26])
    >>> window_nodes(grid, (0.1, 0.5)).size  # two windows
    16
    """
    u = np.log(grid.masses)
    idx: set[int] = set()
    for m in masses:
        i = int(np.clip(np.searchsorted(u, math.log(m)), 0, u.size - 1))
        idx.update(range(max(i - WINDOW - 1, 0), min(i + WINDOW + 1, u.size)))
    return np.array(sorted(idx), dtype=np.intp)


def _pooled(
    own: ShapeGrid, other: ShapeGrid, nodes: NDArray[np.intp], n_own: FloatArray, n_other: float
) -> FloatArray:
    """Common shape at ``own``'s ``nodes`` under the null (see :data:`POOL_PRIOR`).

    The pooled MC counts of both templates (own and other's shape with weights N_MC) plus
    :data:`POOL_PRIOR` pseudo-events in every bin of the local support (bins populated in
    either model at the node or its neighbouring nodes), normalised.
    """
    lo, hi = other.mass_range

    def other_at(j: int) -> FloatArray:
        q = other.shape(min(max(float(own.masses[j]), lo), hi))
        return q / q.sum()

    rows = []
    for i in nodes:
        p = own.probs[i] / own.probs[i].sum()
        counts = n_own[i] * p + n_other * other_at(int(i))
        near = range(max(int(i) - 1, 0), min(int(i) + 2, own.masses.size))
        support = np.zeros(p.shape, dtype=bool)
        for j in near:
            support |= (own.probs[j] > 0) | (other_at(j) > 0)
        x = counts + POOL_PRIOR * support
        rows.append(x / x.sum())
    return np.array(rows)


def shape_identity_test(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    *,
    true_mass: float,
    alt_mass: float,
    n_events: float,
    asimov_t: Callable[[ShapeGrid, ShapeGrid], float],
    scalable: bool = True,
    n_resamples: int = 200,
    seed: int = 0,
    alpha: float = IDENTITY_ALPHA,
) -> ShapeIdentity:
    """Calibrated test of "the two models' shapes are identical" (see the module doc).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Templates with MC variances.
    true_mass, alt_mass : float
        True mass and the alternative's Asimov best fit (GeV): the resampled nodes are those
        within :data:`WINDOW` nodes of either.
    n_events : float
        Expected true signal events N.
    asimov_t : callable
        ``asimov_t(true_grid, alt_grid)`` -> t_A for a pair of grids (the statistic as used,
        e.g. mass profiled, with the same likelihood and rates).
    scalable : bool
        t_A proportional to N (free normalisation): report the N(3, 5 sigma) bands.
    n_resamples : int
        B >= 20 resamples for the null and again for the band.
    seed : int
        Seed of the resampling (>= 0).
    alpha : float
        Level in (0, 1) below which the shapes count as resolved.

    Returns
    -------
    ShapeIdentity

    Examples
    --------
    km and cr have identical shapes (sigma_cr = m^4 sigma_km point by point): with 50
    events at 0.1 GeV in the recoil energy (masses profiled over the grid nodes, fast)
    their t_A = 0.003 is what template noise alone gives (mean 0.003), p = 0.57, not
    resolved.  md differs: t_A = 3.7, above all 20 noise-only resamples, p = 1/21 (the
    resolution of B = 20; the default is B = 200):

    >>> from darkmoments.stats.calibration import shape_identity_test
    >>> from dataclasses import replace
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup, alternative_point
    >>> km, cr, md = (load_grid(m, observables="E") for m in ("km", "cr", "md"))
    >>> def asimov_t_of(setup):
    ...     return lambda a, b: alternative_point(replace(setup, true_grid=a, alt_grid=b))[2]
    >>> s = DiscriminationSetup(km, cr, 0.1, 50.0, refine=False)
    >>> m_alt, _, t_a = alternative_point(s)
    >>> res = shape_identity_test(km, cr, true_mass=0.1, alt_mass=m_alt, n_events=50.0,
    ...                           asimov_t=asimov_t_of(s), n_resamples=20, seed=1)
    >>> round(res.t_asimov, 4), round(res.p_value, 2), res.resolved
    (0.0027, 0.57, False)
    >>> s = DiscriminationSetup(km, md, 0.1, 50.0, refine=False)
    >>> m_alt, _, t_a = alternative_point(s)
    >>> res = shape_identity_test(km, md, true_mass=0.1, alt_mass=m_alt, n_events=50.0,
    ...                           asimov_t=asimov_t_of(s), n_resamples=20, seed=1, alpha=0.05)
    >>> round(res.t_asimov, 2), round(res.p_value, 3), res.resolved
    (3.66, 0.048, True)

    Its template-statistics band is narrow (1e6 MC events per mass), and so is that of the
    events for 5 sigma, 25 x 50 / t ~ 340 events:

    >>> lo, mid, hi = res.t_band
    >>> n_lo, n_hi = res.n_5sigma_band
    >>> bool(3.5 < lo < mid < hi < 3.8), bool(320 < n_lo < n_hi < 370)
    (True, True)
    """
    b = check_int("n_resamples", n_resamples, lo=20)
    alpha = check_real("alpha", alpha, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    nt, na = template_mc_counts(true_grid), template_mc_counts(alt_grid)
    it = window_nodes(true_grid, (true_mass, alt_mass))
    ia = window_nodes(alt_grid, (true_mass, alt_mass))
    src_t = _pooled(true_grid, alt_grid, it, nt, float(np.median(na)))
    src_a = _pooled(alt_grid, true_grid, ia, na, float(np.median(nt)))
    t_a = float(asimov_t(true_grid, alt_grid))
    noise = np.empty(b)
    boot = np.empty(b)
    for r in range(b):
        g_t = resample_grid(true_grid, rng, it, source=src_t, n_mc=nt)
        g_a = resample_grid(alt_grid, rng, ia, source=src_a, n_mc=na)
        noise[r] = asimov_t(g_t, g_a)
        g_t = resample_grid(true_grid, rng, it, n_mc=nt)
        g_a = resample_grid(alt_grid, rng, ia, n_mc=na)
        boot[r] = asimov_t(g_t, g_a)
    p = empirical_p_value(int(np.count_nonzero(noise >= t_a)), b)
    q_lo, q_mid, q_hi = np.quantile(boot, [BAND_QUANTILES[0], 0.5, BAND_QUANTILES[1]])
    band = (2 * t_a - float(q_hi), 2 * t_a - float(q_mid), 2 * t_a - float(q_lo))
    mean, std = float(noise.mean()), float(noise.std(ddof=1))
    return ShapeIdentity(
        t_asimov=t_a,
        p_value=p,
        resolved=p < alpha,
        alpha=alpha,
        t_noise_mean=mean,
        t_noise_std=std,
        z_noise=(t_a - mean) / std if std > 0 else math.inf,
        t_band=band,
        n_3sigma_band=_n_band(9.0, n_events, band) if scalable else None,
        n_5sigma_band=_n_band(25.0, n_events, band) if scalable else None,
        n_resamples=b,
        t_noise=noise,
        t_boot=boot,
    )


def _n_band(
    z2: float, n_events: float, band: tuple[float, float, float]
) -> tuple[float | None, float | None]:
    """(low, high) events for Z^2 = ``z2`` over the t band (None: t <= 0, not reached)."""
    lo_t, _, hi_t = band
    return (
        z2 * n_events / hi_t if hi_t > 0 else None,
        z2 * n_events / lo_t if lo_t > 0 else None,
    )


def bootstrap_statistics(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    masses: tuple[float, ...],
    statistics: Callable[[ShapeGrid, ShapeGrid], FloatArray],
    *,
    n_resamples: int,
    seed: int = 0,
) -> FloatArray:
    """Statistics of template pairs redrawn from themselves (ordinary bootstrap of the MC).

    Each resample redraws the nodes of both grids within :data:`WINDOW` nodes of
    ``masses`` (:func:`window_nodes`) from their own shapes (:func:`resample_grid`) and
    evaluates ``statistics(true, alt)``; the grids are discarded after use (memory stays
    that of one pair).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Templates with MC variances.
    masses : tuple of float
        Masses in GeV around which nodes are redrawn.
    statistics : callable
        ``statistics(true_grid, alt_grid)`` -> 1D array of k values.
    n_resamples : int
        B >= 1.
    seed : int
        Seed (>= 0).

    Returns
    -------
    ndarray, shape (B, k)

    Examples
    --------
    The largest E-bin probability near 0.1 GeV (0.48) of km and md redrawn 5 times: the
    spread (~4e-4) is the templates' MC precision:

    >>> import numpy as np
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.calibration import bootstrap_statistics
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> stats = bootstrap_statistics(
    ...     km, md, (0.1,), lambda a, b: np.array([a.probs[21].max(), b.probs[21].max()]),
    ...     n_resamples=5)
    >>> stats.shape, bool(np.all(stats.std(axis=0) < 1e-3))
    ((5, 2), True)
    """
    b = check_int("n_resamples", n_resamples, lo=1)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    nt, na = template_mc_counts(true_grid), template_mc_counts(alt_grid)
    it, ia = window_nodes(true_grid, masses), window_nodes(alt_grid, masses)
    rows = []
    for _ in range(b):
        g_t = resample_grid(true_grid, rng, it, n_mc=nt)
        g_a = resample_grid(alt_grid, rng, ia, n_mc=na)
        rows.append(np.atleast_1d(np.asarray(statistics(g_t, g_a), dtype=float)))
    return np.array(rows)


def identity_p_value(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    *,
    true_mass: float,
    alt_mass: float,
    asimov_t: Callable[[ShapeGrid, ShapeGrid], float],
    n_resamples: int = 100,
    seed: int = 0,
) -> tuple[float, float, FloatArray]:
    """The null part of :func:`shape_identity_test` alone (no t_A band): half the cost.

    The same null ("shapes identical": both grids' nodes near ``true_mass`` and
    ``alt_mass`` redrawn from their pooled shape) and the same p-value (k + 1) / (B + 1);
    the random stream differs from :func:`shape_identity_test`'s (which interleaves the
    band's resamples), so the two p-values agree in distribution, not draw by draw.

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Templates with MC variances.
    true_mass, alt_mass : float
        True mass and the alternative's Asimov best fit (GeV).
    asimov_t : callable
        ``asimov_t(true_grid, alt_grid)`` -> t_A.
    n_resamples : int
        B >= 20.
    seed : int
        Seed (>= 0).

    Returns
    -------
    (float, float, ndarray)
        t_A, its p-value under the null and the B noise-only t.

    Examples
    --------
    km against cr (identical shapes), 50 events at 0.1 GeV in E: not resolved:

    >>> from darkmoments.stats.calibration import identity_p_value
    >>> from dataclasses import replace
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup, alternative_point
    >>> km, cr, md = (load_grid(m, observables="E") for m in ("km", "cr", "md"))
    >>> def asimov_t_of(setup):
    ...     return lambda a, b: alternative_point(replace(setup, true_grid=a, alt_grid=b))[2]
    >>> s = DiscriminationSetup(km, cr, 0.1, 50.0, refine=False)
    >>> t_a, p, noise = identity_p_value(km, cr, true_mass=0.1, alt_mass=alternative_point(s)[0],
    ...                                  asimov_t=asimov_t_of(s), n_resamples=20, seed=1)
    >>> round(t_a, 4), p > 0.05, noise.size
    (0.0027, True, 20)
    """
    b = check_int("n_resamples", n_resamples, lo=20)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    nt, na = template_mc_counts(true_grid), template_mc_counts(alt_grid)
    it = window_nodes(true_grid, (true_mass, alt_mass))
    ia = window_nodes(alt_grid, (true_mass, alt_mass))
    src_t = _pooled(true_grid, alt_grid, it, nt, float(np.median(na)))
    src_a = _pooled(alt_grid, true_grid, ia, na, float(np.median(nt)))
    t_a = float(asimov_t(true_grid, alt_grid))
    noise = np.empty(b)
    for r in range(b):
        g_t = resample_grid(true_grid, rng, it, source=src_t, n_mc=nt)
        g_a = resample_grid(alt_grid, rng, ia, source=src_a, n_mc=na)
        noise[r] = asimov_t(g_t, g_a)
    return t_a, empirical_p_value(int(np.count_nonzero(noise >= t_a)), b), noise
