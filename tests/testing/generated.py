"""Tiny Django projects with random migration graphs (hypothesis), as the
graph oracle and the per-app pieces tests write and read them."""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

from hypothesis import strategies as st

from mergedriver.parsing.reader import read_migration
from mergedriver.records import MigrationInfo


def read_directory(app: str, directory: Path) -> Iterator[MigrationInfo]:
    """Every module Django would load from a migrations package."""
    for path in sorted(directory.glob('*.py')):
        if path.stem[0] in '_~':
            continue
        yield read_migration(
            path.read_bytes(), app_label=app, name=path.stem, path=str(path),
        )


GENERATED_APPS = ('a', 'b', 'c', 'd')
SWAP_SETTING = 'MIGMERGE_SWAP_MODEL'
SWAP_VALUE = 'b.Thing'


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
