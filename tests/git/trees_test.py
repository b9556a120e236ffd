from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mergedriver.config import Config
from mergedriver.discovery.labels import app_label_from_apps_py
from mergedriver.discovery.packages import discover
from mergedriver.discovery.packages import discover_packages
from mergedriver.discovery.packages import glob_regex
from mergedriver.errors import MigmergeError
from mergedriver.files import read_file
from mergedriver.git import index as git_index
from mergedriver.git import location as gitdir
from mergedriver.git.index import parse_index
from mergedriver.git.trees import cat_file
from mergedriver.git.trees import directory_tree
from mergedriver.git.trees import git_blob_id
from mergedriver.git.trees import open_tree
from mergedriver.git.trees import Tree
from testing.git import git
from testing.git import make_repo
from testing.git import write_files

MIGRATION = b'''\
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = []
    operations = []
'''


def app(name: str, *migrations: str, apps_py: str | None = None) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {
        f'{name}/__init__.py': '',
        f'{name}/models.py': '',
        f'{name}/migrations/__init__.py': '',
    }
    for migration in migrations:
        files[f'{name}/migrations/{migration}.py'] = MIGRATION
    if apps_py is not None:
        files[f'{name}/apps.py'] = apps_py
    return files


def names(tree: Tree, config: Config = Config()) -> list[tuple[str, str]]:
    return [(f.app_label, f.name) for f in discover(tree, config)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


# ---------------------------------------------------------------- trees


def test_blob_id_matches_git(repo: Path) -> None:
    for data in (b'', b'hello\n', MIGRATION, bytes(range(256))):
        (repo / 'f').write_bytes(data)
        assert git_blob_id(data) == git(repo, 'hash-object', 'f').strip()


def test_work_tree_index_head_and_branch_differ(repo: Path) -> None:
    write_files(repo, app('shop', '0001_initial'))
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'initial')
    git(repo, 'checkout', '-qb', 'feature')
    write_files(repo, app('shop', '0002_feature'))
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'feature')
    git(repo, 'checkout', '-q', 'main')
    write_files(repo, app('shop', '0002_main'))
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'main')
    write_files(repo, app('shop', '0003_staged'))
    git(repo, 'add', '.')
    write_files(repo, app('shop', '0004_unstaged'))
    (repo / 'shop/migrations/0001_initial.py').write_bytes(MIGRATION + b'#\n')

    def listing(tree: Tree) -> list[str]:
        return [name for _, name in names(tree)]

    work = open_tree(str(repo))
    assert listing(work) == [
        '0001_initial', '0002_main', '0003_staged', '0004_unstaged',
    ]
    staged = open_tree(str(repo), index=True)
    assert listing(staged) == ['0001_initial', '0002_main', '0003_staged']
    assert listing(open_tree(str(repo), rev='HEAD')) == [
        '0001_initial', '0002_main',
    ]
    feature = open_tree(str(repo / 'shop'), rev='feature')  # from a subdir
    assert listing(feature) == ['0001_initial', '0002_feature']
    assert listing(open_tree(str(repo), rev='HEAD~1')) == ['0001_initial']

    path = 'shop/migrations/0001_initial.py'
    head_oid = git(repo, 'rev-parse', f'HEAD:{path}').strip()
    work_oid = git(repo, 'hash-object', path).strip()
    assert work_oid != head_oid
    assert {f.path: f.oid for f in discover(work, Config())}[path] == work_oid
    assert {f.path: f.oid for f in discover(staged, Config())}[path] == head_oid
    assert staged.read(path) == MIGRATION
    assert work.read(path) == MIGRATION + b'#\n'
    assert feature.size(path) == len(MIGRATION)
    assert work.cache_path == str(repo / '.git/migmerge/cache.sqlite3')


