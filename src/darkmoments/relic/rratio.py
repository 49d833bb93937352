"""A parametrisation of the hadronic R-ratio R(s) = sigma(e+e- -> hadrons) / sigma_pt(s).

sigma_pt = 4 pi alpha^2 / (3 s) is the point-like (massless) muon-pair cross section.  This is a
documented *parametrisation*, not a fit to data; it is good to roughly 10-30 % between 1.0 and
1.6 GeV (where rho', omega' and 4 pi states are not modelled) and to a few per cent elsewhere.

Ingredients (PDG 2024, Navas et al., Phys. Rev. D 110 (2024) 030001):

* Vector-meson resonances as relativistic Breit-Wigner terms
  sigma_V(s) = 12 pi Gamma_ee Gamma_had(s) / [(s - M^2)^2 + M^2 Gamma(s)^2], i.e.
  R_V(s) = 9 s Gamma_ee Gamma_had(s) / (alpha^2 [(s - M^2)^2 + M^2 Gamma(s)^2]).
  omega, phi, J/psi and psi(2S) have constant widths.  The broad rho uses the vector-dominance
  pion form-factor shape R_rho = beta^3 |F|^2 / 4 with |F|^2 proportional to
  M^4 / [(s - M^2)^2 + M^2 Gamma(s)^2] and the p-wave width
  Gamma(s) = Gamma_rho (M/sqrt s) (p(s)/p(M^2))^3, p = sqrt(s/4 - m_pi^2), normalised so that the
  peak equals the Breit-Wigner value 9 Gamma_ee / (alpha^2 Gamma_rho) (so R vanishes as beta^3 at
  the two-pion threshold and falls like 1/s^2 far above the rho).  Interference is neglected
  (incoherent sum).
* The perturbative continuum R = N_c sum_q Q_q^2 (1 + alpha_s(sqrt s)/pi) with one-loop running
  alpha_s from alpha_s(M_Z) = 0.1180 (PDG 2024); charm and bottom enter above the open-flavour
  thresholds 2 m_D0 and 2 m_B with the massive-quark factor beta (3 - beta^2)/2.
* Light resonances (rho, omega, phi) and the light-quark continuum are joined by a logistic switch
  S(E) = 1/(1 + exp(-(E - 1.3 GeV)/0.1 GeV)): R_light = (1 - S) sum R_V + S R_uds.
* R = 0 below the two-pion threshold 2 m_pi+ (the pi0 gamma channel, ~1e-3 of R, is neglected).

Used as in Izaguirre, Krnjaic, Shuve, Phys. Rev. D 93 (2016) 063523 (arXiv:1508.03050), eq. A.4:
sigma(chi chi* -> hadrons) = R(s) sigma(chi chi* -> mu+ mu-) with massless muons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import ALPHA_EM
from ..errors import InputError
from .cosmology import ALPHA_S_MZ, M_Z

__all__ = [
    "M_PI_CHARGED",
    "RESONANCES",
    "VectorMeson",
    "alpha_s",
    "r_continuum",
    "r_ratio",
    "r_resonance",
]

#: Charged-pion mass in GeV (PDG 2024: 139.57039(18) MeV).
M_PI_CHARGED: float = 0.13957039
#: D0 and B+ masses in GeV (PDG 2024: 1864.84 MeV, 5279.41 MeV): open charm/bottom thresholds.
M_D0: float = 1.86484
M_B: float = 5.27941
#: Quark pole-like masses for the one-loop alpha_s flavour thresholds (PDG 2024 MS-bar values).
M_C_RUN: float = 1.2730
M_B_RUN: float = 4.183

_SWITCH_E = 1.3  # GeV, centre of the resonance -> continuum switch (our parametrisation choice)
_SWITCH_W = 0.1  # GeV, width of the switch


@dataclass(frozen=True)
class VectorMeson:
    """A J^PC = 1-- resonance seen in e+e- -> hadrons.

    Attributes
    ----------
    name : str
        Label.
    mass, width : float
        Mass and total width in GeV (PDG 2024).
    gamma_ee : float
        Partial width to e+e- in GeV (PDG 2024).
    br_had : float
        Branching fraction to hadrons (1 - B_ee - B_mumu [- B_tautau]).
    p_wave : bool
        Use the p-wave two-pion energy-dependent width (rho only).
    light : bool
        Part of the light-quark region switched off above ~1.3 GeV.

    Examples
    --------
    >>> from darkmoments.relic.rratio import RESONANCES
    >>> [m.name for m in RESONANCES][:3]
    ['rho(770)', 'omega(782)', 'phi(1020)']
    """

    name: str
    mass: float
    width: float
    gamma_ee: float
    br_had: float
    p_wave: bool = False
    light: bool = True


#: PDG 2024 vector mesons: rho(770) (neutral, e+e-), omega(782), phi(1020), J/psi, psi(2S).
RESONANCES: tuple[VectorMeson, ...] = (
    VectorMeson("rho(770)", 0.77526, 0.1491, 7.04e-6, 1.0, p_wave=True),
    VectorMeson("omega(782)", 0.78266, 8.68e-3, 0.60e-6, 1.0 - 7.38e-5 - 7.4e-5),
    VectorMeson("phi(1020)", 1.019461, 4.249e-3, 1.27e-6, 1.0 - 2.979e-4 - 2.86e-4),
    VectorMeson("J/psi", 3.096900, 92.6e-6, 5.53e-6, 1.0 - 0.05971 - 0.05961, light=False),
    VectorMeson("psi(2S)", 3.686097, 293e-6, 2.33e-6, 1.0 - 7.94e-3 - 8.0e-3 - 3.1e-3, light=False),
)


def alpha_s(mu: ArrayLike) -> NDArray[np.float64]:
    """One-loop MS-bar strong coupling alpha_s(mu) with flavour thresholds at m_c and m_b.

    Parameters
    ----------
    mu : array_like
        Renormalisation scale in GeV; values below 1 GeV are evaluated at 1 GeV.

    Returns
    -------
    ndarray
        alpha_s (dimensionless), continuous across the thresholds, alpha_s(M_Z) = 0.1180.

    Examples
    --------
    >>> from darkmoments.relic.rratio import alpha_s
    >>> round(float(alpha_s(91.1876)), 3)
    0.118
    """
    m = np.maximum(np.asarray(mu, dtype=float), 1.0)

    def run(a0: float | NDArray, mu0: float, mu1: NDArray | float, nf: int) -> NDArray:
        b0 = (33.0 - 2.0 * nf) / (12.0 * np.pi)
        return a0 / (1.0 + b0 * a0 * np.log(np.asarray(mu1) ** 2 / mu0**2))

    a_b = run(ALPHA_S_MZ, M_Z, M_B_RUN, 5)
    a_c = run(a_b, M_B_RUN, M_C_RUN, 4)
    return np.where(
        m >= M_B_RUN,
        run(ALPHA_S_MZ, M_Z, m, 5),
        np.where(m >= M_C_RUN, run(a_b, M_B_RUN, m, 4), run(a_c, M_C_RUN, m, 3)),
    )


def _heavy(e: NDArray, threshold: float, mass: float, charge2: float) -> NDArray:
    """N_c Q^2 beta (3 - beta^2)/2 for one heavy quark, open above ``threshold``."""
    beta2 = np.clip(1.0 - 4.0 * mass**2 / np.maximum(e, 1e-9) ** 2, 0.0, 1.0)
    beta = np.sqrt(beta2)
    return np.where(e > threshold, 3.0 * charge2 * beta * (3.0 - beta2) / 2.0, 0.0)


def r_continuum(sqrt_s: ArrayLike) -> NDArray[np.float64]:
    """Perturbative continuum N_c sum_q Q_q^2 (1 + alpha_s/pi), without the light switch.

    Parameters
    ----------
    sqrt_s : array_like
        Centre-of-mass energy in GeV.

    Returns
    -------
    ndarray
        (R_uds, R_heavy): light-quark part 2 (1 + alpha_s/pi) and the charm + bottom part.

    Examples
    --------
    >>> from darkmoments.relic.rratio import r_continuum
    >>> r_uds, r_heavy = r_continuum(3.0)  # below the open-charm threshold
    >>> round(float(r_uds), 3), float(r_heavy)  # 2 (1 + alpha_s/pi): N_c (4 + 1 + 1)/9 = 2
    (2.149, 0.0)
    """
    e = np.asarray(sqrt_s, dtype=float)
    k = 1.0 + alpha_s(e) / np.pi
    r_uds = 2.0 * k
    r_heavy = k * (_heavy(e, 2 * M_D0, M_C_RUN, 4 / 9) + _heavy(e, 2 * M_B, M_B_RUN, 1 / 9))
    return np.stack([r_uds * np.ones_like(e), r_heavy])


def r_resonance(sqrt_s: ArrayLike, meson: VectorMeson) -> NDArray[np.float64]:
    """Breit-Wigner contribution of one vector meson to R (module docstring).

    Parameters
    ----------
    sqrt_s : array_like
        Centre-of-mass energy in GeV.
    meson : VectorMeson
        The resonance.

    Returns
    -------
    ndarray
        R_V (dimensionless); zero below the two-pion threshold.

    Examples
    --------
    >>> from darkmoments.relic.rratio import RESONANCES, r_resonance
    >>> rho = RESONANCES[0]
    >>> bool(r_resonance(rho.mass, rho) > r_resonance(rho.mass + 0.3, rho))
    True
    """
    e = np.asarray(sqrt_s, dtype=float)
    s = e**2
    m2 = meson.mass**2
    if meson.p_wave:
        p = np.sqrt(np.clip(s / 4.0 - M_PI_CHARGED**2, 0.0, None))
        p0 = np.sqrt(m2 / 4.0 - M_PI_CHARGED**2)
        gam = meson.width * (meson.mass / np.maximum(e, 1e-9)) * (p / p0) ** 3
        peak = 9.0 * meson.gamma_ee / (ALPHA_EM**2 * meson.width)
        shape = (p / p0) ** 3 * (meson.mass / np.maximum(e, 1e-9)) ** 3
        r = peak * shape * m2 * meson.width**2 / ((s - m2) ** 2 + m2 * gam**2)
        return np.where(e > 2 * M_PI_CHARGED, r, 0.0)
    gam = meson.width * np.ones_like(e)
    gam_had = meson.br_had * gam
    r = 9.0 * s * meson.gamma_ee * gam_had / (ALPHA_EM**2 * ((s - m2) ** 2 + m2 * gam**2))
    return np.where(e > 2 * M_PI_CHARGED, r, 0.0)


def r_ratio(sqrt_s: ArrayLike) -> NDArray[np.float64]:
    """Hadronic R-ratio R(sqrt s) (parametrisation of the module docstring).

    Parameters
    ----------
    sqrt_s : array_like
        Centre-of-mass energy in GeV (>= 0).

    Returns
    -------
    ndarray
        R (dimensionless); 0 below 2 m_pi+, about 2 (1 + alpha_s/pi) ~ 2.2 at 2-3 GeV.

    Examples
    --------
    >>> from darkmoments.relic.rratio import r_ratio
    >>> [round(float(r), 2) for r in r_ratio([0.2, 0.775, 3.0])]  # no pions, rho, continuum
    [0.0, 10.75, 2.15]
    """
    e = np.asarray(sqrt_s, dtype=float)
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise InputError(f"sqrt_s must be finite and >= 0 GeV, got {sqrt_s!r}")
    switch = 1.0 / (1.0 + np.exp(-(e - _SWITCH_E) / _SWITCH_W))
    r_uds, r_heavy = r_continuum(e)
    light = sum(r_resonance(e, v) for v in RESONANCES if v.light)
    heavy = sum(r_resonance(e, v) for v in RESONANCES if not v.light)
    r = (1.0 - switch) * light + switch * r_uds + r_heavy + heavy
    return np.where(e > 2 * M_PI_CHARGED, r, 0.0)
