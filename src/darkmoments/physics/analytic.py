r"""The analytic (Weizsacker-Williams) method of the paper's section 4.1.

The nucleus is treated as a static source of quasi-real photons (improved Weizsacker-Williams
approximation of Bjorken, Essig, Schuster, Toro 2009 [BEST], arXiv:0906.0580, section II and
appendix A, following Kim and Tsai, Phys. Rev. D 8 (1973) 3109).  The 2 -> 3 cross section
l N -> l N A' factorises into the effective photon flux ``chi`` and the 2 -> 2 process
gamma l -> A' l evaluated at the kinematic point fixed by the A' energy fraction
x = E_A'/E0 and angle theta to the beam:

.. math::

    \tilde s = \frac{U}{1-x}, \qquad \tilde u = -U, \qquad
    t_2 = m_{A'}^2 - \frac{U x}{1-x}, \qquad
    U = E_0^2 \theta^2 x + m_{A'}^2 \frac{1-x}{x} + m_l^2 x .

Conventions (all stated because the paper leaves A and B of eqs. 4.1/4.2 open):

* **Flux.**  ``chi = int_{tmin}^{tmax} dt (t - tmin)/t^2 G2(t)`` with G2 = G2_el + G2_inel of
  :mod:`darkmoments.physics.form_factors` (BEST eqs. A18/A19, corrected A19).  G2 contains
  Z^2 (elastic) and Z (inelastic), so ``chi`` contains Z^2: this is BEST's chi, not chi/Z^2.
  Limits: BEST section II (the x- and theta-independent choice used for their eq. 9 and by
  the LDMX/Geant4 dark-brem WW model): ``tmin = (m_A'^2 / (2 E0))^2``, ``tmax = m_A'^2``.
* **Kinetic mixing, eq. 4.1**, with BEST's absolute normalisation (BEST section II, the
  double-differential WW formula, ``A = 8 alpha^3 eps^2 E0^2 beta chi``, Z^2 inside chi):

  .. math::

     \frac{d\sigma_{KM}}{dx\,d\cos\theta} = 8\alpha^3\epsilon^2 E_0^2 \beta\chi\; x
       \left[\frac{1-x+x^2/2}{U^2} + \frac{(1-x)^2 m_{A'}^2}{U^4}
       \left(m_{A'}^2 - \frac{U x}{1-x}\right)\right],
     \qquad \beta = \sqrt{1 - m_{A'}^2/E_0^2}.

  Check of the normalisation (a unit test does it numerically): in the small-angle limit
  ``d cos(theta) = theta d theta = dU / (2 E0^2 x)`` and with m_l -> 0 the theta integral
  gives ``d sigma/dx = 4 alpha^3 eps^2 beta chi x (1 - x + x^2/3) / (m_A'^2 (1 - x))``,
  BEST's single-differential result (their eq. 9 shape, ``1 + x^2/(3(1-x))``) and exactly
  the integrand of the LDMX Geant4 WW model (ldmx-sw ``G4eDarkBremsstrahlungModel``:
  ``sigma = 4 alpha^3 eps^2 chi int dx beta (1 - x + x^2/3)/(m^2 (1-x)/x + m_e^2 x)``, same
  tmin, tmax); the total is ``sigma ~ (4/3) alpha^3 eps^2 chi / m^2 ln(...)``.  (The BEST
  equation numbers quoted here were not re-checked against the BEST text; the normalisation
  was checked against the ldmx-sw implementation above.)  Caveat: with the x-independent
  tmin the WW spectrum keeps its 1/(1-x) growth up to 1 - x ~ max(m_l^2/m_A'^2, m_l/E0), so
  it puts far more weight at soft recoil (E < 0.1 GeV: ~60% for km at 4 GeV, 100 MeV) than
  the exact calculation, where tmin = (U/(2 E0 (1-x)))^2 grows as x -> 1.

* **Magnetic dipole: derivation of the analogue of eq. 4.2.**  The WW factorisation is
  ``d sigma / dx dcos(theta) = K(x) |M_{gamma l -> A' l}|^2 / s~^2`` with a flux factor K that
  does not depend on the A'-lepton vertex.  Fixing K with the km result (above) and the
  spin-summed/averaged km Compton-like amplitude (massless lepton, massive A', photon
  polarisation sum -g, A' sum -g + k k/m^2)

  .. math::  \overline{|M|^2}_{KM} = 2 e^4\epsilon^2 \left[-\frac{\tilde s}{\tilde u}
             - \frac{\tilde u}{\tilde s} - \frac{2 t_2 m_{A'}^2}{\tilde s \tilde u}\right]

  (it reproduces the bracket of eq. 4.1 exactly at the WW point), we computed the same
  trace for the vertex ``e g sigma^{mu nu} k_nu`` (contracted with the A' polarisation it is
  ``i e g epsslash* kslash``):

  .. math::  \overline{|M|^2}_{M} = e^4 g^2 \left[4 (m_{A'}^2 - t_2)
             - \frac{m_{A'}^2 (t_2^2 + m_{A'}^4)}{\tilde s\tilde u}\right]

  (both traces are verified against an explicit numerical Dirac-matrix spin sum in
  ``tests/physics/test_analytic.py``).  At the WW point this gives

  .. math::

     \frac{d\sigma_{M}}{dx\,d\cos\theta} = 8\alpha^3 g^2 E_0^2\beta\chi\; x
       \left[\frac{x}{U} + \frac{m_{A'}^2\left[((1-x)m_{A'}^2 - U x)^2 + (1-x)^2 m_{A'}^4\right]}
       {4 U^4}\right],

  whose large-U (large-angle) leading term ``B x^2 / U`` with ``B = 8 alpha^3 g^2 E0^2 beta
  chi`` is the paper's eq. 4.2 (from Rizzo, arXiv:2106.11150).  ``md_form="full"`` (default)
  uses the whole expression, ``md_form="eq4.2"`` only the paper's leading term (same B).
  g = mu_f/e in GeV^-1.
* **Other models** (same massless-lepton hard process): for an on-shell A' the charge-radius
  vertex is m_A'^2 times the km one, so ``cr = m_A'^4 km``; anapole equals charge radius and
  electric dipole equals magnetic dipole up to lepton-mass terms, which the massless hard
  process drops (verified numerically in the tests for m_l = 0).
* **Lepton mass** enters only through U (eq. 4.1's U with a general m_l), and the x range
  ``m_A'/E0 <= x <= 1 - m_l/E0``.  theta is integrated from 0 to ``theta_max`` (default pi,
  as in the paper) with the paper's small-angle U (theta^2, not 2(1 - cos theta)).
* **Recoil lepton** (nucleus at rest): ``E = E0 (1 - x)``, ``p_T = |k| sin(theta)``,
  ``|k| = sqrt(x^2 E0^2 - m_A'^2)``.

Units: GeV for energies and masses, GeV^2 for t and U, pb for cross sections.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import ALPHA_EM, GEV2_TO_PB, M_E
from ..errors import InputError
from ..experiments import check_edges
from ..models import Model, check_coupling, get_model
from ..targets import Target, get_target
from ..validation import check_choice, check_real
from .form_factors import G2

__all__ = [
    "MdForm",
    "dsigma_dx",
    "dsigma_dx_dcostheta",
    "photon_flux_chi",
    "recoil_binned_sigma",
    "recoil_distributions",
    "sigma_ww",
    "t_limits",
    "ww_U",
    "x_limits",
]

MdForm = Literal["full", "eq4.2"]

#: Screening / size scales of the form factor (BEST eqs. A18, A19), used as quadrature
#: break points only: a = 111 Z^-1/3/m_e, a' = 773 Z^-2/3/m_e, d = 0.164 A^-2/3 GeV^2,
#: proton dipole 0.71 GeV^2.
_A_EL, _A_INEL, _D_NUC, _DIPOLE = 111.0, 773.0, 0.164, 0.71


# ---------------------------------------------------------------------------------------
# validation helpers (darkmoments.validation, models.check_coupling, experiments.check_edges)
# ---------------------------------------------------------------------------------------
def _finite_positive(name: str, value: float, unit: str = "GeV") -> float:
    return check_real(name, value, lo=0.0, lo_open=True, unit=unit)


def _check_kinematics(mass: float, beam_energy: float, lepton_mass: float) -> None:
    if beam_energy <= mass + lepton_mass:
        raise InputError(
            f"beam_energy = {beam_energy} GeV must exceed mass + lepton_mass = "
            f"{mass + lepton_mass} GeV (allowed: mass in (0, beam_energy - lepton_mass))"
        )


def _check_theta_max(theta_max: float) -> float:
    t = _finite_positive("theta_max", theta_max, unit="rad")
    if t > math.pi:
        raise InputError(f"theta_max must be in (0, pi], got {theta_max}")
    return t


def _check_edges(name: str, edges: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(check_edges(name, edges), dtype=float)


# ---------------------------------------------------------------------------------------
# quadrature helpers
# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _leggauss(n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _gl(
    a: NDArray[np.float64], b: NDArray[np.float64], n: int, panels: int = 1
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Composite Gauss-Legendre nodes/weights on [a, b] (broadcast); new last axis."""
    a = np.asarray(a, dtype=float)[..., None]
    b = np.asarray(b, dtype=float)[..., None]
    xg, wg = _leggauss(n)
    edges = np.linspace(0.0, 1.0, panels + 1)
    u = (edges[:-1, None] + edges[1:, None]) / 2 + (edges[1:, None] - edges[:-1, None]) / 2 * xg
    wu = ((edges[1:, None] - edges[:-1, None]) / 2 * wg).ravel()
    u = u.ravel()
    nodes = a + (b - a) * u
    weights = (b - a) * wu
    return nodes, weights


