"""What counts as an app: a package that only carries migrations is one
(Django loads it from INSTALLED_APPS), an Alembic directory and a
``migrations`` package of plain code are not, and ``check`` names every
``migrations`` package it does not take.  Real git, the real hook, real
Django as the oracle."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mergedriver.discovery.packages import defines_migration_class
from mergedriver.integration import install as gitsetup
from testing import django as djangoproc
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import migration_source

MIGMERGE = str(Path(sys.executable).parent / 'migmerge')
APP = 'shipping'

CREATE = (
    '        migrations.CreateModel(\n'
    "            name='Method',\n"
    '            fields=[\n'
    "                ('id', models.AutoField(primary_key=True)),\n"
    '            ],\n'
    '        ),\n'
)


def add_field(name: str) -> str:
    return (
        '        migrations.AddField(\n'
        "            model_name='method',\n"
        f"            name='{name}',\n"
        '            field=models.IntegerField(default=0),\n'
        '        ),\n'
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--no-verify', '-m', message)


def project(repo: Path) -> Path:
    """An app that is only a package with migrations (no apps.py, no
    models), next to an Alembic tree, a plain-code ``migrations`` package
    and an excluded app."""
    make_repo(repo)
    write(repo / APP / '__init__.py', '')
    write(repo / APP / 'migrations/__init__.py', '')
    write(
        repo / APP / 'migrations/0001_initial.py',
        migration_source(operations=CREATE, extra='    initial = True\n'),
    )
    # Alembic: no __init__.py, env.py and versions/
    write(repo / 'alembic_db/migrations/env.py', 'from alembic import context\n')
    write(
        repo / 'alembic_db/migrations/versions/1a2b_create.py',
        'revision = "1a2b"\ndown_revision = None\n\n\ndef upgrade():\n    pass\n',
    )
    # a package of plain code that happens to be named migrations
    write(repo / 'tools/__init__.py', '')
    write(repo / 'tools/migrations/__init__.py', '')
    write(
        repo / 'tools/migrations/helpers.py',
        'class MigrationHelper(object):\n    pass\n\n\n'
        'class Migration(dict):\n    pass\n',
    )
    # an app the configuration excludes
    write(repo / 'legacy/old/__init__.py', '')
    write(repo / 'legacy/old/models.py', '')
    write(repo / 'legacy/old/migrations/__init__.py', '')
    write(repo / 'legacy/old/migrations/0001_initial.py', migration_source())
    write(repo / 'setup.cfg', '[migmerge]\nexclude = legacy/old\n')
    write(repo / '.gitignore', '__pycache__/\n')
    gitsetup.install(str(repo))
    commit_all(repo, 'initial')
    return repo


def check_json(repo: Path) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        (MIGMERGE, 'check', '--format', 'json'), cwd=repo,
        capture_output=True, text=True,
    )
    assert proc.stderr == ''
    return proc.returncode, json.loads(proc.stdout)


SKIPPED = [
    {'path': 'legacy/old/migrations', 'why': 'excluded by the exclude setting'},
    {
        'path': 'tools/migrations',
        'why': 'not an app: no module defines a Migration class',
    },
]


def test_migrations_only_app_is_found_merged_and_migrates(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = project(tmp_path / 'repo')
    for branch, field in (('width', 'width'), ('main', 'depth')):
        git(repo, 'checkout', '-q', '-B', branch, 'main')
        write(
            repo / APP / f'migrations/0002_method_{field}.py',
            migration_source([(APP, '0001_initial')], add_field(field)),
        )
        commit_all(repo, field)

    status, document = check_json(repo)
    assert status == 0
    assert document['apps'] == [{
        'app': APP, 'path': f'{APP}/migrations', 'migrations': 2,
        'leaves': ['0002_method_depth'], 'conflict': False,
    }]
    assert document['skipped'] == SKIPPED
    text = subprocess.run(
        (MIGMERGE, 'check'), cwd=repo, capture_output=True, text=True,
    ).stdout.splitlines()
    assert text[:2] == [
        'legacy/old/migrations: skipped: excluded by the exclude setting',
        'tools/migrations: skipped: not an app: no module defines a '
        'Migration class',
    ]

    # without migmerge this merge is clean for git and breaks `migrate`;
    # the hook writes the merge migration
    proc = subprocess.run(
        ('git', 'merge', '--no-edit', 'width'), cwd=repo,
        capture_output=True, text=True,
    )
    merge = '0003_merge_0002_method_depth_0002_method_width'
    assert f'wrote {APP}/migrations/{merge}.py' in proc.stderr
    git(repo, 'commit', '-q', '--no-edit')
    status, document = check_json(repo)
    assert status == 0
    assert document['apps'][0]['leaves'] == [merge]  # type: ignore[index]

    settings_dir = tmp_path / 'settings'
    settings_dir.mkdir()
    settings = djangoproc.write_settings(settings_dir, installed_apps=[APP])
    columns = djangoproc.run(
        '''
from django.core.management import call_command
from django.db import connection
call_command('migrate', verbosity=0)
with connection.cursor() as cursor:
    result = sorted(
        c.name for c in
        connection.introspection.get_table_description(cursor, 'shipping_method')
    )
''',
        settings=settings, paths=[settings_dir, repo],
    )
    assert columns == ['depth', 'id', 'width']


def test_check_reports_the_leaves_of_a_migrations_only_app(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = project(tmp_path / 'repo')
    for name in ('0002_a', '0002_b'):
        write(
            repo / APP / f'migrations/{name}.py',
            migration_source([(APP, '0001_initial')]),
        )
    status, document = check_json(repo)
    assert status == 1
    assert document['apps'][0]['leaves'] == ['0002_a', '0002_b']  # type: ignore[index]
    assert document['problems'][0]['kind'] == 'multiple-leaves'  # type: ignore[index]
    # Django agrees: the app is loaded, with two leaves
    settings_dir = tmp_path / 'settings'
    settings_dir.mkdir()
    settings = djangoproc.write_settings(settings_dir, installed_apps=[APP])
    graphs = djangoproc.loader_graphs(
        settings=settings, paths=[settings_dir, repo],
    )
    assert graphs[0]['conflicts'] == {APP: ['0002_a', '0002_b']}


def test_defines_migration_class() -> None:
    assert defines_migration_class(b'class Migration(migrations.Migration):\n')
    assert defines_migration_class(
        b'from x import BaseMigration\n\nclass Migration(BaseMigration):\n',
    )
    assert defines_migration_class(
        b'class Migration(\n    django.db.migrations.Migration,\n):\n',
    )
    assert not defines_migration_class(b'class Migration(dict):\n')
    assert not defines_migration_class(b'class MigrationHelper(Migration):\n')
    assert not defines_migration_class(b'    class Migration(Migration):\n')
    assert not defines_migration_class(b'# class Migration(Migration):\n')
    assert not defines_migration_class(b'x = 1\n')


def test_an_unreadable_module_is_reported_not_dropped(
        tmp_path: Path, git_home: Path,
) -> None:
    """A migrations-only app whose module migmerge cannot read (a symbolic
    link, a file over 2 MB) is still an app: Django would load it, and
    check reports the module as unusable instead of losing the package."""
    repo = make_repo(tmp_path / 'repo')
    write(repo / 'target.py', migration_source())
    for app in ('linked', 'huge'):
        write(repo / app / '__init__.py', '')
        write(repo / app / 'migrations/__init__.py', '')
    (repo / 'linked/migrations/0001_initial.py').symlink_to('../../target.py')
    write(
        repo / 'huge/migrations/0001_initial.py',
        migration_source() + '#' * (2 * 1024 * 1024),
    )
    status, document = check_json(repo)
    assert status == 2
    assert [a['app'] for a in document['apps']] == ['huge', 'linked']  # type: ignore[index]
    problems = document['problems']
    assert isinstance(problems, list)
    assert sorted((p['kind'], p['file']) for p in problems) == [
        ('parse-error', 'huge/migrations/0001_initial.py'),
        ('parse-error', 'linked/migrations/0001_initial.py'),
    ]
    assert document['skipped'] == []
