"""User configuration: ``[tool.migmerge]`` in pyproject.toml or
``[migmerge]`` in setup.cfg at the repository top.

The record is immutable; ``load_config`` reads it (see README, Configuration).
"""
from __future__ import annotations

import dataclasses
import os
import posixpath
import re
import sys
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from mergedriver.errors import MigmergeError
from mergedriver.files import read_file

if sys.version_info >= (3, 11):  # pragma: >=3.11 cover
    def _toml_loads(text: str) -> dict[str, Any]:
        import tomllib  # only when there is a pyproject.toml

        return tomllib.loads(text)
else:  # pragma: <3.11 cover
    def _toml_loads(text: str) -> dict[str, Any]:
        try:
            import tomli
        except ImportError:
            raise MigmergeError(
                'reading pyproject.toml on Python 3.10 needs tomli '
                '(pip install tomli)',
            )
        data: dict[str, Any] = tomli.loads(text)
        return data


def _split(value: str) -> list[str]:
    import shlex  # only for a configured command

    return shlex.split(value)


DEFAULT_SWAPPABLE: Mapping[str, str] = {'AUTH_USER_MODEL': 'auth.User'}
# --skip-checks: the command runs while migmerge has the other branch's
# migration files set aside, and a project's checks that read them (like
# django-linear-migrations' lock-file check) would fail on that state.
DEFAULT_ROLLBACK_COMMAND = (
    'python', 'manage.py', 'migrate', '--skip-checks', '{app}', '{target}',
)
# Which migrations the development database applied, asked before renaming
# (mergedriver/resolution/database.py); an argv element ``{apps}`` becomes
# one element per app.  --skip-checks for the same reason as above.
DEFAULT_SHOWMIGRATIONS_COMMAND = (
    'python', 'manage.py', 'showmigrations', '--skip-checks', '--list',
    '{apps}',
)
DEFAULT_SHOWMIGRATIONS_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class Config:
    # Ref whose history is "published" (docs/design.md, "Rules that must
    # always hold"); None: origin/HEAD,
    # else main, else master.
    mainline: str | None = None
    # App directory (repo-relative, posix) -> app label, for apps whose label
    # cannot be read from apps.py.
    app_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Like Django's MIGRATION_MODULES: app label -> dotted module of its
    # migrations package, relative to one of ``source_roots``.
    migration_modules: Mapping[str, str] = dataclasses.field(
        default_factory=dict,
    )
    # Directories (repo-relative) that are on sys.path in the project.
    source_roots: tuple[str, ...] = ('.',)
    # Setting name -> value, for swappable_dependency(settings.X).
    swappable: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_SWAPPABLE),
    )
    # Repo-relative glob patterns of paths never treated as migrations.
    exclude: tuple[str, ...] = ()
    # argv run per app to roll a developer database back; {app} {target}.
    rollback_command: tuple[str, ...] = DEFAULT_ROLLBACK_COMMAND
    # argv that lists the migrations applied in the development database,
    # in ``showmigrations --list`` form; {apps}.
    showmigrations_command: tuple[str, ...] = DEFAULT_SHOWMIGRATIONS_COMMAND
    # Seconds showmigrations_command may take before it counts as failed.
    showmigrations_timeout: float = DEFAULT_SHOWMIGRATIONS_TIMEOUT
    # Repo-relative globs of migrations allowed to mix data and schema.
    allow_mixed_data: tuple[str, ...] = ()
    # Whether data operations on a branch block automatic resolution.
    data_operations_block: bool = False
    # Both branches altering a field only in attributes Django keeps out of
    # the database: 'merge' (with a review line) or 'flag' (a collision).
    state_only_collisions: str = 'merge'


# ---------------------------------------------------------------- loading

# The keys each value type accepts; anything else is a typo worth an error.
_STRING_KEYS = ('mainline', 'state_only_collisions')
# String settings that take one of a few values.
_CHOICES = {'state_only_collisions': ('merge', 'flag')}

_LIST_KEYS = ('source_roots', 'exclude', 'allow_mixed_data')
_MAPPING_KEYS = ('app_labels', 'migration_modules', 'swappable')
_ARGV_KEYS = ('rollback_command', 'showmigrations_command')
_BOOL_KEYS = ('data_operations_block',)
_SECONDS_KEYS = ('showmigrations_timeout',)
KNOWN_KEYS = frozenset(
    _STRING_KEYS + _LIST_KEYS + _MAPPING_KEYS + _ARGV_KEYS + _BOOL_KEYS +
    _SECONDS_KEYS,
)
_CFG_TRUE = frozenset(('1', 'yes', 'true', 'on'))
_CFG_FALSE = frozenset(('0', 'no', 'false', 'off'))


