/* SPDX-License-Identifier: MIT */
/*
 * test_trace_ids.c: the id generator against xoshiro256**'s and
 * splitmix64's published outputs, the never-all-zero rule, uniqueness over
 * a million draws, and distinct streams across threads, fork() and the
 * seeding fallback (forced by interposing getrandom below).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace_ids.h"

/*
 * The executable's getrandom wins over libc's, so the tests can count the
 * calls and make them fail. Set only inside a test body: each test runs in
 * its own process.
 */
static bool getrandom_fails;
static atomic_int getrandom_calls;

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	atomic_fetch_add(&getrandom_calls, 1);
	if (getrandom_fails) {
		errno = ENOSYS;
		return -1;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static bool state_is_zero(const struct trace_id_state *st)
{
	return (st->s[0] | st->s[1] | st->s[2] | st->s[3]) == 0;
}

/* From the state {1, 2, 3, 4} the reference xoshiro256** gives 11520, 0,
 * 1509978240, 1215971899390074240, 1216172134540287360, ... A span id
 * skips the zero draw. */
Test(trace_ids, xoshiro256starstar_reference_outputs)
{
	struct trace_id_state st = { { 1, 2, 3, 4 } };
	static const uint64_t want[] = {
		11520u, 1509978240u, 1215971899390074240u, 1216172134540287360u,
		607988272756665600u, 16172922978634559625u, 8476171486693032832u,
		10595114339597558777u, 2904607092377533576u,
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		uint8_t id[8];
		trace_ids_new_span_id(&st, id);
		cr_assert_eq(be64(id), want[i], "span id %zu: %016llx", i, (unsigned long long)be64(id));
	}
	/* Most significant byte first. */
	struct trace_id_state st2 = { { 1, 2, 3, 4 } };
	uint8_t id[8];
	trace_ids_new_span_id(&st2, id);
	static const uint8_t first[8] = { 0, 0, 0, 0, 0, 0, 0x2d, 0x00 };
	cr_assert(memcmp(id, first, 8) == 0);
}

/* With s1 == 0 and s0 == s2 the generator draws 0 twice in a row, then
 * not (here 0xc26cd00, 0xcbe000000c26cea7). The first pair is all zero and
 * is drawn again, so the trace id is the third and fourth draws, which are
 * also the first two span ids from the same start. */
Test(trace_ids, all_zero_trace_id_is_drawn_again)
{
	const struct trace_id_state start = { { 0x1234, 0, 0x1234, 0x9876 } };
	struct trace_id_state st = start;
	uint8_t trace[16];
	trace_ids_new_trace_id(&st, trace);
	cr_assert_eq(be64(trace), 0xc26cd00u);
	cr_assert_eq(be64(trace + 8), 0xcbe000000c26cea7u);

	struct trace_id_state st2 = start;
	uint8_t span[16];
	trace_ids_new_span_id(&st2, span);
	trace_ids_new_span_id(&st2, span + 8);
	cr_assert(memcmp(trace, span, 16) == 0);
	cr_assert(memcmp(&st, &st2, sizeof st) == 0, "both after exactly four draws");
}

/* seed_with expands the seed with splitmix64; its published outputs for 0. */
Test(trace_ids, seed_with_is_splitmix64)
{
	struct trace_id_state st;
	trace_ids_seed_with(&st, 0);
	cr_assert_eq(st.s[0], 0xe220a8397b1dcdafu);
	cr_assert_eq(st.s[1], 0x6e789e6aa1b965f4u);
	cr_assert_eq(st.s[2], 0x06c45d188009454fu);
	cr_assert_eq(st.s[3], 0xf88bb8a8724c81ecu);
}

Test(trace_ids, same_seed_same_ids_different_seed_different_ids)
{
	static const uint64_t seeds[] = { 0, 1, 2, 42, UINT64_MAX };
	for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
		struct trace_id_state a, b, c;
		trace_ids_seed_with(&a, seeds[k]);
		trace_ids_seed_with(&b, seeds[k]);
		trace_ids_seed_with(&c, seeds[k] + 1);
		cr_assert(!state_is_zero(&a));
		for (int i = 0; i < 1000; i++) {
			uint8_t ta[16], tb[16], tc[16], sa[8], sb[8], sc[8];
			trace_ids_new_trace_id(&a, ta);
			trace_ids_new_trace_id(&b, tb);
			trace_ids_new_trace_id(&c, tc);
			trace_ids_new_span_id(&a, sa);
			trace_ids_new_span_id(&b, sb);
			trace_ids_new_span_id(&c, sc);
			cr_assert(memcmp(ta, tb, 16) == 0 && memcmp(sa, sb, 8) == 0, "seed %llu, draw %d",
				  (unsigned long long)seeds[k], i);
			cr_assert(memcmp(ta, tc, 16) != 0 && memcmp(sa, sc, 8) != 0, "seed %llu vs +1, draw %d",
				  (unsigned long long)seeds[k], i);
		}
	}
}

#define MILLION 1000000

