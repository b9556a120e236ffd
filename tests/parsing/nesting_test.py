"""Deeply nested modules are refused before any parser sees them (libcst's
native parser dies with SIGSEGV on them), quickly and with one line: in
``check``, in a hook and in the merge driver, which falls back to git's
text merge."""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from mergedriver.errors import ParseError
from mergedriver.integration import install as gitsetup
from mergedriver.parsing.nesting import MAX_DEPTH
from mergedriver.parsing.nesting import too_deep
from mergedriver.parsing.reader import read_migration
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import add_migration
from testing.migrations import migration_source

BIN = os.path.dirname(sys.executable)
# What crashed or hung before (issue 12): segfaults in libcst's parser,
# RecursionErrors, minutes of evaluation.
DEEP = {
    'brackets': 'x = ' + '(' * 1300 + '1' + ')' * 1300,
    'unary-minus': 'x = ' + '-' * 20_000 + '1',
    'lambdas': 'x = ' + 'lambda: ' * 5000 + '1',
    'plus-1000': 'x = ' + ' + '.join(['1'] * 1000),
    'plus-8000': 'x = ' + ' + '.join(['1'] * 8000),
    'attributes': 'x = a' + '.b' * 5000,
    'calls': 'x = f' + '()' * 5000,
    'not': 'x = ' + 'not ' * 5000 + 'y',
    'continued-lines': 'x = 1' + ' + \\\n    1' * 3000,
}


def deep_module(case: str) -> str:
    """A migration whose line 6 nests too deeply."""
    return (
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = []\n'
        f'    {DEEP[case]}\n'
        '    operations = []\n'
    )


def list_additions(count: int) -> str:
    return (
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = []\n'
        '    operations = ' + ' + '.join(['[]'] * count) + '\n'
    )


@pytest.mark.parametrize('case', sorted(DEEP))
def test_deep_module_is_one_parse_error_in_milliseconds(case: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError) as raised:
        read_migration(
            deep_module(case).encode(), app_label='app', name='0001_deep',
            path='app/migrations/0001_deep.py',
        )
    elapsed = time.perf_counter() - start
    # the line where the bound is crossed: the statement's own, unless it
    # continues over several lines
    line = 6 if case != 'continued-lines' else 6 + MAX_DEPTH - 1
    assert str(raised.value) == (
        f'app/migrations/0001_deep.py:{line}: module is too deeply nested'
    )
    assert elapsed < 0.5, elapsed  # measured: a few milliseconds


def test_5000_list_additions_are_refused_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError, match='too deeply nested'):
        read_migration(
            list_additions(5000).encode(), app_label='app', name='0001_x',
            path='app/migrations/0001_x.py',
        )
    assert time.perf_counter() - start < 0.5


def test_moderate_chains_still_read() -> None:
    info = read_migration(
        list_additions(150).encode(), app_label='app', name='0001_x',
        path='app/migrations/0001_x.py',
    )
    assert info.operations == ()


def test_bound_sits_above_every_real_migration() -> None:
    """Django's, wagtail's and django-oscar's migrations (the corpus) nest
    far less than the bound; the scan counts brackets, operators, dots,
    keyword operators and indentation."""
    purelib = sysconfig.get_paths()['purelib']
    files = glob.glob(os.path.join(purelib, '*', '**', 'migrations', '*.py'), recursive=True)
    assert len(files) > 300
    for path in files:
        with open(path, encoding='utf-8', errors='replace') as f:
            assert too_deep(f.read(), MAX_DEPTH // 4) is None, path


def test_strings_and_comments_do_not_count() -> None:
    text = (
        f"x = '{'(' * 500}'\n"
        f'y = """{"-" * 500}\n{"[" * 500}"""  # {"(" * 500}\n'
        f"z = f'{{a}}{'.' * 500}'\n"
    )
    assert too_deep(text) is None
    assert too_deep('x = ' + '(' * 201 + '1' + ')' * 201) == 1
    assert too_deep('x = ' + '(' * 150 + '1' + ')' * 150) is None


def test_check_and_hook_exit_2_without_crashing(tmp_path: Path, git_home: Path) -> None:
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, 'app', '0001_initial')
    write(repo / 'app/migrations/0002_deep.py', deep_module('brackets'))
    commit_all(repo)
    line = 'app/migrations/0002_deep.py:6: module is too deeply nested'
    check = subprocess.run(
        (os.path.join(BIN, 'migmerge'), 'check'), cwd=repo,
        capture_output=True, text=True, timeout=60,
    )
    assert check.returncode == 2, check.stdout + check.stderr  # not -11
    assert line in check.stdout
    hook = subprocess.run(
        (os.path.join(BIN, 'migmerge-single-migration-leaf'),), cwd=repo,
        capture_output=True, text=True, timeout=60,
    )
    assert hook.returncode == 2, hook.stdout + hook.stderr
    assert line in hook.stdout + hook.stderr


def test_merge_driver_falls_back_to_git_text_merge(tmp_path: Path, git_home: Path) -> None:
    """Both sides change one migration and theirs nests too deeply: the
    driver leaves it to git's text merge (conflict markers), instead of
    dying and leaving a conflict without markers."""
    repo = make_repo(tmp_path / 'repo')
    gitsetup.install(str(repo))
    for hook in gitsetup.HOOK_NAMES:
        (repo / '.git/hooks' / hook).unlink()
    path = repo / 'app/migrations/0002_x.py'
    field = "        migrations.AddField('m', '{}', models.IntegerField()),\n"
    write(path, migration_source([('app', '0001_initial')], field.format('a')))
    commit_all(repo, 'base')
    git(repo, 'checkout', '-q', '-b', 'other')
    write(path, migration_source(
        [('app', '0001_initial')], field.format('a') + field.format('theirs'),
        extra=f'    {DEEP["brackets"]}\n',
    ))
    commit_all(repo, 'theirs')
    git(repo, 'checkout', '-q', 'main')
    write(path, migration_source([('app', '0001_initial')], field.format('a') + field.format('ours')))
    commit_all(repo, 'ours')
    proc = subprocess.run(
        ('git', 'merge', '--no-edit', 'other'), cwd=repo, capture_output=True,
        text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert 'CONFLICT (content)' in proc.stdout
    text = path.read_text()
    assert '<<<<<<< ours' in text and '>>>>>>> theirs' in text
