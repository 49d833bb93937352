"""Target effects, event by event.

Interaction depth, straggling of the incident lepton, multiple scattering and energy loss of
the recoil lepton.

Every function is pure (no state; randomness only through an explicit
:class:`numpy.random.Generator`) and vectorised over events.  Units: energies and momenta in
GeV, thicknesses in radiation lengths (X0) unless a name says ``_gcm2`` (g/cm^2), angles in
rad, cross sections in pb.

Physics and sources (details and validity ranges in ``docs/detector.md``):

* Interaction depth: uniform through a thin target (the interaction probability per unit
  length is constant; the beam is not attenuated by dark bremsstrahlung).
* Bremsstrahlung straggling of an electron after ``t`` radiation lengths (Bethe & Heitler,
  Proc. R. Soc. A 146 (1934) 83; in the form of Y.-S. Tsai, Rev. Mod. Phys. 46 (1974) 815,
  with the complete-screening constant b = 4/3): the surviving energy fraction y = E/E0 has
  density f(y; t) = (ln 1/y)^(b t - 1) / Gamma(b t) on 0 < y < 1, i.e. ln(1/y) is
  Gamma-distributed with shape b t and unit scale.
* Multiple Coulomb scattering: the Highland formula (PDG 2024, "Passage of particles through
  matter", eq. 34.16), Gaussian plane angles; the Lynch & Dahl fit to Moliere theory
  (Nucl. Instrum. Meth. B 58 (1991) 6) is provided as an independent cross-check.
* Ionisation of muons (and any lepton heavier than the electron): the mean rate of the Bethe
  formula (PDG 2024 eq. 34.5) with the Sternheimer density effect (PDG 2024 eq. 34.7;
  parameters of Sternheimer, Berger & Seltzer, At. Data Nucl. Data Tables 30 (1984) 261).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ..constants import ALPHA_EM, M_E
from ..errors import InputError, InputTypeError, NonFiniteResultError
from ..targets import Target, get_target
from ..validation import check_int, check_real

__all__ = [
    "B_COMPLETE_SCREENING",
    "HIGHLAND_VALIDITY_X0",
    "EffectiveCrossSection",
    "IncidentSample",
    "bethe_dedx",
    "bremsstrahlung_loss",
    "effective_cross_section",
    "highland_theta0",
    "ionisation_loss",
    "is_electron",
    "lynch_dahl_theta0",
    "multiple_scatter",
    "propagate_recoil",
    "rotate_directions",
    "sample_depth",
    "sample_incident_energy",
    "sample_straggling",
    "slant_path_x0",
    "straggling_cdf",
    "straggling_mean",
    "straggling_pdf",
]

#: Tsai's complete-screening constant b in the straggling distribution (Tsai 1974, b = 4/3).
B_COMPLETE_SCREENING: float = 4.0 / 3.0
#: Range of x/X0 in which the Highland formula is accurate to ~11 % (PDG 2024, eq. 34.16).
HIGHLAND_VALIDITY_X0: tuple[float, float] = (1.0e-3, 100.0)
#: Largest path-length factor 1/|cos theta| used for a recoil leaving the target at a wide
#: angle (theta = 89.4 deg); beyond it the target's finite lateral size matters instead.
MAX_SLANT_FACTOR: float = 100.0

#: PDG constant K = 4 pi N_A r_e^2 m_e c^2 in MeV mol^-1 cm^2 (PDG 2024, table 34.1).
_K_BETHE_MEV: float = 0.307075
#: Electron mass in MeV (CODATA 2018).
_ME_MEV: float = 0.51099895000
#: Plasma energy hbar omega_p = 28.816 sqrt(rho <Z/A>) eV (PDG 2024, table 34.1).
_PLASMA_EV_COEFF: float = 28.816

# Mean excitation energy I [eV] and Sternheimer density-effect parameters
# (plasma energy [eV] of the tabulated density, C-bar, x0, x1, a, k, delta0) for the
# elements of darkmoments.targets (Sternheimer, Berger, Seltzer 1984; the same values as the
# PDG atomic and nuclear properties tables and Geant4's G4DensityEffectData).  Carbon's
# row is for graphite of density 2.0 g/cm^3; C-bar, x0 and x1 are shifted to the target
# density in _density_params (C-bar -> C-bar + ln(rho_tab / rho), x_i -> x_i + that / 2 ln 10).
_STERNHEIMER: dict[str, tuple[float, float, float, float, float, float, float, float]] = {
    "W": (727.0, 80.315, 5.4059, 0.2167, 3.4960, 0.15509, 2.8447, 0.14),
    "Pb": (823.0, 61.072, 6.2018, 0.3776, 3.8073, 0.09359, 3.1608, 0.14),
    "Cu": (322.0, 58.270, 4.4190, -0.0254, 3.2792, 0.14339, 2.9044, 0.08),
    "Fe": (286.0, 55.172, 4.2911, -0.0012, 3.1531, 0.14680, 2.9632, 0.12),
    "Al": (166.0, 32.86, 4.2395, 0.1708, 3.0127, 0.08024, 3.6345, 0.12),
    "C": (78.0, 28.803, 2.9925, -0.0351, 2.4860, 0.20240, 3.0036, 0.10),
}

FloatArray = NDArray[np.float64]
SigmaLike = Callable[[FloatArray], ArrayLike] | tuple[ArrayLike, ArrayLike]


# ----------------------------------------------------------------------------- helpers


def _as_float_array(name: str, value: ArrayLike) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be an array of real numbers, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got a non-finite value")
    return arr


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def is_electron(mass: float) -> bool:
    """True if ``mass`` [GeV] is the electron mass (bremsstrahlung dominates its energy loss).

    Heavier leptons (muon, tau) lose energy by ionisation at the energies of interest
    (their critical energy in tungsten is above 100 GeV).

    Examples
    --------
    >>> from darkmoments.detector.target import is_electron
    >>> is_electron(0.00051099895), is_electron(0.1056583755)
    (True, False)
    """
    m = check_real("lepton_mass", mass, lo=0.0, lo_open=True, unit="GeV")
    return m < 2.0 * M_E


def _check_depth_range(depth_range: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in depth_range)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            f"depth_range must be two numbers (lo, hi) with 0 <= lo <= hi <= 1 (fraction of "
            f"the target thickness), got {depth_range!r}"
        ) from exc
    if not (0.0 <= lo <= hi <= 1.0):
        raise InputError(
            f"depth_range must lie within the target: 0 <= lo <= hi <= 1 (fraction of the "
            f"target thickness), got {depth_range!r}"
        )
    return lo, hi


# ----------------------------------------------------------------------------- depth


def sample_depth(
    n: int, rng: np.random.Generator, depth_range: tuple[float, float] = (0.0, 1.0)
) -> FloatArray:
    """Interaction depths, uniform through the target.

    The probability of a dark-bremsstrahlung interaction per unit length is constant and the
    beam is not attenuated by it (the process is rare), so in a target of thickness T the
    interaction point is uniform on [0, T].  This holds for the *unweighted* beam; when the
    cross section depends on the incident energy, depth and incident energy are correlated:
    use :func:`sample_incident_energy`, which returns both.

    Parameters
    ----------
    n : int
        Number of events.
    rng : numpy.random.Generator
        Random numbers.
    depth_range : (float, float)
        Interval of depths as fractions of the target thickness, 0 <= lo <= hi <= 1.

    Returns
    -------
    numpy.ndarray
        Depth of each interaction as a fraction of the thickness (0: upstream face).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import sample_depth
    >>> d = sample_depth(100_000, np.random.default_rng(1))
    >>> bool(abs(d.mean() - 0.5) < 0.01), bool(d.min() >= 0 and d.max() <= 1)
    (True, True)
    """
    n = check_int("n", n, lo=0)
    rng = _check_rng(rng)
    lo, hi = _check_depth_range(depth_range)
    if hi == lo:
        return np.full(n, lo)
    return rng.uniform(lo, hi, n)


def slant_path_x0(
    depth: ArrayLike,
    thickness_x0: float,
    px: ArrayLike,
    py: ArrayLike,
    pz: ArrayLike,
) -> FloatArray:
    """Material [X0] a recoil crosses from its production point to the target's surface.

    x = (1 - d) T / cos(theta) for a forward recoil (pz > 0) and d T / |cos(theta)| for a
    backward one, with d the depth fraction, T the thickness in X0 and theta the polar angle.
    The factor 1/|cos theta| is capped at 100 (theta = 89.4 deg), where the lateral size of
    a real target limits the path instead.

    Parameters
    ----------
    depth : array_like
        Depth fraction in [0, 1].
    thickness_x0 : float
        Target thickness in X0.
    px, py, pz : array_like
        Recoil momentum in GeV.

    Returns
    -------
    numpy.ndarray
        Path length in X0.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector.target import slant_path_x0
    >>> half = np.array([0.5, 0.5])  # produced half-way through a 0.1 X0 target
    >>> x = slant_path_x0(half, 0.1, np.array([0.0, 1.0]), np.zeros(2), np.ones(2))
    >>> x.round(6).tolist()  # half the target straight out; 1/cos(45 deg) longer at 45 deg
    [0.05, 0.070711]
    """
    d = np.asarray(depth, dtype=float)
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    p = np.sqrt(px * px + py * py + pz * pz)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_cos = np.where(np.abs(pz) > 0, p / np.abs(pz), np.inf)
    inv_cos = np.where(p > 0, np.minimum(inv_cos, MAX_SLANT_FACTOR), 1.0)
    remaining = np.where(pz >= 0, 1.0 - d, d)
    return thickness_x0 * remaining * inv_cos


# ----------------------------------------------------------------------------- straggling


def straggling_pdf(y: ArrayLike, t: ArrayLike, b: float = B_COMPLETE_SCREENING) -> FloatArray:
    """Density of the surviving energy fraction y = E/E0 after t radiation lengths.

    f(y; t) = (ln 1/y)^(b t - 1) / Gamma(b t) for 0 < y < 1 (Bethe & Heitler 1934; Tsai,
    Rev. Mod. Phys. 46 (1974) 815, complete screening b = 4/3): ln(1/y) ~ Gamma(b t, 1).
    It integrates to 1 on (0, 1) for every t > 0; for b t < 1 it diverges, integrably, at
    y -> 1 (most electrons lose little).  At t = 0 the distribution is a delta at y = 1, which
    this density cannot represent: it returns 0 for y < 1 and inf at y = 1.

    Validity: thin radiators (t up to ~ a few tenths of X0), E >> m_e; ionisation and the
    re-conversion of the photons are neglected.

    Parameters
    ----------
    y : array_like
        Energy fraction E/E0 (dimensionless).
    t : array_like
        Thickness in X0 (>= 0), broadcast against ``y``.
    b : float
        Screening constant (default 4/3).

    Returns
    -------
    numpy.ndarray
        Density in y (per unit y).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.integrate import quad
    >>> from darkmoments.detector import straggling_cdf, straggling_pdf
    >>> area, _ = quad(lambda y: float(straggling_pdf(y, 0.5)), 0.0, 0.8)
    >>> bool(abs(area - float(straggling_cdf(0.8, 0.5))) < 1e-8)
    True
    """
    y, t = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(t, dtype=float))
    a = b * t
    out = np.zeros(y.shape)
    inside = (y > 0) & (y < 1) & (a > 0)
    x = -np.log(y[inside])
    ai = a[inside]
    out[inside] = np.exp((ai - 1.0) * np.log(x) - special.gammaln(ai))
    at_one = y == 1.0
    out[at_one & (a < 1)] = np.inf
    out[at_one & (a == 1)] = 1.0
    return out


def straggling_cdf(y: ArrayLike, t: ArrayLike, b: float = B_COMPLETE_SCREENING) -> FloatArray:
    """Probability that the surviving energy fraction is <= y after t radiation lengths.

    P(Y <= y) = P(ln 1/Y >= ln 1/y) = Q(b t, ln 1/y), the regularised upper incomplete gamma
    function (``scipy.special.gammaincc``); 0 for y <= 0, 1 for y >= 1; at t = 0 it is 0 for
    y < 1 (all electrons keep E0).

    Parameters
    ----------
    y : array_like
        Energy fraction E/E0.
    t : array_like
        Thickness in X0 (>= 0).
    b : float
        Screening constant (default 4/3).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from darkmoments.detector import straggling_cdf
    >>> [round(float(straggling_cdf(y, 0.05)), 4) for y in (0.5, 0.9, 0.999)]
    [0.0265, 0.1144, 0.3466]
    """
    y, t = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(t, dtype=float))
    a = b * t
    out = np.where(y >= 1.0, 1.0, 0.0)
    inside = (y > 0) & (y < 1) & (a > 0)
    out[inside] = special.gammaincc(a[inside], -np.log(y[inside]))
    return out


def straggling_mean(t: ArrayLike, b: float = B_COMPLETE_SCREENING) -> FloatArray:
    """Mean surviving energy fraction <E>/E0 = E[exp(-X)], X ~ Gamma(b t, 1), = 2^(-b t).

    (The moment generating function of the Gamma distribution, E[e^(sX)] = (1 - s)^(-b t), at
    s = -1.)  For b = 4/3 this is exp(-0.924 t), close to the exact e^(-t) of the
    radiation-length definition.

    Parameters
    ----------
    t : array_like
        Thickness in X0.
    b : float
        Screening constant.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from darkmoments.detector import straggling_mean
    >>> float(straggling_mean(0.75)) == 2.0 ** (-(4 / 3) * 0.75)  # 2^(-b t), b = 4/3
    True
    """
    return np.power(2.0, -b * np.asarray(t, dtype=float))


def sample_straggling(
    t: ArrayLike, rng: np.random.Generator, b: float = B_COMPLETE_SCREENING
) -> FloatArray:
    """Draw surviving energy fractions y = E/E0 after t radiation lengths (one per element).

    y = exp(-X) with X ~ Gamma(shape b t, scale 1) (:func:`straggling_pdf`).  Robust as
    b t -> 0: numpy's gamma sampler returns X -> 0 (y -> 1), and exactly y = 1 at t = 0.

    Parameters
    ----------
    t : array_like
        Thickness in X0 for each event (>= 0).
    rng : numpy.random.Generator
    b : float
        Screening constant (default 4/3).

    Returns
    -------
    numpy.ndarray
        y in (0, 1], same shape as ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import sample_straggling, straggling_mean
    >>> y = sample_straggling(np.full(200_000, 0.05), np.random.default_rng(1))
    >>> bool(abs(y.mean() / float(straggling_mean(0.05)) - 1) < 0.003)
    True
    """
    rng = _check_rng(rng)
    a = b * np.asarray(t, dtype=float)
    if np.any(a < 0):
        raise InputError("thickness t must be >= 0 X0")
    return np.exp(-rng.gamma(a))


def bremsstrahlung_loss(
    energy: ArrayLike,
    mass: float,
    t: ArrayLike,
    rng: np.random.Generator,
    b: float = B_COMPLETE_SCREENING,
) -> FloatArray:
    """Energy of an electron after radiating in t X0 of material (Bethe-Heitler/Tsai).

    The kinetic energy is scaled by y ~ f(y; t) (:func:`straggling_pdf`):
    E' = m + y (E - m), which equals y E for E >> m (where the formula holds) and keeps
    E' >= m for the few soft recoils where it does not (those are far below the tracker
    acceptance).  The photons are emitted along the electron (angles ~ m/E), so the
    direction is unchanged.

    Parameters
    ----------
    energy : array_like
        Total energy in GeV.
    mass : float
        Lepton mass in GeV.
    t : array_like
        Material crossed in X0.
    rng : numpy.random.Generator
    b : float
        Screening constant.

    Returns
    -------
    numpy.ndarray
        Total energy in GeV after the material.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector.target import bremsstrahlung_loss, straggling_mean
    >>> e = bremsstrahlung_loss(np.full(100_000, 4.0), 0.000511, 0.05, np.random.default_rng(1))
    >>> bool(abs(e.mean() / (4.0 * float(straggling_mean(0.05))) - 1) < 0.01)
    True
    """
    e = np.asarray(energy, dtype=float)
    y = sample_straggling(np.broadcast_to(np.asarray(t, dtype=float), e.shape), rng, b)
    return mass + y * (e - mass)


# ----------------------------------------------------------------------------- ionisation


def _density_params(target: Target) -> tuple[float, float, float, float, float, float, float]:
    row = _STERNHEIMER.get(target.symbol)
    if row is None:
        allowed = ", ".join(_STERNHEIMER)
        raise InputError(
            f"no density-effect parameters for target {target.symbol}; allowed: {allowed}"
        )
    i_ev, ep_tab, cbar, x0, x1, a, k, delta0 = row
    rho_tab = (ep_tab / _PLASMA_EV_COEFF) ** 2 * target.A / target.Z
    shift = math.log(rho_tab / target.density)
    two_ln10 = 2.0 * math.log(10.0)
    return i_ev, cbar + shift, x0 + shift / two_ln10, x1 + shift / two_ln10, a, k, delta0


def bethe_dedx(p: ArrayLike, mass: float, target: str | Target = "W") -> FloatArray:
    """Mean ionisation energy loss -<dE/dx> of a singly charged heavy particle [MeV cm^2/g].

    The Bethe formula (PDG 2024, eq. 34.5)

        -<dE/dx> = K (Z/A) (1/beta^2) [ 1/2 ln(2 m_e beta^2 gamma^2 W_max / I^2)
                                         - beta^2 - delta(beta gamma)/2 ],

    K = 0.307075 MeV mol^-1 cm^2, W_max = 2 m_e beta^2 gamma^2 / (1 + 2 gamma m_e/M +
    (m_e/M)^2) (eq. 34.4), with the Sternheimer density effect delta (eq. 34.7): delta =
    2 ln(10) x - C + a (x1 - x)^k for x0 <= x < x1, 2 ln(10) x - C for x >= x1 and
    delta0 10^(2 (x - x0)) for x < x0 (conductors), x = log10(beta gamma); I and the
    parameters from Sternheimer, Berger & Seltzer (1984).  Valid for 0.1 < beta gamma < ~1000
    (muons of ~10 MeV to ~100 GeV); radiative losses (~10 % of the mean for 15 GeV muons in
    tungsten) are not included.  Gives the PDG minimum ionisation (1.145 MeV cm^2/g in W).

    Parameters
    ----------
    p : array_like
        Momentum in GeV.
    mass : float
        Particle mass in GeV (muon: 0.10566).
    target : str or Target
        Material (one of W, Pb, Cu, Fe, Al, C).

    Returns
    -------
    numpy.ndarray
        Mass stopping power in MeV cm^2 / g.

    Examples
    --------
    >>> from darkmoments.detector import bethe_dedx
    >>> round(float(bethe_dedx(0.3, 0.1056583755, "W")), 2)  # MeV cm^2/g, muon near minimum
    1.15
    """
    tgt = get_target(target)
    i_ev, cbar, x0, x1, a, k, delta0 = _density_params(tgt)
    p_mev = np.asarray(p, dtype=float) * 1.0e3
    m_mev = mass * 1.0e3
    bg = p_mev / m_mev
    bg2 = bg * bg
    gamma = np.sqrt(1.0 + bg2)
    beta2 = bg2 / (1.0 + bg2)
    ratio = _ME_MEV / m_mev
    w_max = 2.0 * _ME_MEV * bg2 / (1.0 + 2.0 * gamma * ratio + ratio * ratio)
    i_mev = i_ev * 1.0e-6
    x = np.log10(np.maximum(bg, 1e-300))
    two_ln10 = 2.0 * math.log(10.0)
    delta = np.where(
        x >= x1,
        two_ln10 * x - cbar,
        np.where(
            x >= x0,
            two_ln10 * x - cbar + a * np.power(np.maximum(x1 - x, 0.0), k),
            delta0 * np.power(10.0, 2.0 * (x - x0)),
        ),
    )
    bracket = 0.5 * np.log(2.0 * _ME_MEV * bg2 * w_max / (i_mev * i_mev)) - beta2 - 0.5 * delta
    return _K_BETHE_MEV * (tgt.Z / tgt.A) / beta2 * bracket


def ionisation_loss(
    energy: ArrayLike, mass: float, x_gcm2: ArrayLike, target: str | Target = "W"
) -> FloatArray:
    """Energy after the mean ionisation loss in x g/cm^2 of material (heavy leptons).

    Second-order (midpoint) integration of dE/dx = -<dE/dx>(E) (:func:`bethe_dedx`):
    E_mid = E - S(E) x / 2, E' = E - S(E_mid) x, which is exact to O(x^2 S S') and far better
    than needed for dE/dx varying logarithmically.  A particle that would stop (E' < m) is
    returned at rest, E' = m.  Landau fluctuations are not simulated (for 0.1 X0 of tungsten
    the mean loss is ~1 MeV, negligible against GeV recoils).

    Parameters
    ----------
    energy : array_like
        Total energy in GeV.
    mass : float
        Mass in GeV.
    x_gcm2 : array_like
        Material crossed in g/cm^2.
    target : str or Target
        Material.

    Returns
    -------
    numpy.ndarray
        Total energy in GeV.

    Examples
    --------
    >>> from darkmoments.detector.target import bethe_dedx, ionisation_loss
    >>> e = float(ionisation_loss(1.0, 0.1056583755, 1.0, "W"))  # 1 g/cm^2 of tungsten
    >>> round((1.0 - e) * 1e3, 2)  # MeV lost
    1.26
    """
    e = np.asarray(energy, dtype=float)
    x = np.broadcast_to(np.asarray(x_gcm2, dtype=float), e.shape)

    def mom(en: FloatArray) -> FloatArray:
        return np.sqrt(np.maximum(en * en - mass * mass, 0.0))

    # The Bethe formula holds for beta gamma > ~0.1; below, the particle stops within
    # micrometres, so the stopping power is frozen at beta gamma = 0.1 there.
    p_floor = 0.1 * mass
    s1 = bethe_dedx(np.maximum(mom(e), p_floor), mass, target) * 1.0e-3  # GeV cm^2/g
    e_mid = e - 0.5 * s1 * x
    s2 = bethe_dedx(np.maximum(mom(np.maximum(e_mid, mass)), p_floor), mass, target) * 1.0e-3
    out = np.where(e_mid > mass, np.maximum(e - s2 * x, mass), mass)
    return np.where(x > 0, out, e)


# ----------------------------------------------------------------------------- scattering


def highland_theta0(
    p: ArrayLike, mass: float, x_over_x0: ArrayLike, charge: float = 1.0
) -> FloatArray:
    """Width theta_0 [rad] of the projected (plane) multiple-scattering angle, Highland.

    theta_0 = 13.6 MeV / (beta c p) |z| sqrt(x/X0) [1 + 0.038 ln(x z^2 / (X0 beta^2))]
    (PDG 2024, "Passage of particles through matter", eq. 34.16; Highland 1975, Lynch & Dahl
    1991).  Accurate to ~11 % for 1e-3 < x/X0 < 100 (:data:`HIGHLAND_VALIDITY_X0`); outside
    that range it is still applied as is (below 1e-3 X0 the angles are tiny anyway: < 0.4
    mrad GeV / p).  theta_0 describes the Gaussian core (central 98 %) of the projected
    distribution; the single-scattering tail is not modelled.  x = 0 gives 0; the bracket is
    clipped at 0 (it would turn negative only for x/X0 < 4e-12).

    Parameters
    ----------
    p : array_like
        Momentum in GeV.
    mass : float
        Particle mass in GeV (beta = p / E).
    x_over_x0 : array_like
        Material crossed in radiation lengths.
    charge : float
        Charge number z (1 for leptons).

    Returns
    -------
    numpy.ndarray
        theta_0 in rad.

    Examples
    --------
    >>> from darkmoments.detector import highland_theta0
    >>> round(float(highland_theta0(1.0, 0.000511, 0.1)) * 1e3, 2)  # mrad, 1 GeV e- in 0.1 X0
    3.92
    """
    p = np.asarray(p, dtype=float)
    x = np.asarray(x_over_x0, dtype=float)
    beta = p / np.sqrt(p * p + mass * mass)
    z = abs(charge)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = 1.0 + 0.038 * np.log(x * z * z / (beta * beta))
        th = 0.0136 / (beta * p) * z * np.sqrt(x) * np.maximum(corr, 0.0)
    return np.where((x > 0) & (p > 0), th, 0.0)


def lynch_dahl_theta0(
    p: ArrayLike,
    mass: float,
    x_over_x0: ArrayLike,
    target: str | Target = "W",
    charge: float = 1.0,
    f: float = 0.98,
) -> FloatArray:
    """Plane-angle width [rad] from the Lynch-Dahl fit to Moliere theory (a cross-check).

    Lynch & Dahl, Nucl. Instrum. Meth. B 58 (1991) 6, eqs. 6-7 (the Gaussian that fits the
    central fraction F of the Moliere distribution):

        chi_c^2 = 0.157 Z(Z+1) X/A z^2 / (p beta)^2         [X in g/cm^2, p in MeV]
        chi_a^2 = 2.007e-5 Z^(2/3) [1 + 3.34 (Z z alpha / beta)^2] / p^2
        Omega = chi_c^2 / (1.167 chi_a^2),   nu = Omega / (2 (1 - F))
        theta_0^2 = chi_c^2 / (1 + F^2) [ (1 + nu)/nu ln(1 + nu) - 1 ]

    with F = 0.98; accurate to ~2 % over 1e-3 < x/X0 < 100.  The Highland formula is a fit to
    this; it is used here only to test :func:`highland_theta0` independently.

    Parameters
    ----------
    p : array_like
        Momentum in GeV.
    mass : float
        Mass in GeV.
    x_over_x0 : array_like
        Thickness in X0.
    target : str or Target
        Material (Z, A, X0 in g/cm^2).
    charge : float
        Charge number z.
    f : float
        Central fraction F fitted (0.98).

    Returns
    -------
    numpy.ndarray
        theta_0 in rad.

    Examples
    --------
    >>> from darkmoments.detector.target import highland_theta0, lynch_dahl_theta0
    >>> hl = float(highland_theta0(1.0, 0.000511, 0.1))
    >>> ld = float(lynch_dahl_theta0(1.0, 0.000511, 0.1))
    >>> bool(abs(ld / hl - 1) < 0.15)  # the two agree to about 10 %
    True
    """
    tgt = get_target(target)
    p_mev = np.asarray(p, dtype=float) * 1.0e3
    m_mev = mass * 1.0e3
    beta = p_mev / np.sqrt(p_mev * p_mev + m_mev * m_mev)
    x_g = np.asarray(x_over_x0, dtype=float) * tgt.X0_gcm2
    z2 = charge * charge
    chi_c2 = 0.157 * tgt.Z * (tgt.Z + 1) * x_g / tgt.A * z2 / (p_mev * beta) ** 2
    chi_a2 = (
        2.007e-5
        * tgt.Z ** (2.0 / 3.0)
        * (1.0 + 3.34 * (tgt.Z * abs(charge) * ALPHA_EM / beta) ** 2)
        / p_mev**2
    )
    omega = chi_c2 / (1.167 * chi_a2)
    nu = 0.5 * omega / (1.0 - f)
    with np.errstate(divide="ignore", invalid="ignore"):
        th2 = chi_c2 / (1.0 + f * f) * ((1.0 + nu) / nu * np.log1p(nu) - 1.0)
    return np.where(x_g > 0, np.sqrt(np.maximum(th2, 0.0)), 0.0)


def rotate_directions(
    px: ArrayLike,
    py: ArrayLike,
    pz: ArrayLike,
    theta_x: ArrayLike,
    theta_y: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Deflect momenta by plane angles (theta_x, theta_y) about their own direction.

    In the frame where the particle moves along +z the new direction is
    (tan theta_x, tan theta_y, 1) / sqrt(1 + tan^2 theta_x + tan^2 theta_y), so the projected
    angles atan(p_x'/p_z') and atan(p_y'/p_z') are exactly theta_x and theta_y; it is then
    rotated to the lab with the rotation that takes +z to the original direction u (the
    ``rotateUz`` construction of CLHEP/Geant4; for u along -z the frame is flipped).
    |p| is preserved.  Zero momenta are returned unchanged.

    Parameters
    ----------
    px, py, pz : array_like
        Momenta in GeV.
    theta_x, theta_y : array_like
        Plane deflection angles in rad (|theta| < pi/2).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        The deflected momentum components in GeV.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import rotate_directions
    >>> one = np.ones(1)
    >>> px, py, pz = rotate_directions(0 * one, 0 * one, one, 0.01 * one, 0 * one)
    >>> round(float(np.arctan2(px[0], pz[0])), 6), round(float(px[0]**2 + py[0]**2 + pz[0]**2), 12)
    (0.01, 1.0)
    """
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    tx = np.tan(np.asarray(theta_x, dtype=float))
    ty = np.tan(np.asarray(theta_y, dtype=float))
    p = np.sqrt(px * px + py * py + pz * pz)
    safe = np.where(p > 0, p, 1.0)
    u1, u2, u3 = px / safe, py / safe, pz / safe
    norm = 1.0 / np.sqrt(1.0 + tx * tx + ty * ty)
    vx, vy, vz = tx * norm, ty * norm, norm
    up2 = u1 * u1 + u2 * u2
    up = np.sqrt(up2)
    upsafe = np.where(up > 0, up, 1.0)
    gx = (u1 * u3 * vx - u2 * vy) / upsafe + u1 * vz
    gy = (u2 * u3 * vx + u1 * vy) / upsafe + u2 * vz
    gz = -up * vx + u3 * vz
    along = up == 0
    sign = np.where(u3 < 0, -1.0, 1.0)
    nx = np.where(along, sign * vx, gx)
    ny = np.where(along, vy, gy)
    nz = np.where(along, sign * vz, gz)
    moving = p > 0
    return (
        np.where(moving, p * nx, px),
        np.where(moving, p * ny, py),
        np.where(moving, p * nz, pz),
    )


