/* The process's one ZeroMQ context, created on first use. */
#include "zctx.h"

#include <errno.h>
#include <pthread.h>
#include <zmq.h>

#include "log.h"

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static void *ctx;

void *zctx_get(void)
{
    void *c;

    pthread_mutex_lock(&ctx_lock);
    if (!ctx) {
        ctx = zmq_ctx_new();
        if (!ctx)
            log_error("zctx", "Cannot create the ZeroMQ context.",
                      "call=zmq_ctx_new err=\"%s\"", zmq_strerror(errno));
    }
    c = ctx;
    pthread_mutex_unlock(&ctx_lock);
    return c;
}

void zctx_term(void)
{
    void *c;

    pthread_mutex_lock(&ctx_lock);
    c = ctx;
    ctx = NULL;
    pthread_mutex_unlock(&ctx_lock);
    if (!c)
        return;
    while (zmq_ctx_term(c) != 0) {
        if (errno != EINTR) {
            log_error("zctx", "Cannot terminate the ZeroMQ context.",
                      "call=zmq_ctx_term err=\"%s\"", zmq_strerror(errno));
            return;
        }
    }
}
