"""Git starts migmerge isolated, never with the work tree on sys.path.

``migmerge install`` writes ``python -I -m ...`` (docs/design.md, "Never
import or execute code from the analysed repository"): without ``-I``,
Python puts the current directory, the work-tree top, first on sys.path,
and a branch that adds a ``mergedriver`` package or a module named like a
standard-library one would run on every merge and commit.  A leaf module:
the merge driver imports it on every call.
"""
from __future__ import annotations

import sys


def warn_unless_isolated(what: str) -> None:
    """``what``: 'hooks start', 'merge driver starts'.  A hook or driver
    started without ``-I`` was written by an older
    ``migmerge install``: Python had the work tree on sys.path, so a branch
    could run code through us."""
    if not sys.flags.isolated:
        print(
            f'migmerge: this clone\'s {what} Python with the work '
            f'tree on sys.path; run `migmerge install` again',
            file=sys.stderr,
        )
