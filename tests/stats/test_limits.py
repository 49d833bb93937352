"""Workspaces, exclusion limits and discovery significances."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest
from scipy import stats

from darkmoments._optional import pyhf_toys_supported
from darkmoments.errors import IncompatibleDependencyError
from darkmoments.stats import (
    build_spec,
    coupling_limit,
    discovery_significance,
    poisson_upper_limit,
    reach_rows,
    upper_limit,
    write_json_atomic,
)
from darkmoments.stats.discovery import pyhf_discovery
from darkmoments.stats.limits import cls_counting, cls_pyhf
from darkmoments.testing.synthetic import synthetic_template

LN10 = math.log(10.0)


@pytest.fixture(scope="module")
def tpl():
    return synthetic_template("km", 0.2, bins=(6, 4))


def test_zero_background_zero_observed_is_ln10(tpl) -> None:
    assert abs(poisson_upper_limit(0, 0, 0.9) - 2.302585) < 1e-3
    np.testing.assert_allclose(poisson_upper_limit(0, 0, 0.9), LN10, rtol=1e-12)
    np.testing.assert_allclose(poisson_upper_limit(0, 0, 0.95), math.log(20.0), rtol=1e-12)
    for n_sig in (1.0, 7.5, 300.0):
        ul = upper_limit(build_spec(tpl, n_sig, observables="E,pt"), cl=0.9)
        assert ul.method == "exact"
        np.testing.assert_allclose(ul.events, LN10, rtol=1e-9)
        # mu limit scales as 1 / yield, the coupling limit as 1 / sqrt(yield)
        np.testing.assert_allclose(ul.mu, LN10 / n_sig, rtol=1e-9)
        np.testing.assert_allclose(coupling_limit(ul.events, n_sig), math.sqrt(LN10 / n_sig))


def test_auto_method_uses_exact_counting_at_low_background(tpl) -> None:
    spec = build_spec(tpl, 10.0, background=5.0, observed=np.zeros(24))
    ul = upper_limit(spec, cl=0.9)
    assert ul.method == "exact"
    np.testing.assert_allclose(ul.events, LN10, rtol=1e-9)  # n = 0: b drops out of CLs


def test_counting_cls_against_poisson_sums() -> None:
    """CLs from the incomplete gamma equals explicit Poisson sums; the limit solves CLs = 0.1."""
    for n, b in ((0, 0.0), (1, 0.5), (3, 2.2), (10, 7.0)):
        s_up = poisson_upper_limit(n, b, 0.9)
        direct = stats.poisson.cdf(n, s_up + b) / stats.poisson.cdf(n, b)
        np.testing.assert_allclose(direct, 0.1, rtol=1e-9)
        np.testing.assert_allclose(cls_counting(s_up, n, b), 0.1, rtol=1e-9)
    # more observed events -> weaker limit; more background at fixed n -> stronger limit
    assert poisson_upper_limit(3, 1.0) > poisson_upper_limit(2, 1.0)
    assert poisson_upper_limit(3, 2.0) < poisson_upper_limit(3, 1.0)
    # n = 1, b = 0: (1 + s) exp(-s) = 0.1  -> 3.8897 (the classic value)
    np.testing.assert_allclose(poisson_upper_limit(1, 0.0), 3.88972, rtol=1e-5)


def test_reach_rows_scaling() -> None:
    masses = np.array([0.01, 0.1, 1.0])
    n1 = np.array([1e6, 1e4, 25.0])
    rows = reach_rows("md", masses, n1)
    for row, n in zip(rows, n1, strict=True):
        np.testing.assert_allclose(row["coupling"], math.sqrt(LN10 / n), rtol=1e-12)
        # y = g^2 alpha_D (1/3)^4 Lambda^2 for md (n = 1, eq. 3.3)
        np.testing.assert_allclose(row["y"], row["coupling"] ** 2 * 0.5 / 81 * 1e6, rtol=1e-12)
    with pytest.raises(ValueError, match="finite and > 0"):
        reach_rows("km", masses, np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="unknown model"):
        reach_rows("xx", masses, n1)


def test_workspace_validates_and_bad_input(tpl) -> None:
    spec = build_spec(tpl, 10.0, background=5.0, background_uncertainty=0.2)
    ws = pyhf.Workspace(spec)  # schema validation
    model = ws.model()
    assert model.config.poi_name == "mu"
    assert len(spec["channels"][0]["samples"]) == 2
    np.testing.assert_allclose(sum(spec["channels"][0]["samples"][0]["data"]), 10.0, rtol=1e-9)
    for obs, nb in (("E", 6), ("pt", 4)):
        s = build_spec(tpl, 1.0, observables=obs, background=np.ones(nb))
        pyhf.Workspace(s)
        assert len(s["observations"][0]["data"]) == nb
    with pytest.raises(ValueError, match="n_signal"):
        build_spec(tpl, 0.0)
    with pytest.raises(ValueError, match="n_signal"):
        build_spec(tpl, float("nan"))
    with pytest.raises(ValueError, match="background template has 3 bins"):
        build_spec(tpl, 1.0, background=np.ones(3))
    with pytest.raises(ValueError, match="without a background"):
        build_spec(tpl, 1.0, background_uncertainty=0.1)
    # empty bin (zero signal, no background) with observed events
    probs = tpl.hist.values().copy()
    h = tpl.hist.copy()
    h.view()["value"][0, 0] = 0.0
    h.view()["value"] /= h.values().sum()
    t0 = type(tpl)(h, tpl.model, tpl.mass, tpl.experiment, tpl.sigma_pb, tpl.sigma_err_pb, {})
    obs = np.zeros(probs.size)
    obs[0] = 2.0
    with pytest.raises(ValueError, match=r"zero expected signal and background"):
        build_spec(t0, 5.0, observed=obs)
    # with nothing observed there the empty bin stays in the fixed layout (no mass-dependent
    # dropping, so workspaces of every mass share their bins), with no signal and no events
    spec0 = build_spec(t0, 5.0)
    assert len(spec0["observations"][0]["data"]) == probs.size
    assert spec0["observations"][0]["data"][0] == 0.0
    assert spec0["channels"][0]["samples"][0]["data"][0] == 0.0
    pyhf.Workspace(spec0)


def test_write_json_atomic(tmp_path: Path) -> None:
    out = write_json_atomic({"a": 1}, tmp_path / "sub" / "x.json")
    assert json.loads(out.read_text()) == {"a": 1}
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_json_atomic({"a": float("nan")}, tmp_path / "y.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no half-written files


def test_asymptotic_limit_agrees_with_pyhf_cli(tpl, tmp_path: Path) -> None:
    """The exported workspace gives CLs = 1 - CL at our limit in pyhf's own CLI."""
    spec = build_spec(tpl, 20.0, observables="E", background=200.0, background_uncertainty=0.05)
    ul = upper_limit(spec, cl=0.9, method="asymptotic", rtol=1e-8)
    assert ul.method == "asymptotic"
    path = write_json_atomic(spec, tmp_path / "ws.json")
    res = subprocess.run(
        [str(Path(sys.executable).parent / "pyhf"), "cls", str(path), "--test-poi", f"{ul.mu!r}"],
        capture_output=True,
        text=True,
        check=True,
    )
    cls_cli = json.loads(res.stdout)["CLs_obs"]
    np.testing.assert_allclose(cls_cli, 0.1, rtol=1e-4)
    # ... and a counting cross-check: with 200 background events and a shape-less flat
    # search the asymptotic result is close to the exact counting limit on the totals
    flat = build_spec(tpl, 20.0, observables="E", background=200.0, staterror=False)
    ul_flat_exact = upper_limit(flat, method="exact")
    assert 0.3 < ul.events / ul_flat_exact.events < 1.05