# ---------------------------------------------------------------------------------------
# flux
# ---------------------------------------------------------------------------------------
def t_limits(mass: float, beam_energy: float) -> tuple[float, float]:
    """The BEST limits of the flux integral.

    Parameters
    ----------
    mass : float
        A' mass in GeV.
    beam_energy : float
        Lepton beam energy E0 in GeV.

    Returns
    -------
    (tmin, tmax) : tuple of float
        ``tmin = (m_A'^2/(2 E0))^2`` and ``tmax = m_A'^2`` in GeV^2 (BEST, arXiv:0906.0580,
        section II).

    Examples
    --------
    >>> from darkmoments.physics.analytic import t_limits
    >>> tmin, tmax = t_limits(0.1, 8.0)
    >>> f"{tmin:.3g} {tmax:.3g}"
    '3.91e-07 0.01'
    """
    m = _finite_positive("mass", mass)
    e0 = _finite_positive("beam_energy", beam_energy)
    return (m * m / (2.0 * e0)) ** 2, m * m


def photon_flux_chi(
    mass: float,
    beam_energy: float,
    target: str | Target = "W",
    *,
    tmin: float | None = None,
    tmax: float | None = None,
    inelastic: bool = True,
) -> float:
    """Effective photon flux chi = int_tmin^tmax dt (t - tmin)/t^2 G2(t) (dimensionless).

    Quadrature: composite Gauss-Legendre in ln t, with the form-factor scales (1/a^2, 1/a'^2,
    d, 0.71 GeV^2) as panel boundaries; relative accuracy ~1e-10.

    Parameters
    ----------
    mass : float
        A' mass in GeV (sets the default limits).
    beam_energy : float
        Beam energy in GeV.
    target : str or Target
        Target material (default tungsten).
    tmin, tmax : float, optional
        Override the BEST limits of :func:`t_limits` (GeV^2); requires 0 < tmin < tmax.
    inelastic : bool
        Include G2_inel (default True).

    Returns
    -------
    float
        chi, including the Z^2 of G2_el (BEST convention).

    Examples
    --------
    >>> from darkmoments.physics.analytic import photon_flux_chi
    >>> chi = photon_flux_chi(0.1, 8.0)
    >>> bool(chi > photon_flux_chi(1.0, 8.0) > 0)  # heavier A': larger t_min, smaller flux
    True
    """
    tg = get_target(target)
    lo, hi = t_limits(mass, beam_energy)
    lo = lo if tmin is None else _finite_positive("tmin", tmin, unit="GeV^2")
    hi = hi if tmax is None else _finite_positive("tmax", tmax, unit="GeV^2")
    if not lo < hi:
        raise InputError(f"need tmin < tmax, got tmin = {lo} GeV^2, tmax = {hi} GeV^2")
    Z, A = float(tg.Z), float(tg.A)
    scales = [
        (M_E * Z ** (1.0 / 3.0) / _A_EL) ** 2,
        (M_E * Z ** (2.0 / 3.0) / _A_INEL) ** 2,
        _D_NUC * A ** (-2.0 / 3.0),
        _DIPOLE,
    ]
    pts = np.log(np.array(sorted({lo, hi, *[s for s in scales if lo < s < hi]})))
    total = 0.0
    for a, b in itertools.pairwise(pts):
        panels = max(2, math.ceil(b - a))
        u, w = _gl(np.array(a), np.array(b), 24, panels)
        t = np.exp(u)
        total += float(np.sum(w * (t - lo) / t * G2(t, Z, A, inelastic=inelastic)))
    return total


