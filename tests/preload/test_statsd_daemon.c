/* SPDX-License-Identifier: MIT */
/*
 * test_statsd_daemon.c: statsd_format + statsd_udp against the real Etsy
 * statsd 0.9 daemon (node $STDBTEL_NODE_MODULES/statsd/stats.js), and the
 * sender with nobody listening.
 *
 * Each daemon test starts its own statsd on 127.0.0.1 (free UDP and admin
 * ports found by binding port 0; retried when another process takes one
 * first), with tests/support/statsd_flush_backend.js writing every flush
 * to a file. The test waits for a flush, sends right after it, and reads
 * the next flush: statsd flushes every FLUSH_MS, far longer than a send
 * takes, so everything sent lands in that one flush. Expected values come
 * from what the test sent (and, for timers, from the durations it
 * recorded), never from the daemon. The daemon is stopped by pid in the
 * test's .fini, and dies with the test process otherwise
 * (PR_SET_PDEATHSIG).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "peers.h"
#include "statsd_format.h"
#include "statsd_udp.h"

#define FLUSH_MS 500

/* The daemon of the running test (tests/support/peers.c). */
static struct statsd_daemon daemon_state = {.pid = -1};

static uint64_t now_ms(void)
{
	return peers_now_ms();
}

static uint16_t free_port(int type)
{
	return peers_free_port(type);
}

static void daemon_start(void)
{
	statsd_daemon_start(&daemon_state, FLUSH_MS);
}

static void daemon_stop(void)
{
	statsd_daemon_stop(&daemon_state);
}

static size_t daemon_next_flush(void)
{
	return statsd_daemon_next_flush(&daemon_state);
}

static char *daemon_flush(size_t k)
{
	return statsd_daemon_flush(&daemon_state, k);
}

static double flush_value(const char *block, const char *kind, const char *key, const char *field)
{
	return statsd_flush_value(block, kind, key, field);
}

static size_t keys_with_prefix(const char *block, const char *kind, const char *prefix)
{
	return statsd_flush_keys_with_prefix(block, kind, prefix);
}

/* ---- sending through statsd_format + statsd_udp ---- */

struct sender {
	struct statsd_udp *udp;
	struct statsd_packet packet;
	char buf[STATSD_MAX_PAYLOAD_DEFAULT];
	enum statsd_tag_style style;
	size_t datagrams, lines;
};

static void sender_open(struct sender *s, const char *host, uint16_t port, enum statsd_tag_style style)
{
	char err[256] = "";
	s->udp = statsd_udp_open(host, port, err, sizeof(err));
	cr_assert_not_null(s->udp, "%s", err);
	statsd_packet_init(&s->packet, s->buf, sizeof(s->buf));
	s->style = style;
	s->datagrams = s->lines = 0;
}

static void sender_flush(struct sender *s)
{
	if (s->packet.len == 0)
		return;
	cr_assert(statsd_udp_send(s->udp, s->buf, s->packet.len), "send failed: %s", strerror(errno));
	s->datagrams++;
	statsd_packet_reset(&s->packet);
}

static void sender_add(struct sender *s, const struct statsd_metric *m)
{
	enum statsd_add_result r = statsd_packet_add(&s->packet, m, s->style);
	if (r == STATSD_FULL) {
		sender_flush(s);
		r = statsd_packet_add(&s->packet, m, s->style);
	}
	cr_assert_eq(r, STATSD_ADDED);
	s->lines++;
}

/* Every timer line of h under budget; returns the number of lines. */
static size_t sender_timer(struct sender *s, const char *name, const struct histogram *h, uint64_t budget,
                           const struct statsd_tag *tags, size_t ntags)
{
	struct statsd_timer_plan plan;
	statsd_timer_plan_init(&plan, h, budget);
	struct statsd_metric m = {.type = STATSD_TIMER, .name = name, .tags = tags, .ntags = ntags};
	size_t lines = 0;
	while (statsd_timer_plan_next(&plan, h, &m.value, &m.rate_shift)) {
		sender_add(s, &m);
		lines++;
	}
	return lines;
}

