/* SPDX-License-Identifier: MIT */
/*
 * test_histogram.c: histogram_index against an exact reference, and the
 * record/add/reset semantics.
 *
 * The reference. Bucket i is (2^(i/8), 2^((i+1)/8)], so the index of v > 0
 * is the smallest i with v <= 2^((i+1)/8), i.e. v^8 <= 2^(i+1). With
 * P = v^8 computed exactly (at most 512 bits, below in 64-bit limbs):
 * i + 1 = ceil(log2 P) = bitlen(P) - 1 if P is a power of two, else
 * bitlen(P). That is exact for every uint64, so no floating point decides
 * an answer. A long double estimate (ceill(8 * log2l(v)) - 1) is kept as a
 * cross-check: it must agree with the exact answer except where 8*log2l(v)
 * is within 1e-9 of an integer, where its rounding is not trusted; the
 * test counts those and requires there to be few.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "histogram.h"

/* ---- exact arithmetic on little-endian 64-bit limbs ---- */

#define LIMBS 9 /* 576 bits: room for v^8 < 2^512 and for 2^512 itself */

struct big {
	uint64_t l[LIMBS];
};

static struct big big_from(uint64_t v)
{
	struct big b = { { 0 } };
	b.l[0] = v;
	return b;
}

static struct big big_mul(const struct big *a, const struct big *b)
{
	struct big r = { { 0 } };
	for (int i = 0; i < LIMBS; i++) {
		unsigned __int128 carry = 0;
		if (a->l[i] == 0)
			continue;
		for (int j = 0; i + j < LIMBS; j++) {
			unsigned __int128 t = (unsigned __int128)a->l[i] * b->l[j] + r.l[i + j] + carry;
			r.l[i + j] = (uint64_t)t;
			carry = t >> 64;
		}
		cr_assert(carry == 0, "big_mul overflow");
	}
	return r;
}

static struct big big_pow8(uint64_t v)
{
	struct big x = big_from(v);
	x = big_mul(&x, &x);
	x = big_mul(&x, &x);
	return big_mul(&x, &x);
}

static int big_bitlen(const struct big *a)
{
	for (int i = LIMBS - 1; i >= 0; i--)
		if (a->l[i])
			return 64 * i + 64 - __builtin_clzll(a->l[i]);
	return 0;
}

static bool big_is_pow2(const struct big *a)
{
	int n = 0;
	for (int i = 0; i < LIMBS; i++)
		n += __builtin_popcountll(a->l[i]);
	return n == 1;
}

/* -1: a < 2^k, 0: equal, 1: greater. */
static int big_cmp_pow2(const struct big *a, int k)
{
	int len = big_bitlen(a);
	if (len != k + 1)
		return len < k + 1 ? -1 : 1;
	return big_is_pow2(a) ? 0 : 1;
}

/* The exact index: smallest i with v^8 <= 2^(i+1). */
static int32_t ref_index(uint64_t v)
{
	struct big p = big_pow8(v);
	int ceil_log2 = big_is_pow2(&p) ? big_bitlen(&p) - 1 : big_bitlen(&p);
	int32_t i = ceil_log2 - 1;
	/* Restate the definition: 2^i < v^8 <= 2^(i+1). */
	cr_assert(big_cmp_pow2(&p, i + 1) <= 0 && big_cmp_pow2(&p, i) > 0, "ref_index(%llu)",
		  (unsigned long long)v);
	return i;
}

