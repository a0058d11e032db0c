/* SPDX-License-Identifier: MIT */
/*
 * hotpath.c: the enter/exit handlers (contract in hotpath.h and
 * hook_engine.h).
 *
 * Design, and why:
 *  - Thread state lives in one anonymous mapping per thread, reached
 *    through an initial-exec TLS pointer (one load per call). It is
 *    created lazily at the thread's first timed call: mmap (state) +
 *    mmap (ring) + getrandom (id seed), all async-signal-safe, so the
 *    first call may even be in a signal handler. Then it is pushed on a
 *    global singly linked list with a CAS; nothing is ever unlinked or
 *    freed, so the exporter can walk the list without locks at any time.
 *  - The span stack is indexed by the hook engine's call->depth: the
 *    engine pushes a frame exactly when enter returns true and pops it
 *    (with exit, possibly unwound) in LIFO order, so stack[depth - 1]
 *    is always the caller's span. No depth bookkeeping of our own.
 *  - Sampling: a root asks the sampler; children copy the root's
 *    decision. Rate limiting is GCRA (a token bucket written as one
 *    atomic "theoretical arrival time" in ticks): a root is admitted when
 *    tat <= now + burst, and then tat advances by one interval. One CAS per
 *    root, no lock. Every call (sampled or not) is counted.
 *  - Everything below "hot path" is compiled general-regs-only (the
 *    handlers run between a hooked function's caller and its body, with
 *    floating-point arguments live in xmm registers), writes the 256-byte
 *    record field by field (no memcpy/memset calls, which use vector
 *    registers), and calls only functions checked to be vector-free:
 *    ring_reserve/ring_publish, trace_ids_new_*, histogram_record,
 *    clock_ticks_to_ns (and, at thread setup, ring_init, histogram_reset,
 *    mmap, getrandom).
 *  - Floating point (rates, ratios) is used only in hotpath_init, which
 *    converts them to integers in ticks.
 */
#define _GNU_SOURCE
#include "hotpath.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "capture_value.h"
#include "clock.h"
#include "hot_capture.h"
#include "safe_read.h"
#include "span_record.h"
#include "stacktrace.h"
#include "trace_ids.h"

/* One entry of the span stack: a live timed call on this thread. */
struct span_frame {
	uint64_t trace_hi, trace_lo; /* big-endian halves as stored in trace_id */
	uint64_t span_id;            /* raw 8 bytes, as stored in span_id */
	uint64_t parent_id;          /* raw 8 bytes; 0 for a root */
	uint64_t start;              /* clock_now() at entry */
	uint32_t sampled;
	/* Captures (hooks with [[hook.arg]] or a memory [hook.error] only):
	 * values read at entry, or the argument to finish at exit. */
	uint8_t unreadable_mask;     /* bit per capture: its memory could not be read */
	uint8_t truncated;           /* a string did not fit */
	uint16_t text_used;
	uint64_t captures[CONFIG_MAX_CAPTURES];
	uint64_t error_base;         /* the [hook.error] argument, when it is read through memory */
	char text[SPAN_TEXT_BYTES];  /* captured strings */
};

_Static_assert(CONFIG_MAX_CAPTURES == SPAN_MAX_CAPTURES, "a record holds every capture of a hook");

/* One series slot (hotpath.h): free while hash is 0. */
struct hotpath_series {
	_Atomic uint64_t hash;       /* published last, with release */
	struct hotpath_series_key key;
	struct hotpath_series_stats stats;
};

struct hotpath_thread {
	struct hotpath_thread *next;  /* written before the thread is published */
	struct trace_id_state ids;
	_Atomic uint64_t sampled;     /* sampled calls (relaxed, owner writes); calls and errors are per hook */
	struct ring ring;
	struct span_frame stack[HOOK_MAX_DEPTH];
	struct capture_memo memo;     /* `stable` captures' values (hot_capture.h) */
	struct hotpath_series *series;   /* HOTPATH_SERIES_PER_THREAD slots, in this mapping */
	struct hotpath_series *overflow; /* nhooks, in this mapping */
	struct hotpath_hook_stats hooks[]; /* nhooks */
};

/* What the hot path needs of a hook's captures: filled by hotpath_init, read-only after. */
struct hot_hook {
	uint8_t ncaptures;
	uint8_t has_series;      /* a tag or metric capture: keep per-tag-values series */
	uint8_t has_error_source;/* [hook.error] reads an argument's memory at return */
	uint8_t at_exit_mask;    /* bit per capture read at return: none when the call does not return */
	struct hot_capture captures[CONFIG_MAX_CAPTURES];
	struct hot_capture error;
};

/* What the hot path needs of a target: filled by hotpath_init, read-only after. */
struct hot_target {
	uint32_t hook_index;
	uint8_t error_when;  /* enum error_when */
	uint8_t error_type;  /* enum capture_type */
	int64_t error_value;
};

