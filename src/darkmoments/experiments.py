"""Missing-momentum experiment setups as data, and the expected signal yield formula.

This module sits below everything that uses an experiment (templates, statistics, the
command line) and imports nothing above it: no templates, no files other than a user's TOML.

Public interface (other modules code against it; keep it stable)
-----------------------------------------------------------------
``Experiment``
    Frozen dataclass: ``name``, ``lepton`` (``"e"`` or ``"mu"``), ``beam_energy`` [GeV], ``eot``
    (leptons on target), ``target`` (:class:`darkmoments.targets.Target`), ``thickness_cm``
    [cm], ``efficiency`` (signal efficiency, 0..1), ``cuts`` (:class:`Cuts`, recoil-lepton
    selection; default: none), ``binning`` (:class:`Binning`, E and p_T edges in GeV),
    ``description``, ``mass_grid`` (:class:`MassGrid`, the template masses), and the property
    ``events_per_pb`` = EOT * n_nuclei [cm^-3] * thickness [cm] * 1e-36 cm^2/pb (events per pb
    of cross section at efficiency 1; ``ldmx-phase2`` gives 22.2).  ``binning`` and
    ``mass_grid`` are always set after construction (left out, they get the defaults of
    :func:`default_binning` and :func:`default_mass_grid`).
``EXPERIMENTS``
    ``{"ldmx-phase1": ..., "ldmx-phase2": ..., "m3-phase1": ..., "m3-phase2": ...}``.
``get_experiment(name_or_toml_path) -> Experiment``
    A named setup, an :class:`Experiment` (returned as is) or a user setup read from a TOML
    file (format in :func:`experiment_from_toml`).  Resolve once at the API edge and pass the
    :class:`Experiment` on.
``expected_events(sigma_pb, coupling, experiment, selection_efficiency=1.0, *, model=None,
mass=None, depth_factor=None)``
    N = sigma(g=1) [pb] * g^2 * selection efficiency * experiment efficiency * events_per_pb
    (docs/physics.md section 3; also :meth:`Experiment.expected_events`), times the depth
    factor f = <sigma> / sigma(E0) of a thick target (``Experiment.thick_target``;
    :mod:`darkmoments.thick_target`, docs/physics.md section 3.4), which needs ``model`` and
    ``mass`` (or ``depth_factor``).  The yield *from the templates*, with its MC error, is
    :func:`darkmoments.templates.signal_yield`.

The LDMX numbers (docs/physics.md section 3; paper section 4.2): Phase I is a 4 GeV electron beam
with 4e14 EOT, Phase II an 8 GeV electron beam with 1e16 EOT, both on a tungsten target of
0.1 radiation lengths (0.03504 cm).  Selection defaults to none, as in the paper's
zero-background 2.3-event reach.

The M3 numbers (docs/physics.md section 3.4; Kahn, Krnjaic, Tran, Whitbeck, JHEP 09 (2018)
153, arXiv:1804.03144): a muon beam on a thick active tungsten target, Phase 1 with 1e10 and
Phase 2 with 1e13 muons on target (the paper's abstract).  The 15 GeV beam energy and the
tungsten target are those of issue 14's summary of the paper; the 50 X0 thickness is the
value recalled for the paper's setup and could *not* be confirmed from a searchable text of
the paper (only its abstract was available), nor could a truth-level selection: the paper's
signal is a muon that "loses a large fraction of its incident momentum", so, as for LDMX at
truth level, no cut is applied (a user TOML can add ``[cuts]``).  Thick target: the yield is
depth-integrated with the muon's mean energy loss (:mod:`darkmoments.thick_target`).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import PB_TO_CM2
from .detector.config import DetectorConfig
from .errors import InputError, InputTypeError
from .targets import Target, get_target
from .validation import check_real, is_real

__all__ = [
    "CUT_RTOL",
    "DETECTOR_LEVEL_KEYS",
    "EDGE_ATOL",
    "EDGE_DIGITS",
    "EDGE_RTOL",
    "EXPERIMENTS",
    "LDMX_SIGNAL_REGION",
    "LDMX_TARGET_THICKNESS_X0",
    "LEVELS",
    "M3_BEAM_ENERGY",
    "M3_MOT",
    "M3_TARGET_THICKNESS_X0",
    "MASS_DIGITS",
    "Background",
    "Binning",
    "Cuts",
    "Experiment",
    "ExperimentLike",
    "MassGrid",
    "check_edges",
    "check_level",
    "cuts_difference",
    "default_binning",
    "default_mass_grid",
    "edges_difference",
    "expected_events",
    "experiment_from_dict",
    "experiment_from_toml",
    "geometric_grid",
    "get_experiment",
    "read_background",
    "round_significant",
    "uniform_grid",
]

#: LDMX target thickness in radiation lengths (paper section 4.2; docs/physics.md section 3).
LDMX_TARGET_THICKNESS_X0: float = 0.1

#: M3 muon beam energy in GeV (issue 14's summary of Kahn, Krnjaic, Tran, Whitbeck,
#: arXiv:1804.03144: "15 GeV muons on a thick tungsten target"; not confirmed from a
#: searchable text of the paper, docs/physics.md section 3.4).
M3_BEAM_ENERGY: float = 15.0
#: M3 tungsten target thickness in radiation lengths (50 X0 = 17.52 cm = 338 g/cm^2; the
#: recalled value of arXiv:1804.03144, *not* confirmed from a searchable text of the paper).
M3_TARGET_THICKNESS_X0: float = 50.0
#: M3 muons on target: Phase 1 1e10, Phase 2 1e13 (arXiv:1804.03144, abstract: "Phase 1 with
#: ~1e10 muons on target ... Phase 2 with ~1e13 muons on target").
M3_MOT: dict[str, float] = {"phase1": 1.0e10, "phase2": 1.0e13}

#: Lowest non-zero p_T edge of the default binning in GeV (20 keV, below the p_T that the
#: nucleus recoil alone gives at the smallest template mass of 1 MeV).
_PT_LOW_EDGE: float = 2.0e-5
#: Number of E bins (uniform on 0..E0) and p_T bins (one [0, 20 keV] bin + log-spaced).
_N_E_BINS: int = 40
_N_PT_BINS: int = 48

#: Significant digits of computed bin edges (:func:`default_binning`).
EDGE_DIGITS: int = 12
#: Significant digits of computed template masses (:meth:`MassGrid.masses`).
MASS_DIGITS: int = 6
#: Bin edges a and b (GeV) are the same edge when |a - b| <= EDGE_RTOL * |b| + EDGE_ATOL.
#: Edges computed on different CPUs differ by a few ulps (~1e-16 relative); an edge that
#: really moved differs by far more than 1e-9.  EDGE_ATOL (GeV) covers an edge at 0.
EDGE_RTOL: float = 1e-9
EDGE_ATOL: float = 1e-15
#: Cut values (GeV or fractions) match when equal within this relative tolerance (and
#: 1e-15 absolute).
CUT_RTOL: float = 1e-9

#: Template levels: ``truth`` (the recoil at the vertex, the paper's) and ``detector`` (after
#: the target, the tracker, the acceptance and the experiment's detector-level selection;
#: docs/detector.md).
LEVELS: tuple[str, ...] = ("truth", "detector")

#: Keys of an experiment TOML's ``[detector]`` table besides the :class:`DetectorConfig`
#: parameters: ``cuts`` (the detector-level selection, a ``[detector.cuts]`` table).
DETECTOR_LEVEL_KEYS: tuple[str, ...] = ("cuts",)


def check_level(level: Any) -> str:
    """Validate a template level: ``"truth"`` or ``"detector"`` (case-insensitive).

    Parameters
    ----------
    level : str
        The level, any case, surrounding blanks ignored.

    Returns
    -------
    str
        ``"truth"`` or ``"detector"``.

    Raises
    ------
    InputTypeError
        Not a string.
    InputError
        Another string (the message lists the allowed levels).

    Examples
    --------
    >>> from darkmoments.experiments import check_level
    >>> check_level(" Detector ")
    'detector'
    >>> check_level("reco")
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: level must be one of truth, detector; got 'reco'
    """
    if not isinstance(level, str):
        raise InputTypeError(
            f"level must be one of {', '.join(LEVELS)}; got {level!r} ({type(level).__name__})"
        )
    key = level.strip().lower()
    if key not in LEVELS:
        raise InputError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    return key


# Decimal arithmetic (libmpdec, in software) is the same on every machine; exp and ln are
# correctly rounded.  40 digits leave ~28 guard digits above the 12 that are kept.
_DEC = Context(prec=40, rounding=ROUND_HALF_EVEN)


def _decimal(x: float) -> Decimal:
    # the shortest decimal that round-trips (repr): 0.001 rather than 0.001000000000000000020
    return Decimal(repr(float(x)))


def round_significant(x: float | Decimal, digits: int) -> float:
    """``x`` rounded to ``digits`` significant decimal digits (half to even), as a float.

    Deterministic on every machine: the rounding is done in decimal arithmetic, and the
    result is the float nearest to the rounded decimal (correctly rounded parsing).

    Parameters
    ----------
    x : float or decimal.Decimal
        The value (a float is taken as its shortest round-trip decimal, ``repr``).
    digits : int
        Significant digits (>= 1).

    Returns
    -------
    float

    Examples
    --------
    >>> round_significant(0.30000000000000004, 12)
    0.3
    >>> round_significant(1.2151799999999998e-03, 6)
    0.00121518
    """
    d = x if isinstance(x, Decimal) else _decimal(x)
    return float(Context(prec=int(digits), rounding=ROUND_HALF_EVEN).plus(d))


def geometric_grid(lo: float, hi: float, n: int, digits: int) -> tuple[float, ...]:
    """``n`` log-spaced values from ``lo`` to ``hi``, rounded to ``digits`` significant digits.

    The machine-independent replacement of ``np.geomspace`` for values that are *data*
    (bin edges, template masses): lo * (hi / lo)^(i / (n - 1)) is evaluated with 40-digit
    decimal arithmetic (correctly rounded ln and exp, no libm, no SIMD), then rounded.  The
    end points are ``lo`` and ``hi`` rounded the same way.  A value could only round
    differently on another machine if its exact value lay within 1e-40 of a rounding
    boundary.

    Parameters
    ----------
    lo, hi : float
        End points (0 < lo < hi), in any unit.
    n : int
        Number of values (>= 2).
    digits : int
        Significant digits kept.

    Returns
    -------
    tuple of float

    Examples
    --------
    Four decades of A' mass in GeV, exact decimals (``np.geomspace`` gives
    0.0009999999999999998 or 0.010000000000000002 depending on the CPU):

    >>> from darkmoments.experiments import geometric_grid
    >>> geometric_grid(1e-3, 1.0, 4, 6)
    (0.001, 0.01, 0.1, 1.0)
    >>> geometric_grid(1e-3, 3.0, 40, 6)[:3]  # the first masses of the shipped grid
    (0.001, 0.00122788, 0.0015077)
    """
    if not (0 < lo < hi) or not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"geometric grid needs 0 < lo < hi (finite), got lo={lo}, hi={hi}")
    n = int(n)
    a, b = _DEC.ln(_decimal(lo)), _DEC.ln(_decimal(hi))
    step = _DEC.divide(_DEC.subtract(b, a), n - 1)
    out = [round_significant(lo, digits)]
    for i in range(1, n - 1):
        out.append(round_significant(_DEC.exp(_DEC.add(a, _DEC.multiply(step, i))), digits))
    out.append(round_significant(hi, digits))
    return tuple(out)


def uniform_grid(lo: float, hi: float, n: int, digits: int) -> tuple[float, ...]:
    """``n`` uniformly spaced values from ``lo`` to ``hi`` (decimal arithmetic, rounded).

    Like ``np.linspace`` but exactly the same on every machine and free of binary round-off
    (``uniform_grid(0, 4, 41, 12)[3]`` is 0.3, not 0.30000000000000004).

    Parameters
    ----------
    lo, hi : float
        End points (any unit; the E edges of :func:`default_binning` are 0 and E0 in GeV).
    n : int
        Number of values (>= 2).
    digits : int
        Significant digits kept.

    Returns
    -------
    tuple of float

    Examples
    --------
    >>> from darkmoments.experiments import uniform_grid
    >>> uniform_grid(0.0, 4.0, 41, 12)[:4]  # the 100 MeV E edges of a 4 GeV beam
    (0.0, 0.1, 0.2, 0.3)
    """
    n = int(n)
    a, b = _decimal(lo), _decimal(hi)
    step = _DEC.divide(_DEC.subtract(b, a), n - 1)
    vals = [a] + [_DEC.add(a, _DEC.multiply(step, i)) for i in range(1, n - 1)] + [b]
    return tuple(0.0 if v == 0 else round_significant(v, digits) for v in vals)


def edges_difference(
    name: str,
    file_edges: Sequence[float] | NDArray[np.float64],
    expected: Sequence[float] | NDArray[np.float64],
    *,
    labels: tuple[str, str] = ("in the file", "in the experiment"),
) -> str | None:
    """Describe the first edge where two edge lists differ beyond the stated tolerance.

    Edges a (file) and b (expected) are the same when ``|a - b| <= EDGE_RTOL * |b| +
    EDGE_ATOL`` (1e-9 relative, 1e-15 GeV absolute for an edge at 0): a few-ulp difference
    between CPUs passes, a moved edge does not.

    Parameters
    ----------
    name : str
        Axis name for the message (``"p_T"``).
    file_edges, expected : sequence of float
        Edges in GeV.
    labels : (str, str)
        How the two lists are named in the message.

    Returns
    -------
    str or None
        ``None`` if they match, else e.g. ``"p_T edge 30 is 0.0572295 GeV in the file,
        0.0572296 GeV in the experiment (tolerance 1e-09 relative)"``.

    Examples
    --------
    A few-ulp difference passes, a moved edge (1 part in 1e8) does not:

    >>> from darkmoments.experiments import edges_difference
    >>> edges_difference("E", [0.0, 1.0, 2.0 + 4e-16], [0.0, 1.0, 2.0]) is None
    True
    >>> edges_difference("E", [0.0, 1.0, 2.00000002], [0.0, 1.0, 2.0])
    'E edge 2 is 2.00000002 GeV in the file, 2.0 GeV in the experiment (tolerance 1e-09 relative)'
    """
    a = np.asarray(file_edges, dtype=float)
    b = np.asarray(expected, dtype=float)
    if a.shape != b.shape:
        return f"{name} has {a.size} edges {labels[0]}, {b.size} {labels[1]}"
    bad = np.flatnonzero(~(np.abs(a - b) <= EDGE_RTOL * np.abs(b) + EDGE_ATOL))
    if bad.size == 0:
        return None
    i = int(bad[0])
    return (
        f"{name} edge {i} is {float(a[i])!r} GeV {labels[0]}, {float(b[i])!r} GeV "
        f"{labels[1]} (tolerance {EDGE_RTOL:g} relative)"
    )


def cuts_difference(stored: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """Describe how two cut dictionaries differ (same keys, values within ``CUT_RTOL``).

    Parameters
    ----------
    stored, expected : mapping
        Cut name to value (GeV, or a fraction of E0), as :meth:`Cuts.to_dict`.

    Returns
    -------
    str or None
        ``None`` if they match within ``CUT_RTOL`` (1e-9 relative), else the first
        difference.

    Examples
    --------
    >>> from darkmoments.experiments import cuts_difference
    >>> cuts_difference({"e_max_fraction": 0.3}, {"e_max_fraction": 0.3 * (1 + 1e-12)}) is None
    True
    >>> cuts_difference({"e_max_fraction": 0.3}, {"e_max_fraction": 0.25})
    'cut e_max_fraction is 0.3, expected 0.25 (tolerance 1e-09 relative)'
    >>> cuts_difference({}, {"pt_min": 0.01})
    "cuts {} != {'pt_min': 0.01}"
    """
    if set(stored) != set(expected):
        return f"cuts {dict(stored)} != {dict(expected)}"
    for k in sorted(expected):
        a, b = float(stored[k]), float(expected[k])
        if not math.isclose(a, b, rel_tol=CUT_RTOL, abs_tol=1e-15):
            return f"cut {k} is {a!r}, expected {b!r} (tolerance {CUT_RTOL:g} relative)"
    return None


def check_edges(name: str, edges: Sequence[float] | ArrayLike) -> tuple[float, ...]:
    """Validate bin edges in GeV: 1D, at least 2, finite, >= 0, strictly increasing.

    The one edge validator of darkmoments (template binnings, analytic distributions).

    Parameters
    ----------
    name : str
        Parameter name used in the message (``"pt_edges"``).
    edges : sequence of float
        The edges in GeV.

    Returns
    -------
    tuple of float

    Raises
    ------
    InputError
        Naming the parameter and what is wrong (a ``ValueError``).

    Examples
    --------
    >>> from darkmoments.experiments import check_edges
    >>> check_edges("pt_edges", [0, 0.01, 0.1])
    (0.0, 0.01, 0.1)
    >>> check_edges("pt_edges", [0.0, 0.1, 0.1])
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: pt_edges must be strictly increasing, got [0.0, 0.1, 0.1]
    """
    try:
        arr = np.asarray(edges, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be a 1D list of at least 2 bin edges (GeV), got {edges!r}"
        ) from None
    if arr.ndim != 1 or arr.size < 2:
        raise InputError(f"{name} must be a 1D list of at least 2 bin edges (GeV), got {edges!r}")
    if not np.all(np.isfinite(arr)) or arr[0] < 0:
        raise InputError(f"{name} must be finite and >= 0 GeV, got first edge {arr[0]}")
    if np.any(np.diff(arr) <= 0):
        raise InputError(f"{name} must be strictly increasing, got {arr.tolist()}")
    return tuple(float(x) for x in arr)


@dataclass(frozen=True)
class Binning:
    """Bin edges of a template in the recoil-lepton energy E and transverse momentum p_T.

    Attributes
    ----------
    e_edges : tuple of float
        Edges in E, GeV, strictly increasing, >= 0.
    pt_edges : tuple of float
        Edges in p_T, GeV, strictly increasing, >= 0.

    Notes
    -----
    Events outside the edges do not enter the template; they count as failing the selection
    (the template's ``selection_efficiency`` accounts for them).  The default binning
    (:func:`default_binning`) covers the whole phase space, so no event is lost.

    Examples
    --------
    >>> from darkmoments.experiments import Binning
    >>> b = Binning((0.0, 4.0, 8.0), (0.0, 0.01, 0.1, 8.0))  # GeV
    >>> b.shape  # (E bins, p_T bins)
    (2, 3)
    >>> b.difference((0.0, 4.0, 8.0), (0.0, 0.02, 0.1, 8.0))
    'p_T edge 1 is 0.02 GeV in the file, 0.01 GeV in the experiment (tolerance 1e-09 relative)'
    """

    e_edges: tuple[float, ...]
    pt_edges: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "e_edges", check_edges("e_edges", self.e_edges))
        object.__setattr__(self, "pt_edges", check_edges("pt_edges", self.pt_edges))

    @property
    def shape(self) -> tuple[int, int]:
        """Number of (E, p_T) bins."""
        return (len(self.e_edges) - 1, len(self.pt_edges) - 1)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain-data form (GeV edges) for metadata and TOML/JSON."""
        return {"e_edges": list(self.e_edges), "pt_edges": list(self.pt_edges)}

    def difference(
        self,
        e_edges: Sequence[float] | NDArray[np.float64],
        pt_edges: Sequence[float] | NDArray[np.float64],
    ) -> str | None:
        """First difference of other edges from these (:func:`edges_difference`), or None."""
        return edges_difference("E", e_edges, self.e_edges) or edges_difference(
            "p_T", pt_edges, self.pt_edges
        )


def default_binning(beam_energy: float) -> Binning:
    """The default template binning for a beam energy E0 [GeV].

    * E: 40 uniform bins on [0, E0] (100 MeV at 4 GeV, 200 MeV at 8 GeV).  The recoil energy
      distributions of the paper's figure 4 are broad on the scale of E0 (they move from the
      x -> 1 endpoint, E ~ 0, towards E0 as the A' gets lighter or the vertex harder), so a
      uniform grid at a few per cent of E0 resolves them; it is also comparable to the
      recoil-tracker momentum resolution that any real analysis would smear with.
    * p_T: one bin [0, 20 keV] and 47 log-spaced bins from 20 keV to E0 (each ~30 % wide).
      The recoil p_T scales with the A' mass: it is MeV-scale for a 1 MeV A' and reaches
      ~2 GeV for m_A' ~ 1-3 GeV at 8 GeV (figure 4 right; figure 5).  Uniform bins cannot
      resolve both ends with a 1e5-event template; log bins give every mass the same relative
      resolution.  The top edge is E0 because p_T <= |p| < E < E0, so no event overflows.

    40 x 48 = 1920 bins per template; with values and variances in float64 and gzip this
    keeps 2 experiments x 5 models x 40 masses well under the 30 MB budget.

    The edges are data, the same on every machine: computed in decimal arithmetic
    (:func:`uniform_grid`, :func:`geometric_grid`) and rounded to ``EDGE_DIGITS`` = 12
    significant digits, so no CPU-dependent ``np.geomspace`` bit enters them.  (The shipped
    files were built with ``np.geomspace`` edges, which differ from these by < 5e-12
    relative; a template file's own edges are authoritative and are compared with
    :data:`EDGE_RTOL`.)

    Parameters
    ----------
    beam_energy : float
        E0 in GeV (> 0).

    Returns
    -------
    Binning

    Examples
    --------
    >>> from darkmoments.experiments import default_binning
    >>> b = default_binning(8.0)
    >>> b.shape, b.e_edges[:3]  # 40 x 48 bins, 200 MeV in E at 8 GeV
    ((40, 48), (0.0, 0.2, 0.4))
    >>> b.pt_edges[:3], b.pt_edges[-1]  # [0, 20 keV], then log-spaced up to E0
    ((0.0, 2e-05, 2.63161747386e-05), 8.0)
    """
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    e_edges = uniform_grid(0.0, e0, _N_E_BINS + 1, EDGE_DIGITS)
    pt_edges = (0.0, *geometric_grid(_PT_LOW_EDGE, e0, _N_PT_BINS, EDGE_DIGITS))
    return Binning(e_edges, pt_edges)


def _opt_nonneg(name: str, value: float | None) -> float | None:
    return None if value is None else check_real(f"cut {name}", value, lo=0.0)


@dataclass(frozen=True)
class Cuts:
    """Selection on the recoil lepton.  Every cut defaults to ``None`` (not applied).

    Attributes
    ----------
    e_max_fraction : float or None
        Keep events with E < e_max_fraction * E0 (dimensionless, in (0, 1]; LDMX uses 0.3).
    e_min : float or None
        Keep events with E >= e_min [GeV].
    pt_min : float or None
        Keep events with p_T >= pt_min [GeV].
    pt_max : float or None
        Keep events with p_T < pt_max [GeV].

    Examples
    --------
    The LDMX missing-momentum signal region, E < 0.3 E0, on two 8 GeV recoils:

    >>> from darkmoments.experiments import Cuts
    >>> sr = Cuts(e_max_fraction=0.3)
    >>> sr.mask([1.0, 3.0], [0.1, 0.1], beam_energy=8.0)  # GeV; 3 GeV > 2.4 GeV fails
    array([ True, False])
    >>> sr.to_dict(), Cuts().is_empty
    ({'e_max_fraction': 0.3}, True)
    >>> Cuts(pt_min=0.5, pt_max=0.1)
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: cut pt_min (0.5 GeV) must be below pt_max (0.1 GeV)
    """

    e_max_fraction: float | None = None
    e_min: float | None = None
    pt_min: float | None = None
    pt_max: float | None = None

    def __post_init__(self) -> None:
        for name in ("e_min", "pt_min", "pt_max"):
            object.__setattr__(self, name, _opt_nonneg(name, getattr(self, name)))
        f = self.e_max_fraction
        if f is not None:
            if not is_real(f):
                raise InputTypeError(
                    f"cut e_max_fraction must be a number in (0, 1], got {f!r} ({type(f).__name__})"
                )
            if not (0.0 < float(f) <= 1.0):
                raise InputError(f"cut e_max_fraction must be in (0, 1], got {f}")
            object.__setattr__(self, "e_max_fraction", float(f))
        if self.pt_min is not None and self.pt_max is not None and self.pt_min >= self.pt_max:
            raise InputError(
                f"cut pt_min ({self.pt_min} GeV) must be below pt_max ({self.pt_max} GeV)"
            )

    @property
    def is_empty(self) -> bool:
        """True when no cut is applied."""
        return all(
            getattr(self, k) is None for k in ("e_max_fraction", "e_min", "pt_min", "pt_max")
        )

    def mask(self, energy: ArrayLike, pt: ArrayLike, beam_energy: float) -> NDArray[np.bool_]:
        """Boolean mask of events passing the cuts.

        Parameters
        ----------
        energy, pt : array_like
            Recoil-lepton energy and transverse momentum in GeV.
        beam_energy : float
            E0 in GeV (for ``e_max_fraction``).

        Returns
        -------
        numpy.ndarray of bool
        """
        e = np.asarray(energy, dtype=float)
        p = np.asarray(pt, dtype=float)
        keep = np.ones(np.broadcast(e, p).shape, dtype=bool)
        if self.e_max_fraction is not None:
            keep &= e < self.e_max_fraction * beam_energy
        if self.e_min is not None:
            keep &= e >= self.e_min
        if self.pt_min is not None:
            keep &= p >= self.pt_min
        if self.pt_max is not None:
            keep &= p < self.pt_max
        return keep

    def to_dict(self) -> dict[str, float]:
        """The cuts that are set, as plain data."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class MassGrid:
    """Log-spaced A' mass grid of the shipped templates.

    Attributes
    ----------
    m_min, m_max : float
        Lowest and highest mass in GeV.
    n : int
        Number of masses (>= 2).

    Examples
    --------
    >>> from darkmoments.experiments import MassGrid
    >>> MassGrid(0.001, 1.0, 4).masses()  # GeV
    array([0.001, 0.01 , 0.1  , 1.   ])
    """

    m_min: float
    m_max: float
    n: int = 40

    def __post_init__(self) -> None:
        if not (math.isfinite(self.m_min) and self.m_min > 0):
            raise InputError(f"mass grid minimum must be > 0 GeV, got {self.m_min}")
        if not (math.isfinite(self.m_max) and self.m_max > self.m_min):
            raise InputError(
                f"mass grid maximum must be > minimum ({self.m_min} GeV), got {self.m_max}"
            )
        if int(self.n) != self.n or self.n < 2:
            raise InputError(f"mass grid size must be an integer >= 2, got {self.n}")

    def masses(self) -> NDArray[np.float64]:
        """The grid masses in GeV (log-spaced, rounded to ``MASS_DIGITS`` = 6 digits).

        Computed with :func:`geometric_grid` (decimal arithmetic): the same values on every
        machine, so template keys and seeds derived from them never depend on the CPU.
        """
        return np.array(geometric_grid(self.m_min, self.m_max, int(self.n), MASS_DIGITS))


def default_mass_grid(beam_energy: float) -> MassGrid:
    """The default template mass grid for a beam energy E0 [GeV].

    40 log-spaced masses from 1 MeV to min(3 GeV, E0 / 2) (:class:`MassGrid`).

    Parameters
    ----------
    beam_energy : float
        E0 in GeV (> 0).

    Returns
    -------
    MassGrid

    Examples
    --------
    >>> from darkmoments.experiments import default_mass_grid
    >>> default_mass_grid(4.0)  # LDMX Phase I: up to E0 / 2 = 2 GeV
    MassGrid(m_min=0.001, m_max=2.0, n=40)
    >>> default_mass_grid(8.0).m_max  # GeV, capped at 3 GeV
    3.0
    """
    e0 = check_real("beam_energy", beam_energy, lo=0.0, lo_open=True, unit="GeV")
    return MassGrid(1.0e-3, min(3.0, 0.5 * e0), 40)


#: The LDMX missing-momentum signal region at detector level: recoil energy below 30 % of
#: the beam energy (E_e < 1.2 GeV for the 4 GeV beam; LDMX, arXiv:1808.05219, section on
#: the missing-momentum signal region; docs/detector.md section 7).  The photon-veto
#: (ECal/HCal) requirements of that region act on the background and are taken as fully
#: efficient for the signal (the experiment's ``efficiency`` can carry a measured value).
LDMX_SIGNAL_REGION: Cuts = Cuts(e_max_fraction=0.3)

#: Largest accepted relative normalisation uncertainty of a background (1000 %).
_MAX_BACKGROUND_UNCERTAINTY: float = 10.0


@dataclass(frozen=True)
class Background:
    """A user-supplied background: expected events per (E, p_T) bin and its normalisation.

    Attributes
    ----------
    counts : numpy.ndarray
        Expected background events per bin for the experiment's full exposure (its EOT and
        efficiency already applied), shape (n_E, n_pT), finite and >= 0.
    e_edges, pt_edges : tuple of float
        Bin edges in GeV; they must equal the experiment's binning (within ``EDGE_RTOL``).
    normalisation_uncertainty : float
        Relative (1 sigma) uncertainty of the total normalisation, in [0, 10].
    level : str
        The level the histogram is given at (``"truth"`` or ``"detector"``); it enters the
        statistics of that level only.
    source : str
        Where it came from (file name), for messages.

    Notes
    -----
    The default of every experiment is no background (``Experiment.background`` is None),
    as in the paper's zero-background reach.  How the statistics use it (a Poisson
    background per bin with one Gaussian-constrained normalisation nuisance) is
    ``docs/detector.md`` section 8.

    Examples
    --------
    Two E bins by one p_T bin (GeV edges), 3.5 expected events in all, known to 20 %:

    >>> from darkmoments.experiments import Background
    >>> bkg = Background([[3.0], [0.5]], (0.0, 1.0, 8.0), (0.0, 8.0), 0.2)
    >>> bkg.total, bkg.level
    (3.5, 'truth')
    >>> Background([[-1.0], [0.5]], (0.0, 1.0, 8.0), (0.0, 8.0))
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: <background>: background counts must be finite and >= 0 ...
    """

    counts: NDArray[np.float64]
    e_edges: tuple[float, ...]
    pt_edges: tuple[float, ...]
    normalisation_uncertainty: float = 0.0
    level: str = "truth"
    source: str = "<background>"

    def __post_init__(self) -> None:
        where = f"{self.source}: background"
        e = check_edges(f"{where} e_edges", self.e_edges)
        pt = check_edges(f"{where} pt_edges", self.pt_edges)
        try:
            c = np.array(self.counts, dtype=float)
        except (TypeError, ValueError):
            raise InputTypeError(f"{where} counts must be a 2D array of numbers") from None
        if c.shape != (len(e) - 1, len(pt) - 1):
            raise InputError(
                f"{where} counts must have shape (n_E, n_pT) = ({len(e) - 1}, {len(pt) - 1}) "
                f"from the edges, got {c.shape}"
            )
        if not np.all(np.isfinite(c)) or np.any(c < 0):
            raise InputError(f"{where} counts must be finite and >= 0 events per bin")
        c.setflags(write=False)
        unc = check_real(
            f"{where} normalisation_uncertainty",
            self.normalisation_uncertainty,
            lo=0.0,
            hi=_MAX_BACKGROUND_UNCERTAINTY,
            unit="(relative)",
        )
        object.__setattr__(self, "counts", c)
        object.__setattr__(self, "e_edges", e)
        object.__setattr__(self, "pt_edges", pt)
        object.__setattr__(self, "normalisation_uncertainty", unc)
        object.__setattr__(self, "level", check_level(self.level))

    @property
    def total(self) -> float:
        """Total expected background events."""
        return float(self.counts.sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (edges in GeV, counts in events per bin)."""
        return {
            "counts": self.counts.tolist(),
            "e_edges": list(self.e_edges),
            "pt_edges": list(self.pt_edges),
            "normalisation_uncertainty": self.normalisation_uncertainty,
            "level": self.level,
        }


