"""pyhf likelihoods (JSON workspaces) built from signal templates.

One channel holding the flattened (E, p_T) bins of the recoil lepton (or only E, or only p_T).
Samples:

* ``signal``: N_sig * p_b with a free normalisation ``mu`` (normfactor, the POI; N_sig is the
  expected number of signal events at the reference coupling, so mu = (g / g_ref)^2), and the
  template MC statistical uncertainty N_sig * sqrt(var_b) as ``staterror`` (optional);
* ``background`` (optional): a binned template (events per bin) or a flat total spread
  uniformly over the bins, with an optional relative normalisation uncertainty (``normsys``).

Bins where both signal and background expect exactly zero events carry no information and
are dropped (pyhf's staterror is undefined there); observed events in such a bin raise.
The observations default to the background expectation (the background-only Asimov data set;
all zeros without background).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .shapes import parse_observables, project_template

if TYPE_CHECKING:  # pragma: no cover
    from ..templates import Template

from ..io.atomic import write_json_atomic as write_json_atomic_

__all__ = [
    "CHANNEL",
    "POI",
    "build_spec",
    "load_background",
    "make_model",
    "write_json_atomic",
]

#: Name of the single channel.
CHANNEL: str = "recoil"
#: Name of the parameter of interest (signal strength).
POI: str = "mu"

FloatArray = NDArray[np.float64]


def _background_array(background: float | Sequence[float] | FloatArray, n_bins: int) -> FloatArray:
    arr = np.asarray(background, dtype=float)
    if arr.ndim == 0:
        total = float(arr)
        if not (np.isfinite(total) and total >= 0):
            raise ValueError(f"background total must be finite and >= 0 events, got {total}")
        return np.full(n_bins, total / n_bins)
    arr = arr.ravel()
    if arr.size != n_bins:
        raise ValueError(f"background template has {arr.size} bins, the signal has {n_bins}")
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 0)):
        raise ValueError("background counts must be finite and >= 0 in every bin")
    return arr


def load_background(path: str | os.PathLike[str]) -> FloatArray:
    """Read a background template (expected events per flattened bin) from a file.

    Parameters
    ----------
    path : str or path
        ``.npy`` (1D array) or ``.json`` (a list of numbers or ``{"counts": [...]}``), in the
        flattened bin order of the chosen observables (E major for E,pt).

    Returns
    -------
    ndarray
        Events per bin.
    """
    p = Path(path)
    if p.suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
    elif p.suffix == ".json":
        obj = json.loads(p.read_text())
        arr = np.asarray(obj["counts"] if isinstance(obj, dict) else obj, dtype=float)
    else:
        raise ValueError(f"background file {str(p)!r} must be .npy or .json")
    return np.asarray(arr, dtype=float).ravel()


def build_spec(
    template: Template,
    n_signal: float,
    *,
    observables: str | Sequence[str] = "E,pt",
    background: float | Sequence[float] | FloatArray | None = None,
    background_uncertainty: float | None = None,
    observed: Sequence[float] | FloatArray | None = None,
    staterror: bool = True,
) -> dict[str, Any]:
    """A pyhf workspace specification (JSON-able dict) for one template.

    Parameters
    ----------
    template : Template
        Signal template (normalised shape with MC variances).
    n_signal : float
        Expected signal events at mu = 1 (> 0), e.g. N_sig(g = 1) from the experiment.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    background : float or array, optional
        Flat total (events, spread evenly over the bins) or events per bin; None = no
        background sample.
    background_uncertainty : float, optional
        Relative normalisation uncertainty of the background (e.g. 0.1 for 10%), as a pyhf
        ``normsys`` with +-1 sigma = 1 +- value.  Requires a background.
    observed : array, optional
        Observed events per bin; default: the background expectation (zeros if none).
    staterror : bool
        Include the template MC statistical uncertainty (pyhf ``staterror``).

    Returns
    -------
    dict
        Workspace spec with ``channels``, ``observations``, ``measurements`` and ``version``;
        it validates against pyhf's schema.  ``spec["channels"][0]`` holds only bins with
        non-zero expectation; the retained bin indices are not part of the schema and are
        not stored.

    Raises
    ------
    ValueError
        Non-positive ``n_signal``; malformed background or observations; observed events in
        a bin where signal and background both expect zero.
    """
    if not (np.isfinite(n_signal) and n_signal > 0):
        raise ValueError(f"n_signal must be a finite number of events > 0, got {n_signal}")
    obs = parse_observables(observables)
    probs, variances = project_template(template, obs)
    n_bins = probs.size
    sig = float(n_signal) * probs
    sig_unc = float(n_signal) * np.sqrt(variances)
    bkg = None if background is None else _background_array(background, n_bins)
    if background_uncertainty is not None:
        if bkg is None:
            raise ValueError("background_uncertainty given without a background")
        if not (np.isfinite(background_uncertainty) and 0 < background_uncertainty < 1):
            raise ValueError(
                f"background_uncertainty must be in (0, 1) (relative), got {background_uncertainty}"
            )
    if observed is None:
        data = np.zeros(n_bins) if bkg is None else bkg.copy()
    else:
        data = np.asarray(observed, dtype=float).ravel()
        if data.size != n_bins:
            raise ValueError(f"observed has {data.size} bins, expected {n_bins}")
        if not (np.all(np.isfinite(data)) and np.all(data >= 0)):
            raise ValueError("observed counts must be finite and >= 0 in every bin")
    total = sig + (0.0 if bkg is None else bkg)
    keep = total > 0
    bad = (~keep) & (data > 0)
    if np.any(bad):
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"bins {idx[:10].tolist()} have zero expected signal and background but observed "
            f"counts {data[idx[:10]].tolist()}; the likelihood would be zero"
        )
    # pyhf staterror needs a non-zero uncertainty wherever the signal is non-zero
    if staterror:
        floor = 1e-9 * np.maximum(sig, 1e-300)
        sig_unc = np.where(sig > 0, np.maximum(sig_unc, floor), 0.0)
    modifiers_sig: list[dict[str, Any]] = [{"name": POI, "type": "normfactor", "data": None}]
    if staterror:
        modifiers_sig.append(
            {"name": "mcstat_signal", "type": "staterror", "data": sig_unc[keep].tolist()}
        )
    samples: list[dict[str, Any]] = [
        {"name": "signal", "data": sig[keep].tolist(), "modifiers": modifiers_sig}
    ]
    if bkg is not None:
        mods_b: list[dict[str, Any]] = []
        if background_uncertainty is not None:
            u = float(background_uncertainty)
            mods_b.append(
                {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.0 + u, "lo": 1.0 - u}}
            )
        samples.append({"name": "background", "data": bkg[keep].tolist(), "modifiers": mods_b})
    # room for limits far above mu = 1 when the yield at the reference coupling is small
    mu_max = float(max(1000.0, 1.0e4 / float(n_signal)))
    return {
        "channels": [{"name": CHANNEL, "samples": samples}],
        "observations": [{"name": CHANNEL, "data": data[keep].tolist()}],
        "measurements": [
            {
                "name": "darkmoments",
                "config": {
                    "poi": POI,
                    "parameters": [{"name": POI, "bounds": [[0.0, mu_max]], "inits": [1.0]}],
                },
            }
        ],
        "version": "1.0.0",
    }


def make_model(spec: dict[str, Any]) -> tuple[Any, list[float]]:
    """Validate a spec with pyhf and return ``(model, data)`` (data include auxdata).

    Parameters
    ----------
    spec : dict
        Workspace spec (e.g. from :func:`build_spec`).

    Returns
    -------
    (pyhf.pdf.Model, list of float)
    """
    import pyhf

    ws = pyhf.Workspace(spec)
    model = ws.model()  # pyhf defaults, exactly what ``pyhf cls`` uses
    return model, list(ws.data(model))


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (temp file in the same dir + os.replace).

    Returns
    -------
    Path
        The written path.
    """
    out = write_json_atomic_(obj, path, mkdir=True, indent=1)
    return out
