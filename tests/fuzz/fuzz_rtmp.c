/* Fuzz target: a whole RTMP publisher session (handshake, chunk stream,
 * AMF0 commands, FLV tags) fed to rtmp_conn in pieces. */
#include <stddef.h>
#include <stdint.h>

#include "flv_tag.h"
#include "rtmp_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_publish(void *opaque, rtmp_conn_t *c, const char *app,
                      const char *key)
{
    (void)opaque;
    (void)app;
    /* Accept every other key so both answers are exercised. */
    rtmp_conn_publish_result(c, key[0] != 'x', "refused");
    return 0;
}

static int on_media(void *opaque, rtmp_conn_t *c, uint8_t type, uint32_t ts,
                    pktbuf_t *buf, uint32_t off, uint32_t len)
{
    (void)opaque;
    (void)c;
    (void)ts;
    flv_pkt_t p;
    int rc = type == 9 ? flv_parse_video(buf->data + off, len, &p)
                       : flv_parse_audio(buf->data + off, len, &p);
    if (rc == 0 && p.config && p.codec == FLV_CODEC_AAC) {
        uint32_t sr, ch;
        flv_aac_asc_info(buf->data + off + p.offset, p.size, &sr, &ch);
    }
    if (rc == 0 && (uint64_t)p.offset + p.size > len)
        __builtin_trap(); /* the parser described bytes outside the body */
    return rc == FLV_EINVAL ? rc : 0;
}

static const rtmp_conn_cbs_t cbs = {on_publish, on_media, NULL, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtmp_limits_t lim = {65536, 1 << 20, 8, 4};
    rtmp_conn_t *c = rtmp_conn_new(&lim, &cbs, NULL);
    if (!c)
        return 0;
    /* Feed in slices whose sizes come from the data itself, so the
     * reassembly across reads is exercised too. */
    size_t off = 0;
    while (off < size) {
        size_t n = 1 + (data[off] % 97) * 37;
        if (n > size - off)
            n = size - off;
        if (rtmp_conn_input(c, data + off, n) < 0)
            break;
        const uint8_t *out;
        size_t pending = rtmp_conn_pending(c, &out);
        rtmp_conn_consumed(c, pending);
        off += n;
    }
    rtmp_conn_free(&c);
    return 0;
}
