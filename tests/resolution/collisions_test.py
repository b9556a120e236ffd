from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from mergedriver.config import Config
from mergedriver.graph.builder import build_graph
from mergedriver.operations import describe
from mergedriver.parsing import ast_frontend as fastparse
from mergedriver.records import ANY_FIELD
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo
from mergedriver.records import Scope
from mergedriver.resolution.collisions import _branch_ops
from mergedriver.resolution.collisions import _candidate_pairs
from mergedriver.resolution.collisions import _collision
from mergedriver.resolution.collisions import Collision
from mergedriver.resolution.collisions import CollisionReport
from mergedriver.resolution.collisions import find_collisions
from mergedriver.resolution.conflicts import conflicts
from testing.migrations import MakeMigration

Ops = Sequence[OperationInfo]


def op(
        kind: str,
        model: str | None = None,
        field: str | None = None,
        *,
        line: int = 12,
        new_name: str | None = None,
        target_name: str | None = None,
        is_data: bool = False,
        scope: Scope = 'both',
        fields: tuple[str, ...] = (),
        references: tuple[str, ...] = (),
) -> OperationInfo:
    return OperationInfo(
        kind=kind, line=line, model=model, field=field, new_name=new_name,
        target_name=target_name, is_data=is_data, scope=scope,
        fields=fields, references=references,
    )


_PARSE_HEADER = """\
from django.conf import settings
from django.db import migrations, models

class Migration(migrations.Migration):
    operations = [
"""


def parsed(source: str) -> OperationInfo:
    """One operation as the parser reads it from migration source."""
    info = fastparse.parse_migration(
        f'{_PARSE_HEADER}        {source},\n    ]\n'.encode(),
        app_label='shop', name='0002_x', path='shop/migrations/0002_x.py',
    )
    assert info.unresolved == (), info.unresolved
    (operation,) = info.operations
    return operation


def report_of(
        make_migration: MakeMigration,
        *branches: Sequence[Ops],
        app: str = 'shop',
) -> CollisionReport:
    """One app; branch i holds migrations ``000{n}_b{i}_{j}`` in a chain
    after ``0001_initial``, one per list of operations."""
    migrations: list[MigrationInfo] = [make_migration(app, '0001_initial')]
    for i, chain in enumerate(branches):
        parent = '0001_initial'
        for j, ops in enumerate(chain):
            name = f'{j + 2:04}_b{i}_{j}'
            migrations.append(make_migration(
                app, name, [(app, parent)], operations=tuple(ops),
            ))
            parent = name
    graph = build_graph(migrations, swappable={}).graph
    (conflict,) = conflicts(graph)
    return find_collisions(graph, conflict)


def summary(report: CollisionReport) -> list[tuple[str, str, str | None]]:
    return [(c.what, c.model, c.field) for c in report.collisions]


def kinds(c: Collision) -> frozenset[str]:
    return frozenset((c.first.kind, c.second.kind))


