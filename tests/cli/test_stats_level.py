"""``--level truth|detector`` on the statistics commands (issue 13, item 5).

Small template files of both levels are built here (km and md, four masses, 1500 events per
template): the detector-level ones differ from the truth ones (straggling, scattering,
resolution, acceptance and the E < 0.3 E0 selection), so every command must give other
numbers at ``--level detector``, the numbers of the library called with ``level="detector"``.
A missing detector-level file is one line with exit code 2 naming the file and the build
command.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import numpy as np
import pytest

from darkmoments import templates
from darkmoments.experiments import EXPERIMENTS

MASSES = [0.01, 0.03, 0.1, 0.3]
N_EVENTS = 1500
EXP = EXPERIMENTS["ldmx-phase2"]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``ldmx-phase2.h5`` and ``ldmx-phase2.detector.h5`` (km, md)."""
    out = tmp_path_factory.mktemp("levels")
    for level in ("truth", "detector"):
        rep = templates.build_grid(
            EXP, ["km", "md"], MASSES, N_EVENTS, out=out, workers=1, progress=False, level=level
        )
        assert rep.built == 2 * len(MASSES)
    return out


@pytest.fixture(scope="module")
def truth_only(tmp_path_factory: pytest.TempPathFactory, both: Path) -> Path:
    """A directory with the truth-level file only."""
    out = tmp_path_factory.mktemp("truth_only")
    (out / "ldmx-phase2.h5").write_bytes((both / "ldmx-phase2.h5").read_bytes())
    return out


def _detector_unit_yield(d: Path, model: str, mass: float) -> float:
    """N at g = 1 from the detector-level template: sigma x selection efficiency x exposure."""
    t = templates.load(model, mass, EXP, directory=d, level="detector")
    return EXP.expected_events(t.sigma_pb, 1.0, t.metadata["selection_efficiency"])


def test_reach_detector_level_carries_the_selection_efficiency(run, both: Path) -> None:
    base = ["reach", "--model", "km", "--templates", str(both), "--json"]
    code, out, err = run([*base, "--level", "detector"])
    assert code == 0, err
    det = json.loads(out)
    code, out, _ = run(base)
    truth = json.loads(out)
    assert [r["mass"] for r in det] == MASSES
    for r_det, r_truth in zip(det, truth, strict=True):
        n1 = _detector_unit_yield(both, "km", r_det["mass"])
        assert r_det["coupling"] == pytest.approx(math.sqrt(-math.log(0.1) / n1), rel=1e-12)
        # the selection keeps less than everything: a weaker coupling limit than at truth level
        assert r_det["coupling"] > 1.05 * r_truth["coupling"]
    from darkmoments.stats import reach_for

    assert reach_for("km", EXP, directory=str(both), level="detector") == det


def test_discovery_and_workspace_at_detector_level(run, both: Path, tmp_path: Path) -> None:
    n1 = _detector_unit_yield(both, "km", 0.1)
    args = ["discovery", "--model", "km", "--mass", "0.1", "--coupling", "2e-6"]
    args += ["--flat-background", "4", "--templates", str(both), "--json", "--level", "detector"]
    code, out, err = run(args)
    assert code == 0, err
    d = json.loads(out)
    assert d["level"] == "detector"
    assert d["n_signal"] == pytest.approx(n1 * 4e-12, rel=1e-12)
    assert d["background"] == 4.0
    ws = tmp_path / "ws.json"
    args = ["workspace", "--model", "km", "--mass", "0.1", "--out", str(ws)]
    code, out, err = run([*args, "--templates", str(both), "--json", "--level", "detector"])
    assert code == 0, err
    info = json.loads(out)
    assert info["level"] == "detector"
    assert info["n_signal_unit"] == pytest.approx(n1, rel=1e-12)
    code, out, err = run([*args, "--templates", str(both), "--json"])
    assert code == 2  # ws.json exists: never overwritten without --force
    assert f"--out {ws} exists; pass --force to overwrite it" in err
    code, out, _ = run([*args, "--templates", str(both), "--json", "--force"])
    assert "level" not in json.loads(out)
    assert json.loads(out)["n_signal_unit"] > 1.05 * n1


