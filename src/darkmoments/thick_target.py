"""Depth-integrated signal yield of a thick target for a muon (or any heavy-lepton) beam.

In a target of thickness L the beam lepton loses energy on its way in, so a dark
bremsstrahlung at depth z happens at the energy E(z) < E0 and the yield is

    N = EOT x n_nuclei x int_0^L dz sigma(E(z)) = EOT x n_nuclei x L x <sigma>,
    <sigma> = (1 / L) int_0^L dz sigma(E(z))                                   (1)

(the beam is not attenuated: the dark-bremsstrahlung probability is ~1e-10 per muon).  The
thin-target yield of :meth:`darkmoments.experiments.Experiment.expected_events` uses
sigma(E0); the ratio f = <sigma> / sigma(E0) (:func:`depth_factor`) is what a thick target
changes.

Energy along the path (mean, continuous slowing down)
----------------------------------------------------
-dE/dx = a(E) + b E  [GeV cm^2 / g] (Groom, Mokhov, Striganov, At. Data Nucl. Data Tables 78
(2001) 183; PDG 2024 section 34.6, eq. 34.40):

* a(E): ionisation, the Bethe formula with the density effect,
  :func:`darkmoments.detector.target.bethe_dedx` (PDG 2024 eq. 34.5), integrated by
  :func:`darkmoments.detector.target.ionisation_loss` (reused, not re-implemented);
* b: radiative losses (bremsstrahlung, e+e- pair production, photonuclear).  Taken as the
  constant b = a(E_c) / E_c at the muon critical energy E_c, where by definition ionisation
  and radiative losses are equal, with the PDG fit for solids E_c = 5700 GeV / (Z + 1.47)^0.838
  (PDG 2024 section 34.6; 152 GeV for tungsten, giving b = 1.21e-5 g^-1 cm^2).  b(E) grows with
  E (pair production rises logarithmically; Groom et al. table b(E)), so b(15 GeV) < b(E_c)
  and this radiative loss is an *upper bound*.  Quantified for M3 (15 GeV mu-, 50 X0 = 338
  g/cm^2 of W, docs/physics.md section 3.4): ionisation 0.555 GeV (3.7 % of E0) across the
  target, radiative <= 0.061 GeV (<= 0.41 %); the radiative part changes <sigma> by at most
  0.2 % x d ln sigma / d ln E (<= 0.5 % at m_A' = 1 GeV).  It is included by default
  (``radiative=True``) so that the yield is, if anything, slightly low.

With the ionisation-only path E_ion(x) from ``ionisation_loss`` and its mean rate
a_bar(x) = (E0 - E_ion(x)) / x, the path with both terms is the solution of
dE/dx = -a_bar - b E,

    E(x) = E0 e^{-b x} - a_bar (1 - e^{-b x}) / b,                           (2)

exact for constant a; a(E) varies by 0.2 % over the M3 target, so the error is far below
1e-4 of E.  Energy-loss fluctuations (Landau tails, rare hard radiative losses) are not
simulated: for a cross section that is smooth in E, <sigma(E)> = sigma(<E>) + O(Var E).

Depth integral and the cross section at other energies
------------------------------------------------------
Equation (1) is evaluated with ``n_depth`` Gauss-Legendre nodes in z (exact for polynomials
of degree 2 n_depth - 1; sigma(E(z)) is smooth).  sigma(E) is a callable or a table
(energies, values) interpolated as a power law (linear in ln E, ln sigma), which is exact for
sigma proportional to E^k.  :func:`sigma_energies` gives the nodes of such a table (from the
exit energy to E0, log-spaced) and :func:`generator_depth_average` fills it with the exact
generator (:func:`darkmoments.generator.cross_section`) and propagates the nodes' MC errors
to f.  Two nodes suffice: over ln(E0/E_exit) = 0.042 (M3) the log slope of sigma changes by
far less than its MC error (checked with three nodes in tests/test_experiments_thick_target.py).

Electrons are not handled here: their energy loss is bremsstrahlung straggling, a wide
distribution, sampled at the detector level (:mod:`darkmoments.detector.target`,
docs/detector.md).

Every function is pure (the generator call is seeded) and vectorised over energies/depths.
Units: GeV, cm, g/cm^2, pb.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import M_E, M_MU
from .detector.target import bethe_dedx, ionisation_loss
from .errors import InputError, InputTypeError, NonFiniteResultError
from .targets import Target, get_target
from .validation import check_int, check_real

__all__ = [
    "CRITICAL_ENERGY_FIT",
    "DEFAULT_N_DEPTH",
    "DEFAULT_N_ENERGIES",
    "DEFAULT_RTOL",
    "DepthAverage",
    "ThickTargetSigma",
    "depth_average",
    "depth_factor",
    "depth_factors",
    "energy_after",
    "generator_depth_average",
    "muon_critical_energy",
    "radiative_b",
    "sigma_energies",
]

FloatArray = NDArray[np.float64]
SigmaLike = Callable[[FloatArray], ArrayLike] | tuple[ArrayLike, ArrayLike]

#: PDG fit of the muon critical energy for solids, E_c = c0 / (Z + c1)^c2 with c0 in GeV
#: (PDG 2024, "Passage of particles through matter", section 34.6: 5700 GeV, 1.47, 0.838;
#: 141 GeV tabulated for Pb against 139.8 from the fit, 347 GeV for Fe against 355).
CRITICAL_ENERGY_FIT: tuple[float, float, float] = (5700.0, 1.47, 0.838)
#: Gauss-Legendre nodes of the depth integral (1).
DEFAULT_N_DEPTH: int = 16
#: Incident energies at which the generator computes sigma (E0 and the exit energy).
DEFAULT_N_ENERGIES: int = 2
#: Relative MC precision requested of each generator cross section.
DEFAULT_RTOL: float = 1.0e-3
#: Exit energies within this fraction of E0 count as a thin target (f = 1 exactly).
_THIN: float = 1.0e-12


def _check_heavy(mass: Any) -> float:
    m = check_real("lepton mass", mass, lo=0.0, lo_open=True, unit="GeV")
    if math.isclose(m, M_E, rel_tol=1e-6):
        raise InputError(
            "thick-target yields are for muon (heavy-lepton) beams: an electron loses energy "
            "by bremsstrahlung straggling, simulated at the detector level (docs/detector.md)"
        )
    return m


def muon_critical_energy(target: str | Target = "W") -> float:
    """Muon critical energy E_c of a solid element in GeV (PDG fit, :data:`CRITICAL_ENERGY_FIT`).

    E_c is the energy at which the mean ionisation and radiative losses are equal:
    5700 GeV / (Z + 1.47)^0.838, 152.2 GeV for tungsten.

    Parameters
    ----------
    target : str or Target
        Material (:func:`darkmoments.targets.get_target`).

    Returns
    -------
    float
        E_c in GeV.

    Examples
    --------
    >>> from darkmoments.thick_target import muon_critical_energy
    >>> round(muon_critical_energy("W"), 1), round(muon_critical_energy("Pb"), 1)  # GeV
    (152.2, 139.8)
    """
    c0, c1, c2 = CRITICAL_ENERGY_FIT
    return c0 / (get_target(target).Z + c1) ** c2


def radiative_b(target: str | Target = "W", mass: float = M_MU) -> float:
    """Radiative energy-loss coefficient b in g^-1 cm^2 (an upper bound below E_c).

    b = a(E_c) / E_c with a = :func:`~darkmoments.detector.target.bethe_dedx` at the muon
    critical energy (:func:`muon_critical_energy`).  For W: 1.21e-5 g^-1 cm^2, i.e. b E =
    0.18 MeV cm^2/g at 15 GeV, 11 % of the ionisation (1.64 MeV cm^2/g); b(E) rises with E, so
    at 15 GeV the true value is lower (module docstring).  Defined for muons only (the
    radiative cross sections scale as 1/M^2; heavier leptons would need their own fit).

    Parameters
    ----------
    target : str or Target
        Material.
    mass : float
        Lepton mass in GeV (the muon's; other masses are refused).

    Returns
    -------
    float
        b in g^-1 cm^2.

    Examples
    --------
    >>> from darkmoments.thick_target import radiative_b
    >>> f"{radiative_b('W'):.3g}"  # g^-1 cm^2
    '1.21e-05'
    >>> round(radiative_b("W") * 15.0 * 1e3, 2)  # b E at 15 GeV, MeV cm^2/g
    0.18
    """
    m = _check_heavy(mass)
    if not math.isclose(m, M_MU, rel_tol=1e-6):
        raise InputError(f"radiative_b is fitted for muons (mass {M_MU} GeV), got mass {m} GeV")
    e_c = muon_critical_energy(target)
    a = float(bethe_dedx(math.sqrt(e_c * e_c - m * m), m, target)) * 1.0e-3  # GeV cm^2/g
    return a / e_c


def energy_after(
    energy: ArrayLike,
    x_gcm2: ArrayLike,
    *,
    mass: float = M_MU,
    target: str | Target = "W",
    radiative: bool = True,
) -> FloatArray:
    """Mean energy [GeV] of a heavy lepton after x g/cm^2 of material (equation (2)).

    Parameters
    ----------
    energy : array_like
        Total energy at x = 0 in GeV.
    x_gcm2 : array_like
        Material crossed in g/cm^2 (>= 0; broadcast against ``energy``).
    mass : float
        Lepton mass in GeV (a muon by default; electrons are refused).
    target : str or Target
        Material.
    radiative : bool
        Include the radiative loss b E (:func:`radiative_b`); False: ionisation only, exactly
        :func:`~darkmoments.detector.target.ionisation_loss`.

    Returns
    -------
    numpy.ndarray
        Total energy in GeV (at least the mass: a stopped lepton is returned at rest).

    Examples
    --------
    A 15 GeV muon through the M3 target, 50 X0 = 338 g/cm^2 of tungsten: 0.555 GeV of
    ionisation, and at most 0.06 GeV more with the radiative loss:

    >>> from darkmoments.thick_target import energy_after
    >>> energy_after(15.0, [0.0, 338.1], radiative=False).round(3)  # GeV
    array([15.   , 14.445])
    >>> energy_after(15.0, [0.0, 338.1]).round(3)
    array([15.   , 14.385])
    """
    m = _check_heavy(mass)
    tgt = get_target(target)
    e0, x = np.broadcast_arrays(np.asarray(energy, dtype=float), np.asarray(x_gcm2, dtype=float))
    if not (np.all(np.isfinite(e0)) and np.all(np.isfinite(x))):
        raise InputError("energy and x_gcm2 must be finite")
    if np.any(x < 0) or np.any(e0 < m):
        raise InputError(f"need x_gcm2 >= 0 and energy >= the lepton mass {m} GeV")
    e_ion = ionisation_loss(e0, m, x, tgt)
    if not radiative:
        return np.asarray(e_ion, dtype=float)
    b = radiative_b(tgt, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_bar = np.where(x > 0, (e0 - e_ion) / np.where(x > 0, x, 1.0), 0.0)
    decay = np.exp(-b * x)
    out = e0 * decay - a_bar * (-np.expm1(-b * x)) / b
    return np.maximum(out, m)


def _depth_nodes(n_depth: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre depth fractions on [0, 1] and weights summing to 1."""
    xd, wd = np.polynomial.legendre.leggauss(n_depth)
    return 0.5 * (xd + 1.0), 0.5 * wd


def _sigma_function(sigma: SigmaLike, e_lo: float, e_hi: float) -> Callable[[FloatArray], Any]:
    """sigma(E) [pb] as a vectorised function: a callable as is, a table as a power law."""
    if callable(sigma):
        return sigma
    try:
        energies, values = sigma
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            "sigma must be a callable sigma(E [GeV]) -> pb or a table (energies [GeV], sigma [pb])"
        ) from exc
    en = np.asarray(energies, dtype=float)
    va = np.asarray(values, dtype=float)
    if en.ndim != 1 or en.shape != va.shape or en.size < 1:
        raise InputError(f"sigma table needs 1D energies and values of one length, got {en.shape}")
    if not (np.all(np.isfinite(en)) and np.all(en > 0) and np.all(np.diff(en) > 0)):
        raise InputError("sigma table energies must be finite, > 0 GeV, strictly increasing")
    if not (np.all(np.isfinite(va)) and np.all(va > 0)):
        raise InputError("sigma table values must be finite and > 0 pb (a power law in E)")
    tol = 1e-9
    if en[0] > e_lo * (1 + tol) or en[-1] < e_hi * (1 - tol):
        raise InputError(
            f"sigma table must cover the energies in the target [{e_lo:.6g}, {e_hi:.6g}] GeV, "
            f"got [{en[0]:.6g}, {en[-1]:.6g}] GeV"
        )
    if en.size == 1:
        return lambda e: np.full(np.shape(e), va[0])
    le, lv = np.log(en), np.log(va)
    return lambda e: np.exp(np.interp(np.log(e), le, lv))