# Each case: one side's operations, the other side's, and the expected
# (what, model, field) of the single collision.
COLLIDING = {
    'alter-alter': (
        [op('AlterField', 'city', 'search_names')],
        [op('AlterField', 'city', 'search_names')],
        ('field altered on both branches', 'city', 'search_names'),
    ),
    'remove-alter': (
        [op('RemoveField', 'city', 'name')],
        [op('AlterField', 'city', 'name')],
        ('field removed on one branch and altered on the other', 'city',
         'name'),
    ),
    'remove-remove': (
        [op('RemoveField', 'city', 'name')],
        [op('RemoveField', 'city', 'name')],
        ('field removed on both branches', 'city', 'name'),
    ),
    'add-add': (
        [op('AddField', 'userprofile', 'age')],
        [op('AddField', 'userprofile', 'age')],
        ('field added on both branches', 'userprofile', 'age'),
    ),
    'add-alter': (
        [op('AddField', 'city', 'slug')],
        [op('AlterField', 'city', 'slug')],
        ('field added on one branch and altered on the other', 'city',
         'slug'),
    ),
    'model-names-ignore-case': (
        [op('AlterField', 'City', 'name')],
        [op('AlterField', 'city', 'name')],
        ('field altered on both branches', 'City', 'name'),
    ),
    'rename-field-vs-add': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('AddField', 'city', 'name')],
        ('field renamed on one branch and added by its old name on the '
         'other', 'city', 'name'),
    ),
    'rename-field-vs-alter': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('AlterField', 'city', 'name')],
        ('field renamed on one branch and altered by its old name on the '
         'other', 'city', 'name'),
    ),
    'rename-field-vs-remove': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('RemoveField', 'city', 'name')],
        ('field renamed on one branch and removed by its old name on the '
         'other', 'city', 'name'),
    ),
    'rename-field-vs-rename': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('RenameField', 'city', 'name', new_name='label')],
        ('field renamed on both branches', 'city', 'name'),
    ),
    'rename-field-vs-unique-together': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [parsed("migrations.AlterUniqueTogether('city', "
                "{('name', 'country')})")],
        ('field renamed on one branch and named by AlterUniqueTogether on '
         'the other', 'city', 'name'),
    ),
    'rename-field-vs-index': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [parsed("migrations.AddIndex('city', models.Index("
                "fields=['-name'], name='city_name_idx'))")],
        ('field renamed on one branch and named by AddIndex on the other',
         'city', 'name'),
    ),
    'remove-field-vs-constraint': (
        [op('RemoveField', 'city', 'name')],
        [parsed("migrations.AddConstraint('city', models.UniqueConstraint("
                "fields=['name', 'country'], name='city_uniq'))")],
        ('field removed on one branch and named by AddConstraint on the '
         'other', 'city', 'name'),
    ),
    'remove-field-vs-check-constraint': (
        [op('RemoveField', 'city', 'population')],
        [parsed("migrations.AddConstraint('city', models.CheckConstraint("
                "condition=models.Q(population__gte=0), name='city_pop'))")],
        ('field removed on one branch and named by AddConstraint on the '
         'other', 'city', 'population'),
    ),
    'remove-field-vs-order-with-respect-to': (
        [op('RemoveField', 'city', 'country')],
        [parsed("migrations.AlterOrderWithRespectTo('city', 'country')")],
        ('field removed on one branch and named by AlterOrderWithRespectTo '
         'on the other', 'city', 'country'),
    ),
    'rename-field-vs-unknown-field-list': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [parsed('migrations.AlterIndexTogether(\'city\', TOGETHER)')],
        ('field renamed on one branch; AlterIndexTogether on the other may '
         'name it (its field list is not known statically)', 'city', 'name'),
    ),
    'delete-model-vs-foreign-key': (
        [op('DeleteModel', 'Coupon')],
        [parsed("migrations.AddField('order', 'coupon', models.ForeignKey("
                "on_delete=models.CASCADE, to='shop.coupon'))")],
        ('model deleted on one branch and referenced by order.coupon '
         '(AddField) on the other', 'Coupon', None),
    ),
    'delete-model-vs-positional-foreign-key': (
        [op('DeleteModel', 'Coupon')],
        [parsed("migrations.AlterField('order', 'coupon', models.ForeignKey("
                "'Coupon', models.SET_NULL, null=True))")],
        ('model deleted on one branch and referenced by order.coupon '
         '(AlterField) on the other', 'Coupon', None),
    ),
    'rename-model-vs-many-to-many': (
        [op('RenameModel', 'Tag', new_name='Label')],
        [parsed("migrations.AddField('order', 'tags', "
                "models.ManyToManyField(to='shop.Tag'))")],
        ('model renamed on one branch and referenced by order.tags '
         '(AddField) on the other', 'Tag', None),
    ),
    'delete-model-vs-create-model-with-one-to-one': (
        [op('DeleteModel', 'Coupon')],
        [parsed("migrations.CreateModel('Voucher', [('coupon', "
                "models.OneToOneField('shop.coupon', models.CASCADE))])")],
        ('model deleted on one branch and referenced by Voucher '
         '(CreateModel) on the other', 'Coupon', None),
    ),
    'two-renames-to-one-name': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('RenameField', 'city', 'label', new_name='title')],
        ('both branches bring in a field of this name', 'city', 'title'),
    ),
    'rename-field-to-added-name': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('AddField', 'city', 'title')],
        ('both branches bring in a field of this name', 'city', 'title'),
    ),
    'rename-model-vs-add-field': (
        [op('RenameModel', 'City', new_name='Town')],
        [op('AddField', 'city', 'mayor')],
        ('model renamed on one branch and used by its old name on the other',
         'City', 'mayor'),
    ),
    'rename-model-vs-options': (
        [op('RenameModel', 'City', new_name='Town')],
        [op('AlterModelOptions', 'City')],
        ('model renamed on one branch and used by its old name on the other',
         'City', None),
    ),
    'rename-model-vs-rename': (
        [op('RenameModel', 'City', new_name='Town')],
        [op('RenameModel', 'City', new_name='Place')],
        ('model renamed on both branches', 'City', None),
    ),
    'rename-model-to-created-name': (
        [op('RenameModel', 'City', new_name='Town')],
        [op('CreateModel', 'Town')],
        ('both branches bring in a model of this name', 'Town', None),
    ),
    'delete-model-vs-add-field': (
        [op('DeleteModel', 'City')],
        [op('AddField', 'city', 'mayor')],
        ('model deleted on one branch and changed on the other', 'City',
         'mayor'),
    ),
    'delete-model-vs-index': (
        [op('DeleteModel', 'City')],
        [op('AddIndex', 'city', target_name='city_idx')],
        ('model deleted on one branch and changed on the other', 'City',
         None),
    ),
    'delete-model-vs-rename': (
        [op('DeleteModel', 'City')],
        [op('RenameModel', 'City', new_name='Town')],
        ('model deleted on one branch and changed on the other', 'City',
         None),
    ),
    'delete-model-vs-constraint': (
        [op('DeleteModel', 'City')],
        [op('RemoveConstraint', 'city', target_name='city_uniq')],
        ('model deleted on one branch and changed on the other', 'City',
         None),
    ),
    'delete-delete': (
        [op('DeleteModel', 'City')],
        [op('DeleteModel', 'city')],
        ('model deleted on both branches', 'City', None),
    ),
    'create-create': (
        [op('CreateModel', 'Country')],
        [op('CreateModel', 'country')],
        ('model created on both branches', 'Country', None),
    ),
    'unique-together': (
        [op('AlterUniqueTogether', 'city')],
        [op('AlterUniqueTogether', 'City')],
        ('unique_together changed on both branches', 'city', None),
    ),
    'index-together': (
        [op('AlterIndexTogether', 'city')],
        [op('AlterIndexTogether', 'city')],
        ('index_together changed on both branches', 'city', None),
    ),
    'model-options': (
        [op('AlterModelOptions', 'city')],
        [op('AlterModelOptions', 'city')],
        ('Meta options changed on both branches', 'city', None),
    ),
    'model-table': (
        [op('AlterModelTable', 'city')],
        [op('AlterModelTable', 'city')],
        ('db_table changed on both branches', 'city', None),
    ),
    'order-with-respect-to': (
        [op('AlterOrderWithRespectTo', 'city')],
        [op('AlterOrderWithRespectTo', 'city')],
        ('order_with_respect_to changed on both branches', 'city', None),
    ),
    'add-index-twice': (
        [op('AddIndex', 'city', target_name='city_name_idx')],
        [op('AddIndex', 'city', target_name='city_name_idx')],
        ('index city_name_idx changed on both branches', 'city', None),
    ),
    'remove-vs-rename-index': (
        [op('RemoveIndex', 'city', target_name='city_name_idx')],
        [op('RenameIndex', 'city', target_name='city_name_idx',
            new_name='city_title_idx')],
        ('index city_name_idx changed on both branches', 'city', None),
    ),
    'rename-index-to-added-name': (
        [op('RenameIndex', 'city', target_name='old_idx', new_name='new_idx')],
        [op('AddIndex', 'city', target_name='new_idx')],
        ('index new_idx changed on both branches', 'city', None),
    ),
    'add-constraint-twice': (
        [op('AddConstraint', 'city', target_name='city_uniq')],
        [op('AddConstraint', 'city', target_name='city_uniq')],
        ('constraint city_uniq changed on both branches', 'city', None),
    ),
    'remove-constraint-twice': (
        [op('RemoveConstraint', 'city', target_name='city_uniq')],
        [op('RemoveConstraint', 'city', target_name='city_uniq')],
        ('constraint city_uniq changed on both branches', 'city', None),
    ),
    'unknown-op-same-field': (
        [op('AlterFieldConcurrently', 'city', 'name')],
        [op('AlterField', 'city', 'name')],
        ('field altered on one branch and changed by AlterFieldConcurrently '
         'on the other', 'city', 'name'),
    ),
    'unknown-op-on-deleted-model': (
        [op('AddFieldWithDefault', 'city', 'name')],
        [op('DeleteModel', 'City')],
        ('model deleted on one branch and changed on the other', 'city',
         'name'),
    ),
    'unknown-vs-unknown': (
        [op('AlterFieldConcurrently', 'city', 'name')],
        [op('RenameFieldSafely', 'city', 'name')],
        ('field changed by AlterFieldConcurrently on one branch and changed '
         'by RenameFieldSafely on the other', 'city', 'name'),
    ),
    'model-managers': (
        [op('AlterModelManagers', 'city')],
        [op('AlterModelManagers', 'city')],
        ('managers changed on both branches', 'city', None),
    ),
    'table-comment': (
        [op('AlterModelTableComment', 'city')],
        [op('AlterModelTableComment', 'city')],
        ('db_table_comment changed on both branches', 'city', None),
    ),
    'index-name-shared-by-two-models': (
        [op('AddIndex', 'city', target_name='name_idx')],
        [op('AddIndex', 'country', target_name='name_idx')],
        ('index name_idx changed on both branches', 'city', None),
    ),
    'index-and-constraint-of-one-name': (
        [op('AddIndex', 'city', target_name='city_uniq')],
        [op('AddConstraint', 'city', target_name='city_uniq')],
        ('constraint or index city_uniq changed on both branches', 'city',
         None),
    ),
    'state-only-vs-both': (
        [op('RemoveField', 'city', 'name', scope='state')],
        [op('AlterField', 'city', 'name')],
        ('field removed on one branch and altered on the other', 'city',
         'name'),
    ),
    'database-only-vs-both': (
        [op('AlterField', 'city', 'name', scope='database')],
        [op('AlterField', 'city', 'name')],
        ('field altered on both branches', 'city', 'name'),
    ),
}


