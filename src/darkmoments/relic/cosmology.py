"""Cosmological and particle constants used only by the relic-density code, each with its source.

Units: GeV, cm.
"""

from __future__ import annotations

__all__ = [
    "ALPHA_S_MZ",
    "M_PLANCK",
    "M_Z",
    "OMEGA_DM_H2",
    "RHO_CRIT_H2",
    "S0_ENTROPY",
    "T_QCD",
]

#: Planck mass G_N^(-1/2) in GeV (PDG 2024, "Astrophysical constants": 1.220890(14)e19 GeV).
M_PLANCK: float = 1.220890e19
#: Entropy density today divided by k_B, in cm^-3 (PDG 2024, "Astrophysical constants":
#: s_0/k_B = 2891.2 (T_0/2.7255 K)^3 cm^-3).
S0_ENTROPY: float = 2891.2
#: Critical density divided by h^2, in GeV cm^-3 (PDG 2024, "Astrophysical constants":
#: rho_c = 1.05371(2)e-5 h^2 GeV cm^-3).
RHO_CRIT_H2: float = 1.05371e-5
#: Observed dark-matter density Omega_DM h^2 (Planck 2018, A&A 641 (2020) A6; paper eq. 3.1).
OMEGA_DM_H2: float = 0.120
#: Strong coupling at the Z pole, MS-bar (PDG 2024 world average 0.1180(9)).
ALPHA_S_MZ: float = 0.1180
#: Z boson mass in GeV (PDG 2024: 91.1880(20) GeV).
M_Z: float = 91.1880
#: Pseudo-critical temperature of the QCD crossover in GeV (HotQCD, Bazavov et al.,
#: Phys. Lett. B 795 (2019) 15, arXiv:1812.08235: T_pc = 156.5(1.5) MeV).
T_QCD: float = 0.1565
