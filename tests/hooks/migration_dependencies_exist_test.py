from __future__ import annotations

from pathlib import Path

import pytest

from hooks.migration_dependencies_exist import main
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.hooks import run_hook
from testing.migrations import add_migration

INITIAL = ('blog', '0001_initial')
SECOND = ('blog', '0002_post_title')
THIRD = ('blog', '0003_post_slug')


@pytest.fixture
def repo(
        tmp_path: Path,
        git_home: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
) -> Path:
    repo = make_repo(tmp_path / 'project')
    add_migration(repo, 'blog', '0001_initial', [('auth', '0012_user')])
    add_migration(repo, 'blog', '0002_post_title', [INITIAL])
    add_migration(repo, 'blog', '0003_post_slug', [SECOND])
    add_migration(repo, 'shop', '0001_initial', [SECOND])
    commit_all(repo)
    monkeypatch.chdir(repo)
    return repo


def test_complete_graph_is_quiet(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # ('auth', ...) is Django's own app, outside the repository: external.
    assert run_hook(main, capsys) == (0, [])


def test_deleted_migration_still_depended_on(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    git(repo, 'rm', '-q', 'blog/migrations/0002_post_title.py')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines == [
        'blog/migrations/0003_post_slug.py:6: Migration blog.0003_post_slug '
        "dependencies reference nonexistent parent node "
        "('blog', '0002_post_title')",
        'shop/migrations/0001_initial.py:6: Migration shop.0001_initial '
        "dependencies reference nonexistent parent node "
        "('blog', '0002_post_title')",
    ]


def test_every_migration_of_an_app_deleted(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # blog keeps its (now empty) migrations package: Django counts it as
    # migrated, so shop's dependency is missing (NodeNotFoundError), not a
    # dependency on some app outside the repository.
    git(repo, 'rm', '-q', 'blog/migrations/0*.py')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines == [
        'shop/migrations/0001_initial.py:6: Migration shop.0001_initial '
        "dependencies reference nonexistent parent node "
        "('blog', '0002_post_title')",
    ]


def test_deleted_only_on_disk_is_still_committed(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The index still has it: the commit is complete.
    (repo / 'blog/migrations/0002_post_title.py').unlink()
    assert run_hook(main, capsys) == (0, [])


def test_run_before_naming_a_missing_migration(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(
        repo, 'shop', '0002_price', [('shop', '0001_initial')],
        extra="    run_before = [('blog', '0009_nothing')]\n",
    )
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert len(lines) == 1
    assert lines[0].startswith('shop/migrations/0002_price.py:5: ')
    assert "('blog', '0009_nothing')" in lines[0]


def test_cycle(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_migration(repo, 'blog', '0001_initial', [('shop', '0001_initial')])
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert len(lines) == 1
    assert 'Circular dependency between migrations' in lines[0]


def test_replaces_naming_a_missing_migration(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(
        repo, 'blog', '0001_squashed_0003_post_slug',
        [('auth', '0012_user')],
        extra=f'    replaces = [{INITIAL!r}, {SECOND!r}, {THIRD!r}]\n',
    )
    git(repo, 'add', '-A')
    assert run_hook(main, capsys) == (0, [])
    # The originals deleted, replaces kept (the last step was forgotten).
    git(repo, 'rm', '-q', 'blog/migrations/0003_post_slug.py')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines == [
        'blog/migrations/0001_squashed_0003_post_slug.py:5: Migration '
        'blog.0001_squashed_0003_post_slug replaces nonexistent migration '
        "('blog', '0003_post_slug'): fix the name or, once the replaced "
        'migrations are deleted, remove replaces',
    ]


def test_replaces_naming_a_removed_app_is_an_app_rename(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    add_migration(
        repo, 'journal', '0001_initial', [],
        extra="    replaces = [('old_journal', '0001_initial')]\n",
    )
    git(repo, 'add', '-A')
    assert run_hook(main, capsys) == (0, [])


def test_squash_of_a_squash_with_replaces_left(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    first = ('blog', '0001_squashed_0002_post_title')
    add_migration(
        repo, 'blog', first[1], [('auth', '0012_user')],
        extra=f'    replaces = [{INITIAL!r}, {SECOND!r}]\n',
    )
    add_migration(
        repo, 'blog', '0001_squashed_0003_post_slug', [('auth', '0012_user')],
        extra=f'    replaces = [{first!r}, {THIRD!r}]\n',
    )
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        'blog/migrations/0001_squashed_0003_post_slug.py:5: '
        'blog.0001_squashed_0003_post_slug squashes '
        'blog.0001_squashed_0002_post_title, which is itself a squashed '
        'migration whose replaces were not removed ("You cannot squash '
        'squashed migrations!"): first make '
        'blog.0001_squashed_0002_post_title a normal migration (delete the '
        'migrations it replaces and its replaces list)',
    ]


def test_unparseable_migration_is_exit_2(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / 'blog/migrations/0004_bad.py', b'\xff\xfe'.decode('latin-1'))
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines[0].startswith('blog/migrations/0004_bad.py:1: ')


def test_dependency_on_a_migration_that_git_ignores(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # NodeNotFoundError on every other machine: 0004 is staged, the 0003 it
    # depends on exists on disk but a rule keeps it out of the index.
    write(repo / '.gitignore', '0003_*.py\n')
    add_migration(repo, 'blog', '0003_hidden', [THIRD])
    add_migration(repo, 'blog', '0004_next', [('blog', '0003_hidden')])
    git(repo, 'add', '-A')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines == [
        'blog/migrations/0004_next.py:6: Migration blog.0004_next '
        "dependencies reference nonexistent parent node ('blog', '0003_hidden')",
    ]


def test_dependency_on_a_migration_never_added(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # NodeNotFoundError after deploy: 0004 was staged, the 0003 it depends
    # on stayed untracked (never `git add`ed) on the developer's disk.
    add_migration(repo, 'blog', '0004_post_body', [THIRD])
    add_migration(repo, 'blog', '0005_post_tags', [('blog', '0004_post_body')])
    git(repo, 'add', 'blog/migrations/0005_post_tags.py')
    ret, lines = run_hook(main, capsys)
    assert ret == 2
    assert lines == [
        'blog/migrations/0005_post_tags.py:6: Migration blog.0005_post_tags '
        "dependencies reference nonexistent parent node ('blog', '0004_post_body')",
    ]
    git(repo, 'add', 'blog/migrations/0004_post_body.py')
    assert run_hook(main, capsys) == (0, [])
