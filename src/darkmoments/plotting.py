"""Figures (matplotlib + mplhep) in one style; paper colours via ``Model.color``.

Plotting draws results computed elsewhere (``darkmoments.stats``, ``darkmoments.figures``):
it computes no physics.  The paper-figure functions take tidy tables (pandas DataFrames whose
columns each docstring lists; the same tables ``darkmoments reproduce`` writes as CSV), so a
figure can always be redrawn from its CSV.

The one style: mplhep's ROOT style with the DejaVu fonts shipped with matplotlib (no font
lookup warns) and one set of font sizes (:func:`style`); the paper's colours (KM red, M green,
E blue, C grey, A brown); the model labels of :func:`model_label` everywhere; the recoil
energy always written as :data:`E_LABEL` (``E_{e_f^-}``, never a bare "E" next to the model
letter E); curves that coincide (M and E, C and A) drawn as a wide translucent line under a
thin patterned one (:func:`model_line`); and the experiment and beam on every figure
(the ``label`` argument).

Every ``plot_*`` function returns a ``matplotlib.figure.Figure``; :func:`save_figure` writes
it atomically.  Needs the ``plot`` extra (``pip install 'darkmoments[plot]'``); without it
every function raises :class:`~darkmoments.errors.MissingExtraError` naming the extra.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ._optional import require
from .errors import InputError, OutputPathError
from .io.atomic import atomic_path
from .models import MODEL_IDS, get_model

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .stats.degeneracy import DegeneracySurface
    from .stats.toys import DiscriminationResult

__all__ = [
    "E_LABEL",
    "MASS_LABEL",
    "PT_LABEL",
    "SIGMA_LEVELS",
    "model_label",
    "model_line",
    "observables_label",
    "plot_2d_groups",
    "plot_degeneracy",
    "plot_degeneracy_grid",
    "plot_discrimination",
    "plot_exact_vs_analytic",
    "plot_kinematics",
    "plot_mass_model_degeneracy",
    "plot_nsigma_grid",
    "plot_nucleus_pt",
    "plot_reach",
    "plot_reach_relic",
    "plot_relic_comparison",
    "plot_separation",
    "plot_sigma_vs_mass",
    "save_figure",
    "style",
]

#: Contour levels of -2 Delta ln L drawn on degeneracy plots (1, 2, 3, 5 sigma, 1 dof).
SIGMA_LEVELS: tuple[float, ...] = (1.0, 4.0, 9.0, 25.0)

#: Axis labels: the recoil lepton's energy and transverse momentum (paper notation), the mass.
E_LABEL = r"recoil energy $E_{e_f^-}$ [GeV]"
PT_LABEL = r"recoil $|p_T|_{e_f^-}$ [GeV]"
MASS_LABEL = r"$m_{A'}$ [GeV]"

_OBS_NAMES = {
    ("E", "pt"): r"energy and $p_T$",
    ("E",): "energy only",
    ("pt",): r"$p_T$ only",
}


def observables_label(observables: str | Sequence[str]) -> str:
    """Words for an observable set: ``"energy only"``, ``"$p_T$ only"``, ``"energy and $p_T$"``.

    Parameters
    ----------
    observables : str or sequence of str
        ``"E"``, ``"pt"``, ``"E,pt"`` or a tuple of those names.

    Returns
    -------
    str

    Examples
    --------
    >>> from darkmoments.plotting import observables_label
    >>> observables_label("pt"), observables_label(("E", "pt"))
    ('$p_T$ only', 'energy and $p_T$')
    """
    key = tuple(observables.split(",")) if isinstance(observables, str) else tuple(observables)
    if key not in _OBS_NAMES:
        raise InputError(f"observables {observables!r} must be E, pt or E,pt")
    return _OBS_NAMES[key]


def model_label(model: str, *, long: bool = True) -> str:
    """The one label of a model: the paper's letter, with its name (``"M (magnetic dipole)"``).

    Parameters
    ----------
    model : str
        Model id, letter or name.
    long : bool
        With the name in parentheses (legends) or the letter alone (compact panel titles).

    Returns
    -------
    str

    Examples
    --------
    >>> from darkmoments.plotting import model_label
    >>> model_label("md"), model_label("kinetic-mixing"), model_label("am", long=False)
    ('M (magnetic dipole)', 'KM (kinetic mixing)', 'A')
    """
    m = get_model(model)
    return f"{m.letter} ({m.name.replace('-', ' ')})" if long else m.letter


# Models whose curves coincide with another's (M with E, C with A and KM in shape) are drawn
# wide and translucent underneath; their partners thin and patterned on top.
_UNDER = {"md", "cr"}
_PATTERN = {"km": "-", "md": "-", "ed": (0, (4.0, 1.6)), "cr": "-", "am": (0, (1.2, 1.2))}
_ROLE_DASH = {"reach": (0, (5.0, 2.5)), "relic": "-"}


def model_line(model: str, role: str = "curve") -> dict[str, Any]:
    """Line keywords of a model (colour, linestyle, width, alpha, z-order).

    Parameters
    ----------
    model : str
        Model id.
    role : {"curve", "reach", "relic"}
        ``curve``: one curve per model (distinct patterns for the models whose curves
        coincide); ``reach``: dashed and ``relic``: solid, as in the paper's figure 1, the
        coinciding models told apart by width (wide translucent under thin).

    Returns
    -------
    dict
        Keywords for ``Axes.plot`` / ``Axes.stairs``.

    Examples
    --------
    M (whose curves coincide with E's) is drawn wide and translucent under E's pattern:

    >>> from darkmoments.plotting import model_line
    >>> model_line("md")
    {'color': 'tab:green', 'ls': '-', 'lw': 4.5, 'alpha': 0.45, 'zorder': 2}
    >>> model_line("ed", "reach")["ls"], model_line("km", "relic")["ls"]
    ((0, (2.0, 1.5)), '-')
    """
    m = get_model(model)
    if role not in ("curve", "reach", "relic"):
        raise InputError(f"role {role!r} must be curve, reach or relic")
    under = m.id in _UNDER
    ls = _PATTERN[m.id] if role == "curve" else _ROLE_DASH[role]
    if role == "reach" and m.id in ("ed", "am"):
        ls = (0, (2.0, 1.5))
    return {
        "color": m.color,
        "ls": ls,
        "lw": 4.5 if under else 2.0,
        "alpha": 0.45 if under else 1.0,
        "zorder": 2 if under else 3,
    }


def _pyplot() -> Any:
    return require("matplotlib.pyplot", "plot", "plotting")


def _mplhep() -> Any:
    require("matplotlib", "plot", "plotting")
    return require("mplhep", "plot", "plotting")


#: Fonts that matplotlib itself ships: every text is drawn with them, so no system font is
#: looked up and no ``findfont`` warning can appear.
_FONT_OVERRIDES: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.serif": ["DejaVu Serif"],
    "font.monospace": ["DejaVu Sans Mono"],
    "font.cursive": ["DejaVu Sans"],
    "font.fantasy": ["DejaVu Sans"],
    # mathtext: the DejaVu set shipped with matplotlib; "custom" would look up
    # mathtext.cal (default 'cursive', absent on most systems) at draw time.
    "mathtext.fontset": "dejavusans",
    "mathtext.default": "regular",
    "mathtext.rm": "DejaVu Sans",
    "mathtext.it": "DejaVu Sans:italic",
    "mathtext.bf": "DejaVu Sans:bold",
    "mathtext.sf": "DejaVu Sans",
    "mathtext.tt": "DejaVu Sans Mono",
    "mathtext.cal": "DejaVu Sans",
}

#: One set of sizes for every figure (points): ticks, labels, legends and titles in
#: proportion (mplhep's ROOT style uses 26 pt text for single 10 x 10 inch panels).
_SIZE_OVERRIDES: dict[str, Any] = {
    "font.size": 13.0,
    "axes.labelsize": 14.0,
    "axes.titlesize": 13.0,
    "xtick.labelsize": 12.0,
    "ytick.labelsize": 12.0,
    "legend.fontsize": 11.0,
    "legend.title_fontsize": 11.0,
    "figure.titlesize": 14.0,
    "xtick.major.size": 7.0,
    "xtick.minor.size": 3.5,
    "ytick.major.size": 7.0,
    "ytick.minor.size": 3.5,
    "lines.linewidth": 2.0,
    "figure.figsize": (8.0, 6.0),
}


def style() -> dict[str, Any]:
    """The darkmoments figure style: mplhep's ROOT style, DejaVu fonts, one set of sizes.

    Returns
    -------
    dict
        rcParams for ``matplotlib.pyplot.style.context``; only keys this matplotlib knows.

    Raises
    ------
    MissingExtraError
        matplotlib or mplhep is not installed (``pip install 'darkmoments[plot]'``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from darkmoments.plotting import style
    >>> rc = style()
    >>> rc["font.size"], rc["mathtext.fontset"]
    (13.0, 'dejavusans')
    >>> with plt.style.context(rc):  # any figure of your own in the darkmoments style
    ...     fig, ax = plt.subplots()
    >>> plt.close(fig)
    """
    mpl = require("matplotlib", "plot", "plotting")
    base = _mplhep().style.ROOT
    merged: dict[str, Any] = {}
    for part in base if isinstance(base, list | tuple) else [base]:
        if isinstance(part, Mapping):
            merged.update(part)
    merged.update(_FONT_OVERRIDES)
    merged.update(_SIZE_OVERRIDES)
    return {k: v for k, v in merged.items() if k in mpl.rcParams}


F = TypeVar("F", bound=Callable[..., Any])


def _styled(fn: F) -> F:
    """Run a plot function inside :func:`style` (without changing global rcParams)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        plt = _pyplot()
        with plt.style.context(style()):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Save ``fig`` atomically (temp file in the same directory, then ``os.replace``).

    Parameters
    ----------
    fig : Figure
        The figure.
    path : path
        Output file; the format follows the suffix (png, pdf, svg).
    dpi : int
        Resolution for raster formats.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        The suffix is not png, pdf or svg.
    OutputPathError
        The directory of ``path`` does not exist (it is never created silently).
    MissingExtraError
        matplotlib or mplhep is not installed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import matplotlib.pyplot as plt
    >>> from darkmoments.plotting import save_figure
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0.01, 0.1, 1.0], [1e-14, 1e-13, 1e-12])
    >>> out = save_figure(fig, Path(tempfile.mkdtemp()) / "reach.pdf")
    >>> out.name, out.read_bytes()[:5]
    ('reach.pdf', b'%PDF-')
    >>> save_figure(fig, out.with_suffix(".jpg"))
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: figure file '...reach.jpg' must end in .png, .pdf or .svg
    >>> plt.close(fig)
    """
    out = Path(path)
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in ("png", "pdf", "svg"):
        raise InputError(f"figure file {str(out)!r} must end in .png, .pdf or .svg")
    if not out.parent.is_dir():
        raise OutputPathError(
            f"directory {str(out.parent)!r} of figure file {str(out)!r} does not exist"
        )
    plt = _pyplot()
    # Draw with the style the figure was made in: text is laid out at draw time.
    # PDF/SVG metadata without a date, so the same figure gives the same bytes.
    meta = (
        {"CreationDate": None} if suffix == "pdf" else ({"Date": None} if suffix == "svg" else None)
    )
    with plt.style.context(style()), atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix, metadata=meta)
    return out


def _tag(target: Any, text: str | None) -> None:
    """State the experiment and beam: a left title of an axes, or a figure's suptitle."""
    if not text:
        return
    if hasattr(target, "suptitle"):
        target.suptitle(text)
    else:
        target.set_title(text, loc="left", fontsize="medium")


