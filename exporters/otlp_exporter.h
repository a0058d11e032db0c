/* SPDX-License-Identifier: MIT */
/*
 * otlp_exporter.h: the OTLP/HTTP backend of the exporter thread: span
 * records batched into ExportTraceServiceRequests for /v1/traces, and the
 * hooks' aggregates as ExportMetricsServiceRequests for /v1/metrics.
 *
 * Owns: the transport (otlp_http.h, one kept-alive connection), the two
 * URLs, and the pending batch: at most bsp_max_export_batch_size span
 * records, sent when full or when bsp_schedule_delay_ms has passed since
 * the last send. One export at a time, on the exporter thread, bounded by
 * otlp_timeout_ms (retries included); a batch the transport drops is
 * counted and never sent again (OTLP accepts loss, not duplicates, from a
 * client that cannot know). While a send waits, the hot path keeps writing
 * into its rings, which drop and count when full: memory stays bounded.
 *
 * Threading: every function runs on the exporter thread, except that the
 * abort flag may be set from any thread (shutdown).
 */
#ifndef STDBTEL_OTLP_EXPORTER_H
#define STDBTEL_OTLP_EXPORTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "otlp_json.h"
#include "span_record.h"

struct otlp_exporter;

/* What the backend needs to encode; all borrowed for the exporter's life. */
struct otlp_exporter_context {
	const struct stdbtel_config *cfg;
	const struct otlp_resource *resource;
	const struct otlp_target *targets;       /* read up to *ntargets (acquire) */
	const size_t *ntargets;
	const struct otlp_stack_formatter *stacks; /* NULL: no code.stacktrace */
	const atomic_bool *abort;                  /* set at shutdown: the send in progress gives up */
};

/* NULL (reason in err) when the transport cannot be made. */
struct otlp_exporter *otlp_exporter_open(const struct otlp_exporter_context *ctx, char *err, size_t errlen);

/*
 * Queues records (span records and SPAN_STACK records, a stack always
 * right before its span), sending a batch whenever the pending one fills.
 */
void otlp_exporter_add_spans(struct otlp_exporter *e, const struct span_record *records, size_t n);

/* Sends the pending batch when the schedule delay has passed (or force). */
void otlp_exporter_flush_spans(struct otlp_exporter *e, bool force);

/*
 * Sends one metrics request: every hook's calls, errors and durations
 * (hotpath_hook_totals), cumulative since start_unix_ns, plus the shim's
 * own counters (spans dropped by the rings and by failed exports).
 */
void otlp_exporter_send_metrics(struct otlp_exporter *e, uint64_t start_unix_ns, uint64_t now_unix_ns);

/*
 * From now on every send ends by deadline_ms (otlp_http_now_ms clock) at
 * the latest: for the last flush at exit, so that a collector that is down
 * or hangs delays the host's exit by that much, not by the export timeout.
 */
void otlp_exporter_set_deadline_cap(struct otlp_exporter *e, int64_t deadline_ms);

/* Spans sent and dropped (by failed exports) so far. */
void otlp_exporter_counts(const struct otlp_exporter *e, uint64_t *sent, uint64_t *dropped);

void otlp_exporter_close(struct otlp_exporter *e);

#endif
