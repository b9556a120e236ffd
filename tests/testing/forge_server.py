"""A stand-in for GitHub's and GitLab's REST APIs on 127.0.0.1.

One threaded HTTP server answers both: GitHub at its root (``GITHUB_API_URL``
= ``server.url``), GitLab under ``/api/v4`` (``CI_API_V4_URL`` =
``server.gitlab_url``).  It answers the way the real APIs do, for the
calls migmerge makes: the JSON shapes, paging with ``per_page`` (GitHub:
default 30, at most 100, a ``Link`` header; GitLab: default 20, at most 100,
``Link`` and ``X-Next-Page``), 401 for an unknown token, 403 for a token
that may not write (a fork's read-only token) or may not call ``/user``
(any integration token), 403 for editing another user's comment, 404,
and 422 (GitHub) / 400 (GitLab) with the real wording for a body over the
size limit.  Every request is recorded, including its headers.

    with ForgeServer() as server:
        server.add_token('t0k', 'alice')
        ...
"""
from __future__ import annotations

import dataclasses
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

GITHUB_DOCS = 'https://docs.github.com/rest'
ACTIONS_BOT = 'github-actions[bot]'
GITHUB_MAX_BODY = 65536
GITLAB_MAX_BODY = 1_000_000


@dataclasses.dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclasses.dataclass(frozen=True)
class Token:
    """``kind``: ``user`` (a personal token: /user answers, may write),
    ``actions`` (a workflow's token: no /user, writes as
    github-actions[bot]), ``readonly`` (a fork's token: reads only)."""
    login: str
    kind: str


