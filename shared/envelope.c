/* Prism message framing: one protobuf Envelope per ZeroMQ message. */
#include "envelope.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "zsock.h"

void envelope_drain(void *sock)
{
    int more = 1;
    size_t n = sizeof(more);

    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &n) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
        if (rc < 0)
            break;
        n = sizeof(more);
    }
}

const char *envelope_peer_str(const envelope_peer_t *p, char *buf, size_t size)
{
    size_t off = 0;

    buf[0] = '\0';
    if (!p)
        return buf;
    if (p->user_id[0] && off < size)
        off += (size_t)snprintf(buf + off, size - off, "user=%s ", p->user_id);
    if (p->address[0] && off < size)
        off += (size_t)snprintf(buf + off, size - off, "addr=%s ", p->address);
    if (p->rid_len && off < size) {
        off += (size_t)snprintf(buf + off, size - off, "rid=");
        for (size_t i = 0; i < p->rid_len && i < 32 && off + 3 < size; i++)
            off += (size_t)snprintf(buf + off, size - off, "%02x", p->rid[i]);
    }
    while (off > 0 && off <= size && buf[off - 1] == ' ')
        buf[--off] = '\0';
    if (!buf[0])
        snprintf(buf, size, "unknown");
    return buf;
}

const char *envelope_body_name(const Prism__Envelope *env)
{
    const ProtobufCFieldDescriptor *f;

    if (!env || env->body_case == PRISM__ENVELOPE__BODY__NOT_SET)
        return "none";
    f = protobuf_c_message_descriptor_get_field(&prism__envelope__descriptor,
                                                (unsigned)env->body_case);
    return f ? f->name : "unknown";
}

static int send_rc(const char *what)
{
    int rc = -errno;
    if (rc != -EAGAIN && rc != -EHOSTUNREACH)
        log_error("envelope", "Cannot send a message.",
                  "call=zmq_msg_send frame=%s err=\"%s\"", what,
                  zmq_strerror(errno));
    return rc;
}

int envelope_send(void *sock, const envelope_peer_t *to, const char *sender,
                  const Prism__Envelope *env, int flags)
{
    Prism__Envelope copy = *env;
    zmq_msg_t m;
    size_t len;
    int sflags = flags & (ZMQ_DONTWAIT | ZMQ_SNDMORE);

    copy.version_major = PRISM_PROTO_MAJOR;
    copy.version_minor = PRISM_PROTO_MINOR;
    if (sender)
        copy.sender = (char *)sender; /* packed, never freed or kept */
    len = protobuf_c_message_get_packed_size(&copy.base);
    if (len > ENVELOPE_MAX_BYTES) {
        log_error("envelope", "Refusing to send an oversized envelope.",
                  "body=%s bytes=%zu max=%d", envelope_body_name(env), len,
                  ENVELOPE_MAX_BYTES);
        return -EMSGSIZE;
    }
    if (to && to->rid_len) {
        if (to->rid_len > ENVELOPE_RID_MAX)
            return -EINVAL;
        if (zmq_send(sock, to->rid, to->rid_len,
                     ZMQ_SNDMORE | (sflags & ZMQ_DONTWAIT)) < 0)
            return send_rc("routing_id");
    }
    if (zmq_msg_init_size(&m, len) != 0)
        return send_rc("envelope");
    protobuf_c_message_pack(&copy.base, zmq_msg_data(&m));
    if (zmq_msg_send(&m, sock, sflags) < 0) {
        int rc = send_rc("envelope");
        zmq_msg_close(&m);
        return rc;
    }
    return 0;
}

/* Reads a base-128 varint; returns bytes used, 0 if malformed. */
static size_t varint(const uint8_t *p, size_t len, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            return i + 1;
    }
    return 0;
}

/*
 * Finds field 1 (version_major) without unpacking the rest, so a peer of
 * another major version is told apart from garbage even if the rest of its
 * envelope no longer parses. Returns 0 and *major (0 when absent), or
 * -EBADMSG when the top-level fields do not even scan.
 */
static int scan_major(const uint8_t *p, size_t len, uint64_t *major)
{
    size_t off = 0;

    *major = 0;
    while (off < len) {
        uint64_t key, v;
        size_t n = varint(p + off, len - off, &key);
        if (!n)
            return -EBADMSG;
        off += n;
        switch (key & 7) {
        case 0:
            n = varint(p + off, len - off, &v);
            if (!n)
                return -EBADMSG;
            if ((key >> 3) == 1)
                *major = v;
            off += n;
            break;
        case 1:
            off += 8;
            break;
        case 2:
            n = varint(p + off, len - off, &v);
            if (!n || v > len - off - n)
                return -EBADMSG;
            off += n + (size_t)v;
            break;
        case 5:
            off += 4;
            break;
        default:
            return -EBADMSG;
        }
    }
    return off == len ? 0 : -EBADMSG;
}

static void fill_meta(envelope_peer_t *from, zmq_msg_t *m)
{
    const char *v;

    if (!from)
        return;
    v = zmq_msg_gets(m, "User-Id");
    snprintf(from->user_id, sizeof(from->user_id), "%s", v ? v : "");
    v = zmq_msg_gets(m, "Peer-Address");
    snprintf(from->address, sizeof(from->address), "%s", v ? v : "");
}

