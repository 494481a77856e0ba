#!/usr/bin/env bash
# Low-Latency HLS on a real farm (PostgreSQL through PRISM_TEST_PGURL, the
# coordinator, two workers, the ingest, prism-origin, ffmpeg publishing
# 720p30 with audio), played by hls.js in lowLatencyMode in Chromium:
#  - the master appears once every rendition lists a segment, and the
#    coordinator's stream.live not before it;
#  - while it runs, every rendition playlist the origin serves passes the
#    validator's LL-HLS rules (each snapshot, and against the one before),
#    a delta update (_HLS_skip=YES) applied to the full playlist before
#    it equals the full one, and the rendition reports agree;
#  - a blocking reload for the next part is held, then answered with it;
#  - the player, through an nginx edge cache (configs/nginx/edge.conf) over
#    HTTPS with HTTP/2, plays at low latency (now - hls.playingDate,
#    sampled every 0.5 s), and through a kill -9 of the carrying worker it
#    goes on (the other worker continues the playlists after a
#    discontinuity); a kill -9 and restart of the coordinator then changes
#    nothing the player sees (no stall over 1 s, the stream adopted where
#    it runs);
#  - prism-bench latency measures every rendition.
# The latency figures are printed; the checks on them are loose (a
# shared machine is noisy): scripts/bench-latency is the measurement.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" llhls
check=$build/tools/prism-hls-check

FARM_ORIGIN_KIND=prism
FARM_REPORT_MS=300 # a dead worker is found in 0.9 s
# A 24 s window: longer than CAN-SKIP-UNTIL (12 s), so deltas skip.
farm_start "w1 w2" --list-size 12 || fail "the farm did not start"
farm_edge || fail "the nginx edge did not start" # the player goes through it
farm_profile ll '{"name": "ll", "segment_ms": 2000, "part_ms": 334,
  "renditions": [{"name": "source", "remux": true},
    {"height": 360, "fps": 30, "bitrate_kbps": 700, "codec": "h264"},
    {"height": 160, "fps": 30, "bitrate_kbps": 250, "codec": "h264"}]}'
key=$(farm_channel llc ll 60)
[ -n "$key" ] || fail "no stream key"
rends="source 360p30 160p30"
base=$FARM_ORIGIN/llc
farm_publish "$key" 90 1280x720 30
farm_wait_url "$base/master.m3u8" 20 || fail "no master playlist on the origin"
master_seen=$(date +%s.%N)
for r in $rends; do
    farm_wait_url "$base/$r/index.m3u8" 10 || fail "no $r playlist on the origin"
    grep -q '^#EXTINF' <(curl -fs "$base/$r/index.m3u8") ||
        fail "the master is out but $r's playlist lists no segment yet"
done
# stream.live, which a platform sends players on, not before the master
# is there (parts reach the origin 2 s before: the master waits for every
# rendition's first segment). Its log time is UTC; the watch above polls
# every 0.1 s.
live=$(grep -m1 'kind=stream.live ' "$dir/logs/coord0.log" | cut -d' ' -f1 || true)
for _ in $(seq 20); do
    [ -n "$live" ] && break
    sleep 0.1
    live=$(grep -m1 'kind=stream.live ' "$dir/logs/coord0.log" | cut -d' ' -f1 || true)
done
[ -n "$live" ] || fail "no stream.live event 2 s after the master"
live_s=$(TZ=UTC0 date -u -d "${live%Z}" +%s.%N)
echo "stream.live $(echo "$live_s - $master_seen" | bc) s after the master was seen"
[ "$(echo "$live_s >= $master_seen - 0.15" | bc)" = 1 ] ||
    fail "stream.live ($live) came before the master was on the origin"

