"""migmerge install / uninstall in real clones: idempotent, reversible, next
to existing hooks, the pre-commit framework and core.hooksPath."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import mergedriver
from mergedriver.errors import MigmergeError
from mergedriver.integration import install as gitsetup
from testing.git import commit_all
from testing.git import git
from testing.git import make_repo
from testing.git import run_git
from testing.git import write

HOOKS = gitsetup.HOOK_NAMES


def snapshot(repo: Path) -> dict[str, object]:
    """Everything install may touch: local config, attributes, hooks."""
    hooks_dir = Path(gitsetup.locate(str(repo)).hooks_dir)
    files = {}
    if hooks_dir.is_dir():
        for path in sorted(hooks_dir.iterdir()):
            if not path.name.endswith('.sample'):
                files[path.name] = (path.read_bytes(), path.stat().st_mode)
    attributes = repo / '.gitattributes'
    info = repo / '.git/info/attributes'
    return {
        'config': git(repo, 'config', '--local', '--list'),
        'gitattributes': attributes.read_bytes() if attributes.exists() else None,
        'info': info.read_bytes() if info.exists() else None,
        'hooks': files,
    }


def executable(path: Path, text: str) -> Path:
    write(path, text)
    path.chmod(0o755)
    return path


@pytest.fixture
def repo(tmp_path: Path, git_home: Path) -> Path:
    repo = make_repo(tmp_path / 'repo')
    write(repo / 'README', 'hello\n')
    commit_all(repo, 'initial')
    return repo


def test_install_writes_config_attributes_and_hooks(repo: Path) -> None:
    gitsetup.install(str(repo))
    driver = git(repo, 'config', 'merge.migmerge.driver').strip()
    assert driver == gitsetup.driver_command()
    assert driver.endswith('-m mergedriver.driver.mergefile %O %A %B %P %L')
    assert git(repo, 'config', 'merge.migmerge.recursive').strip() == 'text'
    attributes = (repo / '.git/info/attributes').read_text()
    assert '**/migrations/max_migration.txt merge=migmerge\n' in attributes
    assert 'migrations_lockfile.txt merge=migmerge\n' in attributes
    assert '**/migrations/*.py merge=migmerge\n' in attributes
    check = git(
        repo, 'check-attr', 'merge', '--', 'app/migrations/0001_initial.py',
        'app/migrations/max_migration.txt', 'migrations_lockfile.txt',
        'app/models.py',
    )
    assert check.splitlines() == [
        'app/migrations/0001_initial.py: merge: migmerge',
        'app/migrations/max_migration.txt: merge: migmerge',
        'migrations_lockfile.txt: merge: migmerge',
        'app/models.py: merge: unspecified',
    ]
    for hook in HOOKS:
        path = repo / '.git/hooks' / hook
        assert gitsetup.is_our_hook(str(path))
        assert path.stat().st_mode & stat.S_IXUSR


def test_install_is_idempotent_and_uninstall_restores(repo: Path) -> None:
    write(repo / '.gitattributes', '*.png binary\n')
    before = snapshot(repo)
    gitsetup.install(str(repo))
    once = snapshot(repo)
    lines = gitsetup.install(str(repo))
    assert snapshot(repo) == once
    assert all('already installed' in line for line in lines), lines
    assert (repo / '.gitattributes').read_text().startswith('*.png binary\n')
    gitsetup.uninstall(str(repo))
    assert snapshot(repo) == before
    gitsetup.uninstall(str(repo))  # twice: nothing left to do, no error
    assert snapshot(repo) == before


def test_reinstall_rewrites_commands_of_an_older_install(repo: Path) -> None:
    """An older migmerge wrote ``python -m`` (the work tree on sys.path):
    those commands still work but say so, and `migmerge install` rewrites
    them isolated; uninstall still restores everything."""
    before = snapshot(repo)
    gitsetup.install(str(repo))
    current = snapshot(repo)
    hooks_dir = repo / '.git/hooks'
    driver = git(repo, 'config', 'merge.migmerge.driver').strip()
    git(repo, 'config', 'merge.migmerge.driver', driver.replace(' -I -m ', ' -m '))
    for hook in HOOKS:
        path = hooks_dir / hook
        path.write_text(path.read_text().replace(' -I -m ', ' -m '))
    proc = subprocess.run(
        (str(hooks_dir / 'pre-commit'),), cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 0
    assert proc.stderr == (
        "migmerge: this clone's hooks start Python with the work tree on "
        'sys.path; run `migmerge install` again\n'
    )
    lines = gitsetup.install(str(repo))
    assert 'git config merge.migmerge.driver' in lines
    assert {f'{hook}: updated' for hook in HOOKS} <= set(lines)
    assert snapshot(repo) == current
    proc = subprocess.run(
        (str(hooks_dir / 'pre-commit'),), cwd=repo, capture_output=True, text=True,
    )
    assert (proc.returncode, proc.stderr) == (0, '')
    gitsetup.uninstall(str(repo))
    assert snapshot(repo) == before


@pytest.mark.parametrize('attributes', [
    None, '', '*.png binary\n', '*.png binary', '*.png binary\r\n',
    '# only a comment, no final newline',
])
def test_uninstall_restores_attributes_byte_for_byte(
        repo: Path, attributes: str | None,
) -> None:
    path = repo / '.gitattributes'
    if attributes is not None:
        path.write_bytes(attributes.encode())
    before = snapshot(repo)
    gitsetup.install(str(repo), shared=True)
    installed = path.read_bytes()
    gitsetup.install(str(repo), shared=True)  # again: the same file
    assert path.read_bytes() == installed
    check = git(repo, 'check-attr', 'merge', '--', 'a/migrations/0001_x.py')
    assert check.endswith(': merge: migmerge\n')
    gitsetup.uninstall(str(repo))
    assert snapshot(repo) == before


def test_uninstall_keeps_lines_added_to_a_file_it_created(repo: Path) -> None:
    gitsetup.install(str(repo), shared=True)
    path = repo / '.gitattributes'
    path.write_text(path.read_text() + '*.png binary\n')
    gitsetup.uninstall(str(repo))
    assert path.read_text() == '*.png binary\n'


def test_attributes_are_the_clones_by_default(repo: Path) -> None:
    before = snapshot(repo)
    gitsetup.install(str(repo))
    assert not (repo / '.gitattributes').exists()
    assert 'merge=migmerge' in (repo / '.git/info/attributes').read_text()
    assert git(repo, 'status', '--porcelain') == ''
    gitsetup.uninstall(str(repo))
    assert snapshot(repo) == before


def test_existing_hook_is_chained_and_restored(repo: Path) -> None:
    log = repo.parent / 'log'
    user_hook = executable(
        repo / '.git/hooks/post-rewrite',
        f'#!/bin/sh\necho "args: $*" >> {log}\ncat >> {log}\n',
    )
    failing = executable(
        repo / '.git/hooks/pre-commit', '#!/bin/sh\necho no >&2\nexit 3\n',
    )
    before = snapshot(repo)
    gitsetup.install(str(repo))
    assert gitsetup.is_our_hook(str(user_hook))
    assert (repo / '.git/hooks/post-rewrite.migmerge-chained').exists()

    # pre-commit: the chained hook's failure stops the commit
    write(repo / 'README', 'changed\n')
    git(repo, 'add', 'README')
    proc = subprocess.run(
        ('git', 'commit', '-q', '-m', 'x'), cwd=repo, capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert 'no' in proc.stderr

    # post-rewrite: the chained hook gets the arguments and stdin
    failing.with_name('pre-commit.migmerge-chained').chmod(0o644)
    git(repo, 'commit', '-q', '-m', 'x')
    old = git(repo, 'rev-parse', 'HEAD').strip()
    git(repo, 'commit', '-q', '--amend', '-m', 'amended')
    new = git(repo, 'rev-parse', 'HEAD').strip()
    assert log.read_text() == f'args: amend\n{old} {new}\n'

    failing.with_name('pre-commit.migmerge-chained').chmod(0o755)
    gitsetup.uninstall(str(repo))
    assert snapshot(repo) == before


def test_refuses_when_chained_name_is_taken(repo: Path) -> None:
    executable(repo / '.git/hooks/pre-commit', '#!/bin/sh\n')
    executable(repo / '.git/hooks/pre-commit.migmerge-chained', '#!/bin/sh\n')
    with pytest.raises(MigmergeError, match='already exists'):
        gitsetup.install(str(repo))


@pytest.mark.parametrize('hooks_path', ('githooks', '.husky/hooks'))
def test_core_hooks_path(repo: Path, hooks_path: str) -> None:
    git(repo, 'config', 'core.hooksPath', hooks_path)
    user = executable(repo / hooks_path / 'pre-commit', '#!/bin/sh\nexit 0\n')
    gitsetup.install(str(repo / 'README').replace('README', ''))
    for hook in HOOKS:
        assert gitsetup.is_our_hook(str(repo / hooks_path / hook))
        assert not (repo / '.git/hooks' / hook).exists()
    assert (repo / hooks_path / 'pre-commit.migmerge-chained').exists()
    gitsetup.uninstall(str(repo))
    assert user.read_text() == '#!/bin/sh\nexit 0\n'
    assert sorted(p.name for p in (repo / hooks_path).iterdir()) == ['pre-commit']


def test_not_a_repository(tmp_path: Path, git_home: Path) -> None:
    with pytest.raises(MigmergeError, match='not a git work tree'):
        gitsetup.install(str(tmp_path))


# ---------------------------------------------- the pre-commit framework

PRE_COMMIT_CONFIG = '''\
repos:
-   repo: local
    hooks:
    -   id: framework-ran
        name: framework-ran
        entry: sh -c 'echo framework >> ../log'
        language: system
        always_run: true
        pass_filenames: false
'''


@pytest.fixture(scope='session')
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('pre-commit-home')


def pre_commit(repo: Path, home: Path, *args: str) -> None:
    subprocess.run(
        (sys.executable, '-m', 'pre_commit', *args), cwd=repo, check=True,
        capture_output=True, env={**os.environ, 'PRE_COMMIT_HOME': str(home)},
    )


def commit_runs(repo: Path, home: Path) -> list[str]:
    """Commit a change; what ran, in order (the chained hooks log)."""
    log = repo.parent / 'log'
    log.write_text('')
    write(repo / 'README', f'{os.urandom(4).hex()}\n')
    git(repo, 'add', 'README')
    subprocess.run(
        ('git', 'commit', '-q', '-m', 'x'), cwd=repo, check=True,
        env={**os.environ, 'PRE_COMMIT_HOME': str(home)},
    )
    return log.read_text().split()


@pytest.fixture
def framework_repo(repo: Path) -> Path:
    write(repo / '.pre-commit-config.yaml', PRE_COMMIT_CONFIG)
    commit_all(repo, 'pre-commit config')
    return repo


def test_pre_commit_framework_installed_first(
        framework_repo: Path, pre_commit_home: Path,
) -> None:
    repo = framework_repo
    pre_commit(repo, pre_commit_home, 'install')
    before = snapshot(repo)
    gitsetup.install(str(repo))
    assert gitsetup.is_pre_commit_framework_hook(
        str(repo / '.git/hooks/pre-commit.migmerge-chained'),
    )
    assert commit_runs(repo, pre_commit_home) == ['framework']
    gitsetup.uninstall(str(repo))
    assert snapshot(repo) == before
    assert commit_runs(repo, pre_commit_home) == ['framework']


def test_pre_commit_framework_installed_after(
        framework_repo: Path, pre_commit_home: Path,
) -> None:
    repo = framework_repo
    user = executable(
        repo / '.git/hooks/pre-commit', '#!/bin/sh\necho user >> ../log\n',
    )
    gitsetup.install(str(repo))
    # pre-commit moves our script to pre-commit.legacy and runs it first
    pre_commit(repo, pre_commit_home, 'install')
    assert gitsetup.is_our_hook(str(repo / '.git/hooks/pre-commit.legacy'))
    assert commit_runs(repo, pre_commit_home) == ['user', 'framework']
    gitsetup.install(str(repo))  # still idempotent in that layout
    assert gitsetup.is_pre_commit_framework_hook(str(user))
    assert commit_runs(repo, pre_commit_home) == ['user', 'framework']
    gitsetup.uninstall(str(repo))
    assert (repo / '.git/hooks/pre-commit.legacy').read_text() == (
        '#!/bin/sh\necho user >> ../log\n'
    )
    assert commit_runs(repo, pre_commit_home) == ['user', 'framework']
    pre_commit(repo, pre_commit_home, 'uninstall')
    assert user.read_text() == '#!/bin/sh\necho user >> ../log\n'


def test_pre_commit_framework_both_orders_no_double_run(
        framework_repo: Path, pre_commit_home: Path,
) -> None:
    repo = framework_repo
    pre_commit(repo, pre_commit_home, 'install')
    gitsetup.install(str(repo))
    pre_commit(repo, pre_commit_home, 'install')
    # framework -> ours (legacy) -> framework's old script: skipped
    assert commit_runs(repo, pre_commit_home) == ['framework']


def test_hook_without_migmerge_still_runs_the_chained_hook(
        repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = repo.parent / 'log'
    executable(repo / '.git/hooks/pre-commit', f'#!/bin/sh\necho chained >> {log}\n')
    gitsetup.install(str(repo), python=str(repo.parent / 'gone/bin/python'))
    git_dir = os.path.dirname(subprocess.run(
        ('sh', '-c', 'command -v git'), capture_output=True, text=True,
    ).stdout.strip())
    monkeypatch.setenv('PATH', os.pathsep.join((git_dir, '/usr/bin', '/bin')))
    write(repo / 'README', 'changed\n')
    git(repo, 'add', 'README')
    proc = subprocess.run(
        ('git', 'commit', '-q', '-m', 'x'), cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'migmerge: not found' in proc.stderr
    assert log.read_text() == 'chained\n'


def test_cli_install_uninstall(repo: Path) -> None:
    def migmerge(*args: str) -> str:
        return subprocess.run(
            (sys.executable, '-m', 'mergedriver', *args), cwd=repo,
            check=True, capture_output=True, text=True,
        ).stdout

    before = snapshot(repo)
    out = migmerge('install', '--shared')
    assert 'migmerge install: pre-merge-commit: installed\n' in out
    assert 'commit .gitattributes' in out
    assert 'commit .gitattributes' not in migmerge('install', '--shared')
    assert 'pre-commit: removed' in migmerge('uninstall')
    assert snapshot(repo) == before


@pytest.mark.parametrize('hooks_path', (None, 'githooks'))
def test_install_from_a_subdirectory(repo: Path, hooks_path: str | None) -> None:
    if hooks_path is not None:
        git(repo, 'config', 'core.hooksPath', hooks_path)
    sub = repo / 'a/b'
    sub.mkdir(parents=True)
    clone = gitsetup.locate(str(sub))
    assert clone.top == str(repo)
    assert clone.hooks_dir == str(repo / (hooks_path or '.git/hooks'))
    gitsetup.install(str(sub))
    assert gitsetup.is_our_hook(str(repo / (hooks_path or '.git/hooks') / 'pre-commit'))


def test_shared_hooks_path_is_pointed_out(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / 'shared-hooks'
    git(repo, 'config', 'core.hooksPath', str(shared))
    lines = gitsetup.install(str(repo))
    assert any('outside this clone' in line for line in lines)
    assert gitsetup.is_our_hook(str(shared / 'pre-commit'))
    git(repo, 'config', '--unset', 'core.hooksPath')
    assert not any('outside' in line for line in gitsetup.install(str(repo)))


# ------------------------------------------------------ hostile branches

# Top-level names a branch could add to hijack a Python started in the work
# tree: every standard-library module, migmerge's own packages and its
# dependencies.  Importing any of them writes a marker outside the repository.
HOSTILE_NAMES = tuple(sorted(
    set(sys.stdlib_module_names) - {'__future__'} | {
        'mergedriver', 'hooks', 'libcst', 'pygit2', 'tomli', 'yaml',
        'sitecustomize', 'usercustomize', '__future__',
    },
))
PACKAGES = ('mergedriver', 'hooks', 'libcst', 'pygit2')


def add_hostile_modules(repo: Path, marks: Path) -> None:
    for name in HOSTILE_NAMES:
        payload = f'open({str(marks / name)!r}, "w").close()\n'
        if name in PACKAGES:
            write(repo / name / '__init__.py', payload)
            write(repo / name / 'mergefile.py', payload)
            write(repo / name / 'githooks.py', payload)
        else:
            write(repo / f'{name}.py', payload)


def migration(name: str, parent: str, field: str) -> str:
    return (
        'from django.db import migrations, models\n\n\n'
        'class Migration(migrations.Migration):\n'
        f"    dependencies = [('shop', {parent!r})]\n"
        '    operations = [\n'
        f"        migrations.AddField('profile', {field!r}, "
        "models.TextField(default='')),\n"
        '    ]\n'
    )


def add_shop_migration(repo: Path, name: str, parent: str, field: str) -> None:
    write(repo / 'shop/migrations' / f'{name}.py', migration(name, parent, field))
    write(repo / 'shop/migrations/max_migration.txt', f'{name}\n')


def hostile_project(tmp_path: Path) -> tuple[Path, Path]:
    """main adds 0002_age; branch `hostile` adds 0002_address and a module
    for every name in HOSTILE_NAMES; migmerge installed."""
    marks = tmp_path / 'marks'
    marks.mkdir()
    repo = make_repo(tmp_path / 'repo')
    for path in ('shop/__init__.py', 'shop/models.py', 'shop/migrations/__init__.py'):
        write(repo / path, '')
    write(repo / 'shop/migrations/0001_initial.py', (
        'from django.db import migrations\n\n\n'
        'class Migration(migrations.Migration):\n'
        '    initial = True\n'
        '    dependencies = []\n'
        '    operations = []\n'
    ))
    write(repo / 'shop/migrations/max_migration.txt', '0001_initial\n')
    gitsetup.install(str(repo))
    commit_all(repo, 'initial')
    git(repo, 'checkout', '-q', '-b', 'hostile')
    add_hostile_modules(repo, marks)
    add_shop_migration(repo, '0002_address', '0001_initial', 'address')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--no-verify', '-m', 'hostile')
    git(repo, 'checkout', '-q', 'main')
    add_shop_migration(repo, '0002_age', '0001_initial', 'age')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--no-verify', '-m', 'age')
    return repo, marks


def run_git_unpythoned(
        repo: Path, *args: str,
) -> subprocess.CompletedProcess[str]:
    # Kept local: unlike testing.git.run_git it drops PYTHON* variables, as
    # PYTHONPATH and friends must not matter to what install wrote.
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    return run_git(repo, *args, env=env)


def test_hostile_branch_runs_nothing_on_merge_commit_rebase_cherry_pick(
        tmp_path: Path, git_home: Path,
) -> None:
    repo, marks = hostile_project(tmp_path)
    # rebase: the merge driver (max_migration.txt) and post-rewrite
    git(repo, 'branch', 'hostile-rebased', 'hostile')
    git(repo, 'checkout', '-q', 'hostile-rebased')
    proc = run_git_unpythoned(repo, 'rebase', 'main')
    assert proc.returncode == 0, proc.stderr
    assert 'migmerge: rewrote the 1 rebased commit' in proc.stderr
    assert (repo / 'shop/migrations/0003_address.py').exists()
    assert sorted(p.name for p in marks.iterdir()) == []
    # cherry-pick: the merge driver, outside a merge (git's text merge)
    git(repo, 'checkout', '-q', 'main')
    proc = run_git_unpythoned(repo, 'cherry-pick', 'hostile')
    assert proc.returncode != 0
    assert (repo / 'shop/migrations/max_migration.txt').read_text().startswith('<<<<<<< ')
    assert run_git_unpythoned(repo, 'cherry-pick', '--abort').returncode == 0
    assert sorted(p.name for p in marks.iterdir()) == []
    # merge: the driver and pre-merge-commit still stop two leaves
    proc = run_git_unpythoned(repo, 'merge', '--no-edit', 'hostile')
    assert proc.returncode != 0
    assert 'migmerge (pre-merge-commit): this merge leaves parallel migrations.' in proc.stderr
    assert 'wrote shop/migrations/0003_merge_0002_address_0002_age.py' in proc.stderr
    # commit: pre-commit concludes the merge
    proc = run_git_unpythoned(repo, 'commit', '--no-edit')
    assert proc.returncode == 0, proc.stderr
    assert git(repo, 'status', '--porcelain') == ''
    assert sorted(p.name for p in marks.iterdir()) == []
    # and in the merged work tree, the next commit's hook runs nothing
    write(repo / 'README', 'x\n')
    git(repo, 'add', 'README')
    assert run_git_unpythoned(repo, 'commit', '-q', '-m', 'more').returncode == 0
    assert sorted(p.name for p in marks.iterdir()) == []
    # The hostile work tree is live: what older installs wrote (``python
    # -m``, the work tree on sys.path) runs the branch's modules.
    subprocess.run(
        (sys.executable, '-m', 'mergedriver.githooks', 'pre-commit'),
        cwd=repo, capture_output=True,
    )
    assert 'mergedriver' in {p.name for p in marks.iterdir()}


def test_console_scripts_do_not_import_from_the_work_tree(
        tmp_path: Path, git_home: Path,
) -> None:
    """What the pre-commit framework runs: the console scripts of an
    install (here this environment's), started in the work tree."""
    repo, marks = hostile_project(tmp_path)
    git(repo, 'checkout', '-q', 'hostile')
    bin_dir = Path(sys.executable).parent
    scripts = sorted(bin_dir.glob('migmerge-*')) + [bin_dir / 'migmerge']
    assert len(scripts) == 6
    for script in scripts:
        args = ['check'] if script.name == 'migmerge' else []
        proc = subprocess.run(
            (str(script), *args), cwd=repo, capture_output=True, text=True,
        )
        assert proc.returncode in (0, 1), (script, proc.stderr)
    assert sorted(p.name for p in marks.iterdir()) == []


def test_user_site_install_still_isolated(tmp_path: Path, git_home: Path) -> None:
    """``pip install --user``: migmerge is importable only through the user
    site-packages, which ``-I`` drops.  The written commands name it, still
    isolated: the hooks run (and stop two leaves) without PYTHONUSERBASE,
    and run nothing of the branch."""
    import sysconfig

    base_python = getattr(sys, '_base_executable', sys.executable)
    user_base = tmp_path / 'userbase'
    version = f'python{sys.version_info[0]}.{sys.version_info[1]}'
    user_site = user_base / 'lib' / version / 'site-packages'
    checkout = Path(mergedriver.__file__).resolve().parent.parent
    # what an editable --user install leaves there: a .pth naming the code
    # (and, standing in for the dependencies, this environment's packages)
    write(user_site / 'migmerge-user.pth', (
        f'{checkout}\n{sysconfig.get_paths()["purelib"]}\n'
    ))
    repo, marks = hostile_project(tmp_path)
    for hook in HOOKS:
        (repo / '.git/hooks' / hook).unlink()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith('PYTHON')},
        'PYTHONUSERBASE': str(user_base),
    }
    isolated = subprocess.run(
        (base_python, '-I', '-c', 'import mergedriver'), env=env,
        capture_output=True,
    )
    assert isolated.returncode != 0  # not found without the user site
    proc = subprocess.run(
        (base_python, '-c', 'from mergedriver.cli import main; raise SystemExit(main(["install"]))'),
        cwd=repo, env=env,
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    driver = git(repo, 'config', 'merge.migmerge.driver')
    assert f'{base_python} -I -c ' in driver
    assert str(user_site) in driver
    proc = run_git_unpythoned(repo, 'merge', '--no-edit', 'hostile')
    assert proc.returncode != 0
    assert 'wrote shop/migrations/0003_merge_0002_address_0002_age.py' in proc.stderr
    assert run_git_unpythoned(repo, 'commit', '--no-edit').returncode == 0
    assert sorted(p.name for p in marks.iterdir()) == []
