"""The merge driver: lock-file entries, conflict-marker bases, migration
modules merged structurally, and the fallback to git's text merge."""
from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.driver.mergefile import detect_mode
from mergedriver.driver.mergefile import merge_file
from mergedriver.driver.mergefile import merge_lockfile
from mergedriver.driver.mergefile import merge_max_migration
from mergedriver.driver.mergefile import resolve_entry
from mergedriver.driver.mergefile import Sides
from mergedriver.driver.modulemerge import merge3
from mergedriver.driver.modulemerge import merge_module
from mergedriver.errors import MigmergeError
from mergedriver.integration import install as gitsetup
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import write
from testing.migrations import migration_source

NOW = datetime.datetime(2024, 5, 6, 7, 8)


@pytest.mark.parametrize(('base', 'ours', 'theirs', 'mode', 'expected'), (
    # one side moved: take it
    ({'0002_a'}, '0002_a', '0003_b', 'merge', '0003_b'),
    ({'0002_a'}, '0003_b', '0002_a', 'merge', '0003_b'),
    ({'0002_a'}, '0003_b', '0003_b', 'merge', '0003_b'),
    # both moved, merge: Django's merge migration name
    ({'0002_a'}, '0003_y', '0003_x', 'merge', '0004_merge_0003_x_0003_y'),
    ((), '0005_y', '0003_x', 'merge', '0006_merge_0003_x_0005_y'),
    ({'0002_a'}, '0003_' + 'y' * 30, '0003_' + 'x' * 30, 'merge',
     '0004_merge_20240506_0708'),
    # both moved, rebase: theirs (replayed) after ours (upstream)
    ({'0002_a'}, '0003_up', '0003_mine', 'rebase', '0004_mine'),
    ({'0002_a'}, '0003_up', '0004_mine', 'rebase', '0005_mine'),
    ({'0003_mine'}, '0004_mine', '0004_next', 'rebase', '0005_next'),
    ((), '0003_up', '0003_mine', 'rebase', '0004_mine'),
    # an app on one side only
    ((), None, '0001_initial', 'merge', '0001_initial'),
))
def test_resolve_entry(
        base: set[str], ours: str | None, theirs: str | None, mode: str,
        expected: str,
) -> None:
    assert resolve_entry(
        frozenset(base), ours, theirs, mode=mode, now=NOW,  # type: ignore[arg-type]
    ) == expected


def test_resolve_entry_rebase_without_number() -> None:
    with pytest.raises(MigmergeError, match='no number'):
        resolve_entry(frozenset(), 'auto_up', '0003_x', mode='rebase', now=NOW)


@pytest.mark.parametrize('base', (
    '0002_a\n',
    # a virtual merge base with conflict markers, plain and diff3 style
    '<<<<<<< ours\n0002_a\n=======\n0002_b\n>>>>>>> theirs\n',
    '<<<<<<< ours\n0002_a\n||||||| base\n0001_x\n=======\n0002_b\n>>>>>>> theirs\n',
    '',
    'not a name!\n',
))
def test_max_migration(base: str) -> None:
    sides = Sides(base=base or None, ours='0003_y\n', theirs='0003_x\n')
    assert merge_max_migration(
        sides, path='app/migrations/max_migration.txt', mode='merge', now=NOW,
    ) == '0004_merge_0003_x_0003_y\n'


@pytest.mark.parametrize('size', (7, 9))
def test_max_migration_base_marker_names_one_side(size: int) -> None:
    base = (
        f'{"<" * size} ours\n0002_a\n{"=" * size}\n0003_x\n'
        f'{">" * size} theirs\n'
    )
    sides = Sides(base=base, ours='0003_y\n', theirs='0003_x\n')
    # theirs is in the base already: only ours moved
    assert merge_max_migration(
        sides, path='max_migration.txt', mode='merge', now=NOW,
    ) == '0003_y\n'


def test_max_migration_sides_with_markers_are_refused() -> None:
    sides = Sides(
        base='0002_a\n', ours='<<<<<<< a\n0003_y\n=======\n0003_z\n>>>>>>> b\n',
        theirs='0003_x\n',
    )
    with pytest.raises(MigmergeError, match='conflict markers'):
        merge_max_migration(sides, path='max_migration.txt', mode='merge', now=NOW)


HEADER = 'Lock file.\nDo not edit.\n\n'


def test_lockfile() -> None:
    sides = Sides(
        base=HEADER + 'auth: 0012_a\nshop: 0002_a\nsites: 0001_a\n',
        ours=HEADER + 'auth: 0013_ours\nshop: 0003_y\nsites: 0001_a\n',
        theirs=HEADER + 'blog: 0001_initial\nshop: 0003_x\nauth: 0012_a\n',
    )
    assert merge_lockfile(
        sides, path='migrations_lockfile.txt', mode='merge', now=NOW,
    ) == HEADER + (
        'auth: 0013_ours\n'
        'blog: 0001_initial\n'
        'shop: 0004_merge_0003_x_0003_y\n'
    )


# ------------------------------------------------------------ modules


