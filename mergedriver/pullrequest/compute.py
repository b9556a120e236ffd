"""``migmerge report``'s computation: what merging a pull request does to
its base's migrations, as one immutable :class:`Report`.

Everything is read from git objects: the base and head commits, their
merge base, and the tree git's own merge makes (:mod:`.mergetree`).  No
file of the pull request is checked out, imported or executed.  The
``check`` engine runs on the merged tree and on base (its summary, from a
snapshot when the same base was checked before), and only what the merge
introduces is reported (merged minus base), like a linter's "added lines"
filter; head's files are read only for the rules on the migrations it
adds (mixed data and schema, data operations, ignore rules).  The plan
is the one ``migmerge resolve`` would make on the merged tree, with base's
migrations counted as published (so head's move when renumbering) and the
head commit's time as ``now`` (so names are deterministic).

:func:`report_to_json` gives the JSON contract (``version``ed like
``check --format json``: keys may be added, never renamed or removed);
every other format renders from that JSON (:mod:`.formats`).
"""
from __future__ import annotations

import dataclasses
import os
import posixpath
import tempfile
import types
import typing
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from mergedriver import __version__
from mergedriver.check import check_summary
from mergedriver.check import check_tree
from mergedriver.check import CheckResult
from mergedriver.check import CheckSummary
from mergedriver.config import Config
from mergedriver.config import config_from_texts
from mergedriver.driver.lockfiles import LOCKFILE_FILENAME
from mergedriver.driver.lockfiles import MAX_MIGRATION_FILENAME
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.errors import MigmergeError
from mergedriver.git.location import locate
from mergedriver.git.location import Location
from mergedriver.git.runner import run_git
from mergedriver.git.trees import open_tree
from mergedriver.git.trees import Tree
from mergedriver.pullrequest.mergetree import merge_tree
from mergedriver.pullrequest.mergetree import MergeResult
from mergedriver.pullrequest.mergetree import TextConflict
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey
from mergedriver.records import Problem
from mergedriver.resolution.collisions import Collision
from mergedriver.resolution.collisions import find_collisions
from mergedriver.resolution.collisions import Review
from mergedriver.resolution.conflicts import Conflict
from mergedriver.resolution.conflicts import conflicts as find_conflicts
from mergedriver.resolution.plan import action_diff
from mergedriver.resolution.plan import CreateFile
from mergedriver.resolution.plan import make_plan
from mergedriver.resolution.plan import Outcome
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import PlanInput
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import STRATEGIES
from mergedriver.resolution.plan import Strategy

# Bump only for an incompatible change (a key renamed or removed).
JSON_VERSION = 1
VERDICTS = ('clean', 'resolvable', 'blocked', 'unusable')
EXIT_STATUS = {
    'clean': EXIT_CLEAN,
    'resolvable': EXIT_PROBLEMS,
    'blocked': EXIT_PROBLEMS,
    'unusable': EXIT_UNUSABLE,
}
SEVERITIES = ('error', 'warning', 'note')


