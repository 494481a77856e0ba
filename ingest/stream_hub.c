/* Live streams, GOP cache and credit-based forwarding on the media ROUTER. */
#include "stream_hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "gop_cache.h"
#include "log.h"
#include "media_frame.h"
#include "ts_rise.h"

#define ID_MAX    128
#define TOKEN_MAX 256

typedef struct {
    envelope_peer_t peer;
    uint64_t credit;
    uint64_t dropped;
    bool waiting_key; /* dropping up to the next video key frame */
    bool discont;     /* the next packet sent follows a gap */
    uint32_t newx;    /* tracks whose next packet has new extradata */
} sub_t;

typedef struct {
    bool set;
    hub_track_info_t info;
    uint8_t *extra;
    ts_rise_t rise; /* the last dts, after raising (see rising_dts) */
} track_t;

/* A dts at most this far behind the track's last (in seconds) is raised
 * to one tick after it; a larger step back is a break (an encoder
 * restart) and is passed on for the worker to re-base. */
#define RAISE_MAX_S 1

struct hub_stream {
    hub_stream_t *next, *prev;
    char id[ID_MAX];
    char token[TOKEN_MAX];
    uint64_t publish_id; /* this publish, told in every SubscribeReply */
    track_t tracks[HUB_MAX_TRACKS];
    gop_cache_t gop;
    uint64_t seq;
    sub_t *subs;
    uint32_t nsubs;
    hub_stream_stats_t st;
};

/* A packet waiting in the outbox for its stream's subscribers. */
typedef struct {
    hub_stream_t *s;
    gop_entry_t e;
} out_t;

#define OUTBOX_MAX 512

struct hub {
    void *router;
    out_t out[OUTBOX_MAX];
    uint32_t nout;
    char sender[ID_MAX];
    hub_limits_t lim;
    hub_stream_t *streams;
    uint32_t nstreams;
    uint64_t refused;
};

hub_t *hub_new(void *router, const char *sender, const hub_limits_t *lim)
{
    hub_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->router = router;
    snprintf(h->sender, sizeof(h->sender), "%s", sender);
    h->lim = *lim;
    return h;
}

void hub_free(hub_t **hp)
{
    if (!hp || !*hp)
        return;
    hub_t *h = *hp;
    hub_flush(h);
    while (h->streams) {
        hub_stream_t *s = h->streams;
        hub_stream_close(h, &s, "ingest stopping");
    }
    free(h);
    *hp = NULL;
}

hub_stream_t *hub_find(hub_t *h, const char *id)
{
    for (hub_stream_t *s = h->streams; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

hub_stream_t *hub_first(hub_t *h)
{
    return h->streams;
}

hub_stream_t *hub_next(hub_stream_t *s)
{
    return s->next;
}

uint64_t hub_refused(const hub_t *h)
{
    return h->refused;
}

const char *hub_stream_id(const hub_stream_t *s)
{
    return s->id;
}

const hub_stream_stats_t *hub_stream_stats(const hub_stream_t *s)
{
    return &s->st;
}

hub_stream_t *hub_stream_open(hub_t *h, const char *id, const char *token)
{
    if (hub_find(h, id)) {
        log_warn("hub", "Stream is already live.", "stream=%s", id);
        return NULL;
    }
    if (h->nstreams >= h->lim.max_streams) {
        log_warn("hub", "Too many live streams.", "stream=%s max=%u", id,
                 h->lim.max_streams);
        return NULL;
    }
    hub_stream_t *s = calloc(1, sizeof(*s));
    if (s)
        s->subs = calloc(h->lim.max_subscribers ? h->lim.max_subscribers : 1,
                         sizeof(sub_t));
    if (!s || !s->subs) {
        log_error("hub", "Out of memory opening a stream.", "stream=%s", id);
        if (s)
            free(s);
        return NULL;
    }
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->token, sizeof(s->token), "%s", token ? token : "");
    /* Random, so publishes at two ingests never share one; never 0 (the
     * workers' "unknown"). A short read leaves the clock's bits in. */
    s->publish_id = (uint64_t)clock_mono_us();
    if (getrandom(&s->publish_id, sizeof(s->publish_id), 0) < 0)
        log_warn("hub", "No random publish id; using the clock.",
                 "stream=%s call=getrandom", id);
    s->publish_id |= 1;
    s->st.last_key_dts_ms = -1;
    gop_cache_init(&s->gop, h->lim.gop_max_packets, h->lim.gop_max_bytes,
                   h->lim.gop_history_ms);
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    h->nstreams++;
    return s;
}

/* Tells a subscriber that the publish is over (after its last packet:
 * a ROUTER keeps one peer's messages in order). */
static void send_end(hub_t *h, hub_stream_t *s, const sub_t *u, const char *why)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__StreamEnd end = PRISM__STREAM_END__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_STREAM_END;
    env.stream_end = &end;
    end.stream_id = s->id;
    end.reason = (char *)(why ? why : "");
    if (envelope_send(h->router, &u->peer, h->sender, &env, ZMQ_DONTWAIT) < 0)
        log_warn("hub", "Cannot tell a subscriber the stream ended.",
                 "stream=%s", s->id);
}

