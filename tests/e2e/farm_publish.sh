#!/usr/bin/env bash
# Farm end to end: ffmpeg publishes over RTMP to the real prism-ingest,
# prism-coordinator (PostgreSQL through PRISM_TEST_PGURL) places the stream
# on a real prism-worker, which PUTs the HLS ladder to an nginx origin
# (scripts/origin). Checks: the master playlist is on the origin within 6 s
# of the first packet, and not before every rendition lists a segment,
# stream.live not before the master, every rendition has the ladder's size and frame rate,
# segments are aligned across renditions, ffmpeg reads the master playlist
# over HTTP to the end, and a bad stream key is refused while the good one
# streams. Prints (does not assert) packet-in to segment-on-origin latency
# per rendition.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" publish

farm_start w1 || fail "the farm did not start"
# A short ladder: this test runs on small shared machines.
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 360, "fps": 30, "bitrate_kbps": 700, "codec": "h264"},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
key=$(farm_channel alice e2e 60)
[ -n "$key" ] || fail "no stream key"
rends="source 360p30 240p30"
declare -A want=([source]=640x360 [360p30]=640x360 [240p30]=426x240)

t0=$(date +%s.%N)
farm_publish "$key" 16 640x360 30
master=$FARM_ORIGIN/alice/master.m3u8

# Segment arrival on the origin, per rendition: "wall_s seq" lines.
watch_playlists() {
    local seen r pl n
    declare -A seen
    while kill -0 "$FARM_PUB_PID" 2>/dev/null; do
        if [ -z "${seen[master]:-}" ] && curl -fs -o /dev/null "$master"; then
            seen[master]=1
            echo "$(date +%s.%N) 0" >"$dir/arrivals.master"
        fi
        for r in $rends; do
            pl=$(curl -fs "$FARM_ORIGIN/alice/$r/index.m3u8") || continue
            n=$(awk -F: '/^#EXT-X-MEDIA-SEQUENCE/ {s=$2} /^#EXTINF/ {c++} END {print s+c-1}' <<<"$pl")
            if [ "${seen[$r]:--1}" != "$n" ]; then
                seen[$r]=$n
                echo "$(date +%s.%N) $n" >>"$dir/arrivals.$r"
            fi
        done
        sleep 0.2
    done
}
watch_playlists &
watcher=$!

# A publisher with a bad key is refused while the good one streams.
sleep 3
if ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=15 \
    -t 3 -c:v libx264 -preset ultrafast -f flv \
    "rtmp://127.0.0.1:$FARM_RTMP_PORT/live/live_1_$(printf '0%.0s' $(seq 64))" \
    2>"$dir/badkey.err"; then
    fail "a bad stream key was accepted"
fi
grep -q 'Publish refused.*invalid stream key' "$dir/logs/ingest.log" ||
    fail "the ingest did not refuse the bad key"
echo "bad key refused: $(head -c 200 "$dir/badkey.err")"

farm_wait_url "$master" 20 || fail "no master playlist on the origin"
# The coordinator shows the worker's uploads to the origin (its reports).
for _ in $(seq 50); do
    puts=$(curl -fs "$FARM_API/api/streams" | tr -d ' \n' |
        sed -n 's/.*"origin":{[^}]*"puts":\([0-9]*\).*/\1/p' | head -n1)
    [ "${puts:-0}" -gt 0 ] && break
    sleep 0.2
done
[ "${puts:-0}" -gt 0 ] || fail "the API shows no origin uploads (puts='$puts')"
echo "API: $puts files uploaded to the origin so far"
wait "$FARM_PUB_PID" || true
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true

# First packet: the publish the ingest accepted (its log time, which is
# UTC: "2026-01-02T03:04:05.678Z", read as UTC whatever the host's zone);
# the publisher sends media right after that answer.
accepted=$(grep -m1 'Publish accepted' "$dir/logs/ingest.log" | cut -d' ' -f1)
first_pkt=$(TZ=UTC0 date -u -d "${accepted%Z}" +%s.%N) ||
    fail "cannot read the ingest's log time '$accepted'"
master_seen=$(cut -d' ' -f1 "$dir/arrivals.master")
delay=$(echo "$master_seen - $first_pkt" | bc)
echo "publish accepted at $first_pkt (publisher started $t0); master on the origin after $delay s"
# Accepted after the publisher started and before the master appeared: a
# start time read in the wrong zone is hours off and fails here.
[ "$(echo "$first_pkt >= $t0 - 1 && $delay >= 0" | bc)" = 1 ] ||
    fail "the accept time $first_pkt ($accepted) is not between the publisher's start $t0 and the master $master_seen"
