"""Event-sample files: Parquet, CSV and Les Houches Event files (LHEF 3.0, plain or gzip).

One event of ``l(p1) N(P1) -> l(p2) N(P2) A'(k)`` is one row of a :class:`pandas.DataFrame`
with the columns of :data:`EVENT_COLUMNS` (GeV, lab frame = target rest frame, beam along
+z; ``weight`` in pb per event, so that the sum of the weights is the cross section).

Formats, chosen from the file suffix by :func:`write_events`:

``.parquet``
    The columns as float64; the metadata dict is stored as JSON under the key
    ``darkmoments`` of the Parquet (Arrow) schema key-value metadata, and again under
    pandas' own ``PANDAS_ATTRS`` key, so that ``pandas.read_parquet(path).attrs`` is the
    metadata dict (pandas >= 2.1 restores ``DataFrame.attrs`` from it).
``.csv``
    Leading comment lines ``# key: <JSON value>`` hold the metadata, then a header line and
    one line per event with round-trip (repr) precision.  Read it with
    ``pandas.read_csv(path, comment="#")`` (or :func:`read_events` for the metadata too).
``.lhe`` / ``.lhe.gz``
    Les Houches Event File version 3.0 (Boos et al., hep-ph/0109068 and Alwall et al.,
    hep-ph/0609017; LHEF 3.0: Andersen et al., arXiv:1405.1067).  ``<header>`` holds the
    metadata as JSON inside ``<darkmoments>`` and a MadGraph-style parameter card inside
    ``<slha>`` (:meth:`_LheFormat.param_card`): block ``frblock`` with the nuclear mass
    (``5 <M_N> # Anuc``, GeV) and the target atomic number (``6 <Z> # Znuc``, the line
    G4DarkBreM's ``parse::lhe`` reads the target Z from; without it G4DarkBreM refuses the
    file), block ``mass`` with the lepton and A' masses.  ``<init>``: beam 1 is the lepton
    (PDG 11 for e-, 13 for mu-) with energy E0, beam 2 the fixed-target nucleus with energy
    equal to its mass (at rest) and the PDG nuclear code ``10LZZZAAAI`` = ``100ZZZAAA0``; no
    PDFs (PDFGUP = PDFSUP = 0); IDWTUP = 3 for unweighted samples (all XWGTUP equal) and 4
    for weighted ones; XSECUP, XERRUP in pb; XMAXUP the largest event weight; then the LHEF
    3.0 ``<generator name="darkmoments" version="...">`` tag.  Each ``<event>``: NUP = 5,
    XWGTUP = the event weight in pb, SCALUP = m_A', AQEDUP = alpha(0), AQCDUP = 0; then, in
    this order, the incoming lepton and nucleus (status -1) and the outgoing lepton, nucleus
    and A' (status 1, mothers 1 2), colour 0, four-momenta and masses in GeV, lifetime 0 and
    spin 9 (unknown): the incoming lepton, recoil lepton and A' are two lines apart, as
    G4DarkBreM's parser expects.  The A' has PDG id 622 by default (``aprime_id``), the code
    G4DarkBreM (its ``aprime_lhe_id`` default) and LDMX's older MadGraph libraries use.

    Nucleus id and mass: the target is the natural-abundance element, whose mass is
    ``A * u`` with A its standard atomic weight (W: A = 183.84, M_N = 171.25 GeV).  The PDG
    code needs an integer mass number; it is the one nearest the mass actually written,
    ``round(M_N / u)`` (W: 184, code 1000741840), and a metadata set whose ``A`` and
    ``nuclear_mass`` disagree by half a nucleon or more is refused, so code and mass always
    describe the same nucleus (dark-brem-lib-gen does the same: tungsten A = 184,
    M_N = 171.3 GeV).

Every write is atomic: the data go to a temporary file in the target directory which is
then moved into place with :func:`os.replace`; on any error, Ctrl-C or SIGTERM the temporary
file is removed and an existing target file is left untouched.

Writers stream: events go out in chunks of :data:`CHUNK_ROWS` rows (one Parquet row group
each), so memory does not grow with the sample.  :func:`generate_to_file` generates and writes
a sample of any size in bounded memory: the events are spooled to a hidden scratch file in the
output directory while the generator runs (the cross section, which every format stores
before the events, is only known at the end), then converted chunk by chunk.

Files are reproducible: the same events and metadata give byte-identical files (the gzip
header of ``.lhe.gz`` has no file name and mtime 0; Parquet and CSV store no time stamps).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..constants import ALPHA_EM
from ..errors import InputError, InputTypeError, OutputPathError
from ..events_schema import (
    BYTES_PER_EVENT,
    EVENT_COLUMNS,
    REQUIRED_METADATA,
    WEIGHT,
    momentum_columns,
)
from ..targets import ATOMIC_MASS_UNIT_GEV
from . import jsonio
from .atomic import atomic_path, scratch_path, sigterm_raises

if TYPE_CHECKING:  # the generator (and its integrator) is imported only to generate
    from ..generator import GenerationResult

__all__ = [
    "APRIME_PDG_ID",
    "CHUNK_ROWS",
    "EVENT_COLUMNS",
    "LEPTON_PDG_IDS",
    "REQUIRED_METADATA",
    "SUFFIXES",
    "check_disk_space",
    "disk_bytes_needed",
    "generate_to_file",
    "nucleus_pdg_id",
    "read_events",
    "write_event_chunks",
    "write_events",
]

#: Supported file suffixes.
SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".lhe", ".lhe.gz")
#: PDG Monte Carlo numbering scheme (PDG 2024, "Monte Carlo particle numbering scheme").
LEPTON_PDG_IDS: dict[str, int] = {"e": 11, "mu": 13}
#: Dark-photon id of LDMX's dark-brem simulation (ldmx-sw SimCore G4APrime).
APRIME_PDG_ID: int = 622
_PARQUET_KEY = b"darkmoments"
#: Key under which pandas (>= 2.1) stores ``DataFrame.attrs`` in Parquet files.
_PANDAS_ATTRS_KEY = b"PANDAS_ATTRS"
#: Rows per chunk of the streaming writers (one Parquet row group per chunk).
CHUNK_ROWS: int = 100_000
#: File size per event (bytes; measured 138-148, 306, 826, 137-148 on generated samples,
#: plus ~10%), for the
#: disk-space check of :func:`generate_to_file`.
_FILE_BYTES_PER_EVENT: dict[str, int] = {
    ".parquet": 165,
    ".csv": 340,
    ".lhe": 910,
    ".lhe.gz": 165,
}


def nucleus_pdg_id(Z: int, A: float) -> int:
    """PDG nuclear code 10LZZZAAAI = 1000000000 + 10000 Z + 10 A (L = I = 0).

    Parameters
    ----------
    Z : int
        Atomic number (1..999).
    A : float
        Mass number or atomic weight (rounded to the nearest integer, 1..999).

    Returns
    -------
    int
        e.g. 1000741840 for tungsten (Z = 74, A = 183.84 -> 184).

    Examples
    --------
    >>> from darkmoments.io.events import nucleus_pdg_id
    >>> nucleus_pdg_id(74, 183.84)
    1000741840
    """
    z = int(Z)
    a = round(float(A))
    if not 1 <= z <= 999 or not 1 <= a <= 999 or z > a:
        raise InputError(f"nuclear code needs 1 <= Z <= A <= 999, got Z = {Z}, A = {A}")
    return 1_000_000_000 + 10_000 * z + 10 * a


def _check_aprime_id(aprime_id: Any) -> int:
    """The A' PDG id of an LHE file: an integer that is not a lepton, nucleus or 0."""
    if isinstance(aprime_id, bool) or not isinstance(aprime_id, int | np.integer):
        raise InputTypeError(f"aprime_id must be an integer, got {type(aprime_id).__name__}")
    a = int(aprime_id)
    if a == 0 or abs(a) in LEPTON_PDG_IDS.values() or abs(a) >= 1_000_000_000:
        raise InputError(
            f"aprime_id must be a non-zero PDG id other than the leptons 11, 13 and the "
            f"nuclear codes >= 1000000000, got {aprime_id}"
        )
    return a


