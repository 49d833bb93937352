r"""Spin-summed squared amplitudes for l(p1) N(P1) -> l(p2) N(P2) A'(k).

Tree level, one photon of momentum q = P1 - P2 = p2 + k - p1 exchanged between the lepton
line and the nucleus, two diagrams (A' off the incoming or the outgoing lepton):

.. math::

    \mathcal{M} = \frac{e^3 g\, F(t)}{q^2}\, J_\mu\, \epsilon^*_\alpha(k)\,
        \bar u(p_2)\Big[\Gamma^\alpha(k) S(p_2+k)\gamma^\mu
        + \gamma^\mu S(p_1-k)\Gamma^\alpha(k)\Big] u(p_1),
    \qquad S(p) = \frac{\slashed p + m}{p^2 - m^2},

with the spin-0 nucleus current J = P1 + P2 (Z and the form factor in G2 = Z^2 F^2, here
G2 = G2_el + G2_inel of :mod:`.form_factors`) and the five vertices Gamma^alpha of
docs/physics.md section 1 (overall phases drop out).  The spin sum is evaluated numerically as a
Dirac trace with explicit gamma matrices (Dirac representation), vectorised over events:

.. math::

    \overline{|\mathcal M|^2} = \frac{1}{2}\,\frac{e^6 g^2 G_2(t)}{t^2}\,
        \sum_\lambda \mathrm{Tr}\big[(\slashed p_2 + m) O_\lambda (\slashed p_1 + m)
        \bar O_\lambda\big],

O_lambda the bracket above with gamma^mu J_mu and epsilon_lambda contracted, bar O =
gamma^0 O^dagger gamma^0.  The A' polarisation sum -g + k k/m_A'^2 is carried out with
explicit vectors (:func:`polarisations`) whose longitudinal one has its k/m_A' part removed,
allowed by the Ward identity and free of the (E/m_A')^2 round-off of the textbook form.
The nucleus is treated as a heavy spinless particle (docs/physics.md section 2.1: the
spin-1/2 difference is negligible at M ~ 171 GeV).  Units: momenta in GeV; |M|^2 is
dimensionless for km and carries g's units squared (GeV^-2n) times GeV^2n otherwise, so
sigma comes out in GeV^-2 for g in model units.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..models import Model, get_model
from .kinematics import minkowski_dot

__all__ = [
    "GAMMA",
    "GAMMA5",
    "METRIC",
    "contracted_vertex",
    "lepton_trace",
    "polarisations",
    "slash",
    "squared_amplitude",
    "vertex",
]

#: Minkowski metric diag(+1, -1, -1, -1).
METRIC = np.diag([1.0, -1.0, -1.0, -1.0])

_I2 = np.eye(2, dtype=complex)
_Z2 = np.zeros((2, 2), dtype=complex)
_PAULI = (
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.array([[1, 0], [0, -1]], dtype=complex),
)
#: Dirac matrices gamma^mu (upper index) in the Dirac representation, shape (4, 4, 4).
GAMMA = np.array(
    [np.block([[_I2, _Z2], [_Z2, -_I2]])] + [np.block([[_Z2, s], [-s, _Z2]]) for s in _PAULI]
)
#: gamma^5 = i gamma^0 gamma^1 gamma^2 gamma^3.
GAMMA5 = 1j * GAMMA[0] @ GAMMA[1] @ GAMMA[2] @ GAMMA[3]


def slash(p: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Feynman slash p_mu gamma^mu for four-vectors ``p`` of shape (..., 4) (upper index, GeV).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.amplitudes import slash
    >>> p = np.array([5.0, 0.0, 3.0, 4.0])  # p^2 = 0
    >>> bool(np.allclose(slash(p) @ slash(p), 0))  # pslash pslash = p^2 = 0
    True
    """
    return np.einsum("...m,mij->...ij", p * np.diag(METRIC), GAMMA)


