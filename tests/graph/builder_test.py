from __future__ import annotations

import pytest

from mergedriver.errors import MigmergeError
from mergedriver.graph.builder import build_graph
from mergedriver.graph.builder import graph_from_blob
from mergedriver.graph.builder import graph_to_blob
from mergedriver.graph.builder import loading_order
from mergedriver.graph.model import ExternalDependency
from mergedriver.graph.model import GraphResult
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import Unresolved
from testing.migrations import MakeMigration

AUTH = {'AUTH_USER_MODEL': 'auth.User'}


def build(*migrations: MigrationInfo, swappable: dict[str, str] = AUTH) -> (
        GraphResult
):
    result = build_graph(migrations, swappable=swappable)
    # Every graph built here also survives its snapshot unchanged.
    assert graph_from_blob(graph_to_blob(result), migrations) == result
    return result


def kinds(result: GraphResult) -> list[str]:
    return [p.kind for p in result.problems]


def chain(mig: MakeMigration, app: str, *names: str) -> list[MigrationInfo]:
    out, previous = [], None
    for name in names:
        out.append(mig(app, name, [(app, previous)] if previous else []))
        previous = name
    return out


def test_two_leaves_give_djangos_message(make_migration: MakeMigration) -> None:
    result = build(
        *chain(make_migration, 'myapp', '0001_initial', '0002_b'),
        make_migration('myapp', '0003_a', [('myapp', '0002_b')]),
        make_migration('myapp', '0003_b', [('myapp', '0002_b')]),
    )
    (problem,) = result.problems
    assert problem.kind == 'multiple-leaves'
    assert problem.message == (
        'Conflicting migrations detected; multiple leaf nodes in the '
        'migration graph: (0003_a, 0003_b in myapp).'
    )
    assert (problem.app, problem.migration) == ('myapp', '0003_a')
    assert problem.one_line() == 'myapp/migrations/0003_a.py:5: ' + (
        problem.message
    )
    assert result.graph.leaf_nodes('myapp') == (
        ('myapp', '0003_a'), ('myapp', '0003_b'),
    )
    assert result.graph.conflicting_apps() == {'myapp': ['0003_a', '0003_b']}


def test_one_leaf_per_app_is_clean(make_migration: MakeMigration) -> None:
    result = build(
        *chain(make_migration, 'a', '0001_initial', '0002_x', '0003_y'),
        *chain(make_migration, 'b', '0001_initial', '0002_z'),
        make_migration('b', '0003_w', [('b', '0002_z'), ('a', '0003_y')]),
    )
    assert result.problems == ()
    assert result.graph.leaf_nodes() == (('a', '0003_y'), ('b', '0003_w'))
    assert result.graph.root_nodes() == (
        ('a', '0001_initial'), ('b', '0001_initial'),
    )
    assert result.graph.parents[('b', '0003_w')] == {
        ('b', '0002_z'), ('a', '0003_y'),
    }
    assert result.graph.apps == ('a', 'b')


def test_two_apps_with_one_migration_each(make_migration: MakeMigration) -> (
        None
):
    result = build(
        make_migration('a', '0001_initial'),
        make_migration('b', '0001_initial', [('a', '0001_initial')]),
    )
    assert result.problems == ()
    assert result.graph.conflicting_apps() == {}


def test_squash_beside_originals_is_not_a_conflict(
        make_migration: MakeMigration,
) -> None:
    originals = chain(
        make_migration, 'app', '0001_initial', '0002_a', '0003_b', '0004_c',
    )
    squash = make_migration(
        'app', '0001_squashed_0004_c',
        replaces=[m.key for m in originals],
    )
    after = make_migration('app', '0005_d', [('app', '0004_c')])
    other = make_migration('other', '0001_initial', [('app', '0002_a')])
    result = build(*originals, squash, after, other)
    assert result.problems == ()
    graph = result.graph
    assert set(graph.nodes) == {
        ('app', '0001_squashed_0004_c'), ('app', '0005_d'),
        ('other', '0001_initial'),
    }
    assert graph.edges() == (
        (('app', '0001_squashed_0004_c'), ('app', '0005_d')),
        (('app', '0001_squashed_0004_c'), ('other', '0001_initial')),
    )
    assert graph.replacements == {
        ('app', '0001_squashed_0004_c'): tuple(m.key for m in originals),
    }
    assert graph.replaced_by[('app', '0002_a')] == (
        'app', '0001_squashed_0004_c',
    )
    assert graph.leaf_nodes('app') == (('app', '0005_d'),)
    assert len(graph.migrations) == 7


