"""pre-commit hooks, one module per hook."""
from __future__ import annotations