def multiple_scatter(
    px: ArrayLike,
    py: ArrayLike,
    pz: ArrayLike,
    mass: float,
    x_over_x0: ArrayLike,
    rng: np.random.Generator,
    charge: float = 1.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Apply multiple Coulomb scattering through x X0 of material (Gaussian plane angles).

    theta_x, theta_y ~ N(0, theta_0) independently, theta_0 from :func:`highland_theta0`
    with the momentum at entry, then :func:`rotate_directions`; |p| is unchanged.  The
    lateral displacement does not affect the momentum and is not returned.

    Parameters
    ----------
    px, py, pz : array_like
        Momenta in GeV.
    mass : float
        Mass in GeV.
    x_over_x0 : array_like
        Material crossed in X0, per event or scalar.
    rng : numpy.random.Generator
    charge : float
        Charge number.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Scattered momentum components in GeV.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import highland_theta0, multiple_scatter
    >>> n = 100_000
    >>> px, py, pz = multiple_scatter(np.zeros(n), np.zeros(n), np.ones(n), 0.000511, 0.1,
    ...                               np.random.default_rng(1))
    >>> theta_x = np.arctan2(px, pz)
    >>> bool(abs(theta_x.std() / float(highland_theta0(1.0, 0.000511, 0.1)) - 1) < 0.02)
    True
    >>> bool(np.allclose(px**2 + py**2 + pz**2, 1.0))  # |p| kept
    True
    """
    rng = _check_rng(rng)
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    p = np.sqrt(px * px + py * py + pz * pz)
    th0 = highland_theta0(p, mass, np.broadcast_to(np.asarray(x_over_x0, float), p.shape), charge)
    z = rng.standard_normal((2, *p.shape))
    return rotate_directions(px, py, pz, th0 * z[0], th0 * z[1])


def propagate_recoil(
    energy: ArrayLike,
    px: ArrayLike,
    py: ArrayLike,
    pz: ArrayLike,
    mass: float,
    x_over_x0: ArrayLike,
    rng: np.random.Generator,
    *,
    target: str | Target = "W",
    multiple_scattering: bool = True,
    energy_loss: bool = True,
    b: float = B_COMPLETE_SCREENING,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Carry the recoil lepton out of the target: scattering, then energy loss.

    Multiple scattering (:func:`multiple_scatter`) uses the momentum at the production
    point; the energy loss over the same path is bremsstrahlung straggling for electrons
    (:func:`bremsstrahlung_loss`) and the mean ionisation loss for heavier leptons
    (:func:`ionisation_loss`; their bremsstrahlung is negligible here).  The momentum is then
    rescaled to the new energy along the scattered direction.  Using the entry momentum for
    the scattering is exact when the loss is small (mean loss 4.5 % for half of 0.1 X0).

    Parameters
    ----------
    energy, px, py, pz : array_like
        Recoil four-momentum at the vertex in GeV (energy-momentum consistent with ``mass``).
    mass : float
        Lepton mass in GeV.
    x_over_x0 : array_like
        Material to the target surface in X0 (:func:`slant_path_x0`).
    rng : numpy.random.Generator
    target : str or Target
        Material (for ionisation).
    multiple_scattering, energy_loss : bool
        Switch each effect.
    b : float
        Straggling constant.

    Returns
    -------
    (E, px, py, pz) : tuple of numpy.ndarray
        Four-momentum in GeV after the target.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import propagate_recoil
    >>> one = np.ones(1)
    >>> rng = np.random.default_rng(1)
    >>> e, px, py, pz = propagate_recoil(2.0 * one, 0 * one, 0 * one, 2.0 * one, 0.000511,
    ...                                  0.05 * one, rng)
    >>> bool(e[0] <= 2.0), bool(abs(px[0]) > 0)  # energy lost, direction scattered
    (True, True)
    """
    rng = _check_rng(rng)
    e = np.asarray(energy, dtype=float)
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    x = np.broadcast_to(np.asarray(x_over_x0, dtype=float), e.shape)
    if multiple_scattering:
        px, py, pz = multiple_scatter(px, py, pz, mass, x, rng)
    if energy_loss:
        tgt = get_target(target)
        if is_electron(mass):
            e_new = bremsstrahlung_loss(e, mass, x, rng, b)
        else:
            e_new = ionisation_loss(e, mass, x * tgt.X0_gcm2, tgt)
        p_old = np.sqrt(px * px + py * py + pz * pz)
        p_new = np.sqrt(np.maximum(e_new * e_new - mass * mass, 0.0))
        scale: FloatArray = np.where(p_old > 0, p_new / np.where(p_old > 0, p_old, 1.0), 0.0)
        px, py, pz, e = px * scale, py * scale, pz * scale, e_new
    return e, px, py, pz


# ----------------------------------------------------------------------------- incident


class _Sigma:
    """A cross section sigma(E) [pb] as a vectorised function with an upper bound."""

    def __init__(self, sigma: SigmaLike, e_lo: float, e_hi: float) -> None:
        self.e_lo, self.e_hi = e_lo, e_hi
        if callable(sigma):
            self._fn: Callable[[FloatArray], ArrayLike] = sigma
            grid = np.geomspace(e_lo, e_hi, 257)
            self.bound = float(np.max(self(grid)))
            self.exact_bound = False
        else:
            try:
                energies, values = sigma
            except (TypeError, ValueError) as exc:
                raise InputTypeError(
                    "sigma must be a callable sigma(E [GeV]) -> pb or a table "
                    "(energies [GeV], sigma [pb])"
                ) from exc
            en = _as_float_array("sigma table energies", energies)
            va = _as_float_array("sigma table values", values)
            if en.ndim != 1 or en.shape != va.shape or en.size < 2:
                raise InputError(
                    "sigma table needs 1D energies and values of the same length (>= 2), got "
                    f"shapes {en.shape} and {va.shape}"
                )
            if np.any(en <= 0) or np.any(np.diff(en) <= 0):
                raise InputError("sigma table energies must be > 0 GeV and strictly increasing")
            if np.any(va < 0):
                raise InputError("sigma table values must be >= 0 pb")
            tol = 1e-12
            if en[0] > e_lo * (1 + tol) or en[-1] < e_hi * (1 - tol):
                raise InputError(
                    f"sigma table must cover the incident energies [{e_lo:g}, {e_hi:g}] GeV "
                    f"(E_min to the top of the beam), got [{en[0]:g}, {en[-1]:g}] GeV"
                )
            log_e = np.log(en)

            def table(e: FloatArray) -> FloatArray:
                return np.interp(np.log(e), log_e, va)

            self._fn = table
            # Piecewise linear in ln E: the maximum is at a node inside the range.
            inside = (en >= e_lo) & (en <= e_hi)
            ends = table(np.array([e_lo, e_hi]))
            self.bound = float(max(np.max(va[inside], initial=0.0), *ends))
            self.exact_bound = True

    def __call__(self, e: FloatArray) -> FloatArray:
        vals = np.asarray(self._fn(np.asarray(e, dtype=float)), dtype=float)
        if vals.shape != np.shape(e):
            vals = np.broadcast_to(vals, np.shape(e)).astype(float)
        if not np.all(np.isfinite(vals)):
            raise NonFiniteResultError("sigma(E) returned a non-finite value")
        if np.any(vals < 0):
            raise InputError("sigma(E) must be >= 0 pb, got a negative value")
        return vals


@dataclass(frozen=True)
class IncidentSample:
    """Interaction points and incident energies drawn by :func:`sample_incident_energy`.

    Attributes
    ----------
    depth : numpy.ndarray
        Depth as a fraction of the target thickness.
    energy : numpy.ndarray
        Energy of the incident lepton at the interaction point, GeV.
    front_energy : numpy.ndarray
        Beam energy at the upstream face (after the beam-energy spread), GeV.
    n_proposed : int
        Proposals drawn up to the n-th acceptance: n / n_proposed estimates
        <sigma> / sigma_max (with the E_min cut), the rejection efficiency.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import sample_incident_energy
    >>> inc = sample_incident_energy(1000, 8.0, 0.1, np.random.default_rng(1))
    >>> inc.depth.shape, bool(np.all(inc.energy <= inc.front_energy + 1e-12))
    ((1000,), True)
    """

    depth: FloatArray
    energy: FloatArray
    front_energy: FloatArray
    n_proposed: int


def _incident_energy(
    front: FloatArray,
    t_up: FloatArray,
    mass: float,
    tgt: Target,
    rng: np.random.Generator,
    b: float,
    straggling: bool,
) -> FloatArray:
    if not straggling:
        return front
    if is_electron(mass):
        return front * sample_straggling(t_up, rng, b)
    return ionisation_loss(front, mass, t_up * tgt.X0_gcm2, tgt)


def _truncated_normal(rng: np.random.Generator, n: int, cut: float = 5.0) -> FloatArray:
    z = rng.standard_normal(n)
    bad = np.abs(z) > cut
    while np.any(bad):
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > cut
    return z


def sample_incident_energy(
    n: int,
    beam_energy: float,
    thickness_x0: float,
    rng: np.random.Generator,
    *,
    sigma: SigmaLike | None = None,
    mass: float = M_E,
    target: str | Target = "W",
    b: float = B_COMPLETE_SCREENING,
    e_min_fraction: float = 0.01,
    beam_energy_spread: float = 0.0,
    depth_range: tuple[float, float] = (0.0, 1.0),
    straggling: bool = True,
) -> IncidentSample:
    """Draw (depth, incident energy) pairs of interacting leptons, weighted by sigma(E).

    The density of an interaction at depth fraction d with incident energy E is

        P(d, E) ∝ f(E; d T) sigma(E) Theta(E > E_min),

    f the straggling distribution of the upstream material d T (:func:`straggling_pdf`,
    electrons) or a delta at the mean ionisation loss (heavier leptons), folded with a
    Gaussian beam-energy spread at the upstream face (truncated at 5 sigma).  Sampled exactly
    by acceptance-rejection: d uniform, E from the straggling law, accepted with probability
    sigma(E) / sigma_max.  For a table, sigma_max is exact (the interpolant, linear in ln E,
    peaks at a node); for a callable it is the maximum on a 257-point log grid, raised (and
    the sampling restarted) if a proposal ever exceeds it.  Events with E < E_min are
    dropped: with E_min = 1 % of E0 they are ~1e-4 of the rate at 0.1 X0, and their upstream
    photon (> 99 % of E0) would fail any missing-energy trigger; the yield then uses
    :func:`effective_cross_section` with the same cut.

    Parameters
    ----------
    n : int
        Number of interactions to return.
    beam_energy : float
        Nominal beam energy E0 in GeV.
    thickness_x0 : float
        Target thickness T in X0.
    rng : numpy.random.Generator
    sigma : callable or (energies, values) or None
        Cross section in pb as a function of the incident energy in GeV, or a table
        interpolated linearly in ln E (must cover [E_min, E0 (1 + 5 spread)]); ``None``:
        constant (the unweighted straggling distribution).
    mass : float
        Lepton mass in GeV (electron: straggling; heavier: ionisation).
    target : str or Target
        Material.
    b : float
        Straggling constant (4/3).
    e_min_fraction : float
        E_min / E0, in (0, 1).
    beam_energy_spread : float
        Relative Gaussian sigma of the beam energy (0: monochromatic).
    depth_range : (float, float)
        Depth interval (fractions of T).
    straggling : bool
        False: the incident energy is the beam energy (no upstream effect).

    Returns
    -------
    IncidentSample

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import sample_incident_energy
    >>> rng = np.random.default_rng(1)
    >>> inc = sample_incident_energy(20_000, 8.0, 0.1, rng, sigma=lambda e: e)
    >>> bool(inc.energy.max() <= 8.0 + 1e-9), round(float(np.median(inc.energy)), 1)
    (True, 8.0)
    """
    n = check_int("n", n, lo=0)
    rng = _check_rng(rng)
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    t_tot = check_real("thickness_x0", thickness_x0, lo=0.0, unit="X0")
    b = check_real("b", b, lo=0.0, lo_open=True)
    fmin = check_real("e_min_fraction", e_min_fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    spread = check_real("beam_energy_spread", beam_energy_spread, lo=0.0, hi=0.1)
    lo, hi = _check_depth_range(depth_range)
    tgt = get_target(target)
    e_min = fmin * e0
    e_hi = e0 * (1.0 + 5.0 * spread)
    sig = None if sigma is None else _Sigma(sigma, e_min, e_hi)
    if sig is not None and sig.bound <= 0:
        raise InputError(
            f"sigma(E) is zero for every incident energy in [{e_min:g}, {e_hi:g}] GeV: no "
            "interaction can be sampled"
        )

    proposal = _Proposal(e0, t_tot, lo, hi, spread, mass, tgt, b, straggling, e_min)
    while True:  # restarts only if a callable's sigma exceeds its bound
        sample = _accept_reject(n, proposal, sig, rng)
        if sample is not None:
            return sample


#: Proposal batches of :func:`sample_incident_energy`: the number still needed over the
#: running acceptance, times a safety factor, clipped to [_BATCH_MIN, _BATCH_MAX] (the upper
#: end bounds the memory); the acceptance used is floored at _MIN_ACCEPTANCE so that an
#: unlucky first batch cannot ask for a huge one.
_BATCH_SAFETY = 1.3
_BATCH_MIN = 1024
_BATCH_MAX = 5_000_000
_MIN_ACCEPTANCE = 1e-3


@dataclass(frozen=True)
class _Proposal:
    """Proposals (depth, front energy, incident energy) before the sigma-weighting."""

    e0: float
    t_tot: float
    lo: float
    hi: float
    spread: float
    mass: float
    target: Target
    b: float
    straggling: bool
    e_min: float

    def draw(
        self, m: int, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
        """m proposals: depth, front energy, incident energy (GeV) and E >= E_min."""
        d = rng.uniform(self.lo, self.hi, m) if self.hi > self.lo else np.full(m, self.lo)
        if self.spread > 0:
            front = self.e0 * (1.0 + self.spread * _truncated_normal(rng, m))
        else:
            front = np.full(m, self.e0)
        e_inc = _incident_energy(
            front, d * self.t_tot, self.mass, self.target, rng, self.b, self.straggling
        )
        return d, front, e_inc, e_inc >= self.e_min


def _accept_reject(
    n: int, proposal: _Proposal, sig: _Sigma | None, rng: np.random.Generator
) -> IncidentSample | None:
    """n accepted interactions, or None if a proposal exceeded sigma's bound (now raised)."""
    bound = sig.bound if sig is not None else 1.0
    parts_d: list[FloatArray] = []
    parts_e: list[FloatArray] = []
    parts_f: list[FloatArray] = []
    have, proposed, eff = 0, 0, 1.0
    while have < n:
        m = int(
            min(
                max(_BATCH_SAFETY * (n - have) / max(eff, _MIN_ACCEPTANCE), _BATCH_MIN),
                _BATCH_MAX,
            )
        )
        d, front, e_inc, keep = proposal.draw(m, rng)
        u = rng.uniform(0.0, 1.0, m)
        if sig is not None:
            s = np.zeros(m)
            s[keep] = sig(e_inc[keep])
            if s.max(initial=0.0) > bound:
                sig.bound = float(s.max())
                return None
            keep &= u * bound < s
        n_keep = int(keep.sum())
        if have + n_keep >= n:  # stop at the proposal that gives the n-th acceptance
            last = int(np.flatnonzero(keep)[n - have - 1]) + 1
            d, e_inc, front, keep = d[:last], e_inc[:last], front[:last], keep[:last]
            m, n_keep = last, n - have
        proposed += m
        parts_d.append(d[keep])
        parts_e.append(e_inc[keep])
        parts_f.append(front[keep])
        have += n_keep
        eff = max(have / proposed, 1e-6)
    depth = np.concatenate(parts_d) if parts_d else np.zeros(0)
    energy = np.concatenate(parts_e) if parts_e else np.zeros(0)
    front_e = np.concatenate(parts_f) if parts_f else np.zeros(0)
    return IncidentSample(depth, energy, front_e, proposed)


@dataclass(frozen=True)
class EffectiveCrossSection:
    """Depth-averaged cross section of :func:`effective_cross_section`.

    Attributes
    ----------
    sigma_pb : float
        <sigma> = (1/(hi - lo)) int dd int dE P(E | d) sigma(E) Theta(E > E_min), in pb: the
        yield is EOT x n_nuclei x L x <sigma> (x efficiency).
    sigma_nominal_pb : float
        sigma(E0), the cross section without target effects.
    ratio : float
        sigma_pb / sigma_nominal_pb (nan if sigma(E0) = 0).
    fraction_below_min : float
        Probability (unweighted, depth-averaged) that the incident energy is below E_min.

    Examples
    --------
    >>> from darkmoments.detector import effective_cross_section
    >>> eff = effective_cross_section(lambda e: e, 8.0, 0.1)  # sigma proportional to E
    >>> round(float(eff.ratio), 4), bool(eff.sigma_pb == eff.ratio * eff.sigma_nominal_pb)
    (0.9552, True)
    """

    sigma_pb: float
    sigma_nominal_pb: float
    ratio: float
    fraction_below_min: float


def effective_cross_section(
    sigma: SigmaLike,
    beam_energy: float,
    thickness_x0: float,
    *,
    mass: float = M_E,
    target: str | Target = "W",
    b: float = B_COMPLETE_SCREENING,
    e_min_fraction: float = 0.01,
    beam_energy_spread: float = 0.0,
    depth_range: tuple[float, float] = (0.0, 1.0),
    straggling: bool = True,
    n_depth: int = 32,
    n_x: int = 1200,
) -> EffectiveCrossSection:
    """Cross section averaged over the interaction depth and the incident-energy spectrum.

    <sigma> = (1/(hi-lo)) int_lo^hi dd E_X[ sigma(E_f e^{-X}) Theta(E_f e^{-X} > E_min) ],
    X ~ Gamma(b d T, 1) (electrons; heavier leptons: E = E_f minus the mean ionisation
    loss), E_f = E0 (1 + spread z) averaged with 20-point Gauss-Hermite nodes.  The depth
    integral uses ``n_depth`` Gauss-Legendre nodes; the X integral sums
    [P(X <= X_j+1) - P(X <= X_j)] sigma(midpoint) over ``n_x`` cells (a union of a linear and
    a logarithmic grid on [0, ln(E_f/E_min)]), with the probabilities from
    ``scipy.special.gammainc``.  This handles b d T -> 0 (the distribution piles up at
    X = 0) without any singular integrand, and is exact for piecewise constant sigma on the
    cells.  Accuracy ~1e-6 relative for smooth sigma (tested against the closed form for
    sigma proportional to E^k).

    Parameters
    ----------
    sigma : callable or (energies, values)
        Cross section in pb vs incident energy in GeV (see :func:`sample_incident_energy`).
    beam_energy : float
        E0 in GeV.
    thickness_x0 : float
        Target thickness in X0.
    mass, target, b, e_min_fraction, beam_energy_spread, depth_range, straggling
        As in :func:`sample_incident_energy`.
    n_depth, n_x : int
        Quadrature sizes.

    Returns
    -------
    EffectiveCrossSection

    Examples
    --------
    >>> from darkmoments.detector import effective_cross_section
    >>> flat = effective_cross_section(lambda e: 1.0 + 0 * e, 8.0, 0.1)
    >>> rising = effective_cross_section(lambda e: e, 8.0, 0.1)
    >>> round(float(flat.ratio), 3), bool(rising.ratio < 1.0)  # straggling lowers E
    (1.0, True)
    """
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    t_tot = check_real("thickness_x0", thickness_x0, lo=0.0, unit="X0")
    b = check_real("b", b, lo=0.0, lo_open=True)
    fmin = check_real("e_min_fraction", e_min_fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    spread = check_real("beam_energy_spread", beam_energy_spread, lo=0.0, hi=0.1)
    n_depth = check_int("n_depth", n_depth, lo=1)
    n_x = check_int("n_x", n_x, lo=16)
    lo, hi = _check_depth_range(depth_range)
    tgt = get_target(target)
    e_min = fmin * e0
    sig = _Sigma(sigma, e_min, e0 * (1.0 + 5.0 * spread))

    depths, wdepth = _depth_nodes(lo, hi, n_depth)
    fronts, wfront = _front_nodes(e0, spread)
    acc = _Sums()
    for ef, wf in zip(fronts, wfront, strict=True):
        if not straggling:
            s = sig(np.array([ef]))[0] if ef >= e_min else 0.0
            acc.total += wf * s
            acc.below += wf * float(ef < e_min)
        elif not is_electron(mass):
            _add_ionisation(acc, ef, wf, depths, wdepth, mass, t_tot, tgt, e_min, sig)
        else:
            _add_straggling(acc, ef, wf, depths, wdepth, t_tot, b, e_min, n_x, sig)
    nominal = float(sig(np.array([e0]))[0])
    ratio = acc.total / nominal if nominal > 0 else math.nan
    return EffectiveCrossSection(float(acc.total), nominal, ratio, float(acc.below))


class _Sums:
    """Running sums of :func:`effective_cross_section`: <sigma> (pb) and P(E < E_min)."""

    def __init__(self) -> None:
        self.total: float = 0.0
        self.below: float = 0.0


def _depth_nodes(lo: float, hi: float, n_depth: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre depths on [lo, hi] and weights summing to 1 (one node if lo == hi)."""
    if hi > lo:
        xd, wd = np.polynomial.legendre.leggauss(n_depth)
        return lo + (hi - lo) * 0.5 * (xd + 1.0), 0.5 * wd
    return np.array([lo]), np.array([1.0])


def _front_nodes(e0: float, spread: float) -> tuple[FloatArray, FloatArray]:
    """Front energies (GeV) and weights: 20-point Gauss-Hermite for a spread, else E0."""
    if spread > 0:
        zh, wh = np.polynomial.hermite_e.hermegauss(20)
        return e0 * (1.0 + spread * zh), wh / wh.sum()
    return np.array([e0]), np.array([1.0])


def _add_ionisation(
    acc: _Sums,
    ef: float,
    wf: float,
    depths: FloatArray,
    wdepth: FloatArray,
    mass: float,
    t_tot: float,
    tgt: Target,
    e_min: float,
    sig: _Sigma,
) -> None:
    """Heavier leptons: the incident energy is E_f minus the mean ionisation loss."""
    e_inc = ionisation_loss(np.full(depths.shape, ef), mass, depths * t_tot * tgt.X0_gcm2, tgt)
    ok = e_inc >= e_min
    s = np.zeros(depths.shape)
    s[ok] = sig(e_inc[ok])
    acc.total += wf * float(np.sum(wdepth * s))
    acc.below += wf * float(np.sum(wdepth * ~ok))


def _add_straggling(
    acc: _Sums,
    ef: float,
    wf: float,
    depths: FloatArray,
    wdepth: FloatArray,
    t_tot: float,
    b: float,
    e_min: float,
    n_x: int,
    sig: _Sigma,
) -> None:
    """Electrons: E = E_f e^-X, X ~ Gamma(b d T, 1), summed over cells of X (see above)."""
    x_max = math.log(ef / e_min) if ef > e_min else 0.0
    if x_max <= 0:
        acc.below += wf
        return
    half = n_x // 2
    nodes = np.unique(
        np.concatenate(
            [[0.0], np.linspace(0.0, x_max, half), np.geomspace(x_max * 1e-12, x_max, half)]
        )
    )
    mids = 0.5 * (nodes[1:] + nodes[:-1])
    s_mid = sig(ef * np.exp(-mids))
    for d, w in zip(depths, wdepth, strict=True):
        a = b * d * t_tot
        if a <= 0:
            acc.total += wf * w * float(sig(np.array([ef]))[0])
            continue
        cdf = special.gammainc(a, nodes)
        cdf[0] = 0.0
        acc.total += wf * w * float(np.sum(np.diff(cdf) * s_mid))
        acc.below += wf * w * float(special.gammaincc(a, x_max))