def test_asymptotic_matches_exact_for_large_counting() -> None:
    """One-bin-like limit: at large b the asymptotic CLs limit approaches the exact one."""
    t1 = synthetic_template("km", 0.2, bins=(1, 1))
    spec = build_spec(t1, 10.0, observables="E", background=400.0, staterror=False)
    a = upper_limit(spec, method="asymptotic", rtol=1e-8)
    e = upper_limit(spec, method="exact")
    np.testing.assert_allclose(a.events, e.events, rtol=0.03)
    np.testing.assert_allclose(cls_pyhf(spec, a.mu), 0.1, rtol=1e-5)


def test_discovery_exact_against_poisson_and_asimov() -> None:
    d = discovery_significance(10.0, 3.0, n_obs=10)
    np.testing.assert_allclose(d.p0, stats.poisson.sf(9, 3.0), rtol=1e-10)
    np.testing.assert_allclose(d.z, stats.norm.isf(stats.poisson.sf(9, 3.0)), rtol=1e-10)
    # expected (median) significance uses the median of Poisson(s + b)
    d_med = discovery_significance(10.0, 3.0)
    assert d_med.n_obs == stats.poisson.median(13.0)
    # large counts: exact and Asimov agree (within the discreteness, ~ 1/sqrt(b))
    big_e = discovery_significance(150.0, 900.0, method="exact")
    big_a = discovery_significance(150.0, 900.0, method="asimov")
    np.testing.assert_allclose(big_e.z, big_a.z, rtol=0.03)
    # Asimov formula against its small-s limit s / sqrt(b)
    np.testing.assert_allclose(discovery_significance(1.0, 1e6, method="asimov").z, 1e-3, rtol=1e-3)


