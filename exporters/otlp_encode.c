/* SPDX-License-Identifier: MIT */
/*
 * otlp_encode.c: builds the generated protobuf-c messages for one request
 * in an arena, packs them into one malloc'd buffer, frees the arena.
 *
 * Memory: every message, pointer array and string of a request comes from
 * one arena of 64 KiB blocks (a larger piece gets a block of its own), so a
 * request costs a handful of mallocs and one free path, and running out of
 * memory anywhere is one flag checked before packing. Strings are copied
 * into the arena, sanitised to UTF-8 and NUL-terminated (protobuf-c's
 * string fields are C strings); ids point into the caller's records, which
 * outlive the call.
 */
#include "otlp_encode.h"

#include <inttypes.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_attribute.h"
#include "http_span.h"
#include "otlp_collector_metrics.pb-c.h"
#include "otlp_collector_trace.pb-c.h"
#include "utf8.h"

/* Short names for the generated types. */
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_request;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_number_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram pb_exp_histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint pb_exp_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pb_buckets;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_metrics_request;

void otlp_bytes_free(struct otlp_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* ---- arena ------------------------------------------------------------------- */

#define ARENA_BLOCK_BYTES (64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

/* All of one request's pieces; failed once any allocation failed. */
struct arena {
	struct arena_block *head;
	bool failed;
};

/* size zeroed bytes aligned for any type, or NULL (and a->failed) when out of memory. */
static void *arena_alloc(struct arena *a, size_t size)
{
	if (a->failed)
		return NULL;
	size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	struct arena_block *b = a->head;
	if (b == NULL || b->cap - b->used < size) {
		size_t cap = size > ARENA_BLOCK_BYTES ? size : ARENA_BLOCK_BYTES;
		b = malloc(sizeof *b + cap);
		if (b == NULL) {
			a->failed = true;
			return NULL;
		}
		b->used = 0;
		b->cap = cap;
		if (a->head != NULL && size > ARENA_BLOCK_BYTES) {
			/* an outsize piece: keep filling the current block afterwards */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head != NULL) {
		struct arena_block *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}

/* A valid UTF-8 sequence at s, NUL excluded (protobuf-c strings end at NUL): its length, or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	return s[0] == 0 ? 0 : utf8_sequence_length(s, n);
}

/* n bytes of s as a NUL-terminated UTF-8 string in the arena: invalid bytes and NUL become U+FFFD. */
static char *arena_text(struct arena *a, const char *s, size_t n)
{
	if (n > (SIZE_MAX - 1) / 3) {
		a->failed = true;
		return NULL;
	}
	char *out = arena_alloc(a, 3 * n + 1);
	if (out == NULL)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_sequence(p + i, n - i);
		if (len == 0) {
			memcpy(out + k, "\xef\xbf\xbd", 3);
			k += 3;
			i++;
		} else {
			memcpy(out + k, s + i, len);
			k += len;
			i += len;
		}
	}
	out[k] = '\0';
	return out;
}

static char *arena_cstring(struct arena *a, const char *s)
{
	return arena_text(a, s, strlen(s));
}

/* ---- attributes ---------------------------------------------------------------- */

/* An attribute list being filled: room for cap entries, allocated up front. */
struct attr_list {
	pb_key_value **items;
	size_t n, cap;
};

/* One attribute's message pair, allocated together. */
struct attr_slot {
	pb_key_value kv;
	pb_any_value value;
};

static void attrs_init(struct arena *a, struct attr_list *l, size_t cap)
{
	l->n = 0;
	l->cap = cap;
	l->items = cap > 0 ? arena_alloc(a, cap * sizeof *l->items) : NULL;
	if (l->items == NULL)
		l->cap = 0;
}

/* The next entry with its key set, or NULL (list full or out of memory). */
static pb_any_value *attrs_add(struct arena *a, struct attr_list *l, const char *key)
{
	if (l->n == l->cap)
		return NULL;
	struct attr_slot *slot = arena_alloc(a, sizeof *slot);
	char *k = arena_cstring(a, key);
	if (slot == NULL || k == NULL)
		return NULL;
	slot->kv = (pb_key_value)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	slot->value = (pb_any_value)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	slot->kv.key = k;
	slot->kv.value = &slot->value;
	l->items[l->n++] = &slot->kv;
	return &slot->value;
}

static void attrs_string(struct arena *a, struct attr_list *l, const char *key, const char *value, size_t len)
{
	pb_any_value *v = attrs_add(a, l, key);
	char *text = arena_text(a, value, len);
	if (v == NULL || text == NULL)
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = text;
}

static void attrs_cstring(struct arena *a, struct attr_list *l, const char *key, const char *value)
{
	attrs_string(a, l, key, value, strlen(value));
}

static void attrs_int(struct arena *a, struct attr_list *l, const char *key, int64_t value)
{
	pb_any_value *v = attrs_add(a, l, key);
	if (v == NULL)
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = value;
}

static void attrs_bool(struct arena *a, struct attr_list *l, const char *key, bool value)
{
	pb_any_value *v = attrs_add(a, l, key);
	if (v == NULL)
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	v->bool_value = value;
}

static void attrs_config(struct arena *a, struct attr_list *l, const struct config_attribute *attr)
{
	switch (attr->type) {
	case ATTRIBUTE_STRING:
		attrs_cstring(a, l, attr->key, attr->u.string);
		break;
	case ATTRIBUTE_INT:
		attrs_int(a, l, attr->key, attr->u.integer);
		break;
	case ATTRIBUTE_DOUBLE: {
		pb_any_value *v = attrs_add(a, l, attr->key);
		if (v != NULL) {
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
			v->double_value = attr->u.dbl;
		}
		break;
	}
	case ATTRIBUTE_BOOL:
		attrs_bool(a, l, attr->key, attr->u.boolean);
		break;
	}
}

/* A captured value, typed by capture_attribute_of (as otlp_json.c types it). */
static void attrs_capture(struct arena *a, struct attr_list *l, const struct hook_capture *cap,
                          const struct span_record *rec, size_t index)
{
	struct capture_attribute v;
	capture_attribute_of(cap, rec, index, &v);
	switch (v.kind) {
	case CAPTURE_ATTRIBUTE_NONE:
		break;
	case CAPTURE_ATTRIBUTE_STRING:
		attrs_string(a, l, cap->attribute, v.text, v.len);
		break;
	case CAPTURE_ATTRIBUTE_BOOL:
		attrs_bool(a, l, cap->attribute, v.integer != 0);
		break;
	case CAPTURE_ATTRIBUTE_INT:
		attrs_int(a, l, cap->attribute, v.integer);
		break;
	}
}

/* ---- resource and scope ---------------------------------------------------------- */

static pb_resource *build_resource(struct arena *a, const struct otlp_resource *r, const char *sdk_version)
{
	pb_resource *res = arena_alloc(a, sizeof *res);
	if (res == NULL)
		return NULL;
	*res = (pb_resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	struct attr_list l;
	attrs_init(a, &l, 8 + r->nextra);
	attrs_cstring(a, &l, "service.name", r->service_name);
	if (r->service_version != NULL)
		attrs_cstring(a, &l, "service.version", r->service_version);
	attrs_int(a, &l, "process.pid", r->pid);
	if (r->executable_name != NULL)
		attrs_cstring(a, &l, "process.executable.name", r->executable_name);
	if (r->host_name != NULL)
		attrs_cstring(a, &l, "host.name", r->host_name);
	attrs_cstring(a, &l, "telemetry.sdk.name", "stdbtel");
	attrs_cstring(a, &l, "telemetry.sdk.language", OTLP_SDK_LANGUAGE);
	attrs_cstring(a, &l, "telemetry.sdk.version", sdk_version);
	for (size_t i = 0; i < r->nextra; i++) {
		const char *k = r->extra[i].key;
		/* service.* already came from the config, which folded these in */
		if (strcmp(k, "service.name") != 0 && strcmp(k, "service.version") != 0)
			attrs_cstring(a, &l, k, r->extra[i].value);
	}
	res->n_attributes = l.n;
	res->attributes = l.items;
	return res;
}

static pb_scope *build_scope(struct arena *a, const char *sdk_version)
{
	pb_scope *scope = arena_alloc(a, sizeof *scope);
	if (scope == NULL)
		return NULL;
	*scope = (pb_scope)OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	scope->name = arena_cstring(a, "stdbtel");
	scope->version = arena_cstring(a, sdk_version);
	return scope;
}

/* Packs msg into out (malloc'd). Returns 0, or -1 when out of memory. */
static int pack(const ProtobufCMessage *msg, struct otlp_bytes *out)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	uint8_t *data = malloc(size > 0 ? size : 1);
	if (data == NULL)
		return -1;
	out->len = protobuf_c_message_pack(msg, data);
	out->data = data;
	return 0;
}

/* ---- spans ------------------------------------------------------------------------ */

/* code.stacktrace text per span at most (as otlp_json.c) */
#define STACK_TEXT_MAX 4096

/*
 * Span.flags: bit 0 (W3C sampled: every exported span is) and
 * CONTEXT_HAS_IS_REMOTE (0x100) with CONTEXT_IS_REMOTE (0x200) clear: a
 * parent is a span of this process, except for an [http] request that came
 * with a traceparent (SPAN_FLAGS_SAMPLED_REMOTE_PARENT).
 */
#define SPAN_FLAGS_SAMPLED_LOCAL_PARENT 0x101u
/* ... and an [http] request continuing a caller's traceparent: CONTEXT_IS_REMOTE set too. */
#define SPAN_FLAGS_SAMPLED_REMOTE_PARENT 0x301u

static bool all_zero(const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bytes[i] != 0)
			return false;
	return true;
}

/* A span with rec's ids and times, and name and kind: the part every span shares. */
static pb_span *new_span(struct arena *a, const struct span_record *rec, const char *name, int kind,
                         uint64_t (*to_unix_ns)(uint64_t))
{
	pb_span *span = arena_alloc(a, sizeof *span);
	if (span == NULL)
		return NULL;
	*span = (pb_span)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	span->trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)rec->trace_id };
	span->span_id = (ProtobufCBinaryData){ 8, (uint8_t *)rec->span_id };
	if (!all_zero(rec->parent_span_id, 8))
		span->parent_span_id = (ProtobufCBinaryData){ 8, (uint8_t *)rec->parent_span_id };
	span->name = arena_cstring(a, name);
	span->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;
	span->start_time_unix_nano = to_unix_ns(rec->start_ticks);
	span->end_time_unix_nano = to_unix_ns(rec->end_ticks);
	return span->name != NULL ? span : NULL;
}

