"""Detector-level processing speed: apply_detector on 1e6 truth recoils (all LDMX effects and
each effect alone), the cross-section-weighted incident-energy sampler, and the cost
relative to generating the same events (issue 13: detector level adds < 20 % to generation).

"events_per_s" is apply_detector's rate; "vs_generation" is its time divided by the time
dm.generate needs for the same number of events (generation phase only, after adaptation,
and whole call including adaptation and pilot), measured on a km, m_A' = 10 MeV, 8 GeV
sample.  Run with ``make bench`` or ``python benchmarks/bench_detector.py [--fast]``.
"""

from __future__ import annotations

import os
import time

import numpy as np

import darkmoments as dm
from darkmoments.constants import M_E
from darkmoments.detector import DetectorConfig, apply_detector, sample_incident_energy

__all__ = ["run"]


def _events(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    # truth recoils resampled from a real generated sample (km, 10 MeV, 8 GeV)
    s = dm.generate("km", 0.01, 8.0, 20_000, seed=1)
    idx = rng.integers(0, len(s.events), n)
    return {
        c: s.events[c].to_numpy()[idx]
        for c in ("lepton_E", "lepton_px", "lepton_py", "lepton_pz", "lepton_pt")
    }


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(fast: bool = False) -> list[dict]:
    """Benchmark rows; ``fast`` uses 1e5 events instead of 1e6."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    n = 100_000 if fast else 1_000_000
    rng = np.random.default_rng(1)
    ev = _events(n, rng)

    timings: dict[str, float] = {}
    n_gen = 20_000 if fast else 100_000
    t0 = time.perf_counter()
    dm.generate("km", 0.01, 8.0, n_gen, seed=2, timings=timings)
    gen_total = (time.perf_counter() - t0) / n_gen
    gen_phase = timings["generation"] / n_gen

    variants = {
        "all (LDMX defaults)": DetectorConfig(),
        "multiple scattering only": DetectorConfig.off(multiple_scattering=True),
        "energy loss only": DetectorConfig.off(energy_loss=True),
        "smearing only": DetectorConfig.off(smearing=True),
        "all off": DetectorConfig.off(),
    }
    rows = []
    for name, cfg in variants.items():
        sec = _time(lambda cfg=cfg: apply_detector(ev, cfg, rng, lepton_mass=M_E, beam_energy=8.0))
        rows.append(
            {
                "step": f"apply_detector: {name}",
                "events": n,
                "seconds": round(sec, 3),
                "events_per_s": f"{n / sec:.2e}",
                "vs_generation": f"{sec / n / gen_phase:.1%}",
                "vs_generate_call": f"{sec / n / gen_total:.2%}",
            }
        )

    def sig(e: np.ndarray) -> np.ndarray:
        return (e / 8.0) ** 2

    sec = _time(lambda: sample_incident_energy(n, 8.0, 0.1, rng, sigma=sig))
    rows.append(
        {
            "step": "sample_incident_energy (sigma ~ E^2)",
            "events": n,
            "seconds": round(sec, 3),
            "events_per_s": f"{n / sec:.2e}",
            "vs_generation": f"{sec / n / gen_phase:.1%}",
            "vs_generate_call": f"{sec / n / gen_total:.2%}",
        }
    )
    return rows


if __name__ == "__main__":  # same table as ``make bench``, this benchmark only
    import sys

    import run as runner  # benchmarks/run.py, next to this script

    raise SystemExit(runner.main(["detector", *sys.argv[1:]]))
