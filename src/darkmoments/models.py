"""The five dark-photon coupling models (paper eqs. 2.1-2.2, 3.3).

==== ============ ==================================== ================ ========
id   paper        vertex Gamma^mu(k) (times e g)         g_f units        n (3.3)
==== ============ ==================================== ================ ========
km   KM           gamma^mu                             1                0
md   M            sigma^{mu nu} k_nu                   GeV^-1           1
ed   E            sigma^{mu nu} gamma^5 k_nu           GeV^-1           1
cr   C            k^2 gamma^mu - k^mu kslash           GeV^-2           2
am   A            (k^2 gamma^mu - k^mu kslash) gamma^5  GeV^-2           2
==== ============ ==================================== ================ ========

The physics modules never branch on the id: they dispatch on the fields that decide,
:attr:`Model.vertex` (the Lorentz structure: ``"charge"`` gamma^mu, ``"dipole"``
sigma^{mu nu} k_nu, ``"radius"`` k^2 gamma^mu - k^mu kslash), :attr:`Model.gamma5` (times
gamma^5) and :attr:`Model.dimension` (n of eq. 3.3, g_f in GeV^-n).

Examples
--------
>>> from darkmoments.models import get_model
>>> m = get_model("anapole")
>>> (m.id, m.vertex, m.gamma5, m.dimension, m.coupling_unit)
('am', 'radius', True, 2, 'GeV^-2')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from .constants import LAMBDA_F_DEFAULT
from .errors import InputError, InputTypeError
from .validation import check_real, is_real

__all__ = [
    "MODELS",
    "MODEL_IDS",
    "VERTEX_KINDS",
    "Model",
    "check_coupling",
    "get_model",
    "y_parameter",
]


#: Lorentz structures of the A'-lepton vertex (times e g_f): ``charge`` gamma^mu, ``dipole``
#: sigma^{mu nu} k_nu, ``radius`` k^2 gamma^mu - k^mu kslash (paper eq. 2.1).
VERTEX_KINDS: tuple[str, ...] = ("charge", "dipole", "radius")


@dataclass(frozen=True)
class Model:
    """One dark-photon coupling model.

    Attributes
    ----------
    id : str
        Short id used everywhere in darkmoments (``km md ed cr am``).
    letter : str
        The paper's letter (KM, M, E, C, A).
    name : str
        Long name (``kinetic-mixing``, ``magnetic-dipole`` ...).
    coupling_symbol : str
        The Lagrangian coupling that g_f stands for (eq. 2.2).
    dimension : int
        n of eq. 3.3: g_f has units GeV^-n.
    color : str
        The paper's colour for this model (figure 1).
    vertex : str
        Lorentz structure of the vertex, one of :data:`VERTEX_KINDS`.
    gamma5 : bool
        Whether the vertex is multiplied by gamma^5 (electric dipole, anapole).

    Examples
    --------
    >>> from darkmoments.models import get_model
    >>> m = get_model("md")
    >>> (m.id, m.letter, m.coupling_unit, m.dimension)
    ('md', 'M', 'GeV^-1', 1)
    """

    id: str
    letter: str
    name: str
    coupling_symbol: str
    dimension: int
    color: str
    vertex: str
    gamma5: bool

    def __post_init__(self) -> None:
        if self.vertex not in VERTEX_KINDS:
            raise InputError(f"vertex must be one of {VERTEX_KINDS}, got {self.vertex!r}")

    @property
    def structure(self) -> tuple[str, bool]:
        """(vertex, gamma5): the key of every formula that depends on the vertex."""
        return (self.vertex, self.gamma5)

    @property
    def photon_like(self) -> bool:
        """True if the A' couples like a massive photon (gamma^mu times the charge).

        Only then do its couplings to quarks follow from the lepton one, so that hadronic
        final states through R(s) are exact rather than a proxy (kinetic mixing).
        """
        return self.structure == ("charge", False)

    @property
    def coupling_unit(self) -> str:
        """Units of g_f as a string (``"1"``, ``"GeV^-1"`` or ``"GeV^-2"``)."""
        return "1" if self.dimension == 0 else f"GeV^-{self.dimension}"

    def __str__(self) -> str:
        return self.id


MODELS: dict[str, Model] = {
    "km": Model("km", "KM", "kinetic-mixing", "epsilon", 0, "tab:red", "charge", False),
    "md": Model("md", "M", "magnetic-dipole", "mu_f/e", 1, "tab:green", "dipole", False),
    "ed": Model("ed", "E", "electric-dipole", "d_f/e", 1, "tab:blue", "dipole", True),
    "cr": Model("cr", "C", "charge-radius", "b_f/e", 2, "tab:gray", "radius", False),
    "am": Model("am", "A", "anapole", "a_f/e", 2, "tab:brown", "radius", True),
}
MODEL_IDS: tuple[str, ...] = tuple(MODELS)

_ALIASES: dict[str, str] = {}
for _m in MODELS.values():
    for _alias in (
        _m.id,
        _m.letter,
        _m.name,
        _m.name.replace("-", "_"),
        _m.name.replace("-", " "),
        _m.name.replace("-", ""),
    ):
        _ALIASES[_alias.lower()] = _m.id
_ALIASES.update(
    {
        "anapole-moment": "am",
        "anapole_moment": "am",
        "dark-photon": "km",
        "kinetic": "km",
        "magnetic": "md",
        "electric": "ed",
        "dipole-m": "md",
    }
)


def get_model(model: str | Model) -> Model:
    """Return the :class:`Model` for an id, paper letter or long name (case-insensitive).

    Raises
    ------
    TypeError
        If ``model`` is not a string or Model.
    ValueError
        If the name is unknown; the message lists the allowed ids.

    Examples
    --------
    >>> from darkmoments.models import get_model
    >>> get_model("kinetic-mixing").id
    'km'
    >>> get_model("E").name
    'electric-dipole'
    >>> get_model("xx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: unknown model 'xx'; allowed: km (KM, kinetic-mixing), ...
    """
    if isinstance(model, Model):
        return model
    if not isinstance(model, str):
        raise InputTypeError(f"model must be a string such as 'km', got {type(model).__name__}")
    key = model.strip().lower()
    if key not in _ALIASES:
        allowed = ", ".join(f"{m.id} ({m.letter}, {m.name})" for m in MODELS.values())
        raise InputError(f"unknown model {model!r}; allowed: {allowed}")
    return MODELS[_ALIASES[key]]


_Coupling = TypeVar("_Coupling", float, NDArray[np.float64])


def y_parameter(
    model: str | Model,
    coupling: _Coupling,
    *,
    alpha_d: float = 0.5,
    mass_ratio: float = 3.0,
    cutoff: float = LAMBDA_F_DEFAULT,
) -> _Coupling:
    """The dimensionless y of eq. 3.3: y = g_f^2 alpha_D (m_chi/m_A')^4 Lambda_f^(2n).

    Parameters
    ----------
    model : str or Model
        Model id.
    coupling : float or array
        g_f in the model's units (1, GeV^-1 or GeV^-2).
    alpha_d : float
        Dark fine-structure constant (paper default 0.5).
    mass_ratio : float
        m_A'/m_chi (paper default 3).
    cutoff : float
        Lambda_f in GeV (paper default 1000 GeV).

    Returns
    -------
    float
        y (dimensionless).

    Examples
    --------
    >>> from darkmoments.models import y_parameter
    >>> y_parameter("km", 1e-4)
    6.172839506172839e-11
    >>> y_parameter("md", 1e-6)
    6.17283950617284e-09
    """
    m = get_model(model)
    if alpha_d <= 0:
        raise InputError(f"alpha_d must be > 0, got {alpha_d}")
    if mass_ratio <= 0:
        raise InputError(f"mass_ratio must be > 0, got {mass_ratio}")
    return coupling**2 * alpha_d * mass_ratio ** (-4) * cutoff ** (2 * m.dimension)


def check_coupling(
    value: Any, *, name: str = "coupling", positive: bool = True, array: bool = False
) -> Any:
    """Validate a coupling g_f (in the model's units): the one coupling check of darkmoments.

    Parameters
    ----------
    value : object
        The coupling: a real number, or (``array=True``) anything numpy turns into a float
        array.  Strings and booleans are refused.
    name : str
        How the message calls it (``"coupling"``, ``"coupling g_f"``).
    positive : bool
        Require g_f > 0 (True: cross sections and relic densities are meaningless otherwise;
        False: any finite value, for formulas that only use g_f^2).
    array : bool
        Accept arrays (returned as a float ndarray) as well as scalars.

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    InputTypeError
        Not a real number (or array of them).
    InputError
        NaN, infinite, or (``positive``) <= 0; the message names the value.

    Examples
    --------
    >>> from darkmoments.models import check_coupling
    >>> check_coupling(1e-5)
    1e-05
    >>> check_coupling(-1.0)
    Traceback (most recent call last):
        ...
    darkmoments.errors.InputError: coupling must be a finite number > 0, got -1.0
    """
    if not array:
        if not is_real(value):
            raise InputTypeError(
                f"{name} must be a real number, got {value!r} ({type(value).__name__})"
            )
        return check_real(name, value, lo=0.0 if positive else None, lo_open=positive)
    if isinstance(value, str | bytes):
        raise InputTypeError(f"{name} must be a number or an array, got {value!r}")
    try:
        g: NDArray[np.float64] = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number or an array, got {value!r}") from None
    if np.any(~np.isfinite(g)) or (positive and np.any(g <= 0)):
        raise InputError(f"{name} must be finite{' and > 0' if positive else ''}, got {value!r}")
    return g
