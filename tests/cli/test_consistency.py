"""One CLI vocabulary across commands (issue 15): progress, workers, --force, --mass-scan.

* every command with a progress bar has the boolean flag ``--progress/--no-progress``,
  default on (no bare ``--no-progress`` flags);
* every ``--workers`` has the one default, all CPUs (:func:`darkmoments.cli._common.
  default_workers`), and the same error for a bad value;
* every command that writes a file refuses an existing output without ``--force`` (one line,
  exit 2, nothing changed) and overwrites it with ``--force``;
* ``--mass-scan`` is the one spelling of a scan over masses (``workspace``, ``relic``), with
  ``--scan`` as a hidden alias on both.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest

from darkmoments.cli import main
from darkmoments.cli._common import default_workers, resolve_workers

MASSES = np.geomspace(0.05, 2.0, 4)


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            out += _walk(cmd, (*path, name))
        else:
            out.append((" ".join((*path, name)), cmd))
    return out


COMMANDS = _walk(main)


def _param(cmd: click.Command, name: str) -> click.Parameter | None:
    return next((p for p in cmd.params if p.name == name), None)


def test_progress_is_one_boolean_flag_everywhere() -> None:
    with_bar = []
    for name, cmd in COMMANDS:
        opts = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        p = _param(cmd, "progress")
        if p is None:
            assert "--no-progress" not in opts, name
            continue
        with_bar.append(name)
        assert (p.opts, p.secondary_opts) == (["--progress"], ["--no-progress"]), name
        assert p.default is True, name
    assert {
        "xsec",
        "generate",
        "relic",
        "degeneracy",
        "discriminate",
        "templates build",
        "library",
    } <= set(with_bar)


def test_workers_have_one_default() -> None:
    with_workers = [name for name, cmd in COMMANDS if _param(cmd, "workers") is not None]
    assert {"discriminate", "templates build", "library", "reproduce"} <= set(with_workers)
    for name, cmd in COMMANDS:
        p = _param(cmd, "workers")
        if p is None:
            continue
        assert p.default is None, name
        assert "[default: all CPUs]" in (getattr(p, "help", "") or ""), name
    assert resolve_workers(None) == default_workers() >= 1
    with pytest.raises(ValueError, match="--workers must be an integer >= 1, got 0"):
        resolve_workers(0)


@pytest.mark.parametrize(
    "argv",
    [
        ["library", "--model", "km", "--mass", "0.1", "--workers", "0", "--out", "."],
        [
            "discriminate",
            "--true",
            "km:0.1",
            "--alt",
            "md",
            "--signal-events",
            "5",
            "--workers",
            "0",
        ],
        ["reproduce", "--fast", "--workers", "0", "--out", "o"],
    ],
)
def test_bad_workers_is_one_line(run, argv, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = run(argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "--workers" in err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def tdir(synthetic_templates) -> Path:
    return synthetic_templates(("km", "md"), MASSES)


def _overwrite_cases(tdir: Path) -> list[tuple[str, list[str], list[str]]]:
    """(name, argv, the files it writes) of every command that writes a file."""
    t = ["--templates", str(tdir)]
    ws = ["workspace", "--model", "km", "--mass", "0.1", "--out", "ws.json", *t]
    return [
        ("workspace", ws, ["ws.json", "ws.README.txt"]),
        (
            "workspace --mass-scan",
            ["workspace", "--model", "km", "--mass-scan", "--out", "bkg.json", *t],
            ["bkg.json", "bkg.patchset.json"],
        ),
        ("reach", ["reach", "--model", "km", "--out", "reach.csv", *t], ["reach.csv"]),
        (
            "degeneracy",
            [
                "degeneracy",
                "--true",
                "km:0.1",
                "--alt",
                "md",
                "--observables",
                "E",
                "--signal-events",
                "50",
                "--points",
                "3",
                "--plot",
                "deg.png",
                *t,
            ],
            ["deg.png"],
        ),
        (
            "relic --mass-scan",
            [
                "relic",
                "--model",
                "km",
                "--mass-scan",
                "--n-masses",
                "2",
                "--mass-min",
                "0.1",
                "--mass-max",
                "0.2",
                "--out",
                "rel",
            ],
            ["rel/relic_targets.csv", "rel/relic_targets.png"],
        ),
        (
            "generate",
            [
                "generate",
                "--model",
                "km",
                "--mass",
                "0.1",
                "--beam-energy",
                "8",
                "--events",
                "200",
                "--seed",
                "1",
                "--out",
                "ev.csv",
            ],
            ["ev.csv"],
        ),
    ]


CASE_NAMES = [
    "workspace",
    "workspace --mass-scan",
    "reach",
    "degeneracy",
    "relic --mass-scan",
    "generate",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_existing_outputs_need_force(run, tdir, tmp_path, monkeypatch, case: str) -> None:
    monkeypatch.chdir(tmp_path)
    _, argv, files = next(c for c in _overwrite_cases(tdir) if c[0] == case)
    code, _, err = run(argv)
    assert code == 0, err
    for f in files:
        assert (tmp_path / f).is_file(), f
    stamps = {f: (tmp_path / f).read_bytes() for f in files}
    # a rerun is refused before any work: one line naming the file and --force, nothing changed
    code, _out, err = run(argv)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "exists; pass --force to overwrite it" in err
    assert any(Path(f).name in err for f in files), err
    assert {f: (tmp_path / f).read_bytes() for f in files} == stamps
    code, _, err = run([*argv, "--force"])
    assert code == 0, err


def test_every_file_writer_is_covered(tdir) -> None:
    """Commands with --out FILE or --plot have --force (resumable directories need none)."""
    resumable = {"templates build", "reproduce", "library"}  # library has --force (replace)
    for name, cmd in COMMANDS:
        writes = {o for p in cmd.params for o in p.opts} & {"--out", "--plot"}
        if writes and name not in resumable:
            assert _param(cmd, "force") is not None, name
    assert {c[0] for c in _overwrite_cases(tdir)} == set(CASE_NAMES)


def test_discriminate_plot_needs_force(run, tdir, tmp_path, monkeypatch) -> None:
    """The figure is refused up front; the checkpoint directory resumes (--resume) instead."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.png").write_bytes(b"old")
    argv = [
        "discriminate",
        "--true",
        "km:0.1",
        "--alt",
        "md",
        "--signal-events",
        "30",
        "--toys",
        "10",
        "--workers",
        "1",
        "--plot",
        "t.png",
        "--templates",
        str(tdir),
    ]
    code, _out, err = run(argv)
    assert code == 2
    assert "--plot t.png exists; pass --force to overwrite it" in err
    assert (tmp_path / "t.png").read_bytes() == b"old"


