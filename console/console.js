// The operator's console: the farm, its streams with a player, channels
// and the event log, from the coordinator's public JSON API only
// (docs/api.md), polled every second. No framework.
'use strict';

const state = {
    token: sessionStorage.getItem('prism-token') || '',
    role: 'anonymous',
    view: 'farm',
    workers: [],
    streams: [],
    playing: null, // the stream id in the player
    hls: null,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === 'class')
            e.className = v;
        else if (k.startsWith('on'))
            e.addEventListener(k.slice(2), v);
        else if (v !== undefined && v !== null)
            e.setAttribute(k, v);
    }
    for (const c of children)
        if (c !== null && c !== undefined)
            e.append(c instanceof Node ? c : String(c));
    return e;
}

function message(text, ok) {
    const m = $('#message');
    m.textContent = text;
    m.className = ok ? 'ok' : '';
    m.hidden = !text;
}

// One API call; resolves to the parsed answer, rejects with the API's
// error message.
async function api(method, path, body) {
    const headers = {};
    if (state.token)
        headers.Authorization = 'Bearer ' + state.token;
    const res = await fetch(path, {
        method, headers,
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch (e) { /* not JSON */ }
    if (!res.ok) {
        const msg = json && json.error ? json.error.message : text;
        throw new Error(`${res.status}: ${msg}`);
    }
    return json;
}

// An action from a button: its answer or its error in the message line.
async function act(what, method, path, body) {
    try {
        const r = await api(method, path, body);
        message(`${what}: done`, true);
        await refresh();
        return r;
    } catch (e) {
        message(`${what}: ${e.message}`);
        return null;
    }
}

// ------------------------------------------------------------------ farm

function pct(part, whole) {
    return whole > 0 ? Math.min(100, (100 * part) / whole) : 0;
}

function bar(label, reserved, measured, budget) {
    return el('div', {},
        el('span', {class: 'muted'},
            `${label}: reserved ${pct(reserved, budget).toFixed(0)}%` +
            (measured === null ? '' : `, measured ${pct(measured, budget).toFixed(0)}%`)),
        el('div', {class: 'bar'},
            el('span', {class: 'reserved', style: `width:${pct(reserved, budget)}%`}),
            measured === null ? null
                : el('span', {class: 'measured', style: `width:${pct(measured, budget)}%`})));
}

function deviceView(d) {
    const m = d.measured || {};
    const measuredEnc = m.use === null || m.use === undefined ? null : m.encode_pixels;
    return el('div', {class: 'device'},
        el('div', {}, `${d.name} `, el('span', {class: 'muted'},
            `${d.kind}${d.hw_encode ? ' (hardware)' : ''}, ${d.used.sessions} sessions` +
            (d.max_sessions ? ` of ${d.max_sessions}` : ''))),
        bar('encode', d.reserved.encode_pixels, measuredEnc, d.encode_budget),
        bar('decode', d.reserved.decode_pixels,
            measuredEnc === null ? null : m.decode_pixels, d.decode_budget));
}

function workerView(w) {
    const drain = (move) => act(`drain ${w.id}`, 'POST',
        `/api/workers/${encodeURIComponent(w.id)}/drain${move ? '?move=true' : ''}`);
    return el('div', {class: 'worker', 'data-id': w.id},
        el('h3', {}, w.id, el('span', {class: `state ${w.state}`}, w.state)),
        el('div', {class: 'muted'},
            `${w.host || ''} · ${w.streams} streams · last report ` +
            `${(w.last_seen_ms_ago / 1000).toFixed(1)} s ago`),
        ...w.devices.map(deviceView),
        el('div', {},
            w.draining
                ? el('button', {class: 'undrain', 'data-id': w.id,
                    onclick: () => act(`undrain ${w.id}`, 'POST',
                        `/api/workers/${encodeURIComponent(w.id)}/undrain`)}, 'Undrain')
                : el('span', {},
                    el('button', {class: 'drain', 'data-id': w.id, onclick: () => drain(false)}, 'Drain'),
                    ' ',
                    el('button', {class: 'drain-move', 'data-id': w.id, onclick: () => drain(true)},
                        'Drain and move streams now'))));
}

function renderFarm() {
    const live = state.workers.filter((w) => w.state !== 'dead');
    let sessions = 0, enc = 0, budget = 0;
    for (const w of live)
        for (const d of w.devices) {
            sessions += d.used.sessions;
            enc += d.reserved.encode_pixels;
            budget += d.encode_budget;
        }
    $('#totals').replaceChildren(
        el('b', {}, live.length), ' live workers · ',
        el('b', {}, state.streams.length), ' streams · ',
        el('b', {}, sessions), ' sessions · encode capacity reserved ',
        el('b', {}, `${pct(enc, budget).toFixed(0)}%`));
    $('#workers').replaceChildren(...state.workers.map(workerView));
}

// ------------------------------------------------------------------ streams

// The ingest's view of the publisher: codecs, size, rate, bitrate,
// keyframe interval, drops, reconnects.
function ingestHealth(s, src, fps) {
    const h = s.ingest_health || {};
    const gop = h.keyframe_interval_s ? `keyframe every ${h.keyframe_interval_s.toFixed(1)} s` : 'keyframes ?';
    return el('span', {},
        `${h.codec || '?'} ${src.width}x${src.height} ${fps} fps, ${Math.round(s.input_kbps)} kb/s`,
        el('div', {class: 'muted'},
            `${h.protocol || ''}, ${h.audio_codec || ''} · ${gop} · ${h.dropped_packets || 0} dropped · ` +
            `${h.reconnects || 0} reconnects`));
}

function streamRow(s) {
    const src = s.source || {};
    const fps = src.fps_den ? (src.fps_num / src.fps_den).toFixed(2) : '?';
    const rends = (s.renditions || []).map((r) => r.name).join(', ');
    const fail = s.failure || {};
    const problem = fail.last_error ||
        (fail.failed_renditions || []).map((r) => `${r.name}: ${r.error}`).join('; ');
    // A new picture every 4 s (the worker writes one as often by default).
    const thumb = s.thumbnail_url
        ? el('img', {class: 'thumb', alt: '', src: `${s.thumbnail_url}?t=${Math.floor(Date.now() / 4000)}`})
        : null;
    return el('tr', {class: 'stream', 'data-channel': s.channel, 'data-id': s.id},
        el('td', {}, thumb),
        el('td', {}, s.channel),
        el('td', {}, el('span', {class: `state ${s.state}`}, s.state),
            s.waiting_for ? el('div', {class: 'muted'}, `waiting for ${s.waiting_for.replace('_', ' ')}`) : null),
        el('td', {class: 'worker-id'}, s.worker || '-'),
        el('td', {}, rends, s.partial ? el('span', {class: 'muted'}, ' (partial)') : null),
        el('td', {}, ingestHealth(s, src, fps)),
        el('td', {}, `${(s.speed || 0).toFixed(2)}x`,
            el('div', {class: 'muted'}, `${(s.session || {}).encode_latency_ms || 0} ms encode`)),
        el('td', {}, `${s.origin.puts} puts`,
            el('div', {class: 'muted'}, `${s.origin.put_failed} failed`)),
        el('td', {}, problem || ''),
        el('td', {},
            el('button', {class: 'play', disabled: s.master_url ? null : '',
                onclick: () => play(s)}, 'Play'), ' ',
            el('button', {class: 'stop', onclick: () => act(`stop ${s.channel}`, 'DELETE',
                `/api/streams/${s.id}`)}, 'Stop')));
}

function renderStreams() {
    $('#streams tbody').replaceChildren(...state.streams.map(streamRow));
}

function play(s) {
    if (state.hls)
        state.hls.destroy();
    state.hls = null;
    state.playing = s.id;
    $('#player').hidden = false;
    $('#player-title').textContent = `${s.channel} · ${s.master_url}`;
    const video = $('#video');
    if (typeof Hls === 'undefined' || !Hls.isSupported()) {
        message('hls.js is not built into this coordinator (scripts/setup installs it)');
        return;
    }
    const hls = new Hls({liveDurationInfinity: true});
    state.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
        $('#level').replaceChildren(el('option', {value: '-1'}, 'auto'),
            ...data.levels.map((l, i) => el('option', {value: i}, `${l.height}p ${Math.round(l.bitrate / 1000)} kb/s`)));
        video.play().catch(() => {});
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
        if (data.fatal)
            message(`player: ${data.type} ${data.details}`);
    });
    hls.loadSource(s.master_url);
    hls.attachMedia(video);
}

