"""Find a clone's git directories without loading libgit2.

Importing pygit2 costs about as much as a whole warm ``migmerge check``, and
most runs only need to know where the work tree, the index and the parse
cache are.  :func:`locate` answers that from the file system for the plain
layouts (a ``.git`` directory, or a ``.git`` file of a linked work tree)
and asks libgit2 for everything else (environment overrides, bare
repositories, ``core.worktree``, submodules), so its answers are always
libgit2's.  :func:`repository` opens the libgit2 repository when a caller
needs objects or ignore rules.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple
from typing import TYPE_CHECKING

from mergedriver.errors import MigmergeError

if TYPE_CHECKING:
    import pygit2

# Variables that change where git looks; with any of them set, libgit2
# decides.
_OVERRIDES = (
    'GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES',
    'GIT_DISCOVERY_ACROSS_FILESYSTEM',
)
_BARE = re.compile(rb'^\s*bare\s*=\s*(\S*)', re.I | re.M)


def _unusual(config: bytes) -> bool:
    """Whether the configuration moves the work tree (``core.worktree``,
    per-work-tree configuration) or may make the repository bare."""
    if b'worktree' in config.lower():
        return True
    return any(
        value.lower() not in (b'false', b'no', b'off', b'0')
        for value in _BARE.findall(config)
    )


class Location(NamedTuple):
    # The directory holding HEAD and the index (a linked work tree's own).
    git_dir: str
    # The directory shared by all work trees: objects, config, info/.
    common_dir: str
    # The top of the work tree; None for a bare repository.
    work_tree: str | None


def _read(path: str) -> bytes | None:
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError:
        return None


def _common_dir(git_dir: str) -> str:
    """Where a linked work tree's git dir points with ``commondir``."""
    common = _read(os.path.join(git_dir, 'commondir'))
    if common is None:
        return git_dir
    return os.path.normpath(
        os.path.join(git_dir, os.fsdecode(common.strip())),
    )


def _plain(git_dir: str, work_tree: str) -> Location | None:
    """The location when ``git_dir`` is an ordinary one, else None."""
    if not os.path.isfile(os.path.join(git_dir, 'HEAD')):
        return None
    common_dir = _common_dir(git_dir)
    config = _read(os.path.join(common_dir, 'config'))
    if config is None or _unusual(config):
        return None
    return Location(git_dir, common_dir, work_tree)


def _fast(start: str) -> Location | None:
    """The location found the simple way, or None to ask libgit2."""
    if any(os.environ.get(name) for name in _OVERRIDES):
        return None
    path = os.path.realpath(start)
    try:
        device = os.stat(path).st_dev
    except OSError:
        return None
    while True:
        if os.path.basename(path) == '.git':
            return None  # inside a git directory
        dot_git = os.path.join(path, '.git')
        if os.path.isdir(dot_git):
            return _plain(dot_git, path)
        elif os.path.isfile(dot_git):
            data = _read(dot_git)
            if data is None or not data.startswith(b'gitdir: '):
                return None
            target = os.fsdecode(data[len(b'gitdir: '):].strip())
            return _plain(os.path.normpath(os.path.join(path, target)), path)
        elif os.path.exists(os.path.join(path, 'HEAD')):
            return None  # maybe a bare repository
        parent = os.path.dirname(path)
        if parent == path:
            return None
        try:
            if os.stat(parent).st_dev != device:
                return None  # libgit2 stops at a file system boundary
        except OSError:
            return None
        path = parent


def _from_libgit2(start: str) -> Location:
    import pygit2

    found = pygit2.discover_repository(start)
    if found is None:
        raise MigmergeError(f'not a git repository: {start}')
    repo = pygit2.Repository(found)
    git_dir = os.path.normpath(repo.path)
    common_dir = _common_dir(git_dir)
    work_tree = None if repo.workdir is None else os.path.normpath(
        repo.workdir,
    )
    return Location(git_dir, common_dir, work_tree)


def locate(start: str) -> Location:
    """Where the repository containing ``start`` keeps its files."""
    return _fast(start) or _from_libgit2(start)


class Clone(Location):
    """A located repository with a work tree (see :func:`locate_clone`)."""

    work_tree: str


def locate_clone(start: str) -> Clone:
    """The non-bare repository containing ``start``, found like
    :func:`locate`; a bare one is unusable input."""
    location = locate(start)
    if location.work_tree is None:
        raise MigmergeError(f'a bare repository has no work tree: {start}')
    return Clone(*location)


def work_tree_top(start: str) -> str:
    """The top of the work tree containing ``start`` (``start`` itself in a
    bare repository, where only commits are read)."""
    return locate(start).work_tree or start


def merge_driver_configured(start: str, name: str) -> bool | None:
    """Whether the clone's own config file sets ``merge.<name>.driver``,
    read as bytes (no git run); None when it cannot be read.  ``migmerge
    install`` writes the driver there, so a warm ``check`` learns from
    this alone whether a driver is registered."""
    try:
        config = _read(os.path.join(locate(start).common_dir, 'config'))
    except MigmergeError:
        return None
    if config is None:
        return None
    pattern = re.compile(
        rb'^\s*\[merge\s+"' + re.escape(name.encode()) +
        rb'"\][^\[]*?^\s*driver\s*=', re.M | re.I,
    )
    return pattern.search(config) is not None


def repository(location: Location) -> pygit2.Repository:
    """The libgit2 repository at ``location`` (loads pygit2)."""
    import pygit2

    _follow_git_config_global()
    return pygit2.Repository(location.git_dir)


_global_shim: list[str] = []


def _follow_git_config_global() -> None:
    """Make libgit2 read the global configuration git reads.

    git (2.32+) reads ``GIT_CONFIG_GLOBAL`` in place of ``~/.gitconfig``
    and the XDG file; libgit2 knows only the latter two, so an excludes
    file named there alone (``core.excludesFile``) would hide a directory
    from git but not from us.  libgit2's global search path is pointed at
    a private directory whose ``.gitconfig`` includes that file (and which
    holds no XDG ``config``), once per process.
    """
    path = os.environ.get('GIT_CONFIG_GLOBAL')
    if not path or _global_shim:
        return
    import atexit
    import shutil
    import tempfile

    import pygit2
    from pygit2.enums import ConfigLevel

    from mergedriver.files import write_atomic

    directory = tempfile.mkdtemp(prefix='migmerge-gitconfig-')
    atexit.register(shutil.rmtree, directory, True)
    quoted = os.path.abspath(path).replace('\\', '\\\\').replace('"', '\\"')
    write_atomic(
        os.path.join(directory, '.gitconfig'),
        f'[include]\n\tpath = "{quoted}"\n',
    )
    pygit2.settings.search_path[ConfigLevel.GLOBAL] = directory
    pygit2.settings.search_path[ConfigLevel.XDG] = directory
    _global_shim.append(directory)


def cache_path(location: Location) -> str:
    """The parse cache, shared by all linked work trees of a clone."""
    return os.path.join(location.common_dir, 'migmerge', 'cache.sqlite3')