# ---------------------------------------------------------------------------------------
# differential cross section
# ---------------------------------------------------------------------------------------
def ww_U(
    x: ArrayLike, theta: ArrayLike, mass: float, beam_energy: float, lepton_mass: float = M_E
) -> NDArray[np.float64]:
    """U = E0^2 theta^2 x + m_A'^2 (1 - x)/x + m_l^2 x in GeV^2 (paper, below eq. 4.1).

    Parameters
    ----------
    x : array_like
        A' energy fraction E_A'/E0.
    theta : array_like
        A' angle to the beam in rad.
    mass, beam_energy, lepton_mass : float
        A' mass, beam energy and lepton mass in GeV.

    Examples
    --------
    >>> from darkmoments.physics.analytic import ww_U
    >>> float(ww_U(0.5, 0.0, 0.1, 8.0, lepton_mass=0.0))  # m^2 (1 - x)/x at theta = 0
    0.010000000000000002
    """
    x = np.asarray(x, dtype=float)
    th = np.asarray(theta, dtype=float)
    return beam_energy**2 * th**2 * x + mass**2 * (1.0 - x) / x + lepton_mass**2 * x


def x_limits(mass: float, beam_energy: float, lepton_mass: float = M_E) -> tuple[float, float]:
    """Range of x = E_A'/E0 used by the paper: ``m_A'/E0 <= x <= 1 - m_l/E0``.

    Parameters
    ----------
    mass, beam_energy, lepton_mass : float
        GeV.

    Examples
    --------
    >>> from darkmoments.physics.analytic import x_limits
    >>> x_limits(0.1, 8.0)
    (0.0125, 0.99993612513125)
    """
    m = _finite_positive("mass", mass)
    e0 = _finite_positive("beam_energy", beam_energy)
    ml = _finite_positive("lepton_mass", lepton_mass)
    _check_kinematics(m, e0, ml)
    return m / e0, 1.0 - ml / e0


