"""Asking the development database before renaming (issue 10, part A).

Real git rebases with migmerge's hooks installed, and a real Django project
on SQLite: the hook runs ``python manage.py showmigrations`` (``python`` is
this virtualenv's, put first on PATH as an activated virtualenv would) and
decides from its ``[X]`` lines.  The test process never imports Django.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.config import Config
from mergedriver.integration import install
from mergedriver.resolution.database import ask_database
from mergedriver.resolution.database import parse_showmigrations
from mergedriver.resolution.database import run_isolated
from mergedriver.resolution.rollback import approve
from testing.git import git
from testing.git import write
from testing.migrations import migration_source
from testing.shop import APP
from testing.shop import MANAGE_PY as MANAGE
from testing.shop import MIGMERGE
from testing.shop import SETTINGS_PY as SETTINGS


CREATE = (
    '        migrations.CreateModel(\n'
    "            name='UserProfile',\n"
    "            fields=[('id', models.AutoField(primary_key=True))],\n"
    '        ),\n'
)


def add_field(name: str) -> str:
    # nullable without default: SQLite adds it with ALTER TABLE, so a
    # column applied twice fails loudly instead of a silent table rebuild
    return (
        f"        migrations.AddField(model_name='userprofile', name={name!r}, "
        f'field=models.TextField(null=True)),\n'
    )


def run(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, input=stdin)


def commit(repo: Path, message: str) -> None:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--no-verify', '-m', message)


def migration(repo: Path, name: str, parent: str | None, operations: str) -> None:
    deps = [(APP, parent)] if parent else []
    write(repo / APP / 'migrations' / f'{name}.py', migration_source(deps, operations))


@pytest.fixture
def venv_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python` on PATH is this virtualenv's (with Django), as when it is
    activated; the hooks inherit it."""
    bin_dir = os.path.dirname(sys.executable)
    assert os.path.exists(os.path.join(bin_dir, 'python'))
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')


def project(root: Path, *, manage: bool = True) -> Path:
    """main: 0001, 0002; feature: 0003_userprofile_address; main then gains
    0003_userprofile_age.  migmerge installed.  Returns the repository."""
    root.mkdir()
    git(root, 'init', '-q', '-b', 'main')
    write(root / '.gitignore', 'db.sqlite3\n__pycache__/\n')
    if manage:
        write(root / 'manage.py', MANAGE)
        write(root / 'settings.py', SETTINGS)
    write(root / APP / '__init__.py', '')
    write(root / APP / 'models.py', '')
    write(root / APP / 'migrations' / '__init__.py', '')
    migration(root, '0001_initial', None, CREATE)
    migration(root, '0002_userprofile_name', '0001_initial', add_field('name'))
    install.install(str(root))
    commit(root, 'initial')
    git(root, 'checkout', '-q', '-b', 'feature')
    migration(root, '0003_userprofile_address', '0002_userprofile_name', add_field('address'))
    commit(root, 'address')
    git(root, 'checkout', '-q', 'main')
    migration(root, '0003_userprofile_age', '0002_userprofile_name', add_field('age'))
    commit(root, 'age')
    git(root, 'checkout', '-q', 'feature')
    return root


