#!/usr/bin/env bash
# A streamer goes live while PostgreSQL is away (real ingest, coordinator,
# worker, nginx origin, ffmpeg publishers; the farm's own throwaway
# PostgreSQL cluster, which the test stops and starts):
#  1. Channel "known" goes live once and ends: the coordinator has read its
#     channel row. Channel "stranger" exists but has never published.
#  2. PostgreSQL stops (60 s). "known" publishes again: admitted from the
#     coordinator's channel cache, its whole ladder is on the origin within
#     6 s of the publish starting, and hls.js plays it. "stranger" is
#     refused with "database unavailable, try again shortly" (its ffmpeg
#     fails; the ingest logs the reason); a wrong key for "known" is
#     refused as invalid.
#  3. PostgreSQL starts again: the events of the outage reach the events
#     table in the order they happened, each with the time it happened
#     (before the database came back), and "known"'s stream.started says
#     from_cache.
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" dbout
# shellcheck source=tests/e2e/lib/player.sh
source "$src/tests/e2e/lib/player.sh"

OUTAGE_S=60
farm_pg || fail "no PostgreSQL"
[ -n "${FARM_PG_PORT:-}" ] || fail "the test needs the farm's own PostgreSQL cluster"
pg_ctl_farm() { PRISM_PG_DIR=$dir/pg PRISM_PG_PORT=$FARM_PG_PORT "$src/scripts/pg-local" "$1" >&2; }
metric() { curl -fs "$FARM_API/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
farm_origin || fail "no origin"
farm_coord 0 || fail "the coordinator did not start"
farm_key w1 # before the ingest starts: it reads its allowlist every 5 s
farm_ingest || fail "the ingest did not start"
farm_worker w1
farm_wait_workers 1
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
known=$(farm_channel known e2e)
stranger=$(farm_channel stranger e2e)
[ -n "$known" ] && [ -n "$stranger" ] || fail "no channels"

# 1. "known" goes live once, then its publisher leaves and the stream ends.
farm_publish "$known" 5 640x360 30
wait_running known w1 20
wait "$FARM_PUB_PID" || true
for _ in $(seq 300); do
    [ -z "$(farm_stream_field known state)" ] && break
    sleep 0.1
done
[ -z "$(farm_stream_field known state)" ] || fail "the first stream of known did not end"
# The next stream of known starts new playlists at the same URLs.
rm -rf "$dir/origin/www/live/known"
hls_check_forget known

# 2. The database goes away.
pg_ctl_farm stop
for _ in $(seq 150); do
    [ "$(metric prism_db_up)" = 0 ] && break
    sleep 0.1
done
[ "$(metric prism_db_up)" = 0 ] || fail "the coordinator still says the database is up"
t_down=$(date +%s.%N)
bad_key=${known%?}$([ "${known: -1}" = 0 ] && echo 1 || echo 0)
farm_publish "$bad_key" 5 640x360 30
bad_pid=$FARM_PUB_PID
farm_publish "$stranger" 10 640x360 30
stranger_pid=$FARM_PUB_PID
declare -A t0=() ready=() # wait_ladders reads both
t0[known]=$(date +%s.%N)
farm_publish "$known" $((OUTAGE_S + 10)) 640x360 30
wait_ladders 6 known
! wait "$stranger_pid" || fail "stranger's publish was not refused during the outage"
! wait "$bad_pid" || fail "a wrong key for known was not refused during the outage"
grep -q 'Publish refused.*reason="database unavailable, try again shortly"' "$dir/logs/coord0.log" ||
    fail "no 'database unavailable' refusal for stranger in the logs"
grep -q 'kind=publish.rejected .*"reason":"invalid stream key"' "$dir/logs/coord0.log" ||
    fail "the wrong key for known was not refused as invalid"
echo "refused during the outage: stranger (database unavailable), the wrong key (invalid stream key)"
[ "$(metric prism_publish_cache_admits_total)" = 1 ] ||
    fail "prism_publish_cache_admits_total is '$(metric prism_publish_cache_admits_total)', not 1"
out=$(play_hls "$FARM_ORIGIN/known/master.m3u8" 8) ||
    fail "hls.js did not play known during the outage: $out"
echo "hls.js during the outage: startup $(play_json_field "$out" startup_s) s, advance/wall $(play_json_field "$out" ratio)"
queued=$(metric prism_db_queue)
left=$(echo "$OUTAGE_S - ($(date +%s.%N) - $t_down)" | bc)
[ "$(echo "$left > 0" | bc)" = 1 ] && sleep "$left"
[ "$(farm_stream_field known state)" = running ] ||
    fail "known is not running after $OUTAGE_S s without the database"

# 3. The database comes back; the outage's events arrive, in order.
t_up=$(date +%s.%N)
pg_ctl_farm start
for _ in $(seq 150); do
    [ "$(metric prism_db_up)" = 1 ] && [ "$(metric prism_db_queue)" = 0 ] && break
    sleep 0.1
done
[ "$(metric prism_db_up)" = 1 ] || fail "the coordinator did not reconnect to PostgreSQL"
id=$(farm_stream_field known id)
rows=$(farm_sql "SELECT id, kind, extract(epoch FROM at), coalesce(detail->>'from_cache', '')
    FROM events WHERE stream_id = '$id' ORDER BY id")
echo "$queued writes were queued; known's events after the outage:"
sed 's/^/  /' <<<"$rows"
awk -F'|' -v down="$t_down" -v up="$t_up" '
    NR == 1 && $2 != "stream.started" {print "the first event is " $2; bad = 1}
    NR == 1 && $4 != "true" {print "stream.started does not say from_cache"; bad = 1}
    $2 == "stream.placed" {placed = 1}
    $3 < down - 1 || $3 > up {print $2 " at " $3 " is not within the outage (" down " to " up ")"; bad = 1}
    NR > 1 && $3 < last {print $2 " is listed after an event that came later"; bad = 1}
    {last = $3}
    END {if (!placed) {print "no stream.placed"; bad = 1}; exit bad}' <<<"$rows" ||
    fail "the outage's events are not in PostgreSQL as they happened"
echo "farm db outage e2e: ok"
