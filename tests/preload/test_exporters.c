/* SPDX-License-Identifier: MIT */
/*
 * test_exporters.c: the shim end to end. tests/targets/c_target.c runs
 * under LD_PRELOAD=libstdbtel.so with hooks on db_insert, db_select and
 * row_hash, and exports to real peers started by each test on 127.0.0.1
 * (tests/support/peers.c): the scripted OTLP/HTTP receiver
 * (otlp_receiver.py) and the Etsy statsd 0.9 daemon. What arrived is read
 * back from the peers' records: request bodies decoded by the independent
 * decoder (tests/support/otlp_decode.js, protobufjs with the official OTLP
 * schema), statsd's flushed values. Expected values are computed from the
 * rounds the target ran (c_target's tables: 4 of 64 rows, round r inserts
 * into table r % 4, a full table makes db_insert return -1 without calling
 * row_hash), never read from what the shim sent.
 *
 * The fault tests point the shim at a closed port, a collector answering
 * 503 before 200, and one that never answers: the program's output and
 * status stay what they are without the shim, its exit is delayed by at
 * most the exporter's shutdown bound, and spans delivered after recovery
 * arrive once each. Every peer is stopped by pid in the suite's .fini,
 * also when a test fails.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "peers.h"
#include "run.h"

/* ---- peers of the running test (each Criterion test is its own process) ---- */

static struct otlp_receiver rcv;
static struct statsd_daemon sd;

static void peers_init(void)
{
	rcv.pid = 0;
	rcv.dir[0] = '\0';
	sd.pid = -1;
	sd.dir[0] = '\0';
}

static void peers_fini(void)
{
	otlp_receiver_stop(&rcv);
	statsd_daemon_stop(&sd);
}

TestSuite(exporters, .init = peers_init, .fini = peers_fini, .timeout = 150);

/* The npm packages the decoder and statsd need: present, or the test fails saying so. */
static const char *node_modules(void)
{
	const char *m = getenv("STDBTEL_NODE_MODULES");
	cr_assert(m != NULL && *m != '\0',
	          "STDBTEL_NODE_MODULES is not set: scripts/test.sh installs statsd@0.9.0 and "
	          "@opentelemetry/otlp-transformer@0.216.0 into build-npm/ and exports it "
	          "(by hand: export STDBTEL_NODE_MODULES=$PWD/build-npm/node_modules)");
	char path[4096];
	snprintf(path, sizeof path, "%s/@opentelemetry/otlp-transformer/build/src/generated/root.js", m);
	cr_assert_eq(access(path, R_OK), 0, "%s is missing: npm package @opentelemetry/otlp-transformer@0.216.0 "
	             "is not installed under STDBTEL_NODE_MODULES", path);
	return m;
}

/* ---- what c_target does ---- */

struct rounds_expect {
	unsigned rounds;
	size_t inserts, insert_errors, selects, hashes;
};

static struct rounds_expect expect_rounds(unsigned rounds)
{
	struct rounds_expect e = { .rounds = rounds, .inserts = rounds, .selects = rounds };
	size_t rows[4] = { 0 };
	for (unsigned r = 0; r < rounds; r++) {
		if (rows[r % 4] < 64) {
			rows[r % 4]++;
			e.hashes++;
		} else {
			e.insert_errors++;
		}
	}
	return e;
}

#define SERVICE_NAME "c-target-e2e"
#define EXECUTABLE "c_target_pie"
#define CUSTOM_HEADER "X-Stdbtel-E2e"
#define CUSTOM_VALUE "run 42"

/*
 * The config: telemetry_extra goes into [telemetry]; the hooks and their
 * metric names are fixed. log_level warn: a run that goes well prints nothing.
 */
static char *write_config_with_hooks(const char *telemetry_extra, const char *hooks)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text,
		"[telemetry]\nenabled = true\nlog_level = \"warn\"\nservice_name = \"" SERVICE_NAME "\"\n%s"
		"[telemetry.sampling]\ntraces_per_second = 100000\n%s",
		telemetry_extra ? telemetry_extra : "", hooks), 0);
	char *path = write_temp_file(text, ".toml");
	free(text);
	return path;
}

static char *write_config(const char *telemetry_extra)
{
	return write_config_with_hooks(telemetry_extra,
		"[[hook]]\nsymbol = \"db_insert\"\nkind = \"client\"\n"
		"[hook.error]\nwhen = \"negative\"\ntype = \"i32\"\n"
		"[hook.metrics]\ncount = \"test.db.inserts\"\nerrors = \"test.db.insert_errors\"\n"
		"duration = \"test.db.insert_duration\"\n"
		"[[hook]]\nsymbol = \"db_select\"\nkind = \"server\"\n"
		"[hook.metrics]\ncount = \"test.db.selects\"\n"
		"[[hook]]\nsymbol = \"row_hash\"\n");
}

/* ---- running the target ---- */

struct timed_run {
	struct run_result r;
	double seconds;                  /* wall time, start to exit */
	uint64_t start_unix_ns, end_unix_ns;
};

static uint64_t unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs c_target (PIE) with rounds, under the shim with config when preload,
 * in an environment cleared of every variable the exporters read, plus
 * extra ("NAME=value" entries, NULL-terminated; NULL for none).
 */
static struct timed_run run_c_target(unsigned rounds, const char *config, bool preload, char *const *extra)
{
	char rounds_text[16];
	snprintf(rounds_text, sizeof rounds_text, "%u", rounds);
	char *argv[] = { (char *)test_env_path("STDBTEL_TARGET_C_PIE"), rounds_text, NULL };
	char config_var[4096];
	snprintf(config_var, sizeof config_var, "STDBTEL_CONFIG=%s", config ? config : "");
	char *base[] = {
		preload ? (char *)test_preload_value() : "-LD_PRELOAD", config ? config_var : "-STDBTEL_CONFIG",
		"-STDBTEL_LOG", "-SPACETIMEDB_TELEMETRY_ENABLED", "-OTEL_SDK_DISABLED",
		"-OTEL_EXPORTER_OTLP_ENDPOINT", "-OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"-OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "-OTEL_EXPORTER_OTLP_HEADERS",
		"-OTEL_EXPORTER_OTLP_COMPRESSION", "-OTEL_EXPORTER_OTLP_TIMEOUT", "-OTEL_EXPORTER_OTLP_PROTOCOL",
		"-OTEL_EXPORTER_OTLP_CERTIFICATE", "-OTEL_TRACES_EXPORTER", "-OTEL_METRICS_EXPORTER",
		"-OTEL_BSP_SCHEDULE_DELAY", "-OTEL_BSP_EXPORT_TIMEOUT", "-OTEL_BSP_MAX_QUEUE_SIZE",
		"-OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-OTEL_METRIC_EXPORT_INTERVAL", "-OTEL_SERVICE_NAME",
		"-OTEL_SERVICE_VERSION", "-OTEL_RESOURCE_ATTRIBUTES", "-OTEL_TRACES_SAMPLER",
		"-OTEL_TRACES_SAMPLER_ARG", "-STATSD_HOST", "-STATSD_PORT", "-http_proxy", "-https_proxy",
		"-HTTPS_PROXY", "-all_proxy", "-ALL_PROXY",
	};
	enum { NBASE = sizeof base / sizeof base[0] };
	char *env[NBASE + 32];
	size_t n = 0;
	for (; n < NBASE; n++)
		env[n] = base[n];
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		cr_assert_lt(n, NBASE + 31);
		env[n++] = extra[i];
	}
	env[n] = NULL;
	struct timed_run t;
	t.start_unix_ns = unix_ns();
	double t0 = mono_s();
	cr_assert_eq(run_program(argv, env, &t.r), 0, "cannot start %s", argv[0]);
	t.seconds = mono_s() - t0;
	t.end_unix_ns = unix_ns();
	return t;
}

