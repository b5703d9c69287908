#!/bin/sh
# A filtered boot runs only the tests the filter selects (run by
# test-all.sh on every architecture): the runner passes --filter to the
# root task through fw_cfg, and this checks the boot's log: at least one
# test ran, and every test that ran has PATTERN in its name. A root task
# that did not read the filter runs every test, and this fails.
#   scripts/check-filter.sh <sel4-run> <image folder> <pattern> <serial log>
# PATTERN must select by name (not by a seL4test ID, which the log does not
# carry).
set -u
runner=${1:?usage: scripts/check-filter.sh <sel4-run> <image folder> <pattern> <serial log>}
image=${2:?image folder}
pattern=${3:?pattern}
log=${4:?serial log}
"$runner" --timeout 300 --log "$log" --filter "$pattern" "$image"
rc=$?
names=$(sed -n 's/^.*##sel4rs test-end \([^ ]*\) .*$/\1/p' "$log")
ran=$(printf '%s\n' "$names" | grep -c . || true)
other=$(printf '%s\n' "$names" | grep -v -F -- "$pattern" | grep . || true)
if [ "$ran" -eq 0 ]; then
    echo "check-filter: FAIL: no test ran with --filter $pattern (log $log)"
    exit 1
fi
if [ -n "$other" ]; then
    echo "check-filter: FAIL: --filter $pattern was not applied: $(printf '%s\n' "$other" | wc -l) other tests ran, e.g. $(printf '%s\n' "$other" | head -3 | tr '\n' ' ')(log $log)"
    exit 1
fi
echo "check-filter: $ran tests ran, each with $pattern in its name"
exit "$rc"
