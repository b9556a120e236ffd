"""Django's migration operations: each one's arguments, roles and wording.

The one home of the operation vocabulary (docs/design.md, "One home for
every rule"), kept the way Django keeps each operation in one class: for
every operation of ``django.db.migrations.operations`` (and the postgres
ones), its positional arguments in Django's order, which argument names the
model, the field or the index, what family it belongs to, and the
``describe()`` text Django prints for it.  The evaluator reads operations
with it, the collision rules compare them with it, and messages describe
them with it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from typing import NamedTuple

from mergedriver.records import OperationInfo

Family = Literal['field', 'model', 'property', 'index', 'constraint', 'other']


class Operation(NamedTuple):
    # Positional arguments, in the order Django's __init__ takes them.
    args: tuple[str, ...]
    # OperationInfo part -> the argument that holds it.
    roles: Mapping[str, str]
    family: Family
    # Django's describe(), with {model} {field} {target} {new_name} {old}.
    wording: str
    # For 'property' operations: the model property it sets.
    sets: str | None = None
    # Its arguments list field names (``unique_together``, ``Index(fields)``).
    lists_fields: bool = False
    # For 'field' operations: what it does to the field, for messages.
    verb: str | None = None
    # Applied a second time with the same arguments, Django changes nothing
    # (state and database): identical on two branches, it is no collision.
    repeatable: bool = False


_FIELD_ARGS = ('model_name', 'name', 'field', 'preserve_default')
_FIELD = {'model': 'model_name', 'field': 'name'}
_NAMED = {'model': 'name'}
_INDEX = {'model': 'model_name', 'target_of': 'index'}
_CONSTRAINT = {'model': 'model_name', 'target_of': 'constraint'}
_BY_NAME = {'model': 'model_name', 'target_name': 'name'}

OPERATIONS: dict[str, Operation] = {
    'AddField': Operation(
        _FIELD_ARGS, _FIELD, 'field', 'Add field {field} to {model}',
        verb='added',
    ),
    'AlterField': Operation(
        _FIELD_ARGS, _FIELD, 'field', 'Alter field {field} on {model}',
        verb='altered', repeatable=True,
    ),
    'RemoveField': Operation(
        ('model_name', 'name'), _FIELD, 'field',
        'Remove field {field} from {model}', verb='removed',
    ),
    'RenameField': Operation(
        ('model_name', 'old_name', 'new_name'),
        {'model': 'model_name', 'field': 'old_name', 'new_name': 'new_name'},
        'field', 'Rename field {field} on {model} to {new_name}',
        verb='renamed',
    ),
    'CreateModel': Operation(
        ('name', 'fields', 'options', 'bases', 'managers'), _NAMED, 'model',
        'Create model {model}',
    ),
    'DeleteModel': Operation(
        ('name',), _NAMED, 'model', 'Delete model {model}',
    ),
    'RenameModel': Operation(
        ('old_name', 'new_name'), {'model': 'old_name', 'new_name': 'new_name'},
        'model', 'Rename model {model} to {new_name}',
    ),
    'AlterModelTable': Operation(
        ('name', 'table'), _NAMED, 'property', 'Rename table for {model}',
        sets='db_table',
        repeatable=True,
    ),
    'AlterModelTableComment': Operation(
        ('name', 'table_comment'), _NAMED, 'property',
        'Alter {model} table comment', sets='db_table_comment',
        repeatable=True,
    ),
    'AlterUniqueTogether': Operation(
        ('name', 'unique_together'), _NAMED, 'property',
        'Alter unique_together for {model}', sets='unique_together',
        lists_fields=True,
        repeatable=True,
    ),
    'AlterIndexTogether': Operation(
        ('name', 'index_together'), _NAMED, 'property',
        'Alter index_together for {model}', sets='index_together',
        lists_fields=True,
        repeatable=True,
    ),
    'AlterOrderWithRespectTo': Operation(
        ('name', 'order_with_respect_to'), _NAMED, 'property',
        'Set order_with_respect_to on {model}', sets='order_with_respect_to',
        lists_fields=True,
        repeatable=True,
    ),
    'AlterModelOptions': Operation(
        ('name', 'options'), _NAMED, 'property',
        'Change Meta options on {model}', sets='Meta options',
        repeatable=True,
    ),
    'AlterModelManagers': Operation(
        ('name', 'managers'), _NAMED, 'property',
        'Change managers on {model}', sets='managers',
        repeatable=True,
    ),
    'AddIndex': Operation(
        ('model_name', 'index'), _INDEX, 'index',
        'Create index {target} on model {model}', lists_fields=True,
    ),
    'AddIndexConcurrently': Operation(
        ('model_name', 'index'), _INDEX, 'index',
        'Create index {target} on model {model}', lists_fields=True,
    ),
    'RemoveIndex': Operation(
        ('model_name', 'name'), _BY_NAME, 'index',
        'Remove index {target} from {model}',
    ),
    'RemoveIndexConcurrently': Operation(
        ('model_name', 'name'), _BY_NAME, 'index',
        'Remove index {target} from {model}',
    ),
    'RenameIndex': Operation(
        ('model_name', 'new_name', 'old_name', 'old_fields'),
        {
            'model': 'model_name', 'new_name': 'new_name',
            'target_name': 'old_name',
        },
        'index', 'Rename index {old} on {model} to {new_name}',
        lists_fields=True,
    ),
    'AddConstraint': Operation(
        ('model_name', 'constraint'), _CONSTRAINT, 'constraint',
        'Create constraint {target} on model {model}', lists_fields=True,
    ),
    'AddConstraintNotValid': Operation(
        ('model_name', 'constraint'), _CONSTRAINT, 'constraint',
        'Create constraint {target} on model {model}', lists_fields=True,
    ),
    'RemoveConstraint': Operation(
        ('model_name', 'name'), _BY_NAME, 'constraint',
        'Remove constraint {target} from model {model}',
    ),
    'AlterConstraint': Operation(
        ('model_name', 'name', 'constraint'), _BY_NAME, 'constraint',
        'Alter constraint {target} on {model}',
    ),
    'ValidateConstraint': Operation(
        ('model_name', 'name'), _BY_NAME, 'constraint',
        'Validate constraint {target} on {model}',
    ),
    'CreateExtension': Operation(
        ('name',), {'target_name': 'name'}, 'other', 'CreateExtension',
    ),
    'CreateCollation': Operation(
        ('name', 'locale'), {'target_name': 'name'}, 'other',
        'CreateCollation',
    ),
    'RemoveCollation': Operation(
        ('name', 'locale'), {'target_name': 'name'}, 'other',
        'RemoveCollation',
    ),
    'RunSQL': Operation(
        ('sql', 'reverse_sql', 'state_operations', 'hints', 'elidable'), {},
        'other', 'Raw SQL operation',
    ),
    'RunPython': Operation(
        ('code', 'reverse_code', 'atomic', 'hints', 'elidable'), {}, 'other',
        'Raw Python operation',
    ),
    'SeparateDatabaseAndState': Operation(
        ('database_operations', 'state_operations'), {}, 'other',
        'SeparateDatabaseAndState',
    ),
}

# django.contrib.postgres extensions that fix their name in __init__.
POSTGRES_EXTENSIONS = {
    'BloomExtension': 'bloom',
    'BtreeGinExtension': 'btree_gin',
    'BtreeGistExtension': 'btree_gist',
    'CITextExtension': 'citext',
    'CryptoExtension': 'pgcrypto',
    'HStoreExtension': 'hstore',
    'TrigramExtension': 'pg_trgm',
    'UnaccentExtension': 'unaccent',
}

# Views of the table, for the evaluator and the collision rules.
SIGNATURES = {kind: op.args for kind, op in OPERATIONS.items()}
ROLES = {kind: op.roles for kind, op in OPERATIONS.items()}


def _family(*families: Family) -> frozenset[str]:
    return frozenset(k for k, op in OPERATIONS.items() if op.family in families)


FIELD_OPS = _family('field')
# Operations that set one property of a model: the same kind on both
# branches means one silently overrides the other.
MODEL_PROPERTY_OPS = {
    kind: op.sets for kind, op in OPERATIONS.items() if op.sets is not None
}
INDEX_OPS = _family('index')
CONSTRAINT_OPS = _family('constraint')
NAMED_OPS = INDEX_OPS | CONSTRAINT_OPS
MODEL_LIFE_OPS = _family('model')
MODEL_OPS = _family('field', 'model', 'property', 'index', 'constraint')
# Operations whose arguments list field names by the names of their time:
# the parser records them in ``OperationInfo.fields``.
FIELD_LIST_OPS = frozenset(
    kind for kind, op in OPERATIONS.items() if op.lists_fields
)
# Known operations that do not name a model.
NON_MODEL_OPS = _family('other') | frozenset(POSTGRES_EXTENSIONS)
# Identical on both branches, these are no collision: the second one changes
# nothing.  Not AddField (the column is added twice: PostgreSQL refuses),
# nor what creates, removes or renames something (CreateModel, RemoveField,
# AddIndex, AddConstraint...: the second one fails on the database or in the
# state, each checked with Django).
REPEATABLE_OPS = frozenset(
    kind for kind, op in OPERATIONS.items() if op.repeatable
)
# Field attributes Django keeps out of the database: Field.non_db_attrs of
# django/db/models/fields/__init__.py, as read in Django 5.2 (the tested one),
# less ``db_column``: it is in that list, but the schema editor compares
# column names apart and renames the column.  Two AlterFields differing
# only in these leave the same tables in either order.  (``db_comment`` is
# not in it: it reaches the database.)
STATE_ONLY_ATTRS = frozenset((
    'blank', 'choices', 'editable', 'error_messages', 'help_text',
    'limit_choices_to', 'on_delete', 'related_name', 'related_query_name',
    'validators', 'verbose_name',
))
FIELD_VERBS = {
    kind: op.verb for kind, op in OPERATIONS.items() if op.verb is not None
}


def describe(op: OperationInfo) -> str:
    """Django's ``describe()`` wording, from what the parser recorded."""
    known = OPERATIONS.get(op.kind)
    if known is not None:
        text = known.wording.format(
            model=op.model or '?',
            field=op.field or '?',
            target=op.target_name or '?',
            new_name=op.new_name or '?',
            old=op.target_name or 'unnamed index',
        )
    elif op.model is not None and op.field is not None:
        text = f'{op.kind} on {op.model}.{op.field}'
    elif op.model is not None:
        text = f'{op.kind} on {op.model}'
    else:
        text = op.kind
    if op.kind.endswith('Concurrently'):
        text = f'{text} (concurrently)'
    if op.scope != 'both':
        text = f'{text} ({op.scope} only)'
    return text
