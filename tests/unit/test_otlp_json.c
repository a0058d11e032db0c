/* SPDX-License-Identifier: MIT */
/*
 * test_otlp_json.c: the OTLP/JSON encoder, read back by Python's json
 * parser (tests/support/otlp_json_summary.py) and compared field by field
 * with what the test put in.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "otlp_json.h"
#include "run.h"

static uint64_t ticks_plus_epoch(uint64_t ticks)
{
	return 1700000000000000000ull + ticks;
}

/* Runs the summary script over text; returns its stdout (free it). */
static char *summarize(const char *text)
{
	char *path = write_temp_file(text, ".jsonl");
	char script[4096];
	snprintf(script, sizeof script, "%s/tests/support/otlp_json_summary.py", test_env_path("STDBTEL_SOURCE_ROOT"));
	char *cmd = NULL;
	cr_assert_geq(asprintf(&cmd, "python3 '%s' < '%s'", script, path), 0);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, NULL, &r), 0);
	unlink(path);
	free(path);
	free(cmd);
	cr_assert_eq(r.status, 0, "python3 rejected the JSON (python3 missing? scripts/test.sh installs it):\n%s\n%s",
	             r.err, text);
	char *out = r.out;
	free(r.err);
	return out;
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
	"symbol = \"row_hash\"\n";

Test(otlp_json, spans_read_back_by_an_independent_parser)
{
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	cr_assert_eq(config_parse(&cfg, "t.toml", config_text, strlen(config_text), NULL, NULL, &diags), 0);

	struct otlp_target targets[] = { { "db_insert", 0 }, { "row_hash", 1 } };
	struct span_record spans[3];
	memset(spans, 0, sizeof spans);
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 16; k++)
			spans[i].trace_id[k] = (uint8_t)(0xa0 + k);
		for (int k = 0; k < 8; k++)
			spans[i].span_id[k] = (uint8_t)(0x10 * i + k + 1);
		spans[i].start_ticks = 1000u * (i + 1);
		spans[i].end_ticks = 1000u * (i + 1) + 250;
	}
	/* span 0: root, db_insert, with captures including a string that needs escaping */
	spans[0].target_index = 0;
	spans[0].ncaptures = 4;
	spans[0].captures[0] = (uint32_t)-7;          /* i32 -7 */
	const char text[] = "say \"hi\"\n\xff!";        /* quote, newline, invalid byte */
	memcpy(spans[0].text, text, sizeof text - 1);
	spans[0].text_used = sizeof text - 1;
	spans[0].captures[1] = (uint64_t)0 << 32 | (sizeof text - 1);
	spans[0].captures[2] = UINT64_MAX;             /* u64 beyond int64 */
	spans[0].captures[3] = 0x7fffdeadbeefull;
	/* span 1: child of span 0, error */
	spans[1].target_index = 1;
	memcpy(spans[1].parent_span_id, spans[0].span_id, 8);
	spans[1].flags = SPAN_UNWOUND;
	/* span 2: a bad target index: skipped */
	spans[2].target_index = 99;

	struct config_pair extra[] = { { "deployment.environment", "test" }, { "service.name", "ignored" } };
	struct otlp_resource res = {
		.service_name = "svc", .service_version = "1.2", .pid = 4242, .executable_name = "c_target",
		.host_name = "h", .extra = extra, .nextra = 2,
	};
	struct json_buf buf = { 0 };
	cr_assert_eq(otlp_json_encode_spans(&buf, &res, "0.1.0", &cfg, targets, 2, spans, 3, ticks_plus_epoch, NULL), 2);
	cr_assert_eq(buf.data[buf.len - 1], '\n');
	cr_assert_null(memchr(buf.data, '\n', buf.len - 1), "one line");

	char *summary = summarize(buf.data);
	const char *expected =
		"resource service.name stringValue=svc\n"
		"resource service.version stringValue=1.2\n"
		"resource process.pid intValue=4242\n"
		"resource process.executable.name stringValue=c_target\n"
		"resource host.name stringValue=h\n"
		"resource telemetry.sdk.name stringValue=stdbtel\n"
		"resource telemetry.sdk.language stringValue=c\n"
		"resource telemetry.sdk.version stringValue=0.1.0\n"
		"resource deployment.environment stringValue=test\n"
		"scope stdbtel 0.1.0\n"
		"span a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 0102030405060708 - 'demo.insert' 3 "
		"1700000000000001000 1700000000000001250 status=0 [code.function.name:stringValue=db_insert "
		"db.system.name:stringValue=demo retries:intValue=3 ratio:doubleValue=0.5 hot:boolValue=True "
		"db.collection.id:intValue=-7 db.query.text:stringValue=say \"hi\"\n\xef\xbf\xbd! "
		"big:stringValue=18446744073709551615 where:stringValue=0x7fffdeadbeef]\n"
		"span a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 1112131415161718 0102030405060708 'row_hash' 1 "
		"1700000000000002000 1700000000000002250 status=2 [code.function.name:stringValue=row_hash]\n";
	cr_assert_str_eq(summary, expected);
	free(summary);
	json_buf_free(&buf);
	config_free(&cfg);
}

