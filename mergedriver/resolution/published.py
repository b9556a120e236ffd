"""Which migrations are published: the rule docs/design.md, "Rules that must always hold" protects.

A migration is *published* when a file exists at the same path in the tree
of the mainline ref's commit.  The path, not the content, is what counts:
databases record a migration by ``(app, name)``, so a published name must
never change even when its file was edited since.

The mainline ref is ``Config.mainline`` when configured (it must resolve,
else the input is unusable), else the first of ``origin/HEAD``, ``main``,
``master`` that exists.  When none exists, :func:`find_mainline` returns
None and nothing can be called published; the planner then refuses to
renumber unless the caller says which side stays (``move``), because moving
the wrong side would rename migrations others may have applied.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pygit2

from mergedriver.config import Config
from mergedriver.errors import MigmergeError
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey

DEFAULT_MAINLINES = ('origin/HEAD', 'main', 'master')


@dataclasses.dataclass(frozen=True)
class Mainline:
    ref: str  # as configured or found ('origin/HEAD', 'main', ...)
    commit: str  # hex id of the commit the ref names


def _commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit | None:
    try:
        commit = repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        return None
    assert isinstance(commit, pygit2.Commit)
    return commit


def find_mainline(
        repo: pygit2.Repository, config: Config,
) -> Mainline | None:
    """The mainline ref, or None when none of the defaults exists."""
    if config.mainline:
        candidates: tuple[str, ...] = (config.mainline,)
    else:
        candidates = DEFAULT_MAINLINES
    for rev in candidates:
        commit = _commit(repo, rev)
        if commit is not None:
            return Mainline(rev, str(commit.id))
    if config.mainline:
        raise MigmergeError(
            f'the configured mainline ref {config.mainline!r} does not exist',
        )
    return None


def revision(repo: pygit2.Repository, rev: str) -> Mainline:
    """A revision the caller named (``move``); raise when it is unknown."""
    commit = _commit(repo, rev)
    if commit is None:
        raise MigmergeError(f'unknown revision: {rev}')
    return Mainline(rev, str(commit.id))


def keys_in(
        repo: pygit2.Repository,
        ref: Mainline,
        migrations: Iterable[MigrationInfo],
) -> frozenset[MigrationKey]:
    """The migrations whose file exists at the same path in ``ref``'s tree.

    Looks up only the given paths, so a large tree costs nothing more.
    """
    commit = repo[ref.commit]
    assert isinstance(commit, pygit2.Commit)
    tree = commit.tree
    found = set()
    for info in migrations:
        try:
            entry = tree[info.path]
        except KeyError:
            continue
        if entry.type_str == 'blob':
            found.add(info.key)
    return frozenset(found)
