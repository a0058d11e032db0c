/* SPDX-License-Identifier: MIT */
/*
 * test_statsd_format.c: StatsD lines (exact bytes), sanitising, datagram
 * packing at the size limit, and the timer sample drawn from a histogram
 * (power-of-two rates that add up to exactly N, values within their
 * bucket, exact min/max).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "statsd_format.h"

static const char *line_of(const struct statsd_metric *m, enum statsd_tag_style style)
{
	static char buf[512];
	size_t n = statsd_format_line(buf, sizeof(buf) - 1, m, style);
	cr_assert_lt(n, sizeof(buf) - 1);
	buf[n] = '\0';
	return buf;
}

static const char *timer_line(uint64_t ns, unsigned shift)
{
	struct statsd_metric m = {.type = STATSD_TIMER, .name = "t", .value = ns, .rate_shift = shift};
	return line_of(&m, STATSD_TAGS_DOGSTATSD);
}

Test(statsd_format, counter_gauge_and_timer_lines)
{
	struct statsd_metric c = {.type = STATSD_COUNTER, .name = "spacetimedb.database.inserts", .value = 42};
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "spacetimedb.database.inserts:42|c");
	c.value = 0;
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "spacetimedb.database.inserts:0|c");
	c.value = UINT64_MAX;
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "spacetimedb.database.inserts:18446744073709551615|c");
	c.rate_shift = 3; /* counters are never sampled: the shift is ignored */
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "spacetimedb.database.inserts:18446744073709551615|c");

	struct statsd_metric g = {.type = STATSD_GAUGE, .name = "stdbtel.queue", .value = 333};
	cr_assert_str_eq(line_of(&g, STATSD_TAGS_DOGSTATSD), "stdbtel.queue:333|g");

	struct statsd_metric t = {.type = STATSD_TIMER, .name = "spacetimedb.wasm.execution_time", .value = 12345678};
	cr_assert_str_eq(line_of(&t, STATSD_TAGS_DOGSTATSD), "spacetimedb.wasm.execution_time:12.346|ms");
	t.rate_shift = 2;
	cr_assert_str_eq(line_of(&t, STATSD_TAGS_DOGSTATSD), "spacetimedb.wasm.execution_time:12.346|ms|@0.25");
}

