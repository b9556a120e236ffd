"""Rewrite every rebased commit with the renumbering (``migmerge.postRewrite
= rewrite``, the default).

After a rebase the post-rewrite hook has resolved the tip (``resolve``
wrote and staged the renamed files, and asked the database).  One commit on
top would leave every rebased commit before it with two leaves: ``git
bisect`` and per-commit CI break there, and a lock file in them names a
migration that does not exist yet.  The rebased commits are private by
definition (the rebase just created them), so each is rewritten so that
its own tree carries the renumbering, replayed from the tip's plan:

- a file identical to the tip's gets the tip's result (renamed, rewritten);
- a file that differs in that commit (a migration edited later in the
  series, one dropped later, a reference only that commit has) is
  renumbered from its own text with the same renames;
- lock files name that commit's own leaf, under its new name.

Only git's plumbing, no work-tree change: objects are read through one
``git cat-file --batch`` (commits compared with the tip tree by tree, as
``git diff-tree`` does, skipping identical subtrees), new blobs, trees and
commits written with one ``git hash-object -w --stdin-paths`` each.  Tree
and commit objects are built here and their ids checked against git's; a
commit keeps every header of the original byte for byte (author,
committer, their dates, encoding) and its message, with only ``tree`` and
``parent`` replaced (a signature is dropped: it would not verify).  One
git process per object would cost more than the rest of the hook on a
20-commit rebase.  The rewritten tip's tree must equal the index ``resolve`` staged,
else nothing moves (the caller falls back to one commit).  The branch then
moves with ``git update-ref -m MSG REF NEW OLD``, which refuses when it
moved meanwhile: one reflog entry; the rebase's own result stays reachable
through the reflog and ``ORIG_HEAD`` still names the branch before the
rebase.  Branches that ``git rebase --update-refs`` moved onto a rebased
commit are moved to its rewrite too (not when checked out in another work
tree); ``--exec`` commands ran on the commits before the rewrite, which
the hook says.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import tempfile
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence

from mergedriver.driver.lockfiles import LOCKFILE_FILENAME
from mergedriver.driver.lockfiles import MAX_MIGRATION_FILENAME
from mergedriver.driver.lockfiles import parse_lockfile
from mergedriver.driver.lockfiles import render_lockfile
from mergedriver.driver.lockfiles import render_max_migration
from mergedriver.errors import MigmergeError
from mergedriver.git.runner import git_process
from mergedriver.git.runner import run_git
from mergedriver.records import MigrationKey
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import renumber_module
from mergedriver.resolution.plan import RenumberRefused
from mergedriver.resolution.plan import RewriteFile

REFLOG_MESSAGE = 'migmerge: renumber migrations in the rebased commits'
TREE_MODE = b'40000'


class CannotRewrite(MigmergeError):
    """The commits cannot be rewritten; nothing was moved."""


@dataclasses.dataclass(frozen=True)
class Rewritten:
    old_tip: str
    new_tip: str
    commits: tuple[tuple[str, str], ...]  # (rebased, rewritten), in order
    moved_branches: tuple[str, ...]
    skipped_branches: tuple[str, ...]  # checked out in another work tree


# ------------------------------------------------------------------- git


def _git(top: str, *args: str, stdin: bytes | None = None,
         env: Mapping[str, str] | None = None) -> bytes:
    proc = run_git(top, *args, stdin=stdin, env=env)
    if proc.returncode:
        raise CannotRewrite(
            f'git {args[0]} failed: '
            f'{proc.stderr.decode(errors="replace").strip()}',
        )
    return proc.stdout


Listing = dict[bytes, tuple[bytes, str]]  # name -> (mode, hex id)


def _parse_tree(data: bytes, raw_len: int) -> Listing:
    entries: Listing = {}
    pos = 0
    while pos < len(data):
        space = data.index(b' ', pos)
        nul = data.index(b'\0', space)
        mode, name = data[pos:space], data[space + 1:nul]
        entries[name] = (mode, data[nul + 1:nul + 1 + raw_len].hex())
        pos = nul + 1 + raw_len
    return entries


def _tree_bytes(entries: Listing) -> bytes:
    def order(name: bytes) -> bytes:
        return name + b'/' if entries[name][0] == TREE_MODE else name
    return b''.join(
        entries[n][0] + b' ' + n + b'\0' + bytes.fromhex(entries[n][1])
        for n in sorted(entries, key=order)
    )


# ------------------------------------------------------------ the changes


@dataclasses.dataclass(frozen=True)
class _Scope:
    """What the tip's plan says, keyed for replaying on other commits."""

    renames: Mapping[MigrationKey, str]
    retargets: Mapping[MigrationKey, tuple[MigrationKey, MigrationKey]]
    key_by_path: Mapping[str, MigrationKey]
    new_path: Mapping[str, str]  # old path -> new path
    tip_result: Mapping[str, tuple[str | None, str]]  # old path -> (new path or None: same, text)
    chains: Mapping[str, tuple[tuple[str, str], ...]]  # app -> (old path, new name)...
    first_tip: Mapping[str, str]  # app -> the leaf the first move follows
    package_app: Mapping[str, str]  # migrations package dir -> moved app
    packages: frozenset[str]  # every directory the tip's plan writes in


