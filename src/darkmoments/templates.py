"""2D (E, p_T) signal templates of the recoil lepton.

A :class:`Template` is one (model, mass, experiment) entry: a ``hist.Hist`` with two axes,
``E`` (recoil-lepton energy, GeV, 0..E0) and ``pt`` (recoil-lepton transverse momentum, GeV),
``Weight`` storage holding the *normalised* shape (values sum to 1 over all bins, variances
are the MC variances of those fractions), and the cross section at unit coupling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hist

__all__ = ["Template"]


@dataclass(frozen=True)
class Template:
    """One signal template.

    Attributes
    ----------
    hist : hist.Hist
        2D histogram over axes ``E`` and ``pt`` (GeV), Weight storage, values normalised to a
        unit sum (probability per bin), variances = MC variance of each fraction.
    model : str
        Model id (``km md ed cr am``).
    mass : float
        A' mass in GeV.
    experiment : str
        Experiment name (``ldmx-phase1``, ``ldmx-phase2`` or a user setup).
    sigma_pb : float
        Total cross section at unit coupling g_f = 1 (model units) in pb, before selection.
    sigma_err_pb : float
        Its MC uncertainty in pb.
    metadata : dict
        Everything else stored with the file (lepton, target, beam energy, events, seed,
        generator version, binning, selection efficiency, checksum ...).
    """

    hist: hist.Hist
    model: str
    mass: float
    experiment: str
    sigma_pb: float
    sigma_err_pb: float
    metadata: dict[str, Any] = field(default_factory=dict)
