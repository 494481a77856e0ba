/* prism-coordinator: places streams on workers and serves the operator API. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "coord_config.h"
#include "daemon.h"
#include "log.h"
#include "zctx.h"

static coord_t *g_coord;

static void on_stop(int sig)
{
    (void)sig;
    if (g_coord)
        coord_stop(g_coord);
}

static void on_reload(int sig)
{
    (void)sig;
    if (g_coord)
        coord_reload(g_coord);
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
    g_coord = coord_new(&cfg);
    if (!g_coord)
        return 1;
    rc = daemon_signals(on_stop, on_reload);
    if (rc == 0)
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
