/* prism-origin's disk spill: the files memory evicted, one file per id in
 * one directory (the store keeps which path is which id). */
#ifndef PRISM_ORIGIN_SPILL_H
#define PRISM_ORIGIN_SPILL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "origin_store.h"

/*
 * Makes dir ready: created when missing (its parent must exist), and the
 * spill files an earlier run left removed (the store that knew them is
 * gone). Returns 0, or -errno with a message naming dir in err.
 */
int origin_spill_open(const char *dir, char *err, size_t errlen);

/* Writes b as file id of dir: 0, or -errno (nothing left behind). */
int origin_spill_write(const char *dir, uint64_t id, const origin_blob_t *b);

/*
 * Reads file id of dir, which must hold len bytes, into a new blob;
 * NULL with *err = -errno (-EIO when the size differs).
 */
origin_blob_t *origin_spill_read(const char *dir, uint64_t id, size_t len,
                                 int *err);

/* Removes file id of dir (gone already is fine). */
void origin_spill_remove(const char *dir, uint64_t id);

/*
 * Runs store s's disk jobs in dir (origin_store_spill_jobs) with mu, the
 * store's lock, held on entry and on return but not while writing: every
 * call that changes the store runs them before it answers, so they never
 * pile up. A write that fails is logged, and its file dropped.
 */
void origin_spill_run(origin_store_t *s, pthread_mutex_t *mu, const char *dir);

#endif
