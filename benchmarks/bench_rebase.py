"""Time the post-rewrite hook after a 20-commit rebase (warm parse cache).

    python benchmarks/bench_rebase.py [--apps 50] [--migrations 200] [--commits 20] [--keep DIR]

Generates the 10,000-migration repository with generate_repo.py, installs
migmerge in it, and builds a feature branch of --commits commits on the
generated history: every fifth commit adds a migration to app01's chain
(with its max_migration.txt), the others edit a plain file.  main gains one
app01 migration.  The branch is rebased once with the hooks skipped; then
the post-rewrite hook runs as git runs it (``rebase`` argument, the
old/new pairs on stdin), from that rebased state each time, in both modes:
``rewrite`` (every rebased commit rewritten, the default) and ``commit``
(one commit on top).  Medians of --repeat runs; target: rewrite under 1 s.
A whole ``git rebase`` through the hook is timed once, for scale.

Like the other benchmarks, migmerge runs from a throwaway virtualenv that
sees this checkout through a plain ``.pth`` path, with bytecode written.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from benchlib import commit  # noqa: E402
from benchlib import git  # noqa: E402
from benchlib import installed_repo  # noqa: E402
from benchlib import leaf_of  # noqa: E402
from benchlib import median_seconds as timed  # noqa: E402


APP = 'app01'


def add_migration(repo: str, name: str, parent: str) -> None:
    migrations = os.path.join(repo, APP, 'migrations')
    with open(os.path.join(migrations, f'{name}.py'), 'w') as f:
        f.write(
            'from django.db import migrations\n\n\n'
            'class Migration(migrations.Migration):\n'
            f'    dependencies = [\n        ({APP!r}, {parent!r}),\n    ]\n\n'
            '    operations = []\n',
        )
    with open(os.path.join(migrations, 'max_migration.txt'), 'w') as f:
        f.write(f'{name}\n')


def prepare(repo: str, commits: int) -> tuple[str, str]:
    """Branches ``feature`` (``commits`` commits) and ``main`` (one app01
    migration), both on the generated commit; returns (feature, main)."""
    root = git(repo, 'rev-list', '--max-parents=0', 'HEAD').split()[0]
    git(repo, 'checkout', '-q', '-f', '-B', 'main', root)
    git(repo, 'clean', '-q', '-f', '-d')
    parent = leaf_of(repo, APP)
    number = int(parent[:4])
    with open(os.path.join(repo, APP, 'migrations', 'max_migration.txt'), 'w') as f:
        f.write(f'{parent}\n')
    commit(repo, 'lock file')
    base = git(repo, 'rev-parse', 'HEAD').strip()
    git(repo, 'checkout', '-q', '-B', 'feature', base)
    leaf = parent
    for i in range(commits):
        if i % 5 == 0:
            number += 1
            name = f'{number:04d}_feature_{i}'
            add_migration(repo, name, leaf)
            leaf = name
        else:
            with open(os.path.join(repo, 'FEATURE.txt'), 'a') as f:
                f.write(f'commit {i}\n')
        commit(repo, f'feature commit {i}')
    feature = git(repo, 'rev-parse', 'HEAD').strip()
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, f'{int(parent[:4]) + 1:04d}_upstream', parent)
    commit(repo, 'upstream migration')
    return feature, git(repo, 'rev-parse', 'HEAD').strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--apps', type=int, default=50)
    parser.add_argument('--migrations', type=int, default=200)
    parser.add_argument('--commits', type=int, default=20)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--keep', help='generate into (and keep) this dir')
    args = parser.parse_args(argv)

    repo, python = installed_repo(args.apps, args.migrations, args.keep)
    feature, upstream = prepare(repo, args.commits)

    # The rebase itself, hooks skipped: the state the hook starts from.
    git(repo, 'checkout', '-q', '-B', 'rebased', feature)
    proc = subprocess.run(
        ('git', 'rebase', '-q', 'main'), cwd=repo, capture_output=True,
        text=True, env={**os.environ, 'MIGMERGE_SKIP': '1'},
    )
    if proc.returncode:
        raise SystemExit(f'rebase failed:\n{proc.stdout}{proc.stderr}')
    rebased = git(repo, 'rev-parse', 'HEAD').strip()
    olds = git(repo, 'rev-list', '--reverse', f'{upstream}..{feature}').split()
    news = git(repo, 'rev-list', '--reverse', f'{upstream}..{rebased}').split()
    stdin = ''.join(f'{o} {n}\n' for o, n in zip(olds, news))

    def hook(mode: str) -> None:
        git(repo, 'reset', '-q', '--hard', rebased)
        git(repo, 'clean', '-q', '-f', '--', f'{APP}/migrations')
        git(repo, 'config', 'migmerge.postRewrite', mode)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            (python, '-m', 'mergedriver.integration.githooks', 'post-rewrite',
             '--', 'rebase'),
            cwd=repo, capture_output=True, text=True, input=stdin,
        )
        took[0] = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[0] = (
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        )
        if proc.returncode:
            raise SystemExit(f'hook failed:\n{proc.stderr}')
        if mode == 'rewrite' and 'rewrote the' not in proc.stderr:
            raise SystemExit(f'hook did not rewrite:\n{proc.stderr}')

    took = [0.0]
    cpu = [0.0]
    rows = []
    for mode in ('rewrite', 'commit'):
        hook(mode)  # warm the parse cache for this state
        runs, cpus = [], []
        for _ in range(args.repeat):
            hook(mode)
            runs.append(took[0])
            cpus.append(cpu[0])
        rows.append((
            f'post-rewrite hook, {mode} mode',
            statistics.median(runs), statistics.median(cpus),
        ))
    git(repo, 'config', 'migmerge.postRewrite', 'rewrite')
    git(repo, 'checkout', '-q', '-B', 'whole', feature)

    def whole() -> None:
        proc = subprocess.run(
            ('git', 'rebase', '-q', 'main'), cwd=repo, capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(f'rebase failed:\n{proc.stderr}')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed(whole, 1)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows.append((
        f'a whole `git rebase` of {args.commits} commits, through the hook',
        seconds,
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
    ))
    print(f'| run ({args.commits} rebased commits) | wall s | user+sys s |')
    print('| --- | ---: | ---: |')
    for label, wall, used in rows:
        print(f'| {label} | {wall:.2f} | {used:.2f} |')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
