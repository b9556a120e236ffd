"""Migration names: Django's merge-migration naming rule and renumbering.

Reimplements what ``makemigrations --merge`` does (Django 5.2 and 6.1 agree):
the merge migration is numbered one past the largest number among the
leaves, and named after the sorted leaf names unless they are too long.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Iterable

from mergedriver.errors import MigmergeError

# Django falls back to a timestamp when the joined leaf names exceed this.
MAX_LEAF_NAMES_LENGTH = 47
# Django's autodetector writes numbers as %04i; renumbering keeps at least
# the width already in use.
NUMBER_WIDTH = 4

# Same patterns as Django's ``MigrationAutodetector.parse_number`` (``\d`` is
# Unicode-aware there too, so the same names parse the same way).
_SQUASHED_RE = re.compile(r'.*_squashed_(\d+)')
_LEADING_NUMBER_RE = re.compile(r'^\d+')


def parse_number(name: str) -> int | None:
    """The number Django reads from a migration name, or None.

    ``0005_squashed_0009_x`` counts as 9 (the last migration it replaces);
    otherwise the leading digits count; ``auto_1234`` has no number.
    """
    squashed = _SQUASHED_RE.search(name)
    if squashed:
        return int(squashed[1])
    leading = _LEADING_NUMBER_RE.match(name)
    if leading:
        return int(leading[0])
    return None


def is_migration_name(text: str) -> bool:
    """A name Django can load as a migration module.

    Module names like ``0001_initial`` start with digits, so the test is
    "an identifier once prefixed", which still refuses ``../x``, ``a b``,
    ``0003-x`` and the empty string.
    """
    return bool(text) and f'_{text}'.isidentifier()


def is_app_label(text: str) -> bool:
    """Django's own rule for app labels (``AppConfig`` checks this)."""
    return text.isidentifier()


def check_migration_name(
        text: str,
        *,
        path: str | None = None,
        line: int | None = None,
) -> str:
    """Return ``text`` if it can be a migration name, else raise.

    Names read from files become paths and argv items (docs/design.md,
    "Rules that must always hold").
    """
    if not is_migration_name(text):
        raise MigmergeError(
            f'{text!r} is not a valid migration name '
            f'(a Python identifier, digits allowed first)',
            path=path,
            line=line,
        )
    return text


def check_app_label(
        text: str,
        *,
        path: str | None = None,
        line: int | None = None,
) -> str:
    """Return ``text`` if it is a valid app label, else raise."""
    if not is_app_label(text):
        raise MigmergeError(
            f'{text!r} is not a valid app label (a Python identifier)',
            path=path,
            line=line,
        )
    return text


def migration_timestamp(now: datetime.datetime) -> str:
    """Django's ``get_migration_name_timestamp`` for a given moment."""
    return now.strftime('%Y%m%d_%H%M')


def merge_migration_name(
        leaf_names: Iterable[str],
        *,
        now: datetime.datetime,
        name: str | None = None,
) -> str:
    """The name ``makemigrations --merge [--name NAME]`` gives the merge.

    ``now`` only matters when the joined leaf names are longer than 47
    characters and Django falls back to a ``YYYYMMDD_HHMM`` timestamp.
    """
    leaves = sorted(leaf_names)
    if len(leaves) < 2:
        raise MigmergeError(
            f'a merge migration needs at least two leaves, got {leaves!r}',
        )
    if name is not None and not name.isidentifier():
        # Django's own wording for the same check.
        raise MigmergeError(
            'The migration name must be a valid Python identifier.',
        )
    numbers = [n for n in map(parse_number, leaves) if n is not None]
    biggest = max(numbers, default=1)
    parts = [f'{biggest + 1:04d}']
    if name is not None:
        parts.append(name)
    else:
        parts.append('merge')
        joined = '_'.join(leaves)
        if len(joined) > MAX_LEAF_NAMES_LENGTH:
            parts.append(migration_timestamp(now))
        else:
            parts.append(joined)
    return '_'.join(parts)


def leading_number(
        name: str,
        *,
        path: str | None = None,
        line: int | None = None,
) -> int:
    """The leading number of a migration name; raise when it has none.

    Renumbering shifts this number; a name without one (``auto_1234``,
    ``initial``) cannot be placed after another leaf by number.
    """
    match = _LEADING_NUMBER_RE.match(name)
    if match is None or not match[0].isascii():
        raise MigmergeError(
            f'migration {name!r} has no number at the start of its name; '
            f'cannot renumber it',
            path=path,
            line=line,
        )
    return int(match[0])


def renumbered_name(
        name: str,
        number: int,
        *,
        path: str | None = None,
        line: int | None = None,
) -> str:
    """``name`` with its leading number replaced by ``number``.

    ``0003_userprofile_age`` -> ``0004_userprofile_age``.  The digits keep
    the width already used (at least Django's four), and grow when the
    number needs more: ``9999_x`` -> ``10000_x``.
    """
    leading_number(name, path=path, line=line)
    if number < 0:
        raise MigmergeError(f'cannot renumber {name!r} to {number}')
    match = _LEADING_NUMBER_RE.match(name)
    assert match is not None  # checked by leading_number
    digits = match[0]
    width = max(len(digits), NUMBER_WIDTH)
    return f'{number:0{width}d}{name[len(digits):]}'
