"""Every rendering of a report, from its JSON (``report_to_json``) alone:
``--from-json`` renders without git, and the forge poster renders the
comment it upserts with :func:`render_markdown`.

- ``json``: the contract itself;
- ``markdown``: the pull-request comment (a hidden marker on the first line
  to find it again, the verdict, a table per app, the fix, collisions,
  findings, the graphs), kept under :data:`COMMENT_LIMIT` characters by
  shedding detail level by level (:data:`MAX_SHED`);
- ``github``: workflow commands (``::error file=...,line=...::``), escaped
  as the Actions toolkit escapes them, at most 10 errors and 10 warnings;
- ``gitlab-codequality``: the JSON array GitLab's code-quality widget reads;
- ``sarif``: SARIF 2.1.0 with stable rule ids and fingerprints;
- ``text``: for a terminal.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from mergedriver.errors import MigmergeError
from mergedriver.pullrequest.mermaid import render_window

FORMATS = ('json', 'markdown', 'github', 'gitlab-codequality', 'sarif', 'text')
# GitHub refuses comments of 65,536 characters or more.
COMMENT_LIMIT = 65_536
# Shedding levels: 1 drops file bodies, 2 graphs, 3 per-app detail.
MAX_SHED = 3
DEFAULT_COMMENT_ID = 'default'
MAX_ANNOTATIONS = 10  # per level, like GitHub shows per step

Report = Mapping[str, Any]

# Stable rule ids (SARIF ruleId, code-quality check_name) and what they mean.
RULES: Mapping[str, str] = {
    'multiple-leaves': 'Merging leaves an app with several leaf migrations',
    'colliding-operations':
        'Parallel migrations change the same field or model',
    'mixed-data-schema':
        'A migration mixes data operations with schema operations',
    'data-operation': 'A data operation to review before merging',
    'missing-dependency': 'A migration depends on one that does not exist',
    'cycle': 'Migrations depend on each other in a cycle',
    'parse-error': 'A migration that cannot be read',
    'unresolved-expression':
        'A migration attribute that cannot be evaluated statically',
    'ignored-migrations': 'A gitignore rule hides migrations from git',
    'text-conflict': 'git cannot merge a file as text',
}
_VERDICT_ICON = {
    'clean': ':white_check_mark:',
    'resolvable': ':wrench:',
    'blocked': ':no_entry:',
    'unusable': ':x:',
}
_SEVERITY_ICON = {
    'error': ':x:', 'warning': ':warning:', 'note': ':information_source:',
}


# ------------------------------------------------------------------ shared


def _short(sha: str) -> str:
    return sha[:12]


def _findings(report: Report) -> list[Mapping[str, Any]]:
    return list(report.get('findings') or ())


def _where(finding: Mapping[str, Any]) -> str:
    if finding.get('file') is None:
        return ''
    return f'{finding["file"]}:{finding.get("line") or 1}'


# -------------------------------------------------------------------- text


def render_text(report: Report) -> str:
    out = [f'migmerge report: {report["verdict"]}: {report["summary"]}']
    out.append(
        f'base {report["base"]["ref"]} {_short(report["base"]["sha"])}, '
        f'head {report["head"]["ref"]} {_short(report["head"]["sha"])}, '
        f'merge base {_short(report["merge_base"])}',
    )
    for app in report.get('apps') or ():
        parts = [f'{app["app"]}:']
        head = ', '.join(m['name'] for m in app['added_on_head'])
        base = ', '.join(m['name'] for m in app['added_on_base'])
        parts.append(f'head adds {head or "nothing"};')
        parts.append(f'base adds {base or "nothing"};')
        leaves = ', '.join(app['leaves_after_merge'])
        parts.append(f'leaves after merge: {leaves}')
        for lock in app['lock_after_merge']:
            parts.append(f'; {lock["file"]}: {lock["value"]}')
        out.append('  ' + ' '.join(parts).replace(' ;', ';'))
    fix = report['fix']
    if fix['kind'] != 'none':
        out.append(f'fix ({fix["kind"]}, strategy {fix["strategy"]}):')
        out.extend(f'  {reason}' for reason in fix['reasons'])
        out.extend(f'  {note}' for note in fix['notes'])
        for change in fix['files']:
            if change['action'] == 'rename':
                out.append(
                    f'  rename {change["old_path"]} -> {change["path"]}',
                )
            else:
                out.append(f'  {change["action"]} {change["path"]}')
    for finding in _findings(report):
        where = _where(finding)
        prefix = f'{where}: ' if where else ''
        out.append(f'{prefix}{finding["severity"]}: {finding["message"]}')
    return '\n'.join(out) + '\n'


# ------------------------------------------------------------------ github


def escape_data(text: str) -> str:
    """@actions/core's escapeData: a workflow command's message."""
    return text.replace('%', '%25').replace('\r', '%0D').replace('\n', '%0A')


def escape_property(text: str) -> str:
    """@actions/core's escapeProperty: ``file=``, ``title=`` values."""
    return escape_data(text).replace(':', '%3A').replace(',', '%2C')


