from __future__ import annotations

import json
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.cache import Cache
from mergedriver.config import Config
from mergedriver.discovery.packages import discover
from mergedriver.git import trees as source
from mergedriver.git.trees import directory_tree
from mergedriver.git.trees import git_blob_id
from mergedriver.git.trees import open_tree
from mergedriver.parsing import load
from mergedriver.parsing.load import load_migrations
from mergedriver.parsing.load import LoadResult
from mergedriver.records import Dependency
from testing.git import git
from testing.git import make_repo


def migration(app: str, previous: str | None, field: str) -> str:
    deps = [] if previous is None else [(app, previous)]
    return (
        'from django.db import migrations, models\n'
        '\n'
        '\n'
        'class Migration(migrations.Migration):\n'
        f'    dependencies = {deps!r}\n'
        '    operations = [\n'
        f'        migrations.AddField("book", "{field}", '
        'models.IntegerField(default=0)),\n'
        '    ]\n'
    )


def make_app(root: Path, app: str, count: int, prefix: str = '') -> None:
    migrations = root / app / 'migrations'
    migrations.mkdir(parents=True, exist_ok=True)
    (root / app / 'models.py').write_text('')
    (migrations / '__init__.py').write_text('')
    previous = None
    for i in range(1, count + 1):
        name = f'{i:04d}_{prefix}f{i}'
        (migrations / f'{name}.py').write_text(migration(app, previous, f'f{i}'))
        previous = name


def summary(result: LoadResult) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (m.app_label, m.name, tuple(f'{d.app}.{d.name}' for d in m.dependencies))
        for m in result.migrations
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / 'repo'
    root.mkdir()
    make_repo(root)
    make_app(root, 'shop', 2)
    git(root, 'add', '.')
    git(root, 'commit', '-qm', 'shop')
    return root


def cache_db(repo: Path) -> sqlite3.Connection:
    return sqlite3.connect(repo / '.git' / 'migmerge' / 'cache.sqlite3')


def test_load_work_tree_and_head(repo: Path) -> None:
    (repo / 'shop/migrations/0003_more.py').write_text(
        migration('shop', '0002_f2', 'more'),
    )
    result = load_migrations(open_tree(str(repo)), Config())
    assert summary(result) == [
        ('shop', '0001_f1', ()),
        ('shop', '0002_f2', ('shop.0001_f1',)),
        ('shop', '0003_more', ('shop.0002_f2',)),
    ]
    assert result.problems == ()
    assert result.packages == {'shop': 'shop/migrations'}
    third = result.migrations[2]
    assert third.path == 'shop/migrations/0003_more.py'
    assert third.dependencies == (Dependency('shop', '0002_f2', 5),)
    assert [(o.kind, o.model, o.field) for o in third.operations] == [
        ('AddField', 'book', 'more'),
    ]
    head = load_migrations(open_tree(str(repo), rev='HEAD'), Config())
    assert head.migrations == result.migrations[:2]


def test_cache_hits_are_used(repo: Path) -> None:
    tree = open_tree(str(repo))
    cold = load_migrations(tree, Config())
    oid = git_blob_id((repo / 'shop/migrations/0001_f1.py').read_bytes())
    db = cache_db(repo)
    assert db.execute('SELECT count(*) FROM records').fetchone() == (2,)
    # A planted row proves the warm run reads the cache, not the file.
    with db:
        db.execute(
            'UPDATE records SET data = ? WHERE oid = ?',
            ('{"initial":true}', oid),
        )
        # Unchanged apps come back whole from their blob: that too is read
        # from the cache, not the files (see the test below).
        db.execute('DELETE FROM app_records')
    warm = load_migrations(open_tree(str(repo)), Config())
    assert warm.migrations[0].initial is True
    assert warm.migrations[0].operations == ()
    assert warm.migrations[1] == cold.migrations[1]
    # The index and HEAD hold the same blobs: the same rows serve them.
    staged = load_migrations(open_tree(str(repo), index=True), Config())
    assert staged.migrations[0].initial is True
    # Changed content is a new blob: parsed again.
    path = repo / 'shop/migrations/0001_f1.py'
    path.write_text(path.read_text() + '# edited\n')
    edited = load_migrations(open_tree(str(repo)), Config())
    assert edited.migrations[0].initial is None
    assert db.execute('SELECT count(*) FROM records').fetchone() == (3,)
    db.close()


