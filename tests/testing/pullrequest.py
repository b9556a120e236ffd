"""Pull-request scenarios for the report tests: real git repositories with
a ``main`` (the base) and a ``pr`` branch (the head), built with the real
git binary.  migmerge is not installed in them: like a forge's merge, git
merges as text."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration
from testing.shop import add_field
from testing.shop import alter_field
from testing.shop import CREATE
from testing.shop import LOCK_HEADER

APP = 'shop'
NAME = '0002_userprofile_name'
RUN_PYTHON = (
    '        migrations.RunPython(fill_names, migrations.RunPython.noop),\n'
)
FILL = (
    'def fill_names(apps, schema_editor):\n'
    "    apps.get_model('shop', 'UserProfile').objects.update(name='x')\n\n\n"
)


def _commit(repo: Path, message: str, when: int) -> None:
    # Fixed dates: the head commit's time names merge migrations.
    stamp = f'@{when} +0000'
    env = {**os.environ, 'GIT_AUTHOR_DATE': stamp, 'GIT_COMMITTER_DATE': stamp}
    subprocess.run(('git', 'add', '-A'), cwd=repo, check=True, env=env)
    subprocess.run(
        ('git', 'commit', '-q', '--no-verify', '-m', message),
        cwd=repo, check=True, env=env, capture_output=True,
    )


T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def base_project(repo: Path, *, lock: str | None = None) -> Path:
    """``shop`` with 0001_initial and 0002_userprofile_name on ``main``."""
    make_repo(repo)
    add_migration(
        repo, APP, '0001_initial', operations=CREATE,
        extra='    initial = True\n\n',
    )
    add_migration(repo, APP, NAME, [(APP, '0001_initial')], add_field('name'))
    if lock == 'max_migration':
        write(repo / APP / 'migrations/max_migration.txt', f'{NAME}\n')
    elif lock == 'sentry':
        write(repo / 'migrations_lockfile.txt', LOCK_HEADER + f'{APP}: {NAME}\n')
    _commit(repo, 'initial', T0)
    return repo


def on_branch(
        repo: Path, branch: str, start: str, when: int,
        change: Callable[[Path], object], message: str,
) -> None:
    git(repo, 'checkout', '-q', '-B', branch, start)
    change(repo)
    _commit(repo, message, when)


def migration(
        name: str, parent: str, operations: str, *, header: str = '',
        lock: str | None = None,
) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        add_migration(repo, APP, name, [(APP, parent)], operations, header=header)
        if lock == 'max_migration':
            write(repo / APP / 'migrations/max_migration.txt', f'{name}\n')
        elif lock == 'sentry':
            write(repo / 'migrations_lockfile.txt', LOCK_HEADER + f'{APP}: {name}\n')
    return change


def parallel(repo: Path, *, lock: str | None = None, head_ops: str | None = None,
             base_ops: str | None = None, head_header: str = '') -> Path:
    """main adds 0003_userprofile_age, pr adds 0003_userprofile_address."""
    base_project(repo, lock=lock)
    on_branch(
        repo, 'pr', 'main', T0 + 3600,
        migration(
            '0003_userprofile_address', NAME,
            head_ops if head_ops is not None else add_field('address'),
            header=head_header, lock=lock,
        ),
        'add address',
    )
    on_branch(
        repo, 'main', 'main', T0 + 1800,
        migration(
            '0003_userprofile_age', NAME,
            base_ops if base_ops is not None else
            add_field('age', 'models.IntegerField(default=0)'),
            lock=lock,
        ),
        'add age',
    )
    return repo


def scenario(name: str, repo: Path) -> Path:
    """Build one named scenario (the golden cases) in ``repo``."""
    if name == 'merge':
        return parallel(repo)
    if name == 'renumber':
        return parallel(repo)
    if name == 'flag':
        return parallel(
            repo,
            head_ops=alter_field('name', 'models.CharField(max_length=10)'),
            base_ops=alter_field('name', 'models.CharField(max_length=20)'),
        )
    if name == 'lockfile':
        return parallel(repo, lock='max_migration')
    if name == 'mixed':
        base_project(repo)
        on_branch(
            repo, 'pr', 'main', T0 + 3600,
            migration(
                '0003_userprofile_address', NAME,
                add_field('address') + RUN_PYTHON, header=FILL,
            ),
            'add address and fill names',
        )
        git(repo, 'checkout', '-q', 'main')
        return repo
    if name == 'clean':
        base_project(repo)
        on_branch(
            repo, 'pr', 'main', T0 + 3600,
            migration('0003_userprofile_address', NAME, add_field('address')),
            'add address',
        )
        git(repo, 'checkout', '-q', 'main')
        return repo
    raise ValueError(name)
