"""The sticky comment against a local stand-in for GitHub's and GitLab's
APIs (tests/forge_server.py): real HTTP through urllib, every request
recorded."""
from __future__ import annotations

import socket
from collections.abc import Callable
from collections.abc import Iterator

import pytest

from mergedriver.errors import MigmergeError
from mergedriver.pullrequest.forge import Forge
from mergedriver.pullrequest.forge import ForgeError
from mergedriver.pullrequest.forge import next_link
from mergedriver.pullrequest.forge import parse_marker
from mergedriver.pullrequest.forge import PostResult
from mergedriver.pullrequest.forge import Rendered
from mergedriver.pullrequest.forge import upsert
from mergedriver.pullrequest.github import github_from_env
from mergedriver.pullrequest.gitlab import gitlab_from_env
from testing.forge_server import ForgeServer

TOKEN = 'ghp_s3cr3t-T0KEN-value'
HEAD = 'a' * 40
PR = 7


@pytest.fixture
def server() -> Iterator[ForgeServer]:
    with ForgeServer() as server:
        server.add_token(TOKEN, 'migbot')
        server.add_pull(PR, 'main', HEAD)
        server.add_merge_request(PR, 'main', HEAD)
        yield server


def github(server: ForgeServer, token: str = TOKEN) -> Forge:
    return github_from_env({
        'GITHUB_TOKEN': token,
        'GITHUB_REPOSITORY': server.repository,
        'GITHUB_API_URL': server.url,
    })


def gitlab(server: ForgeServer, token: str = TOKEN) -> Forge:
    return gitlab_from_env({
        'MIGMERGE_GITLAB_TOKEN': token,
        'CI_API_V4_URL': server.gitlab_url,
        'CI_PROJECT_ID': server.project,
    })


def renderer(text: str, comment_id: str = '') -> Callable[[int], str]:
    """A report rendering as the engine writes it: its marker line, then a
    body that gets shorter with each shed level."""
    def render(shed: int) -> str:
        return (
            f'<!-- migmerge:report id={comment_id} -->\n'
            f'## migmerge: {text}\n' + 'detail line\n' * (1000 >> (3 * shed))
        )
    return render


def post(
        forge: Forge,
        text: str = 'resolvable',
        *,
        verdict: str = 'resolvable',
        on_clean: str = 'update',
        comment_id: str = '',
        head: str = HEAD,
) -> PostResult:
    report = Rendered(verdict, head, renderer(text, comment_id), 3)
    return upsert(forge, PR, report, comment_id=comment_id, on_clean=on_clean)


def test_creates_one_comment(server: ForgeServer) -> None:
    result = post(github(server))
    assert result.action == 'create'
    [body] = server.bodies(PR)
    marker = parse_marker(body)
    assert marker is not None and marker.state == 'open'
    assert '## migmerge: resolvable' in body
    assert result.url == server.github_comments[PR][0]['html_url']
    [create] = [r for r in server.requests if r.method == 'POST']
    assert create.path == f'/repos/octo/app/issues/{PR}/comments'
    assert create.headers['authorization'] == f'Bearer {TOKEN}'


def test_unchanged_report_is_not_edited(server: ForgeServer) -> None:
    post(github(server))
    before = len(server.writes())
    result = post(github(server))
    assert result.action == 'none' and result.url
    assert len(server.writes()) == before


def test_changed_report_edits_the_same_comment(server: ForgeServer) -> None:
    post(github(server))
    [comment_id] = [c['id'] for c in server.github_comments[PR]]
    result = post(github(server), 'blocked', verdict='blocked')
    assert result.action == 'update'
    [body] = server.bodies(PR)
    assert '## migmerge: blocked' in body
    [patch] = [r for r in server.requests if r.method == 'PATCH']
    assert patch.path == f'/repos/octo/app/issues/comments/{comment_id}'


