# Sourced by tests/e2e/interop_*.sh after lib/farm.sh: the interop matrix.
# Each row is a real publisher (FFmpeg, GStreamer) with settings real
# streamers use, published to the test's farm; the rows of a test publish
# at once and hls.js plays every row's master playlist while it is live
# (tests/e2e/lib/player.sh): the playhead advances at least 90% of wall
# time after start-up, every level plays when selected, no fatal error.
# A row Prism must refuse passes when the publish is refused with a
# reason.
#
#   interop_setup                 farm (two workers), the profile "interop"
#                                 (Source remuxed, 180p30), FARM_SRT_PORT
#   interop_run PLAY_S ROW...     publishes every ROW, plays them; prints a
#                                 line per row; fails the test when a row
#                                 fails that is not in interop_known_fail
#
# docs/interop.md has the table of rows, settings and results.
# shellcheck shell=bash disable=SC2154 # src, dir: set by lib/farm.sh
# shellcheck source=tests/e2e/lib/player.sh
source "$src/tests/e2e/lib/player.sh"

# Rows that fail today because of known bugs being fixed elsewhere. They
# run and print KNOWN-FAIL (with why) instead of failing the test; a known
# row that passes prints PASS (drop it from the list). To enable a row,
# remove it here; PRISM_INTEROP_STRICT=1 enables them all.
interop_known_fail=()
[ -n "${PRISM_INTEROP_STRICT:-}" ] && interop_known_fail=()

# Client and settings of each row (docs/interop.md's table).
declare -A interop_desc=(
    [ffmpeg-rtmp]="FFmpeg RTMP|x264 veryfast High, CBR 600k, keyint 2 s, 426x240 30 fps; AAC-LC 48 kHz stereo 128k (OBS's defaults)"
    [ffmpeg-srt]="FFmpeg SRT (MPEG-TS, latency 200 ms)|as ffmpeg-rtmp"
    [ffmpeg-bf2-main]="FFmpeg RTMP|x264 Main, 2 B-frames (OBS quality preset)"
    [ffmpeg-bf3-high]="FFmpeg RTMP|x264 High, 3 B-frames, 3 refs, preset fast"
    [ffmpeg-5994]="FFmpeg RTMP|59.94 fps (60000/1001), keyint 2 s"
    [ffmpeg-60]="FFmpeg RTMP|60 fps, keyint 2 s"
    [ffmpeg-44k-mono]="FFmpeg RTMP|AAC-LC 44.1 kHz mono 96k"
    [ffmpeg-no-audio]="FFmpeg RTMP|video only"
    [ffmpeg-audio-only]="FFmpeg RTMP|audio only (AAC-LC 48 kHz stereo)"
    [ffmpeg-444]="FFmpeg RTMP|4:4:4 input, x264 High 4:4:4 Predictive"
    [ffmpeg-wrap]="FFmpeg RTMP through tests/e2e/lib/rtmp_ts_shift.js|media timestamps start 6 s before 2^32 ms and cross it"
    [ffmpeg-reconnect]="FFmpeg RTMP|drops (kill -9) after 9 s, reconnects with the same key 2 s later (OBS auto-reconnect)"
    [ffmpeg-h263-refused]="FFmpeg RTMP|Sorenson H.263 (FLV1) video: must be refused at publish"
    [ffmpeg-failover]="FFmpeg RTMP|as ffmpeg-rtmp; kill -9 of the worker carrying the stream, then kill -9 and restart of the coordinator; longest stall at most 2 s"
    [gst-rtmp]="GStreamer rtmp2sink|x264enc I420, SPS/PPS at the start only (h264parse config-interval=0), avenc_aac"
    [gst-rtmp-idr]="GStreamer rtmp2sink|x264enc I420, SPS/PPS at every IDR (config-interval=-1)"
    [gst-srt]="GStreamer srtsink (mpegtsmux alignment=7)|x264enc I420, SPS/PPS at the start only"
    [gst-srt-idr]="GStreamer srtsink (mpegtsmux alignment=7)|x264enc I420, SPS/PPS at every IDR"
    [gst-rtmp-444]="GStreamer rtmp2sink|Y444 input, x264enc High 4:4:4"
    [gst-failover]="GStreamer rtmp2sink|as gst-rtmp, played 40 s; kill -9 of the worker carrying the stream in the middle; longest stall at most 2 s"
    [gst-srt-failover]="GStreamer srtsink (mpegtsmux alignment=7)|as gst-srt, played 40 s; kill -9 of the worker carrying the stream in the middle; longest stall at most 2 s"
)