def _choice_error(key: str, value: str) -> str | None:
    choices = _CHOICES.get(key)
    if choices is None or value in choices:
        return None
    return f'{key} must be one of {", ".join(choices)}, got {value!r}'


def _seconds(value: object) -> float | None:
    """A positive finite number of seconds, from TOML or setup.cfg text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    return seconds if 0 < seconds < float('inf') else None


def _key_line(text: str, key: str, *, section: str) -> int | None:
    """The line of ``key`` (or of a ``[section.key]`` table) after the
    ``[section`` header, for error messages; None when not found."""
    in_section = False
    key_re = re.compile(
        rf'''^\s*(?:["']?{re.escape(key)}["']?\s*[=:]'''
        rf'''|\[\s*{re.escape(section)}\.{re.escape(key)}\s*\])''',
    )
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith('['):
            if stripped.startswith(f'[{section}.{key}]'):
                return lineno
            in_section = stripped.startswith(f'[{section}]') or (
                stripped.startswith(f'[{section}.')
            )
        elif in_section and key_re.match(line):
            return lineno
    return None


def _section_line(text: str, section: str) -> int | None:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(f'[{section}'):
            return lineno
    return None


def _clean_dir(value: str) -> str:
    """``./src/app/`` -> ``src/app``; ``.`` -> ``.``."""
    parts = [
        p for p in value.replace('\\', '/').split('/') if p not in ('', '.')
    ]
    return '/'.join(parts) or '.'


def _escapes(value: str) -> bool:
    """Whether a repo-relative directory setting points outside the
    repository (absolute, or up through ``..``): migmerge reads and writes
    only inside the work tree."""
    path = value.replace('\\', '/')
    if path.startswith('/') or re.match(r'[A-Za-z]:', path):
        return True
    normal = posixpath.normpath(path)
    return normal == '..' or normal.startswith('../')


def _outside_message(key: str, value: str) -> str:
    return (
        f'{key}: {value!r} is outside the repository; migmerge reads and '
        f'writes only inside the work tree'
    )


def _check_dirs(key: str, values: Sequence[str]) -> str | None:
    for value in values:
        if _escapes(value):
            return _outside_message(key, value)
    return None


def _check_mapping_values(key: str, mapping: dict[str, str]) -> str | None:
    """A message when a mapping's entries cannot be right, else None."""
    if key == 'app_labels':
        message = _check_dirs(key, list(mapping))
        if message is not None:
            return message
    for k, v in mapping.items():
        if key == 'app_labels' and not v.isidentifier():
            return (
                f'app_labels: label {v!r} for {k!r} is not a Python '
                f'identifier'
            )
        if key == 'migration_modules':
            if not k.isidentifier():
                return (
                    f'migration_modules: app label {k!r} is not a Python '
                    f'identifier'
                )
            if v and not all(p.isidentifier() for p in v.split('.')):
                return f'migration_modules: {v!r} is not a dotted module name'
        if key == 'swappable' and v.count('.') != 1:
            return (
                f'swappable: {k} = {v!r} is not of the form '
                f"'app_label.ModelName'"
            )
    return None


def _build(values: dict[str, object]) -> Config:
    kwargs: dict[str, object] = dict(values)
    if 'app_labels' in values:
        labels = values['app_labels']
        assert isinstance(labels, dict)
        kwargs['app_labels'] = {_clean_dir(k): v for k, v in labels.items()}
    if 'source_roots' in values:
        roots = values['source_roots']
        assert isinstance(roots, tuple)
        kwargs['source_roots'] = tuple(_clean_dir(r) for r in roots)
    if 'swappable' in values:
        swappable = values['swappable']
        assert isinstance(swappable, dict)
        kwargs['swappable'] = {**DEFAULT_SWAPPABLE, **swappable}
    return Config(**kwargs)  # type: ignore[arg-type]


def parse_pyproject(text: str, path: str) -> Config | None:
    """``[tool.migmerge]`` of a pyproject.toml; None when there is none."""
    try:
        data = _toml_loads(text)
    except ValueError as e:  # TOMLDecodeError is a ValueError
        match = re.search(r'at line (\d+)', str(e))
        line = int(match[1]) if match else None
        raise MigmergeError(f'invalid TOML: {e}', path=path, line=line)
    tool = data.get('tool', {})
    section = tool.get('migmerge') if isinstance(tool, dict) else None
    if section is None:
        return None
    if not isinstance(section, dict):
        raise MigmergeError(
            '[tool.migmerge] must be a table', path=path,
            line=_section_line(text, 'tool.migmerge'),
        )
    values: dict[str, object] = {}
    for key, value in section.items():
        def fail(message: str) -> MigmergeError:
            line = _key_line(text, key, section='tool.migmerge')
            return MigmergeError(message, path=path, line=line)

        if key not in KNOWN_KEYS:
            raise fail(f'unknown setting {key!r} in [tool.migmerge]')
        elif key in _STRING_KEYS:
            if not isinstance(value, str):
                raise fail(f'{key} must be a string')
            message = _choice_error(key, value)
            if message is not None:
                raise fail(message)
            values[key] = value
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise fail(f'{key} must be true or false')
            values[key] = value
        elif key in _SECONDS_KEYS:
            seconds = _seconds(value)
            if seconds is None:
                raise fail(f'{key} must be a positive number of seconds')
            values[key] = seconds
        elif key in _LIST_KEYS or key in _ARGV_KEYS:
            if key in _ARGV_KEYS and isinstance(value, str):
                value = _split(value)
            if not (
                    isinstance(value, list) and
                    all(isinstance(v, str) for v in value)
            ):
                raise fail(f'{key} must be a list of strings')
            if key in _ARGV_KEYS and not value:
                raise fail(f'{key} must not be empty')
            if key == 'source_roots':
                message = _check_dirs(key, value)
                if message is not None:
                    raise fail(message)
            values[key] = tuple(value)
        else:
            if not (
                    isinstance(value, dict) and
                    all(isinstance(v, str) for v in value.values())
            ):
                raise fail(f'{key} must be a table of strings')
            message = _check_mapping_values(key, value)
            if message is not None:
                raise fail(message)
            values[key] = dict(value)
    return _build(values)


def _cfg_list(value: str) -> tuple[str, ...]:
    """One item per line; items on one line may be separated by commas."""
    items: list[str] = []
    for line in value.splitlines():
        items.extend(p.strip() for p in line.split(','))
    return tuple(item for item in items if item)


def _cfg_mapping(value: str) -> dict[str, str] | str:
    """``key = value`` per line; a message string when a line is not."""
    mapping = {}
    for line in value.splitlines():
        if not line.strip():
            continue
        key, sep, val = line.partition('=')
        if not sep or not key.strip():
            return f'expected "key = value", got {line.strip()!r}'
        mapping[key.strip()] = val.strip()
    return mapping


def parse_setup_cfg(text: str, path: str) -> Config | None:
    """``[migmerge]`` of a setup.cfg; None when there is none."""
    import configparser  # only when there is a setup.cfg

    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=path)
    except configparser.Error as e:
        line = getattr(e, 'lineno', None)
        first_line = str(e).splitlines()[0]
        raise MigmergeError(
            f'invalid setup.cfg: {first_line}', path=path, line=line,
        )
    if not parser.has_section('migmerge'):
        return None
    values: dict[str, object] = {}
    for key, raw_value in parser.items('migmerge'):
        def fail(message: str) -> MigmergeError:
            line = _key_line(text, key, section='migmerge')
            return MigmergeError(message, path=path, line=line)

        value = (raw_value or '').strip()
        if key not in KNOWN_KEYS:
            raise fail(f'unknown setting {key!r} in [migmerge]')
        elif key in _STRING_KEYS:
            message = _choice_error(key, value)
            if message is not None:
                raise fail(message)
            values[key] = value
        elif key in _SECONDS_KEYS:
            seconds = _seconds(value)
            if seconds is None:
                raise fail(f'{key} must be a positive number of seconds')
            values[key] = seconds
        elif key in _BOOL_KEYS:
            if value.lower() in _CFG_TRUE:
                values[key] = True
            elif value.lower() in _CFG_FALSE:
                values[key] = False
            else:
                raise fail(f'{key} must be true or false, got {value!r}')
        elif key in _LIST_KEYS:
            items = _cfg_list(value)
            if key == 'source_roots':
                message = _check_dirs(key, items)
                if message is not None:
                    raise fail(message)
            values[key] = items
        elif key in _ARGV_KEYS:
            try:
                argv = tuple(_split(value))
            except ValueError as e:
                raise fail(f'{key}: {e}')
            if not argv:
                raise fail(f'{key} must not be empty')
            values[key] = argv
        else:
            mapping = _cfg_mapping(value)
            if isinstance(mapping, str):
                raise fail(f'{key}: {mapping}')
            message = _check_mapping_values(key, mapping)
            if message is not None:
                raise fail(message)
            values[key] = mapping
    return _build(values)


