/* A simulated worker for the ingest tests and bench: a DEALER that
 * subscribes to a stream, records the packets and gives credit. */
#ifndef PRISM_TEST_SIM_SUB_H
#define PRISM_TEST_SIM_SUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fixture.h"

/* Packets recorded per track; later ones are counted out. */
#define SIM_SUB_MAX_PKTS 4096

typedef struct {
    char endpoint[256];
    char stream_id[128];
    char token[128];
    uint64_t credit; /* initial credit */
    uint64_t refill; /* Credit sent after each packet (0: none) */
    atomic_bool stop;
    atomic_bool accepted;
    atomic_int refusals;
    char reason[128];
    /* tracks from the last SubscribeReply */
    uint32_t ntracks;
    uint32_t codec[4], kind[4], sr[4], ch[4], w[4], h[4], tbn[4], tbd[4];
    uint32_t xlen[4];
    uint8_t x0[4];
    /* packets, per track 0 and 1; npkts is published after the packet */
    fixture_pkt_t pkts[2][SIM_SUB_MAX_PKTS];
    int npkts[2];
    uint64_t last_seq;
    bool seq_in_order;
    uint64_t max_dropped;
    int64_t first_pkt_ms;
    pthread_t thread;
} sim_sub_t;

/* Starts a thread that subscribes to stream_id with token and `credit`
 * bytes at endpoint (every 20 ms until accepted) and records what comes.
 * Set u->refill after it if wanted. */
void sim_sub_start(sim_sub_t *u, const char *endpoint, const char *stream_id,
                   const char *token, uint64_t credit);

/* Stops the thread and closes its socket. */
void sim_sub_stop(sim_sub_t *u);

/* Sends a Subscribe (as `sender`) on a worker's DEALER sock; flags as
 * envelope_send's (ZMQ_DONTWAIT or 0). Returns envelope_send's code. */
int sim_sub_send_subscribe(void *sock, int flags, const char *sender,
                           const char *stream_id, const char *token,
                           uint64_t credit);

/* Sends a Credit of `bytes` for stream_id, as sim_sub_send_subscribe. */
int sim_sub_send_credit(void *sock, int flags, const char *sender,
                        const char *stream_id, uint64_t bytes);

#endif
