/* The platform's admission hook: a publish is allowed by asking the
 * platform's website over HTTP, off the coordinator's loop. */
#ifndef PRISM_PUBLISH_HOOK_H
#define PRISM_PUBLISH_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How this works. publish.c hands a publish's key, ingest, address and
 * protocol to publish_hook_ask; one of a few threads (each with its own
 * HTTP client) POSTs them as JSON to the configured URL, signed like the
 * webhooks when a secret is set, puts the finished request on a done list
 * and wakes the loop through an eventfd, which the loop polls
 * (publish_hook_fd) and drains with publish_hook_take. The answer:
 *
 *   2xx, JSON {"allow": true, "channel": NAME, "profile": P, "priority": N}
 *       allowed on channel NAME (made when new); profile and priority,
 *       when given, are set on the channel;
 *   2xx, JSON {"allow": false, "reason": R}, or 403 (with such a body or
 *       none): refused, with R as the reason the publisher's ingest gets;
 *   anything else (timeout, refused connection, another status, a body
 *   that is not such JSON): the hook is down, and the configured policy
 *   decides (refuse, or the channels table as without a hook).
 *
 * Allowed and refused answers are cached per key for cache_ms (on the
 * loop thread), so a publisher that reconnects does not ask again. The
 * queue of waiting requests is bounded: a request that finds it full is
 * answered at once as down. Threads: publish_hook_ask, _take and the
 * cache are the loop's; the threads only run requests.
 */

#define PUBLISH_HOOK_KEY_MAX 256
#define PUBLISH_HOOK_TEXT    160

typedef enum {
    PUBLISH_HOOK_ALLOW,
    PUBLISH_HOOK_REFUSE,
    PUBLISH_HOOK_DOWN,
} publish_hook_verdict_t;

typedef struct {
    const char *url;    /* "" = no hook */
    const char *secret; /* X-Prism-Signature key; "" = unsigned */
    int64_t timeout_ms;
    int64_t cache_ms;
    int threads;
    int queue_max;
} publish_hook_config_t;

/* One request: what is asked, what was answered. */
typedef struct {
    /* asked */
    char key[PUBLISH_HOOK_KEY_MAX];
    char ingest[64];
    char addr[64];
    char protocol[8];
    void *ud; /* the caller's, returned with the answer */
    /* answered */
    publish_hook_verdict_t verdict;
    char reason[PUBLISH_HOOK_TEXT]; /* REFUSE: the platform's words; DOWN:
                                       what went wrong */
    char channel[64];               /* ALLOW */
    char profile[64];               /* ALLOW: "" = unchanged */
    int priority;                   /* ALLOW: -1 = unchanged */
    bool cached;                    /* answered from the cache */
} publish_hook_req_t;

typedef struct publish_hook publish_hook_t;

/* Checks the options (URL scheme, limits). 0 or -EINVAL with ERR. */
int publish_hook_config_check(const publish_hook_config_t *cfg, char *err,
                              size_t errlen);

/* Starts the threads; NULL when cfg->url is empty, or on failure (logged;
 * *failed set). */
publish_hook_t *publish_hook_start(const publish_hook_config_t *cfg,
                                   bool *failed);

/* Stops the threads (a request in flight ends within timeout_ms) and
 * frees the requests still waiting; sets *hp to NULL; accepts NULL. */
void publish_hook_stop(publish_hook_t **hp);

/* The fd the loop polls (POLLIN) for finished requests. */
int publish_hook_fd(const publish_hook_t *h);

/*
 * Asks about R (taken: it comes back from publish_hook_take, or at once
 * here). Returns 0 when queued; 1 when the cache answered (R filled,
 * still the caller's); -EAGAIN when the queue is full (R filled as DOWN,
 * still the caller's).
 */
int publish_hook_ask(publish_hook_t *h, publish_hook_req_t *r);

/* A finished request, or NULL when none is waiting; the caller frees it.
 * Its answer is cached when it was ALLOW or REFUSE. */
publish_hook_req_t *publish_hook_take(publish_hook_t *h);

/* Counters for /metrics. */
typedef struct {
    uint64_t asked, allowed, refused, down, cached;
} publish_hook_stats_t;
void publish_hook_get_stats(const publish_hook_t *h, publish_hook_stats_t *out);

/* The /metrics lines of the hook (malloc'd text; for NULL, only the
 * family's HELP and TYPE). */
char *publish_hook_metrics(const publish_hook_t *h);

/* ------------------------------------------------ the parts (tested alone) */

/* Reads an answer: STATUS and BODY into r's verdict, reason, channel,
 * profile and priority. */
void publish_hook_parse(int status, const char *body, publish_hook_req_t *r);

#endif
