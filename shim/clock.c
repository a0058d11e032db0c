/* SPDX-License-Identifier: MIT */
/*
 * clock.c: the time source behind clock_now() and the mapping of its ticks
 * to nanoseconds and to CLOCK_REALTIME.
 *
 * How it works. clock_init() reads the first "flags" line of /proc/cpuinfo
 * (open/read, no stdio) and uses the TSC only if both constant_tsc (fixed
 * rate) and nonstop_tsc (keeps counting in deep C-states) are present.
 * It then takes a sample (tsc, CLOCK_MONOTONIC, CLOCK_REALTIME), spins for
 * CALIBRATION_NS, and takes another: the rate is delta monotonic ns over
 * delta ticks. Each sample is the best of a few tries, the one whose two
 * rdtsc reads around the clock_gettime calls are closest together, and its
 * tick value is their midpoint: the error per sample is then a few tens of
 * ns, so a 3 ms baseline gives the rate to about 1e-5 and every later
 * clock_recalibrate(), measuring from the same first sample, improves it in
 * proportion to the time since init (1e-8 after a second, and so on).
 *
 * The mapping is unix_ns(t) = base_unix + ((t - base_ticks) * mult >> shift)
 * with a 64x64->128-bit multiply: mult is ns per tick scaled by 2^shift,
 * shift as large as possible (<= 64) with mult < 2^63, so the fixed-point
 * error is ~2^-63 relative, far below the measurement error. Each
 * calibration anchors base_ticks/base_unix at the sample it just took, so
 * the mapping is exact at that instant and only the rate error accumulates
 * from there. For the monotonic source, ticks are nanoseconds: mult = 1,
 * shift = 0, and base_unix - base_ticks is the realtime-minus-monotonic
 * offset, refreshed by each clock_recalibrate() (which also follows steps
 * of the wall clock).
 *
 * Publication: a seqlock over atomic fields. Writers (clock_init and the
 * exporter's clock_recalibrate) take the sequence from even to odd with a
 * compare-and-swap (so even two concurrent writers cannot interleave),
 * store the fields, and release it even again; readers retry while the
 * sequence is odd or changed across their reads. The hot path never reads
 * the mapping: clock_now() only reads clock_use_tsc.
 */
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Spin length of clock_init's calibration: long enough to bound the rate
 * error near 1e-5, short enough not to delay the host's start-up. */
#define CALIBRATION_NS 3000000
/* Tries per sample; the tightest rdtsc bracket wins. */
#define SAMPLE_TRIES 7

bool clock_use_tsc;

/* One simultaneous reading of the three clocks. */
struct sample {
	uint64_t ticks; /* tsc, or monotonic ns for the monotonic source */
	uint64_t mono_ns;
	uint64_t real_ns;
};

/* The published mapping and its sequence (odd while being written). The
 * initial value makes conversions usable before clock_init: the source is
 * then monotonic (clock_use_tsc false) and unix conversion lacks only the
 * wall-clock offset. */
static _Atomic uint64_t map_seq;
static _Atomic uint64_t map_base_ticks;
static _Atomic uint64_t map_base_unix;
static _Atomic uint64_t map_mult = 1;
static _Atomic uint64_t map_shift;

/* Written only by clock_init: the source and the first sample, the start of
 * every later rate measurement. */
static enum clock_source source = CLOCK_SOURCE_MONOTONIC;
static struct sample first;

struct mapping {
	uint64_t base_ticks, base_unix, mult;
	unsigned shift;
};

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_ns(&ts);
}

#if defined(__x86_64__)
/* rdtsc that does not start before earlier instructions finish, for the
 * calibration brackets (the hot path's clock_now does not need it). */
static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}
#endif

static struct sample take_sample(bool tsc)
{
	struct sample best = { 0, 0, 0 };
	uint64_t best_width = UINT64_MAX;
	struct timespec m, r;

