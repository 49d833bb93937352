"""File formats of darkmoments (templates, event samples).

Sub-modules are imported explicitly (``from darkmoments.io import templates_io``) so that
importing one format never pulls in the dependencies of another.
"""

from __future__ import annotations

__all__: list[str] = []