def test_parse_errors_are_problems(repo: Path) -> None:
    migrations = repo / 'shop/migrations'
    (migrations / '0003_syntax.py').write_text(
        'from django.db import migrations\n\nclass Migration(:\n',
    )
    (migrations / '0004_latin1.py').write_bytes(b'# caf\xe9\n')
    (migrations / '0005_no_class.py').write_text('x = 1\n')
    for _ in range(2):  # cold, then from the cache
        result = load_migrations(open_tree(str(repo)), Config())
        assert [m.name for m in result.migrations] == ['0001_f1', '0002_f2']
        assert [
            (p.kind, p.app, p.migration, p.file, p.line)
            for p in result.problems
        ] == [
            ('parse-error', 'shop', '0003_syntax',
             'shop/migrations/0003_syntax.py', 3),
            ('parse-error', 'shop', '0004_latin1',
             'shop/migrations/0004_latin1.py', 1),
            ('parse-error', 'shop', '0005_no_class',
             'shop/migrations/0005_no_class.py', 1),
        ]
        assert all('\n' not in p.one_line() for p in result.problems)


def test_symlinks_and_huge_files_are_not_read(repo: Path) -> None:
    migrations = repo / 'shop/migrations'
    os.symlink('/etc/passwd', migrations / '0003_outside.py')
    os.symlink('0002_f2.py', migrations / '0004_inside.py')
    (migrations / '0005_huge.py').write_bytes(
        migration('shop', '0002_f2', 'x').encode() +
        b'#' * (load.MAX_MIGRATION_BYTES + 1),
    )
    result = load_migrations(open_tree(str(repo)), Config())
    assert [m.name for m in result.migrations] == ['0001_f1', '0002_f2']
    assert [p.one_line() for p in result.problems] == [
        "shop/migrations/0003_outside.py:1: symbolic link to '/etc/passwd': "
        'migmerge does not follow symlinked migration modules; commit the '
        'file itself',
        "shop/migrations/0004_inside.py:1: symbolic link to '0002_f2.py': "
        'migmerge does not follow symlinked migration modules; commit the '
        'file itself',
        'shop/migrations/0005_huge.py:1: file is 2.0 MB, over the 2 MB limit '
        'for a migration module; not read',
    ]
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'links')
    head = load_migrations(open_tree(str(repo), rev='HEAD'), Config())
    assert head.problems == result.problems


def test_identical_files_in_two_apps(tmp_path: Path) -> None:
    make_app(tmp_path, 'shop', 1)
    make_app(tmp_path, 'blog', 1)
    (tmp_path / 'blog/migrations/0001_f1.py').write_bytes(
        (tmp_path / 'shop/migrations/0001_f1.py').read_bytes(),
    )
    result = load_migrations(directory_tree(str(tmp_path)), Config())
    assert [(m.app_label, m.path) for m in result.migrations] == [
        ('blog', 'blog/migrations/0001_f1.py'),
        ('shop', 'shop/migrations/0001_f1.py'),
    ]


def test_corrupt_or_unusable_cache_never_breaks_a_run(repo: Path) -> None:
    expected = summary(load_migrations(open_tree(str(repo)), Config()))
    cache_file = repo / '.git/migmerge/cache.sqlite3'
    for suffix in ('-wal', '-shm'):
        Path(f'{cache_file}{suffix}').unlink(missing_ok=True)
    db = cache_db(repo)
    with db:  # a row that does not decode is a miss
        db.execute("UPDATE records SET data = 'garbage'")
        db.execute('DELETE FROM app_records')
    assert summary(load_migrations(open_tree(str(repo)), Config())) == expected
    assert db.execute(
        "SELECT count(*) FROM records WHERE data = 'garbage'",
    ).fetchone() == (0,)
    db.close()
    cache_file.write_bytes(b'\0garbage' * 1000)
    assert summary(load_migrations(open_tree(str(repo)), Config())) == expected
    db = cache_db(repo)
    assert db.execute('SELECT count(*) FROM records').fetchone() == (2,)
    db.close()
    for path in (repo / '.git/migmerge').iterdir():
        path.unlink()
    (repo / '.git/migmerge').rmdir()
    (repo / '.git/migmerge').write_text('a file where the directory goes')
    assert summary(load_migrations(open_tree(str(repo)), Config())) == expected


