"""Discovery significance of a signal over a background.

* ``exact``: counting experiment, p0 = P(N >= n | b) = P(n, b) (regularised lower incomplete
  gamma, exact for integer n), Z = Phi^-1(1 - p0).  For the *expected* (median) significance
  n is the median of Poisson(s + b), so the result is exact without toys.
* ``asimov``: Z_A = sqrt(2 [(s + b) ln(1 + s/b) - s]) (Cowan, Cranmer, Gross, Vitells 2011,
  arXiv:1007.1727, eq. 97): good for large counts, wrong at small b.
* ``toys``: seeded pseudo-experiments n ~ Poisson(s + b) each converted with the exact p0;
  returns the median Z and the distribution (useful for the spread of the significance).
* ``pyhf``: shape analysis with pyhf's asymptotic q0 on a workspace.

With b = 0 a single event is an infinitely significant discovery; this is refused with a
ValueError instead of returning infinity.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import gammainc, ndtri
from scipy.stats import norm, poisson

__all__ = [
    "DISCOVERY_METHODS",
    "Discovery",
    "discovery_significance",
    "p_to_z",
    "pyhf_discovery",
    "z_to_p",
]

#: Methods accepted by :func:`discovery_significance`.
DISCOVERY_METHODS: tuple[str, ...] = ("exact", "asimov", "toys")


def p_to_z(p: float | np.ndarray) -> np.ndarray:
    """One-sided Gaussian significance Z = Phi^-1(1 - p) (p in (0, 1])."""
    return -ndtri(np.asarray(p, dtype=float))


def z_to_p(z: float | np.ndarray) -> np.ndarray:
    """One-sided p-value 1 - Phi(Z)."""
    return norm.sf(np.asarray(z, dtype=float))


def _p0(n: np.ndarray, b: float) -> np.ndarray:
    """P(N >= n | b) for n >= 0 (1 for n = 0)."""
    n = np.asarray(n, dtype=float)
    return np.where(n <= 0, 1.0, gammainc(np.maximum(n, 1e-300), b))


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
) -> Discovery:
    """Discovery significance of ``n_signal`` events over ``background`` events.

    Parameters
    ----------
    n_signal : float
        Expected signal events (> 0; ignored for ``exact`` if ``n_obs`` is given).
    background : float
        Expected background events (> 0).
    n_obs : float, optional
        Observed events (exact method); default: the median of Poisson(s + b).
    method : str
        ``"exact"``, ``"asimov"`` or ``"toys"``.
    n_toys : int
        Pseudo-experiments for ``"toys"``.
    seed : int or Generator, optional
        Randomness for ``"toys"`` (required there for reproducibility; None = fresh entropy).

    Returns
    -------
    Discovery
        Z is capped at 38 (p0 below double precision) rather than infinite.
    """
    if method not in DISCOVERY_METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(DISCOVERY_METHODS)}")
    if not (np.isfinite(n_signal) and n_signal > 0):
        raise ValueError(f"signal events must be finite and > 0, got {n_signal}")
    if not (np.isfinite(background) and background > 0):
        raise ValueError(
            f"background must be finite and > 0 events, got {background} (with zero "
            "background any observed event is a discovery of infinite significance)"
        )
    s, b = float(n_signal), float(background)
    if method == "asimov":
        z = math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))
        return Discovery(z, float(z_to_p(z)), s + b, "asimov")
    if method == "exact":
        if n_obs is None:
            n = float(poisson.median(s + b))
        else:
            if not (np.isfinite(n_obs) and n_obs >= 0):
                raise ValueError(f"n_obs must be finite and >= 0, got {n_obs}")
            n = float(n_obs)
        p = float(_p0(np.array(n), b))
        return Discovery(float(min(p_to_z(max(p, 1e-300)), 38.0)), p, n, "exact")
    if int(n_toys) != n_toys or n_toys < 1:
        raise ValueError(f"n_toys must be a positive integer, got {n_toys}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ns = rng.poisson(s + b, size=int(n_toys))
    ps = _p0(ns, b)
    zs = np.minimum(p_to_z(np.maximum(ps, 1e-300)), 38.0)
    zmed = float(np.median(zs))
    return Discovery(zmed, float(z_to_p(zmed)), float(np.median(ns)), "toys")


def pyhf_discovery(spec: dict[str, Any]) -> Discovery:
    """Observed discovery significance of a workspace with pyhf's asymptotic q0.

    Parameters
    ----------
    spec : dict
        Workspace spec with a background sample (observations = the data to test).

    Returns
    -------
    Discovery
    """
    import pyhf

    from .limits import pyhf_backend
    from .workspace import make_model

    ch = spec["channels"][0]
    if not any(s["name"] != "signal" for s in ch["samples"]):
        raise ValueError("a discovery test needs a background sample in the workspace")
    model, data = make_model(spec)
    with pyhf_backend("scipy"):
        p0 = pyhf.infer.hypotest(0.0, data, model, test_stat="q0", calctype="asymptotics")
    p = float(np.asarray(p0))
    n = float(sum(spec["observations"][0]["data"]))
    return Discovery(float(min(p_to_z(max(p, 1e-300)), 38.0)), p, n, "pyhf-asymptotic")
