"""The ``migmerge`` command line.

Exit statuses (DESIGN.md §4): 0 clean, 1 problems found, 2 unusable input.
MigmergeError becomes one ``path:line: message`` line here and nowhere else.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mergedriver import report
from mergedriver.check import check_tree
from mergedriver.check import CheckResult
from mergedriver.config import load_config
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.errors import MigmergeError
from mergedriver.source import open_repository
from mergedriver.source import open_tree


def _add_tree_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        '--rev', metavar='REV',
        help='read the migrations of this commit (branch, tag, sha, '
             'MERGE_HEAD...) instead of the work tree',
    )
    where.add_argument(
        '--index', action='store_true',
        help='read the migrations staged in the index',
    )
    parser.add_argument(
        '-C', dest='repo', default='.', metavar='DIR',
        help='run as if started in DIR (default: the current directory)',
    )


def run_check(repo: str, rev: str | None, index: bool) -> CheckResult:
    top = open_repository(repo).workdir or repo
    config = load_config(os.path.normpath(top))
    return check_tree(open_tree(repo, rev=rev, index=index), config)


def cmd_check(args: argparse.Namespace) -> int:
    result = run_check(args.repo, args.rev, args.index)
    if args.format == 'json':
        sys.stdout.write(report.check_json(result))
    else:
        sys.stdout.write(report.check_text(result))
    return result.exit_status


def cmd_graph(args: argparse.Namespace) -> int:
    result = run_check(args.repo, args.rev, args.index)
    if args.format == 'json':
        sys.stdout.write(report.graph_json(result.graph))
    else:
        sys.stdout.write(report.graph_mermaid(result.graph, args.app))
    # The graph is printed whatever it holds; problems go to stderr so that
    # a pipeline into a renderer still gets clean output.
    for problem in result.problems:
        print(problem.one_line(), file=sys.stderr)
    return result.exit_status


def cmd_demo(args: argparse.Namespace) -> int:
    from mergedriver import demo
    return demo.main([])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='migmerge',
        description='Find and resolve parallel Django migrations, '
                    'statically (Django is never imported).',
    )
    sub = parser.add_subparsers(dest='command', required=True)

    check = sub.add_parser(
        'check',
        help='report apps with several leaves, missing dependencies, '
             'cycles and unreadable migrations',
        description='Exit status: 0 clean, 1 problems found, '
                    '2 unusable input.',
    )
    _add_tree_options(check)
    check.add_argument(
        '--format', choices=('text', 'json'), default='text',
    )
    check.set_defaults(func=cmd_check)

    graph = sub.add_parser(
        'graph', help='print the migration graph as JSON or Mermaid',
    )
    _add_tree_options(graph)
    graph.add_argument(
        '--format', choices=('json', 'mermaid'), default='json',
    )
    graph.add_argument(
        '--app', action='append', default=[],
        help='only this app (Mermaid; repeatable)',
    )
    graph.set_defaults(func=cmd_graph)

    demo = sub.add_parser(
        'demo', help='build an example project in a temp dir and show it',
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except MigmergeError as e:
        print(f'migmerge: {e}' if e.path is None else str(e), file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == '__main__':
    raise SystemExit(main())
