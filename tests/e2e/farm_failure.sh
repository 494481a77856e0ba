#!/usr/bin/env bash
# Failure containment end to end (real ingest, coordinator with PostgreSQL
# through PRISM_TEST_PGURL, worker, ffmpeg publishers), with the
# coordinator's default failure policy. The worker writes to a local
# directory where two real, deterministic failures wait:
#  1. "flaky": regular files stand where its renditions' directories go,
#     so no rendition can create its directory and every session fails as
#     it starts. The stream must not be placed in a loop: at most 6
#     generations in its first 20 s (0, 0.5, 1.5, 3.5, 7.5 s, then every
#     30 s; before the policy it was placed again as fast as the worker
#     answered, about 50 times in 15 s), state "failed" with the worker's
#     error in the API, the stream.failed event and /metrics.
#  2. "solid": a file stands where its Source rendition's directory goes:
#     the Source remux fails at its first segment and is dropped, reported
#     to the coordinator, and the encoded rendition goes on in the same
#     session (generation 1, running, segments advancing, a master playlist
#     without the Source).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" failure

# stream_json CHANNEL: the channel's stream object from the API ("" none).
stream_json() {
    curl -fs "$FARM_API/api/streams" |
        jq -c --arg c "$1" '.[] | select(.channel == $c)' || true
}

out=$dir/out
mkdir -p "$out/solid"
mkdir -p "$out/flaky"
: >"$out/flaky/source" # where flaky's renditions' directories would be
: >"$out/flaky/160p15"
: >"$out/solid/source" # where solid's Source directory would be
FARM_REPORT_MS=300
farm_start w1 --output-url "$out" || fail "the farm did not start"
farm_profile small '{"name": "small", "renditions": [
    {"name": "source", "remux": true},
    {"height": 160, "fps": 15, "bitrate_kbps": 200, "codec": "h264"}]}'
kflaky=$(farm_channel flaky small 50)
ksolid=$(farm_channel solid small 50)
[ -n "$kflaky" ] && [ -n "$ksolid" ] || fail "no stream keys"

farm_publish "$ksolid" 40 320x180 15
farm_publish "$kflaky" 40 320x180 15
# The first placement of flaky starts its clock.
placed() {
    local g
    g=$(stream_json flaky | jq -r '.generation // 0')
    [ "${g:-0}" -ge 1 ]
}
for _ in $(seq 200); do
    placed && break
    sleep 0.1
done
placed || fail "flaky was never placed"
t0=$SECONDS
sleep 20

# 1. No restart storm.
j=$(stream_json flaky)
[ -n "$j" ] || fail "flaky has no stream"
gens=$(jq -r .generation <<<"$j")
state=$(jq -r .state <<<"$j")
err=$(jq -r .failure.last_error <<<"$j")
echo "flaky after $((SECONDS - t0)) s: generations=$gens state=$state failures=$(jq -r .failure.failures <<<"$j") error=\"$err\""
[ "$gens" -le 6 ] || fail "flaky was placed $gens times in 20 s (at most 6)"
[ "$gens" -ge 3 ] || fail "flaky was placed only $gens times: the retries did not run"
[ "$state" = failed ] || fail "flaky is '$state', not failed"
[ "$(jq -r .failure.failed <<<"$j")" = true ] || fail "flaky's failure.failed is not true"
grep -q "cannot create its output directory" <<<"$err" ||
    fail "flaky's last_error does not give the worker's reason: '$err'"
ev=$(farm_sql "SELECT count(*) FROM events WHERE kind = 'stream.failed'
               AND detail->>'error' LIKE '%cannot create its output directory%'")
[ "$ev" = 1 ] || fail "$ev stream.failed events with the error (want 1)"
# Read whole, then matched: grep -q leaving early made curl fail on a
# broken pipe, and pipefail failed the check (two CI runs); polled 5 s.
metrics_failed() { grep -qx 'prism_streams{state="failed"} 1' <<<"$(curl -fs "$FARM_API/metrics")"; }
for _ in $(seq 50); do
    metrics_failed && break
    sleep 0.1
done
metrics_failed || fail "/metrics does not count the failed stream: $(curl -fsS "$FARM_API/metrics" 2>&1 | grep -E '^prism_streams|curl')"

# 2. The Source remux failed; the encoded rendition went on.
j=$(stream_json solid)
[ -n "$j" ] || fail "solid has no stream"
echo "solid: $(jq -c '{state, generation, failure}' <<<"$j")"
[ "$(jq -r .state <<<"$j")" = running ] || fail "solid is not running"
[ "$(jq -r .generation <<<"$j")" = 1 ] || fail "solid was placed again"
[ "$(jq -r '.failure.failed_renditions[0].name' <<<"$j")" = source ] ||
    fail "the dropped Source is not reported"
n1=$(grep -c '^#EXTINF' "$out/solid/160p15/index.m3u8" 2>/dev/null || true)
last1=$(grep -o 'seg_[0-9]*' "$out/solid/160p15/index.m3u8" | tail -n1 || true)
sleep 4.5
last2=$(grep -o 'seg_[0-9]*' "$out/solid/160p15/index.m3u8" | tail -n1 || true)
echo "solid 160p15: $n1 segments listed, last $last1 then $last2"
[ -n "$last1" ] && [ "$last2" != "$last1" ] ||
    fail "solid's 160p15 does not advance ($last1 -> $last2)"
grep -q '160p15/index.m3u8' "$out/solid/master.m3u8" ||
    fail "solid's master lacks 160p15"
if grep -q 'source/index.m3u8' "$out/solid/master.m3u8"; then
    fail "solid's master still lists the failed Source"
fi
grep -q 'A rendition failed; it is dropped, the others go on.*rendition=source' \
    "$dir/logs/w1.log" || fail "the worker did not log the dropped Source"
echo "OK"
