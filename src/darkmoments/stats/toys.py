"""Model-discrimination pseudo-experiments.

Statistic (for binned data n): t = min_{m, mu} D_alt(n) - min_{m, mu} D_true(n), the
likelihood ratio between the best fit of the alternative model and of the true model, both
with the A' mass profiled (continuous, template interpolation in log m) and the normalisation
free (or tied to the rate).  Large t favours the true model.

Procedure for a true (model, mass) with N expected signal events:

1. Asimov data of the true model; the alternative's best fit to it, (m*, N*), is the most
   degenerate alternative point ("closest" alternative), t_A its statistic.
2. Toys under the true hypothesis (Poisson(N p_true(m))) and under the alternative point
   (Poisson(N* p_alt(m*))), all fitted with :func:`~darkmoments.stats.fast.profile_mass`.
3. p-value of rejecting the alternative for the median true experiment:
   p = #(t_alt >= median t_true) / n_toys, Z = Phi^-1(1 - p).  The Asimov approximation is
   Z_A = sqrt(t_A); with free normalisation t_A is exactly proportional to N, so the events
   needed for Z sigma are N_Z = Z^2 N / t_A.

Toys run in chunks with seeds from ``np.random.SeedSequence(seed).spawn(n_chunks)`` so the
results do not depend on the number of workers or the executor; each finished chunk is
written atomically to ``out_dir`` (``chunk_XXXXX.npz`` next to a ``manifest.json``) and
``resume=True`` skips chunks already on disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..io.atomic import atomic_path, write_text_atomic
from .discovery import p_to_z
from .fast import P_FLOOR, PreparedCounts, prepare_counts, profile_mass
from .fits import asimov
from .shapes import ShapeGrid

__all__ = [
    "DiscriminationResult",
    "DiscriminationSetup",
    "alternative_point",
    "discrimination_statistic",
    "empirical_p_values",
    "reference_statistic_pyhf",
    "relic_setup",
    "run_discrimination",
    "template_noise_floor",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DiscriminationSetup:
    """What to discriminate.

    Attributes
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes of the true and the alternative model (same observables and binning).
    true_mass : float
        True A' mass in GeV.
    n_events : float
        Expected signal events of the true hypothesis (> 0).
    rates_true, rates_alt : ndarray, optional
        Expected events at each grid mass of each model when the coupling is tied (e.g. to
        the relic target); if given, the normalisation is tied in the fits and ``n_events``
        must equal the true rate at ``true_mass``.
    refine : bool
        Continuous mass refinement between grid nodes (True) or grid-node profiling.
    p_floor : float
        Floor on the template probabilities: an empty template bin stands for p below the
        MC resolution, not p = 0.  An event in a bin that a hypothesis never populates costs
        2 ln(1 / (N p_floor)) in its deviance, so with finite-statistics templates the tails
        of t depend on this choice (the median, and hence the expected significance, much
        less).  Default :data:`~darkmoments.stats.fast.P_FLOOR`.
    """

    true_grid: ShapeGrid
    alt_grid: ShapeGrid
    true_mass: float
    n_events: float
    rates_true: FloatArray | None = None
    rates_alt: FloatArray | None = None
    refine: bool = True
    p_floor: float = P_FLOOR

    def __post_init__(self) -> None:
        if self.true_grid.n_bins != self.alt_grid.n_bins:
            raise ValueError(
                f"true and alternative shapes have {self.true_grid.n_bins} and "
                f"{self.alt_grid.n_bins} bins; use the same observables and binning"
            )
        if not (np.isfinite(self.n_events) and self.n_events > 0):
            raise ValueError(f"number of events must be finite and > 0, got {self.n_events}")
        self.true_grid.check_mass(self.true_mass)
        if (self.rates_true is None) != (self.rates_alt is None):
            raise ValueError("give both rates_true and rates_alt (tied rates) or neither")
        if self.rates_true is not None:
            rt = np.asarray(self.rates_true, dtype=float)
            ra = np.asarray(self.rates_alt, dtype=float)
            if rt.shape != self.true_grid.masses.shape or ra.shape != self.alt_grid.masses.shape:
                raise ValueError("rates_true / rates_alt need one value per grid mass")
            if not (
                np.all(np.isfinite(rt))
                and np.all(rt > 0)
                and np.all(np.isfinite(ra))
                and np.all(ra > 0)
            ):
                raise ValueError("tied rates must be finite and > 0 events")
            expected = _power_law(self.true_grid.masses, rt, float(self.true_mass))
            if not np.isclose(self.n_events, expected, rtol=1e-9):
                raise ValueError(
                    f"n_events = {self.n_events} differs from the tied true rate {expected} "
                    f"at m = {self.true_mass} GeV"
                )

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the toys (for safe ``--resume``)."""
        h = hashlib.sha256()
        for g in (self.true_grid, self.alt_grid):
            h.update(g.model.encode())
            h.update(np.ascontiguousarray(g.masses).tobytes())
            h.update(np.ascontiguousarray(g.probs).tobytes())
        for r in (self.rates_true, self.rates_alt):
            h.update(b"none" if r is None else np.ascontiguousarray(r).tobytes())
        h.update(
            repr((float(self.true_mass), float(self.n_events), self.refine, self.p_floor)).encode()
        )
        return h.hexdigest()


