"""End to end through real git: ``migmerge install``, then ``git merge``,
``git rebase`` and ``git pull --rebase`` between temp clones; the hooks and
the merge driver resolve, and real Django migrates the result from an empty
SQLite database."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.integration import install as gitsetup
from testing.git import commit_all
from testing.git import git
from testing.git import write
from testing.migrations import add_migration
from testing.shop import add_field
from testing.shop import alter_field
from testing.shop import APP
from testing.shop import assert_migrates
from testing.shop import assert_one_leaf
from testing.shop import branch_with
from testing.shop import LOCK_HEADER
from testing.shop import make_project
from testing.shop import MANAGE_PY
from testing.shop import merge_open
from testing.shop import MIGMERGE
from testing.shop import new_files
from testing.shop import run
from testing.shop import SETTINGS_PY


@pytest.fixture
def project(tmp_path: Path, git_home: Path) -> Path:
    repo = make_project(tmp_path / 'repo')
    branch_with(repo, 'address', [('0003_userprofile_address', '0002_userprofile_name', add_field('address'))])
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))])
    return repo


# ------------------------------------------------------------------ merge


def test_clean_merge_writes_merge_migration(project: Path) -> None:
    repo = project
    proc = run(repo, 'git', 'merge', '--no-edit', 'address')
    assert proc.returncode != 0
    merge_name = '0004_merge_0003_userprofile_address_0003_userprofile_age'
    assert f'wrote {APP}/migrations/{merge_name}.py' in proc.stderr
    assert 'run `git commit` to conclude the merge' in proc.stderr
    assert merge_open(repo)
    assert new_files(repo) == [
        f'{APP}/migrations/0003_userprofile_address.py',
        f'{APP}/migrations/{merge_name}.py',
    ]
    git(repo, 'commit', '-q', '--no-edit')
    assert not merge_open(repo)
    assert git(repo, 'rev-list', '--count', '--merges', 'HEAD').strip() == '1'
    assert git(repo, 'status', '--porcelain') == ''
    committed = git(repo, 'show', '--name-only', '--format=', '-m', '--first-parent', 'HEAD')
    assert f'{APP}/migrations/{merge_name}.py' in committed.split()
    assert_one_leaf(repo)
    assert_migrates(repo, ['name', 'address', 'age'])


def test_merge_with_textual_conflict_elsewhere(project: Path) -> None:
    repo = project
    git(repo, 'checkout', '-q', 'address')
    write(repo / 'README', 'theirs\n')
    commit_all(repo, hooks=False)
    git(repo, 'checkout', '-q', 'main')
    write(repo / 'README', 'ours\n')
    commit_all(repo, hooks=False)
    proc = run(repo, 'git', 'merge', '--no-edit', 'address')
    assert proc.returncode != 0
    assert 'CONFLICT' in proc.stdout
    assert 'migmerge' not in proc.stderr  # no hook before the conflicts
    write(repo / 'README', 'both\n')
    git(repo, 'add', 'README')
    proc = run(repo, 'git', 'commit', '--no-edit')
    assert proc.returncode != 0
    assert 'migmerge (pre-commit)' in proc.stderr
    assert merge_open(repo)
    git(repo, 'commit', '-q', '--no-edit')
    assert not merge_open(repo)
    assert_one_leaf(repo)


def test_flag_writes_nothing_and_names_the_field(tmp_path: Path, git_home: Path) -> None:
    repo = make_project(tmp_path / 'repo')
    branch_with(repo, 'other', [('0003_alter_name', '0002_userprofile_name', alter_field('name', 'models.CharField(max_length=10)'))])
    branch_with(repo, 'main', [('0003_alter_name_more', '0002_userprofile_name', alter_field('name', 'models.CharField(max_length=99)'))])
    proc = run(repo, 'git', 'merge', '--no-edit', 'other')
    assert proc.returncode != 0
    assert 'shop.userprofile.name: AlterField' in proc.stderr
    assert 'shop/migrations/0003_alter_name.py:10' in proc.stderr
    assert 'nothing was written' in proc.stderr
    assert merge_open(repo)
    assert new_files(repo) == [f'{APP}/migrations/0003_alter_name.py']


# ----------------------------------------------------------------- rebase


def test_rebase_renumbers_and_commits(project: Path) -> None:
    repo = project
    git(repo, 'config', 'migmerge.postRewrite', 'commit')
    git(repo, 'checkout', '-q', 'address')
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    onto = git(repo, 'rev-parse', 'main').strip()
    assert f'--rollback --move {onto[:12]}' in proc.stderr  # how to undo
    log = git(repo, 'log', '--format=%s', 'main..HEAD').splitlines()
    assert log == [
        'Renumber migrations after rebase (migmerge)',
        'add 0003_userprofile_address',
    ]
    assert git(repo, 'status', '--porcelain') == ''
    names = sorted(p.name for p in (repo / APP / 'migrations').glob('0*.py'))
    assert names[-2:] == ['0003_userprofile_age.py', '0004_userprofile_address.py']
    assert_one_leaf(repo)
    assert_migrates(repo, ['name', 'address', 'age'])


def test_pull_rebase_chain_of_three_and_dependent_app(tmp_path: Path, git_home: Path) -> None:
    origin = make_project(tmp_path / 'origin')
    git(origin, 'config', 'receive.denyCurrentBranch', 'ignore')
    mine = tmp_path / 'mine'
    git(tmp_path, 'clone', '-q', str(origin), str(mine))
    gitsetup.install(str(mine))
    # upstream moves on
    branch_with(origin, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))])
    # three local migrations, and another app depending on the middle one
    branch_with(mine, 'main', [
        ('0003_userprofile_a', '0002_userprofile_name', add_field('a')),
        ('0004_userprofile_b', '0003_userprofile_a', add_field('b')),
        ('0005_userprofile_c', '0004_userprofile_b', add_field('c')),
    ])
    add_migration(mine, 'billing', '0001_initial', [(APP, '0004_userprofile_b')], '')
    commit_all(mine, 'billing', hooks=False)
    proc = run(mine, 'git', 'pull', '--rebase', '-q')
    assert proc.returncode == 0, proc.stderr
    assert 'migmerge: rewrote the 4 rebased commits' in proc.stderr
    assert git(mine, 'log', '-1', '--format=%s').strip() == 'billing'
    names = sorted(p.stem for p in (mine / APP / 'migrations').glob('0*.py'))
    assert names == [
        '0001_initial', '0002_userprofile_name', '0003_userprofile_age',
        '0004_userprofile_a', '0005_userprofile_b', '0006_userprofile_c',
    ]
    assert "('shop', '0005_userprofile_b')" in (mine / 'billing/migrations/0001_initial.py').read_text()
    assert_one_leaf(mine)
    assert_migrates(mine, ['name', 'age', 'a', 'b', 'c'])


def test_rebase_amend_mode(project: Path) -> None:
    repo = project
    git(repo, 'config', 'migmerge.postRewrite', 'amend')
    git(repo, 'checkout', '-q', 'address')
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    assert git(repo, 'log', '--format=%s', 'main..HEAD').splitlines() == [
        'add 0003_userprofile_address',
    ]
    assert (repo / APP / 'migrations/0004_userprofile_address.py').exists()
    assert_one_leaf(repo)


# ------------------------------------------------------------- lock files


@pytest.mark.parametrize(('style', 'rerere'), (('merge', False), ('diff3', True)))
def test_max_migration_merge(tmp_path: Path, git_home: Path, style: str, rerere: bool) -> None:
    repo = make_project(tmp_path / 'repo', lock='max_migration')
    git(repo, 'config', 'merge.conflictStyle', style)
    git(repo, 'config', 'rerere.enabled', str(rerere).lower())
    branch_with(repo, 'address', [('0003_userprofile_address', '0002_userprofile_name', add_field('address'))], lock='max_migration')
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))], lock='max_migration')
    proc = run(repo, 'git', 'merge', '--no-edit', 'address')
    assert 'CONFLICT' not in proc.stdout, proc.stdout
    assert 'run `git commit` to conclude the merge' in proc.stderr
    merge_name = '0004_merge_0003_userprofile_address_0003_userprofile_age'
    lock = repo / APP / 'migrations/max_migration.txt'
    assert lock.read_text() == f'{merge_name}\n'
    git(repo, 'commit', '-q', '--no-edit')
    assert git(repo, 'status', '--porcelain') == ''
    assert_one_leaf(repo)


@pytest.mark.parametrize('backend', ('--merge', '--apply'))
def test_max_migration_rebase(tmp_path: Path, git_home: Path, backend: str) -> None:
    repo = make_project(tmp_path / 'repo', lock='max_migration')
    git(repo, 'config', 'rerere.enabled', 'true')
    branch_with(repo, 'feature', [
        ('0003_userprofile_a', '0002_userprofile_name', add_field('a')),
        ('0004_userprofile_b', '0003_userprofile_a', add_field('b')),
    ], lock='max_migration')
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))], lock='max_migration')
    git(repo, 'checkout', '-q', 'feature')
    proc = run(repo, 'git', 'rebase', backend, 'main')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lock = repo / APP / 'migrations/max_migration.txt'
    assert lock.read_text() == '0005_userprofile_b\n'
    assert (repo / APP / 'migrations/0005_userprofile_b.py').exists()
    assert git(repo, 'status', '--porcelain') == ''
    assert_one_leaf(repo)
    assert_migrates(repo, ['name', 'age', 'a', 'b'])


def test_sentry_lockfile_merge(tmp_path: Path, git_home: Path) -> None:
    repo = make_project(tmp_path / 'repo', lock='sentry')
    branch_with(repo, 'address', [('0003_userprofile_address', '0002_userprofile_name', add_field('address'))], lock='sentry')
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))], lock='sentry')
    proc = run(repo, 'git', 'merge', '--no-edit', 'address')
    assert 'CONFLICT' not in proc.stdout, proc.stdout
    text = (repo / 'migrations_lockfile.txt').read_text()
    assert text == LOCK_HEADER + f'{APP}: 0004_merge_0003_userprofile_address_0003_userprofile_age\n'
    git(repo, 'commit', '-q', '--no-edit')
    assert_one_leaf(repo)


def test_rebase_rolls_back_the_developer_database(tmp_path: Path, git_home: Path) -> None:
    """The branch's migration was applied locally; with migmerge.rollback
    the hook migrates back before renaming, and migrate then succeeds."""
    repo = make_project(tmp_path / 'repo')
    write(repo / 'manage.py', MANAGE_PY)
    write(repo / 'settings.py', SETTINGS_PY)
    write(repo / '.gitignore', 'db.sqlite3\n__pycache__/\n')
    write(repo / 'pyproject.toml', (
        '[tool.migmerge]\n'
        f'rollback_command = [{sys.executable!r}, "manage.py", "migrate", "{{app}}", "{{target}}"]\n'
    ))
    commit_all(repo, 'django project', hooks=False)
    # nullable without a default: SQLite adds the column with ALTER TABLE
    # (a table rebuild would silently drop a stale column and hide the bug)
    branch_with(repo, 'address', [('0003_userprofile_address', '0002_userprofile_name', add_field('address', 'models.TextField(null=True)'))])
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(null=True)'))])
    git(repo, 'checkout', '-q', 'address')
    manage = (sys.executable, 'manage.py')
    migrated = run(repo, *manage, 'migrate', '-v0')
    assert migrated.returncode == 0, migrated.stderr
    git(repo, 'config', 'migmerge.rollback', 'true')
    approved = run(repo, MIGMERGE, 'approve-rollback')
    assert approved.returncode == 0, approved.stderr
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    assert (repo / APP / 'migrations/0004_userprofile_address.py').exists()
    migrated = run(repo, *manage, 'migrate', '-v0')
    assert migrated.returncode == 0, migrated.stderr
    shown = run(repo, *manage, 'showmigrations', APP).stdout
    assert '[X] 0003_userprofile_age' in shown
    assert '[X] 0004_userprofile_address' in shown
    assert '0003_userprofile_address' not in shown


def test_squash_merge_is_resolved_at_commit(project: Path) -> None:
    repo = project
    proc = run(repo, 'git', 'merge', '--squash', 'address')
    assert proc.returncode == 0, proc.stderr
    proc = run(repo, 'git', 'commit', '--no-edit')
    assert proc.returncode != 0
    assert 'migmerge (pre-commit)' in proc.stderr
    git(repo, 'commit', '-q', '--no-edit')
    assert git(repo, 'status', '--porcelain') == ''
    assert_one_leaf(repo)


@pytest.fixture(scope='session')
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('pre-commit-home')


def test_rebase_under_the_pre_commit_framework(
        project: Path, pre_commit_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`pre-commit install` after migmerge: the framework runs our scripts
    as its legacy hooks, post-rewrite without stdin."""
    repo = project
    monkeypatch.setenv('PRE_COMMIT_HOME', str(pre_commit_home))
    git(repo, 'checkout', '-q', 'main')
    write(repo / '.pre-commit-config.yaml', 'repos: []\n')
    commit_all(repo, 'pre-commit config', hooks=False)
    for hook_type in ('pre-commit', 'pre-merge-commit', 'post-rewrite'):
        subprocess.run(
            (sys.executable, '-m', 'pre_commit', 'install', '--hook-type', hook_type),
            cwd=repo, check=True, capture_output=True,
        )
        assert gitsetup.is_our_hook(str(repo / '.git/hooks' / f'{hook_type}.legacy'))
    proc = run(repo, 'git', 'merge', '--no-edit', 'address')
    assert proc.returncode != 0
    assert 'run `git commit` to conclude the merge' in proc.stderr
    git(repo, 'merge', '--abort')
    git(repo, 'checkout', '-q', 'address')
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    assert 'migmerge: rewrote the 1 rebased commit' in proc.stderr
    assert_one_leaf(repo)


