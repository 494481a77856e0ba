/* The coordinator's farm state: the tables, their indices and lookups. */
#include "farm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "coord_int.h"
#include "curve_keys.h"
#include "idmap.h"
#include "log.h"

#define MOD "coord"

/*
 * Ingest nodes remembered. A record is kept after its ingest goes silent,
 * for when it speaks again, so the table only grows: at most one record
 * per key in allow_dir, since an ingest is named by its key. Each ingest
 * serves many publishers, so a farm needs far fewer; the bound keeps the
 * table's size fixed whatever the directory holds. Past it, a new ingest's
 * Hello is refused ("registry full") and so are its publishes ("unknown
 * ingest").
 */
#define MAX_INGESTS 4096

const char *farm_worker_state_name(const coord_t *c, long wi)
{
    const placement_worker_t *pw = farm_pworker(c, wi);
    if (farm_worker(c, wi)->state == WORKER_DEAD)
        return "dead";
    if (pw->draining)
        return "draining";
    if (pw->overloaded)
        return "overloaded";
    return "live";
}

const char *farm_stream_state_name(stream_state_t s)
{
    switch (s) {
    case STREAM_PENDING:
        return "pending";
    case STREAM_ASSIGNING:
        return "assigning";
    case STREAM_RUNNING:
        return "running";
    case STREAM_RECOVERING:
        return "recovering";
    case STREAM_FAILED:
        return "failed";
    default:
        return "free";
    }
}

/* ---------------------------------------------------------------- lookups */

coord_worker_t *farm_find_worker(coord_t *c, const char *id, long *idx)
{
    long i = id ? idmap_get(c->worker_ids, id) : -1;
    if (i < 0 || (size_t)i >= c->nworkers)
        return NULL;
    if (idx)
        *idx = i;
    return &c->workers[i];
}

coord_stream_t *farm_find_stream(coord_t *c, const char *id)
{
    long i = id ? idmap_get(c->stream_ids, id) : -1;
    if (i < 0 || (size_t)i >= c->nslots || c->streams[i].state == STREAM_FREE)
        return NULL;
    return &c->streams[i];
}

static void channel_key(int64_t channel_id, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId64, channel_id);
}

coord_stream_t *farm_find_channel_stream(coord_t *c, int64_t channel_id)
{
    char k[24];
    channel_key(channel_id, k, sizeof(k));
    long i = idmap_get(c->channel_streams, k);
    if (i < 0 || (size_t)i >= c->nslots || c->streams[i].state == STREAM_FREE)
        return NULL;
    return &c->streams[i];
}

coord_ingest_t *farm_find_ingest(const coord_t *c, const char *id)
{
    for (size_t i = 0; i < c->ningests; i++)
        if (!strcmp(c->ingests[i].id, id))
            return &c->ingests[i];
    return NULL;
}

const char *farm_worker_id(const coord_t *c, long wi)
{
    return wi >= 0 && (size_t)wi < c->nworkers ? c->workers[wi].id : "";
}

int farm_device_index(const coord_t *c, const coord_stream_t *s)
{
    if (s->worker < 0 || s->device < 0)
        return -1;
    return (int)((size_t)s->device - c->pworkers[s->worker].first_device);
}

unsigned farm_full_mask(const coord_stream_t *s)
{
    return s->ladder.n >= 32 ? ~0u : (1u << s->ladder.n) - 1;
}

/* ---------------------------------------------------------------- tables */

int farm_stream_index(coord_t *c, coord_stream_t *s)
{
    char k[24];
    long slot = (long)(s - c->streams);
    channel_key(s->channel_id, k, sizeof(k));
    if (idmap_put(c->stream_ids, s->id, slot) < 0)
        return -ENOMEM;
    if (idmap_put(c->channel_streams, k, slot) < 0) {
        idmap_del(c->stream_ids, s->id);
        return -ENOMEM;
    }
    return 0;
}