# ---------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True)
class Commit:
    ref: str  # as the caller named it
    sha: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing to say about a file line: an annotation, a code-quality
    issue, a SARIF result.  ``kind`` is the stable rule id."""

    kind: str
    severity: str  # 'error', 'warning' or 'note'
    message: str
    app: str | None = None
    migration: str | None = None
    file: str | None = None
    line: int | None = None
    side: str | None = None  # 'base', 'head' or 'merged': which tree
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class MigrationRef:
    name: str
    file: str
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class LockValue:
    file: str
    value: str


@dataclasses.dataclass(frozen=True)
class AppReport:
    app: str
    path: str
    added_on_head: tuple[MigrationRef, ...]
    added_on_base: tuple[MigrationRef, ...]
    leaves_after_merge: tuple[str, ...]
    lock_after_merge: tuple[LockValue, ...]
    conflict: bool | None


@dataclasses.dataclass(frozen=True)
class FileChange:
    action: str  # 'create', 'rename' or 'rewrite'
    path: str
    content: str
    old_path: str | None = None
    diff: str = ''


@dataclasses.dataclass(frozen=True)
class Fix:
    """What ``migmerge resolve`` would do to the merged tree.

    ``kind``: 'none' (nothing to do), 'merge', 'renumber', 'flag'
    (colliding operations, nothing written) or 'refused'.
    """

    kind: str
    strategy: str
    notes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    files: tuple[FileChange, ...] = ()


@dataclasses.dataclass(frozen=True)
class Place:
    side: str  # 'base', 'head' or 'merged'
    path: str
    line: int
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class CollisionReport:
    app: str
    target: str
    what: str
    message: str
    first: Place
    first_kind: str
    second: Place
    second_kind: str


@dataclasses.dataclass(frozen=True)
class Branch:
    side: str  # 'base', 'head' or 'both' (where a migration is on neither)
    leaf: str
    migrations: tuple[str, ...]  # oldest first, ending with the leaf


@dataclasses.dataclass(frozen=True)
class GraphWindow:
    """One app's fork window: what the Mermaid graph draws.

    ``planned``: 'merge' (``planned_name`` depends on every leaf),
    'renumber' (``renames`` old -> new, placed after the staying leaf) or
    '' (nothing planned).
    """

    app: str
    ancestor: str | None
    branches: tuple[Branch, ...]
    planned: str = ''
    planned_name: str | None = None
    renames: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Report:
    version: int
    tool_version: str
    verdict: str
    exit_status: int
    summary: str
    base: Commit
    head: Commit
    merge_base: str
    repository_url: str | None
    apps: tuple[AppReport, ...]
    fix: Fix
    collisions: tuple[CollisionReport, ...]
    findings: tuple[Finding, ...]
    text_conflicts: tuple[TextConflict, ...]
    graphs: tuple[GraphWindow, ...]


# ------------------------------------------------------------------- JSON


def _to_json(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    return value


def report_to_json(report: Report) -> dict[str, Any]:
    """The JSON contract: plain dicts, lists, strings, numbers."""
    document: dict[str, Any] = _to_json(report)
    return document


def _from_json(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        return _from_json(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        return tuple(_from_json(a, v) for a, v in zip(args, value))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        # Keys a newer version added are ignored; missing ones take the
        # record's default.
        return hint(**{
            k: _from_json(hints[k], v) for k, v in value.items() if k in known
        })
    if hint is int and isinstance(value, int) or hint is str and isinstance(
            value, str) or hint is bool and isinstance(value, bool):
        return value
    raise TypeError(f'expected {hint}, got {value!r}')


def report_from_json(document: Mapping[str, Any]) -> Report:
    """Inverse of :func:`report_to_json`; MigmergeError for a document
    this version cannot read."""
    version = (
        document.get('version') if isinstance(document, Mapping) else None
    )
    if version != JSON_VERSION:
        raise MigmergeError(
            f'unsupported report JSON version {version!r} '
            f'(this migmerge reads version {JSON_VERSION})',
        )
    try:
        report: Report = _from_json(Report, document)
    except (TypeError, KeyError, AttributeError, StopIteration) as e:
        raise MigmergeError(f'not a migmerge report JSON document: {e}')
    return report


# ------------------------------------------------------------------ links


def repository_url(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The repository's web address and the prefix of its file pages, from
    the CI's environment: GitHub Actions (``GITHUB_SERVER_URL`` +
    ``GITHUB_REPOSITORY``) or GitLab CI (``CI_PROJECT_URL``); None
    elsewhere (plain ``path:line`` then)."""
    server = environ.get('GITHUB_SERVER_URL', '').rstrip('/')
    repository = environ.get('GITHUB_REPOSITORY', '').strip('/')
    if server and repository:
        url = f'{server}/{repository}'
        return url, f'{url}/blob'
    project = environ.get('CI_PROJECT_URL', '').rstrip('/')
    # GitLab's file pages live under /-/ (project paths may nest).
    return (project, f'{project}/-/blob') if project else None


