/* SPDX-License-Identifier: MIT */
/*
 * test_dlopen.c: the two ways in besides patching at start-up, under the
 * real shim, on tests/targets/dlopen_target.c:
 *  - a library the program dlopens after main starts, by its bare name
 *    found only through the program's own $ORIGIN search path (DT_RUNPATH
 *    in one build, DT_RPATH in the other), is still found (the shim's
 *    dlopen opens it as the program would have) and its function is
 *    patched before dlopen returns: one span per call;
 *  - write(2), named in libc.so.6, is served by the shim's interposed
 *    wrapper (the PLT way in): one span per call the program makes through
 *    its PLT, each the child of the patched local function that made it,
 *    and none for the writes libc makes internally (printf's).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "spans.h"

/* True in a sanitizer build (the runtime is preloaded first). */
static bool sanitized(void)
{
	const char *first = getenv("STDBTEL_PRELOAD_FIRST");
	return first != NULL && first[0] != '\0';
}

/*
 * meson puts the plugin's folder in LD_LIBRARY_PATH; it is removed so that
 * only the target's own $ORIGIN path can find the plugin. Not in a
 * sanitizer build: ASan's own dlopen interceptor is the caller the loader
 * sees there, with or without the shim, and the plugin would not load.
 */
static struct run_result run_dlopen_target(const char *target_env, const char *calls, const char *config)
{
	char *argv[] = { (char *)test_env_path(target_env), (char *)calls, NULL };
	char config_var[4096];
	snprintf(config_var, sizeof config_var, "STDBTEL_CONFIG=%s", config ? config : "");
	char *env[] = { config ? (char *)test_preload_value() : "-LD_PRELOAD", config_var, "-STDBTEL_LOG",
		        "-SPACETIMEDB_TELEMETRY_ENABLED", "-OTEL_SDK_DISABLED", "-OTEL_TRACES_SAMPLER",
		        sanitized() ? "-STDBTEL_UNUSED" : "-LD_LIBRARY_PATH", NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0, "cannot start %s", argv[0]);
	return r;
}

static const char *const hooks =
	"[[hook]]\nsymbol = \"plugin_work\"\nobject = \"libdlopen_plugin*\"\n"
	"[[hook]]\nsymbol = \"emit_record\"\n"
	"[[hook]]\nsymbol = \"write\"\nobject = \"libc.so.6\"\n";

static void check_dlopen_target(const char *target_env)
{
	const unsigned calls = 120;
	char calls_text[16];
	snprintf(calls_text, sizeof calls_text, "%u", calls);
	struct traces_setup ts;
	traces_setup_begin(&ts, hooks);
	struct run_result plain = run_dlopen_target(target_env, calls_text, NULL);
	struct run_result shim = run_dlopen_target(target_env, calls_text, ts.config);
	cr_assert_eq(plain.status, 0, "the target itself failed: %s%s", plain.out, plain.err);
	cr_assert_eq(shim.status, 0, "status under the shim %d:\n%s\nstderr:\n%s", shim.status, shim.out, shim.err);
	cr_assert_str_eq(shim.out, plain.out, "stdout changed under the shim");
	cr_assert_eq(count_lines_containing(shim.err, ""), count_lines_containing(shim.err, "stdbtel: "),
	             "stderr has lines not from the shim:\n%s", shim.err);
	/* at start: emit_record patched, write interposed; plugin_work waits for the dlopen */
	cr_assert_eq(count_lines_containing(shim.err, "2 of 3 hooks resolved to 2 functions, 2 hooked"), 1,
	             "stderr:\n%s", shim.err);
	cr_assert_eq(count_lines_containing(shim.err, "dlopen mapped 1 new object: 1 functions resolved, 1 hooked"), 1,
	             "stderr:\n%s", shim.err);

	size_t n = 0;
	struct span_line *spans = read_spans(ts.traces, &n);
	cr_assert_eq(count_named(spans, n, "plugin_work"), calls, "plugin_work spans");
	cr_assert_eq(count_named(spans, n, "emit_record"), calls, "emit_record spans");
	size_t nested_writes = 0, other_writes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct span_line *s = &spans[i];
		cr_assert_eq(s->status, 0, "%s: error status", s->name);
		cr_assert_null(find_span(spans, i, s->span), "span id %s is used twice", s->span);
		if (strcmp(s->name, "write") == 0) {
			const struct span_line *parent = find_span(spans, n, s->parent);
			if (parent == NULL) {
				cr_assert_str_eq(s->parent, "-", "write %s: parent %s not in the file", s->span, s->parent);
				other_writes++;
				continue;
			}
			cr_assert_str_eq(parent->name, "emit_record", "an interposed call nests in the patched caller");
			cr_assert_str_eq(parent->trace, s->trace);
			nested_writes++;
		} else {
			cr_assert_str_eq(s->parent, "-", "%s should be a root", s->name);
		}
	}
	cr_assert_eq(nested_writes, calls, "one write span per write() the target made through its PLT");
	/* printf's writes happen inside libc, which the PLT way does not see; in a
	 * sanitizer build the runtime's own interceptors call write() through theirs */
	if (!sanitized())
		cr_assert_eq(other_writes, 0, "no write span from inside libc");
	cr_assert_eq(n, 2 * (size_t)calls + nested_writes + other_writes, "no other spans");
	free(spans);
	traces_setup_end(&ts);
	run_result_free(&plain);
	run_result_free(&shim);
}

