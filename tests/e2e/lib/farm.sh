# Sourced by tests/e2e/farm_*.sh (not a test itself: the e2e glob does not
# descend here): the farm_* functions of scripts/farm, a fresh directory
# for the test, its cleanup and the helpers the farm tests share.
#
# usage: source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" NAME
#   src, build   PRISM_SOURCE_DIR and PRISM_BUILD_DIR (both required)
#   dir          $build/farm-NAME.XXXXXX, the farm's directory (farm_init
#                has run on it); on exit farm_down stops the farm and the
#                directory is removed unless PRISM_KEEP_TEST_DIR is set
# shellcheck shell=bash
set -euo pipefail
src=${PRISM_SOURCE_DIR:?}
build=${PRISM_BUILD_DIR:?}
# shellcheck source=scripts/farm
source "$src/scripts/farm"
dir=$(mktemp -d "$build/farm-${1:?test name}.XXXXXX")
chmod 755 "$dir" # nginx workers (nobody) read the origin under it
cleanup() {
    farm_down
    hls_check_finish || hls_check_failed=1 # RFC 8216 (lib/hls_check.sh)
    [ -n "${PRISM_KEEP_TEST_DIR:-}" ] && echo "kept $dir" || rm -rf "$dir"
    [ -z "${hls_check_failed:-}" ] || exit 1
}
trap cleanup EXIT
farm_init "$dir"
# shellcheck source=tests/e2e/lib/hls_check.sh
source "$src/tests/e2e/lib/hls_check.sh"
hls_check_start # every playlist the origin serves is checked