def test_discovery_toys_seeded_and_consistent() -> None:
    a = discovery_significance(8.0, 2.0, method="toys", n_toys=4000, seed=3)
    b = discovery_significance(8.0, 2.0, method="toys", n_toys=4000, seed=3)
    assert a == b
    exact = discovery_significance(8.0, 2.0, method="exact")
    # the median of the toy Z is the Z of the median count (monotone map): equal up to the
    # sampling error of the median count (+-1 event here)
    lo = discovery_significance(8.0, 2.0, n_obs=exact.n_obs - 1).z
    hi = discovery_significance(8.0, 2.0, n_obs=exact.n_obs + 1).z
    assert lo <= a.z <= hi


def test_discovery_bad_input() -> None:
    with pytest.raises(ValueError, match="zero background"):
        discovery_significance(5.0, 0.0)
    with pytest.raises(ValueError, match="signal events"):
        discovery_significance(-1.0, 1.0)
    with pytest.raises(ValueError, match="method must be one of exact, asimov, toys"):
        discovery_significance(1.0, 1.0, method="magic")


def test_pyhf_discovery_shape() -> None:
    t1 = synthetic_template("km", 0.2, bins=(1, 1))
    obs = [460.0]
    spec = build_spec(t1, 60.0, observables="E", background=400.0, staterror=False, observed=obs)
    d = pyhf_discovery(spec)
    # one bin, no systematics: q0 = 2 [n ln(n/b) - (n - b)], Z = sqrt(q0)
    q0 = 2 * (460 * math.log(460 / 400) - 60)
    np.testing.assert_allclose(d.z, math.sqrt(q0), rtol=1e-4)


def test_pyhf_toys_cls_matches_exact_counting() -> None:
    """One bin, b = 3, n = 3: pyhf's toy CLs at the exact counting limit is 0.1.

    CLs+b and CLb are binomial estimates from 1000 toys each; the tolerance is 4 sigma of
    the propagated binomial error.  numpy's global random state is left untouched.
    """
    t1 = synthetic_template("km", 0.2, bins=(1, 1))
    spec = build_spec(t1, 1.0, observables="E", background=3.0, staterror=False, observed=[3.0])
    exact = upper_limit(spec, method="exact")
    np.testing.assert_allclose(cls_counting(exact.events, 3.0, 3.0), 0.1, rtol=1e-9)
    ok, reason = pyhf_toys_supported()
    if not ok:  # e.g. pyhf 0.7.6 with numpy >= 2.4: refused, naming versions and alternative
        for call in (
            lambda: cls_pyhf(spec, exact.mu, calctype="toybased", ntoys=1000, seed=5),
            lambda: upper_limit(spec, method="toys", seed=5),
        ):
            with pytest.raises(IncompatibleDependencyError, match=r"numpy .*method='exact'"):
                call()
        pytest.skip(f"pyhf toys refused as expected: {reason}")
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    cls = cls_pyhf(spec, exact.mu, calctype="toybased", ntoys=1000, seed=5)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    clb = stats.poisson.cdf(3, 3.0)
    err = math.sqrt(0.1 * clb * (1 - 0.1 * clb) / 1000 + 0.01 * clb * (1 - clb) / 1000) / clb
    assert abs(cls - 0.1) < 4 * err


def test_discovery_deficit_is_zero_significance() -> None:
    """One-sided convention: n <= b gives Z = 0 (never -inf) and the exact p0 <= 1."""
    d0 = discovery_significance(10.0, 1.0, n_obs=0)
    assert d0.z == 0.0
    assert d0.p0 == 1.0
    d1 = discovery_significance(10.0, 3.0, n_obs=1)
    assert d1.z == 0.0
    np.testing.assert_allclose(d1.p0, stats.poisson.sf(0, 3.0), rtol=1e-12)  # 0.95
    # just above the background the exact Z is positive and continuous with the formula
    d5 = discovery_significance(10.0, 3.0, n_obs=5)
    np.testing.assert_allclose(d5.z, stats.norm.isf(stats.poisson.sf(4, 3.0)), rtol=1e-10)
    assert d5.z > 0
    # toys whose median count is below the background: Z = 0 as well
    dt = discovery_significance(1e-3, 50.0, method="toys", n_toys=2001, seed=1)
    assert dt.z >= 0.0
    assert np.isfinite(dt.p0)