def _models_in(values: Any) -> list[str]:
    """Model ids present in a column, in the paper's order (KM, M, E, C, A)."""
    present = {str(v) for v in values}
    return [m for m in MODEL_IDS if m in present]


def _model_handles(models: Sequence[str], role: str = "curve") -> list[Any]:
    from matplotlib.lines import Line2D

    if role == "plain":  # colour only (figures where each model has one line style)
        return [Line2D([], [], label=model_label(m), color=get_model(m).color) for m in models]
    return [Line2D([], [], label=model_label(m), **model_line(m, role)) for m in models]


def _mass_text(mass: float) -> str:
    """``10 MeV`` below 1 GeV, ``1 GeV`` above (3 significant digits)."""
    return f"{mass * 1e3:.3g} MeV" if mass < 1.0 else f"{mass:.3g} GeV"


@_styled
def plot_degeneracy(surfaces: Sequence[DegeneracySurface], *, label: str | None = None) -> Figure:
    """Contours of -2 Delta ln L(alt model, fitted mass | true model, true mass), one panel each.

    Parameters
    ----------
    surfaces : sequence of DegeneracySurface
        E.g. the same model pair for energy only, p_T only and both.
    label : str, optional
        Experiment and beam (figure title).

    Returns
    -------
    Figure
        x: true mass [GeV], y: fitted mass of the alternative [GeV] (log axes); filled
        contours at 1, 2, 3, 5 sigma (1 dof), the best-fit alternative mass (markers in the
        alternative's colour; open where it sits on the edge of the alternative's mass grid)
        and the diagonal.

    Examples
    --------
    The p_T-only degeneracy of md against 100 km events (8 x 8 masses, for speed):

    >>> import matplotlib.pyplot as plt
    >>> from darkmoments.plotting import plot_degeneracy
    >>> from darkmoments.stats import degeneracy_surface, load_grid
    >>> surf = degeneracy_surface(load_grid("km", observables="pt"),
    ...                           load_grid("md", observables="pt"), 100.0, points=8)
    >>> fig = plot_degeneracy([surf], label="LDMX Phase II, 8 GeV e-")
    >>> len(fig.axes), fig.axes[0].get_xscale()  # the panel and the colour bar
    (2, 'log')
    >>> plt.close(fig)
    """
    if len(surfaces) == 0:
        raise ValueError("need at least one degeneracy surface to plot")
    plt = _pyplot()
    n = len(surfaces)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 5.0), squeeze=False, layout="constrained")
    cs = None
    for ax, s in zip(axes[0], surfaces, strict=True):
        alt, tru = get_model(s.alt_model), get_model(s.true_model)
        cs = _q_contours(ax, s.true_masses, s.fit_masses, s.q)
        at_edge = _at_edge(s.best_alt_mass, s.fit_masses)
        _best_fit(ax, s.true_masses, s.best_alt_mass, at_edge, alt.color, "best fit")
        _diagonal(ax, s.true_masses, s.fit_masses, tru.color)
        ax.set_xlabel(rf"true $m_{{A'}}$ [GeV], {model_label(tru.id)}")
        ax.set_ylabel(rf"fitted $m_{{A'}}$ [GeV], {model_label(alt.id)}")
        ax.set_title(f"{observables_label(s.observables)}, N = {s.n_events:g}")
        ax.legend(loc="upper left", fontsize="small")
    _q_colorbar(fig, cs, list(axes[0]))
    _tag(fig, label)
    return fig


