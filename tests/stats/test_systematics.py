"""The rate as information: normalisation systematics, relic-tied setups on the shipped grid,
shape-only vs shape + rate discrimination (issue 11, item 6)."""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from darkmoments.errors import InputError, InputTypeError
from darkmoments.relic.targets import M_AP_MIN
from darkmoments.stats import ShapeGrid, asimov
from darkmoments.stats.fast import profile_mass
from darkmoments.stats.rate import (
    coupling_setup,
    discriminate_shape_and_rate,
    events_for_significance,
    shape_only,
)
from darkmoments.stats.systematics import (
    DEFAULT_SYSTEMATICS,
    NO_SYSTEMATICS,
    NormalisationSystematics,
    parse_systematics,
)
from darkmoments.stats.toys import (
    DiscriminationSetup,
    alternative_point,
    relic_domain,
    relic_setup,
    run_identity,
)
from darkmoments.testing.synthetic import synthetic_grid_templates

MASSES = np.geomspace(0.05, 2.0, 8)

#: The fits take a log-normal rate nuisance (``rate_sigma``) only once stats.fast has it.
HAS_RATE_SIGMA = "rate_sigma" in inspect.signature(profile_mass).parameters
needs_rate_sigma = pytest.mark.skipif(
    not HAS_RATE_SIGMA,
    reason="stats.fast.profile_mass has no rate_sigma keyword yet (normalisation nuisance)",
)


def _grid(model: str, obs: str = "E,pt") -> ShapeGrid:
    return ShapeGrid.from_templates(
        synthetic_grid_templates(model, MASSES, bins=(10, 8)), obs, events_per_pb=22.2
    )


@pytest.fixture(scope="module")
def shipped():
    """Shipped Phase II grids of km and cr, and a memoised relic.target (deterministic)."""
    from darkmoments import relic
    from darkmoments.stats import load_grid

    try:
        grids = {
            (m, o): load_grid(m, "ldmx-phase2", o) for m in ("km", "cr") for o in ("E", "E,pt")
        }
    except (OSError, ValueError) as exc:
        pytest.skip(f"shipped LDMX Phase II templates are missing: {exc}")
    return grids, relic.target


@pytest.fixture
def memo_target(shipped, monkeypatch):
    """relic.target computed once per (model, masses): relic_setup calls it per setup."""
    from darkmoments import relic

    real = shipped[1]
    cache: dict = {}

    def target(model, m_ap, **kw):
        key = (model, tuple(np.atleast_1d(np.asarray(m_ap, dtype=float))), tuple(kw.items()))
        if key not in cache:
            cache[key] = real(model, m_ap, **kw)
        return cache[key]

    monkeypatch.setattr(relic, "target", target)
    return shipped[0]


# ------------------------------------------------------------------ the systematics record
def test_defaults_combine_in_quadrature_into_one_log_normal_width() -> None:
    s = DEFAULT_SYSTEMATICS
    assert s.components() == {"eot": 0.02, "thickness": 0.02, "efficiency": 0.05, "theory": 0.10}
    np.testing.assert_allclose(s.sigma_rel, math.sqrt(0.0133), rtol=1e-15)
    np.testing.assert_allclose(s.rate_sigma, math.log(1 + math.sqrt(0.0133)), rtol=1e-15)
    assert NO_SYSTEMATICS.sigma_rel == 0.0
    assert NO_SYSTEMATICS.rate_sigma is None  # exactly tied
    np.testing.assert_allclose(s.scaled(10).sigma_rel, 10 * s.sigma_rel, rtol=1e-14)
    assert s.summary()["rate_sigma"] == s.rate_sigma


def test_parse_overrides_defaults() -> None:
    s = parse_systematics("eot=0.05, THEORY=0.2")
    assert s == NormalisationSystematics(eot=0.05, thickness=0.02, efficiency=0.05, theory=0.2)
    assert parse_systematics("none") == NO_SYSTEMATICS
    assert parse_systematics("default") == DEFAULT_SYSTEMATICS


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("lumi=0.1", "eot, thickness, efficiency, theory"),
        ("eot", "NAME=VALUE"),
        ("eot=0.1,eot=0.2", "given twice"),
        ("eot=abc", "not a number"),
        ("eot=-0.1", ">= 0"),
        ("eot=nan", "eot"),
        (",", "nothing given"),
    ],
)
def test_parse_refuses_bad_text(text: str, needle: str) -> None:
    with pytest.raises(InputError, match=re.escape(needle)):
        parse_systematics(text)


