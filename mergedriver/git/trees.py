"""Read files from a git tree: the work tree, the index, a commit, or a plain
directory that is not a repository (installed packages).

Every tree speaks repo-relative posix paths (``''`` is the top) and gives
each file's git blob id, so "what does HEAD look like", "what is staged" and
"what is in MERGE_HEAD" are answered by the same code.  For the work tree and
plain directories the blob id is computed the way git does
(sha1 of ``blob <len>\\0`` + data), which keys the parse cache.

Symbolic links are never followed: a symlink is an entry of kind
``symlink`` whose data is the link target, exactly as git stores it.
"""
from __future__ import annotations

import abc
import hashlib
import os
import stat
import time
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Literal
from typing import NamedTuple
from typing import TYPE_CHECKING

from mergedriver.errors import MigmergeError
from mergedriver.files import MAX_FILE_BYTES
from mergedriver.files import read_file
from mergedriver.files import streamed_blob_id
from mergedriver.git import location as gitdir
from mergedriver.git.ignores import IgnoreRules
from mergedriver.git.index import read_index
from mergedriver.git.location import Location

if TYPE_CHECKING:
    import pygit2

EntryKind = Literal['dir', 'file', 'symlink', 'other']
# Files changed less than this long ago may change again within the same
# mtime tick; their stat data is not trusted by the next run.
_RACY_NS = 3_000_000_000


# What a file's stat data must still be for its remembered blob id to hold
# (size, mtime, ctime, inode), as git's index checks it.  A tuple: making
# a string of it cost a warm run more than the lstat calls.
StatKey = tuple[int, int, int, int]


class Entry(NamedTuple):
    # A tuple, not a dataclass: a warm run lists every migration directory.
    name: str
    kind: EntryKind


def git_blob_id(data: bytes) -> str:
    """The id git gives a blob with this content (``git hash-object``)."""
    header = f'blob {len(data)}\0'.encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def join(parent: str, name: str) -> str:
    return f'{parent}/{name}' if parent else name


class Tree(abc.ABC):
    """A read-only view of one version of the files.

    A work-tree or directory view remembers the blob ids and file sizes it
    has seen; open a new view after writing files you want to read back.
    """

    # 'worktree', 'index', 'commit' or 'directory'
    kind: str
    # What to call this tree in messages: 'work tree', 'index', 'HEAD'...
    description: str
    # Where the parse cache lives for this tree, or None for no cache.
    cache_path: str | None

    @abc.abstractmethod
    def entries(self, path: str) -> tuple[Entry, ...]:
        """The entries of directory ``path``, sorted by name; () if none."""

    def listing(self, path: str) -> Mapping[str, EntryKind]:
        """name -> kind of the entries of directory ``path``, in no
        particular order (read-only); {} if none.  Cheaper than
        :meth:`entries` where a tree keeps its directories as maps."""
        return {e.name: e.kind for e in self.entries(path)}

    @abc.abstractmethod
    def entry_kind(self, path: str) -> EntryKind | None:
        """What ``path`` is, without following symlinks; None if absent."""

    @abc.abstractmethod
    def read(self, path: str) -> bytes:
        """The blob at ``path`` (the link target for a symlink)."""

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes]:
        """:meth:`read` of each path, in one go where that is cheaper."""
        return {path: self.read(path) for path in paths}

    @abc.abstractmethod
    def size(self, path: str) -> int:
        """The blob's size in bytes, without reading it where possible."""

    @abc.abstractmethod
    def oid(self, path: str) -> str:
        """The git blob id (hex) of ``path``."""

    def oids(self, paths: Sequence[str]) -> list[str]:
        """:meth:`oid` of each path (a warm run asks for every file)."""
        oid = self.oid
        return [oid(path) for path in paths]

    def is_ignored(self, path: str) -> bool:
        """Whether git ignores directory ``path`` (work tree only)."""
        return False

    @property
    def ignore_rules(self) -> IgnoreRules | None:
        """The work tree's ignore answers, remembered between runs; None
        for trees without ignore rules."""
        return None

    # Files on disk: the directory whose blob ids a stat cache may keep
    # (see ``preload_oids``); None for trees read from git's objects.
    stat_root: str | None = None

    def preload_oids(self, known: Mapping[str, tuple[object, str]]) -> None:
        """Blob ids computed by an earlier run: path -> (stat key, oid)."""

    def new_stat_rows(self) -> list[tuple[str, StatKey, str]]:
        """(path, stat key, oid) hashed by this run, safe to remember."""
        return []

    def known_size(self, path: str) -> int | None:
        """The size when it costs no read (files on disk), else None."""
        return None

    def kind_and_known_size(
            self, path: str,
    ) -> tuple[EntryKind | None, int | None]:
        """:meth:`entry_kind` and :meth:`known_size` in one call."""
        return self.entry_kind(path), self.known_size(path)

    def is_file(self, path: str) -> bool:
        return self.entry_kind(path) == 'file'

    def is_dir(self, path: str) -> bool:
        return self.entry_kind(path) == 'dir'


