#!/usr/bin/env bash
# scripts/gpu-check on a host without an NVIDIA GPU: exit 2 and one line
# saying why, before it touches the build. (On a GPU host this test is
# skipped: run scripts/gpu-check there for the real figures.)
set -u
src=${PRISM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ -e /proc/driver/nvidia/version ]; then
    echo "an NVIDIA driver is loaded here: run scripts/gpu-check itself"
    exit 77
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
rc=0
"$src/scripts/gpu-check" --build "${PRISM_BUILD_DIR:-$src/build}" >/dev/null 2>"$err" || rc=$?
if [ $rc -ne 2 ]; then
    echo "FAIL: gpu-check exited $rc, not 2: $(cat "$err")"
    exit 1
fi
if ! grep -q '^gpu-check: no NVIDIA GPU: ' "$err" || [ "$(wc -l <"$err")" -ne 1 ]; then
    echo "FAIL: not one line with the reason: $(cat "$err")"
    exit 1
fi
echo "ok: $(cat "$err")"