static struct {
	struct hot_target *targets;
	size_t ntargets;          /* published with a release store: dlopen appends */
	size_t nhooks;
	struct hot_hook *hooks;   /* nhooks: captures compiled from the config */
	size_t series_offset, overflow_offset; /* in a thread's mapping */
	size_t ring_capacity;
	size_t state_size;
	enum sampler sampler;
	uint64_t interval_ticks;  /* rate limit: ticks per admitted trace; 0 = none admitted */
	uint64_t burst_ticks;     /* rate limit: how far tat may run ahead of now */
	uint64_t ratio_threshold; /* trace id ratio: sample when low 64 bits < this */
	bool ratio_all;           /* ratio >= 1 */
	uint64_t ns_per_tick_q32; /* nanoseconds per tick, 32.32 fixed point */
	_Atomic uint64_t tat;     /* GCRA theoretical arrival time, ticks */
	_Atomic(struct hotpath_thread *) threads;
} hp;

static __thread struct hotpath_thread *tls_state __attribute__((tls_model("initial-exec")));
static __thread bool tls_excluded __attribute__((tls_model("initial-exec")));
static __thread bool tls_setup_failed __attribute__((tls_model("initial-exec")));

int hotpath_add_targets(const struct stdbtel_config *cfg, const struct target *items, size_t n)
{
	size_t have = hp.ntargets;
	if (hp.targets == NULL || n > TARGETS_MAX - have)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct hook_config *h = &cfg->hooks[items[i].hook_index];
		hp.targets[have + i] = (struct hot_target){
			.hook_index = (uint32_t)items[i].hook_index,
			.error_when = (uint8_t)h->error_when,
			.error_type = (uint8_t)h->error_type,
			.error_value = h->error_value,
		};
	}
	/* Published before any patch makes the new ids reachable (x86-64
	 * keeps store order, and the patch is written after this store). */
	__atomic_store_n(&hp.ntargets, have + n, __ATOMIC_RELEASE);
	return 0;
}

int hotpath_init(const struct stdbtel_config *cfg, const struct target_set *targets, size_t ring_capacity)
{
	/* Room for every target the process may ever hook (dlopen adds more):
	 * the hot path indexes this array without a lock, so it never moves. */
	hp.targets = calloc(TARGETS_MAX, sizeof *hp.targets);
	if (hp.targets == NULL)
		return -1;
	hp.ntargets = 0;
	if (hotpath_add_targets(cfg, targets->items, targets->count) != 0)
		return -1;
	hp.nhooks = cfg->nhooks;
	hp.hooks = calloc(cfg->nhooks ? cfg->nhooks : 1, sizeof *hp.hooks);
	if (hp.hooks == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nhooks; i++) {
		const struct hook_config *h = &cfg->hooks[i];
		struct hot_hook *hh = &hp.hooks[i];
		hh->ncaptures = (uint8_t)(h->ncaptures < CONFIG_MAX_CAPTURES ? h->ncaptures : CONFIG_MAX_CAPTURES);
		for (size_t c = 0; c < hh->ncaptures; c++) {
			hot_capture_compile(&h->captures[c], &hh->captures[c]);
			if (hh->captures[c].uses & (HOT_CAPTURE_TAG | HOT_CAPTURE_METRIC))
				hh->has_series = 1;
			if (hh->captures[c].at_exit)
				hh->at_exit_mask |= (uint8_t)(1u << c);
		}
		hh->has_error_source = hot_capture_compile_error(h, &hh->error);
	}
	safe_read_init();
	hp.ring_capacity = ring_capacity;
	/* One mapping per thread: state, per-hook stats, series slots, overflow series. */
	size_t align = _Alignof(struct hotpath_series);
	size_t base = sizeof(struct hotpath_thread) + cfg->nhooks * sizeof(struct hotpath_hook_stats);
	hp.series_offset = (base + align - 1) / align * align;
	hp.overflow_offset = hp.series_offset + HOTPATH_SERIES_PER_THREAD * sizeof(struct hotpath_series);
	hp.state_size = hp.overflow_offset + cfg->nhooks * sizeof(struct hotpath_series);
	hp.sampler = cfg->sampler;

	/* Ticks per second, measured through the calibrated conversion. */
	uint64_t probe = 1ull << 32;
	uint64_t probe_ns = clock_ticks_to_ns(probe);
	hp.ns_per_tick_q32 = probe_ns; /* ns for 2^32 ticks = ns per tick << 32 */
	double ticks_per_sec = probe_ns ? (double)probe * 1e9 / (double)probe_ns : 1e9;
	double rate = cfg->traces_per_second;
	if (rate > 0) {
		double interval = ticks_per_sec / rate;
		hp.interval_ticks = interval < 1 ? 1 : (uint64_t)interval;
		/* Burst: up to one second's worth of traces at once (at least one). */
		double burst = ticks_per_sec - interval;
		hp.burst_ticks = burst < 0 ? 0 : (uint64_t)burst;
	}
	double ratio = cfg->sampler_ratio;
	hp.ratio_all = ratio >= 1.0;
	hp.ratio_threshold = ratio <= 0 ? 0 : hp.ratio_all ? UINT64_MAX : (uint64_t)(ratio * 18446744073709551616.0);
	atomic_store_explicit(&hp.tat, 0, memory_order_relaxed);
	return 0;
}

void hotpath_exclude_this_thread(void)
{
	tls_excluded = true;
}