def manage(repo: Path, *args: str) -> str:
    proc = run(repo, sys.executable, 'manage.py', *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def rows(repo: Path) -> list[str]:
    with sqlite3.connect(repo / 'db.sqlite3') as conn:
        return sorted(
            name for (name,) in conn.execute(
                'SELECT name FROM django_migrations WHERE app = ?', (APP,),
            )
        )


def columns(repo: Path) -> list[str]:
    with sqlite3.connect(repo / 'db.sqlite3') as conn:
        return sorted(row[1] for row in conn.execute('PRAGMA table_info(shop_userprofile)'))


def files(repo: Path) -> list[str]:
    return sorted(p.stem for p in (repo / APP / 'migrations').glob('0*.py'))


def assert_database_matches_files(repo: Path) -> None:
    """Every migration applied, and no django_migrations row for a file
    that does not exist."""
    shown = manage(repo, 'showmigrations', '--list', APP)
    assert '[ ]' not in shown, shown
    assert rows(repo) == files(repo)
    assert columns(repo) == ['address', 'age', 'id', 'name']


def test_applied_and_no_rollback_renames_nothing(
        tmp_path: Path, git_home: Path, venv_python: None,
) -> None:
    repo = project(tmp_path / 'repo')
    manage(repo, 'migrate', '-v0')  # the developer applied the feature
    before = git(repo, 'rev-parse', 'HEAD').strip()
    onto = git(repo, 'rev-parse', 'main').strip()
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    out = proc.stderr
    assert 'the development database applied shop.0003_userprofile_address' in out
    assert 'Nothing was renamed.' in out
    fix = f'  migmerge resolve --strategy renumber --move {onto[:12]} --rollback\n'
    assert fix in out
    assert '  python manage.py migrate --skip-checks shop 0002_userprofile_name\n' in out
    assert 'the rebase itself is done; the renumbering is not' in out
    # the rebase stays done, nothing renamed, nothing committed on top
    assert git(repo, 'rev-parse', 'HEAD^').strip() == onto
    assert git(repo, 'status', '--porcelain') == ''
    assert files(repo) == [
        '0001_initial', '0002_userprofile_name', '0003_userprofile_address',
        '0003_userprofile_age',
    ]
    # The hook's exit status (git ignores post-rewrite's): run it as git did.
    hook = run(
        repo, str(repo / '.git/hooks/post-rewrite'), 'rebase',
        stdin=f'{before} {git(repo, "rev-parse", "HEAD").strip()}\n',
    )
    assert hook.returncode == 1, hook.stderr
    assert 'Nothing was renamed.' in hook.stderr

    # The printed fix, as printed: rolled back, renamed, migrated forward.
    fixed = run(repo, MIGMERGE, *fix.split()[1:])
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert 'migrated forward to the renamed migrations' in fixed.stdout
    assert '0004_userprofile_address' in files(repo)
    assert_database_matches_files(repo)


def test_applied_and_rollback_rolls_back_renames_migrates_forward(
        tmp_path: Path, git_home: Path, venv_python: None,
) -> None:
    repo = project(tmp_path / 'repo')
    manage(repo, 'migrate', '-v0')
    assert rows(repo) == ['0001_initial', '0002_userprofile_name', '0003_userprofile_address']
    git(repo, 'config', 'migmerge.rollback', 'true')
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    out = proc.stderr
    steps = [
        'migmerge: the development database applied shop.0003_userprofile_address',
        '$ python manage.py migrate --skip-checks shop 0002_userprofile_name',
        'removed shop/migrations/0003_userprofile_address.py',
        'wrote shop/migrations/0004_userprofile_address.py',
        '$ python manage.py migrate --skip-checks shop 0004_userprofile_address',
        'migmerge: the development database is migrated forward',
    ]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), out
    assert 'undo this' not in out  # the database is known: no recipe
    assert git(repo, 'status', '--porcelain') == ''
    assert files(repo) == [
        '0001_initial', '0002_userprofile_name', '0003_userprofile_age',
        '0004_userprofile_address',
    ]
    assert_database_matches_files(repo)


def test_nothing_applied_renames(
        tmp_path: Path, git_home: Path, venv_python: None,
) -> None:
    repo = project(tmp_path / 'repo')
    git(repo, 'checkout', '-q', 'main~1')
    manage(repo, 'migrate', '-v0')  # up to 0002 only
    git(repo, 'checkout', '-q', 'feature')
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    assert (
        'migmerge: the development database applied none of the migrations '
        'to rename (`python manage.py showmigrations --skip-checks --list shop`)'
    ) in proc.stderr
    assert 'undo this' not in proc.stderr
    assert '0004_userprofile_address' in files(repo)
    assert git(repo, 'status', '--porcelain') == ''
    manage(repo, 'migrate', '-v0')
    assert_database_matches_files(repo)


