/* Publish admission: the stream key, the channel, the ladder, a new stream. */
/*
 * How this works
 *
 * A PublishRequest is refused at once when it cannot succeed (unknown
 * ingest, too many bad keys from its address, a malformed key, a full
 * farm); otherwise the channel row is read, without blocking the loop,
 * and kept in the channel cache (chan_cache.h), and admit checks the key
 * against it (salted SHA-256, constant-time compare). While the database
 * is away, the channel as last read decides if it was read within
 * channel_cache_ms; any other publish is refused ("database unavailable,
 * try again shortly"). A publish with the key of a channel whose stream
 * is live continues that stream (the publisher reconnected, perhaps
 * through another ingest); a new stream is fitted to the channel's ladder
 * profile and placed (ops.c), or waits for its source's size when the
 * encoder has not sent it yet (ingest_proto.c fits it then).
 */
#include "publish.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord_int.h"
#include "log.h"
#include "ops.h"
#include "publish_hook.h"
#include "release.h"
#include "rows.h"
#include "streamkey.h"

#define MOD "coord"

static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    static const char hx[] = "0123456789abcdef";
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    if (streamkey_random(b, nbytes) < 0) {
        /* getrandom does not fail on Linux >= 3.17; keep ids unique. */
        uint64_t t = (uint64_t)clock_mono_us();
        for (size_t i = 0; i < nbytes; i++)
            b[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)i;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

/* A random (version 4) UUID as text: what streams are named by. */
static void random_uuid(char *out)
{
    char h[33];
    random_hex(h, 16);
    h[12] = '4';
    h[16] = "89ab"[h[16] % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
             h + 20);
}

static void publish_reply(coord_t *c, const unsigned char *rid, size_t rid_len,
                          uint64_t req_id, const coord_stream_t *s,
                          const char *reject)
{
    Prism__PublishReply r = PRISM__PUBLISH_REPLY__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    r.request_id = req_id;
    r.accepted = s != NULL;
    if (s) {
        r.stream_id = (char *)s->id;
        r.channel = (char *)s->channel;
        r.worker_id = (char *)farm_worker_id(c, s->worker);
        r.subscribe_token = (char *)s->token;
    } else {
        r.reason = (char *)reject;
        c->n.rejections++;
    }
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REPLY;
    env.publish_reply = &r;
    farm_send(c, rid, rid_len, &env, "ingest");
}

/* Whether addr (its /64 for IPv6) has used up its bad keys. */
static bool badkey_limited(coord_t *c, const char *addr)
{
    return addr_limit_blocked(c->badkeys, addr, clock_mono_ms());
}

/* Counts a bad key from addr; a full table drops it, logged. */
static void badkey_count(coord_t *c, const char *addr)
{
    if (addr_limit_bad_key(c->badkeys, addr, clock_mono_ms()) < 0)
        log_warn(MOD, "Bad key not counted: the address table is full.",
                 "addr=%s bad_key_addrs=%lld", addr,
                 (long long)c->cfg.bad_key_addrs);
}

typedef struct {
    /* First: publish_hook frees a request it still holds at its stop,
     * and with it the whole context. */
    publish_hook_req_t hook;
    coord_t *c;
    unsigned char rid[ENVELOPE_RID_MAX];
    size_t rid_len;
    uint64_t request_id;
    char ingest[COORD_ID_MAX];
    char addr[64];
    char key[PUBLISH_HOOK_KEY_MAX];
    char protocol[8];
    int64_t chan; /* the channel id the key names */
    bool by_hook; /* the platform's hook allowed it: no key check here */
    Prism__SourceInfo src;
} publish_ctx_t;

/* The profile from its ladder_profiles document, else the built-in one. */
int publish_load_profile(const char *name, const char *doc,
                         ladder_profile_t *out)
{
    if (doc && doc[0]) {
        char err[256];
        if (ladder_profile_parse(doc, out, err, sizeof(err)) == 0)
            return 0;
        log_warn(MOD, "Ladder profile unusable; using the built-in default.",
                 "profile=%s err=\"%s\"", name ? name : "", err);
    }
    return ladder_profile_default(out);
}

/*
 * Why a publish may not take live stream s over, or NULL when it may: its
 * publisher left (the stream waits for it to come back, perhaps through
 * another ingest), its ingest was lost, or its ingest has reported no new
 * bytes from it for publisher_silence_ms (a connection that hangs). A
 * second encoder on the key while the first still sends is refused, not
 * allowed to cut the first off.
 */
static const char *live_conflict(coord_t *c, const coord_stream_t *s)
{
    const coord_ingest_t *in = farm_find_ingest(c, s->ingest);
    if (s->left_ms || !in || in->lost ||
        clock_mono_ms() - s->media_ms >= c->cfg.publisher_silence_ms)
        return NULL;
    return "stream key already live: another publisher is sending";
}

/*
 * The admission of publish x for channel row ch (NULL: no such channel),
 * read from the database now or, while it is away, kept from before
 * (CACHED). Replies and frees x.
 */
static void admit(publish_ctx_t *x, const chan_row_t *ch, bool cached)
{
    coord_t *c = x->c;
    const char *reject = NULL;
    coord_stream_t *s = NULL;
    if (!ch || (!x->by_hook && !streamkey_verify(ch->salt, x->key, ch->hash))) {
        badkey_count(c, x->addr);
        reject = "invalid stream key";
        rows_event(c, "publish.rejected", NULL, NULL,
                   json_pack("{s:s, s:s, s:s}", "reason", reject, "ingest",
                             x->ingest, "addr", x->addr));
        goto reply;
    }
    if (ch->disabled) {
        reject = "channel disabled";
        goto reply;
    }
    if (cached) {
        c->n.cache_admits++;
        log_warn(MOD,
                 "The database is away: the publish is checked against the "
                 "channel as last read.",
                 "channel=%s ingest=%s", ch->name, x->ingest);
    }
    s = farm_find_channel_stream(c, ch->id);
    if (s && (reject = live_conflict(c, s))) {
        rows_event(c, "publish.rejected", NULL, s->id,
                   json_pack("{s:s, s:s, s:s, s:s}", "reason", reject, "ingest",
                             x->ingest, "addr", x->addr, "live_ingest",
                             s->ingest));
        s = NULL; /* the reply names no stream */
        goto reply;
    }
    if (s) {
        /* The streamer reconnected (perhaps through another ingest): the
         * stream goes on under the same id and playlists. */
        s->left_ms = 0;
        s->reconnects++;
        s->media_ms = clock_mono_ms();
        s->bytes_in = 0; /* the new publish's ingest counts afresh */
        snprintf(s->ingest, sizeof(s->ingest), "%s", x->ingest);
        s->src_info = x->src;
        s->src_info.client = NULL;
        rows_event(
            c, "stream.resumed", farm_worker_id(c, s->worker), s->id,
            json_pack("{s:s, s:b}", "ingest", x->ingest, "from_cache", cached));
        if (s->worker >= 0) {
            uint64_t g = s->generation;
            long ow = s->worker;
            ops_make_pending(c, s, "released");
            release_send(c, ow, s->id, g,
                         PRISM__RELEASE_REASON__RELEASE_REASON_SUPERSEDED,
                         false);
        }
        /* As for a new stream: an RTMP encoder sends its size after the
         * publish was accepted, and the ingest knows its tracks only then;
         * the ingest's stats bring it (ingest_proto.c places it). So too
         * for a ladder not fitted yet (reloaded before the size was known). */
        s->awaiting_source =
            x->src.width == 0 || x->src.height == 0 || s->ladder.n <= 0;
        if (!s->awaiting_source)
            ops_place_stream(c, s, "publisher reconnected");
        goto reply;
    }
    s = farm_stream_alloc(c);
    if (!s) {
        reject = "farm full: too many streams";
        goto reply;
    }
    random_uuid(s->id);
    random_hex(s->token, COORD_TOKEN_HEX / 2);
    s->channel_id = ch->id;
    if (farm_stream_index(c, s) < 0) {
        s->id[0] = '\0';
        farm_stream_free(c, s);
        s = NULL;
        reject = "out of memory";
        goto reply;
    }
    snprintf(s->channel, sizeof(s->channel), "%s", ch->name);
    s->priority = ch->priority;
    snprintf(s->ingest, sizeof(s->ingest), "%s", x->ingest);
    snprintf(s->protocol, sizeof(s->protocol), "%s", x->protocol);
    snprintf(s->profile, sizeof(s->profile), "%s", ch->profile);
    s->src_info = x->src;
    s->src_info.client = NULL;
    s->started_wall_ms = clock_wall_ms();
    s->media_ms = clock_mono_ms();
    envelope_source_to_ladder(&x->src, &s->source);
    ladder_profile_t prof;
    s->awaiting_source = s->source.width <= 0 || s->source.height <= 0;
    if (publish_load_profile(s->profile, ch->profile_doc, &prof) < 0 ||
        (!s->awaiting_source &&
         ladder_apply(&prof, &s->source, &s->ladder) < 0)) {
        farm_stream_free(c, s);
        s = NULL;
        reject = "unsupported source: no usable video size";
        goto reply;
    }
    s->prof = prof;
    s->state = STREAM_PENDING;
    c->n.publishes++;
    rows_stream(c, s);
    rows_event(c, "stream.started", NULL, s->id,
               json_pack("{s:s, s:s, s:i, s:i, s:b, s:b}", "channel",
                         s->channel, "ingest", s->ingest, "width",
                         s->source.width, "height", s->source.height,
                         "from_cache", cached, "by_hook", x->by_hook));
    if (!s->awaiting_source && ops_place_stream(c, s, "publish") < 0)
        rows_event(c, "stream.pending", NULL, s->id,
                   json_pack("{s:s}", "reason", "no capacity"));
reply:
    publish_reply(c, x->rid, x->rid_len, x->request_id, s, reject);
    memset(x->key, 0, sizeof(x->key));
    free(x);
}

/* Publish x while the database is away: the channel as last read, if
 * it was read recently enough; else refused. Replies and frees x. */
static void admit_cached(publish_ctx_t *x, int64_t chan)
{
    coord_t *c = x->c;
    const chan_row_t *ch = chan_cache_get(c->chans, chan, clock_mono_ms(),
                                          c->cfg.channel_cache_ms);
    if (ch) {
        admit(x, ch, true);
        return;
    }
    log_info(MOD, "Publish refused.", "ingest=%s addr=%s reason=\"%s\"",
             x->ingest, x->addr, "database unavailable, try again shortly");
    publish_reply(c, x->rid, x->rid_len, x->request_id, NULL,
                  "database unavailable, try again shortly");
    memset(x->key, 0, sizeof(x->key));
    free(x);
}

static void publish_cb(void *ud, const PGresult *res, const char *err)
{
    publish_ctx_t *x = ud;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn(MOD, "Channel lookup failed.", "ingest=%s err=\"%s\"",
                 x->ingest,
                 err   ? err
                 : res ? PQresultErrorMessage(res)
                       : "");
        admit_cached(x, x->chan);
        return;
    }
    chan_row_t ch;
    if (rows_channel_row(res, &ch) < 0) {
        chan_cache_drop(x->c->chans, x->chan); /* no such channel now */
        admit(x, NULL, false);
        return;
    }
    if (chan_cache_put(x->c->chans, &ch, clock_mono_ms()) < 0)
        log_warn(MOD, "Channel not kept for outages: out of memory.",
                 "channel=%s", ch.name);
    admit(x, &ch, false);
}

