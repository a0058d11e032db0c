/* SPDX-License-Identifier: MIT */
/*
 * test_http_layer.c: HTTP request spans at the socket layer, with no
 * symbol: the SpacetimeDB-shaped server (tests/standin, Rust std's
 * accept4/recv/send) under the shim with an [http] config and no [[hook]]
 * at all. A client
 * here sends pipelined keep-alive requests on one connection (one with a
 * W3C traceparent), and the test reads back the spans (traces_file,
 * through Python's json parser) and the real statsd daemon's flushes.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peers.h"
#include "run.h"
#include "spans.h"

static struct statsd_daemon sd = { .pid = -1 };
static pid_t server = -1;

static void stop_peers(void)
{
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
		server = -1;
	}
	statsd_daemon_stop(&sd);
}

TestSuite(http_layer, .fini = stop_peers, .timeout = 120);

/* A port nobody listens on now (bound and released: the server takes it next). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

#define TRACE_ID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT_ID "00f067aa0ba902b7"
#define ROUTE_CALL "/v1/database/{name_or_identity}/call/{reducer}"

/* The requests, pipelined on one connection; the last one closes it. */
#define JSON "Content-Type: application/json\r\n"
static const char requests[] =
	"GET /v1/ping HTTP/1.1\r\nHost: t\r\ntraceparent: 00-" TRACE_ID "-" PARENT_ID "-01\r\n\r\n"
	"POST /v1/database/quickstart/call/add HTTP/1.1\r\nHost: t\r\n" JSON "Content-Length: 11\r\n\r\n[1,\"Alice\"]"
	"POST /v1/database/quickstart/call/fail HTTP/1.1\r\nHost: t\r\n" JSON "Content-Length: 3\r\n\r\n[9]"
	"GET /nowhere?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
	"POST /v1/database/quickstart/sql HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\nSELECT * FROM person"
	"POST /v1/database/quickstart/call/add HTTP/1.1\r\nHost: t\r\n" JSON "Content-Length: 9\r\nConnection: close\r\n\r\n[2,\"Bob\"]";

/* Sends the requests and reads every answer to the end; returns how many status lines came back. */
static size_t exchange(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect to the server");
	cr_assert_eq(send(fd, requests, sizeof requests - 1, 0), (ssize_t)(sizeof requests - 1));
	char buf[16384];
	size_t got = 0;
	for (ssize_t n; got < sizeof buf - 1 && (n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0;)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	cr_assert_not_null(strstr(buf, "HTTP/1.1 530"), "the failing reducer's answer:\n%s", buf);
	cr_assert_not_null(strstr(buf, "Alice"), "the select sees the row added before it:\n%s", buf);
	return (size_t)count_lines_containing(buf, "HTTP/1.1 ");
}

/* Etsy statsd's key rules on a name;tag=value key: '/' to '-', anything outside [A-Za-z0-9_.;=-] removed. */
static void statsd_key(char *out, size_t outsz, const char *raw)
{
	size_t o = 0;
	for (const char *c = raw; *c != '\0' && o + 1 < outsz; c++) {
		char ch = *c == '/' ? '-' : *c == ' ' ? '_' : *c;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("_.;=-", ch) != NULL)
			out[o++] = ch;
	}
	out[o] = '\0';
}

static double flushed(size_t from, size_t to, const char *kind, const char *raw_key, const char *fld)
{
	char key[256];
	statsd_key(key, sizeof key, raw_key);
	return statsd_flushes_total(&sd, from, to, kind, key, fld);
}