def test_missing_replaced_migrations_are_remapped(
        make_migration: MakeMigration,
) -> None:
    # 0001/0002 were deleted after squashing; 0003 still names 0002.
    squash = make_migration(
        'app', '0001_squashed_0002',
        replaces=[('app', '0001_initial'), ('app', '0002_a')],
    )
    after = make_migration('app', '0003_b', [('app', '0002_a')])
    result = build(squash, after)
    assert result.problems == ()
    assert result.graph.edges() == (
        (('app', '0001_squashed_0002'), ('app', '0003_b')),
    )


def test_leaves_without_common_root_still_two_leaves(
        make_migration: MakeMigration,
) -> None:
    result = build(
        make_migration('app', '0001_a'), make_migration('app', '0001_b'),
    )
    assert kinds(result) == ['multiple-leaves']
    assert result.graph.root_nodes('app') == (('app', '0001_a'), ('app', '0001_b'))


def test_dependency_on_deleted_migration(make_migration: MakeMigration) -> (
        None
):
    result = build(
        make_migration('app', '0001_initial'),
        make_migration('app', '0003_c', [('app', '0002_deleted')]),
    )
    (problem,) = result.problems
    assert problem.kind == 'missing-dependency'
    assert problem.message == (
        "Migration app.0003_c dependencies reference nonexistent parent node "
        "('app', '0002_deleted')"
    )
    assert (problem.file, problem.line) == ('app/migrations/0003_c.py', 10)
    # The placeholder is not a node; the rest of the graph is usable.
    assert ('app', '0002_deleted') not in result.graph
    assert set(result.graph.nodes) == {('app', '0001_initial'), ('app', '0003_c')}


def test_every_reference_to_a_missing_node_is_reported(
        make_migration: MakeMigration,
) -> None:
    result = build(
        make_migration('app', '0001_initial', run_before=[('b', '0009_gone')]),
        make_migration('b', '0001_initial', [('app', '0001_initial')]),
        make_migration('b', '0002_x', [('b', '0001_initial'), ('b', '0009_gone')]),
    )
    assert [p.message for p in result.problems] == [
        "Migration app.0001_initial dependencies reference nonexistent child "
        "node ('b', '0009_gone')",
        "Migration b.0002_x dependencies reference nonexistent parent node "
        "('b', '0009_gone')",
    ]


def test_external_apps_are_not_missing(make_migration: MakeMigration) -> None:
    result = build(
        make_migration('app', '0001_initial', [
            ('auth', '0012_alter_user_first_name_max_length'),
            ('contenttypes', '__first__'),
            Dependency('', '__first__', 12, setting='AUTH_USER_MODEL'),
        ], run_before=[('sites', '0001_initial')]),
    )
    assert result.problems == ()
    assert result.graph.external_dependencies == (
        ExternalDependency(
            ('app', '0001_initial'),
            ('auth', '0012_alter_user_first_name_max_length'), 10,
        ),
        ExternalDependency(
            ('app', '0001_initial'), ('contenttypes', '__first__'), 11,
        ),
        ExternalDependency(('app', '0001_initial'), ('auth', '__first__'), 12),
        ExternalDependency(
            ('app', '0001_initial'), ('sites', '0001_initial'), 10,
            run_before=True,
        ),
    )
    assert result.graph.parents[('app', '0001_initial')] == frozenset()


