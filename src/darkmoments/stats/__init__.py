"""Statistics for darkmoments, all built on binned (E, p_T) signal templates.

pyhf likelihoods, limits, discovery, mass fits, degeneracy and model-discrimination toys.

Core functions take :class:`~darkmoments.templates.Template` objects or
:class:`~darkmoments.stats.shapes.ShapeGrid` objects (dependency injection); the
``*_for`` helpers and the CLI load the shipped templates.
"""

from __future__ import annotations

from .degeneracy import DegeneracySurface, FitComparison, compare_fits, degeneracy_surface
from .discovery import Discovery, discovery_for, discovery_significance, pyhf_discovery
from .fast import ProfileResult, deviance_fixed, deviance_grid, profile_mass
from .fits import MassFit, asimov, fit_mass
from .inputs import load_grid_at
from .limits import (
    UpperLimit,
    coupling_limit,
    event_limit,
    poisson_upper_limit,
    reach_by_model,
    reach_for,
    reach_rows,
    reach_table,
    upper_limit,
)
from .rate import discrimination_setup
from .shapes import ShapeGrid, load_grid, parse_observables, project_template
from .toys import (
    DiscriminationResult,
    DiscriminationSetup,
    discrimination_statistic,
    run_discrimination,
)
from .workspace import build_spec, make_model, write_json_atomic

__all__ = [
    "DegeneracySurface",
    "Discovery",
    "DiscriminationResult",
    "DiscriminationSetup",
    "FitComparison",
    "MassFit",
    "ProfileResult",
    "ShapeGrid",
    "UpperLimit",
    "asimov",
    "build_spec",
    "compare_fits",
    "coupling_limit",
    "degeneracy_surface",
    "deviance_fixed",
    "deviance_grid",
    "discovery_for",
    "discovery_significance",
    "discrimination_setup",
    "discrimination_statistic",
    "event_limit",
    "fit_mass",
    "load_grid",
    "load_grid_at",
    "make_model",
    "parse_observables",
    "poisson_upper_limit",
    "profile_mass",
    "project_template",
    "pyhf_discovery",
    "reach_by_model",
    "reach_for",
    "reach_rows",
    "reach_table",
    "run_discrimination",
    "upper_limit",
    "write_json_atomic",
]