def test_index_reads_a_few_blobs_with_git_cat_file(repo: Path) -> None:
    write_files(repo, {
        **app('shop', '0001_initial', '0002_more'),
        'shop/migrations/0003_empty.py': b'',
        # bytes git must hand back untouched
        'shop/migrations/0004_bytes.py': b'\x00\xff\n\r\n' * 3,
    })
    git(repo, 'add', '.')
    probe = (
        'import sys\n'
        'from mergedriver.git.trees import open_tree\n'
        'tree = open_tree(".", index=True)\n'
        'paths = [f"shop/migrations/{n}.py" for n in sys.argv[1:]]\n'
        'got = tree.read_many(paths)\n'
        'print(repr(got))\n'
        'print("pygit2" in sys.modules)\n'
    )
    names = ('0001_initial', '0002_more', '0003_empty', '0004_bytes')
    proc = subprocess.run(
        (sys.executable, '-c', probe, *names), cwd=repo,
        capture_output=True, text=True, check=True,
    )
    shown, loaded = proc.stdout.splitlines()
    assert loaded == 'False'
    staged = open_tree(str(repo), index=True)
    expected = {
        f'shop/migrations/{n}.py': staged.read(f'shop/migrations/{n}.py')
        for n in names
    }
    assert shown == repr(expected)
    assert expected['shop/migrations/0003_empty.py'] == b''
    assert expected['shop/migrations/0004_bytes.py'] == b'\x00\xff\n\r\n' * 3


def test_cat_file_refuses_what_git_does_not_have(repo: Path) -> None:
    write_files(repo, {'f.py': 'x = 1\n'})
    git(repo, 'add', '.')
    location = gitdir.locate(str(repo))
    oid = git(repo, 'rev-parse', ':f.py').strip()
    assert cat_file(location, [oid]) == {oid: b'x = 1\n'}
    assert cat_file(location, [oid, '0' * 40]) is None
    # a tree is not a blob
    tree_oid = git(repo, 'write-tree').strip()
    assert cat_file(location, [tree_oid]) is None


def test_index_with_conflicts_reads_ours(
        repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_files(repo, {
        'both.txt': 'base\n', 'ours_deletes.txt': 'base\n',
        'theirs_deletes.txt': 'base\n', 'clean.txt': 'base\n',
    })
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'base')
    git(repo, 'checkout', '-qb', 'other')
    write_files(repo, {
        'both.txt': 'theirs\n', 'ours_deletes.txt': 'theirs\n',
        'added_by_both.txt': 'theirs\n',
    })
    (repo / 'theirs_deletes.txt').unlink()
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', 'theirs')
    git(repo, 'checkout', '-q', 'main')
    write_files(repo, {
        'both.txt': 'ours\n', 'theirs_deletes.txt': 'ours\n',
        'added_by_both.txt': 'ours\n',
    })
    (repo / 'ours_deletes.txt').unlink()
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', 'ours')
    proc = subprocess.run(
        ('git', 'merge', '-q', 'other'), cwd=repo, capture_output=True,
    )
    assert proc.returncode != 0
    parsed = parse_index((repo / '.git/index').read_bytes())
    assert parsed is not None
    # the same as libgit2's reading
    monkeypatch.setattr(git_index, 'parse_index', lambda data: None)
    assert parsed == git_index.read_index(gitdir.locate(str(repo)))
    monkeypatch.undo()
    index = open_tree(str(repo), index=True)
    assert index.read('both.txt') == b'ours\n'
    assert index.read('added_by_both.txt') == b'ours\n'
    assert index.read('theirs_deletes.txt') == b'ours\n'
    assert [e.name for e in index.entries('')] == [
        'added_by_both.txt', 'both.txt', 'clean.txt', 'theirs_deletes.txt',
    ]
    merge_head = open_tree(str(repo), rev='MERGE_HEAD')
    assert merge_head.read('both.txt') == b'theirs\n'


def test_symlinks_are_entries_not_followed(repo: Path, tmp_path: Path) -> None:
    write_files(repo, app('shop', '0001_initial'))
    os.symlink('0001_initial.py', repo / 'shop/migrations/0002_link.py')
    os.symlink('/etc/passwd', repo / 'shop/migrations/0003_out.py')
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'links')
    for tree in (
            open_tree(str(repo)),
            open_tree(str(repo), index=True),
            open_tree(str(repo), rev='HEAD'),
    ):
        assert tree.entry_kind('shop/migrations/0003_out.py') == 'symlink'
        assert tree.read('shop/migrations/0003_out.py') == b'/etc/passwd'
        oids = {f.name: f.oid for f in discover(tree, Config())}
        assert oids['0003_out'] == git_blob_id(b'/etc/passwd')


