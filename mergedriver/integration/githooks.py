"""The git hooks ``migmerge install`` puts in place (``migmerge hook NAME``).

- ``pre-merge-commit`` (a clean ``git merge``): the merge commit's tree is
  already fixed when the hook runs (docs/design.md, "Facts about git"), so on parallel leaves the
  hook writes the resolution (``resolve``, strategy ``auto``), stages it and
  exits 1: the merge stays open and ``git commit`` concludes it with the new
  files.  On colliding operations it writes nothing and prints them.
  Nothing to do: exit 0, silently.
- ``pre-commit``: the same, only while a merge is being concluded
  (MERGE_HEAD exists, i.e. the merge stopped on textual conflicts) or a
  ``git merge --squash`` is committed (SQUASH_MSG exists).
- ``post-rewrite rebase``: upstream never moves; the rebased commits'
  migrations are renumbered after upstream's leaf, and every rebased commit
  is rewritten to carry the renumbering (or, per ``migmerge.postRewrite``,
  one commit is added).  ``amend`` rewrites are ignored.  Before renaming, the
  development database is asked which of them it applied
  (:mod:`mergedriver.resolution.database`): applied ones are rolled back
  first with ``migmerge.rollback``, else nothing is renamed and the hook
  exits 1 naming them (the rebase itself stays done).

Per-clone settings (``git config``):

- ``migmerge.postRewrite``: ``rewrite`` (default) rewrites every rebased
  commit so that each carries the renumbering
  (:mod:`mergedriver.integration.rebased`), ``commit`` adds one commit,
  ``amend`` folds the renumbering into the last rebased commit, ``off``
  only reports;
- ``migmerge.rollback``: ``true`` rolls the developer database back before
  renumbering (the configured ``rollback_command``) and migrates it forward
  after; default ``false`` prints the commands instead;
- ``migmerge.askDatabase``: ``false`` never asks the database (the answer
  is "unknown");
- the environment variable ``MIGMERGE_SKIP=1`` skips every hook.

A hook that was installed before migmerge (``<name>.migmerge-chained``)
runs first with the same arguments and stdin; if it fails, its exit status
is the hook's and migmerge does not run (``post-rewrite`` runs both).
"""
from __future__ import annotations

import io
import os
import posixpath
import subprocess
import sys
from collections.abc import Sequence
from typing import TextIO
from typing import TYPE_CHECKING

from mergedriver.errors import MigmergeError
from mergedriver.git import state
from mergedriver.git.runner import run_git_text
from mergedriver.integration import install
from mergedriver.integration.isolation import warn_unless_isolated

if TYPE_CHECKING:
    from mergedriver.resolution.database import DatabaseAnswer
    from mergedriver.resolution.plan import Plan

BYPASS = 'git commit --no-verify'
POST_REWRITE_MODES = ('rewrite', 'commit', 'amend', 'off')


# -------------------------------------------------------------- chaining


def run_chained(
        hooks_dir: str,
        hook: str,
        args: Sequence[str],
        stdin: bytes,
) -> int:
    """Run the hook migmerge displaced; 0 when there is none."""
    chained = os.path.join(hooks_dir, hook + install.CHAINED_SUFFIX)
    if not os.access(chained, os.X_OK):
        return 0
    current = os.path.join(hooks_dir, hook)
    if (
            install.is_pre_commit_framework_hook(chained) and
            install.is_pre_commit_framework_hook(current)
    ):
        # `pre-commit install` ran after us and already runs its hooks
        # around ours: running its old script again would run them twice.
        return 0
    env = dict(os.environ)
    # Our script may itself be the pre-commit framework's legacy hook; the
    # chained script must not look like one.
    env.pop('PRE_COMMIT_RUNNING_LEGACY', None)
    return subprocess.run((chained, *args), input=stdin, env=env).returncode


# ------------------------------------------------------------------- git


def _git(top: str, *args: str) -> subprocess.CompletedProcess[str]:
    # Hooks of the git commands run here are not the chained legacy hook.
    env = dict(os.environ)
    env.pop('PRE_COMMIT_RUNNING_LEGACY', None)
    return run_git_text(top, *args, env=env)