def render_github(report: Report) -> str:
    out = []
    shown = {'error': 0, 'warning': 0}
    left = 0
    for finding in _findings(report):
        severity = finding['severity']
        if severity not in shown:
            continue
        if shown[severity] >= MAX_ANNOTATIONS:
            left += 1
            continue
        shown[severity] += 1
        props = []
        if finding.get('file') is not None:
            props.append(f'file={escape_property(finding["file"])}')
            props.append(f'line={int(finding.get("line") or 1)}')
        title = escape_property(f'migmerge: {finding["kind"]}')
        props.append(f'title={title}')
        message = escape_data(finding['message'])
        out.append(f'::{severity} {",".join(props)}::{message}')
    if left:
        notice = escape_data(
            f'migmerge: {left} more finding(s) not annotated; see the report',
        )
        out.append(f'::notice::{notice}')
    return ''.join(f'{line}\n' for line in out)


# ------------------------------------------------------------ code quality


def fingerprint(finding: Mapping[str, Any]) -> str:
    """Stable across runs, commits and migmerge's wording: the rule and
    where it applies, never a commit id or the message."""
    parts = [
        str(finding.get(k) or '')
        for k in ('kind', 'file', 'line', 'app', 'migration')
    ]
    return hashlib.sha256('\0'.join(parts).encode()).hexdigest()


def _unique_fingerprints(findings: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, int] = {}
    prints = []
    for finding in findings:
        base = fingerprint(finding)
        count = seen.get(base, 0)
        seen[base] = count + 1
        prints.append(
            base if count == 0 else
            hashlib.sha256(f'{base}\0{count}'.encode()).hexdigest(),
        )
    return prints


_UNUSABLE = frozenset(
    ('parse-error', 'unresolved-expression', 'cycle', 'missing-dependency'),
)
_CODEQUALITY_SEVERITY = {'error': 'major', 'warning': 'minor', 'note': 'info'}


def render_codequality(report: Report) -> str:
    findings = _findings(report)
    issues = []
    for finding, print_ in zip(findings, _unique_fingerprints(findings)):
        severity = (
            'blocker' if finding['kind'] in _UNUSABLE
            else _CODEQUALITY_SEVERITY[finding['severity']]
        )
        issues.append({
            'type': 'issue',
            'description': finding['message'],
            'check_name': f'migmerge/{finding["kind"]}',
            'fingerprint': print_,
            'severity': severity,
            'location': {
                # GitLab needs a path: a finding about no file sits on the
                # repository's top.
                'path': finding.get('file') or '.',
                'lines': {'begin': int(finding.get('line') or 1)},
            },
        })
    return json.dumps(issues, indent=2) + '\n'


# ------------------------------------------------------------------- sarif

SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json'
_SARIF_LEVEL = {'error': 'error', 'warning': 'warning', 'note': 'note'}


def render_sarif(report: Report) -> str:
    findings = _findings(report)
    kinds = sorted({f['kind'] for f in findings} | set(RULES))
    index = {kind: i for i, kind in enumerate(kinds)}
    rules = [
        {
            'id': kind,
            'name': ''.join(p.capitalize() for p in kind.split('-')),
            'shortDescription': {'text': RULES.get(kind, kind)},
        }
        for kind in kinds
    ]
    results = []
    for finding, print_ in zip(findings, _unique_fingerprints(findings)):
        result: dict[str, Any] = {
            'ruleId': finding['kind'],
            'ruleIndex': index[finding['kind']],
            'level': _SARIF_LEVEL[finding['severity']],
            'message': {'text': finding['message']},
            'partialFingerprints': {'migmergeFinding/v1': print_},
        }
        if finding.get('file') is not None:
            result['locations'] = [{
                'physicalLocation': {
                    'artifactLocation': {
                        'uri': finding['file'], 'uriBaseId': '%SRCROOT%',
                    },
                    'region': {'startLine': int(finding.get('line') or 1)},
                },
            }]
        results.append(result)
    document = {
        '$schema': SARIF_SCHEMA,
        'version': '2.1.0',
        'runs': [{
            'tool': {'driver': {
                'name': 'migmerge',
                'version': report['tool_version'],
                'rules': rules,
            }},
            'automationDetails': {'id': 'migmerge/report/'},
            'versionControlProvenance': [{
                'repositoryUri': report.get('repository_url') or '',
                'revisionId': report['head']['sha'],
            }] if report.get('repository_url') else [],
            'results': results,
        }],
    }
    return json.dumps(document, indent=2) + '\n'


