#!/usr/bin/env node
// An RTMP proxy for the e2e tests that shifts the publisher's audio and
// video timestamps so that they start near the 32-bit wrap (2^32 ms, 49.7
// days into a stream) and cross it, as an encoder that has been live for
// weeks sends them. FFmpeg cannot: its FLV muxer keeps timestamps to 31
// bits.
//
// usage: node rtmp_ts_shift.js LISTEN_PORT TARGET_PORT FIRST_MS REPORT
//
// One publisher connects to 127.0.0.1:LISTEN_PORT; its bytes go to
// 127.0.0.1:TARGET_PORT. After the handshake (C0 C1 C2, passed as they
// are) every client message is reassembled and written again: audio (8)
// and video (9) messages get timestamp (t - first + FIRST_MS) mod 2^32,
// others keep theirs; every message goes out as a type 0 chunk with the
// absolute timestamp (extended when >= 0xFFFFFF, repeated in type 3
// continuation chunks, as FFmpeg and librtmp do) at the chunk size the
// client set. The server's bytes pass unchanged. REPORT receives, when
// the publisher leaves, the JSON {"messages", "first", "last", "max",
// "crossed"} of the media timestamps put on the wire.
'use strict';

const net = require('net');
const fs = require('fs');

const [listenPort, targetPort, firstMs, report] = process.argv.slice(2);
if (!report) {
    process.stderr.write('usage: node rtmp_ts_shift.js LISTEN_PORT ' +
        'TARGET_PORT FIRST_MS REPORT\n');
    process.exit(2);
}
const WRAP = 2 ** 32;
const HANDSHAKE = 1 + 1536 + 1536;
const stats = { messages: 0, first: null, last: null, max: 0, crossed: false };

function writeMessage(out, csid, ts, type, msid, body, chunkSize) {
    const ext = ts >= 0xffffff;
    const basic = csid < 64 ? Buffer.from([csid]) :
        csid < 320 ? Buffer.from([0, csid - 64]) :
            Buffer.from([1, (csid - 64) & 0xff, (csid - 64) >> 8]);
    const h = Buffer.alloc(11);
    h.writeUIntBE(ext ? 0xffffff : ts, 0, 3);
    h.writeUIntBE(body.length, 3, 3);
    h[6] = type;
    h.writeUInt32LE(msid, 7);
    const extBuf = Buffer.alloc(ext ? 4 : 0);
    if (ext) extBuf.writeUInt32BE(ts, 0);
    const parts = [basic, h, extBuf];
    for (let o = 0; o < body.length || o === 0; o += chunkSize) {
        if (o > 0) {
            const b3 = Buffer.from(basic);
            b3[0] |= 0xc0;
            parts.push(b3, extBuf);
        }
        parts.push(body.subarray(o, Math.min(o + chunkSize, body.length)));
        if (!body.length) break;
    }
    out.write(Buffer.concat(parts));
}

const server = net.createServer((client) => {
    server.close(); // one publisher
    const upstream = net.connect(Number(targetPort), '127.0.0.1');
    upstream.on('data', (d) => client.write(d));
    upstream.on('close', () => client.destroy());
    upstream.on('error', () => client.destroy());
    let buf = Buffer.alloc(0);
    let passed = 0;
    let inChunk = 128; // the client's chunk size
    let offset = null;
    const cs = new Map(); // csid -> {ts, delta, len, type, msid, ext, body}
    client.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (passed < HANDSHAKE) {
            const n = Math.min(HANDSHAKE - passed, buf.length);
            upstream.write(buf.subarray(0, n));
            buf = buf.subarray(n);
            passed += n;
        }
        while (passed >= HANDSHAKE && buf.length) {
            let p = 0;
            const fmt = buf[0] >> 6;
            let csid = buf[0] & 0x3f;
            p = 1;
            if (csid === 0) {
                if (buf.length < 2) return;
                csid = buf[1] + 64;
                p = 2;
            } else if (csid === 1) {
                if (buf.length < 3) return;
                csid = buf[1] + buf[2] * 256 + 64;
                p = 3;
            }
            const hlen = [11, 7, 3, 0][fmt];
            if (buf.length < p + hlen) return;
            const st = cs.get(csid) || { ts: 0, delta: 0, len: 0, type: 0,
                msid: 0, ext: false, body: null };
            const starting = !st.body;
            let field = 0;
            if (fmt <= 2) field = buf.readUIntBE(p, 3);
            let len = st.len, type = st.type, msid = st.msid;
            if (fmt <= 1) {
                len = buf.readUIntBE(p + 3, 3);
                type = buf[p + 6];
            }
            if (fmt === 0) msid = buf.readUInt32LE(p + 7);
            let q = p + hlen;
            const ext = fmt <= 2 ? field === 0xffffff : st.ext;
            if (ext) {
                if (buf.length < q + 4) return;
                field = buf.readUInt32BE(q);
                q += 4;
            }
            const have = st.body ? st.got : 0;
            const n = Math.min(inChunk, len - have);
            if (buf.length < q + n) return;
            // A whole chunk is here: apply it.
            if (starting) {
                if (fmt === 0) st.ts = field;
                else if (fmt === 1 || fmt === 2) {
                    st.delta = field;
                    st.ts += field;
                } else st.ts += st.delta;
                st.body = [];
                st.got = 0;
            }
            st.ext = ext;
            st.len = len;
            st.type = type;
            st.msid = msid;
            st.body.push(buf.subarray(q, q + n));
            st.got += n;
            buf = buf.subarray(q + n);
            cs.set(csid, st);
            if (st.got < len) continue;
            const body = Buffer.concat(st.body);
            st.body = null;
            let ts = st.ts;
            if (type === 8 || type === 9) {
                if (offset === null) offset = Number(firstMs) - ts;
                ts = (ts + offset) % WRAP;
                if (stats.last !== null && ts < stats.last) stats.crossed = true;
                if (stats.first === null) stats.first = ts;
                stats.last = ts;
                stats.max = Math.max(stats.max, ts);
                stats.messages++;
            }
            writeMessage(upstream, csid, ts >>> 0, type, msid, body, inChunk);
            if (type === 1 && body.length >= 4)
                inChunk = body.readUInt32BE(0) & 0x7fffffff;
        }
    });
    const done = () => {
        fs.writeFileSync(report, JSON.stringify(stats) + '\n');
        upstream.destroy();
        process.exit(0);
    };
    client.on('close', done);
    client.on('error', done);
});
server.listen(Number(listenPort), '127.0.0.1');