	for (int i = 0; i < SAMPLE_TRIES; i++) {
		uint64_t a, b;
#if defined(__x86_64__)
		if (tsc) {
			a = rdtsc_ordered();
			clock_gettime(CLOCK_MONOTONIC, &m);
			clock_gettime(CLOCK_REALTIME, &r);
			b = rdtsc_ordered();
		} else
#endif
		{
			(void)tsc;
			/* The bracket is monotonic ns itself; what it bounds
			 * here is the realtime-minus-monotonic offset. */
			clock_gettime(CLOCK_MONOTONIC, &m);
			clock_gettime(CLOCK_REALTIME, &r);
			struct timespec m2;
			clock_gettime(CLOCK_MONOTONIC, &m2);
			a = ts_ns(&m);
			b = ts_ns(&m2);
		}
		if (b - a < best_width) {
			best_width = b - a;
			/* The two readings sit in the middle of the bracket. */
			best.ticks = a + (b - a) / 2;
			best.mono_ns = ts_ns(&m);
			best.real_ns = ts_ns(&r);
			if (!tsc) {
				/* Place both at the bracket's midpoint. */
				best.real_ns += best.ticks - best.mono_ns;
				best.mono_ns = best.ticks;
			}
		}
	}
	return best;
}

/*
 * mult/shift for ns / ticks: shift as large as possible (at most 64) such
 * that mult < 2^63, so (delta * mult) fits in 128 bits for any 64-bit delta.
 * Returns false if the interval
 * is unusable (no ticks or no time elapsed).
 */
static bool rate(uint64_t ns, uint64_t ticks, uint64_t *mult, unsigned *shift)
{
	if (ticks == 0 || ns == 0)
		return false;
	/* ns < 2^64 and s <= 64, so ns << s always fits in 128 bits. */
	for (int s = 64; s >= 0; s--) {
		unsigned __int128 q = ((unsigned __int128)ns << s) / ticks;
		if (q < ((unsigned __int128)1 << 63)) {
			if (q == 0)
				return false;
			*mult = (uint64_t)q;
			*shift = (unsigned)s;
			return true;
		}
	}
	return false; /* > 2^63 ns per tick: not a clock */
}

static void publish(const struct mapping *m)
{
	uint64_t seq = atomic_load_explicit(&map_seq, memory_order_relaxed);
	/* Take the write side: even -> odd. */
	for (;;) {
		if ((seq & 1) == 0 &&
		    atomic_compare_exchange_weak_explicit(&map_seq, &seq, seq + 1, memory_order_acquire,
							  memory_order_relaxed))
			break;
		if (seq & 1)
			seq = atomic_load_explicit(&map_seq, memory_order_relaxed);
	}
	/* Readers that see any field store below must see the odd sequence. */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&map_base_ticks, m->base_ticks, memory_order_relaxed);
	atomic_store_explicit(&map_base_unix, m->base_unix, memory_order_relaxed);
	atomic_store_explicit(&map_mult, m->mult, memory_order_relaxed);
	atomic_store_explicit(&map_shift, m->shift, memory_order_relaxed);
	atomic_store_explicit(&map_seq, seq + 2, memory_order_release);
}

static struct mapping read_mapping(void)
{
	struct mapping m;
	uint64_t s1, s2;

	do {
		s1 = atomic_load_explicit(&map_seq, memory_order_acquire);
		m.base_ticks = atomic_load_explicit(&map_base_ticks, memory_order_relaxed);
		m.base_unix = atomic_load_explicit(&map_base_unix, memory_order_relaxed);
		m.mult = atomic_load_explicit(&map_mult, memory_order_relaxed);
		m.shift = (unsigned)atomic_load_explicit(&map_shift, memory_order_relaxed);
		/* The field loads complete before the second sequence load. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&map_seq, memory_order_relaxed);
	} while ((s1 & 1) || s1 != s2);
	return m;
}

static uint64_t scale(uint64_t ticks, const struct mapping *m)
{
	return (uint64_t)(((unsigned __int128)ticks * m->mult) >> m->shift);
}

/* ---- /proc/cpuinfo ---- */

/* Whether the space-separated word list [p, end) contains word. */
static bool has_word(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *w = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - w) == n && memcmp(w, word, n) == 0)
			return true;
	}
	return false;
}

