#!/usr/bin/env bash
# The load control loop end to end (real ingest, coordinator with
# PostgreSQL through PRISM_TEST_PGURL, workers, nginx origin, ffmpeg), each
# worker in a cgroup of its own with a CPU limit, so that what it measures
# is its cgroup's use and not the rest of this shared host:
#  1. A CPU hog (busy shell loops, started here) shares worker wa's
#     cgroup (half a core): wa's measured use goes over 0.7 while its
#     reservations stay 0, as those of wb (same limit, nothing else in
#     it); a new stream goes to wb although wa registered first (by
#     reservations alone the tie would go to wa), seen in the
#     stream.placed event; the API and /metrics show reserved and
#     measured side by side.
# The slow-session move (load_ctl.h) is covered by test_load_ctl and
# test_coord_integration, not here: moving a session that lags by more
# than a segment lets the old one publish its backlog over the new one's
# playlists (see docs/coordinator.md, "Load control loop").
# Exits 77 (skipped) where no cgroup with a CPU limit can be made.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"

# ---------------------------------------------------------------- cgroups
CG_NAME=prism-load-$$
CG_DIRS=()
# cg_setup: the hierarchies to use (v1 cpu and cpuacct, or v2), or exit 77.
cg_setup() {
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] &&
        [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] &&
        mkdir "/sys/fs/cgroup/cpu/$CG_NAME" 2>/dev/null &&
        mkdir "/sys/fs/cgroup/cpuacct/$CG_NAME" 2>/dev/null; then
        CG_V=1
        CG_DIRS=("/sys/fs/cgroup/cpuacct/$CG_NAME" "/sys/fs/cgroup/cpu/$CG_NAME")
        CG_ROOTS=(/sys/fs/cgroup/cpu /sys/fs/cgroup/cpuacct)
        return 0
    fi
    rmdir "/sys/fs/cgroup/cpu/$CG_NAME" 2>/dev/null || true
    if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
        mkdir "/sys/fs/cgroup/$CG_NAME" 2>/dev/null &&
        echo +cpu >"/sys/fs/cgroup/$CG_NAME/cgroup.subtree_control" 2>/dev/null; then
        CG_V=2
        CG_DIRS=("/sys/fs/cgroup/$CG_NAME")
        CG_ROOTS=(/sys/fs/cgroup)
        return 0
    fi
    rmdir "/sys/fs/cgroup/$CG_NAME" 2>/dev/null || true
    echo "SKIP: cannot create a cgroup with a CPU limit here (neither v1 cpu+cpuacct under /sys/fs/cgroup/cpu{,acct} nor v2 with the cpu controller): the load control loop needs per-worker cgroups on a shared host"
    exit 77
}
# cg_make NAME CORES: a child cgroup limited to CORES (a decimal).
cg_make() {
    local quota
    quota=$(echo "$2 * 100000 / 1" | bc)
    if [ "$CG_V" = 1 ]; then
        mkdir "/sys/fs/cgroup/cpu/$CG_NAME/$1" "/sys/fs/cgroup/cpuacct/$CG_NAME/$1"
        CG_DIRS=("/sys/fs/cgroup/cpu/$CG_NAME/$1" "/sys/fs/cgroup/cpuacct/$CG_NAME/$1" "${CG_DIRS[@]}")
        echo 100000 >"/sys/fs/cgroup/cpu/$CG_NAME/$1/cpu.cfs_period_us"
        echo "$quota" >"/sys/fs/cgroup/cpu/$CG_NAME/$1/cpu.cfs_quota_us"
    else
        mkdir "/sys/fs/cgroup/$CG_NAME/$1"
        CG_DIRS=("/sys/fs/cgroup/$CG_NAME/$1" "${CG_DIRS[@]}")
        echo "$quota 100000" >"/sys/fs/cgroup/$CG_NAME/$1/cpu.max"
    fi
}
# cg_enter NAME: this shell (and what it starts next) into cgroup NAME, or
# back to the root cgroup with "".
cg_enter() {
    local r
    for r in "${CG_ROOTS[@]}"; do
        if [ -n "$1" ]; then
            echo "$BASHPID" >"$r/$CG_NAME/$1/cgroup.procs"
        else
            echo "$BASHPID" >"$r/cgroup.procs"
        fi
    done
}
# cg_cleanup: a process still in the test's cgroups is one the test
# started (a worker or hog that outlived farm_down): it is killed, then
# the cgroups are removed (children first).
cg_cleanup() {
    local d p _
    for d in "${CG_DIRS[@]}"; do
        [ -d "$d" ] || continue
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
            kill -9 "$p" 2>/dev/null || true
        done
        for _ in $(seq 20); do
            rmdir "$d" 2>/dev/null && break
            sleep 0.1
        done
    done
    return 0
}
cg_setup
trap cg_cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" load
HOG_PIDS=()
# On exit: the hogs stopped, the farm's cleanup (in a subshell: it exits
# 1 on a failed playlist check), then the cgroups.
trap 'rc=$?; set +e; [ ${#HOG_PIDS[@]} -eq 0 ] || kill "${HOG_PIDS[@]}"
    (cleanup) || rc=1; cg_cleanup; exit $rc' EXIT

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

