"""``migmerge report --post`` and ``--sweep`` end to end: the real console
script, real git repositories, and the local stand-in for GitHub's and
GitLab's APIs (forge_server.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mergedriver.pullrequest.forge import parse_marker
from mergedriver.pullrequest.forge import stamp
from mergedriver.pullrequest.formats import render_markdown
from testing.forge_server import ForgeServer
from testing.git import commit_all
from testing.git import git
from testing.migrations import add_migration
from testing.pullrequest import APP
from testing.pullrequest import NAME
from testing.pullrequest import parallel
from testing.pullrequest import scenario

MIGMERGE = os.path.join(os.path.dirname(sys.executable), 'migmerge')
TOKEN = 'ghp_e2e-S3CRET-t0ken'
PR = 7


@pytest.fixture
def server() -> Iterator[ForgeServer]:
    with ForgeServer() as server:
        server.add_token(TOKEN, 'migbot')
        server.add_pull(PR, 'main', '0' * 40)
        server.add_merge_request(PR, 'main', '0' * 40)
        yield server


def forge_env(server: ForgeServer, token: str = TOKEN) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(('GITHUB_', 'CI_', 'GITLAB_', 'MIGMERGE_'))
    }
    env.update({
        'GITHUB_TOKEN': token,
        'GITHUB_REPOSITORY': server.repository,
        'GITHUB_API_URL': server.url,
        'MIGMERGE_GITLAB_TOKEN': token,
        'CI_API_V4_URL': server.gitlab_url,
        'CI_PROJECT_ID': server.project,
    })
    return env


def report(
        repo: Path, env: dict[str, str], *args: str,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (MIGMERGE, 'report', '-C', str(repo), *args),
        capture_output=True, text=True, env=env,
    )


def post(
        repo: Path, server: ForgeServer, *args: str, head: str = 'pr',
        token: str = TOKEN,
) -> subprocess.CompletedProcess[str]:
    return report(
        repo, forge_env(server, token), '--base', 'main', '--head', head,
        '--format', 'github', '--post', 'github', '--pr', str(PR), *args,
    )


def assert_no_token(proc: subprocess.CompletedProcess[str]) -> None:
    assert TOKEN not in proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr


def test_post_creates_once_then_leaves_it(
        tmp_path: Path, server: ForgeServer,
) -> None:
    repo = parallel(tmp_path / 'repo')
    alone = report(repo, forge_env(server), '--base', 'main', '--head', 'pr',
                   '--format', 'github')
    proc = post(repo, server, '--comment-url-file', str(tmp_path / 'url'))
    assert proc.returncode == 1, proc.stderr
    # the annotations are printed as without posting
    assert proc.stdout == alone.stdout and '::error ' in proc.stdout
    [body] = server.bodies(PR)
    assert 'migmerge: **resolvable**' in body
    assert '0004_merge_0003_userprofile_address_0003_userprofile_age' in body
    marker = parse_marker(body)
    assert marker is not None and marker.comment_id == 'default'
    url = server.github_comments[PR][0]['html_url']
    assert (tmp_path / 'url').read_text() == url + '\n'
    assert proc.stderr == f'migmerge: GitHub #{PR}: comment created: {url}\n'
    writes = len(server.writes())
    again = post(repo, server)
    assert again.returncode == 1
    assert 'comment unchanged' in again.stderr
    assert len(server.writes()) == writes
    assert_no_token(proc)


def test_fixed_pull_request_is_marked_resolved(
        tmp_path: Path, server: ForgeServer,
) -> None:
    repo = parallel(tmp_path / 'repo')
    post(repo, server)
    # The author merges the base and lets migmerge write the merge migration.
    git(repo, 'checkout', '-q', 'pr')
    git(repo, 'merge', '-q', '--no-edit', 'main')
    resolved = subprocess.run(
        (MIGMERGE, 'resolve', '--yes'), cwd=repo, capture_output=True,
        text=True,
    )
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    commit_all(repo, 'merge migration')
    head = git(repo, 'rev-parse', 'pr').strip()
    proc = post(repo, server)
    assert proc.returncode == 0, proc.stderr
    [body] = server.bodies(PR)
    assert f'resolved** as of {head}' in body
    assert 'comment marked resolved' in proc.stderr
    writes = len(server.writes())
    assert post(repo, server).returncode == 0
    assert len(server.writes()) == writes


def test_clean_pull_request_gets_no_comment(
        tmp_path: Path, server: ForgeServer,
) -> None:
    repo = scenario('clean', tmp_path / 'repo')
    for on_clean in ('update', 'delete', 'keep'):
        proc = post(repo, server, '--on-clean', on_clean)
        assert proc.returncode == 0, proc.stderr
        assert 'no comment needed' in proc.stderr
    assert server.writes() == []


def test_forbidden_is_a_notice_and_changes_nothing_else(
        tmp_path: Path, server: ForgeServer,
) -> None:
    # A fork's pull request: the workflow's token may read, not write.
    server.add_token(TOKEN + 'ro', 'fork', kind='readonly')
    repo = parallel(tmp_path / 'repo')
    alone = report(repo, forge_env(server), '--base', 'main', '--head', 'pr',
                   '--format', 'github')
    proc = post(repo, server, token=TOKEN + 'ro')
    assert proc.returncode == alone.returncode == 1
    assert proc.stdout == alone.stdout
    [line] = proc.stderr.splitlines()
    assert line.startswith('migmerge: notice: comment not posted: GitHub API 403')
    assert 'Resource not accessible by integration' in line
    assert server.bodies(PR) == []
    assert TOKEN not in proc.stdout + proc.stderr


def test_too_long_is_shed_and_retried(
        tmp_path: Path, server: ForgeServer,
) -> None:
    repo = parallel(tmp_path / 'repo')
    document = json.loads(report(
        repo, forge_env(server), '--base', 'main', '--head', 'pr',
        '--format', 'json',
    ).stdout)
    full, shorter = (
        render_markdown(document, shed=shed) for shed in (0, 1)
    )
    assert len(shorter) < len(full)
    # This forge takes the level-1 rendering, not the full one.
    server.github_max_body = len(stamp(shorter, 'default', 'f' * 20, 'open'))
    proc = post(repo, server)
    assert proc.returncode == 1 and 'comment created' in proc.stderr
    posts = [r for r in server.requests if r.method == 'POST']
    assert len(posts) == 2
    [body] = server.bodies(PR)
    assert body.split('\n', 1)[1] == shorter.split('\n', 1)[1]


def test_token_never_printed(tmp_path: Path, server: ForgeServer) -> None:
    repo = parallel(tmp_path / 'repo')
    bad = post(repo, server, token=TOKEN + '-revoked')
    assert bad.returncode == 1 and 'GitHub API 401' in bad.stderr
    assert TOKEN not in bad.stdout + bad.stderr
    env = forge_env(server)
    env['GITHUB_API_URL'] = f'http://127.0.0.1:9/{TOKEN}'
    down = report(repo, env, '--base', 'main', '--head', 'pr',
                  '--post', 'github', '--pr', '7')
    assert down.returncode == 1 and 'comment not posted' in down.stderr
    assert TOKEN not in down.stdout + down.stderr
    env['MIGMERGE_DEBUG'] = '1'
    env['GITHUB_API_URL'] = server.url
    server.fail('GET', r'/user', 500, {'message': f'echo: token {TOKEN}'})
    echoed = report(repo, env, '--base', 'main', '--head', 'pr',
                    '--post', 'github', '--pr', '7')
    assert 'comment not posted' in echoed.stderr
    assert TOKEN not in echoed.stdout + echoed.stderr


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (('--post', 'github'), '--post github needs --pr N'),
        (('--pr', '7'), '--pr, --mr and --comment-url-file go with --post'),
        (('--sweep',), '--sweep needs --post'),
        (('--post', 'github', '--pr', '7', '--comment-id', 'a b'),
         '--comment-id'),
    ],
)
def test_bad_options_are_unusable_input(
        tmp_path: Path, server: ForgeServer, args: tuple[str, ...],
        message: str,
) -> None:
    repo = parallel(tmp_path / 'repo')
    proc = report(
        repo, forge_env(server), '--base', 'main', '--head', 'pr', *args,
    )
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert message in line
    assert server.requests == []


def test_missing_token_is_unusable_input(
        tmp_path: Path, server: ForgeServer,
) -> None:
    repo = parallel(tmp_path / 'repo')
    env = forge_env(server)
    del env['GITHUB_TOKEN']
    proc = report(repo, env, '--base', 'main', '--head', 'pr',
                  '--post', 'github', '--pr', '7')
    assert proc.returncode == 2 and proc.stdout == ''
    assert proc.stderr == 'migmerge: --post github: set GITHUB_TOKEN\n'


def test_post_gitlab_note_from_json(tmp_path: Path, server: ForgeServer) -> None:
    repo = parallel(tmp_path / 'repo')
    saved = tmp_path / 'report.json'
    report(repo, forge_env(server), '--base', 'main', '--head', 'pr',
           '--format', 'json', '-o', str(saved))
    # --from-json: no git needed, from anywhere
    proc = subprocess.run(
        (MIGMERGE, 'report', '--from-json', str(saved), '--format',
         'gitlab-codequality', '--post', 'gitlab', '--mr', str(PR),
         '--comment-id', 'backend'),
        cwd=tmp_path, capture_output=True, text=True, env=forge_env(server),
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)[0]['fingerprint']
    [note] = server.note_bodies(PR)
    assert note.startswith('<!-- migmerge:report id=backend digest=')
    assert 'migmerge: **resolvable**' in note
    assert [r.method for r in server.writes()] == ['POST']


# -- the sweep ----------------------------------------------------------


def pull_request_repos(tmp_path: Path) -> tuple[Path, Path]:
    """origin (bare, publishing refs/pull/N/head like the forge) and a
    clone of it; PR #1 and PR #2 each add a 0003_* on top of main."""
    origin = tmp_path / 'origin.git'
    work = parallel(tmp_path / 'author')
    # two pull requests from the same base, none of main's 0003 yet
    git(work, 'checkout', '-q', '-B', 'pr1', 'main~1')
    add_migration(work, APP, '0003_one', [(APP, NAME)])
    commit_all(work, 'one')
    git(work, 'checkout', '-q', '-B', 'pr2', 'main~1')
    add_migration(work, APP, '0003_two', [(APP, NAME)])
    commit_all(work, 'two')
    git(work, 'checkout', '-q', 'main')
    git(work, 'reset', '-q', '--hard', 'main~1')
    git(tmp_path, 'init', '-q', '--bare', '-b', 'main', str(origin))
    git(work, 'push', '-q', str(origin), 'main', 'pr1:refs/pull/1/head',
        'pr2:refs/pull/2/head')
    clone = tmp_path / 'ci'
    git(tmp_path, 'clone', '-q', str(origin), str(clone))
    return work, clone


