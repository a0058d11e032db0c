/* SPDX-License-Identifier: MIT */
/*
 * test_preload.c: libstdbtel.so loaded into real programs. Whatever the
 * config says, the program's output and exit status must be what they are
 * without the shim; problems show as "stdbtel:" lines on stderr only.
 * With traces_file set, every call of a hooked function becomes one span
 * in that file, nested calls as parent and child of one trace; the spans
 * are read back through Python's json parser (otlp_json_summary.py).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "spans.h"

static struct run_result run_target_rounds(const char *target_env, const char *rounds, const char *config_path,
                                           bool preload, const char *extra_env)
{
	char *argv[] = { (char *)test_env_path(target_env), (char *)rounds, NULL };
	char config_var[4096];
	snprintf(config_var, sizeof config_var, "STDBTEL_CONFIG=%s", config_path ? config_path : "");
	char *env[] = { preload ? (char *)test_preload_value() : "-LD_PRELOAD", config_var,
		        "C_TARGET_PRINT_ADDRESSES=1", "-STDBTEL_LOG", "-SPACETIMEDB_TELEMETRY_ENABLED", "-OTEL_SDK_DISABLED",
		        (char *)(extra_env ? extra_env : "-STDBTEL_UNUSED"), NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0, "cannot start %s", argv[0]);
	return r;
}

static struct run_result run_target(const char *target_env, const char *config_path, bool preload,
                                    const char *extra_env)
{
	return run_target_rounds(target_env, "5", config_path, preload, extra_env);
}

/*
 * True when a and b are equal apart from lines holding addresses ("=0x"):
 * a PIE program's addresses change from run to run.
 */
static bool same_output_but_addresses(const char *a, const char *b)
{
	for (;;) {
		while (strncmp(a, "db_insert=0x", 12) == 0)
			a = strchr(a, '\n') ? strchr(a, '\n') + 1 : a + strlen(a);
		while (strncmp(b, "db_insert=0x", 12) == 0)
			b = strchr(b, '\n') ? strchr(b, '\n') + 1 : b + strlen(b);
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');
		if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0)
			return false;
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
	}
}

/* Runs target without and with the shim under config text; checks that stdout and status match. */
static struct run_result run_unchanged(const char *target_env, const char *config_text)
{
	char *config = write_temp_file(config_text, ".toml");
	struct run_result plain = run_target(target_env, NULL, false, NULL);
	struct run_result shim = run_target(target_env, config, true, NULL);
	unlink(config);
	free(config);
	cr_assert_eq(plain.status, 0, "the target itself failed: %s", plain.err);
	/* stderr too: a sanitizer report there explains a lost stdout */
	cr_assert(same_output_but_addresses(shim.out, plain.out),
	          "stdout changed under the shim (status %d):\n%s\nwithout:\n%s\nstderr under the shim:\n%s",
	          shim.status, shim.out, plain.out, shim.err);
	cr_assert_gt(strlen(plain.out), 0, "the target printed nothing");
	cr_assert_eq(shim.status, plain.status, "exit status changed under the shim; stderr:\n%s", shim.err);
	run_result_free(&plain);
	return shim;
}

static void assert_every_stderr_line_is_ours(const char *err)
{
	size_t lines = count_lines_containing(err, "");
	cr_assert_eq(count_lines_containing(err, "stdbtel: "), lines, "stderr has lines not from the shim:\n%s", err);
}

Test(preload, syntax_error_is_one_line_and_the_program_runs_unchanged)
{
	struct run_result r = run_unchanged("STDBTEL_TARGET_C_PIE", "[telemetry]\nenabled = tru\n");
	assert_every_stderr_line_is_ours(r.err);
	cr_assert_eq(count_lines_containing(r.err, ".toml:2:11: "), 1, "stderr:\n%s", r.err);
	cr_assert_eq(count_lines_containing(r.err, "not tracing"), 1, "stderr:\n%s", r.err);
	run_result_free(&r);
}

