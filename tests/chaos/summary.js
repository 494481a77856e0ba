#!/usr/bin/env node
// The chaos run's verdict (scripts/chaos): reads what the run left in --dir
//   faults.jsonl      the faults, their ends ("restored") and processes that
//                     died unasked ("died", "stepped_down")
//   watch.jsonl       the viewer's log (watch.js)
//   events.json       the events table after the run
//   generations.json  every placement of every stream (assignments)
//   procs.jsonl       RSS and open descriptors of each process, start and end
// and prints one JSON summary. Exits 1 when it names a failure.
'use strict';
const fs = require('fs');
const path = require('path');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
    args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const dir = args.dir;
const segS = Number(args['segment-s'] || 2);
const failLimit = Number(args['fail-limit'] || 5);
const tStart = Number(args.start);
const tFaultsEnd = Number(args['faults-end']);
const channels = (args.channels || '').split(',').filter(Boolean);

const EVENT_WINDOW_S = 60; // a fault's event is looked for this long after it
const ACTIVE_S = 3 * segS; // a rendition updated this recently was live
const DARK_AFTER_S = 2 * segS + 1; // no new segment this long: dark
const ORIGIN_GRACE_S = 2; // after the origin is back, late fetches may fail

function lines(name) {
    const p = path.join(dir, name);
    if (!fs.existsSync(p)) return [];
    return fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
function json(name) {
    const p = path.join(dir, name);
    const v = fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8') || 'null') : null;
    return Array.isArray(v) ? v : [];
}
const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
function median(a) {
    if (!a.length) return null;
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const log = lines('faults.jsonl');
const watch = lines('watch.jsonl');
const events = json('events.json');
const gens = json('generations.json');
const procs = lines('procs.jsonl');
const failures = [];

// ------------------------------------------------------------ faults
const faults = log.filter((f) => !['restored', 'died', 'stepped_down'].includes(f.kind));
for (const f of faults) {
    const back = log.find((r) => r.kind === 'restored' && r.target === f.target && r.t >= f.t);
    f.until = back ? back.t : null;
    const streams = Array.isArray(f.streams) ? f.streams : [];
    f.stream_ids = Object.fromEntries(streams.map((s) => [s.channel, s.id]));
    if (f.kind === 'worker_kill' || f.kind === 'worker_stop')
        f.affected = streams.filter((s) => s.worker === f.target).map((s) => s.channel);
    else if (f.kind === 'ingest_kill')
        f.affected = streams.filter((s) => s.ingest === f.target).map((s) => s.channel);
    else if (f.kind === 'publisher_bounce') f.affected = [f.target];
    else f.affected = channels;
}
const originDown = faults.filter((f) => f.kind === 'origin_stop')
    .map((f) => [f.t, (f.until || Infinity) + ORIGIN_GRACE_S]);
const inOriginOutage = (t) => originDown.some(([a, b]) => t >= a && t <= b);

// ------------------------------------------------------------ the viewer
const segs = {}; // channel -> rendition -> [first-seen times]
for (const e of watch.filter((e) => e.ev === 'seg')) {
    segs[e.ch] = segs[e.ch] || {};
    (segs[e.ch][e.r] = segs[e.ch][e.r] || []).push(e.t);
}

// Recovery: from the fault (from the origin's return for an origin
// outage), until every rendition of every affected stream that was live
// just before has a new segment.
function recovery(f) {
    const t0 = f.kind === 'origin_stop' ? f.until || f.t : f.t;
    let worst = 0;
    let slowest = null;
    const never = [];
    for (const ch of f.affected) {
        for (const [r, ts] of Object.entries(segs[ch] || {})) {
            if (!ts.some((t) => t <= f.t && t > f.t - ACTIVE_S)) continue;
            const next = ts.find((t) => t > t0);
            if (next === undefined) never.push(`${ch}/${r}`);
            else if (next - t0 >= worst) {
                worst = next - t0;
                slowest = `${ch}/${r}`;
            }
        }
    }
    return { s: never.length ? null : worst, slowest, never };
}
const byKind = {};
for (const f of faults) {
    const rec = recovery(f);
    f.recovery_s = f.affected.length ? rec.s : null;
    f.slowest = rec.slowest;
    const k = (byKind[f.kind] = byKind[f.kind] || { injected: 0, times: [], unrecovered: 0 });
    k.injected++;
    if (rec.never.length) {
        k.unrecovered++;
        failures.push(`${f.kind} ${f.target} at +${r3(f.t - tStart)} s: ${rec.never.join(', ')} never had a new segment again`);
    } else if (f.affected.length) k.times.push(rec.s);
}
const faultSummary = Object.fromEntries(Object.entries(byKind).map(([kind, k]) => [kind, {
    injected: k.injected, measured: k.times.length,
    recovery_median_s: r3(median(k.times)), recovery_worst_s: r3(k.times.length ? Math.max(...k.times) : null),
    unrecovered: k.unrecovered,
}]));

// Dark stream-seconds: a stream is dark in a second when one of its
// renditions (once started) has had no new segment for DARK_AFTER_S.
const tEnd = Math.max(tFaultsEnd, ...watch.map((e) => e.t || 0));
let total = 0;
let dark = 0;
for (const ch of channels) {
    const rends = Object.values(segs[ch] || {});
    for (let t = tStart; t <= tEnd; t += 1) {
        total++;
        if (!rends.length || rends.some((ts) => {
            const last = ts.filter((x) => x <= t).pop();
            return last !== undefined && t - last > DARK_AFTER_S;
        })) dark++;
    }
}

for (const ch of channels)
    if (!segs[ch]) failures.push(`${ch} never had a segment on the origin`);
const count = (ev) => watch.filter((e) => e.ev === ev);
const backwards = count('backwards');
const restarts = count('restart');
const unfetchable = count('seg_err').filter((e) => !inOriginOutage(e.t));
for (const e of backwards) failures.push(`playlist went backwards: ${e.ch}/${e.r} ${JSON.stringify(e.from)} -> ${JSON.stringify(e.to)}`);
for (const e of restarts) failures.push(`playlist ended and started again from ${e.to[0]}: ${e.ch}/${e.r}`);
for (const e of unfetchable.slice(0, 10)) failures.push(`segment listed but not fetchable: ${e.url} (${e.status}${e.why ? ' ' + e.why : ''})`);

// ------------------------------------------------------------ events
const near = (e, f, until) => e.at >= f.t - 1 && e.at <= (until || f.t) + EVENT_WINDOW_S;
function expectedEvent(f) {
    switch (f.kind) {
    case 'worker_kill':
    case 'worker_stop':
        return { kind: 'worker.dead', match: (e) => e.worker_id === f.target };
    case 'coord_kill': { // the standby needs the database to take over
        const pg = faults.find((p) => p.kind === 'pg_stop' && p.t <= f.t + 10 && (p.until || Infinity) >= f.t);
        return { kind: 'coordinator.leader', match: () => true, until: pg ? pg.until || Infinity : f.t };
    }
    case 'pg_stop':
        return { kind: 'db.down', match: () => true, until: f.until };
    case 'ingest_kill':
        return f.affected.length ? { kind: 'ingest.lost', match: (e) => e.detail && e.detail.ingest === f.target } : null;
    case 'publisher_bounce': { // a stream ever placed waits for its publisher
        const st = (f.streams || []).find((x) => x.channel === f.target);
        return { kind: st && !(st.placements > 0) ? 'stream.ended' : 'stream.publisher_left',
                 match: (e) => e.stream_id === f.stream_ids[f.target] };
    }
    default:
        return null;
    }
}
// No coordinator leads from the leader's kill until the next
// coordinator.leader event (the standby needs the database to take the
// lock): nobody writes an event then, nor declares a worker dead.
const leaderAt = events.filter((e) => e.kind === 'coordinator.leader').map((e) => e.at);
const leaderless = faults.filter((f) => f.kind === 'coord_kill').map((f) => {
    const next = leaderAt.find((at) => at >= f.t);
    return [f.t, next === undefined ? Infinity : next];
});
const unled = (f) => f.kind !== 'coord_kill' &&
    leaderless.some(([a, b]) => a <= f.t + Math.max(f.for_s || 0, 5) && b >= f.t);
let eventsExpected = 0;
let eventsUnchecked = 0;
const eventsMissing = [];
for (const f of faults) {
    const x = expectedEvent(f);
    if (!x) continue;
    if (unled(f)) {
        eventsUnchecked++;
        continue;
    }
    eventsExpected++;
    if (!events.some((e) => e.kind === x.kind && near(e, f, x.until) && x.match(e)))
        eventsMissing.push(`${f.kind} ${f.target} at +${r3(f.t - tStart)} s: no ${x.kind} event`);
}
failures.push(...eventsMissing);
// Each coordinator's events in the order they happened (a queue replayed
// after a database outage keeps it).
let outOfOrder = 0;
const lastAt = {};
for (const e of events) {
    const c = e.coordinator || '';
    if (lastAt[c] !== undefined && e.at < lastAt[c] - 0.001) outOfOrder++;
    lastAt[c] = Math.max(lastAt[c] || 0, e.at);
}
if (outOfOrder) failures.push(`${outOfOrder} events are out of order within their coordinator`);

// ------------------------------------------------------------ restart storms
// A stream may be placed again once per fault (a move) and up to
// fail_limit times for its own failures within a minute: more is a storm.
let worstPerMinute = 0;
const storms = [];
const byStream = {};
for (const g of gens) (byStream[g.channel] = byStream[g.channel] || []).push(g.at);
for (const [ch, ts] of Object.entries(byStream)) {
    let storm = null; // the window that exceeds its allowance most
    for (const a of ts) {
        const n = ts.filter((t) => t >= a && t < a + 60).length;
        const allowed = failLimit + faults.filter((f) => f.t >= a - 60 && f.t < a + 60).length;
        worstPerMinute = Math.max(worstPerMinute, n);
        if (n > allowed && (!storm || n - allowed > storm.over))
            storm = { over: n - allowed, text: `${ch}: ${n} placements in the minute from +${r3(a - tStart)} s (allowed ${allowed})` };
    }
    if (storm) storms.push(storm.text);
}
failures.push(...storms);

// ------------------------------------------------------------ processes
const died = log.filter((d) => d.kind === 'died');
for (const d of died) failures.push(`${d.target} died unasked at +${r3(d.t - tStart)} s`);
const procSummary = {};
for (const p of procs) {
    const e = (procSummary[p.name] = procSummary[p.name] || {});
    e[p.when] = { pid: p.pid, rss_kb: p.rss_kb, fds: p.fds };
}
for (const e of Object.values(procSummary)) {
    if (!e.start || !e.end) continue;
    e.restarted = e.start.pid !== e.end.pid;
    e.rss_growth = r3(e.end.rss_kb / e.start.rss_kb - 1);
    e.fds_growth = r3(e.end.fds / e.start.fds - 1);
}

const summary = {
    seed: Number(args.seed),
    minutes: Number(args.minutes),
    streams: channels.length,
    faults: faultSummary,
    stream_seconds: total,
    dark_stream_seconds: dark,
    dark_ratio: r3(total ? dark / total : 0),
    segments_seen: count('seg').length,
    segments_unfetchable: unfetchable.length,
    segments_unfetchable_in_origin_outage: count('seg_err').length - unfetchable.length,
    playlists_backwards: backwards.length,
    playlists_restarted_after_end: restarts.length,
    segments_skipped: count('skip').length,
    events: { total: events.length, expected_by_faults: eventsExpected, missing: eventsMissing.length,
              unchecked_no_leader: eventsUnchecked, out_of_order: outOfOrder },
    placements_per_stream_minute_max: worstPerMinute,
    restart_storms: storms.length,
    died_unasked: died.length,
    coordinators_stepped_down: log.filter((d) => d.kind === 'stepped_down').length,
    processes: procSummary,
    fault_log: faults.map((f) => ({
        at_s: r3(f.t - tStart), kind: f.kind, target: f.target, for_s: f.for_s,
        affected: f.affected.length, recovery_s: r3(f.recovery_s), slowest: f.slowest,
    })),
    failures,
};
console.log(JSON.stringify(summary, null, 2));
fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
process.exit(failures.length ? 1 : 0);
