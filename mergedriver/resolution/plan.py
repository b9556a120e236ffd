"""The resolution planner: parallel leaves in, a plan or a refusal out.

Pure: it reads the tree it is given (never writes), computes nothing from
the clock but the ``now`` it receives, and returns data.  Applying the plan
(:mod:`mergedriver.resolution.apply`) and rolling databases back
(:mod:`mergedriver.resolution.rollback`) are separate steps.

Strategies (docs/design.md, "The problem"):

- ``merge``: one merge migration per conflicting app, the file
  ``makemigrations --merge`` would write;
- ``renumber``: the unpublished branch moves after the other leaf, every
  reference to its old names is rewritten, lock files follow;
- ``flag``: colliding operations; nothing is written;
- ``auto``: ``flag`` when operations collide, else ``merge``.

A plan is idempotent: once applied, the tree has one leaf per app and
planning again yields an empty plan.
"""
from __future__ import annotations

import dataclasses
import datetime
import difflib
import posixpath
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Literal
from typing import Protocol
from typing import Union

from mergedriver.check import CheckResult
from mergedriver.driver.lockfiles import Lockfile
from mergedriver.driver.lockfiles import LOCKFILE_FILENAME
from mergedriver.driver.lockfiles import MAX_MIGRATION_FILENAME
from mergedriver.driver.lockfiles import parse_lockfile
from mergedriver.driver.lockfiles import render_lockfile
from mergedriver.driver.lockfiles import render_max_migration
from mergedriver.driver.lockfiles import split_conflict
from mergedriver.errors import MigmergeError
from mergedriver.git.trees import Tree
from mergedriver.graph.model import MigrationGraph
from mergedriver.naming import parse_number
from mergedriver.naming import renumbered_name
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey
from mergedriver.resolution.conflicts import Conflict
from mergedriver.resolution.writer import build_merge_migration

Strategy = Literal['auto', 'merge', 'renumber', 'flag']
STRATEGIES: tuple[Strategy, ...] = ('auto', 'merge', 'renumber', 'flag')


class Finding(Protocol):
    """A collision or a review from :mod:`mergedriver.resolution.collisions`."""

    def one_line(self) -> str: ...


# ---------------------------------------------------------------- actions


@dataclasses.dataclass(frozen=True)
class CreateFile:
    path: str  # repo-relative, posix; must not exist
    text: str


@dataclasses.dataclass(frozen=True)
class RenameFile:
    old_path: str
    new_path: str  # must not exist
    old_text: str  # what was planned on; apply refuses if it changed
    text: str  # the content under the new name


@dataclasses.dataclass(frozen=True)
class RewriteFile:
    path: str
    old_text: str
    text: str


Action = Union[CreateFile, RenameFile, RewriteFile]


@dataclasses.dataclass(frozen=True)
class Forward:
    """Migrate ``app`` forward to ``target`` once the files are renamed:
    the same configured command, ``{target}`` the app's new leaf."""

    app: str
    target: str
    argv: tuple[str, ...]

    def command(self) -> str:
        import shlex
        return shlex.join(self.argv)


@dataclasses.dataclass(frozen=True)
class Rollback:
    """Roll ``app`` back to ``target`` before ``moved`` are renamed.

    ``argv`` is the configured command with ``{app}`` and ``{target}``
    filled in.  ``aside`` are the files to move away while it runs, so
    that Django sees one leaf: the other branches' migrations and every
    migration that depends on them.  ``forwards`` bring the database to
    the renamed files afterwards: ``app`` and every app with a migration
    depending on the moved ones (the rollback unapplied those too).
    """

    app: str
    target: str
    argv: tuple[str, ...]
    moved: tuple[MigrationKey, ...]
    aside: tuple[str, ...]
    forwards: tuple[Forward, ...] = ()

    def command(self) -> str:
        import shlex
        return shlex.join(self.argv)


