"""A small Django project on disk (settings, manage.py, apps adding
integer fields), run by its manage.py in a subprocess: the merge and resolve
oracles."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
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


def migration_body(text: str) -> str:
    return text.split('\n', 1)[1]
