/* The option table of `prism-worker run`: one file, flags, help. */
#ifndef PRISM_WORKER_CONFIG_H
#define PRISM_WORKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Every option of `prism-worker run`; defaults in worker_config.c. */
typedef struct {
    char worker_id[128];         /* = the name of its CURVE key file */
    char host[256];              /* advertised in Register */
    char coordinators[1024];     /* comma-separated control endpoints */
    char coordinator_key[1024];  /* coordinator's NAME.pub */
    char key_file[1024];         /* this worker's NAME.key (0600) */
    char output_url[1024];       /* overrides Assign.output_url when set */
    char budgets_file[1024];     /* written by `prism-worker calibrate` */
    char backend[16];            /* auto, software, nvenc, vaapi */
    char preset[32];             /* x264 preset for software renditions */
    int64_t max_streams;         /* sessions at once */
    int64_t cpu_max_sessions;    /* encoder sessions on the CPU, 0 = any */
    int64_t cpu_encode_budget;   /* luma pixels/s; 0 = from cores */
    int64_t cpu_decode_budget;   /* luma pixels/s; 0 = from cores */
    int64_t gpu_max_sessions;    /* per GPU device, 0 = no limit */
    int64_t gpu_encode_budget;   /* luma pixels/s per GPU device */
    int64_t gpu_decode_budget;   /* luma pixels/s per GPU device */
    int64_t max_host_sessions;   /* over all devices, 0 = no limit */
    int64_t report_ms;           /* until the coordinator says otherwise */
    int64_t register_retry_ms;   /* Register again while unanswered */
    int64_t coordinator_lost_ms; /* silence before registering again */
    int64_t list_size;           /* live playlist window, segments */
    double thumbnail;            /* seconds between thumbnails, 0 = none */
    int64_t audio_kbps;
    int64_t credit_bytes; /* media credit granted at the ingest */
    int64_t subscribe_timeout_ms;
    int64_t source_idle_ms;     /* no media for this long ends a session */
    int64_t publisher_wait_ms;  /* playlists held open after the input ends */
    int64_t queue_packets;      /* the session's input queue bound */
    int64_t origin_timeout_ms;  /* one request to an HTTP origin */
    char origin_token[512];     /* bearer token for it; "" = none */
    char origin_ca_file[512];   /* https: CA certificates; "" = system's */
    bool origin_tls_verify;     /* https: check the origin's certificate */
    int64_t origin_queue_files; /* uploads waiting per session */
    int64_t origin_queue_mb;    /* their bytes, MiB */
    bool nvml;                  /* read NVENC/NVDEC utilisation via NVML */
    char cpu_measure[16];       /* auto, process, off (host_load.h) */
    char log_level[16];
} worker_config_t;

/* The table itself, for config_parse and help; static storage. */
const config_option_t *worker_config_table(size_t *n);

/*
 * Parses argv (argv[0] = "run") with the --config file. Returns 0, 1 when
 * --help was printed, or a negative code with the message in err.
 */
int worker_config_parse(worker_config_t *cfg, int argc, char **argv, char *err,
                        size_t errlen);

#endif
