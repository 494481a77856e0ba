#!/usr/bin/env bash
# Farm failover end to end (real ingest, coordinator with PostgreSQL
# through PRISM_TEST_PGURL, two workers, nginx origin, ffmpeg): kill -9 of
# the worker carrying a stream. The stream must go on on the other worker:
# its playlists continue (the media sequence goes on, EXT-X-DISCONTINUITY
# marks the join), no rendition playlist ever goes backwards, and a player
# reads the master to the end. Prints the time from the kill to the first
# segment of the new worker on the origin (target: 5 s).
set -euo pipefail
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
src=${PRISM_SOURCE_DIR:?}
build=${PRISM_BUILD_DIR:?}
source "$src/scripts/farm"
dir=$(mktemp -d "$build/farm-failover.XXXXXX")
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

FARM_REPORT_MS=300 # dead after 3 missed reports: 0.9 s
farm_init "$dir"
farm_pg
farm_origin
farm_coord 0 || fail "coordinator"
farm_worker w1
declare -A pid=([w1]=$FARM_WORKER_PID)
farm_worker w2
pid[w2]=$FARM_WORKER_PID
farm_ingest || fail "ingest"
farm_wait_workers 2 || fail "workers did not register"
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
key=$(farm_channel bob e2e)
rends="source 240p30"
farm_publish "$key" 24 640x360 30
farm_watch bob "$rends" "$dir/watch"

# Wait for a few segments from the first worker.
for _ in $(seq 200); do
    last=$(awk '$2 == "240p30" {l = $4} END {print l + 0}' "$dir/watch" 2>/dev/null || echo 0)
    [ "$last" -ge 2 ] && break
    sleep 0.1
done
[ "$last" -ge 2 ] || fail "the stream did not start"
carrier=$(farm_stream_field bob worker)
gen1=$(farm_stream_field bob generation)
[ -n "$carrier" ] || fail "no worker carries the stream"
other=w1
[ "$carrier" = w1 ] && other=w2
before=$(awk '$2 == "240p30" {l = $4} END {print l}' "$dir/watch")
echo "stream on $carrier (generation $gen1), last segment $before; kill -9"
t_kill=$(date +%s.%N)
kill -9 "${pid[$carrier]}"
wait "${pid[$carrier]}" 2>/dev/null || true

# The new worker's first segment: the playlists show a discontinuity.
t_back=
for _ in $(seq 300); do
    t_back=$(awk '$2 == "240p30" && $5 > 0 {print $1; exit}' "$dir/watch")
    [ -n "$t_back" ] && break
    sleep 0.1
done
[ -n "$t_back" ] || fail "the stream did not continue after the kill"
now_on=$(farm_stream_field bob worker)
gen2=$(farm_stream_field bob generation)
[ "$now_on" = "$other" ] || fail "the stream is on '$now_on', not on $other"
[ "$gen2" -gt "$gen1" ] || fail "generation did not grow ($gen1 -> $gen2)"
took=$(echo "$t_back - $t_kill" | bc)
echo "continued on $other (generation $gen2) $took s after the kill (target 5 s)"

wait "$FARM_PUB_PID" || true
for _ in $(seq 100); do
    curl -fs "$FARM_ORIGIN/bob/240p30/index.m3u8" | grep -q EXT-X-ENDLIST && break
    sleep 0.1
done
kill "$FARM_WATCH_PID" 2>/dev/null || true

farm_check_forward "$dir/watch" || fail "a playlist went backwards"
for r in $rends; do
    # The first segment after the join continues the numbering.
    first_after=$(awk -v r="$r" '$2 == r && $5 > 0 {print $6; exit}' "$dir/watch")
    last_before=$(awk -v r="$r" '$2 == r && $5 > 0 {exit} $2 == r {l = $4} END {print l}' "$dir/watch")
    echo "$r: last segment seen from $carrier $last_before, first from $other $first_after"
    [ "$first_after" -ge "$((last_before + 1))" ] && [ "$first_after" -le "$((last_before + 2))" ] ||
        fail "$r numbering does not continue ($last_before -> $first_after)"
    curl -fs "$FARM_ORIGIN/bob/$r/index.m3u8" >"$dir/final.$r"
done
grep -q '^#EXT-X-DISCONTINUITY$' "$dir/final.240p30" ||
    awk '$2 == "240p30" && $5 > 0' "$dir/watch" | grep -q . ||
    fail "no EXT-X-DISCONTINUITY at the join"
ffmpeg -nostdin -loglevel error -i "$FARM_ORIGIN/bob/master.m3u8" -map 0 -c copy -f null - \
    2>"$dir/play.err" || fail "ffmpeg could not read the master: $(cat "$dir/play.err")"
echo "failover measured: kill -9 to the new worker's first segment on the origin: $took s"
echo "farm failover e2e: ok"