void hub_stream_close(hub_t *h, hub_stream_t **sp, const char *why)
{
    if (!sp || !*sp)
        return;
    hub_stream_t *s = *sp;
    hub_flush(h); /* the stream's last packets go out before it ends */
    for (uint32_t i = 0; i < s->nsubs; i++)
        send_end(h, s, &s->subs[i], why);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->nstreams--;
    gop_cache_free(&s->gop);
    for (int i = 0; i < HUB_MAX_TRACKS; i++)
        free(s->tracks[i].extra);
    free(s->subs);
    free(s);
    *sp = NULL;
}

const hub_track_info_t *hub_stream_track(const hub_stream_t *s, uint32_t i)
{
    if (i >= HUB_MAX_TRACKS || !s->tracks[i].set)
        return NULL;
    return &s->tracks[i].info;
}

static bool has_video(const hub_stream_t *s)
{
    for (int i = 0; i < HUB_MAX_TRACKS; i++)
        if (s->tracks[i].set &&
            s->tracks[i].info.kind == PRISM__TRACK_KIND__TRACK_KIND_VIDEO)
            return true;
    return false;
}

static bool is_video(const hub_stream_t *s, uint32_t track)
{
    return track < HUB_MAX_TRACKS && s->tracks[track].set &&
           s->tracks[track].info.kind == PRISM__TRACK_KIND__TRACK_KIND_VIDEO;
}

/* Timestamp TS of track TRACK in milliseconds, held within half the
 * int64 range (a hostile publisher's timestamps may be anything; the GOP
 * cache subtracts from it). */
static int64_t track_ms(const hub_stream_t *s, uint32_t track, int64_t ts)
{
    long double ms = (long double)ts;
    if (track < HUB_MAX_TRACKS && s->tracks[track].set &&
        s->tracks[track].info.tb_den) {
        const hub_track_info_t *t = &s->tracks[track].info;
        ms = ms * 1000 * t->tb_num / t->tb_den;
    }
    if (ms > (long double)(INT64_MAX / 2))
        return INT64_MAX / 2;
    if (ms < (long double)(INT64_MIN / 2))
        return INT64_MIN / 2;
    return (int64_t)ms;
}

static void remove_sub(hub_stream_t *s, uint32_t i)
{
    s->subs[i] = s->subs[s->nsubs - 1];
    s->nsubs--;
    s->st.subscribers = s->nsubs;
}

