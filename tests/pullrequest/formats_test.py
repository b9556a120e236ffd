"""The renderers on report JSON documents: escaping, limits, shapes.

The documents start from a real report (tests/scenarios/report/flag) and
are changed where a case needs more findings or bigger files than a small
repository gives."""
from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from mergedriver.pullrequest.formats import COMMENT_LIMIT
from mergedriver.pullrequest.formats import escape_data
from mergedriver.pullrequest.formats import escape_property
from mergedriver.pullrequest.formats import marker
from mergedriver.pullrequest.formats import MAX_SHED
from mergedriver.pullrequest.formats import render
from mergedriver.pullrequest.formats import render_markdown
from mergedriver.pullrequest.formats import RULES
from mergedriver.pullrequest.mermaid import label
from mergedriver.pullrequest.mermaid import MAX_NODES
from mergedriver.pullrequest.mermaid import render_window
from testing.paths import SCENARIOS

GOLDEN = SCENARIOS / 'report'


def document(case: str = 'flag') -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / case / 'report.json').read_text())
    return loaded


def finding(i: int, severity: str, **extra: Any) -> dict[str, Any]:
    return {
        'kind': 'data-operation', 'severity': severity,
        'message': f'finding {i}', 'app': 'shop', 'migration': f'{i:04d}_x',
        'file': f'shop/migrations/{i:04d}_x.py', 'line': i, 'side': 'head',
        'url': None, **extra,
    }


# ------------------------------------------------------------------ github


def test_escaping_matches_the_actions_toolkit() -> None:
    # @actions/core command.ts: escapeData and escapeProperty
    assert escape_data('50% done\r\nnext: a,b') == '50%25 done%0D%0Anext: a,b'
    assert escape_property('50% done\r\nnext: a,b') == '50%25 done%0D%0Anext%3A a%2Cb'


def test_annotation_of_awkward_paths_and_messages() -> None:
    doc = document()
    doc['findings'] = [finding(
        1, 'error', file='odd:dir,x/100%.py', message='line one\nline two: 5%',
    )]
    assert render(doc, 'github') == (
        '::error file=odd%3Adir%2Cx/100%25.py,line=1,'
        'title=migmerge%3A data-operation::line one%0Aline two: 5%25\n'
    )


def test_at_most_ten_errors_and_ten_warnings_then_one_notice() -> None:
    doc = document()
    doc['findings'] = (
        [finding(i, 'error') for i in range(1, 16)] +
        [finding(i, 'warning') for i in range(16, 28)]
    )
    lines = render(doc, 'github').splitlines()
    assert sum(line.startswith('::error ') for line in lines) == 10
    assert sum(line.startswith('::warning ') for line in lines) == 10
    assert lines[-1] == (
        '::notice::migmerge: 7 more finding(s) not annotated; see the report'
    )
    assert len(lines) == 21


# ------------------------------------------------------------ code quality


def test_codequality_fingerprints_are_unique_and_stable() -> None:
    doc = document()
    doc['findings'] = [finding(1, 'error')] * 3 + [finding(2, 'warning')]
    issues = json.loads(render(doc, 'gitlab-codequality'))
    prints = [issue['fingerprint'] for issue in issues]
    assert len(set(prints)) == 4
    # another commit, the same findings: the same fingerprints
    moved = copy.deepcopy(doc)
    moved['head']['sha'] = 'f' * 40
    moved['base']['sha'] = 'e' * 40
    assert [i['fingerprint'] for i in json.loads(render(moved, 'gitlab-codequality'))] == prints
    for issue in issues:
        assert set(issue) >= {'description', 'check_name', 'fingerprint', 'severity', 'location'}
        assert issue['severity'] in ('info', 'minor', 'major', 'critical', 'blocker')
        assert isinstance(issue['location']['path'], str)
        assert isinstance(issue['location']['lines']['begin'], int)


# ------------------------------------------------------------------- sarif


@pytest.mark.parametrize('case', ['flag', 'mixed', 'lockfile', 'clean'])
def test_sarif_is_structurally_valid(case: str) -> None:
    sarif = json.loads(render(document(case), 'sarif'))
    assert sarif['version'] == '2.1.0'
    assert sarif['$schema'].endswith('sarif-2.1.0.json')
    [run] = sarif['runs']
    rules = run['tool']['driver']['rules']
    ids = [rule['id'] for rule in rules]
    assert len(set(ids)) == len(ids) and set(ids) >= set(RULES)
    prints = set()
    for result in run['results']:
        assert rules[result['ruleIndex']]['id'] == result['ruleId']
        assert result['level'] in ('error', 'warning', 'note', 'none')
        assert result['message']['text']
        [location] = result['locations']
        physical = location['physicalLocation']
        assert not physical['artifactLocation']['uri'].startswith('/')
        assert physical['region']['startLine'] >= 1
        prints.add(result['partialFingerprints']['migmergeFinding/v1'])
    assert len(prints) == len(run['results'])


def test_sarif_rule_ids_do_not_depend_on_the_findings() -> None:
    rules = [
        [
            r['id'] for r in
            json.loads(render(document(c), 'sarif'))['runs'][0]['tool']['driver']['rules']
        ]
        for c in ('flag', 'clean')
    ]
    assert rules[0] == rules[1]


