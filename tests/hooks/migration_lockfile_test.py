from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.migration_lockfile import main
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.hooks import run_hook
from testing.migrations import add_migration

INITIAL = ('blog', '0001_initial')
SECOND = ('blog', '0002_post_title')
BLOG_LOCK = 'blog/migrations/max_migration.txt'
SHOP_LOCK = 'shop/migrations/max_migration.txt'


@pytest.fixture
def repo(
        tmp_path: Path,
        git_home: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
) -> Path:
    repo = make_repo(tmp_path / 'project')
    add_migration(repo, 'blog', '0001_initial')
    add_migration(repo, 'blog', '0002_post_title', [INITIAL])
    add_migration(repo, 'shop', '0001_initial', [INITIAL])
    write(repo / BLOG_LOCK, '0002_post_title\n')
    write(repo / SHOP_LOCK, '0001_initial\n')
    commit_all(repo)
    monkeypatch.chdir(repo)
    return repo


def test_in_sync_is_quiet_and_writes_nothing(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_hook(main, capsys) == (0, [])
    assert git(repo, 'status', '--porcelain') == ''


def test_missing_files_are_created(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    git(repo, 'rm', '-q', BLOG_LOCK, SHOP_LOCK)
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        f"{BLOG_LOCK}:1: blog's max_migration.txt does not exist. Fixed.",
        f"{SHOP_LOCK}:1: shop's max_migration.txt does not exist. Fixed.",
    ]
    assert (repo / BLOG_LOCK).read_text() == '0002_post_title\n'
    assert (repo / SHOP_LOCK).read_text() == '0001_initial\n'
    # a second run has nothing left to do
    assert run_hook(main, capsys) == (0, [])


def test_new_staged_migration_updates_the_file(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        f"{BLOG_LOCK}:1: blog's max_migration.txt contains "
        "'0002_post_title', but the latest migration is '0003_post_slug'. "
        'Fixed.',
    ]
    assert (repo / BLOG_LOCK).read_text() == '0003_post_slug\n'


def test_unstaged_migration_does_not_count(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    assert run_hook(main, capsys) == (0, [])


@pytest.mark.parametrize(
    ('content', 'message'),
    (
        ('0002_post_title\n0003_x\n', 'max_migration.txt contains multiple lines'),
        ('0009_gone\n', "points to non-existent migration '0009_gone'"),
        ('0001_initial\n', "contains '0001_initial', but the latest"),
        ('', 'max_migration.txt is empty'),
        (
            '<<<<<<< HEAD\n0003_a\n=======\n0003_b\n>>>>>>> feature\n',
            'file holds conflict markers',
        ),
    ),
)
def test_wrong_content_is_rewritten(
        repo: Path, capsys: pytest.CaptureFixture[str],
        content: str, message: str,
) -> None:
    write(repo / BLOG_LOCK, content)
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert len(lines) == 1
    assert lines[0].startswith(f'{BLOG_LOCK}:')
    assert message in lines[0]
    assert (repo / BLOG_LOCK).read_text() == '0002_post_title\n'


def test_same_name_other_bytes_is_normalized(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / BLOG_LOCK, '0002_post_title')  # no newline
    assert run_hook(main, capsys) == (1, [f"{BLOG_LOCK}:1: normalized to '0002_post_title'"])
    assert (repo / BLOG_LOCK).read_text() == '0002_post_title\n'


def test_two_leaves_are_not_guessed(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(repo, 'blog', '0003_a', [SECOND])
    add_migration(repo, 'blog', '0003_b', [SECOND])
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        f'{BLOG_LOCK}: not updated: blog has 2 leaves (0003_a, 0003_b); '
        "run 'migmerge resolve'",
    ]
    assert (repo / BLOG_LOCK).read_text() == '0002_post_title\n'


def test_squashed_leaf(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_migration(
        repo, 'blog', '0001_squashed_0002_post_title', [],
        extra=f'    replaces = [{INITIAL!r}, {SECOND!r}]\n',
    )
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert (repo / BLOG_LOCK).read_text() == '0001_squashed_0002_post_title\n'


def test_no_temp_files_left(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / BLOG_LOCK, 'x\n')
    run_hook(main, capsys)
    assert sorted(p.name for p in (repo / 'blog/migrations').iterdir()) == [
        '0001_initial.py', '0002_post_title.py', '__init__.py',
        'max_migration.txt',
    ]


@pytest.mark.parametrize('case', ('dev-zero', 'outside', 'fifo', 'huge', 'directory-link'))
def test_unsafe_lock_file_is_refused_not_read_or_replaced(
        repo: Path, tmp_path: Path, case: str,
) -> None:
    """A max_migration.txt that links to /dev/zero or outside the
    repository, a FIFO, a huge file: one line and exit 2, promptly (a hang
    fails the test by its timeout), and nothing read or replaced."""
    lock = repo / BLOG_LOCK
    outside = write(tmp_path / 'outside.txt', 'not_a_migration\n')
    shown = BLOG_LOCK
    lock.unlink()
    if case == 'dev-zero':
        lock.symlink_to('/dev/zero')
    elif case == 'outside':
        lock.symlink_to(outside)
    elif case == 'fifo':
        os.mkfifo(lock)
    elif case == 'huge':
        write(lock, '0002_post_title\n' + '#' * (3 * 1024 * 1024))
    else:  # the migrations directory itself leads outside
        elsewhere = tmp_path / 'elsewhere'
        (repo / 'blog/migrations').rename(elsewhere)
        (repo / 'blog/migrations').symlink_to(elsewhere, target_is_directory=True)
        write(elsewhere / 'max_migration.txt', 'not_a_migration\n')
    if case in ('dev-zero', 'outside', 'huge'):  # committed like that
        git(repo, 'add', '-A')
    script = os.path.join(os.path.dirname(sys.executable), 'migmerge-migration-lockfile')
    proc = subprocess.run(
        (script,), cwd=repo, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'{shown}:1: '), proc.stderr
    assert outside.read_text() == 'not_a_migration\n'
    if case in ('dev-zero', 'outside'):
        assert lock.is_symlink()
    if case == 'directory-link':
        assert (tmp_path / 'elsewhere/max_migration.txt').read_text() == 'not_a_migration\n'
