# Sourced by the e2e tests that watch a stream as a viewer would: hls.js in
# Debian's headless Chromium (tests/e2e/player/play.js).
#
#   play_hls URL... SECONDS [--levels] [--max-stall S] [--min-ratio R]
#       plays each master playlist URL (at once, one browser tab each) for
#       SECONDS after start-up; prints one JSON line per URL on stdout and
#       returns non-zero when a check failed (the JSON's "reasons" say
#       which): the playhead advances at least R (0.9) of wall time after
#       start-up, no fatal error, the longest stall is under S (5 s), and
#       with --levels each level plays when selected.
#   play_hls_ready   returns non-zero, saying what is missing, when the
#       player cannot run here (no node, Chromium or npm packages).
#   play_json_field JSON FIELD   a scalar field of one play_hls line.
# shellcheck shell=bash

player_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../player" && pwd)

play_hls_ready() {
    command -v node >/dev/null || {
        echo "node is not installed (scripts/setup)" >&2
        return 1
    }
    [ -x "${PRISM_CHROMIUM:-/usr/bin/chromium}" ] || {
        echo "no Chromium at ${PRISM_CHROMIUM:-/usr/bin/chromium} (scripts/setup)" >&2
        return 1
    }
    [ -f "$player_dir/node_modules/hls.js/dist/hls.min.js" ] &&
        [ -d "$player_dir/node_modules/playwright-core" ] || {
        echo "the player's npm packages are missing: (cd $player_dir && npm ci)" >&2
        return 1
    }
}

play_hls() {
    play_hls_ready || return 2
    node "$player_dir/play.js" "$@"
}

play_json_field() {
    node -e 'const o = JSON.parse(process.argv[1]); const v = o[process.argv[2]];
             process.stdout.write(typeof v === "object" ? JSON.stringify(v) : String(v))' "$1" "$2"
}