/*
 * Fork child. The other threads' states are unlinked, not unmapped: those
 * threads do not exist here and never produce again, and pages left
 * untouched stay shared with the parent (resetting them would copy each
 * thread's histograms into every child). Unmapping would also be unsafe
 * if fork ran in a signal handler that interrupted this thread's
 * thread_setup() between its publishing CAS and tls_state: the resumed
 * setup would keep a pointer to the unmapped state. In that corner case
 * the state stays mapped, off the list: its spans in this child are not
 * exported, nothing worse.
 *
 * A hooked call live across fork (fork called inside a hooked function)
 * returns twice, once in each process, and each return writes a span from
 * the same stack entry. The parent's keeps the original ids. In the child
 * each live sampled entry gets a new span id, so no id appears twice in
 * traces_file: the outermost such span becomes a child of the original
 * (the parent process's span of the same call), each deeper one a child
 * of the copy below it, and calls the child makes inside them nest under
 * the copies. A copy starts when the call started in the parent.
 */
size_t hotpath_after_fork_child(void)
{
	/* First, whatever this thread has: captures read the child's memory
	 * from now on, not the parent's (a postmaster forks before it makes
	 * any hooked call, and its backends capture). */
	safe_read_init();
	struct hotpath_thread *t = tls_state;
	if (t == NULL) {
		atomic_store_explicit(&hp.threads, NULL, memory_order_release);
		return 0;
	}
	t->next = NULL;
	atomic_store_explicit(&hp.threads, t, memory_order_release);
	size_t discarded = ring_discard(&t->ring); /* the parent writes those records itself */
	atomic_store_explicit(&t->sampled, 0, memory_order_relaxed);
	for (size_t i = 0; i < hp.nhooks; i++) {
		__atomic_store_n(&t->hooks[i].errors, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&t->hooks[i].unreadable, 0, __ATOMIC_RELAXED);
		histogram_reset(&t->hooks[i].duration);
		atomic_store_explicit(&t->overflow[i].hash, 0, memory_order_relaxed);
	}
	for (size_t i = 0; i < HOTPATH_SERIES_PER_THREAD; i++)
		atomic_store_explicit(&t->series[i].hash, 0, memory_order_relaxed); /* re-initialised when claimed */
	trace_ids_seed(&t->ids); /* else the child repeats the parent's ids */

	/* The entries live now are stack[0, depth): the engine counts exactly
	 * the entries whose enter returned true (hotpath.c's own invariant). */
	struct hook_thread_stats hs;
	hook_engine_thread_stats(&hs);
	uint32_t live = hs.depth < HOOK_MAX_DEPTH ? hs.depth : HOOK_MAX_DEPTH;
	for (uint32_t d = 0; d < live; d++) {
		struct span_frame *f = &t->stack[d];
		if (!f->sampled)
			continue; /* children copy sampled, so deeper ones are unsampled too */
		f->parent_id = d == 0 ? f->span_id : t->stack[d - 1].span_id;
		uint8_t sid[8];
		trace_ids_new_span_id(&t->ids, sid);
		__builtin_memcpy(&f->span_id, sid, 8);
	}
	return discarded;
}

struct hotpath_thread *hotpath_threads(void)
{
	return atomic_load_explicit(&hp.threads, memory_order_acquire);
}

struct hotpath_thread *hotpath_thread_next(const struct hotpath_thread *t)
{
	return t->next;
}

struct ring *hotpath_thread_ring(struct hotpath_thread *t)
{
	return &t->ring;
}

const struct hotpath_hook_stats *hotpath_thread_hook_stats(const struct hotpath_thread *t)
{
	return t->hooks;
}

void hotpath_hook_totals(size_t hook_index, struct hotpath_hook_stats *out)
{
	out->errors = 0;
	out->unreadable = 0;
	histogram_reset(&out->duration);
	if (hook_index >= hp.nhooks)
		return;
	for (struct hotpath_thread *t = hotpath_threads(); t != NULL; t = t->next) {
		const struct hotpath_hook_stats *hs = &t->hooks[hook_index];
		out->errors += __atomic_load_n(&hs->errors, __ATOMIC_RELAXED);
		out->unreadable += __atomic_load_n(&hs->unreadable, __ATOMIC_RELAXED);
		histogram_add(&out->duration, &hs->duration);
	}
}

void hotpath_totals(struct hotpath_totals *out)
{
	*out = (struct hotpath_totals){ 0 };
	for (struct hotpath_thread *t = hotpath_threads(); t != NULL; t = t->next) {
		for (size_t i = 0; i < hp.nhooks; i++) {
			out->calls += __atomic_load_n(&t->hooks[i].duration.count, __ATOMIC_RELAXED);
			out->errors += __atomic_load_n(&t->hooks[i].errors, __ATOMIC_RELAXED);
			out->unreadable += __atomic_load_n(&t->hooks[i].unreadable, __ATOMIC_RELAXED);
		}
		out->sampled += atomic_load_explicit(&t->sampled, memory_order_relaxed);
		out->dropped += ring_dropped(&t->ring);
		out->threads++;
	}
}

static void series_visit(const struct hotpath_series *sr,
                         void (*fn)(void *, const struct hotpath_series_key *, const struct hotpath_series_stats *),
                         void *ctx)
{
	if (atomic_load_explicit(&sr->hash, memory_order_acquire) == 0 || sr->key.hook_index >= hp.nhooks)
		return;
	fn(ctx, &sr->key, &sr->stats);
}