# ---------------------------------------------------------------- markdown


def marker(comment_id: str | None) -> str:
    """The hidden first line the poster finds its comment by."""
    ident = comment_id or DEFAULT_COMMENT_ID
    # Nothing may end the HTML comment early or break the line.
    ident = re.sub(r'[^A-Za-z0-9._/:@+=-]', '_', ident)
    return f'<!-- migmerge:report id={ident} -->'


def _md(text: str) -> str:
    """Plain text in Markdown: no HTML, no table breaks, no emphasis."""
    text = text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return re.sub(r'([\\`*_\[\]|~])', r'\\\1', text)


def _html(text: str) -> str:
    """Text inside an HTML element (no Markdown is read there)."""
    return html.escape(text, quote=False)


def _code(text: str) -> str:
    """An inline code span that holds ``text`` whatever its backticks."""
    runs = [len(r) for r in re.findall(r'`+', text)]
    fence = '`' * (max(runs, default=0) + 1)
    pad = ' ' if text.startswith('`') or text.endswith('`') else ''
    return f'{fence}{pad}{text.replace("|", "&#124;")}{pad}{fence}'


def _fence(text: str, lang: str) -> str:
    runs = [len(r) for r in re.findall(r'`{3,}', text)]
    fence = '`' * max(3, max(runs, default=0) + 1)
    body = text if text.endswith('\n') else text + '\n'
    return f'{fence}{lang}\n{body}{fence}\n'


def _link(text: str, url: str | None) -> str:
    code = _code(text)
    return f'[{code}]({url})' if url else code


def _place(place: Mapping[str, Any]) -> str:
    side = 'this pull request' if place['side'] == 'head' else place['side']
    where = f'{place["path"]}:{place["line"]}'
    return f'{_link(where, place.get("url"))} ({side})'


def _commit(report: Report, side: str) -> str:
    sha = report[side]['sha']
    url = report.get('repository_url')
    text = _code(_short(sha))
    return f'[{text}]({url}/commit/{sha})' if url else text


def _cell(items: Sequence[str], most: int = 8) -> str:
    """A table cell listing ``items``: the first ones, then how many more."""
    if len(items) > most:
        items = [*items[:most - 1], f'… {len(items) - most + 1} more']
    return '<br>'.join(items)


def _table(report: Report) -> list[str]:
    apps = report.get('apps') or ()
    if not apps:
        return []
    out = [
        '| app | added by this pull request '
        '| added on the base since the fork '
        '| leaves after the merge | lock file after the merge |',
        '|---|---|---|---|---|',
    ]
    for app in apps:
        head = _cell([
            _link(m['name'], m.get('url')) for m in app['added_on_head']
        ])
        base = _cell([
            _link(m['name'], m.get('url')) for m in app['added_on_base']
        ])
        leaves = '<br>'.join(_code(n) for n in app['leaves_after_merge'])
        if len(app['leaves_after_merge']) > 1:
            leaves += '<br>:warning: parallel leaves'
        locks = '<br>'.join(
            f'{_code(lock["file"].rsplit("/", 1)[-1])}: {_code(lock["value"])}'
            for lock in app['lock_after_merge']
        )
        out.append(
            f'| {_code(app["app"])} | {head or "–"} | {base or "–"} '
            f'| {leaves or "–"} | {locks or "–"} |',
        )
    return out + ['']


_FIX_TITLE = {
    'merge': 'Fix: add a merge migration',
    'renumber': "Fix: renumber this pull request's migrations",
    'flag': 'No automatic fix: the branches collide',
    'refused': 'No automatic fix',
}


def _fix(report: Report, bodies: bool) -> list[str]:
    fix = report['fix']
    if fix['kind'] == 'none':
        return []
    out = [f'#### {_FIX_TITLE.get(fix["kind"], "Fix")}', '']
    if fix['kind'] in ('merge', 'renumber'):
        strategy = (
            '' if fix['strategy'] == 'auto'
            else f' --strategy {fix["strategy"]}'
        )
        out.append(
            f'Merge the base into this branch with migmerge installed '
            f'(`migmerge install`), or run `migmerge resolve{strategy}` after '
            f'the merge; it writes:',
        )
        out.append('')
    out.extend(f'- {_md(reason)}' for reason in fix['reasons'])
    out.extend(f'- {_md(note)}' for note in fix['notes'])
    if fix['reasons'] or fix['notes']:
        out.append('')
    for change in fix['files']:
        if change['action'] == 'rename':
            title = (
                f'rename <code>{_html(change["old_path"])}</code> → '
                f'<code>{_html(change["path"])}</code>'
            )
        else:
            title = f'{change["action"]} <code>{_html(change["path"])}</code>'
        if not bodies:
            out.append(f'- {title}')
            continue
        body = (
            _fence(change['content'], 'python') if change['action'] == 'create'
            else _fence(change['diff'], 'diff')
        )
        out += [
            '<details>', f'<summary>{title}</summary>', '', body,
            '</details>', '',
        ]
    if not bodies and fix['files']:
        out += [
            '',
            '_File contents left out to fit the comment; `migmerge report` '
            'prints them._',
            '',
        ]
    return out


