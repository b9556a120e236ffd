"""What the benchmarks share: git, timing, the plain install, leaves.

Run by hand, not in CI (README, Performance).  Import it after putting this
directory on sys.path, as each benchmark does.
"""
from __future__ import annotations

import os
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def git(repo: str, *args: str, check: bool = True) -> str:
    return subprocess.run(
        ('git', *args), cwd=repo, check=check, capture_output=True, text=True,
    ).stdout


def commit(repo: str, message: str) -> None:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--no-verify', '-m', message)


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def leaf_of(repo: str, app: str) -> str:
    """The last numbered migration of ``app`` in the generated repository
    (one chain per app)."""
    names = sorted(
        f[:-3] for f in os.listdir(os.path.join(repo, app, 'migrations'))
        if f[:1].isdigit() and f.endswith('.py')
    )
    return names[-1]


def remove_bytecode(root: str) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        if '__pycache__' in dirnames:
            shutil.rmtree(os.path.join(dirpath, '__pycache__'))


def plain_install(where: str) -> str:
    """A virtualenv that imports this checkout and the current site-packages
    through a plain path (no editable finder); its python."""
    subprocess.run(
        (sys.executable, '-m', 'venv', '--without-pip', where), check=True,
    )
    python = os.path.join(where, 'bin', 'python')
    purelib = subprocess.run(
        (
            python, '-c',
            'import sysconfig; print(sysconfig.get_paths()["purelib"])',
        ),
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    with open(os.path.join(purelib, 'migmerge-bench.pth'), 'w') as f:
        f.write('\n'.join([ROOT, *site.getsitepackages()]) + '\n')
    return python


def generated_repo(
        apps: int, migrations: int, keep: str | None, prefix: str = 'bench',
) -> str:
    """The repository generate_repo.py makes: in ``keep`` when given
    (generated there once, then reused), else in a new temporary folder."""
    import generate_repo

    repo = keep or tempfile.mkdtemp(prefix=f'migmerge-{prefix}-')
    if not os.path.exists(os.path.join(repo, 'settings.py')):
        generate_repo.generate(repo, apps, migrations, seed=0)
    return repo


def installed_repo(
        apps: int, migrations: int, keep: str | None,
) -> tuple[str, str]:
    """The generated repository (in ``keep`` when given, made once) with
    migmerge installed for a plain install's python; (repo, python).  The
    installed hooks and driver run that same interpreter."""
    from mergedriver.integration import install

    for role in ('AUTHOR', 'COMMITTER'):
        os.environ.setdefault(f'GIT_{role}_NAME', 'bench')
        os.environ.setdefault(f'GIT_{role}_EMAIL', 'bench@example.com')
    os.environ.pop('PYTHONDONTWRITEBYTECODE', None)
    repo = generated_repo(apps, migrations, keep)
    python = plain_install(tempfile.mkdtemp(prefix='migmerge-bench-venv-'))
    install.install(repo, python=python)
    return repo, python
