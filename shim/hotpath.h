/* SPDX-License-Identifier: MIT */
/*
 * hotpath.h: what runs on every hooked call: the enter/exit handlers given
 * to hook_engine_set_handlers(), and the per-thread state they write.
 *
 * Owns: one struct hotpath_thread per thread that ever made a timed call
 * (its span ring, span stack, id generator, per-hook counters and
 * histograms), the list linking them for the exporter, and the sampling
 * state shared by all threads (a token bucket, one atomic word).
 *
 * Per call: two clock_now() stamps, a span stack entry (parent/child by
 * the hook engine's call->depth), a new trace id for a root and a span id
 * per sampled call, a sampling decision for roots (children follow their
 * root), counters and a histogram for every call, and one span_record into
 * the thread's ring for a sampled call (dropped and counted when full).
 *
 * Threading: hotpath_init() runs once, in the constructor, before handlers
 * are set and while one thread exists. The handlers run on any thread and
 * in signal handlers (the hook engine's re-entrancy guard means they never
 * nest on one thread). The exporter walks hotpath_threads() and consumes
 * each ring; it reads counters with relaxed loads.
 *
 * Memory bound: every thread that makes a timed call gets one state
 * (mmap'd, never freed while the process lives, so the exporter can still
 * drain the ring of a thread that has exited): about
 * ring_capacity * 256 B + nhooks * ~2.1 KiB per thread ever created, plus
 * the span stack: 768 KiB of address space, backed as deep as calls go.
 * TODO: recycle the states of exited threads (servers with thread churn).
 */
#ifndef STDBTEL_HOTPATH_H
#define STDBTEL_HOTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "histogram.h"
#include "hook_engine.h"
#include "ring.h"
#include "span_record.h"
#include "targets.h"

/* Per hook, per thread: written by the owner thread, read relaxed by others.
 * The call count is duration.count: every timed call is recorded there once. */
struct hotpath_hook_stats {
	uint64_t errors;
	uint64_t unreadable;       /* captured values whose memory could not be read (a bad deref?) */
	struct histogram duration; /* nanoseconds */
};

/*
 * Tagged metrics. A hook with a [[hook.arg]] tag or metric capture keeps,
 * besides its per-hook stats, one aggregate per distinct combination of
 * tag values: a series. Each thread has HOTPATH_SERIES_PER_THREAD series
 * slots (shared by its hooks, open addressing) plus one overflow series
 * per hook, which takes the calls whose tag values found no free slot
 * (exported with the attribute otel.metric.overflow = true, as the
 * OpenTelemetry SDKs do past their cardinality limit). So every call is
 * counted exactly once in some series of its hook, whatever the
 * cardinality. Owner thread writes; a slot's key never changes once its
 * hash is published (release), the exporter reads stats relaxed.
 */
#define HOTPATH_SERIES_PER_THREAD 256
#define HOTPATH_SERIES_TEXT 64   /* bytes of string tag values per series */

struct hotpath_series_key {
	uint32_t hook_index;
	uint8_t overflow;        /* 1: the hook's overflow series (no tag values) */
	uint8_t unreadable_mask; /* tag captures whose value could not be read (bit per capture) */
	uint16_t text_used;
	uint64_t values[CONFIG_MAX_CAPTURES]; /* tag captures by capture index; strings: offset << 32 | length
	                                       * into text; other captures 0 */
	char text[HOTPATH_SERIES_TEXT];
};

struct hotpath_series_stats {
	uint64_t errors;
	uint64_t sums[CONFIG_MAX_CAPTURES]; /* metric captures by capture index: the sum of the values */
	struct histogram duration;          /* nanoseconds; count = calls */
};

/* One thread's state; see hotpath.c for the fields the hot path uses. */
struct hotpath_thread;

/*
 * Prepares the per-target tables (hook index, error rule) and the sampler
 * from cfg and targets. cfg and targets must outlive the process's hooked
 * calls. Call clock_init() first (the sampler converts rates to ticks).
 * ring_capacity: span records per thread (rounded up to a power of two).
 * Returns 0, or -1 when out of memory (then install no hooks).
 */
