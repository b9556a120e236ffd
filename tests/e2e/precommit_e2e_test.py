"""End to end: the real pre-commit framework runs this repository's hooks
against real temporary git repositories.

The hooks are installed the way users get them: pre-commit clones a git
repository (here a snapshot of this checkout, committed to a temp repo, the
way ``pre-commit try-repo`` snapshots uncommitted changes) and pip-installs
it into a virtualenv of its own.  That install is slow, so one
PRE_COMMIT_HOME is shared by the whole session (and by the xdist workers,
under a lock) and the environment is built once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration
from testing.paths import CHECKOUT

# What the hooks' package needs; tests and benchmarks would only slow the
# install down.
SNAPSHOT_SKIP = ('tests/', 'benchmarks/')
HOOK_IDS = (
    'migrations-not-ignored',
    'no-mixed-data-migrations',
    'single-migration-leaf',
    'migration-dependencies-exist',
    'migration-lockfile',
)


@dataclasses.dataclass(frozen=True)
class HookRepo:
    path: Path
    rev: str
    pre_commit_home: Path


def _snapshot(dest: Path) -> str:
    """Commit the checkout's files (tracked and untracked, not ignored) as
    they are on disk to a new repository at ``dest``; return the commit."""
    listed = subprocess.run(
        ('git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'),
        cwd=CHECKOUT, check=True, capture_output=True,
    ).stdout.decode().split('\0')
    make_repo(dest)
    for name in listed:
        source = CHECKOUT / name
        if not name or name.startswith(SNAPSHOT_SKIP) or not source.is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)
    env = {
        **os.environ,
        'GIT_AUTHOR_NAME': 'snapshot', 'GIT_AUTHOR_EMAIL': 'snapshot@example.com',
        'GIT_COMMITTER_NAME': 'snapshot',
        'GIT_COMMITTER_EMAIL': 'snapshot@example.com',
    }
    subprocess.run(('git', 'add', '-A'), cwd=dest, check=True, env=env)
    subprocess.run(
        ('git', 'commit', '-q', '-m', 'snapshot'), cwd=dest, check=True, env=env,
    )
    return git(dest, 'rev-parse', 'HEAD').strip()


def _config(hook_repo: HookRepo, hook_ids: tuple[str, ...]) -> str:
    hooks = ''.join(f'    -   id: {hook_id}\n' for hook_id in hook_ids)
    return (
        f'repos:\n'
        f'-   repo: {hook_repo.path}\n'
        f'    rev: {hook_repo.rev}\n'
        f'    hooks:\n{hooks}'
    )


def _pre_commit(
        cwd: Path, *args: str, home: Path, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (sys.executable, '-m', 'pre_commit', *args),
        cwd=cwd, capture_output=True, text=True, check=False,
        env={
            **(env if env is not None else os.environ),
            'PRE_COMMIT_HOME': str(home), 'PRE_COMMIT_COLOR': 'never',
        },
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope='session')
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> HookRepo:
    # xdist workers share the parent of their base temp dirs; a plain run
    # uses its own base temp so an older run's snapshot is never reused.
    base = tmp_path_factory.getbasetemp()
    if 'PYTEST_XDIST_WORKER' in os.environ:
        base = base.parent
    shared = base / 'precommit-e2e'
    shared.mkdir(exist_ok=True)
    with _locked(shared / 'lock'):
        done = shared / 'rev'
        hook_repo = HookRepo(shared / 'hooks-repo', '', shared / 'cache')
        if done.exists():
            return dataclasses.replace(hook_repo, rev=done.read_text())
        hook_repo = dataclasses.replace(hook_repo, rev=_snapshot(hook_repo.path))
        # Build the hook environment once, before any test times itself.
        warm = make_repo(shared / 'warm')
        write(warm / '.pre-commit-config.yaml', _config(hook_repo, HOOK_IDS))
        proc = _pre_commit(
            warm, 'install-hooks', home=hook_repo.pre_commit_home,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        done.write_text(hook_repo.rev)
        return hook_repo


@dataclasses.dataclass(frozen=True)
class Run:
    returncode: int
    output: str


@pytest.fixture
def project(
        tmp_path: Path, git_home: Path,  # noqa: F811
) -> Path:
    repo = make_repo(tmp_path / 'project')
    add_migration(repo, 'blog', '0001_initial')
    add_migration(repo, 'blog', '0002_post_title', [('blog', '0001_initial')])
    add_migration(repo, 'shop', '0001_initial')
    return repo


def run_hook(
        hook_repo: HookRepo, repo: Path, hook_id: str, *, all_files: bool = True,
) -> Run:
    config = write(repo / '.pre-commit-config.yaml', _config(hook_repo, (hook_id,)))
    git(repo, 'add', str(config))
    args = ('run', hook_id, '--all-files') if all_files else ('run', hook_id)
    proc = _pre_commit(repo, *args, home=hook_repo.pre_commit_home)
    return Run(proc.returncode, proc.stdout + proc.stderr)


# migrations-not-ignored


def test_not_ignored_passes(hook_repo: HookRepo, project: Path) -> None:
    write(project / '.gitignore', '*.pyc\n__pycache__/\n')
    run = run_hook(hook_repo, project, 'migrations-not-ignored')
    assert run.returncode == 0, run.output
    assert 'Passed' in run.output


def test_not_ignored_migrations_dir_in_gitignore(
        hook_repo: HookRepo, project: Path,
) -> None:
    write(project / '.gitignore', 'migrations/\n')
    commit_all(project)
    run = run_hook(hook_repo, project, 'migrations-not-ignored')
    assert run.returncode == 1, run.output
    assert (
        ".gitignore:1: 'migrations/' ignores the migration package "
        'blog/migrations/; migrations must be committed'
    ) in run.output
    assert 'shop/migrations/' in run.output


def test_not_ignored_single_ignored_file(
        hook_repo: HookRepo, project: Path,
) -> None:
    write(project / '.gitignore', '0002_*.py\n')
    run = run_hook(hook_repo, project, 'migrations-not-ignored')
    assert run.returncode == 1, run.output
    assert (
        ".gitignore:1: '0002_*.py' ignores the migration "
        'blog/migrations/0002_post_title.py'
    ) in run.output
    assert 'shop/' not in run.output


def test_not_ignored_negated_rule_passes(
        hook_repo: HookRepo, project: Path,
) -> None:
    write(project / '.gitignore', '*.py\n!*/migrations/*.py\n!.gitignore\n')
    run = run_hook(hook_repo, project, 'migrations-not-ignored')
    assert run.returncode == 0, run.output


def test_not_ignored_global_excludes_file(
        hook_repo: HookRepo, project: Path, git_home: Path,  # noqa: F811
) -> None:
    excludes = write(git_home / 'excludes', '**/migrations/0001_*\n')
    git(project, 'config', '--global', 'core.excludesFile', str(excludes))
    run = run_hook(hook_repo, project, 'migrations-not-ignored')
    assert run.returncode == 1, run.output
    assert (
        f"{excludes}:1: '**/migrations/0001_*' ignores the migration "
        'blog/migrations/0001_initial.py'
    ) in run.output
    assert 'shop/migrations/0001_initial.py' in run.output


# no-mixed-data-migrations (only staged files are checked)

ADD_FIELD = "        migrations.AddField('post', 'slug', models.SlugField(default='')),\n"
RUN_PYTHON = '        migrations.RunPython(fill_slugs, migrations.RunPython.noop),\n'
FUNCTION = 'def fill_slugs(apps, schema_editor):\n    pass\n\n\n'
DDL = "        migrations.RunSQL('CREATE INDEX post_slug ON blog_post (slug)'),\n"
SEPARATE = (
    '        migrations.SeparateDatabaseAndState(\n'
    "            state_operations=[migrations.AddField('post', 'slug', models.SlugField())],\n"
    '            database_operations=[\n'
    "                migrations.RunSQL('ALTER TABLE blog_post ADD slug text'),\n"
    '                migrations.RunPython(fill_slugs),\n'
    '            ],\n'
    '        ),\n'
)
PRAGMA = '# migmerge: allow-mixed-data (reviewed: small table)\n'


@pytest.mark.parametrize(
    ('operations', 'header', 'expected'),
    (
        pytest.param(ADD_FIELD + RUN_PYTHON, FUNCTION, 1, id='mixed'),
        pytest.param(RUN_PYTHON, FUNCTION, 0, id='pure-data'),
        pytest.param(ADD_FIELD, '', 0, id='pure-schema'),
        pytest.param(ADD_FIELD + DDL, '', 0, id='ddl-only-run-sql'),
        pytest.param(SEPARATE, FUNCTION, 1, id='separate-database-and-state'),
        pytest.param(ADD_FIELD + RUN_PYTHON, PRAGMA + FUNCTION, 0, id='pragma'),
    ),
)
def test_no_mixed_data(
        hook_repo: HookRepo, project: Path,
        operations: str, header: str, expected: int,
) -> None:
    commit_all(project)
    add_migration(
        project, 'blog', '0003_slug', [('blog', '0002_post_title')],
        operations, header=header,
    )
    git(project, 'add', 'blog/migrations/0003_slug.py')
    run = run_hook(
        hook_repo, project, 'no-mixed-data-migrations', all_files=False,
    )
    assert run.returncode == expected, run.output
    if expected:
        assert 'blog/migrations/0003_slug.py:' in run.output
        assert 'mixes data operations [RunPython' in run.output
    else:
        assert 'mixes' not in run.output


def test_no_mixed_data_skips_unstaged_files(
        hook_repo: HookRepo, project: Path,
) -> None:
    commit_all(project)
    add_migration(
        project, 'blog', '0003_slug', [('blog', '0002_post_title')],
        ADD_FIELD + RUN_PYTHON, header=FUNCTION,
    )
    write(project / 'README', 'staged\n')
    git(project, 'add', 'README')
    run = run_hook(
        hook_repo, project, 'no-mixed-data-migrations', all_files=False,
    )
    assert run.returncode == 0, run.output
    assert 'no files to check' in run.output


# single-migration-leaf


def test_single_leaf_passes(hook_repo: HookRepo, project: Path) -> None:
    git(project, 'add', '-A')
    run = run_hook(hook_repo, project, 'single-migration-leaf')
    assert run.returncode == 0, run.output


def test_two_leaves(hook_repo: HookRepo, project: Path) -> None:
    add_migration(project, 'blog', '0003_a', [('blog', '0002_post_title')])
    add_migration(project, 'blog', '0003_b', [('blog', '0002_post_title')])
    git(project, 'add', '-A')
    run = run_hook(hook_repo, project, 'single-migration-leaf')
    assert run.returncode == 1, run.output
    assert (
        'blog/migrations/0003_a.py:4: Conflicting migrations detected; '
        'multiple leaf nodes in the migration graph: (0003_a, 0003_b in blog).'
    ) in run.output
    assert "To fix them run 'migmerge resolve'" in run.output


def test_two_leaves_stop_a_clean_git_merge(
        hook_repo: HookRepo, project: Path,
) -> None:
    # The real situation: two branches each add a 0003, git merges them
    # without a conflict, and the pre-merge-commit hook stops the merge.
    write(
        project / '.pre-commit-config.yaml',
        _config(hook_repo, ('single-migration-leaf',)),
    )
    commit_all(project)
    proc = _pre_commit(
        project, 'install', '-t', 'pre-merge-commit',
        home=hook_repo.pre_commit_home,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    git(project, 'checkout', '-q', '-b', 'feature')
    add_migration(project, 'blog', '0003_post_slug', [('blog', '0002_post_title')])
    commit_all(project, 'slug')
    git(project, 'checkout', '-q', 'main')
    add_migration(project, 'blog', '0003_post_author', [('blog', '0002_post_title')])
    commit_all(project, 'author')
    merge = subprocess.run(
        ('git', 'merge', '--no-edit', 'feature'),
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, 'PRE_COMMIT_HOME': str(hook_repo.pre_commit_home)},
    )
    output = merge.stdout + merge.stderr
    assert merge.returncode != 0, output
    assert (
        'multiple leaf nodes in the migration graph: '
        '(0003_post_author, 0003_post_slug in blog).'
    ) in output
    assert (project / '.git/MERGE_HEAD').exists()
    assert git(project, 'log', '-1', '--format=%s').strip() == 'author'


# migration-dependencies-exist


def test_dependencies_exist_passes(hook_repo: HookRepo, project: Path) -> None:
    commit_all(project)
    run = run_hook(hook_repo, project, 'migration-dependencies-exist')
    assert run.returncode == 0, run.output


def test_deleted_0002_with_0003_depending_on_it(
        hook_repo: HookRepo, project: Path,
) -> None:
    add_migration(project, 'blog', '0003_slug', [('blog', '0002_post_title')])
    commit_all(project)
    git(project, 'rm', '-q', 'blog/migrations/0002_post_title.py')
    run = run_hook(hook_repo, project, 'migration-dependencies-exist')
    assert run.returncode == 1, run.output
    assert '- exit code: 2' in run.output  # unusable input, DESIGN.md §4
    assert (
        'blog/migrations/0003_slug.py:6: Migration blog.0003_slug '
        "dependencies reference nonexistent parent node "
        "('blog', '0002_post_title')"
    ) in run.output


# migration-lockfile


def test_lockfile_in_sync_passes(hook_repo: HookRepo, project: Path) -> None:
    write(project / 'blog/migrations/max_migration.txt', '0002_post_title\n')
    write(project / 'shop/migrations/max_migration.txt', '0001_initial\n')
    commit_all(project)
    run = run_hook(hook_repo, project, 'migration-lockfile')
    assert run.returncode == 0, run.output


def test_lockfile_fixer(hook_repo: HookRepo, project: Path) -> None:
    write(project / 'blog/migrations/max_migration.txt', '0001_initial\n')
    commit_all(project)
    add_migration(project, 'blog', '0003_slug', [('blog', '0002_post_title')])
    git(project, 'add', 'blog/migrations/0003_slug.py')
    run = run_hook(hook_repo, project, 'migration-lockfile', all_files=False)
    assert run.returncode == 1, run.output
    assert 'files were modified by this hook' in run.output
    assert (
        "blog/migrations/max_migration.txt:1: blog's max_migration.txt "
        "contains '0001_initial', but the latest migration is '0003_slug'. "
        'Fixed.'
    ) in run.output
    assert (project / 'blog/migrations/max_migration.txt').read_text() == (
        '0003_slug\n'
    )
    assert (project / 'shop/migrations/max_migration.txt').read_text() == (
        '0001_initial\n'
    )
    # staged, the next run passes: what a user does after a fixer
    git(project, 'add', '-A')
    run = run_hook(hook_repo, project, 'migration-lockfile', all_files=False)
    assert run.returncode == 0, run.output


# every hook at once, the way a user tries this repository


def test_every_hook_at_once_on_a_clean_project(
        hook_repo: HookRepo, project: Path,
) -> None:
    # (pre-commit try-repo would do the same but build the environment again
    # in a store of its own, for half a minute.)
    write(project / 'blog/migrations/max_migration.txt', '0002_post_title\n')
    write(project / 'shop/migrations/max_migration.txt', '0001_initial\n')
    write(project / '.pre-commit-config.yaml', _config(hook_repo, HOOK_IDS))
    git(project, 'add', '-A')
    proc = _pre_commit(
        project, 'run', '--all-files', home=hook_repo.pre_commit_home,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # no-mixed-data-migrations is file-based: --all-files gives it the
    # migration modules, so nothing is skipped
    assert output.count('Passed') == len(HOOK_IDS), output


def test_hooks_run_nothing_from_the_work_tree(
        hook_repo: HookRepo, project: Path, tmp_path: Path,
) -> None:
    """The hooks' console scripts, in pre-commit's own virtualenv, started
    in a work tree carrying modules named like migmerge's packages and the
    whole standard library: none of them is imported.  (pre-commit itself
    runs with -I here: its own git hook script starts ``python -mpre_commit``
    in the work tree, which is the framework's business, not ours.)"""
    marks = tmp_path / 'marks'
    marks.mkdir()
    names = (set(sys.stdlib_module_names) - {'__future__'}) | {
        'hooks', 'mergedriver', 'libcst', 'pygit2', 'yaml',
    }
    for name in names:
        payload = f'open({str(marks / name)!r}, "w").close()\n'
        if name in ('hooks', 'mergedriver', 'libcst', 'pygit2'):
            write(project / name / '__init__.py', payload)
        else:
            write(project / f'{name}.py', payload)
    add_migration(project, 'blog', '0002_other', [('blog', '0001_initial')])
    write(project / '.pre-commit-config.yaml', _config(hook_repo, HOOK_IDS))
    git(project, 'add', '-A')
    proc = subprocess.run(
        (sys.executable, '-I', '-m', 'pre_commit', 'run', '--all-files'),
        cwd=project, capture_output=True, text=True,
        env={
            **os.environ, 'PRE_COMMIT_HOME': str(hook_repo.pre_commit_home),
            'PRE_COMMIT_COLOR': 'never',
        },
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    # the checks ran: two leaves in blog
    assert 'Conflicting migrations detected' in output, output
    assert sorted(p.name for p in marks.iterdir()) == []
