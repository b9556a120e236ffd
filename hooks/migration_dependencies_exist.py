"""Fail on migration references that Django cannot satisfy.

In the index (the state being committed):

- ``dependencies`` / ``run_before`` naming a migration that does not exist
  (someone deleted ``0002`` while ``0003`` still depends on it: Django's
  ``NodeNotFoundError``), and cycles: found by the graph;
- ``replaces`` naming a migration of a project app that does not exist
  (replaced migrations deleted, ``replaces`` kept, or a typo).  Apps that
  are not in the repository are left alone: ``replaces`` naming another,
  removed app is how apps are renamed;
- a squashed migration squashed again while it still has ``replaces``:
  Django's ``squashmigrations`` refuses that ("You cannot squash squashed
  migrations!") and the loader only copes with it in some histories.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from collections.abc import Sequence

from hooks._common import run_reporting_errors
from hooks._graph import Finding
from hooks._graph import load_index_graph
from hooks._graph import report
from mergedriver.git.location import locate_clone
from mergedriver.records import MigrationInfo
from mergedriver.records import Problem

GRAPH_KINDS = frozenset(('missing-dependency', 'cycle', 'parse-error'))


@dataclasses.dataclass(frozen=True)
class Resquashed:
    """``migration`` squashes ``target``, which still has ``replaces``."""

    migration: MigrationInfo
    target: MigrationInfo
    line: int
    unusable = False

    def one_line(self) -> str:
        target = f'{self.target.app_label}.{self.target.name}'
        return (
            f'{self.migration.path}:{self.line}: '
            f'{self.migration.app_label}.{self.migration.name} squashes '
            f'{target}, which is itself a squashed migration whose replaces '
            f'were not removed ("You cannot squash squashed migrations!"): '
            f'first make {target} a normal migration (delete the '
            f'migrations it replaces and its replaces list)'
        )


def missing_replaced(migrations: Iterable[MigrationInfo]) -> list[Problem]:
    by_key = {m.key: m for m in migrations}
    apps = {key[0] for key in by_key}
    problems = []
    for migration in sorted(by_key.values(), key=lambda m: m.key):
        for entry in migration.replaces:
            if entry.app in apps and entry.key not in by_key:
                problems.append(Problem(
                    'missing-dependency',
                    f'Migration {migration.app_label}.{migration.name} '
                    f'replaces nonexistent migration {entry.key!r}: fix the '
                    f'name or, once the replaced migrations are deleted, '
                    f'remove replaces',
                    app=migration.app_label, migration=migration.name,
                    file=migration.path, line=entry.line,
                ))
    return problems


def resquashed(migrations: Iterable[MigrationInfo]) -> list[Resquashed]:
    by_key = {m.key: m for m in migrations}
    found = []
    for migration in sorted(by_key.values(), key=lambda m: m.key):
        for entry in migration.replaces:
            target = by_key.get(entry.key)
            if target is not None and target.replaces:
                found.append(Resquashed(migration, target, entry.line))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Fail on dependencies, run_before and replaces naming '
                    'migrations that do not exist, cycles, and squashes of '
                    'squashes.',
    )
    parser.add_argument(
        'filenames', nargs='*', help='ignored: the whole index is checked',
    )
    parser.parse_args(argv)

    def check() -> int:
        index = load_index_graph(locate_clone('.'))
        migrations = index.loaded.migrations
        found: list[Finding] = [
            p for p in index.problems if p.kind in GRAPH_KINDS
        ]
        found.extend(missing_replaced(migrations))
        found.extend(resquashed(migrations))
        return report(found)

    return run_reporting_errors(check)


if __name__ == '__main__':
    raise SystemExit(main())
