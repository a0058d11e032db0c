/* SPDX-License-Identifier: MIT */
/*
 * test_hook_engine.c: hooks functions of this binary (tests/targets/
 * hook_targets.c, hook_targets_cxx.cpp, built -O2) and checks that results
 * are unchanged, that every timed entry gets exactly one exit, and that
 * unwinding (longjmp, C++ exceptions, Rust panics from the cdylib
 * hook_rust_target.rs, _Unwind_Backtrace, and an unwind from a SIGTRAP at
 * every single-stepped instruction of the stub) passes through.
 *
 * The engine only patches while one thread runs, and a Criterion worker
 * has two; so each test forks and does its work in the child (which has
 * one thread), failing with CHECK (message on stderr, exit 1) that the
 * parent turns into a Criterion failure. The first test checks that the
 * worker itself, with two threads, is refused.
 *
 * The handlers below follow the engine's contract: general registers only,
 * no libc calls, async-signal-safe (atomics on per-id counters).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unwind.h>
#include <unistd.h>

#include "../targets/hook_targets.h"
#include "hook_engine.h"

/* ---- handlers (general registers only) ---- */

#define NIDS 20
static _Atomic uint64_t n_enter[NIDS], n_exit[NIDS], n_unwound[NIDS];
/* of n_unwound: the ones found dead later (longjmp) rather than passed by an unwinder */
static _Atomic uint64_t n_abandoned[NIDS];
static volatile uint64_t last_args[NIDS][10];
static volatile uint64_t last_rax[NIDS], last_rdx[NIDS];
static volatile uint64_t last_sp[NIDS];
static volatile bool refuse_timing;

#pragma GCC push_options
#pragma GCC target("general-regs-only")

/*
 * Copies the first four stack-argument slots, whether or not the hooked
 * function takes stack arguments: for most it does not, and the slots are
 * the caller's own frame (under ASan, often its redzones). Not instrumented
 * for that reason; the slots are always mapped stack memory.
 */
__attribute__((no_sanitize("address"))) static void copy_stack_args(volatile uint64_t *dst, uint64_t sp)
{
	const uint64_t *stack = hook_stack_args(sp);
	for (int i = 0; i < 4; i++)
		dst[i] = stack[i];
}

static bool on_enter(struct hook_call *call, const struct hook_regs *r)
{
	uint64_t id = call->id;
	atomic_fetch_add_explicit(&n_enter[id], 1, memory_order_relaxed);
	last_args[id][0] = r->rdi;
	last_args[id][1] = r->rsi;
	last_args[id][2] = r->rdx;
	last_args[id][3] = r->rcx;
	last_args[id][4] = r->r8;
	last_args[id][5] = r->r9;
	copy_stack_args(&last_args[id][6], call->sp);
	last_sp[id] = call->sp;
	call->data[0] = 0x5eed0000 + id;
	/* errno is the engine's to preserve: clobber it here on purpose */
	errno = 12345;
	return !refuse_timing;
}

static void on_leave(struct hook_call *call, uint64_t rax, uint64_t rdx, enum hook_end end)
{
	bool unwound = end != HOOK_RETURNED;
	uint64_t id = call->id;
	if (call->data[0] != 0x5eed0000 + id)
		return; /* never counted: makes the counts disagree */
	if (unwound) {
		atomic_fetch_add_explicit(&n_unwound[id], 1, memory_order_relaxed);
		if (end == HOOK_ABANDONED)
			atomic_fetch_add_explicit(&n_abandoned[id], 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&n_exit[id], 1, memory_order_relaxed);
	last_rax[id] = rax;
	last_rdx[id] = rdx;
	errno = 54321;
}

#pragma GCC pop_options

/* ---- helpers ---- */

#define CHECK(cond, ...)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			fflush(stderr);                                                          \
			_exit(1);                                                                \
		}                                                                                \
	} while (0)

