"""md/ed and km/am differences at the muon setup come from lepton-mass terms (issue 14).

For a massless lepton the dipole vertices sigma^{mu nu} k_nu and sigma^{mu nu} gamma^5 k_nu,
and the vector and axial couplings gamma^mu and (k^2 gamma^mu - k^mu kslash) gamma^5 (= m_A'^2
gamma^mu gamma^5 on the A' shell), give the same squared amplitude (gamma^5 is a chiral
rotation of a massless fermion), so the models of each pair differ only through m_lepton.
Checked with the exact generator weights (:meth:`darkmoments.generator.DarkBremProcess.weight`:
phase space, flux and amplitude) for a lepton whose mass is changed with everything else
fixed (M3: 15 GeV on W), on one common set of phase-space points (common random numbers, so
the differences carry almost no MC noise):

* rate difference |sigma_ed / sigma_md - 1| and |sigma_am / (m_A'^4 sigma_km) - 1|;
* shape difference: the total-variation distance 1/2 sum_b |p_b - q_b| of the normalised
  (E, p_T) distributions on the M3 template binning.

Both vanish as m_lepton -> 0 (quadratically: m_lepton^2 / m_A'^2 terms), are 50-1000 times
larger for the muon than for an electron-mass lepton, and grow with m_lepton / m_A' (for
md/ed up to m_A' ~ m_mu; below, the dipole difference turns over: measured 0.025 at
m_A' = 0.1 GeV, 0.018 at 0.03 GeV, 0.007 at 0.01 GeV).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from darkmoments.constants import M_E, M_MU
from darkmoments.experiments import EXPERIMENTS
from darkmoments.generator import DarkBremProcess

BEAM = 15.0
N_POINTS = 100_000
EDGES = EXPERIMENTS["m3-phase2"].binning


@dataclasses.dataclass(frozen=True)
class _Lepton(DarkBremProcess):
    """The process with the beam lepton's mass set by hand (test only)."""

    m_lepton: float = M_MU

    @property
    def lepton_mass(self) -> float:
        return self.m_lepton


def _weights(model: str, m_ap: float, m_lepton: float, u: np.ndarray) -> tuple[np.ndarray, ...]:
    base = DarkBremProcess.create(model, m_ap, BEAM, lepton="mu")
    proc = _Lepton(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}, m_lepton=m_lepton
    )
    w, ps = proc.weight(u)
    assert np.all(np.isfinite(w))
    assert w.sum() > 0
    return w, ps.p2[:, 0], np.hypot(ps.p2[:, 1], ps.p2[:, 2])


def _hist(w: np.ndarray, e: np.ndarray, pt: np.ndarray) -> np.ndarray:
    h = np.histogram2d(e, pt, bins=(EDGES.e_edges, EDGES.pt_edges), weights=w)[0]
    return h / h.sum()


def _differences(m_ap: float, m_lepton: float, seed: int = 1) -> dict[str, tuple[float, float]]:
    """{pair: (rate difference, total-variation shape distance)} on common random points."""
    u = np.random.default_rng(seed).random((N_POINTS, 5))
    w = {m: _weights(m, m_ap, m_lepton, u) for m in ("km", "am", "md", "ed")}
    out = {}
    for a, b, scale in (("am", "km", m_ap**4), ("ed", "md", 1.0)):
        rate = abs(w[a][0].mean() / (scale * w[b][0].mean()) - 1.0)
        tv = 0.5 * float(np.abs(_hist(*w[a]) - _hist(*w[b])).sum())
        out[f"{a}/{b}"] = (rate, tv)
    return out


@pytest.fixture(scope="module")
def lepton_scan() -> dict[float, dict[str, tuple[float, float]]]:
    """m_A' = 0.1 GeV, the lepton mass from m_mu down to m_mu / 100 (below m_e x 2.1)."""
    return {f: _differences(0.1, f * M_MU) for f in (1.0, 0.1, 0.03, 0.01)}


def test_differences_vanish_as_the_lepton_mass_goes_to_zero(lepton_scan) -> None:
    for pair in ("am/km", "ed/md"):
        rate = [lepton_scan[f][pair][0] for f in (1.0, 0.1, 0.03, 0.01)]
        tv = [lepton_scan[f][pair][1] for f in (1.0, 0.1, 0.03, 0.01)]
        assert rate[0] > 0.05, pair  # O(10 %) at the muon mass (M3)
        assert tv[0] > 0.02, pair
        assert all(np.diff(rate) < 0), (pair, rate)
        assert all(np.diff(tv) < 0), (pair, tv)
        # quadratic in m_lepton at small mass: log slope between m_mu/30 and m_mu/100
        for series in (rate, tv):
            slope = math.log(series[2] / series[3]) / math.log(0.03 / 0.01)
            assert 1.6 < slope < 2.4, (pair, series, slope)
        # an electron-mass lepton (m_e = m_mu / 207), extrapolated quadratically from
        # m_mu / 100: 1.2e-4 (am/km) and 6e-5 (ed/md) at m_A' = 0.1 GeV
        assert rate[3] * (M_E / (0.01 * M_MU)) ** 2 < 3e-4
        assert rate[0] / rate[3] > 100
        assert tv[0] / tv[3] > 100


def test_differences_grow_with_lepton_over_dark_photon_mass() -> None:
    """At the muon mass, m_A' = 3, 1, 0.3, 0.1 GeV (m_mu / m_A' = 0.035 ... 1.06)."""
    scan = [_differences(m, M_MU) for m in (3.0, 1.0, 0.3, 0.1)]
    for pair in ("am/km", "ed/md"):
        tv = [s[pair][1] for s in scan]
        assert all(np.diff(tv) > 0), (pair, tv)
        assert tv[0] < 3e-3 < 1e-2 < tv[-1], (pair, tv)
    rate = [s["am/km"][0] for s in scan]
    assert all(np.diff(rate) > 0), rate
    assert scan[-1]["am/km"][0] > 0.5  # sigma_am is twice m_A'^4 sigma_km at 0.1 GeV on M3
    rate_d = [s["ed/md"][0] for s in scan]
    assert rate_d[0] < 2e-3, rate_d
    assert min(rate_d[2:]) > 0.03, rate_d
