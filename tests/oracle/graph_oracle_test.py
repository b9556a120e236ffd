"""Oracle: the static graph of real migrations equals Django's.

Django's contrib apps, wagtail (with its test apps) and django-oscar, loaded
by ``MigrationLoader(None, ignore_no_migrations=True)`` in a subprocess with
a minimal settings module; the same directories read by migmerge's reader
and built by ``build_graph``.
"""
from __future__ import annotations

import ast
import importlib.util
import tempfile
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from mergedriver.graph.builder import build_graph
from mergedriver.graph.builder import loading_order
from mergedriver.graph.model import GraphResult
from mergedriver.records import MigrationInfo
from mergedriver.resolution.conflicts import conflicts
from testing import django as djangoproc
from testing.generated import GENERATED_APPS
from testing.generated import projects
from testing.generated import read_directory
from testing.generated import read_project
from testing.generated import Spec
from testing.generated import SWAP_SETTING
from testing.generated import SWAP_VALUE
from testing.generated import write_project

CONTRIB_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'django.contrib.sites',
    'django.contrib.flatpages',
    'django.contrib.redirects',
    'django.contrib.sitemaps',
]
# wagtail/test/settings.py's apps (its default custom user configuration),
# with DRF's token app as well.
WAGTAIL_APPS = [
    'wagtail.test.earlypage',
    'wagtail.contrib.redirects',
    'wagtail.test.testapp',
    'wagtail.test.demosite',
    'wagtail.test.snippets',
    'wagtail.test.routablepage',
    'wagtail.test.i18n',
    'wagtail.test.streamfield_migrations',
    'wagtail.contrib.simple_translation',
    'wagtail.contrib.styleguide',
    'wagtail.contrib.routable_page',
    'wagtail.contrib.frontend_cache',
    'wagtail.contrib.search_promotions',
    'wagtail.contrib.settings',
    'wagtail.contrib.table_block',
    'wagtail.contrib.forms',
    'wagtail.contrib.typed_table_block',
    'wagtail.search',
    'wagtail.embeds',
    'wagtail.images',
    'wagtail.sites',
    'wagtail.locales',
    'wagtail.snippets',
    'wagtail.documents',
    'wagtail.admin',
    'wagtail.api.v2',
    'wagtail.api.v3',
    'wagtail',
    'wagtail.test.apps.CustomUsersAppConfig',
    'wagtail.test.customuser',
    'modelcluster',
    'taggit',
    'ninja',
    'rest_framework',
    'rest_framework.authtoken',
    'django_filters',
]
SWAPPABLE_SETTINGS = ('AUTH_USER_MODEL', 'WAGTAIL_PAGE_MODEL')


def oscar_apps() -> list[str]:
    """oscar.INSTALLED_APPS minus Django's own, read without importing."""
    spec = importlib.util.find_spec('oscar')
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    for node in tree.body:
        if (
                isinstance(node, ast.Assign) and
                isinstance(node.targets[0], ast.Name) and
                node.targets[0].id == 'INSTALLED_APPS'
        ):
            apps = ast.literal_eval(node.value)
            return [a for a in apps if not a.startswith('django.')]
    raise AssertionError('oscar.INSTALLED_APPS not found')


def keys(items: Any) -> set[tuple[str, str]]:
    return {(k[0], k[1]) for k in items}


# Two configurations of wagtail's test settings: its custom user app, and
# its email user with a swapped page model (WAGTAIL_PAGE_MODEL makes
# wagtailcore's first migration depend on another app).
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    'customuser': {
        'apps': WAGTAIL_APPS,
        'settings': {'AUTH_USER_MODEL': 'customuser.CustomUser'},
    },
    'emailuser-basepage': {
        'apps': [
            'wagtail.test.basepage',
            *(
                a for a in WAGTAIL_APPS if a not in (
                    'wagtail.test.apps.CustomUsersAppConfig',
                    'wagtail.test.customuser',
                )
            ),
            'wagtail.users',
            'wagtail.test.emailuser',
        ],
        'settings': {
            'AUTH_USER_MODEL': 'emailuser.EmailUser',
            'WAGTAIL_PAGE_MODEL': 'basepage.BasePage',
        },
    },
}


