/* SPDX-License-Identifier: MIT */
/*
 * test_otlp_encode.c: the OTLP protobuf encoders, read back by an
 * independent decoder (tests/support/otlp_decode.js: protobufjs with the
 * official OTLP schema from npm @opentelemetry/otlp-transformer) and by
 * protobuf-c's own unpack, and compared field by field with what the test
 * put in. The answers' partial_success is read from bytes written by hand
 * from the wire rules.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "histogram.h"
#include "otlp_collector_metrics.pb-c.h"
#include "otlp_collector_trace.pb-c.h"
#include "otlp_encode.h"
#include "run.h"

#define EPOCH 1700000000000000000ull

static uint64_t ticks_plus_epoch(uint64_t ticks)
{
	return EPOCH + ticks;
}

/* Decodes bytes with otlp_decode.js (kind "traces" or "metrics"); returns its stdout (free it). */
static char *decode(const char *kind, const struct otlp_bytes *b)
{
	const char *modules = getenv("STDBTEL_NODE_MODULES");
	cr_assert(modules != NULL && *modules != '\0',
	          "STDBTEL_NODE_MODULES is not set: scripts/test.sh installs @opentelemetry/otlp-transformer@0.216.0 "
	          "into build-npm/ and exports it (by hand: export STDBTEL_NODE_MODULES=$PWD/build-npm/node_modules)");
	char path[] = "/tmp/stdbtel-otlp-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, b->data, b->len), (ssize_t)b->len);
	close(fd);
	char script[4096];
	snprintf(script, sizeof script, "%s/tests/support/otlp_decode.js", test_env_path("STDBTEL_SOURCE_ROOT"));
	char *cmd = NULL;
	cr_assert_geq(asprintf(&cmd, "command -v node >/dev/null || { echo 'node is not installed "
	                             "(scripts/test.sh installs nodejs)' >&2; exit 127; }; node '%s' %s '%s'",
	                       script, kind, path), 0);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, NULL, &r), 0);
	unlink(path);
	free(cmd);
	cr_assert_eq(r.status, 0, "the independent decoder failed (status %d):\n%s", r.status, r.err);
	free(r.err);
	return r.out;
}

/* Appends printf output to a growing string. */
static void appendf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(char **s, const char *fmt, ...)
{
	char *more = NULL;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&more, fmt, ap), 0);
	va_end(ap);
	char *joined = NULL;
	cr_assert_geq(asprintf(&joined, "%s%s", *s ? *s : "", more), 0);
	free(*s);
	free(more);
	*s = joined;
}

static void append_hex(char **s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		appendf(s, "%02x", b[i]);
}

static const char config_text[] =
	"[[hook]]\n"
	"symbol = \"db_insert\"\n"
	"span = \"demo.insert\"\n"
	"kind = \"client\"\n"
	"attributes = { \"db.system.name\" = \"demo\", retries = 3, ratio = 0.5, hot = true }\n"
	"[[hook.arg]]\nindex = 1\ntype = \"i32\"\nattribute = \"db.collection.id\"\n"
	"[[hook.arg]]\nindex = 2\ntype = \"str\"\nattribute = \"db.query.text\"\n"
	"[[hook.arg]]\nindex = 4\ntype = \"u64\"\nattribute = \"big\"\n"
	"[[hook.arg]]\nindex = 5\ntype = \"pointer\"\nattribute = \"where\"\n"
	"[[hook]]\n"
	"symbol = \"row_hash\"\n"
	"kind = \"server\"\n"
	"[[hook.arg]]\nindex = 1\ntype = \"bool\"\nattribute = \"flag\"\n";

static size_t fake_format(const struct span_stack *stack, char *out, size_t outsz, void *ctx)
{
	(void)ctx;
	int n = snprintf(out, outsz, "frames=%u first=%llx", (unsigned)stack->nframes,
	                 (unsigned long long)stack->frames[0]);
	return n < 0 ? 0 : (size_t)n;
}

/* The records of the trace tests: see the comments inside. */
struct trace_fixture {
	struct stdbtel_config cfg;
	struct otlp_target targets[2];
	struct span_record spans[6];
	struct config_pair extra[2];
	struct otlp_resource res;
};

static const char query_text[] = "say \"hi\"\n\xff!"; /* quote, newline, invalid byte */

