/* The process's one ZeroMQ context, created on first use. */
#ifndef PRISM_ZCTX_H
#define PRISM_ZCTX_H

/*
 * Returns the process-wide ZeroMQ context, creating it on the first call.
 * Threads: safe from any thread; every caller gets the same context until
 * zctx_term(). Errors: returns NULL (logged once with zmq_strerror) when
 * zmq_ctx_new fails. The context is owned by this module: never pass it to
 * zmq_ctx_term yourself.
 */
void *zctx_get(void);

/*
 * Terminates the context at process exit. Every socket must be closed first
 * (zsock sockets have linger 0, so termination does not wait for unsent
 * messages); a socket left open makes this call block inside libzmq.
 * Threads: call once, from one thread, after the others stopped using
 * ZeroMQ. A later zctx_get() creates a fresh context (tests use this).
 */
void zctx_term(void);

#endif
