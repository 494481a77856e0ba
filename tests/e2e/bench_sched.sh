#!/usr/bin/env bash
# prism-bench sched's socket run, small (docs/benchmarks.md has the
# 1,000-worker figures): a real prism-coordinator on the test PostgreSQL
# (a schema of the run's own, dropped after), 40 simulated workers over
# CURVE reporting every 500 ms, 400 publishes, a steady window, 4 workers
# killed. It must finish, every publish assigned, no report a worker
# numbered lost (report gaps 0, every report sent taken), every stream of
# the killed workers placed elsewhere, and the coordinator's database
# queries in the steady window those of the ingest's stats (one insert
# each). Timings are printed, not asserted.
# The 40 simulated workers share this one process: at 200 ms reports (dead
# after 600 ms of silence) a test run beside it starved it long enough
# that the coordinator rightly declared all of them dead at once (twice in
# CI-like runs, "silent_ms" ~610 for every worker, the coordinator's own
# loop not held up). 500 ms, the bench's default, gives them 1.5 s.
: "${PRISM_TEST_PGURL:?needs the PostgreSQL fixture}"
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$PRISM_BUILD_DIR/bench/prism-bench" sched --workers 100 --streams 400 \
    --pg-url "$PRISM_TEST_PGURL" --socket-workers 40 --report-ms 500 \
    --stats-ms 1000 --steady-s 4 --json) || fail "the bench failed: $out"
echo "$out"
f() { jq -r ".$1" <<<"$out"; }
[ "$(f socket_streams)" = 400 ] || fail "socket_streams is $(f socket_streams), not 400"
[ "$(f socket_report_gaps)" = 0 ] || fail "$(f socket_report_gaps) reports were lost"
sent=$(f socket_reports_sent) taken=$(f socket_reports_taken)
# The coordinator's counter is read a moment apart from the bench's.
[ "$sent" -gt 0 ] && [ $((taken - sent)) -le 40 ] && [ $((sent - taken)) -le 40 ] ||
    fail "reports sent $sent, taken $taken"
[ "$(f socket_affected_streams)" -gt 0 ] || fail "the killed workers ran no stream"
[ "$(f socket_replaced)" = "$(f socket_affected_streams)" ] ||
    fail "$(f socket_replaced) of $(f socket_affected_streams) streams placed again"
# 400 streams' stats every second: about 400 inserts a second.
q=$(f coordinator_db_queries_per_s)
[ "$(echo "$q > 300 && $q < 600" | bc)" = 1 ] || fail "database queries/s in the steady window: $q"
echo "bench sched (socket run): ok; publish to Assign p50 $(f socket_assign_p50_us) us, p99 $(f socket_assign_p99_us) us"
