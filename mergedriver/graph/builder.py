"""Django's migration graph, built statically with MigrationLoader's rules.

The rules are those of ``MigrationLoader.build_graph`` for a loader without a
database connection (nothing applied), reimplemented over ``MigrationInfo``
records:

1. every migration is a node, replacing (squashed) ones included;
2. same-app dependencies are added first (a same-app ``__first__`` is
   ignored, a same-app ``__latest__`` names a node that never exists);
3. then cross-app dependencies and ``run_before`` edges, resolving
   ``__first__`` / ``__latest__`` to ``root_nodes(app)[0]`` /
   ``leaf_nodes(app)[0]`` of the graph as it is at that moment, and creating
   placeholder nodes for targets that do not exist;
4. every squash replaces its targets (nothing is applied, so the replacement
   is always usable): the replaced nodes go and their edges move to it;
5. placeholders that survive are missing dependencies; then cycles.

Django visits migrations in ``INSTALLED_APPS`` order and each app's modules in
``set`` order, which varies between runs (hash randomization).  The result
depends on it only in corner cases, where Django itself is not repeatable:
a squash of a squash (Django fails with "Unable to find replacement node"
when it meets the outer one first), two squashes replacing the same
migration (the first one met takes its edges), a same-app ``run_before``
moving a root or leaf that another app's ``__first__`` / ``__latest__`` is
resolved to.  We use :func:`loading_order`: keys sorted, except that a
squash named in another squash's ``replaces`` comes before it, the one order
in which Django accepts a squash of a squash.  The oracle tests make Django
visit in that same order (any order is one Django may take).

Apps that no input migration belongs to are *external* (Django's own apps
when a project does not vendor Django): edges to them are recorded in
``MigrationGraph.external_dependencies`` and kept out of the graph.
"""
from __future__ import annotations

import dataclasses
import gc
import marshal
import operator
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Literal

from mergedriver.graph.cycles import find_cycles
from mergedriver.graph.model import EDGE_ATTRIBUTES
from mergedriver.graph.model import ExternalDependency
from mergedriver.graph.model import FIRST
from mergedriver.graph.model import GraphResult
from mergedriver.graph.model import LATEST
from mergedriver.graph.model import MigrationGraph
from mergedriver.graph.model import multiple_leaves_message
from mergedriver.graph.model import node_label
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey
from mergedriver.records import Problem
from mergedriver.records import resolve_swappable


def loading_order(keys: Iterable[MigrationKey], replaces: Mapping[
        MigrationKey, Iterable[MigrationKey]]) -> tuple[MigrationKey, ...]:
    """The order in which migrations are visited (see the module doc).

    ``replaces`` maps squashes to what they replace.  Sorted keys, with each
    squash moved before any squash that replaces it.
    """
    # dict.fromkeys, not set: input that is already sorted (discovery's
    # order) then sorts in linear time.
    ordered = sorted(dict.fromkeys(keys))
    squashes = {key: tuple(value) for key, value in replaces.items()}
    if not any(k in squashes for value in squashes.values() for k in value):
        return tuple(ordered)  # no squash of a squash: plain sorted order
    placed: set[MigrationKey] = set()
    result: list[MigrationKey] = []

    def place(key: MigrationKey, path: frozenset[MigrationKey]) -> None:
        if key in placed:
            return
        for inner in sorted(squashes.get(key, ())):
            if inner in squashes and inner not in path and inner != key:
                place(inner, path | {key})
        placed.add(key)
        result.append(key)

    for key in ordered:
        place(key, frozenset())
    # Keep only input keys (``replaces`` may name keys that do not exist).
    existing = set(ordered)
    return tuple(key for key in result if key in existing)


class _Node:
    """Mutable node while building, like Django's ``Node`` / ``DummyNode``.

    Django's nodes compare by key; there is never more than one node per key
    here, so identity does the same, faster.
    """

    __slots__ = ('key', 'dummy', 'parents', 'children')

    def __init__(self, key: MigrationKey, *, dummy: bool = False) -> None:
        self.key = key
        self.dummy = dummy
        self.parents: set[_Node] = set()
        self.children: set[_Node] = set()


@dataclasses.dataclass(frozen=True)
class _Reference:
    """Who pointed at a placeholder node, to report it where it is written."""

    origin: MigrationInfo
    entry: Dependency
    role: Literal['parent', 'child']


