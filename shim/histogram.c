/* SPDX-License-Identifier: MIT */
/*
 * histogram.c: OTLP exponential histogram buckets at scale 3, exact in
 * integer arithmetic.
 *
 * How the index is found. For a value v > 0 let e = floor(log2 v) and
 * N = v << (63 - e), the mantissa m = v / 2^e as a 64-bit fixed-point number
 * with its top bit set (N = m * 2^63, exactly, since v has at most 64 bits).
 * Bucket i is (2^(i/8), 2^((i+1)/8)], so within the octave [2^e, 2^(e+1))
 * the index is 8e - 1 + (how many of the boundaries T_k = 2^(k/8) * 2^63,
 * k = 0..7, lie strictly below N).
 *
 * - T_0 = 2^63 is exact: N > T_0 unless v is a power of two, which is what
 *   puts 2^e in bucket 8e - 1 (the upper-inclusive rule).
 * - For k = 1..7, 2^(k/8) is irrational, so no integer N equals T_k and the
 *   comparison with the floor B_k = floor(T_k) is exact: N > T_k <=> N > B_k
 *   (N >= ceil(T_k) = B_k + 1). The table below holds B_k; the histogram
 *   unit test re-derives every entry with exact multi-precision arithmetic
 *   (B_k^8 < 2^(504+k) < (B_k+1)^8) and checks it against exp2l.
 * - The 3 bits below the leading one, s = (N >> 60) & 7, say m lies in
 *   [1 + s/8, 1 + (s+1)/8). Since 2^x <= 1 + x on [0, 1] (convexity),
 *   1 + s/8 >= 2^(s/8), and 1 + (s+1)/8 < 2^((s+2)/8) for s = 0..6 (the
 *   smallest margin, near x = 0.53, is about 0.039). So the count is s,
 *   plus one if N > T_0 (v not a power of two: for s >= 1 always true),
 *   plus one if N > T_(s+1). The top bits alone are not enough: e.g. m in
 *   (2^(1/8), 1.125) = (1.0905.., 1.125) has s = 0 but belongs to j = 1.
 *
 * Hence index = 8e - 1 + s + (N != 2^63) + (N > histogram_upper[s]), where histogram_upper[s] =
 * B_(s+1) and histogram_upper[7] = UINT64_MAX stands for T_8 = 2^64, which no N
 * exceeds. One table load, two compares, no floating point.
 *
 * Writes: one thread records into a histogram with relaxed atomic
 * load/store pairs (plain moves on x86, no lock prefix) so that the
 * exporter's relaxed atomic loads are not data races.
 */
#include "histogram.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>

/*
 * histogram_upper[s] = floor(2^((s+1)/8) * 2^63) for s = 0..6: the first
 * boundary above the top-bits sub-bucket s, derived as the integer 8th root
 * of 2^(504 + s + 1). histogram_upper[7] is the octave's end (2^64), never
 * exceeded. Read by histogram_index_of (histogram.h).
 */
const uint64_t histogram_upper[8] = {
	0x8b95c1e3ea8bd6e6u, /* 2^(1/8) = 1.0905077326652577 */
	0x9837f0518db8a96fu, /* 2^(2/8) = 1.1892071150027210 */
	0xa5fed6a9b15138eau, /* 2^(3/8) = 1.2968395546510096 */
	0xb504f333f9de6484u, /* 2^(4/8) = 1.4142135623730951 */
	0xc5672a115506daddu, /* 2^(5/8) = 1.5422108254079407 */
	0xd744fccad69d6af4u, /* 2^(6/8) = 1.6817928305074290 */
	0xeac0c6e7dd24392eu, /* 2^(7/8) = 1.8340080864093424 */
	UINT64_MAX,
};

int32_t histogram_index(uint64_t value_ns)
{
	/* The contract is value > 0; answer the lowest bucket for 0 rather
	 * than shift by an undefined clz. */
	if (value_ns == 0)
		return HISTOGRAM_OFFSET;
	return histogram_index_of(value_ns);
}

/* Single-writer updates: no RMW instruction, but visible atomically. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

void histogram_reset(struct histogram *h)
{
	STORE(&h->count, 0);
	STORE(&h->sum_ns, 0);
	STORE(&h->min_ns, UINT64_MAX);
	STORE(&h->max_ns, 0);
	STORE(&h->zero_count, 0);
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		STORE(&h->buckets[i], 0);
}

void histogram_add(struct histogram *dst, const struct histogram *src)
{
	/* src may be live (its owner recording): read each field once. */
	uint64_t min = LOAD(&src->min_ns), max = LOAD(&src->max_ns);

	dst->count += LOAD(&src->count);
	dst->sum_ns += LOAD(&src->sum_ns);
	dst->zero_count += LOAD(&src->zero_count);
	if (min < dst->min_ns)
		dst->min_ns = min;
	if (max > dst->max_ns)
		dst->max_ns = max;
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		dst->buckets[i] += LOAD(&src->buckets[i]);
}

void histogram_subtract(struct histogram *dst, const struct histogram *later, const struct histogram *earlier)
{
	dst->count = later->count - earlier->count;
	dst->sum_ns = later->sum_ns - earlier->sum_ns;
	dst->zero_count = later->zero_count - earlier->zero_count;
	dst->min_ns = later->min_ns;
	dst->max_ns = later->max_ns;
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		dst->buckets[i] = later->buckets[i] - earlier->buckets[i];
}

/*
 * 2^(index/8) as a double: the table's mantissa (rounded once, to nearest,
 * by the conversion to double) times an exact power of two built from its
 * bits, so no libm. Exponents outside the normal range saturate to 0 or
 * infinity; OTLP indexes that matter here (-1 .. 512) are far inside it.
 */
static double boundary(int32_t index)
{
	int32_t q = index >> HISTOGRAM_SCALE; /* floor division (arithmetic shift) */
	uint32_t r = (uint32_t)index & ((1u << HISTOGRAM_SCALE) - 1);
	double mant = r == 0 ? 1.0 : (double)histogram_upper[r - 1] / 9223372036854775808.0;

	if (q < DBL_MIN_EXP - 1)
		return 0.0;
	if (q >= DBL_MAX_EXP)
		return INFINITY;
	union {
		uint64_t bits;
		double d;
	} scale = { .bits = (uint64_t)(q + 1023) << 52 };
	return mant * scale.d;
}

double histogram_bucket_lower(int32_t index)
{
	return boundary(index);
}

double histogram_bucket_upper(int32_t index)
{
	if (index == INT32_MAX)
		return INFINITY;
	return boundary(index + 1);
}
