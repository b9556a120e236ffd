from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.single_migration_leaf import main
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import run_git
from testing.git import write
from testing.hooks import run_hook
from testing.migrations import add_migration
from testing.paths import CHECKOUT

INITIAL = ('blog', '0001_initial')
SECOND = ('blog', '0002_post_title')


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
    commit_all(repo)
    monkeypatch.chdir(repo)
    return repo


def test_one_leaf_per_app_is_quiet(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_hook(main, capsys) == (0, [])


def test_two_leaves(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_migration(repo, 'blog', '0003_post_author', [SECOND])
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        'blog/migrations/0003_post_author.py:4: Conflicting migrations '
        'detected; multiple leaf nodes in the migration graph: '
        '(0003_post_author, 0003_post_slug in blog).',
        '  leaf of blog: 0003_post_author '
        '(blog/migrations/0003_post_author.py)',
        '  leaf of blog: 0003_post_slug (blog/migrations/0003_post_slug.py)',
        "To fix them run 'migmerge resolve' "
        "('migmerge resolve --dry-run' shows the plan first)",
    ]


def test_the_index_is_checked_not_the_work_tree(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # An untracked second leaf is not part of the commit.
    add_migration(repo, 'blog', '0003_post_author', [SECOND])
    git(repo, 'add', '-A')
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    assert run_hook(main, capsys) == (0, [])
    git(repo, 'add', '-A')
    assert run_hook(main, capsys)[0] == 1
    # a staged removal counts before the file leaves the disk
    git(repo, 'rm', '-q', '--cached', 'blog/migrations/0003_post_slug.py')
    assert (repo / 'blog/migrations/0003_post_slug.py').exists()
    assert run_hook(main, capsys) == (0, [])


def test_merge_migration_joins_the_leaves(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(repo, 'blog', '0003_post_author', [SECOND])
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    add_migration(
        repo, 'blog', '0004_merge_0003_post_author_0003_post_slug',
        [('blog', '0003_post_author'), ('blog', '0003_post_slug')],
    )
    git(repo, 'add', '-A')
    assert run_hook(main, capsys) == (0, [])


def test_two_apps_with_two_leaves_each(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    for app, parent in (('blog', SECOND), ('shop', ('shop', '0001_initial'))):
        add_migration(repo, app, '0009_a', [parent])
        add_migration(repo, app, '0009_b', [parent])
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert [line.split(':')[0] for line in lines[:2]] == [
        'blog/migrations/0009_a.py', 'shop/migrations/0009_a.py',
    ]
    assert lines[-1].startswith("To fix them run 'migmerge resolve'")


def test_squashed_migration_beside_its_originals_is_one_leaf(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(
        repo, 'blog', '0001_squashed_0002_post_title', [],
        extra=f'    replaces = [{INITIAL!r}, {SECOND!r}]\n',
    )
    add_migration(repo, 'blog', '0003_next', [SECOND])
    git(repo, 'add', '-A')
    assert run_hook(main, capsys) == (0, [])


def test_during_a_merge_it_reports(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    git(repo, 'checkout', '-q', '-b', 'feature')
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    write(repo / 'notes.txt', 'feature\n')
    commit_all(repo, 'feature')
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, 'blog', '0003_post_author', [SECOND])
    write(repo / 'notes.txt', 'main\n')
    commit_all(repo, 'main')
    # a textual conflict elsewhere stops the merge before any hook
    proc = git_merge(repo, 'feature')
    assert proc.returncode == 1
    assert (repo / '.git/MERGE_HEAD').exists()
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert '(0003_post_author, 0003_post_slug in blog)' in lines[0]


def git_merge(repo: Path, branch: str) -> subprocess.CompletedProcess[str]:
    return run_git(repo, 'merge', '-q', '--no-edit', branch)


def test_unparseable_migration_is_exit_2(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / 'blog/migrations/0003_broken.py', 'class Migration(:\n')
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines[0].startswith('blog/migrations/0003_broken.py:1: ')


def test_not_a_repository(
        tmp_path: Path, git_home: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    assert capsys.readouterr().err == 'not a git repository: .\n'


@pytest.mark.parametrize('commit', (('-a',), ('blog/migrations',)))
def test_commit_all_and_commit_paths_check_what_git_commits(
        repo: Path, commit: tuple[str, ...],
) -> None:
    """``git commit -a`` / ``git commit <paths>`` run hooks with a temporary
    index in GIT_INDEX_FILE: the hook must read that one, not .git/index."""
    add_migration(repo, 'blog', '0003_post_author', [SECOND])
    add_migration(
        repo, 'blog', '0004_post_slug', [('blog', '0003_post_author')],
    )
    commit_all(repo)
    hook = repo / '.git' / 'hooks' / 'pre-commit'
    write(
        hook,
        f'#!/bin/sh\nexec {sys.executable} -m hooks.single_migration_leaf\n',
    )
    hook.chmod(0o755)
    # An unstaged edit makes 0004 a second leaf beside 0003.
    add_migration(repo, 'blog', '0004_post_slug', [SECOND])
    env = dict(os.environ, PYTHONPATH=str(CHECKOUT))
    proc = subprocess.run(
        ('git', 'commit', '-q', '-m', 'parallel', *commit),
        cwd=repo, capture_output=True, text=True, env=env,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert 'Conflicting migrations detected' in proc.stderr  # git's hook output
    assert git(repo, 'status', '--porcelain') == (
        ' M blog/migrations/0004_post_slug.py\n'
    )
