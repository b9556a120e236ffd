"""The flag strategy's analysis: do parallel branches of one app collide?

Every branch's own operations (after the common ancestor) are compared with
every other branch's, pairwise.  Names are traced back to what they were at
the common ancestor first, so an operation that follows a ``RenameModel`` or
``RenameField`` on its own branch is compared under the ancestor's name, the
one the other branch knows.  Model names compare case-insensitively, field
names exactly, as Django does.

The same change on both branches (a kind of operations.REPEATABLE_OPS with
equal evaluated arguments) is no collision: the second one changes nothing.

Data operations (``RunPython``, row-changing ``RunSQL``) cannot be compared
statically; they are reported as reviews, blocking only when configured.

Relational fields: a model deleted or renamed on one branch collides with a
field pointing to it (``ForeignKey``, ``OneToOneField``, ``ManyToManyField``
``to``/``through``, a ``CreateModel``'s model base) added, altered or
created on another branch -- in the app's own migrations, and in other apps'
migrations that come after the branch's own ones (they depend on one of
them, so they were written on that branch).  Out of scope: another app's
migration that depends only on the common ancestor (nothing tells which
branch it came from), and a target that is not a literal (``to=`` built by
a call, such as ``swapper.get_model_name(...)``).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Literal

from mergedriver.config import Config
from mergedriver.config import DEFAULT_SWAPPABLE
from mergedriver.graph.model import MigrationGraph
from mergedriver.operations import describe
from mergedriver.operations import FIELD_LIST_OPS
from mergedriver.operations import FIELD_OPS
from mergedriver.operations import FIELD_VERBS
from mergedriver.operations import INDEX_OPS
from mergedriver.operations import MODEL_LIFE_OPS
from mergedriver.operations import MODEL_OPS
from mergedriver.operations import MODEL_PROPERTY_OPS
from mergedriver.operations import NAMED_OPS
from mergedriver.operations import NON_MODEL_OPS
from mergedriver.operations import REPEATABLE_OPS
from mergedriver.operations import STATE_ONLY_ATTRS
from mergedriver.records import ANY_FIELD
from mergedriver.records import MigrationInfo
from mergedriver.records import MigrationKey
from mergedriver.records import OperationInfo
from mergedriver.resolution.conflicts import Conflict

Verdict = Literal['independent', 'review', 'collide']


@dataclasses.dataclass(frozen=True)
class OperationRef:
    """One operation of one migration, for messages."""

    migration: MigrationKey
    path: str
    line: int
    kind: str
    description: str

    @property
    def location(self) -> str:
        return f'{self.path}:{self.line}'


@dataclasses.dataclass(frozen=True)
class Collision:
    """Two operations on different branches that cannot both apply.

    ``model`` and ``field`` are the names at the common ancestor; ``first``
    is the operation that comes first by file and line.
    """

    app: str
    model: str
    field: str | None
    what: str
    first: OperationRef
    second: OperationRef

    @property
    def target(self) -> str:
        """``app.model.field`` (``app.model`` for model-level collisions)."""
        parts = [self.app, self.model]
        if self.field is not None:
            parts.append(self.field)
        return '.'.join(parts)

    def one_line(self) -> str:
        return (
            f'{self.first.location}: {self.target}: {self.first.kind} here '
            f'collides with {self.second.kind} in {self.second.location} '
            f'({self.what})'
        )


@dataclasses.dataclass(frozen=True)
class Review:
    """A data operation on a branch: its effect cannot be compared
    statically, so a human should look at it before the branches merge."""

    app: str
    leaf: str
    operation: OperationRef

    def blocking(self, config: Config) -> bool:
        return config.data_operations_block

    def one_line(self) -> str:
        op = self.operation
        return (
            f'{op.location}: {self.app}: {op.kind} changes data on the branch '
            f'of {self.leaf}; review it against the other branches'
        )


@dataclasses.dataclass(frozen=True)
class StateOnly:
    """Both branches alter one field, differing only in attributes Django
    keeps out of the database (operations.STATE_ONLY_ATTRS): the tables end
    the same in either order, only Django's model state depends on it, and
    the next ``makemigrations`` records the field as ``models.py`` has it.
    Merged, with this line for review."""

    app: str
    model: str
    field: str
    attributes: tuple[str, ...]
    first: OperationRef
    second: OperationRef

    def blocking(self, config: Config) -> bool:
        return False

    def one_line(self) -> str:
        return (
            f'{self.first.location}: {self.app}.{self.model}.{self.field}: '
            f'altered on both branches with {self.second.location}, '
            f'differing only in {", ".join(self.attributes)} (not in the '
            f'database); merged: after the merge, run `python manage.py '
            f'makemigrations {self.app}`'
        )


@dataclasses.dataclass(frozen=True)
class CollisionReport:
    collisions: tuple[Collision, ...]
    reviews: tuple[Review, ...]
    state_only: tuple[StateOnly, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if self.collisions:
            return 'collide'
        return 'review' if self.reviews else 'independent'

    def blocking(self, config: Config) -> bool:
        """Whether no automatic merge may be written."""
        return bool(self.collisions) or any(
            r.blocking(config) for r in self.reviews
        )

    def lines(self) -> tuple[str, ...]:
        return tuple(c.one_line() for c in self.collisions) + tuple(
            r.one_line() for r in self.reviews
        )


def operation_ref(migration: MigrationInfo, op: OperationInfo) -> OperationRef:
    return OperationRef(
        migration=migration.key,
        path=migration.path,
        line=op.line,
        kind=op.kind,
        description=describe(op),
    )


# ---------------------------------------------------------- name tracing

@dataclasses.dataclass(frozen=True)
class _Op:
    """An operation with its names traced back to the common ancestor."""

    info: OperationInfo
    ref: OperationRef
    # The model's name at the ancestor, as first spelled, and its key.
    model: str | None
    field: str | None
    # A new name this operation brings into the model namespace
    # (('model', key)) or a model's field namespace (('field', model, name)).
    claim: tuple[str, ...] | None
    # Index or constraint names at the ancestor (and a rename's new name).
    targets: frozenset[str]
    # FIELD_LIST_OPS: the field names listed, at the ancestor.
    listed: frozenset[str] = frozenset()
    # Models of the analysed app that relational fields point to (keys at
    # the ancestor).
    refs: frozenset[str] = frozenset()

    @property
    def model_key(self) -> str | None:
        return None if self.model is None else self.model.lower()

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def is_unknown(self) -> bool:
        return self.kind not in MODEL_OPS and self.kind not in NON_MODEL_OPS

    @property
    def names_field(self) -> bool:
        """A field operation, or an unknown one naming a model and field."""
        if self.kind in FIELD_OPS:
            return self.field is not None and self.model is not None
        return (
            self.is_unknown and self.model is not None and
            self.field is not None
        )

    @property
    def touches_model(self) -> bool:
        """Whether the operation changes the model it names."""
        return self.model is not None and (
            self.kind in MODEL_OPS or self.names_field
        )


class _Names:
    """Current name -> ancestor name, for one branch, as it is replayed."""

    def __init__(self) -> None:
        self.models: dict[str, str] = {}
        self.fields: dict[tuple[str, str], str] = {}
        self.indexes: dict[str, str] = {}

    def model(self, name: str) -> str:
        return self.models.get(name.lower(), name)

    def field(self, model: str, name: str) -> str:
        return self.fields.get((self.model(model).lower(), name), name)

    def index(self, name: str) -> str:
        return self.indexes.get(name, name)

    def apply(self, op: OperationInfo) -> None:
        if op.scope == 'database':  # names live in the state
            return
        if op.kind == 'RenameModel' and op.model and op.new_name:
            origin = self.model(op.model)
            self.models.pop(op.model.lower(), None)
            self.models[op.new_name.lower()] = origin
        elif op.kind == 'RenameField' and op.model and op.field and (
                op.new_name
        ):
            key = self.model(op.model).lower()
            origin = self.field(op.model, op.field)
            self.fields.pop((key, op.field), None)
            self.fields[(key, op.new_name)] = origin
        elif op.kind == 'RenameIndex' and op.target_name and op.new_name:
            origin = self.index(op.target_name)
            self.indexes.pop(op.target_name, None)
            self.indexes[op.new_name] = origin


def _claim(op: OperationInfo, model: str | None) -> tuple[str, ...] | None:
    if op.kind == 'CreateModel' and op.model:
        return ('model', op.model.lower())
    if op.kind == 'RenameModel' and op.new_name:
        return ('model', op.new_name.lower())
    if model is None:
        return None
    if op.kind == 'AddField' and op.field:
        return ('field', model.lower(), op.field)
    if op.kind == 'RenameField' and op.new_name:
        return ('field', model.lower(), op.new_name)
    return None


def _referenced_models(
        migration: MigrationInfo,
        op: OperationInfo,
        app: str,
        swappable: Mapping[str, str],
) -> Iterator[str]:
    """Models of ``app`` the operation's relational fields point to."""
    for target in op.references:
        if target.startswith('settings.'):
            value = swappable.get(target.partition('.')[2])
            if value is None:
                continue
            target = value.lower()
        target_app, dot, model = target.rpartition('.')
        if (target_app if dot else migration.app_label) == app:
            yield model


