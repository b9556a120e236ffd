from __future__ import annotations

from pathlib import Path

import pytest

from hooks.migrations_not_ignored import IgnoredMigration
from hooks.migrations_not_ignored import IgnoreRule
from hooks.migrations_not_ignored import main
from hooks.migrations_not_ignored import parse_check_ignore
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.hooks import run_hook
from testing.migrations import add_migration


@pytest.fixture
def repo(
        tmp_path: Path,
        git_home: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
) -> Path:
    repo = make_repo(tmp_path / 'project')
    add_migration(repo, 'blog', '0001_initial')
    add_migration(repo, 'blog', '0002_post_title', [('blog', '0001_initial')])
    add_migration(repo, 'shop', '0001_initial')
    monkeypatch.chdir(repo)
    return repo


def test_nothing_ignored_is_quiet(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / '.gitignore', '__pycache__/\n*.pyc\n.venv/\n')
    assert run_hook(main, capsys) == (0, [])


def test_migrations_dir_in_gitignore(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / '.gitignore', '*.pyc\nmigrations/\n')
    assert run_hook(main, capsys) == (1, [
        ".gitignore:2: 'migrations/' ignores the migration package "
        'blog/migrations/; migrations must be committed',
        ".gitignore:2: 'migrations/' ignores the migration package "
        'shop/migrations/; migrations must be committed',
    ])


def test_double_star_migrations_rule(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / '.gitignore', '**/migrations/\n')
    add_migration(repo, 'src/apps/deep', '0001_initial')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert [line.split(' ignores the migration package ')[1] for line in lines] == [
        'blog/migrations/; migrations must be committed',
        'shop/migrations/; migrations must be committed',
        'src/apps/deep/migrations/; migrations must be committed',
    ]
    assert all(line.startswith(".gitignore:1: '**/migrations/'") for line in lines)


def test_single_ignored_migration_file(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    commit_all(repo)
    write(repo / 'blog/.gitignore', '# local experiments\n0003_*.py\n')
    add_migration(repo, 'blog', '0003_scratch', [('blog', '0002_post_title')])
    assert run_hook(main, capsys) == (1, [
        "blog/.gitignore:2: '0003_*.py' ignores the migration "
        'blog/migrations/0003_scratch.py; migrations must be committed',
    ])


def test_ignored_migration_is_not_seen_by_git_add(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The dangerous case: makemigrations wrote it, `git add -A` skips it.
    write(repo / '.gitignore', 'shop/migrations/0002_*.py\n')
    commit_all(repo)
    add_migration(repo, 'shop', '0002_price', [('shop', '0001_initial')])
    git(repo, 'add', '-A')
    assert 'shop/migrations/0002_price.py' not in git(repo, 'status', '--short')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        ".gitignore:1: 'shop/migrations/0002_*.py' ignores the migration "
        'shop/migrations/0002_price.py; migrations must be committed',
    ]


@pytest.mark.parametrize(
    'rules',
    (
        pytest.param('*.py\n!*/migrations/*.py\n', id='negated-files'),
        pytest.param(
            '**/migrations/*\n!**/migrations/*.py\n', id='negated-py-in-dir',
        ),
        pytest.param('migrations/\n!migrations/\n', id='negated-dir'),
    ),
)
def test_negated_rule_reincluding_migrations_passes(
        repo: Path, capsys: pytest.CaptureFixture[str], rules: str,
) -> None:
    write(repo / '.gitignore', rules)
    assert run_hook(main, capsys) == (0, [])


def test_file_cannot_be_reincluded_under_an_ignored_dir(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # git: "It is not possible to re-include a file if a parent directory
    # of that file is excluded."
    write(repo / '.gitignore', 'shop/migrations/\n!shop/migrations/*.py\n')
    assert run_hook(main, capsys) == (1, [
        ".gitignore:1: 'shop/migrations/' ignores the migration package "
        'shop/migrations/; migrations must be committed',
    ])


def test_info_exclude(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / '.git/info/exclude', '# mine\n\n0002_post_title.py\n')
    assert run_hook(main, capsys) == (1, [
        ".git/info/exclude:3: '0002_post_title.py' ignores the migration "
        'blog/migrations/0002_post_title.py; migrations must be committed',
    ])


def test_global_excludes_file(
        repo: Path, git_home: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str],
) -> None:
    excludes = write(git_home / 'global-ignore', '.idea/\nmigrations/\n')
    git(repo, 'config', '--global', 'core.excludesFile', str(excludes))
    assert run_hook(main, capsys) == (1, [
        f"{excludes}:2: 'migrations/' ignores the migration package "
        f'{app}/migrations/; migrations must be committed'
        for app in ('blog', 'shop')
    ])


def test_default_global_excludes_file(
        repo: Path, git_home: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str],
) -> None:
    # Without core.excludesFile git reads ~/.config/git/ignore.
    write(git_home / '.config/git/ignore', 'blog/migrations/0001_*\n')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert lines == [
        f"{git_home}/.config/git/ignore:1: 'blog/migrations/0001_*' ignores "
        'the migration blog/migrations/0001_initial.py; '
        'migrations must be committed',
    ]


