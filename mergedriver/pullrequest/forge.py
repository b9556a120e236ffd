"""One sticky comment per pull request, whatever the forge.

The report's markdown goes into exactly one comment, found again by a hidden
marker on its first line *and* by its author::

    <!-- migmerge:report id=ID digest=HEX state=open -->

``id`` is ``--comment-id`` (several reports of a monorepo coexist),
``digest`` hashes the full rendering, so an unchanged report is not edited
again and no state is kept anywhere but in the comment, and ``state`` tells
an open report from one already marked resolved.

:func:`plan_upsert` decides from the listed comments (a pure function, the
plan is data); :func:`apply_upsert` carries it out through a :class:`Forge`.
The forges (``github.py``, ``gitlab.py``) speak HTTP through :class:`Http`,
the standard library's urllib and nothing else.  The token never appears in
an error message: messages are built from the method, the path, the status
and the API's own message, and every one goes through :func:`redact` too.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Protocol

from mergedriver import __version__
from mergedriver.errors import MigmergeError

MARKER_PREFIX = '<!-- migmerge:report'
_MARKER = re.compile(
    r'<!-- migmerge:report id=(?P<id>\S*?)'
    r'(?: digest=(?P<digest>[0-9a-f]+))?'
    r'(?: state=(?P<state>open|resolved))? -->',
)
# The characters the markdown renderer keeps in its marker.
_COMMENT_ID = re.compile(r'[A-Za-z0-9._/:@+=-]+')

ON_CLEAN = ('update', 'delete', 'keep')
CLEAN = 'clean'


class ForgeError(MigmergeError):
    """A forge API call failed; ``status`` is the HTTP status if there was
    one.  Posting turns it into a notice: the report itself stands."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def too_long(self) -> bool:
        # GitHub: 422 "body is too long (maximum is 65536 characters)";
        # GitLab: 400 "Note ... is too long (maximum is 1000000 characters)".
        return self.status in (400, 422) and 'too long' in self.message


@dataclasses.dataclass(frozen=True)
class Comment:
    id: int
    author: str
    body: str
    created_at: str
    url: str


@dataclasses.dataclass(frozen=True)
class Marker:
    comment_id: str
    digest: str
    state: str


@dataclasses.dataclass(frozen=True)
class PullRequest:
    """An open pull (merge) request: its number, the commit at its head
    and the ref the forge publishes that commit under."""
    number: int
    head_sha: str
    head_ref: str
    url: str


class Forge(Protocol):
    name: str
    # Comments longer than this are refused by the forge.
    max_body: int

    def identity(self) -> str:
        """The login our comments are authored by."""

    def comments(self, number: int) -> list[Comment]:
        """Every comment of the pull request, all pages, oldest first."""

    def create(self, number: int, body: str) -> Comment:
        ...

    def update(self, number: int, comment: Comment, body: str) -> Comment:
        ...

    def delete(self, number: int, comment: Comment) -> None:
        ...

    def open_pulls(self, base_branch: str) -> list[PullRequest]:
        """The open pull requests whose base is this branch, all pages."""


def validate_comment_id(comment_id: str) -> str:
    if not _COMMENT_ID.fullmatch(comment_id):
        raise MigmergeError(
            f'--comment-id {comment_id!r}: use letters, digits and '
            f'. _ / : @ + = -',
        )
    return comment_id


def parse_marker(body: str) -> Marker | None:
    """The marker on the comment's first line, if it is one of ours."""
    first = body.split('\n', 1)[0].strip()
    match = _MARKER.fullmatch(first)
    if match is None:
        return None
    return Marker(
        match['id'], match['digest'] or '', match['state'] or 'open',
    )


def _strip_marker(markdown: str) -> str:
    # The renderer writes its own marker line; ours replaces it.
    if markdown.startswith(MARKER_PREFIX):
        return markdown.split('\n', 1)[1] if '\n' in markdown else ''
    return markdown


def digest(markdown: str) -> str:
    text = _strip_marker(markdown)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:20]


def stamp(markdown: str, comment_id: str, digest: str, state: str) -> str:
    """The comment's body: our marker line, then the rendering."""
    marker = (
        f'{MARKER_PREFIX} id={comment_id} digest={digest} state={state} -->'
    )
    return f'{marker}\n{_strip_marker(markdown)}'


def resolved_markdown(head_sha: str) -> str:
    return (
        f'**migmerge: resolved** as of {head_sha}: merging this pull request '
        f'now adds no migration problem.\n\n'
        f'<sub>migmerge {__version__}</sub>\n'
    )


@dataclasses.dataclass(frozen=True)
class UpsertPlan:
    """What to do with the pull request's comments.

    ``action``: ``create`` (body rendered at apply time), ``update`` or
    ``resolve`` (edit ``target``), ``delete`` (``target``), ``none``.
    ``duplicates`` are our other comments with the same marker: deleted.
    """
    action: str
    target: Comment | None
    duplicates: tuple[Comment, ...]
    digest: str


