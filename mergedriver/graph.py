"""Django's migration graph, built statically with MigrationLoader's rules.

(Stub: implemented by the graph work.)
"""
from __future__ import annotations
