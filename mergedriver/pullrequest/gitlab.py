"""GitLab's REST API (v4): merge request notes, open merge requests.

Configuration from the environment GitLab CI sets: ``CI_API_V4_URL``,
``CI_PROJECT_ID``, and a token that may write notes (a project access
token or a personal one; the job token cannot) in ``MIGMERGE_GITLAB_TOKEN``
or ``GITLAB_TOKEN``, sent as ``PRIVATE-TOKEN``.  Our notes are those of the
user ``GET /user`` names (a project access token's bot user answers too).
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from mergedriver import __version__
from mergedriver.errors import MigmergeError
from mergedriver.pullrequest.forge import Comment
from mergedriver.pullrequest.forge import ForgeError
from mergedriver.pullrequest.forge import Http
from mergedriver.pullrequest.forge import PullRequest

# Characters of a note (GitLab answers 400 "is too long" above it).
MAX_BODY = 1_000_000
TOKEN_VARIABLES = ('MIGMERGE_GITLAB_TOKEN', 'GITLAB_TOKEN')


class GitLab:
    name = 'GitLab'
    max_body = MAX_BODY

    def __init__(self, http: Http, project: str) -> None:
        self.http = http
        # A numeric id or a "group/project" path, URL-encoded as one segment.
        self.project = urllib.parse.quote(project, safe='')
        self._author = ''
        self._web_urls: dict[int, str] = {}

    def _url(self, path: str, **query: str | int) -> str:
        return self.http.url(f'/projects/{self.project}{path}', query)

    def _note(self, number: int, data: Any) -> Comment:
        try:
            return Comment(
                id=int(data['id']),
                author=str((data.get('author') or {}).get('username') or ''),
                body=str(data.get('body') or ''),
                created_at=str(data.get('created_at') or ''),
                url=f'{self._web_url(number)}#note_{int(data["id"])}',
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ForgeError('GitLab API: a note without an id') from None

    def _web_url(self, number: int) -> str:
        if number not in self._web_urls:
            data = self.http.request(
                'GET', self._url(f'/merge_requests/{number}'),
            ).data
            url = data.get('web_url') if isinstance(data, dict) else None
            self._web_urls[number] = str(url or '')
        return self._web_urls[number]

    def identity(self) -> str:
        if not self._author:
            data = self.http.request('GET', self.http.url('/user', None)).data
            if not isinstance(data, dict) or not data.get('username'):
                raise ForgeError('GitLab API: /user without a username')
            self._author = str(data['username'])
        return self._author

    def comments(self, number: int) -> list[Comment]:
        # Notes come newest first unless asked; system notes ("added 1
        # commit") are not comments anyone wrote.
        url = self._url(
            f'/merge_requests/{number}/notes',
            sort='asc', order_by='created_at', per_page=100,
        )
        return [
            self._note(number, item) for item in self.http.pages(url)
            if isinstance(item, dict) and not item.get('system')
        ]

    def create(self, number: int, body: str) -> Comment:
        url = self._url(f'/merge_requests/{number}/notes')
        data = self.http.request('POST', url, {'body': body}).data
        return self._note(number, data)

    def update(self, number: int, comment: Comment, body: str) -> Comment:
        url = self._url(f'/merge_requests/{number}/notes/{comment.id}')
        data = self.http.request('PUT', url, {'body': body}).data
        return self._note(number, data)

    def delete(self, number: int, comment: Comment) -> None:
        self.http.request(
            'DELETE', self._url(f'/merge_requests/{number}/notes/{comment.id}'),
        )

    def open_pulls(self, base_branch: str) -> list[PullRequest]:
        url = self._url(
            '/merge_requests', state='opened', target_branch=base_branch,
            per_page=100,
        )
        pulls = []
        for item in self.http.pages(url):
            try:
                number = int(item['iid'])
                pulls.append(PullRequest(
                    number=number,
                    head_sha=str(item['sha']),
                    head_ref=f'refs/merge-requests/{number}/head',
                    url=str(item.get('web_url') or ''),
                ))
            except (KeyError, TypeError, ValueError):
                raise ForgeError(
                    'GitLab API: a merge request without iid or sha',
                ) from None
            self._web_urls[number] = pulls[-1].url
        return pulls


def gitlab_from_env(environ: Mapping[str, str]) -> GitLab:
    token = next(
        (environ[v] for v in TOKEN_VARIABLES if environ.get(v)), '',
    )
    api = environ.get('CI_API_V4_URL', '')
    project = environ.get('CI_PROJECT_ID', '')
    if not token:
        raise MigmergeError(
            '--post gitlab: set MIGMERGE_GITLAB_TOKEN (or GITLAB_TOKEN) to a '
            'token that may write notes',
        )
    if not api or not project:
        raise MigmergeError('--post gitlab: set CI_API_V4_URL and CI_PROJECT_ID')
    http = Http(
        api,
        auth_headers={'PRIVATE-TOKEN': token},
        headers={'User-Agent': f'migmerge/{__version__}'},
        secret=token,
        label='GitLab',
    )
    return GitLab(http, project)