def _kernel(
    model: Model, x: NDArray[np.float64], U: NDArray[np.float64], m: float, md_form: str
) -> NDArray[np.float64]:
    """The x [...] part of eqs. 4.1/4.2 (without 8 alpha^3 g^2 E0^2 beta chi).

    The massless-lepton hard process does not see gamma^5, so it depends on the vertex
    kind only: charge and radius vertices share the km kernel, times m_A'^(2n) (the radius
    vertex is m_A'^2 times the charge one on shell); dipoles have their own.
    """
    m2 = m * m
    omx = 1.0 - x
    if model.vertex != "dipole":
        br = (omx + 0.5 * x * x) / U**2 + omx**2 * m2 * m2 / U**4 - x * omx * m2 / U**3
        return x * br * m ** (2 * model.dimension)
    if md_form == "eq4.2":
        return x * x / U
    corr = m2 * ((omx * m2 - U * x) ** 2 + omx**2 * m2 * m2) / (4.0 * U**4)
    return x * (x / U + corr)


def _prefactor_pb(mass: float, beam_energy: float, chi: float, coupling: float) -> float:
    beta = math.sqrt(1.0 - mass**2 / beam_energy**2)
    return 8.0 * ALPHA_EM**3 * coupling**2 * beam_energy**2 * beta * chi * GEV2_TO_PB