def _branch_ops(
        migrations: Sequence[MigrationInfo],
        swappable: Mapping[str, str] = DEFAULT_SWAPPABLE,
) -> Iterator[_Op]:
    names = _Names()
    for migration in migrations:
        for op in migration.operations:
            model = None if op.model is None else names.model(op.model)
            field = (
                None if op.model is None or op.field is None
                else names.field(op.model, op.field)
            )
            targets = set()
            if op.kind in NAMED_OPS:
                if op.target_name:
                    targets.add(names.index(op.target_name))
                if op.kind == 'RenameIndex' and op.new_name:
                    targets.add(op.new_name)
            listed = frozenset(
                f if f == ANY_FIELD or op.model is None
                else names.field(op.model, f)
                for f in op.fields
            ) if op.kind in FIELD_LIST_OPS else frozenset()
            refs = frozenset(
                names.model(m).lower() for m in _referenced_models(
                    migration, op, migration.app_label, swappable,
                )
            )
            yield _Op(
                info=op,
                ref=operation_ref(migration, op),
                model=model,
                field=field,
                claim=_claim(op, model),
                targets=frozenset(targets),
                listed=listed,
                refs=refs,
            )
            names.apply(op)


def _foreign_ops(
        migrations: Sequence[MigrationInfo],
        app: str,
        swappable: Mapping[str, str],
) -> Iterator[_Op]:
    """Other apps' operations, seen only for the models of ``app`` their
    relational fields point to (their own models are another namespace)."""
    for migration in migrations:
        for op in migration.operations:
            refs = frozenset(
                m.lower()
                for m in _referenced_models(migration, op, app, swappable)
            )
            if refs:
                yield _Op(
                    info=op, ref=operation_ref(migration, op), model=None,
                    field=None, claim=None, targets=frozenset(), refs=refs,
                )


