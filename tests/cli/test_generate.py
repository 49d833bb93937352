"""``darkmoments xsec`` and ``darkmoments generate`` end to end."""

from __future__ import annotations

import json

import click
import numpy as np
import pytest
from click.testing import CliRunner

from darkmoments.cli import main
from darkmoments.io.events import read_events


def test_xsec_json_matches_library():
    import darkmoments as dm

    r = CliRunner().invoke(
        main,
        [
            "xsec",
            "--model",
            "M",
            "--mass",
            "0.2",
            "--beam-energy",
            "4",
            "--seed",
            "3",
            "--rtol",
            "0.02",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    ref = dm.cross_section("md", 0.2, 4.0, seed=3, rtol=0.02)
    assert out["sigma_pb"] == ref.value_pb
    assert out["sigma_err_pb"] == ref.error_pb


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".lhe", ".lhe.gz"])
def test_generate_writes_every_format_with_sigma(tmp_path, suffix):
    out = tmp_path / f"ev{suffix}"
    r = CliRunner().invoke(
        main,
        [
            "generate",
            "--model",
            "km",
            "--mass",
            "0.1",
            "--beam-energy",
            "8",
            "--events",
            "2000",
            "--seed",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "sigma = " in r.output
    assert "2000 events" in r.output
    ev, meta = read_events(out)
    assert len(ev) == 2000
    assert meta["sigma_pb"] > 0
    assert meta["model"] == "km"
    np.testing.assert_allclose(ev.weight.sum(), meta["sigma_pb"], rtol=1e-6)
    assert not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".lhe", ".lhe.gz"])
