/* Media packets on ZeroMQ: an Envelope(MediaHeader) frame, then the bytes. */
#include "media_frame.h"

#include <errno.h>
#include <string.h>

#include "log.h"

static int send_header(void *sock, const envelope_peer_t *to,
                       const char *sender, const Prism__MediaHeader *hdr,
                       int flags)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;

    env.body_case = PRISM__ENVELOPE__BODY_MEDIA_HEADER;
    env.media_header = (Prism__MediaHeader *)hdr; /* packed, not kept */
    return envelope_send(sock, to, sender, &env,
                         (flags & ZMQ_DONTWAIT) | ZMQ_SNDMORE);
}

static int payload_too_big(const Prism__MediaHeader *hdr, size_t len)
{
    log_error("media_frame", "Refusing to send an oversized media packet.",
              "stream=%s bytes=%zu max=%d",
              hdr->stream_id ? hdr->stream_id : "", len,
              MEDIA_FRAME_MAX_PAYLOAD);
    return -EMSGSIZE;
}

/*
 * Once the header frame is queued, the payload frame of the same message
 * goes through: ZeroMQ checks the high-water mark on the first frame only.
 */
static int send_payload_rc(const Prism__MediaHeader *hdr)
{
    int rc = -errno;
    log_error("media_frame", "Cannot send a media payload.",
              "call=zmq_msg_send stream=%s err=\"%s\"",
              hdr->stream_id ? hdr->stream_id : "", zmq_strerror(errno));
    return rc;
}

int media_frame_send_copy(void *sock, const envelope_peer_t *to,
                          const char *sender, const Prism__MediaHeader *hdr,
                          const void *data, size_t len, int flags)
{
    int rc;

    if (len > MEDIA_FRAME_MAX_PAYLOAD)
        return payload_too_big(hdr, len);
    rc = send_header(sock, to, sender, hdr, flags);
    if (rc)
        return rc;
    if (zmq_send(sock, data, len, ZMQ_DONTWAIT) < 0)
        return send_payload_rc(hdr);
    return 0;
}

int media_frame_send_owned(void *sock, const envelope_peer_t *to,
                           const char *sender, const Prism__MediaHeader *hdr,
                           void *data, size_t len, zmq_free_fn *free_fn,
                           void *hint, int flags)
{
    zmq_msg_t m;
    int rc;

    if (len > MEDIA_FRAME_MAX_PAYLOAD) {
        rc = payload_too_big(hdr, len);
        free_fn(data, hint);
        return rc;
    }
    if (zmq_msg_init_data(&m, data, len, free_fn, hint) != 0) {
        rc = -errno;
        log_error("media_frame", "Cannot wrap a media payload.",
                  "call=zmq_msg_init_data err=\"%s\"", zmq_strerror(errno));
        free_fn(data, hint);
        return rc;
    }
    rc = send_header(sock, to, sender, hdr, flags);
    if (rc) {
        zmq_msg_close(&m); /* calls free_fn */
        return rc;
    }
    if (zmq_msg_send(&m, sock, ZMQ_DONTWAIT) < 0) {
        rc = send_payload_rc(hdr);
        zmq_msg_close(&m);
        return rc;
    }
    return 0;
}

int media_frame_recv(void *sock, int flags, envelope_peer_t *from,
                     Prism__Envelope **out, zmq_msg_t *payload)
{
    Prism__Envelope *env = NULL;
    envelope_peer_t local;
    bool more = false;
    char who[512];
    int rc;

    *out = NULL;
    if (!from)
        from = &local;
    rc = envelope_recv(sock, flags, from, &env, &more);
    if (rc)
        return rc;
    zmq_msg_init(payload);
    if (env->body_case != PRISM__ENVELOPE__BODY_MEDIA_HEADER) {
        if (more)
            envelope_drain(sock);
        *out = env;
        return 0;
    }
    if (!more) {
        log_warn("media_frame", "Dropping a media header without payload.",
                 "peer=\"%s\" stream=%s",
                 envelope_peer_str(from, who, sizeof(who)),
                 env->media_header->stream_id);
        rc = -EBADMSG;
        goto err;
    }
    if (zmq_msg_recv(payload, sock, ZMQ_DONTWAIT) < 0) {
        rc = -errno;
        log_error("media_frame", "Cannot receive a media payload.",
                  "call=zmq_msg_recv err=\"%s\"", zmq_strerror(errno));
        goto err;
    }
    if (zmq_msg_size(payload) > MEDIA_FRAME_MAX_PAYLOAD) {
        log_warn("media_frame", "Dropping an oversized media packet.",
                 "peer=\"%s\" stream=%s bytes=%zu max=%d",
                 envelope_peer_str(from, who, sizeof(who)),
                 env->media_header->stream_id, zmq_msg_size(payload),
                 MEDIA_FRAME_MAX_PAYLOAD);
        rc = -EMSGSIZE;
        goto err;
    }
    if (zmq_msg_more(payload)) {
        log_warn("media_frame", "Dropping extra frames after a payload.",
                 "peer=\"%s\" stream=%s",
                 envelope_peer_str(from, who, sizeof(who)),
                 env->media_header->stream_id);
        envelope_drain(sock);
    }
    *out = env;
    return 0;
err:
    envelope_drain(sock);
    zmq_msg_close(payload);
    envelope_free(&env);
    return rc;
}