def _scope(plan: Plan) -> _Scope:
    renames: dict[MigrationKey, str] = {}
    retargets: dict[MigrationKey, tuple[MigrationKey, MigrationKey]] = {}
    key_by_path: dict[str, MigrationKey] = {}
    new_path: dict[str, str] = {}
    chains: dict[str, list[tuple[str, str]]] = {}
    first_tip: dict[str, str] = {}
    package_app: dict[str, str] = {}
    for move in plan.moves:
        retargets[move.branch[0]] = (
            (move.app, move.ancestor), (move.app, move.tip),
        )
        first_tip.setdefault(move.app, move.tip)
        for key, name, old, new in zip(
                move.branch, move.new_names, move.old_paths, move.new_paths,
        ):
            renames[key] = name
            key_by_path[old] = key
            new_path[old] = new
            chains.setdefault(move.app, []).append((old, name))
            package_app[posixpath.dirname(old)] = move.app
    tip_result: dict[str, tuple[str | None, str]] = {}
    for action in plan.actions:
        if isinstance(action, RenameFile):
            tip_result[action.old_path] = (action.new_path, action.text)
        elif isinstance(action, RewriteFile):
            tip_result[action.path] = (None, action.text)
    return _Scope(
        renames, retargets, key_by_path, new_path, tip_result,
        {app: tuple(c) for app, c in chains.items()}, first_tip,
        package_app,
        frozenset(posixpath.dirname(p) for p in (*tip_result, *new_path)),
    )


def _is_migration(path: str, packages: frozenset[str] = frozenset()) -> bool:
    """A module in a ``migrations`` directory or in one of ``packages``."""
    directory, _, name = path.rpartition('/')
    return (
        name.endswith('.py') and not name.startswith(('_', '~')) and
        (posixpath.basename(directory) == 'migrations' or directory in packages)
    )


def _leaf(scope: _Scope, app: str, present: set[str]) -> str:
    """The app's leaf in a commit holding ``present`` paths: the last moved
    migration it has, by its new name, else the leaf they follow."""
    leaf = scope.first_tip[app]
    for old, name in scope.chains[app]:
        if old in present:
            leaf = name
    return leaf