def ours(
        comments: Sequence[Comment], author: str, comment_id: str,
) -> list[Comment]:
    """Our comments for this report id, oldest first.  Another author's
    comment carrying the same marker is not ours."""
    found = []
    for comment in comments:
        marker = parse_marker(comment.body)
        if (
                marker is not None and marker.comment_id == comment_id
                and comment.author.lower() == author.lower()
        ):
            found.append(comment)
    return sorted(found, key=lambda c: (c.created_at, c.id))


def plan_upsert(
        comments: Sequence[Comment],
        *,
        author: str,
        comment_id: str,
        verdict: str,
        full_markdown: str,
        head_sha: str,
        on_clean: str,
) -> UpsertPlan:
    """Decide, from every comment of the pull request, what to post.

    A comment is created only when there is something to say, edited only
    when its digest changed; a clean pull request never gets a new comment,
    and an existing one is marked resolved (``on_clean='update'``),
    deleted or kept -- once: a comment already resolved stays as it is.
    """
    mine = ours(comments, author, comment_id)
    target = mine[0] if mine else None
    duplicates = tuple(mine[1:])
    marker = parse_marker(target.body) if target is not None else None
    if verdict != CLEAN:
        new = digest(full_markdown)
        if target is None:
            return UpsertPlan('create', None, duplicates, new)
        assert marker is not None
        if marker.state == 'open' and marker.digest == new:
            return UpsertPlan('none', target, duplicates, new)
        return UpsertPlan('update', target, duplicates, new)
    new = digest(resolved_markdown(head_sha))
    if target is None or on_clean == 'keep':
        return UpsertPlan('none', target, duplicates, new)
    assert marker is not None
    if marker.state == 'resolved':
        return UpsertPlan('none', target, duplicates, new)
    if on_clean == 'delete':
        return UpsertPlan('delete', target, duplicates, new)
    return UpsertPlan('resolve', target, duplicates, new)


@dataclasses.dataclass(frozen=True)
class PostResult:
    action: str
    url: str
    deleted: int


def _send_shedding(
        send: Callable[[str], Comment],
        render: Callable[[int], str],
        *,
        comment_id: str,
        digest: str,
        max_shed: int,
        max_body: int,
) -> Comment:
    """Post the richest rendering the forge accepts: a rendering longer than
    the forge's limit is not sent, and a refusal for size ("too long")
    sheds one more level and retries."""
    for shed in range(max_shed + 1):
        body = stamp(render(shed), comment_id, digest, 'open')
        if len(body) > max_body and shed < max_shed:
            continue
        try:
            return send(body)
        except ForgeError as e:
            if not e.too_long or shed == max_shed:
                raise
    raise AssertionError('unreachable')  # pragma: no cover


def apply_upsert(
        forge: Forge,
        number: int,
        plan: UpsertPlan,
        *,
        comment_id: str,
        render: Callable[[int], str],
        max_shed: int,
        head_sha: str,
) -> PostResult:
    """Carry out ``plan``: at most one create or edit, then the duplicates'
    deletion.  ``render(shed)`` is the report's markdown at that shed level
    (0: everything)."""
    url = plan.target.url if plan.target is not None else ''
    if plan.action == 'create':
        url = _send_shedding(
            lambda body: forge.create(number, body), render,
            comment_id=comment_id, digest=plan.digest, max_shed=max_shed,
            max_body=forge.max_body,
        ).url
    elif plan.action == 'update':
        target = plan.target
        assert target is not None
        url = _send_shedding(
            lambda body: forge.update(number, target, body), render,
            comment_id=comment_id, digest=plan.digest, max_shed=max_shed,
            max_body=forge.max_body,
        ).url
    elif plan.action == 'resolve':
        assert plan.target is not None
        body = stamp(
            resolved_markdown(head_sha), comment_id, plan.digest, 'resolved',
        )
        url = forge.update(number, plan.target, body).url
    elif plan.action == 'delete':
        assert plan.target is not None
        forge.delete(number, plan.target)
        url = ''
    for duplicate in plan.duplicates:
        forge.delete(number, duplicate)
    return PostResult(plan.action, url, len(plan.duplicates))


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A report ready to post: its verdict, the head it is about, and its
    markdown at each shed level (0: everything, up to ``max_shed``)."""
    verdict: str
    head_sha: str
    render: Callable[[int], str]
    max_shed: int


def upsert(
        forge: Forge,
        number: int,
        report: Rendered,
        *,
        comment_id: str,
        on_clean: str = 'update',
) -> PostResult:
    """List, plan, apply: the one comment of this report on ``number``."""
    author = forge.identity()
    comments = forge.comments(number)
    plan = plan_upsert(
        comments,
        author=author,
        comment_id=comment_id,
        verdict=report.verdict,
        full_markdown=report.render(0) if report.verdict != CLEAN else '',
        head_sha=report.head_sha,
        on_clean=on_clean,
    )
    return apply_upsert(
        forge, number, plan, comment_id=comment_id, render=report.render,
        max_shed=report.max_shed, head_sha=report.head_sha,
    )


def describe(result: PostResult, number: int, forge: Forge) -> str:
    """One line for the log: what happened to the comment."""
    what = {
        'create': 'comment created',
        'update': 'comment updated',
        'resolve': 'comment marked resolved',
        'delete': 'comment deleted',
        'none': 'comment unchanged' if result.url else 'no comment needed',
    }[result.action]
    where = f': {result.url}' if result.url else ''
    extra = (
        f' ({result.deleted} duplicate(s) deleted)' if result.deleted else ''
    )
    return f'{forge.name} #{number}: {what}{where}{extra}'


# -- HTTP ---------------------------------------------------------------


def redact(text: str, secret: str) -> str:
    return text.replace(secret, '***') if secret else text


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any


# Statuses worth one more try, and the waits before each (Retry-After,
# when the API sends one, wins, up to a minute).
TRANSIENT = frozenset((502, 503, 504))
RETRY_DELAYS = (1.0, 3.0)


def _retry_after(header: str | None, default: float) -> float:
    try:
        return min(max(float(header), 0.0), 60.0) if header else default
    except ValueError:
        return default


_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def next_link(link_header: str) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header."""
    for part in link_header.split(','):
        match = _NEXT.search(part)
        if match:
            return match[1]
    return None