_BACKGROUND_KEYS = {"file", "normalisation_uncertainty", "level"}


def read_background(
    path: str | os.PathLike[str],
    normalisation_uncertainty: float = 0.0,
    level: str = "truth",
) -> Background:
    """Read a background histogram from a ``.json`` or ``.npz`` file.

    Either file holds ``e_edges`` and ``pt_edges`` (GeV) and ``counts`` (expected events
    per bin, shape (n_E, n_pT), the experiment's full exposure).

    Parameters
    ----------
    path : path-like
        The file.
    normalisation_uncertainty : float
        Relative uncertainty of its normalisation, in [0, 10].
    level : str
        ``"truth"`` or ``"detector"``.

    Returns
    -------
    Background

    Raises
    ------
    InputError
        Missing file, unknown suffix, missing arrays, bad shapes or values (naming the
        file and the key).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from darkmoments.experiments import read_background
    >>> path = Path(tempfile.mkdtemp()) / "bkg.json"
    >>> _ = path.write_text(json.dumps(
    ...     {"e_edges": [0, 2.4, 8], "pt_edges": [0, 8], "counts": [[0.8], [12.0]]}))
    >>> bkg = read_background(path, normalisation_uncertainty=0.1, level="detector")
    >>> bkg.total, bkg.counts.shape, bkg.normalisation_uncertainty
    (12.8, (2, 1), 0.1)
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"background file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".json":
        import json

        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{p}: must hold a JSON object with e_edges, pt_edges, counts")
    elif suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise InputError(f"{p}: not a readable .npz file ({exc})") from None
    else:
        raise InputError(f"background file {str(p)!r} must end in .json or .npz")
    missing = sorted({"e_edges", "pt_edges", "counts"} - set(data))
    if missing:
        raise InputError(f"{p}: background lacks the key(s) {missing}")
    extra = sorted(set(data) - {"e_edges", "pt_edges", "counts"})
    if extra:
        raise InputError(
            f"{p}: unknown background key(s) {extra}; allowed: counts, e_edges, pt_edges"
        )
    return Background(
        np.asarray(data["counts"], dtype=float),
        tuple(np.asarray(data["e_edges"], dtype=float).tolist()),
        tuple(np.asarray(data["pt_edges"], dtype=float).tolist()),
        normalisation_uncertainty,
        level,
        str(p),
    )


@dataclass(frozen=True)
class Experiment:
    """A missing-momentum experiment setup.

    Attributes
    ----------
    name : str
        Short name, also the template file stem (``ldmx-phase2``).
    lepton : str
        Beam lepton, ``"e"`` or ``"mu"``.
    beam_energy : float
        E0 in GeV.
    eot : float
        Leptons on target.
    target : Target
        Target material.
    thickness_cm : float
        Target thickness in cm.
    efficiency : float
        Signal efficiency in [0, 1] applied on top of the selection.
    cuts : Cuts
        Recoil-lepton selection (default: none).
    binning : Binning
        Template binning in GeV.  Always set: left out (or given as ``None``) at
        construction, it is :func:`default_binning` of ``beam_energy``.
    description : str
        Free text with the source of the numbers.
    mass_grid : MassGrid
        Masses of the shipped/built templates.  Always set: left out (or ``None``) at
        construction, it is :func:`default_mass_grid` of ``beam_energy`` (40 log-spaced
        masses from 1 MeV to min(3 GeV, E0 / 2)).
    detector : DetectorConfig or None
        Target and detector simulation for detector-level templates and events
        (docs/detector.md); ``None``: the setup has no detector level.  Its material and
        thickness are always the experiment's own (they replace the config's).
    detector_cuts : Cuts
        The selection applied at detector level (default: none; LDMX:
        :data:`LDMX_SIGNAL_REGION`).  ``cuts`` stays the truth-level selection.
    background : Background or None
        Optional user-supplied background histogram (default: none, as the paper); its
        binning must be the experiment's.
    thick_target : bool
        True: the yield integrates over depth with the beam lepton's energy loss
        (:meth:`depth_factor`, :mod:`darkmoments.thick_target`; muon beams only).  False (the
        default, LDMX and the paper): the thin-target yield at the beam energy.

    Examples
    --------
    LDMX Phase II: 1e16 electrons of 8 GeV on 0.1 X0 of tungsten, 22.2 events per pb:

    >>> from darkmoments.experiments import get_experiment
    >>> ex = get_experiment("ldmx-phase2")
    >>> ex.lepton, ex.beam_energy, ex.eot, round(ex.thickness_cm, 5), ex.thickness_x0
    ('e', 8.0, 1e+16, 0.03504, 0.1)
    >>> round(ex.events_per_pb, 2), ex.binning.shape, ex.mass_grid.n
    (22.15, (40, 48), 40)
    >>> ex.cuts_at("truth").is_empty, ex.cuts_at("detector").to_dict()
    (True, {'e_max_fraction': 0.3})
    >>> ex.background_at("truth") is None  # no background: the paper's zero-background reach
    True

    An own setup: a 16 GeV beam on 0.2 X0 of aluminium (binning and masses by default):

    >>> from darkmoments.experiments import Experiment
    >>> mine = Experiment("al-16", "e", 16.0, 1e15, "Al", 0.2 * 8.897)
    >>> mine.mass_grid.m_max, mine.binning.e_edges[1], mine.detector is None
    (3.0, 0.4, True)
    """

    name: str
    lepton: str
    beam_energy: float
    eot: float
    target: Target
    thickness_cm: float
    efficiency: float = 1.0
    cuts: Cuts = field(default_factory=Cuts)
    # None only as the constructor's "use the default"; __post_init__ always replaces it
    binning: Binning = field(default=None)  # type: ignore[assignment]
    description: str = ""
    mass_grid: MassGrid = field(default=None)  # type: ignore[assignment]
    detector: DetectorConfig | None = None
    detector_cuts: Cuts = field(default_factory=Cuts)
    background: Background | None = None
    thick_target: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError(f"experiment name must be a non-empty string, got {self.name!r}")
        if any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise InputError(f"experiment name {self.name!r} may not contain '/' or start with '.'")
        if self.lepton not in ("e", "mu"):
            raise InputError(f"lepton must be 'e' or 'mu', got {self.lepton!r}")
        for name in ("beam_energy", "eot", "thickness_cm"):
            v = getattr(self, name)
            if not is_real(v) or not math.isfinite(v):
                raise InputTypeError(f"{name} must be a finite number, got {v!r}")
            if v <= 0:
                raise InputError(f"{name} must be > 0, got {v}")
            object.__setattr__(self, name, float(v))
        eff = self.efficiency
        if not is_real(eff) or not (0.0 <= eff <= 1.0):
            raise InputError(f"efficiency must be a number in [0, 1], got {eff!r}")
        object.__setattr__(self, "efficiency", float(eff))
        object.__setattr__(self, "target", get_target(self.target))
        if not isinstance(self.cuts, Cuts):
            raise InputTypeError(f"cuts must be a Cuts instance, got {type(self.cuts).__name__}")
        if self.binning is None:
            object.__setattr__(self, "binning", default_binning(self.beam_energy))
        elif not isinstance(self.binning, Binning):
            raise InputTypeError(
                f"binning must be a Binning instance, got {type(self.binning).__name__}"
            )
        if self.mass_grid is None:
            object.__setattr__(self, "mass_grid", default_mass_grid(self.beam_energy))
        elif not isinstance(self.mass_grid, MassGrid):
            raise InputTypeError(
                f"mass_grid must be a MassGrid instance, got {type(self.mass_grid).__name__}"
            )
        self._check_detector_level()
        self._check_thick_target()

    def _check_thick_target(self) -> None:
        """``thick_target`` is a bool, and only for heavy-lepton beams."""
        if not isinstance(self.thick_target, bool | np.bool_):
            raise InputTypeError(
                f"thick_target must be true or false, got {self.thick_target!r} "
                f"({type(self.thick_target).__name__})"
            )
        object.__setattr__(self, "thick_target", bool(self.thick_target))
        if self.thick_target and self.lepton != "mu":
            raise InputError(
                f"experiment {self.name}: thick_target needs a muon beam (lepton = 'mu'); an "
                "electron's energy loss is bremsstrahlung straggling, simulated at the detector "
                "level (docs/detector.md)"
            )

    def _check_detector_level(self) -> None:
        """Validate detector, detector_cuts and background; tie the detector to the target."""
        if self.detector is not None:
            if not isinstance(self.detector, DetectorConfig):
                raise InputTypeError(
                    f"detector must be a DetectorConfig or None, got {type(self.detector).__name__}"
                )
            thickness = self.thickness_cm / self.target.X0
            if (self.detector.target, self.detector.thickness_x0) != (
                self.target.symbol,
                thickness,
            ):
                det = self.detector.replace(target=self.target.symbol, thickness_x0=thickness)
                object.__setattr__(self, "detector", det)
        if not isinstance(self.detector_cuts, Cuts):
            raise InputTypeError(
                f"detector_cuts must be a Cuts instance, got {type(self.detector_cuts).__name__}"
            )
        bkg = self.background
        if bkg is None:
            return
        if not isinstance(bkg, Background):
            raise InputTypeError(
                f"background must be a Background or None, got {type(bkg).__name__}"
            )
        diff = self.binning.difference(bkg.e_edges, bkg.pt_edges)
        if diff is not None:
            raise InputError(
                f"{bkg.source}: background binning differs from the experiment's: "
                + diff.replace("in the file", "in the background")
            )
        if bkg.level == "detector" and self.detector is None:
            raise InputError(
                f"{bkg.source}: a detector-level background needs a [detector] table "
                "(the experiment has no detector level)"
            )

    def cuts_at(self, level: str) -> Cuts:
        """The selection at a level: ``cuts`` (truth) or ``detector_cuts`` (detector)."""
        return self.cuts if check_level(level) == "truth" else self.detector_cuts

    def require_detector(self) -> DetectorConfig:
        """The detector configuration; an InputError naming the experiment if it has none."""
        if self.detector is None:
            raise InputError(
                f"experiment {self.name} has no detector level (no [detector] table); "
                "allowed level: truth"
            )
        return self.detector

    def background_at(self, level: str) -> Background | None:
        """The background that applies at a level (None: zero background)."""
        bkg = self.background
        return bkg if bkg is not None and bkg.level == check_level(level) else None

    @property
    def events_per_pb(self) -> float:
        """Signal events per pb of cross section at efficiency 1.

        EOT * n_nuclei [cm^-3] * thickness [cm] * 1e-36 [cm^2/pb] (docs/physics.md section 3);
        22.2 for ``ldmx-phase2``.
        """
        return self.eot * self.target.nuclei_per_cm3 * self.thickness_cm * PB_TO_CM2

    @property
    def thickness_x0(self) -> float:
        """Target thickness in radiation lengths."""
        return self.thickness_cm / self.target.X0

    def depth_factor(
        self, model: str, mass: ArrayLike, *, nodes: int | None = None, **options: Any
    ) -> Any:
        """Thick-target factor f = <sigma> / sigma(E0) of a model at A' mass(es) [GeV].

        1.0 exactly for a thin target (``thick_target`` False).  Otherwise the exact
        generator's cross section averaged over depth with the beam lepton's mean energy
        loss (:func:`darkmoments.thick_target.depth_factor`, cached; about 1 s per mass on
        first use).  ``nodes``: compute f at that many of the masses only and interpolate
        (:func:`darkmoments.thick_target.depth_factors`; 9 for a 40-mass grid).  ``options``
        go to :func:`darkmoments.thick_target.depth_factor` (``radiative``, ``n_energies``,
        ``seed``, ``rtol``).

        Returns
        -------
        float or numpy.ndarray
            One factor per mass (the shape of ``mass``).
        """
        m = np.asarray(mass, dtype=float)
        if not self.thick_target:
            return 1.0 if m.ndim == 0 else np.ones(m.shape)
        from .thick_target import depth_factor, depth_factors

        kw: dict[str, Any] = {"lepton": self.lepton, "target": self.target, **options}
        if nodes is not None:
            f = depth_factors(model, m, self.beam_energy, self.thickness_cm, n_nodes=nodes, **kw)
        else:
            f = np.array(
                [
                    depth_factor(model, float(x), self.beam_energy, self.thickness_cm, **kw)
                    for x in m.ravel()
                ]
            ).reshape(m.shape)
        return float(f) if f.ndim == 0 else f

    def expected_events(
        self,
        sigma_pb: ArrayLike,
        coupling: ArrayLike,
        selection_efficiency: float = 1.0,
        *,
        model: str | None = None,
        mass: ArrayLike | None = None,
        depth_factor: ArrayLike | None = None,
    ) -> NDArray[np.float64] | float:
        """Expected signal events N = sigma(g=1) g^2 * eps_sel * efficiency * events_per_pb * f.

        docs/physics.md section 3: N_sig = EOT (rho N_A / A) L <sigma> efficiency; cross
        sections scale as g^2 in every model.  f = <sigma> / sigma(E0) is 1 for a thin target;
        for a thick one (``thick_target``) it is ``depth_factor`` if given, else
        :meth:`depth_factor` of ``model`` at ``mass`` (section 3.4).  Same as
        :func:`expected_events` with this setup.

        Parameters
        ----------
        sigma_pb : float or array
            Cross section at unit coupling in pb at the beam energy (before selection), finite
            and >= 0.
        coupling : float or array
            g_f in the model's units, finite.
        selection_efficiency : float
            Fraction of signal passing the recoil-lepton selection (0..1).
        model : str, optional
            Model id (thick target: needed unless ``depth_factor`` is given).
        mass : float or array, optional
            A' mass(es) in GeV of ``sigma_pb`` (thick target, with ``model``).
        depth_factor : float or array, optional
            f itself (> 0), e.g. precomputed; overrides ``model``/``mass``.

        Returns
        -------
        float or numpy.ndarray
            Expected number of events (inf for a coupling so large that it overflows;
            callers check finiteness).

        Raises
        ------
        InputError
            Bad values; a thick target without ``model`` and ``mass`` or ``depth_factor``.

        Examples
        --------
        >>> from darkmoments.experiments import get_experiment
        >>> round(get_experiment("ldmx-phase2").expected_events(3.3456e9, 1e-5), 2)  # events
        7.41

        A thick target needs the depth factor f (or the model and mass to compute it); with
        f = 0.6 given, 1e3 pb at g = 1e-3 on M3 Phase 1 (1e10 muons, 50 X0 of W):

        >>> m3 = get_experiment("m3-phase1")
        >>> f"{m3.expected_events(1e3, 1e-3, depth_factor=0.6):.3g}"
        '6.65e-06'
        >>> m3.expected_events(1e3, 1e-3)
        Traceback (most recent call last):
        ...
        darkmoments.errors.InputError: ...
        """
        if not 0.0 <= selection_efficiency <= 1.0:
            raise InputError(f"selection_efficiency must be in [0, 1], got {selection_efficiency}")
        s = np.asarray(sigma_pb, dtype=float)
        g = np.asarray(coupling, dtype=float)
        if np.any(s < 0) or not np.all(np.isfinite(s)):
            raise InputError(f"sigma_pb must be finite and >= 0 pb, got {sigma_pb!s}")
        if not np.all(np.isfinite(g)):
            raise InputError(f"coupling must be finite, got {coupling!s}")
        f = self._yield_factor(model, mass, depth_factor)
        with np.errstate(over="ignore"):  # a huge coupling gives inf; callers check finiteness
            n = s * g**2 * selection_efficiency * self.efficiency * self.events_per_pb * f
        return float(n) if n.ndim == 0 else n

    def _yield_factor(
        self, model: str | None, mass: ArrayLike | None, depth_factor: ArrayLike | None
    ) -> Any:
        """f of :meth:`expected_events` (1 for a thin target)."""
        if depth_factor is not None:
            f = np.asarray(depth_factor, dtype=float)
            if not (np.all(np.isfinite(f)) and np.all(f > 0)):
                raise InputError(f"depth_factor must be finite and > 0, got {depth_factor!s}")
            return f
        if not self.thick_target:
            return 1.0
        if model is None or mass is None:
            raise InputError(
                f"experiment {self.name} has a thick target: its yield integrates sigma over "
                "the depth (docs/physics.md section 3.4); give model and mass (or depth_factor)"
            )
        return np.asarray(self.depth_factor(model, mass), dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (the TOML keys of :func:`experiment_from_toml`)."""
        return {
            "name": self.name,
            "lepton": self.lepton,
            "beam_energy": self.beam_energy,
            "eot": self.eot,
            "target": self.target.symbol,
            "thickness_cm": self.thickness_cm,
            "efficiency": self.efficiency,
            "description": self.description,
            "cuts": self.cuts.to_dict(),
            "binning": self.binning.to_dict(),
            "masses": {
                "min": self.mass_grid.m_min,
                "max": self.mass_grid.m_max,
                "n": self.mass_grid.n,
            },
            **self._detector_dict(),
            **({"thick_target": True} if self.thick_target else {}),
        }

    def _detector_dict(self) -> dict[str, Any]:
        """The detector-level keys of :meth:`to_dict` (none for a truth-only setup)."""
        out: dict[str, Any] = {}
        if self.detector is not None:
            det = self.detector.to_dict()
            for k in ("target", "thickness_x0"):
                del det[k]
            out["detector"] = {**det, "cuts": self.detector_cuts.to_dict()}
        if self.background is not None:
            out["background"] = self.background.to_dict()
        return out


