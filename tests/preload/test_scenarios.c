/* SPDX-License-Identifier: MIT */
/*
 * test_scenarios.c: the hook engine end to end, under the real shim. Each
 * test runs a scenario of tests/targets/scenario_target.c (in its four
 * builds: -O0/-O2 x PIE/non-PIE), scenario_cxx.cpp or scenario_rust.rs,
 * without the shim and with it (every hooked function, spans to a
 * traces_file, every trace sampled), and checks:
 *  - stdout and exit status are the same; every stderr line is the shim's,
 *    and its summary says how many functions it hooked;
 *  - the spans are exact: as many per function as the scenario made calls
 *    (computed here from the parameters passed), unique span ids, every
 *    parent in the file and in the same trace, one trace per root, the
 *    parent of each span named as the call structure says, status 2 on
 *    exactly the calls that unwound or were left by longjmp;
 *  - a call that sleeps 10 ms has a span of at least 10 ms (and not 1000
 *    times that: a unit check, not a timing bound).
 * A scenario keeps each thread's spans under the shim's per-thread ring
 * (1024 records, drained every 200 ms): more in a burst are dropped by
 * design (see scenario_target.c on recursion).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "spans.h"

/* One scenario run, with and without the shim, and the spans it wrote. */
struct scenario {
	struct run_result plain, shim;
	struct span_line *spans;
	size_t n;
	size_t *by_id;     /* indices into spans, sorted by span id */
	size_t *children;  /* children[i]: spans whose parent is spans[i] */
	struct traces_setup ts; /* the config and traces_file, removed by scenario_free */
};

static const struct span_line *sort_base;

static int compare_span_ids(const void *a, const void *b)
{
	return strcmp(sort_base[*(const size_t *)a].span, sort_base[*(const size_t *)b].span);
}

/* The index of the span with id, or SIZE_MAX (binary search in by_id). */
static size_t span_index(const struct scenario *sc, const char *id)
{
	size_t lo = 0, hi = sc->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sc->spans[sc->by_id[mid]].span, id);
		if (c == 0)
			return sc->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/* Runs target (an env var naming it) with args: under the shim with config, or without it (NULL). */