int envelope_recv(void *sock, int flags, envelope_peer_t *from,
                  Prism__Envelope **out, bool *more)
{
    envelope_peer_t local;
    Prism__Envelope *env = NULL;
    zmq_msg_t m;
    uint64_t major;
    char who[512];
    int rc = 0, rflags = flags & ZMQ_DONTWAIT;

    *out = NULL;
    if (more)
        *more = false;
    if (!from)
        from = &local;
    memset(from, 0, sizeof(*from));
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, rflags) < 0) {
        rc = -errno;
        if (rc != -EAGAIN)
            log_error("envelope", "Cannot receive a message.",
                      "call=zmq_msg_recv err=\"%s\"", zmq_strerror(errno));
        zmq_msg_close(&m);
        return rc;
    }
    if (zsock_type(sock) == ZMQ_ROUTER) {
        size_t n = zmq_msg_size(&m);
        if (n > ENVELOPE_RID_MAX)
            n = ENVELOPE_RID_MAX;
        memcpy(from->rid, zmq_msg_data(&m), n);
        from->rid_len = n;
        fill_meta(from, &m);
        if (!zmq_msg_more(&m)) {
            log_warn("envelope", "Dropping a message without an envelope.",
                     "peer=\"%s\"", envelope_peer_str(from, who, sizeof(who)));
            zmq_msg_close(&m);
            return -EBADMSG;
        }
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        /* Later parts of a multipart message are already here. */
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            rc = -errno;
            log_error("envelope", "Cannot receive an envelope frame.",
                      "call=zmq_msg_recv err=\"%s\"", zmq_strerror(errno));
            zmq_msg_close(&m);
            return rc;
        }
    }
    fill_meta(from, &m);
    envelope_peer_str(from, who, sizeof(who));
    if (zmq_msg_size(&m) > ENVELOPE_MAX_BYTES) {
        log_warn("envelope", "Dropping an oversized envelope.",
                 "peer=\"%s\" bytes=%zu max=%d", who, zmq_msg_size(&m),
                 ENVELOPE_MAX_BYTES);
        rc = -EMSGSIZE;
        goto end;
    }
    if (scan_major(zmq_msg_data(&m), zmq_msg_size(&m), &major) != 0) {
        log_warn("envelope", "Dropping a malformed envelope.",
                 "peer=\"%s\" bytes=%zu err=\"top-level fields do not scan\"",
                 who, zmq_msg_size(&m));
        rc = -EBADMSG;
        goto end;
    }
    if (major != PRISM_PROTO_MAJOR) {
        log_warn(
            "envelope", "Refusing a message of another protocol major version.",
            "peer=\"%s\" their_major=%llu our_version=%d.%d", who,
            (unsigned long long)major, PRISM_PROTO_MAJOR, PRISM_PROTO_MINOR);
        rc = -EPROTO;
        goto end;
    }
    env = prism__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    if (!env) {
        log_warn("envelope", "Dropping a malformed envelope.",
                 "peer=\"%s\" bytes=%zu call=prism__envelope__unpack", who,
                 zmq_msg_size(&m));
        rc = -EBADMSG;
        goto end;
    }
end:
    if (rc == 0 && more && zmq_msg_more(&m))
        *more = true;
    else if (zmq_msg_more(&m))
        envelope_drain(sock);
    zmq_msg_close(&m);
    *out = env;
    return rc;
}

void envelope_free(Prism__Envelope **envp)
{
    if (!envp || !*envp)
        return;
    prism__envelope__free_unpacked(*envp, NULL);
    *envp = NULL;
}

Prism__Codec envelope_codec_to_proto(ladder_codec_t c)
{
    switch (c) {
    case LADDER_CODEC_HEVC:
        return PRISM__CODEC__CODEC_HEVC;
    case LADDER_CODEC_AV1:
        return PRISM__CODEC__CODEC_AV1;
    default:
        return PRISM__CODEC__CODEC_H264;
    }
}

int envelope_codec_from_proto(Prism__Codec c, ladder_codec_t *out)
{
    switch (c) {
    case PRISM__CODEC__CODEC_H264:
    case PRISM__CODEC__CODEC_UNSPECIFIED:
        *out = LADDER_CODEC_H264;
        return 0;
    case PRISM__CODEC__CODEC_HEVC:
        *out = LADDER_CODEC_HEVC;
        return 0;
    case PRISM__CODEC__CODEC_AV1:
        *out = LADDER_CODEC_AV1;
        return 0;
    default:
        return -EINVAL;
    }
}

static const char *const codec_names[] = {"",    "h264", "hevc", "av1",
                                          "aac", "opus", "mp3"};
#define NCODEC_NAMES (sizeof(codec_names) / sizeof(codec_names[0]))

const char *envelope_codec_name(Prism__Codec c)
{
    return (unsigned)c < NCODEC_NAMES ? codec_names[c] : "";
}

Prism__Codec envelope_codec_parse(const char *name)
{
    for (size_t i = 1; name && i < NCODEC_NAMES; i++)
        if (!strcmp(name, codec_names[i]))
            return (Prism__Codec)i;
    return PRISM__CODEC__CODEC_UNSPECIFIED;
}

/* Indexed by Prism__DeviceKind: UNSPECIFIED, CPU, NVENC, VAAPI, QSV. */
static const char *const device_kind_names[] = {"cpu", "cpu", "nvenc", "vaapi",
                                                "qsv"};
#define NDEVICE_KIND_NAMES                                                     \
    (sizeof(device_kind_names) / sizeof(device_kind_names[0]))

const char *envelope_device_kind_name(Prism__DeviceKind k)
{
    return (unsigned)k < NDEVICE_KIND_NAMES ? device_kind_names[k] : "cpu";
}

void envelope_source_to_ladder(const Prism__SourceInfo *in,
                               ladder_source_t *out)
{
    memset(out, 0, sizeof(*out));
    out->width = (int)in->width;
    out->height = (int)in->height;
    out->fps_num = (int)in->fps_num;
    out->fps_den = (int)in->fps_den;
    out->bitrate_kbps = (int)in->video_kbps;
}