static void trace_fixture_init(struct trace_fixture *f)
{
	memset(f, 0, sizeof *f);
	struct config_diags diags = { 0 };
	cr_assert_eq(config_parse(&f->cfg, "t.toml", config_text, strlen(config_text), NULL, NULL, &diags), 0);
	f->targets[0] = (struct otlp_target){ "db_insert", 0 };
	f->targets[1] = (struct otlp_target){ "row_hash", 1 };
	struct span_record *s = f->spans;
	for (int i = 0; i < 6; i++) {
		for (int k = 0; k < 16; k++)
			s[i].trace_id[k] = (uint8_t)(0xa0 + k);
		for (int k = 0; k < 8; k++)
			s[i].span_id[k] = (uint8_t)(0x10 * i + k + 1);
		s[i].start_ticks = 1000u * (i + 1);
		s[i].end_ticks = 1000u * (i + 1) + 250 + i;
	}
	/* 0: root db_insert with every capture type */
	s[0].target_index = 0;
	s[0].ncaptures = 5;
	s[0].captures[0] = (uint32_t)-7;
	memcpy(s[0].text, query_text, sizeof query_text - 1);
	s[0].text_used = sizeof query_text - 1;
	s[0].captures[1] = (uint64_t)0 << 32 | (sizeof query_text - 1);
	s[0].captures[2] = UINT64_MAX;
	s[0].captures[3] = 0x7fffdeadbeefull;
	/* 1: child of 0, error by return value */
	s[1].target_index = 1;
	memcpy(s[1].parent_span_id, s[0].span_id, 8);
	s[1].flags = SPAN_ERROR;
	/* 2: the stack of span 3; 3: child of 0, unwound, gets code.stacktrace */
	struct span_stack *st = (struct span_stack *)&s[2];
	memset(st, 0, sizeof *st);
	st->flags = SPAN_STACK;
	memcpy(st->span_id, s[3].span_id, 8);
	st->nframes = 3;
	st->frames[0] = 0xabc;
	s[3].target_index = 1;
	memcpy(s[3].parent_span_id, s[0].span_id, 8);
	s[3].flags = SPAN_UNWOUND;
	/* 4: bad target: skipped; 5: a root whose bool capture reads the low byte (0: false),
	 * with ncaptures beyond the hook's one capture (the extra is not written) */
	s[4].target_index = 99;
	s[5].target_index = 1;
	s[5].ncaptures = 2;
	s[5].captures[0] = 0x100;
	s[5].captures[1] = 55;

	f->extra[0] = (struct config_pair){ "deployment.environment", "test" };
	f->extra[1] = (struct config_pair){ "service.name", "ignored" };
	f->res = (struct otlp_resource){
		.service_name = "svc", .service_version = "1.2", .pid = 4242, .executable_name = "c_target",
		.host_name = "h", .extra = f->extra, .nextra = 2,
	};
}

static void append_span(char **e, const struct span_record *r, const char *name, int kind, int status,
                        const char *message)
{
	appendf(e, "span ");
	append_hex(e, r->trace_id, 16);
	appendf(e, " ");
	append_hex(e, r->span_id, 8);
	appendf(e, " ");
	static const uint8_t zero[8];
	if (memcmp(r->parent_span_id, zero, 8) == 0)
		appendf(e, "-");
	else
		append_hex(e, r->parent_span_id, 8);
	appendf(e, " \"%s\" kind=%d start=%llu end=%llu flags=257 status=%d %s\n", name, kind,
	        (unsigned long long)(EPOCH + r->start_ticks), (unsigned long long)(EPOCH + r->end_ticks), status,
	        message);
}