def _read_text(path: str, shown: str) -> str | None:
    try:
        # the guarded reader: no symlinks, regular files, a size limit
        data = read_file(path, path=shown)
    except FileNotFoundError:
        return None
    try:
        # universal newlines, as open() in text mode reads them
        return data.decode('utf-8').replace('\r\n', '\n').replace('\r', '\n')
    except UnicodeDecodeError as e:
        raise MigmergeError(f'cannot read configuration: {e}', path=shown)


def load_config(repo_dir: str) -> Config:
    """The configuration at the top of ``repo_dir``; defaults when none.

    ``[tool.migmerge]`` in pyproject.toml or ``[migmerge]`` in setup.cfg;
    having both is an error rather than a silent choice.
    """
    pyproject = os.path.join(repo_dir, 'pyproject.toml')
    setup_cfg = os.path.join(repo_dir, 'setup.cfg')
    pyproject_text = _read_text(pyproject, 'pyproject.toml')
    setup_cfg_text = _read_text(setup_cfg, 'setup.cfg')
    config, found = _from_texts(pyproject_text, setup_cfg_text)
    if found is not None:
        _check_inside(repo_dir, config, *found)
    return config


def config_from_texts(
        pyproject_text: str | None, setup_cfg_text: str | None,
) -> Config:
    """:func:`load_config` from the two files' texts (None: no such file),
    for a configuration read from a commit rather than the work tree
    (there is no disk for symbolic links to lead out of)."""
    return _from_texts(pyproject_text, setup_cfg_text)[0]