def _power_law(masses: FloatArray, values: FloatArray, mass: float) -> float:
    """Interpolate ``values`` linearly in (log m, log value), as ShapeGrid.rate does."""
    return float(np.exp(np.interp(np.log(mass), np.log(masses), np.log(values))))


def relic_setup(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    true_mass: float,
    *,
    coupling_factor: float = 1.0,
    refine: bool = True,
) -> DiscriminationSetup:
    """A setup with the normalisations tied to the relic-target couplings of each model.

    Under each hypothesis the expected signal at mass m is N(m) = (f g_relic(m))^2 N_1(m),
    with g_relic from :func:`darkmoments.relic.target` (Omega h^2 = 0.120, paper section 3)
    and N_1 the expected events at unit coupling (``grid.n1``); f = ``coupling_factor``
    scales both couplings (1 = exactly on the relic targets).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes with ``n1`` (e.g. from :func:`~darkmoments.stats.shapes.load_grid`).
    true_mass : float
        True A' mass in GeV.
    coupling_factor : float
        f > 0.
    refine : bool
        Continuous mass refinement.

    Returns
    -------
    DiscriminationSetup
    """
    from ..relic import target

    if not (np.isfinite(coupling_factor) and coupling_factor > 0):
        raise ValueError(f"coupling_factor must be finite and > 0, got {coupling_factor}")
    rates = []
    for g in (true_grid, alt_grid):
        if g.n1 is None:
            raise ValueError(f"shape grid of model {g.model} has no event rates (n1)")
        gr = np.asarray(target(g.model, g.masses).coupling, dtype=float)
        rates.append((coupling_factor * gr) ** 2 * g.n1)
    true_grid.check_mass(true_mass)
    n_true = _power_law(true_grid.masses, rates[0], float(true_mass))
    return DiscriminationSetup(
        true_grid, alt_grid, float(true_mass), n_true, rates[0], rates[1], refine
    )


def discrimination_statistic(
    counts: FloatArray | PreparedCounts, setup: DiscriminationSetup
) -> FloatArray:
    """t = min D_alt - min D_true for each toy (rows of ``counts``), masses profiled."""
    counts = prepare_counts(counts, setup.true_grid.n_bins)
    kw = {"refine": setup.refine, "p_floor": setup.p_floor}
    alt = profile_mass(counts, setup.alt_grid, rates=setup.rates_alt, **kw)
    tru = profile_mass(counts, setup.true_grid, rates=setup.rates_true, **kw)
    return alt.deviance - tru.deviance


def alternative_point(setup: DiscriminationSetup) -> tuple[float, float, float]:
    """Best fit of the alternative model to the true Asimov data.

    Returns
    -------
    mass, norm, t_asimov : float
        Alternative mass (GeV), its expected events and the Asimov statistic t_A.
    """
    data = asimov(setup.true_grid, setup.true_mass, setup.n_events)[None, :]
    kw = {"refine": setup.refine, "p_floor": setup.p_floor}
    alt = profile_mass(data, setup.alt_grid, rates=setup.rates_alt, **kw)
    tru = profile_mass(data, setup.true_grid, rates=setup.rates_true, **kw)
    return float(alt.mass[0]), float(alt.norm[0]), float(alt.deviance[0] - tru.deviance[0])


