/* Webhooks: the farm's stream events POSTed to the platform, signed, at
 * least once and in order, from the events table in PostgreSQL. */
#ifndef PRISM_WEBHOOK_H
#define PRISM_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * How this works. The events table is the outbox: every event the
 * coordinator writes (through store's bounded, replayed write queue) has a
 * bigserial id. Each configured URL is one hook with a cursor row in
 * webhook_cursors (the id of the last event it acknowledged with a 2xx).
 * One thread per hook, with its own blocking PostgreSQL connection and
 * HTTP client, holds an advisory lock for the hook (so one coordinator
 * delivers it, whichever), reads the next events after the cursor whose
 * kind maps to a public event it was configured for, POSTs them one at a
 * time in id order, and moves the cursor after each 2xx. Any other answer,
 * a timeout or a refused connection is retried with doubling backoff
 * (retry_min_ms to retry_max_ms); the event is never skipped, so delivery
 * is in order and at least once (a receiver dedupes on X-Prism-Delivery).
 * A coordinator restart or a standby's take-over resumes at the cursor.
 * Nothing here runs on the coordinator's loop: the loop only reads the
 * counters (webhooks_json, webhooks_metrics).
 *
 * A hook created for a new URL starts at the newest event: history is not
 * replayed.
 */

#define WEBHOOK_MAX 8

typedef struct {
    const char *urls;   /* comma-separated; "" = no webhooks */
    const char *secret; /* HMAC-SHA256 key */
    const char *events; /* comma-separated public names; "" = all */
    const char *pg_url; /* the coordinator's database */
    const char *coordinator_id;
    int64_t lock_key;   /* advisory lock class (with the hook's hash) */
    int64_t timeout_ms; /* one POST, connect to answer */
    int64_t retry_min_ms;
    int64_t retry_max_ms;
    int64_t poll_ms; /* caught up: look for new events this often */
} webhook_config_t;

typedef struct webhooks webhooks_t;

/*
 * Checks the configuration: the URLs (http:// or https://, at most
 * WEBHOOK_MAX), a secret when there is a URL, every event name known.
 * Returns 0 or -EINVAL with the reason in ERR.
 */
int webhook_config_check(const webhook_config_t *cfg, char *err, size_t errlen);

/* Starts one thread per hook (none when cfg->urls is empty). Strings are
 * copied. NULL on failure (logged). */
webhooks_t *webhooks_start(const webhook_config_t *cfg);

/* Stops the threads (each ends its POST in flight, within timeout_ms) and
 * frees; sets *wp to NULL; accepts NULL. */
void webhooks_stop(webhooks_t **wp);

/* Every hook's delivery state (a new array; [] for NULL). Any thread. */
json_t *webhooks_json(webhooks_t *w);

/* The /metrics lines of the hooks (malloc'd text; for NULL, only the
 * families' HELP and TYPE). */
char *webhooks_metrics(webhooks_t *w);

/* ------------------------------------------------ the parts (tested alone) */

/* The public name of an internal event kind ("stream.replaced" ->
 * "stream.moved"), or NULL when it is not delivered. */
const char *webhook_public_kind(const char *kind);

/* The internal kinds behind the comma-separated public NAMES ("" = all) as
 * a PostgreSQL text array literal ("{a,b}") in OUT. 0, or -EINVAL naming
 * an unknown public name in ERR. */
int webhook_kinds_array(const char *names, char *out, size_t outlen, char *err,
                        size_t errlen);

/* The signature header's value for BODY sent at unix time T:
 * "t=T,v1=HEX(HMAC-SHA256(secret, "T." + body))". */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
                  char *out, size_t outlen);

#endif
