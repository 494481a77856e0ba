#!/usr/bin/env bash
# Low-Latency HLS output of prism-worker alone (--format llhls), for two
# live sources, each with its Source remuxed and a rung encoded:
#  - ffmpeg: 59.94 fps with B-frames and 44.1 kHz audio;
#  - GStreamer (live videotestsrc, x264enc with B-frames, flvmux, 44.1 kHz
#    AAC): its frames are unevenly timed (23 and 47 ms apart at 30 fps,
#    B-frames shown up to a frame late), which a part cutter that guesses
#    a frame's end gets wrong; and the same file with its frames twice as
#    late (a loaded host), B-frames then after the frames that follow.
# While each runs, every snapshot of each playlist passes the validator's
# LL rules (--ll with strict part naming, and --prev against the one
# before: parts within PART-TARGET and at least 85% of it; GStreamer's
# remuxed Source, whose decode times are its own, may miss the 85% only)
# and the rendition reports agree; each part is whole CMAF (the parts of a
# segment, joined, are the segment byte for byte), and init + segment
# decodes.
set -euo pipefail
# shellcheck source=tests/e2e/lib/worker_alone.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/worker_alone.sh"
check=${PRISM_BUILD_DIR:?}/tools/prism-hls-check

cat >"$tmp/ladder.json" <<'JSON'
{"name": "ll", "renditions": [{"name": "source", "remux": true},
  {"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}
JSON

# check_live INPUT NAME [uneven]: transcodes INPUT live into $tmp/NAME and
# checks every snapshot while it runs, then the parts and segments. With
# "uneven" (a publisher whose frames come more than 15% of PART-TARGET
# apart), the remuxed Source may break one rule only, the 85% floor of a
# part: it keeps the publisher's times, and no cut of them keeps a part
# within [85%, 100%] of the target then (the target is the MUST kept). The
# encoded rendition is held to every rule: its frames are the worker's.
check_live() {
    local out=$tmp/$2 n pid r f dir segs seg stem parts k init frames
    local args said short=0
    "$worker" transcode -i "$1" -o "$out" --backend software \
        --preset ultrafast --ladder "$tmp/ladder.json" --format llhls \
        --part 0.334 --realtime --thumbnail 0 2>"$tmp/$2.log" &
    pid=$!

    # Snapshots while live: each valid, each following the one before.
    n=0
    for _ in $(seq 60); do
        sleep 0.1
        kill -0 "$pid" 2>/dev/null || break
        for r in source 144p30; do
            f=$out/$r/index.m3u8
            [ -s "$f" ] || continue
            # The copy is looked at: the worker may end the playlist
            # between a look at the file and the copy.
            cp "$f" "$tmp/$2.$r.now"
            grep -q EXT-X-ENDLIST "$tmp/$2.$r.now" && continue
            args=(--ll --part-naming prism)
            [ -f "$tmp/$2.$r.prev" ] && args+=(--prev "$tmp/$2.$r.prev")
            if ! said=$("$check" "${args[@]}" "$tmp/$2.$r.now" 2>&1); then
                echo "$said" >&2
                if [ "$r" != source ] || [ "${3:-}" != uneven ] ||
                    grep -v ': part-duration-min: ' <<<"$said" | grep -q .; then
                    fail "$2: $r: a live snapshot breaks the LL-HLS rules"
                fi
                short=$((short + 1))
            fi
            mv "$tmp/$2.$r.now" "$tmp/$2.$r.prev"
            n=$((n + 1))
        done
    done
    wait "$pid" || {
        cat "$tmp/$2.log"
        fail "$2: transcode exited non-zero"
    }
    [ "$n" -ge 20 ] || fail "$2: only $n live snapshots were checked"
    (cd "$out" && "$check" --reports source/index.m3u8 144p30/index.m3u8) ||
        fail "$2: the rendition reports disagree"

    for r in source 144p30; do
        dir=$out/$r
        segs=$(grep -c '^seg_' "$dir/index.m3u8")
        [ "$segs" -ge 3 ] || fail "$2: $r: $segs segments"
        for seg in $(grep '^seg_' "$dir/index.m3u8"); do
            stem=${seg%.m4s}
            parts=$(find "$dir" -name "$stem.*.m4s" | wc -l)
            [ "$parts" -ge 1 ] || fail "$2: $r: $seg has no part"
            for k in $(seq 0 $((parts - 1))); do cat "$dir/$stem.$k.m4s"; done |
                cmp -s - "$dir/$seg" || fail "$2: $r: the parts of $seg are not $seg"
        done
        init=$(sed -n 's/^#EXT-X-MAP:URI="\(.*\)"$/\1/p' "$dir/index.m3u8")
        cat "$dir/$init" "$dir/$(grep '^seg_' "$dir/index.m3u8" | sed -n 2p)" \
            >"$tmp/$2.$r.mp4"
        frames=$(ffprobe -v error -select_streams v:0 -count_frames \
            -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/$2.$r.mp4")
        [ "${frames:-0}" -ge 50 ] || fail "$2: $r: a segment decodes to $frames frames"
    done
    grep -q 'EXT-X-PART-INF:PART-TARGET=0.33500' "$out/source/index.m3u8" ||
        fail "$2: PART-TARGET is not the target and its millisecond of room"
    echo "$2: $n live snapshots checked, all valid but $short of the Source's" \
        "(a part under 85% of PART-TARGET); parts join into their segments"
}

ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=s=640x360:r=60000/1001:d=7" \
    -f lavfi -i "sine=d=7:sample_rate=44100" \
    -c:v libx264 -preset veryfast -bf 2 -g 120 -pix_fmt yuv420p \
    -c:a aac -ar 44100 -shortest "$tmp/in.ts"
check_live "$tmp/in.ts" ffmpeg

# Live sources: GStreamer stamps frames as they come (takes 7 s).
gst-launch-1.0 -q -e \
    videotestsrc is-live=true num-buffers=210 pattern=ball ! \
    video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! \
    x264enc speed-preset=superfast bframes=2 key-int-max=60 ! h264parse ! \
    queue ! flvmux name=mux streamable=true ! filesink location="$tmp/in.flv" \
    audiotestsrc is-live=true num-buffers=300 ! audio/x-raw,rate=44100 ! \
    voaacenc ! queue ! mux. >"$tmp/gst.log" 2>&1 ||
    fail "gst-launch-1.0 did not make the input: $(tail -n 3 "$tmp/gst.log")"
check_live "$tmp/in.flv" gstreamer uneven

# The same publisher on a loaded host, where its B-frames come 60 ms late
# or more (62 ms in a CI run's own capture): some are stamped after the
# frame that follows them (the worker dropped those; two in a row left a
# hole that cut a part to 0.267 s).
node "$PRISM_SOURCE_DIR/tests/e2e/lib/flv_late_frames.js" "$tmp/in.flv" \
    "$tmp/late.flv" 30 60
check_live "$tmp/late.flv" gstreamer-loaded uneven
grep -q 'unordered=[1-9]' "$tmp/gstreamer-loaded.log" ||
    fail "gstreamer-loaded: no frame came out of order; the case is not made"