static struct run_result run_once(const char *target_env, const char *const args[], const char *config)
{
	char *argv[16];
	size_t argc = 0;
	argv[argc++] = (char *)test_env_path(target_env);
	for (size_t i = 0; args[i] != NULL && argc < 15; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	char config_var[4096];
	snprintf(config_var, sizeof config_var, "STDBTEL_CONFIG=%s", config ? config : "");
	char *env[] = { config ? (char *)test_preload_value() : "-LD_PRELOAD", config_var, "-STDBTEL_LOG",
		        "-SPACETIMEDB_TELEMETRY_ENABLED", "-OTEL_SDK_DISABLED", "-OTEL_TRACES_SAMPLER",
		        "-OTEL_BSP_MAX_QUEUE_SIZE", "-RUST_BACKTRACE", NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0, "cannot start %s", argv[0]);
	return r;
}

/*
 * Runs the scenario, checks output, status and stderr, reads the spans and
 * checks what holds for every scenario: unique ids, parents present and in
 * the same trace, one trace per root. hooked: functions the config names.
 */
static void scenario_run(struct scenario *sc, const char *target_env, const char *const args[], const char *hooks,
                         int hooked)
{
	traces_setup_begin(&sc->ts, hooks);
	sc->plain = run_once(target_env, args, NULL);
	sc->shim = run_once(target_env, args, sc->ts.config);
	const char *what = args[0];
	cr_assert_eq(sc->plain.status, 0, "%s %s failed by itself: %s", target_env, what, sc->plain.err);
	cr_assert_gt(strlen(sc->plain.out), 0, "%s %s printed nothing", target_env, what);
	cr_assert_eq(sc->shim.status, sc->plain.status, "%s %s: exit status %d under the shim; stderr:\n%s",
	             target_env, what, sc->shim.status, sc->shim.err);
	cr_assert_str_eq(sc->shim.out, sc->plain.out, "%s %s: stdout changed under the shim", target_env, what);
	size_t lines = count_lines_containing(sc->shim.err, "");
	cr_assert_eq(count_lines_containing(sc->shim.err, "stdbtel: "), lines, "%s %s: stderr not from the shim:\n%s",
	             target_env, what, sc->shim.err);
	char summary[64];
	snprintf(summary, sizeof summary, " functions, %d hooked, ", hooked);
	cr_assert_eq(count_lines_containing(sc->shim.err, summary), 1, "%s %s: want %d hooked; stderr:\n%s", target_env,
	             what, hooked, sc->shim.err);

	sc->spans = read_spans(sc->ts.traces, &sc->n);
	sc->by_id = calloc(sc->n + 1, sizeof *sc->by_id);
	sc->children = calloc(sc->n + 1, sizeof *sc->children);
	cr_assert(sc->by_id != NULL && sc->children != NULL);
	for (size_t i = 0; i < sc->n; i++)
		sc->by_id[i] = i;
	sort_base = sc->spans;
	qsort(sc->by_id, sc->n, sizeof *sc->by_id, compare_span_ids);
	for (size_t i = 1; i < sc->n; i++)
		cr_assert_str_neq(sc->spans[sc->by_id[i]].span, sc->spans[sc->by_id[i - 1]].span,
		                  "%s %s: span id %s used twice", target_env, what, sc->spans[sc->by_id[i]].span);
	for (size_t i = 0; i < sc->n; i++) {
		const struct span_line *s = &sc->spans[i];
		cr_assert_leq(s->start_ns, s->end_ns, "%s %s: %s ends before it starts", target_env, what, s->name);
		if (strcmp(s->parent, "-") == 0)
			continue;
		size_t p = span_index(sc, s->parent);
		cr_assert_neq(p, SIZE_MAX, "%s %s: %s's parent %s is not in the file", target_env, what, s->name,
		              s->parent);
		cr_assert_str_eq(sc->spans[p].trace, s->trace, "%s %s: %s is not in its parent's trace", target_env,
		                 what, s->name);
		/* the clock maps each tick to one time, whichever drain converts it */
		cr_assert(s->start_ns >= sc->spans[p].start_ns && s->end_ns <= sc->spans[p].end_ns,
		          "%s %s: %s [%llu, %llu] is not inside its parent %s [%llu, %llu]", target_env, what, s->name,
		          (unsigned long long)s->start_ns, (unsigned long long)s->end_ns, sc->spans[p].name,
		          (unsigned long long)sc->spans[p].start_ns, (unsigned long long)sc->spans[p].end_ns);
		sc->children[p]++;
	}
	for (size_t i = 0; i < sc->n; i++)
		for (size_t j = i + 1; j < sc->n && sc->spans[i].parent[0] == '-'; j++)
			cr_assert(sc->spans[j].parent[0] != '-' || strcmp(sc->spans[i].trace, sc->spans[j].trace) != 0,
			          "%s %s: two roots share trace %s", target_env, what, sc->spans[i].trace);
}

static void scenario_free(struct scenario *sc)
{
	traces_setup_end(&sc->ts);
	free(sc->spans);
	free(sc->by_id);
	free(sc->children);
	run_result_free(&sc->plain);
	run_result_free(&sc->shim);
}

/*
 * Every span of a call an exception or panic unwound (status 2) carries a
 * code.stacktrace, the stack as the unwinder passed the call: it names
 * the span's own function and outer (the program's entry); the spans of
 * thrower, the function the exception or panic left first, also name every
 * function in want (its stack is still the throw's). No other span has one.
 */
static void expect_stacktraces(const struct scenario *sc, const char *label, const char *thrower, const char *outer,
                               const char *const want[])
{
	size_t nattrs = 0, unwound = 0;
	struct span_attribute *stacks = read_span_attribute(sc->ts.traces, "code.stacktrace", &nattrs);
	for (size_t i = 0; i < sc->n; i++) {
		const struct span_line *s = &sc->spans[i];
		const char *stack = span_attribute_of(stacks, nattrs, s->span);
		if (s->status != 2) {
			cr_assert_null(stack, "%s: %s returned normally but has a code.stacktrace", label, s->name);
			continue;
		}
		unwound++;
		cr_assert_not_null(stack, "%s: unwound %s %s has no code.stacktrace", label, s->name, s->span);
		/* the span's own function is in its stack, and so is everything in want from it outward */
		const char *at = strstr(stack, s->name);
		cr_assert_not_null(at, "%s: %s not in its own stack:\n%s", label, s->name, stack);
		cr_assert_not_null(strstr(stack, outer), "%s: %s's stack lacks %s:\n%s", label, s->name, outer, stack);
		for (size_t w = 0; strcmp(s->name, thrower) == 0 && want[w] != NULL; w++) {
			const char *found = strstr(stack, want[w]);
			cr_assert_not_null(found, "%s: %s's stack lacks %s:\n%s", label, s->name, want[w], stack);
		}
		cr_assert_null(strstr(stack, "libstdbtel.so"), "%s: the shim's own frames are left out:\n%s", label, stack);
	}
	cr_assert_eq(nattrs, unwound, "%s: one code.stacktrace per unwound span", label);
	cr_assert_gt(unwound, 0, "%s: nothing unwound", label);
	span_attributes_free(stacks, nattrs);
}

/* A call left by longjmp is an error, but its stack is gone when it is found: no code.stacktrace. */
static void expect_no_stacktraces(const struct scenario *sc, const char *label)
{
	size_t nattrs = 0;
	struct span_attribute *stacks = read_span_attribute(sc->ts.traces, "code.stacktrace", &nattrs);
	cr_assert_eq(nattrs, 0, "%s: %zu spans with a code.stacktrace", label, nattrs);
	span_attributes_free(stacks, nattrs);
}

static const struct span_line *parent_of(const struct scenario *sc, const struct span_line *s)
{
	return strcmp(s->parent, "-") == 0 ? NULL : &sc->spans[span_index(sc, s->parent)];
}

/*
 * What the spans of one function must be: count spans, of which roots are
 * roots and the others children of a span named parent; errors of them
 * with status 2, the others 0.
 */
struct expect {
	const char *name;
	size_t count, roots;
	const char *parent;
	size_t errors;
};

/* Checks every expectation, and that there are no other spans. */
static void expect_spans(const struct scenario *sc, const char *label, const struct expect *want, size_t nwant)
{
	size_t total = 0;
	for (size_t w = 0; w < nwant; w++) {
		const struct expect *e = &want[w];
		size_t count = 0, roots = 0, children = 0, errors = 0;
		for (size_t i = 0; i < sc->n; i++) {
			const struct span_line *s = &sc->spans[i];
			if (strcmp(s->name, e->name) != 0)
				continue;
			count++;
			const struct span_line *p = parent_of(sc, s);
			roots += p == NULL;
			children += p != NULL && e->parent != NULL && strcmp(p->name, e->parent) == 0;
			cr_assert(s->status == 0 || s->status == 2, "%s: %s has status %d", label, e->name, s->status);
			errors += s->status == 2;
		}
		cr_assert_eq(count, e->count, "%s: %zu spans named %s, want %zu; stderr:\n%s", label, count, e->name,
		             e->count, sc->shim.err);
		cr_assert_eq(roots, e->roots, "%s: %zu roots named %s, want %zu", label, roots, e->name, e->roots);
		cr_assert_eq(children, e->count - e->roots, "%s: %zu of %zu %s spans are children of %s", label, children,
		             e->count - e->roots, e->name, e->parent ? e->parent : "(none)");
		cr_assert_eq(errors, e->errors, "%s: %zu %s spans with error status, want %zu", label, errors, e->name,
		             e->errors);
		total += e->count;
	}
	cr_assert_eq(sc->n, total, "%s: %zu spans in all, want %zu", label, sc->n, total);
}

/* Each span named parent has exactly `each` children. */
static void expect_children_each(const struct scenario *sc, const char *label, const char *parent, size_t each)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->spans[i].name, parent) == 0)
			cr_assert_eq(sc->children[i], each, "%s: a %s span has %zu children, want %zu", label, parent,
			             sc->children[i], each);
}

