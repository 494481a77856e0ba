#!/usr/bin/env bash
# Two ingests serve the same channels (real coordinator with PostgreSQL
# through PRISM_TEST_PGURL, worker, nginx origin, ffmpeg publishers):
#  1. "twin" (Source and 240p30) and "lone" (Source only) publish through
#     ingest 1. A second ffmpeg on twin's key through ingest 2 is refused
#     ("stream key already live") while the first sends; twin goes on.
#  2. kill -9 of ingest 1. Twin's publisher reconnects through ingest 2
#     the way OBS does (a new attempt every 2 s): once the coordinator has
#     found ingest 1 lost, the publish continues the same stream (same id,
#     ingest-2 in the API, stream.resumed); its playlists continue exactly
#     (check_join: numbers follow on, EXT-X-DISCONTINUITY at the join, no
#     segment written twice) and hls.js plays it.
#  3. Lone's publisher does not come back: its playlists end (ENDLIST)
#     only after the reconnect grace, never before.
# Prints the time from the kill to twin's first new segment on the origin.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" ingest-redundancy
# shellcheck source=tests/e2e/lib/player.sh
source "$src/tests/e2e/lib/player.sh"

NODE_TIMEOUT_MS=3000
FARM_RECONNECT_GRACE_MS=6000
farm_pg || fail "no PostgreSQL"
farm_origin || fail "no origin"
farm_coord 0 "node_timeout_ms = $NODE_TIMEOUT_MS" || fail "the coordinator did not start"
farm_key w1 # before the ingests start: they read their allowlist every 5 s
farm_ingest 1 || fail "ingest 1 did not start"
farm_ingest 2 || fail "ingest 2 did not start"
farm_worker w1
farm_wait_workers 1
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
farm_profile remux '{"name": "remux", "renditions": [{"name": "source", "remux": true}]}'
twin=$(farm_channel twin e2e)
lone=$(farm_channel lone remux)
[ -n "$twin" ] && [ -n "$lone" ] || fail "no channels"

# 1. Both go live through ingest 1; a second publisher on twin is refused.
farm_publish "$twin" 80 640x360 30
twin_pid=$FARM_PUB_PID
farm_publish "$lone" 80 426x240 30
farm_watch twin "source 240p30" "$dir/watch"
wait_running twin w1 20
wait_running lone w1 20
wait_segment 240p30 2
id=$(farm_stream_field twin id)
lone_id=$(farm_stream_field lone id)
FARM_RTMP_PORT=${FARM_INGEST_RTMP[2]} farm_publish "$twin" 6 640x360 30
! wait "$FARM_PUB_PID" || fail "a second publisher on twin's live key was not refused"
grep -q 'kind=publish.rejected .*"reason":"stream key already live: another publisher is sending"' \
    "$dir/logs/coord0.log" || fail "no publish.rejected 'stream key already live' event"
[ "$(farm_stream_field twin id)" = "$id" ] || fail "the refused publish changed twin's stream"
[ "$(farm_stream_field twin ingest)" = ingest-1 ] || fail "twin is not on ingest-1 after the refusal"
kill -0 "$twin_pid" 2>/dev/null || fail "twin's first publisher was cut off"
echo "a second publisher through ingest-2 was refused; twin goes on through ingest-1"

# 2. Ingest 1 dies; twin's publisher comes back through ingest 2.
t_kill=$(date +%s.%N)
kill -9 "${FARM_INGEST_PIDS[1]}"
wait "${FARM_INGEST_PIDS[1]}" 2>/dev/null || true
( # when lone's playlist ends
    while ! grep -q EXT-X-ENDLIST <<<"$(curl -fs "$FARM_ORIGIN/lone/source/index.m3u8")"; do
        sleep 0.1
    done
    date +%s.%N >"$dir/lone.end"
) &
farm_track $! lone-endlist
tries=0
while :; do
    tries=$((tries + 1))
    [ "$tries" -le 15 ] || fail "twin's publisher was not let back in through ingest-2"
    FARM_RTMP_PORT=${FARM_INGEST_RTMP[2]} farm_publish "$twin" 60 640x360 30
    sleep 2
    kill -0 "$FARM_PUB_PID" 2>/dev/null && break # still publishing: in
done
t_back=$(date +%s.%N)
echo "twin's publisher is back through ingest-2 at try $tries, $(echo "$t_back - $t_kill" | bc) s after the kill"
for _ in $(seq 100); do
    [ "$(farm_stream_field twin ingest)" = ingest-2 ] && break
    sleep 0.1
done
[ "$(farm_stream_field twin ingest)" = ingest-2 ] || fail "the API does not show twin on ingest-2"
[ "$(farm_stream_field twin id)" = "$id" ] || fail "twin got a new stream id: $(farm_stream_field twin id), not $id"
events stream.resumed twin | grep -q '"ingest":"ingest-2"' || fail "no stream.resumed event through ingest-2"
[ "$(farm_stream_field twin reconnects)" = 1 ] ||
    fail "the API counts $(farm_stream_field twin reconnects) reconnects of twin, not 1"
t_seg=$(joined_at 240p30)
[ -n "$t_seg" ] || fail "twin's playlists did not continue after the publisher came back"
echo "ingest-1 killed: twin's first new segment on the origin $(echo "$t_seg - $t_kill" | bc) s after the kill ($(echo "$t_seg - $t_back" | bc) s after the publisher was back)"
out=$(play_hls "$FARM_ORIGIN/twin/master.m3u8" 10) || fail "hls.js did not play twin after the reconnect: $out"
echo "hls.js after the reconnect: start-up $(play_json_field "$out" startup_s) s, advance/wall $(play_json_field "$out" ratio)"

# 3. Lone's publisher never came back: its stream ended after the grace.
for _ in $(seq 300); do
    [ -s "$dir/lone.end" ] && break
    sleep 0.1
done
[ -s "$dir/lone.end" ] || fail "lone's playlist has no EXT-X-ENDLIST long after its ingest died"
after=$(echo "$(cat "$dir/lone.end") - $t_kill" | bc)
echo "lone: EXT-X-ENDLIST $after s after its ingest died (node_timeout_ms $NODE_TIMEOUT_MS + reconnect_grace_ms $FARM_RECONNECT_GRACE_MS)"
[ "$(echo "$after * 1000 >= $FARM_RECONNECT_GRACE_MS" | bc)" = 1 ] ||
    fail "lone ended $after s after its ingest died, before the reconnect grace"
grep "kind=stream.publisher_left .*stream=$lone_id" "$dir/logs/coord0.log" |
    grep -q '"reason":"ingest lost"' || fail "no stream.publisher_left (ingest lost) event for lone"

# Twin ends when its publisher stops; its numbering joined exactly.
kill "$FARM_PUB_PID" 2>/dev/null || true
wait_endlist "$FARM_ORIGIN/twin/240p30/index.m3u8"
kill "$FARM_WATCH_PID" 2>/dev/null || true
farm_check_forward "$dir/watch" || fail "a playlist went backwards or skipped segments"
check_join w1 twin "source 240p30"
echo "farm ingest redundancy e2e: ok"