class _FilesystemTree(Tree):
    """Files on disk: a git work tree or a plain directory."""

    def __init__(
            self,
            root: str,
            *,
            kind: str,
            description: str,
            cache_path: str | None,
            location: Location | None = None,
    ) -> None:
        self.root = root
        self.kind = kind
        self.description = description
        self.cache_path = cache_path
        self._location = location
        self._repository: pygit2.Repository | None = None
        self._ignores = None if location is None else IgnoreRules(
            root, location, self._libgit2_ignores, self._excludes_files,
        )
        self._oids: dict[str, str] = {}
        # Content read to compute a blob id, kept for the parse that
        # follows on a cold run (read once, not twice).
        self._hashed: dict[str, bytes] = {}
        self._stats: dict[str, os.stat_result] = {}
        self.stat_root = root if cache_path is not None else None
        self._known: Mapping[str, tuple[object, str]] = {}
        self._new_rows: list[tuple[str, StatKey, str]] = []

    def _fs(self, path: str) -> str:
        # Plain concatenation: os.path.join costs more than the lstat.
        return f'{self.root}/{path}' if path else self.root

    @staticmethod
    def _entry_kind(e: os.DirEntry[str]) -> EntryKind:
        # DirEntry answers from the directory listing, without a stat call;
        # files first, the most common entries.
        if e.is_file(follow_symlinks=False):
            return 'file'
        elif e.is_dir(follow_symlinks=False):
            return 'dir'
        elif e.is_symlink():
            return 'symlink'
        else:
            return 'other'

    @staticmethod
    def _kind(mode: int) -> EntryKind:
        if stat.S_ISLNK(mode):
            return 'symlink'
        elif stat.S_ISDIR(mode):
            return 'dir'
        elif stat.S_ISREG(mode):
            return 'file'
        else:
            return 'other'

    def _lstat(self, path: str) -> os.stat_result | None:
        """lstat, once per existing path (a path found absent is asked
        again: a caller may be about to create it)."""
        result = self._stats.get(path)
        if result is not None:
            return result
        try:
            result = os.lstat(f'{self.root}/{path}' if path else self.root)
        except OSError:
            return None
        self._stats[path] = result
        return result

    def entries(self, path: str) -> tuple[Entry, ...]:
        try:
            with os.scandir(self._fs(path)) as it:
                found = [Entry(e.name, self._entry_kind(e)) for e in it]
        except OSError:
            return ()
        # Names are unique in a directory: the tuples sort by name.
        return tuple(sorted(found))

    def listing(self, path: str) -> Mapping[str, EntryKind]:
        kind = self._entry_kind
        try:
            with os.scandir(self._fs(path)) as it:
                return {e.name: kind(e) for e in it}
        except OSError:
            return {}

    def entry_kind(self, path: str) -> EntryKind | None:
        st = self._lstat(path)
        return None if st is None else self._kind(st.st_mode)

    def read(self, path: str) -> bytes:
        data = self._hashed.pop(path, None)
        if data is not None:
            return data
        # A symlink's data is its target, as git stores it.
        return read_file(self._fs(path), path=path, link_target=True)

    def size(self, path: str) -> int:
        st = self._lstat(path)
        if st is None:
            raise FileNotFoundError(path)
        return st.st_size

    def known_size(self, path: str) -> int | None:
        st = self._lstat(path)
        return None if st is None else st.st_size

    def kind_and_known_size(
            self, path: str,
    ) -> tuple[EntryKind | None, int | None]:
        st = self._lstat(path)
        if st is None:
            return None, None
        return self._kind(st.st_mode), st.st_size

    def preload_oids(self, known: Mapping[str, tuple[object, str]]) -> None:
        self._known = known

    def new_stat_rows(self) -> list[tuple[str, StatKey, str]]:
        return sorted(self._new_rows)

    def oid(self, path: str) -> str:
        oid = self._oids.get(path)
        if oid is not None:
            return oid
        st = self._lstat(path)
        if st is None:
            raise FileNotFoundError(path)
        # Like git's index: an unchanged (size, mtime, ctime, inode) means
        # unchanged content, so a warm run reads no file.  Only stat data
        # older than the clock's slack is remembered ("racy git").
        key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        known = self._known.get(path)
        if known is not None and known[0] == key:
            oid = known[1]
        elif stat.S_ISREG(st.st_mode) and st.st_size > MAX_FILE_BYTES:
            # Never read whole: discovery refuses it by its size.
            oid = streamed_blob_id(self._fs(path), path)
        else:
            data = self.read(path)
            self._hashed[path] = data
            oid = git_blob_id(data)
            settled = time.time_ns() - _RACY_NS
            if st.st_mtime_ns < settled and st.st_ctime_ns < settled:
                self._new_rows.append((path, key, oid))
        self._oids[path] = oid
        return oid

    def _repo(self) -> pygit2.Repository:
        assert self._location is not None
        if self._repository is None:
            self._repository = gitdir.repository(self._location)
        return self._repository

    def _libgit2_ignores(self, path: str) -> bool:
        return bool(self._repo().path_is_ignored(f'{path}/'))

    def _excludes_files(self) -> tuple[str, ...]:
        try:
            configured = self._repo().config['core.excludesFile']
        except (KeyError, ValueError):
            return ()
        return (os.path.expanduser(str(configured)),)

    def oids(self, paths: Sequence[str]) -> list[str]:
        # oid() inlined for the common case, a file whose stat data is
        # remembered: a warm run does this for every migration.
        result = []
        root = self.root
        stats = self._stats
        known = self._known
        oids = self._oids
        lstat = os.lstat
        for path in paths:
            oid = oids.get(path)
            if oid is None and path not in stats:
                try:
                    st = stats[path] = lstat(f'{root}/{path}')
                except OSError:
                    pass
                else:
                    remembered = known.get(path)
                    if remembered is not None and remembered[0] == (
                        st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                        st.st_ino,
                    ):
                        oid = oids[path] = remembered[1]
            result.append(self.oid(path) if oid is None else oid)
        return result

    def is_ignored(self, path: str) -> bool:
        if self._ignores is None or not path:
            return False
        return self._ignores.is_ignored(path)

    @property
    def ignore_rules(self) -> IgnoreRules | None:
        return self._ignores


