#!/usr/bin/env bash
# Farm drain end to end (real ingest, coordinator with PostgreSQL through
# PRISM_TEST_PGURL, two workers, nginx origin, ffmpeg): the operator drains
# the worker carrying a stream with move=true. The stream moves to the
# other worker, the drained one stops at a keyframe, the playlists go on
# (never backwards, a discontinuity at the join, never ended while the
# stream moves, numbering exactly continued at the join: check_join) and
# a stream published while the worker drains goes to the other worker.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" drain

farm_start "w1 w2" || fail "the farm did not start"
publish_e2e dave 18
wait_segment 240p30 2
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
grep -q '"draining": *true' <<<"$(curl -fs "$FARM_API/api/workers/$from")" || fail "$from is not draining"

# A new stream while $from drains goes to $to.
pub1=$FARM_PUB_PID
key2=$(farm_channel erin e2e)
[ -n "$key2" ] || fail "no stream key for the second channel"
farm_publish "$key2" 6 640x360 30
on=
for _ in $(seq 150); do
    on=$(farm_stream_field erin worker)
    [ -n "$on" ] && break
    sleep 0.1
done
[ "$on" = "$to" ] || fail "the new stream went to '$on', not $to ($from drains)"
echo "a new stream while $from drains: placed on $on"

wait "$pub1" || true
published=$(date +%s.%N)
sleep 1
kill "$FARM_WATCH_PID" 2>/dev/null || true
farm_check_forward "$dir/watch" || fail "a playlist went backwards or skipped segments"
check_join "$to" dave "source 240p30"
awk -v t="$published" '$7 == 1 && $1 < t' "$dir/watch" | grep -q . &&
    fail "a playlist was ended (EXT-X-ENDLIST) while the stream moved"
echo "farm drain e2e: ok"
