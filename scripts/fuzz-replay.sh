#!/bin/sh
# fuzz-replay.sh - runs each libFuzzer target over its seed corpus (tests/fuzz/corpus/<name>/)
# once, with no mutation: every input that ever found a bug stays a regression test.
cd "$(dirname "$0")/.." || exit 2
for bin in build-fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    dir="tests/fuzz/corpus/${name#fuzz_}"
    if [ ! -d "$dir" ]; then
        echo "FAIL fuzz/$name (no corpus in $dir)"
        continue
    fi
    if "$bin" -runs=0 "$dir" >"/tmp/lx-$name.log" 2>&1; then
        echo "PASS fuzz/$name ($(ls "$dir" | wc -l) inputs)"
    else
        tail -30 "/tmp/lx-$name.log"
        echo "FAIL fuzz/$name"
    fi
done
