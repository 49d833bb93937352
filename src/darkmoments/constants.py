"""Physical constants, each with its source.

Natural units throughout: energies, momenta and masses in GeV, cross sections in pb,
lengths in cm.
"""

from __future__ import annotations

import math

__all__ = [
    "ALPHA_EM",
    "AVOGADRO",
    "E_CHARGE",
    "GEV2_TO_PB",
    "LAMBDA_F_DEFAULT",
    "MU_P",
    "M_E",
    "M_MU",
    "M_P",
    "M_TAU",
    "PB_TO_CM2",
]

#: Fine-structure constant at q^2 = 0 (CODATA 2018: 1/137.035999084).
ALPHA_EM: float = 1.0 / 137.035999084
#: Elementary charge in natural (Heaviside-Lorentz) units, e = sqrt(4 pi alpha).
E_CHARGE: float = math.sqrt(4.0 * math.pi * ALPHA_EM)
#: Electron mass in GeV (CODATA 2018: 0.51099895000 MeV).
M_E: float = 0.51099895000e-3
#: Muon mass in GeV (CODATA 2018: 105.6583755 MeV).
M_MU: float = 0.1056583755
#: Tau mass in GeV (PDG 2024: 1776.86 MeV).
M_TAU: float = 1.77686
#: Proton mass in GeV (CODATA 2018: 938.27208816 MeV).
M_P: float = 0.93827208816
#: Proton magnetic moment in nuclear magnetons (CODATA 2018: 2.79284734463).
MU_P: float = 2.79284734463
#: Conversion of a cross section from GeV^-2 to pb: (hbar c)^2 = 0.3893793721 GeV^2 mb
#: (PDG 2024, "Physical constants" table) = 3.893793721e8 GeV^2 pb.
GEV2_TO_PB: float = 0.3893793721e9
#: 1 pb in cm^2 (definition of the barn: 1 b = 1e-24 cm^2).
PB_TO_CM2: float = 1.0e-36
#: Avogadro constant in mol^-1 (exact, SI 2019).
AVOGADRO: float = 6.02214076e23
#: Cut-off scale of the dark-moment EFT in GeV (paper section 2: Lambda_f = 1 TeV).
LAMBDA_F_DEFAULT: float = 1000.0
