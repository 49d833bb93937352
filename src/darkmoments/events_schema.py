"""The event table of darkmoments: column names, their positions, and the metadata keys.

One event of ``l(p1) N(P1) -> l(p2) N(P2) A'(k)`` is one row of :data:`EVENT_COLUMNS`: the
outgoing lepton, dark photon and nucleus four-momenta (E, px, py, pz in GeV, lab frame =
target rest frame, beam along +z), the lepton and nucleus transverse momenta (GeV) and the
event ``weight`` in pb (the weights sum to the cross section).

This module is the single definition shared by the generator (which fills float64 blocks by
column position) and the file formats (:mod:`darkmoments.io.events`, which read and write the
columns by name).  It imports nothing but the standard library, so the file formats do not
pull in the integrator.

Examples
--------
>>> from darkmoments.events_schema import EVENT_COLUMNS, WEIGHT, four_momentum
>>> EVENT_COLUMNS[WEIGHT]
'weight'
>>> [EVENT_COLUMNS[i] for i in range(15)[four_momentum("nucleus")]]
['nucleus_E', 'nucleus_px', 'nucleus_py', 'nucleus_pz']
"""

from __future__ import annotations

__all__ = [
    "BYTES_PER_EVENT",
    "COLUMN_INDEX",
    "DARK_PHOTON_P4",
    "EVENT_COLUMNS",
    "LEPTON_P4",
    "LEPTON_PT",
    "NUCLEUS_P4",
    "NUCLEUS_PT",
    "PARTICLES",
    "REQUIRED_METADATA",
    "WEIGHT",
    "four_momentum",
    "momentum_columns",
]

#: Final-state particles, in the order of their four-momenta in :data:`EVENT_COLUMNS`.
PARTICLES: tuple[str, ...] = ("lepton", "dark_photon", "nucleus")

#: Columns of the event table (GeV, lab frame, beam along +z; weight in pb per event).
EVENT_COLUMNS: tuple[str, ...] = (
    *(f"{p}_{c}" for p in PARTICLES for c in ("E", "px", "py", "pz")),
    "lepton_pt",
    "nucleus_pt",
    "weight",
)

#: Position of each column in a float64 event block.
COLUMN_INDEX: dict[str, int] = {name: i for i, name in enumerate(EVENT_COLUMNS)}

#: Bytes of one event row (float64 per column of :data:`EVENT_COLUMNS`).
BYTES_PER_EVENT: int = 8 * len(EVENT_COLUMNS)


def four_momentum(particle: str) -> slice:
    """Columns (E, px, py, pz) of ``particle`` ("lepton", "dark_photon", "nucleus") as a slice.

    Parameters
    ----------
    particle : str
        One of :data:`PARTICLES`.

    Returns
    -------
    slice
        The four columns of its four-momentum (GeV) in an event block of
        :data:`EVENT_COLUMNS`.

    Raises
    ------
    KeyError
        Unknown particle name.

    Examples
    --------
    >>> from darkmoments.events_schema import EVENT_COLUMNS, four_momentum
    >>> four_momentum("dark_photon")
    slice(4, 8, None)
    >>> EVENT_COLUMNS[four_momentum("lepton")]
    ('lepton_E', 'lepton_px', 'lepton_py', 'lepton_pz')
    """
    start = COLUMN_INDEX[f"{particle}_E"]
    return slice(start, start + 4)


def momentum_columns(particle: str, order: str = "E,px,py,pz") -> list[str]:
    """Column names of a four-momentum in a given component order (``"px,py,pz,E"`` for LHE).

    Parameters
    ----------
    particle : str
        One of :data:`PARTICLES`.
    order : str
        Comma-separated components among E, px, py, pz (GeV).

    Returns
    -------
    list of str
        Column names of :data:`EVENT_COLUMNS`, in ``order``.

    Examples
    --------
    >>> from darkmoments.events_schema import momentum_columns
    >>> momentum_columns("nucleus", "px,py,pz,E")  # the LHE order
    ['nucleus_px', 'nucleus_py', 'nucleus_pz', 'nucleus_E']
    """
    return [f"{particle}_{c}" for c in order.split(",")]


#: Outgoing lepton four-momentum (E, px, py, pz), GeV.
LEPTON_P4: slice = four_momentum("lepton")
#: Dark-photon four-momentum (E, px, py, pz), GeV.
DARK_PHOTON_P4: slice = four_momentum("dark_photon")
#: Recoil-nucleus four-momentum (E, px, py, pz), GeV.
NUCLEUS_P4: slice = four_momentum("nucleus")
#: Outgoing-lepton transverse momentum, GeV.
LEPTON_PT: int = COLUMN_INDEX["lepton_pt"]
#: Nucleus transverse momentum, GeV.
NUCLEUS_PT: int = COLUMN_INDEX["nucleus_pt"]
#: Event weight, pb (provisional in the generator's blocks, see GenerationResult).
WEIGHT: int = COLUMN_INDEX["weight"]

#: Metadata keys every event sample must carry (GeV, pb; see darkmoments.io.events).
REQUIRED_METADATA: tuple[str, ...] = (
    "model",
    "mass",
    "beam_energy",
    "lepton",
    "lepton_mass",
    "target",
    "Z",
    "A",
    "nuclear_mass",
    "coupling",
    "sigma_pb",
    "sigma_err_pb",
    "n_events",
    "seed",
    "weighted",
    "generator_version",
)