def polarisations(k: NDArray[np.float64], m_ap: float) -> NDArray[np.float64]:
    r"""Three polarisation vectors of an on-shell A', written so that no cancellation occurs.

    Two transverse vectors (0, e_i) with e_i perpendicular to the A' direction, and the
    longitudinal vector with its component along k removed,

    .. math::
        \epsilon_L - k/m_{A'} = -\frac{m_{A'}}{E + |\mathbf k|}\,(1, -\hat{\mathbf k}),

    which is allowed because the amplitude vanishes for epsilon = k (Ward identity, tested).
    Then sum_lambda eps_alpha eps_beta is equivalent to -g + k k/m^2 on the amplitude but
    free of the (E/m_A')^2 round-off of the textbook form.

    Parameters
    ----------
    k : ndarray, shape (N, 4)
        A' momenta in GeV.
    m_ap : float
        A' mass in GeV.

    Returns
    -------
    ndarray, shape (N, 3, 4)
        Real polarisation four-vectors (upper index), dimensionless.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.amplitudes import polarisations
    >>> from darkmoments.physics.kinematics import minkowski_dot
    >>> m = 0.1
    >>> k = np.array([[np.sqrt(8.0**2 + m**2), 0.0, 0.0, 8.0]])
    >>> eps = polarisations(k, m)  # (N, 3, 4); the third is eps_L - k/m_A' (Ward identity)
    >>> [round(float(minkowski_dot(eps[:, i], k)[0]), 12) for i in range(3)]
    [0.0, 0.0, -0.1]
    >>> [round(float(minkowski_dot(eps[:, i], eps[:, i])[0]), 12) for i in range(3)]
    [-1.0, -1.0, 0.0]
    """
    n = k.shape[0]
    kv = k[:, 1:]
    kmag = np.linalg.norm(kv, axis=1)
    khat = kv / kmag[:, None]
    ref = np.zeros((n, 3))
    use_x = np.abs(khat[:, 0]) < 0.9
    ref[use_x, 0] = 1.0
    ref[~use_x, 1] = 1.0
    e1 = np.cross(khat, ref)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(khat, e1)
    eps = np.zeros((n, 3, 4))
    eps[:, 0, 1:] = e1
    eps[:, 1, 1:] = e2
    c = -m_ap / (k[:, 0] + kmag)
    eps[:, 2, 0] = c
    eps[:, 2, 1:] = -c[:, None] * khat
    return eps


def vertex(model: str | Model, k: NDArray[np.float64], m_ap: float) -> NDArray[np.complex128]:
    r"""The A'-lepton vertex Gamma^alpha(k), shape (N, 4, 4, 4) = (event, alpha, i, j).

    Parameters
    ----------
    model : str or Model
        Model id (km, md, ed, cr, am); the vertex follows from ``Model.vertex`` and
        ``Model.gamma5``.
    k : ndarray, shape (N, 4)
        A' four-momentum in GeV (upper index).
    m_ap : float
        A' mass in GeV (k^2 = m_ap^2 on shell).

    Notes
    -----
    charge (km): gamma^alpha.  dipole (md): sigma^{alpha nu} k_nu =
    (i/2)(gamma^alpha kslash - kslash gamma^alpha).  radius (cr): k^2 gamma^alpha -
    k^alpha kslash.  gamma5 (ed, am): the same times gamma^5 (sigma gamma^5 = gamma^5 sigma).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.amplitudes import vertex
    >>> k = np.array([[1.0, 0.0, 0.2, 0.9]])
    >>> vertex("km", k, 0.39).shape  # (event, alpha, i, j): gamma^alpha for kinetic mixing
    (1, 4, 4, 4)
    """
    mdl = get_model(model)
    n = k.shape[0]
    g = np.broadcast_to(GAMMA, (n, 4, 4, 4))
    if mdl.vertex == "charge":
        v = np.ascontiguousarray(g)
    elif mdl.vertex == "dipole":
        ks = slash(k)[:, None]
        v = 0.5j * (g @ ks - ks @ g)
    else:  # radius
        ks = slash(k)[:, None]
        v = m_ap * m_ap * g - k[:, :, None, None] * ks
    return v @ GAMMA5 if mdl.gamma5 else v


