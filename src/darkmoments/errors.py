"""The darkmoments exception family.

Every error that darkmoments raises because of *input* (a value out of range, a file that is
corrupted or does not match, an output path that cannot be written) is a
:class:`DarkmomentsError`.  It subclasses :class:`ValueError`, so ``except ValueError`` keeps
working; :class:`InputTypeError` is also a :class:`TypeError`.  The command line maps this
family (and click's usage errors) to a one-line message and exit code 2; anything else is a
bug and surfaces as a traceback.

Examples
--------
>>> from darkmoments.errors import DarkmomentsError, InputError
>>> try:
...     raise InputError("mass must be > 0 GeV, got -1")
... except DarkmomentsError as exc:
...     print(exc)
mass must be > 0 GeV, got -1
>>> issubclass(InputError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "AsymptoticValidityWarning",
    "DarkmomentsError",
    "IncompatibleDependencyError",
    "InputError",
    "InputTypeError",
    "MissingExtraError",
    "NonFiniteResultError",
    "OutputPathError",
    "StaleCheckpointError",
    "TemplateFileError",
]


class DarkmomentsError(ValueError):
    """Base class of every input-related error raised by darkmoments.

    Examples
    --------
    >>> from darkmoments import get_model
    >>> from darkmoments.errors import DarkmomentsError
    >>> try:
    ...     get_model("xx")
    ... except DarkmomentsError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    ...
    InputError True
    """


class InputError(DarkmomentsError):
    """A value given by the user is outside its allowed range (the message names both).

    Examples
    --------
    >>> from darkmoments.validation import check_real
    >>> from darkmoments.errors import InputError
    >>> try:
    ...     check_real("mass", -1.0, lo=0.0, unit="GeV")
    ... except InputError as exc:
    ...     print(exc)
    ...
    mass must be a finite number >= 0 GeV, got -1.0
    """


class InputTypeError(DarkmomentsError, TypeError):
    """A value given by the user has the wrong type (the message names the expected one).

    Examples
    --------
    >>> from darkmoments.validation import check_int
    >>> from darkmoments.errors import InputTypeError
    >>> try:
    ...     check_int("--events", "many")
    ... except InputTypeError as exc:
    ...     print(isinstance(exc, TypeError), isinstance(exc, ValueError))
    ...
    True True
    """


class TemplateFileError(DarkmomentsError):
    """A template file is missing, corrupted, of another version or does not match a setup.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> from darkmoments.errors import TemplateFileError
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "ldmx-phase2.h5").write_bytes(b"not an HDF5 file")
    >>> try:
    ...     templates.load("km", 0.1, directory=d)
    ... except TemplateFileError as exc:
    ...     print(type(exc).__name__)
    ...
    TemplateFileError
    """


class OutputPathError(DarkmomentsError):
    """An output path cannot be written (missing directory, existing file without --force).

    Examples
    --------
    >>> from darkmoments.errors import DarkmomentsError, OutputPathError
    >>> issubclass(OutputPathError, DarkmomentsError)
    True
    """


class StaleCheckpointError(DarkmomentsError):
    """Checkpoint files (chunks, parts) do not belong to the run being resumed.

    Examples
    --------
    >>> from darkmoments.errors import DarkmomentsError, StaleCheckpointError
    >>> issubclass(StaleCheckpointError, DarkmomentsError)
    True
    """


class NonFiniteResultError(DarkmomentsError):
    """A computation gave NaN or infinity: the input is outside what the method can answer.

    Examples
    --------
    >>> import math
    >>> from darkmoments.validation import check_finite_result
    >>> from darkmoments.errors import NonFiniteResultError
    >>> try:
    ...     check_finite_result("significance", math.nan)
    ... except NonFiniteResultError as exc:
    ...     print(type(exc).__name__)
    ...
    NonFiniteResultError
    """


class IncompatibleDependencyError(DarkmomentsError):
    """An installed dependency version cannot run the requested feature (message says why).

    Examples
    --------
    >>> from darkmoments.errors import DarkmomentsError, IncompatibleDependencyError
    >>> issubclass(IncompatibleDependencyError, DarkmomentsError)
    True
    """


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra to install.

    Examples
    --------
    >>> from darkmoments.errors import MissingExtraError
    >>> issubclass(MissingExtraError, ImportError)
    True
    """


class AsymptoticValidityWarning(UserWarning):
    """An asymptotic (large-count) formula is used where it is off by more than its tolerance.

    Raised as a warning, not an error: the result is returned, and the message names the
    estimated error and the exact alternative (e.g. ``method='exact'``).  Where an asymptotic
    result cannot be right at all (zero background) darkmoments raises
    :class:`InputError` instead.

    Examples
    --------
    >>> from darkmoments.errors import AsymptoticValidityWarning
    >>> issubclass(AsymptoticValidityWarning, UserWarning)
    True
    """
