"""Read a module's ``Migration`` class into a MigrationInfo.

After :mod:`mergedriver.parsing.evaluate` has run the module's IR, this reads
what Django would read from the class: ``dependencies``, ``replaces``,
``run_before``, ``initial``, ``atomic`` and each operation with its arguments
(the roles of :mod:`mergedriver.operations`): which model, field, index or
constraint it names, whether it changes rows.  Whatever is not certain becomes
an :class:`~mergedriver.records.Unresolved` entry.

This module must not import libcst (a warm run never loads it).
"""
from __future__ import annotations

import ast
import json
from collections.abc import Callable
from collections.abc import Iterable

from mergedriver.errors import ParseError
from mergedriver.operations import POSTGRES_EXTENSIONS
from mergedriver.operations import ROLES
from mergedriver.operations import SIGNATURES
from mergedriver.parsing.evaluate import class_attr
from mergedriver.parsing.evaluate import Evaluator
from mergedriver.parsing.evaluate import Namespace
from mergedriver.parsing.ir import Call
from mergedriver.parsing.ir import ClassValue
from mergedriver.parsing.ir import Const
from mergedriver.parsing.ir import describe
from mergedriver.parsing.ir import ModuleIR
from mergedriver.parsing.ir import Opaque
from mergedriver.parsing.ir import Ref
from mergedriver.parsing.ir import Seq
from mergedriver.parsing.ir import Span
from mergedriver.parsing.ir import Starred
from mergedriver.parsing.ir import Swappable
from mergedriver.parsing.ir import Unknown
from mergedriver.parsing.ir import Value
from mergedriver.parsing.sql import sql_changes_rows
from mergedriver.records import ANY_FIELD
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo
from mergedriver.records import Scope
from mergedriver.records import Unresolved


_DEFAULTS: dict[str, object] = {
    'dependencies': (), 'replaces': (), 'run_before': (), 'operations': (),
    'initial': None, 'atomic': True,
}


