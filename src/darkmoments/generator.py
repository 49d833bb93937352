"""Exact tree-level dark-bremsstrahlung generator: cross sections and events.

l(p1) N(P1) -> l(p2) N(P2) A'(k) with the full 2 -> 3 kinematics (recoiling nucleus), the
exact spin-summed |M|^2 of :mod:`darkmoments.physics.amplitudes` for the five vertices, the
nuclear form factor G2 = G2_el + G2_inel and the phase-space map of
:mod:`darkmoments.physics.kinematics`.  The map flattens the propagator and form-factor
peaks analytically; a VEGAS adaptive map (the ``vegas`` package, Lepage) then adapts to what
is left.  Events are unweighted by acceptance-rejection against the maximum weight of a
pilot sample; weighted events are available on request.

All randomness comes from one ``numpy.random.Generator`` built from ``seed``: the same seed
gives bit-identical events and cross sections.  Units: GeV, pb.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import vegas
from numpy.typing import NDArray

from ._version import __version__
from .constants import GEV2_TO_PB, M_E, M_MU
from .models import Model, get_model
from .physics.amplitudes import squared_amplitude
from .physics.form_factors import G2
from .physics.kinematics import PhaseSpacePoints, map_phase_space, map_phase_space_lab
from .targets import Target, get_target

__all__ = [
    "EVENT_COLUMNS",
    "CrossSection",
    "DarkBremProcess",
    "Sample",
    "cross_section",
    "generate",
    "lepton_mass",
    "unweighting_threshold",
]

#: Columns of the event table (GeV, lab frame, beam along +z; weight in pb per event).
EVENT_COLUMNS: tuple[str, ...] = (
    "lepton_E",
    "lepton_px",
    "lepton_py",
    "lepton_pz",
    "dark_photon_E",
    "dark_photon_px",
    "dark_photon_py",
    "dark_photon_pz",
    "nucleus_E",
    "nucleus_px",
    "nucleus_py",
    "nucleus_pz",
    "lepton_pt",
    "nucleus_pt",
    "weight",
)

_LEPTONS = {"e": "e", "e-": "e", "electron": "e", "mu": "mu", "mu-": "mu", "muon": "mu"}
_NDIM = 5


def lepton_mass(lepton: str) -> float:
    """Mass in GeV of the beam lepton ``"e"`` or ``"mu"`` (aliases e-, electron, mu-, muon)."""
    return M_E if _canonical_lepton(lepton) == "e" else M_MU


def _canonical_lepton(lepton: str) -> str:
    if not isinstance(lepton, str) or lepton.strip().lower() not in _LEPTONS:
        raise ValueError(f"unknown lepton {lepton!r}; allowed: 'e' (electron) or 'mu' (muon)")
    return _LEPTONS[lepton.strip().lower()]


@dataclass(frozen=True)
class CrossSection:
    """A Monte Carlo cross section.

    Attributes
    ----------
    value_pb, error_pb : float
        Cross section and its MC (one standard deviation) uncertainty in pb.
    n_evaluations : int
        Integrand evaluations used for the estimate.
    """

    value_pb: float
    error_pb: float
    n_evaluations: int = 0

    def __iter__(self):  # allows ``sigma, err = cross_section(...)``
        return iter((self.value_pb, self.error_pb))

    @property
    def rel_error(self) -> float:
        """Relative MC uncertainty."""
        return self.error_pb / self.value_pb if self.value_pb else math.inf


@dataclass(frozen=True)
class DarkBremProcess:
    """The process l N -> l N A' for one model, A' mass, beam and target.

    Parameters
    ----------
    model : str or Model
        Model id (km, md, ed, cr, am; paper letters and long names accepted).
    mass : float
        A' mass in GeV (> 0 and below the kinematic threshold).
    beam_energy : float
        Lepton beam energy in GeV (target at rest).
    lepton : str
        ``"e"`` or ``"mu"``.
    target : str or Target
        Target material (W, Pb, Cu, Fe, Al, C).
    inelastic : bool
        Include the inelastic form factor (default True).
    """

    model: Model
    mass: float
    beam_energy: float
    lepton: str = "e"
    target: Target = field(default_factory=lambda: get_target("W"))
    inelastic: bool = True

    @classmethod
    def create(
        cls,
        model: str | Model,
        mass: float,
        beam_energy: float,
        *,
        lepton: str = "e",
        target: str | Target = "W",
        inelastic: bool = True,
    ) -> DarkBremProcess:
        """Validate the inputs and build the process (raises ValueError/TypeError)."""
        m = get_model(model)
        tgt = get_target(target)
        lep = _canonical_lepton(lepton)
        for name, val in (("beam_energy", beam_energy), ("mass", mass)):
            if isinstance(val, bool) or not isinstance(val, int | float | np.floating | np.integer):
                raise TypeError(f"{name} must be a number in GeV, got {type(val).__name__}")
        beam_energy, mass = float(beam_energy), float(mass)
        ml = lepton_mass(lep)
        if not math.isfinite(beam_energy) or beam_energy <= ml:
            raise ValueError(
                f"beam_energy must be a finite energy above the lepton mass {ml:.6g} GeV, "
                f"got {beam_energy} GeV"
            )
        M = tgt.nuclear_mass
        s = ml**2 + M**2 + 2.0 * beam_energy * M
        m_max = math.sqrt(s) - M - ml
        if not math.isfinite(mass) or mass <= 0 or mass >= m_max:
            raise ValueError(
                f"A' mass must be in (0, {m_max:.6g}) GeV (kinematic threshold for a "
                f"{beam_energy} GeV {lep} beam on {tgt.symbol}), got {mass} GeV"
            )
        return cls(m, mass, beam_energy, lep, tgt, bool(inelastic))

    @property
    def lepton_mass(self) -> float:
        """Beam-lepton mass in GeV."""
        return lepton_mass(self.lepton)

    @property
    def flux(self) -> float:
        """Flux factor 4 sqrt((p1.P1)^2 - m^2 M^2) = 4 M |p_beam| in GeV^2."""
        m = self.lepton_mass
        return (
            4.0
            * self.target.nuclear_mass
            * math.sqrt((self.beam_energy - m) * (self.beam_energy + m))
        )

    def phase_space(self, u: NDArray[np.float64], mapping: str = "x-frame") -> PhaseSpacePoints:
        """Map unit-cube points (N, 5) to lab-frame momenta.

        ``mapping="x-frame"`` is the production map (:func:`map_phase_space`);
        ``mapping="lab"`` the independent A'-first map (:func:`map_phase_space_lab`).
        """
        args = (u, self.beam_energy, self.lepton_mass, self.mass, self.target.nuclear_mass)
        if mapping == "x-frame":
            return map_phase_space(*args)
        if mapping == "lab":
            return map_phase_space_lab(*args)
        raise ValueError(f"unknown phase-space mapping {mapping!r}; allowed: 'x-frame', 'lab'")

    def weight(
        self, u: NDArray[np.float64], mapping: str = "x-frame"
    ) -> tuple[NDArray[np.float64], PhaseSpacePoints]:
        """d sigma / d^5u in pb at unit coupling, and the phase-space points.

        The mean of the returned weights over uniform ``u`` is the total cross section in pb
        (g_f = 1 in the model's units), for either ``mapping``.
        """
        ps = self.phase_space(u, mapping)
        g2 = G2(ps.t, self.target.Z, self.target.A, inelastic=self.inelastic)
        msq = squared_amplitude(
            self.model.id,
            ps.p1,
            ps.p2,
            ps.k,
            ps.P1,
            ps.P2,
            ps.t,
            g2,
            self.lepton_mass,
            self.mass,
            den_in=-ps.d1,
            den_out=ps.w,
        )
        w = msq * ps.jacobian / self.flux * GEV2_TO_PB
        return np.where(np.isfinite(w) & (w > 0), w, 0.0), ps


@dataclass
class AdaptedIntegrand:
    """A process with its VEGAS map adapted (internal state of one generator run)."""

    process: DarkBremProcess
    vmap: vegas.AdaptiveMap
    rng: np.random.Generator

    def sample(self, n: int) -> tuple[NDArray[np.float64], PhaseSpacePoints]:
        """n weighted points: (weight in pb with the map Jacobian, phase-space points)."""
        y = self.rng.random((n, _NDIM))
        x = np.empty_like(y)
        jac = np.empty(n)
        self.vmap.map(y, x, jac)
        w, ps = self.process.weight(x)
        return w * jac, ps


def _adapt(
    process: DarkBremProcess,
    rng: np.random.Generator,
    *,
    n_iterations: int = 10,
    n_per_iteration: int = 20_000,
    ninc: int = 200,
    alpha: float = 1.0,
) -> AdaptedIntegrand:
    vmap = vegas.AdaptiveMap([[0.0, 1.0]] * _NDIM, ninc=ninc)
    integrand = AdaptedIntegrand(process, vmap, rng)
    for _ in range(n_iterations):
        y = rng.random((n_per_iteration, _NDIM))
        x = np.empty_like(y)
        jac = np.empty(n_per_iteration)
        vmap.map(y, x, jac)
        w, _ = process.weight(x)
        f = w * jac
        vmap.add_training_data(y, f * f)
        vmap.adapt(alpha=alpha)
    return integrand


def _validate_coupling(coupling: float) -> float:
    if isinstance(coupling, bool) or not isinstance(
        coupling, int | float | np.floating | np.integer
    ):
        raise TypeError(f"coupling must be a number, got {type(coupling).__name__}")
    c = float(coupling)
    if not math.isfinite(c) or c <= 0:
        raise ValueError(f"coupling must be a finite number > 0, got {coupling}")
    return c


def cross_section(
    model: str | Model,
    mass: float,
    beam_energy: float,
    *,
    lepton: str = "e",
    target: str | Target = "W",
    coupling: float = 1.0,
    seed: int | None = None,
    rtol: float = 0.01,
    max_evaluations: int = 20_000_000,
    inelastic: bool = True,
    method: str = "map",
) -> CrossSection:
    """Total cross section of l N -> l N A' in pb, with its MC uncertainty.

    Parameters
    ----------
    model : str
        km, md, ed, cr or am (paper letters KM M E C A and long names accepted).
    mass : float
        A' mass in GeV.
    beam_energy : float
        Beam energy in GeV (fixed target).
    lepton : str
        ``"e"`` or ``"mu"``.
    target : str
        Target material symbol (W, Pb, Cu, Fe, Al, C).
    coupling : float
        g_f in the model's units (1, GeV^-1, GeV^-2); sigma scales as g_f^2.
    seed : int, optional
        Seed of the random stream (same seed, same result).
    rtol : float
        Target relative MC uncertainty (integration stops when reached).
    max_evaluations : int
        Upper bound on integrand evaluations after adaptation.
    inelastic : bool
        Include the inelastic nuclear form factor.
    method : str
        ``"map"`` (default): the production phase-space map with its adapted VEGAS map and
        plain importance sampling, as used by :func:`generate`.  ``"lab"``: an independent
        cross-check, the A'-first phase-space map integrated by ``vegas.Integrator`` (its
        own adaptation and stratified sampling); slower.

    Returns
    -------
    CrossSection
        ``value_pb`` and ``error_pb`` (pb).
    """
    process = DarkBremProcess.create(
        model, mass, beam_energy, lepton=lepton, target=target, inelastic=inelastic
    )
    c2 = _validate_coupling(coupling) ** 2
    if not (0 < rtol < 1):
        raise ValueError(f"rtol must be in (0, 1), got {rtol}")
    rng = np.random.default_rng(seed)
    if method == "lab":
        return _cross_section_lab(process, rng, rtol, max_evaluations, c2)
    if method != "map":
        raise ValueError(f"unknown method {method!r}; allowed: 'map', 'lab'")
    integ = _adapt(process, rng)
    acc = _Accumulator()
    batch = 100_000
    while acc.n < max_evaluations:
        w, _ = integ.sample(batch)
        acc.add(w)
        if acc.n >= 200_000 and acc.error <= rtol * acc.mean:
            break
    return CrossSection(acc.mean * c2, acc.error * c2, acc.n)


def _cross_section_lab(
    process: DarkBremProcess,
    rng: np.random.Generator,
    rtol: float,
    max_evaluations: int,
    c2: float,
) -> CrossSection:
    """sigma from the independent A'-first map with vegas.Integrator (cross-check path)."""

    @vegas.lbatchintegrand
    def f(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return process.weight(np.asarray(x), "lab")[0]

    neval = 200_000
    integ = vegas.Integrator([[0.0, 1.0]] * _NDIM, ran_array_generator=rng.random)
    integ(f, nitn=8, neval=neval)  # adaptation, discarded
    used = 0
    results = []
    while used < max_evaluations:
        r = integ(f, nitn=5, neval=neval, adapt=False)
        results.append(r)
        used += 5 * neval
        mean = sum(x.mean / x.sdev**2 for x in results) / sum(1 / x.sdev**2 for x in results)
        sdev = sum(1 / x.sdev**2 for x in results) ** -0.5
        if sdev <= rtol * mean:
            break
    return CrossSection(float(mean) * c2, float(sdev) * c2, used)


class _Accumulator:
    """Running mean and standard error of weights (Kahan-free: float64 sums of <1e9 terms)."""

    def __init__(self) -> None:
        self.n = 0
        self.s1 = 0.0
        self.s2 = 0.0

    def add(self, w: NDArray[np.float64]) -> None:
        self.n += w.size
        self.s1 += float(np.sum(w))
        self.s2 += float(np.sum(w * w))

    @property
    def mean(self) -> float:
        return self.s1 / self.n

    @property
    def error(self) -> float:
        var = max(self.s2 / self.n - self.mean**2, 0.0)
        return math.sqrt(var / max(self.n - 1, 1))


@dataclass
class Sample:
    """Generated events with their cross section.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per event, columns :data:`EVENT_COLUMNS` (GeV, lab frame, beam along +z;
        ``weight`` in pb per event, summing to the cross section).
    sigma_pb, sigma_err_pb : float
        Total cross section and MC uncertainty in pb (at the requested coupling).
    unweighting_efficiency : float
        Accepted / tried points in the acceptance-rejection step (1 for weighted samples).
    metadata : dict
        Process, coupling, seed, generator version, efficiency, overweight fraction...
    """

    events: pd.DataFrame
    sigma_pb: float
    sigma_err_pb: float
    unweighting_efficiency: float
    metadata: dict[str, Any]

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.events)

    def to_pandas(self) -> pd.DataFrame:
        """The event table (a pandas DataFrame)."""
        return self.events

    def __len__(self) -> int:
        return len(self.events)