def contracted_vertex(
    mid: str | Model, eps: NDArray[np.float64], k: NDArray[np.float64], m_ap: float
) -> NDArray[np.complex128]:
    """epsilon_alpha Gamma^alpha(k) for polarisation vectors ``eps`` (N, 4): shape (N, 4, 4).

    charge (km): eps-slash; dipole (md): (i/2)(eps-slash kslash - kslash eps-slash);
    radius without gamma5 (cr): m_A'^2 eps-slash; radius with gamma5 (am):
    (m_A'^2 eps-slash - (eps.k) kslash) gamma^5; ed: md gamma^5.

    For cr the (eps.k) kslash term is dropped: it vanishes for the physical polarisations
    (eps.k = 0) and, for the shifted longitudinal vector of :func:`polarisations`, it
    multiplies the kinetic-mixing amplitude with eps = k, which is zero by current
    conservation (Ward identity, tested).  This makes cr = m_A'^4 km hold to round-off at
    every phase-space point.  For am the axial current is not conserved (m_l terms), so the
    term is kept.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.amplitudes import contracted_vertex
    >>> k = np.array([[1.0, 0.0, 0.2, 0.9]])
    >>> m_ap = float(np.sqrt(1.0 - 0.04 - 0.81))
    >>> bool(np.abs(contracted_vertex("md", k, k, m_ap)).max() < 1e-12)
    True
    """
    mdl = get_model(mid)
    se = slash(eps)
    if mdl.vertex == "charge":
        v = se
    elif mdl.vertex == "radius" and not mdl.gamma5:  # (eps.k) kslash term: 0 (see above)
        v = m_ap * m_ap * se
    elif mdl.vertex == "dipole":
        ks = slash(k)
        v = 0.5j * (se @ ks - ks @ se)
    else:  # radius with gamma5
        ks = slash(k)
        ek = minkowski_dot(eps, k)
        v = m_ap * m_ap * se - ek[:, None, None] * ks
    return v @ GAMMA5 if mdl.gamma5 else v