# git's file modes (pygit2.GIT_FILEMODE_*), spelled out: a tree read from
# the index or the work tree never loads pygit2.
_GIT_KINDS: dict[int, EntryKind] = {
    0o040000: 'dir',
    0o100644: 'file',
    0o100755: 'file',
    0o120000: 'symlink',
}


def _git_kind(mode: int) -> EntryKind:
    return _GIT_KINDS.get(mode, 'other')  # submodules (commits) are 'other'


class _GitObjectsTree(Tree):
    """Shared reading of blobs from the object database."""

    _location: Location
    _repository: pygit2.Repository | None = None

    @property
    def _repo(self) -> pygit2.Repository:
        # Opened on first use: a warm run finds every blob in the cache.
        if self._repository is None:
            self._repository = gitdir.repository(self._location)
        return self._repository

    def _blob(self, path: str) -> pygit2.Blob:
        import pygit2

        blob = self._repo[self.oid(path)]
        assert isinstance(blob, pygit2.Blob)
        return blob

    def read(self, path: str) -> bytes:
        return self._blob(path).data

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes]:
        # A few blobs (a merge brings a handful of new migrations) are
        # cheaper to get from `git cat-file` than by loading libgit2.
        if self._repository is None and 0 < len(paths) <= _CAT_FILE_MAX:
            blobs = cat_file(
                self._location, [self.oid(path) for path in paths],
            )
            if blobs is not None:
                return {path: blobs[self.oid(path)] for path in paths}
        return {path: self.read(path) for path in paths}

    def size(self, path: str) -> int:
        return self._blob(path).size


# Up to this many blobs are read with `git cat-file` (see read_many).
_CAT_FILE_MAX = 200


def cat_file(location: Location, oids: Sequence[str]) -> dict[str, bytes] | None:
    """The blobs with these ids, read by ``git cat-file --batch``; None
    when git cannot give every one of them."""
    import subprocess  # not needed by a warm run

    request = ''.join(f'{oid}\n' for oid in oids).encode()
    try:
        proc = subprocess.run(
            ('git', f'--git-dir={location.git_dir}', 'cat-file', '--batch'),
            input=request, capture_output=True,
        )
    except OSError:
        return None
    if proc.returncode:
        return None
    out = proc.stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in oids:
        end = out.find(b'\n', pos)
        header = out[pos:end].split()
        if (
                end < 0 or len(header) != 3 or header[1] != b'blob' or
                header[0].decode() != oid or not header[2].isdigit()
        ):
            return None
        size = int(header[2])
        start = end + 1
        blobs[oid] = out[start:start + size]
        if len(blobs[oid]) != size:
            return None
        pos = start + size + 1  # the newline after the content
    return blobs


