"""Small helpers shared by the CLI modules."""

from __future__ import annotations

import json
import math
from typing import Any

import click

__all__ = ["echo_json", "positive_float", "positive_int"]


def echo_json(obj: Any) -> None:
    """Print ``obj`` as one JSON object (NaN/inf refused, numpy scalars converted)."""

    def default(o: Any) -> Any:
        if hasattr(o, "item"):
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    click.echo(json.dumps(obj, default=default, allow_nan=False))


def positive_float(name: str, value: float) -> float:
    """Return ``value`` if finite and > 0, else raise ``ValueError`` naming ``name``."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def positive_int(name: str, value: int) -> int:
    """Return ``value`` if > 0, else raise ``ValueError`` naming ``name``."""
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value
