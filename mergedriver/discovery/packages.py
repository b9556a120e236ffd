"""Find the migration packages Django would load, and their modules.

A migration package is what Django's ``MigrationLoader.load_disk`` imports:
``<app>/migrations/`` with an ``__init__.py``, or the package an app label
is mapped to in ``migration_modules`` (Django's MIGRATION_MODULES).  Works on
any :class:`~mergedriver.git.trees.Tree`, so the work tree, the index and a
commit are discovered the same way.

What counts as an app (README, "What counts as an app"): a directory with
``apps.py`` or a ``models`` module; or a Python package whose
``migrations/`` package holds a module defining ``class Migration(...)``
with a base ending in ``Migration`` (an installed app may carry only
migrations).  Every other ``migrations/`` package found is reported as
skipped, with the reason, never dropped silently.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from mergedriver.config import Config
from mergedriver.discovery.labels import app_label_from_apps_py
from mergedriver.discovery.modules import is_migration_filename
from mergedriver.errors import MigmergeError
from mergedriver.files import MAX_FILE_BYTES
from mergedriver.git.trees import Entry
from mergedriver.git.trees import join
from mergedriver.git.trees import Tree


class Skipped(NamedTuple):
    """A ``migrations`` package discovery did not take, and why."""

    path: str
    why: str


class MigrationFile(NamedTuple):
    # A tuple, not a dataclass: a warm run makes one per migration.
    app_label: str
    name: str
    path: str  # repo-relative posix path of the module
    oid: str  # git blob id, hex
    package: str  # repo-relative posix path of the migrations package


# Directory names never walked into: tools' and packagers' trees.
_SKIPPED_DIRS = frozenset(('node_modules', 'site-packages', '__pycache__'))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repo-relative glob: ``*`` and ``?`` stay within one path segment,
    ``**`` spans segments; a pattern naming a directory covers its
    contents."""
    out = []
    i = 0
    pattern = pattern.strip().strip('/')
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith('**/', i):
            out.append('(?:.*/)?')
            i += 3
        elif pattern.startswith('**', i):
            out.append('.*')
            i += 2
        elif c == '*':
            out.append('[^/]*')
            i += 1
        elif c == '?':
            out.append('[^/]')
            i += 1
        elif c == '[':
            end = pattern.find(']', i + 2)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1:end]
                if body.startswith('!'):
                    body = '^' + body[1:]
                out.append(f'[{body}]')
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile(''.join(out) + '(?:/.*)?')


class _Excluder:
    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._regexes = tuple(glob_regex(p) for p in patterns if p.strip())
        # False when nothing is excluded (callers may skip the call).
        self.active = bool(self._regexes)

    def __call__(self, path: str) -> bool:
        if not self._regexes:
            return False
        return any(r.fullmatch(path) for r in self._regexes)


def _has_init(tree: Tree, package: str) -> bool:
    return tree.entry_kind(join(package, '__init__.py')) in ('file', 'symlink')


def _is_venv(entries: tuple[Entry, ...]) -> bool:
    return any(e.name == 'pyvenv.cfg' for e in entries)


def _find_migration_dirs(
        tree: Tree, excluded: _Excluder, skipped: list[Skipped],
) -> list[str]:
    """Every ``migrations/`` package in the tree, sorted.

    Skips hidden directories, virtualenvs, ``node_modules``,
    ``site-packages``, nested repositories, excluded globs and (in the work
    tree) directories git ignores -- except that a directory named
    ``migrations`` is read even when ignored, because Django loads what is
    on disk (the ``migrations-not-ignored`` hook reports those).
    An excluded ``migrations`` package, or an excluded directory holding
    one, goes to ``skipped``.
    """
    found = []
    stack = ['']
    while stack:
        path = stack.pop()
        entries = tree.entries(path)
        if path and (
                _is_venv(entries) or any(e.name == '.git' for e in entries)
        ):
            continue
        for entry in entries:
            if entry.kind != 'dir':
                continue  # symlinked directories are not followed
            name = entry.name
            child = join(path, name)
            if name.startswith('.') or name in _SKIPPED_DIRS:
                continue
            if excluded(child):
                # One look, not a walk: what an excluded tree holds deeper
                # down costs nothing to find.
                package = (
                    child if name == 'migrations' else
                    join(child, 'migrations')
                )
                if _has_init(tree, package):
                    skipped.append(Skipped(package, EXCLUDED))
                continue
            if name == 'migrations':
                if path and _has_init(tree, child):
                    found.append(child)
                continue  # its subpackages are never apps
            if tree.is_ignored(child):
                continue
            stack.append(child)
    return sorted(found)


