"""GitHub's REST API: issue comments on a pull request, open pulls.

Configuration comes from the environment GitHub Actions sets:
``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` (``owner/name``) and
``GITHUB_API_URL`` (GitHub Enterprise; default the public API).

Whose comments are ours: the login ``GET /user`` answers.  The token of a
workflow run (and any GitHub App installation token) cannot call ``/user``
-- it gets 403 "Resource not accessible by integration" -- and its comments
are authored by ``github-actions[bot]``: that is the author then, as the
common sticky-comment actions assume (Danger JS duplicated its comment for
as long as it treated that 403 as "no identity", danger/danger-js#1031).
A GitHub App posting with its own installation token is ``<slug>[bot]``:
set ``MIGMERGE_COMMENT_AUTHOR`` to that login.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mergedriver import __version__
from mergedriver.errors import MigmergeError
from mergedriver.pullrequest.forge import Comment
from mergedriver.pullrequest.forge import ForgeError
from mergedriver.pullrequest.forge import Http
from mergedriver.pullrequest.forge import PullRequest

PUBLIC_API = 'https://api.github.com'
ACTIONS_BOT = 'github-actions[bot]'
INTEGRATION = 'Resource not accessible by integration'
# Characters of a comment body (the API answers 422 above it).
MAX_BODY = 65536
_REPOSITORY = re.compile(r'[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+')


def _comment(data: Any) -> Comment:
    try:
        return Comment(
            id=int(data['id']),
            author=str((data.get('user') or {}).get('login') or ''),
            body=str(data.get('body') or ''),
            created_at=str(data.get('created_at') or ''),
            url=str(data.get('html_url') or ''),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ForgeError('GitHub API: a comment without an id') from None


class GitHub:
    name = 'GitHub'
    max_body = MAX_BODY

    def __init__(
            self, http: Http, repository: str, *, author: str = '',
    ) -> None:
        self.http = http
        self.repository = repository
        self._author = author

    def _url(self, path: str, **query: str | int) -> str:
        return self.http.url(f'/repos/{self.repository}{path}', query)

    def identity(self) -> str:
        if not self._author:
            try:
                data = self.http.request('GET', self.http.url('/user', None))
                self._author = str(data.data['login'])
            except ForgeError as e:
                # Only the integration refusal: a 403 for a rate limit must
                # not make every run miss its comment and add another.
                if e.status != 403 or INTEGRATION not in e.message:
                    raise
                self._author = ACTIONS_BOT
            except (KeyError, TypeError):
                raise ForgeError('GitHub API: /user without a login') from None
        return self._author

    def comments(self, number: int) -> list[Comment]:
        url = self._url(f'/issues/{number}/comments', per_page=100)
        return [_comment(item) for item in self.http.pages(url)]

    def create(self, number: int, body: str) -> Comment:
        url = self._url(f'/issues/{number}/comments')
        return _comment(self.http.request('POST', url, {'body': body}).data)

    def update(self, number: int, comment: Comment, body: str) -> Comment:
        url = self._url(f'/issues/comments/{comment.id}')
        return _comment(self.http.request('PATCH', url, {'body': body}).data)

    def delete(self, number: int, comment: Comment) -> None:
        self.http.request('DELETE', self._url(f'/issues/comments/{comment.id}'))

    def open_pulls(self, base_branch: str) -> list[PullRequest]:
        url = self._url(
            '/pulls', state='open', base=base_branch, per_page=100,
        )
        pulls = []
        for item in self.http.pages(url):
            try:
                number = int(item['number'])
                pulls.append(PullRequest(
                    number=number,
                    head_sha=str(item['head']['sha']),
                    head_ref=f'refs/pull/{number}/head',
                    url=str(item.get('html_url') or ''),
                ))
            except (KeyError, TypeError, ValueError):
                raise ForgeError(
                    'GitHub API: a pull request without number or head',
                ) from None
        return pulls


def github_from_env(environ: Mapping[str, str]) -> GitHub:
    token = environ.get('GITHUB_TOKEN', '')
    repository = environ.get('GITHUB_REPOSITORY', '')
    if not token:
        raise MigmergeError('--post github: set GITHUB_TOKEN')
    if not _REPOSITORY.fullmatch(repository):
        raise MigmergeError(
            '--post github: set GITHUB_REPOSITORY to owner/name',
        )
    http = Http(
        environ.get('GITHUB_API_URL') or PUBLIC_API,
        auth_headers={'Authorization': f'Bearer {token}'},
        headers={
            'Accept': 'application/vnd.github+json',
            'X-GitHub-Api-Version': '2022-11-28',
            'User-Agent': f'migmerge/{__version__}',
        },
        secret=token,
        label='GitHub',
    )
    return GitHub(
        http, repository, author=environ.get('MIGMERGE_COMMENT_AUTHOR', ''),
    )
