"""git's ignore rules for work-tree directories, remembered between runs.

Discovery skips directories git ignores, and asking libgit2 means loading
pygit2, which costs about as much as a whole warm ``check``.  So a run
keeps its answers together with a fingerprint of every input they depend
on: the ``.gitignore`` of each directory whose children were asked about,
``info/exclude``, the configuration files that may name an excludes file,
that excludes file, and the environment variables that move them.  The
next run answers from memory, then compares fingerprints; on any
difference (or a directory never asked about) the caller walks again with
libgit2 answering, so a remembered answer is only used for identical
rules.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import NamedTuple

from mergedriver.git.location import Location

# Files changed less than this long ago may change again within the same
# timestamp; a fingerprint over them is not remembered.
_RACY_NS = 3_000_000_000


class Remembered(NamedTuple):
    fingerprint: str
    # Excludes files named by the configuration (core.excludesFile).
    excludes_files: tuple[str, ...]
    # Directory (repo-relative) -> ignored.
    decisions: dict[str, bool]


def _stat_key(path: str, settled: int) -> tuple[str, bool]:
    """(key, settled) of a file: its stat data, or 'absent'."""
    try:
        st = os.stat(path)
    except OSError:
        return 'absent', True
    key = f'{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}'
    return key, st.st_mtime_ns < settled and st.st_ctime_ns < settled


def _global_files(location: Location) -> list[str]:
    home = os.path.expanduser('~')
    xdg = os.environ.get('XDG_CONFIG_HOME') or os.path.join(home, '.config')
    return [
        os.path.join(location.common_dir, 'config'),
        os.path.join(location.common_dir, 'info', 'exclude'),
        os.path.join(home, '.gitconfig'),
        os.path.join(xdg, 'git', 'config'),
        os.path.join(xdg, 'git', 'ignore'),
        '/etc/gitconfig',
    ]


def _environment() -> list[str]:
    return sorted(
        f'{k}={v}' for k, v in os.environ.items()
        if k.startswith('GIT_CONFIG') or k in ('HOME', 'XDG_CONFIG_HOME')
    )


class IgnoreRules:
    """Answers "is this directory ignored?" for one work tree and one run."""

    def __init__(
            self,
            root: str,
            location: Location,
            ask_libgit2: Callable[[str], bool],
            excludes_files: Callable[[], tuple[str, ...]],
    ) -> None:
        self._root = root
        self._location = location
        self._ask = ask_libgit2
        self._excludes_files = excludes_files
        self._memory: Remembered | None = None
        self._decisions: dict[str, bool] = {}
        # Directory -> stat key of its .gitignore.
        self._ignore_files: dict[str, str] = {}
        self._settled = True
        self._asked = False
        self._used_memory = False

    def remember(self, memory: Remembered | None) -> None:
        self._memory = memory

    def is_ignored(self, path: str) -> bool:
        parent = path.rpartition('/')[0]
        if parent not in self._ignore_files:
            self._note(parent)
        decision = self._decisions.get(path)
        if decision is None:
            memory = self._memory
            if memory is not None and path in memory.decisions:
                decision = memory.decisions[path]
                self._used_memory = True
            else:
                decision = self._ask(path)
                self._asked = True
            self._decisions[path] = decision
        return decision

    def _note(self, directory: str) -> None:
        where = f'{self._root}/{directory}' if directory else self._root
        key, settled = _stat_key(f'{where}/.gitignore', self._settled_ns())
        self._ignore_files[directory] = key
        self._settled = self._settled and settled

    def _settled_ns(self) -> int:
        return time.time_ns() - _RACY_NS

    def _fingerprint(self, excludes_files: tuple[str, ...]) -> str | None:
        """The fingerprint of this run's inputs; None when some input
        changed too recently to be trusted next time."""
        settled_ns = self._settled_ns()
        parts = ['ignores 1', *_environment()]
        settled = self._settled
        for path in (*_global_files(self._location), *excludes_files):
            key, ok = _stat_key(path, settled_ns)
            settled = settled and ok
            parts.append(f'{path}\0{key}')
        parts.extend(
            f'{d}/.gitignore\0{k}' for d, k in sorted(self._ignore_files.items())
        )
        digest = hashlib.sha1(
            '\n'.join(parts).encode('utf-8', 'surrogateescape'),
            usedforsecurity=False,
        ).hexdigest()
        return digest if settled else f'unsettled {digest}'

    def stale(self) -> bool:
        """Whether a remembered answer was used under other rules; the
        caller must walk again (with :meth:`restart`)."""
        if not self._used_memory:
            return False
        memory = self._memory
        assert memory is not None
        return (
            self._asked or
            self._fingerprint(memory.excludes_files) != memory.fingerprint
        )

    def restart(self) -> None:
        """Forget every answer: the next walk asks libgit2."""
        self._memory = None
        self._decisions = {}
        self._ignore_files = {}
        self._settled = True
        self._asked = False
        self._used_memory = False

    def to_remember(self) -> Remembered | None:
        """What the next run may use, when this run asked libgit2."""
        if not self._asked or self._used_memory:
            return None
        excludes = self._excludes_files()
        fingerprint = self._fingerprint(excludes)
        if fingerprint is None or fingerprint.startswith('unsettled'):
            return None
        return Remembered(fingerprint, excludes, dict(self._decisions))
