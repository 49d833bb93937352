"""From truth-level recoil leptons to detector level: :func:`apply_detector`.

The chain, per event (each step switchable in :class:`DetectorConfig`):

1. interaction depth d (given, e.g. by
   :func:`~darkmoments.detector.target.sample_incident_energy`, or drawn uniformly);
2. the recoil crosses the rest of the target, x = (1 - d) T / cos(theta) X0: multiple
   scattering (Highland) and energy loss (bremsstrahlung straggling for electrons, mean
   ionisation for heavier leptons);
3. the tracker measures it (curvature and angle resolution);
4. acceptance (p >= p_min, theta <= theta_max) is flagged, not applied: every event is kept.

The incident-lepton effects (upstream straggling, beam-energy spread) change the energy the
dark bremsstrahlung happens at, so they belong *before* event generation: draw
(depth, incident energy) with :func:`~darkmoments.detector.target.sample_incident_energy`,
generate each event at its incident energy, and pass the depths here (column ``depth``).
Without a ``depth`` column the depth is drawn uniformly, which is right when the incident
energy is not simulated (sigma-weighting tilts the depth distribution slightly otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, InputTypeError
from ..validation import check_real
from .config import DetectorConfig
from .target import _check_rng, propagate_recoil, sample_depth, slant_path_x0
from .tracker import acceptance_mask, measure_beam_energy, smear

if TYPE_CHECKING:
    import pandas as pd

    #: What the event columns are read from: a dict of arrays, a DataFrame, ...
    EventColumns: TypeAlias = Mapping[str, Any] | pd.DataFrame

__all__ = ["DETECTOR_COLUMNS", "apply_detector"]

#: Columns always returned by :func:`apply_detector` (GeV; depth as a fraction of T).
DETECTOR_COLUMNS: tuple[str, ...] = (
    "lepton_E",
    "lepton_px",
    "lepton_py",
    "lepton_pz",
    "lepton_pt",
    "truth_lepton_E",
    "truth_lepton_px",
    "truth_lepton_py",
    "truth_lepton_pz",
    "truth_lepton_pt",
    "depth",
    "accepted",
)

_REQUIRED = ("lepton_E", "lepton_px", "lepton_py", "lepton_pz")
#: (E, px, py, pz) arrays in GeV.
_Momenta = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def _column(events: EventColumns, name: str, n: int | None) -> NDArray[np.float64]:
    try:
        arr = np.asarray(events[name], dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"events column {name!r} must hold real numbers") from exc
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise InputError(
            f"events column {name!r} must be 1D with one entry per event ({n}), got shape "
            f"{arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"events column {name!r} has non-finite values")
    return arr


def apply_detector(
    events: EventColumns,
    config: DetectorConfig,
    rng: np.random.Generator,
    *,
    lepton_mass: float,
    beam_energy: float | None = None,
) -> dict[str, NDArray[Any]]:
    """Detector-level recoil leptons from truth-level ones.

    Parameters
    ----------
    events : mapping of column name to array (dict, pandas.DataFrame, ...)
        Truth recoil at the vertex: ``lepton_E``, ``lepton_px``, ``lepton_py``,
        ``lepton_pz`` in GeV (lab frame, beam along +z).  Optional: ``lepton_pt`` (GeV;
        used as the truth p_T if given), ``depth`` (fraction of the thickness, in [0, 1]),
        ``incident_E`` (GeV, passed through), ``beam_E`` (energy at the upstream face, GeV,
        for the tagger measurement).
    config : DetectorConfig
        Switches and parameters (target material and thickness included).
    rng : numpy.random.Generator
        The only source of randomness (same seed, same result).
    lepton_mass : float
        Recoil-lepton mass in GeV (electron: bremsstrahlung; heavier: ionisation).
    beam_energy : float, optional
        Nominal beam energy in GeV; with it (or a ``beam_E`` column) the tagger's measured
        beam energy ``tagger_E`` is returned.

    Returns
    -------
    dict of numpy.ndarray
        :data:`DETECTOR_COLUMNS`: the detector-level ``lepton_E``, ``lepton_px/py/pz``,
        ``lepton_pt`` [GeV], the truth ``truth_lepton_*`` [GeV], ``depth`` and ``accepted``
        (bool: reconstructible; no event is dropped), plus ``incident_E`` and ``tagger_E``
        when available.  With every effect switched off (:meth:`DetectorConfig.off`) the
        detector-level columns are exactly the truth ones (nothing is recomputed).

    Raises
    ------
    InputError
        Missing or malformed columns, or depths outside the target.

    Examples
    --------
    >>> import numpy as np
    >>> import darkmoments as dm
    >>> from darkmoments.detector import DetectorConfig, apply_detector
    >>> s = dm.generate("km", 0.1, 8.0, 2000, seed=1, n_pilot=20_000)
    >>> cols = ("lepton_E", "lepton_px", "lepton_py", "lepton_pz")
    >>> truth = {c: s.events[c].to_numpy() for c in cols}
    >>> out = apply_detector(truth, DetectorConfig.ldmx(), np.random.default_rng(2),
    ...                      lepton_mass=0.00051099895, beam_energy=8.0)
    >>> "accepted" in out, bool(out["lepton_E"].mean() < truth["lepton_E"].mean())
    (True, True)
    """
    if not isinstance(config, DetectorConfig):
        raise InputTypeError(f"config must be a DetectorConfig, got {type(config).__name__}")
    rng = _check_rng(rng)
    mass = check_real("lepton_mass", lepton_mass, lo=0.0, lo_open=True, unit="GeV")
    truth = _truth(events)
    n = truth[0].shape[0]
    depth = _depth(events, n, rng, config)
    reco, changed = _reconstruct(truth, depth, mass, config, rng)
    out = _output(truth, reco, changed, depth, acceptance_mask(*reco[1:], config))
    if "incident_E" in events:
        out["incident_E"] = _column(events, "incident_E", n).copy()
    front = _front_energy(events, n, beam_energy)
    if front is not None:
        out["tagger_E"] = measure_beam_energy(front, config, rng)
    return out


def _truth(events: EventColumns) -> tuple[NDArray[np.float64], ...]:
    """Truth (E, px, py, pz, p_T) of the recoil in GeV, validated."""
    missing = [c for c in _REQUIRED if c not in events]
    if missing:
        raise InputError(f"events lack the column(s) {missing}; needed: {list(_REQUIRED)}")
    t_e = _column(events, "lepton_E", None)
    n = t_e.shape[0]
    t_px, t_py, t_pz = (_column(events, c, n) for c in _REQUIRED[1:])
    t_pt = _column(events, "lepton_pt", n) if "lepton_pt" in events else np.hypot(t_px, t_py)
    return t_e, t_px, t_py, t_pz, t_pt


def _depth(
    events: EventColumns, n: int, rng: np.random.Generator, config: DetectorConfig
) -> NDArray[np.float64]:
    """Interaction depths (fractions of the thickness): the ``depth`` column or uniform."""
    if "depth" not in events:
        return sample_depth(n, rng, config.depth_range)
    depth = _column(events, "depth", n)
    if n and (depth.min() < 0.0 or depth.max() > 1.0):
        raise InputError(
            "events column 'depth' must lie within the target: 0 <= depth <= 1 (fraction "
            f"of the thickness), got [{depth.min():g}, {depth.max():g}]"
        )
    return depth.copy()


def _reconstruct(
    truth: tuple[NDArray[np.float64], ...],
    depth: NDArray[np.float64],
    mass: float,
    config: DetectorConfig,
    rng: np.random.Generator,
) -> tuple[
    tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    bool,
]:
    """Target effects on the way out, then the tracker.

    Returns (E, px, py, pz) GeV and whether any effect acted (otherwise the truth arrays
    themselves are returned).
    """
    e, px, py, pz = truth[:4]
    changed = False
    if config.multiple_scattering or config.energy_loss:
        x = slant_path_x0(depth, config.thickness_x0, px, py, pz)
        e, px, py, pz = propagate_recoil(
            e,
            px,
            py,
            pz,
            mass,
            x,
            rng,
            target=config.target,
            multiple_scattering=config.multiple_scattering,
            energy_loss=config.energy_loss,
            b=config.straggling_b,
        )
        changed = True
    if config.smearing:
        e, px, py, pz = smear(px, py, pz, mass, config, rng)
        changed = True
    return (e, px, py, pz), changed


def _output(
    truth: tuple[NDArray[np.float64], ...],
    reco: _Momenta,
    changed: bool,
    depth: NDArray[np.float64],
    accepted: NDArray[np.bool_],
) -> dict[str, NDArray[Any]]:
    """The :data:`DETECTOR_COLUMNS` (copies: nothing returned aliases the input)."""
    t_e, t_px, t_py, t_pz, t_pt = truth
    e, px, py, pz = reco
    return {
        "lepton_E": np.array(e, dtype=float, copy=True),
        "lepton_px": np.array(px, dtype=float, copy=True),
        "lepton_py": np.array(py, dtype=float, copy=True),
        "lepton_pz": np.array(pz, dtype=float, copy=True),
        "lepton_pt": np.hypot(px, py) if changed else t_pt.copy(),
        "truth_lepton_E": t_e.copy(),
        "truth_lepton_px": t_px.copy(),
        "truth_lepton_py": t_py.copy(),
        "truth_lepton_pz": t_pz.copy(),
        "truth_lepton_pt": t_pt.copy(),
        "depth": depth,
        "accepted": accepted,
    }


def _front_energy(
    events: EventColumns, n: int, beam_energy: float | None
) -> NDArray[np.float64] | None:
    """Beam energy at the upstream face (GeV) for the tagger: ``beam_E`` column or nominal."""
    if "beam_E" in events:
        return _column(events, "beam_E", n)
    if beam_energy is None:
        return None
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    return np.full(n, e0)