@dataclass(frozen=True)
class DepthAverage:
    """Depth-averaged cross section of :func:`depth_average` (equation (1)).

    Attributes
    ----------
    sigma_pb : float
        <sigma> in pb: the yield is EOT x n_nuclei x L x <sigma>.
    sigma_nominal_pb : float
        sigma(E0) in pb (the thin-target value).
    factor : float
        f = <sigma> / sigma(E0).
    exit_energy : float
        Mean energy at the downstream face, GeV.
    mean_energy : float
        Depth-averaged mean energy, GeV.
    thickness_gcm2 : float
        Areal density crossed, g/cm^2.
    radiative : bool
        Whether the radiative loss b E is included.

    Examples
    --------
    >>> from darkmoments.thick_target import depth_average
    >>> avg = depth_average(lambda e: 50.0 * e / 15.0, 15.0, 17.52)  # sigma ~ E
    >>> round(avg.factor, 4) == round(avg.mean_energy / 15.0, 4)  # linear: f = <E> / E0
    True
    """

    sigma_pb: float
    sigma_nominal_pb: float
    factor: float
    exit_energy: float
    mean_energy: float
    thickness_gcm2: float
    radiative: bool


def sigma_energies(
    beam_energy: float,
    thickness_cm: float,
    *,
    mass: float = M_MU,
    target: str | Target = "W",
    radiative: bool = True,
    n_energies: int = DEFAULT_N_ENERGIES,
) -> FloatArray:
    """Incident energies (GeV, ascending) at which to tabulate sigma for :func:`depth_average`.

    ``n_energies`` values log-spaced from the exit energy to E0 (both included); a single
    E0 if the target is thin enough that the exit energy equals E0 to 1e-12.

    Parameters
    ----------
    beam_energy : float
        E0 in GeV.
    thickness_cm : float
        Target thickness in cm (>= 0).
    mass, target, radiative
        As :func:`energy_after`.
    n_energies : int
        Number of energies (>= 2).

    Returns
    -------
    numpy.ndarray
        Energies in GeV, ascending.

    Examples
    --------
    >>> from darkmoments.thick_target import sigma_energies
    >>> sigma_energies(15.0, 17.52).round(3)  # M3: 50 X0 of W, exit energy and E0 (GeV)
    array([14.385, 15.   ])
    >>> sigma_energies(15.0, 0.0)  # a thin target: E0 only
    array([15.])
    """
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    thick = check_real("thickness_cm", thickness_cm, lo=0.0, unit="cm")
    n = check_int("n_energies", n_energies, lo=2)
    tgt = get_target(target)
    e_exit = float(
        energy_after(e0, thick * tgt.density, mass=mass, target=tgt, radiative=radiative)
    )
    if e_exit >= e0 * (1.0 - _THIN):
        return np.array([e0])
    out = np.geomspace(e_exit, e0, n)
    out[0], out[-1] = e_exit, e0
    return out


