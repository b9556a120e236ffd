"""``python -m mergedriver.githooks``: the git hooks' old address.

Hook scripts written by an older ``migmerge install`` run this module; the
hooks live in :mod:`mergedriver.integration.githooks` now.  Nothing else
imports this.
"""
from __future__ import annotations

from mergedriver.integration.githooks import main

if __name__ == '__main__':
    raise SystemExit(main())