def load_with_django(
        directory: Path, configuration: dict[str, Any],
) -> dict[str, Any]:
    """What MigrationLoader builds for contrib + wagtail + oscar."""
    settings = djangoproc.write_settings(
        directory,
        installed_apps=(
            CONTRIB_APPS + list(configuration['apps']) + oscar_apps()
        ),
        preamble='from oscar.defaults import *\n',
        SITE_ID=1,
        STATIC_URL='/static/',
        MEDIA_URL='/media/',
        WAGTAIL_SITE_NAME='oracle',
        WAGTAILADMIN_BASE_URL='http://localhost',
        HAYSTACK_CONNECTIONS={
            'default': {
                'ENGINE': 'haystack.backends.simple_backend.SimpleEngine',
            },
        },
        **configuration['settings'],
    )
    (result,) = djangoproc.loader_graphs(
        settings=settings, paths=[directory],
        report_settings=SWAPPABLE_SETTINGS,
    )
    assert 'error' not in result, result
    assert result['settings'] == {
        'WAGTAIL_PAGE_MODEL': 'wagtailcore.Page',
        **configuration['settings'],
    }
    return result


def read_corpus(oracle: dict[str, Any]) -> list[MigrationInfo]:
    return [
        info
        for app, directory in sorted(oracle['directories'].items())
        for info in read_directory(app, Path(directory))
    ]


# One test per configuration (not one per aspect): under pytest-xdist each
# worker would otherwise start the same slow Django process again.
@pytest.mark.parametrize('configuration', sorted(CONFIGURATIONS))
def test_real_packages_match_django(
        configuration: str, tmp_path: Path,
) -> None:
    oracle = load_with_django(tmp_path, CONFIGURATIONS[configuration])
    records = read_corpus(oracle)

    # The corpus: large, with squashes and swappable dependencies.
    assert len(oracle['disk']) >= 300
    assert {info.key for info in records} == keys(oracle['disk'])
    assert sum(bool(info.replaces) for info in records) >= 3
    assert {
        dep.setting for info in records for dep in info.dependencies
        if dep.setting
    } == set(SWAPPABLE_SETTINGS)
    assert any(
        dep.name == '__first__' and dep.setting is None
        for info in records for dep in info.dependencies
    )

    static = build_graph(records, swappable=oracle['settings'])
    graph = static.graph
    assert static.problems == ()
    assert graph.unknown_apps == frozenset()
    assert graph.external_dependencies == ()

    assert set(graph.nodes) == keys(oracle['nodes'])
    assert set(graph.edges()) == {
        (tuple(p), tuple(c)) for p, c in oracle['edges']
    }
    assert graph.apps == tuple(sorted(oracle['directories']))
    for app in graph.apps:
        assert [k[1] for k in graph.leaf_nodes(app)] == oracle['leaves'][app]
        assert [k[1] for k in graph.root_nodes(app)] == oracle['roots'][app]
    for label, plan in oracle['plans'].items():
        app, name = label.split('.', 1)
        assert graph.forwards_plan((app, name)) == tuple(map(tuple, plan))
    assert {
        f'{app}.{name}': [list(t) for t in targets]
        for (app, name), targets in graph.replacements.items()
    } == oracle['replacements']

    assert oracle['conflicts'] == {}
    assert graph.conflicting_apps() == {}
    assert conflicts(graph) == ()

    # A project that does not vendor Django: without contrib's migrations
    # their apps are external, and the rest of the graph is Django's graph
    # minus those apps.
    contrib = {
        app for app, directory in oracle['directories'].items()
        if Path(directory).parent.parent.name == 'contrib'
        and Path(directory).parent.parent.parent.name == 'django'
    }
    assert {'auth', 'contenttypes', 'sites'} <= contrib
    partial = build_graph(
        [info for info in records if info.app_label not in contrib],
        swappable=oracle['settings'],
    )
    assert partial.problems == ()
    assert {e.target[0] for e in partial.graph.external_dependencies} <= (
        contrib
    )
    assert 'contenttypes' in {
        e.target[0] for e in partial.graph.external_dependencies
    }
    kept = {k for k in keys(oracle['nodes']) if k[0] not in contrib}
    assert set(partial.graph.nodes) == kept
    assert set(partial.graph.edges()) == {
        (tuple(p), tuple(c)) for p, c in oracle['edges']
        if p[0] not in contrib and c[0] not in contrib
    }
    for app in partial.graph.apps:
        assert [k[1] for k in partial.graph.leaf_nodes(app)] == (
            oracle['leaves'][app]
        )


# Generated projects -------------------------------------------------------
#
# Random migration graphs written to disk as tiny Django projects
# (testing.generated), loaded by Django in ONE subprocess per hypothesis
# example (each project is selected through MIGRATION_MODULES), and compared
# with the static graph: the same
# error kind when Django refuses the graph, otherwise the same nodes, edges,
# leaves, roots, replacements, forwards plans, conflicts and merge branches.

