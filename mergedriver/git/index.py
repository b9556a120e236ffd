"""Read git's index file (the staging area) without loading libgit2.

What the hooks check is what is staged, so a warm hook reads ``.git/index``
itself: entries of versions 2 to 4, conflict stages as libgit2 gives them.
Anything unusual (split or sparse index, SHA-256 objects) goes to libgit2.
"""
from __future__ import annotations

import os
import struct

from mergedriver.git import location as gitdir
from mergedriver.git.location import Location


_INDEX_ENTRY = struct.Struct('>24xI12x20sH')
# Index extensions that change what the entries mean: a split index keeps
# entries in another file, a sparse index has directory entries.
_INDEX_EXTENSIONS_REFUSED = frozenset((b'link', b'sdir'))


def parse_index(data: bytes) -> dict[str, tuple[str, int]] | None:
    """path -> (blob id, mode) of a git index file (versions 2 to 4).

    What ``repo.index`` gives, without creating an object per entry (a
    large repository has tens of thousands).  A path with a conflict is
    read from stage 2 ("ours"), absent when ours deleted it, as
    :class:`_IndexTree` reads it.  None for what it leaves to libgit2: a
    split or sparse index, another version, anything malformed.
    """
    try:
        if data[:4] != b'DIRC':
            return None
        version, count = struct.unpack_from('>II', data, 4)
        if version not in (2, 3, 4):
            return None
        unpack = _INDEX_ENTRY.unpack_from
        end = len(data) - 20  # the trailing checksum
        blobs: dict[str, tuple[str, int]] = {}
        conflicted = 0
        pos = 12
        previous = b''
        for _ in range(count):
            mode, oid, flags = unpack(data, pos)
            stage = flags & 0x3000
            start = pos + (64 if flags & 0x4000 and version >= 3 else 62)
            if version == 4:
                byte = data[start]
                start += 1
                strip = byte & 0x7f
                while byte & 0x80:
                    byte = data[start]
                    start += 1
                    strip = ((strip + 1) << 7) | (byte & 0x7f)
                stop = data.index(b'\0', start)
                if strip > len(previous):
                    return None
                path = previous[:len(previous) - strip] + data[start:stop]
                pos = stop + 1
            else:
                length = flags & 0xfff
                if length == 0xfff:
                    stop = data.index(b'\0', start)
                else:
                    stop = start + length
                path = data[start:stop]
                # NUL padding to a multiple of 8 bytes, at least one NUL.
                pos += ((stop - pos) // 8 + 1) * 8
            if pos > end:
                return None
            previous = path
            # Stages 1 and 3 (base and theirs) are not what is committed.
            if not stage or stage == 0x2000:
                blobs[os.fsdecode(path)] = (oid.hex(), mode)
            else:
                conflicted += 1
        while pos + 8 <= end:
            signature = data[pos:pos + 4]
            if signature in _INDEX_EXTENSIONS_REFUSED:
                return None
            (size,) = struct.unpack_from('>I', data, pos + 4)
            pos += 8 + size
        if pos != end or len(blobs) + conflicted < count:
            return None
    except (struct.error, IndexError, ValueError):
        return None
    return blobs


def _sha1_repository(location: Location) -> bool:
    """Whether the repository's objects are SHA-1 (the index layout that
    :func:`parse_index` reads); when unsure, False."""
    try:
        with open(os.path.join(location.common_dir, 'config'), 'rb') as f:
            return b'objectformat' not in f.read().lower()
    except OSError:
        return False


def index_file(location: Location) -> str:
    """The index git itself would use: ``GIT_INDEX_FILE`` when set.

    ``git commit -a`` and ``git commit <paths>`` run the hooks with a
    temporary index in ``GIT_INDEX_FILE`` (relative paths are relative to
    the current directory, as git reads them); libgit2 ignores it.
    """
    env = os.environ.get('GIT_INDEX_FILE')
    if env:
        return os.path.abspath(env)
    return os.path.join(location.git_dir, 'index')


def read_index(location: Location) -> dict[str, tuple[str, int]]:
    """The staging area's path -> (blob id, mode), stage 2 for conflicts."""
    path = index_file(location)
    if _sha1_repository(location):
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        except OSError:
            pass
        else:
            blobs = parse_index(data)
            if blobs is not None:
                return blobs
    import pygit2  # what parse_index cannot read, libgit2 can

    if path == os.path.join(location.git_dir, 'index'):
        index = gitdir.repository(location).index
        index.read()
    else:
        index = pygit2.Index(path)
    blobs = {}
    for e in index:
        blobs[e.path] = (str(e.id), e.mode)
    if index.conflicts is not None:
        for ancestor, ours, theirs in index.conflicts:
            some = ours or theirs or ancestor
            if ours is not None:
                blobs[some.path] = (str(ours.id), ours.mode)
            else:
                blobs.pop(some.path, None)
    return blobs