def blob_url(
        blob_base: str | None, sha: str, path: str, line: int | None,
) -> str | None:
    """The web page of ``path`` at commit ``sha``, at ``line``."""
    if blob_base is None:
        return None
    from urllib.parse import quote

    anchor = f'#L{line}' if line else ''
    return f'{blob_base}/{sha}/{quote(path)}{anchor}'


# ---------------------------------------------------------------- compute


@dataclasses.dataclass(frozen=True)
class _Trees:
    merge: MergeResult
    base: Tree
    head: Tree
    merged: Tree


def _git_lines(location: Location, *args: str) -> list[str]:
    try:
        proc = run_git(
            location.common_dir, f'--git-dir={location.common_dir}', *args,
        )
    except OSError as e:
        raise MigmergeError(f'cannot run git: {e.strerror}')
    if proc.returncode:
        message = proc.stderr.decode('utf-8', 'replace').strip()
        raise MigmergeError(f'git {args[0]} failed: {message}')
    return [
        p.decode('utf-8', 'surrogateescape')
        for p in proc.stdout.split(b'\0') if p
    ]


def _problem_key(p: Problem) -> tuple[object, ...]:
    # Lines move when a file is edited; the problem stays the same one.
    return (p.kind, p.app, p.migration, p.file, p.message)


def _introduced(
        merged: CheckResult, base: CheckSummary,
) -> tuple[Problem, ...]:
    known = {_problem_key(p) for p in base.problems}
    return tuple(p for p in merged.problems if _problem_key(p) not in known)


class _Sides:
    """Which side brought each migration since the fork."""

    def __init__(
            self,
            head_added: Mapping[MigrationKey, MigrationInfo],
            base_added: Mapping[MigrationKey, MigrationInfo],
            commits: Mapping[str, str],
            blob_base: str | None,
    ) -> None:
        self.head_added = head_added
        self.base_added = base_added
        self.commits = commits
        self.blob_base = blob_base

    def side_of(self, key: MigrationKey) -> str:
        if key in self.head_added:
            return 'head'
        if key in self.base_added:
            return 'base'
        return 'both'

    def url(self, side: str, path: str, line: int | None) -> str | None:
        sha = self.commits.get(side)
        if sha is None:
            return None
        return blob_url(self.blob_base, sha, path, line)

    def place(self, key: MigrationKey, path: str, line: int) -> Place:
        side = self.side_of(key)
        commit_side = 'base' if side == 'both' else side
        url = self.url(commit_side, path, line)
        return Place(commit_side, path, line, url)


def _added(
        location: Location,
        fork: str,
        commit: str,
        check: CheckResult,
) -> dict[MigrationKey, MigrationInfo]:
    """Migrations (as ``check`` read them in the merged tree) whose file
    ``commit`` added since ``fork``."""
    paths = set(_git_lines(
        location, 'diff', '--name-only', '--no-renames', '-z',
        '--diff-filter=A', fork, commit, '--',
    ))
    return {
        info.key: info for info in check.loaded.migrations
        if info.path in paths
    }


def _lock_values(tree: Tree, package: str, app: str) -> tuple[LockValue, ...]:
    from mergedriver.driver.lockfiles import parse_lockfile
    from mergedriver.driver.lockfiles import parse_max_migration

    values = []
    path = posixpath.join(package, MAX_MIGRATION_FILENAME)
    if tree.is_file(path):
        text = tree.read(path).decode('utf-8', 'replace')
        try:
            leaf = parse_max_migration(text, path=path)
            values.append(LockValue(path, leaf))
        except MigmergeError:
            values.append(LockValue(path, text.strip()))
    if tree.is_file(LOCKFILE_FILENAME):
        text = tree.read(LOCKFILE_FILENAME).decode('utf-8', 'replace')
        try:
            value = parse_lockfile(text, path=LOCKFILE_FILENAME).get(app)
        except MigmergeError:
            value = None
        if value is not None:
            values.append(LockValue(LOCKFILE_FILENAME, value))
    return tuple(values)