void hotpath_series_foreach(void (*fn)(void *ctx, const struct hotpath_series_key *key,
                                       const struct hotpath_series_stats *stats),
                            void *ctx)
{
	for (struct hotpath_thread *t = hotpath_threads(); t != NULL; t = t->next) {
		for (size_t i = 0; i < HOTPATH_SERIES_PER_THREAD; i++)
			series_visit(&t->series[i], fn, ctx);
		for (size_t i = 0; i < hp.nhooks; i++)
			series_visit(&t->overflow[i], fn, ctx);
	}
}

/* ---- hot path ---- */

#pragma GCC push_options
#pragma GCC target("general-regs-only")

/*
 * clock_now() as compiled here: GCC inlines no default-target function
 * (clock.h's clock_now) into a general-regs-only one, and the out-of-line
 * copy it calls instead costs a call and the registers saved around it,
 * twice per hooked call. Same source choice as clock_now.
 */
static inline __attribute__((always_inline)) uint64_t hot_clock_now(void)
{
	if (__builtin_expect(clock_use_tsc, 1)) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); /* volatile: not moved nor dropped */
		return ((uint64_t)hi << 32) | lo;
	}
	return clock_monotonic_ns();
}

/* Lazy per-thread setup: async-signal-safe, at most once per thread. */
static __attribute__((noinline)) struct hotpath_thread *thread_setup(void)
{
	if (tls_setup_failed || hp.state_size == 0)
		return NULL;
	/* NORESERVE: the span stack (HOOK_MAX_DEPTH entries) is backed only as deep as calls go */
	void *p = mmap(NULL, hp.state_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		tls_setup_failed = true;
		return NULL;
	}
	struct hotpath_thread *t = p; /* zero-filled */
	t->series = (struct hotpath_series *)((char *)p + hp.series_offset);
	t->overflow = (struct hotpath_series *)((char *)p + hp.overflow_offset);
	if (ring_init(&t->ring, hp.ring_capacity) != 0) {
		munmap(p, hp.state_size);
		tls_setup_failed = true;
		return NULL;
	}
	for (size_t i = 0; i < hp.nhooks; i++)
		histogram_reset(&t->hooks[i].duration);
	uint64_t seed[4] = { 0, 0, 0, 0 };
	if (getrandom(seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed &&
	    (seed[0] | seed[1] | seed[2] | seed[3]) != 0) {
		for (int i = 0; i < 4; i++)
			t->ids.s[i] = seed[i];
	} else {
		/* Distinct per thread (address, tid) and per run (clock). */
		trace_ids_seed_with(&t->ids, clock_now() ^ ((uint64_t)(uintptr_t)t << 16) ^
		                                     ((uint64_t)gettid() << 40) ^ (uint64_t)getpid());
	}
	/* Publish: the exporter may see t as soon as the CAS succeeds. */
	struct hotpath_thread *head = atomic_load_explicit(&hp.threads, memory_order_relaxed);
	do
		t->next = head;
	while (!atomic_compare_exchange_weak_explicit(&hp.threads, &head, t, memory_order_release,
	                                              memory_order_relaxed));
	tls_state = t;
	return t;
}

static inline uint64_t load_u64(const uint8_t *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return v;
}

static inline void store_u64(uint8_t *p, uint64_t v)
{
	__builtin_memcpy(p, &v, 8);
}

/* Rate limit (GCRA): true when a new trace may start at now. */
static inline bool admit_rate(uint64_t now)
{
	if (hp.interval_ticks == 0)
		return false;
	uint64_t tat = atomic_load_explicit(&hp.tat, memory_order_relaxed);
	for (;;) {
		uint64_t base = tat > now ? tat : now;
		if (base - now > hp.burst_ticks)
			return false;
		if (atomic_compare_exchange_weak_explicit(&hp.tat, &tat, base + hp.interval_ticks,
		                                          memory_order_relaxed, memory_order_relaxed))
			return true;
	}
}

/*
 * A duration in ticks to ns with the rate fixed at hotpath_init (32.32
 * fixed point): one multiply, no seqlock. Later recalibration changes the
 * rate by parts per million, which no histogram bucket (9% wide) can show.
 */
static inline uint64_t ticks_to_ns_fast(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * hp.ns_per_tick_q32) >> 32);
}

/* The sampling decision for a new root with the given trace id low half. */
static inline bool sample_root(uint64_t now, uint64_t trace_lo_be)
{
	switch (hp.sampler) {
	case SAMPLER_ALWAYS_ON:
	case SAMPLER_PARENTBASED_ALWAYS_ON:
		return true;
	case SAMPLER_ALWAYS_OFF:
	case SAMPLER_PARENTBASED_ALWAYS_OFF:
		return false;
	case SAMPLER_TRACEID_RATIO:
	case SAMPLER_PARENTBASED_TRACEID_RATIO:
		return hp.ratio_all || __builtin_bswap64(trace_lo_be) < hp.ratio_threshold;
	case SAMPLER_RATE_LIMIT:
	default:
		return admit_rate(now);
	}
}

