/* SPDX-License-Identifier: MIT */
/* series_totals.c: tagged metrics merged over threads (contract in series_totals.h). */
#include "series_totals.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_value.h"
#include "histogram.h"
#include "http_parse.h"

void series_totals_init(struct series_totals *st)
{
	memset(st, 0, sizeof *st);
}

void series_totals_free(struct series_totals *st)
{
	free(st->items);
	memset(st, 0, sizeof *st);
}

static void stats_zero(struct hotpath_series_stats *s)
{
	memset(s, 0, sizeof *s);
	histogram_reset(&s->duration);
}

static void stats_add(struct hotpath_series_stats *dst, const struct hotpath_series_stats *src)
{
	dst->errors += __atomic_load_n(&src->errors, __ATOMIC_RELAXED);
	for (size_t i = 0; i < CONFIG_MAX_CAPTURES; i++)
		dst->sums[i] += __atomic_load_n(&src->sums[i], __ATOMIC_RELAXED);
	histogram_add(&dst->duration, &src->duration);
}

void series_totals_begin(struct series_totals *st)
{
	st->collection++;
	for (size_t i = 0; i < st->count; i++)
		stats_zero(&st->items[i].now);
}

static bool key_equal(const struct hotpath_series_key *a, const struct hotpath_series_key *b)
{
	return a->hook_index == b->hook_index && a->overflow == b->overflow &&
	       a->unreadable_mask == b->unreadable_mask && a->text_used == b->text_used &&
	       memcmp(a->values, b->values, sizeof a->values) == 0 &&
	       memcmp(a->text, b->text, a->text_used <= HOTPATH_SERIES_TEXT ? a->text_used : HOTPATH_SERIES_TEXT) == 0;
}

void series_totals_merge(struct series_totals *st, const struct hotpath_series_key *key,
                         const struct hotpath_series_stats *stats)
{
	struct series_total *t = NULL;
	for (size_t i = 0; i < st->count && t == NULL; i++)
		if (key_equal(&st->items[i].key, key))
			t = &st->items[i];
	if (t == NULL) {
		if (st->count == st->capacity) {
			size_t cap = st->capacity ? st->capacity * 2 : 16;
			struct series_total *items = realloc(st->items, cap * sizeof *items);
			if (items == NULL) {
				st->out_of_memory = true;
				return;
			}
			st->items = items;
			st->capacity = cap;
		}
		t = &st->items[st->count++];
		memset(t, 0, sizeof *t);
		t->key = *key;
		if (t->key.text_used > HOTPATH_SERIES_TEXT)
			t->key.text_used = HOTPATH_SERIES_TEXT;
		stats_zero(&t->now);
		stats_zero(&t->sent);
	}
	t->collection = st->collection;
	stats_add(&t->now, stats);
}

static void collect_one(void *ctx, const struct hotpath_series_key *key, const struct hotpath_series_stats *stats)
{
	series_totals_merge(ctx, key, stats);
}

void series_totals_collect(struct series_totals *st)
{
	series_totals_begin(st);
	hotpath_series_foreach(collect_one, st);
}

bool series_hook_has_series(const struct hook_config *hook)
{
	if (hook->http)
		return true;
	for (size_t i = 0; i < hook->ncaptures; i++)
		if (hook->captures[i].tag != NULL || hook->captures[i].metric != NULL)
			return true;
	return false;
}

static bool type_is_signed(enum capture_type t)
{
	return t == CAPTURE_I8 || t == CAPTURE_I16 || t == CAPTURE_I32 || t == CAPTURE_I64;
}

