/* SPDX-License-Identifier: MIT */
/*
 * statsd_format.c: StatsD / DogStatsD lines, datagram packing and the
 * timer sample from a histogram. The contracts and the sampling design
 * are in statsd_format.h.
 */
#include "statsd_format.h"

#include <string.h>

/* A bounded writer: counts every byte, stores the ones that fit. */
struct line_out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put_char(struct line_out *o, char c)
{
	if (o->len < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_str(struct line_out *o, const char *s)
{
	for (; *s != '\0'; s++)
		put_char(o, *s);
}

/* The field delimiters of both line syntaxes, and every control byte. */
static bool is_reserved(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == ':' || c == '|' || c == '@' || c == ',' || c == '#';
}

static void put_sanitized(struct line_out *o, const char *s)
{
	for (; *s != '\0'; s++)
		put_char(o, is_reserved((unsigned char)*s) ? '_' : *s);
}

static void put_u64(struct line_out *o, uint64_t v)
{
	char digits[20];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		put_char(o, digits[--n]);
}

/* Nanoseconds as milliseconds, rounded half up to the microsecond, up to 3 decimals, no trailing zeros. */
static void put_ms(struct line_out *o, uint64_t ns)
{
	uint64_t us = ns / 1000 + (ns % 1000 >= 500);
	put_u64(o, us / 1000);
	unsigned frac = (unsigned)(us % 1000);
	if (frac == 0)
		return;
	char d[3] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
	int n = 3;
	while (d[n - 1] == '0')
		n--;
	put_char(o, '.');
	for (int i = 0; i < n; i++)
		put_char(o, d[i]);
}

/*
 * 2^-shift exactly, as "0.<shift digits>": 2^-k = 5^k / 10^k, so the
 * digits are those of 5^k (at most 44 digits for k = 63) zero-padded to k.
 */
static void put_rate(struct line_out *o, unsigned shift)
{
	unsigned char digits[48]; /* little-endian decimal digits of 5^shift */
	unsigned n = 1;
	digits[0] = 1;
	for (unsigned k = 0; k < shift; k++) {
		unsigned carry = 0;
		for (unsigned i = 0; i < n; i++) {
			unsigned d = digits[i] * 5u + carry;
			digits[i] = (unsigned char)(d % 10);
			carry = d / 10;
		}
		if (carry != 0)
			digits[n++] = (unsigned char)carry;
	}
	put_str(o, "0.");
	for (unsigned i = n; i < shift; i++)
		put_char(o, '0');
	while (n > 0)
		put_char(o, (char)('0' + digits[--n]));
}

static void put_tags(struct line_out *o, const struct statsd_tag *tags, size_t ntags)
{
	bool first = true;
	for (size_t i = 0; i < ntags; i++) {
		if (tags[i].key == NULL || tags[i].key[0] == '\0')
			continue;
		put_str(o, first ? "|#" : ",");
		first = false;
		put_sanitized(o, tags[i].key);
		if (tags[i].value != NULL && tags[i].value[0] != '\0') {
			put_char(o, ':');
			put_sanitized(o, tags[i].value);
		}
	}
}

size_t statsd_format_line(char *out, size_t cap, const struct statsd_metric *m, enum statsd_tag_style style)
{
	if (m->name == NULL || m->name[0] == '\0')
		return 0;
	if (m->type == STATSD_TIMER && m->rate_shift > STATSD_RATE_SHIFT_MAX)
		return 0;
	struct line_out o = {out, cap, 0};
	put_sanitized(&o, m->name);
	put_char(&o, ':');
	switch (m->type) {
	case STATSD_COUNTER:
		put_u64(&o, m->value);
		put_str(&o, "|c");
		break;
	case STATSD_GAUGE:
		put_u64(&o, m->value);
		put_str(&o, "|g");
		break;
	case STATSD_TIMER:
		put_ms(&o, m->value);
		put_str(&o, "|ms");
		if (m->rate_shift != 0) {
			put_str(&o, "|@");
			put_rate(&o, m->rate_shift);
		}
		break;
	default:
		return 0;
	}
	if (style == STATSD_TAGS_DOGSTATSD && m->tags != NULL)
		put_tags(&o, m->tags, m->ntags);
	return o.len;
}

size_t statsd_sanitize(char *out, size_t cap, const char *name)
{
	struct line_out o = {out, cap, 0};
	put_sanitized(&o, name);
	return o.len;
}

/* ---- datagrams ---- */

void statsd_packet_init(struct statsd_packet *p, char *buf, size_t max_payload)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->max_payload = max_payload;
}

void statsd_packet_reset(struct statsd_packet *p)
{
	p->len = 0;
	p->lines = 0;
}

enum statsd_add_result statsd_packet_add(struct statsd_packet *p, const struct statsd_metric *m,
                                         enum statsd_tag_style style)
{
	size_t sep = p->len == 0 ? 0 : 1;
	size_t room = p->max_payload - p->len; /* len <= max_payload always */
	size_t start = p->len + sep;
	/* Format straight after the current lines; a line that does not fit leaves len untouched. */
	size_t n = statsd_format_line(p->buf + (sep <= room ? start : p->len), room >= sep ? room - sep : 0, m, style);
	if (n == 0) {
		p->dropped_invalid++;
		return STATSD_DROPPED;
	}
	if (n > p->max_payload) {
		p->dropped_too_long++;
		return STATSD_DROPPED;
	}
	if (sep + n > room)
		return STATSD_FULL; /* only possible when the datagram holds lines: n <= max_payload */
	if (sep != 0)
		p->buf[p->len] = '\n';
	p->len = start + n;
	p->lines++;
	return STATSD_ADDED;
}

/* ---- the timer sample ---- */

static uint64_t slot_count(const struct histogram *h, int32_t slot)
{
	return slot < 0 ? h->zero_count : h->buckets[slot];
}

void statsd_timer_plan_init(struct statsd_timer_plan *plan, const struct histogram *h, uint64_t budget)
{
	memset(plan, 0, sizeof(*plan));
	plan->slot = -1;
	if (budget < STATSD_TIMER_BUDGET_MIN)
		budget = STATSD_TIMER_BUDGET_MIN;

	uint64_t n = h->zero_count;
	int32_t lowest = h->zero_count != 0 ? -1 : HISTOGRAM_BUCKETS, highest = h->zero_count != 0 ? -1 : -2;
	for (int32_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		n += h->buckets[i];
		if (i < lowest)
			lowest = i;
		highest = i;
	}
	plan->calls = n;
	if (n == 0)
		return;

	/* Smallest k with floor(N / 2^k) + popcount(N mod 2^k) <= budget; k = 63 always fits a budget >= 64. */
	unsigned k = 0;
	while (k < 63) {
		uint64_t full = n >> k;
		uint64_t rem = n & ((UINT64_C(1) << k) - 1);
		if (full + (uint64_t)__builtin_popcountll(rem) <= budget)
			break;
		k++;
	}
	plan->shift = k;
	plan->full_lines = n >> k;
	plan->remainder = n & ((UINT64_C(1) << k) - 1);
	plan->lines = plan->full_lines + (uint64_t)__builtin_popcountll(plan->remainder);
	plan->remainder_left = plan->remainder;

	/* min/max describe this histogram's extremes only if they lie in its extreme buckets. */
	if (lowest < 0)
		plan->min_usable = h->min_ns == 0;
	else
		plan->min_usable = h->min_ns != 0 && histogram_index(h->min_ns) - HISTOGRAM_OFFSET == lowest;
	if (highest < 0)
		plan->max_usable = h->max_ns == 0;
	else
		plan->max_usable = h->max_ns != 0 && histogram_index(h->max_ns) - HISTOGRAM_OFFSET == highest;
}

/* The duration of the call at rank r (r < N, never below an earlier r): its bucket, linearly interpolated. */
static uint64_t value_at_rank(struct statsd_timer_plan *plan, const struct histogram *h, uint64_t r)
{
	while (plan->slot_rank + slot_count(h, plan->slot) <= r) {
		plan->slot_rank += slot_count(h, plan->slot);
		plan->slot++;
	}
	if (plan->slot < 0)
		return 0;
	int32_t index = plan->slot + HISTOGRAM_OFFSET;
	double lower = histogram_bucket_lower(index), upper = histogram_bucket_upper(index);
	double c = (double)slot_count(h, plan->slot);
	double v = lower + (upper - lower) * ((double)(r - plan->slot_rank) + 0.5) / c;
	/* Integers in (lower, upper]: values are whole nanoseconds. */
	if (v >= 18446744073709549568.0)
		return UINT64_MAX;
	uint64_t ns = (uint64_t)(v + 0.5);
	uint64_t lo = (uint64_t)lower + 1, hi = upper >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)upper;
	if (ns > hi)
		ns = hi;
	if (ns < lo)
		ns = lo;
	return ns;
}

