"""The composite ``action.yml``, loaded with PyYAML and its steps run with
bash the way the runner runs them (``bash --noprofile --norc -eo pipefail``,
a fresh ``$GITHUB_OUTPUT`` per step, ``${{ }}`` substituted in ``env:``
only), against a shallow clone and the local forge (forge_server.py).

The install step is pointed at this test's own virtualenv through
``MIGMERGE_ACTION_VENV`` instead of creating a venv and pip-installing the
checkout (slow, and needs the package index): the install commands
themselves are not run here.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.forge_server import ForgeServer
from testing.git import git
from testing.paths import CHECKOUT
from testing.pullrequest import parallel
from testing.pullrequest import scenario

ROOT = CHECKOUT
ACTION = yaml.safe_load((ROOT / 'action.yml').read_text())
TOKEN = 'ghs_action-S3CRET-token'
PR = 7
EXPRESSION = re.compile(r'\$\{\{\s*(.*?)\s*\}\}')


def evaluate(text: str, context: Mapping[str, Any]) -> str:
    """``${{ a.b.c }}`` references: the only expressions the action uses.
    A missing property is '' (a step that did not run has no outputs)."""
    def lookup(match: re.Match[str]) -> str:
        assert re.fullmatch(r'[a-z_]+(\.[A-Za-z0-9_-]+)+', match[1]), match[1]
        value: Any = context
        for key in match[1].split('.'):
            value = value.get(key, '') if isinstance(value, Mapping) else ''
        return str(value)
    return EXPRESSION.sub(lookup, text)


class Run:
    def __init__(self) -> None:
        self.status = 0
        self.stdout = ''
        self.stderr = ''
        self.outputs: dict[str, str] = {}


def parse_outputs(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIM`` blocks, as the runner reads
    ``$GITHUB_OUTPUT``."""
    outputs = {}
    lines = iter(text.splitlines())
    for line in lines:
        if '<<' in line and ('=' not in line or line.index('<<') < line.index('=')):
            name, delim = line.split('<<', 1)
            outputs[name] = '\n'.join(iter(lambda: next(lines), delim))
        elif '=' in line:
            name, value = line.split('=', 1)
            outputs[name] = value
    return outputs


def run_action(
        tmp: Path, workspace: Path, server: ForgeServer,
        inputs: Mapping[str, str], event: Mapping[str, Any],
        *, token: str = TOKEN, event_name: str = 'pull_request',
) -> Run:
    event_path = tmp / 'event.json'
    event_path.write_text(json.dumps(event))
    runner_temp = tmp / 'runner-temp'
    runner_temp.mkdir(exist_ok=True)
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(('GITHUB_', 'CI_', 'GITLAB_', 'MIGMERGE_', 'INPUT_'))
    }
    env.update({
        'GITHUB_ACTIONS': 'true',
        'GITHUB_EVENT_NAME': event_name,
        'GITHUB_EVENT_PATH': str(event_path),
        'GITHUB_STEP_SUMMARY': str(tmp / 'summary.md'),
        'GITHUB_WORKSPACE': str(workspace),
        'GITHUB_REPOSITORY': server.repository,
        'GITHUB_API_URL': server.url,
        'GITHUB_REF_NAME': 'main',
        'RUNNER_TEMP': str(runner_temp),
        'MIGMERGE_ACTION_VENV': sys.prefix,
    })
    github = {
        'token': token, 'action_path': str(ROOT), 'event_name': event_name,
    }
    given = {
        name: evaluate(str(spec.get('default', '')), {'github': github})
        for name, spec in ACTION['inputs'].items()
    }
    assert set(inputs) <= set(given)
    given.update(inputs)
    steps: dict[str, dict[str, dict[str, str]]] = {}
    context = {'inputs': given, 'github': github, 'steps': steps}
    run = Run()
    for number, step in enumerate(ACTION['runs']['steps']):
        assert step['shell'] == 'bash'
        script = tmp / f'step{number}.sh'
        script.write_text(step['run'])
        output = tmp / f'output{number}'
        output.write_text('')
        step_env = {
            name: evaluate(str(value), context)
            for name, value in step.get('env', {}).items()
        }
        proc = subprocess.run(
            ('bash', '--noprofile', '--norc', '-eo', 'pipefail', str(script)),
            cwd=workspace, capture_output=True, text=True,
            env={**env, **step_env, 'GITHUB_OUTPUT': str(output)},
        )
        run.stdout += proc.stdout
        run.stderr += proc.stderr
        steps[step['id']] = {'outputs': parse_outputs(output.read_text())}
        if proc.returncode != 0:
            run.status = proc.returncode
            break
    run.outputs = {
        name: evaluate(spec['value'], context)
        for name, spec in ACTION['outputs'].items()
    }
    return run