def commit_changes(
        scope: _Scope,
        differs: Mapping[str, bytes | None],
        present: set[str],
        lock_texts: Mapping[str, bytes],
) -> dict[str, bytes | None]:
    """The files to change in one commit: path -> new content (None:
    remove).  ``differs``: the commit's own content of scope paths and of
    migration files that differ from the tip's (None: absent there);
    ``present``: which renamed migrations' old paths exist in it;
    ``lock_texts``: its lock files of moved apps.  Pure."""
    changes: dict[str, bytes | None] = {}
    for old in scope.new_path:
        if old not in present:
            continue
        changes[old] = None
    for path in set(scope.tip_result) | set(differs):
        target = scope.new_path.get(path, path)
        if path in differs:
            data = differs[path]
            if data is None or not _is_migration(path, scope.packages):
                continue
            try:
                text = data.decode('utf-8')
                new = renumber_module(
                    text, scope.key_by_path.get(path), scope.renames,
                    scope.retargets, path,
                )
            except UnicodeDecodeError:
                raise CannotRewrite(f'{path}:1: not UTF-8')
            except RenumberRefused as e:
                raise CannotRewrite('; '.join(e.reasons))
            if new != text or target != path:
                changes[target] = new.encode('utf-8')
        elif path in scope.tip_result and (
                path not in scope.new_path or path in present
        ):
            moved_to, text = scope.tip_result[path]
            if posixpath.basename(path) in (MAX_MIGRATION_FILENAME, LOCKFILE_FILENAME):
                continue  # lock files below, from this commit's leaf
            changes[moved_to or path] = text.encode('utf-8')
    if lock_texts:
        # A migration this commit has and the tip has not (dropped later in
        # the series) may be its leaf, which the tip's plan cannot tell.
        for path, data in differs.items():
            if (
                    data is not None and path not in scope.new_path and
                    posixpath.dirname(path) in scope.package_app and
                    _is_migration(path, scope.packages)
            ):
                raise CannotRewrite(
                    f'{path}:1: a commit has this migration and the last '
                    f'one has not; its lock file cannot be told',
                )
    for path, data in lock_texts.items():
        name = posixpath.basename(path)
        try:
            old_text = data.decode('utf-8')
            if name == MAX_MIGRATION_FILENAME:
                app = scope.package_app[posixpath.dirname(path)]
                new_text = render_max_migration(_leaf(scope, app, present))
            else:
                lock = parse_lockfile(old_text, path=path)
                updates = {
                    app: _leaf(scope, app, present) for app in scope.chains
                    if lock.get(app) is not None
                }
                new_text = render_lockfile(lock.with_entries(updates))
        except (UnicodeDecodeError, MigmergeError) as e:
            raise CannotRewrite(f'{path}:1: cannot update the lock file: {e}')
        if new_text != old_text:
            changes[path] = new_text.encode('utf-8')
        else:
            changes.pop(path, None)
    return changes


# ------------------------------------------------------------ the rewrite


@dataclasses.dataclass
class _Commit:
    oid: str
    tree: str
    parents: list[str]
    headers: list[bytes]  # as in the object, author and committer included
    message: bytes


def _parse_commit(oid: str, data: bytes) -> _Commit:
    head, _, message = data.partition(b'\n\n')
    commit = _Commit(oid, '', [], head.split(b'\n'), message)
    for line in commit.headers:
        key, _, value = line.partition(b' ')
        if key == b'tree':
            commit.tree = value.decode()
        elif key == b'parent':
            commit.parents.append(value.decode())
    return commit


def _write_objects(top: str, kind: str, contents: Sequence[bytes]) -> list[str]:
    """Write objects with one ``git hash-object -w --stdin-paths``."""
    if not contents:
        return []
    with tempfile.TemporaryDirectory(prefix='migmerge-objects-') as tmp:
        paths = []
        for i, data in enumerate(contents):
            path = os.path.join(tmp, str(i))
            with open(path, 'wb') as f:
                f.write(data)
            paths.append(path)
        out = _git(
            top, 'hash-object', '-w', '-t', kind, '--stdin-paths',
            '--no-filters',
            stdin=''.join(f'{p}\n' for p in paths).encode(),
        )
    return out.decode().split()


def _hash(kind: str, data: bytes, raw_len: int) -> str:
    algo = hashlib.sha1 if raw_len == 20 else hashlib.sha256
    return algo(f'{kind} {len(data)}\0'.encode() + data).hexdigest()


