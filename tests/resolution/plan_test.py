"""The pure planner over plain directories: sides, refusals, lock files,
rollback commands."""
from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from mergedriver.check import check_tree
from mergedriver.config import Config
from mergedriver.git.trees import directory_tree
from mergedriver.records import MigrationKey
from mergedriver.resolution.conflicts import conflicts
from mergedriver.resolution.plan import CreateFile
from mergedriver.resolution.plan import make_plan
from mergedriver.resolution.plan import Plan
from mergedriver.resolution.plan import PlanInput
from mergedriver.resolution.plan import Refusal
from mergedriver.resolution.plan import RenameFile
from mergedriver.resolution.plan import RewriteFile
from testing.git import write
from testing.migrations import add_migration

NOW = datetime.datetime(2024, 1, 2, 3, 4)


def _input(
        root: Path,
        *,
        published: set[MigrationKey] | None = None,
        config: Config = Config(),
        **kwargs: object,
) -> PlanInput:
    tree = directory_tree(str(root))
    check = check_tree(tree, config)
    assert not check.problems or all(
        p.kind == 'multiple-leaves' for p in check.problems
    ), check.problems
    return PlanInput(
        check=check, tree=tree, conflicts=conflicts(check.graph), now=NOW,
        published=None if published is None else frozenset(published),
        mainline='main', **kwargs,  # type: ignore[arg-type]
    )


def _shop(root: Path, *branches: tuple[str, ...]) -> None:
    add_migration(root, 'shop', '0001_initial')
    for branch in branches:
        parent = '0001_initial'
        for name in branch:
            add_migration(root, 'shop', name, [('shop', parent)])
            parent = name


def test_three_leaves_renumbered_one_after_another(tmp_path: Path) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b', '0003_b'), ('0002_c',))
    plan = make_plan(
        _input(tmp_path, published={('shop', '0002_a')}), 'renumber',
    )
    assert isinstance(plan, Plan), plan
    renames = [
        (a.old_path.split('/')[-1], a.new_path.split('/')[-1])
        for a in plan.actions if isinstance(a, RenameFile)
    ]
    # Leaves in Django's order: 0002_c moves first, then 0003_b's branch.
    assert renames == [
        ('0002_b.py', '0004_b.py'), ('0002_c.py', '0003_c.py'),
        ('0003_b.py', '0005_b.py'),
    ]
    texts = {
        a.new_path.split('/')[-1]: a.text
        for a in plan.actions if isinstance(a, RenameFile)
    }
    assert "('shop', '0002_a')" in texts['0003_c.py']
    assert "('shop', '0003_c')" in texts['0004_b.py']
    assert "('shop', '0004_b')" in texts['0005_b.py']
    assert plan.notes[:2] == (
        'shop: 0002_c -> 0003_c (after 0002_a)',
        'shop: 0002_b, 0003_b -> 0004_b, 0005_b (after 0003_c)',
    )


def test_no_mainline_and_no_published_side_refuse(tmp_path: Path) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b',))
    outcome = make_plan(_input(tmp_path), 'renumber')
    assert isinstance(outcome, Refusal)
    assert 'no mainline ref (origin/HEAD, main, master)' in outcome.reasons[0]
    outcome = make_plan(_input(tmp_path, published=set()), 'renumber')
    assert isinstance(outcome, Refusal)
    assert 'no branch is published' in outcome.reasons[0]
    # The caller's `stay` decides, whatever is published.
    pi = _input(
        tmp_path, published=set(), stay=frozenset({('shop', '0002_b')}),
    )
    plan = make_plan(pi, 'renumber')
    assert isinstance(plan, Plan)
    assert plan.actions[0] == RenameFile(
        'shop/migrations/0002_a.py', 'shop/migrations/0003_a.py',
        (tmp_path / 'shop/migrations/0002_a.py').read_text(),
        (tmp_path / 'shop/migrations/0002_a.py').read_text().replace(
            "'0001_initial'", "'0002_b'",
        ),
    )


def test_a_published_migration_never_moves(tmp_path: Path) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b', '0003_b'))
    outcome = make_plan(
        _input(tmp_path, stay=frozenset({('shop', '0002_a')}),
               published={('shop', '0002_b')}),
        'renumber',
    )
    assert isinstance(outcome, Refusal)
    assert outcome.reasons == (
        'shop/migrations/0002_b.py:4: shop.0002_b is published (in main); '
        'it must not be renamed',
    )