# The LL-HLS rules on what the origin serves, every 0.3 s, until stopped.
validate() {
    local r n=0 st=$dir/ll
    mkdir -p "$st"
    while :; do
        for r in $rends; do
            curl -fs "$base/$r/index.m3u8" -o "$st/$r.now" || continue
            grep -q EXT-X-ENDLIST "$st/$r.now" && continue
            if [ -f "$st/$r.prev" ]; then
                "$check" --ll --prev "$st/$r.prev" "$st/$r.now" >>"$st/problems" 2>&1 ||
                    cp "$st/$r.now" "$st/$r.bad.$n"
            else
                "$check" --ll "$st/$r.now" >>"$st/problems" 2>&1
            fi
            mv "$st/$r.now" "$st/$r.prev"
        done
        n=$((n + 1))
        if [ $((n % 5)) = 0 ]; then
            # The three at once: their reports agree; and a delta update.
            for r in $rends; do
                mkdir -p "$st/rep/$r"
                curl -fs "$base/$r/index.m3u8" -o "$st/rep/$r/index.m3u8" &
            done
            wait
            # A rendition whose encoder lags (one shared core) reports
            # the others as of its own last part: counted apart below.
            echo x >>"$st/report-checks"
            (cd "$st/rep" && "$check" --reports --ll source/index.m3u8 \
                360p30/index.m3u8 160p30/index.m3u8 >report.out 2>&1) ||
                { grep -q 'rendition-report: ' "$st/rep/report.out" &&
                    echo x >>"$st/report-lags"; grep -v 'rendition-report: ' \
                    "$st/rep/report.out" >>"$st/problems"; }
            # A delta and the full playlist of one moment: the full one
            # before and after the delta the same (a part comes every
            # 334 ms; a pair that raced one is not compared).
            if curl -fs "$base/360p30/index.m3u8" -o "$st/full.m3u8" &&
                curl -fs "$base/360p30/index.m3u8?_HLS_skip=YES" -o "$st/delta.m3u8" &&
                curl -fs "$base/360p30/index.m3u8" -o "$st/full2.m3u8" &&
                cmp -s "$st/full.m3u8" "$st/full2.m3u8" &&
                grep -q EXT-X-SKIP "$st/delta.m3u8"; then
                echo x >>"$st/skips"
                "$check" --prev "$st/full.m3u8" --delta "$st/delta.m3u8" \
                    "$st/full.m3u8" >>"$st/problems" 2>&1 || true
            fi
        fi
        echo "$n" >"$st/passes"
        sleep 0.3
    done
}
validate &
farm_track $! ll-validate

# A blocking reload for the part after the newest is held, then answered.
for _ in $(seq 50); do
    pl=$(curl -fs "$base/360p30/index.m3u8") || fail "the 360p30 playlist went away"
    last=$(grep -o 'LAST-MSN=[0-9]*,LAST-PART=[0-9]*' <<<"$pl" | head -1) && break
    sleep 0.1
done
msn=$(sed 's/LAST-MSN=\([0-9]*\),.*/\1/' <<<"$last")
part=$(sed 's/.*LAST-PART=//' <<<"$last")
[ -n "$msn" ] || fail "no rendition report in the 360p30 playlist"
got=$(curl -s -o "$dir/blocked.m3u8" -w '%{http_code} %{time_total}' \
    "$base/360p30/index.m3u8?_HLS_msn=$msn&_HLS_part=$((part + 2))")
echo "blocking reload for $msn.$((part + 2)): $got"
[ "${got%% *}" = 200 ] || fail "the blocking reload answered ${got%% *}"
grep -q "seg_$(printf %05d "$msn")_[0-9a-f]*\.$((part + 2))\.m4s\|LAST-MSN=$((msn + 1))" \
    "$dir/blocked.m3u8" || grep -q "seg_$(printf %05d $((msn + 1)))_" "$dir/blocked.m3u8" ||
    fail "the blocking reload's answer does not have the part asked for"

# hls.js in lowLatencyMode for 40 s; the carrying worker dies at 22 s, the
# coordinator (kill -9, started again) at 31 s.
carrier=$(farm_stream_field llc worker)
[ -n "$carrier" ] || fail "no worker carries the stream"
(
    sleep 22
    date +%s%3N >"$dir/kill_ms"
    kill -9 "${FARM_WORKER_PIDS[$carrier]}"
    sleep 9
    farm_stream_field llc generation >"$dir/gen_before"
    date +%s%3N >"$dir/coord_kill_ms"
    kill -9 "$FARM_COORD_PID"
    for _ in $(seq 50); do
        kill -0 "$FARM_COORD_PID" 2>/dev/null || break
        sleep 0.05
    done
    farm_coord 0
) &
killer=$!
node "$src/tests/e2e/player/play.js" "$FARM_EDGE_TLS/llc/master.m3u8" 40 \
    --low-latency --ignore-https-errors --max-latency 4 --max-stall 5 \
    >"$dir/play.json" 2>"$dir/play.err" || {
    cat "$dir/play.json" "$dir/play.err" >&2
    fail "hls.js (lowLatencyMode) did not play the LL-HLS stream"
}
wait "$killer" || fail "the coordinator did not start again"
now_on=$(farm_stream_field llc worker)
[ -n "$now_on" ] && [ "$now_on" != "$carrier" ] ||
    fail "the stream is on '$now_on' after $carrier was killed"
