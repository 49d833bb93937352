"""darkmoments: dark bremsstrahlung through higher electromagnetic moments.

Exact tree-level event generation for l N -> l N A' with five A'-lepton couplings (kinetic
mixing, magnetic and electric dipole, charge radius, anapole), signal templates for missing-
momentum experiments (LDMX), relic-density targets and the statistics to compare them.
Units: GeV, pb, cm.
"""

from __future__ import annotations

from ._version import __version__
from .generator import CrossSection, Sample, cross_section, generate
from .models import MODEL_IDS, MODELS, Model, get_model, y_parameter
from .targets import TARGETS, Target, get_target
from .templates import SignalYield, signal_yield

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