class _Collector:
    def __init__(self, segment: Callable[[Span], str]) -> None:
        self.segment = segment
        self.unresolved: list[Unresolved] = []

    def unknown(self, attribute: str, value: Value) -> None:
        if isinstance(value, Seq):
            # ``(app, '0001_x')`` with ``app`` unknown: report the cause
            value = next(
                (i for i in value.items if isinstance(i, Unknown)), value,
            )
        if isinstance(value, Unknown) and value.reason is not None:
            message = value.reason
        else:
            text = describe(self.segment(value.span))
            message = f'cannot evaluate {text!r} statically'
        self.unresolved.append(Unresolved(attribute, value.span[0], message))

    def dependencies(
            self, attribute: str, value: Value,
    ) -> tuple[Dependency, ...]:
        if not isinstance(value, Seq):
            self.unknown(attribute, value)
            return ()
        out = []
        for item in value.items:
            if isinstance(item, Swappable):
                out.append(Dependency(
                    '', '__first__', item.span[0], setting=item.setting,
                ))
                continue
            if isinstance(item, Seq) and len(item.items) == 2:
                app, name = item.items
                if (
                        isinstance(app, Const) and
                        isinstance(app.value, str) and
                        isinstance(name, Const) and
                        isinstance(name.value, str)
                ):
                    out.append(Dependency(app.value, name.value, item.span[0]))
                    continue
            self.unknown(attribute, item)
        return tuple(out)

    def flag(
            self, attribute: str, value: Value, default: bool | None,
    ) -> bool | None:
        if isinstance(value, Const):
            v = value.value
            if v is None or type(v) in (bool, int, str):
                return None if v is None else bool(v)
        self.unknown(attribute, value)
        return default

    def operations(
            self, value: Value, scope: Scope, out: list[OperationInfo],
    ) -> None:
        if not isinstance(value, Seq):
            self.unknown('operations', value)
            return
        for item in value.items:
            if isinstance(item, Call):
                self.operation(item, scope, out)
            else:
                self.unknown('operations', item)

    def operation(  # noqa: C901
            self, call: Call, scope: Scope, out: list[OperationInfo],
    ) -> None:
        func = call.func
        if isinstance(func, ClassValue):
            kind = func.name
            # a class of this module deriving from a Django operation
            # behaves like it (and takes its arguments unless it says not)
            django_kind, own_init = _django_base(func)
            behaves_as = django_kind or kind
            signature = () if own_init else SIGNATURES.get(behaves_as, ())
        elif isinstance(func, Ref):
            kind = behaves_as = func.qualname.rpartition('.')[2]
            signature = SIGNATURES.get(kind, ())
        else:  # the evaluator builds calls of classes and refs only
            raise AssertionError(func)
        params: dict[str, Value] = {}
        for param, positional in zip(signature, call.args):
            if isinstance(positional, Starred):
                break
            params[param] = positional
        for key, keyword in call.kwargs:
            if key is not None:
                params[key] = keyword
        line = call.span[0]
        roles = ROLES.get(behaves_as) if signature else None
        if roles is None:
            roles = (
                {'model': 'model_name'} if 'model_name' in params
                else {'model': 'name'}
            )
        found: dict[str, str | None] = {}
        for role, param in roles.items():
            arg: Value | None = params.get(param)
            if role == 'target_of':
                role = 'target_name'
                if isinstance(arg, Call):
                    arg = next(
                        (v for k, v in arg.kwargs if k == 'name'), None,
                    )
            if arg is None:
                found[role] = None
            elif isinstance(arg, Const) and isinstance(arg.value, str):
                found[role] = arg.value
            elif isinstance(arg, Const) and arg.value is None:
                found[role] = None
            else:
                found[role] = None
                self.unknown('operations', arg)
        if behaves_as in POSTGRES_EXTENSIONS:
            found['target_name'] = POSTGRES_EXTENSIONS[behaves_as]
        fields: tuple[str, ...] = ()
        references: tuple[str, ...] = ()
        if behaves_as == 'CreateModel':
            fields = self.field_names(params.get('fields'))
            references = _model_references(
                params.get('fields'), params.get('bases'), found.get('model'),
            )
        elif behaves_as in ('AddField', 'AlterField'):
            references = _field_references(
                params.get('field'), found.get('model'),
            )
        elif behaves_as in _FIELD_LIST_PARAMS:
            fields = _named_fields(params.get(_FIELD_LIST_PARAMS[behaves_as]))
        elif behaves_as in _INDEX_LIKE_PARAMS:
            fields = _index_fields(params.get(_INDEX_LIKE_PARAMS[behaves_as]))
        elidable = params.get('elidable')
        is_elidable = (
            isinstance(elidable, Const) and bool(elidable.value)
        )
        is_data = False
        if behaves_as == 'RunPython':
            is_data = True
        elif behaves_as == 'RunSQL':
            is_data = _sql_value_changes_rows(params.get('sql'))
        if behaves_as != 'SeparateDatabaseAndState':
            arguments = None
            if isinstance(func, Ref) and not any(
                    isinstance(a, Starred) for a in call.args
            ) and len(call.args) <= len(signature) and all(
                    k is not None for k, _ in call.kwargs
            ):
                arguments = canonical_arguments(params, self.segment)
            out.append(OperationInfo(
                kind=kind, line=line,
                model=found.get('model'), field=found.get('field'),
                new_name=found.get('new_name'),
                target_name=found.get('target_name'),
                fields=fields, is_data=is_data, elidable=is_elidable,
                scope=scope, references=references, arguments=arguments,
            ))
        if behaves_as == 'RunSQL':
            children = params.get('state_operations')
            if children is not None and not _is_none(children):
                child_scope: Scope = (
                    'database' if scope == 'database' else 'state'
                )
                self.operations(children, child_scope, out)
        elif behaves_as == 'SeparateDatabaseAndState':
            nested: tuple[tuple[str, Scope], ...] = (
                ('database_operations', 'database'),
                ('state_operations', 'state'),
            )
            for param, child in nested:
                children = params.get(param)
                if children is not None and not _is_none(children):
                    child_scope = child if scope == 'both' else scope
                    self.operations(children, child_scope, out)

    def field_names(self, value: Value | None) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, Seq):
            self.unknown('operations', value)
            return ()
        names = []
        for item in value.items:
            if isinstance(item, Seq) and item.items:
                first = item.items[0]
                if isinstance(first, Const) and isinstance(first.value, str):
                    names.append(first.value)
                    continue
            self.unknown('operations', item)
        return tuple(names)


class _NotCanonical(Exception):
    pass


def _literal(value: object) -> object:
    """A literal's canonical form: dict keys sorted, tuples as lists."""
    if isinstance(value, dict):
        return ['dict', sorted(
            ([_literal(k), _literal(v)] for k, v in value.items()), key=repr,
        )]
    if isinstance(value, (list, tuple)):
        return ['seq', [_literal(v) for v in value]]
    if isinstance(value, (set, frozenset)):
        return ['seq', sorted((_literal(v) for v in value), key=repr)]
    return ['const', type(value).__name__, repr(value)]