@pytest.fixture
def server() -> Iterator[ForgeServer]:
    with ForgeServer() as server:
        server.add_token(TOKEN, 'unused', kind='actions')
        server.add_token(TOKEN + 'ro', 'fork', kind='readonly')
        server.add_pull(PR, 'main', '0' * 40)
        yield server


def shallow_checkout(tmp: Path, repo: Path) -> tuple[Path, dict[str, Any]]:
    """What actions/checkout leaves: one commit of the base, the pull
    request's head published as refs/pull/7/head on an origin that lets
    reachable commits be fetched by id (as GitHub does)."""
    origin = tmp / 'origin.git'
    git(tmp, 'init', '-q', '--bare', '-b', 'main', str(origin))
    git(origin, 'config', 'uploadpack.allowReachableSHA1InWant', 'true')
    git(repo, 'push', '-q', str(origin), 'main', f'pr:refs/pull/{PR}/head')
    workspace = tmp / 'workspace'
    git(tmp, 'clone', '-q', '--depth', '1', f'file://{origin}', str(workspace))
    event = {'pull_request': {
        'number': PR,
        'base': {'ref': 'main', 'sha': git(repo, 'rev-parse', 'main').strip()},
        'head': {'ref': 'pr', 'sha': git(repo, 'rev-parse', 'pr').strip()},
    }}
    return workspace, event


def test_no_expression_reaches_a_script() -> None:
    for step in ACTION['runs']['steps']:
        assert '${{' not in step['run'], step['name']
    assert set(ACTION['inputs']) == {
        'base', 'head', 'working-directory', 'comment-id', 'comment',
        'on-clean', 'fail-on', 'sweep', 'token',
    }
    assert set(ACTION['outputs']) == {'verdict', 'report-json', 'comment-url'}
    assert ACTION['runs']['using'] == 'composite'


def test_pull_request_run(tmp_path: Path, server: ForgeServer) -> None:
    workspace, event = shallow_checkout(tmp_path, parallel(tmp_path / 'repo'))
    assert git(workspace, 'rev-parse', '--is-shallow-repository') == 'true\n'
    run = run_action(tmp_path, workspace, server, {}, event)
    # fail-on: resolvable (the default) fails the step
    assert run.status == 1, run.stderr
    assert run.outputs['verdict'] == 'resolvable'
    # the fetch was deepened until the histories met
    git(workspace, 'merge-base', event['pull_request']['base']['sha'],
        event['pull_request']['head']['sha'])
    document = json.loads(Path(run.outputs['report-json']).read_text())
    assert document['verdict'] == 'resolvable'
    assert document['head']['sha'] == event['pull_request']['head']['sha']
    assert '::error file=shop/migrations/0003_userprofile_address.py' in run.stdout
    summary = (tmp_path / 'summary.md').read_text()
    assert 'migmerge: **resolvable**' in summary
    [comment] = server.github_comments[PR]
    assert comment['user']['login'] == 'github-actions[bot]'
    assert run.outputs['comment-url'] == comment['html_url']
    assert TOKEN not in run.stdout + run.stderr
    # the same run again: the comment is left alone
    writes = len(server.writes())
    again = run_action(tmp_path, workspace, server, {}, event)
    assert again.outputs['comment-url'] == comment['html_url']
    assert len(server.writes()) == writes


