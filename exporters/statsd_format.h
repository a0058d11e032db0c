/* SPDX-License-Identifier: MIT */
/*
 * statsd_format.h: StatsD / DogStatsD lines, datagram packing, and the
 * timer sample drawn from a duration histogram. Pure: no I/O, no globals,
 * no allocation, no locale (every number is formatted by hand).
 *
 * Owns three things:
 *
 * 1. Lines. One metric per line, in the form both Etsy statsd 0.9 and
 *    DogStatsD parse:
 *
 *        counter   name:N|c[|#k:v,...]
 *        gauge     name:N|g[|#k:v,...]
 *        timer     name:MS|ms[|@RATE][|#k:v,...]
 *
 *    N is a decimal uint64. MS is milliseconds from nanoseconds, rounded
 *    half up to the microsecond, written with up to 3 decimals and no
 *    trailing zeros ("12.345", "12.3", "12", "0.001"; below 0.5 us, "0").
 *    Counters are never sampled (they are exact per flush); only timers
 *    carry a rate, and it is always a power of two, 2^-k, written exactly
 *    ("0.5", "0.25", "0.0625"; never an exponent, which Etsy's
 *    `^@([\d.]+)` would not read). Tags come last: Etsy statsd glues
 *    anything after the tags into the last tag.
 *
 *    Sanitising: the characters that delimit a line's fields, ':' '|' '@'
 *    ',' '#', and every control byte (newline included, which would split
 *    the line) become '_' in names, tag keys and tag values. Nothing else
 *    is changed: Etsy statsd applies its own key rules afterwards (space to
 *    '_', '/' to '-', anything outside [A-Za-z0-9_.;=-] removed) and folds
 *    a tag `k:v` into the key as `name;k=v`, in the order sent. A tag with
 *    an empty or NULL key is skipped; one with an empty or NULL value is a
 *    bare tag `k`.
 *
 *    Tag styles: STATSD_TAGS_DOGSTATSD (the default) appends `|#...`.
 *    STATSD_TAGS_NONE is plain StatsD for daemons that reject `|#`: tags
 *    are DROPPED, not folded into the name. Why: plain StatsD has a flat
 *    namespace, and folding (`name.table_7` or `name;table=7`) would turn
 *    every captured value into a new series under a name nobody
 *    configured, with unbounded cardinality; dashboards key on the names
 *    in [hook.metrics]. Dropping keeps those names exact, and the daemon
 *    merges the lines of one name: counters still sum to the exact total,
 *    timers pool their values. (Etsy statsd 0.9 itself already folds
 *    DogStatsD tags into `name;k=v`, so the default style gives per-tag
 *    series there.)
 *
 * 2. Datagrams. A struct statsd_packet packs lines, '\n'-separated with no
 *    trailing newline, into a caller buffer of at most max_payload bytes
 *    (STATSD_MAX_PAYLOAD_DEFAULT = 1432: 1500-byte Ethernet MTU less IP and
 *    UDP headers with room for options; what the Datadog clients use). A
 *    line is never split: statsd_packet_add() answers STATSD_FULL when the
 *    line does not fit in what is left (the caller sends the datagram,
 *    resets the packet, and adds the same metric again). A line that alone
 *    exceeds max_payload can never be sent: it is dropped and counted
 *    (STATSD_DROPPED, dropped_too_long), as is a metric with an empty name
 *    (dropped_invalid).
 *
 * 3. The timer sample. The hot path keeps a histogram per hook (OTLP
 *    exponential buckets, scale 3, shim/histogram.h), not the individual
 *    durations. statsd computes a timer's statistics from the values it
 *    receives: count = sum of 1/rate over the lines, count_ps = count /
 *    flush interval, and lower, upper, mean, median, std, upper_90 ... from
 *    the values themselves, unweighted (the rate scales only the count).
 *    So the lines sent for an interval should be (a) values whose
 *    unweighted statistics are the distribution's, and (b) rates whose
 *    1/rate adds up to exactly the interval's N calls.
 *
 *    Design: the N calls are ordered by duration (rank 0 .. N-1, as the
 *    buckets order them) and cut into L consecutive rank ranges, one line
 *    each. Every range holds a power of two of calls, 2^s, and its line
 *    carries @2^-s (no rate when s = 0). Then 1/rate is an exact integer
 *    in binary and in decimal, and statsd's count is exactly N (a sum of
 *    integers in a double), which a rate like B/N = 0.333... could never
 *    give. Given the per-interval budget B of lines:
 *      - N <= B: one line per call (L = N, no rates).
 *      - N > B: k = the smallest shift with floor(N / 2^k) +
 *        popcount(N mod 2^k) <= B; floor(N / 2^k) "full" lines of 2^k
 *        calls, and the remainder N mod 2^k as one line per set bit
 *        (at most k lines), spread evenly among the full lines so that
 *        no part of the distribution is over-represented. L <= B; B is
 *        raised to STATSD_TIMER_BUDGET_MIN (64), the least that fits every
 *        N < 2^64 (k = 63: at most 1 + 63 lines).
 *    A line's value is the duration at the middle rank of its range, read
 *    from the histogram: the calls of a bucket are placed evenly
 *    (linearly) across its (lower, upper] boundaries. The first line takes
 *    the histogram's min_ns and the last its max_ns when those lie in the
 *    lowest and highest non-empty bucket (for an interval's histogram made
 *    by subtracting two snapshots, a min/max from an earlier interval
 *    usually does not, and is then not used).
 *
 *    The error this leaves, as statsd reports it:
 *      - count, count_ps: exact (powers of two; also in sampled intervals).
 *      - lower, upper: exact when min/max are used (above), else within
 *        their bucket: at most 9.05% (2^(1/8) - 1) relative.
 *      - mean, median, percentiles: each value within its bucket (at most
 *        9.05%, typically under half that from the interpolation). When
 *        sampled, statsd's unweighted percentile also lands on a call
 *        whose rank is off by at most (m + 2) * 2^k calls: half a line
 *        for the midpoint, one for statsd's rounding, and the m <= k
 *        remainder lines, which count as much as full lines. Where the
 *        distribution is sparse (a long tail), that rank error, not the
 *        bucket, dominates.
 *      - sum, sum_squares: statsd sums the values it received, so when
 *        sampled these are the sample's (about N/L times too small); the
 *        mean is right, the sum is not (statsd's own behaviour with rates).
 *      - every value rounded to 1 us by the line format.
 *
 * Threading: every function works on caller-owned memory only; call from
 * any one thread per object (the exporter thread in practice).
 */
