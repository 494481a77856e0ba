#!/usr/bin/env bash
# A slow session moves, once (real ingest, coordinator with PostgreSQL
# through PRISM_TEST_PGURL, workers, nginx origin, ffmpeg, hls.js):
#  1. Worker ws runs x264 at preset veryslow in a cgroup of a quarter
#     core, and says it has room (its budgets are set): the 360p30 stream
#     placed on it cannot keep up (speed_10s well under 1). It is alone:
#     the stream stays (a stream.slow event, "no worker with room") and
#     ws, lagging, publishes segments meanwhile.
#  2. Worker wf (preset ultrafast, a cgroup of 1.5 cores, default budgets:
#     the device is the cgroup's 1.5 cores, 18 Mpx/s) joins. Within
#     slow_move_ms (5 s) and a few reports the coordinator moves the
#     stream to wf: a stream.slow_moved event from ws to wf.
#  3. It stays there for 15 s: no second move, no placement back (the
#     cooldown and the avoid rule), and no stream.slow event after the
#     move; ws's session has ended by then (released, it drops its queued
#     backlog instead of working through it).
#  4. The playlists join exactly (check_join: numbering goes on, one
#     discontinuity, no segment file written twice on the origin) and
#     never went backwards although ws, lagging, still had segments to
#     publish when wf started (a moved session writes nothing once the
#     new one lists past it); every playlist the origin served is valid
#     (lib/hls_check.sh), and hls.js in Chromium plays the stream on wf.
# Exits 77 (skipped) where no cgroup with a CPU limit can be made.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"

CG_TEST=slow
# shellcheck source=tests/e2e/lib/cgroup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cgroup.sh"
cg_setup
trap cg_cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" slow
# shellcheck source=tests/e2e/lib/player.sh
source "$src/tests/e2e/lib/player.sh"
# On exit: the farm's cleanup (in a subshell: it exits 1 on a failed
# playlist check), then the cgroups.
trap 'rc=$?; set +e; (cleanup) || rc=1; cg_cleanup; exit $rc' EXIT

FARM_REPORT_MS=500
farm_pg || fail "no PostgreSQL"
farm_origin || fail "no origin"
farm_coord 0 "load_tau_ms = 1000
slow_move_ms = 5000
slow_cooldown_ms = 60000" || fail "the coordinator did not start"
farm_key ws # before the ingest starts: it reads its allowlist every 5 s
farm_key wf
farm_ingest || fail "the ingest did not start"
farm_profile heavy '{"name": "heavy", "renditions": [
    {"name": "source", "remux": true},
    {"height": 360, "fps": 30, "bitrate_kbps": 800, "codec": "h264"}]}'

# 1. The slow worker, alone, gets the stream.
cg_make s 0.25
cg_make f 1.5
cg_enter s
farm_worker ws --preset veryslow --cpu-measure auto \
    --cpu-encode-budget 20000000 --cpu-decode-budget 40000000
cg_enter ""
farm_wait_workers 1
key=$(farm_channel slowpoke heavy)
farm_publish "$key" 120 640x360 30
farm_watch slowpoke "source 360p30" "$dir/watch"
wait_running slowpoke ws 20
t_run=$SECONDS
for _ in $(seq 600); do
    [ "$(farm_watch_last "$dir/watch" 360p30)" -ge 1 ] &&
        [ -n "$(events stream.slow slowpoke)" ] && break
    sleep 0.1
done
[ "$(farm_watch_last "$dir/watch" 360p30)" -ge 1 ] ||
    fail "ws did not publish two 360p30 segments in 60 s"
stays=$(events stream.slow slowpoke | head -n1)
[ -n "$stays" ] || fail "no stream.slow event for the slow stream alone on ws"
echo "after $((SECONDS - t_run)) s on ws: ${stays#*Event. }"
echo "ws: session $(stream_json slowpoke | jq -c '.session | {speed_10s, slow_ms, queue_depth}')"

# 2. The fast worker joins; its CPU device is its cgroup's limit.
cg_enter f
farm_worker wf --cpu-measure auto
cg_enter ""
farm_wait_workers 2
budget=$(dev_field wf .encode_budget)
[ "$budget" = 18000000 ] ||
    fail "wf in a 1.5-core cgroup offers $budget px/s, not 18000000 (1.5 x 12M): $(worker_json wf)"
echo "wf: $(dev_field wf .name), encode budget $budget px/s"
t_join=$SECONDS
for _ in $(seq 300); do
    [ -n "$(events stream.slow_moved slowpoke)" ] && break
    sleep 0.1
done
moved=$(events stream.slow_moved slowpoke)
[ -n "$moved" ] || fail "no stream.slow_moved event 30 s after wf joined (session: $(stream_json slowpoke | jq -c .session))"
echo "$((SECONDS - t_join)) s after wf joined: ${moved#*Event. }"
grep -q 'worker=wf .*"from":"ws","to":"wf"' <<<"$moved" ||
    fail "the slow stream did not move from ws to wf: $moved"
nslow=$(events stream.slow slowpoke | wc -l)
wait_running slowpoke wf 20

# 3. No bounce: one move, nothing placed back, no "stays".
sleep 15
[ "$(farm_stream_field slowpoke worker)" = wf ] ||
    fail "the stream left wf: on '$(farm_stream_field slowpoke worker)'"
n=$(events stream.slow_moved slowpoke | wc -l)
[ "$n" = 1 ] || fail "$n slow moves, not 1: $(events stream.slow_moved slowpoke)"
n=$(events stream.placed slowpoke | wc -l)
[ "$n" = 1 ] || fail "$n stream.placed events, not 1 (the first): $(events stream.placed slowpoke)"
[ "$(events stream.slow slowpoke | wc -l)" = "$nslow" ] ||
    fail "a stream.slow event after the move: $(events stream.slow slowpoke | tail -n1)"
echo "wf: session $(stream_json slowpoke | jq -c '.session | {speed_10s, slow_ms}')"
# ws's session ended once released (its queued backlog dropped), not after
# working through it (a minute at its speed).
grep -q 'msg="Session ended."' "$dir/logs/ws.log" ||
    fail "ws's session still runs 15 s after the move: $(grep 'Session\|Stopped' "$dir/logs/ws.log" | tail -n 3)"
grep -h 'Stopped; the input still queued is dropped' "$dir/logs/ws.log" | sed 's/.*packets=/ws: dropped its queued input at the stop, packets=/' || true

# 4. Playlists never went backwards; what ws did with its backlog; a
# player plays the stream where it went.
farm_check_forward "$dir/watch" || fail "a playlist went backwards"
check_join wf slowpoke "source 360p30"
grep -h "Another session lists this rendition's segments now" "$dir/logs/ws.log" |
    sed 's/^/ws: /' || echo "ws: nothing left to drop when wf took over"
out=$(play_hls "$FARM_ORIGIN/slowpoke/master.m3u8" 8) ||
    fail "hls.js did not play the stream on wf: $out"
echo "hls.js: startup $(play_json_field "$out" startup_s) s, advance/wall $(play_json_field "$out" ratio)"
echo "farm slow e2e: ok"
