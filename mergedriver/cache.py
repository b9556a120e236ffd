"""Parsed migrations cached by git blob id (content-addressed).

One SQLite file in the repository's common git dir,
``<gitdir>/migmerge/cache.sqlite3``, shared by every linked work tree.  A
row maps (blob id, parser version) to the JSON of a MigrationInfo without
its identity fields (app label, name, path), which are re-attached on a hit
-- or to the parse error the blob gave.

Safe under concurrent runs (WAL, a busy timeout, INSERT OR IGNORE of
immutable rows).  A cache that is corrupt, locked for too long or
unwritable never breaks a run: it is recreated or simply not used.

This module must not import libcst: a warm run parses nothing.
"""
from __future__ import annotations

import dataclasses
import json
import marshal
import os
import sqlite3
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from mergedriver.codeversion import code_version
from mergedriver.git.ignores import Remembered
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo
from mergedriver.records import pack_operations
from mergedriver.records import PACKED_OPERATIONS
from mergedriver.records import Unresolved

# Bump when the JSON layout below changes.  The version key also hashes the
# parser's sources, so a changed parser never reads stale records.
CACHE_FORMAT = 2
# What parses a blob into the records stored here (codeversion.py adds
# everything these import).
PARSER_ROOTS = (
    'mergedriver.parsing.reader', 'mergedriver.records', 'mergedriver.cache',
)
# Larger migration modules are not read (load.py).  Here, so that the cache's
# version covers it: a cached blob was under the limit that is in force.
MAX_MIGRATION_BYTES = 2 * 1024 * 1024
# Whole results (snapshots) kept, newest first.
SNAPSHOTS_KEPT = 32
# Per-app blobs (records, graph pieces) kept, newest first: at least this
# many, and at least APP_ROWS_PER_APP for each app of the project, so that
# a project with hundreds of apps does not push out its own current rows.
APP_RECORDS_KEPT = 500
APP_ROWS_PER_APP = 8
# Versions unused for this long are deleted.
_EXPIRY_SECONDS = 30 * 24 * 3600

_IDENTITY = frozenset(('app_label', 'name', 'path'))
_NESTED: dict[str, type[Any]] = {
    'dependencies': Dependency,
    'replaces': Dependency,
    'run_before': Dependency,
    'operations': OperationInfo,
    'unresolved': Unresolved,
}


def _record_to_dict(record: Any) -> dict[str, Any]:
    """Fields that differ from their defaults; tuples become lists."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if field.default is not dataclasses.MISSING and value == field.default:
            continue
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


def _fast_init(cls: type[Any]) -> Callable[[dict[str, Any]], Any]:
    """A constructor for records decoded from the cache.

    A warm run decodes every migration of the project; the frozen
    dataclasses' ``__init__`` (one ``object.__setattr__`` per field) would
    cost more than everything else together.  Like ``pickle``, this fills
    the instance's ``__dict__`` directly; the round-trip tests check that
    the records equal what the parser made.
    """
    defaults: dict[str, Any] = {}
    tuple_fields = []
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            raise TypeError(f'{cls.__name__}.{field.name}: default_factory')
        if str(field.type).startswith('tuple['):
            tuple_fields.append(field.name)

    def build(data: dict[str, Any]) -> Any:
        values = {**defaults, **data}
        for name in tuple_fields:
            value = values[name]
            if type(value) is list:
                values[name] = tuple(value)
        obj = object.__new__(cls)
        obj.__dict__.update(values)
        return obj
    return build


_BUILD_NESTED = {name: _fast_init(cls) for name, cls in _NESTED.items()}
_BUILD_INFO = _fast_init(MigrationInfo)


def info_to_json(info: MigrationInfo) -> str:
    """The content of ``info`` (no identity fields) as compact JSON."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(info):
        if field.name in _IDENTITY:
            continue
        value = getattr(info, field.name)
        if field.name in _NESTED:
            if value:
                out[field.name] = [_record_to_dict(v) for v in value]
        elif value != field.default:
            out[field.name] = value
    return json.dumps(out, separators=(',', ':'), sort_keys=True)


