from __future__ import annotations

import pytest

from mergedriver.resolution.rewrite import Change
from mergedriver.resolution.rewrite import Refused
from mergedriver.resolution.rewrite import rename_references
from mergedriver.resolution.rewrite import retarget_dependency
from mergedriver.resolution.rewrite import RewriteResult
from mergedriver.resolution.rewrite import Rewritten
from mergedriver.resolution.rewrite import Unchanged

RENAMES = {
    ('shop', '0003_userprofile_age'): '0004_userprofile_age',
    ('shop', '0004_userprofile_age_index'): '0005_userprofile_age_index',
}


def _code(result: RewriteResult) -> str:
    assert isinstance(result, Rewritten), result
    return result.code


def _check_rename(before: str, after: str) -> None:
    assert _code(rename_references(before, RENAMES)) == after
    # Idempotence: the second run finds nothing left to rename.
    assert rename_references(after, RENAMES) == Unchanged()


RENAME_CASES = {
    'list': (
        'from django.db import migrations\n'
        '\n'
        '\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        "        ('shop', '0003_userprofile_age'),\n"
        "        ('auth', '0012_alter_user_first_name_max_length'),\n"
        '    ]\n'
        '    operations = []\n',
        'from django.db import migrations\n'
        '\n'
        '\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        "        ('shop', '0004_userprofile_age'),\n"
        "        ('auth', '0012_alter_user_first_name_max_length'),\n"
        '    ]\n'
        '    operations = []\n',
    ),
    'tuple, double quotes, one line, no trailing comma': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = (("shop", "0003_userprofile_age"))\n',
        'class Migration(migrations.Migration):\n'
        '    dependencies = (("shop", "0004_userprofile_age"))\n',
    ),
    'tuple of tuples with trailing commas': (
        'class Migration(migrations.Migration):\n'
        "    dependencies = (('shop', '0003_userprofile_age'),)\n"
        "    run_before = (('other', '0001_initial'),)\n",
        'class Migration(migrations.Migration):\n'
        "    dependencies = (('shop', '0004_userprofile_age'),)\n"
        "    run_before = (('other', '0001_initial'),)\n",
    ),
    'swappable, __first__ and comments in the list': (
        'from django.conf import settings\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = [  # parents\n'
        '        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n'
        "        # the age field comes first\n"
        "        ('shop',   '0003_userprofile_age'),  # keep me\n"
        "        ('shop', '__first__'),\n"
        "        (\n"
        "            'billing',  # app\n"
        "            '0002_x',\n"
        "        ),\n"
        '    ]\n',
        'from django.conf import settings\n'
        'class Migration(migrations.Migration):\n'
        '    dependencies = [  # parents\n'
        '        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n'
        "        # the age field comes first\n"
        "        ('shop',   '0004_userprofile_age'),  # keep me\n"
        "        ('shop', '__first__'),\n"
        "        (\n"
        "            'billing',  # app\n"
        "            '0002_x',\n"
        "        ),\n"
        '    ]\n',
    ),
    'multi-line entry, prefixes kept': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        '        (\n'
        "            u'shop',\n"
        "            r'0003_userprofile_age'\n"
        '        )\n'
        '    ]\n',
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        '        (\n'
        "            u'shop',\n"
        "            r'0004_userprofile_age'\n"
        '        )\n'
        '    ]\n',
    ),
    'triple quotes': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = [("shop", """0003_userprofile_age""")]\n',
        'class Migration(migrations.Migration):\n'
        '    dependencies = [("shop", """0004_userprofile_age""")]\n',
    ),
    'run_before and replaces, a chain of two': (
        'class Migration(migrations.Migration):\n'
        '    replaces = [\n'
        "        ('shop', '0003_userprofile_age'),\n"
        "        ('shop', '0004_userprofile_age_index'),\n"
        '    ]\n'
        "    run_before = [('shop', '0004_userprofile_age_index')]\n",
        'class Migration(migrations.Migration):\n'
        '    replaces = [\n'
        "        ('shop', '0004_userprofile_age'),\n"
        "        ('shop', '0005_userprofile_age_index'),\n"
        '    ]\n'
        "    run_before = [('shop', '0005_userprofile_age_index')]\n",
    ),
    'module-level list, concatenation, constant for the app': (
        "APP = 'shop'\n"
        'BASE = [\n'
        "    (APP, '0003_userprofile_age'),  # moved\n"
        ']\n'
        'EXTRA = [(APP, "0004_userprofile_age_index")]\n'
        'class Migration(migrations.Migration):\n'
        "    dependencies = BASE + [('other', '0001_initial')] + EXTRA\n",
        "APP = 'shop'\n"
        'BASE = [\n'
        "    (APP, '0004_userprofile_age'),  # moved\n"
        ']\n'
        'EXTRA = [(APP, "0005_userprofile_age_index")]\n'
        'class Migration(migrations.Migration):\n'
        "    dependencies = BASE + [('other', '0001_initial')] + EXTRA\n",
    ),
    'module-level name for the migration': (
        "PARENT = '0003_userprofile_age'\n"
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', PARENT)]\n",
        "PARENT = '0004_userprofile_age'\n"
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', PARENT)]\n",
    ),
    'annotated and augmented assignments': (
        'class Migration(migrations.Migration):\n'
        "    dependencies: list[tuple[str, str]] = [('other', '0001_x')]\n"
        "    dependencies += [('shop', '0003_userprofile_age')]\n",
        'class Migration(migrations.Migration):\n'
        "    dependencies: list[tuple[str, str]] = [('other', '0001_x')]\n"
        "    dependencies += [('shop', '0004_userprofile_age')]\n",
    ),
    'conditional dependencies': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = (\n'
        "        [('shop', '0003_userprofile_age')]\n"
        '        if settings.X\n'
        "        else list([('shop', '0004_userprofile_age_index')])\n"
        '    )\n',
        'class Migration(migrations.Migration):\n'
        '    dependencies = (\n'
        "        [('shop', '0004_userprofile_age')]\n"
        '        if settings.X\n'
        "        else list([('shop', '0005_userprofile_age_index')])\n"
        '    )\n',
    ),
}