interop_setup() {
    farm_start "w1 w2" || fail "the farm did not start"
    farm_profile interop '{"name": "interop", "renditions": [
        {"name": "source", "remux": true},
        {"height": 180, "fps": 30, "bitrate_kbps": 250, "codec": "h264"}]}'
    FARM_SRT_PORT=$(sed -n 's/^srt_listen = .*:\([0-9]*\)$/\1/p' "$FARM_DIR/etc/ingest.ini")
}

# Publishers: interop_ffmpeg KEY SECONDS rtmp|srt [ffmpeg output options]
# (video 426x240 from testsrc2, audio a sine unless the options say -an).
interop_ffmpeg() {
    local key=$1 secs=$2 how=$3 url fmt rate=30
    shift 3
    case " $* " in *" -r "*) rate=$(sed -n 's/.* -r \([^ ]*\).*/\1/p' <<<" $* ") ;; esac
    if [ "$how" = srt ]; then
        url="srt://127.0.0.1:$FARM_SRT_PORT?streamid=$key&latency=200000&pkt_size=1316"
        fmt=mpegts
    else
        url=${INTEROP_RTMP_URL:-rtmp://127.0.0.1:$FARM_RTMP_PORT/live}/$key
        fmt=flv
    fi
    # -re paces each input (it is an input option): the audio-only row
    # would otherwise send its audio as fast as it is made.
    exec ffmpeg -nostdin -loglevel error \
        -re -f lavfi -i "testsrc2=size=426x240:rate=$rate" \
        -re -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$secs" \
        "$@" -f "$fmt" "$url"
}

# x264 as OBS sends it by default (CBR, keyint 2 s at 30 fps).
interop_x264=(-c:v libx264 -preset veryfast -tune zerolatency -b:v 600k -maxrate 600k
    -bufsize 1200k -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p)
interop_aac=(-c:a aac -b:a 128k -ar 48000 -ac 2)

interop_row_ffmpeg-rtmp() { interop_ffmpeg "$1" "$2" rtmp "${interop_x264[@]}" -profile:v high "${interop_aac[@]}"; }
interop_row_ffmpeg-srt() { interop_ffmpeg "$1" "$2" srt "${interop_x264[@]}" -profile:v high "${interop_aac[@]}"; }
interop_row_ffmpeg-bf2-main() {
    interop_ffmpeg "$1" "$2" rtmp -c:v libx264 -preset veryfast -profile:v main -bf 2 \
        -b:v 600k -maxrate 600k -bufsize 1200k -g 60 -keyint_min 60 -sc_threshold 0 \
        -pix_fmt yuv420p "${interop_aac[@]}"
}
interop_row_ffmpeg-bf3-high() {
    interop_ffmpeg "$1" "$2" rtmp -c:v libx264 -preset fast -profile:v high -bf 3 -refs 3 \
        -b:v 600k -maxrate 600k -bufsize 1200k -g 60 -keyint_min 60 -sc_threshold 0 \
        -pix_fmt yuv420p "${interop_aac[@]}"
}
interop_row_ffmpeg-5994() {
    interop_ffmpeg "$1" "$2" rtmp -r 60000/1001 -c:v libx264 -preset ultrafast -tune zerolatency \
        -b:v 800k -g 120 -keyint_min 120 -sc_threshold 0 -pix_fmt yuv420p "${interop_aac[@]}"
}
interop_row_ffmpeg-60() {
    interop_ffmpeg "$1" "$2" rtmp -r 60 -c:v libx264 -preset ultrafast -tune zerolatency \
        -b:v 800k -g 120 -keyint_min 120 -sc_threshold 0 -pix_fmt yuv420p "${interop_aac[@]}"
}
interop_row_ffmpeg-44k-mono() { interop_ffmpeg "$1" "$2" rtmp "${interop_x264[@]}" -c:a aac -b:a 96k -ar 44100 -ac 1; }
interop_row_ffmpeg-no-audio() { interop_ffmpeg "$1" "$2" rtmp -map 0:v "${interop_x264[@]}"; }
interop_row_ffmpeg-audio-only() { interop_ffmpeg "$1" "$2" rtmp -map 1:a "${interop_aac[@]}"; }
interop_row_ffmpeg-444() {
    interop_ffmpeg "$1" "$2" rtmp -c:v libx264 -preset veryfast -tune zerolatency -b:v 600k \
        -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv444p "${interop_aac[@]}"
}
interop_row_ffmpeg-h263-refused() { interop_ffmpeg "$1" "$2" rtmp -map 0:v -c:v flv1 -b:v 600k; }

