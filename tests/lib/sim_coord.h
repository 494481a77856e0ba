/* A simulated coordinator for the ingest tests: a ROUTER that answers
 * PublishRequests by the key and records what the ingest reports. */
#ifndef PRISM_TEST_SIM_COORD_H
#define PRISM_TEST_SIM_COORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"

/* How it answers a PublishRequest. */
typedef enum {
    SIM_COORD_SILENT, /* never (admission timeout tests) */
    SIM_COORD_ANSWER, /* at once: keys starting "good" accepted */
    SIM_COORD_SLOW,   /* as ANSWER, but "slowgood..." accepted and
                         "slowbad..." refused after SIM_COORD_SLOW_MS,
                         "hang..." never answered */
} sim_coord_mode_t;

/* The delay of SIM_COORD_SLOW's "slow..." answers. */
#define SIM_COORD_SLOW_MS 700
/* Answers SIM_COORD_SLOW holds back at once; later ones are dropped. */
#define SIM_COORD_MAX_LATER 16

typedef struct {
    char key[64];
    envelope_peer_t to;
    uint64_t id;
    int64_t due;
} sim_coord_later_t;

typedef struct {
    char endpoint[256]; /* where it listens: the ingest's coordinator */
    sim_coord_mode_t mode;
    atomic_bool stop;
    atomic_int hellos, requests, accepted, refused, stats, ends, heartbeats;
    bool nack_heartbeat; /* answer the first Heartbeat "not registered" */
    int lose_hellos;     /* the first N Hellos get no answer, as if lost;
                            later ones are accepted (RegisterAck) */
    /* Under mu: from the last Hello, IngestStats and StreamEnd. */
    pthread_mutex_t mu;
    char hello_endpoint[256];
    char last_client[128];
    double last_fps, last_kbps, last_gop_s;
    uint32_t last_width, last_height, last_vcodec, last_acodec;
    char last_end_reason[256]; /* the last StreamEnd's reason */
    /* The thread's own. */
    sim_coord_later_t later[SIM_COORD_MAX_LATER];
    int nlater;
    pthread_t thread;
    void *sock;
    pthread_barrier_t ready;
} sim_coord_t;

/* Binds on a loopback port (c->endpoint) and starts answering in `mode`.
 * Set c->nack_heartbeat after it if wanted. */
void sim_coord_start(sim_coord_t *c, sim_coord_mode_t mode);

/* Stops the thread and closes the socket. */
void sim_coord_stop(sim_coord_t *c);

#endif