def test_fork_pull_request_read_only_token(
        tmp_path: Path, server: ForgeServer,
) -> None:
    workspace, event = shallow_checkout(tmp_path, parallel(tmp_path / 'repo'))
    run = run_action(
        tmp_path, workspace, server, {'fail-on': 'blocked'}, event,
        token=TOKEN + 'ro',
    )
    # resolvable is below fail-on: blocked; the refused comment changes
    # nothing but the notice
    assert run.status == 0, run.stderr
    assert run.outputs['verdict'] == 'resolvable'
    assert run.outputs['comment-url'] == ''
    assert '::error ' in run.stdout
    assert 'migmerge: **resolvable**' in (tmp_path / 'summary.md').read_text()
    notices = [line for line in run.stderr.splitlines() if 'notice' in line]
    assert len(notices) == 1 and '403' in notices[0]
    assert server.bodies(PR) == []
    assert TOKEN not in run.stdout + run.stderr


def test_clean_pull_request_and_inputs_stay_data(
        tmp_path: Path, server: ForgeServer,
) -> None:
    workspace, event = shallow_checkout(tmp_path, scenario('clean', tmp_path / 'repo'))
    run = run_action(tmp_path, workspace, server, {}, event)
    assert run.status == 0, run.stderr
    assert run.outputs['verdict'] == 'clean'
    assert server.writes() == []
    # An input is an argument, never shell: this base is just a bad ref.
    run = run_action(
        tmp_path, workspace, server,
        {'base': 'main;touch pwned', 'head': '$(touch pwned)'}, event,
    )
    assert run.status != 0
    assert not (workspace / 'pwned').exists()
    assert not (tmp_path / 'pwned').exists()


def test_sweep_input(tmp_path: Path, server: ForgeServer) -> None:
    repo = parallel(tmp_path / 'repo')
    workspace, _ = shallow_checkout(tmp_path, repo)
    server.pulls.clear()
    server.add_pull(PR, 'main', git(repo, 'rev-parse', 'pr').strip())
    run = run_action(
        tmp_path, workspace, server, {'sweep': 'true'}, {'ref': 'refs/heads/main'},
        event_name='push',
    )
    assert run.status == 0, run.stderr
    assert git(workspace, 'rev-parse', '--is-shallow-repository') == 'false\n'
    assert run.stdout.startswith(f'resolvable: GitHub #{PR}: comment created')
    assert len(server.bodies(PR)) == 1


def test_merge_group_event(tmp_path: Path, server: ForgeServer) -> None:
    # The merge queue's commit is checked before it lands: the verdict and
    # the annotations, no pull request to comment on.
    workspace, event = shallow_checkout(tmp_path, parallel(tmp_path / 'repo'))
    pull = event['pull_request']
    run = run_action(
        tmp_path, workspace, server, {},
        {'merge_group': {'base_sha': pull['base']['sha'],
                         'head_sha': pull['head']['sha']}},
        event_name='merge_group',
    )
    assert run.status == 1
    assert run.outputs['verdict'] == 'resolvable'
    assert run.outputs['comment-url'] == ''
    assert server.requests == []


@pytest.mark.parametrize(('name', 'value'), [
    ('fail-on', 'resolveable'), ('on-clean', 'remove'), ('comment', 'yes'),
    ('comment-id', 'a b'),
])
def test_bad_inputs_stop_before_reporting(
        tmp_path: Path, server: ForgeServer, name: str, value: str,
) -> None:
    workspace, event = shallow_checkout(tmp_path, parallel(tmp_path / 'repo'))
    run = run_action(tmp_path, workspace, server, {name: value}, event)
    assert run.status == 2
    assert run.stdout.startswith(f'::error title=migmerge::{name}: ')
    assert run.outputs['verdict'] == ''
    assert server.requests == []