@pytest.mark.parametrize(
    ('before', 'after'), RENAME_CASES.values(), ids=RENAME_CASES.keys(),
)
def test_rename_references(before: str, after: str) -> None:
    _check_rename(before, after)


def test_rename_reports_changes_with_lines() -> None:
    before = RENAME_CASES['run_before and replaces, a chain of two'][0]
    result = rename_references(before, RENAMES)
    assert isinstance(result, Rewritten)
    assert result.changes == (
        Change(3, '0003_userprofile_age', '0004_userprofile_age'),
        Change(4, '0004_userprofile_age_index', '0005_userprofile_age_index'),
        Change(6, '0004_userprofile_age_index', '0005_userprofile_age_index'),
    )


def test_rename_is_simultaneous_for_overlapping_names() -> None:
    # 0004_alter_x -> 0005_alter_x while 0005_alter_x -> 0006_alter_x: each
    # literal is renamed once, from the original text.
    renames = {
        ('a', '0004_alter_x'): '0005_alter_x',
        ('a', '0005_alter_x'): '0006_alter_x',
    }
    before = (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('a', '0004_alter_x'), ('a', '0005_alter_x')]\n"
    )
    assert _code(rename_references(before, renames)) == (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('a', '0005_alter_x'), ('a', '0006_alter_x')]\n"
    )


UNCHANGED_CASES = {
    'other app of the same name': (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('billing', '0003_userprofile_age')]\n"
    ),
    'strings outside the edge lists': (
        "NOTE = '0003_userprofile_age'\n"
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', '0002_x')]\n"
        '    operations = [\n'
        "        migrations.RunSQL('-- 0003_userprofile_age'),\n"
        "        migrations.AlterModelOptions('x', {'a': ('shop', '0003_userprofile_age')}),\n"
        '    ]\n'
    ),
    'another class': (
        'class NotMigration:\n'
        "    dependencies = [('shop', '0003_userprofile_age')]\n"
    ),
    'swappable only': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        '        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n'
        '    ]\n'
    ),
    'no migration class at all': 'x = 1\n',
}


@pytest.mark.parametrize(
    'code', UNCHANGED_CASES.values(), ids=UNCHANGED_CASES.keys(),
)
def test_rename_unchanged(code: str) -> None:
    assert rename_references(code, RENAMES) == Unchanged()


def test_rename_first_is_left_alone_even_if_mapped() -> None:
    code = (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', '__first__')]\n"
    )
    assert rename_references(code, {('shop', '__first__'): 'x'}) == (
        Unchanged()
    )


def test_rename_refuses_syntax_error() -> None:
    result = rename_references('x = 1\nclass Migration(:\n', RENAMES)
    assert isinstance(result, Refused)
    assert result.line == 2
    assert 'cannot parse' in result.reason


def test_rename_refuses_implicit_concatenation() -> None:
    code = (
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        "        ('shop', '0003_'\n"
        "                 'userprofile_age'),\n"
        '    ]\n'
    )
    result = rename_references(code, RENAMES)
    assert isinstance(result, Refused)
    assert result.line == 3
    assert 'concatenation' in result.reason


def test_rename_refuses_shared_name_with_different_targets() -> None:
    code = (
        "NAME = '0003_userprofile_age'\n"
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', NAME), ('billing', NAME)]\n"
    )
    result = rename_references(code, RENAMES)
    assert result == Refused(
        "'0003_userprofile_age' is defined once and used by entries that "
        "need different names ('0004_userprofile_age', "
        "'0003_userprofile_age')",
        1,
    )


