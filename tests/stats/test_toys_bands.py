"""Template-statistics bands of N(Z sigma) and the identity p-value alone.

Exact synthetic shapes are the truth; "MC templates" are drawn from them (multinomial, N_MC
= 5000 per node, :func:`resample_grid`), so the true N(5 sigma) of the likelihood is known.
Template noise raises t_A, so N(5 sigma) from MC templates is biased low; the basic-bootstrap
band of :func:`events_with_bands` (evaluated at N(5 sigma)) removes the bias to first order
and covers the true value in about 68 % of the MC sets.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from darkmoments.stats import ShapeGrid
from darkmoments.stats.calibration import bootstrap_statistics, resample_grid
from darkmoments.stats.toys import (
    DiscriminationSetup,
    EventsForSignificance,
    alternative_point,
    events_for_significance,
    events_with_bands,
    identity_p_value,
    run_discrimination,
)
from darkmoments.testing.synthetic import synthetic_grid_templates

MASSES = np.geomspace(0.05, 2.0, 8)
N_MC = 5000.0
K_SETS = 30


def _grid(model: str, n_mc: float = N_MC, obs: str = "E,pt") -> ShapeGrid:
    ts = synthetic_grid_templates(model, MASSES, bins=(10, 8), n_mc=n_mc)
    return ShapeGrid.from_templates(ts, obs)


def _with_events(s: DiscriminationSetup, n: float) -> DiscriminationSetup:
    return DiscriminationSetup(s.true_grid, s.alt_grid, s.true_mass, n)


def test_band_of_n5sigma_covers_the_truth_and_removes_the_noise_bias() -> None:
    gk, gm = _grid("km"), _grid("md")
    n_true = events_for_significance(DiscriminationSetup(gk, gm, 1.0, 30.0), 5.0)
    assert n_true is not None
    rng = np.random.default_rng(2024)
    nodes = np.arange(MASSES.size)
    raw, mids, covered = [], [], 0
    for k in range(K_SETS):
        s = DiscriminationSetup(
            resample_grid(gk, rng, nodes), resample_grid(gm, rng, nodes), 1.0, 30.0
        )
        (e,) = events_with_bands(s, (5.0,), n_resamples=30, seed=k)
        assert e.n is not None
        assert e.band is not None
        assert None not in e.band
        lo, hi = e.band
        assert lo < hi
        assert alternative_point(_with_events(s, e.n))[2] == pytest.approx(25.0, rel=1e-6)
        assert 0.5 < e.slope <= 1.0 + 1e-6  # Barlow-Beeston: t_A grows at most linearly
        raw.append(math.log(e.n))
        mids.append(0.5 * (math.log(lo) + math.log(hi)))
        covered += lo <= n_true <= hi
    raw_a, mid_a = np.array(raw), np.array(mids)
    sd = mid_a.std(ddof=1) / math.sqrt(K_SETS)
    print(
        f"N5 true {n_true:.1f}; MC templates: median raw {math.exp(np.median(raw_a)):.1f}, band "
        f"mid {math.exp(mid_a.mean()):.1f}; coverage {covered}/{K_SETS}"
    )
    # template noise makes the raw N(5 sigma) optimistic, far beyond its spread
    assert raw_a.mean() < math.log(n_true) - 5 * raw_a.std(ddof=1) / math.sqrt(K_SETS)
    # the band's centre is unbiased within 3 standard errors (first-order correction: allow
    # the second-order residual of 10 % of the raw bias as well)
    bias_raw = math.log(n_true) - raw_a.mean()
    assert abs(mid_a.mean() - math.log(n_true)) < 3 * sd + 0.1 * bias_raw
    # 16-84 % band: coverage 0.68 within 3 binomial standard deviations
    p = covered / K_SETS
    assert abs(p - 0.68) < 3 * math.sqrt(0.68 * 0.32 / K_SETS)


def test_events_with_bands_unreachable_and_tied() -> None:
    gk, gm = _grid("km"), _grid("md")
    # identical shapes (km and cr), no MC noise: t_A = 0, no Z is reached, no band
    same = DiscriminationSetup(_grid("km", 1e12), _grid("cr", 1e12), 1.0, 30.0)
    assert events_with_bands(same, (3.0, 5.0), n_resamples=10) == (
        EventsForSignificance(3.0, None, None, None, None),
        EventsForSignificance(5.0, None, None, None, None),
    )
    # tied rates: the band is evaluated at the luminosity-scaled N(Z sigma) too
    rates_t = np.full(MASSES.size, 30.0)
    rates_a = np.full(MASSES.size, 45.0)
    tied = DiscriminationSetup(gk, gm, 1.0, 30.0, rates_t, rates_a)
    e3, e5 = events_with_bands(tied, n_resamples=10, seed=3)
    assert e3.n is not None
    assert e5.n is not None
    assert e3.n < e5.n
    assert e5.n == pytest.approx(events_for_significance(tied, 5.0), rel=1e-12)
    assert e5.band is not None
    assert e5.band[0] is not None


def test_bootstrap_statistics_and_identity_p_value() -> None:
    gk, gm = _grid("km"), _grid("md")
    s = DiscriminationSetup(gk, gm, 1.0, 30.0)
    t = bootstrap_statistics(
        gk, gm, (1.0,), lambda a, b: np.array([a.probs.sum(), b.probs.sum()]), n_resamples=4
    )
    assert t.shape == (4, 2)
    np.testing.assert_allclose(t, MASSES.size, rtol=1e-12)  # every redrawn row sums to 1
    # clearly different shapes: no noise-only t reaches t_A (its mean ~0.7 at N_MC = 5000)
    p, noise = identity_p_value(s, n_resamples=20, seed=1)
    assert p == pytest.approx(1 / 21)
    assert 0 < noise < alternative_point(s)[2]
    # identical shapes (km, cr): t_A is itself noise, p is not small
    same = DiscriminationSetup(gk, _grid("cr"), 1.0, 30.0)
    assert identity_p_value(same, n_resamples=20, seed=1)[0] > 0.05


def test_run_discrimination_bands_are_those_at_n5sigma() -> None:
    gk, gm = _grid("km"), _grid("md")
    s = DiscriminationSetup(gk, gm, 1.0, 30.0)
    r = run_discrimination(s, 20, seed=5, identity_resamples=20, band_resamples=12)
    (e3, e5) = events_with_bands(s, n_resamples=12, seed=5)
    assert r.n_5sigma == pytest.approx(e5.n, rel=1e-12)
    assert r.n_5sigma_band == pytest.approx(e5.band, rel=1e-12)
    assert r.n_3sigma_band == pytest.approx(e3.band, rel=1e-12)
