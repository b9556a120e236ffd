"""The ``migmerge`` command line.

Exit statuses (docs/design.md, "Rules that must always hold"): 0 clean, 1
problems found, 2 unusable input.
MigmergeError becomes one ``path:line: message`` line here and nowhere else.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mergedriver.check import check_summary
from mergedriver.check import check_tree
from mergedriver.check import CheckResult
from mergedriver.config import load_config
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.errors import MigmergeError
from mergedriver.git.location import merge_driver_configured
from mergedriver.git.location import work_tree_top
from mergedriver.git.trees import open_tree
from mergedriver.parsing.load import gc_paused


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
    top = work_tree_top(repo)
    config = load_config(os.path.normpath(top))
    return check_tree(open_tree(repo, rev=rev, index=index), config)


def cmd_check(args: argparse.Namespace) -> int:
    from mergedriver import render as report

    # The summary, not the graph: a run on unchanged inputs is answered
    # from the snapshot the previous run stored.
    top = work_tree_top(args.repo)
    config = load_config(os.path.normpath(top))
    tree = open_tree(args.repo, rev=args.rev, index=args.index)
    # A command holds what it loads until it exits.
    with gc_paused(keep=True):
        result = check_summary(tree, config)
    uncovered: list[str] = []
    if args.rev is None and not args.index and merge_driver_configured(
            top, 'migmerge',
    ) is not False:
        # the driver is this clone's: said of the work tree only (and the
        # module that says it is not loaded where no driver is registered)
        from mergedriver.integration.install import uncovered_packages

        uncovered = uncovered_packages(top, [a.path for a in result.apps])
    if args.format == 'json':
        sys.stdout.write(report.check_json(result, uncovered=uncovered))
    else:
        sys.stdout.write(report.check_text(result, uncovered=uncovered))
    return result.exit_status


def cmd_graph(args: argparse.Namespace) -> int:
    from mergedriver import render as report

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


def cmd_install(args: argparse.Namespace) -> int:
    from mergedriver.integration import install
    lines = install.install(args.repo, shared=args.shared)
    for line in lines:
        print(f'migmerge install: {line}')
    if any(line.startswith('.gitattributes:') for line in lines):
        print(
            'migmerge install: commit .gitattributes; clones without '
            '`migmerge install` ignore the lines (git merges as text)',
        )
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    from mergedriver.integration import install
    for line in install.uninstall(args.repo):
        print(f'migmerge uninstall: {line}')
    return 0


def cmd_merge_file(args: argparse.Namespace) -> int:
    from mergedriver.driver import mergefile
    return mergefile.merge_file(
        args.base, args.ours, args.theirs, args.path, args.marker_size,
    )


def cmd_hook(args: argparse.Namespace) -> int:
    from mergedriver.integration import githooks
    hook_args = args.hook_args
    if hook_args[:1] == ['--']:
        hook_args = hook_args[1:]
    return githooks.run_hook(args.hook, hook_args, hooks_dir=args.hooks_dir)


def cmd_approve_rollback(args: argparse.Namespace) -> int:
    import shlex

    from mergedriver.config import DEFAULT_ROLLBACK_COMMAND
    from mergedriver.config import DEFAULT_SHOWMIGRATIONS_COMMAND
    from mergedriver.git import location as gitdir
    from mergedriver.resolution import rollback

    top = os.path.normpath(work_tree_top(args.repo))
    config = load_config(top)
    common_dir = gitdir.locate(top).common_dir
    commands = (
        ('rollback_command', config.rollback_command,
         DEFAULT_ROLLBACK_COMMAND),
        ('showmigrations_command', config.showmigrations_command,
         DEFAULT_SHOWMIGRATIONS_COMMAND),
    )
    for key, argv, default in commands:
        command = shlex.join(argv)
        if not rollback.needs_approval(argv, default):
            if key == 'rollback_command':
                print(f'migmerge: the default rollback_command needs no approval: {command}')
        elif rollback.approve(common_dir, argv):
            print(f'migmerge: approved for this clone: {command}')
        else:
            print(f'migmerge: already approved for this clone: {command}')
    return 0


def _add_git_integration(sub: argparse._SubParsersAction[
        argparse.ArgumentParser]) -> None:
    install = sub.add_parser(
        'install',
        help='register the merge driver and the git hooks in this clone',
        description='Idempotent; `migmerge uninstall` undoes it. Existing '
                    'hooks are kept and run first. Settings (git config): '
                    'migmerge.postRewrite = commit|amend|off, '
                    'migmerge.rollback = true|false, '
                    'migmerge.askDatabase = true|false.',
    )
    install.add_argument(
        '--shared', action='store_true',
        help='write the merge=migmerge lines to the committed .gitattributes '
             '(to be committed on every branch) instead of the clone\'s '
             'info/attributes (the default, read on every branch)',
    )
    # The default since attributes moved to info/attributes; kept so that
    # scripts written for the older option keep working.
    install.add_argument('--local', action='store_true', help=argparse.SUPPRESS)
    install.add_argument('-C', dest='repo', default='.', metavar='DIR')
    install.set_defaults(func=cmd_install)

    uninstall = sub.add_parser(
        'uninstall', help='undo `migmerge install`, restoring earlier hooks',
    )
    uninstall.add_argument('-C', dest='repo', default='.', metavar='DIR')
    uninstall.set_defaults(func=cmd_uninstall)

    approve = sub.add_parser(
        'approve-rollback',
        help='approve the configured rollback_command and '
             'showmigrations_command for this clone',
        description='resolve --rollback and the post-rewrite hook (with '
                    'migmerge.rollback) run a rollback_command from the '
                    'repository\'s configuration only once it is approved '
                    'here, and ask the database with a configured '
                    'showmigrations_command only then; a changed command '
                    'needs approving again.',
    )
    approve.add_argument('-C', dest='repo', default='.', metavar='DIR')
    approve.set_defaults(func=cmd_approve_rollback)

    merge_file = sub.add_parser(
        'merge-file',
        help='the git merge driver (merge.migmerge.driver): %%O %%A %%B %%P %%L',
    )
    merge_file.add_argument('base')
    merge_file.add_argument('ours')
    merge_file.add_argument('theirs')
    merge_file.add_argument('path')
    merge_file.add_argument('marker_size', nargs='?', type=int, default=7)
    merge_file.set_defaults(func=cmd_merge_file)

    hook = sub.add_parser('hook', help='run a git hook (installed by install)')
    hook.add_argument(
        'hook', choices=('pre-merge-commit', 'pre-commit', 'post-rewrite'),
    )
    hook.add_argument('--hooks-dir', help='where the chained hooks live')
    # everything after `--` goes to the hook, as git passed it
    hook.add_argument('hook_args', nargs=argparse.REMAINDER)
    hook.set_defaults(func=cmd_hook)


def _ask_to_apply() -> bool:
    answer = input('Apply this plan? [y/N] ')
    return answer.strip().lower() in ('y', 'yes')


def cmd_resolve(args: argparse.Namespace) -> int:
    from mergedriver.resolution.resolve import resolve

    if args.format == 'json':
        from mergedriver.errors import EXIT_CLEAN
        from mergedriver.errors import EXIT_PROBLEMS
        from mergedriver.resolution.plan import Refusal
        from mergedriver.resolution.resolve import plan_for
        from mergedriver.resolution.resolve import planned_json

        if not args.dry_run:
            raise MigmergeError('resolve --format json needs --dry-run')
        planned = plan_for(
            args.repo, strategy=args.strategy, name=args.name,
            move=args.move,
        )
        sys.stdout.write(planned_json(planned))
        if planned.outcome is None:
            return EXIT_UNUSABLE
        return EXIT_PROBLEMS if isinstance(
            planned.outcome, Refusal,
        ) else EXIT_CLEAN

    # Ask only when someone can answer; without a terminal (CI, scripts,
    # hooks) the plan is applied as if --yes was given.
    asks = not args.yes and not args.dry_run and sys.stdin.isatty()
    confirm = _ask_to_apply if asks else None
    from mergedriver.git.runner import run_git_text
    ask_db = run_git_text(
        args.repo, 'config', '--type=bool', '--get', 'migmerge.askDatabase',
    ).stdout.strip() != 'false'
    return resolve(
        args.repo,
        strategy=args.strategy,
        rollback=args.rollback,
        dry_run=args.dry_run,
        force=args.force,
        stage=args.stage,
        name=args.name,
        move=args.move,
        confirm=confirm,
        ask_db=ask_db,
    )


def _add_resolve_parser(sub: argparse._SubParsersAction[
        argparse.ArgumentParser]) -> None:
    resolve = sub.add_parser(
        'resolve',
        help='resolve parallel leaves in the work tree: merge migration, '
             'renumbering, or flag colliding operations',
        description='Exit status: 0 resolved or nothing to do, 1 refused, '
                    'flagged or declined, 2 unusable input. On a terminal '
                    'the plan is shown and confirmed first (--yes skips '
                    'that); without a terminal it is applied.',
    )
    resolve.add_argument(
        '--strategy', choices=('auto', 'merge', 'renumber', 'flag'),
        default='auto',
        help='auto (default): merge unless operations collide, then flag',
    )
    resolve.add_argument(
        '--rollback', action='store_true',
        help='renumber: roll the development database back with the '
             'configured rollback_command where it applied a migration to '
             'rename (showmigrations_command tells), rename, migrate forward',
    )
    resolve.add_argument(
        '--dry-run', action='store_true',
        help='print the plan; write and run nothing',
    )
    resolve.add_argument(
        '--format', choices=('text', 'json'), default='text',
        help='json (with --dry-run): the plan as data',
    )
    resolve.add_argument(
        '--yes', '-y', action='store_true', help='do not ask before applying',
    )
    resolve.add_argument(
        '--force', action='store_true',
        help='also touch files with uncommitted edits',
    )
    resolve.add_argument(
        '--stage', action='store_true', help='stage the result in the index',
    )
    resolve.add_argument(
        '--name', metavar='NAME',
        help="merge: the merge migration's name after its number",
    )
    resolve.add_argument(
        '--move', metavar='REV',
        help='renumber: the branches whose migrations exist in REV stay; '
             'the others move after them (default: the mainline ref decides)',
    )
    resolve.add_argument(
        '-C', dest='repo', default='.', metavar='DIR',
        help='run as if started in DIR (default: the current directory)',
    )
    resolve.set_defaults(func=cmd_resolve)


def cmd_report(args: argparse.Namespace) -> int:
    from mergedriver.pullrequest import posting
    return posting.run(args)


def _add_report_parser(sub: argparse._SubParsersAction[
        argparse.ArgumentParser]) -> argparse.ArgumentParser:
    from mergedriver.pullrequest.command import add_arguments
    from mergedriver.pullrequest.posting import add_post_arguments

    report = sub.add_parser(
        'report',
        help='what merging a pull request does to the migrations: verdict, '
             'fix, graph (JSON, Markdown, annotations, SARIF...)',
        description='Reads git objects only: nothing is checked out, '
                    'imported or executed. Exit status: 0 clean, 1 '
                    'resolvable or blocked, 2 unusable input.',
    )
    add_arguments(report)
    add_post_arguments(report)
    report.set_defaults(func=cmd_report)
    return report


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
    _add_git_integration(sub)
    _add_resolve_parser(sub)
    _add_report_parser(sub)
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
    except Exception as e:
        # A bug of ours must not read as a crash of the user's merge: one
        # line, the way to see more, and "unusable" rather than "found".
        if os.environ.get('MIGMERGE_DEBUG'):
            raise
        print(
            f'migmerge: internal error: {type(e).__name__}: {e} '
            f'(set MIGMERGE_DEBUG=1 for the traceback, and please report it)',
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    return status


if __name__ == '__main__':
    raise SystemExit(main())