function playerReadout() {
    const hls = state.hls, video = $('#video');
    if (!hls)
        return;
    const lv = hls.levels[hls.currentLevel];
    let buffer = 0;
    for (let i = 0; i < video.buffered.length; i++)
        if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i))
            buffer = video.buffered.end(i) - video.currentTime;
    $('#player-level').textContent = `playing ${lv ? lv.height + 'p' : '-'}`;
    $('#player-buffer').textContent = `buffer ${buffer.toFixed(1)} s`;
    $('#player-latency').textContent =
        `latency ${hls.latency ? hls.latency.toFixed(1) : '-'} s`;
    $('#player-time').textContent = `playhead ${video.currentTime.toFixed(1)} s`;
    $('#player').dataset.currentTime = video.currentTime;
}

// ------------------------------------------------------------------ channels

async function renderChannels() {
    let chans = [];
    try {
        chans = await api('GET', '/api/channels');
    } catch (e) {
        message(`channels: ${e.message}`);
        return;
    }
    $('#channels tbody').replaceChildren(...chans.map((c) => el('tr', {class: 'channel', 'data-name': c.name},
        el('td', {}, c.name, c.disabled ? el('span', {class: 'muted'}, ' (disabled)') : null),
        el('td', {}, c.live ? 'live' : ''),
        el('td', {}, c.priority),
        el('td', {}, c.profile),
        el('td', {},
            el('button', {onclick: async () => {
                const r = await act(`rotate the key of ${c.name}`, 'POST',
                    `/api/channels/${encodeURIComponent(c.name)}/key`);
                if (r)
                    showKey(r);
            }}, 'New key'), ' ',
            el('button', {onclick: () => {
                const prio = prompt(`Priority of ${c.name} (0-100)`, c.priority);
                const prof = prompt(`Ladder profile of ${c.name}`, c.profile);
                if (prio !== null && prof !== null)
                    act(`change ${c.name}`, 'PATCH', `/api/channels/${encodeURIComponent(c.name)}`,
                        {priority: Number(prio), profile: prof});
            }}, 'Edit')))));
}