def lepton_trace(
    model: str | Model,
    p1: NDArray[np.float64],
    p2: NDArray[np.float64],
    k: NDArray[np.float64],
    current: NDArray[np.float64],
    m_l: float,
    m_ap: float,
    *,
    den_in: NDArray[np.float64] | None = None,
    den_out: NDArray[np.float64] | None = None,
    eps: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    r"""sum_lambda Tr[(p2slash+m) O_lambda (p1slash+m) Obar_lambda], summed over lepton spins.

    O_lambda = epsilon_lambda,alpha [Gamma^alpha S(p2+k) Jslash + Jslash S(p1-k) Gamma^alpha].

    Parameters
    ----------
    model : str or Model
        Model id.
    p1, p2, k, current : ndarray, shape (N, 4)
        Incoming lepton, outgoing lepton, A' momenta and the nucleus current J (GeV).
    m_l, m_ap : float
        Lepton and A' masses (GeV).
    den_in, den_out : ndarray, optional
        Propagator denominators (p1-k)^2 - m^2 = -(2 p1.k - m_ap^2) and
        (p2+k)^2 - m^2 (GeV^2).  Computed from the momenta when not given; passing the values
        of the phase-space map avoids cancellations.
    eps : ndarray, shape (N, P, 4), optional
        Polarisation vectors (upper index) summed over.  Default: :func:`polarisations`
        (the massive spin sum).  Passing k[:, None, :] tests the Ward identity.

    Returns
    -------
    ndarray, shape (N,)
        The spin sum (real, >= 0 for real polarisations), GeV^2 x (vertex units)^2.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.amplitudes import lepton_trace
    >>> J = ps.P1 + ps.P2  # the nucleus current
    >>> T = lepton_trace("km", ps.p1, ps.p2, ps.k, J, 0.000511, 0.1,
    ...                  den_in=-ps.d1, den_out=ps.w)
    >>> T.shape, bool(np.all(T > 0))
    ((4,), True)
    """
    mdl = get_model(model)
    if den_in is None:
        den_in = minkowski_dot(p1 - k, p1 - k) - m_l**2
    if den_out is None:
        den_out = minkowski_dot(p2 + k, p2 + k) - m_l**2
    if eps is None:
        eps = polarisations(k, m_ap)
    eye = np.eye(4)
    sj = slash(current)
    s_out = (slash(p2 + k) + m_l * eye) / den_out[:, None, None]
    s_in = (slash(p1 - k) + m_l * eye) / den_in[:, None, None]
    left = s_out @ sj  # S(p2+k) Jslash
    right = sj @ s_in  # Jslash S(p1-k)
    u2 = slash(p2) + m_l * eye
    u1 = slash(p1) + m_l * eye
    total = np.zeros(p1.shape[0])
    for lam in range(eps.shape[1]):
        gam = contracted_vertex(mdl, eps[:, lam], k, m_ap)
        o = gam @ left + right @ gam
        a = u2 @ o
        # Obar = gamma0 O^dagger gamma0: in the Dirac representation gamma0 = diag(1,1,-1,-1)
        obar = np.conj(np.swapaxes(o, -1, -2)) * _G0_SIGNS
        b = u1 @ obar
        total += np.einsum("nij,nji->n", a, b).real
    return total


#: gamma^0 M gamma^0 = M * _G0_SIGNS elementwise (Dirac representation).
_G0_SIGNS = np.outer(np.diag(GAMMA[0]).real, np.diag(GAMMA[0]).real)


def squared_amplitude(
    model: str | Model,
    p1: NDArray[np.float64],
    p2: NDArray[np.float64],
    k: NDArray[np.float64],
    P1: NDArray[np.float64],
    P2: NDArray[np.float64],
    t: NDArray[np.float64],
    g2_form: NDArray[np.float64],
    m_l: float,
    m_ap: float,
    *,
    den_in: NDArray[np.float64] | None = None,
    den_out: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    r"""Spin-averaged |M|^2 at unit coupling g = 1 (g in the model's units).

    Parameters
    ----------
    model : str or Model
        Model id.
    p1, p2, k, P1, P2 : ndarray, shape (N, 4)
        Four-momenta in GeV (lepton in/out, A', nucleus in/out).
    t : ndarray, shape (N,)
        t = -(P1 - P2)^2 in GeV^2 (> 0), passed explicitly for precision.
    g2_form : ndarray, shape (N,)
        The nuclear form factor G2(t) (includes Z^2).
    m_l, m_ap : float
        Lepton and A' masses in GeV.

    Returns
    -------
    ndarray
        (1/2) e^6 G2(t)/t^2 x lepton_trace, dimensionless for km (GeV^2n for the moments,
        to be multiplied by g^2 in GeV^-2n).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics import fast_amplitudes
    >>> from darkmoments.physics.amplitudes import squared_amplitude
    >>> from darkmoments.physics.form_factors import G2
    >>> g2 = G2(ps.t, W.Z, W.A)
    >>> trace = squared_amplitude("md", ps.p1, ps.p2, ps.k, ps.P1, ps.P2, ps.t, g2, 0.000511, 0.1,
    ...                           den_in=-ps.d1, den_out=ps.w)
    >>> closed = fast_amplitudes.squared_amplitude("md", ps.p1, ps.p2, ps.P1, ps.t, ps.w, ps.d1,
    ...                                            g2, 0.000511, 0.1, W.nuclear_mass**2)
    >>> bool(np.allclose(closed, trace, rtol=1e-8, atol=0))
    True
    """
    from ..constants import E_CHARGE

    tr = lepton_trace(model, p1, p2, k, P1 + P2, m_l, m_ap, den_in=den_in, den_out=den_out)
    return 0.5 * E_CHARGE**6 * g2_form / t**2 * tr
