"""Oracle: the static graph of real migrations equals Django's.

Django's contrib apps, wagtail (with its test apps) and django-oscar, loaded
by ``MigrationLoader(None, ignore_no_migrations=True)`` in a subprocess with
a minimal settings module; the same directories read by migmerge's reader
and built by ``build_graph``.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import random
import tempfile
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from mergedriver.graph.builder import build_graph
from mergedriver.graph.builder import loading_order
from mergedriver.graph.model import GraphResult
from mergedriver.parsing.reader import read_migration
from mergedriver.records import MigrationInfo
from mergedriver.resolution.conflicts import conflicts
from testing import django as djangoproc

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


def read_directory(app: str, directory: Path) -> Iterator[MigrationInfo]:
    """Every module Django would load from a migrations package."""
    for path in sorted(directory.glob('*.py')):
        if path.stem[0] in '_~':
            continue
        yield read_migration(
            path.read_bytes(), app_label=app, name=path.stem, path=str(path),
        )


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
# Random migration graphs written to disk as tiny Django projects, loaded by
# Django in ONE subprocess per hypothesis example (each project is selected
# through MIGRATION_MODULES), and compared with the static graph: the same
# error kind when Django refuses the graph, otherwise the same nodes, edges,
# leaves, roots, replacements, forwards plans, conflicts and merge branches.

GENERATED_APPS = ('a', 'b', 'c', 'd')
SWAP_SETTING = 'MIGMERGE_SWAP_MODEL'
SWAP_VALUE = 'b.Thing'
PROJECTS_PER_EXAMPLE = 30


@dataclasses.dataclass
class Spec:
    app: str
    name: str
    deps: list[tuple[str, str] | None]  # None: the swappable dependency
    replaces: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    run_before: list[tuple[str, str]] = dataclasses.field(
        default_factory=list,
    )
    written: bool = True

    @property
    def key(self) -> tuple[str, str]:
        return (self.app, self.name)

    def source(self) -> str:
        def entry(dep: tuple[str, str] | None) -> str:
            if dep is None:
                return f'migrations.swappable_dependency(settings.{SWAP_SETTING})'
            return repr(dep)

        def listing(entries: Iterable[str]) -> str:
            return ''.join(f'        {e},\n' for e in entries)

        model = f'M_{self.app}_{self.name}'
        return (
            'from django.conf import settings\n'
            'from django.db import migrations\n\n\n'
            'class Migration(migrations.Migration):\n'
            f'    dependencies = [\n{listing(map(entry, self.deps))}    ]\n'
            f'    replaces = [\n{listing(map(repr, self.replaces))}    ]\n'
            f'    run_before = [\n{listing(map(repr, self.run_before))}    ]\n'
            '    operations = [\n'
            f'        migrations.CreateModel(name={model!r}, fields=[]),\n'
            '    ]\n'
        )


@st.composite
def projects(draw: st.DrawFn) -> list[Spec]:
    # Hypothesis' own choices (and its Random) favour the simplest values,
    # which would make every rare case common; a seeded Random keeps the
    # probabilities written here, and hypothesis still replays failures.
    rnd = random.Random(draw(st.integers(0, 2 ** 64)))

    def chance(p: float) -> bool:
        return rnd.random() < p

    apps = rnd.sample(GENERATED_APPS, rnd.randint(1, 4))
    # Every app gets one migration, the rest are spread at random; creation
    # order interleaves apps, and most dependencies point backwards in it.
    order = apps + rnd.choices(apps, k=rnd.randint(0, 12 - len(apps)))
    rnd.shuffle(order)
    specs: list[Spec] = []
    by_app: dict[str, list[Spec]] = {app: [] for app in apps}
    for app in order:
        own = by_app[app]
        number = len(own) + 1
        if chance(0.85):
            name = f'{number:04d}_{rnd.choice(["initial", "x", "y"])}'
        else:  # Names without a number are loaded like any other.
            name = f'{rnd.choice(["auto", "data", "z"])}_{number}'
        deps: list[tuple[str, str] | None] = []
        if own:
            shape = rnd.choices(
                ['previous', 'earlier', 'root', 'two'], [6, 3, 0.5, 1],
            )[0]
            if shape in ('previous', 'two'):
                deps.append(own[-1].key)
            if shape in ('earlier', 'two'):
                deps.append(rnd.choice(own).key)
        earlier = [s for s in specs if s.app != app]
        for _ in range(rnd.choice([0, 0, 1, 1, 2])):
            kind = rnd.choices(
                ['earlier', 'first', 'latest', 'swappable'], [8, 1, 1, 1],
            )[0]
            if kind == 'earlier' and earlier:
                deps.append(rnd.choice(earlier).key)
            elif kind in ('first', 'latest'):
                # Other apps mostly; in its own app __first__ is ignored and
                # __latest__ is a missing node.
                target = rnd.choice(apps if chance(0.3) else order)
                if target == app and kind == 'latest' and chance(0.7):
                    continue
                deps.append((target, f'__{kind}__'))
            elif kind == 'swappable':
                deps.append(None)
        spec = Spec(app, name, deps)
        specs.append(spec)
        own.append(spec)
    # run_before mostly names a migration created later (the usual use: get
    # ahead of another app's migration).
    for i, spec in enumerate(specs):
        if chance(0.12):
            later = specs[i + 1:] if chance(0.9) else specs
            if later:
                spec.run_before.append(rnd.choice(later).key)
    # Now and then a dependency on a migration that does not exist, or one
    # that points forwards (which may close a cycle).
    if chance(0.1):
        rnd.choice(specs).deps.append((rnd.choice(apps), '0099_missing'))
    if chance(0.1):
        rnd.choice(specs).deps.append(rnd.choice(specs).key)
    # Squashes: a contiguous run of an app's migrations, their outside
    # dependencies (as squashmigrations writes them), sometimes the originals
    # deleted, sometimes a squash of a squash or one in another app.
    for _ in range(rnd.choice([0, 0, 1, 1, 2])):
        app = rnd.choice(apps)
        own = by_app[app]
        start = rnd.randrange(len(own))
        end = rnd.randrange(start, len(own))
        replaced = own[start:end + 1]
        inside = {s.key for s in replaced}
        home = app if chance(0.85) else rnd.choice(apps)
        squash = Spec(
            home,
            f'{start + 1:04d}_squashed_{end + 1:04d}_s{len(specs)}',
            list(dict.fromkeys(
                d for s in replaced for d in s.deps if d not in inside
            )),
            replaces=[s.key for s in replaced],
        )
        if chance(0.4):
            for s in replaced:
                if not s.replaces and chance(0.6):
                    s.written = False
        specs.append(squash)
        own.insert(end + 1, squash)
    return specs


def write_project(root: Path, package: str, specs: list[Spec]) -> dict[
        str, str | None]:
    """Write the modules; return the MIGRATION_MODULES that selects them."""
    (root / package).mkdir()
    (root / package / '__init__.py').write_text('')
    modules: dict[str, str | None] = dict.fromkeys(GENERATED_APPS)
    for spec in specs:
        directory = root / package / spec.app
        if not directory.exists():
            directory.mkdir()
            (directory / '__init__.py').write_text('')
            modules[spec.app] = f'{package}.{spec.app}'
        if spec.written:
            (directory / f'{spec.name}.py').write_text(spec.source())
    return modules


def read_project(root: Path, package: str) -> list[MigrationInfo]:
    return [
        info
        for directory in sorted((root / package).iterdir())
        if directory.is_dir()
        for info in read_directory(directory.name, directory)
    ]


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
