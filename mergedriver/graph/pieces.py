"""The migration graph assembled from per-app pieces cached between runs.

:func:`graph.build_graph` follows Django step by step over every migration
of the project; with 10,000 of them that is most of a hook's time, although
between two runs usually one app changed.  Here each app's own part is
computed by graph.py's builder on the app alone and cached under the key
of the app's records (load.py): its nodes, its same-app edges after its
squashes replaced what they replace, the root and the leaf another app's
``__first__`` / ``__latest__`` resolves to, and its dependencies on other
apps, not yet resolved.  Assembling the pieces is cheap.

Django's graph depends on the order apps are visited in only through
things that let one app's edges change another app's roots and leaves
while edges are added: ``run_before``, placeholders for missing targets,
``replaces`` naming another app or another squash, and dependencies that
cannot be evaluated.  An app with any of those (or a duplicate key, or a
cycle of its own) has no piece, and the caller builds the whole graph the
usual way; so does an assembly that meets a missing target.  Everything
else gives exactly what :func:`graph.build_graph` gives -- the tests
compare both on real packages and on generated projects.
"""
from __future__ import annotations

import hashlib
import json
import marshal
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import NamedTuple

from mergedriver.cache import Cache
from mergedriver.codeversion import code_version
from mergedriver.graph.builder import finish_graph
from mergedriver.graph.builder import GraphBuilder
from mergedriver.graph.builder import resolve_record
from mergedriver.graph.cycles import cycle_candidates
from mergedriver.graph.model import EDGE_ATTRIBUTES
from mergedriver.graph.model import ExternalDependency
from mergedriver.graph.model import FIRST
from mergedriver.graph.model import GraphResult
from mergedriver.graph.model import LATEST
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey
from mergedriver.records import Problem

_FORMAT = 1
# The code a piece is computed by, with all it imports: any change makes
# new keys.
PIECE_ROOTS = ('mergedriver.graph.pieces',)


class Fragment(NamedTuple):
    app: str
    # Nodes before replacements, placeholders for replaced migrations that
    # are gone included: what a dependency may name.
    nodes_before: frozenset[MigrationKey]
    # roots(app)[0] / leaves(app)[0] before replacements, as Django's
    # check_key finds them (a placeholder that a squash replaces included).
    first: MigrationKey | None
    latest: MigrationKey | None
    # Nodes after replacements, in loading order, with their same-app
    # edges.
    order: tuple[MigrationKey, ...]
    parents: dict[MigrationKey, frozenset[MigrationKey]]
    children: dict[MigrationKey, frozenset[MigrationKey]]
    replacements: dict[MigrationKey, tuple[MigrationKey, ...]]
    replaced_by: dict[MigrationKey, MigrationKey]
    # (origin, app, name, line) of each dependency on another app, in
    # loading order; the origin as written (maybe replaced since).
    outgoing: tuple[tuple[MigrationKey, str, str, int], ...]


def app_fragment(
        app: str,
        records: Sequence[MigrationInfo],
        swappable: Mapping[str, str],
) -> Fragment | None:
    """The app's piece, or None when it cannot be computed alone."""
    problems: list[Problem] = []
    resolved: dict[MigrationKey, MigrationInfo] = {}
    swappable_values = dict(swappable)
    for info in records:
        if info.app_label != app or info.key in resolved or info.run_before:
            return None
        if any(u.attribute in EDGE_ATTRIBUTES for u in info.unresolved):
            return None
        info = resolve_record(info, swappable_values, problems)
        if problems or any(d.app != app for d in info.replaces):
            return None
        resolved[info.key] = info
    order = sorted(resolved)
    replacements = {
        key: tuple(d.key for d in resolved[key].replaces)
        for key in order if resolved[key].replaces
    }
    replaced = [t for ts in replacements.values() for t in ts]
    if any(t in replacements for t in replaced):
        return None  # a squash of a squash: visiting order matters
    if len(set(replaced)) != len(replaced):
        return None  # replaced twice: the first squash met takes it
    builder = GraphBuilder(resolved)
    builder.add_nodes(order)
    outgoing = []
    for key in order:
        info = resolved[key]
        for entry in info.dependencies:
            if entry.app != app:
                outgoing.append((key, entry.app, entry.name, entry.line))
            elif entry.name != FIRST:
                builder.add_edge(info, entry, key, (app, entry.name))
    nodes_before = frozenset(builder.node_map)
    roots = builder.roots(app)
    leaves = builder.leaves(app)
    replaced_by: dict[MigrationKey, MigrationKey] = {}
    for key, targets in replacements.items():
        builder.remove_replaced_nodes(key, targets)
        for target in targets:
            if target != key:
                replaced_by[target] = key
    if any(node.dummy for node in builder.node_map.values()):
        return None  # a missing target: the whole graph reports it
    parents = {
        key: frozenset(p.key for p in node.parents)
        for key, node in builder.node_map.items()
    }
    children = {
        key: frozenset(c.key for c in node.children)
        for key, node in builder.node_map.items()
    }
    if cycle_candidates(parents, children):
        return None
    return Fragment(
        app=app,
        nodes_before=nodes_before,
        first=roots[0] if roots else None,
        latest=leaves[0] if leaves else None,
        order=tuple(builder.node_map),
        parents=parents,
        children=children,
        replacements=replacements,
        replaced_by=replaced_by,
        outgoing=tuple(outgoing),
    )


