"""Binned signal shapes for the statistics: projection of templates and mass interpolation.

A :class:`ShapeGrid` holds, for one model and one choice of observables, the normalised
bin probabilities ``p_b(m)`` of the recoil lepton on a grid of A' masses, their MC variances
and (optionally) the expected number of signal events at unit coupling ``N_1(m)``.  Between
grid masses the shape is interpolated linearly in ``log m`` bin by bin (a convex combination
of two normalised shapes is again normalised), and ``N_1`` is interpolated linearly in
``(log m, log N_1)``, i.e. as a power law between neighbouring masses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, InputTypeError
from ..validation import check_int, check_real

if TYPE_CHECKING:  # pragma: no cover
    from ..templates import Template

__all__ = [
    "OBSERVABLES",
    "ShapeGrid",
    "load_grid",
    "parse_observables",
    "project_template",
]

#: The observables a template can be projected on (axis names of ``Template.hist``).
OBSERVABLES: tuple[str, ...] = ("E", "pt")

FloatArray = NDArray[np.float64]


def parse_observables(observables: str | Sequence[str]) -> tuple[str, ...]:
    """Normalise an observable selection to a tuple of axis names.

    Parameters
    ----------
    observables : str or sequence of str
        ``"E,pt"`` (both; recoil-lepton energy and transverse momentum in GeV), ``"E"`` or
        ``"pt"``; case-insensitive, ``"pT"`` accepted.

    Returns
    -------
    tuple of str
        ``("E", "pt")``, ``("E",)`` or ``("pt",)``.

    Raises
    ------
    ValueError
        Unknown or repeated observable names, or an empty selection.
    TypeError
        If ``observables`` is neither a string nor a sequence of strings.
    """
    if isinstance(observables, str):
        names = [s.strip() for s in observables.split(",") if s.strip()]
    elif isinstance(observables, Sequence):
        names = list(observables)
        if not all(isinstance(s, str) for s in names):
            raise InputTypeError(f"observables must be strings, got {observables!r}")
    else:
        raise InputTypeError(f"observables must be a string such as 'E,pt', got {observables!r}")
    canon = {"e": "E", "pt": "pt", "p_t": "pt"}
    out: list[str] = []
    for name in names:
        key = name.strip().lower()
        if key not in canon:
            raise InputError(f"unknown observable {name!r}; allowed: 'E', 'pt' or 'E,pt'")
        if canon[key] in out:
            raise InputError(f"observable {name!r} given twice in {observables!r}")
        out.append(canon[key])
    if not out:
        raise InputError(f"no observable selected in {observables!r}; allowed: 'E', 'pt', 'E,pt'")
    return tuple(o for o in OBSERVABLES if o in out)


def project_template(
    template: Template, observables: str | Sequence[str] = "E,pt"
) -> tuple[FloatArray, FloatArray]:
    """Flattened bin probabilities and MC variances of a template for the chosen observables.

    Parameters
    ----------
    template : Template
        Template whose ``hist`` has axes ``E`` and ``pt`` (GeV) with Weight storage.
    observables : str or sequence of str
        ``"E,pt"`` (2D, flattened in C order, E major), ``"E"`` or ``"pt"`` (projections).

    Returns
    -------
    probs, variances : ndarray
        Probability per bin (sums to the template's total, 1 for a normalised template) and
        the MC variance of each probability (variances of projected bins are summed, i.e.
        bin-to-bin correlations of the fractions are neglected).

    Raises
    ------
    ValueError
        If the histogram lacks the requested axes or holds negative / non-finite entries.
    """
    obs = parse_observables(observables)
    h = template.hist
    names = tuple(h.axes.name)
    for o in obs:
        if o not in names:
            raise InputError(f"template histogram has axes {names}, observable {o!r} missing")
    h_proj = h.project(*obs) if len(obs) < len(names) or obs != names else h
    values = np.asarray(h_proj.values(), dtype=float).ravel()
    variances_raw = h_proj.variances()
    variances = (
        np.zeros_like(values)
        if variances_raw is None
        else np.asarray(variances_raw, dtype=float).ravel()
    )
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        raise InputError(
            f"template {template.model} m={template.mass} GeV has negative or non-finite "
            "bin contents; probabilities must be finite and >= 0"
        )
    if not (np.all(np.isfinite(variances)) and np.all(variances >= 0)):
        raise InputError(
            f"template {template.model} m={template.mass} GeV has negative or non-finite variances"
        )
    return values, variances


@dataclass(frozen=True, eq=False)
class ShapeGrid:
    """Normalised shapes of one model on a grid of A' masses.

    Attributes
    ----------
    model : str
        Model id.
    masses : ndarray, shape (n_m,)
        Strictly increasing A' masses in GeV (> 0).
    probs : ndarray, shape (n_m, n_bins)
        Bin probabilities at each mass (each row sums to ~1).
    variances : ndarray, shape (n_m, n_bins)
        MC variances of ``probs``.
    n1 : ndarray or None, shape (n_m,)
        Expected signal events at unit coupling g_f = 1 (model units) at each mass, or None.
    observables : tuple of str
        Observables the bins belong to.
    """

    model: str
    masses: FloatArray
    probs: FloatArray
    variances: FloatArray
    n1: FloatArray | None = None
    observables: tuple[str, ...] = ("E", "pt")

    def __post_init__(self) -> None:
        masses = np.asarray(self.masses, dtype=float)
        probs = np.atleast_2d(np.asarray(self.probs, dtype=float))
        variances = np.atleast_2d(np.asarray(self.variances, dtype=float))
        if masses.ndim != 1 or masses.size < 1:
            raise InputError(f"masses must be a non-empty 1D array, got shape {masses.shape}")
        if not np.all(np.isfinite(masses)) or np.any(masses <= 0):
            raise InputError(f"masses must be finite and > 0 GeV, got {masses}")
        if np.any(np.diff(masses) <= 0):
            raise InputError(f"masses must be strictly increasing, got {masses}")
        if probs.shape[0] != masses.size or variances.shape != probs.shape:
            raise InputError(
                f"probs {probs.shape} and variances {variances.shape} must have one row per "
                f"mass ({masses.size})"
            )
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            raise InputError("probs must be finite and >= 0")
        if np.any(probs.sum(axis=1) <= 0):
            raise InputError("every mass needs a shape with non-zero total probability")
        object.__setattr__(self, "masses", masses)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "variances", variances)
        if self.n1 is not None:
            n1 = np.asarray(self.n1, dtype=float)
            if n1.shape != masses.shape or not np.all(np.isfinite(n1)) or np.any(n1 <= 0):
                raise InputError(f"n1 must be finite, > 0 and have one value per mass, got {n1}")
            object.__setattr__(self, "n1", n1)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_templates(
        cls,
        templates: Sequence[Template],
        observables: str | Sequence[str] = "E,pt",
        *,
        events_per_pb: float | None = None,
    ) -> ShapeGrid:
        """Build a grid from templates of one model at several masses.

        Parameters
        ----------
        templates : sequence of Template
            Same model and binning, any order (sorted by mass here).
        observables : str or sequence of str
            ``"E,pt"``, ``"E"`` or ``"pt"``.
        events_per_pb : float, optional
            Experiment luminosity factor times its signal efficiency (events per pb of cross
            section, e.g. 22.2 for LDMX Phase II at efficiency 1).  If given,
            ``n1 = events_per_pb * sigma_pb * selection_efficiency``
            (``metadata["selection_efficiency"]``, default 1).

        Returns
        -------
        ShapeGrid
        """
        if len(templates) == 0:
            raise InputError("need at least one template to build a ShapeGrid")
        models = {t.model for t in templates}
        if len(models) != 1:
            raise InputError(f"templates of one model expected, got {sorted(models)}")
        ts = sorted(templates, key=lambda t: t.mass)
        obs = parse_observables(observables)
        pv = [project_template(t, obs) for t in ts]
        n1 = None
        if events_per_pb is not None:
            events_per_pb = check_real(
                "events_per_pb", events_per_pb, lo=0.0, lo_open=True, unit="events/pb"
            )
            n1 = np.array(
                [
                    events_per_pb * t.sigma_pb * float(t.metadata.get("selection_efficiency", 1.0))
                    for t in ts
                ]
            )
        return cls(
            model=ts[0].model,
            masses=np.array([t.mass for t in ts], dtype=float),
            probs=np.array([p for p, _ in pv]),
            variances=np.array([v for _, v in pv]),
            n1=n1,
            observables=obs,
        )

    # ------------------------------------------------------------------ queries
    @property
    def n_bins(self) -> int:
        """Number of bins per shape."""
        return int(self.probs.shape[1])

    @property
    def mass_range(self) -> tuple[float, float]:
        """(lowest, highest) grid mass in GeV."""
        return float(self.masses[0]), float(self.masses[-1])

    def check_mass(self, mass: float) -> float:
        """Return ``mass`` as float if inside the grid range, else raise ``ValueError``."""
        m = float(mass)
        lo, hi = self.mass_range
        if not np.isfinite(m) or m < lo * (1 - 1e-12) or m > hi * (1 + 1e-12):
            raise InputError(
                f"mass {mass} GeV outside the template range [{lo:g}, {hi:g}] GeV "
                f"of model {self.model}"
            )
        return min(max(m, lo), hi)

    def _locate(self, mass: float) -> tuple[int, float]:
        """Segment index i and weight w in [0, 1] with log m = (1-w) log m_i + w log m_i+1."""
        m = self.check_mass(mass)
        if self.masses.size == 1:
            return 0, 0.0
        u = np.log(self.masses)
        i = int(np.clip(np.searchsorted(u, np.log(m), side="right") - 1, 0, u.size - 2))
        w = float((np.log(m) - u[i]) / (u[i + 1] - u[i]))
        return i, min(max(w, 0.0), 1.0)

    def shape(self, mass: float) -> FloatArray:
        """Bin probabilities at ``mass`` (GeV), interpolated linearly in log m."""
        i, w = self._locate(mass)
        if self.masses.size == 1:
            return self.probs[0].copy()
        return (1 - w) * self.probs[i] + w * self.probs[i + 1]

    def variance(self, mass: float) -> FloatArray:
        """MC variances of the probabilities at ``mass``, interpolated like the shapes."""
        i, w = self._locate(mass)
        if self.masses.size == 1:
            return self.variances[0].copy()
        return (1 - w) ** 2 * self.variances[i] + w**2 * self.variances[i + 1]

    def rate(self, mass: float) -> float:
        """Expected events at unit coupling at ``mass`` (power-law interpolation)."""
        if self.n1 is None:
            raise InputError(f"ShapeGrid of model {self.model} has no event rates (n1)")
        i, w = self._locate(mass)
        if self.masses.size == 1:
            return float(self.n1[0])
        ln = (1 - w) * np.log(self.n1[i]) + w * np.log(self.n1[i + 1])
        return float(np.exp(ln))

    def refined(self, n_per_segment: int) -> ShapeGrid:
        """The same interpolated function sampled on a finer grid.

        Parameters
        ----------
        n_per_segment : int
            Number of sub-intervals per original segment (>= 1); masses are spaced
            uniformly in log m inside each segment.

        Returns
        -------
        ShapeGrid
            Shapes, variances and rates evaluated by :meth:`shape`, :meth:`variance`,
            :meth:`rate` at the new masses (the original masses are kept exactly).
        """
        k = check_int("n_per_segment", n_per_segment, lo=1)
        if self.masses.size == 1 or k == 1:
            return self
        u = np.log(self.masses)
        new_u = [u[0]]
        for i in range(u.size - 1):
            new_u.extend(np.linspace(u[i], u[i + 1], k + 1)[1:])
        masses = np.exp(np.array(new_u))
        masses[::k] = self.masses  # exact originals
        probs = np.array([self.shape(m) for m in masses])
        variances = np.array([self.variance(m) for m in masses])
        n1 = None if self.n1 is None else np.array([self.rate(m) for m in masses])
        return ShapeGrid(self.model, masses, probs, variances, n1, self.observables)

    def restricted(self, bins: NDArray[np.bool_] | NDArray[np.intp]) -> ShapeGrid:
        """A grid holding only the selected bins (mask or index array); rows not renormalised."""
        return ShapeGrid(
            self.model,
            self.masses,
            self.probs[:, bins],
            self.variances[:, bins],
            self.n1,
            self.observables,
        )

    def summary(self) -> dict[str, Any]:
        """Small JSON-able description (model, observables, mass range in GeV, bins)."""
        return {
            "model": self.model,
            "observables": list(self.observables),
            "mass_min": self.mass_range[0],
            "mass_max": self.mass_range[1],
            "n_masses": int(self.masses.size),
            "n_bins": self.n_bins,
        }


def load_grid(
    model: str,
    experiment: str = "ldmx-phase2",
    observables: str | Sequence[str] = "E,pt",
    *,
    directory: str | None = None,
) -> ShapeGrid:
    """The shipped templates of a model and experiment as a :class:`ShapeGrid`.

    Parameters
    ----------
    model : str
        Model id.
    experiment : str
        Experiment name or TOML path.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    directory : str, optional
        Template directory (default: the shipped templates).

    Returns
    -------
    ShapeGrid
        With ``n1`` = expected events at unit coupling (experiment efficiency, selection
        efficiency and luminosity included).
    """
    from .. import templates
    from ..experiments import get_experiment

    exp = get_experiment(experiment)
    ms = templates.masses(model, exp, directory=directory)
    ts = [templates.load(model, float(m), exp, directory=directory) for m in ms]
    return ShapeGrid.from_templates(
        ts, observables, events_per_pb=exp.events_per_pb * exp.efficiency
    )
