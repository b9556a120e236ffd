"""Three-way merge of one migration module changed on both sides (the same
new file name added on two branches, or edits to one file).

``dependencies`` are united (an entry one side removed stays removed);
``operations`` are merged element by element when the two sides' edits do
not touch the same operations -- two sides appending at the same place are
concatenated (ours first) unless they target the same model field.  The
rest of the module (the skeleton, with both lists replaced by placeholders)
is merged line by line the same way.  Anything else -- overlapping edits,
comments inside the lists, a module this cannot read -- returns None and
git's text merge leaves conflict markers.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import re
from collections.abc import Callable
from collections.abc import Sequence
from typing import TypeVar

import libcst as cst
from libcst.metadata import CodeRange
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from mergedriver.parsing.nesting import MESSAGE as NESTING_MESSAGE
from mergedriver.parsing.nesting import too_deep

T = TypeVar('T')
LISTS = ('dependencies', 'operations')
_PLACEHOLDER = '__MIGMERGE_{}__'


# ------------------------------------------------------------- merge3


Hunk = tuple[int, int, list[T]]  # base[start:end] becomes the list


def _hunks(base: Sequence[T], side: Sequence[T]) -> list[Hunk[T]]:
    matcher = difflib.SequenceMatcher(None, base, side, autojunk=False)
    return [
        (i1, i2, list(side[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != 'equal'
    ]


def merge3(
        base: Sequence[T],
        ours: Sequence[T],
        theirs: Sequence[T],
        *,
        both_insert: Callable[[list[T], list[T]], list[T] | None] | None = None,
) -> list[T] | None:
    """A three-way merge of sequences; None on a conflict.

    Edits touching the same or adjacent base items conflict (like git),
    except identical edits, and two insertions at one point when
    ``both_insert`` combines them.
    """
    hunks = sorted(
        [(h, 'ours') for h in _hunks(base, ours)] +
        [(h, 'theirs') for h in _hunks(base, theirs)],
        key=lambda item: (item[0][0], item[0][1]),
    )
    merged: list[Hunk[T]] = []
    for hunk, _ in hunks:
        if merged:
            start, end, items = merged[-1]
            if hunk[0] <= end and start <= hunk[1]:  # touching or overlapping
                if (start, end, items) == hunk:
                    continue
                if start == end == hunk[0] == hunk[1] and both_insert:
                    combined = both_insert(items, hunk[2])
                    if combined is None:
                        return None
                    merged[-1] = (start, end, combined)
                    continue
                return None
        merged.append(hunk)
    result: list[T] = []
    position = 0
    for start, end, items in merged:
        result.extend(base[position:start])
        result.extend(items)
        position = end
    result.extend(base[position:])
    return result


# ----------------------------------------------------------- the module


@dataclasses.dataclass(frozen=True)
class Element:
    code: str  # the element's source, as written
    key: object  # what identifies it (literal value, or normalised code)
    target: tuple[str, str] | None  # (model, field) an operation touches

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Element) and self.key == other.key


@dataclasses.dataclass(frozen=True)
class Parsed:
    skeleton: list[str]  # lines, lists replaced by placeholders
    lists: dict[str, list[Element]]
    codes: dict[str, str]  # each list's original source
    kinds: dict[str, str]  # 'list' or 'tuple'


class _Unmergeable(Exception):
    pass


class _Source:
    """Slices of the original text by libcst positions: ``code_for_node``
    would drop the enclosing block's indentation from continuation lines
    (and so change triple-quoted strings)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for line in text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))

    def code(self, node: cst.CSTNode, where: CodeRange) -> str:
        start = self.starts[where.start.line - 1] + where.start.column
        end = self.starts[where.end.line - 1] + where.end.column
        # The range leaves out the node's own parentheses: take them back.
        for _ in getattr(node, 'lpar', ()):
            start -= 1
            while start > 0 and self.text[start].isspace():
                start -= 1
            if self.text[start] != '(':
                raise _Unmergeable('unexpected parentheses')
        for _ in getattr(node, 'rpar', ()):
            while end < len(self.text) and self.text[end].isspace():
                end += 1
            if self.text[end:end + 1] != ')':
                raise _Unmergeable('unexpected parentheses')
            end += 1
        return self.text[start:end]


def _without_strings(code: str) -> str:
    return re.sub(r'''("[^"\n]*"|'[^'\n]*')''', '', code)


