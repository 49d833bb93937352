"""Package version (single source: read by hatchling's version from pyproject)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
