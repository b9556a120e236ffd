"""Time `migmerge report` (cold and warm) on the generated repository.

    python benchmarks/bench_report.py [--apps 50] [--migrations 200]
                                      [--repeat 3] [--keep DIR]

Generates the repository with generate_repo.py (10,000 migrations by
default) on a branch ``main``, then makes a pull request: ``pr`` adds a
migration to app07 while ``main`` adds another one after the fork, so the
report has a merge migration to plan (verdict ``resolvable``).  Measures,
as the median of --repeat runs (wall and user+sys seconds of the child):
  - report --format json, cold (empty parse cache)
  - report --format json, warm (the cache filled by an earlier run)
  - report --format markdown, warm
  - check --rev pr, warm (for scale: one tree instead of three)
Children run from a throwaway virtualenv like bench_check.py's.  A new
pull-request head each run would be the "one migration added" case:
report re-reads only the files that differ.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_check import git_dir_cache  # noqa: E402
from benchlib import generated_repo  # noqa: E402
from benchlib import git  # noqa: E402
from benchlib import plain_install  # noqa: E402
from bench_check import run  # noqa: E402
from bench_check import timed  # noqa: E402

APP = 'app07'


def _add_migration(repo: str, name: str, leaf: str) -> None:
    path = os.path.join(repo, APP, 'migrations', f'{name}.py')
    with open(path, 'w') as f:
        f.write(
            'from django.db import migrations, models\n\n\n'
            'class Migration(migrations.Migration):\n'
            f'    dependencies = [({APP!r}, {leaf!r})]\n\n'
            '    operations = [\n'
            '        migrations.AddField(\n'
            f"            model_name='model1', name={name[5:]!r},\n"
            '            field=models.IntegerField(default=0),\n'
            '        ),\n'
            '    ]\n',
        )
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', f'add {name}')


def make_pull_request(repo: str) -> None:
    """``pr`` and ``main`` each add one migration to APP after the fork."""
    git(repo, 'branch', '-M', 'main')
    app_dir = os.path.join(repo, APP, 'migrations')
    leaf = max(f[:-3] for f in os.listdir(app_dir) if f[0].isdigit())
    number = int(leaf[:4]) + 1
    git(repo, 'checkout', '-q', '-b', 'pr')
    _add_migration(repo, f'{number:04}_bench_head', leaf)
    git(repo, 'checkout', '-q', 'main')
    _add_migration(repo, f'{number:04}_bench_base', leaf)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--apps', type=int, default=50)
    parser.add_argument('--migrations', type=int, default=200)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--keep', help='generate into (and keep) this dir')
    args = parser.parse_args(argv)

    repo = generated_repo(args.apps, args.migrations, args.keep)
    if not git(repo, 'branch', '--list', 'pr').strip():
        make_pull_request(repo)
    env = {
        k: v for k, v in os.environ.items()
        if k != 'PYTHONDONTWRITEBYTECODE' and not k.startswith(
            ('GITHUB_', 'CI_'))
    }
    venv = tempfile.mkdtemp(prefix='migmerge-bench-venv-')
    python = plain_install(venv)
    # Isolated (-I), as the installed commands run: nothing is imported
    # from the repository's work tree.  report exits 1 (resolvable) here;
    # run() wants 0, so the wrapper maps it.
    report = (
        python, '-I', '-c',
        'import sys; from mergedriver.cli import main; '
        'sys.argv[0] = "migmerge"; status = main(sys.argv[1:]); '
        'sys.exit(0 if status == 1 else 10 + status)',
        'report', '--base', 'main', '--head', 'pr',
    )

    def report_json() -> tuple[float, float]:
        return run((*report, '--format', 'json'), repo, env)

    def report_markdown() -> tuple[float, float]:
        return run((*report, '--format', 'markdown'), repo, env)

    def report_cold() -> tuple[float, float]:
        shutil.rmtree(git_dir_cache(repo), ignore_errors=True)
        return report_json()

    def check_rev() -> tuple[float, float]:
        return run(
            (python, '-I', '-m', 'mergedriver', 'check', '--rev', 'main~1'),
            repo, env,
        )

    count = sum(
        1 for d, _, files in os.walk(repo) if d.endswith('migrations')
        for f in files if f.endswith('.py') and not f.startswith('_')
    )
    try:
        results = [
            ('migmerge report --format json, cold (empty cache)',
             timed(report_cold, args.repeat)),
            ('migmerge report --format json, warm',
             timed(report_json, args.repeat + 2)),
            ('migmerge report --format markdown, warm',
             timed(report_markdown, args.repeat + 2)),
            ('migmerge check --rev (one tree), warm',
             timed(check_rev, args.repeat + 2)),
        ]
    finally:
        shutil.rmtree(venv)
    print(f'{count} migration files, {os.cpu_count()} cores\n')
    print('| run | wall s | user+sys s |')
    print('| --- | ---: | ---: |')
    for label, (wall, cpu) in results:
        print(f'| {label} | {wall:.2f} | {cpu:.2f} |')
    if not args.keep:
        shutil.rmtree(repo)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