class GraphBuilder:
    """Django's graph while it is being built: nodes (placeholders too),
    edges, ``__first__`` / ``__latest__`` answers.  Used for the whole
    graph here and for one app at a time by fragments.py."""

    def __init__(
            self,
            migrations: Mapping[MigrationKey, MigrationInfo],
            known_apps: frozenset[str] = frozenset(),
    ):
        self.migrations = migrations
        # Apps that Django would know: those with migrations, and those that
        # a squash replaces (an app renamed by ``replaces`` naming the old
        # label, whose migrations are gone: edges to it get remapped).
        self.apps = frozenset(key[0] for key in migrations) | frozenset(
            d.app for info in migrations.values() for d in info.replaces
        ) | known_apps
        # Insertion-ordered like Django's ``graph.nodes``; placeholders too.
        self.node_map: dict[MigrationKey, _Node] = {}
        self.by_app: dict[str, list[_Node]] = {}
        # root/leaf answers per (app, __first__|__latest__), valid while the
        # app's own edges and nodes do not change.
        self.version: dict[str, int] = {}
        self.ends: dict[tuple[str, str], tuple[int, MigrationKey | None]] = {}
        self.references: dict[MigrationKey, list[_Reference]] = {}
        self.external: list[ExternalDependency] = []
        self.problems: list[Problem] = []

    def add_node(self, key: MigrationKey, *, dummy: bool = False) -> _Node:
        node = self.node_map[key] = _Node(key, dummy=dummy)
        app = key[0]
        by_app = self.by_app.get(app)
        if by_app is None:
            self.by_app[app] = [node]
        else:
            by_app.append(node)
        self.version[app] = self.version.get(app, 0) + 1
        return node

    def add_nodes(self, keys: Iterable[MigrationKey]) -> None:
        """:meth:`add_node` for each key, in one pass (a warm hook adds
        every migration of the project)."""
        node_map = self.node_map
        by_app = self.by_app
        version = self.version
        for key in keys:
            node = node_map[key] = _Node(key)
            app = key[0]
            siblings = by_app.get(app)
            if siblings is None:
                by_app[app] = [node]
                version[app] = version.get(app, 0) + 1
            else:
                siblings.append(node)

    def changed(self, app: str) -> None:
        self.version[app] = self.version.get(app, 0) + 1

    def node(
            self,
            key: MigrationKey,
            origin: MigrationInfo,
            entry: Dependency,
            role: Literal['parent', 'child'],
    ) -> _Node:
        node = self.node_map.get(key)
        if node is None:
            node = self.add_node(key, dummy=True)
        if node.dummy:
            self.references.setdefault(key, []).append(
                _Reference(origin, entry, role),
            )
        return node

    def add_edge(
            self,
            origin: MigrationInfo,
            entry: Dependency,
            child: MigrationKey,
            parent: MigrationKey,
    ) -> None:
        # Most edges join two real nodes: no placeholder, no reference.
        child_node = self.node_map.get(child)
        if child_node is None or child_node.dummy:
            child_node = self.node(child, origin, entry, 'child')
        parent_node = self.node_map.get(parent)
        if parent_node is None or parent_node.dummy:
            parent_node = self.node(parent, origin, entry, 'parent')
        child_node.parents.add(parent_node)
        parent_node.children.add(child_node)
        if child[0] == parent[0]:
            self.version[child[0]] = self.version.get(child[0], 0) + 1

    # Only used before replacements, while ``by_app`` matches ``node_map``.
    def roots(self, app: str) -> list[MigrationKey]:
        return sorted(
            node.key for node in self.by_app.get(app, ())
            if all(p.key[0] != app for p in node.parents)
        )

    def leaves(self, app: str) -> list[MigrationKey]:
        return sorted(
            node.key for node in self.by_app.get(app, ())
            if all(c.key[0] != app for c in node.children)
        )

    def check_key(
            self, key: MigrationKey, current_app: str,
    ) -> MigrationKey | None:
        """Resolve ``__first__`` / ``__latest__`` like Django's check_key."""
        if key[1] not in (FIRST, LATEST) or key in self.node_map:
            return key
        if key[0] == current_app:
            return None  # Django ignores them within the app (#22325).
        version = self.version.get(key[0], 0)
        cached = self.ends.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = self.roots(key[0]) if key[1] == FIRST else self.leaves(key[0])
        answer = found[0] if found else None
        self.ends[key] = (version, answer)
        return answer

    def is_external(
            self, origin: MigrationInfo, entry: Dependency, run_before: bool,
    ) -> bool:
        if entry.app in self.apps:
            return False
        self.external.append(ExternalDependency(
            origin.key, entry.key, entry.line, run_before,
        ))
        return True

    def remove_replaced_nodes(
            self, replacement: MigrationKey, replaced_keys: Iterable[MigrationKey],
    ) -> bool:
        replaced = set(replaced_keys)
        replacement_node = self.node_map.get(replacement)
        if replacement_node is None:
            return False
        for replaced_key in replaced:
            replaced_node = self.node_map.pop(replaced_key, None)
            if replaced_node is None:
                continue
            # Edges between replaced nodes vanish; the others move to the
            # replacement.
            for child in replaced_node.children:
                child.parents.discard(replaced_node)
                if child.key not in replaced:
                    replacement_node.children.add(child)
                    child.parents.add(replacement_node)
            for parent in replaced_node.parents:
                parent.children.discard(replaced_node)
                if parent.key not in replaced:
                    replacement_node.parents.add(parent)
                    parent.children.add(replacement_node)
        return True