def depth_average(
    sigma: SigmaLike,
    beam_energy: float,
    thickness_cm: float,
    *,
    mass: float = M_MU,
    target: str | Target = "W",
    radiative: bool = True,
    n_depth: int = DEFAULT_N_DEPTH,
) -> DepthAverage:
    """<sigma> = (1/L) int_0^L dz sigma(E(z)) of a heavy-lepton beam (equation (1)).

    Parameters
    ----------
    sigma : callable or (energies, values)
        Cross section in pb as a function of the incident energy in GeV, or a table
        interpolated as a power law; it must cover [exit energy, E0].
    beam_energy : float
        E0 in GeV at the upstream face.
    thickness_cm : float
        Target thickness L in cm (0: thin, f = 1).
    mass : float
        Beam lepton mass in GeV (muon default; electrons refused).
    target : str or Target
        Material.
    radiative : bool
        Include the radiative loss (:func:`energy_after`).
    n_depth : int
        Gauss-Legendre nodes in depth.

    Returns
    -------
    DepthAverage

    Examples
    --------
    A cross section rising as E^2 (100 pb at 15 GeV) through 17.52 cm of tungsten: the
    mean energy is 14.69 GeV, so f ~ (14.69 / 15)^2 = 0.96:

    >>> from darkmoments.thick_target import depth_average
    >>> avg = depth_average(lambda e: 100.0 * (e / 15.0) ** 2, 15.0, 17.52)
    >>> round(avg.mean_energy, 2), round(avg.exit_energy, 3), round(avg.factor, 4)
    (14.69, 14.385, 0.9595)
    >>> round(avg.sigma_pb, 2), avg.sigma_nominal_pb, round(avg.thickness_gcm2, 1)  # pb, g/cm^2
    (95.95, 100.0, 338.1)

    A table (GeV, pb) is interpolated as a power law; a thin target gives f = 1 exactly:

    >>> round(depth_average(([14.0, 15.0], [90.0, 100.0]), 15.0, 17.52).factor, 4)
    0.9689
    >>> depth_average(([14.0, 15.0], [90.0, 100.0]), 15.0, 0.0).factor
    1.0
    """
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    thick = check_real("thickness_cm", thickness_cm, lo=0.0, unit="cm")
    n_depth = check_int("n_depth", n_depth, lo=1)
    tgt = get_target(target)
    x_tot = thick * tgt.density
    d, w = _depth_nodes(n_depth)
    energies = energy_after(
        np.full(d.shape, e0), d * x_tot, mass=mass, target=tgt, radiative=radiative
    )
    e_exit = float(energy_after(e0, x_tot, mass=mass, target=tgt, radiative=radiative))
    fn = _sigma_function(sigma, min(e_exit, float(energies.min())), e0)
    s_nodes = np.asarray(fn(energies), dtype=float)
    s0 = float(np.asarray(fn(np.array([e0])), dtype=float)[0])
    if not (np.all(np.isfinite(s_nodes)) and math.isfinite(s0)):
        raise NonFiniteResultError("sigma(E) returned a non-finite value")
    if np.any(s_nodes < 0) or s0 <= 0:
        raise InputError("sigma(E) must be >= 0 pb, and > 0 at the beam energy")
    avg = float(np.sum(w * s_nodes))
    if e_exit >= e0 * (1.0 - _THIN):
        avg = s0  # thin limit: exactly the thin-target yield
    return DepthAverage(
        sigma_pb=avg,
        sigma_nominal_pb=s0,
        factor=avg / s0,
        exit_energy=e_exit,
        mean_energy=float(np.sum(w * energies)),
        thickness_gcm2=x_tot,
        radiative=bool(radiative),
    )