/* Publish x by Prism's own channels table: the channel its key names,
 * read now, or as last read while the database is away. */
static void lookup_channel(publish_ctx_t *x)
{
    coord_t *c = x->c;
    /* While the database is away (a read is refused at once), the
     * channel as last read decides. */
    if (!store_up(c->db) || rows_channel_by_id(c, x->chan, publish_cb, x) < 0)
        admit_cached(x, x->chan);
}

static void refuse(publish_ctx_t *x, const char *reason)
{
    log_info(MOD, "Publish refused.", "ingest=%s addr=%s reason=\"%s\"",
             x->ingest, x->addr, reason);
    publish_reply(x->c, x->rid, x->rid_len, x->request_id, NULL, reason);
    memset(x->key, 0, sizeof(x->key));
    free(x);
}

/* The channel the hook allowed, read back from its upsert. */
static void hook_channel_cb(void *ud, const PGresult *res, const char *err)
{
    publish_ctx_t *x = ud;
    chan_row_t ch;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
        rows_channel_row(res, &ch) < 0) {
        const char *state =
            res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        bool profile = state && !strcmp(state, "23503");
        log_warn(MOD, "The channel the publish hook allowed cannot be used.",
                 "channel=%s profile=%s err=\"%s\"", x->hook.channel,
                 x->hook.profile,
                 err   ? err
                 : res ? PQresultErrorMessage(res)
                       : "");
        refuse(x, profile ? "the platform named an unknown ladder profile"
                          : "database unavailable, try again shortly");
        return;
    }
    if (chan_cache_put(x->c->chans, &ch, clock_mono_ms()) < 0)
        log_warn(MOD, "Channel not kept for outages: out of memory.",
                 "channel=%s", ch.name);
    admit(x, &ch, false);
}