function showKey(r) {
    const k = $('#key');
    k.hidden = false;
    k.textContent = `Stream key of ${r.name} (shown once): ${r.stream_key}`;
}

// ------------------------------------------------------------------ events

async function renderEvents() {
    const q = new URLSearchParams({limit: '200'});
    for (const [id, key] of [['#filter-stream', 'stream'], ['#filter-worker', 'worker'], ['#filter-kind', 'kind']])
        if ($(id).value.trim())
            q.set(key, $(id).value.trim());
    let evs = [];
    try {
        evs = await api('GET', `/api/events?${q}`);
    } catch (e) {
        message(`events: ${e.message}`);
        return;
    }
    $('#events tbody').replaceChildren(...evs.map((e) => el('tr', {class: 'event'},
        el('td', {}, e.at), el('td', {}, e.kind), el('td', {}, e.stream_id || ''),
        el('td', {}, e.worker_id || ''), el('td', {class: 'detail'}, JSON.stringify(e.detail)))));
}

// ------------------------------------------------------------------ loop

async function refresh() {
    try {
        [state.workers, state.streams] = await Promise.all([
            api('GET', '/api/workers'), api('GET', '/api/streams')]);
    } catch (e) {
        message(e.message);
        return;
    }
    if (state.view === 'farm')
        renderFarm();
    if (state.view === 'streams')
        renderStreams();
}

async function login(token) {
    state.token = token;
    sessionStorage.setItem('prism-token', token);
    try {
        state.role = (await api('GET', '/api/whoami')).role;
        message('');
    } catch (e) {
        state.role = 'anonymous';
        message(e.message);
    }
    $('#role').textContent = state.role;
    await refresh();
}

function show(view) {
    state.view = view;
    for (const b of document.querySelectorAll('.tab'))
        b.classList.toggle('on', b.dataset.view === view);
    for (const v of document.querySelectorAll('.view'))
        v.hidden = v.id !== `view-${view}`;
    if (view === 'channels')
        renderChannels();
    if (view === 'events')
        renderEvents();
    refresh();
}

for (const b of document.querySelectorAll('.tab'))
    b.addEventListener('click', () => show(b.dataset.view));
$('#login').addEventListener('submit', (e) => {
    e.preventDefault();
    login($('#login-token').value.trim());
});
$('#create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {name: $('#create-name').value.trim()};
    if ($('#create-profile').value.trim())
        body.profile = $('#create-profile').value.trim();
    if ($('#create-priority').value !== '')
        body.priority = Number($('#create-priority').value);
    const r = await act(`create ${body.name}`, 'POST', '/api/channels', body);
    if (r) {
        showKey(r);
        renderChannels();
    }
});
$('#event-filter').addEventListener('input', () => renderEvents());
$('#level').addEventListener('change', (e) => {
    if (state.hls)
        state.hls.currentLevel = Number(e.target.value);
});

setInterval(refresh, 1000);
setInterval(playerReadout, 500);
setInterval(() => state.view === 'events' && renderEvents(), 2000);
login(state.token);