int hotpath_init(const struct stdbtel_config *cfg, const struct target_set *targets, size_t ring_capacity);

/*
 * Appends targets: their ids are the next ones after those already known
 * (hotpath_init's count, then each call's). For the objects a dlopen
 * maps; call before patching them, with calls serialised. Returns 0, or -1
 * past TARGETS_MAX.
 */
int hotpath_add_targets(const struct stdbtel_config *cfg, const struct target *items, size_t n);

/* The handlers for hook_engine_set_handlers(). */
bool hotpath_enter(struct hook_call *call, const struct hook_regs *regs);
void hotpath_exit(struct hook_call *call, uint64_t rax, uint64_t rdx, enum hook_end end);

/*
 * A span made outside any hooked call: an HTTP request timed at the
 * socket layer (shim/http_server.c). Counted in the hook's stats and, with
 * series, in the series of *series; written to the thread's ring when
 * sampled: a child of the remote parent when one is given (a W3C
 * traceparent), else a root, sampled as roots are (a parent-based sampler
 * follows the parent's sampled flag; the others decide as for a root and
 * never sample an unsampled parent's child). Runs under the engine's
 * guard; false when it could not run (re-entered from a signal handler,
 * no thread state): nothing was counted. Not from a hook handler.
 */
struct hotpath_span_in {
	uint32_t hook_index;
	uint64_t start_ticks, end_ticks;     /* clock_now() readings */
	const uint8_t *parent_trace_id;      /* 16 bytes, or NULL for a root */
	const uint8_t *parent_span_id;       /* 8 bytes, with parent_trace_id */
	bool parent_sampled;
	bool error;
	const struct span_record *payload;   /* captures, text, flags' SPAN_TRUNCATED and the tail, copied */
	const struct hotpath_series_key *series; /* the call's series (tags), or NULL */
	bool span_only;                      /* no stats, no series: only the span (when sampled) */
};
bool hotpath_emit_span(const struct hotpath_span_in *in);

/* Marks the calling thread as one whose calls are never timed (the exporter). */
void hotpath_exclude_this_thread(void);

/*
 * In a fork child: makes the hot path's state the child's own. Call on the
 * forking thread (the child's only thread) with signals blocked, before
 * any other thread starts (the pthread_atfork child handler). Afterwards
 * the thread list holds only the calling thread's state, its ring is
 * empty, its counters and histograms are zero, its id generator is
 * reseeded, and each sampled call live on its stack has a new span id
 * (see hotpath.c). Async-signal-safe apart from that contract. Returns the
 * number of records discarded from the calling thread's ring (records
 * the parent had not exported yet, which it exports itself).
 */
size_t hotpath_after_fork_child(void);

/* ---- for the exporter: the list of thread states (newest first) ---- */
struct hotpath_thread *hotpath_threads(void);
struct hotpath_thread *hotpath_thread_next(const struct hotpath_thread *t);
struct ring *hotpath_thread_ring(struct hotpath_thread *t);
/* nhooks entries, indexed by hook index. */
const struct hotpath_hook_stats *hotpath_thread_hook_stats(const struct hotpath_thread *t);

/*
 * One hook's aggregate over every thread, cumulative since the process
 * (or fork child) started: errors and the duration histogram (its count is
 * the calls). Exporter thread; reads the owners' counters relaxed, so a
 * call in progress may be counted in count but not yet in a bucket.
 */
void hotpath_hook_totals(size_t hook_index, struct hotpath_hook_stats *out);

/*
 * Calls fn for every series of every thread (a combination of tag values
 * appears once per thread that made such a call: the caller merges).
 * Exporter thread; stats are live, read relaxed.
 */
void hotpath_series_foreach(void (*fn)(void *ctx, const struct hotpath_series_key *key,
                                       const struct hotpath_series_stats *stats),
                            void *ctx);

/* Sums over every thread: calls timed, calls sampled, records dropped, unreadable captures. */
struct hotpath_totals {
	uint64_t calls, errors, sampled, dropped, threads, unreadable;
};
void hotpath_totals(struct hotpath_totals *out);

#endif
