/* SPDX-License-Identifier: MIT */
/* otlp_exporter.c: the OTLP/HTTP backend (contract in otlp_exporter.h). */
#define _GNU_SOURCE
#include "otlp_exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "histogram.h"
#include "hotpath.h"
#include "log.h"
#include "otlp_encode.h"
#include "otlp_http.h"
#include "series_totals.h"
#include "stdbtel_build.h"

/* Partial-success rejections and failed exports are each logged at most this often. */
#define PARTIAL_SUCCESS_LOG_MS 10000
#define DROP_LOG_MS 10000

struct otlp_exporter {
	struct otlp_exporter_context ctx;
	struct otlp_http *http;
	char *traces_url, *metrics_url;
	struct span_record *pending; /* batch_max records */
	size_t npending, batch_max;
	int64_t last_send_ms;
	int64_t last_partial_log_ms;
	int64_t deadline_cap_ms;     /* 0: none (otlp_exporter_set_deadline_cap) */
	int64_t last_drop_log_ms;
	uint64_t drops_unlogged;     /* failed exports since the last line about them */
	uint64_t spans_sent, spans_dropped;
	struct series_totals series; /* hooks with tag or metric captures: per tag values */
};

/* The process environment, for otlp_http_proxy_from_env (called before the thread starts). */
static const char *process_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

struct otlp_exporter *otlp_exporter_open(const struct otlp_exporter_context *ctx, char *err, size_t errlen)
{
	const struct stdbtel_config *cfg = ctx->cfg;
	struct otlp_exporter *e = calloc(1, sizeof *e);
	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->ctx = *ctx;
	e->batch_max = cfg->bsp_max_export_batch_size ? cfg->bsp_max_export_batch_size : 512;
	if (e->batch_max < 2)
		e->batch_max = 2; /* a stack and its span */
	e->pending = malloc(e->batch_max * sizeof *e->pending);
	e->traces_url = otlp_http_signal_url(cfg->otlp_endpoint, cfg->otlp_traces_endpoint, "v1/traces");
	e->metrics_url = otlp_http_signal_url(cfg->otlp_endpoint, cfg->otlp_metrics_endpoint, "v1/metrics");
	if (e->pending == NULL || e->traces_url == NULL || e->metrics_url == NULL) {
		snprintf(err, errlen, "out of memory");
		otlp_exporter_close(e);
		return NULL;
	}
	const char *proxy = NULL, *no_proxy = NULL;
	otlp_http_proxy_from_env(e->traces_url, process_getenv, NULL, &proxy, &no_proxy);
	struct otlp_http_config hc = {
		.headers = cfg->otlp_headers,
		.nheaders = cfg->notlp_headers,
		.timeout_ms = cfg->otlp_timeout_ms,
		.gzip = cfg->otlp_gzip,
		.ca_file = cfg->otlp_certificate,
		.proxy = proxy,
		.no_proxy = no_proxy,
	};
	e->http = otlp_http_create(&hc, err, errlen);
	if (e->http == NULL) {
		otlp_exporter_close(e);
		return NULL;
	}
	e->last_send_ms = otlp_http_now_ms();
	e->last_partial_log_ms = -PARTIAL_SUCCESS_LOG_MS;
	e->last_drop_log_ms = -DROP_LOG_MS;
	return e;
}

