"""Keep every open pull request's comment honest when its base moves.

PR #1 and PR #2 each add ``0042_*``; each is clean against the base it was
opened on, and merging both breaks the base.  The forge starts no
``pull_request`` run for #2 when #1 lands (and none at all once #2's lock
file conflicts textually), so on each push to the base branch the sweep
lists the open pull requests against it (every page), fetches their heads
from the forge's published refs in one ``git fetch``, reports each one
against the new base and updates its comment: nothing for one that stays
clean.

The sweep's own exit status says whether it could run, not what it found:
a push to the base should not turn red because a pull request needs work;
each pull request's state is on its comment (and one line per pull request
on stdout).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import multiprocessing
import re
import subprocess
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from mergedriver.errors import MigmergeError
from mergedriver.pullrequest.forge import describe
from mergedriver.pullrequest.forge import Forge
from mergedriver.pullrequest.forge import ForgeError
from mergedriver.pullrequest.forge import PullRequest
from mergedriver.pullrequest.forge import Rendered
from mergedriver.pullrequest.forge import upsert

# Where fetched heads are kept during a sweep; removed when it ends.
SWEEP_REFS = 'refs/migmerge/sweep'


@dataclasses.dataclass(frozen=True)
class SweepLine:
    """What the sweep did for one pull request: ``verdict`` (or
    ``unusable`` / ``not fetched``) and one line for the log."""
    number: int
    verdict: str
    line: str


def _git(
        repo_dir: str, *args: str, stdin: str = '',
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ('git', *args), cwd=repo_dir, capture_output=True, text=True,
        input=stdin,
    )


_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9._/@+-]*')


def base_branch(repo_dir: str, base: str) -> str:
    """The branch name the forge knows ``base`` by: ``main`` for ``main``,
    ``origin/main``, ``refs/heads/main`` or ``refs/remotes/origin/main``."""
    proc = _git(repo_dir, 'rev-parse', '--symbolic-full-name', base) if (
        _NAME.fullmatch(base)) else None
    full = proc.stdout.strip() if proc and proc.returncode == 0 else ''
    if full.startswith('refs/heads/'):
        return full[len('refs/heads/'):]
    if full.startswith('refs/remotes/'):
        _, _, rest = full[len('refs/remotes/'):].partition('/')
        if rest and rest != 'HEAD':
            return rest
    raise MigmergeError(
        f'--sweep: --base {base!r} must name a branch (e.g. origin/main)',
    )


def fetch_heads(
        repo_dir: str, remote: str, pulls: Sequence[PullRequest],
) -> dict[int, str]:
    """Fetch each pull request's published head; number -> local ref.

    One fetch for all (the refspecs on stdin: no length limit); if it
    fails (a pull request closed meanwhile and its ref is gone), one by
    one, so the others are still swept."""
    def refspec(pull: PullRequest) -> str:
        return f'+{pull.head_ref}:{SWEEP_REFS}/{pull.number}\n'

    fetch = (
        'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--stdin',
        remote,
    )
    if pulls and _git(
            repo_dir, *fetch, stdin=''.join(map(refspec, pulls)),
    ).returncode == 0:
        return {p.number: f'{SWEEP_REFS}/{p.number}' for p in pulls}
    fetched = {}
    for pull in pulls:
        if _git(repo_dir, *fetch, stdin=refspec(pull)).returncode == 0:
            fetched[pull.number] = f'{SWEEP_REFS}/{pull.number}'
    return fetched


def drop_sweep_refs(repo_dir: str) -> None:
    refs = _git(
        repo_dir, 'for-each-ref', '--format=delete %(refname)', SWEEP_REFS,
    ).stdout
    if refs:
        _git(repo_dir, 'update-ref', '--stdin', stdin=refs)


def _guarded(
        compute: Callable[[str, str], Mapping[str, Any]], base: str, head: str,
) -> tuple[Mapping[str, Any] | None, str]:
    # In a worker: the error crosses back as its one line, not pickled.
    try:
        return compute(base, head), ''
    except MigmergeError as e:
        return None, str(e)


def _computed(
        compute: Callable[[str, str], Mapping[str, Any]],
        base: str,
        heads: Sequence[str],
        jobs: int,
) -> Iterator[tuple[Mapping[str, Any] | None, str]]:
    """Each head's report, in order, ``jobs`` at a time.  Worker processes
    are forked before anything is computed or cached in this one."""
    task = functools.partial(_guarded, compute, base)
    if jobs <= 1 or len(heads) <= 1 or 'fork' not in (
            multiprocessing.get_all_start_methods()):
        yield from map(task, heads)
        return
    context = multiprocessing.get_context('fork')
    with concurrent.futures.ProcessPoolExecutor(
            min(jobs, len(heads)), mp_context=context,
    ) as pool:
        yield from pool.map(task, heads)


def sweep(
        forge: Forge,
        repo_dir: str,
        base: str,
        *,
        compute: Callable[[str, str], Mapping[str, Any]],
        rendered: Callable[[Mapping[str, Any]], Rendered],
        comment_id: str,
        on_clean: str,
        notice: Callable[[str], None],
        remote: str = 'origin',
        jobs: int = 1,
) -> list[SweepLine]:
    """Report every open pull request against ``base`` and update its
    comment.  ``compute(base, head_ref)`` is one report's JSON document
    (MigmergeError: unusable), run in ``jobs`` worker processes, so it must
    pickle (a module-level function or a partial of one); ``rendered``
    turns a document into what is posted.  ``notice`` gets one line per
    failure, which never stops the others.  ForgeError if the pull
    requests cannot be listed."""
    if not _NAME.fullmatch(remote):
        raise MigmergeError(f'--remote {remote!r}: not a remote name')
    branch = base_branch(repo_dir, base)
    pulls = forge.open_pulls(branch)
    fetched = fetch_heads(repo_dir, remote, pulls)
    lines = []
    for pull in pulls:
        if pull.number not in fetched:
            notice(f'#{pull.number}: could not fetch {pull.head_ref}')
            lines.append(SweepLine(pull.number, 'not fetched', ''))
    swept = [pull for pull in pulls if pull.number in fetched]
    try:
        reports = _computed(
            compute, base, [fetched[p.number] for p in swept], jobs,
        )
        for pull, (document, error) in zip(swept, reports):
            if document is None:
                notice(f'#{pull.number}: {error}')
                lines.append(SweepLine(pull.number, 'unusable', ''))
                continue
            report = rendered(document)
            try:
                result = upsert(
                    forge, pull.number, report,
                    comment_id=comment_id, on_clean=on_clean,
                )
            except ForgeError as e:
                notice(f'#{pull.number}: comment not posted: {e}')
                lines.append(SweepLine(pull.number, report.verdict, ''))
                continue
            lines.append(SweepLine(
                pull.number, report.verdict,
                f'{report.verdict}: {describe(result, pull.number, forge)}',
            ))
    finally:
        drop_sweep_refs(repo_dir)
    return lines