def test_squashed_migration_on_the_moving_side_is_refused(
        tmp_path: Path,
) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b', '0003_b'))
    add_migration(
        tmp_path, 'shop', '0002_squashed_0003_b', [('shop', '0001_initial')],
        extra="    replaces = [('shop', '0002_b'), ('shop', '0003_b')]\n",
    )
    outcome = make_plan(
        _input(tmp_path, published={('shop', '0002_a')}), 'renumber',
    )
    assert isinstance(outcome, Refusal)
    assert 'is a squashed migration on the side being moved' in (
        outcome.reasons[0]
    )


def test_rollback_sets_aside_the_other_side_and_its_dependents(
        tmp_path: Path,
) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b',))
    add_migration(tmp_path, 'billing', '0001_initial', [('shop', '0002_a')])
    add_migration(tmp_path, 'billing', '0002_x', [('billing', '0001_initial')])
    config = Config(rollback_command=(
        'python', 'manage.py', 'migrate', '{app}', '{target}',
        '--database={app}_db',
    ))
    plan = make_plan(
        _input(tmp_path, published={('shop', '0002_a')}, config=config),
        'renumber',
    )
    assert isinstance(plan, Plan)
    (rollback,) = plan.rollbacks
    assert rollback.argv == (
        'python', 'manage.py', 'migrate', 'shop', '0001_initial',
        '--database=shop_db',
    )
    assert rollback.moved == (('shop', '0002_b'),)
    assert rollback.aside == (
        'billing/migrations/0001_initial.py', 'billing/migrations/0002_x.py',
        'shop/migrations/0002_a.py',
    )


LOCKFILE = '''\
Django migrations lock file. Do not edit by hand.

billing: 0001_initial
<<<<<<< HEAD
shop: 0002_b
=======
shop: 0002_a
>>>>>>> main
'''


def test_merge_resolves_lock_files(tmp_path: Path) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b',))
    add_migration(tmp_path, 'billing', '0001_initial')
    write(tmp_path / 'migrations_lockfile.txt', LOCKFILE)
    write(tmp_path / 'shop/migrations/max_migration.txt', '0002_b\n')
    plan = make_plan(_input(tmp_path), 'merge')
    assert isinstance(plan, Plan)
    name = '0003_merge_0002_a_0002_b'
    assert plan.actions == (
        CreateFile(
            f'shop/migrations/{name}.py',
            plan.actions[0].text,  # type: ignore[union-attr]
        ),
        RewriteFile(
            'shop/migrations/max_migration.txt', '0002_b\n', f'{name}\n',
        ),
        RewriteFile(
            'migrations_lockfile.txt', LOCKFILE,
            'Django migrations lock file. Do not edit by hand.\n\n'
            f'billing: 0001_initial\nshop: {name}\n',
        ),
    )


@dataclasses.dataclass(frozen=True)
class _Finding:
    text: str

    def one_line(self) -> str:
        return self.text


def test_auto_flags_collisions_and_blocking_reviews(tmp_path: Path) -> None:
    _shop(tmp_path, ('0002_a',), ('0002_b',))
    collision = _Finding('x.py:3: shop.model.field: AlterField collides')
    outcome = make_plan(_input(tmp_path, collisions=(collision,)), 'auto')
    assert isinstance(outcome, Refusal)
    assert outcome.collisions == (collision.text,)
    review = _Finding('y.py:5: shop: RunPython changes data')
    plan = make_plan(_input(tmp_path, reviews=(review,)), 'auto')
    assert isinstance(plan, Plan)
    assert f'review: {review.text}' in plan.notes
    blocking = Config(data_operations_block=True)
    outcome = make_plan(
        _input(tmp_path, reviews=(review,), config=blocking), 'auto',
    )
    assert isinstance(outcome, Refusal)
    assert outcome.collisions == (review.text,)
    # An explicit strategy goes ahead and warns.
    plan = make_plan(_input(tmp_path, collisions=(collision,)), 'merge')
    assert isinstance(plan, Plan)
    assert f'warning: colliding operations: {collision.text}' in plan.notes