PROJECTS_PER_EXAMPLE = 30


def merge_branches(output: str) -> dict[str, list[str]]:
    """Branch name -> model names, from makemigrations --merge output."""
    branches: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith('  Branch '):
            current = branches.setdefault(line.split()[1], [])
        elif line.strip().startswith('+ Create model '):
            current.append(line.split()[-1])
    return branches


def compare(static: GraphResult, django: dict[str, Any]) -> None:
    graph = static.graph
    kinds = {p.kind for p in static.problems}
    if 'error' in django:
        expected = (
            'missing-dependency' if django['error'] == 'missing' else 'cycle'
        )
        assert expected in kinds, (django, static.problems)
        if expected == 'cycle':
            assert 'missing-dependency' not in kinds
            # Django names the first cycle it meets.
            named = {
                tuple(label.split('.', 1))
                for label in django['message'].split(', ')
            }
            assert named <= graph.cyclic_nodes
        else:
            messages = {p.message for p in static.problems}
            assert django['message'] in messages, (django, messages)
        return
    assert kinds <= {'multiple-leaves'}, static.problems
    assert set(graph.nodes) == keys(django['nodes'])
    assert set(graph.edges()) == {
        (tuple(p), tuple(c)) for p, c in django['edges']
    }
    # Django also lists apps whose migrations package is empty (all their
    # migrations were deleted after a squash in another app).
    assert set(graph.apps) <= set(django['leaves'])
    for app in django['leaves']:
        assert [k[1] for k in graph.leaf_nodes(app)] == django['leaves'][app]
        assert [k[1] for k in graph.root_nodes(app)] == django['roots'][app]
    for label, plan in django['plans'].items():
        app, name = label.split('.', 1)
        assert graph.forwards_plan((app, name)) == tuple(map(tuple, plan))
    assert {
        f'{app}.{name}': [list(t) for t in targets]
        for (app, name), targets in graph.replacements.items()
    } == django['replacements']
    assert graph.conflicting_apps() == django['conflicts']
    found = {c.app: c for c in conflicts(graph)}
    assert set(found) == set(django['merges'])
    for app, merge in django['merges'].items():
        conflict = found[app]
        if 'error' in merge:
            assert merge['error'].startswith('Could not find common ancestor')
            assert conflict.common_ancestor is None
            continue
        assert conflict.common_ancestor is not None
        assert merge_branches(merge['output']) == {
            leaf: [f'M_{a}_{n}' for a, n in branch]
            for leaf, branch in conflict.branches.items()
        }


# No shrinking: each step would cost a Django run, and a seeded project does
# not get simpler anyway; the failing project is printed instead.
@hypothesis.settings(
    max_examples=5, deadline=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.reuse,
            hypothesis.Phase.generate],
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large],
)
@hypothesis.given(st.lists(
    projects(), min_size=PROJECTS_PER_EXAMPLE, max_size=PROJECTS_PER_EXAMPLE,
))
def test_generated_graphs_match_django(batch: list[list[Spec]]) -> None:
    with tempfile.TemporaryDirectory(prefix='migmerge-gen') as tmp:
        root = Path(tmp)
        for app in GENERATED_APPS:
            (root / app).mkdir()
            (root / app / '__init__.py').write_text('')
        settings = djangoproc.write_settings(
            root, installed_apps=GENERATED_APPS,
            **{SWAP_SETTING: SWAP_VALUE},
        )
        cases = []
        records = []
        for i, specs in enumerate(batch):
            package = f'project{i}'
            modules = write_project(root, package, specs)
            infos = read_project(root, package)
            records.append(infos)
            cases.append({
                'migration_modules': modules,
                'order': loading_order(
                    [info.key for info in infos],
                    {
                        info.key: [d.key for d in info.replaces]
                        for info in infos if info.replaces
                    },
                ),
                'merge': True,
            })
        results = djangoproc.loader_graphs(
            settings=settings, paths=[root], cases=cases,
        )
        for infos, django, specs in zip(records, results, batch):
            static = build_graph(infos, swappable={SWAP_SETTING: SWAP_VALUE})
            try:
                compare(static, django)
            except AssertionError:
                print('\n\n'.join(  # the failing project, for the report
                    f'# {s.app}/{s.name}.py (written={s.written})\n'
                    + s.source() for s in specs
                ))
                raise
