from __future__ import annotations

import datetime

import pytest

from mergedriver.errors import MigmergeError
from mergedriver.naming import check_app_label
from mergedriver.naming import check_migration_name
from mergedriver.naming import leading_number
from mergedriver.naming import merge_migration_name
from mergedriver.naming import parse_number
from mergedriver.naming import renumbered_name

NOW = datetime.datetime(2026, 11, 25, 12, 34, 56)


@pytest.mark.parametrize(
    ('name', 'expected'),
    (
        ('0001_initial', 1),
        ('0002_auto_20201202_1445', 2),
        ('9999_x', 9999),
        ('10000_x', 10000),
        ('0005_squashed_0009_x', 9),
        ('0001_squashed_0004_auto_20201202_1445', 4),
        ('auto_1234', None),
        ('initial', None),
        ('custom_squashed_0012', 12),
        ('0003_squashed_x', 3),
        ('', None),
    ),
)
def test_parse_number(name: str, expected: int | None) -> None:
    assert parse_number(name) == expected


@pytest.mark.parametrize(
    ('leaves', 'expected'),
    (
        (
            ('0003_userprofile_age', '0003_userprofile_address'),
            '0004_merge_0003_userprofile_address_0003_userprofile_age',
        ),
        (
            ('0002_second', '0002_conflicting_second'),
            '0003_merge_0002_conflicting_second_0002_second',
        ),
        # The largest number counts, not the first.
        (('0007_b', '0003_a'), '0008_merge_0003_a_0007_b'),
        # A squashed leaf counts as the last number it replaces.
        (
            ('0001_squashed_0004_x', '0002_y'),
            '0005_merge_0001_squashed_0004_x_0002_y',
        ),
        # No numbered leaf: Django starts from 1, the merge is 0002.
        (('auto_b', 'auto_a'), '0002_merge_auto_a_auto_b'),
        (('0005_a', 'auto_b'), '0006_merge_0005_a_auto_b'),
        (('9999_a', '9999_b'), '10000_merge_9999_a_9999_b'),
        (('0003_a', '0003_b', '0002_c'), '0004_merge_0002_c_0003_a_0003_b'),
    ),
)
def test_merge_migration_name(leaves: tuple[str, ...], expected: str) -> None:
    assert merge_migration_name(leaves, now=NOW) == expected


def test_merge_name_length_limit_is_47_characters() -> None:
    # Joined with '_': 23 + 1 + 23 = 47 characters still spells the names.
    at_limit = ('0003_' + 'a' * 18, '0003_' + 'b' * 18)
    assert len('_'.join(at_limit)) == 47
    assert merge_migration_name(at_limit, now=NOW) == (
        '0004_merge_' + '_'.join(at_limit)
    )
    over = ('0003_' + 'a' * 18, '0003_' + 'b' * 19)
    assert merge_migration_name(over, now=NOW) == '0004_merge_20261125_1234'


def test_merge_name_option_replaces_generated_part() -> None:
    leaves = ('0003_a', '0003_b')
    assert merge_migration_name(leaves, now=NOW, name='join') == '0004_join'
    long_leaves = ('0003_' + 'x' * 40, '0003_' + 'y' * 40)
    got = merge_migration_name(long_leaves, now=NOW, name='join')
    assert got == '0004_join'


@pytest.mark.parametrize('bad', ('has space', '0003-x', '', 'a/b'))
def test_merge_name_option_must_be_identifier(bad: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        merge_migration_name(('0003_a', '0003_b'), now=NOW, name=bad)
    assert 'valid Python identifier' in str(excinfo.value)


def test_merge_needs_two_leaves() -> None:
    with pytest.raises(MigmergeError):
        merge_migration_name(('0003_a',), now=NOW)


@pytest.mark.parametrize(
    ('name', 'number', 'expected'),
    (
        ('0003_userprofile_age', 4, '0004_userprofile_age'),
        ('0004_a', 7, '0007_a'),
        ('0009_x', 10, '0010_x'),
        ('9999_x', 10000, '10000_x'),
        ('00012_wide', 13, '00013_wide'),
        ('03_short', 4, '0004_short'),
        ('0001_initial', 2, '0002_initial'),
        ('0004', 5, '0005'),
        ('0002_squashed_0005_x', 6, '0006_squashed_0005_x'),
    ),
)
def test_renumbered_name(name: str, number: int, expected: str) -> None:
    assert renumbered_name(name, number) == expected


@pytest.mark.parametrize('name', ('auto_1234', 'initial', 'x0003'))
def test_renumber_needs_a_number(name: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        renumbered_name(name, 4, path='app/migrations/x.py', line=1)
    assert str(excinfo.value).startswith('app/migrations/x.py:1: ')
    assert 'no number' in str(excinfo.value)
    with pytest.raises(MigmergeError):
        leading_number(name)


def test_leading_number() -> None:
    assert leading_number('0003_x') == 3
    assert leading_number('0001_squashed_0004_x') == 1


@pytest.mark.parametrize(
    'name', ('0001_initial', 'auto_1234', '0003_ü', '_x', '0004'),
)
def test_valid_migration_names(name: str) -> None:
    assert check_migration_name(name) == name


@pytest.mark.parametrize(
    'name', ('', '../0001_x', '0001 x', '0003-x', 'a.b', '0001_x\n'),
)
def test_invalid_migration_names(name: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        check_migration_name(name, path='max_migration.txt', line=3)
    assert str(excinfo.value).startswith('max_migration.txt:3: ')


def test_app_labels() -> None:
    assert check_app_label('auth') == 'auth'
    for bad in ('0auth', 'my-app', 'a.b', ''):
        with pytest.raises(MigmergeError):
            check_app_label(bad)