def test_first_resolves_to_sorted_root(make_migration: MakeMigration) -> None:
    result = build(
        # Two roots in lib: Django takes the first in sorted order.
        make_migration('lib', '0001_b'),
        make_migration('lib', '0001_a'),
        make_migration('lib', '0002_c', [('lib', '0001_a'), ('lib', '0001_b')]),
        make_migration('app', '0001_initial', [
            ('lib', '__first__'), ('app', '__first__'),
        ]),
        make_migration('app', '0002_x', [
            ('app', '0001_initial'), ('lib', '__latest__'),
        ]),
    )
    assert result.problems == ()
    assert result.graph.parents[('app', '0001_initial')] == {('lib', '0001_a')}
    assert result.graph.parents[('app', '0002_x')] == {
        ('app', '0001_initial'), ('lib', '0002_c'),
    }


def test_first_sees_replaced_nodes_before_replacement(
        make_migration: MakeMigration,
) -> None:
    # __first__ is resolved before squashes replace anything: the root is the
    # original 0001, and the edge then moves to the squash.
    originals = chain(make_migration, 'lib', '0001_initial', '0002_x')
    squash = make_migration(
        'lib', '0001_squashed_0002_x', replaces=[m.key for m in originals],
    )
    app = make_migration('app', '0001_initial', [('lib', '__first__')])
    result = build(*originals, squash, app)
    assert result.problems == ()
    assert result.graph.parents[('app', '0001_initial')] == {
        ('lib', '0001_squashed_0002_x'),
    }


def test_same_app_latest_is_missing(make_migration: MakeMigration) -> None:
    result = build(
        make_migration('app', '0001_initial'),
        make_migration('app', '0002_x', [('app', '__latest__')]),
    )
    assert kinds(result) == ['missing-dependency']
    assert "('app', '__latest__')" in result.problems[0].message


def test_first_on_app_with_no_migrations_left_is_ignored(
        make_migration: MakeMigration,
) -> None:
    # Every lib migration replaced... by an app migration: when __first__ is
    # resolved lib still has its node, afterwards the edge moves.
    lib = make_migration('lib', '0001_initial')
    renamed = make_migration(
        'new', '0001_initial', replaces=[('lib', '0001_initial')],
    )
    app = make_migration('app', '0001_initial', [('lib', '__first__')])
    result = build(lib, renamed, app)
    assert result.problems == ()
    assert set(result.graph.nodes) == {('new', '0001_initial'), ('app', '0001_initial')}
    assert result.graph.parents[('app', '0001_initial')] == {
        ('new', '0001_initial'),
    }
    assert result.graph.apps == ('app', 'lib', 'new')


def test_swappable_custom_user_app(make_migration: MakeMigration) -> None:
    user_dep = Dependency('', '__first__', 10, setting='AUTH_USER_MODEL')
    migrations = (
        make_migration('accounts', '0001_initial', [user_dep]),
        make_migration('accounts', '0002_x', [('accounts', '0001_initial')]),
        make_migration('shop', '0001_initial', [user_dep]),
    )
    result = build(*migrations, swappable={'AUTH_USER_MODEL': 'accounts.User'})
    assert result.problems == ()
    assert result.graph.parents[('shop', '0001_initial')] == {
        ('accounts', '0001_initial'),
    }
    # Within accounts itself it is a same-app __first__: ignored.
    assert result.graph.parents[('accounts', '0001_initial')] == frozenset()
    # With Django's default the dependency is on auth, an external app.
    default = build(*migrations)
    assert default.problems == ()
    assert default.graph.parents[('shop', '0001_initial')] == frozenset()


def test_unconfigured_swappable_setting(make_migration: MakeMigration) -> None:
    result = build(make_migration('app', '0001_initial', [
        Dependency('', '__first__', 7, setting='WAGTAILIMAGES_IMAGE_MODEL'),
    ]))
    (problem,) = result.problems
    assert problem.kind == 'unresolved-expression'
    assert problem.line == 7
    assert 'WAGTAILIMAGES_IMAGE_MODEL' in problem.message


def test_cross_app_run_before(make_migration: MakeMigration) -> None:
    result = build(
        make_migration('a', '0001_initial'),
        make_migration('b', '0001_initial', run_before=[('a', '0001_initial')]),
    )
    assert result.problems == ()
    assert result.graph.parents[('a', '0001_initial')] == {('b', '0001_initial')}
    assert result.graph.forwards_plan(('a', '0001_initial')) == (
        ('b', '0001_initial'), ('a', '0001_initial'),
    )


