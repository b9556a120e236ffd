"""What ``makemigrations --merge`` computes for apps with parallel leaves.

For each conflicting app Django takes every leaf's ``forwards_plan`` filtered
to the app (its *ancestry*), counts the leading generations on which all
ancestries agree, and calls the rest of each ancestry that leaf's branch.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from itertools import takewhile

from mergedriver.errors import MigmergeError
from mergedriver.graph.model import MigrationGraph
from mergedriver.records import MigrationKey


@dataclasses.dataclass(frozen=True)
class Conflict:
    """One app with several leaves.

    ``leaves`` are sorted like Django's ``detect_conflicts``.  ``branches``
    maps each leaf name to its own migrations after the common ancestor,
    oldest first, ending with the leaf (cross-app ancestors excluded).
    ``common_ancestor`` is None when the leaves share no migration of the
    app; then each branch is the leaf's whole ancestry in the app.
    """

    app: str
    leaves: tuple[str, ...]
    common_ancestor: MigrationKey | None
    branches: Mapping[str, tuple[MigrationKey, ...]]


def ancestry(graph: MigrationGraph, leaf: MigrationKey) -> tuple[
        MigrationKey, ...]:
    """``forwards_plan(leaf)`` restricted to the leaf's app."""
    return tuple(k for k in graph.forwards_plan(leaf) if k[0] == leaf[0])


def _conflict(
        graph: MigrationGraph, app: str, names: list[str],
) -> Conflict:
    ancestries = [ancestry(graph, (app, name)) for name in names]
    common = sum(
        1 for _ in takewhile(
            lambda generation: all(k == generation[0] for k in generation),
            zip(*ancestries),
        )
    )
    return Conflict(
        app=app,
        leaves=tuple(names),
        common_ancestor=ancestries[0][common - 1] if common else None,
        branches={
            name: chain[common:] for name, chain in zip(names, ancestries)
        },
    )


def conflicts(graph: MigrationGraph) -> tuple[Conflict, ...]:
    """Every app with more than one leaf, in app order.

    Apps whose graph is unknown are left out (their leaves may be wrong), and
    so are apps whose ancestry runs into a cycle (reported by the graph).
    """
    found = []
    for app, names in graph.conflicting_apps().items():
        try:
            found.append(_conflict(graph, app, names))
        except MigmergeError:
            continue
    return tuple(found)


def require_common_ancestor(
        graph: MigrationGraph, conflict: Conflict,
) -> MigrationKey:
    """The common ancestor, or Django's error when the leaves share none."""
    if conflict.common_ancestor is not None:
        return conflict.common_ancestor
    leaf = graph.nodes[(conflict.app, conflict.leaves[0])]
    raise MigmergeError(
        f'Could not find common ancestor of {list(conflict.leaves)} '
        f'in {conflict.app}',
        path=leaf.path,
        line=leaf.class_line,
    )
