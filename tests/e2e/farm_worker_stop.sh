#!/usr/bin/env bash
# Farm end to end: the worker carrying a stream is stopped (SIGTERM, as a
# service manager does to restart it) instead of killed. Everything
# farm_failover.sh checks holds, and the worker going away does not end
# its streams: no playlist gets EXT-X-ENDLIST while the stream moves (the
# RFC 8216 check's after-endlist rule fails the test otherwise).
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
FAILOVER_SIGNAL=TERM
source "$(dirname "${BASH_SOURCE[0]}")/farm_failover.sh"