def test_same_app_run_before_changes_leaves(make_migration: MakeMigration) -> (
        None
):
    result = build(
        make_migration('a', '0001_initial'),
        make_migration('a', '0002_x', [('a', '0001_initial')]),
        make_migration('a', '0002_y', [('a', '0001_initial')], run_before=[
            ('a', '0002_x'), ('a', '__first__'),
        ]),
    )
    assert result.problems == ()
    assert result.graph.leaf_nodes('a') == (('a', '0002_x'),)


def test_squash_of_a_squash(make_migration: MakeMigration) -> None:
    originals = chain(make_migration, 'app', '0001_a', '0002_b', '0003_c')
    # The outer squash sorts before the inner one; Django only accepts the
    # order in which the inner one is replaced first.
    inner = make_migration(
        'app', '0002_squashed_0003', [('app', '0001_a')],
        replaces=[('app', '0002_b'), ('app', '0003_c')],
    )
    outer = make_migration(
        'app', '0001_squashed_0003',
        replaces=[('app', '0001_a'), ('app', '0002_squashed_0003')],
    )
    after = make_migration('app', '0004_d', [('app', '0003_c')])
    result = build(*originals, inner, outer, after)
    assert result.problems == ()
    assert set(result.graph.nodes) == {
        ('app', '0001_squashed_0003'), ('app', '0004_d'),
    }
    assert result.graph.edges() == (
        (('app', '0001_squashed_0003'), ('app', '0004_d')),
    )
    assert result.graph.replaced_by[('app', '0003_c')] == (
        'app', '0001_squashed_0003',
    )
    order = loading_order(
        [m.key for m in (*originals, inner, outer, after)],
        {m.key: [d.key for d in m.replaces] for m in (inner, outer)},
    )
    assert order == (
        ('app', '0001_a'), ('app', '0002_squashed_0003'),
        ('app', '0001_squashed_0003'), ('app', '0002_b'), ('app', '0003_c'),
        ('app', '0004_d'),
    )


def test_replaces_naming_another_app(make_migration: MakeMigration) -> None:
    old = chain(make_migration, 'oldname', '0001_initial', '0002_x')
    new = make_migration(
        'newname', '0001_initial', replaces=[m.key for m in old],
    )
    user = make_migration('shop', '0001_initial', [('oldname', '0002_x')])
    result = build(*old, new, user)
    assert result.problems == ()
    assert set(result.graph.nodes) == {
        ('newname', '0001_initial'), ('shop', '0001_initial'),
    }
    assert result.graph.parents[('shop', '0001_initial')] == {
        ('newname', '0001_initial'),
    }


def test_cycle(make_migration: MakeMigration) -> None:
    result = build(
        make_migration('a', '0001_initial', [('b', '0002_x')]),
        make_migration('b', '0001_initial', [('a', '0001_initial')]),
        make_migration('b', '0002_x', [('b', '0001_initial')]),
        make_migration('c', '0001_initial'),
    )
    (problem,) = result.problems
    assert problem.kind == 'cycle'
    assert problem.message == (
        'Circular dependency between migrations: a.0001_initial, '
        'b.0001_initial, b.0002_x, a.0001_initial'
    )
    assert problem.file == 'a/migrations/0001_initial.py'
    assert result.graph.cyclic_nodes == {
        ('a', '0001_initial'), ('b', '0001_initial'), ('b', '0002_x'),
    }
    with pytest.raises(MigmergeError, match='Circular dependency'):
        result.graph.forwards_plan(('b', '0002_x'))
    assert result.graph.forwards_plan(('c', '0001_initial')) == (
        ('c', '0001_initial'),
    )


def test_self_dependency_is_a_cycle(make_migration: MakeMigration) -> None:
    result = build(make_migration('a', '0001_initial', [('a', '0001_initial')]))
    assert kinds(result) == ['cycle']


