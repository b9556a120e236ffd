"""Static evaluation of a migration module, shared by both front-ends.

The front-ends (:mod:`mergedriver.parsing.libcst_frontend` with libcst,
:mod:`mergedriver.parsing.ast_frontend` with :mod:`ast`) translate a module
into the IR of :mod:`mergedriver.parsing.ir`; this evaluator turns it into a
:class:`~mergedriver.records.MigrationInfo`.  All the Django knowledge lives
here, so the two parsers cannot drift apart.

Evaluation is abstract: names bound at module level, in class bodies and in
small helper functions are followed; ``+``, ``.append``/``.extend``/``+=`` are
applied; the branches of an ``if`` (and of ``try``/``for``/``while``) are
merged as the union of their values.  Whatever cannot be reduced stays an
``Unknown`` value and becomes an :class:`~mergedriver.records.Unresolved`
entry only where the migration's attributes need it.

This module must not import libcst (a warm run never loads it).
"""
from __future__ import annotations

from collections.abc import Iterable

from mergedriver.parsing.ir import Add
from mergedriver.parsing.ir import Assign
from mergedriver.parsing.ir import Attr
from mergedriver.parsing.ir import AugAdd
from mergedriver.parsing.ir import Branches
from mergedriver.parsing.ir import Call
from mergedriver.parsing.ir import ClassDef
from mergedriver.parsing.ir import ClassValue
from mergedriver.parsing.ir import Const
from mergedriver.parsing.ir import Def
from mergedriver.parsing.ir import Expr
from mergedriver.parsing.ir import ExprStmt
from mergedriver.parsing.ir import FuncValue
from mergedriver.parsing.ir import IfExp
from mergedriver.parsing.ir import Import
from mergedriver.parsing.ir import Name
from mergedriver.parsing.ir import Rebind
from mergedriver.parsing.ir import Ref
from mergedriver.parsing.ir import Return
from mergedriver.parsing.ir import Seq
from mergedriver.parsing.ir import Span
from mergedriver.parsing.ir import Starred
from mergedriver.parsing.ir import Stmt
from mergedriver.parsing.ir import Swappable
from mergedriver.parsing.ir import Unknown
from mergedriver.parsing.ir import Value

# ---------------------------------------------------------------- evaluator

MISSING = Unknown((0, 0, 0, 0), '<missing>')
# Budgets: the analysed code may be hostile (a pull request checked by a
# bot), and abstract evaluation must stay linear-ish in the module's size.
_MAX_CALL_DEPTH = 20
_MAX_CALLS = 1000  # helper-function invocations per module
_MAX_ITEMS = 100_000  # items of one list, characters of one string
_TOO_LARGE = 'is too large to evaluate statically'
_LIST_MUTATORS = frozenset((
    'append', 'extend', 'insert', 'remove', 'pop', 'clear', 'sort',
    'reverse', '__setitem__', '__delitem__', '__iadd__',
))


class Namespace:
    __slots__ = ('vars', 'parent')

    def __init__(self, parent: Namespace | None) -> None:
        self.vars: dict[str, Value] = {}
        self.parent = parent

    def lookup(self, name: str) -> Value | None:
        scope: Namespace | None = self
        while scope is not None:
            value = scope.vars.get(name)
            if value is not None:
                return value
            scope = scope.parent
        return None


def _shape(value: Value | Expr) -> object:
    """A hashable, line-free identity of a value, for union de-duplication."""
    if isinstance(value, Const):
        v = value.value
        return ('C', type(v).__name__, v)
    if isinstance(value, Seq):
        return ('S', tuple(_shape(i) for i in value.items))
    if isinstance(value, Call):
        return (
            'K', _shape(value.func), tuple(_shape(a) for a in value.args),
            tuple((k, _shape(v)) for k, v in value.kwargs),
        )
    if isinstance(value, Ref):
        return ('R', value.qualname)
    if isinstance(value, Swappable):
        return ('W', value.setting)
    if isinstance(value, Starred):
        return ('*', _shape(value.value))
    if isinstance(value, Unknown):
        return ('U', value.span, value.reason)
    return ('I', id(value))


def _dotted(expr: Expr) -> str | None:
    parts = []
    while isinstance(expr, Attr):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, Name):
        return None
    parts.append(expr.id)
    return '.'.join(reversed(parts))


