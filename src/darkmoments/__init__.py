"""darkmoments: dark bremsstrahlung through higher electromagnetic moments.

Exact tree-level event generation for l N -> l N A' with five A'-lepton couplings (kinetic
mixing, magnetic and electric dipole, charge radius, anapole), signal templates for missing-
momentum experiments (LDMX), relic-density targets and the statistics to compare them.
Units: GeV, pb, cm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .models import MODEL_IDS, MODELS, Model, get_model, y_parameter
from .targets import TARGETS, Target, get_target

if TYPE_CHECKING:  # imported lazily at run time (PEP 562), so light modules stay light
    from .generator import CrossSection, Sample, cross_section, generate
    from .templates import SignalYield, signal_yield

#: Public names loaded on first use: ``import darkmoments.io.events`` does not pull in the
#: integrator (vegas) and ``import darkmoments`` stays fast.
_LAZY = {
    "CrossSection": "generator",
    "Sample": "generator",
    "cross_section": "generator",
    "generate": "generator",
    "SignalYield": "templates",
    "signal_yield": "templates",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'darkmoments' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "MODELS",
    "MODEL_IDS",
    "TARGETS",
    "CrossSection",
    "Model",
    "Sample",
    "SignalYield",
    "Target",
    "__version__",
    "cross_section",
    "generate",
    "get_model",
    "get_target",
    "signal_yield",
    "y_parameter",
]