/* An [http] request span (http_span.h): its own name, attributes and status. */
static pb_span *build_http_span(struct arena *a, const struct stdbtel_config *cfg, const struct span_record *rec,
                                uint64_t (*to_unix_ns)(uint64_t))
{
	struct http_span_view v;
	http_span_describe(cfg, rec, &v);
	pb_span *span = new_span(a, rec, v.name, SPAN_KIND_SERVER, to_unix_ns);
	if (span == NULL)
		return NULL;
	span->flags = v.remote_parent ? SPAN_FLAGS_SAMPLED_REMOTE_PARENT : SPAN_FLAGS_SAMPLED_LOCAL_PARENT;
	struct attr_list l;
	attrs_init(a, &l, v.nattrs);
	for (size_t i = 0; i < v.nattrs; i++)
		attrs_config(a, &l, &v.attrs[i]);
	span->n_attributes = l.n;
	span->attributes = l.items;
	if (v.status_message != NULL) {
		pb_status *status = arena_alloc(a, sizeof *status);
		if (status == NULL)
			return NULL;
		*status = (pb_status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
		status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
		status->message = arena_cstring(a, v.status_message);
		span->status = status;
	}
	return span;
}

static pb_span *build_span(struct arena *a, const struct stdbtel_config *cfg, const struct otlp_target *target,
                           const struct span_record *rec, uint64_t (*to_unix_ns)(uint64_t),
                           const struct span_stack *stack, const struct otlp_stack_formatter *stacks)
{
	const struct hook_config *hook = &cfg->hooks[target->hook_index];
	pb_span *span = new_span(a, rec, hook->span != NULL ? hook->span : target->function_name, (int)hook->kind,
	                         to_unix_ns);
	if (span == NULL)
		return NULL;
	span->flags = SPAN_FLAGS_SAMPLED_LOCAL_PARENT;

	size_t ncaptures = rec->ncaptures < SPAN_MAX_CAPTURES ? rec->ncaptures : SPAN_MAX_CAPTURES;
	struct attr_list l;
	attrs_init(a, &l, 2 + hook->nattributes + ncaptures);
	attrs_cstring(a, &l, "code.function.name", target->function_name);
	for (size_t i = 0; i < hook->nattributes; i++)
		attrs_config(a, &l, &hook->attributes[i]);
	for (size_t i = 0; i < ncaptures && i < hook->ncaptures; i++)
		if (hook->captures[i].attribute != NULL)
			attrs_capture(a, &l, &hook->captures[i], rec, i);
	if (stack != NULL && stacks != NULL && stack->nframes > 0) {
		char text[STACK_TEXT_MAX];
		size_t len = stacks->format(stack, text, sizeof text, stacks->ctx);
		if (len > 0)
			attrs_string(a, &l, "code.stacktrace", text, len < sizeof text ? len : sizeof text - 1);
	}
	span->n_attributes = l.n;
	span->attributes = l.items;

	if (rec->flags & (SPAN_ERROR | SPAN_UNWOUND)) {
		pb_status *status = arena_alloc(a, sizeof *status);
		if (status == NULL)
			return NULL;
		*status = (pb_status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
		status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
		status->message = arena_cstring(a, rec->flags & SPAN_UNWOUND
		                                       ? "the call ended by unwinding (exception, panic or longjmp)"
		                                       : "the return value matched the hook's error rule");
		span->status = status;
	}
	return span;
}

long otlp_encode_spans(struct otlp_bytes *out, const struct otlp_resource *resource, const char *sdk_version,
                       const struct stdbtel_config *cfg, const struct otlp_target *targets, size_t ntargets,
                       const struct span_record *spans, size_t n, uint64_t (*to_unix_ns)(uint64_t ticks),
                       const struct otlp_stack_formatter *stacks)
{
	out->data = NULL;
	out->len = 0;
	struct arena a = { 0 };
	pb_span **items = n > 0 ? arena_alloc(&a, n * sizeof *items) : NULL;
	size_t written = 0;
	for (size_t i = 0; i < n && items != NULL; i++) {
		const struct span_record *rec = &spans[i];
		if (rec->flags & SPAN_STACK)
			continue; /* read with the span after it */
		if (http_span_is(cfg, rec)) {
			pb_span *span = build_http_span(&a, cfg, rec, to_unix_ns);
			if (span != NULL)
				items[written++] = span;
			continue;
		}
		if (rec->target_index >= ntargets || targets[rec->target_index].hook_index >= cfg->nhooks)
			continue;
		const struct span_stack *stack = NULL;
		if (i > 0 && (spans[i - 1].flags & SPAN_STACK) && memcmp(spans[i - 1].span_id, rec->span_id, 8) == 0)
			stack = (const struct span_stack *)&spans[i - 1];
		pb_span *span = build_span(&a, cfg, &targets[rec->target_index], rec, to_unix_ns, stack, stacks);
		if (span != NULL)
			items[written++] = span;
	}
	if (written == 0 && !a.failed) {
		arena_free(&a);
		return 0;
	}

	pb_scope_spans scope_spans = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	scope_spans.scope = build_scope(&a, sdk_version);
	scope_spans.n_spans = written;
	scope_spans.spans = items;
	pb_scope_spans *scope_list[] = { &scope_spans };
	pb_resource_spans resource_spans = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	resource_spans.resource = build_resource(&a, resource, sdk_version);
	resource_spans.n_scope_spans = 1;
	resource_spans.scope_spans = scope_list;
	pb_resource_spans *resource_list[] = { &resource_spans };
	pb_trace_request request = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	request.n_resource_spans = 1;
	request.resource_spans = resource_list;

	int rc = a.failed ? -1 : pack(&request.base, out);
	arena_free(&a);
	return rc < 0 ? -1 : (long)written;
}

/* ---- metrics ------------------------------------------------------------------------ */

#define TEMPORALITY_CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

/* A metric named prefix + suffix with its unit (description NULL: none). */
static pb_metric *new_metric(struct arena *a, const char *prefix, const char *suffix, const char *unit,
                             const char *description)
{
	pb_metric *m = arena_alloc(a, sizeof *m);
	size_t lp = strlen(prefix), ls = strlen(suffix);
	char *name = arena_alloc(a, lp + ls + 1);
	if (m == NULL || name == NULL)
		return NULL;
	memcpy(name, prefix, lp);
	memcpy(name + lp, suffix, ls + 1);
	*m = (pb_metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
	m->name = arena_cstring(a, name);
	m->unit = arena_cstring(a, unit);
	if (description != NULL)
		m->description = arena_cstring(a, description);
	return m->name != NULL && m->unit != NULL && m->description != NULL ? m : NULL;
}

static void point_attributes(struct arena *a, const struct config_attribute *attrs, size_t n,
                             size_t *n_out, pb_key_value ***out)
{
	struct attr_list l;
	attrs_init(a, &l, n);
	for (size_t i = 0; i < n; i++)
		attrs_config(a, &l, &attrs[i]);
	*n_out = l.n;
	*out = l.items;
}

/* A monotonic cumulative int Sum with one point. */
static pb_metric *counter_metric(struct arena *a, const char *prefix, const char *suffix, const char *unit,
                                 const char *description, uint64_t value, uint64_t start_ns, uint64_t now_ns,
                                 const struct config_attribute *attrs, size_t nattrs)
{
	pb_metric *m = new_metric(a, prefix, suffix, unit, description);
	pb_sum *sum = arena_alloc(a, sizeof *sum);
	pb_number_point *point = arena_alloc(a, sizeof *point);
	pb_number_point **points = arena_alloc(a, sizeof *points);
	if (m == NULL || sum == NULL || point == NULL || points == NULL)
		return NULL;
	*point = (pb_number_point)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
	point_attributes(a, attrs, nattrs, &point->n_attributes, &point->attributes);
	point->start_time_unix_nano = start_ns;
	point->time_unix_nano = now_ns;
	point->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
	point->as_int = value > INT64_MAX ? INT64_MAX : (int64_t)value;
	points[0] = point;
	*sum = (pb_sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
	sum->n_data_points = 1;
	sum->data_points = points;
	sum->aggregation_temporality = TEMPORALITY_CUMULATIVE;
	sum->is_monotonic = true;
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
	m->sum = sum;
	return m;
}

/* The hook's duration histogram, in seconds (see OTLP_DURATION_INDEX_SHIFT). */
static pb_metric *duration_metric(struct arena *a, const struct otlp_hook_metrics *h)
{
	pb_metric *m = new_metric(a, h->name, ".duration", OTLP_UNIT_DURATION,
	                          "Duration of the hooked function's calls");
	pb_exp_histogram *hist = arena_alloc(a, sizeof *hist);
	pb_exp_point *point = arena_alloc(a, sizeof *point);
	pb_exp_point **points = arena_alloc(a, sizeof *points);
	if (m == NULL || hist == NULL || point == NULL || points == NULL)
		return NULL;
	*point = (pb_exp_point)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
	point_attributes(a, h->attributes, h->nattributes, &point->n_attributes, &point->attributes);
	point->start_time_unix_nano = h->start_unix_ns;
	point->time_unix_nano = h->now_unix_ns;
	point->scale = HISTOGRAM_SCALE;

	/* Read each field once: the histogram may be a live one. */
	const struct histogram *d = h->duration;
	uint64_t zero = __atomic_load_n(&d->zero_count, __ATOMIC_RELAXED);
	uint64_t sum_ns = __atomic_load_n(&d->sum_ns, __ATOMIC_RELAXED);
	uint64_t min_ns = __atomic_load_n(&d->min_ns, __ATOMIC_RELAXED);
	uint64_t max_ns = __atomic_load_n(&d->max_ns, __ATOMIC_RELAXED);
	uint64_t counts[HISTOGRAM_BUCKETS];
	int lo = -1, hi = -1;
	uint64_t count = zero;
	for (int p = 0; p < HISTOGRAM_BUCKETS; p++) {
		counts[p] = __atomic_load_n(&d->buckets[p], __ATOMIC_RELAXED);
		if (counts[p] != 0) {
			if (lo < 0)
				lo = p;
			hi = p;
			count += counts[p];
		}
	}
	point->count = count;
	point->zero_count = zero;
	point->zero_threshold = 0.0; /* only a duration of exactly 0 ns is in the zero bucket */
	point->sum__case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM__SUM;
	point->sum = (double)sum_ns / 1e9;
	if (count > 0 && min_ns <= max_ns) {
		point->min__case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__MIN__MIN;
		point->min = (double)min_ns / 1e9;
		point->max__case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__MAX__MAX;
		point->max = (double)max_ns / 1e9;
	}
	if (lo >= 0) {
		pb_buckets *pos = arena_alloc(a, sizeof *pos);
		uint64_t *bucket_counts = arena_alloc(a, (size_t)(hi - lo + 1) * sizeof *bucket_counts);
		if (pos == NULL || bucket_counts == NULL)
			return NULL;
		*pos = (pb_buckets)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
		memcpy(bucket_counts, counts + lo, (size_t)(hi - lo + 1) * sizeof *bucket_counts);
		pos->offset = lo + HISTOGRAM_OFFSET - OTLP_DURATION_INDEX_SHIFT;
		pos->n_bucket_counts = (size_t)(hi - lo + 1);
		pos->bucket_counts = bucket_counts;
		point->positive = pos;
	}
	points[0] = point;
	*hist = (pb_exp_histogram)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
	hist->n_data_points = 1;
	hist->data_points = points;
	hist->aggregation_temporality = TEMPORALITY_CUMULATIVE;
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
	m->exponential_histogram = hist;
	return m;
}

/*
 * One Metric per name: a hook's series (tag values) come in as entries of
 * the same name with one point each; the data model wants them as points
 * of one metric (a receiver may otherwise keep only the last). Merges
 * every later metric of an earlier one's name and kind into it, in order.
 * Returns false when memory ran out.
 */
static bool merge_points_by_name(struct arena *a, pb_metric **items, size_t *n)
{
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++) {
		pb_metric *m = items[i];
		pb_metric *into = NULL;
		for (size_t j = 0; j < kept && into == NULL; j++)
			if (items[j]->data_case == m->data_case && strcmp(items[j]->name, m->name) == 0)
				into = items[j];
		if (into == NULL) {
			items[kept++] = m;
			continue;
		}
		if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM) {
			size_t have = into->sum->n_data_points, add = m->sum->n_data_points;
			pb_number_point **points = arena_alloc(a, (have + add) * sizeof *points);
			if (points == NULL)
				return false;
			memcpy(points, into->sum->data_points, have * sizeof *points);
			memcpy(points + have, m->sum->data_points, add * sizeof *points);
			into->sum->data_points = points;
			into->sum->n_data_points = have + add;
		} else {
			size_t have = into->exponential_histogram->n_data_points;
			size_t add = m->exponential_histogram->n_data_points;
			pb_exp_point **points = arena_alloc(a, (have + add) * sizeof *points);
			if (points == NULL)
				return false;
			memcpy(points, into->exponential_histogram->data_points, have * sizeof *points);
			memcpy(points + have, m->exponential_histogram->data_points, add * sizeof *points);
			into->exponential_histogram->data_points = points;
			into->exponential_histogram->n_data_points = have + add;
		}
	}
	*n = kept;
	return true;
}

long otlp_encode_metrics(struct otlp_bytes *out, const struct otlp_resource *resource, const char *sdk_version,
                         const struct otlp_hook_metrics *hooks, size_t nhooks,
                         const struct otlp_counter *counters, size_t ncounters)
{
	out->data = NULL;
	out->len = 0;
	size_t total = 3 * nhooks + ncounters;
	if (total == 0)
		return 0;
	struct arena a = { 0 };
	pb_metric **items = arena_alloc(&a, total * sizeof *items);
	size_t written = 0;
	for (size_t i = 0; i < nhooks && items != NULL; i++) {
		const struct otlp_hook_metrics *h = &hooks[i];
		pb_metric *calls = counter_metric(&a, h->name, ".calls", OTLP_UNIT_CALLS, "Calls of the hooked function",
		                                  h->calls, h->start_unix_ns, h->now_unix_ns, h->attributes,
		                                  h->nattributes);
		pb_metric *errors = counter_metric(&a, h->name, ".errors", OTLP_UNIT_ERRORS,
		                                   "Calls of the hooked function that ended in error", h->errors,
		                                   h->start_unix_ns, h->now_unix_ns, h->attributes, h->nattributes);
		pb_metric *duration = duration_metric(&a, h);
		if (calls == NULL || errors == NULL || duration == NULL)
			break; /* out of memory: a.failed is set */
		items[written++] = calls;
		items[written++] = errors;
		items[written++] = duration;
	}
	for (size_t i = 0; i < ncounters && items != NULL && !a.failed; i++) {
		const struct otlp_counter *c = &counters[i];
		pb_metric *m = counter_metric(&a, c->name, "", c->unit, c->description, c->value, c->start_unix_ns,
		                              c->now_unix_ns, c->attributes, c->nattributes);
		if (m != NULL)
			items[written++] = m;
	}
	if (items != NULL && !a.failed && !merge_points_by_name(&a, items, &written))
		a.failed = true;

	pb_scope_metrics scope_metrics = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
	scope_metrics.scope = build_scope(&a, sdk_version);
	scope_metrics.n_metrics = written;
	scope_metrics.metrics = items;
	pb_scope_metrics *scope_list[] = { &scope_metrics };
	pb_resource_metrics resource_metrics = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
	resource_metrics.resource = build_resource(&a, resource, sdk_version);
	resource_metrics.n_scope_metrics = 1;
	resource_metrics.scope_metrics = scope_list;
	pb_resource_metrics *resource_list[] = { &resource_metrics };
	pb_metrics_request request = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	request.n_resource_metrics = 1;
	request.resource_metrics = resource_list;

	int rc = a.failed ? -1 : pack(&request.base, out);
	arena_free(&a);
	return rc < 0 ? -1 : (long)written;
}

/* ---- answers ------------------------------------------------------------------------- */

static void copy_message(char *dst, size_t dstsz, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

int otlp_decode_partial_success(enum otlp_signal signal, const uint8_t *body, size_t len,
                                struct otlp_partial_success *out)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return 0;
	if (signal == OTLP_SIGNAL_TRACES) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
			opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, len, body);
		if (r == NULL)
			return -1;
		if (r->partial_success != NULL) {
			out->present = true;
			out->rejected = r->partial_success->rejected_spans;
			copy_message(out->message, sizeof out->message, r->partial_success->error_message);
		}
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r, NULL);
		return 0;
	}
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(NULL, len, body);
	if (r == NULL)
		return -1;
	if (r->partial_success != NULL) {
		out->present = true;
		out->rejected = r->partial_success->rejected_data_points;
		copy_message(out->message, sizeof out->message, r->partial_success->error_message);
	}
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(r, NULL);
	return 0;
}
