"""libcst codemods on migration modules that keep everything else intact.

Two rewrites, both of string literals only, so formatting, comments, quote
style and string prefixes survive byte for byte outside the changed strings:

- :func:`rename_references` renames migrations in ``dependencies``,
  ``run_before`` and ``replaces`` of the ``Migration`` class, following
  module-level names those lists use (``BASE = [('app', '0002_x')]``);
- :func:`retarget_dependency` makes a moved migration depend on a new parent.

Every outcome is one of :class:`Rewritten`, :class:`Unchanged` or
:class:`Refused`; nothing is raised for bad input.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Union

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata import PositionProvider

from mergedriver.parsing.nesting import MESSAGE as NESTING_MESSAGE
from mergedriver.parsing.nesting import too_deep
from mergedriver.records import MigrationKey

EDGE_ATTRIBUTES = frozenset(('dependencies', 'run_before', 'replaces'))
# Django's special targets; they never name a real migration.
SPECIAL_NAMES = frozenset(('__first__', '__latest__'))


@dataclasses.dataclass(frozen=True, order=True)
class Change:
    """One string literal rewritten: where, and from what to what."""

    line: int
    old: str
    new: str


@dataclasses.dataclass(frozen=True)
class Rewritten:
    code: str
    changes: tuple[Change, ...]


@dataclasses.dataclass(frozen=True)
class Unchanged:
    pass


@dataclasses.dataclass(frozen=True)
class Refused:
    reason: str
    line: int


RewriteResult = Union[Rewritten, Unchanged, Refused]


class _Refusal(Exception):
    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclasses.dataclass(frozen=True)
class _Pair:
    """A ``(app, name)`` tuple found in an edge list."""

    app: str
    name: str
    # The literal nodes to replace to change the app or the name (a literal
    # in the tuple itself, or the module-level constant it refers to).
    app_node: cst.SimpleString | None
    name_node: cst.SimpleString | None
    line: int
    # Whether the app literal sits in the tuple itself (not a shared name).
    app_inline: bool


def _string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _with_value(node: cst.SimpleString, value: str) -> cst.SimpleString:
    """The same literal (prefix and quotes kept) holding ``value``."""
    prefix = node.prefix
    quote = node.quote
    if 'r' not in prefix.lower():
        value = value.replace('\\', '\\\\')
    if quote[0] in value or '\n' in value or '\\' in value:
        # Cannot happen for names that passed the identifier check; fall
        # back to a repr rather than write a broken literal.
        return node.with_changes(value=repr(value))
    return node.with_changes(value=f'{prefix}{quote}{value}{quote}')


def _is_swappable_call(node: cst.Call) -> bool:
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value == 'swappable_dependency'
    if isinstance(func, cst.Name):
        return func.value == 'swappable_dependency'
    return False


def _assigned_names(
        stmt: cst.BaseSmallStatement,
) -> Iterator[tuple[str, cst.BaseExpression]]:
    if isinstance(stmt, cst.Assign):
        for target in stmt.targets:
            if isinstance(target.target, cst.Name):
                yield target.target.value, stmt.value
    elif isinstance(stmt, (cst.AnnAssign, cst.AugAssign)):
        if isinstance(stmt.target, cst.Name) and stmt.value is not None:
            yield stmt.target.value, stmt.value


def _simple_statements(
        body: Iterable[cst.BaseStatement | cst.BaseSmallStatement],
) -> Iterator[cst.BaseSmallStatement]:
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            yield from stmt.body


_CONTAINERS = (cst.List, cst.Tuple, cst.Set)


class _Analysis:
    """Finds the ``(app, name)`` pairs of the Migration's edge lists."""

    def __init__(
            self, wrapper: MetadataWrapper, attributes: frozenset[str],
    ) -> None:
        self.module = wrapper.module
        self.positions = wrapper.resolve(PositionProvider)
        self.constants: dict[str, list[cst.BaseExpression]] = {}
        for stmt in _simple_statements(self.module.body):
            for name, value in _assigned_names(stmt):
                self.constants.setdefault(name, []).append(value)
        self.roots: dict[str, list[cst.BaseExpression]] = {}
        # Entries with one readable and one unreadable element.
        self.half_read: list[tuple[str | None, str | None, int]] = []
        self.class_found = False
        for top in self.module.body:
            if (
                    isinstance(top, cst.ClassDef) and
                    top.name.value == 'Migration' and
                    isinstance(top.body, cst.IndentedBlock)
            ):
                self.class_found = True
                for small in _simple_statements(top.body.body):
                    for name, value in _assigned_names(small):
                        if name in attributes:
                            self.roots.setdefault(name, []).append(value)

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def pairs(self, attribute: str) -> list[_Pair]:
        found: list[_Pair] = []
        seen: set[str] = set()
        for root in self.roots.get(attribute, ()):
            self._walk(root, found, seen)
        return found

    def _string_node(
            self, node: cst.BaseExpression, seen: set[str],
    ) -> tuple[str, cst.SimpleString | None] | None:
        """The value of a string element, and the literal that holds it.

        A name bound once at module level to a string counts as that
        string.  The literal is None when it cannot be rewritten in place
        (implicit concatenation).
        """
        value = _string_value(node)
        if value is not None:
            simple = node if isinstance(node, cst.SimpleString) else None
            return value, simple
        if isinstance(node, cst.Name):
            bound = self.constants.get(node.value, [])
            if len(bound) == 1 and node.value not in seen:
                return self._string_node(bound[0], seen | {node.value})
        return None

    def _walk(
            self,
            node: cst.BaseExpression,
            found: list[_Pair],
            seen: set[str],
    ) -> None:
        if isinstance(node, cst.Tuple) and len(node.elements) == 2 and not any(
                isinstance(e, cst.StarredElement) for e in node.elements
        ):
            app = self._string_node(node.elements[0].value, seen)
            name = self._string_node(node.elements[1].value, seen)
            if app is not None and name is not None:
                app_inline = isinstance(node.elements[0].value, cst.SimpleString)
                found.append(
                    _Pair(
                        app[0], name[0], app[1], name[1], self.line(node),
                        app_inline,
                    ),
                )
                return
            if (app is None) != (name is None) and not any(
                    isinstance(e.value, _CONTAINERS) for e in node.elements
            ):
                # Half readable: ('shop', some_call()) may name a renamed
                # migration; the caller decides whether that matters.
                self.half_read.append(
                    (
                        app[0] if app else None,
                        name[0] if name else None,
                        self.line(node),
                    ),
                )
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            for element in node.elements:
                self._walk(element.value, found, seen)
        elif isinstance(node, cst.BinaryOperation):
            self._walk(node.left, found, seen)
            self._walk(node.right, found, seen)
        elif isinstance(node, cst.IfExp):
            self._walk(node.body, found, seen)
            self._walk(node.orelse, found, seen)
        elif isinstance(node, cst.Call):
            if not _is_swappable_call(node):
                for arg in node.args:
                    self._walk(arg.value, found, seen)
        elif isinstance(node, cst.Name) and node.value not in seen:
            for value in self.constants.get(node.value, ()):
                self._walk(value, found, seen | {node.value})


