"""Normalisation systematics: how well the expected signal rate of a hypothesis is known.

When the coupling of each hypothesis is predicted (the relic target, or a coupling the user
gives), the expected signal events N(m) = g^2 N_1(m) carry model information: the paper
(section 4.4) separates km from cr/am by the rate.  The prediction is uncertain by the
normalisation systematics of the experiment and the theory, each a relative uncertainty on
N_sig = EOT x (rho N_A / A) L x sigma x efficiency (``docs/physics.md`` section 3.1):

=============  =======  ==============================================================
component      default  what and where the number comes from
=============  =======  ==============================================================
``eot``        0.02     electrons on target.  Estimate, no published LDMX number: LDMX
                        counts the beam electrons of every bunch (trigger scintillator
                        and tagger tracker, arXiv:1808.05219); what remains is the
                        miscounting of multi-electron bunches, taken as 2 %.
``thickness``  0.02     target areal density rho L (yield proportional to L for the
                        0.1 X0 W foil).  Estimate: a 350 um foil's areal density is
                        measured by weighing to ~1 %; 2 % allows for non-uniformity.
``efficiency`` 0.05     signal efficiency (the shipped templates assume 1).  Estimate,
                        no published LDMX number: the size of a data-driven tracking and
                        veto efficiency calibration with control samples.
``theory``     0.10     cross section.  Coulomb corrections (Z alpha = 0.54 for W) are
                        not in the generator, estimated ~10 % (``docs/physics.md``
                        section 6.4); the generator and MadGraph agree within 2.5 %
                        (section 6.1), so the missing corrections dominate.
=============  =======  ==============================================================

Combination: the components are independent relative uncertainties on one product, added in
quadrature, sigma_rel = sqrt(sum sigma_i^2) (0.115 with the defaults).  They enter the
likelihood as one log-normal normalisation nuisance: mu = theta R(m) with the constraint
(ln theta)^2 / s^2 added to the deviance (-2 ln of a Gaussian in ln theta), where
s = ln(1 + sigma_rel) (:attr:`NormalisationSystematics.rate_sigma`; the convention of a
log-normal with kappa = 1 + sigma_rel, so a one-sigma shift multiplies the rate by
1 + sigma_rel).  A log-normal keeps the rate positive for any width.

Between hypotheses: EOT, thickness and efficiency are common to every model, the theory part
is largely common too (the same generator and form factor), but the two-hypothesis
likelihood ratio fits each hypothesis separately, so each gets its own profiled theta with
the same constraint width; the correlation between the hypotheses never enters the
statistic.  The toys are generated at the nominal theta = 1 (true hypothesis) and at the
fitted theta of the closest alternative (alternative hypothesis), with the auxiliary
measurement held at its nominal value (the constraint centred at ln theta = 0 in every toy).

Limits: sigma_rel -> 0 is the exactly tied rate (:attr:`rate_sigma` is ``None``: the fits tie
mu = R(m)); sigma_rel -> infinity frees the normalisation (shape only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from ..errors import InputError, InputTypeError
from ..validation import check_real

__all__ = [
    "COMPONENTS",
    "DEFAULT_SYSTEMATICS",
    "NO_SYSTEMATICS",
    "NormalisationSystematics",
    "parse_systematics",
]

#: Names of the components, in the order of :class:`NormalisationSystematics`.
COMPONENTS: tuple[str, ...] = ("eot", "thickness", "efficiency", "theory")

#: Largest relative uncertainty of one component accepted: beyond it the rate carries no
#: information at all (the limit tests use 1e3); it only guards against typing mistakes.
MAX_RELATIVE: float = 1.0e6


@dataclass(frozen=True)
class NormalisationSystematics:
    """Relative uncertainties on the expected signal rate (fractions: 0.05 = 5 %).

    Attributes
    ----------
    eot : float
        Electrons on target (default 0.02, an estimate; see the module table for every
        source).
    thickness : float
        Target areal density (default 0.02, an estimate).
    efficiency : float
        Signal efficiency (default 0.05, an estimate).
    theory : float
        Cross-section theory (default 0.10: Coulomb corrections missing from the generator).

    Every component is a finite number in [0, 1e6].

    Examples
    --------
    The defaults add up in quadrature to 11.5 %, a log-normal of width ln(1.115) = 0.109:

    >>> from darkmoments.stats.systematics import NormalisationSystematics
    >>> syst = NormalisationSystematics()
    >>> round(syst.sigma_rel, 4), round(syst.rate_sigma, 4)
    (0.1153, 0.1091)
    >>> round(syst.scaled(2.0).sigma_rel, 4), NormalisationSystematics(0, 0, 0, 0).rate_sigma
    (0.2307, None)
    >>> syst.components()
    {'eot': 0.02, 'thickness': 0.02, 'efficiency': 0.05, 'theory': 0.1}
    """

    eot: float = 0.02
    thickness: float = 0.02
    efficiency: float = 0.05
    theory: float = 0.10

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            value = check_real(
                f"normalisation systematic {name!r} (relative)",
                getattr(self, name),
                lo=0.0,
                hi=MAX_RELATIVE,
            )
            object.__setattr__(self, name, value)

    @property
    def sigma_rel(self) -> float:
        """Combined relative uncertainty sqrt(sum sigma_i^2) (dimensionless)."""
        return math.sqrt(sum(getattr(self, n) ** 2 for n in COMPONENTS))

    @property
    def rate_sigma(self) -> float | None:
        """Width s = ln(1 + sigma_rel) of the Gaussian constraint on ln theta; None if 0.

        ``None`` means the rate is exactly tied (no nuisance), as the ``rate_sigma``
        keyword of :func:`~darkmoments.stats.fast.profile_mass` reads it.
        """
        s = math.log1p(self.sigma_rel)
        return None if s == 0.0 else s

    def components(self) -> dict[str, float]:
        """The components as {name: relative uncertainty}."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    def summary(self) -> dict[str, Any]:
        """JSON-able record: the components, ``sigma_rel`` and ``rate_sigma``."""
        return {**self.components(), "sigma_rel": self.sigma_rel, "rate_sigma": self.rate_sigma}

    def scaled(self, factor: float) -> NormalisationSystematics:
        """Every component multiplied by ``factor`` (>= 0), e.g. for a width scan."""
        f = check_real("factor", factor, lo=0.0)
        return NormalisationSystematics(**{n: f * v for n, v in self.components().items()})


