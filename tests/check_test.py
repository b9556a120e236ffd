from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.cache import Cache
from mergedriver.check import check_summary
from mergedriver.check import check_tree
from mergedriver.check import CheckSummary
from mergedriver.check import snapshot_key
from mergedriver.check import summary_from_json
from mergedriver.check import summary_to_json
from mergedriver.config import Config
from mergedriver.config import load_config
from mergedriver.git import location as gitdir
from mergedriver.git.trees import directory_tree
from mergedriver.git.trees import open_tree
from mergedriver.parsing.load import discover_files
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration

pytestmark = pytest.mark.usefixtures('git_home')

SWAPPED = (
    'from django.conf import settings\n'
    'from django.db import migrations\n'
    '\n'
    '\n'
    'class Migration(migrations.Migration):\n'
    '    dependencies = [\n'
    '        migrations.swappable_dependency(settings.TEAM_MODEL),\n'
    '        ("blog", "0001_initial"),\n'
    '    ]\n'
    '    operations = []\n'
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, 'shop', '0001_initial')
    add_migration(repo, 'shop', '0002_price', [('shop', '0001_initial')])
    add_migration(repo, 'blog', '0001_initial', [('shop', '0002_price')])
    commit_all(repo)
    return repo


def summary(
        repo: Path, *, index: bool = False, version: str | None = None,
) -> CheckSummary:
    tree = open_tree(str(repo), index=index)
    with Cache(tree.cache_path, version=version) as cache:
        return check_summary(tree, load_config(str(repo)), cache=cache)


def full(repo: Path, *, index: bool = False) -> CheckSummary:
    tree = open_tree(str(repo), index=index)
    return check_tree(tree, load_config(str(repo))).summary()


def test_second_run_is_answered_by_the_snapshot(repo: Path) -> None:
    first = summary(repo)
    second = summary(repo)
    assert not first.from_snapshot
    assert second.from_snapshot
    assert first == second == full(repo)
    assert first.migrations == 3
    assert [a.leaves for a in first.apps] == [
        ('0001_initial',), ('0002_price',),
    ]


def test_changed_file_is_seen(repo: Path) -> None:
    summary(repo)
    # 0002 no longer depends on 0001: two leaves in shop.
    add_migration(repo, 'shop', '0002_price', [])
    after = summary(repo)
    assert not after.from_snapshot
    assert after == full(repo)
    assert [p.kind for p in after.problems] == ['multiple-leaves']
    assert after.leaf_files == {
        'shop': (
            'shop/migrations/0001_initial.py',
            'shop/migrations/0002_price.py',
        ),
    }


