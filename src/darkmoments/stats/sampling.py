"""Toys for a composite null and importance-sampled tail probabilities.

Two pieces used by the discrimination toys (:mod:`darkmoments.stats.toys`):

* **Null toys** (:func:`null_toys`).  With the normalisation free, the total count n is
  sufficient for it and carries no shape information, so the toys are drawn *conditionally on
  the observed total*: ``Multinomial(n, p_alt(m_hat))``, which does not depend on the
  alternative's normalisation at all (an exactly similar test in mu); the remaining nuisance,
  the alternative mass, is set to its fit to the observed data (parametric bootstrap).  With
  the normalisation tied to a rate the total count is information, and the toys are
  ``Poisson(R(m_hat) p_alt(m_hat))``.
* **Importance sampling** (:func:`mixture_tail_probability`).  A tail probability
  P_null(T >= c) far beyond what direct toys resolve is estimated from toys of the null *and*
  of a proposal (the true hypothesis, whose median sits at c) pooled as one stratified sample
  of the mixture q = a P_null + (1 - a) P_prop (a = share of null toys), each toy weighted by
  w = P_null(n) / q(n) (the balance heuristic of multiple importance sampling; Veach and Guibas
  1995).  The weights are bounded by 1 / a, every region that either hypothesis populates is
  covered, and the ratio P_null(n) / P_prop(n) is exact: a product over bins of Poisson pmfs
  (or multinomial probabilities) of the two generating expectation vectors
  (:func:`log_likelihood_ratio`).

All functions take an explicit :class:`numpy.random.Generator` or arrays; nothing here draws
from a global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from ..errors import InputError
from .discovery import p_to_z

__all__ = [
    "ImportanceEstimate",
    "empirical_p_value",
    "log_likelihood_ratio",
    "mixture_tail_probability",
    "null_toys",
]

FloatArray = NDArray[np.float64]


def null_toys(
    rng: np.random.Generator,
    expected: FloatArray,
    n_toys: int,
    *,
    conditional: bool,
    n_total: int | NDArray[np.int64] | None = None,
) -> FloatArray:
    """Toys of one or several generating hypotheses.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    expected : ndarray, shape (n_bins,) or (n_hyp, n_bins)
        Expected events per bin of each generating hypothesis (>= 0, each row > 0 in total).
    n_toys : int
        Toys per hypothesis.
    conditional : bool
        True: multinomial toys with the total fixed to ``n_total`` (per hypothesis); False:
        independent Poisson counts.
    n_total : int or ndarray of int, optional
        Fixed total count per hypothesis (conditional toys; default: ``round(sum expected)``).

    Returns
    -------
    ndarray, shape (n_toys, n_bins) or (n_hyp, n_toys, n_bins)
        Counts (float), toys of hypothesis ``i`` in ``out[i]``.

    Examples
    --------
    Two bins expecting 2 and 6 events: Poisson toys fluctuate the total, conditional
    (multinomial) toys keep it at 8:

    >>> import numpy as np
    >>> from darkmoments.stats.sampling import null_toys
    >>> rng = np.random.default_rng(1)
    >>> toys = null_toys(rng, np.array([2.0, 6.0]), 1000, conditional=False)
    >>> toys.shape, bool(np.ptp(toys.sum(axis=1)) > 0), bool(abs(toys.mean() - 4.0) < 0.2)
    ((1000, 2), True, True)
    >>> toys = null_toys(rng, np.array([2.0, 6.0]), 1000, conditional=True)
    >>> set(toys.sum(axis=1).tolist())
    {8.0}
    >>> null_toys(rng, np.array([[2.0, 6.0], [6.0, 2.0]]), 5, conditional=True).shape
    (2, 5, 2)
    """
    lam = np.asarray(expected, dtype=float)
    single = lam.ndim == 1
    lam = np.atleast_2d(lam)
    if not (np.all(np.isfinite(lam)) and np.all(lam >= 0) and np.all(lam.sum(axis=1) > 0)):
        raise InputError("expected counts must be finite, >= 0 and not all zero")
    if conditional:
        tot = np.rint(lam.sum(axis=1)) if n_total is None else np.asarray(n_total, dtype=float)
        tot = np.broadcast_to(tot, (lam.shape[0],)).astype(np.int64)
        if np.any(tot < 0):
            raise InputError(f"total counts must be >= 0, got {tot}")
        p = lam / lam.sum(axis=1, keepdims=True)
        out = rng.multinomial(tot[:, None], p[:, None, :], size=(lam.shape[0], n_toys)).astype(
            float
        )
    else:
        out = rng.poisson(lam[:, None, :], size=(lam.shape[0], n_toys, lam.shape[1])).astype(float)
    return out[0] if single else out


def log_likelihood_ratio(
    counts: FloatArray, expected_num: FloatArray, expected_den: FloatArray, *, conditional: bool
) -> FloatArray:
    """ln P_num(n) - ln P_den(n) of each toy for two generating hypotheses (exact).

    Poisson: sum_b [n_b ln(lam_num,b / lam_den,b) - (lam_num,b - lam_den,b)]; conditional
    (multinomial at the same total): sum_b n_b ln(p_num,b / p_den,b) with p = lam / sum lam.
    The ln n_b! terms cancel.  A toy with an event in a bin that only one hypothesis populates
    gets +-inf (probability zero under the other); bins empty in a toy contribute nothing.

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Toys.
    expected_num, expected_den : ndarray, shape (n_bins,)
        Expected events per bin of the two hypotheses.
    conditional : bool
        Multinomial (True) or Poisson (False) probabilities.

    Returns
    -------
    ndarray, shape (n_toys,)

    Examples
    --------
    Counts (1, 3) and (0, 8) under lam_num = (2, 6) against lam_den = (4, 4): the same
    total, so the Poisson and multinomial ratios agree; 1 ln(1/2) + 3 ln(3/2) = 0.523:

    >>> import numpy as np
    >>> from darkmoments.stats.sampling import log_likelihood_ratio
    >>> c = np.array([[1.0, 3.0], [0.0, 8.0]])
    >>> lam_num, lam_den = np.array([2.0, 6.0]), np.array([4.0, 4.0])
    >>> log_likelihood_ratio(c, lam_num, lam_den, conditional=False).round(4)
    array([0.5232, 3.2437])

    An event where the numerator expects none has probability 0 there:

    >>> log_likelihood_ratio(c, np.array([0.0, 6.0]), lam_den, conditional=True).round(4)
    array([  -inf, 5.5452])
    """
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    a = np.asarray(expected_num, dtype=float)
    b = np.asarray(expected_den, dtype=float)
    if conditional:
        a, b = a / a.sum(), b / b.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(a) - np.log(b)  # +-inf where one of them is zero, nan where both are
    used = c > 0
    if np.any(used & np.isnan(lr)[None, :]):
        raise InputError("a toy has events in a bin that neither hypothesis populates")
    lr = np.where(np.isnan(lr), 0.0, lr)
    # n_b = 0 bins contribute 0 even where lr is infinite
    terms = np.multiply(c, lr[None, :], out=np.zeros_like(c), where=used)
    with np.errstate(invalid="ignore"):
        out = terms.sum(axis=1)  # +inf + -inf cannot occur: a toy comes from one of the two
    if not conditional:
        out = out - float(np.sum(a - b))
    return out


def empirical_p_value(n_above: int, n_toys: int) -> float:
    """(k + 1) / (n + 1): a valid p-value from k of n toys at or above the observation.

    P(p <= alpha) <= alpha for any alpha when the observation and the toys are exchangeable
    under the null (Davison and Hinkley 1997, sec. 4.2); never 0, so Z stays finite and is a
    bound when k = 0.

    Parameters
    ----------
    n_above : int
        Toys k with a statistic at or above the observed one.
    n_toys : int
        Toys n (>= 1).

    Returns
    -------
    float

    Examples
    --------
    >>> from darkmoments.stats.sampling import empirical_p_value
    >>> empirical_p_value(0, 999), empirical_p_value(49, 999)  # never 0
    (0.001, 0.05)
    """
    if not 0 <= n_above <= n_toys or n_toys < 1:
        raise InputError(f"need 0 <= k <= n and n >= 1, got k = {n_above}, n = {n_toys}")
    return (n_above + 1.0) / (n_toys + 1.0)


@dataclass(frozen=True)
class ImportanceEstimate:
    """An importance-sampled tail probability.

    Attributes
    ----------
    p : float
        Estimated P_null(T >= threshold).
    p_err : float
        Its standard error (stratified-sample variance of the weighted indicator).
    ess : float or None
        Effective sample size p (1 - p) / p_err^2: the number of direct null toys that would
        give the same precision (None when p_err = 0, e.g. no toy in the tail region: the
        precision is then not estimable).
    z, z_err : float or None
        Phi^-1(1 - p) and its error p_err / phi(z) (None when p = 0: no toy in the region).
    n_region : int
        Toys (of both strata) with T >= threshold.

    Examples
    --------
    >>> from darkmoments.stats.sampling import ImportanceEstimate
    >>> e = ImportanceEstimate(2.3e-4, 1.5e-5, 1.0e6, 3.5, 0.018, 1800)
    >>> round(e.p * (1 - e.p) / e.p_err**2, -3)  # the effective sample size
    1022000.0
    """

    p: float
    p_err: float
    ess: float | None
    z: float | None
    z_err: float | None
    n_region: int


def mixture_tail_probability(
    t_null: FloatArray,
    llr_null: FloatArray,
    t_prop: FloatArray,
    llr_prop: FloatArray,
    threshold: float,
) -> ImportanceEstimate:
    """P_null(T >= threshold) from null and proposal toys pooled as a mixture sample.

    Parameters
    ----------
    t_null, t_prop : ndarray
        Statistic of toys drawn from the null and from the proposal.
    llr_null, llr_prop : ndarray
        ln P_null(n) - ln P_prop(n) of the same toys (:func:`log_likelihood_ratio`).
    threshold : float
        c.

    Returns
    -------
    ImportanceEstimate
        p = (1 / n) sum_i w_i 1[t_i >= c] with w = 1 / (a + (1 - a) exp(-llr)),
        a = n_null / n; its error from the within-stratum variances (stratified sampling:
        Var = sum_s n_s var_s / n^2).

    Examples
    --------
    P(N >= 15 | Poisson(5)) = 2.26e-4, a tail that 2000 null toys alone would hardly
    reach, from 2000 null and 2000 proposal toys (Poisson(20)) with T = N: within 7 %
    (about 1 sigma) and as precise as ~1e6 direct toys:

    >>> import numpy as np
    >>> from scipy.stats import poisson
    >>> from darkmoments.stats.sampling import log_likelihood_ratio, mixture_tail_probability
    >>> rng = np.random.default_rng(7)
    >>> n_null = rng.poisson(5.0, (2000, 1)).astype(float)
    >>> n_prop = rng.poisson(20.0, (2000, 1)).astype(float)
    >>> llr = [log_likelihood_ratio(n, np.array([5.0]), np.array([20.0]), conditional=False)
    ...        for n in (n_null, n_prop)]
    >>> e = mixture_tail_probability(n_null[:, 0], llr[0], n_prop[:, 0], llr[1], 15.0)
    >>> exact = float(poisson.sf(14, 5.0))
    >>> f"{exact:.3g}", bool(abs(e.p - exact) < 3 * e.p_err), bool(e.ess > 1e5)
    ('0.000226', True, True)
    >>> round(e.z, 1), e.n_region > 1000  # Z = 3.5, from toys of both strata in the tail
    (3.5, True)
    """
    tn, ln = np.asarray(t_null, float), np.asarray(llr_null, float)
    tp, lp = np.asarray(t_prop, float), np.asarray(llr_prop, float)
    if tn.shape != ln.shape or tp.shape != lp.shape or tn.size < 2 or tp.size < 2:
        raise InputError("need >= 2 toys per stratum and one llr per toy")
    if np.any(np.isnan(ln)) or np.any(np.isnan(lp)):
        raise InputError("log likelihood ratios must not be NaN")
    n = tn.size + tp.size
    a = tn.size / n
    parts = []
    for t, llr in ((tn, ln), (tp, lp)):
        with np.errstate(over="ignore"):
            w = 1.0 / (a + (1.0 - a) * np.exp(-llr))
        parts.append(np.where(t >= threshold, w, 0.0))
    p = float((parts[0].sum() + parts[1].sum()) / n)
    var = float(sum(f.size * f.var(ddof=1) for f in parts)) / n**2
    se = math.sqrt(max(var, 0.0))
    n_region = int(np.count_nonzero(tn >= threshold) + np.count_nonzero(tp >= threshold))
    ess = p * (1.0 - p) / var if var > 0 else None
    if p <= 0.0:
        return ImportanceEstimate(0.0, se, ess, None, None, n_region)
    z = float(p_to_z(min(p, 1.0)))
    return ImportanceEstimate(p, se, ess, z, se / float(norm.pdf(z)), n_region)