class Reply(Exception):
    def __init__(
            self, status: int, data: Any = None,
            headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.data = data
        self.headers = headers or {}


class ForgeServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.tokens: dict[str, Token] = {}
        # issue number -> comments (GitHub) / MR iid -> notes (GitLab)
        self.github_comments: dict[int, list[dict[str, Any]]] = {}
        self.gitlab_notes: dict[int, list[dict[str, Any]]] = {}
        self.pulls: list[dict[str, Any]] = []
        self.merge_requests: list[dict[str, Any]] = []
        self.github_max_body = GITHUB_MAX_BODY
        self.gitlab_max_body = GITLAB_MAX_BODY
        # [method, path regex, status, JSON, headers, times left] answered
        # instead (times -1: always)
        self.failures: list[list[Any]] = []
        # Paging links point here instead of at this server when set (a
        # proxy rewriting them, say): a client must not follow them.
        self.link_origin: str | None = None
        self.repository = 'octo/app'
        self.project = '42'
        self._next_id = 1000
        self._clock = 0
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), _handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), daemon=True,
        )
        host, port = self._httpd.server_address[:2]
        self.url = f'http://{host}:{port}'
        self.gitlab_url = f'{self.url}/api/v4'

    def __enter__(self) -> ForgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- set-up ---------------------------------------------------------

    def add_token(self, token: str, login: str, kind: str = 'user') -> None:
        self.tokens[token] = Token(login, kind)

    def fail(
            self, method: str, path: str, status: int, data: Any,
            headers: dict[str, str] | None = None, *, times: int = -1,
    ) -> None:
        """Answer ``status`` with ``data`` (and ``headers``) to requests
        matching ``path``: ``times`` times, or always."""
        self.failures.append(
            [method, path, status, data, headers or {}, times],
        )

    def _stamp(self) -> tuple[int, str]:
        self._next_id += 1
        self._clock += 1
        # ISO 8601 like both APIs, increasing with each new comment
        minutes, seconds = divmod(self._clock, 60)
        hours, minutes = divmod(minutes, 60)
        stamp = f'2026-01-01T{hours:02}:{minutes:02}:{seconds:02}Z'
        return self._next_id, stamp

    def add_comment(self, number: int, login: str, body: str) -> int:
        with self.lock:
            return self._github_comment(number, login, body)['id']  # type: ignore[no-any-return]

    def add_note(self, number: int, username: str, body: str,
                 *, system: bool = False) -> int:
        with self.lock:
            note = self._gitlab_note(number, username, body)
            note['system'] = system
            return note['id']  # type: ignore[no-any-return]

    def add_pull(self, number: int, base: str, head_sha: str) -> None:
        self.pulls.append({
            'number': number,
            'state': 'open',
            'html_url': f'https://github.com/{self.repository}/pull/{number}',
            'head': {'sha': head_sha, 'ref': f'branch-{number}'},
            'base': {'ref': base},
        })

    def add_merge_request(self, iid: int, target: str, sha: str) -> None:
        self.merge_requests.append({
            'iid': iid,
            'state': 'opened',
            'sha': sha,
            'target_branch': target,
            'source_branch': f'branch-{iid}',
            'web_url': f'https://gitlab.example/g/p/-/merge_requests/{iid}',
        })

    # -- what tests read --------------------------------------------------

    def bodies(self, number: int) -> list[str]:
        return [c['body'] for c in self.github_comments.get(number, [])]

    def note_bodies(self, number: int) -> list[str]:
        return [n['body'] for n in self.gitlab_notes.get(number, [])]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != 'GET']

    def methods(self) -> list[str]:
        return [f'{r.method} {r.path}' for r in self.requests]

    # -- the APIs ---------------------------------------------------------

    def _github_comment(
            self, number: int, login: str, body: str,
    ) -> dict[str, Any]:
        id_, stamp = self._stamp()
        comment = {
            'id': id_,
            'node_id': f'IC_{id_}',
            'html_url': (
                f'https://github.com/{self.repository}/pull/{number}'
                f'#issuecomment-{id_}'
            ),
            'issue_url': f'{self.url}/repos/{self.repository}/issues/{number}',
            'body': body,
            'user': {
                'login': login, 'id': abs(hash(login)) % 10**8,
                'type': 'Bot' if login.endswith('[bot]') else 'User',
            },
            'created_at': stamp,
            'updated_at': stamp,
            'author_association': 'NONE',
        }
        self.github_comments.setdefault(number, []).append(comment)
        return comment

    def _gitlab_note(
            self, number: int, username: str, body: str,
    ) -> dict[str, Any]:
        id_, stamp = self._stamp()
        note = {
            'id': id_,
            'type': None,
            'body': body,
            'author': {'id': abs(hash(username)) % 10**8,
                       'username': username, 'name': username},
            'created_at': stamp,
            'updated_at': stamp,
            'system': False,
            'noteable_id': 7000 + number,
            'noteable_type': 'MergeRequest',
            'noteable_iid': number,
        }
        self.gitlab_notes.setdefault(number, []).append(note)
        return note

    def handle(
            self, method: str, path: str, query: dict[str, str],
            headers: dict[str, str], body: Any, host: str,
    ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(Recorded(method, path, query, headers, body))
            try:
                for failure in self.failures:
                    f_method, f_path, status, data, extra, times = failure
                    if (
                            times != 0 and f_method == method
                            and re.fullmatch(f_path, path)
                    ):
                        failure[5] = times - 1
                        raise Reply(status, data, extra)
                if path.startswith('/api/v4/'):
                    return self._gitlab(
                        method, path[len('/api/v4'):], query, headers, body,
                        host,
                    )
                return self._github(method, path, query, headers, body, host)
            except Reply as r:
                return r.status, r.data, r.headers

    # GitHub

    def _github_token(self, headers: dict[str, str]) -> Token:
        auth = headers.get('authorization', '')
        scheme, _, token = auth.partition(' ')
        if scheme.lower() not in ('bearer', 'token') or token not in self.tokens:
            raise Reply(401, {
                'message': 'Bad credentials',
                'documentation_url': GITHUB_DOCS, 'status': '401',
            })
        return self.tokens[token]

    def _github(
            self, method: str, path: str, query: dict[str, str],
            headers: dict[str, str], body: Any, host: str,
    ) -> tuple[int, Any, dict[str, str]]:
        token = self._github_token(headers)
        forbidden = Reply(403, {
            'message': 'Resource not accessible by integration',
            'documentation_url': GITHUB_DOCS, 'status': '403',
        })
        not_found = Reply(404, {
            'message': 'Not Found', 'documentation_url': GITHUB_DOCS,
            'status': '404',
        })
        author = ACTIONS_BOT if token.kind == 'actions' else token.login
        if path == '/user' and method == 'GET':
            if token.kind != 'user':
                raise forbidden
            return 200, {'login': token.login, 'id': 1, 'type': 'User'}, {}
        repo = f'/repos/{self.repository}'
        if not path.startswith(repo + '/'):
            raise not_found
        rest = path[len(repo):]
        match = re.fullmatch(r'/issues/(\d+)/comments', rest)
        if match:
            number = int(match[1])
            if number not in {p['number'] for p in self.pulls} | set(
                    self.github_comments):
                raise not_found
            if method == 'GET':
                return self._page(
                    self.github_comments.get(number, []), query, host, path,
                    default=30,
                )
            if method == 'POST':
                if token.kind == 'readonly':
                    raise forbidden
                text = self._github_body(body)
                return 201, self._github_comment(number, author, text), {}
        match = re.fullmatch(r'/issues/comments/(\d+)', rest)
        if match:
            comment_id = int(match[1])
            for comments in self.github_comments.values():
                for comment in comments:
                    if comment['id'] != comment_id:
                        continue
                    if token.kind == 'readonly':
                        raise forbidden
                    if comment['user']['login'] != author:
                        # only the author (or a maintainer) may edit
                        raise Reply(403, {
                            'message': 'Must have admin rights to Repository.',
                            'documentation_url': GITHUB_DOCS,
                            'status': '403',
                        })
                    if method == 'PATCH':
                        comment['body'] = self._github_body(body)
                        comment['updated_at'] = self._stamp()[1]
                        return 200, comment, {}
                    if method == 'DELETE':
                        comments.remove(comment)
                        return 204, None, {}
            raise not_found
        if rest == '/pulls' and method == 'GET':
            pulls = [
                p for p in self.pulls
                if p['state'] == query.get('state', 'open')
                and ('base' not in query or p['base']['ref'] == query['base'])
            ]
            return self._page(pulls, query, host, path, default=30)
        raise not_found

    def _github_body(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get('body'), str):
            raise Reply(422, {
                'message': 'Invalid request.\n\n"body" wasn\'t supplied.',
                'documentation_url': GITHUB_DOCS, 'status': '422',
            })
        if len(body['body']) > self.github_max_body:
            raise Reply(422, {
                'message': 'Validation Failed',
                'errors': [{
                    'resource': 'IssueComment', 'code': 'custom',
                    'field': 'body',
                    'message': 'body is too long (maximum is 65536 characters)',
                }],
                'documentation_url': GITHUB_DOCS, 'status': '422',
            })
        return body['body']  # type: ignore[no-any-return]

    # GitLab

    def _gitlab(
            self, method: str, path: str, query: dict[str, str],
            headers: dict[str, str], body: Any, host: str,
    ) -> tuple[int, Any, dict[str, str]]:
        token_value = headers.get('private-token', '')
        if token_value not in self.tokens:
            raise Reply(401, {'message': '401 Unauthorized'})
        token = self.tokens[token_value]
        not_found = Reply(404, {'message': '404 Not found'})
        if path == '/user' and method == 'GET':
            return 200, {'id': 1, 'username': token.login,
                         'name': token.login}, {}
        project = f'/projects/{self.project}'
        if not path.startswith(project + '/'):
            raise Reply(404, {'message': '404 Project Not Found'})
        rest = path[len(project):]
        if rest == '/merge_requests' and method == 'GET':
            mrs = [
                m for m in self.merge_requests
                if m['state'] == query.get('state', m['state'])
                and m['target_branch'] == query.get(
                    'target_branch', m['target_branch'])
            ]
            return self._page(mrs, query, host, '/api/v4' + path, default=20,
                              gitlab=True)
        match = re.fullmatch(r'/merge_requests/(\d+)(/notes(?:/(\d+))?)?', rest)
        if not match:
            raise not_found
        iid = int(match[1])
        mr = next((m for m in self.merge_requests if m['iid'] == iid), None)
        if mr is None:
            raise Reply(404, {'message': '404 Not found'})
        if match[2] is None:
            if method == 'GET':
                return 200, mr, {}
            raise not_found
        notes = self.gitlab_notes.setdefault(iid, [])
        if match[3] is None:
            if method == 'GET':
                ordered = sorted(
                    notes, key=lambda n: (n['created_at'], n['id']),
                    reverse=query.get('sort', 'desc') == 'desc',
                )
                return self._page(ordered, query, host, '/api/v4' + path,
                                  default=20, gitlab=True)
            if method == 'POST':
                if token.kind == 'readonly':
                    raise Reply(403, {'message': '403 Forbidden'})
                text = self._gitlab_body(body)
                return 201, self._gitlab_note(iid, token.login, text), {}
            raise not_found
        note_id = int(match[3])
        note = next((n for n in notes if n['id'] == note_id), None)
        if note is None:
            raise Reply(404, {'message': '404 Note Not Found'})
        if token.kind == 'readonly' or note['author']['username'] != token.login:
            raise Reply(403, {'message': '403 Forbidden'})
        if method == 'PUT':
            note['body'] = self._gitlab_body(body)
            return 200, note, {}
        if method == 'DELETE':
            notes.remove(note)
            return 204, None, {}
        raise not_found

    def _gitlab_body(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get('body'), str):
            raise Reply(400, {'error': 'body is missing'})
        if len(body['body']) > self.gitlab_max_body:
            raise Reply(400, {'message': {'note': [
                'is too long (maximum is 1000000 characters)',
            ]}})
        return body['body']  # type: ignore[no-any-return]

    # paging

    def _page(
            self, items: list[dict[str, Any]], query: dict[str, str],
            host: str, path: str, *, default: int, gitlab: bool = False,
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get('per_page', default)), 100)
        page = max(int(query.get('page', 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page:page * per_page]

        def link(number: int) -> str:
            q = dict(query, page=str(number), per_page=str(per_page))
            origin = self.link_origin or f'http://{host}'
            return f'{origin}{path}?{urllib.parse.urlencode(q)}'

        rels = []
        if page < last:
            rels.append(f'<{link(page + 1)}>; rel="next"')
            rels.append(f'<{link(last)}>; rel="last"')
        if page > 1:
            rels.insert(0, f'<{link(page - 1)}>; rel="prev"')
            rels.insert(1, f'<{link(1)}>; rel="first"')
        headers = {'Link': ', '.join(rels)} if rels else {}
        if gitlab:
            headers.update({
                'X-Page': str(page),
                'X-Per-Page': str(per_page),
                'X-Next-Page': str(page + 1) if page < last else '',
                'X-Prev-Page': str(page - 1) if page > 1 else '',
                'X-Total': str(len(items)),
                'X-Total-Pages': str(last),
            })
        return 200, chunk, headers


def _handler(server: ForgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            length = int(self.headers.get('Content-Length') or 0)
            raw = self.rfile.read(length) if length else b''
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data, extra = server.handle(
                self.command, parts.path, query, headers, body,
                self.headers.get('Host', ''),
            )
            payload = b'' if data is None else json.dumps(data).encode()
            self.send_response(status)
            if payload:
                self.send_header(
                    'Content-Type', 'application/json; charset=utf-8',
                )
            self.send_header('Content-Length', str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
