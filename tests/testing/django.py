"""Run real Django in a subprocess, for oracle tests.

The test process never imports Django: each call starts a fresh interpreter
(this virtualenv's), sets ``DJANGO_SETTINGS_MODULE``, calls
``django.setup()`` and runs a snippet that reads the JSON-able ``payload``
and assigns a JSON-able ``result``.

    settings = write_settings(tmp_path, installed_apps=['myapp'])
    result = run(snippet, settings=settings, paths=[tmp_path], payload={...})

:func:`loader_graphs` is the ready-made snippet: what
``MigrationLoader(None, ignore_no_migrations=True)`` builds, as JSON.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_DRIVER = '''\
import json, sys
with open(sys.argv[1]) as f:
    payload = json.load(f)
if payload['setup']:
    import django
    django.setup()
namespace = {'payload': payload['payload'], 'result': None}
exec(compile(payload['code'], '<djangoproc snippet>', 'exec'), namespace)
with open(sys.argv[2], 'w') as f:
    json.dump(namespace['result'], f)
'''


class DjangoFailed(AssertionError):
    """The subprocess exited non-zero; the message holds its stderr."""


def write_settings(
        directory: Path,
        *,
        installed_apps: Sequence[str],
        module: str = 'djangoproc_settings',
        preamble: str = '',
        **settings: object,
) -> str:
    """Write a minimal settings module into ``directory``; return its name.

    ``preamble`` goes first (e.g. ``from oscar.defaults import *``); extra
    keyword arguments become settings (values written with ``repr``).
    """
    values: dict[str, object] = {
        'SECRET_KEY': 'djangoproc',
        'INSTALLED_APPS': list(installed_apps),
        'DATABASES': {
            'default': {
                'ENGINE': 'django.db.backends.sqlite3',
                'NAME': ':memory:',
            },
        },
        'USE_TZ': True,
        'DEFAULT_AUTO_FIELD': 'django.db.models.AutoField',
    }
    values.update(settings)
    body = preamble + ''.join(f'{key} = {value!r}\n' for key, value in values.items())
    (directory / f'{module}.py').write_text(body)
    return module


def run(
        code: str,
        *,
        settings: str | None,
        paths: Sequence[Path | str] = (),
        payload: object = None,
        timeout: float = 300,
        env: Mapping[str, str] | None = None,
) -> Any:
    """Run ``code`` in a fresh Python with Django set up; return ``result``.

    ``settings`` is the settings module (None: do not call django.setup()),
    ``paths`` go on ``sys.path``.
    """
    environ = dict(os.environ)
    environ.pop('DJANGO_SETTINGS_MODULE', None)
    environ['PYTHONPATH'] = os.pathsep.join(str(p) for p in paths)
    # Keep installed packages free of bytecode written by the tests.
    environ['PYTHONDONTWRITEBYTECODE'] = '1'
    if settings is not None:
        environ['DJANGO_SETTINGS_MODULE'] = settings
    environ.update(env or {})
    with tempfile.TemporaryDirectory(prefix='djangoproc') as tmp:
        request = Path(tmp, 'request.json')
        response = Path(tmp, 'response.json')
        request.write_text(json.dumps({
            'setup': settings is not None,
            'code': textwrap.dedent(code),
            'payload': payload,
        }))
        proc = subprocess.run(
            (sys.executable, '-c', _DRIVER, str(request), str(response)),
            env=environ, capture_output=True, text=True, timeout=timeout,
        )
        if proc.returncode:
            raise DjangoFailed(
                f'Django subprocess failed ({proc.returncode}):\n'
                f'{proc.stderr[-5000:]}',
            )
        return json.loads(response.read_text())


LOADER_GRAPHS = '''\
import os
from importlib import import_module

from django.conf import settings
from django.db.migrations.exceptions import CircularDependencyError
from django.db.migrations.exceptions import NodeNotFoundError
from django.db.migrations.loader import MigrationLoader


class OrderedLoader(MigrationLoader):
    """Django's loader, visiting migrations in a given order.

    Django's own order within an app is a set's (it varies with the hash
    seed); any order is one Django may take.
    """

    order = None

    def load_disk(self):
        super().load_disk()
        if self.order is not None:
            disk = self.disk_migrations
            order = [tuple(k) for k in self.order]
            assert set(order) == set(disk), (sorted(order), sorted(disk))
            self.disk_migrations = {k: disk[k] for k in order}


def label(key):
    return '%s.%s' % key


def dump(loader):
    graph = loader.graph
    apps = sorted(loader.migrated_apps)
    directories = {}
    for app in apps:
        module = import_module(loader.migrations_module(app)[0])
        directories[app] = list(module.__path__)[0]
    leaves = {app: [k[1] for k in graph.leaf_nodes(app)] for app in apps}
    return {
        'nodes': sorted(graph.nodes),
        'edges': sorted(
            [parent.key, key]
            for key, node in graph.node_map.items()
            for parent in node.parents
        ),
        'leaves': leaves,
        'roots': {app: [k[1] for k in graph.root_nodes(app)] for app in apps},
        'plans': {
            label((app, name)): graph.forwards_plan((app, name))
            for app, names in leaves.items() for name in names
        },
        'replacements': {
            label(key): [list(t) for t in migration.replaces]
            for key, migration in loader.replacements.items()
        },
        'conflicts': loader.detect_conflicts(),
        'directories': directories,
        'disk': sorted(loader.disk_migrations),
    }


def merge_output(app):
    # What `makemigrations APP --merge --dry-run` prints (branches and their
    # operations), or the error it raises.
    import io
    from django.core.management import call_command
    from django.core.management.commands import makemigrations

    makemigrations.MigrationLoader = OrderedLoader
    out = io.StringIO()
    try:
        call_command(
            'makemigrations', app, merge=True, dry_run=True,
            interactive=False, verbosity=1, stdout=out, stderr=out,
        )
    except ValueError as exc:
        return {'error': str(exc)}
    return {'output': out.getvalue()}


result = []
for case in payload['cases']:
    if 'migration_modules' in case:
        settings.MIGRATION_MODULES = case['migration_modules']
    OrderedLoader.order = case.get('order')
    loader = OrderedLoader(None, ignore_no_migrations=True, load=False)
    try:
        loader.build_graph()
    except NodeNotFoundError as exc:
        result.append({'error': 'missing', 'message': str(exc)})
    except CircularDependencyError as exc:
        result.append({'error': 'cycle', 'message': str(exc)})
    else:
        result.append(dump(loader))
        if case.get('merge'):
            result[-1]['merges'] = {
                app: merge_output(app) for app in loader.detect_conflicts()
            }
    result[-1]['settings'] = {
        name: getattr(settings, name, None)
        for name in payload.get('settings', ())
    }
'''


def loader_graphs(
        *,
        settings: str,
        paths: Sequence[Path | str] = (),
        cases: Sequence[Mapping[str, object]] = ({},),
        report_settings: Sequence[str] = (),
        timeout: float = 300,
) -> list[dict[str, Any]]:
    """Build ``MigrationLoader(None, ignore_no_migrations=True)`` per case.

    A case may set ``migration_modules`` (replaces ``MIGRATION_MODULES``
    before loading, so one process can load many small projects) and
    ``order`` (the ``[app, name]`` keys in the order Django visits them)
    and ``merge`` (also run ``makemigrations APP --merge --dry-run`` for
    each conflicting app: ``merges`` maps the app to ``{'output'}`` or
    ``{'error'}``).
    Each result is either ``{'error': 'missing' | 'cycle', 'message'}`` or
    ``{'nodes', 'edges' ([parent, child]), 'leaves', 'roots', 'plans'
    (forwards_plan of each leaf, by 'app.name'), 'replacements', 'conflicts',
    'directories' (app -> migrations package directory), 'disk'}``; both
    carry ``settings``, the values of ``report_settings``.  Keys are
    ``[app, name]`` lists.
    """
    return run(  # type: ignore[no-any-return]
        LOADER_GRAPHS,
        settings=settings,
        paths=paths,
        payload={'cases': list(cases), 'settings': list(report_settings)},
        timeout=timeout,
    )