# Django's own migration framework package, which is not an app.
_DJANGO_FRAMEWORK = 'django/db/migrations'


EXCLUDED = 'excluded by the exclude setting'
NO_MIGRATION_CLASS = 'not an app: no module defines a Migration class'
NOT_IN_PACKAGE = 'not an app: its directory is not a Python package'
FRAMEWORK = "not an app: Django's migration framework"

# ``class Migration(<bases>)`` at the start of a line.  Deciding "defines a
# Migration class" must stay a byte search: discovery runs on every warm
# check and never imports or parses (docs/design.md, "Rules that must
# always hold").
_MIGRATION_CLASS = re.compile(rb'^class[ \t]+Migration[ \t]*\(([^)]*)\)', re.M)
_BASE_NAME = re.compile(r'(?:^|\.)\w*Migration$')


def defines_migration_class(data: bytes) -> bool:
    """Whether module source ``data`` defines ``class Migration`` with a base
    whose name ends in ``Migration`` (``migrations.Migration``, a project's
    ``BaseMigration``): Django's loader requires such a class."""
    for match in _MIGRATION_CLASS.finditer(data):
        bases = match.group(1).decode('ascii', 'replace')
        for base in bases.split(','):
            base = base.strip()
            if base and '=' not in base and _BASE_NAME.search(base):
                return True
    return False


def _looks_like_app(tree: Tree, app_dir: str) -> bool:
    """An app has ``apps.py`` or a ``models`` module; a ``migrations``
    package anywhere else is a helper package (``wagtail.blocks``) unless
    it holds migrations (:func:`_why_not_app`)."""
    return (
        tree.entry_kind(join(app_dir, 'apps.py')) is not None or
        tree.entry_kind(join(app_dir, 'models.py')) is not None or
        _has_init(tree, join(app_dir, 'models'))
    )


def _holds_migrations(tree: Tree, package: str) -> bool:
    """Whether a module of ``package`` defines a Migration class -- or
    cannot be read to tell (a symbolic link, a file over the size limit):
    Django would load it, so the package is taken and loading reports
    that module (a ``parse-error``), rather than the package vanishing."""
    for name in migration_module_names(tree, package):
        path = join(package, f'{name}.py')
        if tree.entry_kind(path) != 'file':
            return True
        size = tree.known_size(path)
        if size is not None and size > MAX_FILE_BYTES:
            return True
        try:
            data = tree.read(path)
        except (MigmergeError, OSError, KeyError):
            return True
        if defines_migration_class(data):
            return True
    return False


def _why_not_app(tree: Tree, package: str, app_dir: str) -> str | None:
    """None when ``package`` is an app's migrations package, else why not.
    Cheap first: the byte search runs only for a ``migrations`` package
    whose directory has neither ``apps.py`` nor models."""
    if f'/{package}'.endswith(f'/{_DJANGO_FRAMEWORK}'):
        return FRAMEWORK
    if _looks_like_app(tree, app_dir):
        return None
    if not _has_init(tree, app_dir):
        return NOT_IN_PACKAGE
    if _holds_migrations(tree, package):
        return None
    return NO_MIGRATION_CLASS


def _parent(path: str) -> str:
    return path.rpartition('/')[0]


def _basename(path: str) -> str:
    return path.rpartition('/')[2]


def _app_label(tree: Tree, app_dir: str, config: Config) -> str:
    configured = config.app_labels.get(app_dir or '.')
    if configured is not None:
        return configured
    apps_py = join(app_dir, 'apps.py')
    if tree.entry_kind(apps_py) == 'file':
        label = app_label_from_apps_py(tree.read(apps_py))
        if label is not None:
            return label
    return _basename(app_dir)


