"""Static evaluation of a migration module, shared by both front-ends.

The front-ends (:mod:`mergedriver.parse` with libcst,
:mod:`mergedriver.fastparse` with :mod:`ast`) translate a module into the
small IR below; one evaluator turns that IR into a
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

import re
from collections.abc import Callable
from collections.abc import Iterable
from typing import NamedTuple
from typing import Union

from mergedriver.errors import ParseError
from mergedriver.records import ANY_FIELD
from mergedriver.records import Dependency
from mergedriver.records import MigrationInfo
from mergedriver.records import OperationInfo
from mergedriver.records import Scope
from mergedriver.records import Unresolved

# (line, column, end line, end column); column units are the front-end's own
# (bytes for ast, characters for libcst): only its ``segment`` reads them.
Span = tuple[int, int, int, int]

# ---------------------------------------------------------------- IR: exprs


class Const(NamedTuple):
    value: object  # str, bytes, int, float, complex, bool, None, Ellipsis
    span: Span


class Name(NamedTuple):
    id: str
    span: Span


class Attr(NamedTuple):
    value: Expr
    attr: str
    span: Span


class Seq(NamedTuple):
    """A list, tuple or set display (which one does not matter to Django:
    it iterates them)."""

    items: tuple[Expr, ...]
    span: Span


class Starred(NamedTuple):
    value: Expr
    span: Span


class Add(NamedTuple):
    left: Expr
    right: Expr
    span: Span


class Call(NamedTuple):
    func: Expr
    args: tuple[Expr, ...]
    # keyword None is ``**mapping``
    kwargs: tuple[tuple[str | None, Expr], ...]
    span: Span


class IfExp(NamedTuple):
    """``a if test else b``: the test is never evaluated, both count."""

    body: Expr
    orelse: Expr
    span: Span


class Opaque(NamedTuple):
    """Any expression the IR does not model (dict, lambda, f-string...)."""

    span: Span


# Values produced by the evaluator only.

class Ref(NamedTuple):
    """An imported (or unbound, global) name: a dotted path, not a value."""

    qualname: str
    span: Span


class Swappable(NamedTuple):
    """``swappable_dependency(settings.<setting>)``."""

    setting: str
    span: Span


class Unknown(NamedTuple):
    span: Span
    # the whole message; None: "cannot evaluate '<text>' statically"
    reason: str | None = None


class ClassValue(NamedTuple):
    name: str
    bases: tuple[Value, ...]
    attrs: dict[str, Value]
    line: int
    span: Span


class FuncValue(NamedTuple):
    name: str
    params: tuple[Param, ...]
    defaults: dict[str, Value]
    takes_star: bool
    body: tuple[Stmt, ...]
    span: Span


# Expressions of the IR and the values the evaluator reduces them to share
# one union: a value is an expression whose names have been resolved.
Node = Union[
    Const, Name, Attr, Seq, Starred, Add, Call, IfExp, Opaque,
    Ref, Swappable, Unknown, ClassValue, FuncValue,
]
Expr = Node
Value = Node

# ---------------------------------------------------------------- IR: stmts


class Assign(NamedTuple):
    target: str  # a name, or a dotted path such as 'Migration.operations'
    value: Expr


class AugAdd(NamedTuple):
    target: str
    value: Expr


class Rebind(NamedTuple):
    """Names bound to something the IR does not model (``for x in``, ...)."""

    names: tuple[str, ...]
    span: Span


class ExprStmt(NamedTuple):
    value: Call


class Branches(NamedTuple):
    """Alternative blocks (``if``/``else``, ``try``/``except``, loops).

    Only one runs, and which one is not known statically: the names they
    bind take the union of the values of every alternative.
    """

    blocks: tuple[tuple[Stmt, ...], ...]
    # ``try``/``except``: blocks[0] is the ``try`` body.  A Django import
    # there is taken as succeeding (the project runs Django), so compat
    # fallbacks in the handlers do not make every use of the name unknown.
    is_try: bool = False


class Import(NamedTuple):
    names: tuple[tuple[str, str], ...]  # (bound name, dotted path)
    span: Span


class Param(NamedTuple):
    name: str
    default: Expr | None
    positional: bool


class Def(NamedTuple):
    name: str
    params: tuple[Param, ...]
    takes_star: bool  # *args or **kwargs
    body: tuple[Stmt, ...]
    span: Span


class ClassDef(NamedTuple):
    name: str
    bases: tuple[Expr, ...]
    body: tuple[Stmt, ...]
    span: Span  # span of the ``class`` statement (without decorators)


class Return(NamedTuple):
    value: Expr | None
    span: Span


Stmt = Union[
    Assign, AugAdd, Rebind, ExprStmt, Branches, Import, Def, ClassDef, Return,
]


class ModuleIR(NamedTuple):
    body: tuple[Stmt, ...]
    # source text of a span, for messages
    segment: Callable[[Span], str]


# ---------------------------------------------------------------- decoding

_CODING_RE = re.compile(rb'^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)')


def decode_source(data: bytes, path: str) -> str:
    """Decode module bytes the way Python does (PEP 263, else UTF-8)."""
    encoding = 'utf-8'
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    else:
        for line in data.split(b'\n', 2)[:2]:
            match = _CODING_RE.match(line)
            if match:
                encoding = match.group(1).decode('ascii')
                break
            if line.strip() and not line.lstrip().startswith(b'#'):
                break
    try:
        text = data.decode(encoding)
    except LookupError:
        raise ParseError(
            f'unknown encoding {encoding!r} in coding declaration',
            path=path, line=1,
        )
    except UnicodeDecodeError as e:
        bad_line = data.count(b'\n', 0, e.start) + 1
        label = 'UTF-8' if encoding.lower().replace('_', '-') in (
            'utf-8', 'utf8',
        ) else encoding
        raise ParseError(f'not valid {label}', path=path, line=bad_line)
    nul = text.find('\0')
    if nul != -1:
        raise ParseError(
            'source contains a null byte',
            path=path, line=text.count('\n', 0, nul) + 1,
        )
    return text


def source_segment(text: str, *, byte_columns: bool) -> Callable[[Span], str]:
    """A ``segment`` function over the module's physical lines.

    Lines are split only when a message needs a snippet (rarely).
    """
    lines: list[bytes] = []

    def segment(span: Span) -> str:
        if not lines:
            data = text.encode('utf-8', 'surrogatepass')
            lines.extend(data.splitlines(keepends=True))
        line, col, end_line, end_col = span
        chunk = lines[line - 1:end_line]
        if not chunk:
            return ''
        if byte_columns:
            if len(chunk) == 1:
                return chunk[0][col:end_col].decode('utf-8', 'replace')
            parts = [chunk[0][col:], *chunk[1:-1], chunk[-1][:end_col]]
            return b''.join(parts).decode('utf-8', 'replace')
        texts = [c.decode('utf-8', 'replace') for c in chunk]
        if len(texts) == 1:
            return texts[0][col:end_col]
        return ''.join([texts[0][col:], *texts[1:-1], texts[-1][:end_col]])

    return segment


def _outer_parens_match(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(text):
        if ch in '([{':
            depth += 1
        elif ch in ')]}':
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return depth == 0


def describe(text: str) -> str:
    """Canonical short form of a source snippet for messages.

    Whitespace is collapsed and enclosing parentheses dropped, because the
    two front-ends disagree on whether a span includes them.
    """
    text = ' '.join(text.split())
    while (
            len(text) >= 2 and text[0] == '(' and text[-1] == ')' and
            _outer_parens_match(text)
    ):
        text = text[1:-1].strip()
    if len(text) > 80:
        text = text[:77] + '...'
    return text


# ---------------------------------------------------------------- evaluator

_MISSING = Unknown((0, 0, 0, 0), '<missing>')
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


class _Scope:
    __slots__ = ('vars', 'parent')

    def __init__(self, parent: _Scope | None) -> None:
        self.vars: dict[str, Value] = {}
        self.parent = parent

    def lookup(self, name: str) -> Value | None:
        scope: _Scope | None = self
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


class _Evaluator:
    def __init__(self) -> None:
        self.depth = 0
        self.calls = 0

    # -- expressions

    def value(self, expr: Expr, scope: _Scope) -> Value:  # noqa: C901
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
                found = _class_attr(base, expr.attr)
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

    def call(self, expr: Call, scope: _Scope) -> Value:
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
            scope: _Scope,
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
        local = _Scope(_module_scope(scope))
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
            scope: _Scope,
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
                body_scope = _Scope(scope)
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

    def lookup_dotted(self, target: str, scope: _Scope) -> Value | None:
        root, _, rest = target.partition('.')
        value = scope.lookup(root)
        for part in rest.split('.') if rest else ():
            if not isinstance(value, ClassValue):
                return None
            value = _class_attr(value, part)
        return value

    def assign(self, target: str, value: Value, scope: _Scope) -> None:
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

    def expr_stmt(self, call: Call, scope: _Scope) -> None:
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
            scope: _Scope,
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
            values = [vars_.get(name, _MISSING) for vars_ in outcomes]
            first = values[0]
            if all(v is first for v in values) or (
                    stmt.is_try and isinstance(first, Ref) and
                    first.qualname.startswith('django.')
            ):
                merged[name] = first
                continue
            present = [v for v in values if v is not _MISSING]
            merged[name] = _merge_named(name, values, present[0].span)
        scope.vars = merged


def _module_scope(scope: _Scope) -> _Scope:
    while scope.parent is not None:
        scope = scope.parent
    return scope


def _class_attr(cls: ClassValue, name: str) -> Value | None:
    found = cls.attrs.get(name)
    if found is not None:
        return found
    for base in cls.bases:
        if isinstance(base, ClassValue):
            found = _class_attr(base, name)
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
    present = [v for v in values if v is not _MISSING]
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
            per = [c.attrs.get(attr, _MISSING) for c in classes]
            span_of = next(v for v in per if v is not _MISSING).span
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


# ---------------------------------------------------------------- Django

_DEFAULTS: dict[str, object] = {
    'dependencies': (), 'replaces': (), 'run_before': (), 'operations': (),
    'initial': None, 'atomic': True,
}

_FIELD_OP = ('model_name', 'name', 'field', 'preserve_default')
_SIGNATURES: dict[str, tuple[str, ...]] = {
    'AddField': _FIELD_OP,
    'AlterField': _FIELD_OP,
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
_ROLES: dict[str, dict[str, str]] = {
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
_EXTENSIONS = {
    'BloomExtension': 'bloom',
    'BtreeGinExtension': 'btree_gin',
    'BtreeGistExtension': 'btree_gist',
    'CITextExtension': 'citext',
    'CryptoExtension': 'pgcrypto',
    'HStoreExtension': 'hstore',
    'TrigramExtension': 'pg_trgm',
    'UnaccentExtension': 'unaccent',
}

_DATA_LEADERS = frozenset((
    'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'TRUNCATE', 'CALL',
    'REPLACE', 'UPSERT', 'LOAD', 'DO', 'EXEC', 'EXECUTE',
))
_DML = frozenset(('INSERT', 'UPDATE', 'DELETE', 'MERGE'))
# Keywords that make a following INSERT/UPDATE/DELETE part of DDL
# (``ON DELETE CASCADE``, ``AFTER INSERT OR UPDATE``, ``GRANT INSERT``...).
_DDL_PREFIX = frozenset((
    'ON', 'OR', 'BEFORE', 'AFTER', 'OF', 'GRANT', 'REVOKE', ',', 'INSTEAD',
))
_SQL_TOKEN_RE = re.compile(
    r"""
    (?P<skip>
        --[^\n]*
      | /\*.*?(?:\*/|\Z)
      | [EeBbXxNnUu]?'(?:[^']|'')*(?:'|\Z)
      | "(?:[^"]|"")*(?:"|\Z)
      | `[^`]*(?:`|\Z)
      | \$(?P<tag>[A-Za-z_]\w*)?\$.*?(?:\$(?P=tag)?\$|\Z)
    )
  | (?P<word>[A-Za-z_][\w$]*)
  | (?P<semi>;)
  | (?P<comma>,)
    """,
    re.S | re.X,
)


def sql_changes_rows(sql: str) -> bool:
    """Whether SQL text holds a row-changing statement.

    Statements are classified by their leading keyword (``INSERT``,
    ``UPDATE``, ``DELETE``, ``MERGE``, ``COPY``, ``TRUNCATE``, ``CALL``, ``DO``
    ...), ``SELECT ... INTO``, or DML inside a ``WITH``; string literals,
    quoted identifiers, dollar-quoted bodies and comments are skipped, so a
    ``CREATE FUNCTION`` whose body updates rows is still DDL.
    """
    words: list[str] = []
    for match in _SQL_TOKEN_RE.finditer(sql):
        if match.lastgroup == 'word':
            words.append(match.group().upper())
        elif match.lastgroup == 'comma':
            words.append(',')
        elif match.lastgroup == 'semi':
            if _statement_changes_rows(words):
                return True
            words = []
    return _statement_changes_rows(words)


def _statement_changes_rows(words: list[str]) -> bool:
    if not words:
        return False
    lead = words[0]
    if lead in _DATA_LEADERS:
        return True
    if lead == 'SELECT':
        return 'INTO' in words
    if lead == 'WITH':
        return any(
            w in _DML and (i == 0 or words[i - 1] not in _DDL_PREFIX)
            for i, w in enumerate(words)
        )
    return False


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
            signature = () if own_init else _SIGNATURES.get(behaves_as, ())
        elif isinstance(func, Ref):
            kind = behaves_as = func.qualname.rpartition('.')[2]
            signature = _SIGNATURES.get(kind, ())
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
        roles = _ROLES.get(behaves_as) if signature else None
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
        if behaves_as in _EXTENSIONS:
            found['target_name'] = _EXTENSIONS[behaves_as]
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
            out.append(OperationInfo(
                kind=kind, line=line,
                model=found.get('model'), field=found.get('field'),
                new_name=found.get('new_name'),
                target_name=found.get('target_name'),
                fields=fields, is_data=is_data, elidable=is_elidable,
                scope=scope, references=references,
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
            if name in _SIGNATURES or name in _EXTENSIONS:
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
    evaluator = _Evaluator()
    scope = _Scope(None)
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
        return _class_attr(cls, attribute)

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
