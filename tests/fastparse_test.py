"""The ast fast path: same records as libcst, or a clear hand-over."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from mergedriver import fastparse
from mergedriver import parse
from mergedriver.errors import ParseError

FIXTURES = Path(__file__).parent / 'fixtures' / 'parse'


def _read(func: object, data: bytes) -> object:
    assert callable(func)
    return func(data, app_label='shop', name='0002_x', path='m/0002_x.py')


@pytest.mark.parametrize(
    'src',
    (
        pytest.param(b'class Migration(:\n', id='syntax error'),
        pytest.param(b'x = (\n', id='unclosed'),
        pytest.param(b'def f():\nreturn 1\n', id='indentation'),
    ),
)
def test_unparsable_source_is_handed_over(src: bytes) -> None:
    with pytest.raises(fastparse.FastPathUnavailable):
        _read(fastparse.parse_migration, src)
    with pytest.raises(ParseError):  # and libcst names the error
        _read(parse.parse_migration, src)


def test_pep695_is_handed_over_when_ast_cannot_read_it() -> None:
    data = (FIXTURES / 'pep695.py').read_bytes()
    if sys.version_info < (3, 12):
        with pytest.raises(fastparse.FastPathUnavailable):
            _read(fastparse.parse_migration, data)
    else:
        assert _read(fastparse.parse_migration, data) == _read(
            parse.parse_migration, data,
        )


def test_encoding_errors_are_reported_without_libcst() -> None:
    with pytest.raises(ParseError) as excinfo:
        _read(fastparse.parse_migration, b'\n\nx = "\xff"\n')
    assert str(excinfo.value) == 'm/0002_x.py:3: not valid UTF-8'


@pytest.mark.parametrize(
    'path',
    sorted(p for p in FIXTURES.glob('*.py') if p.name != 'pep695.py'),
    ids=lambda p: p.name,
)
def test_fixtures_read_identically(path: Path) -> None:
    data = path.read_bytes()
    assert _read(fastparse.parse_migration, data) == _read(
        parse.parse_migration, data,
    )


def test_much_faster_than_libcst() -> None:
    # The fast path exists for cold runs over thousands of files.  Compared
    # with libcst on the same input (interleaved, so machine load affects
    # both alike) rather than against a wall-clock bound.
    data = (FIXTURES / 'typical.py').read_bytes()
    fast = slow = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(4):
            _read(fastparse.parse_migration, data)
        fast += time.perf_counter() - start
        start = time.perf_counter()
        _read(parse.parse_migration, data)
        slow += (time.perf_counter() - start) * 4
    assert fast * 5 < slow, (fast, slow)
