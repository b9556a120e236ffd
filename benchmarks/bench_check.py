"""Time `migmerge check` (cold and warm) against Django's MigrationLoader.

    python benchmarks/bench_check.py [--apps 50] [--migrations 200]
                                     [--keep DIR]

Generates the repository with generate_repo.py (10,000 migrations by
default), then in one run measures:
  - Django: django.setup() + MigrationLoader, without and with bytecode cache
  - migmerge check: cold (empty parse cache), warm (nothing changed since
    the last run), after adding one migration, --index and --rev HEAD warm
Each figure is the median of --repeat runs, as wall and user+sys (CPU)
seconds of the child process (the machine may be shared).  Needs Django.
Prints a Markdown table for the README, then the warm speed-up measured in
pairs: a Django run (bytecode cached) right next to three warm checks, so
that both sides of each ratio see the same machine load; the median and
the range over --repeat pairs.

Every child runs as after a regular install: bytecode may be written
(PYTHONDONTWRITEBYTECODE is dropped, for Django as for migmerge), and
migmerge runs from a throwaway virtualenv that sees this checkout and the
current interpreter's site-packages through a plain ``.pth`` path -- an
editable install's import finder would add its own start-up cost.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchlib import generated_repo  # noqa: E402
from benchlib import plain_install  # noqa: E402
from benchlib import remove_bytecode  # noqa: E402

DJANGO_LOAD = '''
import django
django.setup()
from django.db.migrations.loader import MigrationLoader
loader = MigrationLoader(None, ignore_no_migrations=True)
assert not loader.detect_conflicts()
print(len(loader.graph.nodes))
'''


def run(
        argv: Sequence[str], cwd: str, env: dict[str, str],
) -> tuple[float, float]:
    """(wall, user+sys) of one child process, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f'{argv} failed:\n{proc.stdout}{proc.stderr}')
    cpu = (
        (after.ru_utime - before.ru_utime) +
        (after.ru_stime - before.ru_stime)
    )
    return wall, cpu


def timed(
        fn: Callable[[], tuple[float, float]], repeat: int,
) -> tuple[float, float]:
    runs = [fn() for _ in range(repeat)]
    return (
        statistics.median(w for w, _ in runs),
        statistics.median(c for _, c in runs),
    )


def git_dir_cache(repo: str) -> str:
    return os.path.join(repo, '.git', 'migmerge')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--apps', type=int, default=50)
    parser.add_argument('--migrations', type=int, default=200)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--keep', help='generate into (and keep) this dir')
    args = parser.parse_args(argv)

    repo = generated_repo(args.apps, args.migrations, args.keep)
    base_env = {
        k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'
    }
    django_env = dict(
        base_env, DJANGO_SETTINGS_MODULE='settings', PYTHONPATH=repo,
    )
    venv = tempfile.mkdtemp(prefix='migmerge-bench-venv-')
    python = plain_install(venv)
    check_argv = (python, '-m', 'mergedriver', 'check')

    def django_cold() -> tuple[float, float]:
        remove_bytecode(repo)
        return run((sys.executable, '-c', DJANGO_LOAD), repo, django_env)

    def django_warm() -> tuple[float, float]:
        return run((sys.executable, '-c', DJANGO_LOAD), repo, django_env)

    def check() -> tuple[float, float]:
        return run(check_argv, repo, base_env)

    def check_index() -> tuple[float, float]:
        return run((*check_argv, '--index'), repo, base_env)

    def check_rev() -> tuple[float, float]:
        return run((*check_argv, '--rev', 'HEAD'), repo, base_env)

    def check_cold() -> tuple[float, float]:
        shutil.rmtree(git_dir_cache(repo), ignore_errors=True)
        return check()

    app_dir = os.path.join(repo, 'app07', 'migrations')
    leaf = max(f[:-3] for f in os.listdir(app_dir) if f[0].isdigit())
    added = os.path.join(app_dir, f'{int(leaf[:4]) + 1:04}_bench_edit.py')
    edits = [0]

    def check_after_edit() -> tuple[float, float]:
        # New content each time: a set of files no earlier run has seen.
        edits[0] += 1
        with open(added, 'w') as f:
            f.write(
                'from django.db import migrations\n\n\n'
                'class Migration(migrations.Migration):\n'
                f"    dependencies = [('app07', {leaf!r})]\n"
                f'    operations = []  # edit {edits[0]}\n',
            )
        try:
            return check()
        finally:
            os.remove(added)

    count = sum(
        1 for d, _, files in os.walk(repo) if d.endswith('migrations')
        for f in files if f.endswith('.py') and not f.startswith('_')
    )
    try:
        results = [
            ('Django: setup + MigrationLoader, no bytecode',
             timed(django_cold, args.repeat)),
            ('Django: setup + MigrationLoader, bytecode cached',
             timed(django_warm, args.repeat)),
            ('migmerge check, cold (empty cache)',
             timed(check_cold, args.repeat)),
            ('migmerge check, warm (nothing changed)',
             timed(check, args.repeat + 2)),
            ('migmerge check, one migration added since the last run',
             timed(check_after_edit, args.repeat + 2)),
            ('migmerge check --index, warm',
             timed(check_index, args.repeat + 2)),
            ('migmerge check --rev HEAD, warm',
             timed(check_rev, args.repeat + 2)),
        ]
        ratios = []
        for _ in range(args.repeat):
            django_wall = django_warm()[0]
            check_wall = statistics.median(check()[0] for _ in range(3))
            ratios.append(django_wall / check_wall)
    finally:
        shutil.rmtree(venv)
    print(f'{count} migration files, {os.cpu_count()} cores\n')
    print('| run | wall s | user+sys s |')
    print('| --- | ---: | ---: |')
    for label, (wall, cpu) in results:
        print(f'| {label} | {wall:.2f} | {cpu:.2f} |')
    django_best = min(results[0][1][0], results[1][1][0])
    print(
        f'\nwarm check is {django_best / results[3][1][0]:.0f}x faster than '
        f'the faster Django run; cold check takes '
        f'{results[2][1][0] / results[0][1][0]:.2f}x the cold Django run',
    )
    print(
        f'warm check against a Django run next to it, in {len(ratios)} '
        f'pairs: median {statistics.median(ratios):.0f}x '
        f'(from {min(ratios):.0f}x to {max(ratios):.0f}x)',
    )
    if not args.keep:
        shutil.rmtree(repo)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