def _apps(
        merged: CheckResult, merged_tree: Tree, sides: _Sides,
        introduced: tuple[Problem, ...],
) -> tuple[AppReport, ...]:
    # Apps the pull request touches or the merge breaks; an app only the
    # base changed is none of the pull request's business.
    affected = (
        {k[0] for k in sides.head_added} |
        {p.app for p in introduced if p.app is not None}
    )
    summaries = {s.app: s for s in merged.apps}
    apps = []
    for app in sorted(affected):
        summary = summaries.get(app)
        package = merged.loaded.packages.get(app, '')

        def refs(
                added: Mapping[MigrationKey, MigrationInfo], side: str,
        ) -> tuple[MigrationRef, ...]:
            return tuple(
                MigrationRef(
                    info.name, info.path,
                    sides.url(side, info.path, info.class_line),
                )
                for key, info in sorted(added.items()) if key[0] == app
            )
        apps.append(AppReport(
            app=app,
            path=package,
            added_on_head=refs(sides.head_added, 'head'),
            added_on_base=refs(sides.base_added, 'base'),
            leaves_after_merge=summary.leaves if summary else (),
            lock_after_merge=(
                _lock_values(merged_tree, package, app) if package else ()
            ),
            conflict=summary.conflict if summary else None,
        ))
    return tuple(apps)


def _fix(outcome: Outcome, strategy: str) -> Fix:
    if not isinstance(outcome, Plan):
        kind = 'flag' if outcome.collisions and strategy in (
            'auto', 'flag') else 'refused'
        # A flag's colliding pairs are in the report's ``collisions``;
        # other refusals list what blocks them (data operations) here.
        listed = () if kind == 'flag' else outcome.collisions
        return Fix(
            kind, strategy, notes=outcome.notes,
            reasons=outcome.reasons + listed,
        )
    if outcome.empty:
        return Fix('none', strategy, notes=())
    files = []
    for action in outcome.actions:
        if isinstance(action, CreateFile):
            files.append(FileChange('create', action.path, action.text))
        elif isinstance(action, RenameFile):
            files.append(FileChange(
                'rename', action.new_path, action.text,
                old_path=action.old_path,
                diff=action_diff(
                    action.old_text, action.text, action.old_path,
                    action.new_path,
                ),
            ))
        else:
            files.append(FileChange(
                'rewrite', action.path, action.text,
                diff=action_diff(
                    action.old_text, action.text, action.path, action.path,
                ),
            ))
    kind = 'renumber' if any(f.action == 'rename' for f in files) else 'merge'
    return Fix(kind, strategy, notes=outcome.notes, files=tuple(files))


def _plan(
        location: Location,
        merged: CheckResult,
        merged_tree: Tree,
        merge: MergeResult,
        conflicts: tuple[Conflict, ...],
        strategy: Strategy,
) -> tuple[Outcome, tuple[Collision, ...], tuple[Review, ...]]:
    collisions: list[Collision] = []
    reviews: list[Review] = []
    for conflict in conflicts:
        found = find_collisions(
            merged.graph, conflict, swappable=merged.config.swappable,
        )
        collisions.extend(found.collisions)
        reviews.extend(found.reviews)
    published = None
    if conflicts:
        # Base is what is published: its migrations never move.
        from mergedriver.resolution.published import keys_in
        from mergedriver.resolution.published import Mainline
        from mergedriver.git.trees import open_repository

        infos = [
            merged.graph.nodes[key]
            for c in conflicts for keys in c.branches.values() for key in keys
        ]
        published = keys_in(
            open_repository(location.common_dir), Mainline('base', merge.base),
            infos,
        )
    pi = PlanInput(
        check=merged,
        tree=merged_tree,
        conflicts=conflicts,
        now=merge.now,
        collisions=tuple(collisions),
        reviews=tuple(reviews),
        published=published,
        mainline='the base commit',
    )
    return make_plan(pi, strategy), tuple(collisions), tuple(reviews)


