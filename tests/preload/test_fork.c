/* SPDX-License-Identifier: MIT */
/*
 * test_fork.c: libstdbtel.so in a program that forks (tests/targets/
 * fork_target.c). A fork child gets an exporter of its own: its spans land
 * in the same traces_file under its own process.pid, the records its
 * parent had not written yet at fork time appear once (the parent's), no
 * span id appears twice, and the program's stdout and exit status are what
 * they are without the shim. A process that "processes" does not select
 * stays inert in its fork children too.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "spans.h"

/* What one fork_target run is asked to do (its usage line). */
struct fork_plan {
	unsigned parent_before, child, parent_after, grandchild;
	bool in_hook;         /* fork inside the hooked fork_in_hook() */
	unsigned worker;      /* calls by a second parent thread, ended before the fork */
};

static const char hooks[] = "[[hook]]\nsymbol = \"work\"\n[[hook]]\nsymbol = \"fork_in_hook\"\n";

/* Runs fork_target for plan; with preload, under the shim with config and STDBTEL_LOG=debug. */
static struct run_result run_fork_target(const struct fork_plan *plan, const char *config, bool preload)
{
	char args[5][16];
	unsigned values[5] = { plan->parent_before, plan->child, plan->parent_after, plan->grandchild, plan->worker };
	for (int i = 0; i < 5; i++)
		snprintf(args[i], sizeof args[i], "%u", values[i]);
	char *argv[] = { (char *)test_env_path("STDBTEL_TARGET_FORK"), args[0], args[1], args[2], args[3],
		         plan->in_hook ? "hook" : "main", args[4], NULL };
	char config_var[4096];
	snprintf(config_var, sizeof config_var, "STDBTEL_CONFIG=%s", config ? config : "");
	char *env[] = { preload ? (char *)test_preload_value() : "-LD_PRELOAD", config_var,
		        preload ? "STDBTEL_LOG=debug" : "-STDBTEL_LOG",
		        "-SPACETIMEDB_TELEMETRY_ENABLED", "-OTEL_SDK_DISABLED", NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0, "cannot start %s", argv[0]);
	return r;
}

/* The pid the target reported for role ("fork_target: ROLE pid=N"), or 0 if none. */
static long reported_pid(const char *err, const char *role)
{
	char needle[64];
	snprintf(needle, sizeof needle, "fork_target: %s pid=", role);
	const char *p = strstr(err, needle);
	return p ? strtol(p + strlen(needle), NULL, 10) : 0;
}

/*
 * What the fork handler logged in process pid: the records of its parent
 * it left in its ring ("fork child (pid N): R records left to the parent").
 * Asserts that it logged exactly once and that it exports.
 */
static size_t fork_child_discarded(const char *err, long pid)
{
	char needle[64];
	snprintf(needle, sizeof needle, "stdbtel: fork child (pid %ld): ", pid);
	cr_assert_eq(count_lines_containing(err, needle), 1, "fork handler lines of %ld:\n%s", pid, err);
	const char *p = strstr(err, needle) + strlen(needle);
	size_t n = strtoul(p, NULL, 10);
	cr_assert(strstr(p, "records left to the parent to export; exporting under this pid") != NULL, "%s", err);
	return n;
}

/*
 * The "calls timed" of each exporter's final line, in the order the
 * processes exited (each waits for its child: grandchild, child, parent).
 */
static size_t exported_calls(const char *err, size_t *out, size_t max)
{
	size_t n = 0;
	for (const char *p = err; (p = strstr(p, "stdbtel: exported ")) != NULL; p++) {
		const char *paren = strchr(p, '(');
		cr_assert_not_null(paren, "%s", err);
		cr_assert_lt(n, max, "too many exporter lines:\n%s", err);
		out[n++] = strtoul(paren + 1, NULL, 10);
	}
	return n;
}

/*
 * The process.pid of each span of path, in file order (the order of
 * read_spans), from the summary's "resource process.pid intValue=N" line
 * that precedes each batch's spans.
 */