#ifndef STDBTEL_STATSD_FORMAT_H
#define STDBTEL_STATSD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

#define STATSD_MAX_PAYLOAD_DEFAULT 1432 /* bytes per datagram, headers excluded */
#define STATSD_TIMER_BUDGET_DEFAULT 1000 /* timer lines per metric per interval */
#define STATSD_TIMER_BUDGET_MIN 64      /* smaller budgets are raised to this */
#define STATSD_RATE_SHIFT_MAX 63        /* rates go down to 2^-63 */

enum statsd_tag_style {
	STATSD_TAGS_DOGSTATSD = 0, /* |#k:v,... (default; Etsy 0.9 folds them into name;k=v) */
	STATSD_TAGS_NONE,          /* plain StatsD: tags dropped */
};

enum statsd_type {
	STATSD_COUNTER, /* value: the count for the interval, |c */
	STATSD_GAUGE,   /* value: the level (never negative, so never relative), |g */
	STATSD_TIMER,   /* value: nanoseconds, sent as |ms; rate_shift applies */
};

struct statsd_tag {
	const char *key;   /* NULL or "": the tag is skipped */
	const char *value; /* NULL or "": a bare tag */
};

/* One line to format. */
struct statsd_metric {
	enum statsd_type type;
	const char *name;              /* sanitised on output; empty: dropped */
	uint64_t value;
	unsigned rate_shift;           /* timers: sample rate 2^-rate_shift (0: none, max 63); else ignored */
	const struct statsd_tag *tags; /* ntags entries, or NULL */
	size_t ntags;
};

