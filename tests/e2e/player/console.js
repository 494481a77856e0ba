#!/usr/bin/env node
// The operator's console in Debian's headless Chromium (playwright-core),
// as an operator uses it, against a live farm of two workers with one
// stream published (tests/e2e/farm_console.sh):
//   1. logged in with the read-only token, the farm view lists both
//      workers;
//   2. the streams view shows the stream with its thumbnail within 5 s of
//      the page, and its player plays (the playhead advances);
//   3. the read-only token cannot drain (the page shows the 403);
//   4. logged in with the admin token, "drain and move" on the stream's
//      worker moves it, and the streams view shows it on the other worker;
//   5. the events view shows the drain; the channels view lists the channel.
// A screenshot of each view goes to OUTDIR. Prints one JSON line of what
// it saw and exits 1 when a step failed (its "failed" says which).
//
// usage: node console.js URL ADMIN_TOKEN VIEWER_TOKEN CHANNEL OUTDIR
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const [url, adminToken, viewerToken, channel, outdir] = process.argv.slice(2);
if (!outdir) {
    console.error('usage: console.js URL ADMIN_TOKEN VIEWER_TOKEN CHANNEL OUTDIR');
    process.exit(2);
}
const out = {ok: false, failed: null, steps: {}, console_errors: []};
const shot = (page, name) => page.screenshot({path: path.join(outdir, name + '.png'), fullPage: true});

async function login(page, token, role) {
    await page.fill('#login-token', token);
    await page.click('#login-go');
    await page.waitForFunction((r) => document.querySelector('#role').textContent === r,
        role, {timeout: 5000});
}

async function step(name, fn) {
    const t0 = Date.now();
    try {
        out.steps[name] = Object.assign({ms: 0}, await fn());
        out.steps[name].ms = Date.now() - t0;
    } catch (e) {
        out.failed = `${name}: ${e.message.split('\n')[0]}`;
        throw e;
    }
}

(async () => {
    const browser = await chromium.launch({
        executablePath: process.env.PRISM_CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
    });
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.on('console', (m) => {
        if (m.type() === 'error')
            out.console_errors.push(m.text());
    });
    try {
        await page.goto(url);
        let carrier = null;
        await step('viewer_sees_farm', async () => {
            await login(page, viewerToken, 'viewer');
            await page.waitForFunction(() => document.querySelectorAll('.worker').length === 2,
                null, {timeout: 5000});
            await shot(page, 'farm');
            return {workers: await page.$$eval('.worker', (ws) => ws.map((w) => w.dataset.id))};
        });
        await step('stream_appears', async () => {
            await page.click('button[data-view=streams]');
            const row = `.stream[data-channel="${channel}"]`;
            await page.waitForSelector(row, {timeout: 5000});
            await page.waitForFunction((r) => {
                const w = document.querySelector(r + ' .worker-id');
                return w && w.textContent !== '-';
            }, row, {timeout: 5000});
            carrier = await page.textContent(row + ' .worker-id');
            await page.waitForFunction((r) => {
                const img = document.querySelector(r + ' img.thumb');
                return img && img.complete && img.naturalWidth > 0;
            }, row, {timeout: 5000});
            // The keyframe interval is measured once two keyframes came.
            const cell = row + ' td:nth-child(6)';
            await page.waitForFunction((c) => /keyframe every \d/.test(document.querySelector(c).textContent),
                cell, {timeout: 10000}).catch(() => {});
            const health = await page.textContent(cell);
            if (!/h264 640x360 30\.00 fps/.test(health) || !/keyframe every 2\.0 s/.test(health))
                throw new Error(`the ingest's health reads "${health}"`);
            return {worker: carrier, health, thumbnail: await page.$eval(row + ' img.thumb',
                (i) => `${i.naturalWidth}x${i.naturalHeight}`)};
        });
        await step('player_plays', async () => {
            await page.click(`.stream[data-channel="${channel}"] button.play`);
            const at = () => page.$eval('#player', (p) => Number(p.dataset.currentTime || 0));
            await page.waitForFunction(() => Number(document.querySelector('#player').dataset.currentTime || 0) > 0,
                null, {timeout: 20000});
            const t1 = await at();
            await page.waitForTimeout(4000);
            const t2 = await at();
            await shot(page, 'streams');
            if (!(t2 - t1 > 2))
                throw new Error(`the playhead went from ${t1} to ${t2} in 4 s`);
            return {advance_s: +(t2 - t1).toFixed(2),
                readout: await page.textContent('#player .readout')};
        });
        await step('viewer_cannot_drain', async () => {
            await page.click('button[data-view=farm]');
            await page.click(`.worker[data-id="${carrier}"] button.drain-move`);
            await page.waitForFunction(() => /403/.test(document.querySelector('#message').textContent),
                null, {timeout: 5000});
            await shot(page, 'farm-readonly');
            return {message: await page.textContent('#message')};
        });
        await step('admin_drain_moves', async () => {
            await login(page, adminToken, 'admin');
            await page.click(`.worker[data-id="${carrier}"] button.drain-move`);
            await page.waitForSelector(`.worker[data-id="${carrier}"] .state.draining`, {timeout: 5000});
            await page.click('button[data-view=streams]');
            const row = `.stream[data-channel="${channel}"] .worker-id`;
            await page.waitForFunction(([r, from]) => {
                const w = document.querySelector(r);
                return w && w.textContent !== '-' && w.textContent !== from;
            }, [row, carrier], {timeout: 20000});
            await shot(page, 'streams-moved');
            return {from: carrier, to: await page.textContent(row)};
        });
        await step('events_and_channels', async () => {
            await page.click('button[data-view=events]');
            await page.waitForFunction(() => [...document.querySelectorAll('.event td:nth-child(2)')]
                .some((t) => t.textContent === 'worker.draining'), null, {timeout: 5000});
            await shot(page, 'events');
            await page.click('button[data-view=channels]');
            await page.waitForSelector(`.channel[data-name="${channel}"]`, {timeout: 5000});
            await shot(page, 'channels');
            return {events: await page.$$eval('.event', (e) => e.length)};
        });
        out.ok = true;
    } catch (e) {
        await shot(page, 'failed').catch(() => {});
    } finally {
        await browser.close();
    }
    console.log(JSON.stringify(out));
    process.exit(out.ok ? 0 : 1);
})().catch((e) => {
    console.error(e.message);
    process.exit(2);
});