def test_clean_pull_request_gets_no_comment(server: ForgeServer) -> None:
    for on_clean in ('update', 'delete', 'keep'):
        result = post(github(server), verdict='clean', on_clean=on_clean)
        assert result.action == 'none' and result.url == ''
    assert server.writes() == []
    assert server.bodies(PR) == []


def test_clean_marks_the_comment_resolved_once(server: ForgeServer) -> None:
    post(github(server))
    result = post(github(server), verdict='clean', head='b' * 40)
    assert result.action == 'resolve'
    [body] = server.bodies(PR)
    assert 'resolved** as of ' + 'b' * 40 in body
    assert 'detail line' not in body
    marker = parse_marker(body)
    assert marker is not None and marker.state == 'resolved'
    # staying clean, even at a new head, edits nothing
    before = len(server.writes())
    assert post(github(server), verdict='clean', head='c' * 40).action == 'none'
    assert len(server.writes()) == before
    # and problems again reopen the same comment
    assert post(github(server)).action == 'update'
    assert len(server.bodies(PR)) == 1


def test_clean_delete_and_keep(server: ForgeServer) -> None:
    post(github(server))
    [kept] = server.bodies(PR)
    assert post(github(server), verdict='clean', on_clean='keep').action == 'none'
    assert server.bodies(PR) == [kept]
    assert post(
        github(server), verdict='clean', on_clean='delete',
    ).action == 'delete'
    assert server.bodies(PR) == []
    assert server.requests[-1].method == 'DELETE'


def test_marker_on_a_later_page_is_found(server: ForgeServer) -> None:
    post(github(server))
    ours = server.github_comments[PR][0]
    for i in range(150):
        server.add_comment(PR, 'reviewer', f'looks good {i}')
    # ours is the oldest: move it after the others, onto page 2
    server.github_comments[PR].remove(ours)
    server.github_comments[PR].append(ours)
    server.requests.clear()
    result = post(github(server), 'blocked', verdict='blocked')
    assert result.action == 'update'
    pages = [r.query.get('page', '1') for r in server.requests
             if r.method == 'GET' and r.path.endswith('/comments')]
    assert pages == ['1', '2']
    assert not any(r.method == 'POST' for r in server.requests)
    assert len(server.bodies(PR)) == 151


def test_another_authors_comment_with_our_marker_is_untouched(
        server: ForgeServer,
) -> None:
    forged = (
        '<!-- migmerge:report id= digest=0000 state=open -->\nfake report'
    )
    other_id = server.add_comment(PR, 'mallory', forged)
    result = post(github(server))
    assert result.action == 'create'
    post(github(server), 'blocked', verdict='blocked')
    post(github(server), verdict='clean', on_clean='delete')
    assert server.bodies(PR) == [forged]
    touched = [r for r in server.writes() if str(other_id) in r.path]
    assert touched == []


def test_duplicates_collapse_to_the_oldest(server: ForgeServer) -> None:
    post(github(server))
    [first] = server.github_comments[PR]
    # a concurrent run that listed before the first one created
    server.add_comment(PR, 'migbot', first['body'])
    server.add_comment(PR, 'migbot', first['body'])
    result = post(github(server))
    assert result.action == 'none' and result.deleted == 2
    assert [c['id'] for c in server.github_comments[PR]] == [first['id']]


def test_comment_id_lets_reports_coexist(server: ForgeServer) -> None:
    post(github(server), 'api', comment_id='api')
    post(github(server), 'web', comment_id='web')
    post(github(server), 'api changed', comment_id='api')
    bodies = server.bodies(PR)
    assert len(bodies) == 2
    assert 'api changed' in bodies[0] and 'web' in bodies[1]