Test(otlp_json, damaged_string_capture_never_reads_outside_the_record)
{
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	cr_assert_eq(config_parse(&cfg, "t.toml", config_text, strlen(config_text), NULL, NULL, &diags), 0);
	struct otlp_target target = { "db_insert", 0 };
	struct span_record rec;
	memset(&rec, 0, sizeof rec);
	rec.trace_id[0] = rec.span_id[0] = 1;
	rec.ncaptures = 2;
	rec.text_used = 10;
	rec.captures[1] = (uint64_t)200 << 32 | 50; /* offset past text_used */
	struct otlp_resource res = { .service_name = "s", .pid = 1 };
	struct json_buf buf = { 0 };
	cr_assert_eq(otlp_json_encode_spans(&buf, &res, "0", &cfg, &target, 1, &rec, 1, ticks_plus_epoch, NULL), 1);
	cr_assert_not_null(strstr(buf.data, "\"key\":\"db.query.text\",\"value\":{\"stringValue\":\"\"}"), "%s", buf.data);
	json_buf_free(&buf);
	config_free(&cfg);
}

/* A formatter that names the frames it was given, so the test sees which stack reached which span. */
static size_t fake_format(const struct span_stack *stack, char *out, size_t outsz, void *ctx)
{
	(void)ctx;
	int n = snprintf(out, outsz, "frames=%u first=%llx", (unsigned)stack->nframes,
	                 (unsigned long long)stack->frames[0]);
	return n < 0 ? 0 : (size_t)n;
}

Test(otlp_json, a_stack_record_gives_the_next_span_its_code_stacktrace)
{
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	cr_assert_eq(config_parse(&cfg, "t.toml", config_text, strlen(config_text), NULL, NULL, &diags), 0);
	struct otlp_target target = { "db_insert", 0 };
	struct span_record recs[5];
	memset(recs, 0, sizeof recs);
	for (int i = 0; i < 5; i++)
		recs[i].trace_id[0] = 1;
	/* 0: stack of span 7; 1: span 7 (gets it); 2: stack of span 9; 3: span 8 (not its own: none); 4: span 9 */
	struct span_stack *st0 = (struct span_stack *)&recs[0], *st2 = (struct span_stack *)&recs[2];
	st0->flags = SPAN_STACK, st0->span_id[0] = 7, st0->nframes = 3, st0->frames[0] = 0xabc;
	recs[1].span_id[0] = 7, recs[1].flags = SPAN_UNWOUND;
	st2->flags = SPAN_STACK, st2->span_id[0] = 9, st2->nframes = 2, st2->frames[0] = 0xdef;
	recs[3].span_id[0] = 8;
	recs[4].span_id[0] = 9;
	struct otlp_resource res = { .service_name = "s", .pid = 1 };
	struct otlp_stack_formatter fmt = { fake_format, NULL };
	struct json_buf buf = { 0 };
	cr_assert_eq(otlp_json_encode_spans(&buf, &res, "0", &cfg, &target, 1, recs, 5, ticks_plus_epoch, &fmt), 3,
	             "stack records are not spans");
	char *summary = summarize(buf.data);
	cr_assert_eq(count_lines_containing(summary, "code.stacktrace:stringValue=frames=3 first=abc"), 1, "%s", summary);
	cr_assert_eq(count_lines_containing(summary, "code.stacktrace"), 1,
	             "a stack goes only to the span right after it with its id:\n%s", summary);
	free(summary);
	json_buf_free(&buf);
	buf = (struct json_buf){ 0 };
	cr_assert_eq(otlp_json_encode_spans(&buf, &res, "0", &cfg, &target, 1, recs, 5, ticks_plus_epoch, NULL), 3);
	cr_assert_null(strstr(buf.data, "code.stacktrace"), "no formatter: stacks skipped");
	json_buf_free(&buf);
	config_free(&cfg);
}
