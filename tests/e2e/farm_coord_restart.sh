#!/usr/bin/env bash
# Farm end to end (real ingest, worker, nginx origin, ffmpeg; coordinator
# with PostgreSQL through PRISM_TEST_PGURL): the coordinator is killed
# mid-stream and started again. The stream must go on without a gap: the
# playlists keep advancing while it is away and after, with no
# discontinuity, no playlist going backwards, and after the restart the
# coordinator adopts the stream where it runs (same worker, same
# generation).
set -euo pipefail
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
src=${PRISM_SOURCE_DIR:?}
build=${PRISM_BUILD_DIR:?}
source "$src/scripts/farm"
dir=$(mktemp -d "$build/farm-restart.XXXXXX")
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
        tail -n 40 "$f" >&2
    done
    exit 1
}

farm_init "$dir"
farm_pg
farm_origin
farm_coord 0 || fail "coordinator"
farm_worker w1
farm_ingest || fail "ingest"
farm_wait_workers 1 || fail "worker did not register"
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
key=$(farm_channel carol e2e)
rends="source 240p30"
farm_publish "$key" 24 640x360 30
farm_watch carol "$rends" "$dir/watch"

for _ in $(seq 200); do
    last=$(awk '$2 == "240p30" {l = $4} END {print l + 0}' "$dir/watch" 2>/dev/null || echo 0)
    [ "$last" -ge 1 ] && break
    sleep 0.1
done
[ "$last" -ge 1 ] || fail "the stream did not start"
gen1=$(farm_stream_field carol generation)
echo "stream running (generation $gen1); kill -9 the coordinator for 3 s"
kill -9 "$FARM_COORD_PID"
wait "$FARM_COORD_PID" 2>/dev/null || true
t_kill=$(date +%s.%N)
sleep 3
during=$(awk '$2 == "240p30" {l = $4} END {print l}' "$dir/watch")
farm_coord 0 || fail "the coordinator did not come back"
t_back=$(date +%s.%N)
echo "coordinator back; segments went on to $during while it was away"
[ "$during" -gt "$last" ] || fail "no segment while the coordinator was away"

# The worker registers again and the stream is adopted as it runs.
state=
for _ in $(seq 100); do
    state=$(farm_stream_field carol state)
    [ "$state" = running ] && break
    sleep 0.1
done
[ "$state" = running ] || fail "the stream is '$state' after the restart"
gen2=$(farm_stream_field carol generation)
[ "$gen2" = "$gen1" ] || fail "the stream was placed again ($gen1 -> $gen2)"
[ "$(grep -c 'Registered with the coordinator' "$dir/logs/w1.log")" -ge 2 ] || fail "the worker did not register again"
echo "adopted: worker $(farm_stream_field carol worker), generation $gen2"

wait "$FARM_PUB_PID" || true
for _ in $(seq 100); do
    curl -fs "$FARM_ORIGIN/carol/240p30/index.m3u8" | grep -q EXT-X-ENDLIST && break
    sleep 0.1
done
kill "$FARM_WATCH_PID" 2>/dev/null || true
farm_check_forward "$dir/watch" || fail "a playlist went backwards"
awk '$5 > 0 {exit 1}' "$dir/watch" || fail "a discontinuity appeared"
# No gap: segments keep arriving at about the segment rate throughout.
gap=$(awk '$2 == "240p30" { if (p) { g = $1 - p; if (g > m) m = g } p = $1 } END {printf "%.2f", m}' "$dir/watch")
echo "largest interval between segment arrivals: $gap s (segments of 2 s; coordinator away from $t_kill to $t_back)"
[ "$(echo "$gap < 4.5" | bc)" = 1 ] || fail "a gap of $gap s in the playlists"
ffmpeg -nostdin -loglevel error -i "$FARM_ORIGIN/carol/master.m3u8" -map 0 -c copy -f null - \
    2>"$dir/play.err" || fail "ffmpeg could not read the master: $(cat "$dir/play.err")"
echo "farm coordinator restart e2e: ok"
