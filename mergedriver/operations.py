"""Django's migration operations: each one's arguments and their roles.

The one home of the operation vocabulary (docs/design.md, "One home for
every rule"): which positional arguments each operation of
``django.db.migrations.operations`` takes, which of them names the model,
the field or the index, and the postgres extensions that fix their name.
The evaluator reads operations with it; the collision rules and the
descriptions Django prints use it too.
"""
from __future__ import annotations

FIELD_OP_ARGS = ('model_name', 'name', 'field', 'preserve_default')
SIGNATURES: dict[str, tuple[str, ...]] = {
    'AddField': FIELD_OP_ARGS,
    'AlterField': FIELD_OP_ARGS,
    'RemoveField': ('model_name', 'name'),
    'RenameField': ('model_name', 'old_name', 'new_name'),
    'CreateModel': ('name', 'fields', 'options', 'bases', 'managers'),
    'DeleteModel': ('name',),
    'RenameModel': ('old_name', 'new_name'),
    'AlterModelTable': ('name', 'table'),
    'AlterModelTableComment': ('name', 'table_comment'),
    'AlterUniqueTogether': ('name', 'unique_together'),
    'AlterIndexTogether': ('name', 'index_together'),
    'AlterOrderWithRespectTo': ('name', 'order_with_respect_to'),
    'AlterModelOptions': ('name', 'options'),
    'AlterModelManagers': ('name', 'managers'),
    'AddIndex': ('model_name', 'index'),
    'AddIndexConcurrently': ('model_name', 'index'),
    'RemoveIndex': ('model_name', 'name'),
    'RemoveIndexConcurrently': ('model_name', 'name'),
    'RenameIndex': ('model_name', 'new_name', 'old_name', 'old_fields'),
    'AddConstraint': ('model_name', 'constraint'),
    'AddConstraintNotValid': ('model_name', 'constraint'),
    'RemoveConstraint': ('model_name', 'name'),
    'AlterConstraint': ('model_name', 'name', 'constraint'),
    'ValidateConstraint': ('model_name', 'name'),
    'CreateExtension': ('name',),
    'CreateCollation': ('name', 'locale'),
    'RemoveCollation': ('name', 'locale'),
    'RunSQL': ('sql', 'reverse_sql', 'state_operations', 'hints', 'elidable'),
    'RunPython': ('code', 'reverse_code', 'atomic', 'hints', 'elidable'),
    'SeparateDatabaseAndState': ('database_operations', 'state_operations'),
}

# Which argument plays which part in OperationInfo.
_MODEL_NAME = {'model': 'model_name'}
_NAMED = {'model': 'name'}
ROLES: dict[str, dict[str, str]] = {
    'AddField': {'model': 'model_name', 'field': 'name'},
    'AlterField': {'model': 'model_name', 'field': 'name'},
    'RemoveField': {'model': 'model_name', 'field': 'name'},
    'RenameField': {
        'model': 'model_name', 'field': 'old_name', 'new_name': 'new_name',
    },
    'CreateModel': _NAMED,
    'DeleteModel': _NAMED,
    'RenameModel': {'model': 'old_name', 'new_name': 'new_name'},
    'AlterModelTable': _NAMED,
    'AlterModelTableComment': _NAMED,
    'AlterUniqueTogether': _NAMED,
    'AlterIndexTogether': _NAMED,
    'AlterOrderWithRespectTo': _NAMED,
    'AlterModelOptions': _NAMED,
    'AlterModelManagers': _NAMED,
    'AddIndex': {'model': 'model_name', 'target_of': 'index'},
    'AddIndexConcurrently': {'model': 'model_name', 'target_of': 'index'},
    'RemoveIndex': {'model': 'model_name', 'target_name': 'name'},
    'RemoveIndexConcurrently': {'model': 'model_name', 'target_name': 'name'},
    'RenameIndex': {
        'model': 'model_name', 'new_name': 'new_name',
        'target_name': 'old_name',
    },
    'AddConstraint': {'model': 'model_name', 'target_of': 'constraint'},
    'AddConstraintNotValid': {
        'model': 'model_name', 'target_of': 'constraint',
    },
    'RemoveConstraint': {'model': 'model_name', 'target_name': 'name'},
    'AlterConstraint': {'model': 'model_name', 'target_name': 'name'},
    'ValidateConstraint': {'model': 'model_name', 'target_name': 'name'},
    'CreateExtension': {'target_name': 'name'},
    'CreateCollation': {'target_name': 'name'},
    'RemoveCollation': {'target_name': 'name'},
    'RunSQL': {},
    'RunPython': {},
    'SeparateDatabaseAndState': {},
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