def _ldmx(name: str, beam_energy: float, eot: float, m_max: float, phase: str) -> Experiment:
    w = get_target("W")
    return Experiment(
        name=name,
        lepton="e",
        beam_energy=beam_energy,
        eot=eot,
        target=w,
        thickness_cm=LDMX_TARGET_THICKNESS_X0 * w.X0,
        efficiency=1.0,
        cuts=Cuts(),
        binning=default_binning(beam_energy),
        description=(
            f"LDMX {phase}: {beam_energy:g} GeV e- beam, {eot:g} EOT, tungsten target of "
            f"0.1 X0 (Catena, Gray, Jerkvall, JHEP 09 (2025) 040, section 4.2; "
            f"LDMX arXiv:1808.05219). No selection at truth level (zero-background reach, "
            f"the paper's); at detector level the LDMX defaults of docs/detector.md and the "
            f"missing-momentum signal region E < 0.3 E0."
        ),
        mass_grid=MassGrid(1.0e-3, m_max, 40),
        detector=DetectorConfig.ldmx("W", LDMX_TARGET_THICKNESS_X0),
        detector_cuts=LDMX_SIGNAL_REGION,
    )


def _m3(name: str, phase: str) -> Experiment:
    """An M3 setup (docs/physics.md section 3.4; every number's source in its constant)."""
    w = get_target("W")
    mot = M3_MOT[phase]
    label = {"phase1": "Phase 1", "phase2": "Phase 2"}[phase]
    return Experiment(
        name=name,
        lepton="mu",
        beam_energy=M3_BEAM_ENERGY,
        eot=mot,
        target=w,
        thickness_cm=M3_TARGET_THICKNESS_X0 * w.X0,
        efficiency=1.0,
        cuts=Cuts(),
        binning=default_binning(M3_BEAM_ENERGY),
        description=(
            f"M3 {label}: {M3_BEAM_ENERGY:g} GeV mu- beam, {mot:g} muons on target (Kahn, "
            f"Krnjaic, Tran, Whitbeck, JHEP 09 (2018) 153, arXiv:1804.03144, abstract), on a "
            f"thick active tungsten target of {M3_TARGET_THICKNESS_X0:g} X0 "
            f"({M3_TARGET_THICKNESS_X0 * w.X0:.4g} cm; the beam energy is issue 14's summary "
            "of the paper and the thickness the recalled value, neither confirmed from a "
            "searchable text of the paper). Yield integrated over depth with the muon's mean "
            "ionisation and radiative loss (darkmoments.thick_target). No truth-level "
            "selection (the paper's signal: the muon loses a large fraction of its momentum; "
            "no cut value could be confirmed). No detector level."
        ),
        # the LDMX Phase II grid (1 MeV - 3 GeV): the same nodes for combined fits, and above
        # 3 GeV the coherent yield has fallen by > 1e7 from 1 MeV (docs/physics.md 3.4)
        mass_grid=MassGrid(1.0e-3, 3.0, 40),
        thick_target=True,
    )


