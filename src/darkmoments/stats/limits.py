"""Exclusion limits: CLs upper limits on the signal events and the coupling.

* ``exact``: the CLs counting experiment on the bin totals, CLs(s) = P(N <= n | s + b) /
  P(N <= n | b), solved for CLs = 1 - CL.  P(N <= n | lam) = Q(n + 1, lam) (regularised upper
  incomplete gamma), which also extends to non-integer (Asimov) n.  With b = 0 and n = 0 it
  gives exp(-s) = 1 - CL, i.e. s = -ln(0.1) = 2.303 events at 90% CL.
  Asymptotic formulae are wrong there, so this is the default without (or with little)
  background.
* ``asymptotic``: pyhf's qtilde CLs (Cowan, Cranmer, Gross, Vitells 2011, arXiv:1007.1727)
  on the full binned likelihood, root-found in mu by Brent's method.  We do not call
  ``pyhf.infer.intervals.upper_limits.upper_limit(level=...)``: in pyhf 0.7.6 its default
  scan computes at 95% CL regardless of ``level`` (pyhf issue 2563).
* ``toys``: the same with pyhf's toy-based calculator (for low counts with background).
  pyhf <= 0.7.6's toy calculator fails with numpy >= 2.4; it is then refused with
  :class:`~darkmoments.errors.IncompatibleDependencyError` (:func:`toys_supported`), and
  ``exact`` (or ``asymptotic``) is the alternative.  No darkmoments path needs pyhf's toys.

Asymptotic CLs at zero and low background (one rule, :func:`check_asymptotic`)
--------------------------------------------------------------------------------
* **b = 0: refused.**  Asymptotic CLs gives z^2 / 2 = 1.353 events at 90% CL instead of
  the exact 2.303 (41% low).  Without background and with nothing observed the binned limit
  depends on the total signal only, so the exact counting limit loses nothing: the
  :class:`~darkmoments.errors.InputError` names ``method='exact'`` (and ``'auto'``, which
  picks it) with the exact value.
* **0 < b with the one-bin error estimate**
  (:func:`~darkmoments.stats.workspace.asymptotic_error`) **beyond 5%**
  (:data:`~darkmoments.stats.workspace.ASYMPTOTIC_TOLERANCE`; b < 23.0 events at 90% CL):
  the asymptotic limit is returned (it uses the shape, the counting limit does not) with an
  :class:`~darkmoments.errors.AsymptoticValidityWarning` giving the estimated error and
  naming ``method='exact'`` and ``method='toys'``.  This holds whether ``asymptotic`` was
  asked for or chosen by ``auto`` (b >= :data:`LOW_COUNT_BACKGROUND`).
* The same rule applies to :func:`cls_pyhf` with ``calctype='asymptotics'``.

The coupling limit follows from N_sig proportional to g^2: g_up = sqrt(N_up / N_sig(g = 1)).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from ..errors import AsymptoticValidityWarning, IncompatibleDependencyError, InputError
from ..models import get_model, y_parameter
from ..validation import check_choice, check_int, check_real
from .counting import cls_counting, counting_limit
from .workspace import asymptotic_validity, make_model

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..experiments import Experiment

__all__ = [
    "LOW_COUNT_BACKGROUND",
    "METHODS",
    "REACH_COLUMNS",
    "UpperLimit",
    "check_asymptotic",
    "check_count",
    "cls_counting",
    "cls_pyhf",
    "coupling_limit",
    "event_limit",
    "poisson_upper_limit",
    "pyhf_backend",
    "reach_by_model",
    "reach_for",
    "reach_rows",
    "reach_table",
    "toys_supported",
    "upper_limit",
]

#: Below this expected background (events, summed over bins) ``method="auto"`` uses the exact
#: counting CLs instead of the asymptotic formulae, which are unreliable at low counts
#: (Cowan et al. 2011 show percent-level accuracy only for b of order 10 and above).
LOW_COUNT_BACKGROUND: float = 10.0

#: Limit methods accepted by :func:`upper_limit`.
METHODS: tuple[str, ...] = ("auto", "exact", "asymptotic", "toys")

FloatArray = NDArray[np.float64]


def _check_cl(cl: float) -> float:
    return check_real("confidence level cl", cl, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def check_count(name: str, value: Any) -> float:
    """Validate an observed number of events: a whole number >= 0 (``3`` or ``3.0``).

    Observed counts are integers; a fractional count (``2.5``) is refused rather than
    silently treated through the continuous extension of the Poisson CDF (which is only
    meaningful for Asimov data, see :func:`cls_counting`).

    Parameters
    ----------
    name : str
        Parameter name for the message.
    value : int or float
        The count (events).

    Returns
    -------
    float

    Raises
    ------
    InputError, InputTypeError
        Negative, non-finite, fractional or not a number.

    Examples
    --------
    >>> from darkmoments.stats.limits import check_count
    >>> check_count("n_obs", 3)
    3.0
    >>> check_count("n_obs", 2.5)
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: n_obs must be a whole number of observed events >= 0, got 2.5
    """
    v = check_real(name, value, lo=0.0, unit="events")
    if v != math.floor(v):
        raise InputError(f"{name} must be a whole number of observed events >= 0, got {value!r}")
    return v


def toys_supported(feature: str) -> None:
    """Raise :class:`IncompatibleDependencyError` if pyhf's toy calculator cannot run here.

    pyhf <= 0.7.6's ``ToyCalculator`` fails with numpy >= 2.4 (see
    :func:`darkmoments._optional.pyhf_toys_supported`); darkmoments' own paths never need it.

    Parameters
    ----------
    feature : str
        What needs the toys, for the message.

    Raises
    ------
    IncompatibleDependencyError
        The installed pyhf and numpy cannot run pyhf's toys (the message names
        ``method='exact'`` and ``method='asymptotic'``).

    Examples
    --------
    Silent where the toys run, an error naming the alternatives where they cannot:

    >>> from darkmoments._optional import pyhf_toys_supported
    >>> from darkmoments.errors import IncompatibleDependencyError
    >>> from darkmoments.stats.limits import toys_supported
    >>> try:
    ...     toys_supported("upper_limit(method='toys')")
    ...     runs = True
    ... except IncompatibleDependencyError as exc:
    ...     runs = "method='exact'" not in str(exc)  # False: the message names it
    >>> runs == pyhf_toys_supported()[0]
    True
    """
    from .._optional import pyhf_toys_supported

    ok, reason = pyhf_toys_supported()
    if not ok:
        raise IncompatibleDependencyError(
            f"{feature} needs pyhf's toy calculator, which cannot run here: {reason}. "
            "Without it use method='exact' (exact counting CLs, no pyhf toys) or "
            "method='asymptotic'; discrimination toys use darkmoments' own fast path"
        )


def check_asymptotic(spec: dict[str, Any], *, cl: float = 0.9, feature: str) -> dict[str, Any]:
    """Refuse asymptotic CLs at zero background, warn where it is off by more than 5%.

    The rule of the module docstring: b = 0 raises, 0 < b with
    |:func:`~darkmoments.stats.workspace.asymptotic_error`| >
    :data:`~darkmoments.stats.workspace.ASYMPTOTIC_TOLERANCE` warns, otherwise silent.

    Parameters
    ----------
    spec : dict
        Workspace spec (background = every sample without the POI normfactor).
    cl : float
        Confidence level of the error estimate.
    feature : str
        What is being computed, for the message (e.g. ``"upper_limit(method='asymptotic')"``).

    Returns
    -------
    dict
        :func:`~darkmoments.stats.workspace.asymptotic_validity` of the spec.

    Raises
    ------
    InputError
        Zero expected background; the message names ``method='exact'`` and its value.

    Warns
    -----
    AsymptoticValidityWarning
        Low background (b < 23.0 events at 90% CL).

    Examples
    --------
    50 background events (km at 0.1 GeV in 8 recoil-energy bins): asymptotic CLs is 3.4 %
    low on one bin, within the 5 % tolerance; without background it is refused:

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.limits import check_asymptotic
    >>> t = templates.load("km", 0.1)
    >>> v = check_asymptotic(build_spec(t, 10.0, observables="E", background=50.0), feature="demo")
    >>> v["valid"], round(v["error_estimate"], 3), round(v["exact_limit_events"], 2)
    (True, -0.034, 13.0)
    >>> try:
    ...     check_asymptotic(build_spec(t, 10.0, observables="E"), feature="demo")
    ... except ValueError as exc:  # an InputError
    ...     print(exc)
    demo is refused at zero background: asymptotic CLs gives 1.353 events at 90% CL
    instead of the exact 2.303 (41% low); use method='exact' (or 'auto'): ...
    """
    v = asymptotic_validity(spec, cl=cl)
    if v["valid"]:
        return v
    err = 100 * abs(v["error_estimate"])
    if v["background_events"] == 0:
        raise InputError(
            f"{feature} is refused at zero background: asymptotic CLs gives "
            f"{v['asymptotic_limit_events']:.4g} events at {100 * cl:g}% CL instead of the exact "
            f"{v['exact_limit_events']:.4g} ({err:.2g}% low); use method='exact' (or 'auto'): "
            f"the exact counting CLs limit, {v['observed_limit_events']:.6g} events for these "
            "data (without background and with nothing observed it is the exact limit of the "
            "binned likelihood too)"
        )
    warnings.warn(
        AsymptoticValidityWarning(
            f"{feature} at low background ({v['background_events']:.4g} events): asymptotic "
            f"CLs is about {err:.2g}% too low on one bin at {100 * cl:g}% CL (more with a "
            f"shape), beyond the {100 * v['tolerance']:g}% tolerance; use method='exact' "
            f"(exact counting CLs on the totals: {v['observed_limit_events']:.6g} events) or "
            "method='toys' (pyhf toy-based CLs with the shape)"
        ),
        stacklevel=3,
    )
    return v


def poisson_upper_limit(
    n_obs: float = 0.0,
    background: float = 0.0,
    cl: float = 0.9,
    *,
    background_uncertainty: float | None = None,
) -> float:
    """Exact CLs upper limit on the signal events of a counting experiment.

    Parameters
    ----------
    n_obs : int
        Observed events (a whole number >= 0; ``3.0`` is accepted, ``2.5`` refused).
    background : float
        Expected background events (>= 0).
    cl : float
        Confidence level, e.g. 0.9.
    background_uncertainty : float, optional
        Relative normalisation uncertainty sigma_b of the background (>= 0): the CLs
        probabilities are averaged over the log-normal background b theta_b with
        ln theta_b ~ N(0, ln(1 + sigma_b)^2) (:mod:`darkmoments.stats.counting`).  None or 0:
        the background is exactly known.

    Returns
    -------
    float
        s_up in events; -ln(1 - cl) for n_obs = 0 (any background: CLs removes it).

    Raises
    ------
    InputError, InputTypeError
        Negative or fractional ``n_obs``, negative background or cl outside (0, 1).

    Examples
    --------
    Nothing seen: 2.30 events at 90 % CL (3.00 at 95 %) whatever the background; 5 seen on
    5 expected: 5.15 events, 5.45 with a 30 % background uncertainty:

    >>> from darkmoments.stats.limits import poisson_upper_limit
    >>> round(poisson_upper_limit(), 3), round(poisson_upper_limit(0, 5.0), 3)
    (2.303, 2.303)
    >>> round(poisson_upper_limit(0, cl=0.95), 3)
    2.996
    >>> round(poisson_upper_limit(5, 5.0), 3)
    5.151
    >>> round(poisson_upper_limit(5, 5.0, background_uncertainty=0.3), 3)
    5.454
    """
    cl = _check_cl(cl)
    n_obs = check_count("n_obs", n_obs)
    return event_limit(n_obs, background, cl, background_uncertainty=background_uncertainty)


def event_limit(
    n_obs: float | None,
    background: float,
    cl: float = 0.9,
    *,
    background_uncertainty: float | None = None,
) -> float:
    """Exact counting CLs limit on the signal events, observed or expected (Asimov).

    Parameters
    ----------
    n_obs : float or None
        Observed events (>= 0; fractional values use the continuous Poisson CDF, meant for
        Asimov data).  None: the expected limit on the background-only Asimov data,
        n_obs = b (the convention of the exported workspaces,
        :func:`~darkmoments.stats.workspace.reference_events`); 2.303 events at 90% CL
        without background.
    background : float
        Expected background events (>= 0).
    cl : float
        Confidence level in (0, 1).
    background_uncertainty : float, optional
        Relative normalisation uncertainty of the background (:func:`poisson_upper_limit`).

    Returns
    -------
    float
        Events.

    Examples
    --------
    The expected limit on background-only Asimov data: 2.303 events without background,
    6.63 with 10 background events (the n = b convention of the workspaces):

    >>> from darkmoments.stats.limits import event_limit
    >>> round(event_limit(None, 0.0), 3), round(event_limit(None, 10.0), 3)
    (2.303, 6.63)
    >>> round(event_limit(2.5, 0.0), 3)  # fractional (Asimov) counts are allowed here
    6.009
    """
    from .inputs import background_sigma

    cl = _check_cl(cl)
    b = check_real("background", background, lo=0.0, unit="events")
    n = b if n_obs is None else check_real("n_obs", n_obs, lo=0.0, unit="events")
    return counting_limit(n, b, cl, background_sigma=background_sigma(background_uncertainty))


@contextlib.contextmanager
def pyhf_backend(optimizer: str = "scipy", **options: Any) -> Iterator[None]:
    """Temporarily use pyhf's numpy backend with the given optimizer; restore afterwards.

    Parameters
    ----------
    optimizer : str
        ``"scipy"`` or ``"minuit"``.
    **options
        Passed to the optimizer constructor (e.g. ``tolerance``).

    Examples
    --------
    >>> import pyhf
    >>> from darkmoments.stats.limits import pyhf_backend
    >>> before = pyhf.get_backend()[1]
    >>> with pyhf_backend("minuit"):
    ...     type(pyhf.get_backend()[1]).__name__
    'minuit_optimizer'
    >>> pyhf.get_backend()[1] is before  # restored
    True
    """
    import pyhf

    old = pyhf.get_backend()
    if optimizer == "scipy":
        opt = pyhf.optimize.scipy_optimizer(**options)
    elif optimizer == "minuit":
        opt = pyhf.optimize.minuit_optimizer(**options)
    else:
        raise InputError(f"optimizer must be 'scipy' or 'minuit', got {optimizer!r}")
    pyhf.set_backend("numpy", opt)
    try:
        yield
    finally:
        pyhf.set_backend(*old)


def cls_pyhf(
    spec: dict[str, Any],
    mu: float,
    *,
    calctype: str = "asymptotics",
    ntoys: int = 2000,
    seed: int | None = None,
) -> float:
    """Observed CLs at signal strength ``mu`` from pyhf (qtilde test statistic).

    Parameters
    ----------
    spec : dict
        Workspace spec.
    mu : float
        Tested signal strength (>= 0).
    calctype : str
        ``"asymptotics"`` or ``"toybased"``.
    ntoys : int
        Toys per hypothesis for ``toybased``.
    seed : int, optional
        Seed for the toys (required for ``toybased``; numpy's global state, which pyhf
        samples from, is set for the call and restored after).

    Returns
    -------
    float

    Raises
    ------
    IncompatibleDependencyError
        ``toybased`` with a pyhf whose toy calculator cannot run with the installed numpy
        (pyhf <= 0.7.6 with numpy >= 2.4).
    InputError
        Unknown ``calctype``, negative ``mu``, ``toybased`` without a seed, ``asymptotics``
        without background (:func:`check_asymptotic`).

    Warns
    -----
    AsymptoticValidityWarning
        ``asymptotics`` at low background (:func:`check_asymptotic`, estimate at 90% CL).

    Examples
    --------
    10 km signal events at 0.1 GeV over 50 background events in the recoil energy: mu = 1
    is excluded far beyond 90 % CL (CLs = 0.02), mu = 0.665 (the limit) just so:

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.limits import cls_pyhf
    >>> spec = build_spec(templates.load("km", 0.1), 10.0, observables="E", background=50.0)
    >>> round(cls_pyhf(spec, 1.0), 3), round(cls_pyhf(spec, 0.665), 2)
    (0.021, 0.1)
    """
    check_choice("calctype", calctype, ("asymptotics", "toybased"))
    mu = check_real("mu", mu, lo=0.0)
    if calctype == "toybased":
        toys_supported("cls_pyhf(calctype='toybased')")
        ntoys = check_int("ntoys", ntoys, lo=1)
        if seed is None:
            raise InputError("cls_pyhf(calctype='toybased') needs an explicit integer seed >= 0")
        seed = check_int("seed", seed, lo=0)
    else:
        check_asymptotic(spec, feature="cls_pyhf(calctype='asymptotics')")
    return _hypotest(spec, mu, calctype, ntoys, seed)


def _hypotest(
    spec: dict[str, Any], mu: float, calctype: str, ntoys: int, seed: int | None
) -> float:
    """pyhf's observed qtilde CLs at ``mu`` (inputs already checked; see :func:`cls_pyhf`)."""
    import pyhf

    model, data = make_model(spec)
    state = np.random.get_state()  # noqa: NPY002  (restored below)
    try:
        if seed is not None:
            np.random.seed(seed)  # noqa: NPY002  (pyhf samples from numpy's global state)
        with pyhf_backend("scipy"):
            kw: dict[str, Any] = {"ntoys": int(ntoys), "track_progress": False}
            cls = pyhf.infer.hypotest(
                float(mu),
                data,
                model,
                test_stat="qtilde",
                calctype=calctype,
                **(kw if calctype == "toybased" else {}),
            )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return float(np.asarray(cls))


