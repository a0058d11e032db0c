/* SPDX-License-Identifier: MIT */
/*
 * clock.h: the hot path's timestamps, and their conversion to wall time.
 *
 * Owns: the choice of time source and its calibration. Where the CPU's TSC
 * is invariant (the "constant_tsc" and "nonstop_tsc" flags of
 * /proc/cpuinfo), clock_now() is rdtsc: ~10 ns on this VM, against ~25-37 ns
 * for clock_gettime. Otherwise it is clock_gettime(CLOCK_MONOTONIC) in
 * nanoseconds. Calibration maps ticks to CLOCK_REALTIME nanoseconds.
 *
 * Threading: clock_init() runs once before any hooked call; it measures the
 * TSC against CLOCK_MONOTONIC over a short interval (a few ms). clock_now()
 * is callable from any thread or signal handler and has no side effects.
 * clock_recalibrate() is for the exporter thread only; it refines the rate
 * over the longer interval since init so conversions stay within a few
 * microseconds over hours, and publishes the new mapping atomically.
 */
#ifndef STDBTEL_CLOCK_H
#define STDBTEL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

enum clock_source {
	CLOCK_SOURCE_TSC,
	CLOCK_SOURCE_MONOTONIC,
};

/*
 * Chooses and calibrates the source. force_monotonic skips the TSC (tests,
 * and an escape hatch for odd hypervisors). Returns the source chosen.
 */
enum clock_source clock_init(bool force_monotonic);

enum clock_source clock_source(void);

/* A timestamp in ticks of the chosen source. Hot path: inline, no calls. */
static inline uint64_t clock_now(void);

/* Ticks (from clock_now) to nanoseconds since the Unix epoch, CLOCK_REALTIME. */
uint64_t clock_ticks_to_unix_ns(uint64_t ticks);

/* A difference of ticks to nanoseconds. */
uint64_t clock_ticks_to_ns(uint64_t ticks);

/* Exporter thread: refine the calibration (see above). */
void clock_recalibrate(void);

/*
 * In a fork child, before any thread starts (the atfork child handler):
 * repairs the mapping if the parent's exporter was publishing it at fork
 * (its writer does not exist here, so its sequence would stay odd and
 * every conversion in the child would spin).
 */
void clock_after_fork_child(void);

/* ---- inline part: the hot path ---- */

/* Set by clock_init(); read on every call. */
extern bool clock_use_tsc;

uint64_t clock_monotonic_ns(void);

static inline uint64_t clock_now(void)
{
#if defined(__x86_64__)
	if (__builtin_expect(clock_use_tsc, 1)) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return ((uint64_t)hi << 32) | lo;
	}
#endif
	return clock_monotonic_ns();
}

#endif
