"""Writing files so that nobody ever sees half of one.

The one atomic writer (docs/design.md, "Never lose user content"): the new
content goes to a temporary file beside the target, gets its mode, and
replaces the target in one ``os.replace``; on any failure the temporary
file is removed and the target is as it was.
"""
from __future__ import annotations

import os
import tempfile


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
