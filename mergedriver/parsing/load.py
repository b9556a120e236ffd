"""Tree -> parsed migrations: discover, look up the cache, parse the misses.

A warm run (every blob cached) imports neither libcst nor the reader; a
cold run with many misses parses on every core and, on a terminal, shows
its progress on stderr.

Files migmerge will not read become ``parse-error`` problems, not crashes:
symlinked migration modules (links are never followed, so nothing outside
the repository is read) and modules over ``MAX_MIGRATION_BYTES``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TextIO

from mergedriver.cache import Cache
from mergedriver.cache import decode_many
from mergedriver.cache import error_to_json
from mergedriver.cache import info_from_dict
from mergedriver.cache import info_to_json
from mergedriver.cache import MAX_MIGRATION_BYTES
from mergedriver.cache import records_from_blob
from mergedriver.cache import records_to_blob
from mergedriver.config import Config
from mergedriver.discovery.packages import discover
from mergedriver.discovery.packages import discover_packages_and_skipped
from mergedriver.discovery.packages import MigrationFile
from mergedriver.discovery.packages import Skipped
from mergedriver.errors import ParseError
from mergedriver.git.trees import Tree
from mergedriver.records import MigrationInfo
from mergedriver.records import Problem

# Below this many misses, starting worker processes costs more than it saves.
PARALLEL_MIN = 300
# A cold run this large reports progress on a terminal.
PROGRESS_MIN = 500


@dataclasses.dataclass(frozen=True)
class LoadResult:
    migrations: tuple[MigrationInfo, ...]
    problems: tuple[Problem, ...]
    # App label -> repo-relative path of its migrations package, including
    # packages without any module (Django counts those apps as migrated).
    packages: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # False when a module hit a reader failure that is not cached (a bug,
    # too deep nesting): a result built on it must not be stored either.
    cacheable: bool = dataclasses.field(default=True, compare=False)
    # App label -> the key its records are cached under (a hash of its
    # files), for caching what is computed from them (fragments.py).
    app_keys: Mapping[str, str] = dataclasses.field(
        default_factory=dict, compare=False,
    )


# (blob id, data, app label, name, path)
_Job = tuple[str, bytes, str, str, str]
# (blob id, JSON payload, whether it may be cached)
_Outcome = tuple[str, str, bool]
# A parse error: (name, path, blob id, line, message)
_Error = tuple[str, str, str, int | None, str]


@contextlib.contextmanager
def gc_paused(*, keep: bool = False) -> Iterator[None]:
    """No garbage collection while thousands of long-lived records are
    made: the collector would walk them again and again (a third of a warm
    run) and there is no garbage to find.

    ``keep``: for a process that holds what was made until it exits (a
    command, a hook): exempt it from later collections too (``gc.freeze``),
    or the first collection after this walks all of it once more.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if keep:
                gc.freeze()
            gc.enable()


def _parse_job(job: _Job) -> _Outcome:
    # Imported here: only a run with cache misses pays for the parsers.
    from mergedriver.parsing.reader import read_migration

    oid, data, app_label, name, path = job
    try:
        info = read_migration(data, app_label=app_label, name=name, path=path)
    except ParseError as e:
        return oid, error_to_json(e.line, e.message), True
    except RecursionError:
        message = 'expression nested too deeply to read'
        return oid, error_to_json(None, message), False
    except Exception as e:  # a reader bug must not lose the whole run
        message = f'cannot read this module ({type(e).__name__}: {e})'
        return oid, error_to_json(None, message), False
    return oid, info_to_json(info), True


def _parse_chunk(jobs: Sequence[_Job]) -> list[_Outcome]:
    return [_parse_job(job) for job in jobs]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


class _Progress:
    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream

    def advance(self, n: int) -> None:
        self.done += n
        if self.stream is not None:
            self.stream.write(
                f'\rparsing migrations: {self.done}/{self.total}',
            )
            self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.write('\n')
            self.stream.flush()