enum { ID_ADD = 1, ID_MANY, ID_STRUCT, ID_DOUBLE, ID_LDOUBLE, ID_RECURSE, ID_MIX, ID_JUMPER, ID_RAISE,
       ID_TINY, ID_BT, ID_BT_CALLER, ID_CXX_THROWER, ID_CXX_MIDDLE, ID_RUST_INNER, ID_RUST_MIDDLE,
       ID_CXX_RAII };

/* The function's ELF symbol size, as the resolver would pass it (the test
 * binary is linked with -rdynamic so dladdr1 sees its symbols). */
static uint64_t symbol_size_of(void *fn)
{
	Dl_info info;
	const ElfW(Sym) *sym = NULL;
	if (!dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || info.dli_saddr != fn) {
		fprintf(stderr, "no symbol for %p\n", fn);
		_exit(1);
	}
	return sym->st_size;
}

/* Installs one hook per (function, id) pair; CHECKs each was installed. */
static void hook(void *fn, uint64_t id)
{
	hook_engine_set_handlers(on_enter, on_leave);
	struct hook_request req = { .address = (uintptr_t)fn, .size = symbol_size_of(fn), .id = id };
	struct hook_result res;
	int n = hook_engine_install(&req, 1, &res);
	CHECK(n == 1 && res.installed, "hooking id %lu: %s", (unsigned long)id, res.why);
}

static void run_in_child(void (*body)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		body();
		fflush(NULL);
		_exit(0);
	}
	int status;
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x), see stderr",
	          status);
}

/* ---- tests ---- */

Test(hook_engine, refuses_with_threads)
{
	/* A Criterion worker runs two threads: nothing may be patched. */
	struct hook_request req = { .address = (uintptr_t)ht_add, .size = 64, .id = ID_ADD };
	struct hook_result res;
	cr_assert_eq(hook_engine_install(&req, 1, &res), -1);
	cr_assert(!res.installed);
	cr_assert(strstr(res.why, "threads") != NULL, "%s", res.why);
	cr_assert_eq(ht_add(2, 3), 2 * 3 + 3 * 5 - 7);
}

static void body_plain(void)
{
	int expect = ht_add(4, 9);
	hook(ht_add, ID_ADD);
	for (int i = 0; i < 1000; i++) {
		errno = 77;
		int r = ht_add(i, -i * 2);
		CHECK(errno == 77, "errno %d", errno);
		CHECK(r == i * 3 - i * 10 - 7, "ht_add(%d) = %d", i, r);
	}
	CHECK(ht_add(4, 9) == expect, "changed result");
	CHECK(n_enter[ID_ADD] == 1001 && n_exit[ID_ADD] == 1001, "%lu enters, %lu exits",
	      (unsigned long)n_enter[ID_ADD], (unsigned long)n_exit[ID_ADD]);
	CHECK(last_args[ID_ADD][0] == 4 && (int)last_args[ID_ADD][1] == 9, "args");
	CHECK((int)last_rax[ID_ADD] == expect, "rax seen by exit");
	CHECK(n_unwound[ID_ADD] == 0, "unwound");
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	CHECK(st.depth == 0 && st.overflows == 0 && st.reaped == 0, "stats");

	/* Refusals: too short, and twice the same function. */
	struct hook_request reqs[2] = { { (uintptr_t)ht_tiny, symbol_size_of(ht_tiny), ID_TINY },
		                        { (uintptr_t)ht_add, 64, ID_ADD } };
	struct hook_result res[2];
	CHECK(hook_engine_install(reqs, 2, res) == 0, "refusals");
	CHECK(!res[0].installed && res[0].why[0], "tiny: %s", res[0].why);
	CHECK(!res[1].installed && strstr(res[1].why, "already"), "twice: %s", res[1].why);
	CHECK(ht_tiny(5) == 5 && ht_add(4, 9) == expect, "results after refusals");
}

Test(hook_engine, plain_int)
{
	run_in_child(body_plain);
}

