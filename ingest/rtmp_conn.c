/* RTMP publisher protocol: handshake, command dialogue, media dispatch. */
#include "rtmp_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtmp_handshake.h"

#define OUT_CAP        16384
#define OUT_CHUNK_SIZE 4096
#define SERVER_WINDOW  5000000
#define AMF_NODES      256

struct rtmp_conn {
    rtmp_conn_state_t state;
    rtmp_limits_t lim;
    rtmp_conn_cbs_t cbs;
    void *opaque;
    void *user;
    int hs_kind;
    uint8_t hs[RTMP_HANDSHAKE_SIZE + 1];
    uint32_t hs_len;
    rtmp_chunk_reader_t rd;
    uint32_t streams;      /* createStream calls */
    uint32_t publish_msid; /* message stream id of the publish */
    double publish_tid;
    uint32_t peer_window; /* the client's Window Ack Size, 0 = none */
    uint64_t last_ack;    /* bytes_in at the last Ack we sent */
    rtmp_meta_t meta;
    bool meta_from_data; /* client name came from onMetaData */
    char app[128];
    char key[256];
    uint8_t out[OUT_CAP];
    size_t out_off, out_len;
};

static int on_message(void *opaque, rtmp_msg_t *m);

rtmp_conn_t *rtmp_conn_new(const rtmp_limits_t *lim, const rtmp_conn_cbs_t *cbs,
                           void *opaque)
{
    rtmp_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->lim = *lim;
    c->cbs = *cbs;
    c->opaque = opaque;
    c->state = RTMP_CONN_HS_C0C1;
    c->meta.videocodecid = -1;
    rtmp_chunk_reader_init(&c->rd, lim->max_chunk_size, lim->max_message,
                           on_message, c);
    return c;
}

void rtmp_conn_free(rtmp_conn_t **cp)
{
    if (!cp || !*cp)
        return;
    rtmp_chunk_reader_reset(&(*cp)->rd);
    free(*cp);
    *cp = NULL;
}