/* Capture i's value in key as text into buf; false for a capture that is not a tag. */
static bool value_text(const struct hook_capture *cap, const struct hotpath_series_key *key, size_t i, char *buf,
                       size_t cap_len)
{
	uint64_t v = key->values[i];
	if (key->unreadable_mask & (1u << i)) {
		snprintf(buf, cap_len, "%s", SERIES_UNREADABLE_VALUE);
		return true;
	}
	switch (cap->type) {
	case CAPTURE_STR:
	case CAPTURE_CSTRING:
	case CAPTURE_CHARS: {
		size_t off = (size_t)(v >> 32), len = (uint32_t)v;
		if (off > key->text_used || len > (size_t)key->text_used - off)
			len = 0;
		if (len >= cap_len)
			len = cap_len - 1;
		memcpy(buf, key->text + off, len);
		buf[len] = '\0';
		return true;
	}
	case CAPTURE_BOOL:
		snprintf(buf, cap_len, "%s", (uint8_t)v ? "true" : "false");
		return true;
	case CAPTURE_POINTER:
		snprintf(buf, cap_len, "0x%" PRIx64, v);
		return true;
	default:
		if (type_is_signed(cap->type))
			snprintf(buf, cap_len, "%" PRId64, capture_as_int64(cap->type, v));
		else
			snprintf(buf, cap_len, "%" PRIu64, (uint64_t)capture_as_int64(cap->type, v));
		return true;
	}
}

/*
 * The [http] parameters of a key: "name=value" strings, NUL-separated, in
 * key text [0, values[3]). Calls fn for each with the name and value.
 */
static void http_params(const struct hotpath_series_key *key,
                        void (*fn)(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen), void *ctx)
{
	size_t end = key->values[3] < key->text_used ? (size_t)key->values[3] : key->text_used;
	for (size_t at = 0; at < end;) {
		const char *item = key->text + at;
		size_t len = strnlen(item, end - at);
		const char *eq = memchr(item, '=', len);
		if (eq != NULL)
			fn(ctx, item, (size_t)(eq - item), eq + 1, len - (size_t)(eq - item) - 1);
		at += len + 1;
	}
}

static const char *http_route_of(const struct stdbtel_config *cfg, const struct hotpath_series_key *key)
{
	uint64_t r = key->values[1];
	return r > 0 && r <= cfg->http.nroutes ? cfg->http.routes[r - 1] : NULL;
}

static void statsd_param(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct series_tags *out = ctx;
	if (out->ntags >= SERIES_MAX_TAGS)
		return;
	size_t i = out->ntags;
	snprintf(out->names[i], SERIES_TAG_TEXT, "%.*s", (int)nlen, name);
	snprintf(out->text[i], SERIES_TAG_TEXT, "%.*s", (int)vlen, value);
	out->tags[out->ntags++] = (struct statsd_tag){ out->names[i], out->text[i] };
}

struct otlp_param_ctx {
	const struct stdbtel_config *cfg;
	struct series_attributes *out;
};

static void otlp_param(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct otlp_param_ctx *c = ctx;
	struct series_attributes *out = c->out;
	for (size_t k = 0; k < c->cfg->http.nparams && out->nattrs < SERIES_MAX_TAGS; k++) {
		const char *key = c->cfg->http.params[k].key;
		if (strlen(key) != nlen || memcmp(key, name, nlen) != 0)
			continue;
		size_t i = out->nattrs;
		snprintf(out->text[i], SERIES_TAG_TEXT, "%.*s", (int)vlen, value);
		out->attrs[out->nattrs++] = (struct config_attribute){ .key = c->cfg->http.params[k].value,
			                                               .type = ATTRIBUTE_STRING, .u.string = out->text[i] };
	}
}

static void http_tags_statsd(const struct stdbtel_config *cfg, const struct hotpath_series_key *key,
                             struct series_tags *out)
{
	const char *route = http_route_of(cfg, key);
	snprintf(out->text[0], SERIES_TAG_TEXT, "%s", http_method_name((enum http_method)key->values[0]));
	snprintf(out->text[1], SERIES_TAG_TEXT, "%s", route != NULL ? route : "unmatched");
	snprintf(out->text[2], SERIES_TAG_TEXT, "%u", (unsigned)key->values[2]);
	out->tags[0] = (struct statsd_tag){ "method", out->text[0] };
	out->tags[1] = (struct statsd_tag){ "path", out->text[1] };
	out->tags[2] = (struct statsd_tag){ "status", out->text[2] };
	out->ntags = 3;
	http_params(key, statsd_param, out);
}

