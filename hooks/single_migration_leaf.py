"""Fail when an app has more than one leaf migration in the index.

Two branches that each added a ``0003_*`` merge without a textual conflict,
and Django then refuses to migrate.  The index is what is being committed,
so that is the graph checked; the message is Django's own, plus the leaves'
files and the command that fixes it.

During a merge (MERGE_HEAD present) this hook reports the same way for now;
resolving there is ``resolve_during_merge``'s job once ``migmerge resolve``
is wired in.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from hooks._common import run_reporting_errors
from hooks._graph import IndexGraph
from hooks._graph import load_index_graph
from hooks._graph import report
from mergedriver.git import state
from mergedriver.git.location import Clone
from mergedriver.git.location import locate_clone
from mergedriver.records import Problem

RESOLVE_COMMAND = 'migmerge resolve'


def leaf_problems(index: IndexGraph) -> list[Problem]:
    """Parallel leaves, and the parse errors that hide an app's leaves."""
    return [
        p for p in index.problems if p.kind in ('multiple-leaves', 'parse-error')
    ]


def explain(index: IndexGraph, problems: Sequence[Problem]) -> list[str]:
    """Lines after the problems: every leaf's file and the fix."""
    graph = index.graph.graph
    lines = []
    for app, names in graph.conflicting_apps().items():
        for name in names:
            info = graph.nodes[(app, name)]
            lines.append(f'  leaf of {app}: {name} ({info.path})')
    if any(p.kind == 'multiple-leaves' for p in problems):
        lines.append(
            f"To fix them run '{RESOLVE_COMMAND}' "
            f"('{RESOLVE_COMMAND} --dry-run' shows the plan first)",
        )
    return lines


def merge_in_progress(clone: Clone) -> bool:
    return state.merging(clone.git_dir)


def report_leaves(index: IndexGraph) -> int:
    problems = leaf_problems(index)
    status = report(problems)
    for line in explain(index, problems):
        print(line)
    return status


def resolve_during_merge(index: IndexGraph) -> int:
    """The seam for resolving inside a merge; it reports until then."""
    return report_leaves(index)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Fail when an app has more than one leaf migration.',
    )
    parser.add_argument(
        'filenames', nargs='*', help='ignored: the whole index is checked',
    )
    parser.parse_args(argv)

    def check() -> int:
        clone = locate_clone('.')
        index = load_index_graph(clone)
        if merge_in_progress(clone):
            return resolve_during_merge(index)
        return report_leaves(index)

    return run_reporting_errors(check)


if __name__ == '__main__':
    raise SystemExit(main())