def git_config(top: str, key: str, default: str) -> str:
    proc = _git(top, 'config', '--get', key)
    return proc.stdout.strip() if proc.returncode == 0 else default


def git_bool(top: str, key: str, default: bool) -> bool:
    proc = _git(top, 'config', '--type=bool', '--get', key)
    if proc.returncode:
        return default
    return proc.stdout.strip() == 'true'


def migration_pathspec(top: str) -> tuple[str, ...]:
    """Pathspecs covering every file that can change a migration graph:
    ``migrations`` packages, lock files, and configured MIGRATION_MODULES
    packages."""
    from mergedriver.config import load_config

    specs = [
        ':(glob)**/migrations/**',
        ':(glob)**/migrations_lockfile.txt',
        'pyproject.toml',
        'setup.cfg',
    ]
    config = load_config(top)
    for module in config.migration_modules.values():
        for root in config.source_roots:
            base = '' if root == '.' else f'{root}/'
            specs.append(f':(glob){base}{module.replace(".", "/")}/**')
    return tuple(specs)


CONFIG_FILES = frozenset(('pyproject.toml', 'setup.cfg'))


def _changed(top: str, *diff_args: str, pathspec: tuple[str, ...]) -> set[str] | None:
    """The migration files a diff touches (both names of a rename); None
    when git cannot tell (no HEAD yet...)."""
    proc = _git(top, *diff_args, '--name-only', '--no-renames', '-z', '--', *pathspec)
    if proc.returncode:
        return None
    return {p for p in proc.stdout.split('\0') if p}


def _unchanged(top: str, *diff_args: str, pathspec: tuple[str, ...]) -> bool:
    return _changed(top, *diff_args, pathspec=pathspec) == set()


def merge_may_add_leaves(clone: install.Clone) -> bool:
    """False when the merge cannot have created parallel leaves, decided by
    a few git calls instead of loading the graph: two leaves in one app need
    migration changes in that app's package on both sides.  Theirs' side is
    what the merged index changes against HEAD (a hand resolution
    included); ours' is what HEAD changed since the merge base."""
    pathspec = migration_pathspec(clone.top)
    brought = _changed(clone.top, 'diff-index', '--cached', 'HEAD', pathspec=pathspec)
    if brought is None:
        return True
    if not brought:
        return False
    heads = state.merge_heads(clone.git_dir, os.environ)
    if len(heads) != 1:
        return True  # octopus, or not in a merge: no shortcut
    base = _git(clone.top, 'merge-base', 'HEAD', heads[0])
    if base.returncode:
        return True
    ours = _changed(clone.top, 'diff', base.stdout.strip(), 'HEAD', pathspec=pathspec)
    if ours is None:
        return True
    if not ours:
        return False
    if CONFIG_FILES & (ours | brought):
        return True
    return bool(
        {posixpath.dirname(p) for p in ours} &
        {posixpath.dirname(p) for p in brought},
    )


LOCK_FILES = frozenset(('max_migration.txt', 'migrations_lockfile.txt'))
LOCK_PATHSPEC = (
    ':(glob)**/max_migration.txt',
    ':(glob)**/migrations_lockfile.txt',
)


def reopen_lock_files(clone: install.Clone) -> list[str]:
    """Put back git's own conflict on lock files both sides changed.

    The driver resolved them to name the merge migration; when the hook
    then writes nothing (colliding operations), that name would dangle.
    Only right after the automatic merge (pre-merge-commit), before anyone
    edited them.  Returns the paths reopened.
    """
    heads = state.merge_heads(clone.git_dir, os.environ)
    if len(heads) != 1:
        return []
    base = _git(clone.top, 'merge-base', 'HEAD', heads[0]).stdout.strip()
    if not base:
        return []
    ours = _changed(clone.top, 'diff', base, 'HEAD', pathspec=LOCK_PATHSPEC)
    theirs = _changed(
        clone.top, 'diff', base, heads[0], pathspec=LOCK_PATHSPEC,
    )
    reopened = []
    for path in sorted((ours or set()) & (theirs or set())):
        entries = []
        for stage, rev in ((1, base), (2, 'HEAD'), (3, heads[0])):
            listed = _git(clone.top, 'ls-tree', rev, '--', path).stdout.split()
            if len(listed) >= 3:
                entries.append(f'{listed[0]} {listed[2]} {stage}\t{path}\n')
        index_info = f'0 {"0" * 40}\t{path}\n' + ''.join(entries)
        update = run_git_text(
            clone.top, 'update-index', '--index-info', stdin=index_info,
        )
        # git's text merge, not the driver: without GITHEAD_* the driver
        # leaves it to git
        env = {
            k: v for k, v in os.environ.items() if not k.startswith('GITHEAD_')
        }
        checkout = run_git_text(
            clone.top, 'checkout', '-m', '--', path, env=env,
        )
        if update.returncode == 0 and checkout.returncode == 0:
            reopened.append(path)
    return reopened


