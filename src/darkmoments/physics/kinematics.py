r"""Phase-space maps, boosts and invariants for l(p1) N(P1) -> l(p2) N(P2) A'(k).

Lab frame, nucleus at rest, beam along +z.  The three-body phase space is factorised as

.. math::

    d\Phi_3 = d\Phi_2(s; M_X, M)\,\frac{dM_X^2}{2\pi}\, d\Phi_2(M_X^2; m_l, m_{A'}),

X = l + A' (the system recoiling against the nucleus).  Conventions:
dPhi_n = (2 pi)^4 delta^4 prod d^3p/((2 pi)^3 2E).  The five unit-cube variables are mapped
so that the peaks of the integrand are flat:

* u0 -> w = M_X^2 - m_l^2, logarithmic (outgoing-lepton propagator 1/w);
* u1 -> t = -(P1 - P2)^2, logarithmic between t_min(M_X) and t_max(M_X) (photon propagator
  1/t^2 times the (t - t_min) numerator, cut by G2 at both ends);
* u2 -> D1 = 2 p1.k - m_A'^2 (incoming-lepton propagator), logarithmic; D1 fixes the angle
  theta* between the A' and the incoming lepton in the X rest frame;
* u3 -> phi*, the azimuth of the A' around that axis in the X rest frame, measured from
  the plane of the target;
* u4 -> phi_N, the azimuth of the nucleus recoil around the beam (uniform).

With dPhi_2(s; M_X, M) = dt dphi_N / (32 pi^2 sqrt(s) p_cm) and
dPhi_2(M_X^2) = |k*| dcos(theta*) dphi* / (16 pi^2 M_X) the Jacobian is exact; the map is
one-to-one onto the physical region.  All energies and momenta in GeV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PhaseSpacePoints",
    "boost",
    "kallen_sqrt",
    "map_phase_space",
    "map_phase_space_lab",
    "minkowski_dot",
    "threshold_ok",
]

_TWO_PI = 2.0 * np.pi


def minkowski_dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """a.b with metric (+, -, -, -) over the last axis (GeV^2).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.kinematics import minkowski_dot
    >>> p = np.array([[5.0, 0.0, 3.0, 4.0]])
    >>> minkowski_dot(p, p)
    array([0.])
    """
    return a[..., 0] * b[..., 0] - _dot3(a[..., 1:], b[..., 1:])


# Three-vector helpers written out by component: the same operations in the same order as
# np.sum / np.linalg.norm / np.cross over a last axis of length 3 (bit-identical results),
# without their per-call reduction overhead (the phase-space map's hot path).


def _dot3(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean dot product over a last axis of length 3, summed left to right."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _norm3(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean norm over a last axis of length 3."""
    return np.sqrt(_dot3(a, a))


