"""Where the tests' data lives, computed once here so a test module can
move between folders without its paths changing."""
from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
# the checkout: what pre-commit clones and what a subprocess needs on
# PYTHONPATH to import `hooks` and `mergedriver` from source
CHECKOUT = TESTS.parent
FIXTURES = TESTS / 'fixtures'
SCENARIOS = TESTS / 'scenarios'