def test_same_size_edit_within_the_same_second_is_seen(repo: Path) -> None:
    path = repo / 'shop/migrations/0002_price.py'
    summary(repo)
    before = os.stat(path)
    # Same length, same mtime: only the content (and ctime) differ.
    text = path.read_text()
    path.write_text(text.replace("'0001_initial'", "'0001_initiaX'"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = summary(repo)
    assert not after.from_snapshot
    assert [p.kind for p in after.problems] == ['missing-dependency']


def test_added_and_removed_files_are_seen(repo: Path) -> None:
    clean = summary(repo)
    added = add_migration(
        repo, 'shop', '0003_other', [('shop', '0001_initial')],
    )
    two_leaves = summary(repo)
    assert not two_leaves.from_snapshot
    assert two_leaves == full(repo)
    assert two_leaves.exit_status == 1
    assert two_leaves.apps[1].leaves == ('0002_price', '0003_other')
    added.unlink()
    back = summary(repo)
    assert back == clean
    assert back.from_snapshot  # the earlier answer, for the earlier files


def test_new_empty_package_is_seen(repo: Path) -> None:
    summary(repo)
    write(repo / 'news/models.py', '')
    write(repo / 'news/migrations/__init__.py', '')
    after = summary(repo)
    assert not after.from_snapshot
    assert [a.app for a in after.apps] == ['blog', 'news', 'shop']


def test_changed_configuration_is_seen(repo: Path) -> None:
    add_migration(repo, 'blog', '0002_team', [('blog', '0001_initial')])
    write(repo / 'blog/migrations/0002_team.py', SWAPPED)
    unconfigured = summary(repo)
    kinds = [p.kind for p in unconfigured.problems]
    assert kinds == ['unresolved-expression']
    write(
        repo / 'pyproject.toml',
        '[tool.migmerge.swappable]\nTEAM_MODEL = "shop.Team"\n',
    )
    configured = summary(repo)
    assert not configured.from_snapshot
    assert configured.problems == ()
    assert configured == full(repo)


def test_changed_parser_version_is_seen(repo: Path) -> None:
    summary(repo, version='parser-a')
    assert summary(repo, version='parser-a').from_snapshot
    assert not summary(repo, version='parser-b').from_snapshot


def test_key_covers_every_input(repo: Path) -> None:
    tree = open_tree(str(repo))
    config = Config()
    with Cache(tree.cache_path) as cache:
        found = discover_files(tree, config, cache)
    key = snapshot_key(config, found, 'v')
    assert snapshot_key(config, found, 'v') == key
    assert snapshot_key(config, found, 'w') != key
    assert snapshot_key(Config(exclude=('x',)), found, 'v') != key
    assert snapshot_key(
        Config(swappable={'AUTH_USER_MODEL': 'a.B'}), found, 'v',
    ) != key
    packages = dict(found.packages, news='news/migrations')
    assert snapshot_key(
        config, found.__class__(packages, found.readable, found.refused), 'v',
    ) != key
    fewer = found.__class__(found.packages, found.readable[1:], found.refused)
    assert snapshot_key(config, fewer, 'v') != key


def test_index_and_work_tree_are_told_apart(repo: Path) -> None:
    add_migration(repo, 'shop', '0003_other', [('shop', '0001_initial')])
    assert summary(repo, index=True).problems == ()
    assert summary(repo).exit_status == 1
    git(repo, 'add', '-A')
    staged = summary(repo, index=True)
    # Now the same files as the work tree: its answer is the right one.
    assert staged.exit_status == 1
    assert staged == full(repo, index=True)


def test_damaged_snapshot_is_recomputed(repo: Path) -> None:
    first = summary(repo)
    path = gitdir.cache_path(gitdir.locate(str(repo)))
    with Cache(path) as cache:
        tree = open_tree(str(repo))
        found = discover_files(tree, Config(), cache)
        cache.put_snapshot(snapshot_key(Config(), found, cache.version), b'{')
    again = summary(repo)
    assert not again.from_snapshot
    assert again == first


@pytest.mark.parametrize('data', [b'', b'[]', b'{"apps": 1}', b'\xff'])
def test_summary_from_bad_json(data: bytes) -> None:
    assert summary_from_json(data) is None


def test_summary_json_round_trip(repo: Path) -> None:
    add_migration(repo, 'shop', '0003_other', [('shop', '0001_initial')])
    result = full(repo)
    assert result.problems
    decoded = summary_from_json(summary_to_json(result))
    assert decoded == result
    assert decoded is not None and decoded.from_snapshot


@pytest.mark.parametrize('fmt', ['text', 'json'])
def test_cli_output_identical_from_snapshot(repo: Path, fmt: str) -> None:
    add_migration(repo, 'shop', '0003_other', [('shop', '0001_initial')])

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            (sys.executable, '-m', 'mergedriver', 'check', '--format', fmt),
            cwd=repo, capture_output=True, text=True,
        )
    first = run()
    second = run()
    assert first.returncode == second.returncode == 1
    assert first.stdout == second.stdout
    assert '0003_other' in first.stdout
    if fmt == 'text':
        assert '  leaf: shop/migrations/0003_other.py' in first.stdout


def test_without_a_cache_nothing_is_stored(tmp_path: Path) -> None:
    add_migration(tmp_path, 'shop', '0001_initial')
    add_migration(tmp_path, 'shop', '0002_a', [('shop', '0001_initial')])
    add_migration(tmp_path, 'shop', '0002_b', [('shop', '0001_initial')])
    tree = directory_tree(str(tmp_path))
    first = check_summary(tree, Config())
    second = check_summary(directory_tree(str(tmp_path)), Config())
    assert not first.from_snapshot and not second.from_snapshot
    assert first == second == check_tree(tree, Config()).summary()
    assert first.leaf_files == {
        'shop': ('shop/migrations/0002_a.py', 'shop/migrations/0002_b.py'),
    }