class Http:
    """A JSON API at ``base_url``, authenticated by ``auth_headers``.

    The credentials are sent as *unredirected* headers: urllib would
    otherwise forward them to whatever host a redirect names.  A paging
    link to another origin is refused for the same reason.
    """

    def __init__(
            self,
            base_url: str,
            *,
            auth_headers: Mapping[str, str],
            headers: Mapping[str, str],
            secret: str,
            label: str,
            timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip('/')
        self._auth_headers = dict(auth_headers)
        self._headers = dict(headers)
        self._secret = secret
        self._label = label
        self._timeout = timeout
        self._origin = urllib.parse.urlsplit(self.base_url)[:2]

    def url(self, path: str, query: Mapping[str, str | int] | None) -> str:
        url = self.base_url + path
        if query:
            url += '?' + urllib.parse.urlencode(query)
        return url

    def _fail(
            self, method: str, url: str, status: int | None, detail: str,
    ) -> ForgeError:
        path = urllib.parse.urlsplit(url).path
        where = f'{method} {path}'
        head = f'{self._label} API {status}' if status else self._label
        detail = ' '.join(detail.split())[:300]
        return ForgeError(
            redact(f'{head} on {where}: {detail}', self._secret),
            status=status,
        )

    def request(
            self,
            method: str,
            url: str,
            body: Mapping[str, Any] | None = None,
    ) -> Response:
        if urllib.parse.urlsplit(url)[:2] != self._origin:
            raise self._fail(method, url, None, 'refusing another origin')
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = urllib.request.Request(url, data=data, method=method)
        for name, value in self._headers.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header('Content-Type', 'application/json')
        for name, value in self._auth_headers.items():
            request.add_unredirected_header(name, value)
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                with urllib.request.urlopen(
                        request, timeout=self._timeout,
                ) as response:
                    raw = response.read()
                    status = response.status
                    headers = {
                        k.lower(): v for k, v in response.headers.items()
                    }
                break
            except urllib.error.HTTPError as e:
                detail = _error_detail(e.read(), e.reason)
                # A gateway's hiccup, retried where repeating is harmless
                # (not POST: it could create a second comment).
                if (
                        e.code in TRANSIENT and method != 'POST'
                        and attempt < len(RETRY_DELAYS)
                ):
                    time.sleep(_retry_after(
                        e.headers.get('Retry-After'), RETRY_DELAYS[attempt],
                    ))
                    continue
                raise self._fail(method, url, e.code, detail) from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, 'reason', e)
                raise self._fail(method, url, None, str(reason)) from None
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            raise self._fail(
                method, url, status, 'the answer is not JSON',
            ) from None
        return Response(status, headers, parsed)

    def pages(self, url: str) -> Iterator[Any]:
        """Each item of a paged list: follows ``Link: rel="next"`` (both
        forges) or GitLab's ``X-Next-Page``, until the last page."""
        seen = set()
        current: str | None = url
        while current is not None and current not in seen:
            seen.add(current)
            response = self.request('GET', current)
            if not isinstance(response.data, list):
                raise self._fail(
                    'GET', current, response.status, 'expected a list',
                )
            yield from response.data
            following = next_link(response.headers.get('link', ''))
            page = response.headers.get('x-next-page', '')
            if following is None and page:
                following = _with_page(current, page)
            current = following


def _with_page(url: str, page: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query['page'] = page
    return urllib.parse.urlunsplit(
        parts._replace(query=urllib.parse.urlencode(query)),
    )


def _error_detail(raw: bytes, reason: object) -> str:
    """The API's own words: GitHub's ``message`` (and its validation
    ``errors``), GitLab's ``message`` or ``error``."""
    try:
        data = json.loads(raw)
    except ValueError:
        return str(reason)
    if not isinstance(data, dict):
        return str(reason)
    parts = [str(data.get('message') or data.get('error') or reason)]
    for error in data.get('errors') or ():
        if isinstance(error, dict) and error.get('message'):
            parts.append(str(error['message']))
        elif isinstance(error, str):
            parts.append(error)
    return ': '.join(parts)