@dataclass(frozen=True)
class UpperLimit:
    """An upper limit.

    Attributes
    ----------
    mu : float
        Upper limit on the signal strength (signal events / events at mu = 1).
    events : float
        Upper limit on the number of signal events.
    cl : float
        Confidence level.
    method : str
        ``exact``, ``asymptotic`` or ``toys``.

    Examples
    --------
    >>> from darkmoments.stats.limits import UpperLimit
    >>> UpperLimit(0.23, 2.3, 0.9, "exact").to_dict()
    {'mu': 0.23, 'events': 2.3, 'cl': 0.9, 'method': 'exact'}
    """

    mu: float
    events: float
    cl: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def _spec_totals(spec: dict[str, Any]) -> tuple[float, float, float]:
    """Signal (the samples scaled by the POI), background and observed totals, all channels.

    A combined workspace (:func:`~darkmoments.stats.combined.combined_spec`) has one channel
    per experiment: counting on the totals sums them.  A signal sample that is scaled by
    another normfactor than the POI (``normalisation="free"``: one mu per experiment) has no
    single signal strength for the totals and is refused.
    """
    measurements = spec.get("measurements") or [{}]
    poi = measurements[0].get("config", {}).get("poi", "mu")
    sig = bkg = 0.0
    for ch in spec["channels"]:
        for smp in ch["samples"]:
            norms = {m["name"] for m in smp.get("modifiers", []) if m["type"] == "normfactor"}
            total = float(sum(smp["data"]))
            if poi in norms:
                sig += total
            elif smp["name"] == "signal":
                raise InputError(
                    f"channel {ch['name']!r}: its signal scales with {sorted(norms)}, not with "
                    f"the POI {poi!r}; counting on the totals needs one signal strength for "
                    "every channel (build the workspace with normalisation='shared' or 'tied')"
                )
            else:
                bkg += total
    n_obs = float(sum(sum(o["data"]) for o in spec["observations"]))
    return sig, bkg, n_obs