@dataclass(frozen=True)
class ThickTargetSigma:
    """The generator's cross sections at the incident energies and their depth average.

    Attributes
    ----------
    energies : numpy.ndarray
        Incident energies in GeV (:func:`sigma_energies`).
    sigma_pb, sigma_err_pb : numpy.ndarray
        sigma(E) at unit coupling and its MC error, pb.
    average : DepthAverage
        <sigma> and f from the power-law table.
    factor_err : float
        MC error of f, propagated from the nodes' independent errors (linear, by central
        differences).

    Examples
    --------
    Built by :func:`generator_depth_average`; by hand from a table of two cross sections
    (GeV, pb) with 0.07 % MC errors:

    >>> import numpy as np
    >>> from darkmoments.thick_target import ThickTargetSigma, depth_average, sigma_energies
    >>> e, xs = sigma_energies(15.0, 17.52), np.array([3.48e8, 3.55e8])
    >>> r = ThickTargetSigma(e, xs, 7e-4 * xs, depth_average((e, xs), 15.0, 17.52), 4e-4)
    >>> round(r.factor, 3)
    0.99
    """

    energies: FloatArray
    sigma_pb: FloatArray
    sigma_err_pb: FloatArray
    average: DepthAverage
    factor_err: float

    @property
    def factor(self) -> float:
        """f = <sigma> / sigma(E0)."""
        return self.average.factor


