"""``migmerge report``: the thin command around :func:`compute_report` and
:func:`render`.  ``cli.py`` registers it; MigmergeError reaches cli.py's
one handler (one line, exit 2).

Exit status: the verdict's (0 clean, 1 resolvable or blocked, 2 unusable).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.files import write_atomic
from mergedriver.pullrequest.formats import FORMATS
# Only what the parser needs is imported here: every `migmerge` command
# builds the parser, and `check` must not pay for the report's modules.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``migmerge report`` (posting options are added next
    to these by the forge integration)."""
    parser.add_argument(
        '--base', metavar='REF',
        help='the branch or commit the pull request merges into',
    )
    parser.add_argument(
        '--head', metavar='REF', help="the pull request's head commit",
    )
    parser.add_argument(
        '-C', dest='repo', default='.', metavar='DIR',
        help='run as if started in DIR (default: the current directory)',
    )
    parser.add_argument('--format', choices=FORMATS, default='text')
    parser.add_argument(
        '-o', dest='output', metavar='FILE',
        help='write to FILE (atomically) instead of standard output',
    )
    parser.add_argument(
        '--from-json', metavar='FILE',
        help='render a report saved with --format json (no git needed; '
             '- reads standard input)',
    )
    parser.add_argument(
        '--comment-id', metavar='ID',
        help='markdown: the id in the hidden marker, so that several '
             'reports (a monorepo) keep a comment each',
    )
    parser.add_argument(
        '--strategy', choices=('auto', 'merge', 'renumber'), default='auto',
        help="the plan to show: auto (default; a merge migration unless "
             "operations collide), merge, or renumber (the pull request's "
             "migrations move after the base's)",
    )


# A report holds whole migration files; far more than any real one.
MAX_JSON_BYTES = 64 * 1024 * 1024


def load_json(path: str) -> dict[str, Any]:
    """A saved report (``-``: standard input), read with the guarded
    reader."""
    try:
        if path == '-':
            data = sys.stdin.buffer.read(MAX_JSON_BYTES + 1)
        else:
            data = read_file(path, limit=MAX_JSON_BYTES)
    except FileNotFoundError:
        raise MigmergeError('no such file', path=path, line=1)
    except OSError as e:
        raise MigmergeError(f'cannot read: {e.strerror}', path=path, line=1)
    try:
        document = json.loads(data)
    except ValueError as e:
        raise MigmergeError(f'not JSON: {e}', path=path, line=1)
    if not isinstance(document, dict):
        raise MigmergeError(
            'not a migmerge report JSON document', path=path, line=1,
        )
    return document


def report_json(args: argparse.Namespace) -> dict[str, Any]:
    """The report's JSON: computed from git, or read back (and checked)
    from ``--from-json``."""
    from mergedriver.pullrequest.compute import compute_report
    from mergedriver.pullrequest.compute import report_from_json
    from mergedriver.pullrequest.compute import report_to_json

    if args.from_json is not None:
        # Read through the records: a document this version cannot read is
        # refused here, not half-rendered.
        return report_to_json(report_from_json(load_json(args.from_json)))
    if not args.base or not args.head:
        raise MigmergeError(
            'report needs --base REF and --head REF (or --from-json FILE)',
        )
    return report_to_json(compute_report(
        args.repo, args.base, args.head, strategy=args.strategy,
    ))


def write_output(text: str, path: str | None) -> None:
    """Standard output, or ``path`` replaced in one step (a reader never
    sees half a report, a failed run leaves the old file)."""
    if path is None:
        sys.stdout.write(text)
        return
    try:
        write_atomic(path, text)
    except OSError as e:
        raise MigmergeError(f'cannot write: {e.strerror}', path=path)


def exit_status(document: dict[str, Any]) -> int:
    from mergedriver.pullrequest.compute import EXIT_STATUS

    return EXIT_STATUS[str(document['verdict'])]


def run(args: argparse.Namespace) -> int:
    from mergedriver.pullrequest.formats import render

    document = report_json(args)
    write_output(
        render(document, args.format, comment_id=args.comment_id),
        args.output,
    )
    return exit_status(document)
