"""User configuration: ``[tool.migmerge]`` in pyproject.toml or
``[migmerge]`` in setup.cfg at the repository top.

The record is immutable; ``load_config`` reads it (see README, Configuration).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

DEFAULT_SWAPPABLE: Mapping[str, str] = {'AUTH_USER_MODEL': 'auth.User'}
DEFAULT_ROLLBACK_COMMAND = (
    'python', 'manage.py', 'migrate', '{app}', '{target}',
)


@dataclasses.dataclass(frozen=True)
class Config:
    # Ref whose history is "published" (DESIGN.md §4); None: origin/HEAD,
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
    # Repo-relative globs of migrations allowed to mix data and schema.
    allow_mixed_data: tuple[str, ...] = ()
    # Whether data operations on a branch block automatic resolution.
    data_operations_block: bool = False