def _from_texts(
        pyproject_text: str | None, setup_cfg_text: str | None,
) -> tuple[Config, tuple[str, str, str] | None]:
    """The configuration and where it came from (file, text, section)."""
    # Errors name the files repo-relative, like every path migmerge prints.
    from_toml = (
        None if pyproject_text is None
        else parse_pyproject(pyproject_text, 'pyproject.toml')
    )
    from_cfg = (
        None if setup_cfg_text is None
        else parse_setup_cfg(setup_cfg_text, 'setup.cfg')
    )
    if from_toml is not None and from_cfg is not None:
        assert setup_cfg_text is not None
        raise MigmergeError(
            'migmerge is configured in both pyproject.toml and setup.cfg; '
            'keep one',
            path='setup.cfg', line=_section_line(setup_cfg_text, 'migmerge'),
        )
    if from_toml is not None:
        assert pyproject_text is not None
        return from_toml, ('pyproject.toml', pyproject_text, 'tool.migmerge')
    if from_cfg is not None:
        assert setup_cfg_text is not None
        return from_cfg, ('setup.cfg', setup_cfg_text, 'migmerge')
    return Config(), None


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _check_inside(
        repo_dir: str, config: Config, path: str, text: str, section: str,
) -> None:
    """The configured directories as they are on disk: one that resolves
    outside the work tree (through a symbolic link) is an error, like
    ``../`` in the setting itself."""
    top = os.path.realpath(repo_dir)

    def check(key: str, rel: str, shown: str) -> None:
        full = os.path.join(top, *rel.split('/'))
        if os.path.lexists(full) and not _inside(os.path.realpath(full), top):
            raise MigmergeError(
                _outside_message(key, shown) + ' (through a symbolic link)',
                path=path, line=_key_line(text, key, section=section),
            )

    for root in config.source_roots:
        check('source_roots', root, root)
    for app_dir in config.app_labels:
        check('app_labels', app_dir, app_dir)
    for module in config.migration_modules.values():
        for root in config.source_roots if module else ():
            rel = posixpath.join(root, *module.split('.'))
            check('migration_modules', posixpath.normpath(rel), module)