def upper_limit(
    spec: dict[str, Any],
    *,
    cl: float = 0.9,
    method: str = "auto",
    ntoys: int = 2000,
    seed: int | None = None,
    rtol: float = 1e-6,
) -> UpperLimit:
    """CLs upper limit on the signal strength and events of a workspace.

    Parameters
    ----------
    spec : dict
        Workspace spec from :func:`~darkmoments.stats.workspace.build_spec` (one signal
        sample named ``signal`` with normfactor ``mu``).
    cl : float
        Confidence level (0.9 for the paper's projections).
    method : str
        ``"auto"`` (exact counting CLs on the totals if the background is below
        :data:`LOW_COUNT_BACKGROUND` events, in particular without background; asymptotic
        pyhf on the binned likelihood otherwise),
        ``"exact"`` (counting on bin totals; ignores shape and systematics), ``"asymptotic"``
        or ``"toys"`` (pyhf toy-based CLs; slow).
    ntoys : int
        Toys per hypothesis for ``"toys"``.
    seed : int, optional
        Seed for ``"toys"`` (required there).
    rtol : float
        Relative tolerance of the root finding in mu.

    Returns
    -------
    UpperLimit

    Raises
    ------
    IncompatibleDependencyError
        ``method="toys"`` where pyhf's toy calculator cannot run (pyhf <= 0.7.6 with numpy
        >= 2.4); the message names the versions and the alternatives.
    InputError
        ``method="asymptotic"`` at zero background (the message names ``method='exact'``:
        2.303 events at 90% CL for n = 0); see :func:`check_asymptotic`.

    Warns
    -----
    AsymptoticValidityWarning
        Asymptotic CLs (asked for, or chosen by ``auto``) where its one-bin error estimate
        exceeds 5% (b < 23.0 events at 90% CL).

    Examples
    --------
    km at 0.1 GeV, 10 signal events at mu = 1, in 8 recoil-energy bins.  No background:
    the exact 2.303 events (mu = 0.23).  50 background events spread evenly: the binned
    shape gives 6.65 events, half the 13.0 of counting the totals (the signal sits in a few
    bins):

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec, upper_limit
    >>> t = templates.load("km", 0.1)
    >>> lim = upper_limit(build_spec(t, 10.0, observables="E"))
    >>> lim.method, round(lim.events, 3), round(lim.mu, 4)
    ('exact', 2.303, 0.2303)
    >>> spec = build_spec(t, 10.0, observables="E", background=50.0)
    >>> lim = upper_limit(spec)  # auto: asymptotic at b >= 10
    >>> lim.method, round(lim.events, 2)
    ('asymptotic', 6.65)
    >>> round(upper_limit(spec, method="exact").events, 2)
    13.0
    """
    cl = _check_cl(cl)
    check_choice("limit method", method, METHODS)
    if method == "toys":
        toys_supported("upper_limit(method='toys')")
        if seed is None:
            raise InputError("upper_limit(method='toys') needs an explicit integer seed >= 0")
        seed = check_int("seed", seed, lo=0)
        ntoys = check_int("ntoys", ntoys, lo=1)
    sig, bkg, n_obs = _spec_totals(spec)
    if sig <= 0:
        raise InputError("workspace signal expects zero events; no limit can be set")
    asked = method
    if method == "auto":
        method = "exact" if bkg < LOW_COUNT_BACKGROUND else "asymptotic"
    if method == "asymptotic":
        via = "" if asked == "asymptotic" else f" (chosen by method='auto' at b = {bkg:.4g})"
        check_asymptotic(spec, cl=cl, feature=f"upper_limit(method='asymptotic'){via}")
    if method == "exact":
        # the observations may be Asimov (expected, fractional) counts: continuous in n
        s_up = counting_limit(n_obs, bkg, cl)
        return UpperLimit(s_up / sig, s_up, cl, "exact")
    alpha = 1.0 - cl
    calctype = "asymptotics" if method == "asymptotic" else "toybased"

    def f(mu: float) -> float:
        return _hypotest(spec, mu, calctype, ntoys, seed) - alpha

    # bracket around the counting estimate
    mu_up = _root_in_mu(f, counting_limit(n_obs, bkg, cl) / sig, rtol)
    return UpperLimit(mu_up, mu_up * sig, cl, method)


