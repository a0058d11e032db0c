/* SPDX-License-Identifier: MIT */
/*
 * test_clock.c: source choice, monotonicity, conversions against
 * clock_gettime, recalibration consistency, and recalibration racing
 * conversions. Each test runs in its own process (Criterion), so each
 * calls clock_init itself. Bounds are correctness bounds, generous for a
 * loaded VM; the speed test prints and asserts nothing about speed.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* The test's own reading of /proc/cpuinfo: both flags on the first flags line. */
static bool cpu_has_invariant_tsc(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	cr_assert_not_null(f);
	char *line = NULL;
	size_t cap = 0;
	bool constant = false, nonstop = false;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *tok = strtok(strchr(line, ':') + 1, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
			constant |= strcmp(tok, "constant_tsc") == 0;
			nonstop |= strcmp(tok, "nonstop_tsc") == 0;
		}
		break;
	}
	free(line);
	fclose(f);
#if defined(__x86_64__)
	return constant && nonstop;
#else
	return false;
#endif
}

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int64_t diff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

Test(clock, source_matches_cpu_flags)
{
	bool invariant = cpu_has_invariant_tsc();
	enum clock_source want = invariant ? CLOCK_SOURCE_TSC : CLOCK_SOURCE_MONOTONIC;
	cr_log_info("constant_tsc+nonstop_tsc: %s", invariant ? "yes" : "no");
	cr_assert_eq(clock_init(false), want);
	cr_assert_eq(clock_source(), want);
	cr_assert_eq(clock_use_tsc, want == CLOCK_SOURCE_TSC);

	cr_assert_eq(clock_init(true), CLOCK_SOURCE_MONOTONIC);
	cr_assert_eq(clock_source(), CLOCK_SOURCE_MONOTONIC);
	cr_assert_not(clock_use_tsc);
	/* Monotonic ticks are CLOCK_MONOTONIC ns. */
	uint64_t a = now_ns(CLOCK_MONOTONIC), t = clock_now(), b = now_ns(CLOCK_MONOTONIC);
	cr_assert(a <= t && t <= b);
	cr_assert_eq(clock_ticks_to_ns(123456789), 123456789);
}

/* The checks shared by both sources. */
static void check_monotonic(void)
{
	uint64_t prev = clock_now();
	for (int i = 0; i < 2000000; i++) {
		uint64_t t = clock_now();
		cr_assert_geq(t, prev, "clock_now went back at read %d: %llu < %llu", i,
			      (unsigned long long)t, (unsigned long long)prev);
		prev = t;
	}
}

static void check_interval(void)
{
	/* Best of three, in case the VM stalls us once. */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = clock_now();
		sleep_ns(20000000);
		uint64_t ns = clock_ticks_to_ns(clock_now() - t0);
		cr_assert_geq(ns, 19500000, "20 ms sleep measured as %llu ns", (unsigned long long)ns);
		if (ns < best)
			best = ns;
	}
	cr_assert_leq(best, 30000000, "20 ms sleep measured as %llu ns", (unsigned long long)best);
}

static void check_unix(void)
{
	int64_t best = INT64_MAX;
	for (int i = 0; i < 5; i++) {
		uint64_t r0 = now_ns(CLOCK_REALTIME);
		uint64_t u = clock_ticks_to_unix_ns(clock_now());
		uint64_t r1 = now_ns(CLOCK_REALTIME);
		/* Distance from the bracket [r0, r1]. */
		int64_t d = u < r0 ? diff(r0, u) : u > r1 ? diff(u, r1) : 0;
		if (d < best)
			best = d;
	}
	cr_assert_leq(best, 1000000, "unix conversion off by %lld ns", (long long)best);
}

Test(clock, tsc_source)
{
	if (clock_init(false) != CLOCK_SOURCE_TSC)
		cr_skip_test("no invariant TSC");
	check_monotonic();
	check_interval();
	check_unix();
}

Test(clock, monotonic_source)
{
	cr_assert_eq(clock_init(true), CLOCK_SOURCE_MONOTONIC);
	check_monotonic();
	check_interval();
	check_unix();
}

static void check_recalibrate(bool force_monotonic)
{
	clock_init(force_monotonic);
	for (int round = 0; round < 5; round++) {
		sleep_ns(10000000);
		uint64_t t = clock_now();
		uint64_t before = clock_ticks_to_unix_ns(t);
		uint64_t d_before = clock_ticks_to_ns(1000000000);
		clock_recalibrate();
		uint64_t after = clock_ticks_to_unix_ns(t);
		uint64_t d_after = clock_ticks_to_ns(1000000000);
		/* The same instant maps to (nearly) the same time: no jump back
		 * beyond 1 us, and not forward by more than 50 us either. */
		cr_assert_geq(diff(after, before), -1000, "round %d: back by %lld ns", round,
			      (long long)diff(before, after));
		cr_assert_leq(diff(after, before), 50000, "round %d: forward by %lld ns", round,
			      (long long)diff(after, before));
		/* The rate moves by refinement only: 1e9 ticks within 0.1%. */
		cr_assert_leq(d_after > d_before ? d_after - d_before : d_before - d_after, 1000000,
			      "rate %llu -> %llu ns per 1e9 ticks", (unsigned long long)d_before,
			      (unsigned long long)d_after);
		check_unix();
	}
	check_interval();
}

Test(clock, recalibrate_consistent_tsc)
{
	if (!cpu_has_invariant_tsc())
		cr_skip_test("no invariant TSC");
	check_recalibrate(false);
}

Test(clock, recalibrate_consistent_monotonic)
{
	check_recalibrate(true);
}