def template_noise_floor(
    setup: DiscriminationSetup, alt_mass: float, *, n_resamples: int = 20, seed: int = 0
) -> float:
    r"""Asimov t that the templates' own MC noise produces when the two shapes are equal.

    The true template p (at ``setup.true_mass``) is resampled twice, independently, with
    the MC statistics of the true and of the alternative template (multinomial with the
    effective event counts N_eff = sum p(1-p) / sum V); the Asimov t of one copy fitted by the
    other (mass fixed, same ``p_floor``) is averaged over ``n_resamples`` pairs.  In the
    large-count limit this is

    .. math:: t_{floor} = N \sum_b (V_{true,b} + V_{alt,b}) / p_b ,

    but bins with few MC entries (and those empty in one copy) are included exactly.  A t_A
    that is not well above t_floor measures template statistics, not physics (e.g. km vs
    cr, whose normalised distributions are identical): such results are flagged
    ``template_limited``.

    Parameters
    ----------
    setup : DiscriminationSetup
        The problem (true shape at ``setup.true_mass``, ``setup.n_events`` events).
    alt_mass : float
        Mass of the alternative template in GeV (its Asimov best fit).
    n_resamples : int
        Resampled pairs to average.
    seed : int
        Seed of the resampling (the floor is deterministic).

    Returns
    -------
    float
        The expected t from template noise alone (dimensionless).
    """
    p = setup.true_grid.shape(setup.true_mass)
    p = p / p.sum()
    n_eff = []
    for grid, m in ((setup.true_grid, setup.true_mass), (setup.alt_grid, alt_mass)):
        v = grid.variance(m)
        q = grid.shape(m)
        n_eff.append(max(float(np.sum(q * (1 - q)) / max(float(np.sum(v)), 1e-300)), 1.0))
    rng = np.random.default_rng(seed)
    mass = np.array([setup.true_mass])
    ts = []
    for _ in range(n_resamples):
        copies = [rng.multinomial(round(n), p) / round(n) for n in n_eff]
        grids = [
            ShapeGrid(g.model, mass, c[None], (c * (1 - c) / n)[None], None, g.observables)
            for g, c, n in zip((setup.true_grid, setup.alt_grid), copies, n_eff, strict=True)
        ]
        pair = DiscriminationSetup(
            grids[0],
            grids[1],
            setup.true_mass,
            setup.n_events,
            refine=False,
            p_floor=setup.p_floor,
        )
        ts.append(alternative_point(pair)[2])
    return float(np.mean(ts))


#: t_A below this multiple of :func:`template_noise_floor` is flagged ``template_limited``.
TEMPLATE_LIMIT_FACTOR: float = 3.0


def _run_chunk(
    args: tuple[DiscriminationSetup, int, np.random.SeedSequence, float, float],
) -> dict[str, FloatArray]:
    """Toys of one chunk: statistics under the true and the alternative hypothesis."""
    setup, n, seq, m_alt, n_alt = args
    rng = np.random.default_rng(seq)
    lam_true = asimov(setup.true_grid, setup.true_mass, setup.n_events)
    lam_alt = asimov(setup.alt_grid, m_alt, n_alt)
    c_true = rng.poisson(lam_true, size=(n, lam_true.size)).astype(float)
    c_alt = rng.poisson(lam_alt, size=(n, lam_alt.size)).astype(float)
    return {
        "t_true": discrimination_statistic(c_true, setup),
        "t_alt": discrimination_statistic(c_alt, setup),
    }


def empirical_p_values(t_obs: FloatArray, t_ref: FloatArray) -> FloatArray:
    """P(T >= t_obs) estimated from reference toys ``t_ref`` (fraction, 0 if none exceed)."""
    ref = np.sort(np.asarray(t_ref, dtype=float))
    if ref.size == 0:
        raise ValueError("need at least one reference toy")
    idx = np.searchsorted(ref, np.asarray(t_obs, dtype=float), side="left")
    return (ref.size - idx) / ref.size