static void body_many(void)
{
	long expect = ht_many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 4, 1.5, 20L, -2.25, 30L);
	hook(ht_many, ID_MANY);
	long r = ht_many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 4, 1.5, 20L, -2.25, 30L);
	CHECK(r == expect, "%ld != %ld", r, expect);
	for (int i = 0; i < 10; i++)
		CHECK(last_args[ID_MANY][i] == (uint64_t)(i + 1), "arg %d = %lu", i + 1,
		      (unsigned long)last_args[ID_MANY][i]);
	CHECK((long)last_rax[ID_MANY] == expect, "rax at exit");
	/* no varargs, and many doubles (rax = 8 vector registers) */
	CHECK(ht_many(-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, 0) == -385, "no varargs");
	long e2 = 0;
	for (int i = 0; i < 16; i++)
		e2 += (i % 2 == 0 ? (long)((i + 0.25) * 1000.0) : (long)i) * (i + 11);
	long r2 = ht_many(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0.25, 1L, 2.25, 3L, 4.25, 5L, 6.25, 7L, 8.25, 9L, 10.25,
	                  11L, 12.25, 13L, 14.25, 15L);
	CHECK(r2 == e2, "16 varargs: %ld != %ld", r2, e2);
	CHECK(n_enter[ID_MANY] == 3 && n_exit[ID_MANY] == 3, "counts");
}

Test(hook_engine, ten_args_and_varargs)
{
	run_in_child(body_many);
}

static void body_struct(void)
{
	struct ht_big expect = ht_struct(6, -4);
	hook(ht_struct, ID_STRUCT);
	struct ht_big b = ht_struct(6, -4);
	CHECK(memcmp(&b, &expect, sizeof b) == 0, "struct differs: %ld %ld %ld %ld %ld", b.a, b.b, b.c, b.d, b.e);
	CHECK((long)last_args[ID_STRUCT][1] == 6 && (long)last_args[ID_STRUCT][2] == -4, "args after the pointer");
	/* rdi held the hidden pointer, and rax returns it */
	CHECK(last_rax[ID_STRUCT] == last_args[ID_STRUCT][0] && last_rax[ID_STRUCT] != 0, "hidden pointer");
	CHECK(n_exit[ID_STRUCT] == 1, "exit");
}

Test(hook_engine, struct_through_hidden_pointer)
{
	run_in_child(body_struct);
}

static void body_float(void)
{
	double ed = ht_double(1.25, -3.5, 7);
	long double el = ht_ldouble(1.0000001L, 9);
	hook(ht_double, ID_DOUBLE);
	hook(ht_ldouble, ID_LDOUBLE);
	for (int i = 0; i < 100; i++) {
		double d = ht_double(1.25, -3.5, 7);
		long double l = ht_ldouble(1.0000001L, 9);
		CHECK(memcmp(&d, &ed, sizeof d) == 0, "double %a != %a", d, ed);
		CHECK(l == el, "long double %La != %La", l, el);
	}
	CHECK(n_exit[ID_DOUBLE] == 100 && n_exit[ID_LDOUBLE] == 100, "counts");
}

Test(hook_engine, double_and_long_double)
{
	run_in_child(body_float);
}

/* ht_recurse(n) makes n + 1 calls, nested n + 1 deep. */
static void body_recurse(void)
{
	hook(ht_recurse, ID_RECURSE);
	CHECK(ht_recurse(100) == 100, "depth 100");
	CHECK(n_enter[ID_RECURSE] == 101 && n_exit[ID_RECURSE] == 101, "101 calls");
	int deep = 10000;
	CHECK(deep + 1 <= HOOK_MAX_DEPTH, "the test assumes %d frames fit", deep + 1);
	int r = ht_recurse(deep);
	CHECK(r == deep, "ht_recurse(%d) = %d", deep, r);
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	/* every call timed: one enter and one exit each */
	CHECK(n_enter[ID_RECURSE] == 101 + (uint64_t)deep + 1, "%lu enters", (unsigned long)n_enter[ID_RECURSE]);
	CHECK(n_exit[ID_RECURSE] == n_enter[ID_RECURSE], "%lu exits", (unsigned long)n_exit[ID_RECURSE]);
	CHECK(n_unwound[ID_RECURSE] == 0, "%lu unwound", (unsigned long)n_unwound[ID_RECURSE]);
	CHECK(st.overflows == 0 && st.unmapped == 0, "%lu overflows, %lu unmapped", (unsigned long)st.overflows,
	      (unsigned long)st.unmapped);
	CHECK(st.depth == 0 && st.reaped == 0, "depth %u reaped %lu", st.depth, (unsigned long)st.reaped);
}

