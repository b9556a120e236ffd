from __future__ import annotations

from mergedriver.cli import main

raise SystemExit(main())
