"""Effective relativistic degrees of freedom g_*(T) (energy) and g_*s(T) (entropy).

Computed, not transcribed: every Standard-Model species is a free ideal gas with its PDG 2024
mass and Fermi-Dirac or Bose-Einstein statistics (zero chemical potential),

    g_*(T)  = (30 / pi^2) sum_i rho_i / T^4,
    g_*s(T) = (45 / 2 pi^2) sum_i (rho_i + P_i) / T^4 ,

with rho_i / T^4 = g_i/(2 pi^2) int u^2 E/(e^E -+ 1) du and P_i / T^4 = g_i/(6 pi^2)
int u^4/E/(e^E -+ 1) du (E = sqrt(u^2 + (m_i/T)^2)), on a fixed Gauss-Legendre grid.

Treatment of the two non-trivial epochs (documented choices):

* QCD transition: below the crossover the strongly interacting species are a hadron-resonance gas
  (HRG) of the light mesons and baryons listed in :data:`HADRONS` (m < 1.7 GeV, PDG 2024 masses);
  above it free quarks (PDG 2024 masses) and gluons.  The two are joined by a smooth switch
  w(T) = [1 + tanh((T - T_c)/Delta T)]/2 applied to rho and to s, with T_c = 156.5 MeV (HotQCD
  2019, :data:`~darkmoments.relic.cosmology.T_QCD`) and Delta T = 15 MeV.  This follows the
  interpolation approach discussed by Husdal, Galaxies 4 (2016) 78, arXiv:1609.04979; free
  quarks overestimate lattice results near T_c, so g_* in 0.15 - 1 GeV is good to ~10-20 %.
* Neutrino decoupling: neutrinos are treated as decoupled before e+e- annihilation, so entropy
  conservation of the photon-electron plasma gives (T_nu/T)^3 = g_s,gamma e(T) / (11/2) at all T,
  which tends to 1 for T >> m_e and to 4/11 for T << m_e.  The error from the finite decoupling
  temperature (~2 MeV) is below 1 % for 1 MeV < T < 5 MeV and zero outside.

Limits reproduced (see tests): 106.75 above the top mass, 10.75 between the e and mu
thresholds, 3.36 (g_*) and 3.91 (g_*s) today.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import M_E, M_MU, M_P, M_TAU
from ..errors import InputError
from .cosmology import T_QCD

__all__ = [
    "HADRONS",
    "LEPTONS_AND_BOSONS",
    "QUARKS_AND_GLUONS",
    "DofTable",
    "Species",
    "dof_table",
    "free_gas",
    "g_star",
    "g_star_half",
    "g_star_s",
]

_BOSON = -1.0
_FERMION = +1.0


@dataclass(frozen=True)
class Species:
    """One ideal-gas species.

    Attributes
    ----------
    name : str
        Label.
    mass : float
        Mass in GeV (PDG 2024).
    dof : int
        Internal degrees of freedom (spin x colour x particle/antiparticle).
    fermion : bool
        Fermi-Dirac (True) or Bose-Einstein (False) statistics.

    Examples
    --------
    >>> from darkmoments.relic.dof import Species
    >>> Species("electron", 0.00051099895, 4, True)
    Species(name='electron', mass=0.00051099895, dof=4, fermion=True)
    """

    name: str
    mass: float
    dof: int
    fermion: bool


# PDG 2024 (Navas et al., Phys. Rev. D 110 (2024) 030001) masses in GeV.
#: Species that are always present (not part of the QCD switch); neutrinos are handled separately.
LEPTONS_AND_BOSONS: tuple[Species, ...] = (
    Species("photon", 0.0, 2, False),
    Species("e", M_E, 4, True),
    Species("mu", M_MU, 4, True),
    Species("tau", M_TAU, 4, True),
    Species("W", 80.3692, 6, False),
    Species("Z", 91.1880, 3, False),
    Species("H", 125.20, 1, False),
)
#: Free quarks (MS-bar masses for u, d, s, c, b; direct-measurement top mass) and gluons.
QUARKS_AND_GLUONS: tuple[Species, ...] = (
    Species("u", 2.16e-3, 12, True),
    Species("d", 4.70e-3, 12, True),
    Species("s", 93.5e-3, 12, True),
    Species("c", 1.2730, 12, True),
    Species("b", 4.183, 12, True),
    Species("t", 172.57, 12, True),
    Species("g", 0.0, 16, False),
)
#: Hadron-resonance gas: light mesons and baryons (antibaryons included in dof).
HADRONS: tuple[Species, ...] = (
    Species("pi+-", 0.13957039, 2, False),
    Species("pi0", 0.1349768, 1, False),
    Species("K+-", 0.493677, 2, False),
    Species("K0", 0.497611, 2, False),
    Species("eta", 0.547862, 1, False),
    Species("rho", 0.77526, 9, False),
    Species("omega", 0.78266, 3, False),
    Species("K*(892)", 0.89167, 12, False),
    Species("eta'", 0.95778, 1, False),
    Species("f0(980)", 0.990, 1, False),
    Species("a0(980)", 0.980, 3, False),
    Species("phi", 1.019461, 3, False),
    Species("h1(1170)", 1.166, 3, False),
    Species("b1(1235)", 1.2298, 9, False),
    Species("a1(1260)", 1.230, 9, False),
    Species("f2(1270)", 1.2754, 5, False),
    Species("f1(1285)", 1.2818, 3, False),
    Species("a2(1320)", 1.3182, 15, False),
    Species("p", M_P, 4, True),
    Species("n", 0.93956542, 4, True),
    Species("Lambda", 1.115683, 4, True),
    Species("Sigma", 1.1926, 12, True),
    Species("Delta(1232)", 1.232, 32, True),
    Species("Xi", 1.3183, 8, True),
    Species("Sigma(1385)", 1.3846, 24, True),
    Species("Xi(1530)", 1.5350, 16, True),
    Species("Omega-", 1.67245, 8, True),
)

_NU_DOF = 6  # three flavours x (nu_L + nubar_R)
_QCD_WIDTH = 0.015  # GeV, width of the tanh switch (our choice, see module docstring)

# Fixed quadrature for the free-gas integrals: Gauss-Legendre in u = p/T on [0, 60].
_U_MAX = 60.0
_N_U = 240
_gl_x, _gl_w = np.polynomial.legendre.leggauss(_N_U)
_U = 0.5 * _U_MAX * (_gl_x + 1.0)
_W = 0.5 * _U_MAX * _gl_w


def free_gas(x: ArrayLike, fermion: bool) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Energy density and pressure of one internal degree of freedom, in units of T^4.

    Parameters
    ----------
    x : array_like
        m/T (dimensionless, >= 0).
    fermion : bool
        Fermi-Dirac (True) or Bose-Einstein (False) statistics, zero chemical potential.

    Returns
    -------
    rho, p : ndarray
        rho/T^4 and P/T^4 per degree of freedom.  Massless limits: pi^2/30 (bosons) and
        (7/8) pi^2/30 (fermions) for rho; P = rho/3.

    Examples
    --------
    >>> import math
    >>> from darkmoments.relic.dof import free_gas
    >>> rho, p = free_gas(0.0, fermion=False)  # massless boson: rho = pi^2/30 T^4 = 3 p
    >>> round(float(rho) / (math.pi**2 / 30), 6), round(float(rho / p), 6)
    (1.0, 3.0)
    """
    xa = np.asarray(x, dtype=float)
    if np.any(xa < 0) or not np.all(np.isfinite(xa)):
        raise InputError(f"m/T must be finite and >= 0, got {x!r}")
    u = _U[:, None]
    xs = xa.reshape(1, -1)
    energy = np.sqrt(u**2 + xs**2)
    with np.errstate(over="ignore"):
        occ = 1.0 / (np.exp(energy) + 1.0) if fermion else 1.0 / np.expm1(energy)
    if not fermion:
        occ = np.where(energy > 0, occ, 0.0)
    w = _W[:, None]
    rho = (w * u**2 * energy * occ).sum(axis=0) / (2 * np.pi**2)
    p = (w * u**4 / np.where(energy > 0, energy, 1.0) * occ).sum(axis=0) / (6 * np.pi**2)
    return rho.reshape(xa.shape), p.reshape(xa.shape)


