#!/bin/sh
# run.sh BUILD - the benchmark (make bench): direct to mockllm vs llmux vs nginx, in alternating
# rounds, on this 2-core box. The orchestration is bench/run.py (Python stdlib); this wrapper
# raises the fd limit for the many-streams workload. BENCH_QUICK=1 for a ~2 minute run.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 bench/run.py "$BUILD"