Test(hook_engine, recursion_10000)
{
	run_in_child(body_recurse);
}

/* Past HOOK_MAX_DEPTH: the deeper calls run untimed, with right results,
 * and the frame stack is whole again afterwards. */
static void body_recurse_overflow(void)
{
	hook(ht_recurse, ID_RECURSE);
	int past = 100;
	int n = HOOK_MAX_DEPTH + past - 1; /* HOOK_MAX_DEPTH + past calls */
	int r = ht_recurse(n);
	CHECK(r == n, "ht_recurse(%d) = %d", n, r);
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	CHECK(n_enter[ID_RECURSE] == HOOK_MAX_DEPTH, "%lu enters", (unsigned long)n_enter[ID_RECURSE]);
	CHECK(n_exit[ID_RECURSE] == HOOK_MAX_DEPTH, "%lu exits", (unsigned long)n_exit[ID_RECURSE]);
	CHECK(st.overflows == (uint64_t)past, "%lu overflows", (unsigned long)st.overflows);
	CHECK(st.depth == 0 && st.reaped == 0 && st.unmapped == 0, "depth %u reaped %lu unmapped %lu", st.depth,
	      (unsigned long)st.reaped, (unsigned long)st.unmapped);
	/* timed again once there is room */
	CHECK(ht_recurse(3) == 3, "after");
	CHECK(n_enter[ID_RECURSE] == HOOK_MAX_DEPTH + 4 && n_exit[ID_RECURSE] == HOOK_MAX_DEPTH + 4, "%lu / %lu",
	      (unsigned long)n_enter[ID_RECURSE], (unsigned long)n_exit[ID_RECURSE]);
}

Test(hook_engine, recursion_past_max_depth)
{
	run_in_child(body_recurse_overflow);
}

#define THREADS 8
#define PER_THREAD 200000

static void *hammer(void *arg)
{
	long bad = 0;
	for (int i = 0; i < PER_THREAD; i++) {
		int x = i ^ (int)(intptr_t)arg;
		if (ht_mix(x) != (int)((x * 2654435761u) >> 7 ^ x))
			bad++;
	}
	return (void *)bad;
}

static void body_threads(void)
{
	hook(ht_mix, ID_MIX);
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, hammer, (void *)(i << 20)) == 0, "pthread_create");
	for (int i = 0; i < THREADS; i++) {
		void *bad;
		pthread_join(th[i], &bad);
		CHECK(bad == NULL, "thread %d: %ld wrong results", i, (long)bad);
	}
	CHECK(n_enter[ID_MIX] == THREADS * PER_THREAD && n_exit[ID_MIX] == THREADS * PER_THREAD, "%lu / %lu",
	      (unsigned long)n_enter[ID_MIX], (unsigned long)n_exit[ID_MIX]);
}

Test(hook_engine, eight_threads)
{
	run_in_child(body_threads);
}

static volatile int handler_result;

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	handler_result = ht_add(10, 20);
	errno = saved;
}

static void *signal_thread(void *arg)
{
	stack_t ss = { .ss_sp = arg, .ss_size = 1 << 16 };
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	for (int i = 0; i < 100; i++) {
		handler_result = 0;
		int r = ht_raise(SIGUSR2, i);
		CHECK(r == i * 5 + 2 && handler_result == 10 * 3 + 20 * 5 - 7, "thread: %d %d", r, handler_result);
	}
	return NULL;
}

