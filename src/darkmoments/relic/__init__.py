"""Relic-density targets for complex scalar dark matter (paper section 3, appendix A).

Public API
----------
omega_h2(model, m_ap, coupling, ...)
    Omega h^2 from the Boltzmann equation 3.2 (Gondolo-Gelmini thermal average, computed g_*).
target(model, m_ap, ...)
    The coupling g_f (and y of eq. 3.3) giving Omega h^2 = 0.120.
scan(models, ...)
    Table of targets over a mass grid (pandas DataFrame).

Submodules: :mod:`.widths` (A' widths, A.8-A.13), :mod:`.annihilation` (A.2-A.7),
:mod:`.rratio` (R(s) parametrisation), :mod:`.dof` (g_*, g_*s), :mod:`.thermal` (A.1),
:mod:`.boltzmann` (eq. 3.2), :mod:`.targets`, :mod:`.plotting`, :mod:`.cosmology` (constants).
"""

from __future__ import annotations

from .annihilation import DarkSector
from .boltzmann import freeze_out_yield, solve_yield
from .dof import g_star, g_star_s
from .rratio import r_ratio
from .targets import RelicTarget, omega_h2, scan, target
from .thermal import thermal_average

__all__ = [
    "DarkSector",
    "RelicTarget",
    "freeze_out_yield",
    "g_star",
    "g_star_s",
    "omega_h2",
    "r_ratio",
    "scan",
    "solve_yield",
    "target",
    "thermal_average",
]
