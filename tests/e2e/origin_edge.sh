#!/usr/bin/env bash
# prism-origin behind nginx with configs/nginx/edge.conf: two players asking
# the edge at once for the same preload-hinted part, and then for the same
# blocking playlist, cost the origin one request each (its /metrics), and
# both get the answer when the worker's PUT arrives; over HTTPS with
# HTTP/2, a blocking playlist request and the hinted part share one
# connection and are both answered.
set -euo pipefail
origin=${PRISM_BUILD_DIR:?}/origin/prism-origin
src=${PRISM_SOURCE_DIR:?}
command -v nginx >/dev/null || {
    echo "nginx is not installed: skipped"
    exit 77
}
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    cat "$tmp/origin.log" "$tmp/edge/logs/error.log" >&2 2>/dev/null || true
    exit 1
}
# shellcheck source=scripts/farm
source "$src/scripts/farm"
FARM_DIR=$tmp
oport=$(farm_port)
origin_url=http://127.0.0.1:$oport
"$origin" --listen "127.0.0.1:$oport" >"$tmp/origin.log" 2>&1 &
pids+=($!)
farm_edge "$oport" || fail "the edge did not start"
pids+=("$FARM_EDGE_PID")
edge=http://127.0.0.1:$FARM_EDGE_PORT

gets() { # GETs that reached the origin with 200 (this call's own excluded)
    curl -fs "$origin_url/metrics" |
        awk '$1 == "prism_origin_requests_total{method=\"GET\",code=\"200\"}" { v = $2 } END { print v + 0 }'
}
put() { curl -fs -o /dev/null -X PUT --data-binary "@$2" "$origin_url$1"; }
playlist() { # playlist PARTS: segment 40 complete, PARTS parts of 41
    printf '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n'
    printf '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000\n'
    printf '#EXT-X-PART-INF:PART-TARGET=0.33334\n#EXT-X-MEDIA-SEQUENCE:40\n'
    printf '#EXT-X-MAP:URI="init_00040.mp4"\n#EXTINF:2.00000,\nseg_00040.m4s\n'
    for ((p = 0; p < $1; p++)); do
        printf '#EXT-X-PART:DURATION=0.33333,URI="seg_00041.%d.m4s"\n' $p
    done
    printf '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg_00041.%d.m4s"\n' "$1"
}
dir=/live/e/720p30
playlist 1 >"$tmp/p1"
put $dir/index.m3u8 "$tmp/p1" || fail "PUT"

# The hinted part 41.1, asked twice at once through the edge.
before=$(gets)
for i in 1 2; do
    curl -s -o "$tmp/part$i" -w '%{http_code}' "$edge$dir/seg_00041.1.m4s" \
        >"$tmp/code$i" &
    pids+=($!)
done
sleep 1
echo "part 41.1" >"$tmp/part"
put $dir/seg_00041.1.m4s "$tmp/part" || fail "part PUT"
playlist 2 >"$tmp/p2"
for i in 1 2; do
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
done
for i in 1 2; do
    [ "$(cat "$tmp/code$i")" = 200 ] || fail "player $i: $(cat "$tmp/code$i")"
    cmp -s "$tmp/part$i" "$tmp/part" || fail "player $i: other bytes"
done
n=$(($(gets) - before - 1))
[ $n = 1 ] || fail "two players of one part cost the origin $n requests"

# The same blocking playlist request, twice at once through the edge.
before=$(gets)
q="_HLS_msn=41&_HLS_part=2"
for i in 1 2; do
    curl -s -o "$tmp/pl$i" -w '%{http_code}' "$edge$dir/index.m3u8?$q" \
        >"$tmp/plc$i" &
    pids+=($!)
done
sleep 1
playlist 3 >"$tmp/p3"
put $dir/index.m3u8 "$tmp/p3"
for i in 1 2; do
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
done
for i in 1 2; do
    [ "$(cat "$tmp/plc$i")" = 200 ] || fail "playlist $i: $(cat "$tmp/plc$i")"
    grep -q 'seg_00041.2.m4s' "$tmp/pl$i" || fail "playlist $i without 41.2"
done
n=$(($(gets) - before - 1))
[ $n = 1 ] || fail "two blocking requests cost the origin $n requests"
# A third, later, is a cache hit.
curl -s -D "$tmp/h" -o /dev/null "$edge$dir/index.m3u8?$q"
grep -qi '^X-Cache-Status: HIT' "$tmp/h" || fail "blocking answer not cached"
grep -qi '^Access-Control-Allow-Origin: \*' "$tmp/h" || fail "CORS lost at edge"

# HTTPS with HTTP/2 (the certificate farm_edge made): a blocking playlist
# request and the hinted part it waits for, multiplexed on one connection,
# both answered by the worker's PUTs.
q="_HLS_msn=41&_HLS_part=3"
curl -s --http2 --cacert "$tmp/edge/edge.crt" --parallel \
    -w '%{http_version} %{http_code} %{num_connects}\n' \
    -o "$tmp/h2pl" "$FARM_EDGE_TLS/e/720p30/index.m3u8?$q" \
    -o "$tmp/h2part" "$FARM_EDGE_TLS/e/720p30/seg_00041.3.m4s" >"$tmp/h2" &
pids+=($!)
sleep 1
echo "part 41.3" >"$tmp/part3"
put $dir/seg_00041.3.m4s "$tmp/part3" || fail "part PUT"
playlist 4 >"$tmp/p4"
put $dir/index.m3u8 "$tmp/p4"
wait "${pids[-1]}" 2>/dev/null || true
unset 'pids[-1]'
[ "$(awk '$1 == 2 && $2 == 200' "$tmp/h2" | wc -l)" = 2 ] ||
    fail "HTTP/2 answers: $(tr '\n' ';' <"$tmp/h2")"
[ "$(awk '{ n += $3 } END { print n }' "$tmp/h2")" = 1 ] ||
    fail "the two HTTP/2 requests took more than one connection"
cmp -s "$tmp/h2part" "$tmp/part3" || fail "the part over HTTP/2: other bytes"
grep -q 'seg_00041.3.m4s' "$tmp/h2pl" || fail "the playlist over HTTP/2 without 41.3"
grep -q '^HTTP/2.0 200 .*seg_00041.3.m4s' "$tmp/edge/logs/access.log" ||
    fail "the edge did not log the part as HTTP/2"
echo PASS
