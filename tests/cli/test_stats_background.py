"""Background options of the statistics commands (issue 13, item 4).

``--background FILE``, ``--flat-background N`` and ``--background-uncertainty X`` on
``reach``, ``discovery`` and ``discriminate`` (the names of ``workspace``), and the
experiment's ``[background]`` table by default: the numbers are the library's, zero
background is no background, and bad input is one line with exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from darkmoments.experiments import EXPERIMENTS
from darkmoments.stats.limits import event_limit, reach_for

EXP = EXPERIMENTS["ldmx-phase2"]


@pytest.fixture(scope="module")
def tdir(synthetic_templates) -> Path:
    return synthetic_templates(("km", "md"), np.geomspace(0.05, 2.0, 8))


def _histogram(path: Path, counts: np.ndarray) -> Path:
    path.write_text(
        json.dumps(
            {
                "e_edges": list(EXP.binning.e_edges),
                "pt_edges": list(EXP.binning.pt_edges),
                "counts": counts.tolist(),
            }
        )
    )
    return path


def test_reach_with_flat_and_histogram_backgrounds(run, tdir: Path, tmp_path: Path) -> None:
    base = ["reach", "--model", "km", "--templates", str(tdir), "--json"]
    code, out, _ = run(base)
    none = json.loads(out)
    code, out, err = run([*base, "--flat-background", "0"])
    assert code == 0, err
    assert json.loads(out) == none  # zero background is no background
    code, out, err = run([*base, "--flat-background", "6", "--background-uncertainty", "0.25"])
    assert code == 0, err
    flat = json.loads(out)
    s_up = event_limit(None, 6.0, 0.9, background_uncertainty=0.25)
    for r, r0 in zip(flat, none, strict=True):
        assert r["coupling"] == pytest.approx(
            r0["coupling"] * math.sqrt(s_up / -math.log(0.1)), rel=1e-12
        )
    # the same total in a histogram file: the same counting limit
    counts = np.random.default_rng(1).uniform(0.0, 1.0, EXP.binning.shape)
    counts *= 6.0 / counts.sum()
    f = _histogram(tmp_path / "b.json", counts)
    code, out, err = run([*base, "--background", str(f), "--background-uncertainty", "0.25"])
    assert code == 0, err
    for r, r_flat in zip(json.loads(out), flat, strict=True):
        assert r["coupling"] == pytest.approx(r_flat["coupling"], rel=1e-12)
    code, out, _ = run([*base[:-1], "--flat-background", "6"])
    assert "background 6 events, expected limit" in out


def test_discovery_background_forms(run, tmp_path: Path) -> None:
    base = ["discovery", "--signal-events", "10", "--n-obs", "10", "--json"]
    code, out, _ = run([*base, "--background", "3"])
    number = json.loads(out)
    code, out, _ = run([*base, "--flat-background", "3"])
    flat = json.loads(out)
    assert flat["p0"] == pytest.approx(number["p0"], rel=1e-12)
    assert flat["background"] == pytest.approx(3.0, rel=1e-12)
    f = _histogram(tmp_path / "b.json", np.full(EXP.binning.shape, 3.0 / (40 * 48)))
    code, out, err = run([*base, "--background", str(f), "--background-uncertainty", "0.3"])
    assert code == 0, err
    d = json.loads(out)
    assert d["background_uncertainty"] == 0.3
    assert d["p0"] > number["p0"]  # an uncertain background: less significant
    from darkmoments.stats.discovery import discovery_significance

    ref = discovery_significance(10.0, d["background"], n_obs=10, background_uncertainty=0.3)
    assert d["p0"] == pytest.approx(ref.p0, rel=1e-12)


def test_experiment_background_from_toml(run, tdir: Path, tmp_path: Path) -> None:
    """A TOML setup with a [background] table: used by reach and discovery by default."""
    from darkmoments.experiments import get_experiment

    counts = np.full(EXP.binning.shape, 8.0 / (40 * 48))
    _histogram(tmp_path / "bkg.json", counts)
    toml = tmp_path / "phase2-bkg.toml"
    toml.write_text(
        'name = "ldmx-phase2"\nlepton = "e"\nbeam_energy = 8.0\neot = 1e16\ntarget = "W"\n'
        'thickness_x0 = 0.1\n[background]\nfile = "bkg.json"\nnormalisation_uncertainty = 0.2\n',
        encoding="utf-8",
    )
    exp = get_experiment(str(toml))
    assert exp.background is not None
    code, out, err = run(
        ["reach", "--model", "km", "--experiment", str(toml), "--templates", str(tdir), "--json"]
    )
    assert code == 0, err
    rows = json.loads(out)
    ref = reach_for("km", dataclasses.replace(EXP, background=exp.background), directory=tdir)
    for r, r_ref in zip(rows, ref, strict=True):
        assert r["coupling"] == pytest.approx(r_ref["coupling"], rel=1e-12)
    code, out, err = run(
        ["discovery", "--signal-events", "12", "--experiment", str(toml), "--json"]
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["background"] == pytest.approx(8.0, rel=1e-12)
    assert d["background_uncertainty"] == 0.2
    ws = tmp_path / "ws.json"
    args = ["workspace", "--model", "km", "--mass", "0.3", "--experiment", str(toml)]
    code, out, err = run([*args, "--templates", str(tdir), "--out", str(ws), "--json"])
    assert code == 0, err
    info = json.loads(out)
    assert info["background_events"] == pytest.approx(8.0, rel=1e-12)
    assert info["background_uncertainty"] == 0.2
    samples = json.loads(ws.read_text())["channels"][0]["samples"]
    assert [s["name"] for s in samples] == ["signal", "background"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["reach", "--model", "km", "--flat-background", "-1"], "--flat-background"),
        (["reach", "--model", "km", "--background-uncertainty", "0.2"], "needs --background"),
        (["reach", "--model", "km", "--background", "nope.json"], "does not exist"),
        (
            ["reach", "--model", "km", "--background", "x.json", "--flat-background", "1"],
            "not both",
        ),
        (
            ["reach", "--model", "km", "--flat-background", "1", "--background-uncertainty", "11"],
            "--background-uncertainty",
        ),
        (["discovery", "--signal-events", "5"], "needs a background"),
        (["discovery", "--signal-events", "5", "--flat-background", "0"], "needs a background"),
    ],
)
def test_bad_background_input_one_line(
    run, tdir: Path, args: list[str], needle: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run([*args, "--templates", str(tdir)])
    assert code == 2
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert out == ""


@pytest.mark.slow  # toys with a background: each fit profiles theta_b (minutes on 2 cores)
def test_discriminate_background(run, tdir: Path) -> None:
    """Zero background: the numbers without; a background: Poisson toys with it."""
    base = ["discriminate", "--true", "km:0.3", "--alt", "md", "--signal-events", "40"]
    base += ["--toys", "20", "--seed", "2", "--workers", "1", "--templates", str(tdir), "--json"]
    code, out, err = run(base)
    assert code == 0, err
    none = json.loads(out)
    code, out, err = run([*base, "--flat-background", "0"])
    assert code == 0, err
    assert json.loads(out) == none
    code, out, err = run([*base, "--flat-background", "10", "--background-uncertainty", "0.2"])
    assert code == 0, err
    (rec,) = json.loads(out)
    assert rec["background"] == pytest.approx(10.0, rel=1e-12)
    assert rec["background_uncertainty"] == 0.2
    assert rec["null"] == "poisson"
    assert rec["t_asimov"] < none[0]["t_asimov"]