def _canonical(value: Value, segment: Callable[[Span], str]) -> object:
    """What an argument evaluates to, as JSON-able data, independent of how
    it is written (quotes, keyword order, line breaks)."""
    if isinstance(value, Const):
        return _literal(value.value)
    if isinstance(value, Seq):
        return ['seq', [_canonical(v, segment) for v in value.items]]
    if isinstance(value, Ref):
        return ['ref', value.qualname]
    if isinstance(value, Swappable):
        return ['swappable', value.setting]
    if isinstance(value, Call) and isinstance(value.func, Ref):
        if any(k is None for k, _ in value.kwargs):
            raise _NotCanonical
        return [
            'call', value.func.qualname,
            [_canonical(v, segment) for v in value.args],
            sorted(
                [k, _canonical(v, segment)] for k, v in value.kwargs
                if k is not None
            ),
        ]
    if isinstance(value, (Opaque, Unknown)):
        # a dict display and the like (the evaluator leaves it unknown):
        # equal only as a literal (a name in it may mean anything)
        try:
            return _literal(ast.literal_eval(segment(value.span).strip()))
        except (ValueError, SyntaxError, TypeError, MemoryError,
                RecursionError):
            raise _NotCanonical from None
    raise _NotCanonical


def canonical_arguments(
        params: dict[str, Value], segment: Callable[[Span], str],
) -> str | None:
    """An operation's arguments by name, in a canonical form (JSON text);
    None when one of them cannot be evaluated statically."""
    try:
        return json.dumps(
            sorted([k, _canonical(v, segment)] for k, v in params.items()),
            separators=(',', ':'),
        )
    except (_NotCanonical, TypeError):
        return None


# Operations that name fields in one argument: the names they list.
_FIELD_LIST_PARAMS = {
    'AlterUniqueTogether': 'unique_together',
    'AlterIndexTogether': 'index_together',
    'AlterOrderWithRespectTo': 'order_with_respect_to',
    'RenameIndex': 'old_fields',
}
# Operations that carry an index or constraint object.
_INDEX_LIKE_PARAMS = {
    'AddIndex': 'index',
    'AddIndexConcurrently': 'index',
    'AddConstraint': 'constraint',
    'AddConstraintNotValid': 'constraint',
}
# Arguments of an index or constraint that hold field names or expressions
# over fields (``condition``/``check``: Q objects; ``expressions``:
# ExclusionConstraint's pairs).
_INDEX_FIELD_ARGS = frozenset((
    'fields', 'include', 'expressions', 'condition', 'check',
))
# Relational field classes whose first positional argument is ``to``
# (django.db.models, contrib.contenttypes, modelcluster, treebeard/mptt).
_RELATION_CLASSES = (
    'ForeignKey', 'OneToOneField', 'ManyToManyField', 'ForeignObject',
    'GenericRelation', 'ParentalKey', 'ParentalManyToManyField',
)


def _names_in(value: Value, out: list[str]) -> bool:
    """Collect every string a field-naming value holds; False when part of
    it cannot be known statically.

    Strings anywhere count (an over-approximation: ``Lower('name')``,
    ``('period', '&&')``), as do the field part of ``Q(name__gte=1)``
    keywords; a ``-`` (descending order) is stripped.
    """
    if isinstance(value, Const):
        if isinstance(value.value, str):
            out.append(value.value.lstrip('-'))
        return True
    if isinstance(value, Seq):
        return all([_names_in(item, out) for item in value.items])
    if isinstance(value, Call):
        known = all([_names_in(arg, out) for arg in value.args])
        for key, arg in value.kwargs:
            if key is None:
                known = False
                continue
            if isinstance(value.func, Ref) and (
                    value.func.qualname.rpartition('.')[2] == 'Q'
            ):
                out.append(key.split('__', 1)[0])
            known = _names_in(arg, out) and known
        return known
    # a class's constant (``RangeOperators.OVERLAPS``) names no field; any
    # other name may hold field names
    return isinstance(value, Ref) and value.qualname.count('.') >= 1 and (
        value.qualname.split('.')[-2][:1].isupper()
    )


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))


def _named_fields(value: Value | None) -> tuple[str, ...]:
    """Field names in ``unique_together``, ``order_with_respect_to``..."""
    if value is None or _is_none(value):
        return ()
    out: list[str] = []
    if not isinstance(value, (Const, Seq)) or not _names_in(value, out):
        return (ANY_FIELD,)
    return _unique(out)


def _index_fields(value: Value | None) -> tuple[str, ...]:
    """Field names an ``Index`` or a constraint uses, as far as visible."""
    if value is None:
        return ()
    if not isinstance(value, Call):
        return (ANY_FIELD,)
    out: list[str] = []
    known = all([_names_in(arg, out) for arg in value.args])
    for key, arg in value.kwargs:
        if key is None:
            known = False
        elif key in _INDEX_FIELD_ARGS:
            known = _names_in(arg, out) and known
    return _unique(out) if known else (ANY_FIELD, *_unique(out))


def _relation_target(value: Value) -> str | None:
    if isinstance(value, Const) and isinstance(value.value, str):
        return value.value.lower()
    if isinstance(value, Ref):
        parts = value.qualname.split('.')
        if len(parts) >= 2 and parts[-2] == 'settings':
            return f'settings.{parts[-1]}'
    return None


