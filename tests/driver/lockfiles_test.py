from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mergedriver.driver.lockfiles import check_max_migration
from mergedriver.driver.lockfiles import ConflictSides
from mergedriver.driver.lockfiles import has_conflict_markers
from mergedriver.driver.lockfiles import Lockfile
from mergedriver.driver.lockfiles import MaxMigrationOk
from mergedriver.driver.lockfiles import MaxMigrationProblem
from mergedriver.driver.lockfiles import parse_lockfile
from mergedriver.driver.lockfiles import parse_max_migration
from mergedriver.driver.lockfiles import render_lockfile
from mergedriver.driver.lockfiles import render_max_migration
from mergedriver.driver.lockfiles import split_conflict
from mergedriver.errors import MigmergeError

MAX = 'shop/migrations/max_migration.txt'
LOCK = 'migrations_lockfile.txt'

# --- conflict markers ------------------------------------------------------

PLAIN = (
    '<<<<<<< HEAD\n'
    '0003_userprofile_address\n'
    '=======\n'
    '0003_userprofile_age\n'
    '>>>>>>> 1a2b3c4 (Add age)\n'
)
DIFF3 = (
    '<<<<<<< ours\n'
    '0003_userprofile_address\n'
    '||||||| base\n'
    '0002_userprofile\n'
    '=======\n'
    '0003_userprofile_age\n'
    '>>>>>>> theirs\n'
)


def test_split_plain_style() -> None:
    assert split_conflict(PLAIN, path=MAX) == ConflictSides(
        ours='0003_userprofile_address\n',
        base=None,
        theirs='0003_userprofile_age\n',
    )


def test_split_diff3_style() -> None:
    assert split_conflict(DIFF3, path=MAX) == ConflictSides(
        ours='0003_userprofile_address\n',
        base='0002_userprofile\n',
        theirs='0003_userprofile_age\n',
    )


def test_split_diff3_base_without_label_and_crlf() -> None:
    text = DIFF3.replace('||||||| base', '|||||||').replace('\n', '\r\n')
    assert split_conflict(text, path=MAX) == ConflictSides(
        ours='0003_userprofile_address\r\n',
        base='0002_userprofile\r\n',
        theirs='0003_userprofile_age\r\n',
    )


def test_split_keeps_common_text_and_several_hunks() -> None:
    text = (
        'Header prose.\n'
        '\n'
        '<<<<<<< HEAD\n'
        'billing: 0005_a\n'
        '=======\n'
        'billing: 0005_b\n'
        '>>>>>>> topic\n'
        'core: 0001_initial\n'
        '<<<<<<< HEAD\n'
        'shop: 0003_x\n'
        '=======\n'
        'shop: 0003_y\n'
        '>>>>>>> topic\n'
    )
    assert split_conflict(text, path=LOCK) == ConflictSides(
        ours='Header prose.\n\nbilling: 0005_a\ncore: 0001_initial\n'
             'shop: 0003_x\n',
        base=None,
        theirs='Header prose.\n\nbilling: 0005_b\ncore: 0001_initial\n'
               'shop: 0003_y\n',
    )


def test_split_with_other_marker_size() -> None:
    # %L = 9: seven-character runs are content, not markers.
    text = (
        '<<<<<<<<< HEAD\n'
        '<<<<<<< not a marker\n'
        '||||||||| base\n'
        'b\n'
        '=========\n'
        '=======\n'
        '>>>>>>>>> topic\n'
    )
    assert not has_conflict_markers('<<<<<<<<< HEAD\nx\n')
    assert has_conflict_markers(text, marker_size=9)
    assert split_conflict(text, path=MAX, marker_size=9) == ConflictSides(
        ours='<<<<<<< not a marker\n', base='b\n', theirs='=======\n',
    )


def test_split_without_markers() -> None:
    assert split_conflict('0003_x\n', path=MAX) is None
    # A longer run than the marker size is content.
    assert split_conflict('<<<<<<<< x\n', path=MAX) is None


@pytest.mark.parametrize(
    ('text', 'line', 'message'),
    (
        ('<<<<<<< a\nx\n', 1, 'conflict hunk is not closed'),
        ('<<<<<<< a\nx\n=======\ny\n', 1, 'conflict hunk is not closed'),
        ('x\n=======\n', 2, 'unexpected conflict marker'),
        ('<<<<<<< a\n>>>>>>> b\n', 2, 'unexpected conflict marker'),
        ('<<<<<<< a\n<<<<<<< a\n', 2, 'unexpected conflict marker'),
    ),
)
def test_split_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        split_conflict(text, path=MAX)
    assert str(excinfo.value).startswith(f'{MAX}:{line}: {message}')


# --- max_migration.txt -----------------------------------------------------


