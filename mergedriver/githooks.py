"""``python -m mergedriver.githooks``: the git hooks' old address.

Hook scripts written by an older ``migmerge install`` run this module; the
hooks live in :mod:`mergedriver.integration.githooks` now.  Nothing else
imports this.
"""
from __future__ import annotations

from mergedriver.integration.githooks import main
from mergedriver.integration.isolation import warn_unless_isolated

if __name__ == '__main__':
    warn_unless_isolated('hooks start')
    raise SystemExit(main())
