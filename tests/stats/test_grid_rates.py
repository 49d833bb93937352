"""The rates of a ShapeGrid are the yields of signal_yield at unit coupling, for thin targets
(LDMX) and thick ones (M3: times the depth factor f = <sigma>/sigma(E0) < 1), at both levels."""

from __future__ import annotations

import numpy as np
import pytest

from darkmoments import signal_yield
from darkmoments.experiments import get_experiment
from darkmoments.stats.inputs import load_grid_at
from darkmoments.stats.shapes import load_grid


@pytest.mark.parametrize("level", ["truth", "detector"])
def test_thin_target_rates_are_the_yields(level: str) -> None:
    g = load_grid_at("md", "ldmx-phase2", "E,pt", level=level)
    for i in (0, 17, 39):
        y = signal_yield("md", float(g.masses[i]), 1.0, "ldmx-phase2", level=level)
        np.testing.assert_allclose(g.n1[i], y.n_signal, rtol=1e-12)


def test_thick_target_rates_carry_the_depth_factor() -> None:
    """M3 (50 X0 W): n1 = the thin-target formula x f, f from 9 masses interpolated, equal
    to signal_yield (f computed at the mass itself) to the interpolation's accuracy."""
    exp = get_experiment("m3-phase2")
    g = load_grid("km", "m3-phase2", "E,pt")
    assert g.n1 is not None
    for i in (5, 30):
        m = float(g.masses[i])
        y = signal_yield("km", m, 1.0, "m3-phase2")
        f = float(exp.depth_factor("km", m))
        assert 0.9 < f < 1.0  # the muon loses 3.7 % of its energy in the target
        np.testing.assert_allclose(g.n1[i], y.n_signal, rtol=2e-3)
        # and not the thin-target number (which is higher by 1/f)
        assert g.n1[i] < y.n_signal / f * (1 - 0.5 * (1 - f))
