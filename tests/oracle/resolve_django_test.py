"""``migmerge resolve`` against real Django: the merge migration equals what
``makemigrations --merge`` writes for the same repository, and a renumbered
chain (with a database rollback) migrates cleanly.

Django runs in subprocesses (``manage.py``) with this virtualenv's Python;
the test process never imports it.  Few, batched Django calls.
"""
from __future__ import annotations

import datetime
import io
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.config import Config
from mergedriver.resolution.resolve import resolve
from mergedriver.resolution.rollback import approve
from testing.git import commit_all
from testing.git import git
from testing.git import write
from testing.project import ADD_FIELD
from testing.project import INITIAL
from testing.project import MANAGE
from testing.project import manage
from testing.project import migration_body
from testing.project import OPERATION
from testing.project import SETTINGS


def _project(root: Path, apps: list[str]) -> Path:
    root.mkdir()
    git(root, 'init', '-q', '-b', 'main')
    write(root / 'oracle_settings.py', SETTINGS.format(apps=apps))
    write(root / 'manage.py', MANAGE)
    write(root / '.gitignore', 'db.sqlite3\n__pycache__/\n')
    argv = (sys.executable, 'manage.py', 'migrate', '{app}', '{target}')
    write(
        root / 'setup.cfg',
        f'[migmerge]\nrollback_command = {shlex.join(argv)}\n',
    )
    approve(str(root / '.git'), argv)  # as `migmerge approve-rollback` does
    return root


def _models(model: str, fields: list[str]) -> str:
    lines = ''.join(f'    {f} = models.IntegerField(default=0)\n' for f in fields)
    return (
        'from django.db import models\n\n\n'
        f'class {model}(models.Model):\n'
        '    name = models.CharField(max_length=100)\n'
        f'{lines}'
    )


def _app(root: Path, app: str, model: str, fields: list[str]) -> None:
    write(root / app / '__init__.py', '')
    write(root / app / 'migrations' / '__init__.py', '')
    write(root / app / 'models.py', _models(model, fields))


def _add_fields(
        root: Path, app: str, model: str, name: str, parent: str,
        fields: list[str], *, replaces: tuple[str, ...] = (),
) -> None:
    operations = ''.join(
        OPERATION.format(model_lower=model.lower(), field=f) for f in fields
    )
    replaces_text = ''
    if replaces:
        entries = ''.join(f'({app!r}, {r!r}), ' for r in replaces)
        replaces_text = f'\n    replaces = [{entries}]\n'
    write(
        root / app / 'migrations' / f'{name}.py',
        ADD_FIELD.format(
            app=app, parent=parent, operations=operations,
            replaces=replaces_text,
        ),
    )


def _merge_main_into_feature(root: Path, models: dict[str, str]) -> None:
    """Merge main into feature; models.py conflicts textually and gets its
    final content; the migrations merge silently."""
    git(root, 'checkout', '-q', 'feature')
    subprocess.run(
        ('git', 'merge', '-q', '--no-edit', 'main'), cwd=root,
        capture_output=True,
    )
    for path, text in models.items():
        write(root / path, text)
    commit_all(root, 'merge main')


def _run(root: Path, **kwargs: object) -> tuple[int, str]:
    out = io.StringIO()
    status = resolve(str(root), out=out, **kwargs)  # type: ignore[arg-type]
    return status, out.getvalue()