# Timestamps near the 32-bit wrap: through the shifting proxy, which
# writes the wire timestamps it sent to $dir/wrap.json.
interop_row_ffmpeg-wrap() {
    local port
    port=$(farm_port)
    node "$src/tests/e2e/lib/rtmp_ts_shift.js" "$port" "$FARM_RTMP_PORT" \
        $((2 ** 32 - 6000)) "$dir/wrap.json" &
    sleep 0.3
    INTEROP_RTMP_URL=rtmp://127.0.0.1:$port/live \
        interop_ffmpeg "$1" "$2" rtmp "${interop_x264[@]}" -profile:v high "${interop_aac[@]}"
}
interop_check_ffmpeg-wrap() {
    local first last crossed
    [ -f "$dir/wrap.json" ] || {
        echo "the proxy wrote no report"
        return 1
    }
    first=$(play_json_field "$(cat "$dir/wrap.json")" first)
    last=$(play_json_field "$(cat "$dir/wrap.json")" last)
    crossed=$(play_json_field "$(cat "$dir/wrap.json")" crossed)
    echo "wire timestamps $first -> $last ms, wrapped: $crossed"
    [ "$crossed" = true ] && [ "$first" -ge $((2 ** 32 - 10000)) ] && [ "$last" -lt 60000 ]
}

# OBS's auto-reconnect: the connection drops (kill -9, no FCUnpublish)
# and the same key publishes again 2 s later.
interop_row_ffmpeg-reconnect() {
    local first=9
    (interop_row_ffmpeg-rtmp "$1" "$2") &
    local pid=$!
    sleep "$first"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true # 137: killed, as meant (set -e is on)
    sleep 2
    interop_row_ffmpeg-rtmp "$1" "$(($2 - first - 2))"
}
# The same stream goes on: one stream id for both publishes, and the
# rendition playlist continues with a discontinuity (listed, or counted
# in EXT-X-DISCONTINUITY-SEQUENCE once it has left the window).
interop_check_ffmpeg-reconnect() {
    local ids pl n dseq
    ids=$(grep 'Publish accepted' "$dir/logs/ingest.log" | grep -o 'stream=[^ ]*' | sort | uniq -c |
        awk '$1 >= 2 {print $2}')
    pl=$(curl -fs "$FARM_ORIGIN/ffmpeg-reconnect/180p30/index.m3u8")
    n=$(grep -c '^#EXT-X-DISCONTINUITY$' <<<"$pl" || true)
    dseq=$(sed -n 's/^#EXT-X-DISCONTINUITY-SEQUENCE://p' <<<"$pl")
    echo "stream accepted twice with one id: ${ids:-none}; discontinuities listed $n, discontinuity sequence ${dseq:-none}"
    [ -n "$ids" ] && [ $((n + ${dseq:-0})) -ge 1 ]
}

interop_row_gst() {
    local key=$1 secs=$2 sink=$3 interval=$4 format=${5:-I420} profile=${6:-high} mux sinkel
    if [ "$sink" = srt ]; then
        # alignment=7: seven TS packets per buffer, one SRT payload;
        # without it srtsink drops every key frame (docs/ingest.md).
        mux="mpegtsmux alignment=7 name=m"
        sinkel="srtsink uri=srt://127.0.0.1:$FARM_SRT_PORT?streamid=$key latency=200"
    else
        mux="flvmux name=m streamable=true"
        sinkel="rtmp2sink location=rtmp://127.0.0.1:$FARM_RTMP_PORT/live/$key"
    fi
    # shellcheck disable=SC2086 # the pipeline is words
    exec timeout -s INT "$secs" gst-launch-1.0 -e -q \
        videotestsrc is-live=true pattern=smpte ! \
        "video/x-raw,width=426,height=240,framerate=30/1,format=$format" ! \
        x264enc tune=zerolatency speed-preset=veryfast bitrate=600 key-int-max=60 ! \
        "video/x-h264,profile=$profile" ! h264parse config-interval="$interval" ! queue ! \
        $mux ! $sinkel \
        audiotestsrc is-live=true ! audioconvert ! audioresample ! \
        audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=128000 ! aacparse ! queue ! m.
}
interop_row_gst-rtmp() { interop_row_gst "$1" "$2" rtmp 0; }
interop_row_gst-rtmp-idr() { interop_row_gst "$1" "$2" rtmp -1; }
interop_row_gst-srt() { interop_row_gst "$1" "$2" srt 0; }
interop_row_gst-srt-idr() { interop_row_gst "$1" "$2" srt -1; }
interop_row_gst-rtmp-444() { interop_row_gst "$1" "$2" rtmp 0 Y444 high-4:4:4; }

