"""Django's migration graph as data: nodes, edges, leaves and roots.

What ``django.db.migrations.graph.MigrationGraph`` answers, for records that
:mod:`mergedriver.graph.builder` has put in it.  The graph knows nothing of
the disk or of git (docs/design.md, "The pipeline").
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from collections.abc import Mapping

from mergedriver.errors import MigmergeError
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey
from mergedriver.records import Problem

FIRST = '__first__'
LATEST = '__latest__'
EDGE_ATTRIBUTES = frozenset(('dependencies', 'replaces', 'run_before'))


def node_label(key: MigrationKey) -> str:
    return f'{key[0]}.{key[1]}'


@dataclasses.dataclass(frozen=True)
class ExternalDependency:
    """An edge to an app that no input migration belongs to."""

    migration: MigrationKey
    target: MigrationKey
    line: int
    run_before: bool = False


@dataclasses.dataclass(frozen=True)
class MigrationGraph:
    """The graph after replacements, as Django's ``loader.graph`` holds it.

    ``migrations`` holds every input migration (replaced ones included);
    ``nodes`` only the ones left in the graph.  ``replacements`` maps every
    migration that has ``replaces`` to what it lists (Django's
    ``loader.replacements``); ``replaced_by`` maps each key removed by a
    replacement to the node that now stands for it.
    """

    nodes: Mapping[MigrationKey, MigrationInfo]
    parents: Mapping[MigrationKey, frozenset[MigrationKey]]
    children: Mapping[MigrationKey, frozenset[MigrationKey]]
    migrations: Mapping[MigrationKey, MigrationInfo]
    replacements: Mapping[MigrationKey, tuple[MigrationKey, ...]]
    replaced_by: Mapping[MigrationKey, MigrationKey]
    apps: tuple[str, ...]
    unknown_apps: frozenset[str]
    external_dependencies: tuple[ExternalDependency, ...]
    # Every node that lies on a cycle.
    cyclic_nodes: frozenset[MigrationKey] = frozenset()
    # Apps with a missing target or a cycle, where Django stops before
    # looking at leaves: their leaves are not reported as conflicts.
    broken_apps: frozenset[str] = frozenset()

    def __contains__(self, key: object) -> bool:
        return key in self.nodes

    def edges(self) -> tuple[tuple[MigrationKey, MigrationKey], ...]:
        """Every ``(parent, child)`` edge, sorted."""
        return tuple(sorted(
            (parent, child)
            for child, parents in self.parents.items()
            for parent in parents
        ))

    @functools.cached_property
    def _by_app(self) -> dict[str, tuple[MigrationKey, ...]]:
        by_app: dict[str, list[MigrationKey]] = {}
        for key in sorted(self.nodes):
            by_app.setdefault(key[0], []).append(key)
        return {app: tuple(keys) for app, keys in by_app.items()}

    def _ends(
            self, edges: Mapping[MigrationKey, frozenset[MigrationKey]],
    ) -> dict[str, tuple[MigrationKey, ...]]:
        """App -> its nodes without an ``edges`` neighbour in the app."""
        ends: dict[str, tuple[MigrationKey, ...]] = {}
        for app, keys in self._by_app.items():
            found = []
            for key in keys:
                for k in edges[key]:
                    if k[0] == app:
                        break
                else:
                    found.append(key)
            ends[app] = tuple(found)
        return ends

    @functools.cached_property
    def _roots(self) -> dict[str, tuple[MigrationKey, ...]]:
        return self._ends(self.parents)

    @functools.cached_property
    def _leaves(self) -> dict[str, tuple[MigrationKey, ...]]:
        return self._ends(self.children)

    def root_nodes(self, app: str | None = None) -> tuple[MigrationKey, ...]:
        """Nodes without a parent in their own app, sorted like Django."""
        if app is not None:
            return self._roots.get(app, ())
        return tuple(k for keys in self._roots.values() for k in keys)

    def leaf_nodes(self, app: str | None = None) -> tuple[MigrationKey, ...]:
        """Nodes without a child in their own app, sorted like Django."""
        if app is not None:
            return self._leaves.get(app, ())
        return tuple(k for keys in self._leaves.values() for k in keys)

    def nodes_by_app(self) -> Mapping[str, tuple[MigrationKey, ...]]:
        """App -> its nodes, sorted."""
        return self._by_app

    def leaves_by_app(self) -> Mapping[str, tuple[MigrationKey, ...]]:
        """App -> :meth:`leaf_nodes` of the app."""
        return self._leaves

    def app_nodes(self, app: str) -> tuple[MigrationKey, ...]:
        return self._by_app.get(app, ())

    def conflicting_apps(self) -> dict[str, list[str]]:
        """Like ``MigrationLoader.detect_conflicts``, minus unknown and
        broken apps.

        App label -> sorted leaf names, for apps with more than one leaf;
        apps are in sorted order (Django's order here is a set's).
        """
        return {
            app: [name for _, name in leaves]
            for app, leaves in self._leaves.items()
            if len(leaves) > 1
            and app not in self.unknown_apps and app not in self.broken_apps
        }

    def forwards_plan(self, target: MigrationKey) -> tuple[MigrationKey, ...]:
        """What to apply to reach ``target``, in Django's exact order."""
        return self._plan(target, forwards=True)

    def backwards_plan(self, target: MigrationKey) -> tuple[MigrationKey, ...]:
        """What to unapply to undo ``target``, in Django's exact order."""
        return self._plan(target, forwards=False)

    def _plan(
            self, target: MigrationKey, *, forwards: bool,
    ) -> tuple[MigrationKey, ...]:
        if target not in self.nodes:
            raise MigmergeError(f'Node {target!r} not a valid node')
        # Django's iterative DFS: a node is emitted after its parents, which
        # are pushed in sorted order (so the largest is visited first).
        # Django loops forever on a cycle; a node met again while it is
        # still being expanded means one, so stop there.
        edges = self.parents if forwards else self.children
        visited: list[MigrationKey] = []
        done: set[MigrationKey] = set()
        expanding: set[MigrationKey] = set()
        stack: list[tuple[MigrationKey, bool]] = [(target, False)]
        while stack:
            key, processed = stack.pop()
            if key in done:
                continue
            if processed:
                done.add(key)
                expanding.discard(key)
                visited.append(key)
            elif key in expanding:
                raise MigmergeError(
                    f'Circular dependency involving {node_label(key)}',
                    path=self.nodes[key].path,
                    line=self.nodes[key].class_line,
                )
            else:
                expanding.add(key)
                stack.append((key, True))
                stack.extend((k, False) for k in sorted(edges[key]))
        return tuple(visited)


@dataclasses.dataclass(frozen=True)
class GraphResult:
    graph: MigrationGraph
    problems: tuple[Problem, ...]


def multiple_leaves_message(conflicts: Mapping[str, Iterable[str]]) -> str:
    """Django's text for parallel leaves (migrate / makemigrations)."""
    name_str = '; '.join(
        f'{", ".join(names)} in {app}' for app, names in conflicts.items()
    )
    return (
        f'Conflicting migrations detected; multiple leaf nodes in the '
        f'migration graph: ({name_str}).'
    )