class Evaluator:
    def __init__(self) -> None:
        self.depth = 0
        self.calls = 0

    # -- expressions

    def value(self, expr: Expr, scope: Namespace) -> Value:  # noqa: C901
        if isinstance(expr, Const):
            return expr
        if isinstance(expr, Call):
            return self.call(expr, scope)
        if isinstance(expr, Name):
            found = scope.lookup(expr.id)
            return Ref(expr.id, expr.span) if found is None else found
        if isinstance(expr, Seq):
            items: list[Value] = []
            for item in expr.items:
                if isinstance(item, Starred):
                    inner = self.value(item.value, scope)
                    if isinstance(inner, Seq):
                        items.extend(inner.items)
                    else:
                        items.append(Unknown(item.span))
                else:
                    items.append(self.value(item, scope))
            return Seq(tuple(items), expr.span)
        if isinstance(expr, Attr):
            base = self.value(expr.value, scope)
            if isinstance(base, Ref):
                return Ref(f'{base.qualname}.{expr.attr}', expr.span)
            if isinstance(base, ClassValue):
                found = class_attr(base, expr.attr)
                if found is not None:
                    return found
            return _unknown_from(base, expr.span)
        if isinstance(expr, Call):
            return self.call(expr, scope)
        if isinstance(expr, Add):
            left = self.value(expr.left, scope)
            right = self.value(expr.right, scope)
            return _add(left, right, expr.span)
        if isinstance(expr, IfExp):
            return _merge(
                None,
                [self.value(expr.body, scope), self.value(expr.orelse, scope)],
                expr.span,
            )
        if isinstance(expr, Starred):
            return Starred(self.value(expr.value, scope), expr.span)
        return Unknown(expr.span)

    def call(self, expr: Call, scope: Namespace) -> Value:
        func = self.value(expr.func, scope)
        args = tuple([self.value(a, scope) for a in expr.args])
        kwargs = tuple([(k, self.value(v, scope)) for k, v in expr.kwargs])
        if isinstance(func, FuncValue):
            return self.invoke(func, args, kwargs, expr.span, scope)
        if isinstance(func, Ref) and (
                func.qualname == 'swappable_dependency' or
                func.qualname.endswith('.swappable_dependency')
        ):
            return _swappable(args, kwargs, expr.span)
        if (
                isinstance(func, Ref) and not kwargs and len(args) <= 1 and
                func.qualname in ('list', 'tuple', 'set', 'frozenset')
        ):
            # the builtins (unbound names): a copy of a known sequence
            if not args:
                return Seq((), expr.span)
            if isinstance(args[0], Seq):
                return args[0]._replace(span=expr.span)
        if isinstance(func, (Ref, ClassValue)):
            return Call(func, args, kwargs, expr.span)
        return _unknown_from(func, expr.span)

    def invoke(
            self,
            func: FuncValue,
            args: tuple[Value, ...],
            kwargs: tuple[tuple[str | None, Value], ...],
            span: Span,
            scope: Namespace,
    ) -> Value:
        if (
                func.takes_star or self.depth >= _MAX_CALL_DEPTH or
                self.calls >= _MAX_CALLS or
                any(isinstance(a, Starred) for a in args)
        ):
            return Unknown(span)
        positional = [p for p in func.params if p.positional]
        if len(args) > len(positional):
            return Unknown(span)
        local = Namespace(_module_scope(scope))
        for param, arg in zip(positional, args):
            local.vars[param.name] = arg
        names = {p.name for p in func.params}
        for key, val in kwargs:
            if key is None or key not in names or key in local.vars:
                return Unknown(span)
            local.vars[key] = val
        for param in func.params:
            if param.name not in local.vars:
                default = func.defaults.get(param.name)
                if default is None:
                    return Unknown(span)
                local.vars[param.name] = default
        returns: list[Value] = []
        self.depth += 1
        self.calls += 1
        try:
            self.run(func.body, local, returns)
        finally:
            self.depth -= 1
        if not returns:
            return Const(None, span)
        return _merge(None, returns, span)

    # -- statements

    def run(
            self,
            body: Iterable[Stmt],
            scope: Namespace,
            returns: list[Value] | None,
    ) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                self.assign(stmt.target, self.value(stmt.value, scope), scope)
            elif isinstance(stmt, ExprStmt):
                self.expr_stmt(stmt.value, scope)
            elif isinstance(stmt, AugAdd):
                current = self.lookup_dotted(stmt.target, scope)
                right = self.value(stmt.value, scope)
                if current is None:
                    new: Value = Unknown(stmt.value.span)
                else:
                    new = _add(current, right, stmt.value.span, inplace=True)
                self.assign(stmt.target, new, scope)
            elif isinstance(stmt, Branches):
                self.branches(stmt, scope, returns)
            elif isinstance(stmt, Import):
                for bound, qualname in stmt.names:
                    scope.vars[bound] = Ref(qualname, stmt.span)
            elif isinstance(stmt, Rebind):
                for name in stmt.names:
                    scope.vars[name] = Unknown(
                        stmt.span,
                        f'{name!r} is bound by a statement that cannot be '
                        f'evaluated statically',
                    )
            elif isinstance(stmt, ClassDef):
                bases = tuple(self.value(b, scope) for b in stmt.bases)
                body_scope = Namespace(scope)
                self.run(stmt.body, body_scope, None)
                scope.vars[stmt.name] = ClassValue(
                    stmt.name, bases, body_scope.vars, stmt.span[0], stmt.span,
                )
            elif isinstance(stmt, Def):
                defaults = {
                    p.name: self.value(p.default, scope)
                    for p in stmt.params if p.default is not None
                }
                scope.vars[stmt.name] = FuncValue(
                    stmt.name, stmt.params, defaults, stmt.takes_star,
                    stmt.body, stmt.span,
                )
            elif isinstance(stmt, Return):
                if returns is not None:
                    returns.append(
                        Const(None, stmt.span) if stmt.value is None
                        else self.value(stmt.value, scope),
                    )

    def lookup_dotted(self, target: str, scope: Namespace) -> Value | None:
        root, _, rest = target.partition('.')
        value = scope.lookup(root)
        for part in rest.split('.') if rest else ():
            if not isinstance(value, ClassValue):
                return None
            value = class_attr(value, part)
        return value

    def assign(self, target: str, value: Value, scope: Namespace) -> None:
        if '.' not in target:
            scope.vars[target] = value
            return
        # ``Migration.operations = ...`` after the class: rebuild the class
        # (values are shared between branch snapshots, so never mutate).
        *path, attr = target.split('.')
        owner = self.lookup_dotted('.'.join(path), scope)
        if not isinstance(owner, ClassValue):
            return
        assert isinstance(owner, ClassValue)
        new_owner: Value = owner._replace(attrs={**owner.attrs, attr: value})
        self.assign('.'.join(path), new_owner, scope)

    def expr_stmt(self, call: Call, scope: Namespace) -> None:
        if not isinstance(call.func, Attr):
            return
        target = _dotted(call.func.value)
        if target is None:
            return
        current = self.lookup_dotted(target, scope)
        if not isinstance(current, Seq):
            return  # e.g. ``logger.info(...)``: not a list we track
        assert isinstance(current, Seq)
        method = call.func.attr
        if method not in _LIST_MUTATORS:
            return
        args = tuple(self.value(a, scope) for a in call.args)
        new: Value = Unknown(call.span)
        if call.kwargs or any(isinstance(a, Starred) for a in args):
            pass
        elif method == 'append' and len(args) == 1:
            new = _add(current, Seq(args, call.span), call.span)
        elif method == 'extend' and len(args) == 1:
            new = _add(current, args[0], call.span, inplace=True)
        elif (
                method == 'insert' and len(args) == 2 and
                isinstance(args[0], Const) and isinstance(args[0].value, int)
        ):
            items = list(current.items)
            items.insert(args[0].value, args[1])
            new = current._replace(items=tuple(items))
        self.assign(target, new, scope)

    def branches(
            self,
            stmt: Branches,
            scope: Namespace,
            returns: list[Value] | None,
    ) -> None:
        before = scope.vars
        outcomes = []
        for block in stmt.blocks:
            scope.vars = dict(before)
            self.run(block, scope, returns)
            outcomes.append(scope.vars)
        merged = dict(before)
        names = {n for vars_ in outcomes for n in vars_}
        for name in names:
            values = [vars_.get(name, MISSING) for vars_ in outcomes]
            first = values[0]
            if all(v is first for v in values) or (
                    stmt.is_try and isinstance(first, Ref) and
                    first.qualname.startswith('django.')
            ):
                merged[name] = first
                continue
            present = [v for v in values if v is not MISSING]
            merged[name] = _merge_named(name, values, present[0].span)
        scope.vars = merged


