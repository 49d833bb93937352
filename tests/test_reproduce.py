"""``darkmoments reproduce --fast``: every file, sane key numbers, resume, bad input (issue 15).

One ``--fast`` run (about a minute of CPU on the shipped templates) serves every check in
this module; the resume checks then rerun it (everything kept) and recompute one job after
one of its figures is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from darkmoments.cli import main
from darkmoments.figures import JOBS
from darkmoments.models import MODEL_IDS

FIGURES = [f for job in JOBS.values() for f in job.figures]
PAPER = [f"fig{i}" for i in range(1, 7)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _invoke(*args: str):
    return CliRunner().invoke(main, ["reproduce", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("reproduce") / "out"
    res = _invoke("--fast", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out, res.output


def _stamp(out: Path, job: str) -> dict:
    return json.loads((out / "checkpoint" / f"chunk_{job}.json").read_text())


def test_every_expected_file_exists(run) -> None:
    out, stdout = run
    assert f"{len(FIGURES)} figures" in stdout
    for i in PAPER:  # the paper's figures can be found by number
        assert any(f.startswith(f"{i}_") for f in FIGURES), i
    for name in FIGURES:
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
        assert (out / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
        assert len(pd.read_csv(out / f"{name}.csv")) > 0
    assert len(pd.read_csv(out / "degeneracy_grid_surface.csv")) > 0
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for name in FIGURES:
        assert f"![{name}]({name}.png)" in md
        assert f'src="{name}.png"' in html
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_report_has_one_paragraph_per_figure_with_numbers(run) -> None:
    out, _ = run
    md = (out / "report.md").read_text()
    sections = md.split("\n## ")[1:]
    assert len(sections) == len(FIGURES)
    for sec in sections:
        paragraph = sec.split("\n\n")[2]
        assert len(paragraph) > 200, sec
        assert any(c.isdigit() for c in paragraph)
        assert "n/a" not in paragraph, sec


def test_fig1_reach_finite_and_in_the_papers_three_groups(run) -> None:
    out, _ = run
    t = pd.read_csv(out / "fig1_reach.csv")
    reach = t[t.curve == "reach"]
    assert set(reach.model) == set(MODEL_IDS)
    assert np.all(np.isfinite(reach.y))
    assert np.all(reach.y > 0)
    wide = reach.pivot_table(index="mass", columns="model", values="y")

    def spread(a: str, b: str) -> float:
        return float(np.median(np.abs(np.log10(wide[a] / wide[b]))))

    # KM | M, E | C, A (paper section 4.2): within a group the reach curves nearly coincide,
    # between groups they are decades apart
    within = [spread("md", "ed"), spread("cr", "am")]
    between = [spread(a, b) for a, b in (("km", "md"), ("km", "cr"), ("md", "cr"), ("ed", "am"))]
    assert max(within) < 0.5 < 2.0 < min(between), (within, between)
    # the reach lies below every model's relic target at 0.1 GeV (paper figure 1)
    relic = t[t.curve == "relic"]
    for m in MODEL_IDS:
        r, g = reach[reach.model == m], relic[relic.model == m]
        y_r = np.exp(np.interp(np.log(0.1), np.log(r.mass), np.log(r.y)))
        y_g = np.exp(np.interp(np.log(0.1), np.log(g.mass), np.log(g.y)))
        assert y_r < y_g, m
    # the hadronic proxy band exists for every model but KM
    band = set(t[t.curve == "relic_hadron_proxy"].model)
    assert band == {"md", "ed", "cr", "am"}


def test_fig2_fig3_ww_overpredicts_high_pt(run) -> None:
    out, _ = run
    n = _stamp(out, "fig2_fig3")["numbers"]
    for model in ("km", "md"):
        r = n["recoil_pt_above"][model]["0.2"]
        assert r["analytic"] > r["exact"] + 3 * r["exact_err"], (model, r)
    nuc = n["nucleus_pt_above_0.1"]
    assert set(nuc) == set(MODEL_IDS)
    assert all(0 < v["fraction"] < 0.5 for v in nuc.values())
    t = pd.read_csv(out / "fig2_recoil_exact_vs_analytic.csv")
    ana = t[(t.model == "md") & (t.observable == "pt") & (t.method == "analytic")]
    assert ana.hi.max() == pytest.approx(4.0)  # the full M analytic curve, up to E0
    for (_m, _o, _k), g in t.groupby(["model", "observable", "method"]):
        area = float(np.sum(g.density * (g.hi - g.lo)))
        assert area == pytest.approx(1.0, abs=0.02)


def test_fig5_no_probability_beyond_the_kinematic_limit(run) -> None:
    out, _ = run
    t = pd.read_csv(out / "fig5_2d.csv")
    assert set(t.group) == {"KM, C, A", "M, E"}
    assert t.fraction[t.pt_lo >= t.E_hi].sum() == 0.0
    for _g, sub in t.groupby("group"):
        # the CSV holds 8 significant digits per bin
        assert sub.fraction.sum() == pytest.approx(1.0, rel=1e-6)


def test_fig6_best_fit_mass_within_the_degeneracy_band(run) -> None:
    out, _ = run
    fits = _stamp(out, "fig6")["numbers"]["fits"]
    for exp in ("ldmx-phase1", "ldmx-phase2"):
        pt = fits[f"{exp}:pt"]
        assert pt["band_lo"] <= pt["best_mass"] <= pt["band_hi"], pt
        # the paper's degeneracy: M lighter than KM at 1 GeV fits its p_T
        assert pt["band_lo"] > 0.6, pt
        assert pt["band_hi"] < 1.0, pt
        # adding the energy breaks it (paper section 4.4)
        assert fits[f"{exp}:E,pt"]["q_best"] > pt["q_best"] + 1.0
    # at 8 GeV the paper's 0.75 GeV lies within 0.05 GeV of the 1 sigma band
    p2 = fits["ldmx-phase2:pt"]
    assert p2["band_lo"] - 0.05 < 0.75 < p2["band_hi"] + 0.05
    t = pd.read_csv(out / "fig6_km_vs_md.csv")
    best = t[t.role == "best_fit"].mass.unique()
    assert best == pytest.approx([fits["ldmx-phase1:pt"]["best_mass"]])
    assert set(t[t.role == "paper"].mass) == {1.0, 0.75}


def test_degeneracy_and_discrimination_cover_every_pair(run) -> None:
    out, _ = run
    pairs = {(a, b) for a in MODEL_IDS for b in MODEL_IDS if a != b}
    best = pd.read_csv(out / "degeneracy_grid.csv")
    assert set(zip(best["true"], best["alt"], strict=True)) == pairs
    assert set(best.observables) == {"E", "pt", "E,pt"}
    d = pd.read_csv(out / "discrimination_nsigma.csv")
    assert set(zip(d["true"], d["alt"], strict=True)) == pairs  # none dropped
    groups = {"km": 0, "cr": 0, "am": 0, "md": 1, "ed": 1}
    across = d["true"].map(groups) != d["alt"].map(groups)
    # across the shape groups 5 sigma is reached and the calibrated shape-identity test
    # resolves every point; km and cr (identical shapes: sigma_cr = m^4 sigma_km) are not
    # (p uniform under identity: at most one of the four points below 1/(B + 1) by chance)
    assert np.all(np.isfinite(d.n_5sigma[across]))
    assert np.all(d.n_3sigma[across] < d.n_5sigma[across])
    assert not d.template_limited[across].any()
    # (the CSV keeps 8 significant digits)
    assert np.all(d.p_identity[across] <= (1 + 1e-6) / (d.identity_resamples[across] + 1))
    kmcr = d["true"].isin(["km", "cr"]) & d["alt"].isin(["km", "cr"])
    assert d.template_limited[kmcr].sum() >= kmcr.sum() - 1
    assert np.all(d.n_relic > 0)


def test_sigma_vs_mass_one_convention_and_k_factor(run) -> None:
    out, _ = run
    t = pd.read_csv(out / "sigma_vs_mass.csv")
    assert set(t.model) == set(MODEL_IDS)
    assert set(t.beam_energy) == {4.0, 8.0}
    # one coupling convention: K is the ratio of the two columns (8-digit CSV)
    np.testing.assert_allclose(t.k_factor, t.sigma_pb / t.sigma_ww_pb, rtol=1e-7)
    assert np.all(t.sigma_err_pb / t.sigma_pb < 0.06)
    assert np.all((t.k_factor > 0.02) & (t.k_factor < 2.0))
    r = pd.read_csv(out / "relic_targets.csv")
    assert np.all(r.ratio_paper > 0)
    assert set(r.model) == set(MODEL_IDS)


def test_resume_keeps_existing_figures(run) -> None:
    out, _ = run
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    res = _invoke("--fast", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "made: none" in res.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == mtimes
    # a removed figure is made again, by its job only; the others are kept
    (out / "fig5_2d.png").unlink()
    res = _invoke("--fast", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "made: fig4_fig5;" in res.output
    assert (out / "fig5_2d.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "fig1_reach.png").stat().st_mtime_ns == mtimes["fig1_reach.png"]


def test_other_settings_in_the_same_directory_refused(run) -> None:
    out, _ = run
    res = CliRunner().invoke(main, ["reproduce", "--fast", "--seed", "2", "--out", str(out)])
    assert res.exit_code == 2
    assert "--restart" in res.output
    assert "seed" in res.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--workers", "0"], "--workers"),
        (["--seed", "-1"], "--seed"),
        (["--only", "fig9"], "unknown figure or job 'fig9'"),
        (["--only", ","], "names no figure"),
    ],
)
def test_bad_input_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    res = CliRunner().invoke(main, ["reproduce", "--fast", "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("darkmoments: error:"), res.output
    assert words in lines[0]
    assert not (tmp_path / "o").exists()


def test_bad_paths_exit_2(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (["--out", str(tmp_path / "missing" / "out")], "does not exist"),
        (["--out", str(a_file)], "not a directory"),
        (["--out", str(tmp_path / "o"), "--figures-dir", str(tmp_path / "nope")], "--figures-dir"),
    ]
    for args, words in cases:
        res = CliRunner().invoke(main, ["reproduce", "--fast", *args])
        assert res.exit_code == 2, (args, res.output)
        assert res.output.count("\n") == 1, (args, res.output)
        assert words in res.output, (args, res.output)
    assert not (tmp_path / "missing").exists()


def test_combined_separation_physics(run) -> None:
    """The combined-experiments figure: km/md separate by shape with LDMX Phase II alone
    within its nominal running; km and cr (equal shapes and rate ratios) never by shape,
    but by their relic-target rates; combining LDMX II with M3 2 never needs more running
    than LDMX II alone (one more channel can only add information)."""
    out, _ = run
    t = pd.read_csv(out / "combined_separation.csv")
    assert set(t.statistic) == {"shape", "shape+rate"}
    assert set(t.experiments) == {"LDMX II", "M3 2", "LDMX II + M3 2"}
    # true masses at grid nodes: the true model fits its own Asimov data exactly, t_A >= 0
    assert (t.t_asimov >= -1e-9).all()

    def k(true: str, alt: str, exps: str, stat: str) -> pd.Series:
        sel = (t["true"] == true) & (t.alt == alt) & (t.experiments == exps)
        return t[sel & (t.statistic == stat)].set_index("mass").k_5sigma_used

    assert np.all(k("km", "md", "LDMX II", "shape") < 1.0)
    kmcr = t[(t["true"] == "km") & (t.alt == "cr")]
    assert kmcr[kmcr.statistic == "shape"].template_limited.all()
    assert np.all(k("km", "cr", "LDMX II", "shape+rate") < 1.0)
    for stat in ("shape", "shape+rate"):
        both, alone = k("km", "md", "LDMX II + M3 2", stat), k("km", "md", "LDMX II", stat)
        assert np.all(both <= alone * (1 + 1e-3))  # k is root-found to 0.1 %
