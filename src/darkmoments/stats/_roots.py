"""The luminosity root search shared by the events-for-significance functions.

:func:`~darkmoments.stats.toys.events_for_significance` (one experiment) and
:func:`~darkmoments.stats.combined.combined_events_for_significance` (several) both solve
t_A(k) = Z^2 for the luminosity scale k (every rate and the true events times k): bracket
ln k from the linear guess ln(Z^2 / t_A(1)) by steps of ln 4, then Brent's method in ln k.
This module is that one mechanism; the callers only say how t_A depends on k.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq

#: Largest number of factor-4 bracket steps (a luminosity scale up to 4^20 ~ 1e12).
MAX_STEPS: int = 20


def luminosity_scale(
    t_at: Callable[[float], float],
    target: float,
    t1: float,
    *,
    xtol: float = 1e-9,
    rtol: float = 1e-12,
    max_steps: int = MAX_STEPS,
) -> float | None:
    """Scale k > 0 with ``t_at(k) == target``, searched in ln k.

    Parameters
    ----------
    t_at : callable
        t_A at luminosity scale k (dimensionless; k = 1 is the nominal luminosity).  It is
        not called at k = 1 while bracketing (``t1`` is used there); Brent's method may call
        it anywhere in the bracket, k = 1 included.
    target : float
        The value to reach (Z^2 for a significance of Z sigma).
    t1 : float
        t_A at k = 1, already computed by the caller.
    xtol, rtol : float
        Absolute and relative tolerances of ln k passed to :func:`scipy.optimize.brentq`.
    max_steps : int
        Number of factor-4 steps tried to bracket the root.

    Returns
    -------
    float or None
        k; None if ``t1`` is not > 0, or if no bracket is found within ``max_steps`` steps
        (t_A saturates below ``target``).

    Examples
    --------
    With t_A proportional to the luminosity, k = target / t1 (here 25 / 2):

    >>> from darkmoments.stats._roots import luminosity_scale
    >>> round(luminosity_scale(lambda k: 2.0 * k, 25.0, 2.0), 9)
    12.5
    >>> luminosity_scale(lambda k: min(2.0 * k, 4.0), 25.0, 2.0) is None  # saturates at 4
    True
    """
    if not t1 > 0:
        return None

    def excess(lnk: float) -> float:
        return t_at(math.exp(lnk)) - target

    guess = math.log(target / t1)
    lo, hi = (0.0, guess) if guess >= 0 else (guess, 0.0)
    f_lo = t1 - target if lo == 0.0 else excess(lo)
    f_hi = t1 - target if hi == 0.0 else excess(hi)
    step = math.log(4.0)
    for _ in range(max_steps):
        if f_lo <= 0 <= f_hi:
            break
        if f_hi < 0:  # still below the target at the upper end: go up
            lo, f_lo = hi, f_hi
            hi += step
            f_hi = excess(hi)
        else:  # already above the target at the lower end: go down
            hi, f_hi = lo, f_lo
            lo -= step
            f_lo = excess(lo)
    if not f_lo <= 0 <= f_hi:
        return None
    return math.exp(brentq(excess, lo, hi, xtol=xtol, rtol=rtol))
