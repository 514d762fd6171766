"""ansflow-jupyter: live CI/CD-style pipelines inside Jupyter."""

from __future__ import annotations

__version__ = "0.1.0"
