"""CLI ``darkmoments relic``, the relic study in fast mode and the relic benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from darkmoments.cli import main
from darkmoments.relic import target

ROOT = Path(__file__).resolve().parents[2]


def test_cli_single_mass_json() -> None:
    res = CliRunner().invoke(main, ["relic", "--model", "km", "--mass", "0.1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    ref = target("km", 0.1)
    assert out["coupling"] == pytest.approx(ref.coupling, rel=1e-12)
    assert out["y"] == pytest.approx(ref.y, rel=1e-12)
    assert out["omega_h2"] == pytest.approx(0.120, rel=1e-4)
    # one key per quantity, as in xsec/generate/yield/workspace: the A' mass is "mass" (GeV)
    assert out["mass"] == 0.1
    assert out["model"] == "km"
    assert "m_ap" not in out
    assert out["m_chi"] == pytest.approx(0.1 / 3, rel=1e-12)


def test_cli_scan_hadrons_option_reaches_the_scan(tmp_path: Path) -> None:
    """--hadrons with --scan used to be ignored (km always got the R-ratio)."""
    tables = {}
    for had in ("auto", "none"):
        out = tmp_path / had
        res = CliRunner().invoke(
            main,
            ["relic", "--model", "km", "--scan", "--n-masses", "2", "--m-min", "0.5",
             "--m-max", "1.5", "--hadrons", had, "--out", str(out)],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        tables[had] = pd.read_csv(out / "relic_targets.csv")
    ref = target("km", [0.5, 1.5], hadrons="none").y
    assert tables["none"].y.to_numpy() == pytest.approx(ref, rel=1e-7)  # CSV: 8 digits
    assert (tables["none"].y > tables["auto"].y).all()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--model", "km", "--mass", "0.001"], "2 m_e"),
        (["--model", "km", "--mass", "0.1", "--ratio", "1.5"], "mass_ratio"),
        (["--model", "km", "--mass", "-1"], "--mass"),
        (["--model", "all", "--mass", "0.1"], "--mass-scan"),
        (["--model", "md", "--mass", "0.1", "--hadrons", "rratio"], "only valid for km"),
        (["--model", "km"], "--mass"),
    ],
)
def test_cli_bad_input(args: list[str], match: str) -> None:
    res = CliRunner().invoke(main, ["relic", *args])
    assert res.exit_code == 2
    assert match in res.output
    assert "Traceback" not in res.output


def test_cli_scan_writes_csv_and_plot(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["relic", "--model", "all", "--scan", "--n-masses", "3", "--out", str(tmp_path), "--json"],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "relic_targets.csv")
    assert sorted(table["model"].unique()) == ["am", "cr", "ed", "km", "md"]
    assert len(table) == 15
    assert (table["omega_h2"] - 0.120).abs().max() < 0.120 * 1e-4
    assert table.loc[table.model == "km", "y_hadron_proxy"].isna().all()
    assert (tmp_path / "relic_targets.png").stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_study_fast_mode(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "studies" / "relic_targets.py"),
            "--fast",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "relic_targets.csv")
    assert len(table) == 5 * 8
    km = table[table.model == "km"].sort_values("mass")
    # km target rises roughly as m_A'^2 (y ~ m_chi^2 <sigma v>): six decades over 3 MeV - 3 GeV
    assert 1e4 < km["y"].iloc[-1] / km["y"].iloc[0] < 1e8
    assert (tmp_path / "relic_targets.png").exists()