def test_counting_limit_whole_counts_and_asimov_workspace(tpl) -> None:
    """Observed counts are whole numbers; Asimov workspaces keep the continuous extension."""
    np.testing.assert_allclose(poisson_upper_limit(3.0, 2.2), poisson_upper_limit(3, 2.2))
    with pytest.raises(ValueError, match=r"whole number .* got 2\.5"):
        poisson_upper_limit(2.5)
    # a workspace whose (background-only Asimov) observations sum to a fractional count
    spec = build_spec(tpl, 5.0, background=2.5, staterror=False)
    n_obs = sum(spec["observations"][0]["data"])
    assert n_obs != round(n_obs)
    ul = upper_limit(spec, method="exact")
    np.testing.assert_allclose(cls_counting(ul.events, n_obs, 2.5), 0.1, rtol=1e-9)


def test_reach_table_is_reach_for_per_model(tmp_path: Path) -> None:
    """Issue 10: one reach table (CLI --out, studies/reach.py, demo) with the columns model,
    mass, coupling, y; its rows are :func:`reach_for` of each model, in the order given."""
    from darkmoments.experiments import get_experiment
    from darkmoments.stats import reach_by_model, reach_for, reach_table
    from darkmoments.stats.limits import REACH_COLUMNS
    from darkmoments.testing.synthetic import write_synthetic_templates

    masses = np.geomspace(0.05, 2.0, 4)
    write_synthetic_templates(tmp_path, "ldmx-phase2", ("km", "md", "ed", "cr", "am"), masses)
    d = str(tmp_path)
    table = reach_table(["md", "km"], "ldmx-phase2", cl=0.95, directory=d)
    assert tuple(table.columns) == REACH_COLUMNS == ("model", "mass", "coupling", "y")
    assert table["model"].tolist() == ["md"] * 4 + ["km"] * 4
    by_model = reach_by_model(table)
    assert list(by_model) == ["md", "km"]
    for mid in ("md", "km"):
        ref = reach_for(mid, "ldmx-phase2", cl=0.95, directory=d)
        got = by_model[mid]
        assert [set(r) for r in got] == [{"mass", "coupling", "y"}] * 4
        for key in ("mass", "coupling", "y"):
            np.testing.assert_allclose([r[key] for r in got], [r[key] for r in ref], rtol=1e-12)
        # the exact 95% CL limit without background is -ln 0.05 = 2.996 events
        n1 = np.array([r["coupling"] for r in got]) ** -2 * -math.log(0.05)
        assert np.all(np.isfinite(n1))
        assert np.all(n1 > 0)
    # 'all': every model in MODEL_IDS order; an Experiment object is accepted as is
    full = reach_table("all", get_experiment("ldmx-phase2"), directory=d)
    assert list(dict.fromkeys(full["model"])) == ["km", "md", "ed", "cr", "am"]
    assert len(full) == 20
    for bad, needle in (("xx", "unknown model"), (["km", "KM"], "twice"), ([], "no model")):
        with pytest.raises(ValueError, match=needle):
            reach_table(bad, "ldmx-phase2", directory=d)
    with pytest.raises(ValueError, match="confidence level"):
        reach_table("km", "ldmx-phase2", cl=1.5, directory=d)


def test_exact_limit_of_a_combined_workspace_counts_every_channel() -> None:
    """Counting on the totals sums the channels (one per experiment) of a combined workspace.

    LDMX Phase I + II at km 0.1 GeV, shared mu: the signal totals of both channels add up,
    so the zero-background 90 % CL limit is 2.303 events on their sum (mu = 2.303 / total),
    the same as one channel holding both yields.  One mu per experiment has no single
    signal strength for the totals and is refused.
    """
    from darkmoments.errors import InputError
    from darkmoments.stats.combined import combined_workspace

    spec = combined_workspace("km", 0.1, "ldmx-phase1,ldmx-phase2", coupling=1e-5, observables="E")
    totals = [sum(ch["samples"][0]["data"]) for ch in spec["channels"]]
    assert len(totals) == 2
    assert min(totals) > 0
    lim = upper_limit(spec, method="exact")
    n90 = -math.log(0.1)  # 2.303 events: P(0 | s) = 0.1
    assert lim.events == pytest.approx(n90, rel=1e-6)
    assert lim.mu == pytest.approx(n90 / sum(totals), rel=1e-6)
    free = combined_workspace(
        "km", 0.1, "ldmx-phase1,ldmx-phase2", coupling=1e-5, observables="E", normalisation="free"
    )
    with pytest.raises(InputError, match="one signal strength"):
        upper_limit(free, method="exact")
