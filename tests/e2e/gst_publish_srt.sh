#!/usr/bin/env bash
# GStreamer publishes over SRT (mpegtsmux ! srtsink) to a farm with two
# workers. Three publishers at once:
#   srt      the pipeline docs/ingest.md recommends (mpegtsmux alignment=7,
#            SPS/PPS at every IDR): the ladder is on the origin within 6 s
#            of the publish starting and the stream keeps generation 1 for
#            20 s;
#   join     a GStreamer TS joined mid-GOP (relayed by ffmpeg from a cut
#            file, the next IDR 2.3 s away): the probe (1.5 s) sees no SPS,
#            the ingest learns the size from the next IDR, and the ladder
#            is there within 6 s of that;
#   plain    the plain `mpegtsmux ! srtsink` of GStreamer 1.22, which never
#            sends a key frame (srtsink drops the buffers mpegtsmux flags as
#            headers): the ingest closes it with a reason instead of holding
#            the key unplaced for ever.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" gst_srt
command -v gst-launch-1.0 >/dev/null || fail "gst-launch-1.0 is not installed (scripts/setup)"

farm_start "w1 w2" || fail "the farm did not start"
srt_port=$(sed -n 's/^srt_listen = .*:\([0-9]*\)$/\1/p' "$dir/etc/ingest.ini")
[ -n "$srt_port" ] || fail "no srt_listen in the ingest's config"
farm_profile gst '{"name": "gst", "renditions": [
    {"name": "source", "remux": true},
    {"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}'
chans="srt join plain"
declare -A key master t0 pid
for ch in $chans; do
    key[$ch]=$(farm_channel "$ch" gst)
    [ -n "${key[$ch]}" ] || fail "no stream key for $ch"
    master[$ch]=$FARM_ORIGIN/$ch/master.m3u8 # what a player opens
done

# The mid-GOP TS: 12 s from GStreamer with a 2.5 s GOP, cut 0.2 s after
# its second IDR.
gst-launch-1.0 -q -e videotestsrc num-buffers=360 \
    ! video/x-raw,format=I420,width=320,height=180,framerate=30/1 \
    ! x264enc tune=zerolatency key-int-max=75 bitrate=600 ! h264parse \
    ! mpegtsmux name=m ! filesink "location=$dir/full.ts" \
    audiotestsrc num-buffers=520 ! avenc_aac ! aacparse ! m. \
    >"$dir/logs/gst-file.log" 2>&1 || fail "GStreamer could not write the TS file"
cut_at=$(ffprobe -v error -select_streams v -show_entries packet=pts_time,flags \
    -of csv=p=0 "$dir/full.ts" | awk -F, '$2 ~ /K/ {k++; if (k == 2) t = $1}
        t && !c && $1 >= t + 0.2 {c = $1} END {print c}')
pos=$(ffprobe -v error -select_streams v -show_entries packet=pts_time,pos \
    -of csv=p=0 "$dir/full.ts" | awk -F, -v t="$cut_at" '$1 == t && !p {p = $2} END {print p}')
[ -n "$pos" ] || fail "no cut point in the TS file"
dd if="$dir/full.ts" of="$dir/join.ts" bs=188 skip=$((pos / 188)) 2>/dev/null

# gst_srt CHANNEL MUXER_OPTIONS PARSE_OPTIONS: a GStreamer SRT publisher.
gst_srt() {
    local ch=$1
    # shellcheck disable=SC2086 # the options are words
    gst-launch-1.0 -q -e \
        videotestsrc is-live=true \
        ! video/x-raw,format=I420,width=320,height=180,framerate=30/1 \
        ! x264enc tune=zerolatency key-int-max=60 bitrate=600 \
        ! h264parse $3 ! mpegtsmux name=m $2 \
        ! srtsink "uri=srt://127.0.0.1:$srt_port?streamid=${key[$ch]}" \
        audiotestsrc is-live=true ! avenc_aac ! aacparse ! m. \
        >"$dir/logs/gst-$ch.log" 2>&1 &
    pid[$ch]=$!
    farm_track "${pid[$ch]}" "gst-$ch"
}
gst_srt srt alignment=7 config-interval=-1
gst_srt plain "" ""
ffmpeg -nostdin -loglevel error -re -f mpegts -i "$dir/join.ts" -c copy -copyinkf \
    -f mpegts "srt://127.0.0.1:$srt_port?streamid=${key[join]}" \
    >"$dir/logs/ffmpeg-join.log" 2>&1 &
pid[join]=$!
farm_track "${pid[join]}" ffmpeg-join

# shellcheck disable=SC2086 # the channel names are words
wait_started $chans

# join: the size learned after the probe; the ladder is timed from then.
for _ in $(seq 100); do
    grep -q 'Video size found after the probe' "$dir/logs/ingest.log" && break
    sleep 0.1
done
found=$(grep -m1 'Video size found after the probe' "$dir/logs/ingest.log" | cut -d' ' -f1 || true)
[ -n "$found" ] || fail "join: the ingest did not learn the size after the probe"
echo "join: size learned $(echo "$(TZ=UTC0 date -u -d "${found%Z}" +%s.%N) - ${t0[join]}" | bc) s after the publish started"
t0[join]=$(TZ=UTC0 date -u -d "${found%Z}" +%s.%N)

# The ladder within 6 s of the publish starting (srt), of the size being
# known (join).
declare -A ready
wait_ladders 6 srt join
grep -q 'RESOLUTION=320x180' <<<"$(curl -fs "${master[join]}")" || fail "join: the Source is not 320x180"
# The ladder fitted to the stream's 30 fps (not to a rate measured over
# the moment the size became known).
for ch in srt join; do
    grep -q '^144p30/index.m3u8' <<<"$(curl -fs "${master[$ch]}")" ||
        fail "$ch: no 144p30 rendition: $(curl -fs "${master[$ch]}" | grep -v '^#' | tr '\n' ' ')"
done

# srt keeps one generation for 20 s; plain is closed, saying why, within
# idle_timeout_ms (15 s) + 2 s of probing + 3 s of margin.
closed=""
for i in $(seq 20); do
    sleep 1
    kill -0 "${pid[srt]}" 2>/dev/null || fail "srt: the publisher exited ($(tail -n 3 "$dir/logs/gst-srt.log"))"
    g=$(farm_stream_field srt generation)
    [ "$g" = 1 ] || fail "srt: the stream is at generation '$g', not 1"
    if [ -z "$closed" ] && grep -q 'kind=stream.ended .*no video key frame with its size in time.*"channel":"plain"' \
        "$dir/logs/coord0.log"; then
        closed=$(echo "$(date +%s.%N) - ${t0[plain]}" | bc)
        echo "plain: closed $(printf %.1f "$closed") s after the publish started: no video key frame"
    fi
done
! grep -h 'Cannot write to the HLS output\|A running session failed' "$dir"/logs/w*.log ||
    fail "a session failed"
echo "srt: one generation for 20 s: ok"
for _ in $(seq 40); do
    [ -n "$closed" ] && break
    grep -q 'kind=stream.ended .*no video key frame with its size in time.*"channel":"plain"' \
        "$dir/logs/coord0.log" && closed=late
    sleep 0.1
done
[ -n "$closed" ] && [ "$closed" != late ] ||
    fail "plain: the stream without key frames was not closed with its reason within 20 s"

for ch in srt plain join; do kill -INT "${pid[$ch]}" 2>/dev/null || true; done
for ch in srt plain join; do wait "${pid[$ch]}" 2>/dev/null || true; done
echo "gst srt publish: ok"