def _setup(
    model: str | Model,
    mass: float,
    beam_energy: float,
    coupling: float,
    lepton_mass: float,
    target: str | Target,
    md_form: str,
    chi: float | None,
) -> tuple[Model, float, float, float, float, float]:
    mdl = get_model(model)
    m = _finite_positive("mass", mass)
    e0 = _finite_positive("beam_energy", beam_energy)
    ml = _finite_positive("lepton_mass", lepton_mass)
    _check_kinematics(m, e0, ml)
    g = check_coupling(coupling, positive=False)
    check_choice("md_form", md_form, ("full", "eq4.2"))
    c = photon_flux_chi(m, e0, target) if chi is None else _finite_positive("chi", chi, unit="")
    return mdl, m, e0, ml, g, _prefactor_pb(m, e0, c, g)


def dsigma_dx_dcostheta(
    model: str | Model,
    x: ArrayLike,
    theta: ArrayLike,
    mass: float,
    beam_energy: float,
    *,
    coupling: float = 1.0,
    lepton_mass: float = M_E,
    target: str | Target = "W",
    md_form: MdForm = "full",
    chi: float | None = None,
) -> NDArray[np.float64]:
    """WW double-differential cross section d sigma / dx dcos(theta) in pb (eqs. 4.1/4.2).

    Parameters
    ----------
    model : str or Model
        ``km md ed cr am`` (see the module docstring for how ed, cr, am are obtained).
    x : array_like
        A' energy fraction E_A'/E0; outside ``x_limits`` the result is 0.
    theta : array_like
        A' angle to the beam in rad.
    mass, beam_energy : float
        A' mass and beam energy in GeV.
    coupling : float
        g_f in the model's units (1, GeV^-1, GeV^-2); the result scales as g_f^2.
    lepton_mass : float
        Beam-lepton mass in GeV (default m_e).
    target : str or Target
        Target (sets chi).
    md_form : {"full", "eq4.2"}
        Dipole models only: the full WW result or the paper's leading term B x^2/U.
    chi : float, optional
        Precomputed flux (skips the quadrature).

    Returns
    -------
    ndarray
        pb per unit x per unit cos(theta).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.analytic import dsigma_dx_dcostheta
    >>> d = dsigma_dx_dcostheta("km", 0.5, np.array([1e-3, 1e-2, 1e-1]), 0.1, 8.0)
    >>> bool(d[0] > d[1] > d[2])  # the A' goes forward
    True
    """
    mdl, m, e0, ml, _, pref = _setup(
        model, mass, beam_energy, coupling, lepton_mass, target, md_form, chi
    )
    x = np.asarray(x, dtype=float)
    th = np.asarray(theta, dtype=float)
    xlo, xhi = m / e0, 1.0 - ml / e0
    inside = (x >= xlo) & (x <= xhi) & (th >= 0) & (th <= math.pi)
    xs = np.where(inside, x, 0.5 * (xlo + xhi))
    U = ww_U(xs, th, m, e0, ml)
    return np.where(inside, pref * _kernel(mdl, xs, U, m, md_form), 0.0)