def test_merge_equals_makemigrations_merge_and_applies(
        tmp_path: Path, git_home: Path,
) -> None:
    root = _project(tmp_path / 'project', ['shop'])
    _app(root, 'shop', 'ShopProfile', ['email'])
    write(root / 'shop/migrations/0001_initial.py', INITIAL.format(model='ShopProfile'))
    _add_fields(root, 'shop', 'ShopProfile', '0002_shopprofile_email', '0001_initial', ['email'])
    commit_all(root, 'base')
    git(root, 'checkout', '-q', '-b', 'feature')
    _add_fields(root, 'shop', 'ShopProfile', '0003_shopprofile_age', '0002_shopprofile_email', ['age'])
    commit_all(root, 'age')
    git(root, 'checkout', '-q', 'main')
    _add_fields(root, 'shop', 'ShopProfile', '0003_shopprofile_address', '0002_shopprofile_email', ['address'])
    commit_all(root, 'address')
    _merge_main_into_feature(root, {
        'shop/models.py': _models('ShopProfile', ['email', 'address', 'age']),
    })

    migrations = root / 'shop' / 'migrations'
    before = set(migrations.glob('*.py'))
    manage(root, 'makemigrations', '--merge', '--noinput')
    (django_file,) = set(migrations.glob('*.py')) - before
    django_text = django_file.read_text()
    django_file.unlink()

    now = datetime.datetime.now()
    status, out = _run(root, now=now)
    assert status == 0, out
    (ours,) = set(migrations.glob('*.py')) - before
    assert ours.name == django_file.name
    assert ours.name == (
        '0004_merge_0003_shopprofile_address_0003_shopprofile_age.py'
    )
    assert migration_body(ours.read_text()) == migration_body(django_text)

    manage(root, 'migrate', '--noinput')
    check = manage(root, 'makemigrations', '--check', '--dry-run')
    assert 'No changes detected' in check.stdout
    assert _run(root)[1] == 'migmerge: nothing to resolve\n'


INVOICE = '''\
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = (
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("billing", "0001_initial"),  # own app
        # needs the height column
        ('shop', '0004_userprofile_height'),
    )

    operations = [
        migrations.AddField(
            model_name='billingprofile',
            name='total',
            field=models.IntegerField(default=0),
        ),
    ]
'''


def _columns(db: Path, table: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[1] for row in conn.execute(f'PRAGMA table_info({table})')]