static void body_signal(void)
{
	hook(ht_add, ID_ADD);
	hook(ht_raise, ID_RAISE);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < 100; i++) {
		handler_result = 0;
		int r = ht_raise(SIGUSR1, i);
		CHECK(r == i * 5 + 2, "ht_raise = %d", r);
		CHECK(handler_result == 10 * 3 + 20 * 5 - 7, "handler got %d", handler_result);
	}
	CHECK(n_enter[ID_RAISE] == 100 && n_exit[ID_RAISE] == 100, "raise counts");
	CHECK(n_enter[ID_ADD] == 100 && n_exit[ID_ADD] == 100, "handler counts");

	/* On a sigaltstack mapped above the thread's stack: the interrupted
	 * ht_raise frame must not be mistaken for a dead one. */
	void *alt = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(alt != MAP_FAILED, "mmap");
	struct sigaction sa2 = { .sa_handler = on_signal, .sa_flags = SA_ONSTACK };
	sigaction(SIGUSR2, &sa2, NULL);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, signal_thread, alt) == 0, "pthread_create");
	pthread_join(th, NULL);
	CHECK(n_enter[ID_RAISE] == 200 && n_exit[ID_RAISE] == 200 && n_unwound[ID_RAISE] == 0,
	      "raise counts %lu %lu %lu", (unsigned long)n_enter[ID_RAISE], (unsigned long)n_exit[ID_RAISE],
	      (unsigned long)n_unwound[ID_RAISE]);
	CHECK(n_enter[ID_ADD] == 200 && n_exit[ID_ADD] == 200, "handler counts");
}

Test(hook_engine, signal_handler)
{
	run_in_child(body_signal);
}

static void body_longjmp(void)
{
	hook(ht_jumper, ID_JUMPER);
	jmp_buf env;
	volatile int jumps = 0, sum = 0;
	for (volatile int i = 1; i <= 40; i++) {
		int v = setjmp(env);
		if (v) {
			CHECK(v == i, "longjmp value %d", v);
			jumps++;
			continue;
		}
		sum += ht_jumper(&env, i);
	}
	/* the last call (40) jumped: its frame is reaped by the next entry */
	CHECK(ht_jumper(&env, 1) == 12, "after");
	int expect = 0;
	for (int i = 1; i <= 40; i++)
		expect += i % 4 ? i * 11 + 1 : 0;
	CHECK(jumps == 10 && sum == expect, "jumps %d sum %d", jumps, sum);
	CHECK(n_enter[ID_JUMPER] == 41, "enters %lu", (unsigned long)n_enter[ID_JUMPER]);
	CHECK(n_abandoned[ID_JUMPER] == 10, "longjmp'd frames told as abandoned: %lu", (unsigned long)n_abandoned[ID_JUMPER]);
	CHECK(n_exit[ID_JUMPER] == 31 && n_unwound[ID_JUMPER] == 10, "exits %lu unwound %lu",
	      (unsigned long)n_exit[ID_JUMPER], (unsigned long)n_unwound[ID_JUMPER]);
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	CHECK(st.depth == 0 && st.reaped == 10, "depth %u reaped %lu", st.depth, (unsigned long)st.reaped);
}

Test(hook_engine, longjmp_out)
{
	run_in_child(body_longjmp);
}

