"""``migmerge resolve``: plan, (roll back,) apply, and say what happened.

:func:`plan_for` is the read-only half the git hooks call; :func:`resolve`
is the whole command.  Exit statuses: 0 resolved or nothing to do, 1
refused / flagged / declined / rollback failed, 2 unusable input.

``move`` says which side moves during a renumber: a git revision whose tree
holds the side that stays (upstream).  Every conflicting branch with a
migration file present at the same path in that tree stays; the others
move after it.  The rebase hook passes the commit it rebased onto.  Without
``move``, the mainline ref decides (see :mod:`mergedriver.resolution.published`).
Either way, a migration published on the mainline is never renamed.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
from collections.abc import Callable
from typing import TextIO

from mergedriver.check import check_tree
from mergedriver.check import CheckResult
from mergedriver.config import load_config
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.errors import MigmergeError
from mergedriver.git.location import locate_clone
from mergedriver.git.runner import git_output
from mergedriver.git.state import merge_heads
from mergedriver.git.trees import open_repository
from mergedriver.git.trees import open_tree
from mergedriver.records import MigrationInfo
from mergedriver.records import Problem
from mergedriver.resolution.apply import apply_plan
from mergedriver.resolution.apply import ApplyError
from mergedriver.resolution.collisions import find_collisions
from mergedriver.resolution.conflicts import Conflict
from mergedriver.resolution.conflicts import conflicts as find_conflicts
from mergedriver.resolution.database import ask_database
from mergedriver.resolution.database import DatabaseAnswer
from mergedriver.resolution.plan import action_diff
from mergedriver.resolution.plan import CreateFile
from mergedriver.resolution.plan import Finding
from mergedriver.resolution.plan import Forward
from mergedriver.resolution.plan import make_plan
from mergedriver.resolution.plan import Outcome
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import PlanInput
from mergedriver.resolution.plan import Refusal
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import Rollback
from mergedriver.resolution.plan import STRATEGIES
from mergedriver.resolution.plan import Strategy
from mergedriver.resolution.rollback import APPROVE_COMMAND
from mergedriver.resolution.rollback import is_approved
from mergedriver.resolution.rollback import manual_instructions
from mergedriver.resolution.rollback import require_approval
from mergedriver.resolution.rollback import restore_leftovers
from mergedriver.resolution.rollback import RollbackFailed
from mergedriver.resolution.rollback import run_forward
from mergedriver.resolution.rollback import run_rollback
from mergedriver.resolution.rollback import undo_paths


@dataclasses.dataclass(frozen=True)
class Planned:
    """What :func:`plan_for` found.

    ``outcome`` is None when the input is unusable; ``problems`` then holds
    the reasons (``path:line: message``).
    """

    check: CheckResult
    conflicts: tuple[Conflict, ...]
    outcome: Outcome | None
    problems: tuple[Problem, ...] = ()


def _collisions(
        check: CheckResult, conflicts: tuple[Conflict, ...],
) -> tuple[tuple[Finding, ...], tuple[Finding, ...], tuple[Finding, ...]]:
    """Collisions, reviews (data operations) and notices (state-only
    pairs, merged)."""
    collisions: list[Finding] = []
    reviews: list[Finding] = []
    notices: list[Finding] = []
    merge_state_only = check.config.state_only_collisions == 'merge'
    for conflict in conflicts:
        report = find_collisions(
            check.graph, conflict, swappable=check.config.swappable,
            merge_state_only=merge_state_only,
        )
        collisions.extend(report.collisions)
        reviews.extend(report.reviews)
        notices.extend(report.state_only)
    return tuple(collisions), tuple(reviews), tuple(notices)


def plan_for(
        repo_dir: str,
        *,
        strategy: str = 'auto',
        index: bool = False,
        name: str | None = None,
        move: str | None = None,
        now: datetime.datetime | None = None,
) -> Planned:
    """Plan the resolution of the work tree's (or the index's) conflicts.

    Reads only; raises MigmergeError for an unusable repository or
    configuration.
    """
    if strategy not in STRATEGIES:
        raise MigmergeError(
            f'unknown strategy {strategy!r} (choose from '
            f'{", ".join(STRATEGIES)})',
        )
    top = locate_clone(repo_dir).work_tree
    config = load_config(top)
    tree = open_tree(repo_dir, index=index)
    check = check_tree(tree, config)
    conflicts = find_conflicts(check.graph)
    unusable = tuple(p for p in check.problems if p.unusable)
    if unusable:
        return Planned(check, conflicts, None, unusable)
    if now is None:
        # Django stamps merge names with local time and headers with UTC
        # when USE_TZ; local time it is, like an unconfigured project.
        now = datetime.datetime.now()
    collisions, reviews, notices = _collisions(check, conflicts)
    published = None
    mainline_ref = None
    stay = None
    if strategy == 'renumber' and conflicts:
        # Only renumbering asks git which side is published (libgit2).
        from mergedriver.resolution.published import find_mainline
        from mergedriver.resolution.published import keys_in
        from mergedriver.resolution.published import revision

        repo = open_repository(repo_dir)
        branch_infos: list[MigrationInfo] = [
            check.graph.nodes[key]
            for c in conflicts for keys in c.branches.values()
            for key in keys
        ]
        mainline = find_mainline(repo, config)
        if mainline is not None:
            mainline_ref = mainline.ref
            published = keys_in(repo, mainline, branch_infos)
        if move is not None:
            stay = keys_in(repo, revision(repo, move), branch_infos)
    pi = PlanInput(
        check=check,
        tree=tree,
        conflicts=conflicts,
        now=now,
        collisions=collisions,
        reviews=reviews,
        notices=notices,
        published=published,
        mainline=mainline_ref,
        stay=stay,
        name=name,
        lock_tree=open_tree(repo_dir) if index else None,
    )
    strategy_: Strategy = strategy
    return Planned(check, conflicts, make_plan(pi, strategy_))


# ----------------------------------------------------------------- output


def describe_plan(plan: Plan) -> str:
    """The plan as a reader wants it: what is written, with short diffs."""
    out = [f'strategy: {plan.strategy}\n']
    out.extend(f'  {note}\n' for note in plan.notes)
    for action in plan.actions:
        if isinstance(action, CreateFile):
            out.append(f'create {action.path}\n')
            out.extend(f'  | {line}\n' for line in action.text.splitlines())
        elif isinstance(action, RenameFile):
            out.append(f'rename {action.old_path} -> {action.new_path}\n')
            out.append(action_diff(
                action.old_text, action.text, action.old_path,
                action.new_path,
            ))
        else:
            out.append(f'rewrite {action.path}\n')
            out.append(
                action_diff(action.old_text, action.text, action.path, action.path),
            )
    return ''.join(out)


def _split_notes(notes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    reviews = [n[len('review: '):] for n in notes if n.startswith('review: ')]
    return reviews, [n for n in notes if not n.startswith('review: ')]


def planned_json(planned: Planned) -> str:
    """``resolve --dry-run --format json``: the plan as data.  A public
    shape like check's JSON: keys may be added, never renamed."""
    from mergedriver.render import JSON_VERSION
    from mergedriver.render import problem_json

    outcome = planned.outcome
    document: dict[str, object] = {
        'version': JSON_VERSION, 'status': 'unusable', 'strategy': None,
        'actions': [], 'collisions': [], 'reviews': [], 'notes': [],
        'problems': [problem_json(p) for p in planned.problems],
    }
    if isinstance(outcome, Refusal):
        reviews, notes = _split_notes(outcome.notes)
        document.update(
            status='refused', collisions=list(outcome.collisions),
            reviews=reviews, notes=list(outcome.reasons) + notes,
        )
    elif isinstance(outcome, Plan):
        actions: list[dict[str, str]] = []
        for action in outcome.actions:
            if isinstance(action, CreateFile):
                actions.append({'action': 'create', 'path': action.path})
            elif isinstance(action, RenameFile):
                actions.append({
                    'action': 'rename', 'old_path': action.old_path,
                    'path': action.new_path,
                })
            else:
                actions.append({'action': 'rewrite', 'path': action.path})
        reviews, notes = _split_notes(outcome.notes)
        document.update(
            status='plan' if actions else 'nothing',
            strategy=outcome.strategy, actions=actions, reviews=reviews,
            notes=notes,
        )
    return json.dumps(document, indent=2) + '\n'