def _module_scope(scope: Namespace) -> Namespace:
    while scope.parent is not None:
        scope = scope.parent
    return scope


def class_attr(cls: ClassValue, name: str) -> Value | None:
    found = cls.attrs.get(name)
    if found is not None:
        return found
    for base in cls.bases:
        if isinstance(base, ClassValue):
            found = class_attr(base, name)
            if found is not None:
                return found
    return None


def _add(
        left: Value, right: Value, span: Span, inplace: bool = False,
) -> Value:
    if isinstance(left, Seq) and isinstance(right, Seq):
        if len(left.items) + len(right.items) > _MAX_ITEMS:
            return Unknown(span, f'the list at line {span[0]} {_TOO_LARGE}')
        return Seq(left.items + right.items, span)
    if isinstance(left, Const) and isinstance(right, Const):
        lv, rv = left.value, right.value
        if (
                isinstance(lv, (str, bytes)) and
                isinstance(rv, (str, bytes)) and
                len(lv) + len(rv) > _MAX_ITEMS
        ):
            return Unknown(span, f'the string at line {span[0]} {_TOO_LARGE}')
        if isinstance(lv, str) and isinstance(rv, str):
            return Const(lv + rv, span)
        if isinstance(lv, bytes) and isinstance(rv, bytes):
            return Const(lv + rv, span)
    if inplace and isinstance(left, Unknown):
        return left
    return _unknown_from(left if isinstance(left, Unknown) else right, span)


