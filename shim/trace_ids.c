/* SPDX-License-Identifier: MIT */
/*
 * trace_ids.c: W3C trace and span ids from xoshiro256** (Blackman and
 * Vigna), one generator state per thread, owned by the caller.
 *
 * Output: a span id is one 64-bit draw, a trace id two, each written most
 * significant byte first (so an id's hex is the draw's hex). The scrambler
 * rotl(s1 * 5, 7) * 9 is a bijection of s1, so a draw is zero exactly when
 * s1 is; that happens, rarely (and in runs), so an all-zero id is drawn
 * again rather than patched, keeping the rest uniform.
 *
 * Seeding: 32 bytes from getrandom(2) become the state. If getrandom fails
 * (early boot with GRND_NONBLOCK, a seccomp filter, an old kernel) the
 * clocks, pid, thread id, the state's address and a process-wide counter
 * are folded into 64 bits and expanded with splitmix64, as for
 * trace_ids_seed_with(). Four consecutive splitmix64 outputs are never all
 * zero (its output function is a bijection of its counter), so the state
 * is never the all-zero one that xoshiro cannot leave.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gettid */
#endif
#include "trace_ids.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* splitmix64: advances *x by the golden-ratio increment, returns a mix of it. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* One xoshiro256** step: scramble s1 for the output, then the xor-shift-
 * rotate linear update of the 256-bit state. */
static inline uint64_t xoshiro_next(struct trace_id_state *st)
{
	uint64_t *s = st->s;
	uint64_t out = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return out;
}

static inline void put_be64(uint8_t *out, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

void trace_ids_seed_with(struct trace_id_state *st, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		st->s[i] = splitmix64(&x);
}

/* Folds v into the 64-bit accumulator *acc (a bijective mix of acc ^ v). */
static void absorb(uint64_t *acc, uint64_t v)
{
	*acc ^= v;
	*acc = splitmix64(acc);
}

static uint64_t timespec_ns(clockid_t clock)
{
	struct timespec ts = { 0, 0 };
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void trace_ids_seed(struct trace_id_state *st)
{
	uint64_t buf[4];
	if (getrandom(buf, sizeof buf, GRND_NONBLOCK) == (ssize_t)sizeof buf
	    && (buf[0] | buf[1] | buf[2] | buf[3]) != 0) {
		memcpy(st->s, buf, sizeof buf);
		return;
	}
	/* Fallback: no secret, but distinct per thread (tid, address), per
	 * process (pid, and tid after fork), per call (counter) and per run
	 * (clocks). */
	static _Atomic uint64_t calls;
	uint64_t acc = 0;
	absorb(&acc, timespec_ns(CLOCK_REALTIME));
	absorb(&acc, timespec_ns(CLOCK_MONOTONIC));
	absorb(&acc, (uint64_t)getpid());
	absorb(&acc, (uint64_t)gettid());
	absorb(&acc, (uint64_t)(uintptr_t)st);
	absorb(&acc, atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed));
	trace_ids_seed_with(st, acc);
}

void trace_ids_new_trace_id(struct trace_id_state *st, uint8_t out[16])
{
	uint64_t hi, lo;
	do {
		hi = xoshiro_next(st);
		lo = xoshiro_next(st);
	} while ((hi | lo) == 0);
	put_be64(out, hi);
	put_be64(out + 8, lo);
}

void trace_ids_new_span_id(struct trace_id_state *st, uint8_t out[8])
{
	uint64_t v;
	do
		v = xoshiro_next(st);
	while (v == 0);
	put_be64(out, v);
}