static long *span_pids(const char *path, size_t *n)
{
	char *cmd = NULL;
	cr_assert_geq(asprintf(&cmd, "python3 '%s/tests/support/otlp_json_summary.py' < '%s'",
	                       test_env_path("STDBTEL_SOURCE_ROOT"), path), 0);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "cannot run %s", cmd);
	size_t cap = 64, count = 0;
	long *pids = malloc(cap * sizeof *pids);
	cr_assert_not_null(pids);
	long pid = 0;
	char line[2048];
	while (fgets(line, sizeof line, p) != NULL) {
		if (sscanf(line, "resource process.pid intValue=%ld", &pid) == 1)
			continue;
		if (strncmp(line, "span ", 5) != 0)
			continue;
		if (count == cap) {
			pids = realloc(pids, (cap *= 2) * sizeof *pids);
			cr_assert_not_null(pids);
		}
		pids[count++] = pid;
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	free(cmd);
	*n = count;
	return pids;
}

/* Spans of the run, each with its process's pid. */
struct run_spans {
	struct span_line *spans;
	long *pids;
	size_t n;
};

static size_t count_in(const struct run_spans *rs, long pid, const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < rs->n; i++)
		c += rs->pids[i] == pid && strcmp(rs->spans[i].name, name) == 0;
	return c;
}

/* The one span called name in process pid. */
static const struct span_line *only_span(const struct run_spans *rs, long pid, const char *name)
{
	const struct span_line *found = NULL;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->pids[i] == pid && strcmp(rs->spans[i].name, name) == 0) {
			cr_assert_null(found, "two %s spans in process %ld", name, pid);
			found = &rs->spans[i];
		}
	cr_assert_not_null(found, "no %s span in process %ld", name, pid);
	return found;
}

