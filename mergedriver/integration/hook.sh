#!/bin/sh
# migmerge-hook: installed by `migmerge install`
# `migmerge uninstall` restores the hook that was here before.
MIGMERGE_PYTHON=@PYTHON@
HOOKS_DIR="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$MIGMERGE_PYTHON" ]; then
    exec "$MIGMERGE_PYTHON" @RUN@ --hooks-dir "$HOOKS_DIR" @HOOK@ -- "$@"
elif command -v migmerge > /dev/null; then
    exec migmerge hook --hooks-dir "$HOOKS_DIR" @HOOK@ -- "$@"
else
    echo 'migmerge: not found (run `migmerge uninstall`, or install it again); migration checks skipped' 1>&2
    CHAINED="$HOOKS_DIR/@HOOK@@CHAINED_SUFFIX@"
    if [ -x "$CHAINED" ]; then exec "$CHAINED" "$@"; fi
    exit 0
fi