@pytest.mark.parametrize('swap', (False, True), ids=('ours', 'theirs'))
@pytest.mark.parametrize('case', sorted(COLLIDING))
def test_collides(
        make_migration: MakeMigration, case: str, swap: bool,
) -> None:
    one, other, expected = COLLIDING[case]
    branches = (other, one) if swap else (one, other)
    report = report_of(make_migration, [branches[0]], [branches[1]])
    (collision,) = report.collisions
    what, model, field = expected
    assert (collision.what, collision.field) == (what, field)
    # The model is reported as the earlier file spells it.
    assert collision.model.lower() in (model.lower(), 'country')
    assert kinds(collision) == {one[0].kind, other[0].kind}
    assert collision.first.path == 'shop/migrations/0002_b0_0.py'
    assert collision.second.path == 'shop/migrations/0002_b1_0.py'
    assert report.verdict == 'collide'
    assert report.blocking(Config())


def test_the_custom_user_model_setting_is_followed(
        make_migration: MakeMigration,
) -> None:
    # AUTH_USER_MODEL = 'shop.User' (the configuration's swappable map).
    one = [op('RenameModel', 'User', new_name='Account')]
    other = [parsed("migrations.AddField('order', 'buyer', models.ForeignKey("
                    "to=settings.AUTH_USER_MODEL, on_delete=models.CASCADE))")]
    m = make_migration
    graph = build_graph([
        m('shop', '0001_initial'),
        m('shop', '0002_a', [('shop', '0001_initial')], operations=one),
        m('shop', '0002_b', [('shop', '0001_initial')], operations=other),
    ], swappable={}).graph
    (conflict,) = conflicts(graph)
    assert find_collisions(graph, conflict).collisions == ()  # auth.User
    assert len(find_collisions(
        graph, conflict, swappable={'AUTH_USER_MODEL': 'shop.User'},
    ).collisions) == 1