/* Whether capture c is read for this call: tags and metrics always, attributes for a span. */
static inline bool capture_wanted(const struct hot_capture *c, const struct span_frame *f)
{
	return (c->uses & (HOT_CAPTURE_TAG | HOT_CAPTURE_METRIC)) || f->sampled;
}

static inline void capture_finish_into(const struct hot_capture *c, unsigned i, uint64_t base, uint64_t next,
                                       struct span_frame *f, struct capture_memo *memo)
{
	uint32_t used = f->text_used;
	bool truncated = false;
	if (!hot_capture_finish(c, base, next, f->text, &used, SPAN_TEXT_BYTES, &f->captures[i], &truncated, memo))
		f->unreadable_mask |= (uint8_t)(1u << i);
	f->text_used = (uint16_t)used;
	f->truncated |= truncated;
}

/* The entry half of a hook's captures (hot_capture.h): arguments read now,
 * or kept for their derefs at return. Out of line: most hooks have none. */
static __attribute__((noinline)) void capture_at_entry(const struct hot_hook *hh, struct span_frame *f, uint64_t sp,
                                                       const struct hook_regs *regs, struct capture_memo *memo)
{
	f->unreadable_mask = 0;
	f->truncated = 0;
	f->text_used = 0;
	for (unsigned i = 0; i < hh->ncaptures; i++) {
		const struct hot_capture *c = &hh->captures[i];
		f->captures[i] = 0;
		if (c->source == HOT_SOURCE_RETURN || !capture_wanted(c, f))
			continue;
		uint64_t next;
		uint64_t base = hot_capture_base(c, regs, sp, 0, &next);
		if (c->at_exit)
			f->captures[i] = base;
		else
			capture_finish_into(c, i, base, next, f, memo);
	}
	if (hh->has_error_source) {
		uint64_t next;
		f->error_base = hot_capture_base(&hh->error, regs, sp, 0, &next);
	}
}

/* The exit half: the return value and the out-parameters, for a call that returned. */
static __attribute__((noinline)) void capture_at_exit(const struct hot_hook *hh, struct span_frame *f, uint64_t rax,
                                                      struct capture_memo *memo)
{
	for (unsigned i = 0; i < hh->ncaptures; i++) {
		const struct hot_capture *c = &hh->captures[i];
		if (!c->at_exit || !capture_wanted(c, f))
			continue;
		uint64_t base = c->source == HOT_SOURCE_RETURN ? rax : f->captures[i];
		capture_finish_into(c, i, base, 0, f, memo);
	}
}

bool hotpath_enter(struct hook_call *call, const struct hook_regs *regs)
{
	(void)regs;
	uint64_t now = hot_clock_now();
	struct hotpath_thread *t = tls_state;
	if (__builtin_expect(t == NULL, 0)) {
		if (tls_excluded)
			return false;
		t = thread_setup();
		if (t == NULL)
			return false;
	}
	uint32_t depth = call->depth;
	if (call->id >= __atomic_load_n(&hp.ntargets, __ATOMIC_RELAXED) || depth >= HOOK_MAX_DEPTH)
		return false;
	struct span_frame *f = &t->stack[depth];
	if (depth == 0) {
		/* A root: only the trace-id-ratio samplers need the id to decide; for
		 * the others an unsampled root never draws one (it would go nowhere). */
		bool by_ratio = hp.sampler == SAMPLER_TRACEID_RATIO || hp.sampler == SAMPLER_PARENTBASED_TRACEID_RATIO;
		f->parent_id = 0;
		f->sampled = by_ratio || sample_root(now, 0);
		if (f->sampled) {
			uint8_t tid[16];
			trace_ids_new_trace_id(&t->ids, tid);
			f->trace_hi = load_u64(tid);
			f->trace_lo = load_u64(tid + 8);
			if (by_ratio)
				f->sampled = sample_root(now, f->trace_lo);
		}
	} else {
		const struct span_frame *parent = &t->stack[depth - 1];
		f->trace_hi = parent->trace_hi;
		f->trace_lo = parent->trace_lo;
		f->parent_id = parent->span_id;
		f->sampled = parent->sampled;
	}
	if (f->sampled) {
		uint8_t sid[8];
		trace_ids_new_span_id(&t->ids, sid);
		f->span_id = load_u64(sid);
	} else {
		f->span_id = 0;
	}
	f->start = now;
	call->data[0] = now;
	const struct hot_hook *hh = &hp.hooks[hp.targets[call->id].hook_index];
	if (__builtin_expect(hh->ncaptures | hh->has_error_source, 0))
		capture_at_entry(hh, f, call->sp, regs, &t->memo);
	return true;
}

/* The hook's [hook.error] rule on the judged value (the return register, or what error_base points to). */
static inline bool is_error(const struct hot_target *ht, uint64_t raw)
{
	if (ht->error_when == ERROR_NEVER)
		return false;
	int64_t v = capture_as_int64((enum capture_type)ht->error_type, raw);
	bool is_unsigned = ht->error_type == CAPTURE_U8 || ht->error_type == CAPTURE_U16 ||
	                   ht->error_type == CAPTURE_U32 || ht->error_type == CAPTURE_U64 ||
	                   ht->error_type == CAPTURE_BOOL || ht->error_type == CAPTURE_POINTER;
	switch (ht->error_when) {
	case ERROR_NONZERO: return v != 0;
	case ERROR_ZERO: return v == 0;
	case ERROR_NEGATIVE: return !is_unsigned && v < 0;
	case ERROR_EQUAL: return v == ht->error_value;
	case ERROR_NOT_EQUAL: return v != ht->error_value;
	default: return false;
	}
}