static uint8_t *out_reserve(rtmp_conn_t *c, size_t n)
{
    if (c->out_off > 0 && c->out_len + n > OUT_CAP - c->out_off) {
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    if (c->out_len + n > OUT_CAP - c->out_off)
        return NULL;
    return c->out + c->out_off + c->out_len;
}

static int send_msg(rtmp_conn_t *c, uint32_t csid, uint8_t type, uint32_t msid,
                    const uint8_t *p, uint32_t len)
{
    size_t need = rtmp_chunk_size_needed(OUT_CHUNK_SIZE, csid, 0, len);
    uint8_t *o = out_reserve(c, need);
    if (!o)
        return RTMP_CONN_EOUTPUT;
    long n =
        rtmp_chunk_write(o, need, OUT_CHUNK_SIZE, csid, 0, type, msid, p, len);
    if (n < 0)
        return RTMP_CONN_EOUTPUT;
    c->out_len += (size_t)n;
    return 0;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int send_u32(rtmp_conn_t *c, uint8_t type, uint32_t v)
{
    uint8_t b[4];
    be32(b, v);
    return send_msg(c, 2, type, 0, b, 4);
}

static int send_user_control(rtmp_conn_t *c, uint16_t ev, uint32_t v)
{
    uint8_t b[6] = {(uint8_t)(ev >> 8), (uint8_t)ev};
    be32(b + 2, v);
    return send_msg(c, 2, RTMP_MSG_USER_CONTROL, 0, b, 6);
}

static int send_amf(rtmp_conn_t *c, uint32_t msid, amf0_writer_t *w)
{
    if (w->err)
        return RTMP_CONN_EOUTPUT;
    return send_msg(c, 3, RTMP_MSG_COMMAND_AMF0, msid, w->buf,
                    (uint32_t)w->len);
}

static int send_status(rtmp_conn_t *c, const char *level, const char *code,
                       const char *desc)
{
    uint8_t b[768];
    amf0_writer_t w;
    amf0_w_init(&w, b, sizeof(b));
    amf0_w_string(&w, "onStatus");
    amf0_w_number(&w, 0);
    amf0_w_null(&w);
    amf0_w_object_start(&w);
    amf0_w_key(&w, "level");
    amf0_w_string(&w, level);
    amf0_w_key(&w, "code");
    amf0_w_string(&w, code);
    amf0_w_key(&w, "description");
    amf0_w_string(&w, desc);
    amf0_w_object_end(&w);
    return send_amf(c, c->publish_msid, &w);
}

static int cmd_connect(rtmp_conn_t *c, const amf0_doc_t *d, double tid)
{
    int obj = amf0_top(d, 2);
    amf0_copy_str(d, amf0_get(d, obj, "app"), c->app, sizeof(c->app));
    if (!c->meta_from_data)
        amf0_copy_str(d, amf0_get(d, obj, "flashVer"), c->meta.client,
                      sizeof(c->meta.client));
    int rc;
    if ((rc = send_u32(c, RTMP_MSG_WINDOW_ACK_SIZE, SERVER_WINDOW)) < 0)
        return rc;
    uint8_t bw[5];
    be32(bw, SERVER_WINDOW);
    bw[4] = 2; /* dynamic */
    if ((rc = send_msg(c, 2, RTMP_MSG_SET_PEER_BW, 0, bw, 5)) < 0)
        return rc;
    if ((rc = send_u32(c, RTMP_MSG_SET_CHUNK_SIZE, OUT_CHUNK_SIZE)) < 0)
        return rc;
    uint8_t b[512];
    amf0_writer_t w;
    amf0_w_init(&w, b, sizeof(b));
    amf0_w_string(&w, "_result");
    amf0_w_number(&w, tid);
    amf0_w_object_start(&w);
    amf0_w_key(&w, "fmsVer");
    amf0_w_string(&w, "FMS/3,0,1,123");
    amf0_w_key(&w, "capabilities");
    amf0_w_number(&w, 31);
    amf0_w_object_end(&w);
    amf0_w_object_start(&w);
    amf0_w_key(&w, "level");
    amf0_w_string(&w, "status");
    amf0_w_key(&w, "code");
    amf0_w_string(&w, "NetConnection.Connect.Success");
    amf0_w_key(&w, "description");
    amf0_w_string(&w, "Connection succeeded.");
    amf0_w_key(&w, "objectEncoding");
    amf0_w_number(&w, 0);
    amf0_w_object_end(&w);
    return send_amf(c, 0, &w);
}

static int simple_result(rtmp_conn_t *c, double tid, bool with_number,
                         double num)
{
    uint8_t b[64];
    amf0_writer_t w;
    amf0_w_init(&w, b, sizeof(b));
    amf0_w_string(&w, "_result");
    amf0_w_number(&w, tid);
    amf0_w_null(&w);
    if (with_number)
        amf0_w_number(&w, num);
    else
        amf0_w_null(&w);
    return send_amf(c, 0, &w);
}

static int cmd_publish(rtmp_conn_t *c, const amf0_doc_t *d, double tid,
                       uint32_t msid)
{
    if (c->state != RTMP_CONN_COMMANDS)
        return RTMP_CONN_EAMF; /* a second publish on one connection */
    char name[256] = "";
    if (amf0_copy_str(d, amf0_top(d, 3), name, sizeof(name)) < 0)
        return RTMP_CONN_EAMF;
    char *q = strchr(name, '?'); /* "key?param=..." as some clients send */
    if (q)
        *q = 0;
    memcpy(c->key, name, sizeof(c->key));
    c->publish_msid = msid;
    c->publish_tid = tid;
    c->state = RTMP_CONN_ADMITTING;
    return c->cbs.on_publish(c->opaque, c, c->app, c->key);
}

void rtmp_conn_publish_result(rtmp_conn_t *c, bool accepted, const char *reason)
{
    if (c->state != RTMP_CONN_ADMITTING)
        return;
    if (accepted) {
        c->state = RTMP_CONN_PUBLISHING;
        send_user_control(c, 0, c->publish_msid); /* StreamBegin */
        send_status(c, "status", "NetStream.Publish.Start",
                    "Start publishing.");
    } else {
        send_status(c, "error", "NetStream.Publish.BadName",
                    reason && *reason ? reason : "Publish refused.");
        c->state = RTMP_CONN_CLOSING;
    }
}

void rtmp_conn_publish_fail(rtmp_conn_t *c, const char *reason)
{
    if (c->state != RTMP_CONN_PUBLISHING)
        return;
    send_status(c, "error", "NetStream.Publish.Rejected", reason);
    c->state = RTMP_CONN_CLOSING;
}

static void meta_from(rtmp_conn_t *c, const amf0_doc_t *d, int obj)
{
    rtmp_meta_t *m = &c->meta;
    m->width = amf0_num(d, amf0_get(d, obj, "width"), m->width);
    m->height = amf0_num(d, amf0_get(d, obj, "height"), m->height);
    m->framerate = amf0_num(d, amf0_get(d, obj, "framerate"), m->framerate);
    m->videodatarate =
        amf0_num(d, amf0_get(d, obj, "videodatarate"), m->videodatarate);
    m->audiodatarate =
        amf0_num(d, amf0_get(d, obj, "audiodatarate"), m->audiodatarate);
    m->audiosamplerate =
        amf0_num(d, amf0_get(d, obj, "audiosamplerate"), m->audiosamplerate);
    m->videocodecid =
        amf0_num(d, amf0_get(d, obj, "videocodecid"), m->videocodecid);
    if (amf0_copy_str(d, amf0_get(d, obj, "encoder"), m->client,
                      sizeof(m->client)) == 0)
        c->meta_from_data = true;
}

static int on_data(rtmp_conn_t *c, const uint8_t *p, uint32_t len)
{
    amf0_node_t nodes[AMF_NODES];
    amf0_doc_t d = {nodes, AMF_NODES, 0, 0, c->lim.max_amf_depth};
    if (amf0_decode(&d, p, len) < 0)
        return RTMP_CONN_EAMF;
    int first = amf0_top(&d, 0), obj = -1;
    if (amf0_str_eq(&d, first, "@setDataFrame") &&
        amf0_str_eq(&d, amf0_top(&d, 1), "onMetaData"))
        obj = amf0_top(&d, 2);
    else if (amf0_str_eq(&d, first, "onMetaData"))
        obj = amf0_top(&d, 1);
    if (obj >= 0) {
        meta_from(c, &d, obj);
        if (c->cbs.on_metadata)
            c->cbs.on_metadata(c->opaque, c);
    }
    return 0;
}

static int on_command(rtmp_conn_t *c, const uint8_t *p, uint32_t len,
                      uint32_t msid)
{
    amf0_node_t nodes[AMF_NODES];
    amf0_doc_t d = {nodes, AMF_NODES, 0, 0, c->lim.max_amf_depth};
    if (amf0_decode(&d, p, len) < 0)
        return RTMP_CONN_EAMF;
    int name = amf0_top(&d, 0);
    if (name < 0 || (d.nodes[name].type != AMF0_STRING))
        return RTMP_CONN_EAMF;
    double tid = amf0_num(&d, amf0_top(&d, 1), 0);
    if (amf0_str_eq(&d, name, "connect"))
        return cmd_connect(c, &d, tid);
    if (amf0_str_eq(&d, name, "createStream")) {
        if (++c->streams > c->lim.max_streams)
            return RTMP_CONN_ELIMIT;
        return simple_result(c, tid, true, c->streams);
    }
    if (amf0_str_eq(&d, name, "releaseStream"))
        return simple_result(c, tid, false, 0);
    if (amf0_str_eq(&d, name, "publish"))
        return cmd_publish(c, &d, tid, msid);
    if (amf0_str_eq(&d, name, "deleteStream") ||
        amf0_str_eq(&d, name, "FCUnpublish") ||
        amf0_str_eq(&d, name, "closeStream")) {
        if (c->state == RTMP_CONN_PUBLISHING) {
            c->state = RTMP_CONN_COMMANDS;
            if (c->cbs.on_unpublish)
                c->cbs.on_unpublish(c->opaque, c);
        }
        return 0;
    }
    /* FCPublish, getStreamLength, _checkbw, ...: nothing to answer. */
    return 0;
}

/* Splits an aggregate message into its FLV tags, without copying. */
static int on_aggregate(rtmp_conn_t *c, rtmp_msg_t *m)
{
    const uint8_t *p = m->buf->data;
    uint32_t off = 0;
    bool first = true;
    uint32_t base = 0;
    while (off < m->length) {
        flv_file_tag_t t;
        long n = flv_file_tag(p + off, m->length - off, &t);
        if (n <= 0)
            return RTMP_CONN_EAMF;
        if (first) {
            base = t.timestamp;
            first = false;
        }
        if (t.type == RTMP_MSG_AUDIO || t.type == RTMP_MSG_VIDEO) {
            int rc = c->cbs.on_media(c->opaque, c, t.type,
                                     m->timestamp + (t.timestamp - base),
                                     m->buf, off + 11, t.size);
            if (rc < 0)
                return rc;
        }
        off += (uint32_t)n;
    }
    return 0;
}

static int on_message(void *opaque, rtmp_msg_t *m)
{
    rtmp_conn_t *c = opaque;
    const uint8_t *p = m->buf->data;
    int rc = 0;
    switch (m->type) {
    case RTMP_MSG_WINDOW_ACK_SIZE:
        if (m->length >= 4)
            c->peer_window = rd32(p);
        break;
    case RTMP_MSG_USER_CONTROL:
        if (m->length >= 6 && p[0] == 0 && p[1] == 6) /* PingRequest */
            rc = send_user_control(c, 7, rd32(p + 2));
        break;
    case RTMP_MSG_COMMAND_AMF3:
        if (m->length >= 1)
            rc = on_command(c, p + 1, m->length - 1, m->stream_id);
        break;
    case RTMP_MSG_COMMAND_AMF0:
        rc = on_command(c, p, m->length, m->stream_id);
        break;
    case RTMP_MSG_DATA_AMF0:
        rc = on_data(c, p, m->length);
        break;
    case RTMP_MSG_AUDIO:
    case RTMP_MSG_VIDEO:
        if (c->state == RTMP_CONN_PUBLISHING)
            rc = c->cbs.on_media(c->opaque, c, m->type, m->timestamp, m->buf, 0,
                                 m->length);
        break;
    case RTMP_MSG_AGGREGATE:
        if (c->state == RTMP_CONN_PUBLISHING)
            rc = on_aggregate(c, m);
        break;
    default:
        break; /* Ack, Set Peer Bandwidth, AMF3 data: nothing to do */
    }
    pktbuf_unref(m->buf);
    return rc;
}

static int handshake(rtmp_conn_t *c, const uint8_t **pp, size_t *lenp)
{
    size_t want = c->state == RTMP_CONN_HS_C0C1 ? RTMP_HANDSHAKE_SIZE + 1
                                                : RTMP_HANDSHAKE_SIZE;
    size_t n = want - c->hs_len < *lenp ? want - c->hs_len : *lenp;
    memcpy(c->hs + c->hs_len, *pp, n);
    c->hs_len += (uint32_t)n;
    *pp += n;
    *lenp -= n;
    if (c->hs_len < want)
        return 0;
    c->hs_len = 0;
    if (c->state == RTMP_CONN_HS_C2) {
        c->state = RTMP_CONN_COMMANDS;
        return 0;
    }
    if (c->hs[0] != 3)
        return RTMP_CONN_EHANDSHAKE;
    uint8_t *o = out_reserve(c, 1 + 2 * RTMP_HANDSHAKE_SIZE);
    if (!o)
        return RTMP_CONN_EOUTPUT;
    uint64_t seed =
        (uint64_t)(uintptr_t)c ^ ((uint64_t)c->hs[9] << 32) ^ c->hs[100];
    int kind = rtmp_handshake_respond(c->hs + 1, o, 0, seed);
    if (kind < 0)
        return kind;
    c->hs_kind = kind;
    c->out_len += 1 + 2 * RTMP_HANDSHAKE_SIZE;
    c->state = RTMP_CONN_HS_C2;
    return 0;
}

int rtmp_conn_input(rtmp_conn_t *c, const uint8_t *data, size_t len)
{
    while (len > 0 &&
           (c->state == RTMP_CONN_HS_C0C1 || c->state == RTMP_CONN_HS_C2)) {
        int rc = handshake(c, &data, &len);
        if (rc < 0)
            return rc;
    }
    if (c->state == RTMP_CONN_CLOSING)
        return RTMP_CONN_ECLOSED;
    if (len == 0)
        return 0;
    int rc = rtmp_chunk_feed(&c->rd, data, len);
    if (rc < 0)
        return rc;
    if (c->peer_window && c->rd.bytes_in - c->last_ack >= c->peer_window) {
        c->last_ack = c->rd.bytes_in;
        rc = send_u32(c, RTMP_MSG_ACK, (uint32_t)c->rd.bytes_in);
    }
    return rc;
}

size_t rtmp_conn_pending(rtmp_conn_t *c, const uint8_t **data)
{
    *data = c->out + c->out_off;
    return c->out_len;
}

void rtmp_conn_consumed(rtmp_conn_t *c, size_t n)
{
    if (n > c->out_len)
        n = c->out_len;
    c->out_off += n;
    c->out_len -= n;
    if (c->out_len == 0)
        c->out_off = 0;
}

rtmp_conn_state_t rtmp_conn_state(const rtmp_conn_t *c)
{
    return c->state;
}

const rtmp_meta_t *rtmp_conn_meta(const rtmp_conn_t *c)
{
    return &c->meta;
}

const char *rtmp_conn_key(const rtmp_conn_t *c)
{
    return c->key;
}

int rtmp_conn_handshake_kind(const rtmp_conn_t *c)
{
    return c->hs_kind;
}

uint64_t rtmp_conn_bytes_in(const rtmp_conn_t *c)
{
    return c->rd.bytes_in;
}

void rtmp_conn_set_user(rtmp_conn_t *c, void *user)
{
    c->user = user;
}

void *rtmp_conn_user(const rtmp_conn_t *c)
{
    return c->user;
}

const char *rtmp_conn_strerror(int rc)
{
    switch (rc) {
    case RTMP_CONN_EHANDSHAKE:
        return "bad handshake version";
    case RTMP_CONN_EOUTPUT:
        return "output buffer full";
    case RTMP_CONN_ELIMIT:
        return "too many streams on one connection";
    case RTMP_CONN_EAMF:
        return "malformed AMF command";
    case RTMP_CONN_ECLOSED:
        return "data after a refused publish";
    case RTMP_CHUNK_EMSGSIZE:
        return "message too large";
    case RTMP_CHUNK_ESTREAMS:
        return "too many chunk streams";
    case RTMP_CHUNK_ECHUNKSIZE:
        return "bad chunk size";
    case RTMP_CHUNK_EPROTO:
        return "chunk header out of sequence";
    case RTMP_CHUNK_ENOMEM:
        return "out of memory";
    case FLV_EINVAL:
        return "malformed audio/video tag";
    default:
        return "protocol error";
    }
}
