"""The combined shape-identity null: p-values of identical shapes are not small.

Two experiments (8 and 15 GeV synthetic km shapes, sparse: N_MC = 3000 events per node in
20 x 16 and 16 x 12 bins); two "models" are both drawn from the same truth in each
experiment, so "the shapes are identical" is true.  :func:`~darkmoments.stats.combined.
combined_shape_identity` must give p-values that are uniform or conservative.  Before it
shared the single-experiment null (the pooled shape with POOL_PRIOR pseudo-events of
:mod:`darkmoments.stats.calibration`) it used the plain pooled shape, which is
anti-conservative with sparse templates (bins empty in both templates are never populated
by the resamples).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from darkmoments.stats import ShapeGrid
from darkmoments.stats.calibration import resample_grid
from darkmoments.stats.combined import CombinedHypothesis, CombinedSetup, combined_shape_identity
from darkmoments.testing.synthetic import synthetic_grid_templates

MASSES = np.geomspace(0.05, 2.0, 8)
N_PAIRS, B = 60, 40


def _truth(beam: float, bins: tuple[int, int]) -> ShapeGrid:
    tpls = synthetic_grid_templates("km", MASSES, bins=bins, beam_energy=beam, n_mc=3000.0)
    return ShapeGrid.from_templates(tpls, "E,pt")


@pytest.mark.slow
def test_combined_identity_p_values_of_identical_sparse_templates() -> None:
    truths = (_truth(8.0, (20, 16)), _truth(15.0, (16, 12)))
    rng = np.random.default_rng(11)
    nodes = np.arange(MASSES.size)
    ps = []
    for r in range(N_PAIRS):
        a = tuple(resample_grid(t, rng, nodes) for t in truths)
        b = tuple(resample_grid(t, rng, nodes) for t in truths)
        b = tuple(ShapeGrid("cr", g.masses, g.probs, g.variances, g.n1, g.observables) for g in b)
        setup = CombinedSetup(
            ("e8", "mu15"),
            CombinedHypothesis("km", a),
            CombinedHypothesis("cr", b),
            float(MASSES[3]),
            (40.0, 30.0),
            refine=False,
        )
        ps.append(combined_shape_identity(setup, n_resamples=B, seed=r).p_value)
    p = np.array(ps)
    rates = {lv: float(np.mean(p <= lv)) for lv in (0.05, 0.1)}
    print(f"mean p {p.mean():.3f}, rejection rates {rates}")
    # uniform p: mean 1/2 (sd 0.289 / sqrt(n)), or larger (conservative); rejection rates at
    # most nominal + 3 binomial sd
    assert p.mean() > 0.5 - 3 * 0.289 / math.sqrt(N_PAIRS)
    for level in (0.05, 0.1):
        assert np.mean(p <= level) < level + 3 * math.sqrt(level * (1 - level) / N_PAIRS)
