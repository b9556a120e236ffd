from __future__ import annotations

import pytest

from mergedriver.discovery.modules import is_migration_filename
from mergedriver.discovery.modules import is_migration_path


@pytest.mark.parametrize(
    ('filename', 'expected'),
    [
        ('0001_initial.py', True),
        ('auto_add_field.py', True),  # numbers are a convention only
        ('0001_squashed_0004_x.py', True),
        ('__init__.py', False),
        ('_helpers.py', False),
        ('~0002_backup.py', False),
        ('0002.orig.py', False),  # pkgutil lists no dotted names
        ('0002_x.pyc', False),
        ('0002_x.txt', False),
        ('.py', False),
    ],
)
def test_is_migration_filename(filename: str, expected: bool) -> None:
    assert is_migration_filename(filename) is expected


def test_is_migration_path() -> None:
    assert is_migration_path('shop/migrations/0002_x.py')
    assert is_migration_path('shop\\migrations\\0002_x.py')
    assert not is_migration_path('shop/migrations/__init__.py')
    assert not is_migration_path('shop/models/0002_x.py')
    assert not is_migration_path('0002_x.py')
    # a configured package (Django's MIGRATION_MODULES) has any name
    assert is_migration_path('shop/db_migrations/0002_x.py', {'shop/db_migrations'})
