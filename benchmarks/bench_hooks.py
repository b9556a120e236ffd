"""Time the graph-wide pre-commit hooks on a typical commit.

    python benchmarks/bench_hooks.py [--apps 50] [--migrations 200]
                                     [--keep DIR]

In the generated repository (generate_repo.py, 10,000 migrations by
default) a typical commit stages a few new migrations (one in each of three
apps).  Each hook runs as pre-commit runs it, in a new process, from a
regular install (see bench_check.py: no editable finder, bytecode allowed).
Measured per hook:
  - first: the first run after staging (the cache knows every earlier
    migration, not the staged ones, nor this set of files);
  - warm: the median of --repeat runs afterwards (same staged files).
The first hook also parses the staged modules, so it is run first in a
fresh order each round: every hook gets measured as the "first" one.
Wall and user+sys (CPU) seconds; the machine may be shared.
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
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate_repo  # noqa: E402
from benchlib import generated_repo  # noqa: E402
from benchlib import git  # noqa: E402
from benchlib import leaf_of  # noqa: E402
from benchlib import plain_install  # noqa: E402

HOOKS = (
    'single-migration-leaf',
    'migration-dependencies-exist',
    'migration-lockfile',
)
NEW_MIGRATION = '''\
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ({app!r}, {leaf!r}),
    ]

    operations = [
        migrations.AddField(
            model_name='model1',
            name='bench_{n}',
            field=models.IntegerField(default={n}),
        ),
    ]
'''


# As after a regular install: bytecode may be written.
ENV = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}


def run_timed(argv: Sequence[str], cwd: str) -> tuple[float, float, int]:
    """(wall, user+sys of the child, exit status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, env=ENV, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (
        (after.ru_utime - before.ru_utime) +
        (after.ru_stime - before.ru_stime)
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f'{argv[0]} failed:\n{proc.stdout}{proc.stderr}')
    return wall, cpu, proc.returncode


def stage_commit(repo: str, round_no: int, apps: Sequence[str]) -> list[str]:
    """Stage one new migration in each of ``apps``; their paths."""
    paths = []
    for app in apps:
        leaf = leaf_of(repo, app)
        number = int(leaf[:4]) + 1
        name = f'{number:04}_bench_{round_no}'
        path = os.path.join(app, 'migrations', f'{name}.py')
        with open(os.path.join(repo, path), 'w') as f:
            f.write(NEW_MIGRATION.format(app=app, leaf=leaf, n=round_no))
        paths.append(path)
    git(repo, 'add', '--', *paths)
    return paths


def unstage(repo: str, paths: Sequence[str]) -> None:
    git(repo, 'rm', '-q', '--cached', '--', *paths)
    for path in paths:
        os.remove(os.path.join(repo, path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--apps', type=int, default=50)
    parser.add_argument('--migrations', type=int, default=200)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--keep', help='generate into (and keep) this dir')
    args = parser.parse_args(argv)

    repo = generated_repo(args.apps, args.migrations, args.keep, 'bench-hooks')
    venv = tempfile.mkdtemp(prefix='migmerge-bench-venv-')
    python = plain_install(venv)
    scripts = {
        hook: (python, '-m', f'hooks.{hook.replace("-", "_")}')
        for hook in HOOKS
    }
    apps = [generate_repo.app_name(i) for i in (3, 17, 42)][:args.apps]
    # A team using the lockfile hook has committed its files; and the
    # cache knows the committed tree, as after any earlier commit.
    run_timed(scripts['migration-lockfile'], repo)
    if git(repo, 'status', '--porcelain'):
        git(repo, 'add', '-A')
        git(repo, 'commit', '-qm', 'max_migration.txt files')
    run_timed(scripts[HOOKS[0]], repo)

    first: dict[str, list[tuple[float, float]]] = {h: [] for h in HOOKS}
    warm: dict[str, list[tuple[float, float]]] = {h: [] for h in HOOKS}
    for round_no in range(len(HOOKS)):
        order = HOOKS[round_no:] + HOOKS[:round_no]
        staged = stage_commit(repo, round_no, apps)
        try:
            for i, hook in enumerate(order):
                wall, cpu, status = run_timed(scripts[hook], repo)
                if i == 0:
                    first[hook].append((wall, cpu))
            for hook in HOOKS:
                for _ in range(args.repeat):
                    wall, cpu, status = run_timed(scripts[hook], repo)
                    warm[hook].append((wall, cpu))
        finally:
            unstage(repo, staged)
            # The lockfile hook rewrote max_migration.txt files: restore.
            git(repo, 'checkout', '-q', '--', '.')

    count = int(git(repo, 'ls-files').count('/migrations/0'))
    print(
        f'{count} migrations, {len(apps)} staged per commit, '
        f'{os.cpu_count()} cores\n',
    )
    print(
        '| hook | first run after staging (wall / cpu s) '
        '| warm (wall / cpu s) |',
    )
    print('| --- | ---: | ---: |')
    for hook in HOOKS:
        fw = statistics.median(w for w, _ in first[hook])
        fc = statistics.median(c for _, c in first[hook])
        ww = statistics.median(w for w, _ in warm[hook])
        wc = statistics.median(c for _, c in warm[hook])
        print(f'| {hook} | {fw:.2f} / {fc:.2f} | {ww:.2f} / {wc:.2f} |')
    shutil.rmtree(venv)
    if not args.keep:
        shutil.rmtree(repo)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