#: What public entry points accept as an experiment: a name, a TOML path or an Experiment
#: (resolved once by :func:`get_experiment`; everything below takes the Experiment).
ExperimentLike = str | os.PathLike[str] | Experiment

EXPERIMENTS: dict[str, Experiment] = {
    "ldmx-phase1": _ldmx("ldmx-phase1", 4.0, 4.0e14, 2.0, "Phase I"),
    "ldmx-phase2": _ldmx("ldmx-phase2", 8.0, 1.0e16, 3.0, "Phase II"),
    "m3-phase1": _m3("m3-phase1", "phase1"),
    "m3-phase2": _m3("m3-phase2", "phase2"),
}

_TOP_KEYS = {
    "name",
    "lepton",
    "beam_energy",
    "eot",
    "target",
    "thickness_cm",
    "thickness_x0",
    "efficiency",
    "description",
    "cuts",
    "binning",
    "masses",
    "detector",
    "background",
    "thick_target",
}


def experiment_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Experiment:
    """Build an :class:`Experiment` from plain data (the TOML layout).

    Parameters
    ----------
    data : mapping
        Keys as in :func:`experiment_from_toml`.
    source : str
        Where the data came from (used in error messages).

    Returns
    -------
    Experiment

    Examples
    --------
    >>> from darkmoments.experiments import experiment_from_dict
    >>> ex = experiment_from_dict({"name": "w-4", "lepton": "e", "beam_energy": 4.0,
    ...                            "eot": 4e14, "target": "W", "thickness_x0": 0.1,
    ...                            "cuts": {"e_max_fraction": 0.3}})
    >>> round(ex.thickness_cm, 5), round(ex.events_per_pb, 4), ex.cuts.to_dict()
    (0.03504, 0.8861, {'e_max_fraction': 0.3})
    >>> experiment_from_dict({"name": "x", "lepton": "e", "beam_energy": 4.0, "eot": 1e14,
    ...                       "target": "W", "thickness": 0.1})
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: <dict>: unknown experiment keys ['thickness']; allowed: [...]
    """
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise InputError(
            f"{source}: unknown experiment keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}"
        )
    missing = {"name", "lepton", "beam_energy", "eot", "target"} - set(data)
    if missing:
        raise InputError(f"{source}: missing experiment keys {sorted(missing)}")
    target = get_target(data["target"])
    if ("thickness_cm" in data) == ("thickness_x0" in data):
        raise InputError(f"{source}: give exactly one of thickness_cm or thickness_x0")
    if "thickness_cm" in data:
        thickness = float(data["thickness_cm"])
    else:
        thickness = float(data["thickness_x0"]) * target.X0
    beam_energy = float(data["beam_energy"])
    cuts = _cuts_from(data.get("cuts", {}), "[cuts]", source)
    # binning and mass grid left out: the Experiment's defaults for its beam energy
    optional: dict[str, Any] = {}
    if "binning" in data:
        b = dict(data["binning"])
        if set(b) != {"e_edges", "pt_edges"}:
            raise InputError(f"{source}: [binning] needs exactly e_edges and pt_edges (GeV)")
        optional["binning"] = Binning(tuple(b["e_edges"]), tuple(b["pt_edges"]))
    if "masses" in data:
        m = dict(data["masses"])
        if not {"min", "max"} <= set(m) or set(m) - {"min", "max", "n"}:
            raise InputError(f"{source}: [masses] needs min, max (GeV) and optionally n")
        optional["mass_grid"] = MassGrid(float(m["min"]), float(m["max"]), int(m.get("n", 40)))
    if "detector" in data:
        optional.update(
            _detector_from(data["detector"], target.symbol, thickness / target.X0, source)
        )
    if "background" in data:
        optional["background"] = _background_from(data["background"], source)
    if "thick_target" in data:
        optional["thick_target"] = data["thick_target"]
    return Experiment(
        name=str(data["name"]),
        lepton=str(data["lepton"]),
        beam_energy=beam_energy,
        eot=float(data["eot"]),
        target=target,
        thickness_cm=thickness,
        efficiency=float(data.get("efficiency", 1.0)),
        cuts=cuts,
        description=str(data.get("description", "")),
        **optional,
    )


