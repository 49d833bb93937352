"""Relic density Omega h^2 and the relic-target coupling for the five models.

:func:`omega_h2` evaluates Omega h^2 for given couplings; :func:`target` finds the coupling g_f
with Omega h^2 = 0.120 (paper eq. 3.1) and reports it also as y (eq. 3.3).  Both are vectorised
over m_A' (one Boltzmann solve per mass, all masses integrated together).

Speed: sigma(chi chi* -> SM) = g_f^2 N(s) / D(s; Gamma), where N(s) (thresholds, R-ratio, angular
integrals) does not depend on the coupling and only the A' width in D does.  N is evaluated once
per mass on the fixed Gondolo-Gelmini nodes; each root-finding step only recomputes D and the
O(N_steps) implicit Boltzmann recursion.  The root finder is a secant method in
(ln g^2, ln Omega h^2), started from the exact g^2 scaling Omega ~ 1/g^2.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..constants import E_CHARGE, LAMBDA_F_DEFAULT, M_E
from ..errors import InputError, InputTypeError
from ..models import MODEL_IDS, Model, check_coupling, get_model, y_parameter
from ..validation import check_int, check_real
from .annihilation import LEPTON_MASSES, DarkSector, angular_factor
from .boltzmann import omega_from_yield, solve_yield
from .cosmology import OMEGA_DM_H2
from .rratio import r_ratio
from .thermal import gg_nodes
from .widths import width_chi, width_fermion

__all__ = [
    "M_AP_MAX",
    "M_AP_MIN",
    "RelicTarget",
    "omega_h2",
    "scan",
    "target",
]

#: Smallest allowed m_A' in GeV: 2 m_e (A' -> e+e- must be open).
M_AP_MIN: float = 2 * M_E
#: Largest allowed m_A' in GeV (the g_* table and R-ratio parametrisation are used up to here).
M_AP_MAX: float = 1000.0

_N_X = 90  # x points on which <sigma v> is tabulated (log-spaced)


def _check_masses(m_ap: ArrayLike) -> NDArray[np.float64]:
    """m_A' as a float or a non-empty 1-D float array in (2 m_e, 1000] GeV."""
    if isinstance(m_ap, str | bytes):
        raise InputTypeError(
            f"m_ap must be a number or a 1-D array of masses in GeV, got the string {m_ap!r}"
        )
    try:
        m = np.asarray(m_ap)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise InputTypeError(f"m_ap must be a number or a 1-D array of GeV masses: {exc}") from None
    if m.ndim > 1:
        raise InputError(f"m_ap must be a number or 1-D array of GeV masses, got shape {m.shape}")
    if m.size == 0:
        raise InputError(f"m_ap must hold at least one mass in GeV, got {m_ap!r} (empty)")
    if m.dtype.kind not in "iuf":  # bool, strings, objects
        raise InputTypeError(
            f"m_ap must hold real numbers (masses in GeV), got {m_ap!r} (dtype {m.dtype})"
        )
    m = m.astype(float)
    bad = ~np.isfinite(m) | (m <= M_AP_MIN) | (m > M_AP_MAX)
    if np.any(bad):
        raise InputError(
            f"m_A' must be in (2 m_e = {M_AP_MIN:.6g}, {M_AP_MAX:g}] GeV, got {m[bad].tolist()}"
        )
    return m