def _configured_package(
        tree: Tree, module: str, config: Config,
) -> str | None:
    """Where a dotted ``migration_modules`` value lives, if in the tree."""
    for root in config.source_roots:
        base = '' if root == '.' else root
        package = join(base, module.replace('.', '/'))
        if tree.is_dir(package) and _has_init(tree, package):
            return package
    return None


def discover_packages(tree: Tree, config: Config) -> dict[str, str]:
    """App label -> repo-relative path of its migrations package.

    Raises MigmergeError when two packages resolve to one label.
    """
    return discover_packages_and_skipped(tree, config)[0]


def discover_packages_and_skipped(
        tree: Tree, config: Config,
) -> tuple[dict[str, str], tuple[Skipped, ...]]:
    """:func:`discover_packages`, and the ``migrations`` packages it did not
    take with the reason, sorted by path."""
    excluded = _Excluder(config.exclude)
    skipped: list[Skipped] = []
    found: dict[str, str] = {}

    def add(label: str, package: str) -> None:
        other = found.get(label)
        if other is not None and other != package:
            first, second = sorted((other, package))
            raise MigmergeError(
                f'app label {label!r} is used by two migration packages, '
                f'{first} and {second}; set app_labels in the '
                f'[tool.migmerge] configuration',
                path=second,
            )
        found[label] = package

    configured_paths: dict[str, str] = {}
    for label, module in config.migration_modules.items():
        if module:
            package = _configured_package(tree, module, config)
            if package is not None and not excluded(package):
                configured_paths[package] = label

    for package in _find_migration_dirs(tree, excluded, skipped):
        app_dir = _parent(package)
        if package in configured_paths:
            continue
        if (app_dir or '.') not in config.app_labels:
            why = _why_not_app(tree, package, app_dir)
            if why is not None:
                skipped.append(Skipped(package, why))
                continue
        label = _app_label(tree, app_dir, config)
        if label in config.migration_modules:
            # MIGRATION_MODULES replaces the app's own package
            skipped.append(Skipped(
                package, f'replaced by migration_modules[{label!r}]',
            ))
            continue
        add(label, package)
    for package, label in sorted(configured_paths.items()):
        add(label, package)
    return dict(sorted(found.items())), tuple(sorted(set(skipped)))


def migration_module_names(tree: Tree, package: str) -> tuple[str, ...]:
    """The modules Django loads from ``package``, as ``pkgutil.iter_modules``
    lists them: ``*.py`` files whose name has no dot and does not start with
    ``_`` or ``~``; a same-named subpackage shadows a module and
    subpackages are not migrations.  Compiled-only modules (``.pyc``,
    extension modules) cannot be read statically and are not listed."""
    listing = tree.listing(package)
    names = []
    for name, kind in listing.items():
        if (kind == 'file' or kind == 'symlink') and (
                is_migration_filename(name)
        ):
            names.append(name[:-3])
    shadowed = {
        stem for stem in names
        if listing.get(stem) == 'dir' and _has_init(tree, join(package, stem))
    }
    if shadowed:
        names = [stem for stem in names if stem not in shadowed]
    return tuple(sorted(names))


def discover(
        tree: Tree,
        config: Config,
        *,
        packages: Mapping[str, str] | None = None,
) -> tuple[MigrationFile, ...]:
    """Every migration module in the tree, sorted by (app label, name).

    ``packages`` is :func:`discover_packages`'s answer when already known.
    """
    if packages is None:
        packages = discover_packages(tree, config)
    excluded = _Excluder(config.exclude)
    files = []
    for label, package in packages.items():
        prefix = f'{package}/' if package else ''
        names = []
        paths = []
        for name in migration_module_names(tree, package):
            path = f'{prefix}{name}.py'
            if not excluded.active or not excluded(path):
                names.append(name)
                paths.append(path)
        for name, path, oid in zip(names, paths, tree.oids(paths)):
            files.append(MigrationFile(label, name, path, oid, package))
    return tuple(files)