/*
 * True if the first "flags" line lists both constant_tsc and nonstop_tsc.
 * The first processor's block is enough (the kernel reports the common
 * capabilities); a line longer than the buffer counts as absent.
 */
static bool tsc_invariant(void)
{
	static char buf[32768];
	size_t len = 0;
	int fd;

	do
		fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return false;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		/* Stop once the flags line is complete. */
		const char *f = strstr(buf, "\nflags");
		if ((f && strchr(f + 1, '\n')) || len == sizeof buf - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';

	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (!nl)
			break; /* incomplete line */
		if (strncmp(line, "flags", 5) == 0 && (line[5] == ' ' || line[5] == '\t' || line[5] == ':')) {
			char *colon = memchr(line, ':', (size_t)(nl - line));
			if (!colon)
				return false;
			return has_word(colon + 1, nl, "constant_tsc") && has_word(colon + 1, nl, "nonstop_tsc");
		}
		line = nl + 1;
	}
	return false;
}

/* ---- the contract ---- */

/*
 * Meant to run once, before any hooked call. Tests call it again to switch
 * sources; that is safe only with no other thread using the clock.
 */
enum clock_source clock_init(bool force_monotonic)
{
	bool tsc = false;
#if defined(__x86_64__)
	tsc = !force_monotonic && tsc_invariant();
#else
	(void)force_monotonic;
#endif
	struct mapping m = { 0, 0, 1, 0 };

	if (tsc) {
		struct sample a = take_sample(true), b;
		do
			b = take_sample(true);
		while (b.mono_ns - a.mono_ns < CALIBRATION_NS);
		if (!rate(b.mono_ns - a.mono_ns, b.ticks - a.ticks, &m.mult, &m.shift))
			tsc = false; /* the TSC did not move: do not trust it */
		else {
			first = a;
			m.base_ticks = b.ticks;
			m.base_unix = b.real_ns;
		}
	}
	if (!tsc) {
		struct sample a = take_sample(false);
		first = a;
		m = (struct mapping){ a.ticks, a.real_ns, 1, 0 };
	}
	source = tsc ? CLOCK_SOURCE_TSC : CLOCK_SOURCE_MONOTONIC;
	publish(&m);
	/* Last: hooked calls start using the TSC only once it is calibrated. */
	__atomic_store_n(&clock_use_tsc, tsc, __ATOMIC_RELEASE);
	return source;
}

enum clock_source clock_source(void)
{
	return source;
}

void clock_recalibrate(void)
{
	bool tsc = source == CLOCK_SOURCE_TSC;
	struct sample now = take_sample(tsc);
	struct mapping m = { now.ticks, now.real_ns, 1, 0 };

	/* The rate over the whole time since init; the monotonic source's
	 * rate is 1 by definition, only its offset is refreshed. */
	if (tsc && !rate(now.mono_ns - first.mono_ns, now.ticks - first.ticks, &m.mult, &m.shift))
		return; /* nothing usable: keep the mapping we have */
	publish(&m);
}

void clock_after_fork_child(void)
{
	uint64_t seq = atomic_load_explicit(&map_seq, memory_order_relaxed);
	if ((seq & 1) == 0)
		return;
	/* Release the dead writer's side, then overwrite the fields it may
	 * have left half-written. */
	atomic_store_explicit(&map_seq, seq + 1, memory_order_release);
	clock_recalibrate();
}

uint64_t clock_ticks_to_ns(uint64_t ticks)
{
	struct mapping m = read_mapping();
	return scale(ticks, &m);
}

uint64_t clock_ticks_to_unix_ns(uint64_t ticks)
{
	struct mapping m = read_mapping();
	if (ticks >= m.base_ticks)
		return m.base_unix + scale(ticks - m.base_ticks, &m);
	return m.base_unix - scale(m.base_ticks - ticks, &m);
}
