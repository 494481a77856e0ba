// X-Prism-Signature as a platform checks it (docs/hooks.md): "t=T,v1=HEX",
// HEX the HMAC-SHA256 with SECRET of "T." followed by the body's bytes.
'use strict';
const crypto = require('crypto');

// True when HEADER signs RAW (a Buffer) with SECRET.
function signatureOk(secret, header, raw) {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header || '');
    if (!m)
        return false;
    const want = crypto.createHmac('sha256', secret)
        .update(m[1] + '.').update(raw).digest();
    return crypto.timingSafeEqual(want, Buffer.from(m[2], 'hex'));
}

module.exports = {signatureOk};