# ------------------------------------------------------------------ rules

# The order field changes are named in a reason: what creates or renames
# the field first, then what removes or alters it.
_REASON_ORDER = ['AddField', 'RenameField', 'RemoveField', 'AlterField']


def _field_verb(op: _Op) -> str:
    return FIELD_VERBS.get(op.kind, f'changed by {op.kind}')


def _field_reason(a: _Op, b: _Op) -> str:
    # Verbs in a fixed order, so the reason does not depend on which
    # branch is which.
    rank = _REASON_ORDER
    a, b = sorted(
        (a, b), key=lambda o: (
            rank.index(o.kind) if o.kind in rank else len(rank), o.kind,
        ),
    )
    va, vb = _field_verb(a), _field_verb(b)
    if va == vb:
        return f'field {va} on both branches'
    if a.kind == 'RenameField' or b.kind == 'RenameField':
        other = b if a.kind == 'RenameField' else a
        return (
            f'field renamed on one branch and {_field_verb(other)} '
            f'by its old name on the other'
        )
    return f'field {va} on one branch and {vb} on the other'


# (what, field), or (what, field, model) when the model reported is not
# the one the earlier operation names.
Found = tuple[str, str | None] | tuple[str, str | None, str]


def _deleted_model(a: _Op, b: _Op) -> Found | None:
    if a.kind != 'DeleteModel' or not _same_model(a, b) or (
            not b.touches_model
    ):
        return None
    if b.kind == 'DeleteModel':
        return 'model deleted on both branches', None
    return 'model deleted on one branch and changed on the other', (
        b.field if b.names_field else None
    )