static void check_fork(const struct fork_plan *plan)
{
	struct traces_setup ts;
	traces_setup_begin(&ts, hooks);
	struct run_result plain = run_fork_target(plan, NULL, false);
	struct run_result shim = run_fork_target(plan, ts.config, true);
	cr_assert_eq(plain.status, 0, "the target itself failed: %s", plain.err);
	cr_assert_eq(shim.status, 0, "status under the shim: %d, stderr:\n%s", shim.status, shim.err);
	cr_assert_str_eq(shim.out, plain.out, "stdout changed under the shim");
	cr_assert_eq(count_lines_containing(shim.err, "2 hooked"), 1, "stderr:\n%s", shim.err);
	cr_assert_eq(count_lines_containing(shim.err, "cannot"), 0, "stderr:\n%s", shim.err);

	long parent = reported_pid(shim.err, "parent"), child = reported_pid(shim.err, "child");
	long grandchild = reported_pid(shim.err, "grandchild");
	cr_assert(parent > 0 && child > 0 && child != parent, "stderr:\n%s", shim.err);
	cr_assert_eq(grandchild != 0, plan->grandchild > 0, "stderr:\n%s", shim.err);

	/* Each child ran the fork handler once. What it found in its ring is
	 * what its parent had timed and not yet exported, which is all of it
	 * unless the parent's exporter ran before the fork (its first drain is
	 * 200 ms after start, so almost never): at most, not exactly. */
	cr_assert_leq(fork_child_discarded(shim.err, child), plan->parent_before);
	if (grandchild != 0)
		cr_assert_leq(fork_child_discarded(shim.err, grandchild), plan->child);
	cr_assert_eq(count_lines_containing(shim.err, "stdbtel: fork child"), grandchild != 0 ? 2 : 1);

	/* Metrics are per process and start from zero in a child. */
	size_t in_hook = plan->in_hook ? 1 : 0;
	size_t calls[3], nexp = exported_calls(shim.err, calls, 3), k = 0;
	cr_assert_eq(nexp, grandchild != 0 ? 3 : 2, "one final exporter line per process:\n%s", shim.err);
	if (grandchild != 0)
		cr_assert_eq(calls[k++], plan->grandchild, "grandchild's calls timed");
	cr_assert_eq(calls[k++], plan->child + in_hook, "child's calls timed");
	cr_assert_eq(calls[k++], plan->worker + plan->parent_before + plan->parent_after + in_hook,
	             "parent's calls timed");

	struct stat st;
	cr_assert_eq(stat(ts.traces, &st), 0, "no traces_file; stderr:\n%s", shim.err);
	struct run_spans rs;
	size_t npids = 0;
	rs.spans = read_spans(ts.traces, &rs.n);
	rs.pids = span_pids(ts.traces, &npids);
	cr_assert_eq(npids, rs.n);

	/* One work span per call, in the process that made it; with MODE hook,
	 * fork_in_hook returned once in the parent and once in the child (the
	 * grandchild exits inside it). */
	cr_assert_eq(count_in(&rs, parent, "work"), plan->worker + plan->parent_before + plan->parent_after,
	             "parent's work spans");
	cr_assert_eq(count_in(&rs, child, "work"), plan->child, "child's work spans");
	cr_assert_eq(count_in(&rs, parent, "fork_in_hook"), in_hook);
	cr_assert_eq(count_in(&rs, child, "fork_in_hook"), in_hook);
	size_t want = plan->worker + plan->parent_before + plan->parent_after + plan->child + 2 * in_hook;
	if (plan->grandchild > 0) {
		cr_assert_eq(count_in(&rs, grandchild, "work"), plan->grandchild, "grandchild's work spans");
		cr_assert_eq(count_in(&rs, grandchild, "fork_in_hook"), 0);
		want += plan->grandchild;
	}
	cr_assert_eq(rs.n, want, "no other spans (nothing written twice, nothing from another process)");
	for (size_t i = 0; i < rs.n; i++)
		cr_assert_null(find_span(rs.spans, i, rs.spans[i].span), "span id %s is used twice", rs.spans[i].span);

	/* Parentage. Work calls outside fork_in_hook are roots; the child's
	 * copy of the call live at fork is a child of the parent's span of
	 * it, and the child's calls inside it nest under the copy. */
	const struct span_line *original = plan->in_hook ? only_span(&rs, parent, "fork_in_hook") : NULL;
	const struct span_line *copy = plan->in_hook ? only_span(&rs, child, "fork_in_hook") : NULL;
	if (plan->in_hook) {
		cr_assert_str_eq(original->parent, "-");
		cr_assert_str_eq(copy->parent, original->span, "the child's copy hangs under the parent's span");
		cr_assert_str_eq(copy->trace, original->trace);
	}
	for (size_t i = 0; i < rs.n; i++) {
		const struct span_line *s = &rs.spans[i];
		if (strcmp(s->name, "work") != 0)
			continue;
		if (rs.pids[i] == child && copy != NULL) {
			cr_assert_str_eq(s->parent, copy->span, "child's work inside fork_in_hook");
			cr_assert_str_eq(s->trace, copy->trace);
			/* One process's clock: the copy began before the fork (when
			 * the call did) and ended after the calls made inside it. */
			cr_assert(copy->start_ns <= s->start_ns && s->end_ns <= copy->end_ns,
			          "child's work is not inside the child's fork_in_hook");
		} else if (rs.pids[i] == grandchild && copy != NULL) {
			/* Forked inside the child's copy and exited inside it: its own
			 * copy never returned, so its calls' parent is in no file. */
			cr_assert_str_eq(s->trace, copy->trace, "grandchild's work inside fork_in_hook");
			cr_assert_str_neq(s->parent, "-");
			cr_assert_null(find_span(rs.spans, rs.n, s->parent), "grandchild's copy of fork_in_hook returned");
		} else {
			cr_assert_str_eq(s->parent, "-", "work in process %ld should be a root", rs.pids[i]);
		}
	}

	free(rs.spans);
	free(rs.pids);
	traces_setup_end(&ts);
	run_result_free(&plain);
	run_result_free(&shim);
}