def test_flag_with_lock_file_restores_its_conflict(tmp_path: Path, git_home: Path) -> None:
    repo = make_project(tmp_path / 'repo', lock='max_migration')
    branch_with(repo, 'other', [('0003_alter_name', '0002_userprofile_name', alter_field('name', 'models.CharField(max_length=10)'))], lock='max_migration')
    branch_with(repo, 'main', [('0003_alter_name_more', '0002_userprofile_name', alter_field('name', 'models.CharField(max_length=99)'))], lock='max_migration')
    proc = run(repo, 'git', 'merge', '--no-edit', 'other')
    assert proc.returncode != 0
    assert 'shop.userprofile.name: AlterField' in proc.stderr
    lock = f'{APP}/migrations/max_migration.txt'
    assert f'{lock}: conflict restored' in proc.stderr
    status = git(repo, 'status', '--porcelain').splitlines()
    assert f'UU {lock}' in status
    assert '0004_merge' not in (repo / lock).read_text()
    assert (repo / lock).read_text().startswith('<<<<<<< ')
    assert not list((repo / APP / 'migrations').glob('0004_*'))
    git(repo, 'merge', '--abort')
    assert git(repo, 'status', '--porcelain') == ''


def test_rebase_with_a_merge_migration_on_the_branch_is_refused(
        tmp_path: Path, git_home: Path,
) -> None:
    """A branch that already joined two leaves of its own with a merge
    migration cannot be renumbered: the hook says so and commits nothing;
    `migmerge resolve` (a merge migration) still resolves it."""
    repo = make_project(tmp_path / 'repo')
    branch_with(repo, 'feature', [
        ('0003_userprofile_a', '0002_userprofile_name', add_field('a')),
        ('0003_userprofile_b', '0002_userprofile_name', add_field('b')),
    ])
    add_migration(repo, APP, '0004_merge', [(APP, '0003_userprofile_a'), (APP, '0003_userprofile_b')])
    commit_all(repo, 'add 0004_merge', hooks=False)
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))])
    git(repo, 'checkout', '-q', 'feature')
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    assert (
        f'{APP}/migrations/0004_merge.py:4: {APP}.0004_merge is a merge '
        'migration on the side being moved; renumbering cannot move it, use '
        '--strategy merge'
    ) in proc.stderr
    assert 'the rebased branch is left as it is' in proc.stderr
    assert git(repo, 'log', '-1', '--format=%s').strip() == 'add 0004_merge'
    assert git(repo, 'status', '--porcelain') == ''
    proc = run(repo, sys.executable, '-m', 'mergedriver', 'resolve', '--strategy', 'merge')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_one_leaf(repo)
    assert_migrates(repo, ['name', 'a', 'b', 'age'])


