"""libcst parser of record: migration module source -> MigrationInfo.

Never imports or executes the module.  libcst reads any syntax its native
parser knows (newer than the running Python's); the module is translated into
the IR of :mod:`mergedriver.parsing.evaluate`, whose evaluator holds the Django rules
shared with the :mod:`ast` fast path.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import CodeRange
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from mergedriver.errors import ParseError
from mergedriver.parsing import ir
from mergedriver.parsing.migration_class import evaluate_module
from mergedriver.parsing.nesting import check_nesting
from mergedriver.records import MigrationInfo

_CONSTANT_NAMES = {'True': True, 'False': False, 'None': None}


class _Translator:
    def __init__(self, positions: Mapping[cst.CSTNode, CodeRange]) -> None:
        self.positions = positions

    def span(self, node: cst.CSTNode) -> ir.Span:
        pos = self.positions[node]
        return (pos.start.line, pos.start.column, pos.end.line, pos.end.column)

    def tuple_span(self, node: cst.Tuple) -> ir.Span:
        # ast counts a tuple's own (innermost) parentheses as part of it
        if not node.lpar:
            return self.span(node)
        start = self.positions[node.lpar[-1]].start
        end = self.positions[node.rpar[0]].end
        return (start.line, start.column, end.line, end.column)

    # -- expressions

    def expr(self, node: cst.BaseExpression) -> ir.Expr:  # noqa: C901
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            value = node.evaluated_value
            if value is None:  # f-string part
                return ir.Opaque(self.span(node))
            return ir.Const(value, self.span(node))
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            return ir.Const(node.evaluated_value, self.span(node))
        if isinstance(node, cst.Ellipsis):  # a constant for ast too
            return ir.Const(..., self.span(node))
        if isinstance(node, cst.Name):
            if node.value in _CONSTANT_NAMES:
                return ir.Const(_CONSTANT_NAMES[node.value], self.span(node))
            return ir.Name(node.value, self.span(node))
        if isinstance(node, cst.Attribute):
            return ir.Attr(
                self.expr(node.value), node.attr.value, self.span(node),
            )
        if isinstance(node, (cst.List, cst.Set)):
            return ir.Seq(
                tuple(self.element(e) for e in node.elements),
                self.span(node),
            )
        if isinstance(node, cst.Tuple):
            return ir.Seq(
                tuple(self.element(e) for e in node.elements),
                self.tuple_span(node),
            )
        if isinstance(node, cst.Call):
            return self.call(node)
        if (
                isinstance(node, cst.BinaryOperation) and
                isinstance(node.operator, cst.Add)
        ):
            return ir.Add(
                self.expr(node.left), self.expr(node.right), self.span(node),
            )
        if isinstance(node, cst.IfExp):
            return ir.IfExp(
                self.expr(node.body), self.expr(node.orelse), self.span(node),
            )
        return ir.Opaque(self.span(node))

    def call(self, node: cst.Call) -> ir.Call:
        args: list[ir.Expr] = []
        kwargs: list[tuple[str | None, ir.Expr]] = []
        for arg in node.args:
            value = self.expr(arg.value)
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, value))
            elif arg.star == '**':
                kwargs.append((None, value))
            elif arg.star == '*':
                args.append(ir.Starred(value, self.span(arg)))
            else:
                args.append(value)
        return ir.Call(
            self.expr(node.func), tuple(args), tuple(kwargs), self.span(node),
        )

    def element(self, node: cst.BaseElement) -> ir.Expr:
        if isinstance(node, cst.StarredElement):
            return ir.Starred(self.expr(node.value), self.span(node))
        return self.expr(node.value)

    # -- assignment targets

    def dotted(self, node: cst.BaseExpression) -> str | None:
        parts = []
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        if not isinstance(node, cst.Name):
            return None
        parts.append(node.value)
        return '.'.join(reversed(parts))

    def bound_names(self, target: cst.BaseExpression) -> tuple[str, ...]:
        if isinstance(target, cst.Name):
            return (target.value,)
        if isinstance(target, (cst.Tuple, cst.List)):
            return tuple(
                n for e in target.elements for n in self.bound_names(e.value)
            )
        if isinstance(target, cst.StarredElement):
            return self.bound_names(target.value)
        if isinstance(target, cst.Subscript):
            dotted = self.dotted(target.value)
            return () if dotted is None else (dotted,)
        return ()

    def assign(
            self,
            target: cst.BaseExpression,
            value: cst.BaseExpression | None,
            out: list[ir.Stmt],
            span: ir.Span,
    ) -> None:
        dotted = self.dotted(target)
        if dotted is not None and value is not None:
            out.append(ir.Assign(dotted, self.expr(value)))
            return
        names = self.bound_names(target)
        if names:
            out.append(ir.Rebind(names, span))

    # -- statements

    def block(
            self, node: cst.CSTNode | None,
    ) -> tuple[ir.Stmt, ...]:
        if node is None:
            return ()
        if isinstance(node, cst.IndentedBlock):
            return self.stmts(node.body)
        if isinstance(node, cst.SimpleStatementSuite):
            return self.small(node.body)
        if isinstance(node, cst.Else):
            return self.block(node.body)
        if isinstance(node, cst.BaseStatement):
            return self.stmts((node,))  # an ``elif``
        raise AssertionError(type(node))

    def small(
            self, nodes: Sequence[cst.BaseSmallStatement],
    ) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for node in nodes:
            self.small_one(node, out)
        return tuple(out)

    def small_one(  # noqa: C901
            self, node: cst.BaseSmallStatement, out: list[ir.Stmt],
    ) -> None:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                self.assign(target.target, node.value, out, self.span(node))
        elif isinstance(node, cst.Expr):
            if isinstance(node.value, cst.Call):
                out.append(ir.ExprStmt(self.call(node.value)))
        elif isinstance(node, cst.ImportFrom):
            base = '.' * len(node.relative)
            if node.module is not None:
                base += self.dotted(node.module) or ''
            sep = '' if base.endswith('.') or not base else '.'
            names = node.names
            if isinstance(names, cst.ImportStar):
                pairs: list[tuple[str, str]] = []
            else:
                pairs = [
                    (self.alias_name(a) or self.alias_dotted(a),
                     f'{base}{sep}{self.alias_dotted(a)}')
                    for a in names
                ]
            out.append(ir.Import(tuple(pairs), self.span(node)))
        elif isinstance(node, cst.Import):
            pairs = []
            for a in node.names:
                full = self.alias_dotted(a)
                alias = self.alias_name(a)
                if alias:
                    pairs.append((alias, full))
                else:
                    root = full.partition('.')[0]
                    pairs.append((root, root))
            out.append(ir.Import(tuple(pairs), self.span(node)))
        elif isinstance(node, cst.AugAssign):
            dotted = self.dotted(node.target)
            if isinstance(node.operator, cst.AddAssign) and dotted is not None:
                out.append(ir.AugAdd(dotted, self.expr(node.value)))
            else:
                self.assign(node.target, None, out, self.span(node))
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.assign(node.target, node.value, out, self.span(node))
        elif isinstance(node, cst.Return):
            out.append(ir.Return(
                None if node.value is None else self.expr(node.value),
                self.span(node),
            ))
        elif isinstance(node, cst.Del):
            self.assign(node.target, None, out, self.span(node))
        elif isinstance(node, cst.TypeAlias):  # ``type X = ...`` (PEP 695)
            out.append(ir.Rebind((node.name.value,), self.span(node)))

    def alias_dotted(self, alias: cst.ImportAlias) -> str:
        return self.dotted(alias.name) or ''

    def alias_name(self, alias: cst.ImportAlias) -> str | None:
        if alias.asname is None:
            return None
        name = alias.asname.name
        return name.value if isinstance(name, cst.Name) else None

    def stmts(
            self, nodes: Sequence[cst.BaseStatement],
    ) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for node in nodes:
            self.compound(node, out)
        return tuple(out)

    def compound(  # noqa: C901
            self, node: cst.BaseStatement, out: list[ir.Stmt],
    ) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.small_one(small, out)
        elif isinstance(node, cst.ClassDef):
            out.append(ir.ClassDef(
                node.name.value,
                tuple(
                    self.expr(a.value) for a in node.bases
                    if a.keyword is None and not a.star
                ),
                self.block(node.body),
                self.span(node),
            ))
        elif isinstance(node, cst.If):
            out.append(ir.Branches(
                (self.block(node.body), self.block(node.orelse)),
            ))
        elif isinstance(node, cst.FunctionDef):
            if node.decorators or node.asynchronous is not None:
                out.append(ir.Rebind((node.name.value,), self.span(node)))
            else:
                params, star = self.params(node.params)
                out.append(ir.Def(
                    node.name.value, params, star, self.block(node.body),
                    self.span(node),
                ))
        elif isinstance(node, (cst.Try, cst.TryStar)):
            body = self.block(node.body) + self.block(node.orelse)
            handlers = []
            for handler in node.handlers:
                prefix: tuple[ir.Stmt, ...] = ()
                if handler.name is not None:
                    names = self.bound_names(handler.name.name)
                    prefix = (ir.Rebind(names, self.span(handler.name.name)),)
                handlers.append(prefix + self.block(handler.body))
            out.append(ir.Branches((body, *handlers), is_try=True))
            final = node.finalbody
            out.extend(() if final is None else self.block(final.body))
        elif isinstance(node, cst.For):
            names = self.bound_names(node.target)
            if names:
                out.append(ir.Rebind(names, self.span(node.target)))
            out.append(ir.Branches((self.block(node.body), ())))
            out.append(ir.Branches((self.block(node.orelse), ())))
        elif isinstance(node, cst.While):
            out.append(ir.Branches((self.block(node.body), ())))
            out.append(ir.Branches((self.block(node.orelse), ())))
        elif isinstance(node, cst.With):
            for item in node.items:
                if item.asname is not None:
                    names = self.bound_names(item.asname.name)
                    if names:
                        out.append(ir.Rebind(
                            names, self.span(item.asname.name),
                        ))
            out.extend(self.block(node.body))
        elif isinstance(node, cst.Match):
            out.append(ir.Branches(
                (*(self.block(c.body) for c in node.cases), ()),
            ))

    def params(
            self, params: cst.Parameters,
    ) -> tuple[tuple[ir.Param, ...], bool]:
        out = [
            ir.Param(
                p.name.value,
                None if p.default is None else self.expr(p.default),
                True,
            )
            for p in (*params.posonly_params, *params.params)
        ]
        out.extend(
            ir.Param(
                p.name.value,
                None if p.default is None else self.expr(p.default),
                False,
            )
            for p in params.kwonly_params
        )
        star = isinstance(params.star_arg, cst.Param) or (
            params.star_kwarg is not None
        )
        return tuple(out), star


_PARSER_PREFIX = re.compile(r'^(?:parser error: error at \d+:\d+|\w+ error): ')


def _short(message: str) -> str:
    """libcst's message on one short line (its token lists are long)."""
    message = _PARSER_PREFIX.sub('', ' '.join(message.split()))
    return message if len(message) <= 60 else message[:57] + '...'


def module_ir(text: str, path: str) -> ir.ModuleIR:
    """Translate module source into the evaluator's IR with libcst."""
    # libcst's native parser crashes the process on deep nesting
    check_nesting(text, path)
    try:
        module = cst.parse_module(text)
        # One metadata pass per module; the tree is not reused, so no copy.
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        translator = _Translator(wrapper.resolve(PositionProvider))
        body = translator.stmts(wrapper.module.body)
    except cst.ParserSyntaxError as e:
        raise ParseError(
            f'invalid syntax: {_short(e.message)}', path=path, line=e.raw_line,
        )
    except RecursionError:
        # libcst's visitors recurse per nesting level
        raise ParseError('module is too deeply nested', path=path, line=1)
    return ir.ModuleIR(body, ir.source_segment(text, byte_columns=False))


def parse_migration(
        data: bytes, *, app_label: str, name: str, path: str,
) -> MigrationInfo:
    """Parse one migration module; raise ParseError on unusable input."""
    text = ir.decode_source(data, path)
    return evaluate_module(
        module_ir(text, path), app_label=app_label, name=name, path=path,
    )
