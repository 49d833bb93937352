"""The M3 setups (issue 14): numbers, sources, grids, and user TOML setups still working."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from darkmoments.constants import AVOGADRO
from darkmoments.experiments import (
    EXPERIMENTS,
    M3_BEAM_ENERGY,
    M3_MOT,
    M3_TARGET_THICKNESS_X0,
    default_binning,
    experiment_from_dict,
    get_experiment,
)


@pytest.mark.parametrize(("name", "mot"), [("m3-phase1", 1e10), ("m3-phase2", 1e13)])
def test_m3_numbers_and_hand_calculation(name: str, mot: float) -> None:
    exp = get_experiment(name.upper())  # case-insensitive
    assert exp.name == name
    assert (exp.lepton, exp.beam_energy, exp.eot, exp.target.symbol) == ("mu", 15.0, mot, "W")
    assert exp.thickness_x0 == pytest.approx(50.0, rel=1e-12)
    assert exp.thickness_cm == pytest.approx(50 * 0.3504, rel=1e-12)  # 17.52 cm
    assert exp.thick_target is True
    assert exp.cuts.is_empty
    assert exp.efficiency == 1.0
    assert exp.detector is None
    assert exp.background is None
    # EOT x (19.3 g/cm3 N_A / 183.84 g/mol) x 17.52 cm x 1e-36 cm2/pb
    hand = mot * (19.3 * AVOGADRO / 183.84) * (50 * 0.3504) * 1e-36
    assert exp.events_per_pb == pytest.approx(hand, rel=1e-12)
    assert exp.binning == default_binning(15.0)
    for source in ("arXiv:1804.03144", f"{mot:g} muons on target", "50 X0"):
        assert source in exp.description
    assert "neither confirmed" in exp.description  # the unconfirmed numbers are said


def test_m3_constants_and_phases() -> None:
    assert (M3_BEAM_ENERGY, M3_TARGET_THICKNESS_X0) == (15.0, 50.0)
    assert M3_MOT == {"phase1": 1e10, "phase2": 1e13}
    p1, p2 = EXPERIMENTS["m3-phase1"], EXPERIMENTS["m3-phase2"]
    assert dataclasses.replace(p1, name="x", eot=1.0, description="") == dataclasses.replace(
        p2, name="x", eot=1.0, description=""
    )  # the phases differ only by the muons on target
    assert round(p2.events_per_pb, 2) == 11.08


def test_m3_mass_grid_is_the_ldmx_phase2_grid() -> None:
    """40 log-spaced masses 1 MeV - 3 GeV, node for node those of LDMX Phase II."""
    m3 = EXPERIMENTS["m3-phase2"].mass_grid.masses()
    assert m3.size == 40
    assert m3[0] == 1e-3
    assert m3[-1] == 3.0
    assert np.array_equal(m3, EXPERIMENTS["ldmx-phase2"].mass_grid.masses())


def test_names_listed_and_ldmx_unchanged() -> None:
    with pytest.raises(ValueError, match="ldmx-phase1, ldmx-phase2, m3-phase1, m3-phase2"):
        get_experiment("na64")
    for name in ("ldmx-phase1", "ldmx-phase2"):
        exp = EXPERIMENTS[name]
        assert exp.thick_target is False
        assert "thick_target" not in exp.to_dict()  # build identities of LDMX unchanged
        assert exp.expected_events(2.0, 1e-3) == 2.0 * 1e-6 * exp.events_per_pb


def test_m3_round_trips_through_plain_data() -> None:
    for name in ("m3-phase1", "m3-phase2"):
        exp = EXPERIMENTS[name]
        data = exp.to_dict()
        assert data["thick_target"] is True
        assert experiment_from_dict(data) == exp


def test_user_toml_setups_keep_working(tmp_path) -> None:
    thin = tmp_path / "thin.toml"
    thin.write_text(
        'name = "my-mu"\nlepton = "mu"\nbeam_energy = 10.0\neot = 1e12\ntarget = "Pb"\n'
        "thickness_x0 = 1.0\n[cuts]\ne_max_fraction = 0.5\n"
    )
    exp = get_experiment(str(thin))
    assert exp.thick_target is False
    assert exp.lepton == "mu"
    assert exp.expected_events(3.0, 1.0) == pytest.approx(3.0 * exp.events_per_pb, rel=1e-15)
    thick = tmp_path / "thick.toml"
    thick.write_text(thin.read_text().replace('"my-mu"', '"my-thick"') + "")
    thick.write_text(
        thick.read_text().replace(
            "thickness_x0 = 1.0\n", "thickness_x0 = 20.0\nthick_target = true\n"
        )
    )
    t = get_experiment(str(thick))
    assert t.thick_target is True
    assert t.expected_events(3.0, 1.0, depth_factor=0.97) == pytest.approx(
        0.97 * 3.0 * t.events_per_pb, rel=1e-15
    )
    with pytest.raises(ValueError, match="thick target: its yield integrates sigma"):
        t.expected_events(3.0, 1.0)
    bad = tmp_path / "bad.toml"
    bad.write_text(thick.read_text().replace('lepton = "mu"', 'lepton = "e"'))
    with pytest.raises(ValueError, match="thick_target needs a muon beam"):
        get_experiment(str(bad))
    bad.write_text(thick.read_text().replace("thick_target = true", 'thick_target = "yes"'))
    with pytest.raises(TypeError, match="thick_target must be true or false"):
        get_experiment(str(bad))
