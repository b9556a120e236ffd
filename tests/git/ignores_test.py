"""Remembered ignore answers: a warm run answers from memory, and any
change to git's ignore rules makes it ask libgit2 again."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mergedriver.cache import Cache
from mergedriver.config import Config
from mergedriver.git import ignores
from mergedriver.git import location as gitdir
from mergedriver.git import trees as source
from mergedriver.git.trees import open_tree
from mergedriver.parsing.load import discover_files
from testing.git import git
from testing.git import make_repo
from testing.git import write

MIGRATION = (
    'from django.db import migrations\n\n\n'
    'class Migration(migrations.Migration):\n    operations = []\n'
)


def add_app(repo: Path, where: str) -> None:
    write(repo / where / 'models.py', '')
    write(repo / where / 'migrations/__init__.py', '')
    write(repo / where / 'migrations/0001_initial.py', MIGRATION)


class Run:
    """One discovery as ``check`` runs it; what it found and whether it
    asked libgit2."""

    def __init__(self, repo: Path) -> None:
        tree = open_tree(str(repo))
        asked: list[str] = []
        rules = tree.ignore_rules
        assert rules is not None
        ask = rules._ask

        def counting(path: str) -> bool:
            asked.append(path)
            return ask(path)

        rules._ask = counting
        with Cache(gitdir.cache_path(gitdir.locate(str(repo)))) as cache:
            found = discover_files(tree, Config(), cache)
        self.apps = sorted(found.packages)
        self.asked = asked


@pytest.fixture
def repo(
        tmp_path: Path, git_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    # Trust stat data at once (the tests change files faster than the
    # clock's slack).
    monkeypatch.setattr(ignores, '_RACY_NS', 0)
    monkeypatch.setattr(source, '_RACY_NS', 0)
    repo = make_repo(tmp_path / 'repo')
    add_app(repo, 'shop')
    add_app(repo, 'vendor/legacy')
    add_app(repo, 'build/copy')
    write(repo / '.gitignore', 'build/\n')
    yield repo


def test_second_run_answers_from_memory(repo: Path) -> None:
    first = Run(repo)
    assert first.apps == ['legacy', 'shop']
    assert first.asked  # libgit2 decided
    second = Run(repo)
    assert second.apps == first.apps
    assert second.asked == []


@pytest.mark.parametrize('text', ('vendor/\nbuild/\n', ''))
def test_a_changed_gitignore_is_asked_again(repo: Path, text: str) -> None:
    Run(repo)
    write(repo / '.gitignore', text)
    again = Run(repo)
    assert again.asked
    expected = {
        '': ['copy', 'legacy', 'shop'],
        'vendor/\nbuild/\n': ['shop'],
    }[text]
    assert again.apps == expected
    assert Run(repo).apps == expected


def test_a_gitignore_in_a_subdirectory(repo: Path) -> None:
    Run(repo)
    write(repo / 'vendor/.gitignore', 'legacy/\n')
    assert Run(repo).apps == ['shop']
    (repo / 'vendor/.gitignore').unlink()
    assert Run(repo).apps == ['legacy', 'shop']


def test_info_exclude(repo: Path) -> None:
    Run(repo)
    write(repo / '.git/info/exclude', '# local\nvendor/\n')
    assert Run(repo).apps == ['shop']


def test_global_excludes_file(repo: Path, git_home: Path) -> None:
    Run(repo)
    write(git_home / '.config/git/ignore', 'vendor/\n')
    assert Run(repo).apps == ['shop']


def test_configured_excludes_file_is_watched(repo: Path, tmp_path: Path) -> None:
    excludes = write(tmp_path / 'my-excludes', '# nothing yet\n')
    git(repo, 'config', 'core.excludesFile', str(excludes))
    assert Run(repo).apps == ['legacy', 'shop']
    assert Run(repo).asked == []
    # the configuration is unchanged; only the file it names changes
    write(excludes, 'vendor/\n')
    assert Run(repo).apps == ['shop']


def test_new_directories_are_asked_about(repo: Path) -> None:
    Run(repo)
    add_app(repo, 'extra/blog')
    write(repo / 'extra/.gitignore', '')
    add_app(repo, 'build/another')
    again = Run(repo)
    assert again.apps == ['blog', 'legacy', 'shop']
    assert 'extra/blog' in again.asked
    assert Run(repo).asked == []


def test_damaged_memory_is_ignored(repo: Path) -> None:
    Run(repo)
    root = open_tree(str(repo)).stat_root
    assert root is not None
    with Cache(gitdir.cache_path(gitdir.locate(str(repo)))) as cache:
        cache._write(
            'INSERT OR REPLACE INTO stat_blobs VALUES (?, ?)',
            [(f'ignores\0{root}', b'not marshal')],
        )
    again = Run(repo)
    assert again.apps == ['legacy', 'shop']
    assert again.asked