def test_degeneracy_and_grids_at_detector_level(run, both: Path) -> None:
    from darkmoments.stats import compare_fits
    from darkmoments.stats.inputs import load_grid_at

    args = ["degeneracy", "--true", "km:0.1", "--alt", "md", "--observables", "E,pt"]
    args += ["--signal-events", "100", "--points", "3", "--templates", str(both), "--json"]
    code, out, err = run([*args, "--level", "detector"])
    assert code == 0, err
    det = json.loads(out)
    code, out, _ = run(args)
    truth = json.loads(out)
    assert det["level"] == "detector"
    gt = load_grid_at("km", EXP, "E,pt", level="detector", directory=both)
    ga = load_grid_at("md", EXP, "E,pt", level="detector", directory=both)
    ref = compare_fits(gt, ga, 0.1, 100.0).summary()
    assert det["fits"][0]["observables"] == ref["observables"]
    for key in ("alt_mass", "alt_mass_low", "alt_mass_high", "delta_2lnL"):
        assert det["fits"][0][key] == pytest.approx(ref[key], rel=1e-9), key
    assert det["fits"][0]["delta_2lnL"] != pytest.approx(truth["fits"][0]["delta_2lnL"], rel=0.01)
    # the grid's unit yields are the detector yields (selection efficiency included)
    np.testing.assert_allclose(
        gt.n1, [_detector_unit_yield(both, "km", m) for m in MASSES], rtol=1e-12
    )


def test_discriminate_at_detector_level(run, both: Path) -> None:
    from darkmoments.stats.rate import discrimination_setup
    from darkmoments.stats.toys import run_discrimination

    args = ["discriminate", "--true", "km:0.1", "--alt", "md", "--signal-events", "60"]
    args += ["--toys", "30", "--seed", "3", "--workers", "1", "--templates", str(both)]
    code, out, err = run([*args, "--json", "--level", "detector"])
    assert code == 0, err
    (rec,) = json.loads(out)
    assert rec["level"] == "detector"
    setup = discrimination_setup(
        "km", 0.1, "md", EXP, n_events=60.0, level="detector", directory=str(both)
    )
    ref = run_discrimination(setup, 30, seed=3).summary()
    for key in ("alt_mass", "t_asimov", "p_value", "median_t_true"):
        assert rec[key] == pytest.approx(ref[key], rel=1e-12), key
    code, out, _ = run([*args, "--json"])
    (truth,) = json.loads(out)
    assert "level" not in truth
    assert truth["t_asimov"] != pytest.approx(rec["t_asimov"], rel=1e-3)


@pytest.mark.parametrize(
    "args",
    [
        ["reach", "--model", "km"],
        ["discovery", "--model", "km", "--mass", "0.1", "--coupling", "1e-5", "--background", "3"],
        ["workspace", "--model", "km", "--mass", "0.1", "--out", "ws.json"],
        ["workspace", "--model", "km", "--mass-scan", "--out", "bkg.json"],
        ["degeneracy", "--true", "km:0.1", "--alt", "md", "--signal-events", "10"],
        ["discriminate", "--true", "km:0.1", "--alt", "md", "--signal-events", "10"],
    ],
)
def test_missing_detector_file_is_one_line(
    run, truth_only: Path, args: list[str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outputs of the truth-level runs go there
    code, out, err = run([*args, "--templates", str(truth_only), "--level", "detector"])
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert str(truth_only / "ldmx-phase2.detector.h5") in err
    assert "templates build --experiment ldmx-phase2 --level detector --out DIR" in err
    # the truth level of the same directory works (or fails for another reason than the file)
    code, _, err = run([*args, "--templates", str(truth_only)])
    assert "detector.h5" not in err


def test_experiment_without_detector_level(run, both: Path, tmp_path: Path) -> None:
    toml = tmp_path / "plain.toml"
    toml.write_text(
        'name = "plain"\nlepton = "e"\nbeam_energy = 4.0\neot = 1e14\ntarget = "W"\n'
        "thickness_x0 = 0.1\n",
        encoding="utf-8",
    )
    code, _, err = run(["reach", "--model", "km", "--experiment", str(toml), "--level", "detector"])
    assert code == 2
    assert "plain has no detector level" in err
    from darkmoments.stats import reach_for

    with pytest.raises(ValueError, match="plain has no detector level"):
        reach_for("km", str(toml), level="detector")
    with pytest.raises(ValueError, match="level must be one of"):
        reach_for("km", EXP, level="reco", directory=str(both))


def test_help_ends_with_a_runnable_example() -> None:
    """Every statistics command's --help ends with an example that its own parser accepts."""
    from click.testing import CliRunner

    from darkmoments.cli import main
    from darkmoments.cli.stats import COMMANDS

    for cmd in COMMANDS:
        res = CliRunner().invoke(main, [cmd.name, "--help"])
        assert res.exit_code == 0
        text = res.output.rstrip()
        _head, sep, tail = text.rpartition("Example:")
        assert sep, f"{cmd.name} --help has no example"
        lines = [ln.strip() for ln in tail.strip().splitlines()]
        ours = [ln for ln in lines if ln.startswith("darkmoments ")]
        assert ours
        assert ours[0].split()[1] == cmd.name
        assert all(ln.startswith(("darkmoments ", "pyhf ")) for ln in lines), lines
        for line in ours:
            argv = shlex.split(line)[2:]
            cmd.make_context(cmd.name, argv)  # parses: every option exists, values valid