def _collision_reports(
        collisions: Sequence[Collision], sides: _Sides,
) -> tuple[CollisionReport, ...]:
    return tuple(
        CollisionReport(
            app=c.app,
            target=c.target,
            what=c.what,
            message=c.one_line(),
            first=sides.place(c.first.migration, c.first.path, c.first.line),
            first_kind=c.first.kind,
            second=sides.place(
                c.second.migration, c.second.path, c.second.line,
            ),
            second_kind=c.second.kind,
        )
        for c in collisions
    )


def _graphs(
        merged: CheckResult,
        conflicts: tuple[Conflict, ...],
        fix: Fix,
        outcome: Outcome,
        sides: _Sides,
) -> tuple[GraphWindow, ...]:
    windows = []
    for conflict in conflicts:
        branches = tuple(
            Branch(
                side=_branch_side(conflict.branches[leaf], sides),
                leaf=leaf,
                migrations=tuple(k[1] for k in conflict.branches[leaf]),
            )
            for leaf in conflict.leaves
        )
        planned, planned_name = '', None
        renames: tuple[tuple[str, str], ...] = ()
        package = merged.loaded.packages.get(conflict.app)
        if fix.kind == 'merge':
            for change in fix.files:
                if (
                        change.action == 'create' and
                        posixpath.dirname(change.path) == package
                ):
                    planned = 'merge'
                    planned_name = posixpath.splitext(
                        posixpath.basename(change.path),
                    )[0]
        elif fix.kind == 'renumber':
            renames = tuple(
                (
                    posixpath.splitext(posixpath.basename(c.old_path))[0],
                    posixpath.splitext(posixpath.basename(c.path))[0],
                )
                for c in fix.files
                if c.action == 'rename' and c.old_path is not None and
                posixpath.dirname(c.path) == package
            )
            planned = 'renumber' if renames else ''
        windows.append(GraphWindow(
            app=conflict.app,
            ancestor=(
                None if conflict.common_ancestor is None
                else conflict.common_ancestor[1]
            ),
            branches=branches,
            planned=planned,
            planned_name=planned_name,
            renames=renames,
        ))
    return tuple(windows)


def _branch_side(keys: Sequence[MigrationKey], sides: _Sides) -> str:
    found = {sides.side_of(k) for k in keys} - {'both'}
    return found.pop() if len(found) == 1 else 'both'


# ------------------------------------------------------- head's migrations


def _head_findings(
        head_tree: Tree,
        config: Config,
        sides: _Sides,
) -> list[Finding]:
    """Mixed data/schema operations (the no-mixed-data-migrations hook's
    rule) and data operations to review, in the migrations head adds."""
    from hooks.no_mixed_data_migrations import check_file
    from hooks.no_mixed_data_migrations import is_data

    findings: list[Finding] = []
    infos = sorted(sides.head_added.values(), key=lambda i: i.path)
    sources = head_tree.read_many([i.path for i in infos])
    for info in infos:
        try:
            mixed = check_file(info.path, sources[info.path], config)
        except MigmergeError:
            mixed = None  # an unreadable module is check's to report
        if mixed is not None:
            line = mixed.data[0].line
            findings.append(Finding(
                'mixed-data-schema', 'error',
                mixed.one_line().split(': ', 1)[1],
                info.app_label, info.name, info.path, line, 'head',
                sides.url('head', info.path, line),
            ))
            continue
        for op in info.operations:
            if is_data(op):
                findings.append(Finding(
                    'data-operation', 'warning',
                    f'{op.kind} changes data: review what it does to '
                    f'existing rows before merging',
                    info.app_label, info.name, info.path, op.line, 'head',
                    sides.url('head', info.path, op.line),
                ))
    return findings


