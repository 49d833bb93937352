"""What the statistics read: the template level and the background.

Template level
--------------
Every template-reading function of :mod:`darkmoments.stats` (reach, discovery, workspaces,
degeneracy, discrimination) takes ``level="truth"`` (the default: the recoil lepton at the
vertex, as in the paper) or ``level="detector"`` (after target, tracker, acceptance and the
experiment's detector-level selection; ``<experiment>.detector.h5``, docs/detector.md).
:func:`check_level_file` refuses a missing detector-level file with one message that names
the file and the command that builds it.  The expected events at detector level carry the
selection and acceptance efficiency of the template metadata (``selection_efficiency``)
through the one yield formula of :func:`darkmoments.templates.signal_yield` (and
:meth:`~darkmoments.stats.shapes.ShapeGrid.from_templates`, the same product): N = EOT x
(rho N_A / A) L x sigma x selection efficiency x experiment efficiency.

Background
----------
A background is an :class:`~darkmoments.experiments.Background`: expected events per
(E, p_T) bin of the experiment's binning for its full exposure, and a relative
normalisation uncertainty sigma_b (default none: zero background, as in the paper).
:func:`resolve_background` gives the one that applies: an explicit file (the histogram
format of :func:`~darkmoments.experiments.read_background`, or the flattened (E, p_T) bins
of :func:`~darkmoments.stats.workspace.load_background`), a flat total spread evenly over
the template bins, or the experiment's ``[background]`` table at that level.

In darkmoments' own likelihoods (reach, discovery, discrimination) the background
normalisation is one log-normal nuisance theta_b shared by all bins, b_i -> theta_b b_i,
with the constraint (ln theta_b)^2 / s_b^2 added to -2 ln L and s_b = ln(1 + sigma_b) (the
convention of the rate systematics, :mod:`darkmoments.stats.systematics`: kappa = 1 +
sigma_b, a one-sigma shift multiplies the background by 1 + sigma_b; positive for any
width).  :func:`background_sigma` converts sigma_b to s_b (None for sigma_b = 0: the
background is exactly known).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..validation import check_real

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments import Background, Experiment
    from .shapes import ShapeGrid

__all__ = [
    "background_sigma",
    "background_total",
    "check_level_file",
    "load_background",
    "load_grid_at",
    "project_background",
    "resolve_background",
]

FloatArray = NDArray[np.float64]


# ----------------------------------------------------------------------------- level


def _experiment_arg(exp: Experiment) -> str:
    """How to name the experiment on the command line (its name, or its TOML file)."""
    from ..experiments import EXPERIMENTS

    return exp.name if exp.name in EXPERIMENTS else f"{exp.name}.toml"


def check_level_file(
    experiment: Any, level: str = "truth", directory: str | os.PathLike[str] | None = None
) -> str:
    """Validate a template level for an experiment and that its template file exists.

    Parameters
    ----------
    experiment : str or Experiment
        Experiment name, TOML path or Experiment.
    level : str
        ``"truth"`` or ``"detector"`` (case-insensitive).
    directory : path, optional
        Template directory (default: the shipped templates).

    Returns
    -------
    str
        The canonical level.

    Raises
    ------
    InputError
        Unknown level, an experiment without a ``[detector]`` table at ``"detector"``, or
        no detector-level file in the directory (the message names the file and how to
        build it).  A missing truth-level file is left to the template reader (its
        ``OSError`` says how to build it).

    Examples
    --------
    LDMX ships detector-level templates; M3 has no detector level:

    >>> from darkmoments.stats.inputs import check_level_file
    >>> check_level_file("ldmx-phase2", "Detector")
    'detector'
    >>> check_level_file("m3-phase1", "detector")
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: experiment m3-phase1 has no detector level ...
    """
    from .. import templates
    from ..experiments import check_level, get_experiment

    lvl = check_level(level)
    if lvl == "truth":
        return lvl
    exp = get_experiment(experiment)
    exp.require_detector()
    path = templates.template_path(exp, directory=directory, level=lvl)
    if not path.is_file():
        raise InputError(
            f"no detector-level templates for experiment {exp.name}: {path} does not exist; "
            f"build them with `darkmoments templates build --experiment {_experiment_arg(exp)} "
            "--level detector --out DIR` and pass --templates DIR (directory= in Python)"
        )
    return lvl


def load_grid_at(
    model: str,
    experiment: Any = "ldmx-phase2",
    observables: Any = "E,pt",
    *,
    level: str = "truth",
    directory: str | os.PathLike[str] | None = None,
) -> ShapeGrid:
    """The templates of a model, experiment and level as a :class:`ShapeGrid`.

    At truth level this is :func:`darkmoments.stats.shapes.load_grid`.  At detector level
    the same construction on ``<experiment>.detector.h5``:
    :meth:`ShapeGrid.from_templates` with ``n1`` = events_per_pb x efficiency x sigma x
    ``selection_efficiency`` (the detector selection and acceptance efficiency of each
    template), i.e. the yield of :func:`darkmoments.templates.signal_yield` at unit
    coupling.

    Parameters
    ----------
    model : str
        Model id.
    experiment : str or Experiment
        Experiment name, TOML path or Experiment.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    level : str
        ``"truth"`` or ``"detector"``.
    directory : path, optional
        Template directory (default: the shipped templates).

    Returns
    -------
    ShapeGrid

    Examples
    --------
    km at 0.1 GeV: 7.4e10 events at epsilon = 1 at truth level, 4.2e10 after the LDMX
    detector (acceptance, resolution and the E < 0.3 E0 signal region):

    >>> from darkmoments.stats.inputs import load_grid_at
    >>> truth = load_grid_at("km", "ldmx-phase2", "E")
    >>> det = load_grid_at("km", "ldmx-phase2", "E", level="detector")
    >>> f"{truth.rate(0.1):.2g}", f"{det.rate(0.1):.2g}", det.n_bins
    ('7.4e+10', '4.2e+10', 40)
    """
    from ..experiments import get_experiment
    from .shapes import load_grid

    exp = get_experiment(experiment)
    d = None if directory is None else str(directory)
    lvl = check_level_file(exp, level, d)
    # load_grid resolves an Experiment too (get_experiment); its annotation says str
    return load_grid(model, exp, observables, directory=d, level=lvl)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- background


def background_sigma(uncertainty: float | None) -> float | None:
    """The log-normal width s_b = ln(1 + sigma_b) of a relative uncertainty (None if 0).

    Parameters
    ----------
    uncertainty : float or None
        Relative uncertainty sigma_b (0.2 = 20 %).

    Returns
    -------
    float or None
        s_b; None for None or 0 (exactly known).

    Raises
    ------
    InputError, InputTypeError
        Negative or non-finite ``uncertainty``.

    Examples
    --------
    >>> from darkmoments.stats.inputs import background_sigma
    >>> round(background_sigma(0.2), 4), background_sigma(0.0)  # ln(1.2)
    (0.1823, None)
    """
    if uncertainty is None:
        return None
    u = check_real("background normalisation uncertainty", uncertainty, lo=0.0)
    return None if u == 0 else math.log1p(u)


def load_background(path: str | os.PathLike[str]) -> FloatArray:
    """Read a background template (expected events per flattened bin) from a file.

    Parameters
    ----------
    path : str or path
        ``.npy`` (1D array) or ``.json`` (a list of numbers or ``{"counts": [...]}``), in the
        flattened bin order of the chosen observables (E major for E,pt), either per template
        bin or per workspace bin (:func:`workspace_layout`).

    Returns
    -------
    ndarray
        Events per bin.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from darkmoments.stats.inputs import load_background
    >>> path = Path(tempfile.mkdtemp()) / "bkg.json"
    >>> _ = path.write_text(json.dumps({"counts": [0.5, 1.5, 2.0]}))
    >>> load_background(path)  # events per bin
    array([0.5, 1.5, 2. ])
    """
    p = Path(path)
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif p.suffix == ".json":
            obj = json.loads(p.read_text())
            arr = np.asarray(obj["counts"] if isinstance(obj, dict) else obj, dtype=float)
        else:
            raise InputError(f"background file {str(p)!r} must be .npy or .json")
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"background file {str(p)!r} is not a list of counts: {exc}") from exc
    return np.asarray(arr, dtype=float).ravel()


def _from_counts(
    exp: Experiment, counts: Any, uncertainty: float, level: str, source: str
) -> Background:
    """A :class:`Background` on the experiment's binning, validated with the experiment."""
    import dataclasses

    from ..experiments import Background

    n_e, n_pt = exp.binning.shape
    arr = np.asarray(counts, dtype=float)
    if arr.size != n_e * n_pt:
        raise InputError(
            f"{source}: a background needs expected events in every (E, p_T) bin of "
            f"experiment {exp.name}, {n_e} x {n_pt} = {n_e * n_pt} values (E major), got "
            f"{arr.size}"
        )
    bkg = Background(
        arr.reshape(n_e, n_pt),
        exp.binning.e_edges,
        exp.binning.pt_edges,
        uncertainty,
        level,
        source,
    )
    dataclasses.replace(exp, background=bkg)  # the experiment's own checks (binning, level)
    return bkg


