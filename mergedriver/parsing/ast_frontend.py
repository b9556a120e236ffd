"""Fast read-only front-end: Python's own :mod:`ast` -> evaluator IR.

Gives the same records as the libcst parser of record
(:mod:`mergedriver.parsing.libcst_frontend`) for everything the running Python can parse; for
anything else it raises :class:`FastPathUnavailable` so the caller falls back
to libcst (which also produces the error message of record).
"""
from __future__ import annotations

import ast

from mergedriver.parsing import ir
from mergedriver.parsing.migration_class import evaluate_module
from mergedriver.parsing.nesting import check_nesting
from mergedriver.records import MigrationInfo


class FastPathUnavailable(Exception):
    """The running Python's ``ast`` cannot read this source."""


# ``try``/``except*`` (3.11+) read alike
_TRY: tuple[type[ast.Try], ...] = (ast.Try, getattr(ast, 'TryStar', ast.Try))


def _span(node: ast.expr | ast.stmt | ast.excepthandler) -> ir.Span:
    return (
        node.lineno, node.col_offset,
        node.end_lineno or node.lineno, node.end_col_offset or 0,
    )


def _expr(node: ast.expr) -> ir.Expr:  # noqa: C901
    # Hot path (every expression of every module): spans inlined.
    span = (
        node.lineno, node.col_offset,
        node.end_lineno or node.lineno, node.end_col_offset or 0,
    )
    if isinstance(node, ast.Constant):
        return ir.Const(node.value, span)
    if isinstance(node, ast.Name):
        return ir.Name(node.id, span)
    if isinstance(node, ast.Call):
        return ir.Call(
            _expr(node.func),
            tuple([_expr(a) for a in node.args]),
            tuple([(k.arg, _expr(k.value)) for k in node.keywords]),
            span,
        )
    if isinstance(node, ast.Attribute):
        return ir.Attr(_expr(node.value), node.attr, span)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return ir.Seq(tuple([_expr(e) for e in node.elts]), span)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return ir.Add(_expr(node.left), _expr(node.right), span)
    if isinstance(node, ast.Starred):
        return ir.Starred(_expr(node.value), span)
    if isinstance(node, ast.IfExp):
        return ir.IfExp(_expr(node.body), _expr(node.orelse), span)
    return ir.Opaque(span)


def _call(node: ast.Call) -> ir.Call:
    call = _expr(node)
    assert isinstance(call, ir.Call)
    return call


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return '.'.join(reversed(parts))


def _bound_names(target: ast.expr) -> tuple[str, ...]:
    """Names whose value changes when ``target`` is assigned or deleted."""
    if isinstance(target, ast.Name):
        return (target.id,)
    if isinstance(target, (ast.Tuple, ast.List)):
        return tuple(
            n for e in target.elts for n in _bound_names(e)
        )
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    if isinstance(target, ast.Subscript):
        dotted = _dotted(target.value)
        return () if dotted is None else (dotted,)
    return ()


def _assign(
        target: ast.expr,
        value: ast.expr | None,
        out: list[ir.Stmt],
        span: ir.Span,
) -> None:
    dotted = _dotted(target)
    if dotted is not None and value is not None:
        out.append(ir.Assign(dotted, _expr(value)))
        return
    names = _bound_names(target)
    if names:
        out.append(ir.Rebind(names, span))


def _params(args: ast.arguments) -> tuple[tuple[ir.Param, ...], bool]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (
        len(positional) - len(args.defaults)
    )
    defaults.extend(args.defaults)
    params = [
        ir.Param(a.arg, None if d is None else _expr(d), True)
        for a, d in zip(positional, defaults)
    ]
    params.extend(
        ir.Param(a.arg, None if d is None else _expr(d), False)
        for a, d in zip(args.kwonlyargs, args.kw_defaults)
    )
    return tuple(params), bool(args.vararg or args.kwarg)


