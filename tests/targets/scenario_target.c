/* SPDX-License-Identifier: MIT */
/*
 * scenario_target.c: one program, many calling shapes, for the end-to-end
 * scenario tests (tests/preload/test_scenarios.c) of the hook engine under
 * the real shim. Built four ways: -O0 and -O2, each PIE and non-PIE.
 *
 * Usage: scenario_target SCENARIO [PARAMETERS]
 *   args N         N calls each of ten_args (10 integer arguments) and
 *                  mix_varargs (10 integers + i % 4 (long, double) varargs)
 *   structs N      N calls each of make_big (hidden return pointer),
 *                  make_pair (rax:rdx), make_mixed (rax + xmm0),
 *                  scale_double (xmm0) and scale_ld (long double, st0)
 *   recurse D      recurse() down to depth D: D nested hooked calls
 *   threads T N    T threads; each calls thread_run once, which calls
 *                  thread_step N times
 *   signal N       N rounds of: raise(SIGUSR1) outside any hooked call,
 *                  then raise_inside(), which raises it from inside; the
 *                  handler calls on_signal once per signal
 *   signal-alt N   the same, with the handler on an alternate signal stack
 *   longjmp N      N calls of jump_middle -> jump_leaf; jump_leaf longjmps
 *                  out of both when i % 3 == 0; then one jump_after call
 *   longjmp-thread N  the same loop in a thread that ends right after it
 *                  (no jump_after: the last call's frames are found dead
 *                  only when the thread exits)
 *   longjmp-exit N the same loop on the main thread, which then exits the
 *                  process from deeper in the stack than the loop ran,
 *                  with no hooked call after it (as a PostgreSQL backend
 *                  whose last statement failed)
 *   sleep N        N calls of nap, which sleeps 10 ms in nanosleep
 *   tailcall N     N calls of tail_enter, which jumps (a tail call) into
 *                  tail_leaf; tail_leaf also called directly when i % 4 == 0
 *
 * Every line printed depends on every argument and return value of the
 * hooked functions, so a register the shim clobbers changes stdout.
 * Hooked functions are noinline + noclone (so calls reach the symbol, not
 * an .isra/.constprop copy); most are static (local .symtab symbols), a few
 * global. Exit status 0; 2 on a usage error.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOKED __attribute__((noinline, noclone))

/* Hides v from the optimizer, so calls are made with values it cannot fold. */
static inline long opaque(long v)
{
	__asm__ volatile("" : "+r"(v));
	return v;
}

/* ---- args: integer registers, stack arguments, varargs with al ---- */

/* 6 arguments in registers, 4 on the stack; each one weighs differently. */
static HOOKED unsigned long ten_args(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
                                     long a9, long a10)
{
	long a[10] = { a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 };
	unsigned long h = 14695981039346656037ul;
	for (int i = 0; i < 10; i++)
		h = (h ^ (unsigned long)a[i]) * 1099511628211ul;
	return h;
}

/* 10 integers, then count pairs of (long, double) varargs: the caller's al
 * says how many vector registers hold arguments, and the callee's prologue
 * saves xmm0-7 for va_arg only when al is not zero. */
HOOKED double mix_varargs(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, long a9,
                          long a10, int count, ...)
{
	double acc = (double)(ten_args(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) % 1000003u);
	va_list ap;
	va_start(ap, count);
	for (int i = 0; i < count; i++) {
		long l = va_arg(ap, long);
		double d = va_arg(ap, double);
		acc = acc * 1.5 + (double)l + d;
	}
	va_end(ap);
	return acc;
}

static void scenario_args(long n)
{
	for (long i = 0; i < n; i++) {
		long b = opaque(i * 17 + 3);
		unsigned long h = ten_args(b, b + 1, b - 2, b * 3, -b, b ^ 0x55, b + 7, b * 11, b - 13, b + 19);
		double d = 0;
		switch (i % 4) {
		case 0: d = mix_varargs(b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0); break;
		case 1: d = mix_varargs(1, b, 3, 4, 5, 6, 7, 8, 9, b, 1, b * 5, 0.25 * (double)b); break;
		case 2: d = mix_varargs(1, 2, b, 4, 5, 6, b, 8, 9, 10, 2, b, 1.0 / 3, -b, 2.5e3); break;
		default:
			d = mix_varargs(b, b, b, b, b, b, b, b, b, b, 3, 1L, (double)b / 7, 2L, -0.125, b, 1e-3 * (double)b);
		}
		printf("args %ld: %lu %.17g\n", i, h, d);
	}
}

/* ---- structs and floating-point returns ---- */

struct big {          /* 56 bytes: MEMORY class, returned through rdi */
	long a, b, c;
	double d;
	char tag[24];
};

struct pair {         /* INTEGER, INTEGER: rax:rdx */
	long lo, hi;
};

struct mixed {        /* INTEGER, SSE: rax and xmm0 */
	long n;
	double x;
};

HOOKED struct big make_big(long a, double d, int k)
{
	struct big r = { a * 3, a ^ k, (long)k << 20, d * (double)k, { 0 } };
	snprintf(r.tag, sizeof r.tag, "big-%ld-%d", a, k);
	return r;
}

