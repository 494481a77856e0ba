#!/usr/bin/env bash
# scripts/demo end to end, short and small: its own PostgreSQL, origin
# (prism-origin), coordinator, worker and ingest; the ladder is served as
# Low-Latency HLS; it must end with the ffprobe summary of a working ladder
# and stop everything it started.
set -euo pipefail
src=${PRISM_SOURCE_DIR:?}
build=${PRISM_BUILD_DIR:?}
dir=$(mktemp -d "$build/farm-demo.XXXXXX")
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
out=$(PRISM_DEMO_DIR=$dir/demo PRISM_DEMO_NO_BUILD=1 PRISM_DEMO_SIZE=640x360 \
    PRISM_DEMO_PRESET=ultrafast "$src/scripts/demo" 8 2>&1) || {
    echo "$out"
    tail -n 20 "$dir"/demo/logs/*.log
    exit 1
}
echo "$out"
grep -q '^== Ladder summary: http://127.0.0.1:[0-9]*/live/demo/master.m3u8' <<<"$out"
grep -q '^the ladder is live (LL-HLS): play it in a browser at' <<<"$out"
grep -q '^ *http://127.0.0.1:[0-9]*/  (Streams, Play' <<<"$out"
# Every rendition line has a size, a video codec and segments.
rows=$(sed -n '/^rendition /,/^$/p' <<<"$out" | grep -E '^[a-z0-9]+ +[0-9]+x[0-9]+ +[0-9.]+ +h264 +[0-9]+ +aac +[1-9]')
echo "$rows"
[ "$(wc -l <<<"$rows")" -ge 2 ] # Source and at least one encoded rendition
grep -q '^source ' <<<"$rows"
grep -q '^[0-9]\+ renditions playable from' <<<"$out"
grep -q '^Low-Latency HLS   PART-TARGET=0.33500, [1-9][0-9]* parts listed' <<<"$out"
# Nothing left running.
while read -r pid what; do
    case $pid in
    origin | pg | schema) ;;
    *) ! kill -0 "$pid" 2>/dev/null || { echo "$what ($pid) still runs"; exit 1; } ;;
    esac
done <"$dir/demo/pids"
! PRISM_PG_DIR=$dir/demo/pg "$src/scripts/pg-local" status >/dev/null
! PRISM_ORIGIN_DIR=$dir/demo/origin "$src/scripts/origin" status >/dev/null
echo "farm demo e2e: ok"