def add_field(name: str, model: str = 'userprofile') -> str:
    return (
        '        migrations.AddField(\n'
        f"            model_name='{model}',\n"
        f"            name='{name}',\n"
        "            field=models.TextField(default=''),\n"
        '        ),\n'
    )


DEP = [('shop', '0001_initial')]


def test_merge3() -> None:
    assert merge3('abcde', 'aXcde', 'abcdY') == list('aXcdY')
    assert merge3('abc', 'aXc', 'aYc') is None
    assert merge3('abc', 'aXc', 'aXc') == list('aXc')
    assert merge3('ab', 'abX', 'abY') is None
    assert merge3('ab', 'abX', 'abY', both_insert=lambda x, y: x + y) == list('abXY')


def test_module_disjoint_edits() -> None:
    base = migration_source(DEP, add_field('a') + add_field('b') + add_field('c'))
    ours = migration_source(DEP + [('auth', '0012_x')], add_field('a2') + add_field('b') + add_field('c'))
    theirs = migration_source(DEP, add_field('a') + add_field('b') + add_field('c3'))
    assert merge_module(base, ours, theirs) == migration_source(
        DEP + [('auth', '0012_x')], add_field('a2') + add_field('b') + add_field('c3'),
    )


def test_module_added_on_both_sides() -> None:
    ours = migration_source(DEP, add_field('age'), header='# Generated by Django 5.2 on 2024-01-02 10:00\n\n')
    theirs = migration_source(
        DEP + [('auth', '0012_x')], add_field('address'),
        header='# Generated by Django 5.2 on 2024-01-01 09:00\n\n',
    ).replace('migrations, models', 'migrations')
    assert merge_module('', ours, theirs) == migration_source(
        DEP + [('auth', '0012_x')], add_field('age') + add_field('address'),
        header='# Generated by Django 5.2 on 2024-01-02 10:00\n\n',
    )


@pytest.mark.parametrize(('ours', 'theirs'), (
    # the same operation changed on both sides
    (add_field('a2') + add_field('b'), add_field('a3') + add_field('b')),
    # both append to the same field
    (add_field('a') + add_field('x'), add_field('a') + add_field('x')
     .replace("default=''", "default='t'")),
    # a data operation appended on both sides: order matters
    (add_field('a') + '        migrations.RunPython(f),\n',
     add_field('a') + '        migrations.RunPython(g),\n'),
))
def test_module_overlapping_edits(ours: str, theirs: str) -> None:
    base = migration_source(DEP, add_field('a') + add_field('b'))
    assert merge_module(
        base, migration_source(DEP, ours), migration_source(DEP, theirs),
    ) is None


def test_module_comments_in_lists_fall_back() -> None:
    base = migration_source(DEP, add_field('a'))
    ours = migration_source(DEP, add_field('a') + '        # note\n' + add_field('b'))
    theirs = migration_source(DEP + [('auth', '0012_x')], add_field('a'))
    assert merge_module(base, ours, theirs) is None
    # the same edit without the comment merges
    assert merge_module(base, ours.replace('        # note\n', ''), theirs)


def test_module_keeps_triple_quoted_sql() -> None:
    sql = "        migrations.RunSQL(\n            '''\nSELECT 1;\n'''\n        ),\n"
    base = migration_source(DEP, sql)
    ours = migration_source(DEP + [('auth', '0012_x')], sql)
    theirs = migration_source(DEP, sql + add_field('b'))
    merged = merge_module(base, ours, theirs)
    assert merged == migration_source(DEP + [('auth', '0012_x')], sql + add_field('b'))


# ------------------------------------------------------- the driver itself


def test_detect_mode(tmp_path: Path) -> None:
    assert detect_mode({'GITHEAD_' + 'a' * 40: 'x'}, str(tmp_path)) == 'merge'
    assert detect_mode({}, str(tmp_path)) is None
    (tmp_path / 'rebase-merge').mkdir()
    assert detect_mode({}, str(tmp_path)) == 'rebase'


def test_driver_never_crashes_and_falls_back(tmp_path: Path, git_home: Path) -> None:
    base = write(tmp_path / 'base', '0002_a\n')
    ours = write(tmp_path / 'ours', '0003_y\n')
    theirs = write(tmp_path / 'theirs', '../../etc/passwd\n')
    status = merge_file(str(base), str(ours), str(theirs), 'app/migrations/max_migration.txt')
    assert status == 1
    text = ours.read_text()
    assert text.startswith('<<<<<<< ours\n0003_y\n=======\n../../etc/passwd\n>>>>>>> theirs\n')


def test_driver_binary_content_falls_back(tmp_path: Path, git_home: Path) -> None:
    base = write(tmp_path / 'base', 'x\n')
    ours = tmp_path / 'ours'
    ours.write_bytes(b'\xff\xfe\n')
    theirs = write(tmp_path / 'theirs', 'y\n')
    assert merge_file(str(base), str(ours), str(theirs), 'a/migrations/0001_x.py') == 1