def unweighting_threshold(w: NDArray[np.float64], max_excess: float) -> float:
    """Smallest w_max with sum(max(w - w_max, 0)) <= max_excess * sum(w) (w >= 0, pb).

    Parameters
    ----------
    w : ndarray
        Pilot-sample weights.
    max_excess : float
        Allowed fraction of the summed weight above the threshold, in [0, 1).

    Returns
    -------
    float
        The threshold (the maximum weight for max_excess = 0).
    """
    if not 0.0 <= max_excess < 1.0:
        raise ValueError(f"max_excess must be in [0, 1), got {max_excess}")
    ws = np.sort(np.asarray(w, dtype=float))[::-1]
    total = float(ws.sum())
    if total <= 0:
        raise RuntimeError("all pilot weights vanish: the integrand is zero everywhere")
    if max_excess == 0.0:
        return float(ws[0])
    # excess(thr) = sum_{w_i > thr} (w_i - thr) is piecewise linear and decreasing; with the
    # j largest weights above thr it equals csum[j-1] - j thr.  Solve excess = target on the
    # segment ws[j] <= thr <= ws[j-1].
    target = max_excess * total
    csum = np.cumsum(ws)
    j = np.arange(1, ws.size + 1)
    thr = (csum - target) / j
    lower = np.append(ws[1:], 0.0)
    ok = np.flatnonzero((thr >= lower) & (thr <= ws))
    return float(thr[ok[0]]) if ok.size else float(ws[0])


