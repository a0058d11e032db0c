/* SPDX-License-Identifier: MIT */
/*
 * test_ring.c: the span ring, single-threaded for exact contents, capacity,
 * drops and counter wraparound, then a producer/consumer stress test that
 * accounts for every record (consumed once, in order, intact, or dropped).
 * The stress test prints the producer's cost per reserve+publish.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"

/* splitmix64's finaliser: a cheap bijective hash for test patterns. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15u;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Every byte of the record depends on seq, so any mix-up of slots or a
 * torn copy shows in a memcmp. Independent of the record's field layout. */
static void make_record(struct span_record *rec, uint64_t seq)
{
	uint64_t words[sizeof *rec / sizeof(uint64_t)];
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		words[i] = mix64(seq * 64 + i);
	memcpy(rec, words, sizeof *rec);
}

static void push(struct ring *r, uint64_t seq)
{
	struct span_record *slot = ring_reserve(r);
	cr_assert_not_null(slot, "ring full at seq %llu", (unsigned long long)seq);
	make_record(slot, seq);
	ring_publish(r);
}

static void expect_record(const struct span_record *got, uint64_t seq)
{
	struct span_record want;
	make_record(&want, seq);
	cr_assert(memcmp(got, &want, sizeof want) == 0, "record for seq %llu differs",
		  (unsigned long long)seq);
}

Test(ring, capacity_rounds_up_to_power_of_two)
{
	static const struct {
		size_t asked, got;
	} cases[] = {
		{ 0, 2 }, { 1, 2 }, { 2, 2 }, { 3, 4 }, { 4, 4 }, { 5, 8 },
		{ 7, 8 }, { 1000, 1024 }, { 1024, 1024 }, { 1025, 2048 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ring r;
		cr_assert_eq(ring_init(&r, cases[i].asked), 0);
		cr_assert_eq(r.mask + 1, cases[i].got, "capacity %zu -> %llu, want %zu", cases[i].asked,
			     (unsigned long long)(r.mask + 1), cases[i].got);
		/* Exactly that many records fit. */
		for (size_t k = 0; k < cases[i].got; k++)
			push(&r, k);
		cr_assert_null(ring_reserve(&r));
		cr_assert_eq(ring_dropped(&r), 1);
		ring_destroy(&r);
		cr_assert_null(r.slots);
	}
}

Test(ring, absurd_capacity_fails_with_enomem)
{
	struct ring r;
	errno = 0;
	cr_assert_eq(ring_init(&r, SIZE_MAX), -1);
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_eq(ring_init(&r, SIZE_MAX / sizeof(struct span_record) + 1), -1);
	cr_assert_eq(errno, ENOMEM);
}

Test(ring, empty_ring_consumes_nothing)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4), 0);
	struct span_record out[4];
	memset(out, 0xa5, sizeof out);
	struct span_record untouched;
	memset(&untouched, 0xa5, sizeof untouched);
	cr_assert_eq(ring_consume(&r, out, 4), 0);
	cr_assert(memcmp(&out[0], &untouched, sizeof untouched) == 0);
	push(&r, 0);
	cr_assert_eq(ring_consume(&r, out, 0), 0, "max 0 copies nothing");
	cr_assert_eq(ring_consume(&r, out, 4), 1);
	expect_record(&out[0], 0);
	cr_assert_eq(ring_consume(&r, out, 4), 0);
	cr_assert_eq(ring_dropped(&r), 0);
	ring_destroy(&r);
}

Test(ring, reserve_is_idempotent_until_publish)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4), 0);
	struct span_record *a = ring_reserve(&r);
	cr_assert_eq(a, &r.slots[0]);
	cr_assert_eq(ring_reserve(&r), a, "no publish in between: same slot");
	make_record(a, 7);
	ring_publish(&r);
	cr_assert_eq(ring_reserve(&r), &r.slots[1]);
	ring_destroy(&r);
}

/* Fill and drain by uneven amounts so that head and tail lap the slots
 * many times, in every relative position. */
