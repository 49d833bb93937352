"""Detector-level settings: one frozen dataclass with every parameter and its LDMX default.

``DetectorConfig`` holds the switches of each effect, the target description the effects
need (material and thickness, which an experiment passes from its own setup) and the
parametrised tracker and tagger response.  :meth:`DetectorConfig.from_dict` reads the
``[detector]`` table of an experiment TOML file; unknown keys and out-of-range values are
refused with a message naming the key and the allowed range.

Defaults and their sources (full discussion in ``docs/detector.md``):

===============================  ==========  ===================================================
key                              default     source
===============================  ==========  ===================================================
straggling_b                     4/3         Tsai, Rev. Mod. Phys. 46 (1974) 815 (complete
                                             screening)
incident_energy_min_fraction     0.01        darkmoments choice (below: ~1e-4 of the rate at
                                             0.1 X0, vetoed by a missing-energy trigger)
beam_energy_spread               1e-3        assumption (per-mille, LCLS-II-class linac beam)
tagger_resolution                0.015       estimate (Gluckstern + PDG multiple-scattering
                                             term) for the LDMX tagger of arXiv:1808.05219
momentum_resolution_constant     0.05        same estimate, recoil tracker, scattering term
momentum_resolution_slope        0.01 /GeV   same estimate, recoil tracker, hit-resolution term
angular_resolution_constant      5e-4 rad    estimate: 15 um hits, few-cm lever arm
angular_resolution_slope         1e-3 rad    Highland in the first recoil layer (0.7 % X0)
                                 GeV
p_min                            0.05 GeV    assumption (soft recoils curl up in the fringe
                                             field before crossing enough layers)
theta_max                        0.70 rad    assumption (recoil tracker and ECal face, ~40 deg)
===============================  ==========  ===================================================

The resolutions are *estimates* from the LDMX design (tagger in the 1.5 T analysing dipole,
recoil tracker of six silicon layers in its fringe field, arXiv:1808.05219), not numbers
quoted by the collaboration; replace them when published ones are at hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, InputTypeError
from ..targets import TARGETS, get_target
from ..validation import check_choice, check_real

__all__ = ["DETECTOR_KEYS", "PARAMETER_RANGES", "DetectorConfig"]

#: (lo, hi, lo_open, hi_open, unit) of every real parameter.
PARAMETER_RANGES: dict[str, tuple[float, float, bool, bool, str]] = {
    "thickness_x0": (0.0, 100.0, True, False, "X0"),
    "straggling_b": (1.0, 1.5, False, False, ""),
    "incident_energy_min_fraction": (0.0, 1.0, True, True, "(fraction of E0)"),
    "beam_energy_spread": (0.0, 0.1, False, False, "(relative)"),
    "tagger_resolution": (0.0, 0.5, False, False, "(relative)"),
    "momentum_resolution_constant": (0.0, 0.5, False, False, "(relative)"),
    "momentum_resolution_slope": (0.0, 0.5, False, False, "GeV^-1"),
    "angular_resolution_constant": (0.0, 0.1, False, False, "rad"),
    "angular_resolution_slope": (0.0, 0.1, False, False, "rad GeV"),
    "p_min": (0.0, 1.0e4, False, False, "GeV"),
    "theta_max": (0.0, 3.141592653589793, True, False, "rad"),
}

_SWITCHES = ("incident_straggling", "multiple_scattering", "energy_loss", "smearing", "acceptance")


@dataclass(frozen=True)
class DetectorConfig:
    """Every parameter of the target and detector simulation (LDMX defaults).

    Attributes
    ----------
    target : str
        Target material symbol (W, Pb, Cu, Fe, Al, C); from the experiment.
    thickness_x0 : float
        Target thickness in X0, in (0, 100]; from the experiment (LDMX: 0.1).
    depth_range : (float, float)
        Interval of interaction depths as fractions of the thickness, within the target:
        0 <= lo <= hi <= 1 (default: the whole target).
    incident_straggling : bool
        Energy loss of the incident lepton upstream of the vertex (bremsstrahlung straggling
        for electrons, ionisation for heavier leptons) and the beam-energy spread.
    multiple_scattering : bool
        Multiple scattering of the recoil in the downstream material (Highland).
    energy_loss : bool
        Energy loss of the recoil downstream (bremsstrahlung for e, ionisation for mu).
    smearing : bool
        Tracker momentum and angular resolution, tagger resolution.
    acceptance : bool
        Minimum momentum and maximum polar angle of reconstructible recoils.
    straggling_b : float
        Constant b of the straggling distribution, in [1, 1.5] (Tsai: 4/3).
    incident_energy_min_fraction : float
        E_min / E0 below which an incident lepton is not counted, in (0, 1).
    beam_energy_spread : float
        Relative Gaussian sigma of the beam energy, in [0, 0.1].
    tagger_resolution : float
        Relative resolution of the tagger's beam-momentum measurement, in [0, 0.5].
    momentum_resolution_constant : float
        a in sigma_p / p = a (+) b p (quadrature), in [0, 0.5].
    momentum_resolution_slope : float
        b in GeV^-1, in [0, 0.5].
    angular_resolution_constant : float
        c in sigma_theta = c (+) d / p per plane, rad, in [0, 0.1].
    angular_resolution_slope : float
        d in rad GeV, in [0, 0.1].
    p_min : float
        Minimum reconstructed recoil momentum, GeV, >= 0.
    theta_max : float
        Maximum reconstructed polar angle, rad, in (0, pi].

    Examples
    --------
    >>> from darkmoments.detector import DetectorConfig
    >>> cfg = DetectorConfig.ldmx()
    >>> cfg.target, cfg.thickness_x0, cfg.p_min, cfg.any_effect
    ('W', 0.1, 0.05, True)
    >>> cfg.replace(smearing=False).smearing, DetectorConfig.off().any_effect
    (False, False)
    >>> DetectorConfig(thickness_x0=-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: [detector] thickness_x0 must be a finite number > 0 ...
    """

    target: str = "W"
    thickness_x0: float = 0.1
    depth_range: tuple[float, float] = (0.0, 1.0)
    incident_straggling: bool = True
    multiple_scattering: bool = True
    energy_loss: bool = True
    smearing: bool = True
    acceptance: bool = True
    straggling_b: float = 4.0 / 3.0
    incident_energy_min_fraction: float = 0.01
    beam_energy_spread: float = 1.0e-3
    tagger_resolution: float = 0.015
    momentum_resolution_constant: float = 0.05
    momentum_resolution_slope: float = 0.01
    angular_resolution_constant: float = 5.0e-4
    angular_resolution_slope: float = 1.0e-3
    p_min: float = 0.05
    theta_max: float = 0.70

    def __post_init__(self) -> None:
        symbols = [t.symbol for t in TARGETS.values()]
        if not isinstance(self.target, str):
            raise InputTypeError(
                f"[detector] target must be one of {', '.join(symbols)}; got {self.target!r}"
            )
        try:
            symbol = get_target(self.target).symbol
        except ValueError:
            check_choice("[detector] target", self.target, symbols)
            raise
        object.__setattr__(self, "target", symbol)
        for key, (lo, hi, lo_open, hi_open, unit) in PARAMETER_RANGES.items():
            value = check_real(
                f"[detector] {key}",
                getattr(self, key),
                lo=lo,
                hi=hi,
                lo_open=lo_open,
                hi_open=hi_open,
                unit=unit,
            )
            object.__setattr__(self, key, value)
        for key in _SWITCHES:
            value = getattr(self, key)
            if not isinstance(value, bool):
                raise InputTypeError(
                    f"[detector] {key} must be true or false, got {value!r} "
                    f"({type(value).__name__})"
                )
        object.__setattr__(self, "depth_range", _check_depth_range(self.depth_range))

    # -------------------------------------------------------------------------- builders

    @classmethod
    def ldmx(cls, target: str = "W", thickness_x0: float = 0.1) -> DetectorConfig:
        """The LDMX defaults (tungsten, 0.1 X0; arXiv:1808.05219)."""
        return cls(target=target, thickness_x0=thickness_x0)

    @classmethod
    def off(cls, **kwargs: Any) -> DetectorConfig:
        """Every effect switched off.

        :func:`~darkmoments.detector.apply_detector` then returns the truth values exactly.
        Other fields may be given as keywords.
        """
        flags: dict[str, Any] = {k: False for k in _SWITCHES}
        flags.update(kwargs)
        return cls(**flags)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        target: str | None = None,
        thickness_x0: float | None = None,
        source: str = "<dict>",
    ) -> DetectorConfig:
        """Build a configuration from the ``[detector]`` table of an experiment TOML file.

        Keys (all optional; defaults: LDMX): the switches ``incident_straggling``,
        ``multiple_scattering``, ``energy_loss``, ``smearing``, ``acceptance`` (true/false)
        and the parameters ``depth_range`` ([lo, hi] fractions of the thickness),
        ``straggling_b``, ``incident_energy_min_fraction``, ``beam_energy_spread``,
        ``tagger_resolution``, ``momentum_resolution_constant``,
        ``momentum_resolution_slope`` [GeV^-1], ``angular_resolution_constant`` [rad],
        ``angular_resolution_slope`` [rad GeV], ``p_min`` [GeV], ``theta_max`` [rad].
        The material and thickness are the experiment's and are passed as keywords, not
        read from the table.

        Parameters
        ----------
        data : mapping
            The table.
        target : str, optional
            Target symbol of the experiment (default W).
        thickness_x0 : float, optional
            Target thickness of the experiment in X0 (default 0.1).
        source : str
            Where the table came from (file name), for error messages.

        Returns
        -------
        DetectorConfig

        Raises
        ------
        InputError
            Unknown key or value out of range (the message names the key and the range).
        InputTypeError
            Wrong type (a string for a number, a number for a switch).
        """
        if not isinstance(data, Mapping):
            raise InputTypeError(
                f"{source}: [detector] must be a table of key = value pairs, got "
                f"{type(data).__name__}"
            )
        unknown = sorted(set(data) - set(DETECTOR_KEYS))
        if unknown:
            raise InputError(
                f"{source}: unknown [detector] key(s) {unknown}; allowed: {list(DETECTOR_KEYS)}"
            )
        kwargs: dict[str, Any] = dict(data)
        if target is not None:
            kwargs["target"] = target
        if thickness_x0 is not None:
            kwargs["thickness_x0"] = thickness_x0
        try:
            if "depth_range" in kwargs:
                kwargs["depth_range"] = _check_depth_range(kwargs["depth_range"])
            return cls(**kwargs)
        except (InputError, InputTypeError) as exc:
            raise type(exc)(f"{source}: {exc}") from exc

    # -------------------------------------------------------------------------- views

    @property
    def any_effect(self) -> bool:
        """True if at least one effect is switched on."""
        return any(getattr(self, k) for k in _SWITCHES)

    @property
    def thickness_gcm2(self) -> float:
        """Target thickness in g/cm^2."""
        return self.thickness_x0 * get_target(self.target).X0_gcm2

    def replace(self, **changes: Any) -> DetectorConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the ``[detector]`` keys plus ``target`` and ``thickness_x0``)."""
        out = dataclasses.asdict(self)
        out["depth_range"] = list(self.depth_range)
        return out


def _check_depth_range(value: Any) -> tuple[float, float]:
    allowed = "two fractions [lo, hi] with 0 <= lo <= hi <= 1 (within the target)"
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise InputTypeError(f"[detector] depth_range must be {allowed}, got {value!r}")
    unit = "(fraction of the target thickness; above 1 is beyond the target)"
    lo = check_real("[detector] depth_range[0]", value[0], lo=0.0, hi=1.0, unit=unit)
    hi = check_real("[detector] depth_range[1]", value[1], lo=0.0, hi=1.0, unit=unit)
    if lo > hi:
        raise InputError(f"[detector] depth_range must be {allowed}, got {list(value)!r}")
    return (lo, hi)


#: Keys accepted in the ``[detector]`` table of an experiment TOML file.
DETECTOR_KEYS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(DetectorConfig) if f.name not in ("target", "thickness_x0")
)