def test_app_records_blob_is_used_and_checked(repo: Path) -> None:
    cold = load_migrations(open_tree(str(repo)), Config())
    db = cache_db(repo)
    assert db.execute('SELECT count(*) FROM app_records').fetchone() == (1,)
    with db:  # the per-file rows are not needed while the app is unchanged
        db.execute('DELETE FROM records')
    warm = load_migrations(open_tree(str(repo)), Config())
    assert warm == cold
    assert db.execute('SELECT count(*) FROM records').fetchone() == (0,)
    with db:  # a blob that does not decode is a miss
        db.execute("UPDATE app_records SET data = x'00ff'")
    assert load_migrations(open_tree(str(repo)), Config()) == cold
    # A changed file makes a new key for its app: records come from the
    # per-file cache and the parser again.
    path = repo / 'shop/migrations/0002_f2.py'
    path.write_text(path.read_text().replace('f2', 'g2'))
    edited = load_migrations(open_tree(str(repo)), Config())
    assert edited.migrations[0] == cold.migrations[0]
    assert edited.migrations[1] != cold.migrations[1]
    assert edited.migrations[1].operations[0].field == 'g2'
    assert db.execute('SELECT count(*) FROM app_records').fetchone() == (2,)
    db.close()


@pytest.mark.parametrize('errors', [True, False])
def test_app_records_blob_round_trip(tmp_path: Path, errors: bool) -> None:
    make_app(tmp_path, 'shop', 3)
    if errors:
        (tmp_path / 'shop/migrations/0009_bad.py').write_text('class (\n')
    tree = directory_tree(
        str(tmp_path), cache_path=str(tmp_path / 'cache.sqlite3'),
    )
    cold = load_migrations(tree, Config())
    warm = load_migrations(
        directory_tree(
            str(tmp_path), cache_path=str(tmp_path / 'cache.sqlite3'),
        ),
        Config(),
    )
    assert warm == cold
    assert len(cold.problems) == int(errors)


def test_parallel_and_serial_agree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for app in ('shop', 'blog', 'news'):
        make_app(tmp_path, app, 150)
    tree = directory_tree(str(tmp_path))
    parallel = load_migrations(tree, Config(), progress=False)
    monkeypatch.setattr(load, 'PARALLEL_MIN', 10**9)
    serial = load_migrations(tree, Config(), progress=False)
    assert len(parallel.migrations) == 450
    assert parallel == serial


def test_progress_only_when_asked_or_on_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    make_app(tmp_path, 'shop', 3)
    tree = directory_tree(str(tmp_path))
    load_migrations(tree, Config(), progress=True)
    err = capsys.readouterr().err
    assert err.endswith('\rparsing migrations: 3/3\n')
    load_migrations(tree, Config())  # stderr is not a terminal here
    load_migrations(tree, Config(), progress=False)
    assert capsys.readouterr().err == ''


RUN = '''\
import json, sys
from mergedriver.config import Config
from mergedriver.parsing.load import load_migrations
from mergedriver.git.trees import open_tree

result = load_migrations(open_tree(sys.argv[1]), Config())
print(json.dumps({
    'migrations': len(result.migrations),
    'problems': [p.one_line() for p in result.problems],
    'loaded': sorted(
        m for m in ('libcst', 'mergedriver.parsing.reader', 'mergedriver.parsing.libcst_frontend')
        if m in sys.modules
    ),
}))
'''


def run(repo: Path, stderr: int = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        (sys.executable, '-c', RUN, str(repo)),
        stdout=subprocess.PIPE, stderr=stderr, text=True,
    )


