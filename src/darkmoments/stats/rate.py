"""The rate as information: discrimination with shape only and with shape + rate.

With a free normalisation (:class:`~darkmoments.stats.toys.DiscriminationSetup` without
rates) only the shapes of the recoil-lepton distributions discriminate: the total count
carries no model information.  When each hypothesis predicts its coupling (the relic target,
:func:`~darkmoments.stats.toys.relic_setup`, or couplings given by the user,
:func:`coupling_setup`), it predicts the rate too, N(m) = g^2 N_1(m), known up to the
normalisation systematics (:mod:`darkmoments.stats.systematics`).  The paper (section 4.4)
separates km from cr/am that way: their shapes are identical, their relic-target rates not.

:func:`discriminate_shape_and_rate` runs the toys of both statistics on the same grids and the
same true expected events:

* shape only: normalisation free (t_A exactly proportional to N, N_Z = Z^2 N / t_A);
* shape + rate: mu = theta R(m), theta log-normal with the systematics' width, profiled per
  toy and hypothesis.

For the Asimov data of the true hypothesis (at theta = 1) the shape + rate t_A is never below
the shape-only one (the tied fit is the free fit with a constraint added), it tends to the
shape-only value as the systematics width grows and to the exactly tied value as it vanishes
(tested).  The events needed for Z sigma (:func:`events_for_significance`) scale both
hypotheses' rates together (more electrons on target): t_A(k) = min_theta [k D(theta) +
(ln theta)^2 / s^2] grows with the scale k but not in proportion, so N_Z is found by root
finding.  At small k the constraint term dominates and t_A(k) ~ k t_A(exactly tied): with a
rate difference well beyond the systematics, few events suffice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..models import check_coupling
from .fast import P_FLOOR
from .shapes import ShapeGrid
from .systematics import NormalisationSystematics
from .toys import (
    DiscriminationResult,
    DiscriminationSetup,
    events_for_significance,
    run_discrimination,
)

__all__ = [
    "ShapeAndRate",
    "coupling_setup",
    "discriminate_shape_and_rate",
    "discrimination_setup",
    "events_for_significance",
    "shape_only",
    "with_background",
]

#: Statistic names of the two reports (``statistic`` key of the JSON records).
SHAPE = "shape"
SHAPE_RATE = "shape+rate"


def coupling_setup(
    true_grid: ShapeGrid,
    alt_grid: ShapeGrid,
    true_mass: float,
    *,
    true_coupling: float,
    alt_coupling: float,
    systematics: NormalisationSystematics | None = None,
    refine: bool = True,
    p_floor: float = P_FLOOR,
) -> DiscriminationSetup:
    """A setup with each model's rate tied to a coupling the user gives.

    N(m) = g^2 N_1(m) under each hypothesis, g constant in m, in the model's own units
    (km: epsilon, dimensionless; md, ed: GeV^-1; cr, am: GeV^-2; ``darkmoments.models``).
    Every grid mass is usable (no relic target is needed).

    Parameters
    ----------
    true_grid, alt_grid : ShapeGrid
        Shapes with ``n1`` (expected events at unit coupling).
    true_mass : float
        True A' mass in GeV (inside the true grid).
    true_coupling, alt_coupling : float
        g_f > 0 of the true and the alternative model, in their units.
    systematics : NormalisationSystematics, optional
        Normalisation systematics (None: exactly tied).
    refine : bool
        Continuous mass refinement.
    p_floor : float
        Floor on the template probabilities.

    Returns
    -------
    DiscriminationSetup

    Examples
    --------
    km at 0.1 GeV with epsilon = 2.6e-5 (50 events at LDMX Phase II) against md.  With a
    free normalisation md mimics the recoil-energy spectrum at 0.49 GeV (t_A = 3.7).  If md
    must have mu/e = 2.67e-4 GeV^-1 (the same 50 events at 0.1 GeV), it predicts only 3.6
    events at 0.49 GeV: its best point moves to 0.11 GeV and t_A rises to 12.8 (12.6 with
    the default 11.5 % rate systematics).  With mu/e = 1e-3 GeV^-1 the rate matches at the
    mimic mass and adds nothing:

    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.rate import coupling_setup, shape_only
    >>> from darkmoments.stats.systematics import DEFAULT_SYSTEMATICS
    >>> from darkmoments.stats.toys import alternative_point
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> tied = coupling_setup(km, md, 0.1, true_coupling=2.6e-5, alt_coupling=2.67e-4)
    >>> round(tied.n_events, 1), [round(x, 2) for x in alternative_point(shape_only(tied))]
    (50.1, [0.49, 50.1, 3.66])
    >>> [round(x, 2) for x in alternative_point(tied)]  # GeV, events, t_A
    [0.11, 45.62, 12.8]
    >>> syst = coupling_setup(km, md, 0.1, true_coupling=2.6e-5, alt_coupling=2.67e-4,
    ...                       systematics=DEFAULT_SYSTEMATICS)
    >>> round(alternative_point(syst)[2], 1)
    12.6
    >>> other = coupling_setup(km, md, 0.1, true_coupling=2.6e-5, alt_coupling=1e-3)
    >>> round(alternative_point(other)[2], 2)
    3.66
    """
    rates = []
    for g, c, who in ((true_grid, true_coupling, "true"), (alt_grid, alt_coupling, "alt")):
        c = check_coupling(c, name=f"{who}_coupling (model {g.model})")
        if g.n1 is None:
            raise InputError(f"shape grid of model {g.model} has no event rates (n1)")
        rates.append(c**2 * g.n1)
    m = true_grid.check_mass(true_mass)
    n_true = _tied_rate(true_grid, rates[0], m)
    return DiscriminationSetup(
        true_grid, alt_grid, m, n_true, rates[0], rates[1], refine, p_floor, systematics
    )


def discrimination_setup(
    true_model: str,
    true_mass: float,
    alt_model: str,
    experiment: Any = "ldmx-phase2",
    *,
    observables: str = "E,pt",
    level: str = "truth",
    directory: str | None = None,
    n_events: float | None = None,
    couplings: dict[str, float] | None = None,
    relic: bool = False,
    coupling_factor: float = 1.0,
    systematics: NormalisationSystematics | None = None,
    p_floor: float = P_FLOOR,
    background: Any = None,
    background_uncertainty: float | None = None,
) -> DiscriminationSetup:
    """The discrimination problem of a true (model, mass) against an alternative model.

    The shapes of both models at ``level`` (:func:`darkmoments.stats.inputs.load_grid_at`:
    ``"truth"``, the paper's, or ``"detector"``, ``<experiment>.detector.h5``, whose rates
    carry the detector selection and acceptance efficiency), and exactly one way to set the
    signal: ``n_events`` (free normalisation, shape only), ``couplings`` (rates tied,
    :func:`coupling_setup`) or ``relic`` (rates tied to ``coupling_factor`` times the relic
    targets, :func:`~darkmoments.stats.toys.relic_setup`).

    Parameters
    ----------
    true_model, alt_model : str
        Model ids.
    true_mass : float
        True A' mass in GeV.
    experiment : str or Experiment
        Experiment name, TOML path or Experiment.
    observables : str
        ``"E,pt"``, ``"E"`` or ``"pt"``.
    level : str
        Template level.
    directory : str, optional
        Template directory.
    n_events : float, optional
        Expected signal events of the true hypothesis (normalisation free).
    couplings : dict, optional
        ``{model: g}`` for the true and the alternative model (their units).
    relic : bool
        Tie the rates to the relic targets.
    coupling_factor : float
        With ``relic``: couplings = factor x relic-target coupling.
    systematics : NormalisationSystematics, optional
        Normalisation systematics of tied rates (None: exactly tied).
    p_floor : float
        Floor of the plain deviance (:class:`~darkmoments.stats.toys.DiscriminationSetup`).
    background : Background, path, array or number, optional
        The background of both hypotheses (:func:`darkmoments.stats.inputs.
        resolve_background`; None: the experiment's ``[background]`` at ``level``, none for
        the shipped setups), projected on the observables; its normalisation uncertainty a
        log-normal nuisance of each fit (:func:`with_background`).
    background_uncertainty : float, optional
        Relative background normalisation uncertainty (overrides the background's own).

    Returns
    -------
    DiscriminationSetup

    Examples
    --------
    The three ways to set the signal, on the shipped LDMX Phase II energy templates
    (``relic=True`` ties both rates to the relic targets instead; km at 0.1 GeV then
    expects 2128 events):

    >>> from darkmoments.stats.rate import discrimination_setup
    >>> free = discrimination_setup("km", 0.1, "md", observables="E", n_events=50.0)
    >>> free.n_events, free.rates_true is None
    (50.0, True)
    >>> tied = discrimination_setup("km", 0.1, "md", observables="E",
    ...                             couplings={"km": 2.6e-5, "md": 2.67e-4})
    >>> round(tied.n_events, 1), tied.rates_alt is not None
    (50.1, True)
    >>> bkg = discrimination_setup("km", 0.1, "md", observables="E", n_events=50.0,
    ...                            background=20.0, background_uncertainty=0.2)
    >>> round(float(bkg.background.sum()), 9), round(bkg.background_sigma, 4)  # ln(1.2)
    (20.0, 0.1823)
    """
    from .inputs import background_sigma, load_grid_at, project_background, resolve_background

    given = [n_events is not None, couplings is not None, bool(relic)]
    if sum(given) != 1:
        raise InputError("give exactly one of n_events, couplings or relic=True")
    opts: dict[str, Any] = {"level": level, "directory": directory}
    gt = load_grid_at(true_model, experiment, observables, **opts)
    ga = load_grid_at(alt_model, experiment, observables, **opts)
    bkg = resolve_background(
        experiment, level, background=background, uncertainty=background_uncertainty
    )
    setup = _signal_setup(
        gt, ga, true_mass, n_events, couplings, coupling_factor, systematics, p_floor
    )
    b = project_background(bkg, observables)
    if bkg is None or b is None or float(b.sum()) <= 0:
        return setup
    return with_background(setup, b, background_sigma(bkg.normalisation_uncertainty))


def _signal_setup(
    gt: ShapeGrid,
    ga: ShapeGrid,
    true_mass: float,
    n_events: float | None,
    couplings: dict[str, float] | None,
    coupling_factor: float,
    systematics: NormalisationSystematics | None,
    p_floor: float,
) -> DiscriminationSetup:
    """The setup of :func:`discrimination_setup` before any background."""
    from .toys import relic_setup

    if n_events is not None:
        return DiscriminationSetup(gt, ga, true_mass, n_events, p_floor=p_floor)
    if couplings is None:
        return relic_setup(
            gt,
            ga,
            true_mass,
            coupling_factor=coupling_factor,
            systematics=systematics,
            p_floor=p_floor,
        )
    return coupling_setup(
        gt,
        ga,
        true_mass,
        true_coupling=couplings[gt.model],
        alt_coupling=couplings[ga.model],
        systematics=systematics,
        p_floor=p_floor,
    )


def with_background(
    setup: DiscriminationSetup, background: Any, background_sigma: float | None = None
) -> DiscriminationSetup:
    """``setup`` with a background under both hypotheses.

    Each hypothesis then expects signal + theta_b x background per bin, theta_b a log-normal
    nuisance of width ``background_sigma`` (s_b = ln(1 + sigma_b),
    :func:`darkmoments.stats.inputs.background_sigma`; None: theta_b = 1) profiled per toy
    and hypothesis; the fits are :func:`~darkmoments.stats.fast.profile_mass` with
    ``background`` (Barlow-Beeston for the template with a known background per bin: the
    closed-form quadratic for each bin's nuisance).

    Parameters
    ----------
    setup : DiscriminationSetup
        Any setup (free or tied rates).
    background : ndarray, shape (n_bins,)
        Expected background events per bin of the setup's observables.
    background_sigma : float, optional
        Width of the log-normal normalisation nuisance.

    Returns
    -------
    DiscriminationSetup

    Examples
    --------
    20 background events spread evenly over the 40 energy bins (known to 20 %) dilute the
    km-md separation of 50 signal events at 0.1 GeV from t_A = 3.66 to 2.24:

    >>> import numpy as np
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.rate import with_background
    >>> from darkmoments.stats.toys import DiscriminationSetup, alternative_point
    >>> km, md = load_grid("km", observables="E"), load_grid("md", observables="E")
    >>> setup = DiscriminationSetup(km, md, 0.1, 50.0)
    >>> round(alternative_point(setup)[2], 2)
    3.66
    >>> noisy = with_background(setup, np.full(40, 0.5), np.log(1.2))
    >>> round(alternative_point(noisy)[2], 2)
    2.24
    """
    import dataclasses

    changes: dict[str, Any] = {"background": background, "background_sigma": background_sigma}
    return dataclasses.replace(setup, **changes)


def _tied_rate(grid: ShapeGrid, rates: Any, mass: float) -> float:
    """The tied rate at ``mass`` (GeV): :meth:`ShapeGrid.rate_of` (the fits' spline in ln m)."""
    return grid.rate_of(rates, mass)


def shape_only(setup: DiscriminationSetup) -> DiscriminationSetup:
    """The same problem (grids, true mass, true events, background), normalisation free.

    Parameters
    ----------
    setup : DiscriminationSetup
        Any setup.

    Returns
    -------
    DiscriminationSetup
        Without rates and systematics.

    Examples
    --------
    >>> from darkmoments.stats import load_grid
    >>> from darkmoments.stats.rate import coupling_setup, shape_only
    >>> tied = coupling_setup(load_grid("km", observables="E"), load_grid("md", observables="E"),
    ...                       0.1, true_coupling=2.6e-5, alt_coupling=2.67e-4)
    >>> free = shape_only(tied)
    >>> free.rates_true is None, free.n_events == tied.n_events
    (True, True)
    """
    import dataclasses

    return dataclasses.replace(setup, rates_true=None, rates_alt=None, systematics=None)


@dataclass(frozen=True)
class ShapeAndRate:
    """Discrimination of one pair with shape only and with shape + rate.

    Attributes
    ----------
    shape : DiscriminationResult
        Normalisation free, at the true hypothesis' predicted events.
    shape_rate : DiscriminationResult
        Rates tied to the predicted couplings with the normalisation systematics.
    systematics : NormalisationSystematics or None
        The systematics of ``shape_rate`` (None: exactly tied).
    n_3sigma, n_5sigma : float or None
        Events for Z_A = 3, 5 with shape + rate (:func:`events_for_significance`: both rates
        scaled together); the shape-only values are ``shape.n_3sigma``, ``shape.n_5sigma``.

    Examples
    --------
    Made by :func:`discriminate_shape_and_rate` (which runs the toys); its records carry
    the keys of :meth:`~darkmoments.stats.toys.DiscriminationResult.summary` and:

    >>> from darkmoments.stats.rate import SHAPE, SHAPE_RATE, ShapeAndRate
    >>> SHAPE, SHAPE_RATE, list(ShapeAndRate.__dataclass_fields__)[2:]
    ('shape', 'shape+rate', ['systematics', 'n_3sigma', 'n_5sigma'])
    """

    shape: DiscriminationResult
    shape_rate: DiscriminationResult
    systematics: NormalisationSystematics | None
    n_3sigma: float | None
    n_5sigma: float | None

    def records(self) -> list[dict[str, Any]]:
        """JSON records: shape only, then shape + rate (``statistic``, ``systematics``).

        The keys of :meth:`DiscriminationResult.summary`, plus ``statistic`` (``"shape"`` or
        ``"shape+rate"``) and ``systematics`` (None for shape only; else the components,
        ``sigma_rel`` and ``rate_sigma``); ``n_3sigma``/``n_5sigma`` of the shape + rate
        record are the luminosity-scaled events.
        """
        syst = None if self.systematics is None else self.systematics.summary()
        shape = {**self.shape.summary(), "statistic": SHAPE, "systematics": None}
        rate = {
            **self.shape_rate.summary(),
            "statistic": SHAPE_RATE,
            "systematics": syst,
            "n_3sigma": self.n_3sigma,
            "n_5sigma": self.n_5sigma,
        }
        return [shape, rate]


def discriminate_shape_and_rate(
    setup: DiscriminationSetup,
    n_toys: int,
    *,
    seed: int = 0,
    out_dirs: tuple[Any, Any] | None = None,
    **options: Any,
) -> ShapeAndRate:
    """Discrimination toys with shape only and with shape + rate, for one tied setup.

    Parameters
    ----------
    setup : DiscriminationSetup
        With tied rates (:func:`~darkmoments.stats.toys.relic_setup` or
        :func:`coupling_setup`) and optionally ``systematics``.
    n_toys : int
        Toys per hypothesis and statistic.
    seed : int
        Root seed, the same for both statistics (so the true toys are the same counts).
    out_dirs : (path, path), optional
        Checkpoint directories of the shape-only and the shape + rate runs.
    **options
        Further keywords of :func:`~darkmoments.stats.toys.run_discrimination` (``workers``,
        ``chunk_size``, ``scheduler``, ``resume``, ``progress``).

    Returns
    -------
    ShapeAndRate

    Examples
    --------
    The paper's km-cr separation: identical shapes, different relic-target rates.  km at
    0.0915 GeV (a grid node) at 0.3 times its relic coupling (201 events, LDMX Phase II,
    recoil energy) against cr at 0.3 times its relic coupling, with the default rate
    systematics; to keep the example fast the grid is cut to 0.03-0.6 GeV and the masses
    are profiled over its nodes (``refine=False``).  Shape only t_A = 0.016 (template
    noise: ``template_limited``); with the rate, cr has to move to 0.31 GeV to match the
    count and t_A = 7.0 (Z_A = 2.6); 263 events give 3 sigma:

    >>> from darkmoments.stats import ShapeGrid, load_grid
    >>> from darkmoments.stats.rate import discriminate_shape_and_rate
    >>> from darkmoments.stats.systematics import DEFAULT_SYSTEMATICS
    >>> from darkmoments.stats.toys import relic_setup
    >>> def window(g, lo=0.03, hi=0.6):
    ...     k = (g.masses > lo) & (g.masses < hi)
    ...     return ShapeGrid(g.model, g.masses[k], g.probs[k], g.variances[k], g.n1[k],
    ...                      g.observables)
    >>> km, cr = (window(load_grid(m, observables="E")) for m in ("km", "cr"))
    >>> setup = relic_setup(km, cr, 0.0915067, coupling_factor=0.3,
    ...                     systematics=DEFAULT_SYSTEMATICS, refine=False)
    >>> round(setup.n_events)
    201
    >>> res = discriminate_shape_and_rate(setup, 30, seed=1, identity_resamples=20,
    ...                                   band_resamples=10)
    >>> shape, rate = res.records()
    >>> shape["statistic"], round(shape["t_asimov"], 3), shape["template_limited"]
    ('shape', 0.016, True)
    >>> rate["statistic"], round(rate["t_asimov"], 1), round(rate["z_asimov"], 1)
    ('shape+rate', 7.0, 2.6)
    >>> rate["alt_mass"], rate["null"], round(res.n_3sigma)
    (0.313613, 'poisson', 263)
    """
    if setup.rates_true is None:
        raise InputError(
            "shape + rate needs rates tied to predicted couplings (relic_setup or "
            "coupling_setup); a free normalisation has no rate information"
        )
    dirs = out_dirs if out_dirs is not None else (None, None)
    free = shape_only(setup)
    shape = run_discrimination(free, n_toys, seed=seed, out_dir=dirs[0], **options)
    tied = run_discrimination(setup, n_toys, seed=seed, out_dir=dirs[1], **options)
    return ShapeAndRate(
        shape=shape,
        shape_rate=tied,
        systematics=setup.systematics,
        n_3sigma=events_for_significance(setup, 3.0),
        n_5sigma=events_for_significance(setup, 5.0),
    )
