#!/usr/bin/env bash
# Interop matrix, the failover row (tests/e2e/lib/interop.sh; docs/
# interop.md): FFmpeg with OBS's default settings publishes over RTMP to a
# real farm (PostgreSQL through PRISM_TEST_PGURL, nginx origin,
# coordinator, two workers, ingest) and hls.js plays the master playlist
# through a kill -9 of the worker carrying the stream and, later, through
# a kill -9 and restart of the coordinator: the playhead advances at least
# 90% of wall time after start-up, no fatal error, and the longest stall
# is at most 2 s. Prints the row's line (KNOWN-FAIL while the row is in
# interop_known_fail).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" interop-failover
source "$src/tests/e2e/lib/interop.sh"
play_hls_ready || fail "the player cannot run here"

FARM_REPORT_MS=300 # a worker is dead after 3 missed reports: 0.9 s
interop_setup
interop_failover ffmpeg-failover interop_row_ffmpeg-rtmp 32 yes
interop_end
