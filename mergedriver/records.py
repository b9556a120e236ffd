"""Immutable records passed between the stages (docs/design.md, "The pipeline").

source -> parse -> graph -> analysis -> plan -> apply -> git / report

Every stage takes and returns these frozen dataclasses; nothing downstream
mutates what an earlier stage produced.  The parse records are content-only
apart from the identity fields (app label, name, path), so the cache can store
them by git blob id and re-attach the identity on a hit.
"""
from __future__ import annotations

import dataclasses
import marshal
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING

# (app_label, migration_name), the same key Django's graph uses.
MigrationKey = tuple[str, str]

Scope = Literal['both', 'state', 'database']
ProblemKind = Literal[
    'multiple-leaves',
    'missing-dependency',
    'cycle',
    'parse-error',
    'unresolved-expression',
]

# Problem kinds that make the input unusable (exit status 2, docs/design.md,
# "Rules that must always hold");
# everything else is a finding (exit status 1).
UNUSABLE_KINDS: frozenset[str] = frozenset(
    ('parse-error', 'unresolved-expression', 'cycle', 'missing-dependency'),
)


@dataclasses.dataclass(frozen=True)
class Dependency:
    """One entry of ``dependencies``, ``replaces`` or ``run_before``.

    ``setting`` is set for ``swappable_dependency(settings.X)``: the app is
    not known statically, so ``app`` is empty and ``name`` is ``__first__``
    until :func:`resolve_swappable` fills it from the configuration, the way
    Django's ``swappable_dependency`` does (``value.split('.', 1)[0]``).
    """

    app: str
    name: str
    line: int
    setting: str | None = None

    @property
    def key(self) -> MigrationKey:
        return (self.app, self.name)


# In ``OperationInfo.fields``: the list names fields that are not known
# statically (never a Python identifier, so never a real field name).
ANY_FIELD = '*'


@dataclasses.dataclass(frozen=True)
class OperationInfo:
    """What the tools need to know of one migration operation.

    ``kind`` is the class name as written (``AddField``, ``RunPython``,
    ``AddIndexConcurrently``, a project's own class...).  ``model`` is the
    model the operation targets as written (``model_name`` or ``name``);
    ``field`` the field (``name`` of field operations, ``old_name`` of
    ``RenameField``); ``new_name`` the target of a rename; ``target_name`` the
    name of an index or constraint.  ``fields`` holds field names: the
    fields of a ``CreateModel``; the names listed by ``AlterUniqueTogether``,
    ``AlterIndexTogether``, ``AlterOrderWithRespectTo`` and ``RenameIndex``'s
    ``old_fields``; the fields an ``AddIndex``/``AddConstraint`` uses (its
    ``fields``, and every name its expressions or condition may mention, a
    leading ``-`` stripped).  :data:`ANY_FIELD` among them means a part of
    the list could not be evaluated statically.  ``references`` holds the
    models the relational fields of an ``AddField``/``AlterField``/
    ``CreateModel`` point to (``to``, ``through``, and a ``CreateModel``'s
    model bases), lower-cased as written: ``app_label.model``, ``model``
    (the migration's own app; ``'self'`` is replaced by the operation's
    model), or ``settings.NAME`` for a swappable model setting.  Operations
    nested in ``SeparateDatabaseAndState`` are flattened into the
    migration's list with ``scope`` ``state`` or ``database``.
    """

    kind: str
    line: int
    model: str | None = None
    field: str | None = None
    new_name: str | None = None
    target_name: str | None = None
    fields: tuple[str, ...] = ()
    is_data: bool = False
    elidable: bool = False
    scope: Scope = 'both'
    references: tuple[str, ...] = ()
    # Not part of equality: a derived view of the same operation (records
    # are compared by what the tools read from them).
    arguments: str | None = dataclasses.field(default=None, compare=False)

    @property
    def model_lower(self) -> str | None:
        return None if self.model is None else self.model.lower()


@dataclasses.dataclass(frozen=True)
class Unresolved:
    """An expression the static evaluator could not reduce to a value."""

    attribute: str  # 'dependencies', 'replaces', 'operations', ...
    line: int
    message: str


@dataclasses.dataclass(frozen=True)
class MigrationInfo:
    """A parsed migration module."""

    app_label: str
    name: str
    path: str
    class_line: int = 1
    dependencies: tuple[Dependency, ...] = ()
    replaces: tuple[Dependency, ...] = ()
    run_before: tuple[Dependency, ...] = ()
    initial: bool | None = None
    atomic: bool = True
    operations: tuple[OperationInfo, ...] = ()
    unresolved: tuple[Unresolved, ...] = ()

    @property
    def key(self) -> MigrationKey:
        return (self.app_label, self.name)

    @property
    def graph_is_known(self) -> bool:
        """False when an edge of the graph could not be evaluated."""
        edge_attrs = {'dependencies', 'replaces', 'run_before'}
        return not any(u.attribute in edge_attrs for u in self.unresolved)

    if not TYPE_CHECKING:  # to mypy, ``operations`` is a plain field
        def __getattr__(self, name: str) -> Any:
            # Records read back from an app's cached blob keep their
            # operations packed until first asked (see
            # cache.records_from_blob): a hook reads every migration of
            # the project and looks at the operations of a handful.
            if name == 'operations':
                packed = self.__dict__.pop(PACKED_OPERATIONS, None)
                if packed is not None:
                    operations = unpack_operations(packed)
                    self.__dict__['operations'] = operations
                    return operations
            raise AttributeError(
                f'{type(self).__name__!r} object has no attribute {name!r}',
            )


# Without a class attribute for the default, a record whose operations
# are still packed reaches ``__getattr__`` instead of reading ``()``.
del MigrationInfo.operations
PACKED_OPERATIONS = '_packed_operations'


def pack_operations(operations: tuple[OperationInfo, ...]) -> bytes:
    data: bytes = marshal.dumps(tuple(vars(op) for op in operations), 4)
    return data


def unpack_operations(packed: bytes) -> tuple[OperationInfo, ...]:
    new = object.__new__
    built = []
    for item in marshal.loads(packed):
        op = new(OperationInfo)
        op.__dict__.update(item)
        built.append(op)
    return tuple(built)


@dataclasses.dataclass(frozen=True)
class Problem:
    """A finding or an input error, reported by ``check`` and the hooks."""

    kind: ProblemKind
    message: str
    app: str | None = None
    migration: str | None = None
    file: str | None = None
    line: int | None = None

    @property
    def unusable(self) -> bool:
        return self.kind in UNUSABLE_KINDS

    def one_line(self) -> str:
        """``path:line: message``, the format editors and CI understand."""
        if self.file is None:
            return self.message
        return f'{self.file}:{self.line or 1}: {self.message}'


def resolve_swappable(
        dep: Dependency,
        swappable: dict[str, str],
) -> Dependency:
    """Resolve ``swappable_dependency(settings.X)`` from configured values.

    Django turns ``swappable_dependency('auth.User')`` into
    ``('auth', '__first__')``.  ``swappable`` maps setting names to values
    (the configuration's default maps ``AUTH_USER_MODEL`` to ``auth.User``, as
    Django's global settings do); a setting it does not name stays
    unresolved (empty ``app``) for the graph to report.
    """
    if dep.setting is None:
        return dep
    value = swappable.get(dep.setting)
    if value is None:
        return dep
    return dataclasses.replace(
        dep, app=value.split('.', 1)[0], name='__first__',
    )