def _unknown_from(cause: Value, span: Span) -> Unknown:
    """Unknown at ``span``, keeping the explanation of an unknown part."""
    if isinstance(cause, Unknown) and cause.reason is not None:
        return Unknown(span, cause.reason)
    return Unknown(span)


def _merge_named(name: str, values: list[Value], span: Span) -> Value:
    """Union of one name's values over the alternatives of a branch."""
    present = [v for v in values if v is not MISSING]
    partial = len(present) < len(values)
    if partial and all(isinstance(v, ClassValue) for v in present):
        return _merge(name, present, span)
    if partial and not all(isinstance(v, Seq) for v in present):
        return Unknown(
            span,
            f'{name!r} is set only in some branches of a condition that '
            f'cannot be evaluated statically',
        )
    return _merge(name, present, span)


def _merge(name: str | None, values: list[Value], span: Span) -> Value:
    first = values[0]
    shape = _shape(first)
    if all(_shape(v) == shape for v in values[1:]):
        return first
    seqs = [v for v in values if isinstance(v, Seq)]
    if len(seqs) == len(values):
        seen = set()
        items = []
        for seq in seqs:
            for item in seq.items:
                key = _shape(item)
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        return Seq(tuple(items), first.span)
    classes = [v for v in values if isinstance(v, ClassValue)]
    if len(classes) == len(values):
        attrs: dict[str, Value] = {}
        for attr in {n for c in classes for n in c.attrs}:
            per = [c.attrs.get(attr, MISSING) for c in classes]
            span_of = next(v for v in per if v is not MISSING).span
            attrs[attr] = _merge_named(attr, per, span_of)
        return classes[0]._replace(attrs=attrs)
    for v in values:
        if isinstance(v, Unknown):
            return v
    if name is None:
        return Unknown(span)
    return Unknown(
        span,
        f'{name!r} has different values in branches of a condition that '
        f'cannot be evaluated statically',
    )


def _swappable(
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str | None, Value], ...],
        span: Span,
) -> Value:
    values = list(args) + [v for k, v in kwargs if k == 'value']
    if len(values) != 1 or len(args) + len(kwargs) != 1:
        return Unknown(span)
    value = values[0]
    if isinstance(value, Const) and isinstance(value.value, str):
        app = value.value.split('.', 1)[0]
        return Seq((Const(app, span), Const('__first__', span)), span)
    if isinstance(value, Ref):
        parts = value.qualname.split('.')
        if len(parts) >= 2 and parts[-2] == 'settings':
            return Swappable(parts[-1], span)
    return Unknown(span)
