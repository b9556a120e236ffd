"""Shared fixtures.  Keep this small: helpers go in the ``testing``
package (tests/testing/), one module per chore."""
from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ConfigLevel

from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from testing.migrations import MakeMigration

Edge = tuple[str, str]


@pytest.fixture(autouse=True)
def git_home(
        tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A HOME of its own, for every test (autouse), so the developer's
    global git config, signing key or excludes file cannot change a result.
    Yields that HOME, for the tests that write into it."""
    home = tmp_path_factory.mktemp('home')
    for var in (
            'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_SYSTEM', 'XDG_CONFIG_HOME',
            'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE',
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.setenv('GIT_CONFIG_NOSYSTEM', '1')
    for role in ('AUTHOR', 'COMMITTER'):
        monkeypatch.setenv(f'GIT_{role}_NAME', 'Test')
        monkeypatch.setenv(f'GIT_{role}_EMAIL', 'test@example.com')
    # libgit2 read HOME once, when pygit2 was imported: point its config
    # search path at the same HOME for the in-process hook calls.
    levels = (ConfigLevel.SYSTEM, ConfigLevel.XDG, ConfigLevel.GLOBAL)
    saved = {level: pygit2.settings.search_path[level] for level in levels}
    pygit2.settings.search_path[ConfigLevel.SYSTEM] = str(home / 'no-system')
    pygit2.settings.search_path[ConfigLevel.XDG] = str(home / '.config/git')
    pygit2.settings.search_path[ConfigLevel.GLOBAL] = str(home)
    try:
        yield home
    finally:
        for level, value in saved.items():
            pygit2.settings.search_path[level] = value


def _deps(entries: Sequence[Edge | Dependency]) -> tuple[Dependency, ...]:
    # Hand-written records number their entries from line 10 up, so a test
    # can tell which entry a problem points at.
    return tuple(
        e if isinstance(e, Dependency) else Dependency(e[0], e[1], 10 + i)
        for i, e in enumerate(entries)
    )


@pytest.fixture
def make_migration() -> MakeMigration:
    """``make_migration('app', '0002_x', deps=[('app', '0001_initial')])``.

    Builds a MigrationInfo as the parser would, without a file on disk; the
    path is ``<app>/migrations/<name>.py``.
    """
    def make(
            app: str,
            name: str,
            deps: Sequence[Edge | Dependency] = (),
            *,
            replaces: Sequence[Edge | Dependency] = (),
            run_before: Sequence[Edge | Dependency] = (),
            **fields: object,
    ) -> MigrationInfo:
        return MigrationInfo(
            app_label=app,
            name=name,
            path=f'{app}/migrations/{name}.py',
            class_line=5,
            dependencies=_deps(deps),
            replaces=_deps(replaces),
            run_before=_deps(run_before),
            **fields,  # type: ignore[arg-type]
        )
    return make
