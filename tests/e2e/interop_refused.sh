#!/usr/bin/env bash
# Interop matrix, a publisher Prism cannot take (tests/e2e/lib/interop.sh;
# docs/interop.md): FFmpeg sends Sorenson H.263 (FLV1) video over RTMP to a
# real farm (PostgreSQL through PRISM_TEST_PGURL, nginx origin,
# coordinator, two workers, ingest). The publish must be refused with a
# reason the streamer sees, and no playlist written. A row of its own:
# while the ingest accepts it, the worker's session fails and restarts
# without end, which would stall the streams sharing the worker. Listed
# in interop_known_fail until it is refused: KNOWN-FAIL, not a failure.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/farm.sh" interop-refused
source "$src/tests/e2e/lib/interop.sh"

interop_setup
interop_run 5 ffmpeg-h263-refused
interop_end