def test_bad_components_refused() -> None:
    with pytest.raises(InputError, match="thickness"):
        NormalisationSystematics(thickness=-1e-3)
    with pytest.raises(InputTypeError):
        NormalisationSystematics(eot="0.1")  # type: ignore[arg-type]


# ------------------------------------------------------------------ setups
def test_setup_systematics_need_tied_rates_and_enter_the_identity() -> None:
    gk, gc = _grid("km"), _grid("cr")
    with pytest.raises(InputError, match="need tied rates"):
        DiscriminationSetup(gk, gc, 0.5, 50.0, systematics=DEFAULT_SYSTEMATICS)
    tied = coupling_setup(gk, gc, 0.5, true_coupling=0.3, alt_coupling=0.5)
    with pytest.raises(InputTypeError, match="NormalisationSystematics"):
        replace(tied, systematics=0.1)
    with_syst = replace(tied, systematics=DEFAULT_SYSTEMATICS)
    wider = replace(tied, systematics=DEFAULT_SYSTEMATICS.scaled(2))
    prints = {s.fingerprint() for s in (tied, with_syst, wider)}
    assert len(prints) == 3
    # no uncertainty is the exactly tied likelihood: the same run
    assert replace(tied, systematics=NO_SYSTEMATICS).fingerprint() == tied.fingerprint()
    ident = run_identity(with_syst, 100, seed=1, chunk_size=10)
    assert ident["rate_sigma"] == DEFAULT_SYSTEMATICS.rate_sigma
    assert run_identity(tied, 100, seed=1, chunk_size=10)["rate_sigma"] is None
    assert with_syst.rate_sigma == DEFAULT_SYSTEMATICS.rate_sigma
    assert shape_only(with_syst).rates_true is None


def test_coupling_setup_rates_are_g2_n1() -> None:
    gk, gc = _grid("km"), _grid("cr")
    s = coupling_setup(gk, gc, 0.5, true_coupling=1e-3, alt_coupling=2e-2)
    np.testing.assert_allclose(s.rates_true, 1e-6 * gk.n1, rtol=1e-15)
    np.testing.assert_allclose(s.rates_alt, 4e-4 * gc.n1, rtol=1e-15)
    np.testing.assert_allclose(s.n_events, 1e-6 * gk.rate(0.5), rtol=1e-12)
    with pytest.raises(InputError, match="alt_coupling"):
        coupling_setup(gk, gc, 0.5, true_coupling=1e-3, alt_coupling=0.0)
    with pytest.raises(InputError, match="outside"):
        coupling_setup(gk, gc, 5.0, true_coupling=1e-3, alt_coupling=1e-3)


def test_relic_domain_drops_masses_without_a_target(shipped) -> None:
    g = shipped[0][("km", "E")]
    assert g.masses[0] <= M_AP_MIN  # the shipped grid starts at 1 MeV < 2 m_e
    r = relic_domain(g)
    np.testing.assert_array_equal(r.masses, g.masses[g.masses > M_AP_MIN])
    assert r.masses.size == g.masses.size - 1
    np.testing.assert_array_equal(r.probs, g.probs[1:])
    assert relic_domain(r) is r
    low = ShapeGrid("km", g.masses[:1], g.probs[:1], g.variances[:1], g.n1[:1], g.observables)
    with pytest.raises(InputError, match="no grid mass"):
        relic_domain(low)


