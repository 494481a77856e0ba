#!/usr/bin/env bash
# The platform's admission hook end to end (real coordinator with
# PostgreSQL through PRISM_TEST_PGURL, worker, ingest, nginx origin,
# ffmpeg publishers, and the platform's hook in node:
# tests/e2e/lib/publish_hook_server.js, which checks each request's
# signature). Allowed: a key the platform knows goes live on the channel it
# names (made on the fly). The hook sets a profile and a priority. Refused:
# the platform's reason reaches the log and the events, and a second try
# within publish_hook_cache_ms is answered from the cache. A Prism key the
# platform does not know is refused while the hook answers. The hook down
# (no answer within the timeout): with policy "channels" a Prism key is
# checked against the channels table and goes live; with policy "refuse"
# it is refused with "admission service unavailable".
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" publish-hook

secret=e2e-hook-secret-0123456789
hook_port=$(farm_port)
asked=$dir/hook.jsonl
mode=$dir/hook.mode
: >"$asked"
echo fast >"$mode"
node "$src/tests/e2e/lib/publish_hook_server.js" "$hook_port" "$secret" \
    "$asked" "$mode" >>"$dir/hook.log" 2>&1 &
farm_track $! hook
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$hook_port") 2>/dev/null && break
    sleep 0.1
done

hook_ini() {
    FARM_COORD_INI="publish_hook_url = http://127.0.0.1:$hook_port/admit
publish_hook_secret = $secret
publish_hook_timeout_ms = 1000
publish_hook_cache_ms = 30000
publish_hook_policy = $1"
}
hook_ini channels
farm_start w1 || fail "the farm did not start"
farm_profile small '{"name": "small", "renditions": [
    {"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}'
farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'

# refused_with KEY REASON: a publish with KEY ends at once, refused with
# REASON (the coordinator's log says so).
refused_with() {
    farm_publish "$1" 10
    local t=$SECONDS
    wait "$FARM_PUB_PID" && fail "the publish with $1 was not refused"
    [ $((SECONDS - t)) -lt 8 ] || fail "the refused publish with $1 took $((SECONDS - t)) s"
    grep -q "msg=\"Publish refused.\" .*reason=\"$2\"" "$dir/logs/coord0.log" ||
        fail "no refusal '$2' in the coordinator's log"
    echo "$1: refused, \"$2\""
}
# live CHANNEL: the channel's master and every rendition it lists are on
# the origin within 20 s; prints the renditions.
live() {
    for _ in $(seq 200); do
        ladder_ready "$1" && break
        sleep 0.1
    done
    ladder_ready "$1" || fail "$1 did not go live"
    curl -fs "$FARM_ORIGIN/$1/master.m3u8" | grep -v '^#' | tr '\n' ' '
}

# Allowed, on a channel the platform names.
farm_publish plat-dana-key 12
dana_pid=$FARM_PUB_PID
echo "hookdana live: $(live hookdana)"
[ "$(farm_sql "SELECT profile || ' ' || priority FROM channels WHERE name = 'hookdana'")" = "default 50" ] ||
    fail "hookdana was not made with the default profile and priority"
grep -q 'kind=stream.started .*"by_hook":true' "$dir/logs/coord0.log" ||
    fail "stream.started does not say the hook allowed it"

# Allowed with the profile and priority the platform sets.
farm_publish plat-erin-key 12
erin_pid=$FARM_PUB_PID
rends=$(live hookerin)
echo "hookerin live: $rends"
[ "$rends" = "144p30/index.m3u8 " ] || fail "hookerin's ladder is '$rends', not the small profile's"
[ "$(farm_sql "SELECT profile || ' ' || priority FROM channels WHERE name = 'hookerin'")" = "small 80" ] ||
    fail "the hook's profile and priority were not set on hookerin"

# Refused with the platform's reason; the second time from the cache.
refused_with plat-banned-key "banned for spam"
refused_with plat-banned-key "banned for spam"
n=$(grep -c '"key":"plat-banned-key"' "$asked")
[ "$n" = 1 ] || fail "the hook was asked $n times about the banned key (cache 30 s)"
[ "$(farm_sql "SELECT count(*) FROM events WHERE kind = 'publish.rejected'
    AND detail->>'reason' = 'banned for spam' AND detail->>'by' = 'publish_hook'")" = 2 ] ||
    fail "the refusals are not in the events"

# A Prism key the platform does not know: the hook decides, not the table.
key=$(farm_channel frank e2e)
[ -n "$key" ] || fail "no key for frank"
refused_with "$key" "refused by the platform"

# Every request was signed and carried what the platform needs.
[ "$(grep -c '"sig_ok":false' "$asked")" = 0 ] || fail "an unsigned or badly signed hook request"
grep -q '"protocol":"rtmp"' "$asked" && grep -q '"addr":"127.0.0.1' "$asked" &&
    grep -q '"ingest":"ingest-1"' "$asked" || fail "a hook request lacks protocol, addr or ingest: $(head -n1 "$asked")"

# The hook down, policy "channels": the table decides. (Another channel:
# frank's refusal is cached.)
echo slow >"$mode"
key=$(farm_channel gina e2e)
[ -n "$key" ] || fail "no key for gina"
farm_publish "$key" 8
gina_pid=$FARM_PUB_PID
echo "hook down (policy channels): gina live: $(live gina)"
grep -q 'msg="The publish hook is down; its policy decides." .*policy=channels' "$dir/logs/coord0.log" ||
    fail "the coordinator did not log the hook down"
wait "$dana_pid" "$erin_pid" "$gina_pid" || true

# Policy "refuse".
kill "$FARM_COORD_PID"
wait "$FARM_COORD_PID" 2>/dev/null || true
hook_ini refuse
farm_coord 0 || fail "the coordinator did not come back"
sleep 1 # the ingest finds the coordinator again
refused_with "$key" "admission service unavailable, try again shortly"
grep -q '^prism_publish_hook_answers_total{answer="down"} [1-9]' <<<"$(curl -fs "$FARM_API/metrics")" ||
    fail "/metrics does not count the hook down"
echo "farm publish hook e2e: ok"
