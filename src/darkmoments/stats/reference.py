"""Slow, independent references of the package's likelihood (pyhf and iminuit), toy by toy.

The fast path (:mod:`darkmoments.stats.fast`) profiles the Barlow-Beeston nuisances in closed
form and sums only each toy's non-empty bins.  The references here fit the same likelihood
another way, so that tests (tests/stats/test_likelihood.py) and the benchmark
(benchmarks/bench_stats.py) compare like with like:

* :func:`reference_statistic_pyhf` -- pyhf, one channel, one sample per grid mass: nominal
  p_b (events per unit mu), the free normfactor ``mu``, and a ``shapesys`` modifier (the
  Poisson-constrained per-bin factor gamma_b = A_b / a_b with tau_b = a_b = N p_b, i.e. full
  Barlow-Beeston).  Bins empty in the template (a_b = 0) cannot be written with a_b = 0
  (pyhf masks such bins); they get nominal w = 1/N and uncertainty w (tau = 1, gamma = A_b)
  with observed auxiliary datum 0, which is exactly Poisson(n | mu w A_b) Poisson(0 | A_b).
  Every gamma_b and mu are fitted numerically by pyhf's Minuit optimizer; the deviance is
  twice_nll minus its saturated value (data and auxiliary data), so pyhf's Poisson constants
  cancel.  ``refine=True`` profiles the mass continuously on top (bounded 1D minimisation
  of the pyhf profile over u = ln m on the grid's spline interpolation).
* :func:`reference_statistic_iminuit` -- per toy and hypothesis, Minuit over (u = ln m, mu)
  (and ln theta with a normalisation nuisance) of the every-bin deviance
  (:func:`darkmoments.stats.fits.deviance`, A_b profiled in closed form), started from a
  scan of 8 points per grid segment; ``refine=False`` minimises over mu at each grid node.

With a background (``background``: expected events per bin, ``background_sigma``: the
log-normal width s_b of its normalisation theta_b): pyhf gets a second sample
``background`` with, for s_b, the normsys ``bkg_norm`` with hi = e^s_b, lo = e^-s_b and
interpolation code 1 (theta_b = e^(s_b alpha), alpha ~ N(0, 1): exactly the constraint
(ln theta_b)^2 / s_b^2 of the fast path); the Gaussian auxiliary datum 0 contributes
ln(2 pi) to the saturated twice_nll.  The gammas of ``shapesys`` stay numerical, so pyhf
checks the fast path's closed-form quadratic for A_b; iminuit fits ln theta_b as one more
parameter of the every-bin deviance.

Both are orders of magnitude slower than the fast path and meant for small problems.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .fast import P_FLOOR, check_rate_sigma
from .fits import deviance
from .shapes import ShapeGrid

__all__ = ["reference_statistic_iminuit", "reference_statistic_pyhf"]

FloatArray = NDArray[np.float64]


# ----------------------------------------------------------------------------- pyhf


def reference_statistic_pyhf(
    counts: FloatArray,
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    *,
    p_floor: float | None = None,
    tolerance: float = 1e-8,
    refine: bool = False,
    mc_stat: bool = True,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> FloatArray:
    """The discrimination statistic t = min D(alt) - min D(true) from pyhf fits, toy by toy.

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Toys.
    true_grid, alt_grid : ShapeGrid
        Hypotheses (normalisation free).
    p_floor : float, optional
        Floor of the plain likelihood (``mc_stat=False``, default
        :data:`~darkmoments.stats.fast.P_FLOOR`); unused with Barlow-Beeston.
    tolerance : float
        Minuit tolerance of pyhf's optimizer.
    refine : bool
        False: minimum over the grid nodes (the fast path's ``refine=False``); True: the mass
        profiled continuously (the fast path's default).
    mc_stat : bool
        Barlow-Beeston via ``shapesys`` (True) or the plain Poisson likelihood (False).
    background, background_sigma
        Expected background events per bin and the log-normal width of its normalisation
        (module docstring); None: no background.

    Returns
    -------
    ndarray, shape (n_toys,)

    Examples
    --------
    Two small synthetic hypotheses (3 masses, 3 x 2 bins, 1e4 MC events per template) and
    two data sets; the slow reference and the fast path
    (:func:`~darkmoments.stats.toys.discrimination_statistic`, grid nodes only) agree:

    >>> import numpy as np
    >>> from darkmoments.stats import ShapeGrid
    >>> from darkmoments.stats.reference import reference_statistic_pyhf
    >>> from darkmoments.stats.toys import DiscriminationSetup, discrimination_statistic
    >>> from darkmoments.testing.synthetic import synthetic_grid_templates
    >>> grids = [ShapeGrid.from_templates(
    ...     synthetic_grid_templates(m, [0.1, 0.2, 0.4], bins=(3, 2), n_mc=1e4), "E,pt")
    ...     for m in ("km", "md")]
    >>> counts = np.array([[57.0, 1, 18, 0, 0, 0], [59.0, 1, 27, 1, 2, 0]])
    >>> t_ref = reference_statistic_pyhf(counts, *grids)  # about 0.6 s
    >>> t_ref.round(3)
    array([7.715, 2.411])
    >>> setup = DiscriminationSetup(*grids, 0.2, 100.0, refine=False)
    >>> bool(np.allclose(t_ref, discrimination_statistic(counts, setup), rtol=1e-5))
    True
    """
    from .limits import pyhf_backend

    c = np.atleast_2d(np.asarray(counts, dtype=float))
    floor = P_FLOOR if p_floor is None else float(p_floor)
    bkg = (background, background_sigma)
    res = np.empty(c.shape[0])
    with pyhf_backend("minuit", tolerance=tolerance):
        for i, row in enumerate(c):
            d = [_profile_pyhf(row, g, refine, mc_stat, floor, bkg) for g in (alt_grid, true_grid)]
            res[i] = d[0] - d[1]
    return res


def pyhf_deviance(
    row: FloatArray,
    probs: FloatArray,
    n_eff: float,
    *,
    mc_stat: bool = True,
    p_floor: float = P_FLOOR,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> float:
    """Deviance of one data row for one shape, normalisation free, fitted by pyhf.

    Must run inside :func:`~darkmoments.stats.limits.pyhf_backend` (or with any pyhf
    backend set).  See the module docstring for the model (and the background sample).
    """
    import pyhf

    p = np.asarray(probs, dtype=float)
    plain = not mc_stat or not np.isfinite(n_eff)
    if plain:
        nominal = np.maximum(p, p_floor)
        mods: list[dict[str, Any]] = [{"name": "mu", "type": "normfactor", "data": None}]
        aux_obs: list[float] = []
    else:
        w = 1.0 / n_eff
        empty = p <= 0
        nominal = np.where(empty, w, p)
        sigma = np.where(empty, w, np.sqrt(np.where(empty, 1.0, p) * w))
        mods = [
            {"name": "mu", "type": "normfactor", "data": None},
            {"name": "mcstat", "type": "shapesys", "data": sigma.tolist()},
        ]
    samples = [{"name": "signal", "data": nominal.tolist(), "modifiers": mods}]
    if background is not None:
        samples.append(_pyhf_background(background, background_sigma))
    spec = {"channels": [{"name": "ch", "samples": samples}]}
    settings = {"normsys": {"interpcode": "code1"}, "histosys": {"interpcode": "code0"}}
    model = pyhf.Model(spec, poi_name="mu", validate=False, modifier_settings=settings)
    n = float(row.sum())
    top = max(10.0, 10.0 * n / float(nominal.sum()))
    bounds = [list(b) for b in model.config.suggested_bounds()]
    init = list(model.config.suggested_init())
    mu_i = model.config.par_slice("mu").start
    bounds[mu_i] = [0.0, top]
    init[mu_i] = max(n / float(nominal.sum()), 1e-6)
    if not plain:
        tau = np.where(p <= 0, 1.0, p * n_eff)
        aux_obs = np.where(p <= 0, 0.0, tau).tolist()
        sl = model.config.par_slice("mcstat")
        mu0 = init[mu_i]
        for k, b in enumerate(range(sl.start, sl.stop)):
            a_b = aux_obs[k]
            gam0 = (row[k] + a_b) / (1.0 + mu0 / n_eff) / tau[k]  # closed form at mu0
            bounds[b] = [1e-12, max(10.0, 100.0 * (row[k] + a_b + 1.0) / tau[k])]
            init[b] = float(min(max(gam0, 1e-6), bounds[b][1]))
    data, n_gauss = _pyhf_data(model, row, aux_obs)
    try:
        _, twice_nll = pyhf.infer.mle.fit(
            data, model, init_pars=init, par_bounds=bounds, return_fitted_val=True
        )
    except pyhf.exceptions.FailedMinimization as err:
        # Minuit's validity flag fails when a gamma of a (nearly) empty template bin is
        # unconstrained to far above 1 (huge error, no effect on the minimum): use its value
        twice_nll = float(err.result.fun)
    sat = _saturated_twice_nll(row, np.asarray(aux_obs, dtype=float))
    return float(twice_nll) - sat - n_gauss * math.log(2.0 * math.pi)


def _pyhf_background(background: FloatArray, sigma: float | None) -> dict[str, Any]:
    """The ``background`` sample, with the log-normal normsys ``bkg_norm`` if ``sigma``."""
    mods: list[dict[str, Any]] = []
    if sigma is not None:
        hi = math.exp(float(sigma))
        mods.append({"name": "bkg_norm", "type": "normsys", "data": {"hi": hi, "lo": 1.0 / hi}})
    return {"name": "background", "data": np.asarray(background, float).tolist(), "modifiers": mods}


def _pyhf_data(model: Any, row: FloatArray, aux_obs: list[float]) -> tuple[list[float], int]:
    """Observations + auxiliary data in pyhf's order (``mcstat`` = ``aux_obs``), Gaussians."""
    aux: list[float] = []
    n_gauss = 0
    full = list(model.config.auxdata)
    pos = 0
    for name in model.config.auxdata_order:
        k = model.config.param_set(name).n_parameters
        if name == "mcstat":
            aux += list(aux_obs)
        else:
            aux += full[pos : pos + k]
            n_gauss += k
        pos += k
    return list(map(float, row)) + aux, n_gauss


def _saturated_twice_nll(row: FloatArray, aux: FloatArray) -> float:
    """-2 sum ln Poisson(x | x) over data and auxiliary data (pyhf's continuous Poisson)."""
    from scipy.special import gammaln

    x = np.concatenate([np.asarray(row, dtype=float), aux])
    with np.errstate(divide="ignore", invalid="ignore"):
        xlx = np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)
    return float(-2.0 * np.sum(xlx - x - gammaln(x + 1.0)))


def _profile_pyhf(
    row: FloatArray,
    grid: ShapeGrid,
    refine: bool,
    mc_stat: bool,
    floor: float,
    background: tuple[FloatArray | None, float | None] = (None, None),
) -> float:
    """min over the mass of :func:`pyhf_deviance` (grid nodes; continuous if ``refine``)."""
    bkg: dict[str, Any] = {"background": background[0], "background_sigma": background[1]}

    def dev(u: float) -> float:
        m = float(np.exp(u))
        return pyhf_deviance(
            row, grid.shape(m), grid.n_eff(m), mc_stat=mc_stat, p_floor=floor, **bkg
        )

    u = np.log(grid.masses)
    vals = np.array([dev(x) for x in u])
    k = int(np.argmin(vals))
    if not refine or u.size == 1:
        return float(vals[k])
    return _bounded_min(dev, u, k, float(vals[k]))


def _bounded_min(f: Any, u: FloatArray, k: int, f_k: float) -> float:
    """Minimum of f(u) on the segments next to node k (scan of 8 points each, then Brent)."""
    from scipy.optimize import minimize_scalar

    lo, hi = u[max(k - 1, 0)], u[min(k + 1, u.size - 1)]
    xs = np.linspace(lo, hi, 17)
    fs = np.array([f_k if np.isclose(x, u[k], rtol=0, atol=1e-15) else f(x) for x in xs])
    j = int(np.argmin(fs))
    a, b = xs[max(j - 1, 0)], xs[min(j + 1, xs.size - 1)]
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-9})
    return float(min(res.fun, fs[j]))


