"""``python -m mergedriver.mergefile``: the merge driver's old address.

Clones set up by an older ``migmerge install`` name this module in their
``merge.migmerge.driver`` config; the driver lives in
:mod:`mergedriver.driver.mergefile` now.  Nothing else imports this.
"""
from __future__ import annotations

from mergedriver.driver.mergefile import main
from mergedriver.integration.isolation import warn_unless_isolated

if __name__ == '__main__':
    warn_unless_isolated('merge driver starts')
    raise SystemExit(main())
