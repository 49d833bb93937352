"""``darkmoments reproduce``: run the figure jobs, write PNG/PDF/CSV, the report, resume.

Every job (:data:`JOBS`) computes the tables of one or more figures and draws them; the
runner writes ``<name>.png``, ``<name>.pdf`` and ``<name>.csv`` (plus ``<name>_<part>.csv``
where a figure has several tables) atomically into the output directory, then records a
*stamp* (the figures, their paragraphs, the SHA-256 of every file and the key numbers) as one
chunk of a :class:`darkmoments.checkpoint.Checkpoint` in ``OUT/checkpoint``.  A rerun keeps
every job whose stamp and files are intact and recomputes the rest (a removed or modified
figure file recomputes its job); a run with other settings (``--fast``, ``--seed``, other
templates or darkmoments version) in the same directory is refused unless ``restart``.
``report.md`` and ``report.html`` are written from the stamps at the end of every run.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..checkpoint import Checkpoint, file_sha256, run_checkpointed
from ..errors import InputError, OutputPathError, StaleCheckpointError
from ..io.atomic import atomic_path, write_csv_atomic, write_text_atomic
from ..io.jsonio import dumps
from . import combined, ours, paper
from .common import JobResult, Settings, to_builtin
from .report import report_html, report_markdown

__all__ = ["JOBS", "Job", "reproduce"]

CHECKPOINT_DIR = "checkpoint"


@dataclass(frozen=True)
class Job:
    """One unit of work: a function of :class:`Settings`, the figures it makes, its cost.

    Attributes
    ----------
    name : str
        Job name (``--only``).
    fn : callable
        ``fn(settings) -> JobResult``.
    figures : tuple of str
        The figure names it writes.
    weight : int
        Relative cost (progress bar).

    Examples
    --------
    >>> from darkmoments.figures import JOBS
    >>> list(JOBS)  # the run order: cheap first
    ['fig1', 'fig4_fig5', 'fig6', 'relic', 'fig2_fig3', 'sigma', 'degeneracy', 'discrimination',
     'combined']
    >>> JOBS["fig4_fig5"].figures
    ('fig4_kinematics', 'fig5_2d')
    """

    name: str
    fn: Callable[[Settings], JobResult]
    figures: tuple[str, ...]
    weight: int


#: Every job in run order (cheap first, so that an interrupted run has something to show).
JOBS: dict[str, Job] = {
    j.name: j
    for j in (
        Job("fig1", paper.job_fig1, ("fig1_reach",), 2),
        Job("fig4_fig5", paper.job_fig4_fig5, ("fig4_kinematics", "fig5_2d"), 1),
        Job("fig6", paper.job_fig6, ("fig6_km_vs_md",), 2),
        Job("relic", ours.job_relic, ("relic_targets",), 2),
        Job(
            "fig2_fig3",
            paper.job_fig2_fig3,
            ("fig2_recoil_exact_vs_analytic", "fig3_nucleus_pt"),
            4,
        ),
        Job("sigma", ours.job_sigma, ("sigma_vs_mass",), 8),
        Job("degeneracy", ours.job_degeneracy, ("degeneracy_grid",), 6),
        Job("discrimination", ours.job_discrimination, ("discrimination_nsigma",), 20),
        Job("combined", combined.job_combined, ("combined_separation",), 6),
    )
}


def _say(msg: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(f"reproduce: {msg}", file=sys.stderr)


def _write_figure(fig: Any, out: Path, dpi: int) -> dict[str, str]:
    """CSV tables, PNG and PDF of one :class:`FigureRecord`; returns file name -> SHA-256."""
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    names = []
    for key, table in fig.tables.items():
        name = f"{fig.name}.csv" if key == "" else f"{fig.name}_{key}.csv"
        write_csv_atomic(table, out / name, float_format="%.8g")
        names.append(name)
    drawn = fig.draw()
    try:
        for ext in ("png", "pdf"):
            save_figure(drawn, out / f"{fig.name}.{ext}", dpi=dpi)
            names.append(f"{fig.name}.{ext}")
    finally:
        plt.close(drawn)
    return {n: file_sha256(out / n) for n in names}


def _run_job(item: tuple[str, Settings, str]) -> dict[str, Any]:
    """Compute, draw and write one job; returns its stamp (JSON-able)."""
    name, settings, out = item
    t0, c0 = time.perf_counter(), time.process_time()
    result = JOBS[name].fn(settings)
    t1 = time.perf_counter()
    figures: list[dict[str, Any]] = [
        {
            "name": f.name,
            "title": f.title,
            "paragraph": f.paragraph,
            "files": _write_figure(f, Path(out), settings.dpi),
        }
        for f in result.figures
    ]
    seconds = time.perf_counter() - t0
    _say(
        f"{name}: {', '.join(f['name'] for f in figures)} made in {seconds:.1f} s "
        f"(computing {t1 - t0:.1f} s, drawing and writing {seconds - (t1 - t0):.1f} s; "
        f"CPU of this process {time.process_time() - c0:.1f} s)"
    )
    return {
        "job": name,
        "seconds": seconds,
        "figures": figures,
        "numbers": to_builtin(result.numbers),
    }


def _save_stamp(stamp: dict[str, Any], path: Path) -> None:
    path.write_text(dumps(stamp, indent=1) + "\n", encoding="utf-8")


def _load_stamp(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _intact(stamp: dict[str, Any], out: Path) -> bool:
    """Whether every file a stamp lists exists with its recorded checksum."""
    for fig in stamp.get("figures", []):
        for name, sha in fig.get("files", {}).items():
            f = out / name
            if not f.is_file() or file_sha256(f) != sha:
                return False
    return True


def _kept(cp: Checkpoint, out: Path, names: Sequence[str]) -> list[str]:
    """Jobs whose stamp and files are intact; the stamps of the others are dropped."""
    kept = []
    for name in names:
        f = cp.verified(name)
        if f is None:
            continue
        if _intact(_load_stamp(f), out):
            kept.append(name)
        else:  # a figure file was removed or changed: recompute the job
            f.unlink()
            cp.verified(name)  # forgets the removed chunk
    return kept


def code_fingerprint() -> str:
    """SHA-256 of the code that computes and draws the figures (this package, plotting)."""
    import hashlib

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in [*sorted(here.glob("*.py")), here.parent / "plotting.py"]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def templates_fingerprint() -> dict[str, str]:
    """SHA-256 of every shipped template file (the identity of a reproduce run)."""
    from ..templates.library import default_directory

    d = default_directory()
    return {p.name: file_sha256(p) for p in sorted(d.glob("*.h5"))}


def select_jobs(only: str | Sequence[str] | None) -> list[str]:
    """Job names from ``only`` (job or figure names, comma-separated); all if None."""
    if only is None:
        return list(JOBS)
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
    by_figure = {f: j.name for j in JOBS.values() for f in j.figures}
    names = []
    for w in wanted:
        job = w if w in JOBS else by_figure.get(w)
        if job is None:
            allowed = ", ".join([*JOBS, *by_figure])
            raise InputError(f"unknown figure or job {w!r}; allowed: {allowed}")
        if job not in names:
            names.append(job)
    if not names:
        raise InputError("--only names no figure")
    return [n for n in JOBS if n in names]


def _output_dir(out: str | Path, create_parents: bool) -> Path:
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise OutputPathError(f"--out {d} exists and is not a directory")
    if not d.exists():
        if not create_parents and not d.parent.is_dir():
            raise OutputPathError(
                f"--out {d}: directory {d.parent} does not exist (create it first)"
            )
        d.mkdir(parents=create_parents)
    return d


def _checkpoint(out: Path, settings: Settings, restart: bool) -> Checkpoint:
    identity = {
        "what": "darkmoments reproduce",
        "version": __version__,
        "fast": settings.fast,
        "seed": settings.seed,
        "templates": templates_fingerprint(),
        "code": code_fingerprint(),
    }
    cp_dir = out / CHECKPOINT_DIR
    if restart and (cp_dir / "manifest.json").is_file():
        shutil.rmtree(cp_dir)  # only reproduce's own checkpoint directory
    try:
        return Checkpoint(cp_dir, identity, resume=True, what="reproduce run", suffix=".json")
    except StaleCheckpointError as exc:
        raise StaleCheckpointError(
            f"{exc}; the directory holds a reproduce run with other settings: choose another "
            "--out or pass --restart to recompute everything"
        ) from exc


def reproduce(
    out: str | Path,
    *,
    fast: bool = False,
    seed: int = 1,
    workers: int = 1,
    only: str | Sequence[str] | None = None,
    restart: bool = False,
    figures_dir: str | Path | None = None,
    progress: bool | None = None,
    create_parents: bool = False,
) -> dict[str, Any]:
    """Make every figure (or those of ``only``), resuming, then write the report.

    Parameters
    ----------
    out : path
        Output directory (created if missing; its parent must exist unless
        ``create_parents``).
    fast : bool
        Smoke-test sizes (under 2 minutes on 2 cores): the same files with fewer events,
        masses and grid points.
    seed : int
        Base seed (>= 0).
    workers : int
        Processes for the parallel loops (>= 1; the results do not depend on it).
    only : str or sequence of str, optional
        Jobs or figure names (``fig1``, ``fig5_2d``, ``degeneracy`` ...); default all.
    restart : bool
        Discard the checkpoint of a previous run in ``out`` and recompute everything.
    figures_dir : path, optional
        An existing directory to copy the PNG files into (e.g. ``docs/figures``).
    progress : bool, optional
        tqdm bars on stderr (default: when stderr is a terminal).
    create_parents : bool
        Create missing parents of ``out`` (the command's default directory).

    Returns
    -------
    dict
        ``out``, ``made`` and ``kept`` (job names), ``figures`` (names), ``report``
        (path) and ``seconds``.

    Raises
    ------
    InputError
        Bad ``seed``, ``workers`` or ``only``.
    OutputPathError
        ``out`` or ``figures_dir`` unusable.
    StaleCheckpointError
        ``out`` holds a run with other settings (and not ``restart``).

    Examples
    --------
    ``only`` takes job or figure names (:func:`select_jobs`):

    >>> from darkmoments.figures import select_jobs
    >>> select_jobs("fig5_2d"), select_jobs(["degeneracy", "fig1"])  # in run order
    (['fig4_fig5'], ['fig1', 'degeneracy'])

    A run of figures 4 and 5 and a rerun that keeps them (not run as a doctest: writing
    the PNG and PDF files takes 5-7 s; tests/test_reproduce.py runs it), and another seed in the
    same directory is refused:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.figures import reproduce
    >>> out = Path(tempfile.mkdtemp()) / "figs"
    >>> run = reproduce(out, fast=True, only="fig4_fig5")  # doctest: +SKIP
    >>> run["made"], run["figures"]  # doctest: +SKIP
    (['fig4_fig5'], ['fig4_kinematics', 'fig5_2d'])
    >>> sorted(p.name for p in out.glob("fig4*"))  # doctest: +SKIP
    ['fig4_kinematics.csv', 'fig4_kinematics.pdf', 'fig4_kinematics.png']
    >>> reproduce(out, fast=True, only="fig4_fig5")["kept"]  # doctest: +SKIP
    ['fig4_fig5']
    >>> reproduce(out, fast=True, seed=2, only="fig4_fig5")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    darkmoments.errors.StaleCheckpointError: ...
    """
    from ..validation import check_int

    t0 = time.perf_counter()
    seed = check_int("seed", seed, lo=0)
    workers = check_int("workers", workers, lo=1)
    names = select_jobs(only)
    fig_dir = None if figures_dir is None else Path(figures_dir)
    if fig_dir is not None and not fig_dir.is_dir():
        raise OutputPathError(f"--figures-dir {fig_dir} is not an existing directory")
    show = sys.stderr.isatty() if progress is None else bool(progress)
    settings = Settings(fast=bool(fast), seed=seed, workers=workers, progress=show)
    d = _output_dir(out, create_parents)
    cp = _checkpoint(d, settings, restart)
    kept = _kept(cp, d, names)
    for name in kept:
        _say(f"{name}: kept (made by an earlier run, files intact)")
    todo = [n for n in names if n not in kept]
    run_checkpointed(
        _run_job,
        [(n, settings, str(d)) for n in names],
        keys=names,
        checkpoint=cp,
        save=_save_stamp,
        load=_load_stamp,
        progress=show,
        desc="reproduce",
        unit="step",
        weights=[JOBS[n].weight for n in names],
    )
    stamps = [_load_stamp(f) for n in JOBS if (f := cp.verified(n)) is not None]
    report = _write_report(d, stamps, settings)
    figures = [f["name"] for s in stamps for f in s["figures"]]
    if fig_dir is not None:
        _copy_pngs(d, fig_dir, figures)
    return {
        "out": str(d),
        "made": todo,
        "kept": kept,
        "figures": figures,
        "report": str(report),
        "seconds": time.perf_counter() - t0,
    }


#: Order of the figures in the report: the paper's 1-6, then ours.
REPORT_ORDER = (
    "fig1_reach", "fig2_recoil_exact_vs_analytic", "fig3_nucleus_pt", "fig4_kinematics",
    "fig5_2d", "fig6_km_vs_md", "degeneracy_grid", "discrimination_nsigma",
    "combined_separation", "relic_targets", "sigma_vs_mass",
)  # fmt: skip


def _write_report(out: Path, stamps: Sequence[dict[str, Any]], s: Settings) -> Path:
    meta = {"version": __version__, "fast": s.fast, "seed": s.seed}
    figures = sorted((f for st in stamps for f in st["figures"]),
                     key=lambda f: REPORT_ORDER.index(f["name"]))  # fmt: skip
    write_text_atomic(out / "report.html", report_html(figures, meta))
    return write_text_atomic(out / "report.md", report_markdown(figures, meta))


#: Width in pixels of the PNG copies written to ``figures_dir`` (documentation set).
DOCS_WIDTH = 1100


def _copy_pngs(out: Path, dest: Path, figures: Sequence[str]) -> None:
    """Small copies of the PNGs: at most :data:`DOCS_WIDTH` wide, 256-colour palette."""
    from PIL import Image  # a dependency of matplotlib

    for name in figures:
        with Image.open(out / f"{name}.png") as img:
            im = img.convert("RGB")
        if im.width > DOCS_WIDTH:
            im = im.resize(
                (DOCS_WIDTH, round(im.height * DOCS_WIDTH / im.width)), Image.Resampling.LANCZOS
            )
        small = im.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        with atomic_path(dest / f"{name}.png") as tmp:
            small.save(tmp, format="PNG", optimize=True)