Test(preload, schema_errors_are_each_reported)
{
	struct run_result r = run_unchanged("STDBTEL_TARGET_C_NOPIE",
		"[telemetry]\nenabled = true\nbogus_key = 1\n[[hook]]\nsymbol = 7\n");
	assert_every_stderr_line_is_ours(r.err);
	cr_assert_eq(count_lines_containing(r.err, ".toml:3:1: unknown key 'bogus_key'"), 1, "stderr:\n%s", r.err);
	cr_assert_eq(count_lines_containing(r.err, ".toml:5:10: 'symbol' in [[hook]] must be a string"), 1,
	             "stderr:\n%s", r.err);
	cr_assert_eq(count_lines_containing(r.err, "config has 2 errors; not tracing"), 1, "stderr:\n%s", r.err);
	cr_assert_eq(count_lines_containing(r.err, "stdbtel: "), 3, "one line per problem, one summary:\n%s", r.err);
	run_result_free(&r);
}

Test(preload, missing_config_file)
{
	struct run_result plain = run_target("STDBTEL_TARGET_C_PIE", NULL, false, NULL);
	struct run_result shim = run_target("STDBTEL_TARGET_C_PIE", "/nonexistent/x.toml", true, NULL);
	cr_assert(same_output_but_addresses(shim.out, plain.out));
	cr_assert_eq(shim.status, plain.status);
	cr_assert_eq(count_lines_containing(shim.err, "stdbtel: /nonexistent/x.toml: cannot open"), 1,
	             "stderr:\n%s", shim.err);
	run_result_free(&plain);
	run_result_free(&shim);
}

Test(preload, disabled_telemetry_is_silent)
{
	struct run_result r = run_unchanged("STDBTEL_TARGET_C_PIE",
		"[telemetry]\nenabled = false\n[[hook]]\nsymbol = \"db_insert\"\n");
	cr_assert_str_eq(r.err, "", "a disabled shim prints nothing");
	run_result_free(&r);
}

/* Runs c_target with C_TARGET_SELF_CHECK under config text and returns the self-check line. */
static char *self_check_line(const char *config_text, struct run_result *r)
{
	char *config = write_temp_file(config_text, ".toml");
	*r = run_target("STDBTEL_TARGET_C_PIE", config, true, "C_TARGET_SELF_CHECK=1");
	unlink(config);
	free(config);
	cr_assert_eq(r->status, 0, "stderr:\n%s", r->err);
	const char *line = strstr(r->out, "db_insert starts ");
	cr_assert_not_null(line, "no self-check line: %s", r->out);
	return strndup(line, strcspn(line, "\n"));
}

Test(preload, other_processes_stay_inert)
{
	/* A process "processes" does not name: no patch, no thread, no file, one debug note. */
	struct traces_setup ts;
	traces_setup_begin(&ts, "");
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "[telemetry]\nenabled = true\nlog_level = \"debug\"\nprocesses = [\"spacetimedb-standalone\"]\n"
	                              "traces_file = \"%s\"\n[[hook]]\nsymbol = \"db_insert\"\n", ts.traces), 0);
	struct run_result plain = run_target("STDBTEL_TARGET_C_PIE", NULL, false, "C_TARGET_SELF_CHECK=1");
	struct run_result r;
	char *inert = self_check_line(text, &r);
	const char *plain_line = strstr(plain.out, "db_insert starts ");
	cr_assert_not_null(plain_line);
	cr_assert_eq(strncmp(inert, plain_line, strlen(inert)), 0, "under the shim: %s\nwithout: %.*s", inert,
	             (int)strcspn(plain_line, "\n"), plain_line);
	cr_assert_not_null(strstr(inert, "; 1 threads"), "%s", inert);
	cr_assert_neq(access(ts.traces, F_OK), 0, "an inert shim wrote %s", ts.traces);
	cr_assert_eq(count_lines_containing(r.err, "resolved"), 0, "stderr:\n%s", r.err);
	cr_assert_eq(count_lines_containing(r.err, "is not in \"processes\""), 1, "stderr:\n%s", r.err);
	run_result_free(&r);
	free(inert);

	/* The control: the same config for this process patches, starts the exporter and writes the file. */
	free(text);
	cr_assert_geq(asprintf(&text, "[telemetry]\nenabled = true\nprocesses = [\"c_target_*\"]\n"
	                              "traces_file = \"%s\"\n[[hook]]\nsymbol = \"db_insert\"\n", ts.traces), 0);
	char *active = self_check_line(text, &r);
	cr_assert_neq(strncmp(active, plain_line, strlen(active)), 0, "db_insert's first bytes did not change: %s", active);
	cr_assert_not_null(strstr(active, "; 2 threads"), "the exporter thread: %s", active);
	cr_assert_eq(access(ts.traces, F_OK), 0, "no %s written", ts.traces);
	run_result_free(&r);
	run_result_free(&plain);
	free(active);
	free(text);
	traces_setup_end(&ts);
}

