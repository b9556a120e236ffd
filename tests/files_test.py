from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mergedriver.files import write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(str(tmp_path / 'a.txt'), 'x\r\n')
    finally:
        os.umask(old)
    assert _mode(tmp_path / 'a.txt') == 0o640
    # line endings are the caller's
    assert (tmp_path / 'a.txt').read_bytes() == b'x\r\n'


def test_mode_of_like_or_explicit(tmp_path: Path) -> None:
    old = tmp_path / 'old.py'
    old.write_text('a')
    old.chmod(0o755)
    write_atomic(str(tmp_path / 'new.py'), b'b', like=str(old))
    assert _mode(tmp_path / 'new.py') == 0o755
    write_atomic(str(tmp_path / 'hook'), 'c', mode=0o700)
    assert _mode(tmp_path / 'hook') == 0o700


def test_a_failed_write_leaves_the_target_and_no_temporary(
        tmp_path: Path,
) -> None:
    target = tmp_path / 'keep.txt'
    target.write_text('before')
    with pytest.raises(FileNotFoundError):
        write_atomic(str(target), 'after', like=str(tmp_path / 'missing'))
    assert target.read_text() == 'before'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['keep.txt']