def _stmts(nodes: list[ast.stmt]) -> tuple[ir.Stmt, ...]:  # noqa: C901
    out: list[ir.Stmt] = []
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                _assign(target, node.value, out, _span(node))
        elif isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Call):
                out.append(ir.ExprStmt(_call(node.value)))
        elif isinstance(node, ast.ImportFrom):
            base = '.' * node.level + (node.module or '')
            sep = '' if base.endswith('.') or not base else '.'
            out.append(ir.Import(
                tuple(
                    (a.asname or a.name, f'{base}{sep}{a.name}')
                    for a in node.names if a.name != '*'
                ),
                _span(node),
            ))
        elif isinstance(node, ast.Import):
            out.append(ir.Import(
                tuple(
                    (a.asname, a.name) if a.asname
                    else (a.name.partition('.')[0], a.name.partition('.')[0])
                    for a in node.names
                ),
                _span(node),
            ))
        elif isinstance(node, ast.ClassDef):
            out.append(ir.ClassDef(
                node.name,
                tuple(_expr(b) for b in node.bases),
                _stmts(node.body),
                _span(node),
            ))
        elif isinstance(node, ast.If):
            out.append(ir.Branches((_stmts(node.body), _stmts(node.orelse))))
        elif isinstance(node, ast.AugAssign):
            dotted = _dotted(node.target)
            if isinstance(node.op, ast.Add) and dotted is not None:
                out.append(ir.AugAdd(dotted, _expr(node.value)))
            else:
                _assign(node.target, None, out, _span(node))
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                _assign(node.target, node.value, out, _span(node))
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                out.append(ir.Rebind((node.name,), _span(node)))
            else:
                params, star = _params(node.args)
                out.append(ir.Def(
                    node.name, params, star, _stmts(node.body), _span(node),
                ))
        elif isinstance(node, ast.AsyncFunctionDef):
            out.append(ir.Rebind((node.name,), _span(node)))
        elif isinstance(node, ast.Return):
            value = node.value
            out.append(ir.Return(
                None if value is None else _expr(value), _span(node),
            ))
        elif isinstance(node, _TRY):
            body = _stmts(node.body) + _stmts(node.orelse)
            handlers = []
            for handler in node.handlers:
                prefix: tuple[ir.Stmt, ...] = ()
                if handler.name:
                    prefix = (ir.Rebind((handler.name,), _span(handler)),)
                handlers.append(prefix + _stmts(handler.body))
            out.append(ir.Branches((body, *handlers), is_try=True))
            out.extend(_stmts(node.finalbody))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            names = _bound_names(node.target)
            if names:
                out.append(ir.Rebind(names, _span(node.target)))
            out.append(ir.Branches((_stmts(node.body), ())))
            out.append(ir.Branches((_stmts(node.orelse), ())))
        elif isinstance(node, ast.While):
            out.append(ir.Branches((_stmts(node.body), ())))
            out.append(ir.Branches((_stmts(node.orelse), ())))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    names = _bound_names(item.optional_vars)
                    if names:
                        out.append(ir.Rebind(names, _span(item.optional_vars)))
            out.extend(_stmts(node.body))
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                _assign(target, None, out, _span(node))
        elif isinstance(node, ast.Match):
            out.append(ir.Branches(
                (*(_stmts(c.body) for c in node.cases), ()),
            ))
    return tuple(out)


def module_ir(text: str, path: str = '') -> ir.ModuleIR:
    """Translate module source; FastPathUnavailable if ast rejects it, and
    ParseError (``module is too deeply nested``) when that is why: libcst
    must never be given such input (see :mod:`mergedriver.parsing.nesting`).  The
    scan runs only on this rare path; Python's own parser guards itself."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        check_nesting(text, path)
        raise FastPathUnavailable(str(e))
    try:
        body = _stmts(tree.body)
    except RecursionError as e:
        check_nesting(text, path)
        raise FastPathUnavailable(str(e))
    return ir.ModuleIR(body, ir.source_segment(text, byte_columns=True))


def parse_migration(
        data: bytes, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Read one migration module with :mod:`ast`.

    Raises ParseError for input no parser can use (encoding, no Migration
    class...) and FastPathUnavailable when only libcst can tell.
    """
    text = ir.decode_source(data, path)
    return evaluate_module(
        module_ir(text, path), app_label=app_label, name=name, path=path,
    )