def _theta_integral(
    mdl: Model,
    x: NDArray[np.float64],
    th_lo: NDArray[np.float64],
    th_hi: NDArray[np.float64],
    m: float,
    e0: float,
    ml: float,
    md_form: str,
    n: int = 48,
) -> NDArray[np.float64]:
    """int_{th_lo}^{th_hi} dcos(theta) kernel, via w = ln(U/U0); broadcasting arrays."""
    U0 = ww_U(x, 0.0, m, e0, ml)
    ulo = ww_U(x, th_lo, m, e0, ml)
    uhi = ww_U(x, th_hi, m, e0, ml)
    wlo, whi = np.log(ulo / U0), np.log(uhi / U0)
    span = np.max(whi - wlo, initial=0.0)
    panels = max(1, min(8, math.ceil(span / 3.0)))
    w, wt = _gl(wlo, whi, n, panels)
    xb = x[..., None]
    U = U0[..., None] * np.exp(w)
    th = np.sqrt(np.maximum(U - U0[..., None], 0.0) / (e0 * e0 * xb))
    jac = np.sinc(th / math.pi) * U / (2.0 * e0 * e0 * xb)  # dcos = sin(th) dth
    val = np.sum(wt * jac * _kernel(mdl, xb, U, m, md_form), axis=-1)
    return np.where(th_hi > th_lo, val, 0.0)