def _cross3(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """a x b over a last axis of length 3."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def kallen_sqrt(s: NDArray[np.float64] | float, m1: float, m2: float) -> NDArray[np.float64]:
    """sqrt(lambda(s, m1^2, m2^2)) in the factorised, cancellation-free form (GeV^2).

    Examples
    --------
    >>> from darkmoments.physics.kinematics import kallen_sqrt
    >>> float(kallen_sqrt(25.0, 3.0, 0.0))  # lambda(s, 9, 0) = (s - 9)^2
    16.0
    """
    s = np.asarray(s, dtype=float)
    a = s - (m1 + m2) ** 2
    b = s - (m1 - m2) ** 2
    return np.sqrt(np.clip(a, 0.0, None) * np.clip(b, 0.0, None))


def boost(
    p: NDArray[np.float64], frame: NDArray[np.float64], mass: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """Boost four-vectors ``p`` (N, 4) out of the rest frame of a system.

    The system has four-momentum ``frame`` (N, 4) and mass ``mass`` (GeV): a vector at rest
    ends up moving with the system.

    The boost is parametrised by gamma = E/M and eta = gamma beta = p/M, exact for any
    rapidity (no 1 - beta^2 cancellation).  To go *into* the rest frame pass the frame with
    its three-momentum reversed: ``boost(p, frame * [1, -1, -1, -1], mass)``.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.physics.kinematics import boost, minkowski_dot
    >>> rest = np.array([[1.0, 0.0, 0.0, 0.0]])  # a particle of mass 1 GeV at rest
    >>> frame = np.array([[5.0, 0.0, 0.0, np.sqrt(24.0)]])  # the system's lab momentum
    >>> lab = boost(rest, frame, 1.0)
    >>> lab.round(6).tolist(), round(float(minkowski_dot(lab, lab)[0]), 9)
    ([[5.0, 0.0, 0.0, 4.898979]], 1.0)
    """
    mass = np.asarray(mass, dtype=float)
    gamma = frame[..., 0] / mass
    eta = frame[..., 1:] / mass[..., None] if mass.ndim else frame[..., 1:] / mass
    ep = _dot3(eta, p[..., 1:])
    out = np.empty_like(p)
    out[..., 0] = gamma * p[..., 0] + ep
    out[..., 1:] = p[..., 1:] + (ep / (gamma + 1.0) + p[..., 0])[..., None] * eta
    return out


_FLIP = np.array([1.0, -1.0, -1.0, -1.0])


def _orthonormal_to(v: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit vectors along v with their component along the unit vectors n removed.

    Gram-Schmidt applied twice: when v is nearly parallel to n a single pass leaves an
    overlap of eps_machine / sin(angle), which would put decay products off shell.
    """
    for _ in range(2):
        v = v - _dot3(v, n)[..., None] * n
        v = v / _norm3(v)[..., None]
    return v


def _decay_in_frame(
    axis: NDArray[np.float64],
    ref: NDArray[np.float64],
    cos_t: NDArray[np.float64],
    phi: NDArray[np.float64],
    e_a: NDArray[np.float64],
    p_mag: NDArray[np.float64],
    frame: NDArray[np.float64],
    frame_mass: NDArray[np.float64],
    sin_t: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two-body decay in the rest frame of ``frame``, boosted back to the lab.

    Daughter a has energy ``e_a`` and momentum ``p_mag`` at polar angle ``cos_t`` to the unit
    vectors ``axis`` and azimuth ``phi`` measured from the plane of ``ref``; daughter b takes
    the rest (energy frame_mass - e_a, opposite momentum).  Returns (a, b) in the lab (GeV).
    ``sin_t`` may be passed when it is known more precisely than sqrt(1 - cos_t^2).
    """
    ref = ref - _dot3(ref, axis)[:, None] * axis
    ref_norm = _norm3(ref)
    bad = ref_norm < 1e-300
    if np.any(bad):  # ref along the axis: any perpendicular direction will do
        ref[bad] = np.cross(axis[bad], np.array([1.0, 0.0, 0.0]))
        ref_norm[bad] = np.linalg.norm(ref[bad], axis=1)
    e1 = _orthonormal_to(ref / ref_norm[:, None], axis)
    e2 = _cross3(axis, e1)
    if sin_t is None:
        sin_t = np.sqrt((1.0 - cos_t) * (1.0 + cos_t))
    direction = (
        (sin_t * np.cos(phi))[:, None] * e1
        + (sin_t * np.sin(phi))[:, None] * e2
        + cos_t[:, None] * axis
    )
    a = np.empty((axis.shape[0], 4))
    a[:, 0] = e_a
    a[:, 1:] = p_mag[:, None] * direction
    b = np.empty_like(a)
    b[:, 0] = frame_mass - e_a
    b[:, 1:] = -a[:, 1:]
    return boost(a, frame, frame_mass), boost(b, frame, frame_mass)


def threshold_ok(beam_energy: float, m_l: float, m_ap: float, m_nucleus: float) -> bool:
    """True if l N -> l N A' is kinematically open: sqrt(s) > m_l + m_ap + M.

    Examples
    --------
    >>> from darkmoments.physics.kinematics import threshold_ok
    >>> from darkmoments.targets import get_target
    >>> M = get_target("W").nuclear_mass
    >>> threshold_ok(8.0, 0.000511, 0.1, M), threshold_ok(0.05, 0.000511, 0.1, M)
    (True, False)
    """
    s = m_l**2 + m_nucleus**2 + 2.0 * beam_energy * m_nucleus
    return bool(np.sqrt(s) > m_l + m_ap + m_nucleus)


@dataclass(frozen=True)
class PhaseSpacePoints:
    """A batch of phase-space points in the lab frame.

    Attributes
    ----------
    p1, P1, p2, P2, k : ndarray, shape (N, 4)
        Incoming lepton, target nucleus, outgoing lepton, recoil nucleus and A' (GeV).
    t : ndarray
        t = -(P1 - P2)^2 (GeV^2, > 0).
    w : ndarray
        (p2 + k)^2 - m_l^2 (GeV^2): outgoing-lepton propagator denominator.
    d1 : ndarray
        2 p1.k - m_A'^2 (GeV^2): minus the incoming-lepton propagator denominator.
    jacobian : ndarray
        dPhi_3 / d^5u in GeV^2 (phase-space volume per unit-cube volume).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.kinematics import minkowski_dot
    >>> balance = ps.p1 + ps.P1 - ps.p2 - ps.P2 - ps.k  # four-momentum conservation
    >>> bool(np.abs(balance).max() < 1e-9), ps.k.shape
    (True, (4, 4))
    >>> bool(np.allclose(minkowski_dot(ps.k, ps.k), 0.1**2))  # on-shell A'
    True
    """

    p1: NDArray[np.float64]
    P1: NDArray[np.float64]
    p2: NDArray[np.float64]
    P2: NDArray[np.float64]
    k: NDArray[np.float64]
    t: NDArray[np.float64]
    w: NDArray[np.float64]
    d1: NDArray[np.float64]
    jacobian: NDArray[np.float64]


def map_phase_space(
    u: NDArray[np.float64],
    beam_energy: float,
    m_l: float,
    m_ap: float,
    m_nucleus: float,
) -> PhaseSpacePoints:
    """Map points of the unit 5-cube onto the 2 -> 3 phase space (see module docstring).

    Parameters
    ----------
    u : ndarray, shape (N, 5)
        Points in [0, 1)^5.
    beam_energy : float
        Lepton beam energy E0 in GeV (lab frame, target at rest).
    m_l, m_ap, m_nucleus : float
        Lepton, A' and nucleus masses in GeV.

    Returns
    -------
    PhaseSpacePoints

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.kinematics import minkowski_dot
    >>> bool(np.allclose(minkowski_dot(ps.p2, ps.p2), 0.000511**2, rtol=1e-6))
    True
    >>> bool(np.all(ps.jacobian > 0)), bool(np.all(ps.t > 0))
    (True, True)
    """
    u = np.asarray(u, dtype=float)
    n = u.shape[0]
    E0, m, mA, M = float(beam_energy), float(m_l), float(m_ap), float(m_nucleus)
    pz = np.sqrt((E0 - m) * (E0 + m))
    s = m * m + M * M + 2.0 * E0 * M
    rs = np.sqrt(s)

    # --- u0: w = M_X^2 - m^2, logarithmic
    w_min = mA * mA + 2.0 * m * mA
    w_max = (rs - M) ** 2 - m * m
    lw = np.log(w_max / w_min)
    w = w_min * np.exp(lw * u[:, 0])
    jac = w * lw
    mx2 = m * m + w
    mx = np.sqrt(mx2)

    # --- u1: t between t_min and t_max (2 -> 2 kinematics l N -> X N), logarithmic
    p_i = kallen_sqrt(s, m, M) / (2.0 * rs)
    p_f = kallen_sqrt(s, mx, M) / (2.0 * rs)
    e_b = (s + M * M - m * m) / (2.0 * rs)
    e_d = (s + M * M - mx2) / (2.0 * rs)
    t_max = 2.0 * (e_b * e_d + p_i * p_f) - 2.0 * M * M
    t_min = (M * w) ** 2 / (s * t_max)  # t_min t_max = 4 M^2 (E_b - E_d)^2
    lt = np.log(t_max / t_min)
    t = t_min * np.exp(lt * u[:, 1])
    jac = jac * t * lt / (32.0 * np.pi**2 * rs * p_i) * _TWO_PI  # dt dphi_N
    jac = jac / _TWO_PI  # dM_X^2 / (2 pi)

    # recoil nucleus in the lab
    T = t / (2.0 * M)
    pn = np.sqrt(t + T * T)
    cos_n = np.clip((w + 2.0 * (E0 + M) * T) / (2.0 * pz * pn), -1.0, 1.0)
    sin_n = np.sqrt((1.0 - cos_n) * (1.0 + cos_n))
    phi_n = _TWO_PI * u[:, 4]
    P2 = np.empty((n, 4))
    P2[:, 0] = M + T
    P2[:, 1] = pn * sin_n * np.cos(phi_n)
    P2[:, 2] = pn * sin_n * np.sin(phi_n)
    P2[:, 3] = pn * cos_n

    p1 = np.zeros((n, 4))
    p1[:, 0] = E0
    p1[:, 3] = pz
    P1 = np.zeros((n, 4))
    P1[:, 0] = M

    # X = p1 + P1 - P2 and its velocity
    X = np.empty((n, 4))
    X[:, 0] = E0 - T
    X[:, 1:] = -P2[:, 1:]
    X[:, 3] += pz

    # --- X rest frame: axis along the incoming lepton
    e1s = (mx2 + m * m + t) / (2.0 * mx)  # E1* = p1.X / M_X
    p1s_mag = np.sqrt(np.clip((e1s - m) * (e1s + m), 0.0, None))
    p1s = boost(p1, X * _FLIP, mx)
    nhat = p1s[:, 1:] / _norm3(p1s[:, 1:])[:, None]
    eks = (mx2 + mA * mA - m * m) / (2.0 * mx)
    ks_mag = kallen_sqrt(mx2, m, mA) / (2.0 * mx)

    # --- u2: D1 = 2 p1.k - mA^2 = 2 (E1* Ek* - |p1*||k*| cos) - mA^2, logarithmic
    ee = e1s * eks
    pp = p1s_mag * ks_mag
    d_max = 2.0 * (ee + pp) - mA * mA
    # E1 Ek - p1 k rationalised: (m^2 Ek^2 + mA^2 E1^2 - m^2 mA^2) / (E1 Ek + p1 k)
    d_min = 2.0 * (m * m * eks**2 + mA * mA * e1s**2 - m * m * mA * mA) / (ee + pp) - mA * mA
    d_min = np.clip(d_min, d_max * 1e-15, d_max)
    ld = np.log(d_max / d_min)
    d1 = d_min * np.exp(ld * u[:, 2])
    with np.errstate(divide="ignore", invalid="ignore"):  # pp = 0 only at M_X threshold
        cos_s = np.where(pp > 0, (2.0 * ee - mA * mA - d1) / (2.0 * pp), 1.0)
    cos_s = np.clip(cos_s, -1.0, 1.0)
    # dcos(theta*) = dD1 / (2 |p1*||k*|); with dPhi_2(X) = |k*| dcos dphi* / (16 pi^2 M_X)
    # the |k*| cancels (finite at the threshold, where ld = 0)
    jac = jac * d1 * ld / (2.0 * p1s_mag) / (16.0 * np.pi**2 * mx) * _TWO_PI
    phi_s = _TWO_PI * u[:, 3]

    # A' along theta* from the incoming lepton, azimuth from the target direction (-X)
    k, p2 = _decay_in_frame(nhat, -X[:, 1:], cos_s, phi_s, eks, ks_mag, X, mx)
    return PhaseSpacePoints(p1=p1, P1=P1, p2=p2, P2=P2, k=k, t=t, w=w, d1=d1, jacobian=jac)


def map_phase_space_lab(
    u: NDArray[np.float64],
    beam_energy: float,
    m_l: float,
    m_ap: float,
    m_nucleus: float,
) -> PhaseSpacePoints:
    r"""An independent map of the unit 5-cube onto the same phase space, A' first.

    Used to cross-check :func:`map_phase_space` (a different factorisation, different
    Jacobian).  The A' is generated in the lab and Y = p1 + P1 - k decays to l N:

    .. math::

        d\Phi_3 = \frac{d^3k}{(2\pi)^3 2E_k}\, d\Phi_2(M_Y^2; m_l, M),

    * u0 -> E0 - E_k, logarithmic between m_l and E0 - m_A' (the x -> 1 endpoint);
    * u1 -> D1 = 2 p1.k - m_A'^2 (fixes the A' polar angle), logarithmic;
    * u2 -> phi_k, uniform;
    * u3 -> t, logarithmic between t_min and t_max of the Y -> l N decay (the angle of the
      nucleus to the target direction in the Y rest frame);
    * u4 -> the azimuth of that decay, uniform.

    Points outside the physical region (M_Y < m_l + M) get a zero Jacobian.  Same arguments
    and return value as :func:`map_phase_space`.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.kinematics import map_phase_space_lab
    >>> lab = map_phase_space_lab(np.random.default_rng(2).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                           W.nuclear_mass)
    >>> bool(np.abs(lab.p1 + lab.P1 - lab.p2 - lab.P2 - lab.k).max() < 1e-9)
    True
    """
    u = np.asarray(u, dtype=float)
    n = u.shape[0]
    E0, m, mA, M = float(beam_energy), float(m_l), float(m_ap), float(m_nucleus)
    pz = np.sqrt((E0 - m) * (E0 + m))

    # A' energy: y = E0 - E_k
    y_min, y_max = m, E0 - mA
    ly = np.log(y_max / y_min)
    y = y_min * np.exp(ly * u[:, 0])
    ek = E0 - y
    kmag = np.sqrt(np.clip((ek - mA) * (ek + mA), 0.0, None))
    jac = y * ly

    # A' polar angle through D1 = 2 (E0 Ek - pz |k| cos) - mA^2
    ee, pp = E0 * ek, pz * kmag
    d_max = 2.0 * (ee + pp) - mA * mA
    d_min = 2.0 * (m * m * ek**2 + mA * mA * E0**2 - m * m * mA * mA) / (ee + pp) - mA * mA
    d_min = np.clip(d_min, d_max * 1e-15, d_max)
    ld = np.log(d_max / d_min)
    d1 = d_min * np.exp(ld * u[:, 1])
    cos_k = np.clip((2.0 * ee - mA * mA - d1) / (2.0 * pp), -1.0, 1.0)
    sin_k = np.sqrt((1.0 - cos_k) * (1.0 + cos_k))
    phi_k = _TWO_PI * u[:, 2]
    # d^3k / ((2 pi)^3 2 E_k) = |k| dE dcos dphi / (2 (2 pi)^3), dcos = dD1 / (2 pz |k|)
    jac = jac * kmag / (2.0 * (2.0 * np.pi) ** 3) * d1 * ld / (2.0 * pp) * _TWO_PI
    k = np.empty((n, 4))
    k[:, 0] = ek
    k[:, 1] = kmag * sin_k * np.cos(phi_k)
    k[:, 2] = kmag * sin_k * np.sin(phi_k)
    k[:, 3] = kmag * cos_k

    # Y = p1 + P1 - k, M_Y^2 = m^2 + M^2 + 2 M (E0 - E_k) - D1
    my2 = m * m + M * M + 2.0 * M * y - d1
    physical = my2 > (m + M) ** 2
    my2 = np.where(physical, my2, (m + M) ** 2 * (1.0 + 1e-12))
    my = np.sqrt(my2)
    Y = np.empty((n, 4))
    Y[:, 0] = E0 + M - ek
    Y[:, 1:] = -k[:, 1:]
    Y[:, 3] += pz

    # Y rest frame: the target P1* and the outgoing nucleus
    e_p1 = M * (M + y) / my
    p_p1 = np.sqrt(np.clip((e_p1 - M) * (e_p1 + M), 0.0, None))
    e_n = (my2 + M * M - m * m) / (2.0 * my)
    p_n = kallen_sqrt(my2, M, m) / (2.0 * my)
    t_max = 2.0 * (e_p1 * e_n + p_p1 * p_n) - 2.0 * M * M
    t_min = (M * d1) ** 2 / (my2 * t_max)  # 4 M^2 (E_P1* - E_N*)^2 / t_max
    lt = np.log(t_max / t_min)
    t = t_min * np.exp(lt * u[:, 3])
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus_cos = np.where(
            p_p1 * p_n > 0, np.clip((t - t_min) / (2.0 * p_p1 * p_n), 0.0, 2.0), 0.0
        )
    cos_n = 1.0 - one_minus_cos
    sin_n = np.sqrt(one_minus_cos * (2.0 - one_minus_cos))
    phi_n = _TWO_PI * u[:, 4]
    # dPhi_2 = |p*| dcos dphi / (16 pi^2 M_Y), dcos = dt / (2 |P1*| |p*|)
    with np.errstate(divide="ignore", invalid="ignore"):  # p_p1 = 0 only off shell: jac 0
        jac = jac / (16.0 * np.pi**2 * my) * t * lt / (2.0 * p_p1) * _TWO_PI
    jac = np.where(physical & np.isfinite(jac), jac, 0.0)

    P1 = np.zeros((n, 4))
    P1[:, 0] = M
    P1s = boost(P1, Y * _FLIP, my)
    zhat = P1s[:, 1:] / np.linalg.norm(P1s[:, 1:], axis=1)[:, None]
    ref = np.cross(zhat, np.array([0.0, 0.0, 1.0]))
    P2, p2 = _decay_in_frame(zhat, ref, cos_n, phi_n, e_n, p_n, Y, my, sin_t=sin_n)
    p1 = np.zeros((n, 4))
    p1[:, 0] = E0
    p1[:, 3] = pz
    pk = p2 + k
    w = pk[:, 0] ** 2 - np.sum(pk[:, 1:] ** 2, axis=1) - m * m
    return PhaseSpacePoints(p1=p1, P1=P1, p2=p2, P2=P2, k=k, t=t, w=w, d1=d1, jacobian=jac)
