"""``migmerge report`` on real git repositories: golden outputs for every
format, and what a user relies on (verdict, exit status, the fix equals
what ``resolve`` writes, Django migrates the result, nothing from the pull
request runs).

Golden files live in tests/scenarios/report/<case>/; commit ids are
replaced by <BASE>, <HEAD>, <MERGE_BASE> and the version by <VERSION>.
After a deliberate change, regenerate with MIGMERGE_UPDATE_GOLDEN=1 and
read the diff before committing it.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mergedriver import __version__
from mergedriver import cli
from mergedriver.config import Config
from mergedriver.integration import install as gitsetup
from mergedriver.pullrequest.compute import compute_report
from mergedriver.pullrequest.compute import report_from_json
from mergedriver.pullrequest.compute import report_to_json
from mergedriver.pullrequest.formats import render
from mergedriver.pullrequest.mergetree import merge_tree
from mergedriver.resolution.resolve import resolve
from testing.git import git
from testing.paths import SCENARIOS
from testing.pullrequest import APP
from testing.pullrequest import scenario
from testing.shop import assert_migrates

GOLDEN = SCENARIOS / 'report'
UPDATE = bool(os.environ.get('MIGMERGE_UPDATE_GOLDEN'))
ENV = {'GITHUB_SERVER_URL': 'https://github.example', 'GITHUB_REPOSITORY': 'acme/shop'}
CASES = ('merge', 'renumber', 'flag', 'lockfile', 'mixed', 'clean')
GOLDEN_FORMATS = {
    'report.json': 'json',
    'comment.md': 'markdown',
    'annotations.txt': 'github',
    'codequality.json': 'gitlab-codequality',
    'report.sarif': 'sarif',
    'report.txt': 'text',
}
TOP_KEYS = {
    'version', 'tool_version', 'verdict', 'exit_status', 'summary', 'base',
    'head', 'merge_base', 'repository_url', 'apps', 'fix', 'collisions',
    'findings', 'text_conflicts', 'graphs',
}


@pytest.fixture(autouse=True)
def ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ('CI_PROJECT_URL', 'GITHUB_SERVER_URL', 'GITHUB_REPOSITORY'):
        monkeypatch.delenv(var, raising=False)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def normalise(text: str, document: dict[str, Any]) -> str:
    for key, sha in (
            ('<BASE>', document['base']['sha']),
            ('<HEAD>', document['head']['sha']),
            ('<MERGE_BASE>', document['merge_base']),
    ):
        text = text.replace(sha, key).replace(sha[:12], key)
    return text.replace(__version__, '<VERSION>')


def run_report(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(['report', '-C', str(repo), *args])
    out, err = capsys.readouterr()
    return status, out, err


def build(case: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    repo = scenario(case, tmp_path / case)
    strategy = 'renumber' if case == 'renumber' else 'auto'
    report = compute_report(str(repo), 'main', 'pr', strategy=strategy)
    return repo, report_to_json(report)


@pytest.mark.parametrize('case', CASES)
def test_golden_outputs(
        case: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
) -> None:
    repo, document = build(case, tmp_path)
    strategy = ['--strategy', 'renumber'] if case == 'renumber' else []
    status, out, err = run_report(
        repo, capsys, '--base', 'main', '--head', 'pr', '--format', 'json',
        *strategy,
    )
    assert (status, err) == (document['exit_status'], '')
    assert json.loads(out) == document
    saved = tmp_path / 'report.json'
    saved.write_text(out)
    for filename, fmt in GOLDEN_FORMATS.items():
        # every format renders from the JSON (each one from git is
        # covered by test_nothing_from_the_pull_request_is_executed)
        status, out, err = run_report(
            repo, capsys, '--from-json', str(saved), '--format', fmt,
        )
        assert (status, err) == (document['exit_status'], '')
        assert out == render(document, fmt)
        got = normalise(out, document)
        path = GOLDEN / case / filename
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(got)
        assert got == path.read_text(), f'{case}/{filename} differs'


def test_merge_case(tmp_path: Path) -> None:
    repo, document = build('merge', tmp_path)
    assert set(document) >= TOP_KEYS
    assert (document['verdict'], document['exit_status']) == ('resolvable', 1)
    fix = document['fix']
    assert fix['kind'] == 'merge'
    [created] = fix['files']
    # The same merge, made by git in a work tree and resolved by `resolve`
    # at the head commit's time, writes exactly the proposed file.
    merged_tree = merge_tree(str(repo), 'main', 'pr').tree
    git(repo, 'checkout', '-q', 'main')
    git(repo, 'merge', '-q', '--no-edit', 'pr')
    assert git(repo, 'rev-parse', 'HEAD^{tree}').strip() == merged_tree
    head_time = int(git(repo, 'show', '-s', '--format=%ct', 'pr'))
    now = datetime.datetime.fromtimestamp(head_time, tz=datetime.timezone.utc).replace(tzinfo=None)
    with open(os.devnull, 'w') as out:
        assert resolve(str(repo), now=now, out=out) == 0
    assert (repo / created['path']).read_text() == created['content']
    # Django is the oracle: the merged tree plus the proposed file migrates.
    assert_migrates(repo, ['name', 'address', 'age'])
    [graph] = document['graphs']
    assert graph['planned'] == 'merge'
    assert graph['planned_name'] == Path(created['path']).stem
    assert {b['side'] for b in graph['branches']} == {'base', 'head'}


def test_renumber_moves_head_and_django_migrates(tmp_path: Path) -> None:
    repo, document = build('renumber', tmp_path)
    assert document['verdict'] == 'resolvable'
    fix = document['fix']
    assert fix['kind'] == 'renumber'
    [renamed] = [f for f in fix['files'] if f['action'] == 'rename']
    # base's migration is published: the pull request's moves after it
    assert renamed['old_path'] == f'{APP}/migrations/0003_userprofile_address.py'
    assert renamed['path'] == f'{APP}/migrations/0004_userprofile_address.py'
    assert "('shop', '0003_userprofile_age')" in renamed['content']
    git(repo, 'checkout', '-q', 'main')
    git(repo, 'merge', '-q', '--no-edit', 'pr')
    (repo / renamed['old_path']).unlink()
    (repo / renamed['path']).write_text(renamed['content'])
    assert_migrates(repo, ['name', 'address', 'age'])


def test_flag_links_both_sides(tmp_path: Path) -> None:
    _, document = build('flag', tmp_path)
    assert (document['verdict'], document['exit_status']) == ('blocked', 1)
    assert document['fix']['kind'] == 'flag'
    [collision] = document['collisions']
    sides = {collision['first']['side'], collision['second']['side']}
    assert sides == {'base', 'head'}
    for place in (collision['first'], collision['second']):
        sha = document[place['side']]['sha']
        assert place['url'] == (
            f'https://github.example/acme/shop/blob/{sha}/{place["path"]}#L{place["line"]}'
        )
        # the link names a line that holds the operation
        text = git(Path(tmp_path / 'flag'), 'show', f'{sha}:{place["path"]}')
        assert 'AlterField' in text.splitlines()[place['line'] - 1]


def test_flag_without_repository_url_gives_plain_locations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv('GITHUB_SERVER_URL')
    _, document = build('flag', tmp_path)
    assert document['repository_url'] is None
    assert all(f['url'] is None for f in document['findings'])
    comment = render(document, 'markdown')
    assert '](' not in comment
    assert '`shop/migrations/0003_userprofile_age.py:10` (base)' in comment


def test_lockfile_text_conflict_is_resolved_by_the_driver_logic(
        tmp_path: Path,
) -> None:
    repo, document = build('lockfile', tmp_path)
    lock = f'{APP}/migrations/max_migration.txt'
    # git alone (what the forge runs) stops on the lock file
    git(repo, 'checkout', '-q', 'main')
    proc = subprocess.run(
        ('git', 'merge', '--no-edit', 'pr'), cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 1 and lock in proc.stdout
    git(repo, 'merge', '--abort')
    # With migmerge installed, git's merge through the driver gives the lock
    # file the report's merged tree holds.
    gitsetup.install(str(repo))
    subprocess.run(('git', 'merge', '--no-edit', 'pr'), cwd=repo, capture_output=True)
    merged = merge_tree(str(repo), 'main', 'pr').tree
    assert (repo / lock).read_text() == git(repo, 'show', f'{merged}:{lock}')
    assert document['text_conflicts'] == [
        {'path': lock, 'kind': 'lockfile', 'resolved': True, 'reason': ''},
    ]
    [created] = document['fix']['files']
    [app] = document['apps']
    assert app['lock_after_merge'] == [{'file': lock, 'value': Path(created['path']).stem}]
    assert document['verdict'] == 'resolvable'
    assert 'text conflict' in render(document, 'markdown')


def test_mixed_data_is_blocked_unless_allowed(tmp_path: Path) -> None:
    repo, document = build('mixed', tmp_path)
    assert document['verdict'] == 'blocked'
    [finding] = [f for f in document['findings'] if f['kind'] == 'mixed-data-schema']
    assert finding['file'] == f'{APP}/migrations/0003_userprofile_address.py'
    assert finding['side'] == 'head'
    allowed = Config(allow_mixed_data=('shop/migrations/0003_*.py',))
    report = report_to_json(compute_report(str(repo), 'main', 'pr', config=allowed))
    assert [f['kind'] for f in report['findings']] == ['data-operation']
    assert report['verdict'] == 'clean'


def test_pragma_allows_mixed_data(tmp_path: Path) -> None:
    from testing.pullrequest import base_project, on_branch, migration, NAME, RUN_PYTHON, FILL, T0
    from testing.shop import add_field

    repo = base_project(tmp_path / 'repo')
    on_branch(
        repo, 'pr', 'main', T0 + 60,
        migration(
            '0003_x', NAME, add_field('address') + RUN_PYTHON,
            header='# migmerge: allow-mixed-data\n' + FILL,
        ),
        'mixed, reviewed',
    )
    report = report_to_json(compute_report(str(repo), 'main', 'pr'))
    assert 'mixed-data-schema' not in {f['kind'] for f in report['findings']}


def test_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, document = build('clean', tmp_path)
    assert (document['verdict'], document['exit_status']) == ('clean', 0)
    assert document['findings'] == [] and document['fix']['kind'] == 'none'
    assert run_report(repo, capsys, '--base', 'main', '--head', 'pr')[0] == 0


def test_shallow_clone_is_unusable_with_the_fetch_hint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    origin = scenario('merge', tmp_path / 'origin')
    clone = tmp_path / 'clone'
    git(
        tmp_path, 'clone', '-q', '--depth', '1', '--no-single-branch',
        f'file://{origin}', str(clone),
    )
    output = tmp_path / 'report.md'
    output.write_text('previous\n')
    status, out, err = run_report(
        clone, capsys, '--base', 'origin/main', '--head', 'origin/pr',
        '--format', 'markdown', '-o', str(output),
    )
    assert status == 2 and out == ''
    [line] = err.splitlines()
    assert 'shallow' in line and 'fetch-depth: 0' in line
    shas = {
        'base': {'sha': git(clone, 'rev-parse', 'origin/main').strip()},
        'head': {'sha': git(clone, 'rev-parse', 'origin/pr').strip()},
        'merge_base': '0' * 40,  # there is none
    }
    golden = GOLDEN / 'shallow' / 'stderr.txt'
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(normalise(err, shas))
    assert normalise(err, shas) == golden.read_text()
    assert output.read_text() == 'previous\n'  # a failed run leaves it


def test_nothing_from_the_pull_request_is_executed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from testing.pullrequest import base_project, on_branch, migration, NAME, T0
    from testing.shop import add_field

    canary = tmp_path / 'pwned'
    repo = base_project(tmp_path / 'repo')
    on_branch(
        repo, 'pr', 'main', T0 + 60,
        migration(
            '0003_evil', NAME, add_field('address'),
            header=f'open({str(canary)!r}, "w").write("ran")\n',
        ),
        'evil',
    )
    git(repo, 'checkout', '-q', 'main')
    for fmt in GOLDEN_FORMATS.values():
        run_report(repo, capsys, '--base', 'main', '--head', 'pr', '--format', fmt)
    assert not canary.exists()
    # nothing was checked out either: the work tree is main's
    assert not (repo / APP / 'migrations/0003_evil.py').exists()
    assert git(repo, 'status', '--porcelain') == ''


def test_from_json_renders_without_git(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _, document = build('flag', tmp_path)
    saved = tmp_path / 'report.json'
    saved.write_text(json.dumps(document))
    nowhere = tmp_path / 'not-a-repo'
    nowhere.mkdir()
    for fmt in GOLDEN_FORMATS.values():
        status, out, err = run_report(nowhere, capsys, '--from-json', str(saved), '--format', fmt)
        assert (status, err) == (1, '')
        assert out == render(document, fmt)
    assert report_to_json(report_from_json(document)) == document


def test_from_json_refuses_other_versions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    saved = tmp_path / 'report.json'
    saved.write_text(json.dumps({'version': 99}))
    status, out, err = run_report(tmp_path, capsys, '--from-json', str(saved))
    assert status == 2 and out == ''
    assert len(err.splitlines()) == 1 and 'version 99' in err


def test_output_file_is_written_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    repo, document = build('merge', tmp_path)
    target = tmp_path / 'out' / 'report.sarif'
    target.parent.mkdir()
    status, out, _ = run_report(
        repo, capsys, '--base', 'main', '--head', 'pr', '--format', 'sarif',
        '-o', str(target),
    )
    assert (status, out) == (1, '')
    assert target.read_text() == render(document, 'sarif')
    assert os.listdir(target.parent) == ['report.sarif']


def test_unknown_revision_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = build('clean', tmp_path)
    status, out, err = run_report(repo, capsys, '--base', 'main', '--head', 'nope')
    assert status == 2 and out == ''
    assert err == 'migmerge: unknown revision: nope\n'


def test_gitignore_rule_in_head_hiding_migrations(
        tmp_path: Path,
) -> None:
    from testing.git import write
    from testing.pullrequest import base_project, on_branch, T0

    repo = base_project(tmp_path / 'repo')
    on_branch(
        repo, 'pr', 'main', T0 + 60,
        lambda r: write(r / '.gitignore', '*.pyc\nmigrations/\n'),
        'ignore things',
    )
    document = report_to_json(compute_report(str(repo), 'main', 'pr'))
    [finding] = document['findings']
    assert finding['kind'] == 'ignored-migrations'
    assert (finding['file'], finding['line']) == ('.gitignore', 2)
    assert "'migrations/' ignores the migration package shop/migrations/" in finding['message']
    assert document['verdict'] == 'blocked'


def test_migration_module_conflict_the_driver_cannot_resolve_blocks(
        tmp_path: Path,
) -> None:
    from testing.git import write
    from testing.pullrequest import base_project, on_branch, NAME, T0

    repo = base_project(tmp_path / 'repo')
    path = repo / APP / 'migrations' / f'{NAME}.py'
    original = path.read_text()

    def edit(default: str) -> object:
        return lambda r: write(path, original.replace("default=''", f'default={default!r}'))

    on_branch(repo, 'pr', 'main', T0 + 60, edit('head'), 'head edits 0002')
    on_branch(repo, 'main', 'main', T0 + 30, edit('base'), 'base edits 0002')
    document = report_to_json(compute_report(str(repo), 'main', 'pr'))
    assert document['text_conflicts'] == [
        {
            'path': f'{APP}/migrations/{NAME}.py', 'kind': 'migration',
            'resolved': False, 'reason': 'edits that overlap',
        },
    ]
    assert (document['verdict'], document['exit_status']) == ('blocked', 1)
    [finding] = document['findings']
    assert (finding['kind'], finding['severity']) == ('text-conflict', 'error')


def test_missing_dependency_added_by_head_is_unusable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from testing.shop import add_field
    from testing.pullrequest import base_project, on_branch, migration, T0

    repo = base_project(tmp_path / 'repo')
    on_branch(
        repo, 'pr', 'main', T0 + 60,
        migration('0003_x', '0002_does_not_exist', add_field('address')),
        'broken dependency',
    )
    git(repo, 'checkout', '-q', 'main')
    status, out, _ = run_report(repo, capsys, '--base', 'main', '--head', 'pr', '--format', 'json')
    document = json.loads(out)
    assert (status, document['verdict']) == (2, 'unusable')
    [finding] = document['findings']
    assert finding['kind'] == 'missing-dependency'
    assert finding['file'] == f'{APP}/migrations/0003_x.py' and finding['side'] == 'head'


def test_apps_only_the_base_changed_are_left_out(tmp_path: Path) -> None:
    repo = scenario('clean', tmp_path / 'clean')
    # main is behind pr: as a pull request, main adds nothing
    document = report_to_json(compute_report(str(repo), 'pr', 'main'))
    assert (document['verdict'], document['apps'], document['findings']) == ('clean', [], [])


def test_the_committed_configuration_counts_not_the_work_tree(
        tmp_path: Path,
) -> None:
    from testing.git import write
    from testing.pullrequest import on_branch, T0

    repo = scenario('mixed', tmp_path / 'mixed')
    allow = '[tool.migmerge]\nallow_mixed_data = ["shop/migrations/0003_*.py"]\n'
    # in the work tree only: not part of the merge
    write(repo / 'pyproject.toml', allow)
    assert report_to_json(compute_report(str(repo), 'main', 'pr'))['verdict'] == 'blocked'
    (repo / 'pyproject.toml').unlink()
    # committed on the pull request: the merged repository allows it
    on_branch(repo, 'pr', 'pr', T0 + 7200, lambda r: write(r / 'pyproject.toml', allow), 'allow')
    assert report_to_json(compute_report(str(repo), 'main', 'pr'))['verdict'] == 'clean'
