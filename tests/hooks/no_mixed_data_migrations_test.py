from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.no_mixed_data_migrations import main
from testing.git import make_repo
from testing.git import write
from testing.hooks import run_hook
from testing.migrations import add_migration

ADD_FIELD = "        migrations.AddField('post', 'slug', models.SlugField(default='')),\n"
ALTER_FIELD = "        migrations.AlterField('post', 'title', models.TextField()),\n"
RUN_PYTHON = '        migrations.RunPython(fill_slugs, migrations.RunPython.noop),\n'
FUNCTION = 'def fill_slugs(apps, schema_editor):\n    pass\n\n\n'
DDL = "        migrations.RunSQL('CREATE INDEX post_slug ON blog_post (slug)'),\n"
DML = "        migrations.RunSQL(\"UPDATE blog_post SET slug = id\"),\n"


@pytest.fixture
def repo(
        tmp_path: Path,
        git_home: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
) -> Path:
    repo = make_repo(tmp_path / 'project')
    add_migration(repo, 'blog', '0001_initial')
    monkeypatch.chdir(repo)
    return repo


def migration(repo: Path, operations: str, **kwargs: str) -> str:
    add_migration(
        repo, 'blog', '0002_change', [('blog', '0001_initial')], operations,
        **kwargs,
    )
    return 'blog/migrations/0002_change.py'


