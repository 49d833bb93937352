"""A user-supplied background in the statistics (issue 13, item 4).

* zero background is exactly no background (reach, likelihood, Asimov data);
* the reach with a background b is the exact counting CLs limit at n = b: weaker than
  without, CLs = 1 - CL there by an independent Poisson computation, with a normalisation
  uncertainty by an independent quadrature of the log-normal average;
* discovery: Asimov Z = Cowan et al. eq. 97 without uncertainty and pyhf's profiled q0
  (normsys, interpolation code 1) with one; the exact p0 with an uncertainty = quadrature;
* the discrimination likelihood with a background (Barlow-Beeston with the closed-form
  quadratic for A_b, signal and background normalisations profiled) equals pyhf (numerical
  shapesys gammas, background normsys) and iminuit fits of the same likelihood to 1e-6;
* backgrounds from files, flat totals and the experiment's [background] table.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.special import gammainc, gammaincc

from darkmoments.experiments import EXPERIMENTS, Background
from darkmoments.stats import ShapeGrid, asimov
from darkmoments.stats.discovery import discovery_for, discovery_significance
from darkmoments.stats.fast import deviance_fixed, deviance_grid, profile_mass
from darkmoments.stats.fits import deviance
from darkmoments.stats.inputs import project_background, resolve_background
from darkmoments.stats.limits import event_limit, poisson_upper_limit, reach_for
from darkmoments.stats.reference import (
    minuit_profile,
    reference_statistic_iminuit,
    reference_statistic_pyhf,
)
from darkmoments.stats.toys import DiscriminationSetup
from darkmoments.testing.synthetic import synthetic_grid_templates

EXP = EXPERIMENTS["ldmx-phase2"]
MASSES = np.geomspace(0.05, 2.0, 8)
N_MC = 400


@pytest.fixture(scope="module")
def tdir(synthetic_templates) -> Path:
    return synthetic_templates(("km", "md"), MASSES)


def _mc_grid(model: str, seed: int) -> ShapeGrid:
    """Synthetic E shapes resampled with N_MC = 400 MC events per mass (empty tail bins)."""
    g = ShapeGrid.from_templates(
        synthetic_grid_templates(model, MASSES, bins=(10, 8)), "E", events_per_pb=22.2
    )
    rng = np.random.default_rng(seed)
    probs = np.array([rng.multinomial(N_MC, p / p.sum()) / N_MC for p in g.probs])
    return ShapeGrid(model, g.masses, probs, probs * (1 - probs) / N_MC, g.n1, g.observables)


@pytest.fixture(scope="module")
def pair() -> tuple[ShapeGrid, ShapeGrid]:
    gt, ga = _mc_grid("km", 1), _mc_grid("md", 2)
    assert np.any(gt.probs == 0)  # empty template bins exercised
    return gt, ga


def _background(n_bins: int) -> np.ndarray:
    b = np.linspace(0.5, 4.0, n_bins)
    b[2] = 0.0  # a bin without background
    return b


def _toys(gt: ShapeGrid, b: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.poisson(asimov(gt, 1.0, 60.0, background=b), size=(n, gt.n_bins)).astype(float)
    c[0, int(np.argmin(gt.probs[5] + gt.probs[6]))] += 1  # where the true template is empty
    return c


# ----------------------------------------------------------------------------- zero


def test_zero_background_is_exactly_no_background(pair, tdir: Path) -> None:
    gt, ga = pair
    zero = np.zeros(gt.n_bins)
    c = _toys(gt, zero, 4, 3)
    for kw in ({}, {"rates": 60.0 * gt.n1 / gt.rate(1.0), "rate_sigma": 0.1}):
        ref = profile_mass(c, ga, **kw)
        got = profile_mass(c, ga, background=zero, background_sigma=0.3, **kw)
        assert np.array_equal(ref.deviance, got.deviance)
        assert np.array_equal(ref.mass, got.mass)
        assert np.array_equal(ref.norm, got.norm)
        assert got.background_scale is None
    assert np.array_equal(deviance_grid(c, ga), deviance_grid(c, ga, background=zero))
    assert np.array_equal(asimov(gt, 0.3, 10.0), asimov(gt, 0.3, 10.0, background=zero))
    none = reach_for("km", EXP, directory=str(tdir))
    assert reach_for("km", EXP, directory=str(tdir), background=0.0) == none
    assert reach_for("km", EXP, directory=str(tdir), background=np.zeros(40 * 48)) == none


# ----------------------------------------------------------------------------- reach


def test_reach_with_background_is_the_exact_poisson_limit(tdir: Path) -> None:
    none = reach_for("km", EXP, directory=str(tdir))
    b = 4.0
    rows = reach_for("km", EXP, directory=str(tdir), background=b)
    s_up = poisson_upper_limit(4, b, 0.9)  # the Asimov n = b is the whole number 4
    # CLs = P(n <= 4 | s + b) / P(n <= 4 | b) = 0.1 at the limit, by scipy's Poisson CDF
    cls = stats.poisson.cdf(4, s_up + b) / stats.poisson.cdf(4, b)
    assert cls == pytest.approx(0.1, rel=1e-9)
    assert s_up > -math.log(0.1)
    for r, r0 in zip(rows, none, strict=True):
        # g scales as sqrt(N): the ratio of the limits is sqrt(s_up / 2.303)
        assert r["coupling"] == pytest.approx(r0["coupling"] * math.sqrt(s_up / -math.log(0.1)))
        assert r["coupling"] > r0["coupling"]
    # an observed count gives the observed limit
    obs = reach_for("km", EXP, directory=str(tdir), background=b, n_obs=7)
    ratio = (obs[0]["coupling"] / none[0]["coupling"]) ** 2
    assert ratio * -math.log(0.1) == pytest.approx(poisson_upper_limit(7, b), rel=1e-9)


@pytest.mark.parametrize(
    ("n", "b", "sigma_rel"), [(4.0, 4.0, 0.5), (2.0, 0.7, 2.0), (9.3, 9.3, 0.1)]
)
def test_limit_with_uncertainty_equals_the_log_normal_average(n, b, sigma_rel) -> None:
    """At the limit, the log-normal average of the Poisson CDFs (by quad) gives CLs = 0.1."""
    s_up = event_limit(n, b, 0.9, background_uncertainty=sigma_rel)
    s_b = math.log1p(sigma_rel)

    def mean_cdf(s: float) -> float:
        def f(z: float) -> float:
            return stats.norm.pdf(z) * gammaincc(n + 1.0, s + b * math.exp(s_b * z))

        return quad(f, -12, 12, epsabs=1e-14, epsrel=1e-12, limit=200)[0]

    assert mean_cdf(s_up) / mean_cdf(0.0) == pytest.approx(0.1, rel=1e-8)
    known = event_limit(n, b, 0.9)
    assert s_up > known  # an uncertain background weakens the limit
    assert event_limit(n, b, 0.9, background_uncertainty=0.0) == known


def test_reach_uses_the_experiments_background_at_its_level(tdir: Path) -> None:
    counts = np.full(EXP.binning.shape, 3.0 / (40 * 48))
    bkg = Background(counts, EXP.binning.e_edges, EXP.binning.pt_edges, 0.2, "truth", "t")
    exp = dataclasses.replace(EXP, background=bkg)
    rows = reach_for("km", exp, directory=str(tdir))
    ref = reach_for("km", EXP, directory=str(tdir), background=3.0, background_uncertainty=0.2)
    for r, r_ref in zip(rows, ref, strict=True):
        assert r["coupling"] == pytest.approx(r_ref["coupling"], rel=1e-12)
    det_only = dataclasses.replace(EXP, background=dataclasses.replace(bkg, level="detector"))
    assert reach_for("km", det_only, directory=str(tdir)) == reach_for(
        "km", EXP, directory=str(tdir)
    )


# ----------------------------------------------------------------------------- discovery


@pytest.mark.parametrize(("s", "b"), [(5.0, 3.0), (20.0, 50.0), (3.0, 0.4)])
def test_asimov_discovery_is_cowan_eq97(s: float, b: float) -> None:
    d = discovery_significance(s, b, method="asimov")
    assert d.z == pytest.approx(math.sqrt(2.0 * ((s + b) * math.log(1.0 + s / b) - s)), rel=1e-14)


@pytest.mark.parametrize(
    ("s", "b", "sigma_rel"), [(5.0, 3.0, 0.3), (20.0, 50.0, 0.1), (3.0, 1.0, 1.0)]
)
def test_asimov_discovery_with_uncertainty_is_pyhfs_profiled_q0(s, b, sigma_rel) -> None:
    import pyhf

    from darkmoments.stats.limits import pyhf_backend

    hi = 1.0 + sigma_rel
    bkg_mods = [{"name": "bkg_norm", "type": "normsys", "data": {"hi": hi, "lo": 1.0 / hi}}]
    spec = {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {
                        "name": "signal",
                        "data": [s],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "background", "data": [b], "modifiers": bkg_mods},
                ],
            }
        ]
    }
    settings = {"normsys": {"interpcode": "code1"}, "histosys": {"interpcode": "code0"}}
    model = pyhf.Model(spec, poi_name="mu", modifier_settings=settings)
    data = [s + b, *model.config.auxdata]
    with pyhf_backend("minuit", tolerance=1e-10):
        q0 = pyhf.infer.test_statistics.q0(
            0.0,
            data,
            model,
            model.config.suggested_init(),
            model.config.suggested_bounds(),
            model.config.suggested_fixed(),
        )
    d = discovery_significance(s, b, method="asimov", background_uncertainty=sigma_rel)
    assert d.z == pytest.approx(math.sqrt(float(q0)), rel=1e-7)
    assert d.z < discovery_significance(s, b, method="asimov").z


def test_exact_discovery_with_uncertainty_averages_p0() -> None:
    s, b, sigma_rel, n_obs = 6.0, 2.5, 0.4, 8
    d = discovery_significance(s, b, n_obs=n_obs, background_uncertainty=sigma_rel)
    s_b = math.log1p(sigma_rel)
    p0 = quad(
        lambda z: stats.norm.pdf(z) * gammainc(n_obs, b * math.exp(s_b * z)),
        -12,
        12,
        epsabs=1e-15,
        epsrel=1e-12,
    )[0]
    assert d.p0 == pytest.approx(p0, rel=1e-9)
    plain = discovery_significance(s, b, n_obs=n_obs)
    assert plain.p0 == pytest.approx(stats.poisson.sf(n_obs - 1, b), rel=1e-10)
    assert d.z < plain.z


def test_discovery_for_a_model_over_the_experiments_background(tdir: Path) -> None:
    from darkmoments.templates import signal_yield

    counts = np.full(EXP.binning.shape, 5.0 / (40 * 48))
    bkg = Background(counts, EXP.binning.e_edges, EXP.binning.pt_edges, 0.3, "truth", "t")
    exp = dataclasses.replace(EXP, background=bkg)
    n_sig, b, unc, d = discovery_for("km", 0.3, 1e-6, exp, directory=str(tdir))
    assert n_sig == signal_yield("km", 0.3, 1e-6, EXP, directory=str(tdir)).n_signal
    assert b == pytest.approx(5.0, rel=1e-12)
    assert unc == 0.3
    assert d == discovery_significance(n_sig, b, background_uncertainty=0.3)
    with pytest.raises(ValueError, match="needs a background"):
        discovery_for("km", 0.3, 1e-6, EXP, directory=str(tdir))


# ----------------------------------------------------------------------------- likelihood


def test_closed_form_bin_nuisance_with_background() -> None:
    """min over A_b of -2 ln [Pois(n | nu A + b) Pois(a | A)] - saturated = the closed form."""
    n_eff = 50.0
    p = np.array([0.3, 0.0, 0.02, 0.68, 0.0])
    n = np.array([4.0, 2.0, 0.0, 9.0, 0.0])
    b = np.array([1.5, 0.7, 2.0, 0.0, 0.0])
    mu = 14.0
    a = n_eff * p

    def one_bin(nb: float, ab: float, bb: float) -> float:
        def f(ln_a: float) -> float:
            big_a = math.exp(ln_a)
            lam = mu / n_eff * big_a + bb
            val = lam - (nb * math.log(lam) if nb > 0 else 0.0) + big_a
            val -= ab * math.log(big_a) if ab > 0 else 0.0
            sat = (nb - nb * math.log(nb) if nb > 0 else 0.0) + (
                ab - ab * math.log(ab) if ab > 0 else 0.0
            )
            return 2.0 * (val - sat)

        opts = {"xatol": 1e-12}
        return minimize_scalar(f, bounds=(-40, 10), method="bounded", options=opts).fun

    numeric = sum(one_bin(*x) for x in zip(n, a, b, strict=True))
    np.testing.assert_allclose(deviance(n, p, mu, n_eff=n_eff, background=b), numeric, atol=1e-8)
    fast = deviance_grid(n[None], p[None], np.array([mu]), n_eff=n_eff, background=b)[0, 0]
    np.testing.assert_allclose(fast, numeric, atol=1e-8)


@pytest.mark.parametrize("background_sigma", [None, 0.3])
@pytest.mark.parametrize("refine", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_fast_background_equals_pyhf_and_iminuit(pair, refine: bool, background_sigma) -> None:
    gt, ga = pair
    b = _background(gt.n_bins)
    counts = _toys(gt, b, 3, 7)
    kw = {"background": b, "background_sigma": background_sigma}
    fast = profile_mass(counts, ga, refine=refine, **kw)
    tru = profile_mass(counts, gt, refine=refine, **kw)
    t = fast.deviance - tru.deviance
    ref_pyhf = reference_statistic_pyhf(counts, gt, ga, refine=refine, **kw)
    ref_minuit = reference_statistic_iminuit(counts, gt, ga, refine=refine, **kw)
    print(f"refine={refine}: t {t}, pyhf - fast {ref_pyhf - t}, iminuit - fast {ref_minuit - t}")
    assert np.all(np.abs(t) > 1e-3)  # non-trivial values
    np.testing.assert_allclose(ref_pyhf, t, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ref_minuit, t, rtol=0, atol=1e-6)
    # the background matters: without it the statistic differs at O(1)
    t0 = profile_mass(counts, ga, refine=refine).deviance
    t0 = t0 - profile_mass(counts, gt, refine=refine).deviance
    assert np.max(np.abs(t0 - t)) > 0.1
    if background_sigma is None:
        assert np.all(fast.background_scale == 1.0)
    else:
        assert np.all(fast.background_scale != 1.0)


def test_refined_background_fit_equals_iminuit(pair) -> None:
    """The continuous mass profile with a background and its uncertainty (iminuit only)."""
    gt, ga = pair
    b = _background(gt.n_bins)
    counts = _toys(gt, b, 3, 8)
    kw = {"background": b, "background_sigma": 0.3}
    t = profile_mass(counts, ga, **kw).deviance - profile_mass(counts, gt, **kw).deviance
    ref = reference_statistic_iminuit(counts, gt, ga, refine=True, **kw)
    np.testing.assert_allclose(ref, t, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rate_sigma", [None, 0.1])
def test_tied_rates_with_background_equal_iminuit(pair, rate_sigma) -> None:
    gt, _ = pair
    rates = 60.0 * gt.n1 / gt.rate(1.0)
    b = _background(gt.n_bins)
    counts = _toys(gt, b, 3, 9)
    kw = {"background": b, "background_sigma": 0.2}
    fast = profile_mass(counts, gt, rates=rates, rate_sigma=rate_sigma, **kw)
    grid_only = profile_mass(counts, gt, rates=rates, rate_sigma=rate_sigma, refine=False, **kw)
    for i in range(3):
        ref = minuit_profile(counts[i], gt, rates, rate_sigma, refine=True, **kw)
        np.testing.assert_allclose(fast.deviance[i], ref, rtol=0, atol=1e-6)
        ref0 = minuit_profile(counts[i], gt, rates, rate_sigma, refine=False, **kw)
        np.testing.assert_allclose(grid_only.deviance[i], ref0, rtol=0, atol=1e-6)


def test_plain_poisson_with_background_and_fixed_shape(pair) -> None:
    """mc_stat=False: D = 2 sum [lam - n + n ln(n / lam)], lam = mu p + theta_b b."""
    gt, _ = pair
    b = _background(gt.n_bins)
    p = gt.probs[3]
    n = asimov(gt, float(gt.masses[3]), 30.0, background=b)
    d = deviance_fixed(n[None], p, mc_stat=False, background=b)[0]
    assert d == pytest.approx(0.0, abs=1e-9)  # the Asimov data of the hypothesis itself
    counts = n + np.arange(n.size) % 3
    d = deviance_fixed(counts[None], p, mc_stat=False, background=b)[0]

    def f(ln_mu: float) -> float:
        return deviance(counts, p, math.exp(ln_mu), mc_stat=False, background=b)

    best = minimize_scalar(f, bounds=(-5, 8), method="bounded", options={"xatol": 1e-12}).fun
    assert d == pytest.approx(best, abs=1e-8)


def test_bad_background_refused(pair) -> None:
    gt, _ = pair
    c = _toys(gt, _background(gt.n_bins), 1, 1)
    with pytest.raises(ValueError, match="one value per bin"):
        profile_mass(c, gt, background=np.ones(3))
    with pytest.raises(ValueError, match="finite and >= 0"):
        profile_mass(c, gt, background=-np.ones(gt.n_bins))
    with pytest.raises(ValueError, match="background_sigma"):
        profile_mass(c, gt, background=np.ones(gt.n_bins), background_sigma=-1.0)


# ----------------------------------------------------------------------------- inputs


def test_background_files_and_totals(tmp_path: Path) -> None:
    n_e, n_pt = EXP.binning.shape
    rng = np.random.default_rng(2)
    counts = rng.uniform(0, 1e-2, (n_e, n_pt))
    hist = {"e_edges": list(EXP.binning.e_edges), "pt_edges": list(EXP.binning.pt_edges)}
    (tmp_path / "h.json").write_text(json.dumps({**hist, "counts": counts.tolist()}))
    np.savez(tmp_path / "h.npz", counts=counts, **hist)
    np.save(tmp_path / "flat.npy", counts.ravel())
    (tmp_path / "flat.json").write_text(json.dumps({"counts": counts.ravel().tolist()}))
    for name in ("h.json", "h.npz", "flat.npy", "flat.json"):
        bkg = resolve_background(EXP, background=tmp_path / name, uncertainty=0.1)
        np.testing.assert_array_equal(bkg.counts, counts)
        assert bkg.normalisation_uncertainty == 0.1
    bkg = resolve_background(EXP, background=tmp_path / "h.json")
    np.testing.assert_allclose(project_background(bkg, "E"), counts.sum(axis=1), rtol=1e-15)
    np.testing.assert_allclose(project_background(bkg, "pt"), counts.sum(axis=0), rtol=1e-15)
    flat = resolve_background(EXP, flat=7.0)
    assert float(flat.counts.sum()) == pytest.approx(7.0, rel=1e-12)
    assert resolve_background(EXP) is None
    np.save(tmp_path / "short.npy", np.ones(5))
    with pytest.raises(ValueError, match="1920 values"):
        resolve_background(EXP, background=tmp_path / "short.npy")
    with pytest.raises(ValueError, match="not both"):
        resolve_background(EXP, background=tmp_path / "h.json", flat=1.0)
    with pytest.raises(ValueError, match="needs a background"):
        resolve_background(EXP, uncertainty=0.2)
    bad = {**hist, "e_edges": [0.0, *hist["e_edges"][1:-1], 9.0], "counts": counts.tolist()}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="binning differs"):
        resolve_background(EXP, background=tmp_path / "bad.json")
    with pytest.raises(ValueError, match="uncertainty"):
        resolve_background(EXP, flat=1.0, uncertainty=11.0)


# ----------------------------------------------------------------------------- discrimination


#: Whether this version's toys carry a background (DiscriminationSetup.background).
def test_discrimination_setup_with_zero_background_is_the_same(tdir: Path) -> None:
    from darkmoments.stats.rate import discrimination_setup
    from darkmoments.stats.toys import alternative_point

    kw = {"n_events": 40.0, "directory": str(tdir)}
    ref = discrimination_setup("km", 0.3, "md", EXP, **kw)
    zero = discrimination_setup("km", 0.3, "md", EXP, background=0.0, **kw)
    assert zero.fingerprint() == ref.fingerprint()
    assert alternative_point(zero) == alternative_point(ref)


def _small_setup(background: float, sigma: float | None) -> object:
    from darkmoments.stats.rate import with_background

    g = {
        m: ShapeGrid.from_templates(synthetic_grid_templates(m, MASSES, bins=(6, 5)), "E,pt")
        for m in ("km", "md")
    }
    s = DiscriminationSetup(g["km"], g["md"], 0.5, 40.0)
    if background == 0:
        return s
    return with_background(s, np.full(30, background / 30), sigma)


def test_discrimination_with_background_asimov_and_reference() -> None:
    from darkmoments.stats.toys import alternative_fit, alternative_point

    free = _small_setup(0.0, None)
    s = _small_setup(20.0, 0.2)
    _, _, theta, t_a = alternative_fit(s)
    assert 0.0 < t_a < alternative_point(free)[2]  # the background dilutes the shapes
    data = asimov(s.true_grid, 0.5, 40.0, background=s.background)[None, :]
    kw = {"background": s.background, "background_sigma": s.background_sigma}
    ref = reference_statistic_iminuit(data, s.true_grid, s.alt_grid, refine=True, **kw)
    assert t_a == pytest.approx(float(ref[0]), abs=1e-6)
    assert theta != 1.0


@pytest.mark.slow
def test_discrimination_with_background_is_calibrated() -> None:
    """Data from the fitted alternative (with its theta_b): rejection rates = alpha.

    200 data sets, 99 Poisson toys each from the alternative refitted to each (p =
    (k + 1) / 100): the fraction with p <= alpha equals alpha within 3 binomial standard
    deviations for alpha = 0.1, 0.32.
    """
    from darkmoments.stats.toys import alternative_fit, alternative_p_values

    s = _small_setup(20.0, 0.2)
    m_star, n_star, theta, _ = alternative_fit(s)
    rng = np.random.default_rng(5)
    lam = asimov(s.alt_grid, m_star, n_star, background=s.background, background_scale=theta)
    d = 200
    data = rng.poisson(lam, size=(d, lam.size)).astype(float)
    p = alternative_p_values(data, s, 99, seed=6)
    for alpha in (0.10, 0.32):
        frac = float(np.mean(p <= alpha + 1e-12))
        assert abs(frac - alpha) < 3 * np.sqrt(alpha * (1 - alpha) / d), (alpha, frac)
