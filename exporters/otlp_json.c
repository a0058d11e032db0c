/* SPDX-License-Identifier: MIT */
/*
 * otlp_json.c: a small append-only JSON writer and the OTLP trace shape on
 * top of it. The writer never fails mid-way in a way the caller can miss:
 * every append checks the buffer and, once an allocation fails, the buffer
 * stays failed and further appends do nothing.
 */
#include "otlp_json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_attribute.h"
#include "http_span.h"
#include "utf8.h"

void json_buf_free(struct json_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

static bool reserve(struct json_buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *grown = realloc(b->data, cap);
	if (grown == NULL) {
		b->failed = true;
		return false;
	}
	b->data = grown;
	b->cap = cap;
	return true;
}

static void put_bytes(struct json_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void put(struct json_buf *b, const char *s)
{
	put_bytes(b, s, strlen(s));
}

static void putf(struct json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct json_buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put_bytes(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}


/* A JSON string literal of n bytes of s: escaped, invalid UTF-8 replaced by U+FFFD. */
static void put_string(struct json_buf *b, const char *s, size_t n)
{
	put_bytes(b, "\"", 1);
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		/* copy plain printable ASCII in one go */
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
			run++;
		put_bytes(b, s + i, run - i);
		i = run;
		if (i == n)
			break;
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			put_bytes(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			static const char *const named[] = { [0x08] = "\\b", [0x09] = "\\t", [0x0a] = "\\n",
				                             [0x0c] = "\\f", [0x0d] = "\\r" };
			if (c < sizeof named / sizeof named[0] && named[c] != NULL)
				put(b, named[c]);
			else
				putf(b, "\\u%04x", c);
			i++;
		} else {
			size_t len = utf8_sequence_length(p + i, n - i);
			if (len == 0) {
				put(b, "\xef\xbf\xbd"); /* U+FFFD */
				i++;
			} else {
				put_bytes(b, s + i, len);
				i += len;
			}
		}
	}
	put_bytes(b, "\"", 1);
}

static void put_cstring(struct json_buf *b, const char *s)
{
	put_string(b, s, strlen(s));
}

static void put_hex(struct json_buf *b, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char out[2 * 16 + 2];
	size_t k = 0;
	out[k++] = '"';
	for (size_t i = 0; i < n && i < 16; i++) {
		out[k++] = digits[bytes[i] >> 4];
		out[k++] = digits[bytes[i] & 15];
	}
	out[k++] = '"';
	put_bytes(b, out, k);
}

static bool all_zero(const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bytes[i] != 0)
			return false;
	return true;
}

/* ---- attributes ------------------------------------------------------------ */

/* Opens {"key":K,"value":{ ; the caller writes the value member and closes with "}}". */
static void attribute_open(struct json_buf *b, bool *first, const char *key)
{
	put(b, *first ? "{\"key\":" : ",{\"key\":");
	*first = false;
	put_cstring(b, key);
	put(b, ",\"value\":{");
}

static void attribute_string(struct json_buf *b, bool *first, const char *key, const char *value, size_t len)
{
	attribute_open(b, first, key);
	put(b, "\"stringValue\":");
	put_string(b, value, len);
	put(b, "}}");
}

static void attribute_int(struct json_buf *b, bool *first, const char *key, int64_t value)
{
	attribute_open(b, first, key);
	putf(b, "\"intValue\":\"%" PRId64 "\"}}", value);
}

static void put_config_attribute(struct json_buf *b, bool *first, const struct config_attribute *a)
{
	attribute_open(b, first, a->key);
	switch (a->type) {
	case ATTRIBUTE_STRING:
		put(b, "\"stringValue\":");
		put_cstring(b, a->u.string);
		break;
	case ATTRIBUTE_INT:
		putf(b, "\"intValue\":\"%" PRId64 "\"", a->u.integer);
		break;
	case ATTRIBUTE_DOUBLE:
		putf(b, "\"doubleValue\":%.17g", a->u.dbl);
		break;
	case ATTRIBUTE_BOOL:
		put(b, a->u.boolean ? "\"boolValue\":true" : "\"boolValue\":false");
		break;
	}
	put(b, "}}");
}

/* A captured value, typed by capture_attribute_of (the protobuf encoder types it the same). */
static void put_capture(struct json_buf *b, bool *first, const struct hook_capture *cap,
                        const struct span_record *rec, size_t index)
{
	struct capture_attribute v;
	capture_attribute_of(cap, rec, index, &v);
	switch (v.kind) {
	case CAPTURE_ATTRIBUTE_NONE:
		break;
	case CAPTURE_ATTRIBUTE_STRING:
		attribute_string(b, first, cap->attribute, v.text, v.len);
		break;
	case CAPTURE_ATTRIBUTE_BOOL:
		attribute_open(b, first, cap->attribute);
		put(b, v.integer ? "\"boolValue\":true}}" : "\"boolValue\":false}}");
		break;
	case CAPTURE_ATTRIBUTE_INT:
		attribute_int(b, first, cap->attribute, v.integer);
		break;
	}
}

/* ---- spans ----------------------------------------------------------------- */

/* code.stacktrace text per span at most: the frames of a span_stack, symbolised */
#define STACK_TEXT_MAX 4096

/* The opening of a span object: rec's ids and times, name and kind. */
static void put_span_head(struct json_buf *b, const struct span_record *rec, const char *name, int kind,
                          uint64_t (*to_unix_ns)(uint64_t))
{
	put(b, "{\"traceId\":");
	put_hex(b, rec->trace_id, 16);
	put(b, ",\"spanId\":");
	put_hex(b, rec->span_id, 8);
	if (!all_zero(rec->parent_span_id, 8)) {
		put(b, ",\"parentSpanId\":");
		put_hex(b, rec->parent_span_id, 8);
	}
	put(b, ",\"name\":");
	put_cstring(b, name);
	putf(b, ",\"kind\":%d", kind);
	putf(b, ",\"startTimeUnixNano\":\"%" PRIu64 "\"", to_unix_ns(rec->start_ticks));
	putf(b, ",\"endTimeUnixNano\":\"%" PRIu64 "\"", to_unix_ns(rec->end_ticks));
}

/* An [http] request span (http_span.h). */
static void put_http_span(struct json_buf *b, const struct stdbtel_config *cfg, const struct span_record *rec,
                          uint64_t (*to_unix_ns)(uint64_t))
{
	struct http_span_view v;
	http_span_describe(cfg, rec, &v);
	put_span_head(b, rec, v.name, (int)SPAN_KIND_SERVER, to_unix_ns);
	put(b, ",\"attributes\":[");
	bool first = true;
	for (size_t i = 0; i < v.nattrs; i++)
		put_config_attribute(b, &first, &v.attrs[i]);
	put(b, "]");
	if (v.status_message != NULL) {
		put(b, ",\"status\":{\"code\":2,\"message\":");
		put_cstring(b, v.status_message);
		put(b, "}");
	}
	put(b, "}");
}

static void put_span(struct json_buf *b, const struct stdbtel_config *cfg, const struct otlp_target *target,
                     const struct span_record *rec, uint64_t (*to_unix_ns)(uint64_t),
                     const struct span_stack *stack, const struct otlp_stack_formatter *stacks)
{
	const struct hook_config *hook = &cfg->hooks[target->hook_index];
	put_span_head(b, rec, hook->span != NULL ? hook->span : target->function_name, (int)hook->kind, to_unix_ns);

	put(b, ",\"attributes\":[");
	bool first = true;
	attribute_string(b, &first, "code.function.name", target->function_name, strlen(target->function_name));
	for (size_t i = 0; i < hook->nattributes; i++)
		put_config_attribute(b, &first, &hook->attributes[i]);
	size_t ncaptures = rec->ncaptures < SPAN_MAX_CAPTURES ? rec->ncaptures : SPAN_MAX_CAPTURES;
	for (size_t i = 0; i < ncaptures && i < hook->ncaptures; i++)
		if (hook->captures[i].attribute != NULL)
			put_capture(b, &first, &hook->captures[i], rec, i);
	if (stack != NULL && stacks != NULL && stack->nframes > 0) {
		char text[STACK_TEXT_MAX];
		size_t len = stacks->format(stack, text, sizeof text, stacks->ctx);
		if (len > 0)
			attribute_string(b, &first, "code.stacktrace", text, len < sizeof text ? len : sizeof text - 1);
	}
	put(b, "]");

	if (rec->flags & (SPAN_ERROR | SPAN_UNWOUND)) {
		put(b, ",\"status\":{\"code\":2,\"message\":");
		put_cstring(b, rec->flags & SPAN_UNWOUND ? "the call ended by unwinding (exception, panic or longjmp)"
		                                         : "the return value matched the hook's error rule");
		put(b, "}");
	}
	put(b, "}");
}

static void put_resource(struct json_buf *b, const struct otlp_resource *r, const char *sdk_version)
{
	bool first = true;
	put(b, "{\"resource\":{\"attributes\":[");
	attribute_string(b, &first, "service.name", r->service_name, strlen(r->service_name));
	if (r->service_version != NULL)
		attribute_string(b, &first, "service.version", r->service_version, strlen(r->service_version));
	attribute_int(b, &first, "process.pid", r->pid);
	if (r->executable_name != NULL)
		attribute_string(b, &first, "process.executable.name", r->executable_name, strlen(r->executable_name));
	if (r->host_name != NULL)
		attribute_string(b, &first, "host.name", r->host_name, strlen(r->host_name));
	attribute_string(b, &first, "telemetry.sdk.name", "stdbtel", 7);
	/* no semconv value fits C (cpp is C++): a custom one, as otlp_encode.c writes */
	attribute_string(b, &first, "telemetry.sdk.language", "c", 1);
	attribute_string(b, &first, "telemetry.sdk.version", sdk_version, strlen(sdk_version));
	for (size_t i = 0; i < r->nextra; i++) {
		const char *k = r->extra[i].key;
		/* service.* already came from the config, which folded these in */
		if (strcmp(k, "service.name") != 0 && strcmp(k, "service.version") != 0)
			attribute_string(b, &first, k, r->extra[i].value, strlen(r->extra[i].value));
	}
	put(b, "]}");
}

long otlp_json_encode_spans(struct json_buf *out, const struct otlp_resource *resource,
                            const char *sdk_version, const struct stdbtel_config *cfg,
                            const struct otlp_target *targets, size_t ntargets,
                            const struct span_record *spans, size_t n, uint64_t (*to_unix_ns)(uint64_t ticks),
                            const struct otlp_stack_formatter *stacks)
{
	long written = 0;
	put(out, "{\"resourceSpans\":[");
	put_resource(out, resource, sdk_version);
	put(out, ",\"scopeSpans\":[{\"scope\":{\"name\":\"stdbtel\",\"version\":");
	put_cstring(out, sdk_version);
	put(out, "},\"spans\":[");
	for (size_t i = 0; i < n; i++) {
		const struct span_record *rec = &spans[i];
		if (rec->flags & SPAN_STACK)
			continue; /* read with the span after it */
		if (http_span_is(cfg, rec)) {
			if (written > 0)
				put(out, ",");
			put_http_span(out, cfg, rec, to_unix_ns);
			written++;
			continue;
		}
		if (rec->target_index >= ntargets || targets[rec->target_index].hook_index >= cfg->nhooks)
			continue;
		const struct span_stack *stack = NULL;
		if (i > 0 && (spans[i - 1].flags & SPAN_STACK) && memcmp(spans[i - 1].span_id, rec->span_id, 8) == 0)
			stack = (const struct span_stack *)&spans[i - 1];
		if (written > 0)
			put(out, ",");
		put_span(out, cfg, &targets[rec->target_index], rec, to_unix_ns, stack, stacks);
		written++;
	}
	put(out, "]}]}]}\n");
	return out->failed ? -1 : written;
}
