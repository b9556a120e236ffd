"""migmerge: static analysis and resolution of Django migration conflicts."""
from __future__ import annotations

# The one place the version is written (setup.cfg reads it from here).
__version__ = '0.1.0'
