"""Every rebased commit carries the renumbering (issue 10, part B;
``migmerge.postRewrite = rewrite``, the default).

Real ``git rebase`` (plain, and interactive with a squash and a reordering
driven by GIT_SEQUENCE_EDITOR) with migmerge installed; each rewritten commit
is checked by ``migmerge check --rev`` and by Django's MigrationLoader on
its tree checked out into a temporary directory (one Django process for
all commits).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.integration import install
from mergedriver.integration.rebased import REFLOG_MESSAGE
from testing import django as djangoproc
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration

MIGMERGE = str(Path(sys.executable).parent / 'migmerge')
LOG_FORMAT = '%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd%x00%B%x01'


def add_field(name: str) -> str:
    return (
        f"        migrations.AddField(model_name='userprofile', name={name!r}, "
        f"field=models.TextField(default='')),\n"
    )


CREATE = (
    "        migrations.CreateModel(name='UserProfile', fields=[\n"
    "            ('id', models.AutoField(primary_key=True))]),\n"
)
CREATE_INVOICE = (
    "        migrations.CreateModel(name='Invoice', fields=[\n"
    "            ('id', models.AutoField(primary_key=True))]),\n"
)


def commit(repo: Path, message: str, n: int) -> None:
    """A commit with its own author and dates, so keeping them shows."""
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME=f'Author {n}', GIT_AUTHOR_EMAIL=f'a{n}@example.com',
        GIT_AUTHOR_DATE=f'2020-01-0{n}T10:00:00+0{n}00',
        GIT_COMMITTER_DATE=f'2021-01-0{n}T10:00:00+0000',
    )
    subprocess.run(('git', 'add', '-A'), cwd=repo, check=True)
    subprocess.run(
        ('git', 'commit', '-q', '--no-verify', '-m', message, '-m', f'body {n}'),
        cwd=repo, check=True, env=env,
    )


def lock(repo: Path, name: str) -> None:
    write(repo / 'shop' / 'migrations' / 'max_migration.txt', f'{name}\n')


def base_project(root: Path) -> Path:
    repo = make_repo(root)
    add_migration(repo, 'shop', '0001_initial', operations=CREATE)
    add_migration(repo, 'shop', '0002_userprofile_name', [('shop', '0001_initial')], add_field('name'))
    lock(repo, '0002_userprofile_name')
    add_migration(repo, 'billing', '0001_initial', operations=CREATE_INVOICE)
    install.install(str(repo))
    commit(repo, 'initial', 1)
    return repo


def feature_of_three(repo: Path) -> None:
    """Two migrations in shop (with the lock file) and a dependent one in
    billing, one commit each; main gains shop 0003_userprofile_age."""
    git(repo, 'checkout', '-q', '-b', 'feature')
    add_migration(repo, 'shop', '0003_userprofile_a', [('shop', '0002_userprofile_name')], add_field('a'))
    lock(repo, '0003_userprofile_a')
    commit(repo, 'add a', 2)
    add_migration(repo, 'shop', '0004_userprofile_b', [('shop', '0003_userprofile_a')], add_field('b'))
    lock(repo, '0004_userprofile_b')
    commit(repo, 'add b', 3)
    add_migration(
        repo, 'billing', '0002_invoice_total',
        [('billing', '0001_initial'), ('shop', '0004_userprofile_b')],
        "        migrations.AddField(model_name='invoice', name='total', field=models.IntegerField(default=0)),\n",
    )
    commit(repo, 'add invoice total', 4)
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, 'shop', '0003_userprofile_age', [('shop', '0002_userprofile_name')], add_field('age'))
    lock(repo, '0003_userprofile_age')
    commit(repo, 'add age', 5)
    git(repo, 'checkout', '-q', 'feature')


def assert_every_commit_whole(repo: Path, tmp: Path, commits: list[str]) -> None:
    """`migmerge check --rev` and Django's loader on each commit: one leaf
    per app, every dependency present, and the lock file names the leaf."""
    cases = []
    for i, rev in enumerate(commits):
        proc = subprocess.run(
            (MIGMERGE, 'check', '--rev', rev), cwd=repo, capture_output=True, text=True,
        )
        assert proc.returncode == 0, (rev, proc.stdout, proc.stderr)
        where = tmp / 'trees' / f'commit{i}'
        where.mkdir(parents=True)
        archive = subprocess.run(('git', 'archive', rev), cwd=repo, check=True, capture_output=True).stdout
        subprocess.run(('tar', '-x', '-C', str(where)), input=archive, check=True)
        for package in (where, where / 'shop', where / 'billing'):
            (package / '__init__.py').touch()
        cases.append({'migration_modules': {
            'shop': f'commit{i}.shop.migrations',
            'billing': f'commit{i}.billing.migrations',
        }})
    write(tmp / 'trees' / 'shop' / '__init__.py', '')
    write(tmp / 'trees' / 'shop' / 'models.py', '')
    write(tmp / 'trees' / 'billing' / '__init__.py', '')
    write(tmp / 'trees' / 'billing' / 'models.py', '')
    settings = djangoproc.write_settings(tmp / 'trees', installed_apps=['shop', 'billing'])
    results = djangoproc.loader_graphs(settings=settings, paths=[tmp / 'trees'], cases=cases)
    for i, (rev, result) in enumerate(zip(commits, results)):
        assert 'error' not in result, (rev, result)
        assert result['conflicts'] == {}, (rev, result['conflicts'])
        leaf = result['leaves']['shop'][0]
        locked = (tmp / 'trees' / f'commit{i}' / 'shop/migrations/max_migration.txt').read_text()
        assert locked == f'{leaf}\n', rev


def log(repo: Path, revs: str) -> list[str]:
    return git(repo, 'log', '--reverse', f'--format={LOG_FORMAT}', revs).split('\x01\n')


def rewrites_in_reflog(repo: Path) -> int:
    return git(repo, 'reflog', '--format=%gs').splitlines().count(REFLOG_MESSAGE)


@pytest.fixture
def repo(tmp_path: Path, git_home: Path) -> Path:
    repo = base_project(tmp_path / 'repo')
    feature_of_three(repo)
    return repo


def test_rebase_rewrites_every_commit(repo: Path, tmp_path: Path) -> None:
    proc = subprocess.run(('git', 'rebase', 'main'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'rewrote the 3 rebased commits' in proc.stderr, proc.stderr
    rebased = git(repo, 'rev-parse', 'HEAD@{1}').strip()
    assert f'git reset --keep {rebased[:12]}' in proc.stderr
    assert git(repo, 'status', '--porcelain') == ''
    commits = git(repo, 'rev-list', '--reverse', 'main..HEAD').split()
    assert len(commits) == 3  # no commit added on top
    assert log(repo, 'main..HEAD') == log(repo, f'main..{rebased}')
    assert rewrites_in_reflog(repo) == 1
    assert git(repo, 'show', '--format=', '--name-status', commits[0]).split() == [
        'A', 'shop/migrations/0004_userprofile_a.py',
        'M', 'shop/migrations/max_migration.txt',
    ]
    assert (repo / 'shop/migrations/0005_userprofile_b.py').exists()
    assert "('shop', '0005_userprofile_b')" in (repo / 'billing/migrations/0002_invoice_total.py').read_text()
    assert_every_commit_whole(repo, tmp_path, commits)


SEQUENCE_EDITOR = '''\
import sys
path = sys.argv[1]
lines = [l for l in open(path) if l.strip() and not l.startswith('#')]
by_subject = {l.split(' ', 2)[2].strip(): l.split(' ', 2)[1] for l in lines}
order = [('pick', 'readme'), ('pick', 'add a'), ('pick', 'add b'), ('squash', 'edit a')]
with open(path, 'w') as f:
    for action, subject in order:
        f.write(f'{action} {by_subject[subject]} {subject}\\n')
'''


def test_interactive_rebase_with_squash_and_reordering(tmp_path: Path, git_home: Path) -> None:
    """Commits a, b, edit-a, readme become readme, a, b+edit-a: the first
    rewritten commit with a migration holds a's text before the edit (it
    differs from the tip's), and is renumbered from its own text."""
    repo = base_project(tmp_path / 'repo')
    git(repo, 'checkout', '-q', '-b', 'feature')
    add_migration(repo, 'shop', '0003_userprofile_a', [('shop', '0002_userprofile_name')], add_field('a'))
    lock(repo, '0003_userprofile_a')
    commit(repo, 'add a', 2)
    add_migration(repo, 'shop', '0004_userprofile_b', [('shop', '0003_userprofile_a')], add_field('b'))
    lock(repo, '0004_userprofile_b')
    commit(repo, 'add b', 3)
    add_migration(repo, 'shop', '0003_userprofile_a', [('shop', '0002_userprofile_name')], add_field('a') + add_field('a2'))
    commit(repo, 'edit a', 4)
    write(repo / 'README', 'feature\n')
    commit(repo, 'readme', 5)
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, 'shop', '0003_userprofile_age', [('shop', '0002_userprofile_name')], add_field('age'))
    lock(repo, '0003_userprofile_age')
    commit(repo, 'add age', 6)
    git(repo, 'checkout', '-q', 'feature')
    editor = tmp_path / 'sequence_editor.py'
    editor.write_text(SEQUENCE_EDITOR)
    env = dict(os.environ, GIT_SEQUENCE_EDITOR=f'{sys.executable} {editor}', GIT_EDITOR='true')
    proc = subprocess.run(('git', 'rebase', '-i', 'main'), cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'rewrote the 3 rebased commits' in proc.stderr, proc.stderr
    rebased = git(repo, 'rev-parse', 'HEAD@{1}').strip()
    assert log(repo, 'main..HEAD') == log(repo, f'main..{rebased}')
    assert rewrites_in_reflog(repo) == 1
    commits = git(repo, 'rev-list', '--reverse', 'main..HEAD').split()
    assert git(repo, 'log', '--reverse', '--format=%s', 'main..HEAD').split('\n')[:3] == ['readme', 'add a', 'add b']
    first_a = git(repo, 'show', f'{commits[1]}:shop/migrations/0004_userprofile_a.py')
    assert "('shop', '0003_userprofile_age')" in first_a and "'a2'" not in first_a
    assert "'a2'" in (repo / 'shop/migrations/0004_userprofile_a.py').read_text()
    assert git(repo, 'status', '--porcelain') == ''
    assert_every_commit_whole(repo, tmp_path, commits)


def test_update_refs_branch_is_named_with_the_command_that_moves_it(repo: Path) -> None:
    """git moves --update-refs branches after post-rewrite ran, onto the
    commits before the rewrite: the hook prints the command that moves
    each onto its rewrite."""
    git(repo, 'branch', 'part', 'feature~1')
    proc = subprocess.run(('git', 'rebase', '--update-refs', 'main'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    prefix = 'migmerge: git rebase --update-refs sets refs/heads/part after this hook'
    (line,) = (line for line in proc.stderr.splitlines() if line.startswith(prefix))
    command = line.rsplit('`', 2)[1]
    assert command.startswith('git update-ref refs/heads/part ')
    assert subprocess.run((MIGMERGE, 'check', '--rev', 'part'), cwd=repo, capture_output=True).returncode == 1
    git(repo, *command.split()[1:])
    assert git(repo, 'rev-parse', 'part').strip() == git(repo, 'rev-parse', 'HEAD~1').strip()
    proc = subprocess.run((MIGMERGE, 'check', '--rev', 'part'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_a_migration_dropped_later_with_a_lock_file_falls_back_to_one_commit(
        tmp_path: Path, git_home: Path,
) -> None:
    """A commit holds a migration the tip no longer has: which leaf its
    lock file should name is not what the tip's plan knows, so the hook
    rewrites nothing and adds one commit, saying why."""
    repo = base_project(tmp_path / 'repo')
    git(repo, 'checkout', '-q', '-b', 'feature')
    add_migration(repo, 'shop', '0003_userprofile_a', [('shop', '0002_userprofile_name')], add_field('a'))
    lock(repo, '0003_userprofile_a')
    commit(repo, 'add a', 2)
    add_migration(repo, 'shop', '0004_userprofile_b', [('shop', '0003_userprofile_a')], add_field('b'))
    lock(repo, '0004_userprofile_b')
    commit(repo, 'add b', 3)
    (repo / 'shop/migrations/0004_userprofile_b.py').unlink()
    lock(repo, '0003_userprofile_a')
    commit(repo, 'drop b', 4)
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, 'shop', '0003_userprofile_age', [('shop', '0002_userprofile_name')], add_field('age'))
    lock(repo, '0003_userprofile_age')
    commit(repo, 'add age', 5)
    git(repo, 'checkout', '-q', 'feature')
    proc = subprocess.run(('git', 'rebase', 'main'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (
        'migmerge: cannot rewrite the rebased commits (shop/migrations/'
        '0004_userprofile_b.py:1: a commit has this migration'
    ) in proc.stderr
    assert 'migmerge: renumbering committed.' in proc.stderr
    assert git(repo, 'log', '-1', '--format=%s').strip() == 'Renumber migrations after rebase (migmerge)'
    assert rewrites_in_reflog(repo) == 0
    assert git(repo, 'status', '--porcelain') == ''
    proc = subprocess.run((MIGMERGE, 'check'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_autostash_edits_survive_the_rewrite(repo: Path) -> None:
    """`git rebase --autostash` puts the user's edits back after the hook
    ran: an edit elsewhere survives the rewrite, and an edit to a migration
    the renumbering renamed follows it to its new name (git applies the
    stash with rename detection; the rewritten commit is a rename)."""
    before = git(repo, 'rev-parse', 'HEAD').strip()
    write(repo / 'shop/models.py', '# my edit\n')
    proc = subprocess.run(('git', 'rebase', '--autostash', 'main'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'rewrote the 3 rebased commits' in proc.stderr
    assert proc.stderr.index('rewrote the') < proc.stderr.index('Applied autostash.')
    assert (repo / 'shop/models.py').read_text() == '# my edit\n'
    assert git(repo, 'status', '--porcelain') == ' M shop/models.py\n'

    git(repo, 'checkout', '-q', '-f', '-B', 'again', before)
    old = repo / 'shop/migrations/0003_userprofile_a.py'
    old.write_text(old.read_text() + '# my edit\n')
    proc = subprocess.run(('git', 'rebase', '--autostash', 'main'), cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'rewrote the 3 rebased commits' in proc.stderr
    assert git(repo, 'status', '--porcelain') == ' M shop/migrations/0004_userprofile_a.py\n'
    assert (repo / 'shop/migrations/0004_userprofile_a.py').read_text().endswith('# my edit\n')
    assert git(repo, 'stash', 'list') == ''
