"""The graph assembled from per-app pieces equals the graph built whole."""
from __future__ import annotations

import random
import sysconfig
from collections.abc import Iterable
from collections.abc import Sequence
from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as st

from mergedriver.cache import Cache
from mergedriver.config import Config
from mergedriver.git.trees import directory_tree
from mergedriver.graph.builder import build_graph
from mergedriver.graph.model import GraphResult
from mergedriver.graph.pieces import app_fragment
from mergedriver.graph.pieces import assemble
from mergedriver.graph.pieces import build_graph_from_fragments
from mergedriver.graph.pieces import Fragment
from mergedriver.parsing.load import load_migrations
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from testing.generated import projects
from testing.generated import read_project
from testing.generated import Spec
from testing.generated import SWAP_SETTING
from testing.generated import SWAP_VALUE
from testing.generated import write_project

SWAPPABLE = {SWAP_SETTING: SWAP_VALUE}


def assert_same(assembled: GraphResult, whole: GraphResult) -> None:
    assert assembled.problems == whole.problems
    assert assembled.graph == whole.graph
    # what equality does not see: the orders Django's would have
    assert list(assembled.graph.nodes) == list(whole.graph.nodes)
    assert list(assembled.graph.migrations) == list(whole.graph.migrations)
    assert (
        assembled.graph.external_dependencies ==
        whole.graph.external_dependencies
    )
    assert list(assembled.graph.replacements) == list(whole.graph.replacements)


def pieces(
        migrations: Sequence[MigrationInfo], swappable: dict[str, str],
) -> dict[str, Fragment | None]:
    by_app: dict[str, list[MigrationInfo]] = {}
    for info in migrations:
        by_app.setdefault(info.app_label, []).append(info)
    return {
        app: app_fragment(app, records, swappable)
        for app, records in by_app.items()
    }


def assembled_or_none(
        migrations: Sequence[MigrationInfo],
        swappable: dict[str, str],
        known_apps: Iterable[str] = (),
) -> GraphResult | None:
    found = pieces(migrations, swappable)
    if any(piece is None for piece in found.values()):
        return None
    return assemble(
        migrations,
        {app: piece for app, piece in found.items() if piece is not None},
        frozenset(known_apps),
    )


# ------------------------------------------------------ generated projects

assembled_count = [0, 0]  # (assembled, examples)


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(projects(), st.booleans())
def check_generated_project(specs: list[Spec], simple: bool) -> None:
    if simple:
        # Most real projects: no run_before, no squash of a squash...
        for spec in specs:
            spec.run_before.clear()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_project(Path(tmp), 'p', specs)
        migrations = read_project(Path(tmp), 'p')
    whole = build_graph(migrations, swappable=SWAPPABLE)
    assembled = assembled_or_none(migrations, SWAPPABLE)
    assembled_count[1] += 1
    if assembled is not None:
        assembled_count[0] += 1
        assert_same(assembled, whole)


def test_generated_projects() -> None:
    assembled_count[:] = [0, 0]
    check_generated_project()
    # Pieces must not quietly give up everywhere.
    assembled, examples = assembled_count
    assert examples >= 100
    assert assembled >= examples // 4, assembled_count


# ----------------------------------------------------------- real packages


def test_real_packages(tmp_path: Path) -> None:
    tree = directory_tree(sysconfig.get_paths()['purelib'])
    with Cache(str(tmp_path / 'cache.sqlite3')) as cache:
        loaded = load_migrations(tree, Config(), progress=False, cache=cache)
    migrations = loaded.migrations
    found = pieces(migrations, dict(Config().swappable))
    alone = {app for app, piece in found.items() if piece is not None}
    # Most real apps have a piece of their own (django.contrib, wagtail...)
    assert len(alone) >= 0.8 * len(found), sorted(set(found) - alone)
    # Without the apps that have none, the rest assembles exactly.
    kept = tuple(info for info in migrations if info.app_label in alone)
    assembled = assembled_or_none(kept, dict(Config().swappable))
    assert assembled is not None
    assert_same(
        assembled, build_graph(kept, swappable=dict(Config().swappable)),
    )


# ------------------------------------------------------- specific shapes