Test(otlp_encode, spans_decoded_by_the_official_schema)
{
	struct trace_fixture f;
	trace_fixture_init(&f);
	struct otlp_stack_formatter fmt = { fake_format, NULL };
	struct otlp_bytes b;
	cr_assert_eq(otlp_encode_spans(&b, &f.res, "0.1.0", &f.cfg, f.targets, 2, f.spans, 6, ticks_plus_epoch, &fmt),
	             4, "6 records: one stack, one bad target, 4 spans");
	cr_assert_not_null(b.data);
	char *got = decode("traces", &b);

	char *e = NULL;
	appendf(&e, "resource service.name string=\"svc\"\n"
	            "resource service.version string=\"1.2\"\n"
	            "resource process.pid int=4242\n"
	            "resource process.executable.name string=\"c_target\"\n"
	            "resource host.name string=\"h\"\n"
	            "resource telemetry.sdk.name string=\"stdbtel\"\n"
	            "resource telemetry.sdk.language string=\"%s\"\n"
	            "resource telemetry.sdk.version string=\"0.1.0\"\n"
	            "resource deployment.environment string=\"test\"\n"
	            "scope stdbtel 0.1.0\n", OTLP_SDK_LANGUAGE);
	append_span(&e, &f.spans[0], "demo.insert", SPAN_KIND_CLIENT, 0, "-");
	appendf(&e, "attr code.function.name string=\"db_insert\"\n"
	            "attr db.system.name string=\"demo\"\n"
	            "attr retries int=3\n"
	            "attr ratio double=0.5\n"
	            "attr hot bool=true\n"
	            "attr db.collection.id int=-7\n"
	            "attr db.query.text string=\"say \\\"hi\\\"\\n\xef\xbf\xbd!\"\n"
	            "attr big string=\"18446744073709551615\"\n"
	            "attr where string=\"0x7fffdeadbeef\"\n");
	append_span(&e, &f.spans[1], "row_hash", SPAN_KIND_SERVER, 2,
	            "\"the return value matched the hook's error rule\"");
	appendf(&e, "attr code.function.name string=\"row_hash\"\n");
	append_span(&e, &f.spans[3], "row_hash", SPAN_KIND_SERVER, 2,
	            "\"the call ended by unwinding (exception, panic or longjmp)\"");
	appendf(&e, "attr code.function.name string=\"row_hash\"\n"
	            "attr code.stacktrace string=\"frames=3 first=abc\"\n");
	append_span(&e, &f.spans[5], "row_hash", SPAN_KIND_SERVER, 0, "-");
	appendf(&e, "attr code.function.name string=\"row_hash\"\n"
	            "attr flag bool=false\n");
	cr_assert_str_eq(got, e);
	free(e);
	free(got);
	otlp_bytes_free(&b);
	config_free(&f.cfg);
}

Test(otlp_encode, spans_round_trip_through_protobuf_c)
{
	struct trace_fixture f;
	trace_fixture_init(&f);
	struct otlp_bytes b;
	cr_assert_eq(otlp_encode_spans(&b, &f.res, "0.1.0", &f.cfg, f.targets, 2, f.spans, 6, ticks_plus_epoch, NULL), 4);
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, b.len, b.data);
	cr_assert_not_null(req);
	cr_assert_eq(req->n_resource_spans, 1);
	cr_assert_eq(req->resource_spans[0]->n_scope_spans, 1);
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[0]->scope_spans[0];
	cr_assert_eq(ss->n_spans, 4);
	const int from[] = { 0, 1, 3, 5 };
	for (size_t i = 0; i < 4; i++) {
		const struct span_record *r = &f.spans[from[i]];
		Opentelemetry__Proto__Trace__V1__Span *s = ss->spans[i];
		cr_assert_eq(s->trace_id.len, 16);
		cr_assert_arr_eq(s->trace_id.data, r->trace_id, 16);
		cr_assert_eq(s->span_id.len, 8);
		cr_assert_arr_eq(s->span_id.data, r->span_id, 8);
		cr_assert_eq(s->parent_span_id.len, i == 0 || i == 3 ? 0 : 8, "a root has no parent id");
		cr_assert_eq(s->start_time_unix_nano, EPOCH + r->start_ticks);
		cr_assert_eq(s->end_time_unix_nano, EPOCH + r->end_ticks);
	}
	cr_assert_null(strstr(ss->spans[2]->attributes[ss->spans[2]->n_attributes - 1]->key, "stacktrace"),
	               "no formatter: no code.stacktrace");
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
	otlp_bytes_free(&b);
	config_free(&f.cfg);
}

Test(otlp_encode, nothing_to_send_gives_empty_bytes)
{
	struct trace_fixture f;
	trace_fixture_init(&f);
	struct otlp_bytes b = { (uint8_t *)1, 1 };
	cr_assert_eq(otlp_encode_spans(&b, &f.res, "0", &f.cfg, f.targets, 2, &f.spans[4], 1, ticks_plus_epoch, NULL), 0);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(otlp_encode_metrics(&b, &f.res, "0", NULL, 0, NULL, 0), 0);
	cr_assert_null(b.data);
	config_free(&f.cfg);
}

/* ---- metrics ---------------------------------------------------------------- */

/* The value after "key=" in line, as a double (the decoder prints JS's shortest round-trip form). */
static double field_double(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	cr_assert_not_null(p, "no %s in %s", key, line);
	return strtod(p + strlen(key), NULL);
}