static void body_cxx(void)
{
	int expect[13];
	for (int n = 1; n <= 12; n++)
		expect[n] = cxx_catch(n);
	hook(cxx_thrower, ID_CXX_THROWER);
	hook(cxx_middle, ID_CXX_MIDDLE);
	for (int n = 1; n <= 12; n++) {
		int r = cxx_catch(n);
		CHECK(r == expect[n], "cxx_catch(%d) = %d, expected %d", n, r, expect[n]);
		CHECK(r == (n % 3 ? n * 7 + 100 : -n), "value %d", r);
	}
	/* the stub's personality popped the frames as the exception passed */
	CHECK(n_unwound[ID_CXX_THROWER] == 4 && n_unwound[ID_CXX_MIDDLE] == 4, "unwound at once: %lu %lu",
	      (unsigned long)n_unwound[ID_CXX_THROWER], (unsigned long)n_unwound[ID_CXX_MIDDLE]);
	CHECK(n_abandoned[ID_CXX_THROWER] == 0 && n_abandoned[ID_CXX_MIDDLE] == 0, "told as unwinding, not abandoned");
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	CHECK(st.depth == 0 && st.reaped == 8, "depth %u reaped %lu", st.depth, (unsigned long)st.reaped);
	CHECK(cxx_catch(1) == 107, "after");
	CHECK(n_enter[ID_CXX_THROWER] == 13 && n_enter[ID_CXX_MIDDLE] == 13, "enters");
	CHECK(n_exit[ID_CXX_THROWER] == 9 && n_unwound[ID_CXX_THROWER] == 4, "thrower: %lu exits, %lu unwound",
	      (unsigned long)n_exit[ID_CXX_THROWER], (unsigned long)n_unwound[ID_CXX_THROWER]);
	CHECK(n_exit[ID_CXX_MIDDLE] == 9 && n_unwound[ID_CXX_MIDDLE] == 4, "middle: %lu exits, %lu unwound",
	      (unsigned long)n_exit[ID_CXX_MIDDLE], (unsigned long)n_unwound[ID_CXX_MIDDLE]);
}

Test(hook_engine, cxx_exception_through_hooks)
{
	run_in_child(body_cxx);
}

/* A landing pad between two hooked frames calls a hooked function while
 * the exception is in flight. */
static void body_cxx_cleanup(void)
{
	hook(cxx_thrower, ID_CXX_THROWER);
	hook(cxx_middle_raii, ID_CXX_RAII);
	hook(ht_add, ID_ADD);
	for (int n = 1; n <= 12; n++) {
		int cleanup = n;
		int r = cxx_catch_raii(n, &cleanup);
		CHECK(r == (n % 3 ? n * 7 + 200 : -n), "cxx_catch_raii(%d) = %d", n, r);
		CHECK(cleanup == n * 3 + 5 - 7, "cleanup ran: %d", cleanup);
	}
	CHECK(n_exit[ID_ADD] == 12 && n_enter[ID_ADD] == 12, "cleanup calls timed: %lu",
	      (unsigned long)n_exit[ID_ADD]);
	CHECK(n_exit[ID_CXX_RAII] == 8 && n_unwound[ID_CXX_RAII] == 4, "raii: %lu exits, %lu unwound",
	      (unsigned long)n_exit[ID_CXX_RAII], (unsigned long)n_unwound[ID_CXX_RAII]);
	CHECK(n_exit[ID_CXX_THROWER] == 8 && n_unwound[ID_CXX_THROWER] == 4, "thrower");
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	CHECK(st.depth == 0, "depth %u", st.depth);
}

Test(hook_engine, cxx_cleanup_calls_hooked_function_mid_unwind)
{
	run_in_child(body_cxx_cleanup);
}


extern char stdbtel_hook_stub_return[];

/* One call site for both backtraces, so their frames are comparable. */
int take_backtrace(uintptr_t *ips);
__attribute__((noinline)) int take_backtrace(uintptr_t *ips)
{
	static volatile int sink __attribute__((used));
	int n = ht_backtrace_caller(ips, 64);
	sink = n;
	return n;
}

void body_backtrace(void);

static bool in_function(uintptr_t ip, void *fn)
{
	Dl_info info;
	return dladdr((void *)(ip - 1), &info) && info.dli_saddr == fn;
}

