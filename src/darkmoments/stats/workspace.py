"""pyhf likelihoods (JSON workspaces) built from signal templates.

Layout: fixed per experiment
----------------------------
One channel, ``recoil``, holding the flattened (E, p_T) bins of the recoil lepton (or only E,
or only p_T; C order, E major).  The bins are a **fixed coarsening of the template binning**
(:func:`workspace_layout`): along each axis adjacent template bins are merged in groups of
``ceil(n / max)`` with ``max`` = :data:`COARSE_MAX_BINS` (8 in E, 12 in p_T).  On the default
LDMX binning (40 uniform E bins x 48 p_T bins, one [0, 20 keV] bin and 47 log bins) that is
8 E bins of E0/8 (1 GeV at 8 GeV) times 12 p_T bins (the first [0, 46 keV], then each a
factor 3.0 wider), 96 bins.  The layout depends on the bin edges only, i.e. on the experiment,
never on the mass, the model or the content: no bin is dropped, empty bins stay in the
channel (Poisson(0 | 0) = 1 contributes nothing to the likelihood).  Workspaces of every mass
and model of one experiment therefore share channel, bins and observations, and one becomes
another by replacing its ``signal`` sample (a JSON patch, :func:`make_patch`).
``layout="full"`` keeps every template bin instead (1920 bins on LDMX).

Why coarse bins: pyhf's numpy backend minimises with finite-difference gradients, so a fit
costs O(parameters) likelihood evaluations per step; the parameter count, not the bin count,
sets the time (``pyhf cls`` with 2 parameters: ~1.5 s for 96 bins, ~2.5 s for 1920, mostly
pyhf's import; with a staterror gamma in each of 63 signal bins: ~45 s; with 805: > 250 s).
The coarse layout bounds that count (<= 96 gammas) when the MC statistics must enter, and it
makes the expected counts per bin larger, where pyhf's asymptotic formulae are better: km at
0.1 GeV with b = 20 events spread flat, 90% CL, toy-based CLs (1e4 toys, same likelihood
without nuisance parameters) gives 3.55 events (coarse) and 3.19 (full), pyhf's asymptotic
CLs 3.29 (7% low) and 2.79 (13% low).  The coarse layout thus gives up ~10% of sensitivity
to a flat background for half the asymptotic error.  At zero background the limit depends on
the total signal only and no binning changes it.

Samples
-------
* ``signal``: the template times the events at mu = 1, with the POI ``mu`` (normfactor) and
  optionally a relative normalisation uncertainty ``signal_norm`` (normsys; e.g. the MC error
  of sigma x efficiency, or a theory error) and the template MC statistical uncertainty
  ``mcstat_signal`` (staterror, see below);
* ``background`` (optional): a binned template (events per template bin) or a flat total
  spread evenly over the template bins, summed into the layout, with an optional relative
  normalisation uncertainty ``bkg_norm`` (normsys).

POI scale
---------
By default mu = 1 means ``n_signal`` events (mu = (g / g_ref)^2 if ``n_signal`` is the yield
at the coupling g_ref).  With ``poi_events="limit"`` the signal is normalised instead to the
exact counting CLs limit of the exported data (:func:`reference_events`: 2.303 events at 90%
CL without background), so that mu ~ 1 is the region of interest whatever coupling the yield
was computed at: ``pyhf cls ws.json`` (which tests mu = 1) gives CLs ~ 1 - CL, and the limit on
the coupling is g_up = g_1 sqrt(mu_up) with g_1 the coupling at mu = 1 (written in the
sidecar README).  pyhf's fits fail or are meaningless when mu_up is far from 1 (a
finite-difference step of 1e-8 in mu at mu_up ~ 1e-11, the old default at g = 1).

Template MC uncertainty with few parameters (``staterror="auto"``, the default)
----------------------------------------------------------------------------------
A template fraction p_i with MC variance V_i gives an absolute signal uncertainty s sqrt(V_i)
next to the Poisson uncertainty sqrt(s p_i + b_i) of the bin.  Added in quadrature it raises
the bin's variance by the factor 1 + r_i^2, r_i = s sqrt(V_i) / sqrt(s p_i + b_i), which
moves the bin's contribution to q_mu, and the limit, by O(r_i^2).  It is evaluated at the
signal that matters, the reference limit s = s_ref (:func:`reference_events`), independent of
the normalisation at mu = 1.  For unweighted MC, V_i ~ p_i / n_MC, so r_i <= sqrt(s_ref /
n_MC): 0.5% for the shipped 1e5-event templates at zero background (s_ref = 2.3), 1% at
b = 20 (s_ref = 8.8).  ``"auto"`` gives a staterror gamma only to the bins with r_i >
:data:`STATERROR_THRESHOLD` (5%, i.e. <= 0.25% on a bin's q_mu) and omits the modifier when
no bin qualifies (the usual case: then the exported workspace has 1 to 3 parameters and
``pyhf cls`` runs in about a second).  ``True`` puts it on every bin with signal (up to 96
gammas on LDMX; 63 for km at 0.1 GeV, ~45 s per ``pyhf cls``), ``False`` nowhere.  The
fractions are normalised to 1, so the MC error of the rate belongs to ``n_signal``
(``signal_uncertainty``).

Zero and low background
-----------------------
Asymptotic CLs (``pyhf cls``, ``upper_limit(method="asymptotic")``) gives z^2 / 2 = 1.353
events at 90% CL without background instead of the exact 2.303 (CLs = exp(-s)), 41% low:
the formulae of Cowan et al. need large counts.  Without background (and nothing observed)
the binned limit depends on the total signal only, so the exact counting limit is the exact
limit of the workspace, and pyhf's toy-based CLs (``pyhf cls --calctype toybased``)
reproduces it (CLs = P(n = 0 | s) = exp(-s), CLb = 1).  With background the one-bin Asimov
estimate :func:`asymptotic_error` (asymptotic vs exact counting limit at n = b) measures the
approximation: 0.81 at b = 1, 0.90 at b = 5, 0.926 at b = 10, 0.947 at b = 20, 0.952 at
b = 25 (90% CL); below b = 23.0 events it is more than :data:`ASYMPTOTIC_TOLERANCE` (5%) low.
Shapes make it worse (fewer events per bin): 7% low against toys for a flat b = 20 on the
coarse layout.  pyhf's workspace schema forbids free-form fields
(``additionalProperties: false`` everywhere), so the note cannot live inside the JSON:
:func:`asymptotic_validity` derives it (machine-readable) from any spec,
:func:`zero_background_note` words it, and :func:`write_workspace` writes both into the
sidecar ``<ws>.README.txt`` (the line ``asymptotics: {...}`` is JSON,
:func:`read_asymptotics`); :attr:`WorkspaceExport.info` carries it as ``"asymptotics"``.

The observations default to the background expectation (the background-only Asimov data set;
all zeros without background).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, InputTypeError, OutputPathError
from ..io.atomic import atomic_path
from ..io.atomic import write_json_atomic as write_json_atomic_
from ..io.jsonio import dumps
from ..validation import check_real
from .counting import counting_limit
from .inputs import load_background  # re-exported: the workspace's background reader
from .shapes import parse_observables, project_template

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments import Binning, Experiment
    from ..templates import Template

__all__ = [
    "ASYMPTOTIC_TOLERANCE",
    "CHANNEL",
    "COARSE_MAX_BINS",
    "LAYOUTS",
    "MEASUREMENT",
    "POI",
    "STATERROR_THRESHOLD",
    "WorkspaceExport",
    "WorkspaceLayout",
    "asymptotic_counting_limit",
    "asymptotic_error",
    "asymptotic_validity",
    "background_events",
    "build_spec",
    "export_workspace",
    "load_background",
    "make_model",
    "make_patch",
    "read_asymptotics",
    "readme_path",
    "reference_events",
    "shape_spec",
    "spec_parameter_count",
    "workspace_layout",
    "write_json_atomic",
    "write_workspace",
    "zero_background_note",
]

#: Name of the single channel.
CHANNEL: str = "recoil"
#: Name of the parameter of interest (signal strength).
POI: str = "mu"
#: Name of the measurement.
MEASUREMENT: str = "darkmoments"
#: Maximum number of workspace bins per axis in the ``"coarse"`` layout.
COARSE_MAX_BINS: dict[str, int] = {"E": 8, "pt": 12}
#: Layouts accepted by :func:`workspace_layout` and :func:`build_spec`.
LAYOUTS: tuple[str, ...] = ("coarse", "full")
#: ``staterror="auto"``: a bin gets an MC-statistics gamma if its template MC uncertainty at
#: the reference limit exceeds this fraction of its Poisson uncertainty.
STATERROR_THRESHOLD: float = 0.05
#: Largest |relative error| of an asymptotic CLs limit (one-bin estimate,
#: :func:`asymptotic_error`) accepted without a note or an
#: :class:`~darkmoments.errors.AsymptoticValidityWarning`; exceeded below b = 23.0 events
#: at 90% CL.
ASYMPTOTIC_TOLERANCE: float = 0.05

_STATERROR_ALIASES: dict[str, bool] = {"all": True, "none": False}

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


# ----------------------------------------------------------------------------- layout


@dataclass(frozen=True, eq=False)
class WorkspaceLayout:
    """The fixed bins of a workspace: a grouping of the template bins along each axis.

    Attributes
    ----------
    observables : tuple of str
        ``("E", "pt")``, ``("E",)`` or ``("pt",)``.
    fine_edges : tuple of ndarray
        Template bin edges per observable (GeV).
    starts : tuple of ndarray
        Index of the first template bin of every workspace bin, per observable.
    mode : str
        ``"coarse"`` or ``"full"``.

    Examples
    --------
    The coarse LDMX Phase II layout: 8 E bins of 1 GeV (5 template bins each) times 12 p_T
    bins, 96 in all:

    >>> from darkmoments.experiments import get_experiment
    >>> from darkmoments.stats.workspace import workspace_layout
    >>> lay = workspace_layout(get_experiment("ldmx-phase2").binning)
    >>> lay.shape, lay.n_bins, lay.n_fine, lay.edges[0][:3]
    ((8, 12), 96, 1920, array([0., 1., 2.]))
    >>> lay.to_dict()["template_bins_per_bin"]["E"]
    [5, 5, 5, 5, 5, 5, 5, 5]
    >>> lay.coarsen([1.0] * 1920)[:3]  # template bins summed: 5 x 4 per workspace bin
    array([20., 20., 20.])
    """

    observables: tuple[str, ...]
    fine_edges: tuple[FloatArray, ...]
    starts: tuple[IntArray, ...]
    mode: str

    @property
    def edges(self) -> tuple[FloatArray, ...]:
        """Workspace bin edges per observable (GeV)."""
        return tuple(
            np.append(fe[st], fe[-1]) for fe, st in zip(self.fine_edges, self.starts, strict=True)
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """Workspace bins per observable."""
        return tuple(int(st.size) for st in self.starts)

    @property
    def fine_shape(self) -> tuple[int, ...]:
        """Template bins per observable."""
        return tuple(int(fe.size - 1) for fe in self.fine_edges)

    @property
    def n_bins(self) -> int:
        """Number of workspace bins (the channel length)."""
        return int(np.prod(self.shape))

    @property
    def n_fine(self) -> int:
        """Number of template bins for the chosen observables."""
        return int(np.prod(self.fine_shape))

    def coarsen(self, values: FloatArray) -> FloatArray:
        """Sum per-template-bin values (flattened, C order) into the workspace bins."""
        arr = np.asarray(values, dtype=float).reshape(self.fine_shape)
        for axis, st in enumerate(self.starts):
            arr = np.add.reduceat(arr, st, axis=axis)
        return arr.ravel()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: observables, edges (GeV), bins, the template bins merged."""
        return {
            "mode": self.mode,
            "observables": list(self.observables),
            "shape": list(self.shape),
            "n_bins": self.n_bins,
            "order": "C (first observable major)",
            "edges_gev": {o: e.tolist() for o, e in zip(self.observables, self.edges, strict=True)},
            "template_bins_per_bin": {
                o: np.diff(np.append(st, fe.size - 1)).tolist()
                for o, st, fe in zip(self.observables, self.starts, self.fine_edges, strict=True)
            },
        }


