"""Refuse migration packages and modules that git ignores.

A migration that ``makemigrations`` wrote but a gitignore rule hides is never
committed, and every other machine is silently missing it.  pre-commit never
passes ignored files to a hook, so this hook walks the work tree itself.

pygit2 (libgit2's own ignore evaluation: every ``.gitignore``,
``.git/info/exclude``, ``core.excludesFile``) decides *whether* a path is
ignored.  libgit2 does not tell *which* rule matched, so the rule and the
file that holds it are named by ``git check-ignore -v --no-index``, run once
for all ignored paths as an argv list (no shell).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import posixpath
import subprocess
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence

import pygit2

from hooks._common import configured_packages
from hooks._common import open_repository
from hooks._common import run_reporting_errors
from hooks._common import work_tree
from mergedriver.config import Config
from mergedriver.config import load_config
from mergedriver.discovery.modules import is_migration_filename
from mergedriver.discovery.packages import glob_regex
from mergedriver.errors import EXIT_CLEAN
from mergedriver.errors import EXIT_PROBLEMS
from mergedriver.naming import parse_number

# Directories that hold other people's code or build output: their
# migrations are not the project's, even when a rule ignores them.
FOREIGN_DIRS = frozenset(('.git', 'node_modules', 'site-packages', '__pycache__'))


@dataclasses.dataclass(frozen=True)
class IgnoreRule:
    source: str  # the ignore file, as git names it
    line: int
    pattern: str


@dataclasses.dataclass(frozen=True)
class IgnoredMigration:
    path: str  # repo-relative, posix; a package ends with '/'
    rule: IgnoreRule | None

    @property
    def is_package(self) -> bool:
        return self.path.endswith('/')

    def one_line(self) -> str:
        what = 'migration package' if self.is_package else 'migration'
        if self.rule is None:
            return (
                f'{self.path}: this {what} is ignored by git; '
                f'migrations must be committed'
            )
        return (
            f'{self.rule.source}:{self.rule.line}: '
            f'{self.rule.pattern!r} ignores the {what} {self.path}; '
            f'migrations must be committed'
        )


def is_migrations_package(name: str, filenames: Iterable[str]) -> bool:
    """Django's default layout: ``<app>/migrations/``, a package or holding
    modules named the way makemigrations names them (``0001_initial.py``):
    a ``migrations`` directory of other tools (Alembic's ``env.py``) is not
    one."""
    if name != 'migrations':
        return False
    return any(
        f == '__init__.py' or (
            is_migration_filename(f) and parse_number(f[:-3]) is not None
        )
        for f in filenames
    )


def _is_foreign(path: str, name: str) -> bool:
    return (
        name in FOREIGN_DIRS or
        # a nested repository or submodule has its own ignore rules
        os.path.lexists(os.path.join(path, '.git')) or
        # a virtualenv inside the work tree
        os.path.exists(os.path.join(path, 'pyvenv.cfg'))
    )


def ignored_migrations(
        top: str,
        is_ignored: Callable[[str], bool],
        is_tracked: Callable[[str], bool],
        config: Config = Config(),
) -> Iterator[str]:
    """Walk the work tree under ``top``; yield ignored migration paths.

    Includes untracked and ignored files: that is the point.  A package that
    is ignored as a whole is yielded once (``app/migrations/``), not file by
    file.  Modules are looked at one by one only when untracked: a tracked
    module is committed whatever the rules say, and a rule that matches it
    is reported as soon as it hides a new one (this keeps a repository of
    thousands of migrations fast).  Ignored directories that are not
    migration packages (virtualenvs, build output) are not entered.
    ``config``: packages named in ``migration_modules`` count too, paths
    matched by ``exclude`` do not.
    """
    configured = configured_packages(config)
    # a configured package may sit below an ignored directory
    on_the_way = {
        posixpath.join(*parts[:i])
        for parts in (p.split('/') for p in configured)
        for i in range(1, len(parts))
    }
    excluded = tuple(glob_regex(p) for p in config.exclude if p.strip())

    def wanted(path: str) -> bool:
        return not any(r.fullmatch(path.rstrip('/')) for r in excluded)

    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top).replace(os.sep, '/')
        prefix = '' if rel == '.' else f'{rel}/'
        if (
                rel in configured or
                is_migrations_package(os.path.basename(dirpath), filenames)
        ):
            # Django reads only the package's top-level modules.
            dirnames[:] = []
            if is_ignored(prefix):
                if wanted(prefix):
                    yield prefix
                continue
            for filename in sorted(filenames):
                path = prefix + filename
                if (
                        (filename == '__init__.py' or
                         is_migration_filename(filename)) and
                        not is_tracked(path) and
                        is_ignored(path) and
                        wanted(path)
                ):
                    yield path
            continue
        kept = []
        for name in sorted(dirnames):
            if _is_foreign(os.path.join(dirpath, name), name):
                continue
            child = f'{prefix}{name}'
            if (
                    name != 'migrations' and
                    child not in configured and
                    child not in on_the_way and
                    is_ignored(f'{child}/')
            ):
                continue
            kept.append(name)
        dirnames[:] = kept


def parse_check_ignore(output: bytes) -> dict[str, IgnoreRule]:
    """``git check-ignore -v -z`` output -> path -> the rule that matched.

    Records are ``source NUL line NUL pattern NUL path NUL``.
    """
    fields = output.split(b'\0')
    rules = {}
    for i in range(0, len(fields) - 3, 4):
        source, line, pattern, path = (
            f.decode('utf-8', 'surrogateescape') for f in fields[i:i + 4]
        )
        if source:
            rules[path] = IgnoreRule(source, int(line), pattern)
    return rules


def name_rules(top: str, paths: Sequence[str]) -> Mapping[str, IgnoreRule]:
    """Which rule in which file ignores each path, as git reports it."""
    if not paths:
        return {}
    stdin = b''.join(p.encode('utf-8', 'surrogateescape') + b'\0' for p in paths)
    try:
        proc = subprocess.run(
            ('git', 'check-ignore', '-v', '--no-index', '-z', '--stdin'),
            cwd=top, input=stdin, capture_output=True, check=False,
        )
    except OSError:  # no git binary: still report, without the rule
        return {}
    return parse_check_ignore(proc.stdout)


def find_ignored(repo: pygit2.Repository) -> list[IgnoredMigration]:
    top = work_tree(repo)
    index = repo.index
    paths = list(
        ignored_migrations(
            top, repo.path_is_ignored, index.__contains__, load_config(top),
        ),
    )
    rules = name_rules(top, paths)
    return [IgnoredMigration(path, rules.get(path)) for path in paths]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Refuse migrations that gitignore rules hide from git.',
    )
    parser.add_argument(
        'filenames', nargs='*', help='ignored: the whole work tree is checked',
    )
    parser.parse_args(argv)

    def check() -> int:
        found = find_ignored(open_repository('.'))
        for ignored in found:
            print(ignored.one_line())
        return EXIT_PROBLEMS if found else EXIT_CLEAN

    return run_reporting_errors(check)


if __name__ == '__main__':
    raise SystemExit(main())
