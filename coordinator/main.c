/* prism-coordinator: places streams on workers and serves the operator API. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "coord_config.h"
#include "daemon.h"
#include "log.h"
#include "zctx.h"

static coord_t *g_coord;

static void on_signal(int sig)
{
    if (!g_coord)
        return;
    if (sig == SIGHUP)
        coord_reload(g_coord);
    else
        coord_stop(g_coord);
}

int main(int argc, char **argv)
{
    coord_config_t cfg;
    char err[512];
    int rc = coord_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "prism-coordinator: %s\n", err);
        return 2;
    }
    if (daemon_log_level("prism-coordinator", cfg.log_level) < 0)
        return 2;
    log_info("main", "Starting.", "version=%s id=%s", PRISM_VERSION, cfg.id);
    g_coord = coord_new(&cfg);
    if (!g_coord)
        return 1;
    daemon_signals(on_signal, on_signal);
    rc = coord_run(g_coord);
    coord_free(&g_coord);
    zctx_term();
    if (rc < 0) {
        log_error("main", "The coordinator stopped on an error.", "err=\"%s\"",
                  strerror(-rc));
        return rc == -EBUSY ? 3 : 1;
    }
    log_info("main", "Stopped.", NULL);
    return 0;
}