@pytest.mark.parametrize('rev', ('nope', 'HEAD'))
def test_unknown_revision(repo: Path, rev: str) -> None:
    with pytest.raises(MigmergeError, match='unknown revision'):
        open_tree(str(repo), rev=rev)  # HEAD is unborn: no commit yet


def test_not_a_repository_and_bare(tmp_path: Path) -> None:
    with pytest.raises(MigmergeError, match='not a git repository'):
        open_tree(str(tmp_path))
    git(tmp_path, 'init', '-q', '--bare', 'bare.git')
    with pytest.raises(MigmergeError, match='bare repository'):
        open_tree(str(tmp_path / 'bare.git'))
    with pytest.raises(MigmergeError, match='not a directory'):
        directory_tree(str(tmp_path / 'missing'))


def test_linked_worktree_shares_the_cache(repo: Path) -> None:
    write_files(repo, {'a': ''})
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'a')
    git(repo, 'worktree', 'add', '-q', str(repo / 'wt'), '-b', 'wt')
    tree = open_tree(str(repo / 'wt'))
    assert tree.cache_path == str(repo / '.git/migmerge/cache.sqlite3')


def test_plain_directory(tmp_path: Path) -> None:
    write_files(tmp_path, app('shop', '0001_initial', '0002_more'))
    tree = directory_tree(str(tmp_path))
    assert tree.cache_path is None
    assert names(tree) == [('shop', '0001_initial'), ('shop', '0002_more')]
    assert discover(tree, Config())[0].oid == git_blob_id(MIGRATION)


# ------------------------------------------------------ apps.py labels


@pytest.mark.parametrize(
    ('source', 'expected'),
    (
        pytest.param(
            'from django.apps import AppConfig\n'
            'class ShopConfig(AppConfig):\n'
            '    name = "x.shop"\n'
            '    label = "myshop"\n',
            'myshop', id='label',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class ShopConfig(AppConfig):\n'
            '    name: str = "project.apps.store"\n',
            'store', id='name gives the default label',
        ),
        pytest.param(
            'from django import apps\n'
            'class ShopConfig(apps.AppConfig):\n'
            '    default_auto_field = "x"\n',
            None, id='neither: the directory name',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class A(AppConfig):\n'
            '    label = "a"\n'
            'class B(AppConfig):\n'
            '    label = "b"\n'
            '    default = True\n',
            'b', id='default true among several',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class A(AppConfig):\n'
            '    label = "a"\n'
            'class B(AppConfig):\n'
            '    label = "b"\n'
            '    default = False\n',
            'a', id='default false leaves exactly one',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class A(AppConfig):\n'
            '    label = "a"\n'
            'class B(AppConfig):\n'
            '    label = "b"\n',
            None, id='ambiguous: the directory name',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class A(AppConfig):\n'
            '    label = "a"\n'
            '    default = True\n'
            'class B(AppConfig):\n'
            '    label = "b"\n'
            '    default = True\n',
            None, id='two defaults: the directory name',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class Base(AppConfig):\n'
            '    label = "inherited"\n'
            '    default = False\n'
            'class Real(Base):\n'
            '    default = True\n',
            'inherited', id='label inherited from a local base',
        ),
        pytest.param(
            'from oscar.core.application import OscarConfig\n'
            'class CatalogueOnlyConfig(OscarConfig):\n'
            '    label = "catalogue"\n'
            'class CatalogueConfig(CatalogueOnlyConfig):\n'
            '    label = "catalogue"\n',
            'catalogue', id='imported base, one shared label',
        ),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class Only(AppConfig):\n'
            '    label = "only"\n'
            '    default = False\n',
            'only', id='a single class meant to be listed by path',
        ),
        pytest.param(
            'class NotAConfig:\n    label = "nope"\n',
            None, id='not an AppConfig',
        ),
        pytest.param(
            'from django.apps import AppConfig as Base\n'
            'class A(Base):\n'
            '    label = "aliased"\n',
            'aliased', id='AppConfig imported under another name',
        ),
        pytest.param('def broken(:\n', None, id='syntax error'),
        pytest.param(
            'from django.apps import AppConfig\n'
            'class A(AppConfig):\n'
            '    label = compute()\n',
            None, id='label not static',
        ),
    ),
)
def test_app_label_from_apps_py(source: str, expected: str | None) -> None:
    assert app_label_from_apps_py(source.encode()) == expected