@pytest.mark.parametrize(
    'text', ('0003_x\n', '0003_x', '  0003_x  \r\n\n', '\n0003_x\n'),
)
def test_parse_max_migration(text: str) -> None:
    assert parse_max_migration(text, path=MAX) == '0003_x'


@pytest.mark.parametrize(
    ('text', 'expected'),
    (
        ('', f'{MAX}:1: max_migration.txt is empty'),
        ('0003_x\n0003_y\n', f'{MAX}:2: max_migration.txt contains multiple lines'),
        ('\n../../etc/passwd\n', f"{MAX}:2: '../../etc/passwd' is not a valid"),
        ('0003 x\n', f"{MAX}:1: '0003 x' is not a valid"),
        (PLAIN, f'{MAX}:1: file holds conflict markers'),
    ),
)
def test_parse_max_migration_errors(text: str, expected: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        parse_max_migration(text, path=MAX)
    assert str(excinfo.value).startswith(expected)


def test_each_side_of_a_conflicted_max_migration() -> None:
    sides = split_conflict(DIFF3, path=MAX)
    assert sides is not None and sides.base is not None
    assert [
        parse_max_migration(t, path=MAX)
        for t in (sides.ours, sides.base, sides.theirs)
    ] == ['0003_userprofile_address', '0002_userprofile', '0003_userprofile_age']


def test_render_max_migration() -> None:
    assert render_max_migration('0004_merge_x') == '0004_merge_x\n'
    text = render_max_migration('0004_merge_x')
    assert parse_max_migration(text, path=MAX) == '0004_merge_x'
    with pytest.raises(MigmergeError):
        render_max_migration('x/y')


NAMES = ('0001_initial', '0002_userprofile', '0003_userprofile_age')


@pytest.mark.parametrize(
    ('text', 'expected'),
    (
        ('0003_userprofile_age\n', MaxMigrationOk('0003_userprofile_age')),
        (
            None,
            MaxMigrationProblem(
                'missing', "shop's max_migration.txt does not exist.", MAX, 1,
            ),
        ),
        (
            '0003_a\n0003_b\n',
            MaxMigrationProblem(
                'unreadable', 'max_migration.txt contains multiple lines',
                MAX, 2,
            ),
        ),
        (
            '\n0009_gone\n',
            MaxMigrationProblem(
                'unknown-migration',
                "shop's max_migration.txt points to non-existent migration "
                "'0009_gone'.",
                MAX, 2,
            ),
        ),
        (
            '0002_userprofile\n',
            MaxMigrationProblem(
                'not-leaf',
                "shop's max_migration.txt contains '0002_userprofile', but "
                "the latest migration is '0003_userprofile_age'.",
                MAX, 1,
            ),
        ),
        (
            PLAIN,
            MaxMigrationProblem(
                'unreadable', 'file holds conflict markers', MAX, 1,
            ),
        ),
    ),
)
def test_check_max_migration(
        text: str | None, expected: MaxMigrationOk | MaxMigrationProblem,
) -> None:
    got = check_max_migration(
        text, path=MAX, app_label='shop', migration_names=NAMES,
        leaf='0003_userprofile_age',
    )
    assert got == expected


def test_problem_one_line() -> None:
    got = check_max_migration(
        None, path=MAX, app_label='shop', migration_names=NAMES, leaf='x',
    )
    assert isinstance(got, MaxMigrationProblem)
    assert got.one_line() == f"{MAX}:1: shop's max_migration.txt does not exist."


# --- Sentry-style migrations_lockfile.txt ----------------------------------

HEADER = (
    'Django migrations lock file. This helps us avoid migration conflicts on '
    'master.\n'
    'If you have a conflict in this file, it means that someone has '
    'committed a migration\n'
    'ahead of you.\n'
    '\n'
    'To resolve this, rebase against latest master and regenerate your '
    'migration. This file\n'
    'will then be regenerated, and you should be able to merge without '
    'conflicts.\n'
    '\n'
)
SENTRY = (
    HEADER +
    'feedback: 0004_index_together\n'
    'nodestore: 0002_nodestore_no_dictfield\n'
    'sentry: 0803_delete_globalconfigdata\n'
)


def test_parse_sentry_lockfile() -> None:
    lock = parse_lockfile(SENTRY, path=LOCK)
    assert lock.header == HEADER
    assert lock.entries == (
        ('feedback', '0004_index_together'),
        ('nodestore', '0002_nodestore_no_dictfield'),
        ('sentry', '0803_delete_globalconfigdata'),
    )
    assert lock.get('sentry') == '0803_delete_globalconfigdata'
    assert lock.get('nope') is None
    assert render_lockfile(lock) == SENTRY


@pytest.mark.parametrize(
    'text',
    (
        SENTRY,
        # Entries spaced out by blank lines, CRLF, no header, no final newline.
        HEADER + 'a: 0001_x\n\nb: 0002_y\n\n',
        SENTRY.replace('\n', '\r\n'),
        'a: 0001_x\nb: 0002_y\n',
        'a: 0001_x',
        'Just prose, no entries.\n',
        # A prose line with a colon is header when prose follows it.
        'Note: read this\nplease.\n\nshop: 0003_x\n',
    ),
)
def test_lockfile_round_trip(text: str) -> None:
    assert render_lockfile(parse_lockfile(text, path=LOCK)) == text


def test_lockfile_with_entries_keeps_header_and_sorts() -> None:
    lock = parse_lockfile(SENTRY, path=LOCK)
    updated = lock.with_entries({'sentry': '0804_merge', 'billing': '0001_initial'})
    assert render_lockfile(updated) == (
        HEADER +
        'billing: 0001_initial\n'
        'feedback: 0004_index_together\n'
        'nodestore: 0002_nodestore_no_dictfield\n'
        'sentry: 0804_merge\n'
    )
    spaced = parse_lockfile(HEADER + 'a: 0001_x\n\nc: 0002_y\n', path=LOCK)
    assert render_lockfile(spaced.with_entries({'b': '0003_z'})) == (
        HEADER + 'a: 0001_x\n\nb: 0003_z\n\nc: 0002_y\n'
    )
    empty = parse_lockfile('Prose.', path=LOCK)
    assert render_lockfile(empty.with_entries({'a': '0001_x'})) == (
        'Prose.\n\na: 0001_x\n'
    )
    with pytest.raises(MigmergeError):
        lock.with_entries({'sentry': '../x'})


def test_lockfile_unsorted_input_is_rendered_sorted() -> None:
    lock = parse_lockfile(HEADER + 'b: 0002_y\na: 0001_x\n', path=LOCK)
    assert lock == Lockfile(HEADER, (('a', '0001_x'), ('b', '0002_y')))
    assert render_lockfile(lock) == HEADER + 'a: 0001_x\nb: 0002_y\n'


@pytest.mark.parametrize(
    ('text', 'expected'),
    (
        (HEADER + 'shop: ../../x\n', f"{LOCK}:8: '../../x' is not a valid"),
        (HEADER + 'my-app: 0001_x\n', f"{LOCK}:8: 'my-app' is not a valid app"),
        (
            HEADER + 'shop: 0001_x\nshop: 0002_y\n',
            f"{LOCK}:9: app 'shop' is listed twice",
        ),
        (
            HEADER + '<<<<<<< HEAD\nshop: 0001_x\n=======\nshop: 0001_y\n'
            '>>>>>>> b\n',
            f'{LOCK}:8: file holds conflict markers',
        ),
    ),
)
def test_lockfile_errors(text: str, expected: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        parse_lockfile(text, path=LOCK)
    assert str(excinfo.value).startswith(expected)


def test_conflicted_sentry_lockfile_sides() -> None:
    text = (
        HEADER +
        'feedback: 0004_index_together\n'
        '<<<<<<< HEAD\n'
        'sentry: 0804_add_x\n'
        '||||||| merged common ancestors\n'
        'sentry: 0803_delete_globalconfigdata\n'
        '=======\n'
        'sentry: 0804_add_y\n'
        '>>>>>>> topic\n'
    )
    sides = split_conflict(text, path=LOCK)
    assert sides is not None and sides.base is not None
    got = [
        parse_lockfile(t, path=LOCK).get('sentry')
        for t in (sides.ours, sides.base, sides.theirs)
    ]
    assert got == ['0804_add_x', '0803_delete_globalconfigdata', '0804_add_y']
    assert parse_lockfile(sides.ours, path=LOCK).header == HEADER


_LINES = st.lists(
    st.text(alphabet='abc:<=>| _0123', max_size=6).map(lambda s: s + '\n'),
    max_size=3,
)


@given(
    chunks=st.lists(
        st.tuples(_LINES, _LINES, _LINES, _LINES), min_size=1, max_size=3,
    ),
    diff3=st.booleans(),
    size=st.integers(min_value=7, max_value=10),
)
def test_split_recovers_the_sides(
        chunks: list[tuple[list[str], list[str], list[str], list[str]]],
        diff3: bool,
        size: int,
) -> None:
    # Content lines cannot be mistaken for markers of this size: their
    # runs are shorter than 7.
    text = ''
    ours = base = theirs = ''
    for common, o, b, t in chunks:
        text += ''.join(common) + '<' * size + ' ours\n' + ''.join(o)
        if diff3:
            text += '|' * size + ' base\n' + ''.join(b)
        text += '=' * size + '\n' + ''.join(t) + '>' * size + ' theirs\n'
        ours += ''.join(common + o)
        base += ''.join(common + b)
        theirs += ''.join(common + t)
    got = split_conflict(text, path=LOCK, marker_size=size)
    assert got == ConflictSides(ours, base if diff3 else None, theirs)
