"""Pure, vectorised physics kernels (no I/O, no global state).

Modules: :mod:`.kinematics` (phase-space maps, boosts), :mod:`.amplitudes` (spin-summed
|M|^2 for the five vertices), :mod:`.form_factors` (nuclear G2), :mod:`.analytic`
(Weizsacker-Williams approximations of the paper's section 4.1).
"""

__all__: list[str] = []