/* Not static: -rdynamic exports it, so dladdr can name its frames. */
void body_backtrace(void)
{
	uintptr_t plain[64], hooked[64];
	int np = take_backtrace(plain);
	hook(ht_backtrace, ID_BT);
	hook(ht_backtrace_caller, ID_BT_CALLER);
	int nh = take_backtrace(hooked);
	/* one extra frame per hooked level: the stub's return address */
	CHECK(nh == np + 2, "%d frames hooked, %d plain", nh, np);
	int stub_frames = 0;
	for (int i = 0, j = 0; i < nh; i++) {
		if (hooked[i] == (uintptr_t)stdbtel_hook_stub_return) {
			stub_frames++;
			continue;
		}
		/* every other frame matches the unhooked backtrace, in order,
		 * except the return into body_backtrace (two call sites) */
		CHECK(j < np && (hooked[i] == plain[j] || (in_function(hooked[i], body_backtrace) &&
		                                            in_function(plain[j], body_backtrace))),
		      "frame %d: %#lx vs %#lx", i,
		      (unsigned long)hooked[i], (unsigned long)(j < np ? plain[j] : 0));
		j++;
	}
	CHECK(stub_frames == 2, "%d stub frames", stub_frames);
	/* _Unwind_Backtrace starts at its caller */
	CHECK(in_function(hooked[0], ht_backtrace) && hooked[1] == (uintptr_t)stdbtel_hook_stub_return &&
	      in_function(hooked[2], ht_backtrace_caller) && hooked[3] == (uintptr_t)stdbtel_hook_stub_return &&
	      in_function(hooked[4], take_backtrace) && in_function(hooked[5], body_backtrace),
	      "frame order");
}

Test(hook_engine, unwind_backtrace_through_hook)
{
	run_in_child(body_backtrace);
}

static void body_untimed(void)
{
	refuse_timing = true;
	hook(ht_add, ID_ADD);
	for (int i = 0; i < 100; i++)
		CHECK(ht_add(i, 1) == i * 3 + 5 - 7, "untimed result");
	CHECK(n_enter[ID_ADD] == 100 && n_exit[ID_ADD] == 0, "enter without exit");
	refuse_timing = false;
	CHECK(ht_add(1, 1) == 1, "timed again");
	CHECK(n_exit[ID_ADD] == 1, "exit");
}

Test(hook_engine, enter_declines_timing)
{
	run_in_child(body_untimed);
}

/*
 * Single-steps a hooked call (trap flag) and, at every instruction of the
 * stub, unwinds from the signal frame: the CFI must lead back to the caller
 * at each PC, on the timed and the untimed path.
 */
extern char stdbtel_hook_stub[], stdbtel_hook_stub_end[];

static volatile int step_pcs, step_bad;
static volatile uintptr_t step_bad_pc;
static uint8_t step_seen[512];

void body_step(void);

struct step_bt {
	bool found;
	int n;
};

static _Unwind_Reason_Code step_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct step_bt *st = arg;
	if (in_function(_Unwind_GetIP(ctx), body_step))
		st->found = true;
	return ++st->n > 64 || st->found ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static void on_trap(int sig, siginfo_t *si, void *uc_)
{
	(void)sig, (void)si;
	ucontext_t *uc = uc_;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (pc < (uintptr_t)stdbtel_hook_stub || pc >= (uintptr_t)stdbtel_hook_stub_end)
		return;
	struct step_bt st = { false, 0 };
	_Unwind_Backtrace(step_frame, &st);
	step_pcs++;
	step_seen[pc - (uintptr_t)stdbtel_hook_stub] = 1;
	if (!st.found) {
		step_bad++;
		step_bad_pc = pc;
	}
}

