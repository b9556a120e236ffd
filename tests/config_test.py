from __future__ import annotations

from pathlib import Path

import pytest

from mergedriver.config import Config
from mergedriver.config import DEFAULT_SWAPPABLE
from mergedriver.config import load_config
from mergedriver.config import parse_pyproject
from mergedriver.config import parse_setup_cfg
from mergedriver.errors import MigmergeError

FULL = Config(
    mainline='origin/develop',
    app_labels={'src/blog': 'weblog', 'shop': 'store'},
    migration_modules={'blog': 'blog.db_migrations', 'legacy': ''},
    source_roots=('.', 'src'),
    swappable={'AUTH_USER_MODEL': 'accounts.User', 'TEAM_MODEL': 'teams.Team'},
    exclude=('vendor/**', '**/0001_legacy.py'),
    rollback_command=('./manage.py', 'migrate', '{app}', '{target}'),
    allow_mixed_data=('shop/migrations/0005_*.py',),
    data_operations_block=True,
)

PYPROJECT = '''\
[build-system]
requires = ["setuptools"]

[tool.migmerge]
mainline = "origin/develop"
source_roots = [".", "src"]
exclude = ["vendor/**", "**/0001_legacy.py"]
allow_mixed_data = ["shop/migrations/0005_*.py"]
rollback_command = ["./manage.py", "migrate", "{app}", "{target}"]
data_operations_block = true

[tool.migmerge.app_labels]
"./src/blog/" = "weblog"
shop = "store"

[tool.migmerge.migration_modules]
blog = "blog.db_migrations"
legacy = ""

[tool.migmerge.swappable]
AUTH_USER_MODEL = "accounts.User"
TEAM_MODEL = "teams.Team"
'''

SETUP_CFG = '''\
[metadata]
name = example

[migmerge]
mainline = origin/develop
source_roots = ., src
exclude =
    vendor/**
    **/0001_legacy.py
allow_mixed_data = shop/migrations/0005_*.py
rollback_command = ./manage.py migrate {app} {target}
data_operations_block = yes
app_labels =
    src/blog = weblog
    shop = store
migration_modules =
    blog = blog.db_migrations
    legacy =
swappable =
    AUTH_USER_MODEL = accounts.User
    TEAM_MODEL = teams.Team
'''


def test_pyproject_full() -> None:
    assert parse_pyproject(PYPROJECT, 'pyproject.toml') == FULL


def test_setup_cfg_full() -> None:
    assert parse_setup_cfg(SETUP_CFG, 'setup.cfg') == FULL


def test_no_section_gives_none() -> None:
    assert parse_pyproject('[tool.black]\nline-length = 79\n', 'p') is None
    assert parse_setup_cfg('[metadata]\nname = x\n', 's') is None


def test_defaults_and_swappable_merge() -> None:
    config = parse_pyproject(
        '[tool.migmerge.swappable]\nTEAM_MODEL = "t.Team"\n', 'p',
    )
    assert config is not None
    assert config.swappable == {**DEFAULT_SWAPPABLE, 'TEAM_MODEL': 't.Team'}
    assert config.rollback_command == Config().rollback_command
    assert parse_pyproject(
        '[tool.migmerge]\nrollback_command = "python manage.py migrate"\n', 'p',
    ) == Config(rollback_command=('python', 'manage.py', 'migrate'))


def test_load_config(tmp_path: Path) -> None:
    assert load_config(str(tmp_path)) == Config()
    (tmp_path / 'pyproject.toml').write_text(PYPROJECT)
    (tmp_path / 'setup.cfg').write_text('[metadata]\nname = x\n')
    assert load_config(str(tmp_path)) == FULL
    (tmp_path / 'pyproject.toml').write_text('[tool.black]\n')
    (tmp_path / 'setup.cfg').write_text(SETUP_CFG)
    assert load_config(str(tmp_path)) == FULL
    (tmp_path / 'pyproject.toml').write_text(PYPROJECT)
    with pytest.raises(MigmergeError) as excinfo:
        load_config(str(tmp_path))
    # Repo-relative, like every path migmerge prints.
    assert str(excinfo.value) == (
        'setup.cfg:4: migmerge is configured in both pyproject.toml and '
        'setup.cfg; keep one'
    )


@pytest.mark.parametrize(
    ('text', 'expected'),
    (
        (
            '[tool.migmerge]\nmainline = "x"\nmainlnie = "y"\n',
            "pyproject.toml:3: unknown setting 'mainlnie' in [tool.migmerge]",
        ),
        (
            '[tool.migmerge]\nexclude = "vendor"\n',
            'pyproject.toml:2: exclude must be a list of strings',
        ),
        (
            '[tool.migmerge]\ndata_operations_block = "yes"\n',
            'pyproject.toml:2: data_operations_block must be true or false',
        ),
        (
            '[tool.migmerge]\n\n[tool.migmerge.app_labels]\nblog = "my-blog"\n',
            "pyproject.toml:3: app_labels: label 'my-blog' for 'blog' is not "
            'a Python identifier',
        ),
        (
            '[tool.migmerge]\nmigration_modules = { blog = "a..b" }\n',
            "pyproject.toml:2: migration_modules: 'a..b' is not a dotted "
            'module name',
        ),
        (
            '[tool.migmerge.swappable]\nAUTH_USER_MODEL = "User"\n',
            "pyproject.toml:1: swappable: AUTH_USER_MODEL = 'User' is not of "
            "the form 'app_label.ModelName'",
        ),
        (
            '[tool.migmerge]\nsource_roots = [1]\n',
            'pyproject.toml:2: source_roots must be a list of strings',
        ),
        (
            '[tool.migmerge]\nrollback_command = []\n',
            'pyproject.toml:2: rollback_command must not be empty',
        ),
        (
            '[tool]\nmigmerge = 1\n',
            'pyproject.toml:1: [tool.migmerge] must be a table',
        ),
        (
            '[tool.migmerge]\nmainline = \n',
            'pyproject.toml:2: invalid TOML: Invalid value (at line 2, '
            'column 12)',
        ),
    ),
)
def test_bad_pyproject(text: str, expected: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        parse_pyproject(text, 'pyproject.toml')
    assert str(excinfo.value) == expected


@pytest.mark.parametrize(
    ('text', 'expected'),
    (
        (
            '[migmerge]\nexclud = x\n',
            "setup.cfg:2: unknown setting 'exclud' in [migmerge]",
        ),
        (
            '[migmerge]\nmainline = x\napp_labels =\n    blog weblog\n',
            'setup.cfg:3: app_labels: expected "key = value", got '
            "'blog weblog'",
        ),
        (
            '[migmerge]\ndata_operations_block = maybe\n',
            "setup.cfg:2: data_operations_block must be true or false, got "
            "'maybe'",
        ),
        (
            '[migmerge]\nrollback_command = python "unclosed\n',
            'setup.cfg:2: rollback_command: No closing quotation',
        ),
        (
            '[migmerge]\nmainline = a\nmainline = b\n',
            "setup.cfg:3: invalid setup.cfg: While reading from 'setup.cfg' "
            "[line  3]: option 'mainline' in section 'migmerge' already "
            'exists',
        ),
    ),
)
def test_bad_setup_cfg(text: str, expected: str) -> None:
    with pytest.raises(MigmergeError) as excinfo:
        parse_setup_cfg(text, 'setup.cfg')
    assert str(excinfo.value) == expected
