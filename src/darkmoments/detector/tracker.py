"""Tracker and tagger response.

Momentum and angular resolution, beam-energy measurement, and the acceptance for
reconstructible recoils.

Pure and vectorised; randomness only through an explicit :class:`numpy.random.Generator`.
Units: GeV, rad.  The parametrisations are the standard ones for a silicon tracker in a
magnetic field (PDG 2024, "Particle detectors at accelerators", section on momentum
resolution): a curvature error that adds a multiple-scattering term, constant in
sigma_p / p, in quadrature to a hit-resolution term growing like p, and an angular error
with a constant (geometry) term and a multiple-scattering term falling like 1/p.  The LDMX
defaults are in :class:`~darkmoments.detector.config.DetectorConfig` and ``docs/detector.md``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .config import DetectorConfig
from .target import _check_rng, rotate_directions

__all__ = [
    "acceptance_mask",
    "angular_resolution",
    "measure_beam_energy",
    "momentum_resolution",
    "polar_angle",
    "smear",
]

FloatArray = NDArray[np.float64]


def momentum_resolution(p: ArrayLike, constant: float, slope: float) -> FloatArray:
    """Relative momentum resolution sigma_p / p = a (+) b p (added in quadrature).

    a is the multiple-scattering term (constant for beta = 1), b [GeV^-1] the hit-resolution
    term (Gluckstern: b = eps / (0.3 B L^2) sqrt(720 / (N + 4)), B in T, L in m).

    Parameters
    ----------
    p : array_like
        Momentum in GeV.
    constant : float
        a (dimensionless).
    slope : float
        b in GeV^-1.

    Returns
    -------
    numpy.ndarray
        sigma_p / p.

    Examples
    --------
    >>> import math
    >>> from darkmoments.detector import momentum_resolution
    >>> math.isclose(float(momentum_resolution(2.0, 0.05, 0.01)), math.hypot(0.05, 0.02))
    True
    """
    p = np.asarray(p, dtype=float)
    return np.sqrt(constant * constant + (slope * p) ** 2)


def angular_resolution(p: ArrayLike, constant: float, slope: float) -> FloatArray:
    """Plane-angle resolution sigma_theta = c (+) d / p [rad] (added in quadrature).

    c is the geometric term (hit resolution over the lever arm), d [rad GeV] the multiple
    scattering in the tracker material before the first measurements (Highland: d =
    13.6 MeV sqrt(x/X0) (1 + 0.038 ln(x/X0))).  p = 0 gives infinity.

    Parameters
    ----------
    p : array_like
        Momentum in GeV.
    constant : float
        c in rad.
    slope : float
        d in rad GeV.

    Returns
    -------
    numpy.ndarray
        sigma_theta in rad, per plane.

    Examples
    --------
    >>> import math
    >>> from darkmoments.detector import angular_resolution
    >>> math.isclose(float(angular_resolution(1.0, 5e-4, 1e-3)), math.hypot(5e-4, 1e-3))
    True
    """
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return np.sqrt(constant * constant + (slope / p) ** 2)


def polar_angle(px: ArrayLike, py: ArrayLike, pz: ArrayLike) -> FloatArray:
    """Polar angle theta = atan2(p_T, p_z) in [0, pi] w.r.t. the beam axis (+z), rad.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector.tracker import polar_angle
    >>> polar_angle(np.array([0.0, 1.0]), np.zeros(2), np.array([1.0, 1.0])).round(6).tolist()
    [0.0, 0.785398]
    """
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    return np.arctan2(np.hypot(px, py), pz)


def smear(
    px: ArrayLike,
    py: ArrayLike,
    pz: ArrayLike,
    mass: float,
    config: DetectorConfig,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Reconstructed recoil momentum: curvature and direction smeared, no event lost.

    * Momentum: the curvature kappa = 1/p is Gaussian around its true value with relative
      width sigma_p/p = :func:`momentum_resolution` (what a tracker measures; it gives the
      familiar Gaussian in p for small resolutions and the right high-p tail).
      p' = 1 / |kappa (1 + sigma_p/p z)|, z ~ N(0, 1).
    * Direction: Gaussian plane angles of width :func:`angular_resolution` about the true
      direction (:func:`~darkmoments.detector.target.rotate_directions`).
    * E' = sqrt(p'^2 + m^2).

    The resolutions are evaluated at the true momentum.  Every event is returned (finite),
    so smearing alone preserves the normalisation; selection is :func:`acceptance_mask`.
    With ``config.smearing`` False the inputs are returned unchanged (E recomputed from p).

    Parameters
    ----------
    px, py, pz : array_like
        True momentum in GeV.
    mass : float
        Lepton mass in GeV.
    config : DetectorConfig
        Resolution parameters.
    rng : numpy.random.Generator

    Returns
    -------
    (E, px, py, pz) : tuple of numpy.ndarray
        Reconstructed four-momentum in GeV.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import DetectorConfig, smear
    >>> n = 50_000
    >>> px, py, pz, e = smear(np.zeros(n), np.zeros(n), np.full(n, 2.0), 0.000511,
    ...                       DetectorConfig.ldmx(), np.random.default_rng(1))
    >>> len(pz) == n, bool(abs(np.median(pz) / 2.0 - 1) < 0.01)
    (True, False)
    """
    rng = _check_rng(rng)
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    if not config.smearing:
        return np.sqrt(px * px + py * py + pz * pz + mass * mass), px, py, pz
    p = np.sqrt(px * px + py * py + pz * pz)
    rel = momentum_resolution(
        p, config.momentum_resolution_constant, config.momentum_resolution_slope
    )
    sth = angular_resolution(p, config.angular_resolution_constant, config.angular_resolution_slope)
    z = rng.standard_normal((3, *p.shape))
    # |1 + rel z| = 0 has probability zero; a tiny floor keeps p' finite regardless.
    scale = 1.0 / np.maximum(np.abs(1.0 + rel * z[0]), 1e-12)
    sth = np.where(np.isfinite(sth), np.minimum(sth, 1.0), 1.0)
    qx, qy, qz = rotate_directions(px, py, pz, sth * z[1], sth * z[2])
    qx, qy, qz = qx * scale, qy * scale, qz * scale
    e = np.sqrt(qx * qx + qy * qy + qz * qz + mass * mass)
    return e, qx, qy, qz


