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

/* Records one value. Hot path: no calls, no locks. */
void histogram_record(struct histogram *h, uint64_t value_ns);

/* dst += src (exporter thread). */
void histogram_add(struct histogram *dst, const struct histogram *src);

/* Lower (exclusive) and upper (inclusive) boundaries of an OTLP index (tests, exporter). */
double histogram_bucket_lower(int32_t index);
double histogram_bucket_upper(int32_t index);

#endif