/* The address the target printed for name ("name=0x..."). */
static uintptr_t printed_address(const char *out, const char *name)
{
	char needle[64];
	snprintf(needle, sizeof needle, "%s=0x", name);
	const char *p = strstr(out, needle);
	cr_assert_not_null(p, "target did not print %s:\n%s", name, out);
	return (uintptr_t)strtoull(p + strlen(needle), NULL, 16);
}

/* The address the shim logged for key ("-> key at 0x..."). */
static uintptr_t resolved_address(const char *err, const char *key)
{
	char needle[128];
	snprintf(needle, sizeof needle, "-> %s at 0x", key);
	const char *p = strstr(err, needle);
	cr_assert_not_null(p, "shim did not resolve %s:\n%s", key, err);
	return (uintptr_t)strtoull(p + strlen(needle), NULL, 16);
}

static void check_runtime_addresses(const char *target_env)
{
	struct run_result r = run_unchanged(target_env,
		"[telemetry]\nenabled = true\nlog_level = \"debug\"\nprocesses = [\"c_target*\"]\n"
		"[[hook]]\nsymbol = \"db_insert\"\n"
		"[[hook]]\nsymbol = \"row_hash\"\n"
		"[[hook]]\nsymbol = \"db_select\"\n"
		"[[hook]]\nsymbol = \"no_such_function\"\n");
	assert_every_stderr_line_is_ours(r.err);
	const char *names[] = { "db_insert", "db_select", "row_hash" };
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(resolved_address(r.err, names[i]), printed_address(r.out, names[i]),
		             "%s resolved to a different address than the program's own", names[i]);
	cr_assert_eq(count_lines_containing(r.err, "no function matches symbol \"no_such_function\""), 1,
	             "stderr:\n%s", r.err);
	/* No traces_file: nowhere to send spans yet, so nothing is patched. */
	cr_assert_eq(count_lines_containing(r.err, "3 of 4 hooks resolved to 3 functions, 0 hooked"), 1,
	             "stderr:\n%s", r.err);
	cr_assert_eq(count_lines_containing(r.err, "nothing patched: no exporter is set (traces_file, otlp_endpoint or statsd_endpoint)"), 1, "stderr:\n%s", r.err);
	run_result_free(&r);
}

Test(preload, resolves_runtime_addresses_in_a_pie_program)
{
	check_runtime_addresses("STDBTEL_TARGET_C_PIE");
}

Test(preload, resolves_runtime_addresses_in_a_non_pie_program)
{
	check_runtime_addresses("STDBTEL_TARGET_C_NOPIE");
}

Test(preload, resolves_rust_paths_in_both_manglings)
{
	const char *targets[] = { "STDBTEL_TARGET_RUST_LEGACY", "STDBTEL_TARGET_RUST_V0" };
	for (size_t i = 0; i < 2; i++) {
		struct run_result r = run_unchanged(targets[i],
			"[telemetry]\nenabled = true\nlog_level = \"debug\"\n"
			"[[hook]]\nsymbol = \"rust_target::db::relational_db::RelationalDB::insert\"\n"
			"[[hook]]\nsymbol = \"rust_target::scan_chunks\"\n"
			"[[hook]]\nsymbol = \"spacetimedb::absent\"\noptional = true\n");
		cr_assert_eq(count_lines_containing(r.err, "2 of 3 hooks resolved to 3 functions"), 1, "%s stderr:\n%s",
		             targets[i], r.err);
		run_result_free(&r);
	}
}

Test(preload, optional_missing_symbol_is_only_a_debug_note)
{
	struct run_result r = run_unchanged("STDBTEL_TARGET_C_PIE",
		"[telemetry]\nenabled = true\nlog_level = \"warn\"\n"
		"[[hook]]\nsymbol = \"absent_in_this_version\"\noptional = true\n");
	cr_assert_str_eq(r.err, "", "stderr:\n%s", r.err);
	run_result_free(&r);
}

