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
# The slow-session move is e2e_farm_slow.
# Exits 77 (skipped) where no cgroup with a CPU limit can be made.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"

CG_TEST=load
# shellcheck source=tests/e2e/lib/cgroup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cgroup.sh"
cg_setup
trap cg_cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" load
HOG_PIDS=()
# On exit: the hogs stopped, the farm's cleanup (in a subshell: it exits
# 1 on a failed playlist check), then the cgroups.
trap 'rc=$?; set +e; [ ${#HOG_PIDS[@]} -eq 0 ] || kill "${HOG_PIDS[@]}"
    (cleanup) || rc=1; cg_cleanup; exit $rc' EXIT

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