INDEPENDENT = {
    'different-fields': (
        [op('AlterField', 'city', 'name')],
        [op('AlterField', 'city', 'population')],
    ),
    'same-field-name-on-two-models': (
        [op('AddField', 'city', 'name')],
        [op('AddField', 'country', 'name')],
    ),
    'different-models': (
        [op('DeleteModel', 'City')],
        [op('AlterModelOptions', 'Country')],
    ),
    'field-names-are-case-sensitive': (
        [op('AddField', 'city', 'name')],
        [op('AddField', 'city', 'Name')],
    ),
    'different-property-kinds': (
        [op('AlterUniqueTogether', 'city')],
        [op('AlterModelOptions', 'city')],
    ),
    'different-index-names': (
        [op('AddIndex', 'city', target_name='a_idx')],
        [op('AddIndex', 'city', target_name='b_idx')],
    ),
    'unnamed-indexes': (
        [op('AddIndex', 'city')],
        [op('AddIndex', 'city')],
    ),
    'rename-field-vs-other-field': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [op('AlterField', 'city', 'population')],
    ),
    'unknown-op-same-model-other-field': (
        [op('AlterFieldConcurrently', 'city', 'name')],
        [op('AlterField', 'city', 'population')],
    ),
    'unknown-op-without-field': (
        [op('CreateSchema', 'city')],
        [op('AlterField', 'city', 'name')],
    ),
    'schema-runsql': (
        [op('RunSQL')],
        [op('RunSQL')],
    ),
    'extensions': (
        [op('CreateExtension', target_name='hstore')],
        [op('HStoreExtension', target_name='hstore')],
    ),
    'rename-field-vs-unique-together-without-it': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [parsed("migrations.AlterUniqueTogether('city', "
                "{('slug', 'country')})")],
    ),
    'remove-field-vs-index-on-others': (
        [op('RemoveField', 'city', 'name')],
        [parsed("migrations.AddIndex('city', models.Index("
                "fields=['-population'], name='city_pop_idx'))")],
    ),
    'rename-field-vs-named-index-rename': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [parsed("migrations.RenameIndex('city', 'new_idx', "
                "old_name='old_idx')")],
    ),
    'rename-field-vs-index-on-same-name-other-model': (
        [op('RenameField', 'city', 'name', new_name='title')],
        [parsed("migrations.AddIndex('country', models.Index("
                "fields=['name'], name='country_name_idx'))")],
    ),
    'delete-model-vs-foreign-key-to-other-model': (
        [op('DeleteModel', 'Coupon')],
        [parsed("migrations.AddField('order', 'promo', models.ForeignKey("
                "'shop.Promotion', models.CASCADE))")],
    ),
    'delete-model-vs-foreign-key-to-other-app': (
        [op('DeleteModel', 'Coupon')],
        [parsed("migrations.AddField('order', 'coupon', models.ForeignKey("
                "'billing.Coupon', models.CASCADE))")],
    ),
    'delete-model-vs-plain-field': (
        [op('DeleteModel', 'Coupon')],
        [parsed("migrations.AddField('order', 'coupon', "
                "models.CharField('shop.coupon', max_length=9))")],
    ),
}