# ------------------------------------------------------------ discovery


def test_labels_from_apps_py_and_config(tmp_path: Path) -> None:
    write_files(tmp_path, {
        **app('blog', '0001_initial', apps_py=(
            'from django.apps import AppConfig\n'
            'class BlogConfig(AppConfig):\n'
            '    name = "blog"\n'
            '    label = "weblog"\n'
        )),
        **app('src/store', '0001_initial', apps_py=(
            'from django.apps import AppConfig\n'
            'class StoreConfig(AppConfig):\n'
            '    name = "src.shop"\n'
        )),
        **app('polls', '0001_initial'),
        **app('other/polls', '0001_initial'),
    })
    tree = directory_tree(str(tmp_path))
    with pytest.raises(MigmergeError) as excinfo:
        discover_packages(tree, Config())
    assert str(excinfo.value) == (
        "polls/migrations:1: app label 'polls' is used by two migration "
        'packages, other/polls/migrations and polls/migrations; set '
        'app_labels in the [tool.migmerge] configuration'
    )
    config = Config(app_labels={'other/polls': 'otherpolls'})
    assert discover_packages(tree, config) == {
        'otherpolls': 'other/polls/migrations',
        'polls': 'polls/migrations',
        'shop': 'src/store/migrations',
        'weblog': 'blog/migrations',
    }
    config = Config(app_labels={'other/polls': 'p2', 'blog': 'b'})
    assert discover_packages(tree, config)['b'] == 'blog/migrations'


def test_module_selection_follows_django(tmp_path: Path) -> None:
    write_files(tmp_path, {
        **app('shop', '0001_initial', 'auto_named', 'data', '_private',
              '~backup', '0002_x.y'),
        'shop/migrations/0003_compiled.pyc': b'\0',
        'shop/migrations/notes.txt': 'x',
        'shop/migrations/README': 'x',
        'shop/migrations/helpers/__init__.py': '',
        'shop/migrations/helpers/0009_inner.py': MIGRATION,
        'shop/migrations/shadowed.py': MIGRATION,
        'shop/migrations/shadowed/__init__.py': '',
        'shop/migrations/namespace/0008.py': MIGRATION,
    })
    assert names(directory_tree(str(tmp_path))) == [
        ('shop', '0001_initial'), ('shop', 'auto_named'), ('shop', 'data'),
    ]