def _sum_species(
    species: tuple[Species, ...], temp: NDArray[np.float64]
) -> tuple[NDArray, NDArray]:
    """Sum of (rho/T^4, s/T^3) over ``species`` at temperatures ``temp`` (GeV)."""
    rho = np.zeros_like(temp)
    ent = np.zeros_like(temp)
    for sp in species:
        r, p = free_gas(sp.mass / temp, sp.fermion)
        rho += sp.dof * r
        ent += sp.dof * (r + p)
    return rho, ent


@dataclass(frozen=True)
class DofTable:
    """g_*(T), g_*s(T) and g_*^(1/2)(T) tabulated on a log grid in T (GeV).

    Attributes
    ----------
    log_t : ndarray
        ln(T / GeV) grid.
    g_eff, h_eff : ndarray
        g_* and g_*s on the grid.
    g_half : ndarray
        g_*^(1/2) = h_eff / sqrt(g_eff) (1 + (1/3) dln h_eff / dln T), the combination that
        enters the Boltzmann equation in x (Gondolo and Gelmini, Nucl. Phys. B 360 (1991) 145).

    Examples
    --------
    >>> from darkmoments.relic.dof import dof_table
    >>> tab = dof_table()
    >>> round(float(tab.interp("g_eff", 1e-5)), 2), round(float(tab.interp("h_eff", 1e-5)), 2)
    (3.36, 3.91)
    """

    log_t: NDArray[np.float64]
    g_eff: NDArray[np.float64]
    h_eff: NDArray[np.float64]
    g_half: NDArray[np.float64]

    def interp(self, name: str, temperature: ArrayLike) -> NDArray[np.float64]:
        """Linear interpolation in ln T of column ``name``; clamped outside the grid."""
        return np.interp(
            np.log(np.asarray(temperature, dtype=float)), self.log_t, getattr(self, name)
        )


