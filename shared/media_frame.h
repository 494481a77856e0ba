/* Media packets on ZeroMQ: an Envelope(MediaHeader) frame, then the bytes. */
#ifndef PRISM_MEDIA_FRAME_H
#define PRISM_MEDIA_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#include "envelope.h"
#include "prism.pb-c.h"

/* Largest payload sent or accepted; bigger packets are refused. */
#define MEDIA_FRAME_MAX_PAYLOAD (16 * 1024 * 1024)

/*
 * A media packet is a two-frame message (after the routing id on a ROUTER):
 * an Envelope whose body is the MediaHeader (tens of bytes), then the raw
 * packet bytes. The payload never passes through protobuf. Return codes are
 * those of shared/envelope.h; -EMSGSIZE also for a payload over
 * MEDIA_FRAME_MAX_PAYLOAD. Threads: the socket's owning thread.
 */

/*
 * Sends hdr and a payload the caller keeps (borrowed): ZeroMQ copies the
 * bytes once into its own message, so `data` may be reused as soon as
 * this returns. Good for small packets (audio).
 */
int media_frame_send_copy(void *sock, const envelope_peer_t *to,
                          const char *sender, const Prism__MediaHeader *hdr,
                          const void *data, size_t len, int flags);

/*
 * Sends hdr and a payload whose ownership is TAKEN in every case: the bytes
 * are not copied (zmq_msg_init_data) and free_fn(data, hint) is called
 * exactly once when ZeroMQ is done with them; possibly from a ZeroMQ I/O
 * thread, or, over inproc, when the receiver closes its message. Also on
 * failure (then before this returns). Do not touch `data` after the call.
 * Good for video packets (e.g. an AVPacket's buffer with av_buffer_unref
 * in free_fn).
 */
int media_frame_send_owned(void *sock, const envelope_peer_t *to,
                           const char *sender, const Prism__MediaHeader *hdr,
                           void *data, size_t len, zmq_free_fn *free_fn,
                           void *hint, int flags);

/*
 * Receives one message of any body on a media socket. On 0: *out is the
 * envelope (free with envelope_free) and `payload` (an uninitialised
 * zmq_msg_t provided by the caller) is initialised; for a MediaHeader body
 * it holds the packet bytes without a copy (zmq_msg_data/zmq_msg_size),
 * for other bodies it is empty. The caller always closes it with
 * zmq_msg_close on success; on error it is left closed. A MediaHeader
 * without a payload frame is -EBADMSG; a payload over
 * MEDIA_FRAME_MAX_PAYLOAD is -EMSGSIZE (both logged, message consumed).
 */
int media_frame_recv(void *sock, int flags, envelope_peer_t *from,
                     Prism__Envelope **out, zmq_msg_t *payload);

#endif