def _has_parallel_leaves(top: str, *, index: bool) -> bool:
    from mergedriver.resolution.resolve import plan_for
    return bool(plan_for(top, index=index).conflicts)


def _resolve(top: str, out: TextIO, **kwargs: object) -> int:
    from mergedriver.resolution.resolve import resolve
    return resolve(top, out=out, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- hooks


def coverage_lines(clone: install.Clone) -> list[str]:
    """One line per directory of migration files this merge brings that
    the clone's merge driver does not cover (git merged them as text)."""
    brought = _changed(
        clone.top, 'diff-index', '--cached', 'HEAD',
        pathspec=migration_pathspec(clone.top),
    )
    from mergedriver.discovery.modules import is_migration_filename

    wanted = sorted(
        p for p in brought or () if posixpath.basename(p) in LOCK_FILES or (
            is_migration_filename(posixpath.basename(p))
        )
    )
    if not wanted or not install.driver_registered(clone.top):
        return []
    missed = install.uncovered(clone.top, wanted)
    return [
        install.uncovered_line(directory)
        for directory in sorted({posixpath.dirname(p) for p in missed})
    ]


def conclude_merge(clone: install.Clone, hook: str, out: TextIO) -> int:
    """pre-merge-commit, and pre-commit while a merge is concluded."""
    if not merge_may_add_leaves(clone):
        return 0
    for line in coverage_lines(clone):
        print(f'migmerge ({hook}): {line}', file=out)
    # One planning pass: resolve asks ``confirm`` only when its plan has
    # something to write, so an unasked 0 means "nothing to resolve".
    said = io.StringIO()
    asked = []

    def confirm() -> bool:
        asked.append(True)
        return True

    try:
        status = _resolve(
            clone.top, said, strategy='auto', stage=True, index=True,
            confirm=confirm,
        )
    except MigmergeError as e:
        print(f'migmerge: {e}', file=said)
        status = 2
    if status == 0 and not asked:
        return 0
    if status == 2 and not _has_parallel_leaves(clone.top, index=True):
        return 0  # unusable input, but no parallel leaves: not ours to stop
    print(f'migmerge ({hook}): this merge leaves parallel migrations.', file=out)
    out.write(said.getvalue())
    if status == 0:
        print(
            'migmerge: the files above are written and staged; the merge is '
            'not committed yet. Review them, then run `git commit` to '
            'conclude the merge.',
            file=out,
        )
    elif hook == 'pre-merge-commit':
        for path in reopen_lock_files(clone):
            print(
                f'{path}: conflict restored (the merge driver had named '
                f'a merge migration that is not written)', file=out,
            )
    if status == 1:
        print(
            'migmerge: nothing was written; the merge is left open. Resolve '
            'the migrations by hand (`migmerge resolve --strategy renumber`, '
            f'or edit them), or commit the merge as it is with `{BYPASS}`.',
            file=out,
        )
    elif status != 0:
        print(
            'migmerge: could not resolve the migrations; the merge is left '
            f'open. Fix the error above, or commit as it is with `{BYPASS}`.',
            file=out,
        )
    return 1


def _rebase_onto(git_dir: str, stdin: bytes, top: str) -> str | None:
    """The commit the rebase replayed onto: upstream, which stays."""
    onto = state.rebase_onto(git_dir)
    if onto is not None:
        return onto
    # The state directory is gone (an older git): the parent of the first
    # rewritten commit is where the rebase started.
    lines = stdin.decode().split()
    if len(lines) >= 2:
        proc = _git(top, 'rev-parse', '--verify', '-q', f'{lines[1]}^')
        if proc.returncode == 0:
            return proc.stdout.strip()
    return None


def _by_hand(top: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The commands around a manual rollback after a rebase: the commit
    before the rebase has one leaf per app, so Django migrates there."""
    before = _git(top, 'rev-parse', '--verify', '-q', 'ORIG_HEAD').stdout.strip()
    branch = _git(top, 'symbolic-ref', '--short', '-q', 'HEAD').stdout.strip()
    back = branch or _git(top, 'rev-parse', 'HEAD').stdout.strip()
    return (
        (f'git switch --detach {before[:12] or "ORIG_HEAD"}',),
        (f'git switch {"" if branch else "--detach "}{back}',),
    )


def post_rewrite(
        clone: install.Clone, args: Sequence[str], stdin: bytes, out: TextIO,
) -> int:
    if not args or args[0] != 'rebase':
        return 0
    mode = git_config(clone.top, 'migmerge.postRewrite', 'rewrite')
    if mode not in POST_REWRITE_MODES:
        print(
            f'migmerge: migmerge.postRewrite is {mode!r}; expected one of '
            f'{", ".join(POST_REWRITE_MODES)}', file=out,
        )
        return 1
    onto = _rebase_onto(clone.git_dir, stdin, clone.top)
    if onto is not None and _unchanged(
            clone.top, 'diff', onto, 'HEAD',
            pathspec=migration_pathspec(clone.top),
    ):
        return 0  # the rebased commits carry no migrations
    header = (
        f'migmerge (post-rewrite): the rebased migrations run parallel to '
        f"upstream's ({(onto or '')[:12]}); renumbering them after upstream's "
        f'leaf.'
    )
    if onto is None or mode == 'off':
        if not _has_parallel_leaves(clone.top, index=False):
            return 0
        if onto is None:
            print('migmerge (post-rewrite): cannot tell what the rebase was onto', file=out)
            return 1
        print(header, file=out)
        print(
            f'migmerge: migmerge.postRewrite is off; run `migmerge resolve '
            f'--strategy renumber --move {onto[:12]}`', file=out,
        )
        return 1
    rollback = git_bool(clone.top, 'migmerge.rollback', False)
    answers: list[DatabaseAnswer] = []
    plans: list[Plan] = []
    # One planning pass: resolve says "nothing to resolve" when the rebase
    # left no parallel leaves; its output is shown only otherwise.
    said = io.StringIO()
    try:
        status = _resolve(
            clone.top, said, strategy='renumber', move=onto, stage=True,
            rollback=rollback,
            undo_advice=False,  # this hook commits; it says how to undo that
            ask_db=git_bool(clone.top, 'migmerge.askDatabase', True),
            answers=answers,
            rerun=f'migmerge resolve --strategy renumber --move {onto[:12]}',
            by_hand=_by_hand(clone.top),
            plans=plans,
        )
    except MigmergeError as e:
        print(f'migmerge: {e}', file=said)
        status = 2
    if status == 0 and said.getvalue() == 'migmerge: nothing to resolve\n':
        return 0
    if status == 2 and not _has_parallel_leaves(clone.top, index=False):
        return 0  # unusable input, but no parallel leaves: not ours to stop
    print(header, file=out)
    out.write(said.getvalue())
    if status != 0 and answers and answers[0].applied and not rollback:
        print(
            'migmerge: the rebase itself is done; the renumbering is not. '
            'Run the commands above, then commit the result (`git config '
            'migmerge.rollback true` makes this hook roll back first).',
            file=out,
        )
        return 1
    if status != 0:
        print(
            'migmerge: the rebased branch is left as it is; once the '
            'reason above is dealt with, `migmerge resolve --strategy '
            f'renumber --move {onto[:12]}`, or `migmerge resolve --strategy '
            'merge` for a merge migration instead.',
            file=out,
        )
        return 1
    if not _git(clone.top, 'diff', '--cached', '--quiet').returncode:
        return 0  # nothing staged: nothing to commit
    database_known = bool(answers and answers[0].known)
    if mode == 'rewrite' and plans:
        done = _rewrite_rebased(clone, onto, plans[0], out)
        if done is not None:
            if not rollback and not database_known:
                print(
                    'migmerge: if your development database had applied the '
                    'migrations renamed above, undo this (`git reset --keep '
                    f'{done[:12]}`), run `migmerge resolve --strategy renumber '
                    f'--rollback --move {onto[:12]}` and commit; `git config '
                    'migmerge.rollback true` makes this hook roll back first.',
                    file=out,
                )
            return 0
        mode = 'commit'
    if mode == 'amend':
        argv: tuple[str, ...] = ('commit', '--amend', '--no-edit', '--no-verify', '-q')
    else:
        argv = (
            'commit', '--no-verify', '-q', '-m',
            'Renumber migrations after rebase (migmerge)\n\n'
            f'The rebased migrations now follow upstream ({onto[:12]}); '
            'written by the migmerge post-rewrite hook.',
        )
    proc = _git(clone.top, *argv)
    if proc.returncode:
        print(f'migmerge: git commit failed: {proc.stderr.strip()}', file=out)
        return 1
    what = 'amended into the last commit' if mode == 'amend' else 'committed'
    print(f'migmerge: renumbering {what}.', file=out)
    if not rollback and not database_known:
        undo = 'HEAD@{1}' if mode == 'amend' else 'HEAD~1'
        print(
            'migmerge: if your development database had applied the '
            f'migrations renamed above, undo this (`git reset --keep {undo}`), '
            f'run `migmerge resolve --strategy renumber --rollback --move '
            f'{onto[:12]}` and commit; `git config migmerge.rollback true` '
            'makes this hook roll back first.',
            file=out,
        )
    return 0


def _exec_lines(git_dir: str) -> bool:
    """Whether the rebase ran ``--exec`` commands (its todo's done list)."""
    try:
        with open(os.path.join(git_dir, 'rebase-merge', 'done')) as f:
            return any(
                line.split(' ', 1)[0] in ('exec', 'x') for line in f
            )
    except OSError:
        return False


def _update_refs_commands(
        git_dir: str, pairs: Sequence[tuple[str, str]],
) -> list[tuple[str, str]]:
    """The branches ``git rebase --update-refs`` moves once the hooks ran
    (its ``update-refs`` state: ref, before, after per three lines), with
    the command that moves each onto the rewrite of its commit."""
    try:
        with open(os.path.join(git_dir, 'rebase-merge', 'update-refs')) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    mapping = dict(pairs)
    commands = []
    for i in range(0, len(lines) - 2, 3):
        ref, after = lines[i], lines[i + 2]
        if after in mapping:
            commands.append((
                ref, f'git update-ref {ref} {mapping[after][:12]} {after[:12]}',
            ))
    return commands


def _rewrite_rebased(
        clone: install.Clone, onto: str, plan: Plan, out: TextIO,
) -> str | None:
    """Rewrite the rebased commits with the renumbering the work tree and
    index now hold (see :mod:`mergedriver.integration.rebased`).  Returns
    the commit the rebase had made (for undoing), or None when the commits
    cannot be rewritten (then nothing moved; the caller commits instead)."""
    from mergedriver.integration import rebased

    top = clone.top
    old_tip = _git(top, 'rev-parse', 'HEAD').stdout.strip()
    head_ref = _git(top, 'symbolic-ref', '-q', 'HEAD').stdout.strip() or None
    commits = _git(
        top, 'rev-list', '--reverse', '--topo-order', f'{onto}..{old_tip}',
    ).stdout.split()
    index_tree = _git(top, 'write-tree').stdout.strip()
    try:
        if not commits or not index_tree:
            raise rebased.CannotRewrite('no rebased commits found')
        pairs, new_tip = rebased.rewrite_commits(top, plan, commits, index_tree)
        moved, skipped = rebased.move_refs(top, head_ref, pairs, old_tip, new_tip)
    except rebased.CannotRewrite as e:
        print(
            f'migmerge: cannot rewrite the rebased commits ({e}); adding '
            f'one commit instead', file=out,
        )
        return None
    name = head_ref[len('refs/heads/'):] if head_ref else 'HEAD'
    print(
        f'migmerge: rewrote the {len(pairs)} rebased commit'
        f'{"s" if len(pairs) != 1 else ""} so that each carries the '
        f'renumbering (authors, dates and messages kept); {name} moved from '
        f'{old_tip[:12]} to {new_tip[:12]}.',
        file=out,
    )
    for ref in moved:
        print(
            f'migmerge: {ref} (on a rebased commit) moved to its rewrite.',
            file=out,
        )
    for ref in skipped:
        print(
            f'migmerge: {ref} is checked out in another work tree (or moved '
            f'meanwhile): left on the commit before the rewrite.', file=out,
        )
    for ref, command in _update_refs_commands(clone.git_dir, pairs):
        print(
            f'migmerge: git rebase --update-refs sets {ref} after this hook, '
            f'to the commit before the rewrite; move it to the rewrite with '
            f'`{command}`', file=out,
        )
    if _exec_lines(clone.git_dir):
        print(
            'migmerge: the rebase\'s --exec commands ran on the commits '
            'before this rewrite; run them again if they depend on '
            'migrations.', file=out,
        )
    orig = _git(top, 'rev-parse', '--verify', '-q', 'ORIG_HEAD').stdout.strip()
    print(
        f'migmerge: to get back the rebase\'s own result: `git reset --keep '
        f'{old_tip[:12]}` (HEAD@{{1}} in `git reflog`); the branch before the '
        f'rebase: ORIG_HEAD ({orig[:12]}).',
        file=out,
    )
    return old_tip


def run_hook(
        hook: str,
        args: Sequence[str],
        *,
        hooks_dir: str | None = None,
        repo_dir: str = '.',
        stdin: bytes | None = None,
        out: TextIO | None = None,
) -> int:
    """The ``migmerge hook NAME`` entry: chained hook first, then ours."""
    out = sys.stderr if out is None else out
    if hook == 'post-rewrite' and stdin is None:
        stdin = sys.stdin.buffer.read()
    stdin = stdin or b''
    if hooks_dir is not None:
        chained_status = run_chained(hooks_dir, hook, args, stdin)
        if chained_status and hook != 'post-rewrite':
            return chained_status
    else:
        chained_status = 0
    if os.environ.get('MIGMERGE_SKIP'):
        return chained_status
    clone = install.locate(repo_dir)
    if hook == 'pre-merge-commit':
        status = conclude_merge(clone, hook, out)
    elif hook == 'pre-commit':
        if not state.concluding_merge(clone.git_dir):
            return 0
        status = conclude_merge(clone, hook, out)
    elif hook == 'post-rewrite':
        status = post_rewrite(clone, args, stdin, out)
    else:
        raise MigmergeError(f'unknown hook {hook!r}')
    return chained_status or status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -I -m mergedriver.integration.githooks [--hooks-dir DIR] NAME
    [--] ARGS``:
    what the installed scripts run; skips the CLI's imports, because a hook
    that has nothing to do should cost little more than Python's start."""
    args = list(sys.argv[1:] if argv is None else argv)
    hooks_dir = None
    if args[:1] == ['--hooks-dir'] and len(args) >= 2:
        hooks_dir = args[1]
        args = args[2:]
    if not args:
        print(
            'usage: python -I -m mergedriver.integration.githooks '
            '[--hooks-dir DIR] NAME '
            '[-- ARGS]',
            file=sys.stderr,
        )
        return 2
    hook, rest = args[0], args[1:]
    if rest[:1] == ['--']:
        rest = rest[1:]
    try:
        return run_hook(hook, rest, hooks_dir=hooks_dir)
    except MigmergeError as e:
        print(f'migmerge: {e}', file=sys.stderr)
        return 2
    except Exception as e:
        # A bug of ours: one line and the way past it, never a traceback in
        # the middle of the user's merge or rebase.
        if os.environ.get('MIGMERGE_DEBUG'):
            raise
        print(
            f'migmerge ({hook}): internal error: {type(e).__name__}: {e}; '
            f'MIGMERGE_SKIP=1 skips migmerge\'s hooks, MIGMERGE_DEBUG=1 '
            f'shows the traceback',
            file=sys.stderr,
        )
        return 2


if __name__ == '__main__':
    warn_unless_isolated('hooks start')
    raise SystemExit(main())