Test(statsd_format, milliseconds_rounded_to_the_microsecond_without_trailing_zeros)
{
	cr_assert_str_eq(timer_line(12300000, 0), "t:12.3|ms");
	cr_assert_str_eq(timer_line(12000000, 0), "t:12|ms");
	cr_assert_str_eq(timer_line(12050000, 0), "t:12.05|ms");
	cr_assert_str_eq(timer_line(1000, 0), "t:0.001|ms");
	cr_assert_str_eq(timer_line(999, 0), "t:0.001|ms");
	cr_assert_str_eq(timer_line(500, 0), "t:0.001|ms"); /* half up */
	cr_assert_str_eq(timer_line(499, 0), "t:0|ms");
	cr_assert_str_eq(timer_line(0, 0), "t:0|ms");
	cr_assert_str_eq(timer_line(999999500, 0), "t:1000|ms"); /* the carry reaches the integer part */
	cr_assert_str_eq(timer_line(1999999, 0), "t:2|ms");
	cr_assert_str_eq(timer_line(UINT64_MAX, 0), "t:18446744073709.552|ms");
	/* Against printf's rounding of the same microseconds, over a sweep. */
	for (uint64_t ns = 0; ns < 5000000; ns += 7919) {
		uint64_t us = ns / 1000 + (ns % 1000 >= 500);
		char want[64];
		snprintf(want, sizeof(want), "%llu.%03llu", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
		size_t n = strlen(want);
		while (want[n - 1] == '0')
			want[--n] = '\0';
		if (want[n - 1] == '.')
			want[--n] = '\0';
		char line[80];
		snprintf(line, sizeof(line), "t:%s|ms", want);
		cr_assert_str_eq(timer_line(ns, 0), line, "ns %llu", (unsigned long long)ns);
	}
}

Test(statsd_format, rates_are_exact_powers_of_two_in_plain_decimal)
{
	cr_assert_str_eq(timer_line(1000000, 1), "t:1|ms|@0.5");
	cr_assert_str_eq(timer_line(1000000, 3), "t:1|ms|@0.125");
	cr_assert_str_eq(timer_line(1000000, 4), "t:1|ms|@0.0625");
	cr_assert_str_eq(timer_line(1000000, 10), "t:1|ms|@0.0009765625");
	for (unsigned k = 1; k <= STATSD_RATE_SHIFT_MAX; k++) {
		const char *line = timer_line(1000000, k);
		const char *at = strstr(line, "|@");
		cr_assert_not_null(at);
		const char *rate = at + 2;
		/* Etsy reads ^@([\d.]+): digits and a point only, and exactly k decimals. */
		cr_assert_eq(strspn(rate, "0123456789."), strlen(rate), "%s", line);
		cr_assert_eq(strlen(rate), 2 + k, "%s", line);
		cr_assert_eq(strtod(rate, NULL), ldexp(1.0, -(int)k), "%s", line);
		cr_assert_eq(1.0 / strtod(rate, NULL), ldexp(1.0, (int)k), "%s", line);
	}
	struct statsd_metric bad = {.type = STATSD_TIMER, .name = "t", .value = 1, .rate_shift = 64};
	char buf[64];
	cr_assert_eq(statsd_format_line(buf, sizeof(buf), &bad, STATSD_TAGS_DOGSTATSD), 0);
}

Test(statsd_format, dogstatsd_tags_last_and_plain_style_drops_them)
{
	const struct statsd_tag tags[] = {{"table", "7"}, {"function", "add"}, {"region", NULL}, {"", "x"}, {NULL, "y"},
	                                  {"empty", ""}};
	struct statsd_metric c = {.type = STATSD_COUNTER, .name = "spacetimedb.database.inserts", .value = 3,
	                          .tags = tags, .ntags = 2};
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "spacetimedb.database.inserts:3|c|#table:7,function:add");
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_NONE), "spacetimedb.database.inserts:3|c");
	c.ntags = 6; /* bare tags; tags without a key skipped */
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD),
	                 "spacetimedb.database.inserts:3|c|#table:7,function:add,region,empty");
	c.tags = tags + 3;
	c.ntags = 2; /* only keyless tags: no "|#" at all */
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "spacetimedb.database.inserts:3|c");

	struct statsd_metric t = {.type = STATSD_TIMER, .name = "d", .value = 2500000, .rate_shift = 1,
	                          .tags = tags, .ntags = 1};
	cr_assert_str_eq(line_of(&t, STATSD_TAGS_DOGSTATSD), "d:2.5|ms|@0.5|#table:7");
	cr_assert_str_eq(line_of(&t, STATSD_TAGS_NONE), "d:2.5|ms|@0.5");
}

Test(statsd_format, sanitising_replaces_delimiters_and_control_bytes)
{
	const struct statsd_tag tags[] = {{"url:path", "/a:b,c|d"}, {"k#1", "v@2\n3"}};
	struct statsd_metric c = {.type = STATSD_COUNTER, .name = "a:b|c@d,e#f\ng\th\x7f", .value = 1,
	                          .tags = tags, .ntags = 2};
	cr_assert_str_eq(line_of(&c, STATSD_TAGS_DOGSTATSD), "a_b_c_d_e_f_g_h_:1|c|#url_path:/a_b_c_d,k_1:v_2_3");
	/* Everything else passes: the daemon's own key rules apply after. */
	char out[64];
	size_t n = statsd_sanitize(out, sizeof(out), "ok.name-with;semi=eq/slash space");
	out[n] = '\0';
	cr_assert_str_eq(out, "ok.name-with;semi=eq/slash space");
	/* Every byte: reserved ones become '_', no other changes. */
	for (int b = 1; b < 256; b++) {
		char in[2] = {(char)b, '\0'};
		cr_assert_eq(statsd_sanitize(out, sizeof(out), in), 1);
		bool reserved = b < 0x20 || b == 0x7f || strchr(":|@,#", b) != NULL;
		cr_assert_eq(out[0], reserved ? '_' : (char)b, "byte 0x%02x", b);
	}
}

Test(statsd_format, format_reports_the_full_length_when_truncated)
{
	struct statsd_metric c = {.type = STATSD_COUNTER, .name = "abcdef", .value = 12345};
	char buf[8];
	memset(buf, '*', sizeof(buf));
	cr_assert_eq(statsd_format_line(buf, 4, &c, STATSD_TAGS_DOGSTATSD), strlen("abcdef:12345|c"));
	cr_assert_eq(memcmp(buf, "abcd****", 8), 0);
	struct statsd_metric unnamed = {.type = STATSD_COUNTER, .name = "", .value = 1};
	cr_assert_eq(statsd_format_line(buf, sizeof(buf), &unnamed, STATSD_TAGS_DOGSTATSD), 0);
}

