"""Both branches alter one field, differing only in attributes Django keeps
out of the database (``choices``, ``help_text``...): merged with a review
line naming both operations and the command to run; after that command
Django's ``makemigrations --check`` is clean.  A difference that reaches the
database (``max_length``, ``null``, ``db_column``) still blocks, and so does
every pair with ``state_only_collisions = flag``.  Real git, the real hook,
real Django (``manage.py`` on SQLite)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.integration import install as gitsetup
from mergedriver.resolution.resolve import resolve
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import migration_source
from testing.project import MANAGE
from testing.project import SETTINGS

MIGMERGE = str(Path(sys.executable).parent / 'migmerge')
APP = 'notes'


def models(choices: str = "('a', 'A')", help_text: str = 'old') -> str:
    # choices and help_text far apart: git merges the two edits cleanly
    return (
        'from django.db import models\n\n\n'
        'class Notification(models.Model):\n'
        '    kind = models.CharField(\n'
        f'        choices=[{choices}],\n'
        '        max_length=20,\n'
        "        verbose_name='kind',\n"
        "        default='a',\n"
        f"        help_text='{help_text}',\n"
        '    )\n'
    )


def manage(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (sys.executable, 'manage.py', *args), cwd=repo,
        capture_output=True, text=True,
    )


def commit(repo: Path, message: str) -> None:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--no-verify', '-m', message)


def project(repo: Path, config: str = '') -> Path:
    """Branches ``main`` (adds a choice) and ``help`` (changes help_text),
    each migration written by Django's makemigrations."""
    make_repo(repo)
    write(repo / 'oracle_settings.py', SETTINGS.format(apps=[APP]))
    write(repo / 'manage.py', MANAGE)
    write(repo / '.gitignore', 'db.sqlite3\n__pycache__/\n')
    if config:
        write(repo / 'setup.cfg', f'[migmerge]\n{config}')
    write(repo / APP / '__init__.py', '')
    write(repo / APP / 'migrations/__init__.py', '')
    write(repo / APP / 'models.py', models())
    assert manage(repo, 'makemigrations', APP).returncode == 0
    gitsetup.install(str(repo))
    commit(repo, 'initial')
    git(repo, 'checkout', '-q', '-b', 'help')
    write(repo / APP / 'models.py', models(help_text='new'))
    assert manage(repo, 'makemigrations', APP, '--name', 'help').returncode == 0
    commit(repo, 'help')
    git(repo, 'checkout', '-q', 'main')
    write(repo / APP / 'models.py', models(choices="('a', 'A'), ('b', 'B')"))
    assert manage(repo, 'makemigrations', APP, '--name', 'choices').returncode == 0
    commit(repo, 'choices')
    return repo


def review_line(repo: Path) -> str:
    def line(name: str) -> int:
        text = (repo / APP / f'migrations/{name}.py').read_text()
        return text.splitlines().index('        migrations.AlterField(') + 1

    return (
        f'{APP}/migrations/0002_choices.py:{line("0002_choices")}: '
        f'{APP}.notification.kind: altered on both branches with '
        f'{APP}/migrations/0002_help.py:{line("0002_help")}, differing only '
        f'in choices, help_text (not in the database); merged: after the '
        f'merge, run `python manage.py makemigrations {APP}`'
    )