def _parse_all(jobs: Sequence[_Job], progress: _Progress) -> list[_Outcome]:
    workers = min(_cpu_count(), max(1, len(jobs) // 100))
    if len(jobs) < PARALLEL_MIN or workers < 2:
        outcomes = []
        step = max(1, len(jobs) // 100)
        for i in range(0, len(jobs), step):
            outcomes.extend(_parse_chunk(jobs[i:i + step]))
            progress.advance(len(jobs[i:i + step]))
        return outcomes
    import concurrent.futures.process  # only a large cold run starts workers

    size = max(20, min(500, len(jobs) // (workers * 8) + 1))
    chunks = [jobs[i:i + size] for i in range(0, len(jobs), size)]
    outcomes = []
    try:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(_parse_chunk, chunk) for chunk in chunks]
            for future in concurrent.futures.as_completed(futures):
                result = future.result()
                outcomes.extend(result)
                progress.advance(len(result))
    except (OSError, concurrent.futures.process.BrokenProcessPool):
        # No worker processes here (a sandbox, no /dev/shm): one core.
        progress.done = 0
        return [_parse_job(job) for job in jobs]
    return outcomes


def _too_big(size: int) -> str | None:
    if size <= MAX_MIGRATION_BYTES:
        return None
    return (
        f'file is {size / 1024 / 1024:.1f} MB, over the '
        f'{MAX_MIGRATION_BYTES // 1024 // 1024} MB limit for a '
        f'migration module; not read'
    )


def _refusal(tree: Tree, f: MigrationFile) -> str | None:
    """Why a file is not read, or None to read it (as far as discovery can
    tell cheaply: a blob's size in git's objects is checked when the blob
    is read, which a cached blob never is -- the limit is part of the
    cache's version, so a cached blob was under it)."""
    kind, size = tree.kind_and_known_size(f.path)
    if kind == 'symlink':
        target = os.fsdecode(tree.read(f.path))
        return (
            f'symbolic link to {target!r}: migmerge does not follow '
            f'symlinked migration modules; commit the file itself'
        )
    return None if size is None else _too_big(size)


def _problem(f: MigrationFile, line: int | None, message: str) -> Problem:
    return Problem(
        'parse-error', message,
        app=f.app_label, migration=f.name, file=f.path, line=line or 1,
    )


@dataclasses.dataclass(frozen=True)
class Discovered:
    """What discovery found, before any module is read: enough to tell
    whether anything changed since an earlier run (see check.py)."""

    packages: Mapping[str, str]
    # Files to read, and files refused (with the refusal as a problem).
    readable: tuple[MigrationFile, ...]
    refused: tuple[Problem, ...]
    # ``migrations`` packages not taken as apps, and why.
    skipped: tuple[Skipped, ...] = ()


def discover_files(tree: Tree, config: Config, cache: Cache) -> Discovered:
    """Discovery and blob ids, using (and feeding) the stat cache."""
    if tree.stat_root is not None:
        tree.preload_oids(cache.get_stats(tree.stat_root))
    ignores = tree.ignore_rules
    if ignores is not None and tree.stat_root is not None:
        ignores.remember(cache.get_ignores(tree.stat_root))
    packages, skipped = discover_packages_and_skipped(tree, config)
    files = discover(tree, config, packages=packages)
    if ignores is not None and ignores.stale():
        # Answered from memory under other ignore rules: walk again.
        ignores.restart()
        packages, skipped = discover_packages_and_skipped(tree, config)
        files = discover(tree, config, packages=packages)
    if ignores is not None and tree.stat_root is not None:
        memory = ignores.to_remember()
        if memory is not None:
            cache.put_ignores(tree.stat_root, memory)
    refused: list[Problem] = []
    readable: list[MigrationFile] = []
    for f in files:
        refusal = _refusal(tree, f)
        if refusal is None:
            readable.append(f)
        else:
            refused.append(_problem(f, 1, refusal))
    if tree.stat_root is not None:
        cache.put_stats(tree.stat_root, tree.new_stat_rows())
    return Discovered(packages, tuple(readable), tuple(refused), skipped)


def _payloads(
        tree: Tree,
        readable: Sequence[MigrationFile],
        cache: Cache,
        progress: bool | None,
) -> tuple[dict[str, dict[str, Any]], bool]:
    """blob id -> decoded payload, from the cache or parsed now; and
    whether every payload may be cached."""
    payloads = _cached(cache, readable)
    to_read: dict[str, MigrationFile] = {}
    for f in readable:
        if f.oid not in payloads:
            to_read.setdefault(f.oid, f)
    datas = tree.read_many([f.path for f in to_read.values()])
    jobs: dict[str, _Job] = {}
    for oid, f in to_read.items():
        data = datas[f.path]
        refusal = _too_big(len(data))
        if refusal is not None:
            payloads[oid] = {'error': {'line': 1, 'message': refusal}}
            continue
        jobs[oid] = (oid, data, f.app_label, f.name, f.path)
    if jobs:
        show = (
            len(jobs) >= PROGRESS_MIN and
            sys.stderr is not None and sys.stderr.isatty()
            if progress is None else progress
        )
        meter = _Progress(len(jobs), sys.stderr if show else None)
        outcomes = _parse_all(list(jobs.values()), meter)
        meter.finish()
        for oid, text, _ in outcomes:
            payloads[oid] = json.loads(text)
        cache.put_many((oid, text) for oid, text, ok in outcomes if ok)
        return payloads, all(ok for _, _, ok in outcomes)
    return payloads, True


def _app_key(version: str, app: str, files: Sequence[MigrationFile]) -> str:
    parts = [f'app-records 1\0{version}\0{app}']
    parts.extend(f'{f.name}\0{f.path}\0{f.oid}' for f in files)
    text = '\n'.join(parts).encode('utf-8', 'surrogateescape')
    return hashlib.sha256(text).hexdigest()


def _decode(
        files: Sequence[MigrationFile],
        payloads: Mapping[str, Mapping[str, Any]],
) -> tuple[list[MigrationInfo], list[_Error]]:
    migrations = []
    errors = []
    for f in files:
        # A blob shared by several files decodes once; records are copied
        # out of it, never modified in place.
        payload = payloads[f.oid]
        error = payload.get('error')
        if error is None:
            migrations.append(
                info_from_dict(
                    dict(payload),
                    app_label=f.app_label, name=f.name, path=f.path,
                ),
            )
        else:
            errors.append(
                (f.name, f.path, f.oid, error['line'], error['message']),
            )
    return migrations, errors


def load_discovered(
        tree: Tree,
        found: Discovered,
        cache: Cache,
        *,
        progress: bool | None = None,
) -> LoadResult:
    """Read (or take from the cache) every file ``found`` lists.

    Apps whose files are all as in an earlier run come back from one blob
    each (see cache.records_to_blob); the others from the per-file cache,
    parsing what it lacks.
    """
    with gc_paused():
        by_app: dict[str, list[MigrationFile]] = {}
        for f in found.readable:
            by_app.setdefault(f.app_label, []).append(f)
        keys = {
            app: _app_key(cache.version, app, files)
            for app, files in by_app.items()
        }
        blobs = cache.get_app_records(keys.values())
        done: dict[str, tuple[Sequence[MigrationInfo], Sequence[_Error]]] = {}
        for app, key in keys.items():
            blob = blobs.get(key)
            decoded = None if blob is None else records_from_blob(blob)
            if decoded is not None:
                done[app] = decoded
        todo = [f for app, files in by_app.items() if app not in done
                for f in files]
        cacheable = True
        if todo:
            payloads, cacheable = _payloads(tree, todo, cache, progress)
            new_blobs = []
            for app, files in by_app.items():
                if app in done:
                    continue
                done[app] = _decode(files, payloads)
                new_blobs.append((keys[app], records_to_blob(*done[app])))
            if cacheable:
                cache.put_app_records(new_blobs, apps=len(by_app))
        problems = list(found.refused)
        migrations: list[MigrationInfo] = []
        for app, files in by_app.items():
            app_migrations, errors = done[app]
            migrations.extend(app_migrations)
            for name, path, _, line, message in errors:
                problems.append(Problem(
                    'parse-error', message, app=app, migration=name,
                    file=path, line=line or 1,
                ))
        problems.sort(key=lambda p: (p.file or '', p.line or 0))
    return LoadResult(
        tuple(migrations), tuple(problems), found.packages, cacheable, keys,
    )


def load_migrations(
        tree: Tree,
        config: Config,
        *,
        progress: bool | None = None,
        cache: Cache | None = None,
) -> LoadResult:
    """Every migration of the tree, parsed (cached by blob id).

    ``progress``: None shows it for a large cold run when stderr is a
    terminal; True / False force it on / off.  ``cache`` defaults to the
    tree's own cache file.
    """
    own_cache = cache is None
    if cache is None:
        cache = Cache(tree.cache_path)
    try:
        found = discover_files(tree, config, cache)
        return load_discovered(tree, found, cache, progress=progress)
    finally:
        if own_cache:
            cache.close()


def _cached(
        cache: Cache, files: Sequence[MigrationFile],
) -> dict[str, dict[str, Any]]:
    """blob id -> decoded payload for every cached file, in one query and
    one decode; rows that do not decode are treated as misses."""
    texts = cache.get_many(f.oid for f in files)
    oids = list(texts)
    decoded = decode_many([texts[oid] for oid in oids])
    if decoded is not None:
        return dict(zip(oids, decoded))
    payloads = {}
    for oid in oids:
        one = decode_many([texts[oid]])
        if one is not None:
            payloads[oid] = one[0]
    cache.forget(oid for oid in oids if oid not in payloads)
    return payloads
