"""``migmerge check`` and ``migmerge graph`` end to end, through the real
console script in real git repositories."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration

MIGMERGE = os.path.join(os.path.dirname(sys.executable), 'migmerge')


def migmerge(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (MIGMERGE, *args), cwd=repo, capture_output=True, text=True,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert 'Traceback' not in proc.stdout + proc.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """myapp with 0001 <- 0002, committed."""
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, 'myapp', '0001_initial')
    add_migration(repo, 'myapp', '0002_second', [('myapp', '0001_initial')])
    commit_all(repo)
    return repo


def add_parallel_leaves(repo: Path) -> None:
    add_migration(repo, 'myapp', '0003_address', [('myapp', '0002_second')])
    add_migration(repo, 'myapp', '0003_age', [('myapp', '0002_second')])


def test_clean_repository(repo: Path) -> None:
    proc = migmerge(repo, 'check')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == (
        '2 migrations in 1 app: one leaf per app, no problems\n'
    )


def test_two_leaves_reported_with_djangos_message(repo: Path) -> None:
    add_parallel_leaves(repo)
    proc = migmerge(repo, 'check')
    assert proc.returncode == 1
    first = proc.stdout.splitlines()[0]
    assert first.startswith('myapp/migrations/0003_address.py:')
    assert first.endswith(
        'Conflicting migrations detected; multiple leaf nodes in the '
        'migration graph: (0003_address, 0003_age in myapp).',
    )
    assert 'leaf: myapp/migrations/0003_age.py' in proc.stdout
    assert 'migmerge resolve' in proc.stdout


def test_check_json_shape(repo: Path) -> None:
    add_parallel_leaves(repo)
    add_migration(repo, 'other', '0001_initial')
    proc = migmerge(repo, 'check', '--format', 'json')
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    assert document['version'] == 1
    assert document['apps'] == [
        {
            'app': 'myapp', 'path': 'myapp/migrations', 'migrations': 4,
            'leaves': ['0003_address', '0003_age'], 'conflict': True,
        },
        {
            'app': 'other', 'path': 'other/migrations', 'migrations': 1,
            'leaves': ['0001_initial'], 'conflict': False,
        },
    ]
    [problem] = document['problems']
    assert problem['kind'] == 'multiple-leaves'
    assert problem['app'] == 'myapp'
    assert problem['file'] == 'myapp/migrations/0003_address.py'
    assert set(problem) == {
        'kind', 'app', 'migration', 'file', 'line', 'message',
    }


def test_rev_and_index_read_other_states(repo: Path) -> None:
    # Work tree: two leaves; index: one of them staged; HEAD: clean.
    add_parallel_leaves(repo)
    git(repo, 'add', 'myapp/migrations/0003_age.py')
    assert migmerge(repo, 'check').returncode == 1
    assert migmerge(repo, 'check', '--index').returncode == 0
    assert migmerge(repo, 'check', '--rev', 'HEAD').returncode == 0
    git(repo, 'add', '-A')
    assert migmerge(repo, 'check', '--index').returncode == 1
    git(repo, 'commit', '-q', '-m', 'both')
    assert migmerge(repo, 'check', '--rev', 'HEAD').returncode == 1
    assert migmerge(repo, 'check', '--rev', 'HEAD~1').returncode == 0


def test_unknown_revision_is_unusable_input(repo: Path) -> None:
    proc = migmerge(repo, 'check', '--rev', 'no-such-branch')
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'migmerge: unknown revision: no-such-branch'


def test_outside_a_repository(tmp_path: Path) -> None:
    proc = migmerge(tmp_path, 'check')
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert_one_line_error(proc)


BAD_INPUTS = {
    'syntax-error': (
        b'from django.db import migrations\n\nclass Migration(\n',
        'parse-error', 3,
    ),
    'not-utf8': (
        b'from django.db import migrations\n# caf\xe9\n'
        b'class Migration(migrations.Migration):\n    pass\n',
        'parse-error', 2,
    ),
    'empty': (b'', 'parse-error', 1),
    'no-class': (
        b'from django.db import migrations\n\nMIGRATION = None\n',
        'parse-error', 1,
    ),
    'dynamic-dependencies': (
        b'from django.db import migrations\n'
        b'from myapp.util import compute\n\n\n'
        b'class Migration(migrations.Migration):\n'
        b'    dependencies = compute()\n',
        'unresolved-expression', 6,
    ),
    'missing-dependency': (
        b'from django.db import migrations\n\n\n'
        b'class Migration(migrations.Migration):\n'
        b"    dependencies = [('myapp', '0002_deleted')]\n",
        'missing-dependency', 5,
    ),
}


@pytest.mark.parametrize('case', sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(repo: Path, case: str) -> None:
    data, kind, line = BAD_INPUTS[case]
    path = repo / 'myapp' / 'migrations' / '0003_bad.py'
    path.write_bytes(data)
    proc = migmerge(repo, 'check')
    assert_one_line_error(proc)
    assert proc.returncode == 2, proc.stdout
    [first, *_] = proc.stdout.splitlines()
    assert first.startswith(f'myapp/migrations/0003_bad.py:{line}: ')
    document = json.loads(migmerge(repo, 'check', '--format', 'json').stdout)
    assert [p['kind'] for p in document['problems']] == [kind]
    # Nothing was lost or rewritten.
    assert path.read_bytes() == data


def test_dynamic_dependencies_make_the_app_unknown_not_conflicting(
        repo: Path,
) -> None:
    # Parallel leaves plus an unreadable edge: the verdict is "unknown",
    # never a multiple-leaves finding built on a guess.
    add_parallel_leaves(repo)
    write(
        repo / 'myapp' / 'migrations' / '0004_dynamic.py',
        'from django.db import migrations\n'
        'from myapp.util import compute\n\n\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = compute()\n',
    )
    document = json.loads(migmerge(repo, 'check', '--format', 'json').stdout)
    assert [p['kind'] for p in document['problems']] == [
        'unresolved-expression',
    ]
    [app] = document['apps']
    assert app['conflict'] is None


def test_cycle_is_unusable_input(repo: Path) -> None:
    write(
        repo / 'myapp' / 'migrations' / '0001_initial.py',
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('myapp', '0002_second')]\n",
    )
    proc = migmerge(repo, 'check')
    assert proc.returncode == 2
    assert_one_line_error(proc)
    assert 'myapp.0001_initial' in proc.stdout
    assert 'myapp.0002_second' in proc.stdout


def test_symlinked_and_huge_files(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / 'elsewhere.py'
    outside.write_text('class Migration:\n    pass\n')
    (repo / 'myapp' / 'migrations' / '0003_link.py').symlink_to(outside)
    proc = migmerge(repo, 'check')
    assert proc.returncode == 2
    assert_one_line_error(proc)
    assert proc.stdout.startswith('myapp/migrations/0003_link.py:1: ')
    (repo / 'myapp' / 'migrations' / '0003_link.py').unlink()

    huge = repo / 'myapp' / 'migrations' / '0003_huge.py'
    huge.write_text('# padding\n' * 400_000)
    proc = migmerge(repo, 'check')
    assert proc.returncode == 2
    assert_one_line_error(proc)
    assert proc.stdout.startswith('myapp/migrations/0003_huge.py:1: ')


def test_nothing_from_the_repository_is_executed(
        repo: Path, tmp_path: Path,
) -> None:
    marker = tmp_path / 'executed'
    for name, code in (
            ('myapp/migrations/0003_evil.py', 'migration'),
            ('myapp/apps.py', 'apps'),
            ('myapp/__init__.py', 'package'),
            ('myapp/migrations/__init__.py', 'migrations package'),
    ):
        write(
            repo / name,
            f'open({str(marker)!r}, "a").write({code!r})\n'
            + (
                'from django.db import migrations\n\n\n'
                'class Migration(migrations.Migration):\n'
                "    dependencies = [('myapp', '0002_second')]\n"
                if name.endswith('0003_evil.py') else ''
            ),
        )
    commit_all(repo)
    for args in (('check',), ('check', '--index'), ('check', '--rev', 'HEAD'),
                 ('graph',), ('graph', '--format', 'mermaid')):
        assert migmerge(repo, *args).returncode == 0
    assert not marker.exists()


def test_graph_json(repo: Path) -> None:
    add_migration(
        repo, 'other', '0001_initial', [('myapp', '0002_second'),
                                        ('auth', '0012_alter_user')],
    )
    proc = migmerge(repo, 'graph', '--format', 'json')
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document['version'] == 1
    assert document['leaves'] == {
        'myapp': ['0002_second'], 'other': ['0001_initial'],
    }
    by_name = {(n['app'], n['name']): n for n in document['nodes']}
    assert by_name[('other', '0001_initial')] == {
        'app': 'other',
        'name': '0001_initial',
        'file': 'other/migrations/0001_initial.py',
        'dependencies': [['auth', '0012_alter_user'], ['myapp', '0002_second']],
        'replaces': [],
    }


def test_graph_json_after_squash_replacement(repo: Path) -> None:
    write(
        repo / 'myapp' / 'migrations' / '0001_squashed_0002_second.py',
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        "    replaces = [('myapp', '0001_initial'), ('myapp', '0002_second')]\n",
    )
    add_migration(repo, 'myapp', '0003_third', [('myapp', '0002_second')])
    document = json.loads(migmerge(repo, 'graph').stdout)
    assert [n['name'] for n in document['nodes']] == [
        '0001_squashed_0002_second', '0003_third',
    ]
    assert document['nodes'][1]['dependencies'] == [
        ['myapp', '0001_squashed_0002_second'],
    ]
    assert document['nodes'][0]['replaces'] == [
        ['myapp', '0001_initial'], ['myapp', '0002_second'],
    ]
    assert document['leaves'] == {'myapp': ['0003_third']}


def test_graph_mermaid_marks_parallel_leaves(repo: Path) -> None:
    add_parallel_leaves(repo)
    proc = migmerge(repo, 'graph', '--format', 'mermaid')
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == 'flowchart TD'
    assert '  myapp__0002_second --> myapp__0003_age' in lines
    assert '  class myapp__0003_age leaf' in lines
    assert 'Conflicting migrations detected' in proc.stderr


def test_squash_beside_its_originals_and_a_later_migration(
        repo: Path,
) -> None:
    # 0001-0004, 0001_squashed_0004 replacing them, 0005 depending on the
    # original 0004: one leaf (static checkers that ignore replaces see two).
    add_migration(repo, 'myapp', '0003_third', [('myapp', '0002_second')])
    add_migration(repo, 'myapp', '0004_fourth', [('myapp', '0003_third')])
    add_migration(
        repo, 'myapp', '0001_squashed_0004_fourth',
        extra='    replaces = [%s]\n' % ', '.join(
            repr(('myapp', n)) for n in (
                '0001_initial', '0002_second', '0003_third', '0004_fourth',
            )
        ),
    )
    add_migration(repo, 'myapp', '0005_fifth', [('myapp', '0004_fourth')])
    proc = migmerge(repo, 'check', '--format', 'json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document['problems'] == []
    assert document['apps'][0]['leaves'] == ['0005_fifth']
    assert document['apps'][0]['conflict'] is False
    assert migmerge(repo, 'check').returncode == 0


def test_two_apps_with_one_migration_each(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / 'two')
    add_migration(repo, 'shop', '0001_initial')
    add_migration(repo, 'billing', '0001_initial', [('shop', '0001_initial')])
    proc = migmerge(repo, 'check')
    assert proc.returncode == 0, proc.stdout
    assert 'no problems' in proc.stdout
    assert 'multiple' not in proc.stdout


def test_leaves_without_common_ancestor(repo: Path) -> None:
    # Two roots in one app (say, two branches each started the app).
    # Django's makemigrations --merge raises a bare ValueError here.
    add_migration(repo, 'myapp', '0001_other_root')
    commit_all(repo)
    proc = migmerge(repo, 'check')
    assert proc.returncode == 1
    assert_one_line_error(proc)
    assert proc.stdout.splitlines()[0].endswith(
        'Conflicting migrations detected; multiple leaf nodes in the '
        'migration graph: (0001_other_root, 0002_second in myapp).',
    )
    proc = migmerge(repo, 'resolve', '--strategy', 'renumber', '--dry-run')
    assert proc.returncode == 1
    assert_one_line_error(proc)
    assert (
        'myapp/migrations/0001_other_root.py:4: the leaves of myapp '
        '(0001_other_root, 0002_second) share no migration; cannot renumber'
    ) in proc.stdout + proc.stderr
    # A merge migration joining both roots is still a valid graph.
    proc = migmerge(repo, 'resolve', '--strategy', 'merge')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert migmerge(repo, 'check').returncode == 0


def test_dependencies_built_on_a_setting(repo: Path) -> None:
    # Django loads either edge set depending on the setting; both are read.
    add_migration(repo, 'other', '0001_initial')
    write(
        repo / 'myapp' / 'migrations' / '0003_optional.py',
        'from django.conf import settings\n'
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('myapp', '0002_second')]\n"
        "    if 'other' in settings.INSTALLED_APPS:\n"
        "        dependencies.append(('other', '0001_initial'))\n",
    )
    proc = migmerge(repo, 'check')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(migmerge(repo, 'graph').stdout)
    by_name = {(n['app'], n['name']): n for n in document['nodes']}
    assert by_name[('myapp', '0003_optional')]['dependencies'] == [
        ['myapp', '0002_second'], ['other', '0001_initial'],
    ]
    # The conditional edge is checked like any other.
    optional = repo / 'myapp' / 'migrations' / '0003_optional.py'
    optional.write_text(
        optional.read_text().replace("'0001_initial'", "'0002_gone'"),
    )
    proc = migmerge(repo, 'check')
    assert proc.returncode == 2
    assert proc.stdout.startswith('myapp/migrations/0003_optional.py:8: ')
    assert "nonexistent parent node ('other', '0002_gone')" in proc.stdout


def test_dependency_on_an_app_whose_migrations_were_all_deleted(
        repo: Path,
) -> None:
    # `other` still has a migrations package, so Django counts it as
    # migrated and fails with NodeNotFoundError: missing, not external.
    write(repo / 'other' / '__init__.py', '')
    write(repo / 'other' / 'models.py', '')
    write(repo / 'other' / 'migrations' / '__init__.py', '')
    add_migration(
        repo, 'myapp', '0003_link',
        [('myapp', '0002_second'), ('other', '0001_initial')],
    )
    proc = migmerge(repo, 'check')
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout.startswith('myapp/migrations/0003_link.py:')
    assert (
        "Migration myapp.0003_link dependencies reference nonexistent parent "
        "node ('other', '0001_initial')"
    ) in proc.stdout


def test_bad_configuration_is_one_repo_relative_line(repo: Path) -> None:
    write(repo / 'pyproject.toml', '[tool.migmerge]\nbogus = 1\n')
    (repo / 'myapp' / 'sub').mkdir()
    for cwd in (repo, repo / 'myapp' / 'sub'):
        proc = migmerge(cwd, 'check')
        assert proc.returncode == 2
        assert proc.stderr == (
            "pyproject.toml:2: unknown setting 'bogus' in [tool.migmerge]\n"
        )


def outside_project(tmp_path: Path) -> Path:
    """A Django app with two leaves next to the repository, not in it."""
    outside = tmp_path / 'outside'
    add_migration(outside, 'stolen', '0001_initial')
    add_migration(outside, 'stolen', '0002_a', [('stolen', '0001_initial')])
    add_migration(outside, 'stolen', '0002_b', [('stolen', '0001_initial')])
    return outside


@pytest.mark.parametrize(('config', 'line'), (
    ('[tool.migmerge]\nsource_roots = [".", "../outside"]\n',
     "pyproject.toml:2: source_roots: '../outside' is outside the repository"),
    ('[tool.migmerge]\nsource_roots = ["{outside}"]\n',
     "pyproject.toml:2: source_roots: '{outside}' is outside the repository"),
    ('[tool.migmerge]\nsource_roots = ["src/../.."]\n',
     "pyproject.toml:2: source_roots: 'src/../..' is outside the repository"),
    ('[tool.migmerge]\n[tool.migmerge.app_labels]\n"../outside/stolen" = "x"\n',
     "pyproject.toml:2: app_labels: '../outside/stolen' is outside the repository"),
    ('[migmerge]\nsource_roots =\n    .\n    ../outside\n',
     "setup.cfg:2: source_roots: '../outside' is outside the repository"),
    ('[tool.migmerge]\nsource_roots = ["linked"]\n',
     "pyproject.toml:2: source_roots: 'linked' is outside the repository"),
    ('[tool.migmerge]\nsource_roots = ["."]\n[tool.migmerge.migration_modules]\nstolen = "linked.stolen.migrations"\n',
     "pyproject.toml:3: migration_modules: 'linked.stolen.migrations' is outside the repository"),
    ('[tool.migmerge]\n[tool.migmerge.app_labels]\n"linked/stolen" = "x"\n',
     "pyproject.toml:2: app_labels: 'linked/stolen' is outside the repository"),
))
def test_configured_paths_outside_the_repository(
        repo: Path, tmp_path: Path, config: str, line: str,
) -> None:
    """check and resolve refuse (exit 2, one line naming the file and the
    key) before reading or writing anything out there."""
    outside = outside_project(tmp_path)
    (repo / 'linked').symlink_to(outside, target_is_directory=True)
    filename = 'setup.cfg' if config.startswith('[migmerge]') else 'pyproject.toml'
    write(repo / filename, config.replace('{outside}', str(outside)))
    before = sorted(p.name for p in (outside / 'stolen/migrations').iterdir())
    for args in (('check',), ('resolve',)):
        proc = migmerge(repo, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        output = (proc.stdout + proc.stderr).splitlines()
        assert len(output) == 1, output
        assert output[0].startswith(line.replace('{outside}', str(outside))), output
    assert sorted(p.name for p in (outside / 'stolen/migrations').iterdir()) == before


@pytest.mark.parametrize('case', ('dev-zero', 'fifo', 'outside'))
def test_configuration_file_is_read_guarded(
        repo: Path, tmp_path: Path, case: str,
) -> None:
    """pyproject.toml linking to /dev/zero or outside, or a FIFO: one line,
    exit 2, promptly (the timeout fails a hang)."""
    config = repo / 'pyproject.toml'
    if case == 'dev-zero':
        config.symlink_to('/dev/zero')
    elif case == 'fifo':
        os.mkfifo(config)
    else:
        config.symlink_to(write(tmp_path / 'elsewhere.toml', '[tool.migmerge]\n'))
    for args in (('check',), ('resolve', '--dry-run')):
        proc = subprocess.run(
            (MIGMERGE, *args), cwd=repo, capture_output=True, text=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert proc.stderr.startswith('pyproject.toml:1: '), proc.stderr
        assert len(proc.stderr.splitlines()) == 1