def _read_file(exp: Experiment, path: Path, uncertainty: float, level: str) -> Background:
    """A background file: the histogram format (with edges) or flattened (E, p_T) counts."""
    import dataclasses

    from ..experiments import read_background

    if not path.is_file():
        raise InputError(f"background file {str(path)!r} does not exist")
    histogram = path.suffix.lower() == ".npz"
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
        histogram = isinstance(obj, dict) and "e_edges" in obj
    if histogram:
        bkg = read_background(path, uncertainty, level)
        dataclasses.replace(exp, background=bkg)  # the binning must be the experiment's
        return bkg
    return _from_counts(exp, load_background(path), uncertainty, level, str(path))


def resolve_background(
    experiment: Any,
    level: str = "truth",
    *,
    background: Any = None,
    flat: float | None = None,
    uncertainty: float | None = None,
) -> Background | None:
    """The background that applies to a statistics call (None: zero background).

    Parameters
    ----------
    experiment : str or Experiment
        Experiment name, TOML path or Experiment (binning, ``[background]`` table).
    level : str
        ``"truth"`` or ``"detector"``; the experiment's background applies at its own level
        only (:meth:`~darkmoments.experiments.Experiment.background_at`).
    background : Background, path, array or number, optional
        Explicit background: a :class:`~darkmoments.experiments.Background`, a file (the
        histogram ``.json``/``.npz`` of :func:`~darkmoments.experiments.read_background`
        with ``e_edges``, ``pt_edges``, ``counts``, or flattened (E, p_T) counts in
        ``.npy``/``.json``, E major), an array of expected events per (E, p_T) bin, or a
        number (the same as ``flat``).  Default: the experiment's.
    flat : float, optional
        Instead: this many events in total, spread evenly over the template bins
        (``0``: no background even if the experiment has one).
    uncertainty : float, optional
        Relative normalisation uncertainty sigma_b in [0, 10] (overrides the file's or the
        experiment's).

    Returns
    -------
    Background or None
        None when no background applies.

    Raises
    ------
    InputError
        Both ``background`` and ``flat``; ``uncertainty`` without any background; bad
        files, shapes, values or binnings (naming the file and the key).

    Examples
    --------
    The shipped setups have no background (the paper's zero-background reach); a flat
    total of 19.2 events puts 0.01 events in each of the 1920 (E, p_T) bins:

    >>> from darkmoments.stats.inputs import resolve_background
    >>> resolve_background("ldmx-phase2") is None
    True
    >>> bkg = resolve_background("ldmx-phase2", flat=19.2, uncertainty=0.2)
    >>> round(bkg.total, 9), bkg.counts.shape, round(float(bkg.counts[0, 0]), 9)
    (19.2, (40, 48), 0.01)
    >>> bkg.normalisation_uncertainty, bkg.source
    (0.2, 'flat background')
    """
    from ..experiments import Background, check_level, get_experiment

    exp = get_experiment(experiment)
    lvl = check_level(level)
    if isinstance(background, int | float | np.floating) and not isinstance(background, bool):
        if flat is not None:
            raise InputError("give either a background or a flat total, not both")
        background, flat = None, float(background)
    if background is not None and flat is not None:
        raise InputError("give either a background (file or histogram) or a flat total, not both")
    if flat is not None:
        total = check_real("flat background", flat, lo=0.0, unit="events")
        n = exp.binning.shape[0] * exp.binning.shape[1]
        counts = np.full(n, total / n)
        return _from_counts(exp, counts, uncertainty or 0.0, lvl, "flat background")
    if background is None:
        bkg = exp.background_at(lvl)
        if bkg is None:
            if uncertainty is not None:
                raise InputError(
                    "a background normalisation uncertainty needs a background: give a "
                    "background file or a flat background, or an experiment whose "
                    f"[background] table applies at level {lvl}"
                )
            return None
        if uncertainty is None:
            return bkg
        return _from_counts(exp, bkg.counts, uncertainty, lvl, bkg.source)
    if isinstance(background, Background):
        if uncertainty is None:
            uncertainty = background.normalisation_uncertainty
        return _from_counts(exp, background.counts, uncertainty, lvl, background.source)
    if isinstance(background, str | os.PathLike):
        return _read_file(exp, Path(background), uncertainty or 0.0, lvl)
    return _from_counts(exp, background, uncertainty or 0.0, lvl, "background array")