def sweep(clone: Path, server: ForgeServer, forge: str = 'github'
          ) -> subprocess.CompletedProcess[str]:
    git(clone, 'fetch', '-q', 'origin')
    return report(
        clone, forge_env(server), '--sweep', '--base', 'origin/main',
        '--post', forge,
    )


@pytest.mark.parametrize('forge', ['github', 'gitlab'])
def test_sweep_flags_the_second_pull_request_after_the_first_lands(
        tmp_path: Path, server: ForgeServer, forge: str,
) -> None:
    work, clone = pull_request_repos(tmp_path)
    origin = str(tmp_path / 'origin.git')
    server.pulls.clear()
    server.merge_requests.clear()
    for number in (1, 2):
        sha = git(work, 'rev-parse', f'pr{number}').strip()
        server.add_pull(number, 'main', sha)
        server.add_merge_request(number, 'main', sha)
        if forge == 'gitlab':
            git(work, 'push', '-q', origin,
                f'pr{number}:refs/merge-requests/{number}/head')
    name = 'GitHub' if forge == 'github' else 'GitLab'
    first = sweep(clone, server, forge)
    assert first.returncode == 0, first.stderr
    # each is clean alone against the old base: one line each, no comment
    assert first.stdout == (
        f'clean: {name} #1: no comment needed\n'
        f'clean: {name} #2: no comment needed\n'
    )
    assert server.writes() == []
    # PR #1 lands; the forge closes it.
    git(work, 'push', '-q', origin, 'pr1:main')
    del server.pulls[0], server.merge_requests[0]
    second = sweep(clone, server, forge)
    assert second.returncode == 0, second.stderr
    bodies = server.bodies(2) if forge == 'github' else server.note_bodies(2)
    [body] = bodies
    assert 'migmerge: **resolvable**' in body and '0003_one' in body
    assert second.stdout.startswith(f'resolvable: {name} #2: comment created')
    listing = [r for r in server.requests if r.method == 'GET' and (
        r.path.endswith('/pulls') or r.path.endswith('/merge_requests'))]
    assert listing[-1].query.get('base', listing[-1].query.get(
        'target_branch')) == 'main'
    # swept again with nothing new: nothing edited
    writes = len(server.writes())
    assert sweep(clone, server, forge).returncode == 0
    assert len(server.writes()) == writes
    # the sweep leaves no refs behind
    assert git(clone, 'for-each-ref', 'refs/migmerge') == ''