def measure_beam_energy(
    energy: ArrayLike, config: DetectorConfig, rng: np.random.Generator
) -> FloatArray:
    """Beam energy measured by the tagger: E (1 + tagger_resolution z), z ~ N(0, 1).

    Parameters
    ----------
    energy : array_like
        True beam energy at the target's upstream face, GeV.
    config : DetectorConfig
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        Measured energy in GeV (the input unchanged if ``config.smearing`` is False).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import DetectorConfig
    >>> from darkmoments.detector.tracker import measure_beam_energy
    >>> cfg = DetectorConfig.ldmx()
    >>> e = measure_beam_energy(np.full(100_000, 8.0), cfg, np.random.default_rng(1))
    >>> bool(abs(e.std() / 8.0 / cfg.tagger_resolution - 1) < 0.02)
    True
    """
    rng = _check_rng(rng)
    e = np.asarray(energy, dtype=float)
    if not config.smearing or config.tagger_resolution == 0:
        return e.copy()
    return e * (1.0 + config.tagger_resolution * rng.standard_normal(e.shape))


def acceptance_mask(
    px: ArrayLike, py: ArrayLike, pz: ArrayLike, config: DetectorConfig
) -> NDArray[np.bool_]:
    """Reconstructible recoils: |p| >= p_min and polar angle theta <= theta_max.

    Apply it to the reconstructed momentum.  With ``config.acceptance`` False every event
    is accepted.

    Parameters
    ----------
    px, py, pz : array_like
        Momentum in GeV.
    config : DetectorConfig
        ``p_min`` [GeV], ``theta_max`` [rad].

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.detector import DetectorConfig, acceptance_mask
    >>> p = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 0.01], [2.0, 0.0, 0.1]])  # GeV
    >>> acceptance_mask(*p.T, DetectorConfig.ldmx()).tolist()  # ok, too soft, too wide
    [True, False, False]
    """
    px, py, pz = (np.asarray(v, dtype=float) for v in (px, py, pz))
    shape = np.broadcast(px, py, pz).shape
    if not config.acceptance:
        return np.ones(shape, dtype=bool)
    p = np.sqrt(px * px + py * py + pz * pz)
    return (p >= config.p_min) & (polar_angle(px, py, pz) <= config.theta_max)