class _CommitTree(_GitObjectsTree):
    def __init__(
            self,
            location: Location,
            repo: pygit2.Repository,
            tree: pygit2.Tree,
            description: str,
    ) -> None:
        self._location = location
        self._repository = repo
        self._tree = tree
        self._listings: dict[str, dict[str, tuple[EntryKind, str]]] = {}
        self.kind = 'commit'
        self.description = description
        self.cache_path = gitdir.cache_path(location)

    def _object(self, path: str) -> pygit2.Object | None:
        if not path:
            return self._tree
        try:
            return self._tree[path]
        except KeyError:
            return None

    def _listing(self, path: str) -> dict[str, tuple[EntryKind, str]]:
        """name -> (kind, blob id) of directory ``path``; {} if it is none.

        Read once per directory: looking each file up from the root tree
        would cost a walk per file, and a check asks three things of each.
        """
        import pygit2

        listing = self._listings.get(path)
        if listing is None:
            obj = self._object(path)
            listing = {}
            if isinstance(obj, pygit2.Tree):
                for e in obj:
                    listing[e.name or ''] = (
                        _git_kind(e.filemode), str(e.id),
                    )
            self._listings[path] = listing
        return listing

    def entries(self, path: str) -> tuple[Entry, ...]:
        listing = self._listing(path)
        return tuple(Entry(n, listing[n][0]) for n in sorted(listing))

    def entry_kind(self, path: str) -> EntryKind | None:
        if not path:
            return 'dir'
        parent, _, name = path.rpartition('/')
        found = self._listing(parent).get(name)
        return None if found is None else found[0]

    def oid(self, path: str) -> str:
        if not path:
            return str(self._tree.id)
        parent, _, name = path.rpartition('/')
        found = self._listing(parent).get(name)
        if found is None:
            raise FileNotFoundError(path)
        return found[1]


class _IndexTree(_GitObjectsTree):
    """The staging area.  A path with unresolved conflicts is read from
    stage 2 ("ours"); if ours deleted it, it is absent."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self.kind = 'index'
        self.description = 'index'
        self.cache_path = gitdir.cache_path(location)
        blobs = read_index(location)
        self._blobs = blobs
        dirs: dict[str, dict[str, EntryKind]] = {'': {}}
        kinds = _GIT_KINDS
        for path, (_, mode) in blobs.items():
            parent, _, name = path.rpartition('/')
            children = dirs.get(parent)
            if children is None:
                children = dirs[parent] = {}
                # A directory met for the first time: enter it in its
                # parents, up to the first one already known.
                while parent:
                    grand, _, dir_name = parent.rpartition('/')
                    siblings = dirs.get(grand)
                    if siblings is None:
                        siblings = dirs[grand] = {}
                    elif dir_name in siblings:
                        break
                    siblings[dir_name] = 'dir'
                    parent = grand
            children[name] = kinds.get(mode, 'other')
        self._dirs = dirs

    def entries(self, path: str) -> tuple[Entry, ...]:
        children = self._dirs.get(path, {})
        return tuple(Entry(n, children[n]) for n in sorted(children))

    def listing(self, path: str) -> Mapping[str, EntryKind]:
        return self._dirs.get(path, {})

    def entry_kind(self, path: str) -> EntryKind | None:
        if path in self._dirs:
            return 'dir'
        blob = self._blobs.get(path)
        return None if blob is None else _git_kind(blob[1])

    def oid(self, path: str) -> str:
        try:
            return self._blobs[path][0]
        except KeyError:
            raise FileNotFoundError(path)


def open_repository(repo_dir: str) -> pygit2.Repository:
    return gitdir.repository(gitdir.locate(repo_dir))


def open_tree(
        repo_dir: str,
        *,
        rev: str | None = None,
        index: bool = False,
) -> Tree:
    """The work tree (default), the index, or the tree of commit ``rev``.

    ``repo_dir`` may be any directory inside the repository.
    """
    if rev is not None and index:
        raise MigmergeError('choose a revision or the index, not both')
    location = gitdir.locate(repo_dir)
    if index:
        return _IndexTree(location)
    elif rev is not None:
        import pygit2

        repo = gitdir.repository(location)
        try:
            tree = repo.revparse_single(rev).peel(pygit2.Tree)
        except (
                KeyError, ValueError, pygit2.GitError,
                pygit2.InvalidSpecError,
        ):
            raise MigmergeError(f'unknown revision: {rev}')
        return _CommitTree(location, repo, tree, rev)
    elif location.work_tree is None:
        raise MigmergeError(
            f'bare repository has no work tree: {location.git_dir}',
        )
    return _FilesystemTree(
        location.work_tree,
        kind='worktree',
        description='work tree',
        cache_path=gitdir.cache_path(location),
        location=location,
    )


def directory_tree(path: str, *, cache_path: str | None = None) -> Tree:
    """A plain directory (e.g. site-packages); no parse cache by default."""
    if not os.path.isdir(path):
        raise MigmergeError(f'not a directory: {path}')
    return _FilesystemTree(
        os.path.abspath(path),
        kind='directory',
        description=path,
        cache_path=cache_path,
    )