class _Reader:
    """Objects through one ``git cat-file --batch`` process."""

    def __init__(self, top: str) -> None:
        self.proc = git_process(top, 'cat-file', '--batch')
        self.trees: dict[str, Listing] = {}

    def read(self, name: str) -> tuple[str, bytes, bytes | None]:
        """(id, type, content) of ``name``; content None when missing."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(name.encode('utf-8', 'surrogateescape') + b'\n')
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) == 2 and header[1] == b'missing':
            return name, b'missing', None
        if len(header) != 3:
            raise CannotRewrite(f'cannot read {name}')
        size = int(header[2])
        data = self.proc.stdout.read(size + 1)[:size]
        return header[0].decode(), header[1], data

    def tree(self, oid: str, raw_len: int) -> Listing:
        if oid not in self.trees:
            _, kind, data = self.read(oid)
            if kind != b'tree' or data is None:
                raise CannotRewrite(f'{oid} is not a tree')
            self.trees[oid] = _parse_tree(data, raw_len)
        return self.trees[oid]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _diff(
        reader: _Reader, a: str | None, b: str | None, prefix: str,
        raw_len: int, wanted: Callable[[str], bool],
) -> dict[str, str | None]:
    """Paths (files) whose blob differs between trees ``a`` and ``b``,
    with ``a``'s blob id (None: absent in ``a``); identical subtrees are
    not read, as in ``git diff-tree``."""
    if a == b:
        return {}
    left = reader.tree(a, raw_len) if a else {}
    right = reader.tree(b, raw_len) if b else {}
    found: dict[str, str | None] = {}
    for name in set(left) | set(right):
        mine, theirs = left.get(name), right.get(name)
        if mine == theirs:
            continue
        path = prefix + name.decode('utf-8', 'surrogateescape')
        mine_dir = mine is not None and mine[0] == TREE_MODE
        theirs_dir = theirs is not None and theirs[0] == TREE_MODE
        if mine_dir or theirs_dir:
            found.update(_diff(
                reader, mine[1] if mine and mine_dir else None,
                theirs[1] if theirs and theirs_dir else None,
                path + '/', raw_len, wanted,
            ))
        if not mine_dir and wanted(path):
            found[path] = mine[1] if mine else None
    return found


def _commit_bytes(commit: _Commit, tree: str, parent: str) -> bytes:
    """The original commit object with another tree and parent; every
    other header (author, committer, encoding...) kept byte for byte, a
    signature dropped (it would no longer verify)."""
    lines = [f'tree {tree}'.encode(), f'parent {parent}'.encode()]
    skipping = False
    for line in commit.headers:
        if line.startswith(b' ') and skipping:
            continue  # a continuation of the dropped signature
        skipping = False
        key = line.split(b' ', 1)[0]
        if key in (b'tree', b'parent'):
            continue
        if key in (b'gpgsig', b'gpgsig-sha256'):
            skipping = True
            continue
        lines.append(line)
    return b'\n'.join(lines) + b'\n\n' + commit.message


def rewrite_commits(
        top: str,
        plan: Plan,
        commits: Sequence[str],
        index_tree: str,
) -> tuple[list[tuple[str, str]], str]:
    """Write the rewritten commits (objects only; no ref moves).
    ``commits``: the rebased commits, oldest first, each the parent of the
    next (the first's parent stays).  Returns the (old, new) pairs and the
    new tip."""
    reader = _Reader(top)
    try:
        return _rewrite(reader, top, plan, commits, index_tree)
    finally:
        reader.close()


def _rewrite(
        reader: _Reader,
        top: str,
        plan: Plan,
        commits: Sequence[str],
        index_tree: str,
) -> tuple[list[tuple[str, str]], str]:
    scope = _scope(plan)
    parsed = []
    for oid in commits:
        _, kind, data = reader.read(oid)
        if kind != b'commit' or data is None:
            raise CannotRewrite(f'{oid} is not a commit')
        parsed.append(_parse_commit(oid, data))
    if any(len(c.parents) != 1 for c in parsed):
        raise CannotRewrite('the rebased commits include a merge commit')
    for before, after in zip(parsed, parsed[1:]):
        if after.parents[0] != before.oid:
            raise CannotRewrite('the rebased commits are not one chain')
    raw_len = len(parsed[0].oid) // 2
    tip_tree = parsed[-1].tree
    lock_paths = {
        posixpath.join(package, MAX_MIGRATION_FILENAME)
        for package in scope.package_app
    } | {LOCKFILE_FILENAME}
    scope_paths = set(scope.tip_result) | set(scope.new_path) | lock_paths

    def wanted(path: str) -> bool:
        return path in scope_paths or _is_migration(path, scope.packages)

    contents: dict[str, bytes] = {}

    def blob(oid: str) -> bytes:
        if oid not in contents:
            _, _, data = reader.read(oid)
            if data is None:
                raise CannotRewrite(f'cannot read {oid}')
            contents[oid] = data
        return contents[oid]

    tip_locks = {}
    for path in sorted(lock_paths):
        _, kind, data = reader.read(f'{parsed[-1].oid}:{path}')
        if data is not None and kind == b'blob':
            tip_locks[path] = data
    changes_by_commit: list[dict[str, bytes | None]] = []
    for commit in parsed:
        diff = _diff(reader, commit.tree, tip_tree, '', raw_len, wanted)
        present = {
            p for p in scope.new_path if not (p in diff and diff[p] is None)
        }
        differs = {
            p: (blob(oid) if oid else None) for p, oid in diff.items()
            if p not in lock_paths
        }
        locks: dict[str, bytes] = {}
        for path in lock_paths:
            if path in diff:
                lock_oid = diff[path]
                if lock_oid:
                    locks[path] = blob(lock_oid)
            elif path in tip_locks:
                locks[path] = tip_locks[path]
        changes_by_commit.append(commit_changes(scope, differs, present, locks))

    # New blobs, all at once.
    new_blobs = sorted({
        data for changes in changes_by_commit for data in changes.values()
        if data is not None
    })
    blob_ids = dict(zip(new_blobs, _write_objects(top, 'blob', new_blobs)))
    new_trees: dict[str, bytes] = {}

    def rebuild(tree_oid: str | None, prefix: str,
                changes: Mapping[str, bytes | None]) -> str | None:
        """The id of the tree at ``prefix`` with ``changes`` (paths
        relative to it) applied; None when it ends up empty."""
        entries: Listing = dict(reader.tree(tree_oid, raw_len)) if tree_oid else {}
        below: dict[bytes, dict[str, bytes | None]] = {}
        for path, data in changes.items():
            head, sep, rest = path.partition('/')
            name = head.encode('utf-8', 'surrogateescape')
            if sep:
                below.setdefault(name, {})[rest] = data
            elif data is None:
                entries.pop(name, None)
            else:
                mode = entries.get(name, (b'100644', ''))[0]
                if mode == TREE_MODE:
                    raise CannotRewrite(f'{prefix}{head}: a directory')
                entries[name] = (mode, blob_ids[data])
        for name, sub in below.items():
            child = entries.get(name)
            child_oid = child[1] if child and child[0] == TREE_MODE else None
            new_child = rebuild(
                child_oid, f'{prefix}{name.decode(errors="replace")}/', sub,
            )
            if new_child is None:
                entries.pop(name, None)
            else:
                entries[name] = (TREE_MODE, new_child)
        if not entries:
            return None
        data = _tree_bytes(entries)
        oid = _hash('tree', data, raw_len)
        if oid != tree_oid:
            new_trees[oid] = data
        return oid

    commit_trees = []
    for commit, changes in zip(parsed, changes_by_commit):
        commit_trees.append(rebuild(commit.tree, '', changes) or commit.tree)
    if commit_trees[-1] != index_tree:
        raise CannotRewrite(
            'the rewritten last commit would differ from what was resolved '
            'and staged',
        )
    pairs = []
    new_commits: dict[str, bytes] = {}
    parent = parsed[0].parents[0]
    for commit, tree in zip(parsed, commit_trees):
        data = _commit_bytes(commit, tree, parent)
        new = _hash('commit', data, raw_len)
        new_commits[new] = data
        pairs.append((commit.oid, new))
        parent = new
    # Trees before the commits naming them; ids as computed, or nothing
    # moves.
    for object_type, objects in (('tree', new_trees), ('commit', new_commits)):
        order = list(objects)
        if _write_objects(top, object_type, [objects[o] for o in order]) != order:
            raise CannotRewrite(f'git computed other {object_type} ids')
    return pairs, parent


# ------------------------------------------------------------------ refs


def move_refs(
        top: str,
        head_ref: str | None,
        pairs: Sequence[tuple[str, str]],
        old_tip: str,
        new_tip: str,
) -> tuple[list[str], list[str]]:
    """Move the branch (or a detached HEAD) from ``old_tip`` to
    ``new_tip``, then other local branches on a rebased commit.  Returns
    (moved other branches, skipped ones)."""
    if head_ref is None:
        _git(top, 'update-ref', '--no-deref', '-m', REFLOG_MESSAGE, 'HEAD', new_tip, old_tip)
    else:
        _git(top, 'update-ref', '-m', REFLOG_MESSAGE, head_ref, new_tip, old_tip)
    mapping = dict(pairs)
    listed = _git(
        top, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/',
    ).decode().splitlines()
    elsewhere = {
        line[len('branch '):]
        for line in _git(top, 'worktree', 'list', '--porcelain').decode().splitlines()
        if line.startswith('branch ')
    }
    moved: list[str] = []
    skipped: list[str] = []
    for line in listed:
        oid, _, ref = line.partition(' ')
        if ref == head_ref or oid not in mapping:
            continue
        if ref in elsewhere:
            skipped.append(ref)
            continue
        proc = run_git(top, 'update-ref', '-m', REFLOG_MESSAGE, ref, mapping[oid], oid)
        (moved if proc.returncode == 0 else skipped).append(ref)
    return moved, skipped