/* A child named child unwound exactly when its parent did (status equal). */
static void expect_status_like_parent(const struct scenario *sc, const char *label, const char *child)
{
	for (size_t i = 0; i < sc->n; i++) {
		const struct span_line *s = &sc->spans[i], *p = parent_of(sc, s);
		if (strcmp(s->name, child) == 0 && p != NULL)
			cr_assert_eq(s->status, p->status, "%s: %s has status %d, its parent %s %d", label, child, s->status,
			             p->name, p->status);
	}
}

static char *text_of(long v)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s, "%ld", v), 0);
	return s;
}

/* ---- C scenarios, each in the four builds ---- */

static const char *const c_builds[] = {
	"STDBTEL_SCENARIO_C_O0_PIE", "STDBTEL_SCENARIO_C_O0_NOPIE",
	"STDBTEL_SCENARIO_C_O2_PIE", "STDBTEL_SCENARIO_C_O2_NOPIE",
};

#define HOOK(sym) "[[hook]]\nsymbol = \"" sym "\"\n"

static void c_args(const char *build)
{
	const long n = 200;
	char *ns = text_of(n);
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ "args", ns, NULL }, HOOK("ten_args") HOOK("mix_varargs"), 2);
	/* main calls each once a round; mix_varargs calls ten_args too. */
	const struct expect want[] = {
		{ "mix_varargs", n, n, NULL, 0 },
		{ "ten_args", 2 * n, n, "mix_varargs", 0 },
	};
	expect_spans(&sc, build, want, 2);
	scenario_free(&sc);
	free(ns);
}

