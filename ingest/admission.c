/* Publish admissions: one pending table for RTMP and SRT, and the answers. */
#include "admission.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* One question: from an RTMP connection (conn) or an SRT listen callback
 * (admit). */
typedef struct {
    bool used;
    uint64_t id;
    int protocol;
    void *conn;
    srt_admit_t *admit;
    char key[256];
    char addr[64];
    int64_t deadline;
} pending_t;

struct admission {
    admission_cbs_t cbs;
    publisher_list_t *pubs;
    addr_limit_t *limits;
    char ingest_id[128];
    bool coordinated;
    int64_t timeout_ms;
    uint64_t next_req;
    atomic_ullong admitted, refused;
    pending_t pending[ADMISSION_MAX];
};

admission_t *admission_new(const admission_cbs_t *cbs, publisher_list_t *pubs,
                           addr_limit_t *limits, const char *ingest_id,
                           bool coordinated, int64_t timeout_ms)
{
    admission_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->cbs = *cbs;
    a->pubs = pubs;
    a->limits = limits;
    snprintf(a->ingest_id, sizeof(a->ingest_id), "%s", ingest_id);
    a->coordinated = coordinated;
    a->timeout_ms = timeout_ms;
    return a;
}

void admission_free(admission_t **ap)
{
    if (!ap || !*ap)
        return;
    admission_t *a = *ap;
    for (int i = 0; i < ADMISSION_MAX; i++)
        if (a->pending[i].used && a->pending[i].admit)
            srt_admit_done(a->pending[i].admit, false, 1503, "shutting down",
                           NULL, NULL);
    free(a);
    *ap = NULL;
}

void admission_counts(const admission_t *a, uint64_t *admitted,
                      uint64_t *refused)
{
    *admitted = atomic_load(&a->admitted);
    *refused = atomic_load(&a->refused);
}

/* The SRT rejection code for a refusal's reason. */
static int srt_reject_code(const char *reason)
{
    static const struct {
        const char *reason;
        int code;
    } codes[] = {
        {"stream already live", 1409},                /* SRT_REJX_CONFLICT */
        {"coordinator did not answer", 1503},         /* SRT_REJX_DOWN */
        {"too many refused keys, retry later", 1402}, /* SRT_REJX_OVERLOAD */
        {"ingest busy", 1402},
    };
    for (size_t i = 0; reason && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(reason, codes[i].reason) == 0)
            return codes[i].code;
    return 1403; /* SRT_REJX_FORBIDDEN */
}

/*
 * Applies a decision to pd's asker and empties pd. count_bad counts a
 * refused key against the address. Returns the RTMP connection answered,
 * or NULL.
 */
static void *answer(admission_t *a, pending_t *pd, bool ok, const char *reason,
                    const char *stream_id, const char *token, bool count_bad)
{
    publisher_t *p = NULL;
    void *conn = NULL;
    if (ok) {
        p = publisher_open(a->pubs, stream_id, token);
        if (!p) {
            ok = false;
            reason = "stream already live";
            count_bad = false;
        }
    }
    if (!ok && count_bad)
        addr_limit_bad_key(a->limits, pd->addr, clock_mono_ms());
    if (ok) {
        atomic_fetch_add(&a->admitted, 1);
        log_info("ingest", "Publish accepted.", "stream=%s addr=%s proto=%s",
                 stream_id, pd->addr,
                 pd->protocol == PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT
                     ? "srt"
                     : "rtmp");
    } else {
        atomic_fetch_add(&a->refused, 1);
        log_warn("ingest", "Publish refused.", "addr=%s reason=\"%s\"",
                 pd->addr, reason);
    }
    if (pd->protocol == PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT) {
        if (!srt_admit_done(pd->admit, ok, srt_reject_code(reason), reason, p,
                            stream_id) &&
            p)
            publisher_end(&p, "SRT listener gave up");
    } else if (pd->conn) {
        conn = pd->conn;
        a->cbs.rtmp_answer(a->cbs.opaque, conn, p, reason);
    } else if (p) {
        publisher_end(&p, "publisher left during admission");
    }
    memset(pd, 0, sizeof(*pd));
    return conn;
}