class _Batch:
    """Coupling-independent pieces of <sigma v>(x) for a batch of masses of one dark sector."""

    def __init__(
        self,
        sector: DarkSector,
        m_ap: NDArray,
        g_guess: NDArray,
        x_start: float,
        x_end: float,
    ) -> None:
        model, paper = get_model(sector.model), sector.paper_normalisation
        self.model, self.m_ap, self.alpha_d = model, m_ap, sector.alpha_d
        self.leptons, self.hadrons, self.paper = sector.leptons, sector.with_hadrons, paper
        self.m_chi = m_ap / sector.mass_ratio
        self.x = np.geomspace(x_start, x_end, _N_X)
        gam = self.width(g_guess)
        s, wts = gg_nodes(self.m_chi[:, None], self.x[None, :], m_ap[:, None], gam[:, None])
        self.s = s
        mc = self.m_chi[:, None, None]
        beta_chi = np.sqrt(np.clip(1 - 4 * mc**2 / s, 0.0, None))
        num = np.zeros_like(s)
        for lep in self.leptons:
            mf = LEPTON_MASSES[lep]
            beta_f = np.sqrt(np.clip(1 - 4 * mf**2 / s, 0.0, None))
            f = angular_factor(model, s, mf, paper_normalisation=paper)
            num += beta_f * np.clip(f, 0, None)
        if self.hadrons:
            num += r_ratio(np.sqrt(s)) * angular_factor(model, s, 0.0, paper_normalisation=paper)
        g_d2 = 4 * np.pi * self.alpha_d
        # sigma = g_D^2 e^2 g^2 beta_f beta_chi F / (32 pi D); weights fold in the GG kernel
        self.kn = wts * g_d2 * E_CHARGE**2 * beta_chi * num / (32 * np.pi)

    def width(self, g: NDArray) -> NDArray:
        """Total A' width in GeV for couplings g (one per mass)."""
        gam = width_chi(self.m_ap, self.m_chi, self.alpha_d)
        for lep in self.leptons:
            gam = gam + width_fermion(
                self.model, self.m_ap, LEPTON_MASSES[lep], g, paper_normalisation=self.paper
            )
        if self.hadrons:
            gam = gam + r_ratio(self.m_ap) * width_fermion(
                self.model, self.m_ap, 0.0, g, paper_normalisation=self.paper
            )
        return gam

    def sigma_v(self, g: NDArray) -> NDArray:
        """<sigma v>(x) in GeV^-2 on the table grid, shape (batch, n_x)."""
        m2 = (self.m_ap**2)[:, None, None]
        gam = self.width(g)[:, None, None]
        den = (self.s - m2) ** 2 + m2 * gam**2
        return (g**2)[:, None] * np.sum(self.kn / den, axis=-1)

    def omega(self, g: NDArray, n_steps: int, method: str) -> NDArray:
        """Omega h^2 for couplings g (one per mass)."""
        table = np.log(np.maximum(self.sigma_v(g), 1e-300))
        lx = np.log(self.x)

        def sv(xs: NDArray) -> NDArray:
            lxs = np.log(xs)
            return np.exp(np.stack([np.interp(lxs, lx, row) for row in table]))

        y = solve_yield(
            self.m_chi, sv, x_start=self.x[0], x_end=self.x[-1], n_steps=n_steps, method=method
        )
        return omega_from_yield(self.m_chi, y)


