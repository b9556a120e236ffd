"""``migmerge install`` covers every branch at once: the merge=migmerge
lines go to the clone's info/attributes (shared by linked work trees), so
a branch whose history never saw them still merges with the driver;
``--shared`` writes the committed .gitattributes instead; ``check`` and the
hooks name migration files the registered driver does not cover.  Real git
and the real hooks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mergedriver.integration import install as gitsetup
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration
from testing.shop import add_field
from testing.shop import APP
from testing.shop import assert_migrates
from testing.shop import branch_with
from testing.shop import CREATE

MIGMERGE = str(Path(sys.executable).parent / 'migmerge')
MERGE_NAME = '0004_merge_0003_userprofile_address_0003_userprofile_age'


def old_project(repo: Path) -> Path:
    """History from before migmerge: no attributes anywhere; ``old`` is a
    branch of it."""
    make_repo(repo)
    add_migration(repo, APP, '0001_initial', operations=CREATE, extra='    initial = True\n\n')
    add_migration(repo, APP, '0002_userprofile_name', [(APP, '0001_initial')], add_field('name'))
    write(repo / APP / 'migrations/max_migration.txt', '0002_userprofile_name\n')
    commit_all(repo, 'initial')
    git(repo, 'branch', 'old')
    return repo


def merge_lock_edits(repo: Path, base: str) -> subprocess.CompletedProcess[str]:
    address = add_field('address')
    age = add_field('age', 'models.IntegerField(default=0)')
    branch_with(
        repo, 'address',
        [('0003_userprofile_address', '0002_userprofile_name', address)],
        lock='max_migration', start=base,
    )
    branch_with(
        repo, 'age', [('0003_userprofile_age', '0002_userprofile_name', age)],
        lock='max_migration', start=base,
    )
    return subprocess.run(
        ('git', 'merge', '--no-edit', 'address'), cwd=repo,
        capture_output=True, text=True,
    )


def test_install_covers_a_branch_that_never_saw_the_attributes(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = old_project(tmp_path / 'repo')
    gitsetup.install(str(repo))
    assert git(repo, 'status', '--porcelain') == ''  # nothing to commit
    git(repo, 'switch', '-q', 'old')
    proc = merge_lock_edits(repo, 'old')
    # the driver merged the lock file: no conflict, it names the merge
    assert 'CONFLICT' not in proc.stdout, proc.stdout
    lock = repo / APP / 'migrations/max_migration.txt'
    assert lock.read_text() == f'{MERGE_NAME}\n'
    git(repo, 'commit', '-q', '--no-edit')
    assert git(repo, 'status', '--porcelain') == ''
    assert_migrates(repo, ['name', 'address', 'age'])

    # a linked work tree shares the clone's attributes
    linked = tmp_path / 'linked'
    git(repo, 'worktree', 'add', '-q', str(linked), 'main')
    check = git(linked, 'check-attr', 'merge', '--', f'{APP}/migrations/0001_initial.py')
    assert check.endswith(': merge: migmerge\n')


def test_without_the_driver_the_same_merge_conflicts(
        tmp_path: Path, git_home: Path,
) -> None:
    """What the test above guards against: git's text merge of the lock
    file."""
    repo = old_project(tmp_path / 'repo')
    gitsetup.install(str(repo), shared=True)  # in .gitattributes, not committed
    git(repo, 'stash', '-q', '--include-untracked')
    git(repo, 'switch', '-q', 'old')
    proc = merge_lock_edits(repo, 'old')
    assert 'CONFLICT (content): Merge conflict in shop/migrations/max_migration.txt' in proc.stdout


def test_check_and_hook_name_files_the_driver_does_not_cover(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = old_project(tmp_path / 'repo')

    def check() -> dict[str, object]:
        proc = subprocess.run(
            (MIGMERGE, 'check', '--format', 'json'), cwd=repo,
            capture_output=True, text=True,
        )
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    assert check()['uncovered'] == []  # no driver registered: nothing promised
    gitsetup.install(str(repo))
    assert check()['uncovered'] == []
    # a rule after ours takes the files back
    attributes = repo / '.git/info/attributes'
    attributes.write_text(attributes.read_text() + f'{APP}/migrations/* merge=text\n')
    assert check()['uncovered'] == [f'{APP}/migrations']
    text = subprocess.run(
        (MIGMERGE, 'check'), cwd=repo, capture_output=True, text=True,
    ).stdout
    assert text.startswith(
        f'{APP}/migrations: not covered by the migmerge merge driver',
    )
    # git merges the lock file as text: a conflict, resolved by hand; the
    # hook that runs at the commit says why the driver did not
    proc = merge_lock_edits(repo, 'main')
    assert 'CONFLICT' in proc.stdout
    write(repo / APP / 'migrations/max_migration.txt', '0003_userprofile_age\n')
    git(repo, 'add', '-A')
    proc = subprocess.run(
        ('git', 'commit', '--no-edit'), cwd=repo, capture_output=True,
        text=True,
    )
    assert (
        f'migmerge (pre-commit): {APP}/migrations: not covered by the '
        f'migmerge merge driver'
    ) in proc.stderr


def test_uninstall_is_exact(tmp_path: Path, git_home: Path) -> None:
    repo = old_project(tmp_path / 'repo')
    info = repo / '.git/info/attributes'
    info.write_text('*.png binary\n')
    gitsetup.install(str(repo))
    gitsetup.uninstall(str(repo))
    assert info.read_text() == '*.png binary\n'
    assert not (repo / '.gitattributes').exists()
