"""Cycles in the migration graph, found and named the way Django names them.
"""
from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

from mergedriver.records import MigrationKey


def cycle_candidates(
        parents: Mapping[MigrationKey, frozenset[MigrationKey]],
        children: Mapping[MigrationKey, Iterable[MigrationKey]] | None = None,
) -> set[MigrationKey]:
    """Nodes left after Kahn's algorithm: those on or after a cycle.
    ``children`` is the inverse of ``parents`` when already known."""
    pending = {key: len(ps) for key, ps in parents.items()}
    if children is None:
        inverse: dict[MigrationKey, list[MigrationKey]] = {
            k: [] for k in parents
        }
        for child, ps in parents.items():
            for parent in ps:
                inverse[parent].append(child)
        children = inverse
    ready = [key for key, count in pending.items() if count == 0]
    while ready:
        key = ready.pop()
        del pending[key]
        for child in children[key]:
            count = pending[child] - 1
            pending[child] = count
            if not count:
                ready.append(child)
    return set(pending)


def find_cycles(
        parents: Mapping[MigrationKey, frozenset[MigrationKey]],
        all_children: Mapping[MigrationKey, frozenset[MigrationKey]] | None = (
            None
        ),
) -> list[tuple[list[MigrationKey], list[MigrationKey]]]:
    """Strongly connected components that hold a cycle, with one cycle each.

    Each cycle lists nodes so that every next one depends on the previous,
    like Django's ``CircularDependencyError`` text.
    """
    # Kahn's algorithm first: what it cannot order holds every cycle (plus
    # what depends on one) and is usually empty.
    remaining = cycle_candidates(parents, all_children)
    if not remaining:
        return []
    parents = {
        k: frozenset(p for p in v if p in remaining)
        for k, v in parents.items() if k in remaining
    }
    children: dict[MigrationKey, list[MigrationKey]] = {k: [] for k in parents}
    for child, ps in parents.items():
        for parent in ps:
            children[parent].append(child)
    for value in children.values():
        value.sort()
    # Tarjan's algorithm, iteratively (graphs can be deep).
    index: dict[MigrationKey, int] = {}
    low: dict[MigrationKey, int] = {}
    on_stack: set[MigrationKey] = set()
    stack: list[MigrationKey] = []
    components: list[list[MigrationKey]] = []
    for start in sorted(parents):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            key, i = work.pop()
            if i == 0:
                index[key] = low[key] = len(index)
                stack.append(key)
                on_stack.add(key)
            succ = children[key]
            if i < len(succ):
                work.append((key, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[key] = min(low[key], index[nxt])
                continue
            if work:
                caller = work[-1][0]
                low[caller] = min(low[caller], low[key])
            if low[key] == index[key]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == key:
                        break
                if len(component) > 1 or key in children[key]:
                    components.append(sorted(component))
    cycles = []
    for component in sorted(components):
        members = set(component)
        first = component[0]
        # Shortest way back to ``first`` through its children.
        previous: dict[MigrationKey, MigrationKey] = {}
        frontier = [first]
        found = first in children[first]
        while frontier and not found:
            following = []
            for key in frontier:
                for nxt in children[key]:
                    if nxt == first:
                        previous.setdefault(first, key)
                        found = True
                    elif nxt in members and nxt not in previous:
                        previous[nxt] = key
                        following.append(nxt)
            frontier = following
        path = [first]
        key = previous.get(first, first)
        while key != first:
            path.append(key)
            key = previous[key]
        path[1:] = reversed(path[1:])
        cycles.append((component, path))
    return cycles
