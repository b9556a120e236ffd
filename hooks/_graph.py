"""The migration graph of the index, shared by the graph-wide hooks."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import pygit2

from hooks._common import work_tree
from mergedriver.config import Config
from mergedriver.config import load_config
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.graph import build_graph
from mergedriver.graph import GraphResult
from mergedriver.load import load_migrations
from mergedriver.load import LoadResult
from mergedriver.records import Problem
from mergedriver.source import open_tree


@dataclasses.dataclass(frozen=True)
class IndexGraph:
    """The migrations staged in the index (the state being committed)."""

    config: Config
    loaded: LoadResult
    graph: GraphResult

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.loaded.problems + self.graph.problems


def load_index_graph(repo: pygit2.Repository) -> IndexGraph:
    top = work_tree(repo)
    config = load_config(top)
    loaded = load_migrations(open_tree(top, index=True), config)
    graph = build_graph(loaded.migrations, swappable=config.swappable)
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
