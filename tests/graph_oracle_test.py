"""Oracle: the static graph of real migrations equals Django's.

Django's contrib apps, wagtail (with its test apps) and django-oscar, loaded
by ``MigrationLoader(None, ignore_no_migrations=True)`` in a subprocess with
a minimal settings module; the same directories read by migmerge's reader
and built by ``build_graph``.
"""
from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import djangoproc
from mergedriver.analysis import conflicts
from mergedriver.graph import build_graph
from mergedriver.graph import GraphResult
from mergedriver.graph import MigrationGraph
from mergedriver.reader import read_migration
from mergedriver.records import MigrationInfo

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
# wagtail/test/settings.py's apps (its default custom user configuration).
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
    'wagtail',
    'wagtail.test.apps.CustomUsersAppConfig',
    'wagtail.test.customuser',
    'modelcluster',
    'taggit',
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


def read_directory(app: str, directory: Path) -> Iterator[MigrationInfo]:
    """Every module Django would load from a migrations package."""
    for path in sorted(directory.glob('*.py')):
        if path.stem[0] in '_~':
            continue
        yield read_migration(
            path.read_bytes(), app_label=app, name=path.stem, path=str(path),
        )


def keys(items: Any) -> set[tuple[str, str]]:
    return {tuple(k) for k in items}  # type: ignore[misc]


@pytest.fixture(scope='module')
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp('oracle_settings')
    settings = djangoproc.write_settings(
        directory,
        installed_apps=CONTRIB_APPS + WAGTAIL_APPS + oscar_apps(),
        preamble='from oscar.defaults import *\n',
        AUTH_USER_MODEL='customuser.CustomUser',
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
    )
    (result,) = djangoproc.loader_graphs(
        settings=settings, paths=[directory],
        report_settings=SWAPPABLE_SETTINGS,
    )
    assert 'error' not in result, result
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope='module')
def records(oracle: dict[str, Any]) -> list[MigrationInfo]:
    return [
        info
        for app, directory in sorted(oracle['directories'].items())
        for info in read_directory(app, Path(directory))
    ]


@pytest.fixture(scope='module')
def static(
        oracle: dict[str, Any], records: list[MigrationInfo],
) -> GraphResult:
    return build_graph(records, swappable=oracle['settings'])


def test_corpus_is_large_and_varied(
        oracle: dict[str, Any], records: list[MigrationInfo],
) -> None:
    assert len(oracle['disk']) >= 300
    assert {info.key for info in records} == keys(oracle['disk'])
    assert sum(bool(info.replaces) for info in records) >= 3
    swappable = {
        dep.setting for info in records for dep in info.dependencies
        if dep.setting
    }
    assert swappable == set(SWAPPABLE_SETTINGS)
    assert any(
        dep.name == '__first__' and dep.setting is None
        for info in records for dep in info.dependencies
    )


def test_no_problems(static: GraphResult) -> None:
    assert static.problems == ()
    assert static.graph.unknown_apps == frozenset()
    assert static.graph.external_dependencies == ()


def test_nodes_and_edges(static: GraphResult, oracle: dict[str, Any]) -> None:
    graph = static.graph
    assert set(graph.nodes) == keys(oracle['nodes'])
    assert set(graph.edges()) == {
        (tuple(p), tuple(c)) for p, c in oracle['edges']
    }


def test_leaves_roots_and_plans(
        static: GraphResult, oracle: dict[str, Any],
) -> None:
    graph = static.graph
    assert graph.apps == tuple(sorted(oracle['directories']))
    for app in graph.apps:
        assert [k[1] for k in graph.leaf_nodes(app)] == oracle['leaves'][app]
        assert [k[1] for k in graph.root_nodes(app)] == oracle['roots'][app]
    for label, plan in oracle['plans'].items():
        app, name = label.split('.', 1)
        assert graph.forwards_plan((app, name)) == tuple(map(tuple, plan))


def test_replacements(static: GraphResult, oracle: dict[str, Any]) -> None:
    graph: MigrationGraph = static.graph
    assert {
        f'{app}.{name}': [list(t) for t in targets]
        for (app, name), targets in graph.replacements.items()
    } == oracle['replacements']


def test_no_conflicts(static: GraphResult, oracle: dict[str, Any]) -> None:
    assert oracle['conflicts'] == {}
    assert static.graph.conflicting_apps() == {}
    assert conflicts(static.graph) == ()