def _gitignore_blobs(location: Location, commit: str) -> dict[str, str]:
    """path -> blob id of every ``.gitignore`` in ``commit``'s tree."""
    found = {}
    for record in _git_lines(location, 'ls-tree', '-r', '-z', commit):
        info, _, path = record.partition('\t')
        if posixpath.basename(path) == '.gitignore':
            found[path] = info.split()[2]
    return found


def _ignored(
        location: Location, commit: str, probes: Sequence[str],
) -> dict[str, tuple[str, int, str]]:
    """Which probe paths the ``.gitignore`` files of ``commit`` ignore:
    path -> (rule file, line, pattern).  Only the rule files are written
    out, into a scratch repository; nothing else of the commit is."""
    from hooks.migrations_not_ignored import parse_check_ignore
    from mergedriver.git.trees import cat_file

    oids = _gitignore_blobs(location, commit)
    if not oids:
        return {}
    blobs = cat_file(location, sorted(set(oids.values())))
    if blobs is None:
        raise MigmergeError(f'cannot read the .gitignore files of {commit}')
    with tempfile.TemporaryDirectory(prefix='migmerge-ignore-') as tmp:
        # Only the rules in the tree count: no global excludes file.
        env = {
            **os.environ, 'GIT_CONFIG_NOSYSTEM': '1',
            'GIT_CONFIG_GLOBAL': os.devnull, 'HOME': tmp,
        }
        for var in ('GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE'):
            env.pop(var, None)
        if run_git(tmp, 'init', '-q', tmp, env=env).returncode:
            raise MigmergeError('git init failed in a temporary directory')
        for path, oid in oids.items():
            target = os.path.join(tmp, *path.split('/'))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'wb') as f:
                f.write(blobs[oid])
        for probe in probes:
            if probe.endswith('/'):
                # directory-only rules (``migrations/``) need a directory
                directory = os.path.join(tmp, *probe.split('/'))
                os.makedirs(directory, exist_ok=True)
        proc = run_git(
            tmp, 'check-ignore', '-v', '--no-index', '-z', '--stdin',
            env=env, stdin=b''.join(p.encode() + b'\0' for p in probes),
        )
    return {
        path: (rule.source, rule.line, rule.pattern)
        for path, rule in parse_check_ignore(proc.stdout).items()
    }


def _ignore_findings(
        location: Location, merge: MergeResult, merged: CheckResult,
        sides: _Sides,
) -> list[Finding]:
    """gitignore rules head brings that hide migration packages (or the
    next migration written into one)."""
    changed = [
        p for p in _git_lines(
            location, 'diff', '--name-only', '-z', merge.merge_base,
            merge.head, '--',
        )
        if posixpath.basename(p) == '.gitignore'
    ]
    if not changed:
        return []
    probes: list[str] = []
    for package in sorted(set(merged.loaded.packages.values())):
        probes += [f'{package}/', f'{package}/0001_migmerge_probe.py']
    if not probes:
        return []
    in_head = _ignored(location, merge.head, probes)
    in_base = _ignored(location, merge.base, probes)
    findings = []
    reported: set[str] = set()
    for probe in probes:
        package = probe.rstrip('/') if probe.endswith('/') else (
            posixpath.dirname(probe)
        )
        rule = in_head.get(probe)
        if rule is None or probe in in_base or package in reported:
            continue
        reported.add(package)
        source, line, pattern = rule
        what = (
            'the migration package' if probe.endswith('/')
            else 'new migrations in'
        )
        findings.append(Finding(
            'ignored-migrations', 'error',
            f'{pattern!r} ignores {what} {package}/; migrations written '
            f'there are never committed',
            file=source, line=line, side='head',
            url=sides.url('head', source, line),
        ))
    return findings


# ----------------------------------------------------------------- verdict


