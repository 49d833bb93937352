"""Boltzmann equation for complex scalar dark matter (paper eq. 3.2) and Omega h^2.

Convention (explicit, as in the paper): n is the *total* number density n_chi + n_chi* (the
two are equal, no asymmetry), sigma is the chi chi* -> SM cross section of one chi with one chi*,
and

    dn/dt + 3 H n = -(1/2) <sigma v> (n^2 - n_eq^2),        n_eq = 2 m^3 K_2(x) / (2 pi^2 x),

because dn_chi/dt = -<sigma v> n_chi n_chi* = -<sigma v> n^2 / 4 and n = 2 n_chi.  In Y = n/s,
x = m/T (Gondolo and Gelmini, Nucl. Phys. B 360 (1991) 145, with their g_*^(1/2)):

    dY/dx = -(1/2) sqrt(pi/45) M_Pl m g_*^(1/2)(T) / x^2 <sigma v> (Y^2 - Y_eq^2),
    Y_eq = 45 g x^2 K_2(x) / (4 pi^4 g_*s(T)),  g = 2 (chi and chi*),

and Omega h^2 = m s_0 Y_inf / (rho_c / h^2) with PDG 2024 s_0 and rho_c.

Solver.  The default integrates in t = ln x with the backward-Euler (L-stable) step, whose implicit
equation is a quadratic solved in closed form,
Y_{n+1} = 2 c / (1 + sqrt(1 + 4 h b c)), c = Y_n + h b Y_eq^2, b = x (1/2) lambda <sigma v>,
on a fixed grid, vectorised over a batch of models/masses; Richardson extrapolation of the runs
with N and N/2 steps makes it second order.  ``method="radau"`` solves the same equation in
W = ln Y with :func:`scipy.integrate.solve_ivp` (Radau, analytic Jacobian) one point at a time;
the tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import solve_ivp
from scipy.special import kve

from ..errors import InputError
from .cosmology import M_PLANCK, RHO_CRIT_H2, S0_ENTROPY
from .dof import g_star_half, g_star_s

__all__ = [
    "G_CHI",
    "freeze_out_yield",
    "omega_from_yield",
    "solve_yield",
    "yield_equilibrium",
]

#: Internal degrees of freedom counted in n: chi and chi* (one each).
G_CHI: int = 2


def yield_equilibrium(
    x: ArrayLike, m_chi: ArrayLike, g: float = G_CHI, g_s: float | None = None
) -> NDArray[np.float64]:
    """Equilibrium yield Y_eq = n_eq/s = 45 g x^2 K_2(x) / (4 pi^4 g_*s(m/x)).

    Parameters
    ----------
    x : array_like
        m/T.
    m_chi : array_like
        Mass in GeV.
    g : float
        Internal degrees of freedom in n (2 for chi + chi*).
    g_s : float, optional
        Constant g_*s to use instead of g_*s(T) (for tests and toy models).

    Returns
    -------
    ndarray
        Y_eq (dimensionless, Maxwell-Boltzmann statistics).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.relic.boltzmann import yield_equilibrium
    >>> y = yield_equilibrium(np.array([1.0, 10.0, 20.0]), m_chi=1.0)
    >>> bool(np.all(np.diff(y) < 0)), float(y[2] / y[1]) < 1e-3
    (True, True)
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(under="ignore"):
        k2 = kve(2, x) * np.exp(-x)
    hs = g_star_s(np.asarray(m_chi) / x) if g_s is None else g_s
    return 45.0 * g * x**2 * k2 / (4 * np.pi**4 * hs)


def omega_from_yield(m_chi: ArrayLike, y_inf: ArrayLike) -> NDArray[np.float64]:
    """Omega h^2 = m s_0 Y_inf / (rho_c/h^2) (PDG 2024 s_0 = 2891.2 cm^-3, rho_c/h^2).

    Parameters
    ----------
    m_chi : array_like
        Mass in GeV.
    y_inf : array_like
        Asymptotic total yield (chi + chi*).

    Returns
    -------
    ndarray
        Omega h^2.

    Examples
    --------
    >>> from darkmoments.relic.boltzmann import omega_from_yield
    >>> float(omega_from_yield(1.0, 4.4e-10))  # m_chi = 1 GeV
    0.12072847367871614
    """
    return np.asarray(m_chi, dtype=float) * S0_ENTROPY * np.asarray(y_inf) / RHO_CRIT_H2


