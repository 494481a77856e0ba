#!/usr/bin/env bash
# Webhooks end to end (real coordinator with PostgreSQL through
# PRISM_TEST_PGURL, two workers, ingest, nginx origin, ffmpeg, and a
# platform's receiver in node: tests/e2e/lib/webhook_receiver.js). The
# receiver answers 500 at first (retried; the coordinator's API answers
# meanwhile), then takes the publish's events; it is down for 10 s while
# the carrying worker is killed (a failover) and the coordinator is killed
# and started again; back, it must get what it missed; then the publish
# ends. At the end the receiver has every deliverable event of the events
# table, first seen in id order, each signed, among them started, live,
# moved and ended of the stream.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" webhooks

secret=e2e-webhook-secret-0123456789
hook_port=$(farm_port)
hooks=$dir/hooks.jsonl
mode=$dir/hook.mode
: >"$hooks"
echo 500 >"$mode"
receiver() {
    node "$src/tests/e2e/lib/webhook_receiver.js" "$hook_port" "$secret" \
        "$hooks" "$mode" >>"$dir/logs/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    farm_track "$RECEIVER_PID" receiver
    local _
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$hook_port") 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the webhook receiver did not start"
}
receiver

FARM_REPORT_MS=300 # a dead worker is found in 0.9 s
FARM_COORD_INI="webhook_url = http://127.0.0.1:$hook_port/prism
webhook_secret = $secret
webhook_timeout_ms = 2000
webhook_retry_min_ms = 200
webhook_retry_max_ms = 1000
playback_url = https://cdn.example.net/live"
farm_start "w1 w2" || fail "the farm did not start"
publish_e2e dana 40

# hooked KIND: the receiver acknowledged (200) an event of KIND for dana.
hooked() {
    grep '"status":200' "$hooks" | grep "\"event\":\"$1\"" | grep -q '"channel":"dana"'
}
# wait_hooked KIND SECONDS
wait_hooked() {
    local _
    for _ in $(seq $(($2 * 10))); do
        hooked "$1" && return 0
        sleep 0.1
    done
    fail "the receiver did not get $1 within $2 s"
}

# Refused deliveries are retried, and the coordinator's loop goes on.
for _ in $(seq 100); do
    [ "$(grep -c '"status":500' "$hooks")" -ge 3 ] && break
    sleep 0.1
done
[ "$(grep -c '"status":500' "$hooks")" -ge 3 ] || fail "fewer than 3 attempts answered 500"
state=$(curl -fs "$FARM_API/api/webhooks")
echo "receiver answering 500: $state"
grep -q '"state": *"retrying"' <<<"$state" || fail "the API does not say the hook is retrying"
grep -q '^prism_webhook_failures_total{url="http://127.0.0.1:'"$hook_port"'/prism"} [1-9]' \
    <<<"$(curl -fs "$FARM_API/metrics")" || fail "/metrics counts no webhook failure"
t=$(date +%s%N)
curl -fs -m 2 -o /dev/null "$FARM_API/api/streams" || fail "the API did not answer while the hook was failing"
echo "the API answered in $((($(date +%s%N) - t) / 1000000)) ms while deliveries failed"
echo ok >"$mode"
wait_hooked stream.started 10
wait_hooked stream.live 20
grep '"event":"stream.live"' "$hooks" | grep -q '"master_url":"https://cdn.example.net/live/dana/master.m3u8"' ||
    fail "stream.live does not name the master playlist"
grep '"event":"stream.live"' "$hooks" | grep -q '"thumbnail_url":"https://cdn.example.net/live/dana/thumb.jpg"' ||
    fail "stream.live does not name the thumbnail"

# The receiver goes away for 10 s; meanwhile a failover and a coordinator
# restart.
kill "$RECEIVER_PID"
wait "$RECEIVER_PID" 2>/dev/null || true
t_down=$SECONDS
carrier=$(farm_stream_field dana worker)
echo "receiver down; kill -9 of $carrier, which carries the stream"
kill -9 "${FARM_WORKER_PIDS[$carrier]}"
for _ in $(seq 100); do
    [ "$(farm_sql "SELECT count(*) FROM events WHERE kind = 'stream.replaced'")" -ge 1 ] && break
    sleep 0.1
done
[ "$(farm_sql "SELECT count(*) FROM events WHERE kind = 'stream.replaced'")" -ge 1 ] ||
    fail "the stream was not placed again"
echo "stream moved; kill -9 of the coordinator, started again"
kill -9 "$FARM_COORD_PID"
wait "$FARM_COORD_PID" 2>/dev/null || true
farm_coord 0 || fail "the coordinator did not come back"
sleep $((10 - (SECONDS - t_down) > 0 ? 10 - (SECONDS - t_down) : 0))
hooked stream.moved && fail "stream.moved arrived while the receiver was down"
receiver
echo "receiver back after $((SECONDS - t_down)) s"
wait_hooked stream.moved 15

wait "$FARM_PUB_PID" || true
wait_endlist "$FARM_ORIGIN/dana/240p30/index.m3u8"
wait_hooked stream.ended 15
kill "$FARM_WATCH_PID" 2>/dev/null || true
sleep 1 # anything still in flight

# Every deliverable event of the table, first seen in id order.
want=$(farm_sql "SELECT id FROM events WHERE kind IN ('stream.started',
    'stream.live', 'stream.replaced', 'stream.partial',
    'stream.rendition_failed', 'stream.upgraded', 'stream.failed',
    'stream.ended') ORDER BY id" | tr '\n' ' ')
got=$(grep '"status":200' "$hooks" | sed -n 's/.*"delivery":"\([0-9]*\)".*/\1/p' |
    awk '!seen[$1]++' | tr '\n' ' ')
echo "events in PostgreSQL:  $want"
echo "acknowledged, in order: $got"
[ "$got" = "$want" ] || fail "the receiver's events differ from the table's"
[ "$(grep -c '"sig_ok":false' "$hooks")" = 0 ] || fail "a request with a bad signature"
grep -v '"ctype":"application/json"' "$hooks" | grep -q . && fail "a request that is not application/json"
order=$(grep '"status":200' "$hooks" | grep '"channel":"dana"' |
    sed -n 's/.*"event":"\([a-z.]*\)".*/\1/p' | awk '!seen[$1]++' | tr '\n' ' ')
echo "dana's events: $order"
[ "$order" = "stream.started stream.live stream.moved stream.ended " ] ||
    fail "dana's events are not started, live, moved, ended"
dups=$(grep '"status":200' "$hooks" | sed -n 's/.*"delivery":"\([0-9]*\)".*/\1/p' | sort | uniq -d | wc -l)
echo "attempts: $(wc -l <"$hooks") ($(grep -c '"status":500' "$hooks") answered 500), events delivered twice: $dups"
echo "farm webhooks e2e: ok"
