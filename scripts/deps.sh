#!/bin/sh
# deps.sh - install the Debian packages llmux needs, and nothing when they are there.
#   scripts/deps.sh build   what `make` needs
#   scripts/deps.sh test    that, plus what the tests and the benchmark need
# Services that packages would start (nginx, postgresql, redis) are kept from starting with a
# policy-rc.d for the length of the install: the tests start their own on loopback ports.
set -eu

BUILD_PKGS="make gcc pkg-config libuv1-dev node-llhttp libssl-dev libfyaml-dev libhiredis-dev"
TEST_PKGS="clang libclang-rt-14-dev libjansson-dev python3 nginx-light wrk curl ca-certificates openssl redis-server"
# node and npm run the official SDKs against llmux; a machine that has no node gets Debian's
if ! command -v node >/dev/null 2>&1; then TEST_PKGS="$TEST_PKGS nodejs npm"; fi

case "${1:-build}" in
build) want="$BUILD_PKGS" ;;
test) want="$BUILD_PKGS $TEST_PKGS" ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
sdk_deps() { # npm packages of the SDK tests (tests/sdk), installed from the lock file
    [ "${1:-}" = test ] || return 0
    command -v node >/dev/null 2>&1 || return 0
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/sdk"
    if [ ! -d "$dir/node_modules/openai" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
        echo "deps: npm ci in tests/sdk" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && touch "$dir/node_modules"
    fi
}

if [ -z "$missing" ]; then
    sdk_deps "${1:-build}"
    exit 0
fi

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ "$made_policy" = 1 ] && $SUDO rm -f "$policy"
sdk_deps "${1:-build}"
exit 0