static void sender_close(struct sender *s)
{
	sender_flush(s);
	struct statsd_udp_stats st;
	statsd_udp_stats(s->udp, &st);
	cr_assert_eq(st.send_failures, 0);
	cr_assert_eq(st.datagrams_sent, s->datagrams);
	statsd_udp_close(s->udp);
}

/* ---- the tests ---- */

TestSuite(statsd_daemon, .init = daemon_start, .fini = daemon_stop, .timeout = 90);

Test(statsd_daemon, counters_exact_with_tags_folded_and_datagrams_counted)
{
	enum { NAMES = 300 };
	size_t k = daemon_next_flush();
	struct sender s;
	sender_open(&s, "127.0.0.1", daemon_state.port, STATSD_TAGS_DOGSTATSD);
	static char names[NAMES][64];
	const struct statsd_tag tags[] = {{"table", "7"}, {"function", "add"}};
	for (size_t i = 0; i < NAMES; i++) {
		snprintf(names[i], sizeof(names[i]), "stdbtel.test.counter_%zu", i);
		struct statsd_metric m = {.type = STATSD_COUNTER, .name = names[i], .value = i * 1000003 + 1,
		                          .tags = tags, .ntags = i % 2 ? 2 : 0};
		sender_add(&s, &m);
	}
	/* One name twice: the daemon sums the lines. */
	struct statsd_metric twice = {.type = STATSD_COUNTER, .name = "stdbtel.test.twice", .value = 40};
	sender_add(&s, &twice);
	twice.value = 2;
	sender_add(&s, &twice);
	/* Sanitised tag values: ':' is ours to replace; '/' becomes '-' in statsd. */
	const struct statsd_tag odd[] = {{"http.route", "/v1/database"}, {"url", "a:b|c"}};
	struct statsd_metric route = {.type = STATSD_COUNTER, .name = "stdbtel.test.requests", .value = 5,
	                              .tags = odd, .ntags = 2};
	sender_add(&s, &route);
	/* A gauge: its level. */
	struct statsd_metric gauge = {.type = STATSD_GAUGE, .name = "stdbtel.test.level", .value = 333};
	sender_add(&s, &gauge);
	sender_close(&s);
	cr_assert_gt(s.datagrams, 3, "300 lines must take several 1432-byte datagrams");

	char *f = daemon_flush(k + 1);
	for (size_t i = 0; i < NAMES; i++) {
		char key[128];
		snprintf(key, sizeof(key), "%s%s", names[i], i % 2 ? ";table=7;function=add" : "");
		cr_assert_eq(flush_value(f, "counter", key, NULL), (double)(i * 1000003 + 1), "%s", key);
	}
	cr_assert_eq(keys_with_prefix(f, "counter", "stdbtel.test.counter_"), NAMES, "no other keys");
	cr_assert_eq(flush_value(f, "counter", "stdbtel.test.twice", NULL), 42);
	cr_assert_eq(flush_value(f, "counter", "stdbtel.test.requests;http.route=-v1-database;url=a_b_c", NULL), 5);
	cr_assert_eq(flush_value(f, "gauge", "stdbtel.test.level", NULL), 333);
	/* Every datagram and every line arrived, and none was a bad line. */
	cr_assert_eq(flush_value(f, "counter", "statsd.packets_received", NULL), (double)s.datagrams);
	cr_assert_eq(flush_value(f, "counter", "statsd.metrics_received", NULL), (double)s.lines);
	cr_assert_eq(flush_value(f, "counter", "statsd.bad_lines_seen", NULL), 0);
	free(f);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* n durations (ns), skewed: most 50-500 us, 5% up to 20 ms; recorded into h, returned sorted. */
static uint64_t *durations(size_t n, uint64_t seed, struct histogram *h)
{
	uint64_t *d = malloc(n * sizeof(*d));
	histogram_reset(h);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		uint64_t r = seed >> 33;
		d[i] = r % 100 < 95 ? 50000 + r % 450000 : 500000 + r % 19500000;
		histogram_record(h, d[i]);
	}
	qsort(d, n, sizeof(*d), cmp_u64);
	return d;
}

