"""A cheap nesting bound, checked before any parser sees a module.

libcst's native parser dies with SIGSEGV on deeply nested input (1,300
brackets, 20,000 unary minus, 5,000 nested lambdas), and its Python half,
like our IR translation and evaluator, recurses once per level: a chain of
1,000 ``+`` is a RecursionError, 5,000 list additions take minutes.  Real
migrations nest a few dozen levels at most.

:func:`too_deep` scans the source once with one regular expression (no
tokenizer objects) and measures how deep the parse tree can get: brackets,
indentation, and within one bracket level and one comma-separated item,
every operator, attribute dot, keyword operator (``not``, ``lambda``,
``if``...) and closed bracket group (calls of calls), since each of those
adds a level to the expression tree.  It over-estimates (``a + b * c``
counts 2, as deep as ``a + (b * c)``), never under-estimates, and is far
above anything a real migration needs.
"""
from __future__ import annotations

import re

from mergedriver.errors import ParseError

# The deepest a module may nest by this measure.  CPython itself refuses
# more than 200 nested brackets and 100 indentation levels.
MAX_DEPTH = 200
MESSAGE = 'module is too deeply nested'

_TOKEN = re.compile(
    r'''
    (?P<s>(?:[rRbBuUfF]{1,2})?(?:
        \'\'\'(?:[^\\]|\\.)*?(?:\'\'\'|\Z)
      | """(?:[^\\]|\\.)*?(?:"""|\Z)
      | '(?:[^'\\\n]|\\.)*(?:'|$)
      | "(?:[^"\\\n]|\\.)*(?:"|$)
    ))
    | (?P<w>[A-Za-z_][A-Za-z_0-9]*|[0-9][0-9_]*)
    | (?P<c>\#[^\n]*)
    | (?P<k>\\\r?\n)
    | (?P<n>\r?\n[ \t\f]*)
    | (?P<o>[(\[{])
    | (?P<x>[)\]}])
    | (?P<p>[,;])
    | (?P<e>\*\*|//|<<|>>|[-+*/%@&|^~<>.])
    ''',
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)
_KEYWORD_OPERATORS = frozenset((
    'and', 'or', 'not', 'in', 'is', 'lambda', 'if', 'else', 'await',
    'yield', 'for',
))


def too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The line where ``text`` first nests deeper than ``limit``, or None."""
    stack: list[tuple[int, int]] = []  # (outer, item) of enclosing levels
    outer = 0  # depth where the current bracket level starts
    item = 0  # levels added within the current item
    indents = [0]  # indentation widths, as the tokenizer keeps them
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == 'w':
            if m.group() in _KEYWORD_OPERATORS:
                item += 1
            else:
                continue
        elif kind == 'e':
            item += 1
        elif kind == 'o':
            stack.append((outer, item))
            outer += item + 1
            item = 0
        elif kind == 'x':
            if stack:
                outer, item = stack.pop()
                item += 1  # the group itself: f()() nests like f() + 1
            continue
        elif kind == 'p':
            item = 0
            continue
        elif kind == 'n':
            if stack:
                continue  # inside brackets a newline ends nothing
            end = m.end()
            if end < len(text) and text[end] in '\r\n#':
                continue  # blank or comment-only line
            width = len(m.group().lstrip('\r\n').expandtabs(8))
            if width > indents[-1]:
                indents.append(width)
            else:
                while len(indents) > 1 and indents[-1] > width:
                    indents.pop()
            outer = len(indents) - 1
            item = 0
            continue
        else:
            continue  # strings, comments, line continuations
        if outer + item > limit:
            return text.count('\n', 0, m.start()) + 1
    return None


def check_nesting(text: str, path: str) -> None:
    """Raise ParseError (``module is too deeply nested``) for ``text`` that
    no parser should be given."""
    line = too_deep(text)
    if line is not None:
        raise ParseError(MESSAGE, path=path, line=line)