# ---------------------------------------------------------------- markdown


def test_marker_first_line_and_comment_id() -> None:
    doc = document()
    assert render(doc, 'markdown').splitlines()[0] == '<!-- migmerge:report id=default -->'
    text = render(doc, 'markdown', comment_id='backend/api')
    assert text.splitlines()[0] == '<!-- migmerge:report id=backend/api -->'
    # an id cannot end the HTML comment early
    assert marker('x --> <b>') == '<!-- migmerge:report id=x_--___b_ -->'


def test_markdown_sheds_bodies_then_graphs_then_detail() -> None:
    doc = document('merge')
    big = 'x = 1\n' * 12_000  # a 72,000-character file body
    doc['fix']['files'][0]['content'] = big
    text = render_markdown(doc)
    assert len(text) < COMMENT_LIMIT
    assert big not in text and '```mermaid' in text
    assert 'create <code>shop/migrations/0004_merge' in text
    doc['graphs'] = doc['graphs'] * 100  # a monorepo's worth of graphs
    text = render_markdown(doc)
    assert len(text) < COMMENT_LIMIT
    assert '```mermaid' not in text and '| app |' in text
    doc['findings'] = [finding(i, 'warning', message='w' * 400) for i in range(200)]
    text = render_markdown(doc)
    assert len(text) < COMMENT_LIMIT
    assert '| app |' not in text and '… and 180 more' in text
    assert text.count('\n- :warning:') == 20
    for level in range(MAX_SHED + 1):
        shed = render_markdown(doc, shed=level)
        assert shed.startswith('<!-- migmerge:report id=default -->\n### ')
        assert '**resolvable**' in shed.splitlines()[1]


def test_markdown_always_fits() -> None:
    doc = document()
    doc['summary'] = 's' * 100_000
    text = render_markdown(doc, shed=MAX_SHED)
    assert len(text) < COMMENT_LIMIT
    assert text.startswith('<!-- migmerge:report id=default -->\n')
    assert text.rstrip().endswith('</sub>')


def test_markdown_escapes_what_comes_from_the_pull_request() -> None:
    doc = document()
    doc['findings'] = [finding(1, 'error', message='<img src=x onerror=alert(1)> | **b**')]
    doc['fix']['files'] = [{
        'action': 'create', 'path': 'a/<b>.py', 'content': '```\nend\n```\n',
        'old_path': None, 'diff': '',
    }]
    doc['fix']['kind'] = 'merge'
    text = render(doc, 'markdown')
    assert '<img' not in text and '&lt;img' in text
    assert '<code>a/&lt;b&gt;.py</code>' in text
    assert '````python\n```\nend\n```\n````' in text


# ----------------------------------------------------------------- mermaid


def test_mermaid_labels_are_escaped() -> None:
    assert label('a"b<c>#d') == '"a#quot;b#lt;c#gt;#35;d"'
    assert label('two\nlines') == '"two lines"'


def test_mermaid_long_branches_are_cut() -> None:
    names = [f'{i:04d}_step' for i in range(3, 23)]
    text = render_window({
        'app': 'shop', 'ancestor': '0002_x',
        'branches': [
            {'side': 'head', 'leaf': names[-1], 'migrations': names},
            {'side': 'base', 'leaf': '0003_y', 'migrations': ['0003_y']},
        ],
        'planned': 'merge', 'planned_name': '0023_merge', 'renames': [],
    })
    head_nodes = re.findall(r'^  b0_\d+\[', text, re.M)
    assert len(head_nodes) == MAX_NODES
    assert '"... 13 more"' in text
    assert f'["{names[-1]}"]' in text and f'["{names[0]}"]' in text
    assert re.search(r'^  b0_7 -\.-> m$', text, re.M)  # the leaf joins the merge
    assert 'class m planned' in text


def test_mermaid_renumber_draws_the_moved_branch_after_the_staying_leaf() -> None:
    text = render_window(document('renumber')['graphs'][0])
    assert '["0004_userprofile_address (was 0003_userprofile_address)"]' in text
    assert re.search(r'^  b1_0 -\.-> r0$', text, re.M)


def test_repository_address_from_github_or_gitlab_environment() -> None:
    from mergedriver.pullrequest.compute import blob_url
    from mergedriver.pullrequest.compute import repository_url

    github = repository_url({
        'GITHUB_SERVER_URL': 'https://github.com/', 'GITHUB_REPOSITORY': 'acme/shop',
    })
    assert github == ('https://github.com/acme/shop', 'https://github.com/acme/shop/blob')
    gitlab = repository_url({'CI_PROJECT_URL': 'https://gitlab.example/group/sub/shop'})
    assert gitlab == (
        'https://gitlab.example/group/sub/shop', 'https://gitlab.example/group/sub/shop/-/blob',
    )
    assert repository_url({}) is None
    assert blob_url(gitlab[1], 'abc', 'a b/#x.py', 7) == (
        'https://gitlab.example/group/sub/shop/-/blob/abc/a%20b/%23x.py#L7'
    )
    assert blob_url(None, 'abc', 'x.py', 1) is None
