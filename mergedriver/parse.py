"""libcst parser of record: migration module source -> MigrationInfo.

Never imports or executes the module.  (Stub: implemented by the parser work.)
"""
from __future__ import annotations

from mergedriver.records import MigrationInfo


def parse_migration(
        data: bytes, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Parse one migration module; raise ParseError on unusable input."""
    raise NotImplementedError