def test_what_is_not_a_migration_package(repo: Path) -> None:
    write_files(repo, {
        **app('shop', '0001_initial'),
        # no __init__.py: a namespace package, which Django skips
        'nsapp/models.py': '', 'nsapp/migrations/0001_initial.py': MIGRATION,
        # not an app: no apps.py and no models module
        'lib/helpers/migrations/__init__.py': '',
        'lib/helpers/migrations/operations.py': 'x = 1\n',
        # an app whose models are a package, and one with only apps.py
        **{k.replace('shop', 'pkgmodels'): v for k, v in app('shop', '0001_a').items()},
        'pkgmodels/models/__init__.py': '',
        'onlyapps/apps.py': '', 'onlyapps/migrations/__init__.py': '',
        'onlyapps/migrations/0001_b.py': MIGRATION,
        'django/db/models/__init__.py': '',
        'django/db/migrations/__init__.py': '',
        'django/db/migrations/loader.py': 'x = 1\n',
        # skipped trees
        '.hidden/models.py': '', '.hidden/migrations/__init__.py': '',
        '.hidden/migrations/0001.py': MIGRATION,
        **app('node_modules/pkg', '0001_n'),
        **app('lib/python3.11/site-packages/pkg', '0001_s'),
        'env/pyvenv.cfg': '',
        **app('env/lib/pkg', '0001_v'),
        **app('nested/.git/x', '0001_g'), **app('nested/inner', '0001_i'),
        'ignored/.keep': '',
        **app('ignored/app', '0001_ign'),
        **app('ignoredmig', '0001_ignored_package', '0002_ignored_module'),
        '.gitignore': 'ignored/\nignoredmig/migrations/\n',
    })
    (repo / 'pkgmodels/models.py').unlink()
    tree = open_tree(str(repo))
    assert discover_packages(tree, Config()) == {
        'ignoredmig': 'ignoredmig/migrations',
        'onlyapps': 'onlyapps/migrations',
        'pkgmodels': 'pkgmodels/migrations',
        'shop': 'shop/migrations',
    }
    assert ('ignoredmig', '0002_ignored_module') in names(tree)
    # a configured label makes any directory an app
    config = Config(app_labels={'lib/helpers': 'helpers'})
    assert discover_packages(tree, config)['helpers'] == 'lib/helpers/migrations'


def test_exclude_globs(tmp_path: Path) -> None:
    write_files(tmp_path, {
        **app('shop', '0001_initial', '0002_legacy'),
        **app('vendor/thing', '0001_initial'),
        **app('a/b/deep', '0001_initial'),
    })
    tree = directory_tree(str(tmp_path))
    config = Config(exclude=('vendor', '**/0002_*.py', 'a/*/deep/**'))
    assert names(tree, config) == [('shop', '0001_initial')]
    # '*' stays within one segment
    assert names(tree, Config(exclude=('*/deep',))) == names(tree)