static int send_reply(hub_t *h, hub_stream_t *s, const envelope_peer_t *to,
                      bool accepted, const char *reason, const char *id)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__SubscribeReply rep = PRISM__SUBSCRIBE_REPLY__INIT;
    Prism__Track tr[HUB_MAX_TRACKS], *trp[HUB_MAX_TRACKS];
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY;
    env.subscribe_reply = &rep;
    rep.stream_id = (char *)id;
    rep.accepted = accepted;
    rep.reason = (char *)(reason ? reason : "");
    rep.publish_id = s && accepted ? s->publish_id : 0;
    size_t n = 0;
    for (uint32_t i = 0; s && accepted && i < HUB_MAX_TRACKS; i++) {
        const track_t *t = &s->tracks[i];
        if (!t->set)
            continue;
        prism__track__init(&tr[n]);
        tr[n].index = i;
        tr[n].kind = t->info.kind;
        tr[n].codec = t->info.codec;
        tr[n].extradata.data = t->extra;
        tr[n].extradata.len = t->info.extradata_len;
        tr[n].width = t->info.width;
        tr[n].height = t->info.height;
        tr[n].sample_rate = t->info.sample_rate;
        tr[n].channels = t->info.channels;
        tr[n].timebase_num = t->info.tb_num;
        tr[n].timebase_den = t->info.tb_den;
        trp[n] = &tr[n];
        n++;
    }
    rep.n_tracks = n;
    rep.tracks = trp;
    return envelope_send(h->router, to, h->sender, &env, ZMQ_DONTWAIT);
}

/* Sends one packet to one subscriber within its credit. Returns -1 when
 * the subscriber is gone and must be removed. */
static int forward(hub_t *h, hub_stream_t *s, sub_t *u, const gop_entry_t *e)
{
    if (u->waiting_key) {
        bool video = has_video(s);
        if (video && !(e->keyframe && is_video(s, e->track))) {
            u->dropped++;
            s->st.dropped++;
            return 0;
        }
        u->waiting_key = false;
    }
    if (e->len > u->credit) {
        u->dropped++;
        s->st.dropped++;
        u->waiting_key = true;
        u->discont = true;
        return 0;
    }
    Prism__MediaHeader mh = PRISM__MEDIA_HEADER__INIT;
    mh.stream_id = s->id;
    mh.track = e->track;
    mh.pts = e->pts;
    mh.dts = e->dts;
    mh.duration = e->duration;
    mh.keyframe = e->keyframe;
    mh.seq = e->seq;
    mh.dropped = u->dropped;
    mh.discontinuity = u->discont;
    mh.new_extradata = e->track < 32 && (u->newx & (1u << e->track));
    mh.arrival_unix_us = clock_wall_us() - (clock_mono_us() - e->recv_us);
    pktbuf_ref(e->buf);
    int rc = media_frame_send_owned(h->router, &u->peer, h->sender, &mh,
                                    e->buf->data + e->off, e->len,
                                    pktbuf_zmq_free, e->buf, ZMQ_DONTWAIT);
    if (rc == -EHOSTUNREACH)
        return -1;
    if (rc < 0) {
        u->dropped++;
        s->st.dropped++;
        u->waiting_key = true;
        u->discont = true;
        return 0;
    }
    u->credit -= e->len;
    u->discont = false;
    if (e->track < 32)
        u->newx &= ~(1u << e->track);
    s->st.packets_sent++;
    s->st.bytes_sent += e->len;
    return 0;
}

int hub_stream_set_track(hub_t *h, hub_stream_t *s, uint32_t i,
                         const hub_track_info_t *t)
{
    if (i >= HUB_MAX_TRACKS || t->extradata_len > HUB_EXTRADATA_MAX)
        return -EINVAL;
    track_t *tr = &s->tracks[i];
    bool changed = !tr->set || tr->info.codec != t->codec ||
                   tr->info.extradata_len != t->extradata_len ||
                   (t->extradata_len &&
                    memcmp(tr->extra, t->extradata, t->extradata_len) != 0) ||
                   tr->info.width != t->width || tr->info.height != t->height;
    if (!changed)
        return 0;
    hub_flush(h); /* packets with the old extradata go first */
    uint8_t *x = NULL;
    if (t->extradata_len) {
        x = malloc(t->extradata_len);
        if (!x)
            return -ENOMEM;
        memcpy(x, t->extradata, t->extradata_len);
    }
    free(tr->extra);
    tr->extra = x;
    tr->info = *t;
    tr->info.extradata = x; /* our copy: hub_stream_track hands it out */
    tr->set = true;
    for (uint32_t k = 0; k < s->nsubs; k++) {
        sub_t *u = &s->subs[k];
        if (i < 32)
            u->newx |= 1u << i;
        send_reply(h, s, &u->peer, true, "", s->id);
    }
    return 0;
}

