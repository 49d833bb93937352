"""One set of input validators for the whole package.

Each validator returns the value converted to a plain Python type, or raises
:class:`~darkmoments.errors.InputError` / :class:`~darkmoments.errors.InputTypeError` with a
message naming the parameter, the value and the allowed range.  Booleans are never numbers.

Examples
--------
>>> from darkmoments.validation import check_real, check_int
>>> check_real("mass", 0.1, lo=0.0, lo_open=True, unit="GeV")
0.1
>>> check_int("events", 10, lo=1)
10
>>> check_real("mass", -1.0, lo=0.0, lo_open=True, unit="GeV")
Traceback (most recent call last):
...
darkmoments.errors.InputError: mass must be a finite number > 0 GeV, got -1.0
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .errors import InputError, InputTypeError, NonFiniteResultError

__all__ = ["check_choice", "check_finite_result", "check_int", "check_real", "is_real"]


def is_real(value: Any) -> bool:
    """True for int/float/numpy real scalars, False for bool and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def check_real(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "",
) -> float:
    """Validate a finite real number in an (optionally open) interval; return it as float.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        The value to check.  Strings, booleans and arrays are refused.
    lo, hi : float, optional
        Bounds (``None``: unbounded).
    lo_open, hi_open : bool
        Exclude the bound itself.
    unit : str
        Unit printed after the range (``"GeV"``).

    Returns
    -------
    float

    Raises
    ------
    InputTypeError
        Not a real number.
    InputError
        NaN, infinite or out of range.
    """
    rng = _range_text(lo, hi, lo_open, hi_open)
    what = f"a finite number {rng} {unit}".rstrip() if rng else f"a finite number {unit}".rstrip()
    if not is_real(value):
        raise InputTypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        raise InputError(f"{name} must be {what}, got {value!r}")
    return v


def check_int(name: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """Validate an integer (Python or numpy; integral floats such as ``1e6`` are refused).

    Raises
    ------
    InputTypeError
        Not an integer.
    InputError
        Out of ``[lo, hi]``.
    """
    rng = _range_text(lo, hi, False, False)
    what = f"an integer {rng}".rstrip()
    if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_):
        raise InputTypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise InputError(f"{name} must be {what}, got {v}")
    return v


def check_choice(name: str, value: Any, allowed: Any) -> Any:
    """Validate that ``value`` is one of ``allowed`` (the message lists them)."""
    options = list(allowed)
    if value not in options:
        raise InputError(f"{name} must be one of {', '.join(map(str, options))}; got {value!r}")
    return value


def check_finite_result(name: str, value: Any, *, hint: str = "") -> Any:
    """Raise :class:`NonFiniteResultError` if a computed result has NaN or infinity.

    Parameters
    ----------
    name : str
        What was computed ("discovery significance Z").
    value : float or array
        The result.
    hint : str
        Why this may have happened / what input to change.
    """
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        extra = f" ({hint})" if hint else ""
        raise NonFiniteResultError(f"{name} is not finite: {value!r}{extra}")
    return value
