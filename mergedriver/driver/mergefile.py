"""``migmerge merge-file %O %A %B %P %L``: the git merge driver.

Git calls it for a path both sides changed (docs/design.md, "Facts about git"); the result
goes into ``%A``.  Exit 0: clean, git takes ``%A``.  Exit 1: ``%A`` holds
conflict markers, like git's own text merge.

- Lock files (django-linear-migrations' ``max_migration.txt``, Sentry-style
  ``migrations_lockfile.txt``): each app's entry becomes what the hooks will
  make the app's leaf.  During ``git merge`` (git exports ``GITHEAD_<oid>``)
  that is the merge migration of both leaves, named by Django's rule
  (``naming.merge_migration_name``); the ``pre-merge-commit`` / ``pre-commit``
  hook then writes that migration.  During ``git rebase`` ours (``%A``) is
  upstream, which never moves, and theirs is the commit being replayed:
  theirs' leaf renumbered after ours', which the ``post-rewrite`` hook then
  makes true.  A name the hooks end up choosing differently (a timestamp
  name across a minute boundary) is corrected when they update the lock
  files.  A virtual merge base holding conflict markers (criss-cross
  merges, plain or diff3 style) is read through ``lockfiles.split_conflict``.
- Migration modules changed on both sides: ``dependencies`` united and
  ``operations`` merged when the edits are disjoint (``modulemerge``).
- Anything else, and anything unexpected: ``git merge-file`` leaves the
  usual conflict markers.  The driver never crashes and replaces ``%A``
  atomically, so git never reads a half-written file.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import subprocess
import sys
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Literal
from typing import TextIO

from mergedriver.discovery.modules import is_migration_path
from mergedriver.driver import lockfiles
from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.files import write_atomic
from mergedriver.git import state
from mergedriver.git.runner import run_git_text
from mergedriver.integration.isolation import warn_unless_isolated
from mergedriver.naming import merge_migration_name
from mergedriver.naming import parse_number
from mergedriver.naming import renumbered_name

Mode = Literal['merge', 'rebase']


@dataclasses.dataclass(frozen=True)
class Sides:
    base: str | None  # None: no common version (added on both sides)
    ours: str
    theirs: str


# ------------------------------------------------------------ pure parts


def resolve_entry(
        base: frozenset[str],
        ours: str | None,
        theirs: str | None,
        *,
        mode: Mode,
        now: datetime.datetime,
) -> str | None:
    """One app's lock-file entry after the merge or rebase.

    ``base`` holds the names the base had (several when it held conflict
    markers, none when unknown).  None: the app is in neither side.
    """
    if ours == theirs or theirs is None or theirs in base:
        return ours
    if ours is None or ours in base:
        return theirs
    if mode == 'merge':
        return merge_migration_name((ours, theirs), now=now)
    ours_number = parse_number(ours)
    if ours_number is None:
        raise MigmergeError(f'cannot place {theirs!r} after {ours!r}: no number')
    # The replayed commit may add several migrations: keep its distance
    # from the base (renumbering moves the whole chain).
    base_numbers = [n for n in map(parse_number, base) if n is not None]
    theirs_number = parse_number(theirs)
    step = 1
    if base_numbers and theirs_number is not None:
        step = max(1, theirs_number - max(base_numbers))
    return renumbered_name(theirs, ours_number + step)


def _sides(text: str, *, path: str, marker_size: int) -> list[str]:
    """A base text, or every side of it when it holds conflict markers.

    A virtual merge base (criss-cross history) holds markers 2 longer per
    level of recursion than the outer merge's ``%L``.
    """
    for size in (marker_size, marker_size + 2, marker_size + 4):
        split = lockfiles.split_conflict(text, path=path, marker_size=size)
        if split is not None:
            return [
                t for t in (split.ours, split.base, split.theirs)
                if t is not None
            ]
    return [text]


def merge_max_migration(
        sides: Sides,
        *,
        path: str,
        mode: Mode,
        now: datetime.datetime,
        marker_size: int = lockfiles.DEFAULT_MARKER_SIZE,
) -> str:
    ours, theirs = (
        lockfiles.parse_max_migration(text, path=path, marker_size=marker_size)
        for text in (sides.ours, sides.theirs)
    )
    base: set[str] = set()
    if sides.base is not None:
        for text in _sides(sides.base, path=path, marker_size=marker_size):
            try:
                base.add(lockfiles.parse_max_migration(text, path=path))
            except MigmergeError:
                pass  # an unreadable base only means "unknown"
    name = resolve_entry(frozenset(base), ours, theirs, mode=mode, now=now)
    assert name is not None
    return lockfiles.render_max_migration(name)


def merge_lockfile(
        sides: Sides,
        *,
        path: str,
        mode: Mode,
        now: datetime.datetime,
        marker_size: int = lockfiles.DEFAULT_MARKER_SIZE,
) -> str:
    ours = lockfiles.parse_lockfile(sides.ours, path=path, marker_size=marker_size)
    theirs = lockfiles.parse_lockfile(sides.theirs, path=path, marker_size=marker_size)
    bases: list[lockfiles.Lockfile] = []
    if sides.base is not None:
        for text in _sides(sides.base, path=path, marker_size=marker_size):
            try:
                bases.append(lockfiles.parse_lockfile(text, path=path))
            except MigmergeError:
                pass
    ours_map, theirs_map = ours.as_dict(), theirs.as_dict()
    updates = {}
    for app in sorted(set(ours_map) | set(theirs_map)):
        base = frozenset(
            name for b in bases
            for name in (b.get(app),) if name is not None
        )
        name = resolve_entry(
            base, ours_map.get(app), theirs_map.get(app), mode=mode, now=now,
        )
        if name is not None:
            updates[app] = name
    # An app one side removed stays removed.
    removed = {
        app for b in bases for app in b.as_dict()
        if (app not in ours_map) != (app not in theirs_map)
    }
    entries = tuple(sorted(
        (app, name) for app, name in updates.items() if app not in removed
    ))
    return lockfiles.render_lockfile(dataclasses.replace(ours, entries=entries))


def lock_kind(path: str) -> str | None:
    name = path.replace('\\', '/').rpartition('/')[2]
    if name == lockfiles.MAX_MIGRATION_FILENAME:
        return 'max_migration'
    if name == lockfiles.LOCKFILE_FILENAME:
        return 'lockfile'
    return None


# ------------------------------------------------------------------ I/O


def _git_dir() -> str | None:
    proc = run_git_text('.', 'rev-parse', '--absolute-git-dir')
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def detect_mode(environ: Mapping[str, str], git_dir: str | None) -> Mode | None:
    """'merge' during ``git merge``, 'rebase' while a rebase replays commits,
    None for anything else (stash, checkout -m, cherry-pick...)."""
    if state.in_git_merge(environ):
        return 'merge'
    if git_dir is not None and state.rebasing(git_dir):
        return 'rebase'
    return None


def _read(path: str) -> str:
    # git's temporary files, through the guarded reader like every file
    # migmerge reads: too large (or anything odd) merges as text.
    try:
        return read_file(path).decode('utf-8')
    except UnicodeDecodeError as e:
        raise MigmergeError(f'not UTF-8 ({e.reason})', path=path)


def text_merge(base: str, ours: str, theirs: str, marker_size: int) -> int:
    """git's own three-way text merge into ``ours``; the conflict count."""
    style = run_git_text(
        '.', 'config', '--get', 'merge.conflictStyle',
    ).stdout.strip()
    argv = ['git', 'merge-file', f'--marker-size={marker_size}']
    if style in ('diff3', 'zdiff3'):
        argv.append(f'--{style}')
    argv += ['-L', 'ours', '-L', 'base', '-L', 'theirs', ours, base, theirs]
    status = subprocess.run(argv).returncode
    return 0 if status == 0 else 1


