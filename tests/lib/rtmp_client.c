/* An RTMP publisher for the ingest tests and its command helpers. */
#include "rtmp_client.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "amf0.h"
#include "clock.h"
#include "fixture.h"
#include "rtmp_handshake.h"

/* The reader's bounds: one message, all messages in flight. */
#define READ_MSG_MAX   (1 << 20)
#define READ_TOTAL_MAX (1 << 20)
/* RTMP's chunk size until Set Chunk Size. */
#define DEFAULT_CHUNK 128
#define HANDSHAKE_MS  3000
#define PUBLISH_MS    5000
/* The client's epoch in C1. */
#define C1_TIME 12345

size_t rtmp_client_encode_command(uint8_t *b, size_t cap, const char *name,
                                  double tid, const char *arg,
                                  const char *flash_ver, const char *tc_url)
{
    amf0_writer_t w;
    amf0_w_init(&w, b, cap);
    amf0_w_string(&w, name);
    amf0_w_number(&w, tid);
    if (strcmp(name, "connect") == 0) {
        amf0_w_object_start(&w);
        amf0_w_key(&w, "app");
        amf0_w_string(&w, "live");
        amf0_w_key(&w, "flashVer");
        amf0_w_string(&w, flash_ver);
        if (tc_url) {
            amf0_w_key(&w, "tcUrl");
            amf0_w_string(&w, tc_url);
        }
        amf0_w_object_end(&w);
    } else {
        amf0_w_null(&w);
        if (arg)
            amf0_w_string(&w, arg);
    }
    return w.len;
}

bool rtmp_client_decode_reply(const rtmp_msg_t *m, rtmp_client_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    if (m->type != RTMP_MSG_COMMAND_AMF0)
        return false;
    amf0_node_t nodes[64];
    amf0_doc_t d = {nodes, 64, 0, 0, 0};
    if (amf0_decode(&d, m->buf->data, m->length) != 0)
        return false;
    int name = amf0_top(&d, 0);
    out->result = amf0_str_eq(&d, name, "_result");
    if (amf0_str_eq(&d, name, "onStatus")) {
        int obj = amf0_top(&d, 3);
        out->status = true;
        out->has_code = amf0_copy_str(&d, amf0_get(&d, obj, "code"), out->code,
                                      sizeof(out->code)) == 0;
        out->has_desc = amf0_copy_str(&d, amf0_get(&d, obj, "description"),
                                      out->desc, sizeof(out->desc)) == 0;
    }
    return true;
}

static int on_msg(void *opaque, rtmp_msg_t *m)
{
    rtmp_client_t *c = opaque;
    rtmp_client_reply_t r;
    if (rtmp_client_decode_reply(m, &r)) {
        if (r.result)
            c->results++;
        if (r.has_code)
            memcpy(c->status, r.code, sizeof(c->status));
        if (r.has_desc)
            memcpy(c->desc, r.desc, sizeof(c->desc));
    }
    pktbuf_unref(m->buf);
    return 0;
}

int rtmp_client_open(rtmp_client_t *c, int port, int digest)
{
    memset(c, 0, sizeof(*c));
    c->out_chunk = DEFAULT_CHUNK;
    rtmp_chunk_reader_init(&c->rd, READ_MSG_MAX, READ_TOTAL_MAX, on_msg, c);
    c->fd = fixture_connect(port, false);
    if (c->fd < 0)
        return -1;
    uint8_t c0c1[1 + RTMP_HANDSHAKE_SIZE], s[1 + 2 * RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_client_c0c1(c0c1, digest, C1_TIME);
    if (fixture_write_all(c->fd, c0c1, sizeof(c0c1)) < 0 ||
        fixture_read_exact(c->fd, s, sizeof(s), HANDSHAKE_MS) < 0)
        return -1;
    if (s[0] != 3 || rtmp_handshake_client_verify_s1(s + 1, digest) < 0)
        return -1;
    return fixture_write_all(c->fd, s + 1, RTMP_HANDSHAKE_SIZE);
}

void rtmp_client_close(rtmp_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    rtmp_chunk_reader_reset(&c->rd);
}

int rtmp_client_send(rtmp_client_t *c, uint32_t csid, uint8_t type,
                     uint32_t msid, uint32_t ts, const uint8_t *p, uint32_t len)
{
    size_t need = rtmp_chunk_size_needed(c->out_chunk, csid, ts, len);
    uint8_t *buf = malloc(need);
    long n =
        rtmp_chunk_write(buf, need, c->out_chunk, csid, ts, type, msid, p, len);
    int rc = n < 0 ? -1 : fixture_write_all(c->fd, buf, (size_t)n);
    free(buf);
    return rc;
}

int rtmp_client_pump(rtmp_client_t *c, int timeout_ms,
                     bool (*cond)(rtmp_client_t *))
{
    int64_t end = clock_mono_ms() + timeout_ms;
    uint8_t buf[8192];
    while (!cond(c)) {
        int left = (int)(end - clock_mono_ms());
        if (left <= 0)
            return -1;
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0)
            return -1;
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r <= 0)
            return -1;
        if (rtmp_chunk_feed(&c->rd, buf, (size_t)r) < 0)
            return -1;
    }
    return 0;
}

bool rtmp_client_has_status(rtmp_client_t *c)
{
    return c->status[0] != 0;
}

int rtmp_client_command(rtmp_client_t *c, const char *name, double tid,
                        const char *arg, uint32_t msid)
{
    uint8_t b[512];
    size_t len = rtmp_client_encode_command(b, sizeof(b), name, tid, arg,
                                            "prism-test/1.0", NULL);
    return rtmp_client_send(c, 3, RTMP_MSG_COMMAND_AMF0, msid, 0, b,
                            (uint32_t)len);
}

int rtmp_client_publish(rtmp_client_t *c, const char *key)
{
    if (rtmp_client_command(c, "connect", 1, NULL, 0) < 0 ||
        rtmp_client_command(c, "createStream", 2, NULL, 0) < 0 ||
        rtmp_client_command(c, "publish", 3, key, 1) < 0)
        return -1;
    return rtmp_client_pump(c, PUBLISH_MS, rtmp_client_has_status);
}