/*
 * The stack of a sampled call an exception or panic is unwinding, into the
 * slot before its span (span_record.h). Runs inside the unwinder, where
 * nothing waits for a return value, so libunwind may use any register; the
 * innermost frames are the unwinder's and ours, which the exporter leaves
 * out. nframes 0 (no libunwind) makes the exporter skip it.
 */
static __attribute__((noinline)) void fill_stack(struct span_stack *st, const struct span_frame *f)
{
	int n = stacktrace_capture(st->frames, SPAN_STACK_FRAMES);
	store_u64(st->trace_id, f->trace_hi);
	store_u64(st->trace_id + 8, f->trace_lo);
	store_u64(st->span_id, f->span_id);
	st->nframes = n > 0 ? (uint32_t)n : 0;
	st->flags = SPAN_STACK;
}

/* ---- series (hotpath.h): the per-tag-values aggregates ---- */

static inline uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static inline bool series_key_equal(const struct hotpath_series_key *a, const struct hotpath_series_key *b)
{
	if (a->hook_index != b->hook_index || a->overflow != b->overflow || a->unreadable_mask != b->unreadable_mask ||
	    a->text_used != b->text_used)
		return false;
	for (unsigned i = 0; i < CONFIG_MAX_CAPTURES; i++)
		if (a->values[i] != b->values[i])
			return false;
	for (unsigned i = 0; i < a->text_used; i++)
		if (a->text[i] != b->text[i])
			return false;
	return true;
}

static void series_claim(struct hotpath_series *sr, const struct hotpath_series_key *key, uint64_t hash)
{
	struct hotpath_series_key *k = &sr->key;
	k->hook_index = key->hook_index;
	k->overflow = key->overflow;
	k->unreadable_mask = key->unreadable_mask;
	k->text_used = key->text_used;
	for (unsigned i = 0; i < CONFIG_MAX_CAPTURES; i++) {
		k->values[i] = key->values[i];
		sr->stats.sums[i] = 0;
	}
	for (unsigned i = 0; i < HOTPATH_SERIES_TEXT; i++)
		k->text[i] = i < key->text_used ? key->text[i] : 0;
	sr->stats.errors = 0;
	histogram_reset(&sr->stats.duration);
	atomic_store_explicit(&sr->hash, hash, memory_order_release);
}

/* The series of this call's tag values: found, claimed, or the hook's overflow series. */
static struct hotpath_series *series_find(struct hotpath_thread *t, const struct hotpath_series_key *key)
{
	uint64_t h = mix64(0x51ed2701u, key->hook_index);
	h = mix64(h, (uint64_t)key->unreadable_mask << 16 | key->text_used);
	for (unsigned i = 0; i < CONFIG_MAX_CAPTURES; i++)
		h = mix64(h, key->values[i]);
	for (unsigned i = 0; i < key->text_used; i += 8) {
		uint64_t w = 0;
		for (unsigned j = 0; j < 8 && i + j < key->text_used; j++)
			w |= (uint64_t)(uint8_t)key->text[i + j] << (8 * j);
		h = mix64(h, w);
	}
	h |= 1; /* 0 marks a free slot */
	for (unsigned probe = 0; probe < 8; probe++) {
		struct hotpath_series *sr = &t->series[(h + probe) & (HOTPATH_SERIES_PER_THREAD - 1)];
		uint64_t have = atomic_load_explicit(&sr->hash, memory_order_relaxed);
		if (have == 0) {
			series_claim(sr, key, h);
			return sr;
		}
		if (have == h && series_key_equal(&sr->key, key))
			return sr;
	}
	struct hotpath_series *over = &t->overflow[key->hook_index];
	if (atomic_load_explicit(&over->hash, memory_order_relaxed) == 0) {
		struct hotpath_series_key k = { .hook_index = key->hook_index, .overflow = 1 };
		series_claim(over, &k, 1);
	}
	return over;
}

static void series_add(struct hotpath_series *sr, const struct hot_hook *hh, const struct span_frame *f, bool error,
                       uint64_t duration_ns);