def _lambda(x: NDArray, m_chi: NDArray, g_half: float | None = None) -> NDArray:
    """sqrt(pi/45) M_Pl m g_*^(1/2) / x^2 (dimension GeV^2, multiplies <sigma v>)."""
    gh = g_star_half(m_chi / x) if g_half is None else g_half
    return np.sqrt(np.pi / 45.0) * M_PLANCK * m_chi * gh / x**2


def _backward_euler(y0: NDArray, h: float, b: NDArray, yeq2: NDArray) -> NDArray:
    """Integrate dY/dt = -b (Y^2 - Y_eq^2) with backward Euler; b, yeq2 shape (steps, batch)."""
    y = y0.copy()
    for k in range(b.shape[0]):
        hb = h * b[k]
        c = y + hb * yeq2[k]
        y = 2.0 * c / (1.0 + np.sqrt(1.0 + 4.0 * hb * c))
    return y


def solve_yield(
    m_chi: ArrayLike,
    sigma_v: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    *,
    x_start: float = 1.0,
    x_end: float = 1000.0,
    n_steps: int = 2000,
    method: str = "implicit",
    constant_dof: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """Solve the Boltzmann equation from Y(x_start) = Y_eq to x_end; return Y(x_end).

    Parameters
    ----------
    m_chi : array_like
        Masses in GeV, shape (batch,) or scalar.
    sigma_v : callable
        sigma_v(x) -> <sigma v> in GeV^-2 for x of shape (k,), returning shape (batch, k)
        (or (k,) for a scalar mass).  It is evaluated once on the step grid.
    x_start, x_end : float
        Integration range in x = m/T (1 <= x_start < x_end).
    n_steps : int
        Backward-Euler steps in ln x (even; Richardson with n_steps/2).
    method : {"implicit", "radau"}
        Vectorised closed-form backward Euler (default) or scipy Radau per point.
    constant_dof : (g_star_half, g_star_s), optional
        Use constant degrees of freedom instead of the computed g_*(T) (tests, toy models).

    Returns
    -------
    ndarray
        Y(x_end) with the shape of ``m_chi``.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.relic.boltzmann import freeze_out_yield, solve_yield
    >>> sigma0 = 5e-9  # GeV^-2, s-wave <sigma v>
    >>> y = solve_yield(np.array([10.0]), lambda x: np.full_like(x, sigma0),
    ...                 constant_dof=(10.0, 100.0))
    >>> _, y_approx = freeze_out_yield(10.0, sigma0, 0, 10.0, 100.0)
    >>> bool(abs(y[0] / y_approx - 1) < 0.1)  # the approximation holds to a few per cent
    True
    """
    m = np.atleast_1d(np.asarray(m_chi, dtype=float))
    if not (0 < x_start < x_end):
        raise InputError(f"need 0 < x_start < x_end, got x_start={x_start}, x_end={x_end}")
    if n_steps < 4 or n_steps % 2:
        raise InputError(f"n_steps must be an even integer >= 4, got {n_steps}")
    t = np.linspace(np.log(x_start), np.log(x_end), n_steps + 1)
    x = np.exp(t)
    sv = np.asarray(sigma_v(x), dtype=float).reshape(m.size, x.size)
    gh, gs = (None, None) if constant_dof is None else constant_dof
    b = 0.5 * x[None, :] * _lambda(x[None, :], m[:, None], gh) * sv  # (batch, steps+1)
    yeq = yield_equilibrium(x[None, :], m[:, None], g_s=gs)
    if method == "implicit":
        h = t[1] - t[0]
        y0 = yeq[:, 0]
        fine = _backward_euler(y0, h, b[:, 1:].T, (yeq[:, 1:] ** 2).T)
        coarse = _backward_euler(y0, 2 * h, b[:, 2::2].T, (yeq[:, 2::2] ** 2).T)
        out = 2 * fine - coarse
    elif method == "radau":
        out = np.empty(m.size)
        for i in range(m.size):
            out[i] = _radau(t, b[i], yeq[i])
    else:
        raise InputError(f"method must be 'implicit' or 'radau', got {method!r}")
    return out.reshape(np.shape(m_chi))


def _radau(t: NDArray, b: NDArray, yeq: NDArray) -> float:
    """Radau solution of dW/dt = -b (e^W - Y_eq^2 e^-W), W = ln Y, with linear interpolation."""
    lyeq2 = 2 * np.log(np.maximum(yeq, 1e-300))

    def rhs(tt: float, w: NDArray) -> NDArray:
        bb = np.interp(tt, t, b)
        return -bb * (np.exp(w) - np.exp(np.interp(tt, t, lyeq2) - w))

    def jac(tt: float, w: NDArray) -> NDArray:
        bb = np.interp(tt, t, b)
        return np.atleast_2d(-bb * (np.exp(w) + np.exp(np.interp(tt, t, lyeq2) - w)))

    sol = solve_ivp(
        rhs, (t[0], t[-1]), [np.log(yeq[0])], method="Radau", jac=jac, rtol=1e-8, atol=1e-10
    )
    if not sol.success:  # pragma: no cover - defensive
        raise RuntimeError(f"Radau failed: {sol.message}")
    return float(np.exp(sol.y[0, -1]))


def freeze_out_yield(
    m_chi: float,
    sigma0: float,
    n: int,
    g_star_half_value: float,
    g_star_s_value: float,
    g: float = G_CHI,
) -> tuple[float, float]:
    """Standard freeze-out approximation (Kolb and Turner, The Early Universe, sec. 5.2).

    For <sigma v> = sigma0 x^-n (n = 0 s-wave, 1 p-wave), constant g_*, and our convention
    dY/dx = -(A/x^(n+2)) (Y^2 - Y_eq^2) with A = (1/2) sqrt(pi/45) M_Pl m g_*^(1/2) sigma0:

        x_f = ln[(n+1) a A] - (n + 1/2) ln x_f,   Y_inf = (n+1) x_f^(n+1) / A,

    where Y_eq = a x^(3/2) e^-x, a = 45 g sqrt(pi/2) / (4 pi^4 g_*s) (Kolb and Turner 1990,
    section 5.2, with c(c+2) = n + 1; accuracy of order a few per cent for s-wave and
    O(1/x_f) for p-wave).

    Parameters
    ----------
    m_chi : float
        Mass in GeV.
    sigma0 : float
        <sigma v> coefficient in GeV^-2.
    n : int
        0 (s-wave) or 1 (p-wave).
    g_star_half_value, g_star_s_value : float
        Constant g_*^(1/2) and g_*s.
    g : float
        Degrees of freedom in n (2).

    Returns
    -------
    x_f, y_inf : float
        Freeze-out x and asymptotic yield.

    Examples
    --------
    >>> from darkmoments.relic.boltzmann import freeze_out_yield, omega_from_yield
    >>> x_f, y_inf = freeze_out_yield(100.0, 2e-9, 0, 10.0, 100.0)  # 100 GeV, s-wave
    >>> round(x_f, 1), round(float(omega_from_yield(100.0, y_inf)), 2)
    (21.4, 0.18)
    """
    if n not in (0, 1):
        raise InputError(f"n must be 0 (s-wave) or 1 (p-wave), got {n}")
    big_a = 0.5 * np.sqrt(np.pi / 45) * M_PLANCK * m_chi * g_star_half_value * sigma0
    a = 45 * g * np.sqrt(np.pi / 2) / (4 * np.pi**4 * g_star_s_value)
    xf = 20.0
    for _ in range(50):
        xf = np.log((n + 1) * a * big_a) - (n + 0.5) * np.log(xf)
    return float(xf), float((n + 1) * xf ** (n + 1) / big_a)