[ "$(echo "$delay < 6" | bc)" = 1 ] || fail "the master took $delay s to appear (> 6 s)"
# The master comes once every rendition lists a segment (the watch polls
# the master first, then each playlist, every 0.2 s): no player is sent to
# a playlist that is missing or empty. And stream.live, which a platform
# sends players on, comes once the master is there (its log time, UTC, at
# most a poll after the watch first saw it).
for r in $rends; do
    first=$(head -n1 "$dir/arrivals.$r" | cut -d' ' -f1)
    [ -n "$first" ] && [ "$(echo "$first - $master_seen < 0.2" | bc)" = 1 ] ||
        fail "the master was on the origin at $master_seen, $r's first segment listed only at ${first:-never}"
done
live=$(grep -m1 'kind=stream.live ' "$dir/logs/coord0.log" | cut -d' ' -f1 || true)
[ -n "$live" ] || fail "no stream.live event"
live_s=$(TZ=UTC0 date -u -d "${live%Z}" +%s.%N)
echo "stream.live $(echo "$live_s - $master_seen" | bc) s after the watch saw the master"
[ "$(echo "$live_s >= $master_seen - 0.25" | bc)" = 1 ] ||
    fail "stream.live ($live) came before the master was on the origin ($master_seen)"

# Let the worker finish (Release after the publisher left): ENDLIST.
wait_endlist "$FARM_ORIGIN/alice/240p30/index.m3u8"

# Sizes and frame rates of every rendition, from the origin.
curl -fs "$master" >"$dir/master.m3u8"
cat "$dir/master.m3u8"
for r in $rends; do
    grep -q "^$r/index.m3u8" "$dir/master.m3u8" || fail "master lacks $r"
    info=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,avg_frame_rate,r_frame_rate \
        -of csv=p=0 "$FARM_ORIGIN/alice/$r/index.m3u8" | sed -n 1p)
    echo "$r: $info"
    IFS=, read -r w h rate _ <<<"$info"
    [ "${w}x${h}" = "${want[$r]}" ] || fail "$r is ${w}x${h}, not ${want[$r]}"
    fps=$(echo "scale=2; $rate" | bc)
    [ "$(echo "$fps > 29 && $fps < 31" | bc)" = 1 ] || fail "$r runs at $rate fps"
done

# Aligned segments: every rendition lists the same numbers and the same
# durations. The last segment ends at each rendition's own last frame (the
# remuxed Source at its last packet), so it may differ by a frame: it is
# counted but its duration is not compared.
for r in $rends; do
    curl -fs "$FARM_ORIGIN/alice/$r/index.m3u8" |
        awk -F'[:,]' '/^#EXT-X-MEDIA-SEQUENCE/ {print "seq", $2} /^#EXTINF/ {printf "%.1f\n", $2}' |
        sed '$s/.*/last/' >"$dir/durations.$r"
done
for r in $rends; do
    cmp -s "$dir/durations.source" "$dir/durations.$r" ||
        fail "segments of $r differ from source: $(paste -sd' ' "$dir/durations.$r") vs $(paste -sd' ' "$dir/durations.source")"
done
echo "aligned segments: $(paste -sd' ' "$dir/durations.source")"

# A player reads the master to the end.
play_master "$master"
! grep -qi 'error' "$dir/play.err" || fail "player errors: $(cat "$dir/play.err")"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$FARM_ORIGIN/alice/360p30/index.m3u8")
echo "player read the master to the end; 360p30 window lasts ${dur} s"

# Latency, printed: segment end (media time since the first packet) to
# its appearance on the origin.
for r in $rends; do
    [ -f "$dir/arrivals.$r" ] || continue
    awk -v t0="$first_pkt" -v seg=2 -v r="$r" '
        NR == 1 {first = $2}
        {n = $2 - first + 1; lat = $1 - t0 - n * seg; sum += lat; c++
         if (lat > max) max = lat}
        END {if (c) printf "latency %s: %d segments, mean %.2f s, max %.2f s (packet in to segment on origin)\n", r, c, sum / c, max}' \
        "$dir/arrivals.$r"
done
echo "farm publish e2e: ok"