coord_stream_t *farm_stream_alloc(coord_t *c)
{
    if (c->nstreams == c->nslots && c->nslots < (size_t)c->cfg.max_streams) {
        if (c->nslots == c->cap_streams) {
            size_t cap = c->cap_streams ? c->cap_streams * 2 : 64;
            if (cap > (size_t)c->cfg.max_streams)
                cap = (size_t)c->cfg.max_streams;
            coord_stream_t *v = realloc(c->streams, cap * sizeof(*v));
            if (!v)
                return NULL;
            c->streams = v;
            c->cap_streams = cap;
        }
        c->streams[c->nslots++].state = STREAM_FREE;
    }
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->streams[i].state == STREAM_FREE) {
            coord_stream_t *s = &c->streams[i];
            memset(s, 0, sizeof(*s));
            s->worker = -1;
            s->device = -1;
            s->moving_from = -1;
            s->avoid_worker = -1;
            load_ctl_stream_init(&s->lctl);
            s->seq = ++c->next_seq;
            c->nstreams++;
            return s;
        }
    }
    return NULL;
}

void farm_stream_free(coord_t *c, coord_stream_t *s)
{
    char k[24];
    channel_key(s->channel_id, k, sizeof(k));
    if (s->id[0])
        idmap_del(c->stream_ids, s->id);
    if (idmap_get(c->channel_streams, k) == (long)(s - c->streams))
        idmap_del(c->channel_streams, k);
    s->state = STREAM_FREE;
    s->id[0] = '\0';
    s->left_ms = 0;
    c->nstreams--;
}

static int grow_workers(coord_t *c)
{
    if (c->nworkers < c->cap_workers)
        return 0;
    if (c->cap_workers >= (size_t)c->cfg.max_workers)
        return -ENOSPC;
    size_t cap = c->cap_workers ? c->cap_workers * 2 : 16;
    if (cap > (size_t)c->cfg.max_workers)
        cap = (size_t)c->cfg.max_workers;
    coord_worker_t *w = realloc(c->workers, cap * sizeof(*w));
    if (w)
        c->workers = w;
    placement_worker_t *pw = realloc(c->pworkers, cap * sizeof(*pw));
    if (pw)
        c->pworkers = pw;
    placement_device_t *pd =
        realloc(c->pdevices, cap * COORD_MAX_DEVICES * sizeof(*pd));
    if (pd)
        c->pdevices = pd;
    if (!w || !pw || !pd)
        return -ENOMEM;
    c->cap_workers = cap;
    c->farm.workers = c->pworkers;
    c->farm.devices = c->pdevices;
    return 0;
}

long farm_worker_add(coord_t *c, const char *id)
{
    if (grow_workers(c) < 0)
        return -ENOSPC;
    if (idmap_put(c->worker_ids, id, (long)c->nworkers) < 0)
        return -ENOMEM;
    long wi = (long)c->nworkers++;
    c->farm.nworkers = c->nworkers;
    c->farm.ndevices = c->nworkers * COORD_MAX_DEVICES;
    coord_worker_t *w = &c->workers[wi];
    memset(w, 0, sizeof(*w));
    memset(&c->pworkers[wi], 0, sizeof(c->pworkers[wi]));
    snprintf(w->id, sizeof(w->id), "%s", id);
    c->pworkers[wi].first_device = (size_t)wi * COORD_MAX_DEVICES;
    return wi;
}

/* A new ingest record named id, with its public key when its key file
 * (named by the ZAP user id) is in allow_dir; NULL when the table is full. */
static coord_ingest_t *ingest_add(coord_t *c, const envelope_peer_t *peer,
                                  const char *id)
{
    if (c->ningests == c->cap_ingests) {
        if (c->cap_ingests >= MAX_INGESTS)
            return NULL;
        size_t cap = c->cap_ingests ? c->cap_ingests * 2 : 8;
        if (cap > MAX_INGESTS)
            cap = MAX_INGESTS;
        coord_ingest_t *v = realloc(c->ingests, cap * sizeof(*v));
        if (!v)
            return NULL;
        c->ingests = v;
        c->cap_ingests = cap;
    }
    coord_ingest_t *in = &c->ingests[c->ningests++];
    memset(in, 0, sizeof(*in));
    snprintf(in->id, sizeof(in->id), "%s", id);
    if (peer->user_id[0]) {
        char path[2048], z85[CURVE_KEY_Z85_SIZE];
        snprintf(path, sizeof(path), "%s/%s.pub", c->cfg.allow_dir,
                 peer->user_id);
        if (curve_keys_load_public(path, z85) == 0 &&
            zmq_z85_decode(in->public_key, z85))
            in->has_key = true;
    }
    return in;
}