Test(preload, environment_enables_a_disabled_config)
{
	char *config = write_temp_file("[telemetry]\nenabled = false\n[[hook]]\nsymbol = \"db_insert\"\n", ".toml");
	struct run_result r = run_target("STDBTEL_TARGET_C_PIE", config, true, "SPACETIMEDB_TELEMETRY_ENABLED=true");
	unlink(config);
	free(config);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines_containing(r.err, "1 of 1 hooks resolved"), 1, "stderr:\n%s", r.err);
	run_result_free(&r);
}

/* ---- spans in traces_file ---- */

/*
 * c_target with `rounds` rounds: handle_round runs once per round and calls
 * db_insert and db_select once each; db_insert calls row_hash unless the
 * round's table (round % 4) already holds 64 rows.
 */
static size_t expected_row_hash_calls(unsigned rounds)
{
	size_t rows[4] = { 0 }, calls = 0;
	for (unsigned r = 0; r < rounds; r++)
		if (rows[r % 4] < 64) {
			rows[r % 4]++;
			calls++;
		}
	return calls;
}

static void check_traces(const char *target_env, bool hook_handle_round)
{
	const unsigned rounds = 40;
	struct traces_setup ts;
	traces_setup_begin(&ts, hook_handle_round
		? "[[hook]]\nsymbol = \"db_insert\"\n[[hook]]\nsymbol = \"db_select\"\n"
		  "[[hook]]\nsymbol = \"row_hash\"\n[[hook]]\nsymbol = \"handle_round\"\n"
		: "[[hook]]\nsymbol = \"db_insert\"\n[[hook]]\nsymbol = \"db_select\"\n"
		  "[[hook]]\nsymbol = \"row_hash\"\n");
	const char *traces = ts.traces, *config = ts.config;
	char rounds_text[16];
	snprintf(rounds_text, sizeof rounds_text, "%u", rounds);
	struct run_result plain = run_target_rounds(target_env, rounds_text, NULL, false, NULL);
	struct run_result shim = run_target_rounds(target_env, rounds_text, config, true, NULL);
	cr_assert_eq(plain.status, 0, "the target itself failed: %s", plain.err);
	cr_assert_eq(shim.status, 0, "status under the shim: %d, stderr:\n%s", shim.status, shim.err);
	cr_assert(same_output_but_addresses(shim.out, plain.out), "stdout changed under the shim:\n%s\nwithout:\n%s",
	          shim.out, plain.out);
	assert_every_stderr_line_is_ours(shim.err);
	cr_assert_eq(count_lines_containing(shim.err, hook_handle_round ? "4 hooked" : "3 hooked"), 1,
	             "stderr:\n%s", shim.err);

	struct stat stt;
	cr_assert_eq(stat(traces, &stt), 0, "no traces_file written; stderr:\n%s", shim.err);
	cr_assert_eq(stt.st_mode & 0777, 0644);
	size_t n = 0;
	struct span_line *spans = read_spans(traces, &n);
	size_t want_hash = expected_row_hash_calls(rounds);
	cr_assert_eq(count_named(spans, n, "db_insert"), rounds, "db_insert spans; stderr:\n%s", shim.err);
	cr_assert_eq(count_named(spans, n, "db_select"), rounds, "db_select spans");
	cr_assert_eq(count_named(spans, n, "row_hash"), want_hash, "row_hash spans");
	cr_assert_eq(count_named(spans, n, "handle_round"), hook_handle_round ? rounds : 0, "handle_round spans");
	cr_assert_eq(n, 2 * rounds + want_hash + (hook_handle_round ? rounds : 0), "no other spans");

	for (size_t i = 0; i < n; i++) {
		const struct span_line *s = &spans[i];
		cr_assert_eq(s->status, 0, "%s: unexpected error status", s->name);
		cr_assert_null(find_span(spans, i, s->span), "span id %s is used twice", s->span);
		const struct span_line *parent = strcmp(s->parent, "-") ? find_span(spans, n, s->parent) : NULL;
		const char *want_parent = strcmp(s->name, "row_hash") == 0 ? "db_insert"
		                          : strcmp(s->name, "handle_round") == 0 ? NULL
		                          : hook_handle_round ? "handle_round" : NULL;
		if (want_parent == NULL) {
			cr_assert_str_eq(s->parent, "-", "%s should be a root", s->name);
			for (size_t j = 0; j < n; j++)
				cr_assert(j == i || spans[j].parent[0] != '-' || strcmp(spans[j].trace, s->trace) != 0,
				          "two roots share trace %s", s->trace);
		} else {
			cr_assert_not_null(parent, "%s %s: parent %s not in the file", s->name, s->span, s->parent);
			cr_assert_str_eq(parent->name, want_parent, "%s's parent", s->name);
			cr_assert_str_eq(parent->trace, s->trace, "%s is not in its parent's trace", s->name);
		}
	}
	free(spans);
	traces_setup_end(&ts);
	run_result_free(&plain);
	run_result_free(&shim);
}