def _x_nodes(
    x_lo: ArrayLike, x_hi: ArrayLike, n: int = 32, panels: int = 4
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GL nodes in y = ln(1 - x) on [x_lo, x_hi]; returns x nodes and weights for dx."""
    ylo = np.log1p(-np.asarray(x_hi, dtype=float))
    yhi = np.log1p(-np.asarray(x_lo, dtype=float))
    y, wy = _gl(ylo, yhi, n, panels)
    x = -np.expm1(y)
    return x, wy * (1.0 - x)


def dsigma_dx(
    model: str | Model,
    x: ArrayLike,
    mass: float,
    beam_energy: float,
    *,
    coupling: float = 1.0,
    lepton_mass: float = M_E,
    target: str | Target = "W",
    theta_max: float = math.pi,
    md_form: MdForm = "full",
    chi: float | None = None,
) -> NDArray[np.float64]:
    """d sigma / dx in pb: eq. 4.1/4.2 integrated over cos(theta) from cos(theta_max) to 1.

    Parameters
    ----------
    model, mass, beam_energy, coupling, lepton_mass, target, md_form, chi
        As in :func:`dsigma_dx_dcostheta` (GeV, model units).
    x : array_like
        A' energy fraction; 0 outside ``x_limits``.
    theta_max : float
        Upper limit of the A' angle in rad, in (0, pi] (paper: pi).

    Returns
    -------
    ndarray
        pb per unit x.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.analytic import dsigma_dx, sigma_ww, x_limits
    >>> lo, hi = x_limits(0.1, 8.0)
    >>> x = 1 - np.geomspace(1 - lo, 1 - hi, 4001)  # dense towards x -> 1, where km peaks
    >>> total = np.trapezoid(dsigma_dx("km", x, 0.1, 8.0), x)
    >>> bool(abs(total / sigma_ww("km", 0.1, 8.0) - 1) < 1e-4)
    True
    """
    mdl, m, e0, ml, _, pref = _setup(
        model, mass, beam_energy, coupling, lepton_mass, target, md_form, chi
    )
    thm = _check_theta_max(theta_max)
    x = np.asarray(x, dtype=float)
    xlo, xhi = m / e0, 1.0 - ml / e0
    inside = (x >= xlo) & (x <= xhi)
    xs = np.where(inside, x, 0.5 * (xlo + xhi))
    val = _theta_integral(mdl, xs, np.zeros_like(xs), np.full_like(xs, thm), m, e0, ml, md_form)
    return np.where(inside, pref * val, 0.0)


def sigma_ww(
    model: str | Model,
    mass: float,
    beam_energy: float,
    *,
    coupling: float = 1.0,
    lepton_mass: float = M_E,
    target: str | Target = "W",
    theta_max: float = math.pi,
    md_form: MdForm = "full",
) -> float:
    """Total WW cross section in pb: x from m_A'/E0 to 1 - m_l/E0, theta from 0 to theta_max.

    Parameters
    ----------
    model : str or Model
        ``km md ed cr am``.
    mass, beam_energy : float
        A' mass and beam energy in GeV.
    coupling : float
        g_f in the model's units; sigma scales as g_f^2.
    lepton_mass : float
        Lepton mass in GeV (default m_e; use M_MU for muon beams).
    target : str or Target
        Target material (default W).
    theta_max : float
        Upper limit of the A' angle in rad (default pi, as in the paper).
    md_form : {"full", "eq4.2"}
        Dipole models: full WW result or the paper's eq. 4.2 leading term.

    Returns
    -------
    float
        sigma in pb (absolute: BEST normalisation, see the module docstring).

    Examples
    --------
    >>> from darkmoments.physics.analytic import sigma_ww
    >>> km, cr = sigma_ww("km", 0.1, 8.0), sigma_ww("cr", 0.1, 8.0)
    >>> f"{km:.3g} pb", round(cr / (0.1**4 * km), 6)
    ('7.38e+09 pb', 1.0)
    """
    mdl, m, e0, ml, _, pref = _setup(
        model, mass, beam_energy, coupling, lepton_mass, target, md_form, None
    )
    thm = _check_theta_max(theta_max)
    x, wx = _x_nodes(np.array(m / e0), np.array(1.0 - ml / e0), 32, 12)
    val = _theta_integral(mdl, x, np.zeros_like(x), np.full_like(x, thm), m, e0, ml, md_form)
    return float(pref * np.sum(wx * val))


def recoil_binned_sigma(
    model: str | Model,
    mass: float,
    beam_energy: float,
    e_edges: ArrayLike,
    pt_edges: ArrayLike,
    *,
    coupling: float = 1.0,
    lepton_mass: float = M_E,
    target: str | Target = "W",
    theta_max: float = math.pi,
    md_form: MdForm = "full",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WW cross section in each recoil-lepton energy bin and p_T bin (pb per bin).

    Nucleus at rest: ``E = E0 (1 - x)`` and ``p_T = |k| sin(theta)``,
    ``|k| = sqrt(x^2 E0^2 - m_A'^2)``.  The bin integrals are done by quadrature with the
    bin edges mapped exactly onto x (energy) and onto theta for each x (p_T, both branches
    theta < pi/2 and theta > pi/2), so there is no binning of sample points.

    Parameters
    ----------
    model, mass, beam_energy, coupling, lepton_mass, target, theta_max, md_form
        As in :func:`sigma_ww`.
    e_edges, pt_edges : array_like
        Increasing bin edges of the recoil energy and transverse momentum in GeV.

    Returns
    -------
    (sigma_E, sigma_pT) : tuple of ndarray
        pb in each bin (events outside the edges are not counted).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.analytic import recoil_binned_sigma, sigma_ww
    >>> e_edges, pt_edges = np.linspace(0, 8, 41), np.geomspace(1e-5, 8, 41)
    >>> by_e, by_pt = recoil_binned_sigma("km", 0.1, 8.0, e_edges, pt_edges)
    >>> bool(abs(by_e.sum() / sigma_ww("km", 0.1, 8.0) - 1) < 0.01)
    True
    """
    mdl, m, e0, ml, _, pref = _setup(
        model, mass, beam_energy, coupling, lepton_mass, target, md_form, None
    )
    thm = _check_theta_max(theta_max)
    ee = _check_edges("e_edges", e_edges)
    pe = _check_edges("pt_edges", pt_edges)
    xlo, xhi = m / e0, 1.0 - ml / e0

    # energy: bin [E_a, E_b] <-> x in [1 - E_b/E0, 1 - E_a/E0]
    a = np.clip(1.0 - ee[1:] / e0, xlo, xhi)
    b = np.clip(1.0 - ee[:-1] / e0, xlo, xhi)
    x, wx = _x_nodes(a, b, 24, 4)
    val = _theta_integral(mdl, x, np.zeros_like(x), np.full_like(x, thm), m, e0, ml, md_form)
    sig_e = pref * np.sum(wx * val, axis=-1) * (b > a)

    # p_T: x sub-intervals split where |k(x)| = p_T edge
    def x_of_k(k: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.clip(np.sqrt(k * k + m * m) / e0, xlo, xhi)

    plo, phi_ = pe[:-1], pe[1:]
    bounds = np.stack([np.full_like(plo, xlo), x_of_k(plo), x_of_k(phi_), np.full_like(plo, xhi)])
    sig_p = np.zeros(plo.size)
    half = min(thm, math.pi / 2)
    for j in range(3):
        lo, hi = bounds[j], bounds[j + 1]
        xs, ws = _x_nodes(lo, hi, 48, 8)  # (nb, n); sqrt kinks at lo: many nodes
        k = np.sqrt(np.maximum(xs * xs * e0 * e0 - m * m, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            s_lo = np.clip(np.where(k > 0, plo[:, None] / k, 2.0), 0.0, 1.0)
            s_hi = np.clip(np.where(k > 0, phi_[:, None] / k, 2.0), 0.0, 1.0)
        t1 = np.arcsin(s_lo)
        t2 = np.arcsin(s_hi)
        # branch theta in [0, pi/2]: p_T increases with theta
        lo1, hi1 = np.minimum(t1, half), np.minimum(t2, half)
        tot = _theta_integral(mdl, xs, lo1, hi1, m, e0, ml, md_form)
        if thm > math.pi / 2:  # branch theta in [pi/2, pi]: p_T decreases with theta
            lo2 = np.minimum(math.pi - t2, thm)
            hi2 = np.minimum(math.pi - t1, thm)
            tot = tot + _theta_integral(mdl, xs, lo2, hi2, m, e0, ml, md_form)
        sig_p += pref * np.sum(ws * tot, axis=-1) * (hi > lo)
    return sig_e, sig_p


def recoil_distributions(
    model: str | Model,
    mass: float,
    beam_energy: float,
    e_edges: ArrayLike,
    pt_edges: ArrayLike,
    *,
    lepton_mass: float = M_E,
    target: str | Target = "W",
    theta_max: float = math.pi,
    md_form: MdForm = "full",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Normalised recoil-lepton energy and p_T distributions of the WW method.

    Parameters
    ----------
    model : str or Model
        ``km md ed cr am``.
    mass, beam_energy : float
        A' mass and beam energy in GeV.
    e_edges, pt_edges : array_like
        Bin edges in GeV.
    lepton_mass, target, theta_max, md_form
        As in :func:`sigma_ww`.

    Returns
    -------
    (hist_E, hist_pT) : tuple of ndarray
        Densities in GeV^-1, each normalised to unit area over its own edges
        (``sum(h * diff(edges)) == 1``), like ``numpy.histogram(density=True)``.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.analytic import recoil_distributions
    >>> e_edges, pt_edges = np.linspace(0, 8, 41), np.geomspace(1e-5, 8, 41)
    >>> f_e, f_pt = recoil_distributions("md", 0.1, 8.0, e_edges, pt_edges)
    >>> round(float((f_e * np.diff(e_edges)).sum()), 6), f_pt.shape  # densities per GeV
    (1.0, (40,))
    """
    se, sp = recoil_binned_sigma(
        model,
        mass,
        beam_energy,
        e_edges,
        pt_edges,
        lepton_mass=lepton_mass,
        target=target,
        theta_max=theta_max,
        md_form=md_form,
    )
    out = []
    for s, edges, name in ((se, e_edges, "e_edges"), (sp, pt_edges, "pt_edges")):
        tot = float(np.sum(s))
        if not tot > 0:
            raise InputError(f"{name} contain no WW cross section (all bins empty): {edges!s}")
        out.append(s / tot / np.diff(np.asarray(edges, dtype=float)))
    return out[0], out[1]