@pytest.mark.parametrize('swap', (False, True), ids=('ours', 'theirs'))
@pytest.mark.parametrize('case', sorted(INDEPENDENT))
def test_independent(
        make_migration: MakeMigration, case: str, swap: bool,
) -> None:
    one, other = INDEPENDENT[case]
    branches = (other, one) if swap else (one, other)
    report = report_of(make_migration, [branches[0]], [branches[1]])
    assert report == CollisionReport((), ())
    assert report.verdict == 'independent'
    assert not report.blocking(Config(data_operations_block=True))


def test_one_line_names_both_files_and_operations(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [[op('AlterField', 'city', 'search_names', line=14)]],
        [[op('AddField', 'city', 'slug', line=9),
          op('AlterField', 'city', 'search_names', line=21)]],
        app='cities',
    )
    (collision,) = report.collisions
    assert collision.one_line() == (
        'cities/migrations/0002_b0_0.py:14: cities.city.search_names: '
        'AlterField here collides with AlterField in '
        'cities/migrations/0002_b1_0.py:21 (field altered on both branches)'
    )
    assert collision.first.description == 'Alter field search_names on city'
    assert collision.first.migration == ('cities', '0002_b0_0')
    assert report.lines() == (collision.one_line(),)


def test_one_line_of_a_model_collision(make_migration: MakeMigration) -> None:
    report = report_of(
        make_migration,
        [[op('AlterModelOptions', 'city', line=30)]],
        [[op('DeleteModel', 'City', line=8)]],
    )
    (collision,) = report.collisions
    assert collision.one_line() == (
        'shop/migrations/0002_b0_0.py:30: shop.city: AlterModelOptions here '
        'collides with DeleteModel in shop/migrations/0002_b1_0.py:8 '
        '(model deleted on one branch and changed on the other)'
    )


def test_rename_followed_through_the_branch(
        make_migration: MakeMigration,
) -> None:
    # Branch 0 renames the field, then alters it under its new name in a
    # later migration; branch 1 alters it under the ancestor's name.
    report = report_of(
        make_migration,
        [
            [op('RenameField', 'city', 'name', new_name='title', line=10)],
            [op('AlterField', 'city', 'title', line=20)],
        ],
        [[op('AlterField', 'city', 'name', line=30)]],
    )
    assert summary(report) == [
        ('field renamed on one branch and altered by its old name on the '
         'other', 'city', 'name'),
        ('field altered on both branches', 'city', 'name'),
    ]
    assert [(c.first.line, c.second.line) for c in report.collisions] == [
        (10, 30), (30, 20),
    ]


def test_renamed_model_followed_through_the_branch(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [[op('RenameModel', 'City', new_name='Town', line=10),
          op('AlterField', 'town', 'mayor', line=20)]],
        [[op('RemoveField', 'city', 'mayor', line=30)]],
    )
    assert [(c.what, c.model, c.field, c.first.line) for c in
            report.collisions] == [
        ('model renamed on one branch and used by its old name on the other',
         'City', 'mayor', 10),
        ('field removed on one branch and altered on the other',
         'City', 'mayor', 20),
    ]


def test_rename_on_both_branches_back_to_the_same_entity(
        make_migration: MakeMigration,
) -> None:
    # Each branch renames a different model; later operations on the new
    # names are independent.
    report = report_of(
        make_migration,
        [[op('RenameModel', 'City', new_name='Town'),
          op('AddField', 'town', 'mayor')]],
        [[op('RenameModel', 'Country', new_name='Nation'),
          op('AddField', 'nation', 'mayor')]],
    )
    assert report.collisions == ()


def test_a_name_freed_by_a_rename_is_a_new_field(
        make_migration: MakeMigration,
) -> None:
    # Branch 0 renames name -> title and then renames title back; an
    # alteration of `name` on branch 1 meets both renames of the same field.
    report = report_of(
        make_migration,
        [[op('RenameField', 'city', 'name', new_name='title', line=10),
          op('RenameField', 'city', 'title', new_name='name', line=11)]],
        [[op('AlterField', 'city', 'name', line=30)]],
    )
    assert [(c.field, c.first.line) for c in report.collisions] == [
        ('name', 10), ('name', 11),
    ]


def test_renamed_index_followed_through_the_branch(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [[op('RenameIndex', 'city', target_name='a_idx', new_name='b_idx'),
          op('RemoveIndex', 'city', target_name='b_idx', line=13)]],
        [[op('AlterConstraint', 'city', target_name='c_uniq'),
          op('RemoveIndex', 'city', target_name='a_idx', line=40)]],
    )
    assert [(c.what, c.first.line, c.second.line) for c in
            report.collisions] == [
        ('index a_idx changed on both branches', 12, 40),
        ('index a_idx changed on both branches', 13, 40),
    ]