def test_rollback_command_runs_only_once_approved(tmp_path: Path, git_home: Path) -> None:
    """rollback_command comes from the committed configuration: the
    post-rewrite hook runs it only once approved in this clone, shows it
    when refusing, and asks again when upstream changes it."""
    repo = make_project(tmp_path / 'repo')
    ran = tmp_path / 'ran'

    def configure(word: str) -> str:
        program = f'open({str(ran)!r}, "a").write({word!r} + " ")'
        argv = [sys.executable, '-c', program, '{app}', '{target}']
        write(repo / 'pyproject.toml', (
            f'[tool.migmerge]\nrollback_command = {json.dumps(argv)}\n'
        ))
        return shlex.join(argv)

    first = configure('first')
    commit_all(repo, 'rollback command', hooks=False)
    branch_with(repo, 'address', [('0003_userprofile_address', '0002_userprofile_name', add_field('address'))])
    address = git(repo, 'rev-parse', 'address').strip()
    branch_with(repo, 'main', [('0003_userprofile_age', '0002_userprofile_name', add_field('age', 'models.IntegerField(default=0)'))])
    git(repo, 'config', 'migmerge.rollback', 'true')

    def rebase(branch: str) -> subprocess.CompletedProcess[str]:
        git(repo, 'checkout', '-q', '-B', branch, address)
        return run(repo, 'git', 'rebase', 'main')

    proc = rebase('refused')
    assert proc.returncode == 0, proc.stderr
    assert 'is not approved in this clone' in proc.stderr
    assert first in proc.stderr  # the command is shown
    assert '`migmerge approve-rollback`' in proc.stderr
    assert 'the rebased branch is left as it is' in proc.stderr
    assert not ran.exists()
    assert not (repo / APP / 'migrations/0004_userprofile_address.py').exists()

    approved = run(repo, MIGMERGE, 'approve-rollback')
    assert approved.returncode == 0
    assert approved.stdout.startswith('migmerge: approved for this clone: ')
    assert first in approved.stdout
    assert '.git' not in git(repo, 'status', '--porcelain')  # kept outside the work tree
    proc = rebase('approved')
    assert proc.returncode == 0, proc.stderr
    assert 'migmerge: rewrote the 1 rebased commit' in proc.stderr
    assert ran.read_text() == 'first '
    assert (repo / APP / 'migrations/0004_userprofile_address.py').exists()

    # upstream changes the command: refused again until approved again
    git(repo, 'checkout', '-q', 'main')
    second = configure('second')
    commit_all(repo, 'another rollback command', hooks=False)
    proc = rebase('changed')
    assert 'is not approved in this clone' in proc.stderr
    assert second in proc.stderr
    assert ran.read_text() == 'first '
    assert run(repo, MIGMERGE, 'approve-rollback').returncode == 0
    proc = rebase('changed-again')
    assert proc.returncode == 0, proc.stderr
    assert ran.read_text() == 'first second '