def test_actions_token_comments_as_github_actions_bot(
        server: ForgeServer,
) -> None:
    # The workflow token cannot call /user; its comments are by
    # github-actions[bot], and a second run must find the first's.
    server.add_token('ghs_actions', 'unused', kind='actions')
    post(github(server, 'ghs_actions'))
    assert server.github_comments[PR][0]['user']['login'] == (
        'github-actions[bot]')
    assert post(github(server, 'ghs_actions'), 'x', verdict='blocked').action == (
        'update')
    assert len(server.bodies(PR)) == 1


def test_forbidden_is_an_error_without_the_token(server: ForgeServer) -> None:
    server.add_token(TOKEN + 'ro', 'fork', kind='readonly')
    with pytest.raises(ForgeError) as raised:
        post(github(server, TOKEN + 'ro'))
    assert raised.value.status == 403
    assert 'Resource not accessible by integration' in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert server.bodies(PR) == []


def test_too_long_sheds_and_retries(server: ForgeServer) -> None:
    server.github_max_body = 3000
    result = post(github(server))
    assert result.action == 'create'
    posts = [r for r in server.requests if r.method == 'POST']
    assert len(posts) == 2
    assert len(posts[0].body['body']) > 3000
    [body] = server.bodies(PR)
    assert len(body) <= 3000 and body == posts[1].body['body']
    # The digest is the full rendering's: the same report is not re-sent.
    before = len(server.writes())
    assert post(github(server)).action == 'none'
    assert len(server.writes()) == before


def test_token_never_in_errors(server: ForgeServer) -> None:
    # bad credentials, an API echoing the header, an unreachable API
    with pytest.raises(ForgeError) as raised:
        post(github(server, TOKEN + 'x'))
    assert raised.value.status == 401 and TOKEN not in str(raised.value)
    server.fail('GET', r'/user', 500, {'message': f'bad header Bearer {TOKEN}'})
    with pytest.raises(ForgeError) as raised:
        post(github(server))
    assert TOKEN not in str(raised.value) and '***' in str(raised.value)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    forge = github_from_env({
        'GITHUB_TOKEN': TOKEN, 'GITHUB_REPOSITORY': 'o/r',
        'GITHUB_API_URL': f'http://127.0.0.1:{port}/{TOKEN}',
    })
    with pytest.raises(ForgeError) as raised:
        post(forge)
    assert raised.value.status is None and TOKEN not in str(raised.value)


def test_missing_configuration_is_unusable_input() -> None:
    with pytest.raises(MigmergeError, match='GITHUB_TOKEN'):
        github_from_env({'GITHUB_REPOSITORY': 'o/r'})
    with pytest.raises(MigmergeError, match='owner/name'):
        github_from_env({'GITHUB_TOKEN': TOKEN, 'GITHUB_REPOSITORY': 'x'})
    with pytest.raises(MigmergeError, match='GITLAB_TOKEN'):
        gitlab_from_env({'CI_API_V4_URL': 'http://x', 'CI_PROJECT_ID': '1'})


def test_next_link_header() -> None:
    link = (
        '<https://api.github.com/x?page=1>; rel="prev", '
        '<https://api.github.com/x?page=3>; rel="next", '
        '<https://api.github.com/x?page=9>; rel="last"'
    )
    assert next_link(link) == 'https://api.github.com/x?page=3'
    assert next_link('<https://api.github.com/x?page=1>; rel="prev"') is None


def test_gitlab_note_lifecycle(server: ForgeServer) -> None:
    server.add_note(PR, 'someone', 'first!')
    server.add_note(PR, 'migbot', 'added 1 commit', system=True)
    result = post(gitlab(server))
    assert result.action == 'create'
    assert result.url.startswith(
        'https://gitlab.example/g/p/-/merge_requests/7#note_')
    [create] = [r for r in server.requests if r.method == 'POST']
    assert create.path == f'/api/v4/projects/42/merge_requests/{PR}/notes'
    assert create.headers['private-token'] == TOKEN
    assert post(gitlab(server)).action == 'none'
    assert post(gitlab(server), 'x', verdict='blocked').action == 'update'
    assert [r.method for r in server.writes()] == ['POST', 'PUT']
    assert post(gitlab(server), verdict='clean').action == 'resolve'
    assert len(server.note_bodies(PR)) == 3


