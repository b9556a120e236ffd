"""Apply a :class:`~mergedriver.resolution.plan.Plan` to the work tree.

All or nothing (docs/design.md, "Rules that must always hold"):

1. validate the whole plan first: created and renamed-to paths do not
   exist, every file to rename or rewrite still holds the text the plan was
   made from, and none has uncommitted edits (unless ``force``);
2. then write: each file through a temp file in its own directory and
   ``os.replace``, so no file is ever half-written; should a step still fail
   (disk full...), the steps already done are undone;
3. optionally stage the result (``git add`` / ``git rm --cached``, run as
   argv lists through the git binary so hooks' ``GIT_INDEX_FILE`` holds).

"Uncommitted edits" means: the work tree differs from the index for that
path, or the index differs from HEAD — except while a merge, rebase,
cherry-pick or revert is in progress, where the index legitimately holds
the operation's result.  Lock files in a conflicted state are what a
resolution resolves, so they are allowed.
"""
from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Iterable
from collections.abc import Sequence

from mergedriver.driver.lockfiles import LOCKFILE_FILENAME
from mergedriver.driver.lockfiles import MAX_MIGRATION_FILENAME
from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.files import write_atomic
from mergedriver.git import state
from mergedriver.git.location import locate_clone
from mergedriver.git.runner import run_git
from mergedriver.resolution.plan import Action
from mergedriver.resolution.plan import CreateFile
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import RewriteFile

LOCK_NAMES = frozenset((MAX_MIGRATION_FILENAME, LOCKFILE_FILENAME))
_UNMERGED = frozenset(('DD', 'AU', 'UD', 'UA', 'DU', 'AA', 'UU'))


class ApplyError(MigmergeError):
    """The plan cannot be applied; nothing was written."""


@dataclasses.dataclass(frozen=True)
class Applied:
    written: tuple[str, ...]  # created, rewritten, and renamed-to paths
    removed: tuple[str, ...]  # renamed-from paths


def git_status(top: str, paths: Sequence[str]) -> dict[str, str]:
    """``XY`` of ``git status --porcelain`` for those of ``paths`` that
    are not clean (untracked ones included)."""
    if not paths:
        return {}
    proc = run_git(
        top, 'status', '--porcelain=v1', '-z', '--untracked-files=all',
        '--no-renames', '--', *paths,
    )
    if proc.returncode:
        raise MigmergeError(
            f'git status failed: {proc.stderr.decode(errors="replace").strip()}',
        )
    found = {}
    for record in proc.stdout.decode('utf-8', 'surrogateescape').split('\0'):
        if len(record) > 3:
            found[record[3:]] = record[:2]
    return found


def _touched(actions: Iterable[Action]) -> list[str]:
    paths = []
    for action in actions:
        if isinstance(action, RenameFile):
            paths.append(action.old_path)
        elif isinstance(action, RewriteFile):
            paths.append(action.path)
    return paths


def _read_bytes(path: str, shown: str) -> bytes | None:
    try:
        return read_file(path, path=shown)
    except FileNotFoundError:
        return None


def validate(
        top: str, git_dir: str, plan: Plan, *, force: bool = False,
) -> None:
    """Raise :class:`ApplyError` naming every reason the plan cannot be
    applied as it stands."""
    errors = []
    targets: set[str] = set()
    for action in plan.actions:
        if isinstance(action, (CreateFile, RenameFile)):
            target = (
                action.path if isinstance(action, CreateFile)
                else action.new_path
            )
            if target in targets or os.path.lexists(os.path.join(top, target)):
                errors.append(f'{target}:1: already exists; not overwritten')
            targets.add(target)
        if isinstance(action, (RenameFile, RewriteFile)):
            source = (
                action.old_path if isinstance(action, RenameFile)
                else action.path
            )
            current = _read_bytes(os.path.join(top, source), source)
            if current is None:
                errors.append(f'{source}:1: no longer exists')
            elif current != action.old_text.encode('utf-8'):
                errors.append(
                    f'{source}:1: changed since the plan was made; run again',
                )
    if not force:
        merging = state.operation_in_progress(git_dir)
        status = git_status(top, _touched(plan.actions))
        for path, xy in sorted(status.items()):
            is_lock = posixpath.basename(path) in LOCK_NAMES
            if xy in _UNMERGED and is_lock:
                continue
            if xy == '??':
                why = 'is not committed (untracked)'
            elif xy in _UNMERGED:
                why = 'has unresolved merge conflicts'
            elif xy[1] != ' ':
                why = 'has uncommitted edits'
            elif not merging:
                why = 'has staged but uncommitted edits'
            else:
                continue
            errors.append(
                f'{path}:1: {why}; commit or stash them, or pass --force',
            )
    if errors:
        raise ApplyError('\n'.join(errors))


def _undo(top: str, done: list[tuple[str, bytes | None]]) -> None:
    """Put back what the steps so far changed: path -> previous bytes
    (None: the file did not exist)."""
    for rel, data in reversed(done):
        path = os.path.join(top, rel)
        if data is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            with open(path, 'wb') as f:
                f.write(data)


def _write_all(top: str, actions: Sequence[Action]) -> Applied:
    written: list[str] = []
    removed: list[str] = []
    done: list[tuple[str, bytes | None]] = []
    try:
        for action in actions:
            if isinstance(action, CreateFile):
                path = os.path.join(top, action.path)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                done.append((action.path, None))
                write_atomic(path, action.text)
                written.append(action.path)
            elif isinstance(action, RewriteFile):
                path = os.path.join(top, action.path)
                done.append((action.path, action.old_text.encode('utf-8')))
                write_atomic(path, action.text, like=path)
                written.append(action.path)
            else:
                old = os.path.join(top, action.old_path)
                new = os.path.join(top, action.new_path)
                done.append((action.new_path, None))
                write_atomic(new, action.text, like=old)
                done.append(
                    (action.old_path, action.old_text.encode('utf-8')),
                )
                os.unlink(old)
                written.append(action.new_path)
                removed.append(action.old_path)
    except BaseException:
        _undo(top, done)
        raise
    return Applied(tuple(written), tuple(removed))


def stage(top: str, applied: Applied) -> None:
    """Record the result in the index: new contents and removed names."""
    if applied.removed:
        proc = run_git(
            top, 'rm', '--cached', '-q', '--ignore-unmatch', '--',
            *applied.removed,
        )
        if proc.returncode:
            raise MigmergeError(
                f'git rm --cached failed: '
                f'{proc.stderr.decode(errors="replace").strip()}',
            )
    if applied.written:
        proc = run_git(top, 'add', '--', *applied.written)
        if proc.returncode:
            raise MigmergeError(
                f'git add failed: '
                f'{proc.stderr.decode(errors="replace").strip()}',
            )


def apply_plan(
        repo_dir: str,
        plan: Plan,
        *,
        force: bool = False,
        staged: bool = False,
) -> Applied:
    """Validate, then write the plan into the work tree (and the index)."""
    clone = locate_clone(repo_dir)
    top, git_dir = clone.work_tree, clone.git_dir
    validate(top, git_dir, plan, force=force)
    applied = _write_all(top, plan.actions)
    if staged:
        stage(top, applied)
    return applied