def _root_in_mu(f: Any, guess: float, rtol: float) -> float:
    """The root of the decreasing ``f(mu)`` (CLs - alpha), bracketed from ``guess`` by doubling."""
    hi = guess
    for _ in range(60):
        if f(hi) < 0:
            break
        hi *= 2.0
    else:
        raise InputError("could not bracket the upper limit (CLs never fell below 1 - cl)")
    lo = hi / 2.0
    for _ in range(60):
        if f(lo) > 0:
            break
        lo /= 2.0
    return float(brentq(f, lo, hi, rtol=rtol, xtol=1e-14))


def coupling_limit(n_up: float | FloatArray, n_signal_unit: float | FloatArray) -> FloatArray:
    """Coupling upper limit from an event limit: g_up = sqrt(N_up / N_sig(g = 1)).

    Parameters
    ----------
    n_up : float or array
        Upper limit on the signal events (e.g. 2.303 at 90% CL without background).
    n_signal_unit : float or array
        Expected signal events at unit coupling (model units: 1, GeV^-1, GeV^-2).

    Returns
    -------
    ndarray
        g_up in the model's units.

    Examples
    --------
    2.303 events at 90 % CL; km at 0.1 GeV gives 7.4e10 events at epsilon = 1 at LDMX
    Phase II, so epsilon_up = 5.6e-6; 100 times the yield is 10 times lower:

    >>> from darkmoments.stats.limits import coupling_limit
    >>> [f"{g:.3g}" for g in coupling_limit(2.303, [7.41e10, 7.41e12])]
    ['5.57e-06', '5.57e-07']
    """
    nu = np.asarray(n_up, dtype=float)
    n1 = np.asarray(n_signal_unit, dtype=float)
    if np.any(~np.isfinite(nu)) or np.any(nu <= 0):
        raise InputError(f"event limit must be finite and > 0, got {n_up}")
    if np.any(~np.isfinite(n1)) or np.any(n1 <= 0):
        raise InputError(
            f"signal yield at unit coupling must be finite and > 0, got {n_signal_unit}"
        )
    return np.sqrt(nu / n1)