/* Keeps each track's dts rising (ts_rise.h says why), logging the first
 * raise and counting every one in ts_raised. */
static void rising_dts(hub_stream_t *s, uint32_t track, int64_t *pts,
                       int64_t *dts)
{
    track_t *t = &s->tracks[track];
    int64_t window =
        t->info.tb_num ? (int64_t)t->info.tb_den * RAISE_MAX_S / t->info.tb_num
                       : 1000;
    int64_t was = *dts, last = t->rise.last;
    if (!ts_rise(&t->rise, window, pts, dts))
        return;
    if (!s->st.ts_raised)
        log_warn("hub", "Raising timestamps that do not increase.",
                 "stream=%s track=%u dts=%lld last_dts=%lld "
                 "note=\"later ones are counted in ts_raised\"",
                 s->id, track, (long long)was, (long long)last);
    s->st.ts_raised++;
}

int hub_stream_packet(hub_t *h, hub_stream_t *s, const hub_pkt_t *p)
{
    int64_t pts = p->pts, dts = p->dts;
    if (p->track < HUB_MAX_TRACKS && s->tracks[p->track].set)
        rising_dts(s, p->track, &pts, &dts);
    s->st.packets_in++;
    s->st.bytes_in += p->len;
    bool video = is_video(s, p->track);
    if (video) {
        s->st.video_frames++;
        if (p->keyframe) {
            int64_t ms = track_ms(s, p->track, dts);
            if (s->st.last_key_dts_ms >= 0 && ms > s->st.last_key_dts_ms)
                s->st.key_interval_s = (ms - s->st.last_key_dts_ms) / 1000.0;
            s->st.last_key_dts_ms = ms;
            s->st.keyframes++;
        }
    }
    /* A video key frame (any packet of an audio-only stream) is where the
     * GOP cache may begin. */
    gop_entry_t e = {p->buf,
                     p->off,
                     p->len,
                     p->track,
                     pts,
                     dts,
                     p->duration,
                     p->keyframe,
                     s->seq++,
                     p->keyframe && (video || !has_video(s)),
                     track_ms(s, p->track, dts),
                     p->recv_us ? p->recv_us : clock_mono_us()};
    if (gop_cache_push(&s->gop, &e))
        s->st.gop_overflows++;
    if (s->nsubs == 0)
        return 0;
    if (h->nout == OUTBOX_MAX)
        hub_flush(h);
    e.buf = pktbuf_ref(p->buf);
    h->out[h->nout++] = (out_t){s, e};
    return 0;
}

void hub_flush(hub_t *h)
{
    /* forward() never reenters the hub, so the outbox cannot grow here. */
    for (uint32_t i = 0; i < h->nout; i++) {
        hub_stream_t *s = h->out[i].s;
        for (uint32_t k = 0; k < s->nsubs;) {
            if (forward(h, s, &s->subs[k], &h->out[i].e) < 0) {
                log_info("hub", "Subscriber went away.", "stream=%s", s->id);
                remove_sub(s, k);
                continue;
            }
            k++;
        }
        pktbuf_unref(h->out[i].e.buf);
    }
    h->nout = 0;
}

static bool token_ok(const char *want, const char *got)
{
    size_t a = strlen(want), b = strlen(got);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < a; i++)
        diff |= (unsigned)(want[i] ^ (i < b ? got[i] : 0));
    return diff == 0 && a > 0;
}