def undo_sources(
        top: str, git_dir: str, paths: list[str],
) -> dict[str, str]:
    """The revision that holds each of ``paths`` as committed: HEAD, else
    (during an open merge) MERGE_HEAD -- ``git checkout HEAD -- p`` fails
    for a file only the merged branch has."""
    if not paths:
        return {}
    sources = {path: 'HEAD' for path in paths}
    if not merge_heads(git_dir, os.environ):
        return sources
    in_head = set(git_output(
        top, 'ls-tree', '-r', '--name-only', '-z', 'HEAD', '--', *paths,
        check=False,
    ).split('\0'))
    if os.path.exists(os.path.join(git_dir, 'MERGE_HEAD')):
        for path in paths:
            if path not in in_head:
                sources[path] = 'MERGE_HEAD'
    return sources


def describe_refusal(refusal: Refusal) -> str:
    out = [f'migmerge: {reason}\n' for reason in refusal.reasons]
    out.extend(f'{line}\n' for line in refusal.collisions)
    out.extend(f'  {note}\n' for note in refusal.notes)
    return ''.join(out)


# ---------------------------------------------------------------- command


def resolve(
        repo_dir: str,
        *,
        strategy: str = 'auto',
        rollback: bool = False,
        dry_run: bool = False,
        force: bool = False,
        stage: bool = False,
        index: bool = False,
        name: str | None = None,
        move: str | None = None,
        now: datetime.datetime | None = None,
        out: TextIO = sys.stdout,
        confirm: Callable[[], bool] | None = None,
        undo_advice: bool = True,
        ask_db: bool = True,
        answers: list[DatabaseAnswer] | None = None,
        rerun: str | None = None,
        by_hand: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
        plans: list[Plan] | None = None,
) -> int:
    """Resolve the parallel leaves of ``repo_dir``'s work tree.

    ``index``: plan from the index (what a hook is about to commit) rather
    than the work tree; files are still written to the work tree, so pass
    ``stage`` to record them.  ``confirm`` is asked after the plan is shown
    and before anything runs; False leaves everything as it was (exit 1).
    ``undo_advice``: after a renumber without ``rollback``, print how to
    undo it and redo it with the rollback (a caller that commits the result,
    like the post-rewrite hook, gives its own advice instead).

    Before renaming, unless ``ask_db`` is False, the development database
    is asked which of the migrations to rename it applied
    (:mod:`mergedriver.resolution.database`; the answer is appended to
    ``answers``): none -> rename; some and ``rollback`` -> roll those apps
    back, rename, migrate forward; some without ``rollback`` -> rename
    nothing, exit 1, print the fix (``rerun``: the command that renumbers
    again, default ``migmerge resolve --strategy renumber [--move REV]``;
    ``by_hand``: see :func:`applied_refusal`); unknown -> one line saying
    why, then as without the question.  ``plans`` receives the plan once
    it is applied.
    MigmergeError (unusable input) propagates for the caller to report.
    """
    clone = locate_clone(repo_dir)
    top, git_dir = clone.work_tree, clone.git_dir
    if not dry_run:
        for path in restore_leftovers(top, git_dir):
            print(
                f'{path}: restored from an interrupted earlier run', file=out,
            )
    planned = plan_for(
        repo_dir, strategy=strategy, index=index, name=name, move=move,
        now=now,
    )
    if planned.outcome is None:
        for problem in planned.problems:
            print(problem.one_line(), file=out)
        return EXIT_UNUSABLE
    outcome = planned.outcome
    if isinstance(outcome, Refusal):
        out.write(describe_refusal(outcome))
        return EXIT_PROBLEMS
    if outcome.empty:
        print('migmerge: nothing to resolve', file=out)
        return EXIT_CLEAN
    out.write(describe_plan(outcome))
    if dry_run and outcome.rollbacks and not rollback:
        out.write(manual_instructions(outcome.rollbacks, applied=False))
    template = planned.check.config.rollback_command
    if rerun is None:
        rerun = 'migmerge resolve --strategy renumber' + (
            f' --move {move}' if move is not None else ''
        )
    if dry_run:
        for rb in outcome.rollbacks if rollback else ():
            print(f'would run: {rb.command()}', file=out)
        if rollback and outcome.rollbacks and not is_approved(
                clone.common_dir, template,
        ):
            print(
                f'not approved in this clone yet: run `{APPROVE_COMMAND}` '
                f'to approve rollback_command', file=out,
            )
        print('dry run: nothing written', file=out)
        return EXIT_CLEAN
    answer = None
    if ask_db and outcome.rollbacks:
        answer = ask_database(
            top, planned.check.config, clone.common_dir,
            sorted({rb.app for rb in outcome.rollbacks}),
        )
        if answers is not None:
            answers.append(answer)
    rollbacks = outcome.rollbacks
    if answer is not None and answer.applied is None:
        print(answer.unknown_line(), file=out)
    elif answer is not None and answer.applied is not None:
        rollbacks = tuple(
            rb for rb in outcome.rollbacks
            if answer.applied & set(rb.moved)
        )
        if not rollbacks:
            print(
                f'migmerge: the development database applied none of the '
                f'migrations to rename (`{answer.command}`)', file=out,
            )
        elif not rollback:
            out.write(applied_refusal(answer, rollbacks, rerun, by_hand))
            return EXIT_PROBLEMS
        else:
            print(
                f'migmerge: the development database applied '
                f'{_names(answer, rollbacks)} (`{answer.command}`): rolling '
                f'back, renaming, then migrating forward', file=out,
            )
    if confirm is not None and not confirm():
        print('migmerge: nothing written', file=out)
        return EXIT_PROBLEMS
    try:
        if rollback and rollbacks:
            from mergedriver.resolution.apply import validate

            require_approval(clone.common_dir, template)
            # Validate before touching the database: a plan that cannot be
            # applied must not have rolled anything back.
            validate(top, git_dir, outcome, force=force)
            for rb in rollbacks:
                run_rollback(top, git_dir, rb, out=out)
        sources = undo_sources(top, git_dir, undo_paths(outcome)[0])
        applied = apply_plan(repo_dir, outcome, force=force, staged=stage)
    except (ApplyError, RollbackFailed) as e:
        print(f'migmerge: {e}', file=out)
        return EXIT_PROBLEMS
    if plans is not None:
        plans.append(outcome)
    for path in applied.removed:
        print(f'removed {path}', file=out)
    for path in applied.written:
        print(f'wrote {path}', file=out)
    if stage:
        print('staged the changes', file=out)
    if rollback and rollbacks and answer is not None and answer.known:
        _migrate_forward(top, rollbacks, out)
    if outcome.rollbacks and not rollback and undo_advice and (
            answer is None or not answer.known
    ):
        out.write(manual_instructions(
            outcome.rollbacks, applied=True, plan=outcome, sources=sources,
        ))
    return EXIT_CLEAN