def _at_edge(best: ArrayLike, fit_masses: ArrayLike, rtol: float = 1e-3) -> np.ndarray:
    """Whether each best fit lies on the first or last fit mass (within ``rtol``)."""
    b = np.asarray(best, dtype=float)
    fm = np.asarray(fit_masses, dtype=float)
    lo, hi = float(np.min(fm)), float(np.max(fm))
    return np.asarray((b <= lo * (1 + rtol)) | (b >= hi * (1 - rtol)))


def _q_contours(ax: Axes, true_masses: Any, fit_masses: Any, q: Any) -> Any:
    """Filled -2 Delta ln L contours at :data:`SIGMA_LEVELS` on log-log axes."""
    plt = _pyplot()
    from matplotlib.colors import BoundaryNorm

    levels = [0.0, *SIGMA_LEVELS, 1e9]
    cmap = plt.get_cmap("Blues_r", len(levels) - 1)
    x, y = np.meshgrid(np.asarray(true_masses), np.asarray(fit_masses), indexing="ij")
    qq = np.clip(np.asarray(q, dtype=float), 0.0, 1e9)
    cs = ax.contourf(x, y, qq, levels=levels, cmap=cmap, norm=BoundaryNorm(levels, cmap.N))
    ax.contour(x, y, qq, levels=list(SIGMA_LEVELS), colors="k", linewidths=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return cs


def _q_colorbar(fig: Figure, cs: Any, axes: Any) -> None:
    cbar = fig.colorbar(cs, ax=axes, ticks=list(SIGMA_LEVELS), shrink=0.6, aspect=30)
    cbar.set_label(r"$-2\,\Delta\ln L$ of the fitted model")
    cbar.ax.set_yticklabels(
        [rf"{lv:g} ({k}$\sigma$)" for lv, k in zip(SIGMA_LEVELS, (1, 2, 3, 5), strict=True)]
    )


def _best_fit(ax: Axes, x: Any, best: Any, at_edge: Any, color: str, label: str, **kw: Any) -> None:
    """Best-fit masses as markers on a thin line; open markers where on the grid edge."""
    x, best, edge = np.asarray(x), np.asarray(best), np.asarray(at_edge, dtype=bool)
    ax.plot(x, best, color=color, lw=1.0, marker="o", ms=3.5, label=label, **kw)
    if edge.any():
        ax.plot(x[edge], best[edge], ls="none", marker="o", ms=7, mfc="white", mec="k",
                mew=1.2, zorder=5, label="best fit on the grid edge")  # fmt: skip


def _diagonal(ax: Axes, true_masses: Any, fit_masses: Any, color: str) -> None:
    lo = max(float(np.min(true_masses)), float(np.min(fit_masses)))
    hi = min(float(np.max(true_masses)), float(np.max(fit_masses)))
    ax.plot([lo, hi], [lo, hi], ls="--", color=color, lw=1, label="fitted = true")


@_styled
def plot_discrimination(
    result: DiscriminationResult, *, bins: int = 60, label: str | None = None
) -> Figure:
    """Distributions of the statistic t = D_alt - D_true under both hypotheses.

    Parameters
    ----------
    result : DiscriminationResult
        Toy results.
    bins : int
        Histogram bins.
    label : str, optional
        Experiment and beam (left title).

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from darkmoments.plotting import plot_discrimination
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.toys import DiscriminationSetup, run_discrimination
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> res = run_discrimination(DiscriminationSetup(km, md, 0.0915067, 50.0, refine=False),
    ...                          100, seed=1, identity_resamples=20, band_resamples=10)
    >>> fig = plot_discrimination(res, bins=20, label="LDMX Phase II")
    >>> fig.axes[0].get_legend().get_title().get_text()
    'N = 50: Z = 1.65 (toys), 1.94 (Asimov)'
    >>> plt.close(fig)
    """
    plt = _pyplot()
    mplhep = _mplhep()

    tru, alt = get_model(result.true_model), get_model(result.alt_model)
    fig, ax = plt.subplots(figsize=(8, 6), layout="constrained")
    allt = np.concatenate([result.t_true, result.t_alt])
    lo, hi = np.percentile(allt, [0.1, 99.9])
    edges = np.linspace(lo, hi, bins + 1)
    for t, m, lab in (
        (
            result.t_true,
            tru,
            rf"{model_label(tru.id)}, $m_{{A'}}$ = {result.true_mass:g} GeV (true)",
        ),
        (
            result.t_alt,
            alt,
            rf"{model_label(alt.id)}, $m_{{A'}}$ = {result.alt_mass:.3g} GeV (alt.)",
        ),
    ):
        h, _ = np.histogram(np.clip(t, lo, hi), bins=edges, density=True)
        mplhep.histplot(h, edges, ax=ax, color=m.color, label=lab)
    ax.axvline(result.median_t_true, color="k", ls="--", label="median (true)")
    ax.set_xlabel(r"$t = -2\ln[L(\mathrm{alt})/L(\mathrm{true})]$")
    ax.set_ylabel("probability density")
    bound = r"$\geq$" if result.z_is_bound else "="
    ax.legend(
        title=f"N = {result.n_events:g}: Z {bound} {result.z:.2f} (toys), "
        f"{result.z_asimov:.2f} (Asimov)"
    )
    _tag(ax, label)
    return fig


@_styled
def plot_reach(
    rows: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    relic: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    title: str | None = None,
) -> Figure:
    """Projected reach: y (eq. 3.3) versus m_A' for each model (paper figure 1).

    Parameters
    ----------
    rows : mapping model id -> list of {"mass", "coupling", "y"}
        E.g. from :func:`darkmoments.stats.limits.reach_rows` (masses in GeV).
    relic : mapping model id -> (masses [GeV], y), optional
        Relic targets (e.g. from :func:`darkmoments.relic.scan`), drawn as solid curves; the
        reach is then dashed, as in the paper's figure 1.
    title : str, optional
        Experiment and beam (left title).

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from darkmoments.plotting import plot_reach
    >>> from darkmoments.stats import reach_by_model, reach_table
    >>> fig = plot_reach(reach_by_model(reach_table(["km", "md"])), title="LDMX Phase II")
    >>> ax = fig.axes[0]
    >>> ax.get_xscale(), ax.get_yscale(), len(ax.lines)  # one curve per model
    ('log', 'log', 2)
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6), layout="constrained")
    for model, rr in rows.items():
        kw = model_line(model, "reach" if relic else "curve")
        ax.plot([r["mass"] for r in rr], [r["y"] for r in rr], **kw)
    for model, (masses, y) in (relic or {}).items():
        ax.plot(masses, y, **model_line(model, "relic"))
    models = [m for m in MODEL_IDS if m in {get_model(k).id for k in (*rows, *(relic or {}))}]
    _reach_axes(ax, models, with_relic=bool(relic), with_band=False)
    _tag(ax, title)
    return fig


_Y_LABEL = r"$y = g_f^2\,\alpha_D\,(m_\chi/m_{A'})^4\,\Lambda_f^{2n}$"


def _reach_axes(ax: Axes, models: Sequence[str], *, with_relic: bool, with_band: bool) -> None:
    """Log axes, labels and the two-part legend (models by colour, curves by line style)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(MASS_LABEL)
    ax.set_ylabel(_Y_LABEL)
    handles = _model_handles(models, "relic" if with_relic else "curve")
    if with_relic:
        handles += [
            Line2D([], [], color="k", ls=_ROLE_DASH["reach"], label="LDMX reach (90% CL)"),
            Line2D([], [], color="k", ls="-", label="relic target"),
        ]
    if with_band:
        handles.append(Patch(color="0.5", alpha=0.25, label="hadronic proxy (band)"))
    ax.legend(handles=handles, ncol=2, loc="best")


# ---------------------------------------------------------------- paper figures 1-6


@_styled
def plot_reach_relic(table: pd.DataFrame, *, label: str | None = None) -> Figure:
    """Paper figure 1: the reach (dashed) and the relic targets (solid) of every model.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``curve`` (``reach``, ``relic`` or ``relic_hadron_proxy``, the
        other edge of the paper's shaded hadronic band, on the relic curve's masses),
        ``mass`` [GeV] and ``y`` (eq. 3.3, dimensionless).
    label : str, optional
        Experiment, beam and confidence level (left title).

    Returns
    -------
    Figure

    Examples
    --------
    A made-up table of the right form (``darkmoments reproduce`` writes the real one):

    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_reach_relic
    >>> table = pd.DataFrame([{"model": m, "curve": c, "mass": x, "y": f * 1e-13 * x}
    ...                       for m in ("km", "md") for c, f in (("reach", 1.0), ("relic", 3.0))
    ...                       for x in (0.01, 0.1, 1.0)])
    >>> fig = plot_reach_relic(table, label="LDMX Phase II, 90% CL")
    >>> len(fig.axes[0].lines), fig.axes[0].get_title(loc="left")
    (4, 'LDMX Phase II, 90% CL')
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 6.5), layout="constrained")
    models = _models_in(table.model)
    band = False
    for mid in models:
        t = table[table.model == mid]
        for curve in ("reach", "relic"):
            c = t[t.curve == curve].sort_values("mass")
            if len(c):
                ax.plot(c.mass, c.y, **model_line(mid, curve))
        rel = t[t.curve == "relic"].sort_values("mass")
        prox = t[t.curve == "relic_hadron_proxy"].sort_values("mass")
        if len(prox) and len(rel):
            joined = rel.merge(prox, on="mass", suffixes=("", "_proxy"))
            ax.fill_between(joined.mass, joined.y, joined.y_proxy, color=get_model(mid).color,
                            alpha=0.22, lw=0, zorder=1)  # fmt: skip
            band = True
    _reach_axes(ax, models, with_relic=True, with_band=band)
    _tag(ax, label)
    return fig


def _stairs(ax: Axes, t: pd.DataFrame, **kw: Any) -> None:
    """Histogram from rows with ``lo``, ``hi``, ``density`` (contiguous bins)."""
    t = t.sort_values("lo")
    edges = np.append(t.lo.to_numpy(), t.hi.to_numpy()[-1])
    ax.stairs(t.density.to_numpy(), edges, **kw)


_DENS_E = r"$\frac{1}{\sigma}\,\frac{d\sigma}{dE_{e_f^-}}$ [GeV$^{-1}$]"
_DENS_PT = r"$\frac{1}{\sigma}\,\frac{d\sigma}{d|p_T|_{e_f^-}}$ [GeV$^{-1}$]"
_DENS_LNPT = r"$\frac{1}{\sigma}\,\frac{d\sigma}{d\ln|p_T|_{e_f^-}}$"


@_styled
def plot_exact_vs_analytic(
    table: pd.DataFrame, *, label: str | None = None, note: str | None = None
) -> Figure:
    """Paper figure 2: recoil energy and p_T, exact (solid) against the WW method (dotted).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``observable`` (``E`` or ``pt``), ``method`` (``exact`` or
        ``analytic``), ``lo``, ``hi`` [GeV] and ``density`` [GeV^-1] (unit area per model,
        observable and method).
    label : str, optional
        Beam, target and A' mass (figure title).
    note : str, optional
        Legend title (e.g. the key number).

    Returns
    -------
    Figure

    Examples
    --------
    Flat made-up spectra on four 2 GeV bins:

    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_exact_vs_analytic
    >>> table = pd.DataFrame([
    ...     {"model": m, "observable": o, "method": me, "lo": 2.0 * i, "hi": 2.0 * i + 2,
    ...      "density": 0.125}
    ...     for m in ("km", "md") for o in ("E", "pt") for me in ("exact", "analytic")
    ...     for i in range(4)])
    >>> fig = plot_exact_vs_analytic(table, label="8 GeV e- on W, m_A' = 0.1 GeV")
    >>> len(fig.axes), fig.axes[0].get_xlabel()
    (2, 'recoil energy $E_{e_f^-}$ [GeV]')
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), layout="constrained")
    models = _models_in(table.model)
    for ax, obs, xlabel, ylabel in ((axes[0], "E", E_LABEL, _DENS_E),
                                    (axes[1], "pt", PT_LABEL, _DENS_PT)):  # fmt: skip
        for mid in models:
            c = get_model(mid).color
            for method, ls in (("exact", "-"), ("analytic", ":")):
                t = table[
                    (table.model == mid) & (table.observable == obs) & (table.method == method)
                ]
                if len(t):
                    _stairs(ax, t, color=c, ls=ls, lw=2.2 if method == "exact" else 2.6)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    handles = [
        *_model_handles(models, "plain"),
        Line2D([], [], color="k", ls="-", label="exact tree level (darkmoments)"),
        Line2D([], [], color="k", ls=":", lw=2.6, label="analytic (WW, eqs. 4.1, 4.2)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, title=note)
    _tag(fig, label)
    return fig


@_styled
def plot_nucleus_pt(
    table: pd.DataFrame, *, label: str | None = None, note: str | None = None
) -> Figure:
    """Paper figure 3: the transverse momentum of the recoiling nucleus, every model.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``lo``, ``hi`` [GeV], ``density`` [GeV^-1] (unit area per model).
    label : str, optional
        Beam and target (left title).
    note : str, optional
        Legend title, e.g. ``m_A'/E_0``.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_nucleus_pt
    >>> table = pd.DataFrame([{"model": m, "lo": 0.1 * i, "hi": 0.1 * i + 0.1, "density": 2.5}
    ...                       for m in ("km", "md") for i in range(4)])
    >>> fig = plot_nucleus_pt(table, label="8 GeV e- on W")
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 6.2), layout="constrained")
    for mid in _models_in(table.model):
        _stairs(ax, table[table.model == mid], label=model_label(mid), **model_line(mid))
    ax.set_yscale("log")
    ax.set_xlabel(r"nucleus $|p_T|_{N}$ [GeV]")
    ax.set_ylabel(r"$\frac{1}{\sigma}\,\frac{d\sigma}{d|p_T|_{N}}$ [GeV$^{-1}$]")
    ax.legend(title=note, loc="upper right")
    _tag(ax, label)
    return fig


@_styled
def plot_kinematics(table: pd.DataFrame, *, label: str | None = None) -> Figure:
    """Paper figure 4: recoil energy and p_T of every model, one row per A' mass.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``mass`` [GeV], ``model``, ``observable`` (``E``: ``density`` per GeV on a
        linear axis; ``pt``: ``density`` per unit ln p_T on a log axis), ``lo``, ``hi`` [GeV],
        ``density`` (unit area).
    label : str, optional
        Experiment and beam (figure title).

    Returns
    -------
    Figure

    Examples
    --------
    Two masses, two models, made-up flat spectra: a 2 x 2 grid of panels:

    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_kinematics
    >>> edges = {"E": np.linspace(0.0, 8.0, 5), "pt": np.geomspace(0.01, 8.0, 5)}
    >>> table = pd.DataFrame([{"mass": ms, "model": m, "observable": o, "lo": a, "hi": b,
    ...                        "density": 1.0}
    ...                       for ms in (0.1, 1.0) for m in ("km", "md")
    ...                       for o, e in edges.items() for a, b in zip(e[:-1], e[1:])])
    >>> fig = plot_kinematics(table, label="LDMX Phase II")
    >>> len(fig.axes), fig.axes[1].get_xscale()
    (4, 'log')
    >>> plt.close(fig)
    """
    plt = _pyplot()
    masses = sorted({float(m) for m in table.mass})
    fig, axes = plt.subplots(len(masses), 2, figsize=(12, 3.6 * len(masses) + 1.0),
                             squeeze=False, layout="constrained")  # fmt: skip
    models = _models_in(table.model)
    for row, mass in zip(axes, masses, strict=True):
        for ax, obs in zip(row, ("E", "pt"), strict=True):
            for mid in models:
                t = table[(table.mass == mass) & (table.model == mid) & (table.observable == obs)]
                _stairs(ax, t, **model_line(mid))
            right = obs == "E"  # the energy spectra fall, the p_T ones peak mid-range
            ax.text(0.97 if right else 0.03, 0.92, rf"$m_{{A'}}$ = {_mass_text(mass)}",
                    transform=ax.transAxes, va="top", ha="right" if right else "left")  # fmt: skip
        row[0].set_ylabel(_DENS_E.replace(r"\sigma", "N"))
        row[1].set_ylabel(_DENS_LNPT.replace(r"\sigma", "N"))
        row[1].set_xscale("log")
    axes[-1][0].set_xlabel(E_LABEL)
    axes[-1][1].set_xlabel(PT_LABEL)
    fig.legend(handles=_model_handles(models), loc="outside lower center", ncol=len(models))
    _tag(fig, label)
    return fig


@_styled
def plot_2d_groups(
    table: pd.DataFrame, *, label: str | None = None, titles: Mapping[str, str] | None = None
) -> Figure:
    """Paper figure 5: the (E, p_T) distribution of each model group, one panel per group.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``group``, ``E_lo``, ``E_hi``, ``pt_lo``, ``pt_hi`` [GeV] and ``density``
        [GeV^-1]: 1/N d^2N / (dE d ln p_T), on a linear E and a log p_T axis (bins with
        ``pt_lo`` = 0 cannot be drawn on it and are left out).
    label : str, optional
        Experiment, beam and A' mass (figure title).
    titles : mapping group -> str, optional
        Panel titles (default: the group names).

    Returns
    -------
    Figure
        With the kinematic limit p_T = E drawn as a curve on the actual axes and the region
        p_T > E (no events) hatched.

    Examples
    --------
    Two groups of models on a made-up flat (E, p_T) density: two panels and a colour bar:

    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_2d_groups
    >>> e, pt = np.linspace(0.0, 8.0, 5), np.geomspace(0.01, 8.0, 5)
    >>> table = pd.DataFrame([{"group": g, "E_lo": a, "E_hi": b, "pt_lo": c, "pt_hi": d,
    ...                        "density": 1.0}
    ...                       for g in ("KM, C, A", "M, E") for a, b in zip(e[:-1], e[1:])
    ...                       for c, d in zip(pt[:-1], pt[1:])])
    >>> fig = plot_2d_groups(table, label="LDMX Phase II, m_A' = 0.1 GeV")
    >>> len(fig.axes)
    3
    >>> plt.close(fig)
    """
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    groups = list(dict.fromkeys(table.group))
    fig, axes = plt.subplots(1, len(groups), figsize=(6.2 * len(groups) + 1.2, 5.6),
                             squeeze=False, sharey=True, layout="constrained")  # fmt: skip
    t = table[table.pt_lo > 0]
    pos = t.density[t.density > 0]
    norm = LogNorm(vmin=float(pos.min()), vmax=float(pos.max()))
    mesh = None
    for ax, g in zip(axes[0], groups, strict=True):
        sub = t[t.group == g]
        e_edges = np.unique(np.concatenate([sub.E_lo, sub.E_hi]))
        p_edges = np.unique(np.concatenate([sub.pt_lo, sub.pt_hi]))
        grid = sub.pivot_table(index="pt_lo", columns="E_lo", values="density").to_numpy()
        mesh = ax.pcolormesh(e_edges, p_edges, np.where(grid > 0, grid, np.nan), norm=norm,
                             shading="flat", cmap="viridis")  # fmt: skip
        _kinematic_limit(ax, e_edges, p_edges)
        ax.set_yscale("log")
        ax.set_xlim(e_edges[0], e_edges[-1])
        ax.set_ylim(p_edges[0], p_edges[-1])
        ax.set_xlabel(E_LABEL)
        ax.set_title((titles or {}).get(g, g))
        ax.legend(loc="lower right")
    axes[0][0].set_ylabel(PT_LABEL)
    cbar = fig.colorbar(mesh, ax=list(axes[0]))
    cbar.set_label(r"$\frac{1}{N}\,\frac{d^2N}{dE_{e_f^-}\,d\ln|p_T|_{e_f^-}}$ [GeV$^{-1}$]")
    _tag(fig, label)
    return fig


def _kinematic_limit(ax: Axes, e_edges: Any, p_edges: Any) -> None:
    """The curve p_T = E on the axes as drawn (dense points) and the forbidden side hatched."""
    lo = max(float(p_edges[0]), 1e-12)
    hi = float(min(e_edges[-1], p_edges[-1]))
    x = np.geomspace(lo, hi, 400)
    ax.plot(x, x, color="w", lw=1.8, ls="--", label=r"$|p_T| = E$ (kinematic limit)")
    ax.fill_between(x, x, float(p_edges[-1]), facecolor="none", edgecolor="0.6", hatch="//",
                    lw=0, label=r"$|p_T| > E$: forbidden")  # fmt: skip


@_styled
def plot_mass_model_degeneracy(table: pd.DataFrame, *, label: str | None = None) -> Figure:
    """Paper figure 6: recoil energy and p_T of two (model, mass) hypotheses that look alike.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``mass`` [GeV], ``role`` (``paper``: the paper's pair;
        ``best_fit``: the alternative's best-fit mass in p_T), ``observable`` (``E`` per GeV,
        ``pt`` per unit ln p_T), ``lo``, ``hi``, ``density``.
    label : str, optional
        Experiment and beam (figure title).

    Returns
    -------
    Figure

    Examples
    --------
    The paper's pair (km at 1 GeV, md at 0.75 GeV) and md's best fit, made-up spectra:

    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_mass_model_degeneracy
    >>> edges = {"E": np.linspace(0.0, 8.0, 5), "pt": np.geomspace(0.01, 8.0, 5)}
    >>> rows = [("km", 1.0, "paper"), ("md", 0.75, "paper"), ("md", 0.82, "best_fit")]
    >>> table = pd.DataFrame([{"model": m, "mass": ms, "role": r, "observable": o, "lo": a,
    ...                        "hi": b, "density": 1.0}
    ...                       for m, ms, r in rows for o, e in edges.items()
    ...                       for a, b in zip(e[:-1], e[1:])])
    >>> fig = plot_mass_model_degeneracy(table, label="LDMX Phase II")
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), layout="constrained")
    curves = table[["model", "mass", "role"]].drop_duplicates().itertuples(index=False)
    handles: list[Any] = []
    from matplotlib.lines import Line2D

    for model, mass, role in curves:
        kw: dict[str, Any] = {"color": get_model(model).color, "lw": 2.4, "ls": "-"}
        if role == "best_fit":
            kw.update(ls="--", lw=1.8)
        text = rf"{model_label(model)}, $m_{{A'}}$ = {mass:.3g} GeV"
        text += r" (best fit in $p_T$)" if role == "best_fit" else ""
        for ax, obs in zip(axes, ("E", "pt"), strict=True):
            sel = (table.model == model) & (table.mass == mass) & (table.role == role)
            _stairs(ax, table[sel & (table.observable == obs)], **kw)
        handles.append(Line2D([], [], label=text, **kw))
    axes[0].set_xlabel(E_LABEL)
    axes[0].set_ylabel(_DENS_E.replace(r"\sigma", "N"))
    axes[1].set_xlabel(PT_LABEL)
    axes[1].set_ylabel(_DENS_LNPT.replace(r"\sigma", "N"))
    axes[1].set_xscale("log")
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    _tag(fig, label)
    return fig