def _unresolved_problems(info: MigrationInfo) -> list[Problem]:
    return [
        Problem(
            'unresolved-expression', u.message, app=info.app_label,
            migration=info.name, file=info.path, line=u.line,
        )
        for u in info.unresolved if u.attribute in EDGE_ATTRIBUTES
    ]


def resolve_record(
        info: MigrationInfo,
        swappable: dict[str, str],
        problems: list[Problem],
) -> MigrationInfo:
    """Resolve swappable dependencies; drop (and report) unresolvable ones."""
    for entries in (info.dependencies, info.run_before, info.replaces):
        for e in entries:
            if e.setting is not None or not e.app:
                break
        else:
            continue
        break
    else:
        return info

    def resolve(entries: tuple[Dependency, ...]) -> tuple[Dependency, ...]:
        kept = []
        for entry in entries:
            entry = resolve_swappable(entry, swappable)
            if not entry.app:
                problems.append(Problem(
                    'unresolved-expression',
                    f'swappable_dependency(settings.{entry.setting}): '
                    f'setting {entry.setting} is not configured '
                    f'(add it to the swappable configuration)'
                    if entry.setting else
                    f'dependency without an app label: {entry.key!r}',
                    app=info.app_label, migration=info.name,
                    file=info.path, line=entry.line,
                ))
                continue
            kept.append(entry)
        return tuple(kept)

    return dataclasses.replace(
        info,
        dependencies=resolve(info.dependencies),
        run_before=resolve(info.run_before),
        replaces=resolve(info.replaces),
    )


def build_graph(
        migrations: Iterable[MigrationInfo],
        *,
        swappable: Mapping[str, str],
        known_apps: Iterable[str] = (),
) -> GraphResult:
    """Build the graph Django would build, and report what Django rejects.

    Never raises for bad graphs: missing targets, cycles, unresolved
    expressions and parallel leaves all come back as problems.
    ``known_apps``: apps that have a migrations package even when it holds
    no migration (Django counts them as migrated: a dependency on one of
    their migrations is missing, not external).
    """
    # Tens of thousands of long-lived objects and no garbage: the
    # collector would only walk them again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_graph(migrations, swappable, frozenset(known_apps))
    finally:
        if enabled:
            gc.enable()


