#!/usr/bin/env bash
# GStreamer publishes over RTMP (flvmux ! rtmp2sink) to a farm with two
# workers, three streams at once: I420 with SPS/PPS only at the start, I420
# with them at every IDR (h264parse config-interval=-1), and Y444 (H.264
# High 4:4:4, what x264enc makes of videotestsrc without caps). Each
# publisher is frozen (SIGSTOP) for 0.5 s four times, as a busy host stalls
# an encoder: GStreamer's flvmux then writes the late frames with one
# timestamp, which used to fail the Source rendition's muxer ("Invalid
# argument") and restart the stream at every placement.
# Checks, per stream: the ladder (master, every rendition it lists with a
# segment) is on the origin within 6 s of the publisher's start; the stream
# keeps generation 1 for 20 s and no session fails; the 4:4:4 stream has no
# Source rendition (browsers cannot play it) and says why. And the stalls
# did make equal timestamps (ts_raised > 0), or the test proved nothing.
# Last, the same kind of FLV written to a file (a stall in the middle)
# transcodes with `prism-worker transcode`.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" gst_rtmp
command -v gst-launch-1.0 >/dev/null || fail "gst-launch-1.0 is not installed (scripts/setup)"

farm_start "w1 w2" || fail "the farm did not start"
farm_profile gst '{"name": "gst", "renditions": [
    {"name": "source", "remux": true},
    {"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}'

# The streams: channel -> raw video format and h264parse options.
chans="i420 i420idr y444"
declare -A fmt=([i420]=I420 [i420idr]=I420 [y444]=Y444)
declare -A parse=([i420]="" [i420idr]="config-interval=-1" [y444]="")
declare -A key master t0 pid
for ch in $chans; do
    key[$ch]=$(farm_channel "$ch" gst)
    [ -n "${key[$ch]}" ] || fail "no stream key for $ch"
    # The channel's master playlist: what a player (a later `play` step)
    # opens.
    master[$ch]=$FARM_ORIGIN/$ch/master.m3u8
done

# gst_rtmp CHANNEL: a GStreamer RTMP publisher in the background.
gst_rtmp() {
    local ch=$1
    gst-launch-1.0 -q -e \
        videotestsrc is-live=true \
        ! "video/x-raw,format=${fmt[$ch]},width=320,height=180,framerate=30/1" \
        ! x264enc tune=zerolatency key-int-max=60 bitrate=600 \
        ! h264parse ${parse[$ch]} ! flvmux streamable=true name=m \
        ! rtmp2sink "location=rtmp://127.0.0.1:$FARM_RTMP_PORT/live/${key[$ch]}" \
        audiotestsrc is-live=true ! avenc_aac ! aacparse ! m. \
        >"$dir/logs/gst-$ch.log" 2>&1 &
    pid[$ch]=$!
    farm_track "${pid[$ch]}" "gst-$ch"
}

for ch in $chans; do gst_rtmp "$ch"; done
# The file: GStreamer writes 5 s of FLV at the same time, through the same
# stalls; checked at the end.
gst-launch-1.0 -q -e videotestsrc is-live=true num-buffers=150 \
    ! video/x-raw,format=I420,width=320,height=180,framerate=30/1 \
    ! x264enc tune=zerolatency key-int-max=60 bitrate=600 ! h264parse \
    ! flvmux streamable=true name=m ! filesink "location=$dir/stall.flv" \
    audiotestsrc is-live=true num-buffers=215 ! avenc_aac ! aacparse ! m. \
    >"$dir/logs/gst-file.log" 2>&1 &
fpid=$!
farm_track "$fpid" gst-file

# The stalls: every publisher frozen 0.5 s at 3, 6, 9 and 12 s.
(
    for _ in 1 2 3 4; do
        sleep 2.5
        for p in "${pid[@]}" "$fpid"; do kill -STOP "$p" 2>/dev/null || true; done
        sleep 0.5
        for p in "${pid[@]}" "$fpid"; do kill -CONT "$p" 2>/dev/null || true; done
    done
) &
farm_track $! stalls

# The ladder within 6 s of each publish's start.
# shellcheck disable=SC2086 # the channel names are words
wait_started $chans
declare -A ready
# shellcheck disable=SC2086 # the channel names are words
wait_ladders 6 $chans

# One generation for 20 s: no session fails, no stream is placed again.
for _ in $(seq 20); do
    sleep 1
    for ch in $chans; do
        kill -0 "${pid[$ch]}" 2>/dev/null || fail "$ch: the publisher exited ($(tail -n 3 "$dir/logs/gst-$ch.log"))"
        g=$(farm_stream_field "$ch" generation)
        [ "$g" = 1 ] || fail "$ch: the stream is at generation '$g', not 1"
    done
done
! grep -h 'Cannot write to the HLS output\|A running session failed' "$dir"/logs/w*.log ||
    fail "a session failed"
echo "one generation for 20 s: ok"

# Source: remuxed for 4:2:0, left out (and why) for 4:4:4.
for ch in i420 i420idr; do
    grep -q '^source/index.m3u8' <<<"$(curl -fs "${master[$ch]}")" || fail "$ch: no Source rendition"
done
! grep -q '^source/' <<<"$(curl -fs "${master[y444]}")" || fail "y444: a High 4:4:4 Source rendition was published"
grep -q '^144p30/index.m3u8' <<<"$(curl -fs "${master[y444]}")" || fail "y444: no 144p30 rendition"
grep -h 'Source rendition is left out' "$dir"/logs/w*.log | grep -q 'High 4:4:4' ||
    fail "y444: no log line says why the Source rendition is left out"

for ch in $chans; do kill -INT "${pid[$ch]}" 2>/dev/null || true; done
for ch in $chans; do wait "${pid[$ch]}" 2>/dev/null || true; done
for _ in $(seq 50); do
    [ "$(grep -c 'Stream ended' "$dir/logs/ingest.log")" -ge 3 ] && break
    sleep 0.1
done
grep 'Stream ended' "$dir/logs/ingest.log"
raised=$(sed -n 's/.*Stream ended.*ts_raised=\([0-9]*\).*/\1/p' "$dir/logs/ingest.log" |
    awk '{s += $1} END {print s + 0}')
[ "$raised" -gt 0 ] || fail "the stalls made no equal timestamps (ts_raised=0): the test did not exercise the fault"
echo "gst rtmp publish: ok ($raised timestamps raised)"

wait "$fpid" || fail "GStreamer could not write the FLV file"
dups=$(ffprobe -v error -select_streams v -show_entries packet=dts -of csv=p=0 "$dir/stall.flv" |
    uniq -d | wc -l)
[ "$dups" -gt 0 ] || fail "the stalled FLV file has no equal video timestamps: the check would prove nothing"
"$build/worker/prism-worker" transcode -i "$dir/stall.flv" -o "$dir/stall-out" \
    >"$dir/logs/transcode-file.log" 2>&1 ||
    fail "prism-worker transcode failed on the stalled FLV: $(grep -m1 level=error "$dir/logs/transcode-file.log")"
echo "file: $dups repeated video timestamps, transcoded: ok"