# ---------------------------------------------------------------- our studies


def _pair_grid(models: Sequence[str], *, size: float = 2.9) -> tuple[Figure, Any]:
    """An n x n grid of log-log panels (rows: true model, columns: fitted model).

    The diagonal panels carry the model's label and no axes.
    """
    plt = _pyplot()
    n = len(models)
    fig, axes = plt.subplots(n, n, figsize=(size * n + 1.6, size * n + 0.9), sharex=True,
                             sharey="row", squeeze=False, layout="constrained")  # fmt: skip
    for i, mid in enumerate(models):
        ax = axes[i][i]
        ax.set_xscale("log")
        ax.tick_params(labelleft=i == 0)
        ax.text(0.5, 0.5, model_label(mid).replace(" (", "\n("), transform=ax.transAxes,
                ha="center", va="center", color=get_model(mid).color, fontsize=13)  # fmt: skip
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(which="both", left=False, bottom=i == n - 1, labelbottom=i == n - 1)
    for j, mid in enumerate(models):
        axes[0][j].set_title(f"fitted: {model_label(mid, long=False)}", fontsize="medium")
        axes[j][0].set_ylabel(f"true: {model_label(mid, long=False)}")
    return fig, axes


def _bottom_xlabels(axes: Any, text: str) -> None:
    for ax in axes[-1]:
        ax.set_xlabel(text, fontsize="small")


