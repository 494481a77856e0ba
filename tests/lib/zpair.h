/* A ZeroMQ ROUTER and a DEALER connected to it, for tests of what crosses
 * the wire between two peers. */
#ifndef PRISM_TEST_ZPAIR_H
#define PRISM_TEST_ZPAIR_H

#include "zsock.h"

typedef struct {
    void *router; /* the binding side (coordinator, ingest) */
    void *dealer; /* the connecting side (worker) */
} zpair_t;

/*
 * Binds p->router (router_opts) at endpoint ("inproc://NAME", or
 * "tcp://127.0.0.1:*" for a port picked by the system) and connects
 * p->dealer (dealer_opts; routing id dealer_id unless NULL) to where it is
 * bound. Returns 0, or -1 with what was made left for zpair_close.
 */
int zpair_open(zpair_t *p, const zsock_opts_t *router_opts,
               const zsock_opts_t *dealer_opts, const char *endpoint,
               const char *dealer_id);

/* Closes both sockets; NULL ones are skipped. */
void zpair_close(zpair_t *p);

#endif
