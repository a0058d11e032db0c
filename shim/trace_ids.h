/* SPDX-License-Identifier: MIT */
/*
 * trace_ids.h: random W3C trace ids (16 bytes) and span ids (8 bytes),
 * never all zero, from a per-thread generator.
 *
 * Owns: the generator state's layout and seeding. The generator is
 * xoshiro256** (fast, 256-bit state, passes BigCrush); each thread seeds
 * its own state from getrandom(2) once (GRND_NONBLOCK; if that fails, from
 * the clock, thread id and an address, mixed with splitmix64) and after
 * fork() the child must reseed (trace_ids_seed again) so parent and child do
 * not repeat ids. Generation is pure arithmetic on caller-owned state: no
 * locks, no calls, async-signal-safe.
 */
#ifndef STDBTEL_TRACE_IDS_H
#define STDBTEL_TRACE_IDS_H

#include <stdint.h>

struct trace_id_state {
	uint64_t s[4];
};

/* Seeds st (makes one getrandom call). */
void trace_ids_seed(struct trace_id_state *st);

/* Seeds st deterministically from seed (tests). */
void trace_ids_seed_with(struct trace_id_state *st, uint64_t seed);

void trace_ids_new_trace_id(struct trace_id_state *st, uint8_t out[16]);
void trace_ids_new_span_id(struct trace_id_state *st, uint8_t out[8]);

#endif