def omega_h2(
    model: str,
    m_ap: ArrayLike,
    coupling: ArrayLike,
    *,
    mass_ratio: float = 3.0,
    alpha_d: float = 0.5,
    leptons: Sequence[str] = ("e", "mu", "tau"),
    hadrons: str = "auto",
    paper_normalisation: bool = False,
    x_start: float = 1.0,
    x_end: float = 1000.0,
    n_steps: int = 2000,
    method: str = "implicit",
) -> float | NDArray[np.float64]:
    """Relic abundance Omega h^2 of complex scalar chi (chi + chi*) from eq. 3.2.

    Parameters
    ----------
    model : str
        Model id (km md ed cr am) or any alias accepted by :func:`darkmoments.get_model`.
    m_ap : float or 1-D array
        Dark-photon mass in GeV, in (2 m_e, 1000].
    coupling : float or array
        g_f in the model's units (km: 1, md/ed: GeV^-1, cr/am: GeV^-2); > 0; broadcast with m_ap.
    mass_ratio : float
        m_A'/m_chi (paper: 3), > 2.
    alpha_d : float
        Dark fine-structure constant (paper: 0.5).
    leptons : sequence of str
        Lepton final states (each counted when open).
    hadrons : {"auto", "none", "rratio", "proxy"}
        Hadronic final states: ``auto`` = R-ratio for km, none for the other models; ``proxy``
        applies the R-ratio formula to any model (paper footnote 4; a proxy only).
    paper_normalisation : bool
        Use the printed A.4-A.7 and A.11 instead of the trace-checked amplitudes.
    x_start, x_end : float
        Boltzmann integration range in x = m_chi/T.
    n_steps : int
        Implicit steps in ln x.
    method : {"implicit", "radau"}
        Boltzmann solver (see :mod:`darkmoments.relic.boltzmann`).

    Returns
    -------
    float or ndarray
        Omega h^2 (dimensionless).

    Examples
    --------
    >>> from darkmoments import relic
    >>> t = relic.target("km", 0.1)
    >>> round(float(relic.omega_h2("km", 0.1, t.coupling)), 3)
    0.12
    >>> float(relic.omega_h2("km", 0.1, 2 * t.coupling)) < 0.12  # more annihilation, less DM
    True
    """
    sector = DarkSector(
        model,
        mass_ratio=mass_ratio,
        alpha_d=alpha_d,
        leptons=leptons,
        hadrons=hadrons,
        paper_normalisation=paper_normalisation,
    )
    return _omega_h2(
        sector, m_ap, coupling, x_start=x_start, x_end=x_end, n_steps=n_steps, method=method
    )


def _omega_h2(
    sector: DarkSector,
    m_ap: ArrayLike,
    coupling: ArrayLike,
    *,
    x_start: float,
    x_end: float,
    n_steps: int,
    method: str,
) -> float | NDArray[np.float64]:
    """:func:`omega_h2` for a validated dark sector (its m_ap and coupling are not used)."""
    m = _check_masses(m_ap)
    check_real("x_start", x_start, lo=0.0, lo_open=True)
    check_real("x_end", x_end, lo=x_start, lo_open=True)
    check_int("n_steps", n_steps, lo=10)
    g0 = check_coupling(coupling, name="coupling g_f", array=True)
    try:
        mm, gg = np.broadcast_arrays(np.atleast_1d(m), np.atleast_1d(g0))
    except ValueError:
        raise InputError(
            f"coupling (shape {np.shape(coupling)}) does not broadcast with m_ap "
            f"(shape {np.shape(m)})"
        ) from None
    g = gg.astype(float)
    batch = _Batch(sector, mm.astype(float), g, x_start, x_end)
    out = batch.omega(g, n_steps, method)
    if np.ndim(m) == 0 and np.ndim(coupling) == 0:
        return float(out[0])
    return out


@dataclass(frozen=True)
class RelicTarget:
    """Result of :func:`target` (arrays over the requested masses, or floats for one mass).

    Attributes
    ----------
    model : str
        Model id.
    m_ap : float or ndarray
        A' mass in GeV.
    m_chi : float or ndarray
        Dark-matter mass in GeV.
    coupling : float or ndarray
        Relic-target g_f in the model's units (1, GeV^-1, GeV^-2).
    y : float or ndarray
        y of eq. 3.3 (dimensionless).
    omega_h2 : float or ndarray
        Omega h^2 reached at ``coupling`` (equals the target to ``rtol``).
    coupling_unit : str
        Units of ``coupling``.
    settings : dict
        mass_ratio, alpha_d, cutoff, leptons, hadrons, paper_normalisation, omega_target.

    Examples
    --------
    >>> from darkmoments import relic
    >>> t = relic.target("md", 0.1)
    >>> t.coupling_unit, round(t.omega_h2, 3)
    ('GeV^-1', 0.12)
    >>> t.to_dict()["model"]
    'md'
    """

    model: str
    m_ap: float | NDArray[np.float64]
    m_chi: float | NDArray[np.float64]
    coupling: float | NDArray[np.float64]
    y: float | NDArray[np.float64]
    omega_h2: float | NDArray[np.float64]
    coupling_unit: str
    settings: dict[str, object]

    def to_dict(self) -> dict[str, object]:
        """Plain-Python dictionary (lists for arrays), suitable for JSON."""

        def conv(v: object) -> object:
            return v.tolist() if isinstance(v, np.ndarray) else v

        return {
            k: conv(getattr(self, k))
            for k in (
                "model",
                "m_ap",
                "m_chi",
                "coupling",
                "coupling_unit",
                "y",
                "omega_h2",
                "settings",
            )
        }


