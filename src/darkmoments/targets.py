"""Target materials as data.

Z, A and the radiation length X0 (in g/cm^2) are from the PDG "Atomic and Nuclear Properties
of Materials" tables (pdg.lbl.gov/AtomicNuclearProperties, 2024 edition); densities are the
PDG values for the solid element (graphite for carbon).  The nuclear mass is taken as
A * u with u = 0.93149410242 GeV (CODATA 2018); electron masses and binding energies change
it by < 0.1 %, far below anything the recoil kinematics resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError, InputTypeError

__all__ = ["ATOMIC_MASS_UNIT_GEV", "TARGETS", "Target", "get_target"]

#: Atomic mass unit in GeV (CODATA 2018: 931.49410242 MeV).
ATOMIC_MASS_UNIT_GEV: float = 0.93149410242


@dataclass(frozen=True)
class Target:
    """A fixed-target material.

    Attributes
    ----------
    symbol : str
        Chemical symbol (``"W"``).
    name : str
        Element name.
    Z : int
        Atomic number.
    A : float
        Standard atomic weight in g/mol.
    density : float
        Density in g/cm^3.
    X0_gcm2 : float
        Radiation length in g/cm^2 (PDG).
    X0_cm : float
        Radiation length in cm as tabulated by the PDG.

    Examples
    --------
    >>> from darkmoments.targets import get_target
    >>> w = get_target("W")
    >>> (w.Z, w.A, w.density, w.X0_cm)
    (74, 183.84, 19.3, 0.3504)
    """

    symbol: str
    name: str
    Z: int
    A: float
    density: float
    X0_gcm2: float
    X0_cm: float

    @property
    def nuclear_mass(self) -> float:
        """Nuclear mass in GeV (A * u)."""
        return self.A * ATOMIC_MASS_UNIT_GEV

    @property
    def X0(self) -> float:
        """Radiation length in cm (PDG)."""
        return self.X0_cm

    @property
    def nuclei_per_cm3(self) -> float:
        """Number density of nuclei in cm^-3: rho N_A / A."""
        from .constants import AVOGADRO

        return self.density * AVOGADRO / self.A


TARGETS: dict[str, Target] = {
    t.symbol.lower(): t
    for t in (
        Target("W", "tungsten", 74, 183.84, 19.3, 6.76, 0.3504),
        Target("Pb", "lead", 82, 207.2, 11.35, 6.37, 0.5612),
        Target("Cu", "copper", 29, 63.546, 8.96, 12.86, 1.436),
        Target("Fe", "iron", 26, 55.845, 7.874, 13.84, 1.757),
        Target("Al", "aluminium", 13, 26.9815385, 2.699, 24.01, 8.897),
        Target("C", "carbon (graphite)", 6, 12.0107, 2.210, 42.70, 19.32),
    )
}
_BY_NAME = {t.name.split()[0]: k for k, t in TARGETS.items()}
_BY_NAME["aluminum"] = "al"


def get_target(target: str | Target) -> Target:
    """Return the :class:`Target` for a chemical symbol or element name (case-insensitive).

    Raises
    ------
    ValueError
        If the material is unknown; the message lists the known ones.

    Examples
    --------
    >>> from darkmoments.targets import get_target
    >>> get_target("tungsten").symbol
    'W'
    >>> get_target("Pb").Z
    82
    """
    if isinstance(target, Target):
        return target
    if not isinstance(target, str):
        raise InputTypeError(f"target must be a string such as 'W', got {type(target).__name__}")
    key = target.strip().lower()
    key = _BY_NAME.get(key, key)
    if key not in TARGETS:
        allowed = ", ".join(t.symbol for t in TARGETS.values())
        raise InputError(f"unknown target {target!r}; allowed: {allowed}")
    return TARGETS[key]