def reach_rows(
    model: str,
    masses: Sequence[float] | FloatArray,
    n_signal_unit: Sequence[float] | FloatArray,
    *,
    cl: float = 0.9,
    n_obs: float | None = 0.0,
    background: float = 0.0,
    background_uncertainty: float | None = None,
) -> list[dict[str, float]]:
    """Reach table rows for a counting analysis: coupling limit and y (eq. 3.3) per mass.

    Parameters
    ----------
    model : str
        Model id.
    masses : array
        A' masses in GeV.
    n_signal_unit : array
        Expected signal events at unit coupling per mass.
    cl : float
        Confidence level.
    n_obs : float or None
        Observed events (a whole number; 0 with the default zero background: the projected
        zero-background reach), or None for the expected (Asimov, n = b) limit
        (:func:`event_limit`).
    background : float
        Expected background events (total over the bins).
    background_uncertainty : float, optional
        Relative background normalisation uncertainty (:func:`poisson_upper_limit`).

    Returns
    -------
    list of dict
        ``{"mass": GeV, "coupling": g_up (model units), "y": y(g_up)}``.

    Examples
    --------
    Two masses with the same yield, 7.4e10 events at unit coupling; y = epsilon^2 alpha_D
    (m_chi / m_A')^4 with the benchmark alpha_D = 0.5, m_A' / m_chi = 3:

    >>> from darkmoments.stats.limits import reach_rows
    >>> rows = reach_rows("km", [0.01, 0.1], [7.4e10, 7.4e10])
    >>> [(r["mass"], f"{r['coupling']:.3g}", f"{r['y']:.3g}") for r in rows]
    [(0.01, '5.58e-06', '1.92e-13'), (0.1, '5.58e-06', '1.92e-13')]
    """
    mid = get_model(model).id
    ms = np.asarray(masses, dtype=float)
    n1 = np.asarray(n_signal_unit, dtype=float)
    if ms.shape != n1.shape:
        raise InputError(f"masses {ms.shape} and yields {n1.shape} must have the same shape")
    if n_obs is None:
        n_up = event_limit(None, background, cl, background_uncertainty=background_uncertainty)
    else:
        n_up = poisson_upper_limit(
            n_obs, background, cl, background_uncertainty=background_uncertainty
        )
    g = coupling_limit(n_up, n1)
    return [
        {"mass": float(m), "coupling": float(gi), "y": float(y_parameter(mid, float(gi)))}
        for m, gi in zip(ms, g, strict=True)
    ]


