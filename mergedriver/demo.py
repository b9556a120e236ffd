"""``migmerge demo``: the problem of docs/design.md, "The problem", built and shown live.

Creates a small Django project in a temporary git repository, adds
``0003_userprofile_address`` on one branch and ``0003_userprofile_age`` on
another and merges them with the real ``git merge``: first without migmerge
(silently two leaves), then with ``migmerge install`` (the hook writes the
merge migration, ``git commit`` concludes, Django migrates it when it is
installed), then two branches that alter the same field (stopped, named),
then a rebase whose migration is renumbered after upstream's.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence

SETTINGS = '''\
SECRET_KEY = 'demo'
USE_TZ = True
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}
INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes', 'myapp']
'''

MANAGE = '''\
import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

INITIAL = '''\
from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='UserProfile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]
'''


def add_field(previous: str, field: str, definition: str) -> str:
    return textwrap.dedent(f'''\
        from django.db import migrations, models


        class Migration(migrations.Migration):

            dependencies = [
                ('myapp', '{previous}'),
            ]

            operations = [
                migrations.AddField(
                    model_name='userprofile',
                    name='{field}',
                    field={definition},
                ),
            ]
    ''')


MODELS_BASE = '''\
from django.conf import settings
from django.db import models


class UserProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

    # About the person

    bio = models.TextField(blank=True)
'''
# Each branch edits models.py in its own place, so git merges it cleanly
# and only the migrations are in parallel (the case git cannot see).
MODELS_ADDRESS = MODELS_BASE + '''\
    address = models.CharField(blank=True, max_length=200)
'''
MODELS_AGE = MODELS_BASE.replace(
    'on_delete=models.CASCADE)\n',
    'on_delete=models.CASCADE)\n    age = models.IntegerField(null=True)\n',
)


class Demo:
    """A throw-away repository and a narrator."""

    def __init__(self, root: str) -> None:
        self.root = root

    def say(self, text: str) -> None:
        print(f'\n\033[1m== {text}\033[0m' if sys.stdout.isatty() else f'\n== {text}')

    def write(self, rel: str, text: str) -> None:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)

    def run(self, *argv: str, show: bool = True, label: str = '') -> int:
        if show:
            print(f'$ {label or " ".join(argv)}')
        proc = subprocess.run(
            argv, cwd=self.root, capture_output=True, text=True,
        )
        output = (proc.stdout + proc.stderr).rstrip()
        if show and output:
            print(textwrap.indent(output, '  '))
        return proc.returncode

    def git(self, *argv: str, show: bool = True) -> int:
        return self.run('git', *argv, show=show)

    def commit(self, message: str) -> None:
        self.git('add', '-A', show=False)
        self.git('commit', '-q', '-m', message, show=False)


def build_project(demo: Demo) -> None:
    demo.git('init', '-q', '-b', 'main', show=False)
    demo.git('config', 'user.name', 'migmerge demo', show=False)
    demo.git('config', 'user.email', 'demo@example.invalid', show=False)
    demo.write('.gitignore', 'db.sqlite3\n__pycache__/\n')
    demo.write('settings.py', SETTINGS)
    demo.write('manage.py', MANAGE)
    demo.write('myapp/__init__.py', '')
    demo.write('myapp/models.py', MODELS_BASE)
    demo.write('myapp/migrations/__init__.py', '')
    demo.write('myapp/migrations/0001_initial.py', INITIAL)
    demo.write(
        'myapp/migrations/0002_userprofile_bio.py',
        add_field('0001_initial', 'bio', "models.TextField(blank=True)"),
    )
    demo.commit('Initial project')
    demo.git('checkout', '-q', '-b', 'address', show=False)
    demo.write(
        'myapp/migrations/0003_userprofile_address.py',
        add_field(
            '0002_userprofile_bio', 'address',
            "models.CharField(blank=True, max_length=200)",
        ),
    )
    demo.write('myapp/models.py', MODELS_ADDRESS)
    demo.commit('Add UserProfile.address')
    demo.git('checkout', '-q', 'main', show=False)
    demo.git('checkout', '-q', '-b', 'age', show=False)
    demo.write(
        'myapp/migrations/0003_userprofile_age.py',
        add_field('0002_userprofile_bio', 'age', 'models.IntegerField(null=True)'),
    )
    demo.write('myapp/models.py', MODELS_AGE)
    demo.commit('Add UserProfile.age')
    demo.git('checkout', '-q', 'main', show=False)


def alter_field(previous: str, field: str, definition: str) -> str:
    return add_field(previous, field, definition).replace(
        'AddField', 'AlterField',
    )


def django_available() -> bool:
    # Django is a demo extra, never a runtime dependency: ask the
    # interpreter without importing Django into this process.
    return importlib.util.find_spec('django') is not None


def run_demo(root: str) -> int:
    demo = Demo(root)
    migmerge = (sys.executable, '-m', 'mergedriver')

    def run_migmerge(*args: str) -> int:
        return demo.run(*migmerge, *args, label=f'migmerge {" ".join(args)}')

    demo.say('A Django project; two branches each add a migration 0003')
    build_project(demo)
    demo.git('log', '--oneline', '--graph', '--all')

    demo.say('Without migmerge, git merges both without a single conflict...')
    demo.git('checkout', '-q', '-b', 'plain-git', show=False)
    demo.git('merge', '-q', '--no-edit', 'address', show=False)
    demo.git('merge', '--no-edit', '-q', 'age')
    demo.say('...and the result has two leaves: Django would refuse to start')
    run_migmerge('check')
    demo.git('checkout', '-q', 'main', show=False)

    demo.say('With migmerge installed in the clone (driver, attributes, hooks)')
    run_migmerge('install')
    demo.git('add', '.gitattributes')
    demo.git('commit', '-q', '-m', 'Route migrations through migmerge')
    demo.git('merge', '-q', '--no-edit', 'address')
    status = demo.git('merge', '--no-edit', 'age')
    demo.say('The pre-merge-commit hook wrote and staged the merge migration')
    written = sorted(
        name for name in os.listdir(os.path.join(root, 'myapp', 'migrations'))
        if '_merge_' in name
    )
    for name in written:
        demo.run('cat', f'myapp/migrations/{name}')
    demo.say('git commit concludes the merge with it')
    demo.git('commit', '-q', '--no-edit')
    demo.git('log', '--oneline', '--graph', '-5')
    clean = run_migmerge('check')
    migrated = 0
    if django_available():
        demo.say('Django agrees: migrate applies it on SQLite, nothing left to make')
        migrated |= demo.run(
            sys.executable, 'manage.py', 'migrate', '--noinput',
            label='python manage.py migrate',
        )
        migrated |= demo.run(
            sys.executable, 'manage.py', 'makemigrations', '--check',
            '--dry-run', label='python manage.py makemigrations --check --dry-run',
        )
    else:
        demo.say('(install Django in this environment to see manage.py migrate run)')

    demo.say('When both branches change the same field, migmerge stops instead')
    demo.git('checkout', '-q', '-b', 'age-positive', show=False)
    demo.write(
        'myapp/migrations/0005_alter_userprofile_age.py',
        alter_field(
            written[0][:-3], 'age', 'models.PositiveIntegerField(null=True)',
        ),
    )
    demo.commit('Make age positive')
    demo.git('checkout', '-q', 'main', show=False)
    demo.write(
        'myapp/migrations/0005_userprofile_age_default.py',
        alter_field(
            written[0][:-3], 'age', 'models.IntegerField(default=18)',
        ),
    )
    demo.commit('Default age 18')
    flagged = demo.git('merge', '--no-edit', 'age-positive')
    demo.git('status', '--short')
    demo.git('merge', '--abort', show=False)

    demo.say('A rebase keeps history linear: the rebased migration is renumbered')
    demo.git('checkout', '-q', '-b', 'nickname', show=False)
    demo.write(
        'myapp/migrations/0006_userprofile_nickname.py',
        add_field(
            '0005_userprofile_age_default', 'nickname',
            'models.CharField(blank=True, max_length=50)',
        ),
    )
    demo.commit('Add UserProfile.nickname')
    demo.git('checkout', '-q', 'main', show=False)
    demo.write(
        'myapp/migrations/0006_userprofile_verified.py',
        add_field(
            '0005_userprofile_age_default', 'verified',
            'models.BooleanField(default=False)',
        ),
    )
    demo.commit('Add UserProfile.verified')
    demo.git('checkout', '-q', 'nickname', show=False)
    demo.git('rebase', 'main')
    demo.git('log', '--oneline', '-3')
    demo.run(
        'sh', '-c', 'ls myapp/migrations | grep "^000[67]"',
        label='ls myapp/migrations',
    )
    rebased = run_migmerge('check')

    ok = (
        status != 0 and len(written) == 1 and clean == 0 and migrated == 0
        and flagged != 0 and rebased == 0
    )
    demo.say('Demo finished' if ok else 'Demo did not go as expected')
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    with tempfile.TemporaryDirectory(prefix='migmerge-demo-') as root:
        return run_demo(root)
