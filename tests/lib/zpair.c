/* A ZeroMQ ROUTER and a DEALER connected to it. */
#include "zpair.h"

#include <string.h>

#include <zmq.h>

int zpair_open(zpair_t *p, const zsock_opts_t *router_opts,
               const zsock_opts_t *dealer_opts, const char *endpoint,
               const char *dealer_id)
{
    char ep[256];
    p->router = zsock_new(ZMQ_ROUTER, router_opts);
    p->dealer = zsock_new(ZMQ_DEALER, dealer_opts);
    if (!p->router || !p->dealer)
        return -1;
    if (dealer_id && zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, dealer_id,
                                    strlen(dealer_id)) != 0)
        return -1;
    if (zsock_bind(p->router, endpoint) ||
        zsock_last_endpoint(p->router, ep, sizeof(ep)) ||
        zsock_connect(p->dealer, ep))
        return -1;
    return 0;
}

void zpair_close(zpair_t *p)
{
    zsock_close(&p->router);
    zsock_close(&p->dealer);
}