@pytest.mark.parametrize(
    ('pattern', 'path', 'matches'),
    (
        ('vendor', 'vendor', True),
        ('vendor', 'vendor/x/migrations', True),
        ('vendor', 'myvendor', False),
        ('*.py', 'a.py', True),
        ('*.py', 'x/a.py', False),
        ('**/*.py', 'x/y/a.py', True),
        ('**/*.py', 'a.py', True),
        ('x/**/m', 'x/m', True),
        ('x/**/m', 'x/a/b/m', True),
        ('0[0-9]?_*', '007_a', True),
        ('0[!0-9]*', '0a', True),
        ('0[!0-9]*', '01', False),
    ),
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_migration_modules(tmp_path: Path) -> None:
    write_files(tmp_path, {
        **app('src/blog', '0001_initial'),
        'src/blog/db_migrations/__init__.py': '',
        'src/blog/db_migrations/0001_custom.py': MIGRATION,
        **app('src/shop', '0001_initial'),
        **app('polls', '0001_initial'),
        # the configured package may itself be named migrations
        'src/legacy/migrations/__init__.py': '',
        'src/legacy/migrations/0001_old.py': MIGRATION,
    })
    tree = directory_tree(str(tmp_path))
    config = Config(
        source_roots=('.', 'src'),
        migration_modules={
            'blog': 'blog.db_migrations',  # replaces blog/migrations
            'shop': '',  # like None: no migrations
            'polls': 'missing.module',  # not in this tree
            'archive': 'legacy.migrations',
        },
    )
    assert discover_packages(tree, config) == {
        'archive': 'src/legacy/migrations',
        'blog': 'src/blog/db_migrations',
    }
    assert names(tree, config) == [
        ('archive', '0001_old'), ('blog', '0001_custom'),
    ]


# ------------------------------------------------- oracle: Django itself

SITE_PACKAGES = sysconfig.get_paths()['purelib']
ORACLE_ROOTS = ('django', 'wagtail', 'oscar')
ORACLE_SETTINGS = '''\
import oscar
from oscar.defaults import *  # noqa: F401,F403

SECRET_KEY = 'oracle'
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}
USE_TZ = True
SITE_ID = 1
STATIC_URL = '/static/'
ROOT_URLCONF = 'wagtail.test.urls'
WAGTAILADMIN_BASE_URL = 'http://example.com'
WAGTAIL_SITE_NAME = 'oracle'
AUTH_USER_MODEL = 'customuser.CustomUser'
HAYSTACK_CONNECTIONS = {
    'default': {'ENGINE': 'haystack.backends.simple_backend.SimpleEngine'},
}
INSTALLED_APPS = [
    'django.contrib.admin', 'django.contrib.auth',
    'django.contrib.contenttypes', 'django.contrib.sessions',
    'django.contrib.messages', 'django.contrib.staticfiles',
    'django.contrib.sitemaps', 'django.contrib.sites',
    'django.contrib.flatpages', 'django.contrib.redirects',
    'wagtail.test.earlypage', 'wagtail.contrib.redirects',
    'wagtail.test.testapp', 'wagtail.test.demosite', 'wagtail.test.snippets',
    'wagtail.test.routablepage', 'wagtail.test.i18n',
    'wagtail.test.streamfield_migrations', 'wagtail.test.emailuser',
    'wagtail.test.customuser', 'wagtail.test.basepage',
    'wagtail.contrib.simple_translation', 'wagtail.contrib.styleguide',
    'wagtail.contrib.routable_page', 'wagtail.contrib.frontend_cache',
    'wagtail.contrib.search_promotions', 'wagtail.contrib.settings',
    'wagtail.contrib.table_block', 'wagtail.contrib.forms',
    'wagtail.contrib.typed_table_block', 'wagtail.search', 'wagtail.embeds',
    'wagtail.images', 'wagtail.sites', 'wagtail.locales', 'wagtail.snippets',
    'wagtail.documents', 'wagtail.admin', 'wagtail', 'wagtail.users',
    'taggit',
]
INSTALLED_APPS += [a for a in oscar.INSTALLED_APPS if a not in INSTALLED_APPS]
'''
ORACLE_PROBE = '''\
import json
from importlib import import_module

import django

django.setup()
from django.db.migrations.loader import MigrationLoader

loader = MigrationLoader(None, load=False)
loader.load_disk()
print(json.dumps({
    label: list(import_module(loader.migrations_module(label)[0]).__path__)[0]
    for label in loader.migrated_apps
}))
'''


def test_discovery_equals_djangos_app_registry(tmp_path: Path) -> None:
    (tmp_path / 'oracle_settings.py').write_text(ORACLE_SETTINGS)
    proc = subprocess.run(
        (sys.executable, '-c', ORACLE_PROBE),
        env={
            **os.environ, 'PYTHONPATH': str(tmp_path),
            'DJANGO_SETTINGS_MODULE': 'oracle_settings',
        },
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    django_says = {
        label: os.path.relpath(path, SITE_PACKAGES).replace(os.sep, '/')
        for label, path in json.loads(proc.stdout).items()
    }
    django_says = {
        label: path for label, path in django_says.items()
        if path.split('/')[0] in ORACLE_ROOTS
    }
    others = tuple(
        name for name in os.listdir(SITE_PACKAGES) if name not in ORACLE_ROOTS
    )
    # The project template's app is not importable under its own name.
    config = Config(exclude=others + ('wagtail/project_template',))
    found = discover_packages(directory_tree(SITE_PACKAGES), config)
    assert found == django_says
    assert len(found) >= 40


def _libgit2_index(repo: Path) -> dict[str, tuple[str, int]]:
    import pygit2

    index = pygit2.Repository(str(repo)).index
    return {e.path: (str(e.id), e.mode) for e in index}


@pytest.mark.parametrize('version', ['2', '3', '4'])
def test_index_reader_agrees_with_libgit2(repo: Path, version: str) -> None:
    write_files(repo, app('shop', '0001_initial'))
    write_files(repo, app('shop', '0002_second'))
    write_files(repo, {'a/b/c/déjà vu.py': 'x\n', 'a/b/z.py': 'y\n', 'zz': 'z\n'})
    os.symlink('0001_initial.py', repo / 'shop/migrations/0003_link.py')
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'base')
    blob = git(repo, 'hash-object', 'zz').strip()
    long_path = '/'.join(['d' * 200] * 25) + '/long.py'  # over 0xfff bytes
    if version != '4':  # libgit2 cannot read it in a version 4 index
        git(
            repo, 'update-index', '--add', '--cacheinfo',
            f'100644,{blob},{long_path}',
        )
    if version != '2':  # extended entries: git writes version 3 at least
        write_files(repo, {'intent.py': 'i\n'})
        git(repo, 'add', '-N', 'intent.py')
        git(repo, 'update-index', '--skip-worktree', 'zz')
    git(repo, 'update-index', '--index-version', version)
    data = (repo / '.git/index').read_bytes()
    assert data[4:8] == int(version).to_bytes(4, 'big')
    parsed = parse_index(data)
    assert parsed is not None
    assert parsed == _libgit2_index(repo)
    assert 'a/b/c/déjà vu.py' in parsed
    assert (long_path in parsed) == (version != '4')
    tree = open_tree(str(repo), index=True)
    assert tree.entry_kind('shop/migrations/0003_link.py') == 'symlink'
    assert tree.read('a/b/z.py') == b'y\n'
    assert [tuple(e) for e in tree.entries('a/b')] == [
        ('c', 'dir'), ('z.py', 'file'),
    ]
    assert [tuple(e) for e in tree.entries('a')] == [('b', 'dir')]
    assert tree.entry_kind('a/b/c') == 'dir'
    top = {e.name for e in tree.entries('')}
    assert {'a', 'shop', 'zz'} <= top
    assert ('d' * 200 in top) == (version != '4')


def test_index_reader_leaves_a_split_index_to_libgit2(
        repo: Path,
) -> None:
    write_files(repo, {'f.txt': 'base\n'})
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'base')
    git(repo, 'update-index', '--split-index')
    data = (repo / '.git/index').read_bytes()
    assert parse_index(data) is None


