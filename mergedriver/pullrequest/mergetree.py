"""The merge a pull request's merge button would make, from git objects only.

:func:`merge_tree` asks git itself (``git merge-tree --write-tree``, git
2.38 or newer) for the merged tree, so the report sees what the forge will
see.  Where git leaves a lock file or a migration module conflicted as
text, the conflict stages go through the merge driver's own logic
(:func:`mergedriver.driver.mergefile.structured_merge`): the forge will show a
text conflict there, which migmerge's driver resolves for anyone who ran
``migmerge install``.  The resolved blobs are written to the object
database and a new tree is made with a temporary index; nothing is checked
out and the repository's own index is never touched.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import subprocess
import tempfile
from collections.abc import Mapping
from collections.abc import Sequence

from mergedriver.discovery.modules import is_migration_path
from mergedriver.driver.lockfiles import DEFAULT_MARKER_SIZE
from mergedriver.driver.mergefile import lock_kind
from mergedriver.driver.mergefile import structured_merge
from mergedriver.errors import MigmergeError
from mergedriver.git.location import locate
from mergedriver.git.location import Location
from mergedriver.git.runner import run_git

SHALLOW_HINT = (
    'fetch more history (actions/checkout: `fetch-depth: 0`; '
    'GitLab: `GIT_DEPTH: 0`; or `git fetch --unshallow`)'
)


@dataclasses.dataclass(frozen=True)
class TextConflict:
    """A path git's text merge leaves conflicted.

    ``kind``: 'lockfile', 'migration' or 'other'.  ``resolved``: the merge
    driver's logic resolves it (the merged tree holds its result); else
    ``reason`` says why not.
    """

    path: str
    kind: str
    resolved: bool
    reason: str = ''


@dataclasses.dataclass(frozen=True)
class MergeResult:
    base: str  # commit ids (hex)
    head: str
    merge_base: str
    tree: str  # the merged tree, conflicts the driver resolves resolved
    conflicts: tuple[TextConflict, ...]
    now: datetime.datetime  # the head commit's time (UTC, naive)


def _git(
        location: Location, *args: str, input: bytes | None = None,
        env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return run_git(
            location.common_dir, f'--git-dir={location.common_dir}', *args,
            stdin=input, env=env,
        )
    except OSError as e:
        raise MigmergeError(f'cannot run git: {e.strerror}')


def _stderr(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = proc.stderr.decode('utf-8', 'replace').strip()
    return text.splitlines()[-1] if text else f'exit status {proc.returncode}'


def resolve_commit(location: Location, rev: str) -> str:
    proc = _git(
        location, 'rev-parse', '--verify', '--quiet', f'{rev}^{{commit}}',
    )
    if proc.returncode:
        raise MigmergeError(f'unknown revision: {rev}')
    return proc.stdout.decode().strip()


def _is_shallow(location: Location) -> bool:
    return os.path.exists(os.path.join(location.common_dir, 'shallow'))


def merge_base(location: Location, base: str, head: str) -> str:
    """The fork point; MigmergeError with the fetch hint when there is none."""
    proc = _git(location, 'merge-base', base, head)
    if proc.returncode == 0:
        return proc.stdout.decode().split()[0]
    if proc.returncode == 1:
        why = (
            'the clone is shallow' if _is_shallow(location)
            else 'the histories are unrelated'
        )
        raise MigmergeError(
            f'no merge base between {base[:12]} and {head[:12]} ({why}); '
            f'{SHALLOW_HINT}',
        )
    raise MigmergeError(f'git merge-base failed: {_stderr(proc)}')


def commit_time(location: Location, commit: str) -> datetime.datetime:
    """The committer time, in UTC without a zone: deterministic names."""
    proc = _git(location, 'show', '-s', '--format=%ct', commit)
    if proc.returncode:
        raise MigmergeError(f'cannot read commit {commit}: {_stderr(proc)}')
    stamp = int(proc.stdout.decode().strip())
    return datetime.datetime.fromtimestamp(
        stamp, tz=datetime.timezone.utc,
    ).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class _Stage:
    mode: str
    oid: str
    stage: int


def parse_merge_tree(
        output: bytes,
) -> tuple[str, dict[str, dict[int, _Stage]]]:
    """``git merge-tree --write-tree -z --no-messages`` output: the tree id
    and path -> stage number -> entry for each conflicted path."""
    fields = output.split(b'\0')
    tree = fields[0].decode().strip()
    stages: dict[str, dict[int, _Stage]] = {}
    for field in fields[1:]:
        if not field:
            break  # an empty field ends the conflicted-file list
        info, _, path_bytes = field.partition(b'\t')
        mode, oid, stage = info.decode().split(' ')
        path = path_bytes.decode('utf-8', 'surrogateescape')
        stages.setdefault(path, {})[int(stage)] = _Stage(mode, oid, int(stage))
    return tree, stages


def _blobs(location: Location, oids: Sequence[str]) -> dict[str, bytes]:
    from mergedriver.git.trees import cat_file

    blobs = cat_file(location, oids) if oids else {}
    if blobs is None:
        raise MigmergeError(
            'cannot read the conflicted blobs with git cat-file',
        )
    return blobs


def _kind(path: str) -> str:
    if lock_kind(path) is not None:
        return 'lockfile'
    return 'migration' if is_migration_path(path) else 'other'


def _resolve_stages(
        path: str,
        entry: Mapping[int, _Stage],
        blobs: Mapping[str, bytes],
        now: datetime.datetime,
) -> str | None:
    """The driver's merge of one conflicted path; None when it leaves the
    conflict to a human (git's markers stay)."""
    if 2 not in entry or 3 not in entry:
        return None  # modify/delete: no text to merge
    texts = []
    for stage in (1, 2, 3):
        found = entry.get(stage)
        data = b'' if found is None else blobs[found.oid]
        try:
            texts.append(data.decode('utf-8'))
        except UnicodeDecodeError:
            return None
    try:
        return structured_merge(
            texts[0], texts[1], texts[2], path=path, mode='merge',
            marker_size=DEFAULT_MARKER_SIZE, now=now,
        )
    except MigmergeError:
        return None


def _write_tree(
        location: Location, tree: str, replaced: Mapping[str, tuple[str, str]],
) -> str:
    """``tree`` with ``path -> (mode, blob)`` replaced, via a temporary
    index (the repository's own index is never read or written)."""
    with tempfile.TemporaryDirectory(prefix='migmerge-report-') as tmp:
        env = {**os.environ, 'GIT_INDEX_FILE': os.path.join(tmp, 'index')}
        steps: list[tuple[tuple[str, ...], bytes | None]] = [
            (('read-tree', tree), None),
            (('update-index', '-z', '--index-info'), b''.join(
                f'{mode} {oid}\t{path}'.encode('utf-8', 'surrogateescape') +
                b'\0'
                for path, (mode, oid) in sorted(replaced.items())
            )),
            (('write-tree',), None),
        ]
        proc = None
        for args, stdin in steps:
            proc = _git(location, *args, input=stdin, env=env)
            if proc.returncode:
                raise MigmergeError(
                    f'git {args[0]} failed: {_stderr(proc)}',
                )
        assert proc is not None
        return proc.stdout.decode().strip()


def _hash_objects(location: Location, texts: Sequence[str]) -> list[str]:
    oids = []
    for text in texts:
        proc = _git(
            location, 'hash-object', '-w', '--stdin',
            input=text.encode('utf-8'),
        )
        if proc.returncode:
            raise MigmergeError(f'git hash-object failed: {_stderr(proc)}')
        oids.append(proc.stdout.decode().strip())
    return oids


def merge_tree(repo_dir: str, base: str, head: str) -> MergeResult:
    """Merge ``head`` into ``base`` the way the forge will; see the module
    docstring.  Raises MigmergeError (no merge base, old git...)."""
    location = locate(repo_dir)
    base_id = resolve_commit(location, base)
    head_id = resolve_commit(location, head)
    fork = merge_base(location, base_id, head_id)
    now = commit_time(location, head_id)
    proc = _git(
        location, 'merge-tree', '--write-tree', '-z', '--no-messages',
        base_id, head_id,
    )
    if proc.returncode not in (0, 1):
        message = _stderr(proc)
        if 'write-tree' in message or 'usage' in message:
            message = 'git merge-tree --write-tree needs git 2.38 or newer'
        raise MigmergeError(f'git merge-tree failed: {message}')
    tree, stages = parse_merge_tree(proc.stdout)
    wanted = {
        path: entry for path, entry in stages.items()
        if _kind(path) != 'other'
    }
    blobs = _blobs(location, sorted({
        s.oid for entry in wanted.values() for s in entry.values()
    }))
    conflicts = []
    resolved: dict[str, str] = {}
    for path in sorted(stages):
        kind = _kind(path)
        text = None
        if kind != 'other':
            text = _resolve_stages(path, stages[path], blobs, now)
        reason = ''
        if text is not None:
            resolved[path] = text
        elif kind == 'other':
            reason = 'not a migration or lock file'
        elif 2 not in stages[path] or 3 not in stages[path]:
            reason = 'changed on one side, deleted on the other'
        else:
            reason = 'edits that overlap'
        conflicts.append(TextConflict(path, kind, text is not None, reason))
    if resolved:
        paths = sorted(resolved)
        oids = _hash_objects(location, [resolved[p] for p in paths])
        tree = _write_tree(location, tree, {
            path: (stages[path][2].mode, oid)
            for path, oid in zip(paths, oids)
        })
    return MergeResult(
        base=base_id, head=head_id, merge_base=fork, tree=tree,
        conflicts=tuple(conflicts), now=now,
    )