interop_is_known() {
    local k
    for k in "${interop_known_fail[@]}"; do [ "$k" = "$1" ] && return 0; done
    return 1
}

# interop_verdict ROW ok|fail WHY: prints the row's line; counts failures.
interop_bad=0
interop_verdict() {
    local row=$1 res=$2 why=$3 word
    if [ "$res" = ok ]; then
        word=PASS
        interop_is_known "$row" && why="$why (listed as known-failing: remove it from interop_known_fail)"
    elif interop_is_known "$row"; then
        word=KNOWN-FAIL
    else
        word=FAIL
        interop_bad=$((interop_bad + 1))
    fi
    local desc=${interop_desc[$row]:-?|?}
    printf 'interop %-20s %-10s %s\n        (%s: %s)\n' "$row" "$word" "$why" \
        "${desc%%|*}" "${desc#*|}" | tee -a "$dir/interop.txt"
}

# interop_wait_window BASE_URL END: until the first variant of the master
# at BASE_URL lists 3 segments (or SECONDS reaches END): a viewer's
# player starts 3 target durations behind the live edge, so before that a
# player started has no room and stalls on every late segment.
interop_wait_window() {
    local uri
    uri=$(curl -fs "$1/master.m3u8" | grep -v '^#' | grep -m1 .) || return 1
    while [ "$SECONDS" -lt "$2" ]; do
        [ "$(curl -fs "$1/$uri" | grep -c '^#EXTINF')" -ge 3 ] && return 0
        sleep 0.2
    done
    return 1
}

# interop_run PLAY_S ROW...: publishes every row, waits for the masters
# and a window of 3 segments (25 s), plays them together for PLAY_S with
# --levels, stops the publishers, then runs the rows' own checks
# (interop_check_ROW) and, last, checks the rows that must be refused.
interop_run() {
    local play=$1 row key urls=() live=() i out why json ok
    shift
    declare -A pub=()
    for row in "$@"; do
        key=$(farm_channel "$row" interop)
        [ -n "$key" ] || fail "no stream key for channel $row"
        "interop_row_$row" "$key" $((play + 40)) >"$dir/logs/pub-$row.log" 2>&1 &
        pub[$row]=$!
        farm_track "${pub[$row]}" "pub-$row"
    done
    # Their masters, then the player.
    local end=$((SECONDS + 25))
    for row in "$@"; do
        case $row in *-refused) continue ;; esac
        if farm_wait_url "$FARM_ORIGIN/$row/master.m3u8" $((end - SECONDS > 1 ? end - SECONDS : 1)) &&
            interop_wait_window "$FARM_ORIGIN/$row" "$end"; then
            live+=("$row")
            urls+=("$FARM_ORIGIN/$row/master.m3u8")
        else
            interop_verdict "$row" fail "no master playlist with 3 segments in its first variant 25 s after publishing; publisher: $(tail -n 1 "$dir/logs/pub-$row.log" | cut -c1-160)"
        fi
    done
    [ ${#urls[@]} -gt 0 ] && play_hls "${urls[@]}" "$play" --levels >"$dir/play.json" 2>"$dir/play.err" || true
    # The publishers leave (the wrap row's proxy then writes its report).
    for row in "$@"; do
        case $row in *-refused) ;; *) kill "${pub[$row]}" 2>/dev/null || true ;; esac
    done
    sleep 1
    i=0
    for row in "${live[@]}"; do
        i=$((i + 1))
        json=$(sed -n "${i}p" "$dir/play.json")
        [ -n "$json" ] || {
            interop_verdict "$row" fail "the player printed nothing: $(tail -n 3 "$dir/play.err")"
            continue
        }
        ok=$(play_json_field "$json" ok)
        why="start-up $(play_json_field "$json" startup_s) s, advance/wall $(play_json_field "$json" ratio), longest stall $(play_json_field "$json" longest_stall_s) s, levels played $(play_json_field "$json" levels_played) of $(play_json_field "$json" levels | grep -o '"height":[0-9]*' | cut -d: -f2 | paste -sd,)p"
        [ "$ok" = true ] || why="$why, stalls [at s, for s, playhead s] $(play_json_field "$json" stalls), level changes [at s, level] $(play_json_field "$json" level_changes)"
        if [ "$ok" != true ]; then
            interop_verdict "$row" fail "$(play_json_field "$json" reasons); $why"
            continue
        fi
        if declare -F "interop_check_$row" >/dev/null; then
            if out=$("interop_check_$row" 2>&1); then
                why="$why; $out"
            else
                interop_verdict "$row" fail "$out; $why"
                continue
            fi
        fi
        interop_verdict "$row" ok "$why"
    done
    # Refused rows: by now the publisher has ended with the reason, and no
    # master appeared.
    for row in "$@"; do
        case $row in *-refused) ;; *) continue ;; esac
        for _ in $(seq 50); do
            kill -0 "${pub[$row]}" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "${pub[$row]}" 2>/dev/null || curl -fs -o /dev/null "$FARM_ORIGIN/$row/master.m3u8"; then
            interop_verdict "$row" fail "publishing was not refused within 5 s ($(farm_stream_field "$row" state), generation $(farm_stream_field "$row" generation))"
        elif ! grep -q 'Publish refused' "$dir/logs/ingest.log"; then
            interop_verdict "$row" fail "the publisher left but the ingest did not refuse: $(tail -n 1 "$dir/logs/pub-$row.log")"
        else
            interop_verdict "$row" ok "refused: $(grep 'Publish refused' "$dir/logs/ingest.log" | tail -n 1 | grep -o 'reason=.*')"
        fi
    done
}