def target(
    model: str,
    m_ap: ArrayLike,
    *,
    mass_ratio: float = 3.0,
    alpha_d: float = 0.5,
    cutoff: float = LAMBDA_F_DEFAULT,
    omega_target: float = OMEGA_DM_H2,
    leptons: Sequence[str] = ("e", "mu", "tau"),
    hadrons: str = "auto",
    paper_normalisation: bool = False,
    rtol: float = 1e-4,
    max_iter: int = 30,
    n_steps: int = 2000,
) -> RelicTarget:
    """Relic-target coupling: g_f(m_A') with Omega h^2 = ``omega_target``.

    Parameters
    ----------
    model : str
        Model id (km md ed cr am).
    m_ap : float or 1-D array
        Dark-photon mass(es) in GeV, in (2 m_e, 1000].
    mass_ratio : float
        m_A'/m_chi (paper: 3), > 2.
    alpha_d : float
        Dark fine-structure constant (paper: 0.5).
    cutoff : float
        Lambda_f in GeV, enters only y (paper: 1000 GeV).
    omega_target : float
        Required Omega h^2 (Planck 2018: 0.120).
    leptons, hadrons, paper_normalisation
        As in :func:`omega_h2`.
    rtol : float
        Relative tolerance on Omega h^2.
    max_iter : int
        Maximum secant iterations.
    n_steps : int
        Implicit Boltzmann steps in ln x.

    Returns
    -------
    RelicTarget
        Coupling in the model's units, y (eq. 3.3), the Omega h^2 reached and the settings.

    Raises
    ------
    ValueError
        Bad masses, ratio <= 2, alpha_d or hadrons option; or no convergence.

    Examples
    --------
    >>> from darkmoments import relic
    >>> t = relic.target("km", [0.01, 0.1])
    >>> [f"{g:.2e}" for g in t.coupling], [f"{y:.2e}" for y in t.y]
    (['1.51e-05', '1.69e-04'], ['1.40e-12', '1.77e-10'])
    """
    sector = DarkSector(
        model,
        mass_ratio=mass_ratio,
        alpha_d=alpha_d,
        leptons=leptons,
        hadrons=hadrons,
        paper_normalisation=paper_normalisation,
    )
    return _target(
        sector,
        m_ap,
        cutoff=cutoff,
        omega_target=omega_target,
        rtol=rtol,
        max_iter=max_iter,
        n_steps=n_steps,
    )


#: Starting guess of the secant search: y = _Y_START at m_chi = _M_CHI_START GeV, scaled as
#: y ~ m_chi^2 (Omega ~ m_chi^2 / y for s-channel annihilation at a fixed m_A'/m_chi), which
#: is the size of the km relic target (paper figure 1).
_Y_START = 1e-10
_M_CHI_START = 0.03
#: Starting slope d ln(Omega h^2) / d ln(g^2): Omega ~ 1/g^2 while the A' width is dominated
#: by A' -> chi chi* (the coupling then only enters <sigma v> as g^2).
_SLOPE_START = -1.0
#: Largest secant step in ln(g^2) per iteration (a factor e^10 ~ 2e4 in g^2), so that one
#: poor slope estimate cannot throw the search far outside the physical range.
_MAX_STEP = 10.0
#: A measured secant slope replaces the previous one only if it is finite and below this
#: value: Omega must fall as the coupling grows; a flat or rising finite difference (round-off
#: between two nearby points, a width-dominated resonance) would send the next step astray.
_MAX_SLOPE = -0.05


