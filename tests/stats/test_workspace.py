"""pyhf workspace export: fixed layout, patches, parameter count, pyhf CLI vs exact limits.

Benchmark note (not a timed test; 2 cores shared with other jobs): ``pyhf cls`` on the
README's example workspace (km, 0.1 GeV, LDMX Phase II, zero background; exported with
``export_workspace``, the proposed engine of ``darkmoments workspace``) takes 1.6-2.2 s wall
with the coarse layout and ``staterror="auto"`` (96 bins, 2 parameters), of which ~1.5 s is
importing pyhf; the full 1920-bin layout with 2 parameters ~2.5 s.  Before: 805 bins with 805
staterror gammas did not finish in 250 s (and failed at g = 1); 96 bins with a gamma in each
of the 63 bins with signal take ~45 s.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import jsonpatch
import numpy as np
import pyhf
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from darkmoments import templates
from darkmoments.errors import AsymptoticValidityWarning, InputError, OutputPathError
from darkmoments.experiments import get_experiment
from darkmoments.stats.limits import cls_pyhf, poisson_upper_limit, upper_limit
from darkmoments.stats.workspace import (
    CHANNEL,
    STATERROR_THRESHOLD,
    build_spec,
    export_workspace,
    make_patch,
    readme_path,
    reference_events,
    spec_parameter_count,
    workspace_layout,
    write_workspace,
    zero_background_note,
)
from darkmoments.templates import signal_yield
from darkmoments.testing.synthetic import synthetic_template

EXP = "ldmx-phase2"
LN10 = math.log(10.0)
PYHF = str(Path(sys.executable).parent / "pyhf")
#: Stated bound on the parameters of an exported workspace with the default options
#: (mu, signal_norm, bkg_norm; no staterror gamma for the shipped 1e5-event templates).
MAX_DEFAULT_PARAMETERS = 3


def pyhf_cls(path: Path, mu: float = 1.0) -> dict:
    res = subprocess.run(
        [PYHF, "cls", str(path), "--test-poi", repr(float(mu))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(res.stdout)


def asymptotic_counting_cls(s: float, b: float) -> float:
    """Asymptotic qtilde CLs of one Poisson bin for Asimov data n = b (Cowan et al. 2011).

    mu_hat = 0, q = q_A = 2 [s - b ln(1 + s / b)], CLs = (1 - Phi(sqrt q)) / (1/2).
    """
    q = 2.0 * (s - b * math.log1p(s / b))
    return 2.0 * float(norm.sf(math.sqrt(q)))


@pytest.fixture(scope="module")
def tpls():
    return {
        (m, mass): templates.load(m, mass, EXP)
        for m, mass in (("km", 0.1), ("km", 1.0), ("km", 0.005), ("md", 0.02), ("cr", 2.0))
    }


def test_layout_is_a_function_of_the_binning_only(tpls) -> None:
    binning = get_experiment(EXP).binning
    lay = workspace_layout(binning)
    assert lay.shape == (8, 12)
    assert lay.n_bins == 96
    assert lay.fine_shape == (40, 48)
    np.testing.assert_allclose(lay.edges[0], np.linspace(0.0, 8.0, 9), rtol=1e-9, atol=1e-12)
    # coarse edges are template edges: every 4th p_T edge, first bin [0, 46 keV]
    np.testing.assert_array_equal(lay.edges[1], np.asarray(binning.pt_edges)[::4])
    np.testing.assert_allclose(lay.edges[1][1], 2e-5 * (8.0 / 2e-5) ** (3 / 47), rtol=1e-6)
    for t in tpls.values():
        lt = workspace_layout(t)
        assert lt.shape == lay.shape
        for a, b in zip(lt.edges, lay.edges, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-15)
    assert workspace_layout(binning, layout="full").n_bins == 1920
    assert workspace_layout(binning, "E").shape == (8,)
    assert workspace_layout(binning, "pt").shape == (12,)
    # coarsening conserves the probabilities and the summed variances
    t = tpls[("km", 0.1)]
    c = lay.coarsen(t.hist.values().ravel())
    np.testing.assert_allclose(c.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(c.reshape(8, 12)[0, 0], t.hist.values()[:5, :4].sum(), rtol=1e-12)
    # a small binning is kept as it is (6 x 4 <= 8 x 12)
    small = synthetic_template("km", 0.2, bins=(6, 4))
    assert workspace_layout(small).shape == (6, 4)
    with pytest.raises(InputError, match="layout"):
        workspace_layout(binning, layout="fine")


@pytest.mark.parametrize("background", [None, 20.0])
def test_same_channel_bins_observations_across_masses_and_models(tpls, background) -> None:
    specs = {
        k: build_spec(t, 100.0, background=background, poi_events="limit") for k, t in tpls.items()
    }
    ref = specs[("km", 0.1)]
    for spec in specs.values():
        pyhf.Workspace(spec)
        assert [c["name"] for c in spec["channels"]] == [CHANNEL]
        assert len(spec["channels"][0]["samples"][0]["data"]) == 96
        assert spec["observations"] == ref["observations"]
        assert spec["measurements"] == ref["measurements"]
    # the signal occupies very different bins at different masses: the old export dropped the
    # empty ones and gave every mass its own channel
    occupied = {
        k: int(np.count_nonzero(s["channels"][0]["samples"][0]["data"])) for k, s in specs.items()
    }
    assert max(occupied.values()) - min(occupied.values()) >= 10, occupied
    assert min(occupied.values()) < 96


def test_patch_replacing_the_signal_sample_gives_the_other_mass(tpls, tmp_path: Path) -> None:
    a = build_spec(tpls[("km", 0.1)], 1.0, background=20.0, poi_events="limit")
    b = build_spec(tpls[("km", 1.0)], 1.0, background=20.0, poi_events="limit")
    c = build_spec(tpls[("cr", 2.0)], 1.0, background=20.0, poi_events="limit")
    # an explicit "replace the signal sample" patch turns one mass into the other
    replace = [
        {"op": "replace", "path": "/channels/0/samples/0", "value": b["channels"][0]["samples"][0]}
    ]
    assert jsonpatch.apply_patch(a, replace) == b
    # the minimal patch touches only the signal sample, for another mass and another model
    for other in (b, c):
        ops = make_patch(a, other)
        assert ops
        assert all(op["path"].startswith("/channels/0/samples/0/") for op in ops)
        assert jsonpatch.apply_patch(a, ops) == other
        assert dict(pyhf.Workspace(jsonpatch.apply_patch(a, ops))) == dict(pyhf.Workspace(other))
    # pyhf's CLI applies the patch: same CLs as the patched-to workspace itself
    write_workspace(a, tmp_path / "a.json")
    write_workspace(b, tmp_path / "b.json")
    (tmp_path / "ab.json").write_text(json.dumps(make_patch(a, b)))
    res = subprocess.run(
        [PYHF, "cls", str(tmp_path / "a.json"), "--patch", str(tmp_path / "ab.json")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    with pytest.warns(AsymptoticValidityWarning, match=r"low background \(20 events\)"):
        cls_b = cls_pyhf(b, 1.0)
    np.testing.assert_allclose(json.loads(res.stdout)["CLs_obs"], cls_b, rtol=1e-6)
    # different layouts (E only vs E,pt) cannot be patched into one another
    e_only = build_spec(
        tpls[("km", 1.0)], 1.0, observables="E", background=20.0, poi_events="limit"
    )
    with pytest.raises(InputError, match="common layout"):
        make_patch(a, e_only)


def test_schema_validity_and_the_schema_has_no_note_field(tpls, tmp_path: Path) -> None:
    t = tpls[("km", 0.1)]
    variants = [
        {},
        {"staterror": True},
        {"staterror": False},
        {"staterror": "all"},
        {"background": 50.0, "background_uncertainty": 0.1, "signal_uncertainty": 0.05},
        {"observables": "E", "background": np.ones(40)},
        {"observables": "pt", "background": np.ones(12)},  # per workspace bin
        {"layout": "full", "staterror": False},
    ]
    for kw in variants:
        spec = build_spec(t, 10.0, **kw)
        ws = pyhf.Workspace(spec)
        assert ws.model().config.npars == spec_parameter_count(spec), kw
    # pyhf's schema forbids extra keys, which is why the note lives in a sidecar
    spec = build_spec(t, 10.0)
    with pytest.raises(pyhf.exceptions.InvalidSpecification):
        pyhf.Workspace({**spec, "note": "zero background"})
    bad = copy.deepcopy(spec)
    bad["measurements"][0]["config"]["note"] = "zero background"
    with pytest.raises(pyhf.exceptions.InvalidSpecification):
        pyhf.Workspace(bad)
    out, side = write_workspace(spec, tmp_path / "ws.json")
    assert side == tmp_path / "ws.README.txt" == readme_path(out)
    pyhf.Workspace(json.loads(out.read_text()))


def test_bad_input_is_refused_and_nothing_written(tpls, tmp_path: Path) -> None:
    t = tpls[("km", 0.1)]
    with pytest.raises(InputError, match="n_signal"):
        build_spec(t, 0.0)
    with pytest.raises(InputError, match="background template has 3 bins"):
        build_spec(t, 1.0, background=np.ones(3))
    with pytest.raises(InputError, match="staterror"):
        build_spec(t, 1.0, staterror="some")
    with pytest.raises(InputError, match="poi_events"):
        build_spec(t, 1.0, poi_events="median")
    with pytest.raises(InputError, match="background_uncertainty"):
        build_spec(t, 1.0, background=1.0, background_uncertainty=1.5)
    # events observed where neither signal nor background can put any (workspace bin 95:
    # E > 7 GeV, p_T > 2.7 GeV is beyond p_T <= E for the km template at 0.1 GeV)
    obs = np.zeros(96)
    obs[95] = 1.0
    assert build_spec(t, 1.0)["channels"][0]["samples"][0]["data"][95] == 0.0
    with pytest.raises(InputError, match=r"zero expected signal and background"):
        build_spec(t, 1.0, observed=obs)
    with pytest.raises(OutputPathError, match="does not exist"):
        write_workspace(build_spec(t, 1.0), tmp_path / "nope" / "ws.json")
    with pytest.raises(ValueError, match=r"mass 9\.0 GeV outside"):
        export_workspace("km", 9.0, EXP, out=tmp_path / "ws.json")
    assert list(tmp_path.iterdir()) == []


def test_parameter_count_is_bounded_and_mc_stat_where_it_matters(tpls) -> None:
    for (model, mass), t in tpls.items():
        for bkg in (None, 20.0, 1e4):
            spec = build_spec(
                t,
                1e6,
                background=bkg,
                background_uncertainty=0.1 if bkg else None,
                signal_uncertainty=1e-3,
            )
            n = spec_parameter_count(spec)
            assert n <= MAX_DEFAULT_PARAMETERS, (model, mass, bkg, n)
        full = build_spec(t, 1e6, staterror=True)
        assert full == build_spec(t, 1e6, staterror="all")
        assert spec_parameter_count(full) == 1 + 96  # mu + one gamma per bin (empty: fixed)
        unc = np.asarray(full["channels"][0]["samples"][0]["modifiers"][1]["data"])
        sig = np.asarray(full["channels"][0]["samples"][0]["data"])
        np.testing.assert_array_equal(unc > 0, sig > 0)
        assert build_spec(t, 1e6, staterror="none") == build_spec(t, 1e6, staterror=False)
    # a low-statistics template (200 MC events) at a large background: gammas exactly in the
    # bins whose MC error at the reference limit exceeds STATERROR_THRESHOLD x Poisson error
    low = synthetic_template("km", 0.3, n_mc=200.0)
    b = 2000.0
    spec = build_spec(low, 5.0, background=b)
    mods = {m["name"]: m for m in spec["channels"][0]["samples"][0]["modifiers"]}
    lay = workspace_layout(low)
    p = lay.coarsen(low.hist.values().ravel())
    v = lay.coarsen(low.hist.variances().ravel())
    bb = lay.coarsen(np.full(lay.n_fine, b / lay.n_fine))
    s_ref = reference_events(float(bb.sum()), b)
    r = s_ref * np.sqrt(v) / np.sqrt(s_ref * p + bb)
    expect = r > STATERROR_THRESHOLD
    assert 0 < expect.sum() < lay.n_bins
    unc = np.asarray(mods["mcstat_signal"]["data"])
    np.testing.assert_array_equal(unc > 0, expect)
    np.testing.assert_allclose(unc[expect], 5.0 * np.sqrt(v[expect]), rtol=1e-12)


def test_readme_example_export_is_small_and_mu_one_is_the_limit(tmp_path: Path) -> None:
    """`darkmoments workspace --model km --mass 0.1 --experiment ldmx-phase2 --out ws.json`."""
    res = export_workspace("km", 0.1, EXP, out=tmp_path / "ws.json")
    n1 = signal_yield("km", 0.1, 1.0, EXP).n_signal
    info = res.summary()
    assert info["n_bins"] == 96
    assert info["parameters"] <= 2
    assert res.warnings == ()
    np.testing.assert_allclose(info["n_signal"], LN10, rtol=1e-12)
    np.testing.assert_allclose(info["coupling"], math.sqrt(LN10 / n1), rtol=1e-12)
    # exact counting limit of this workspace is mu = 1 (2.303 events)
    spec = json.loads((tmp_path / "ws.json").read_text())
    assert spec == res.spec
    sig = np.sum(spec["channels"][0]["samples"][0]["data"])
    np.testing.assert_allclose(sig, LN10, rtol=1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws.README.txt", "ws.json"]
    ul = upper_limit(spec)  # darkmoments' default: exact counting CLs at zero background
    assert ul.method == "exact"
    np.testing.assert_allclose(ul.mu, 1.0, rtol=1e-9)
    # an explicit coupling far from the sensitivity is allowed but warned about
    far = export_workspace("km", 0.1, EXP, coupling=1.0)
    assert far.paths == ()
    assert any("unreliable" in w for w in far.warnings)
    np.testing.assert_allclose(far.info["n_signal"], n1, rtol=1e-12)


def test_zero_background_note_and_pyhf_cli_asymptotic_value(tmp_path: Path) -> None:
    res = export_workspace("km", 0.1, EXP, out=tmp_path / "ws.json")
    note = zero_background_note(res.spec)
    assert note is not None
    assert note == res.note
    assert "2.303" in note
    assert "1.35" in note
    assert "method='exact'" in note
    assert "pyhf cls --calctype toybased" in note
    assert "WARNING: " + note in (tmp_path / "ws.README.txt").read_text()
    assert "2.996" in zero_background_note(res.spec, cl=0.95)
    # pyhf's CLI (asymptotic) puts CLs = 0.1 at z^2/2 = 1.353 events, not at the exact 2.303
    z = norm.isf(0.05)
    out = pyhf_cls(tmp_path / "ws.json", mu=z * z / 2 / LN10)
    np.testing.assert_allclose(out["CLs_obs"], 0.1, rtol=2e-3)
    # a zero-valued background sample is still zero background; any background removes it
    t = templates.load("md", 0.5, EXP)
    assert zero_background_note(build_spec(t, 5.0, background=np.zeros(1920))) is not None
    assert zero_background_note(build_spec(t, 5.0, background=0.5)) is None


def test_pyhf_cli_vs_exact_limit_at_b20(tmp_path: Path) -> None:
    """b = 20 with the signal's shape: pyhf's CLI equals the asymptotic one-bin formula.

    With b_i proportional to s_i and Asimov data the binned likelihood ratio is that of one
    bin with s and b = 20, so pyhf's asymptotic CLs must equal the closed form
    :func:`asymptotic_counting_cls`; the difference to darkmoments' exact limit
    (8.752 events) is then the asymptotic approximation's: it puts CLs = 0.084 there and
    reaches 0.1 at 8.284 events (5.3 % lower).
    """
    t = templates.load("km", 0.1, EXP)
    b = 20.0
    p = t.hist.values().ravel()
    res = export_workspace("km", 0.1, EXP, background=b * p, out=tmp_path / "ws.json")
    s_exact = poisson_upper_limit(20, b, 0.9)
    np.testing.assert_allclose(res.info["n_signal"], s_exact, rtol=1e-9)
    assert res.info["parameters"] == 2
    assert res.note is None
    s_asym = brentq(lambda s: asymptotic_counting_cls(s, b) - 0.1, 1.0, 50.0, xtol=1e-12)
    assert 0.93 < s_asym / s_exact < 0.96
    out = pyhf_cls(tmp_path / "ws.json")  # mu = 1: the exact limit
    np.testing.assert_allclose(out["CLs_obs"], asymptotic_counting_cls(s_exact, b), rtol=2e-3)
    out = pyhf_cls(tmp_path / "ws.json", mu=s_asym / s_exact)
    np.testing.assert_allclose(out["CLs_obs"], 0.1, rtol=2e-3)
    # darkmoments' own limits on the same workspace: exact at mu = 1, asymptotic as pyhf's CLI
    np.testing.assert_allclose(upper_limit(res.spec, method="exact").mu, 1.0, rtol=1e-6)
    # ... with the low-background warning (5.3% > 5%), which the export carries too
    with pytest.warns(AsymptoticValidityWarning, match=r"5\.3% too low.*method='exact'"):
        ua = upper_limit(res.spec, method="asymptotic", rtol=1e-8)
    np.testing.assert_allclose(ua.events, s_asym, rtol=2e-3)
    assert res.info["asymptotics"]["valid"] is False
    assert any("low background (20 events)" in w for w in res.warnings)


def test_flat_background_shape_limit_in_pyhf_cli(tmp_path: Path) -> None:
    """A flat b = 20: the binned limit uses the shape and is below the counting limits."""
    res = export_workspace("km", 0.1, EXP, background=20.0, out=tmp_path / "ws.json")
    assert res.info["parameters"] <= 2
    spec = res.spec
    with pytest.warns(AsymptoticValidityWarning, match=r"low background \(20 events\)"):
        mu_up = brentq(lambda m: cls_pyhf(spec, m) - 0.1, 0.05, 1.0, xtol=1e-6)
    s_exact = poisson_upper_limit(20, 20.0, 0.9)
    s_asym = brentq(lambda s: asymptotic_counting_cls(s, 20.0) - 0.1, 1.0, 50.0)
    assert mu_up * s_exact < s_asym < s_exact
    np.testing.assert_allclose(pyhf_cls(tmp_path / "ws.json", mu=mu_up)["CLs_obs"], 0.1, rtol=2e-3)


def _qtilde(mu: float, n: np.ndarray, s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """qtilde_mu of the binned Poisson likelihood with mu the only parameter, per toy row."""
    n = np.atleast_2d(n)
    total = s.sum()

    def grad(m: np.ndarray) -> np.ndarray:  # d lnL / d mu, decreasing in mu
        return (n * s / (m[:, None] * s + b)).sum(-1) - total

    def lnl(m: np.ndarray) -> np.ndarray:
        lam = m[:, None] * s + b
        return (n * np.log(lam) - lam).sum(-1)

    lo, hi = np.zeros(len(n)), np.full(len(n), mu)
    g0, gm = grad(lo), grad(hi)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        up = grad(mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    muhat = np.where(g0 <= 0, 0.0, np.where(gm >= 0, mu, 0.5 * (lo + hi)))
    return np.maximum(-2.0 * (lnl(np.full(len(n), mu)) - lnl(muhat)), 0.0)


@pytest.mark.slow
def test_asymptotic_limit_of_the_coarse_layout_against_toys() -> None:
    """km 0.1 GeV, flat b = 20: pyhf's asymptotic limit is 0-20% below the toy-based one.

    Toys (1e4 per hypothesis, seeded) on the same likelihood with mu as the only parameter;
    CLs = P(q >= q_obs | mu) / P(q >= q_obs | 0) with the Asimov data as observation.  The
    measured toy CLs are 0.119 at the asymptotic limit and 0.076 at 1.2 times it (binomial
    errors ~0.004), so the toy limit lies in between (3.55 events vs asymptotic 3.29).
    """
    res = export_workspace("km", 0.1, EXP, background=20.0, staterror=False)
    spec = copy.deepcopy(res.spec)
    sig = spec["channels"][0]["samples"][0]
    sig["modifiers"] = [m for m in sig["modifiers"] if m["type"] == "normfactor"]
    s = np.asarray(sig["data"])
    b = np.asarray(spec["channels"][0]["samples"][1]["data"])
    with pytest.warns(AsymptoticValidityWarning, match=r"low background \(20 events\)"):
        mu_a = brentq(lambda m: cls_pyhf(spec, m) - 0.1, 1e-3, 2.0, xtol=1e-6)
    rng = np.random.default_rng(20240601)

    def cls_toys(mu: float, n_toys: int = 10_000) -> float:
        q_obs = _qtilde(mu, b, s, b)[0]
        q_sb = _qtilde(mu, rng.poisson(mu * s + b, size=(n_toys, s.size)).astype(float), s, b)
        q_b = _qtilde(mu, rng.poisson(b, size=(n_toys, s.size)).astype(float), s, b)
        return float(np.mean(q_sb >= q_obs) / np.mean(q_b >= q_obs))

    assert cls_toys(mu_a) > 0.1 > cls_toys(1.2 * mu_a)


def test_shape_spec_is_the_build_spec_layout() -> None:
    """Issue 10: one pyhf spec builder.  ``shape_spec`` (used by the pyhf reference of the
    discrimination statistic) is what ``build_spec`` writes without background, systematics
    or staterror, bin for bin, and it validates against pyhf's schema."""
    import pyhf

    from darkmoments.stats.shapes import project_template
    from darkmoments.stats.workspace import shape_spec

    tpl = synthetic_template("km", 0.2, bins=(6, 4))
    probs, _ = project_template(tpl, "E,pt")
    for n_sig, obs in ((7.5, None), (0.3, np.arange(24.0))):
        ref = build_spec(tpl, n_sig, staterror="none", layout="full", observed=obs)
        got = shape_spec(n_sig * probs, observed=obs)
        assert got["channels"] == ref["channels"]
        assert got["observations"] == ref["observations"]
        bounds = got["measurements"][0]["config"]["parameters"][0]["bounds"][0]
        np.testing.assert_allclose(bounds[1], max(1000.0, 1e4 / n_sig), rtol=1e-12)
        model = pyhf.Workspace(got).model()
        assert model.config.poi_name == "mu"
        assert model.config.npars == 1
    with pytest.raises(ValueError, match="signal must be finite"):
        shape_spec([0.0, 0.0])
    with pytest.raises(ValueError, match="observed must be 2"):
        shape_spec([1.0, 2.0], observed=[1.0])
    with pytest.raises(ValueError, match="mu_max"):
        shape_spec([1.0, 2.0], mu_max=0.0)


def test_export_states_the_models_coupling_unit(tmp_path: Path) -> None:
    """Issue 10: the coupling's unit is the model's (``Model.coupling_unit``): in the export
    summary, in the README sidecar and in the message refusing a bad coupling."""
    from darkmoments.models import get_model

    for mid, unit in (("km", "1"), ("md", "GeV^-1"), ("cr", "GeV^-2")):
        assert get_model(mid).coupling_unit == unit
        res = export_workspace(mid, 0.1, EXP, out=tmp_path / f"{mid}.json")
        assert res.summary()["coupling_unit"] == unit
        text = (tmp_path / f"{mid}.README.txt").read_text()
        assert f"coupling g = {res.info['coupling']:.6g} [{unit}]" in text
    with pytest.raises(InputError, match=r"coupling \[GeV\^-1\] must be a finite number > 0"):
        export_workspace("md", 0.1, EXP, coupling=-1.0)