static char *find_line(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);
	cr_assert_not_null(p, "no line %s in:\n%s", prefix, text);
	const char *end = strchr(p, '\n');
	return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

Test(otlp_encode, metrics_decoded_by_the_official_schema)
{
	/* Durations far apart (so each one's possible buckets differ from the others'), with
	 * repeats, exact powers of two (upper-inclusive boundaries) and a zero. */
	const uint64_t values_ns[] = { 0, 1, 3, 1024, 1024, 50000, 999999, 1000000, 7000000, 1500000000ull,
	                               1500000000ull, 1500000000ull, 68719476736ull /* 2^36 */ };
	const size_t nvalues = sizeof values_ns / sizeof values_ns[0];
	struct histogram *h = malloc(sizeof *h);
	histogram_reset(h);
	uint64_t sum = 0;
	for (size_t i = 0; i < nvalues; i++) {
		histogram_record(h, values_ns[i]);
		sum += values_ns[i];
	}
	struct histogram *empty = malloc(sizeof *empty);
	histogram_reset(empty);

	struct config_attribute tags[] = {
		{ .key = "db.collection.name", .type = ATTRIBUTE_STRING, .u.string = "players" },
		{ .key = "table", .type = ATTRIBUTE_INT, .u.integer = 7 },
	};
	struct otlp_hook_metrics hooks[] = {
		{ .name = "demo.insert", .calls = nvalues, .errors = 2, .duration = h, .start_unix_ns = EPOCH,
		  .now_unix_ns = EPOCH + 5000000000ull, .attributes = tags, .nattributes = 2 },
		{ .name = "row_hash", .calls = 0, .errors = 0, .duration = empty, .start_unix_ns = EPOCH + 1,
		  .now_unix_ns = EPOCH + 2 },
	};
	struct otlp_counter dropped = { .name = "stdbtel.spans.dropped", .unit = "{span}", .description = NULL,
	                                .value = 12, .start_unix_ns = EPOCH, .now_unix_ns = EPOCH + 9 };
	struct otlp_resource res = { .service_name = "svc", .pid = 77, .executable_name = "x" };
	struct otlp_bytes b;
	cr_assert_eq(otlp_encode_metrics(&b, &res, "0.1.0", hooks, 2, &dropped, 1), 7);
	char *got = decode("metrics", &b);

	/* Everything but the histogram lines, exactly. */
	char *e = NULL;
	appendf(&e, "resource service.name string=\"svc\"\n"
	            "resource process.pid int=77\n"
	            "resource process.executable.name string=\"x\"\n"
	            "resource telemetry.sdk.name string=\"stdbtel\"\n"
	            "resource telemetry.sdk.language string=\"%s\"\n"
	            "resource telemetry.sdk.version string=\"0.1.0\"\n"
	            "scope stdbtel 0.1.0\n", OTLP_SDK_LANGUAGE);
	const char *attrs = "attrs=[db.collection.name:string=\"players\" table:int=7]";
	appendf(&e, "metric demo.insert.calls unit=\"{call}\" description=\"Calls of the hooked function\"\n"
	            "sum temporality=2 monotonic=true\n"
	            "point start=%llu time=%llu as_int=%zu %s\n",
	        EPOCH, EPOCH + 5000000000ull, nvalues, attrs);
	appendf(&e, "metric demo.insert.errors unit=\"{error}\" description=\"Calls of the hooked function that ended "
	            "in error\"\nsum temporality=2 monotonic=true\n"
	            "point start=%llu time=%llu as_int=2 %s\n",
	        EPOCH, EPOCH + 5000000000ull, attrs);
	appendf(&e, "metric demo.insert.duration unit=\"s\" description=\"Duration of the hooked function's calls\"\n"
	            "exphist temporality=2\n"
	            "point start=%llu time=%llu %s\n",
	        EPOCH, EPOCH + 5000000000ull, attrs);
	appendf(&e, "HIST\n");
	appendf(&e, "metric row_hash.calls unit=\"{call}\" description=\"Calls of the hooked function\"\n"
	            "sum temporality=2 monotonic=true\n"
	            "point start=%llu time=%llu as_int=0 attrs=[]\n", EPOCH + 1, EPOCH + 2);
	appendf(&e, "metric row_hash.errors unit=\"{error}\" description=\"Calls of the hooked function that ended "
	            "in error\"\nsum temporality=2 monotonic=true\n"
	            "point start=%llu time=%llu as_int=0 attrs=[]\n", EPOCH + 1, EPOCH + 2);
	appendf(&e, "metric row_hash.duration unit=\"s\" description=\"Duration of the hooked function's calls\"\n"
	            "exphist temporality=2\n"
	            "point start=%llu time=%llu attrs=[]\n"
	            "hist count=0 sum=0 min=- max=- scale=3 zero_count=0 zero_threshold=0 positive=- negative=-\n",
	        EPOCH + 1, EPOCH + 2);
	appendf(&e, "metric stdbtel.spans.dropped unit=\"{span}\" description=-\n"
	            "sum temporality=2 monotonic=true\n"
	            "point start=%llu time=%llu as_int=12 attrs=[]\n", EPOCH, EPOCH + 9);

	/* Replace the first "hist " line of got by HIST to compare the rest, and check it on its own. */
	char *hist = find_line(got, "hist count=");
	char *at = strstr(got, hist);
	char *rest = NULL;
	cr_assert_geq(asprintf(&rest, "%.*sHIST%s", (int)(at - got), got, at + strlen(hist)), 0);
	cr_assert_str_eq(rest, e);

	cr_assert_eq(strtoull(strstr(hist, "count=") + 6, NULL, 10), nvalues, "%s", hist);
	cr_assert_eq(strtoull(strstr(hist, "zero_count=") + 11, NULL, 10), 1, "%s", hist);
	cr_assert_not_null(strstr(hist, " scale=3 "), "%s", hist);
	cr_assert_not_null(strstr(hist, " negative=-"), "%s", hist);
	cr_assert_eq(field_double(hist, " sum="), (double)sum / 1e9, "%s", hist);
	cr_assert_eq(field_double(hist, " min="), 0.0, "%s", hist);
	cr_assert_eq(field_double(hist, " max="), 68719476736.0 / 1e9, "%s", hist);

	/* positive=OFFSET:[c0,c1,...]. Relabelling keeps the order of values, so the k-th smallest
	 * nonzero value is the k-th entry of the buckets taken in order; each must lie in its
	 * bucket j as otlp_encode.h bounds it: (2^(j/8) / OTLP_DURATION_LOW_FACTOR, 2^((j+1)/8)] s.
	 * (values_ns is sorted.) */
	const char *pos = strstr(hist, "positive=") + 9;
	char *endp;
	long offset = strtol(pos, &endp, 10);
	cr_assert_eq(*endp, ':', "%s", hist);
	cr_assert_eq(endp[1], '[', "%s", hist);
	const char *c = endp + 2;
	uint64_t bucketed = 0;
	size_t nbuckets = 0, next_value = 1; /* values_ns[0] is the zero */
	for (long j = offset; *c != ']'; j++, nbuckets++) {
		uint64_t count = strtoull(c, &endp, 10);
		c = *endp == ',' ? endp + 1 : endp;
		long double lower = exp2l((long double)j / 8) / OTLP_DURATION_LOW_FACTOR;
		long double upper = exp2l((long double)(j + 1) / 8);
		for (uint64_t k = 0; k < count; k++, next_value++) {
			cr_assert_lt(next_value, nvalues, "more bucketed values than recorded: %s", hist);
			long double v = (long double)values_ns[next_value] / 1e9L;
			cr_assert(v > lower && v <= upper, "%llu ns counted in bucket %ld (%Lg, %Lg] s\n%s",
			          (unsigned long long)values_ns[next_value], j, lower, upper, hist);
		}
		bucketed += count;
	}
	cr_assert_eq(bucketed, nvalues - 1, "every nonzero value in a bucket: %s", hist);
	cr_assert_gt(nbuckets, 200, "the buckets span 1 ns .. 68 s: %s", hist);
	/* The lowest value (1 ns = 1e-9 s) is in the first bucket: offset is its index. */
	cr_assert(1e-9L > exp2l((long double)offset / 8) / OTLP_DURATION_LOW_FACTOR &&
	          1e-9L <= exp2l((long double)(offset + 1) / 8), "offset %ld", offset);

	free(rest);
	free(hist);
	free(e);
	free(got);
	free(h);
	free(empty);
	otlp_bytes_free(&b);
}