@dataclass(frozen=True)
class DiscriminationResult:
    """Outcome of the discrimination toys (statistic t = D_alt - D_true; see module doc).

    Attributes
    ----------
    true_model, alt_model : str
        Model ids.
    true_mass : float
        True A' mass in GeV.
    n_events : float
        Expected signal events of the true hypothesis.
    alt_mass, alt_norm : float
        Alternative point fitted to the true Asimov data (GeV, events).
    t_asimov : float
        Asimov statistic.
    z_asimov : float
        sqrt(t_A).
    n_3sigma, n_5sigma : float or None
        Events for Z_A = 3, 5 (free normalisation only; meaningless when
        ``template_limited``, which the CLI and the studies report).
    p_value : float
        Toy p-value of the alternative for the median true experiment.
    z : float
        Its significance; a lower bound if ``z_is_bound``.
    z_is_bound : bool
        True if no alternative toy reached the median (p < 1 / n_toys).
    n_toys : int
        Toys per hypothesis.
    median_t_true : float
        Median of t under the true hypothesis.
    t_template_floor : float
        t_A expected from the templates' MC noise alone (:func:`template_noise_floor`).
    template_limited : bool
        t_A < 3 t_template_floor: the separation is not resolved by the templates' statistics
        (Z, N(3 sigma), N(5 sigma) then reflect template noise, not physics).
    t_true, t_alt : ndarray
        The toy statistics.
    """

    true_model: str
    alt_model: str
    true_mass: float
    n_events: float
    alt_mass: float
    alt_norm: float
    t_asimov: float
    z_asimov: float
    n_3sigma: float | None
    n_5sigma: float | None
    p_value: float
    z: float
    z_is_bound: bool
    n_toys: int
    median_t_true: float
    t_template_floor: float
    template_limited: bool
    t_true: FloatArray = field(repr=False)
    t_alt: FloatArray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (without the toy arrays)."""
        d = asdict(self)
        d.pop("t_true")
        d.pop("t_alt")
        return d


def _atomic_savez(path: Path, arrays: dict[str, FloatArray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def run_discrimination(
    setup: DiscriminationSetup,
    n_toys: int,
    *,
    seed: int = 0,
    chunk_size: int = 1000,
    workers: int = 1,
    scheduler: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = False,
) -> DiscriminationResult:
    """Run discrimination toys (see module docstring).

    Parameters
    ----------
    setup : DiscriminationSetup
        True and alternative hypotheses.
    n_toys : int
        Toys per hypothesis (>= 1).
    seed : int
        Root seed (>= 0); chunk seeds are ``SeedSequence(seed).spawn(n_chunks)``.
    chunk_size : int
        Toys per chunk (>= 1); part of the identity of a run (a resumed run must use the
        same value).
    workers : int
        Local processes (1 = in this process).
    scheduler : str or distributed.Client, optional
        Dask scheduler; overrides ``workers``.
    out_dir : path, optional
        Directory for streamed chunk results (``manifest.json``, ``chunk_XXXXX.npz``).
    resume : bool
        Continue a run in ``out_dir`` (its manifest must match).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    DiscriminationResult
    """
    from tqdm.auto import tqdm

    from ..parallel import get_executor

    for name, v in (("n_toys", n_toys), ("chunk_size", chunk_size), ("workers", workers)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed}")
    n_toys, chunk_size = int(n_toys), int(chunk_size)
    m_alt, n_alt, t_a = alternative_point(setup)
    n_chunks = math.ceil(n_toys / chunk_size)
    seqs = np.random.SeedSequence(int(seed)).spawn(n_chunks)
    sizes = [min(chunk_size, n_toys - i * chunk_size) for i in range(n_chunks)]
    results: dict[int, dict[str, FloatArray]] = {}
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        manifest = {
            "fingerprint": setup.fingerprint(),
            "true_model": setup.true_grid.model,
            "alt_model": setup.alt_grid.model,
            "true_mass": float(setup.true_mass),
            "n_events": float(setup.n_events),
            "n_toys": n_toys,
            "seed": int(seed),
            "chunk_size": chunk_size,
        }
        mpath = out / "manifest.json"
        if mpath.exists():
            if not resume:
                raise ValueError(
                    f"{out} already holds a toy run; pass resume=True (--resume) to continue it "
                    "or choose another directory"
                )
            old = json.loads(mpath.read_text())
            if old != manifest:
                diff = sorted(k for k in manifest if old.get(k) != manifest[k])
                raise ValueError(f"cannot resume {out}: settings differ in {diff}")
        else:
            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(mpath, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for i in range(n_chunks):
            f = out / f"chunk_{i:05d}.npz"
            if f.exists():
                with np.load(f) as z:
                    results[i] = {k: z[k] for k in ("t_true", "t_alt")}
    todo = [i for i in range(n_chunks) if i not in results]
    items = [(setup, sizes[i], seqs[i], m_alt, n_alt) for i in todo]
    with (
        get_executor(workers=int(workers), scheduler=scheduler) as ex,
        tqdm(
            total=n_toys,
            initial=n_toys - sum(sizes[i] for i in todo),
            disable=not progress,
            unit="toy",
            desc="discrimination toys",
        ) as bar,
    ):
        for j, res in ex.imap_unordered(_run_chunk, items):
            i = todo[j]
            results[i] = res
            if out is not None:
                _atomic_savez(out / f"chunk_{i:05d}.npz", res)
            bar.update(sizes[i])
    t_true = np.concatenate([results[i]["t_true"] for i in range(n_chunks)])
    t_alt = np.concatenate([results[i]["t_alt"] for i in range(n_chunks)])
    med = float(np.median(t_true))
    floor = template_noise_floor(setup, m_alt)
    p = float(empirical_p_values(np.array([med]), t_alt)[0])
    bound = p == 0.0
    z = float(p_to_z(max(p, 1.0 / t_alt.size)))
    z_a = math.sqrt(max(t_a, 0.0))
    limited = bool(t_a < TEMPLATE_LIMIT_FACTOR * floor)
    usable = setup.rates_alt is None and t_a > 0
    n3 = 9.0 * setup.n_events / t_a if usable else None
    n5 = 25.0 * setup.n_events / t_a if usable else None
    return DiscriminationResult(
        true_model=setup.true_grid.model,
        alt_model=setup.alt_grid.model,
        true_mass=float(setup.true_mass),
        n_events=float(setup.n_events),
        alt_mass=m_alt,
        alt_norm=n_alt,
        t_asimov=t_a,
        z_asimov=z_a,
        n_3sigma=n3,
        n_5sigma=n5,
        p_value=p,
        z=z,
        z_is_bound=bound,
        n_toys=n_toys,
        median_t_true=med,
        t_template_floor=floor,
        template_limited=limited,
        t_true=t_true,
        t_alt=t_alt,
    )


def reference_statistic_pyhf(
    counts: FloatArray,
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    *,
    p_floor: float = P_FLOOR,
    tolerance: float = 1e-7,
) -> FloatArray:
    """Slow reference: the grid-node statistic from pyhf + iminuit fits, toy by toy.

    For every grid mass of each model a pyhf model (one sample, shape = floored template
    probabilities, free normfactor ``mu``) is fitted with pyhf's Minuit optimizer; the
    statistic is min over masses of twice_nll(alt) - min of twice_nll(true).  Equals
    :func:`discrimination_statistic` with ``refine=False`` (pyhf's Poisson constants cancel).

    Parameters
    ----------
    counts : ndarray, shape (n_toys, n_bins)
        Toys.
    true_grid, alt_grid : ShapeGrid
        Hypotheses.
    p_floor : float
        Floor on the probabilities (same as the fast path).
    tolerance : float
        Minuit tolerance.

    Returns
    -------
    ndarray, shape (n_toys,)
    """
    import pyhf

    from .limits import pyhf_backend

    c = np.atleast_2d(np.asarray(counts, dtype=float))

    def models(grid: ShapeGrid) -> list[Any]:
        out = []
        top = float(max(10.0, 10.0 * c.sum(axis=1).max()))
        for p in np.maximum(grid.probs, p_floor):
            spec = {
                "channels": [
                    {
                        "name": "recoil",
                        "samples": [
                            {
                                "name": "signal",
                                "data": p.tolist(),
                                "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                            }
                        ],
                    }
                ],
            }
            m = pyhf.Model(spec, poi_name="mu", validate=False)
            out.append((m, top))
        return out

    with pyhf_backend("minuit", tolerance=tolerance):
        mt, ma = models(true_grid), models(alt_grid)
        res = np.empty(c.shape[0])
        for i, row in enumerate(c):
            best = []
            for ms in (ma, mt):
                vals = []
                for m, top in ms:
                    bounds = [(0.0, top)]
                    init = [max(row.sum(), 1e-3)]
                    _, twice_nll = pyhf.infer.mle.fit(
                        row.tolist(), m, init_pars=init, par_bounds=bounds, return_fitted_val=True
                    )
                    vals.append(float(twice_nll))
                best.append(min(vals))
            res[i] = best[0] - best[1]
    return res