Test(http_layer, one_span_and_exact_tagged_counts_per_request_without_symbols)
{
	const char *m = getenv("STDBTEL_NODE_MODULES");
	cr_assert(m != NULL && *m, "STDBTEL_NODE_MODULES is not set: scripts/test.sh installs statsd@0.9.0 and sets it");
	statsd_daemon_start(&sd, 200);
	int port = free_port();
	char hooks[1024];
	snprintf(hooks, sizeof hooks,
	         "[http]\nports = [%d]\n"
	         "routes = [\"/v1/ping\", \"" ROUTE_CALL "\", \"/v1/database/{name_or_identity}/sql\"]\n"
	         "params = { reducer = \"spacetimedb.reducer.name\" }\n"
	         "[http.metrics]\ncount = \"test.api.requests\"\nduration = \"test.api.request_duration\"\n",
	         port);
	struct traces_setup ts;
	traces_setup_begin(&ts, hooks);
	char config_var[300], statsd_var[64], port_text[16];
	snprintf(config_var, sizeof config_var, "STDBTEL_CONFIG=%s", ts.config);
	snprintf(statsd_var, sizeof statsd_var, "STATSD_PORT=%u", sd.port);
	snprintf(port_text, sizeof port_text, "%d", port);
	char listen[64];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	char data_dir[] = "/tmp/stdbtel-http-layer-XXXXXX";
	cr_assert_not_null(mkdtemp(data_dir));
	char preload[1024];
	snprintf(preload, sizeof preload, "%s", test_preload_value());
	char *env[] = { preload, config_var, "STATSD_HOST=127.0.0.1", statsd_var, "OTEL_METRIC_EXPORT_INTERVAL=200",
		        "STDBTEL_LOG=warn", NULL };
	char *argv[] = { (char *)test_env_path("STDBTEL_STANDIN"), "start", "--listen-addr", listen, "--data-dir", data_dir,
		         NULL };
	char line[128];
	size_t before = statsd_daemon_flushes(&sd);
	server = peer_start(argv, env, "the stand-in server (tests/standin)", line, sizeof line);
	cr_assert_not_null(strstr(line, listen), "the server says: %s", line);

	size_t answers = exchange(port);
	cr_assert_eq(answers, 6, "answers to the 6 pipelined requests");
	kill(server, SIGTERM);
	int status;
	waitpid(server, &status, 0);
	server = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server did not exit cleanly (status %d)", status);
	char rm[128];
	snprintf(rm, sizeof rm, "rm -rf '%s'", data_dir);
	cr_assert_eq(system(rm), 0);

	/* ---- spans: one per request, named by the route, the ping continuing the caller's trace ---- */
	size_t n;
	struct span_line *spans = read_spans(ts.traces, &n);
	cr_assert_eq(n, 6, "HTTP spans in %s", ts.traces);
	cr_assert_eq(count_named(spans, n, "GET /v1/ping"), 1);
	cr_assert_eq(count_named(spans, n, "POST " ROUTE_CALL), 3);
	cr_assert_eq(count_named(spans, n, "POST /v1/database/{name_or_identity}/sql"), 1);
	cr_assert_eq(count_named(spans, n, "GET"), 1, "an unmatched path is named by its method alone");
	for (size_t i = 0; i < n; i++) {
		cr_assert_leq(spans[i].start_ns, spans[i].end_ns, "%s", spans[i].name);
		if (strcmp(spans[i].name, "GET /v1/ping") == 0) {
			cr_assert_str_eq(spans[i].trace, TRACE_ID, "the traceparent's trace");
			cr_assert_str_eq(spans[i].parent, PARENT_ID, "the traceparent's parent");
		} else {
			cr_assert_str_eq(spans[i].parent, "-", "%s has no caller: a root", spans[i].name);
			cr_assert_str_neq(spans[i].trace, TRACE_ID);
		}
		if (i > 0)
			cr_assert_leq(spans[i - 1].start_ns, spans[i].start_ns, "pipelined requests in order");
	}
	size_t na;
	struct span_attribute *reducers = read_span_attribute(ts.traces, "spacetimedb.reducer.name", &na);
	cr_assert_eq(na, 3, "the reducer parameter on the call spans");
	size_t fails = 0;
	for (size_t i = 0; i < n; i++) {
		const char *r = span_attribute_of(reducers, na, spans[i].span);
		if (r != NULL && strcmp(r, "fail") == 0) {
			fails++;
			cr_assert_eq(spans[i].status, 2, "the 530 is an error");
		} else {
			cr_assert_eq(spans[i].status, 0, "%s: status unset below 500", spans[i].name);
		}
	}
	cr_assert_eq(fails, 1);
	span_attributes_free(reducers, na);
	struct span_attribute *paths = read_span_attribute(ts.traces, "url.path", &na);
	cr_assert_eq(na, 6);
	size_t nowhere = 0;
	for (size_t i = 0; i < na; i++)
		nowhere += strcmp(paths[i].value, "/nowhere") == 0; /* the query is not the path */
	cr_assert_eq(nowhere, 1);
	span_attributes_free(paths, na);
	free(spans);

	/* ---- StatsD: counts per method, route, status and reducer ---- */
	statsd_daemon_next_flush(&sd);
	size_t last = statsd_daemon_next_flush(&sd);
	const char *call = "test.api.requests;method=POST;path=" ROUTE_CALL;
	char key[256];
	snprintf(key, sizeof key, "%s;status=200;reducer=add", call);
	cr_assert_eq(flushed(before + 1, last, "counter", key, NULL), 2, "%s", key);
	snprintf(key, sizeof key, "%s;status=530;reducer=fail", call);
	cr_assert_eq(flushed(before + 1, last, "counter", key, NULL), 1, "%s", key);
	cr_assert_eq(flushed(before + 1, last, "counter", "test.api.requests;method=GET;path=/v1/ping;status=200", NULL), 1);
	cr_assert_eq(flushed(before + 1, last, "counter", "test.api.requests;method=GET;path=unmatched;status=404", NULL), 1);
	cr_assert_eq(flushed(before + 1, last, "counter",
	                     "test.api.requests;method=POST;path=/v1/database/{name_or_identity}/sql;status=200", NULL), 1);
	snprintf(key, sizeof key, "test.api.request_duration;method=POST;path=%s;status=200;reducer=add", ROUTE_CALL);
	cr_assert_eq(flushed(before + 1, last, "timer", key, "count"), 2, "%s", key);
	traces_setup_end(&ts);
}