Test(otlp_encode, the_low_factor_bounds_the_relabelling)
{
	/* 2^((8 log2(1e9) - shift) / 8): the bound of otlp_encode.h, recomputed. */
	long double f = exp2l((8.0L * log2l(1e9L) - OTLP_DURATION_INDEX_SHIFT) / 8.0L);
	cr_assert(8.0L * log2l(1e9L) - OTLP_DURATION_INDEX_SHIFT > 0 && 8.0L * log2l(1e9L) - OTLP_DURATION_INDEX_SHIFT < 0.5L,
	          "the shift is the floor, and the part mapped down is the smaller one");
	cr_assert(f <= OTLP_DURATION_LOW_FACTOR && OTLP_DURATION_LOW_FACTOR - f < 1e-5L, "f = %.9Lf", f);
}

Test(otlp_encode, metrics_round_trip_through_protobuf_c)
{
	struct histogram *h = malloc(sizeof *h);
	histogram_reset(h);
	histogram_record(h, 1000);
	histogram_record(h, 1000);
	histogram_record(h, 2000);
	struct otlp_hook_metrics hook = { .name = "f", .calls = 3, .errors = 1, .duration = h,
	                                  .start_unix_ns = 5, .now_unix_ns = 6 };
	struct otlp_resource res = { .service_name = "svc", .pid = 1 };
	struct otlp_bytes b;
	cr_assert_eq(otlp_encode_metrics(&b, &res, "0", &hook, 1, NULL, 0), 3);
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req =
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(NULL, b.len, b.data);
	cr_assert_not_null(req);
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = req->resource_metrics[0]->scope_metrics[0];
	cr_assert_eq(sm->n_metrics, 3);
	cr_assert_str_eq(sm->metrics[0]->name, "f.calls");
	cr_assert_eq(sm->metrics[0]->sum->data_points[0]->as_int, 3);
	cr_assert_str_eq(sm->metrics[1]->name, "f.errors");
	cr_assert_eq(sm->metrics[1]->sum->data_points[0]->as_int, 1);
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p =
		sm->metrics[2]->exponential_histogram->data_points[0];
	cr_assert_eq(p->count, 3);
	cr_assert_eq(p->positive->offset, histogram_index(1000) - OTLP_DURATION_INDEX_SHIFT);
	cr_assert_eq(p->positive->n_bucket_counts, (size_t)(histogram_index(2000) - histogram_index(1000) + 1));
	cr_assert_eq(p->positive->bucket_counts[0], 2);
	cr_assert_eq(p->positive->bucket_counts[p->positive->n_bucket_counts - 1], 1);
	cr_assert_eq(p->sum, 4000 / 1e9);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(req, NULL);
	otlp_bytes_free(&b);
	free(h);
}

