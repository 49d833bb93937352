"""``make demo`` / ``python -m darkmoments.demo``: the main job on shipped data.

1. Exact cross sections of the five models at m_A' = 0.1 GeV, 8 GeV e- on W (seconds each).
2. A 20,000-event kinetic-mixing sample written to Parquet (with the cross section).
3. From the shipped templates: the LDMX Phase II 90% CL zero-background reach of every model,
   with the relic targets of the paper's benchmark (m_A'/m_chi = 3, alpha_D = 0.5) overlaid
   as in the paper's figure 1 (reach dashed, relic targets solid), as CSV tables and a plot.
4. ``darkmoments reproduce --fast`` into ``OUT/reproduce``: every paper figure and ours (PNG,
   PDF, CSV) with ``report.md`` / ``report.html``, at smoke-test sizes (about a minute on
   2 cores; ``--reproduce full`` for the full run, under 10 minutes; ``none`` to skip).

Everything goes to ``--out`` (default ``out/demo``).  The figure needs the ``plot`` extra
(``make demo`` installs it); without it the demo writes the tables and says how to get it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import cross_section, generate
from .io.atomic import write_csv_atomic
from .io.events import write_events
from .models import MODEL_IDS, get_model

__all__ = ["main"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--reproduce",
        choices=("fast", "full", "none"),
        default="fast",
        help="run darkmoments reproduce into OUT/reproduce (default: fast)",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    args = _parse(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    print("1) exact cross sections, m_A' = 0.1 GeV, 8 GeV e- on W, g_f = 1 (model units)")
    rows = []
    for mid in MODEL_IDS:
        xs = cross_section(mid, 0.1, 8.0, seed=args.seed)
        m = get_model(mid)
        rows.append(
            {
                "model": mid,
                "sigma_pb": xs.value_pb,
                "sigma_err_pb": xs.error_pb,
                "coupling_unit": m.coupling_unit,
            }
        )
        print(
            f"   {mid}: sigma = {xs.value_pb:.5g} +- {xs.error_pb:.2g} pb  (g in {m.coupling_unit})"
        )
    write_csv_atomic(pd.DataFrame(rows), out / "cross_sections.csv")

    print("2) 20,000 unweighted km events")
    sample = generate("km", 0.1, 8.0, 20_000, seed=args.seed)
    path = write_events(
        sample.events, out / "events_km_0.1GeV_8GeV.parquet", metadata=sample.metadata
    )
    ev = sample.events
    print(
        f"   sigma = {sample.sigma_pb:.5g} pb, efficiency {sample.unweighting_efficiency:.2f},"
        f" <E_lepton> = {ev.lepton_E.mean():.3f} GeV, <pT> = {ev.lepton_pt.mean():.4f} GeV,"
        f" nucleus pT > 100 MeV: {np.mean(ev.nucleus_pt > 0.1):.2%} -> {path}"
    )

    print("3) LDMX Phase II reach (90% CL, zero background) and relic targets")
    from . import relic
    from .stats import reach_by_model, reach_table

    table = reach_table("all", "ldmx-phase2")
    write_csv_atomic(table, out / "reach_ldmx-phase2.csv")
    reach = reach_by_model(table)  # {model: [{"mass", "coupling", "y"}]}
    targets = relic.scan("all", n_masses=30, m_min=0.003, m_max=3.0, proxy_band=False)
    write_csv_atomic(targets, out / "relic_targets.csv")
    for mid in MODEL_IDS:
        r = min(reach[mid], key=lambda r: abs(r["mass"] - 0.1))
        tg = targets[targets.model == mid]
        y_rel = float(np.interp(np.log(r["mass"]), np.log(tg.mass), tg.y))
        print(
            f"   {mid}: m_A' = {r['mass']:.3g} GeV  reach y = {r['y']:.3g}"
            f"  (g = {r['coupling']:.3g})  relic target y = {y_rel:.3g}"
        )

    from .errors import MissingExtraError

    try:
        from .plotting import plot_reach, save_figure

        curves = {str(m): (g.mass.to_numpy(), g.y.to_numpy()) for m, g in targets.groupby("model")}
        fig = plot_reach(
            reach,
            relic=curves,
            title="LDMX Phase II (8 GeV, $10^{16}$ EOT), 90% CL, zero background",
        )
        fig_path = save_figure(fig, out / "reach_relic_ldmx-phase2.png")
        print(f"   figure -> {fig_path}")
    except MissingExtraError as exc:  # the tables are written; only the figure needs [plot]
        print(f"   figure skipped: {exc}")
    if args.reproduce != "none":
        _reproduce(out / "reproduce", fast=args.reproduce == "fast", seed=args.seed)
    print(f"done in {time.perf_counter() - t0:.0f} s; outputs in {out}/")
    return 0


def _reproduce(out: Path, *, fast: bool, seed: int) -> None:
    """Step 4: the paper's figures and ours (``darkmoments reproduce``), resumable."""
    import os

    from .errors import MissingExtraError

    mode = "--fast" if fast else "full"
    print(f"4) darkmoments reproduce ({mode}): the paper's figures 1-6 and ours")
    try:
        from .figures import reproduce

        res = reproduce(out, fast=fast, seed=seed, workers=min(2, os.cpu_count() or 1))
    except MissingExtraError as exc:
        print(f"   skipped: {exc}")
        return
    print(f"   {len(res['figures'])} figures (PNG, PDF, CSV) in {out}/, report {res['report']}")


if __name__ == "__main__":
    raise SystemExit(main())
