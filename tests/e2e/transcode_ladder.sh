#!/usr/bin/env bash
# The default ladder from a 1080p30 clip: renditions, sizes, frame rates,
# bitrates, aligned segments, a master playlist that ffmpeg opens.
set -euo pipefail
# shellcheck source=tests/e2e/lib/worker_alone.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/worker_alone.sh"

# 4 s of 1080p30 with noise (so rate control has work) and MP2 audio (so the
# audio is decoded and encoded once to AAC), keyframes every 2 s.
ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=s=1920x1080:r=30:d=4,noise=alls=10:allf=t+u" \
    -f lavfi -i "sine=f=440:d=4" -c:v libx264 -preset ultrafast -g 60 \
    -b:v 8M -c:a mp2 -shortest "$tmp/src.ts"

"$worker" transcode -i "$tmp/src.ts" -o "$tmp/out" --backend software \
    --vod 2>"$tmp/log" || {
    cat "$tmp/log"
    fail "transcode exited non-zero"
}
out=$tmp/out

# The renditions, and nothing else.
names=$(cd "$out" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n' |
    sort | tr '\n' ' ')
[ "$names" = "160p30 360p30 480p30 720p30 source " ] ||
    fail "renditions are '$names'"

# Size and frame rate of each (ffprobe on the variant playlist).
check_video() { # name WxH rate
    local got
    got=$(ffprobe -v error -select_streams v:0 \
        -show_entries stream=width,height,r_frame_rate -of csv=p=0 \
        "$out/$1/index.m3u8" | awk 'NF && !n++')
    [ "$got" = "$2,$3" ] || fail "$1: video is '$got', want '$2,$3'"
}
check_video source 1920,1080 30/1
check_video 720p30 1280,720 30/1
check_video 480p30 854,480 30/1
check_video 360p30 640,360 30/1
check_video 160p30 284,160 30/1

# Every rendition carries AAC audio (encoded once from MP2).
for r in source 720p30 480p30 360p30 160p30; do
    a=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name \
        -of csv=p=0 "$out/$r/index.m3u8" | awk 'NF && !n++')
    [ "$a" = aac ] || fail "$r: audio is '$a', want aac"
done

# Video bitrate within 15% of the target: bytes of every video packet over
# the span they cover.
check_rate() { # name target_kbps
    local kbps
    kbps=$(ffprobe -v error -select_streams v:0 \
        -show_entries packet=pts_time,size -of csv=p=0 \
        "$out/$1/index.m3u8" | awk -F, '
        NF == 0 { next }
        { s += $2; if (n == 0) a = $1; b = $1; n++ }
        END { d = (b - a) * n / (n - 1); printf "%d", s * 8 / d / 1000 }')
    echo "$1: ${kbps} kbps (target $2)"
    [ "$kbps" -ge $(($2 * 85 / 100)) ] && [ "$kbps" -le $(($2 * 115 / 100)) ] ||
        fail "$1: ${kbps} kbps is not within 15% of $2"
}
check_rate 720p30 3000
check_rate 480p30 1500
check_rate 360p30 800
check_rate 160p30 300

# Identical segment start timestamps in every rendition.
starts() {
    for f in "$out/$1"/seg_*.ts; do
        ffprobe -v error -select_streams v:0 -show_entries packet=pts \
            -of csv=p=0 -read_intervals '%+#1' "$f" | awk 'NF && !n++'
    done | tr '\n' ' '
}
ref=$(starts source)
[ "$(echo "$ref" | wc -w)" -ge 2 ] || fail "fewer than 2 segments: '$ref'"
for r in 720p30 480p30 360p30 160p30; do
    got=$(starts "$r")
    [ "$got" = "$ref" ] || fail "$r segment starts '$got' != source '$ref'"
done
echo "segment starts (90 kHz): $ref"

# Every segment starts with a keyframe.
for r in source 720p30 160p30; do
    for f in "$out/$r"/seg_*.ts; do
        k=$(ffprobe -v error -select_streams v:0 -show_entries packet=flags \
            -of csv=p=0 -read_intervals '%+#1' "$f" | awk 'NF && !n++')
        case $k in K*) ;; *) fail "$f does not start with a keyframe" ;; esac
    done
done

# The master playlist: every attribute, real codec strings.
m=$out/master.m3u8
[ "$(grep -c '^#EXT-X-STREAM-INF' "$m")" = 5 ] || fail "master: not 5 variants"
grep '^#EXT-X-STREAM-INF' "$m" | while read -r line; do
    for attr in BANDWIDTH= AVERAGE-BANDWIDTH= RESOLUTION= FRAME-RATE=30.000 \
        'CODECS="avc1.'; do
        case $line in *"$attr"*) ;; *) fail "master line lacks $attr: $line" ;; esac
    done
    case $line in *',mp4a.40.2"'*) ;; *) fail "no mp4a.40.2: $line" ;; esac
done
grep -q 'RESOLUTION=1280x720' "$m" || fail "master: no 720p variant"

# ffmpeg opens and decodes the master and every variant.
ffmpeg -hide_banner -loglevel error -i "$m" -map 0 -f null - ||
    fail "ffmpeg cannot read the master playlist"
for r in source 720p30 480p30 360p30 160p30; do
    ffmpeg -hide_banner -loglevel error -i "$out/$r/index.m3u8" -f null - ||
        fail "ffmpeg cannot read $r"
    grep -q '#EXT-X-ENDLIST' "$out/$r/index.m3u8" || fail "$r: not VOD"
done

# A JPEG thumbnail.
t=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 \
    "$out/thumb.jpg")
[ "$t" = mjpeg ] || fail "thumb.jpg is '$t'"
# Every playlist written follows RFC 8216 (tests/e2e/lib/hls_check.sh).
source "$PRISM_SOURCE_DIR/tests/e2e/lib/hls_check.sh"
hls_check_tree "$tmp" || fail "a playlist breaks RFC 8216 (above)"
echo "PASS"
