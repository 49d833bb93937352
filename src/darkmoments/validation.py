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
    """True for int/float/numpy real scalars, False for bool and everything else.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.validation import is_real
    >>> (is_real(1.5), is_real(np.float32(2)), is_real(True), is_real("1"))
    (True, True, False, False)
    """
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

    Examples
    --------
    >>> from darkmoments.validation import check_real
    >>> check_real("mass", 0.1, lo=0.0, lo_open=True, unit="GeV")
    0.1
    >>> check_real("mass", -1.0, lo=0.0, lo_open=True, unit="GeV")
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: mass must be a finite number > 0 GeV, got -1.0
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

    Examples
    --------
    >>> from darkmoments.validation import check_int
    >>> check_int("--events", 1000, lo=1)
    1000
    >>> check_int("--events", 0, lo=1)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: --events must be an integer >= 1, got 0
    >>> check_int("--events", 1e6)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputTypeError: --events must be an integer, got 1000000.0 (float)
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
    """Validate that ``value`` is one of ``allowed`` (the message lists them).

    Examples
    --------
    >>> from darkmoments.validation import check_choice
    >>> check_choice("level", "truth", ("truth", "detector"))
    'truth'
    >>> check_choice("level", "reco", ("truth", "detector"))
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: level must be one of truth, detector; got 'reco'
    """
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

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.validation import check_finite_result
    >>> check_finite_result("yield", 3.2)
    3.2
    >>> check_finite_result("yield", np.inf, hint="the coupling is too large")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.NonFiniteResultError: yield is not finite: inf (the coupling is ...
    """
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        extra = f" ({hint})" if hint else ""
        raise NonFiniteResultError(f"{name} is not finite: {value!r}{extra}")
    return value