def _renamed_model(a: _Op, b: _Op) -> Found | None:
    if a.kind != 'RenameModel' or not _same_model(a, b) or (
            not b.touches_model
    ):
        return None
    if b.kind == 'RenameModel':
        return 'model renamed on both branches', None
    return (
        'model renamed on one branch and used by its old name on the other'
    ), (b.field if b.names_field else None)


def _same_field(a: _Op, b: _Op) -> Found | None:
    if a.names_field and b.names_field and _same_model(a, b) and (
            a.field == b.field
    ):
        return _field_reason(a, b), a.field
    return None


def _field_in_list(a: _Op, b: _Op) -> Found | None:
    """A field renamed or removed on one branch, named in a list of fields
    (unique_together, an index...) on the other."""
    if (
            not _same_model(a, b) or a.field is None or
            b.kind not in FIELD_LIST_OPS or
            a.kind not in ('RenameField', 'RemoveField')
    ):
        return None
    verb = 'renamed' if a.kind == 'RenameField' else 'removed'
    if a.field in b.listed:
        return (
            f'field {verb} on one branch and named by {b.kind} on the other'
        ), a.field
    if ANY_FIELD in b.listed:
        return (
            f'field {verb} on one branch; {b.kind} on the other may name it '
            f'(its field list is not known statically)'
        ), a.field
    return None


def _referenced_model(a: _Op, b: _Op) -> Found | None:
    """A model deleted or renamed on one branch, pointed to by a relational
    field on the other."""
    if a.kind not in ('DeleteModel', 'RenameModel') or (
            a.model_key is None or a.model_key not in b.refs
    ):
        return None
    verb = 'deleted' if a.kind == 'DeleteModel' else 'renamed'
    # the collision's target is the model; the field pointing to it is on
    # another model (or in another app), so it is named in the reason
    where = b.info.model or '?'
    if b.kind in ('AddField', 'AlterField'):
        where = f'{where}.{b.info.field or "?"}'
    if b.ref.migration[0] != a.ref.migration[0]:
        where = f'{b.ref.migration[0]}.{where}'
    return (
        f'model {verb} on one branch and referenced by {where} ({b.kind}) '
        f'on the other'
    ), None, a.model or '?'


def _same_claim(a: _Op, b: _Op) -> Found | None:
    if a.claim is None or a.claim != b.claim:
        return None
    if a.claim[0] == 'model':
        if a.kind == b.kind == 'CreateModel':
            return 'model created on both branches', None
        return 'both branches bring in a model of this name', None
    return 'both branches bring in a field of this name', a.claim[2]


def _same_property(a: _Op, b: _Op) -> Found | None:
    if _same_model(a, b) and a.kind == b.kind and a.kind in (
            MODEL_PROPERTY_OPS
    ):
        return f'{MODEL_PROPERTY_OPS[a.kind]} changed on both branches', None
    return None


def _same_index_name(a: _Op, b: _Op) -> Found | None:
    # Index and constraint names must be unique across the app's models
    # (Django's checks models.E029-E032), so the model does not matter.
    if a.kind not in NAMED_OPS or b.kind not in NAMED_OPS:
        return None
    shared = sorted(a.targets & b.targets)
    if not shared:
        return None
    families = {
        'index' if o.kind in INDEX_OPS else 'constraint' for o in (a, b)
    }
    family = ' or '.join(sorted(families))
    return f'{family} {shared[0]} changed on both branches', None


# Most specific first: the first rule that matches, in either direction,
# gives the reason.
_RULES = (
    _deleted_model, _renamed_model, _same_field, _field_in_list,
    _referenced_model, _same_claim, _same_property, _same_index_name,
)


def _same_model(a: _Op, b: _Op) -> bool:
    return a.model_key is not None and a.model_key == b.model_key


def _reason(a: _Op, b: _Op) -> Found | None:
    """Why ``a`` and ``b`` (on different branches) collide, or None."""
    for rule in _RULES:
        # Both directions may match (each branch deletes a model the other
        # references): the same answer whichever branch is ``a``.
        found = [f for f in (rule(a, b), rule(b, a)) if f is not None]
        if found:
            return min(found, key=lambda f: tuple(str(x) for x in f))
    return None


def _new_model_name(op: _Op) -> str | None:
    if op.kind == 'RenameModel':
        return op.info.new_name
    return op.info.model if op.kind == 'CreateModel' else None