bool statsd_timer_plan_next(struct statsd_timer_plan *plan, const struct histogram *h, uint64_t *value_ns,
                            unsigned *rate_shift)
{
	if (plan->next_line >= plan->lines)
		return false;
	uint64_t line = plan->next_line;
	unsigned m = (unsigned)__builtin_popcountll(plan->remainder);
	unsigned shift = plan->shift;
	/* Remainder line j sits at floor((2j + 1) L / 2m): evenly spread, distinct, < L. */
	if (plan->remainder_done < m) {
		unsigned __int128 pos = ((unsigned __int128)(2 * plan->remainder_done + 1) * plan->lines) / (2 * m);
		if (pos == line) {
			shift = 63u - (unsigned)__builtin_clzll(plan->remainder_left);
			plan->remainder_left &= ~(UINT64_C(1) << shift);
			plan->remainder_done++;
		}
	}
	uint64_t weight = UINT64_C(1) << shift;
	uint64_t v = value_at_rank(plan, h, plan->next_rank + (weight - 1) / 2);
	if (plan->min_usable && (line == 0 || v < h->min_ns))
		v = h->min_ns;
	if (plan->max_usable && (line == plan->lines - 1 || v > h->max_ns))
		v = h->max_ns;
	plan->next_rank += weight;
	plan->next_line++;
	*value_ns = v;
	*rate_shift = shift;
	return true;
}