def _names(answer: DatabaseAnswer, rollbacks: tuple[Rollback, ...]) -> str:
    applied = answer.applied or frozenset()
    return ', '.join(
        f'{app}.{name}' for rb in rollbacks for app, name in rb.moved
        if (app, name) in applied
    )


def _unique_forwards(rollbacks: tuple[Rollback, ...]) -> list[Forward]:
    seen: dict[str, Forward] = {}
    for rb in rollbacks:
        for forward in rb.forwards:
            seen[forward.app] = forward  # a later move's leaf is the last
    return list(seen.values())


def _migrate_forward(
        top: str, rollbacks: tuple[Rollback, ...], out: TextIO,
) -> None:
    """After a rollback and the renaming: apply the renamed migrations.
    A failure leaves the database rolled back (consistent, only behind):
    said, not fatal."""
    for forward in _unique_forwards(rollbacks):
        try:
            run_forward(top, forward, out=out)
        except RollbackFailed as e:
            print(
                f'migmerge: {e}; the files are renamed and the database is '
                f'rolled back: run it again once the cause is fixed',
                file=out,
            )
            return
    print(
        'migmerge: the development database is migrated forward to the '
        'renamed migrations', file=out,
    )


def applied_refusal(
        answer: DatabaseAnswer,
        rollbacks: tuple[Rollback, ...],
        rerun: str,
        by_hand: tuple[tuple[str, ...], tuple[str, ...]] | None,
) -> str:
    """Some migrations to rename are applied and no rollback was asked
    for: nothing renamed; what is applied and the commands that fix it.

    ``by_hand``: commands before and after the manual rollback that give
    Django a tree with one leaf (the rebase hook: the commit before the
    rebase); None: say which files to move away meanwhile.
    """
    names = _names(answer, rollbacks)
    lines = [
        f'migmerge: the development database applied {names} '
        f'(`{answer.command}`); renaming would leave django_migrations '
        f'naming a file that no longer exists, and Django would apply the '
        f'renamed migration again. Nothing was renamed.',
        'Fix it: roll back first, rename, migrate forward, all in one:',
        f'  {rerun} --rollback',
    ]
    if by_hand is not None:
        before, after = by_hand
        lines.append('or by hand:')
        lines.extend(f'  {c}' for c in before)
        lines.extend(f'  {rb.command()}' for rb in rollbacks)
        lines.extend(f'  {c}' for c in after)
    else:
        aside = sorted({p for rb in rollbacks for p in rb.aside})
        lines.append(
            'or by hand, with these moved out of the work tree meanwhile '
            '(Django does not migrate while an app has two leaves): '
            + ' '.join(aside),
        )
        lines.extend(f'  {rb.command()}' for rb in rollbacks)
        lines.append('then, with them back:')
    lines.append(f'  {rerun}')
    lines.extend(f'  {f.command()}' for f in _unique_forwards(rollbacks))
    return '\n'.join(lines) + '\n'