class _ReplaceStrings(cst.CSTTransformer):
    def __init__(self, replacements: Mapping[int, str]) -> None:
        super().__init__()
        self.replacements = replacements

    def leave_SimpleString(
            self,
            original_node: cst.SimpleString,
            updated_node: cst.SimpleString,
    ) -> cst.SimpleString:
        new = self.replacements.get(id(original_node))
        if new is None:
            return updated_node
        return _with_value(updated_node, new)


def _analyse(
        code: str, attributes: frozenset[str],
) -> tuple[_Analysis, None] | tuple[None, Refused]:
    line = too_deep(code)
    if line is not None:  # libcst would crash the process
        return None, Refused(NESTING_MESSAGE, line)
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError as e:
        return None, Refused(f'cannot parse: {e.message}', e.raw_line)
    return _Analysis(MetadataWrapper(module), attributes), None


class _Edits:
    """Literal replacements collected before one transform pass.

    Every literal an entry uses gets a wanted value, also the ones that keep
    their value, so a module-level string shared by an entry that changes
    and one that does not is caught instead of silently renaming both.
    """

    def __init__(self, analysis: _Analysis) -> None:
        self.analysis = analysis
        self.wanted: dict[int, tuple[cst.SimpleString, str, str]] = {}

    def want(
            self,
            node: cst.SimpleString | None,
            old: str,
            new: str,
            line: int,
            what: str,
    ) -> None:
        if node is None:
            if new == old:
                return
            raise _Refusal(
                f'{what} {old!r} is written as an implicit string '
                f'concatenation; write it as one literal first',
                line,
            )
        previous = self.wanted.get(id(node))
        if previous is not None and previous[2] != new:
            raise _Refusal(
                f'{old!r} is defined once and used by entries that need '
                f'different names ({previous[2]!r}, {new!r})',
                self.analysis.line(node),
            )
        self.wanted[id(node)] = (node, old, new)

    def result(self) -> RewriteResult:
        by_node = {
            key: new for key, (_, old, new) in self.wanted.items()
            if new != old
        }
        if not by_node:
            return Unchanged()
        new_module = self.analysis.module.visit(_ReplaceStrings(by_node))
        changes = sorted(
            Change(self.analysis.line(node), old, new)
            for node, old, new in self.wanted.values() if new != old
        )
        return Rewritten(new_module.code, tuple(changes))


