"""ROOT files through uproot (the ``root`` extra): TH2D histograms and event TTrees.

No ROOT installation is needed: uproot writes the files.  Every write is atomic
(:mod:`darkmoments.io.atomic`): a temporary ``.root`` file next to the target, moved into
place when complete.

* :func:`write_hists_root`: ``hist.Hist`` objects as ROOT histograms, one per name (a
  ``/`` in a name makes a TDirectory).  A 2D histogram with ``Weight`` storage becomes a
  ``TH2D`` with the sums of weights and, as ``fSumw2``, the variances; uproot maps the axes'
  edges to the TAxis bins.  Optional JSON metadata go into a ``TObjString`` named
  ``metadata``.
* :func:`write_events_root`: an event table as a ``TTree`` (default name ``events``) with
  one float64 branch per column (GeV, pb per event) and the metadata as a JSON
  ``TObjString`` ``metadata``.

Read them back with ``uproot.open(path)[name].to_hist()`` or ``.arrays(library="np")``, or
in ROOT itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._optional import require
from ..errors import InputError, InputTypeError, OutputPathError
from . import jsonio
from .atomic import atomic_path

__all__ = ["METADATA_KEY", "write_events_root", "write_hists_root"]

#: Name of the TObjString holding the JSON metadata.
METADATA_KEY = "metadata"


def _target(path: str | os.PathLike[str]) -> Path:
    p = Path(os.fspath(path))
    if not p.name.endswith(".root"):
        raise InputError(f"ROOT output must end in .root, got {str(p)!r}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"directory {str(parent)!r} of {str(p)!r} does not exist")
    if p.is_dir():
        raise OutputPathError(f"{str(p)!r} is a directory, expected a file")
    return p


def write_hists_root(
    hists: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write histograms to a ROOT file (TH1D / TH2D), atomically.

    Parameters
    ----------
    hists : mapping of str to hist.Hist
        Name (``"km/mA_0.1"``: directory ``km``, histogram ``mA_0.1``) -> histogram.
    path : path
        Output ``.root`` file; its directory must exist.
    metadata : mapping, optional
        JSON-able; stored as the TObjString ``metadata``.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import uproot
    >>> from darkmoments import templates
    >>> from darkmoments.io.root import write_hists_root
    >>> t = templates.load("km", 0.1)
    >>> p = write_hists_root({"km/mA_0.1": t.to_hist()}, Path(tempfile.mkdtemp()) / "t.root")
    >>> with uproot.open(p) as f:
    ...     print(f["km/mA_0.1"].classname)
    ...
    TH2D
    """
    uproot = require("uproot", "root", "ROOT output")
    p = _target(path)
    if not hists:
        raise InputError("no histograms to write")
    for name in hists:
        if not isinstance(name, str) or not name or name == METADATA_KEY:
            raise InputError(f"histogram names must be non-empty strings, not {name!r}")
    text = None if metadata is None else jsonio.dumps(dict(metadata))
    with atomic_path(p) as tmp, uproot.recreate(tmp) as f:
        for name, h in hists.items():
            f[name] = h
        if text is not None:
            f[METADATA_KEY] = text
    return p


def write_events_root(
    events: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    tree: str = "events",
) -> Path:
    """Write an event table as a TTree (one float64 branch per column), atomically.

    Parameters
    ----------
    events : pandas.DataFrame
        Numeric columns (e.g. :data:`~darkmoments.events_schema.EVENT_COLUMNS`, GeV and pb).
    path : path
        Output ``.root`` file; its directory must exist.
    metadata : mapping, optional
        JSON-able (e.g. :attr:`Sample.metadata <darkmoments.generator.Sample.metadata>`);
        stored as the TObjString ``metadata``.
    tree : str
        TTree name.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import uproot
    >>> import darkmoments as dm
    >>> from darkmoments.io.root import write_events_root
    >>> s = dm.generate("km", 0.1, 8.0, 100, seed=1, n_pilot=20_000)
    >>> p = write_events_root(s.events, Path(tempfile.mkdtemp()) / "ev.root", metadata=s.metadata)
    >>> with uproot.open(p) as f:
    ...     print(f["events"].num_entries, "lepton_E" in f["events"].keys())
    ...
    100 True
    """
    uproot = require("uproot", "root", "ROOT output")
    if not isinstance(events, pd.DataFrame):
        raise InputTypeError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    p = _target(path)
    if not tree or tree == METADATA_KEY:
        raise InputError(f"tree name must be a non-empty string other than {METADATA_KEY!r}")
    branches = {}
    for c in events.columns:
        if not pd.api.types.is_numeric_dtype(events[c]):
            raise InputError(f"column {c!r} is not numeric ({events[c].dtype})")
        branches[str(c)] = np.ascontiguousarray(events[c].to_numpy(dtype=np.float64))
    text = None if metadata is None else jsonio.dumps(dict(metadata))
    with atomic_path(p) as tmp, uproot.recreate(tmp) as f:
        f.mktree(tree, {k: np.float64 for k in branches})
        if len(events):
            f[tree].extend(branches)
        if text is not None:
            f[METADATA_KEY] = text
    return p
