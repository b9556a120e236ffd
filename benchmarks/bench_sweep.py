"""Time ``migmerge report --sweep --post github`` over 20 open pull requests.

    python benchmarks/bench_sweep.py [--apps 50] [--migrations 200]
                                     [--pulls 20] [--keep DIR]

Generates the repository with generate_repo.py (10,000 migrations by
default) and publishes it on a bare "origin" with ``--pulls`` pull
requests as ``refs/pull/N/head``: each adds one migration to its own app;
after they were opened the base gains a migration in every other one of
those apps, so half of the pull requests now have parallel leaves.  The
forge is the tests' local stand-in for GitHub's API (tests/forge_server.py)
on 127.0.0.1.  A full clone of origin then runs the sweep, timed:

  - cold: no parse cache in the clone (a CI job without a cache),
  - warm: the same sweep again (nothing to post: every comment unchanged),
  - after a push: the base gains one more migration, the comments change.

Each figure is the median of --repeat runs (the cold one after emptying the
cache), wall and user+sys seconds of the child process; migmerge runs from
a throwaway virtualenv as in bench_check.py.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

import generate_repo  # noqa: E402
from bench_check import run  # noqa: E402
from bench_check import timed  # noqa: E402
from benchlib import commit  # noqa: E402
from benchlib import git  # noqa: E402
from benchlib import leaf_of  # noqa: E402
from benchlib import plain_install  # noqa: E402
from forge_server import ForgeServer  # noqa: E402

TOKEN = 'bench-token'
MIGRATION = (
    'from django.db import migrations\n\n\n'
    'class Migration(migrations.Migration):\n'
    '    dependencies = [({app!r}, {parent!r})]\n'
    '    operations = []\n'
)


def add_migration(repo: str, app: str, slug: str) -> None:
    parent = leaf_of(repo, app)
    name = f'{int(parent[:4]) + 1:04}_{slug}'
    with open(os.path.join(repo, app, 'migrations', f'{name}.py'), 'w') as f:
        f.write(MIGRATION.format(app=app, parent=parent))
    commit(repo, f'{app}: {name}')


def publish(repo: str, origin: str, pulls: int) -> list[tuple[int, str]]:
    """Push main and the pull requests; (number, head sha) of each."""
    git(repo, 'branch', '-M', 'main')
    opened = []
    for number in range(1, pulls + 1):
        app = generate_repo.app_name(number)
        git(repo, 'checkout', '-q', '-B', f'pr{number}', 'main')
        add_migration(repo, app, f'pull_{number}')
        opened.append((number, git(repo, 'rev-parse', 'HEAD').strip()))
    git(repo, 'checkout', '-q', 'main')
    for number in range(2, pulls + 1, 2):
        add_migration(repo, generate_repo.app_name(number), f'base_{number}')
    subprocess.run(
        ('git', 'init', '-q', '--bare', '-b', 'main', origin), check=True,
    )
    git(repo, 'push', '-q', origin, 'main', *(
        f'pr{n}:refs/pull/{n}/head' for n, _ in opened
    ))
    return opened


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--apps', type=int, default=50)
    parser.add_argument('--migrations', type=int, default=200)
    parser.add_argument('--pulls', type=int, default=20)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--keep', help='generate into (and keep) this dir')
    args = parser.parse_args(argv)

    top = args.keep or tempfile.mkdtemp(prefix='migmerge-bench-sweep-')
    repo = os.path.join(top, 'author')
    origin = os.path.join(top, 'origin.git')
    clone = os.path.join(top, 'ci')
    for path in (repo, origin, clone):
        shutil.rmtree(path, ignore_errors=True)
    generate_repo.generate(repo, args.apps, args.migrations, seed=0)
    opened = publish(repo, origin, args.pulls)
    subprocess.run(('git', 'clone', '-q', origin, clone), check=True)
    venv = tempfile.mkdtemp(prefix='migmerge-bench-venv-')
    python = plain_install(venv)
    try:
        with ForgeServer() as server:
            server.add_token(TOKEN, 'migbot')
            for number, sha in opened:
                server.add_pull(number, 'main', sha)
            env = dict(
                os.environ,
                GITHUB_TOKEN=TOKEN,
                GITHUB_REPOSITORY=server.repository,
                GITHUB_API_URL=server.url,
            )
            env.pop('PYTHONDONTWRITEBYTECODE', None)
            # Isolated (-I), as the installed command runs.
            argv_ = (
                python, '-I', '-m', 'mergedriver', 'report', '--sweep',
                '--base', 'origin/main', '--post', 'github',
            )

            def sweep() -> tuple[float, float]:
                return run(argv_, clone, env)

            def cold() -> tuple[float, float]:
                shutil.rmtree(
                    os.path.join(clone, '.git', 'migmerge'),
                    ignore_errors=True,
                )
                return sweep()

            pushes = [0]

            def after_push() -> tuple[float, float]:
                pushes[0] += 1
                add_migration(repo, generate_repo.app_name(2),
                              f'push_{pushes[0]}')
                git(repo, 'push', '-q', origin, 'main')
                git(clone, 'fetch', '-q', 'origin')
                return sweep()

            results = [
                ('sweep, cold (no parse cache)', timed(cold, args.repeat)),
                ('sweep, warm (comments unchanged)', timed(sweep, args.repeat)),
                ('sweep after a push to the base', timed(after_push, args.repeat)),
            ]
            commented = sum(1 for n, _ in opened if server.bodies(n))
            patches = sum(1 for r in server.requests if r.method == 'PATCH')
    finally:
        shutil.rmtree(venv)
    count = sum(
        1 for d, _, files in os.walk(repo) if d.endswith('migrations')
        for f in files if f.endswith('.py') and not f.startswith('_')
    )
    print(
        f'{count} migration files, {args.pulls} open pull requests '
        f'({commented} with a comment, {patches} edits in all), '
        f'{os.cpu_count()} cores\n',
    )
    print('| run | wall s | user+sys s | wall s per pull request |')
    print('| --- | ---: | ---: | ---: |')
    for label, (wall, cpu) in results:
        print(
            f'| {label} | {wall:.2f} | {cpu:.2f} | '
            f'{wall / args.pulls:.2f} |',
        )
    if not args.keep:
        shutil.rmtree(top)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
