"""Template MC noise of the degeneracy q (:func:`degeneracy_noise`), against a known truth.

Exact synthetic shapes (km true, md alternative, (E, p_T), 10 x 8 bins) give the true best-fit
q of the likelihood; "MC templates" are drawn from them (N_MC = 5000 per node).  Template
noise raises q (by ~1-2 here); the bias-corrected q of the basic bootstrap is unbiased and
its 16-84 % band covers the truth in ~68 % of the MC sets.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from darkmoments.stats import ShapeGrid
from darkmoments.stats.calibration import resample_grid
from darkmoments.stats.degeneracy import degeneracy_noise
from darkmoments.testing.synthetic import synthetic_grid_templates

MASSES = np.geomspace(0.05, 2.0, 8)
TRUE_MASSES = np.array([0.3, 1.0])  # off the grid
K_SETS, B = 24, 40


def _grid(model: str, obs: str, n_mc: float = 5000.0) -> ShapeGrid:
    return ShapeGrid.from_templates(
        synthetic_grid_templates(model, MASSES, bins=(10, 8), n_mc=n_mc), obs
    )


def test_bias_corrected_q_is_unbiased_and_its_band_covers_the_truth() -> None:
    gk, gm = _grid("km", "E,pt"), _grid("md", "E,pt")
    truth = degeneracy_noise(gk, gm, 100.0, true_masses=TRUE_MASSES, n_resamples=2).best_alt_q
    rng = np.random.default_rng(7)
    nodes = np.arange(MASSES.size)
    raw, cor, covered = [], [], 0
    for k in range(K_SETS):
        n = degeneracy_noise(
            resample_grid(gk, rng, nodes),
            resample_grid(gm, rng, nodes),
            100.0,
            true_masses=TRUE_MASSES,
            n_resamples=B,
            seed=k,
        )
        assert np.all(n.band_lo <= n.corrected)
        assert np.all(n.corrected <= n.band_hi)
        np.testing.assert_allclose(n.bias, n.q_boot.mean(axis=0) - n.best_alt_q, rtol=1e-12)
        raw.append(n.best_alt_q)
        cor.append(n.corrected)
        covered += int(np.sum((n.band_lo <= truth) & (truth <= n.band_hi)))
    raw_a, cor_a = np.array(raw), np.array(cor)
    se = cor_a.std(axis=0, ddof=1) / math.sqrt(K_SETS)
    print(
        f"q true {truth}; raw mean {raw_a.mean(axis=0)}, corrected mean {cor_a.mean(axis=0)} "
        f"(se {se}); coverage {covered}/{2 * K_SETS}"
    )
    assert np.all(raw_a.mean(axis=0) > truth + 3 * se)  # noise raises q
    assert np.all(np.abs(cor_a.mean(axis=0) - truth) < 3 * se)
    p, n_trials = covered / (2 * K_SETS), 2 * K_SETS
    assert abs(p - 0.68) < 3 * math.sqrt(0.68 * 0.32 / n_trials)


def test_degenerate_pair_noise_floor_in_pt() -> None:
    """p_T alone: the synthetic km and md are degenerate (true q ~ 1e-5); the noise floor
    (bias) of q at N = 100 is of order N x bins / N_MC, and the corrected q is consistent
    with 0 within its band."""
    gk, gm = _grid("km", "pt"), _grid("md", "pt")
    truth = degeneracy_noise(gk, gm, 100.0, true_masses=TRUE_MASSES, n_resamples=2).best_alt_q
    assert np.all(truth < 1e-3)
    rng = np.random.default_rng(11)
    nodes = np.arange(MASSES.size)
    n = degeneracy_noise(
        resample_grid(gk, rng, nodes),
        resample_grid(gm, rng, nodes),
        100.0,
        true_masses=TRUE_MASSES,
        n_resamples=B,
        seed=1,
    )
    # 8 p_T bins, two templates of 5000 events: 100 * 2 * 8 / 5000 = 0.32 before profiling
    assert np.all((n.bias > 0.02) & (n.bias < 0.32))
    assert np.all(n.band_lo < 0.05)
    with pytest.raises(ValueError, match="share observables"):
        degeneracy_noise(gk, _grid("md", "E"), 100.0, true_masses=TRUE_MASSES)