def assemble(
        migrations: Iterable[MigrationInfo],
        fragments: Mapping[str, Fragment],
        known_apps: frozenset[str],
) -> GraphResult | None:
    """The whole graph from every app's piece; None when Django's result
    would depend on more than the pieces (a missing target)."""
    by_key = {(info.app_label, info.name): info for info in migrations}
    apps = frozenset(fragments) | known_apps
    parents: dict[MigrationKey, frozenset[MigrationKey]] = {}
    children: dict[MigrationKey, frozenset[MigrationKey]] = {}
    replacements: dict[MigrationKey, tuple[MigrationKey, ...]] = {}
    replaced_by: dict[MigrationKey, MigrationKey] = {}
    external = []
    more_parents: dict[MigrationKey, set[MigrationKey]] = {}
    more_children: dict[MigrationKey, set[MigrationKey]] = {}
    app_edges: dict[str, set[str]] = {}
    # Placeholders Django makes while adding edges between apps, for
    # migrations a squash replaced and that are gone: each is a root and a
    # leaf of its app until replaced, so later __first__ / __latest__
    # answers see it (roots and leaves sort, and Django takes the first).
    placeholders: dict[str, list[MigrationKey]] = {}
    for app in sorted(fragments):
        piece = fragments[app]
        parents.update(piece.parents)
        children.update(piece.children)
        replacements.update(piece.replacements)
        replaced_by.update(piece.replaced_by)
        for origin, target_app, name, line in piece.outgoing:
            if target_app not in apps:
                external.append(ExternalDependency(
                    origin, (target_app, name), line, False,
                ))
                continue
            target_piece = fragments.get(target_app)
            key = (target_app, name)
            made = placeholders.setdefault(target_app, [])
            target: MigrationKey | None
            if target_piece is not None and (
                    key in target_piece.nodes_before or key in made
            ):
                target = key
            elif name not in (FIRST, LATEST):
                if target_piece is None or key not in target_piece.replaced_by:
                    return None  # a placeholder that stays: missing
                made.append(key)
                target = key
            elif target_piece is None:
                continue  # an app without migrations: no root, no leaf
            else:
                end = (
                    target_piece.first if name == FIRST
                    else target_piece.latest
                )
                candidates = made if end is None else [end, *made]
                if not candidates:
                    continue
                target = min(candidates)
            target = target_piece.replaced_by.get(target, target)
            source = piece.replaced_by.get(origin, origin)
            more_parents.setdefault(source, set()).add(target)
            more_children.setdefault(target, set()).add(source)
            app_edges.setdefault(target_app, set()).add(app)
    for key, extra in more_parents.items():
        parents[key] = parents[key] | extra
    for key, extra in more_children.items():
        children[key] = children[key] | extra
    return finish_graph(
        by_key, parents, children,
        replacements=replacements,
        replaced_by=replaced_by,
        unknown_apps=frozenset(),
        external=tuple(external),
        broken_apps=(),
        problems=[],
        # No app has a cycle of its own: a cycle needs one between apps.
        cycles_possible=_has_cycle(app_edges),
    )


def _has_cycle(edges: Mapping[str, set[str]]) -> bool:
    """Whether the graph of apps (app -> apps depending on it) has one."""
    nodes = set(edges) | {a for targets in edges.values() for a in targets}
    pending = {a: 0 for a in nodes}
    for targets in edges.values():
        for a in targets:
            pending[a] += 1
    ready = [a for a, n in pending.items() if n == 0]
    seen = 0
    while ready:
        a = ready.pop()
        seen += 1
        for b in edges.get(a, ()):
            pending[b] -= 1
            if pending[b] == 0:
                ready.append(b)
    return seen != len(nodes)


# ------------------------------------------------------------------ cache


def fragment_key(
        records_key: str, swappable: Mapping[str, str], version: str,
) -> str:
    text = '\0'.join((
        f'graph-fragment {_FORMAT}', version, records_key,
        json.dumps(sorted(swappable.items())),
    ))
    return 'fragment:' + hashlib.sha256(text.encode()).hexdigest()


def _to_blob(piece: Fragment | None) -> bytes:
    data: bytes = marshal.dumps(None if piece is None else tuple(piece), 4)
    return data


def _from_blob(data: bytes) -> tuple[bool, Fragment | None]:
    """(decoded, piece); piece None for an app that has none."""
    try:
        value = marshal.loads(data)
        if value is None:
            return True, None
        return True, Fragment(*value)
    except (ValueError, TypeError, EOFError):
        return False, None


def build_graph_from_fragments(
        migrations: Sequence[MigrationInfo],
        app_keys: Mapping[str, str],
        swappable: Mapping[str, str],
        known_apps: Iterable[str],
        cache: Cache,
        *,
        store: bool = True,
) -> GraphResult | None:
    """The graph from cached (or now computed) pieces; None when the whole
    graph must be built the usual way.  ``app_keys``: each app's records
    key; an app without one gets no piece."""
    by_app: dict[str, list[MigrationInfo]] = {}
    for info in migrations:
        by_app.setdefault(info.app_label, []).append(info)
    if set(by_app) - set(app_keys):
        return None
    version = code_version(*PIECE_ROOTS)
    keys = {
        app: fragment_key(app_keys[app], swappable, version)
        for app in by_app
    }
    stored = cache.get_app_records(keys.values())
    fragments: dict[str, Fragment] = {}
    new = []
    for app, records in by_app.items():
        blob = stored.get(keys[app])
        decoded, piece = (False, None) if blob is None else _from_blob(blob)
        if not decoded:
            piece = app_fragment(app, records, swappable)
            new.append((keys[app], _to_blob(piece)))
        if piece is None:
            if store:
                cache.put_app_records(new, apps=len(by_app))
            return None
        fragments[app] = piece
    if store:
        cache.put_app_records(new, apps=len(by_app))
    return assemble(migrations, fragments, frozenset(known_apps))