def background_total(bkg: Background | None) -> float:
    """Expected background events summed over every bin (0 without a background).

    Parameters
    ----------
    bkg : Background or None
        The background.

    Returns
    -------
    float
        Events (an exactly rounded sum, :func:`math.fsum`).

    Examples
    --------
    >>> from darkmoments.stats.inputs import background_total, resolve_background
    >>> background_total(resolve_background("ldmx-phase2", flat=19.2)), background_total(None)
    (19.2, 0.0)
    """
    return 0.0 if bkg is None else math.fsum(np.asarray(bkg.counts, dtype=float).ravel())


def project_background(bkg: Background | None, observables: Any) -> FloatArray | None:
    """Expected background events per template bin of the chosen observables (flattened).

    ``"E,pt"``: the (E, p_T) bins, E major (the order of
    :func:`~darkmoments.stats.shapes.project_template`); ``"E"`` or ``"pt"``: the sums over
    the other axis.  None without a background.

    Parameters
    ----------
    bkg : Background or None
        The background.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.

    Returns
    -------
    ndarray or None
        Events per bin.

    Examples
    --------
    A flat 19.2 events: 0.48 per E bin (48 p_T bins of 0.01 summed), 0.4 per p_T bin:

    >>> from darkmoments.stats.inputs import project_background, resolve_background
    >>> bkg = resolve_background("ldmx-phase2", flat=19.2)
    >>> e, pt = project_background(bkg, "E"), project_background(bkg, "pt")
    >>> e.shape, e[:2].round(6), pt.shape, pt[:2].round(6)
    ((40,), array([0.48, 0.48]), (48,), array([0.4, 0.4]))
    """
    from .shapes import parse_observables

    if bkg is None:
        return None
    obs = parse_observables(observables)
    c = np.asarray(bkg.counts, dtype=float)
    if obs == ("E", "pt"):
        return c.ravel().copy()
    return c.sum(axis=1 if obs == ("E",) else 0)
