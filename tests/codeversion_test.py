from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mergedriver
from mergedriver.cache import PARSER_ROOTS
from mergedriver.check import SNAPSHOT_ROOTS
from mergedriver.codeversion import code_modules
from testing import paths

PACKAGE_DIR = Path(mergedriver.__file__).parent
FIXTURES = paths.FIXTURES / 'parse'

# Runs a cold check (parse every file, libcst for the PEP 695 one, build
# the graph from pieces) and prints the migmerge modules it loaded.
_LOADED_SCRIPT = '''\
import json, sys
from mergedriver.check import check_summary
from mergedriver.config import Config
from mergedriver.git.trees import directory_tree
tree = directory_tree(sys.argv[1], cache_path=sys.argv[2])
check_summary(tree, Config())
print(json.dumps(sorted(m for m in sys.modules if m.startswith('mergedriver'))))
'''

_READER_SCRIPT = '''\
import json, sys
from mergedriver.parsing.reader import read_migration
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        read_migration(f.read(), app_label='shop', name='x', path=path)
print(json.dumps(sorted(m for m in sys.modules if m.startswith('mergedriver'))))
'''

# The three keys, computed by a fresh interpreter from the package it finds
# first on sys.path (a copy, in the tests that edit it).
_KEYS_SCRIPT = '''\
import json, sys
from mergedriver.cache import parser_version
from mergedriver.check import SNAPSHOT_ROOTS, check_summary
from mergedriver.codeversion import code_version
from mergedriver.config import Config
from mergedriver.graph.pieces import PIECE_ROOTS
from mergedriver.git.trees import directory_tree
tree = directory_tree(sys.argv[1], cache_path=sys.argv[2])
summary = check_summary(tree, Config())
print(json.dumps({
    'parser': parser_version(),
    'snapshot': code_version(*SNAPSHOT_ROOTS),
    'pieces': code_version(*PIECE_ROOTS),
    'from_snapshot': summary.from_snapshot,
}))
'''


def _project(root: Path) -> Path:
    migrations = root / 'project' / 'shop' / 'migrations'
    migrations.mkdir(parents=True)
    (migrations.parent / '__init__.py').write_text('')
    (migrations.parent / 'models.py').write_text('')
    (migrations / '__init__.py').write_text('')
    shutil.copy(FIXTURES / 'typical.py', migrations / '0001_initial.py')
    (migrations / '0002_generic.py').write_bytes(
        (FIXTURES / 'pep695.py').read_bytes(),
    )
    return root / 'project'


def _run(script: str, *args: str, path: Path | None = None) -> object:
    env = dict(os.environ)
    if path is not None:
        env['PYTHONPATH'] = str(path)
    # Run from the package's parent only when it is the package wanted:
    # ``-c`` puts the current directory first on sys.path.
    out = subprocess.run(
        (sys.executable, '-c', script, *args),
        capture_output=True, text=True, check=True, env=env,
        cwd=path or PACKAGE_DIR.parent,
    ).stdout
    return json.loads(out)


def test_a_cold_check_loads_only_modules_in_its_keys(tmp_path: Path) -> None:
    project = _project(tmp_path)
    loaded = _run(_LOADED_SCRIPT, str(project), str(tmp_path / 'c.sqlite3'))
    assert isinstance(loaded, list)
    # The run went through every path the keys must cover.
    assert 'mergedriver.parsing.libcst_frontend' in loaded
    assert 'mergedriver.graph.pieces' in loaded
    covered = set(code_modules(SNAPSHOT_ROOTS)) | set(code_modules(PARSER_ROOTS))
    assert set(loaded) - covered == set()


def test_the_parser_key_covers_what_reading_loads(tmp_path: Path) -> None:
    loaded = _run(
        _READER_SCRIPT, str(FIXTURES / 'typical.py'),
        str(FIXTURES / 'pep695.py'),
    )
    assert isinstance(loaded, list)
    assert 'mergedriver.parsing.libcst_frontend' in loaded
    assert set(loaded) - set(code_modules(PARSER_ROOTS)) == set()


def test_the_parser_key_leaves_out_unrelated_code() -> None:
    modules = set(code_modules(PARSER_ROOTS))
    assert not {'mergedriver.cli', 'mergedriver.check'} & modules


def test_imports_are_followed_into_subpackages(tmp_path: Path) -> None:
    package = tmp_path / 'mergedriver'
    (package / 'a').mkdir(parents=True)
    (package / '__init__.py').write_text('')
    (package / 'a' / '__init__.py').write_text('')
    (package / 'root.py').write_text(textwrap.dedent('''\
        from mergedriver.a.b import thing
        from mergedriver.a import c
        from mergedriver.a import (
            d,
            e as f,
        )
        def lazy():
            import mergedriver.g
        # from mergedriver import commented_out
    '''))
    for name in ('b', 'c', 'd', 'e'):
        (package / 'a' / f'{name}.py').write_text('')
    (package / 'g.py').write_text('from mergedriver import h\n')
    (package / 'h.py').write_text('')
    (package / 'unrelated.py').write_text('')
    (package / 'commented_out.py').write_text('')
    found = code_modules(('mergedriver.root',), str(package))
    assert sorted(found) == [
        'mergedriver', 'mergedriver.a', 'mergedriver.a.b', 'mergedriver.a.c',
        'mergedriver.a.d', 'mergedriver.a.e', 'mergedriver.g',
        'mergedriver.h', 'mergedriver.root',
    ]


def _copy_package(tmp_path: Path) -> Path:
    site = tmp_path / 'site'
    shutil.copytree(
        PACKAGE_DIR, site / 'mergedriver',
        ignore=shutil.ignore_patterns('__pycache__'),
    )
    return site


@pytest.mark.parametrize(
    ('module', 'changed'),
    [
        ('mergedriver.parsing.evaluate', {'parser', 'snapshot'}),
        ('mergedriver.graph.model', {'snapshot', 'pieces'}),
        ('mergedriver.graph.pieces', {'snapshot', 'pieces'}),
        ('mergedriver.driver.mergefile', set()),
    ],
)
def test_changing_a_module_changes_the_keys_that_depend_on_it(
        tmp_path: Path, module: str, changed: set[str],
) -> None:
    site = _copy_package(tmp_path)
    project = _project(tmp_path)
    args = (str(project), str(tmp_path / 'c.sqlite3'))
    before = _run(_KEYS_SCRIPT, *args, path=site)
    warm = _run(_KEYS_SCRIPT, *args, path=site)
    assert isinstance(before, dict) and isinstance(warm, dict)
    assert warm['from_snapshot']
    source = site / Path(*module.split('.')).with_suffix('.py')
    source.write_text(source.read_text() + '\n# changed\n')
    after = _run(_KEYS_SCRIPT, *args, path=site)
    assert isinstance(after, dict)
    assert {
        key for key in ('parser', 'snapshot', 'pieces')
        if after[key] != before[key]
    } == changed
    # A change to the code that computed the answer is a miss, rebuilt.
    assert after['from_snapshot'] == (not changed)