Test(preload, one_span_per_call_in_a_pie_program)
{
	check_traces("STDBTEL_TARGET_C_PIE", false);
}

Test(preload, one_span_per_call_in_a_non_pie_program)
{
	check_traces("STDBTEL_TARGET_C_NOPIE", false);
}

Test(preload, nested_calls_share_the_root_trace)
{
	check_traces("STDBTEL_TARGET_C_PIE", true);
	check_traces("STDBTEL_TARGET_C_NOPIE", true);
}

Test(preload, unwritable_traces_file_is_one_line_and_the_program_runs_unchanged)
{
	struct run_result r = run_unchanged("STDBTEL_TARGET_C_PIE",
		"[telemetry]\nenabled = true\ntraces_file = \"/nonexistent-dir/traces.jsonl\"\n"
		"[[hook]]\nsymbol = \"db_insert\"\n");
	assert_every_stderr_line_is_ours(r.err);
	cr_assert_eq(count_lines_containing(r.err, "cannot open traces_file /nonexistent-dir/traces.jsonl"), 1,
	             "stderr:\n%s", r.err);
	run_result_free(&r);
}

Test(preload, error_rule_sets_error_status)
{
	/* 300 rounds: each of the 4 tables takes 64 rows, then db_insert returns -1. */
	const unsigned rounds = 300;
	struct traces_setup ts;
	traces_setup_begin(&ts, "[[hook]]\nsymbol = \"db_insert\"\n[hook.error]\nwhen = \"negative\"\ntype = \"i32\"\n");
	const char *traces = ts.traces, *config = ts.config;
	struct run_result r = run_target_rounds("STDBTEL_TARGET_C_PIE", "300", config, true, NULL);
	cr_assert_eq(r.status, 0, "stderr:\n%s", r.err);
	size_t n = 0, errors = 0;
	struct span_line *spans = read_spans(traces, &n);
	for (size_t i = 0; i < n; i++)
		errors += spans[i].status == 2;
	cr_assert_eq(n, rounds);
	cr_assert_eq(errors, rounds - expected_row_hash_calls(rounds), "spans with error status");
	free(spans);
	traces_setup_end(&ts);
	run_result_free(&r);
}

/* ---- a traces_file that blocks: the host must neither hang at start nor at exit ---- */

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A FIFO in a fresh folder and a config that sends every span there; undone by fifo_setup_end. */
struct fifo_setup {
	char dir[32];
	char fifo[64];
	char *config;
};

static void fifo_setup_begin(struct fifo_setup *fs)
{
	snprintf(fs->dir, sizeof fs->dir, "/tmp/stdbtel-fifo-XXXXXX");
	cr_assert_not_null(mkdtemp(fs->dir));
	snprintf(fs->fifo, sizeof fs->fifo, "%s/traces", fs->dir);
	cr_assert_eq(mkfifo(fs->fifo, 0600), 0);
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "[telemetry]\nenabled = true\ntraces_file = \"%s\"\n"
	                              "[telemetry.sampling]\ntraces_per_second = 100000\n"
	                              "[[hook]]\nsymbol = \"db_insert\"\n[[hook]]\nsymbol = \"db_select\"\n"
	                              "[[hook]]\nsymbol = \"row_hash\"\n", fs->fifo), 0);
	fs->config = write_temp_file(text, ".toml");
	free(text);
}

static void fifo_setup_end(struct fifo_setup *fs)
{
	unlink(fs->config);
	free(fs->config);
	unlink(fs->fifo);
	rmdir(fs->dir);
}

