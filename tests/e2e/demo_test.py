"""``migmerge demo`` (what ``make demo`` runs) tells its whole story and
exits 0 only when every step did what it shows."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MIGMERGE = os.path.join(os.path.dirname(sys.executable), 'migmerge')


def test_demo_runs_every_step(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM='1')
    proc = subprocess.run(
        (MIGMERGE, 'demo'), cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # Without migmerge: Django's own message about the silent merge.
    assert (
        'Conflicting migrations detected; multiple leaf nodes in the '
        'migration graph: (0003_userprofile_address, 0003_userprofile_age '
        'in myapp).'
    ) in out
    # With it: the hook wrote Django's merge migration, Django applied it.
    assert (
        'wrote myapp/migrations/0004_merge_0003_userprofile_address_'
        '0003_userprofile_age.py'
    ) in out
    assert (
        'Applying myapp.0004_merge_0003_userprofile_address_'
        '0003_userprofile_age... OK'
    ) in out
    assert 'No changes detected' in out
    # The same-field case names the field and writes nothing.
    assert 'myapp.userprofile.age: AlterField here collides with AlterField' in out
    # The rebase renumbered the rebased migration.
    assert (
        'myapp: 0006_userprofile_nickname -> 0007_userprofile_nickname '
        '(after 0006_userprofile_verified)'
    ) in out
    assert out.rstrip().endswith('== Demo finished')
