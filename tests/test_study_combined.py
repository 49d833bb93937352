"""studies/combined.py --fast end to end (issue 14): outputs, the statistics' structure, the
toy check and ``--replot``.

The fast run builds small M3 Phase 2 templates (5 masses, 2e4 events) and computes 28 rows
(four pairs at 0.1 GeV; LDMX II, M3 2 and both) with identity tests of 50 resamples: about
2.3 CPU minutes (140 s wall at load 2-4), more on a loaded machine: ``slow``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "combined.py"
FIGURES = ("k5sigma_shape", "k5sigma_ratio", "k5sigma_shape_rate", "k5sigma_mass_km_am")
ENV = {**os.environ, "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("combined")
    res = subprocess.run(
        [sys.executable, str(STUDY), "--fast", "--out", str(d)],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "toy check km vs md" in res.stdout
    return d


@pytest.fixture(scope="module")
def table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "combined.csv")


def test_outputs(out: Path, table: pd.DataFrame) -> None:
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fast"] is True
    assert summary["coupling_factor"] == 1.0
    assert summary["rows"] == len(table) == 28
    assert not (out / "checkpoint").exists()  # removed once every output is written
    text = (out / "summary.md").read_text()
    assert text.startswith("# Which pairs become separable with what")
    for section in ("## shape", "## ratio", "## shape+rate"):
        assert section in text
    for name in FIGURES:
        for suffix in ("png", "pdf"):
            assert (out / f"{name}.{suffix}").stat().st_size > 1000, (name, suffix)


def test_km_cr_shapes_never_separate(table: pd.DataFrame) -> None:
    """sigma_cr = m^4 sigma_km at every energy and lepton: identical shapes and rate ratios,
    so shape and ratio rows are template-limited, while their relic-target rates (cr about 4x
    km here) separate them well within LDMX II's nominal running."""
    kc = table[(table["true"] == "km") & (table["alt"] == "cr")]
    assert set(kc["experiments"]) == {"ldmx-phase2", "m3-phase2", "ldmx-phase2+m3-phase2"}
    free = kc[kc["statistic"].isin(["shape", "ratio"])]
    assert len(free) == 4
    assert free["template_limited"].all()
    assert free["k_5sigma_used"].isna().all()
    rate = kc[(kc["statistic"] == "shape+rate") & (kc["experiments"] == "ldmx-phase2")]
    assert float(rate["k_5sigma_used"].iloc[0]) < 1.0


def test_luminosity_scaling_is_sublinear(table: pd.DataFrame) -> None:
    """t_A(k) is a minimum over nuisances of k A(theta) + B(theta) with B >= 0, B(nominal) = 0
    (Asimov data and predictions both scale with k; the template and rate constraints do
    not): concave with t_A(0) = 0, so k(5 sigma) / k(3 sigma) >= 25/9, with equality for a
    statistic linear in k (the root finding is to 0.1 % in k, K_XTOL)."""
    both = table.dropna(subset=["k_3sigma", "k_5sigma"])
    assert len(both) >= 15
    ratio = both["k_5sigma"] / both["k_3sigma"]
    assert (ratio >= 25 / 9 * (1 - 2.5e-3)).all(), both[ratio < 25 / 9 * (1 - 2.5e-3)]
    # km vs md with LDMX II alone: shapes with 1e6-event templates, nearly linear in k
    row = both[
        (both["true"] == "km")
        & (both["alt"] == "md")
        & (both["experiments"] == "ldmx-phase2")
        & (both["statistic"] == "shape")
    ].iloc[0]
    assert row["k_5sigma"] / row["k_3sigma"] == pytest.approx(25 / 9, rel=0.02)
    assert row["k_5sigma"] < 1.0  # km and md separate by shape within the nominal running


def test_statistics_are_ordered(table: pd.DataFrame) -> None:
    """Each statistic is the previous fit with a constraint added (docs/physics.md 5.10), so
    t_A(shape) <= t_A(ratio) <= t_A(shape + rate) at the same true point."""
    keys = ["true", "alt", "mass", "experiments"]
    t = table.pivot_table(index=keys, columns="statistic", values="t_asimov")
    both = t.dropna(subset=["shape", "ratio", "shape+rate"])
    assert len(both) >= 4
    tol = 1e-6 * both["shape+rate"]
    assert (both["shape"] <= both["ratio"] + tol).all()
    assert (both["ratio"] <= both["shape+rate"] + tol).all()


def test_toy_check_confirms_asimov(out: Path) -> None:
    """The printed Asimov Z of the toy-check point is confirmed by importance-sampled toys,
    and the plain toys' p-value (a bound when no toy exceeds t) is consistent with them."""
    c = json.loads((out / "summary.json").read_text())["toy_check"]
    z_err = c["z_importance_err"]
    assert math.isfinite(z_err)
    assert 0 < z_err < 0.1
    # the asymptotic formula is accurate to a few tenths of a sigma at Z ~ 4
    assert abs(c["z_importance"] - c["z_asimov"]) < 0.25 + 3 * z_err
    if c["z_is_bound"]:
        assert c["p_importance"] <= c["p_value"]
    else:
        sd = math.sqrt(c["p_value"] * (1 - c["p_value"]) / c["n_toys"])
        assert abs(c["p_value"] - c["p_importance"]) < 3 * sd + 3 * c["p_importance_err"]


def test_replot_rewrites_summary_and_figures(out: Path, tmp_path: Path) -> None:
    d = tmp_path / "replot"
    d.mkdir()
    for name in ("combined.csv", "summary.json"):
        (d / name).write_bytes((out / name).read_bytes())
    res = subprocess.run(
        [sys.executable, str(STUDY), "--out", str(d), "--replot"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert res.returncode == 0, res.stderr
    assert (d / "summary.md").read_text() == (out / "summary.md").read_text()
    for name in FIGURES:
        assert (d / f"{name}.pdf").stat().st_size > 1000
    empty = tmp_path / "empty"
    empty.mkdir()
    res = subprocess.run(
        [sys.executable, str(STUDY), "--out", str(empty), "--replot"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert res.returncode == 2
    assert res.stderr.strip().startswith("combined.py: error: --replot needs")
    assert "Traceback" not in res.stderr
    assert np.isfinite(pd.read_csv(d / "combined.csv")["t_asimov"]).all()