# interop_end: fails the test when a row failed that is not known to.
# interop_failover ROW PUBLISHER PLAY_S KILL_COORD: PUBLISHER (a row's
# publisher function) publishes ROW; hls.js plays its master for PLAY_S
# while, 10 s in, the worker carrying the stream is killed (-9) and, when
# KILL_COORD is yes, 10 s later the coordinator is killed and started
# again 2 s after: the playhead advances at least 90% of wall time after
# start-up, no fatal error, no stall over 2 s. Prints the row's verdict.
interop_failover() {
    local row=$1 publisher=$2 play=$3 kill_coord=$4 key master player carrier json why pub
    key=$(farm_channel "$row" interop)
    "$publisher" "$key" $((play + 16)) >"$dir/logs/pub-$row.log" 2>&1 &
    pub=$!
    farm_track $pub "pub-$row"
    master=$FARM_ORIGIN/$row/master.m3u8
    farm_wait_url "$master" 25 || fail "no master playlist 25 s after publishing"
    play_hls "$master" "$play" --max-stall 2 >"$dir/play.json" 2>"$dir/play.err" &
    player=$!
    sleep 10
    carrier=$(farm_stream_field "$row" worker)
    [ -n "$carrier" ] || fail "no worker carries the stream"
    echo "kill -9 $carrier, which carries the stream"
    kill -9 "${FARM_WORKER_PIDS[$carrier]}"
    INTEROP_KILLED=$carrier
    if [ "$kill_coord" = yes ]; then
        sleep 10
        echo "kill -9 the coordinator; started again 2 s later (the stream is now on $(farm_stream_field "$row" worker))"
        kill -9 "$FARM_COORD_PID"
        sleep 2
        farm_coord 0 || fail "the coordinator did not start again"
    fi
    wait "$player" || true
    kill "$pub" 2>/dev/null || true # played: the next row gets the machine
    json=$(head -n 1 "$dir/play.json")
    [ -n "$json" ] || fail "the player printed nothing: $(tail -n 3 "$dir/play.err")"
    why="start-up $(play_json_field "$json" startup_s) s, advance/wall $(play_json_field "$json" ratio), longest stall $(play_json_field "$json" longest_stall_s) s, now on $(farm_stream_field "$row" worker)"
    if [ "$(play_json_field "$json" ok)" = true ]; then
        interop_verdict "$row" ok "$why"
    else
        interop_verdict "$row" fail "$(play_json_field "$json" reasons); $why"
    fi
}

interop_end() {
    [ "$interop_bad" -eq 0 ] || fail "$interop_bad interop rows failed (see the lines above)"
    echo "interop: no row failed that is not listed as known-failing"
}