@pytest.mark.parametrize('data', [
    b'', b'DIRC', b'DIRC\0\0\0\5\0\0\0\0' + b'\0' * 20,
    b'DIRC\0\0\0\2\0\0\0\1' + b'\0' * 20,
    b'XXXX\0\0\0\2\0\0\0\0' + b'\0' * 20,
])
def test_index_reader_refuses_what_it_cannot_read(data: bytes) -> None:
    assert parse_index(data) is None


def test_index_reader_reads_an_empty_index() -> None:
    assert parse_index(b'DIRC\0\0\0\2\0\0\0\0' + b'\0' * 20) == {}


@pytest.mark.parametrize('case', ('dev-zero', 'outside', 'fifo', 'directory', 'huge', 'parent-link'))
def test_read_file_refuses_what_is_not_a_regular_file_of_the_tree(
        tmp_path: Path, case: str,
) -> None:
    """The one guarded reader: one MigmergeError naming the file, never a
    hang on a FIFO, never a read through a link or of unbounded size."""
    top = tmp_path / 'top'
    top.mkdir()
    (tmp_path / 'outside').mkdir()
    outside = tmp_path / 'outside' / 'f.txt'
    outside.write_text('secret\n')
    path = top / 'f.txt'
    if case == 'dev-zero':
        path.symlink_to('/dev/zero')
    elif case == 'outside':
        path.symlink_to(outside)
    elif case == 'fifo':
        os.mkfifo(path)
    elif case == 'directory':
        path.mkdir()
    elif case == 'huge':
        path.write_bytes(b'x' * (2 * 1024 * 1024 + 1))
    else:
        (top / 'sub').symlink_to(tmp_path / 'outside', target_is_directory=True)
        path = top / 'sub' / 'f.txt'
    with pytest.raises(MigmergeError) as raised:
        read_file(str(path), path='f.txt', top=str(top))
    assert str(raised.value).startswith('f.txt:1: ')
    # a regular file inside, at the limit, reads whole
    ok = top / 'ok.txt'
    ok.write_bytes(b'y' * (2 * 1024 * 1024))
    assert len(read_file(str(ok), top=str(top))) == 2 * 1024 * 1024
