"""Reading and writing work-tree files safely: the one guarded reader and
the one atomic writer.

Everything migmerge reads from a work tree comes from a repository someone
else may have written: migration modules, ``apps.py``, ``pyproject.toml``
and ``setup.cfg``, lock files, ``.gitattributes``, the files passed to the
hooks, git's temporary files for the merge driver.  A symbolic link to
``/dev/zero`` or outside the repository, a FIFO, or a huge file must give
one ``path:line: message`` line, never a hang, an exhausted memory or a
read elsewhere.  The work tree's :class:`~mergedriver.git.trees.Tree` reads
through here, and so does every other reader; a leaf module, so that the
merge driver and the configuration use it without loading the rest.

Every write goes through :func:`write_atomic` (docs/design.md, "Never lose
user content"): the new content goes to a temporary file beside the target,
gets its mode, and replaces the target in one ``os.replace``; on any failure
the temporary file is removed and the target is as it was.
"""
from __future__ import annotations

import os
import stat
import tempfile

from mergedriver.errors import MigmergeError

_O_NOFOLLOW: int = getattr(os, 'O_NOFOLLOW', 0)
_O_BINARY: int = getattr(os, 'O_BINARY', 0)
# Opening a FIFO for reading waits for a writer; non-blocking, it does not,
# and fstat then says what it is.
_O_NONBLOCK: int = getattr(os, 'O_NONBLOCK', 0)
# Larger than any real migration, lock file or configuration; the same
# limit as a migration module's (cache.MAX_MIGRATION_BYTES).
MAX_FILE_BYTES = 2 * 1024 * 1024


def read_file(
        fs_path: str,
        *,
        path: str | None = None,
        top: str | None = None,
        limit: int = MAX_FILE_BYTES,
        link_target: bool = False,
) -> bytes:
    """The one way migmerge reads a file of the work tree.

    Never through a symbolic link (``O_NOFOLLOW``; with ``top``, no
    directory on the way may lead outside ``top`` either), only a regular
    file (a FIFO, a device or a directory is refused, without waiting on
    it), at most ``limit`` bytes.  ``path`` is how errors name the file
    (repo-relative).  A missing file raises FileNotFoundError, for the
    caller to decide; everything else unreadable is a MigmergeError.
    ``link_target``: a symbolic link reads as its target, the data git
    stores for it (for blob ids), instead of being an error.
    """
    shown = fs_path if path is None else path
    if top is not None:
        real_top = os.path.realpath(top)
        parent = os.path.realpath(os.path.dirname(os.path.abspath(fs_path)))
        if parent != real_top and not parent.startswith(
                real_top.rstrip(os.sep) + os.sep,
        ):
            raise MigmergeError(
                'its directory leads outside the repository (a symbolic '
                'link): not read', path=shown,
            )
    if not _O_NOFOLLOW and os.path.islink(fs_path):
        return _link(fs_path, shown, link_target)
    try:
        fd = os.open(
            fs_path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_BINARY,
        )
    except FileNotFoundError:
        raise
    except OSError as e:
        if os.path.islink(fs_path):  # O_NOFOLLOW refused a symlink
            return _link(fs_path, shown, link_target)
        raise MigmergeError(f'cannot read: {e.strerror}', path=shown)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MigmergeError(
                'not a regular file (a FIFO, device or directory): not read',
                path=shown,
            )
        chunks = []
        total = 0
        # st_size can lie (a file growing meanwhile): count what is read
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit or st.st_size > limit:
            raise MigmergeError(
                f'file is over the {limit // 1024 // 1024} MB limit: not read',
                path=shown,
            )
        return b''.join(chunks)
    finally:
        os.close(fd)


def streamed_blob_id(fs_path: str, shown: str) -> str:
    """The blob id of a regular file too large to hold, read in chunks."""
    import hashlib  # rarely needed; the merge driver never pays for it

    try:
        fd = os.open(
            fs_path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_BINARY,
        )
    except OSError as e:
        raise MigmergeError(f'cannot read: {e.strerror}', path=shown)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MigmergeError('not a regular file: not read', path=shown)
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(b'blob %d\0' % st.st_size)
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _link(fs_path: str, shown: str, link_target: bool) -> bytes:
    target = os.readlink(fs_path)
    if link_target:
        return os.fsencode(target)
    raise MigmergeError(
        f'symbolic link to {target!r}: migmerge never reads through '
        f'symbolic links', path=shown,
    )


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(
        path: str,
        content: str | bytes,
        *,
        mode: int | None = None,
        like: str | None = None,
) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8, line
    endings untouched) in one step.

    The new file gets ``mode``, else the mode of ``like`` (the file it
    replaces or is renamed from), else what the umask gives a new file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    data = content.encode('utf-8') if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f'.{os.path.basename(path)}.',
        suffix='.migmerge-tmp',
    )
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        if mode is None:
            mode = (
                os.stat(like).st_mode & 0o7777 if like is not None
                else _default_mode()
            )
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