def _field_references(
        value: Value | None, model: str | None,
) -> tuple[str, ...]:
    """Models a field definition points to (``to``, ``through``)."""
    if not isinstance(value, Call) or not isinstance(value.func, Ref):
        return ()
    cls = value.func.qualname.rpartition('.')[2]
    targets: list[Value] = [v for k, v in value.kwargs if k in (
        'to', 'through',
    )]
    if value.args and cls.endswith(_RELATION_CLASSES) and not any(
            k == 'to' for k, _ in value.kwargs
    ):
        targets.append(value.args[0])
    found = []
    for target in targets:
        name = _relation_target(target)
        if name == 'self':
            name = None if model is None else model.lower()
        if name is not None:
            found.append(name)
    return _unique(found)


def _model_references(
        fields: Value | None, bases: Value | None, model: str | None,
) -> tuple[str, ...]:
    """Models a ``CreateModel`` points to: its fields' and its bases'."""
    found: list[str] = []
    if isinstance(fields, Seq):
        for item in fields.items:
            if isinstance(item, Seq) and len(item.items) == 2:
                found.extend(_field_references(item.items[1], model))
    if isinstance(bases, Seq):
        for base in bases.items:
            # 'app.model' strings are models; classes (models.Model,
            # mixins) are not model states
            if isinstance(base, Const) and isinstance(base.value, str):
                found.append(base.value.lower())
    return _unique(found)


def _django_base(cls: ClassValue) -> tuple[str | None, bool]:
    """The Django operation a module's own class derives from, and
    whether the class (or a class between) defines its own ``__init__``."""
    own_init = '__init__' in cls.attrs
    for base in cls.bases:
        if isinstance(base, Ref):
            name = base.qualname.rpartition('.')[2]
            if name in SIGNATURES or name in POSTGRES_EXTENSIONS:
                return name, own_init
        elif isinstance(base, ClassValue):
            name_of, init_of = _django_base(base)
            if name_of is not None:
                return name_of, own_init or init_of
    return None, own_init


def _is_none(value: Value) -> bool:
    return isinstance(value, Const) and value.value is None


def _sql_value_changes_rows(value: Value | None) -> bool:
    """RunSQL's forward ``sql``: a string, or a list of strings / (sql,
    params) pairs.  Anything not statically known counts as data."""
    if value is None:
        return True
    if isinstance(value, Const) and isinstance(value.value, str):
        return sql_changes_rows(value.value)
    if isinstance(value, Ref) and value.qualname.endswith('RunSQL.noop'):
        return False
    if isinstance(value, Seq):
        for item in value.items:
            if isinstance(item, Seq) and len(item.items) == 2:
                item = item.items[0]
            if not (isinstance(item, Const) and isinstance(item.value, str)):
                return True
            if sql_changes_rows(item.value):
                return True
        return False
    return True


def evaluate_module(
        module: ModuleIR, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Run the module's IR abstractly and read its ``Migration`` class."""
    evaluator = Evaluator()
    scope = Namespace(None)
    try:
        evaluator.run(module.body, scope, None)
    except RecursionError:
        raise ParseError('module is too deeply nested', path=path, line=1)
    cls = scope.vars.get('Migration')
    if cls is None:
        raise ParseError('no Migration class', path=path, line=1)
    if not isinstance(cls, ClassValue):
        if isinstance(cls, Ref):
            message = (
                f'Migration is not a class defined in this module '
                f'(it is {cls.qualname!r})'
            )
        else:
            message = 'Migration is not a class'
        raise ParseError(message, path=path, line=cls.span[0])
    assert isinstance(cls, ClassValue)

    collector = _Collector(module.segment)

    def attr(attribute: str) -> Value | None:
        return class_attr(cls, attribute)

    edges = {}
    for attribute in ('dependencies', 'replaces', 'run_before'):
        value = attr(attribute)
        edges[attribute] = (
            () if value is None else collector.dependencies(attribute, value)
        )
    initial_value = attr('initial')
    initial = (
        None if initial_value is None
        else collector.flag('initial', initial_value, None)
    )
    atomic_value = attr('atomic')
    atomic = (
        True if atomic_value is None
        else collector.flag('atomic', atomic_value, True)
    )
    operations: list[OperationInfo] = []
    ops_value = attr('operations')
    if ops_value is not None:
        collector.operations(ops_value, 'both', operations)
    return MigrationInfo(
        app_label=app_label,
        name=name,
        path=path,
        class_line=cls.line,
        dependencies=edges['dependencies'],
        replaces=edges['replaces'],
        run_before=edges['run_before'],
        initial=initial,
        atomic=bool(atomic),
        operations=tuple(operations),
        unresolved=tuple(collector.unresolved),
    )