def _initial_coupling(model: Model, m_ap: NDArray, mass_ratio: float, alpha_d: float) -> NDArray:
    """g_f (model units) whose y follows the km-like starting guess, one per mass (GeV)."""
    m_chi = m_ap / mass_ratio
    y0 = _Y_START * (m_chi / _M_CHI_START) ** 2
    return np.sqrt(y0 / (alpha_d * mass_ratio ** (-4))) * m_ap ** (-model.dimension)


def _secant(
    batch: _Batch, g: NDArray, omega_target: float, rtol: float, max_iter: int, n_steps: int
) -> tuple[NDArray, NDArray]:
    """Secant iterations in (ln g^2, ln Omega h^2) to Omega h^2 = omega_target, per mass.

    Returns (ln g^2, ln Omega h^2) at convergence; raises InputError naming the masses that
    did not converge within ``max_iter`` iterations.
    """
    ln_t = math.log(omega_target)
    lg2 = np.log(g**2)
    lom = np.log(batch.omega(g, n_steps, "implicit"))
    slope = np.full_like(lg2, _SLOPE_START)
    for _ in range(max_iter):
        err = lom - ln_t
        if np.all(np.abs(err) < rtol):
            return lg2, lom
        step = np.where(np.abs(err) < rtol, 0.0, -err / slope)
        step = np.clip(step, -_MAX_STEP, _MAX_STEP)
        lg2_new = lg2 + step
        lom_new = np.log(batch.omega(np.exp(0.5 * lg2_new), n_steps, "implicit"))
        moved = step != 0
        new_slope = np.where(moved, (lom_new - lom) / np.where(moved, step, 1.0), slope)
        slope = np.where((new_slope < _MAX_SLOPE) & np.isfinite(new_slope), new_slope, slope)
        lg2, lom = np.where(moved, lg2_new, lg2), np.where(moved, lom_new, lom)
    raise InputError(
        f"relic target did not converge within {max_iter} iterations for "
        f"m_A' = {batch.m_ap[np.abs(lom - ln_t) >= rtol].tolist()} GeV"
    )


def _target(
    sector: DarkSector,
    m_ap: ArrayLike,
    *,
    cutoff: float,
    omega_target: float,
    rtol: float,
    max_iter: int,
    n_steps: int,
) -> RelicTarget:
    """:func:`target` for a validated dark sector (its m_ap and coupling are not used)."""
    mod = get_model(sector.model)
    check_real("omega_target", omega_target, lo=0.0, lo_open=True)
    check_real("rtol", rtol, lo=0.0, hi=0.1, lo_open=True, hi_open=True)
    check_real("cutoff Lambda_f", cutoff, lo=0.0, lo_open=True, unit="GeV")
    check_int("max_iter", max_iter, lo=1)
    check_int("n_steps", n_steps, lo=10)
    m = _check_masses(m_ap)
    mm = np.atleast_1d(m).astype(float)
    g = _initial_coupling(mod, mm, sector.mass_ratio, sector.alpha_d)
    batch = _Batch(sector, mm, g, 1.0, 1000.0)
    lg2, lom = _secant(batch, g, omega_target, rtol, max_iter, n_steps)
    coup = np.exp(0.5 * lg2)
    y = y_parameter(mod, coup, alpha_d=sector.alpha_d, mass_ratio=sector.mass_ratio, cutoff=cutoff)
    settings: dict[str, object] = {
        "mass_ratio": sector.mass_ratio,
        "alpha_d": sector.alpha_d,
        "cutoff": cutoff,
        "omega_target": omega_target,
        "leptons": list(sector.leptons),
        "hadrons": sector.hadrons,
        "paper_normalisation": sector.paper_normalisation,
    }
    scalar = np.ndim(m) == 0

    def out(a: NDArray) -> float | NDArray:
        return float(a[0]) if scalar else a

    return RelicTarget(
        mod.id,
        out(mm),
        out(mm / sector.mass_ratio),
        out(coup),
        out(np.asarray(y)),
        out(np.exp(lom)),
        mod.coupling_unit,
        settings,
    )


