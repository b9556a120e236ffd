"""The reader: ast fast path first, libcst only when the fast path cannot."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from mergedriver.errors import ParseError
from mergedriver.parsing import ast_frontend as fastparse
from mergedriver.parsing import libcst_frontend as parse
from mergedriver.parsing import reader
from mergedriver.records import MigrationInfo

# PEP 695 syntax (Python 3.12): libcst reads it; Python 3.11's ast does not.
NEW_SYNTAX = textwrap.dedent('''\
    from django.db import migrations

    type Pair = tuple[str, str]

    class Base[T](migrations.Migration):
        pass

    def first[T](items: list[T]) -> T:
        return items[0]

    class Migration(Base):
        dependencies = [('shop', '0001_initial')]
        operations = [migrations.DeleteModel('Order')]
''').encode()

PLAIN = textwrap.dedent('''\
    from django.db import migrations

    class Migration(migrations.Migration):
        dependencies = [('shop', '0001_initial')]
        operations = [migrations.DeleteModel('Order')]
''').encode()


def _read(func: Callable[..., MigrationInfo], data: bytes) -> MigrationInfo:
    return func(data, app_label='shop', name='0002_x', path='m/0002_x.py')


def test_new_syntax_falls_back_to_libcst() -> None:
    info = _read(reader.read_migration, NEW_SYNTAX)
    assert info == _read(parse.parse_migration, NEW_SYNTAX)
    assert [d.key for d in info.dependencies] == [('shop', '0001_initial')]
    assert [op.kind for op in info.operations] == ['DeleteModel']
    if sys.version_info < (3, 12):
        with pytest.raises(fastparse.FastPathUnavailable):
            _read(fastparse.parse_migration, NEW_SYNTAX)
    else:  # the running ast reads it: the fast path must agree
        assert _read(fastparse.parse_migration, NEW_SYNTAX) == info


def test_plain_module_is_identical_on_both_paths() -> None:
    assert _read(reader.read_migration, PLAIN) == _read(
        parse.parse_migration, PLAIN,
    )


def test_syntax_error_comes_from_the_parser_of_record() -> None:
    data = b'from django.db import migrations\nclass Migration(:\n'
    with pytest.raises(ParseError) as excinfo:
        _read(reader.read_migration, data)
    assert excinfo.value.path == 'm/0002_x.py'
    assert excinfo.value.line == 2
    assert str(excinfo.value).startswith('m/0002_x.py:2: invalid syntax')


def _modules_after(code: str) -> set[str]:
    script = (
        'import sys\n' + code +
        "\nprint('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        (sys.executable, '-c', script),
        capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


def test_warm_path_never_imports_libcst() -> None:
    modules = _modules_after(textwrap.dedent(f'''\
        import mergedriver.parsing.evaluate, mergedriver.parsing.ast_frontend
        from mergedriver.parsing.reader import read_migration
        info = read_migration(
            {PLAIN!r}, app_label='shop', name='0002_x', path='x.py',
        )
        assert info.operations[0].kind == 'DeleteModel'
    '''))
    assert 'mergedriver.parsing.reader' in modules
    assert not {m for m in modules if m.split('.')[0] == 'libcst'}


def test_fallback_imports_libcst_only_when_needed() -> None:
    modules = _modules_after(textwrap.dedent('''\
        from mergedriver.parsing.reader import read_migration
        try:
            read_migration(b'class (:\\n', app_label='a', name='b', path='x')
        except Exception as e:
            assert type(e).__name__ == 'ParseError', e
    '''))
    assert 'libcst' in modules
