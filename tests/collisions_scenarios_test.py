"""End-to-end flag analysis over real migration files.

Each directory under scenarios/collisions/ holds ``base/`` (the common
history) and one directory per branch (``ours/``, ``theirs/``, or more for
several leaves) with the files that branch adds; ``expected.json`` holds,
per conflicting app, the verdict and the exact report lines.  The runner
overlays base and every branch in one temporary directory -- the tree after
a clean ``git merge`` -- and reads it like ``migmerge check`` does.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mergedriver.analysis import conflicts
from mergedriver.check import check_tree
from mergedriver.collisions import find_collisions
from mergedriver.config import Config
from mergedriver.source import directory_tree

SCENARIOS = Path(__file__).parent / 'scenarios' / 'collisions'
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