static HOOKED struct pair make_pair(long x, long y)
{
	return (struct pair){ x * 31 + y, y * 17 - x };
}

static HOOKED struct mixed make_mixed(long n, double x)
{
	return (struct mixed){ n * n + 1, x * (double)n - 0.5 };
}

static HOOKED double scale_double(double x, long k)
{
	return x * (double)k + 1.0 / (double)(k + 1);
}

/* x is passed in memory, the result comes back in st0. */
static HOOKED long double scale_ld(long double x, long k)
{
	return x * (long double)k / 3.0L + 1.0L / (long double)(k + 7);
}

static void scenario_structs(long n)
{
	for (long i = 0; i < n; i++) {
		long v = opaque(i + 1);
		struct big b = make_big(v * 5, (double)v / 4, (int)(v % 7) + 1);
		struct pair p = make_pair(v, v * 2 - 9);
		struct mixed m = make_mixed(v + 3, (double)v * 0.75);
		double s = scale_double((double)v / 3, v);
		long double l = scale_ld((long double)v / 9, v);
		printf("structs %ld: big %ld %ld %ld %.17g %s pair %ld %ld mixed %ld %.17g double %.17g ld %.21Lg\n", i,
		       b.a, b.b, b.c, b.d, b.tag, p.lo, p.hi, m.n, m.x, s, l);
	}
}

/* ---- recursion ---- */

/*
 * The shim writes a span when a call returns, into a per-thread ring of
 * 1024 records that its exporter drains every 200 ms; a burst of more
 * returns than that is dropped by design. So the unwinding of a deep
 * recursion pauses RECURSE_PAUSE_MS after every RECURSE_PAUSE_EVERY
 * returns, to let the exporter drain the ring.
 */
#define RECURSE_PAUSE_EVERY 900
#define RECURSE_PAUSE_MS 250

static unsigned long recurse_returns;

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Levels level..depth, one hooked call each; the result depends on all. */
static HOOKED unsigned long recurse(unsigned level, unsigned depth)
{
	unsigned long v = level < depth ? recurse(level + 1, depth) : (unsigned long)opaque(level);
	v = v * 31 + level;
	if (++recurse_returns % RECURSE_PAUSE_EVERY == 0)
		pause_ms(RECURSE_PAUSE_MS);
	return v;
}

static void scenario_recurse(long depth)
{
	unsigned long v = recurse(1, (unsigned)depth);
	printf("recurse %ld: %lu after %lu returns\n", depth, v, recurse_returns);
}

/* ---- threads ---- */

#define MAX_THREADS 64

static pthread_barrier_t start_line;
static long calls_per_thread;
static long thread_results[MAX_THREADS];

static HOOKED long thread_step(long tid, long i)
{
	return (tid * 1000003 + i) ^ (i << 7);
}

/* Global: the root of each thread's trace. */
HOOKED long thread_run(long tid, long n)
{
	unsigned long acc = 0; /* wraps: signed overflow would be undefined (UBSan) */
	for (long i = 0; i < n; i++)
		acc = acc * 3 + (unsigned long)thread_step(tid, opaque(i));
	return (long)acc;
}

static void *thread_main(void *arg)
{
	long tid = (long)(intptr_t)arg;
	pthread_barrier_wait(&start_line);
	thread_results[tid] = thread_run(tid, calls_per_thread);
	return NULL;
}

static int scenario_threads(long threads, long n)
{
	if (threads < 1 || threads > MAX_THREADS)
		return 2;
	pthread_t th[MAX_THREADS];
	calls_per_thread = n;
	pthread_barrier_init(&start_line, NULL, (unsigned)threads);
	for (long t = 0; t < threads; t++)
		if (pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	for (long t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	for (long t = 0; t < threads; t++)
		printf("threads %ld: %ld\n", t, thread_results[t]);
	return 0;
}

/* ---- signals ---- */

static volatile long signal_arg, signal_result;

static HOOKED long on_signal(long k)
{
	return k * 7 + 3;
}

static void on_sigusr1(int sig)
{
	signal_result = on_signal(signal_arg) + sig;
}

/* Raises the signal while this hooked call is live. */
static HOOKED long raise_inside(long i)
{
	signal_arg = i + 1000;
	raise(SIGUSR1);
	return signal_result * 2 + i;
}

static int scenario_signal(long n, bool alt_stack)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	if (alt_stack) {
		static char stack[1 << 16];
		stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0 };
		if (sigaltstack(&ss, NULL) != 0) {
			perror("sigaltstack");
			return 1;
		}
		sa.sa_flags = SA_ONSTACK;
	}
	if (sigaction(SIGUSR1, &sa, NULL) != 0) {
		perror("sigaction");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		signal_arg = opaque(i);
		raise(SIGUSR1);
		long outside = signal_result;
		long inside = raise_inside(i);
		printf("signal %ld: outside %ld inside %ld\n", i, outside, inside);
	}
	return 0;
}

/* ---- longjmp ---- */

static jmp_buf jump_target;

static HOOKED long jump_leaf(long i)
{
	if (i % 3 == 0)
		longjmp(jump_target, (int)i + 1);
	return i * 5;
}

