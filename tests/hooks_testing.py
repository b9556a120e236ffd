"""Shared pieces of the hook tests: isolated git, temp repositories,
migration module sources."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ConfigLevel


@pytest.fixture
def git_home(
        tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A HOME of its own, so the developer's global git config and global
    excludes file cannot change a result.  Yields that HOME."""
    home = tmp_path_factory.mktemp('home')
    for var in (
            'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_SYSTEM', 'XDG_CONFIG_HOME',
            'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE',
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.setenv('GIT_CONFIG_NOSYSTEM', '1')
    for role in ('AUTHOR', 'COMMITTER'):
        monkeypatch.setenv(f'GIT_{role}_NAME', 'Test')
        monkeypatch.setenv(f'GIT_{role}_EMAIL', 'test@example.com')
    # libgit2 read HOME once, when pygit2 was imported: point its config
    # search path at the same HOME for the in-process hook calls.
    levels = (ConfigLevel.SYSTEM, ConfigLevel.XDG, ConfigLevel.GLOBAL)
    saved = {level: pygit2.settings.search_path[level] for level in levels}
    pygit2.settings.search_path[ConfigLevel.SYSTEM] = str(home / 'no-system')
    pygit2.settings.search_path[ConfigLevel.XDG] = str(home / '.config/git')
    pygit2.settings.search_path[ConfigLevel.GLOBAL] = str(home)
    try:
        yield home
    finally:
        for level, value in saved.items():
            pygit2.settings.search_path[level] = value


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ('git', *args), cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, 'init', '-q', '-b', 'main')
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def commit_all(repo: Path, message: str = 'commit') -> None:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--allow-empty', '-m', message)


def migration_source(
        dependencies: Sequence[tuple[str, str]] = (),
        operations: str = '',
        *,
        extra: str = '',
        header: str = '',
) -> str:
    """A module shaped like what makemigrations writes."""
    deps = ''.join(f'        ({a!r}, {n!r}),\n' for a, n in dependencies)
    return (
        f'{header}from django.db import migrations, models\n'
        f'\n'
        f'\n'
        f'class Migration(migrations.Migration):\n'
        f'{extra}'
        f'    dependencies = [\n{deps}    ]\n'
        f'\n'
        f'    operations = [\n{operations}    ]\n'
    )


def add_migration(
        repo: Path,
        app: str,
        name: str,
        dependencies: Sequence[tuple[str, str]] = (),
        operations: str = '',
        **kwargs: str,
) -> Path:
    package = repo / app / 'migrations'
    # what discovery takes for a Django app: a package with models
    for path in (repo / app / '__init__.py', repo / app / 'models.py'):
        if not path.exists():
            write(path, '')
    if not (package / '__init__.py').exists():
        write(package / '__init__.py', '')
    return write(
        package / f'{name}.py',
        migration_source(dependencies, operations, **kwargs),
    )


def relpath(path: Path, repo: Path) -> str:
    return os.path.relpath(path, repo).replace(os.sep, '/')


def run_hook(
        main: Callable[[Sequence[str] | None], int],
        capsys: pytest.CaptureFixture[str],
        *argv: str,
) -> tuple[int, list[str]]:
    """Run a hook's ``main`` in this process: (exit status, stdout lines).
    A hook's findings go to stdout; stderr stays empty for usable input."""
    ret = main(list(argv))
    out, err = capsys.readouterr()
    assert err == ''
    return ret, out.splitlines()