def _axis_edges(source: Template | Binning, name: str) -> FloatArray:
    if hasattr(source, "hist"):
        names = tuple(source.hist.axes.name)
        if name not in names:
            raise InputError(f"template histogram has axes {names}, observable {name!r} missing")
        return np.asarray(source.hist.axes[name].edges, dtype=float)
    if hasattr(source, "e_edges") and hasattr(source, "pt_edges"):
        return np.asarray(source.e_edges if name == "E" else source.pt_edges, dtype=float)
    raise InputTypeError(
        f"workspace_layout needs a Template or a Binning, got {type(source).__name__}"
    )


def workspace_layout(
    source: Template | Binning,
    observables: str | Sequence[str] = "E,pt",
    *,
    layout: str = "coarse",
) -> WorkspaceLayout:
    """The fixed workspace bins for a template binning (a function of the edges only).

    Parameters
    ----------
    source : Template or Binning
        A template (its histogram axes) or an experiment's :class:`~darkmoments.experiments.
        Binning` (``get_experiment(name).binning``); both give the same layout.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    layout : str
        ``"coarse"``: along each axis, groups of ``g = ceil(n / max)`` adjacent template bins
        (``max`` from :data:`COARSE_MAX_BINS`; the last group may be smaller); ``"full"``:
        every template bin.

    Returns
    -------
    WorkspaceLayout

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.experiments import get_experiment
    >>> from darkmoments.stats.workspace import workspace_layout
    >>> workspace_layout(templates.load("km", 0.1)).shape  # a template: the same layout
    (8, 12)
    >>> workspace_layout(get_experiment("ldmx-phase2").binning, "E", layout="full").n_bins
    40
    """
    if layout not in LAYOUTS:
        raise InputError(f"unknown workspace layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    obs = parse_observables(observables)
    fine = tuple(_axis_edges(source, o) for o in obs)
    starts = []
    for o, fe in zip(obs, fine, strict=True):
        n = fe.size - 1
        g = 1 if layout == "full" else max(1, math.ceil(n / COARSE_MAX_BINS[o]))
        starts.append(np.arange(0, n, g, dtype=np.intp))
    return WorkspaceLayout(obs, fine, tuple(starts), layout)


# ----------------------------------------------------------------------------- inputs


def _per_bin(
    name: str, values: Any, lay: WorkspaceLayout, *, allow_total: bool = False
) -> FloatArray:
    """Values per template bin or per workspace bin -> per workspace bin (validated)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        if not allow_total:
            raise InputError(f"{name} must be an array of events per bin, got a scalar {values}")
        total = check_real(f"{name} total", float(arr), lo=0.0, unit="events")
        return lay.coarsen(np.full(lay.n_fine, total / lay.n_fine))
    arr = arr.ravel()
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 0)):
        raise InputError(f"{name} counts must be finite and >= 0 in every bin")
    if arr.size == lay.n_fine:
        return lay.coarsen(arr)
    if arr.size == lay.n_bins:
        return arr.copy()
    sizes = f"{lay.n_fine} template bins" + (
        f" or {lay.n_bins} workspace bins" if lay.n_bins != lay.n_fine else ""
    )
    what = f"{name} template" if name == "background" else name
    raise InputError(f"{what} has {arr.size} bins, the signal has {sizes}")


def reference_events(n_obs: float = 0.0, background: float = 0.0, cl: float = 0.9) -> float:
    """The exact counting CLs limit on the signal events, the POI scale of ``"limit"``.

    Solves :func:`darkmoments.stats.counting.cls_counting` (s, n_obs, b) = 1 - cl on the totals
    of the workspace (observed events and expected background summed over bins); n_obs may
    be non-integer (Asimov data, through the continuous Poisson CDF), so this equals
    :func:`~darkmoments.stats.limits.poisson_upper_limit` at integer n_obs.

    Parameters
    ----------
    n_obs : float
        Observed events (>= 0; non-integer for Asimov data).
    background : float
        Expected background events (>= 0).
    cl : float
        Confidence level in (0, 1).

    Returns
    -------
    float
        Events; -ln(1 - cl) = 2.303 at 90% CL for n_obs = 0.

    Examples
    --------
    >>> from darkmoments.stats.workspace import reference_events
    >>> round(reference_events(), 4), round(reference_events(5.0, 5.0), 3)
    (2.3026, 5.151)
    """
    n = check_real("n_obs", n_obs, lo=0.0, unit="events")
    b = check_real("background", background, lo=0.0, unit="events")
    cl = check_real("cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    return counting_limit(n, b, cl, rtol=1e-12)


# ----------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class _Built:
    spec: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def _build(
    template: Template,
    n_signal: float,
    *,
    observables: str | Sequence[str],
    background: float | Sequence[float] | FloatArray | None,
    background_uncertainty: float | None,
    observed: Sequence[float] | FloatArray | None,
    staterror: bool | str,
    layout: str,
    poi_events: float | str | None,
    signal_uncertainty: float | None,
    cl: float,
) -> _Built:
    """:func:`build_spec` with the export details (:attr:`WorkspaceExport.info`)."""
    n_signal = check_real("n_signal", n_signal, lo=0.0, lo_open=True, unit="events")
    cl = check_real("cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    staterror = _staterror_option(staterror)
    lay = workspace_layout(template, observables, layout=layout)
    probs_fine, var_fine = project_template(template, lay.observables)
    probs = lay.coarsen(probs_fine)
    variances = lay.coarsen(var_fine)
    bkg = None if background is None else _per_bin("background", background, lay, allow_total=True)
    if background_uncertainty is not None and bkg is None:
        raise InputError("background_uncertainty given without a background")
    background_uncertainty = _relative("background_uncertainty", background_uncertainty)
    signal_uncertainty = _relative("signal_uncertainty", signal_uncertainty)
    if observed is None:
        data = np.zeros(lay.n_bins) if bkg is None else bkg.copy()
    else:
        data = _per_bin("observed", observed, lay)
    b_total = 0.0 if bkg is None else float(bkg.sum())
    s_ref = reference_events(float(data.sum()), b_total, cl)
    s_mu1 = _poi_scale(poi_events, n_signal, s_ref)
    if float(probs.sum()) <= 0:
        raise InputError(
            f"template {template.model} m={template.mass} GeV has no probability in the bins"
        )
    sig = s_mu1 * probs  # fractions of the selected events (sum 1 over the template)
    _check_support(sig, bkg, data)
    gamma_bins = _gamma_bins(staterror, s_ref, probs, variances, sig, bkg)
    samples = [
        _signal_sample(
            sig, _signal_modifiers(signal_uncertainty, gamma_bins, sig, s_mu1 * np.sqrt(variances))
        )
    ]
    if bkg is not None:
        samples.append(_background_sample(bkg, background_uncertainty))
    spec = _assemble_spec(samples, data, mu_max=_mu_max(s_mu1))
    info = {
        "model": template.model,
        "mass": float(template.mass),
        "experiment": template.experiment,
        "layout": lay.to_dict(),
        "n_signal": float(s_mu1),
        "background_events": b_total,
        "observed_events": float(data.sum()),
        "reference_limit_events": float(s_ref),
        "cl": cl,
        "expected_mu_limit": float(s_ref / s_mu1),
        "staterror": staterror,
        "staterror_bins": int(np.count_nonzero(gamma_bins)),
        "signal_uncertainty": signal_uncertainty,
        "background_uncertainty": background_uncertainty,
        "parameters": spec_parameter_count(spec),
    }
    return _Built(spec, info)


def _staterror_option(staterror: bool | str) -> bool | str:
    """``"auto"``, True or False (``"all"`` / ``"none"`` are aliases of True / False)."""
    if isinstance(staterror, str) and staterror in _STATERROR_ALIASES:
        staterror = _STATERROR_ALIASES[staterror]
    if staterror not in (True, False, "auto"):
        raise InputError(
            f"staterror must be 'auto', True ('all') or False ('none'), got {staterror!r}"
        )
    return staterror


def _relative(name: str, value: float | None) -> float | None:
    """A relative normalisation uncertainty in (0, 1), or None."""
    if value is None:
        return None
    return check_real(f"{name} (relative)", value, lo=0, hi=1, lo_open=True, hi_open=True)


def _poi_scale(poi_events: float | str | None, n_signal: float, s_ref: float) -> float:
    """Signal events at mu = 1 (see :func:`build_spec`, ``poi_events``)."""
    if poi_events is None:
        return n_signal
    if isinstance(poi_events, str):
        if poi_events != "limit":
            raise InputError(f"poi_events must be None, 'limit' or a number, got {poi_events!r}")
        return s_ref
    return check_real("poi_events", poi_events, lo=0.0, lo_open=True, unit="events")


def _check_support(sig: FloatArray, bkg: FloatArray | None, data: FloatArray) -> None:
    """Refuse observed events in bins where signal and background both expect zero."""
    total = sig + (0.0 if bkg is None else bkg)
    bad = (total <= 0) & (data > 0)
    if np.any(bad):
        idx = np.flatnonzero(bad)
        raise InputError(
            f"workspace bins {idx[:10].tolist()} have zero expected signal and background but "
            f"observed counts {data[idx[:10]].tolist()}; the likelihood would be zero"
        )


def _gamma_bins(
    staterror: bool | str,
    s_ref: float,
    probs: FloatArray,
    variances: FloatArray,
    sig: FloatArray,
    bkg: FloatArray | None,
) -> NDArray[np.bool_]:
    """The bins that get a template MC-statistics gamma (module docstring, ``"auto"``)."""
    if staterror == "auto":
        s_prob = s_ref * probs
        r = s_ref * np.sqrt(variances) / np.sqrt(s_prob + (0.0 if bkg is None else bkg) + 1e-300)
        return (sig > 0) & (r > STATERROR_THRESHOLD)
    if staterror:
        return sig > 0
    return np.zeros(sig.size, dtype=bool)


def _normsys(name: str, u: float) -> dict[str, Any]:
    return {"name": name, "type": "normsys", "data": {"hi": 1.0 + u, "lo": 1.0 - u}}


def _signal_modifiers(
    signal_uncertainty: float | None,
    gamma_bins: NDArray[np.bool_],
    sig: FloatArray,
    sig_unc: FloatArray,
) -> list[dict[str, Any]]:
    """Modifiers of the signal after the POI: ``signal_norm`` and ``mcstat_signal``."""
    modifiers: list[dict[str, Any]] = []
    if signal_uncertainty is not None:
        modifiers.append(_normsys("signal_norm", float(signal_uncertainty)))
    if np.any(gamma_bins):
        # pyhf needs a non-zero uncertainty in a bin to fit its gamma; zero = gamma fixed
        floor = 1e-9 * np.maximum(sig, 1e-300)
        unc = np.where(gamma_bins, np.maximum(sig_unc, floor), 0.0)
        modifiers.append({"name": "mcstat_signal", "type": "staterror", "data": unc.tolist()})
    return modifiers


def _signal_sample(
    events: FloatArray | Sequence[float], modifiers: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The ``signal`` sample: events per bin at mu = 1, the POI normfactor, then ``modifiers``."""
    poi: dict[str, Any] = {"name": POI, "type": "normfactor", "data": None}
    return {
        "name": "signal",
        "data": np.asarray(events, dtype=float).tolist(),
        "modifiers": [poi, *(dict(m) for m in modifiers)],
    }


def _background_sample(bkg: FloatArray, uncertainty: float | None) -> dict[str, Any]:
    """The ``background`` sample, with the normsys ``bkg_norm`` if ``uncertainty``."""
    mods = [] if uncertainty is None else [_normsys("bkg_norm", float(uncertainty))]
    return {"name": "background", "data": bkg.tolist(), "modifiers": mods}


def _mu_max(events_at_mu1: float) -> float:
    """Upper bound of the POI: room for limits far above mu = 1 when the signal is small."""
    return float(max(1000.0, 1.0e4 / events_at_mu1))


def _assemble_spec(
    samples: Sequence[Mapping[str, Any]], observed: FloatArray, *, mu_max: float
) -> dict[str, Any]:
    """The workspace of the single channel :data:`CHANNEL`.

    Samples, observations and the measurement :data:`MEASUREMENT` with the POI bounded to
    [0, ``mu_max``].
    """
    return {
        "channels": [{"name": CHANNEL, "samples": [dict(s) for s in samples]}],
        "observations": [{"name": CHANNEL, "data": np.asarray(observed, dtype=float).tolist()}],
        "measurements": [
            {
                "name": MEASUREMENT,
                "config": {
                    "poi": POI,
                    "parameters": [{"name": POI, "bounds": [[0.0, mu_max]], "inits": [1.0]}],
                },
            }
        ],
        "version": "1.0.0",
    }


def build_spec(
    template: Template,
    n_signal: float,
    *,
    observables: str | Sequence[str] = "E,pt",
    background: float | Sequence[float] | FloatArray | None = None,
    background_uncertainty: float | None = None,
    observed: Sequence[float] | FloatArray | None = None,
    staterror: bool | str = "auto",
    layout: str = "coarse",
    poi_events: float | str | None = None,
    signal_uncertainty: float | None = None,
    cl: float = 0.9,
) -> dict[str, Any]:
    """A pyhf workspace specification (JSON-able dict) for one template.

    Parameters
    ----------
    template : Template
        Signal template (normalised shape with MC variances).
    n_signal : float
        Expected signal events (> 0), e.g. N_sig at a reference coupling; mu = 1 means these
        events unless ``poi_events`` says otherwise.
    observables : str or sequence of str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    background : float or array, optional
        Flat total (events, spread evenly over the template bins) or events per template bin
        (or per workspace bin); None = no background sample.
    background_uncertainty : float, optional
        Relative normalisation uncertainty of the background in (0, 1) (e.g. 0.1 for 10%), as
        a pyhf ``normsys`` with +-1 sigma = 1 +- value.  Requires a background.
    observed : array, optional
        Observed events per template bin (or per workspace bin); default: the background
        expectation (zeros if none).
    staterror : bool or str
        Template MC statistical uncertainty (pyhf ``staterror``): ``"auto"`` (default) only in
        bins where it exceeds :data:`STATERROR_THRESHOLD` of the Poisson error at the
        reference limit (module docstring; usually none), ``True`` or ``"all"`` in every bin
        with signal, ``False`` or ``"none"`` nowhere.
    layout : str
        ``"coarse"`` (default, :data:`COARSE_MAX_BINS`) or ``"full"`` (every template bin);
        see :func:`workspace_layout`.  Fixed per binning in both cases.
    poi_events : float, "limit" or None
        Signal events at mu = 1: None = ``n_signal``; ``"limit"`` = the exact counting CLs
        limit of the exported data at ``cl`` (:func:`reference_events`, 2.303 events at 90%
        CL without background), so that mu ~ 1 is the region of interest; a number = that
        many events.  mu = 1 then corresponds to the coupling g_ref sqrt(poi_events /
        n_signal) if ``n_signal`` is the yield at g_ref.
    signal_uncertainty : float, optional
        Relative normalisation uncertainty of the signal in (0, 1) (``normsys``
        ``signal_norm``), e.g. the template MC error of sigma x efficiency.
    cl : float
        Confidence level of the reference limit (``poi_events="limit"``, ``"auto"``).

    Returns
    -------
    dict
        Workspace spec with ``channels``, ``observations``, ``measurements`` and ``version``;
        it validates against pyhf's schema.  The channel has :attr:`WorkspaceLayout.n_bins`
        bins for every mass and model of the binning.

    Raises
    ------
    InputError
        Non-positive ``n_signal``; malformed background or observations; observed events in
        a bin where signal and background both expect zero; unknown options.

    Examples
    --------
    km at 0.1 GeV with 7.41 events at mu = 1 (epsilon = 1e-5 at LDMX Phase II) over a flat
    background of 20 events known to 10 %: 96 bins and 2 parameters (mu, bkg_norm); no
    bin needs a staterror gamma:

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import background_events, spec_parameter_count
    >>> t = templates.load("km", 0.1)
    >>> spec = build_spec(t, 7.41, background=20.0, background_uncertainty=0.1)
    >>> len(spec["channels"][0]["samples"][0]["data"]), spec_parameter_count(spec)
    (96, 2)
    >>> round(background_events(spec), 9), spec["measurements"][0]["config"]["poi"]
    (20.0, 'mu')

    ``poi_events="limit"``: mu = 1 is the exact 90 % CL limit, 2.303 events; with
    ``staterror=True`` every bin with signal gets a gamma:

    >>> spec = build_spec(t, 7.41, poi_events="limit")
    >>> round(sum(spec["channels"][0]["samples"][0]["data"]), 4)
    2.3026
    >>> spec_parameter_count(build_spec(t, 7.41, staterror=True))
    97
    """
    return _build(
        template,
        n_signal,
        observables=observables,
        background=background,
        background_uncertainty=background_uncertainty,
        observed=observed,
        staterror=staterror,
        layout=layout,
        poi_events=poi_events,
        signal_uncertainty=signal_uncertainty,
        cl=cl,
    ).spec


def shape_spec(
    signal: Sequence[float] | FloatArray,
    *,
    observed: Sequence[float] | FloatArray | None = None,
    mu_max: float | None = None,
) -> dict[str, Any]:
    """The workspace of one binned signal with only the POI, by :func:`build_spec`'s builder.

    The spec :func:`build_spec` writes without background, normalisation uncertainties or
    staterror (channel :data:`CHANNEL`, sample ``signal`` with the normfactor :data:`POI`,
    measurement :data:`MEASUREMENT`), for expected events given bin by bin: e.g. floored
    template probabilities in the pyhf reference of the discrimination statistic
    (:func:`darkmoments.stats.toys.reference_statistic_pyhf`).

    Parameters
    ----------
    signal : array
        Expected signal events per bin at mu = 1 (finite, >= 0, total > 0).
    observed : array, optional
        Observed events per bin (finite, >= 0); default zeros.
    mu_max : float, optional
        Upper bound of mu (> 0); default ``max(1000, 1e4 / sum(signal))``, as in
        :func:`build_spec`.

    Returns
    -------
    dict
        Workspace spec; it validates against pyhf's schema.

    Raises
    ------
    InputError
        Negative, non-finite or all-zero signal; observations of another length.

    Examples
    --------
    >>> from darkmoments.stats.workspace import shape_spec, spec_parameter_count
    >>> spec = shape_spec([1.0, 2.0, 0.0], observed=[1.0, 1.0, 0.0])
    >>> spec["channels"][0]["samples"][0]["data"], spec_parameter_count(spec)
    ([1.0, 2.0, 0.0], 1)
    """
    sig = np.asarray(signal, dtype=float).ravel()
    if sig.size == 0 or not (np.all(np.isfinite(sig)) and np.all(sig >= 0)) or sig.sum() <= 0:
        raise InputError("signal must be finite and >= 0 events in every bin, with a total > 0")
    if observed is None:
        data = np.zeros(sig.size)
    else:
        data = np.asarray(observed, dtype=float).ravel()
        if data.size != sig.size or not (np.all(np.isfinite(data)) and np.all(data >= 0)):
            raise InputError(
                f"observed must be {sig.size} finite counts >= 0 (one per signal bin), "
                f"got {data.size}"
            )
    if mu_max is None:
        mu_max = _mu_max(float(sig.sum()))
    mu_max = check_real("mu_max", mu_max, lo=0.0, lo_open=True)
    return _assemble_spec([_signal_sample(sig)], data, mu_max=mu_max)


# ----------------------------------------------------------------------------- inspection


def _is_signal(sample: Mapping[str, Any], poi: str) -> bool:
    return any(
        m.get("type") == "normfactor" and m.get("name") == poi for m in sample.get("modifiers", [])
    )


def _poi_of(spec: Mapping[str, Any]) -> str:
    try:
        return str(spec["measurements"][0]["config"]["poi"])
    except (KeyError, IndexError, TypeError):
        return POI


def background_events(spec: Mapping[str, Any]) -> float:
    """Expected background of a spec: every sample without the POI normfactor, all bins.

    Parameters
    ----------
    spec : mapping
        Workspace spec.

    Returns
    -------
    float
        Events summed over every channel and bin (0 for a spec without background).

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import background_events
    >>> t = templates.load("km", 0.1)
    >>> background_events(build_spec(t, 5.0))
    0.0
    >>> round(background_events(build_spec(t, 5.0, background=3.0)), 9)
    3.0
    """
    poi = _poi_of(spec)
    b = 0.0
    for ch in spec.get("channels", []):
        for s in ch.get("samples", []):
            if not _is_signal(s, poi):
                b += float(np.sum(s.get("data", [])))
    return b


def asymptotic_counting_limit(background: float, cl: float = 0.9) -> float:
    """Asymptotic qtilde CLs limit of one Poisson bin with Asimov data n = b (Cowan et al.).

    With n = b, mu_hat = 0 and q_mu = q_A = 2 [s - b ln(1 + s / b)] (2 s at b = 0), so
    CLs = 2 (1 - Phi(sqrt q)) (arXiv:1007.1727, qtilde); it is 1 - cl at q = z^2, z the
    normal quantile of 1 - (1 - cl) / 2.  This is what pyhf's asymptotic calculator gives
    for one bin (and for any binning when b_i is proportional to s_i).

    Parameters
    ----------
    background : float
        Expected background events (>= 0).
    cl : float
        Confidence level in (0, 1).

    Returns
    -------
    float
        Signal events; z^2 / 2 = 1.353 at 90% CL for b = 0 (the exact limit is 2.303).

    Examples
    --------
    >>> from darkmoments.stats.workspace import asymptotic_counting_limit, reference_events
    >>> round(asymptotic_counting_limit(0.0), 3), round(reference_events(0, 0.0), 3)
    (1.353, 2.303)
    >>> round(asymptotic_counting_limit(20.0), 2), round(reference_events(20.0, 20.0), 2)
    (8.28, 8.75)
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    b = check_real("background", background, lo=0.0, unit="events")
    cl = check_real("cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    half_z2 = 0.5 * float(norm.isf((1.0 - cl) / 2.0)) ** 2
    if b == 0:
        return half_z2

    def f(s: float) -> float:
        return s - b * math.log1p(s / b) - half_z2

    hi = 2.0 * half_z2 + 4.0 * math.sqrt(2.0 * half_z2 * b)  # f(hi) > 0
    return float(brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-12))


def asymptotic_error(background: float, cl: float = 0.9) -> float:
    """Relative error of the asymptotic CLs limit of one bin: s_asym / s_exact - 1 at n = b.

    The expected (Asimov, n = b) limits of :func:`asymptotic_counting_limit` and of the exact
    counting CLs (:func:`reference_events`, continuous Poisson CDF at non-integer n).  The
    estimate of how wrong ``pyhf cls`` and ``upper_limit(method="asymptotic")`` are at a
    total background b; with a shape, fewer events per bin make the error larger.

    Returns
    -------
    float
        Negative (asymptotic too low, i.e. an over-strong limit): -0.412 at b = 0, -0.191 at
        b = 1, -0.074 at b = 10, -0.053 at b = 20, -0.012 at b = 400 (90% CL).

    Parameters
    ----------
    background : float
        Expected background events (>= 0).
    cl : float
        Confidence level.

    Examples
    --------
    >>> from darkmoments.stats.workspace import asymptotic_error
    >>> [round(asymptotic_error(b), 3) for b in (0.0, 1.0, 10.0, 20.0, 400.0)]
    [-0.412, -0.191, -0.074, -0.053, -0.012]
    """
    b = check_real("background", background, lo=0.0, unit="events")
    return asymptotic_counting_limit(b, cl) / reference_events(b, b, cl) - 1.0


def asymptotic_validity(spec: Mapping[str, Any], *, cl: float = 0.9) -> dict[str, Any]:
    """Whether pyhf's asymptotic CLs is valid for a spec, machine-readable (JSON-able).

    Valid means background > 0 and ``|asymptotic_error(b)| <=`` :data:`ASYMPTOTIC_TOLERANCE`
    (b summed over the spec, :func:`background_events`).

    Returns
    -------
    dict
        ``valid`` (bool), ``background_events``, ``cl``, ``error_estimate``
        (:func:`asymptotic_error`), ``tolerance``, ``asymptotic_limit_events`` and
        ``exact_limit_events`` (the one-bin expected limits behind the estimate),
        ``observed_limit_events`` (exact counting CLs of the spec's observations),
        ``calculators`` (the valid alternatives) and ``note`` (a sentence, or None if valid).

    Parameters
    ----------
    spec : mapping
        Workspace spec.
    cl : float
        Confidence level.

    Examples
    --------
    20 background events are just below the 23 events where one-bin asymptotics reach the
    5 % tolerance; 50 are enough:

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import asymptotic_validity
    >>> t = templates.load("km", 0.1)
    >>> v = asymptotic_validity(build_spec(t, 5.0, background=20.0))
    >>> v["valid"], round(v["error_estimate"], 3), v["calculators"][0]
    (False, -0.053, "darkmoments.stats.upper_limit(spec, method='exact')")
    >>> asymptotic_validity(build_spec(t, 5.0, background=50.0))["valid"]
    True
    """
    cl = check_real("cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    b = background_events(spec)
    n_obs = float(sum(float(np.sum(o.get("data", []))) for o in spec.get("observations", [])))
    err = asymptotic_error(b, cl)
    valid = b > 0 and abs(err) <= ASYMPTOTIC_TOLERANCE
    note = zero_background_note(spec, cl=cl)
    if note is None and not valid:
        note = (
            f"low background ({b:.4g} events): asymptotic CLs (pyhf cls, "
            f"upper_limit(method='asymptotic')) is about {100 * abs(err):.2g}% too low on one "
            f"bin at {100 * cl:g}% CL (more with a shape), beyond the "
            f"{100 * ASYMPTOTIC_TOLERANCE:g}% tolerance; use toy-based CLs (pyhf cls --calctype "
            "toybased, upper_limit(spec, method='toys', seed=...)) or the exact counting limit "
            "on the totals, upper_limit(spec, method='exact')"
        )
    return {
        "valid": bool(valid),
        "background_events": b,
        "cl": cl,
        "error_estimate": err,
        "tolerance": ASYMPTOTIC_TOLERANCE,
        "asymptotic_limit_events": asymptotic_counting_limit(b, cl),
        "exact_limit_events": reference_events(b, b, cl),
        "observed_limit_events": reference_events(n_obs, b, cl),
        "calculators": [] if valid else list(_VALID_CALCULATORS),
        "note": None if valid else note,
    }


#: What is valid where asymptotic CLs is not (the ``calculators`` of :func:`asymptotic_validity`).
_VALID_CALCULATORS: tuple[str, ...] = (
    "darkmoments.stats.upper_limit(spec, method='exact')",
    "pyhf cls --calctype toybased",
)


def zero_background_note(spec: Mapping[str, Any], *, cl: float = 0.9) -> str | None:
    """A warning for workspaces without background, or None if there is background.

    Without background, asymptotic CLs (``pyhf cls``, ``upper_limit(method="asymptotic")``)
    is wrong: for n = 0 observed it gives z^2 / 2 events (1.353 at 90% CL, 1.921 at 95%,
    z the one-sided normal quantile of 1 - (1 - CL) / 2) instead of the exact CLs limit
    -ln(1 - CL) (2.303 at 90% CL, 2.996 at 95%).

    Parameters
    ----------
    spec : mapping
        Any workspace spec; samples without the POI normfactor count as background.
    cl : float
        Confidence level quoted in the note.

    Returns
    -------
    str or None
        The note (names the exact alternative), or None when the expected background summed
        over every channel is > 0.

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import zero_background_note
    >>> t = templates.load("km", 0.1)
    >>> print(zero_background_note(build_spec(t, 5.0)))  # doctest: +ELLIPSIS
    zero background: asymptotic CLs (pyhf cls, upper_limit(method='asymptotic')) gives about
    1.35 events at 90% CL instead of the exact CLs limit 2.303 events (n_obs = 0); ...
    >>> zero_background_note(build_spec(t, 5.0, background=1.0)) is None
    True
    """
    cl = check_real("cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    if background_events(spec) > 0:
        return None
    n_obs = float(sum(float(np.sum(o.get("data", []))) for o in spec.get("observations", [])))
    exact = reference_events(n_obs, 0.0, cl)
    asym = asymptotic_counting_limit(0.0, cl)
    asym_txt = f"about {asym:.3g} events" if n_obs == 0 else "a limit that is not the exact one"
    return (
        f"zero background: asymptotic CLs (pyhf cls, upper_limit(method='asymptotic')) gives "
        f"{asym_txt} at {100 * cl:g}% CL instead of the exact CLs limit {exact:.4g} events "
        f"(n_obs = {n_obs:g}); use the exact counting limit, "
        "darkmoments.stats.upper_limit(spec, method='exact') or "
        "darkmoments.stats.poisson_upper_limit(n_obs, 0, cl), or pyhf's toy-based CLs "
        "(pyhf cls --calctype toybased)"
    )


def spec_parameter_count(spec: Mapping[str, Any]) -> int:
    """Number of parameters pyhf builds for a spec (the POI, normsys, one per staterror bin).

    Counted from the JSON without pyhf: normfactor/normsys/lumi/histosys give one parameter
    per name, staterror/shapesys/shapefactor one per channel bin and name.

    Parameters
    ----------
    spec : mapping
        Workspace spec.

    Returns
    -------
    int

    Examples
    --------
    mu, the signal and background normalisations, and a gamma in each of 96 bins:

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import spec_parameter_count
    >>> spec = build_spec(templates.load("km", 0.1), 5.0, background=20.0,
    ...                   background_uncertainty=0.1, signal_uncertainty=0.01, staterror=True)
    >>> spec_parameter_count(spec)
    99
    """
    names: set[tuple[str, ...]] = set()
    for ch in spec.get("channels", []):
        n_bins = len(ch["samples"][0]["data"]) if ch.get("samples") else 0
        for s in ch.get("samples", []):
            for m in s.get("modifiers", []):
                if m["type"] in ("staterror", "shapesys", "shapefactor"):
                    names.update((m["name"], ch["name"], str(i)) for i in range(n_bins))
                else:
                    names.add((m["name"],))
    return len(names)


def make_model(spec: dict[str, Any]) -> tuple[Any, list[float]]:
    """Validate a spec with pyhf and return ``(model, data)`` (data include auxdata).

    Parameters
    ----------
    spec : dict
        Workspace spec (e.g. from :func:`build_spec`).

    Returns
    -------
    (pyhf.pdf.Model, list of float)

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec, make_model
    >>> spec = build_spec(templates.load("km", 0.1), 5.0, background=20.0,
    ...                   background_uncertainty=0.1)
    >>> model, data = make_model(spec)
    >>> model.config.npars, len(data)  # 96 bins and the auxiliary datum of bkg_norm
    (2, 97)
    """
    import pyhf

    ws = pyhf.Workspace(spec)
    model = ws.model()  # pyhf defaults, exactly what ``pyhf cls`` uses
    return model, list(ws.data(model))


# ----------------------------------------------------------------------------- patchsets


def _skeleton(spec: Mapping[str, Any]) -> Any:
    """Everything a signal patch must leave alone: channels, bins, background, data."""
    poi = _poi_of(spec)
    return (
        [
            (
                ch["name"],
                len(ch["samples"][0]["data"]),
                [s for s in ch["samples"] if not _is_signal(s, poi)],
            )
            for ch in spec["channels"]
        ],
        list(spec["observations"]),
    )


def make_patch(base: Mapping[str, Any], spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch (RFC 6902) turning workspace ``base`` into ``spec``.

    Both must share the fixed layout (channel names and bins, observations and every
    non-signal sample): the patch then touches only the signal sample (and the POI bounds if
    they differ, i.e. if the signal events at mu = 1 differ and are below 10).  Use it as
    ``pyhf cls base.json --patch patch.json`` or ``jsonpatch.apply_patch(base, patch)``.
    (:func:`mass_scan_patchset` bundles one such patch per mass into a pyhf patchset.)

    Parameters
    ----------
    base, spec : mapping
        Workspace specs, e.g. two masses or models of one experiment from :func:`build_spec`.

    Returns
    -------
    list of dict
        Patch operations; validates against pyhf's ``jsonpatch.json`` schema.

    Raises
    ------
    InputError
        If the layouts, observations or backgrounds differ.

    Examples
    --------
    km at 0.1 GeV into md at 0.2 GeV (same experiment, same background): only the signal
    sample changes:

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import make_patch
    >>> base = build_spec(templates.load("km", 0.1), 5.0, background=20.0)
    >>> other = build_spec(templates.load("md", 0.2), 5.0, background=20.0)
    >>> patch = make_patch(base, other)
    >>> all(op["path"].startswith("/channels/0/samples/0/") for op in patch)
    True
    >>> import jsonpatch
    >>> jsonpatch.apply_patch(base, patch) == other
    True
    """
    import jsonpatch
    import pyhf

    if _skeleton(spec) != _skeleton(base):
        raise InputError(
            "the workspaces differ in layout, observations or background; a signal patch "
            "needs a common layout (same experiment binning, observables and data)"
        )
    ops = list(jsonpatch.make_patch(dict(base), dict(spec)).patch)
    pyhf.schema.validate(ops, "jsonpatch.json")
    return ops


# ----------------------------------------------------------------------------- writing


def readme_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar of a workspace file: ``ws.json`` -> ``ws.README.txt``.

    Parameters
    ----------
    path : path
        The workspace file.

    Returns
    -------
    Path

    Examples
    --------
    >>> from darkmoments.stats.workspace import readme_path
    >>> readme_path("out/km_0.1.json").as_posix()
    'out/km_0.1.README.txt'
    """
    p = Path(path)
    stem = p.stem if p.suffix == ".json" else p.name
    return p.with_name(f"{stem}.README.txt")


def _readme_text(
    spec: Mapping[str, Any], info: Mapping[str, Any] | None, ws_name: str = "ws.json"
) -> str:
    lines = [f"pyhf workspace written by darkmoments (measurement {MEASUREMENT!r}, POI {POI!r})."]
    validity = asymptotic_validity(spec, cl=float((info or {}).get("cl", 0.9)))
    note = zero_background_note(spec, cl=validity["cl"])
    if note is not None:
        lines += ["", "WARNING: " + note + "."]
    for w in (info or {}).get("warnings", []):
        if w != note:
            lines += ["", "WARNING: " + w + "."]
    lines += ["", _ASYMPTOTICS_KEY + dumps(validity)]
    if info:
        lay = info["layout"]
        unit = info.get("coupling_unit", "model units")
        lines += [
            "",
            f"model {info['model']}, m_A' = {info['mass']:g} GeV, experiment {info['experiment']}",
            f"mu = 1 means {info['n_signal']:.6g} expected signal events"
            + (
                f" (coupling g = {info['coupling']:.6g} [{unit}]; mu = (g / "
                f"{info['coupling']:.6g})^2, g_up = {info['coupling']:.6g} sqrt(mu_up))"
                if info.get("coupling") is not None
                else ""
            ),
            f"exact counting CLs limit of these data at {100 * info['cl']:g}% CL: "
            f"{info['reference_limit_events']:.6g} events (mu = {info['expected_mu_limit']:.6g})",
            f"background {info['background_events']:.6g} events, observed "
            f"{info['observed_events']:.6g} events",
            f"layout {lay['mode']}: observables {','.join(lay['observables'])}, "
            f"{lay['n_bins']} bins {tuple(lay['shape'])} (fixed for the experiment's binning; "
            "C order, first observable major); edges in GeV:",
        ]
        lines += [f"  {o}: {dumps(e)}" for o, e in lay["edges_gev"].items()]
        lines += [
            f"template MC statistics: staterror={info['staterror']!r}, "
            f"{info['staterror_bins']} bins with a gamma; {info['parameters']} parameters",
        ]
    lines += ["", f"pyhf cls {ws_name} tests mu = 1 with asymptotic CLs (qtilde)."]
    if not validity["valid"]:
        lines += [
            f"That is not valid here (asymptotics: valid false); use pyhf cls --calctype "
            f"toybased {ws_name} or the exact counting limit "
            f"({validity['observed_limit_events']:.6g} events).",
        ]
    lines += [""]
    return "\n".join(lines)


#: Prefix of the README line holding :func:`asymptotic_validity` as one line of JSON.
_ASYMPTOTICS_KEY = "asymptotics: "


def read_asymptotics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The :func:`asymptotic_validity` record of a written workspace, from its sidecar README.

    Parameters
    ----------
    path : path
        The workspace ``.json`` (its sidecar :func:`readme_path` is read) or the README.

    Returns
    -------
    dict
        As :func:`asymptotic_validity` at the export's confidence level.

    Raises
    ------
    InputError
        The sidecar is missing or has no ``asymptotics:`` line (not written by this version).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import read_asymptotics, write_workspace
    >>> path = Path(tempfile.mkdtemp()) / "ws.json"
    >>> _ = write_workspace(build_spec(templates.load("km", 0.1), 5.0), path)
    >>> v = read_asymptotics(path)
    >>> v["valid"], round(v["exact_limit_events"], 3)  # zero background: use the exact limit
    (False, 2.303)
    """
    p = Path(path)
    side = p if p.name.endswith(".README.txt") else readme_path(p)
    if not side.is_file():
        raise InputError(f"no sidecar README {str(side)!r} next to the workspace")
    for line in side.read_text().splitlines():
        if line.startswith(_ASYMPTOTICS_KEY):
            return dict(json.loads(line[len(_ASYMPTOTICS_KEY) :]))
    raise InputError(f"sidecar {str(side)!r} has no {_ASYMPTOTICS_KEY.strip()!r} line")


def write_workspace(
    spec: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    info: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write a workspace and its sidecar README (:func:`readme_path`) atomically.

    The sidecar carries what pyhf's schema cannot: the zero-background note
    (:func:`zero_background_note`), the machine-readable validity of asymptotic CLs
    (:func:`asymptotic_validity` as the JSON line ``asymptotics: {...}``,
    :func:`read_asymptotics`), the meaning of mu = 1 and the layout.

    Parameters
    ----------
    spec : mapping
        Workspace spec (validated with ``pyhf.Workspace`` before anything is written).
    path : path
        Output ``.json``; its directory must exist (never created).
    info : mapping, optional
        Export details (:attr:`WorkspaceExport.info`) for the README.

    Returns
    -------
    (Path, Path)
        The workspace and the README.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.workspace import write_workspace
    >>> out = Path(tempfile.mkdtemp())
    >>> ws, readme = write_workspace(build_spec(templates.load("km", 0.1), 5.0), out / "ws.json")
    >>> ws.name, readme.name, "WARNING: zero background" in readme.read_text()
    ('ws.json', 'ws.README.txt', True)
    >>> write_workspace(build_spec(templates.load("km", 0.1), 5.0), out / "new" / "ws.json")
    Traceback (most recent call last):
    ...
    darkmoments.errors.OutputPathError: output directory ... does not exist (it is never created)
    """
    import pyhf

    pyhf.Workspace(dict(spec))
    out = Path(path)
    if not out.parent.is_dir():
        raise OutputPathError(
            f"output directory {str(out.parent)!r} of {str(out)!r} does not exist "
            "(it is never created)"
        )
    side = readme_path(out)
    text_ws = dumps(spec, indent=1) + "\n"
    text_rd = _readme_text(spec, info, out.name)
    with ExitStack() as stack:
        tmp_rd = stack.enter_context(atomic_path(side))
        tmp_ws = stack.enter_context(atomic_path(out))
        tmp_rd.write_text(text_rd)
        tmp_ws.write_text(text_ws)
    return out, side


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (temp file in the same dir + os.replace).

    Creates missing parent directories (kept for compatibility; :func:`write_workspace`
    refuses a missing directory instead).

    Parameters
    ----------
    obj : object
        Anything :mod:`darkmoments.io.jsonio` encodes (numpy included).
    path : path
        Output file.

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from darkmoments.stats import write_json_atomic
    >>> p = write_json_atomic({"mass": 0.1}, Path(tempfile.mkdtemp()) / "sub" / "x.json")
    >>> p.parent.name, json.loads(p.read_text())
    ('sub', {'mass': 0.1})
    """
    return write_json_atomic_(obj, path, mkdir=True, indent=1)


# ----------------------------------------------------------------------------- one call


@dataclass(frozen=True)
class WorkspaceExport:
    """An exported workspace.

    Attributes
    ----------
    spec : dict
        The pyhf workspace spec.
    info : dict
        Export details (JSON-able): ``model``, ``mass`` (GeV), ``experiment``, ``coupling``
        (g_f at mu = 1) and ``coupling_unit`` (its unit, ``Model.coupling_unit``: ``1``,
        ``GeV^-1`` or ``GeV^-2``), ``n_signal`` (expected signal events at mu = 1),
        ``n_signal_unit`` (events at g_f = 1), ``layout``, ``reference_limit_events``,
        ``expected_mu_limit``, ``parameters`` (pyhf parameter count), ``asymptotics``
        (:func:`asymptotic_validity`: whether ``pyhf cls``'s asymptotic CLs is valid here
        and what to use if not) ...
    note : str or None
        :func:`zero_background_note` of the spec (the low-background note, 0 < b < 23
        events at 90% CL, is in ``warnings``).
    warnings : tuple of str
        Other warnings (e.g. a POI scale far from the limit).
    paths : tuple of Path
        Written files (workspace, README), empty if nothing was written.

    Examples
    --------
    >>> from darkmoments.stats.workspace import export_workspace
    >>> summary = export_workspace("km", 0.1).summary()
    >>> summary["n_bins"], summary["out"] if "out" in summary else None
    (96, None)
    """

    spec: dict[str, Any]
    info: dict[str, Any]
    note: str | None
    warnings: tuple[str, ...] = ()
    paths: tuple[Path, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-able summary for the command line."""
        out = dict(self.info)
        out["note"] = self.note
        out["warnings"] = list(self.warnings)
        out["n_bins"] = self.info["layout"]["n_bins"]
        if self.paths:
            out["out"] = str(self.paths[0])
            out["readme"] = str(self.paths[1])
        return out


def export_workspace(
    model: str,
    mass: float,
    experiment: str = "ldmx-phase2",
    *,
    coupling: float | None = None,
    observables: str | Sequence[str] = "E,pt",
    background: float | Sequence[float] | FloatArray | None = None,
    background_uncertainty: float | None = None,
    observed: Sequence[float] | FloatArray | None = None,
    staterror: bool | str = "auto",
    layout: str = "coarse",
    cl: float = 0.9,
    out: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    level: str = "truth",
) -> WorkspaceExport:
    """The workspace of one (model, mass, experiment) from the templates, optionally written.

    The engine of ``darkmoments workspace``.  The signal carries the MC error of its rate
    (sigma x selection efficiency, :func:`darkmoments.templates.signal_yield`) as the
    normsys ``signal_norm``.

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV (inside the template grid; off-grid masses are interpolated).
    experiment : str
        Experiment name or TOML path.
    coupling : float, optional
        Coupling g_f (model units) at mu = 1.  Default None: mu = 1 at the coupling whose
        signal equals the exact counting CLs limit of the data (2.303 events at 90% CL
        without background), so that mu ~ 1 is the region of interest; the coupling is
        ``info["coupling"]``.  With an explicit coupling far from the limit (mu_up outside
        [1e-3, 1e3]) a warning says pyhf's fits will be unreliable.
    observables, background, background_uncertainty, observed, staterror, layout, cl
        As in :func:`build_spec`; ``background`` may also be an
        :class:`~darkmoments.experiments.Background` (projected on the observables).
        ``background=None``: the experiment's ``[background]`` at ``level`` with its
        normalisation uncertainty (unless ``background_uncertainty`` is given), none for the
        shipped setups.
    out : path, optional
        Write the workspace there and its README next to it (:func:`write_workspace`).
    directory : path, optional
        Template directory (default: the shipped templates).
    level : str
        ``"truth"`` (default, the paper's) or ``"detector"``: the signal from
        ``<experiment>.detector.h5``, its yield with the detector selection and acceptance
        efficiency (:func:`darkmoments.templates.signal_yield`).

    Returns
    -------
    WorkspaceExport

    Examples
    --------
    km at 0.1 GeV at LDMX Phase II: mu = 1 at the coupling of the 2.303-event limit,
    epsilon = 5.57e-6 (zero background, so the note says to use the exact limit):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.stats.workspace import export_workspace
    >>> ex = export_workspace("km", 0.1, "ldmx-phase2")
    >>> round(ex.info["n_signal"], 3), f"{ex.info['coupling']:.3g}", ex.info["coupling_unit"]
    (2.303, '5.57e-06', '1')
    >>> ex.info["parameters"], ex.note.startswith("zero background")
    (2, True)
    >>> ex = export_workspace("md", 0.1, out=Path(tempfile.mkdtemp()) / "md.json")
    >>> [p.name for p in ex.paths]
    ['md.json', 'md.README.txt']
    """
    from ..experiments import get_experiment
    from ..models import check_coupling, get_model
    from .inputs import check_level_file

    m = get_model(model)
    g = None
    if coupling is not None:
        g = check_coupling(coupling, name=f"coupling [{m.coupling_unit}]")
    mid = m.id
    mass = check_real("mass", mass, lo=0.0, lo_open=True, unit="GeV")
    exp = get_experiment(experiment)
    lvl = check_level_file(exp, level, directory)
    background, background_uncertainty = _experiment_background(
        exp, lvl, observables, background, background_uncertainty
    )
    tpl, n1, rel = _template_and_rate(mid, mass, exp, directory, lvl)
    built = _build(
        tpl,
        n1 if g is None else n1 * g * g,
        observables=observables,
        background=background,
        background_uncertainty=background_uncertainty,
        observed=observed,
        staterror=staterror,
        layout=layout,
        poi_events="limit" if g is None else None,
        signal_uncertainty=rel,
        cl=cl,
    )
    info = dict(built.info)
    info["n_signal_unit"] = n1
    info["coupling"] = math.sqrt(info["n_signal"] / n1) if g is None else g
    info["coupling_unit"] = m.coupling_unit
    info["model"] = tpl.model
    info["mass"] = float(mass)
    info["experiment"] = exp.name
    if lvl != "truth":
        info["level"] = lvl
    validity = asymptotic_validity(built.spec, cl=cl)
    info["asymptotics"] = validity
    note = zero_background_note(built.spec, cl=cl)
    warns = _poi_warnings(info)
    if note is None and validity["note"] is not None:  # low (not zero) background
        warns.append(validity["note"])
    info["warnings"] = list(warns)
    paths: tuple[Path, ...] = ()
    if out is not None:
        paths = write_workspace(built.spec, out, info=info)
    return WorkspaceExport(built.spec, info, note, tuple(warns), paths)


def _experiment_background(
    exp: Experiment,
    level: str,
    observables: str | Sequence[str],
    background: Any,
    uncertainty: float | None,
) -> tuple[Any, float | None]:
    """(background, uncertainty) of :func:`export_workspace`: explicit, else the experiment's.

    A :class:`~darkmoments.experiments.Background` (given, or the experiment's at ``level``
    when ``background`` is None) becomes its events per template bin of the observables
    and, unless ``uncertainty`` is given, its normalisation uncertainty (None if zero).
    """
    from ..experiments import Background
    from .inputs import project_background

    bkg = exp.background_at(level) if background is None else background
    if not isinstance(bkg, Background):
        return background, uncertainty
    if uncertainty is None and bkg.normalisation_uncertainty > 0:
        uncertainty = bkg.normalisation_uncertainty
    return project_background(bkg, observables), uncertainty


def _template_and_rate(
    model: str,
    mass: float,
    experiment: Experiment,
    directory: str | os.PathLike[str] | None,
    level: str = "truth",
) -> tuple[Template, float, float | None]:
    """The template at ``mass`` (GeV), its events at unit coupling and their relative MC error.

    The relative error is None if it is zero.
    """
    from .. import templates

    tpl = templates.load(model, mass, experiment, directory=directory, level=level)
    unit = templates.signal_yield(model, mass, 1.0, experiment, directory=directory, level=level)
    n1 = float(unit.n_signal)
    if not (np.isfinite(n1) and n1 > 0):
        raise InputError(
            f"expected signal of {tpl.model} at m = {mass} GeV is {n1} events at unit coupling"
        )
    rel = float(unit.error) / n1 if unit.error > 0 else None
    if rel is not None and rel >= 1:
        raise InputError(f"signal MC uncertainty of {rel:.3g} (relative) is >= 100%")
    return tpl, n1, rel


def _poi_warnings(info: Mapping[str, Any]) -> list[str]:
    """The warning for a POI scale far from the limit (mu_up outside [1e-3, 1e3])."""
    mu_ref = info["expected_mu_limit"]
    if 1e-3 <= mu_ref <= 1e3:
        return []
    return [
        f"mu = 1 is {info['n_signal']:.3g} signal events, the limit is near mu = "
        f"{mu_ref:.3g}: pyhf's fits (finite-difference steps of ~1e-8 in mu) are "
        "unreliable so far from mu = 1; omit the coupling to put mu = 1 at the limit"
    ]


# ----------------------------------------------------------------------------- mass scans

#: Placeholder HEPData reference of darkmoments patchsets.  pyhf's patchset schema (1.0.0)
#: *requires* ``metadata.references.hepdata`` matching ``ins[0-9]{7}`` (an INSPIRE record of
#: a HEPData entry); these likelihoods are not on HEPData, so the all-zero id stands in and
#: ``metadata.hepdata_placeholder`` says so.  It is not a real record.
HEPDATA_PLACEHOLDER: str = "ins0000000"


def _patch_name(model: str, mass: float) -> str:
    """``km_mA_0p1``: the patch name pyhf allows (``^[a-zA-Z0-9_]+$``)."""
    text = f"{float(mass):.6g}".replace(".", "p").replace("-", "m").replace("+", "")
    return f"{model}_mA_{text}"


def _with_zero_background(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with a zero ``background`` sample in every channel that has none."""
    out = json.loads(json.dumps(spec))
    poi = _poi_of(out)
    for ch in out["channels"]:
        if all(_is_signal(s, poi) for s in ch["samples"]):
            nb = len(ch["samples"][0]["data"])
            ch["samples"].append({"name": "background", "data": [0.0] * nb, "modifiers": []})
    return out


def mass_scan_patchset(
    model: str,
    experiment: str = "ldmx-phase2",
    *,
    masses: Sequence[float] | None = None,
    directory: str | os.PathLike[str] | None = None,
    level: str = "truth",
    **export_kwargs: Any,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A background-only workspace and a pyhf patchset with one signal patch per mass.

    Every mass shares the experiment's fixed layout (module docstring), so the workspace of
    each mass is the background-only one plus its ``signal`` sample (and its POI bounds):
    ``pyhf patchset apply bkg.json patchset.json --name km_mA_0p1`` rebuilds it, and
    ``pyhf cls bkg.json --patch ...`` fits it.  Without a background, the background-only
    workspace carries a ``background`` sample of zeros (pyhf's schema needs one sample per
    channel); it adds nothing to any expectation.

    Parameters
    ----------
    model : str
        Model id.
    experiment : str
        Experiment name or TOML path.
    masses : sequence of float, optional
        A' masses in GeV (default: the template grid of the model and experiment).
    directory : path, optional
        Template directory (default: the shipped templates).
    level : str
        ``"truth"`` (default) or ``"detector"`` (:func:`export_workspace`).
    **export_kwargs
        coupling, observables, background, background_uncertainty, observed, staterror,
        layout, cl: as in :func:`export_workspace` (the same for every mass).

    Returns
    -------
    (background_only, patchset, infos)
        The background-only workspace spec, the patchset (pyhf patchset schema 1.0.0; its
        ``metadata.digests.sha256`` is pyhf's digest of the background-only workspace; its
        HEPData reference is :data:`HEPDATA_PLACEHOLDER`) and the export info per mass.
    """
    import jsonpatch
    import pyhf

    from .. import templates
    from ..models import get_model
    from .inputs import check_level_file

    mid = get_model(model).id
    level = check_level_file(experiment, level, directory)
    grid = (
        [float(m) for m in templates.masses(mid, experiment, directory=directory, level=level)]
        if masses is None
        else [check_real("mass", m, lo=0.0, lo_open=True, unit="GeV") for m in masses]
    )
    if not grid:
        raise InputError(f"no masses to scan for {mid} in {experiment}")
    fulls, infos = [], []
    for m in grid:
        res = export_workspace(
            mid, m, experiment, directory=directory, level=level, **export_kwargs
        )
        fulls.append(_with_zero_background(res.spec))
        infos.append(res.info)
    poi = _poi_of(fulls[0])
    bkg = json.loads(json.dumps(fulls[0]))
    for ch in bkg["channels"]:
        ch["samples"] = [s for s in ch["samples"] if not _is_signal(s, poi)]
    patches = []
    for m, full in zip(grid, fulls, strict=True):
        if _skeleton(full) != _skeleton(fulls[0]):  # pragma: no cover - fixed layout
            raise InputError(f"the workspace at m = {m} GeV has another layout")
        ops = list(jsonpatch.make_patch(bkg, full).patch)
        patches.append({"metadata": {"name": _patch_name(mid, m), "values": [m]}, "patch": ops})
    patchset = {
        "metadata": {
            "description": f"darkmoments signal patches: model {mid}, one per A' mass (GeV), "
            f"experiment {infos[0]['experiment']}",
            "digests": {"sha256": pyhf.utils.digest(bkg, algorithm="sha256")},
            "labels": ["mass"],
            "references": {"hepdata": HEPDATA_PLACEHOLDER},
            "hepdata_placeholder": f"{HEPDATA_PLACEHOLDER} is a placeholder required by "
            "pyhf's patchset schema: these likelihoods have no HEPData record",
            "model": mid,
            "mass_unit": "GeV",
        },
        "patches": patches,
        "version": "1.0.0",
    }
    pyhf.schema.validate(patchset, "patchset.json")
    pyhf.Workspace(bkg)
    return bkg, patchset, infos


def patchset_path(path: str | os.PathLike[str]) -> Path:
    """The patchset next to a background-only workspace: ``bkg.json`` -> ``bkg.patchset.json``."""
    p = Path(path)
    stem = p.stem if p.suffix == ".json" else p.name
    return p.with_name(f"{stem}.patchset.json")


def write_mass_scan(
    background_only: Mapping[str, Any], patchset: Mapping[str, Any], path: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write the background-only workspace to ``path`` and the patchset next to it, atomically.

    Returns
    -------
    (Path, Path)
        Workspace and patchset (:func:`patchset_path`).
    """
    out = Path(path)
    if not out.parent.is_dir():
        raise OutputPathError(f"output directory {str(out.parent)!r} does not exist")
    ps = patchset_path(out)
    with ExitStack() as stack:
        tmp_ps = stack.enter_context(atomic_path(ps))
        tmp_ws = stack.enter_context(atomic_path(out))
        tmp_ps.write_text(dumps(patchset, indent=1) + "\n")
        tmp_ws.write_text(dumps(background_only, indent=1) + "\n")
    return out, ps
