"""A warm run loads neither libcst nor pygit2 (docs/design.md, "The
pipeline": every subpackage's ``__init__`` stays empty for this)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.git import commit_all
from testing.git import make_repo
from testing.migrations import add_migration

# Each program runs one entry point's main() the way its console script
# does, isolated like the installed hooks.
PROGRAMS = {
    'check': 'from mergedriver.cli import main; raise SystemExit(main(["check"]))',
    'single-migration-leaf': (
        'from hooks.single_migration_leaf import main; raise SystemExit(main([]))'
    ),
    'migration-dependencies-exist': (
        'from hooks.migration_dependencies_exist import main; '
        'raise SystemExit(main([]))'
    ),
}


def imported(program: str, cwd: Path) -> set[str]:
    """Top-level names of every module ``program`` imported, from
    ``python -X importtime``'s report."""
    proc = subprocess.run(
        (sys.executable, '-I', '-X', 'importtime', '-c', program),
        cwd=cwd, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith('import time:') and '|' in line:
            module = line.rsplit('|', 1)[1].strip()
            if module != 'package':  # the header line
                names.add(module.split('.')[0])
    assert 'mergedriver' in names  # the report was read
    return names


@pytest.mark.parametrize('entry', sorted(PROGRAMS))
def test_a_warm_run_loads_neither_libcst_nor_pygit2(
        tmp_path: Path, git_home: Path, entry: str,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / 'project')
    add_migration(repo, 'shop', '0001_initial')
    add_migration(repo, 'shop', '0002_price', [('shop', '0001_initial')])
    add_migration(repo, 'blog', '0001_initial')
    commit_all(repo)
    # Files changed in the last few seconds are not trusted by the caches
    # (their stat data may still change): let them settle.
    time.sleep(3.2)
    cold = imported(PROGRAMS[entry], repo)  # fills the caches
    warm = imported(PROGRAMS[entry], repo)
    assert not {'libcst', 'pygit2'} & warm
    if entry == 'check':
        # The report does see them: the cold check asked libgit2 about
        # ignored directories (the hooks read only the index).
        assert 'pygit2' in cold
