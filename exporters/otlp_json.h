/* SPDX-License-Identifier: MIT */
/*
 * otlp_json.h: span records to OTLP/JSON, one ExportTraceServiceRequest
 * object per line (the shape the collector's file exporter writes).
 *
 * Owns: the JSON text. Pure: no I/O, no globals; memory only through the
 * caller's json_buf (the exporter thread's, never the hot path's).
 *
 * Encoding rules (OTLP/JSON, normative): ids are lowercase hex strings,
 * enums are integers, 64-bit integers are decimal strings, keys are
 * lowerCamelCase, a root span has no parentSpanId. Strings are escaped and
 * invalid UTF-8 bytes become U+FFFD, so every line is valid JSON whatever a
 * capture read from the host's memory.
 */
#ifndef STDBTEL_OTLP_JSON_H
#define STDBTEL_OTLP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "span_record.h"

/* A growable text buffer; after an allocation failure it stays failed. */
struct json_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

void json_buf_free(struct json_buf *b);

/* The process a batch of spans comes from. */
struct otlp_resource {
	const char *service_name;
	const char *service_version;   /* NULL: left out */
	int64_t pid;
	const char *executable_name;
	const char *host_name;         /* NULL: left out */
	const struct config_pair *extra; /* OTEL_RESOURCE_ATTRIBUTES, as strings */
	size_t nextra;
};

/* What a span record's target_index refers to. */
struct otlp_target {
	const char *function_name;     /* code.function.name: the match key */
	size_t hook_index;
};

/* Turns a captured stack into code.stacktrace text (the exporter's symbolizer). */
struct otlp_stack_formatter {
	size_t (*format)(const struct span_stack *stack, char *out, size_t outsz, void *ctx);
	void *ctx;
};

/*
 * Appends one line: {"resourceSpans":[...]} holding spans[0..n) under one
 * resource and one scope ("stdbtel", version), then '\n'. Each span takes
 * its name, kind, static attributes and capture attributes from
 * cfg->hooks[target's hook], code.function.name from its target, times
 * from to_unix_ns(ticks), and status ERROR (code 2) when SPAN_ERROR or
 * SPAN_UNWOUND is set. A record whose target_index is out of range is
 * skipped. A SPAN_STACK record is not a span: it gives the record right
 * after it, when that one has its span id, a code.stacktrace attribute
 * written by stacks->format (stacks NULL: stack records are skipped). Returns the number of spans written, or -1 when memory ran out
 * (out->failed is then set and the line is incomplete: discard it).
 */
long otlp_json_encode_spans(struct json_buf *out, const struct otlp_resource *resource,
                            const char *sdk_version, const struct stdbtel_config *cfg,
                            const struct otlp_target *targets, size_t ntargets,
                            const struct span_record *spans, size_t n, uint64_t (*to_unix_ns)(uint64_t ticks),
                            const struct otlp_stack_formatter *stacks);

#endif
