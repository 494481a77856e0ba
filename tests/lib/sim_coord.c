/* A simulated coordinator for the ingest tests. */
#include "sim_coord.h"

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "zsock.h"

/* The poll interval; shorter while answers are held back. */
#define POLL_MS       50
#define POLL_LATER_MS 10

static bool key_is(const char *key, const char *prefix)
{
    return strncmp(key, prefix, strlen(prefix)) == 0;
}

static void publish_reply(sim_coord_t *c, const envelope_peer_t *to,
                          uint64_t id, const char *key)
{
    bool ok = key_is(key, "good") ||
              (c->mode == SIM_COORD_SLOW && key_is(key, "slowgood"));
    char sid[300], tok[300];
    snprintf(sid, sizeof(sid), "s-%s", key);
    snprintf(tok, sizeof(tok), "t-%s", key);
    Prism__Envelope out = PRISM__ENVELOPE__INIT;
    Prism__PublishReply rep = PRISM__PUBLISH_REPLY__INIT;
    out.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REPLY;
    out.publish_reply = &rep;
    rep.request_id = id;
    rep.accepted = ok;
    rep.reason = ok ? "" : "unknown stream key";
    rep.stream_id = ok ? sid : "";
    rep.subscribe_token = ok ? tok : "";
    rep.worker_id = "w1";
    envelope_send(c->sock, to, "coord-test", &out, 0);
    atomic_fetch_add(ok ? &c->accepted : &c->refused, 1);
}

/* Sends the held-back answers that are due. */
static void answer_later(sim_coord_t *c)
{
    int64_t now = clock_mono_ms();
    for (int i = 0; i < c->nlater;) {
        sim_coord_later_t *l = &c->later[i];
        if (l->due <= now) {
            publish_reply(c, &l->to, l->id, l->key);
            *l = c->later[--c->nlater];
        } else {
            i++;
        }
    }
}

static void on_publish_request(sim_coord_t *c, const envelope_peer_t *from,
                               const Prism__PublishRequest *rq)
{
    atomic_fetch_add(&c->requests, 1);
    if (c->mode == SIM_COORD_SILENT)
        return;
    if (c->mode == SIM_COORD_SLOW && key_is(rq->stream_key, "slow")) {
        if (c->nlater < SIM_COORD_MAX_LATER) {
            sim_coord_later_t *l = &c->later[c->nlater++];
            l->to = *from;
            l->id = rq->request_id;
            snprintf(l->key, sizeof(l->key), "%s", rq->stream_key);
            l->due = clock_mono_ms() + SIM_COORD_SLOW_MS;
        }
        return;
    }
    if (c->mode == SIM_COORD_SLOW && key_is(rq->stream_key, "hang"))
        return;
    publish_reply(c, from, rq->request_id, rq->stream_key);
}

static void register_ack(sim_coord_t *c, const envelope_peer_t *to,
                         bool accepted, const char *reason)
{
    Prism__Envelope out = PRISM__ENVELOPE__INIT;
    Prism__RegisterAck ack = PRISM__REGISTER_ACK__INIT;
    out.body_case = PRISM__ENVELOPE__BODY_REGISTER_ACK;
    out.register_ack = &ack;
    ack.accepted = accepted;
    ack.reason = (char *)reason;
    ack.coordinator_id = "coord-test";
    envelope_send(c->sock, to, "coord-test", &out, 0);
}

static void on_heartbeat(sim_coord_t *c, const envelope_peer_t *from)
{
    if (atomic_fetch_add(&c->heartbeats, 1) != 0 || !c->nack_heartbeat)
        return;
    register_ack(c, from, false, "not registered: send Register");
}

static void on_ingest_stats(sim_coord_t *c, const Prism__IngestStats *st)
{
    pthread_mutex_lock(&c->mu);
    if (st->source) {
        snprintf(c->last_client, sizeof(c->last_client), "%s",
                 st->source->client ? st->source->client : "");
        c->last_width = st->source->width;
        c->last_height = st->source->height;
        c->last_vcodec = st->source->video_codec;
        c->last_acodec = st->source->audio_codec;
    }
    c->last_fps = st->fps;
    c->last_kbps = st->bitrate_kbps;
    c->last_gop_s = st->keyframe_interval_s;
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(&c->stats, 1);
}

static void on_envelope(sim_coord_t *c, const envelope_peer_t *from,
                        const Prism__Envelope *env)
{
    switch (env->body_case) {
    case PRISM__ENVELOPE__BODY_HELLO:
        pthread_mutex_lock(&c->mu);
        snprintf(c->hello_endpoint, sizeof(c->hello_endpoint), "%s",
                 env->hello->media_endpoint);
        pthread_mutex_unlock(&c->mu);
        if (atomic_fetch_add(&c->hellos, 1) >= c->lose_hellos)
            register_ack(c, from, true, "");
        break;
    case PRISM__ENVELOPE__BODY_HEARTBEAT:
        on_heartbeat(c, from);
        break;
    case PRISM__ENVELOPE__BODY_PUBLISH_REQUEST:
        on_publish_request(c, from, env->publish_request);
        break;
    case PRISM__ENVELOPE__BODY_INGEST_STATS:
        on_ingest_stats(c, env->ingest_stats);
        break;
    case PRISM__ENVELOPE__BODY_STREAM_END:
        pthread_mutex_lock(&c->mu);
        snprintf(c->last_end_reason, sizeof(c->last_end_reason), "%s",
                 env->stream_end->reason ? env->stream_end->reason : "");
        pthread_mutex_unlock(&c->mu);
        atomic_fetch_add(&c->ends, 1);
        break;
    default:
        break;
    }
}

static void *coord_main(void *arg)
{
    sim_coord_t *c = arg;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.router_mandatory = true;
    c->sock = zsock_new(ZMQ_ROUTER, &o);
    zsock_bind(c->sock, "tcp://127.0.0.1:*");
    zsock_last_endpoint(c->sock, c->endpoint, sizeof(c->endpoint));
    pthread_barrier_wait(&c->ready);
    while (!atomic_load(&c->stop)) {
        answer_later(c);
        zmq_pollitem_t pi = {c->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, c->nlater ? POLL_LATER_MS : POLL_MS) <= 0)
            continue;
        envelope_peer_t from;
        Prism__Envelope *env = NULL;
        if (envelope_recv(c->sock, ZMQ_DONTWAIT, &from, &env, NULL) < 0)
            continue;
        on_envelope(c, &from, env);
        envelope_free(&env);
    }
    zsock_close(&c->sock);
    return NULL;
}

void sim_coord_start(sim_coord_t *c, sim_coord_mode_t mode)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    pthread_mutex_init(&c->mu, NULL);
    pthread_barrier_init(&c->ready, NULL, 2);
    pthread_create(&c->thread, NULL, coord_main, c);
    pthread_barrier_wait(&c->ready);
    pthread_barrier_destroy(&c->ready);
}

void sim_coord_stop(sim_coord_t *c)
{
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
}
