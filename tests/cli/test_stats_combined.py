"""``--experiment A,B,...`` on the statistics commands: the combined likelihood (issue 14).

Every command runs combined on the shipped LDMX Phase I + II templates and gives the numbers
of a direct call of :mod:`darkmoments.stats.combined` (relative 1e-9: the same computation,
compared with a tolerance), and the physics checks that do not depend on that code path:

* the combined zero-background reach is the counting limit on the summed unit yields, each
  the single experiment's ``signal_yield`` at a grid node (the spline is exact there), and
  lies below either experiment's own reach;
* two identical experiments (synthetic templates of ``ldmx-phase2`` and of a TOML copy under
  another name) reach sqrt(2) lower in the coupling and double the discovery signal;
* on Asimov data the combined -2 Delta lnL of the alternative is at least the sum of the
  experiments' own (each minimum over the mass is at most the common one);
* options without a combined meaning, combined-only options with one experiment and bad
  experiment lists end in one line naming the option or the list, exit code 2, nothing
  written.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from darkmoments import templates

EXPS = "ldmx-phase1,ldmx-phase2"
NAMES = ["ldmx-phase1", "ldmx-phase2"]
RTOL = 1e-9  # same computation through the CLI and the API: agreement to round-off


def _one_line_error(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("darkmoments: error:"), lines
    assert needle in lines[0], lines
    assert "Traceback" not in err


BASE = {
    "reach": ["reach", "--model", "km"],
    "workspace": ["workspace", "--model", "km", "--mass", "0.1", "--out", "ws.json"],
    "discovery": [
        "discovery",
        "--model",
        "km",
        "--mass",
        "0.1",
        "--coupling",
        "1e-6",
        "--flat-background",
        "2",
    ],
    "degeneracy": ["degeneracy", "--true", "km:0.1", "--alt", "md", "--signal-events", "50"],
    "discriminate": [
        "discriminate",
        "--true",
        "km:0.1",
        "--alt",
        "md",
        "--signal-events",
        "50",
        "--toys",
        "10",
        "--workers",
        "1",
    ],
}


@pytest.mark.parametrize("command", sorted(BASE))
@pytest.mark.parametrize(
    ("experiments", "needle"),
    [
        ("ldmx-phase2,na64", "--experiment 'ldmx-phase2,na64': unknown experiment 'na64'"),
        ("ldmx-phase2,ldmx-phase2", "experiment given twice"),
        (",", "no experiment given"),
        ("ldmx-phase2,nope.toml", "nope.toml"),
    ],
)
def test_bad_experiment_lists(run, tmp_path, monkeypatch, command, experiments, needle) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run([*BASE[command], "--experiment", experiments])
    _one_line_error(code, err, needle)
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([*BASE["reach"], "--level", "detector"], "--level detector: not available with several"),
        ([*BASE["reach"], "--flat-background", "3"], "--flat-background: not available"),
        ([*BASE["reach"], "--background", "b.json"], "--background: not available"),
        ([*BASE["workspace"], "--mass-scan"], "--mass-scan: not available"),
        (["workspace", "--model", "km", "--scan", "--out", "w.json"], "--scan: not available"),
        ([*BASE["workspace"], "--background-uncertainty", "0.1"], "--background-uncertainty"),
        ([*BASE["discovery"], "--level", "detector"], "--level detector: not available"),
        (
            ["discovery", "--signal-events", "5", "--flat-background", "2"],
            "--signal-events: not available with several experiments",
        ),
        ([*BASE["discovery"][:-2], "--background", "b.json"], "a background histogram"),
        (BASE["discovery"][:-2], "needs the total background, --flat-background N"),
        ([*BASE["degeneracy"], "--plot", "d.png"], "--plot: not available"),
        ([*BASE["degeneracy"], "--level", "detector"], "--level detector: not available"),
        ([*BASE["discriminate"], "--flat-background", "2"], "--flat-background: not available"),
        ([*BASE["discriminate"], "--level", "detector"], "--level detector: not available"),
        ([*BASE["discriminate"], "--relic", "--signal-events", "5"], "exactly one of"),
        ([*BASE["discriminate"], "--no-rate", "--syst", "none"], "--syst needs a statistic"),
        ([*BASE["discriminate"], "--identity-resamples", "5"], "--identity-resamples"),
    ],
)
def test_options_without_combined_meaning(run, tmp_path, monkeypatch, argv, needle) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = run([*argv, "--experiment", EXPS])
    _one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []  # refused before any work or output


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([*BASE["workspace"], "--normalisation", "shared"], "--normalisation needs several"),
        ([*BASE["workspace"], "--syst", "none"], "--syst needs several experiments"),
        ([*BASE["degeneracy"], "--statistic", "ratio"], "--statistic needs several"),
    ],
)
def test_combined_only_options_with_one_experiment(run, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run([*argv, "--experiment", "ldmx-phase2"])
    _one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- reach
def test_reach_is_the_counting_limit_of_the_summed_yields(run, tmp_path) -> None:
    from darkmoments.stats.combined import combined_reach

    out = tmp_path / "reach.csv"
    code, stdout, err = run(
        ["reach", "--model", "km", "--experiment", EXPS, "--json", "--out", str(out)]
    )
    assert code == 0, err
    rows = json.loads(stdout)
    ref = combined_reach("km", EXPS)
    assert len(rows) == len(ref) > 30
    for r, q in zip(rows, ref, strict=True):
        assert r["experiments"] == NAMES
        assert set(r) == {"mass", "coupling", "y", "n1", "n1_total", "experiments"}
        for key in ("mass", "coupling", "y", "n1_total"):
            assert r[key] == pytest.approx(q[key], rel=RTOL), key
        # g_up^2 N1_total = -ln(1 - CL) = 2.303 events
        assert r["coupling"] ** 2 * r["n1_total"] == pytest.approx(-math.log(0.1), rel=1e-12)
    # at each experiment's own grid masses its N1 is the one of its own reach (the rate
    # spline is exact at a node), and the combination reaches further than either alone
    n_up = -math.log(0.1)
    for i, name in enumerate(NAMES):
        code, s, err = run(["reach", "--model", "km", "--experiment", name, "--json"])
        assert code == 0, err
        own = {round(x["mass"], 12): x["coupling"] for x in json.loads(s)}
        nodes = [r for r in rows if round(r["mass"], 12) in own]
        assert len(nodes) > 15
        for r in nodes:
            g = own[round(r["mass"], 12)]
            assert r["n1"][i] == pytest.approx(n_up / g**2, rel=1e-6)
            assert r["coupling"] < g
        y = templates.signal_yield("km", nodes[3]["mass"], 1.0, name)
        assert nodes[3]["n1"][i] == pytest.approx(y.n_signal, rel=1e-6)
    table = list(csv.DictReader(out.read_text().splitlines()))
    assert len(table) == len(rows)
    assert set(table[0]) == {"model", "mass", "coupling", "y", "n1_total", "experiments"}
    assert {t["experiments"] for t in table} == {EXPS}
    assert float(table[0]["coupling"]) == pytest.approx(rows[0]["coupling"], rel=1e-12)


def test_reach_with_a_muon_experiment(run) -> None:
    """LDMX Phase I + II + M3 Phase 2 (a thick muon target: N1 with the depth factor)."""
    from darkmoments.stats.combined import combined_reach

    exps = "ldmx-phase1,ldmx-phase2,m3-phase2"
    code, out, err = run(["reach", "--model", "md", "--experiment", exps, "--json"])
    assert code == 0, err
    rows = json.loads(out)
    ref = combined_reach("md", exps)
    assert [r["experiments"] for r in rows[:1]] == [exps.split(",")]
    assert [r["coupling"] for r in rows] == pytest.approx([q["coupling"] for q in ref], rel=RTOL)
    assert all(len(r["n1"]) == 3 and min(r["n1"]) > 0 for r in rows)


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> tuple[Path, Path]:
    """Synthetic ldmx-phase2 templates and the same ones for a TOML copy of the setup."""
    from darkmoments.testing.synthetic import write_synthetic_templates

    d = tmp_path_factory.mktemp("twins")
    toml = d / "copy.toml"
    toml.write_text(
        'name = "ldmx-phase2-copy"\nlepton = "e"\nbeam_energy = 8.0\neot = 1e16\n'
        'target = "W"\nthickness_x0 = 0.1\n',
        encoding="utf-8",
    )
    masses = np.geomspace(0.05, 2.0, 4)
    for exp in ("ldmx-phase2", str(toml)):
        write_synthetic_templates(d, exp, ("km", "md"), masses)
    return d, toml


def test_two_identical_experiments_are_twice_the_luminosity(run, twins) -> None:
    d, toml = twins
    t = ["--templates", str(d), "--json"]
    code, one, err = run(["reach", "--model", "km", "--experiment", "ldmx-phase2", *t])
    assert code == 0, err
    code, two, err = run(["reach", "--model", "km", "--experiment", f"ldmx-phase2,{toml}", *t])
    assert code == 0, err
    one_rows, two_rows = json.loads(one), json.loads(two)
    assert [r["mass"] for r in two_rows] == pytest.approx([r["mass"] for r in one_rows])
    for a, b in zip(one_rows, two_rows, strict=True):
        assert b["experiments"] == ["ldmx-phase2", "ldmx-phase2-copy"]
        assert b["coupling"] == pytest.approx(a["coupling"] / math.sqrt(2.0), rel=1e-9)
        assert b["n1"][0] == pytest.approx(b["n1"][1], rel=1e-12)
    disc = [
        "discovery",
        "--model",
        "km",
        "--mass",
        "0.3",
        "--coupling",
        "1e-3",
        "--flat-background",
        "3",
        *t,
    ]
    code, one, err = run([*disc, "--experiment", "ldmx-phase2"])
    assert code == 0, err
    code, two, err = run([*disc, "--experiment", f"ldmx-phase2,{toml}"])
    assert code == 0, err
    assert json.loads(two)["n_signal"] == pytest.approx(2 * json.loads(one)["n_signal"], rel=1e-9)


# ----------------------------------------------------------------------------- workspace
def test_workspace_is_the_combined_spec(run, tmp_path) -> None:
    import pyhf

    from darkmoments.stats.combined import PYHF_MODIFIER_SETTINGS, combined_workspace

    out = tmp_path / "ws.json"
    argv = [
        "workspace",
        "--model",
        "km",
        "--mass",
        "0.1",
        "--experiment",
        EXPS,
        "--out",
        str(out),
        "--json",
    ]
    code, stdout, err = run(argv)
    assert code == 0, err
    info = json.loads(stdout)
    assert info["experiments"] == NAMES
    assert info["channels"] == NAMES
    assert info["normalisation"] == "shared"
    assert info["poi"] == "mu"
    # mu = 1: the combined zero-background limit, 2.303 events summed over the experiments
    assert info["n_signal"] == pytest.approx(-math.log(0.1), rel=1e-9)
    assert sum(info["n_signal_per_experiment"]) == pytest.approx(info["n_signal"], rel=1e-12)
    spec = json.loads(out.read_text())
    ref = combined_workspace("km", 0.1, EXPS, coupling=info["coupling"])
    for ch, ref_ch, n in zip(
        spec["channels"], ref["channels"], info["n_signal_per_experiment"], strict=True
    ):
        sig = next(s for s in ch["samples"] if s["name"] == "signal")
        ref_sig = next(s for s in ref_ch["samples"] if s["name"] == "signal")
        np.testing.assert_allclose(sig["data"], ref_sig["data"], rtol=RTOL)
        assert sum(sig["data"]) == pytest.approx(n, rel=1e-9)
        assert [m["name"] for m in sig["modifiers"]] == [m["name"] for m in ref_sig["modifiers"]]
    model = pyhf.Workspace(spec).model(modifier_settings=PYHF_MODIFIER_SETTINGS)
    assert {"mu", "norm_ldmx-phase1", "norm_ldmx-phase2"} <= set(model.config.parameters)
    assert (tmp_path / "ws.README.txt").is_file()
    # tied: mu fixed at the given coupling, with the shared theory nuisance
    code, stdout, err = run([*argv, "--force", "--normalisation", "tied", "--coupling", "1e-5"])
    assert code == 0, err
    tied = json.loads(out.read_text())
    params = tied["measurements"][0]["config"]["parameters"]
    assert params[0]["name"] == "mu"
    assert params[0]["fixed"] is True
    tied_model = pyhf.Workspace(tied).model(modifier_settings=PYHF_MODIFIER_SETTINGS)
    assert "theory" in tied_model.config.parameters
    assert json.loads(stdout)["coupling"] == 1e-5
    code, _, err = run(argv)  # exists: never overwritten without --force
    _one_line_error(code, err, "exists; pass --force to overwrite it")


# ----------------------------------------------------------------------------- discovery
def test_discovery_sums_the_yields(run) -> None:
    from darkmoments.stats.combined import combined_yields
    from darkmoments.stats.discovery import discovery_significance

    argv = [
        "discovery",
        "--model",
        "km",
        "--mass",
        "0.1",
        "--coupling",
        "1e-5",
        "--flat-background",
        "5",
        "--background-uncertainty",
        "0.2",
        "--experiment",
        EXPS,
    ]
    code, out, err = run([*argv, "--json"])
    assert code == 0, err
    rec = json.loads(out)
    ys = [r["n_signal"] for r in combined_yields("km", 0.1, 1e-5, EXPS)]
    assert rec["experiments"] == NAMES
    assert rec["n_signal_per_experiment"] == pytest.approx(ys, rel=RTOL)
    assert rec["n_signal"] == pytest.approx(sum(ys), rel=RTOL)
    ref = discovery_significance(sum(ys), 5.0, background_uncertainty=0.2)
    assert rec["z"] == pytest.approx(ref.z, rel=RTOL)
    assert rec["p0"] == pytest.approx(ref.p0, rel=RTOL)
    code, out, err = run(argv)
    assert code == 0, err
    assert "(ldmx-phase1 + ldmx-phase2)" in out


# ----------------------------------------------------------------------------- degeneracy
def test_degeneracy_is_the_combined_curve(run) -> None:
    from darkmoments.stats.combined import (
        combined_alternative_point,
        combined_asimov,
        combined_degeneracy,
        combined_setup,
        fit_mass_combined,
    )

    argv = [
        "degeneracy",
        "--true",
        "km:0.1",
        "--alt",
        "md",
        "--observables",
        "E,pt",
        "--signal-events",
        "100",
        "--points",
        "12",
        "--experiment",
        EXPS,
    ]
    code, out, err = run([*argv, "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["experiments"] == NAMES
    assert res["statistic"] == "shape"
    assert sum(res["n_true"]) == pytest.approx(100.0, rel=1e-12)
    (fit,) = res["fits"]
    setup = combined_setup(
        "km:0.1", "md", EXPS, couplings={"km": 1.0, "md": 1.0}, signal_events=100.0
    )
    lo, hi = setup.alt.mass_range
    deg = combined_degeneracy(setup, np.geomspace(lo, hi, 12))
    np.testing.assert_allclose(fit["masses"], deg.masses, rtol=RTOL)
    np.testing.assert_allclose(fit["delta"], deg.delta, rtol=1e-7, atol=1e-9)
    assert fit["delta_2lnL"] == pytest.approx(deg.best_delta, rel=1e-7)
    assert fit["alt_mass"] == pytest.approx(deg.best_mass, rel=1e-7)
    data = combined_asimov(setup.true, 0.1, setup.n_true)[None, :]
    alt = fit_mass_combined(data, setup.alt)
    assert fit["alt_mass_low"] == pytest.approx(alt.lower, rel=1e-7)
    assert fit["alt_mass_high"] == pytest.approx(alt.upper, rel=1e-7)
    assert fit["alt_mass_low"] < fit["alt_mass"] < fit["alt_mass_high"]
    assert fit["true_fit_mass"] == pytest.approx(0.1, rel=1e-3)
    assert min(fit["delta"]) >= fit["delta_2lnL"] - 1e-6  # the continuous minimum is below
    # each experiment alone (its share of the events): the combination separates at least
    # as well as the sum of the parts
    alone = 0.0
    for name, n in zip(NAMES, res["n_true"], strict=True):
        s1 = combined_setup("km:0.1", "md", name, couplings={"km": 1.0, "md": 1.0}, signal_events=n)
        alone += combined_alternative_point(s1)[2]
    assert fit["delta_2lnL"] >= alone - 1e-6
    # the rate ratios between the beams add information (or none), never remove it
    code, out, err = run([*argv, "--statistic", "ratio", "--json"])
    assert code == 0, err
    ratio = json.loads(out)
    assert ratio["statistic"] == "ratio"
    assert ratio["fits"][0]["delta_2lnL"] >= fit["delta_2lnL"] - 1e-3
    code, out, err = run(argv)
    assert code == 0, err
    assert out.startswith("[E,pt] md best fit m = ")


# ----------------------------------------------------------------------------- discriminate
def _discriminate_api(statistic: str, n_toys: int, seed: int, run: dict, **kw) -> tuple:
    from darkmoments.stats.combined import (
        combined_setup,
        combined_shape_identity,
        run_combined_discrimination,
    )

    setup = combined_setup("km:0.1", "md", EXPS, statistic=statistic, **kw)
    res = run_combined_discrimination(setup, n_toys, seed=seed, workers=1, **run)
    ident = None
    if statistic != "shape+rate":
        ident = combined_shape_identity(
            setup, res.alt_mass, n_resamples=20, seed=seed, refine=False
        )
    return res.summary(), ident


def _same_record(rec: dict, ref: dict, ident, keys=("n_5sigma",)) -> None:
    for key in ("t_asimov", "alt_mass", "p_value", "median_t_true", "z_importance", *keys):
        if ref[key] is None:
            assert rec[key] is None, key
        else:
            assert rec[key] == pytest.approx(ref[key], rel=1e-7), key
    assert rec["n_true"] == pytest.approx(ref["n_true"], rel=RTOL)
    if ident is not None:
        assert rec["p_identity"] == pytest.approx(ident.p_value, rel=1e-12)
        assert rec["template_limited"] is (not ident.resolved)


def test_discriminate_shape_and_ratio(run, tmp_path) -> None:
    out = tmp_path / "run"
    argv = [
        "discriminate",
        "--true",
        "km:0.1",
        "--alt",
        "md",
        "--signal-events",
        "50",
        "--toys",
        "40",
        "--seed",
        "3",
        "--workers",
        "1",
        "--identity-resamples",
        "20",
        "--experiment",
        EXPS,
        "--out",
        str(out),
    ]
    code, stdout, err = run([*argv, "--json"])
    assert code == 0, err
    recs = json.loads(stdout)
    assert [r["statistic"] for r in recs] == ["shape", "ratio"]
    assert [r["normalisation"] for r in recs] == ["free", "shared"]
    assert sorted(p.name for p in out.iterdir()) == ["km_vs_md_ratio", "km_vs_md_shape"]
    for rec in recs:
        assert rec["experiments"] == NAMES
        assert rec["n_signal"] == pytest.approx(50.0, rel=1e-12)
        assert rec["n_toys"] == 40
        assert rec["seed"] == 3
        # the luminosity root finding is compared in the slow test
        ref, ident = _discriminate_api(
            rec["statistic"],
            40,
            3,
            {"significance_events": False},
            couplings={"km": 1.0, "md": 1.0},
            signal_events=50.0,
        )
        _same_record(rec, ref, ident, keys=())
        assert rec["n_3sigma"] < 50.0 < rec["n_5sigma"]  # Z_A = 4.4 at 50 events
    assert recs[1]["systematics"]["theory"] == pytest.approx(0.1)  # the default systematics


@pytest.mark.slow
def test_discriminate_relic_three_statistics_and_plot(run, tmp_path) -> None:
    """--relic: shape, ratio and shape + rate on the relic targets; figure; resume (~90 s)."""
    plot = tmp_path / "t.png"
    out = tmp_path / "run"
    argv = [
        "discriminate",
        "--true",
        "km:0.1",
        "--alt",
        "md",
        "--relic",
        "--toys",
        "40",
        "--seed",
        "2",
        "--workers",
        "1",
        "--identity-resamples",
        "20",
        "--experiment",
        EXPS,
        "--plot",
        str(plot),
        "--out",
        str(out),
        "--json",
    ]
    code, stdout, err = run(argv)
    assert code == 0, err
    recs = json.loads(stdout)
    assert [r["statistic"] for r in recs] == ["shape", "ratio", "shape+rate"]
    assert plot.stat().st_size > 1000
    for rec in recs:
        ref, ident = _discriminate_api(rec["statistic"], 40, 2, {})
        _same_record(rec, ref, ident)
    assert recs[2]["p_identity"] is None
    assert recs[2]["normalisation"] == "tied"
    # the predicted rates add information: shape + rate separates at least as well
    assert recs[2]["t_asimov"] >= recs[0]["t_asimov"] - 1e-6
    assert sorted(p.name for p in out.iterdir()) == [
        "km_vs_md_ratio",
        "km_vs_md_shape",
        "km_vs_md_shape_rate",
    ]
    # resumed from the checkpoints (the figure needs --force): the same records
    code, again, err = run([*argv, "--resume", "--force"])
    assert code == 0, err
    assert json.loads(again) == recs
    code, _, err = run([*argv, "--force"])  # without --resume the checkpoint refuses it
    assert code == 2
    assert "--resume" in err
