from __future__ import annotations

import pytest

from mergedriver.errors import MigmergeError
from mergedriver.graph.builder import build_graph
from mergedriver.graph.model import MigrationGraph
from mergedriver.records import MigrationInfo
from mergedriver.records import Unresolved
from mergedriver.resolution.conflicts import conflicts
from mergedriver.resolution.conflicts import require_common_ancestor
from testing.migrations import MakeMigration


def graph_of(*migrations: MigrationInfo) -> MigrationGraph:
    return build_graph(migrations, swappable={}).graph


def test_two_branches(make_migration: MakeMigration) -> None:
    m = make_migration
    graph = graph_of(
        m('app', '0001_initial'),
        m('app', '0002_base', [('app', '0001_initial')]),
        m('app', '0003_left', [('app', '0002_base')]),
        m('app', '0004_left_more', [('app', '0003_left')]),
        m('app', '0003_right', [('app', '0002_base')]),
        m('lib', '0001_initial'),
        m('lib', '0002_x', [('lib', '0001_initial')]),
    )
    (conflict,) = conflicts(graph)
    assert conflict.app == 'app'
    assert conflict.leaves == ('0003_right', '0004_left_more')
    assert conflict.common_ancestor == ('app', '0002_base')
    assert conflict.branches == {
        '0003_right': (('app', '0003_right'),),
        '0004_left_more': (('app', '0003_left'), ('app', '0004_left_more')),
    }
    assert require_common_ancestor(graph, conflict) == ('app', '0002_base')


def test_three_leaves_and_two_apps(make_migration: MakeMigration) -> None:
    m = make_migration
    graph = graph_of(
        m('b', '0001_initial'),
        *(m('b', f'0002_{x}', [('b', '0001_initial')]) for x in 'zyx'),
        m('a', '0001_initial'),
        m('a', '0002_p', [('a', '0001_initial')]),
        m('a', '0002_q', [('a', '0001_initial')]),
    )
    found = conflicts(graph)
    assert [(c.app, c.leaves) for c in found] == [
        ('a', ('0002_p', '0002_q')),
        ('b', ('0002_x', '0002_y', '0002_z')),
    ]
    assert all(c.common_ancestor == (c.app, '0001_initial') for c in found)


def test_branch_pulls_in_cross_app_ancestors(
        make_migration: MakeMigration,
) -> None:
    # forwards_plan is filtered to the app, so the ancestry follows Django's
    # DFS order even when another app's migration sits in the middle.
    m = make_migration
    graph = graph_of(
        m('app', '0001_initial'),
        m('other', '0001_initial', [('app', '0001_initial')]),
        m('app', '0002_a', [('app', '0001_initial')]),
        m('app', '0003_a', [('app', '0002_a'), ('other', '0001_initial')]),
        m('app', '0002_b', [('app', '0001_initial')]),
    )
    (conflict,) = conflicts(graph)
    assert conflict.branches['0003_a'] == (('app', '0002_a'), ('app', '0003_a'))
    assert conflict.branches['0002_b'] == (('app', '0002_b'),)


def test_common_ancestor_is_a_generation_not_a_set(
        make_migration: MakeMigration,
) -> None:
    # Ancestries differ in their first generation, so Django counts no common
    # ancestor even though both branches contain 0001_b.
    m = make_migration
    graph = graph_of(
        m('app', '0001_a'),
        m('app', '0001_b'),
        m('app', '0002_x', [('app', '0001_a'), ('app', '0001_b')]),
        m('app', '0002_y', [('app', '0001_b')]),
    )
    (conflict,) = conflicts(graph)
    # forwards_plan(0002_x) visits 0001_b first (the largest parent is
    # pushed last and popped first).
    assert conflict.common_ancestor == ('app', '0001_b')
    assert conflict.branches == {
        '0002_x': (('app', '0001_a'), ('app', '0002_x')),
        '0002_y': (('app', '0002_y'),),
    }


def test_no_common_ancestor(make_migration: MakeMigration) -> None:
    graph = graph_of(
        make_migration('app', '0001_a'),
        make_migration('app', '0001_b'),
        make_migration('app', '0002_b', [('app', '0001_b')]),
    )
    (conflict,) = conflicts(graph)
    assert conflict.common_ancestor is None
    assert conflict.branches == {
        '0001_a': (('app', '0001_a'),),
        '0002_b': (('app', '0001_b'), ('app', '0002_b')),
    }
    with pytest.raises(MigmergeError) as excinfo:
        require_common_ancestor(graph, conflict)
    assert str(excinfo.value) == (
        "app/migrations/0001_a.py:5: Could not find common ancestor of "
        "['0001_a', '0002_b'] in app"
    )


def test_squashed_leaf(make_migration: MakeMigration) -> None:
    m = make_migration
    originals = [
        m('app', '0001_initial'),
        m('app', '0002_x', [('app', '0001_initial')]),
    ]
    graph = graph_of(
        *originals,
        m('app', '0001_squashed_0002_x', replaces=[o.key for o in originals]),
        m('app', '0003_a', [('app', '0002_x')]),
        m('app', '0003_b', [('app', '0002_x')]),
    )
    (conflict,) = conflicts(graph)
    assert conflict.common_ancestor == ('app', '0001_squashed_0002_x')


def test_unknown_and_clean_apps_have_no_conflict(
        make_migration: MakeMigration,
) -> None:
    m = make_migration
    graph = graph_of(
        m('app', '0001_a', unresolved=(Unresolved('dependencies', 3, 'x'),)),
        m('app', '0001_b'),
        m('clean', '0001_initial'),
    )
    assert conflicts(graph) == ()
