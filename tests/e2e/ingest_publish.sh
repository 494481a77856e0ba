#!/usr/bin/env bash
# End to end: the real prism-ingest binary (open mode) takes ffmpeg
# publishers over RTMP and SRT on loopback, survives a hostile client, and
# prism-bench ingest measures it beside nginx-rtmp with no lost packets.
set -euo pipefail
build=${PRISM_BUILD_DIR:?}
src=${PRISM_SOURCE_DIR:?}
dir=$(mktemp -d "$build/ingest-e2e.XXXXXX")
ingest_pid=
cleanup() {
    [ -n "$ingest_pid" ] && kill "$ingest_pid" 2>/dev/null && wait "$ingest_pid" || true
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$dir/ingest.log" ] && tail -n 30 "$dir/ingest.log" >&2
    exit 1
}

# Loopback ports nobody listens on, below the ephemeral range
# (farm_port of scripts/farm).
# shellcheck source=scripts/farm
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/farm"
FARM_DIR=$dir
free_port() { farm_port; }
rtmp=$(free_port)
srt=$(free_port)
media=$(free_port)

ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=320x240:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:v libx264 \
    -preset ultrafast -g 30 -pix_fmt yuv420p -c:a aac -shortest "$dir/clip.flv"

"$build/ingest/prism-ingest" --config "$src/configs/ingest.ini" \
    --coordinator "" --key-file "" --rtmp-listen "127.0.0.1:$rtmp" \
    --srt-listen "127.0.0.1:$srt" --media-bind "tcp://127.0.0.1:$media" \
    --handshake-timeout-ms 1000 >"$dir/ingest.log" 2>&1 &
ingest_pid=$!
for _ in $(seq 200); do # 20 s: an ASan build on a busy host starts slowly
    grep -q "Ingest ready" "$dir/ingest.log" && break
    kill -0 "$ingest_pid" 2>/dev/null || fail "prism-ingest exited at start"
    sleep 0.1
done
grep -q "Ingest ready" "$dir/ingest.log" || fail "prism-ingest not ready in 20 s"

# A hostile client first: garbage instead of a handshake.
head -c 5000 /dev/urandom >"$dir/garbage"
exec 3<>"/dev/tcp/127.0.0.1/$rtmp"
{ printf '\x07'; cat "$dir/garbage"; } >&3 2>/dev/null || true
timeout 3 cat <&3 >/dev/null 2>&1 || true
exec 3<&-

ffmpeg -nostdin -loglevel error -re -i "$dir/clip.flv" -c copy -f flv \
    "rtmp://127.0.0.1:$rtmp/live/e2ekey"
ffmpeg -nostdin -loglevel error -re -i "$dir/clip.flv" -c copy -f mpegts \
    "srt://127.0.0.1:$srt?streamid=e2esrt&linger=2"
sleep 0.5
grep -q 'Publish accepted." stream=e2ekey addr=127.0.0.1 proto=rtmp' "$dir/ingest.log" ||
    fail "the RTMP publish was not accepted"
grep -q 'Publish accepted." stream=e2esrt addr=127.0.0.1 proto=srt' "$dir/ingest.log" ||
    fail "the SRT publish was not accepted"
grep -q 'why="bad handshake version"' "$dir/ingest.log" ||
    fail "the hostile client was not refused"
kill "$ingest_pid"
wait "$ingest_pid"
ingest_pid=

# The bench: both servers, a light load, nothing lost.
out=$("$build/bench/prism-bench" ingest --publishers 3 --bitrate 800 \
    --seconds 3 --json --workdir "$dir/bench" --port "$(free_port)")
echo "$out"
field() { # field NAME: the number after "NAME": in the summary (last line)
    tail -n 1 <<<"$out" | sed -n "s/.*\"$1\": \(-\{0,1\}[0-9.]*\).*/\1/p"
}
for k in cpu_per_mbps nginx_cpu_per_mbps latency_p50_ms latency_p99_ms \
    lost_packets cpu_ratio; do
    [ -n "$(field "$k")" ] || fail "the bench's JSON lacks $k"
done
[ "$(field lost_packets)" = 0 ] || fail "prism-ingest lost $(field lost_packets) packets"
[ "$(field nginx_lost_packets)" = 0 ] || fail "nginx lost $(field nginx_lost_packets) packets"
[ "$(field sent_packets)" -gt 100 ] || fail "only $(field sent_packets) packets sent"
echo "ingest e2e: ok"
