#!/bin/sh
# run-tests.sh BUILD - runs every test suite against the binaries in BUILD and prints one
# closing line "N passed, N failed". Each suite prints "PASS name" / "FAIL name" lines; the
# full output of each is kept in BUILD/test-logs/. Exit status is non-zero on any failure.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOGS="$BUILD/test-logs"
mkdir -p "$LOGS"
: "${LX_SHARED:=$ROOT/../shared}"
export LX_SHARED LX_BUILD="$ROOT/$BUILD"
passed=0
failed=0

suite() { # name command...
    name=$1
    shift
    log="$LOGS/$name.log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^PASS ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "FAIL $name (exit $rc, no test reported the failure)" >>"$log"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    echo "== $name: $p passed, $f failed ($(($(date +%s) - start)) s)"
    grep '^FAIL ' "$log" | head -50
    if [ "$f" != 0 ]; then
        echo "-- last lines of $log:"
        tail -40 "$log"
    fi
}

suite lint scripts/lint.sh
[ -x "$BUILD/test_unit" ] && suite unit "$BUILD/test_unit"
for t in tests/integration/test_*.py; do
    [ -e "$t" ] || continue
    suite "integration-$(basename "$t" .py)" python3 "$t"
done
for t in tests/sdk/test_*.mjs; do
    [ -e "$t" ] || continue
    suite "sdk-$(basename "$t" .mjs)" node "$t"
done
if [ -d build-fuzz ] && [ "$BUILD" = build ]; then
    suite fuzz-replay scripts/fuzz-replay.sh
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