/* The fastest of three runs without the shim: the baseline of the timing bounds. */
static struct timed_run run_plain(unsigned rounds)
{
	struct timed_run best = { 0 };
	for (int i = 0; i < 3; i++) {
		struct timed_run t = run_c_target(rounds, NULL, false, NULL);
		cr_assert_eq(t.r.status, 0, "c_target itself failed: %s", t.r.err);
		cr_assert_gt(strlen(t.r.out), 0, "c_target printed nothing");
		if (i == 0 || t.seconds < best.seconds) {
			run_result_free(&best.r);
			best = t;
		} else {
			run_result_free(&t.r);
		}
	}
	return best;
}

/* stdout and status as without the shim; every stderr line is the shim's, at most max_lines of them. */
static void assert_unchanged(const struct timed_run *shim, const struct timed_run *plain, size_t max_lines)
{
	cr_assert_str_eq(shim->r.out, plain->r.out, "stdout changed under the shim (status %d); stderr:\n%s",
	                 shim->r.status, shim->r.err);
	cr_assert_eq(shim->r.status, plain->r.status, "exit status changed under the shim; stderr:\n%s", shim->r.err);
	size_t lines = count_lines_containing(shim->r.err, "");
	cr_assert_eq(count_lines_containing(shim->r.err, "stdbtel: "), lines, "stderr has lines not from the shim:\n%s",
	             shim->r.err);
	cr_assert_leq(lines, max_lines, "more than %zu stdbtel lines:\n%s", max_lines, shim->r.err);
}

static char *endpoint_var(const char *name, const char *path)
{
	char *v = NULL;
	cr_assert_geq(asprintf(&v, "%s=http://127.0.0.1:%d%s", name, rcv.port, path ? path : ""), 0);
	return v;
}

/* ---- the independent decoder ---- */

/* otlp_decode.js's lines for the body in file path (kind "traces" or "metrics"); free() them. */
static char *decode_file(const char *kind, const char *path)
{
	node_modules();
	char *cmd = NULL;
	cr_assert_geq(asprintf(&cmd, "command -v node >/dev/null || { echo 'node is not installed "
	                             "(scripts/test.sh installs nodejs)' >&2; exit 127; }; "
	                             "node '%s/tests/support/otlp_decode.js' %s '%s'",
	                       test_env_path("STDBTEL_SOURCE_ROOT"), kind, path), 0);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, NULL, &r), 0);
	free(cmd);
	cr_assert_eq(r.status, 0, "the independent decoder rejected %s (status %d):\n%s", path, r.status, r.err);
	free(r.err);
	return r.out;
}

/* ---- the spans that arrived ---- */

struct e2e_span {
	char trace[33], span[17], parent[17];
	char name[64];
	char function[64];           /* code.function.name, "" when absent */
	int kind, status;
	unsigned flags;
	uint64_t start, end;
	size_t request;              /* index of the request that brought it */
};

struct capture {
	struct e2e_span *spans;
	size_t n, cap;
	size_t trace_requests, metric_requests;
	size_t max_batch;            /* most spans in one request */
	long long pid;               /* process.pid of the resource; 0 before the first body */
};

/* Reads a decoded resource line into *pid, checking the attributes every body must have. */
static void check_resource_line(struct capture *c, const char *line, bool *name, bool *exe, bool *sdk)
{
	char key[128], value[256];
	if (sscanf(line, "resource %127s %255[^\n]", key, value) != 2)
		return;
	if (strcmp(key, "service.name") == 0) {
		cr_assert_str_eq(value, "string=\"" SERVICE_NAME "\"");
		*name = true;
	} else if (strcmp(key, "process.executable.name") == 0) {
		cr_assert_str_eq(value, "string=\"" EXECUTABLE "\"");
		*exe = true;
	} else if (strcmp(key, "telemetry.sdk.name") == 0) {
		cr_assert_str_eq(value, "string=\"stdbtel\"");
		*sdk = true;
	} else if (strcmp(key, "process.pid") == 0) {
		cr_assert_eq(strncmp(value, "int=", 4), 0, "process.pid %s", value);
		long long pid = atoll(value + 4);
		cr_assert_gt(pid, 1, "process.pid %s", value);
		cr_assert_neq(pid, (long long)getpid(), "process.pid is the test's, not the target's");
		if (c->pid == 0)
			c->pid = pid;
		cr_assert_eq(pid, c->pid, "process.pid differs between bodies of one run");
	}
}

static void check_resource_seen(bool name, bool exe, bool sdk, size_t request)
{
	cr_assert(name && exe && sdk, "request %zu: resource without service.name, process.executable.name "
	          "or telemetry.sdk.name", request);
}

#define FUNCTION_ATTR "attr code.function.name string=\""

/* Adds the spans of a decoded ExportTraceServiceRequest. */
static void add_spans(struct capture *c, const char *decoded, size_t request)
{
	bool name = false, exe = false, sdk = false;
	size_t in_body = 0;
	struct e2e_span *last = NULL;
	for (const char *line = decoded; *line != '\0';) {
		const char *end = strchrnul(line, '\n');
		char buf[4096];
		snprintf(buf, sizeof buf, "%.*s", (int)(end - line), line);
		if (strncmp(buf, "resource ", 9) == 0) {
			check_resource_line(c, buf, &name, &exe, &sdk);
		} else if (strncmp(buf, "span ", 5) == 0) {
			if (c->n == c->cap) {
				c->cap = c->cap ? 2 * c->cap : 256;
				c->spans = realloc(c->spans, c->cap * sizeof *c->spans);
				cr_assert_not_null(c->spans);
			}
			last = &c->spans[c->n++];
			memset(last, 0, sizeof *last);
			last->request = request;
			cr_assert_eq(sscanf(buf, "span %32s %16s %16s \"%63[^\"]\" kind=%d start=%" SCNu64 " end=%" SCNu64
			                         " flags=%u status=%d",
			                    last->trace, last->span, last->parent, last->name, &last->kind, &last->start,
			                    &last->end, &last->flags, &last->status), 9, "cannot read: %s", buf);
			in_body++;
		} else if (strncmp(buf, FUNCTION_ATTR, strlen(FUNCTION_ATTR)) == 0 && last != NULL) {
			const char *v = buf + strlen(FUNCTION_ATTR);
			snprintf(last->function, sizeof last->function, "%.*s", (int)strcspn(v, "\""), v);
		}
		line = *end ? end + 1 : end;
	}
	check_resource_seen(name, exe, sdk, request);
	cr_assert_gt(in_body, 0, "request %zu carried no span", request);
	if (in_body > c->max_batch)
		c->max_batch = in_body;
}