/* ---- answers ------------------------------------------------------------------ */

Test(otlp_encode, partial_success_read_from_the_wire)
{
	struct otlp_partial_success ps;
	cr_assert_eq(otlp_decode_partial_success(OTLP_SIGNAL_TRACES, NULL, 0, &ps), 0);
	cr_assert_not(ps.present, "an empty body is a full success");

	/* field 1 (partial_success, length 9) { field 1 varint 300 (rejected), field 2 "boom" } */
	const uint8_t traces[] = { 0x0a, 0x09, 0x08, 0xac, 0x02, 0x12, 0x04, 'b', 'o', 'o', 'm' };
	cr_assert_eq(otlp_decode_partial_success(OTLP_SIGNAL_TRACES, traces, sizeof traces, &ps), 0);
	cr_assert(ps.present);
	cr_assert_eq(ps.rejected, 300);
	cr_assert_str_eq(ps.message, "boom");
	cr_assert_eq(otlp_decode_partial_success(OTLP_SIGNAL_METRICS, traces, sizeof traces, &ps), 0);
	cr_assert_eq(ps.rejected, 300, "the metrics answer has the same shape");

	/* a warning only: partial_success with just a message */
	const uint8_t warning[] = { 0x0a, 0x03, 0x12, 0x01, 'w' };
	cr_assert_eq(otlp_decode_partial_success(OTLP_SIGNAL_METRICS, warning, sizeof warning, &ps), 0);
	cr_assert(ps.present);
	cr_assert_eq(ps.rejected, 0);
	cr_assert_str_eq(ps.message, "w");

	const uint8_t garbage[] = { 0x0a, 0x7f, 0x01 }; /* a length past the end */
	cr_assert_eq(otlp_decode_partial_success(OTLP_SIGNAL_TRACES, garbage, sizeof garbage, &ps), -1);
	cr_assert_not(ps.present);
}