/* What statsd reads back from our line for ns: the microseconds, in ms. */
static double wire_ms(uint64_t ns)
{
	uint64_t us = ns / 1000 + (ns % 1000 >= 500);
	return (double)us / 1000.0;
}

static const double bucket_error = 0.0905077326652577; /* 2^(1/8) - 1 */

Test(statsd_daemon, timers_unsampled_count_extremes_and_mean)
{
	enum { N = 150 };
	struct histogram *h = calloc(1, sizeof(*h));
	uint64_t *d = durations(N, 7, h);
	size_t k = daemon_next_flush();
	struct sender s;
	sender_open(&s, "127.0.0.1", daemon_state.port, STATSD_TAGS_DOGSTATSD);
	const struct statsd_tag tags[] = {{"table", "7"}};
	cr_assert_eq(sender_timer(&s, "stdbtel.test.insert_duration", h, 1000, tags, 1), N);
	struct statsd_metric count = {.type = STATSD_COUNTER, .name = "stdbtel.test.inserts", .value = h->count};
	sender_add(&s, &count);
	sender_close(&s);

	char *f = daemon_flush(k + 1);
	const char *key = "stdbtel.test.insert_duration;table=7";
	cr_assert_eq(flush_value(f, "timer", key, "count"), N);
	cr_assert_eq(flush_value(f, "timer", key, "values"), N);
	cr_assert_eq(flush_value(f, "timer", key, "count_ps"), N / (FLUSH_MS / 1000.0));
	cr_assert_eq(flush_value(f, "timer", key, "lower"), wire_ms(d[0]));
	cr_assert_eq(flush_value(f, "timer", key, "upper"), wire_ms(d[N - 1]));
	double sum = 0;
	for (size_t i = 0; i < N; i++)
		sum += (double)d[i] / 1e6;
	double mean = flush_value(f, "timer", key, "mean");
	cr_assert_lt(fabs(mean / (sum / N) - 1), bucket_error, "mean %f vs %f", mean, sum / N);
	double median = flush_value(f, "timer", key, "median");
	double true_median = (double)(d[N / 2 - 1] + d[N / 2]) / 2e6;
	cr_assert_lt(fabs(median / true_median - 1), bucket_error, "median %f vs %f", median, true_median);
	cr_assert_eq(flush_value(f, "counter", "stdbtel.test.inserts", NULL), N);
	free(f);
	free(d);
	free(h);
}

Test(statsd_daemon, timers_sampled_to_the_budget_keep_the_exact_count)
{
	enum { N = 100003, BUDGET = 200 };
	struct histogram *h = calloc(1, sizeof(*h));
	uint64_t *d = durations(N, 99, h);
	size_t k = daemon_next_flush();
	struct sender s;
	sender_open(&s, "127.0.0.1", daemon_state.port, STATSD_TAGS_DOGSTATSD);
	const struct statsd_tag tags[] = {{"function", "add"}};
	size_t lines = sender_timer(&s, "stdbtel.test.wasm_time", h, BUDGET, tags, 1);
	cr_assert_leq(lines, BUDGET);
	sender_close(&s);

	char *f = daemon_flush(k + 1);
	const char *key = "stdbtel.test.wasm_time;function=add";
	cr_assert_eq(flush_value(f, "timer", key, "count"), N, "statsd's count scaled by 1/rate is exact");
	cr_assert_eq(flush_value(f, "timer", key, "count_ps"), N / (FLUSH_MS / 1000.0));
	cr_assert_eq(flush_value(f, "timer", key, "values"), (double)lines);
	cr_assert_eq(flush_value(f, "timer", key, "lower"), wire_ms(d[0]));
	cr_assert_eq(flush_value(f, "timer", key, "upper"), wire_ms(d[N - 1]));
	double p90 = flush_value(f, "timer", key, "upper_90");
	double true_p90 = (double)d[(size_t)llround(0.9 * N) - 1] / 1e6;
	cr_assert_lt(fabs(p90 / true_p90 - 1), bucket_error, "upper_90 %f vs %f", p90, true_p90);
	double median = flush_value(f, "timer", key, "median");
	double true_median = (double)d[N / 2] / 1e6;
	cr_assert_lt(fabs(median / true_median - 1), bucket_error, "median %f vs %f", median, true_median);
	double sum = 0;
	for (size_t i = 0; i < N; i++)
		sum += (double)d[i] / 1e6;
	double mean = flush_value(f, "timer", key, "mean");
	cr_assert_lt(fabs(mean / (sum / N) - 1), 0.05, "mean %f vs %f", mean, sum / N);
	cr_assert_eq(flush_value(f, "counter", "statsd.bad_lines_seen", NULL), 0);
	free(f);
	free(d);
	free(h);
}