def structured_merge(
        base: str, ours: str, theirs: str, *, path: str, mode: Mode | None,
        marker_size: int, now: datetime.datetime,
) -> str | None:
    """The merged text, or None when git's text merge must decide."""
    kind = lock_kind(path)
    sides = Sides(base=base or None, ours=ours, theirs=theirs)
    if kind is not None:
        if mode is None:
            return None
        merge = merge_max_migration if kind == 'max_migration' else merge_lockfile
        return merge(sides, path=path, mode=mode, now=now, marker_size=marker_size)
    if is_migration_path(path):
        # libcst is imported only for modules, never for lock files
        from mergedriver.driver.modulemerge import merge_module
        return merge_module(base, ours, theirs)
    return None


def merge_file(
        base_path: str,
        ours_path: str,
        theirs_path: str,
        path: str,
        marker_size: int = lockfiles.DEFAULT_MARKER_SIZE,
        *,
        now: datetime.datetime | None = None,
        err: TextIO | None = None,
) -> int:
    """Run the driver; 0 when ``ours_path`` holds a clean merge."""
    stderr = sys.stderr if err is None else err
    try:
        merged = structured_merge(
            _read(base_path), _read(ours_path), _read(theirs_path),
            path=path, mode=detect_mode(os.environ, _git_dir()),
            marker_size=marker_size,
            now=now or datetime.datetime.now(),
        )
    except MigmergeError as e:
        print(f'migmerge: {path}: {e.message}; merging as text', file=stderr)
        merged = None
    except Exception as e:  # never crash inside git's merge
        print(
            f'migmerge: {path}: unexpected {type(e).__name__}: {e}; '
            f'merging as text', file=stderr,
        )
        merged = None
    if merged is not None:
        write_atomic(ours_path, merged, like=ours_path)
        return 0
    return text_merge(base_path, ours_path, theirs_path, marker_size)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -I -m mergedriver.driver.mergefile %O %A %B %P [%L]``: what
    ``merge.migmerge.driver`` runs (the same as ``migmerge merge-file``,
    without the CLI's imports: git waits for every driver call)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (4, 5):
        print(
            'usage: python -I -m mergedriver.driver.mergefile %O %A %B %P '
            '[%L]',
            file=sys.stderr,
        )
        return 2
    base, ours, theirs, path, *rest = args
    marker_size = int(rest[0]) if rest and rest[0].isdigit() else 7
    return merge_file(base, ours, theirs, path, marker_size)


if __name__ == '__main__':
    warn_unless_isolated('merge driver starts')
    raise SystemExit(main())
