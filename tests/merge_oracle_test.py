"""Oracle: our merge migration against ``makemigrations --merge`` itself.

Each test builds a small Django project in tmp_path, lets real Django (in a
subprocess, with black on PATH as Django expects) write the merge migration,
compares it with ours, then swaps ours in and has Django apply the graph on
SQLite and confirm that no model change is pending.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

from mergedriver.naming import merge_migration_name
from mergedriver.resolution.rewrite import rename_references
from mergedriver.resolution.rewrite import retarget_dependency
from mergedriver.resolution.rewrite import Rewritten
from mergedriver.resolution.rewrite import Unchanged
from mergedriver.resolution.writer import render_merge_migration

SETTINGS = '''\
SECRET_KEY = 'oracle'
INSTALLED_APPS = {apps!r}
DATABASES = {{
    'default': {{
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': 'db.sqlite3',
    }},
}}
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
USE_TZ = True
# Django exports TIME_ZONE as TZ, so its timestamp names are in this zone.
TIME_ZONE = 'UTC'
'''

MANAGE = '''\
import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'oracle_settings')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

INITIAL = '''\
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name='{model}',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
            ],
        ),
    ]
'''

ADD_FIELD = '''\
from django.db import migrations, models


class Migration(migrations.Migration):
{replaces}
    dependencies = [
        ('{app}', '{parent}'),
    ]

    operations = [
{operations}    ]
'''

OPERATION = '''\
        migrations.AddField(
            model_name='{model_lower}',
            name='{field}',
            field=models.IntegerField(default=0),
        ),
'''


@dataclasses.dataclass(frozen=True)
class Step:
    """A migration adding integer fields, after ``parent``."""

    name: str
    parent: str
    fields: tuple[str, ...]
    replaces: tuple[str, ...] = ()


def _write_app(
        root: Path, app: str, model: str, steps: tuple[Step, ...],
) -> None:
    package = root / app
    migrations = package / 'migrations'
    migrations.mkdir(parents=True)
    (package / '__init__.py').write_text('')
    (migrations / '__init__.py').write_text('')
    (migrations / '0001_initial.py').write_text(INITIAL.format(model=model))
    fields: list[str] = []
    for step in steps:
        operations = ''.join(
            OPERATION.format(model_lower=model.lower(), field=f)
            for f in step.fields
        )
        replaces = ''
        if step.replaces:
            entries = ''.join(f'({app!r}, {r!r}), ' for r in step.replaces)
            replaces = f'\n    replaces = [{entries}]\n'
        (migrations / f'{step.name}.py').write_text(
            ADD_FIELD.format(
                app=app, parent=step.parent, operations=operations,
                replaces=replaces,
            ),
        )
        fields.extend(f for f in step.fields if f not in fields)
    lines = ''.join(
        f'    {f} = models.IntegerField(default=0)\n' for f in fields
    )
    (package / 'models.py').write_text(
        'from django.db import models\n\n\n'
        f'class {model}(models.Model):\n'
        '    name = models.CharField(max_length=100)\n'
        f'{lines}',
    )


def _project(tmp_path: Path, apps: dict[str, tuple[Step, ...]]) -> Path:
    root = tmp_path / 'project'
    root.mkdir()
    (root / 'oracle_settings.py').write_text(
        SETTINGS.format(apps=list(apps)),
    )
    (root / 'manage.py').write_text(MANAGE)
    for app, steps in apps.items():
        _write_app(root, app, app.capitalize() + 'Profile', steps)
    return root


def _manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items()
        if k not in ('PYTHONPATH', 'DJANGO_SETTINGS_MODULE')
    }
    # Django runs black on the files it writes when black is on PATH.
    bin_dir = os.path.dirname(sys.executable)
    env['PATH'] = bin_dir + os.pathsep + env.get('PATH', '')
    result = subprocess.run(
        (sys.executable, 'manage.py', *args),
        cwd=root, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _leaves(steps: tuple[Step, ...]) -> list[str]:
    names = {s.name for s in steps} | {'0001_initial'}
    parents = {s.parent for s in steps}
    replaced = {r for s in steps for r in s.replaces}
    return sorted(names - parents - replaced)


_TIMESTAMP_RE = re.compile(r'_(\d{8}_\d{4})$')


def _now_for(django_name: str) -> datetime.datetime:
    """The moment Django stamped a timestamp name with, or now."""
    utc_now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    match = _TIMESTAMP_RE.search(django_name)
    if match is None:
        return utc_now
    stamp = datetime.datetime.strptime(match[1], '%Y%m%d_%H%M')
    # Django stamps the name with the current time in TIME_ZONE (UTC here).
    assert abs(utc_now - stamp) < datetime.timedelta(minutes=5)
    return stamp


def _body(text: str) -> str:
    return text.split('\n', 1)[1]


def _compare_and_apply(
        tmp_path: Path,
        apps: dict[str, tuple[Step, ...]],
        *options: str,
        name: str | None = None,
) -> dict[str, str]:
    """Compare each app's merge migration with Django's, then apply ours.

    Returns the merge migration names by app.
    """
    root = _project(tmp_path, apps)
    migrations_dirs = {app: root / app / 'migrations' for app in apps}
    before = {app: set(d.glob('*.py')) for app, d in migrations_dirs.items()}
    _manage(root, 'makemigrations', '--merge', '--noinput', *options)
    names = {}
    for app, steps in apps.items():
        (created,) = set(migrations_dirs[app].glob('*.py')) - before[app]
        django_text = created.read_text()
        assert django_text.startswith('# Generated by Django ')
        leaves = _leaves(steps)
        now = _now_for(created.stem)
        ours_name = merge_migration_name(leaves, now=now, name=name)
        assert ours_name == created.stem
        ours = render_merge_migration(app, leaves, now=now)
        assert ours.startswith('# Generated by migmerge ')
        assert _body(ours) == _body(django_text)
        # Our file in place of Django's.
        created.write_text(ours)
        names[app] = ours_name
    _manage(root, 'migrate', '--noinput')
    plan = _manage(root, 'showmigrations', '--plan').stdout
    for app, name_ in names.items():
        assert f'[X]  {app}.{name_}' in plan
    check = _manage(root, 'makemigrations', '--check', '--dry-run')
    assert 'No changes detected' in check.stdout
    return names


SHOP_TWO_LEAVES = (
    Step('0002_userprofile_email', '0001_initial', ('email',)),
    Step('0003_userprofile_address', '0002_userprofile_email', ('address',)),
    Step('0003_userprofile_age', '0002_userprofile_email', ('age',)),
)


def test_two_leaves(tmp_path: Path) -> None:
    names = _compare_and_apply(tmp_path, {'shop': SHOP_TWO_LEAVES})
    assert names == {
        'shop': '0004_merge_0003_userprofile_address_0003_userprofile_age',
    }


def test_three_leaves_and_a_chain(tmp_path: Path) -> None:
    steps = (
        Step('0002_b', '0001_initial', ('b',)),
        Step('0003_c', '0002_b', ('c',)),
        Step('0002_d', '0001_initial', ('d',)),
        Step('0002_e', '0001_initial', ('e', 'f')),
    )
    names = _compare_and_apply(tmp_path, {'shop': steps})
    assert names == {'shop': '0004_merge_0002_d_0002_e_0003_c'}


def test_long_names_fall_back_to_a_timestamp(tmp_path: Path) -> None:
    steps = (
        Step('0002_userprofile_address_line_and_more', '0001_initial', ('a',)),
        Step('0002_userprofile_age_in_years_and_more', '0001_initial', ('b',)),
    )
    names = _compare_and_apply(tmp_path, {'shop': steps})
    assert re.fullmatch(r'0003_merge_\d{8}_\d{4}', names['shop'])


def test_squashed_leaf_counts_its_last_number(tmp_path: Path) -> None:
    # The originals stay on disk next to the squash, as after squashmigrations.
    steps = (
        Step('0002_x', '0001_initial', ('x',)),
        Step('0003_y', '0002_x', ('y',)),
        Step(
            '0002_squashed_0003_y', '0001_initial', ('x', 'y'),
            replaces=('0002_x', '0003_y'),
        ),
        Step('0002_z', '0001_initial', ('z',)),
    )
    names = _compare_and_apply(tmp_path, {'shop': steps})
    assert names == {'shop': '0004_merge_0002_squashed_0003_y_0002_z'}


def test_leaves_without_numbers(tmp_path: Path) -> None:
    # No numbered leaf: Django counts from 1, so the merge is 0002.
    steps = (
        Step('auto_userprofile_a', '0001_initial', ('a',)),
        Step('auto_userprofile_b', '0001_initial', ('b',)),
    )
    names = _compare_and_apply(tmp_path, {'shop': steps})
    assert names == {
        'shop': '0002_merge_auto_userprofile_a_auto_userprofile_b',
    }


def test_two_apps_at_once_and_the_name_option(tmp_path: Path) -> None:
    billing = (
        Step('0002_a', '0001_initial', ('a',)),
        Step('0002_b', '0001_initial', ('b',)),
    )
    names = _compare_and_apply(
        tmp_path,
        {'shop': SHOP_TWO_LEAVES, 'billing': billing},
        '--name', 'join_branches',
        name='join_branches',
    )
    assert names == {
        'shop': '0004_join_branches', 'billing': '0003_join_branches',
    }


BILLING_INVOICE = '''\
from django.conf import settings
from django.db import migrations, models

SHOP_APP = 'shop'


class Migration(migrations.Migration):

    dependencies = (
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("billing", "0001_initial"),  # own app
        # needs the height column
        (SHOP_APP, '0004_userprofile_height'),
    )
    run_before = [('shop', '__first__')] if False else []

    operations = [
        migrations.AddField(
            model_name='billingprofile',
            name='total',
            field=models.IntegerField(default=0),
        ),
    ]
'''


def test_renumbered_chain_applies(tmp_path: Path) -> None:
    """Renumber with our rewrites: Django sees one leaf and applies it."""
    shop = SHOP_TWO_LEAVES + (
        Step('0004_userprofile_height', '0003_userprofile_age', ('height',)),
    )
    root = _project(tmp_path, {'shop': shop, 'billing': ()})
    settings = root / 'oracle_settings.py'
    settings.write_text(
        settings.read_text().replace(
            "INSTALLED_APPS = [", "INSTALLED_APPS = ['django.contrib.auth', "
            "'django.contrib.contenttypes', ",
        ),
    )
    billing = root / 'billing'
    (billing / 'migrations' / '0002_invoice.py').write_text(BILLING_INVOICE)
    with (billing / 'models.py').open('a') as f:
        f.write('    total = models.IntegerField(default=0)\n')
    env_check = subprocess.run(
        (sys.executable, 'manage.py', 'makemigrations', '--check'),
        cwd=root, capture_output=True, text=True,
    )
    assert 'Conflicting migrations detected' in env_check.stderr

    renames = {
        ('shop', '0003_userprofile_age'): '0004_userprofile_age',
        ('shop', '0004_userprofile_height'): '0005_userprofile_height',
    }
    files = sorted(root.glob('*/migrations/0*.py'))
    for path in files:
        result = rename_references(path.read_text(), renames)
        if isinstance(result, Rewritten):
            path.write_text(result.code)
    moved = root / 'shop' / 'migrations' / '0003_userprofile_age.py'
    result = retarget_dependency(
        moved.read_text(),
        ('shop', '0002_userprofile_email'),
        ('shop', '0003_userprofile_address'),
    )
    assert isinstance(result, Rewritten)
    moved.write_text(result.code)
    for (app, old), new in renames.items():
        path = root / app / 'migrations' / f'{old}.py'
        path.rename(path.with_name(f'{new}.py'))

    invoice = (billing / 'migrations' / '0002_invoice.py').read_text()
    assert invoice == BILLING_INVOICE.replace(
        "'0004_userprofile_height'", "'0005_userprofile_height'",
    )
    # A second pass finds nothing to do.
    for path in sorted(root.glob('*/migrations/0*.py')):
        assert rename_references(path.read_text(), renames) == Unchanged()

    _manage(root, 'migrate', '--noinput')
    plan = _manage(root, 'showmigrations', '--plan').stdout
    order = [
        line.split()[-1] for line in plan.splitlines()
        if ' shop.' in line or ' billing.0002' in line
    ]
    assert order == [
        'shop.0001_initial',
        'shop.0002_userprofile_email',
        'shop.0003_userprofile_address',
        'shop.0004_userprofile_age',
        'shop.0005_userprofile_height',
        'billing.0002_invoice',
    ]
    check = _manage(root, 'makemigrations', '--check', '--dry-run')
    assert 'No changes detected' in check.stdout
