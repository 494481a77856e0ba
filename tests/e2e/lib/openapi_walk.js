// Walks docs/openapi.json against a live coordinator: every operation is
// called (POST/PUT/PATCH first, then GET, then DELETE), with the path's
// parameters and the body the plan gives, and its status must be one the
// document lists for it; a JSON answer must parse. Every operation that
// needs the bearer token is called without it first: 401.
//
// usage: node openapi_walk.js API TOKEN DOC PLAN
//   PLAN: {"params": {"/api/workers/{id}": {"id": "w1"}, ...},
//          "bodies": {"POST /api/channels": {...}, ...}}
'use strict';
const fs = require('fs');

const [api, token, docPath, planPath] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(docPath, 'utf8'));
const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
const rank = {post: 0, put: 0, patch: 0, get: 1, delete: 2};

const ops = [];
for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item))
        if (method !== 'parameters')
            ops.push({path, method, op});
ops.sort((a, b) => rank[a.method] - rank[b.method]);

async function call(method, url, body, auth) {
    const headers = {};
    if (auth)
        headers.Authorization = 'Bearer ' + token;
    const res = await fetch(url, {
        method: method.toUpperCase(), headers,
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {status: res.status, type: res.headers.get('content-type') || '',
            text: await res.text()};
}

(async () => {
    let bad = 0;
    for (const {path, method, op} of ops) {
        const params = plan.params[path] || {};
        const url = api + path.replace(/\{(\w+)\}/g, (_, k) => {
            if (!(k in params))
                throw new Error(`no value for {${k}} of ${path} in the plan`);
            return encodeURIComponent(params[k]);
        });
        const name = `${method.toUpperCase()} ${path}`;
        const body = plan.bodies[name];
        const want = Object.keys(op.responses);
        if (op.security) {
            const r = await call(method, url, body, false);
            if (r.status !== 401 || !want.includes('401')) {
                console.log(`${name}: without the token ${r.status}, not a documented 401`);
                bad++;
            }
        }
        const r = await call(method, url, body, true);
        let ok = want.includes(String(r.status));
        if (ok && r.type.startsWith('application/json')) {
            try {
                JSON.parse(r.text);
            } catch (e) {
                ok = false;
            }
        }
        console.log(`${name} -> ${r.status}${ok ? '' : ` (documented: ${want.join(', ')}) ${r.text.slice(0, 200)}`}`);
        if (!ok)
            bad++;
    }
    console.log(`${ops.length} operations, ${bad} not as documented`);
    process.exit(bad ? 1 : 0);
})().catch((e) => {
    console.error(e.message);
    process.exit(2);
});