# ----------------------------------------------------------------------------- iminuit


def reference_statistic_iminuit(
    counts: FloatArray,
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    *,
    rates_true: FloatArray | None = None,
    rates_alt: FloatArray | None = None,
    rate_sigma: float | None = None,
    refine: bool = True,
    mc_stat: bool = True,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> FloatArray:
    """The discrimination statistic from iminuit fits of the every-bin deviance, toy by toy.

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Toys.
    true_grid, alt_grid : ShapeGrid
        Hypotheses.
    rates_true, rates_alt : ndarray, optional
        Tied expected events at each grid mass (interpolated as ln R by the spline in ln m,
        as the fast path does); None = normalisation free (a Minuit parameter).
    rate_sigma : float, optional
        Relative log-normal normalisation uncertainty of the tied rates (ln theta a Minuit
        parameter, constraint (ln theta)^2 / rate_sigma^2).
    refine : bool
        Continuous mass (True) or grid nodes only.
    mc_stat : bool
        Barlow-Beeston (True) or plain Poisson.
    background, background_sigma
        Expected background events per bin and the log-normal width of its normalisation
        (ln theta_b a Minuit parameter; module docstring); None: no background.

    Returns
    -------
    ndarray, shape (n_toys,)

    Examples
    --------
    Two small synthetic hypotheses (3 masses, 3 x 2 bins, 1e4 MC events per template) and
    two data sets; the slow reference and the fast path
    (:func:`~darkmoments.stats.toys.discrimination_statistic`, grid nodes only) agree:

    >>> import numpy as np
    >>> from darkmoments.stats import ShapeGrid
    >>> from darkmoments.stats.reference import reference_statistic_iminuit
    >>> from darkmoments.stats.toys import DiscriminationSetup, discrimination_statistic
    >>> from darkmoments.testing.synthetic import synthetic_grid_templates
    >>> grids = [ShapeGrid.from_templates(
    ...     synthetic_grid_templates(m, [0.1, 0.2, 0.4], bins=(3, 2), n_mc=1e4), "E,pt")
    ...     for m in ("km", "md")]
    >>> counts = np.array([[57.0, 1, 18, 0, 0, 0], [59.0, 1, 27, 1, 2, 0]])
    >>> t_ref = reference_statistic_iminuit(counts, *grids, refine=False)  # about 0.1 s
    >>> t_ref.round(3)
    array([7.715, 2.411])
    >>> setup = DiscriminationSetup(*grids, 0.2, 100.0, refine=False)
    >>> bool(np.allclose(t_ref, discrimination_statistic(counts, setup), rtol=1e-5))
    True
    """
    rate_sigma = check_rate_sigma(rate_sigma)
    bkg: dict[str, Any] = {"background": background, "background_sigma": background_sigma}
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    fits = []
    for grid, rates in ((alt_grid, rates_alt), (true_grid, rates_true)):
        if rate_sigma is not None and rates is None:
            raise InputError("rate_sigma needs tied rates")
        fits.append(
            [minuit_profile(row, grid, rates, rate_sigma, refine, mc_stat, **bkg) for row in c]
        )
    return np.asarray(fits[0]) - np.asarray(fits[1])


def minuit_profile(
    row: FloatArray,
    grid: ShapeGrid,
    rates: FloatArray | None = None,
    rate_sigma: float | None = None,
    refine: bool = True,
    mc_stat: bool = True,
    background: FloatArray | None = None,
    background_sigma: float | None = None,
) -> float:
    """min over (m, mu[, theta][, theta_b]) of the every-bin deviance of one row, with iminuit.

    ``background`` (events per bin) enters as mu w A_b + theta_b b_b; ``background_sigma``
    makes psi = ln theta_b a parameter with the constraint psi^2 / background_sigma^2
    (theta_b = 1 without).
    """
    from iminuit import Minuit
    from scipy.interpolate import CubicSpline

    u_nodes = np.log(grid.masses)
    lnr = None
    if rates is not None:
        lr = np.log(np.asarray(rates, dtype=float))
        lnr = (lambda _x: lr[0]) if lr.size == 1 else CubicSpline(u_nodes, lr, bc_type="not-a-knot")
    n = float(row.sum())

    b = None if background is None else np.asarray(background, dtype=float)
    lmu0 = np.log(max(n, 1e-3)) if b is None else np.log(max(n - float(b.sum()), 0.5))

    def full(u: float, lmu: float, phi: float, psi: float) -> float:
        m = float(np.exp(min(max(u, u_nodes[0]), u_nodes[-1])))
        mu = float(np.exp(lmu)) if lnr is None else float(np.exp(lnr(u) + phi))
        bk = None if b is None else b * float(np.exp(psi))
        d = deviance(row, grid.shape(m), mu, n_eff=grid.n_eff(m), mc_stat=mc_stat, background=bk)
        d += psi**2 / background_sigma**2 if background_sigma is not None else 0.0
        return d + (phi**2 / rate_sigma**2 if rate_sigma is not None else 0.0)

    def fit(u0: float, fix_u: bool, bounds: tuple[float, float]) -> float:
        if fix_u and lnr is not None and rate_sigma is None and background_sigma is None:
            return full(u0, 0.0, 0.0, 0.0)  # nothing free (Minuit needs 1)
        mi = Minuit(full, u=u0, lmu=lmu0, phi=0.0, psi=0.0)
        mi.errordef = Minuit.LEAST_SQUARES
        mi.strategy = 2
        mi.tol = 1e-7
        mi.fixed["u"] = fix_u
        mi.limits["u"] = bounds
        mi.fixed["lmu"] = lnr is not None
        mi.fixed["phi"] = rate_sigma is None
        mi.fixed["psi"] = b is None or background_sigma is None
        mi.migrad()
        return float(mi.fval)

    if not refine or u_nodes.size == 1:
        return min(fit(float(x), True, (x - 1.0, x + 1.0)) for x in u_nodes)
    xs = np.concatenate(
        [np.linspace(u_nodes[i], u_nodes[i + 1], 9)[:-1] for i in range(u_nodes.size - 1)]
        + [u_nodes[-1:]]
    )
    scan = np.array([fit(float(x), True, (x - 1.0, x + 1.0)) for x in xs])
    j = int(np.argmin(scan))
    lo, hi = xs[max(j - 1, 0)], xs[min(j + 1, xs.size - 1)]
    return min(float(scan[j]), fit(float(xs[j]), False, (float(lo), float(hi))))
