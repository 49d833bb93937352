"""The paper's figures 1-6 and our studies, reproduced from the shipped data in one run.

:func:`reproduce` (``darkmoments reproduce``) writes every figure as PNG and PDF with the
numbers behind it as CSV, and ``report.md`` / ``report.html`` with one paragraph per figure.
The computations are the jobs of :mod:`.paper` (figures 1-6) and :mod:`.ours` (degeneracy,
discrimination, relic targets, sigma(m_A')); they use the public library API and return
tables, which :mod:`darkmoments.plotting` draws.  Needs the ``plot`` extra.
"""

from __future__ import annotations

from .runner import JOBS, reproduce, select_jobs

__all__ = ["JOBS", "reproduce", "select_jobs"]
