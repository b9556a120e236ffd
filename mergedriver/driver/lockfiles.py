"""Lock files that turn parallel migrations into a textual conflict.

- django-linear-migrations: ``<app>/migrations/max_migration.txt``, one
  line naming the app's latest migration;
- Sentry style: one ``migrations_lockfile.txt`` with a prose header, then
  ``app_label: migration`` lines sorted by app label.

Also splits a file holding git conflict markers (plain or diff3 style, any
marker size) into the ours / base / theirs texts.  Every name read from a
file is validated (docs/design.md, "Rules that must always hold") before
anyone can use it as a path.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from collections.abc import Mapping
from typing import Literal
from typing import Union

from mergedriver.errors import MigmergeError
from mergedriver.naming import check_app_label
from mergedriver.naming import check_migration_name

MAX_MIGRATION_FILENAME = 'max_migration.txt'
LOCKFILE_FILENAME = 'migrations_lockfile.txt'
DEFAULT_MARKER_SIZE = 7  # git's default, what %L is unless configured

# --- conflict markers ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConflictSides:
    """The full texts a conflicted file stands for.

    ``base`` is None when the markers carry no base section (git's default
    ``merge`` style); the diff3 and zdiff3 styles fill it.
    """

    ours: str
    base: str | None
    theirs: str


MarkerKind = Literal['ours', 'base', 'theirs', 'end']
_MARKER_CHARS: dict[str, MarkerKind] = {
    '<': 'ours', '|': 'base', '=': 'theirs', '>': 'end',
}


def _marker(line: str, size: int) -> MarkerKind | None:
    """The kind of conflict marker ``line`` is, for markers of ``size``.

    Like git's rerere: exactly ``size`` marker characters, then a space
    (the label) or the end of the line; a longer run is content.
    """
    char = line[:1]
    kind = _MARKER_CHARS.get(char)
    if kind is None or line[:size] != char * size:
        return None
    rest = line[size:]
    if rest in ('', '\n', '\r\n') or rest[:1] in (' ', '\t'):
        return kind
    return None


def has_conflict_markers(
        text: str, *, marker_size: int = DEFAULT_MARKER_SIZE,
) -> bool:
    return any(
        _marker(line, marker_size) == 'ours' for line in text.splitlines()
    )


def split_conflict(
        text: str,
        *,
        path: str,
        marker_size: int = DEFAULT_MARKER_SIZE,
) -> ConflictSides | None:
    """Split a conflicted text into its sides; None when it has no markers.

    Text outside the conflict hunks belongs to every side.  Markers out of
    order or a hunk that never ends raise ``path:line`` errors.
    """
    ours: list[str] = []
    base: list[str] = []
    theirs: list[str] = []
    every_hunk_has_base = True
    hunks = 0
    state: MarkerKind | Literal['common'] = 'common'
    hunk_has_base = False
    start_line = 0
    expected = {
        'common': ('ours',),
        'ours': ('base', 'theirs'),
        'base': ('theirs',),
        'theirs': ('end',),
    }
    for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
        kind = _marker(line, marker_size)
        if kind is None:
            if state == 'common':
                ours.append(line)
                base.append(line)
                theirs.append(line)
            elif state == 'ours':
                ours.append(line)
            elif state == 'base':
                base.append(line)
            else:
                theirs.append(line)
            continue
        if kind not in expected[state]:
            raise MigmergeError(
                f'unexpected conflict marker {line.rstrip()!r}',
                path=path,
                line=lineno,
            )
        if kind == 'ours':
            hunks += 1
            hunk_has_base = False
            start_line = lineno
            state = 'ours'
        elif kind == 'base':
            hunk_has_base = True
            state = 'base'
        elif kind == 'theirs':
            state = 'theirs'
        else:
            every_hunk_has_base = every_hunk_has_base and hunk_has_base
            state = 'common'
    if state != 'common':
        raise MigmergeError(
            'conflict hunk is not closed', path=path, line=start_line,
        )
    if not hunks:
        return None
    return ConflictSides(
        ours=''.join(ours),
        base=''.join(base) if every_hunk_has_base else None,
        theirs=''.join(theirs),
    )


def _refuse_markers(text: str, path: str, marker_size: int) -> None:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if _marker(line, marker_size) is not None:
            raise MigmergeError(
                'file holds conflict markers', path=path, line=lineno,
            )


# --- django-linear-migrations' max_migration.txt ---------------------------


def parse_max_migration(
        text: str,
        *,
        path: str,
        marker_size: int = DEFAULT_MARKER_SIZE,
) -> str:
    """The migration name ``max_migration.txt`` holds, validated.

    One non-blank line; surrounding whitespace and a trailing newline are
    tolerated like django-linear-migrations does.
    """
    _refuse_markers(text, path, marker_size)
    lines = [
        (lineno, line.strip())
        for lineno, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise MigmergeError('max_migration.txt is empty', path=path, line=1)
    if len(lines) > 1:
        raise MigmergeError(
            'max_migration.txt contains multiple lines',
            path=path,
            line=lines[1][0],
        )
    lineno, name = lines[0]
    return check_migration_name(name, path=path, line=lineno)


def render_max_migration(name: str) -> str:
    return f'{check_migration_name(name)}\n'


MaxMigrationProblemKind = Literal[
    'missing',
    'unreadable',
    'unknown-migration',
    'not-leaf',
]


@dataclasses.dataclass(frozen=True)
class MaxMigrationOk:
    name: str


@dataclasses.dataclass(frozen=True)
class MaxMigrationProblem:
    kind: MaxMigrationProblemKind
    message: str
    path: str
    line: int

    def one_line(self) -> str:
        return f'{self.path}:{self.line}: {self.message}'


MaxMigrationStatus = Union[MaxMigrationOk, MaxMigrationProblem]


def check_max_migration(
        text: str | None,
        *,
        path: str,
        app_label: str,
        migration_names: Collection[str],
        leaf: str,
) -> MaxMigrationStatus:
    """Compare an app's ``max_migration.txt`` (None: no file) with its graph.

    Messages follow django-linear-migrations' own checks.
    """
    if text is None:
        return MaxMigrationProblem(
            'missing', f"{app_label}'s max_migration.txt does not exist.",
            path, 1,
        )
    try:
        name = parse_max_migration(text, path=path)
    except MigmergeError as e:
        return MaxMigrationProblem('unreadable', e.message, path, e.line or 1)
    line = next(
        i for i, t in enumerate(text.splitlines(), start=1) if t.strip()
    )
    if name not in migration_names:
        return MaxMigrationProblem(
            'unknown-migration',
            f"{app_label}'s max_migration.txt points to non-existent "
            f'migration {name!r}.',
            path, line,
        )
    if name != leaf:
        return MaxMigrationProblem(
            'not-leaf',
            f"{app_label}'s max_migration.txt contains {name!r}, but the "
            f'latest migration is {leaf!r}.',
            path, line,
        )
    return MaxMigrationOk(name)


# --- Sentry-style migrations_lockfile.txt ----------------------------------

# Loose on purpose: anything shaped like ``label: name`` is an entry and is
# then validated strictly, so a bad name is an error, not prose.
_ENTRY_RE = re.compile(r'^([^\s:]+):[ \t]*(\S+)[ \t]*$')


@dataclasses.dataclass(frozen=True)
class Lockfile:
    """A parsed ``migrations_lockfile.txt``.

    ``header`` is everything before the first entry, kept verbatim (with
    the blank line that ends it); ``separator`` is what stood between two
    entries (a newline, or two in files that space them out); ``trailer``
    what followed the last entry.
    """

    header: str
    entries: tuple[tuple[str, str], ...]
    separator: str = '\n'
    trailer: str = '\n'

    def get(self, app_label: str) -> str | None:
        return dict(self.entries).get(app_label)

    def as_dict(self) -> dict[str, str]:
        return dict(self.entries)

    def with_entries(self, updates: Mapping[str, str]) -> Lockfile:
        """A copy where ``updates`` (app label -> migration) are set."""
        merged = dict(self.entries)
        for app_label, name in updates.items():
            merged[check_app_label(app_label)] = check_migration_name(name)
        return dataclasses.replace(self, entries=tuple(sorted(merged.items())))


def parse_lockfile(
        text: str,
        *,
        path: str,
        marker_size: int = DEFAULT_MARKER_SIZE,
) -> Lockfile:
    """Read a Sentry-style lock file: prose header, then entry lines."""
    _refuse_markers(text, path, marker_size)
    lines = text.splitlines(keepends=True)
    # The entry block is the trailing run of entry-shaped lines (blank lines
    # between entries allowed); the first other line above it ends the
    # header.
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    first_entry = end
    while start and (
            not lines[start - 1].strip() or
            _ENTRY_RE.match(lines[start - 1].strip())
    ):
        start -= 1
        if lines[start].strip():
            first_entry = start
    entries: dict[str, str] = {}
    entry_lines: list[int] = []
    for index in range(first_entry, end):
        line = lines[index].strip()
        if not line:
            continue
        match = _ENTRY_RE.match(line)
        assert match is not None
        lineno = index + 1
        app_label = check_app_label(match[1], path=path, line=lineno)
        name = check_migration_name(match[2], path=path, line=lineno)
        if app_label in entries:
            raise MigmergeError(
                f'app {app_label!r} is listed twice', path=path, line=lineno,
            )
        entries[app_label] = name
        entry_lines.append(index)
    if not entries:
        return Lockfile(header=text, entries=())
    separator = _line_ending(lines[entry_lines[0]]) or '\n'
    if len(entry_lines) > 1:
        separator += ''.join(lines[entry_lines[0] + 1:entry_lines[1]])
    return Lockfile(
        header=''.join(lines[:first_entry]),
        entries=tuple(sorted(entries.items())),
        separator=separator,
        trailer=_line_ending(lines[end - 1]) + ''.join(lines[end:]),
    )


def _line_ending(line: str) -> str:
    return line[len(line.rstrip('\r\n')):]


def render_lockfile(lock: Lockfile) -> str:
    body = lock.separator.join(
        f'{app_label}: {name}' for app_label, name in lock.entries
    )
    if not lock.entries:
        return lock.header
    header = lock.header
    if header and not header.endswith('\n'):
        header += '\n\n'
    # The last entry's own newline comes back with the trailer.
    return f'{header}{body}{lock.trailer}'
