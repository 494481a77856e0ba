#!/usr/bin/env bash
# Farm drain end to end (real ingest, coordinator with PostgreSQL through
# PRISM_TEST_PGURL, two workers, nginx origin, ffmpeg): the operator drains
# the worker carrying a stream with move=true. The stream moves to the
# other worker, the drained one stops at a keyframe, the playlists go on
# (never backwards, a discontinuity at the join) and the drained worker
# gets no new stream.
set -euo pipefail
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
src=${PRISM_SOURCE_DIR:?}
build=${PRISM_BUILD_DIR:?}
source "$src/scripts/farm"
dir=$(mktemp -d "$build/farm-drain.XXXXXX")
chmod 755 "$dir" # nginx workers (nobody) read the origin under it
cleanup() {
    farm_down
    [ -n "${PRISM_KEEP_TEST_DIR:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$dir"/logs/*.log "$dir/watch"; do
        echo "--- $f" >&2
        tail -n 30 "$f" >&2
    done
    exit 1
}

farm_init "$dir"
farm_pg
farm_origin
farm_coord 0 || fail "coordinator"
farm_worker w1
farm_worker w2
farm_ingest || fail "ingest"
farm_wait_workers 2 || fail "workers did not register"
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
key=$(farm_channel dave e2e)
farm_publish "$key" 18 640x360 30
farm_watch dave "source 240p30" "$dir/watch"
for _ in $(seq 200); do
    n=$(awk '$2 == "240p30" {l = $4} END {print l + 0}' "$dir/watch" 2>/dev/null || echo 0)
    [ "$n" -ge 2 ] && break
    sleep 0.1
done
[ "$n" -ge 2 ] || fail "the stream did not start"
from=$(farm_stream_field dave worker)
to=w1
[ "$from" = w1 ] && to=w2
moved=$(curl -fs -X POST -H "Authorization: Bearer $FARM_TOKEN" \
    "$FARM_API/api/workers/$from/drain?move=true" | tr -d ' \n' | sed -n 's/.*"moved":\([0-9]*\).*/\1/p')
[ "$moved" = 1 ] || fail "drain moved '$moved' streams"
for _ in $(seq 100); do
    [ "$(farm_stream_field dave worker)" = "$to" ] && break
    sleep 0.1
done
[ "$(farm_stream_field dave worker)" = "$to" ] || fail "the stream did not move to $to"
for _ in $(seq 100); do
    grep -q 'Input ends at this keyframe' "$dir/logs/$from.log" && break
    sleep 0.1
done
grep -q 'Input ends at this keyframe' "$dir/logs/$from.log" ||
    fail "$from did not stop at a keyframe"
echo "drained $from: the stream moved to $to (generation $(farm_stream_field dave generation))"
curl -fs "$FARM_API/api/workers/$from" | grep -q '"draining": *true' || fail "$from is not draining"
wait "$FARM_PUB_PID" || true
sleep 1
kill "$FARM_WATCH_PID" 2>/dev/null || true
farm_check_forward "$dir/watch" || fail "a playlist went backwards"
awk '$5 > 0' "$dir/watch" | grep -q . || fail "no discontinuity at the join"
echo "farm drain e2e: ok"