def _reported_model(first: _Op, second: _Op) -> str:
    """The model under the ancestor's name as the earlier side spells it;
    a model both branches bring in has no ancestor name: its new name."""
    if first.claim is not None and first.claim == second.claim and (
            first.claim[0] == 'model'
    ):
        return _new_model_name(first) or _new_model_name(second) or '?'
    return first.model or second.model or '?'


def _identical(a: _Op, b: _Op) -> bool:
    """The same change on both branches: Django applies both, the second
    changes nothing, and the tables and state end the same in either order.
    Compared by evaluated arguments (operations.REPEATABLE_OPS says which
    kinds; identical AddFields still collide: the column is added twice)."""
    return (
        a.kind == b.kind and a.kind in REPEATABLE_OPS and
        a.model_key is not None and a.model_key == b.model_key and
        a.field == b.field and a.info.scope == b.info.scope and
        a.info.arguments is not None and
        a.info.arguments == b.info.arguments
    )


def _field_call(arguments: str) -> tuple[object, dict[str, object]] | None:
    """An AlterField's arguments without the field's keywords, and those."""
    params = dict(json.loads(arguments))
    field = params.pop('field', None)
    if not (isinstance(field, list) and len(field) == 4 and (
            field[0] == 'call'
    )):
        return None
    _, func, args, kwargs = field
    return [params, func, args], dict(kwargs)


def _state_only(a: _Op, b: _Op) -> tuple[str, ...] | None:
    """The attributes two AlterFields of one field differ in, when all of
    them are kept out of the database; else None."""
    if not (
            a.kind == b.kind == 'AlterField' and
            a.model_key is not None and a.model_key == b.model_key and
            a.field is not None and a.field == b.field and
            a.info.scope == b.info.scope and
            a.info.arguments is not None and b.info.arguments is not None
    ):
        return None
    left = _field_call(a.info.arguments)
    right = _field_call(b.info.arguments)
    if left is None or right is None or left[0] != right[0]:
        return None
    kw_a, kw_b = left[1], right[1]
    differ = sorted(
        k for k in kw_a.keys() | kw_b.keys() if kw_a.get(k) != kw_b.get(k)
    )
    if differ and all(k in STATE_ONLY_ATTRS for k in differ):
        return tuple(differ)
    return None


def _collision(app: str, a: _Op, b: _Op) -> Collision | None:
    if _identical(a, b):
        return None
    found = _reason(a, b)
    if found is None:
        return None
    what, field = found[0], found[1]
    first, second = sorted(
        (a, b), key=lambda o: (o.ref.path, o.ref.line, o.ref.kind),
    )
    model = found[2] if len(found) == 3 else _reported_model(first, second)
    return Collision(
        app=app, model=model, field=field, what=what,
        first=first.ref, second=second.ref,
    )


# ------------------------------------------------------------------- entry

Key = tuple[str, ...]


def _keys(op: _Op) -> set[Key]:
    """Where an operation is found by others: its model, its field, the
    names it brings in, its index or constraint names."""
    keys: set[Key] = {('target', t) for t in op.targets}
    if op.model_key is not None:
        keys.add(('model', op.model_key))
        if op.names_field:
            keys.add(('field', op.model_key, op.field or ''))
    if op.claim is not None:
        keys.add(('claim', *op.claim))
    keys.update(('ref', m) for m in op.refs)
    return keys


def _probes(op: _Op) -> set[Key]:
    """Where an operation looks for partners.  Field operations look at
    their own field only; operations on a whole model (deleting, renaming,
    setting a property, listing fields) look at everything on the model.
    Every rule matches a pair through one side's probe and the other's
    key."""
    probes = _keys(op)
    wide = (
        op.kind in MODEL_LIFE_OPS or op.kind in MODEL_PROPERTY_OPS or
        op.kind in FIELD_LIST_OPS
    )
    if not wide:
        probes.discard(('model', op.model_key or ''))
    if op.kind in ('DeleteModel', 'RenameModel') and op.model_key:
        probes.add(('ref', op.model_key))
    return probes