def outcome(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return dict(json.loads(out), stderr=err)


def test_warm_run_imports_no_parser(repo: Path) -> None:
    # A syntax error sends the reader to libcst on the cold run; its
    # cached error must not on the warm run.
    (repo / 'shop/migrations/0003_bad.py').write_text('class Migration(:\n')
    cold = outcome(run(repo))
    assert cold['loaded'] == ['libcst', 'mergedriver.parsing.libcst_frontend', 'mergedriver.parsing.reader']
    warm = outcome(run(repo))
    assert warm['loaded'] == []
    assert warm['migrations'] == cold['migrations'] == 2
    assert warm['problems'] == cold['problems'] != []


def test_two_processes_warming_one_cache(repo: Path) -> None:
    for app in ('blog', 'news', 'wiki'):
        make_app(repo, app, 200)
    procs = [run(repo), run(repo)]
    first, second = (outcome(p) for p in procs)
    assert first['migrations'] == second['migrations'] == 602
    assert first['problems'] == second['problems'] == []
    tree = open_tree(str(repo))
    oids = {f.oid for f in discover(tree, Config())}
    assert len(oids) == 599  # every app's 0001 is the same blob
    with Cache(tree.cache_path) as cache:
        assert len(cache.get_many(oids)) == 599
    warm = outcome(run(repo))
    assert warm['loaded'] == []


def test_progress_on_a_terminal(repo: Path) -> None:
    make_app(repo, 'blog', load.PROGRESS_MIN)
    # A cold run into a pipe shows nothing.
    assert outcome(run(repo))['stderr'] == ''
    shutil.rmtree(repo / '.git' / 'migmerge')
    primary, secondary = pty.openpty()
    try:
        proc = run(repo, stderr=secondary)
        os.close(secondary)
        out, _ = proc.communicate(timeout=120)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    assert proc.returncode == 0
    shown = b''.join(chunks).decode()
    total = load.PROGRESS_MIN + 1  # distinct blobs: both 0001 are equal
    assert shown.startswith('\rparsing migrations: ')
    assert shown.endswith(f'\rparsing migrations: {total}/{total}\r\n')


def test_stat_cache_spares_reading_unchanged_files(
        repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache_file = str(repo / '.git/migmerge/cache.sqlite3')
    root = open_tree(str(repo)).stat_root
    assert root is not None

    def remembered() -> dict[str, tuple[object, str]]:
        with Cache(cache_file) as cache:
            return cache.get_stats(root)

    # Files written just now are "racy": their stat data is not kept.
    load_migrations(open_tree(str(repo)), Config())
    assert remembered() == {}
    monkeypatch.setattr(source, '_RACY_NS', 0)
    load_migrations(open_tree(str(repo)), Config())
    assert len(remembered()) == 2
    # A planted stat row proves the file is not read again: 0001 now
    # resolves to 0002's blob.
    first = repo / 'shop/migrations/0001_f1.py'
    second_oid = git_blob_id((repo / 'shop/migrations/0002_f2.py').read_bytes())
    key, _ = remembered()['shop/migrations/0001_f1.py']
    with Cache(cache_file) as cache:
        cache.put_stats(root, [('shop/migrations/0001_f1.py', key, second_oid)])
    db = cache_db(repo)
    planted = load_migrations(open_tree(str(repo)), Config())
    assert planted.migrations[0].dependencies[0].name == '0001_f1'
    # Any change of the file's stat data means reading it again.
    os.utime(first, ns=(1, 1))
    again = load_migrations(open_tree(str(repo)), Config())
    assert again.migrations[0].dependencies == ()
    # A row in an earlier release's format (the key as a string) is never
    # taken for the current stat data.
    st = first.stat()
    old_key = f'{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}'
    with Cache(cache_file) as cache:
        cache.put_stats(
            root, [('shop/migrations/0001_f1.py', old_key, second_oid)],
        )
    assert load_migrations(
        open_tree(str(repo)), Config(),
    ).migrations[0].dependencies == ()
    db.close()


@pytest.mark.parametrize('keep', [False, True])
def test_gc_paused(keep: bool) -> None:
    import gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with load.gc_paused(keep=keep):
            assert not gc.isenabled()
            made = [[i] for i in range(1000)]
        assert gc.isenabled()
        assert (gc.get_freeze_count() >= frozen + len(made)) == keep
        gc.disable()  # an outer pause is left as it is
        with load.gc_paused(keep=keep):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        if keep:
            gc.unfreeze()
