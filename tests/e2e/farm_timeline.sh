#!/usr/bin/env bash
# Farm timeline end to end (real ingest, coordinator with PostgreSQL
# through PRISM_TEST_PGURL, two workers, nginx origin, ffmpeg): after a
# kill -9 of the worker carrying a stream, every rendition's timeline goes
# on. Checked with ffprobe on the origin's files: the first video frame of
# the new worker's first segment is within one frame of the end of the old
# worker's last segment, no video or audio time is published twice, and
# the new timestamps are the old timeline's (not a fresh one). Then the
# join leaves the window: EXT-X-DISCONTINUITY-SEQUENCE counts it in every
# rendition's final playlist (one discontinuity in all, tag or sequence).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" timeline

FARM_REPORT_MS=300 # dead after 3 missed reports: 0.9 s
farm_start "w1 w2" || fail "the farm did not start"
publish_e2e tim 26
rends="source 240p30"
frame=0.033334 # one frame at 30 fps, and a microsecond of rounding

wait_segment 240p30 2
carrier=$(farm_stream_field tim worker)
[ -n "$carrier" ] || fail "no worker carries the stream"
echo "stream on $carrier; kill -9"
kill -9 "${FARM_WORKER_PIDS[$carrier]}"
wait "${FARM_WORKER_PIDS[$carrier]}" 2>/dev/null || true

# first_last FILE STREAM: the first and the last pts (s) of STREAM (v or a)
# in a segment file, "" when it has none.
first_last() {
    ffprobe -v error -select_streams "$2:0" -show_entries packet=pts_time \
        -of csv=p=0 "$1" | tr -d , | grep . | sort -g |
        awk 'NR == 1 {f = $1} {l = $1} END {if (NR) printf "%.6f %.6f", f, l}'
}

# Each rendition's playlist once the new worker's first segment is in it,
# and the two segments around the join, fetched at once (the join leaves
# the window within a few segments).
left=$rends
for _ in $(seq 300); do
    for r in $left; do
        pl=$dir/join.$r.m3u8
        curl -fs "$FARM_ORIGIN/tim/$r/index.m3u8" >"$pl" || continue
        new=$(awk '/^#EXT-X-DISCONTINUITY$/ {d = 1} d && /^[^#]/ {print; exit}' "$pl")
        [ -n "$new" ] || continue
        old=$(awk '/^#EXT-X-DISCONTINUITY$/ {print p; exit} /^[^#]/ {p = $0}' "$pl")
        [ -n "$old" ] || fail "$r: no segment of the old worker before the join"
        curl -fs -o "$dir/old.$r.ts" "$FARM_ORIGIN/tim/$r/$old" ||
            fail "$r: the old worker's last segment $old is not on the origin"
        curl -fs -o "$dir/new.$r.ts" "$FARM_ORIGIN/tim/$r/$new" ||
            fail "$r: the new worker's first segment $new is not on the origin"
        echo "$old $new" >"$dir/join.$r"
        left=$(tr ' ' '\n' <<<"$left" | grep -vx "$r" | tr '\n' ' ' || true)
    done
    [ -z "${left// /}" ] && break
    sleep 0.1
done
[ -z "${left// /}" ] || fail "$left: no segment after a discontinuity 30 s after the kill"

for r in $rends; do
    read -r old new <"$dir/join.$r"
    read -r ov0 ov1 <<<"$(first_last "$dir/old.$r.ts" v)"
    read -r nv0 nv1 <<<"$(first_last "$dir/new.$r.ts" v)"
    read -r oa0 oa1 <<<"$(first_last "$dir/old.$r.ts" a)"
    read -r na0 na1 <<<"$(first_last "$dir/new.$r.ts" a)"
    [ -n "${ov1:-}" ] && [ -n "${nv0:-}" ] || fail "$r: a join segment has no video"
    [ -n "${oa1:-}" ] && [ -n "${na0:-}" ] || fail "$r: a join segment has no audio"
    # The old segment ends one frame after its last frame.
    gap=$(awk -v e="$ov1" -v f="$nv0" -v d="$frame" 'BEGIN {printf "%.6f", f - (e + d)}')
    echo "$r: old worker's last segment $old has video ${ov0}-${ov1}s, audio ${oa0}-${oa1}s;" \
        "new worker's first $new has video ${nv0}-${nv1}s, audio ${na0}-${na1}s; video gap ${gap}s"
    awk -v g="$gap" -v d="$frame" 'BEGIN {exit !(g <= d && g >= -d)}' ||
        fail "$r: the new worker's first frame is ${gap}s from the old worker's end, not within a frame"
    awk -v e="$ov1" -v f="$nv0" 'BEGIN {exit !(f > e)}' ||
        fail "$r: video time published twice: the new worker starts at ${nv0}s, the old one reached ${ov1}s"
    awk -v e="$oa1" -v f="$na0" 'BEGIN {exit !(f > e)}' ||
        fail "$r: audio time published twice: the new worker starts at ${na0}s, the old one reached ${oa1}s"
    # The same timeline: the old one started at 10 s and ran for seconds.
    awk -v f="$nv0" 'BEGIN {exit !(f > 12)}' ||
        fail "$r: the new worker's timeline starts again (${nv0}s)"
done

wait "$FARM_PUB_PID" || true
wait_endlist "$FARM_ORIGIN/tim/240p30/index.m3u8"
kill "$FARM_WATCH_PID" 2>/dev/null || true
for r in $rends; do
    pl=$(curl -fs "$FARM_ORIGIN/tim/$r/index.m3u8")
    seq=$(sed -n 's/^#EXT-X-DISCONTINUITY-SEQUENCE://p' <<<"$pl")
    tags=$(grep -c '^#EXT-X-DISCONTINUITY$' <<<"$pl" || true)
    echo "$r: final playlist: EXT-X-DISCONTINUITY-SEQUENCE ${seq:-absent}, $tags tag(s) in the window"
    [ -n "$seq" ] || fail "$r: no EXT-X-DISCONTINUITY-SEQUENCE"
    [ "$((seq + tags))" = 1 ] ||
        fail "$r: $seq + $tags discontinuities counted, the stream had one (the join)"
done
[ "$(awk '$2 == "240p30" && $5 > 0 {j = 1} j && $2 == "240p30" && $5 == 0 {print; exit}' "$dir/watch")" ] ||
    fail "the join never left the 240p30 window; the sequence check proves nothing"
farm_check_forward "$dir/watch" || fail "a playlist went backwards or skipped segments"
echo "farm timeline e2e: ok"
