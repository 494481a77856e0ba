#!/usr/bin/env bash
# Low-Latency HLS output of prism-worker alone (--format llhls): a live
# 59.94 fps source with B-frames and 44.1 kHz audio, its Source remuxed and
# a rung encoded. While it runs, every snapshot of each playlist passes the
# validator's LL rules (--ll, and --prev against the one before) and the
# rendition reports agree; each part is whole CMAF (the parts of a segment,
# joined, are the segment byte for byte), and init + segment decodes.
set -euo pipefail
# shellcheck source=tests/e2e/lib/worker_alone.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/worker_alone.sh"
check=${PRISM_BUILD_DIR:?}/tools/prism-hls-check

ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=s=640x360:r=60000/1001:d=7" \
    -f lavfi -i "sine=d=7:sample_rate=44100" \
    -c:v libx264 -preset veryfast -bf 2 -g 120 -pix_fmt yuv420p \
    -c:a aac -ar 44100 -shortest "$tmp/in.ts"
cat >"$tmp/ladder.json" <<'JSON'
{"name": "ll", "renditions": [{"name": "source", "remux": true},
  {"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}
JSON
"$worker" transcode -i "$tmp/in.ts" -o "$tmp/out" --backend software \
    --preset ultrafast --ladder "$tmp/ladder.json" --format llhls \
    --part 0.334 --realtime --thumbnail 0 2>"$tmp/log" &
pid=$!

# Snapshots while live: each valid, each following the one before.
n=0
for _ in $(seq 60); do
    sleep 0.1
    kill -0 "$pid" 2>/dev/null || break
    for r in source 144p30; do
        f=$tmp/out/$r/index.m3u8
        [ -s "$f" ] || continue
        grep -q EXT-X-ENDLIST "$f" && continue
        cp "$f" "$tmp/$r.now"
        if [ -f "$tmp/$r.prev" ]; then
            "$check" --ll --part-naming prism --prev "$tmp/$r.prev" \
                "$tmp/$r.now" ||
                fail "$r: a live snapshot breaks the LL-HLS rules"
        else
            "$check" --ll --part-naming prism "$tmp/$r.now" ||
                fail "$r: the first snapshot"
        fi
        mv "$tmp/$r.now" "$tmp/$r.prev"
        n=$((n + 1))
    done
done
wait "$pid" || {
    cat "$tmp/log"
    fail "transcode exited non-zero"
}
[ "$n" -ge 20 ] || fail "only $n live snapshots were checked"
(cd "$tmp/out" && "$check" --reports source/index.m3u8 144p30/index.m3u8) ||
    fail "the rendition reports disagree"

for r in source 144p30; do
    dir=$tmp/out/$r
    segs=$(grep -c '^seg_' "$dir/index.m3u8")
    [ "$segs" -ge 3 ] || fail "$r: $segs segments"
    for seg in $(grep '^seg_' "$dir/index.m3u8"); do
        stem=${seg%.m4s}
        parts=$(find "$dir" -name "$stem.*.m4s" | wc -l)
        [ "$parts" -ge 1 ] || fail "$r: $seg has no part"
        for k in $(seq 0 $((parts - 1))); do cat "$dir/$stem.$k.m4s"; done |
            cmp -s - "$dir/$seg" || fail "$r: the parts of $seg are not $seg"
    done
    init=$(sed -n 's/^#EXT-X-MAP:URI="\(.*\)"$/\1/p' "$dir/index.m3u8")
    cat "$dir/$init" "$dir/$(grep '^seg_' "$dir/index.m3u8" | sed -n 2p)" \
        >"$tmp/$r.mp4"
    frames=$(ffprobe -v error -select_streams v:0 -count_frames \
        -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/$r.mp4")
    [ "${frames:-0}" -ge 50 ] || fail "$r: a segment decodes to $frames frames"
done
# Parts of a 59.94 fps rendition: 20 frames at most (0.334 s), and every
# segment's first INDEPENDENT (the validator's --ll checked durations).
grep -q 'EXT-X-PART-INF:PART-TARGET=0.33500' "$tmp/out/source/index.m3u8" ||
    fail "PART-TARGET is not the target and its millisecond of room"
echo "ok: $n live snapshots valid; parts join into their segments"