def info_from_dict(
        data: dict[str, Any], *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """A record from decoded JSON (consumed), identity re-attached."""
    for key, build in _BUILD_NESTED.items():
        items = data.get(key)
        if items is not None:
            data[key] = tuple([build(item) for item in items])
    data['app_label'] = app_label
    data['name'] = name
    data['path'] = path
    info: MigrationInfo = _BUILD_INFO(data)
    return info


def info_from_json(
        text: str, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Inverse of :func:`info_to_json`, with the identity re-attached."""
    return info_from_dict(
        json.loads(text), app_label=app_label, name=name, path=path,
    )


def decode_many(texts: list[str]) -> list[dict[str, Any]] | None:
    """Decode many payloads in one call (a warm run decodes thousands);
    None when one of them is not a JSON object."""
    try:
        decoded = json.loads(f'[{",".join(texts)}]')
    except ValueError:
        return None
    if len(decoded) != len(texts) or not all(
            type(d) is dict for d in decoded
    ):
        return None
    result: list[dict[str, Any]] = decoded
    return result


def error_to_json(line: int | None, message: str) -> str:
    return json.dumps({'error': {'line': line, 'message': message}})


def error_from_json(text: str) -> tuple[int | None, str] | None:
    """(line, message) when ``text`` records a parse error, else None."""
    if not text.startswith('{"error"'):
        return None
    error = json.loads(text)['error']
    return error['line'], error['message']


# ---- one app's records as one blob (marshal of plain values)
#
# Decoding thousands of JSON payloads and building records from dicts is
# most of a warm run that has to materialize every record (the hooks).  An
# app's records and parse errors, for one exact list of (name, path, blob
# id), are also stored together as each record's ``__dict__`` (nested
# records likewise): marshal reads them back in C, and each record is then
# one ``__dict__`` fill.  Only str, int, bool, None, tuples and dicts go in,
# and the key holds the cache's version, which covers records.py.

_MARSHAL_VERSION = 4
_NESTED_NAMES = tuple(_NESTED)
# pack_operations(()) is this long: no operation to unpack.
_EMPTY_PACKED = len(pack_operations(()))


def records_to_blob(
        migrations: Iterable[MigrationInfo],
        errors: Iterable[tuple[str, str, str, int | None, str]],
) -> bytes:
    """An app's records, and its parse errors as (name, path, blob id,
    line, message), as one blob."""
    rows = []
    for info in migrations:
        row = {
            field.name: getattr(info, field.name)
            for field in dataclasses.fields(info)
        }
        for name in _NESTED_NAMES:
            if name == 'operations':
                # Packed apart: most records' operations are never looked at.
                row[name] = pack_operations(row[name])
            else:
                row[name] = tuple(dict(vars(v)) for v in row[name])
        rows.append(row)
    data: bytes = marshal.dumps(
        (tuple(rows), tuple(errors)), _MARSHAL_VERSION,
    )
    return data


def records_from_blob(
        data: bytes,
) -> tuple[
    tuple[MigrationInfo, ...],
    tuple[tuple[str, str, str, int | None, str], ...],
] | None:
    """Inverse of :func:`records_to_blob`; None when it does not decode."""
    new = object.__new__
    nested = tuple(
        (name, cls) for name, cls in _NESTED.items() if name != 'operations'
    )
    try:
        rows, errors = marshal.loads(data)
        migrations = []
        for row in rows:
            packed = row.pop('operations')
            if type(packed) is not bytes:
                return None
            if len(packed) > _EMPTY_PACKED:
                row[PACKED_OPERATIONS] = packed
            else:
                row['operations'] = ()
            for name, cls in nested:
                items = row[name]
                if items:
                    built = []
                    for item in items:
                        obj = new(cls)
                        obj.__dict__.update(item)
                        built.append(obj)
                    row[name] = tuple(built)
            info = new(MigrationInfo)
            info.__dict__.update(row)
            migrations.append(info)
        return tuple(migrations), tuple(errors)
    except (
            ValueError, TypeError, EOFError, IndexError, KeyError,
            AttributeError,
    ):
        return None


def parser_version() -> str:
    """CACHE_FORMAT plus a hash of the parser's sources, read as bytes, so
    any change to the parser invalidates the cache."""
    return f'{CACHE_FORMAT}:{code_version(*PARSER_ROOTS)}'


_SCHEMA = '''\
CREATE TABLE IF NOT EXISTS records (
    oid TEXT NOT NULL,
    version TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (oid, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stat_blobs (
    root TEXT PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS app_records (
    key TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    version TEXT PRIMARY KEY,
    last_used REAL NOT NULL
);
'''


class Cache:
    """blob id -> JSON text.  Never raises: on any database trouble it
    turns itself off and reports misses; ``error`` says why."""

    def __init__(
            self, path: str | None, *, version: str | None = None,
    ) -> None:
        self.path = path
        self.version = version or parser_version()
        self.error: str | None = None
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._open(path)

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def _connect(self, path: str) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            db.execute('PRAGMA busy_timeout = 10000')
            db.execute('PRAGMA journal_mode = WAL')
            db.execute('PRAGMA synchronous = NORMAL')
            db.executescript(_SCHEMA)
            now = time.time()
            db.execute(
                'INSERT OR REPLACE INTO versions VALUES (?, ?)',
                (self.version, now),
            )
            expired = [
                v for v, in db.execute(
                    'SELECT version FROM versions WHERE last_used < ?',
                    (now - _EXPIRY_SECONDS,),
                )
            ]
            for v in expired:
                db.execute('DELETE FROM records WHERE version = ?', (v,))
                db.execute('DELETE FROM versions WHERE version = ?', (v,))
        except BaseException:
            db.close()
            raise
        return db

    def _open(self, path: str) -> None:
        try:
            self._db = self._connect(path)
        except sqlite3.DatabaseError as e:
            # Not a database (or damaged): a cache may be thrown away.
            if 'locked' in str(e) or 'busy' in str(e):
                self._disable(e)
                return
            try:
                for suffix in ('', '-wal', '-shm'):
                    if os.path.exists(path + suffix):
                        os.remove(path + suffix)
                self._db = self._connect(path)
            except (OSError, sqlite3.Error) as e2:
                self._disable(e2)
        except (OSError, sqlite3.Error) as e:
            self._disable(e)

    def _disable(self, e: BaseException) -> None:
        self.error = f'{type(e).__name__}: {e}'
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    def get_many(self, oids: Iterable[str]) -> dict[str, str]:
        """Cached JSON for the given blob ids, in one query."""
        if self._db is None:
            return {}
        wanted = json.dumps(sorted(set(oids)))
        try:
            rows = self._db.execute(
                'SELECT oid, data FROM records '
                'WHERE version = ? AND '
                'oid IN (SELECT value FROM json_each(?))',
                (self.version, wanted),
            ).fetchall()
        except sqlite3.Error as e:
            self._disable(e)
            return {}
        return dict(rows)

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Store (blob id, JSON) pairs; rows are immutable, so a row
        another process wrote first is simply kept."""
        self._write(
            'INSERT OR IGNORE INTO records VALUES (?, ?, ?)',
            [(oid, self.version, data) for oid, data in items],
        )

    def forget(self, oids: Iterable[str]) -> None:
        """Drop rows that turned out unusable, so they are parsed again."""
        self._write(
            'DELETE FROM records WHERE oid = ? AND version = ?',
            [(oid, self.version) for oid in oids],
        )

    # The stat data of a whole tree is one row (a marshal'ed dict): a warm
    # run reads it in one go instead of one row per file.

    def _read_stats(self, root: str) -> dict[str, tuple[object, str]]:
        assert self._db is not None
        row = self._db.execute(
            'SELECT data FROM stat_blobs WHERE root = ?', (root,),
        ).fetchone()
        if row is None:
            return {}
        try:
            stats = marshal.loads(row[0])
        except (ValueError, TypeError, EOFError):
            return {}
        if type(stats) is not dict:
            return {}
        return stats

    def get_stats(self, root: str) -> dict[str, tuple[object, str]]:
        """path -> (stat key, blob id) remembered for files under ``root``."""
        if self._db is None:
            return {}
        try:
            return self._read_stats(root)
        except sqlite3.Error as e:
            self._disable(e)
            return {}

    def put_stats(
            self, root: str, rows: Iterable[tuple[str, object, str]],
    ) -> None:
        """Remember (path, stat key, blob id) for files under ``root``."""
        new = {path: (key, oid) for path, key, oid in rows}
        if not new:
            return

        def merge(db: sqlite3.Connection) -> None:
            stats = self._read_stats(root)
            stats.update(new)
            db.execute(
                'INSERT OR REPLACE INTO stat_blobs VALUES (?, ?)',
                (root, marshal.dumps(stats, _MARSHAL_VERSION)),
            )
        self._in_transaction(merge)

    # The work tree's remembered ignore answers (see ignores.py), one row
    # beside the stat data.

    def _fetch_one(self, sql: str, key: str) -> object | None:
        """The first column of the row ``sql`` finds for ``key``; None for
        no row (or no usable database)."""
        if self._db is None:
            return None
        try:
            row = self._db.execute(sql, (key,)).fetchone()
        except sqlite3.Error as e:
            self._disable(e)
            return None
        return None if row is None else row[0]

    def get_ignores(self, root: str) -> Remembered | None:
        data = self._fetch_one(
            'SELECT data FROM stat_blobs WHERE root = ?', f'ignores\0{root}',
        )
        if not isinstance(data, bytes):
            return None
        try:
            fingerprint, excludes, decisions = marshal.loads(data)
            if not (
                    type(fingerprint) is str and type(excludes) is tuple and
                    type(decisions) is dict
            ):
                return None
            return Remembered(fingerprint, excludes, decisions)
        except (ValueError, TypeError, EOFError):
            return None

    def put_ignores(self, root: str, memory: Remembered) -> None:
        self._write(
            'INSERT OR REPLACE INTO stat_blobs VALUES (?, ?)',
            [(
                f'ignores\0{root}',
                marshal.dumps(tuple(memory), _MARSHAL_VERSION),
            )],
        )

    def get_snapshot(self, key: str) -> bytes | None:
        """A whole result stored under ``key`` (see check.py), or None."""
        data = self._fetch_one('SELECT data FROM snapshots WHERE key = ?', key)
        if data is None:
            return None
        return data if isinstance(data, bytes) else str(data).encode()

    def put_snapshot(self, key: str, data: bytes) -> None:
        """Store a whole result; only the newest ``SNAPSHOTS_KEPT`` stay
        (each commit, branch and edit makes a new one)."""
        self._put_kept('snapshots', [(key, data)], SNAPSHOTS_KEPT)

    def get_app_records(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Stored per-app record blobs (see :func:`records_to_blob`)."""
        if self._db is None:
            return {}
        try:
            rows = self._db.execute(
                'SELECT key, data FROM app_records '
                'WHERE key IN (SELECT value FROM json_each(?))',
                (json.dumps(sorted(set(keys))),),
            ).fetchall()
        except sqlite3.Error as e:
            self._disable(e)
            return {}
        return {k: d for k, d in rows if isinstance(d, bytes)}

    def put_app_records(
            self, items: Iterable[tuple[str, bytes]], *, apps: int = 0,
    ) -> None:
        """Store per-app blobs; ``apps``: how many apps the project has."""
        self._put_kept(
            'app_records', list(items),
            max(APP_RECORDS_KEPT, APP_ROWS_PER_APP * apps),
        )

    def _put_kept(
            self, table: str, items: list[tuple[str, bytes]], kept: int,
    ) -> None:
        """Insert (key, blob) rows; keep only the newest ``kept``."""
        if not items:
            return
        now = time.time()

        def insert_and_prune(db: sqlite3.Connection) -> None:
            db.executemany(
                f'INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)',
                [(key, data, now) for key, data in items],
            )
            db.execute(
                f'DELETE FROM {table} WHERE key NOT IN ('
                f'SELECT key FROM {table} '
                f'ORDER BY created DESC LIMIT ?)',
                (kept,),
            )
        self._in_transaction(insert_and_prune)

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        if rows:
            self._in_transaction(lambda db: db.executemany(sql, rows))

    def _in_transaction(
            self, work: Callable[[sqlite3.Connection], object],
    ) -> None:
        """Run ``work`` in one write transaction (rolled back if it fails);
        a database error turns the cache off, as everywhere here."""
        db = self._db
        if db is None:
            return
        try:
            db.execute('BEGIN IMMEDIATE')
            try:
                work(db)
            except BaseException:
                db.execute('ROLLBACK')
                raise
            db.execute('COMMIT')
        except sqlite3.Error as e:
            self._disable(e)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
