#!/usr/bin/env bash
# Interop matrix, the failover row (tests/e2e/lib/interop.sh; docs/
# interop.md): FFmpeg with OBS's default settings publishes over RTMP to a
# real farm (PostgreSQL through PRISM_TEST_PGURL, nginx origin,
# coordinator, two workers, ingest) and hls.js plays the master playlist
# through a kill -9 of the worker carrying the stream and, later, through
# a kill -9 and restart of the coordinator: the playhead advances at least
# 90% of wall time after start-up, no fatal error, and the longest stall
# is at most 2 s. Prints the row's line (KNOWN-FAIL while the row is in
# interop_known_fail).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" interop-failover
source "$src/tests/e2e/lib/interop.sh"
play_hls_ready || fail "the player cannot run here"

row=ffmpeg-failover
FARM_REPORT_MS=300 # a worker is dead after 3 missed reports: 0.9 s
interop_setup
key=$(farm_channel "$row" interop)
interop_row_ffmpeg-rtmp "$key" 48 >"$dir/logs/pub-$row.log" 2>&1 &
farm_track $! "pub-$row"
master=$FARM_ORIGIN/$row/master.m3u8
farm_wait_url "$master" 25 || fail "no master playlist 25 s after publishing"

play_hls "$master" 32 --max-stall 2 >"$dir/play.json" 2>"$dir/play.err" &
player=$!
sleep 10
carrier=$(farm_stream_field "$row" worker)
[ -n "$carrier" ] || fail "no worker carries the stream"
echo "kill -9 $carrier, which carries the stream"
kill -9 "${FARM_WORKER_PIDS[$carrier]}"
sleep 10
echo "kill -9 the coordinator; started again 2 s later (the stream is now on $(farm_stream_field "$row" worker))"
kill -9 "$FARM_COORD_PID"
sleep 2
farm_coord 0 || fail "the coordinator did not start again"
wait "$player" || true
json=$(head -n 1 "$dir/play.json")
[ -n "$json" ] || fail "the player printed nothing: $(tail -n 3 "$dir/play.err")"
why="start-up $(play_json_field "$json" startup_s) s, advance/wall $(play_json_field "$json" ratio), longest stall $(play_json_field "$json" longest_stall_s) s"
if [ "$(play_json_field "$json" ok)" = true ]; then
    interop_verdict "$row" ok "$why"
else
    interop_verdict "$row" fail "$(play_json_field "$json" reasons); $why"
fi
interop_end
