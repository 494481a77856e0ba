/* prism-origin's option table: names, bounds, defaults and help. */
#include "origin_config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S(f) offsetof(origin_config_t, f), sizeof(((origin_config_t *)0)->f)
#define I(f) offsetof(origin_config_t, f), 0

const config_option_t origin_config_options[] = {
    {"listen", 'l', CONFIG_STRING, "127.0.0.1:8090", 0, 0, S(listen),
     "Listen address HOST:PORT (an IPv6 host in brackets; port 0 picks one)"},
    {"upload_token", 0, CONFIG_STRING, "", 0, 0, S(upload_token),
     "Token PUT and DELETE must carry as Authorization: Bearer TOKEN; "
     "empty with no upload_token_file: uploads are open (loopback tests)"},
    {"upload_token_file", 0, CONFIG_STRING, "", 0, 0, S(upload_token_file),
     "File whose first line is the upload token (overrides upload_token)"},
    {"max_bytes", 0, CONFIG_INT, "536870912", 1048576, 68719476736.0,
     I(max_bytes),
     "Bytes of files kept in memory; beyond, the oldest non-playlist files "
     "are evicted first (counted)"},
    {"spill_dir", 0, CONFIG_STRING, "", 0, 0, S(spill_dir),
     "Directory for the files memory evicts (created if missing, emptied "
     "of earlier spill files at start); empty: evicted files are dropped"},
    {"spill_max_bytes", 0, CONFIG_INT, "4294967296", 1048576, 1099511627776.0,
     I(spill_max_bytes),
     "Bytes of spilled files kept on disk; beyond, the oldest are dropped "
     "(counted)"},
    {"max_put_bytes", 0, CONFIG_INT, "67108864", 1024, 4294967296.0,
     I(max_put_bytes), "Largest PUT body; larger ones get 413"},
    {"max_connections", 0, CONFIG_INT, "1024", 4, 65536, I(max_connections),
     "HTTP connections open at once (one thread each); more are refused"},
    {"max_conns_per_addr", 0, CONFIG_INT, "0", 0, 65536, I(max_conns_per_addr),
     "HTTP connections per client address; 0 = no per-address limit (an "
     "edge cache or a NAT is one address)"},
    {"hold_limit_ms", 0, CONFIG_INT, "30000", 100, 600000, I(hold_limit_ms),
     "Longest a blocking playlist request or a preload-hinted part is held "
     "(each is held at most 3 target durations, and never longer than this)"},
    {"blocked_max_age_tds", 0, CONFIG_INT, "3", 0, 100, I(blocked_max_age_tds),
     "Cache-Control max-age of answers to blocking playlist requests, in "
     "target durations (0 = no-cache)"},
    {"idle_timeout_s", 0, CONFIG_INT, "30", 1, 3600, I(idle_timeout_s),
     "An HTTP connection silent this long is closed (held requests are "
     "not silent: the limit applies after hold_limit_ms)"},
    {"thread_stack_kib", 0, CONFIG_INT, "256", 64, 8192, I(thread_stack_kib),
     "Stack of each connection's thread"},
    {"log_level", 0, CONFIG_STRING, "info", 0, 0, S(log_level),
     "Lowest log level written: debug, info, warn, error"},
};

const size_t origin_config_noptions =
    sizeof(origin_config_options) / sizeof(origin_config_options[0]);

int origin_config_load_token(origin_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->upload_token_file[0])
        return 0;
    FILE *f = fopen(cfg->upload_token_file, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "upload_token_file %s: %s",
                 cfg->upload_token_file, strerror(e));
        return -e;
    }
    char line[sizeof(cfg->upload_token) + 2];
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    bool too_long = got && n == strlen(line) && n >= sizeof(line) - 1;
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n == 0 || too_long || n >= sizeof(cfg->upload_token)) {
        snprintf(err, errlen, "upload_token_file %s: %s",
                 cfg->upload_token_file,
                 n == 0 ? "empty" : "token longer than 255 bytes");
        return -EINVAL;
    }
    memcpy(cfg->upload_token, line, n);
    cfg->upload_token[n] = '\0';
    return 0;
}
