"""Keep ``<app>/migrations/max_migration.txt`` equal to the app's leaf.

Two branches that each add a migration both change this one-line file, so
git reports a textual conflict at merge time instead of a silent second
leaf.  The file is django-linear-migrations' own (same name, same place,
the leaf's name and a newline), so teams can switch either way.

A fixer, like pre-commit's own: it writes the files that are missing or out
of date and exits 1 so that pre-commit reports "files were modified by this
hook"; the user reviews and stages them.  The leaves are those of the index
(the state being committed).  An app with several leaves is not touched:
which name belongs in the file is what ``migmerge resolve`` decides.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence

from hooks._common import run_reporting_errors
from hooks._graph import IndexGraph
from hooks._graph import load_index_graph
from mergedriver.driver.lockfiles import check_max_migration
from mergedriver.driver.lockfiles import MAX_MIGRATION_FILENAME
from mergedriver.driver.lockfiles import MaxMigrationOk
from mergedriver.driver.lockfiles import render_max_migration
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.files import write_atomic
from mergedriver.git.location import locate_clone

LOCKFILE = MAX_MIGRATION_FILENAME


@dataclasses.dataclass(frozen=True)
class Lockfile:
    app: str
    path: str  # repo-relative, posix
    leaves: tuple[str, ...]
    names: frozenset[str]  # every migration of the app

    @property
    def expected(self) -> str:
        return render_max_migration(self.leaves[0])


def lockfiles(index: IndexGraph) -> list[Lockfile]:
    """One per app that has migrations and a known graph."""
    graph = index.graph.graph
    skipped = graph.unknown_apps | graph.broken_apps
    found = []
    for app, package in sorted(index.loaded.packages.items()):
        leaves = tuple(name for _, name in graph.leaf_nodes(app))
        if leaves and app not in skipped:
            names = frozenset(n for a, n in graph.migrations if a == app)
            found.append(Lockfile(app, f'{package}/{LOCKFILE}', leaves, names))
    return found


def _read(top: str, path: str) -> str | None:
    """The lock file at repo-relative ``path``; None when there is none.
    Never through a symbolic link (nor replacing one), never a FIFO or a
    huge file: those are errors (exit 2)."""
    full = os.path.join(top, *path.split('/'))
    try:
        data = read_file(full, path=path, top=top)
    except FileNotFoundError:
        if os.path.lexists(full):  # a dangling symbolic link
            raise MigmergeError(
                'symbolic link: migmerge never reads or replaces one',
                path=path,
            )
        return None
    # universal newlines, as a text-mode read gives them
    text = data.decode('utf-8', 'replace')
    return text.replace('\r\n', '\n').replace('\r', '\n')


def sync(top: str, wanted: Sequence[Lockfile]) -> list[str]:
    """Fix what is out of date; the lines to print."""
    lines = []
    for lock in wanted:
        if len(lock.leaves) > 1:
            lines.append(
                f'{lock.path}: not updated: {lock.app} has '
                f'{len(lock.leaves)} leaves ({", ".join(lock.leaves)}); '
                f"run 'migmerge resolve'",
            )
            continue
        full = os.path.join(top, *lock.path.split('/'))
        current = _read(top, lock.path)
        status = check_max_migration(
            current,
            path=lock.path,
            app_label=lock.app,
            migration_names=lock.names,
            leaf=lock.leaves[0],
        )
        if isinstance(status, MaxMigrationOk) and current == lock.expected:
            continue
        write_atomic(full, lock.expected, like=full if os.path.exists(full) else None)
        if isinstance(status, MaxMigrationOk):  # right name, other bytes
            lines.append(f'{lock.path}:1: normalized to {lock.leaves[0]!r}')
        else:
            lines.append(f'{status.one_line()} Fixed.')
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f'Keep each app\'s migrations/{LOCKFILE} equal to its '
                    f'leaf migration.',
    )
    parser.add_argument(
        'filenames', nargs='*', help='ignored: the whole index is checked',
    )
    parser.parse_args(argv)

    def check() -> int:
        clone = locate_clone('.')
        lines = sync(clone.work_tree, lockfiles(load_index_graph(clone)))
        for line in lines:
            print(line)
        return EXIT_PROBLEMS if lines else EXIT_CLEAN

    return run_reporting_errors(check)


if __name__ == '__main__':
    raise SystemExit(main())
