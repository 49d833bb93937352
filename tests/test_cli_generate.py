"""``darkmoments xsec`` and ``darkmoments generate`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from darkmoments.cli import main
from darkmoments.io.events import read_events


def _run(*args):
    """Run the real console entry point in a subprocess (exit code, stdout, stderr)."""
    p = subprocess.run(
        [sys.executable, "-m", "darkmoments", *args], capture_output=True, text=True, timeout=300
    )
    return p.returncode, p.stdout, p.stderr


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
    assert out["sigma_pb"] == ref.value_pb and out["sigma_err_pb"] == ref.error_pb


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
    assert "sigma = " in r.output and "2000 events" in r.output
    ev, meta = read_events(out)
    assert len(ev) == 2000
    assert meta["sigma_pb"] > 0 and meta["model"] == "km"
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
    "args,needle",
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
def test_bad_input_one_line_exit_2(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(*args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_unwritable_output_leaves_nothing(tmp_path):
    target = tmp_path / "missing_dir" / "ev.parquet"
    code, _, err = _run(
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
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not target.exists() and not (tmp_path / "missing_dir").exists()