static __attribute__((noinline)) int stepped_call(int a)
{
	int r;
	__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
	r = ht_add(a, 2);
	__asm__ volatile("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
	return r;
}

void body_step(void)
{
	hook(ht_add, ID_ADD);
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO };
	sigaction(SIGTRAP, &sa, NULL);
	CHECK(stepped_call(5) == 15 + 10 - 7, "timed result");
	int timed_pcs = step_pcs;
	refuse_timing = true;
	CHECK(stepped_call(6) == 18 + 10 - 7, "untimed result");
	CHECK(step_bad == 0, "%d of %d stub PCs did not unwind to the caller, e.g. stub+%#lx", step_bad, step_pcs,
	      (unsigned long)(step_bad_pc - (uintptr_t)stdbtel_hook_stub));
	int distinct = 0;
	for (size_t i = 0; i < sizeof step_seen; i++)
		distinct += step_seen[i];
	/* timed path: 54 instructions; untimed: 12 more of its own */
	CHECK(timed_pcs >= 54 && distinct >= 66, "stepped %d PCs (%d distinct)", step_pcs, distinct);
	CHECK(n_exit[ID_ADD] == 1 && n_enter[ID_ADD] == 2, "counts");
}

Test(hook_engine, cfi_exact_at_every_stub_instruction)
{
	run_in_child(body_step);
}

/* Rust (tests/targets/hook_rust_target.rs, a cdylib loaded here). */
static void body_rust(void)
{
	const char *path = getenv("STDBTEL_HOOK_RUST_LIB");
	CHECK(path != NULL, "STDBTEL_HOOK_RUST_LIB is not set");
	void *lib = dlopen(path, RTLD_NOW);
	CHECK(lib != NULL, "dlopen: %s", dlerror());
	int (*rust_catch)(int) = (int (*)(int))dlsym(lib, "rust_catch");
	void (*quiet)(void) = (void (*)(void))dlsym(lib, "rust_quiet_panics");
	void *inner = dlsym(lib, "rust_inner"), *middle = dlsym(lib, "rust_middle");
	CHECK(rust_catch && quiet && inner && middle, "symbols");
	quiet();
	int expect[13];
	for (int n = 1; n <= 12; n++)
		expect[n] = rust_catch(n);
	hook(inner, ID_RUST_INNER);
	hook(middle, ID_RUST_MIDDLE);
	for (int n = 1; n <= 12; n++) {
		int r = rust_catch(n);
		CHECK(r == expect[n], "rust_catch(%d) = %d, expected %d", n, r, expect[n]);
		CHECK(r == (n % 3 ? n * 7 + 100 : -n), "value %d", r);
	}
	CHECK(n_unwound[ID_RUST_INNER] == 4 && n_unwound[ID_RUST_MIDDLE] == 4, "unwound at once: %lu %lu",
	      (unsigned long)n_unwound[ID_RUST_INNER], (unsigned long)n_unwound[ID_RUST_MIDDLE]);
	CHECK(n_abandoned[ID_RUST_INNER] == 0 && n_abandoned[ID_RUST_MIDDLE] == 0, "told as unwinding, not abandoned");
	struct hook_thread_stats st;
	hook_engine_thread_stats(&st);
	CHECK(st.depth == 0 && st.reaped == 8, "depth %u reaped %lu", st.depth, (unsigned long)st.reaped);
	CHECK(rust_catch(1) == 107, "after");
	CHECK(n_enter[ID_RUST_INNER] == 13 && n_exit[ID_RUST_INNER] == 9 && n_unwound[ID_RUST_INNER] == 4,
	      "inner: %lu enters, %lu exits, %lu unwound", (unsigned long)n_enter[ID_RUST_INNER],
	      (unsigned long)n_exit[ID_RUST_INNER], (unsigned long)n_unwound[ID_RUST_INNER]);
	CHECK(n_enter[ID_RUST_MIDDLE] == 13 && n_exit[ID_RUST_MIDDLE] == 9 && n_unwound[ID_RUST_MIDDLE] == 4,
	      "middle: %lu enters, %lu exits, %lu unwound", (unsigned long)n_enter[ID_RUST_MIDDLE],
	      (unsigned long)n_exit[ID_RUST_MIDDLE], (unsigned long)n_unwound[ID_RUST_MIDDLE]);
}

Test(hook_engine, rust_panic_through_hooks)
{
	run_in_child(body_rust);
}