/* The long double estimate; *trusted is false near a boundary. */
static int32_t float_index(uint64_t v, bool *trusted)
{
	long double x = 8.0L * log2l((long double)v);
	*trusted = fabsl(x - roundl(x)) > 1e-9L;
	return (int32_t)ceill(x) - 1;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Log-uniform over 1 .. 2^64-1: a uniform octave, then uniform within it. */
static uint64_t log_uniform(uint64_t *s)
{
	uint64_t r = splitmix64(s);
	int e = (int)(r & 63);
	uint64_t low = splitmix64(s);
	uint64_t top = UINT64_C(1) << e;
	return top | (low & (top - 1));
}

/* ---- the boundary table, re-derived ---- */

/* floor(2^(k/8) * 2^63) for k = 1..7, from the comments of histogram.c:
 * the test reaches them through histogram_index at the boundary values. */
static const uint64_t table[8] = {
	0x8000000000000000u, 0x8b95c1e3ea8bd6e6u, 0x9837f0518db8a96fu, 0xa5fed6a9b15138eau,
	0xb504f333f9de6484u, 0xc5672a115506daddu, 0xd744fccad69d6af4u, 0xeac0c6e7dd24392eu,
};

Test(histogram, boundary_constants)
{
	for (int k = 1; k < 8; k++) {
		/* Exact: B^8 < 2^(504+k) < (B+1)^8, so B = floor(2^(k/8 + 63)). */
		struct big lo = big_pow8(table[k]), hi = big_pow8(table[k] + 1);
		cr_assert_eq(big_cmp_pow2(&lo, 504 + k), -1, "k=%d: B^8 not below", k);
		cr_assert_eq(big_cmp_pow2(&hi, 504 + k), 1, "k=%d: (B+1)^8 not above", k);
		/* And exp2l agrees to within its own rounding (ulp = 1 here). */
		long double x = ldexpl(exp2l((long double)k / 8.0L), 63);
		cr_assert(fabsl(x - (long double)table[k]) <= 2.0L, "k=%d: exp2l %.3Lf vs %llu", k, x,
			  (unsigned long long)table[k]);
		/* The table is what histogram_index uses: the integer values at
		 * the 64-bit scale fall exactly on either side. */
		cr_assert_eq(histogram_index(table[k]), 8 * 63 + k - 1, "k=%d", k);
		cr_assert_eq(histogram_index(table[k] + 1), 8 * 63 + k, "k=%d", k);
		cr_assert_eq(ref_index(table[k]), 8 * 63 + k - 1);
		cr_assert_eq(ref_index(table[k] + 1), 8 * 63 + k);
	}
}

Test(histogram, powers_of_two_and_neighbours)
{
	for (int e = 0; e < 64; e++) {
		uint64_t p = UINT64_C(1) << e;
		cr_assert_eq(histogram_index(p), (e << 3) - 1, "2^%d", e);
		cr_assert_eq(ref_index(p), (e << 3) - 1, "2^%d", e);
		uint64_t around[] = { p - 1, p, p + 1 };
		for (int j = 0; j < 3; j++) {
			uint64_t v = around[j];
			if (v == 0)
				continue;
			cr_assert_eq(histogram_index(v), ref_index(v), "v=%llu (2^%d %+d)", (unsigned long long)v,
				     e, j - 1);
		}
	}
	cr_assert_eq(histogram_index(UINT64_MAX), 511);
	cr_assert_eq(ref_index(UINT64_MAX), 511);
	cr_assert_eq(histogram_index(1), -1);
	cr_assert_eq(histogram_index(2), 7);
	cr_assert_eq(histogram_index(3), 12); /* 2^(12/8) = 2.83 < 3 <= 2^(13/8) = 3.08 */
}

/* Every integer near every boundary of the small octaves, exhaustively. */
Test(histogram, exhaustive_small)
{
	for (uint64_t v = 1; v <= (UINT64_C(1) << 20); v++)
		cr_assert_eq(histogram_index(v), ref_index(v), "v=%llu", (unsigned long long)v);
}

/* Values straddling every boundary 2^(k/8) at every magnitude. */
Test(histogram, around_every_boundary)
{
	for (int e = 0; e < 64; e++) {
		for (int k = 1; k < 8; k++) {
			uint64_t b = table[k] >> (63 - e); /* floor(2^(e + k/8)) */
			for (int d = -2; d <= 2; d++) {
				uint64_t v = b + (uint64_t)(int64_t)d;
				if (v == 0 || (d > 0 && v < b) || (d < 0 && v > b))
					continue;
				cr_assert_eq(histogram_index(v), ref_index(v), "v=%llu", (unsigned long long)v);
			}
		}
	}
}

Test(histogram, random_log_uniform)
{
	uint64_t seed = 0x5eed5eed12345678u;
	int untrusted = 0, disagree = 0;
	const int n = 1000000;
	for (int i = 0; i < n; i++) {
		uint64_t v = log_uniform(&seed);
		int32_t want = ref_index(v);
		cr_assert_eq(histogram_index(v), want, "v=%llu", (unsigned long long)v);
		bool trusted;
		int32_t f = float_index(v, &trusted);
		if (!trusted)
			untrusted++;
		else if (f != want)
			disagree++;
	}
	cr_assert_eq(disagree, 0, "long double disagrees with exact on %d trusted values", disagree);
	/* The near-boundary band is the powers of two (exact integers in
	 * 8*log2) plus a tiny measure; log-uniform sampling hits 2^e with
	 * probability about 1/64 * 2^-e, so a few per cent at most. */
	cr_assert_lt(untrusted, n / 20, "untrusted=%d", untrusted);
}

Test(histogram, bucket_bounds_consistent)
{
	uint64_t seed = 42;
	for (int i = 0; i < 200000; i++) {
		uint64_t v = log_uniform(&seed);
		int32_t idx = histogram_index(v);
		double lo = histogram_bucket_lower(idx), hi = histogram_bucket_upper(idx);
		long double x = (long double)v; /* exact: 64-bit mantissa */
		/* The doubles are the boundaries rounded to nearest: allow one
		 * rounding (2^-53 relative) on each side. */
		cr_assert((long double)lo * (1.0L - 0x1p-52L) < x, "v=%llu idx=%d lo=%.17g",
			  (unsigned long long)v, idx, lo);
		cr_assert(x <= (long double)hi * (1.0L + 0x1p-52L), "v=%llu idx=%d hi=%.17g",
			  (unsigned long long)v, idx, hi);
	}
	for (int32_t idx = -1; idx <= 511; idx++) {
		long double lo = exp2l((long double)idx / 8.0L);
		cr_assert_eq(histogram_bucket_lower(idx), (double)lo, "idx=%d", idx);
		cr_assert_eq(histogram_bucket_upper(idx), histogram_bucket_lower(idx + 1));
		cr_assert_lt(histogram_bucket_lower(idx), histogram_bucket_upper(idx));
	}
	cr_assert_eq(histogram_bucket_lower(-1), (double)table[7] * 0x1p-64); /* 2^(7/8) / 2 */
	cr_assert_eq(histogram_bucket_upper(-1), 1.0);
	cr_assert_eq(histogram_bucket_upper(511), 0x1p64);
	cr_assert_eq(histogram_bucket_lower(0), 1.0);
	cr_assert_eq(histogram_bucket_lower(8), 2.0);
}

/* ---- record / add / reset ---- */

static void expect_empty(const struct histogram *h)
{
	cr_assert_eq(h->count, 0);
	cr_assert_eq(h->sum_ns, 0);
	cr_assert_eq(h->min_ns, UINT64_MAX);
	cr_assert_eq(h->max_ns, 0);
	cr_assert_eq(h->zero_count, 0);
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		cr_assert_eq(h->buckets[i], 0, "bucket %d", i);
}

Test(histogram, reset_empties)
{
	struct histogram h;
	memset(&h, 0xa5, sizeof h);
	histogram_reset(&h);
	expect_empty(&h);
}

Test(histogram, record_exact)
{
	struct histogram h;
	histogram_reset(&h);
	histogram_record(&h, 1000);
	cr_assert_eq(h.count, 1);
	cr_assert_eq(h.sum_ns, 1000);
	cr_assert_eq(h.min_ns, 1000);
	cr_assert_eq(h.max_ns, 1000);
	cr_assert_eq(h.zero_count, 0);
	cr_assert_eq(h.buckets[histogram_index(1000) - HISTOGRAM_OFFSET], 1);

	histogram_record(&h, 0);
	histogram_record(&h, 1);
	histogram_record(&h, UINT64_MAX);
	histogram_record(&h, 1000);
	cr_assert_eq(h.count, 5);
	cr_assert_eq(h.sum_ns, 2000 + 1 + UINT64_MAX); /* wraps, by contract */
	cr_assert_eq(h.min_ns, 0);
	cr_assert_eq(h.max_ns, UINT64_MAX);
	cr_assert_eq(h.zero_count, 1);
	cr_assert_eq(h.buckets[0], 1); /* 1 ns: index -1 */
	cr_assert_eq(h.buckets[HISTOGRAM_BUCKETS - 1], 1); /* index 511 */
	cr_assert_eq(h.buckets[histogram_index(1000) - HISTOGRAM_OFFSET], 2);
	uint64_t total = 0;
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		total += h.buckets[i];
	cr_assert_eq(total + h.zero_count, h.count);

	histogram_reset(&h);
	expect_empty(&h);
}

/* A model of the histogram to compare record and add against. */
struct model {
	uint64_t count, sum, min, max, zeros;
	uint32_t b[HISTOGRAM_BUCKETS];
};

static void model_record(struct model *m, uint64_t v)
{
	m->count++;
	m->sum += v;
	if (v < m->min)
		m->min = v;
	if (v > m->max)
		m->max = v;
	if (v == 0)
		m->zeros++;
	else
		m->b[ref_index(v) + 1]++;
}

static void expect_model(const struct histogram *h, const struct model *m)
{
	cr_assert_eq(h->count, m->count);
	cr_assert_eq(h->sum_ns, m->sum);
	cr_assert_eq(h->min_ns, m->min);
	cr_assert_eq(h->max_ns, m->max);
	cr_assert_eq(h->zero_count, m->zeros);
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		cr_assert_eq(h->buckets[i], m->b[i], "bucket %d", i);
}

Test(histogram, add_merges)
{
	struct histogram a, b, empty;
	struct model ma = { .min = UINT64_MAX }, mb = { .min = UINT64_MAX }, mab;
	histogram_reset(&a);
	histogram_reset(&b);
	histogram_reset(&empty);
	uint64_t seed = 7;
	for (int i = 0; i < 5000; i++) {
		uint64_t v = splitmix64(&seed) % 16 == 0 ? 0 : log_uniform(&seed) >> 20;
		histogram_record(&a, v);
		model_record(&ma, v);
		v = log_uniform(&seed) >> 10;
		histogram_record(&b, v);
		model_record(&mb, v);
	}
	expect_model(&a, &ma);
	expect_model(&b, &mb);

	/* Adding an empty histogram changes nothing (min stays, max stays). */
	histogram_add(&a, &empty);
	expect_model(&a, &ma);

	/* a + b is the model of both streams. */
	mab = ma;
	mab.count += mb.count;
	mab.sum += mb.sum;
	mab.zeros += mb.zeros;
	mab.min = ma.min < mb.min ? ma.min : mb.min;
	mab.max = ma.max > mb.max ? ma.max : mb.max;
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
		mab.b[i] += mb.b[i];
	histogram_add(&a, &b);
	expect_model(&a, &mab);
	expect_model(&b, &mb); /* src untouched */

	/* Into an empty histogram: a copy. */
	histogram_add(&empty, &b);
	expect_model(&empty, &mb);
}

Test(histogram, record_speed)
{
	static struct histogram h;
	enum { N = 1 << 16, ROUNDS = 200 };
	static uint64_t values[N];
	uint64_t seed = 99;
	histogram_reset(&h);
	/* Durations a hook would see: 10 ns .. ~10 ms, log-uniform. */
	for (int i = 0; i < N; i++) {
		uint64_t v;
		do
			v = log_uniform(&seed);
		while (v < 10 || v > 10000000);
		values[i] = v;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < N; i++)
			histogram_record(&h, values[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	fprintf(stderr, "histogram_record: %.2f ns per call (%d calls)\n", ns / ((double)N * ROUNDS),
		N * ROUNDS);
	cr_assert_eq(h.count, (uint64_t)N * ROUNDS);
}

Test(histogram, subtract_gives_an_interval_share)
{
	/* Two readings of one histogram: the second minus the first is what was recorded in between. */
	struct histogram h, earlier, delta;
	struct model m = { .min = UINT64_MAX }, later_part = { .min = UINT64_MAX };
	histogram_reset(&h);
	uint64_t seed = 11;
	for (int i = 0; i < 3000; i++) {
		uint64_t v = splitmix64(&seed) % 16 == 0 ? 0 : log_uniform(&seed) >> 20;
		histogram_record(&h, v);
		model_record(&m, v);
	}
	earlier = h;
	for (int i = 0; i < 2000; i++) {
		uint64_t v = log_uniform(&seed) >> 12;
		histogram_record(&h, v);
		model_record(&m, v);
		model_record(&later_part, v);
	}
	histogram_subtract(&delta, &h, &earlier);
	/* min and max are the whole run's */
	later_part.min = m.min;
	later_part.max = m.max;
	expect_model(&delta, &later_part);
}