/* What every request of a run must look like. */
struct request_rules {
	const char *traces_path, *metrics_path; /* the only paths allowed (NULL: that signal must not come) */
	bool gzip;
	bool custom_header;
	size_t first_delivered;                 /* spans count from this request on (earlier ones were refused) */
};

/* Checks every recorded request against rules; decodes the trace bodies into c. */
static void read_requests(struct capture *c, const struct request_rules *rules)
{
	memset(c, 0, sizeof *c);
	size_t n = otlp_receiver_count(&rcv);
	for (size_t i = 0; i < n; i++) {
		struct otlp_request q;
		otlp_receiver_request(&rcv, i, &q);
		cr_assert_str_eq(q.method, "POST", "request %zu", i);
		bool traces = rules->traces_path != NULL && strcmp(q.path, rules->traces_path) == 0;
		bool metrics = rules->metrics_path != NULL && strcmp(q.path, rules->metrics_path) == 0;
		cr_assert(traces || metrics, "request %zu went to %s (allowed: %s, %s)", i, q.path,
		          rules->traces_path ? rules->traces_path : "-", rules->metrics_path ? rules->metrics_path : "-");
		const char *type = otlp_request_header(&q, "Content-Type");
		cr_assert_not_null(type, "request %zu has no Content-Type", i);
		cr_assert_str_eq(type, "application/x-protobuf", "request %zu", i);
		if (rules->custom_header) {
			const char *v = otlp_request_header(&q, CUSTOM_HEADER);
			cr_assert_not_null(v, "request %zu lacks the OTEL_EXPORTER_OTLP_HEADERS header", i);
			cr_assert_str_eq(v, CUSTOM_VALUE, "request %zu", i);
		}
		const char *encoding = otlp_request_header(&q, "Content-Encoding");
		if (rules->gzip) {
			cr_assert_not_null(encoding, "request %zu is not gzipped", i);
			cr_assert_str_eq(encoding, "gzip");
			cr_assert_str_eq(q.gzip_error, "-", "request %zu: the body does not gunzip: %s", i, q.gzip_error);
			cr_assert(q.raw_len != q.body_len || memcmp(q.raw, q.body, q.raw_len) != 0,
			          "request %zu: Content-Encoding gzip but the body is not compressed", i);
		} else {
			cr_assert_null(encoding, "request %zu: Content-Encoding %s without compression configured", i,
			               encoding);
		}
		cr_assert_gt(q.body_len, 0, "request %zu has an empty body", i);
		if (traces) {
			c->trace_requests++;
			if (i >= rules->first_delivered) {
				char *decoded = decode_file("traces", q.body_path);
				add_spans(c, decoded, i);
				free(decoded);
			}
		} else {
			c->metric_requests++;
		}
		otlp_request_free(&q);
	}
}

static int by_span_id(const void *a, const void *b)
{
	return strcmp(((const struct e2e_span *)a)->span, ((const struct e2e_span *)b)->span);
}

static const struct e2e_span *find_id(const struct capture *c, const char *id)
{
	struct e2e_span key;
	snprintf(key.span, sizeof key.span, "%s", id);
	return bsearch(&key, c->spans, c->n, sizeof *c->spans, by_span_id);
}

static size_t count_name(const struct capture *c, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		k += strcmp(c->spans[i].name, name) == 0;
	return k;
}

/*
 * Every span of the run, once: counts per name from the rounds, unique ids,
 * row_hash the child of a successful db_insert in its trace and time,
 * roots in traces of their own, kinds, times within the run, status.
 */
static void check_spans(struct capture *c, const struct rounds_expect *e, const struct timed_run *run)
{
	cr_assert_eq(count_name(c, "db_insert"), e->inserts, "db_insert spans (%zu requests)", c->trace_requests);
	cr_assert_eq(count_name(c, "db_select"), e->selects, "db_select spans");
	cr_assert_eq(count_name(c, "row_hash"), e->hashes, "row_hash spans");
	cr_assert_eq(c->n, e->inserts + e->selects + e->hashes, "no other spans");
	qsort(c->spans, c->n, sizeof *c->spans, by_span_id);
	for (size_t i = 1; i < c->n; i++)
		cr_assert_str_neq(c->spans[i - 1].span, c->spans[i].span, "span id %s arrived twice (requests %zu, %zu)",
		                  c->spans[i].span, c->spans[i - 1].request, c->spans[i].request);
	/* Children per db_insert, and the roots' traces (each its own). */
	size_t *children = calloc(c->n, sizeof *children);
	char (*root_traces)[33] = calloc(c->n, sizeof *root_traces);
	cr_assert(children != NULL && root_traces != NULL);
	size_t roots = 0, errors = 0;
	const uint64_t slack = 1000000000u; /* 1 s: the ticks-to-Unix conversion against the wall clock */
	for (size_t i = 0; i < c->n; i++) {
		const struct e2e_span *s = &c->spans[i];
		cr_assert_str_eq(s->function, s->name, "span %s: code.function.name", s->span);
		cr_assert_leq(s->start, s->end, "%s %s ends before it starts", s->name, s->span);
		cr_assert(s->start + slack >= run->start_unix_ns && s->end <= run->end_unix_ns + slack,
		          "%s %s at %" PRIu64 "..%" PRIu64 ", outside the run %" PRIu64 "..%" PRIu64, s->name, s->span,
		          s->start, s->end, run->start_unix_ns, run->end_unix_ns);
		cr_assert(s->flags & 1, "%s %s is not flagged sampled (flags %u)", s->name, s->span, s->flags);
		cr_assert_eq(strspn(s->trace, "0123456789abcdef"), 32, "trace id %s", s->trace);
		if (strcmp(s->name, "row_hash") == 0) {
			cr_assert_eq(s->kind, 1, "row_hash kind (internal)");
			cr_assert_eq(s->status, 0, "row_hash status");
			const struct e2e_span *p = find_id(c, s->parent);
			cr_assert_not_null(p, "row_hash %s: parent %s never arrived", s->span, s->parent);
			cr_assert_str_eq(p->name, "db_insert", "row_hash's parent");
			cr_assert_str_eq(p->trace, s->trace, "row_hash is not in its parent's trace");
			cr_assert(p->start <= s->start && s->end <= p->end, "row_hash %s is not within its parent's time",
			          s->span);
			children[p - c->spans]++;
			continue;
		}
		cr_assert_str_eq(s->parent, "-", "%s should be a root", s->name);
		memcpy(root_traces[roots++], s->trace, 33);
		if (strcmp(s->name, "db_insert") == 0) {
			cr_assert_eq(s->kind, 3, "db_insert kind (client)");
			cr_assert(s->status == 0 || s->status == 2, "db_insert status %d", s->status);
			errors += s->status == 2;
		} else {
			cr_assert_eq(s->kind, 2, "db_select kind (server)");
			cr_assert_eq(s->status, 0, "db_select status");
		}
	}
	cr_assert_eq(errors, e->insert_errors, "db_insert spans with error status");
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->spans[i].name, "db_insert") == 0)
			cr_assert_eq(children[i], c->spans[i].status == 2 ? 0u : 1u,
			             "db_insert %s (status %d) has %zu row_hash children", c->spans[i].span,
			             c->spans[i].status, children[i]);
	qsort(root_traces, roots, sizeof *root_traces, (int (*)(const void *, const void *))strcmp);
	for (size_t i = 1; i < roots; i++)
		cr_assert_str_neq(root_traces[i - 1], root_traces[i], "two roots share trace %s", root_traces[i]);
	free(children);
	free(root_traces);
}

