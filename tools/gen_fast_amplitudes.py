"""Derive the closed-form spin sums of l N -> l N A' and write physics/fast_amplitudes.py.

Run with a Python that has sympy (not a darkmoments dependency; only this script needs it):

    python tools/gen_fast_amplitudes.py [--check]

Method (docs/physics.md section 2; the reference is physics/amplitudes.py, a numerical Dirac
trace).  The lepton spin sum

    T = sum_pol Tr[(p2slash + m) O (p1slash + m) Obar],
    O = Gamma(eps) S(p2 + k) Jslash + Jslash S(p1 - k) Gamma(eps),  S(p) = (pslash + m)/D,

is expanded into traces of products of slashed vectors (a small exact trace engine below,
Tr(a1 ... an) = sum_j (-1)^j (a1.aj) Tr(...), no gamma5 left), the A' polarisation sum taken
as eps_a eps_b -> -g_ab (exact here: k_alpha Gamma^alpha = 0 as a matrix for every moment
vertex, and the km amplitude vanishes for eps = k by current conservation; the k k/m_A'^2
term is dropped analytically, not numerically), and every dot product written through the
map's exact invariants:

    p1.k = (d1 + mA^2)/2,  p2.k = (w - mA^2)/2,  p1.p2 = (2 m^2 + w - d1 - mA^2 + t)/2,
    J.J = 4 M^2 + t,  J.k = J.p1 - J.p2  (J.q = 0),

J = P1 + P2, w = (p2 + k)^2 - m^2, d1 = 2 p1.k - mA^2, t = -(P1 - P2)^2.  gamma5 is removed
by anticommutation: Gamma gamma5 S(p) Jslash = Gamma (pslash - m) Jslash gamma5 / D, and
gamma5 (p1slash + m) (-gamma5) = p1slash - m, so the axial vertices are traces with flipped
lepton-mass signs.  cr = m_A'^4 km exactly (the (eps.k) kslash term multiplies the km
amplitude at eps = k, zero).  The result, per model, is T = A/w^2 + B/d1^2 + C/(w d1) with
A, B, C polynomials in (J.p1, J.p2, t, w, d1); sympy's common-subexpression elimination
writes them as numpy code.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

import sympy as sp

OUT = Path(__file__).resolve().parents[1] / "src" / "darkmoments" / "physics" / "fast_amplitudes.py"

# ---------------------------------------------------------------- Dirac algebra
# A Dirac expression is a list of terms (coef, scalars, gammas): coef a sympy number,
# scalars a tuple of sympy symbols/expressions multiplied together, gammas a tuple of vector
# names ('p1', 'p2', 'k', 'J', 'e') whose slashes are multiplied left to right.


def dirac(*terms):
    """A Dirac expression from (coef, scalars, gammas) triples."""
    return [(sp.Integer(1) * c, tuple(s), tuple(g)) for c, s, g in terms]


def mul(*exprs):
    """The product of Dirac expressions, expanded."""
    out = []
    for combo in itertools.product(*exprs):
        coef = sp.Integer(1)
        scal: tuple = ()
        gam: tuple = ()
        for c, s, g in combo:
            coef *= c
            scal += s
            gam += g
        out.append((coef, scal, gam))
    return out


def bar(expr):
    """gamma0 X^dagger gamma0: reverse the slashes (real vectors), conjugate coefficients."""
    return [(sp.conjugate(c), s, tuple(reversed(g))) for c, s, g in expr]


def dot_key(a: str, b: str) -> tuple[str, str]:
    """The canonical (sorted) key of the dot product a.b."""
    return tuple(sorted((a, b)))


@cache
def trace(gammas: tuple[str, ...]) -> tuple[tuple[tuple, int], ...]:
    """Tr of the product of slashed vectors: ((dot keys...), integer coefficient) pairs."""
    if len(gammas) % 2:
        return ()
    if not gammas:
        return (((), 4),)
    first, rest = gammas[0], gammas[1:]
    acc: dict[tuple, int] = defaultdict(int)
    for j, g in enumerate(rest):
        sign = -1 if j % 2 else 1
        key = dot_key(first, g)
        for dots, c in trace(rest[:j] + rest[j + 1 :]):
            acc[tuple(sorted((key, *dots)))] += sign * c
    return tuple((d, c) for d, c in acc.items() if c)


# ---------------------------------------------------------------- symbols
t, w, d1, m, mA, M2, jp1, jp2 = sp.symbols("t w d1 m mA M2 jp1 jp2", real=True)
iw, idn = sp.symbols("iw idn", real=True)  # 1/w and 1/d1

DOTS = {
    ("p1", "p1"): m**2,
    ("p2", "p2"): m**2,
    ("k", "k"): mA**2,
    ("J", "J"): 4 * M2 + t,
    ("k", "p1"): (d1 + mA**2) / 2,
    ("k", "p2"): (w - mA**2) / 2,
    ("p1", "p2"): (2 * m**2 + w - d1 - mA**2 + t) / 2,
    ("J", "p1"): jp1,
    ("J", "p2"): jp2,
    ("J", "k"): jp1 - jp2,
}


def contract_eps(dots: tuple) -> sp.Expr:
    """Replace the eps pair by -g: (e.e) -> -4, (e.a)(e.b) -> -(a.b)."""
    with_e = [d for d in dots if "e" in d]
    others = [d for d in dots if "e" not in d]
    if len(with_e) == 1 and with_e[0] == ("e", "e"):
        val = sp.Integer(-4)
    elif len(with_e) == 2:
        a = [x for x in with_e[0] if x != "e"] or ["e"]
        b = [x for x in with_e[1] if x != "e"] or ["e"]
        val = -DOTS[dot_key(a[0], b[0])]
    else:
        raise AssertionError(f"eps must appear exactly twice: {dots}")
    return val * sp.Mul(*[DOTS[d] for d in others])


def spin_sum(vertex, axial: bool) -> sp.Expr:
    """T for a vertex (Dirac expression with one 'e'), vector or axial (gamma5 on the right)."""
    sm = -m if axial else m  # mass sign in the outgoing propagator and the p1 projector
    s_out = dirac((1, (iw,), ("p2",)), (1, (iw,), ("k",)), (sm, (iw,), ()))
    # incoming propagator S(p1 - k): denominator (p1-k)^2 - m^2 = -d1
    s_in = dirac((-1, (idn,), ("p1",)), (1, (idn,), ("k",)), (-m, (idn,), ()))
    jsl = dirac((1, (), ("J",)))
    o = mul(vertex, s_out, jsl) + mul(jsl, s_in, vertex)
    u2 = dirac((1, (), ("p2",)), (m, (), ()))
    u1 = dirac((1, (), ("p1",)), (sm, (), ()))
    ob = bar(o)
    # collect by slash string (and the eps dot products of the vertex) before tracing
    strings: dict[tuple, sp.Expr] = defaultdict(lambda: sp.Integer(0))
    for coef, scal, gam in mul(u2, o, u1, ob):
        extra = tuple(sorted(x for x in scal if isinstance(x, tuple)))
        sym = sp.Mul(*[x for x in scal if not isinstance(x, tuple)])
        strings[(gam, extra)] += coef * sym
    result = sp.Integer(0)
    for (gam, extra), coef in strings.items():
        coef = sp.expand(coef)
        if coef == 0:
            continue
        tr = sp.Add(*[c * contract_eps(tuple(sorted(d + extra))) for d, c in trace(gam)])
        result += coef * tr
    return sp.expand(result)


def vertices():
    """The vertex Dirac expressions (contracted with eps) and whether each is axial."""
    e = ("e",)
    km = dirac((1, (), e))
    md = dirac((sp.I / 2, (), ("e", "k")), (-sp.I / 2, (), ("k", "e")))
    am = dirac((mA**2, (), e), (-1, (("e", "k"),), ("k",)))
    return {"km": (km, False), "md": (md, False), "ed": (md, True), "am": (am, True)}


def split(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """T = iw^2 A + idn^2 B + iw idn C: return (A, B, C)."""
    poly = sp.Poly(expr, iw, idn)
    parts = {(2, 0): 0, (0, 2): 0, (1, 1): 0}
    for (a, b), c in poly.terms():
        if (a, b) not in parts:
            raise AssertionError(f"unexpected propagator power iw^{a} idn^{b}")
        parts[(a, b)] = c
    return parts[(2, 0)], parts[(0, 2)], parts[(1, 1)]


def derive() -> dict[str, tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """(A, B, C) of every generated model (km, md, ed, am; cr = m_A'^4 km)."""
    out = {}
    for name, (vtx, axial) in vertices().items():
        out[name] = split(spin_sum(vtx, axial))
    return out


ARRAY_VARS = (jp1, jp2, t, w, d1)
HEADER = '''r"""Closed-form spin sums of l(p1) N(P1) -> l(p2) N(P2) A'(k): the fast path.

GENERATED by tools/gen_fast_amplitudes.py -- do not edit; rerun the script instead.

The lepton spin sum of :func:`darkmoments.physics.amplitudes.lepton_trace` (a numerical
Dirac trace, kept as the reference), derived symbolically by the script (its docstring gives
the method) and written as polynomials in the invariants

* ``t`` = -(P1 - P2)^2, ``w`` = (p2 + k)^2 - m_l^2, ``d1`` = 2 p1.k - m_A'^2 (GeV^2), exactly as
  the phase-space map produces them;
* ``jp1`` = J.p1 and ``jp2`` = J.p2 with the nucleus current J = P1 + P2 (GeV^2),

T = A/w^2 + B/d1^2 + C/(w d1), A, B, C polynomials whose scalar coefficients (functions of
m_l, m_A', M^2) are computed once per call.  The massive A' polarisation sum is taken
analytically as -g (exact for every vertex, see the script), cr = m_A'^4 km and am uses its
vertex (m_A'^2 eps-slash - (eps.k) kslash) gamma5 in full.  Round-off: the two diagrams
cancel down to the size of the exchanged momentum, as in the trace (relative error about
1e-16 E0^2 / t; tested against the trace and an extended-precision evaluation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..constants import E_CHARGE

__all__ = ["SPIN_SUMS", "current_invariants", "diagram_terms", "spin_sum", "squared_amplitude"]

'''

FOOTER = '''

#: The generated spin sums by model id (cr is m_A'^4 times km, exactly).
SPIN_SUMS = {"km": _km, "md": _md, "ed": _ed, "am": _am}


def spin_sum(
    model_id: str,
    t: NDArray[np.float64],
    w: NDArray[np.float64],
    d1: NDArray[np.float64],
    jp1: NDArray[np.float64],
    jp2: NDArray[np.float64],
    m: float,
    mA: float,
    M2: float,
) -> NDArray[np.float64]:
    """Lepton spin sum T (the reference ``amplitudes.lepton_trace``) from the invariants.

    Parameters
    ----------
    model_id : str
        Canonical model id: km, md, ed, cr or am.
    t, w, d1, jp1, jp2 : ndarray, shape (N,)
        The invariants of the module docstring (GeV^2).  Any float dtype (float64 on the
        production path; numpy.longdouble gives an extended-precision evaluation).
    m, mA : float
        Lepton and A' masses (GeV).
    M2 : float
        Squared nucleus mass (GeV^2): J.J = 4 M^2 + t.

    Returns
    -------
    ndarray, shape (N,)
        GeV^2 x (vertex units)^2, as the reference.

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.amplitudes import lepton_trace
    >>> from darkmoments.physics.fast_amplitudes import current_invariants, spin_sum
    >>> jp1, jp2 = current_invariants(ps.p1, ps.p2, ps.P1, ps.t, ps.w, ps.d1)
    >>> T = spin_sum("cr", ps.t, ps.w, ps.d1, jp1, jp2, 0.000511, 0.1, W.nuclear_mass**2)
    >>> ref = lepton_trace("cr", ps.p1, ps.p2, ps.k, ps.P1 + ps.P2, 0.000511, 0.1,
    ...                    den_in=-ps.d1, den_out=ps.w)
    >>> bool(np.allclose(T, ref, rtol=1e-8, atol=0))
    True
    """
    if model_id == "cr":
        return mA**4 * _km(t, w, d1, jp1, jp2, m, mA, M2)
    return SPIN_SUMS[model_id](t, w, d1, jp1, jp2, m, mA, M2)


def diagram_terms(
    model_id: str,
    t: NDArray[np.float64],
    w: NDArray[np.float64],
    d1: NDArray[np.float64],
    jp1: NDArray[np.float64],
    jp2: NDArray[np.float64],
    m: float,
    mA: float,
    M2: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The three terms of :func:`spin_sum`: A/w^2, B/d1^2, C/(w d1).

    A/w^2 is the square of the diagram with the A' off the outgoing lepton, B/d1^2 that of
    the incoming one and C/(w d1) their interference (for tests; same arguments).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.fast_amplitudes import current_invariants, diagram_terms, spin_sum
    >>> jp1, jp2 = current_invariants(ps.p1, ps.p2, ps.P1, ps.t, ps.w, ps.d1)
    >>> args = ("km", ps.t, ps.w, ps.d1, jp1, jp2, 0.000511, 0.1, W.nuclear_mass**2)
    >>> a, b, c = diagram_terms(*args)
    >>> bool(np.allclose(a + b + c, spin_sum(*args)))
    True
    """
    scale = mA**4 if model_id == "cr" else 1.0
    fn = _km if model_id == "cr" else SPIN_SUMS[model_id]
    return tuple(scale * x for x in fn(t, w, d1, jp1, jp2, m, mA, M2, parts=True))


def current_invariants(
    p1: NDArray[np.float64],
    p2: NDArray[np.float64],
    P1: NDArray[np.float64],
    t: NDArray[np.float64],
    w: NDArray[np.float64],
    d1: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """J.p1 and J.p2 (GeV^2) for J = P1 + P2 = 2 P1 - q, q = p2 + k - p1.

    q.p1 = (w + t)/2 and q.p2 = (d1 - t)/2 exactly, so only P1.p1 and P1.p2 are taken from
    the momenta (with the target at rest: M E0 and M E2, no cancellation).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.fast_amplitudes import current_invariants
    >>> from darkmoments.physics.kinematics import minkowski_dot
    >>> jp1, jp2 = current_invariants(ps.p1, ps.p2, ps.P1, ps.t, ps.w, ps.d1)
    >>> J = ps.P1 + ps.P2
    >>> bool(np.allclose(jp1, minkowski_dot(J, ps.p1)))
    True
    >>> bool(np.allclose(jp2, minkowski_dot(J, ps.p2)))
    True
    """
    pp1 = P1[:, 0] * p1[:, 0] - P1[:, 1] * p1[:, 1] - P1[:, 2] * p1[:, 2] - P1[:, 3] * p1[:, 3]
    pp2 = P1[:, 0] * p2[:, 0] - P1[:, 1] * p2[:, 1] - P1[:, 2] * p2[:, 2] - P1[:, 3] * p2[:, 3]
    return 2.0 * pp1 - 0.5 * (w + t), 2.0 * pp2 - 0.5 * (d1 - t)


def squared_amplitude(
    model_id: str,
    p1: NDArray[np.float64],
    p2: NDArray[np.float64],
    P1: NDArray[np.float64],
    t: NDArray[np.float64],
    w: NDArray[np.float64],
    d1: NDArray[np.float64],
    g2_form: NDArray[np.float64],
    m: float,
    mA: float,
    M2: float,
) -> NDArray[np.float64]:
    """Spin-averaged |M|^2 at unit coupling, as the reference ``amplitudes.squared_amplitude``.

    (1/2) e^6 G2(t)/t^2 x :func:`spin_sum`; momenta (N, 4) in GeV, ``t``, ``w``, ``d1`` the
    map's invariants (GeV^2), ``g2_form`` the nuclear form factor, ``M2`` the squared nucleus
    mass (GeV^2).

    Examples
    --------
    >>> import numpy as np
    >>> from darkmoments.targets import get_target
    >>> from darkmoments.physics.kinematics import map_phase_space
    >>> W = get_target("W")
    >>> ps = map_phase_space(np.random.default_rng(1).random((4, 5)), 8.0, 0.000511, 0.1,
    ...                      W.nuclear_mass)
    >>> from darkmoments.physics.fast_amplitudes import squared_amplitude
    >>> from darkmoments.physics.form_factors import G2
    >>> g2 = G2(ps.t, W.Z, W.A)
    >>> args = (ps.p1, ps.p2, ps.P1, ps.t, ps.w, ps.d1, g2, 0.000511, 0.1, W.nuclear_mass**2)
    >>> km, cr = squared_amplitude("km", *args), squared_amplitude("cr", *args)
    >>> bool(np.allclose(cr, 0.1**4 * km))  # charge radius = m_A'^4 x kinetic mixing
    True
    """
    jp1, jp2 = current_invariants(p1, p2, P1, t, w, d1)
    tr = spin_sum(model_id, t, w, d1, jp1, jp2, m, mA, M2)
    return 0.5 * E_CHARGE**6 * g2_form / (t * t) * tr
'''


def _code_for(name: str, parts) -> str:
    """numpy code of one model: its scalar coefficients, then Horner in the arrays."""
    coef_syms: list[tuple[sp.Symbol, sp.Expr]] = []
    array_exprs = []
    for label, part in zip("ABC", parts, strict=True):
        poly = sp.Poly(sp.expand(part), *ARRAY_VARS)
        expr = sp.Integer(0)
        for monom, c in poly.terms():
            if c.is_number:  # a plain number stays a literal
                cs = c
            else:
                cs = sp.Symbol(f"c_{len(coef_syms)}")  # printed as c[i]
                coef_syms.append((cs, sp.factor(c)))
            expr += cs * sp.Mul(*[v**e for v, e in zip(ARRAY_VARS, monom, strict=True)])
        array_exprs.append((label, sp.horner(expr, *ARRAY_VARS)))
    values = ", ".join(sp.pycode(c) for _, c in coef_syms)
    lines = [
        f"def _{name}_coefficients(m, mA, M2):",
        f'    """The {len(coef_syms)} scalar coefficients of the {name} polynomials (generated)."""',  # noqa: E501
        f"    return ({values},)",
        "",
        "",
        f"def _{name}(t, w, d1, jp1, jp2, m, mA, M2, parts=False):",
        f'    """Spin sum of {name} (generated); ``parts``: the three diagram terms."""',
        f"    c = _{name}_coefficients(m, mA, M2)",
    ]
    reps, reduced = sp.cse([e for _, e in array_exprs], symbols=sp.numbered_symbols("x"))
    for s, e in reps:
        lines.append(f"    {s} = {sp.pycode(e)}")
    for (label, _), e in zip(array_exprs, reduced, strict=True):
        lines.append(f"    {label} = {sp.pycode(e)}")
    lines.append("    if parts:")
    lines.append("        return A / (w * w), B / (d1 * d1), C / (w * d1)")
    lines.append("    return (A / w + C / d1) / w + B / (d1 * d1)")
    return re.sub(r"\bc_(\d+)\b", r"c[\1]", "\n".join(lines))


def main(argv=None) -> int:
    """Write the module (and ruff-format it when ruff is on the PATH or next to python)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    derived = derive()
    body = "\n\n\n".join(_code_for(name, parts) for name, parts in derived.items())
    args.out.write_text(HEADER + body + FOOTER)
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        subprocess.run([ruff, "format", "--quiet", str(args.out)], check=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