def _models(models: str | Iterable[str]) -> list[str]:
    if isinstance(models, str):
        return list(MODEL_IDS) if models.strip().lower() == "all" else [get_model(models).id]
    try:
        out = [get_model(m).id for m in models]
    except TypeError:
        raise InputTypeError(
            f"models must be 'all', a model id or a list of ids, got {models!r}"
        ) from None
    if not out:
        raise InputError("models must name at least one model, got an empty list")
    return out


#: Masses solved together in one call of :func:`target` by :func:`scan` (the unit of its
#: progress bar).  Results do not depend on it (each mass is solved independently).
SCAN_CHUNK: int = 50


def scan(
    models: str | Iterable[str] = "all",
    m_ap: ArrayLike | None = None,
    *,
    n_masses: int = 50,
    m_min: float = 0.003,
    m_max: float = 3.0,
    proxy_band: bool = True,
    hadrons: str = "auto",
    progress: bool = False,
    **kwargs: object,
) -> pd.DataFrame:
    """Relic targets for several models over a mass grid, as a table.

    Parameters
    ----------
    models : str or iterable of str
        ``"all"``, one model id, or several.
    m_ap : 1-D array, optional
        Masses in GeV; default ``n_masses`` log-spaced points in [m_min, m_max] GeV
        (paper range 3 MeV - 3 GeV).
    n_masses : int
        Number of masses if ``m_ap`` is not given (>= 2).
    m_min, m_max : float
        Mass range in GeV.
    proxy_band : bool
        Also compute, for models other than km whose main curve has no hadrons (``hadrons``
        ``"auto"`` or ``"none"``), the target with the hadronic proxy (``hadrons="proxy"``),
        the other edge of the paper's shaded band.
    hadrons : {"auto", "none", "rratio", "proxy"}
        Hadronic final states of the main curve, as in :func:`target` (``"rratio"`` only for
        km).
    progress : bool
        Show a tqdm bar on stderr counting the masses solved (all models, band included).
    **kwargs
        Passed to :func:`target` (mass_ratio, alpha_d, cutoff, leptons, paper_normalisation ...).

    Returns
    -------
    pandas.DataFrame
        Columns model, mass, m_chi, coupling, coupling_unit, y, omega_h2 and
        y_hadron_proxy (NaN where no band is computed).

    Examples
    --------
    >>> from darkmoments import relic
    >>> table = relic.scan(["km", "md"], n_masses=3, m_min=0.01, m_max=0.1, proxy_band=False)
    >>> sorted(set(table["model"])), len(table)
    (['km', 'md'], 6)
    """
    from tqdm.auto import tqdm

    masses = _scan_masses(m_ap, n_masses, m_min, m_max)
    mids = _models(models)
    settings, options = _split_scan_kwargs(kwargs)
    # every dark sector validated before any work (e.g. hadrons='rratio' for md)
    sectors = [DarkSector(mid, hadrons=hadrons, **settings) for mid in mids]
    bands = {
        sec.model: proxy_band and not get_model(sec.model).photon_like and not sec.with_hadrons
        for sec in sectors
    }
    total = masses.size * sum(1 + bands[sec.model] for sec in sectors)
    frames = []
    with tqdm(
        total=total, desc="relic targets", unit="mass", disable=not progress, leave=False
    ) as bar:
        for sec in sectors:
            bar.set_postfix_str(sec.model, refresh=False)
            res = _solve_chunks(sec, masses, options, bar)
            proxy = np.full(masses.shape, np.nan)
            if bands[sec.model]:
                band = _solve_chunks(replace(sec, hadrons="proxy"), masses, options, bar)
                proxy = np.asarray(band.y)
            frames.append(_scan_frame(res, proxy))
    return pd.concat(frames, ignore_index=True)


