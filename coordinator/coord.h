/* The coordinator: its loop, leadership and timers over the layers below. */
#ifndef PRISM_COORD_H
#define PRISM_COORD_H

#include "coord_config.h"

typedef struct coord coord_t;

/*
 * Creates a coordinator from cfg (copied). Nothing is bound and no thread
 * started until coord_run. Returns NULL (logged) on a bad option or memory.
 */
coord_t *coord_new(const coord_config_t *cfg);

/*
 * Runs the loop on the calling thread until coord_stop: connects to
 * PostgreSQL, waits for the leader's advisory lock, reloads state, binds the
 * control socket, starts the HTTP API, then serves. Returns 0 after a stop,
 * or a negative code when it cannot go on (logged): keys unreadable, bind
 * failed, leadership lost to another coordinator (-EBUSY).
 */
int coord_run(coord_t *c);

/* Asks the loop to return; async-signal-safe. */
void coord_stop(coord_t *c);

/* Asks the loop to re-read the allowlist directory; async-signal-safe. */
void coord_reload(coord_t *c);

/* Frees everything (the loop must have returned); NULL-safe. */
void coord_free(coord_t **cp);

#endif