def dep(app: str, name: str, line: int = 5) -> Dependency:
    return Dependency(app, name, line=line)


def m(app: str, name: str, *deps: Dependency, **kw: object) -> MigrationInfo:
    return MigrationInfo(
        app, name, f'{app}/migrations/{name}.py', dependencies=deps,
        **kw,  # type: ignore[arg-type]
    )


SQUASHED = [
    m('a', '0001_initial'),
    m('a', '0002_x', dep('a', '0001_initial')),
    m('a', '0001_squashed_0002_x', replaces=(
        dep('a', '0001_initial'), dep('a', '0002_x'),
    )),
    m('a', '0003_y', dep('a', '0002_x')),
    m('b', '0001_initial', dep('a', '0002_x'), dep('auth', '__first__')),
    m('b', '0002_z', dep('b', '0001_initial'), dep('a', '__latest__')),
    m('c', '0001_initial', dep('a', '__first__'), dep('b', '__latest__')),
]


@pytest.mark.parametrize('migrations, known_apps, assembles', [
    (SQUASHED, (), True),
    # originals deleted after the squash: later migrations still name them
    ([r for r in SQUASHED if r.name not in ('0001_initial', '0002_x') or
      r.app_label != 'a'], (), True),
    # parallel leaves are reported the same way
    (SQUASHED + [m('c', '0002_p', dep('c', '0001_initial')),
                 m('c', '0002_q', dep('c', '0001_initial'))], (), True),
    # a cycle between apps
    ([m('a', '0001', dep('b', '0001')), m('b', '0001', dep('a', '0001'))],
     (), True),
    # an app without migrations: its __first__ is nothing, a name missing
    ([m('a', '0001', dep('empty', '__first__'))], ('empty',), True),
    ([m('a', '0001', dep('empty', '0001_gone'))], ('empty',), False),
    # missing targets, run_before, a squash of a squash: built whole
    ([m('a', '0001', dep('a', '0000_gone'))], (), False),
    ([m('a', '0001', dep('b', '0009_gone')), m('b', '0001')], (), False),
    ([m('a', '0001', run_before=(dep('b', '0001'),)), m('b', '0001')],
     (), False),
    ([m('a', '0001'), m('a', '0002', dep('a', '0001')),
      m('a', '0001_s', replaces=(dep('a', '0001'),)),
      m('a', '0001_ss', replaces=(dep('a', '0001_s'), dep('a', '0002')))],
     (), False),
])
def test_shapes(
        migrations: list[MigrationInfo],
        known_apps: tuple[str, ...],
        assembles: bool,
) -> None:
    whole = build_graph(migrations, swappable={}, known_apps=known_apps)
    assembled = assembled_or_none(migrations, {}, known_apps)
    assert (assembled is not None) == assembles
    if assembled is not None:
        assert_same(assembled, whole)


# ------------------------------------------------------------------ cache


def test_pieces_are_cached_per_app(tmp_path: Path) -> None:
    keys = {'a': 'key-a-1', 'b': 'key-b-1', 'c': 'key-c-1'}
    with Cache(str(tmp_path / 'cache.sqlite3')) as cache:
        first = build_graph_from_fragments(SQUASHED, keys, {}, (), cache)
        assert first is not None
        stored = dict(cache._db.execute(  # type: ignore[union-attr]
            "SELECT key, data FROM app_records WHERE key LIKE 'fragment:%'",
        ).fetchall())
        assert len(stored) == 3
        # a stored piece is what the next run uses: plant a wrong one
        shuffled = list(SQUASHED)
        random.Random(0).shuffle(shuffled)
        again = build_graph_from_fragments(SQUASHED, keys, {}, (), cache)
        assert again is not None
        assert_same(again, first)
        # another key for an app (its files changed) computes its piece
        changed = [*SQUASHED, m('c', '0002_new', dep('c', '0001_initial'))]
        newer = build_graph_from_fragments(
            changed, {**keys, 'c': 'key-c-2'}, {}, (), cache,
        )
        assert newer is not None
        assert_same(newer, build_graph(changed, swappable={}))
        # an app whose records have no key: built whole
        assert build_graph_from_fragments(
            changed, {'a': 'key-a-1'}, {}, (), cache,
        ) is None