def _factor_error(
    energies: FloatArray, values: FloatArray, errors: FloatArray, kw: dict[str, Any]
) -> float:
    """MC error of f from independent node errors (central differences in each node)."""
    var = 0.0
    for k in range(values.size):
        h = 1e-4 * values[k]
        up, dn = values.copy(), values.copy()
        up[k] += h
        dn[k] -= h
        df = (
            depth_average((energies, up), **kw).factor - depth_average((energies, dn), **kw).factor
        ) / (2 * h)
        var += (df * errors[k]) ** 2
    return math.sqrt(var)


def generator_depth_average(
    model: str,
    mass: float,
    beam_energy: float,
    thickness_cm: float,
    *,
    lepton: str = "mu",
    target: str | Target = "W",
    radiative: bool = True,
    n_energies: int = DEFAULT_N_ENERGIES,
    n_depth: int = DEFAULT_N_DEPTH,
    seed: int = 0,
    rtol: float = DEFAULT_RTOL,
) -> ThickTargetSigma:
    """<sigma> of the exact generator for one (model, A' mass) on a thick target.

    sigma(E) is computed by :func:`darkmoments.generator.cross_section` at the
    :func:`sigma_energies` (independent seeds ``SeedSequence(seed).spawn``, relative MC
    precision ``rtol`` each) and averaged over depth by :func:`depth_average`.

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    beam_energy, thickness_cm, target, radiative, n_depth
        As :func:`depth_average`.
    lepton : str
        ``"mu"`` (electrons are refused).
    n_energies : int
        Incident energies of the table (>= 2).
    seed : int
        Root seed (>= 0).
    rtol : float
        Requested relative MC error of each cross section.

    Returns
    -------
    ThickTargetSigma

    Examples
    --------
    The km cross section of a 0.1 GeV A' at 15 GeV (3.6e8 pb at unit coupling) and at the
    14.4 GeV exit energy of the M3 target (1 % lower): f = 0.99.

    >>> from darkmoments.thick_target import generator_depth_average
    >>> r = generator_depth_average("km", 0.1, 15.0, 17.52, rtol=1e-2)  # about 1 s
    >>> [f"{x:.2g}" for x in r.sigma_pb], round(r.factor, 2)  # pb
    (['3.5e+08', '3.6e+08'], 0.99)
    """
    from .generator import cross_section, lepton_mass

    m_l = _check_heavy(lepton_mass(lepton))
    seed = check_int("seed", seed, lo=0)
    tgt = get_target(target)
    energies = sigma_energies(
        beam_energy,
        thickness_cm,
        mass=m_l,
        target=tgt,
        radiative=radiative,
        n_energies=n_energies,
    )
    seqs = np.random.SeedSequence(seed).spawn(energies.size)
    vals, errs = [], []
    for e, sq in zip(energies, seqs, strict=True):
        xs = cross_section(
            model,
            mass,
            float(e),
            lepton=lepton,
            target=tgt,
            seed=int(sq.generate_state(1)[0]),
            rtol=rtol,
        )
        vals.append(xs.value_pb)
        errs.append(xs.error_pb)
    v, er = np.array(vals), np.array(errs)
    kw: dict[str, Any] = {
        "beam_energy": beam_energy,
        "thickness_cm": thickness_cm,
        "mass": m_l,
        "target": tgt,
        "radiative": radiative,
        "n_depth": n_depth,
    }
    avg = depth_average((energies, v), **kw)
    return ThickTargetSigma(energies, v, er, avg, _factor_error(energies, v, er, kw))


