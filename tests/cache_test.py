from __future__ import annotations

import dataclasses
import marshal
import sqlite3
import sysconfig
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from mergedriver.cache import APP_RECORDS_KEPT
from mergedriver.cache import Cache
from mergedriver.cache import CACHE_FORMAT
from mergedriver.cache import decode_many
from mergedriver.cache import error_from_json
from mergedriver.cache import error_to_json
from mergedriver.cache import info_from_json
from mergedriver.cache import info_to_json
from mergedriver.cache import parser_version
from mergedriver.cache import records_from_blob
from mergedriver.cache import records_to_blob
from mergedriver.config import Config
from mergedriver.git.trees import directory_tree
from mergedriver.parsing.load import load_migrations
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo
from mergedriver.records import Unresolved

text = st.text(max_size=12)
maybe_text = st.none() | text
line = st.integers(min_value=1, max_value=10_000)
dependencies = st.lists(
    st.builds(Dependency, app=text, name=text, line=line, setting=maybe_text),
    max_size=4,
).map(tuple)
operations = st.lists(
    st.builds(
        OperationInfo,
        kind=text, line=line, model=maybe_text, field=maybe_text,
        new_name=maybe_text, target_name=maybe_text,
        fields=st.lists(text, max_size=3).map(tuple),
        is_data=st.booleans(), elidable=st.booleans(),
        scope=st.sampled_from(('both', 'state', 'database')),
    ),
    max_size=5,
).map(tuple)
infos = st.builds(
    MigrationInfo,
    app_label=text, name=text, path=text, class_line=line,
    dependencies=dependencies, replaces=dependencies, run_before=dependencies,
    initial=st.none() | st.booleans(), atomic=st.booleans(),
    operations=operations,
    unresolved=st.lists(
        st.builds(Unresolved, attribute=text, line=line, message=text),
        max_size=2,
    ).map(tuple),
)


def roundtrip(info: MigrationInfo) -> MigrationInfo:
    return info_from_json(
        info_to_json(info),
        app_label=info.app_label, name=info.name, path=info.path,
    )


@settings(max_examples=120, deadline=None)
@given(infos)
def test_json_roundtrip_generated(info: MigrationInfo) -> None:
    assert roundtrip(info) == info


errors = st.lists(
    st.tuples(text, text, text, st.none() | line, text), max_size=3,
).map(tuple)


@settings(max_examples=80, deadline=None)
@given(st.lists(infos, max_size=4).map(tuple), errors)
def test_app_blob_roundtrip_generated(
        migrations: tuple[MigrationInfo, ...],
        errors: tuple[tuple[str, str, str, int | None, str], ...],
) -> None:
    decoded = records_from_blob(records_to_blob(migrations, errors))
    assert decoded == (migrations, errors)
    assert decoded is not None
    for before, after in zip(migrations, decoded[0]):
        assert type(after) is MigrationInfo
        assert vars(after) == vars(before)


def test_app_blob_unpacks_operations_on_first_use() -> None:
    ops = (
        OperationInfo('AddField', 9, model='book', field='isbn'),
        OperationInfo('RunPython', 12, is_data=True),
    )
    with_ops = MigrationInfo('shop', '0002_isbn', 'shop/m/0002.py', operations=ops)
    without = MigrationInfo('shop', '0001_initial', 'shop/m/0001.py')
    decoded = records_from_blob(records_to_blob((with_ops, without), ()))
    assert decoded is not None
    first, second = decoded[0]
    assert 'operations' not in vars(first)  # still packed
    assert first.operations == ops
    assert 'operations' in vars(first)
    assert second.operations == ()
    assert first == with_ops and hash(first) == hash(with_ops)
    assert dataclasses.replace(first, name='0003_x').operations == ops
    # the field has no class-level default to fall back on
    assert not hasattr(MigrationInfo, 'operations')
    with pytest.raises(AttributeError):
        getattr(first, 'no_such_field')


@pytest.mark.parametrize('data', [
    b'', b'\xff\x00', marshal.dumps(1), marshal.dumps((1, 2)),
    marshal.dumps(((1,), ())), marshal.dumps((({'name': 'x'},), ())),
])
def test_app_blob_that_does_not_decode(data: bytes) -> None:
    assert records_from_blob(data) is None


def test_app_blob_roundtrip_real_corpus() -> None:
    tree = directory_tree(sysconfig.get_paths()['purelib'])
    result = load_migrations(tree, Config(), progress=False)
    decoded = records_from_blob(records_to_blob(result.migrations, ()))
    assert decoded == (result.migrations, ())


def test_json_roundtrip_real_corpus() -> None:
    tree = directory_tree(sysconfig.get_paths()['purelib'])
    result = load_migrations(tree, Config(), progress=False)
    assert len(result.migrations) > 300
    for info in result.migrations:
        assert roundtrip(info) == info


def test_identity_is_not_stored() -> None:
    info = MigrationInfo('shop', '0001_initial', 'shop/migrations/0001.py')
    assert info_to_json(info) == '{}'
    assert info_from_json('{}', app_label='a', name='b', path='c') == (
        MigrationInfo('a', 'b', 'c')
    )


