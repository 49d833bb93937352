"""Discovery significance of a signal over a background.

* ``exact``: counting experiment, p0 = P(N >= n | b) = P(n, b) (regularised lower incomplete
  gamma, exact for integer n), Z = Phi^-1(1 - p0).  For the *expected* (median) significance
  n is the median of Poisson(s + b), so the result is exact without toys.
* ``asimov``: Z_A = sqrt(2 [(s + b) ln(1 + s/b) - s]) (Cowan, Cranmer, Gross, Vitells 2011,
  arXiv:1007.1727, eq. 97): good for large counts, wrong at small b.
* ``toys``: seeded pseudo-experiments n ~ Poisson(s + b) each converted with the exact p0;
  returns the median Z and the distribution (useful for the spread of the significance).
* ``pyhf``: shape analysis with pyhf's asymptotic q0 on a workspace.

Conventions (one-sided test for an excess):

* Z = max(0, Phi^-1(1 - p0)).  A deficit, n below the background (p0 > 0.5), is no evidence
  for a signal and gives Z = 0, as in the asymptotic q0 = 0 for mu_hat < 0 (Cowan et al.
  2011); p0 itself is reported as computed, P(N >= n | b), at most 1 (p0 = 1 for n = 0).
* Z is capped at 38 (p0 below double precision) rather than infinite.
* With b = 0 a single event is an infinitely significant discovery; this is refused with an
  :class:`~darkmoments.errors.InputError` instead of returning infinity.
* :func:`pyhf_discovery` refuses a workspace whose background sample expects zero events
  for the same reason (pyhf's asymptotic q0 gives p0 = nan there).
* Z_A at low b: against the exact counting Z at n = s + b (continuous Poisson CDF) it is
  high by 4.1% at b = 0.1, 3.7% at b = 1, 2.2% at b = 10, 1.0% at b = 100 for s = 3 sqrt(b)
  + 3 (Z ~ 3-4.7); for s of order 1 at b << 1 it is far more (24% at
  s = 1, b = 0.1: Z_A = 1.81 vs 1.46).  Use ``exact`` (the default) at low b.
* ``n_obs`` (observed events, a whole number) is used only by ``exact``; ``asimov`` and
  ``toys`` compute the expected significance and refuse it.

Background normalisation uncertainty (``background_uncertainty`` = sigma_b, relative): the
background is b theta_b with the log-normal nuisance ln theta_b ~ N(0, s_b^2), s_b =
ln(1 + sigma_b) (:mod:`darkmoments.stats.inputs`).

* ``exact`` and ``toys``: p0 = E[P(N >= n | b theta_b)], the background-only probability
  averaged over theta_b (Cousins and Highland 1992, as the limits,
  :mod:`darkmoments.stats.counting`); the toys are n ~ Poisson(s + b) at the nominal
  theta_b = 1.
* ``asimov``: the profile-likelihood q0 of the Asimov data n = s + b with the constraint
  (ln theta_b)^2 / s_b^2 (auxiliary measurement at its nominal value), in closed form:
  the background-only fit has phi = ln theta_b solving n - b e^phi = phi / s_b^2, i.e.
  phi = n s_b^2 - W(b s_b^2 e^(n s_b^2)) with Lambert's W (computed as the Wright omega
  function of ln(b s_b^2) + n s_b^2, no overflow), and

      Z_A^2 = 2 [n ln(n / (b e^phi)) - n + b e^phi] + phi^2 / s_b^2,

  which tends to eq. 97 as s_b -> 0 and to 0 as s_b -> infinity (the background is then
  unknown).  Tested against pyhf's q0 on the same one-bin likelihood (normsys with
  interpolation code 1, kappa = 1 + sigma_b).

:func:`discovery_for` computes the signal of a (model, mass, coupling) from the templates at
a level (``"truth"`` or ``"detector"``) and takes the experiment's background
(:func:`darkmoments.stats.inputs.resolve_background`; events summed over every bin).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import gammainc, ndtri
from scipy.stats import norm, poisson

from ..errors import InputError, InputTypeError
from ..validation import check_choice, check_finite_result, check_int, check_real
from .limits import check_count

__all__ = [
    "DISCOVERY_METHODS",
    "Z_MAX",
    "Discovery",
    "discovery_for",
    "discovery_significance",
    "p_to_z",
    "pyhf_discovery",
    "z_to_p",
]

#: Methods accepted by :func:`discovery_significance`.
DISCOVERY_METHODS: tuple[str, ...] = ("exact", "asimov", "toys")

#: Largest significance reported (p0 = z_to_p(38) ~ 1e-316 is the end of double precision).
Z_MAX: float = 38.0


def _one_sided(z: float) -> float:
    """Z of a one-sided excess test: a deficit (Z < 0) is no evidence, Z = 0; capped above."""
    return float(min(max(z, 0.0), Z_MAX))


def p_to_z(p: float | np.ndarray) -> np.ndarray:
    """One-sided Gaussian significance Z = Phi^-1(1 - p) (p in (0, 1]).

    Parameters
    ----------
    p : float or array_like
        One-sided p-value(s).

    Returns
    -------
    numpy.ndarray
        Z in Gaussian sigma (0-d for a scalar).

    Examples
    --------
    >>> from darkmoments.stats.discovery import p_to_z
    >>> round(float(p_to_z(2.8665e-7)), 3)  # the 5 sigma discovery p-value
    5.0
    >>> p_to_z([0.0013499, 0.02275]).round(3).tolist()  # 3 and 2 sigma
    [3.0, 2.0]
    """
    return -ndtri(np.asarray(p, dtype=float))


def z_to_p(z: float | np.ndarray) -> np.ndarray:
    """One-sided p-value 1 - Phi(Z).

    Parameters
    ----------
    z : float or array_like
        Significance(s) in Gaussian sigma.

    Returns
    -------
    numpy.ndarray
        p (0-d for a scalar).

    Examples
    --------
    >>> from darkmoments.stats.discovery import z_to_p
    >>> f"{float(z_to_p(5.0)):.4g}", f"{float(z_to_p(3.0)):.4g}"
    ('2.867e-07', '0.00135')
    """
    return norm.sf(np.asarray(z, dtype=float))


def _p0(n: np.ndarray, b: float, sigma: float | None = None) -> np.ndarray:
    """P(N >= n | b) for n >= 0 (1 for n = 0), averaged over ln theta_b ~ N(0, sigma^2)."""
    n = np.asarray(n, dtype=float)
    if sigma is None:
        return np.where(n <= 0, 1.0, gammainc(np.maximum(n, 1e-300), b))
    from .counting import lognormal_nodes

    theta, w = lognormal_nodes(sigma)
    nn = np.maximum(n, 1e-300)[..., None]
    p = np.sum(w * gammainc(nn, b * theta), axis=-1)
    return np.where(n <= 0, 1.0, p)


def _asimov_z(s: float, b: float, sigma: float | None) -> float:
    """Z_A of the Asimov data n = s + b (module docstring; eq. 97 without uncertainty)."""
    if sigma is None:
        return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))
    from scipy.special import wrightomega

    n = s + b
    s2 = sigma * sigma
    phi = n * s2 - float(np.real(wrightomega(math.log(b * s2) + n * s2)))
    bt = b * math.exp(phi)
    q0 = 2.0 * (n * math.log(n / bt) - n + bt) + phi * phi / s2
    return math.sqrt(max(q0, 0.0))


@dataclass(frozen=True)
class Discovery:
    """A discovery significance.

    Attributes
    ----------
    z : float
        Significance (one-sided Gaussian sigma).
    p0 : float
        Background-only p-value.
    n_obs : float
        Observed (or median expected) events used.
    method : str
        Method name.

    Examples
    --------
    >>> from darkmoments.stats.discovery import discovery_significance
    >>> d = discovery_significance(10.0, 1.0)
    >>> d.method, d.n_obs, sorted(d.to_dict())
    ('exact', 11.0, ['method', 'n_obs', 'p0', 'z'])
    """

    z: float
    p0: float
    n_obs: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def discovery_significance(
    n_signal: float,
    background: float,
    *,
    n_obs: float | None = None,
    method: str = "exact",
    n_toys: int = 10000,
    seed: int | np.random.Generator | None = None,
    background_uncertainty: float | None = None,
) -> Discovery:
    """Discovery significance of ``n_signal`` events over ``background`` events.

    Parameters
    ----------
    n_signal : float
        Expected signal events (> 0; ignored for ``exact`` if ``n_obs`` is given).
    background : float
        Expected background events (> 0).
    n_obs : int, optional
        Observed events, a whole number >= 0 (``exact`` only; refused by the other methods,
        which compute the expected significance); default: the median of Poisson(s + b).
    method : str
        ``"exact"``, ``"asimov"`` or ``"toys"``.
    n_toys : int
        Pseudo-experiments for ``"toys"``.
    seed : int or Generator
        Randomness for ``"toys"``: an integer >= 0 or a ``numpy.random.Generator``, required
        there (reproducibility); unused by the other methods.
    background_uncertainty : float, optional
        Relative normalisation uncertainty sigma_b of the background (>= 0; module
        docstring); None or 0: the background is exactly known.

    Returns
    -------
    Discovery
        Z = max(0, Phi^-1(1 - p0)) capped at :data:`Z_MAX` (module docstring); p0 in (0, 1].

    Raises
    ------
    InputError, InputTypeError
        Unknown method, non-positive or non-finite signal or background, fractional or
        negative ``n_obs``, ``n_obs`` with ``asimov``/``toys``, ``toys`` without a seed.

    Examples
    --------
    10 signal events over a background of 1: the median count is 11, p0 = P(N >= 11 | 1) =
    1.0e-8, Z = 5.61 (the toys' median is the same count); the Asimov formula overstates it
    at this low background:

    >>> from darkmoments.stats.discovery import discovery_significance
    >>> d = discovery_significance(10.0, 1.0)
    >>> round(d.z, 2), f"{d.p0:.2g}", d.n_obs
    (5.61, '1e-08', 11.0)
    >>> round(discovery_significance(10.0, 1.0, method="asimov").z, 2)
    5.72
    >>> round(discovery_significance(10.0, 1.0, method="toys", n_toys=2000, seed=1).z, 2)
    5.61

    Observed 5 events on 1 expected: 2.68 sigma.  30 signal on 100 background: 2.87 sigma,
    2.01 with a 10 % background uncertainty:

    >>> round(discovery_significance(10.0, 1.0, n_obs=5).z, 2)
    2.68
    >>> round(discovery_significance(30.0, 100.0, method="asimov").z, 2)
    2.87
    >>> d = discovery_significance(30.0, 100.0, method="asimov", background_uncertainty=0.1)
    >>> round(d.z, 2)
    2.01
    """
    check_choice("method", method, DISCOVERY_METHODS)
    s = check_real("signal events", n_signal, lo=0.0, lo_open=True, unit="events")
    try:
        b = check_real("background", background, lo=0.0, lo_open=True, unit="events")
    except InputError as exc:  # a value (not a type) error: say why b = 0 is refused
        raise InputError(
            f"{exc} (with zero background any observed event is a discovery of infinite "
            "significance)"
        ) from None
    if n_obs is not None and method != "exact":
        raise InputError(
            f"n_obs (observed events) is only used by method 'exact'; method {method!r} "
            f"computes the expected significance (n = s + b for asimov, n ~ Poisson(s + b) "
            f"for toys): drop n_obs or use method 'exact'"
        )
    from .inputs import background_sigma

    sigma = background_sigma(background_uncertainty)
    if method == "asimov":
        z = _asimov_z(s, b, sigma)
        check_finite_result("Asimov discovery significance", z, hint=f"s = {s:g}, b = {b:g}")
        return Discovery(z, float(z_to_p(z)), s + b, "asimov")
    if method == "exact":
        n = float(poisson.median(s + b)) if n_obs is None else check_count("n_obs", n_obs)
        p = float(_p0(np.array(n), b, sigma))
        z = _one_sided(float(p_to_z(max(p, 1e-300))))
        return Discovery(z, p, n, "exact")
    n_toys = check_int("n_toys", n_toys, lo=1)
    if isinstance(seed, np.random.Generator):
        rng = seed
    elif seed is None:
        raise InputTypeError(
            "seed must be an integer >= 0 or a numpy Generator for method 'toys' "
            "(pseudo-experiments are reproducible only from an explicit seed), got None"
        )
    else:
        rng = np.random.default_rng(check_int("seed", seed, lo=0))
    ns = rng.poisson(s + b, size=n_toys)
    ps = _p0(ns, b, sigma)
    zs = np.minimum(p_to_z(np.maximum(ps, 1e-300)), Z_MAX)
    zmed = float(np.median(zs))
    return Discovery(_one_sided(zmed), float(z_to_p(zmed)), float(np.median(ns)), "toys")


def discovery_for(
    model: str,
    mass: float,
    coupling: float,
    experiment: Any = "ldmx-phase2",
    *,
    level: str = "truth",
    background: Any = None,
    background_uncertainty: float | None = None,
    directory: str | None = None,
    **options: Any,
) -> tuple[float, float, float | None, Discovery]:
    """Discovery significance of a (model, mass, coupling) over an experiment's background.

    Parameters
    ----------
    model : str
        Model id.
    mass : float
        A' mass in GeV.
    coupling : float
        g_f in the model's units.
    experiment : str or Experiment
        Experiment name, TOML path or Experiment.
    level : str
        ``"truth"`` (default) or ``"detector"``: the signal from those templates
        (:func:`darkmoments.templates.signal_yield`, with the detector selection and
        acceptance efficiency at detector level).
    background : Background, path, array or number, optional
        As :func:`darkmoments.stats.limits.reach_for` (None: the experiment's at
        ``level``; a number: that many events).
    background_uncertainty : float, optional
        Relative background normalisation uncertainty (overrides the background's own).
    directory : str, optional
        Template directory.
    **options
        ``n_obs``, ``method``, ``n_toys``, ``seed`` of :func:`discovery_significance`.

    Returns
    -------
    (n_signal, background, background_uncertainty, Discovery)
        Expected signal and background events (summed over every bin), the relative
        uncertainty used (None: none) and the significance.

    Raises
    ------
    InputError
        No background (zero background makes any event a discovery of infinite
        significance), a missing detector-level file, bad input.

    Examples
    --------
    km at 0.1 GeV and epsilon = 1e-5 gives 7.4 events at LDMX Phase II; over one
    background event that is 4.26 sigma (3.44 with a 50 % background uncertainty):

    >>> from darkmoments.stats.discovery import discovery_for
    >>> n, b, unc, d = discovery_for("km", 0.1, 1e-5, background=1.0)
    >>> round(n, 2), b, unc, round(d.z, 2)
    (7.41, 1.0, None, 4.26)
    >>> round(discovery_for("km", 0.1, 1e-5, background=1.0, background_uncertainty=0.5)[3].z, 2)
    3.44
    """
    from ..experiments import get_experiment
    from ..models import check_coupling
    from ..templates import signal_yield
    from .inputs import background_total, check_level_file, resolve_background

    exp = get_experiment(experiment)
    lvl = check_level_file(exp, level, directory)
    g = check_coupling(coupling, name="coupling")
    n_sig = signal_yield(model, mass, g, exp, directory=directory, level=lvl).n_signal
    bkg = resolve_background(exp, lvl, background=background, uncertainty=background_uncertainty)
    b = background_total(bkg)
    if b <= 0:
        raise InputError(
            f"discovery needs a background > 0 events; experiment {exp.name} has none at "
            f"level {lvl}: give a background (a file, or a number of events)"
        )
    unc = bkg.normalisation_uncertainty if bkg is not None else None
    unc = unc or None
    d = discovery_significance(n_sig, b, background_uncertainty=unc, **options)
    return float(n_sig), b, unc, d


def pyhf_discovery(spec: dict[str, Any]) -> Discovery:
    """Observed discovery significance of a workspace with pyhf's asymptotic q0.

    Parameters
    ----------
    spec : dict
        Workspace spec with a background sample (observations = the data to test).

    Returns
    -------
    Discovery

    Examples
    --------
    A workspace of km at 0.1 GeV in the recoil energy (10 signal events, 1 background
    event spread evenly) observing signal plus background: the asymptotic q0 of the shape
    fit is far above the counting Z of 5.6 (asymptotics are optimistic at such counts):

    >>> from darkmoments import templates
    >>> from darkmoments.stats import build_spec
    >>> from darkmoments.stats.discovery import pyhf_discovery
    >>> spec = build_spec(templates.load("km", 0.1), 10.0, observables="E", background=1.0)
    >>> sig, bkg = (s["data"] for s in spec["channels"][0]["samples"])
    >>> spec["observations"][0]["data"] = [a + b for a, b in zip(sig, bkg)]
    >>> d = pyhf_discovery(spec)
    >>> d.method, round(d.n_obs, 6), d.z > 6
    ('pyhf-asymptotic', 11.0, True)
    """
    import pyhf

    from .limits import pyhf_backend
    from .workspace import background_events, make_model

    ch = spec["channels"][0]
    if not any(s["name"] != "signal" for s in ch["samples"]):
        raise InputError("a discovery test needs a background sample in the workspace")
    if background_events(spec) <= 0:
        raise InputError(
            "the workspace's background sample expects zero events: asymptotic q0 is "
            "undefined there (pyhf returns p0 = nan) and any observed event is a discovery of "
            "infinite significance; give a background > 0 (discovery_significance(s, b, "
            "method='exact') for a counting estimate)"
        )
    model, data = make_model(spec)
    with pyhf_backend("scipy"):
        p0 = pyhf.infer.hypotest(0.0, data, model, test_stat="q0", calctype="asymptotics")
    p = float(np.asarray(p0))
    check_finite_result("pyhf discovery p-value p0", p)
    n = float(sum(spec["observations"][0]["data"]))
    return Discovery(_one_sided(float(p_to_z(max(p, 1e-300)))), p, n, "pyhf-asymptotic")
