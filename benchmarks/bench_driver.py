"""Time the merge driver and the pre-merge-commit hook (warm parse cache).

    python benchmarks/bench_driver.py [--apps 50] [--migrations 200] [--keep DIR]

Generates the 10,000-migration repository with generate_repo.py, installs
migmerge in it (attributes in $GIT_DIR/info/attributes), and measures what
git waits for:
  - the merge driver on a max_migration.txt both branches edited, as git
    runs it (a fresh ``python -m mergedriver.driver.mergefile`` per file);
  - the pre-merge-commit hook when one side changed no migration (most
    merges: two git calls), when both sides added migrations to different
    apps (the whole graph is read, nothing to resolve), and when it writes
    and stages a merge migration;
  - a whole ``git merge`` through the driver and the hook, for scale.
"Writes a merge migration" is measured twice: with theirs' migration
already in the parse cache, and with a migration this clone has never
seen (new content each run), as in a real merge.
Each figure is the median of --repeat runs; target: driver and hook each
under 0.5 s warm.  Prints a Markdown table.

Like bench_check.py, migmerge runs from a throwaway virtualenv that sees
this checkout through a plain ``.pth`` path, with bytecode written.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
OTHER_APP = 'app02'


def add_migration(
        repo: str, name: str, parent: str, comment: str = '',
) -> None:
    with open(os.path.join(repo, APP, 'migrations', f'{name}.py'), 'w') as f:
        f.write(
            'from django.db import migrations\n\n\n'
            'class Migration(migrations.Migration):\n'
            f'    dependencies = [\n        ({APP!r}, {parent!r}),\n    ]\n\n'
            f'    operations = []{comment}\n',
        )
    with open(os.path.join(repo, APP, 'migrations', 'max_migration.txt'), 'w') as f:
        f.write(f'{name}\n')


def prepare(repo: str) -> tuple[str, str]:
    """Branches ``ours`` and ``theirs``, each adding a migration after the
    same leaf and editing the lock file; returns the two new names."""
    # start from the generated commit, so a kept repository can be reused
    if os.path.exists(os.path.join(repo, '.git', 'MERGE_HEAD')):
        git(repo, 'merge', '--abort')
    root = git(repo, 'rev-list', '--max-parents=0', 'HEAD').split()[0]
    git(repo, 'checkout', '-q', '-f', '-B', 'bench-base', root)
    git(repo, 'clean', '-q', '-f', '-d')
    parent = leaf_of(repo, APP)
    number = int(parent[:4])
    with open(os.path.join(repo, APP, 'migrations', 'max_migration.txt'), 'w') as f:
        f.write(f'{parent}\n')
    commit(repo, 'lock file')
    base = git(repo, 'rev-parse', 'HEAD').strip()
    ours, theirs = f'{number + 1:04d}_ours', f'{number + 1:04d}_theirs'
    git(repo, 'checkout', '-q', '-B', 'theirs', base)
    add_migration(repo, theirs, parent)
    commit(repo, 'theirs')
    git(repo, 'checkout', '-q', '-B', 'elsewhere', base)
    other = os.path.join(repo, OTHER_APP, 'migrations')
    other_leaf = leaf_of(repo, OTHER_APP)
    with open(os.path.join(other, f'{int(other_leaf[:4]) + 1:04d}_elsewhere.py'), 'w') as f:
        f.write(
            'from django.db import migrations\n\n\n'
            'class Migration(migrations.Migration):\n'
            f'    dependencies = [\n        ({OTHER_APP!r}, {other_leaf!r}),\n    ]\n\n'
            '    operations = []\n',
        )
    commit(repo, 'elsewhere')
    git(repo, 'checkout', '-q', '-B', 'ours', base)
    add_migration(repo, ours, parent)
    commit(repo, 'ours')
    return ours, theirs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--apps', type=int, default=50)
    parser.add_argument('--migrations', type=int, default=200)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--keep', help='generate into (and keep) this dir')
    args = parser.parse_args(argv)

    repo, python = installed_repo(args.apps, args.migrations, args.keep)
    ours, theirs = prepare(repo)
    theirs_sha = git(repo, 'rev-parse', 'theirs').strip()
    lock = f'{APP}/migrations/max_migration.txt'

    scratch = tempfile.mkdtemp(prefix='migmerge-bench-driver-')
    files = {}
    for label, rev in (('base', 'ours~1'), ('ours', 'ours'), ('theirs', 'theirs')):
        files[label] = os.path.join(scratch, label)
        with open(files[label], 'w') as f:
            f.write(git(repo, 'show', f'{rev}:{lock}'))

    def driver() -> None:
        shutil.copy(os.path.join(scratch, 'ours'), os.path.join(scratch, 'a'))
        proc = subprocess.run(
            (python, '-m', 'mergedriver.driver.mergefile', files['base'],
             os.path.join(scratch, 'a'), files['theirs'], lock, '7'),
            cwd=repo, capture_output=True, text=True,
            env={**os.environ, f'GITHEAD_{theirs_sha}': 'theirs'},
        )
        if proc.returncode:
            raise SystemExit(f'driver failed:\n{proc.stderr}')

    def hook(expect: int) -> Callable[[], None]:
        def run() -> None:
            proc = subprocess.run(
                (python, '-m', 'mergedriver.integration.githooks', 'pre-merge-commit'),
                cwd=repo, capture_output=True, text=True,
            )
            if proc.returncode != expect:
                raise SystemExit(f'hook exited {proc.returncode}:\n{proc.stderr}')
        return run

    def reset() -> None:
        if os.path.exists(os.path.join(repo, '.git', 'MERGE_HEAD')):
            git(repo, 'merge', '--abort')
        git(repo, 'reset', '-q', '--hard', 'ours')
        git(repo, 'clean', '-q', '-f', '--', f'{APP}/migrations')

    fresh_runs = [0]

    def fresh_theirs() -> str:
        """A branch like ``theirs`` whose migration no run has parsed."""
        fresh_runs[0] += 1
        git(repo, 'checkout', '-q', '-B', 'theirs-fresh', 'theirs~1')
        add_migration(
            repo, theirs, leaf_of(repo, APP),
            comment=f'  # run {time.time_ns()} {fresh_runs[0]}',
        )
        commit(repo, 'theirs, new content')
        git(repo, 'checkout', '-q', 'ours')
        return 'theirs-fresh'

    def hook_after(branch: str, expect: int) -> float:
        """The hook in the state ``git merge BRANCH`` leaves it in."""
        runs = []
        for _ in range(args.repeat):
            reset()
            if branch == 'theirs-fresh':
                fresh_theirs()
            git(repo, 'merge', '--no-commit', '--no-ff', '-q', branch)
            sha = git(repo, 'rev-parse', branch).strip()
            os.remove(os.path.join(repo, '.git', 'MERGE_HEAD'))
            env = {**os.environ, f'GITHEAD_{sha}': branch}
            start = time.perf_counter()
            proc = subprocess.run(
                (python, '-m', 'mergedriver.integration.githooks', 'pre-merge-commit'),
                cwd=repo, capture_output=True, text=True, env=env,
            )
            runs.append(time.perf_counter() - start)
            if proc.returncode != expect:
                raise SystemExit(f'hook exited {proc.returncode}:\n{proc.stderr}')
        return statistics.median(runs)

    def whole_merge() -> None:
        reset()
        proc = subprocess.run(
            ('git', 'merge', '--no-edit', 'theirs'), cwd=repo,
            capture_output=True, text=True,
        )
        if 'conclude the merge' not in proc.stderr:
            raise SystemExit(f'merge did not stop as expected:\n{proc.stderr}')

    # warm the parse cache (what the first `migmerge check` or merge does)
    subprocess.run((python, '-m', 'mergedriver', 'check'), cwd=repo, capture_output=True)
    reset()
    results = [
        ('merge driver, max_migration.txt', timed(driver, args.repeat)),
        ('pre-merge-commit, one side without migrations', timed(hook(0), args.repeat)),
        ('pre-merge-commit, both sides migrate, different apps',
         hook_after('elsewhere', 0)),
        ('pre-merge-commit, writes a merge migration', hook_after('theirs', 1)),
        ('pre-merge-commit, writes a merge migration, theirs never parsed',
         hook_after('theirs-fresh', 1)),
        ('git merge through driver and hook', timed(whole_merge, args.repeat)),
    ]
    reset()
    count = sum(
        1 for d, _, names in os.walk(repo) if d.endswith('migrations')
        for f in names if f.endswith('.py') and not f.startswith('_')
    )
    print(f'{count} migration files, {os.cpu_count()} cores, warm cache\n')
    print('| run | seconds |')
    print('| --- | ---: |')
    for label, seconds in results:
        print(f'| {label} | {seconds:.2f} |')
    shutil.rmtree(scratch)
    shutil.rmtree(os.path.dirname(os.path.dirname(python)))  # the venv
    if not args.keep:
        shutil.rmtree(repo)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
