"""The applier (all or nothing, atomic, refuses uncommitted edits) and the
rollback's set-aside of files."""
from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from mergedriver.resolution.apply import apply_plan
from mergedriver.resolution.apply import ApplyError
from mergedriver.resolution.plan import CreateFile
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import RewriteFile
from mergedriver.resolution.plan import Rollback
from mergedriver.resolution.rollback import files_aside
from mergedriver.resolution.rollback import restore_leftovers
from mergedriver.resolution.rollback import RollbackFailed
from mergedriver.resolution.rollback import run_rollback
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write


@pytest.fixture
def repo(tmp_path: Path, git_home: Path) -> Path:
    repo = make_repo(tmp_path / 'repo')
    write(repo / 'a.py', 'A\n')
    write(repo / 'b.py', 'B\n')
    write(repo / 'tool.sh', '#!/bin/sh\n')
    os.chmod(repo / 'tool.sh', 0o755)
    commit_all(repo)
    return repo


def _tree(repo: Path) -> dict[str, str]:
    return {
        p.name: p.read_text() for p in repo.iterdir() if p.is_file()
    }


def test_applies_everything_and_stages(repo: Path) -> None:
    plan = Plan('renumber', (
        CreateFile('new/c.py', 'C\n'),
        RewriteFile('a.py', 'A\n', 'A2\n'),
        RenameFile('tool.sh', 'tool2.sh', '#!/bin/sh\n', '#!/bin/sh\n# x\n'),
    ))
    applied = apply_plan(str(repo), plan, staged=True)
    assert applied.written == ('new/c.py', 'a.py', 'tool2.sh')
    assert applied.removed == ('tool.sh',)
    assert (repo / 'new' / 'c.py').read_text() == 'C\n'
    assert (repo / 'a.py').read_text() == 'A2\n'
    assert not (repo / 'tool.sh').exists()
    # The file mode follows the rename.
    assert os.stat(repo / 'tool2.sh').st_mode & stat.S_IXUSR
    assert sorted(git(repo, 'status', '--porcelain', '--no-renames').splitlines()) == [
        'A  new/c.py', 'A  tool2.sh', 'D  tool.sh', 'M  a.py',
    ]
    # No temp files left behind.
    assert not [*repo.rglob('*.migmerge-tmp')]


def test_validation_fails_as_a_whole(repo: Path) -> None:
    before = _tree(repo)
    plan = Plan('merge', (
        RewriteFile('a.py', 'A\n', 'A2\n'),
        CreateFile('b.py', 'exists\n'),
        RewriteFile('tool.sh', 'stale\n', 'x\n'),
        RenameFile('gone.py', 'c.py', 'G\n', 'G\n'),
    ))
    with pytest.raises(ApplyError) as excinfo:
        apply_plan(str(repo), plan)
    assert str(excinfo.value).splitlines() == [
        'b.py:1: already exists; not overwritten',
        'tool.sh:1: changed since the plan was made; run again',
        'gone.py:1: no longer exists',
    ]
    assert _tree(repo) == before


@pytest.mark.parametrize(
    ('prepare', 'why'),
    (
        (lambda r: write(r / 'a.py', 'A\n# edit\n'), 'has uncommitted edits'),
        (
            lambda r: (write(r / 'a.py', 'A\n# e\n'), git(r, 'add', 'a.py')),
            'has staged but uncommitted edits',
        ),
    ),
)
def test_refuses_uncommitted_edits_unless_forced(
        repo: Path, prepare: object, why: str,
) -> None:
    prepare(repo)  # type: ignore[operator]
    text = (repo / 'a.py').read_text()
    plan = Plan('merge', (RewriteFile('a.py', text, 'new\n'),))
    with pytest.raises(ApplyError) as excinfo:
        apply_plan(str(repo), plan)
    assert str(excinfo.value) == (
        f'a.py:1: {why}; commit or stash them, or pass --force'
    )
    apply_plan(str(repo), plan, force=True)
    assert (repo / 'a.py').read_text() == 'new\n'


def test_untracked_file_is_not_touched(repo: Path) -> None:
    write(repo / 'u.py', 'U\n')
    plan = Plan('merge', (RewriteFile('u.py', 'U\n', 'V\n'),))
    with pytest.raises(ApplyError, match='u.py:1: is not committed'):
        apply_plan(str(repo), plan)


def test_a_failing_step_undoes_the_earlier_ones(repo: Path) -> None:
    before = _tree(repo)
    plan = Plan('renumber', (
        RewriteFile('a.py', 'A\n', 'A2\n'),
        RenameFile('b.py', 'b2.py', 'B\n', 'B2\n'),
        # Passes validation (nothing exists there) but cannot be written:
        # its directory would be a file.
        CreateFile('a.py/c.py', 'C\n'),
    ))
    with pytest.raises(OSError):
        apply_plan(str(repo), plan)
    assert _tree(repo) == before
    assert git(repo, 'status', '--porcelain') == ''


def test_files_aside_are_restored_on_failure(repo: Path) -> None:
    git_dir = repo / '.git'
    with pytest.raises(KeyboardInterrupt):
        with files_aside(str(repo), str(git_dir), ['a.py', 'missing.py']):
            assert not (repo / 'a.py').exists()
            raise KeyboardInterrupt
    assert (repo / 'a.py').read_text() == 'A\n'
    assert not [p for p in git_dir.iterdir() if p.name.startswith('migmerge')]


def test_leftovers_of_a_killed_run_are_restored(repo: Path) -> None:
    git_dir = repo / '.git'
    aside = files_aside(str(repo), str(git_dir), ['b.py'])
    aside.__enter__()  # never exited: as if the process was killed
    assert not (repo / 'b.py').exists()
    assert restore_leftovers(str(repo), str(git_dir)) == ['b.py']
    assert (repo / 'b.py').read_text() == 'B\n'


def test_rollback_command_sees_the_files_aside_and_fails_cleanly(
        repo: Path,
) -> None:
    script = (
        'import os, sys; print("a.py there:", os.path.exists("a.py")); '
        'print(sys.argv[1:]); sys.exit(3)'
    )
    rollback = Rollback(
        app='shop', target='0002_x',
        argv=(sys.executable, '-c', script, 'shop', '0002_x'),
        moved=(('shop', '0003_y'),), aside=('a.py',),
    )
    out = io.StringIO()
    with pytest.raises(RollbackFailed, match='exit status 3'):
        run_rollback(str(repo), str(repo / '.git'), rollback, out=out)
    assert "a.py there: False\n['shop', '0002_x']\n" in out.getvalue()
    assert (repo / 'a.py').read_text() == 'A\n'
