#!/usr/bin/env bash
# Interop matrix, GStreamer's failover rows (tests/e2e/lib/interop.sh;
# docs/interop.md): GStreamer's rtmp2sink (x264enc, flvmux, avenc_aac; the
# publisher whose streams once made sessions fail in a loop), then its
# srtsink (mpegtsmux alignment=7, SPS/PPS at the start only), publish to a
# real farm (PostgreSQL through PRISM_TEST_PGURL, nginx origin,
# coordinator, two workers, ingest) and hls.js plays each master playlist
# for 40 s through a kill -9 of the worker carrying the stream (the killed
# worker is started again between the rows): the playhead advances at
# least 90% of wall time after start-up, no fatal error, and the longest
# stall is at most 2 s.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" interop-gst-failover
source "$src/tests/e2e/lib/interop.sh"
play_hls_ready || fail "the player cannot run here"

FARM_REPORT_MS=300 # a worker is dead after 3 missed reports: 0.9 s
interop_setup
interop_failover gst-failover interop_row_gst-rtmp 40 no
farm_worker "$INTEROP_KILLED"
FARM_WORKER_PIDS[$INTEROP_KILLED]=$FARM_WORKER_PID
farm_wait_workers 2
interop_failover gst-srt-failover interop_row_gst-srt 40 no
interop_end