def test_three_leaves_compared_pairwise(make_migration: MakeMigration) -> None:
    report = report_of(
        make_migration,
        [[op('AlterField', 'city', 'name', line=1)]],
        [[op('AlterField', 'city', 'name', line=2)]],
        [[op('AlterField', 'city', 'population', line=3),
          op('RemoveField', 'city', 'name', line=4)]],
    )
    pairs = [
        (c.first.migration[1], c.second.migration[1], c.what)
        for c in report.collisions
    ]
    assert pairs == [
        ('0002_b0_0', '0002_b1_0', 'field altered on both branches'),
        ('0002_b0_0', '0002_b2_0',
         'field removed on one branch and altered on the other'),
        ('0002_b1_0', '0002_b2_0',
         'field removed on one branch and altered on the other'),
    ]


def test_ops_on_one_branch_do_not_collide_with_each_other(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [[op('AddField', 'city', 'name'), op('AlterField', 'city', 'name')],
         [op('RemoveField', 'city', 'name')]],
        [[op('AddField', 'country', 'code')]],
    )
    assert report.collisions == ()


def test_separate_database_and_state(make_migration: MakeMigration) -> None:
    # The usual "remove from the state now, drop the column later" pattern
    # on one branch; the other branch alters the field.
    report = report_of(
        make_migration,
        [[op('RemoveField', 'city', 'legacy', scope='state', line=15),
          op('RunSQL', scope='database', line=17)]],
        [[op('AlterField', 'city', 'legacy', line=9)]],
    )
    (collision,) = report.collisions
    assert collision.first.description == (
        'Remove field legacy from city (state only)'
    )
    assert report.reviews == ()


def test_database_only_rename_does_not_rename_in_the_state(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [[op('RenameField', 'city', 'name', new_name='title',
             scope='database', line=10),
          op('AlterField', 'city', 'title', line=11)]],
        [[op('AlterField', 'city', 'title', line=30)]],
    )
    assert [(c.field, c.first.line) for c in report.collisions] == [
        ('title', 11),
    ]


def test_data_operations_are_reviews(make_migration: MakeMigration) -> None:
    report = report_of(
        make_migration,
        [[op('AddField', 'city', 'slug', line=10),
          op('RunPython', is_data=True, line=20)]],
        [[op('RunSQL', is_data=True, line=7), op('RunSQL', line=8)]],
    )
    assert report.collisions == ()
    assert [
        (r.leaf, r.operation.kind, r.operation.line) for r in report.reviews
    ] == [('0002_b0_0', 'RunPython', 20), ('0002_b1_0', 'RunSQL', 7)]
    assert report.verdict == 'review'
    assert not report.blocking(Config())
    assert report.blocking(Config(data_operations_block=True))
    assert report.reviews[0].one_line() == (
        'shop/migrations/0002_b0_0.py:20: shop: RunPython changes data on '
        'the branch of 0002_b0_0; review it against the other branches'
    )
    assert report.reviews[0].operation.description == 'Raw Python operation'


def test_reviews_come_with_collisions(make_migration: MakeMigration) -> None:
    report = report_of(
        make_migration,
        [[op('AlterField', 'city', 'name'), op('RunPython', is_data=True)]],
        [[op('AlterField', 'city', 'name')]],
    )
    assert len(report.collisions) == 1
    assert len(report.reviews) == 1
    assert report.verdict == 'collide'
    assert report.blocking(Config())


def test_migration_shared_by_two_branches_is_common_ground(
        make_migration: MakeMigration,
) -> None:
    # 0002_0_shared is on both leaves' branches (both depend on it) but
    # after the point where their ancestries first differ.
    m = make_migration
    alter = (op('AlterField', 'city', 'name'),)
    migrations = [
        m('shop', '0001_initial'),
        m('shop', '0002_a', [('shop', '0001_initial')]),
        m('shop', '0002_b', [('shop', '0001_initial')]),
        m('shop', '0002_0_shared', [('shop', '0001_initial')],
          operations=alter),
        m('shop', '0004_x', [('shop', '0002_a'), ('shop', '0002_0_shared')]),
        m('shop', '0004_y', [('shop', '0002_b'), ('shop', '0002_0_shared')]),
    ]
    graph = build_graph(migrations, swappable={}).graph
    (conflict,) = conflicts(graph)
    assert all(
        ('shop', '0002_0_shared') in keys
        for keys in conflict.branches.values()
    )
    assert find_collisions(graph, conflict) == CollisionReport((), ())


