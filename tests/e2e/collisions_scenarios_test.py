"""End-to-end flag analysis over real migration files.

Each directory under scenarios/collisions/ holds ``base/`` (the common
history) and one directory per branch (``ours/``, ``theirs/``, or more for
several leaves) with the files that branch adds; ``expected.json`` holds,
per conflicting app, the verdict and the exact report lines.  The runner
overlays base and every branch in one temporary directory -- the tree after
a clean ``git merge`` -- and reads it like ``migmerge check`` does.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
from pathlib import Path

import pytest

from mergedriver.check import check_tree
from mergedriver.config import Config
from mergedriver.git.trees import directory_tree
from mergedriver.resolution.collisions import find_collisions
from mergedriver.resolution.conflicts import conflicts
from testing import paths
from testing.django import run
from testing.django import write_settings

SCENARIOS = paths.SCENARIOS / 'collisions'
CASES = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())


def merged_tree(case: str, dest: Path, branches: list[str] | None = None) -> (
        Path
):
    """``base`` plus each branch (all of them by default), in ``dest``."""
    root = SCENARIOS / case
    if branches is None:
        branches = sorted(
            p.name for p in root.iterdir() if p.is_dir() and p.name != 'base'
        )
    for part in ['base', *branches]:
        shutil.copytree(root / part, dest, dirs_exist_ok=True)
    return dest


def analyse(path: Path) -> dict[str, dict[str, object]]:
    result = check_tree(directory_tree(str(path)), Config())
    assert not [p for p in result.problems if p.unusable], result.problems
    out: dict[str, dict[str, object]] = {}
    for conflict in conflicts(result.graph):
        report = find_collisions(result.graph, conflict)
        out[conflict.app] = {
            'verdict': report.verdict, 'lines': list(report.lines()),
        }
    return out


def test_every_scenario_has_branches_and_expectations() -> None:
    assert len(CASES) >= 6
    for case in CASES:
        parts = {p.name for p in (SCENARIOS / case).iterdir()}
        assert 'base' in parts and 'expected.json' in parts, case
        assert len(parts - {'base', 'expected.json'}) >= 2, case


@pytest.mark.parametrize('case', CASES)
def test_scenario(case: str, tmp_path: Path) -> None:
    with open(SCENARIOS / case / 'expected.json') as f:
        expected = json.load(f)
    assert analyse(merged_tree(case, tmp_path)) == expected['apps']


@pytest.mark.parametrize('case', CASES)
def test_each_branch_alone_has_one_leaf_per_app(
        case: str, tmp_path: Path,
) -> None:
    # The conflict only exists once the branches meet.
    root = SCENARIOS / case
    for branch in sorted(os.listdir(root)):
        if branch in ('base', 'expected.json'):
            continue
        dest = tmp_path / branch
        assert analyse(merged_tree(case, dest, [branch])) == {}


MIGRATE = """\
from django.core.management import call_command
from django.db import connection
call_command('migrate', verbosity=0)
result = sorted(connection.introspection.table_names())
"""


@pytest.mark.parametrize('case', CASES)
def test_each_branch_applies_in_django(case: str, tmp_path: Path) -> None:
    # The scenario files are real migrations: base plus any one branch
    # migrates an empty SQLite database.
    root = SCENARIOS / case
    apps = sorted(p.name for p in (root / 'base').iterdir())
    branches = sorted(set(os.listdir(root)) - {'base', 'expected.json'})

    def migrate(branch: str) -> list[str]:
        dest = merged_tree(case, tmp_path / branch, [branch])
        settings = write_settings(dest, installed_apps=apps)
        tables: list[str] = run(MIGRATE, settings=settings, paths=[dest])
        return tables

    # One Django process per branch, side by side.
    with concurrent.futures.ThreadPoolExecutor() as pool:
        for tables in pool.map(migrate, branches):
            assert 'django_migrations' in tables
            for app in apps:
                assert any(t.startswith(f'{app}_') for t in tables), app