static sub_t *find_sub(hub_stream_t *s, const envelope_peer_t *p)
{
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].peer.rid_len == p->rid_len &&
            memcmp(s->subs[i].peer.rid, p->rid, p->rid_len) == 0)
            return &s->subs[i];
    return NULL;
}

static void on_subscribe(hub_t *h, const envelope_peer_t *from,
                         const Prism__Subscribe *m)
{
    const char *id = m->stream_id ? m->stream_id : "";
    hub_stream_t *s = hub_find(h, id);
    const char *why = NULL;
    if (!s)
        why = "unknown stream";
    else if (!token_ok(s->token, m->token ? m->token : ""))
        why = "bad token";
    else if (!find_sub(s, from) && s->nsubs >= h->lim.max_subscribers)
        why = "too many subscribers";
    if (why) {
        char who[512];
        h->refused++;
        /* A worker may ask before the publisher is admitted: not alarming. */
        log_write(s ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "hub",
                  "Refusing a subscription.",
                  "stream=%s peer=\"%s\" why=\"%s\"", id,
                  envelope_peer_str(from, who, sizeof(who)), why);
        send_reply(h, NULL, from, false, why, id);
        return;
    }
    sub_t *u = find_sub(s, from);
    if (u) {
        /* A repeated Subscribe (a retry that crossed our reply): answer
         * again, keep the larger credit, replay nothing. */
        if (m->credit_bytes > u->credit)
            u->credit = m->credit_bytes;
        send_reply(h, s, from, true, "", id);
        return;
    }
    u = &s->subs[s->nsubs++];
    s->st.subscribers = s->nsubs;
    memset(u, 0, sizeof(*u));
    u->peer = *from;
    u->credit = m->credit_bytes;
    u->discont = true; /* the first packet starts the subscription */
    if (send_reply(h, s, from, true, "", id) < 0) {
        remove_sub(s, (uint32_t)(u - s->subs));
        return;
    }
    /* The cache from where the subscriber asks (a worker taking the
     * stream over asks for history: gop_cache.h), then live packets. */
    uint32_t first = gop_cache_from(&s->gop, (int64_t)m->history_ms);
    log_info("hub", "Worker subscribed.",
             "stream=%s gop_packets=%u history_ms=%u credit=%llu", id,
             s->gop.n - first, m->history_ms,
             (unsigned long long)m->credit_bytes);
    if (!s->gop.valid && has_video(s))
        u->waiting_key = true;
    for (uint32_t i = first; i < s->gop.n; i++) {
        if (forward(h, s, u, &s->gop.e[i]) < 0) {
            remove_sub(s, (uint32_t)(u - s->subs));
            return;
        }
    }
}

void hub_handle_router(hub_t *h)
{
    hub_flush(h); /* subscriptions and credit apply after queued packets */
    for (int budget = 0; budget < 1024; budget++) {
        envelope_peer_t from;
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(h->router, ZMQ_DONTWAIT, &from, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0)
            continue;
        hub_stream_t *s;
        sub_t *u;
        switch (env->body_case) {
        case PRISM__ENVELOPE__BODY_SUBSCRIBE:
            on_subscribe(h, &from, env->subscribe);
            break;
        case PRISM__ENVELOPE__BODY_CREDIT:
            s = hub_find(h,
                         env->credit->stream_id ? env->credit->stream_id : "");
            u = s ? find_sub(s, &from) : NULL;
            if (u) {
                u->credit += env->credit->bytes;
                if (u->credit > (1ull << 40))
                    u->credit = 1ull << 40;
            }
            break;
        case PRISM__ENVELOPE__BODY_UNSUBSCRIBE:
            s = hub_find(h, env->unsubscribe->stream_id
                                ? env->unsubscribe->stream_id
                                : "");
            u = s ? find_sub(s, &from) : NULL;
            if (u)
                remove_sub(s, (uint32_t)(u - s->subs));
            break;
        default:
            break;
        }
        envelope_free(&env);
    }
}
