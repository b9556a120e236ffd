"""A one-app Django project (``shop.UserProfile``) in a real git clone with
migmerge installed: the end-to-end tests' and the pull-request report's
scenarios build their branches with these."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mergedriver.check import check_tree
from mergedriver.config import load_config
from mergedriver.git.trees import open_tree
from mergedriver.integration import install as gitsetup
from testing import django as djangoproc
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration

APP = 'shop'
MIGMERGE = str(Path(sys.executable).parent / 'migmerge')


def add_field(name: str, field: str = "models.TextField(default='')") -> str:
    return (
        '        migrations.AddField(\n'
        "            model_name='userprofile',\n"
        f"            name='{name}',\n"
        f'            field={field},\n'
        '        ),\n'
    )


def alter_field(name: str, field: str) -> str:
    return (
        '        migrations.AlterField(\n'
        "            model_name='userprofile',\n"
        f"            name='{name}',\n"
        f'            field={field},\n'
        '        ),\n'
    )


CREATE = (
    '        migrations.CreateModel(\n'
    "            name='UserProfile',\n"
    '            fields=[\n'
    "                ('id', models.AutoField(primary_key=True)),\n"
    '            ],\n'
    '        ),\n'
)


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def new_files(repo: Path) -> list[str]:
    return sorted(
        line[3:] for line in git(repo, 'status', '--porcelain').splitlines()
    )


def merge_open(repo: Path) -> bool:
    return (repo / '.git/MERGE_HEAD').exists()


def make_project(repo: Path, *, lock: str | None = None) -> Path:
    """An app with 0001_initial and 0002_userprofile_name, migmerge
    installed and .gitattributes committed."""
    make_repo(repo)
    add_migration(repo, APP, '0001_initial', operations=CREATE, extra='    initial = True\n\n')
    add_migration(repo, APP, '0002_userprofile_name', [(APP, '0001_initial')], add_field('name'))
    if lock == 'max_migration':
        write(repo / APP / 'migrations/max_migration.txt', '0002_userprofile_name\n')
    elif lock == 'sentry':
        write(repo / 'migrations_lockfile.txt', LOCK_HEADER + f'{APP}: 0002_userprofile_name\n')
    gitsetup.install(str(repo))
    commit_all(repo, 'initial', hooks=False)
    return repo


LOCK_HEADER = (
    'Django migrations lock file. This helps us avoid migration conflicts on '
    'master.\nIf you have a conflict in this file, it means that someone has '
    'committed a migration\nahead of you.\n\n'
)


def branch_with(
        repo: Path, branch: str, migrations: Sequence[tuple[str, str, str]],
        *, lock: str | None = None, start: str = 'main',
) -> None:
    """Commit ``(name, depends_on, operations)`` migrations on ``branch``."""
    git(repo, 'checkout', '-q', '-B', branch, start)
    for name, parent, operations in migrations:
        add_migration(repo, APP, name, [(APP, parent)], operations)
        if lock == 'max_migration':
            write(repo / APP / 'migrations/max_migration.txt', f'{name}\n')
        elif lock == 'sentry':
            write(repo / 'migrations_lockfile.txt', LOCK_HEADER + f'{APP}: {name}\n')
        commit_all(repo, f'add {name}', hooks=False)


def assert_migrates(repo: Path, columns: Sequence[str]) -> None:
    """``migrate`` from an empty SQLite database; the table's columns."""
    settings_dir = repo.parent / 'settings'
    settings_dir.mkdir(exist_ok=True)
    settings = djangoproc.write_settings(settings_dir, installed_apps=[APP])
    result = djangoproc.run(
        '''
from django.core.management import call_command
from django.db import connection
call_command('migrate', verbosity=0)
with connection.cursor() as cursor:
    result = sorted(
        c.name for c in
        connection.introspection.get_table_description(cursor, 'shop_userprofile')
    )
''',
        settings=settings, paths=[settings_dir, repo],
    )
    assert result == sorted(['id', *columns])


def assert_one_leaf(repo: Path) -> None:
    result = check_tree(open_tree(str(repo)), load_config(str(repo)))
    assert result.problems == ()
    assert all(len(app.leaves) == 1 for app in result.apps), result.apps


# manage.py and settings of the project, for a real `manage.py migrate`.
MANAGE_PY = '''\
import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

SETTINGS_PY = '''\
import os
BASE = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = 'e2e'
INSTALLED_APPS = ['shop']
DATABASES = {'default': {
    'ENGINE': 'django.db.backends.sqlite3',
    'NAME': os.path.join(BASE, 'db.sqlite3'),
}}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
USE_TZ = True
'''
