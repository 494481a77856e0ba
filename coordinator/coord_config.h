/* The coordinator's options: one table for the config file, flags and help. */
#ifndef PRISM_COORD_CONFIG_H
#define PRISM_COORD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "publish_hook.h"
#include "webhook.h"

typedef struct {
    char id[64];                /* this coordinator's name in logs/messages */
    char control_bind[256];     /* control ROUTER endpoint */
    char key_file[1024];        /* our CURVE secret key file (NAME.key) */
    char allow_dir[1024];       /* NAME.pub of every node allowed in */
    char zap_domain[64];        /* ZAP domain of the control socket */
    int64_t allow_reload_ms;    /* re-read allow_dir this often, 0 = never */
    char http_bind[64];         /* HTTP API address */
    int64_t http_port;          /* HTTP API port, 0 = no API */
    char api_token[256];        /* bearer token for mutating calls */
    char api_read_token[256];   /* bearer token for GET /api/...; "" open */
    char pg_url[1024];          /* PostgreSQL connection string */
    int64_t report_ms;          /* load report interval given to workers */
    int64_t missed_reports;     /* missed reports before a worker is dead */
    int64_t hung_ms;            /* output stalled this long: session hung */
    int64_t slow_reports;       /* reports under real time: overloaded */
    double slow_speed;          /* speed under which a session is slow */
    int64_t load_tau_ms;        /* measured use's smoothing time constant */
    int64_t slow_move_ms;       /* slow this long: the stream moves */
    int64_t slow_cooldown_ms;   /* not moved for slowness again within */
    int64_t slow_avoid_ms;      /* not back on the worker it left within */
    int64_t heartbeat_ms;       /* coordinator heartbeat to every node */
    int64_t node_timeout_ms;    /* ingest silent this long: forgotten */
    char policy[32];            /* least-loaded or best-fit */
    double headroom;            /* budget fraction kept free */
    bool partial_ladders;       /* place what fits when the ladder does not */
    int64_t ack_timeout_ms;     /* an Assign unacknowledged this long is
                                   re-sent */
    int64_t assign_retries;     /* re-sends before placing it elsewhere */
    int64_t pending_retry_ms;   /* how often pending streams are retried */
    int64_t reconcile_grace_ms; /* after a restart: wait for workers */
    int64_t max_workers;        /* registry bound */
    int64_t max_streams;        /* stream table bound */
    int64_t db_queue_max;       /* queued PostgreSQL writes */
    int64_t channel_cache;      /* channels kept for admission while the
                                   database is away (0 = none) */
    int64_t channel_cache_ms;   /* how long a kept channel admits */
    int64_t db_backoff_min_ms;  /* reconnect backoff, first step */
    int64_t db_backoff_max_ms;  /* reconnect backoff, ceiling */
    int64_t db_connect_timeout_ms; /* a connect attempt is abandoned after */
    int64_t ha_lock_key;           /* advisory lock that makes the leader */
    int64_t ha_retry_ms;           /* a follower retries the lock this often */
    int64_t bad_key_limit;         /* bad stream keys per address per window */
    int64_t bad_key_window_ms;     /* the rate limit window */
    int64_t bad_key_addrs;         /* addresses the bad key limit tracks */
    char output_url[1024];         /* where workers write HLS (Assign) */
    int64_t segment_ms;            /* HLS segment target (Assign) */
    char log_level[16];
    char playback_url[1024];      /* viewers' base URL (stream.live) */
    char webhook_url[4096];       /* comma-separated receivers */
    char webhook_secret[256];     /* their HMAC-SHA256 key */
    char webhook_events[512];     /* public names delivered, "" = all */
    int64_t webhook_timeout_ms;   /* one POST */
    int64_t webhook_retry_min_ms; /* backoff of a refused delivery */
    int64_t webhook_retry_max_ms;
    int64_t webhook_poll_ms;     /* caught up: look for events this often */
    int64_t webhook_lock_key;    /* advisory lock class of delivery */
    char publish_hook_url[1024]; /* the platform admits publishes */
    char publish_hook_secret[256];
    char publish_hook_policy[16]; /* hook down: refuse or channels */
    int64_t publish_hook_timeout_ms;
    int64_t publish_hook_cache_ms;
    int64_t publish_hook_threads;
    int64_t publish_hook_queue_max;
    int64_t release_pending_max;  /* unacknowledged Releases kept */
    int64_t release_retry_max_ms; /* longest Release re-send backoff */
    int64_t upgrade_per_s;        /* partial-ladder upgrades a second */
    int64_t upgrade_cooldown_ms;  /* one stream upgraded at most this often */
    int64_t fail_backoff_min_ms;  /* first wait after a session failure */
    int64_t fail_backoff_max_ms;  /* the doubling wait's ceiling */
    int64_t fail_reset_ms;        /* running this long clears the policy */
    int64_t fail_limit;           /* failures in fail_window_ms: failed */
    int64_t fail_window_ms;       /* the window fail_limit counts in */
    int64_t fail_retry_ms;        /* a failed stream is retried this often */
    int64_t reconnect_grace_ms;   /* a stream waits this long for its
                                     publisher to come back */
    int64_t publisher_silence_ms; /* a live key is taken over only after
                                     its publisher sent nothing this long */
} coord_config_t;

/* The option table and its size (for config_parse and the docs). */
extern const config_option_t coord_config_options[];
extern const size_t coord_config_noptions;

/*
 * Parses argv (--config FILE and flags) into cfg. Returns 0, 1 when --help
 * was printed (exit 0), or a negative code with the message in err.
 */
int coord_config_load(coord_config_t *cfg, int argc, char **argv, char *err,
                      size_t errlen);

/* The webhook options of cfg (strings borrowed from it). */
webhook_config_t coord_webhook_config(const coord_config_t *cfg);

/* The publish hook's options of cfg (strings borrowed from it). */
publish_hook_config_t coord_publish_hook_config(const coord_config_t *cfg);

#endif