static void c_structs(const char *build)
{
	const long n = 150;
	char *ns = text_of(n);
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ "structs", ns, NULL },
	             HOOK("make_big") HOOK("make_pair") HOOK("make_mixed") HOOK("scale_double") HOOK("scale_ld"), 5);
	const struct expect want[] = {
		{ "make_big", n, n, NULL, 0 },     { "make_pair", n, n, NULL, 0 }, { "make_mixed", n, n, NULL, 0 },
		{ "scale_double", n, n, NULL, 0 }, { "scale_ld", n, n, NULL, 0 },
	};
	expect_spans(&sc, build, want, 5);
	scenario_free(&sc);
	free(ns);
}

/* recurse(1, depth): depth nested calls, so one chain of depth spans. */
static void c_recurse(const char *build)
{
	const long depth = 10000;
	char *ds = text_of(depth);
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ "recurse", ds, NULL }, HOOK("recurse"), 1);
	const struct expect want[] = { { "recurse", depth, 1, "recurse", 0 } };
	expect_spans(&sc, build, want, 1);
	/* One root, the others children of a recurse span, none with two
	 * children: depth spans in one chain (each level's parent is the
	 * level above), so also one trace. */
	size_t leaves = 0;
	for (size_t i = 0; i < sc.n; i++) {
		cr_assert_leq(sc.children[i], 1, "%s: a recurse span has %zu children", build, sc.children[i]);
		leaves += sc.children[i] == 0;
	}
	cr_assert_eq(leaves, 1, "%s: %zu recurse spans without a child", build, leaves);
	scenario_free(&sc);
	free(ds);
}

static void c_threads(const char *build)
{
	const long threads = 8, per_thread = 700;
	char *ts = text_of(threads), *ns = text_of(per_thread);
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ "threads", ts, ns, NULL }, HOOK("thread_run") HOOK("thread_step"),
	             2);
	const struct expect want[] = {
		{ "thread_run", threads, threads, NULL, 0 },
		{ "thread_step", threads * per_thread, 0, "thread_run", 0 },
	};
	expect_spans(&sc, build, want, 2);
	expect_children_each(&sc, build, "thread_run", per_thread);
	scenario_free(&sc);
	free(ts);
	free(ns);
}

