/* RTMP chunk stream reassembly and chunk writing. */
#include "rtmp_chunk.h"

#include <errno.h>
#include <string.h>

static const uint8_t msghdr_size[4] = {11, 7, 3, 0};

static uint32_t rd24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t rd32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

void rtmp_chunk_reader_init(rtmp_chunk_reader_t *r, uint32_t max_chunk_size,
                            uint32_t max_message, rtmp_msg_cb cb, void *opaque)
{
    memset(r, 0, sizeof(*r));
    r->chunk_size = 128;
    r->max_chunk_size = max_chunk_size;
    r->max_message = max_message;
    r->cb = cb;
    r->opaque = opaque;
}

void rtmp_chunk_reader_reset(rtmp_chunk_reader_t *r)
{
    for (int i = 0; i < RTMP_CHUNK_STREAMS; i++)
        pktbuf_free(&r->cs[i].buf);
    r->cur = NULL;
    r->hdr_len = 0;
}

static rtmp_cs_t *find_cs(rtmp_chunk_reader_t *r, uint32_t csid, bool create)
{
    rtmp_cs_t *free_slot = NULL;
    for (int i = 0; i < RTMP_CHUNK_STREAMS; i++) {
        if (r->cs[i].used && r->cs[i].csid == csid)
            return &r->cs[i];
        if (!r->cs[i].used && !free_slot)
            free_slot = &r->cs[i];
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    free_slot->csid = csid;
    return free_slot;
}

/* Handles the messages that change the reader itself. */
static int control(rtmp_chunk_reader_t *r, const rtmp_msg_t *m)
{
    if (m->type == RTMP_MSG_SET_CHUNK_SIZE) {
        if (m->length < 4)
            return RTMP_CHUNK_EPROTO;
        uint32_t sz = rd32be(m->buf->data) & 0x7fffffff;
        if (sz < 1 || sz > r->max_chunk_size)
            return RTMP_CHUNK_ECHUNKSIZE;
        r->chunk_size = sz;
    } else if (m->type == RTMP_MSG_ABORT) {
        if (m->length < 4)
            return RTMP_CHUNK_EPROTO;
        rtmp_cs_t *cs = find_cs(r, rd32be(m->buf->data), false);
        if (cs) {
            pktbuf_free(&cs->buf);
            cs->got = 0;
        }
    }
    return 0;
}

static int deliver(rtmp_chunk_reader_t *r, rtmp_cs_t *cs)
{
    rtmp_msg_t m = {cs->csid,      cs->timestamp, cs->length,
                    cs->stream_id, cs->type,      cs->buf};
    cs->buf = NULL;
    cs->got = 0;
    if (m.type == RTMP_MSG_SET_CHUNK_SIZE || m.type == RTMP_MSG_ABORT) {
        int rc = control(r, &m);
        if (rc < 0) {
            pktbuf_unref(m.buf);
            return rc;
        }
    }
    return r->cb(r->opaque, &m);
}

/*
 * Tries to parse the header collected in r->hdr. Returns 1 when complete
 * (r->cur set up), 0 when more bytes are needed, or an error.
 */
static int parse_header(rtmp_chunk_reader_t *r)
{
    const uint8_t *h = r->hdr;
    uint32_t n = r->hdr_len;
    unsigned fmt = h[0] >> 6;
    uint32_t csid = h[0] & 0x3f;
    uint32_t bh = 1;
    if (csid == 0) {
        bh = 2;
        if (n < bh)
            return 0;
        csid = 64 + h[1];
    } else if (csid == 1) {
        bh = 3;
        if (n < bh)
            return 0;
        csid = 64 + h[1] + 256u * h[2];
    }
    uint32_t need = bh + msghdr_size[fmt];
    if (n < need)
        return 0;
    rtmp_cs_t *cs = find_cs(r, csid, true);
    if (!cs)
        return RTMP_CHUNK_ESTREAMS;
    const uint8_t *mh = h + bh;
    bool ext;
    uint32_t tsfield = 0;
    if (fmt < 3) {
        tsfield = rd24(mh);
        ext = tsfield == 0xffffff;
    } else {
        ext = cs->ext;
    }
    if (ext)
        need += 4;
    if (n < need)
        return 0;
    if (ext)
        tsfield = rd32be(h + bh + msghdr_size[fmt]);

    bool starting = cs->got == 0;
    if (fmt < 3 && !starting)
        return RTMP_CHUNK_EPROTO; /* new header in the middle of a message */
    if (fmt <= 1) {
        cs->length = rd24(mh + 3);
        cs->type = mh[6];
    }
    if (fmt == 0) {
        cs->stream_id = (uint32_t)mh[7] | (uint32_t)mh[8] << 8 |
                        (uint32_t)mh[9] << 16 | (uint32_t)mh[10] << 24;
        cs->timestamp = tsfield;
        cs->delta = 0;
    } else if (fmt < 3) {
        cs->delta = tsfield;
        cs->timestamp += tsfield;
    } else if (starting) {
        cs->timestamp += cs->delta;
    }
    if (fmt < 3)
        cs->ext = ext;
    if (cs->type == 0)
        return RTMP_CHUNK_EPROTO; /* no fmt 0/1 ever introduced it */

    if (starting) {
        if (cs->length > r->max_message)
            return RTMP_CHUNK_EMSGSIZE;
        cs->buf = pktbuf_new(cs->length);
        if (!cs->buf)
            return RTMP_CHUNK_ENOMEM;
    }
    uint32_t left = cs->length - cs->got;
    r->chunk_left = left < r->chunk_size ? left : r->chunk_size;
    r->cur = cs;
    r->hdr_len = 0;
    return 1;
}

int rtmp_chunk_feed(rtmp_chunk_reader_t *r, const uint8_t *p, size_t len)
{
    r->bytes_in += len;
    while (len > 0 || (r->cur && r->chunk_left == 0)) {
        if (r->cur) {
            rtmp_cs_t *cs = r->cur;
            size_t n = len < r->chunk_left ? len : r->chunk_left;
            memcpy(cs->buf->data + cs->got, p, n);
            cs->got += (uint32_t)n;
            r->chunk_left -= (uint32_t)n;
            p += n;
            len -= n;
            if (r->chunk_left == 0) {
                r->cur = NULL;
                if (cs->got == cs->length) {
                    int rc = deliver(r, cs);
                    if (rc < 0)
                        return rc;
                }
            }
            continue;
        }
        /* Collect header bytes one slice at a time; at most 18 needed. */
        while (len > 0 && r->hdr_len < sizeof(r->hdr)) {
            r->hdr[r->hdr_len++] = *p++;
            len--;
            int rc = parse_header(r);
            if (rc < 0)
                return rc;
            if (rc == 1)
                break;
        }
    }
    return 0;
}

static size_t basic_header(uint8_t *out, unsigned fmt, uint32_t csid)
{
    if (csid < 64) {
        out[0] = (uint8_t)(fmt << 6 | csid);
        return 1;
    }
    if (csid < 320) {
        out[0] = (uint8_t)(fmt << 6);
        out[1] = (uint8_t)(csid - 64);
        return 2;
    }
    out[0] = (uint8_t)(fmt << 6 | 1);
    out[1] = (uint8_t)((csid - 64) & 0xff);
    out[2] = (uint8_t)((csid - 64) >> 8);
    return 3;
}

size_t rtmp_chunk_size_needed(uint32_t chunk_size, uint32_t csid,
                              uint32_t timestamp, uint32_t len)
{
    size_t bh = csid < 64 ? 1 : csid < 320 ? 2 : 3;
    size_t ext = timestamp >= 0xffffff ? 4 : 0;
    size_t chunks = len ? (len + chunk_size - 1) / chunk_size : 1;
    return bh + 11 + ext + len + (chunks - 1) * (bh + ext);
}

long rtmp_chunk_write(uint8_t *out, size_t cap, uint32_t chunk_size,
                      uint32_t csid, uint32_t timestamp, uint8_t type,
                      uint32_t stream_id, const uint8_t *payload, uint32_t len)
{
    if (chunk_size == 0 ||
        rtmp_chunk_size_needed(chunk_size, csid, timestamp, len) > cap)
        return -ENOSPC;
    bool ext = timestamp >= 0xffffff;
    uint32_t ts = ext ? 0xffffff : timestamp;
    size_t o = basic_header(out, 0, csid);
    uint8_t *m = out + o;
    m[0] = (uint8_t)(ts >> 16);
    m[1] = (uint8_t)(ts >> 8);
    m[2] = (uint8_t)ts;
    m[3] = (uint8_t)(len >> 16);
    m[4] = (uint8_t)(len >> 8);
    m[5] = (uint8_t)len;
    m[6] = type;
    m[7] = (uint8_t)stream_id;
    m[8] = (uint8_t)(stream_id >> 8);
    m[9] = (uint8_t)(stream_id >> 16);
    m[10] = (uint8_t)(stream_id >> 24);
    o += 11;
    uint32_t sent = 0;
    for (;;) {
        if (ext) {
            out[o++] = (uint8_t)(timestamp >> 24);
            out[o++] = (uint8_t)(timestamp >> 16);
            out[o++] = (uint8_t)(timestamp >> 8);
            out[o++] = (uint8_t)timestamp;
        }
        uint32_t n = len - sent < chunk_size ? len - sent : chunk_size;
        if (n)
            memcpy(out + o, payload + sent, n);
        o += n;
        sent += n;
        if (sent >= len)
            break;
        o += basic_header(out + o, 3, csid);
    }
    return (long)o;
}
