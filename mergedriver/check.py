"""``migmerge check``'s engine: load a tree, build its graph, collect problems.

Shared by the CLI, the hooks and the report, so every entry point sees the
same problems in the same order.

:func:`check_summary` answers what ``check`` prints from a *snapshot* when
nothing changed since an earlier run: the result is stored in the parse
cache under a key that hashes every input of the answer -- each migration
file's (app, name, path, blob id), the packages found, refused files, the
configuration, the parser's version and this code's own sources -- so a
different input can never meet a stored answer.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from typing import TYPE_CHECKING

from mergedriver.cache import Cache
from mergedriver.codeversion import code_version
from mergedriver.config import Config
from mergedriver.discovery.packages import Skipped
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.git.trees import Tree
from mergedriver.parsing.load import discover_files
from mergedriver.parsing.load import Discovered
from mergedriver.parsing.load import gc_paused
from mergedriver.parsing.load import load_discovered
from mergedriver.parsing.load import LoadResult
from mergedriver.records import Problem

if TYPE_CHECKING:
    from mergedriver.graph.model import GraphResult
    from mergedriver.graph.model import MigrationGraph

# Bump when the snapshot layout below changes.
SNAPSHOT_FORMAT = 2
# The code that decides a check's answer once the files are known: this
# module and all it imports (codeversion.py; the parser is in the cache's
# version too).
SNAPSHOT_ROOTS = ('mergedriver.check',)


@dataclasses.dataclass(frozen=True)
class AppSummary:
    app: str
    path: str
    migrations: int
    leaves: tuple[str, ...]
    # True: more than one leaf; False: one leaf; None: unknown (an edge of
    # the app's graph could not be evaluated statically, or it is broken).
    conflict: bool | None


def exit_status(problems: tuple[Problem, ...]) -> int:
    """2 when any input is unusable, else 1 for findings, else 0."""
    if any(p.unusable for p in problems):
        return EXIT_UNUSABLE
    return EXIT_PROBLEMS if problems else EXIT_CLEAN


@dataclasses.dataclass(frozen=True)
class CheckSummary:
    """Everything ``check``'s text and JSON output needs, without the graph."""

    apps: tuple[AppSummary, ...]
    problems: tuple[Problem, ...]
    # App -> files of its leaves, for each app with a multiple-leaves problem.
    leaf_files: Mapping[str, tuple[str, ...]]
    # Nodes in the graph (after squash replacement).
    migrations: int
    # ``migrations`` packages not taken as apps, and why.
    skipped: tuple[Skipped, ...] = ()
    # Whether this came from a stored snapshot (not part of the answer).
    from_snapshot: bool = dataclasses.field(default=False, compare=False)

    @property
    def exit_status(self) -> int:
        return exit_status(self.problems)


@dataclasses.dataclass(frozen=True)
class CheckResult:
    config: Config
    loaded: LoadResult
    graph: MigrationGraph
    apps: tuple[AppSummary, ...]
    problems: tuple[Problem, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def exit_status(self) -> int:
        return exit_status(self.problems)

    def summary(self) -> CheckSummary:
        leaf_files = {
            p.app: tuple(
                self.graph.nodes[key].path
                for key in self.graph.leaf_nodes(p.app)
            )
            for p in self.problems
            if p.kind == 'multiple-leaves' and p.app is not None
        }
        return CheckSummary(
            self.apps, self.problems, leaf_files, len(self.graph.nodes),
            self.skipped,
        )


def summarize_apps(
        graph: MigrationGraph,
        packages: Mapping[str, str],
) -> tuple[AppSummary, ...]:
    summaries = []
    by_app = graph.nodes_by_app()
    leaves_by_app = graph.leaves_by_app()
    for app in sorted(set(graph.apps) | set(packages)):
        leaves = tuple(name for _, name in leaves_by_app.get(app, ()))
        unknown = app in graph.unknown_apps or app in graph.broken_apps
        summaries.append(AppSummary(
            app=app,
            path=packages.get(app, ''),
            migrations=len(by_app.get(app, ())),
            leaves=leaves,
            conflict=None if unknown else len(leaves) > 1,
        ))
    return tuple(summaries)


def graph_of(
        config: Config, loaded: LoadResult, cache: Cache | None = None,
) -> GraphResult:
    """The graph of loaded migrations, the one way every caller builds it
    (apps with an empty migrations package count as known).  With a
    cache, from per-app pieces where that gives the same graph
    (fragments.py)."""
    # Imported here: a check answered from a snapshot builds no graph.
    from mergedriver.graph.builder import build_graph

    if cache is not None and cache.enabled:
        from mergedriver.graph.pieces import build_graph_from_fragments

        with gc_paused():
            built = build_graph_from_fragments(
                loaded.migrations, loaded.app_keys, config.swappable,
                loaded.packages, cache, store=loaded.cacheable,
            )
        if built is not None:
            return built
    return build_graph(
        loaded.migrations, swappable=config.swappable,
        known_apps=loaded.packages,
    )


def check_loaded(
        config: Config,
        loaded: LoadResult,
        cache: Cache | None = None,
        skipped: tuple[Skipped, ...] = (),
) -> CheckResult:
    built = graph_of(config, loaded, cache)
    return CheckResult(
        config=config,
        loaded=loaded,
        graph=built.graph,
        apps=summarize_apps(built.graph, loaded.packages),
        problems=loaded.problems + built.problems,
        skipped=skipped,
    )


def check_tree(tree: Tree, config: Config) -> CheckResult:
    with Cache(tree.cache_path) as cache:
        found = discover_files(tree, config, cache)
        loaded = load_discovered(tree, found, cache)
        return check_loaded(config, loaded, cache, found.skipped)


# ------------------------------------------------------------- snapshots


def _config_key(config: Config) -> str:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, Mapping):
            value = sorted(value.items())
        values[field.name] = value
    return json.dumps(values, sort_keys=True)


