"""Refuse migrations that mix data operations with schema operations.

On databases without transactional DDL (MySQL) a failing data step leaves
the schema changed and the migration unrecorded; on PostgreSQL a data step
inside a schema migration holds the schema locks while it runs.  Schema
first, data in its own migration.

Data operations are what the parser marks ``is_data``: ``RunPython`` and
``RunSQL`` whose SQL changes rows.  ``RunSQL`` that is only DDL is schema.
Operations inside ``SeparateDatabaseAndState`` count by what they do to the
database: ``database_operations`` like any other, ``state_operations`` not at
all (they never touch the database).

pre-commit passes the staged migration files (its stash makes the work tree
hold what is staged).  Reviewed exceptions: a ``# migmerge: allow-mixed-data``
comment in the file, or a glob in the ``allow_mixed_data`` setting.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import posixpath
import re
from collections.abc import Sequence

from hooks._common import configured_packages
from hooks._common import run_reporting_errors
from mergedriver.config import Config
from mergedriver.config import load_config
from mergedriver.discovery.modules import is_migration_path
from mergedriver.discovery.packages import glob_regex
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.git.location import locate_clone
from mergedriver.parsing.reader import read_migration
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo

PRAGMA = '# migmerge: allow-mixed-data'
PRAGMA_RE = re.compile(r'#\s*migmerge:\s*allow-mixed-data\b')
# Operations that run no SQL of their own: neither kind.
NO_DATABASE_EFFECT = frozenset(('SeparateDatabaseAndState',))


@dataclasses.dataclass(frozen=True)
class MixedMigration:
    path: str
    data: tuple[OperationInfo, ...]
    schema: tuple[OperationInfo, ...]

    def one_line(self) -> str:
        def describe(ops: tuple[OperationInfo, ...]) -> str:
            return ', '.join(f'{op.kind} (line {op.line})' for op in ops)

        return (
            f'{self.path}:{self.data[0].line}: mixes data operations '
            f'[{describe(self.data)}] with schema operations '
            f'[{describe(self.schema)}]; split it: keep the schema '
            f'operations here and move the data operations to a migration '
            f'of their own that depends on this one '
            f"(after review, '{PRAGMA}' allows it)"
        )


def is_data(op: OperationInfo) -> bool:
    # in state_operations even RunPython never runs
    return op.is_data and op.scope != 'state'


def is_schema(op: OperationInfo) -> bool:
    return (
        not op.is_data and
        op.scope != 'state' and
        op.kind not in NO_DATABASE_EFFECT
    )


def mixed(migration: MigrationInfo) -> MixedMigration | None:
    """The finding for one parsed migration, None when it is not mixed."""
    data = tuple(op for op in migration.operations if is_data(op))
    schema = tuple(op for op in migration.operations if is_schema(op))
    if data and schema:
        return MixedMigration(migration.path, data, schema)
    return None


def has_pragma(source: bytes) -> bool:
    text = source.decode('utf-8', 'replace')
    return PRAGMA_RE.search(text) is not None


def is_allowed(path: str, config: Config) -> bool:
    # the same glob rules as the ``exclude`` setting
    return any(
        glob_regex(pattern).fullmatch(path)
        for pattern in config.allow_mixed_data if pattern.strip()
    )


def is_migration_module(path: str, config: Config) -> bool:
    """A module Django would load from a migrations package."""
    return is_migration_path(path, configured_packages(config))


def check_file(path: str, source: bytes, config: Config) -> MixedMigration | None:
    """``path`` is repo-relative (posix); ``source`` the module's bytes."""
    if not is_migration_module(path, config) or is_allowed(path, config):
        return None
    if has_pragma(source):
        return None
    package = posixpath.dirname(path)
    migration = read_migration(
        source,
        # the label only names the record; the directory stands in for it
        app_label=posixpath.basename(posixpath.dirname(package)) or package,
        name=posixpath.splitext(posixpath.basename(path))[0],
        path=path,
    )
    return mixed(migration)


def _read(path: str, relative: str, top: str) -> bytes:
    try:
        return read_file(path, path=relative, top=top)
    except FileNotFoundError:
        raise MigmergeError('cannot read: no such file', path=relative)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Refuse migrations mixing data and schema operations.',
    )
    parser.add_argument('filenames', nargs='*', help='migration files')
    args = parser.parse_args(argv)

    def check() -> int:
        top = locate_clone('.').work_tree
        config = load_config(top)
        found = []
        for filename in args.filenames:
            relative = os.path.relpath(
                os.path.abspath(filename), top,
            ).replace(os.sep, '/')
            finding = check_file(
                relative, _read(filename, relative, top), config,
            )
            if finding is not None:
                found.append(finding)
        for finding in found:
            print(finding.one_line())
        return EXIT_PROBLEMS if found else EXIT_CLEAN

    return run_reporting_errors(check)


if __name__ == '__main__':
    raise SystemExit(main())
