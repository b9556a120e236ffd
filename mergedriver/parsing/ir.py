"""The small language both front-ends translate a migration module into.

:mod:`mergedriver.parsing.libcst_frontend` (libcst) and
:mod:`mergedriver.parsing.ast_frontend` (:mod:`ast`) each turn a module into
these expression and statement nodes, and :mod:`mergedriver.parsing.evaluate`
reduces them: the Django knowledge lives in one place, so the two parsers
cannot drift apart.  Also the source decoding both front-ends share.

This module must not import libcst (a warm run never loads it).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple
from typing import Union

from mergedriver.errors import ParseError

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