Test(preload, traces_file_fifo_without_reader_is_one_line_at_start)
{
	struct fifo_setup fs;
	fifo_setup_begin(&fs);
	struct run_result plain = run_target_rounds("STDBTEL_TARGET_C_PIE", "50", NULL, false, NULL);
	struct run_result shim = run_target_rounds("STDBTEL_TARGET_C_PIE", "50", fs.config, true, NULL);
	cr_assert_eq(shim.status, 0, "stderr:\n%s", shim.err);
	cr_assert(same_output_but_addresses(shim.out, plain.out), "stdout changed:\n%s", shim.out);
	cr_assert_eq(count_lines_containing(shim.err, "cannot open traces_file"), 1, "stderr:\n%s", shim.err);
	cr_assert_eq(count_lines_containing(shim.err, "a FIFO with no reader"), 1, "stderr:\n%s", shim.err);
	fifo_setup_end(&fs);
	run_result_free(&plain);
	run_result_free(&shim);
}

Test(preload, traces_file_that_stops_reading_delays_exit_at_most_the_stop_timeout)
{
	struct fifo_setup fs;
	fifo_setup_begin(&fs);
	/* A reader that never reads: the pipe (64 KiB) fills and the exporter's write blocks. */
	int reader = open(fs.fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(reader, 0);
	const char *rounds = "2000"; /* thousands of spans: far more than the pipe holds */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct run_result plain = run_target_rounds("STDBTEL_TARGET_C_PIE", rounds, NULL, false, NULL);
	double plain_s = seconds_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct run_result shim = run_target_rounds("STDBTEL_TARGET_C_PIE", rounds, fs.config, true, NULL);
	double shim_s = seconds_since(&t0);
	close(reader);
	cr_assert_eq(shim.status, 0, "stderr:\n%s", shim.err);
	cr_assert(same_output_but_addresses(shim.out, plain.out), "stdout changed:\n%s", shim.out);
	cr_assert_eq(count_lines_containing(shim.err, "exporter did not finish within 2000 ms"), 1, "stderr:\n%s",
	             shim.err);
	/* the stop timeout (2 s) plus start-up and slack; a hang would be the test's timeout */
	cr_assert_lt(shim_s, plain_s + 4.0, "exit took %.2f s (%.2f s without the shim)", shim_s, plain_s);
	fifo_setup_end(&fs);
	run_result_free(&plain);
	run_result_free(&shim);
}

/*
 * A daemon that closes every descriptor it did not open and then opens its
 * own data file must find in that file only what it wrote: the exporter
 * holds no descriptor the host could close and reuse. The spans still
 * arrive.
 */
Test(preload, a_host_closing_every_descriptor_keeps_its_files_to_itself)
{
	const unsigned rounds = 40;
	struct traces_setup ts;
	traces_setup_begin(&ts, "[[hook]]\nsymbol = \"db_insert\"\n[[hook]]\nsymbol = \"db_select\"\n");
	char data[128], data_env[160];
	snprintf(data, sizeof data, "%s/host-data", ts.dir);
	snprintf(data_env, sizeof data_env, "C_TARGET_DAEMON_FILE=%s", data);
	struct run_result r = run_target_rounds("STDBTEL_TARGET_C_PIE", "40", ts.config, true, data_env);
	cr_assert_eq(r.status, 0, "stderr:\n%s", r.err);
	FILE *f = fopen(data, "r");
	cr_assert_not_null(f, "the target wrote no %s", data);
	char content[4096];
	size_t len = fread(content, 1, sizeof content - 1, f);
	fclose(f);
	content[len] = '\0';
	char want[128];
	snprintf(want, sizeof want, "c_target: %u rounds, ", rounds);
	cr_assert_eq(strncmp(content, want, strlen(want)), 0, "the host's file holds:\n%s", content);
	cr_assert_eq(count_lines_containing(content, ""), 1, "the host's file holds more than its line:\n%s", content);
	size_t n = 0;
	struct span_line *spans = read_spans(ts.traces, &n);
	cr_assert_eq(count_named(spans, n, "db_insert"), rounds);
	cr_assert_eq(count_named(spans, n, "db_select"), rounds);
	free(spans);
	unlink(data);
	traces_setup_end(&ts);
	run_result_free(&r);
}