@lru_cache(maxsize=4096)
def _cached_factor(
    model: str,
    mass: float,
    beam_energy: float,
    thickness_cm: float,
    lepton: str,
    target: str,
    radiative: bool,
    n_energies: int,
    seed: int,
    rtol: float,
) -> float:
    return generator_depth_average(
        model,
        mass,
        beam_energy,
        thickness_cm,
        lepton=lepton,
        target=target,
        radiative=radiative,
        n_energies=n_energies,
        seed=seed,
        rtol=rtol,
    ).factor


def depth_factor(
    model: str,
    mass: float,
    beam_energy: float,
    thickness_cm: float,
    *,
    lepton: str = "mu",
    target: str | Target = "W",
    radiative: bool = True,
    n_energies: int = DEFAULT_N_ENERGIES,
    seed: int = 0,
    rtol: float = DEFAULT_RTOL,
) -> float:
    """f = <sigma> / sigma(E0) of the exact generator (cached per process).

    The factor a thick target multiplies the thin-target yield by
    (:meth:`darkmoments.experiments.Experiment.expected_events`).  About 0.5 s per cross
    section, ``n_energies`` of them (1 for a thin target); results are cached by all the
    arguments (the seed included, so repeated calls are identical).

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    beam_energy : float
        E0 in GeV.
    thickness_cm : float
        Target thickness in cm (0: thin, f = 1).
    lepton, target, radiative, n_energies, seed, rtol
        As :func:`generator_depth_average`.

    Returns
    -------
    float
        f (dimensionless, <= 1 for a cross section rising with E).

    Examples
    --------
    >>> from darkmoments.thick_target import depth_factor
    >>> round(depth_factor("km", 0.1, 15.0, 17.52, rtol=1e-2), 2)  # M3, 50 X0 of W
    0.99
    >>> depth_factor("km", 0.1, 15.0, 0.0, rtol=1e-2)  # thin target
    1.0
    """
    from .models import get_model

    return _cached_factor(
        get_model(model).id,
        check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV"),
        check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV"),
        check_real("thickness_cm", thickness_cm, lo=0.0, unit="cm"),
        str(lepton),
        get_target(target).symbol,
        bool(radiative),
        check_int("n_energies", n_energies, lo=2),
        check_int("seed", seed, lo=0),
        check_real("rtol", rtol, lo=0.0, lo_open=True),
    )


