"""Synthetic (E, p_T) templates for validating and benchmarking the statistics code.

These are NOT physics predictions.  They are smooth, analytically binned 2D shapes on a
realistic LDMX-like binning (recoil-lepton energy 0..E0, p_T 0..1.5 GeV) whose dependence on
mass and model mimics the qualitative features of the paper (section 4.4, figure 6): heavier
A' -> softer recoil energy and harder p_T; the dipole models (md, ed) give harder spectra, so
that the p_T shape of ``km`` at 1.0 GeV is almost that of ``md`` at 0.75 GeV while the energy
shapes differ; ``cr`` has exactly the ``km`` shapes (docs/physics.md section 1) and ``am``/``ed``
differ from ``cr``/``md`` only slightly.  Use them in tests and benchmarks where the shipped
templates are not needed; the physics studies use :func:`darkmoments.templates.load`.

Shape model (per bin, exact integrals of the densities over the bin, then normalised over the
histogram range):

* z = E / E0 ~ Beta(a, b) with mean mu_z(m) = 0.35 f_E / (1 + 2 m / GeV) and a + b = 6;
* p_T ~ Gamma(shape 2, scale theta) with theta = 0.08 GeV * f_pt * sqrt(m / 0.1 GeV);
* f_E, f_pt = 1, 1 (km, cr); 1.02, 1.0 (am); 1.3, sqrt(4/3) (md); 1.32, sqrt(4/3) (ed).

MC variances are multinomial: var_b = p_b (1 - p_b) / n_mc.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import hist
import numpy as np
from scipy import stats as _st

from ..models import get_model
from ..templates import Template

__all__ = ["synthetic_grid_templates", "synthetic_template", "write_synthetic_templates"]

_FACTORS: dict[str, tuple[float, float, float]] = {
    # model: (f_E, f_pt, cross-section scale in pb at m = 0.1 GeV and unit coupling)
    "km": (1.0, 1.0, 1.0e3),
    "cr": (1.0, 1.0, 1.0e3),
    "am": (1.02, 1.0, 0.98e3),
    "md": (1.3, math.sqrt(4.0 / 3.0), 5.0e4),
    "ed": (1.32, math.sqrt(4.0 / 3.0), 4.9e4),
}


def synthetic_template(
    model: str,
    mass: float,
    *,
    beam_energy: float = 8.0,
    bins: tuple[int, int] = (24, 20),
    pt_max: float = 1.5,
    n_mc: float = 1.0e5,
    experiment: str = "synthetic",
    e_edges: np.ndarray | None = None,
    pt_edges: np.ndarray | None = None,
) -> Template:
    """A synthetic, smooth template for one (model, mass); see the module docstring.

    Parameters
    ----------
    model : str
        Model id (``km md ed cr am``).
    mass : float
        A' mass in GeV, 0.001 < mass < beam_energy.
    beam_energy : float
        Beam energy E0 in GeV (upper edge of the E axis).
    bins : (int, int)
        Number of bins in E and p_T.
    pt_max : float
        Upper edge of the p_T axis in GeV.
    n_mc : float
        Equivalent MC statistics for the multinomial bin variances (> 0).
    experiment : str
        Experiment label stored on the template.
    e_edges, pt_edges : array, optional
        Explicit bin edges in GeV (override ``bins``/``pt_max``; e.g. an experiment's
        binning).

    Returns
    -------
    Template
        Normalised 2D histogram (axes ``E``, ``pt``; GeV) with variances; ``sigma_pb`` is a
        smooth synthetic cross section at unit coupling (pb), falling as m^-2 (times m^2 for
        the dimension-1 and m^4 for the dimension-2 models, cf. sigma_cr = m^4 sigma_km).
    """
    mid = get_model(model).id
    if not (np.isfinite(beam_energy) and beam_energy > 0):
        raise ValueError(f"beam_energy must be finite and > 0 GeV, got {beam_energy}")
    if not (np.isfinite(mass) and 1e-3 < mass < beam_energy):
        raise ValueError(f"mass must be in (0.001, {beam_energy}) GeV, got {mass}")
    if not (n_mc > 0):
        raise ValueError(f"n_mc must be > 0, got {n_mc}")
    n_e, n_pt = (int(bins[0]), int(bins[1]))
    if n_e < 1 or n_pt < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    f_e, f_pt, s0 = _FACTORS[mid]
    mean_z = 0.35 * f_e / (1.0 + 2.0 * mass)
    a = 6.0 * mean_z
    b = 6.0 - a
    theta = 0.08 * f_pt * math.sqrt(mass / 0.1)
    ee = np.linspace(0.0, beam_energy, n_e + 1) if e_edges is None else np.asarray(e_edges)
    pe_edges = np.linspace(0.0, pt_max, n_pt + 1) if pt_edges is None else np.asarray(pt_edges)
    pe = np.diff(_st.beta.cdf(np.clip(ee / beam_energy, 0.0, 1.0), a, b))
    ppt = np.diff(_st.gamma.cdf(pe_edges, 2.0, scale=theta))
    p = np.outer(pe, ppt)
    p = p / p.sum()
    h = hist.Hist(
        hist.axis.Variable(ee, name="E", label="E [GeV]", underflow=False, overflow=False),
        hist.axis.Variable(pe_edges, name="pt", label="p_T [GeV]", underflow=False, overflow=False),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    view["value"] = p
    view["variance"] = p * (1.0 - p) / n_mc
    dim = get_model(mid).dimension
    sigma = s0 * (0.1 / mass) ** 2 * (mass / 0.1) ** (2 * dim)
    return Template(
        hist=h,
        model=mid,
        mass=float(mass),
        experiment=experiment,
        sigma_pb=float(sigma),
        sigma_err_pb=float(sigma * 0.01),
        metadata={
            "synthetic": True,
            "beam_energy": float(beam_energy),
            "selection_efficiency": 1.0,
            "n_mc": float(n_mc),
        },
    )


def synthetic_grid_templates(
    model: str,
    masses: np.ndarray | list[float] | None = None,
    **kwargs: object,
) -> list[Template]:
    """Synthetic templates for ``model`` at several masses (GeV).

    Parameters
    ----------
    model : str
        Model id.
    masses : array-like, optional
        A' masses in GeV; default 12 masses log-spaced from 0.05 to 2 GeV.
    **kwargs
        Passed to :func:`synthetic_template`.

    Returns
    -------
    list of Template
    """
    ms = np.geomspace(0.05, 2.0, 12) if masses is None else np.asarray(masses, dtype=float)
    return [synthetic_template(model, float(m), **kwargs) for m in ms]  # type: ignore[arg-type]


def write_synthetic_templates(
    directory: str | os.PathLike[str],
    experiment: str = "ldmx-phase2",
    models: Sequence[str] = ("km", "md", "ed", "cr", "am"),
    masses: Sequence[float] | np.ndarray | None = None,
) -> Path:
    """Write a synthetic template file ``<directory>/<experiment>.h5`` in the shipped format.

    For tests of the loading path and the CLI (point ``DARKMOMENTS_TEMPLATES`` or the
    commands' ``--templates`` option at ``directory``).  The templates carry the experiment's
    binning, beam, lepton, target and cuts so that :func:`darkmoments.templates.load`
    accepts them, and ``metadata["synthetic"] = True``.

    Parameters
    ----------
    directory : path
        Output directory (created).
    experiment : str
        Experiment name.
    models : sequence of str
        Model ids.
    masses : array, optional
        A' masses in GeV (default: 10 log-spaced masses from 0.01 to 2 GeV).

    Returns
    -------
    Path
        The written file.
    """
    from ..experiments import get_experiment
    from ..io import templates_io

    exp = get_experiment(experiment)
    assert exp.binning is not None
    ms = np.geomspace(0.01, 2.0, 10) if masses is None else np.asarray(masses, dtype=float)
    ts = []
    for model in models:
        for m in ms:
            t = synthetic_template(
                model,
                float(m),
                beam_energy=exp.beam_energy,
                experiment=exp.name,
                e_edges=np.asarray(exp.binning.e_edges),
                pt_edges=np.asarray(exp.binning.pt_edges),
            )
            t.metadata.update(
                lepton=exp.lepton,
                target=exp.target.symbol,
                coupling=1.0,
                n_events=100000,
                seed=0,
                generator_version="synthetic",
                selection_efficiency_err=0.0,
                binning=exp.binning.to_dict(),
                cuts=exp.cuts.to_dict(),
            )
            ts.append(t)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{exp.name}.h5"
    templates_io.write_templates(path, ts)
    return path