@lru_cache(maxsize=4)
def dof_table(t_qcd: float = T_QCD, width: float = _QCD_WIDTH, n: int = 1500) -> DofTable:
    """Compute the g_* table (cached).

    Parameters
    ----------
    t_qcd : float
        Centre of the hadron-gas / quark-gluon switch in GeV.
    width : float
        Width of the switch in GeV.
    n : int
        Number of grid points between T = 1e-7 GeV and 1e5 GeV.

    Returns
    -------
    DofTable
    """
    if not (0 < t_qcd < 10) or not (0 < width < t_qcd):
        raise InputError(f"need 0 < width < t_qcd < 10 GeV, got t_qcd={t_qcd}, width={width}")
    log_t = np.linspace(np.log(1e-7), np.log(1e5), n)
    temp = np.exp(log_t)
    rho_l, s_l = _sum_species(LEPTONS_AND_BOSONS, temp)
    rho_q, s_q = _sum_species(QUARKS_AND_GLUONS, temp)
    rho_h, s_h = _sum_species(HADRONS, temp)
    w = 0.5 * (1.0 + np.tanh((temp - t_qcd) / width))
    # photons + e+-: entropy per T^3 sets the neutrino temperature (module docstring)
    rho_g, p_g = free_gas(0.0 * temp, False)
    rho_e, p_e = free_gas(M_E / temp, True)
    s_ge = 2 * (rho_g + p_g) + 4 * (rho_e + p_e)
    s_ge_massless = (2 + 4 * 7 / 8) * 4 * np.pi**2 / 90
    ratio3 = s_ge / s_ge_massless  # (T_nu/T)^3
    rho_nu0, p_nu0 = free_gas(0.0, True)
    rho_nu = _NU_DOF * rho_nu0 * ratio3 ** (4 / 3)
    s_nu = _NU_DOF * (rho_nu0 + p_nu0) * ratio3
    rho = rho_l + w * rho_q + (1 - w) * rho_h + rho_nu
    ent = s_l + w * s_q + (1 - w) * s_h + s_nu
    g_eff = rho * 30 / np.pi**2
    h_eff = ent * 45 / (2 * np.pi**2)
    dlnh = np.gradient(np.log(h_eff), log_t)
    g_half = h_eff / np.sqrt(g_eff) * (1 + dlnh / 3)
    return DofTable(log_t, g_eff, h_eff, g_half)


def _check_t(temperature: ArrayLike) -> NDArray[np.float64]:
    t = np.asarray(temperature, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise InputError(f"temperature must be finite and > 0 GeV, got {temperature!r}")
    return t


def g_star(temperature: ArrayLike) -> NDArray[np.float64]:
    """Energy-density degrees of freedom g_*(T), rho = (pi^2/30) g_* T^4.

    Parameters
    ----------
    temperature : array_like
        Photon temperature in GeV (clamped to [1e-7, 1e5] GeV).

    Returns
    -------
    ndarray
        g_* (dimensionless).

    Examples
    --------
    >>> from darkmoments.relic.dof import g_star
    >>> [round(float(g), 2) for g in g_star([1e-5, 1.0, 1000.0])]  # GeV
    [3.36, 76.34, 106.72]
    """
    return dof_table().interp("g_eff", _check_t(temperature))


def g_star_s(temperature: ArrayLike) -> NDArray[np.float64]:
    """Entropy degrees of freedom g_*s(T), s = (2 pi^2/45) g_*s T^3.

    Parameters
    ----------
    temperature : array_like
        Photon temperature in GeV.

    Returns
    -------
    ndarray
        g_*s (dimensionless).

    Examples
    --------
    >>> from darkmoments.relic.dof import g_star_s
    >>> round(float(g_star_s(1e-5)), 2)  # photons + neutrinos after e+e- annihilation
    3.91
    """
    return dof_table().interp("h_eff", _check_t(temperature))


def g_star_half(temperature: ArrayLike) -> NDArray[np.float64]:
    """Gondolo-Gelmini g_*^(1/2) = (g_*s/sqrt(g_*)) (1 + (T/3) d ln g_*s / dT).

    Parameters
    ----------
    temperature : array_like
        Photon temperature in GeV.

    Returns
    -------
    ndarray
        g_*^(1/2) (dimensionless).

    Examples
    --------
    >>> from darkmoments.relic.dof import g_star_half
    >>> round(float(g_star_half(1e-5)), 3)  # constant dof today: (g_*s / sqrt g_*)
    2.132
    """
    return dof_table().interp("g_half", _check_t(temperature))
