#!/usr/bin/env node
// The chaos run's viewer: polls every rendition playlist of every channel on
// the origin and fetches each segment the moment it is first listed, as a
// player does. One JSON object a line goes to --out:
//   {"t": wall s, "ev": "seg", "ch", "r", "i": media sequence number}
//   {"ev": "seg_err", "ch", "r", "i", "url", "status"}  listed, not fetchable
//   {"ev": "backwards", "ch", "r", "from": [msn, last], "to": [msn, last]}
//   {"ev": "restart", ...}  the same, after the playlist had ended (a new
//                           stream of the channel starts its numbering again)
//   {"ev": "skip", "ch", "r", "after", "next", "disc"}  a segment was never
//                           listed (disc: a new discontinuity came with it)
//   {"ev": "end", "ch", "r"}  EXT-X-ENDLIST appeared
//   {"ev": "pl_err", "ch", "r", "status"} / {"ev": "pl_ok", ...}  the playlist
//                           stopped / started being served
//   {"ev": "totals", ...}   on SIGTERM, then it exits
//
// usage: node watch.js --origin URL --channels a,b --out FILE [--poll-ms 500]
'use strict';
const fs = require('fs');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
    args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const origin = args.origin;
const channels = (args.channels || '').split(',').filter(Boolean);
const pollMs = Number(args['poll-ms'] || 500);
const FETCH_TIMEOUT_MS = 3000;
if (!origin || !channels.length || !args.out) {
    console.error('usage: watch.js --origin URL --channels a,b --out FILE [--poll-ms N]');
    process.exit(2);
}
const out = fs.createWriteStream(args.out, { flags: 'a' });
const totals = { polls: 0, poll_errors: 0, segments: 0, fetched: 0, fetch_errors: 0, bytes: 0 };

function emit(o) {
    out.write(JSON.stringify(Object.assign({ t: Date.now() / 1000 }, o)) + '\n');
}

async function get(url) {
    try {
        const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
        const body = Buffer.from(await res.arrayBuffer());
        return { status: res.status, body };
    } catch (e) {
        return { status: 0, body: null, why: String(e.cause ? e.cause.code || e.cause : e.name) };
    }
}

// The parts of a media playlist the checks need.
function parse(text) {
    const p = { msn: 0, segs: [], ended: false, discs: 0 };
    let pendingDisc = false;
    for (const line of text.split('\n').map((l) => l.trim())) {
        if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) p.msn = Number(line.split(':')[1]);
        else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:'))
            p.discs += Number(line.split(':')[1]);
        else if (line === '#EXT-X-DISCONTINUITY') { p.discs++; pendingDisc = true; }
        else if (line === '#EXT-X-ENDLIST') p.ended = true;
        else if (line && !line.startsWith('#')) {
            p.segs.push({ uri: line, i: p.msn + p.segs.length, disc: pendingDisc });
            pendingDisc = false;
        }
    }
    return p;
}

async function fetchSegment(w, seg) {
    const url = new URL(seg.uri, w.url).href;
    const r = await get(url);
    if (r.status === 200 && r.body && r.body.length > 0) {
        totals.fetched++;
        totals.bytes += r.body.length;
        return;
    }
    totals.fetch_errors++;
    emit({ ev: 'seg_err', ch: w.ch, r: w.r, i: seg.i, url, status: r.status, why: r.why });
}

function compare(w, p) {
    const last = p.msn + p.segs.length - 1;
    if (w.last === null) return;
    if (p.msn < w.msn || last < w.last) {
        emit({ ev: w.ended ? 'restart' : 'backwards', ch: w.ch, r: w.r,
               from: [w.msn, w.last], to: [p.msn, last] });
        w.last = null; // start again from what this playlist says
        return;
    }
    const next = p.segs.find((s) => s.i === w.last + 1);
    if (last > w.last && !next)
        emit({ ev: 'skip', ch: w.ch, r: w.r, after: w.last, next: p.msn,
               disc: p.discs > w.discs });
}

async function pollRendition(w) {
    const r = await get(w.url);
    totals.polls++;
    if (r.status !== 200) {
        totals.poll_errors++;
        if (w.ok) emit({ ev: 'pl_err', ch: w.ch, r: w.r, status: r.status, why: r.why });
        w.ok = false;
        return;
    }
    if (!w.ok) emit({ ev: 'pl_ok', ch: w.ch, r: w.r });
    w.ok = true;
    const p = parse(r.body.toString('utf8'));
    compare(w, p);
    const fresh = p.segs.filter((s) => w.last === null || s.i > w.last);
    if (w.last === null && fresh.length) fresh.splice(0, fresh.length - 1); // joins at the live edge
    for (const seg of fresh) {
        totals.segments++;
        emit({ ev: 'seg', ch: w.ch, r: w.r, i: seg.i });
        await fetchSegment(w, seg);
    }
    if (p.segs.length) w.last = p.msn + p.segs.length - 1;
    w.msn = p.msn;
    w.discs = p.discs;
    if (p.ended && !w.ended) emit({ ev: 'end', ch: w.ch, r: w.r });
    w.ended = p.ended;
}

const watched = new Map(); // playlist URL -> state
let stopping = false;

function watch(ch, r, url) {
    if (watched.has(url)) return;
    const w = { ch, r, url, msn: 0, last: null, discs: 0, ended: false, ok: true };
    watched.set(url, w);
    (async () => {
        while (!stopping) {
            const t0 = Date.now();
            await pollRendition(w);
            await new Promise((res) => setTimeout(res, Math.max(0, pollMs - (Date.now() - t0))));
        }
    })();
}

// The master playlist names the renditions; read again every 5 s (a stream
// may start late, or come back with a different ladder).
async function discover() {
    while (!stopping) {
        for (const ch of channels) {
            const base = `${origin}/${ch}/`;
            const r = await get(base + 'master.m3u8');
            if (r.status !== 200) continue;
            for (const line of r.body.toString('utf8').split('\n').map((l) => l.trim())) {
                if (!line || line.startsWith('#')) continue;
                const url = new URL(line, base).href;
                watch(ch, line.split('/')[0], url);
            }
        }
        await new Promise((res) => setTimeout(res, 5000));
    }
}

process.on('SIGTERM', () => {
    stopping = true;
    emit(Object.assign({ ev: 'totals', playlists: watched.size }, totals));
    out.end(() => process.exit(0));
});
discover();