/* ---- recalibration racing conversions ---- */

static atomic_bool stop;
static atomic_long recalibrations;

static void *recalibrator(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		clock_recalibrate();
		atomic_fetch_add(&recalibrations, 1);
		/* paced so that a burst's tick stays within the kept segments
		 * (64 of them: 6 ms here, 13 s at the exporter's pace) */
		sleep_ns(100000);
	}
	return NULL;
}

/*
 * Conversions racing a recalibrator that publishes segment after segment.
 * A consistent read gives a tick already taken the same time every time,
 * to a few ns (a segment based just before the tick may appear meanwhile,
 * continuous with the one it follows and with a rate refined by at most
 * parts per 1e5 this early), and later ticks later times; a torn read (one
 * segment's base_ticks with another's base_unix or rate) is off by the
 * distance between two segments' bases, about 100 us here.
 */
static void check_concurrent(bool force_monotonic)
{
	clock_init(force_monotonic);
	uint64_t delta = 1000000000; /* ticks */
	uint64_t ref_ns = clock_ticks_to_ns(delta);

	atomic_store(&stop, false);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, recalibrator, NULL), 0);
	long reads = 0;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), last = 0;
	while (now_ns(CLOCK_MONOTONIC) - t0 < 300000000) {
		/* A tight burst over one fresh tick, to overlap as many
		 * publications as possible... */
		uint64_t t = clock_now();
		uint64_t u0 = clock_ticks_to_unix_ns(t);
		cr_assert_geq(u0, last, "a later tick maps %llu ns earlier", (unsigned long long)(last - u0));
		last = u0;
		for (int i = 0; i < 10000; i++, reads++) {
			uint64_t u = clock_ticks_to_unix_ns(t);
			cr_assert_leq(u > u0 ? u - u0 : u0 - u, 1000, "unix %llu vs %llu", (unsigned long long)u,
			              (unsigned long long)u0);
		}
		/* ...then the other conversions too. */
		for (int i = 0; i < 1000; i++, reads++) {
			uint64_t u = clock_ticks_to_unix_ns(t);
			uint64_t ns = clock_ticks_to_ns(delta);
			cr_assert_leq(u > u0 ? u - u0 : u0 - u, 1000, "unix %llu vs %llu", (unsigned long long)u,
			              (unsigned long long)u0);
			/* the rate is refined and slewed by at most 0.1% */
			cr_assert_leq(ns > ref_ns ? ns - ref_ns : ref_ns - ns, ref_ns / 1000 + ref_ns / 10000,
				      "ns %llu vs %llu", (unsigned long long)ns, (unsigned long long)ref_ns);
			/* Bracketed, since this thread may be preempted anywhere. */
			uint64_t r0 = now_ns(CLOCK_REALTIME);
			uint64_t un = clock_ticks_to_unix_ns(clock_now());
			uint64_t r1 = now_ns(CLOCK_REALTIME);
			cr_assert(un + 1000000 >= r0 && un <= r1 + 1000000,
				  "now: %llu outside realtime [%llu, %llu] +- 1 ms", (unsigned long long)un,
				  (unsigned long long)r0, (unsigned long long)r1);
		}
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	cr_log_info("%ld conversions against %ld recalibrations", reads, atomic_load(&recalibrations));
	cr_assert_gt(atomic_load(&recalibrations), 100);
}

Test(clock, concurrent_recalibrate_tsc)
{
	if (!cpu_has_invariant_tsc())
		cr_skip_test("no invariant TSC");
	check_concurrent(false);
}

Test(clock, concurrent_recalibrate_monotonic)
{
	check_concurrent(true);
}

/* ---- speed: printed, not asserted ---- */

static double ns_per_now(void)
{
	enum { N = 10000000 };
	volatile uint64_t sink = 0;
	uint64_t best = UINT64_MAX;
	for (int round = 0; round < 3; round++) {
		uint64_t t0 = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < N; i++)
			sink = clock_now();
		uint64_t ns = now_ns(CLOCK_MONOTONIC) - t0;
		if (ns < best)
			best = ns;
	}
	(void)sink;
	return (double)best / N;
}

Test(clock, speed)
{
	if (clock_init(false) == CLOCK_SOURCE_TSC)
		fprintf(stderr, "clock_now (tsc): %.2f ns per call\n", ns_per_now());
	clock_init(true);
	fprintf(stderr, "clock_now (monotonic): %.2f ns per call\n", ns_per_now());
}

/*
 * A span's times and its relatives' are converted in whichever drain
 * exports them: recalibrating between two conversions must not move a
 * tick already taken, nor put a later tick before an earlier one.
 */
static void check_continuous(bool force_monotonic)
{
	clock_init(force_monotonic);
	for (int round = 0; round < 200; round++) {
		uint64_t t1 = clock_now();
		uint64_t u1 = clock_ticks_to_unix_ns(t1);
		clock_recalibrate();
		uint64_t t2 = clock_now();
		cr_assert_eq(clock_ticks_to_unix_ns(t1), u1, "round %d: a tick taken before moved by %lld ns", round,
		             (long long)diff(clock_ticks_to_unix_ns(t1), u1));
		cr_assert_geq(clock_ticks_to_unix_ns(t2), u1, "round %d: a later tick maps before an earlier one",
		              round);
	}
	check_unix();
}

Test(clock, recalibration_keeps_taken_ticks_in_place_tsc)
{
	if (!cpu_has_invariant_tsc())
		cr_skip_test("no invariant TSC");
	check_continuous(false);
}

Test(clock, recalibration_keeps_taken_ticks_in_place_monotonic)
{
	check_continuous(true);
}