Test(trace_ids, no_all_zero_ids_in_a_million)
{
	struct trace_id_state seeded, fixed;
	trace_ids_seed(&seeded);
	trace_ids_seed_with(&fixed, 7);
	struct trace_id_state *states[] = { &seeded, &fixed };
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < MILLION; i++) {
			uint8_t t[16], s[8];
			trace_ids_new_trace_id(states[k], t);
			trace_ids_new_span_id(states[k], s);
			if (all_zero(t, 16) || all_zero(s, 8))
				cr_assert_fail("zero id at draw %d", i);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

Test(trace_ids, no_duplicate_span_ids_in_a_million)
{
	uint64_t *ids = malloc(MILLION * sizeof *ids);
	cr_assert_not_null(ids);
	struct trace_id_state st;
	trace_ids_seed(&st);
	for (int i = 0; i < MILLION; i++) {
		uint8_t s[8];
		trace_ids_new_span_id(&st, s);
		ids[i] = be64(s);
	}
	qsort(ids, MILLION, sizeof *ids, cmp_u64);
	for (int i = 1; i < MILLION; i++)
		if (ids[i] == ids[i - 1])
			cr_assert_fail("duplicate span id %016llx", (unsigned long long)ids[i]);
	free(ids);
}

Test(trace_ids, seed_makes_one_getrandom_call)
{
	struct trace_id_state st;
	int before = atomic_load(&getrandom_calls);
	trace_ids_seed(&st);
	cr_assert_eq(atomic_load(&getrandom_calls) - before, 1);
	cr_assert(!state_is_zero(&st));
}

struct thread_ids {
	uint8_t trace[16];
	uint8_t span[8];
};

static void *draw_in_thread(void *arg)
{
	struct thread_ids *out = arg;
	struct trace_id_state st; /* on this thread's stack, as in the shim */
	trace_ids_seed(&st);
	trace_ids_new_trace_id(&st, out->trace);
	trace_ids_new_span_id(&st, out->span);
	return NULL;
}

static void two_threads_differ(void)
{
	struct thread_ids a, b;
	pthread_t ta, tb;
	cr_assert_eq(pthread_create(&ta, NULL, draw_in_thread, &a), 0);
	cr_assert_eq(pthread_create(&tb, NULL, draw_in_thread, &b), 0);
	cr_assert_eq(pthread_join(ta, NULL), 0);
	cr_assert_eq(pthread_join(tb, NULL), 0);
	cr_assert(memcmp(a.trace, b.trace, 16) != 0);
	cr_assert(memcmp(a.span, b.span, 8) != 0);
}

Test(trace_ids, threads_seeded_separately_differ)
{
	two_threads_differ();
}

/* The fallback alone must still tell threads and calls apart. */
Test(trace_ids, fallback_seeding_differs_per_thread_and_call)
{
	getrandom_fails = true;
	two_threads_differ();

	struct trace_id_state a, b;
	int before = atomic_load(&getrandom_calls);
	trace_ids_seed(&a);
	cr_assert_eq(atomic_load(&getrandom_calls) - before, 1, "tried getrandom once");
	b = a;
	trace_ids_seed(&b); /* same thread, same address: only clock and counter differ */
	cr_assert(!state_is_zero(&a) && !state_is_zero(&b));
	cr_assert(memcmp(&a, &b, sizeof a) != 0);
	uint8_t ia[16], ib[16];
	trace_ids_new_trace_id(&a, ia);
	trace_ids_new_trace_id(&b, ib);
	cr_assert(memcmp(ia, ib, 16) != 0);
}

static void fork_child_reseeds(void)
{
	struct trace_id_state st;
	trace_ids_seed(&st);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Child: the inherited state would repeat the parent's ids;
		 * send that id too, to show the reseed is what matters. */
		uint8_t msg[32];
		struct trace_id_state inherited = st;
		trace_ids_new_trace_id(&inherited, msg);
		trace_ids_seed(&st);
		trace_ids_new_trace_id(&st, msg + 16);
		ssize_t w = write(fds[1], msg, sizeof msg);
		_exit(w == (ssize_t)sizeof msg ? 0 : 1);
	}
	close(fds[1]);
	uint8_t msg[32];
	size_t got = 0;
	while (got < sizeof msg) {
		ssize_t r = read(fds[0], msg + got, sizeof msg - got);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_gt(r, 0, "child's ids");
		got += (size_t)r;
	}
	close(fds[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	uint8_t parent[16];
	trace_ids_new_trace_id(&st, parent);
	cr_assert(memcmp(msg, parent, 16) == 0, "without a reseed the child repeats the parent");
	cr_assert(memcmp(msg + 16, parent, 16) != 0, "after the reseed it does not");
}

Test(trace_ids, fork_child_reseeds_and_differs)
{
	fork_child_reseeds();
}

Test(trace_ids, fork_child_reseeds_and_differs_with_fallback)
{
	getrandom_fails = true; /* inherited by the child: pid and tid tell them apart */
	fork_child_reseeds();
}