/* Counts one finished call in its series. Single writer: load + store. */
static __attribute__((noinline)) void series_record(struct hotpath_thread *t, uint32_t hook_index,
                                                    const struct hot_hook *hh, const struct span_frame *f,
                                                    bool error, uint64_t duration_ns)
{
	struct hotpath_series_key key;
	key.hook_index = hook_index;
	key.overflow = 0;
	key.unreadable_mask = 0;
	key.text_used = 0;
	for (unsigned i = 0; i < CONFIG_MAX_CAPTURES; i++) {
		key.values[i] = 0;
		if (i >= hh->ncaptures || !(hh->captures[i].uses & HOT_CAPTURE_TAG))
			continue;
		if (f->unreadable_mask & (1u << i)) {
			key.unreadable_mask |= (uint8_t)(1u << i);
			continue;
		}
		uint64_t v = f->captures[i];
		unsigned type = hh->captures[i].type;
		if (capture_type_is_text((enum capture_type)type)) {
			unsigned off = (unsigned)(v >> 32), len = (uint32_t)v;
			if (off > SPAN_TEXT_BYTES || len > SPAN_TEXT_BYTES - off)
				len = 0;
			unsigned room = HOTPATH_SERIES_TEXT - (unsigned)key.text_used;
			if (len > room)
				len = room; /* a longer tag value is cut, not a new series */
			for (unsigned j = 0; j < len; j++)
				key.text[key.text_used + j] = f->text[off + j];
			v = (uint64_t)key.text_used << 32 | len;
			key.text_used = (uint16_t)(key.text_used + len);
		}
		key.values[i] = v;
	}
	series_add(series_find(t, &key), hh, f, error, duration_ns);
}