/* Each round: one signal outside any hooked call, one from inside raise_inside. */
static void c_signal(const char *build, const char *variant)
{
	const long n = 100;
	char *ns = text_of(n);
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ variant, ns, NULL }, HOOK("on_signal") HOOK("raise_inside"), 2);
	const struct expect want[] = {
		{ "raise_inside", n, n, NULL, 0 },
		{ "on_signal", 2 * n, n, "raise_inside", 0 },
	};
	char label[128];
	snprintf(label, sizeof label, "%s %s", build, variant);
	expect_spans(&sc, label, want, 2);
	expect_children_each(&sc, label, "raise_inside", 1);
	scenario_free(&sc);
	free(ns);
}

/*
 * jump_leaf longjmps out of itself and jump_middle when i % 3 == 0. The
 * engine finds those frames dead at the thread's next hooked entry (or a
 * hooked exit below them): "longjmp" ends with a jump_after call.
 * "longjmp-thread" runs the loop in a thread that exits right after a
 * longjmp out of its last call (n - 1 is a multiple of 3): those frames
 * are found dead when the thread exits, and reported then.
 * "longjmp-exit" does the same on the main thread and then exits the
 * process from below where the loop ran: the frames are found at exit.
 * Either way the spans are errors without a stack.
 */
static void check_longjmp(const char *build, const char *scenario, long n)
{
	char *ns = text_of(n);
	size_t jumps = 0;
	for (long i = 0; i < n; i++)
		jumps += i % 3 == 0;
	bool after = strcmp(scenario, "longjmp") == 0;
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ scenario, ns, NULL },
	             HOOK("jump_middle") HOOK("jump_leaf") HOOK("jump_after"), 3);
	const struct expect want[] = {
		{ "jump_middle", n, n, NULL, jumps },
		{ "jump_leaf", n, 0, "jump_middle", jumps },
		{ "jump_after", 1, 1, NULL, 0 },
	};
	expect_spans(&sc, build, want, after ? 3 : 2);
	expect_children_each(&sc, build, "jump_middle", 1);
	expect_status_like_parent(&sc, build, "jump_leaf");
	expect_no_stacktraces(&sc, build);
	scenario_free(&sc);
	free(ns);
}

static void c_longjmp(const char *build)
{
	check_longjmp(build, "longjmp", 240);
}

static void c_longjmp_thread(const char *build)
{
	check_longjmp(build, "longjmp-thread", 241);
}

static void c_longjmp_exit(const char *build)
{
	check_longjmp(build, "longjmp-exit", 241);
}

/*
 * nap sleeps 10 ms: its span lasts at least that. The upper bound only
 * catches a unit slip (a span 1000 times too long would last 10 s), not
 * slowness: a loaded machine may stretch a 10 ms sleep a lot.
 */
static void c_sleep(const char *build)
{
	const long n = 5;
	char *ns = text_of(n);
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ "sleep", ns, NULL }, HOOK("nap"), 1);
	const struct expect want[] = { { "nap", n, n, NULL, 0 } };
	expect_spans(&sc, build, want, 1);
	for (size_t i = 0; i < sc.n; i++) {
		uint64_t d = sc.spans[i].end_ns - sc.spans[i].start_ns;
		cr_assert(sc.spans[i].end_ns >= sc.spans[i].start_ns && d >= 10000000 && d < 5000000000ull,
		          "%s: nap span lasts %llu ns", build, (unsigned long long)d);
	}
	scenario_free(&sc);
	free(ns);
}

/*
 * tail_enter jumps into tail_leaf at its own entry stack pointer: the
 * leaf's span is its child, and the enter's span lasts until the leaf
 * returns. Before the engine knew the shape, it took tail_enter's frame
 * for one left by longjmp and the process spun in the stub.
 */
static void c_tailcall(const char *build)
{
	const long n = 200;
	char *ns = text_of(n);
	size_t direct = 0;
	for (long i = 0; i < n; i++)
		direct += i % 4 == 0;
	struct scenario sc;
	scenario_run(&sc, build, (const char *[]){ "tailcall", ns, NULL }, HOOK("tail_enter") HOOK("tail_leaf"), 2);
	const struct expect want[] = {
		{ "tail_enter", n, n, NULL, 0 },
		{ "tail_leaf", n + direct, direct, "tail_enter", 0 },
	};
	expect_spans(&sc, build, want, 2);
	expect_children_each(&sc, build, "tail_enter", 1);
	scenario_free(&sc);
	free(ns);
}

