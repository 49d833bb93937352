"""Mass-model degeneracy surfaces (paper section 4.4, figure 6, made quantitative).

For each true mass m_i, Asimov data of the true model with N events are fitted by the
alternative model at every fit mass m_j (normalisation profiled):

    q_ij = D_alt(m_j | Asimov_true(m_i)) - min_m D_true(m | Asimov_true(m_i)),

the -2 Delta ln L of the wrong model at m_j relative to the best fit of the right one (which
is 0 for Asimov data).  q_ij < 1 (4, 9) marks where the wrong model fits the data as well as
the right one within 1 (2, 3) sigma for one parameter.  With free normalisation q is exactly
proportional to N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .fast import deviance_grid, profile_mass
from .shapes import ShapeGrid

__all__ = ["DegeneracySurface", "degeneracy_surface"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DegeneracySurface:
    """-2 Delta ln L of the alternative model versus (true mass, fitted mass).

    Attributes
    ----------
    true_model, alt_model : str
        Model ids.
    observables : tuple of str
        Observables used.
    n_events : float
        Expected signal events of the Asimov data.
    true_masses : ndarray, shape (n_true,)
        True A' masses in GeV.
    fit_masses : ndarray, shape (n_fit,)
        Alternative-model masses in GeV.
    q : ndarray, shape (n_true, n_fit)
        -2 Delta ln L.
    best_alt_mass : ndarray, shape (n_true,)
        Best-fit alternative mass (continuous) per true mass, GeV.
    best_alt_q : ndarray, shape (n_true,)
        q at the best-fit alternative mass.
    """

    true_model: str
    alt_model: str
    observables: tuple[str, ...]
    n_events: float
    true_masses: FloatArray
    fit_masses: FloatArray
    q: FloatArray
    best_alt_mass: FloatArray
    best_alt_q: FloatArray

    def summary(self) -> dict[str, Any]:
        """JSON-able per-true-mass summary (``n_signal``: the expected signal events)."""
        return {
            "true_model": self.true_model,
            "alt_model": self.alt_model,
            "observables": list(self.observables),
            "n_signal": self.n_events,
            "rows": [
                {"true_mass": float(m), "best_alt_mass": float(a), "q": float(q)}
                for m, a, q in zip(
                    self.true_masses, self.best_alt_mass, self.best_alt_q, strict=True
                )
            ],
        }


def degeneracy_surface(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    n_events: float,
    *,
    true_masses: FloatArray | None = None,
    fit_masses: FloatArray | None = None,
    points: int = 60,
) -> DegeneracySurface:
    """Compute the degeneracy surface of ``alt_grid`` against data from ``true_grid``.

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes of the true and alternative model (same observables and binning).
    n_events : float
        Expected signal events (> 0).
    true_masses, fit_masses : array, optional
        Masses in GeV (default: ``points`` log-spaced masses over each grid's range).
    points : int
        Default number of masses per axis.

    Returns
    -------
    DegeneracySurface
    """
    if not (np.isfinite(n_events) and n_events > 0):
        raise InputError(f"number of events must be finite and > 0, got {n_events}")
    if true_grid.n_bins != alt_grid.n_bins:
        raise InputError("true and alternative shapes must share observables and binning")
    if int(points) != points or points < 2:
        raise InputError(f"points must be an integer >= 2, got {points}")
    tm = (
        np.geomspace(*true_grid.mass_range, int(points))
        if true_masses is None
        else np.asarray(true_masses, dtype=float)
    )
    fm = (
        np.geomspace(*alt_grid.mass_range, int(points))
        if fit_masses is None
        else np.asarray(fit_masses, dtype=float)
    )
    data = np.array([n_events * true_grid.shape(m) / true_grid.shape(m).sum() for m in tm])
    alt_probs = np.array([alt_grid.shape(m) for m in fm])
    d_alt = deviance_grid(data, alt_probs)
    d_true = profile_mass(data, true_grid).deviance
    q = d_alt - d_true[:, None]
    best = profile_mass(data, alt_grid)
    return DegeneracySurface(
        true_model=true_grid.model,
        alt_model=alt_grid.model,
        observables=true_grid.observables,
        n_events=float(n_events),
        true_masses=tm,
        fit_masses=fm,
        q=q,
        best_alt_mass=best.mass,
        best_alt_q=best.deviance - d_true,
    )