def _nucleus_code(meta: dict[str, Any]) -> int:
    """PDG code of the nucleus whose mass ``meta["nuclear_mass"]`` (GeV) is written.

    A = round(M_N / u); refused if the metadata's atomic weight ``A`` disagrees with the mass
    by half a nucleon or more (code and mass would describe different nuclei).
    """
    mn = float(meta["nuclear_mass"])
    if not math.isfinite(mn) or mn <= 0:
        raise InputError(f"metadata nuclear_mass must be a finite number > 0, got {mn}")
    a_mass = mn / ATOMIC_MASS_UNIT_GEV
    if abs(a_mass - float(meta["A"])) >= 0.5:
        raise InputError(
            f"metadata A = {meta['A']} and nuclear_mass = {mn} GeV (A = {a_mass:.4g} u) "
            "describe different nuclei"
        )
    return nucleus_pdg_id(int(meta["Z"]), a_mass)


# --------------------------------------------------------------------------- validation
def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suf in (".lhe.gz", ".parquet", ".csv", ".lhe"):
        if name.endswith(suf):
            return suf
    raise InputError(
        f"unsupported event-file suffix in {str(path)!r}; allowed: {', '.join(SUFFIXES)}"
    )


def _clean_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InputTypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise InputError(f"metadata lacks required keys {missing}; required: {REQUIRED_METADATA}")
    try:
        text = jsonio.dumps(metadata)
    except TypeError as exc:
        raise InputTypeError(f"metadata must be JSON serialisable: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"metadata must not contain NaN or infinity: {exc}") from exc
    out: dict[str, Any] = json.loads(text)
    return out


def _check_events(events: Any) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        raise InputTypeError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InputError(f"events lack columns {missing}; required: {list(EVENT_COLUMNS)}")
    for c in EVENT_COLUMNS:
        if not pd.api.types.is_numeric_dtype(events[c]):
            raise InputError(f"column {c!r} must be numeric, got dtype {events[c].dtype}")
        bad = int((~np.isfinite(events[c].to_numpy(dtype=float))).sum())
        if bad:
            raise InputError(f"column {c!r} has {bad} NaN/infinite values")
    return events


def _check_target_dir(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputPathError(f"output path {str(path)!r} is a directory, expected a file")
    if not parent.exists():
        raise FileNotFoundError(f"output directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise NotADirectoryError(f"output directory {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"output directory {str(parent)!r} is not writable")


# --------------------------------------------------------------------------- writers
def _ordered(events: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in events.columns if c not in EVENT_COLUMNS]
    return events.loc[:, [*EVENT_COLUMNS, *extra]].reset_index(drop=True)


def _frame_chunks(events: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """The ordered table in slices of CHUNK_ROWS rows (one empty slice for an empty table)."""
    ordered = _ordered(events)
    if len(ordered) == 0:
        yield ordered
        return
    for start in range(0, len(ordered), CHUNK_ROWS):
        yield ordered.iloc[start : start + CHUNK_ROWS]


def _write_parquet(chunks: Iterable[pd.DataFrame], meta: dict[str, Any], tmp: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                schema_meta = dict(table.schema.metadata or {})
                schema_meta[_PARQUET_KEY] = jsonio.dumps(meta).encode()
                schema_meta[_PANDAS_ATTRS_KEY] = jsonio.dumps(meta).encode()
                writer = pq.ParquetWriter(tmp, table.schema.with_metadata(schema_meta))
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _write_csv(chunks: Iterable[pd.DataFrame], meta: dict[str, Any], tmp: str) -> None:
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write("# darkmoments event sample; read with pandas.read_csv(path, comment='#')\n")
        for k, v in meta.items():
            key = str(k).replace("\n", " ").replace(":", "_")
            fh.write(f"# {key}: {jsonio.dumps(v)}\n")
        for i, chunk in enumerate(chunks):
            chunk.to_csv(fh, index=False, header=i == 0)


class _LheFormat:
    """LHEF 3.0 text of a sample: header, one block of events per chunk, footer."""

    _FMT = "{:>11d} {:>2d} {:d} {:d} 0 0 {:.16e} {:.16e} {:.16e} {:.16e} {:.16e} 0 9\n"

    def __init__(
        self, meta: dict[str, Any], max_weight: float, aprime_id: int = APRIME_PDG_ID
    ) -> None:
        lepton = str(meta["lepton"])
        if lepton not in LEPTON_PDG_IDS:
            raise InputError(
                f"metadata lepton must be one of {sorted(LEPTON_PDG_IDS)}, got {lepton!r}"
            )
        self.meta = meta
        self.lid = LEPTON_PDG_IDS[lepton]
        self.aid = _check_aprime_id(aprime_id)
        self.nid = _nucleus_code(meta)
        e0 = float(meta["beam_energy"])
        ml = float(meta["lepton_mass"])
        mn = float(meta["nuclear_mass"])
        ma = float(meta["mass"])
        for key, val in (
            ("beam_energy", e0),
            ("lepton_mass", ml),
            ("nuclear_mass", mn),
            ("mass", ma),
        ):
            if not math.isfinite(val) or val <= 0:
                raise InputError(f"metadata {key} must be a finite number > 0, got {val}")
        if e0 <= ml:
            raise InputError(f"beam_energy {e0} GeV must exceed lepton_mass {ml} GeV")
        self.e0, self.ml, self.mn, self.ma = e0, ml, mn, ma
        self.max_weight = float(max_weight)
        pz0 = math.sqrt((e0 - ml) * (e0 + ml))
        self.in_lep = self._FMT.format(self.lid, -1, 0, 0, 0.0, 0.0, pz0, e0, ml)
        self.in_nuc = self._FMT.format(self.nid, -1, 0, 0, 0.0, 0.0, 0.0, mn, mn)

    def param_card(self) -> str:
        """The ``<slha>`` block: MadGraph param-card lines G4DarkBreM's LHE parser reads.

        ``parse::lhe`` takes the target Z from the first two numbers of any line containing
        the tag of the ``6`` line below, and throws on a tagged line it cannot read that way,
        so the tag appears on that line only.
        """
        z = int(self.meta["Z"])
        return (
            "<slha>\n"
            "Block frblock\n"
            f"    5 {self.mn:.6e} # Anuc\n"
            f"    6 {float(z):.6e} # Znuc\n"
            "Block mass\n"
            f"   {self.lid:d} {self.ml:.6e} # lepton\n"
            f"   {self.aid:d} {self.ma:.6e} # Map\n"
            "</slha>\n"
        )

    def header(self) -> str:
        meta = self.meta
        idwtup = 4 if bool(meta["weighted"]) else 3
        text = jsonio.dumps(meta, indent=1).replace("<", "&lt;").replace(">", "&gt;")
        version = str(meta.get("generator_version", __version__))
        return (
            '<LesHouchesEvents version="3.0">\n'
            f"<header>\n<darkmoments>\n{text}\n</darkmoments>\n{self.param_card()}"
            "</header>\n"
            "<init>\n"
            f"{self.lid:d} {self.nid:d} {self.e0:.16e} {self.mn:.16e} 0 0 0 0 {idwtup:d} 1\n"
            f"{float(meta['sigma_pb']):.16e} {float(meta['sigma_err_pb']):.16e} "
            f"{self.max_weight:.16e} 1\n"
            f'<generator name="darkmoments" version="{version}">exact tree-level dark '
            "bremsstrahlung l N -> l N A'</generator>\n"
            "</init>\n"
        )

    def events(self, chunk: pd.DataFrame) -> Iterator[str]:
        fmt = self._FMT
        w = chunk["weight"].to_numpy(dtype=float)
        lep, nuc, dph_a = (
            chunk[momentum_columns(p, "px,py,pz,E")].to_numpy(dtype=float)
            for p in ("lepton", "nucleus", "dark_photon")
        )
        lid, nid, aid, ml, mn, ma = self.lid, self.nid, self.aid, self.ml, self.mn, self.ma
        buf: list[str] = []
        for i in range(len(chunk)):
            buf.append("<event>\n")
            buf.append(f"5 1 {w[i]:.16e} {ma:.16e} {ALPHA_EM:.16e} 0.0000000000000000e+00\n")
            buf.append(self.in_lep)
            buf.append(self.in_nuc)
            buf.append(fmt.format(lid, 1, 1, 2, *lep[i], ml))
            buf.append(fmt.format(nid, 1, 1, 2, *nuc[i], mn))
            buf.append(fmt.format(aid, 1, 1, 2, *dph_a[i], ma))
            buf.append("</event>\n")
            if len(buf) > 8000:
                yield "".join(buf)
                buf = []
        yield "".join(buf)

    @staticmethod
    def footer() -> str:
        return "</LesHouchesEvents>\n"


def _write_lhe(
    chunks: Iterable[pd.DataFrame],
    meta: dict[str, Any],
    tmp: str,
    gz: bool,
    max_weight: float,
    aprime_id: int = APRIME_PDG_ID,
) -> None:
    lhe = _LheFormat(meta, max_weight, aprime_id)  # validates before anything is written

    def write_all(write: Callable[[str], Any]) -> None:
        write(lhe.header())
        for chunk in chunks:
            for text in lhe.events(chunk):
                write(text)
        write(lhe.footer())

    if gz:
        # fixed gzip header: no file name (the temporary one would leak) and mtime 0, so
        # the same events give the same bytes
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gzf,
        ):
            write_all(lambda text: gzf.write(text.encode("utf-8")))
    else:
        fh: IO[str]
        with open(tmp, "w", encoding="utf-8") as fh:
            write_all(fh.write)


def _write_format(
    fmt: str,
    chunks: Iterable[pd.DataFrame],
    meta: dict[str, Any],
    tmp: str,
    max_weight: float,
    aprime_id: int = APRIME_PDG_ID,
) -> None:
    if fmt == ".parquet":
        _write_parquet(chunks, meta, tmp)
    elif fmt == ".csv":
        _write_csv(chunks, meta, tmp)
    else:
        _write_lhe(
            chunks, meta, tmp, gz=fmt == ".lhe.gz", max_weight=max_weight, aprime_id=aprime_id
        )


def _format_option(path: Path, fmt: str | None) -> str:
    """The format: ``fmt`` if given (one of :data:`SUFFIXES`), else from the suffix."""
    if fmt is None:
        return _format_of(path)
    if fmt not in SUFFIXES:
        raise InputError(f"unknown event-file format {fmt!r}; allowed: {', '.join(SUFFIXES)}")
    return fmt


def write_events(
    events: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metadata: dict,
    aprime_id: int = APRIME_PDG_ID,
    fmt: str | None = None,
) -> Path:
    """Write an event sample atomically; the format follows the suffix.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per event with at least the columns of :data:`EVENT_COLUMNS` (GeV, lab
        frame, beam along +z; ``weight`` in pb per event).  Extra columns are kept in Parquet
        and CSV and ignored in LHE.
    path : str or path-like
        Output file ending in ``.parquet``, ``.csv``, ``.lhe`` or ``.lhe.gz``.
    metadata : dict
        JSON-serialisable; must hold the keys of :data:`REQUIRED_METADATA` (mass,
        beam_energy, lepton_mass, nuclear_mass in GeV; sigma_pb, sigma_err_pb in pb; lepton
        ``"e"`` or ``"mu"``; weighted a bool ...).
    aprime_id : int
        PDG id of the A' in LHE files (default :data:`APRIME_PDG_ID` = 622, G4DarkBreM's
        default ``aprime_lhe_id``); ignored by the other formats.
    fmt : str, optional
        Format (one of :data:`SUFFIXES`) regardless of the file name (default: the suffix).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        Unknown suffix (the message lists the allowed ones), missing columns or metadata
        keys, NaN/infinite values, the path is a directory.
    TypeError
        ``events`` is not a DataFrame or ``metadata`` not a dict.
    OSError
        The directory does not exist or is not writable.  No partial file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import darkmoments as dm
    >>> from darkmoments.io.events import write_events
    >>> s = dm.generate("md", 0.1, 8.0, 200, seed=1, coupling=1e-6, n_pilot=20_000)
    >>> d = Path(tempfile.mkdtemp())
    >>> [write_events(s.events, d / f"ev{x}", metadata=s.metadata).name
    ...  for x in (".parquet", ".csv", ".lhe.gz")]
    ['ev.parquet', 'ev.csv', 'ev.lhe.gz']
    """
    p = Path(os.fspath(path))
    fmt = _format_option(p, fmt)
    ev = _check_events(events)
    meta = _clean_metadata(metadata)
    _check_target_dir(p)
    w = ev["weight"].to_numpy(dtype=float)
    xmax = float(np.max(np.abs(w))) if w.size else 0.0
    if fmt.startswith(".lhe"):
        _LheFormat(meta, xmax, aprime_id)  # metadata errors before a temporary file exists
    with atomic_path(p) as tmp:
        _write_format(fmt, _frame_chunks(ev), meta, str(tmp), xmax, aprime_id)
    return p


def write_event_chunks(
    chunks: Iterable[pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    metadata: dict,
    max_weight: float,
) -> Path:
    """Write an event sample given as an iterable of DataFrames, atomically, in bounded memory.

    Parameters
    ----------
    chunks : iterable of pandas.DataFrame
        The events in order, each chunk with the columns of :data:`EVENT_COLUMNS` (extra
        columns must be the same in every chunk).  Consumed once.
    path : str or path-like
        Output file (``.parquet``, ``.csv``, ``.lhe``, ``.lhe.gz``).
    metadata : dict
        As in :func:`write_events`.
    max_weight : float
        Largest |weight| in pb (LHE XMAXUP, written before the events).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import darkmoments as dm
    >>> from darkmoments.io.events import read_events, write_event_chunks
    >>> s = dm.generate("km", 0.1, 8.0, 300, seed=1, n_pilot=20_000)
    >>> chunks = (s.events.iloc[i:i + 100] for i in range(0, 300, 100))
    >>> p = write_event_chunks(chunks, Path(tempfile.mkdtemp()) / "ev.csv", metadata=s.metadata,
    ...                        max_weight=float(s.events["weight"].max()))
    >>> len(read_events(p)[0])
    300
    """
    p = Path(os.fspath(path))
    fmt = _format_of(p)
    meta = _clean_metadata(metadata)
    _check_target_dir(p)
    if fmt.startswith(".lhe"):
        _LheFormat(meta, max_weight)

    def checked() -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            yield _ordered(_check_events(chunk))

    with atomic_path(p) as tmp:
        _write_format(fmt, checked(), meta, str(tmp), max_weight)
    return p


# --------------------------------------------------------------------------- streaming
class _Spool:
    """Raw float64 event rows appended to a scratch file, read back in chunks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # kept open across append() and chunks() calls; closed by close()
        self.fh = open(path, "w+b")  # noqa: SIM115
        self.rows = 0
        self.max_raw_weight = 0.0

    def append(self, block: np.ndarray) -> None:
        arr = np.ascontiguousarray(block, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(EVENT_COLUMNS):
            raise InputError(
                f"event block must have shape (n, {len(EVENT_COLUMNS)}), got {arr.shape}"
            )
        self.fh.write(arr.data.cast("B"))  # arr.data: the memoryview of arr, no copy
        self.rows += arr.shape[0]
        if arr.shape[0]:
            self.max_raw_weight = max(self.max_raw_weight, float(np.max(np.abs(arr[:, WEIGHT]))))

    def chunks(self, result: GenerationResult, progress: Any = None) -> Iterator[pd.DataFrame]:
        ncol = len(EVENT_COLUMNS)
        self.fh.flush()
        self.fh.seek(0)
        remaining = self.rows
        while remaining > 0:
            n = min(CHUNK_ROWS, remaining)
            buf = bytearray(n * ncol * 8)
            got = self.fh.readinto(buf)
            if got != len(buf):
                raise OSError(f"event spool {self.path} was truncated ({got} of {len(buf)} bytes)")
            arr = np.frombuffer(buf, dtype=np.float64).reshape(n, ncol)
            result.finalise_weights(arr)
            yield pd.DataFrame(arr, columns=list(EVENT_COLUMNS), copy=False)
            remaining -= n
            if progress is not None:
                progress.update(n)

    def close(self) -> None:
        self.fh.close()


def disk_bytes_needed(n_events: int, path: str | os.PathLike[str]) -> int:
    """Bytes on disk :func:`generate_to_file` needs for ``n_events`` into ``path`` (estimate).

    The scratch spool (:data:`~darkmoments.generator.BYTES_PER_EVENT` per event, removed at
    the end) plus the output file (measured bytes per event of the format).

    Examples
    --------
    >>> from darkmoments.io.events import disk_bytes_needed
    >>> disk_bytes_needed(10**6, "ev.parquet") < disk_bytes_needed(10**6, "ev.lhe")
    True
    """
    fmt = _format_of(Path(os.fspath(path)))
    return int(n_events) * (BYTES_PER_EVENT + _FILE_BYTES_PER_EVENT[fmt])


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def check_disk_space(
    n_events: int, path: str | os.PathLike[str], *, name: str = "n_events"
) -> None:
    """Refuse (:class:`InputError`, with the numbers) a sample that would not fit on the disk.

    Parameters
    ----------
    n_events : int
        Events to generate.
    path : path-like
        The output file (its directory's file system is checked).
    name : str
        How to call ``n_events`` in the message (``"--events"`` at the command line).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.io.events import check_disk_space
    >>> out = Path(tempfile.mkdtemp()) / "ev.parquet"
    >>> check_disk_space(1000, out) is None
    True
    >>> check_disk_space(10**15, out)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: n_events 1000000000000000 needs about 285 PB of disk ...
    """
    p = Path(os.fspath(path))
    parent = p.parent if str(p.parent) else Path(".")
    need = disk_bytes_needed(n_events, p)
    free = shutil.disk_usage(parent).free
    if need > free:
        fmt = _format_of(p)
        raise InputError(
            f"{name} {n_events} needs about {_fmt_bytes(need)} of disk in {str(parent)!r} "
            f"(event spool {_fmt_bytes(n_events * BYTES_PER_EVENT)} + {fmt} file "
            f"~{_fmt_bytes(n_events * _FILE_BYTES_PER_EVENT[fmt])}); only {_fmt_bytes(free)} "
            "is free"
        )


def generate_to_file(
    path: str | os.PathLike[str],
    model: str,
    mass: float,
    beam_energy: float,
    n_events: int,
    *,
    progress: bool = False,
    **generate_kwargs: Any,
) -> tuple[Path, GenerationResult]:
    """Generate ``n_events`` events and write them to ``path``, in memory independent of N.

    The events are those of :func:`darkmoments.generate` with the same arguments and the file
    is byte-identical to ``write_events(generate(...).events, path, ...)``.  While the
    generator runs, rows go to a hidden scratch file in the output directory (120 bytes per
    event, removed at the end, also on error, Ctrl-C and SIGTERM); then they are written to
    ``path`` atomically in chunks of :data:`CHUNK_ROWS`.  A sample that would not fit on the
    disk (scratch + file, :func:`disk_bytes_needed`) is refused before anything runs.

    Parameters
    ----------
    path : str or path-like
        Output file (``.parquet``, ``.csv``, ``.lhe``, ``.lhe.gz``); its directory must exist.
        An existing file is replaced (atomically) at the end.
    model, mass, beam_energy, n_events
        As in :func:`darkmoments.generate` (A' mass and beam energy in GeV).
    progress : bool
        tqdm bars on stderr for the generation and the writing.
    **generate_kwargs
        lepton, target, coupling, seed, weighted, inelastic, n_pilot, batch_size,
        max_excess, timings: as in :func:`darkmoments.generate`.

    Returns
    -------
    (pathlib.Path, GenerationResult)
        The written file; cross section (pb), efficiency and metadata.

    Raises
    ------
    InputError, InputTypeError
        Bad generator input, unknown suffix, or not enough disk space (the message gives the
        numbers).
    OSError
        The directory does not exist or is not writable.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments.io.events import generate_to_file, read_events
    >>> out = Path(tempfile.mkdtemp()) / "ev.parquet"
    >>> path, res = generate_to_file(out, "km", 0.1, 8.0, 500, seed=1, n_pilot=20_000)
    >>> events, meta = read_events(path)
    >>> len(events), meta["model"], res.n_events
    (500, 'km', 500)
    """
    from ..generator import _check_n_events, generate_blocks

    p = Path(os.fspath(path))
    fmt = _format_of(p)
    _check_target_dir(p)
    n = _check_n_events(n_events)
    check_disk_space(n, p)
    parent = p.parent if str(p.parent) else Path(".")
    with (
        sigterm_raises(),
        scratch_path(parent, prefix=p.name, suffix=".spool") as spool_path,
    ):
        spool = _Spool(spool_path)
        try:
            result = generate_blocks(
                model,
                mass,
                beam_energy,
                n,
                sink=spool.append,
                progress=progress,
                **generate_kwargs,
            )
            if spool.rows != n:  # pragma: no cover - generator contract
                raise RuntimeError(f"generator delivered {spool.rows} of {n} events")
            meta = _clean_metadata(result.metadata)
            xmax = float(result.final_weight(spool.max_raw_weight))
            if fmt.startswith(".lhe"):
                _LheFormat(meta, xmax)
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=n, unit="ev", desc=f"writing {p.name}", leave=False)
            try:
                with atomic_path(p) as tmp:
                    _write_format(fmt, spool.chunks(result, bar), meta, str(tmp), xmax)
            finally:
                if bar is not None:
                    bar.close()
        finally:
            spool.close()
    return p, result


# --------------------------------------------------------------------------- readers
#: pandas < 3 parses floats with a fast, inexact parser by default (last bits differ from what
#: was written); pandas 3 is exact by default and deprecates the option.
_EXACT_FLOATS: dict[str, Any] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)


def _read_csv(p: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    meta: dict[str, Any] = {}
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            body = line[1:].strip()
            if ": " in body:
                key, val = body.split(": ", 1)
                try:
                    meta[key] = json.loads(val)
                except json.JSONDecodeError:
                    meta[key] = val
    return pd.read_csv(p, comment="#", **_EXACT_FLOATS), meta


def _read_parquet(p: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    raw = (table.schema.metadata or {}).get(_PARQUET_KEY)
    meta = json.loads(raw) if raw else {}
    return table.to_pandas(), meta


def _read_lhe(p: Path, gz: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    if gz:
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = p.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    a, b = text.find("<darkmoments>"), text.find("</darkmoments>")
    if a >= 0 and b > a:
        raw = text[a + len("<darkmoments>") : b].replace("&lt;", "<").replace("&gt;", ">")
        meta = json.loads(raw)
    weights: list[float] = []
    rows: list[str] = []
    pos = 0
    while True:
        s = text.find("<event>", pos)
        if s < 0:
            break
        e = text.find("</event>", s)
        if e < 0:
            raise InputError(f"truncated LHE file {str(p)!r}: unterminated <event>")
        lines = [ln for ln in text[s + 7 : e].strip().splitlines() if ln.strip()]
        n = int(lines[0].split()[0])
        weights.append(float(lines[0].split()[2]))
        parts = lines[1 : 1 + n]
        out = [ln for ln in parts if ln.split()[1] == "1"]
        if len(out) != 3:
            raise InputError(
                f"LHE event in {str(p)!r} has {len(out)} final-state particles, "
                "expected 3 (lepton, nucleus, A')"
            )
        rows.extend(out)
        pos = e + 8
    if rows:
        arr = np.loadtxt(io.StringIO("\n".join(rows)), ndmin=2).reshape(len(weights), 3, -1)
    else:
        arr = np.zeros((0, 3, 13))
    ids = arr[:, :, 0].astype(np.int64)
    lepton_slot = np.isin(np.abs(ids), list(LEPTON_PDG_IDS.values()))
    nucleus_slot = np.abs(ids) >= 1_000_000_000  # PDG nuclear codes 10LZZZAAAI
    aprime_slot = ~(lepton_slot | nucleus_slot)  # 622 by default, any id (aprime_id)
    if not (
        np.all(lepton_slot.sum(1) == 1)
        and np.all(aprime_slot.sum(1) == 1)
        and np.all(nucleus_slot.sum(1) == 1)
    ):
        raise InputError(f"LHE file {str(p)!r} does not hold l N -> l N A' events")

    def pick(mask: np.ndarray) -> np.ndarray:  # (n, 4): px py pz E
        return arr[mask][:, 6:10]

    lep, nuc, dph = pick(lepton_slot), pick(nucleus_slot), pick(aprime_slot)
    data = {
        "lepton_E": lep[:, 3], "lepton_px": lep[:, 0], "lepton_py": lep[:, 1],
        "lepton_pz": lep[:, 2],
        "dark_photon_E": dph[:, 3], "dark_photon_px": dph[:, 0], "dark_photon_py": dph[:, 1],
        "dark_photon_pz": dph[:, 2],
        "nucleus_E": nuc[:, 3], "nucleus_px": nuc[:, 0], "nucleus_py": nuc[:, 1],
        "nucleus_pz": nuc[:, 2],
        "lepton_pt": np.hypot(lep[:, 0], lep[:, 1]),
        "nucleus_pt": np.hypot(nuc[:, 0], nuc[:, 1]),
        "weight": np.asarray(weights, dtype=float),
    }  # fmt: skip
    return pd.DataFrame(data, columns=list(EVENT_COLUMNS)), meta


def read_events(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an event file written by :func:`write_events`.

    Parameters
    ----------
    path : str or path-like
        ``.parquet``, ``.csv``, ``.lhe`` or ``.lhe.gz`` file.

    Returns
    -------
    (events, metadata) : tuple
        The DataFrame (columns :data:`EVENT_COLUMNS`, GeV and pb per event; for LHE the
        p_T columns are recomputed from px, py) and the metadata dict, which is also
        ``events.attrs``.

    Raises
    ------
    ValueError
        Unknown suffix or a malformed file.
    OSError
        The file cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import darkmoments as dm
    >>> from darkmoments.io.events import read_events, write_events
    >>> s = dm.generate("km", 0.1, 8.0, 200, seed=1, n_pilot=20_000)
    >>> p = write_events(s.events, Path(tempfile.mkdtemp()) / "ev.lhe.gz", metadata=s.metadata)
    >>> events, meta = read_events(p)
    >>> len(events), bool(abs(events["weight"].sum() / s.sigma_pb - 1) < 1e-6)
    (200, True)
    """
    p = Path(os.fspath(path))
    fmt = _format_of(p)
    if not p.is_file():
        raise FileNotFoundError(f"event file {str(p)!r} does not exist")
    if fmt == ".parquet":
        df, meta = _read_parquet(p)
    elif fmt == ".csv":
        df, meta = _read_csv(p)
    else:
        df, meta = _read_lhe(p, gz=fmt == ".lhe.gz")
    df.attrs = {k: v for k, v in meta.items()}  # a copy, keys typed as attrs' Hashable
    return df, meta
