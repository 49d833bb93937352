"""studies/detector_level.py --fast end to end: outputs, yields and a physics sanity number.

The fast run builds tiny truth- and detector-level templates itself (3 models, 6 masses, 3000
events each) and generates 3000 detector-level events per (model, mass) for the kinematics;
about 45 s of CPU, minutes on a loaded machine: ``slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

TABLES = (
    "reach.csv",
    "degeneracy_km1_md.csv",
    "degeneracy_surface_km_md.csv",
    "degeneracy_pairs.csv",
    "nsigma.csv",
    "kinematics.csv",
    "kinematics_hist.csv",
)
FIGURES = ("reach", "degeneracy_km_md", "degeneracy_pairs", "nsigma", "kinematics")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("detector_level")
    subprocess.run(
        [sys.executable, str(ROOT / "studies" / "detector_level.py"), "--fast", "--out", str(d)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    return d


def test_outputs_exist(out: Path) -> None:
    for name in TABLES:
        assert len(pd.read_csv(out / name)) > 0, name
    for name in FIGURES:
        for suffix in ("png", "pdf"):
            assert (out / f"{name}.{suffix}").stat().st_size > 1000, (name, suffix)
    text = (out / "summary.md").read_text()
    assert text.startswith("# Truth vs detector level: ldmx-phase2")
    assert "FAST smoke run" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fast"] is True
    assert set(summary["km1_md_q"]) == {
        f"{lvl}:{o}" for lvl in ("truth", "detector") for o in ("E", "pt", "E,pt")
    }


def test_km_10mev_detector_pt_above_truth(out: Path) -> None:
    """Multiple scattering in the target (~2.7 MeV per plane at half of 0.1 X0, Highland) adds
    p_T comparable with km's truth median at 10 MeV (~2.6 MeV): the detector-level median is
    clearly above, i.e. the 95% order-statistic intervals of the two medians do not overlap."""
    k = pd.read_csv(out / "kinematics.csv").set_index(["model", "mass"])
    r = k.loc[("km", 0.01)]
    assert r.median_pt_truth_lo <= r.median_pt_truth <= r.median_pt_truth_hi
    assert r.median_pt_detector_lo > r.median_pt_truth_hi
    assert 1e-3 < r.median_pt_truth < 5e-3  # GeV: truth median ~2.6 MeV at 8 GeV


def test_reach_yields_consistent(out: Path) -> None:
    """y_det / y_truth = 1 / efficiency, efficiency = <sigma>/sigma(E0) x selection, in (0, 1)."""
    r = pd.read_csv(out / "reach.csv")
    assert set(r.model) == {"km", "md", "cr"}
    np.testing.assert_allclose(r.y_ratio * r.efficiency, 1.0, rtol=1e-9)
    np.testing.assert_allclose(r.efficiency, r.sigma_ratio * r.selection_efficiency, rtol=1e-9)
    assert ((r.efficiency > 0) & (r.efficiency < 1)).all()
    assert ((r.sigma_ratio > 0.5) & (r.sigma_ratio <= 1.0 + 1e-9)).all()


def test_nsigma_ordering(out: Path) -> None:
    """t_A grows at most linearly with the events (Barlow-Beeston saturates it), so
    N(5 sigma) / N(3 sigma) >= 25 / 9 wherever both exist; both levels for every pair."""
    n = pd.read_csv(out / "nsigma.csv")
    ok = n.n_3sigma.notna() & n.n_5sigma.notna()
    assert ok.any()
    assert (n.n_5sigma[ok] / n.n_3sigma[ok] >= 25.0 / 9.0 * (1 - 1e-6)).all()
    assert set(n.level) == {"truth", "detector"}
    assert n.groupby(["true", "alt"])["level"].nunique().eq(2).all()
