/* Per-address connection counts and refused-key rate limiting. */
#include "addr_limit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char addr[64];
    uint32_t conns;
    uint32_t bad;
    int64_t window_start;
    bool used;
} entry_t;

struct addr_limit {
    pthread_mutex_t mu;
    entry_t *e;
    uint32_t cap;
    uint32_t max_conns, bad_limit;
    int64_t window_ms;
};

addr_limit_t *addr_limit_new(uint32_t max_addrs, uint32_t max_conns,
                             uint32_t bad_limit, int64_t bad_window_ms)
{
    addr_limit_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->e = calloc(max_addrs ? max_addrs : 1, sizeof(entry_t));
    if (!a->e) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->cap = max_addrs ? max_addrs : 1;
    a->max_conns = max_conns;
    a->bad_limit = bad_limit;
    a->window_ms = bad_window_ms;
    return a;
}

void addr_limit_free(addr_limit_t **ap)
{
    if (!ap || !*ap)
        return;
    pthread_mutex_destroy(&(*ap)->mu);
    free((*ap)->e);
    free(*ap);
    *ap = NULL;
}

static bool expired(const addr_limit_t *a, const entry_t *e, int64_t now)
{
    return e->bad == 0 || now - e->window_start >= a->window_ms;
}

/* The table key of addr: an IPv6 address's /64 network, an IPv4-mapped
 * address's IPv4 address, else addr itself. */
static void key_of(const char *addr, char *key, size_t len)
{
    struct in6_addr a6;
    if (inet_pton(AF_INET6, addr, &a6) != 1) {
        snprintf(key, len, "%s", addr);
        return;
    }
    char txt[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        inet_ntop(AF_INET, &a6.s6_addr[12], txt, sizeof(txt));
        snprintf(key, len, "%s", txt);
        return;
    }
    memset(&a6.s6_addr[8], 0, 8);
    inet_ntop(AF_INET6, &a6, txt, sizeof(txt));
    snprintf(key, len, "%s/64", txt);
}

/* Finds addr, or makes room for it when `create`. Called locked. */
static entry_t *lookup(addr_limit_t *a, const char *text, int64_t now,
                       bool create)
{
    char addr[sizeof(((entry_t *)0)->addr)];
    key_of(text, addr, sizeof(addr));
    entry_t *free_e = NULL;
    for (uint32_t i = 0; i < a->cap; i++) {
        entry_t *e = &a->e[i];
        if (e->used && strcmp(e->addr, addr) == 0)
            return e;
        if (!free_e && (!e->used || (e->conns == 0 && expired(a, e, now))))
            free_e = e;
    }
    if (!create || !free_e)
        return NULL;
    memset(free_e, 0, sizeof(*free_e));
    free_e->used = true;
    snprintf(free_e->addr, sizeof(free_e->addr), "%s", addr);
    return free_e;
}

int addr_limit_open(addr_limit_t *a, const char *addr, int64_t now)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    entry_t *e = lookup(a, addr, now, true);
    if (!e)
        rc = -ENOSPC;
    else if (a->max_conns && e->conns >= a->max_conns)
        rc = -EMFILE;
    else
        e->conns++;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void addr_limit_close(addr_limit_t *a, const char *addr)
{
    pthread_mutex_lock(&a->mu);
    entry_t *e = lookup(a, addr, 0, false);
    if (e && e->conns > 0)
        e->conns--;
    pthread_mutex_unlock(&a->mu);
}

int addr_limit_bad_key(addr_limit_t *a, const char *addr, int64_t now)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    entry_t *e = lookup(a, addr, now, true);
    if (!e) {
        rc = -ENOSPC;
    } else {
        if (expired(a, e, now)) {
            e->bad = 0;
            e->window_start = now;
        }
        e->bad++;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

bool addr_limit_blocked(addr_limit_t *a, const char *addr, int64_t now)
{
    pthread_mutex_lock(&a->mu);
    entry_t *e = lookup(a, addr, now, false);
    bool b = e && !expired(a, e, now) && e->bad >= a->bad_limit;
    pthread_mutex_unlock(&a->mu);
    return b;
}
