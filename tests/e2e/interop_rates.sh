#!/usr/bin/env bash
# Interop matrix, frame rates and chroma: 59.94 and 60 fps, and 4:4:4
# input (x264 High 4:4:4 Predictive), published at once to a real farm (PostgreSQL through
# PRISM_TEST_PGURL, nginx origin, coordinator, two workers, ingest) and
# played in hls.js while live: the playhead advances at least 90% of wall
# time after start-up, every level plays when selected, no fatal error.
# Rows listed in interop_known_fail (tests/e2e/lib/interop.sh, which has
# the rows' publishers; docs/interop.md the table) print KNOWN-FAIL
# instead of failing the test.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" interop-rates
source "$src/tests/e2e/lib/interop.sh"
play_hls_ready || fail "the player cannot run here"

interop_setup
interop_run 20 ffmpeg-5994 ffmpeg-60 ffmpeg-444
interop_end
