#!/usr/bin/env bash
# The operator's console end to end: a farm of two workers (real
# PostgreSQL through PRISM_TEST_PGURL, ingest, nginx origin, ffmpeg) whose
# coordinator has a read-only token, and the console in Debian's headless
# Chromium (tests/e2e/player/console.js): the viewer sees both workers and
# the published stream within 5 s, plays it (the playhead advances), cannot
# drain; the admin drains the stream's worker with "move now" and the page
# shows the stream on the other worker; the events and channels views show
# the drain and the channel. Screenshots of every view are kept in
# $PRISM_BUILD_DIR/console-screens/.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" console
source "$src/tests/e2e/lib/player.sh"
play_hls_ready || fail "the browser cannot run here"

viewer=viewer-token-$RANDOM$RANDOM
FARM_COORD_INI="api_read_token = $viewer"
FARM_REPORT_MS=300
FARM_THUMBNAIL_S=2 # the streams view shows them
farm_start "w1 w2" || fail "the farm did not start"
code=$(curl -s -o /dev/null -w '%{http_code}' "$FARM_API/api/workers")
[ "$code" = 401 ] || fail "GET /api/workers without a token answered $code, not 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" -X POST "$FARM_API/api/workers/w1/drain")
[ "$code" = 403 ] || fail "a drain with the read-only token answered $code, not 403"
curl -fs "$FARM_API/" | grep -q '<title>Prism console</title>' || fail "no console at /"

publish_e2e erin 60
shots=$build/console-screens
rm -rf "$shots"
mkdir -p "$shots"
out=$(node "$player_dir/console.js" "$FARM_API/" "$FARM_TOKEN" "$viewer" erin "$shots") || {
    echo "$out"
    fail "the console test failed"
}
echo "$out"
ls "$shots"
kill "$FARM_PUB_PID" "$FARM_WATCH_PID" 2>/dev/null || true
echo "farm console e2e: ok"
