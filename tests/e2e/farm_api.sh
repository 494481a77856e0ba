#!/usr/bin/env bash
# The channel and profile API end to end, and docs/openapi.json walked
# against the live coordinator (real PostgreSQL through PRISM_TEST_PGURL,
# worker, ingest, nginx origin, ffmpeg). With a stream live on channel
# carol: its key is rotated (the old key stops publishing at once, the new
# one is a valid key, the stream goes on), its priority and profile change,
# a rename and a delete are refused while it is live; a profile that breaks
# a rule is refused with the rule, a profile in use cannot be deleted. Then
# every operation of the document is called (tests/e2e/lib/openapi_walk.js)
# and answers with a status the document lists, and every metric the
# Grafana dashboard (configs/grafana/prism-farm.json) asks for is in
# /metrics.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" api

farm_start w1 || fail "the farm did not start"
auth=(-H "Authorization: Bearer $FARM_TOKEN")
# api METHOD PATH [BODY]: prints "STATUS BODY" (the body on one line).
api() {
    local out
    out=$(curl -s -X "$1" "${auth[@]}" ${3:+-d "$3"} -w '\n%{http_code}' "$FARM_API$2")
    echo "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | tr -d '\n')"
}
# expect STATUS "STATUS BODY": the answer's status is STATUS.
expect() {
    [ "${2%% *}" = "$1" ] || fail "expected $1, got: $2"
}

farm_profile e2e '{"name": "e2e", "renditions": [
    {"name": "source", "remux": true},
    {"height": 240, "fps": 30, "bitrate_kbps": 350, "codec": "h264"}]}'
old_key=$(farm_channel carol e2e)
farm_publish "$old_key" 30
carol_pid=$FARM_PUB_PID
farm_watch carol "source 240p30" "$dir/watch"
wait_segment 240p30 1
stream=$(farm_stream_field carol id)

# A new key: the old one is refused at once, the stream goes on.
out=$(api POST /api/channels/carol/key)
expect 200 "$out"
new_key=$(sed -n 's/.*"stream_key": *"\([^"]*\)".*/\1/p' <<<"$out")
[ -n "$new_key" ] && [ "$new_key" != "$old_key" ] || fail "no new key: $out"
before=$(farm_watch_last "$dir/watch" 240p30)
farm_publish "$old_key" 5
wait "$FARM_PUB_PID" && fail "the old key still publishes"
grep -q 'msg="Publish refused." .*reason="invalid stream key"' "$dir/logs/ingest.log" ||
    fail "the old key was not refused as invalid"
farm_publish "$new_key" 5
wait "$FARM_PUB_PID" && fail "a second publisher took the live stream"
grep -q 'msg="Publish refused." .*reason="stream key already live: another publisher is sending"' "$dir/logs/ingest.log" ||
    fail "the new key was not taken as the channel's (refused only as already live)"
wait_segment 240p30 $((before + 1))
[ "$(farm_stream_field carol id)" = "$stream" ] || fail "the live stream changed"
echo "key rotated: the old key refused, the new one the channel's, stream $stream goes on"

# Changes while live: priority and profile yes, a rename or a delete no.
farm_profile small '{"name": "small", "renditions": [
    {"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}'
out=$(api PATCH /api/channels/carol '{"priority": 70, "profile": "small"}')
expect 200 "$out"
grep -q '"priority": 70' <<<"$out" && grep -q '"profile": "small"' <<<"$out" ||
    fail "the change is not in the answer: $out"
expect 409 "$(api PATCH /api/channels/carol '{"name": "caroline"}')"
expect 409 "$(api DELETE /api/channels/carol)"
expect 400 "$(api PATCH /api/channels/carol '{"priority": 101}')"
expect 400 "$(api PATCH /api/channels/carol '{"profile": "nosuch"}')"
expect 404 "$(api PATCH /api/channels/nobody '{"priority": 1}')"

# Profiles: checked by the ladder rules; one in use stays.
out=$(api PUT /api/profiles/bad '{"renditions": [{"height": 100000, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}')
expect 400 "$out"
echo "a bad profile refused: ${out#* }"
expect 201 "$(api PUT /api/profiles/tiny '{"renditions": [{"height": 144, "fps": 15, "bitrate_kbps": 150, "codec": "h264"}]}')"
expect 200 "$(api PUT /api/profiles/tiny '{"renditions": [{"height": 144, "fps": 30, "bitrate_kbps": 150, "codec": "h264"}]}')"
# Kept, but said: a rung no live device can encode in real time.
out=$(api PUT /api/profiles/huge '{"renditions": [{"height": 2160, "fps": 60, "bitrate_kbps": 20000, "codec": "h264"}]}')
expect 201 "$out"
grep -q '"warnings": \[ *"renditions\[0\]: [0-9]* pixels/s is above the encode budget of every live device that encodes h264"' <<<"$out" ||
    fail "no warning for a rung above every device's budget: $out"
expect 200 "$(api DELETE /api/profiles/huge)"
expect 409 "$(api DELETE /api/profiles/small)"
expect 409 "$(api DELETE /api/profiles/default)"
expect 200 "$(api DELETE /api/profiles/tiny)"
expect 404 "$(api GET /api/profiles/tiny)"
grep -q '"channels": 1' <<<"$(api GET /api/profiles/small)" || fail "profile small does not count carol"

# The Grafana dashboard asks only for metrics the coordinator describes.
metrics=$(curl -fs "$FARM_API/metrics")
for m in $(grep -o 'prism_[a-z_]*' "$src/configs/grafana/prism-farm.json" | sort -u); do
    grep -q "^# HELP $m " <<<"$metrics" || fail "the dashboard asks for $m, which /metrics does not have"
done
echo "every metric of configs/grafana/prism-farm.json is in /metrics"

# The document against the server, operation by operation.
cat >"$dir/plan.json" <<JSON
{"params": {
   "/api/workers/{id}": {"id": "w1"}, "/api/workers/{id}/drain": {"id": "w1"},
   "/api/workers/{id}/undrain": {"id": "w1"}, "/api/streams/{id}": {"id": "$stream"},
   "/api/channels/{name}": {"name": "walkme"}, "/api/channels/{name}/key": {"name": "walkme"},
   "/api/profiles/{name}": {"name": "walkprof"}},
 "bodies": {
   "POST /api/channels": {"name": "walkme", "profile": "small"},
   "PATCH /api/channels/{name}": {"priority": 10, "disabled": true},
   "PUT /api/profiles/{name}": {"renditions": [{"height": 144, "fps": 30, "bitrate_kbps": 200, "codec": "h264"}]}}}
JSON
node "$src/tests/e2e/lib/openapi_walk.js" "$FARM_API" "$FARM_TOKEN" \
    "$src/docs/openapi.json" "$dir/plan.json" || fail "the API and docs/openapi.json disagree"
[ "$(farm_sql "SELECT count(*) FROM channels WHERE name = 'walkme'")" = 0 ] || fail "walkme was not deleted"
kill "$carol_pid" "$FARM_WATCH_PID" 2>/dev/null || true
echo "farm api e2e: ok"
