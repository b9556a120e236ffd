"""The migration graph of the index, shared by the graph-wide hooks."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from mergedriver.cache import Cache
from mergedriver.check import graph_of
from mergedriver.check import snapshot_key
from mergedriver.config import Config
from mergedriver.config import load_config
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.git.location import Clone
from mergedriver.git.trees import open_tree
from mergedriver.graph.builder import graph_from_blob
from mergedriver.graph.builder import graph_to_blob
from mergedriver.graph.model import GraphResult
from mergedriver.parsing.load import discover_files
from mergedriver.parsing.load import gc_paused
from mergedriver.parsing.load import load_discovered
from mergedriver.parsing.load import LoadResult
from mergedriver.records import Problem


@dataclasses.dataclass(frozen=True)
class IndexGraph:
    """The migrations staged in the index (the state being committed)."""

    config: Config
    loaded: LoadResult
    graph: GraphResult

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.loaded.problems + self.graph.problems


def load_index_graph(clone: Clone) -> IndexGraph:
    """The index's records and graph.  Unchanged apps' records come from
    one blob each; a graph built for exactly these files, configuration and
    code before (pre-commit runs several hooks per commit) is read back
    instead of built again."""
    top = clone.work_tree
    config = load_config(top)
    tree = open_tree(top, index=True)
    # A hook holds the records and the graph until it exits.
    with gc_paused(keep=True), Cache(tree.cache_path) as cache:
        found = discover_files(tree, config, cache)
        loaded = load_discovered(tree, found, cache)
        key = 'graph:' + snapshot_key(config, found, cache.version)
        stored = cache.get_snapshot(key)
        graph = None
        if stored is not None:
            graph = graph_from_blob(stored, loaded.migrations)
        if graph is None:
            graph = graph_of(config, loaded, cache)
            if loaded.cacheable:
                cache.put_snapshot(key, graph_to_blob(graph))
    return IndexGraph(config, loaded, graph)


class Finding(Protocol):
    """What a hook prints: a Problem, or a hook's own finding record."""

    @property
    def unusable(self) -> bool: ...

    def one_line(self) -> str: ...


def report(problems: Sequence[Finding]) -> int:
    """Print each problem as ``path:line: message``; the exit status."""
    for problem in problems:
        print(problem.one_line())
    if any(problem.unusable for problem in problems):
        return EXIT_UNUSABLE
    return EXIT_PROBLEMS if problems else EXIT_CLEAN
