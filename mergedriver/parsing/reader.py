"""Read a migration module: the :mod:`ast` fast path, libcst when needed.

Both give identical records (tests/corpus_test.py checks every migration of
the real-package corpus); libcst, the parser of record, is imported only when
the running Python cannot parse the source, so a warm run never loads it.
"""
from __future__ import annotations

from mergedriver.parsing import ast_frontend
from mergedriver.records import MigrationInfo


def read_migration(
        data: bytes, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Parse one migration module; raise ParseError on unusable input."""
    try:
        return ast_frontend.parse_migration(
            data, app_label=app_label, name=name, path=path,
        )
    except ast_frontend.FastPathUnavailable:
        # libcst: slow to import, rarely needed
        from mergedriver.parsing import libcst_frontend

        return libcst_frontend.parse_migration(
            data, app_label=app_label, name=name, path=path,
        )