def test_scan_spellings(run, tdir, tmp_path, monkeypatch) -> None:
    """--mass-scan on both commands; --scan a hidden alias of it on both."""
    monkeypatch.chdir(tmp_path)
    for cmd in ("workspace", "relic"):
        opts = {o: p for p in main.commands[cmd].params for o in p.opts}
        assert not getattr(opts["--mass-scan"], "hidden", False), cmd
        assert getattr(opts["--scan"], "hidden", False), cmd
    t = ["--templates", str(tdir), "--json"]
    code, out, err = run(["workspace", "--model", "km", "--scan", "--out", "a.json", *t])
    assert code == 0, err
    code, out2, err = run(["workspace", "--model", "km", "--mass-scan", "--out", "b.json", *t])
    assert code == 0, err
    assert json.loads(out)["patches"] == json.loads(out2)["patches"]
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    # messages name the spelling given
    code, _, err = run(["relic", "--scan", "--mass", "0.1"])
    assert code == 2
    assert "--mass 0.1 and --scan exclude each other" in err
    code, _, err = run(["relic", "--mass-scan", "--mass", "0.1"])
    assert "--mass 0.1 and --mass-scan exclude each other" in err
    code, _, err = run(["workspace", "--model", "km", "--out", "c.json", *t])
    assert code == 2
    assert "give either --mass (GeV) or --mass-scan" in err
    code, _, err = run(["relic", "--mass", "0.1", "--force"])
    assert code == 2
    assert "--force: only used with --mass-scan" in err
