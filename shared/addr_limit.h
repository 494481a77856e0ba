/* Per-address limits: open connections, and refused stream keys in a window.
 */
#ifndef PRISM_ADDR_LIMIT_H
#define PRISM_ADDR_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A bounded table of source addresses (text form). Each entry counts the
 * address's open connections and its refused stream keys in the current
 * window. An address with no connections and an expired window is evicted
 * when the table needs room; a full table refuses new addresses: the
 * caller counts that as a refused connection, or as a refused key it could
 * not record. Thread-safe: the ingest's SRT thread checks it too.
 *
 * Two binaries use it. The ingest counts connections and refused keys of
 * the clients it accepts. The coordinator counts the refused keys of every
 * publish the ingests forward (the client address they report), with
 * max_conns 0: it sees no connections, only publish requests.
 *
 * IPv6 addresses count per /64 network: one subscriber line, or one host,
 * usually holds a whole /64, so limits per single IPv6 address would give
 * such a client 2^64 tries and let it fill the table. The /64 stands where
 * one IPv4 address does. An IPv4-mapped IPv6 address ("::ffff:192.0.2.1")
 * is the IPv4 address. Other text (IPv4, a scoped address) is its own key.
 * The coordinator keys per /64 for the same reason. It is the one place
 * that sees a client's tries at every ingest, so without the rule a client
 * that spreads its tries over the ingests and over the addresses of its
 * /64 would pass both limits.
 */

typedef struct addr_limit addr_limit_t;

/*
 * Returns a table for at most max_addrs addresses (0 is taken as 1), or
 * NULL (out of memory). max_conns: connections per address, 0 for no limit
 * (addr_limit_open still counts them, so an address with open connections
 * keeps its entry); bad_limit: refused keys per address within
 * bad_window_ms after which publishes are refused until the window ends.
 */
addr_limit_t *addr_limit_new(uint32_t max_addrs, uint32_t max_conns,
                             uint32_t bad_limit, int64_t bad_window_ms);
void addr_limit_free(addr_limit_t **ap);

/*
 * Counts a new connection from addr. Returns 0, -EMFILE when max_conns is
 * not 0 and the address has max_conns already, or -ENOSPC when the table is
 * full.
 */
int addr_limit_open(addr_limit_t *a, const char *addr, int64_t now_ms);

/* Counts a connection from addr as closed. */
void addr_limit_close(addr_limit_t *a, const char *addr);

/*
 * Counts one refused stream key from addr. Returns 0, or -ENOSPC when the
 * table is full and addr has no entry: that key is not counted.
 */
int addr_limit_bad_key(addr_limit_t *a, const char *addr, int64_t now_ms);

/* True while addr has reached bad_limit refused keys in the window. */
bool addr_limit_blocked(addr_limit_t *a, const char *addr, int64_t now_ms);

#endif