def depth_factors(
    model: str,
    masses: ArrayLike,
    beam_energy: float,
    thickness_cm: float,
    *,
    n_nodes: int = 9,
    **options: Any,
) -> FloatArray:
    """f at many A' masses (GeV), from :func:`depth_factor` at ``n_nodes`` of them.

    f is computed at ``n_nodes`` masses spread evenly (by index) over the sorted ``masses``
    (both ends included) and interpolated by the not-a-knot cubic spline of ln f in ln m
    (exact at those nodes; f - 1 is proportional to the log slope of sigma in E, which varies
    slowly with m).  For a grid of 40 masses this is 9 instead of 40 pairs of cross sections.
    ``options`` go to :func:`depth_factor`.

    Parameters
    ----------
    model : str
        Model id.
    masses : array_like
        A' masses in GeV.
    beam_energy : float
        E0 in GeV.
    thickness_cm : float
        Target thickness in cm.
    n_nodes : int
        Masses at which f is computed (>= 1).
    **options
        Keywords of :func:`depth_factor`.

    Returns
    -------
    numpy.ndarray
        One factor per mass, in the order of ``masses``.

    Examples
    --------
    A heavier A' needs more of the beam energy, so its cross section falls faster along the
    target (f further below 1).  Two masses, both nodes (about 1 s each); the masses between
    nodes are interpolated, which needs nodes a factor ~2 apart or closer (nodes at 0.1 and
    1 GeV alone put f(0.3 GeV) 0.8 % low):

    >>> from darkmoments.thick_target import depth_factors
    >>> depth_factors("km", [0.1, 1.0], 15.0, 17.52, rtol=1e-2).round(2)
    array([0.99, 0.96])
    """
    from scipy.interpolate import CubicSpline

    m = np.asarray(masses, dtype=float)
    n_nodes = check_int("n_nodes", n_nodes, lo=1)
    order = np.unique(m.ravel())
    if order.size <= n_nodes:
        nodes = order
    else:
        nodes = order[np.unique(np.rint(np.linspace(0, order.size - 1, n_nodes)).astype(int))]
    f = np.array(
        [depth_factor(model, float(x), beam_energy, thickness_cm, **options) for x in nodes]
    )
    if nodes.size == 1:
        return np.full(m.shape, f[0])
    if nodes.size < 4:
        return np.exp(np.interp(np.log(m), np.log(nodes), np.log(f)))
    spline = CubicSpline(np.log(nodes), np.log(f), bc_type="not-a-knot")
    return np.asarray(np.exp(spline(np.log(m))), dtype=float)
