"""Detector-level events: the generator at sigma-weighted incident energies, then the detector.

Between :mod:`darkmoments.generator` and :mod:`darkmoments.templates` in the layering (it
imports the generator, the pure :mod:`darkmoments.detector` kernels and
:mod:`darkmoments.experiments`; the templates import it).

:func:`generate_detector` makes unweighted detector-level events for one (model, mass,
experiment):

1. **Incident energy with the cross-section weight** (docs/detector.md section 2.3).  Every
   trial point draws an interaction (depth d, incident energy E_inc, face energy E_f) from
   the *unweighted* straggling law (:func:`~darkmoments.detector.sample_incident_energy`
   with ``sigma=None``; E_inc < E_min dropped and counted), and is evaluated by the exact
   generator weight of the process at the node E_k of a log grid of incident energies
   nearest to E_inc (``E_k = E0 exp(-k step)``, k = -1, 0, 1, ...; the default step 0.04
   puts every E_inc within 2 % of its node, below the 5 % tracker resolution and the 2.5 %
   E bins).  The mean weight of a trial is then <sigma> (the depth- and straggling-averaged
   cross section, with E_min), and acceptance-rejection of *all* trials against one common
   threshold keeps events with density f(E_inc) sigma(E_inc) p(event | E_inc): the events
   and the yield both follow sigma(E_inc), with no separate sigma table.
2. **One adaptation reused**: the VEGAS map is adapted once at E0 (the settings of the
   generator's own adaptation) and used at every node; the weights stay exact (unbiased),
   only their spread changes.  The unweighting threshold comes from a pilot over the
   mixture (:func:`darkmoments.generator.unweighting_threshold`), kept floor(w/w_max) +
   Bernoulli times as in the generator (exact for any threshold).
3. **Detector**: :func:`~darkmoments.detector.apply_detector` with the sampled depths, face
   energies (tagger) and incident energies.

With the incident-lepton effects switched off (``incident_straggling = false``: every
lepton interacts at E0) the truth events are those of :func:`darkmoments.generator.generate`
with the same seed, so an all-off configuration reproduces the truth level exactly.

Random streams: the generator part uses ``numpy.random.default_rng(seed)``, the detector
``numpy.random.default_rng([seed, DETECTOR_STREAM])``; the same seed gives the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import vegas
from numpy.typing import NDArray

from ._version import __version__
from .detector import DetectorConfig, apply_detector, sample_depth, sample_incident_energy
from .errors import InputError, InputTypeError
from .events_schema import EVENT_COLUMNS
from .experiments import ExperimentLike, get_experiment
from .generator import DarkBremProcess, generate, lepton_mass, unweighting_threshold
from .models import check_coupling, get_model
from .validation import check_int, check_real

__all__ = [
    "DEFAULT_ENERGY_STEP",
    "DETECTOR_EVENT_COLUMNS",
    "DETECTOR_STREAM",
    "DetectorSample",
    "generate_detector",
    "incident_energy_nodes",
]

#: Step of the incident-energy node grid in ln E (every E_inc within step/2 = 2 % of a node).
DEFAULT_ENERGY_STEP: float = 0.04
#: Second word of the detector random stream's seed, [seed, DETECTOR_STREAM].
DETECTOR_STREAM: int = 0xDE7EC7
#: Columns added to :data:`darkmoments.events_schema.EVENT_COLUMNS` at detector level (the
#: ``lepton_*`` columns themselves hold the detector-level recoil).
DETECTOR_EVENT_COLUMNS: tuple[str, ...] = (
    "truth_lepton_E",
    "truth_lepton_px",
    "truth_lepton_py",
    "truth_lepton_pz",
    "truth_lepton_pt",
    "incident_E",
    "beam_E",
    "tagger_E",
    "depth",
    "accepted",
)

#: The VEGAS adaptation of :mod:`darkmoments.generator` (10 x 20000 points, 200 increments).
_ADAPT_ITERATIONS, _ADAPT_POINTS, _ADAPT_NINC, _ADAPT_ALPHA = 10, 20_000, 200, 1.0
_NDIM = 5


@dataclass(frozen=True)
class DetectorSample:
    """Detector-level events with their effective cross section.

    Attributes
    ----------
    events : pandas.DataFrame
        :data:`~darkmoments.events_schema.EVENT_COLUMNS` (``lepton_*`` at detector level,
        ``dark_photon_*`` and ``nucleus_*`` truth, ``weight`` = sigma / N in pb) plus
        :data:`DETECTOR_EVENT_COLUMNS` (truth recoil, incident and face energies and the
        tagger's measurement in GeV, depth as a fraction of the thickness, ``accepted``).
    sigma_pb, sigma_err_pb : float
        <sigma>: cross section averaged over depth and incident energy (with E_min), pb at
        the requested coupling, and its MC error.  Before acceptance and selection.
    unweighting_efficiency : float
        Kept / tried points.
    metadata : dict
        Process, seed, detector configuration, node step, ``sigma_nominal_pb`` (the
        node-E0 estimate of sigma(E0)) ...

    Examples
    --------
    >>> from darkmoments.detector_level import generate_detector
    >>> ds = generate_detector("km", 0.1, "ldmx-phase2", 200, seed=1, n_pilot=20_000)
    >>> len(ds.events), "truth_lepton_E" in ds.events, bool(0 < ds.sigma_pb)
    (200, True, True)
    """

    events: pd.DataFrame
    sigma_pb: float
    sigma_err_pb: float
    unweighting_efficiency: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.events)


def incident_energy_nodes(
    beam_energy: float, e_min: float, e_max: float, step: float = DEFAULT_ENERGY_STEP
) -> NDArray[np.float64]:
    """Node energies E_k = E0 exp(-k step) [GeV], k = -k_up ... k_low, covering [e_min, e_max].

    Parameters
    ----------
    beam_energy : float
        E0 in GeV (always a node, k = 0).
    e_min, e_max : float
        Lowest and highest incident energy to cover, GeV.
    step : float
        Spacing in ln E, in (0, 0.5].

    Returns
    -------
    numpy.ndarray
        Descending energies; index k + k_up is node k.

    Examples
    --------
    >>> from darkmoments.detector_level import incident_energy_nodes
    >>> nodes = incident_energy_nodes(8.0, 2.0, 8.0, step=0.5)
    >>> nodes.round(3).tolist()
    [8.0, 4.852, 2.943, 1.785, 1.083]
    """
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    step = check_real("energy_step", step, lo=0.0, hi=0.5, lo_open=True, unit="(in ln E)")
    k_up = max(0, math.ceil(math.log(e_max / e0) / step - 0.5))
    k_low = max(0, math.ceil(math.log(e0 / e_min) / step + 0.5))
    return e0 * np.exp(-step * np.arange(-k_up, k_low + 1))


def _adapt_map(process: DarkBremProcess, rng: np.random.Generator) -> vegas.AdaptiveMap:
    """A VEGAS map adapted to ``process`` (the generator's settings)."""
    vmap = vegas.AdaptiveMap([[0.0, 1.0]] * _NDIM, ninc=_ADAPT_NINC)
    for _ in range(_ADAPT_ITERATIONS):
        y = rng.random((_ADAPT_POINTS, _NDIM))
        x = np.empty_like(y)
        jac = np.empty(_ADAPT_POINTS)
        vmap.map(y, x, jac)
        w, _ = process.weight(x)
        f = w * jac
        vmap.add_training_data(y, f * f)
        vmap.adapt(alpha=_ADAPT_ALPHA)
    return vmap


@dataclass
class _Mixture:
    """Trial points over the incident-energy nodes, with the running sums of sigma."""

    nodes: NDArray[np.float64]
    processes: list[DarkBremProcess | None]
    vmap: vegas.AdaptiveMap
    rng: np.random.Generator
    incident: dict[str, Any]
    step: float
    k_up: int
    s1: float = 0.0
    s2: float = 0.0
    n_trials: int = 0
    node0_sum: float = 0.0
    node0_n: int = 0

    def trials(self, m: int) -> tuple[NDArray[np.float64], list[tuple[Any, Any]], Any]:
        """m trials: weights (pb, 0 below E_min or threshold), per-node (idx, ps), interaction."""
        inc = sample_incident_energy(m, rng=self.rng, **self.incident)
        n_below = inc.n_proposed - m  # dropped trials (E_inc < E_min): weight 0
        k = np.rint(np.log(self.nodes[self.k_up] / inc.energy) / self.step).astype(np.int64)
        node = np.clip(k + self.k_up, 0, self.nodes.size - 1)
        y = self.rng.random((m, _NDIM))
        x = np.empty_like(y)
        jac = np.empty(m)
        self.vmap.map(y, x, jac)
        w = np.zeros(m)
        groups: list[tuple[Any, Any]] = []
        order = np.argsort(node, kind="stable")
        bounds = np.flatnonzero(np.diff(node[order])) + 1
        for idx in np.split(order, bounds):
            proc = self.processes[int(node[idx[0]])]
            if proc is None:  # below the kinematic threshold: sigma = 0
                groups.append((idx, None))
                continue
            wk, ps = proc.weight(x[idx])
            w[idx] = wk * jac[idx]
            groups.append((idx, ps))
        self.s1 += float(w.sum())
        self.s2 += float(np.dot(w, w))
        self.n_trials += m + n_below
        top = node == self.k_up
        self.node0_sum += float(w[top].sum())
        self.node0_n += int(top.sum())
        return w, groups, inc

    def sigma(self) -> tuple[float, float]:
        """<sigma> and its MC error in pb (unit coupling) from every trial so far."""
        n = self.n_trials
        mean = self.s1 / n
        var = max(self.s2 / n - mean * mean, 0.0)
        return mean, math.sqrt(var / n)


def _keep(w: NDArray[np.float64], w_max: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """Copies of each trial: floor(w / w_max) + Bernoulli(frac) (unbiased for any w_max)."""
    ratio = w / w_max
    copies = np.floor(ratio).astype(np.int64)
    copies += rng.random(w.size) < (ratio - copies)
    return copies


def _rows(
    groups: list[tuple[Any, Any]], copies: NDArray[np.int64], inc: Any, parts: list[Any]
) -> int:
    """Append the kept events of one batch (truth four-momenta and interaction) to ``parts``."""
    n = 0
    for idx, ps in groups:
        if ps is None:
            continue
        c = copies[idx]
        sel = np.repeat(np.arange(idx.size), c)
        if sel.size == 0:
            continue
        src = idx[sel]
        parts.append(
            (
                ps.p2[sel],
                ps.k[sel],
                ps.P2[sel],
                inc.depth[src],
                inc.energy[src],
                inc.front_energy[src],
            )
        )
        n += sel.size
    return n


def _mixture_events(mix: _Mixture, n: int, n_pilot: int, batch: int, max_excess: float) -> Any:
    """n unweighted truth events over the mixture: arrays and the unweighting efficiency."""
    pilot = []
    for start in range(0, n_pilot, batch):
        w, _, _ = mix.trials(min(batch, n_pilot - start))
        pilot.append(w)
    w_all = np.concatenate(pilot)
    if not np.any(w_all > 0):
        raise InputError("every pilot weight is zero: no interaction above threshold")
    w_max = unweighting_threshold(w_all, max_excess)
    parts: list[Any] = []
    have, tried = 0, 0
    # expected kept copies per trial, from the pilot: each batch asks for what is still
    # missing (5 % margin), so the last batch does not waste a full batch of trials
    rate = max(float(np.sum(w_all)) / (w_max * w_all.size), 1e-6)
    while have < n:
        m = min(batch, max(1000, math.ceil(1.05 * (n - have) / rate)))
        w, groups, inc = mix.trials(m)
        tried += w.size
        have += _rows(groups, _keep(w, w_max, mix.rng), inc, parts)
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    perm = mix.rng.permutation(have)[:n]  # the node order of a batch is not kept
    return [c[perm] for c in cols], have / tried


def _truth_frame(cols: list[NDArray[np.float64]], weight: float) -> pd.DataFrame:
    """The EVENT_COLUMNS table of truth events from (p2, k, P2) arrays."""
    p2, k, pn = cols[:3]
    data: dict[str, NDArray[np.float64]] = {}
    for name, arr in (("lepton", p2), ("dark_photon", k), ("nucleus", pn)):
        for i, comp in enumerate(("E", "px", "py", "pz")):
            data[f"{name}_{comp}"] = arr[:, i]
    data["lepton_pt"] = np.hypot(p2[:, 1], p2[:, 2])
    data["nucleus_pt"] = np.hypot(pn[:, 1], pn[:, 2])
    data["weight"] = np.full(p2.shape[0], weight)
    return pd.DataFrame({c: data[c] for c in EVENT_COLUMNS})


def _node_processes(
    model: str, mass: float, nodes: NDArray[np.float64], lepton: str, target: str
) -> list[DarkBremProcess | None]:
    """The process at every node (None where the node is below the kinematic threshold)."""
    out: list[DarkBremProcess | None] = []
    for e in nodes:
        try:
            out.append(DarkBremProcess.create(model, mass, float(e), lepton=lepton, target=target))
        except InputError:
            out.append(None)
    return out


def _check_config(config: Any, exp: Any) -> DetectorConfig:
    if config is None:
        return exp.require_detector()
    if not isinstance(config, DetectorConfig):
        raise InputTypeError(f"config must be a DetectorConfig, got {type(config).__name__}")
    return config.replace(target=exp.target.symbol, thickness_x0=exp.thickness_x0)


def generate_detector(
    model: str,
    mass: float,
    experiment: ExperimentLike,
    n_events: int,
    *,
    seed: int,
    coupling: float = 1.0,
    config: DetectorConfig | None = None,
    energy_step: float = DEFAULT_ENERGY_STEP,
    n_pilot: int = 200_000,
    batch_size: int = 100_000,
    max_excess: float = 1e-3,
    progress: bool = False,
) -> DetectorSample:
    """Unweighted detector-level events of one model and A' mass at an experiment.

    Parameters
    ----------
    model : str
        Model id (km, md, ed, cr, am).
    mass : float
        A' mass in GeV.
    experiment : str, path or Experiment
        The setup: beam, target and (unless ``config`` is given) its ``detector``.
    n_events : int
        Unweighted events (>= 1); every one is kept, ``accepted`` flags the acceptance.
    seed : int
        Seed (>= 0): the same seed gives the same events.
    coupling : float
        g_f in the model's units (cross sections scale as g_f^2).
    config : DetectorConfig, optional
        Overrides the experiment's detector (its target and thickness are the
        experiment's).
    energy_step : float
        Node spacing of the incident energies in ln E, in (0, 0.5].
    n_pilot, batch_size, max_excess
        Pilot trials for the unweighting threshold, the largest batch of trials (each batch
        costs one generator call per node it touches, ~1 ms each, so batches are large;
        memory ~250 bytes per trial), allowed excess (as in
        :func:`darkmoments.generator.generate`).
    progress : bool
        Progress bar of the truth generation (only when ``incident_straggling`` is off).

    Returns
    -------
    DetectorSample

    Raises
    ------
    InputError, InputTypeError
        Bad model, mass, seed, counts, or an experiment without a detector level.

    Examples
    --------
    >>> from darkmoments.detector_level import generate_detector
    >>> ds = generate_detector("md", 0.1, "ldmx-phase2", 300, seed=1, coupling=1e-6,
    ...                        n_pilot=20_000)
    >>> bool((ds.events["lepton_E"] < 8.0 * 1.1).all()), ds.metadata["level"]
    (True, 'detector')
    """
    exp = get_experiment(experiment)
    cfg = _check_config(config, exp)
    mid = get_model(model).id
    m = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")
    n = check_int("n_events", n_events, lo=1)
    seed = check_int("seed", seed, lo=0)
    g = check_coupling(coupling)
    step = check_real("energy_step", energy_step, lo=0.0, hi=0.5, lo_open=True, unit="(in ln E)")
    n_pilot = check_int("n_pilot", n_pilot, lo=1000, hi=100_000_000)
    batch = check_int("batch_size", batch_size, lo=100, hi=10_000_000)
    max_excess = check_real("max_excess", max_excess, lo=0.0, hi=1.0, hi_open=True)
    DarkBremProcess.create(mid, m, exp.beam_energy, lepton=exp.lepton, target=exp.target.symbol)
    if not cfg.incident_straggling:
        truth, sigma, err, eff, extra = _at_beam_energy(mid, m, exp, n, seed, progress)
    else:
        truth, sigma, err, eff, extra = _over_incident(
            mid, m, exp, n, seed, cfg, step, n_pilot, batch, max_excess
        )
    sigma, err = sigma * g * g, err * g * g
    truth["weight"] = sigma / n
    events = _detector_frame(truth, exp, cfg, seed)
    meta = {
        "model": mid,
        "mass": m,
        "experiment": exp.name,
        "beam_energy": exp.beam_energy,
        "lepton": exp.lepton,
        "lepton_mass": lepton_mass(exp.lepton),
        "target": exp.target.symbol,
        "Z": exp.target.Z,
        "A": exp.target.A,
        "nuclear_mass": exp.target.nuclear_mass,
        "coupling": g,
        "coupling_unit": get_model(mid).coupling_unit,
        "weighted": False,
        "sigma_pb": sigma,
        "sigma_err_pb": err,
        "n_events": n,
        "seed": seed,
        "level": "detector",
        "detector": cfg.to_dict(),
        "unweighting_efficiency": eff,
        "generator_version": __version__,
        **extra,
    }
    meta["sigma_nominal_pb"] = meta.get("sigma_nominal_pb", sigma / (g * g)) * g * g
    return DetectorSample(events, sigma, err, eff, meta)


def _at_beam_energy(
    mid: str, m: float, exp: Any, n: int, seed: int, progress: bool
) -> tuple[pd.DataFrame, float, float, float, dict[str, Any]]:
    """Every lepton at E0: the generator's own events (identical to the truth level)."""
    sample = generate(
        mid,
        m,
        exp.beam_energy,
        n,
        lepton=exp.lepton,
        target=exp.target.symbol,
        coupling=1.0,
        seed=seed,
        weighted=False,
        progress=progress,
    )
    ev = sample.events.copy()
    ev["incident_E"] = exp.beam_energy
    ev["beam_E"] = exp.beam_energy
    extra = {"energy_step": None, "n_trials": int(sample.metadata.get("n_evaluations", 0))}
    return ev, sample.sigma_pb, sample.sigma_err_pb, sample.unweighting_efficiency, extra


def _over_incident(
    mid: str,
    m: float,
    exp: Any,
    n: int,
    seed: int,
    cfg: DetectorConfig,
    step: float,
    n_pilot: int,
    batch: int,
    max_excess: float,
) -> tuple[pd.DataFrame, float, float, float, dict[str, Any]]:
    """Events over the sigma-weighted incident energies (module docstring, steps 1-2)."""
    rng = np.random.default_rng(seed)
    e0 = exp.beam_energy
    spread = cfg.beam_energy_spread
    e_min = cfg.incident_energy_min_fraction * e0
    nodes = incident_energy_nodes(e0, e_min, e0 * (1.0 + 5.0 * spread), step)
    k_up = int(np.argmin(np.abs(nodes - e0)))
    processes = _node_processes(mid, m, nodes, exp.lepton, exp.target.symbol)
    up = processes[k_up]
    assert up is not None  # the node nearest the beam energy, checked on entry
    vmap = _adapt_map(up, rng)
    incident = {
        "beam_energy": e0,
        "thickness_x0": cfg.thickness_x0,
        "mass": lepton_mass(exp.lepton),
        "target": cfg.target,
        "b": cfg.straggling_b,
        "e_min_fraction": cfg.incident_energy_min_fraction,
        "beam_energy_spread": spread,
        "depth_range": cfg.depth_range,
        "straggling": True,
    }
    mix = _Mixture(nodes, processes, vmap, rng, incident, step, k_up)
    cols, eff = _mixture_events(mix, n, n_pilot, batch, max_excess)
    ev = _truth_frame(cols, 0.0)
    ev["depth"], ev["incident_E"], ev["beam_E"] = cols[3], cols[4], cols[5]
    sigma, err = mix.sigma()
    extra = {
        "energy_step": step,
        "n_nodes": int(nodes.size),
        "n_trials": mix.n_trials,
        "sigma_nominal_pb": mix.node0_sum / max(mix.node0_n, 1),
    }
    return ev, sigma, err, eff, extra


def _detector_frame(truth: pd.DataFrame, exp: Any, cfg: DetectorConfig, seed: int) -> pd.DataFrame:
    """Truth events through :func:`apply_detector`: the detector-level event table."""
    rng = np.random.default_rng([seed, DETECTOR_STREAM])
    if "depth" not in truth:
        truth["depth"] = sample_depth(len(truth), rng, cfg.depth_range)
    det = apply_detector(
        truth, cfg, rng, lepton_mass=lepton_mass(exp.lepton), beam_energy=exp.beam_energy
    )
    out = truth.copy()
    for c in ("lepton_E", "lepton_px", "lepton_py", "lepton_pz", "lepton_pt"):
        out[c] = det[c]
    for c in DETECTOR_EVENT_COLUMNS:
        if c in det:
            out[c] = det[c]
    out["beam_E"] = truth["beam_E"].to_numpy()
    out["incident_E"] = truth["incident_E"].to_numpy()
    return out.loc[:, [*EVENT_COLUMNS, *DETECTOR_EVENT_COLUMNS]]
