"""Migration modules and the records the parser makes of them."""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

from mergedriver.records import MigrationInfo
from testing.git import write

# the type of conftest.py's make_migration fixture
MakeMigration = Callable[..., MigrationInfo]


def migration_source(
        dependencies: Sequence[tuple[str, str]] = (),
        operations: str = '',
        *,
        extra: str = '',
        header: str = '',
) -> str:
    """A module shaped like what makemigrations writes."""
    deps = ''.join(f'        ({a!r}, {n!r}),\n' for a, n in dependencies)
    return (
        f'{header}from django.db import migrations, models\n'
        f'\n'
        f'\n'
        f'class Migration(migrations.Migration):\n'
        f'{extra}'
        f'    dependencies = [\n{deps}    ]\n'
        f'\n'
        f'    operations = [\n{operations}    ]\n'
    )


def add_migration(
        repo: Path,
        app: str,
        name: str,
        dependencies: Sequence[tuple[str, str]] = (),
        operations: str = '',
        **kwargs: str,
) -> Path:
    package = repo / app / 'migrations'
    # what discovery takes for a Django app: a package with models
    for path in (repo / app / '__init__.py', repo / app / 'models.py'):
        if not path.exists():
            write(path, '')
    if not (package / '__init__.py').exists():
        write(package / '__init__.py', '')
    return write(
        package / f'{name}.py',
        migration_source(dependencies, operations, **kwargs),
    )
