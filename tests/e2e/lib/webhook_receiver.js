// A platform's webhook receiver for the e2e tests: listens on 127.0.0.1:PORT,
// checks each POST's X-Prism-Signature (HMAC-SHA256 of "T." + body with
// SECRET), and appends one JSON line per request to LOG:
//   {"recv": ms, "status": answered, "sig_ok": bool, "delivery": header,
//    "event": header, "body": the parsed body}
// It answers 200, or 500 while the file MODE_FILE says "500".
//
// usage: node webhook_receiver.js PORT SECRET LOG MODE_FILE
'use strict';
const fs = require('fs');
const http = require('http');
const {signatureOk} = require('./signature');

const [port, secret, log, modeFile] = process.argv.slice(2);
if (!modeFile) {
    console.error('usage: webhook_receiver.js PORT SECRET LOG MODE_FILE');
    process.exit(2);
}

function mode() {
    try {
        return fs.readFileSync(modeFile, 'utf8').trim();
    } catch (e) {
        return 'ok';
    }
}

http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body = null;
        try {
            body = JSON.parse(raw.toString('utf8'));
        } catch (e) {
            body = {unparsed: raw.toString('utf8')};
        }
        const status = mode() === '500' ? 500 : 200;
        fs.appendFileSync(log, JSON.stringify({
            recv: Date.now(), status,
            sig_ok: signatureOk(secret, req.headers['x-prism-signature'], raw),
            delivery: req.headers['x-prism-delivery'] || null,
            event: req.headers['x-prism-event'] || null,
            ctype: req.headers['content-type'] || null, body,
        }) + '\n');
        res.writeHead(status, {'Content-Type': 'text/plain'});
        res.end(status === 200 ? 'ok\n' : 'not now\n');
    });
}).listen(Number(port), '127.0.0.1');