def test_generate_same_seed_same_file(tmp_path, suffix):
    """Same seed: byte-identical files in every format (no time stamps, no temp names)."""
    args = [
        "generate",
        "--model",
        "cr",
        "--mass",
        "0.5",
        "--beam-energy",
        "4",
        "--events",
        "500",
        "--seed",
        "7",
        "--no-progress",
    ]
    for name in ("a", "b"):
        r = CliRunner().invoke(main, [*args, "--out", str(tmp_path / f"{name}{suffix}")])
        assert r.exit_code == 0, r.output
    assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["xsec", "--model", "zz", "--mass", "0.1", "--beam-energy", "8"], "unknown model 'zz'"),
        (["xsec", "--model", "km", "--mass", "0", "--beam-energy", "8"], "A' mass must be in"),
        (["xsec", "--model", "km", "--mass", "9", "--beam-energy", "8"], "kinematic threshold"),
        (["xsec", "--model", "km", "--mass", "0.1", "--beam-energy", "-1"], "beam_energy"),
        (
            ["xsec", "--model", "km", "--mass", "0.1", "--beam-energy", "8", "--target", "Xx"],
            "unknown target",
        ),
        (
            [
                "generate",
                "--model",
                "km",
                "--mass",
                "0.1",
                "--beam-energy",
                "8",
                "--events",
                "0",
                "--out",
                "x.csv",
            ],
            "--events must be a positive integer",
        ),
        (
            [
                "generate",
                "--model",
                "km",
                "--mass",
                "0.1",
                "--beam-energy",
                "8",
                "--events",
                "10",
                "--out",
                "x.txt",
            ],
            "must end in one of",
        ),
    ],
)
def test_bad_input_one_line_exit_2(run_entry_point, args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_entry_point(*args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_unwritable_output_leaves_nothing(run_entry_point, tmp_path):
    target = tmp_path / "missing_dir" / "ev.parquet"
    code, _, err = run_entry_point(
        "generate",
        "--model",
        "km",
        "--mass",
        "0.1",
        "--beam-energy",
        "8",
        "--events",
        "100",
        "--seed",
        "1",
        "--out",
        str(target),
    )
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not target.exists()
    assert not (tmp_path / "missing_dir").exists()


def test_xsec_precision_warning_one_line_and_json_flag():
    """rtol not reached: exit 0, one warning line on stderr, converged false in the JSON."""
    args = ["xsec", "--model", "km", "--mass", "0.1", "--beam-energy", "8", "--seed", "2"]
    r = CliRunner().invoke(main, [*args, "--rtol", "1e-5", "--max-evaluations", "2e4", "--json"])
    assert r.exit_code == 0, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("darkmoments: warning: ")
    assert "rtol = 1e-05" in lines[0]
    assert "max_evaluations = 20000" in lines[0]
    out = json.loads(r.stdout)
    assert out["converged"] is False
    assert out["n_evaluations"] == 20_000
    assert out["rel_error"] == pytest.approx(out["sigma_err_pb"] / out["sigma_pb"], rel=1e-12)
    assert out["rel_error"] > out["rtol"] == 1e-5


def test_xsec_and_generate_take_the_beam_from_an_experiment(tmp_path):
    """--experiment NAME|TOML gives the same numbers as the explicit options."""
    toml = tmp_path / "setup.toml"
    toml.write_text(
        'name = "mu-beam"\nlepton = "mu"\nbeam_energy = 15.0\neot = 1e13\ntarget = "Pb"\n'
        "thickness_cm = 1.0\n"
    )
    base = ["xsec", "--model", "md", "--mass", "0.2", "--seed", "3", "--rtol", "0.05", "--json"]
    cases = [
        (["--experiment", "ldmx-phase1"], ["--beam-energy", "4"], "ldmx-phase1"),
        (
            ["--experiment", str(toml), "--lepton", "mu"],  # agreeing explicit option: fine
            ["--beam-energy", "15", "--lepton", "mu", "--target", "Pb"],
            "mu-beam",
        ),
    ]
    for with_exp, explicit, name in cases:
        a = CliRunner().invoke(main, [*base, *with_exp])
        b = CliRunner().invoke(main, [*base, *explicit])
        assert a.exit_code == 0, (a.output, b.output)
        assert b.exit_code == 0, (a.output, b.output)
        ja, jb = json.loads(a.stdout), json.loads(b.stdout)
        assert ja["experiment"] == name
        assert jb["experiment"] is None
        ja.pop("experiment"), jb.pop("experiment")
        assert ja == jb
    assert ja["lepton"] == "mu"
    assert ja["target"] == "Pb"
    assert ja["beam_energy"] == 15.0
    assert ja["model"] == "md"
    assert ja["coupling_unit"] == "GeV^-1"


def test_generate_json_summary_force_and_no_bar_in_logs(tmp_path):
    out = tmp_path / "ev.parquet"
    args = [
        "generate", "--model", "ED", "--mass", "0.3", "--experiment", "ldmx-phase2",
        "--events", "1.5e3", "--seed", "5", "--out", str(out), "--json", "--progress",
    ]  # fmt: skip
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert r.stderr == ""  # --progress, but stderr is not a terminal: no bar fragments
    summary = json.loads(r.stdout)
    ev, meta = read_events(out)
    assert summary == {
        "out": str(out), "format": "parquet", "model": "ed", "mass": 0.3, "beam_energy": 8.0,
        "lepton": "e", "target": "W", "experiment": "ldmx-phase2", "coupling": 1.0,
        "coupling_unit": "GeV^-1", "seed": 5, "n_events": 1500, "weighted": False,
        "sigma_pb": meta["sigma_pb"], "sigma_err_pb": meta["sigma_err_pb"],
        "unweighting_efficiency": meta["unweighting_efficiency"],
        "n_evaluations": meta["n_evaluations"],
    }  # fmt: skip
    assert len(ev) == 1500
    before = out.read_bytes()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2
    assert "pass --force" in again.stderr
    assert out.read_bytes() == before
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() == before  # same seed, same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev.parquet"]


def test_help_states_unit_and_default_of_every_option():
    for cmd in ("xsec", "generate", "relic"):
        r = CliRunner().invoke(main, [cmd, "--help"])
        assert r.exit_code == 0
        params = main.commands[cmd].params
        for p in params:
            if p.name in ("help", "as_json") or not isinstance(p, click.Option) or p.hidden:
                continue  # hidden options are deprecated aliases of a documented one
            text = p.help or ""
            has_default = p.show_default or "default" in text.lower() or "required" in text.lower()
            assert has_default, f"{cmd} {p.opts}: no default stated"
        for opt in ("--mass",):
            assert "GeV" in next(p.help for p in params if opt in getattr(p, "opts", []))
