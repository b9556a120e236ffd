"""The hook entry points, called in-process on real repositories: chaining,
when they stay silent, settings."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from mergedriver.integration import githooks
from mergedriver.integration import install as gitsetup
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.migrations import add_migration


@pytest.fixture
def repo(tmp_path: Path, git_home: Path) -> Path:
    repo = make_repo(tmp_path / 'repo')
    add_migration(repo, 'shop', '0001_initial')
    commit_all(repo, hooks=False)
    return repo


def parallel(repo: Path) -> None:
    """Two leaves in the work tree (and the index)."""
    add_migration(repo, 'shop', '0002_a', [('shop', '0001_initial')])
    add_migration(repo, 'shop', '0002_b', [('shop', '0001_initial')])
    git(repo, 'add', '-A')


def chained(hooks_dir: Path, hook: str, body: str) -> Path:
    path = hooks_dir / f'{hook}.migmerge-chained'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n{body}\n')
    path.chmod(0o755)
    return path


def run(repo: Path, hook: str, *args: str, hooks_dir: Path | None = None,
        stdin: bytes = b'') -> tuple[int, str]:
    out = io.StringIO()
    status = githooks.run_hook(
        hook, args, hooks_dir=None if hooks_dir is None else str(hooks_dir),
        repo_dir=str(repo), stdin=stdin, out=out,
    )
    return status, out.getvalue()


def test_pre_commit_outside_a_merge_is_silent(repo: Path) -> None:
    parallel(repo)  # even with two leaves: only a merge is concluded here
    assert run(repo, 'pre-commit') == (0, '')


def test_pre_merge_commit_nothing_to_do(repo: Path) -> None:
    assert run(repo, 'pre-merge-commit') == (0, '')


def test_pre_merge_commit_writes_and_stops(repo: Path) -> None:
    parallel(repo)
    status, out = run(repo, 'pre-merge-commit')
    assert status == 1
    assert 'wrote shop/migrations/0003_merge_0002_a_0002_b.py' in out
    assert 'A  shop/migrations/0003_merge_0002_a_0002_b.py' in git(repo, 'status', '--porcelain')
    assert run(repo, 'pre-merge-commit') == (0, '')  # twice: nothing left


def test_skip(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parallel(repo)
    monkeypatch.setenv('MIGMERGE_SKIP', '1')
    assert run(repo, 'pre-merge-commit') == (0, '')


def test_chained_failure_stops_before_migmerge(repo: Path, tmp_path: Path) -> None:
    hooks = tmp_path / 'hooks'
    chained(hooks, 'pre-merge-commit', 'exit 5')
    parallel(repo)
    assert run(repo, 'pre-merge-commit', hooks_dir=hooks) == (5, '')
    assert not (repo / 'shop/migrations/0003_merge_0002_a_0002_b.py').exists()


def test_chained_gets_args_stdin_and_no_legacy_marker(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = tmp_path / 'hooks'
    log = tmp_path / 'log'
    chained(
        hooks, 'post-rewrite',
        f'echo "$* ${{PRE_COMMIT_RUNNING_LEGACY:-unset}}" > {log}; '
        f'cat >> {log}; exit 3',
    )
    monkeypatch.setenv('PRE_COMMIT_RUNNING_LEGACY', '1')
    status, out = run(repo, 'post-rewrite', 'amend', hooks_dir=hooks, stdin=b'a b\n')
    assert status == 3
    assert log.read_text() == 'amend unset\na b\n'


def test_post_rewrite_ignores_amend(repo: Path) -> None:
    parallel(repo)
    assert run(repo, 'post-rewrite', 'amend') == (0, '')


def test_post_rewrite_bad_setting(repo: Path) -> None:
    git(repo, 'config', 'migmerge.postRewrite', 'sometimes')
    status, out = run(repo, 'post-rewrite', 'rebase')
    assert status == 1
    assert "migmerge.postRewrite is 'sometimes'" in out


def test_post_rewrite_off_only_reports(repo: Path) -> None:
    base = git(repo, 'rev-parse', 'HEAD').strip()
    add_migration(repo, 'shop', '0002_a', [('shop', '0001_initial')])
    commit_all(repo, hooks=False)
    new = git(repo, 'rev-parse', 'HEAD').strip()
    add_migration(repo, 'shop', '0002_b', [('shop', '0001_initial')])
    commit_all(repo, hooks=False)
    git(repo, 'config', 'migmerge.postRewrite', 'off')
    # no rebase state left: what was rebased onto comes from stdin
    status, out = run(repo, 'post-rewrite', 'rebase', stdin=f'{base} {new}\n'.encode())
    assert status == 1
    assert f'--move {base[:12]}' in out
    assert git(repo, 'rev-parse', 'HEAD').strip() != base
    assert git(repo, 'status', '--porcelain') == ''


def test_main_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert githooks.main([]) == 2
    assert 'usage' in capsys.readouterr().err


def test_unknown_hook(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    assert githooks.main(['post-checkout']) == 2


@pytest.mark.parametrize(('ours_migrates', 'theirs_migrates', 'expected'), (
    (False, False, False),
    (True, False, False),
    (False, True, False),
    (True, True, True),
))
def test_merge_may_add_leaves(
        repo: Path, ours_migrates: bool, theirs_migrates: bool, expected: bool,
        monkeypatch: pytest.MonkeyPatch,
) -> None:
    for branch, migrates in (('theirs', theirs_migrates), ('main', ours_migrates)):
        git(repo, 'checkout', '-q', '-B', branch, 'main')
        if migrates:
            add_migration(repo, 'shop', f'0002_{branch}', [('shop', '0001_initial')])
        (repo / f'{branch}.txt').write_text(branch)
        commit_all(repo, hooks=False)
    git(repo, 'merge', '-q', '--no-commit', '--no-ff', 'theirs')
    clone = gitsetup.locate(str(repo))
    theirs = git(repo, 'rev-parse', 'theirs').strip()
    # during pre-merge-commit only GITHEAD_<oid> tells what is merged
    (repo / '.git/MERGE_HEAD').unlink()
    monkeypatch.setenv(f'GITHEAD_{theirs}', 'theirs')
    assert githooks.merge_may_add_leaves(clone) is expected
    monkeypatch.delenv(f'GITHEAD_{theirs}')
    (repo / '.git/MERGE_HEAD').write_text(f'{theirs}\n')
    assert githooks.merge_may_add_leaves(clone) is expected
    assert run(repo, 'pre-commit')[0] == int(expected)


def test_migration_pathspec_covers_migration_modules(repo: Path) -> None:
    (repo / 'pyproject.toml').write_text(
        '[tool.migmerge]\nsource_roots = ["src"]\n'
        'migration_modules = {shop = "shop.db_migrations"}\n',
    )
    assert ':(glob)src/shop/db_migrations/**' in githooks.migration_pathspec(str(repo))


def test_merge_in_different_apps_skips_the_graph(
        repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    git(repo, 'checkout', '-q', '-b', 'theirs')
    add_migration(repo, 'blog', '0001_initial')
    commit_all(repo, hooks=False)
    git(repo, 'checkout', '-q', 'main')
    add_migration(repo, 'shop', '0002_x', [('shop', '0001_initial')])
    commit_all(repo, hooks=False)
    git(repo, 'merge', '-q', '--no-commit', '--no-ff', 'theirs')
    assert githooks.merge_may_add_leaves(gitsetup.locate(str(repo))) is False
    # a change of configuration may relabel apps: the graph decides
    git(repo, 'merge', '--abort')
    (repo / 'setup.cfg').write_text('[migmerge]\n')
    commit_all(repo, hooks=False)
    git(repo, 'merge', '-q', '--no-commit', '--no-ff', 'theirs')
    assert githooks.merge_may_add_leaves(gitsetup.locate(str(repo))) is True
    assert run(repo, 'pre-commit') == (0, '')


def test_cli_hook(repo: Path, tmp_path: Path) -> None:
    """``migmerge hook`` (what the scripts fall back to without their
    interpreter): arguments after ``--`` reach the chained hook."""
    log = tmp_path / 'log'
    hooks = tmp_path / 'hooks'
    chained(hooks, 'post-rewrite', f'echo "$*" > {log}')
    proc = subprocess.run(
        (sys.executable, '-m', 'mergedriver', 'hook', '--hooks-dir', str(hooks),
         'post-rewrite', '--', 'amend'),
        cwd=repo, input='', capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == 'amend\n'


@pytest.mark.parametrize(
    'module', ['mergedriver.integration.githooks', 'mergedriver.githooks'],
)
def test_hook_module_addresses(
        repo: Path, tmp_path: Path, module: str,
) -> None:
    """What installed hook scripts run: the current address, and the one
    scripts written before the hooks moved into integration/ still name."""
    log = tmp_path / 'log'
    hooks = tmp_path / 'hooks'
    chained(hooks, 'post-rewrite', f'echo "$*" > {log}')
    proc = subprocess.run(
        (sys.executable, '-m', module, '--hooks-dir', str(hooks),
         'post-rewrite', '--', 'amend'),
        cwd=repo, input='', capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == 'amend\n'
