"""The one shape interpolation: no spline ringing into bins empty at both ends of a segment.

The not-a-knot spline through every grid node rings: without the empty-segment rule it puts
~1e-5 of the probability (<= ~2e-6 per bin) into bins that are empty at both neighbouring
grid masses.  ``interpolate_bins`` (templates.core) sets those to 0, and ShapeGrid.shape /
variance, the fast path's SplineTables and templates.interpolate all use it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from darkmoments import templates
from darkmoments.stats.shapes import ShapeGrid, load_grid
from darkmoments.templates.core import empty_segments, interpolate_bins, segment_of

EXP = "ldmx-phase2"


def _tables_shape(grid: ShapeGrid, u: np.ndarray) -> np.ndarray:
    """The fast path's interpolated shape (SplineTables) at u = ln m."""
    tab = grid.spline
    seg = tab.segment(u)
    t = (u - tab.knots[seg])[:, None]
    c = tab.coef[:, seg, :]
    raw = ((c[0] * t + c[1]) * t + c[2]) * t + c[3]
    return np.maximum(raw, 0.0) * (tab.total(u) / tab.clipped(u))[:, None]


def test_a_bin_populated_far_away_stays_zero_between_empty_nodes() -> None:
    """Synthetic 6-node grid, bin 0 populated only at the first two nodes.

    The plain spline of bin 0 rings (positive and negative lobes) over the whole grid; with
    the rule it is the spline on the first segment and on the second (one end populated) and
    exactly 0 from the third segment on, also in the variances.
    """
    masses = np.geomspace(0.01, 1.0, 6)
    u = np.log(masses)
    probs = np.full((6, 4), 0.25)
    probs[:, 0] = [0.4, 0.2, 0.0, 0.0, 0.0, 0.0]
    probs[:, 1:] = ((1.0 - probs[:, 0]) / 3.0)[:, None]
    var = probs * (1 - probs) / 1e4
    g = ShapeGrid("km", masses, probs, var)
    assert empty_segments(probs)[:, 0].tolist() == [False, False, True, True, True]
    from scipy.interpolate import CubicSpline

    plain = CubicSpline(u, probs[:, 0], bc_type="not-a-knot")
    for x in np.linspace(u[0], u[-1], 101)[1:-1]:
        m = math.exp(x)
        p, v = g.shape(m), g.variance(m)
        assert p.sum() == pytest.approx(1.0, abs=1e-14)
        assert np.all(p >= 0)
        if segment_of(u, x) >= 2:
            assert p[0] == 0.0
            assert v[0] == 0.0
        else:  # the spline itself (clipped, renormalised over all bins)
            raw = np.clip(g.weights(m) @ probs, 0.0, None)
            assert p[0] == pytest.approx(max(float(plain(x)), 0.0) / raw.sum(), abs=1e-15)
    # ringing of the plain spline is real on the empty segments (what the rule removes)
    xs = np.linspace(u[2], u[-1], 200)
    assert np.max(np.abs(plain(xs))) > 1e-3
    # the fast path's tables are the same function
    xs = np.linspace(u[0], u[-1], 57)
    ref = np.array([g.shape(math.exp(x)) for x in xs])
    np.testing.assert_allclose(_tables_shape(g, xs), ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize("obs", ["E,pt", "pt"])
def test_shipped_grid_off_grid_shapes_leave_empty_segments_empty(obs: str) -> None:
    g = load_grid("km", EXP, obs)
    emp = empty_segments(g.probs)
    rng = np.random.default_rng(11)
    us = rng.uniform(np.log(g.masses[0]), np.log(g.masses[-1]), 60)
    fast = _tables_shape(g, us)
    for x, pf in zip(us, fast, strict=True):
        j = segment_of(np.log(g.masses), x)
        p = g.shape(math.exp(x))
        assert np.all(p[emp[j]] == 0.0)
        assert np.all(g.variance(math.exp(x))[emp[j]] == 0.0)
        # occupied bins: only those populated at one of the two neighbouring nodes
        assert np.all((p > 0) <= ~emp[j])
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(pf, p, rtol=0, atol=1e-15)


def test_templates_load_uses_the_same_rule() -> None:
    """templates.load (2D) zeroes the same bins: none outside the neighbours' support."""
    g = load_grid("km", EXP, "E,pt")
    for m in (0.0031, 0.0673, 1.4624):
        t = templates.load("km", m, EXP)
        j = segment_of(np.log(g.masses), math.log(m))
        support = (g.probs[j] > 0) | (g.probs[j + 1] > 0)
        p = np.asarray(t.hist.values(), dtype=float).ravel()
        assert np.count_nonzero(p[~support]) == 0
        np.testing.assert_allclose(p, g.shape(m), rtol=1e-9, atol=1e-15)


def test_interpolate_bins_checks_shapes() -> None:
    with pytest.raises(ValueError, match="one weight per node"):
        interpolate_bins(np.ones((3, 2)), np.ones((3, 2)), [0.0, 1.0, 2.0], 0.5, [1.0, 0.0])
    with pytest.raises(ValueError, match="one row of bins per node"):
        empty_segments(np.ones(0))


def test_one_rate_interpolation_for_setups_and_fits() -> None:
    """ShapeGrid.rate_of is ShapeGrid.rate's spline, the fits' ln R spline, and the true rate
    of a tied setup (no second, linear log-log scheme)."""
    from darkmoments.stats.fast import _lnrate_spline
    from darkmoments.stats.rate import coupling_setup

    masses = np.geomspace(0.01, 1.0, 7)
    u = np.log(masses)
    ln_r = 2.0 - 0.7 * u + 0.3 * u**2 - 0.05 * u**3  # ln R cubic in ln m: reproduced exactly
    probs = np.full((7, 3), 1.0 / 3.0)
    g = ShapeGrid("km", masses, probs, probs / 1e4, n1=np.exp(ln_r))
    spline = _lnrate_spline(g, np.exp(ln_r))
    for m in (0.013, 0.05, 0.2, 0.77):
        x = math.log(m)
        exact = math.exp(2.0 - 0.7 * x + 0.3 * x**2 - 0.05 * x**3)
        assert g.rate(m) == pytest.approx(exact, rel=1e-12)
        assert g.rate_of(3.0 * np.exp(ln_r), m) == pytest.approx(3.0 * exact, rel=1e-12)
        assert float(np.exp(spline(x))) == pytest.approx(g.rate(m), rel=1e-12)
    assert g.rate_of(np.exp(ln_r), float(masses[3])) == math.exp(ln_r[3])  # a node: exact
    alt = ShapeGrid("md", masses, probs * [1.0, 1.1, 0.9], probs / 1e4, n1=np.exp(ln_r))
    s = coupling_setup(g, alt, 0.2, true_coupling=1e-3, alt_coupling=1e-2)
    assert s.n_events == pytest.approx(1e-6 * g.rate(0.2), rel=1e-12)
    with pytest.raises(ValueError, match="one per grid mass"):
        g.rate_of(np.ones(3), 0.1)
    with pytest.raises(ValueError, match="> 0"):
        g.rate_of(-np.ones(7), 0.1)
