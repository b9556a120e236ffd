"""An app's label, read from its ``apps.py`` statically (never imported).

Django takes the label from the ``AppConfig`` subclass the app names (its
``label``, else the last part of its ``name``); this reads the same answer
from the syntax tree, and says None where only running the code would tell.
"""
from __future__ import annotations

import ast
import dataclasses


@dataclasses.dataclass(frozen=True)
class _ConfigClass:
    name: str
    bases: tuple[str, ...]  # dotted names as written
    attrs: dict[str, object]  # constant class attributes: label, name...


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    elif isinstance(node, ast.Attribute):
        value = _dotted(node.value)
        return None if value is None else f'{value}.{node.attr}'
    return None


def _class_attrs(node: ast.ClassDef) -> dict[str, object]:
    attrs: dict[str, object] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
            value = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
            value = stmt.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                if isinstance(value, ast.Constant):
                    attrs[target.id] = value.value
                else:  # assigned, but not statically known
                    attrs[target.id] = _UNKNOWN
    return attrs


_UNKNOWN = object()


def app_label_from_apps_py(source: bytes) -> str | None:
    """The label of the app config Django would pick from this apps.py.

    Django's rule (``AppConfig.create``): among the module's AppConfig
    subclasses (imported ones count too) without ``default = False``,
    exactly one is used; else exactly one with ``default = True``.  The
    picked class's ``label``, else the last part of its ``name``.  When that
    picks nothing because of ambiguity, a single label shared by every
    config class defined here is used (such a class is meant to be listed
    in INSTALLED_APPS by its dotted path).  None: the directory's name.
    """
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    imported: set[str] = set()
    app_config_names = {'AppConfig'}  # and its aliases
    classes: dict[str, _ConfigClass] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.ImportFrom):
            imported.update(a.asname or a.name for a in stmt.names)
            app_config_names.update(
                a.asname for a in stmt.names
                if a.name == 'AppConfig' and a.asname
            )
        elif isinstance(stmt, ast.Import):
            imported.update(
                (a.asname or a.name).partition('.')[0] for a in stmt.names
            )
        elif isinstance(stmt, ast.ClassDef):
            bases = tuple(filter(None, (_dotted(b) for b in stmt.bases)))
            classes[stmt.name] = _ConfigClass(
                stmt.name, bases, _class_attrs(stmt),
            )

    def is_app_config_base(base: str) -> bool:
        return base.rpartition('.')[2] in app_config_names

    def imported_config(base: str) -> bool:
        # An imported AppConfig subclass (``OscarConfig``); recognisable
        # statically only by being a base here and by its name.
        return (
            base not in classes and
            base.partition('.')[0] in imported and
            base.endswith('Config') and
            not is_app_config_base(base)
        )

    def is_config(name: str, seen: frozenset[str] = frozenset()) -> bool:
        cls = classes[name]
        return any(
            is_app_config_base(b) or imported_config(b) or (
                b in classes and b not in seen and
                is_config(b, seen | {name})
            )
            for b in cls.bases
        )

    def lookup(
            name: str, attr: str, seen: frozenset[str] = frozenset(),
    ) -> object:
        """A class attribute through local bases; _UNKNOWN if not found."""
        cls = classes[name]
        if attr in cls.attrs:
            return cls.attrs[attr]
        for base in cls.bases:
            if base in classes and base not in seen:
                value = lookup(base, attr, seen | {name})
                if value is not _UNKNOWN:
                    return value
            elif not is_app_config_base(base):
                return _UNKNOWN  # an imported base may set it
        return _UNKNOWN

    def label_of(name: str) -> str | None:
        label = lookup(name, 'label')
        if isinstance(label, str):
            return label
        app_name = lookup(name, 'name')
        if isinstance(app_name, str):
            return app_name.rpartition('.')[2]
        return None

    local = [name for name in classes if is_config(name)]
    imported_bases = sorted({
        b for name in local for b in classes[name].bases
        if imported_config(b)
    })

    def default_of(name: str) -> object:
        return lookup(name, 'default') if name in classes else _UNKNOWN

    candidates = [
        c for c in local + imported_bases if default_of(c) is not False
    ]
    if len(candidates) != 1:
        candidates = [c for c in candidates if default_of(c) is True]
    if len(candidates) == 1:
        if candidates[0] in classes:
            return label_of(candidates[0])
        return None
    labels = {label_of(name) for name in local}
    if len(labels) == 1:
        return labels.pop()
    return None