def _problem_finding(
        problem: Problem, merged: CheckResult, sides: _Sides,
) -> Finding:
    file, line, migration = problem.file, problem.line, problem.migration
    message = problem.message
    side = 'merged'
    if problem.kind == 'multiple-leaves' and problem.app is not None:
        # Point at the pull request's own leaf: an annotation shows on
        # the diff only for files the pull request changed.
        for key in merged.graph.leaf_nodes(problem.app):
            if key in sides.head_added:
                info = merged.graph.nodes[key]
                file, line, migration = info.path, info.class_line, key[1]
                break
        message += ' Fix: migmerge resolve, after merging.'
    if file is not None:
        for key, info in sides.head_added.items():
            if info.path == file:
                side = 'head'
        for key, info in sides.base_added.items():
            if info.path == file and side != 'head':
                side = 'base'
    url = (
        sides.url(side, file, line)
        if file is not None and side in ('head', 'base') else None
    )
    return Finding(
        problem.kind, 'error', message, problem.app, migration, file, line,
        side, url,
    )


def _conflict_findings(
        conflicts: Sequence[TextConflict],
) -> list[Finding]:
    findings = []
    for c in conflicts:
        if c.kind == 'other':
            findings.append(Finding(
                'text-conflict', 'note',
                'git cannot merge this file as text; resolve it by hand',
                file=c.path, line=1, side='merged',
            ))
        elif c.resolved:
            findings.append(Finding(
                'text-conflict', 'warning',
                'the forge will show a text conflict here; migmerge\'s merge '
                'driver resolves it (merge locally after `migmerge install`)',
                file=c.path, line=1, side='merged',
            ))
        else:
            findings.append(Finding(
                'text-conflict', 'error',
                f'a text conflict ({c.reason}) that migmerge\'s merge driver '
                f'cannot resolve; merge by hand',
                file=c.path, line=1, side='merged',
            ))
    return findings


def _verdict(
        introduced: Sequence[Problem], fix: Fix, findings: Sequence[Finding],
) -> str:
    if any(p.unusable for p in introduced):
        return 'unusable'
    blocking = [
        f for f in findings
        if f.severity == 'error' and f.kind != 'multiple-leaves'
    ]
    if fix.kind in ('flag', 'refused') or blocking:
        return 'blocked'
    if fix.kind != 'none' or any(f.kind == 'text-conflict' and
                                 f.severity == 'warning' for f in findings):
        return 'resolvable'
    return 'clean'


