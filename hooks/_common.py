"""What every hook shares: opening the repository and the exit statuses."""
from __future__ import annotations

import os
import posixpath
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from mergedriver.config import Config
from mergedriver.errors import EXIT_UNUSABLE
from mergedriver.errors import MigmergeError
from mergedriver.git import location

if TYPE_CHECKING:
    import pygit2


def open_repository(path: str = '.') -> pygit2.Repository:
    """The libgit2 repository of :func:`locate_clone` (loads pygit2)."""
    return location.repository(location.locate_clone(path))


def work_tree(repo: pygit2.Repository) -> str:
    """The top of the work tree, without a trailing separator."""
    workdir: str = repo.workdir
    return workdir.rstrip(os.sep) or os.sep


def run_reporting_errors(check: Callable[[], int]) -> int:
    """Run a hook body; unusable input is one line and exit status 2.

    The one place where MigmergeError becomes output: every hook's ``main``
    goes through here so no hook prints a traceback for bad input.
    """
    try:
        return check()
    except MigmergeError as e:
        print(e, file=sys.stderr)
        return EXIT_UNUSABLE


def configured_packages(config: Config) -> frozenset[str]:
    """Repo-relative directories of the ``migration_modules`` packages."""
    return frozenset(
        posixpath.normpath(posixpath.join(root, module.replace('.', '/')))
        for module in config.migration_modules.values() if module
        for root in config.source_roots
    )