def test_collisions_sorted_by_first_file_and_line(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [
            [op('AlterField', 'city', 'b', line=30)],
            [op('AlterField', 'city', 'a', line=5)],
        ],
        [[op('AlterField', 'city', 'a', line=1),
          op('AlterField', 'city', 'b', line=2)]],
    )
    assert [(c.first.path, c.first.line) for c in report.collisions] == [
        ('shop/migrations/0002_b0_0.py', 30),
        ('shop/migrations/0002_b1_0.py', 1),
    ]


@pytest.mark.parametrize(
    ('operation', 'expected'),
    (
        (op('AddField', 'city', 'slug'), 'Add field slug to city'),
        (op('RemoveField', 'city', 'slug'), 'Remove field slug from city'),
        (op('RenameField', 'city', 'a', new_name='b'),
         'Rename field a on city to b'),
        (op('CreateModel', 'City'), 'Create model City'),
        (op('DeleteModel', 'City'), 'Delete model City'),
        (op('RenameModel', 'City', new_name='Town'),
         'Rename model City to Town'),
        (op('AlterUniqueTogether', 'city'), 'Alter unique_together for city'),
        (op('AlterModelOptions', 'city'), 'Change Meta options on city'),
        (op('AddIndex', 'city', target_name='i'),
         'Create index i on model city'),
        (op('AddIndexConcurrently', 'city', target_name='i'),
         'Create index i on model city (concurrently)'),
        (op('RenameIndex', 'city', new_name='i'),
         'Rename index unnamed index on city to i'),
        (op('RemoveConstraint', 'city', target_name='c'),
         'Remove constraint c from model city'),
        (op('RunSQL', scope='database'), 'Raw SQL operation (database only)'),
        (op('MyOperation', 'city', 'slug'), 'MyOperation on city.slug'),
        (op('MyOperation'), 'MyOperation'),
    ),
)
def test_describe(operation: OperationInfo, expected: str) -> None:
    assert describe(operation) == expected