def _applied(db: Path, app: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(
            name for (name,) in conn.execute(
                'SELECT name FROM django_migrations WHERE app = ?', (app,),
            )
        )


def test_renumber_with_rollback_then_migrate(
        tmp_path: Path, git_home: Path,
) -> None:
    """A chain of two moved after a squashed upstream leaf, a dependent
    migration in another app, and a database that applied the old names."""
    apps = ['django.contrib.auth', 'django.contrib.contenttypes', 'shop', 'billing']
    root = _project(tmp_path / 'project', apps)
    _app(root, 'shop', 'UserProfile', ['email'])
    write(root / 'shop/migrations/0001_initial.py', INITIAL.format(model='UserProfile'))
    _add_fields(root, 'shop', 'UserProfile', '0002_userprofile_email', '0001_initial', ['email'])
    _app(root, 'billing', 'BillingProfile', [])
    write(root / 'billing/migrations/0001_initial.py', INITIAL.format(model='BillingProfile'))
    commit_all(root, 'base')

    git(root, 'checkout', '-q', '-b', 'feature')
    _add_fields(root, 'shop', 'UserProfile', '0003_userprofile_age', '0002_userprofile_email', ['age'])
    _add_fields(root, 'shop', 'UserProfile', '0004_userprofile_height', '0003_userprofile_age', ['height'])
    write(root / 'billing/migrations/0002_invoice.py', INVOICE)
    _app(root, 'shop', 'UserProfile', ['email', 'age', 'height'])
    _app(root, 'billing', 'BillingProfile', ['total'])
    commit_all(root, 'feature')
    # The developer's database applied the feature branch.
    manage(root, 'migrate', '--noinput')
    db = root / 'db.sqlite3'
    assert _applied(db, 'shop') == [
        '0001_initial', '0002_userprofile_email', '0003_userprofile_age',
        '0004_userprofile_height',
    ]

    git(root, 'checkout', '-q', 'main')
    _add_fields(root, 'shop', 'UserProfile', '0003_userprofile_address', '0002_userprofile_email', ['address'])
    _add_fields(root, 'shop', 'UserProfile', '0004_userprofile_phone', '0003_userprofile_address', ['phone'])
    _add_fields(
        root, 'shop', 'UserProfile', '0003_squashed_0004_userprofile_phone',
        '0002_userprofile_email', ['address', 'phone'],
        replaces=('0003_userprofile_address', '0004_userprofile_phone'),
    )
    _app(root, 'shop', 'UserProfile', ['email', 'address', 'phone'])
    commit_all(root, 'upstream')
    final = _models('UserProfile', ['email', 'address', 'phone', 'age', 'height'])
    _merge_main_into_feature(root, {'shop/models.py': final})

    status, out = _run(root, strategy='renumber', rollback=True)
    assert status == 0, out
    assert '$ ' + sys.executable in out
    migrations = root / 'shop' / 'migrations'
    assert sorted(p.stem for p in migrations.glob('0*.py')) == [
        '0001_initial', '0002_userprofile_email',
        '0003_squashed_0004_userprofile_phone', '0003_userprofile_address',
        '0004_userprofile_phone', '0005_userprofile_age',
        '0006_userprofile_height',
    ]
    invoice = (root / 'billing/migrations/0002_invoice.py').read_text()
    assert invoice == INVOICE.replace(
        "'0004_userprofile_height'", "'0006_userprofile_height'",
    )
    # Rolled back to the common ancestor: the old names are gone.
    assert _applied(db, 'shop') == ['0001_initial', '0002_userprofile_email']
    assert 'age' not in _columns(db, 'shop_userprofile')

    manage(root, 'migrate', '--noinput')
    assert _columns(db, 'shop_userprofile') == [
        'id', 'name', 'email', 'address', 'phone', 'age', 'height',
    ]
    assert 'total' in _columns(db, 'billing_billingprofile')
    plan = manage(root, 'showmigrations', '--plan', 'shop', 'billing').stdout
    applied = [line.split()[-1] for line in plan.splitlines() if '[X]' in line]
    assert [a for a in applied if a.startswith(('shop.0003_s', 'shop.0005', 'shop.0006', 'billing.0002'))] == [
        'shop.0003_squashed_0004_userprofile_phone',
        'shop.0005_userprofile_age',
        'shop.0006_userprofile_height',
        'billing.0002_invoice',
    ]
    check = manage(root, 'makemigrations', '--check', '--dry-run')
    assert 'No changes detected' in check.stdout
    assert _run(root, strategy='renumber')[1] == (
        'migmerge: nothing to resolve\n'
    )


def _instructions(out: str) -> list[list[str]]:
    """The indented command lines printed after an applied renumber."""
    start = out.index('If your development database had applied')
    return [
        shlex.split(line) for line in out[start:].splitlines()
        if line.startswith('  ')
    ]


def _diverged_shop(tmp_path: Path, *, dependent: bool) -> tuple[Path, Path]:
    """feature adds 0003_userprofile_age (and, with ``dependent``, billing
    0002_invoice depending on it), the developer migrates, main adds
    0003_userprofile_address, main is merged into feature."""
    apps = ['django.contrib.auth', 'django.contrib.contenttypes', 'shop', 'billing']
    root = _project(tmp_path / 'project', apps)
    _app(root, 'shop', 'UserProfile', ['email'])
    write(root / 'shop/migrations/0001_initial.py', INITIAL.format(model='UserProfile'))
    _add_fields(root, 'shop', 'UserProfile', '0002_userprofile_email', '0001_initial', ['email'])
    _app(root, 'billing', 'BillingProfile', [])
    write(root / 'billing/migrations/0001_initial.py', INITIAL.format(model='BillingProfile'))
    commit_all(root, 'base')
    git(root, 'checkout', '-q', '-b', 'feature')
    _add_fields(root, 'shop', 'UserProfile', '0003_userprofile_age', '0002_userprofile_email', ['age'])
    _app(root, 'shop', 'UserProfile', ['email', 'age'])
    if dependent:
        write(
            root / 'billing/migrations/0002_invoice.py',
            INVOICE.replace('0004_userprofile_height', '0003_userprofile_age'),
        )
        _app(root, 'billing', 'BillingProfile', ['total'])
    commit_all(root, 'feature')
    manage(root, 'migrate', '--noinput')
    git(root, 'checkout', '-q', 'main')
    _add_fields(root, 'shop', 'UserProfile', '0003_userprofile_address', '0002_userprofile_email', ['address'])
    _app(root, 'shop', 'UserProfile', ['email', 'address'])
    commit_all(root, 'upstream')
    final = _models('UserProfile', ['email', 'address', 'age'])
    _merge_main_into_feature(root, {'shop/models.py': final})
    return root, root / 'db.sqlite3'


def _assert_migrated(root: Path, db: Path) -> None:
    manage(root, 'migrate', '--noinput')
    assert _columns(db, 'shop_userprofile') == [
        'id', 'name', 'email', 'age', 'address',
    ] or _columns(db, 'shop_userprofile') == [
        'id', 'name', 'email', 'address', 'age',
    ]
    plan = manage(root, 'showmigrations', '--plan').stdout
    assert '[ ]' not in plan
    assert 'shop.0004_userprofile_age' in plan


@pytest.mark.parametrize('dependent', (False, True))
def test_renumber_without_rollback_says_how_to_undo_and_redo(
        tmp_path: Path, git_home: Path, dependent: bool,
) -> None:
    """No --rollback while the database applied the moved migration: the
    output says how to undo and redo with --rollback, and following it to
    the letter leaves a database with every column and no inconsistency
    (also when another app's applied migration depends on the moved one)."""
    root, db = _diverged_shop(tmp_path, dependent=dependent)
    status, out = _run(root, strategy='renumber')
    assert status == 0, out
    commands = _instructions(out)
    assert commands[-1] == [
        'migmerge', 'resolve', '--strategy', 'renumber', '--rollback',
    ]
    assert commands[:-1] == [
        ['rm', '--', 'shop/migrations/0004_userprofile_age.py'],
        ['git', 'checkout', 'HEAD', '--', *(
            ['billing/migrations/0002_invoice.py'] if dependent else []
        ), 'shop/migrations/0003_userprofile_age.py'],
    ]
    for argv in commands[:-1]:
        subprocess.run(argv, cwd=root, check=True)
    status, out = _run(root, strategy='renumber', rollback=True)
    assert status == 0, out
    _assert_migrated(root, db)


LOCK_CHECK_APPS_PY = '''\
import os

from django.apps import AppConfig
from django.core import checks


class ShopConfig(AppConfig):
    name = 'shop'

    def ready(self):
        checks.register(lock_file_names_a_migration)


def lock_file_names_a_migration(app_configs, **kwargs):
    # Like django-linear-migrations' check: the lock file must name a
    # migration that exists.
    here = os.path.join(os.path.dirname(__file__), 'migrations')
    with open(os.path.join(here, 'max_migration.txt')) as f:
        name = f.read().strip()
    if os.path.exists(os.path.join(here, f'{name}.py')):
        return []
    return [checks.Error(f'max_migration.txt names {name}', id='shop.E001')]
'''


def test_default_rollback_passes_a_project_check_on_migration_files(
        tmp_path: Path, git_home: Path,
) -> None:
    """While the other branch's files are set aside, a system check that
    reads migration files (django-linear-migrations has one) fails; the
    default rollback command skips system checks, so the rollback runs."""
    root, db = _diverged_shop(tmp_path, dependent=False)
    write(root / 'shop/apps.py', LOCK_CHECK_APPS_PY)
    write(
        root / 'shop/migrations/max_migration.txt',
        '0003_userprofile_address\n',
    )
    commit_all(root, 'lock file and its check')
    manage(root, 'check')  # the project is healthy as committed
    default = Config().rollback_command
    assert default[0] == 'python'
    argv = (sys.executable, *default[1:])
    write(
        root / 'setup.cfg',
        f'[migmerge]\nrollback_command = {shlex.join(argv)}\n',
    )
    approve(str(root / '.git'), argv)
    if git(root, 'status', '--porcelain'):
        commit_all(root, 'rollback with this interpreter')
    status, out = _run(root, strategy='renumber', rollback=True)
    assert status == 0, out
    assert _applied(db, 'shop') == ['0001_initial', '0002_userprofile_email']
    assert (root / 'shop/migrations/max_migration.txt').read_text() == (
        '0004_userprofile_age\n'
    )
    _assert_migrated(root, db)
