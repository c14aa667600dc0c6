#!/usr/bin/env bash
# Run pytest and treat "no tests collected" (exit 5) as the harness failure it is:
# a test command that finds nothing to run has not proven anything.
set -uo pipefail
bin=${VENV:-.venv}/bin
"$bin/python" -m pytest "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
    echo "run-pytest: pytest collected no tests for: $*; failing (exit 5 is not a pass)" >&2
    exit 1
fi
exit $rc