FARM_REPORT_MS=500
farm_pg || fail "no PostgreSQL"
farm_origin || fail "no origin"
farm_coord 0 "load_tau_ms = 1000" || fail "the coordinator did not start"
farm_key wa # before the ingest starts: it reads its allowlist every 5 s
farm_key wb
farm_ingest || fail "the ingest did not start"
farm_profile heavy '{"name": "heavy", "renditions": [
    {"name": "source", "remux": true},
    {"height": 360, "fps": 30, "bitrate_kbps": 800, "codec": "h264"}]}'
# 20 Mpx/s, 17 with the headroom: heavy's 360p30 (6.9 Mpx/s) fits a
# worker at rest, not one whose measured use is over 0.6.
# Each worker measures its own cgroup (scripts/farm turns measuring off).
budget=(--cpu-encode-budget 20000000 --cpu-decode-budget 40000000
    --cpu-measure auto)

# The hog's worker gets no new stream; the other, same reservations, does.
pubs=()
cg_make a 0.5
cg_make b 0.5
cg_enter a
HOG_PIDS=()
for _ in 1 2; do
    sh -c 'while :; do :; done' &
    HOG_PIDS+=($!)
done
farm_worker wa "${budget[@]}"
cg_enter ""
farm_wait_workers 1
cg_enter b
farm_worker wb "${budget[@]}"
cg_enter ""
farm_wait_workers 2
for _ in $(seq 100); do
    ua=$(dev_field wa .measured.use)
    [ -n "$ua" ] && [ "$(echo "$ua > 0.7" | bc)" = 1 ] && break
    sleep 0.2
done
[ "$(dev_field wa .measured.source)" = cgroup ] ||
    fail "wa does not measure its cgroup: $(worker_json wa)"
[ -n "$ua" ] && [ "$(echo "$ua > 0.7" | bc)" = 1 ] ||
    fail "wa's measured use is '$ua' with a hog in its cgroup, not over 0.7"
for _ in $(seq 50); do
    ub=$(dev_field wb .measured.use)
    [ -n "$ub" ] && break
    sleep 0.2
done
[ -n "$ub" ] && [ "$(echo "$ub < 0.5" | bc)" = 1 ] ||
    fail "wb's measured use is '$ub' with nothing in its cgroup, not under 0.5"
echo "wa: reserved $(dev_field wa .reserved.encode_pixels) px/s, measured use $ua ($(dev_field wa .measured.encode_pixels) px/s counted), cores $(dev_field wa .measured.cpu_cores)"
echo "wb: reserved $(dev_field wb .reserved.encode_pixels) px/s, measured use $ub ($(dev_field wb .measured.encode_pixels) px/s counted)"
m=$(curl -fs "$FARM_API/metrics")
awk '$1 == "prism_device_measured_use{worker=\"wa\",device=\"0\",kind=\"cpu\"}" && $2 > 0.6 {ok = 1} END {exit !ok}' <<<"$m" ||
    fail "/metrics lacks wa's measured use: $(grep prism_device_ <<<"$m")"
grep -q '^prism_device_reserved_encode_pixels{worker="wa",device="0",kind="cpu"} 0$' <<<"$m" ||
    fail "/metrics lacks wa's reservations: $(grep prism_device_ <<<"$m")"
# Two streams, one after the other: both go to wb, each the pick of a
# placement that sees wa as busy (by reservations alone, the first would
# go to wa, the second to whichever is left).
for ch in first second; do
    k=$(farm_channel "$ch" heavy)
    farm_publish "$k" 40 640x360 30
    pubs+=("$FARM_PUB_PID")
    wait_running "$ch" wb 20
    placed=$(events stream.placed "$ch" | head -n1)
    [ -n "$placed" ] || fail "no stream.placed event for $ch"
    grep -q "worker=wb" <<<"$placed" || fail "$ch was placed elsewhere: $placed"
    echo "event: ${placed#*Event. }"
done
echo "wa: reserved $(dev_field wa .reserved.encode_pixels) px/s, measured $(dev_field wa .measured.encode_pixels) px/s (use $(dev_field wa .measured.use)); wb: reserved $(dev_field wb .reserved.encode_pixels) px/s, measured $(dev_field wb .measured.encode_pixels) px/s (use $(dev_field wb .measured.use))"
kill "${pubs[@]}" "${HOG_PIDS[@]}" 2>/dev/null || true
HOG_PIDS=()
echo "farm load e2e: ok"
