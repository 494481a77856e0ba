#!/usr/bin/env node
// A real HLS player for the e2e tests: hls.js in Debian's headless
// Chromium (driven by playwright-core) plays a master playlist and prints
// one JSON line of what a viewer would have seen.
//
// usage: node play.js URL... SECONDS [--levels] [--max-stall S]
//                     [--min-ratio R] [--startup-timeout S]
//
//   URL        a master playlist; several play at once, each in its own
//              tab of one browser (the JSON lines come in their order).
//              The origin sends CORS headers: the player page is served
//              from another origin, a local server started here, as a
//              real site's player is.
//   SECONDS    how long to play after start-up (when the playhead first
//              plays on; hls.js's seek to its live start position is not
//              start-up yet)
//   --levels   cycle through every level (hls.nextLevel) in equal slots
//              and check that each one played
//   --max-stall S       longest stall allowed after start-up (default 5)
//   --min-ratio R       playhead advance / wall time after start-up
//                       (default 0.9)
//   --startup-timeout S how long playback may take to start (default 20)
//   --low-latency       hls.js in lowLatencyMode (LL-HLS: blocking
//                       playlist reloads, parts); every 0.5 s the
//                       glass-to-glass latency, now - hls.playingDate
//                       (the playhead's EXT-X-PROGRAM-DATE-TIME: when the
//                       ingest received that frame), is sampled
//   --latency           the latency samples without lowLatencyMode (plain
//                       HLS as hls.js plays it by default)
//   --max-latency S     with --(low-)latency: the median latency after
//                       start-up at most S (default: not checked)
//   --max-latency-p95 S and its 95th percentile
//   --debug FILE        hls.js's debug log (with the page's console) to FILE
//   --ignore-https-errors  accept a certificate the browser does not trust
//                       (a test edge's own, made for 127.0.0.1)
//
// With --low-latency or --latency the line also has "latency" {median, p95, max,
// samples} and "latency_series" ([unix ms, latency s] every 0.5 s), and
// the stalls' "stall_times" ([unix ms at start, length s]).
//
// Prints, per URL, one line {"url", "ok", "reasons", "startup_s",
// "wall_s", "advance_s", "ratio", "longest_stall_s", "stalls" ([start s,
// length s, playhead s] of each stall of 1 s or more), "level_changes"
// ([s, level]), "levels", "levels_played", "fatal", "errors"} and exits 1
// when a check of any URL fails (the reasons say which), 2 on a usage
// error or when the browser cannot start. The video is drawn 64x36: it is
// decoded as a viewer's, but costs the shared test machine little to
// show.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const opts = {
    levels: false,
    maxStall: 5,
    minRatio: 0.9,
    startupTimeout: 20,
    lowLatency: false,
    latency: false,
    maxLatency: null,
    maxLatencyP95: null,
    debug: null,
    ignoreHttpsErrors: false,
    chromium: process.env.PRISM_CHROMIUM || '/usr/bin/chromium',
};
const args = process.argv.slice(2);
const pos = [];
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--levels') opts.levels = true;
    else if (a === '--max-stall') opts.maxStall = Number(args[++i]);
    else if (a === '--min-ratio') opts.minRatio = Number(args[++i]);
    else if (a === '--startup-timeout') opts.startupTimeout = Number(args[++i]);
    else if (a === '--low-latency') opts.lowLatency = opts.latency = true;
    else if (a === '--latency') opts.latency = true;
    else if (a === '--max-latency') opts.maxLatency = Number(args[++i]);
    else if (a === '--max-latency-p95') opts.maxLatencyP95 = Number(args[++i]);
    else if (a === '--debug') opts.debug = args[++i];
    else if (a === '--ignore-https-errors') opts.ignoreHttpsErrors = true;
    else pos.push(a);
}
if (pos.length < 2 || !(Number(pos[pos.length - 1]) > 0) || Number.isNaN(opts.maxStall) ||
    Number.isNaN(opts.minRatio) || Number.isNaN(opts.startupTimeout)) {
    process.stderr.write('usage: node play.js URL... SECONDS [--levels] [--low-latency] ' +
        '[--max-stall S] [--min-ratio R] [--startup-timeout S]\n');
    process.exit(2);
}
const urls = pos.slice(0, -1);
const seconds = Number(pos[pos.length - 1]);

