"""Shared fixtures.  Keep this small: helpers with more than a few lines go
in their own module under tests/ (e.g. djangoproc.py)."""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

import pytest

from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo

Edge = tuple[str, str]
MakeMigration = Callable[..., MigrationInfo]


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