def _build_graph(
        migrations: Iterable[MigrationInfo],
        swappable: Mapping[str, str],
        known_apps: frozenset[str],
) -> GraphResult:
    problems: list[Problem] = []
    by_key: dict[MigrationKey, MigrationInfo] = {}
    for info in migrations:
        key = (info.app_label, info.name)
        if key in by_key:
            problems.append(Problem(
                'parse-error',
                f'Migration {node_label(key)} is defined twice '
                f'(also in {by_key[key].path})',
                app=info.app_label, migration=info.name,
                file=info.path, line=1,
            ))
            continue
        by_key[key] = info

    with_unresolved = sorted(
        key for key, info in by_key.items() if info.unresolved
    )
    unknown_apps = frozenset(
        key[0] for key in with_unresolved if not by_key[key].graph_is_known
    )
    for key in with_unresolved:
        problems.extend(_unresolved_problems(by_key[key]))
    swappable_values = dict(swappable)
    resolved = {
        key: resolve_record(info, swappable_values, problems)
        for key, info in by_key.items()
    }
    order = loading_order(
        resolved,
        {k: [d.key for d in m.replaces] for k, m in resolved.items() if m.replaces},
    )

    builder = GraphBuilder(resolved, known_apps)
    builder.add_nodes(order)
    replacements = {
        key: tuple(d.key for d in resolved[key].replaces)
        for key in order if resolved[key].replaces
    }
    # Same-app dependencies first so that ``__first__`` finds the real root.
    node_map = builder.node_map
    version = builder.version
    for key in order:
        info = resolved[key]
        app = key[0]
        for entry in info.dependencies:
            if entry.app == app and entry.name != FIRST:
                parent_node = node_map.get((app, entry.name))
                if parent_node is None or parent_node.dummy:
                    builder.add_edge(info, entry, key, (app, entry.name))
                else:
                    # add_edge's common case, inlined; the app's edges
                    # change, so its cached root and leaf answers go.
                    child_node = node_map[key]
                    child_node.parents.add(parent_node)
                    parent_node.children.add(child_node)
                    version[app] += 1
    for key in order:
        info = resolved[key]
        for entry in info.dependencies:
            if entry.app == key[0]:
                continue
            if builder.is_external(info, entry, run_before=False):
                continue
            parent = builder.check_key(entry.key, key[0])
            if parent is not None:
                builder.add_edge(info, entry, key, parent)
        for entry in info.run_before:
            if builder.is_external(info, entry, run_before=True):
                continue
            child = builder.check_key(entry.key, key[0])
            if child is not None:
                builder.add_edge(info, entry, child, key)

    # Nothing is applied, so every squash is used.  ``replaced_by`` follows
    # chains (a squash replaced by a later squash).
    replaced_by: dict[MigrationKey, MigrationKey] = {}
    broken_apps: set[str] = set()
    for key, targets in replacements.items():
        if not builder.remove_replaced_nodes(key, targets):
            info = by_key[key]
            broken_apps.add(key[0])
            problems.append(Problem(
                'missing-dependency',
                f'Unable to find replacement node {key!r}. It was either '
                f'never added to the migration graph, or has been removed.',
                app=key[0], migration=key[1], file=info.path,
                line=info.class_line,
            ))
            continue
        for target in targets:
            if target != key:
                replaced_by[target] = key
    for target, replacement in list(replaced_by.items()):
        seen = {target}
        while replacement in replaced_by and replacement not in seen:
            seen.add(replacement)
            replacement = replaced_by[replacement]
        replaced_by[target] = replacement

    missing: list[tuple[MigrationKey, int, Problem]] = []
    for key, node in builder.node_map.items():
        if not node.dummy:
            continue
        for ref in builder.references.get(key, ()):
            broken_apps.update((key[0], ref.origin.app_label))
            if not ref.origin.graph_is_known:
                continue  # Already reported as unresolved; may be a guess.
            missing.append((ref.origin.key, ref.entry.line, Problem(
                'missing-dependency',
                f'Migration {node_label(ref.origin.key)} dependencies reference '
                f'nonexistent {ref.role} node {key!r}',
                app=ref.origin.app_label, migration=ref.origin.name,
                file=ref.origin.path, line=ref.entry.line,
            )))
    problems.extend(
        problem for _, _, problem in sorted(missing, key=lambda m: m[:2])
    )

    real = {
        key: node for key, node in builder.node_map.items() if not node.dummy
    }
    parents: dict[MigrationKey, frozenset[MigrationKey]] = {}
    children: dict[MigrationKey, frozenset[MigrationKey]] = {}
    if len(real) == len(builder.node_map):
        # No placeholder: every neighbour is real.
        key_of = operator.attrgetter('key')
        for key, node in real.items():
            parents[key] = frozenset(map(key_of, node.parents))
            children[key] = frozenset(map(key_of, node.children))
    else:
        for key, node in real.items():
            parents[key] = frozenset([
                p.key for p in node.parents if p.key in real
            ])
            children[key] = frozenset([
                c.key for c in node.children if c.key in real
            ])
    return finish_graph(
        by_key, parents, children,
        replacements=replacements,
        replaced_by=replaced_by,
        unknown_apps=unknown_apps,
        external=tuple(builder.external),
        broken_apps=broken_apps,
        problems=problems,
    )


