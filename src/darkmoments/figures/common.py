"""What every figure job shares: settings, the figure record, labels and small table helpers.

A *job* computes the numbers behind one or more figures (:class:`Settings` in, a
:class:`JobResult` out: tidy tables, the drawing call, one report paragraph per figure and
the key numbers).  Jobs compute; :mod:`darkmoments.plotting` draws; :mod:`.runner` writes
files, checkpoints and the report.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..experiments import get_experiment
from ..models import MODEL_IDS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..stats.shapes import ShapeGrid

__all__ = [
    "GROUPS_RELIC",
    "GROUPS_SHAPE",
    "FigureRecord",
    "JobResult",
    "Settings",
    "experiment_label",
    "hist_frame",
    "interp_loglog",
    "shape_grid",
]

#: The paper's three groups of figure 1 (reach and relic targets: KM | M, E | C, A).
GROUPS_RELIC: tuple[tuple[str, ...], ...] = (("km",), ("md", "ed"), ("cr", "am"))
#: The paper's two shape groups of figures 4 and 5 (normalised distributions: KM, C, A | M, E).
GROUPS_SHAPE: tuple[tuple[str, ...], ...] = (("km", "cr", "am"), ("md", "ed"))


@dataclass(frozen=True)
class Settings:
    """Settings of one reproduce run (everything the results depend on, plus execution).

    Attributes
    ----------
    fast : bool
        Smoke-test sizes (fewer events, masses and grid points; same files).
    seed : int
        Base seed of every random number (generator samples, cross sections, resampling).
    workers : int
        Processes for the parallel loops (results do not depend on it).
    progress : bool
        Show tqdm bars (stderr) inside the jobs.
    dpi : int
        Resolution of the PNG files.

    Examples
    --------
    >>> from darkmoments.figures.common import Settings
    >>> s = Settings(fast=True)
    >>> s.pick(8, 40), Settings().pick(8, 40)  # e.g. relic masses: fast or full
    (8, 40)
    """

    fast: bool = False
    seed: int = 1
    workers: int = 1
    progress: bool = False
    dpi: int = 100

    def pick(self, fast: Any, full: Any) -> Any:
        """``fast`` in a ``--fast`` run, else ``full``."""
        return fast if self.fast else full


@dataclass
class FigureRecord:
    """One figure of a job.

    Attributes
    ----------
    name : str
        File stem (``fig1_reach`` -> ``fig1_reach.png``, ``.pdf``, ``.csv``).
    title : str
        Heading in the report.
    tables : dict of str -> DataFrame
        The numbers behind the figure: ``""`` is ``<name>.csv``, any other key ``k`` is
        ``<name>_<k>.csv``.
    draw : callable
        ``draw() -> Figure`` (a :mod:`darkmoments.plotting` call on the tables).
    paragraph : str
        The report paragraph: what it shows, how it compares with the paper, the key number.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.figures.common import FigureRecord
    >>> rec = FigureRecord("demo", "A demo", {"": pd.DataFrame({"mass": [0.1], "y": [1e-13]})},
    ...                    lambda: plt.figure(), "One point.")
    >>> fig = rec.draw()
    >>> rec.name, list(rec.tables[""].columns), type(fig).__name__
    ('demo', ['mass', 'y'], 'Figure')
    >>> plt.close(fig)
    """

    name: str
    title: str
    tables: dict[str, pd.DataFrame]
    draw: Callable[[], Figure]
    paragraph: str


@dataclass
class JobResult:
    """Figures and key numbers of one job (the numbers are JSON-able).

    Attributes
    ----------
    figures : list of FigureRecord
        The job's figures.
    numbers : dict
        Key numbers (JSON-able), stored in the run's stamp.

    Examples
    --------
    >>> from darkmoments.figures.common import JobResult
    >>> JobResult([], {"events_90cl": 2.303}).numbers
    {'events_90cl': 2.303}
    """

    figures: list[FigureRecord]
    numbers: dict[str, Any] = field(default_factory=dict)


def _power_of_ten(x: float) -> str:
    exp = math.floor(math.log10(x))
    mant = x / 10**exp
    if abs(mant - 1.0) < 1e-9:
        return rf"$10^{{{exp}}}$"
    return rf"${mant:g}\times10^{{{exp}}}$"


def experiment_label(name: str, extra: str | None = None) -> str:
    """``LDMX Phase II: 8 GeV e- on W (0.1 X0), 1e16 EOT`` in mathtext, plus ``extra``.

    Parameters
    ----------
    name : str
        Experiment name (``ldmx-phase1``, ``ldmx-phase2`` or a TOML path).
    extra : str, optional
        Appended after a comma (e.g. ``"90% CL, zero background"``).

    Returns
    -------
    str

    Examples
    --------
    >>> from darkmoments.figures.common import experiment_label
    >>> experiment_label("ldmx-phase2", "90% CL")
    'LDMX Phase II: 8 GeV $e^-$ on W (0.1 $X_0$), $10^{16}$ EOT, 90% CL'
    """
    exp = get_experiment(name)
    head = exp.description.split(":")[0] if ":" in exp.description else exp.name
    lep = r"$e^-$" if exp.lepton == "e" else r"$\mu^-$"
    text = (
        f"{head}: {exp.beam_energy:g} GeV {lep} on {exp.target.symbol} "
        f"({exp.thickness_x0:g} $X_0$), {_power_of_ten(exp.eot)} EOT"
    )
    return f"{text}, {extra}" if extra else text


def hist_frame(edges: ArrayLike, density: ArrayLike, **keys: Any) -> pd.DataFrame:
    """Rows ``lo``, ``hi``, ``density`` of one histogram, with constant columns ``keys``.

    Parameters
    ----------
    edges : array_like
        Bin edges (GeV).
    density : array_like
        One value per bin.
    **keys
        Constant columns (``model="km"``).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from darkmoments.figures.common import hist_frame
    >>> hist_frame([0.0, 4.0, 8.0], [0.2, 0.05], model="km").to_dict("list")
    {'model': ['km', 'km'], 'lo': [0.0, 4.0], 'hi': [4.0, 8.0], 'density': [0.2, 0.05]}
    """
    e = np.asarray(edges, dtype=float)
    d = np.asarray(density, dtype=float)
    cols: dict[str, Any] = {k: [v] * d.size for k, v in keys.items()}
    cols.update({"lo": e[:-1], "hi": e[1:], "density": d})
    return pd.DataFrame(cols)


def interp_loglog(x: ArrayLike, y: ArrayLike, x0: float) -> float:
    """y(x0) interpolated linearly in (ln x, ln y) (x increasing, y > 0); NaN outside.

    Parameters
    ----------
    x, y : array_like
        Increasing x (e.g. masses in GeV) and y > 0.
    x0 : float
        Where to interpolate.

    Returns
    -------
    float

    Examples
    --------
    A power law y = x^2 is exact:

    >>> from darkmoments.figures.common import interp_loglog
    >>> round(interp_loglog([0.01, 1.0], [1e-4, 1.0], 0.1), 12)
    0.01
    >>> interp_loglog([0.01, 1.0], [1e-4, 1.0], 2.0)  # outside
    nan
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x0 < xs.min() or x0 > xs.max():
        return float("nan")
    return float(np.exp(np.interp(math.log(x0), np.log(xs), np.log(ys))))


