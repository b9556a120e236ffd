"""Roll the developer's database back before migrations are renamed.

A database that applied ``0003_userprofile_age`` records that name; once
the file is ``0004_userprofile_age``, Django would apply it again and fail
with "duplicate column", or refuse with ``InconsistentMigrationHistory``.
So before renaming, the configured command (default ``python manage.py
migrate --skip-checks {app} {target}``, target = the common ancestor) runs
while the old files exist.  System checks are skipped because they would
see the work tree with files set aside (below).

Django's ``migrate`` refuses to run while an app has two leaves, so the
other branches' migration files (and every migration depending on them)
are moved aside into a directory inside the git dir for the duration of the
command: Django then sees only the branch being moved.  They are put back
in a ``finally``, also on failure or KeyboardInterrupt; a manifest in that
directory lets :func:`restore_leftovers` put them back should the process
have been killed outright.

``rollback_command`` comes from the committed configuration, which any
upstream commit can change, and it runs on the developer's machine (also
from the post-rewrite hook, without anyone watching).  So a configured
command runs only once the developer approved it in this clone
(``migmerge approve-rollback``, which shows it): approvals are remembered
in the git dir, outside the work tree, keyed by a hash of the argv
template, so a changed command needs approving again.  migmerge's default
command needs none.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TextIO

from mergedriver.config import DEFAULT_ROLLBACK_COMMAND
from mergedriver.errors import MigmergeError
from mergedriver.resolution.plan import Forward
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import RewriteFile
from mergedriver.resolution.plan import Rollback

ASIDE_PREFIX = 'migmerge-aside-'
MANIFEST = 'manifest.json'


class RollbackFailed(MigmergeError):
    """The rollback command failed; nothing was renamed."""


class RollbackNotApproved(RollbackFailed):
    """The configured rollback command was never approved in this clone."""


# In the common git dir: one approval per clone, shared by its work trees.
APPROVALS = os.path.join('migmerge', 'approved-rollback-commands')
APPROVE_COMMAND = 'migmerge approve-rollback'


def command_key(argv: Sequence[str]) -> str:
    """What an approval remembers: a hash of the argv template."""
    return hashlib.sha256(json.dumps(list(argv)).encode()).hexdigest()


def needs_approval(
        argv: Sequence[str],
        default: Sequence[str] = DEFAULT_ROLLBACK_COMMAND,
) -> bool:
    """Whether ``argv`` came from the repository rather than migmerge
    (``default``: migmerge's own command of that kind)."""
    return tuple(argv) != tuple(default)


def _approvals(common_dir: str) -> set[str]:
    try:
        with open(os.path.join(common_dir, APPROVALS), encoding='ascii') as f:
            return set(f.read().split())
    except (OSError, UnicodeDecodeError):
        return set()


def is_approved(
        common_dir: str,
        argv: Sequence[str],
        default: Sequence[str] = DEFAULT_ROLLBACK_COMMAND,
) -> bool:
    return (
        not needs_approval(argv, default) or
        command_key(argv) in _approvals(common_dir)
    )


def approve(common_dir: str, argv: Sequence[str]) -> bool:
    """Remember ``argv`` as approved; False when it already was."""
    known = _approvals(common_dir)
    key = command_key(argv)
    if key in known:
        return False
    path = os.path.join(common_dir, APPROVALS)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.approved-')
    try:
        with os.fdopen(fd, 'w', encoding='ascii') as f:
            f.write(''.join(f'{k}\n' for k in sorted(known | {key})))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return True


def require_approval(common_dir: str, argv: Sequence[str]) -> None:
    """Raise :class:`RollbackNotApproved`, showing the command, unless it
    may run."""
    if is_approved(common_dir, argv):
        return
    raise RollbackNotApproved(
        f'rollback_command from the repository\'s configuration is not '
        f'approved in this clone: {shlex.join(argv)}; review it, then run '
        f'`{APPROVE_COMMAND}` (it shows the command again); nothing was '
        f'rolled back or renamed',
    )


def _move(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.move(src, dst)


@contextmanager
def files_aside(
        top: str, git_dir: str, paths: Sequence[str],
) -> Iterator[None]:
    """Move ``paths`` (repo-relative) out of the work tree meanwhile."""
    holder = tempfile.mkdtemp(prefix=ASIDE_PREFIX, dir=git_dir)
    moved: list[str] = []
    try:
        with open(os.path.join(holder, MANIFEST), 'w') as f:
            json.dump(list(paths), f)
        for index, rel in enumerate(paths):
            source = os.path.join(top, rel)
            if not os.path.lexists(source):
                continue
            _move(source, os.path.join(holder, str(index)))
            moved.append(rel)
        yield
    finally:
        _restore(top, holder)


def _restore(top: str, holder: str) -> list[str]:
    try:
        with open(os.path.join(holder, MANIFEST)) as f:
            paths = json.load(f)
    except FileNotFoundError:
        return []  # restored already (restore_leftovers)
    restored = []
    for index, rel in enumerate(paths):
        kept = os.path.join(holder, str(index))
        if not os.path.lexists(kept):
            continue
        target = os.path.join(top, rel)
        if os.path.lexists(target):
            # Never overwrite: someone wrote a file there meanwhile.
            raise MigmergeError(
                f'{rel}:1: exists again; the original is kept in {kept}',
            )
        _move(kept, target)
        restored.append(rel)
    shutil.rmtree(holder)
    return restored


def restore_leftovers(top: str, git_dir: str) -> list[str]:
    """Put back files an interrupted run left aside; the paths restored."""
    restored = []
    for name in sorted(os.listdir(git_dir)):
        holder = os.path.join(git_dir, name)
        if name.startswith(ASIDE_PREFIX) and os.path.isfile(
                os.path.join(holder, MANIFEST),
        ):
            restored.extend(_restore(top, holder))
    return restored


def run_rollback(
        top: str, git_dir: str, rollback: Rollback, *, out: TextIO,
) -> None:
    """Run one rollback command with the other branches set aside."""
    print(f'$ {rollback.command()}', file=out)
    with files_aside(top, git_dir, rollback.aside):
        try:
            proc = subprocess.run(
                rollback.argv, cwd=top, capture_output=True, text=True,
            )
        except OSError as e:
            raise RollbackFailed(
                f'cannot run {rollback.command()}: {e.strerror}',
            )
    for stream in (proc.stdout, proc.stderr):
        if stream:
            out.write(stream if stream.endswith('\n') else stream + '\n')
    if proc.returncode:
        raise RollbackFailed(
            f'rollback command failed with exit status {proc.returncode}: '
            f'{rollback.command()}; nothing was renamed',
        )


def run_forward(top: str, forward: Forward, *, out: TextIO) -> None:
    """Migrate one app forward to its renamed leaf (the tree has one
    leaf per app again: nothing is set aside)."""
    print(f'$ {forward.command()}', file=out)
    try:
        proc = subprocess.run(
            forward.argv, cwd=top, capture_output=True, text=True,
            stdin=subprocess.DEVNULL,
        )
    except OSError as e:
        raise RollbackFailed(f'cannot run {forward.command()}: {e.strerror}')
    for stream in (proc.stdout, proc.stderr):
        if stream:
            out.write(stream if stream.endswith('\n') else stream + '\n')
    if proc.returncode:
        raise RollbackFailed(
            f'migrating forward failed with exit status {proc.returncode}: '
            f'{forward.command()}',
        )


def manual_instructions(
        rollbacks: Sequence[Rollback],
        *,
        applied: bool,
        plan: Plan | None = None,
        sources: Mapping[str, str] | None = None,
) -> str:
    """What to tell a user who did not ask for ``--rollback``.

    Before applying (dry run): how to have the database rolled back.  After
    applying: the exact commands that undo the renumbering, and the one
    that redoes it with the rollback.  ``sources``: the revision each file
    to restore comes from (``HEAD``, or ``MERGE_HEAD`` for a file the open
    merge brings); HEAD when not given.
    """
    moved = ', '.join(
        f'{app}.{name}' for r in rollbacks for app, name in r.moved
    )
    if not applied:
        lines = [
            f'If your development database applied {moved}, add --rollback:',
            'it sets the other branch aside and runs',
        ]
        lines.extend(f'  {r.command()}' for r in rollbacks)
        lines.append(
            'before renaming; otherwise Django later fails with '
            '"duplicate column" or InconsistentMigrationHistory.',
        )
        return '\n'.join(lines) + '\n'
    # Once renamed, no manage.py command sequence repairs such a database
    # (applying the other branch first would rebuild SQLite tables from a
    # state without the moved branch's columns); only rolling back with
    # the old files does.
    lines = [
        f'If your development database had applied {moved}, undo this and '
        f'resolve with --rollback,',
        'or Django fails later with "duplicate column" or '
        'InconsistentMigrationHistory:',
    ]
    restore, created = undo_paths(plan) if plan else ([], [])
    if created:
        lines.append(f'  rm -- {shlex.join(created)}')
    by_source: dict[str, list[str]] = {}
    for path in restore:
        by_source.setdefault((sources or {}).get(path, 'HEAD'), []).append(path)
    for source, paths in sorted(by_source.items()):
        lines.append(f'  git checkout {source} -- {shlex.join(paths)}')
    lines.append('  migmerge resolve --strategy renumber --rollback')
    return '\n'.join(lines) + '\n'


def undo_paths(plan: Plan) -> tuple[list[str], list[str]]:
    """(paths to restore from HEAD, paths to delete) that undo ``plan``."""
    restore: list[str] = []
    created: list[str] = []
    for action in plan.actions:
        if isinstance(action, RenameFile):
            restore.append(action.old_path)
            created.append(action.new_path)
        elif isinstance(action, RewriteFile):
            restore.append(action.path)
        else:
            created.append(action.path)
    return sorted(restore), sorted(created)


def describe(rollback: Rollback) -> str:
    aside = shlex.join(rollback.aside) or '(nothing)'
    return (
        f'roll back {rollback.app} to {rollback.target}: '
        f'{rollback.command()}\n'
        f'    with these set aside meanwhile: {aside}'
    )
