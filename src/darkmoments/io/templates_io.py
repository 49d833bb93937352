"""The template file format: HDF5 holding uhi-serialised histograms plus checksummed metadata.

Layout (format version 1; readable with ``h5py`` + ``uhi`` + ``hist``, no darkmoments)::

    /                                  attrs: darkmoments_format = "darkmoments-templates",
                                              format_version = 1, darkmoments_version,
                                              experiment (JSON of the setup, may be "")
    /templates/<model>/<mass>          one histogram per (model, mass); <mass> is the A' mass
                                       in GeV formatted "%.6e" (e.g. "1.000000e-01").  The group
                                       is a uhi HDF5 histogram (uhi.io.hdf5, schema 1):
        axes, ref_axes/axis_0 (E, GeV), ref_axes/axis_1 (pt, GeV)   variable-edge axes
        storage/values, storage/variances                           shape (n_E, n_pt)
        metadata/ attrs: darkmoments = JSON record, checksum = sha256 hex

Read a histogram elsewhere with::

    import h5py, hist, uhi.io.hdf5
    with h5py.File("ldmx-phase2.h5") as f:
        h = hist.Hist(uhi.io.hdf5.read(f["templates/km/1.000000e-01"]))

The JSON record holds ``model``, ``mass`` [GeV], ``experiment``, ``sigma_pb`` and
``sigma_err_pb`` (coupling 1, before selection, pb) and the metadata (``lepton``, ``target``,
``beam_energy`` [GeV], ``coupling``, ``n_events``, ``seed``, ``generator_version``,
``darkmoments_version``, ``selection_efficiency`` and its error, ``cuts``, ``binning``).
``checksum`` is the SHA-256 of: the canonical JSON record (sorted keys, no checksum), the E
edges, the p_T edges, the values and the variances (float64 little-endian bytes).  On read it
is verified over the *stored bytes* (the record string as stored, the datasets as stored),
never over values recomputed at run time, so a file verifies identically on every machine.

A file whose format tag, version, record fields or checksum do not match is refused with a
:class:`~darkmoments.errors.TemplateFileError` (a ``ValueError``) naming the file and the
template; nothing falls back silently.  Writes are atomic (temporary file in the same
directory, then ``os.replace``).

Mass keys: a template's group name is :func:`mass_key` of its mass (7 significant digits).
Look-ups (:meth:`TemplateFile.get`) accept any mass within ``MASS_KEY_RTOL`` = 1e-6 relative
of a stored key, so a mass that differs in its last bits (computed on another machine, or
parsed from text) finds its template even where its "%.6e" rounding would flip.

Public interface: ``write_templates(path, templates, experiment_json="")``,
``read_templates(path)``, ``TemplateFile(path)`` (lazy index: ``.index``, ``.get(model, mass)``;
every call returns an independent copy of the cached template), ``copy_template(t)``,
``template_checksum(template)``, ``FORMAT_TAG``, ``FORMAT_VERSION``, ``REQUIRED_FIELDS``,
``MASS_KEY_RTOL``.

The :class:`~darkmoments.templates.core.Template` type, its record and its checksum
(:func:`~darkmoments.templates.core.template_checksum`) come from
:mod:`darkmoments.templates.core`; this module adds only the HDF5 layout.  It never imports
the template look-up or building (:mod:`darkmoments.templates.library`, ``.build``), which
import it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import hist
import numpy as np
import uhi.io.hdf5

from .._version import __version__
from ..errors import OutputPathError, TemplateFileError
from ..templates.core import (
    Template,
    canonical_json,
    content_digest,
    copy_template,
    template_checksum,
    template_record,
)
from .atomic import atomic_path

__all__ = [
    "FORMAT_TAG",
    "FORMAT_VERSION",
    "MASS_KEY_RTOL",
    "REQUIRED_FIELDS",
    "TemplateFile",
    "atomic_path",
    "copy_template",
    "mass_key",
    "read_templates",
    "template_checksum",
    "write_templates",
]

#: Value of the root attribute ``darkmoments_format``.
FORMAT_TAG: str = "darkmoments-templates"
#: Version of the layout described in the module docstring.
FORMAT_VERSION: int = 1
#: Fields every JSON record must contain.
REQUIRED_FIELDS: tuple[str, ...] = (
    "model",
    "mass",
    "experiment",
    "sigma_pb",
    "sigma_err_pb",
    "lepton",
    "target",
    "beam_energy",
    "coupling",
    "n_events",
    "seed",
    "generator_version",
    "selection_efficiency",
    "selection_efficiency_err",
    "binning",
    "cuts",
)
_RECORD_ATTR = "darkmoments"
_CHECKSUM_ATTR = "checksum"
#: A mass [GeV] finds the stored key within this relative distance (a key has 7 significant
#: digits, so it is within 5e-7 of its template's mass).
MASS_KEY_RTOL: float = 1e-6


def mass_key(mass: float) -> str:
    """Group name of a mass in GeV: ``"%.6e" % mass``.

    Examples
    --------
    >>> from darkmoments.io.templates_io import mass_key
    >>> mass_key(0.1)
    '1.000000e-01'
    """
    return f"{float(mass):.6e}"


def _write_group(g: h5py.Group, t: Template) -> None:
    uhi.io.hdf5.write(g, t.hist, compression="gzip", compression_opts=6, min_compress_elements=64)
    rec = template_record(t)
    md = g.require_group("metadata")
    md.attrs[_RECORD_ATTR] = canonical_json(rec)
    md.attrs[_CHECKSUM_ATTR] = template_checksum(t)


def write_templates(
    path: str | os.PathLike[str], templates: Iterable[Template], experiment_json: str = ""
) -> Path:
    """Write templates atomically into one HDF5 file (layout in the module docstring).

    Parameters
    ----------
    path : path-like
        Output file (replaced atomically); its directory must exist.
    templates : iterable of Template
        Distinct (model, mass) pairs.
    experiment_json : str
        JSON description of the experiment stored as a root attribute.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> from darkmoments.io.templates_io import TemplateFile, write_templates
    >>> t = templates.load("cr", 0.2)  # interpolated off the grid
    >>> p = write_templates(Path(tempfile.mkdtemp()) / "cr.h5", [t])
    >>> TemplateFile(p).get("cr", 0.2).sigma_pb == t.sigma_pb
    True
    """
    seen: set[tuple[str, str]] = set()
    parent = Path(path).parent
    if not parent.is_dir():
        raise OutputPathError(f"{path}: directory {parent} does not exist (create it first)")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["darkmoments_format"] = FORMAT_TAG
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["darkmoments_version"] = __version__
        f.attrs["experiment"] = experiment_json
        root = f.create_group("templates")
        for t in templates:
            key = (t.model, mass_key(t.mass))
            if key in seen:
                raise TemplateFileError(f"{path}: duplicate template model={t.model} mass={t.mass}")
            seen.add(key)
            _write_group(root.require_group(t.model).create_group(key[1]), t)
    return Path(path)


def _check_root(f: h5py.File, path: Path) -> None:
    tag = f.attrs.get("darkmoments_format")
    if tag != FORMAT_TAG:
        raise TemplateFileError(f"{path}: not a darkmoments template file (format tag {tag!r})")
    ver = f.attrs.get("format_version")
    if ver is None or int(ver) != FORMAT_VERSION:
        shown = "missing" if ver is None else int(ver)
        raise TemplateFileError(
            f"{path}: template format version {shown}; this darkmoments reads version "
            f"{FORMAT_VERSION} only (rebuild with `darkmoments templates build`)"
        )
    if "templates" not in f:
        raise TemplateFileError(f"{path}: missing the /templates group")


def _read_group(g: h5py.Group, path: Path) -> Template:
    where = f"{path}:{g.name}"
    try:
        md = g["metadata"].attrs
        rec_json = md[_RECORD_ATTR]
        checksum = md[_CHECKSUM_ATTR]
        values = np.asarray(g["storage/values"][()], dtype=float)
        variances = np.asarray(g["storage/variances"][()], dtype=float)
        axes = [g.file[ref] for ref in g["axes"][()]]
        edges = [np.asarray(ax["edges"][()], dtype=float) for ax in axes]
    except (KeyError, ValueError, OSError) as exc:
        what = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise TemplateFileError(f"{where}: corrupted template, missing {what}") from exc
    if isinstance(rec_json, bytes):
        try:
            rec_json = rec_json.decode()
        except UnicodeDecodeError as exc:
            raise TemplateFileError(f"{where}: corrupted metadata record ({exc})") from exc
    if isinstance(checksum, bytes):
        checksum = checksum.decode(errors="replace")
    if not isinstance(rec_json, str):
        raise TemplateFileError(f"{where}: corrupted metadata record (not a string)")
    try:
        rec = json.loads(rec_json)
    except json.JSONDecodeError as exc:
        raise TemplateFileError(f"{where}: corrupted metadata record ({exc})") from exc
    if not isinstance(rec, dict):
        raise TemplateFileError(f"{where}: corrupted metadata record (not a JSON object)")
    missing = [k for k in REQUIRED_FIELDS if k not in rec]
    if missing:
        raise TemplateFileError(f"{where}: template record is missing field(s) {missing}")
    # verified over the stored bytes: the record string exactly as stored, the datasets as
    # stored (float64, read losslessly), never over anything recomputed or re-serialised
    if content_digest(rec_json, edges, values, variances) != checksum:
        raise TemplateFileError(
            f"{where}: checksum mismatch, the template file is corrupted or edited"
        )
    if len(edges) != 2:
        raise TemplateFileError(f"{where}: expected 2 axes (E, pt), found {len(edges)}")
    shape = (len(edges[0]) - 1, len(edges[1]) - 1)
    if values.shape != shape or variances.shape != shape:
        raise TemplateFileError(f"{where}: histogram shape {values.shape} does not match its axes")
    total = float(values.sum())
    if total > 0 and not math.isclose(total, 1.0, rel_tol=1e-9):
        raise TemplateFileError(f"{where}: template values sum to {total}, expected 1")
    h = hist.Hist(
        hist.axis.Variable(edges[0], name="E", label="E [GeV]", underflow=False, overflow=False),
        hist.axis.Variable(edges[1], name="pt", label="p_T [GeV]", underflow=False, overflow=False),
        storage=hist.storage.Weight(),
    )
    h.view(flow=False)["value"] = values
    h.view(flow=False)["variance"] = variances
    meta = {
        k: v
        for k, v in rec.items()
        if k not in ("model", "mass", "experiment", "sigma_pb", "sigma_err_pb")
    }
    meta[_CHECKSUM_ATTR] = checksum
    meta["source_file"] = str(path)
    return Template(
        hist=h,
        model=str(rec["model"]),
        mass=float(rec["mass"]),
        experiment=str(rec["experiment"]),
        sigma_pb=float(rec["sigma_pb"]),
        sigma_err_pb=float(rec["sigma_err_pb"]),
        metadata=meta,
    )


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise OSError(f"template file {path} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise TemplateFileError(f"{path}: not a readable HDF5 template file ({exc})") from exc


class TemplateFile:
    """Lazy reader of one template file: the index on open, each template on first use.

    Parameters
    ----------
    path : path-like
        The HDF5 file.

    Attributes
    ----------
    path : pathlib.Path
    index : dict[str, numpy.ndarray]
        Sorted grid masses (GeV) per model id.
    experiment_json : str
        The root ``experiment`` attribute.

    Examples
    --------
    >>> from darkmoments import templates
    >>> from darkmoments.io.templates_io import TemplateFile
    >>> f = TemplateFile(templates.default_directory() / "ldmx-phase2.h5")
    >>> m = float(templates.masses("md")[20])  # a grid mass
    >>> t = f.get("md", m)
    >>> print(t.model, f"{t.mass:.4g}", t.experiment)
    md 0.06069 ldmx-phase2
    >>> f.find_key("md", 0.123) is None
    True
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._cache: dict[tuple[str, str], Template] = {}
        self._keys: dict[str, dict[float, str]] = {}
        with _open(self.path) as f:
            _check_root(f, self.path)
            ej = f.attrs.get("experiment", "")
            self.experiment_json = ej.decode() if isinstance(ej, bytes) else str(ej)
            for model, grp in f["templates"].items():
                keys: dict[float, str] = {}
                for k in grp:
                    try:
                        m = float(k)
                    except ValueError:
                        raise TemplateFileError(
                            f"{self.path}:/templates/{model}/{k}: group name is not a mass"
                        ) from None
                    if not (math.isfinite(m) and m > 0):
                        raise TemplateFileError(
                            f"{self.path}:/templates/{model}/{k}: mass must be > 0 GeV"
                        )
                    keys[m] = k
                self._keys[model] = keys
        self.index: dict[str, np.ndarray] = {
            m: np.array(sorted(keys)) for m, keys in self._keys.items()
        }

    def find_key(self, model: str, mass: float) -> str | None:
        """Stored group name of ``mass`` [GeV] for ``model``, or None.

        The exact key :func:`mass_key` if stored, else the nearest stored key within
        ``MASS_KEY_RTOL`` (1e-6) relative: a mass that differs from the stored one in its
        last bits finds it even where its 7-digit rounding flips.
        """
        keys = self._keys.get(model, {})
        m = float(mass)
        exact = keys.get(float(mass_key(m)))
        if exact is not None:
            return exact
        if not keys or not (math.isfinite(m) and m > 0):
            return None
        near = min(keys, key=lambda k: abs(k - m))
        return keys[near] if abs(near - m) <= MASS_KEY_RTOL * m else None

    def _cached(self, f: h5py.File | None, model: str, key: str) -> Template:
        ck = (model, key)
        if ck not in self._cache:
            if f is None:
                with _open(self.path) as fh:
                    t = _read_group(fh["templates"][model][key], self.path)
            else:
                t = _read_group(f["templates"][model][key], self.path)
            if t.model != model or not math.isclose(t.mass, float(key), rel_tol=MASS_KEY_RTOL):
                raise TemplateFileError(
                    f"{self.path}:/templates/{model}/{key}: record says model={t.model} "
                    f"mass={t.mass}, inconsistent with its location"
                )
            self._cache[ck] = t
        return self._cache[ck]

    def get(self, model: str, mass: float) -> Template:
        """The template at a grid mass [GeV] (verified on first use; an independent copy).

        Raises
        ------
        KeyError
            No template of ``model`` within ``MASS_KEY_RTOL`` of ``mass``.
        """
        key = self.find_key(model, mass)
        if key is None:
            raise KeyError(f"{self.path}: no template for model={model} mass={mass} GeV")
        return copy_template(self._cached(None, model, key))

    def model_templates(self, model: str) -> list[Template]:
        """Every template of ``model`` (verified), by mass: the cached objects, not copies.

        For read-only use inside darkmoments (the cross-section interpolation needs every
        node); anything handed to a caller must be copied (:func:`copy_template`).
        """
        if model not in self._keys:
            return []
        with _open(self.path) as f:
            return [self._cached(f, model, self._keys[model][float(m)]) for m in self.index[model]]

    def all(self) -> list[Template]:
        """Every template in the file (verified, copies), ordered by model then mass."""
        out: list[Template] = []
        with _open(self.path) as f:
            for model in sorted(self._keys):
                for m in self.index[model]:
                    key = self._keys[model][float(m)]
                    out.append(copy_template(self._cached(f, model, key)))
        return out


def read_templates(path: str | os.PathLike[str]) -> list[Template]:
    """Read and verify every template of a file (ordered by model, then mass).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import templates
    >>> from darkmoments.io.templates_io import read_templates, write_templates
    >>> ts = [templates.load("km", m) for m in (0.01, 0.1)]
    >>> p = write_templates(Path(tempfile.mkdtemp()) / "mine.h5", ts)
    >>> [(t.model, round(t.mass, 6)) for t in read_templates(p)]
    [('km', 0.01), ('km', 0.1)]
    """
    return TemplateFile(path).all()