Test(statsd_daemon, plain_statsd_drops_tags_and_keeps_the_names)
{
	size_t k = daemon_next_flush();
	struct sender s;
	sender_open(&s, "127.0.0.1", daemon_state.port, STATSD_TAGS_NONE);
	const struct statsd_tag t7[] = {{"table", "7"}}, t8[] = {{"table", "8"}};
	struct statsd_metric m = {.type = STATSD_COUNTER, .name = "stdbtel.test.plain", .value = 3, .tags = t7, .ntags = 1};
	sender_add(&s, &m);
	m.tags = t8;
	m.value = 4;
	sender_add(&s, &m);
	struct histogram *h = calloc(1, sizeof(*h));
	histogram_reset(h);
	histogram_record(h, 1500000);
	histogram_record(h, 2500000);
	sender_timer(&s, "stdbtel.test.plain_duration", h, 1000, t7, 1);
	sender_close(&s);

	char *f = daemon_flush(k + 1);
	cr_assert_eq(flush_value(f, "counter", "stdbtel.test.plain", NULL), 7);
	cr_assert_eq(keys_with_prefix(f, "counter", "stdbtel.test.plain"), 1, "no tagged key");
	cr_assert_eq(flush_value(f, "timer", "stdbtel.test.plain_duration", "count"), 2);
	cr_assert_eq(flush_value(f, "timer", "stdbtel.test.plain_duration", "lower"), 1.5);
	cr_assert_eq(flush_value(f, "timer", "stdbtel.test.plain_duration", "upper"), 2.5);
	free(f);
	free(h);
}

/* ---- the sender alone ---- */

Test(statsd_udp, nobody_listening_costs_only_a_counter)
{
	uint16_t port = free_port(SOCK_DGRAM); /* bound and closed: nobody listens there now */
	char err[256] = "";
	struct statsd_udp *u = statsd_udp_open("127.0.0.1", port, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);
	enum { SENDS = 2000 };
	static const char line[] = "stdbtel.test.lost:1|c";
	uint64_t t0 = now_ms();
	size_t ok = 0;
	for (int i = 0; i < SENDS; i++)
		ok += statsd_udp_send(u, line, sizeof(line) - 1);
	uint64_t elapsed = now_ms() - t0;
	cr_assert_lt(elapsed, 1000, "%d sends took %llu ms: the sender must never wait", SENDS,
	             (unsigned long long)elapsed);
	struct statsd_udp_stats st;
	statsd_udp_stats(u, &st);
	cr_assert_eq(st.datagrams_sent + st.send_failures, SENDS);
	cr_assert_eq(st.datagrams_sent, ok);
	cr_assert_gt(st.refused, 0, "loopback answers port-unreachable: later sends see ECONNREFUSED");
	cr_assert_eq(st.refused + st.would_block + st.other_errors, st.send_failures);
	cr_assert_eq(st.last_errno, ECONNREFUSED);

	char msg[256];
	cr_assert(statsd_udp_take_report(u, msg, sizeof(msg)));
	cr_assert(strstr(msg, "not sent") != NULL && strstr(msg, "refused") != NULL, "%s", msg);
	cr_assert_not(statsd_udp_take_report(u, msg, sizeof(msg)), "one report per batch of failures");
	/* New failures are reported again, once; no new failure, no report. */
	uint64_t before = st.send_failures;
	for (int i = 0; i < 6; i++)
		statsd_udp_send(u, line, sizeof(line) - 1);
	statsd_udp_stats(u, &st);
	cr_assert_eq(statsd_udp_take_report(u, msg, sizeof(msg)), st.send_failures > before);
	cr_assert_not(statsd_udp_take_report(u, msg, sizeof(msg)));
	statsd_udp_close(u);
}

