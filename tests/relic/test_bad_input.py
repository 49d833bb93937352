"""Bad input to the relic API and to ``darkmoments relic``: one table each.

API: the error class of :mod:`darkmoments.errors` and a message naming the value.  CLI: exit
code 2, one line naming the option or directory, no traceback, nothing left on disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from darkmoments.cli import main
from darkmoments.errors import InputError, InputTypeError
from darkmoments.relic import omega_h2, scan, target


@pytest.mark.parametrize(
    ("m_ap", "exc", "needle"),
    [
        ([], InputError, "m_ap must hold at least one mass in GeV, got [] (empty)"),
        (np.array([]), InputError, "at least one mass"),
        ("0.1", InputTypeError, "got the string '0.1'"),
        (["0.1"], InputTypeError, "m_ap must hold real numbers"),
        (True, InputTypeError, "got True"),
        (None, InputTypeError, "got None"),
        ([[0.1, 0.2]], InputError, "got shape (1, 2)"),
        (-0.1, InputError, "got [-0.1]"),
        (2000.0, InputError, "got [2000.0]"),
    ],
)
def test_target_bad_masses(m_ap, exc, needle):
    with pytest.raises(exc) as info:
        target("km", m_ap)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"rtol": 0.5}, InputError, "rtol must be a finite number > 0 and < 0.1, got 0.5"),
        ({"max_iter": 0}, InputError, "max_iter must be an integer >= 1, got 0"),
        ({"n_steps": 2.5}, InputTypeError, "n_steps must be an integer"),
        ({"cutoff": -1.0}, InputError, "cutoff Lambda_f must be a finite number > 0 GeV"),
        ({"omega_target": float("nan")}, InputError, "omega_target must be"),
        ({"mass_ratio": "3"}, InputError, "mass_ratio = m_A'/m_chi must be"),
        ({"alpha_d": 20.0}, InputError, "alpha_d must be in (0, 4 pi), got 20.0"),
        ({"hadrons": "quarks"}, InputError, "hadrons must be one of"),
        ({"leptons": "e"}, InputTypeError, "leptons must be a sequence"),
    ],
)
def test_target_bad_settings(kwargs, exc, needle):
    with pytest.raises(exc) as info:
        target("km", 0.1, **kwargs)
    assert needle in str(info.value)


def test_omega_h2_bad_coupling():
    with pytest.raises(InputTypeError, match="coupling g_f must be a number"):
        omega_h2("km", 0.1, "1e-4")
    with pytest.raises(InputError, match="does not broadcast"):
        omega_h2("km", [0.1, 0.2], [1e-4, 2e-4, 3e-4])


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"n_masses": 1}, InputError, "n_masses must be an integer >= 2, got 1"),
        ({"n_masses": 3.0}, InputTypeError, "n_masses must be an integer"),
        ({"m_min": 0.5, "m_max": 0.1}, InputError, "m_min=0.5, m_max=0.1"),
        ({"m_min": 0.0}, InputError, "m_min must be a finite number > 0.00102"),
        ({"models": []}, InputError, "at least one model"),
        ({"models": ["km", "zz"]}, InputError, "unknown model 'zz'"),
        ({"hadrons": "rratio"}, InputError, "only valid for km, got model 'md'"),
        ({"hadrons": "quarks"}, InputError, "hadrons must be one of"),
    ],
)
def test_scan_bad_input(kwargs, exc, needle):
    with pytest.raises(exc) as info:
        scan(**{"models": "all", "n_masses": 3, **kwargs})
    assert needle in str(info.value)


def test_scan_honours_hadrons():
    """hadrons= reaches the main curve (it used to be dropped silently)."""
    m = [0.5, 1.5]
    none = scan("km", m, hadrons="none")
    auto = scan("km", m)
    np.testing.assert_array_equal(none.y, target("km", m, hadrons="none").y)
    np.testing.assert_array_equal(auto.y, target("km", m).y)
    assert np.all(none.y.to_numpy() > auto.y.to_numpy())  # fewer channels, larger coupling
    proxy = scan("md", m, hadrons="proxy")
    np.testing.assert_array_equal(proxy.y, target("md", m, hadrons="proxy").y)
    assert proxy.y_hadron_proxy.isna().all()  # the main curve is the proxy: no band
    band = scan("md", m, hadrons="none")
    np.testing.assert_array_equal(band.y_hadron_proxy, proxy.y)


def test_scan_chunking_and_progress_do_not_change_numbers(monkeypatch):
    import darkmoments.relic.targets as rt

    m = np.geomspace(0.01, 2.0, 7)
    whole = scan("cr", m, progress=False)
    monkeypatch.setattr(rt, "SCAN_CHUNK", 3)
    chunked = scan("cr", m, progress=True)
    assert whole.equals(chunked)


@pytest.mark.parametrize(
    "bad",
    [
        {"mass_ratio": 2.0},
        {"mass_ratio": "3"},
        {"alpha_d": 0.0},
        {"alpha_d": float("nan")},
        {"hadrons": "quarks"},
        {"hadrons": "rratio"},
        {"leptons": "e"},
        {"leptons": ()},
        {"leptons": ("e", "nu")},
        {"leptons": 3},
    ],
)
def test_dark_sector_settings_validated_once(bad):
    """One validation (DarkSector) behind every relic entry point: same class, same text."""
    from darkmoments.relic import DarkSector

    with pytest.raises((InputError, InputTypeError)) as ref:
        DarkSector("md", **bad)
    for call in (
        lambda: target("md", 0.1, **bad),
        lambda: omega_h2("md", 0.1, 1e-3, **bad),
        lambda: scan("md", [0.1], **bad),
    ):
        with pytest.raises(type(ref.value)) as info:
            call()
        assert str(info.value) == str(ref.value)


def test_dark_sector_settings_only_and_canonical_model():
    from darkmoments.relic import DarkSector

    sec = DarkSector("Magnetic-Dipole", leptons=["e"])
    assert (sec.model, sec.leptons, sec.with_hadrons) == ("md", ("e",), False)
    assert sec == DarkSector("md", leptons=("e",))
    with pytest.raises(InputError, match="holds settings only: give m_ap"):
        sec.widths()
    with pytest.raises(InputError, match="m_ap must be a finite number > 0 GeV"):
        DarkSector("md", -0.3, 1e-3)
    with pytest.raises(InputTypeError, match="coupling must be a real number"):
        DarkSector("md", 0.3, "1e-3")


def test_scan_refuses_unknown_keywords_before_any_work():
    with pytest.raises(InputTypeError, match=r"unknown keyword argument\(s\) \['ratio'\]"):
        scan("km", [0.1], ratio=3.0)


# ----------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scan", "--mass", "0.1"], "--mass 0.1 and --scan exclude each other"),
        (["--scan", "--out", "/nope/x"], "--out /nope/x: directory /nope does not exist"),
        (["--scan", "--out", "/nope/x.csv"], "directory /nope does not exist"),
        (["--scan", "--out", "tbl.csv"], "--out tbl.csv: expected a directory"),
        (["--scan", "--out", "afile"], "--out afile is a file"),
        (["--scan", "--n-masses", "1"], "--n-masses must be an integer >= 2, got 1"),
        (["--scan", "--m-min", "0.5", "--m-max", "0.1"], "--m-min 0.5 must be below --m-max"),
        (["--scan", "--m-min", "0"], "--m-min must be a finite number > 0.00102"),
        (["--scan", "--m-max", "5000"], "--m-max must be a finite number <= 1000 GeV"),
        (["--mass", "0.1", "--n-masses", "4"], "--n-masses: only used with --mass-scan"),
        (["--mass", "0.1", "--out", "d"], "--out: only used with --mass-scan"),
        (["--mass", "0"], "--mass must be a finite number > 0 GeV, got 0.0"),
        (["--mass", "nan"], "--mass must be a finite number"),
        (["--mass", "0.1", "--ratio", "2"], "mass_ratio"),
        (["--mass", "0.1", "--alpha-d", "0"], "alpha_d must be in (0, 4 pi), got 0.0"),
        (["--model", "zz", "--mass", "0.1"], "unknown model 'zz'"),
        (["--model", "md", "--scan", "--hadrons", "rratio"], "only valid for km"),
        (["--model", "all"], "--model all needs --mass-scan"),
        (["--mass", "abc"], "'abc' is not a valid float"),
    ],
)
def test_cli_bad_input(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    res = CliRunner().invoke(main, ["relic", *args])
    assert res.exit_code == 2, res.output
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output
    assert res.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing written
    assert not Path("/nope").exists()


def test_cli_scan_creates_only_the_named_directory(tmp_path):
    out = tmp_path / "new"
    res = CliRunner().invoke(
        main, ["relic", "--model", "km", "--scan", "--n-masses", "2", "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["relic_targets.csv", "relic_targets.png"]