HOOKED long jump_middle(long i)
{
	return jump_leaf(opaque(i)) + 1;
}

static HOOKED long jump_after(long total)
{
	return total * 2 + 1;
}

/* n calls of jump_middle, a longjmp back here out of every third; returns a total of the results. */
static long longjmp_loop(long n)
{
	volatile long total = 0;
	for (volatile long i = 0; i < n; i++) {
		int jumped = setjmp(jump_target);
		if (jumped == 0)
			total += jump_middle(i);
		else
			total += 1000L * jumped;
	}
	return total;
}

static void scenario_longjmp(long n)
{
	long total = longjmp_loop(n);
	printf("longjmp %ld: total %ld after %ld\n", n, total, jump_after(total));
}

/* The same loop in a thread that exits right after its last longjmp, with no hooked call after it. */
static void *longjmp_thread_main(void *arg)
{
	*(long *)arg = longjmp_loop(*(long *)arg);
	return NULL;
}

static void scenario_longjmp_thread(long n)
{
	long arg = n;
	pthread_t th;
	if (pthread_create(&th, NULL, longjmp_thread_main, &arg) != 0 || pthread_join(th, NULL) != 0) {
		printf("longjmp-thread: cannot run a thread\n");
		return;
	}
	printf("longjmp-thread %ld: total %ld\n", n, arg);
}

/* Exits from a stack deeper than the loop's, as exit() from a main loop's callee would. */
static __attribute__((noinline)) void exit_from_deeper(long depth)
{
	volatile char pad[512];
	pad[0] = (char)depth;
	if (depth < 0)
		return;
	if (depth == 0) {
		fflush(stdout);
		exit(pad[0]); /* 0 */
	}
	exit_from_deeper(depth - 1);
}

static void scenario_longjmp_exit(long n)
{
	printf("longjmp-exit %ld: total %ld\n", n, longjmp_loop(n));
	exit_from_deeper(4);
}

/* ---- sleeping ---- */

static HOOKED long nap(long i)
{
	pause_ms(10);
	return i * 3 + 1;
}

static void scenario_sleep(long n)
{
	long acc = 0;
	for (long i = 0; i < n; i++)
		acc = acc * 7 + nap(opaque(i));
	printf("sleep %ld: %ld\n", n, acc);
}

/* ---- tail calls: a hooked function jumping into another hooked one ---- */

HOOKED long tail_leaf(long i)
{
	return i * 7 + 3;
}

/*
 * tail_enter(i) is tail_leaf(i + 1), reached by a jmp: written in assembly
 * so that every build, -O0 included, has the tail call. Its first 6 bytes
 * are what the shim's patch displaces, so the jmp runs from the original
 * body at the stack pointer tail_enter was entered with.
 */
long tail_enter(long i);
__asm__(".text\n"
        ".globl tail_enter\n"
        ".type tail_enter, @function\n"
        "tail_enter:\n"
        "\t.cfi_startproc\n"
        "\taddq $1, %rdi\n"
        "\txorl %eax, %eax\n"
        "\tjmp tail_leaf\n"
        "\t.cfi_endproc\n"
        ".size tail_enter, .-tail_enter\n");

static void scenario_tailcall(long n)
{
	unsigned long acc = 0; /* wraps: unsigned */
	for (long i = 0; i < n; i++) {
		acc = acc * 3 + (unsigned long)tail_enter(opaque(i));
		if (i % 4 == 0)
			acc -= (unsigned long)tail_leaf(opaque(i));
	}
	printf("tailcall %ld: %lu\n", n, acc);
}

static long arg_or(int argc, char **argv, int i, long fallback)
{
	return argc > i ? strtol(argv[i], NULL, 10) : fallback;
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	long a = arg_or(argc, argv, 2, 10), b = arg_or(argc, argv, 3, 10);
	int rc = 0;
	if (strcmp(s, "args") == 0)
		scenario_args(a);
	else if (strcmp(s, "structs") == 0)
		scenario_structs(a);
	else if (strcmp(s, "recurse") == 0)
		scenario_recurse(a);
	else if (strcmp(s, "threads") == 0)
		rc = scenario_threads(a, b);
	else if (strcmp(s, "signal") == 0)
		rc = scenario_signal(a, false);
	else if (strcmp(s, "signal-alt") == 0)
		rc = scenario_signal(a, true);
	else if (strcmp(s, "longjmp") == 0)
		scenario_longjmp(a);
	else if (strcmp(s, "longjmp-thread") == 0)
		scenario_longjmp_thread(a);
	else if (strcmp(s, "longjmp-exit") == 0)
		scenario_longjmp_exit(a);
	else if (strcmp(s, "sleep") == 0)
		scenario_sleep(a);
	else if (strcmp(s, "tailcall") == 0)
		scenario_tailcall(a);
	else {
		fprintf(stderr, "usage: %s args|structs|recurse|threads|signal|signal-alt|longjmp|longjmp-thread|longjmp-exit|sleep|tailcall [N [N]]\n",
		        argv[0]);
		return 2;
	}
	return rc;
}
