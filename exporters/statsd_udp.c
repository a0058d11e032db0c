/* SPDX-License-Identifier: MIT */
/*
 * statsd_udp.c: the StatsD UDP sender (contract in statsd_udp.h).
 */
#include "statsd_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct statsd_udp {
	int fd;
	struct statsd_udp_stats stats;
	uint64_t failures_reported; /* send_failures at the last report */
	char peer[INET6_ADDRSTRLEN + 16];
};

static void format_peer(char *out, size_t cap, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	}
}

struct statsd_udp *statsd_udp_open(const char *host, uint16_t port, char *err, size_t errlen)
{
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
		/* No AI_ADDRCONFIG: it hides ::1 on a host whose only IPv6 address is loopback; an
		 * address family the host cannot use fails at socket()/connect() and the next is tried. */
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *list = NULL;
	int rc = getaddrinfo(host, service, &hints, &list);
	if (rc != 0) {
		snprintf(err, errlen, "statsd: cannot resolve \"%s\": %s", host,
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return NULL;
	}
	struct statsd_udp *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		freeaddrinfo(list);
		snprintf(err, errlen, "statsd: out of memory");
		return NULL;
	}
	s->fd = -1;
	int last_error = 0;
	/* IPv4 addresses first: a name like localhost often resolves to ::1 too, and the usual daemons listen on udp4. */
	for (int pass = 0; pass < 2 && s->fd < 0; pass++) {
		for (struct addrinfo *ai = list; ai != NULL && s->fd < 0; ai = ai->ai_next) {
			if ((ai->ai_family == AF_INET) != (pass == 0))
				continue;
			int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
			if (fd < 0) {
				last_error = errno;
				continue;
			}
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
				last_error = errno;
				close(fd);
				continue;
			}
			s->fd = fd;
			format_peer(s->peer, sizeof(s->peer), ai->ai_addr);
		}
	}
	freeaddrinfo(list);
	if (s->fd < 0) {
		snprintf(err, errlen, "statsd: no usable address for %s:%u: %s", host, (unsigned)port,
		         strerror(last_error != 0 ? last_error : EADDRNOTAVAIL));
		free(s);
		return NULL;
	}
	return s;
}

bool statsd_udp_send(struct statsd_udp *s, const void *buf, size_t len)
{
	ssize_t n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0 && (size_t)n == len) {
		s->stats.datagrams_sent++;
		s->stats.bytes_sent += len;
		return true;
	}
	int e = n < 0 ? errno : EMSGSIZE; /* a short UDP send: treat as too big */
	s->stats.send_failures++;
	s->stats.last_errno = e;
	if (e == ECONNREFUSED)
		s->stats.refused++;
	else if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
		s->stats.would_block++;
	else
		s->stats.other_errors++;
	return false;
}

void statsd_udp_stats(const struct statsd_udp *s, struct statsd_udp_stats *out)
{
	*out = s->stats;
}

const char *statsd_udp_peer(const struct statsd_udp *s)
{
	return s->peer;
}

bool statsd_udp_take_report(struct statsd_udp *s, char *msg, size_t cap)
{
	uint64_t failed = s->stats.send_failures - s->failures_reported;
	if (failed == 0)
		return false;
	s->failures_reported = s->stats.send_failures;
	snprintf(msg, cap, "statsd: %llu datagram%s to %s not sent (last error: %s)", (unsigned long long)failed,
	         failed == 1 ? "" : "s", s->peer, strerror(s->stats.last_errno));
	return true;
}

void statsd_udp_close(struct statsd_udp *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	free(s);
}
