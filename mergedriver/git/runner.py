"""The one way migmerge runs the ``git`` binary.

Always an argv list, never a shell (docs/design.md, "Rules that must always
hold"); output captured; a non-zero exit is the caller's to judge, except
through :func:`git_output`, which makes it one MigmergeError line.
"""
from __future__ import annotations

import subprocess
from collections.abc import Mapping

from mergedriver.errors import MigmergeError


def run_git(
        cwd: str,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``cwd``; bytes in and out."""
    return subprocess.run(
        ('git', *args), cwd=cwd, input=stdin, capture_output=True, env=env,
    )


def run_git_text(
        cwd: str,
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``cwd``; text in and out (the locale's encoding, as
    git's own messages)."""
    return subprocess.run(
        ('git', *args), cwd=cwd, input=stdin, capture_output=True, env=env,
        text=True,
    )


def git_output(cwd: str, *args: str, check: bool = True) -> str:
    """The standard output of ``git ARGS``; a failure is unusable input
    when ``check``."""
    proc = run_git_text(cwd, *args)
    if check and proc.returncode:
        raise MigmergeError(
            f'git {" ".join(args)} failed: {proc.stderr.strip()}',
        )
    return proc.stdout


def git_process(cwd: str, *args: str) -> subprocess.Popen[bytes]:
    """A long-running ``git ARGS`` (``cat-file --batch``) to talk to
    through pipes; the caller closes its stdin and waits."""
    return subprocess.Popen(
        ('git', *args), cwd=cwd, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
