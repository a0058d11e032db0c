/* SPDX-License-Identifier: MIT */
/*
 * histogram.h: exact per-hook duration histograms in the OTLP exponential
 * histogram layout, cheap enough for the hot path.
 *
 * Owns: the bucket arithmetic and a fixed-size histogram. Values are
 * durations in nanoseconds (uint64). OTLP's exponential histogram with
 * scale s has bucket boundaries base^i, base = 2^(2^-s); bucket index i
 * holds values in (base^i, base^(i+1)]. stdbtel uses one fixed scale,
 * HISTOGRAM_SCALE = 3 (8 buckets per power of two, about 9% relative
 * width), so that histograms from every thread merge by adding counts.
 * Every nanosecond value from 1 to 2^64 - 1 has a bucket: buckets[p] holds
 * OTLP index p + HISTOGRAM_OFFSET (offset -1: 1 ns is index -1, the bucket
 * (base^-1, 1]). Zero goes to zero_count.
 *
 * The index of a value is computed from its highest set bit and the next
 * HISTOGRAM_SCALE bits below it, with two corrections: exact powers of two
 * (the only integers on a boundary) go one bucket down, the
 * "upper-inclusive" rule; and one compare of the normalized mantissa
 * against the true boundary 2^(k/8) above the top bits' sub-bucket (a
 * 7-entry table of 64-bit fixed-point constants), since the top bits alone
 * misplace values lying between 1 + k/8 and 2^(k/8). No floating point,
 * exact for every value (see histogram.c).
 *
 * Threading: one histogram is written by one thread (plain increments); the
 * exporter reads with relaxed atomic loads and may see a call counted in
 * count but not yet in a bucket: it tolerates that (totals settle on the
 * next read). Merging for export is histogram_add().
 */
#ifndef STDBTEL_HISTOGRAM_H
#define STDBTEL_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SCALE 3
#define HISTOGRAM_OFFSET (-1)
#define HISTOGRAM_BUCKETS ((64 << HISTOGRAM_SCALE) + 1) /* OTLP indexes -1 .. 511 */

struct histogram {
	uint64_t count;       /* every recorded value, including zeros */
	uint64_t sum_ns;      /* wraps after ~584 years of total time */
	uint64_t min_ns, max_ns; /* min is UINT64_MAX while count is 0 */
	uint64_t zero_count;
	uint32_t buckets[HISTOGRAM_BUCKETS];
};

/* Empties h. */
void histogram_reset(struct histogram *h);

/* The OTLP bucket index of a value > 0 at HISTOGRAM_SCALE (-1 .. 511). */
int32_t histogram_index(uint64_t value_ns);

/* The sub-bucket boundaries (histogram.c) behind histogram_index_of. */
extern const uint64_t histogram_upper[8];

/*
 * The OTLP index of v > 0 (as histogram_index). Inline, with
 * histogram_record, so that the hot path's exit handler makes no call: the
 * bucket depends on the exit timestamp just read, and a call would only
 * lengthen that chain. Compiled general-regs-only, so that they inline
 * into the hot path (which is) as well as anywhere else.
 */
#pragma GCC push_options
#pragma GCC target("general-regs-only")
static inline __attribute__((always_inline)) int32_t histogram_index_of(uint64_t v)
{
	int lz = __builtin_clzll(v);
	int32_t e = 63 - lz;
	uint64_t n = v << lz;
	uint32_t s = (uint32_t)(n >> 60) & 7;

	return (e << HISTOGRAM_SCALE) - 1 + (int32_t)s + (n != (UINT64_C(1) << 63)) + (n > histogram_upper[s]);
}

/*
 * Records one value. Hot path: no calls, no locks. Single writer: plain
 * load + store, each visible atomically to the exporter. count first: a
 * reader may see the call counted before its bucket (allowed above),
 * never a bucket ahead of count.
 */
static inline __attribute__((always_inline)) void histogram_record(struct histogram *h, uint64_t value_ns)
{
	__atomic_store_n(&h->count, __atomic_load_n(&h->count, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sum_ns, __atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED) + value_ns, __ATOMIC_RELAXED);
	if (value_ns < __atomic_load_n(&h->min_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&h->min_ns, value_ns, __ATOMIC_RELAXED);
	if (value_ns > __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&h->max_ns, value_ns, __ATOMIC_RELAXED);
	if (__builtin_expect(value_ns == 0, 0)) {
		__atomic_store_n(&h->zero_count, __atomic_load_n(&h->zero_count, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
		return;
	}
	uint32_t *b = &h->buckets[histogram_index_of(value_ns) - HISTOGRAM_OFFSET];
	__atomic_store_n(b, __atomic_load_n(b, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}
#pragma GCC pop_options

/* dst += src (exporter thread). */
void histogram_add(struct histogram *dst, const struct histogram *src);

/*
 * dst = later - earlier, two readings of one cumulative histogram (an
 * interval's share): counts, sum and buckets subtract; min and max are
 * later's, the whole run's (an interval's own are not known).
 */
void histogram_subtract(struct histogram *dst, const struct histogram *later, const struct histogram *earlier);

/* Lower (exclusive) and upper (inclusive) boundaries of an OTLP index (tests, exporter). */
double histogram_bucket_lower(int32_t index);
double histogram_bucket_upper(int32_t index);

#endif
