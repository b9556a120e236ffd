"""What git is in the middle of: a merge, a rebase, a cherry-pick.

The one place that reads git's own state files (docs/design.md, "Facts
about git"): the driver, the hooks and ``resolve`` all ask here.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

REBASE_DIRS = ('rebase-merge', 'rebase-apply')
# Files whose presence in the git dir means the index holds an operation's
# result rather than the user's staged edits.
_OPERATIONS = (
    'MERGE_HEAD', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', *REBASE_DIRS,
)


def _exists(git_dir: str, name: str) -> bool:
    return os.path.exists(os.path.join(git_dir, name))


def merging(git_dir: str) -> bool:
    """A merge stopped before its commit (conflicts, ``--no-commit``, or a
    pre-merge-commit hook that refused)."""
    return _exists(git_dir, 'MERGE_HEAD')


def concluding_merge(git_dir: str) -> bool:
    """A merge being committed, or a ``git merge --squash`` (no merge
    commit, so pre-merge-commit never ran)."""
    return merging(git_dir) or _exists(git_dir, 'SQUASH_MSG')


def rebasing(git_dir: str) -> bool:
    """A rebase is replaying commits (its state directory exists)."""
    return any(
        os.path.isdir(os.path.join(git_dir, d)) for d in REBASE_DIRS
    )


def operation_in_progress(git_dir: str) -> bool:
    """Any operation that leaves its result in the index: merge, rebase,
    cherry-pick, revert."""
    return any(_exists(git_dir, name) for name in _OPERATIONS)


def rebase_onto(git_dir: str) -> str | None:
    """The commit a rebase in progress replays onto, as git recorded it."""
    for state in REBASE_DIRS:
        try:
            with open(os.path.join(git_dir, state, 'onto')) as f:
                return f.read().strip()
        except OSError:
            continue
    return None


def merge_heads(git_dir: str, environ: Mapping[str, str]) -> list[str]:
    """The commits being merged: ``GITHEAD_<oid>`` during ``git merge``
    (MERGE_HEAD is written only after pre-merge-commit), else MERGE_HEAD."""
    heads = [
        key[len('GITHEAD_'):] for key in environ if key.startswith('GITHEAD_')
    ]
    if heads:
        return heads
    try:
        with open(os.path.join(git_dir, 'MERGE_HEAD')) as f:
            return f.read().split()
    except OSError:
        return []


def in_git_merge(environ: Mapping[str, str]) -> bool:
    """Inside ``git merge`` itself: git names the other side in
    ``GITHEAD_<oid>`` for merge drivers and hooks."""
    return any(key.startswith('GITHEAD_') for key in environ)
