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
 * error is ~2^-63 relative, far below the measurement error. clock_init
 * anchors base_ticks/base_unix at the sample it took. For the monotonic
 * source, ticks are nanoseconds (mult = 2^32, shift = 32: a rate of 1 that
 * slewing can nudge), and base_unix - base_ticks is the realtime-minus-
 * monotonic offset.
 *
 * Continuity. Spans are converted when they are exported, in whichever
 * drain takes them: a parent in one, its child in the next. A mapping that
 * jumped at each recalibration (by a sample's error, tens of ns) could then
 * put a child before its parent. So clock_recalibrate() starts its new
 * segment where the current one is at that instant, with the newly
 * measured rate, and slews away the distance to the wall clock it sees:
 * the rate is changed by offset / CLOCK_SLEW_NS (at most 0.1%) until the
 * next recalibration measures again. Only an offset beyond CLOCK_STEP_NS
 * (the wall clock was set) is stepped. The last CLOCK_SEGMENTS segments are
 * kept, each for the ticks from its base to the next one's, so a tick
 * maps to the same time whenever it is converted and the mapping is one
 * continuous, increasing function over them (about 13 s of history at the
 * exporter's 200 ms); an older tick extrapolates the oldest segment.
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

/* The published segments and their sequence (odd while being written).
 * Before clock_init (no segment) conversions use a rate of 1 and no
 * offset: the source is then monotonic (clock_use_tsc false) and unix
 * conversion lacks only the wall-clock offset. Segment i lives in slot
 * i % CLOCK_SEGMENTS; its fields are read and written with relaxed atomics
 * under the sequence. */
#define CLOCK_SEGMENTS 64
static _Atomic uint64_t map_seq;
static _Atomic uint64_t map_count; /* segments published since clock_init */
static struct mapping_slot {
	_Atomic uint64_t base_ticks, base_unix, mult, shift;
} map_slots[CLOCK_SEGMENTS];

/* An offset from the wall clock beyond this is stepped (the clock was set), not slewed. */
#define CLOCK_STEP_NS 1000000
/* A measured offset is slewed away at offset / CLOCK_SLEW_NS of the rate. */
#define CLOCK_SLEW_NS 1000000000

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

/* Appends segment m (reset: it becomes the only one). */
static void publish(const struct mapping *m, bool reset)
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
	uint64_t n = reset ? 0 : atomic_load_explicit(&map_count, memory_order_relaxed);
	struct mapping_slot *slot = &map_slots[n % CLOCK_SEGMENTS];
	atomic_store_explicit(&slot->base_ticks, m->base_ticks, memory_order_relaxed);
	atomic_store_explicit(&slot->base_unix, m->base_unix, memory_order_relaxed);
	atomic_store_explicit(&slot->mult, m->mult, memory_order_relaxed);
	atomic_store_explicit(&slot->shift, m->shift, memory_order_relaxed);
	atomic_store_explicit(&map_count, n + 1, memory_order_relaxed);
	atomic_store_explicit(&map_seq, seq + 2, memory_order_release);
}

static struct mapping load_slot(uint64_t i)
{
	const struct mapping_slot *slot = &map_slots[i % CLOCK_SEGMENTS];
	return (struct mapping){
		atomic_load_explicit(&slot->base_ticks, memory_order_relaxed),
		atomic_load_explicit(&slot->base_unix, memory_order_relaxed),
		atomic_load_explicit(&slot->mult, memory_order_relaxed),
		(unsigned)atomic_load_explicit(&slot->shift, memory_order_relaxed),
	};
}

/*
 * The segment that covers ticks (the last one based at or before it; the
 * oldest kept for older ticks), or with ticks == UINT64_MAX the newest.
 */
static struct mapping read_mapping_for(uint64_t ticks)
{
	struct mapping m;
	uint64_t s1, s2;

	do {
		s1 = atomic_load_explicit(&map_seq, memory_order_acquire);
		uint64_t n = atomic_load_explicit(&map_count, memory_order_relaxed);
		if (n == 0) {
			m = (struct mapping){ 0, 0, 1, 0 };
		} else {
			/* the last i in [lo, n) with base <= ticks (bases increase with i) */
			uint64_t lo = n > CLOCK_SEGMENTS ? n - CLOCK_SEGMENTS : 0, hi = n;
			while (hi - lo > 1) {
				uint64_t mid = lo + (hi - lo) / 2;
				if (atomic_load_explicit(&map_slots[mid % CLOCK_SEGMENTS].base_ticks,
				                         memory_order_relaxed) <= ticks)
					lo = mid;
				else
					hi = mid;
			}
			m = load_slot(lo);
		}
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

static uint64_t to_unix(const struct mapping *m, uint64_t ticks)
{
	if (ticks >= m->base_ticks)
		return m->base_unix + scale(ticks - m->base_ticks, m);
	return m->base_unix - scale(m->base_ticks - ticks, m);
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
	struct mapping m = { 0, 0, 1ull << 32, 32 };

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
		m = (struct mapping){ a.ticks, a.real_ns, 1ull << 32, 32 };
	}
	source = tsc ? CLOCK_SOURCE_TSC : CLOCK_SOURCE_MONOTONIC;
	publish(&m, true);
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
	struct mapping m = { now.ticks, now.real_ns, 1ull << 32, 32 };

	/* The rate over the whole time since init; the monotonic source's
	 * rate is 1 by definition, only its offset is followed. */
	if (tsc && !rate(now.mono_ns - first.mono_ns, now.ticks - first.ticks, &m.mult, &m.shift))
		return; /* nothing usable: keep the mapping we have */
	/* Continuous with the current segment, slewing toward the wall clock
	 * (see the top of this file); a larger offset is a step. */
	struct mapping old = read_mapping_for(now.ticks);
	uint64_t here = to_unix(&old, now.ticks);
	int64_t offset = (int64_t)(now.real_ns - here);
	if (offset > -CLOCK_STEP_NS && offset < CLOCK_STEP_NS) {
		m.base_unix = here;
		__int128 nudge = (__int128)m.mult * offset / CLOCK_SLEW_NS;
		m.mult = (uint64_t)((__int128)m.mult + nudge);
	}
	publish(&m, false);
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
	struct mapping m = read_mapping_for(UINT64_MAX);
	return scale(ticks, &m);
}

uint64_t clock_ticks_to_unix_ns(uint64_t ticks)
{
	struct mapping m = read_mapping_for(ticks);
	return to_unix(&m, ticks);
}
