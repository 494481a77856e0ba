/* prism-ingest's options: one table for the config file, flags and help. */
#ifndef PRISM_INGEST_CONFIG_H
#define PRISM_INGEST_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    char ingest_id[64];
    char rtmp_listen[128];
    char srt_listen[128];
    char media_bind[256];
    char media_endpoint[256];
    char coordinator[512];
    char key_file[512];
    char coordinator_key[512];
    char allow_dir[512];
    int64_t allow_reload_ms;
    char log_level[16];
    int64_t max_connections;
    int64_t max_conns_per_addr;
    int64_t max_chunk_size;
    int64_t max_message;
    int64_t max_amf_depth;
    int64_t max_streams_per_conn;
    int64_t handshake_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t admit_timeout_ms;
    int64_t bad_key_limit;
    int64_t bad_key_window_ms;
    int64_t stats_interval_ms;
    int64_t heartbeat_ms;
    int64_t gop_max_packets;
    int64_t gop_max_bytes;
    int64_t gop_history_ms;
    int64_t max_subscribers;
    int64_t max_streams;
    int64_t srt_latency_ms;
    int64_t srt_queue_packets;
    int64_t srt_admit_wait_ms;
    int64_t lav_log_burst;
    int64_t lav_log_window_ms;
} ingest_config_t;

/* The option table and its length. */
extern const config_option_t ingest_config_options[];
extern const size_t ingest_config_noptions;

/* Fills cfg with the defaults; returns 0 or a config error. */
int ingest_config_defaults(ingest_config_t *cfg);

#endif