const hlsJs = path.join(__dirname, 'node_modules/hls.js/dist/hls.min.js');
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>prism player</title>
<script src="/hls.js"></script></head>
<body><video id="v" muted autoplay playsinline
  style="width:64px;height:36px"></video></body></html>`;

// The player page and hls.js, from a server of our own on loopback.
function serve() {
    const server = http.createServer((req, res) => {
        if (req.url === '/') {
            res.writeHead(200, { 'Content-Type': 'text/html' });
            res.end(page);
        } else if (req.url === '/hls.js') {
            res.writeHead(200, { 'Content-Type': 'text/javascript' });
            fs.createReadStream(hlsJs).pipe(res);
        } else if (req.url === '/favicon.ico') {
            res.writeHead(204);
            res.end();
        } else {
            res.writeHead(404);
            res.end();
        }
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
    });
}

// Runs in the page: plays src (hls.js in lowLatencyMode when lowLatency),
// samples the playhead every 100 ms.
function startPlayer([src, lowLatency, latency, debug]) {
    const v = document.getElementById('v');
    const s = {
        t0: performance.now(), startup: null, samples: [], fatal: [],
        errors: [], levels: [], fragLevels: [], switched: [], lat: [],
        wall0: Date.now(),
    };
    window.__s = s;
    if (!window.Hls || !Hls.isSupported()) {
        s.fatal.push('hls.js is not supported in this browser (no MSE)');
        return;
    }
    const hls = new Hls({ lowLatencyMode: lowLatency, debug: !!debug });
    if (latency)
        setInterval(() => {
            const d = hls.playingDate;
            if (d && !v.paused && s.lat.length < 20000)
                s.lat.push([Date.now(), (Date.now() - d.getTime()) / 1000]);
        }, 500);
    window.__hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
        s.levels = d.levels.map((l) => ({
            width: l.width, height: l.height, bitrate: l.bitrate,
            codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(','),
            name: l.url && l.url[0] ? l.url[0] : String(l.name),
        }));
        v.play().catch((e) => s.errors.push('play(): ' + e.message));
    });
    hls.on(Hls.Events.FRAG_CHANGED, (_, d) => {
        s.fragLevels.push({ t: performance.now(), level: d.frag.level,
            pos: v.currentTime });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => {
        s.switched.push({ t: performance.now(), level: d.level });
    });
    hls.on(Hls.Events.ERROR, (_, d) => {
        // The first line of hls.js's text (some carry whole playlists).
        const what = (d.type + '/' + d.details +
            (d.error && d.error.message ? ': ' + d.error.message : '') +
            (d.reason && d.reason !== (d.error && d.error.message) ?
                ' (' + d.reason + ')' : '')).split('\n')[0].slice(0, 240);
        if (d.fatal) s.fatal.push(what);
        else if (s.errors.length < 50) s.errors.push(what);
    });
    hls.loadSource(src);
    hls.attachMedia(v);
    let last = -1;
    setInterval(() => {
        const now = performance.now();
        const t = v.currentTime;
        // Start-up: the playhead plays on from where it was. A jump (hls.js
        // seeking to its live start position) is not playing yet: the
        // playhead may sit there until the data at it has arrived.
        if (s.startup === null && last > 0 && t > last && t - last < 0.5)
            s.startup = now;
        last = t;
        if (s.samples.length < 20000)
            s.samples.push([now, t]);
    }, 100);
}

// The latency samples after start-up: median, p95, max, and the checks.
function latencyFigures(result, s, startWall) {
    const after = s.lat.filter((x) => x[0] >= startWall);
    const sorted = after.map((x) => x[1]).sort((a, b) => a - b);
    const q = (p) => sorted.length ?
        +sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
            .toFixed(3) : null;
    result.latency = { median: q(0.5), p95: q(0.95),
        max: sorted.length ? +sorted[sorted.length - 1].toFixed(3) : null,
        samples: sorted.length };
    result.latency_series = after.map(([w, l]) => [w, +l.toFixed(3)]);
    if (!sorted.length)
        result.reasons.push('no latency sample (hls.playingDate: no ' +
            'EXT-X-PROGRAM-DATE-TIME?)');
    if (opts.maxLatency !== null && sorted.length &&
        result.latency.median > opts.maxLatency)
        result.reasons.push(`median latency ${result.latency.median} s > ` +
            `${opts.maxLatency} s`);
    if (opts.maxLatencyP95 !== null && sorted.length &&
        result.latency.p95 > opts.maxLatencyP95)
        result.reasons.push(`p95 latency ${result.latency.p95} s > ` +
            `${opts.maxLatencyP95} s`);
}

function fail(msg) {
    process.stderr.write('play.js: ' + msg + '\n');
    process.exit(2);
}

// Plays one URL in its own tab; returns the result object.
async function playOne(browser, origin, url) {
    const tab = await browser.newPage(
        { ignoreHTTPSErrors: opts.ignoreHttpsErrors });
    const console = [];
    tab.on('console', (m) => console.length < 20 &&
        m.type() === 'error' && console.push(m.text()));
    tab.on('pageerror', (e) => console.length < 20 && console.push(e.message));
    await tab.goto(origin);
    if (opts.debug)
        tab.on('console', (m) => fs.appendFileSync(opts.debug,
            `${Date.now()} ${m.type()} ${m.text()}\n`));
    await tab.evaluate(startPlayer,
        [url, opts.lowLatency, opts.latency, !!opts.debug]);
    const wallStart = Date.now();

    // Start-up: the playhead moves.
    let st;
    for (;;) {
        st = await tab.evaluate(() => ({ startup: window.__s.startup,
            fatal: window.__s.fatal.length }));
        if (st.startup !== null || st.fatal) break;
        if (Date.now() - wallStart > opts.startupTimeout * 1000) break;
        await new Promise((r) => setTimeout(r, 100));
    }
    // Play; with --levels, each level gets an equal slot.
    if (st.startup !== null && !st.fatal) {
        const n = opts.levels ?
            await tab.evaluate(() => window.__s.levels.length) : 1;
        const slot = (seconds * 1000) / Math.max(n, 1);
        for (let i = 0; i < Math.max(n, 1); i++) {
            if (opts.levels)
                await tab.evaluate((l) => {
                    window.__hls.nextLevel = l;
                }, i);
            const end = Date.now() + slot;
            while (Date.now() < end) {
                const f = await tab.evaluate(() => window.__s.fatal.length);
                if (f) break;
                await new Promise((r) => setTimeout(r, 200));
            }
        }
    }
    const s = await tab.evaluate(() => window.__s);
    const wall = (Date.now() - wallStart) / 1000;
    await tab.close();
    // Figures from the samples after start-up.
    const result = { url, ok: true, reasons: [], startup_s: null,
        wall_s: +wall.toFixed(2), advance_s: 0, ratio: 0,
        longest_stall_s: null, stalls: [], level_changes: [],
        levels: s.levels, levels_played: [],
        fatal: s.fatal, errors: s.errors.concat(console) };
    if (s.startup === null) {
        result.reasons.push('playback did not start within ' +
            opts.startupTimeout + ' s');
    } else {
        result.startup_s = +((s.startup - s.t0) / 1000).toFixed(2);
        const after = s.samples.filter((x) => x[0] >= s.startup);
        const first = after[0], lastS = after[after.length - 1];
        const span = (lastS[0] - first[0]) / 1000;
        result.advance_s = +(lastS[1] - first[1]).toFixed(2);
        result.ratio = span > 0 ? +(result.advance_s / span).toFixed(3) : 0;
        let stall = 0, since = first[0], prev = first[1];
        for (const [t, pos] of after) {
            if (pos > prev) {
                // A stall of a second or more: when (s after start-up),
                // how long, at which playhead.
                if (t - since >= 1000 && result.stalls.length < 20)
                    result.stalls.push([+((since - s.startup) / 1000).toFixed(1),
                        +((t - since) / 1000).toFixed(1), +prev.toFixed(1)]);
                since = t;
            }
            stall = Math.max(stall, t - since);
            prev = pos;
        }
        if (stall >= 1000 && since !== lastS[0] && result.stalls.length < 20)
            result.stalls.push([+((since - s.startup) / 1000).toFixed(1),
                +(stall / 1000).toFixed(1), +prev.toFixed(1)]);
        // Which level played from when (s after start-up).
        result.level_changes = s.fragLevels.filter((f, i, a) =>
            i === 0 || a[i - 1].level !== f.level).slice(0, 20).map((f) =>
            [+((f.t - s.startup) / 1000).toFixed(1), f.level]);
        result.longest_stall_s = +(stall / 1000).toFixed(2);
        // Stalls on the wall clock (the page's performance.now() counts
        // from its wall0), for a test that knows when it broke something.
        result.stall_times = result.stalls.map(([at, len]) =>
            [Math.round(s.wall0 + (s.startup - s.t0) + at * 1000), len]);
        if (opts.latency)
            latencyFigures(result, s, s.wall0 + (s.startup - s.t0));
        if (result.ratio < opts.minRatio)
            result.reasons.push(`the playhead advanced ${result.advance_s} s ` +
                `in ${span.toFixed(2)} s (ratio ${result.ratio} < ` +
                `${opts.minRatio})`);
        if (result.longest_stall_s > opts.maxStall)
            result.reasons.push(`longest stall ${result.longest_stall_s} s ` +
                `> ${opts.maxStall} s`);
    }
    // A level played when a fragment of it was playing (FRAG_CHANGED)
    // and the playhead moved while it was.
    const played = new Set();
    for (let i = 0; i < s.fragLevels.length; i++) {
        const f = s.fragLevels[i];
        const nextT = i + 1 < s.fragLevels.length ?
            s.fragLevels[i + 1].t : Infinity;
        const moved = s.samples.some((x) => x[0] > f.t && x[0] < nextT &&
            x[1] > f.pos + 0.5);
        if (moved) played.add(f.level);
    }
    result.levels_played = [...played].sort((a, b) => a - b);
    if (opts.levels) {
        for (let i = 0; i < s.levels.length; i++)
            if (!played.has(i))
                result.reasons.push(`level ${i} (${s.levels[i].name}, ` +
                    `${s.levels[i].height}p) did not play when selected`);
        if (!s.levels.length)
            result.reasons.push('the master playlist lists no level');
    }
    for (const f of s.fatal)
        result.reasons.push('fatal error: ' + f);
    result.ok = result.reasons.length === 0;
    return result;
}

async function main() {
    const server = await serve().catch((e) => fail('listen: ' + e.message));
    const origin = `http://127.0.0.1:${server.address().port}/`;
    let browser;
    try {
        browser = await chromium.launch({
            executablePath: opts.chromium,
            headless: true,
            // Every tab plays as a visible one would: no timer
            // throttling or backgrounding of the tabs not in front.
            args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required',
                '--mute-audio', '--disable-background-timer-throttling',
                '--disable-renderer-backgrounding',
                '--disable-backgrounding-occluded-windows'],
        });
    } catch (e) {
        server.close();
        fail('chromium.launch executable=' + opts.chromium + ': ' + e.message);
    }
    const results = await Promise.all(urls.map((u) =>
        playOne(browser, origin, u)));
    await browser.close();
    server.close();
    for (const r of results)
        process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main().catch((e) => fail(e.stack || String(e)));