def reach_for(
    model: str,
    experiment: str | Experiment = "ldmx-phase2",
    *,
    cl: float = 0.9,
    directory: str | None = None,
    level: str = "truth",
    background: Any = None,
    background_uncertainty: float | None = None,
    n_obs: float | None = None,
) -> list[dict[str, float]]:
    """Reach of an experiment for the template masses of a model (zero background by default).

    N_sig(g = 1) from :func:`darkmoments.templates.signal_yield` at ``level`` (at detector
    level it carries the detector selection and acceptance efficiency) at every grid mass
    of the templates (:func:`darkmoments.templates.masses`); event limit from the exact
    counting CLs on the totals (:func:`event_limit`): 2.303 events at 90% CL without
    background.  With a background b (summed over every bin) the expected limit is the one
    of the background-only Asimov data n = b, with its normalisation uncertainty averaged
    over (:mod:`darkmoments.stats.counting`); the counting limit is exact at any b but does
    not use the shapes (the shape-aware limit is :func:`upper_limit` on a workspace).

    Parameters
    ----------
    model : str
        Model id.
    experiment : str or Experiment
        Experiment name, TOML path or :class:`~darkmoments.experiments.Experiment`.
    cl : float
        Confidence level.
    directory : str, optional
        Template directory (default: shipped templates).
    level : str
        ``"truth"`` (default, the paper's) or ``"detector"`` (``<experiment>.detector.h5``).
    background : Background, path, array or None
        The background (:func:`darkmoments.stats.inputs.resolve_background`); None: the
        experiment's ``[background]`` at ``level`` (none for the shipped setups); a number:
        that many events in total (``0``: none).
    background_uncertainty : float, optional
        Relative background normalisation uncertainty (overrides the background's own).
    n_obs : float, optional
        Observed events (a whole number) for an observed limit; default the expected one.

    Returns
    -------
    list of dict
        ``{"mass": GeV, "coupling": g_up (model units), "y": y}`` per template mass.

    Examples
    --------
    The zero-background LDMX Phase II reach of kinetic mixing (the paper's figure 6):
    epsilon < 7.7e-8 at 1 MeV, 4.9e-6 at 92 MeV:

    >>> from darkmoments.stats import reach_for
    >>> rows = reach_for("km", "ldmx-phase2")
    >>> len(rows), rows[0]["mass"], f"{rows[0]['coupling']:.2g}"
    (40, 0.001, '7.7e-08')
    >>> r = rows[22]
    >>> r["mass"], f"{r['coupling']:.2g}", f"{r['y']:.2g}"
    (0.0915067, '4.9e-06', '1.5e-13')

    A background of 5 events known to 20 % weakens every limit by the same factor,
    sqrt(5.31 / 2.303) = 1.52 (the expected 90 % CL limit on n = b = 5 is 5.31 events):

    >>> rows_b = reach_for("km", background=5.0, background_uncertainty=0.2)
    >>> round(rows_b[22]["coupling"] / r["coupling"], 3)
    1.518
    """
    from .. import templates
    from ..experiments import get_experiment
    from .inputs import background_total, check_level_file, resolve_background

    mid = get_model(model).id
    exp = get_experiment(experiment)
    lvl = check_level_file(exp, level, directory)
    bkg = resolve_background(exp, lvl, background=background, uncertainty=background_uncertainty)
    ms = templates.masses(mid, exp, directory=directory, level=lvl)
    n1 = [
        templates.signal_yield(mid, float(m), 1.0, exp, directory=directory, level=lvl).n_signal
        for m in ms
    ]
    unc = None if bkg is None else bkg.normalisation_uncertainty
    if n_obs is not None:
        n_obs = check_count("n_obs", n_obs)
    return reach_rows(
        mid,
        ms,
        np.asarray(n1),
        cl=cl,
        n_obs=n_obs,
        background=background_total(bkg),
        background_uncertainty=unc,
    )