/* ---- 1. spans ---- */

enum { ROUNDS = 300, BATCH = 64 };

Test(exporters, spans_reach_the_collector_with_headers_field_by_field)
{
	node_modules();
	otlp_receiver_start(&rcv, "200", NULL, NULL);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	char *extra[] = { endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=64",
		          "OTEL_EXPORTER_OTLP_HEADERS=" CUSTOM_HEADER "=run%2042", "OTEL_METRIC_EXPORT_INTERVAL=100",
		          NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 0);

	struct rounds_expect e = expect_rounds(ROUNDS);
	struct request_rules rules = { .traces_path = "/v1/traces", .metrics_path = "/v1/metrics",
		                       .custom_header = true };
	struct capture c;
	read_requests(&c, &rules);
	size_t total = e.inserts + e.selects + e.hashes;
	cr_assert_geq(c.trace_requests, (total + BATCH - 1) / BATCH, "%zu spans in %zu requests", c.n,
	              c.trace_requests);
	cr_assert_leq(c.max_batch, BATCH, "a request carried %zu spans, above OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	              c.max_batch);
	cr_assert_geq(c.metric_requests, 1, "no /v1/metrics request (metrics are on with the endpoint)");
	check_spans(&c, &e, &shim);
	free(c.spans);
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

Test(exporters, spans_gzipped_to_the_traces_endpoint_as_given)
{
	node_modules();
	otlp_receiver_start(&rcv, "200", NULL, NULL);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/custom/spans");
	char *extra[] = { endpoint, "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", "OTEL_BSP_SCHEDULE_DELAY=100",
		          "OTEL_METRICS_EXPORTER=none", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 0);

	struct rounds_expect e = expect_rounds(ROUNDS);
	/* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given; metrics are off and have no endpoint anyway. */
	struct request_rules rules = { .traces_path = "/custom/spans", .gzip = true };
	struct capture c;
	read_requests(&c, &rules);
	cr_assert_gt(c.trace_requests, 0);
	check_spans(&c, &e, &shim);
	free(c.spans);
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

Test(exporters, spans_leave_on_schedule_while_a_daemon_like_host_runs)
{
	/*
	 * C_TARGET_DAEMON_FILE: c_target first closes every descriptor above 2
	 * (as a daemon does), runs its rounds, then keeps its own data file open
	 * for 1.5 s. With a 100 ms schedule the spans leave during that nap,
	 * not only at exit, the shim's sockets survive the host closing
	 * descriptors, and nothing of the shim's lands in the host's file.
	 */
	node_modules();
	otlp_receiver_start(&rcv, "200", NULL, NULL);
	char data[] = "/tmp/stdbtel-e2e-data-XXXXXX";
	int fd = mkstemp(data);
	cr_assert_geq(fd, 0);
	close(fd);
	char *data_var = NULL;
	cr_assert_geq(asprintf(&data_var, "C_TARGET_DAEMON_FILE=%s", data), 0);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	char *extra[] = { endpoint, data_var, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRIC_EXPORT_INTERVAL=100", NULL };
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	cr_assert_eq(shim.r.status, 0, "stderr:\n%s", shim.r.err);
	char *written = peers_read_text(data);
	cr_assert_not_null(written);
	char want[128];
	snprintf(want, sizeof want, "%s", shim.r.out);
	bool only_its_line = strcmp(written, want) == 0;
	free(written);
	cr_assert(only_its_line, "the host's own file holds more than its summary line");
	cr_assert_eq(strncmp(want, "c_target: ", 10), 0, "stdout: %s", shim.r.out);

	double end = (double)shim.end_unix_ns / 1e9;
	size_t n = otlp_receiver_count(&rcv), early_traces = 0, early_metrics = 0;
	for (size_t i = 0; i < n; i++) {
		struct otlp_request q;
		otlp_receiver_request(&rcv, i, &q);
		/* The nap is 1.5 s; 250 ms before the exit is well inside it. */
		if (q.time < end - 0.25) {
			early_traces += strcmp(q.path, "/v1/traces") == 0;
			early_metrics += strcmp(q.path, "/v1/metrics") == 0;
		}
		otlp_request_free(&q);
	}
	cr_assert_gt(early_traces, 0, "no span left before the exit (OTEL_BSP_SCHEDULE_DELAY=100, %zu requests); "
	             "stderr:\n%s", n, shim.r.err);
	cr_assert_gt(early_metrics, 0, "no metrics before the exit (OTEL_METRIC_EXPORT_INTERVAL=100)");
	struct rounds_expect e = expect_rounds(ROUNDS);
	struct request_rules rules = { .traces_path = "/v1/traces", .metrics_path = "/v1/metrics" };
	struct capture c;
	read_requests(&c, &rules);
	check_spans(&c, &e, &shim);
	free(c.spans);
	unlink(data);
	free(data_var);
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&shim.r);
}

/* ---- 2. OTLP metrics ---- */

struct metric_point {
	char name[96], unit[32];
	bool histogram;
	int temporality;
	bool monotonic;
	uint64_t start, time;
	long long value;             /* a sum's as_int; a histogram's count */
	char attrs[256];             /* the decoder's attrs=[...] of the point */
	long long zero_count, bucket_total;
	int scale;
	double sum, min, max;
	size_t request;
};

struct metric_set {
	struct metric_point *p;
	size_t n, cap;
};

static long long bucket_total(const char *spec)
{
	/* OFFSET:[c,c,...] or - */
	const char *open = strchr(spec, '[');
	if (open == NULL)
		return 0;
	long long total = 0;
	for (const char *p = open + 1; *p != '\0' && *p != ']';) {
		char *end;
		total += strtoll(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p != ']')
			break;
	}
	return total;
}

static const char *field(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	cr_assert_not_null(p, "no %s in: %s", key, line);
	return p + strlen(key);
}

/* Adds the points of a decoded ExportMetricsServiceRequest. */
static void add_metrics(struct metric_set *m, struct capture *c, const char *decoded, size_t request)
{
	bool name = false, exe = false, sdk = false;
	struct metric_point cur = { 0 };
	bool have_metric = false;
	for (const char *line = decoded; *line != '\0';) {
		const char *end = strchrnul(line, '\n');
		char buf[8192];
		snprintf(buf, sizeof buf, "%.*s", (int)(end - line), line);
		line = *end ? end + 1 : end;
		if (strncmp(buf, "resource ", 9) == 0) {
			check_resource_line(c, buf, &name, &exe, &sdk);
		} else if (strncmp(buf, "metric ", 7) == 0) {
			memset(&cur, 0, sizeof cur);
			cur.request = request;
			cr_assert_eq(sscanf(buf, "metric %95s unit=\"%31[^\"]\"", cur.name, cur.unit), 2, "%s", buf);
			have_metric = true;
		} else if (strncmp(buf, "sum ", 4) == 0) {
			cur.histogram = false;
			cur.temporality = atoi(field(buf, "temporality="));
			cur.monotonic = strncmp(field(buf, "monotonic="), "true", 4) == 0;
		} else if (strncmp(buf, "exphist ", 8) == 0) {
			cur.histogram = true;
			cur.temporality = atoi(field(buf, "temporality="));
		} else if (strncmp(buf, "point ", 6) == 0) {
			cr_assert(have_metric, "a point before its metric: %s", buf);
			cur.start = strtoull(field(buf, "start="), NULL, 10);
			cur.time = strtoull(field(buf, "time="), NULL, 10);
			snprintf(cur.attrs, sizeof cur.attrs, "%s", field(buf, "attrs="));
			if (!cur.histogram) {
				cur.value = atoll(field(buf, "as_int="));
				goto add;
			}
		} else if (strncmp(buf, "hist ", 5) == 0) {
			cur.value = atoll(field(buf, "count="));
			cur.sum = strtod(field(buf, "sum="), NULL);
			cur.min = strtod(field(buf, "min="), NULL);
			cur.max = strtod(field(buf, "max="), NULL);
			cur.scale = atoi(field(buf, "scale="));
			cur.zero_count = atoll(field(buf, "zero_count="));
			cur.bucket_total = bucket_total(field(buf, "positive="));
			goto add;
		}
		continue;
	add:
		if (m->n == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 64;
			m->p = realloc(m->p, m->cap * sizeof *m->p);
			cr_assert_not_null(m->p);
		}
		m->p[m->n++] = cur;
	}
	check_resource_seen(name, exe, sdk, request);
}

/* The point of name with attrs ("[...]" as decoded) from the latest request that has it; NULL when none has. */
static const struct metric_point *latest_point(const struct metric_set *m, const char *name, const char *attrs)
{
	const struct metric_point *found = NULL;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->p[i].name, name) == 0 && strcmp(m->p[i].attrs, attrs) == 0 &&
		    (found == NULL || m->p[i].request >= found->request))
			found = &m->p[i];
	return found;
}

/* The untagged point of name from the latest request that has it; fails when none has. */
static const struct metric_point *latest(const struct metric_set *m, const char *name)
{
	const struct metric_point *found = latest_point(m, name, "[]");
	cr_assert_not_null(found, "no metric %s without attributes arrived", name);
	return found;
}

/* Every point of name: one kind, unit, cumulative, one start, non-decreasing over time. */
static void check_series(const struct metric_set *m, const char *name, const char *unit, bool histogram)
{
	bool any = false;
	for (size_t i = 0; i < m->n; i++) {
		const struct metric_point *p = &m->p[i];
		if (strcmp(p->name, name) != 0)
			continue;
		any = true;
		cr_assert_str_eq(p->unit, unit, "%s unit", name);
		cr_assert_eq(p->histogram, histogram, "%s type", name);
		cr_assert_eq(p->temporality, 2, "%s is not cumulative", name);
		if (!histogram)
			cr_assert(p->monotonic, "%s is not monotonic", name);
		cr_assert_leq(p->start, p->time, "%s: start after time", name);
		/* the same series (attributes) earlier: points arrive in request order */
		const struct metric_point *prev = NULL;
		for (size_t j = i; j-- > 0 && prev == NULL;)
			if (strcmp(m->p[j].name, name) == 0 && strcmp(m->p[j].attrs, p->attrs) == 0)
				prev = &m->p[j];
		if (prev != NULL) {
			cr_assert_eq(p->start, prev->start, "%s%s: the cumulative start moved", name, p->attrs);
			cr_assert_geq(p->time, prev->time, "%s%s: time went back", name, p->attrs);
			cr_assert_geq(p->value, prev->value, "%s%s: a cumulative value went down", name, p->attrs);
		}
	}
	cr_assert(any, "no metric %s arrived", name);
}

static void check_histogram(const struct metric_point *h, long long calls)
{
	cr_assert_eq(h->value, calls, "%s count", h->name);
	cr_assert_eq(h->bucket_total + h->zero_count, h->value, "%s: buckets hold %lld + %lld zero of %lld", h->name,
	             h->bucket_total, h->zero_count, h->value);
	cr_assert_eq(h->scale, 3, "%s scale", h->name);
	cr_assert(h->min > 0 && h->min <= h->max && h->max < 1.0, "%s: min %g max %g (seconds)", h->name, h->min,
	          h->max);
	double eps = 1e-12 * (double)calls;
	cr_assert(h->sum >= h->min * (double)calls - eps && h->sum <= h->max * (double)calls + eps,
	          "%s: sum %g outside count x [min, max]", h->name, h->sum);
}

Test(exporters, metrics_cumulative_and_exact_from_the_config_endpoint)
{
	node_modules();
	otlp_receiver_start(&rcv, "200", NULL, NULL);
	char telemetry[128];
	snprintf(telemetry, sizeof telemetry, "otlp_endpoint = \"http://127.0.0.1:%d\"\n", rcv.port);
	char *config = write_config(telemetry);
	char *extra[] = { "OTEL_METRIC_EXPORT_INTERVAL=100", "OTEL_TRACES_EXPORTER=none", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 0);

	struct request_rules rules = { .metrics_path = "/v1/metrics" }; /* traces are off: no /v1/traces */
	struct capture c;
	read_requests(&c, &rules);
	cr_assert_gt(c.metric_requests, 0, "no /v1/metrics request; stderr:\n%s", shim.r.err);
	struct metric_set m = { 0 };
	size_t n = otlp_receiver_count(&rcv);
	for (size_t i = 0; i < n; i++) {
		struct otlp_request q;
		otlp_receiver_request(&rcv, i, &q);
		char *decoded = decode_file("metrics", q.body_path);
		add_metrics(&m, &c, decoded, i);
		free(decoded);
		otlp_request_free(&q);
	}
	for (size_t i = 0; i < m.n; i++)
		cr_assert_str_eq(m.p[i].attrs, "[]", "%s: no captures in this config, so no attributes", m.p[i].name);
	const char *hooks[] = { "db_insert", "db_select", "row_hash" };
	for (size_t i = 0; i < 3; i++) {
		char name[96];
		snprintf(name, sizeof name, "%s.calls", hooks[i]);
		check_series(&m, name, "{call}", false);
		snprintf(name, sizeof name, "%s.errors", hooks[i]);
		check_series(&m, name, "{error}", false);
		snprintf(name, sizeof name, "%s.duration", hooks[i]);
		check_series(&m, name, "s", true);
	}
	struct rounds_expect e = expect_rounds(ROUNDS);
	cr_assert_eq(latest(&m, "db_insert.calls")->value, (long long)e.inserts, "db_insert.calls");
	cr_assert_eq(latest(&m, "db_insert.errors")->value, (long long)e.insert_errors, "db_insert.errors");
	check_histogram(latest(&m, "db_insert.duration"), (long long)e.inserts);
	cr_assert_eq(latest(&m, "db_select.calls")->value, (long long)e.selects, "db_select.calls");
	cr_assert_eq(latest(&m, "db_select.errors")->value, 0, "db_select.errors");
	check_histogram(latest(&m, "db_select.duration"), (long long)e.selects);
	cr_assert_eq(latest(&m, "row_hash.calls")->value, (long long)e.hashes, "row_hash.calls");
	cr_assert_eq(latest(&m, "row_hash.errors")->value, 0, "row_hash.errors");
	check_histogram(latest(&m, "row_hash.duration"), (long long)e.hashes);
	/* The three hooks' points of one request share one time and one start. */
	const struct metric_point *last = latest(&m, "db_insert.calls");
	for (size_t i = 0; i < m.n; i++)
		if (m.p[i].request == last->request)
			cr_assert(m.p[i].time == last->time && m.p[i].start == last->start, "%s: another time or start",
			          m.p[i].name);
	cr_assert_leq(last->start, last->time);
	cr_assert(last->start + 1000000000u >= shim.start_unix_ns && last->time <= shim.end_unix_ns + 1000000000u,
	          "the last point's times are outside the run");
	free(m.p);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

Test(exporters, exporters_set_to_none_send_nothing)
{
	otlp_receiver_start(&rcv, "200", NULL, NULL);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	char *extra[] = { endpoint, "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none",
		          "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRIC_EXPORT_INTERVAL=100", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 1);
	usleep(300000); /* anything in flight at exit would be recorded by now */
	cr_assert_eq(otlp_receiver_count(&rcv), 0, "requests were sent with both exporters set to none");
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

/* ---- 3. StatsD ---- */

/* Sum over flushes from..to (1-based, inclusive) of "kind key [field]"; absent counts 0. */
static double flushed_total(size_t from, size_t to, const char *kind, const char *key, const char *fld)
{
	return statsd_flushes_total(&sd, from, to, kind, key, fld);
}

static size_t flushed_keys(size_t from, size_t to, const char *kind, const char *prefix)
{
	size_t total = 0;
	for (size_t k = from; k <= to; k++) {
		char *block = statsd_daemon_flush(&sd, k);
		total += statsd_flush_keys_with_prefix(block, kind, prefix);
		free(block);
	}
	return total;
}

/* Runs c_target for rounds with extra env and checks that statsd's flushes add up to its calls. */
static void check_statsd_run(unsigned rounds, const char *telemetry, char *const *extra)
{
	char *config = write_config(telemetry);
	size_t before = statsd_daemon_flushes(&sd);
	struct timed_run plain = run_plain(rounds);
	struct timed_run shim = run_c_target(rounds, config, true, extra);
	assert_unchanged(&shim, &plain, 0);
	/* What was sent at exit is in the daemon once it flushed twice more. */
	statsd_daemon_next_flush(&sd);
	size_t last = statsd_daemon_next_flush(&sd);
	struct rounds_expect e = expect_rounds(rounds);
	cr_assert_eq(flushed_total(before + 1, last, "counter", "test.db.inserts", NULL), (double)e.inserts,
	             "test.db.inserts over flushes %zu..%zu; stderr:\n%s", before + 1, last, shim.r.err);
	cr_assert_eq(flushed_total(before + 1, last, "counter", "test.db.insert_errors", NULL),
	             (double)e.insert_errors, "test.db.insert_errors");
	cr_assert_eq(flushed_total(before + 1, last, "timer", "test.db.insert_duration", "count"), (double)e.inserts,
	             "test.db.insert_duration's count");
	cr_assert_eq(flushed_total(before + 1, last, "counter", "test.db.selects", NULL), (double)e.selects,
	             "test.db.selects");
	cr_assert_eq(flushed_total(before + 1, last, "counter", "statsd.bad_lines_seen", NULL), 0,
	             "statsd saw bad lines");
	/* No tags yet (captures come later): statsd would fold them into the key as name;k=v. */
	cr_assert_eq(flushed_keys(before + 1, last, "counter", "test.db.inserts;"), 0, "tagged keys");
	cr_assert_eq(flushed_keys(before + 1, last, "timer", "test.db.insert_duration;"), 0, "tagged keys");
	/* row_hash has no [hook.metrics]: nothing of it, nothing else under test. */
	size_t keys = flushed_keys(before + 1, last, "counter", "test.") + flushed_keys(before + 1, last, "timer", "test.");
	size_t known = flushed_keys(before + 1, last, "counter", "test.db.inserts") +
	               flushed_keys(before + 1, last, "counter", "test.db.insert_errors") +
	               flushed_keys(before + 1, last, "counter", "test.db.selects") +
	               flushed_keys(before + 1, last, "timer", "test.db.insert_duration");
	cr_assert_eq(keys, known, "keys under test. that the config does not name");
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

Test(exporters, statsd_daemon_flushes_the_exact_calls_and_errors)
{
	node_modules();
	statsd_daemon_start(&sd, 200);
	char port[32];
	snprintf(port, sizeof port, "STATSD_PORT=%u", sd.port);
	char *by_env[] = { "STATSD_HOST=127.0.0.1", port, "OTEL_METRIC_EXPORT_INTERVAL=200", NULL };
	check_statsd_run(ROUNDS, NULL, by_env);
	/* The config's statsd_endpoint alone turns it on too. */
	char telemetry[128];
	snprintf(telemetry, sizeof telemetry, "statsd_endpoint = \"127.0.0.1:%u\"\n", sd.port);
	char *by_config[] = { "OTEL_METRIC_EXPORT_INTERVAL=200", NULL };
	check_statsd_run(100, telemetry, by_config);
}

/* ---- 4. faults ---- */

Test(exporters, collector_down_costs_the_program_nothing)
{
	uint16_t closed = peers_free_port(SOCK_STREAM); /* bound and closed: nobody listens */
	char *config = write_config(NULL);
	char endpoint[96];
	snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u", closed);
	/* Batches of 64: 14 of them fail, and that must still be one or a few lines, not one per batch. */
	char *extra[] = { endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=64",
		          "OTEL_METRIC_EXPORT_INTERVAL=100", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 3);
	cr_assert_leq(shim.seconds, plain.seconds + 1.5, "with the collector down the program took %.3f s, "
	              "%.3f s without the shim; stderr:\n%s", shim.seconds, plain.seconds, shim.r.err);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

Test(exporters, collector_refusing_then_accepting_gets_every_span_once)
{
	/*
	 * Three 503s, then 200. Each 503 says Retry-After: 0 (raised to the
	 * transport's 100 ms minimum), so the retries fit the exporter's final
	 * send at exit, whatever moment the first export happens: without it
	 * the first wait is 0.5-1 s, longer than the budget of a send at exit.
	 */
	enum { REFUSED = 3 };
	node_modules();
	otlp_receiver_start(&rcv, "503:retry-after=0,503:retry-after=0,503:retry-after=0,200", NULL, NULL);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	char *extra[] = { endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=64",
		          "OTEL_METRICS_EXPORTER=none", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 3);
	cr_assert_leq(shim.seconds, plain.seconds + 2.5, "exit took %.3f s (%.3f s without the shim)", shim.seconds,
	              plain.seconds);

	struct request_rules rules = { .traces_path = "/v1/traces", .first_delivered = REFUSED };
	struct capture c;
	read_requests(&c, &rules);
	cr_assert_gt(c.trace_requests, REFUSED, "nothing was sent after the 503s; stderr:\n%s", shim.r.err);
	/* The refused requests were the one batch, retried unchanged, and delivered by request REFUSED. */
	struct otlp_request first;
	otlp_receiver_request(&rcv, REFUSED, &first);
	for (size_t i = 0; i < REFUSED; i++) {
		struct otlp_request q;
		otlp_receiver_request(&rcv, i, &q);
		cr_assert(q.body_len == first.body_len && memcmp(q.body, first.body, q.body_len) == 0,
		          "request %zu (refused) is not the batch that request %d delivered", i, REFUSED);
		otlp_request_free(&q);
	}
	otlp_request_free(&first);
	struct rounds_expect e = expect_rounds(ROUNDS);
	check_spans(&c, &e, &shim);
	free(c.spans);
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

Test(exporters, collector_hanging_delays_exit_at_most_the_bound)
{
	otlp_receiver_start(&rcv, "hang", NULL, NULL);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	/* The export timeout (10 s by default) is longer than the exit bound (2 s): the bound must cut it. */
	char *extra[] = { endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRIC_EXPORT_INTERVAL=100", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 3);
	cr_assert_leq(shim.seconds, plain.seconds + 2.5, "with a hanging collector the program took %.3f s, "
	              "%.3f s without the shim (bound: 2 s); stderr:\n%s", shim.seconds, plain.seconds, shim.r.err);
	cr_assert_geq(otlp_receiver_count(&rcv), 1, "the shim never reached the collector");
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

/* The VmHWM (kB) c_target printed with C_TARGET_PEAK_RSS=1. */
static long peak_rss_kb(const char *err)
{
	const char *at = strstr(err, "c_target peak rss:");
	cr_assert_not_null(at, "c_target printed no peak rss:\n%s", err);
	return strtol(at + strlen("c_target peak rss:"), NULL, 10);
}

/*
 * Memory stays bounded while the collector hangs: every call is sampled
 * and hundreds of thousands of spans are made while the exporter waits on
 * the collector; the rings drop what does not fit, and nothing else grows.
 * The bound is the program's own peak plus 48 MiB (the libraries the shim
 * loads, its rings and its buffers), far below what keeping the spans would
 * take (over 100 MiB at 256 bytes a record).
 */
Test(exporters, memory_stays_bounded_while_the_collector_hangs)
{
	enum { MANY = 150000 }; /* 3 spans a round: 450k spans, 110 MiB as records */
	otlp_receiver_start(&rcv, "hang", NULL, NULL);
	char *config = write_config(NULL);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	char *extra[] = { endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRIC_EXPORT_INTERVAL=100",
		          "C_TARGET_PEAK_RSS=1", NULL };
	char *plain_extra[] = { "C_TARGET_PEAK_RSS=1", NULL };
	struct timed_run plain = run_c_target(MANY, NULL, false, plain_extra);
	struct timed_run shim = run_c_target(MANY, config, true, extra);
	cr_assert_eq(shim.r.status, 0, "stderr:\n%s", shim.r.err);
	cr_assert_str_eq(shim.r.out, plain.r.out, "stdout changed under the shim");
	long plain_kb = peak_rss_kb(plain.r.err), shim_kb = peak_rss_kb(shim.r.err);
	cr_log_info("peak rss: %ld kB without the shim, %ld kB with it", plain_kb, shim_kb);
	cr_assert_lt(shim_kb, plain_kb + 48 * 1024, "peak rss %ld kB under the shim, %ld kB without", shim_kb, plain_kb);
	/* the rings filled while the export hung: said once, at exit */
	cr_assert_eq(count_lines_containing(shim.r.err, " sampled spans were dropped: a thread's ring"), 1, "stderr:\n%s",
	             shim.r.err);
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

/* ---- 5. captures: tags on metrics, attributes on spans, a bad offset ---- */

/*
 * db_insert(uint32_t table, const char *row, size_t len) and
 * db_select(uint32_t table, unsigned low_bit) -> size_t, captured: the
 * table as a tag (and the attribute db.collection.id), the row as a Rust-
 * style (pointer, length) string, the rows a select returned as a counter,
 * and a deliberately wrong offset (4 GiB past the table number: unmapped)
 * that must read as a placeholder and be counted, with the program
 * running on unharmed.
 */
#define CAPTURE_HOOKS \
	"[[hook]]\nsymbol = \"db_insert\"\n" \
	"[hook.error]\nwhen = \"negative\"\ntype = \"i32\"\n" \
	"[hook.metrics]\ncount = \"test.db.inserts\"\nerrors = \"test.db.insert_errors\"\n" \
	"duration = \"test.db.insert_duration\"\n" \
	"[[hook.arg]]\nindex = 1\ntype = \"u32\"\ntag = \"table\"\nattribute = \"db.collection.id\"\n" \
	"[[hook.arg]]\nindex = 2\ntype = \"str\"\nattribute = \"test.row\"\n" \
	"[[hook]]\nsymbol = \"db_select\"\n" \
	"[hook.metrics]\ncount = \"test.db.selects\"\n" \
	"[[hook.arg]]\nindex = 1\ntype = \"u32\"\ntag = \"table\"\n" \
	"[[hook.arg]]\nindex = 1\ntype = \"u64\"\nderef = [4294967296]\ntag = \"bad\"\nattribute = \"test.bad\"\n" \
	"[[hook.arg]]\nreturn = true\ntype = \"u64\"\nmetric = \"test.db.rows_returned\"\n"

/* Per table: calls and errors of c_target's rounds (round r uses table r % 4; 64 rows fit a table). */
struct table_expect {
	size_t calls[4], errors[4];
};

static struct table_expect expect_tables(unsigned rounds)
{
	struct table_expect t = { { 0 }, { 0 } };
	for (unsigned r = 0; r < rounds; r++) {
		if (t.calls[r % 4] - t.errors[r % 4] == 64)
			t.errors[r % 4]++;
		t.calls[r % 4]++;
	}
	return t;
}

/* The "N rows selected" of c_target's summary line. */
static long long rows_selected(const char *out)
{
	const char *at = strstr(out, " rounds, ");
	cr_assert_not_null(at, "no summary line: %s", out);
	return atoll(at + strlen(" rounds, "));
}

Test(exporters, statsd_tags_from_captures_count_exactly_per_table)
{
	node_modules();
	statsd_daemon_start(&sd, 200);
	char telemetry[128];
	snprintf(telemetry, sizeof telemetry, "statsd_endpoint = \"127.0.0.1:%u\"\n", sd.port);
	char *config = write_config_with_hooks(telemetry, CAPTURE_HOOKS);
	char *extra[] = { "OTEL_METRIC_EXPORT_INTERVAL=200", NULL };
	size_t before = statsd_daemon_flushes(&sd);
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 0);
	statsd_daemon_next_flush(&sd);
	size_t last = statsd_daemon_next_flush(&sd);
	struct table_expect t = expect_tables(ROUNDS);
	long long rows = 0;
	for (int k = 0; k < 4; k++) {
		char key[128];
		/* Etsy statsd folds DogStatsD tags into the key, in the order sent */
		snprintf(key, sizeof key, "test.db.inserts;table=%d", k);
		cr_assert_eq(flushed_total(before + 1, last, "counter", key, NULL), (double)t.calls[k], "%s; stderr:\n%s",
		             key, shim.r.err);
		snprintf(key, sizeof key, "test.db.insert_errors;table=%d", k);
		cr_assert_eq(flushed_total(before + 1, last, "counter", key, NULL), (double)t.errors[k], "%s", key);
		snprintf(key, sizeof key, "test.db.insert_duration;table=%d", k);
		cr_assert_eq(flushed_total(before + 1, last, "timer", key, "count"), (double)t.calls[k], "%s count", key);
		snprintf(key, sizeof key, "test.db.selects;table=%d;bad=unreadable", k);
		cr_assert_eq(flushed_total(before + 1, last, "counter", key, NULL), (double)t.calls[k], "%s", key);
		snprintf(key, sizeof key, "test.db.rows_returned;table=%d;bad=unreadable", k);
		rows += (long long)flushed_total(before + 1, last, "counter", key, NULL);
	}
	cr_assert_eq(rows, rows_selected(shim.r.out), "rows_returned over the tables against c_target's own count");
	/* Every key of these metrics is one of the tagged ones above: no untagged copy, no other tag values. */
	cr_assert_eq(flushed_keys(before + 1, last, "counter", "test.db.inserts"),
	             flushed_keys(before + 1, last, "counter", "test.db.inserts;table="), "untagged inserts");
	cr_assert_eq(flushed_total(before + 1, last, "counter", "statsd.bad_lines_seen", NULL), 0, "statsd saw bad lines");
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}

/* The decoded attribute lines ("attr KEY TYPE=VALUE") of each span named name, in order: callback per span. */
static void for_each_span_attrs(const char *decoded, const char *name, void (*fn)(const char *attrs, void *ctx),
                                void *ctx)
{
	char want[96];
	snprintf(want, sizeof want, "\"%s\"", name);
	const char *p = decoded;
	while ((p = strstr(p, "\nspan ")) != NULL || (p == NULL && strncmp(decoded, "span ", 5) == 0 && (p = decoded))) {
		const char *line_end = strchrnul(p + 1, '\n');
		bool match = memmem(p, (size_t)(line_end - p), want, strlen(want)) != NULL;
		const char *next = strstr(line_end, "\nspan ");
		size_t len = next ? (size_t)(next - line_end) : strlen(line_end);
		if (match) {
			char *attrs = strndup(line_end, len);
			fn(attrs, ctx);
			free(attrs);
		}
		p = line_end;
	}
}

struct insert_attrs_check {
	size_t spans;
};

static void check_insert_attrs(const char *attrs, void *ctx)
{
	struct insert_attrs_check *c = ctx;
	const char *id = strstr(attrs, "\nattr db.collection.id int=");
	const char *row = strstr(attrs, "\nattr test.row string=\"row-");
	cr_assert_not_null(id, "a db_insert span without db.collection.id:%s", attrs);
	cr_assert_not_null(row, "a db_insert span without test.row:%s", attrs);
	long table = atol(id + strlen("\nattr db.collection.id int="));
	long round = atol(row + strlen("\nattr test.row string=\"row-"));
	cr_assert_eq(table, round % 4, "row-%ld went to table %ld: the two captures disagree", round, table);
	c->spans++;
}

static void check_select_attrs(const char *attrs, void *ctx)
{
	size_t *spans = ctx;
	cr_assert_not_null(strstr(attrs, "\nattr test.bad string=\"<unreadable>\""),
	                   "a db_select span without the placeholder for the bad offset:%s", attrs);
	(*spans)++;
}

Test(exporters, otlp_captures_as_span_attributes_and_metric_points)
{
	node_modules();
	otlp_receiver_start(&rcv, "200", NULL, NULL);
	char *config = write_config_with_hooks(NULL, CAPTURE_HOOKS);
	char *endpoint = endpoint_var("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	char *extra[] = { endpoint, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_METRIC_EXPORT_INTERVAL=100", NULL };
	struct timed_run plain = run_plain(ROUNDS);
	struct timed_run shim = run_c_target(ROUNDS, config, true, extra);
	assert_unchanged(&shim, &plain, 0);

	struct insert_attrs_check inserts = { 0 };
	size_t selects = 0;
	struct metric_set m = { 0 };
	struct capture c = { 0 };
	size_t n = otlp_receiver_count(&rcv);
	for (size_t i = 0; i < n; i++) {
		struct otlp_request q;
		otlp_receiver_request(&rcv, i, &q);
		bool traces = strcmp(q.path, "/v1/traces") == 0;
		char *decoded = decode_file(traces ? "traces" : "metrics", q.body_path);
		if (traces) {
			for_each_span_attrs(decoded, "db_insert", check_insert_attrs, &inserts);
			for_each_span_attrs(decoded, "db_select", check_select_attrs, &selects);
		} else {
			add_metrics(&m, &c, decoded, i);
		}
		free(decoded);
		otlp_request_free(&q);
	}
	cr_assert_eq(inserts.spans, ROUNDS, "db_insert spans with their captures; stderr:\n%s", shim.r.err);
	cr_assert_eq(selects, ROUNDS, "db_select spans");

	/* One point per table, named after the attribute; the counts exact. */
	struct table_expect t = expect_tables(ROUNDS);
	check_series(&m, "db_insert.calls", "{call}", false);
	check_series(&m, "db_insert.duration", "s", true);
	long long rows = 0;
	for (int k = 0; k < 4; k++) {
		char attrs[128];
		snprintf(attrs, sizeof attrs, "[db.collection.id:int=%d]", k);
		const struct metric_point *calls = latest_point(&m, "db_insert.calls", attrs);
		cr_assert_not_null(calls, "no db_insert.calls point with %s", attrs);
		cr_assert_eq(calls->value, (long long)t.calls[k], "db_insert.calls%s", attrs);
		const struct metric_point *errors = latest_point(&m, "db_insert.errors", attrs);
		cr_assert_not_null(errors, "no db_insert.errors point with %s", attrs);
		cr_assert_eq(errors->value, (long long)t.errors[k], "db_insert.errors%s", attrs);
		const struct metric_point *duration = latest_point(&m, "db_insert.duration", attrs);
		cr_assert_not_null(duration, "no db_insert.duration point with %s", attrs);
		check_histogram(duration, (long long)t.calls[k]);
		snprintf(attrs, sizeof attrs, "[table:int=%d test.bad:string=\"unreadable\"]", k);
		const struct metric_point *r = latest_point(&m, "test.db.rows_returned", attrs);
		cr_assert_not_null(r, "no test.db.rows_returned point with %s", attrs);
		rows += r->value;
	}
	cr_assert_eq(rows, rows_selected(shim.r.out), "test.db.rows_returned over the tables");
	/* every db_select read the bad offset once (it is a tag, read on every call) */
	cr_assert_eq(latest(&m, "stdbtel.captures.unreadable")->value, ROUNDS, "stdbtel.captures.unreadable");
	free(m.p);
	free(endpoint);
	unlink(config);
	free(config);
	run_result_free(&plain.r);
	run_result_free(&shim.r);
}