# The coordinator's restart changed nothing: the stream was adopted where
# it ran (same generation), and the player did not stall after it.
gen=$(farm_stream_field llc generation)
[ -n "$gen" ] && [ "$gen" = "$(cat "$dir/gen_before")" ] ||
    fail "the stream was placed again across the coordinator's restart ($(cat "$dir/gen_before") -> $gen)"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const at = Number(require("fs").readFileSync(process.argv[2], "utf8"));
const stalls = r.stall_times.filter(([t, len]) => t + len * 1000 >= at);
const lat = r.latency_series.filter(([t]) => t >= at).map(([, l]) => l);
const worst = stalls.reduce((m, [, l]) => Math.max(m, l), 0);
console.log(`after the coordinator restart: ${lat.length} samples, latency max ` +
    `${Math.max(...lat)} s, longest stall ${worst} s`);
if (!lat.length || worst > 1) process.exit(1);
' "$dir/play.json" "$dir/coord_kill_ms" ||
    fail "the player stalled over 1 s across the coordinator's restart"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const kill = Number(require("fs").readFileSync(process.argv[2], "utf8"));
const before = r.latency_series.filter(([t]) => t < kill).map(([, l]) => l).sort((a, b) => a - b);
const after = r.latency_series.filter(([t]) => t >= kill);
const stalls = r.stall_times.filter(([t, len]) => t + len * 1000 >= kill);
const back = after.find(([t, l]) => l < 2.5 && after.every(([u, m]) => u < t || m < 2.5));
console.log(`latency before the kill: median ${before[before.length >> 1]} s, ` +
    `max ${before[before.length - 1]} s (${before.length} samples); ` +
    `longest stall after it: ${stalls.reduce((m, [, l]) => Math.max(m, l), 0)} s; ` +
    `under 2.5 s for good ${back ? ((back[0] - kill) / 1000).toFixed(1) + " s after it" : "never"}; ` +
    `levels played ${JSON.stringify(r.levels_played)}`);
' "$dir/play.json" "$dir/kill_ms"

# The edge served the player, over HTTP/2: its cache answered some of it.
hits=$(curl -fs "http://127.0.0.1:$FARM_EDGE_PORT/healthz" >/dev/null &&
    find "$dir/edge/cache" -type f | wc -l)
[ "$hits" -gt 0 ] || fail "the edge cached nothing the player asked for"
h2=$(grep -c '^HTTP/2.0 200 .*\.m4s' "$dir/edge/logs/access.log" || true)
h1=$(grep -c '^HTTP/1.1 .*\.m4s' "$dir/edge/logs/access.log" || true)
echo "edge cache: $hits files; parts and segments sent over HTTP/2: $h2, HTTP/1.1: $h1"
[ "$h2" -gt 50 ] && [ "$h1" = 0 ] || fail "the player did not fetch over HTTP/2"

# Part availability per rendition, on the worker that took over.
"$build/bench/prism-bench" latency "$base/master.m3u8" --seconds 4 >"$dir/bench.txt" ||
    { cat "$dir/bench.txt"; fail "prism-bench latency measured nothing"; }
cat "$dir/bench.txt"

kill "$(awk '$2 == "ll-validate" {print $1}' "$dir/pids")" 2>/dev/null || true
passes=$(cat "$dir/ll/passes" 2>/dev/null || echo 0)
[ "$passes" -ge 40 ] || fail "the LL-HLS playlists were checked only $passes times"
[ -s "$dir/ll/skips" ] || fail "no delta update skipped a segment"
checks=$(wc -l <"$dir/ll/report-checks")
lags=0
[ -f "$dir/ll/report-lags" ] && lags=$(wc -l <"$dir/ll/report-lags")
echo "rendition reports: $lags of $checks sets more than a part apart"
[ $((lags * 5)) -le "$checks" ] ||
    fail "the rendition reports disagree in $lags of $checks sets"
sed -i '/^$/d' "$dir/ll/problems" 2>/dev/null || true
if [ -s "$dir/ll/problems" ]; then
    sort "$dir/ll/problems" | uniq -c | sort -rn | head -20 >&2
    fail "the origin served LL-HLS playlists that break the rules"
fi
echo "ok: $passes passes of LL-HLS checks, $(wc -l <"$dir/ll/skips") delta updates checked"
