"""Thick-target yields (darkmoments.thick_target): thin limit, analytic estimates, the generator.

* thin limit: a vanishing thickness gives f = 1, and a thin setup the yield of before;
* the energy loss across the M3 target equals the Bethe stopping power times the areal density
  (within its variation along the path) and the radiative part b E x;
* for sigma proportional to E^k the depth average equals the closed form of a linear loss,
  [1 - (1 - delta)^(k+1)] / ((k+1) delta), and agrees with the detector package's independent
  effective_cross_section (ionisation only);
* the generator's factor at 1 GeV matches the same closed form with its own log slope, two
  energy nodes agree with three.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from darkmoments import thick_target as tt
from darkmoments.constants import M_MU
from darkmoments.detector.target import bethe_dedx, effective_cross_section
from darkmoments.experiments import EXPERIMENTS

M3 = EXPERIMENTS["m3-phase2"]
X_M3 = M3.thickness_cm * M3.target.density  # 338.1 g/cm^2


def _linear_loss_factor(k: float, delta: float) -> float:
    """(1/L) int_0^L (1 - delta z / L)^k dz for sigma ~ E^k and E falling linearly by delta E0."""
    return (1.0 - (1.0 - delta) ** (k + 1.0)) / ((k + 1.0) * delta)


def test_thin_limit_equals_the_thin_yield() -> None:
    for thickness in (0.0, 1e-13):
        avg = tt.depth_average(lambda e: (e / 15.0) ** 3, 15.0, thickness)
        assert avg.factor == 1.0
        assert avg.exit_energy == pytest.approx(15.0, rel=1e-12)
    tiny = tt.depth_average(lambda e: (e / 15.0) ** 3, 15.0, 1e-4)  # 2 mg/cm^2
    assert tiny.factor == pytest.approx(1.0, abs=1e-6)
    assert tiny.factor < 1.0
    # the thin M3 twin (thick_target off) gives exactly the formula of before
    thin = dataclasses.replace(M3, thick_target=False)
    assert thin.expected_events(7.0, 1e-3, model="km", mass=0.1) == 7.0 * 1e-6 * M3.events_per_pb
    assert thin.depth_factor("km", [0.1, 1.0]).tolist() == [1.0, 1.0]
    # a thick setup of negligible thickness: one cross section at E0, f = 1 exactly
    sliver = dataclasses.replace(M3, thickness_cm=1e-13)
    assert sliver.depth_factor("km", 0.1) == 1.0
    assert sliver.expected_events(7.0, 1e-3, model="km", mass=0.1) == pytest.approx(
        7.0 * 1e-6 * sliver.events_per_pb, rel=1e-15
    )


def test_energy_loss_across_the_m3_target_matches_the_stopping_power() -> None:
    e0 = 15.0
    s0 = float(bethe_dedx(math.sqrt(e0**2 - M_MU**2), M_MU, "W")) * 1e-3  # GeV cm^2/g
    e_ion = float(tt.energy_after(e0, X_M3, radiative=False))
    s1 = float(bethe_dedx(math.sqrt(e_ion**2 - M_MU**2), M_MU, "W")) * 1e-3
    loss = e0 - e_ion
    assert s1 * X_M3 <= loss <= s0 * X_M3  # between the stopping powers at the two ends
    assert loss / e0 == pytest.approx(0.037, abs=0.001)  # 0.555 GeV, 3.7 % of E0
    # radiative part: b E x at the mean energy, b = a(E_c)/E_c = 1.21e-5 g^-1 cm^2 for W
    b = tt.radiative_b("W")
    assert tt.muon_critical_energy("W") == pytest.approx(152.16, abs=0.01)
    assert b == pytest.approx(1.208e-5, rel=1e-3)
    e_rad = float(tt.energy_after(e0, X_M3))
    mean_e = 0.5 * (e0 + e_rad)
    assert e_ion - e_rad == pytest.approx(b * mean_e * X_M3, rel=2e-3)
    assert (e_ion - e_rad) / loss == pytest.approx(0.108, abs=0.003)  # ~11 % of ionisation


@pytest.mark.parametrize("k", [0.25, 1.0, 2.2, 5.0])
@pytest.mark.parametrize("radiative", [False, True])
def test_power_law_sigma_matches_the_linear_loss_closed_form(k: float, radiative: bool) -> None:
    avg = tt.depth_average(lambda e: (e / 15.0) ** k, 15.0, M3.thickness_cm, radiative=radiative)
    delta = 1.0 - avg.exit_energy / 15.0
    # the loss is linear in depth up to the 0.2 % (ionisation) and 2 % x 11 % (radiative)
    # variation of the stopping power; that moves f by far less than 1e-4 x k
    assert avg.factor == pytest.approx(_linear_loss_factor(k, delta), abs=3e-5 * k)
    assert avg.factor < 1.0
    # a table of the same power law (two nodes) is exact
    nodes = tt.sigma_energies(15.0, M3.thickness_cm, radiative=radiative)
    tab = tt.depth_average((nodes, (nodes / 15.0) ** k), 15.0, M3.thickness_cm, radiative=radiative)
    assert tab.factor == pytest.approx(avg.factor, rel=1e-12)


def test_ionisation_only_agrees_with_the_detector_effective_cross_section() -> None:
    def sigma(e: np.ndarray) -> np.ndarray:
        return 3.0 * (np.asarray(e) / 15.0) ** 2.2 + 0.5 * np.log1p(np.asarray(e))

    ours = tt.depth_average(sigma, 15.0, M3.thickness_cm, radiative=False, n_depth=24)
    # the same areal density (the detector package counts X0 in g/cm^2: 6.76 for W, while
    # density x X0 in cm is 6.763)
    t_x0 = X_M3 / M3.target.X0_gcm2
    theirs = effective_cross_section(sigma, 15.0, t_x0, mass=M_MU, target="W")
    assert ours.sigma_pb == pytest.approx(theirs.sigma_pb, rel=1e-10)
    assert ours.factor == pytest.approx(theirs.ratio, rel=1e-10)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="thick-target yields are for muon"):
        tt.energy_after(8.0, 1.0, mass=0.51099895e-3)
    with pytest.raises(ValueError, match="must cover the energies in the target"):
        tt.depth_average(([15.0], [1.0]), 15.0, M3.thickness_cm)
    with pytest.raises(ValueError, match="strictly increasing"):
        tt.depth_average(([15.0, 14.0], [1.0, 1.0]), 15.0, M3.thickness_cm)
    with pytest.raises(ValueError, match="thickness_cm must be"):
        tt.depth_average(lambda e: e, 15.0, -1.0)


def test_generator_factor_matches_its_own_power_law_and_three_nodes() -> None:
    """km at 1 GeV on M3: f = 0.956 (sigma rises as E^2.2 there), a 4.4 % smaller yield."""
    two = tt.generator_depth_average("km", 1.0, 15.0, M3.thickness_cm, seed=3)
    (e_lo, e0), (s_lo, s0) = two.energies, two.sigma_pb
    slope = math.log(s0 / s_lo) / math.log(e0 / e_lo)
    delta = 1.0 - two.average.exit_energy / 15.0
    assert two.factor == pytest.approx(_linear_loss_factor(slope, delta), abs=1e-4)
    assert 1.5 < slope < 3.0
    assert 0.0 < two.factor_err < 2e-3
    assert two.factor < 1.0 - 10 * two.factor_err  # the thick target matters
    three = tt.generator_depth_average("km", 1.0, 15.0, M3.thickness_cm, seed=4, n_energies=3)
    pull = (three.factor - two.factor) / math.hypot(three.factor_err, two.factor_err)
    assert abs(pull) < 4.0
    # the experiment's method and the yield use it (cached, same seed)
    f = M3.depth_factor("km", 1.0, seed=3)
    assert f == two.factor
    n = M3.expected_events(s0, 1e-3, model="km", mass=1.0, depth_factor=f)
    assert n == pytest.approx(s0 * 1e-6 * M3.events_per_pb * two.factor, rel=1e-15)