Test(ring, fill_drain_wraparound_exact_contents)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 8), 0);
	struct span_record out[8];
	uint64_t next_in = 0, next_out = 0;
	for (unsigned round = 0; round < 500; round++) {
		unsigned k = (round * 7) % 9; /* 0..8 */
		for (unsigned i = 0; i < k && next_in - next_out < 8; i++)
			push(&r, next_in++);
		size_t max = 1 + round % 5;
		size_t n;
		while ((n = ring_consume(&r, out, max)) > 0) {
			cr_assert_leq(n, max);
			for (size_t i = 0; i < n; i++)
				expect_record(&out[i], next_out++);
			if (round % 3 == 0)
				break; /* sometimes leave records behind */
		}
		cr_assert_leq(next_out, next_in);
	}
	while (ring_consume(&r, out, 8) > 0)
		; /* the invariant was checked above; only empty it */
	cr_assert_gt(next_in, 100 * 8, "the counters lapped the slots many times");
	cr_assert_eq(ring_dropped(&r), 0);
	ring_destroy(&r);
}

Test(ring, consume_respects_max_and_order)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 8), 0);
	for (uint64_t s = 0; s < 5; s++)
		push(&r, s);
	struct span_record out[8];
	cr_assert_eq(ring_consume(&r, out, 2), 2);
	expect_record(&out[0], 0);
	expect_record(&out[1], 1);
	cr_assert_eq(ring_consume(&r, out, 8), 3);
	for (uint64_t s = 2; s < 5; s++)
		expect_record(&out[s - 2], s);
	ring_destroy(&r);
}

Test(ring, full_ring_drops_and_counts_without_overwriting)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4), 0);
	for (uint64_t s = 0; s < 4; s++)
		push(&r, s);
	for (int i = 0; i < 3; i++)
		cr_assert_null(ring_reserve(&r));
	cr_assert_eq(ring_dropped(&r), 3);

	struct span_record out[4];
	cr_assert_eq(ring_consume(&r, out, 1), 1);
	expect_record(&out[0], 0);
	push(&r, 4); /* the freed slot is usable again */
	cr_assert_null(ring_reserve(&r));
	cr_assert_eq(ring_dropped(&r), 4);

	cr_assert_eq(ring_consume(&r, out, 4), 4);
	for (uint64_t s = 1; s <= 4; s++)
		expect_record(&out[s - 1], s);
	cr_assert_eq(ring_dropped(&r), 4, "consuming does not reset the count");
	ring_destroy(&r);
}

/* The producer reads the consumer's tail only when its cached view says
 * the ring is full. */
Test(ring, producer_reads_tail_only_when_it_looks_full)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 8), 0);
	for (uint64_t s = 0; s < 8; s++)
		push(&r, s);
	struct span_record out[8];
	cr_assert_eq(ring_consume(&r, out, 4), 4);
	cr_assert_eq(r.cached_tail, 0, "not refreshed while there was room");
	push(&r, 8);
	cr_assert_eq(r.cached_tail, 4, "refreshed once the ring looked full");
	cr_assert_eq(ring_consume(&r, out, 1), 1);
	push(&r, 9); /* room by the cached view: no refresh */
	cr_assert_eq(r.cached_tail, 4);
	ring_destroy(&r);
}

/* head and tail are free-running: start them just below 2^64. */
Test(ring, counters_wrap_past_uint64_max)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 8), 0);
	const uint64_t start = UINT64_MAX - 12;
	atomic_store(&r.head, start);
	atomic_store(&r.tail, start);
	r.cached_tail = start;
	struct span_record out[8];
	uint64_t next_in = 0, next_out = 0;
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < 5; i++)
			push(&r, next_in++);
		size_t n = ring_consume(&r, out, 8);
		cr_assert_eq(n, 5);
		for (size_t i = 0; i < n; i++)
			expect_record(&out[i], next_out++);
	}
	cr_assert_eq(atomic_load(&r.head), start + 100, "wrapped through zero");
	cr_assert_eq(ring_dropped(&r), 0);
	ring_destroy(&r);
}

/* ---- two threads ---- */

#define STRESS_N 4000000u
#define STRESS_CAPACITY 1024
#ifndef STRESS_PAUSE
#define STRESS_PAUSE 50000 /* producer's spins between bursts, at most */
#endif

