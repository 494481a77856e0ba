#!/usr/bin/env bash
# Farm capacity end to end (real ingest, coordinator with PostgreSQL
# through PRISM_TEST_PGURL, workers, nginx origin, ffmpeg): workers limited
# to 4 encoder sessions and a ladder of 4 encoded renditions plus Source.
#  1. Two workers: the second stream goes to the other worker, whole.
#  2. No worker at all for a moment, then one with 4 sessions: both streams
#     go live on it, the higher-priority channel with the whole ladder and
#     the other with the renditions that fit (Source, no encoder).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" capacity
# renditions CHANNEL: the names of the stream's renditions in the API.
renditions() {
    curl -fs "$FARM_API/api/streams" | tr -d ' \n' |
        sed 's/{"channel":"/\n&/g' | grep "^{\"channel\":\"$1\"" |
        grep -o '"renditions":\[[^]]*\]' | grep -o '"name":"[^"]*"' |
        cut -d'"' -f4 | paste -sd' ' || true
}

FARM_REPORT_MS=300
farm_key w3 # before the ingest starts: it reads its allowlist once
farm_start "w1 w2" --cpu-max-sessions 4 || fail "the farm did not start"
w1=${FARM_WORKER_PIDS[w1]}
w2=${FARM_WORKER_PIDS[w2]}
farm_profile four '{"name": "four", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 15, "bitrate_kbps": 300, "codec": "h264"},
    {"height": 180, "fps": 15, "bitrate_kbps": 200, "codec": "h264"},
    {"height": 144, "fps": 15, "bitrate_kbps": 150, "codec": "h264"},
    {"height": 120, "fps": 15, "bitrate_kbps": 100, "codec": "h264"}]}'
klow=$(farm_channel low four 20)
khigh=$(farm_channel high four 80)
all="source 240p15 180p15 144p15 120p15"

# 1. Two workers, 4 sessions each: one stream per worker.
farm_publish "$klow" 40 426x240 15
publow=$FARM_PUB_PID
for _ in $(seq 100); do
    first=$(farm_stream_field low worker)
    [ -n "$first" ] && break
    sleep 0.1
done
[ -n "$first" ] || fail "the first stream was not placed"
wait_running low "$first"
second=w1
[ "$first" = w1 ] && second=w2
farm_publish "$khigh" 40 426x240 15
pubhigh=$FARM_PUB_PID
wait_running high "$second"
[ "$(renditions low)" = "$all" ] || fail "low has '$(renditions low)'"
[ "$(renditions high)" = "$all" ] || fail "high has '$(renditions high)'"
echo "two workers: low on $first, high on $second, each with: $all"
farm_wait_url "$FARM_ORIGIN/high/120p15/index.m3u8" 20 || fail "high has no 120p15 on the origin"

# 2. Both workers die; a new one with 4 sessions takes both streams.
kill -9 "$w1" "$w2"
wait "$w1" "$w2" 2>/dev/null || true
for _ in $(seq 100); do
    [ "$(farm_stream_field low state)" = pending ] &&
        [ "$(farm_stream_field high state)" = pending ] && break
    sleep 0.1
done
[ "$(farm_stream_field low state)" = pending ] &&
    [ "$(farm_stream_field high state)" = pending ] ||
    fail "with no worker left the streams are not both pending (low '$(farm_stream_field low state)', high '$(farm_stream_field high state)')"
echo "both streams pending: $(farm_stream_field low state) $(farm_stream_field high state)"
farm_worker w3 --cpu-max-sessions 4
wait_running high w3
wait_running low w3
[ "$(renditions high)" = "$all" ] || fail "high has '$(renditions high)', not the whole ladder"
[ "$(renditions low)" = source ] || fail "low has '$(renditions low)', not Source alone"
[ "$(farm_stream_field low partial)" = true ] || fail "low is not marked partial"
[ "$(farm_stream_field high partial)" = false ] || fail "high is marked partial"
echo "one worker: high (priority 80) whole ladder, low (priority 20) live with: $(renditions low)"
# Both are live on the origin: low's master lists Source alone.
for _ in $(seq 150); do
    m=$(curl -fs "$FARM_ORIGIN/low/master.m3u8" || true)
    grep -q '^source/index.m3u8' <<<"$m" && ! grep -q 240p15 <<<"$m" && break
    sleep 0.1
done
grep -q '^source/index.m3u8' <<<"$m" && ! grep -q 240p15 <<<"$m" ||
    fail "low's master is not Source alone: $m"
# Both keep streaming on w3: each playlist's last segment number (media
# sequence + segments listed - 1) grows by at least 2 (two 2 s segments)
# within 12 s.
last_seg() {
    { curl -fs "$1" || true; } | awk -F: '/MEDIA-SEQUENCE/ {s = $2} /EXTINF/ {c++} END {print (c ? s + c - 1 : -1)}'
}
h0=$(last_seg "$FARM_ORIGIN/high/120p15/index.m3u8")
l0=$(last_seg "$FARM_ORIGIN/low/source/index.m3u8")
end=$((SECONDS + 12))
while :; do
    h1=$(last_seg "$FARM_ORIGIN/high/120p15/index.m3u8")
    l1=$(last_seg "$FARM_ORIGIN/low/source/index.m3u8")
    [ "${h1:--1}" -ge $((h0 + 2)) ] && [ "${l1:--1}" -ge $((l0 + 2)) ] && break
    [ $SECONDS -lt $end ] ||
        fail "the streams do not go on on w3: high 120p15 last segment $h0 -> $h1, low source $l0 -> $l1 in 12 s"
    sleep 0.2
done
echo "on w3: high 120p15 last segment $h0 -> $h1, low source $l0 -> $l1"
kill "$publow" "$pubhigh" 2>/dev/null || true
echo "farm capacity e2e: ok"