def _string(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _target(node: cst.BaseExpression) -> tuple[str, str] | None:
    if not isinstance(node, cst.Call):
        return None
    args = {a.keyword.value: a.value for a in node.args if a.keyword}
    model = _string(args.get('model_name')) or _string(args.get('name'))
    field = _string(args.get('name')) if 'model_name' in args else ''
    if model is None or field is None:
        return None
    return (model.lower(), field)


def _key(code: str) -> object:
    try:
        return ('literal', ast.literal_eval(code))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ('code', re.sub(r'\s+', '', code))


class _Replace(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, cst.List | cst.Tuple] = {}
        self.depth = 0

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.depth += 1
        return node.name.value == 'Migration' and self.depth == 1

    def leave_ClassDef(
            self, original: cst.ClassDef, updated: cst.ClassDef,
    ) -> cst.ClassDef:
        self.depth -= 1
        return updated

    def leave_Assign(
            self, original: cst.Assign, updated: cst.Assign,
    ) -> cst.Assign:
        if self.depth != 1 or len(original.targets) != 1:
            return updated
        target = original.targets[0].target
        if not isinstance(target, cst.Name) or target.value not in LISTS:
            return updated
        value = original.value
        if not isinstance(value, (cst.List, cst.Tuple)):
            raise _Unmergeable(f'{target.value} is not a literal list')
        if target.value in self.found:
            raise _Unmergeable(f'{target.value} is assigned twice')
        self.found[target.value] = value
        return updated.with_changes(
            value=cst.Name(_PLACEHOLDER.format(target.value.upper())),
        )


def parse(text: str) -> Parsed:
    if too_deep(text) is not None:  # libcst would crash the driver
        raise _Unmergeable(NESTING_MESSAGE)
    try:
        wrapper = MetadataWrapper(cst.parse_module(text))
    except cst.ParserSyntaxError as e:
        raise _Unmergeable(str(e))
    replace = _Replace()
    skeleton = wrapper.visit(replace)
    positions = wrapper.resolve(PositionProvider)
    source = _Source(text)
    if set(replace.found) != set(LISTS):
        raise _Unmergeable('no Migration class with both lists')
    lists = {}
    codes = {}
    kinds = {}
    for name, node in replace.found.items():
        elements = []
        for el in node.elements:
            if isinstance(el, cst.StarredElement):
                raise _Unmergeable('starred element')
            code = source.code(el.value, positions[el.value])
            elements.append(Element(code, _key(code), _target(el.value)))
        lists[name] = elements
        codes[name] = source.code(node, positions[node])
        if '#' in _without_strings(codes[name]):
            raise _Unmergeable('comments inside the list')
        kinds[name] = 'tuple' if isinstance(node, cst.Tuple) else 'list'
    return Parsed(skeleton.code.splitlines(keepends=True), lists, codes, kinds)


def _combine_operations(
        ours: list[Element], theirs: list[Element],
) -> list[Element] | None:
    """Both sides appended at one point: keep both when they touch
    different fields of known models."""
    targets = [e.target for e in ours + theirs]
    if None in targets or len(set(targets)) != len(targets):
        return None
    return ours + theirs


def _merge_dependencies(
        base: list[Element], ours: list[Element], theirs: list[Element],
) -> list[Element]:
    removed = {e for e in base if e not in ours or e not in theirs}
    merged = [e for e in ours if e not in removed]
    merged += [e for e in theirs if e not in merged and e not in removed]
    return merged


_IMPORT_RE = re.compile(r'^from (\S+) import ([\w, ]+)\n?$')


def _merge_header(ours: list[str], theirs: list[str]) -> list[str] | None:
    """Two versions of a module both sides added: the same but for
    comment lines (makemigrations' dated header) and names imported from
    one module (``migrations`` vs ``migrations, models``)."""
    def code(lines: list[str]) -> list[str]:
        return [line for line in lines if not line.lstrip().startswith('#')]

    a, b = code(ours), code(theirs)
    if len(a) != len(b):
        return None
    merged_code = []
    for x, y in zip(a, b):
        if x == y:
            merged_code.append(x)
            continue
        mx, my = _IMPORT_RE.match(x), _IMPORT_RE.match(y)
        if not (mx and my and mx[1] == my[1]):
            return None
        names = sorted({n.strip() for n in f'{mx[2]},{my[2]}'.split(',') if n.strip()})
        merged_code.append(f'from {mx[1]} import {", ".join(names)}\n')
    # ours' comment lines stay where they were
    result = []
    it = iter(merged_code)
    for line in ours:
        result.append(line if line.lstrip().startswith('#') else next(it))
    return result


def _render(
        name: str, elements: list[Element], kind: str, indent: str,
) -> str:
    if not elements:
        return '()' if kind == 'tuple' else '[]'
    opening, closing = ('(', ')') if kind == 'tuple' else ('[', ']')
    inner = indent + '    '
    body = ''.join(f'{inner}{e.code},\n' for e in elements)
    return f'{opening}\n{body}{indent}{closing}'


def _fill(skeleton: list[str], values: dict[str, Callable[[str], str]]) -> str:
    out = []
    for line in skeleton:
        for name, render in values.items():
            placeholder = _PLACEHOLDER.format(name.upper())
            if placeholder in line:
                indent = line[:len(line) - len(line.lstrip())]
                line = line.replace(placeholder, render(indent))
        out.append(line)
    return ''.join(out)


def merge_module(base: str, ours: str, theirs: str) -> str | None:
    """The merged module, or None when git's text merge must decide."""
    try:
        a, b = parse(ours), parse(theirs)
        o = parse(base) if base.strip() else None
    except _Unmergeable:
        return None
    if o is None:
        skeleton = _merge_header(a.skeleton, b.skeleton)
        base_lists: dict[str, list[Element]] = {name: [] for name in LISTS}
    else:
        skeleton = merge3(o.skeleton, a.skeleton, b.skeleton)
        base_lists = o.lists
    if skeleton is None:
        return None
    dependencies = _merge_dependencies(
        base_lists['dependencies'], a.lists['dependencies'], b.lists['dependencies'],
    )
    operations = merge3(
        base_lists['operations'], a.lists['operations'], b.lists['operations'],
        both_insert=_combine_operations,
    )
    if operations is None:
        return None
    merged = {'dependencies': dependencies, 'operations': operations}

    def renderer(name: str) -> Callable[[str], str]:
        def render(indent: str) -> str:
            for side in (a, b):
                if side.lists[name] == merged[name] and [
                        e.code for e in side.lists[name]
                ] == [e.code for e in merged[name]]:
                    return side.codes[name]  # unchanged: keep it verbatim
            return _render(name, merged[name], a.kinds[name], indent)
        return render

    return _fill(skeleton, {name: renderer(name) for name in LISTS})