#: The documented defaults (module table): sigma_rel = 0.115.
DEFAULT_SYSTEMATICS = NormalisationSystematics()
#: No normalisation uncertainty: the rate exactly tied to the predicted coupling.
NO_SYSTEMATICS = NormalisationSystematics(0.0, 0.0, 0.0, 0.0)


def parse_systematics(text: str) -> NormalisationSystematics:
    """Parse a ``--syst`` value into :class:`NormalisationSystematics`.

    Parameters
    ----------
    text : str
        ``"default"`` (the module defaults), ``"none"`` (all zero: the rate exactly tied), or
        comma-separated ``NAME=VALUE`` pairs overriding the defaults, e.g.
        ``"eot=0.05,theory=0.2"``; names (case-insensitive) ``eot``, ``thickness``,
        ``efficiency``, ``theory``, values relative (0.05 = 5 %).

    Returns
    -------
    NormalisationSystematics

    Raises
    ------
    InputError
        Unknown or repeated names, a pair without ``=``, a value that is not a number in
        [0, 1e6].

    Examples
    --------
    >>> from darkmoments.stats.systematics import parse_systematics
    >>> parse_systematics("eot=0.05, theory=0.2")  # the other two keep their defaults
    NormalisationSystematics(eot=0.05, thickness=0.02, efficiency=0.05, theory=0.2)
    >>> parse_systematics("none").rate_sigma is None  # the rate exactly tied
    True
    >>> parse_systematics("lumi=0.1")
    Traceback (most recent call last):
    ...
    darkmoments.errors.InputError: systematics: 'lumi=0.1' is not NAME=VALUE with NAME one of ...
    """
    if not isinstance(text, str):
        raise InputTypeError(f"systematics must be a string such as 'eot=0.05', got {text!r}")
    key = text.strip().lower()
    if key == "default":
        return DEFAULT_SYSTEMATICS
    if key == "none":
        return NO_SYSTEMATICS
    values = DEFAULT_SYSTEMATICS.components()
    seen: set[str] = set()
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in COMPONENTS:
            raise InputError(
                f"systematics: {item!r} is not NAME=VALUE with NAME one of "
                f"{', '.join(COMPONENTS)} (or give 'default' or 'none')"
            )
        if name in seen:
            raise InputError(f"systematics: {name!r} given twice in {text!r}")
        seen.add(name)
        try:
            values[name] = float(value)
        except ValueError:
            raise InputError(
                f"systematics: {name} = {value.strip()!r} is not a number (relative, 0.05 = 5 %)"
            ) from None
    if not seen:
        raise InputError(f"systematics: nothing given in {text!r}")
    return NormalisationSystematics(**values)
