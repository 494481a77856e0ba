// A platform's admission hook for the e2e tests: listens on 127.0.0.1:PORT
// and answers each POSTed publish by its key:
//   plat-dana-key   allowed on channel "hookdana"
//   plat-erin-key   allowed on channel "hookerin", profile "small", priority 80
//   plat-banned-key refused: "banned for spam"
//   anything else   403, no body
// While the file MODE_FILE says "slow", it answers nothing for 5 s first (a
// hook that is down). Each request is appended to LOG as one JSON line:
//   {"recv": ms, "sig_ok": bool, "body": {...}}
//
// usage: node publish_hook_server.js PORT SECRET LOG MODE_FILE
'use strict';
const fs = require('fs');
const http = require('http');
const {signatureOk} = require('./signature');

const [port, secret, log, modeFile] = process.argv.slice(2);
if (!modeFile) {
    console.error('usage: publish_hook_server.js PORT SECRET LOG MODE_FILE');
    process.exit(2);
}

const answers = {
    'plat-dana-key': [200, {allow: true, channel: 'hookdana'}],
    'plat-erin-key': [200, {allow: true, channel: 'hookerin', profile: 'small', priority: 80}],
    'plat-banned-key': [200, {allow: false, reason: 'banned for spam'}],
};

http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body = {};
        try {
            body = JSON.parse(raw.toString('utf8'));
        } catch (e) {
            body = {unparsed: raw.toString('utf8')};
        }
        fs.appendFileSync(log, JSON.stringify({
            recv: Date.now(),
            sig_ok: signatureOk(secret, req.headers['x-prism-signature'], raw), body,
        }) + '\n');
        let slow = false;
        try {
            slow = fs.readFileSync(modeFile, 'utf8').trim() === 'slow';
        } catch (e) {}
        const [status, answer] = answers[body.key] || [403, null];
        setTimeout(() => {
            res.writeHead(status, {'Content-Type': 'application/json'});
            res.end(answer ? JSON.stringify(answer) : '');
        }, slow ? 5000 : 0);
    });
}).listen(Number(port), '127.0.0.1');