def test_tracked_migration_matched_by_a_rule_is_reported(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Committed with `git add -f`: the next migration will be ignored.
    commit_all(repo)
    write(repo / '.gitignore', 'migrations/\n')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert len(lines) == 2


def test_ignored_virtualenv_and_build_dirs_are_not_entered(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / '.gitignore', '.venv/\nbuild/\n')
    site = repo / '.venv/lib/python3.11/site-packages'
    add_migration(site, 'django/contrib/auth', '0001_initial')
    add_migration(repo / 'build/lib', 'blog', '0001_initial')
    add_migration(repo / 'node_modules/x', 'y', '0001_initial')
    assert run_hook(main, capsys) == (0, [])


def test_unmigrated_dir_named_migrations_is_not_a_package(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # e.g. alembic's layout: env.py and versions/, no __init__.py
    write(repo / 'db/migrations/env.py', '')
    write(repo / '.gitignore', 'db/\n')
    assert run_hook(main, capsys) == (0, [])


def test_a_run_in_a_subdirectory_checks_the_whole_tree(
        repo: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(repo / '.gitignore', 'migrations/\n')
    monkeypatch.chdir(repo / 'blog')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert len(lines) == 2


def test_not_a_repository(
        tmp_path: Path, git_home: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err == 'not a git repository: .\n'


def test_parse_check_ignore() -> None:
    output = (
        b'.gitignore\x001\x00migrations/\x00a/migrations/\x00'
        b'\x00\x00\x00b/migrations/x.py\x00'
    )
    assert parse_check_ignore(output) == {
        'a/migrations/': IgnoreRule('.gitignore', 1, 'migrations/'),
    }


def test_rule_unknown_still_names_the_path() -> None:
    assert IgnoredMigration('a/migrations/0001_x.py', None).one_line() == (
        'a/migrations/0001_x.py: this migration is ignored by git; '
        'migrations must be committed'
    )


def test_file_rule_is_reported_when_it_hides_a_new_migration(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # A tracked module is committed whatever the rules say; the rule that
    # matches it is reported once it hides an untracked one.
    write(repo / '.gitignore', '*_post_*.py\n')
    git(repo, 'add', '-f', 'blog/migrations/0002_post_title.py')
    commit_all(repo)
    assert run_hook(main, capsys) == (0, [])
    add_migration(repo, 'blog', '0003_post_slug', [('blog', '0002_post_title')])
    assert run_hook(main, capsys) == (1, [
        ".gitignore:1: '*_post_*.py' ignores the migration "
        'blog/migrations/0003_post_slug.py; migrations must be committed',
    ])


def test_configured_migration_module_is_checked(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        repo / 'pyproject.toml',
        '[tool.migmerge]\nsource_roots = ["src"]\n\n'
        '[tool.migmerge.migration_modules]\nnews = "news.db_migrations"\n',
    )
    write(repo / 'src/news/db_migrations/__init__.py', '')
    write(repo / 'src/news/db_migrations/0001_initial.py', '')
    write(repo / '.gitignore', 'db_migrations/\n')
    assert run_hook(main, capsys) == (1, [
        ".gitignore:1: 'db_migrations/' ignores the migration package "
        'src/news/db_migrations/; migrations must be committed',
    ])


def test_configured_package_below_an_ignored_directory(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        repo / 'setup.cfg',
        '[migmerge]\nmigration_modules =\n    news = generated.news_migrations\n',
    )
    write(repo / 'generated/news_migrations/0001_initial.py', '')
    write(repo / '.gitignore', '/generated/\n')
    assert run_hook(main, capsys) == (1, [
        ".gitignore:1: '/generated/' ignores the migration package "
        'generated/news_migrations/; migrations must be committed',
    ])


def test_excluded_paths_are_not_migrations(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / 'pyproject.toml', '[tool.migmerge]\nexclude = ["shop/**"]\n')
    write(repo / '.gitignore', 'migrations/\n')
    ret, lines = run_hook(main, capsys)
    assert ret == 1
    assert ['shop/migrations/' in line for line in lines] == [False]


def test_bad_configuration_is_one_line_and_exit_2(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / 'pyproject.toml', '[tool.migmerge]\nexclude = 3\n')
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.startswith('pyproject.toml:2: ')
    assert len(err.splitlines()) == 1


def test_an_unnumbered_migration_is_a_migration_too(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Django loads any module name of a migrations package: one rule
    # (discovery/modules.py) for the hook, discovery and the driver.
    commit_all(repo)
    write(repo / 'blog/.gitignore', 'auto_*.py\n_*.py\n')
    add_migration(repo, 'blog', 'auto_scratch', [('blog', '0002_post_title')])
    write(repo / 'blog/migrations/_helpers.py', '')  # Django skips '_' names
    assert run_hook(main, capsys) == (1, [
        "blog/.gitignore:1: 'auto_*.py' ignores the migration "
        'blog/migrations/auto_scratch.py; migrations must be committed',
    ])
