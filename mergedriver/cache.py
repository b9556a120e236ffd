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
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo
from mergedriver.records import Unresolved

# Bump when the JSON layout below changes.  The version key also hashes the
# parser's sources, so a changed parser never reads stale records.
CACHE_FORMAT = 1
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


def _record_from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    return cls(**{
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
    })


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


def info_from_json(
        text: str, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Inverse of :func:`info_to_json`, with the identity re-attached."""
    data = json.loads(text)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _NESTED:
            cls = _NESTED[key]
            kwargs[key] = tuple(_record_from_dict(cls, v) for v in value)
        else:
            kwargs[key] = value
    return MigrationInfo(app_label=app_label, name=name, path=path, **kwargs)


def error_to_json(line: int | None, message: str) -> str:
    return json.dumps({'error': {'line': line, 'message': message}})


def error_from_json(text: str) -> tuple[int | None, str] | None:
    """(line, message) when ``text`` records a parse error, else None."""
    if not text.startswith('{"error"'):
        return None
    error = json.loads(text)['error']
    return error['line'], error['message']


def parser_version() -> str:
    """CACHE_FORMAT plus a hash of the package's sources, read as bytes
    (never imported), so any change to the parser invalidates the cache."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha1(usedforsecurity=False)
    try:
        names = sorted(n for n in os.listdir(package_dir) if n.endswith('.py'))
        for name in names:
            with open(os.path.join(package_dir, name), 'rb') as f:
                digest.update(name.encode() + b'\0' + f.read())
    except OSError:  # e.g. run from a zip: the format number alone
        return str(CACHE_FORMAT)
    return f'{CACHE_FORMAT}:{digest.hexdigest()}'


_SCHEMA = '''\
CREATE TABLE IF NOT EXISTS records (
    oid TEXT NOT NULL,
    version TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (oid, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    version TEXT PRIMARY KEY,
    last_used REAL NOT NULL
);
'''


class Cache:
    """blob id -> JSON text.  Never raises: on any database trouble it
    turns itself off and reports misses; ``error`` says why."""

    def __init__(self, path: str | None, *, version: str | None = None) -> None:
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
                'WHERE version = ? AND oid IN (SELECT value FROM json_each(?))',
                (self.version, wanted),
            ).fetchall()
        except sqlite3.Error as e:
            self._disable(e)
            return {}
        return dict(rows)

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Store (blob id, JSON) pairs; rows are immutable, so a row
        another process wrote first is simply kept."""
        if self._db is None:
            return
        rows = [(oid, self.version, data) for oid, data in items]
        if not rows:
            return
        db = self._db
        try:
            db.execute('BEGIN IMMEDIATE')
            try:
                db.executemany(
                    'INSERT OR IGNORE INTO records VALUES (?, ?, ?)', rows,
                )
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