Test(fork, child_exports_its_own_spans_and_nothing_twice)
{
	check_fork(&(struct fork_plan){ .parent_before = 6, .child = 9, .parent_after = 4 });
}

Test(fork, grandchild_exports_its_own_spans_too)
{
	check_fork(&(struct fork_plan){ .parent_before = 5, .child = 7, .parent_after = 3, .grandchild = 11 });
}

/* The worker thread's ring still holds its records at fork; the child
 * does not have that thread and must neither export nor count them. */
Test(fork, another_threads_records_stay_with_the_parent)
{
	check_fork(&(struct fork_plan){ .parent_before = 2, .child = 5, .parent_after = 3, .worker = 8 });
}

Test(fork, call_live_across_fork_returns_in_both_processes)
{
	check_fork(&(struct fork_plan){ .parent_before = 4, .child = 6, .parent_after = 5, .in_hook = true });
	check_fork(&(struct fork_plan){
		.parent_before = 3, .child = 2, .parent_after = 1, .grandchild = 4, .in_hook = true });
}

/*
 * The parent makes no hooked call before it forks (as a postmaster), so
 * its thread has no hot-path state; the child's captures must still read
 * the child's memory, not the parent's.
 */
Test(fork, child_captures_read_the_childs_memory)
{
	static const char capture[] = "[[hook]]\nsymbol = \"work\"\n[[hook]]\nsymbol = \"name_child\"\n"
	                              "[[hook.arg]]\nindex = 1\ntype = \"cstring\"\nattribute = \"child.name\"\n";
	struct traces_setup ts;
	traces_setup_begin(&ts, capture);
	const struct fork_plan plan = { .parent_before = 0, .child = 3, .parent_after = 2 };
	struct run_result shim = run_fork_target(&plan, ts.config, true);
	cr_assert_eq(shim.status, 0, "stderr:\n%s", shim.err);
	long child = reported_pid(shim.err, "child");
	cr_assert_gt(child, 0, "stderr:\n%s", shim.err);
	char want[32];
	snprintf(want, sizeof want, "child %ld", child);
	size_t n = 0;
	struct span_attribute *names = read_span_attribute(ts.traces, "child.name", &n);
	cr_assert_eq(n, 1, "one name_child span with the capture; stderr:\n%s", shim.err);
	cr_assert_str_eq(names[0].value, want, "the child's own memory");
	span_attributes_free(names, n);
	run_result_free(&shim);
	traces_setup_end(&ts);
}

Test(fork, child_of_an_unselected_process_stays_inert)
{
	struct traces_setup ts;
	traces_setup_begin(&ts, hooks);
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "[telemetry]\nenabled = true\nlog_level = \"debug\"\n"
	                              "processes = [\"not-fork_target\"]\ntraces_file = \"%s\"\n%s",
	                       ts.traces, hooks), 0);
	char *config = write_temp_file(text, ".toml");
	free(text);
	const struct fork_plan plan = { .parent_before = 3, .child = 3, .parent_after = 3, .grandchild = 3 };
	struct run_result plain = run_fork_target(&plan, NULL, false);
	struct run_result shim = run_fork_target(&plan, config, true);
	unlink(config);
	free(config);
	cr_assert_eq(plain.status, 0, "the target itself failed: %s", plain.err);
	cr_assert_eq(shim.status, 0, "stderr:\n%s", shim.err);
	cr_assert_str_eq(shim.out, plain.out, "stdout changed under the shim");
	cr_assert_eq(count_lines_containing(shim.err, "is not in \"processes\""), 1, "stderr:\n%s", shim.err);
	cr_assert_eq(count_lines_containing(shim.err, "stdbtel: "), 1, "the children say nothing:\n%s", shim.err);
	struct stat st;
	cr_assert_neq(stat(ts.traces, &st), 0, "an inert process wrote %s", ts.traces);
	traces_setup_end(&ts);
	run_result_free(&plain);
	run_result_free(&shim);
}