def _cuts_from(table: Any, where: str, source: str) -> Cuts:
    """A :class:`Cuts` from a ``[cuts]``-like table (unknown keys refused)."""
    if not isinstance(table, Mapping):
        raise InputTypeError(f"{source}: {where} must be a table, got {type(table).__name__}")
    allowed = [f.name for f in fields(Cuts)]
    bad = sorted(set(table) - set(allowed))
    if bad:
        raise InputError(f"{source}: unknown {where} key(s) {bad}; allowed: {', '.join(allowed)}")
    try:
        return Cuts(**dict(table))
    except (InputError, InputTypeError) as exc:
        raise type(exc)(f"{source}: {where} {exc}") from exc


def _detector_from(table: Any, target: str, thickness_x0: float, source: str) -> dict[str, Any]:
    """``detector`` and ``detector_cuts`` from a ``[detector]`` table (with ``[detector.cuts]``)."""
    if not isinstance(table, Mapping):
        raise InputTypeError(
            f"{source}: [detector] must be a table of key = value pairs, got {type(table).__name__}"
        )
    params = {k: v for k, v in table.items() if k not in DETECTOR_LEVEL_KEYS}
    config = DetectorConfig.from_dict(
        params, target=target, thickness_x0=thickness_x0, source=source
    )
    cuts = _cuts_from(table.get("cuts", {}), "[detector.cuts]", source)
    return {"detector": config, "detector_cuts": cuts}


