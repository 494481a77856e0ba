#!/usr/bin/env bash
# Interop matrix, GStreamer over RTMP (rtmp2sink): SPS/PPS at the start
# only and at every IDR, I420 and 4:4:4 input, published at once to a real farm (PostgreSQL through
# PRISM_TEST_PGURL, nginx origin, coordinator, two workers, ingest) and
# played in hls.js while live: the playhead advances at least 90% of wall
# time after start-up, every level plays when selected, no fatal error.
# Rows listed in interop_known_fail (tests/e2e/lib/interop.sh, which has
# the rows' publishers; docs/interop.md the table) print KNOWN-FAIL
# instead of failing the test.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" interop-gst-rtmp
source "$src/tests/e2e/lib/interop.sh"
play_hls_ready || fail "the player cannot run here"

interop_setup
interop_run 20 gst-rtmp gst-rtmp-idr gst-rtmp-444
interop_end