def test_sweep_pages_through_open_pull_requests(
        tmp_path: Path, server: ForgeServer,
) -> None:
    work, clone = pull_request_repos(tmp_path)
    server.pulls.clear()
    sha = git(work, 'rev-parse', 'pr2').strip()
    # 101 open pull requests against main (two pages), one against another
    # branch; only #2's ref exists, the others are reported as not fetched.
    for number in range(2, 103):
        server.add_pull(number, 'main', sha)
    server.add_pull(200, 'release', sha)
    proc = sweep(clone, server)
    assert proc.returncode == 0, proc.stderr
    pages = [r.query.get('page', '1') for r in server.requests
             if r.path.endswith('/pulls')]
    assert pages == ['1', '2']
    assert proc.stderr.count('could not fetch') == 100
    assert '#200' not in proc.stderr
    # the one fetched is still swept (clean against this base)
    assert proc.stdout == 'clean: GitHub #2: no comment needed\n'


@pytest.mark.parametrize('option', [
    '--remote=--upload-pack=touch pwned', '--base=--output=pwned',
    '--base=origin/main~1',
])
def test_sweep_names_are_not_options(
        tmp_path: Path, server: ForgeServer, option: str,
) -> None:
    _, clone = pull_request_repos(tmp_path)
    args = ['--sweep', '--post', 'github', option]
    if not option.startswith('--base'):
        args.append('--base=origin/main')
    proc = report(clone, forge_env(server), *args)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert 'remote name' in line or 'must name a branch' in line
    assert not list(tmp_path.rglob('pwned'))
    assert server.requests == []