coord_ingest_t *farm_ingest_seen(coord_t *c, const envelope_peer_t *peer,
                                 const char *id)
{
    if (peer->user_id[0])
        id = peer->user_id;
    if (!id || !id[0] || strlen(id) >= COORD_ID_MAX)
        return NULL;
    coord_ingest_t *in = farm_find_ingest(c, id);
    if (!in)
        in = ingest_add(c, peer, id);
    if (!in)
        return NULL;
    memcpy(in->rid, peer->rid, peer->rid_len);
    in->rid_len = peer->rid_len;
    in->last_seen_ms = clock_mono_ms();
    in->lost = false;
    return in;
}

/* ---------------------------------------------------------------- sending */

int farm_send(coord_t *c, const unsigned char *rid, size_t rid_len,
              Prism__Envelope *env, const char *to)
{
    envelope_peer_t p;
    if (!c->control || rid_len == 0 || rid_len > sizeof(p.rid))
        return -ENOTCONN;
    memset(&p, 0, sizeof(p));
    memcpy(p.rid, rid, rid_len);
    p.rid_len = rid_len;
    int rc = envelope_send(c->control, &p, c->cfg.id, env, ZMQ_DONTWAIT);
    if (rc < 0) {
        c->n.send_failures++;
        log_debug(MOD, "Send failed.",
                  "call=envelope_send to=%s body=%s err=\"%s\"", to,
                  envelope_body_name(env), zmq_strerror(-rc));
    }
    return rc;
}

void farm_send_register_ack(coord_t *c, const unsigned char *rid,
                            size_t rid_len, bool accepted, const char *reason,
                            const char *to)
{
    Prism__RegisterAck ack = PRISM__REGISTER_ACK__INIT;
    Prism__Envelope out = PRISM__ENVELOPE__INIT;
    ack.accepted = accepted;
    if (reason)
        ack.reason = (char *)reason;
    ack.coordinator_id = c->cfg.id;
    ack.report_interval_ms = (uint32_t)c->cfg.report_ms;
    ack.dead_after_ms = (uint32_t)(c->cfg.missed_reports * c->cfg.report_ms);
    out.body_case = PRISM__ENVELOPE__BODY_REGISTER_ACK;
    out.register_ack = &ack;
    farm_send(c, rid, rid_len, &out, to);
}

void farm_send_not_registered(coord_t *c, const envelope_peer_t *peer,
                              const char *who)
{
    farm_send_register_ack(c, peer->rid, peer->rid_len, false,
                           "not registered: send Register", who);
}

/* ---------------------------------------------------------------- reading */

size_t farm_worker_count(const coord_t *c)
{
    return c->nworkers;
}

const coord_worker_t *farm_worker(const coord_t *c, long wi)
{
    return &c->workers[wi];
}

const placement_worker_t *farm_pworker(const coord_t *c, long wi)
{
    return &c->pworkers[wi];
}

const placement_device_t *farm_device(const coord_t *c, long wi, size_t k)
{
    return &c->pdevices[c->pworkers[wi].first_device + k];
}

int farm_worker_streams(const coord_t *c, long wi)
{
    int n = 0;
    for (size_t i = 0; i < c->nslots; i++)
        n += c->streams[i].state != STREAM_FREE && c->streams[i].worker == wi;
    return n;
}

size_t farm_stream_slots(const coord_t *c)
{
    return c->nslots;
}

const coord_stream_t *farm_stream_at(const coord_t *c, size_t i)
{
    return c->streams[i].state != STREAM_FREE ? &c->streams[i] : NULL;
}

const coord_counters_t *farm_counters(const coord_t *c)
{
    return &c->n;
}

bool farm_playback_url(const coord_t *c, const coord_stream_t *s,
                       const char *file, char *buf, size_t len)
{
    const char *out = c->cfg.output_url;
    bool http = !strncmp(out, "http://", 7) || !strncmp(out, "https://", 8);
    const char *base = c->cfg.playback_url[0] ? c->cfg.playback_url
                       : http                 ? out
                                              : NULL;
    if (!base || !base[0])
        return false;
    snprintf(buf, len, "%s%s%s/%s", base,
             base[strlen(base) - 1] == '/' ? "" : "/", s->channel, file);
    return true;
}