@functools.lru_cache(maxsize=64)
def shape_grid(model: str, experiment: str, observables: str) -> ShapeGrid:
    """:func:`darkmoments.stats.load_grid` on the shipped templates, cached per process.

    Parameters
    ----------
    model, experiment, observables : str
        As :func:`darkmoments.stats.load_grid`.

    Returns
    -------
    ShapeGrid

    Examples
    --------
    >>> from darkmoments.figures.common import shape_grid
    >>> shape_grid("km", "ldmx-phase2", "E") is shape_grid("km", "ldmx-phase2", "E")
    True
    """
    from ..stats import load_grid

    return load_grid(model, experiment, observables)


def ordered_pairs(models: Sequence[str] = MODEL_IDS) -> list[tuple[str, str]]:
    """Every ordered pair (true, alternative) of distinct models, in the paper's order."""
    return [(a, b) for a in models for b in models if a != b]


def group_of(model: str, groups: Sequence[Sequence[str]]) -> int:
    """Index of the group that holds ``model``."""
    for i, g in enumerate(groups):
        if model in g:
            return i
    raise KeyError(model)


def fmt(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` significant digits (``1.9e-13`` style below 1e-3 and above 1e4)."""
    if not math.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.{digits - 1}e}"
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")


def to_builtin(obj: Any) -> Any:
    """Numpy scalars and arrays in ``obj`` as Python numbers and lists (JSON-able)."""
    if isinstance(obj, Mapping):
        return {str(k): to_builtin(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_builtin(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_builtin(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


FloatArray = NDArray[np.float64]
