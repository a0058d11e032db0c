/* SPDX-License-Identifier: MIT */
/*
 * test_otlp_http.c: the OTLP/HTTP transport (exporters/otlp_http.c)
 * against a real receiver, tests/support/otlp_receiver.py, started by each
 * test on 127.0.0.1 with a script of answers and stopped by pid in .fini
 * (and by PR_SET_PDEATHSIG should the test process die). What the
 * transport sent is read back from the receiver's record: path, headers,
 * body bytes (gunzipped by the receiver), arrival times, client port.
 * The timing checks are correctness bounds with slack, not benchmarks.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "otlp_http.h"
#include "otlp_retry.h"
#include "peers.h"
#include "stdbtel_build.h"

/* ---- the receiver (tests/support/peers.c) ---- */

/* The receiver of the running test (each Criterion test is its own process). */
static struct otlp_receiver rcv;

static void receiver_start_tls(const char *script, const char *cert, const char *key)
{
	otlp_receiver_start(&rcv, script, cert, key);
}

static void receiver_start(const char *script)
{
	otlp_receiver_start(&rcv, script, NULL, NULL);
}

static void receiver_stop(void)
{
	otlp_receiver_stop(&rcv);
}

static void suite_init(void)
{
	/* The tests talk to 127.0.0.1: a proxy from the environment must not be in the way
	 * (the transport takes the proxy only from its config anyway). */
	rcv.pid = 0;
	rcv.dir[0] = '\0';
}

TestSuite(otlp_http, .init = suite_init, .fini = receiver_stop, .timeout = 60);

static size_t receiver_count(void)
{
	return otlp_receiver_count(&rcv);
}

static void receiver_request(size_t index, struct otlp_request *r)
{
	otlp_receiver_request(&rcv, index, r);
}

static const char *header(const struct otlp_request *r, const char *name)
{
	return otlp_request_header(r, name);
}

static void request_free(struct otlp_request *r)
{
	otlp_request_free(r);
}

/* ---- helpers ---- */

static char *url_for(const char *suffix)
{
	char base[64];
	snprintf(base, sizeof base, "http://127.0.0.1:%d", rcv.port);
	char *url = otlp_http_signal_url(base, NULL, suffix);
	cr_assert(url != NULL);
	return url;
}

static struct otlp_http *transport(uint32_t timeout_ms, bool gzip, const struct config_pair *headers,
                                   size_t nheaders)
{
	struct otlp_http_config cfg = {.headers = headers, .nheaders = nheaders, .timeout_ms = timeout_ms,
	                               .gzip = gzip};
	char err[256] = "";
	struct otlp_http *t = otlp_http_create(&cfg, err, sizeof err);
	cr_assert(t != NULL, "otlp_http_create: %s", err);
	return t;
}

static double elapsed_s(int64_t since_ms)
{
	return (double)(otlp_http_now_ms() - since_ms) / 1000.0;
}

/* A body that looks like a protobuf message and compresses well. */
static unsigned char *test_body(size_t len)
{
	unsigned char *b = malloc(len);
	cr_assert(b != NULL);
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)("\x0a\x12span-name-\x08\x01"[i % 14] + (i / 997) % 3);
	return b;
}

/* ---- delivery: path, headers, body, keep-alive ---- */

