/* Prism message framing: one protobuf Envelope per ZeroMQ message. */
#ifndef PRISM_ENVELOPE_H
#define PRISM_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "ladder.h"
#include "prism.pb-c.h"

/* The protocol version this build speaks; see proto/prism.proto. */
#define PRISM_PROTO_MAJOR 1
#define PRISM_PROTO_MINOR 0

/* A control envelope bigger than this is refused both ways (-EMSGSIZE). */
#define ENVELOPE_MAX_BYTES (1024 * 1024)
/* ZeroMQ routing ids are 1..255 bytes. */
#define ENVELOPE_RID_MAX 255

/*
 * Wire layout of one Prism message:
 *   [routing id]   only on a ROUTER socket (added/removed by ZeroMQ peers)
 *   Envelope       protobuf, <= ENVELOPE_MAX_BYTES
 *   [extra frames] only where the body says so (MediaHeader: the payload)
 *
 * Return codes, shared by send and receive:
 *   0             done
 *   -EAGAIN       nothing to receive / cannot send now (ZMQ_DONTWAIT, or the
 *                 socket's timeout passed); try again later
 *   -EPROTO       (receive) the peer's version_major differs from ours; the
 *                 message was dropped after one log line naming the peer and
 *                 both versions. Keep receiving: the next message is fine.
 *   -EBADMSG      (receive) not a valid Envelope, or frames missing; logged
 *                 and dropped
 *   -EMSGSIZE     over ENVELOPE_MAX_BYTES; logged and dropped
 *   -EHOSTUNREACH (send, ROUTER_MANDATORY) no such peer connected
 *   other -errno  from libzmq (logged), e.g. -ETERM
 * After any receive error the whole multipart message has been consumed, so
 * the socket is ready for the next message.
 */

/* Who a received message came from; also the address to reply to. */
typedef struct {
    unsigned char rid[ENVELOPE_RID_MAX]; /* ROUTER routing id */
    size_t rid_len;                      /* 0 on non-ROUTER sockets */
    char user_id[128]; /* ZAP user id (allowlist key name), "" if none */
    char address[64];  /* peer IP address, "" for inproc/ipc */
} envelope_peer_t;

/*
 * Sends env as one frame, preceded by to->rid when to is given and has a
 * routing id (needed on a ROUTER socket). env is borrowed and left as it
 * was: the frame carries PRISM_PROTO_MAJOR/MINOR and `sender` (borrowed;
 * NULL keeps env->sender) in place of env's own version and sender fields.
 * flags: ZMQ_DONTWAIT (return -EAGAIN instead of waiting up to the socket's
 * send timeout) and ZMQ_SNDMORE (the caller sends more frames right after,
 * as media_frame does). The envelope is serialized directly into the
 * ZeroMQ message (one copy). Threads: the socket's owning thread.
 */
int envelope_send(void *sock, const envelope_peer_t *to, const char *sender,
                  const Prism__Envelope *env, int flags);

/*
 * Receives one message. On 0, *out is a new Envelope (free it with
 * envelope_free) whose version_major equals ours, and `from` (may be NULL)
 * says who sent it. When `more` is given, it tells whether frames follow
 * (the caller then receives them with zmq_msg_recv); when `more` is NULL,
 * frames after the envelope are read and discarded. On error *out is NULL,
 * `from` is filled as far as known, and the message is consumed (see the
 * codes above). flags: ZMQ_DONTWAIT or 0 (then the socket's receive
 * timeout bounds the wait). Threads: the socket's owning thread.
 */
int envelope_recv(void *sock, int flags, envelope_peer_t *from,
                  Prism__Envelope **out, bool *more);

/* Frees an envelope from envelope_recv and sets *envp = NULL; NULL-safe. */
void envelope_free(Prism__Envelope **envp);

/* Name of the body ("load_report", ...), "none" or "unknown"; static. */
const char *envelope_body_name(const Prism__Envelope *env);

/*
 * Writes a printable name of the peer for logs: "user=NAME addr=IP rid=HEX"
 * parts that are known. Returns buf.
 */
const char *envelope_peer_str(const envelope_peer_t *p, char *buf, size_t size);

/* Reads and discards the remaining frames of a multipart message. */
void envelope_drain(void *sock);

/* A ladder codec as the wire names it (Assign, Register). */
Prism__Codec envelope_codec_to_proto(ladder_codec_t c);

/* The ladder codec of a wire codec (UNSPECIFIED means H.264); -EINVAL for
 * one the ladder does not know. */
int envelope_codec_from_proto(Prism__Codec c, ladder_codec_t *out);

/* A wire codec's name as the database keeps it ("h264", "aac", ...); "" for
 * UNSPECIFIED or a value out of range. Static. */
const char *envelope_codec_name(Prism__Codec c);

/* The wire codec named by envelope_codec_name; UNSPECIFIED for NULL or a
 * name it does not know. */
Prism__Codec envelope_codec_parse(const char *name);

/* A device kind as the coordinator's placement names it ("cpu", "nvenc",
 * "vaapi", "qsv"); UNSPECIFIED and unknown kinds are "cpu". Static. */
const char *envelope_device_kind_name(Prism__DeviceKind k);

/* The ladder's view of a source (size, rate, bitrate) from its wire form;
 * the rest of out is zeroed. */
void envelope_source_to_ladder(const Prism__SourceInfo *in,
                               ladder_source_t *out);

#endif