@_styled
def plot_degeneracy_grid(
    surface: pd.DataFrame,
    best: pd.DataFrame,
    *,
    label: str | None = None,
    note: str | None = None,
) -> Figure:
    """Mass-model degeneracy over every ordered model pair in one panel grid.

    Panel (row T, column A): Asimov data of model T at the true mass (x) fitted by model A at
    the fitted mass (y); filled contours of -2 Delta ln L at 1, 2, 3, 5 sigma for energy and
    p_T together, the best-fit mass of A for energy and p_T (markers; open circles where it
    sits on the edge of A's mass grid) and for p_T alone (dotted).

    Parameters
    ----------
    surface : pandas.DataFrame
        Columns ``true``, ``alt``, ``true_mass``, ``fit_mass`` [GeV] and ``q``
        (-2 Delta ln L) on a full (true_mass x fit_mass) grid per pair.
    best : pandas.DataFrame
        Columns ``true``, ``alt``, ``observables`` (``E``, ``pt``, ``E,pt``), ``true_mass``,
        ``best_alt_mass`` [GeV], ``q`` and ``at_grid_edge`` (bool).
    label : str, optional
        Experiment, beam and number of signal events (figure title).
    note : str, optional
        Text under the grid.

    Returns
    -------
    Figure

    Examples
    --------
    km and md, two true and two fitted masses each, made-up q:

    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_degeneracy_grid
    >>> pairs = [("km", "md"), ("md", "km")]
    >>> surface = pd.DataFrame([{"true": t, "alt": a, "true_mass": x, "fit_mass": y, "q": 5.0}
    ...                         for t, a in pairs for x in (0.1, 1.0) for y in (0.1, 1.0)])
    >>> best = pd.DataFrame([{"true": t, "alt": a, "observables": o, "true_mass": x,
    ...                       "best_alt_mass": x, "q": 1.0, "at_grid_edge": False}
    ...                      for t, a in pairs for o in ("E,pt", "pt") for x in (0.1, 1.0)])
    >>> fig = plot_degeneracy_grid(surface, best, label="LDMX Phase II, 100 events")
    >>> len(fig.axes)  # 2 x 2 panels and the colour bar
    5
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D

    models = _models_in(surface["true"])
    fig, axes = _pair_grid(models)
    cs = None
    for i, tru in enumerate(models):
        for j, alt in enumerate(models):
            if i == j:
                continue
            ax = axes[i][j]
            s = surface[(surface["true"] == tru) & (surface["alt"] == alt)]
            q = s.pivot_table(index="true_mass", columns="fit_mass", values="q")
            cs = _q_contours(ax, q.index.to_numpy(), q.columns.to_numpy(), q.to_numpy())
            b = best[(best["true"] == tru) & (best["alt"] == alt)]
            both, pt = b[b.observables == "E,pt"], b[b.observables == "pt"]
            ax.plot(pt.true_mass, pt.best_alt_mass, color="k", ls=":", lw=1.4)
            _best_fit(ax, both.true_mass, both.best_alt_mass, both.at_grid_edge,
                      get_model(alt).color, "")  # fmt: skip
            _diagonal(ax, q.index, q.columns, "0.3")
            ax.tick_params(labelleft=j == 0 or (i == 0 and j == 1))
    handles = [
        Line2D([], [], color="0.3", marker="o", ms=4, lw=1,
               label=r"best fit, energy and $p_T$ (fitted model's colour)"),
        Line2D([], [], ls="none", marker="o", ms=7, mfc="white", mec="k",
               label="best fit on the grid edge"),
        Line2D([], [], color="k", ls=":", lw=1.4, label=r"best fit, $p_T$ only"),
        Line2D([], [], color="0.3", ls="--", lw=1, label="fitted = true mass"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=4, title=note)
    _bottom_xlabels(axes, r"true $m_{A'}$ [GeV]")
    fig.supylabel(r"fitted $m_{A'}$ [GeV]")
    _q_colorbar(fig, cs, axes)
    _tag(fig, label)
    return fig


@_styled
def plot_nsigma_grid(
    table: pd.DataFrame, *, label: str | None = None, note: str | None = None
) -> Figure:
    """Signal events to tell two models apart at 3 and 5 sigma, every ordered model pair.

    Panel (row T, column A): the expected signal events of true model T for an Asimov
    significance of 3 (dashed) and 5 sigma (solid, markers) against model A (its mass
    fitted), versus the true mass, and the events T produces on its relic target (black
    dotted).  Points that the templates do not resolve (``template_limited``: the
    shape-identity test cannot exclude that the separation is template MC noise) are hollow
    grey markers, and the curves are drawn through the resolved points only.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``true``, ``alt``, ``mass`` [GeV], ``n_3sigma``, ``n_5sigma`` and
        ``n_relic`` (events; NaN where not reached), optionally ``template_limited``
        (bool; default False).
    label : str, optional
        Experiment, beam, observables (figure title).
    note : str, optional
        Text under the grid.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_nsigma_grid
    >>> table = pd.DataFrame([{"true": t, "alt": a, "mass": x, "n_3sigma": 120.0,
    ...                        "n_5sigma": 340.0, "template_limited": False, "n_relic": 2128.0}
    ...                       for t, a in (("km", "md"), ("md", "km")) for x in (0.1, 1.0)])
    >>> fig = plot_nsigma_grid(table, label="LDMX Phase II, recoil energy")
    >>> len(fig.axes)
    4
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D

    models = _models_in(table["true"])
    fig, axes = _pair_grid(models)
    for i, tru in enumerate(models):
        for j, alt in enumerate(models):
            if i == j:
                continue
            ax = axes[i][j]
            t = table[(table["true"] == tru) & (table["alt"] == alt)].sort_values("mass")
            c = get_model(alt).color
            lim = (
                t["template_limited"].to_numpy(dtype=bool)
                if "template_limited" in t
                else np.zeros(len(t), dtype=bool)
            )
            n3 = np.where(lim, np.nan, t.n_3sigma.to_numpy(dtype=float))
            n5 = np.where(lim, np.nan, t.n_5sigma.to_numpy(dtype=float))
            ax.plot(t.mass, t.n_relic, color="k", ls=":", lw=1.6)
            ax.plot(t.mass, n3, color=c, ls="--", lw=1.5)
            ax.plot(t.mass, n5, color=c, ls="-", lw=2.0, marker="o", ms=3.5)
            ax.plot(t.mass[lim], t.n_5sigma[lim], ls="none", marker="o", ms=4, mfc="none",
                    mec="0.5")  # fmt: skip
            if not np.isfinite(n5).any():
                what = "resolved" if lim.any() else "reached"
                ax.text(0.5, 0.5, rf"5$\sigma$ not {what}", transform=ax.transAxes,
                        ha="center", va="center")  # fmt: skip
            ax.set_yscale("log")
            ax.tick_params(labelleft=j == 0 or (i == 0 and j == 1))
    ys = table[["n_3sigma", "n_5sigma"]].to_numpy(dtype=float)
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size:
        axes[0][1].set_ylim(max(ys.min() / 3, 1e-1), ys.max() * 30)
        for row in axes:
            for ax in row:
                ax.set_ylim(max(ys.min() / 3, 1e-1), ys.max() * 30)
    handles = [
        Line2D([], [], color="0.3", lw=2, marker="o", ms=4,
               label=r"N(5$\sigma$) (fitted model's colour)"),
        Line2D([], [], color="0.3", ls="--", lw=1.5, label=r"N(3$\sigma$)"),
        Line2D([], [], ls="none", marker="o", ms=4, mfc="none", mec="0.5",
               label=r"not resolved by the templates (shape-identity $p > 0.01$)"),
        Line2D([], [], color="k", ls=":", lw=1.6, label="events on the relic target"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=4, title=note)
    _bottom_xlabels(axes, r"true $m_{A'}$ [GeV]")
    fig.supylabel("expected signal events of the true model")
    _tag(fig, label)
    return fig


#: Colours of experiment sets in :func:`plot_separation` (the models keep the paper's).
_SET_COLOURS = ("0.15", "#e69f00", "#7b3294", "#009e73", "#56b4e9")


@_styled
def plot_separation(
    table: pd.DataFrame, *, sets: Sequence[str] | None = None, label: str | None = None
) -> Figure:
    """Luminosity scale k(5 sigma) per model pair, experiment set and statistic.

    One panel per (true, alternative) pair: k (each experiment's running time in units of
    its nominal one) for an Asimov 5 sigma against the true mass, one colour per experiment
    set, solid circles for shape only and dashed squares for shape + rate; k = 1 (dotted)
    is the nominal running.  Shape-only points that the templates do not resolve
    (``template_limited``) are hollow markers at the top of the panel.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``true``, ``alt``, ``mass`` [GeV], ``experiments`` (set label),
        ``statistic`` (``shape`` or ``shape+rate``), ``k_5sigma_used`` (NaN/None: not
        reached) and ``template_limited`` (bool).
    sets : sequence of str, optional
        Experiment-set labels in legend order (default: as they appear).
    label : str, optional
        Figure title.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_separation
    >>> rows = [{"true": "km", "alt": a, "mass": m, "experiments": e, "statistic": st,
    ...          "k_5sigma_used": 0.1 if a == "md" else None,
    ...          "template_limited": a == "cr" and st == "shape"}
    ...         for a in ("md", "cr") for m in (0.01, 0.1) for e in ("LDMX II", "M3 2")
    ...         for st in ("shape", "shape+rate")]
    >>> fig = plot_separation(pd.DataFrame(rows))
    >>> len(fig.axes), fig.axes[1].get_title()
    (2, 'true KM (kinetic mixing) vs fitted C (charge radius)')
    >>> plt.close(fig)
    """
    import pandas as pd
    from matplotlib.lines import Line2D

    plt = _pyplot()
    pairs = list(dict.fromkeys(zip(table["true"], table["alt"], strict=True)))
    sets = list(sets) if sets is not None else list(dict.fromkeys(table["experiments"]))
    colour = {s: _SET_COLOURS[i % len(_SET_COLOURS)] for i, s in enumerate(sets)}
    ncol = min(2, len(pairs))
    nrow = -(-len(pairs) // ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(7.0 * ncol, 5.0 * nrow), squeeze=False, layout="constrained"
    )
    ks = pd.to_numeric(table["k_5sigma_used"], errors="coerce").to_numpy(dtype=float)
    ks = ks[np.isfinite(ks) & (ks > 0)]
    lo, hi = (ks.min() / 10, ks.max() * 30) if ks.size else (1e-3, 1e3)
    lo, hi = min(lo, 0.1), max(hi, 10.0)
    style = {"shape": ("-", "o"), "shape+rate": ("--", "s")}
    for ax, (tru, alt) in zip(axes.flat, pairs, strict=False):
        sub = table[(table["true"] == tru) & (table["alt"] == alt)]
        for s in sets:
            for stat, (ls, mk) in style.items():
                g = sub[(sub["experiments"] == s) & (sub["statistic"] == stat)].sort_values("mass")
                if g.empty:
                    continue
                k = pd.to_numeric(g["k_5sigma_used"], errors="coerce").to_numpy(dtype=float)
                ax.plot(g["mass"], k, color=colour[s], ls=ls, marker=mk, ms=6, lw=1.8)
                lim = g["template_limited"].to_numpy(dtype=bool) & (stat == "shape")
                if lim.any():
                    ax.plot(g["mass"][lim], [hi / 2] * int(lim.sum()), ls="none", marker=mk,
                            ms=7, mfc="none", mec=colour[s])  # fmt: skip
        ax.axhline(1.0, color="k", ls=":", lw=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.set_title(f"true {model_label(tru)} vs fitted {model_label(alt)}")
        ax.set_xlabel(r"true $m_{A'}$ [GeV]")
        ax.set_ylabel(r"$k(5\sigma)$ = running time / nominal")
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=colour[s], lw=2.5, label=s) for s in sets] + [
        Line2D([], [], color="0.4", ls=ls, marker=mk, label=stat)
        for stat, (ls, mk) in style.items()
    ] + [
        Line2D([], [], ls="none", marker="o", mfc="none", mec="0.4",
               label="shapes not resolved by the templates"),
        Line2D([], [], color="k", ls=":", label="nominal running"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=4)
    _tag(fig, label)
    return fig


@_styled
def plot_relic_comparison(table: pd.DataFrame, *, label: str | None = None) -> Figure:
    """Relic targets (traced amplitudes, solid) against the paper's printed normalisation.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``mass`` [GeV], ``y`` (traced, default), ``y_paper`` (eqs. A.4-A.7,
        A.11 as printed), ``y_hadron_proxy`` (NaN where no band) and ``ratio_paper``
        (y_paper / y).
    label : str, optional
        Benchmark (figure title).

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_relic_comparison
    >>> table = pd.DataFrame([{"model": m, "mass": x, "y": 1e-12 * x, "y_paper": 1.1e-12 * x,
    ...                        "y_hadron_proxy": np.nan, "ratio_paper": 1.1}
    ...                       for m in ("km", "md") for x in (0.01, 0.1, 1.0)])
    >>> fig = plot_relic_comparison(table, label="m_A'/m_chi = 3, alpha_D = 0.5")
    >>> len(fig.axes)  # the targets and the ratio paper / traced
    2
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _pyplot()
    fig, (top, bot) = plt.subplots(2, 1, figsize=(8.5, 8.2), sharex=True, layout="constrained",
                                   height_ratios=(3, 1.3))  # fmt: skip
    models = _models_in(table.model)
    for mid in models:
        t = table[table.model == mid].sort_values("mass")
        kw = model_line(mid, "relic")
        top.plot(t.mass, t.y, **kw)
        top.plot(t.mass, t.y_paper, **{**kw, "ls": (0, (5.0, 2.5))})
        px = t.dropna(subset=["y_hadron_proxy"])
        if len(px):
            top.fill_between(px.mass, px.y, px.y_hadron_proxy, color=kw["color"], alpha=0.22,
                             lw=0, zorder=1)  # fmt: skip
        bot.plot(t.mass, t.ratio_paper, **model_line(mid))
    top.set_xscale("log")
    top.set_yscale("log")
    top.set_ylabel(_Y_LABEL)
    bot.set_ylim(0.0, 1.25 * max(1.0, float(np.nanmax(table.ratio_paper))))
    bot.set_xlabel(MASS_LABEL)
    bot.set_ylabel(r"$y_\mathrm{printed}\,/\,y_\mathrm{traced}$")
    handles = [
        *_model_handles(models, "relic"),
        Line2D([], [], color="k", ls="-", label="traced amplitudes (default)"),
        Line2D([], [], color="k", ls=(0, (5.0, 2.5)), label="paper eqs. A.4-A.7, A.11 as printed"),
        Patch(color="0.5", alpha=0.25, label="hadronic proxy (band)"),
    ]
    fig.legend(handles=handles, ncol=3, loc="outside lower center")
    _tag(top, label)
    return fig


@_styled
def plot_sigma_vs_mass(
    table: pd.DataFrame, *, label: str | None = None, sigma_label: str | None = None
) -> Figure:
    """sigma(m_A') exact and WW for every model, and the K-factor exact / WW.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``beam_energy`` [GeV], ``mass`` [GeV], ``sigma_pb``,
        ``sigma_err_pb``, ``sigma_ww_pb`` (one coupling convention for all models),
        ``k_factor`` and ``k_factor_err``.
    label : str, optional
        Target and coupling convention (figure title).
    sigma_label : str, optional
        y-axis label of the cross-section panels (default ``sigma [pb]``).

    Returns
    -------
    Figure
        One column per beam energy; exact with MC error bars (solid, markers), WW dotted.

    Examples
    --------
    A made-up sigma = 1e9 pb (m / GeV)^-2 at 4 and 8 GeV with a K-factor of 0.9:

    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from darkmoments.plotting import plot_sigma_vs_mass
    >>> table = pd.DataFrame([{"model": m, "beam_energy": e, "mass": x,
    ...                        "sigma_pb": 1e9 / x**2, "sigma_err_pb": 1e6 / x**2,
    ...                        "sigma_ww_pb": 1.1e9 / x**2, "k_factor": 0.9,
    ...                        "k_factor_err": 0.01}
    ...                       for m in ("km", "md") for e in (4.0, 8.0) for x in (0.01, 0.1, 1.0)])
    >>> fig = plot_sigma_vs_mass(table, label="W target, g_f = 1")
    >>> len(fig.axes)  # sigma and K for each beam energy
    4
    >>> plt.close(fig)
    """
    from matplotlib.lines import Line2D

    plt = _pyplot()
    energies = sorted({float(e) for e in table.beam_energy})
    fig, axes = plt.subplots(2, len(energies), figsize=(6.4 * len(energies), 8.4), sharex=True,
                             sharey="row", squeeze=False, height_ratios=(3, 1.6),
                             layout="constrained")  # fmt: skip
    models = _models_in(table.model)
    for col, e0 in enumerate(energies):
        top, bot = axes[0][col], axes[1][col]
        for mid in models:
            t = table[(table.model == mid) & (table.beam_energy == e0)].sort_values("mass")
            kw = model_line(mid)
            top.errorbar(t.mass, t.sigma_pb, yerr=t.sigma_err_pb, marker="o", ms=4, **kw)
            top.plot(t.mass, t.sigma_ww_pb, **{**kw, "ls": ":"})
            bot.errorbar(t.mass, t.k_factor, yerr=t.k_factor_err, marker="o", ms=4, **kw)
        top.set_xscale("log")
        top.set_yscale("log")
        top.set_title(rf"$E_0$ = {e0:g} GeV")
        bot.set_yscale("log")
        bot.axhline(1.0, color="k", lw=0.8)
        bot.set_xlabel(MASS_LABEL)
    axes[0][0].set_ylabel(sigma_label or r"$\sigma$ [pb]")
    axes[1][0].set_ylabel(r"$K = \sigma_\mathrm{exact} / \sigma_\mathrm{WW}$")
    handles = [
        *_model_handles(models),
        Line2D([], [], color="k", marker="o", ms=4, label="exact tree level (MC error)"),
        Line2D([], [], color="k", ls=":", label="WW (section 4.1)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4)
    _tag(fig, label)
    return fig
