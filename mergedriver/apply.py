"""Apply a :class:`~mergedriver.plan.Plan` to the work tree.

All or nothing (DESIGN.md §4):

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
import subprocess
import tempfile
from collections.abc import Iterable
from collections.abc import Sequence

from mergedriver import gitdir
from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.lockfiles import LOCKFILE_FILENAME
from mergedriver.lockfiles import MAX_MIGRATION_FILENAME
from mergedriver.plan import Action
from mergedriver.plan import CreateFile
from mergedriver.plan import Plan
from mergedriver.plan import RenameFile
from mergedriver.plan import RewriteFile

LOCK_NAMES = frozenset((MAX_MIGRATION_FILENAME, LOCKFILE_FILENAME))
# Files whose presence in the git dir means the index holds an operation's
# result rather than the user's staged edits.
_IN_PROGRESS = (
    'MERGE_HEAD', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'rebase-merge',
    'rebase-apply',
)
_UNMERGED = frozenset(('DD', 'AU', 'UD', 'UA', 'DU', 'AA', 'UU'))


class ApplyError(MigmergeError):
    """The plan cannot be applied; nothing was written."""


@dataclasses.dataclass(frozen=True)
class Applied:
    written: tuple[str, ...]  # created, rewritten, and renamed-to paths
    removed: tuple[str, ...]  # renamed-from paths


def work_tree_of(repo_dir: str) -> tuple[str, str]:
    """(work tree top, git dir) of the repository containing repo_dir."""
    location = gitdir.locate(repo_dir)
    if location.work_tree is None:
        raise MigmergeError(
            f'bare repository has no work tree: {location.git_dir}',
        )
    return location.work_tree, location.git_dir


def _git(top: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(('git', *args), cwd=top, capture_output=True)


def operation_in_progress(git_dir: str) -> bool:
    return any(os.path.exists(os.path.join(git_dir, n)) for n in _IN_PROGRESS)


def git_status(top: str, paths: Sequence[str]) -> dict[str, str]:
    """``XY`` of ``git status --porcelain`` for those of ``paths`` that
    are not clean (untracked ones included)."""
    if not paths:
        return {}
    proc = _git(
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
        merging = operation_in_progress(git_dir)
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


def _write_atomically(path: str, text: str, *, like: str | None = None) -> None:
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f'.{os.path.basename(path)}.', suffix='.tmp',
    )
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(text.encode('utf-8'))
        mode = os.stat(like).st_mode if like is not None else None
        if mode is not None:
            os.chmod(tmp, mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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
                _write_atomically(path, action.text)
                written.append(action.path)
            elif isinstance(action, RewriteFile):
                path = os.path.join(top, action.path)
                done.append((action.path, action.old_text.encode('utf-8')))
                _write_atomically(path, action.text, like=path)
                written.append(action.path)
            else:
                old = os.path.join(top, action.old_path)
                new = os.path.join(top, action.new_path)
                done.append((action.new_path, None))
                _write_atomically(new, action.text, like=old)
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
        proc = _git(
            top, 'rm', '--cached', '-q', '--ignore-unmatch', '--',
            *applied.removed,
        )
        if proc.returncode:
            raise MigmergeError(
                f'git rm --cached failed: '
                f'{proc.stderr.decode(errors="replace").strip()}',
            )
    if applied.written:
        proc = _git(top, 'add', '--', *applied.written)
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
    top, git_dir = work_tree_of(repo_dir)
    validate(top, git_dir, plan, force=force)
    applied = _write_all(top, plan.actions)
    if staged:
        stage(top, applied)
    return applied
