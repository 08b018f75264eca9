#!/bin/sh
# fuzz-smoke.sh SECONDS - fuzzes each target for SECONDS with a scratch copy of its corpus.
# Prints PASS/FAIL per target; a crash leaves its input in build-fuzz/crashes/.
cd "$(dirname "$0")/.." || exit 2
secs=${1:-30}
mkdir -p build-fuzz/crashes
for bin in build-fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work="build-fuzz/work-$name"
    rm -rf "$work" && mkdir -p "$work"
    cp -r "tests/fuzz/corpus/${name#fuzz_}/." "$work/" 2>/dev/null
    if "$bin" -max_total_time="$secs" -artifact_prefix=build-fuzz/crashes/ "$work" \
        >"build-fuzz/$name.smoke.log" 2>&1; then
        echo "PASS fuzz-smoke/$name (${secs}s)"
    else
        tail -40 "build-fuzz/$name.smoke.log"
        echo "FAIL fuzz-smoke/$name"
    fi
done
