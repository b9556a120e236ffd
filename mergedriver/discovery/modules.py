"""Which files are migration modules: Django's loader rule, in one place.

``MigrationLoader.load_disk`` lists a migrations package with
``pkgutil.iter_modules`` and skips names starting with ``_`` or ``~``: so a
migration module is a ``*.py`` file directly in a migrations package whose
name has no dot and does not start with either (numbered or not:
``0001_initial``, ``auto_add_field``).  Discovery, the merge driver and
every hook ask here (docs/design.md, "One home for every rule").
"""
from __future__ import annotations

import posixpath
from collections.abc import Collection


def is_migration_filename(filename: str) -> bool:
    """A file name Django's loader takes as a migration module."""
    if not filename.endswith('.py'):
        return False
    stem = filename[:-3]
    return bool(stem) and '.' not in stem and stem[0] not in '_~'


def is_migration_path(
        path: str, packages: Collection[str] = frozenset(),
) -> bool:
    """A repo-relative path of a migration module: in a ``migrations``
    package, or in one of ``packages`` (configured ``migration_modules``)."""
    directory, filename = posixpath.split(path.replace('\\', '/'))
    return (
        (posixpath.basename(directory) == 'migrations' or
         directory in packages) and
        is_migration_filename(filename)
    )