/* One export; true when the collector took it (partial successes logged, rate-limited). */
static bool send_body(struct otlp_exporter *e, const char *url, enum otlp_signal signal, const struct otlp_bytes *b)
{
	struct otlp_http_result r;
	int64_t deadline = e->ctx.cfg->otlp_timeout_ms ? otlp_http_now_ms() + e->ctx.cfg->otlp_timeout_ms : 0;
	if (e->deadline_cap_ms != 0 && (deadline == 0 || deadline > e->deadline_cap_ms))
		deadline = e->deadline_cap_ms;
	enum otlp_http_outcome out = otlp_http_export(e->http, url, b->data, b->len, deadline, e->ctx.abort, &r);
	if (out != OTLP_HTTP_DELIVERED) {
		/* One line per DROP_LOG_MS however many batches fail: a collector that
		 * stays down must not flood the host's stderr. */
		e->drops_unlogged++;
		int64_t now = otlp_http_now_ms();
		if (out == OTLP_HTTP_DROPPED && now - e->last_drop_log_ms >= DROP_LOG_MS) {
			log_write(LOG_WARN, "OTLP export to %s failed (%s); %llu export%s dropped%s", url, r.reason,
			          (unsigned long long)e->drops_unlogged, e->drops_unlogged == 1 ? "" : "s",
			          e->drops_unlogged == 1 ? "" : " since the last report");
			e->last_drop_log_ms = now;
			e->drops_unlogged = 0;
		}
		return false;
	}
	struct otlp_partial_success ps;
	if (r.body_len > 0 && otlp_decode_partial_success(signal, r.body, r.body_len, &ps) == 0 && ps.present &&
	    (ps.rejected > 0 || ps.message[0] != '\0')) {
		int64_t now = otlp_http_now_ms();
		if (now - e->last_partial_log_ms >= PARTIAL_SUCCESS_LOG_MS) {
			e->last_partial_log_ms = now;
			log_write(LOG_WARN, "OTLP collector at %s rejected %lld %s: %s", url, (long long)ps.rejected,
			          signal == OTLP_SIGNAL_TRACES ? "spans" : "data points",
			          ps.message[0] ? ps.message : "(no message)");
		}
	}
	return true;
}

static void send_pending(struct otlp_exporter *e)
{
	size_t n = e->npending;
	e->npending = 0;
	e->last_send_ms = otlp_http_now_ms();
	if (n == 0)
		return;
	struct otlp_bytes b = { 0 };
	long spans = otlp_encode_spans(&b, e->ctx.resource, STDBTEL_VERSION, e->ctx.cfg, e->ctx.targets,
	                               __atomic_load_n(e->ctx.ntargets, __ATOMIC_ACQUIRE), e->pending, n,
	                               clock_ticks_to_unix_ns, e->ctx.stacks);
	if (spans < 0) {
		size_t lost = span_records_count_spans(e->pending, n);
		e->spans_dropped += lost;
		log_write(LOG_ERROR, "out of memory encoding %zu spans for OTLP; dropped", lost);
	} else if (spans > 0) {
		if (send_body(e, e->traces_url, OTLP_SIGNAL_TRACES, &b))
			e->spans_sent += (uint64_t)spans;
		else
			e->spans_dropped += (uint64_t)spans;
	}
	otlp_bytes_free(&b);
}

void otlp_exporter_add_spans(struct otlp_exporter *e, const struct span_record *records, size_t n)
{
	while (n > 0) {
		size_t room = e->batch_max - e->npending;
		size_t take = n < room ? n : room;
		/* never split a stack from the span after it */
		if (take < n && take > 0 && (records[take - 1].flags & SPAN_STACK))
			take--;
		if (take == 0) { /* full, or only a stack would fit: send, then start a new batch */
			send_pending(e);
			continue;
		}
		memcpy(e->pending + e->npending, records, take * sizeof *records);
		e->npending += take;
		records += take;
		n -= take;
		if (e->npending == e->batch_max || n > 0)
			send_pending(e);
	}
}

void otlp_exporter_flush_spans(struct otlp_exporter *e, bool force)
{
	if (e->npending == 0) {
		e->last_send_ms = otlp_http_now_ms();
		return;
	}
	if (force || otlp_http_now_ms() - e->last_send_ms >= (int64_t)e->ctx.cfg->bsp_schedule_delay_ms)
		send_pending(e);
}