# fail MESSAGE: the test fails; prints the API's streams, the end of every
# log and of the playlist watch, then exits 1.
fail() {
    echo "FAIL: $*" >&2
    [ -n "${FARM_API:-}" ] && { curl -fs "$FARM_API/api/streams" >&2 || true; }
    local f
    for f in "$dir"/logs/*.log "$dir/watch"; do
        [ -f "$f" ] || continue
        echo "--- $f" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
}

# wait_segment RENDITION N: until the watch log ($dir/watch) shows segment
# N of RENDITION (20 s), else the test fails.
wait_segment() {
    local _
    for _ in $(seq 200); do
        [ "$(farm_watch_last "$dir/watch" "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "the stream did not start"
}

# wait_endlist URL: until the playlist at URL ends (EXT-X-ENDLIST), else
# the test fails: the worker writes it once the publisher has left and
# the coordinator's reconnect grace (FARM_RECONNECT_GRACE_MS, 6 s in a
# test farm) has passed without it coming back; 10 s more at most.
wait_endlist() {
    local _ n=$(((${FARM_RECONNECT_GRACE_MS:-6000} + 10000) / 100))
    for _ in $(seq "$n"); do
        grep -q EXT-X-ENDLIST <<<"$(curl -fs "$1")" && return 0
        sleep 0.1
    done
    fail "no EXT-X-ENDLIST in $1 $((n / 10)) s after the publisher left"
}

# play_master URL: a player (ffmpeg) reads the master playlist at URL to
# the end, else the test fails; its errors in $dir/play.err.
play_master() {
    ffmpeg -nostdin -loglevel error -i "$1" -map 0 -c copy -f null - \
        2>"$dir/play.err" || fail "ffmpeg could not read the master: $(cat "$dir/play.err")"
}

# publish_e2e CHANNEL SECONDS: a channel on the two-rung profile "e2e"
# (Source and 240p30), a 640x360 30 fps publish to it for SECONDS (pid in
# FARM_PUB_PID) and a farm_watch of both playlists into $dir/watch.
publish_e2e() {
    local key
    farm_profile e2e '{"name": "e2e", "renditions": [
        {"name": "source", "remux": true},
        {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
    key=$(farm_channel "$1" e2e)
    farm_publish "$key" "$2" 640x360 30
    farm_watch "$1" "source 240p30" "$dir/watch"
}

# joined_at RENDITION: when the watch log ($dir/watch) first saw a segment
# of RENDITION after a join (EXT-X-DISCONTINUITY), waiting up to 30 s;
# empty when none came.
joined_at() {
    local t= _
    for _ in $(seq 300); do
        t=$(awk -v r="$1" '$2 == r && $5 > 0 {print $1; exit}' "$dir/watch")
        [ -n "$t" ] && break
        sleep 0.1
    done
    echo "$t"
}

# check_join TO CHANNEL "RENDITIONS": a take-over's numbering in the watch
# log ($dir/watch), exactly. The new worker TO logs the media sequence M it
# continues at, one past the highest segment any rendition listed before
# the join; every rendition's first segment after the join is one past its
# own last (M, or below M for a rendition the old worker had not finished
# its last segment of: it publishes that segment's time under that
# number, so numbers stay aligned with time); while that segment is in the
# window, the playlist marks EXT-X-DISCONTINUITY before it; and no segment
# file of CHANNEL was
# written twice on the origin (a new worker reusing a number the old one
# wrote but never listed would be). Prints one line per rendition.
# The old worker's last segment is the one before the discontinuity in the
# first playlist that has it: the watch polls every 0.2 s, so the old
# worker may list one more segment and the new one its first between two
# polls (a move: both run for a moment). That playlist must still list
# every segment after the last one the watch saw before (nothing skipped).
check_join() {
    local to=$1 ch=$2 r m m2 seen last fa first top=-1 twice
    m=$(grep -m1 "Continuing the stream's playlists" "$dir/logs/$to.log" |
        sed -n 's/.*media_sequence=\([0-9]*\).*/\1/p')
    [ -n "$m" ] || fail "$to did not log where it continues the playlists"
    # A move: the old worker may list one more segment before it stops;
    # the new one reads the playlists again before its first segment
    # ("Another session published more ...") and continues after it.
    m2=$(grep "Another session published more of the stream" "$dir/logs/$to.log" |
        sed -n 's/.*next_sequence=\([0-9]*\).*/\1/p' | sort -n | tail -n1 || true)
    [ -n "$m2" ] && [ "$m2" -gt "$m" ] && m=$m2
    for r in $3; do
        fa=$(awk -v r="$r" '$2 == r && $5 > 0 {print $6; exit}' "$dir/watch")
        [ -n "$fa" ] || fail "$r: no playlist with a discontinuity (no join seen)"
        [ $((fa - 1)) -gt "$top" ] && top=$((fa - 1))
    done
    for r in $3; do
        seen=$(awk -v r="$r" '$2 == r && $5 > 0 {exit} $2 == r {l = $4} END {print l + 0}' "$dir/watch")
        read -r first fa < <(awk -v r="$r" '$2 == r && $5 > 0 {print $3, $6; exit}' "$dir/watch")
        last=$((fa - 1))
        echo "$r: last segment listed before the join $last (the watch saw $seen before it), first after it $fa ($to continues at $m)"
        [ "$last" -ge "$seen" ] && [ "$first" -le $((seen + 1)) ] ||
            fail "$r: the join's playlist (segments $first to the discontinuity before $fa) does not follow on from segment $seen, the last listed before it"
        [ "$fa" -le "$m" ] ||
            fail "$r: the first segment after the join is $fa, past $m where $to continues"
        awk -v r="$r" -v m="$fa" '$2 == r && $5 > 0 {j = 1}
            j && $2 == r && $3 <= m && ($5 != 1 || $6 != m) {bad = 1; print}
            END {exit bad}' "$dir/watch" >"$dir/join.$r" ||
            fail "$r: a playlist with segment $m lost its EXT-X-DISCONTINUITY: $(head -n 3 "$dir/join.$r")"
    done
    [ "$m" = $((top + 1)) ] ||
        fail "$to continues at $m, not one past the last segment listed before the join ($top)"
    twice=$(awk -v p="/live/$ch/" '$6 == "\"PUT" && index($7, p) == 1 && $7 ~ /seg_/ && $9 ~ /^2/ {n[$7]++}
        END {for (f in n) if (n[f] > 1) print f, n[f]}' "$dir/origin/logs/access.log")
    [ -z "$twice" ] || fail "segment files written twice on the origin: $twice"
}

# publish_started CHANNEL: when the channel's publish started (the
# coordinator's stream.started event, its log time in UTC) in epoch
# seconds; "" before it.
publish_started() {
    local at
    at=$(grep -m1 "kind=stream.started .*\"channel\":\"$1\"" "$dir/logs/coord0.log" |
        cut -d' ' -f1)
    [ -n "$at" ] && TZ=UTC0 date -u -d "${at%Z}" +%s.%N
}

# ladder_ready CHANNEL: the channel's master is on the origin and every
# rendition it lists has a segment.
ladder_ready() {
    local pl r n=0
    pl=$(curl -fs "$FARM_ORIGIN/$1/master.m3u8") || return 1
    for r in $(grep -v '^#' <<<"$pl"); do
        grep -q '^#EXTINF' <<<"$(curl -fs "$FARM_ORIGIN/$1/$r")" || return 1
        n=$((n + 1))
    done
    [ "$n" -gt 0 ]
}

# wait_running CHANNEL WORKER [SECONDS]: until the channel's stream runs
# on WORKER (the API says so), 20 s unless SECONDS, else the test fails.
wait_running() {
    local end=$((SECONDS + ${3:-20}))
    while [ $SECONDS -lt $end ]; do
        [ "$(farm_stream_field "$1" worker)" = "$2" ] &&
            [ "$(farm_stream_field "$1" state)" = running ] && return 0
        sleep 0.1
    done
    fail "$1 is not running on $2 after ${3:-20} s (worker '$(farm_stream_field "$1" worker)', state '$(farm_stream_field "$1" state)')"
}

# wait_started CHANNEL...: the caller's associative array t0 gets each
# channel's publish start (publish_started), 10 s at most, else the test
# fails.
wait_started() {
    local _ ch left
    for _ in $(seq 100); do
        left=0
        for ch in "$@"; do
            [ -n "${t0[$ch]:-}" ] || t0[$ch]=$(publish_started "$ch") || left=1
        done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    for ch in "$@"; do
        [ -n "${t0[$ch]:-}" ] || fail "$ch: the publish did not start in 10 s"
    done
}

# wait_ladders SECONDS CHANNEL...: each channel's ladder is on the origin
# (ladder_ready) within SECONDS of its t0 (the caller's associative array),
# else the test fails; prints each time and keeps it in the caller's
# associative array ready.
wait_ladders() {
    local limit=$1 ch left
    shift
    while :; do
        left=0
        for ch in "$@"; do
            [ -n "${ready[$ch]:-}" ] && continue
            if ladder_ready "$ch"; then
                ready[$ch]=$(echo "$(date +%s.%N) - ${t0[$ch]}" | bc)
                echo "$ch: ladder on the origin $(printf %.2f "${ready[$ch]}") s after t0"
                [ "$(echo "${ready[$ch]} <= $limit" | bc)" = 1 ] ||
                    fail "$ch: the ladder took ${ready[$ch]} s (> $limit s)"
            elif [ "$(echo "$(date +%s.%N) - ${t0[$ch]} > $limit" | bc)" = 1 ]; then
                fail "$ch: no complete ladder $limit s after t0 (master: $(curl -fs "$FARM_ORIGIN/$ch/master.m3u8" | tr '\n' ' '))"
            else
                left=1
            fi
        done
        [ "$left" = 0 ] && break
        sleep 0.2
    done
}

# worker_json ID: the API's worker; dev_field ID JQ: a field of its device 0.
worker_json() { curl -fs "$FARM_API/api/workers/$1" || true; }
dev_field() { worker_json "$1" | jq -r ".devices[0]$2 // empty" 2>/dev/null || true; }
# stream_json CHANNEL: the API's stream of the channel.
stream_json() {
    curl -fs "$FARM_API/api/streams" |
        jq -c --arg c "$1" '.[] | select(.channel == $c)' 2>/dev/null || true
}
# events KIND CHANNEL: the coordinator's log lines of that event kind for
# the channel's stream.
events() {
    local id
    id=$(stream_json "$2" | jq -r .id)
    grep "kind=$1 .*stream=$id" "$dir/logs/coord0.log" || true
}
