"""Ask the development database which migrations it applied, before any
are renamed.

A database that recorded ``0003_x`` in ``django_migrations`` keeps that row
once the file is ``0004_x``; Django then takes ``0004_x`` for unapplied and
runs its operations again (docs/design.md, "Rules that must always hold":
never a silent wrong answer).  So before renumbering, ``resolve`` and the
rebase hook run ``showmigrations_command`` (default ``python manage.py
showmigrations --skip-checks --list {apps}``) and read its ``[X]`` lines.
The answer is one of: these of the migrations to rename are applied (maybe
none), or "unknown" with a one-line reason (no ``manage.py``, the command
failed or timed out, its output did not list an app, or it may not run).

Running it is running the project's code (``manage.py``, settings, apps),
as the default ``rollback_command`` does.  The same rule therefore holds
(issue 12, :mod:`mergedriver.resolution.rollback`): migmerge's default
command runs without approval, being what the developer runs by hand every
day; a ``showmigrations_command`` from the committed configuration is
arbitrary code any upstream commit can change, so it runs only once
approved in this clone (``migmerge approve-rollback`` approves both).  And
where the project configured its own ``rollback_command`` but no
``showmigrations_command``, the default would likely ask another database
than the one the rollback migrates (a container's, say): the answer is
"unknown" rather than a confident wrong "nothing applied".

The command runs as isolated from the repository as a command that must
load the project can: an argv list (no shell), standard input closed, a
timeout after which its whole process group is killed, git's hook
variables (``GIT_DIR``, ``GIT_INDEX_FILE``...) removed so that nothing in it
acts on the rebase's repository state, and the program looked up on
``PATH`` without relative entries (``.``, an empty entry), so a ``python``
committed at the top of the work tree is never the one that runs.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

from mergedriver.config import Config
from mergedriver.config import DEFAULT_SHOWMIGRATIONS_COMMAND
from mergedriver.records import MigrationKey
from mergedriver.resolution.rollback import APPROVE_COMMAND
from mergedriver.resolution.rollback import is_approved
from mergedriver.resolution.rollback import needs_approval

APPS_PLACEHOLDER = '{apps}'
# ` [X] 0003_x`, ` [ ] 0003_x`, ` [-] 0003_squashed (2 squashed migrations)`,
# `[X] 0003_x (applied at ...)` with -v2.
_MIGRATION_LINE = re.compile(r'^\s+\[([X\- ])\]\s+(\S+)')
_APP_LINE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)\s*$')


@dataclasses.dataclass(frozen=True)
class DatabaseAnswer:
    """What the development database said; ``applied`` None: unknown."""

    command: str  # as shown to the user
    applied: frozenset[MigrationKey] | None
    reason: str = ''  # why unknown

    @property
    def known(self) -> bool:
        return self.applied is not None

    def unknown_line(self) -> str:
        return (
            f'migmerge: cannot tell which migrations the development '
            f'database applied: {self.reason}'
        )


def showmigrations_argv(
        template: Sequence[str], apps: Iterable[str],
) -> tuple[str, ...]:
    """The template with an ``{apps}`` element expanded to one per app."""
    argv: list[str] = []
    for arg in template:
        if arg == APPS_PLACEHOLDER:
            argv.extend(apps)
        else:
            argv.append(arg)
    return tuple(argv)


def parse_showmigrations(text: str) -> dict[str, frozenset[str]]:
    """``showmigrations --list`` output -> app -> the names marked ``[X]``
    (every app listed is a key, also one with nothing applied)."""
    found: dict[str, set[str]] = {}
    app = None
    for line in text.splitlines():
        migration = _MIGRATION_LINE.match(line)
        if migration is not None:
            if app is not None and migration[1] == 'X':
                found[app].add(migration[2])
            continue
        header = _APP_LINE.match(line)
        if header is not None:
            app = header[1]
            found.setdefault(app, set())
    return {app: frozenset(names) for app, names in found.items()}


def isolated_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for the project's command: without git's hook
    variables, and with only absolute ``PATH`` entries."""
    env = {k: v for k, v in environ.items() if not k.startswith('GIT_')}
    if 'PATH' in env:
        env['PATH'] = os.pathsep.join(
            p for p in env['PATH'].split(os.pathsep) if os.path.isabs(p)
        )
    return env


def run_isolated(
        argv: Sequence[str], *, cwd: str, timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as described in the module docstring.  Raises OSError
    (cannot start) and subprocess.TimeoutExpired (killed)."""
    env = isolated_env(os.environ)
    program = argv[0]
    if os.sep not in program:
        found = shutil.which(program, path=env.get('PATH', os.defpath))
        if found is None:
            raise FileNotFoundError(2, f'{program} not found on PATH')
        program = found
    proc = subprocess.Popen(
        (program, *argv[1:]), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        errors='replace', start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # The whole group: manage.py may have started children.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else '(no output)'


def ask_database(
        top: str,
        config: Config,
        common_dir: str,
        apps: Sequence[str],
) -> DatabaseAnswer:
    """Which migrations of ``apps`` the development database applied."""
    template = config.showmigrations_command
    argv = showmigrations_argv(template, apps)
    shown = shlex.join(argv)

    def unknown(reason: str) -> DatabaseAnswer:
        return DatabaseAnswer(shown, None, reason)

    if needs_approval(template, DEFAULT_SHOWMIGRATIONS_COMMAND):
        if not is_approved(common_dir, template, DEFAULT_SHOWMIGRATIONS_COMMAND):
            return unknown(
                f'showmigrations_command from the repository\'s '
                f'configuration is not approved in this clone: {shown}; '
                f'review it, then run `{APPROVE_COMMAND}`',
            )
    else:
        if needs_approval(config.rollback_command):
            return unknown(
                'rollback_command is configured but showmigrations_command '
                'is not; configure it to ask the database that '
                'rollback_command migrates',
            )
        if not os.path.isfile(os.path.join(top, 'manage.py')):
            return unknown(
                'no manage.py at the top of the work tree (configure '
                'showmigrations_command)',
            )
    timeout = config.showmigrations_timeout
    try:
        proc = run_isolated(argv, cwd=top, timeout=timeout)
    except subprocess.TimeoutExpired:
        return unknown(f'`{shown}` took longer than {timeout:g} s')
    except OSError as e:
        return unknown(f'cannot run `{shown}`: {e.strerror}')
    if proc.returncode:
        return unknown(
            f'`{shown}` failed with exit status {proc.returncode}: '
            f'{_last_line(proc.stderr or proc.stdout)}',
        )
    listed = parse_showmigrations(proc.stdout)
    for app in apps:
        if app not in listed:
            return unknown(f'`{shown}` did not list {app}')
    return DatabaseAnswer(
        shown,
        frozenset((app, name) for app in apps for name in listed[app]),
    )
