/* SPDX-License-Identifier: MIT */
/*
 * series_totals.h: the tagged metrics of every thread merged into one
 * aggregate per (hook, tag values), and those tag values as text for
 * StatsD and as typed attributes for OTLP.
 *
 * Owns: a growing array of series, each the sum over threads of the
 * hot path's per-thread series with equal keys (hotpath.h), cumulative
 * since start; and per series what a delta backend (StatsD) last sent.
 * The array only grows (a series, once seen, stays, so its deltas keep
 * their base). Exporter thread only; the merging itself is pure
 * (series_totals_merge), the collection walks the hot path's threads.
 *
 * Tag values: integers in decimal by the capture's type (signed types
 * signed), bool "true"/"false", pointer 0x..., strings as captured (cut at
 * HOTPATH_SERIES_TEXT bytes in all); a value the hot path could not read
 * is SERIES_UNREADABLE_VALUE. The overflow series of a hook has no tag
 * values and one tag otel.metric.overflow = true.
 *
 * The [http] hook's series (shim/http_server.c) have the tags method,
 * path (the matched route template, "unmatched" when none) and status,
 * then each configured path parameter as name:value; as OTLP attributes
 * http.request.method, http.route (left out when unmatched),
 * http.response.status_code and the parameters' attribute names.
 */
#ifndef STDBTEL_SERIES_TOTALS_H
#define STDBTEL_SERIES_TOTALS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "hotpath.h"
#include "statsd_format.h"

#define SERIES_UNREADABLE_VALUE "unreadable"
#define SERIES_OVERFLOW_ATTRIBUTE "otel.metric.overflow"

struct series_total {
	struct hotpath_series_key key;
	struct hotpath_series_stats now;  /* merged at the last collection */
	struct hotpath_series_stats sent; /* for a delta backend: the totals it has sent */
	unsigned long collection;         /* the collection that last merged into now */
};

struct series_totals {
	struct series_total *items;
	size_t count, capacity;
	unsigned long collection;
	bool out_of_memory;               /* a series could not be added (logged by the caller) */
};

void series_totals_init(struct series_totals *st);
void series_totals_free(struct series_totals *st);

/* Starts a collection: every series' now is zeroed (threads add into it again). */
void series_totals_begin(struct series_totals *st);

/* Adds one thread's series into the one of equal key (created with sent = 0). Pure. */
void series_totals_merge(struct series_totals *st, const struct hotpath_series_key *key,
                         const struct hotpath_series_stats *stats);

/* begin + merge of every thread's series (hotpath_series_foreach). */
void series_totals_collect(struct series_totals *st);

/* Tags of a series as text, for StatsD. */
#define SERIES_TAG_TEXT 72
#define SERIES_MAX_TAGS 12
struct series_tags {
	struct statsd_tag tags[SERIES_MAX_TAGS];
	size_t ntags;
	char text[SERIES_MAX_TAGS][SERIES_TAG_TEXT];
	char names[SERIES_MAX_TAGS][SERIES_TAG_TEXT];
};
void series_tags_statsd(const struct stdbtel_config *cfg, const struct hook_config *hook,
                        const struct hotpath_series_key *key, struct series_tags *out);

/* Tags of a series as OTLP attributes: named by the capture's attribute, or its tag when it has none. */
struct series_attributes {
	struct config_attribute attrs[SERIES_MAX_TAGS];
	size_t nattrs;
	char text[SERIES_MAX_TAGS][SERIES_TAG_TEXT];
};
void series_attributes_otlp(const struct stdbtel_config *cfg, const struct hook_config *hook,
                            const struct hotpath_series_key *key, struct series_attributes *out);

/* Whether a hook keeps series: a capture with a tag or a metric, or the [http] hook. */
bool series_hook_has_series(const struct hook_config *hook);

#endif