def _event_block(ps: PhaseSpacePoints, idx: NDArray[np.intp]) -> NDArray[np.float64]:
    out = np.empty((idx.size, len(EVENT_COLUMNS)))
    out[:, 0:4] = ps.p2[idx]
    out[:, 4:8] = ps.k[idx]
    out[:, 8:12] = ps.P2[idx]
    out[:, 12] = np.hypot(ps.p2[idx, 1], ps.p2[idx, 2])
    out[:, 13] = np.hypot(ps.P2[idx, 1], ps.P2[idx, 2])
    out[:, 14] = 0.0
    return out


def generate(
    model: str | Model,
    mass: float,
    beam_energy: float,
    n_events: int,
    *,
    lepton: str = "e",
    target: str | Target = "W",
    coupling: float = 1.0,
    seed: int | None = None,
    weighted: bool = False,
    progress: bool = False,
    inelastic: bool = True,
    n_pilot: int = 200_000,
    batch_size: int = 20_000,
    max_excess: float = 1e-3,
    timings: dict[str, float] | None = None,
) -> Sample:
    """Generate dark-bremsstrahlung events l N -> l N A'.

    Parameters
    ----------
    model : str
        km, md, ed, cr or am.
    mass : float
        A' mass in GeV.
    beam_energy : float
        Beam energy in GeV.
    n_events : int
        Number of events (> 0).
    lepton, target, coupling, inelastic
        As in :func:`cross_section`.
    seed : int, optional
        Seed; the same seed gives bit-identical events.
    weighted : bool
        Return weighted events (no rejection; weights in pb summing to sigma) instead of
        unweighted ones (equal weights sigma/N).
    progress : bool
        Show a tqdm progress bar.
    n_pilot : int
        Points used to find the maximum weight for unweighting.
    batch_size : int
        Points evaluated per vectorised batch.
    max_excess : float
        Unweighting threshold: the smallest w_max whose pilot-sample excess
        sum(max(w - w_max, 0)) is at most this fraction of sum(w).  A point above w_max is kept
        floor(w/w_max) times plus once more with probability frac(w/w_max) (duplicated
        events, counted in ``metadata["overweight_fraction"]``), so the unweighted sample is
        exact for any threshold; a lower threshold only trades efficiency for duplicates.
    timings : dict, optional
        If given, filled with wall-clock seconds of the phases (``adaptation``, ``pilot``,
        ``generation``) for benchmarks; kept out of ``metadata`` so that equal seeds give
        identical metadata.

    Returns
    -------
    Sample
        Events, cross section (pb) with its MC error, unweighting efficiency and metadata.
    """
    process = DarkBremProcess.create(
        model, mass, beam_energy, lepton=lepton, target=target, inelastic=inelastic
    )
    c2 = _validate_coupling(coupling) ** 2
    if isinstance(n_events, bool) or not isinstance(n_events, int | np.integer):
        raise TypeError(f"n_events must be an integer, got {type(n_events).__name__}")
    if n_events <= 0:
        raise ValueError(f"n_events must be a positive integer, got {n_events}")
    rng = np.random.default_rng(seed)
    clock = time.perf_counter()
    integ = _adapt(process, rng)
    t_adapted = time.perf_counter()
    t_pilot = t_adapted
    acc = _Accumulator()
    blocks: list[NDArray[np.float64]] = []
    n_have = 0
    n_over = 0
    max_copies = 1
    over_excess = 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(n_events), unit="ev", desc=f"{process.model.id} {mass:g} GeV")
    if weighted:
        while n_have < n_events:
            n = min(batch_size, n_events - n_have)
            w, ps = integ.sample(n)
            acc.add(w)
            blk = _event_block(ps, np.arange(n))
            blk[:, 14] = w
            blocks.append(blk)
            n_have += n
            if bar is not None:
                bar.update(n)
        efficiency = 1.0
        n_tried = n_have
    else:
        pilot = []
        for start in range(0, n_pilot, batch_size):
            w_b, _ = integ.sample(min(batch_size, n_pilot - start))
            acc.add(w_b)
            pilot.append(w_b)
        w_max = unweighting_threshold(np.concatenate(pilot), max_excess)
        t_pilot = time.perf_counter()
        n_tried = 0
        n_accepted = 0
        max_copies = 0
        while n_have < n_events:
            w, ps = integ.sample(batch_size)
            acc.add(w)
            n_tried += w.size
            # keep each point floor(w/w_max) + Bernoulli(frac) times: unbiased for any w_max
            ratio = w / w_max
            copies = np.floor(ratio).astype(np.int64)
            copies += rng.random(w.size) < (ratio - copies)
            n_over += int(np.count_nonzero(copies > 1))
            max_copies = max(max_copies, int(copies.max(initial=0)))
            over_excess += float(np.sum(w[ratio > 1] - w_max))
            n_accepted += int(np.sum(copies))
            idx = np.repeat(np.arange(w.size), copies)[: n_events - n_have]
            if idx.size:
                blocks.append(_event_block(ps, idx))
                n_have += idx.size
                if bar is not None:
                    bar.update(idx.size)
        efficiency = n_accepted / n_tried
    if bar is not None:
        bar.close()
    if timings is not None:
        timings.update(
            adaptation=t_adapted - clock,
            pilot=t_pilot - t_adapted,
            generation=time.perf_counter() - t_pilot,
        )
    sigma, err = acc.mean * c2, acc.error * c2
    data = np.concatenate(blocks)[:n_events]
    if weighted:
        data[:, 14] *= c2 / n_events
    else:
        data[:, 14] = sigma / n_events
    events = pd.DataFrame(data, columns=list(EVENT_COLUMNS))
    metadata: dict[str, Any] = {
        "model": process.model.id,
        "mass": process.mass,
        "beam_energy": process.beam_energy,
        "lepton": process.lepton,
        "lepton_mass": process.lepton_mass,
        "target": process.target.symbol,
        "Z": process.target.Z,
        "A": process.target.A,
        "nuclear_mass": process.target.nuclear_mass,
        "coupling": float(coupling),
        "coupling_unit": process.model.coupling_unit,
        "sigma_pb": sigma,
        "sigma_err_pb": err,
        "n_events": int(n_events),
        "n_evaluations": acc.n,
        "seed": seed,
        "weighted": bool(weighted),
        "inelastic": process.inelastic,
        "unweighting_efficiency": efficiency,
        "overweight_fraction": (n_over / n_events) if not weighted else 0.0,
        "max_copies": max_copies,
        "overweight_sigma_fraction": (over_excess / acc.s1) if acc.s1 and not weighted else 0.0,
        "generator": "darkmoments",
        "generator_version": __version__,
    }
    return Sample(events, sigma, err, efficiency, metadata)