static void http_attributes_otlp(const struct stdbtel_config *cfg, const struct hotpath_series_key *key,
                                 struct series_attributes *out)
{
	const char *route = http_route_of(cfg, key);
	snprintf(out->text[0], SERIES_TAG_TEXT, "%s", http_method_name((enum http_method)key->values[0]));
	out->attrs[out->nattrs++] = (struct config_attribute){ .key = "http.request.method", .type = ATTRIBUTE_STRING,
		                                               .u.string = out->text[0] };
	if (route != NULL)
		out->attrs[out->nattrs++] = (struct config_attribute){ .key = "http.route", .type = ATTRIBUTE_STRING,
			                                               .u.string = (char *)route };
	if (key->values[2] > 0)
		out->attrs[out->nattrs++] = (struct config_attribute){ .key = "http.response.status_code",
			                                               .type = ATTRIBUTE_INT,
			                                               .u.integer = (int64_t)key->values[2] };
	struct otlp_param_ctx c = { cfg, out };
	http_params(key, otlp_param, &c);
}

void series_tags_statsd(const struct stdbtel_config *cfg, const struct hook_config *hook,
                        const struct hotpath_series_key *key, struct series_tags *out)
{
	out->ntags = 0;
	if (key->overflow) {
		out->tags[out->ntags++] = (struct statsd_tag){ SERIES_OVERFLOW_ATTRIBUTE, "true" };
		return;
	}
	if (hook->http) {
		http_tags_statsd(cfg, key, out);
		return;
	}
	for (size_t i = 0; i < hook->ncaptures && i < CONFIG_MAX_CAPTURES; i++) {
		const struct hook_capture *cap = &hook->captures[i];
		if (cap->tag == NULL || !value_text(cap, key, i, out->text[i], sizeof out->text[i]))
			continue;
		out->tags[out->ntags++] = (struct statsd_tag){ cap->tag, out->text[i] };
	}
}

void series_attributes_otlp(const struct stdbtel_config *cfg, const struct hook_config *hook,
                            const struct hotpath_series_key *key, struct series_attributes *out)
{
	out->nattrs = 0;
	if (key->overflow) {
		out->attrs[out->nattrs++] = (struct config_attribute){ .key = SERIES_OVERFLOW_ATTRIBUTE,
			                                               .type = ATTRIBUTE_BOOL, .u.boolean = true };
		return;
	}
	if (hook->http) {
		http_attributes_otlp(cfg, key, out);
		return;
	}
	for (size_t i = 0; i < hook->ncaptures && i < CONFIG_MAX_CAPTURES; i++) {
		const struct hook_capture *cap = &hook->captures[i];
		if (cap->tag == NULL)
			continue;
		struct config_attribute *a = &out->attrs[out->nattrs];
		a->key = cap->attribute != NULL ? cap->attribute : cap->tag;
		bool integer = cap->type <= CAPTURE_U64 && !(key->unreadable_mask & (1u << i));
		if (integer && !(cap->type == CAPTURE_U64 && key->values[i] > INT64_MAX)) {
			a->type = ATTRIBUTE_INT;
			a->u.integer = capture_as_int64(cap->type, key->values[i]);
		} else if (cap->type == CAPTURE_BOOL && !(key->unreadable_mask & (1u << i))) {
			a->type = ATTRIBUTE_BOOL;
			a->u.boolean = (uint8_t)key->values[i] != 0;
		} else {
			value_text(cap, key, i, out->text[i], sizeof out->text[i]);
			a->type = ATTRIBUTE_STRING;
			a->u.string = out->text[i];
		}
		out->nattrs++;
	}
}