/* The hook's answer about publish x (from its thread, or the cache). */
static void hook_answered(publish_ctx_t *x)
{
    coord_t *c = x->c;
    publish_hook_req_t *r = &x->hook;
    if (r->verdict == PUBLISH_HOOK_ALLOW) {
        char salt[STREAMKEY_SALT_HEX + 1], hash[STREAMKEY_HASH_HEX + 1];
        random_hex(salt, STREAMKEY_SALT_HEX / 2);
        random_hex(hash, STREAMKEY_HASH_HEX / 2);
        x->by_hook = true;
        if (rows_channel_upsert(c, r->channel, r->profile, r->priority, salt,
                                hash, hook_channel_cb, x) < 0)
            refuse(x, "database unavailable, try again shortly");
        return;
    }
    if (r->verdict == PUBLISH_HOOK_REFUSE) {
        badkey_count(c, x->addr);
        rows_event(c, "publish.rejected", NULL, NULL,
                   json_pack("{s:s, s:s, s:s, s:s, s:b}", "reason", r->reason,
                             "by", "publish_hook", "ingest", x->ingest, "addr",
                             x->addr, "cached", r->cached));
        refuse(x, r->reason);
        return;
    }
    log_warn(MOD, "The publish hook is down; its policy decides.",
             "ingest=%s addr=%s policy=%s err=\"%s\"", x->ingest, x->addr,
             c->cfg.publish_hook_policy, r->reason);
    if (strcmp(c->cfg.publish_hook_policy, "channels") != 0) {
        refuse(x, "admission service unavailable, try again shortly");
        return;
    }
    const char *secret;
    if (streamkey_parse(x->key, &x->chan, &secret) < 0) {
        badkey_count(c, x->addr);
        refuse(x, "invalid stream key");
        return;
    }
    lookup_channel(x);
}