def _scan_masses(
    m_ap: ArrayLike | None, n_masses: int, m_min: float, m_max: float
) -> NDArray[np.float64]:
    """The scan's masses in GeV: ``m_ap`` checked, or n_masses log-spaced in [m_min, m_max]."""
    if m_ap is not None:
        return np.atleast_1d(_check_masses(m_ap))
    n_masses = check_int("n_masses", n_masses, lo=2)
    m_min = check_real("m_min", m_min, lo=M_AP_MIN, lo_open=True, unit="GeV")
    m_max = check_real("m_max", m_max, hi=M_AP_MAX, unit="GeV")
    if not m_min < m_max:
        raise InputError(
            f"need {M_AP_MIN:.6g} < m_min < m_max <= {M_AP_MAX:g} GeV, "
            f"got m_min={m_min}, m_max={m_max}"
        )
    return np.geomspace(m_min, m_max, n_masses)


#: Keyword arguments of :func:`scan` that set the dark sector, and those passed to the
#: solver of :func:`target` (defaults: those of :func:`target`).
_SECTOR_SETTINGS = ("mass_ratio", "alpha_d", "leptons", "paper_normalisation")
_TARGET_OPTIONS = ("cutoff", "omega_target", "rtol", "max_iter", "n_steps")


def _split_scan_kwargs(kwargs: dict[str, object]) -> tuple[dict[str, Any], dict[str, Any]]:
    unknown = sorted(set(kwargs) - {*_SECTOR_SETTINGS, *_TARGET_OPTIONS})
    if unknown:
        raise InputTypeError(
            f"scan() got unknown keyword argument(s) {unknown}; allowed: "
            f"{', '.join((*_SECTOR_SETTINGS, *_TARGET_OPTIONS))}"
        )
    defaults = inspect.signature(target).parameters
    settings = {k: kwargs[k] for k in _SECTOR_SETTINGS if k in kwargs}
    options = {k: kwargs.get(k, defaults[k].default) for k in _TARGET_OPTIONS}
    return settings, options


def _solve_chunks(
    sector: DarkSector, masses: NDArray, options: dict[str, Any], bar: Any
) -> RelicTarget:
    """Relic targets of one dark sector at all masses, SCAN_CHUNK masses per solve."""
    parts = []
    for i in range(0, masses.size, SCAN_CHUNK):
        chunk = masses[i : i + SCAN_CHUNK]
        parts.append(_target(sector, chunk, **options))
        bar.update(chunk.size)
    first = parts[0]
    return RelicTarget(
        first.model,
        masses,
        np.concatenate([np.atleast_1d(p.m_chi) for p in parts]),
        np.concatenate([np.atleast_1d(p.coupling) for p in parts]),
        np.concatenate([np.atleast_1d(p.y) for p in parts]),
        np.concatenate([np.atleast_1d(p.omega_h2) for p in parts]),
        first.coupling_unit,
        first.settings,
    )


def _scan_frame(res: RelicTarget, proxy: NDArray) -> pd.DataFrame:
    """One model's rows of the scan table (masses in GeV, coupling in the model's units)."""
    return pd.DataFrame(
        {
            "model": res.model,
            "mass": res.m_ap,
            "m_chi": res.m_chi,
            "coupling": res.coupling,
            "coupling_unit": res.coupling_unit,
            "y": res.y,
            "omega_h2": res.omega_h2,
            "y_hadron_proxy": proxy,
        }
    )
