"""``migmerge demo``: the problem of DESIGN.md §1, built and shown live.

Creates a small Django project in a temporary git repository, adds
``0003_userprofile_address`` on one branch and ``0003_userprofile_age`` on
another, merges them with the real ``git merge`` (which succeeds silently)
and runs ``migmerge check`` on the result.
"""
from __future__ import annotations

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
    bio = models.TextField(blank=True)
'''


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
    demo.commit('Add UserProfile.address')
    demo.git('checkout', '-q', 'main', show=False)
    demo.git('checkout', '-q', '-b', 'age', show=False)
    demo.write(
        'myapp/migrations/0003_userprofile_age.py',
        add_field('0002_userprofile_bio', 'age', 'models.IntegerField(null=True)'),
    )
    demo.commit('Add UserProfile.age')
    demo.git('checkout', '-q', 'main', show=False)


def run_demo(root: str) -> int:
    demo = Demo(root)
    migmerge = (sys.executable, '-m', 'mergedriver')
    demo.say('A Django project; two branches each add a migration 0003')
    build_project(demo)
    demo.git('log', '--oneline', '--graph', '--all')
    demo.say('git merges both branches without a single conflict')
    demo.git('merge', '-q', '--no-edit', 'address')
    demo.git('merge', '--no-edit', 'age')
    demo.say('...but the merged tree has two leaves; migmerge sees it statically')
    status = demo.run(*migmerge, 'check', label='migmerge check')
    demo.say('The graph, as Mermaid (`--format json` for tools)')
    demo.run(
        *migmerge, 'graph', '--format', 'mermaid',
        label='migmerge graph --format mermaid',
    )
    return 0 if status == 1 else 1


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    with tempfile.TemporaryDirectory(prefix='migmerge-demo-') as root:
        return run_demo(root)