def test_no_manage_py_is_unknown_and_prints_the_recipe(
        tmp_path: Path, git_home: Path, venv_python: None,
) -> None:
    repo = project(tmp_path / 'repo', manage=False)
    onto = git(repo, 'rev-parse', 'main').strip()
    proc = run(repo, 'git', 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    unknown = [
        line for line in proc.stderr.splitlines()
        if line.startswith('migmerge: cannot tell which migrations')
    ]
    assert unknown == [
        'migmerge: cannot tell which migrations the development database '
        'applied: no manage.py at the top of the work tree (configure '
        'showmigrations_command)',
    ]
    assert f'--rollback --move {onto[:12]}`' in proc.stderr  # the undo recipe
    assert '0004_userprofile_address' in files(repo)


# ------------------------------------------------ without Django: the command


def test_parse_showmigrations() -> None:
    text = (
        'shop\n'
        ' [X] 0001_initial\n'
        ' [X] 0002_x (applied at 2024-01-01 10:00:00)\n'
        ' [-] 0003_squashed_0004 (2 squashed migrations)\n'
        ' [ ] 0005_y\n'
        'billing\n'
        ' (no migrations)\n'
    )
    assert parse_showmigrations(text) == {
        'shop': frozenset({'0001_initial', '0002_x'}),
        'billing': frozenset(),
    }


def _lister(tmp_path: Path, body: str) -> tuple[str, ...]:
    script = tmp_path / 'lister.py'
    script.write_text(body)
    return (sys.executable, str(script), '{apps}')


def _answer(repo: Path, config: Config) -> tuple[frozenset[tuple[str, str]] | None, str]:
    answer = ask_database(str(repo), config, str(repo / '.git'), ['shop'])
    return answer.applied, answer.reason


def test_configured_command_needs_approval_and_is_bounded(tmp_path: Path, git_home: Path) -> None:
    repo = tmp_path / 'repo'
    repo.mkdir()
    git(repo, 'init', '-q')
    argv = _lister(tmp_path, 'import sys\nprint(sys.argv[1])\nprint(" [X] 0003_a")\n')
    config = Config(showmigrations_command=argv)
    applied, reason = _answer(repo, config)
    assert applied is None
    assert 'is not approved in this clone' in reason and '`migmerge approve-rollback`' in reason
    approve(str(repo / '.git'), argv)
    assert _answer(repo, config) == (frozenset({('shop', '0003_a')}), '')

    slow = _lister(tmp_path, 'import time\ntime.sleep(30)\n')
    approve(str(repo / '.git'), slow)
    applied, reason = _answer(repo, Config(showmigrations_command=slow, showmigrations_timeout=0.5))
    assert applied is None and reason.endswith('took longer than 0.5 s')

    failing = _lister(tmp_path, 'import sys\nsys.exit("no such table: django_migrations")\n')
    approve(str(repo / '.git'), failing)
    applied, reason = _answer(repo, Config(showmigrations_command=failing))
    assert applied is None
    assert reason.endswith('failed with exit status 1: no such table: django_migrations')

    # a configured rollback_command and the default showmigrations command:
    # the default might ask another database
    custom = Config(rollback_command=('docker', 'compose', 'run', '{app}', '{target}'))
    applied, reason = _answer(repo, custom)
    assert applied is None and 'showmigrations_command is not' in reason


def test_command_is_isolated_from_the_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `python` at the top of the work tree is not run even with `.` on
    PATH; git's hook variables do not reach the command; stdin is closed."""
    top = tmp_path / 'top'
    top.mkdir()
    marker = tmp_path / 'marker'
    fake = top / 'python'
    fake.write_text(f'#!/bin/sh\ntouch {marker}\n')
    fake.chmod(0o755)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'python').symlink_to(sys.executable)
    monkeypatch.setenv('PATH', f'.{os.pathsep}{os.pathsep}{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.setenv('GIT_INDEX_FILE', str(tmp_path / 'index'))
    monkeypatch.setenv('GIT_DIR', str(tmp_path / 'git'))
    code = (
        'import json, os, sys\n'
        'print(json.dumps([sys.executable, sorted(k for k in os.environ if k.startswith("GIT_")), sys.stdin.read()]))\n'
    )
    proc = run_isolated(('python', '-c', code), cwd=str(top), timeout=60)
    assert proc.returncode == 0, proc.stderr
    executable, git_vars, stdin = json.loads(proc.stdout)
    assert not marker.exists()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert git_vars == [] and stdin == ''


def test_configuration_keys(tmp_path: Path) -> None:
    from mergedriver.config import load_config
    from mergedriver.errors import MigmergeError

    write(tmp_path / 'setup.cfg', (
        '[migmerge]\n'
        'showmigrations_command = docker compose exec web python manage.py showmigrations --list {apps}\n'
        'showmigrations_timeout = 90\n'
    ))
    config = load_config(str(tmp_path))
    assert config.showmigrations_command[-2:] == ('--list', '{apps}')
    assert config.showmigrations_timeout == 90.0
    (tmp_path / 'setup.cfg').unlink()
    write(tmp_path / 'pyproject.toml', '[tool.migmerge]\nshowmigrations_timeout = -1\n')
    with pytest.raises(MigmergeError) as info:
        load_config(str(tmp_path))
    assert str(info.value) == (
        'pyproject.toml:2: showmigrations_timeout must be a positive number of seconds'
    )