def _summary(verdict: str, fix: Fix, findings: Sequence[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity == 'error')
    warnings = sum(1 for f in findings if f.severity == 'warning')
    counts = f'{errors} error(s), {warnings} warning(s)'
    if verdict == 'clean':
        tail = 'no migration problem is introduced by this merge'
        return tail if not warnings else f'{tail}; {counts}'
    if verdict == 'unusable':
        return (
            f'the merged migrations cannot be read or loaded statically; '
            f'{counts}'
        )
    if verdict == 'resolvable':
        if fix.kind == 'none':
            return (
                f"the forge will show a text conflict that migmerge's merge "
                f'driver resolves; {counts}'
            )
        what = {
            'merge': 'a merge migration',
            'renumber': "renumbering head's migrations",
        }.get(fix.kind, 'migmerge resolve')
        return f'merging leaves parallel migrations; {what} fixes it; {counts}'
    reasons = []
    if fix.kind == 'refused':
        reasons.append('no automatic fix')
    for kind in dict.fromkeys(
            f.kind for f in findings
            if f.severity == 'error' and f.kind != 'multiple-leaves'
    ):
        reasons.append(_BLOCKING.get(kind, kind))
    return f'needs a human: {", ".join(reasons)}; {counts}'


_BLOCKING = {
    'colliding-operations': 'colliding operations',
    'mixed-data-schema': 'data and schema operations mixed',
    'ignored-migrations': 'migrations ignored by git',
    'text-conflict': 'a text conflict',
}


def tree_config(tree: Tree) -> Config:
    """The configuration committed in ``tree`` (what the repository will
    have after the merge), whatever the work tree holds."""
    def text(path: str) -> str | None:
        if not tree.is_file(path):
            return None
        try:
            return tree.read(path).decode('utf-8')
        except UnicodeDecodeError:
            raise MigmergeError('not UTF-8', path=path, line=1)
    return config_from_texts(text('pyproject.toml'), text('setup.cfg'))


def compute_report(
        repo_dir: str,
        base: str,
        head: str,
        *,
        config: Config | None = None,
        strategy: str = 'auto',
        environ: Mapping[str, str] | None = None,
) -> Report:
    """The report of merging ``head`` into ``base``.  Reads git objects
    only.  ``environ`` (default ``os.environ``) gives the repository's web
    address for links.  ``config``: default, the one committed in the
    merged tree.  MigmergeError: unusable input (unknown revision, no
    merge base, bad configuration)."""
    if strategy not in STRATEGIES:
        raise MigmergeError(f'unknown strategy {strategy!r}')
    strategy_: Strategy = strategy
    env = os.environ if environ is None else environ
    location = locate(repo_dir)
    merge = merge_tree(repo_dir, base, head)
    merged_tree = open_tree(repo_dir, rev=merge.tree)
    if config is None:
        config = tree_config(merged_tree)
    trees = _Trees(
        merge,
        open_tree(repo_dir, rev=merge.base),
        open_tree(repo_dir, rev=merge.head),
        merged_tree,
    )
    # The merged tree holds what either side added (unless the other
    # side deleted it): one full check is enough to know each side's
    # migrations.  Base's problems only need its summary, which a run on
    # the same base answers from a snapshot.
    merged_check = check_tree(trees.merged, config)
    base_summary = check_summary(trees.base, config)
    links = repository_url(env)
    sides = _Sides(
        _added(location, merge.merge_base, merge.head, merged_check),
        _added(location, merge.merge_base, merge.base, merged_check),
        {'base': merge.base, 'head': merge.head},
        None if links is None else links[1],
    )
    conflicted = {c.path for c in merge.conflicts if not c.resolved}
    # A module left with conflict markers does not parse; the text
    # conflict (blocked) says what is wrong, not "unusable".
    introduced = tuple(
        p for p in _introduced(merged_check, base_summary)
        if p.file not in conflicted
    )
    conflicts = find_conflicts(merged_check.graph)
    if any(p.unusable for p in merged_check.problems):
        outcome: Outcome = Plan(strategy_, notes=('nothing planned',))
        collisions: tuple[Collision, ...] = ()
    else:
        outcome, collisions, _ = _plan(
            location, merged_check, trees.merged, merge, conflicts, strategy_,
        )
    fix = _fix(outcome, strategy)
    findings = [_problem_finding(p, merged_check, sides) for p in introduced]
    collision_reports = _collision_reports(collisions, sides)
    for c in collision_reports:
        # On the pull request's own line where it has one.
        here, there = (
            (c.second, c.first) if c.second.side == 'head' and
            c.first.side != 'head' else (c.first, c.second)
        )
        findings.append(Finding(
            'colliding-operations', 'error',
            f'{c.target}: collides with {there.path}:{there.line} '
            f'({c.what}); no automatic resolution is correct',
            c.app, None, here.path, here.line, here.side, here.url,
        ))
    findings += _head_findings(trees.head, config, sides)
    findings += _ignore_findings(location, merge, merged_check, sides)
    findings += _conflict_findings(merge.conflicts)
    verdict = _verdict(introduced, fix, findings)
    return Report(
        version=JSON_VERSION,
        tool_version=__version__,
        verdict=verdict,
        exit_status=EXIT_STATUS[verdict],
        summary=_summary(verdict, fix, findings),
        base=Commit(base, merge.base),
        head=Commit(head, merge.head),
        merge_base=merge.merge_base,
        repository_url=None if links is None else links[0],
        apps=_apps(merged_check, trees.merged, sides, introduced),
        fix=fix,
        collisions=collision_reports,
        findings=tuple(findings),
        text_conflicts=merge.conflicts,
        graphs=_graphs(merged_check, conflicts, fix, outcome, sides),
    )
