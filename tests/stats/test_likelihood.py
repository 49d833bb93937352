"""The package's likelihood: Barlow-Beeston (full, one sample) with the spline interpolation.

* the closed-form profile of the per-bin nuisances A_b equals a numerical minimisation;
* the fast path equals pyhf (``shapesys``) and iminuit fits of the same likelihood to 1e-6,
  for the grid-node statistic and for the refined (mass-profiled) one, with empty template
  bins and strong MC uncertainty (N_MC = 400), free, tied and constrained normalisation;
* fitted masses show no pile-up at the grid nodes.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import binom

from darkmoments.stats import ShapeGrid, asimov
from darkmoments.stats.fast import deviance_grid, profile_mass
from darkmoments.stats.fits import deviance
from darkmoments.stats.reference import (
    minuit_profile,
    reference_statistic_iminuit,
    reference_statistic_pyhf,
)
from darkmoments.testing.synthetic import synthetic_grid_templates

MASSES = np.geomspace(0.05, 2.0, 8)
N_MC = 400


def _mc_grid(model: str, seed: int, obs: str = "E") -> ShapeGrid:
    """Synthetic shapes resampled with N_MC = 400 MC events per mass (empty tail bins)."""
    g = ShapeGrid.from_templates(
        synthetic_grid_templates(model, MASSES, bins=(10, 8)), obs, events_per_pb=22.2
    )
    rng = np.random.default_rng(seed)
    probs = np.array([rng.multinomial(N_MC, p / p.sum()) / N_MC for p in g.probs])
    return ShapeGrid(model, g.masses, probs, probs * (1 - probs) / N_MC, g.n1, g.observables)


@pytest.fixture(scope="module")
def pair() -> tuple[ShapeGrid, ShapeGrid]:
    gt, ga = _mc_grid("km", 1), _mc_grid("md", 2)
    assert np.any(gt.probs == 0)  # empty template bins exercised
    assert np.any(ga.probs == 0)
    np.testing.assert_allclose(gt.node_n_eff, N_MC, rtol=1e-12)
    return gt, ga


def _toys(gt: ShapeGrid, ga: ShapeGrid, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.poisson(asimov(gt, 1.0, 60.0), size=(n, gt.n_bins)).astype(float)
    c[-1] = rng.poisson(asimov(ga, 0.8, 60.0))
    # an event where the true template is empty at every node next to 1 GeV
    c[0, int(np.argmin(gt.probs[5] + gt.probs[6]))] += 1
    return c


def test_closed_form_profile_of_the_bin_nuisances() -> None:
    """min over A_b of -2 ln [Pois(n | mu w A) Pois(a | A)] - saturated = the closed form."""
    n_eff = 50.0
    p = np.array([0.3, 0.0, 0.02, 0.68])
    n = np.array([4.0, 2.0, 0.0, 9.0])
    mu = 14.0
    w, a = 1.0 / n_eff, n_eff * p

    def one_bin(nb: float, ab: float) -> float:
        def f(lnA: float) -> float:
            A = np.exp(lnA)
            nu = mu * w * A
            val = (
                nu - (nb * np.log(nu) if nb > 0 else 0.0) + A - (ab * np.log(A) if ab > 0 else 0.0)
            )
            sat = (nb - nb * np.log(nb) if nb > 0 else 0.0) + (
                ab - ab * np.log(ab) if ab > 0 else 0.0
            )
            return 2.0 * (val - sat)

        return minimize_scalar(f, bounds=(-30, 10), method="bounded", options={"xatol": 1e-12}).fun

    numeric = sum(one_bin(nb, ab) for nb, ab in zip(n, a, strict=True))
    np.testing.assert_allclose(deviance(n, p, mu, n_eff=n_eff), numeric, atol=1e-8)
    fast = deviance_grid(n[None], p[None], np.array([mu]), n_eff=n_eff)[0, 0]
    np.testing.assert_allclose(fast, numeric, atol=1e-8)


@pytest.mark.parametrize("refine", [False, True])
def test_fast_path_equals_pyhf_shapesys_and_iminuit(pair, refine: bool) -> None:
    gt, ga = pair
    counts = _toys(gt, ga, 3, 7)
    fast = profile_mass(counts, ga, refine=refine).deviance
    fast = fast - profile_mass(counts, gt, refine=refine).deviance
    ref_pyhf = reference_statistic_pyhf(counts, gt, ga, refine=refine)
    ref_minuit = reference_statistic_iminuit(counts, gt, ga, refine=refine)
    print(
        f"refine={refine}: fast {fast}, pyhf - fast {ref_pyhf - fast}, "
        f"iminuit - fast {ref_minuit - fast}"
    )
    assert np.all(np.abs(fast) > 1e-3)  # non-trivial values
    np.testing.assert_allclose(ref_pyhf, fast, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ref_minuit, fast, rtol=0, atol=1e-6)
    # and the template uncertainty matters here: the plain deviance differs at O(1)
    plain = profile_mass(counts, ga, refine=refine, mc_stat=False).deviance
    plain = plain - profile_mass(counts, gt, refine=refine, mc_stat=False).deviance
    assert np.max(np.abs(plain - fast)) > 0.1


@pytest.mark.parametrize("rate_sigma", [None, 0.1])
def test_tied_and_constrained_normalisation_equal_iminuit(pair, rate_sigma) -> None:
    gt, _ = pair
    assert gt.n1 is not None
    rates = 60.0 * gt.n1 / gt.rate(1.0)
    counts = _toys(gt, gt, 3, 9)
    fast = profile_mass(counts, gt, rates=rates, rate_sigma=rate_sigma)
    grid_only = profile_mass(counts, gt, rates=rates, rate_sigma=rate_sigma, refine=False)
    for i in range(3):
        ref = minuit_profile(counts[i], gt, rates, rate_sigma, refine=True)
        np.testing.assert_allclose(fast.deviance[i], ref, rtol=0, atol=1e-6)
        ref0 = minuit_profile(counts[i], gt, rates, rate_sigma, refine=False)
        np.testing.assert_allclose(grid_only.deviance[i], ref0, rtol=0, atol=1e-6)
    if rate_sigma is not None:  # the nuisance can only lower the deviance
        exact = profile_mass(counts, gt, rates=rates).deviance
        assert np.all(fast.deviance <= exact + 1e-9)
        assert np.all(fast.norm != rates[5])


def test_no_pile_up_of_fitted_masses_at_grid_nodes() -> None:
    """Toys at true masses uniform in ln m: the fraction of fitted masses within 0.2 % of a
    node is the smooth expectation (the fraction of ln m within 0.002 of a node), within a
    4-sigma binomial tolerance.  The old linear interpolation gave 22-42 %."""
    masses = np.geomspace(0.05, 2.0, 10)
    g = ShapeGrid.from_templates(synthetic_grid_templates("km", masses, bins=(12, 10)), "E,pt")
    rng = np.random.default_rng(12)
    u = np.log(masses)
    n_toys = 1500
    u_true = rng.uniform(u[1], u[-2], n_toys)
    counts = np.array([rng.poisson(asimov(g, float(np.exp(x)), 300.0)) for x in u_true])
    fit = profile_mass(counts.astype(float), g)
    uf = np.log(fit.mass)
    inside = (uf > u[0] + 0.01) & (uf < u[-1] - 0.01)
    near = np.min(np.abs(uf[inside, None] - u[None, :]), axis=1) < 0.002
    k, n = int(near.sum()), int(inside.sum())
    p_exp = 2 * 0.002 * (u.size - 2) / (u[-2] - u[1])  # interior nodes over the true range
    lo, hi = binom.ppf([3e-5, 1 - 3e-5], n, p_exp)
    print(f"{k}/{n} fitted masses within 0.2% of a node; smooth expectation {p_exp * n:.1f}")
    assert lo <= k <= hi


def test_no_floor_decides_a_result() -> None:
    """Shipped templates, km vs cr at 61 MeV and km vs md at 1 GeV (E,pt; ~40-80 % of the
    template bins empty): the Barlow-Beeston statistic (Asimov and toys) is the same for
    floors 1e-12 and 1e-6 (a factor 1e6) to 1e-9, while the plain Poisson deviance moves with
    the floor by 1e8 times that (issue 11, 1e5-event templates: 1.58 vs 0.65 at 50 events; the
    1e6-event templates, fewer empty bins: 0.42 vs 0.21 at 100 events)."""
    from darkmoments.stats.shapes import load_grid

    gk = load_grid("km", "ldmx-phase2", "E,pt")
    rng = np.random.default_rng(4)
    for alt, m in (("cr", 0.0607), ("md", 1.0)):
        ga = load_grid(alt, "ldmx-phase2", "E,pt")
        data = np.vstack([asimov(gk, m, 100.0), rng.poisson(asimov(gk, m, 100.0), (20, gk.n_bins))])

        def t(data=data, ga=ga, **kw):
            return profile_mass(data, ga, **kw).deviance - profile_mass(data, gk, **kw).deviance

        bb = [t(p_floor=f) for f in (1e-12, 1e-6)]
        np.testing.assert_allclose(bb[0], bb[1], rtol=0, atol=1e-9)
        plain = [t(p_floor=f, mc_stat=False) for f in (1e-12, 1e-6)]
        print(
            f"km vs {alt} at {m} GeV, 100 events: t_A BB {bb[0][0]:.4f}, plain "
            f"{plain[0][0]:.4f} (floor 1e-12) / {plain[1][0]:.4f} (1e-6)"
        )
        if alt == "cr":
            assert abs(plain[0][0] - plain[1][0]) > 0.1
