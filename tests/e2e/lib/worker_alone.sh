# Sourced by the tests that run prism-worker alone, without a farm
# (tests/e2e/transcode_*.sh): the binary, a scratch directory removed on
# exit and the way a test fails.
#
#   worker   $PRISM_BUILD_DIR/worker/prism-worker
#   tmp      a fresh directory, removed when the test exits
#   fail MESSAGE...   prints FAIL: MESSAGE on stderr and exits 1
# shellcheck shell=bash
set -euo pipefail
worker=${PRISM_BUILD_DIR:?}/worker/prism-worker
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
