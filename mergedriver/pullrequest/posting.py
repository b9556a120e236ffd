"""``migmerge report --post github|gitlab`` and ``--sweep``: the command's
forge side, around :mod:`.command` (which computes and renders).

The report is written first (standard output or ``-o``), then the comment
is posted: a comment that cannot be posted -- a fork's read-only token,
any API failure -- is one notice line on stderr, and the exit status stays
the verdict's.  Missing configuration (no token, no repository) is unusable
input, found before anything is computed.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Mapping
from typing import Any

from mergedriver.errors import MigmergeError
from mergedriver.pullrequest import command
from mergedriver.pullrequest.forge import describe
from mergedriver.pullrequest.forge import Forge
from mergedriver.pullrequest.forge import ForgeError
from mergedriver.pullrequest.forge import ON_CLEAN
from mergedriver.pullrequest.forge import Rendered
from mergedriver.pullrequest.forge import upsert
from mergedriver.pullrequest.forge import validate_comment_id
from mergedriver.pullrequest.formats import DEFAULT_COMMENT_ID
from mergedriver.pullrequest.formats import MAX_SHED
from mergedriver.pullrequest.formats import render
from mergedriver.pullrequest.formats import render_markdown

FORGES = ('github', 'gitlab')


def add_post_arguments(parser: argparse.ArgumentParser) -> None:
    posting = parser.add_argument_group(
        'posting', 'one sticky comment on the pull (merge) request',
    )
    posting.add_argument(
        '--post', choices=FORGES,
        help='upsert the markdown as one comment (GitHub: GITHUB_TOKEN, '
             'GITHUB_REPOSITORY, GITHUB_API_URL; GitLab: CI_API_V4_URL, '
             'CI_PROJECT_ID, MIGMERGE_GITLAB_TOKEN or GITLAB_TOKEN)',
    )
    number = posting.add_mutually_exclusive_group()
    number.add_argument('--pr', dest='number', type=int, metavar='N',
                        help='the pull request (GitHub)')
    number.add_argument('--mr', dest='number', type=int, metavar='N',
                        help='the merge request (GitLab)')
    posting.add_argument(
        '--on-clean', choices=ON_CLEAN, default='update',
        help='when the pull request becomes clean: update the comment to '
             'say it is resolved (default), delete it, or keep it as it is; '
             'a clean pull request never gets a new comment',
    )
    posting.add_argument(
        '--sweep', action='store_true',
        help='for pushes to the base branch: report every open pull '
             'request against --base and update its comment (with --post)',
    )
    posting.add_argument(
        '--remote', default='origin',
        help='--sweep: the remote to fetch the heads from (default origin)',
    )
    posting.add_argument(
        '--comment-url-file', metavar='FILE',
        help="write the comment's address (empty if there is none) to FILE",
    )


def forge_from_env(name: str, environ: Mapping[str, str]) -> Forge:
    if name == 'github':
        from mergedriver.pullrequest.github import github_from_env
        return github_from_env(environ)
    from mergedriver.pullrequest.gitlab import gitlab_from_env
    return gitlab_from_env(environ)


def rendered(document: Mapping[str, Any], comment_id: str) -> Rendered:
    """What the poster needs from a report's JSON."""
    return Rendered(
        verdict=str(document['verdict']),
        head_sha=str(document['head']['sha']),
        render=lambda shed: render_markdown(
            document, comment_id=comment_id, shed=shed,
        ),
        max_shed=MAX_SHED,
    )


def notice(message: str) -> None:
    print(f'migmerge: notice: {message}', file=sys.stderr)


def _check_options(args: argparse.Namespace) -> str:
    """The comment id when posting (the renderer alone makes any id safe
    for its marker); MigmergeError for options that do not go together."""
    if args.sweep:
        if not args.post:
            raise MigmergeError('--sweep needs --post github|gitlab')
        if (
                not args.base or args.head or args.from_json
                or args.number is not None
        ):
            raise MigmergeError(
                '--sweep takes --base BRANCH only (no --head, --pr, '
                '--from-json): it reports every open pull request',
            )
    elif args.post and args.number is None:
        raise MigmergeError(f'--post {args.post} needs --pr N (or --mr N)')
    elif not args.post:
        if args.number is not None or args.comment_url_file is not None:
            raise MigmergeError(
                '--pr, --mr and --comment-url-file go with --post '
                'github|gitlab',
            )
        return ''
    return validate_comment_id(args.comment_id or DEFAULT_COMMENT_ID)


def _write_url(path: str | None, url: str) -> None:
    if path is not None:
        command.write_output(url + '\n' if url else '', path)


def post_report(
        forge: Forge,
        number: int,
        document: Mapping[str, Any],
        *,
        comment_id: str,
        on_clean: str,
) -> str:
    """Upsert the comment; its address ('' if none).  A failure is a
    notice, never an exception: the report stands without its comment."""
    try:
        result = upsert(
            forge, number, rendered(document, comment_id),
            comment_id=comment_id, on_clean=on_clean,
        )
    except ForgeError as e:
        notice(f'comment not posted: {e}')
        return ''
    print(f'migmerge: {describe(result, number, forge)}', file=sys.stderr)
    return result.url


def compute_document(
        repo_dir: str, base: str, head: str, *, strategy: str,
) -> dict[str, Any]:
    """One report's JSON (module level: sweep workers receive it pickled).
    Each pull request is read with the configuration committed in its
    merged tree, as a single report is."""
    from mergedriver.pullrequest.compute import compute_report
    from mergedriver.pullrequest.compute import report_to_json
    return report_to_json(compute_report(
        repo_dir, base, head, strategy=strategy,
    ))


def jobs() -> int:
    """Worker processes for the sweep: the CPUs this process may use."""
    affinity = getattr(os, 'sched_getaffinity', None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def run_sweep(args: argparse.Namespace, forge: Forge, comment_id: str) -> int:
    """Exit 0 when the sweep ran (each pull request's state is on its
    comment and on stdout), 2 for unusable input."""
    from mergedriver.pullrequest.sweep import sweep

    try:
        lines = sweep(
            forge, args.repo, args.base,
            compute=functools.partial(
                compute_document, args.repo, strategy=args.strategy,
            ),
            rendered=functools.partial(rendered, comment_id=comment_id),
            comment_id=comment_id, on_clean=args.on_clean,
            remote=args.remote, notice=notice, jobs=jobs(),
        )
    except ForgeError as e:
        notice(f'sweep not run: {e}')
        return 0
    for line in lines:
        if line.line:
            print(line.line)
    return 0


def run(args: argparse.Namespace) -> int:
    """``migmerge report``, with or without posting."""
    comment_id = _check_options(args)
    if not args.post:
        return command.run(args)
    forge = forge_from_env(args.post, os.environ)
    if args.sweep:
        return run_sweep(args, forge, comment_id)
    document = command.report_json(args)
    command.write_output(
        render(document, args.format, comment_id=comment_id),
        args.output,
    )
    url = post_report(
        forge, args.number, document,
        comment_id=comment_id, on_clean=args.on_clean,
    )
    _write_url(args.comment_url_file, url)
    return command.exit_status(document)