def test_error_payload() -> None:
    assert error_from_json(error_to_json(3, 'bad')) == (3, 'bad')
    assert error_from_json(error_to_json(None, 'x')) == (None, 'x')
    assert error_from_json(info_to_json(MigrationInfo('a', 'b', 'c'))) is None


def test_get_and_put(tmp_path: Path) -> None:
    path = str(tmp_path / 'git' / 'migmerge' / 'cache.sqlite3')
    with Cache(path) as cache:
        assert cache.enabled
        assert cache.get_many(['a', 'b']) == {}
        cache.put_many([('a', '{"x":1}'), ('b', '{}')])
        cache.put_many([('a', '{"x":2}')])  # immutable: first row stays
    with Cache(path) as cache:
        assert cache.get_many(['a', 'b', 'c']) == {'a': '{"x":1}', 'b': '{}'}
        assert cache.get_many([]) == {}
    with Cache(path, version='other') as cache:
        assert cache.get_many(['a']) == {}


def test_version_hashes_the_parser_sources() -> None:
    version = parser_version()
    assert version.startswith(f'{CACHE_FORMAT}:') and len(version) == 42
    assert parser_version() == version


def test_unused_versions_expire(tmp_path: Path) -> None:
    path = str(tmp_path / 'cache.sqlite3')
    with Cache(path, version='old') as cache:
        cache.put_many([('a', '{}')])
    db = sqlite3.connect(path)
    with db:
        db.execute('UPDATE versions SET last_used = ?', (time.time() - 1e8,))
    db.close()
    Cache(path, version='new').close()
    db = sqlite3.connect(path)
    assert db.execute('SELECT count(*) FROM records').fetchone() == (0,)
    db.close()


def test_corrupt_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / 'cache.sqlite3'
    path.write_bytes(b'this is not a database' * 100)
    with Cache(str(path)) as cache:
        assert cache.enabled
        cache.put_many([('a', '{}')])
        assert cache.get_many(['a']) == {'a': '{}'}


def test_unusable_location_means_no_cache(tmp_path: Path) -> None:
    (tmp_path / 'file').write_text('')
    with Cache(str(tmp_path / 'file' / 'cache.sqlite3')) as cache:
        assert not cache.enabled
        assert cache.error is not None
        cache.put_many([('a', '{}')])
        assert cache.get_many(['a']) == {}
    with Cache(None) as cache:
        assert not cache.enabled and cache.error is None


def test_database_trouble_after_opening_disables(tmp_path: Path) -> None:
    path = tmp_path / 'cache.sqlite3'
    cache = Cache(str(path))
    db = sqlite3.connect(path)
    db.execute('DROP TABLE records')
    db.close()
    assert cache.get_many(['a']) == {}
    assert not cache.enabled
    assert 'records' in (cache.error or '')


def test_stats(tmp_path: Path) -> None:
    with Cache(str(tmp_path / 'c.sqlite3')) as cache:
        cache.put_stats('/repo', [('a.py', '1:2:3:4', 'x'), ('b.py', 'k', 'y')])
        cache.put_stats('/repo', [('a.py', '5:6:7:8', 'z')])
        cache.put_stats('/other', [('a.py', 'k', 'w')])
        assert cache.get_stats('/repo') == {
            'a.py': ('5:6:7:8', 'z'), 'b.py': ('k', 'y'),
        }


def test_app_rows_of_a_large_project_are_all_kept(tmp_path: Path) -> None:
    # 400 apps: their record blobs and graph pieces (800 rows) must not
    # push each other out, or every run would compute some of them again.
    rows = [(f'k{i}', b'x') for i in range(800)]
    with Cache(str(tmp_path / 'c.sqlite3')) as cache:
        cache.put_app_records(rows[:400], apps=400)
        cache.put_app_records(rows[400:], apps=400)
        assert len(cache.get_app_records(k for k, _ in rows)) == 800
        # a small project keeps the default number of rows
        cache.put_app_records([(f'n{i}', b'y') for i in range(10)], apps=2)
        kept = cache.get_app_records(
            [k for k, _ in rows] + [f'n{i}' for i in range(10)],
        )
        assert len(kept) == APP_RECORDS_KEPT


def test_stats_blob_that_does_not_decode(tmp_path: Path) -> None:
    path = str(tmp_path / 'c.sqlite3')
    with Cache(path) as cache:
        cache.put_stats('/repo', [('a.py', 'k', 'x')])
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE stat_blobs SET data = x'00ff'")
    db.close()
    with Cache(path) as cache:
        assert cache.get_stats('/repo') == {}
        cache.put_stats('/repo', [('b.py', 'k', 'y')])
        assert cache.get_stats('/repo') == {'b.py': ('k', 'y')}


def test_decode_many() -> None:
    texts = [info_to_json(MigrationInfo('a', 'b', 'c', atomic=False)), '{}']
    assert decode_many(texts) == [{'atomic': False}, {}]
    assert decode_many([]) == []
    assert decode_many(['{}', 'not json']) is None
    assert decode_many(['{}', '1']) is None
    assert decode_many(['{}}, {']) is None
