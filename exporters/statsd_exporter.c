/* SPDX-License-Identifier: MIT */
/* statsd_exporter.c: the StatsD backend (contract in statsd_exporter.h). */
#include "statsd_exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "hotpath.h"
#include "log.h"
#include "series_totals.h"
#include "statsd_format.h"
#include "statsd_udp.h"

struct statsd_exporter {
	const struct stdbtel_config *cfg;
	struct statsd_udp *udp;
	enum statsd_tag_style style;
	char *buf;
	struct statsd_packet packet;
	struct hotpath_hook_stats *sent; /* per hook: the totals already sent */
	struct hotpath_hook_stats now;   /* scratch: this interval's totals */
	struct histogram delta;          /* scratch: now - sent */
	struct series_totals series;     /* hooks with tag or metric captures: per tag values */
};

struct statsd_exporter *statsd_exporter_open(const struct stdbtel_config *cfg, char *err, size_t errlen)
{
	struct statsd_exporter *s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->style = cfg->statsd_plain ? STATSD_TAGS_NONE : STATSD_TAGS_DOGSTATSD;
	size_t payload = cfg->statsd_max_payload ? cfg->statsd_max_payload : STATSD_MAX_PAYLOAD_DEFAULT;
	s->buf = malloc(payload);
	s->sent = calloc(cfg->nhooks ? cfg->nhooks : 1, sizeof *s->sent);
	if (s->buf == NULL || s->sent == NULL) {
		snprintf(err, errlen, "out of memory");
		statsd_exporter_close(s);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nhooks; i++)
		histogram_reset(&s->sent[i].duration);
	series_totals_init(&s->series);
	statsd_packet_init(&s->packet, s->buf, payload);
	s->udp = statsd_udp_open(cfg->statsd_host, cfg->statsd_port, err, errlen);
	if (s->udp == NULL) {
		statsd_exporter_close(s);
		return NULL;
	}
	return s;
}

static void send_packet(struct statsd_exporter *s)
{
	if (s->packet.len > 0)
		statsd_udp_send(s->udp, s->packet.buf, s->packet.len);
	statsd_packet_reset(&s->packet);
}

static void add(struct statsd_exporter *s, const struct statsd_metric *m)
{
	if (statsd_packet_add(&s->packet, m, s->style) == STATSD_FULL) {
		send_packet(s);
		statsd_packet_add(&s->packet, m, s->style);
	}
}

/* One interval of one aggregate: counts, errors and timer lines under the hook's names. */
static void add_interval(struct statsd_exporter *s, const struct hook_config *h, uint64_t calls, uint64_t errors,
                         const struct histogram *now, const struct histogram *sent, const struct statsd_tag *tags,
                         size_t ntags)
{
	const struct stdbtel_config *cfg = s->cfg;
	if (h->metric_count != NULL && calls > 0)
		add(s, &(struct statsd_metric){ .type = STATSD_COUNTER, .name = h->metric_count, .value = calls,
		                               .tags = tags, .ntags = ntags });
	if (h->metric_errors != NULL && errors > 0)
		add(s, &(struct statsd_metric){ .type = STATSD_COUNTER, .name = h->metric_errors, .value = errors,
		                               .tags = tags, .ntags = ntags });
	if (h->metric_duration != NULL && calls > 0) {
		histogram_subtract(&s->delta, now, sent);
		struct statsd_timer_plan plan;
		statsd_timer_plan_init(&plan, &s->delta,
		                       cfg->statsd_timer_budget ? cfg->statsd_timer_budget : STATSD_TIMER_BUDGET_DEFAULT);
		uint64_t value_ns;
		unsigned shift;
		while (statsd_timer_plan_next(&plan, &s->delta, &value_ns, &shift))
			add(s, &(struct statsd_metric){ .type = STATSD_TIMER, .name = h->metric_duration,
			                               .value = value_ns, .rate_shift = shift, .tags = tags,
			                               .ntags = ntags });
	}
}

/* The hooks with tag or metric captures: one set of lines per series, tagged with its values. */
static void flush_series(struct statsd_exporter *s)
{
	const struct stdbtel_config *cfg = s->cfg;
	series_totals_collect(&s->series);
	for (size_t i = 0; i < s->series.count; i++) {
		struct series_total *t = &s->series.items[i];
		if (t->key.hook_index >= cfg->nhooks)
			continue;
		const struct hook_config *h = &cfg->hooks[t->key.hook_index];
		struct series_tags tags;
		series_tags_statsd(cfg, h, &t->key, &tags);
		add_interval(s, h, t->now.duration.count - t->sent.duration.count, t->now.errors - t->sent.errors,
		             &t->now.duration, &t->sent.duration, tags.tags, tags.ntags);
		for (size_t c = 0; c < h->ncaptures && c < CONFIG_MAX_CAPTURES; c++) {
			uint64_t added = t->now.sums[c] - t->sent.sums[c];
			if (h->captures[c].metric != NULL && added > 0)
				add(s, &(struct statsd_metric){ .type = STATSD_COUNTER, .name = h->captures[c].metric,
				                               .value = added, .tags = tags.tags, .ntags = tags.ntags });
		}
		t->sent = t->now;
	}
	if (s->series.out_of_memory) {
		s->series.out_of_memory = false;
		log_write(LOG_ERROR, "StatsD: out of memory: some tagged series were not sent");
	}
}

void statsd_exporter_flush(struct statsd_exporter *s)
{
	const struct stdbtel_config *cfg = s->cfg;
	bool any_series = false;
	for (size_t i = 0; i < cfg->nhooks; i++) {
		const struct hook_config *h = &cfg->hooks[i];
		if (series_hook_has_series(h)) {
			any_series = true;
			continue;
		}
		if (h->metric_count == NULL && h->metric_errors == NULL && h->metric_duration == NULL)
			continue;
		hotpath_hook_totals(i, &s->now);
		add_interval(s, h, s->now.duration.count - s->sent[i].duration.count, s->now.errors - s->sent[i].errors,
		             &s->now.duration, &s->sent[i].duration, NULL, 0);
		s->sent[i] = s->now;
	}
	if (any_series)
		flush_series(s);
	send_packet(s);
	char msg[256];
	if (statsd_udp_take_report(s->udp, msg, sizeof msg))
		log_write(LOG_WARN, "%s", msg);
}

void statsd_exporter_close(struct statsd_exporter *s)
{
	if (s == NULL)
		return;
	if (s->udp != NULL)
		statsd_udp_close(s->udp);
	free(s->buf);
	free(s->sent);
	series_totals_free(&s->series);
	free(s);
}
