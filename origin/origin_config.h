/* prism-origin's options: one table for the config file, flags and help. */
#ifndef PRISM_ORIGIN_CONFIG_H
#define PRISM_ORIGIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    char listen[128];
    char upload_token[256];
    char upload_token_file[512];
    int64_t max_bytes;
    char spill_dir[512];
    int64_t spill_max_bytes;
    int64_t max_put_bytes;
    int64_t max_connections;
    int64_t max_conns_per_addr;
    int64_t hold_limit_ms;
    int64_t blocked_max_age_tds;
    int64_t idle_timeout_s;
    int64_t thread_stack_kib;
    char log_level[16];
} origin_config_t;

/* The option table and its length. */
extern const config_option_t origin_config_options[];
extern const size_t origin_config_noptions;

/*
 * Reads the upload token from cfg->upload_token_file into
 * cfg->upload_token when the file is named (its first line, trimmed).
 * Returns 0, -errno when the file cannot be read, -EINVAL when it is
 * empty or too long; err gets a message naming the file.
 */
int origin_config_load_token(origin_config_t *cfg, char *err, size_t errlen);

#endif