@dataclasses.dataclass(frozen=True)
class Moved:
    """One renumbered branch: ``branch`` (in chain order, old names) gets
    ``new_names`` and ``new_paths``, its first member now follows ``tip``
    instead of ``ancestor``.  What rewriting each rebased commit replays."""

    app: str
    ancestor: str
    tip: str
    branch: tuple[MigrationKey, ...]
    new_names: tuple[str, ...]
    old_paths: tuple[str, ...]
    new_paths: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    strategy: Strategy
    actions: tuple[Action, ...] = ()
    rollbacks: tuple[Rollback, ...] = ()
    notes: tuple[str, ...] = ()
    moves: tuple[Moved, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.actions


@dataclasses.dataclass(frozen=True)
class Refusal:
    reasons: tuple[str, ...]
    collisions: tuple[str, ...] = ()  # one line per colliding pair
    notes: tuple[str, ...] = ()


Outcome = Union[Plan, Refusal]


# ------------------------------------------------------------------ input


@dataclasses.dataclass(frozen=True)
class PlanInput:
    """Everything the planner looks at.

    ``published``: keys of migrations present in the mainline ref's tree,
    None when there is no mainline ref.  ``stay``: keys that must not move
    (those present in the tree of the caller's ``move`` revision), None
    when the caller did not say.
    """

    check: CheckResult
    tree: Tree
    conflicts: tuple[Conflict, ...]
    now: datetime.datetime
    collisions: tuple[Finding, ...] = ()
    reviews: tuple[Finding, ...] = ()
    # Pairs merged though both branches touch them (state-only changes):
    # never blocking, always shown.
    notices: tuple[Finding, ...] = ()
    published: frozenset[MigrationKey] | None = None
    mainline: str | None = None  # the ref ``published`` was read from
    stay: frozenset[MigrationKey] | None = None
    name: str | None = None
    # Where lock files are read when planning from the index: the work
    # tree, which holds a conflicted lock file's markers (the index holds
    # its stages).  None: ``tree``.
    lock_tree: Tree | None = None

    @property
    def locks(self) -> Tree:
        return self.tree if self.lock_tree is None else self.lock_tree


class _Refuse(Exception):
    def __init__(self, *reasons: str) -> None:
        super().__init__(*reasons)
        self.reasons = reasons


def _read(tree: Tree, path: str) -> str:
    try:
        return tree.read(path).decode('utf-8')
    except UnicodeDecodeError:
        raise _Refuse(f'{path}:1: not UTF-8; cannot rewrite it')


def _location(info: MigrationInfo) -> str:
    return f'{info.path}:{info.class_line}'


# -------------------------------------------------------------- lock files


def _max_migration_actions(
        pi: PlanInput, new_leaves: Mapping[str, str],
) -> list[Action]:
    actions: list[Action] = []
    packages = pi.check.loaded.packages
    for app, leaf in sorted(new_leaves.items()):
        package = packages.get(app)
        if package is None:
            continue
        path = posixpath.join(package, MAX_MIGRATION_FILENAME)
        if not pi.locks.is_file(path):
            continue
        old = _read(pi.locks, path)
        new = render_max_migration(leaf)
        if old != new:
            actions.append(RewriteFile(path, old, new))
    return actions


def _single_leaves(graph: MigrationGraph) -> dict[str, str]:
    leaves: dict[str, list[str]] = {}
    for app, name in graph.leaf_nodes():
        leaves.setdefault(app, []).append(name)
    return {app: names[0] for app, names in leaves.items() if len(names) == 1}


def _sentry_lockfile_action(
        pi: PlanInput, new_leaves: Mapping[str, str],
) -> list[Action]:
    path = LOCKFILE_FILENAME
    if not pi.locks.is_file(path):
        return []
    old = _read(pi.locks, path)
    try:
        sides = split_conflict(old, path=path)
        if sides is None:
            lock = parse_lockfile(old, path=path)
            updates = {
                app: leaf for app, leaf in new_leaves.items()
                if lock.get(app) is not None
            }
        else:
            # Both sides of a conflicted lock file: agree where they agree,
            # else the leaf the resolved graph will have.
            ours = parse_lockfile(sides.ours, path=path)
            theirs = parse_lockfile(sides.theirs, path=path)
            known = {**_single_leaves(pi.check.graph), **new_leaves}
            updates = {}
            for app in sorted(set(ours.as_dict()) | set(theirs.as_dict())):
                mine, other = ours.get(app), theirs.get(app)
                if mine == other and app not in new_leaves:
                    continue
                updates[app] = known.get(app) or mine or other or ''
            lock = ours
            if not all(updates.values()):
                raise _Refuse(
                    f'{path}:1: conflicted lock file names an app whose '
                    f'leaf is not known; resolve it by hand',
                )
        new = render_lockfile(
            Lockfile.with_entries(lock, updates) if updates else lock,
        )
    except MigmergeError as e:
        raise _Refuse(str(e))
    return [] if new == old else [RewriteFile(path, old, new)]


def _lockfile_actions(
        pi: PlanInput, new_leaves: Mapping[str, str],
) -> list[Action]:
    return (
        _max_migration_actions(pi, new_leaves) +
        _sentry_lockfile_action(pi, new_leaves)
    )


# ------------------------------------------------------------------ merge


def _finding_notes(pi: PlanInput, *, collisions: bool) -> tuple[str, ...]:
    notes: list[str] = []
    if collisions:
        notes.extend(
            f'warning: colliding operations: {c.one_line()}'
            for c in pi.collisions
        )
    notes.extend(f'review: {r.one_line()}' for r in pi.reviews)
    notes.extend(f'review: {n.one_line()}' for n in pi.notices)
    return tuple(notes)


def _plan_merge(pi: PlanInput, strategy: Strategy) -> Plan:
    actions: list[Action] = []
    new_leaves: dict[str, str] = {}
    notes: list[str] = []
    for conflict in pi.conflicts:
        package = pi.check.loaded.packages.get(conflict.app)
        if package is None:  # pragma: no cover (a conflict has migrations)
            raise _Refuse(f'no migrations package found for {conflict.app}')
        try:
            merge = build_merge_migration(
                conflict.app, conflict.leaves, now=pi.now, name=pi.name,
            )
        except MigmergeError as e:
            raise _Refuse(str(e))
        path = posixpath.join(package, merge.filename)
        if pi.tree.entry_kind(path) is not None:
            raise _Refuse(
                f'{path}:1: a file of this name already exists; choose '
                f'another with --name',
            )
        actions.append(CreateFile(path, merge.text))
        new_leaves[conflict.app] = merge.name
        notes.append(
            f'{conflict.app}: merge migration {merge.name} depends on '
            f'{", ".join(conflict.leaves)}',
        )
    actions.extend(_lockfile_actions(pi, new_leaves))
    return Plan(
        strategy=strategy,
        actions=tuple(actions),
        notes=tuple(notes) + _finding_notes(
            pi, collisions=strategy != 'auto',
        ),
    )


# --------------------------------------------------------------- renumber


@dataclasses.dataclass(frozen=True)
class _Move:
    app: str
    ancestor: str
    tip: str  # the leaf the branch is placed after (already final name)
    branch: tuple[MigrationKey, ...]
    new_names: tuple[str, ...]
    others: tuple[MigrationKey, ...]  # every other branch's migrations


def _sides(
        pi: PlanInput, conflict: Conflict,
) -> tuple[list[str], list[str]]:
    """The leaves whose branches stay, and those whose branches move."""
    if pi.stay is not None:
        fixed, source = pi.stay, 'the tree of the given --move revision'
    elif pi.published is not None:
        fixed, source = pi.published, f'the mainline ref {pi.mainline}'
    else:
        raise _Refuse(
            f'{conflict.app}: cannot tell which branch is published: no '
            f'mainline ref (origin/HEAD, main, master) exists; set '
            f'mainline in the [tool.migmerge] configuration, or say which '
            f'side stays with --move REV',
        )
    staying = [
        leaf for leaf in conflict.leaves
        if any(k in fixed for k in conflict.branches[leaf])
    ]
    moving = [leaf for leaf in conflict.leaves if leaf not in staying]
    if len(staying) > 1:
        raise _Refuse(
            f'{conflict.app}: both sides are published (in {source}): '
            f'{", ".join(staying)}; renumbering would rename a published '
            f'migration; use --strategy merge',
        )
    if not staying:
        raise _Refuse(
            f'{conflict.app}: no branch is published (in {source}): '
            f'{", ".join(conflict.leaves)}; say which side stays with '
            f'--move REV, or use --strategy merge',
        )
    published = pi.published or frozenset()
    for leaf in moving:
        for key in conflict.branches[leaf]:
            if key in published:
                info = pi.check.graph.nodes[key]
                raise _Refuse(
                    f'{_location(info)}: {key[0]}.{key[1]} is published '
                    f'(in {pi.mainline}); it must not be renamed',
                )
    return staying, moving


def _check_movable(
        graph: MigrationGraph, conflict: Conflict, branch: tuple[
            MigrationKey, ...],
) -> None:
    assert conflict.common_ancestor is not None
    for key in branch:
        info = graph.nodes[key]
        same_app = {p for p in graph.parents[key] if p[0] == key[0]}
        if len(same_app) > 1:
            raise _Refuse(
                f'{_location(info)}: {key[0]}.{key[1]} is a merge migration '
                f'on the side being moved; renumbering cannot move it, use '
                f'--strategy merge',
            )
        if key in graph.replacements:
            raise _Refuse(
                f'{_location(info)}: {key[0]}.{key[1]} is a squashed '
                f'migration on the side being moved; renumbering cannot move '
                f'it, use --strategy merge',
            )
    previous = conflict.common_ancestor
    for key in branch:
        same_app = {p for p in graph.parents[key] if p[0] == key[0]}
        if same_app != {previous}:
            raise _Refuse(
                f'{_location(graph.nodes[key])}: {key[0]}.{key[1]} does not '
                f'follow {previous[1]} directly; the branch is not a simple '
                f'chain',
            )
        previous = key


def _moves(pi: PlanInput, conflict: Conflict) -> list[_Move]:
    graph = pi.check.graph
    if conflict.common_ancestor is None:
        first = graph.nodes[(conflict.app, conflict.leaves[0])]
        raise _Refuse(
            f'{_location(first)}: the leaves of {conflict.app} '
            f'({", ".join(conflict.leaves)}) share no migration; cannot '
            f'renumber',
        )
    staying, moving = _sides(pi, conflict)
    tip = staying[0]
    moves = []
    for leaf in moving:
        branch = conflict.branches[leaf]
        _check_movable(graph, conflict, branch)
        number = parse_number(tip)
        if number is None:
            tip_info = graph.nodes[(conflict.app, tip)]
            raise _Refuse(
                f'{_location(tip_info)}: leaf {tip!r} has no number; cannot '
                f'number migrations after it',
            )
        new_names = []
        for offset, key in enumerate(branch, start=1):
            info = graph.nodes[key]
            try:
                new_names.append(renumbered_name(
                    key[1], number + offset,
                    path=info.path, line=info.class_line,
                ))
            except MigmergeError as e:
                raise _Refuse(str(e))
        others = tuple(
            k for other in conflict.leaves if other != leaf
            for k in conflict.branches[other]
        )
        moves.append(_Move(
            conflict.app, conflict.common_ancestor[1], tip, branch,
            tuple(new_names), others,
        ))
        tip = new_names[-1]
    return moves


def _descendants(
        graph: MigrationGraph, keys: Iterable[MigrationKey],
) -> set[MigrationKey]:
    seen: set[MigrationKey] = set()
    todo = list(keys)
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        todo.extend(graph.children.get(key, ()))
    return seen


def _fill(template: Iterable[str], app: str, target: str) -> tuple[str, ...]:
    # Placeholders are filled per argv element: no shell, no quoting.
    return tuple(
        arg.replace('{app}', app).replace('{target}', target)
        for arg in template
    )


def _forwards(
        pi: PlanInput, move: _Move, final_leaves: Mapping[str, str],
) -> tuple[Forward, ...]:
    graph = pi.check.graph
    apps = {move.app} | {k[0] for k in _descendants(graph, move.branch)}
    leaves: dict[str, list[str]] = {}
    for app, name in graph.leaf_nodes():
        leaves.setdefault(app, []).append(name)
    forwards = []
    for app in sorted(apps):
        target = final_leaves.get(app)
        if target is None and len(leaves.get(app, ())) == 1:
            target = leaves[app][0]
        if target is not None:
            forwards.append(Forward(
                app, target, _fill(pi.check.config.rollback_command, app, target),
            ))
    return tuple(forwards)


def _rollback(
        pi: PlanInput, move: _Move, final_leaves: Mapping[str, str],
) -> Rollback:
    graph = pi.check.graph
    aside_keys = _descendants(graph, move.others) - set(move.branch)
    for key in list(aside_keys):
        aside_keys.update(graph.replacements.get(key, ()))
    paths = sorted(
        graph.migrations[k].path for k in aside_keys if k in graph.migrations
    )
    template = pi.check.config.rollback_command
    return Rollback(
        move.app, move.ancestor, _fill(template, move.app, move.ancestor),
        move.branch, tuple(paths), _forwards(pi, move, final_leaves),
    )


def _edges(info: MigrationInfo) -> Iterable[tuple[str, str, int]]:
    for dep in (*info.dependencies, *info.run_before, *info.replaces):
        yield dep.app, dep.name, dep.line


def _check_no_stale_reference(
        info: MigrationInfo, new: str, renames: Mapping[MigrationKey, str],
) -> None:
    """Refuse when the rewritten module still names a renamed migration.

    The parser follows edges the rewriter cannot edit in place (an
    ``append`` under ``if settings.X:``, a list built by a function...);
    writing the plan anyway would leave a NodeNotFoundError behind.
    """
    if not any((app, name) in renames for app, name, _ in _edges(info)):
        return
    # Imported here like the rewriter: only a renumber re-reads a module.
    from mergedriver.errors import ParseError
    from mergedriver.parsing.reader import read_migration

    try:
        reread = read_migration(
            new.encode(), app_label=info.app_label, name=info.name,
            path=info.path,
        )
    except ParseError as e:
        raise _Refuse(str(e))
    for app, name, line in _edges(reread):
        if (app, name) in renames:
            raise _Refuse(
                f'{info.path}:{line}: {app}.{name} is named here in a form '
                f'the renumbering cannot rewrite (built conditionally or by '
                f'code); rename it by hand, or use --strategy merge',
            )


def _plan_renumber(pi: PlanInput) -> Plan:
    graph = pi.check.graph
    moves = [m for c in pi.conflicts for m in _moves(pi, c)]
    renames: dict[MigrationKey, str] = {}
    retargets: dict[MigrationKey, tuple[MigrationKey, MigrationKey]] = {}
    for move in moves:
        for key, new in zip(move.branch, move.new_names):
            renames[key] = new
        retargets[move.branch[0]] = (
            (move.app, move.ancestor), (move.app, move.tip),
        )
    taken = {info.path for info in graph.migrations.values()}
    new_paths: dict[MigrationKey, str] = {}
    for key, new in renames.items():
        info = graph.nodes[key]
        new_path = posixpath.join(posixpath.dirname(info.path), f'{new}.py')
        if new_path in taken or pi.tree.entry_kind(new_path) is not None:
            raise _Refuse(
                f'{new_path}:1: already exists; cannot rename '
                f'{key[0]}.{key[1]} to {new}',
            )
        new_paths[key] = new_path

    actions: list[Action] = []
    for info in sorted(
            pi.check.loaded.migrations, key=lambda m: m.path,
    ):
        moved = info.key in renames
        # Only a module with an edge to a renamed migration (as parsed) can
        # change: the rest is not read (10,000 files in a large project).
        if not moved and info.key not in retargets and not any(
                (app, name) in renames for app, name, _ in _edges(info)
        ):
            continue
        old = _read(pi.tree, info.path)
        new = renumber_module(old, info.key, renames, retargets, info.path)
        _check_no_stale_reference(info, new, renames)
        if moved:
            actions.append(
                RenameFile(info.path, new_paths[info.key], old, new),
            )
        elif new != old:
            actions.append(RewriteFile(info.path, old, new))
    new_leaves = {m.app: m.new_names[-1] for m in moves}
    actions.extend(_lockfile_actions(pi, new_leaves))
    notes = [
        f'{m.app}: {", ".join(k[1] for k in m.branch)} -> '
        f'{", ".join(m.new_names)} (after {m.tip})'
        for m in moves
    ]
    return Plan(
        strategy='renumber',
        actions=tuple(actions),
        rollbacks=tuple(_rollback(pi, m, new_leaves) for m in moves),
        notes=tuple(notes) + _finding_notes(pi, collisions=True),
        moves=tuple(
            Moved(
                m.app, m.ancestor, m.tip, m.branch, m.new_names,
                tuple(graph.nodes[k].path for k in m.branch),
                tuple(new_paths[k] for k in m.branch),
            )
            for m in moves
        ),
    )


Retargets = Mapping[MigrationKey, tuple[MigrationKey, MigrationKey]]


def renumber_module(
        old: str,
        key: MigrationKey | None,
        renames: Mapping[MigrationKey, str],
        retargets: Retargets,
        path: str,
) -> str:
    """One migration module's text after the renumbering: references to
    renamed migrations rewritten, and the first moved migration's
    dependency on the common ancestor pointed at the other leaf.  Raises
    _Refuse (see :class:`RenumberRefused`)."""
    # libcst is imported only when a renumber rewrites files: a merge
    # migration (the pre-merge-commit hook's usual case) never needs it.
    from mergedriver.resolution.rewrite import Refused
    from mergedriver.resolution.rewrite import rename_references
    from mergedriver.resolution.rewrite import retarget_dependency
    from mergedriver.resolution.rewrite import Rewritten

    new = old
    # Cheap filter first: libcst only reads files that may mention a
    # renamed migration.
    if any(name in old for _, name in renames):
        result = rename_references(old, renames)
        if isinstance(result, Refused):
            raise _Refuse(f'{path}:{result.line}: {result.reason}')
        if isinstance(result, Rewritten):
            new = result.code
    retarget = retargets.get(key) if key is not None else None
    if retarget is not None:
        result = retarget_dependency(new, *retarget)
        if isinstance(result, Refused):
            raise _Refuse(f'{path}:{result.line}: {result.reason}')
        if isinstance(result, Rewritten):
            new = result.code
    return new


RenumberRefused = _Refuse


# ------------------------------------------------------------------- entry


def _flag(pi: PlanInput) -> Refusal:
    return Refusal(
        reasons=(
            'the branches change the same fields or models; no automatic '
            'resolution is correct. Nothing was written.',
        ),
        collisions=tuple(c.one_line() for c in pi.collisions),
        notes=_finding_notes(pi, collisions=False),
    )


def action_diff(old: str, new: str, old_path: str, new_path: str) -> str:
    """The unified diff a rename or rewrite shows (``resolve --dry-run``,
    the pull-request report): one line of context, every line ended."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        f'a/{old_path}', f'b/{new_path}', n=1,
    )
    return ''.join(
        line if line.endswith('\n') else line + '\n' for line in lines
    )


def make_plan(pi: PlanInput, strategy: Strategy) -> Outcome:
    """Plan the resolution of every conflict in ``pi`` with ``strategy``."""
    if strategy not in STRATEGIES:
        raise MigmergeError(f'unknown strategy {strategy!r}')
    if not pi.conflicts:
        return Plan(strategy=strategy, notes=('nothing to resolve',))
    try:
        if strategy == 'flag':
            if pi.collisions:
                return _flag(pi)
            return Refusal(
                reasons=(
                    'no colliding operations; resolve with --strategy merge '
                    'or --strategy renumber',
                ),
                notes=_finding_notes(pi, collisions=False),
            )
        if strategy == 'auto':
            if pi.collisions:
                return _flag(pi)
            if pi.reviews and pi.check.config.data_operations_block:
                return Refusal(
                    reasons=(
                        'data operations need a review '
                        '(data_operations_block is set). Nothing was written.',
                    ),
                    collisions=tuple(r.one_line() for r in pi.reviews),
                )
            return _plan_merge(pi, strategy)
        if strategy == 'merge':
            return _plan_merge(pi, strategy)
        return _plan_renumber(pi)
    except _Refuse as e:
        return Refusal(reasons=e.reasons)
