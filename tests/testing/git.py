"""The real git binary in temp repositories.  The environment (HOME, git
config, identity) is set by the autouse ``git_home`` fixture in
conftest.py, so these helpers pass no environment of their own."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run git; fail the test if it fails; its stdout."""
    return subprocess.run(
        ('git', *args), cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout


def run_git(
        cwd: Path,
        *args: str,
        env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run git and return what happened, for a test that expects it may
    fail (a merge with conflicts, a refused commit)."""
    return subprocess.run(
        ('git', *args), cwd=cwd, capture_output=True, text=True, env=env,
    )


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, 'init', '-q', '-b', 'main')
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_files(root: Path, files: dict[str, bytes | str]) -> None:
    """Write ``{relative path: content}`` under ``root``."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def commit_all(
        repo: Path,
        message: str = 'commit',
        *,
        hooks: bool = True,
) -> None:
    """Stage everything and commit (an empty commit too).  ``hooks=False``
    passes --no-verify: setting up history needs no hooks, and each one
    costs a Python start-up."""
    git(repo, 'add', '-A')
    verify = () if hooks else ('--no-verify',)
    git(repo, 'commit', '-q', '--allow-empty', *verify, '-m', message)


def relpath(path: Path, repo: Path) -> str:
    return os.path.relpath(path, repo).replace(os.sep, '/')