def test_hook_merges_with_a_review_line_and_django_agrees(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = project(tmp_path / 'repo')
    proc = subprocess.run(
        ('git', 'merge', '--no-edit', 'help'), cwd=repo,
        capture_output=True, text=True,
    )
    merge = f'{APP}/migrations/0003_merge_0002_choices_0002_help.py'
    assert f'wrote {merge}' in proc.stderr
    assert review_line(repo) in proc.stderr
    git(repo, 'commit', '-q', '--no-edit')
    # models.py merged cleanly: both changes
    assert "('b', 'B')" in (repo / APP / 'models.py').read_text()
    assert manage(repo, 'migrate').returncode == 0
    # Django: the merged state lacks one side's change until the command
    # the review line names is run; then nothing is left to record
    assert manage(repo, 'makemigrations', APP, '--check', '--dry-run').returncode == 1
    made = manage(repo, 'makemigrations', APP)
    assert made.returncode == 0, made.stderr
    assert manage(repo, 'migrate').returncode == 0
    assert manage(repo, 'makemigrations', '--check', '--dry-run').returncode == 0


def test_resolve_and_its_dry_run_json_say_the_same(
        tmp_path: Path, git_home: Path,
) -> None:
    repo = project(tmp_path / 'repo')
    git(repo, 'merge', '-q', '--no-verify', '--no-edit', 'help')
    proc = subprocess.run(
        (MIGMERGE, 'resolve', '--dry-run', '--format', 'json'), cwd=repo,
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document['status'] == 'plan'
    assert document['reviews'] == [review_line(repo)]
    assert document['actions'] == [{
        'action': 'create',
        'path': f'{APP}/migrations/0003_merge_0002_choices_0002_help.py',
    }]
    out = io.StringIO()
    assert resolve(str(repo), out=out) == 0
    assert f'  review: {review_line(repo)}\n' in out.getvalue()


def test_state_only_collisions_flag(tmp_path: Path, git_home: Path) -> None:
    repo = project(tmp_path / 'repo', 'state_only_collisions = flag\n')
    git(repo, 'merge', '-q', '--no-verify', '--no-edit', 'help')
    out = io.StringIO()
    assert resolve(str(repo), out=out) == 1
    assert 'field altered on both branches' in out.getvalue()
    assert not list((repo / APP / 'migrations').glob('0003_*'))


ALTER = (
    '        migrations.AlterField(\n'
    "            model_name='notification', name='kind',\n"
    '            field=models.CharField({}),\n'
    '        ),\n'
)


@pytest.mark.parametrize('attribute', [
    "max_length=30, help_text='x'",
    "max_length=20, null=True, help_text='x'",
    "max_length=20, db_column='kind_code', help_text='x'",
    "max_length=20, db_comment='x'",
])
def test_a_difference_that_reaches_the_database_blocks(
        tmp_path: Path, git_home: Path, attribute: str,
) -> None:
    repo = make_repo(tmp_path / 'repo')
    write(repo / APP / '__init__.py', '')
    write(repo / APP / 'models.py', '')
    write(repo / APP / 'migrations/__init__.py', '')
    write(repo / APP / 'migrations/0001_initial.py', migration_source(
        operations=(
            "        migrations.CreateModel(name='Notification', fields=[\n"
            "            ('id', models.AutoField(primary_key=True)),\n"
            "            ('kind', models.CharField(max_length=20)),\n"
            '        ]),\n'
        ),
    ))
    commit(repo, 'initial')
    for branch, field in (
            ('one', "max_length=20, choices=[('a', 'A')]"),
            ('two', attribute),
    ):
        git(repo, 'checkout', '-q', '-b', branch, 'main')
        write(
            repo / APP / f'migrations/0002_{branch}.py',
            migration_source([(APP, '0001_initial')], ALTER.format(field)),
        )
        commit(repo, branch)
    git(repo, 'merge', '-q', '--no-edit', 'one')
    out = io.StringIO()
    assert resolve(str(repo), out=out) == 1
    assert 'field altered on both branches' in out.getvalue()
    assert 'review:' not in out.getvalue()


def test_state_only_collisions_takes_merge_or_flag(tmp_path: Path) -> None:
    from mergedriver.config import load_config
    from mergedriver.errors import MigmergeError

    write(tmp_path / 'setup.cfg', '[migmerge]\nstate_only_collisions = block\n')
    with pytest.raises(MigmergeError, match='merge, flag'):
        load_config(str(tmp_path))
    write(tmp_path / 'setup.cfg', '[migmerge]\nstate_only_collisions = flag\n')
    assert load_config(str(tmp_path)).state_only_collisions == 'flag'
    (tmp_path / 'setup.cfg').unlink()
    assert load_config(str(tmp_path)).state_only_collisions == 'merge'