def test_relic_setup_for_every_shipped_true_mass(memo_target) -> None:
    """Every shipped grid mass with a relic target is a valid true mass (km vs cr, E)."""
    gk, gc = memo_target[("km", "E")], memo_target[("cr", "E")]
    valid = gk.masses[gk.masses > M_AP_MIN]
    assert valid.size == 39
    for m in valid:
        tied = relic_setup(gk, gc, float(m), systematics=NO_SYSTEMATICS)
        assert tied.true_grid.masses[0] > M_AP_MIN
        assert tied.alt_grid.masses[0] > M_AP_MIN
        k = int(np.argmin(np.abs(tied.true_grid.masses - m)))
        np.testing.assert_allclose(tied.n_events, tied.rates_true[k], rtol=1e-12)
        t_tied = alternative_point(tied)[2]
        t_free = alternative_point(shape_only(tied))[2]
        assert np.isfinite(t_tied)
        assert np.isfinite(t_free)
        # the tied fit is the free fit with a constraint: information can only add
        assert t_tied >= t_free - 1e-9 * max(t_free, 1.0), m


@pytest.mark.parametrize("mass", [0.001, 0.0011, 3.5])
def test_relic_setup_names_the_valid_range(memo_target, mass: float) -> None:
    gk, gc = memo_target[("km", "E")], memo_target[("cr", "E")]
    with pytest.raises(InputError) as exc:
        relic_setup(gk, gc, mass)
    msg = str(exc.value)
    assert "[0.00122788, 3] GeV" in msg
    assert "2 m_e = 0.001022" in msg


# ------------------------------------------------------------------ the profiled nuisance
def _brute_force_min(counts, grid: ShapeGrid, rates, s: float) -> float:
    """min over grid masses and ln theta of D(R e^u) + u^2/s^2, by scipy (grid nodes)."""
    best = np.inf
    for j in range(grid.masses.size):
        one = ShapeGrid(
            grid.model,
            grid.masses[j : j + 1],
            grid.probs[j : j + 1],
            grid.variances[j : j + 1],
            grid.n1[j : j + 1],
            grid.observables,
        )

        def f(u: float, one=one, j=j) -> float:
            d = profile_mass(counts, one, rates=np.array([rates[j] * math.exp(u)]), refine=False)
            return float(d.deviance[0]) + u * u / (s * s)

        res = minimize_scalar(f, bounds=(-8.0, 8.0), method="bounded", options={"xatol": 1e-10})
        best = min(best, float(res.fun))
    return best


@needs_rate_sigma
def test_profiled_nuisance_equals_brute_force_minimum() -> None:
    """The fits with rate_sigma = the explicit minimum over ln theta (and grid masses)."""
    gk, gc = _grid("km", "E"), _grid("cr", "E")
    tied = coupling_setup(
        gk, gc, 0.3, true_coupling=0.3, alt_coupling=0.45, systematics=DEFAULT_SYSTEMATICS
    )
    tied = replace(tied, refine=False)
    s = DEFAULT_SYSTEMATICS.rate_sigma
    rng = np.random.default_rng(5)
    counts = rng.poisson(asimov(gk, 0.3, tied.n_events), size=(2, gk.n_bins)).astype(float)
    for row in counts:
        for grid, rates in ((gk, tied.rates_true), (gc, tied.rates_alt)):
            fast = profile_mass(row[None], grid, rates=rates, refine=False, rate_sigma=s)
            ref = _brute_force_min(row[None], grid, rates, s)
            np.testing.assert_allclose(fast.deviance[0], ref, rtol=1e-7, atol=1e-7)


