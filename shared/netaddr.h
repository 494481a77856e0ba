/* Socket addresses as operators write them: HOST:PORT, [IPv6]:PORT, names. */
#ifndef PRISM_NETADDR_H
#define PRISM_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * The one parser of "HOST:PORT" for every listener (RTMP, SRT) and any
 * other code that takes an address in that form. HOST is an IPv4 address
 * ("0.0.0.0", "127.0.0.1"), an IPv6 address in brackets ("[::]", "[::1]",
 * "[fe80::1%eth0]") or a host name ("localhost"). An IPv6 address without
 * brackets is refused: "::1:1935" cannot be split unambiguously. PORT is
 * decimal, 0 to 65535 (0: the system picks one when binding).
 *
 * Text of a peer address (netaddr_str) is the plain address without port,
 * with IPv4-mapped IPv6 addresses ("::ffff:192.0.2.1", what a dual-stack
 * [::] listener sees for IPv4 clients) written as the IPv4 address, so that
 * one client has one text whichever listener it came through.
 *
 * All functions are thread-safe and keep no state.
 */

/* Longest host part accepted, terminating NUL included. */
#define NETADDR_HOST_MAX 256

/*
 * Splits hostport into host (brackets removed; host[hostlen]) and *port.
 * Returns 0, or -EINVAL with *why (when why is not NULL) set to a static
 * sentence naming the fault: empty, missing port, bad port, unbalanced
 * bracket, unbracketed IPv6, host too long.
 */
int netaddr_split(const char *hostport, char *host, size_t hostlen, int *port,
                  const char **why);

/*
 * Parses hostport and resolves it for binding (getaddrinfo with AI_PASSIVE
 * and AI_NUMERICSERV; a bracketed host must be a numeric IPv6 address).
 * socktype: SOCK_STREAM or SOCK_DGRAM. The first address getaddrinfo gives
 * goes to *out and its length to *outlen. Returns 0; -EINVAL for a
 * malformed address, -ENOENT when the host does not resolve. On failure
 * err[errlen] (when not NULL) gets the reason, the resolver's text included.
 */
int netaddr_resolve(const char *hostport, int socktype,
                    struct sockaddr_storage *out, socklen_t *outlen, char *err,
                    size_t errlen);

/*
 * Writes the address of sa (AF_INET or AF_INET6) as text into out[len]
 * (INET6_ADDRSTRLEN is enough), IPv4-mapped IPv6 as IPv4. Any other family
 * gives "". Never fails otherwise.
 */
void netaddr_str(const struct sockaddr *sa, char *out, size_t len);

/* The port of sa (AF_INET or AF_INET6) in host order; -1 for another
 * family. */
int netaddr_port(const struct sockaddr *sa);

#endif