def _collisions(report: Report) -> list[str]:
    collisions = report.get('collisions') or ()
    if not collisions:
        return []
    out = ['#### Colliding operations', '']
    for c in collisions:
        out.append(
            f'- {_code(c["target"])} ({_md(c["what"])}): '
            f'{_code(c["first_kind"])} in {_place(c["first"])} vs '
            f'{_code(c["second_kind"])} in {_place(c["second"])}',
        )
    return out + ['']


def _findings_md(report: Report, limit: int | None) -> list[str]:
    findings = _findings(report)
    if not findings:
        return []
    out = ['#### Findings', '']
    for finding in findings[:limit]:
        icon = _SEVERITY_ICON.get(finding['severity'], '')
        where = _where(finding)
        loc = f'{_link(where, finding.get("url"))}: ' if where else ''
        out.append(f'- {icon} {loc}{_md(finding["message"])}')
    if limit is not None and len(findings) > limit:
        out.append(
            f'- … and {len(findings) - limit} more (`migmerge report` lists '
            f'them all)',
        )
    return out + ['']


def _graphs(report: Report) -> list[str]:
    out = []
    for window in report.get('graphs') or ():
        out += [
            '<details>',
            f'<summary>Migration graph of <code>{_html(window["app"])}</code> '
            f'since the fork</summary>',
            '',
            _fence(render_window(window), 'mermaid'),
            '</details>',
            '',
        ]
    return out


def _footer(report: Report) -> list[str]:
    return [
        '---',
        f'<sub>migmerge {_md(str(report["tool_version"]))} · '
        f'report v{report["version"]} · '
        f'base {_code(report["base"]["ref"])} {_commit(report, "base")} · '
        f'head {_code(report["head"]["ref"])} {_commit(report, "head")}</sub>',
    ]


def _markdown_at(report: Report, comment_id: str | None, shed: int) -> str:
    verdict = report['verdict']
    out = [
        marker(comment_id),
        f'### {_VERDICT_ICON.get(verdict, "")} '
        f'migmerge: **{_md(verdict)}** — '
        f'{_md(report["summary"])}',
        '',
    ]
    if shed < 3:
        out += _table(report)
    out += _fix(report, bodies=shed < 1)
    if shed < 3:
        out += _collisions(report)
    out += _findings_md(report, None if shed < 3 else 20)
    if shed < 2:
        out += _graphs(report)
    if shed >= 1:
        out.append(f'<sub>Shortened to fit a comment (level {shed}).</sub>')
    out += _footer(report)
    return '\n'.join(out) + '\n'


def render_markdown(
        report: Report, *, comment_id: str | None = None, shed: int = 0,
) -> str:
    """The pull-request comment, under :data:`COMMENT_LIMIT` characters.

    Starts at level ``shed`` and sheds more until it fits; the marker,
    the verdict and the footer always stay.  The poster passes one level
    more after the forge refused a comment for its size.
    """
    for level in range(max(0, shed), MAX_SHED + 1):
        text = _markdown_at(report, comment_id, level)
        if len(text) < COMMENT_LIMIT:
            return text
    # Even the shortest level is too long (huge messages): cut the middle.
    footer = '\n'.join(_footer(report)) + '\n'
    note = '\n… (cut to fit a comment)\n'
    keep = COMMENT_LIMIT - len(footer) - len(note) - 1
    return text[:keep] + note + footer


# ------------------------------------------------------------------- entry


_RENDERERS: Mapping[str, Callable[[Report], str]] = {
    'json': lambda r: json.dumps(r, indent=2) + '\n',
    'github': render_github,
    'gitlab-codequality': render_codequality,
    'sarif': render_sarif,
    'text': render_text,
}


def render(
        report_json: Report, fmt: str, *, shed: int = 0,
        comment_id: str | None = None,
) -> str:
    """``report_json`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == 'markdown':
        return render_markdown(report_json, comment_id=comment_id, shed=shed)
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise MigmergeError(
            f'unknown format {fmt!r} (choose from {", ".join(FORMATS)})',
        )
    return renderer(report_json)
