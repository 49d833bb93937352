"""``darkmoments xsec`` and ``darkmoments generate`` (filled in with the generator)."""

from __future__ import annotations

__all__: list[str] = []