def finish_graph(
        by_key: Mapping[MigrationKey, MigrationInfo],
        parents: Mapping[MigrationKey, frozenset[MigrationKey]],
        children: Mapping[MigrationKey, frozenset[MigrationKey]],
        *,
        replacements: Mapping[MigrationKey, tuple[MigrationKey, ...]],
        replaced_by: Mapping[MigrationKey, MigrationKey],
        unknown_apps: frozenset[str],
        external: tuple[ExternalDependency, ...],
        broken_apps: Iterable[str],
        problems: list[Problem],
        cycles_possible: bool = True,
) -> GraphResult:
    """The last steps of building, on the final edges (``parents`` holds
    every real node, in Django's order): cycles, then parallel leaves.
    ``cycles_possible=False`` when the caller knows there is none."""
    cycles = find_cycles(parents, children) if cycles_possible else []
    for _, cycle in cycles:
        info = by_key[cycle[0]]
        problems.append(Problem(
            'cycle',
            'Circular dependency between migrations: '
            + ', '.join(node_label(k) for k in cycle + [cycle[0]]),
            app=info.app_label, migration=info.name, file=info.path,
            line=info.class_line,
        ))

    graph = MigrationGraph(
        nodes={key: by_key[key] for key in parents},
        parents=parents,
        children=children,
        migrations=by_key,
        replacements=replacements,
        replaced_by=replaced_by,
        apps=tuple(sorted({key[0] for key in by_key})),
        unknown_apps=unknown_apps,
        external_dependencies=external,
        cyclic_nodes=frozenset(k for scc, _ in cycles for k in scc),
        broken_apps=frozenset(
            set(broken_apps) | {k[0] for scc, _ in cycles for k in scc},
        ),
    )
    for app, names in graph.conflicting_apps().items():
        leaf = by_key[(app, names[0])]
        problems.append(Problem(
            'multiple-leaves',
            multiple_leaves_message({app: names}),
            app=app, migration=leaf.name, file=leaf.path,
            line=leaf.class_line,
        ))
    return GraphResult(graph, tuple(problems))


# ---- a built graph as one blob, to skip rebuilding it for the same input
#
# Keys, edges and problems only: the records themselves are passed back in
# (the caller has loaded them anyway), so the blob is small and marshal
# reads it in C.  Whoever stores it keys it by everything the graph depends
# on (check.snapshot_key: the files, the configuration, this code).

_GRAPH_BLOB_FORMAT = 1


def graph_to_blob(result: GraphResult) -> bytes:
    graph = result.graph
    data: bytes = marshal.dumps((
        _GRAPH_BLOB_FORMAT,
        tuple(graph.migrations),
        tuple(graph.nodes),
        dict(graph.parents),
        dict(graph.children),
        dict(graph.replacements),
        dict(graph.replaced_by),
        graph.apps,
        graph.unknown_apps,
        tuple(
            (d.migration, d.target, d.line, d.run_before)
            for d in graph.external_dependencies
        ),
        graph.cyclic_nodes,
        graph.broken_apps,
        tuple(
            (p.kind, p.message, p.app, p.migration, p.file, p.line)
            for p in result.problems
        ),
    ), 4)
    return data


def graph_from_blob(
        data: bytes, migrations: Iterable[MigrationInfo],
) -> GraphResult | None:
    """The graph :func:`graph_to_blob` stored, over these records (the
    ones it was built from); None when the blob does not fit them."""
    try:
        (
            version, migration_keys, node_keys, parents, children,
            replacements, replaced_by, apps, unknown_apps, external,
            cyclic_nodes, broken_apps, problems,
        ) = marshal.loads(data)
        if version != _GRAPH_BLOB_FORMAT:
            return None
        by_key: dict[MigrationKey, MigrationInfo] = {}
        for info in migrations:
            by_key.setdefault((info.app_label, info.name), info)
        if tuple(by_key) != migration_keys:
            return None
        graph = MigrationGraph(
            nodes={key: by_key[key] for key in node_keys},
            parents=parents,
            children=children,
            migrations=by_key,
            replacements=replacements,
            replaced_by=replaced_by,
            apps=apps,
            unknown_apps=unknown_apps,
            external_dependencies=tuple(
                ExternalDependency(*e) for e in external
            ),
            cyclic_nodes=cyclic_nodes,
            broken_apps=broken_apps,
        )
        return GraphResult(graph, tuple(Problem(*p) for p in problems))
    except (ValueError, TypeError, EOFError, KeyError):
        return None