void otlp_exporter_send_metrics(struct otlp_exporter *e, uint64_t start_unix_ns, uint64_t now_unix_ns)
{
	const struct stdbtel_config *cfg = e->ctx.cfg;
	size_t n = cfg->nhooks;
	bool any_series = false;
	for (size_t i = 0; i < n; i++)
		any_series = any_series || series_hook_has_series(&cfg->hooks[i]);
	if (any_series)
		series_totals_collect(&e->series);
	size_t nseries = any_series ? e->series.count : 0;

	/* One entry per plain hook and per series; counters: the shim's own, one per series and metric capture. */
	enum { OWN_COUNTERS = 3 };
	struct hotpath_hook_stats *stats = calloc(n ? n : 1, sizeof *stats);
	struct otlp_hook_metrics *hm = calloc(n + nseries + 1, sizeof *hm);
	struct series_attributes *attrs = calloc(nseries + 1, sizeof *attrs);
	struct otlp_counter *counters = calloc(OWN_COUNTERS + nseries * CONFIG_MAX_CAPTURES, sizeof *counters);
	if (stats == NULL || hm == NULL || attrs == NULL || counters == NULL) {
		free(stats);
		free(hm);
		free(attrs);
		free(counters);
		log_write(LOG_ERROR, "out of memory collecting metrics for OTLP");
		return;
	}
	size_t nhm = 0, ncounters = 0;
	for (size_t i = 0; i < n; i++) {
		if (series_hook_has_series(&cfg->hooks[i]))
			continue;
		hotpath_hook_totals(i, &stats[i]);
		hm[nhm++] = (struct otlp_hook_metrics){
			.name = cfg->hooks[i].span != NULL ? cfg->hooks[i].span : cfg->hooks[i].symbol,
			.calls = stats[i].duration.count,
			.errors = stats[i].errors,
			.duration = &stats[i].duration,
			.start_unix_ns = start_unix_ns,
			.now_unix_ns = now_unix_ns,
		};
	}
	for (size_t s = 0; s < nseries; s++) {
		const struct series_total *t = &e->series.items[s];
		if (t->key.hook_index >= n || t->collection != e->series.collection)
			continue;
		const struct hook_config *h = &cfg->hooks[t->key.hook_index];
		series_attributes_otlp(cfg, h, &t->key, &attrs[s]);
		hm[nhm++] = (struct otlp_hook_metrics){
			.name = h->span != NULL ? h->span : h->symbol,
			.calls = t->now.duration.count,
			.errors = t->now.errors,
			.duration = &t->now.duration,
			.start_unix_ns = start_unix_ns,
			.now_unix_ns = now_unix_ns,
			.attributes = attrs[s].attrs,
			.nattributes = attrs[s].nattrs,
		};
		for (size_t c = 0; c < h->ncaptures && c < CONFIG_MAX_CAPTURES; c++)
			if (h->captures[c].metric != NULL)
				counters[ncounters++] = (struct otlp_counter){
					.name = h->captures[c].metric, .unit = "1", .description = NULL,
					.value = t->now.sums[c], .start_unix_ns = start_unix_ns, .now_unix_ns = now_unix_ns,
					.attributes = attrs[s].attrs, .nattributes = attrs[s].nattrs,
				};
	}
	struct hotpath_totals tot;
	hotpath_totals(&tot);
	counters[ncounters++] = (struct otlp_counter){
		"stdbtel.spans.dropped", "{span}", "spans lost because a thread's ring was full", tot.dropped,
		start_unix_ns, now_unix_ns, NULL, 0 };
	counters[ncounters++] = (struct otlp_counter){
		"stdbtel.spans.export_failed", "{span}", "spans the OTLP collector did not take", e->spans_dropped,
		start_unix_ns, now_unix_ns, NULL, 0 };
	counters[ncounters++] = (struct otlp_counter){
		"stdbtel.captures.unreadable", "{value}", "captured values whose memory could not be read",
		tot.unreadable, start_unix_ns, now_unix_ns, NULL, 0 };
	struct otlp_bytes b = { 0 };
	long points = otlp_encode_metrics(&b, e->ctx.resource, STDBTEL_VERSION, hm, nhm, counters, ncounters);
	if (points > 0)
		send_body(e, e->metrics_url, OTLP_SIGNAL_METRICS, &b);
	else if (points < 0)
		log_write(LOG_ERROR, "out of memory encoding metrics for OTLP");
	otlp_bytes_free(&b);
	free(stats);
	free(hm);
	free(attrs);
	free(counters);
}

void otlp_exporter_set_deadline_cap(struct otlp_exporter *e, int64_t deadline_ms)
{
	e->deadline_cap_ms = deadline_ms;
}

void otlp_exporter_counts(const struct otlp_exporter *e, uint64_t *sent, uint64_t *dropped)
{
	*sent = e->spans_sent;
	*dropped = e->spans_dropped;
}

void otlp_exporter_close(struct otlp_exporter *e)
{
	if (e == NULL)
		return;
	if (e->drops_unlogged > 0)
		log_write(LOG_WARN, "OTLP: %llu more export%s dropped (%llu spans in all)", (unsigned long long)e->drops_unlogged,
		          e->drops_unlogged == 1 ? "" : "s", (unsigned long long)e->spans_dropped);
	if (e->http != NULL)
		otlp_http_destroy(e->http);
	free(e->traces_url);
	free(e->metrics_url);
	free(e->pending);
	series_totals_free(&e->series);
	free(e);
}