Test(otlp_http, delivers_the_body_with_path_content_type_and_headers)
{
	/* a partial_success-shaped response body (field 1 = message{1: 3, 2: "no"}) */
	receiver_start("200:body=0a0608031202" "6e6f");
	struct config_pair headers[] = {{"x-api-key", "s3cret"}, {"X-Tenant", "a b=c"}, {"X-Empty", ""}};
	struct otlp_http *t = transport(5000, false, headers, 3);
	char *traces = url_for("v1/traces"), *metrics = url_for("v1/metrics");
	size_t len = 3000;
	unsigned char *body = test_body(len);
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, traces, body, len, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s",
	             r.reason);
	cr_expect_eq(r.attempts, 1);
	cr_expect_eq(r.http_status, 200);
	const unsigned char expected_response[] = {0x0a, 0x06, 0x08, 0x03, 0x12, 0x02, 'n', 'o'};
	cr_assert_eq(r.body_len, sizeof expected_response, "the response body is given to the caller");
	cr_expect_arr_eq(r.body, expected_response, sizeof expected_response);
	cr_assert_eq(otlp_http_export(t, metrics, body, 10, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s",
	             r.reason);

	cr_assert_eq(receiver_count(), 2);
	struct otlp_request q;
	receiver_request(0, &q);
	cr_expect_str_eq(q.method, "POST");
	cr_expect_str_eq(q.path, "/v1/traces");
	cr_expect_str_eq(header(&q, "Content-Type"), "application/x-protobuf");
	cr_expect_null(header(&q, "Content-Encoding"), "no gzip unless configured");
	cr_expect_null(header(&q, "Expect"), "no 100-continue round trip");
	cr_expect_str_eq(header(&q, "User-Agent"), "stdbtel/" STDBTEL_VERSION);
	cr_expect_str_eq(header(&q, "x-api-key"), "s3cret");
	cr_expect_str_eq(header(&q, "X-Tenant"), "a b=c");
	cr_expect_not_null(header(&q, "X-Empty"), "an empty value is sent, not dropped");
	cr_assert_eq(q.body_len, len);
	cr_expect_arr_eq(q.body, body, len);
	int first_port = q.client_port;
	request_free(&q);
	receiver_request(1, &q);
	cr_expect_str_eq(q.path, "/v1/metrics");
	cr_assert_eq(q.body_len, 10);
	cr_expect_arr_eq(q.body, body, 10);
	cr_expect_eq(q.client_port, first_port, "the connection is kept alive between exports");
	request_free(&q);
	free(body);
	free(traces);
	free(metrics);
	otlp_http_destroy(t);
}

Test(otlp_http, gzip_sends_content_encoding_and_the_same_bytes)
{
	receiver_start("200");
	struct otlp_http *t = transport(5000, true, NULL, 0);
	char *url = url_for("v1/traces");
	size_t len = 200000;
	unsigned char *body = test_body(len);
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, url, body, len, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	cr_assert_eq(receiver_count(), 1);
	struct otlp_request q;
	receiver_request(0, &q);
	cr_expect_str_eq(header(&q, "Content-Encoding"), "gzip");
	cr_expect_str_eq(header(&q, "Content-Type"), "application/x-protobuf");
	cr_expect_str_eq(q.gzip_error, "-", "the receiver could gunzip it");
	cr_assert_geq(q.raw_len, 2);
	cr_expect(q.raw[0] == 0x1f && q.raw[1] == 0x8b, "a gzip member on the wire");
	cr_expect_lt(q.raw_len, len / 4, "compressed: %zu of %zu bytes", q.raw_len, len);
	cr_assert_eq(q.body_len, len);
	cr_expect_arr_eq(q.body, body, len);
	request_free(&q);
	free(body);
	free(url);
	otlp_http_destroy(t);
}

/* ---- retries ---- */

