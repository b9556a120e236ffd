"""An excludes file named only by ``GIT_CONFIG_GLOBAL`` (git 2.32+ reads
that file in place of ``~/.gitconfig``; libgit2 does not know the variable):
migmerge ignores what git ignores.  ``check`` does not walk a directory only
that file ignores, and ``migrations-not-ignored`` reports a migration
package only that file hides.  Real git; migmerge in subprocesses (the
libgit2 setting is per process)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testing.git import commit_all
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration

BIN = Path(sys.executable).parent


def run(repo: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=repo, capture_output=True, text=True, env=env,
    )


def test_excludes_named_only_by_git_config_global(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, 'shop', '0001_initial')
    commit_all(repo, 'shop')
    add_migration(repo, 'vendor/legacy', '0001_initial')
    add_migration(repo, 'blog', '0001_initial')
    write(tmp_path / 'global/ignore', 'vendor/\nblog/migrations/\n')
    write(
        tmp_path / 'global/config',
        f'[core]\n\texcludesFile = {tmp_path / "global/ignore"}\n',
    )
    env = {**os.environ, 'GIT_CONFIG_GLOBAL': str(tmp_path / 'global/config')}
    # git itself ignores both
    ignored = run(repo, 'git', 'check-ignore', 'vendor/legacy', 'blog/migrations/', env=env)
    assert ignored.stdout.split() == ['vendor/legacy', 'blog/migrations/']
    assert not (git_home / '.gitconfig').exists()

    # check: vendor/ is not walked (as without the variable, where git
    # would not ignore it, it is)
    found = run(repo, str(BIN / 'migmerge'), 'check', env=env)
    assert found.stdout == '2 migrations in 2 apps: one leaf per app, no problems\n'
    without = {k: v for k, v in env.items() if k != 'GIT_CONFIG_GLOBAL'}
    found = run(repo, str(BIN / 'migmerge'), 'check', env=without)
    assert found.stdout == '3 migrations in 3 apps: one leaf per app, no problems\n'

    # the hook reports the migrations package the global excludes hide
    hook = run(repo, str(BIN / 'migmerge-migrations-not-ignored'), env=env)
    assert hook.returncode == 1
    assert hook.stdout == (
        f"{tmp_path / 'global/ignore'}:2: 'blog/migrations/' ignores the "
        f'migration package blog/migrations/; migrations must be committed\n'
    )
