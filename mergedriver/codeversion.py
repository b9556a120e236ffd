"""Which of migmerge's own sources an answer depends on, as one hash.

Cached records, check snapshots and graph pieces are keyed by the code that
computed them, so a changed parser or graph builder never reads stale rows.
The modules are found from their import lines, read as bytes and never
imported (a warm run must not load libcst), following ``from mergedriver.a.b
import c`` to ``a/b.py`` or ``a/b/__init__.py`` and to ``a/b/c.py`` when
``c`` is a submodule, so the key follows the code wherever it lives in the
package (docs/design.md, "The cache").  Indented imports count too: the
lazy imports inside functions are what a cold run loads.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re

PACKAGE = 'mergedriver'
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

_IMPORT_RE = re.compile(
    rb'^[ \t]*(?:'
    rb'from[ \t]+(mergedriver(?:\.\w+)*)[ \t]+import[ \t]+'
    rb'(\([^)]*\)|[^\n#]*)'
    rb'|import[ \t]+(mergedriver(?:\.\w+)*))',
    re.MULTILINE,
)


def _module_file(package_dir: str, module: str) -> str | None:
    """``mergedriver.a.b`` -> its source file, or None when there is none."""
    parts = module.split('.')[1:]
    base = os.path.join(package_dir, *parts)
    for path in (base + '.py', os.path.join(base, '__init__.py')):
        if os.path.isfile(path):
            return path
    return None


def _imported(source: bytes) -> list[str]:
    """Every ``mergedriver`` module these import lines may load: modules,
    their parent packages, and names that may be submodules (the caller
    keeps those that have a file)."""
    found: list[str] = []
    for module, names, plain in _IMPORT_RE.findall(source):
        target = (module or plain).decode()
        parts = target.split('.')
        found.extend('.'.join(parts[:i]) for i in range(1, len(parts) + 1))
        if module:
            bare = names.strip(b'()')
            for part in bare.replace(b'\\', b' ').split(b','):
                words = part.split()
                if words:
                    found.append(f'{target}.{words[0].decode()}')
    return found


def code_modules(
        roots: tuple[str, ...], package_dir: str = _PACKAGE_DIR,
) -> dict[str, str]:
    """Module name -> source file for ``roots`` and everything they import
    from the package, transitively."""
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(package_dir, module)
        if path is None:
            continue
        seen[module] = path
        try:
            with open(path, 'rb') as f:
                todo.extend(_imported(f.read()))
        except OSError:
            continue
    return seen


@functools.cache
def code_version(*roots: str) -> str:
    """A hash of the sources of ``roots`` and all they import from the
    package: any change to any of them changes it."""
    digest = hashlib.sha1(usedforsecurity=False)
    modules = code_modules(roots)
    if not modules:  # e.g. run from a zip: the names alone
        digest.update('\0'.join(sorted(roots)).encode())
    for module, path in sorted(modules.items()):
        try:
            with open(path, 'rb') as f:
                digest.update(module.encode() + b'\0' + f.read())
        except OSError:
            digest.update(module.encode() + b'\0')
    return digest.hexdigest()
