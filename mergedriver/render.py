"""Render check results and graphs: text for people, JSON and Mermaid for tools.

The JSON shapes are a public interface (the pull-request bot and other tools
read them): add keys if needed, never rename or remove one.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mergedriver.check import CheckResult
from mergedriver.check import CheckSummary
from mergedriver.records import Problem

if TYPE_CHECKING:  # a check answered from a snapshot imports no graph code
    from mergedriver.graph.model import MigrationGraph

JSON_VERSION = 1


def fix_hint(app: str) -> str:
    return (
        f'fix: migmerge resolve (or: python manage.py makemigrations '
        f'--merge {app})'
    )


def _summary(result: CheckResult | CheckSummary) -> CheckSummary:
    return result if isinstance(result, CheckSummary) else result.summary()


def _plural(count: int, noun: str) -> str:
    return f'{count} {noun}' if count == 1 else f'{count} {noun}s'


def skipped_line(path: str, why: str) -> str:
    return f'{path}: skipped: {why}'


def check_text(
        result: CheckResult | CheckSummary, *, uncovered: Sequence[str] = (),
) -> str:
    """One ``path:line: message`` line per problem, details indented below;
    one line per ``migrations`` package not taken as an app, and per
    package the clone's merge driver does not cover (``uncovered``)."""
    result = _summary(result)
    lines = [skipped_line(s.path, s.why) for s in result.skipped]
    if uncovered:
        from mergedriver.integration.install import uncovered_line

        lines.extend(uncovered_line(package) for package in uncovered)
    for problem in result.problems:
        lines.append(problem.one_line())
        if problem.kind == 'multiple-leaves' and problem.app is not None:
            for path in result.leaf_files[problem.app]:
                lines.append(f'  leaf: {path}')
            lines.append(f'  {fix_hint(problem.app)}')
    if not result.problems:
        count = result.migrations
        apps = len(result.apps)
        lines.append(
            f'{_plural(count, "migration")} in {_plural(apps, "app")}: '
            f'one leaf per app, no problems',
        )
    return '\n'.join(lines) + '\n'


def problem_json(problem: Problem) -> dict[str, object]:
    return {
        'kind': problem.kind,
        'app': problem.app,
        'migration': problem.migration,
        'file': problem.file,
        'line': problem.line,
        'message': problem.message,
    }


def check_json(
        result: CheckResult | CheckSummary, *, uncovered: Sequence[str] = (),
) -> str:
    result = _summary(result)
    document = {
        'version': JSON_VERSION,
        'apps': [
            {
                'app': s.app,
                'path': s.path,
                'migrations': s.migrations,
                'leaves': list(s.leaves),
                'conflict': s.conflict,
            }
            for s in result.apps
        ],
        'problems': [problem_json(p) for p in result.problems],
        'skipped': [{'path': s.path, 'why': s.why} for s in result.skipped],
        # packages this clone's merge driver does not cover
        'uncovered': list(uncovered),
    }
    return json.dumps(document, indent=2) + '\n'


def graph_json(graph: MigrationGraph) -> str:
    # Edges to apps outside the analysed tree (e.g. ``auth``) are real
    # dependencies too, though they have no node.
    external: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for dep in graph.external_dependencies:
        if not dep.run_before:
            external.setdefault(dep.migration, set()).add(dep.target)
    nodes = []
    for key in sorted(graph.nodes):
        info = graph.nodes[key]
        parents = set(graph.parents[key]) | external.get(key, set())
        nodes.append({
            'app': key[0],
            'name': key[1],
            'file': info.path,
            'dependencies': [list(k) for k in sorted(parents)],
            'replaces': [list(d.key) for d in info.replaces],
        })
    apps = sorted({app for app, _ in graph.nodes})
    document = {
        'version': JSON_VERSION,
        'nodes': nodes,
        'leaves': {
            app: [name for _, name in graph.leaf_nodes(app)] for app in apps
        },
    }
    return json.dumps(document, indent=2) + '\n'


def _mermaid_id(key: tuple[str, str]) -> str:
    return re.sub(r'\W', '_', f'{key[0]}__{key[1]}')


def graph_mermaid(graph: MigrationGraph, apps: Sequence[str] = ()) -> str:
    """A flowchart, one subgraph per app, leaves of conflicting apps marked."""
    wanted = set(apps) or {app for app, _ in graph.nodes}
    lines = ['flowchart TD']
    for app in sorted(wanted):
        leaves = set(graph.leaf_nodes(app))
        lines.append(f'  subgraph {app}')
        for key in sorted(k for k in graph.nodes if k[0] == app):
            lines.append(f'    {_mermaid_id(key)}["{key[1]}"]')
        lines.append('  end')
        if len(leaves) > 1:
            for key in sorted(leaves):
                lines.append(f'  class {_mermaid_id(key)} leaf')
    for key in sorted(graph.nodes):
        if key[0] not in wanted:
            continue
        for parent in sorted(graph.parents[key]):
            if parent[0] in wanted:
                lines.append(f'  {_mermaid_id(parent)} --> {_mermaid_id(key)}')
    lines.append('  classDef leaf fill:#fdd,stroke:#c00')
    return '\n'.join(lines) + '\n'
