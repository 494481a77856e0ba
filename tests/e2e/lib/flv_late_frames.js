#!/usr/bin/env node
// Makes the FLV of a live GStreamer publisher look as it does from a
// loaded host: each H.264 frame's lateness (its pts less its place on an
// even grid of FPS in display order, the first frame's pts the origin) is
// scaled up so that the latest frame is at least LATE_MS late, by raising
// the frame's composition time (pts = dts + cts), so decode order, dts and
// every other byte stay as they are (a file already that late is copied;
// lowering a composition time could put a pts before its dts). GStreamer's live B-frames come 0-30
// ms late at 30 fps on an idle host; at twice that a B-frame is stamped
// after the frame that follows it.
//
// usage: node flv_late_frames.js IN.flv OUT.flv FPS LATE_MS
// Prints "frames N factor F" on stdout.
'use strict';

const fs = require('fs');

const [inPath, outPath, fpsArg, lateArg] = process.argv.slice(2);
if (!lateArg) {
    process.stderr.write('usage: node flv_late_frames.js IN.flv OUT.flv ' +
        'FPS LATE_MS\n');
    process.exit(2);
}
const fps = Number(fpsArg), lateMs = Number(lateArg);
const b = Buffer.from(fs.readFileSync(inPath));
if (b.length < 13 || b.toString('latin1', 0, 3) !== 'FLV') {
    process.stderr.write(`${inPath}: not an FLV file\n`);
    process.exit(1);
}

// Video tags carrying AVC NAL units: where their cts is, and their pts.
const frames = [];
for (let i = b.readUInt32BE(5) + 4; i + 11 <= b.length;) {
    const type = b[i] & 0x1f, size = b.readUIntBE(i + 1, 3);
    const dts = b.readUIntBE(i + 4, 3) | (b[i + 7] << 24);
    if (type === 9 && size >= 5 && (b[i + 11] & 0x0f) === 7 &&
        b[i + 12] === 1) {
        const cts = b.readIntBE(i + 13, 3);
        frames.push({ at: i + 13, cts, pts: dts + cts });
    }
    i += 11 + size + 4;
}
if (!frames.length) {
    process.stderr.write(`${inPath}: no H.264 frame\n`);
    process.exit(1);
}

const shown = [...frames].sort((x, y) => x.pts - y.pts);
const step = 1000 / fps;
const late = shown.map((f, rank) => f.pts - (shown[0].pts + rank * step));
const most = Math.max(...late);
if (most < 1) {
    process.stderr.write(`${inPath}: no frame is late\n`);
    process.exit(1);
}
const factor = Math.max(1, lateMs / most);
shown.forEach((f, rank) => {
    const more = Math.round(Math.max(0, late[rank]) * (factor - 1));
    b.writeIntBE(f.cts + more, f.at, 3);
});
fs.writeFileSync(outPath, b);
process.stdout.write(`frames ${frames.length} factor ${factor.toFixed(2)}\n`);