Test(dlopen, library_found_through_runpath_is_hooked_before_dlopen_returns)
{
	check_dlopen_target("STDBTEL_TARGET_DLOPEN_RUNPATH");
}

Test(dlopen, library_found_through_rpath_is_hooked_before_dlopen_returns)
{
	check_dlopen_target("STDBTEL_TARGET_DLOPEN_RPATH");
}

Test(dlopen, via_patch_times_a_libc_function_by_patching_it)
{
	/* The same write, patched in libc instead of interposed: libc's own
	 * writes (printf's, once per line at exit) are then timed too. */
	const unsigned calls = 30;
	struct traces_setup ts;
	traces_setup_begin(&ts, "[[hook]]\nsymbol = \"emit_record\"\n"
	                        "[[hook]]\nsymbol = \"write\"\nobject = \"libc.so.6\"\nvia = \"patch\"\n");
	struct run_result plain = run_dlopen_target("STDBTEL_TARGET_DLOPEN_RUNPATH", "30", NULL);
	struct run_result shim = run_dlopen_target("STDBTEL_TARGET_DLOPEN_RUNPATH", "30", ts.config);
	cr_assert_eq(shim.status, 0, "stderr:\n%s", shim.err);
	cr_assert_str_eq(shim.out, plain.out);
	size_t n = 0, under_emit = 0;
	struct span_line *spans = read_spans(ts.traces, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(spans[i].name, "write") != 0)
			continue;
		const struct span_line *parent = find_span(spans, n, spans[i].parent);
		under_emit += parent != NULL && strcmp(parent->name, "emit_record") == 0;
	}
	cr_assert_eq(count_named(spans, n, "emit_record"), calls);
	cr_assert_eq(under_emit, calls, "one patched write per emit_record");
	/* stdout is a pipe here: printf flushes its lines with libc-internal writes */
	cr_assert_gt(count_named(spans, n, "write"), calls, "libc's own writes are timed when patched");
	free(spans);
	traces_setup_end(&ts);
	run_result_free(&plain);
	run_result_free(&shim);
}

Test(dlopen, interposing_a_function_without_a_wrapper_is_one_warning)
{
	struct traces_setup ts;
	traces_setup_begin(&ts, "[[hook]]\nsymbol = \"emit_record\"\n"
	                        "[[hook]]\nsymbol = \"getpid\"\nobject = \"libc.so.6\"\nvia = \"interpose\"\n");
	struct run_result plain = run_dlopen_target("STDBTEL_TARGET_DLOPEN_RUNPATH", "10", NULL);
	struct run_result shim = run_dlopen_target("STDBTEL_TARGET_DLOPEN_RUNPATH", "10", ts.config);
	cr_assert_eq(shim.status, 0, "stderr:\n%s", shim.err);
	cr_assert_str_eq(shim.out, plain.out);
	cr_assert_eq(count_lines_containing(shim.err, "cannot interpose getpid: the shim has no wrapper for getpid"), 1,
	             "stderr:\n%s", shim.err);
	size_t n = 0;
	struct span_line *spans = read_spans(ts.traces, &n);
	cr_assert_eq(count_named(spans, n, "emit_record"), 10, "the other hook goes on");
	cr_assert_eq(n, 10);
	free(spans);
	traces_setup_end(&ts);
	run_result_free(&plain);
	run_result_free(&shim);
}