/* Publish x asks the platform's hook (or its cache). */
static void ask_hook(publish_ctx_t *x)
{
    publish_hook_req_t *r = &x->hook;
    snprintf(r->key, sizeof(r->key), "%s", x->key);
    snprintf(r->ingest, sizeof(r->ingest), "%s", x->ingest);
    snprintf(r->addr, sizeof(r->addr), "%s", x->addr);
    snprintf(r->protocol, sizeof(r->protocol), "%s", x->protocol);
    if (publish_hook_ask(x->c->phook, r) != 0) /* answered now */
        hook_answered(x);
}

void publish_forget_channel(coord_t *c, int64_t channel_id)
{
    chan_cache_drop(c->chans, channel_id);
}

void publish_hook_drain(coord_t *c)
{
    publish_hook_req_t *r;
    while (c->phook && (r = publish_hook_take(c->phook)))
        hook_answered((publish_ctx_t *)r); /* the context's first member */
}

void publish_admit(coord_t *c, const envelope_peer_t *peer,
                   const Prism__Envelope *env)
{
    const Prism__PublishRequest *p = env->publish_request;
    coord_ingest_t *in = farm_ingest_seen(c, peer, p->ingest_id);
    const char *addr =
        p->remote_addr && p->remote_addr[0] ? p->remote_addr : "unknown";
    int64_t chan = -1; /* with a hook, the platform names the channel */
    const char *secret;
    const char *reject = NULL;
    if (in && !in->endpoint[0])
        farm_send_not_registered(c, peer, in->id); /* asks for a Hello */
    if (!in)
        reject = "unknown ingest";
    else if (badkey_limited(c, addr))
        reject = "too many bad stream keys from this address";
    else if (c->phook ? !p->stream_key[0] ||
                            strlen(p->stream_key) >= PUBLISH_HOOK_KEY_MAX
                      : streamkey_parse(p->stream_key, &chan, &secret) < 0) {
        badkey_count(c, addr);
        reject = "invalid stream key";
    } else if (!c->phook && c->nstreams >= (size_t)c->cfg.max_streams &&
               !farm_find_channel_stream(c, chan))
        reject = "farm full: too many streams";
    if (reject) {
        log_info(MOD, "Publish refused.", "ingest=%s addr=%s reason=\"%s\"",
                 in ? in->id : "", addr, reject);
        publish_reply(c, peer->rid, peer->rid_len, p->request_id, NULL, reject);
        return;
    }
    publish_ctx_t *x = calloc(1, sizeof(*x));
    if (!x) {
        publish_reply(c, peer->rid, peer->rid_len, p->request_id, NULL,
                      "out of memory");
        return;
    }
    x->c = c;
    memcpy(x->rid, peer->rid, peer->rid_len);
    x->rid_len = peer->rid_len;
    x->request_id = p->request_id;
    snprintf(x->ingest, sizeof(x->ingest), "%s", in->id);
    snprintf(x->addr, sizeof(x->addr), "%s", addr);
    snprintf(x->key, sizeof(x->key), "%s", p->stream_key);
    x->chan = chan;
    snprintf(x->protocol, sizeof(x->protocol), "%s",
             p->protocol == PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT
                 ? "srt"
                 : "rtmp");
    Prism__SourceInfo def = PRISM__SOURCE_INFO__INIT;
    x->src = p->source ? *p->source : def;
    x->src.client = NULL;
    if (c->phook)
        ask_hook(x);
    else
        lookup_channel(x);
}
