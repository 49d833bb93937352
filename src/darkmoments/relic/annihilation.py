"""Annihilation chi chi* -> f fbar through an s-channel A' (paper eqs. A.2-A.7).

Conventions.  chi is a complex scalar; ``sigma`` is the cross section of one chi with one chi*
(no spin average is needed, no identical-particle factor).  The paper's couplings are
mu_f = d_f = b_f = a_f = e g_f and e eps (eq. 2.2); the user-facing argument is always g_f.  With
D = (s - m_A'^2)^2 + m_A'^2 Gamma^2 and c = e g_f the squared amplitudes (summed over final spins)
are

=====  ===================================================================
model  |M|^2 / [g_D^2 c^2 (s - 4 m_chi^2) / D]
=====  ===================================================================
km     2 [s - (s - 4 m^2) cos^2]                                   (A.3)
md     2 s [(s - 4 m^2) cos^2 + 4 m^2]                            (A.4 / 2)
ed     2 s (s - 4 m^2) cos^2                                       (A.5 / 2)
cr     2 s^2 [s - (s - 4 m^2) cos^2]                               (A.6 / 2)
am     2 s^2 (s - 4 m^2) sin^2                                     (A.7 / 2)
=====  ===================================================================

Normalisation check (tests/relic/test_amplitudes.py).  Explicit 4x4 Dirac traces built from the
Lagrangian (2.1) reproduce A.3 exactly, and A.3 agrees with the textbook
sigma(e+e- -> scalar pair) = pi alpha^2 beta^3/(3 s) through detailed balance.  For md, ed, cr and
am the traces give exactly half of the printed A.4-A.7.  The half is also what the identity
Gamma_cr(vertex) = s Gamma_km(vertex) (|M|^2_cr = s^2 |M|^2_km, consistent with A.12 = m_A'^4 A.9)
and the narrow-resonance relation
sigma(s = M^2) D = 48 pi M^2 Gamma_chi Gamma_f / (M^2 beta_chi^2)
with the widths A.10, A.12, A.13 require.  We therefore use the trace results by default;
``paper_normalisation=True`` multiplies md, ed, cr, am by 2 (the printed A.4-A.7) and uses the
printed A.11, to reproduce the paper's curves.

Integrated over angles with eq. A.2,
sigma = g_D^2 c^2 beta_f beta_chi F(s) / (32 pi D), with F the angular integral listed in
:func:`angular_factor`.

Hadrons: for km sigma_had = R(s) sigma_mumu(s; m_mu = 0) (Izaguirre, Krnjaic, Shuve 2015,
arXiv:1508.03050, eq. A.4), which is valid for a vector coupling to quarks proportional to their
charge.  For the other models the same formula is only a *proxy* (paper footnote 4), available as
``hadrons="proxy"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import E_CHARGE, M_E, M_MU, M_TAU
from ..errors import InputError, InputTypeError
from ..models import Model, check_coupling, get_model
from ..validation import check_real, is_real
from .rratio import r_ratio
from .widths import width_chi, width_fermion

__all__ = [
    "HADRON_MODES",
    "LEPTON_MASSES",
    "DarkSector",
    "angular_factor",
    "msq_annihilation",
    "sigma_fermion",
    "sigma_total",
]

#: Lepton masses in GeV (CODATA 2018 / PDG 2024 via darkmoments.constants).
LEPTON_MASSES: dict[str, float] = {"e": M_E, "mu": M_MU, "tau": M_TAU}
#: Allowed values of the ``hadrons`` option.
HADRON_MODES: tuple[str, ...] = ("auto", "none", "rratio", "proxy")

_Body = Callable[[NDArray, NDArray, NDArray], NDArray]
#: |M|^2 / [g_D^2 c^2 (s - 4 m_chi^2) / D] by vertex structure (Model.structure), the table
#: of the module docstring: arguments s, f2 = m_f^2, c2 = cos^2(theta).
_MSQ_BODY: dict[tuple[str, bool], _Body] = {
    ("charge", False): lambda s, f2, c2: 2 * (s - (s - 4 * f2) * c2),  # km, A.3
    ("dipole", False): lambda s, f2, c2: 2 * s * ((s - 4 * f2) * c2 + 4 * f2),  # md, A.4 / 2
    ("dipole", True): lambda s, f2, c2: 2 * s * (s - 4 * f2) * c2,  # ed, A.5 / 2
    ("radius", False): lambda s, f2, c2: 2 * s**2 * (s - (s - 4 * f2) * c2),  # cr, A.6 / 2
    ("radius", True): lambda s, f2, c2: 2 * s**2 * (s - 4 * f2) * (1 - c2),  # am, A.7 / 2
}
#: F(s) = int dcos of the bodies above, arguments s and f2 (see :func:`angular_factor`).
_ANGULAR: dict[tuple[str, bool], Callable[[NDArray, NDArray], NDArray]] = {
    ("charge", False): lambda s, f2: 8 / 3 * (s + 2 * f2),
    ("dipole", False): lambda s, f2: 4 / 3 * s * (s + 8 * f2),
    ("dipole", True): lambda s, f2: 4 / 3 * s * (s - 4 * f2),
    ("radius", False): lambda s, f2: 8 / 3 * s**2 * (s + 2 * f2),
    ("radius", True): lambda s, f2: 8 / 3 * s**2 * (s - 4 * f2),
}


def _formula(table: dict[tuple[str, bool], Any], model: Model) -> Any:
    try:
        return table[model.structure]
    except KeyError:
        raise InputError(
            f"no annihilation formula for the vertex {model.structure} of model {model.id!r}"
        ) from None


def _paper_factor(model: Model, paper_normalisation: bool) -> bool:
    """Whether the printed A.4-A.7 (twice the trace) apply: the four moment models (n > 0)."""
    return paper_normalisation and model.dimension > 0


def msq_annihilation(
    model: str | Model,
    s: ArrayLike,
    cos_theta: ArrayLike,
    m_chi: float,
    m_f: float,
    coupling: float,
    alpha_d: float,
    denominator: ArrayLike,
    *,
    paper_normalisation: bool = False,
) -> NDArray[np.float64]:
    """|M(chi chi* -> f fbar)|^2 summed over final spins (table of the module docstring).

    Parameters
    ----------
    model : str
        Model id.
    s : array_like
        Mandelstam s in GeV^2.
    cos_theta : array_like
        CM scattering angle between chi and f.
    m_chi, m_f : float
        Masses in GeV.
    coupling : float
        g_f in the model's units.
    alpha_d : float
        Dark fine-structure constant.
    denominator : array_like
        Propagator denominator D = (s - M^2)^2 + M^2 Gamma^2 in GeV^4.
    paper_normalisation : bool
        Use the printed A.4-A.7 (twice the trace result for md, ed, cr, am).

    Returns
    -------
    ndarray
        |M|^2 (dimensionless).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.relic.annihilation import msq_annihilation
    >>> cos = np.array([-0.5, 0.0, 0.5])
    >>> msq = msq_annihilation("km", 1.0, cos, m_chi=0.1, m_f=0.0, coupling=1e-3, alpha_d=0.5,
    ...                        denominator=1.0)
    >>> bool(np.allclose(msq, msq[::-1]))  # symmetric in cos theta
    True
    """
    mdl = get_model(model)
    s = np.asarray(s, dtype=float)
    c2t = np.asarray(cos_theta, dtype=float) ** 2
    f2 = m_f**2
    pref = 4 * np.pi * alpha_d * (E_CHARGE * coupling) ** 2 * (s - 4 * m_chi**2)
    pref = pref / np.asarray(denominator, dtype=float)
    body = _formula(_MSQ_BODY, mdl)(s, f2, c2t)
    if _paper_factor(mdl, paper_normalisation):
        body = 2 * body
    return pref * body


def angular_factor(
    model: str | Model, s: ArrayLike, m_f: ArrayLike, *, paper_normalisation: bool = False
) -> NDArray[np.float64]:
    """F(s) = int_{-1}^{1} dcos [|M|^2 / (g_D^2 c^2 (s - 4 m_chi^2) / D)].

    Parameters
    ----------
    model : str
        Model id.
    s : array_like
        Mandelstam s in GeV^2.
    m_f : array_like
        Fermion mass in GeV.
    paper_normalisation : bool
        Factor 2 for md, ed, cr, am (printed A.4-A.7).

    Returns
    -------
    ndarray
        km (8/3)(s + 2m^2); md (4/3) s (s + 8m^2); ed (4/3) s (s - 4m^2);
        cr (8/3) s^2 (s + 2m^2); am (8/3) s^2 (s - 4m^2), in GeV^(2 + 2n).

    Examples
    --------
    >>> from darkmoments.relic.annihilation import angular_factor
    >>> f_km = angular_factor("km", 1.0, 0.0)  # massless fermions
    >>> f_pn = angular_factor("km", 1.0, 0.0, paper_normalisation=True)
    >>> float(f_pn / f_km)
    1.0
    """
    mdl = get_model(model)
    s = np.asarray(s, dtype=float)
    f2 = np.asarray(m_f, dtype=float) ** 2
    f = _formula(_ANGULAR, mdl)(s, f2)
    if _paper_factor(mdl, paper_normalisation):
        f = 2 * f
    return f


def _beta(s: NDArray, m: ArrayLike) -> NDArray:
    return np.sqrt(np.clip(1.0 - 4.0 * np.asarray(m) ** 2 / s, 0.0, None))


def sigma_fermion(
    model: str | Model,
    s: ArrayLike,
    m_chi: ArrayLike,
    m_f: ArrayLike,
    coupling: ArrayLike,
    alpha_d: ArrayLike,
    m_ap: ArrayLike,
    width: ArrayLike,
    *,
    paper_normalisation: bool = False,
) -> NDArray[np.float64]:
    """sigma(chi chi* -> f fbar) from eq. A.2, in GeV^-2 (zero below either threshold).

    Parameters
    ----------
    model : str
        Model id.
    s : array_like
        Mandelstam s in GeV^2 (s > 4 m_chi^2).
    m_chi, m_f, m_ap : array_like
        Masses in GeV.
    coupling : array_like
        g_f in the model's units.
    alpha_d : array_like
        Dark fine-structure constant.
    width : array_like
        Total A' width in GeV.
    paper_normalisation : bool
        See :func:`angular_factor`.

    Returns
    -------
    ndarray
        g_D^2 (e g_f)^2 beta_f beta_chi F(s) / (32 pi D), GeV^-2.

    Examples
    --------
    >>> from darkmoments.relic.annihilation import sigma_fermion
    >>> from darkmoments.relic.widths import width_chi
    >>> m_ap, m_chi = 0.3, 0.1
    >>> gam = float(width_chi(m_ap, m_chi, 0.5))
    >>> s = [0.035, 0.05]  # GeV^2; 4 m_chi^2 = 0.04
    >>> sigma_fermion("km", s, m_chi, 0.000511, 1e-4, 0.5, m_ap, gam).tolist()[0]
    0.0
    >>> float(sigma_fermion("km", 0.05, m_chi, 0.000511, 1e-4, 0.5, m_ap, gam)) > 0
    True
    """
    s = np.asarray(s, dtype=float)
    m2 = np.asarray(m_ap, dtype=float) ** 2
    den = (s - m2) ** 2 + m2 * np.asarray(width, dtype=float) ** 2
    c2 = (E_CHARGE * np.asarray(coupling, dtype=float)) ** 2
    g_d2 = 4 * np.pi * np.asarray(alpha_d, dtype=float)
    f = angular_factor(model, s, m_f, paper_normalisation=paper_normalisation)
    return g_d2 * c2 * _beta(s, m_f) * _beta(s, m_chi) * np.clip(f, 0.0, None) / (32 * np.pi * den)


@dataclass(frozen=True)
class DarkSector:
    """The dark sector of the relic calculation: complex scalar chi, s-channel A', one model.

    Holds the relic settings (``mass_ratio``, ``alpha_d``, ``leptons``, ``hadrons``,
    ``paper_normalisation``) for one coupling model, validated once, here; every relic
    function (:func:`darkmoments.relic.omega_h2`, :func:`~darkmoments.relic.target`,
    :func:`~darkmoments.relic.scan`) builds one from its keyword arguments and passes it on.
    With ``m_ap`` and ``coupling`` it is also one point of parameter space, whose widths and
    cross section :meth:`widths` and :meth:`sigma` give.

    Attributes
    ----------
    model : str
        Model id (km md ed cr am; aliases accepted, stored as the canonical id).
    m_ap : float, optional
        A' mass in GeV (> 0; needed by :meth:`widths`, :meth:`sigma`, :attr:`m_chi`).
    coupling : float, optional
        g_f in the model's units (finite; needed by :meth:`widths` and :meth:`sigma`).
    mass_ratio : float
        m_A' / m_chi (paper: 3); must be > 2 so that A' -> chi chi* is open.
    alpha_d : float
        g_D^2/(4 pi) (paper: 0.5), in (0, 4 pi).
    leptons : tuple of str
        Lepton final states (non-empty subset of e, mu, tau), each included when
        kinematically open.
    hadrons : str
        ``auto`` (R-ratio for km, none otherwise), ``none``, ``rratio`` (km only) or ``proxy``
        (R-ratio times the model's massless-muon cross section, paper footnote 4).
    paper_normalisation : bool
        Use the printed A.4-A.7 and A.11 (see module docstring).

    Raises
    ------
    InputError, InputTypeError
        On construction, for any setting out of range (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.relic import DarkSector
    >>> ds = DarkSector("km", m_ap=0.1, coupling=1e-4)
    >>> ds.m_chi, ds.with_hadrons
    (0.03333333333333333, True)
    >>> sorted(ds.widths())
    ['chi', 'e', 'hadrons', 'mu', 'tau']
    >>> s = 4 * ds.m_chi**2 * np.array([1.1, 2.0])  # GeV^2, above the chi chi* threshold
    >>> bool(np.all(ds.sigma(s) > 0))
    True
    """

    model: str
    m_ap: float | None = None
    coupling: float | None = None
    mass_ratio: float = 3.0
    alpha_d: float = 0.5
    leptons: Sequence[str] = ("e", "mu", "tau")  # stored as a tuple (_check_leptons)
    hadrons: str = "auto"
    paper_normalisation: bool = False
    _model: Model = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mdl = get_model(self.model)
        object.__setattr__(self, "_model", mdl)
        object.__setattr__(self, "model", mdl.id)
        object.__setattr__(self, "leptons", _check_leptons(self.leptons))
        _check_ratio_and_alpha(self.mass_ratio, self.alpha_d)
        if not isinstance(self.hadrons, str) or self.hadrons not in HADRON_MODES:
            raise InputError(f"hadrons must be one of {HADRON_MODES}, got {self.hadrons!r}")
        if self.hadrons == "rratio" and not mdl.photon_like:
            raise InputError(
                f"hadrons='rratio' is only valid for km, got model {mdl.id!r}; use 'proxy'"
            )
        if self.m_ap is not None:
            check_real("m_ap", self.m_ap, lo=0.0, lo_open=True, unit="GeV")
        if self.coupling is not None:
            check_coupling(self.coupling, positive=False)

    @property
    def m_chi(self) -> float:
        """Dark-matter mass m_A' / mass_ratio in GeV."""
        return self._point()[0] / self.mass_ratio

    @property
    def with_hadrons(self) -> bool:
        """Whether hadronic final states are included."""
        auto = self.hadrons == "auto" and self._model.photon_like
        return self.hadrons in ("rratio", "proxy") or auto

    def _point(self) -> tuple[float, float]:
        if self.m_ap is None or self.coupling is None:
            raise InputError(
                "this DarkSector holds settings only: give m_ap (GeV) and coupling to compute "
                "widths or cross sections"
            )
        return self.m_ap, self.coupling

    def widths(self) -> dict[str, float]:
        """Partial A' widths in GeV: ``chi`` plus each open lepton and ``hadrons`` if included."""
        m_ap, g = self._point()
        out = {"chi": float(width_chi(m_ap, self.m_chi, self.alpha_d))}
        pn = self.paper_normalisation
        for lep in self.leptons:
            out[lep] = float(
                width_fermion(self._model, m_ap, LEPTON_MASSES[lep], g, paper_normalisation=pn)
            )
        if self.with_hadrons:
            gam_mu0 = width_fermion(self._model, m_ap, 0.0, g, paper_normalisation=pn)
            out["hadrons"] = float(r_ratio(m_ap) * gam_mu0)
        return out

    def width(self) -> float:
        """Total A' width in GeV."""
        return float(sum(self.widths().values()))

    def sigma(self, s: ArrayLike, width: float | None = None) -> NDArray[np.float64]:
        """Total sigma(chi chi* -> SM) in GeV^-2 at Mandelstam s (GeV^2), summed over channels.

        Parameters
        ----------
        s : array_like
            Mandelstam s in GeV^2.
        width : float, optional
            Total A' width in GeV (computed with :meth:`width` if omitted).

        Returns
        -------
        ndarray
            Cross section in GeV^-2.
        """
        m_ap, g = self._point()
        return sigma_total(
            self._model,
            np.asarray(s, dtype=float),
            self.m_chi,
            g,
            self.alpha_d,
            m_ap,
            self.width() if width is None else width,
            self.leptons,
            self.with_hadrons,
            paper_normalisation=self.paper_normalisation,
        )


def _check_leptons(leptons: Any) -> tuple[str, ...]:
    allowed = tuple(LEPTON_MASSES)
    if isinstance(leptons, str | bytes):
        raise InputTypeError(f"leptons must be a sequence such as ('e', 'mu'), got {leptons!r}")
    try:
        out = tuple(leptons)
    except TypeError:
        raise InputTypeError(
            f"leptons must be a sequence such as ('e', 'mu'), got {leptons!r}"
        ) from None
    bad = [lep for lep in out if not isinstance(lep, str) or lep not in LEPTON_MASSES]
    if bad or not out:
        what = f"unknown leptons {bad}: " if bad else ""
        raise InputError(f"{what}leptons must be a non-empty subset of {allowed}, got {leptons}")
    return out


def _check_ratio_and_alpha(mass_ratio: Any, alpha_d: Any) -> None:
    if not is_real(mass_ratio) or not math.isfinite(mass_ratio) or mass_ratio <= 2:
        raise InputError(
            f"mass_ratio = m_A'/m_chi must be a finite number > 2 (A' -> chi chi* open), "
            f"got {mass_ratio!r}"
        )
    if not is_real(alpha_d) or not 0 < alpha_d < 4 * math.pi:
        raise InputError(f"alpha_d must be in (0, 4 pi), got {alpha_d!r}")


def sigma_total(
    model: str | Model,
    s: NDArray[np.float64],
    m_chi: ArrayLike,
    coupling: ArrayLike,
    alpha_d: ArrayLike,
    m_ap: ArrayLike,
    width: ArrayLike,
    leptons: Sequence[str],
    hadrons: bool,
    *,
    paper_normalisation: bool = False,
) -> NDArray[np.float64]:
    """Sum of :func:`sigma_fermion` over leptons plus R(s) sigma(m_f = 0) if ``hadrons``, GeV^-2.

    All parameters broadcast against ``s`` (GeV^2); masses and width in GeV.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.relic.annihilation import sigma_fermion, sigma_total
    >>> s = np.array([0.05, 0.08])
    >>> args = (0.1, 1e-4, 0.5, 0.3, 1e-6)  # m_chi, coupling, alpha_D, m_A', width (GeV)
    >>> tot = sigma_total("km", s, *args, leptons=("e",), hadrons=False)
    >>> bool(np.allclose(tot, sigma_fermion("km", s, 0.1, 0.00051099895, *args[1:])))
    True
    """
    pn = paper_normalisation
    out = np.zeros(np.broadcast(s, np.asarray(m_chi)).shape)
    for lep in leptons:
        out = out + sigma_fermion(
            model,
            s,
            m_chi,
            LEPTON_MASSES[lep],
            coupling,
            alpha_d,
            m_ap,
            width,
            paper_normalisation=pn,
        )
    if hadrons:
        sig0 = sigma_fermion(
            model, s, m_chi, 0.0, coupling, alpha_d, m_ap, width, paper_normalisation=pn
        )
        out = out + r_ratio(np.sqrt(s)) * sig0
    return out
