"""Exact tree-level dark-bremsstrahlung generator: cross sections and events.

l(p1) N(P1) -> l(p2) N(P2) A'(k) with the full 2 -> 3 kinematics (recoiling nucleus), the
exact spin-summed |M|^2 for the five vertices (by default the generated closed forms of
:mod:`darkmoments.physics.fast_amplitudes`; ``amplitude="trace"`` uses the numerical Dirac
trace of :mod:`darkmoments.physics.amplitudes`, the reference, equal to round-off), the
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
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import vegas
from numpy.typing import NDArray

from ._version import __version__
from .constants import GEV2_TO_PB, M_E, M_MU
from .errors import InputError, InputTypeError
from .events_schema import (
    BYTES_PER_EVENT,
    DARK_PHOTON_P4,
    EVENT_COLUMNS,
    LEPTON_P4,
    LEPTON_PT,
    NUCLEUS_P4,
    NUCLEUS_PT,
    WEIGHT,
)
from .models import Model, check_coupling, get_model
from .physics import fast_amplitudes
from .physics.amplitudes import squared_amplitude
from .physics.form_factors import G2
from .physics.kinematics import PhaseSpacePoints, map_phase_space, map_phase_space_lab
from .targets import Target, get_target
from .validation import check_choice, check_int, check_real, is_real

__all__ = [
    "BYTES_PER_EVENT",
    "EVENT_COLUMNS",
    "CrossSection",
    "DarkBremProcess",
    "GenerationResult",
    "PrecisionWarning",
    "Sample",
    "cross_section",
    "generate",
    "generate_blocks",
    "lepton_mass",
    "unweighting_threshold",
]

#: Spin-sum implementations of :class:`DarkBremProcess` (``amplitude=``).
AMPLITUDES = ("closed", "trace")
_LEPTONS = {"e": "e", "e-": "e", "electron": "e", "mu": "mu", "mu-": "mu", "muon": "mu"}
_NDIM = 5


def lepton_mass(lepton: str) -> float:
    """Mass in GeV of the beam lepton ``"e"`` or ``"mu"`` (aliases e-, electron, mu-, muon).

    Examples
    --------
    >>> from darkmoments.generator import lepton_mass
    >>> lepton_mass("e"), lepton_mass("muon")
    (0.00051099895, 0.1056583755)
    """
    return M_E if _canonical_lepton(lepton) == "e" else M_MU


def _canonical_lepton(lepton: str) -> str:
    if not isinstance(lepton, str) or lepton.strip().lower() not in _LEPTONS:
        raise InputError(f"unknown lepton {lepton!r}; allowed: 'e' (electron) or 'mu' (muon)")
    return _LEPTONS[lepton.strip().lower()]


class PrecisionWarning(UserWarning):
    """A Monte Carlo integration stopped before reaching the requested precision.

    Raised (as a warning) by :func:`cross_section` when ``max_evaluations`` is exhausted before
    the relative error reaches ``rtol``; the result then has ``converged == False``.

    Examples
    --------
    >>> import warnings
    >>> from darkmoments.generator import PrecisionWarning, cross_section
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", PrecisionWarning)
    ...     xs = cross_section("km", 0.1, 8.0, seed=1, rtol=1e-4, max_evaluations=20_000)
    ...
    >>> xs.converged, caught[0].category.__name__
    (False, 'PrecisionWarning')
    """


@dataclass(frozen=True)
class CrossSection:
    """A Monte Carlo cross section.

    Attributes
    ----------
    value_pb, error_pb : float
        Cross section and its MC (one standard deviation) uncertainty in pb.
    n_evaluations : int
        Integrand evaluations used for the estimate.
    converged : bool
        Whether the requested relative uncertainty ``rtol`` was reached (False: the
        evaluation budget ran out first and a :class:`PrecisionWarning` was issued).
    rtol : float or None
        The requested relative uncertainty (``rel_error`` is the one achieved).

    Examples
    --------
    >>> from darkmoments.generator import CrossSection
    >>> xs = CrossSection(value_pb=3.3e9, error_pb=3.3e7)
    >>> xs.rel_error
    0.01
    >>> sigma, err = xs
    """

    value_pb: float
    error_pb: float
    n_evaluations: int = 0
    converged: bool = True
    rtol: float | None = None

    def __iter__(self) -> Iterator[float]:  # allows ``sigma, err = cross_section(...)``
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
    amplitude : str
        ``"closed"`` (default): the generated closed-form spin sums of
        :mod:`darkmoments.physics.fast_amplitudes`; ``"trace"``: the numerical Dirac trace of
        :mod:`darkmoments.physics.amplitudes` (the reference, about 10x slower).  Equal to
        round-off (tested).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.generator import DarkBremProcess
    >>> proc = DarkBremProcess.create("km", 0.1, 8.0, target="W")
    >>> (proc.model.id, proc.mass, proc.beam_energy, proc.target.symbol)
    ('km', 0.1, 8.0, 'W')
    >>> u = np.random.default_rng(1).random((1000, 5))
    >>> w, points = proc.weight(u)  # pb at g_f = 1; the mean is sigma
    >>> w.shape, bool(np.all(w >= 0))
    ((1000,), True)
    """

    model: Model
    mass: float
    beam_energy: float
    lepton: str = "e"
    target: Target = field(default_factory=lambda: get_target("W"))
    inelastic: bool = True
    amplitude: str = "closed"

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
        amplitude: str = "closed",
    ) -> DarkBremProcess:
        """Validate the inputs and build the process (raises ValueError/TypeError)."""
        m = get_model(model)
        amplitude = check_choice("amplitude", amplitude, AMPLITUDES)
        tgt = get_target(target)
        lep = _canonical_lepton(lepton)
        for name, val in (("beam_energy", beam_energy), ("mass", mass)):
            if not is_real(val):
                raise InputTypeError(f"{name} must be a number in GeV, got {type(val).__name__}")
        beam_energy, mass = float(beam_energy), float(mass)
        ml = lepton_mass(lep)
        if not math.isfinite(beam_energy) or beam_energy <= ml:
            raise InputError(
                f"beam_energy must be a finite energy above the lepton mass {ml:.6g} GeV, "
                f"got {beam_energy} GeV"
            )
        M = tgt.nuclear_mass
        s = ml**2 + M**2 + 2.0 * beam_energy * M
        m_max = math.sqrt(s) - M - ml
        if not math.isfinite(mass) or mass <= 0 or mass >= m_max:
            raise InputError(
                f"A' mass must be in (0, {m_max:.6g}) GeV (kinematic threshold for a "
                f"{beam_energy} GeV {lep} beam on {tgt.symbol}), got {mass} GeV"
            )
        return cls(m, mass, beam_energy, lep, tgt, bool(inelastic), amplitude)

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
        raise InputError(f"unknown phase-space mapping {mapping!r}; allowed: 'x-frame', 'lab'")

    def weight(
        self, u: NDArray[np.float64], mapping: str = "x-frame"
    ) -> tuple[NDArray[np.float64], PhaseSpacePoints]:
        """d sigma / d^5u in pb at unit coupling, and the phase-space points.

        The mean of the returned weights over uniform ``u`` is the total cross section in pb
        (g_f = 1 in the model's units), for either ``mapping``.
        """
        ps = self.phase_space(u, mapping)
        g2 = G2(ps.t, self.target.Z, self.target.A, inelastic=self.inelastic)
        if self.amplitude == "trace":
            msq = squared_amplitude(
                self.model,
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
        else:
            msq = fast_amplitudes.squared_amplitude(
                self.model.id,
                ps.p1,
                ps.p2,
                ps.P1,
                ps.t,
                ps.w,
                ps.d1,
                g2,
                self.lepton_mass,
                self.mass,
                self.target.nuclear_mass**2,
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


def _validate_seed(seed: int | None) -> int | None:
    """``None`` (fresh entropy) or an integer >= 0 (numpy refuses negative seeds)."""
    return None if seed is None else check_int("seed", seed, lo=0)


def _progress_bar(requested: bool, **kwargs: Any) -> Any:
    """A tqdm bar on stderr, or None.  ``delay`` keeps short runs silent."""
    if not requested:
        return None
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(**kwargs)


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
    progress: bool = False,
    amplitude: str = "closed",
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
        Seed (an integer >= 0) of the random stream (same seed, same result).
    rtol : float
        Target relative MC uncertainty, in (0, 1) (integration stops when reached).
    max_evaluations : int
        Upper bound (>= 1000) on integrand evaluations after adaptation; ``method="lab"``
        evaluates in blocks of 1e6 (rounded up).  If it runs out before ``rtol`` is reached,
        a :class:`PrecisionWarning` is issued and the result has ``converged == False``.
    inelastic : bool
        Include the inelastic nuclear form factor.
    method : str
        ``"map"`` (default): the production phase-space map with its adapted VEGAS map and
        plain importance sampling, as used by :func:`generate`.  ``"lab"``: an independent
        cross-check, the A'-first phase-space map integrated by ``vegas.Integrator`` (its
        own adaptation and stratified sampling); slower.
    progress : bool
        Show a tqdm bar on stderr (evaluations and the current relative error) when the
        integration takes more than a second.
    amplitude : str
        ``"closed"`` (default, the generated closed-form spin sums) or ``"trace"`` (the
        numerical Dirac-trace reference); see :class:`DarkBremProcess`.

    Returns
    -------
    CrossSection
        ``value_pb`` and ``error_pb`` (pb), ``n_evaluations``, ``converged`` and the
        requested ``rtol``.

    Raises
    ------
    InputError, InputTypeError
        A value out of range or of the wrong type (the message names it).

    Warns
    -----
    PrecisionWarning
        ``max_evaluations`` was exhausted before the relative error reached ``rtol``.

    Examples
    --------
    >>> import darkmoments as dm
    >>> xs = dm.cross_section("km", 0.1, 8.0, seed=1, rtol=0.05)
    >>> print(f"{xs.value_pb:.1e} pb", xs.rel_error < 0.05, xs.converged)
    3.3e+09 pb True True
    >>> md = dm.cross_section("md", 0.1, 8.0, coupling=1e-6, seed=1, rtol=0.05)
    >>> print(f"{md.value_pb:.1e} pb")
    3.2e-05 pb
    """
    process = DarkBremProcess.create(
        model,
        mass,
        beam_energy,
        lepton=lepton,
        target=target,
        inelastic=inelastic,
        amplitude=amplitude,
    )
    c2 = check_coupling(coupling) ** 2
    rtol = check_real("rtol", rtol, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    max_evaluations = check_int("max_evaluations", max_evaluations, lo=1000)
    seed = _validate_seed(seed)
    if method not in ("map", "lab"):
        raise InputError(f"unknown method {method!r}; allowed: 'map', 'lab'")
    rng = np.random.default_rng(seed)
    bar = _progress_bar(
        progress,
        total=max_evaluations,
        unit="eval",
        unit_scale=True,
        delay=1.0,
        leave=False,
        desc=f"sigma {process.model.id} {process.mass:g} GeV",
    )
    integrate = _cross_section_lab if method == "lab" else _cross_section_map
    try:
        value, error, n = integrate(process, rng, rtol, max_evaluations, bar)
    finally:
        if bar is not None:
            bar.close()
    converged = bool(error <= rtol * value)
    if not converged:
        _warn_precision(process, value, error, n, rtol)
    return CrossSection(value * c2, error * c2, n, converged, rtol)


def _warn_precision(
    process: DarkBremProcess, value: float, error: float, n: int, rtol: float
) -> None:
    """Issue the :class:`PrecisionWarning` of :func:`cross_section` (at its caller)."""
    achieved = error / value if value else math.inf
    warnings.warn(
        f"cross section of {process.model.id} at m_A' = {process.mass:g} GeV: relative "
        f"error {achieved:.3g} after max_evaluations = {n} evaluations, not the requested "
        f"rtol = {rtol:g} (raise max_evaluations or rtol)",
        PrecisionWarning,
        stacklevel=3,
    )


#: Points per vectorised batch of the production-map integration (sets its peak memory).
_XS_BATCH = 100_000
#: Fewest points after adaptation before the rtol test may stop the production-map
#: integration, so that the error estimate never rests on a small sample.
_XS_MIN_POINTS = 200_000


def _cross_section_map(
    process: DarkBremProcess,
    rng: np.random.Generator,
    rtol: float,
    max_evaluations: int,
    bar: Any = None,
) -> tuple[float, float, int]:
    """sigma from the production map: adapted VEGAS map, plain importance sampling.

    Returns (value, error, evaluations) at unit coupling, the mean weight over every point.
    """
    integ = _adapt(process, rng)
    acc = _Accumulator()
    while acc.n < max_evaluations:
        w, _ = integ.sample(min(_XS_BATCH, max_evaluations - acc.n))
        acc.add(w)
        if bar is not None:
            bar.update(w.size)
            bar.set_postfix_str(f"rel. error {acc.error / acc.mean:.2e}", refresh=False)
        if acc.n >= _XS_MIN_POINTS and acc.error <= rtol * acc.mean:
            break
    return acc.mean, acc.error, acc.n


def _cross_section_lab(
    process: DarkBremProcess,
    rng: np.random.Generator,
    rtol: float,
    max_evaluations: int,
    bar: Any = None,
) -> tuple[float, float, int]:
    """sigma from the independent A'-first map with vegas.Integrator (cross-check path).

    Returns (value, error, evaluations) at unit coupling.
    """

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
        if bar is not None:
            bar.update(5 * neval)
        if sdev <= rtol * mean:
            break
    return float(mean), float(sdev), used


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

    Examples
    --------
    >>> import darkmoments as dm
    >>> sample = dm.generate("md", 0.1, 8.0, 1000, seed=1, coupling=1e-6, n_pilot=20_000)
    >>> len(sample), sample.events.columns[:4].tolist()
    (1000, ['lepton_E', 'lepton_px', 'lepton_py', 'lepton_pz'])
    >>> bool(abs(sample.events["weight"].sum() / sample.sigma_pb - 1) < 1e-9)
    True
    >>> h = sample.to_hist()
    >>> [ax.name for ax in h.axes]
    ['lepton_E', 'lepton_pt']
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

    def to_hist(self, columns: Any = ("lepton_E", "lepton_pt"), **kwargs: Any) -> Any:
        """A ``hist.Hist`` of one or two columns (default recoil E and p_T, GeV; pb per bin).

        See :func:`darkmoments.io.hep.events_to_hist` (``bins``, ``weighted``).
        """
        from .io.hep import events_to_hist

        return events_to_hist(self.events, columns, **kwargs)

    def to_awkward(self) -> Any:
        """Awkward array of ``vector`` Momentum4D ``lepton``, ``nucleus``, ``dark_photon``.

        See :func:`darkmoments.io.hep.events_to_awkward` (extra ``awkward``).
        """
        from .io.hep import events_to_awkward

        return events_to_awkward(self.events)

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

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.generator import unweighting_threshold
    >>> w = np.array([1.0, 1.0, 2.0, 10.0])
    >>> float(unweighting_threshold(w, 0.0))
    10.0
    >>> float(unweighting_threshold(w, 0.5))
    3.0
    """
    max_excess = check_real("max_excess", max_excess, lo=0.0, hi=1.0, hi_open=True)
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
    """Rows ``idx`` of the phase-space points as an event block (weight column zero)."""
    out = np.empty((idx.size, len(EVENT_COLUMNS)))
    out[:, LEPTON_P4] = ps.p2[idx]
    out[:, DARK_PHOTON_P4] = ps.k[idx]
    out[:, NUCLEUS_P4] = ps.P2[idx]
    out[:, LEPTON_PT] = np.hypot(ps.p2[idx, 1], ps.p2[idx, 2])
    out[:, NUCLEUS_PT] = np.hypot(ps.P2[idx, 1], ps.P2[idx, 2])
    out[:, WEIGHT] = 0.0
    return out


def _check_n_events(n_events: Any) -> int:
    n = check_int("n_events", n_events)
    if n <= 0:
        raise InputError(f"n_events must be a positive integer, got {n}")
    return n


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover


#: In-memory samples hold the event table about twice (array and DataFrame) at worst.
_MEMORY_COPIES = 2


def _check_memory(n_events: int) -> None:
    need = n_events * BYTES_PER_EVENT * _MEMORY_COPIES
    avail = available_memory()
    if avail is not None and need > avail:
        raise InputError(
            f"n_events = {n_events} needs about {_fmt_bytes(need)} of memory for the event "
            f"table ({BYTES_PER_EVENT} bytes per event, up to {_MEMORY_COPIES} copies); only "
            f"{_fmt_bytes(avail)} is available.  Stream the events to a file instead: "
            "darkmoments.io.events.generate_to_file or `darkmoments generate`"
        )


@dataclass(frozen=True)
class GenerationResult:
    """Cross section, efficiency and metadata of a run of :func:`generate_blocks`.

    Attributes
    ----------
    sigma_pb, sigma_err_pb : float
        Total cross section and MC uncertainty in pb (at the requested coupling).
    unweighting_efficiency : float
        Accepted / tried points (1 for weighted samples).
    metadata : dict
        As :attr:`Sample.metadata`.
    weighted : bool
        Whether the blocks hold weighted events.
    n_events : int
        Events delivered to the sink.

    Examples
    --------
    >>> from darkmoments.generator import generate_blocks
    >>> blocks = []
    >>> res = generate_blocks("km", 0.1, 8.0, 500, sink=blocks.append, seed=1, n_pilot=20_000)
    >>> events = [res.finalise_weights(b) for b in blocks]
    >>> res.n_events, sum(len(b) for b in events)
    (500, 500)
    """

    sigma_pb: float
    sigma_err_pb: float
    unweighting_efficiency: float
    metadata: dict[str, Any]
    weighted: bool
    n_events: int
    _weight_scale: float

    def final_weight(self, raw: Any) -> Any:
        """Event weight(s) in pb from the provisional ``weight`` value(s) of the blocks.

        Weighted events: the point weight x coupling^2 / n_events (summing to sigma);
        unweighted events: sigma / n_events whatever ``raw`` is.
        """
        if self.weighted:
            return raw * self._weight_scale
        return np.zeros_like(raw) + self._weight_scale if np.ndim(raw) else self._weight_scale

    def finalise_weights(self, block: NDArray[np.float64]) -> NDArray[np.float64]:
        """Set the ``weight`` column of blocks from the sink to pb per event (in place).

        See :meth:`final_weight`.  Returns ``block``.
        """
        if self.weighted:
            block[:, WEIGHT] *= self._weight_scale
        else:
            block[:, WEIGHT] = self._weight_scale
        return block


def generate_blocks(
    model: str | Model,
    mass: float,
    beam_energy: float,
    n_events: int,
    *,
    sink: Callable[[NDArray[np.float64]], None],
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
    amplitude: str = "closed",
) -> GenerationResult:
    """Generate events block by block into ``sink``: the streaming core of :func:`generate`.

    Memory does not grow with ``n_events``: each block (at most ``batch_size`` rows, float64,
    columns :data:`EVENT_COLUMNS`) is handed to ``sink`` and not kept.  The ``weight`` column
    of a block is provisional (the cross section is only known at the end): pass every block
    through :meth:`GenerationResult.finalise_weights` of the returned result.  The events, their
    order and the random stream are those of :func:`generate` with the same arguments.

    Parameters
    ----------
    sink : callable
        Called with each block, an ``(n, len(EVENT_COLUMNS))`` float64 array the sink may keep
        (it is not reused).  The blocks hold exactly ``n_events`` rows in total.
    model, mass, beam_energy, n_events, lepton, target, coupling, seed, weighted, progress, \
inelastic, n_pilot, batch_size, max_excess, timings, amplitude
        As in :func:`generate`.

    Returns
    -------
    GenerationResult

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.generator import EVENT_COLUMNS, generate_blocks
    >>> total = np.zeros(len(EVENT_COLUMNS))
    >>> def sink(block):
    ...     total[:] += block.sum(axis=0)
    ...
    >>> res = generate_blocks("cr", 0.05, 4.0, 1000, sink=sink, seed=2, n_pilot=20_000)
    >>> res.n_events, res.weighted
    (1000, False)
    """
    run = _GenerationRun.create(
        model,
        mass,
        beam_energy,
        n_events,
        lepton=lepton,
        target=target,
        coupling=coupling,
        seed=seed,
        weighted=weighted,
        n_pilot=n_pilot,
        batch_size=batch_size,
        max_excess=max_excess,
        inelastic=inelastic,
        amplitude=amplitude,
    )
    if not callable(sink):
        raise InputTypeError(f"sink must be callable, got {type(sink).__name__}")
    rng = np.random.default_rng(run.seed)
    clock = _Clock()
    integ = _adapt(run.process, rng)
    clock.lap("adaptation")
    acc = _Accumulator()
    bar = _progress_bar(
        progress, total=run.n_events, unit="ev", desc=f"{run.process.model.id} {mass:g} GeV"
    )
    try:
        if run.weighted:
            stats = _sample_weighted(integ, acc, run, sink, bar)
        else:
            w_max = _pilot_threshold(integ, acc, run)
            clock.lap("pilot")
            stats = _sample_unweighted(integ, acc, w_max, run, sink, bar)
    finally:
        if bar is not None:
            bar.close()
    clock.lap("generation")
    if timings is not None:
        timings.update(clock.laps)
    return _generation_result(run, acc, stats)


class _Clock:
    """Wall-clock and process CPU seconds of consecutive phases (for ``timings``).

    ``laps`` has ``<phase>`` (wall) and ``<phase>_cpu`` (CPU time of this process, the
    per-core cost when the machine is shared) for adaptation, pilot (0 for weighted runs)
    and generation.
    """

    def __init__(self) -> None:
        self.laps: dict[str, float] = {"pilot": 0.0, "pilot_cpu": 0.0}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps[phase], self.laps[f"{phase}_cpu"] = wall - self._wall, cpu - self._cpu
        self._wall, self._cpu = wall, cpu


@dataclass(frozen=True)
class _GenerationRun:
    """The validated inputs of one :func:`generate_blocks` run."""

    process: DarkBremProcess
    coupling: float
    n_events: int
    seed: int | None
    weighted: bool
    n_pilot: int
    batch_size: int
    max_excess: float

    @classmethod
    def create(
        cls,
        model: str | Model,
        mass: float,
        beam_energy: float,
        n_events: int,
        *,
        lepton: str,
        target: str | Target,
        coupling: float,
        seed: int | None,
        weighted: bool,
        n_pilot: int,
        batch_size: int,
        max_excess: float,
        inelastic: bool = True,
        amplitude: str = "closed",
    ) -> _GenerationRun:
        """Validate everything (raises InputError/InputTypeError naming the value)."""
        process = DarkBremProcess.create(
            model,
            mass,
            beam_energy,
            lepton=lepton,
            target=target,
            inelastic=inelastic,
            amplitude=amplitude,
        )
        return cls(
            process,
            check_coupling(coupling),
            _check_n_events(n_events),
            _validate_seed(seed),
            bool(weighted),
            check_int("n_pilot", n_pilot, lo=1000, hi=100_000_000),
            check_int("batch_size", batch_size, lo=100, hi=10_000_000),
            check_real("max_excess", max_excess, lo=0.0, hi=1.0, hi_open=True),
        )


@dataclass
class _Unweighting:
    """Counters of the acceptance-rejection step (all zero for a weighted sample)."""

    n_tried: int = 0
    n_accepted: int = 0
    n_over: int = 0
    max_copies: int = 0
    over_excess: float = 0.0

    def keep(
        self, w: NDArray[np.float64], w_max: float, rng: np.random.Generator
    ) -> NDArray[np.int64]:
        """Copies kept of each point: floor(w/w_max) + Bernoulli(frac), unbiased for any w_max.

        Draws ``w.size`` uniform numbers from ``rng`` and counts the batch.
        """
        ratio = w / w_max
        copies = np.floor(ratio).astype(np.int64)
        copies += rng.random(w.size) < (ratio - copies)
        self.n_tried += w.size
        self.n_over += int(np.count_nonzero(copies > 1))
        self.max_copies = max(self.max_copies, int(copies.max(initial=0)))
        self.over_excess += float(np.sum(w[ratio > 1] - w_max))
        self.n_accepted += int(np.sum(copies))
        return copies


def _sample_weighted(
    integ: AdaptedIntegrand,
    acc: _Accumulator,
    run: _GenerationRun,
    sink: Callable[[NDArray[np.float64]], None],
    bar: Any,
) -> _Unweighting | None:
    """Weighted events: every point, its weight (pb at unit coupling) in the weight column."""
    n_have = 0
    while n_have < run.n_events:
        n = min(run.batch_size, run.n_events - n_have)
        w, ps = integ.sample(n)
        acc.add(w)
        blk = _event_block(ps, np.arange(n))
        blk[:, WEIGHT] = w
        sink(blk)
        n_have += n
        if bar is not None:
            bar.update(n)
    return None


def _pilot_threshold(integ: AdaptedIntegrand, acc: _Accumulator, run: _GenerationRun) -> float:
    """Unweighting threshold w_max (pb) from ``run.n_pilot`` points (they count in sigma)."""
    pilot = []
    for start in range(0, run.n_pilot, run.batch_size):
        w_b, _ = integ.sample(min(run.batch_size, run.n_pilot - start))
        acc.add(w_b)
        pilot.append(w_b)
    return unweighting_threshold(np.concatenate(pilot), run.max_excess)


def _sample_unweighted(
    integ: AdaptedIntegrand,
    acc: _Accumulator,
    w_max: float,
    run: _GenerationRun,
    sink: Callable[[NDArray[np.float64]], None],
    bar: Any,
) -> _Unweighting:
    """Unweighted events by acceptance-rejection against ``w_max`` until n_events are kept."""
    stats = _Unweighting()
    n_have = 0
    while n_have < run.n_events:
        w, ps = integ.sample(run.batch_size)
        acc.add(w)
        copies = stats.keep(w, w_max, integ.rng)
        idx = np.repeat(np.arange(w.size), copies)[: run.n_events - n_have]
        if idx.size:
            sink(_event_block(ps, idx))
            n_have += idx.size
            if bar is not None:
                bar.update(idx.size)
    return stats


def _generation_result(
    run: _GenerationRun, acc: _Accumulator, stats: _Unweighting | None
) -> GenerationResult:
    """Cross section at the requested coupling, efficiency, metadata and the weight scale."""
    c2 = run.coupling**2
    sigma, err = acc.mean * c2, acc.error * c2
    efficiency = 1.0 if stats is None else stats.n_accepted / stats.n_tried
    metadata = _metadata(run, acc, sigma, err, efficiency, stats)
    scale = c2 / run.n_events if run.weighted else sigma / run.n_events
    return GenerationResult(sigma, err, efficiency, metadata, run.weighted, run.n_events, scale)


def _metadata(
    run: _GenerationRun,
    acc: _Accumulator,
    sigma: float,
    err: float,
    efficiency: float,
    stats: _Unweighting | None,
) -> dict[str, Any]:
    """The metadata dict of a sample (key order fixed: it is written to the files)."""
    process = run.process
    return {
        "model": process.model.id,
        "mass": process.mass,
        "beam_energy": process.beam_energy,
        "lepton": process.lepton,
        "lepton_mass": process.lepton_mass,
        "target": process.target.symbol,
        "Z": process.target.Z,
        "A": process.target.A,
        "nuclear_mass": process.target.nuclear_mass,
        "coupling": run.coupling,
        "coupling_unit": process.model.coupling_unit,
        "sigma_pb": sigma,
        "sigma_err_pb": err,
        "n_events": run.n_events,
        "n_evaluations": acc.n,
        "seed": run.seed,
        "weighted": run.weighted,
        "inelastic": process.inelastic,
        "unweighting_efficiency": efficiency,
        "overweight_fraction": 0.0 if stats is None else stats.n_over / run.n_events,
        "max_copies": 1 if stats is None else stats.max_copies,
        "overweight_sigma_fraction": (
            stats.over_excess / acc.s1 if stats is not None and acc.s1 else 0.0
        ),
        "generator": "darkmoments",
        "generator_version": __version__,
    }


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
    amplitude: str = "closed",
) -> Sample:
    """Generate dark-bremsstrahlung events l N -> l N A' (in memory).

    The whole event table is held in memory (``BYTES_PER_EVENT`` = 120 bytes per event); a
    request that does not fit in the available memory is refused up front.  For large samples
    stream them to a file with :func:`darkmoments.io.events.generate_to_file` (or
    ``darkmoments generate``), whose memory does not grow with ``n_events``.

    Parameters
    ----------
    model : str
        km, md, ed, cr or am.
    mass : float
        A' mass in GeV.
    beam_energy : float
        Beam energy in GeV.
    n_events : int
        Number of events (an integer > 0).
    lepton, target, coupling, inelastic
        As in :func:`cross_section`.
    seed : int, optional
        Seed (integer >= 0); the same seed gives bit-identical events.
    weighted : bool
        Return weighted events (no rejection; weights in pb summing to sigma) instead of
        unweighted ones (equal weights sigma/N).
    progress : bool
        Show a tqdm progress bar (stderr).
    n_pilot : int
        Points used to find the maximum weight for unweighting (1000 to 1e8).
    batch_size : int
        Points evaluated per vectorised batch (100 to 1e7; memory grows with it).
    max_excess : float
        Unweighting threshold, in [0, 1): the smallest w_max whose pilot-sample excess
        sum(max(w - w_max, 0)) is at most this fraction of sum(w).  A point above w_max is kept
        floor(w/w_max) times plus once more with probability frac(w/w_max) (duplicated
        events, counted in ``metadata["overweight_fraction"]``), so the unweighted sample is
        exact for any threshold; a lower threshold only trades efficiency for duplicates.
    timings : dict, optional
        If given, filled with wall-clock seconds of the phases (``adaptation``, ``pilot``,
        ``generation``) and their process CPU seconds (``adaptation_cpu``, ...) for
        benchmarks; kept out of ``metadata`` so that equal seeds give identical metadata.
    amplitude : str
        ``"closed"`` (default: the generated closed-form spin sums) or ``"trace"`` (the
        numerical Dirac-trace reference, about 10x slower); equal to round-off.

    Returns
    -------
    Sample
        Events, cross section (pb) with its MC error, unweighting efficiency and metadata.

    Raises
    ------
    InputError, InputTypeError
        A value out of range or of the wrong type, or a sample too large for the memory.

    Examples
    --------
    >>> import darkmoments as dm
    >>> sample = dm.generate("km", 0.1, 8.0, 2000, seed=1, n_pilot=20_000)
    >>> df = sample.to_pandas()
    >>> len(df), bool((df["lepton_E"] < 8.0).all())
    (2000, True)
    >>> bool(0 < sample.unweighting_efficiency <= 1)
    True
    """
    # validate everything (cheap) before allocating the table
    DarkBremProcess.create(
        model, mass, beam_energy, lepton=lepton, target=target, amplitude=amplitude
    )
    check_coupling(coupling)
    n = _check_n_events(n_events)
    _check_memory(n)
    data = np.empty((n, len(EVENT_COLUMNS)))
    filled = 0

    def sink(block: NDArray[np.float64]) -> None:
        nonlocal filled
        data[filled : filled + block.shape[0]] = block
        filled += block.shape[0]

    res = generate_blocks(
        model,
        mass,
        beam_energy,
        n,
        sink=sink,
        lepton=lepton,
        target=target,
        coupling=coupling,
        seed=seed,
        weighted=weighted,
        progress=progress,
        inelastic=inelastic,
        n_pilot=n_pilot,
        batch_size=batch_size,
        max_excess=max_excess,
        timings=timings,
        amplitude=amplitude,
    )
    res.finalise_weights(data)
    events = pd.DataFrame(data, columns=list(EVENT_COLUMNS), copy=False)
    return Sample(events, res.sigma_pb, res.sigma_err_pb, res.unweighting_efficiency, res.metadata)