def _candidate_pairs(
        left: list[_Op], right: list[_Op],
) -> Iterator[tuple[_Op, _Op]]:
    """Pairs some rule may match, so that long branches are not compared
    operation by operation."""
    registered: dict[Key, list[int]] = {}
    probing: dict[Key, list[int]] = {}
    for i, op in enumerate(right):
        for key in _keys(op):
            registered.setdefault(key, []).append(i)
        for key in _probes(op):
            probing.setdefault(key, []).append(i)
    for a in left:
        found: set[int] = set()
        for key in _probes(a):
            found.update(registered.get(key, ()))
        for key in _keys(a):
            found.update(probing.get(key, ()))
        for i in sorted(found):
            yield a, right[i]


def _sort_key(c: Collision) -> tuple[str, int, str, int, str]:
    return (c.first.path, c.first.line, c.second.path, c.second.line, c.what)


def _later_foreign_migrations(
        graph: MigrationGraph, conflict: Conflict,
) -> dict[str, list[MigrationKey]]:
    """Per leaf, other apps' migrations that depend (transitively) on the
    branch's own migrations and on no other branch's: written on that
    branch, after them."""
    reach: dict[str, set[MigrationKey]] = {}
    for leaf, keys in conflict.branches.items():
        seen: set[MigrationKey] = set()
        todo = list(keys)
        while todo:
            for child in graph.children.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        reach[leaf] = {k for k in seen if k[0] != conflict.app}
    out: dict[str, list[MigrationKey]] = {}
    for leaf, later in reach.items():
        others: set[MigrationKey] = set()
        for other, found in reach.items():
            if other != leaf:
                others |= found
        out[leaf] = sorted(later - others)
    return out


def find_collisions(
        graph: MigrationGraph,
        conflict: Conflict,
        swappable: Mapping[str, str] = DEFAULT_SWAPPABLE,
        *,
        merge_state_only: bool = True,
) -> CollisionReport:
    """Colliding operation pairs and data operations to review.

    Branches are compared pairwise (three leaves make three pairs).  A
    migration that lies on several branches is common ground, not compared.
    ``swappable`` (the configuration's) resolves
    ``to=settings.AUTH_USER_MODEL``.  ``merge_state_only``: AlterFields
    differing only in state attributes are :class:`StateOnly` notices, not
    collisions (configuration ``state_only_collisions``).
    """
    def migration(key: MigrationKey) -> MigrationInfo:
        found = graph.nodes.get(key) or graph.migrations.get(key)
        assert found is not None, key
        return found

    counts: dict[MigrationKey, int] = {}
    for keys in conflict.branches.values():
        for key in set(keys):
            counts[key] = counts.get(key, 0) + 1
    ops: dict[str, list[_Op]] = {}
    reviews: dict[tuple[MigrationKey, int], Review] = {}
    foreign = _later_foreign_migrations(graph, conflict)
    for leaf in conflict.leaves:
        own = [
            migration(k) for k in conflict.branches.get(leaf, ())
            if counts[k] == 1
        ]
        ops[leaf] = list(_branch_ops(own, swappable))
        for op in ops[leaf]:
            if op.info.is_data:
                reviews[(op.ref.migration, op.ref.line)] = Review(
                    app=conflict.app, leaf=leaf, operation=op.ref,
                )
        ops[leaf].extend(_foreign_ops(
            [migration(k) for k in foreign.get(leaf, ())],
            conflict.app, swappable,
        ))
    collisions = set()
    state_only = set()
    for left, right in itertools.combinations(conflict.leaves, 2):
        for a, b in _candidate_pairs(ops[left], ops[right]):
            attributes = _state_only(a, b) if merge_state_only else None
            if attributes is not None:
                first, second = sorted(
                    (a, b), key=lambda o: (o.ref.path, o.ref.line),
                )
                state_only.add(StateOnly(
                    app=conflict.app, model=first.model or '?',
                    field=first.field or '?', attributes=attributes,
                    first=first.ref, second=second.ref,
                ))
                continue
            found = _collision(conflict.app, a, b)
            if found is not None:
                collisions.add(found)
    return CollisionReport(
        collisions=tuple(sorted(collisions, key=_sort_key)),
        state_only=tuple(sorted(
            state_only, key=lambda s: (s.first.path, s.first.line),
        )),
        reviews=tuple(sorted(
            reviews.values(),
            key=lambda r: (r.operation.path, r.operation.line),
        )),
    )