_BOM = '\ufeff'


def _keep_bom(code: str, result: RewriteResult) -> RewriteResult:
    # libcst drops a byte-order mark; the file must keep its bytes.
    if code.startswith(_BOM) and isinstance(result, Rewritten):
        if not result.code.startswith(_BOM):
            return Rewritten(_BOM + result.code, result.changes)
    return result


def _refuse_half_read(
        analysis: _Analysis, renames: Mapping[MigrationKey, str],
) -> None:
    """Refuse when an entry the analysis could not read may be renamed."""
    apps = {app for app, _ in renames}
    names = {name for _, name in renames}
    for app, name, line in analysis.half_read:
        if (app is not None and app in apps) or (
                name is not None and name in names
        ):
            raise _Refusal(
                'cannot read this dependency statically; it may name a '
                'renamed migration',
                line,
            )


def rename_references(
        code: str, renames: Mapping[MigrationKey, str],
) -> RewriteResult:
    """Rename migrations referenced by a migration module's edge lists.

    ``renames`` maps ``(app_label, old_name)`` to the new name.  Entries of
    ``dependencies``, ``run_before`` and ``replaces`` (lists, tuples,
    concatenations, module-level names they use) are rewritten;
    ``swappable_dependency(...)`` and ``__first__``/``__latest__`` are left
    alone.  Renaming is simultaneous, so a chain (``0004_a`` -> ``0005_a``,
    ``0005_a`` -> ``0006_a``) is safe; a second run with a mapping whose new
    names are not old names finds nothing to do.
    """
    return _keep_bom(code, _rename(code, renames))


def _rename(code: str, renames: Mapping[MigrationKey, str]) -> RewriteResult:
    analysis, refused = _analyse(code, EDGE_ATTRIBUTES)
    if refused is not None:
        return refused
    assert analysis is not None
    edits = _Edits(analysis)
    try:
        for attribute in sorted(EDGE_ATTRIBUTES):
            for pair in analysis.pairs(attribute):
                new = pair.name
                if pair.name not in SPECIAL_NAMES:
                    new = renames.get((pair.app, pair.name), pair.name)
                edits.want(
                    pair.name_node, pair.name, new, pair.line,
                    'migration name',
                )
        _refuse_half_read(analysis, renames)
    except _Refusal as e:
        return Refused(e.reason, e.line)
    return edits.result()


def retarget_dependency(
        code: str, old: MigrationKey, new: MigrationKey,
) -> RewriteResult:
    """Make a migration depend on ``new`` where it depended on ``old``.

    Other entries of ``dependencies`` stay as they are.  When ``old`` is not
    listed but ``new`` is, the work is already done (:class:`Unchanged`);
    when neither is, or both are, the module is left to a human
    (:class:`Refused`).
    """
    return _keep_bom(code, _retarget(code, old, new))


def _retarget(
        code: str, old: MigrationKey, new: MigrationKey,
) -> RewriteResult:
    analysis, refused = _analyse(code, frozenset(('dependencies',)))
    if refused is not None:
        return refused
    assert analysis is not None
    if not analysis.class_found:
        return Refused('no Migration class in this module', 1)
    pairs = analysis.pairs('dependencies')
    old_pairs = [p for p in pairs if (p.app, p.name) == old]
    has_new = any((p.app, p.name) == new for p in pairs)
    line = analysis.line(analysis.roots['dependencies'][0]) if pairs else 1
    if not old_pairs:
        if has_new:
            return Unchanged()
        return Refused(
            f'dependencies do not list {old!r}; cannot replace it by {new!r}',
            line,
        )
    if has_new:
        return Refused(
            f'dependencies list both {old!r} and {new!r}; remove {old!r} '
            f'by hand',
            old_pairs[0].line,
        )
    edits = _Edits(analysis)
    try:
        for pair in pairs:
            is_old = any(pair is p for p in old_pairs)
            target = new if is_old else (pair.app, pair.name)
            if target[0] != pair.app and not pair.app_inline:
                raise _Refusal(
                    f'app label {pair.app!r} comes from a module-level name; '
                    f'cannot change it for one entry',
                    pair.line,
                )
            edits.want(
                pair.app_node, pair.app, target[0], pair.line, 'app label',
            )
            edits.want(
                pair.name_node, pair.name, target[1], pair.line,
                'migration name',
            )
    except _Refusal as e:
        return Refused(e.reason, e.line)
    return edits.result()