Test(otlp_http, retries_503_twice_with_backoff_then_delivers_once)
{
	receiver_start("503,503,200");
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	unsigned char *body = test_body(100);
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_assert_eq(otlp_http_export(t, url, body, 100, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	double took = elapsed_s(start);
	cr_expect_eq(r.attempts, 3);
	cr_assert_eq(receiver_count(), 3, "delivered once, after exactly two retries");
	struct otlp_request q[3];
	for (size_t i = 0; i < 3; i++) {
		receiver_request(i, &q[i]);
		cr_expect_arr_eq(q[i].body, body, 100, "request %zu carries the same body", i);
	}
	/* equal jitter: retry 1 waits [0.5, 1) s, retry 2 [1, 2) s (otlp_retry.h) */
	double gap1 = q[1].time - q[0].time, gap2 = q[2].time - q[1].time;
	cr_expect(gap1 >= 0.5 - 0.01 && gap1 < 1.0 + 0.5, "first retry after %.3f s, not in [0.5, 1)", gap1);
	cr_expect(gap2 >= 1.0 - 0.01 && gap2 < 2.0 + 0.5, "second retry after %.3f s, not in [1, 2)", gap2);
	cr_expect_lt(took, 3.0 + 1.0, "the whole export took %.3f s", took);
	for (size_t i = 0; i < 3; i++)
		request_free(&q[i]);
	free(body);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, retry_after_seconds_is_waited_for)
{
	/* 2 s is more than any first backoff (< 1 s): only Retry-After explains the wait */
	receiver_start("429:retry-after=2,200");
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/metrics");
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	cr_assert_eq(receiver_count(), 2);
	struct otlp_request a, b;
	receiver_request(0, &a);
	receiver_request(1, &b);
	double gap = b.time - a.time;
	cr_expect(gap >= 2.0 && gap < 2.0 + 0.7, "retried after %.3f s, Retry-After said 2", gap);
	request_free(&a);
	request_free(&b);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, retry_after_one_second)
{
	receiver_start("429:retry-after=1,200");
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	cr_assert_eq(receiver_count(), 2);
	struct otlp_request a, b;
	receiver_request(0, &a);
	receiver_request(1, &b);
	double gap = b.time - a.time;
	cr_expect(gap >= 1.0 && gap < 1.0 + 0.7, "retried after %.3f s, Retry-After said 1", gap);
	request_free(&a);
	request_free(&b);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, retry_after_http_date_is_waited_for)
{
	/* the date has 1 s resolution: 3 s ahead is a wait in (2, 3] s, above any first backoff */
	receiver_start("503:retry-after=@+3,200");
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	cr_assert_eq(receiver_count(), 2);
	struct otlp_request a, b;
	receiver_request(0, &a);
	receiver_request(1, &b);
	double gap = b.time - a.time;
	cr_expect(gap >= 2.0 && gap < 3.0 + 0.7, "retried after %.3f s, the HTTP-date was 3 s ahead", gap);
	request_free(&a);
	request_free(&b);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, retry_after_beyond_the_timeout_drops_at_once)
{
	receiver_start("503:retry-after=30");
	struct otlp_http *t = transport(3000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	cr_expect_lt(elapsed_s(start), 1.0, "no sleeping into a certain failure");
	cr_expect_eq(r.attempts, 1);
	cr_expect_eq(r.http_status, 503);
	cr_expect_eq(receiver_count(), 1);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, status_400_is_dropped_at_once_without_retry)
{
	receiver_start("400:body=0802");
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	cr_expect_lt(elapsed_s(start), 0.5);
	cr_expect_eq(r.attempts, 1);
	cr_expect_eq(r.http_status, 400);
	cr_expect(strstr(r.reason, "400") != NULL, "reason: %s", r.reason);
	cr_expect_eq(r.body_len, 2, "the error body (google.rpc.Status) is given to the caller");
	usleep(300 * 1000);
	cr_expect_eq(receiver_count(), 1, "one request, no retry");
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, other_permanent_statuses_are_not_retried)
{
	const char *scripts[] = {"401", "404", "413", "500", "501"};
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		receiver_start(scripts[i]);
		struct otlp_http *t = transport(10000, false, NULL, 0);
		char *url = url_for("v1/traces");
		struct otlp_http_result r;
		cr_expect_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED, "%s", scripts[i]);
		cr_expect_eq(r.http_status, atol(scripts[i]));
		cr_expect_eq(receiver_count(), 1, "%s: one request", scripts[i]);
		free(url);
		otlp_http_destroy(t);
		receiver_stop();
	}
}

Test(otlp_http, a_hanging_collector_is_bounded_by_the_timeout)
{
	receiver_start("hang");
	struct otlp_http *t = transport(1500, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	double took = elapsed_s(start);
	cr_expect(took >= 1.4 && took < 1.5 + 0.3, "returned after %.3f s with a 1.5 s timeout", took);
	cr_expect_eq(r.http_status, 0);
	cr_expect_geq(receiver_count(), 1);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, a_caller_deadline_shorter_than_the_timeout_wins)
{
	receiver_start("hang");
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_assert_eq(otlp_http_export(t, url, "x", 1, start + 700, NULL, &r), OTLP_HTTP_DROPPED);
	double took = elapsed_s(start);
	cr_expect(took >= 0.6 && took < 0.7 + 0.3, "returned after %.3f s with a 0.7 s deadline", took);
	free(url);
	otlp_http_destroy(t);
}

/* A 127.0.0.1 port with nothing listening: bound, then closed. */
static int unused_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(s >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
	socklen_t alen = sizeof a;
	cr_assert(getsockname(s, (struct sockaddr *)&a, &alen) == 0);
	close(s);
	return ntohs(a.sin_port);
}

Test(otlp_http, connection_refused_is_retried_then_dropped_at_the_deadline)
{
	struct otlp_http *t = transport(3000, false, NULL, 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", unused_port());
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	double took = elapsed_s(start);
	/* retries at [0.5, 1) and then +[1, 2) s fit in 3 s; the next one (+[2, 4)) cannot */
	cr_expect(r.attempts >= 2 && r.attempts <= 3, "%u attempts", r.attempts);
	cr_expect_eq(r.http_status, 0);
	cr_expect(took >= 1.5 - 0.05 && took < 3.0 + 0.3, "dropped after %.3f s with a 3 s timeout", took);
	cr_expect(strstr(r.reason, "connect") != NULL, "reason: %s", r.reason);
	otlp_http_destroy(t);
}

/* ---- abort ---- */

struct aborter {
	atomic_bool *flag;
	int after_ms;
};

static void *abort_later(void *arg)
{
	struct aborter *a = arg;
	usleep((useconds_t)a->after_ms * 1000);
	atomic_store(a->flag, true);
	return NULL;
}

static void expect_abort_within_bound(const char *script)
{
	receiver_start(script);
	struct otlp_http *t = transport(30000, false, NULL, 0);
	char *url = url_for("v1/traces");
	atomic_bool flag = false;
	struct aborter a = {.flag = &flag, .after_ms = 300};
	pthread_t th;
	cr_assert(pthread_create(&th, NULL, abort_later, &a) == 0);
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	enum otlp_http_outcome o = otlp_http_export(t, url, "x", 1, INT64_MAX, &flag, &r);
	double took = elapsed_s(start);
	pthread_join(th, NULL);
	cr_expect_eq(o, OTLP_HTTP_ABORTED, "%s: %s", script, r.reason);
	/* the flag is seen within OTLP_HTTP_ABORT_POLL_MS; 250 ms of slack on top */
	cr_expect(took >= 0.29 && took < 0.3 + OTLP_HTTP_ABORT_POLL_MS / 1000.0 + 0.25,
	          "%s: returned %.3f s after start, the flag was set at 0.3 s", script, took);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, abort_cuts_off_a_request_in_flight)
{
	expect_abort_within_bound("hang");
}

Test(otlp_http, abort_cuts_off_a_backoff_wait)
{
	expect_abort_within_bound("503:retry-after=20");
}

Test(otlp_http, an_abort_flag_already_set_sends_nothing_more)
{
	receiver_start("200");
	struct otlp_http *t = transport(5000, false, NULL, 0);
	char *url = url_for("v1/traces");
	atomic_bool flag = true;
	struct otlp_http_result r;
	int64_t start = otlp_http_now_ms();
	cr_expect_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, &flag, &r), OTLP_HTTP_ABORTED);
	cr_expect_lt(elapsed_s(start), 0.3);
	free(url);
	otlp_http_destroy(t);
}

/* ---- limits and configuration errors ---- */

Test(otlp_http, a_response_over_4_mib_is_a_permanent_error)
{
	char script[64];
	snprintf(script, sizeof script, "200:bodysize=%u", OTLP_HTTP_MAX_RESPONSE + 1);
	receiver_start(script);
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	cr_expect_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	cr_expect_eq(r.attempts, 1, "not retried");
	cr_expect(strstr(r.reason, "response over") != NULL, "reason: %s", r.reason);
	cr_expect_eq(receiver_count(), 1);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, a_response_of_exactly_4_mib_is_read)
{
	char script[64];
	snprintf(script, sizeof script, "200:bodysize=%u", OTLP_HTTP_MAX_RESPONSE);
	receiver_start(script);
	struct otlp_http *t = transport(10000, false, NULL, 0);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	cr_expect_eq(r.body_len, OTLP_HTTP_MAX_RESPONSE);
	free(url);
	otlp_http_destroy(t);
}

Test(otlp_http, not_an_http_url_is_dropped_without_a_request)
{
	struct otlp_http *t = transport(1000, false, NULL, 0);
	struct otlp_http_result r;
	cr_expect_eq(otlp_http_export(t, "file:///etc/passwd", "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	cr_expect_eq(r.attempts, 0);
	cr_expect_eq(otlp_http_export(t, "ftp://127.0.0.1/", "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	cr_expect_eq(r.attempts, 0);
	otlp_http_destroy(t);
}

Test(otlp_http, header_injection_is_refused_at_create)
{
	const struct config_pair bad[][1] = {{{"X-A", "v\r\nX-Evil: 1"}}, {{"Bad Name", "v"}}, {{"", "v"}},
	                                     {{"X:Y", "v"}}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct otlp_http_config cfg = {.headers = bad[i], .nheaders = 1, .timeout_ms = 1000};
		char err[256] = "";
		struct otlp_http *t = otlp_http_create(&cfg, err, sizeof err);
		cr_expect_null(t, "header \"%s\" accepted", bad[i][0].key);
		cr_expect_neq(err[0], '\0', "a message says why");
		otlp_http_destroy(t);
	}
}

Test(otlp_http, reserved_headers_are_not_sent_twice)
{
	receiver_start("200");
	struct config_pair headers[] = {{"content-type", "text/plain"}, {"X-Ok", "1"}};
	struct otlp_http *t = transport(5000, false, headers, 2);
	char *url = url_for("v1/traces");
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, url, "x", 1, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	struct otlp_request q;
	receiver_request(0, &q);
	cr_expect_str_eq(header(&q, "Content-Type"), "application/x-protobuf");
	cr_expect_str_eq(header(&q, "X-Ok"), "1");
	request_free(&q);
	free(url);
	otlp_http_destroy(t);
}

/* ---- URL and proxy rules (pure) ---- */

Test(otlp_http, signal_url_follows_the_specification)
{
	struct {
		const char *base, *signal, *expected;
	} cases[] = {
		{"http://localhost:4318", NULL, "http://localhost:4318/v1/traces"},
		{"http://localhost:4318/", NULL, "http://localhost:4318/v1/traces"},
		{"http://c:4318/mycollector/", NULL, "http://c:4318/mycollector/v1/traces"},
		{"http://c:4318/mycollector", NULL, "http://c:4318/mycollector/v1/traces"},
		{"http://ignored:1", "http://c:4318", "http://c:4318/"},
		{"http://ignored:1", "http://c:4318/custom/path", "http://c:4318/custom/path"},
		{"http://ignored:1", "https://c:4318?x=1", "https://c:4318/?x=1"},
		{"http://base:1", "", "http://base:1/v1/traces"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *url = otlp_http_signal_url(cases[i].base, cases[i].signal, "v1/traces");
		cr_assert_not_null(url);
		cr_expect_str_eq(url, cases[i].expected, "base %s, signal %s", cases[i].base,
		                 cases[i].signal ? cases[i].signal : "(none)");
		free(url);
	}
	cr_expect_null(otlp_http_signal_url(NULL, NULL, "v1/traces"));
}

static const char *fake_env(const char *name, void *ctx)
{
	const char *const *kv = ctx;
	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

Test(otlp_http, proxy_from_env_follows_libcurl)
{
	const char *env[] = {"http_proxy", "http://p1:3128", "HTTP_PROXY", "http://evil:1", "HTTPS_PROXY",
	                     "http://p2:3128", "NO_PROXY", "localhost,127.0.0.1", NULL, NULL};
	const char *proxy, *no_proxy;
	otlp_http_proxy_from_env("http://c:4318/v1/traces", fake_env, env, &proxy, &no_proxy);
	cr_expect_str_eq(proxy, "http://p1:3128");
	cr_expect_str_eq(no_proxy, "localhost,127.0.0.1");
	otlp_http_proxy_from_env("https://c:4318/v1/traces", fake_env, env, &proxy, &no_proxy);
	cr_expect_str_eq(proxy, "http://p2:3128");
	const char *upper_only[] = {"HTTP_PROXY", "http://evil:1", "all_proxy", "", NULL, NULL};
	otlp_http_proxy_from_env("http://c:4318/v1/traces", fake_env, upper_only, &proxy, &no_proxy);
	cr_expect_null(proxy, "upper-case HTTP_PROXY is ignored for http:// (httpoxy), an empty value is unset");
	cr_expect_null(no_proxy);
	const char *all[] = {"ALL_PROXY", "socks5://s:1080", NULL, NULL};
	otlp_http_proxy_from_env("http://c/", fake_env, all, &proxy, &no_proxy);
	cr_expect_str_eq(proxy, "socks5://s:1080");
}

Test(otlp_http, a_configured_proxy_is_used)
{
	/* the receiver stands in for the proxy: a proxied request carries the absolute URL */
	receiver_start("200");
	char proxy[64];
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", rcv.port);
	struct otlp_http_config cfg = {.timeout_ms = 5000, .proxy = proxy};
	char err[256] = "";
	struct otlp_http *t = otlp_http_create(&cfg, err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	struct otlp_http_result r;
	cr_assert_eq(otlp_http_export(t, "http://collector.invalid:4318/v1/traces", "x", 1, INT64_MAX, NULL, &r),
	             OTLP_HTTP_DELIVERED, "%s", r.reason);
	struct otlp_request q;
	receiver_request(0, &q);
	cr_expect_str_eq(q.path, "http://collector.invalid:4318/v1/traces");
	request_free(&q);
	otlp_http_destroy(t);
}

/* ---- TLS ---- */

/* A self-signed certificate for 127.0.0.1 in dir (openssl CLI); fails the test without openssl. */
static void make_certificate(const char *dir, char *cert, char *key, size_t size)
{
	snprintf(cert, size, "%s/cert.pem", dir);
	snprintf(key, size, "%s/key.pem", dir);
	cr_assert(system("command -v openssl >/dev/null 2>&1") == 0,
	          "openssl (the CLI) is needed to make the TLS test's certificate");
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
	         "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1", key, cert);
	cr_assert(system(cmd) == 0, "openssl could not make a certificate: %s", cmd);
}

Test(otlp_http, https_verifies_the_collector_against_the_given_ca)
{
	char dir[] = "/tmp/stdbtel-otlp-tls-XXXXXX";
	cr_assert(mkdtemp(dir) != NULL);
	char cert[300], key[300];
	make_certificate(dir, cert, key, sizeof cert);
	receiver_start_tls("200", cert, key);
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/traces", rcv.port);

	struct otlp_http_config cfg = {.timeout_ms = 5000, .ca_file = cert};
	char err[256] = "";
	struct otlp_http *t = otlp_http_create(&cfg, err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	struct otlp_http_result r;
	cr_expect_eq(otlp_http_export(t, url, "tls", 3, INT64_MAX, NULL, &r), OTLP_HTTP_DELIVERED, "%s", r.reason);
	otlp_http_destroy(t);
	cr_expect_eq(receiver_count(), 1);

	/* the system CAs do not know this certificate: refused, and not retried */
	struct otlp_http_config system_cas = {.timeout_ms = 5000};
	t = otlp_http_create(&system_cas, err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	cr_expect_eq(otlp_http_export(t, url, "tls", 3, INT64_MAX, NULL, &r), OTLP_HTTP_DROPPED);
	cr_expect_eq(r.attempts, 1, "a certificate error is permanent: %s", r.reason);
	otlp_http_destroy(t);
	cr_expect_eq(receiver_count(), 1, "nothing was delivered without verification");
	unlink(cert);
	unlink(key);
	rmdir(dir);
}
