#!/usr/bin/env bash
# Run `molecule test` for each named scenario (default: all of molecule/*),
# keep going after a failure so one run shows every broken scenario, and end
# with one summary line. Logs go to .molecule-logs/<scenario>.log. Before any
# scenario, scripts/build-collection.sh builds and installs the collection.
set -uo pipefail

scenarios=("$@")
if ((${#scenarios[@]} == 0)); then
    for file in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$file")")"); done
fi

log_dir=.molecule-logs
mkdir -p "$log_dir"
# The scenario `full` converges the INSTALLED collection (molecule/full/molecule.yml), and
# molecule's first step, syntax, already needs it: build and install it before any scenario.
if ! scripts/build-collection.sh >"$log_dir/build-collection.log" 2>&1; then
    echo "build-collection FAILED (log: $log_dir/build-collection.log); its last lines:"
    tail -n 30 "$log_dir/build-collection.log" | sed 's/^/    /'
    echo "molecule: 0 passed, ${#scenarios[@]} failed"
    exit 1
fi
passed=0
failed=0
failed_names=()
for scenario in "${scenarios[@]}"; do
    log="$log_dir/$scenario.log"
    start=$SECONDS
    printf 'molecule %-16s ' "$scenario"
    if NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 molecule test -s "$scenario" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'passed in %ss\n' "$((SECONDS - start))"
    else
        failed=$((failed + 1))
        failed_names+=("$scenario")
        printf 'FAILED in %ss (log: %s); its last lines:\n' "$((SECONDS - start))" "$log"
        tail -n 60 "$log" | sed 's/^/    /'
    fi
done
echo "molecule: $passed passed, $failed failed"
((failed == 0)) || { echo "failed scenarios: ${failed_names[*]}" >&2; exit 1; }
