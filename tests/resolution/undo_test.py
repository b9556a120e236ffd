"""After ``resolve --strategy renumber`` during an open merge, the printed
undo commands work for each file's origin (HEAD or MERGE_HEAD): run as
printed, they give back the work tree as it was.  Real git."""
from __future__ import annotations

import io
import shlex
import subprocess
from pathlib import Path

from mergedriver.resolution.resolve import resolve
from testing.git import git
from testing.git import make_repo
from testing.migrations import add_migration
from testing.shop import add_field
from testing.shop import APP
from testing.shop import CREATE


def snapshot(repo: Path) -> dict[str, str]:
    files = sorted((repo / APP / 'migrations').glob('*.py'))
    state = {str(p.relative_to(repo)): p.read_text() for p in files}
    state['status'] = git(repo, 'status', '--porcelain')
    return state


def test_undo_commands_run_as_printed_restore_the_work_tree(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, APP, '0001_initial', operations=CREATE, extra='    initial = True\n\n')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'initial')
    git(repo, 'checkout', '-q', '-b', 'feature')
    add_migration(
        repo, APP, '0002_userprofile_address', [(APP, '0001_initial')],
        add_field('address'),
    )
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'address')
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, APP, '0002_userprofile_age', [(APP, '0001_initial')], add_field('age'))
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'age')
    git(repo, 'merge', '-q', '--no-commit', '--no-ff', 'feature')
    assert (repo / '.git/MERGE_HEAD').exists()
    before = snapshot(repo)

    out = io.StringIO()
    # main's migration is published (the mainline): feature's one moves
    assert resolve(str(repo), strategy='renumber', out=out) == 0
    printed = out.getvalue()
    moved = f'{APP}/migrations/0002_userprofile_address.py'
    assert f'  git checkout MERGE_HEAD -- {moved}\n' in printed
    assert snapshot(repo) != before

    commands = [
        line.strip() for line in printed.splitlines()
        if line.startswith(('  rm ', '  git checkout '))
    ]
    assert commands
    for command in commands:
        proc = subprocess.run(
            shlex.split(command), cwd=repo, capture_output=True, text=True,
        )
        assert proc.returncode == 0, (command, proc.stderr)
    assert snapshot(repo) == before
