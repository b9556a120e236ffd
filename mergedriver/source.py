"""Find migration packages and read their modules from a git tree.

A tree is the work tree, the index, any commit, or a plain directory (for
installed packages).  (Stub: implemented by the source work.)
"""
from __future__ import annotations