def test_mixed_migration_fails(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = migration(repo, ADD_FIELD + RUN_PYTHON + ALTER_FIELD, header=FUNCTION)
    # lines: 14 AddField, 15 RunPython, 16 AlterField
    assert run_hook(main, capsys, path) == (1, [
        'blog/migrations/0002_change.py:15: mixes data operations '
        '[RunPython (line 15)] with schema operations '
        '[AddField (line 14), AlterField (line 16)]; split it: keep the '
        'schema operations here and move the data operations to a migration '
        'of their own that depends on this one '
        "(after review, '# migmerge: allow-mixed-data' allows it)",
    ])


@pytest.mark.parametrize(
    ('operations', 'header'),
    (
        pytest.param(RUN_PYTHON, FUNCTION, id='pure-data'),
        pytest.param(RUN_PYTHON + DML, FUNCTION, id='pure-data-run-sql'),
        pytest.param(ADD_FIELD + ALTER_FIELD, '', id='pure-schema'),
        pytest.param(ADD_FIELD + DDL, '', id='ddl-only-run-sql'),
        pytest.param('', '', id='empty'),
    ),
)
def test_unmixed_migrations_pass(
        repo: Path, capsys: pytest.CaptureFixture[str],
        operations: str, header: str,
) -> None:
    path = migration(repo, operations, header=header)
    assert run_hook(main, capsys, path) == (0, [])


def test_data_run_sql_beside_schema_fails(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = migration(repo, ADD_FIELD + DML)
    ret, lines = run_hook(main, capsys, path)
    assert ret == 1
    assert lines[0].startswith(
        'blog/migrations/0002_change.py:11: mixes data operations '
        '[RunSQL (line 11)] with schema operations [AddField (line 10)]',
    )


SEPARATE = (
    '        migrations.SeparateDatabaseAndState(\n'
    '            state_operations=[\n'
    "                migrations.AddField('post', 'slug', models.SlugField()),\n"
    '            ],\n'
    '            database_operations=[\n'
    '{database}'
    '            ],\n'
    '        ),\n'
)


def test_separate_database_and_state_mixed_in_database_operations(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    database = (
        "                migrations.RunSQL('ALTER TABLE blog_post ADD slug text'),\n"
        '                migrations.RunPython(fill_slugs),\n'
    )
    path = migration(repo, SEPARATE.format(database=database), header=FUNCTION)
    ret, lines = run_hook(main, capsys, path)
    assert ret == 1
    assert lines[0].startswith(
        'blog/migrations/0002_change.py:20: mixes data operations '
        '[RunPython (line 20)] with schema operations [RunSQL (line 19)]',
    )


def test_separate_database_and_state_data_beside_outer_schema(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    database = '                migrations.RunPython(fill_slugs),\n'
    operations = ALTER_FIELD + SEPARATE.format(database=database)
    path = migration(repo, operations, header=FUNCTION)
    ret, lines = run_hook(main, capsys, path)
    assert ret == 1
    assert '[AlterField (line 14)]' in lines[0]


def test_state_operations_are_not_schema(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The state-only AddField runs no SQL: a data migration that also moves
    # Django's state along is not mixed.
    database = '                migrations.RunPython(fill_slugs),\n'
    path = migration(repo, SEPARATE.format(database=database), header=FUNCTION)
    assert run_hook(main, capsys, path) == (0, [])


@pytest.mark.parametrize(
    'pragma',
    (
        '# migmerge: allow-mixed-data\n',
        '#migmerge:allow-mixed-data  (reviewed in #123)\n',
    ),
)
def test_pragma_allows_a_reviewed_exception(
        repo: Path, capsys: pytest.CaptureFixture[str], pragma: str,
) -> None:
    path = migration(
        repo, ADD_FIELD + RUN_PYTHON, header=pragma + FUNCTION,
    )
    assert run_hook(main, capsys, path) == (0, [])


def test_pragma_must_be_the_exact_words(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = migration(
        repo, ADD_FIELD + RUN_PYTHON,
        header='# migmerge: allow-mixed-database\n' + FUNCTION,
    )
    assert run_hook(main, capsys, path)[0] == 1


@pytest.mark.parametrize(
    ('pattern', 'expected'),
    (
        ('blog/migrations/0002_change.py', 0),
        ('blog/migrations/*', 0),
        ('**/0002_*.py', 0),
        ('shop/**', 1),
        ('blog/migrations/0003_*', 1),
    ),
)
def test_config_allowlist(
        repo: Path, capsys: pytest.CaptureFixture[str],
        pattern: str, expected: int,
) -> None:
    write(
        repo / 'pyproject.toml',
        f'[tool.migmerge]\nallow_mixed_data = [{pattern!r}]\n',
    )
    path = migration(repo, ADD_FIELD + RUN_PYTHON, header=FUNCTION)
    assert run_hook(main, capsys, path)[0] == expected


def test_only_the_files_passed_are_checked(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    migration(repo, ADD_FIELD + RUN_PYTHON, header=FUNCTION)
    add_migration(repo, 'blog', '0003_other', [('blog', '0002_change')], ADD_FIELD)
    assert run_hook(main, capsys, 'blog/migrations/0003_other.py') == (0, [])


def test_several_files_each_reported(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    migration(repo, ADD_FIELD + RUN_PYTHON, header=FUNCTION)
    add_migration(repo, 'shop', '0001_initial', [], DML + ADD_FIELD)
    ret, lines = run_hook(
        main, capsys, 'blog/migrations/0002_change.py', 'shop/migrations/0001_initial.py',
    )
    assert ret == 1
    assert [line.split(':')[0] for line in lines] == [
        'blog/migrations/0002_change.py', 'shop/migrations/0001_initial.py',
    ]


def test_non_migration_files_are_skipped(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / 'blog/migrations/__init__.py', 'x = (\n')
    write(repo / 'blog/models.py', 'this is not python(\n')
    assert run_hook(
        main, capsys, 'blog/migrations/__init__.py', 'blog/models.py',
    ) == (0, [])


def test_configured_migration_module_is_checked(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        repo / 'setup.cfg',
        '[migmerge]\nmigration_modules =\n    blog = blog.db_migrations\n',
    )
    path = write(
        repo / 'blog/db_migrations/0002_x.py',
        (repo / migration(repo, ADD_FIELD + DML)).read_text(),
    )
    ret, lines = run_hook(main, capsys, str(path.relative_to(repo)))
    assert ret == 1
    assert lines[0].startswith('blog/db_migrations/0002_x.py:11: ')


def test_unreadable_migration_is_one_line_and_exit_2(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo / 'blog/migrations/0002_broken.py', 'class Migration(\n')
    assert main(['blog/migrations/0002_broken.py']) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.startswith('blog/migrations/0002_broken.py:1: ')
    assert len(err.splitlines()) == 1


def test_run_from_a_subdirectory_reports_repo_paths(
        repo: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
) -> None:
    migration(repo, ADD_FIELD + RUN_PYTHON, header=FUNCTION)
    monkeypatch.chdir(repo / 'blog')
    ret, lines = run_hook(main, capsys, 'migrations/0002_change.py')
    assert ret == 1
    assert lines[0].startswith('blog/migrations/0002_change.py:15: ')


def test_run_python_in_state_operations_never_runs(
        repo: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    operations = ADD_FIELD + (
        '        migrations.SeparateDatabaseAndState(\n'
        '            state_operations=[migrations.RunPython(fill_slugs)],\n'
        '        ),\n'
    )
    path = migration(repo, operations, header=FUNCTION)
    assert run_hook(main, capsys, path) == (0, [])


@pytest.mark.parametrize('case', ('dev-zero', 'outside', 'fifo', 'huge', 'directory-link'))
def test_unsafe_file_argument_is_refused_not_read(
        repo: Path, tmp_path: Path, case: str,
) -> None:
    """A migration argument that links to /dev/zero or outside the
    repository, a FIFO, a huge file: one line and exit 2, promptly (a hang
    fails the test by its timeout)."""
    mixed = (
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        '    operations = [\n'
        "        migrations.RunPython(migrations.RunPython.noop),\n"
        "        migrations.DeleteModel('Old'),\n"
        '    ]\n'
    )
    outside = write(tmp_path / 'outside' / '0003_mixed.py', mixed)
    relative = 'blog/migrations/0003_mixed.py'
    target = repo / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if case == 'dev-zero':
        target.symlink_to('/dev/zero')
    elif case == 'outside':
        target.symlink_to(outside)
    elif case == 'fifo':
        os.mkfifo(target)
    elif case == 'huge':
        write(target, mixed + '#' * (3 * 1024 * 1024))
    else:
        relative = 'linked/migrations/0003_mixed.py'
        (repo / 'linked').mkdir()
        (repo / 'linked/migrations').symlink_to(outside.parent, target_is_directory=True)
    script = os.path.join(os.path.dirname(sys.executable), 'migmerge-no-mixed-data-migrations')
    proc = subprocess.run(
        (script, relative), cwd=repo, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'{relative}:1: '), proc.stderr
    assert proc.stdout == ''
