"""Running a pre-commit hook's ``main`` in the test process."""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

import pytest


def run_hook(
        main: Callable[[Sequence[str] | None], int],
        capsys: pytest.CaptureFixture[str],
        *argv: str,
) -> tuple[int, list[str]]:
    """Run a hook's ``main`` in this process: (exit status, stdout lines).
    A hook's findings go to stdout; stderr stays empty for usable input."""
    ret = main(list(argv))
    out, err = capsys.readouterr()
    assert err == ''
    return ret, out.splitlines()
