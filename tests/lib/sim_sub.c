/* A simulated worker subscribing to the ingest's streams. */
#include "sim_sub.h"

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "media_frame.h"
#include "zsock.h"

#define SENDER "worker-test"
/* Between Subscribes until one is accepted. */
#define RETRY_MS 20
#define POLL_MS  10
#define RCVHWM   100000

int sim_sub_send_subscribe(void *sock, int flags, const char *sender,
                           const char *stream_id, const char *token,
                           uint64_t credit)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Subscribe s = PRISM__SUBSCRIBE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE;
    env.subscribe = &s;
    s.stream_id = (char *)stream_id;
    s.token = (char *)token;
    s.credit_bytes = credit;
    return envelope_send(sock, NULL, sender, &env, flags);
}

int sim_sub_send_credit(void *sock, int flags, const char *sender,
                        const char *stream_id, uint64_t bytes)
{
    Prism__Envelope ce = PRISM__ENVELOPE__INIT;
    Prism__Credit cr = PRISM__CREDIT__INIT;
    ce.body_case = PRISM__ENVELOPE__BODY_CREDIT;
    ce.credit = &cr;
    cr.stream_id = (char *)stream_id;
    cr.bytes = bytes;
    return envelope_send(sock, NULL, sender, &ce, flags);
}

static void on_reply(sim_sub_t *u, const Prism__SubscribeReply *r)
{
    if (r->accepted) {
        atomic_store(&u->accepted, true);
        u->ntracks = (uint32_t)r->n_tracks;
        for (size_t i = 0; i < r->n_tracks && i < 4; i++) {
            const Prism__Track *t = r->tracks[i];
            uint32_t k = t->index < 4 ? t->index : 3;
            u->codec[k] = t->codec;
            u->kind[k] = t->kind;
            u->sr[k] = t->sample_rate;
            u->ch[k] = t->channels;
            u->w[k] = t->width;
            u->h[k] = t->height;
            u->tbn[k] = t->timebase_num;
            u->tbd[k] = t->timebase_den;
            u->xlen[k] = (uint32_t)t->extradata.len;
            u->x0[k] = t->extradata.len ? t->extradata.data[0] : 0;
        }
    } else if (!atomic_load(&u->accepted)) {
        atomic_fetch_add(&u->refusals, 1);
        /* "unknown stream" until the publish is admitted: keep the most
         * telling reason. */
        if (r->reason && strcmp(r->reason, "unknown stream") != 0)
            snprintf(u->reason, sizeof(u->reason), "%s", r->reason);
    }
}

static void on_media(sim_sub_t *u, void *sock, const Prism__MediaHeader *m,
                     size_t size, bool *first)
{
    if (!*first && m->seq != u->last_seq + 1)
        u->seq_in_order = false;
    if (*first)
        u->first_pkt_ms = clock_mono_ms();
    *first = false;
    u->last_seq = m->seq;
    if (m->dropped > u->max_dropped)
        u->max_dropped = m->dropped;
    uint32_t t = m->track < 2 ? m->track : 1;
    if (u->npkts[t] < SIM_SUB_MAX_PKTS) {
        fixture_pkt_t *p = &u->pkts[t][u->npkts[t]];
        p->pts = m->pts;
        p->dts = m->dts;
        p->key = m->keyframe;
        p->size = (uint32_t)size;
        p->seq = m->seq;
        p->discont = m->discontinuity;
        p->track = m->track;
        /* Published after the packet: tests poll the count. */
        __atomic_store_n(&u->npkts[t], u->npkts[t] + 1, __ATOMIC_RELEASE);
    }
    if (u->refill)
        sim_sub_send_credit(sock, ZMQ_DONTWAIT, SENDER, u->stream_id,
                            u->refill);
}

static void *sub_main(void *arg)
{
    sim_sub_t *u = arg;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.rcvhwm = RCVHWM;
    void *sock = zsock_new(ZMQ_DEALER, &o);
    zsock_connect(sock, u->endpoint);
    int64_t last_try = 0;
    u->seq_in_order = true;
    bool first = true;
    while (!atomic_load(&u->stop)) {
        int64_t now = clock_mono_ms();
        if (!atomic_load(&u->accepted) && now - last_try >= RETRY_MS) {
            last_try = now;
            sim_sub_send_subscribe(sock, ZMQ_DONTWAIT, SENDER, u->stream_id,
                                   u->token, u->credit);
        }
        zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, POLL_MS) <= 0)
            continue;
        Prism__Envelope *env = NULL;
        zmq_msg_t payload;
        if (media_frame_recv(sock, ZMQ_DONTWAIT, NULL, &env, &payload) < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY)
            on_reply(u, env->subscribe_reply);
        else if (env->body_case == PRISM__ENVELOPE__BODY_MEDIA_HEADER)
            on_media(u, sock, env->media_header, zmq_msg_size(&payload),
                     &first);
        zmq_msg_close(&payload);
        envelope_free(&env);
    }
    zsock_close(&sock);
    return NULL;
}

void sim_sub_start(sim_sub_t *u, const char *endpoint, const char *stream_id,
                   const char *token, uint64_t credit)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->endpoint, sizeof(u->endpoint), "%s", endpoint);
    snprintf(u->stream_id, sizeof(u->stream_id), "%s", stream_id);
    snprintf(u->token, sizeof(u->token), "%s", token);
    u->credit = credit;
    pthread_create(&u->thread, NULL, sub_main, u);
}

void sim_sub_stop(sim_sub_t *u)
{
    atomic_store(&u->stop, true);
    pthread_join(u->thread, NULL);
}