/* answer, then lets the RTMP connection answered flush or close. */
static void answer_after(admission_t *a, pending_t *pd, bool ok,
                         const char *reason, const char *stream_id,
                         const char *token, bool count_bad)
{
    void *conn = answer(a, pd, ok, reason, stream_id, token, count_bad);
    if (conn)
        a->cbs.rtmp_after(a->cbs.opaque, conn);
}

static void send_request(admission_t *a, const pending_t *pd,
                         const char *client)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__PublishRequest req = PRISM__PUBLISH_REQUEST__INIT;
    Prism__SourceInfo src = PRISM__SOURCE_INFO__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REQUEST;
    env.publish_request = &req;
    req.ingest_id = a->ingest_id;
    req.stream_key = (char *)pd->key;
    req.protocol = (Prism__IngestProtocol)pd->protocol;
    req.remote_addr = (char *)pd->addr;
    req.request_id = pd->id;
    src.client = (char *)(client ? client : "");
    req.source = &src;
    a->cbs.send(a->cbs.opaque, &env);
}

void admission_ask(admission_t *a, int protocol, void *conn, srt_admit_t *admit,
                   const char *key, const char *addr, const char *client)
{
    pending_t tmp = {true, 0, protocol, conn, admit, "", "", 0};
    snprintf(tmp.key, sizeof(tmp.key), "%s", key);
    snprintf(tmp.addr, sizeof(tmp.addr), "%s", addr);
    if (addr_limit_blocked(a->limits, addr, clock_mono_ms())) {
        answer(a, &tmp, false, "too many refused keys, retry later", NULL, NULL,
               false);
        return;
    }
    if (!*key) {
        answer(a, &tmp, false, "empty stream key", NULL, NULL, true);
        return;
    }
    if (!a->coordinated) { /* open mode */
        answer(a, &tmp, true, "", key, key, false);
        return;
    }
    pending_t *pd = NULL;
    for (int i = 0; i < ADMISSION_MAX && !pd; i++)
        if (!a->pending[i].used)
            pd = &a->pending[i];
    if (!pd) {
        answer(a, &tmp, false, "ingest busy", NULL, NULL, false);
        return;
    }
    *pd = tmp;
    pd->id = ++a->next_req;
    pd->deadline = clock_mono_ms() + a->timeout_ms;
    send_request(a, pd, client);
}

void admission_reply(admission_t *a, const Prism__PublishReply *r)
{
    for (int i = 0; i < ADMISSION_MAX; i++) {
        pending_t *pd = &a->pending[i];
        if (!pd->used || pd->id != r->request_id)
            continue;
        const char *sid = r->stream_id && *r->stream_id ? r->stream_id : NULL;
        if (r->accepted && !sid) {
            answer_after(a, pd, false, "coordinator gave no stream id", NULL,
                         NULL, false);
            return;
        }
        answer_after(a, pd, r->accepted,
                     r->reason && *r->reason ? r->reason : "stream key refused",
                     sid, r->subscribe_token ? r->subscribe_token : "",
                     !r->accepted);
        return;
    }
    log_warn("ingest", "PublishReply for no pending publish.",
             "request_id=%llu", (unsigned long long)r->request_id);
}

void admission_expire(admission_t *a, int64_t now)
{
    for (int i = 0; i < ADMISSION_MAX; i++) {
        pending_t *pd = &a->pending[i];
        if (pd->used && now >= pd->deadline)
            answer_after(a, pd, false, "coordinator did not answer", NULL, NULL,
                         false);
    }
}

void admission_forget(admission_t *a, const void *conn)
{
    for (int i = 0; i < ADMISSION_MAX; i++)
        if (a->pending[i].used && a->pending[i].conn == conn)
            a->pending[i].conn = NULL;
}
