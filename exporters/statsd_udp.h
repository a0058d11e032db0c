/* SPDX-License-Identifier: MIT */
/*
 * statsd_udp.h: the StatsD sender: one connected, non-blocking UDP socket
 * to the daemon, fire and forget.
 *
 * Owns: the socket (SOCK_CLOEXEC, so a host that execs does not hand our
 * descriptor to its child; SOCK_NONBLOCK, so a full socket buffer costs a
 * dropped datagram, never a wait), the resolved address, and the counts
 * of what was sent and what was not.
 *
 * The address is resolved once, at open (getaddrinfo: a numeric IPv4 or
 * IPv6 address, or a name, which may take a DNS round trip: open on the
 * exporter thread, never on a hooked call). The socket is connect()ed to
 * the first address that accepts it, IPv4 ones first (a name such as
 * localhost may also resolve to ::1, while Etsy statsd and most daemons
 * listen on udp4 by default; the common StatsD clients also default to
 * IPv4), so that the kernel reports an ICMP port-unreachable as
 * ECONNREFUSED on a later send. An IPv6 literal ("::1") uses IPv6.
 *
 * A datagram that cannot be sent (ECONNREFUSED: nobody listens; EAGAIN:
 * the socket buffer is full; any other error) is counted and forgotten:
 * never retried, never waited for. The module never logs: the exporter
 * calls statsd_udp_take_report() once per interval and logs what it
 * returns, so a dead daemon costs one line per interval at most, and
 * nothing else but these counters.
 *
 * Threading: one thread (the exporter) per sender.
 */
#ifndef STDBTEL_STATSD_UDP_H
#define STDBTEL_STATSD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct statsd_udp;

struct statsd_udp_stats {
	uint64_t datagrams_sent;
	uint64_t bytes_sent;
	uint64_t send_failures; /* every datagram not sent; the three below add up to it */
	uint64_t refused;       /* ECONNREFUSED: no daemon on the port */
	uint64_t would_block;   /* EAGAIN / EWOULDBLOCK / ENOBUFS: buffer full */
	uint64_t other_errors;  /* anything else (EMSGSIZE, ENETUNREACH, a short send ...) */
	int last_errno;         /* of the latest failure, 0 if none */
};

/*
 * Resolves host (name, IPv4 or IPv6 literal without brackets) and port,
 * and opens the socket. Returns the sender, or NULL with a message in
 * err[0 .. errlen) (unresolvable name, no usable address, out of memory).
 */
struct statsd_udp *statsd_udp_open(const char *host, uint16_t port, char *err, size_t errlen);

/* Sends buf[0 .. len) as one datagram, without blocking. Returns true when the kernel took it whole. */
bool statsd_udp_send(struct statsd_udp *s, const void *buf, size_t len);

void statsd_udp_stats(const struct statsd_udp *s, struct statsd_udp_stats *out);

/* The numeric address in use, "127.0.0.1:8125" or "[::1]:8125". */
const char *statsd_udp_peer(const struct statsd_udp *s);

/*
 * True when datagrams failed since the previous call that returned true;
 * then msg holds one line saying how many and the latest error (without
 * the "stdbtel: " prefix). Call once per interval, and log what it says.
 */
bool statsd_udp_take_report(struct statsd_udp *s, char *msg, size_t cap);

/* Closes the socket and frees s (NULL is fine). */
void statsd_udp_close(struct statsd_udp *s);

#endif