/* A receiver on addr (AF_INET or AF_INET6 loopback), port 0; returns its fd and port, or -1. */
static int receiver(int family, uint16_t *port)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void check_delivery(const char *host, int family, const char *peer_prefix)
{
	uint16_t port;
	int fd = receiver(family, &port);
	cr_assert_geq(fd, 0, "cannot bind a %s loopback receiver: %s", family == AF_INET ? "IPv4" : "IPv6",
	              strerror(errno));
	char err[256] = "";
	struct statsd_udp *u = statsd_udp_open(host, port, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);
	cr_assert_eq(strncmp(statsd_udp_peer(u), peer_prefix, strlen(peer_prefix)), 0, "peer %s", statsd_udp_peer(u));
	static const char datagram[] = "a:1|c\nb:2.5|ms|@0.5|#k:v";
	cr_assert(statsd_udp_send(u, datagram, sizeof(datagram) - 1));
	char got[2048];
	ssize_t n = recv(fd, got, sizeof(got), 0);
	cr_assert_eq(n, (ssize_t)(sizeof(datagram) - 1), "recv: %s", n < 0 ? strerror(errno) : "short");
	cr_assert_eq(memcmp(got, datagram, (size_t)n), 0);
	struct statsd_udp_stats st;
	statsd_udp_stats(u, &st);
	cr_assert_eq(st.datagrams_sent, 1);
	cr_assert_eq(st.bytes_sent, sizeof(datagram) - 1);
	cr_assert_eq(st.send_failures, 0);
	char msg[128];
	cr_assert_not(statsd_udp_take_report(u, msg, sizeof(msg)));
	statsd_udp_close(u);
	close(fd);
}

Test(statsd_udp, delivers_exact_bytes_to_ipv4_ipv6_and_a_name)
{
	check_delivery("127.0.0.1", AF_INET, "127.0.0.1:");
	check_delivery("localhost", AF_INET, "127.0.0.1:"); /* IPv4 first for a name */
	uint16_t port;
	int probe = receiver(AF_INET6, &port);
	if (probe < 0)
		cr_skip_test("no IPv6 loopback here (::1 cannot be bound): the IPv6 path is untested");
	close(probe);
	check_delivery("::1", AF_INET6, "[::1]:");
}

Test(statsd_udp, descriptor_is_close_on_exec_and_non_blocking)
{
	char err[256] = "";
	struct statsd_udp *u = statsd_udp_open("127.0.0.1", 9, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);
	/* Opened before: every descriptor valid now but the sender's. */
	statsd_udp_close(u);
	bool open_before[1024];
	for (int i = 0; i < 1024; i++)
		open_before[i] = fcntl(i, F_GETFD) != -1;
	u = statsd_udp_open("127.0.0.1", 9, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);
	int found = -1;
	for (int i = 0; i < 1024; i++)
		if (!open_before[i] && fcntl(i, F_GETFD) != -1)
			found = i;
	cr_assert_geq(found, 0);
	cr_assert(fcntl(found, F_GETFD) & FD_CLOEXEC);
	cr_assert(fcntl(found, F_GETFL) & O_NONBLOCK);
	statsd_udp_close(u);
}