def _background_from(table: Any, source: str) -> Background:
    """The :class:`Background` of a ``[background]`` table (file relative to the TOML)."""
    if not isinstance(table, Mapping):
        raise InputTypeError(f"{source}: [background] must be a table, got {type(table).__name__}")
    bad = sorted(set(table) - _BACKGROUND_KEYS)
    if bad:
        raise InputError(
            f"{source}: unknown [background] key(s) {bad}; allowed: {sorted(_BACKGROUND_KEYS)}"
        )
    if "file" not in table or not isinstance(table["file"], str):
        raise InputError(f'{source}: [background] needs file = "<histogram .json or .npz>"')
    path = Path(table["file"])
    if not path.is_absolute() and source not in ("<dict>", ""):
        path = Path(source).parent / path
    unc = table.get("normalisation_uncertainty", 0.0)
    try:
        return read_background(path, unc, table.get("level", "truth"))
    except (InputError, InputTypeError) as exc:
        raise type(exc)(f"{source}: [background] {exc}") from exc


def experiment_from_toml(path: str | os.PathLike[str]) -> Experiment:
    """Read a user-defined experiment from a TOML file.

    Layout (units: GeV, cm)::

        name = "my-setup"          # also the template file stem
        lepton = "e"               # "e" or "mu"
        beam_energy = 8.0          # GeV
        eot = 1e16
        target = "W"               # symbol or name known to darkmoments.targets
        thickness_x0 = 0.1         # or thickness_cm = 0.03504
        efficiency = 1.0           # optional, 0..1
        description = "..."        # optional
        [cuts]                     # optional; every cut optional
        e_max_fraction = 0.3       # E < 0.3 E0
        pt_min = 0.0               # GeV
        pt_max = 2.0               # GeV
        [binning]                  # optional; default_binning(beam_energy) otherwise
        e_edges = [0.0, 1.0, ...]  # GeV
        pt_edges = [0.0, 0.01, ...]
        [masses]                   # optional template grid (GeV, log-spaced)
        min = 0.001
        max = 3.0
        n = 40
        [detector]                 # optional: the detector level (docs/detector.md)
        p_min = 0.05               # GeV; every key optional, LDMX defaults
        smearing = true
        [detector.cuts]            # optional detector-level selection ([cuts] keys)
        e_max_fraction = 0.3
        [background]               # optional background histogram (default: none)
        file = "bkg.json"          # e_edges, pt_edges (GeV), counts (events per bin)
        normalisation_uncertainty = 0.2   # relative
        level = "detector"         # the level it applies to (truth or detector)
        thick_target = false       # optional; true: depth-integrated yield (muon beams)

    Parameters
    ----------
    path : path-like
        The TOML file.

    Returns
    -------
    Experiment

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.experiments import experiment_from_toml
    >>> toml = Path(tempfile.mkdtemp()) / "pb-8.toml"
    >>> _ = toml.write_text('''
    ... name = "pb-8"
    ... lepton = "e"
    ... beam_energy = 8.0
    ... eot = 1e16
    ... target = "Pb"
    ... thickness_x0 = 0.1
    ... [masses]
    ... min = 0.01
    ... max = 1.0
    ... n = 3
    ... ''')
    >>> ex = experiment_from_toml(toml)
    >>> ex.target.symbol, round(ex.thickness_cm, 4), ex.mass_grid.masses()
    ('Pb', 0.0561, array([0.01, 0.1 , 1.  ]))
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from exc
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a TOML experiment file") from None
    try:
        return experiment_from_dict(data, source=str(p))
    except (ValueError, TypeError) as exc:
        if str(p) in str(exc):
            raise
        cls = InputTypeError if isinstance(exc, TypeError) else InputError
        raise cls(f"{p}: {exc}") from exc


def get_experiment(experiment: ExperimentLike) -> Experiment:
    """Return a named experiment, an :class:`Experiment` unchanged, or one read from TOML.

    Parameters
    ----------
    experiment : str, path or Experiment
        ``"ldmx-phase1"``, ``"ldmx-phase2"``, ``"m3-phase1"``, ``"m3-phase2"``
        (case-insensitive) or the path of a ``.toml`` file.

    Returns
    -------
    Experiment

    Raises
    ------
    ValueError
        If the name is unknown and no such TOML file exists; the message lists the names.

    Examples
    --------
    >>> from darkmoments.experiments import get_experiment
    >>> get_experiment("LDMX-Phase1").beam_energy  # GeV
    4.0
    >>> m3 = get_experiment("m3-phase2")
    >>> m3.lepton, f"{m3.eot:g}", m3.thick_target, m3.thickness_cm  # 50 X0 of tungsten, cm
    ('mu', '1e+13', True, 17.52)
    >>> get_experiment("ldmx-phase3")
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: unknown experiment 'ldmx-phase3'; allowed: ldmx-phase1, ...
    """
    if isinstance(experiment, Experiment):
        return experiment
    if not isinstance(experiment, str | os.PathLike):
        raise InputTypeError(
            f"experiment must be a name such as 'ldmx-phase2' or a TOML path, "
            f"got {type(experiment).__name__}"
        )
    key = os.fspath(experiment).strip()
    if key.lower() in EXPERIMENTS:
        return EXPERIMENTS[key.lower()]
    if key.endswith(".toml") or os.path.isfile(key):
        if not os.path.isfile(key):
            raise InputError(f"experiment file {key!r} does not exist")
        return experiment_from_toml(key)
    raise InputError(
        f"unknown experiment {key!r}; allowed: {', '.join(EXPERIMENTS)} or a .toml file"
    )


def expected_events(
    sigma_pb: ArrayLike,
    coupling: ArrayLike,
    experiment: ExperimentLike = "ldmx-phase2",
    selection_efficiency: float = 1.0,
    *,
    model: str | None = None,
    mass: ArrayLike | None = None,
    depth_factor: ArrayLike | None = None,
) -> NDArray[np.float64] | float:
    """Expected signal events N = sigma(g=1) g^2 * eps_sel * eps * events_per_pb * f.

    docs/physics.md section 3: N_sig = EOT (rho N_A / A) L <sigma> efficiency; cross sections
    scale as g^2 in every model; f = 1 for a thin target, the depth factor of a thick one
    (:meth:`Experiment.expected_events`).

    Parameters
    ----------
    sigma_pb : float or array
        Cross section at unit coupling in pb at the beam energy (before selection).
    coupling : float or array
        g_f in the model's units.
    experiment : str, path or Experiment
        The setup (name, TOML path or Experiment).
    selection_efficiency : float
        Fraction of signal passing the recoil-lepton selection (0..1).
    model, mass, depth_factor
        Thick targets only (:meth:`Experiment.expected_events`).

    Returns
    -------
    float or numpy.ndarray
        Expected number of events.

    Examples
    --------
    The km cross section at m_A' = 0.1 GeV and 8 GeV is 3.35e9 pb at epsilon = 1 (the
    shipped template); LDMX Phase II (22.15 events per pb) sees 2.3 events, the
    zero-background 90 % CL limit, at epsilon ~ 5.6e-6:

    >>> from darkmoments.experiments import expected_events
    >>> round(expected_events(3.3456e9, 5.6e-6, "ldmx-phase2"), 2)
    2.32
    >>> expected_events(3.3456e9, [1e-5, 1e-4]).round(1)  # events, quadratic in epsilon
    array([  7.4, 741.2])
    >>> round(expected_events(3.3456e9, 1e-5, selection_efficiency=0.5), 2)  # half selected
    3.71
    """
    return get_experiment(experiment).expected_events(
        sigma_pb,
        coupling,
        selection_efficiency,
        model=model,
        mass=mass,
        depth_factor=depth_factor,
    )
