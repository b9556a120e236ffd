"""The ast fast path: same records as libcst, or a clear hand-over."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as st

from mergedriver.errors import ParseError
from mergedriver.parsing import ast_frontend as fastparse
from mergedriver.parsing import libcst_frontend as parse
from mergedriver.records import MigrationInfo
from testing import paths

FIXTURES = paths.FIXTURES / 'parse'


def _read(func: Callable[..., MigrationInfo], data: bytes) -> MigrationInfo:
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


_APPS = st.sampled_from(('shop', 'auth', 'billing', 'tax'))
_NAMES = st.sampled_from(('0001_initial', '0002_x', '__first__', 'custom'))
_DEP = st.tuples(_APPS, _NAMES)
# How a chunk of dependencies reaches the class: the forms real projects use
_FORMS = st.sampled_from(
    ('literal', 'name', 'append', 'extend', 'function', 'ifexp', 'swappable'),
)


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(
    chunks=st.lists(
        st.tuples(_FORMS, st.lists(_DEP, min_size=1, max_size=3)),
        min_size=1, max_size=5,
    ),
    use_tuple=st.booleans(),
)
def test_generated_modules_read_identically(
        chunks: list[tuple[str, list[tuple[str, str]]]], use_tuple: bool,
) -> None:
    module = [
        'from django.conf import settings',
        'from django.db import migrations',
    ]
    parts = []
    expected = set()
    for i, (form, deps) in enumerate(chunks):
        if form != 'swappable':
            expected.update(deps)
        seq = ', '.join(f'({a!r}, {n!r})' for a, n in deps)
        seq = f'({seq},)' if use_tuple else f'[{seq}]'
        if form == 'literal':
            parts.append(f'list({seq})')
        elif form == 'name':
            module.append(f'DEPS_{i} = {seq}')
            parts.append(f'list(DEPS_{i})')
        elif form in ('append', 'extend'):
            module.append(f'deps_{i} = []')
            module.append('if settings.FLAG:')
            for dep in deps:
                arg = repr(dep) if form == 'append' else f'[{dep!r}]'
                module.append(f'    deps_{i}.{form}({arg})')
            parts.append(f'deps_{i}')
        elif form == 'function':
            module.append(f'def get_{i}():')
            module.append(f'    return {seq}')
            parts.append(f'list(get_{i}())')
        elif form == 'ifexp':
            parts.append(f'({seq} if settings.FLAG else [])')
        else:
            expected.add(('', '__first__'))
            module.append(f'SW_{i} = [')
            module.extend(
                f'    migrations.swappable_dependency(settings.S{i}),'
                for _ in deps
            )
            module.append(']')
            parts.append(f'SW_{i}')
    module.append('class Migration(migrations.Migration):')
    module.append(f'    dependencies = {" + ".join(parts)}')
    data = '\n'.join(module).encode() + b'\n'
    by_libcst = _read(parse.parse_migration, data)
    assert _read(fastparse.parse_migration, data) == by_libcst
    assert by_libcst.unresolved == ()
    assert {d.key for d in by_libcst.dependencies} == expected
