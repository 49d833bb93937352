"""Combined likelihoods over several experiments (darkmoments.stats.combined).

* one experiment: the combined fit is the fast path's (free, tied, tied with a nuisance;
  Barlow-Beeston; grid nodes and refined masses);
* two identical experiments are one experiment with twice the luminosity: the statistic,
  the fitted masses and the Asimov luminosity for 3 and 5 sigma agree exactly (plain Poisson:
  the same template counted twice is not two independent MC samples);
* the combined deviance equals pyhf's fit of the combined workspace (one channel per
  experiment, shared POI, per-experiment and shared log-normal normsys) to 1e-6;
* the combined test is calibrated: p-values of data from the alternative are uniform within
  the binomial error, for free and for shared normalisations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from darkmoments.stats import DiscriminationSetup, ShapeGrid, asimov
from darkmoments.stats.combined import (
    PYHF_MODIFIER_SETTINGS,
    CombinedHypothesis,
    CombinedSetup,
    CombinedSystematics,
    combined_alternative_point,
    combined_asimov,
    combined_events_for_significance,
    combined_p_values,
    combined_spec,
    combined_statistic,
    deviance_at_masses,
    profile_combined,
    profile_normalisation,
)
from darkmoments.stats.fast import profile_mass, xlogx
from darkmoments.stats.toys import alternative_point
from darkmoments.testing.synthetic import synthetic_grid_templates, synthetic_template

MASSES = np.geomspace(0.05, 2.0, 8)
N_MC = 400


def _mc_grid(
    model: str, seed: int, beam: float = 8.0, bins: tuple[int, int] = (10, 8)
) -> ShapeGrid:
    """Synthetic shapes resampled with N_MC = 400 MC events per mass (empty tail bins)."""
    g = ShapeGrid.from_templates(
        synthetic_grid_templates(model, MASSES, bins=bins, beam_energy=beam),
        "E,pt",
        events_per_pb=22.2,
    )
    rng = np.random.default_rng(seed)
    probs = np.array([rng.multinomial(N_MC, p / p.sum()) / N_MC for p in g.probs])
    return ShapeGrid(model, g.masses, probs, probs * (1 - probs) / N_MC, g.n1, g.observables)


def _smooth(model: str, beam: float = 8.0, bins: tuple[int, int] = (10, 8)) -> ShapeGrid:
    return ShapeGrid.from_templates(
        synthetic_grid_templates(model, MASSES, bins=bins, beam_energy=beam),
        "E,pt",
        events_per_pb=22.2,
    )


@pytest.fixture(scope="module")
def pair() -> tuple[ShapeGrid, ShapeGrid]:
    gt, ga = _mc_grid("km", 1), _mc_grid("md", 2)
    assert np.any(gt.probs == 0)  # empty template bins exercised
    return gt, ga


def _toys(grid: ShapeGrid, mass: float, n: float, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(asimov(grid, mass, n), size=(size, grid.n_bins)).astype(float)


# ----------------------------------------------------------------------------- one experiment


@pytest.mark.parametrize("refine", [False, True])
def test_one_experiment_is_the_fast_path(pair, refine: bool) -> None:
    gt, ga = pair
    c = _toys(gt, 1.0, 60.0, 12, 5)
    assert gt.n1 is not None
    rates = 60.0 * gt.n1 / gt.rate(1.0)
    ref = profile_mass(c, ga, refine=refine)
    for mode in ("free", "shared"):
        r = profile_combined(
            c, CombinedHypothesis("md", (ga,), (ga.n1,)), normalisation=mode, refine=refine
        )
        np.testing.assert_allclose(r.deviance, ref.deviance, rtol=0, atol=1e-9)
        np.testing.assert_allclose(r.mass, ref.mass, rtol=1e-7)
        np.testing.assert_allclose(r.norm[0], ref.norm, rtol=1e-9)
    hyp = CombinedHypothesis("km", (gt,), (rates,))
    ref = profile_mass(c, gt, rates=rates, refine=refine)
    r = profile_combined(c, hyp, normalisation="tied", refine=refine)
    np.testing.assert_allclose(r.deviance, ref.deviance, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.mass, ref.mass, rtol=1e-7)
    # an experiment nuisance and the theory one act as one of width sqrt(s1^2 + sT^2)
    syst = CombinedSystematics((0.06,), 0.08)
    s1, s_t = syst.widths()
    ref = profile_mass(c, gt, rates=rates, refine=refine, rate_sigma=math.hypot(s1[0], s_t))
    r = profile_combined(c, hyp, normalisation="tied", refine=refine, systematics=syst)
    np.testing.assert_allclose(r.deviance, ref.deviance, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.mass, ref.mass, rtol=1e-7)
    np.testing.assert_allclose(r.norm[0], ref.norm, rtol=1e-7)


def test_one_experiment_asimov_point_is_the_single_one(pair) -> None:
    gt, ga = pair
    ht = CombinedHypothesis("km", (gt,), (gt.n1,))
    ha = CombinedHypothesis("md", (ga,), (ga.n1,))
    m, norm, t = combined_alternative_point(CombinedSetup(("x",), ht, ha, 1.0, (30.0,)))
    m0, n0, t0 = alternative_point(DiscriminationSetup(gt, ga, 1.0, 30.0))
    assert (m, norm[0], t) == pytest.approx((m0, n0, t0), rel=1e-9, abs=1e-10)


def test_normalisation_profile_against_a_direct_minimisation() -> None:
    """Two experiments, shared coupling, one nuisance each: Newton = Nelder-Mead on 3 params."""
    from scipy.optimize import minimize

    n = np.array([12.0, 3.0])
    s = np.array([1.0, 0.98])
    ne = np.array([400.0, np.inf])
    lnr = np.log(np.array([10.0, 5.0]))
    w = np.log1p(np.array([0.1, 0.2]))
    val, x = profile_normalisation(n, s, ne, lnr, normalisation="shared", widths=w)

    def g(k: int, lnmu: float) -> float:
        mu = math.exp(lnmu)
        if np.isfinite(ne[k]):
            a = ne[k] * s[k]
            return (n[k] + a) * math.log1p(mu / ne[k]) - n[k] * math.log(mu / ne[k])
        return mu * s[k] - n[k] * lnmu - n[k]

    g_free = [g(k, math.log(n[k] / s[k])) for k in range(2)]

    def f(p: np.ndarray) -> float:
        xs = lnr + p[0] + p[1:]
        return sum(2 * (g(k, xs[k]) - g_free[k]) for k in range(2)) + float(
            np.sum(p[1:] ** 2 / w**2)
        )

    res = minimize(f, np.zeros(3), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12})
    assert val == pytest.approx(res.fun, abs=1e-8)
    np.testing.assert_allclose(x, lnr + res.x[0] + res.x[1:], atol=1e-4)


# ----------------------------------------------------------------------------- twice the luminosity


@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize(("mode", "theory"), [("shared", 0.0), ("tied", 0.0), ("tied", 0.1)])
def test_two_identical_experiments_are_twice_the_luminosity(refine, mode, theory) -> None:
    gt, ga = _smooth("km"), _smooth("md")
    assert gt.n1 is not None
    assert ga.n1 is not None
    r_t, r_a = 60.0 * gt.n1 / gt.rate(1.0), 60.0 * ga.n1 / ga.rate(1.0) * 1.3
    one = [CombinedHypothesis(g.model, (g,), (r,)) for g, r in ((gt, r_t), (ga, r_a))]
    two = [CombinedHypothesis(g.model, (g, g), (r / 2, r / 2)) for g, r in ((gt, r_t), (ga, r_a))]
    syst1 = None if theory == 0 else CombinedSystematics((0.0,), theory)
    syst2 = None if theory == 0 else CombinedSystematics((0.0, 0.0), theory)
    half = [_toys(gt, 1.0, 30.0, 10, s) for s in (11, 12)]
    both = half[0] + half[1]
    kw = {"normalisation": mode, "refine": refine, "mc_stat": False}
    sat = 2.0 * np.sum(xlogx(half[0]) + xlogx(half[1]) - xlogx(both), axis=1)
    for h1, h2 in zip(one, two, strict=True):
        p1 = profile_combined(both, h1, systematics=syst1, **kw)
        p2 = profile_combined(half, h2, systematics=syst2, **kw)
        # the same likelihood up to the data-only constant of splitting the counts
        np.testing.assert_allclose(
            p2.deviance, p1.deviance + sat + 2 * both.sum(1) * math.log(2), atol=1e-8
        )
        np.testing.assert_allclose(p2.mass, p1.mass, rtol=1e-7)
        np.testing.assert_allclose(p2.norm, np.vstack([p1.norm, p1.norm]) / 2, rtol=1e-6)
    s1 = CombinedSetup(
        ("a",), one[0], one[1], 1.0, (60.0,), mode, syst1, refine=refine, mc_stat=False
    )
    s2 = CombinedSetup(
        ("a", "b"), two[0], two[1], 1.0, (30.0, 30.0), mode, syst2, refine=refine, mc_stat=False
    )
    np.testing.assert_allclose(
        combined_statistic(half, s2), combined_statistic(both, s1), atol=1e-8
    )
    a1, a2 = combined_alternative_point(s1), combined_alternative_point(s2)
    assert a2[0] == pytest.approx(a1[0], rel=1e-7)
    assert a2[2] == pytest.approx(a1[2], rel=1e-8)
    assert a2[2] > 1.0
    for z in (3.0, 5.0):
        k1, k2 = combined_events_for_significance(s1, z), combined_events_for_significance(s2, z)
        assert k1 is not None
        assert k2 is not None
        assert k2 == pytest.approx(k1, rel=1e-7)


def test_free_normalisations_separate_what_a_shared_coupling_ties() -> None:
    """Each experiment's own free normalisation can only lower the deviance, and the model's
    rate ratio between two beams is information: shared >= free on every toy."""
    g8, g15 = _smooth("km"), _smooth("km", beam=15.0)
    assert g8.n1 is not None
    assert g15.n1 is not None
    hyp = CombinedHypothesis("km", (g8, g15), (g8.n1, 0.3 * g15.n1))
    c = np.concatenate([_toys(g8, 0.5, 40.0, 20, 1), _toys(g15, 0.5, 25.0, 20, 2)], axis=1)
    free = profile_combined(c, hyp, normalisation="free")
    shared = profile_combined(c, hyp, normalisation="shared")
    assert np.all(shared.deviance >= free.deviance - 1e-9)
    assert np.max(shared.deviance - free.deviance) > 1.0  # 40:25 against the predicted ratio


# ----------------------------------------------------------------------------- pyhf


def _saturated(row: np.ndarray) -> float:
    x = row
    return float(
        -2 * np.sum(np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0) - x - gammaln(x + 1))
    )


def test_combined_deviance_equals_the_combined_pyhf_workspace() -> None:
    """Two experiments (8 GeV and 15 GeV binnings), shared POI, one log-normal normsys per
    experiment and a shared theory one: pyhf's fit (code1 normsys, Minuit) equals the fast
    path's profile to 1e-6 for shared, tied and free normalisations."""
    import pyhf

    from darkmoments.stats.limits import pyhf_backend

    m = 0.5
    t8 = {x: synthetic_template(x, m, beam_energy=8.0, bins=(10, 8)) for x in ("km", "md")}
    t15 = {
        x: synthetic_template(x, m, beam_energy=15.0, bins=(8, 6), pt_max=2.0) for x in ("km", "md")
    }
    n_sig = {"km": (40.0, 25.0), "md": (55.0, 18.0)}
    hyp = {
        x: CombinedHypothesis(
            x,
            (ShapeGrid.from_templates([t8[x]]), ShapeGrid.from_templates([t15[x]])),
            (np.array([n_sig[x][0]]), np.array([n_sig[x][1]])),
        )
        for x in ("km", "md")
    }
    syst = CombinedSystematics((0.08, 0.15), 0.1)
    lam = combined_asimov(hyp["km"], m, [48.0, 30.0])
    toys = np.random.default_rng(3).poisson(lam, size=(3, lam.size)).astype(float)
    n8 = hyp["km"].grids[0].n_bins
    for mode in ("shared", "tied", "free"):
        sy = None if mode == "free" else syst
        for x in ("km", "md"):
            fast = deviance_at_masses(
                toys, hyp[x], [m], normalisation=mode, systematics=sy, mc_stat=False
            )[0][:, 0]
            ref = []
            for row in toys:
                spec = combined_spec(
                    [t8[x], t15[x]],
                    n_sig[x],
                    ["ldmx", "m3"],
                    normalisation=mode,
                    systematics=sy,
                    observed=[row[:n8], row[n8:]],
                    layout="full",
                    staterror=False,
                )
                ws = pyhf.Workspace(spec)
                model = ws.model(modifier_settings=PYHF_MODIFIER_SETTINGS)
                with pyhf_backend("minuit", tolerance=1e-10):
                    _, twice_nll = pyhf.infer.mle.fit(
                        ws.data(model),
                        model,
                        par_bounds=model.config.suggested_bounds(),
                        fixed_params=model.config.suggested_fixed(),
                        return_fitted_val=True,
                    )
                gauss = [
                    p
                    for p in model.config.par_order
                    if getattr(model.config.param_set(p), "pdf_type", "") == "normal"
                ]
                assert len(gauss) == {"free": 0, "shared": 2, "tied": 3}[mode]
                ref.append(float(twice_nll) - _saturated(row) - len(gauss) * math.log(2 * math.pi))
            assert np.all(fast > 10.0)  # non-trivial values
            np.testing.assert_allclose(ref, fast, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("mode", ["free", "shared"])
def test_combined_p_values_are_uniform_under_the_alternative(mode: str) -> None:
    """Two experiments (8 and 15 GeV), km at 0.5 GeV vs md: 200 data sets from the
    alternative's Asimov best fit, 49 toys each (p in {1/50, ..., 1}); P(p <= alpha) = alpha
    within 3 binomial standard deviations (alpha = 0.06, 0.10, 0.32), and the mean p is its
    uniform value 51/100 within 3 standard errors."""
    grids = {
        (x, e): ShapeGrid.from_templates(
            synthetic_grid_templates(x, MASSES, bins=(6, 5), beam_energy=e),
            "E,pt",
            events_per_pb=1.0,
        )
        for x in ("km", "md")
        for e in (8.0, 15.0)
    }
    hyp = {
        x: CombinedHypothesis(
            x, (grids[(x, 8.0)], grids[(x, 15.0)]), (grids[(x, 8.0)].n1, 0.5 * grids[(x, 15.0)].n1)
        )
        for x in ("km", "md")
    }
    syst = None if mode == "free" else CombinedSystematics((0.05, 0.05))
    n_true = (25.0, 15.0)
    setup = CombinedSetup(("a", "b"), hyp["km"], hyp["md"], 0.5, n_true, mode, syst)
    m_star, norm_star, t_a = combined_alternative_point(setup)
    assert t_a > 2.0
    lam = combined_asimov(hyp["md"], m_star, norm_star)
    d = 200
    rng = np.random.default_rng(7 if mode == "free" else 8)
    data = rng.poisson(lam, size=(d, lam.size)).astype(float)
    p = combined_p_values(data, setup, 49, seed=int(rng.integers(2**31)))
    for alpha in (0.06, 0.10, 0.32):
        frac = float(np.mean(p <= alpha + 1e-12))
        assert abs(frac - alpha) < 3 * math.sqrt(alpha * (1 - alpha) / d), (alpha, frac)
    assert abs(p.mean() - 0.51) < 3 * 0.2887 / math.sqrt(d)


def test_bad_input(pair) -> None:
    gt, ga = pair
    with pytest.raises(ValueError, match="every grid must hold model km"):
        CombinedHypothesis("km", (gt, ga))
    with pytest.raises(ValueError, match="normalisation must be one of free, shared, tied"):
        profile_combined(
            _toys(gt, 1.0, 10.0, 2, 1), CombinedHypothesis("km", (gt,)), normalisation="x"
        )
    with pytest.raises(ValueError, match="needs the hypotheses' rates"):
        profile_combined(
            _toys(gt, 1.0, 10.0, 2, 1), CombinedHypothesis("km", (gt,)), normalisation="tied"
        )
    h = CombinedHypothesis("km", (gt, gt), (gt.n1, gt.n1))
    with pytest.raises(ValueError, match="counts for 1 experiments"):
        profile_combined([_toys(gt, 1.0, 10.0, 2, 1)], h)
    low = ShapeGrid("km", gt.masses[:3], gt.probs[:3], gt.variances[:3], None, gt.observables)
    high = ShapeGrid("km", gt.masses[5:], gt.probs[5:], gt.variances[5:], None, gt.observables)
    with pytest.raises(ValueError, match="do not overlap"):
        CombinedHypothesis("km", (low, high))
    with pytest.raises(ValueError, match="differs from the tied true rate"):
        CombinedSetup(
            ("a",),
            CombinedHypothesis("km", (gt,), (gt.n1,)),
            CombinedHypothesis("md", (ga,), (ga.n1,)),
            1.0,
            (3.0,),
            "tied",
        )


# ----------------------------------------------------------------------------- entry points


@pytest.fixture(scope="module")
def two_ldmx(tmp_path_factory) -> str:
    """Synthetic LDMX Phase I and II template files (km, md, am) in one directory."""
    from darkmoments.testing.synthetic import write_synthetic_templates

    d = tmp_path_factory.mktemp("combined-templates")
    for exp in ("ldmx-phase1", "ldmx-phase2"):
        write_synthetic_templates(d, exp, ("km", "md", "am"), np.geomspace(0.01, 1.5, 9))
    return str(d)


def test_parse_experiments() -> None:
    from darkmoments.stats.combined import parse_experiments

    exps = parse_experiments("ldmx-phase1, ldmx-phase2,m3-phase2")
    assert [e.name for e in exps] == ["ldmx-phase1", "ldmx-phase2", "m3-phase2"]
    with pytest.raises(ValueError, match="given twice"):
        parse_experiments("ldmx-phase2,ldmx-phase2")
    with pytest.raises(ValueError, match="unknown experiment 'na64'"):
        parse_experiments("ldmx-phase2,na64")
    with pytest.raises(ValueError, match="no experiment given"):
        parse_experiments(" , ")


def test_combined_setup_reach_workspace_degeneracy_and_fit(two_ldmx: str) -> None:
    import pyhf

    from darkmoments import templates
    from darkmoments.relic import target
    from darkmoments.stats.combined import (
        combined_degeneracy,
        combined_reach,
        combined_setup,
        combined_workspace,
        combined_yields,
        fit_mass_combined,
        load_hypothesis,
    )

    exps = "ldmx-phase1,ldmx-phase2"
    hyp = load_hypothesis("km", exps, directory=two_ldmx)
    assert hyp.rates is not None
    y = templates.signal_yield("km", 0.1, 1.0, "ldmx-phase1", directory=two_ldmx)
    assert hyp.rate(0, 0.1) == pytest.approx(y.n_signal, rel=1e-9)  # thin: no depth factor
    ys = combined_yields("km", 0.1, 1.0, exps, directory=two_ldmx)
    assert [r["n_signal"] for r in ys] == pytest.approx(
        [hyp.rate(0, 0.1), hyp.rate(1, 0.1)], rel=1e-6
    )
    # reach: the counting limit on the summed signal
    rows = combined_reach("km", exps, [0.1], directory=two_ldmx)
    total = hyp.rate(0, 0.1) + hyp.rate(1, 0.1)
    assert rows[0]["coupling"] == pytest.approx(math.sqrt(-math.log(0.1) / total), rel=1e-9)
    # relic setup: the true events at a grid node are the relic-target yields there (between
    # nodes the rates are interpolated, as the fits do)
    node = float(hyp.grids[0].masses[4])
    s = combined_setup(f"km:{node!r}", "md", exps, statistic="shape+rate", directory=two_ldmx)
    g = float(target("km", node).coupling)
    for i in range(2):
        assert s.n_true[i] == pytest.approx(g**2 * hyp.rate(i, node), rel=1e-9)
    assert s.normalisation == "tied"
    assert s.systematics is not None
    # degeneracy curve and its minimum, and a mass fit of the true model to its Asimov data
    shape = combined_setup("km:0.1", "md", exps, signal_events=200.0, directory=two_ldmx)
    assert sum(shape.n_true) == pytest.approx(200.0, rel=1e-12)
    deg = combined_degeneracy(shape)
    m_alt, _, t_a = combined_alternative_point(shape)
    assert deg.best_delta == pytest.approx(t_a, rel=1e-9, abs=1e-9)
    assert deg.best_mass == pytest.approx(m_alt, rel=1e-9)
    assert np.min(deg.delta) >= deg.best_delta - 1e-6  # the continuous minimum is below
    data = combined_asimov(shape.true, 0.1, shape.n_true)[None, :]
    fit = fit_mass_combined(data, shape.true)
    assert fit.mass == pytest.approx(0.1, rel=1e-3)
    assert fit.lower is not None
    assert fit.upper is not None
    assert fit.lower < 0.1 < fit.upper
    # the combined workspace: one channel per experiment, valid for pyhf
    spec = combined_workspace("km", 0.1, exps, coupling=1e-4, directory=two_ldmx)
    assert [c["name"] for c in spec["channels"]] == ["ldmx-phase1", "ldmx-phase2"]
    model = pyhf.Workspace(spec).model(modifier_settings=PYHF_MODIFIER_SETTINGS)
    assert "mu" in model.config.parameters
    assert {"norm_ldmx-phase1", "norm_ldmx-phase2"} <= set(model.config.parameters)
    with pytest.raises(ValueError, match="signal_events fixes the true events"):
        combined_setup(
            "km:0.1", "md", exps, statistic="shape+rate", signal_events=5.0, directory=two_ldmx
        )


def test_thick_target_rates_carry_the_depth_factor(tmp_path) -> None:
    """M3: N1 = events_per_pb x sigma(E0) x f with f from the generator (3 masses, ~3 s)."""
    from darkmoments.experiments import EXPERIMENTS
    from darkmoments.stats.combined import load_hypothesis
    from darkmoments.testing.synthetic import write_synthetic_templates

    masses = np.array([0.05, 0.2, 1.0])
    write_synthetic_templates(tmp_path, "m3-phase2", ("km",), masses)
    hyp = load_hypothesis("km", "m3-phase2", directory=str(tmp_path))
    exp = EXPERIMENTS["m3-phase2"]
    g = hyp.grids[0]
    f = np.asarray(exp.depth_factor("km", g.masses))
    assert np.all(f < 1.0)
    assert f[-1] < 0.97
    assert g.n1 is not None
    assert hyp.rates is not None
    from darkmoments import templates

    for i, m in enumerate(g.masses):
        t = templates.load("km", float(m), exp, directory=str(tmp_path))
        assert hyp.rates[0][i] == pytest.approx(exp.events_per_pb * t.sigma_pb * f[i], rel=1e-9)