def snapshot_key(config: Config, found: Discovered, version: str) -> str:
    """A hash of every input of a check's answer.  ``version`` names the
    code (parser and graph) that computes it."""
    parts = [
        f'snapshot {SNAPSHOT_FORMAT}', version,
        code_version(*SNAPSHOT_ROOTS), _config_key(config),
        json.dumps(sorted(found.packages.items())),
        json.dumps(found.skipped),
    ]
    parts.extend(
        f'{f.app_label}\0{f.name}\0{f.path}\0{f.oid}' for f in found.readable
    )
    parts.extend(
        f'refused\0{p.app}\0{p.migration}\0{p.file}\0{p.message}'
        for p in found.refused
    )
    text = '\n'.join(parts).encode('utf-8', 'surrogateescape')
    return hashlib.sha256(text).hexdigest()


def summary_to_json(summary: CheckSummary) -> bytes:
    document = {
        'apps': [
            [a.app, a.path, a.migrations, list(a.leaves), a.conflict]
            for a in summary.apps
        ],
        'problems': [
            [p.kind, p.message, p.app, p.migration, p.file, p.line]
            for p in summary.problems
        ],
        'leaf_files': {k: list(v) for k, v in summary.leaf_files.items()},
        'migrations': summary.migrations,
        'skipped': [list(s) for s in summary.skipped],
    }
    return json.dumps(document, separators=(',', ':')).encode()


def summary_from_json(data: bytes) -> CheckSummary | None:
    """Inverse of :func:`summary_to_json`; None for a damaged snapshot."""
    try:
        document = json.loads(data)
        return CheckSummary(
            apps=tuple(
                AppSummary(app, path, count, tuple(leaves), conflict)
                for app, path, count, leaves, conflict in document['apps']
            ),
            problems=tuple(
                Problem(kind, message, app, migration, file, line)
                for kind, message, app, migration, file, line
                in document['problems']
            ),
            leaf_files={
                k: tuple(v) for k, v in document['leaf_files'].items()
            },
            migrations=int(document['migrations']),
            skipped=tuple(
                Skipped(path, why) for path, why in document['skipped']
            ),
            from_snapshot=True,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def check_summary(
        tree: Tree,
        config: Config,
        *,
        cache: Cache | None = None,
        progress: bool | None = None,
) -> CheckSummary:
    """What :func:`check_tree` would report, from a snapshot when one was
    stored for exactly these inputs (a warm run reads no migration)."""
    own_cache = cache is None
    if cache is None:
        cache = Cache(tree.cache_path)
    try:
        found = discover_files(tree, config, cache)
        key = snapshot_key(config, found, cache.version)
        stored = cache.get_snapshot(key)
        if stored is not None:
            summary = summary_from_json(stored)
            if summary is not None:
                return summary
        loaded = load_discovered(tree, found, cache, progress=progress)
        summary = check_loaded(
            config, loaded, cache, found.skipped,
        ).summary()
        if loaded.cacheable:
            cache.put_snapshot(key, summary_to_json(summary))
        return summary
    finally:
        if own_cache:
            cache.close()