/*
 * Formats m as one line (no newline, no NUL) into out[0 .. cap). Returns
 * the line's full length; when that is more than cap, out holds only the
 * first cap bytes (a truncated line, not to be sent). Returns 0 for a
 * metric that is no line at all (empty name, or rate_shift > 63).
 */
size_t statsd_format_line(char *out, size_t cap, const struct statsd_metric *m, enum statsd_tag_style style);

/* Writes name with the sanitising rules above into out[0 .. cap); returns its length. For tests and callers that build keys. */
size_t statsd_sanitize(char *out, size_t cap, const char *name);

/* ---- datagrams ---- */

struct statsd_packet {
	char *buf;                 /* caller's buffer of at least max_payload bytes */
	size_t max_payload;
	size_t len;                /* bytes of the current datagram */
	size_t lines;              /* lines in it */
	uint64_t dropped_too_long; /* lines longer than max_payload, never sent */
	uint64_t dropped_invalid;  /* metrics that make no line (empty name) */
};

enum statsd_add_result {
	STATSD_ADDED,   /* the line is in the datagram */
	STATSD_FULL,    /* it does not fit: send buf[0 .. len), statsd_packet_reset(), add it again */
	STATSD_DROPPED, /* it can never be sent; counted in the packet */
};

/* An empty packet over buf (max_payload bytes, > 0). Counters start at 0. */
void statsd_packet_init(struct statsd_packet *p, char *buf, size_t max_payload);

/* Empties the datagram after it was sent (or given up); keeps the drop counters. */
void statsd_packet_reset(struct statsd_packet *p);

/* Appends m's line (after a '\n' unless the datagram is empty). STATSD_FULL only when the datagram is not empty. */
enum statsd_add_result statsd_packet_add(struct statsd_packet *p, const struct statsd_metric *m,
                                         enum statsd_tag_style style);

/* ---- the timer sample from a histogram ---- */

/*
 * The lines for one timer over one interval (see the design above). The
 * plan reads h at init and at every next(): h must not change in between.
 * h's counts are the interval's (a delta histogram); h->count is not
 * used (N = zero_count + the sum of the buckets, which the exporter reads
 * consistently).
 */
struct statsd_timer_plan {
	uint64_t calls;      /* N */
	unsigned shift;      /* k: full lines stand for 2^k calls each */
	uint64_t full_lines; /* floor(N / 2^k) */
	uint64_t remainder;  /* N mod 2^k: one line per set bit */
	uint64_t lines;      /* L = full_lines + popcount(remainder) <= max(budget, 64) */
	/* cursor */
	uint64_t next_line;      /* lines produced so far */
	uint64_t next_rank;      /* first rank of the next line's range */
	uint64_t remainder_left; /* bits of the remainder not yet produced */
	uint64_t remainder_done; /* remainder lines produced */
	int32_t slot;            /* -1: the zero bucket, else buckets[slot] */
	uint64_t slot_rank;      /* rank of the first call in slot */
	bool min_usable, max_usable;
};

/* Plans the lines for h under budget (raised to STATSD_TIMER_BUDGET_MIN). */
void statsd_timer_plan_init(struct statsd_timer_plan *plan, const struct histogram *h, uint64_t budget);

/*
 * The next line: its value in nanoseconds and its rate shift (the line
 * stands for 2^shift calls). Values come in ascending order. Returns
 * false after the last line.
 */
bool statsd_timer_plan_next(struct statsd_timer_plan *plan, const struct histogram *h, uint64_t *value_ns,
                            unsigned *rate_shift);

#endif
