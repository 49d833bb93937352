"""Figures of statistics results: they draw what they are given and write atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from darkmoments.models import get_model
from darkmoments.plotting import plot_discrimination, plot_reach, save_figure
from darkmoments.stats import DiscriminationSetup, ShapeGrid, run_discrimination
from darkmoments.stats.synthetic import synthetic_grid_templates


def test_discrimination_and_reach_figures(tmp_path: Path) -> None:
    ms = np.geomspace(0.1, 2.0, 6)
    gk = ShapeGrid.from_templates(synthetic_grid_templates("km", ms, bins=(8, 6)), "E")
    gm = ShapeGrid.from_templates(synthetic_grid_templates("md", ms, bins=(8, 6)), "E")
    res = run_discrimination(DiscriminationSetup(gk, gm, 1.0, 40.0), 300, seed=2)
    fig = plot_discrimination(res)
    ax = fig.axes[0]
    # two histograms in the models' paper colours and the median line at the toys' median
    colours = {get_model("km").color, get_model("md").color}
    import matplotlib.colors as mc

    drawn = {mc.to_hex(p.get_edgecolor()) for p in ax.patches} | {
        mc.to_hex(line.get_color()) for line in ax.lines
    }
    assert {mc.to_hex(c) for c in colours} <= drawn
    vlines = [line for line in ax.lines if len(set(line.get_xdata())) == 1]
    assert any(np.isclose(line.get_xdata()[0], res.median_t_true) for line in vlines)
    out = save_figure(fig, tmp_path / "disc.pdf")
    assert out.read_bytes()[:4] == b"%PDF"
    rows = {
        "km": [
            {"mass": 0.1, "coupling": 1e-4, "y": 1e-10},
            {"mass": 1.0, "coupling": 1e-3, "y": 1e-9},
        ]
    }
    fig2 = plot_reach(rows)
    line = fig2.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_ydata(), [1e-10, 1e-9])
    with pytest.raises(ValueError, match=r"\.png, \.pdf or \.svg"):
        save_figure(fig2, tmp_path / "x.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disc.pdf"]