def test_gitlab_pages_and_duplicates(server: ForgeServer) -> None:
    for i in range(130):
        server.add_note(PR, 'someone', f'note {i}')
    post(gitlab(server))
    [ours] = [n for n in server.gitlab_notes[PR]
              if n['author']['username'] == 'migbot']
    server.add_note(PR, 'migbot', ours['body'])
    server.requests.clear()
    result = post(gitlab(server))
    assert result.action == 'none' and result.deleted == 1
    pages = [r.query.get('page', '1') for r in server.requests
             if r.method == 'GET' and r.path.endswith('/notes')]
    assert pages == ['1', '2']
    assert [n['id'] for n in server.gitlab_notes[PR]
            if n['author']['username'] == 'migbot'] == [ours['id']]


def test_gitlab_too_long_sheds(server: ForgeServer) -> None:
    server.gitlab_max_body = 3000
    assert post(gitlab(server)).action == 'create'
    [body] = server.note_bodies(PR)
    assert len(body) <= 3000


def test_rate_limited_identity_is_an_error_not_the_actions_bot(
        server: ForgeServer,
) -> None:
    # Only the integration refusal means "the workflow token": guessing
    # the author on any 403 would miss our comment and post another.
    server.fail('GET', r'/user', 403, {
        'message': 'API rate limit exceeded for user ID 1.',
        'documentation_url': 'https://docs.github.com/rest/overview/rate-limits',
    })
    with pytest.raises(ForgeError, match='rate limit'):
        post(github(server))
    assert server.writes() == []


def test_paging_link_to_another_origin_is_not_followed(
        server: ForgeServer,
) -> None:
    for i in range(120):
        server.add_comment(PR, 'reviewer', f'comment {i}')
    with ForgeServer() as elsewhere:
        server.link_origin = elsewhere.url
        with pytest.raises(ForgeError, match='another origin'):
            post(github(server))
        # the token went nowhere else
        assert elsewhere.requests == []
    assert server.writes() == []


def test_a_redirect_elsewhere_gets_no_token(server: ForgeServer) -> None:
    with ForgeServer() as elsewhere:
        elsewhere.add_token(TOKEN, 'migbot')
        server.fail('GET', r'/user', 307, None,
                    {'Location': f'{elsewhere.url}/user'})
        with pytest.raises(ForgeError) as raised:
            post(github(server))
        # urllib follows the redirect, without the credentials
        [followed] = elsewhere.requests
        assert 'authorization' not in followed.headers
        assert raised.value.status == 401
    assert TOKEN not in str(raised.value)


def test_gateway_errors_are_retried_except_on_create(
        server: ForgeServer,
) -> None:
    busy = {'message': 'Server Error'}
    server.fail('GET', r'.*/comments', 502, busy, {'Retry-After': '0'},
                times=1)
    assert post(github(server)).action == 'create'
    gets = [r for r in server.requests if r.path.endswith('/comments')
            and r.method == 'GET']
    assert len(gets) == 2
    # a POST is not repeated: it may have created the comment
    server.fail('POST', r'.*/comments', 503, busy, {'Retry-After': '0'},
                times=1)
    with pytest.raises(ForgeError, match='503'):
        post(github(server), comment_id='other')
    assert len([r for r in server.requests if r.method == 'POST']) == 2


def test_unknown_pull_request_is_not_found(server: ForgeServer) -> None:
    report = Rendered('resolvable', HEAD, renderer('x'), 3)
    for forge in (github(server), gitlab(server)):
        with pytest.raises(ForgeError) as raised:
            upsert(forge, 999, report, comment_id='')
        assert raised.value.status == 404
        assert 'Not' in str(raised.value) and '/999' in str(raised.value)
    assert server.writes() == []