static void series_add(struct hotpath_series *sr, const struct hot_hook *hh, const struct span_frame *f, bool error,
                       uint64_t duration_ns)
{
	struct hotpath_series_stats *st = &sr->stats;
	if (error)
		__atomic_store_n(&st->errors, __atomic_load_n(&st->errors, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	/* A call judged an error adds nothing to metric captures: an Err's payload sits where the Ok value
	 * would, so the value read is not the count (a pointer, an error code). */
	for (unsigned i = 0; !error && hh != NULL && f != NULL && i < hh->ncaptures; i++) {
		if (!(hh->captures[i].uses & HOT_CAPTURE_METRIC) || (f->unreadable_mask & (1u << i)))
			continue;
		int64_t v = capture_as_int64((enum capture_type)hh->captures[i].type, f->captures[i]);
		if (v > 0) /* a counter only grows: a negative count (an error code) adds nothing */
			__atomic_store_n(&st->sums[i], __atomic_load_n(&st->sums[i], __ATOMIC_RELAXED) + (uint64_t)v,
			                 __ATOMIC_RELAXED);
	}
	histogram_record(&st->duration, duration_ns);
}

bool hotpath_emit_span(const struct hotpath_span_in *in)
{
	if (in->hook_index >= hp.nhooks || !hook_engine_guard_try())
		return false;
	struct hotpath_thread *t = tls_state;
	if (t == NULL && !tls_excluded)
		t = thread_setup();
	if (t == NULL) {
		hook_engine_guard_release();
		return false;
	}
	uint64_t duration_ns = in->end_ticks > in->start_ticks ? ticks_to_ns_fast(in->end_ticks - in->start_ticks) : 0;
	struct hotpath_hook_stats *hs = &t->hooks[in->hook_index];
	if (in->error && !in->span_only)
		__atomic_store_n(&hs->errors, __atomic_load_n(&hs->errors, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	if (!in->span_only)
		histogram_record(&hs->duration, duration_ns);
	if (in->series != NULL && !in->span_only) {
		struct hotpath_series_key key = *in->series;
		key.hook_index = in->hook_index;
		key.overflow = 0;
		series_add(series_find(t, &key), NULL, NULL, in->error, duration_ns);
	}

	/* Sampling, as for a root (the parent-based samplers follow a remote parent). */
	bool sampled;
	bool parent_based = hp.sampler == SAMPLER_PARENTBASED_ALWAYS_ON || hp.sampler == SAMPLER_PARENTBASED_ALWAYS_OFF ||
	                    hp.sampler == SAMPLER_PARENTBASED_TRACEID_RATIO;
	uint8_t tid[16];
	if (in->parent_trace_id != NULL) {
		for (int i = 0; i < 16; i++)
			tid[i] = in->parent_trace_id[i];
		sampled = parent_based ? in->parent_sampled : in->parent_sampled && sample_root(in->start_ticks, load_u64(tid + 8));
	} else {
		trace_ids_new_trace_id(&t->ids, tid);
		sampled = sample_root(in->start_ticks, load_u64(tid + 8));
	}
	struct span_record *r = sampled ? ring_reserve(&t->ring) : NULL;
	if (r != NULL) {
		atomic_store_explicit(&t->sampled, atomic_load_explicit(&t->sampled, memory_order_relaxed) + 1,
		                      memory_order_relaxed);
		const struct span_record *p = in->payload;
		for (int i = 0; i < 16; i++)
			r->trace_id[i] = tid[i];
		trace_ids_new_span_id(&t->ids, r->span_id);
		for (int i = 0; i < 8; i++)
			r->parent_span_id[i] = in->parent_trace_id != NULL ? in->parent_span_id[i] : 0;
		r->start_ticks = in->start_ticks;
		r->end_ticks = in->end_ticks;
		r->hook_index = in->hook_index;
		r->flags = (in->error ? SPAN_ERROR : 0) | (p != NULL ? (p->flags & SPAN_TRUNCATED) : 0);
		r->target_index = UINT32_MAX; /* no function: the socket layer */
		r->reserved32 = 0;
		r->return_value = 0;
		r->ncaptures = p != NULL ? p->ncaptures : 0;
		r->text_used = p != NULL ? p->text_used : 0;
		r->capture_unreadable = 0;
		r->capture_absent = 0;
		for (unsigned i = 0; i < SPAN_MAX_CAPTURES; i++)
			r->captures[i] = p != NULL ? p->captures[i] : 0;
		for (unsigned i = 0; i < SPAN_TEXT_BYTES; i++)
			r->text[i] = p != NULL && i < p->text_used ? p->text[i] : 0;
		for (unsigned i = 0; i < SPAN_RECORD_TAIL; i++)
			r->reserved[i] = p != NULL ? p->reserved[i] : 0;
		ring_publish(&t->ring);
	}
	hook_engine_guard_release();
	return true;
}

void hotpath_exit(struct hook_call *call, uint64_t rax, uint64_t rdx, enum hook_end how)
{
	bool unwound = how != HOOK_RETURNED;
	(void)rdx;
	uint64_t end = hot_clock_now();
	struct hotpath_thread *t = tls_state;
	if (__builtin_expect(t == NULL || call->id >= __atomic_load_n(&hp.ntargets, __ATOMIC_RELAXED) || call->depth >= HOOK_MAX_DEPTH, 0))
		return;
	const struct hot_target *ht = &hp.targets[call->id];
	struct span_frame *f = &t->stack[call->depth];
	const struct hot_hook *hh = &hp.hooks[ht->hook_index];
	bool has_captures = (hh->ncaptures | hh->has_error_source) != 0;
	uint8_t absent = 0;
	uint32_t flags;
	if (unwound) {
		flags = SPAN_UNWOUND;
		absent = hh->at_exit_mask; /* no value, not a bad read */
	} else if (__builtin_expect(has_captures, 0)) {
		uint64_t judged = rax;
		bool readable = true;
		if (hh->has_error_source) {
			uint32_t no_text = 0;
			bool cut = false;
			readable = hot_capture_finish(&hh->error, f->error_base, 0, NULL, &no_text, 0, &judged, &cut, NULL);
		}
		flags = readable && is_error(ht, judged) ? SPAN_ERROR : 0;
		if (!readable)
			f->unreadable_mask |= 0x80; /* the error operand: counted, judged not an error */
		if (hh->at_exit_mask)
			capture_at_exit(hh, f, rax, &t->memo);
	} else {
		flags = is_error(ht, rax) ? SPAN_ERROR : 0;
	}
	uint64_t duration_ns = end > f->start ? ticks_to_ns_fast(end - f->start) : 0;

	/* Metrics: every call, counted by its histogram. Single writer, so
	 * load + store, no locked op. */
	struct hotpath_hook_stats *hs = &t->hooks[ht->hook_index];
	if (flags)
		__atomic_store_n(&hs->errors, __atomic_load_n(&hs->errors, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	histogram_record(&hs->duration, duration_ns);
	if (__builtin_expect(has_captures, 0)) {
		if (f->unreadable_mask)
			__atomic_store_n(&hs->unreadable,
			                 __atomic_load_n(&hs->unreadable, __ATOMIC_RELAXED) +
			                         (uint64_t)__builtin_popcount(f->unreadable_mask),
			                 __ATOMIC_RELAXED);
		f->unreadable_mask |= absent; /* for the series key: no value either way */
		if (hh->has_series)
			series_record(t, ht->hook_index, hh, f, flags != 0, duration_ns);
		f->unreadable_mask &= (uint8_t)~absent;
	}
	if (!f->sampled)
		return;
	atomic_store_explicit(&t->sampled, atomic_load_explicit(&t->sampled, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	struct span_record *r = ring_reserve(&t->ring);
	if (r == NULL)
		return; /* full: counted by the ring */
	struct span_stack *stack = NULL;
	if (how == HOOK_UNWINDING) {
		struct span_record *next = ring_reserve_next(&t->ring);
		if (next != NULL) {
			stack = (struct span_stack *)r;
			fill_stack(stack, f);
			r = next;
		}
	}
	store_u64(r->trace_id, f->trace_hi);
	store_u64(r->trace_id + 8, f->trace_lo);
	store_u64(r->span_id, f->span_id);
	store_u64(r->parent_span_id, f->parent_id);
	r->start_ticks = f->start;
	r->end_ticks = end;
	r->hook_index = ht->hook_index;
	r->flags = flags;
	r->target_index = (uint32_t)call->id;
	r->reserved32 = 0;
	r->return_value = unwound ? 0 : rax;
	r->ncaptures = 0;
	r->text_used = 0;
	r->capture_unreadable = 0;
	r->capture_absent = 0;
	if (has_captures) {
		r->ncaptures = hh->ncaptures;
		r->capture_unreadable = f->unreadable_mask & 0x7f;
		r->capture_absent = absent;
		for (unsigned i = 0; i < CONFIG_MAX_CAPTURES; i++)
			r->captures[i] = f->captures[i];
		unsigned used = f->text_used < SPAN_TEXT_BYTES ? f->text_used : SPAN_TEXT_BYTES;
		for (unsigned i = 0; i < used; i++)
			r->text[i] = f->text[i];
		r->text_used = (uint8_t)used;
		if (f->truncated)
			r->flags |= SPAN_TRUNCATED;
	}
	if (stack != NULL)
		ring_publish_two(&t->ring);
	else
		ring_publish(&t->ring);
}

#pragma GCC pop_options
