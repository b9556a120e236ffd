from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mergedriver.errors import MigmergeError
from mergedriver.git import location as gitdir
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write


def _fast_and_libgit2(path: Path) -> tuple[gitdir.Location | None, gitdir.Location]:
    return gitdir._fast(str(path)), gitdir._from_libgit2(str(path))


@pytest.fixture
def clone(tmp_path: Path, git_home: Path) -> Path:
    repo = make_repo(tmp_path / 'clone')
    write(repo / 'shop/models.py', '')
    commit_all(repo)
    return repo


@pytest.mark.parametrize('where', ('', 'shop', 'shop/deeper/still'))
def test_plain_clone_is_found_without_libgit2(clone: Path, where: str) -> None:
    (clone / where).mkdir(parents=True, exist_ok=True)
    fast, slow = _fast_and_libgit2(clone / where)
    assert fast == slow == gitdir.Location(
        str(clone / '.git'), str(clone / '.git'), str(clone),
    )


def test_linked_work_tree_is_found_without_libgit2(clone: Path) -> None:
    git(clone, 'worktree', 'add', '-q', str(clone.parent / 'wt'), '-b', 'wt')
    fast, slow = _fast_and_libgit2(clone.parent / 'wt' / 'shop')
    assert fast == slow
    assert fast is not None
    assert fast.work_tree == str(clone.parent / 'wt')
    assert fast.common_dir == str(clone / '.git')
    assert fast.git_dir == str(clone / '.git' / 'worktrees' / 'wt')


def test_symlinked_start_resolves_like_libgit2(clone: Path) -> None:
    link = clone.parent / 'link'
    link.symlink_to(clone / 'shop')
    fast, slow = _fast_and_libgit2(link)
    assert fast == slow


def test_submodule_is_left_to_libgit2(clone: Path, tmp_path: Path) -> None:
    inner = make_repo(tmp_path / 'inner')
    commit_all(inner)
    git(
        clone, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q',
        str(inner), 'sub',
    )
    # the submodule's git dir sets core.worktree
    fast, slow = _fast_and_libgit2(clone / 'sub')
    assert fast is None
    assert gitdir.locate(str(clone / 'sub')) == slow
    assert slow.work_tree == str(clone / 'sub')


def test_moved_work_tree_is_left_to_libgit2(clone: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    git(clone, 'config', 'core.worktree', str(elsewhere))
    fast, slow = _fast_and_libgit2(clone)
    assert fast is None
    assert gitdir.locate(str(clone)) == slow
    assert slow.work_tree == str(elsewhere)


def test_bare_repository_has_no_work_tree(tmp_path: Path, git_home: Path) -> None:
    bare = tmp_path / 'bare.git'
    subprocess.run(('git', 'init', '-q', '--bare', str(bare)), check=True)
    for where in (bare, bare / 'refs'):
        fast, slow = _fast_and_libgit2(where)
        assert fast is None
        assert gitdir.locate(str(where)).work_tree is None


def test_bare_setting_is_read_as_git_reads_it(clone: Path) -> None:
    assert gitdir._fast(str(clone)) is not None  # bare = false
    git(clone, 'config', 'core.bare', 'true')
    assert gitdir._fast(str(clone)) is None
    assert gitdir.locate(str(clone)).work_tree is None


def test_environment_overrides_go_to_libgit2(
        clone: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('GIT_CEILING_DIRECTORIES', str(clone))
    assert gitdir._fast(str(clone / 'shop')) is None


def test_outside_any_repository(tmp_path: Path, git_home: Path) -> None:
    with pytest.raises(MigmergeError, match='not a git repository'):
        gitdir.locate(str(tmp_path))


def test_repository_opens_the_located_clone(clone: Path) -> None:
    git(clone, 'worktree', 'add', '-q', str(clone.parent / 'wt'), '-b', 'wt')
    repo = gitdir.repository(gitdir.locate(str(clone.parent / 'wt')))
    assert os.path.normpath(repo.workdir) == str(clone.parent / 'wt')
    assert repo.head.shorthand == 'wt'


def test_a_warm_check_never_loads_libgit2(clone: Path) -> None:
    write(clone / 'shop/__init__.py', '')
    write(clone / 'shop/migrations/__init__.py', '')
    write(
        clone / 'shop/migrations/0001_initial.py',
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n    operations = []\n',
    )
    write(clone / '.gitignore', 'build/\n')
    # Files changed in the last few seconds are not trusted by the caches
    # (their ctime cannot be set back): let them settle.
    time.sleep(3.2)
    probe = (
        'import sys\n'
        'from mergedriver import cli\n'
        'status = cli.main(["check"])\n'
        'print("pygit2" in sys.modules)\n'
        'raise SystemExit(status)\n'
    )
    runs = [
        subprocess.run(
            (sys.executable, '-c', probe), cwd=clone, capture_output=True,
            text=True,
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    # the first run asks libgit2 about ignored directories, the next one
    # answers from what the first remembered
    assert [r.stdout.split()[-1] for r in runs] == ['True', 'False']