#: Columns of :func:`reach_table` (and of every reach CSV file).
REACH_COLUMNS: tuple[str, ...] = ("model", "mass", "coupling", "y")


def reach_table(
    models: str | Sequence[str] = "all",
    experiment: str | Experiment = "ldmx-phase2",
    *,
    cl: float = 0.9,
    directory: str | None = None,
    progress: bool = False,
    level: str = "truth",
    background: Any = None,
    background_uncertainty: float | None = None,
    n_obs: float | None = None,
) -> pd.DataFrame:
    """Reach of several models as one table (:func:`reach_for` per model).

    The table of ``darkmoments reach --out``, ``studies/reach.py`` and the demo; write it
    with :func:`darkmoments.io.atomic.write_csv_atomic` (floats at full precision).

    Parameters
    ----------
    models : str or sequence of str
        ``"all"`` (every model, in :data:`~darkmoments.models.MODEL_IDS` order), one model id
        or several.
    experiment : str or Experiment
        Experiment name, TOML path or Experiment (resolved once).
    cl : float
        Confidence level of the exact Poisson limit (0.9: 2.303 events).
    directory : str, optional
        Template directory (default: shipped templates).
    progress : bool
        Show a tqdm bar over the models (stderr).
    level, background, background_uncertainty, n_obs
        As :func:`reach_for` (default: truth level, the experiment's background, none for
        the shipped setups: the zero-background reach).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REACH_COLUMNS`: ``model`` (id), ``mass`` (GeV), ``coupling`` (g_up in
        the model's units) and ``y`` (eq. 3.3), one row per model and template mass.

    Raises
    ------
    InputError
        Unknown or repeated model, no model, cl outside (0, 1).

    Examples
    --------
    >>> from darkmoments.stats import reach_table
    >>> table = reach_table(["km", "md"], "ldmx-phase2")
    >>> table.shape, list(table.columns)
    ((80, 4), ['model', 'mass', 'coupling', 'y'])
    >>> row = table.iloc[40]  # md at 1 MeV: mu_f / e in GeV^-1
    >>> row["model"], float(row["mass"]), f"{row['coupling']:.2g}"
    ('md', 0.001, '2.5e-05')
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ..experiments import get_experiment
    from .inputs import resolve_background

    ids = _model_ids(models)
    exp = get_experiment(experiment)
    opts: dict[str, Any] = {"level": level, "n_obs": n_obs, "cl": cl, "directory": directory}
    bkg = resolve_background(exp, level, background=background, uncertainty=background_uncertainty)
    rows = [
        {"model": mid, **r}
        for mid in tqdm(ids, desc="reach", unit="model", disable=not progress)
        for r in reach_for(mid, exp, background=bkg, **opts)
    ]
    return pd.DataFrame(rows, columns=list(REACH_COLUMNS))


def _model_ids(models: str | Sequence[str]) -> list[str]:
    """Canonical ids of ``"all"``, one model or a sequence of models (no repeats)."""
    from ..models import MODEL_IDS

    if isinstance(models, str):
        ids = list(MODEL_IDS) if models.strip().lower() == "all" else [get_model(models).id]
    else:
        ids = [get_model(m).id for m in models]
    if not ids:
        raise InputError("no model given; use a model id or 'all'")
    if len(set(ids)) != len(ids):
        raise InputError(f"a model is given twice in {list(models)}")
    return ids


def reach_by_model(table: pd.DataFrame) -> dict[str, list[dict[str, float]]]:
    """The rows of a :func:`reach_table` per model, in table order.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns :data:`REACH_COLUMNS`.

    Returns
    -------
    dict
        ``{model: [{"mass": GeV, "coupling": g_up, "y": y}, ...]}``: the JSON of ``darkmoments
        reach --model all`` and what :func:`darkmoments.plotting.plot_reach` draws.

    Examples
    --------
    >>> from darkmoments.stats import reach_by_model, reach_table
    >>> by = reach_by_model(reach_table(["km", "md"]))
    >>> list(by), len(by["km"]), sorted(by["km"][0])
    (['km', 'md'], 40, ['coupling', 'mass', 'y'])
    """
    out: dict[str, list[dict[str, float]]] = {}
    for rec in table.to_dict("records"):
        out.setdefault(str(rec["model"]), []).append({k: float(rec[k]) for k in REACH_COLUMNS[1:]})
    return out
