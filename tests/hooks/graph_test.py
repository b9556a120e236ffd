from __future__ import annotations

import sqlite3
import sysconfig
from pathlib import Path

import pytest

from hooks._graph import load_index_graph
from mergedriver.config import Config
from mergedriver.git.location import locate_clone
from mergedriver.git.trees import directory_tree
from mergedriver.graph.builder import build_graph
from mergedriver.graph.builder import graph_from_blob
from mergedriver.graph.builder import graph_to_blob
from mergedriver.parsing.load import load_migrations
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration

pytestmark = pytest.mark.usefixtures('git_home')


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, 'shop', '0001_initial')
    add_migration(repo, 'shop', '0002_price', [('shop', '0001_initial')])
    add_migration(repo, 'blog', '0001_initial', [('shop', '0002_price')])
    commit_all(repo)
    return repo


def graph_snapshots(repo: Path) -> int:
    db = sqlite3.connect(repo / '.git/migmerge/cache.sqlite3')
    try:
        (count,) = db.execute(
            "SELECT count(*) FROM snapshots WHERE key LIKE 'graph:%'",
        ).fetchone()
    finally:
        db.close()
    assert isinstance(count, int)
    return count


def fresh_build(repo: Path) -> object:
    index = load_index_graph(locate_clone(str(repo)))
    return build_graph(
        index.loaded.migrations, swappable=index.config.swappable,
    )


def test_second_load_reads_the_stored_graph(repo: Path) -> None:
    first = load_index_graph(locate_clone(str(repo)))
    assert graph_snapshots(repo) == 1
    second = load_index_graph(locate_clone(str(repo)))
    assert graph_snapshots(repo) == 1
    assert second == first
    assert second.graph == fresh_build(repo)


def test_staged_change_and_config_change_make_a_new_graph(repo: Path) -> None:
    load_index_graph(locate_clone(str(repo)))
    add_migration(repo, 'shop', '0003_other', [('shop', '0001_initial')])
    unstaged = load_index_graph(locate_clone(str(repo)))
    assert unstaged.graph.graph.conflicting_apps() == {}
    git(repo, 'add', '-A')
    staged = load_index_graph(locate_clone(str(repo)))
    assert staged.graph.graph.conflicting_apps() == {
        'shop': ['0002_price', '0003_other'],
    }
    assert graph_snapshots(repo) == 2
    write(
        repo / 'pyproject.toml',
        '[tool.migmerge.swappable]\nAUTH_USER_MODEL = "shop.User"\n',
    )
    configured = load_index_graph(locate_clone(str(repo)))
    assert configured.config.swappable == {'AUTH_USER_MODEL': 'shop.User'}
    assert graph_snapshots(repo) == 3
    assert configured.graph == fresh_build(repo)


def test_real_corpus_graph_survives_its_blob() -> None:
    tree = directory_tree(sysconfig.get_paths()['purelib'])
    loaded = load_migrations(tree, Config(), progress=False)
    result = build_graph(loaded.migrations, swappable=Config().swappable)
    assert len(result.graph.nodes) > 300
    assert result.graph.replacements and result.problems
    assert graph_from_blob(graph_to_blob(result), loaded.migrations) == result
