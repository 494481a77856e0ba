#!/usr/bin/env bash
# Farm failover end to end (real ingest, coordinator with PostgreSQL
# through PRISM_TEST_PGURL, two workers, nginx origin, ffmpeg): kill -9 of
# the worker carrying a stream. The stream must go on on the other worker:
# its playlists continue (the media sequence goes on, EXT-X-DISCONTINUITY
# marks the join), no rendition playlist ever goes backwards, and a player
# reads the master to the end. The new worker's first segment is on the
# origin within 5 s of the kill (asserted), its numbering continues the
# old worker's exactly (check_join), and the playlists end (ENDLIST) when
# the publisher leaves. farm_worker_stop.sh runs it with FAILOVER_SIGNAL=TERM.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
sig=${FAILOVER_SIGNAL:-KILL}
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" "failover-${sig,,}"

FARM_REPORT_MS=300 # dead after 3 missed reports: 0.9 s
farm_start "w1 w2" || fail "the farm did not start"
publish_e2e bob 24
rends="source 240p30"

# Wait for a few segments from the first worker.
wait_segment 240p30 2
carrier=$(farm_stream_field bob worker)
gen1=$(farm_stream_field bob generation)
[ -n "$carrier" ] || fail "no worker carries the stream"
other=w1
[ "$carrier" = w1 ] && other=w2
before=$(farm_watch_last "$dir/watch" 240p30)
echo "stream on $carrier (generation $gen1), last segment $before; kill -$sig"
t_kill=$(date +%s.%N)
kill -"$sig" "${FARM_WORKER_PIDS[$carrier]}"
wait "${FARM_WORKER_PIDS[$carrier]}" 2>/dev/null || true

# The new worker's first segment: the playlists show a discontinuity.
t_back=$(joined_at 240p30)
[ -n "$t_back" ] || fail "the stream did not continue after the kill"
now_on=$(farm_stream_field bob worker)
gen2=$(farm_stream_field bob generation)
[ "$now_on" = "$other" ] || fail "the stream is on '$now_on', not on $other"
[ "$gen2" -gt "$gen1" ] || fail "generation did not grow ($gen1 -> $gen2)"
took=$(echo "$t_back - $t_kill" | bc)
echo "continued on $other (generation $gen2) $took s after the kill (target 5 s)"
[ "$(echo "$took < 5" | bc)" = 1 ] ||
    fail "the new worker's first segment reached the origin $took s after the kill (target 5 s)"

wait "$FARM_PUB_PID" || true
wait_endlist "$FARM_ORIGIN/bob/240p30/index.m3u8"
kill "$FARM_WATCH_PID" 2>/dev/null || true

farm_check_forward "$dir/watch" || fail "a playlist went backwards or skipped segments"
check_join "$other" bob "$rends"
play_master "$FARM_ORIGIN/bob/master.m3u8"
echo "failover measured: kill -$sig to the new worker's first segment on the origin: $took s"
echo "farm failover e2e: ok"
