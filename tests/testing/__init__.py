"""Helpers shared by the tests, one module per chore (git, migrations,
hooks, django, paths).  Fixtures live in tests/conftest.py."""