def test_unknown_app_verdict(make_migration: MakeMigration) -> None:
    dynamic = make_migration(
        'app', '0003_b', [('app', '0002_x')],
        unresolved=(Unresolved('dependencies', 8, 'cannot evaluate deps()'),),
    )
    result = build(
        *chain(make_migration, 'app', '0001_initial', '0002_x'),
        make_migration('app', '0003_a', [('app', '0002_x')]),
        dynamic,
        make_migration('other', '0001_a'),
        make_migration('other', '0001_b'),
    )
    assert result.graph.unknown_apps == {'app'}
    assert [(p.kind, p.app, p.line) for p in result.problems] == [
        ('unresolved-expression', 'app', 8),
        ('multiple-leaves', 'other', 5),
    ]


def test_unresolved_operations_do_not_make_an_app_unknown(
        make_migration: MakeMigration,
) -> None:
    result = build(make_migration('app', '0001_initial', unresolved=(
        Unresolved('operations', 8, 'cannot evaluate'),
    )))
    assert result.graph.unknown_apps == frozenset()
    assert result.problems == ()


def test_duplicate_key(make_migration: MakeMigration) -> None:
    first = make_migration('app', '0001_initial')
    second = MigrationInfo('app', '0001_initial', 'elsewhere/0001_initial.py')
    result = build(first, second)
    assert kinds(result) == ['parse-error']
    assert result.graph.nodes[('app', '0001_initial')] is first


def test_forwards_plan_order(make_migration: MakeMigration) -> None:
    # Parents are pushed sorted, so the largest parent's ancestry comes first.
    result = build(
        make_migration('a', '0001_initial'),
        make_migration('b', '0001_initial'),
        make_migration('c', '0001_initial', [('a', '0001_initial')]),
        make_migration('d', '0001_initial', [
            ('c', '0001_initial'), ('b', '0001_initial'),
        ]),
    )
    assert result.graph.forwards_plan(('d', '0001_initial')) == (
        ('a', '0001_initial'),
        ('c', '0001_initial'),
        ('b', '0001_initial'),
        ('d', '0001_initial'),
    )
    assert result.graph.backwards_plan(('a', '0001_initial')) == (
        ('d', '0001_initial'), ('c', '0001_initial'), ('a', '0001_initial'),
    )


def test_two_missing_targets_on_one_line(make_migration: MakeMigration) -> (
        None
):
    result = build(
        make_migration('a', '0001_initial'),
        make_migration('a', '0002_x', [
            Dependency('a', '0009_gone', 3), Dependency('a', '0008_gone', 3),
        ]),
    )
    assert kinds(result) == ['missing-dependency', 'missing-dependency']
    assert result.graph.broken_apps == {'a'}
    assert result.graph.conflicting_apps() == {}


def test_renamed_app_with_old_migrations_deleted(
        make_migration: MakeMigration,
) -> None:
    # The old app's files are gone; its label survives only in ``replaces``,
    # which is enough for Django to remap edges that still name it.
    new = make_migration(
        'newname', '0001_initial', replaces=[('oldname', '0001_initial')],
    )
    user = make_migration('shop', '0001_initial', [
        ('oldname', '0001_initial'),
    ])
    stale = make_migration('shop', '0002_x', [
        ('shop', '0001_initial'), ('oldname', '0002_never_squashed'),
    ])
    result = build(new, user, stale)
    assert result.graph.parents[('shop', '0001_initial')] == {
        ('newname', '0001_initial'),
    }
    assert result.graph.external_dependencies == ()
    assert kinds(result) == ['missing-dependency']
    assert result.graph.apps == ('newname', 'shop')


def test_graph_blob_does_not_fit_other_records(
        make_migration: MakeMigration,
) -> None:
    migrations = chain(make_migration, 'shop', '0001_a', '0002_b')
    blob = graph_to_blob(build(*migrations))
    assert graph_from_blob(blob, migrations[:1]) is None
    assert graph_from_blob(blob, [*migrations, *chain(
        make_migration, 'blog', '0001_a',
    )]) is None
    assert graph_from_blob(b'', migrations) is None
    assert graph_from_blob(b'\xff', migrations) is None
