#!/usr/bin/env bash
# Farm end to end (real ingest, worker, nginx origin, ffmpeg; coordinator
# with PostgreSQL through PRISM_TEST_PGURL): the coordinator is killed
# mid-stream and started again. The stream must go on without a gap: the
# playlists keep advancing while it is away and after, with no
# discontinuity, no playlist going backwards, and after the restart the
# coordinator adopts the stream where it runs (same worker, same
# generation).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" restart

farm_start w1 || fail "the farm did not start"
publish_e2e carol 24

wait_segment 240p30 1
last=$(farm_watch_last "$dir/watch" 240p30)
gen1=$(farm_stream_field carol generation)
echo "stream running (generation $gen1); kill -9 the coordinator for 3 s"
kill -9 "$FARM_COORD_PID"
wait "$FARM_COORD_PID" 2>/dev/null || true
t_kill=$(date +%s.%N)
sleep 3
during=$(farm_watch_last "$dir/watch" 240p30)
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
wait_endlist "$FARM_ORIGIN/carol/240p30/index.m3u8"
kill "$FARM_WATCH_PID" 2>/dev/null || true
# Never backwards, never a number skipped (farm_check_forward), no
# discontinuity.
farm_check_forward "$dir/watch" || fail "a playlist went backwards or skipped segments"
awk '$5 > 0 {exit 1}' "$dir/watch" || fail "a discontinuity appeared"
# No gap: segments keep arriving at about the segment rate throughout. A
# segment is 2 s; an interval of 3.5 s (1.75 segments) or more between two
# arrivals means a segment came late by most of its own length.
# (A snapshot that only adds EXT-X-ENDLIST, at the end of the reconnect
# grace, is no arrival.)
gap=$(awk '$2 == "240p30" && $4 != last { if (p) { g = $1 - p; if (g > m) m = g } p = $1; last = $4 } END {printf "%.2f", m}' "$dir/watch")
echo "largest interval between segment arrivals: $gap s (segments of 2 s; coordinator away from $t_kill to $t_back)"
[ "$(echo "$gap < 3.5" | bc)" = 1 ] || fail "a gap of $gap s in the playlists (limit 3.5 s)"
play_master "$FARM_ORIGIN/carol/master.m3u8"
echo "farm coordinator restart e2e: ok"
