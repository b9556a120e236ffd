"""The same change on both branches is no collision: each operation kind
Django applies twice without effect, written differently on each branch
(keyword order, quotes, positional arguments), is merged, and Django
migrates both orders to the same tables.  Identical AddField and AddIndex
still collide: the second one fails on the database.  Real git, real
Django (SQLite)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from mergedriver.operations import REPEATABLE_OPS
from mergedriver.resolution.resolve import resolve
from testing import django as djangoproc
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import migration_source

CREATE = '''\
        migrations.CreateModel(
            name='Group',
            fields=[('id', models.AutoField(primary_key=True))],
        ),
        migrations.CreateModel(
            name='Item',
            fields=[
                ('id', models.AutoField(primary_key=True)),
                ('name', models.CharField(max_length=10)),
                ('rank', models.IntegerField(default=0)),
                ('group', models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, to='{app}.group',
                )),
            ],
        ),
'''

# kind -> (branch one's operation, branch two's: the same, written otherwise)
REPEATED = {
    'AlterField': (
        "migrations.AlterField(model_name='item', name='name', "
        'field=models.CharField(max_length=20, db_index=True))',
        'migrations.AlterField("item", "name", '
        'models.CharField(db_index=True, max_length=20))',
    ),
    'AlterUniqueTogether': (
        "migrations.AlterUniqueTogether(name='item', "
        "unique_together={('name', 'rank')})",
        'migrations.AlterUniqueTogether(unique_together=[("name", "rank")], '
        'name="item")',
    ),
    'AlterIndexTogether': (
        "migrations.AlterIndexTogether(name='item', "
        "index_together={('name', 'rank')})",
        'migrations.AlterIndexTogether("item", {("name", "rank")})',
    ),
    'AlterModelOptions': (
        "migrations.AlterModelOptions(name='item', "
        "options={'ordering': ['name'], 'verbose_name': 'thing'})",
        'migrations.AlterModelOptions(name="item", '
        'options={"verbose_name": "thing", "ordering": ("name",)})',
    ),
    'AlterModelTable': (
        "migrations.AlterModelTable(name='item', table='custom_items')",
        'migrations.AlterModelTable("item", "custom_items")',
    ),
    'AlterModelTableComment': (
        "migrations.AlterModelTableComment(name='item', table_comment='x')",
        'migrations.AlterModelTableComment(table_comment="x", name="item")',
    ),
    'AlterModelManagers': (
        "migrations.AlterModelManagers(name='item', "
        "managers=[('things', models.Manager())])",
        'migrations.AlterModelManagers("item", [("things", models.Manager())])',
    ),
    'AlterOrderWithRespectTo': (
        "migrations.AlterOrderWithRespectTo(name='item', "
        "order_with_respect_to='group')",
        'migrations.AlterOrderWithRespectTo("item", "group")',
    ),
}

NOT_REPEATABLE = {
    'AddField': (
        "migrations.AddField(model_name='item', name='size', "
        'field=models.IntegerField(default=0))',
        'migrations.AddField("item", "size", models.IntegerField(default=0))',
    ),
    'AddIndex': (
        "migrations.AddIndex(model_name='item', "
        "index=models.Index(fields=['rank'], name='item_rank'))",
        'migrations.AddIndex("item", '
        'models.Index(name="item_rank", fields=["rank"]))',
    ),
}

HEADER = 'import django.db.models.deletion\n'

# Migrate two databases, one per order of the branches, then the rest;
# each database's schema (table and index SQL) and the migrations applied.
MIGRATE_BOTH_ORDERS = '''
from django.core.management import call_command
from django.db import connections
result = {'schemas': [], 'errors': {}}
for database, first in (('default', '0002_one'), ('other', '0002_two')):
    for app in payload['apps']:
        try:
            call_command('migrate', app, first, database=database, verbosity=0)
            call_command('migrate', app, database=database, verbosity=0)
        except Exception as exc:
            result['errors'].setdefault(app, []).append(type(exc).__name__)
    with connections[database].cursor() as cursor:
        cursor.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name != 'django_migrations' "
            "ORDER BY type, name"
        )
        result['schemas'].append(cursor.fetchall())
'''


def app_name(kind: str) -> str:
    return kind.lower()


def project(repo: Path, cases: dict[str, tuple[str, str]]) -> Path:
    """One app per kind; branch ``one`` and branch ``two`` each add
    ``0002_<branch>`` with that kind's operation, and ``two`` is merged into
    ``one`` by plain git (no driver): two leaves per app."""
    make_repo(repo)
    for kind in cases:
        app = app_name(kind)
        write(repo / app / '__init__.py', '')
        write(repo / app / 'models.py', '')
        write(repo / app / 'migrations/__init__.py', '')
        write(
            repo / app / 'migrations/0001_initial.py',
            migration_source(
                operations=CREATE.format(app=app), header=HEADER,
                extra='    initial = True\n',
            ),
        )
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'initial')
    for index, branch in enumerate(('one', 'two')):
        git(repo, 'checkout', '-q', '-b', branch, 'main')
        for kind, operations in cases.items():
            app = app_name(kind)
            write(
                repo / app / f'migrations/0002_{branch}.py',
                migration_source(
                    [(app, '0001_initial')],
                    f'        {operations[index]},\n',
                ),
            )
        git(repo, 'add', '-A')
        git(repo, 'commit', '-q', '-m', branch)
    git(repo, 'checkout', '-q', 'one')
    git(repo, 'merge', '-q', '--no-edit', 'two')
    return repo


def run_resolve(repo: Path, **kwargs: object) -> tuple[int, str]:
    out = io.StringIO()
    status = resolve(str(repo), out=out, **kwargs)  # type: ignore[arg-type]
    return status, out.getvalue()


def migrate_both_orders(
        tmp_path: Path, repo: Path, apps: list[str],
) -> dict[str, object]:
    settings_dir = tmp_path / 'settings'
    settings_dir.mkdir()
    settings = djangoproc.write_settings(
        settings_dir, installed_apps=apps,
        DATABASES={
            name: {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}
            for name in ('default', 'other')
        },
    )
    result: dict[str, object] = djangoproc.run(
        MIGRATE_BOTH_ORDERS, settings=settings, paths=[settings_dir, repo],
        payload={'apps': apps},
    )
    return result


def test_every_repeatable_kind_is_tested() -> None:
    assert set(REPEATED) == REPEATABLE_OPS


def test_identical_operations_are_merged_and_migrate_in_either_order(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = project(tmp_path / 'repo', REPEATED)
    status, output = run_resolve(repo)
    assert status == 0, output
    apps = sorted(app_name(kind) for kind in REPEATED)
    for app in apps:
        merge = repo / app / 'migrations/0003_merge_0002_one_0002_two.py'
        assert merge.exists(), output
    result = migrate_both_orders(tmp_path, repo, apps)
    assert result['errors'] == {}
    schemas = result['schemas']
    assert isinstance(schemas, list)
    assert schemas[0] == schemas[1]
    assert any('custom_items' in str(row) for row in schemas[0])


@pytest.mark.parametrize('kind', sorted(NOT_REPEATABLE))
def test_identical_add_field_and_add_index_still_collide(
        tmp_path: Path, git_home: Path, kind: str,
) -> None:
    repo = project(tmp_path / 'repo', {kind: NOT_REPEATABLE[kind]})
    app = app_name(kind)
    status, output = run_resolve(repo)
    assert status == 1
    assert f'{app}/migrations/0002_one.py:' in output
    assert f'{app}/migrations/0002_two.py:' in output
    if kind == 'AddIndex':
        # Django agrees: with both applied, the second one fails.  (SQLite
        # rebuilds the table for AddField and takes it twice; PostgreSQL
        # refuses the second column, which no test here can run.)
        status, output = run_resolve(repo, strategy='merge')
        assert status == 0, output
        result = migrate_both_orders(tmp_path, repo, [app])
        assert result['errors'] == {
            app: ['OperationalError', 'OperationalError'],
        }


def test_arguments_are_canonical_in_both_parsers_and_the_cache() -> None:
    from mergedriver.cache import info_from_json
    from mergedriver.cache import info_to_json
    from mergedriver.parsing import ast_frontend
    from mergedriver.parsing import libcst_frontend

    operations = ''.join(
        f'        {one},\n        {two},\n'
        for one, two in REPEATED.values()
    ) + "        migrations.AlterModelOptions('item', {'ordering': ORDER}),\n"
    source = migration_source(operations=operations).encode()
    identity = {'app_label': 'a', 'name': '0002_x', 'path': 'a/m/0002_x.py'}
    for parse in (ast_frontend.parse_migration, libcst_frontend.parse_migration):
        info = parse(source, **identity)
        back = info_from_json(info_to_json(info), **identity)
        ops = back.operations
        assert [op.arguments for op in ops] == [
            op.arguments for op in info.operations
        ]
        for one, two in zip(ops[0:-1:2], ops[1:-1:2]):
            assert one.arguments is not None
            assert one.arguments == two.arguments, one.kind
        assert ops[-1].arguments is None  # ORDER is not known statically
