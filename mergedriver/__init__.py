"""migmerge: static analysis and resolution of Django migration conflicts."""
from __future__ import annotations