@pytest.fixture
def repo(tmp_path: Path, git_home: Path) -> Path:
    repo = make_repo(tmp_path / 'repo')
    gitsetup.install(str(repo))
    # the driver only: the hooks are tested elsewhere
    for hook in gitsetup.HOOK_NAMES:
        (repo / '.git/hooks' / hook).unlink()
    return repo


@pytest.mark.parametrize(('theirs_ops', 'conflict'), (
    (add_field('a') + add_field('b') + add_field('c3'), False),
    (add_field('a3') + add_field('b'), True),
))
def test_module_through_git_merge(repo: Path, theirs_ops: str, conflict: bool) -> None:
    path = repo / 'shop/migrations/0002_x.py'
    write(path, migration_source(DEP, add_field('a') + add_field('b')))
    commit_all(repo, 'base', hooks=False)
    git(repo, 'checkout', '-q', '-b', 'other')
    write(path, migration_source(DEP, theirs_ops))
    commit_all(repo, 'theirs', hooks=False)
    git(repo, 'checkout', '-q', 'main')
    write(path, migration_source(DEP + [('auth', '0012_x')], add_field('a2') + add_field('b')))
    commit_all(repo, 'ours', hooks=False)
    proc = subprocess.run(
        ('git', 'merge', '--no-edit', 'other'), cwd=repo, capture_output=True, text=True,
    )
    text = path.read_text()
    if conflict:
        assert proc.returncode == 1
        assert 'CONFLICT' in proc.stdout
        assert '<<<<<<< ours' in text and '>>>>>>> theirs' in text
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert text == migration_source(
            DEP + [('auth', '0012_x')], add_field('a2') + add_field('b') + add_field('c3'),
        )


def test_criss_cross_virtual_base_with_markers(repo: Path) -> None:
    """Two merge bases: git builds a virtual one with its text merge
    (merge.migmerge.recursive = text), conflict markers included; the
    driver reads through them."""
    lock = repo / 'shop/migrations/max_migration.txt'
    write(lock, '0002_a\n')
    commit_all(repo, 'base', hooks=False)
    for branch, name in (('x', '0003_x'), ('y', '0003_y')):
        git(repo, 'checkout', '-q', '-b', branch, 'main')
        write(lock, f'{name}\n')
        commit_all(repo, name, hooks=False)
    # criss-cross: each merges the other, resolved differently by hand
    tips = {b: git(repo, 'rev-parse', b).strip() for b in ('x', 'y')}
    # y keeps its own name: with the virtual base read, only x moved
    for branch, other, resolved in (('x', 'y', '0004_m1'), ('y', 'x', '0003_y')):
        git(repo, 'checkout', '-q', branch)
        git(repo, 'merge', '-q', '--no-edit', tips[other])
        write(lock, f'{resolved}\n')
        commit_all(repo, f'resolve {resolved}', hooks=False)
    assert len(git(repo, 'merge-base', '--all', 'x', 'y').split()) == 2
    git(repo, 'checkout', '-q', 'x')
    proc = subprocess.run(
        ('git', 'merge', '--no-edit', 'y'), cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lock.read_text() == '0004_m1\n'


def test_lockfile_rebase() -> None:
    sides = Sides(
        base=HEADER + 'auth: 0012_a\nshop: 0002_a\n',
        ours=HEADER + 'auth: 0013_up\nshop: 0003_up\n',
        theirs=HEADER + 'auth: 0012_a\nshop: 0004_mine\n',
    )
    assert merge_lockfile(
        sides, path='migrations_lockfile.txt', mode='rebase', now=NOW,
    ) == HEADER + 'auth: 0013_up\nshop: 0005_mine\n'


def test_cli_merge_file(tmp_path: Path, git_home: Path) -> None:
    """``migmerge merge-file`` (what a human or an older config runs)."""
    repo = make_repo(tmp_path / 'repo')
    base = write(tmp_path / 'base', '0002_a\n')
    ours = write(tmp_path / 'ours', '0003_y\n')
    theirs = write(tmp_path / 'theirs', '0003_x\n')
    proc = subprocess.run(
        (sys.executable, '-m', 'mergedriver', 'merge-file', str(base), str(ours),
         str(theirs), 'shop/migrations/max_migration.txt', '7'),
        cwd=repo, capture_output=True, text=True,
        env={**os.environ, 'GITHEAD_' + 'a' * 40: 'other'},
    )
    assert proc.returncode == 0, proc.stderr
    assert ours.read_text().startswith('0004_merge_0003_x_0003_y')
    # outside a merge or rebase (stash, cherry-pick): git's text merge
    write(ours, '0003_y\n')
    # Both addresses: clones installed before the driver moved into
    # driver/ still name mergedriver.mergefile in their git config.
    for module in ('mergedriver.driver.mergefile', 'mergedriver.mergefile'):
        write(ours, '0003_y\n')
        proc = subprocess.run(
            (sys.executable, '-m', module, str(base), str(ours),
             str(theirs), 'shop/migrations/max_migration.txt'),
            cwd=repo, capture_output=True, text=True,
        )
        assert proc.returncode == 1, module
        assert '<<<<<<< ours' in ours.read_text()