struct stress {
	struct ring ring;
	atomic_bool producer_done;
	uint8_t *consumed;  /* per seq, written by the consumer only */
	uint8_t *dropped;   /* per seq, written by the producer only */
	uint64_t nconsumed; /* consumer's */
	/* The first failure the consumer saw (Criterion asserts only in the
	 * test's own thread). */
	char error[200];
};

static uint64_t checksum(uint64_t seq)
{
	return mix64(seq ^ 0x5eedu);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Checks a batch: in increasing order after last, intact, not seen before. */
static bool check_batch(struct stress *st, const struct span_record *out, size_t n, uint64_t *next_min)
{
	for (size_t i = 0; i < n; i++) {
		const struct span_record *rec = &out[i];
		uint64_t seq = rec->return_value;
		if (seq >= STRESS_N || seq < *next_min) {
			snprintf(st->error, sizeof st->error, "seq %llu out of order (expected >= %llu)",
				 (unsigned long long)seq, (unsigned long long)*next_min);
			return false;
		}
		if (rec->captures[0] != checksum(seq) || rec->start_ticks != seq * 3 || rec->end_ticks != ~seq
		    || rec->hook_index != (uint32_t)seq) {
			snprintf(st->error, sizeof st->error, "seq %llu corrupted", (unsigned long long)seq);
			return false;
		}
		if (st->consumed[seq]) {
			snprintf(st->error, sizeof st->error, "seq %llu consumed twice", (unsigned long long)seq);
			return false;
		}
		st->consumed[seq] = 1;
		st->nconsumed++;
		*next_min = seq + 1;
	}
	return true;
}

static void *consumer_main(void *arg)
{
	struct stress *st = arg;
	static struct span_record out[2 * STRESS_CAPACITY];
	uint64_t rng = 0x9e3779b97f4a7c15u;
	uint64_t next_min = 0;
	for (;;) {
		/* Read done before draining: after done, a drain sees everything. */
		bool done = atomic_load_explicit(&st->producer_done, memory_order_acquire);
		size_t max = 1 + xorshift(&rng) % (2 * STRESS_CAPACITY);
		size_t n = ring_consume(&st->ring, out, max);
		if (!check_batch(st, out, n, &next_min))
			return NULL;
		if (n == 0 && done)
			return NULL;
		/* Now and then dawdle so the ring fills and the drop path runs. */
		if (xorshift(&rng) % 64 == 0) {
			unsigned spins = (unsigned)(xorshift(&rng) % 20000);
			for (volatile unsigned i = 0; i < spins; i++)
				;
		}
	}
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

Test(ring, two_thread_stress_accounts_for_every_record)
{
	static struct stress st; /* large-ish; keep it off the stack */
	cr_assert_eq(ring_init(&st.ring, STRESS_CAPACITY), 0);
	atomic_init(&st.producer_done, false);
	st.consumed = calloc(STRESS_N, 1);
	st.dropped = calloc(STRESS_N, 1);
	cr_assert(st.consumed && st.dropped);

	pthread_t consumer;
	cr_assert_eq(pthread_create(&consumer, NULL, consumer_main, &st), 0);

	/* Bursts of back-to-back records (timed) separated by pauses (not
	 * timed) in which the consumer catches up: a hooked thread does work
	 * between calls, and without pauses nearly everything is dropped,
	 * which would test little. Bursts longer than the ring still drop. */
	uint64_t ndropped = 0, rng = 0x2545f4914f6cdd1du;
	double busy = 0;
	for (uint64_t seq = 0; seq < STRESS_N;) {
		uint64_t end = seq + 1 + xorshift(&rng) % (2 * STRESS_CAPACITY);
		if (end > STRESS_N)
			end = STRESS_N;
		double t0 = now_ns();
		for (; seq < end; seq++) {
			struct span_record *rec = ring_reserve(&st.ring);
			if (rec == NULL) {
				st.dropped[seq] = 1;
				ndropped++;
				continue;
			}
			rec->start_ticks = seq * 3;
			rec->end_ticks = ~seq;
			rec->hook_index = (uint32_t)seq;
			rec->return_value = seq;
			rec->captures[0] = checksum(seq);
			ring_publish(&st.ring);
		}
		busy += now_ns() - t0;
		unsigned spins = (unsigned)(xorshift(&rng) % STRESS_PAUSE);
		for (volatile unsigned i = 0; i < spins; i++)
			;
	}
	atomic_store_explicit(&st.producer_done, true, memory_order_release);
	cr_assert_eq(pthread_join(consumer, NULL), 0);

	fprintf(stderr,
		"ring stress: %u records, %llu consumed, %llu dropped; producer %.2f ns per "
		"reserve+fill+publish (capacity %u, concurrent consumer)\n",
		STRESS_N, (unsigned long long)st.nconsumed, (unsigned long long)ndropped,
		busy / STRESS_N, STRESS_CAPACITY);

	cr_assert_eq(st.error[0], '\0', "consumer: %s", st.error);
	cr_assert_eq(ring_dropped(&st.ring), ndropped, "the ring counted every drop");
	cr_assert_eq(st.nconsumed + ndropped, STRESS_N);
	for (uint64_t seq = 0; seq < STRESS_N; seq++)
		if (st.consumed[seq] + st.dropped[seq] != 1)
			cr_assert_fail("seq %llu: consumed %d, dropped %d", (unsigned long long)seq,
				       st.consumed[seq], st.dropped[seq]);
	cr_assert_gt(st.nconsumed, 0);
	free(st.consumed);
	free(st.dropped);
	ring_destroy(&st.ring);
}

Test(ring, a_pair_is_published_together_or_not_at_all)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4), 0);
	push(&r, 1);
	/* one record in a ring of four: room for a pair after it */
	struct span_record *first = ring_reserve(&r);
	cr_assert_not_null(first);
	struct span_record *second = ring_reserve_next(&r);
	cr_assert_not_null(second);
	cr_assert_neq(first, second);
	make_record(first, 2);
	make_record(second, 3);
	struct span_record out[4];
	/* not published yet: the consumer sees only the first record */
	cr_assert_eq(ring_consume(&r, out, 4), 1);
	expect_record(&out[0], 1);
	ring_publish_two(&r);
	cr_assert_eq(ring_consume(&r, out, 4), 2, "both at once");
	expect_record(&out[0], 2);
	expect_record(&out[1], 3);

	/* fill three of four: the pair does not fit, a single record does, nothing counted */
	push(&r, 4);
	push(&r, 5);
	push(&r, 6);
	cr_assert_not_null(ring_reserve(&r));
	cr_assert_null(ring_reserve_next(&r), "no room for both");
	cr_assert_eq(ring_dropped(&r), 0, "asking for the pair drops nothing");
	/* the pair wraps around the end of the slots */
	cr_assert_eq(ring_consume(&r, out, 4), 3);
	first = ring_reserve(&r);
	second = ring_reserve_next(&r);
	cr_assert(first != NULL && second != NULL);
	make_record(first, 7);
	make_record(second, 8);
	ring_publish_two(&r);
	cr_assert_eq(ring_consume(&r, out, 4), 2);
	expect_record(&out[0], 7);
	expect_record(&out[1], 8);
	ring_destroy(&r);
}

Test(ring, discard_empties_and_forgets_drops)
{
	struct ring r;
	cr_assert_eq(ring_init(&r, 4), 0);
	for (uint64_t seq = 1; seq <= 4; seq++)
		push(&r, seq);
	cr_assert_null(ring_reserve(&r), "full");
	cr_assert_eq(ring_dropped(&r), 1);
	struct span_record out[4];
	cr_assert_eq(ring_consume(&r, out, 1), 1);
	cr_assert_eq(ring_discard(&r), 3, "the three records not consumed yet");
	cr_assert_eq(ring_dropped(&r), 0);
	cr_assert_eq(ring_consume(&r, out, 4), 0, "nothing left to read");
	/* the ring works on: a full capacity again, in order */
	for (uint64_t seq = 10; seq < 14; seq++)
		push(&r, seq);
	cr_assert_eq(ring_consume(&r, out, 4), 4);
	for (int i = 0; i < 4; i++)
		expect_record(&out[i], 10 + (uint64_t)i);
	ring_destroy(&r);
}
