"""Nuclear form factors for the photon-nucleus vertex.

Bjorken, Essig, Schuster, Toro, Phys. Rev. D 80 (2009) 075018 [arXiv:0906.0580], appendix A,
eqs. A18 (elastic, atomic screening x nuclear size) and A19 (inelastic, atomic screening x
proton form factor), with the correction of footnote 5 of Catena, Gray, Jerkvall (JHEP 09 (2025)
040): the second factor of the inelastic term is *not* squared.  t = -q^2 > 0 in GeV^2.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import M_E, M_P, MU_P

__all__ = ["G2", "G2_elastic", "G2_inelastic"]

#: Elastic screening parameter: a = 111 Z^(-1/3) / m_e (Tsai 1974; BEST eq. A18).
_A_EL = 111.0
#: Inelastic screening parameter: a' = 773 Z^(-2/3) / m_e (Tsai 1974; BEST eq. A19).
_A_INEL = 773.0
#: Nuclear-size parameter d = 0.164 GeV^2 A^(-2/3) (BEST eq. A18).
_D_NUC = 0.164
#: Dipole scale of the proton form factor, 0.71 GeV^2 (BEST eq. A19).
_DIPOLE = 0.71


def G2_elastic(t: ArrayLike, Z: float, A: float) -> NDArray[np.float64]:
    """Elastic form factor G2_el(t), dimensionless (includes Z^2).

    Parameters
    ----------
    t : array_like
        Momentum transfer t = -(P1 - P2)^2 in GeV^2 (> 0).
    Z, A : float
        Atomic number and mass number of the target.

    Examples
    --------
    >>> from darkmoments.physics.form_factors import G2_elastic
    >>> round(float(G2_elastic(1e-6, 74, 183.84)) / 74**2, 4)  # ~ Z^2 between screening and size
    0.9989
    >>> float(G2_elastic(1.0, 74, 183.84)) / 74**2 < 1e-4  # nuclear size: suppressed at large t
    True
    """
    t = np.asarray(t, dtype=float)
    a2 = (_A_EL * Z ** (-1.0 / 3.0) / M_E) ** 2
    d = _D_NUC * A ** (-2.0 / 3.0)
    screen = a2 * t / (1.0 + a2 * t)
    nuc = 1.0 / (1.0 + t / d)
    return (screen * nuc) ** 2 * Z**2


def G2_inelastic(t: ArrayLike, Z: float) -> NDArray[np.float64]:
    """Inelastic (quasi-elastic proton) form factor G2_inel(t), dimensionless (includes Z).

    Uses the corrected eq. A19: the proton factor
    (1 + t (mu_p^2 - 1)/(4 m_p^2)) / (1 + t/0.71 GeV^2)^4 enters to the first power.

    Parameters
    ----------
    t : array_like
        Momentum transfer in GeV^2 (> 0).
    Z : float
        Atomic number.

    Examples
    --------
    >>> from darkmoments.physics.form_factors import G2_inelastic
    >>> float(G2_inelastic(1e-3, 74)) < 74
    True
    """
    t = np.asarray(t, dtype=float)
    ap2 = (_A_INEL * Z ** (-2.0 / 3.0) / M_E) ** 2
    screen = ap2 * t / (1.0 + ap2 * t)
    proton = (1.0 + t * (MU_P**2 - 1.0) / (4.0 * M_P**2)) / (1.0 + t / _DIPOLE) ** 4
    return screen**2 * proton * Z


def G2(t: ArrayLike, Z: float, A: float, *, inelastic: bool = True) -> NDArray[np.float64]:
    """Total form factor G2 = G2_el + G2_inel (dimensionless).

    Parameters
    ----------
    t : array_like
        Momentum transfer in GeV^2.
    Z, A : float
        Atomic and mass number.
    inelastic : bool
        Include the inelastic term (default True).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.form_factors import G2, G2_elastic, G2_inelastic
    >>> t = np.array([1e-6, 1e-3])  # GeV^2
    >>> bool(np.allclose(G2(t, 74, 183.84), G2_elastic(t, 74, 183.84) + G2_inelastic(t, 74)))
    True
    >>> bool(np.allclose(G2(t, 74, 183.84, inelastic=False), G2_elastic(t, 74, 183.84)))
    True
    """
    g = G2_elastic(t, Z, A)
    if inelastic:
        g = g + G2_inelastic(t, Z)
    return g
