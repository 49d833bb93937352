"""The one JSON encoder of darkmoments: numpy scalars and arrays, paths; NaN/inf refused.

Examples
--------
>>> import numpy as np
>>> from darkmoments.io.jsonio import dumps
>>> dumps({"mass": np.float64(0.1), "edges": np.array([0.0, 1.0])})
'{"mass": 0.1, "edges": [0.0, 1.0]}'
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

__all__ = ["dumps", "to_jsonable"]


def to_jsonable(o: Any) -> Any:
    """``json.dumps`` ``default=`` hook: numpy scalars/arrays to Python, paths to str.

    Examples
    --------
    >>> import json
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from darkmoments.io.jsonio import to_jsonable
    >>> json.dumps({"x": np.float32(0.5), "path": Path("a/b")}, default=to_jsonable)
    '{"x": 0.5, "path": "a/b"}'
    """
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"value of type {type(o).__name__} is not JSON serialisable")


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` with :func:`to_jsonable` and ``allow_nan=False`` (NaN/inf raise).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.io.jsonio import dumps
    >>> dumps({"n": np.int64(3), "edges": np.array([0.0, 0.5])})
    '{"n": 3, "edges": [0.0, 0.5]}'
    >>> dumps({"z": float("inf")})
    Traceback (most recent call last):
        ...
    ValueError: Out of range float values are not JSON compliant
    """
    kwargs.setdefault("allow_nan", False)
    kwargs.setdefault("default", to_jsonable)
    return json.dumps(obj, **kwargs)
