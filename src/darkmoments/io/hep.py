"""Event tables as scikit-hep objects: ``hist.Hist`` histograms and awkward arrays of vectors.

:func:`events_to_hist` fills any one or two event columns (default the recoil lepton's E and
p_T, GeV) into a ``hist.Hist`` with ``Weight`` storage (sum of the event weights in pb per
bin, so the histogram integrates to the cross section, and their sum of squares).
:func:`events_to_awkward` turns the table into an awkward array of records with
``vector`` ``Momentum4D`` fields ``lepton``, ``nucleus`` and ``dark_photon`` (px, py, pz, E
in GeV) and ``weight`` (pb), so that e.g. ``arr.lepton.pt``, ``arr.dark_photon.mass`` and
``(arr.lepton + arr.dark_photon).pz`` work.  awkward and vector are the ``awkward`` extra.
These back :meth:`darkmoments.generator.Sample.to_hist` and
:meth:`~darkmoments.generator.Sample.to_awkward`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hist
import numpy as np
import pandas as pd

from .._optional import require
from ..errors import InputError, InputTypeError
from ..events_schema import EVENT_COLUMNS

__all__ = ["events_to_awkward", "events_to_hist"]

_PARTICLES = ("lepton", "nucleus", "dark_photon")


def _axis(col: str, values: np.ndarray, bins: Any) -> hist.axis.AxisProtocol:
    label = f"{col} [GeV]" if col != "weight" else "weight [pb]"
    if isinstance(bins, int | np.integer) and not isinstance(bins, bool):
        if bins < 1:
            raise InputError(f"bins for {col!r} must be >= 1, got {bins}")
        hi = float(values.max()) if values.size else 1.0
        lo = min(0.0, float(values.min())) if values.size else 0.0
        hi = hi if hi > lo else lo + 1.0
        hi = np.nextafter(hi, np.inf)  # the largest value lands in the last bin
        return hist.axis.Regular(int(bins), lo, hi, name=col, label=label)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise InputError(f"bin edges for {col!r} must increase strictly, got {bins!r}")
    return hist.axis.Variable(edges, name=col, label=label)


def events_to_hist(
    events: pd.DataFrame,
    columns: Sequence[str] = ("lepton_E", "lepton_pt"),
    *,
    bins: int | Sequence[Any] = 50,
    weighted: bool = True,
) -> hist.Hist:
    """A ``hist.Hist`` of one or two event columns.

    Parameters
    ----------
    events : pandas.DataFrame
        Event table (columns of :data:`~darkmoments.events_schema.EVENT_COLUMNS`, GeV).
    columns : sequence of str
        One or two column names (default recoil-lepton energy and transverse momentum).
    bins : int or sequence
        An int (that many regular bins per axis, from min(0, smallest value) to the largest
        value), bin edges in GeV for one column, or for two columns a pair whose entries are
        each an int or edges.
    weighted : bool
        Fill with the event weights (pb per event: the histogram sums to the cross section)
        or with unit weights (counts).

    Returns
    -------
    hist.Hist
        ``Weight`` storage; axes named after the columns.  Values outside the edges go to
        the flow bins.

    Raises
    ------
    InputError, InputTypeError
        Unknown columns, not one or two of them, bad bins.

    Examples
    --------
    >>> import darkmoments as dm
    >>> from darkmoments.io.hep import events_to_hist
    >>> s = dm.generate("km", 0.1, 8.0, 500, seed=1, n_pilot=20_000)
    >>> h = events_to_hist(s.events, ["lepton_E"], bins=10)
    >>> h.axes[0].name, bool(abs(h.sum().value / s.sigma_pb - 1) < 1e-9)
    ('lepton_E', True)
    """
    if not isinstance(events, pd.DataFrame):
        raise InputTypeError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not 1 <= len(cols) <= 2:
        raise InputError(f"give one or two columns, got {cols}")
    unknown = [c for c in cols if c not in events.columns]
    if unknown:
        raise InputError(f"unknown columns {unknown}; allowed: {list(events.columns)}")
    if isinstance(bins, int | np.integer):
        per: list[Any] = [bins] * len(cols)
    elif len(cols) == 1:
        per = [bins]
    elif len(bins) == 2:
        per = list(bins)
    else:
        raise InputError("for two columns give bins as an int or a pair (int or edges each)")
    data = [events[c].to_numpy(dtype=float) for c in cols]
    h = hist.Hist(*(_axis(c, v, b) for c, v, b in zip(cols, data, per, strict=True)),
                  storage=hist.storage.Weight())  # fmt: skip
    w = events["weight"].to_numpy(dtype=float) if weighted else None
    h.fill(*data, weight=w)
    return h


def events_to_awkward(events: pd.DataFrame) -> Any:
    """An awkward array of events with ``vector`` ``Momentum4D`` particles.

    Parameters
    ----------
    events : pandas.DataFrame
        Event table (columns :data:`~darkmoments.events_schema.EVENT_COLUMNS`, GeV, pb).

    Returns
    -------
    awkward.Array
        One record per event: ``lepton``, ``nucleus``, ``dark_photon`` (``Momentum4D`` with
        fields px, py, pz, E in GeV) and ``weight`` (pb).

    Raises
    ------
    MissingExtraError
        awkward or vector missing: ``pip install 'darkmoments[awkward]'``.

    Examples
    --------
    >>> import darkmoments as dm
    >>> from darkmoments.io.hep import events_to_awkward
    >>> s = dm.generate("km", 0.1, 8.0, 100, seed=1, n_pilot=20_000)
    >>> ev = events_to_awkward(s.events)
    >>> len(ev), bool(abs(ev.lepton.E[0] - s.events["lepton_E"].iloc[0]) < 1e-12)
    (100, True)
    """
    ak = require("awkward", "awkward", "Sample.to_awkward")
    vector = require("vector", "awkward", "Sample.to_awkward")
    vector.register_awkward()
    if not isinstance(events, pd.DataFrame):
        raise InputTypeError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InputError(f"events lack columns {missing}")
    fields: dict[str, Any] = {}
    for p in _PARTICLES:
        fields[p] = ak.zip(
            {c: events[f"{p}_{c}"].to_numpy(dtype=float) for c in ("px", "py", "pz", "E")},
            with_name="Momentum4D",
        )
    fields["weight"] = events["weight"].to_numpy(dtype=float)
    return ak.zip(fields, depth_limit=1)
