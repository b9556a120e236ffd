"""``migmerge check``'s engine: load a tree, build its graph, collect problems.

Shared by the CLI, the hooks and the report, so every entry point sees the
same problems in the same order.
"""
from __future__ import annotations

import dataclasses

from mergedriver.config import Config
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.graph import build_graph
from mergedriver.graph import MigrationGraph
from mergedriver.load import load_migrations
from mergedriver.load import LoadResult
from mergedriver.records import Problem
from mergedriver.source import Tree


@dataclasses.dataclass(frozen=True)
class AppSummary:
    app: str
    path: str
    migrations: int
    leaves: tuple[str, ...]
    # True: more than one leaf; False: one leaf; None: unknown (an edge of
    # the app's graph could not be evaluated statically, or it is broken).
    conflict: bool | None


@dataclasses.dataclass(frozen=True)
class CheckResult:
    config: Config
    loaded: LoadResult
    graph: MigrationGraph
    apps: tuple[AppSummary, ...]
    problems: tuple[Problem, ...]

    @property
    def exit_status(self) -> int:
        return exit_status(self.problems)


def exit_status(problems: tuple[Problem, ...]) -> int:
    """2 when any input is unusable, else 1 for findings, else 0."""
    if any(p.unusable for p in problems):
        return EXIT_UNUSABLE
    return EXIT_PROBLEMS if problems else EXIT_CLEAN


def summarize_apps(
        graph: MigrationGraph,
        packages: dict[str, str],
) -> tuple[AppSummary, ...]:
    summaries = []
    for app in sorted(set(graph.apps) | set(packages)):
        nodes = graph.app_nodes(app)
        leaves = tuple(name for _, name in graph.leaf_nodes(app))
        unknown = app in graph.unknown_apps or app in graph.broken_apps
        summaries.append(AppSummary(
            app=app,
            path=packages.get(app, ''),
            migrations=len(nodes),
            leaves=leaves,
            conflict=None if unknown else len(leaves) > 1,
        ))
    return tuple(summaries)


def check_tree(tree: Tree, config: Config) -> CheckResult:
    loaded = load_migrations(tree, config)
    built = build_graph(loaded.migrations, swappable=config.swappable)
    return CheckResult(
        config=config,
        loaded=loaded,
        graph=built.graph,
        apps=summarize_apps(built.graph, dict(loaded.packages)),
        problems=loaded.problems + built.problems,
    )
