"""Two-body widths of the dark photon A' (paper eqs. A.8-A.13).

Gamma(A' -> a b) = |M|^2 sqrt(1 - 4 m^2/m_A'^2) / (16 pi m_A'), with |M|^2 averaged over the three
A' polarisations and summed over final spins:

=====  ==========================================  =====
model  |M(A' -> f fbar)|^2 (c_f = e g_f)             eq.
=====  ==========================================  =====
km     c^2 (4 M^2 + 8 m^2) / 3                      A.9
md     c^2 (2 M^4 + 16 m^2 M^2) / 3                 A.10
ed     c^2 (2 M^4 - 8 m^2 M^2) / 3                  A.11 (corrected, see below)
cr     c^2 (4 M^6 + 8 m^2 M^4) / 3                  A.12
am     c^2 (4 M^6 - 16 m^2 M^4) / 3                 A.13
=====  ==========================================  =====

and |M(A' -> chi chi*)|^2 = g_D^2 (M^2 - 4 m_chi^2) / 3 (A.8), i.e.
Gamma_chi = alpha_D M beta_chi^3 / 12.

Normalisation check (tests/relic/test_amplitudes.py): every entry was recomputed from the
Lagrangian (2.1) by explicit 4x4 Dirac traces.  A.8, A.9, A.10, A.12, A.13 agree exactly; the
paper's A.11, d_f^2 (m_A'^4 - 4 m_f^2 m_A'^2)/3, is a factor 2 smaller than the trace, which would
also break the chiral relation Gamma_ed = Gamma_md for m_f -> 0.  We use the trace result by
default; ``paper_normalisation=True`` reproduces A.11 as printed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import E_CHARGE
from ..errors import InputError
from ..models import Model, get_model

__all__ = [
    "decay_msq",
    "width_chi",
    "width_fermion",
]

#: |M(A' -> f fbar)|^2 / (c^2 / 3) by vertex structure (Model.structure), m2 = M^2, f2 = m_f^2:
#: the table of the module docstring.
_DECAY_BODY: dict[tuple[str, bool], Callable[[NDArray, NDArray], NDArray]] = {
    ("charge", False): lambda m2, f2: 4 * m2 + 8 * f2,  # km, A.9
    ("dipole", False): lambda m2, f2: 2 * m2**2 + 16 * f2 * m2,  # md, A.10
    ("dipole", True): lambda m2, f2: 2 * m2**2 - 8 * f2 * m2,  # ed, A.11 corrected
    ("radius", False): lambda m2, f2: 4 * m2**3 + 8 * f2 * m2**2,  # cr, A.12
    ("radius", True): lambda m2, f2: 4 * m2**3 - 16 * f2 * m2**2,  # am, A.13
}
#: Printed / traced width where the paper's formula differs from the trace: A.11 (ed) is half.
_PAPER_WIDTH_FACTOR: dict[tuple[str, bool], float] = {("dipole", True): 0.5}


def _decay_body(model: Model) -> Callable[[NDArray, NDArray], NDArray]:
    try:
        return _DECAY_BODY[model.structure]
    except KeyError:
        raise InputError(
            f"no A' width formula for the vertex {model.structure} of model {model.id!r}"
        ) from None


def decay_msq(
    model: str | Model,
    m_ap: ArrayLike,
    m_f: ArrayLike,
    coupling: ArrayLike,
    *,
    paper_normalisation: bool = False,
) -> NDArray[np.float64]:
    """Polarisation-averaged |M(A' -> f fbar)|^2 (eqs. A.9-A.13).

    Parameters
    ----------
    model : str
        Model id (km md ed cr am).
    m_ap : array_like
        A' mass in GeV.
    m_f : array_like
        Fermion mass in GeV.
    coupling : array_like
        g_f in the model's units (1, GeV^-1, GeV^-2); the paper's coupling is e g_f (eq. 2.2).
    paper_normalisation : bool
        If True use the paper's A.11 for ed (half the trace result).

    Returns
    -------
    ndarray
        |M|^2 in GeV^2.

    Examples
    --------
    >>> from darkmoments.relic.widths import decay_msq
    >>> float(decay_msq("km", 0.1, 0.0, 1e-3)) > 0
    True
    """
    mdl = get_model(model)
    m2 = np.asarray(m_ap, dtype=float) ** 2
    f2 = np.asarray(m_f, dtype=float) ** 2
    c2 = (E_CHARGE * np.asarray(coupling, dtype=float)) ** 2
    body = _decay_body(mdl)(m2, f2)
    if paper_normalisation and mdl.structure in _PAPER_WIDTH_FACTOR:
        body = body * _PAPER_WIDTH_FACTOR[mdl.structure]
    return c2 * body / 3.0


def _two_body(msq: NDArray, m_ap: NDArray, m_d: ArrayLike) -> NDArray[np.float64]:
    beta2 = 1.0 - 4.0 * np.asarray(m_d, dtype=float) ** 2 / m_ap**2
    beta = np.sqrt(np.clip(beta2, 0.0, None))
    return np.where(beta2 > 0, msq * beta / (16 * np.pi * m_ap), 0.0)


def width_fermion(
    model: str | Model,
    m_ap: ArrayLike,
    m_f: ArrayLike,
    coupling: ArrayLike,
    *,
    paper_normalisation: bool = False,
) -> NDArray[np.float64]:
    """Partial width Gamma(A' -> f fbar) in GeV (zero below threshold).

    Parameters
    ----------
    model : str
        Model id.
    m_ap, m_f : array_like
        A' and fermion masses in GeV.
    coupling : array_like
        g_f in the model's units.
    paper_normalisation : bool
        See :func:`decay_msq`.

    Returns
    -------
    ndarray
        Width in GeV.  For km: alpha eps^2 M (1 + 2 m^2/M^2) sqrt(1 - 4 m^2/M^2) / 3.

    Examples
    --------
    >>> from darkmoments.constants import ALPHA_EM
    >>> from darkmoments.relic.widths import width_fermion
    >>> eps, m = 1e-3, 0.1
    >>> expected = eps**2 * ALPHA_EM * m / 3  # km, massless fermion: eps^2 alpha m / 3
    >>> bool(abs(float(width_fermion("km", m, 0.0, eps)) / expected - 1) < 1e-12)
    True
    >>> float(width_fermion("km", 0.1, 0.1057, eps))  # below the muon threshold
    0.0
    """
    m = np.asarray(m_ap, dtype=float)
    msq = decay_msq(model, m, m_f, coupling, paper_normalisation=paper_normalisation)
    return _two_body(msq, m, m_f)


def width_chi(m_ap: ArrayLike, m_chi: ArrayLike, alpha_d: ArrayLike) -> NDArray[np.float64]:
    """Gamma(A' -> chi chi*) for complex scalar chi (eq. A.8), in GeV.

    Parameters
    ----------
    m_ap, m_chi : array_like
        A' and dark-matter masses in GeV.
    alpha_d : array_like
        g_D^2 / (4 pi).

    Returns
    -------
    ndarray
        alpha_D M beta^3 / 12 with beta = sqrt(1 - 4 m_chi^2 / M^2); zero below threshold.

    Examples
    --------
    >>> from darkmoments.relic.widths import width_chi
    >>> m_ap, m_chi, alpha_d = 0.3, 0.1, 0.5
    >>> beta3 = (1 - 4 * m_chi**2 / m_ap**2) ** 1.5
    >>> expected = alpha_d * m_ap / 12 * beta3  # eq. A.8
    >>> bool(abs(float(width_chi(m_ap, m_chi, alpha_d)) / expected - 1) < 1e-12)
    True
    """
    m = np.asarray(m_ap, dtype=float)
    g_d2 = 4 * np.pi * np.asarray(alpha_d, dtype=float)
    msq = g_d2 * np.clip(m**2 - 4 * np.asarray(m_chi, dtype=float) ** 2, 0.0, None) / 3.0
    return _two_body(msq, m, m_chi)
