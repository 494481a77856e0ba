# Sourced by the tests that run prism-origin alone, driven with curl
# (tests/e2e/origin_*.sh): the binary, a scratch directory, a port, and
# starting and stopping the origin.
#
#   origin   $PRISM_BUILD_DIR/origin/prism-origin
#   tmp      a fresh directory, removed when the test exits
#   port, base   the origin's port and http://127.0.0.1:PORT
#   origin_start [ARGS...]   starts it on port (log: $tmp/origin.log) and
#                waits for /healthz; its pid in origin_pid
#   origin_stop  stops it (TERM) and waits
#   metric NAME  the value of a line of its /metrics (0 when absent)
#   fail MESSAGE...   prints FAIL: MESSAGE and the origin's log, exits 1
# shellcheck shell=bash
set -euo pipefail
origin=${PRISM_BUILD_DIR:?}/origin/prism-origin
tmp=$(mktemp -d)
origin_pid=
origin_stop() {
    [ -n "$origin_pid" ] || return 0
    kill "$origin_pid" 2>/dev/null || true
    wait "$origin_pid" 2>/dev/null || true
    origin_pid=
}
trap 'origin_stop; rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    echo "--- origin log" >&2
    cat "$tmp/origin.log" >&2 || true
    exit 1
}
# shellcheck source=scripts/farm
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/farm"
FARM_DIR=$tmp
port=$(farm_port)
base=http://127.0.0.1:$port
origin_start() {
    "$origin" --listen "127.0.0.1:$port" "$@" >>"$tmp/origin.log" 2>&1 &
    origin_pid=$!
    for _ in $(seq 50); do
        curl -fs -o /dev/null "$base/healthz" && return 0
        kill -0 "$origin_pid" 2>/dev/null || break
        sleep 0.1
    done
    fail "the origin did not start"
}
metric() {
    curl -fs "$base/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}