#define C_SCENARIO_TESTS(name, body)                                                     \
	Test(scenarios, name##_O0_pie) { body(c_builds[0]); }                             \
	Test(scenarios, name##_O0_nopie) { body(c_builds[1]); }                           \
	Test(scenarios, name##_O2_pie) { body(c_builds[2]); }                             \
	Test(scenarios, name##_O2_nopie) { body(c_builds[3]); }

static void c_signal_main_stack(const char *build)
{
	c_signal(build, "signal");
}

static void c_signal_alt_stack(const char *build)
{
	c_signal(build, "signal-alt");
}

C_SCENARIO_TESTS(ten_int_args_and_varargs, c_args)
C_SCENARIO_TESTS(struct_and_float_returns, c_structs)
C_SCENARIO_TESTS(recursion_10000_deep_is_one_chain, c_recurse)
C_SCENARIO_TESTS(eight_threads_one_function, c_threads)
C_SCENARIO_TESTS(hooked_call_in_a_signal_handler, c_signal_main_stack)
C_SCENARIO_TESTS(hooked_call_in_a_signal_handler_on_an_alt_stack, c_signal_alt_stack)
C_SCENARIO_TESTS(longjmp_out_of_a_hooked_call, c_longjmp)
C_SCENARIO_TESTS(longjmp_then_thread_exit, c_longjmp_thread)
C_SCENARIO_TESTS(longjmp_then_process_exit, c_longjmp_exit)
C_SCENARIO_TESTS(sleeping_call_lasts_10_ms, c_sleep)
C_SCENARIO_TESTS(tail_call_into_a_hooked_function, c_tailcall)

/* ---- C++: an exception through hooked functions ---- */

Test(scenarios, cxx_exception_through_hooked_functions)
{
	const long n = 100;
	char *ns = text_of(n);
	/* outer(i) -> middle(i) -> inner(i) every round, and middle(i) from main when i % 5 == 0;
	 * inner throws when i % 4 == 0, through middle; outer catches. */
	size_t direct = 0, throws_outer = 0, throws_direct = 0;
	for (long i = 0; i < n; i++) {
		direct += i % 5 == 0;
		throws_outer += i % 4 == 0;
		throws_direct += i % 5 == 0 && i % 4 == 0;
	}
	struct scenario sc;
	scenario_run(&sc, "STDBTEL_SCENARIO_CXX", (const char *[]){ ns, NULL },
	             HOOK("scen::outer") HOOK("scen::middle") HOOK("scen::inner"), 3);
	const struct expect want[] = {
		{ "scen::outer", n, n, NULL, 0 },
		{ "scen::middle", n + direct, direct, "scen::outer", throws_outer + throws_direct },
		{ "scen::inner", n + direct, 0, "scen::middle", throws_outer + throws_direct },
	};
	expect_spans(&sc, "cxx", want, 3);
	expect_children_each(&sc, "cxx", "scen::middle", 1);
	expect_status_like_parent(&sc, "cxx", "scen::inner");
	expect_stacktraces(&sc, "cxx", "scen::inner", "main",
	                   (const char *const[]){ "__cxa_throw", "scen::middle", NULL });
	scenario_free(&sc);
	free(ns);
}

/* ---- Rust: a panic through hooked functions, threads, SpacetimeDB-shaped paths ---- */

#define RUST_INSERT "scenario_rust::db::relational_db::RelationalDB::insert"

Test(scenarios, rust_panic_caught_by_catch_unwind)
{
	const long n = 120;
	char *ns = text_of(n);
	/* run_reducer(i) -> insert -> check_row unless the table (i % 5) is 4,
	 * which does not exist; check_row panics when i % 4 == 3. */
	size_t checks = 0, panics = 0;
	for (long i = 0; i < n; i++) {
		checks += i % 5 != 4;
		panics += i % 5 != 4 && i % 4 == 3;
	}
	struct scenario sc;
	scenario_run(&sc, "STDBTEL_SCENARIO_RUST", (const char *[]){ "panic", ns, NULL },
	             HOOK("scenario_rust::host::module_host::run_reducer") HOOK(RUST_INSERT)
	             HOOK("scenario_rust::db::check_row"), 3);
	cr_assert_eq(count_lines_containing(sc.plain.out, "caught panic: bad row"), panics, "stdout:\n%s", sc.plain.out);
	const struct expect want[] = {
		{ "scenario_rust::host::module_host::run_reducer", n, n, NULL, 0 },
		{ RUST_INSERT, n, 0, "scenario_rust::host::module_host::run_reducer", panics },
		{ "scenario_rust::db::check_row", checks, 0, RUST_INSERT, panics },
	};
	expect_spans(&sc, "rust panic", want, 3);
	expect_status_like_parent(&sc, "rust panic", "scenario_rust::db::check_row");
	expect_stacktraces(&sc, "rust panic", "scenario_rust::db::check_row", "scenario_rust::main",
	                   (const char *const[]){ RUST_INSERT, "scenario_rust::host::module_host::run_reducer", NULL });
	scenario_free(&sc);
	free(ns);
}

Test(scenarios, rust_threads)
{
	const long threads = 8, per_thread = 700;
	char *ts = text_of(threads), *ns = text_of(per_thread);
	struct scenario sc;
	scenario_run(&sc, "STDBTEL_SCENARIO_RUST", (const char *[]){ "threads", ts, ns, NULL },
	             HOOK("scenario_rust::worker::thread_main") HOOK("scenario_rust::worker::thread_step"), 2);
	const struct expect want[] = {
		{ "scenario_rust::worker::thread_main", threads, threads, NULL, 0 },
		{ "scenario_rust::worker::thread_step", threads * per_thread, 0, "scenario_rust::worker::thread_main", 0 },
	};
	expect_spans(&sc, "rust threads", want, 2);
	expect_children_each(&sc, "rust threads", "scenario_rust::worker::thread_main", per_thread);
	scenario_free(&sc);
	free(ts);
	free(ns);
}

/* ---- a debugger's view: gdb's backtrace goes through every hooked frame ---- */

Test(scenarios, gdb_backtrace_passes_hooked_frames)
{
	cr_assert_eq(access("/usr/bin/gdb", X_OK), 0, "gdb is missing (scripts/test.sh installs Debian's gdb)");
	struct traces_setup ts;
	traces_setup_begin(&ts, HOOK("scen::outer") HOOK("scen::middle") HOOK("scen::inner"));
	char preload[4200], config[4200];
	/* gdb's "set environment" takes NAME=value; test_preload_value() is "LD_PRELOAD=..." */
	snprintf(preload, sizeof preload, "set environment %s", test_preload_value());
	snprintf(config, sizeof config, "set environment STDBTEL_CONFIG=%s", ts.config);
	/* startup-with-shell off: gdb execs the target itself, so no shell runs
	 * with the shim (and, in a sanitizer build, the ASan runtime) preloaded */
	char *argv[] = { "/usr/bin/gdb", "-nx", "-q", "-batch", "-ex", "set pagination off", "-ex",
		         "set startup-with-shell off", "-ex", "set breakpoint pending on", "-ex", preload, "-ex", config, "-ex", "break __cxa_throw",
		         "-ex", "run 1", "-ex", "bt", "-ex", "kill",
		         (char *)test_env_path("STDBTEL_SCENARIO_CXX"), NULL };
	char *env[] = { "-STDBTEL_LOG", "-LD_PRELOAD", NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0);
	/* the first throw (i = 0): inner, called from middle, from outer, from main */
	/* (under ASan the first frame is its interceptor, __interceptor___cxa_throw) */
	const char *frames[] = { "__cxa_throw (", "in scen::inner", "in scen::middle", "in scen::outer", "in main" };
	const char *at = r.out;
	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		const char *found = strstr(at, frames[i]);
		cr_assert_not_null(found, "gdb's backtrace lacks \"%s\" after the frames before it:\n%s\nstderr:\n%s",
		                   frames[i], r.out, r.err);
		at = found;
	}
	run_result_free(&r);
	traces_setup_end(&ts);
}
