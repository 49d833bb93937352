"""The exact CLs counting experiment: the one implementation behind limits and workspaces.

CLs(s) = P(N <= n | s + b) / P(N <= n | b) with P(N <= n | lam) = Q(n + 1, lam), the
regularised upper incomplete gamma function, which also extends to non-integer (Asimov) n.
With n = 0 it is exp(-s) for every b, so the 90% CL limit is s = -ln(0.1) = 2.303 events.

:func:`darkmoments.stats.limits.poisson_upper_limit` (observed whole counts) and
:func:`darkmoments.stats.workspace.reference_events` (the POI scale of exported workspaces)
both solve CLs = 1 - CL with :func:`counting_limit`.  This module imports nothing else of
:mod:`darkmoments.stats`, so both can use it without importing each other.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.special import gammaincc

from ..validation import check_real

__all__ = ["cls_counting", "counting_limit"]


def _poisson_cdf(n: float, lam: float) -> float:
    """P(N <= n | lam) = Q(n + 1, lam), continuous in n (exact for integer n)."""
    if lam <= 0:
        return 1.0
    return float(gammaincc(n + 1.0, lam))


def cls_counting(s: float, n_obs: float, background: float) -> float:
    """CLs of a counting experiment, P(N <= n | s + b) / P(N <= n | b).

    Parameters
    ----------
    s : float
        Signal events (>= 0).
    n_obs : float
        Observed events (>= 0; non-integer allowed for Asimov data).
    background : float
        Expected background events (>= 0).

    Returns
    -------
    float
        CLs in (0, 1].
    """
    s = check_real("signal events s", s, lo=0.0, unit="events")
    n_obs = check_real("n_obs", n_obs, lo=0.0, unit="events")
    background = check_real("background", background, lo=0.0, unit="events")
    return _poisson_cdf(n_obs, s + background) / _poisson_cdf(n_obs, background)


def counting_limit(
    n_obs: float, background: float, cl: float, *, rtol: float | None = None
) -> float:
    """The signal events s with CLs(s, n_obs, b) = 1 - cl (inputs already validated).

    Parameters
    ----------
    n_obs : float
        Observed events (>= 0; fractional for Asimov data).
    background : float
        Expected background events (>= 0).
    cl : float
        Confidence level in (0, 1).
    rtol : float, optional
        Relative tolerance of Brent's root finding (absolute tolerance 1e-12 events);
        default scipy's 4 eps.

    Returns
    -------
    float
        s_up in events; -ln(1 - cl) for n_obs = 0 (any background: CLs removes it).
    """
    alpha = 1.0 - cl
    if n_obs == 0:
        return -math.log(alpha)  # CLs = exp(-s) for every b
    hi = max(10.0, 2.0 * (n_obs + 5.0 * math.sqrt(n_obs + 1.0)))
    while cls_counting(hi, n_obs, background) > alpha:
        hi *= 2.0
    tol = {} if rtol is None else {"rtol": rtol}
    root = brentq(lambda s: cls_counting(s, n_obs, background) - alpha, 0.0, hi, xtol=1e-12, **tol)
    return float(root)