@needs_rate_sigma
def test_km_vs_cr_rate_adds_information_with_the_right_limits(memo_target) -> None:
    """km vs cr at 60.7 MeV on the relic targets ((E, p_T), shipped templates).

    t_A(shape) <= t_A(shape + rate) <= t_A(exactly tied); as the width s grows the rate term
    vanishes, bounded by the free fit's own penalty: 0 <= t(s) - t(shape) <= (ln theta_free)^2
    / s^2; as s -> 0, 0 <= t(tied) - t(s) <= max_m (R_alt(m) - n)^2 s^2 (D convex in ln theta,
    slope 2 (mu - n) at theta = 1).
    """
    gk, gc = memo_target[("km", "E,pt")], memo_target[("cr", "E,pt")]
    tied = relic_setup(gk, gc, 0.0607, systematics=DEFAULT_SYSTEMATICS)
    exact = replace(tied, systematics=None)
    m_free, n_free, t_free = alternative_point(shape_only(tied))
    t_rate = alternative_point(tied)[2]
    t_exact = alternative_point(exact)[2]
    assert t_free <= t_rate <= t_exact
    # the rates differ (cr predicts ~4x more events here), so the rate is informative
    assert t_rate > 1.5 * t_free
    # the limits, on the grid nodes (refine=False), where the rate of the free best fit is
    # exactly a grid value: plugging the free fit into the constrained one bounds t(s)
    nodes = replace(tied, refine=False)
    m_free, n_free, t_free = alternative_point(shape_only(nodes))
    t_exact = alternative_point(replace(nodes, systematics=None))[2]
    j = int(np.argmin(np.abs(nodes.alt_grid.masses - m_free)))
    np.testing.assert_allclose(m_free, nodes.alt_grid.masses[j], rtol=1e-12)
    # wide enough that the bound is small next to t, so that the check below is sharp (the
    # log-normal width grows only as sqrt(ln(1 + (k sigma)^2)) with the scale k: 1e4 gives a
    # bound of 0.4% of t on the 1e6-event templates)
    wide = DEFAULT_SYSTEMATICS.scaled(1e4)
    t_wide = alternative_point(replace(nodes, systematics=wide))[2]
    bound = math.log(n_free / nodes.rates_alt[j]) ** 2 / wide.rate_sigma**2
    assert bound < 1e-2 * t_free
    assert -1e-9 * t_free <= t_wide - t_free <= bound + 1e-9 * t_free
    narrow = DEFAULT_SYSTEMATICS.scaled(1e-7)
    t_narrow = alternative_point(replace(nodes, systematics=narrow))[2]
    slope_bound = np.max((nodes.rates_alt - nodes.n_events) ** 2) * narrow.rate_sigma**2
    assert slope_bound < 1e-6 * t_exact
    assert -1e-9 * t_exact <= t_exact - t_narrow <= slope_bound + 1e-9 * t_exact


@needs_rate_sigma
def test_events_for_significance_solves_the_asimov_equation() -> None:
    gk, gc = _grid("km"), _grid("cr")
    tied = coupling_setup(
        gk, gc, 0.3, true_coupling=0.3, alt_coupling=0.45, systematics=DEFAULT_SYSTEMATICS
    )
    for z in (3.0, 5.0):
        n_z = events_for_significance(tied, z)
        k = n_z / tied.n_events
        scaled = replace(
            tied, n_events=n_z, rates_true=tied.rates_true * k, rates_alt=tied.rates_alt * k
        )
        np.testing.assert_allclose(alternative_point(scaled)[2], z * z, rtol=1e-7)


def test_shape_and_rate_records() -> None:
    """Both statistics run on the same true events; the records name the statistic."""
    gk, gm = _grid("km", "E"), _grid("md", "E")  # (km vs cr: identical shapes, t = 0)
    syst = DEFAULT_SYSTEMATICS if HAS_RATE_SIGMA else None
    tied = coupling_setup(gk, gm, 0.3, true_coupling=0.3, alt_coupling=0.06, systematics=syst)
    both = discriminate_shape_and_rate(tied, 50, seed=4, chunk_size=25)
    shape, rate = both.records()
    assert shape["statistic"] == "shape"
    assert rate["statistic"] == "shape+rate"
    assert shape["systematics"] is None
    assert shape["n_signal"] == rate["n_signal"] == tied.n_events
    assert rate["t_asimov"] >= shape["t_asimov"]
    assert rate["n_5sigma"] > rate["n_3sigma"] > 0
    if syst is not None:
        assert rate["systematics"]["sigma_rel"] == syst.sigma_rel
    # the shape-only run is run_discrimination of the free setup, same seed
    from darkmoments.stats.toys import run_discrimination

    ref = run_discrimination(shape_only(tied), 50, seed=4, chunk_size=25)
    np.testing.assert_array_equal(both.shape.t_true, ref.t_true)
    with pytest.raises(InputError, match="tied"):
        discriminate_shape_and_rate(shape_only(tied), 50)