RETARGET_CASES = {
    'swap one, keep others and comments': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        '        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n'
        "        ('shop', '0002_userprofile'),  # parent\n"
        "        ('billing', '0002_userprofile'),\n"
        '    ]\n'
        '    operations = []\n',
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        '        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n'
        "        ('shop', '0003_userprofile_address'),  # parent\n"
        "        ('billing', '0002_userprofile'),\n"
        '    ]\n'
        '    operations = []\n',
    ),
    'tuple form, double quotes': (
        'class Migration(migrations.Migration):\n'
        '    dependencies = (("shop", "0002_userprofile"),)\n',
        'class Migration(migrations.Migration):\n'
        '    dependencies = (("shop", "0003_userprofile_address"),)\n',
    ),
}


@pytest.mark.parametrize(
    ('before', 'after'), RETARGET_CASES.values(), ids=RETARGET_CASES.keys(),
)
def test_retarget_dependency(before: str, after: str) -> None:
    old = ('shop', '0002_userprofile')
    new = ('shop', '0003_userprofile_address')
    assert _code(retarget_dependency(before, old, new)) == after
    assert retarget_dependency(after, old, new) == Unchanged()


def test_retarget_only_touches_dependencies() -> None:
    before = (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', '0002_a')]\n"
        "    run_before = [('shop', '0002_a')]\n"
    )
    got = _code(retarget_dependency(before, ('shop', '0002_a'), ('shop', '0003_b')))
    assert got == (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', '0003_b')]\n"
        "    run_before = [('shop', '0002_a')]\n"
    )


def test_retarget_to_another_app() -> None:
    before = (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('shop', '0002_a')]\n"
    )
    got = retarget_dependency(before, ('shop', '0002_a'), ('core', '0007_b'))
    assert _code(got) == (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('core', '0007_b')]\n"
    )


@pytest.mark.parametrize(
    ('code', 'reason'),
    (
        (
            'class Migration(migrations.Migration):\n'
            "    dependencies = [('shop', '0001_initial')]\n",
            'do not list',
        ),
        (
            'class Migration(migrations.Migration):\n'
            "    dependencies = [\n"
            "        ('shop', '0002_userprofile'),\n"
            "        ('shop', '0003_userprofile_address'),\n"
            '    ]\n',
            'list both',
        ),
        ('x = 1\n', 'no Migration class'),
    ),
)
def test_retarget_refusals(code: str, reason: str) -> None:
    result = retarget_dependency(
        code, ('shop', '0002_userprofile'), ('shop', '0003_userprofile_address'),
    )
    assert isinstance(result, Refused)
    assert reason in result.reason


def test_retarget_refuses_app_from_shared_name() -> None:
    code = (
        "APP = 'shop'\n"
        'class Migration(migrations.Migration):\n'
        "    dependencies = [(APP, '0002_a'), (APP, '0001_b')]\n"
    )
    result = retarget_dependency(code, ('shop', '0002_a'), ('core', '0007_b'))
    assert isinstance(result, Refused)
    assert result.line == 3


@pytest.mark.parametrize(
    'prefix', ('', '\ufeff', '# -*- coding: utf-8 -*-\r\n'),
)
def test_rename_keeps_bom_and_line_endings(prefix: str) -> None:
    eol = '\r\n' if '\r' in prefix else '\n'
    before = (
        f'{prefix}class Migration(migrations.Migration):{eol}'
        f"\tdependencies = [('shop', '0003_userprofile_age')]{eol}"
    )
    after = before.replace('0003_', '0004_')
    _check_rename(before, after)


@pytest.mark.parametrize(
    'before',
    [b for b, _ in RENAME_CASES.values()],
    ids=list(RENAME_CASES),
)
def test_rename_there_and_back_is_byte_identical(before: str) -> None:
    back = {(app, new): old for (app, old), new in RENAMES.items()}
    there = _code(rename_references(before, RENAMES))
    assert _code(rename_references(there, back)) == before


@pytest.mark.parametrize(
    'entry', ("('shop', names.AGE)", "(app_label(), '0003_userprofile_age')"),
)
def test_rename_refuses_unreadable_entry_that_may_match(entry: str) -> None:
    code = (
        'class Migration(migrations.Migration):\n'
        '    dependencies = [\n'
        "        ('other', '0001_initial'),\n"
        f'        {entry},\n'
        '    ]\n'
    )
    result = rename_references(code, RENAMES)
    assert isinstance(result, Refused)
    assert result.line == 4


def test_rename_ignores_unreadable_entry_of_other_apps() -> None:
    code = (
        'class Migration(migrations.Migration):\n'
        "    dependencies = [('other', names.X)]\n"
    )
    assert rename_references(code, RENAMES) == Unchanged()