KINDS = (
    'AddField', 'AlterField', 'RemoveField', 'RenameField', 'CreateModel',
    'DeleteModel', 'RenameModel', 'AlterUniqueTogether', 'AlterModelOptions',
    'AddIndex', 'RemoveIndex', 'RenameIndex', 'AddConstraint', 'RunPython',
    'AlterOrderWithRespectTo',
    'RunSQL', 'MyOperation',
)
operations = st.builds(
    op,
    st.sampled_from(KINDS),
    st.sampled_from(('City', 'city', 'Town', 'Country', None)),
    st.sampled_from(('name', 'title', 'slug', None)),
    line=st.integers(1, 60),
    new_name=st.sampled_from(('title', 'Town', 'b_idx', 'slug', None)),
    target_name=st.sampled_from(('a_idx', 'b_idx', None)),
    is_data=st.booleans(),
    scope=st.sampled_from(('both', 'state', 'database')),
    fields=st.sampled_from(((), ('name',), ('title', 'slug'), (ANY_FIELD,))),
    references=st.sampled_from(
        ((), ('city',), ('shop.town',), ('other.city',)),
    ),
)
chains = st.lists(st.lists(operations, max_size=4), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(one=chains, other=chains)
def test_bucketing_finds_every_pair_a_full_comparison_finds(
        one: list[list[OperationInfo]], other: list[list[OperationInfo]],
) -> None:
    migrations = [MigrationInfo('shop', '0001_initial', 'p')]
    by_branch = []
    for i, chain in enumerate((one, other)):
        infos = [
            MigrationInfo(
                'shop', f'{j + 2:04}_b{i}_{j}', f'shop/{i}/{j}.py',
                operations=tuple(ops),
            )
            for j, ops in enumerate(chain)
        ]
        by_branch.append(list(_branch_ops(infos)))
        migrations.extend(infos)
    full = {
        found for a in by_branch[0] for b in by_branch[1]
        if (found := _collision('shop', a, b)) is not None
    }
    assert {
        _collision('shop', a, b)
        for a, b in _candidate_pairs(by_branch[0], by_branch[1])
    } - {None} == full


@settings(
    max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(one=chains, other=chains)
def test_branch_order_does_not_change_the_verdict(
        make_migration: MakeMigration,
        one: list[list[OperationInfo]], other: list[list[OperationInfo]],
) -> None:
    def facts(report: CollisionReport) -> set[tuple[object, ...]]:
        # The same pairs and reasons, whichever branch sorts first.
        return {
            # An index name may be shared by two models: the model
            # reported is then the earlier file's.
            (c.what,
             None if c.what.startswith(('index', 'constraint'))
             else c.model.lower(),
             c.field,
             frozenset(((c.first.kind, c.first.line),
                        (c.second.kind, c.second.line))))
            for c in report.collisions
        }

    forward = report_of(make_migration, one, other)
    backward = report_of(make_migration, other, one)
    assert facts(forward) == facts(backward)
    assert len(forward.reviews) == len(backward.reviews)
    assert forward.verdict == backward.verdict


def test_long_branches_are_compared_quickly(
        make_migration: MakeMigration,
) -> None:
    # 2 x 1500 migrations, each altering its own field: the full pairwise
    # comparison would be 2.25 million pairs.
    one = [[op('AlterField', 'city', f'a{i}')] for i in range(1500)]
    other = [[op('AlterField', 'city', f'b{i}')] for i in range(1500)]
    other[-1] = [op('AlterField', 'city', 'a7')]
    start = time.perf_counter()
    report = report_of(make_migration, one, other)
    assert len(report.collisions) == 1
    assert time.perf_counter() - start < 10


def test_rename_followed_through_the_field_list_branch(
        make_migration: MakeMigration,
) -> None:
    # Branch 1 renamed name -> title first, then lists `title` in
    # unique_together: the ancestor's `name`, which branch 0 removes.
    report = report_of(
        make_migration,
        [[op('RemoveField', 'city', 'name', line=7)]],
        [[op('RenameField', 'city', 'name', new_name='title', line=8),
          parsed("migrations.AlterUniqueTogether('city', {('title',)})")]],
    )
    assert [(c.what, c.field) for c in report.collisions] == [
        ('field removed on one branch and named by AlterUniqueTogether on '
         'the other', 'name'),
        ('field renamed on one branch and removed by its old name on the '
         'other', 'name'),
    ]


def test_foreign_key_after_a_rename_on_its_own_branch(
        make_migration: MakeMigration,
) -> None:
    # Branch 1 renamed Coupon -> Voucher and points a field at `Voucher`:
    # the model branch 0 deletes.
    report = report_of(
        make_migration,
        [[op('DeleteModel', 'Coupon', line=7)]],
        [[op('RenameModel', 'Coupon', new_name='Voucher', line=8),
          parsed("migrations.AddField('order', 'v', models.ForeignKey("
                 "'shop.voucher', models.CASCADE))")]],
    )
    assert [(c.what, c.model, c.field) for c in report.collisions] == [
        ('model deleted on one branch and referenced by order.v '
         '(AddField) on the other', 'Coupon', None),
        ('model deleted on one branch and changed on the other', 'Coupon',
         None),
    ]


def test_other_apps_migration_after_the_branch(
        make_migration: MakeMigration,
) -> None:
    # billing's migration depends on branch 1's shop migration, so it was
    # written on that branch; it points at the model branch 0 deletes.
    # Another billing migration that depends only on the common ancestor
    # cannot be placed on a branch (out of scope).
    fk = parsed("migrations.AddField('invoice', 'coupon', models.ForeignKey("
                "'shop.Coupon', models.CASCADE))")
    m = make_migration
    graph = build_graph([
        m('shop', '0001_initial'),
        m('shop', '0002_delete_coupon', [('shop', '0001_initial')],
          operations=(op('DeleteModel', 'Coupon', line=9),)),
        m('shop', '0002_order_note', [('shop', '0001_initial')]),
        m('billing', '0001_initial', [('shop', '0002_order_note')],
          operations=(fk,)),
        m('billing', '0002_unplaced', [('billing', '0001_initial'),
                                       ('shop', '0001_initial')]),
        m('tax', '0001_initial', [('shop', '0001_initial')],
          operations=(fk,)),
    ], swappable={}).graph
    (conflict,) = conflicts(graph)
    (collision,) = find_collisions(graph, conflict).collisions
    assert collision.one_line() == (
        'billing/migrations/0001_initial.py:6: shop.Coupon: AddField here '
        'collides with DeleteModel in shop/migrations/0002_delete_coupon.py:9 '
        '(model deleted on one branch and referenced by '
        'billing.invoice.coupon (AddField) on the other)'
    )


def test_data_operation_in_separate_database_and_state(
        make_migration: MakeMigration,
) -> None:
    report = report_of(
        make_migration,
        [[op('RunPython', is_data=True, scope='database', line=9)]],
        [[op('AddField', 'city', 'slug')]],
    )
    (review,) = report.reviews
    assert review.operation.description == (
        'Raw Python operation (database only)'
    )
    assert review.blocking(Config(data_operations_block=True))
    assert not review.blocking(Config())


def test_leaves_without_common_ancestor(make_migration: MakeMigration) -> None:
    # Both branches start the app: each branch is its whole history.
    m = make_migration
    graph = build_graph([
        m('shop', '0001_initial', operations=(op('CreateModel', 'City'),)),
        m('shop', '0001_first', operations=(
            op('CreateModel', 'Country'), op('CreateModel', 'city', line=30),
        )),
    ], swappable={}).graph
    (conflict,) = conflicts(graph)
    assert conflict.common_ancestor is None
    (collision,) = find_collisions(graph, conflict).collisions
    assert collision.one_line() == (
        'shop/migrations/0001_first.py:30: shop.city: CreateModel here '
        'collides with CreateModel in shop/migrations/0001_initial.py:12 '
        '(model created on both branches)'
    )