/* ---- datagrams ---- */

static struct statsd_metric counter(const char *name, uint64_t v)
{
	return (struct statsd_metric){.type = STATSD_COUNTER, .name = name, .value = v};
}

Test(statsd_packet, lines_newline_separated_full_at_the_limit)
{
	char buf[32];
	struct statsd_packet p;
	statsd_packet_init(&p, buf, 20);
	struct statsd_metric a = counter("a", 1), b = counter("bb", 22); /* "a:1|c" 5 B, "bb:22|c" 7 B */
	cr_assert_eq(statsd_packet_add(&p, &a, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	cr_assert_eq(statsd_packet_add(&p, &b, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	cr_assert_eq(p.len, 13);
	cr_assert_eq(memcmp(buf, "a:1|c\nbb:22|c", 13), 0);
	/* 13 + 1 + 6 = 20: exactly fills the datagram */
	struct statsd_metric c6 = counter("c", 10); /* "c:10|c" */
	cr_assert_eq(statsd_packet_add(&p, &c6, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	cr_assert_eq(p.len, 20);
	cr_assert_eq(p.lines, 3);
	cr_assert_eq(memcmp(buf, "a:1|c\nbb:22|c\nc:10|c", 20), 0);
	/* nothing more fits, not even the shortest line */
	cr_assert_eq(statsd_packet_add(&p, &a, STATSD_TAGS_DOGSTATSD), STATSD_FULL);
	cr_assert_eq(p.len, 20);
	cr_assert_eq(memcmp(buf, "a:1|c\nbb:22|c\nc:10|c", 20), 0);
	statsd_packet_reset(&p);
	cr_assert_eq(statsd_packet_add(&p, &a, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	cr_assert_eq(p.len, 5);
	cr_assert_eq(memcmp(buf, "a:1|c", 5), 0);

	/* one byte short of fitting after a line: FULL, the datagram untouched */
	statsd_packet_init(&p, buf, 13);
	cr_assert_eq(statsd_packet_add(&p, &a, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	struct statsd_metric b8 = counter("bbb", 22); /* 8 B: 5 + 1 + 8 = 14 > 13 */
	cr_assert_eq(statsd_packet_add(&p, &b8, STATSD_TAGS_DOGSTATSD), STATSD_FULL);
	cr_assert_eq(p.len, 5);
	cr_assert_eq(p.lines, 1);
	cr_assert_eq(p.dropped_too_long, 0);
}

Test(statsd_packet, a_line_longer_than_the_datagram_is_dropped_and_counted)
{
	char buf[16];
	struct statsd_packet p;
	statsd_packet_init(&p, buf, 10);
	struct statsd_metric exact = counter("abcde", 1);   /* "abcde:1|c" 9 B */
	struct statsd_metric ten = counter("abcdef", 1);    /* 10 B: fits an empty datagram exactly */
	struct statsd_metric eleven = counter("abcdefg", 1); /* 11 B: never */
	cr_assert_eq(statsd_packet_add(&p, &eleven, STATSD_TAGS_DOGSTATSD), STATSD_DROPPED);
	cr_assert_eq(p.dropped_too_long, 1);
	cr_assert_eq(p.len, 0);
	cr_assert_eq(statsd_packet_add(&p, &exact, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	/* too long is known without sending first */
	cr_assert_eq(statsd_packet_add(&p, &eleven, STATSD_TAGS_DOGSTATSD), STATSD_DROPPED);
	cr_assert_eq(p.dropped_too_long, 2);
	cr_assert_eq(statsd_packet_add(&p, &ten, STATSD_TAGS_DOGSTATSD), STATSD_FULL);
	statsd_packet_reset(&p);
	cr_assert_eq(statsd_packet_add(&p, &ten, STATSD_TAGS_DOGSTATSD), STATSD_ADDED);
	cr_assert_eq(p.len, 10);
	cr_assert_eq(memcmp(buf, "abcdef:1|c", 10), 0);
	cr_assert_eq(p.dropped_too_long, 2, "reset keeps the drop counters");
	struct statsd_metric unnamed = counter("", 1);
	cr_assert_eq(statsd_packet_add(&p, &unnamed, STATSD_TAGS_DOGSTATSD), STATSD_DROPPED);
	cr_assert_eq(p.dropped_invalid, 1);
}

Test(statsd_packet, many_lines_split_on_line_boundaries_into_full_datagrams)
{
	enum { N = 2000 };
	static char names[N][48];
	static char expected[N][96];
	char buf[STATSD_MAX_PAYLOAD_DEFAULT];
	static char datagrams[N][STATSD_MAX_PAYLOAD_DEFAULT + 1];
	size_t sizes[N], ndatagrams = 0;
	struct statsd_packet p;
	statsd_packet_init(&p, buf, sizeof(buf));
	const struct statsd_tag tags[] = {{"table", "7"}, {"function", "add"}};
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "stdbtel.test.metric_%zu%.*s", i, (int)(i % 17), "xxxxxxxxxxxxxxxxx");
		struct statsd_metric m = counter(names[i], i * 7919);
		m.tags = tags;
		m.ntags = i % 3 == 0 ? 2 : 0;
		snprintf(expected[i], sizeof(expected[i]), "%.47s:%zu|c%s", names[i], i * 7919,
		         m.ntags ? "|#table:7,function:add" : "");
		enum statsd_add_result r = statsd_packet_add(&p, &m, STATSD_TAGS_DOGSTATSD);
		if (r == STATSD_FULL) {
			memcpy(datagrams[ndatagrams], buf, p.len);
			sizes[ndatagrams++] = p.len;
			/* full means the next line did not fit */
			cr_assert_gt(p.len + 1 + strlen(expected[i]), sizeof(buf));
			statsd_packet_reset(&p);
			r = statsd_packet_add(&p, &m, STATSD_TAGS_DOGSTATSD);
		}
		cr_assert_eq(r, STATSD_ADDED);
	}
	memcpy(datagrams[ndatagrams], buf, p.len);
	sizes[ndatagrams++] = p.len;
	cr_assert_gt(ndatagrams, 10);
	/* Every datagram within the limit, no trailing newline; the lines in order, whole. */
	size_t next = 0;
	for (size_t d = 0; d < ndatagrams; d++) {
		cr_assert_leq(sizes[d], sizeof(buf));
		cr_assert_gt(sizes[d], 0);
		cr_assert_neq(datagrams[d][sizes[d] - 1], '\n');
		datagrams[d][sizes[d]] = '\0';
		char *save = NULL;
		for (char *line = strtok_r(datagrams[d], "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
			cr_assert_str_eq(line, expected[next++]);
	}
	cr_assert_eq(next, N);
}

/* ---- the timer sample ---- */

struct sample {
	uint64_t *values;
	unsigned *shifts;
	size_t lines;
	uint64_t weight_sum;
};

static struct sample draw(const struct histogram *h, uint64_t budget, struct statsd_timer_plan *plan)
{
	statsd_timer_plan_init(plan, h, budget);
	struct sample s = {calloc(plan->lines + 1, sizeof(uint64_t)), calloc(plan->lines + 1, sizeof(unsigned)), 0, 0};
	cr_assert_not_null(s.values);
	uint64_t v;
	unsigned shift;
	while (statsd_timer_plan_next(plan, h, &v, &shift)) {
		cr_assert_lt(s.lines, plan->lines, "more lines than planned");
		cr_assert_leq(shift, STATSD_RATE_SHIFT_MAX);
		if (s.lines > 0)
			cr_assert_geq(v, s.values[s.lines - 1], "values ascend");
		s.values[s.lines] = v;
		s.shifts[s.lines++] = shift;
		s.weight_sum += UINT64_C(1) << shift;
	}
	cr_assert_eq(s.lines, plan->lines);
	cr_assert_not(statsd_timer_plan_next(plan, h, &v, &shift), "stays done");
	return s;
}

static void sample_free(struct sample *s)
{
	free(s->values);
	free(s->shifts);
}

/* The smallest k with floor(n/2^k) + popcount(n mod 2^k) <= budget, computed the slow way. */
static unsigned expected_shift(uint64_t n, uint64_t budget)
{
	if (budget < 64)
		budget = 64;
	for (unsigned k = 0; k < 64; k++) {
		uint64_t lines = (n >> k) + (uint64_t)__builtin_popcountll(k == 0 ? 0 : n % (UINT64_C(1) << k));
		if (lines <= budget)
			return k;
	}
	return 64;
}

Test(statsd_timer_plan, rates_add_up_to_exactly_n_within_the_budget)
{
	struct histogram *h = calloc(1, sizeof(*h));
	histogram_reset(h);
	struct statsd_timer_plan plan;

	/* The worked examples of the header. */
	h->zero_count = 300;
	struct sample s = draw(h, 100, &plan);
	cr_assert_eq(plan.shift, 2);
	cr_assert_eq(s.lines, 75);
	for (size_t i = 0; i < s.lines; i++)
		cr_assert_eq(s.shifts[i], 2);
	sample_free(&s);
	h->zero_count = 301;
	s = draw(h, 100, &plan);
	cr_assert_eq(s.lines, 76);
	size_t unsampled = 0;
	for (size_t i = 0; i < s.lines; i++)
		unsampled += s.shifts[i] == 0;
	cr_assert_eq(unsampled, 1);
	cr_assert_eq(s.weight_sum, 301);
	sample_free(&s);

	/* A sweep of N and budgets, N spread over many buckets. */
	const uint64_t budgets[] = {0, 1, 64, 100, 1000, 4096};
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (int round = 0; round < 300; round++) {
		histogram_reset(h);
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		int nb = 1 + (int)(seed >> 60);
		for (int b = 0; b < nb; b++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			h->buckets[80 + (seed >> 58)] += (uint32_t)((seed >> 20) % (round < 100 ? 50 : 300000));
		}
		if (round % 7 == 0)
			h->zero_count = round;
		for (size_t bi = 0; bi < sizeof(budgets) / sizeof(budgets[0]); bi++) {
			uint64_t n = h->zero_count;
			for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
				n += h->buckets[i];
			s = draw(h, budgets[bi], &plan);
			cr_assert_eq(plan.calls, n);
			cr_assert_eq(s.weight_sum, n, "N %llu budget %llu", (unsigned long long)n,
			             (unsigned long long)budgets[bi]);
			uint64_t limit = budgets[bi] < 64 ? 64 : budgets[bi];
			cr_assert_leq(s.lines, limit);
			cr_assert_eq(plan.shift, expected_shift(n, budgets[bi]));
			if (n <= limit)
				cr_assert_eq(s.lines, n, "unsampled: one line per call");
			sample_free(&s);
		}
	}

	/* The largest N: every line within 64, the weights still add up. */
	histogram_reset(h);
	h->zero_count = UINT64_MAX;
	h->min_ns = h->max_ns = 0;
	s = draw(h, 1, &plan);
	cr_assert_leq(s.lines, 64);
	cr_assert_eq(s.weight_sum, UINT64_MAX);
	sample_free(&s);

	histogram_reset(h);
	s = draw(h, 1000, &plan);
	cr_assert_eq(s.lines, 0, "an empty interval sends no timer line");
	sample_free(&s);
	free(h);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A skewed set of durations (ns): mostly 20-200 us, a tail to 50 ms. */
static uint64_t *make_durations(size_t n, struct histogram *h)
{
	uint64_t *d = malloc(n * sizeof(*d));
	uint64_t seed = 12345;
	histogram_reset(h);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		uint64_t r = seed >> 33;
		d[i] = r % 100 < 95 ? 20000 + r % 180000 : 200000 + r % 50000000;
		histogram_record(h, d[i]);
	}
	qsort(d, n, sizeof(*d), cmp_u64);
	return d;
}

static const double bucket_ratio = 1.0905077326652577; /* 2^(1/8) */

Test(statsd_timer_plan, unsampled_values_lie_in_the_bucket_of_each_call)
{
	struct histogram *h = calloc(1, sizeof(*h));
	enum { N = 800 };
	uint64_t *d = make_durations(N, h);
	struct statsd_timer_plan plan;
	struct sample s = draw(h, 1000, &plan);
	cr_assert_eq(s.lines, N);
	cr_assert_eq(s.values[0], d[0], "lower is the exact min");
	cr_assert_eq(s.values[N - 1], d[N - 1], "upper is the exact max");
	double sum = 0, true_sum = 0;
	for (size_t i = 0; i < N; i++) {
		cr_assert_eq(s.shifts[i], 0);
		cr_assert_eq(histogram_index(s.values[i]), histogram_index(d[i]), "rank %zu: %llu vs %llu", i,
		             (unsigned long long)s.values[i], (unsigned long long)d[i]);
		sum += (double)s.values[i];
		true_sum += (double)d[i];
	}
	cr_assert_lt(fabs(sum / true_sum - 1), bucket_ratio - 1, "mean %f vs %f", sum / N, true_sum / N);
	sample_free(&s);
	free(d);
	free(h);
}

/* statsd's percentile: the value at position round(pct/100 * count) - 1 of the sorted values. */
static uint64_t statsd_percentile(const uint64_t *sorted, size_t count, double pct)
{
	size_t k = (size_t)llround(pct / 100 * (double)count);
	return sorted[k == 0 ? 0 : k - 1];
}

Test(statsd_timer_plan, sampled_values_keep_count_extremes_and_percentiles)
{
	struct histogram *h = calloc(1, sizeof(*h));
	enum { N = 200003 };
	uint64_t *d = make_durations(N, h);
	struct statsd_timer_plan plan;
	struct sample s = draw(h, 1000, &plan);
	cr_assert_leq(s.lines, 1000);
	cr_assert_gt(s.lines, 500, "the budget is used, not wasted");
	cr_assert_eq(s.weight_sum, N);
	cr_assert_eq(s.values[0], d[0]);
	cr_assert_eq(s.values[s.lines - 1], d[N - 1]);
	/*
	 * statsd's percentile of the sample is the value of a call whose rank is
	 * off the true one by at most (m + 2) full lines (m remainder lines
	 * counted as one line each, one line of rounding, half a line of
	 * midpoint), and then off by at most one bucket in value.
	 */
	uint64_t slack = ((uint64_t)__builtin_popcountll(plan.remainder) + 2) << plan.shift;
	const double pcts[] = {1, 10, 25, 50, 75, 90, 95, 99, 99.9};
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		double got = (double)statsd_percentile(s.values, s.lines, pcts[i]);
		size_t r = (size_t)llround(pcts[i] / 100 * N) - 1;
		double lo = (double)d[r > slack ? r - slack : 0] / bucket_ratio;
		double hi = (double)d[r + slack < N ? r + slack : N - 1] * bucket_ratio;
		cr_assert(got >= lo && got <= hi, "p%g: %f not in [%f, %f] (true %llu)", pcts[i], got, lo, hi,
		          (unsigned long long)d[r]);
	}
	/* Where the distribution is dense, that is within a bucket of the true percentile. */
	for (size_t i = 0; i < 5; i++) {
		double got = (double)statsd_percentile(s.values, s.lines, pcts[i]);
		double want = (double)statsd_percentile(d, N, pcts[i]);
		cr_assert_lt(fabs(got / want - 1), bucket_ratio - 1, "p%g: %f vs %f", pcts[i], got, want);
	}
	double sum = 0, true_sum = 0;
	for (size_t i = 0; i < s.lines; i++)
		sum += (double)s.values[i];
	for (size_t i = 0; i < N; i++)
		true_sum += (double)d[i];
	double mean = sum / (double)s.lines, true_mean = true_sum / N;
	cr_assert_lt(fabs(mean / true_mean - 1), 0.05, "mean %f vs %f", mean, true_mean);
	sample_free(&s);
	free(d);
	free(h);
}

Test(statsd_timer_plan, min_max_from_outside_the_extreme_buckets_are_not_used)
{
	struct histogram *h = calloc(1, sizeof(*h));
	histogram_reset(h);
	/* An interval's delta histogram: 10 calls around 1 ms, cumulative min 1 us and max 1 s from earlier. */
	for (int i = 0; i < 10; i++)
		histogram_record(h, 1000000 + (uint64_t)i * 1000);
	h->min_ns = 1000;
	h->max_ns = 1000000000;
	struct statsd_timer_plan plan;
	struct sample s = draw(h, 1000, &plan);
	cr_assert_eq(s.lines, 10);
	cr_assert_not(plan.min_usable);
	cr_assert_not(plan.max_usable);
	for (size_t i = 0; i < s.lines; i++)
		cr_assert_eq(histogram_index(s.values[i]), histogram_index(1000000 + i * 1000));
	sample_free(&s);

	/* Zero durations come first, as 0; a zero min is used. */
	histogram_reset(h);
	histogram_record(h, 0);
	histogram_record(h, 0);
	histogram_record(h, 5000);
	s = draw(h, 1000, &plan);
	cr_assert_eq(s.lines, 3);
	cr_assert_eq(s.values[0], 0);
	cr_assert_eq(s.values[1], 0);
	cr_assert_eq(s.values[2], 5000);
	cr_assert_str_eq(timer_line(s.values[0], s.shifts[0]), "t:0|ms");
	sample_free(&s);
	free(h);
}
