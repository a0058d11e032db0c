/* SPDX-License-Identifier: MIT */
/*
 * config.c: defaults, then the TOML file, then the environment.
 *
 * The file is checked against a fixed schema: every key is looked up in a
 * table of known keys for its section; an unknown key is an error naming
 * the closest known key, so a typo never passes silently. Values of the
 * wrong type are errors too. Environment values that do not parse are
 * warnings: the OpenTelemetry SDKs ignore such a variable and keep the
 * default, and so do we.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glob.h"
#include "http_route.h"
#include "toml.h"

/* Largest config file we read; a config is a few KiB, this guards memory. */
#define CONFIG_MAX_FILE_BYTES (4u << 20)
#define CAPTURE_DEFAULT_MAX_LEN 128
#define CAPTURE_LIMIT_MAX_LEN 4096
#define CAPTURE_MAX_ARG_INDEX 16

struct parse_ctx {
	const char *source;
	struct config_diags *diags;
	bool out_of_memory;
};

static void diag_add(struct parse_ctx *ctx, enum config_severity severity, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void diag_add(struct parse_ctx *ctx, enum config_severity severity, const char *fmt, ...)
{
	struct config_diags *diags = ctx->diags;
	diags->total++;
	if (severity == CONFIG_ERROR)
		diags->errors++;
	if (diags->count >= CONFIG_MAX_DIAGS)
		return;
	struct config_diag *d = &diags->items[diags->count++];
	d->severity = severity;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof d->text, fmt, ap);
	va_end(ap);
}

#define DIAG_AT(ctx, sev, line, col, fmt, ...) \
	diag_add((ctx), (sev), "%s:%d:%d: " fmt, (ctx)->source, (line), (col), ##__VA_ARGS__)

static char *dup_string(struct parse_ctx *ctx, const char *s)
{
	char *copy = strdup(s);
	if (copy == NULL && !ctx->out_of_memory) {
		ctx->out_of_memory = true;
		diag_add(ctx, CONFIG_ERROR, "%s: out of memory", ctx->source);
	}
	return copy;
}

/* Replaces *slot with a copy of s, freeing the old value. */
static void set_string(struct parse_ctx *ctx, char **slot, const char *s)
{
	char *copy = dup_string(ctx, s);
	free(*slot);
	*slot = copy;
}

/* Grows an array by one zeroed element; returns it or NULL. */
static void *array_append(struct parse_ctx *ctx, void **array, size_t *count, size_t elem_size)
{
	void *grown = realloc(*array, (*count + 1) * elem_size);
	if (grown == NULL) {
		if (!ctx->out_of_memory) {
			ctx->out_of_memory = true;
			diag_add(ctx, CONFIG_ERROR, "%s: out of memory", ctx->source);
		}
		return NULL;
	}
	*array = grown;
	void *elem = (char *)grown + *count * elem_size;
	memset(elem, 0, elem_size);
	(*count)++;
	return elem;
}

/* ---- names ---------------------------------------------------------------- */

struct name_value {
	const char *name;
	int value;
};

static const struct name_value span_kind_names[] = {
	{ "internal", SPAN_KIND_INTERNAL }, { "server", SPAN_KIND_SERVER },
	{ "client", SPAN_KIND_CLIENT },     { "producer", SPAN_KIND_PRODUCER },
	{ "consumer", SPAN_KIND_CONSUMER }, { NULL, 0 },
};

static const struct name_value compression_names[] = { { "none", 0 }, { "gzip", 1 }, { NULL, 0 } };
static const struct name_value statsd_tag_names[] = { { "dogstatsd", 0 }, { "none", 1 }, { NULL, 0 } };

static const struct name_value hook_via_names[] = {
	{ "auto", HOOK_VIA_AUTO }, { "interpose", HOOK_VIA_INTERPOSE }, { "patch", HOOK_VIA_PATCH }, { NULL, 0 },
};

static const struct name_value log_level_names[] = {
	{ "error", LOG_ERROR }, { "warn", LOG_WARN }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG }, { NULL, 0 },
};

static const struct name_value sampler_names[] = {
	{ "rate_limit", SAMPLER_RATE_LIMIT },
	{ "always_on", SAMPLER_ALWAYS_ON },
	{ "always_off", SAMPLER_ALWAYS_OFF },
	{ "traceidratio", SAMPLER_TRACEID_RATIO },
	{ "parentbased_always_on", SAMPLER_PARENTBASED_ALWAYS_ON },
	{ "parentbased_always_off", SAMPLER_PARENTBASED_ALWAYS_OFF },
	{ "parentbased_traceidratio", SAMPLER_PARENTBASED_TRACEID_RATIO },
	{ NULL, 0 },
};

static const struct name_value capture_type_names[] = {
	{ "i8", CAPTURE_I8 },     { "i16", CAPTURE_I16 },   { "i32", CAPTURE_I32 },
	{ "i64", CAPTURE_I64 },   { "u8", CAPTURE_U8 },     { "u16", CAPTURE_U16 },
	{ "u32", CAPTURE_U32 },   { "u64", CAPTURE_U64 },   { "bool", CAPTURE_BOOL },
	{ "pointer", CAPTURE_POINTER }, { "cstring", CAPTURE_CSTRING },
	{ "str", CAPTURE_STR },   { "chars", CAPTURE_CHARS }, { NULL, 0 },
};

static const struct name_value error_when_names[] = {
	{ "nonzero", ERROR_NONZERO }, { "zero", ERROR_ZERO },
	{ "negative", ERROR_NEGATIVE }, { "equal", ERROR_EQUAL },
	{ "not_equal", ERROR_NOT_EQUAL }, { NULL, 0 },
};

static bool lookup_name(const struct name_value *names, const char *name, int *value)
{
	for (; names->name != NULL; names++) {
		if (strcasecmp(names->name, name) == 0) {
			*value = names->value;
			return true;
		}
	}
	return false;
}

static const char *name_of(const struct name_value *names, int value)
{
	for (; names->name != NULL; names++)
		if (names->value == value)
			return names->name;
	return "?";
}

/* "a, b or c" for messages listing the accepted names. */
static void list_names(const struct name_value *names, char *out, size_t outsz)
{
	size_t used = 0;
	out[0] = '\0';
	for (const struct name_value *n = names; n->name != NULL && used < outsz; n++) {
		const char *sep = n == names ? "" : (n[1].name == NULL ? " or " : ", ");
		int w = snprintf(out + used, outsz - used, "%s%s", sep, n->name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

const char *config_span_kind_name(enum span_kind kind) { return name_of(span_kind_names, kind); }
const char *config_hook_via_name(enum hook_via via) { return name_of(hook_via_names, via); }
const char *config_log_level_name(enum log_level level) { return name_of(log_level_names, level); }
const char *config_sampler_name(enum sampler sampler) { return name_of(sampler_names, sampler); }
const char *config_capture_type_name(enum capture_type type) { return name_of(capture_type_names, type); }

/* Levenshtein distance, capped: used only to suggest a key for a typo. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	size_t row[41];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* ---- typed accessors: each reports a wrong type once and returns false ---- */

static bool want_type(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section,
                      enum toml_type type)
{
	if (kv->value->type == type)
		return true;
	DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col,
	        "'%s'%s%s must be %s %s, not %s %s", kv->key, section[0] ? " in " : "", section,
	        type == TOML_INTEGER || type == TOML_ARRAY ? "an" : "a", toml_type_name(type),
	        kv->value->type == TOML_INTEGER || kv->value->type == TOML_ARRAY ? "an" : "a",
	        toml_type_name(kv->value->type));
	return false;
}

static bool get_bool(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section, bool *out)
{
	if (!want_type(ctx, kv, section, TOML_BOOLEAN))
		return false;
	*out = kv->value->u.boolean;
	return true;
}

/* Strings must be non-empty and free of NUL bytes (names travel as C strings). */
static bool get_string(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section,
                       char **slot)
{
	if (!want_type(ctx, kv, section, TOML_STRING))
		return false;
	const struct toml_value *v = kv->value;
	if (v->u.str.len == 0 || strlen(v->u.str.ptr) != v->u.str.len) {
		DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col, "'%s' must be a non-empty string without NUL bytes",
		        kv->key);
		return false;
	}
	set_string(ctx, slot, v->u.str.ptr);
	return true;
}

static bool get_integer(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section,
                        int64_t min, int64_t max, int64_t *out)
{
	if (!want_type(ctx, kv, section, TOML_INTEGER))
		return false;
	int64_t v = kv->value->u.integer;
	if (v < min || v > max) {
		DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col,
		        "'%s' must be between %lld and %lld, not %lld", kv->key, (long long)min,
		        (long long)max, (long long)v);
		return false;
	}
	*out = v;
	return true;
}

/* A string naming one of names; the error lists the accepted ones. */
static bool get_enum(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section,
                     const struct name_value *names, int *out)
{
	if (!want_type(ctx, kv, section, TOML_STRING))
		return false;
	if (lookup_name(names, kv->value->u.str.ptr, out))
		return true;
	char accepted[200];
	list_names(names, accepted, sizeof accepted);
	DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col, "'%s' must be %s, not \"%s\"",
	        kv->key, accepted, kv->value->u.str.ptr);
	return false;
}

/*
 * Reports kv as unknown in section; known is a NULL-terminated list of the
 * section's keys, used to suggest the nearest one.
 */
static void unknown_key(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section,
                        const char *const *known)
{
	const char *best = NULL;
	size_t best_distance = 3; /* suggest only close matches */
	for (; *known != NULL; known++) {
		size_t d = edit_distance(kv->key, *known);
		/* "span_name" for "span": a known key with something added is a near miss too */
		if (strncmp(kv->key, *known, strlen(*known)) == 0 || strncmp(*known, kv->key, strlen(kv->key)) == 0)
			d = 1;
		if (d < best_distance) {
			best_distance = d;
			best = *known;
		}
	}
	if (best != NULL)
		DIAG_AT(ctx, CONFIG_ERROR, kv->line, kv->col, "unknown key '%s' in %s (did you mean '%s'?)",
		        kv->key, section, best);
	else
		DIAG_AT(ctx, CONFIG_ERROR, kv->line, kv->col, "unknown key '%s' in %s", kv->key, section);
}

/* ---- values shared by file and environment ----------------------------- */

/* Parses "host:port" or "[v6]:port" into the config. Returns false on a bad value. */
static bool parse_host_port(struct parse_ctx *ctx, const char *text, char **host, uint16_t *port)
{
	const char *colon;
	const char *host_start = text;
	size_t host_len;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return false;
		host_start = text + 1;
		host_len = (size_t)(close - host_start);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || strchr(text, ':') != colon)
			return false;
		host_len = (size_t)(colon - text);
	}
	if (host_len == 0)
		return false;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
		return false;
	char *h = strndup(host_start, host_len);
	if (h == NULL)
		return false;
	free(*host);
	*host = h;
	*port = (uint16_t)p;
	(void)ctx;
	return true;
}

static bool is_http_url(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 && s[7] != '\0') ||
	       (strncmp(s, "https://", 8) == 0 && s[8] != '\0');
}

/* StatsD names cannot hold the protocol's separators. */
static bool is_valid_metric_name(const char *s)
{
	for (; *s; s++)
		if (*s == ':' || *s == '|' || *s == '@' || *s == '#' || *s == ',' || isspace((unsigned char)*s))
			return false;
	return true;
}

/* ---- [telemetry] ----------------------------------------------------------- */

static void parse_sampling(struct parse_ctx *ctx, struct stdbtel_config *cfg, const struct toml_value *tab)
{
	static const char *const known[] = { "traces_per_second", NULL };
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		if (strcmp(kv->key, "traces_per_second") == 0) {
			double v;
			if (kv->value->type == TOML_INTEGER)
				v = (double)kv->value->u.integer;
			else if (kv->value->type == TOML_FLOAT)
				v = kv->value->u.flt;
			else {
				DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col,
				        "'traces_per_second' must be a number, not %s %s",
				        kv->value->type == TOML_INTEGER || kv->value->type == TOML_ARRAY ? "an" : "a",
				        toml_type_name(kv->value->type));
				continue;
			}
			if (!(v >= 0) || isinf(v)) {
				DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col,
				        "'traces_per_second' must be a finite number >= 0");
				continue;
			}
			cfg->traces_per_second = v;
		} else {
			unknown_key(ctx, kv, "[telemetry.sampling]", known);
		}
	}
}

static void parse_telemetry(struct parse_ctx *ctx, struct stdbtel_config *cfg, const struct toml_value *tab)
{
	static const char *const known[] = {
		"enabled", "otlp_endpoint", "otlp_compression", "otlp_timeout_ms", "otlp_certificate",
		"statsd_endpoint", "statsd_tags", "statsd_timer_budget", "statsd_max_payload", "service_name",
		"service_version", "log_level", "processes", "traces_file", "sampling", NULL,
	};
	const char *section = "[telemetry]";
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		const struct toml_value *v = kv->value;
		if (strcmp(kv->key, "enabled") == 0) {
			get_bool(ctx, kv, section, &cfg->enabled);
		} else if (strcmp(kv->key, "otlp_endpoint") == 0) {
			cfg->otlp_traces = cfg->otlp_metrics = true;
			if (get_string(ctx, kv, section, &cfg->otlp_endpoint) && !is_http_url(cfg->otlp_endpoint))
				DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col,
				        "'otlp_endpoint' must start with http:// or https://, not \"%s\"", v->u.str.ptr);
		} else if (strcmp(kv->key, "otlp_compression") == 0) {
			int gzip;
			if (get_enum(ctx, kv, section, compression_names, &gzip))
				cfg->otlp_gzip = gzip != 0;
		} else if (strcmp(kv->key, "otlp_timeout_ms") == 0) {
			int64_t n;
			if (get_integer(ctx, kv, section, 1, UINT32_MAX, &n))
				cfg->otlp_timeout_ms = (uint32_t)n;
		} else if (strcmp(kv->key, "otlp_certificate") == 0) {
			get_string(ctx, kv, section, &cfg->otlp_certificate);
		} else if (strcmp(kv->key, "statsd_endpoint") == 0) {
			cfg->statsd_metrics = true;
			if (want_type(ctx, kv, section, TOML_STRING) &&
			    !parse_host_port(ctx, v->u.str.ptr, &cfg->statsd_host, &cfg->statsd_port))
				DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col,
				        "'statsd_endpoint' must be host:port (port 1-65535), not \"%s\"", v->u.str.ptr);
		} else if (strcmp(kv->key, "statsd_tags") == 0) {
			int plain;
			if (get_enum(ctx, kv, section, statsd_tag_names, &plain))
				cfg->statsd_plain = plain != 0;
		} else if (strcmp(kv->key, "statsd_timer_budget") == 0) {
			int64_t n;
			if (get_integer(ctx, kv, section, 64, UINT32_MAX, &n))
				cfg->statsd_timer_budget = (uint32_t)n;
		} else if (strcmp(kv->key, "statsd_max_payload") == 0) {
			int64_t n;
			if (get_integer(ctx, kv, section, 512, 65507, &n))
				cfg->statsd_max_payload = (uint32_t)n;
		} else if (strcmp(kv->key, "service_name") == 0) {
			get_string(ctx, kv, section, &cfg->service_name);
		} else if (strcmp(kv->key, "service_version") == 0) {
			get_string(ctx, kv, section, &cfg->service_version);
		} else if (strcmp(kv->key, "log_level") == 0) {
			int level;
			if (get_enum(ctx, kv, section, log_level_names, &level))
				cfg->log_level = (enum log_level)level;
		} else if (strcmp(kv->key, "processes") == 0) {
			if (!want_type(ctx, kv, section, TOML_ARRAY))
				continue;
			for (size_t j = 0; j < v->u.array.count; j++) {
				const struct toml_value *item = v->u.array.items[j];
				if (item->type != TOML_STRING || item->u.str.len == 0) {
					DIAG_AT(ctx, CONFIG_ERROR, item->line, item->col,
					        "'processes' must hold non-empty strings (globs on the executable's name)");
					continue;
				}
				char **slot = array_append(ctx, (void **)&cfg->processes, &cfg->nprocesses, sizeof *slot);
				if (slot != NULL)
					*slot = dup_string(ctx, item->u.str.ptr);
			}
		} else if (strcmp(kv->key, "traces_file") == 0) {
			get_string(ctx, kv, section, &cfg->traces_file);
		} else if (strcmp(kv->key, "sampling") == 0) {
			if (want_type(ctx, kv, section, TOML_TABLE))
				parse_sampling(ctx, cfg, v);
		} else {
			unknown_key(ctx, kv, section, known);
		}
	}
}

/* ---- [[hook]] ------------------------------------------------------------- */

static bool capture_type_is_integer(enum capture_type t)
{
	return t <= CAPTURE_U64 || t == CAPTURE_BOOL;
}

static const struct name_value capture_at_names[] = {
	{ "entry", 0 },
	{ "exit", 1 },
	{ NULL, 0 },
};

/* 'deref': up to 4 integer byte offsets, into deref[] / *nderef. */
static void get_deref(struct parse_ctx *ctx, const struct toml_kv *kv, const char *section, int64_t deref[4], int *nderef)
{
	const struct toml_value *v = kv->value;
	if (!want_type(ctx, kv, section, TOML_ARRAY))
		return;
	if (v->u.array.count > 4) {
		DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col, "'deref' holds at most 4 offsets");
		return;
	}
	for (size_t j = 0; j < v->u.array.count; j++) {
		const struct toml_value *item = v->u.array.items[j];
		if (item->type != TOML_INTEGER) {
			DIAG_AT(ctx, CONFIG_ERROR, item->line, item->col, "'deref' must hold integer byte offsets");
			return;
		}
		deref[(*nderef)++] = item->u.integer;
	}
}

/* An argument read at exit must go through memory: by then its register is the callee's scratch. */
static bool reads_through_memory(const struct hook_capture *cap)
{
	return cap->nderef > 0;
}

static void parse_capture(struct parse_ctx *ctx, struct hook_config *hook, const struct toml_value *tab)
{
	static const char *const known[] = { "index", "return", "at", "type", "deref", "max_len", "stable",
		                              "attribute", "tag", "metric", NULL };
	const char *section = "[[hook.arg]]";
	struct hook_capture *cap = array_append(ctx, (void **)&hook->captures, &hook->ncaptures, sizeof *cap);
	if (cap == NULL)
		return;
	cap->type = CAPTURE_I64;
	cap->max_len = CAPTURE_DEFAULT_MAX_LEN;
	bool have_index = false, have_type = false, have_at = false;
	int at = 0;
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		const struct toml_value *v = kv->value;
		int64_t n;
		if (strcmp(kv->key, "index") == 0) {
			if (get_integer(ctx, kv, section, 1, CAPTURE_MAX_ARG_INDEX, &n)) {
				cap->index = (int)n;
				have_index = true;
			}
		} else if (strcmp(kv->key, "return") == 0) {
			get_bool(ctx, kv, section, &cap->from_return);
		} else if (strcmp(kv->key, "type") == 0) {
			int t;
			if (get_enum(ctx, kv, section, capture_type_names, &t)) {
				cap->type = (enum capture_type)t;
				have_type = true;
			}
		} else if (strcmp(kv->key, "deref") == 0) {
			get_deref(ctx, kv, section, cap->deref, &cap->nderef);
		} else if (strcmp(kv->key, "at") == 0) {
			have_at = true;
			if (get_enum(ctx, kv, section, capture_at_names, &at))
				cap->at_exit = at == 1;
		} else if (strcmp(kv->key, "stable") == 0) {
			get_bool(ctx, kv, section, &cap->stable);
		} else if (strcmp(kv->key, "max_len") == 0) {
			if (get_integer(ctx, kv, section, 1, CAPTURE_LIMIT_MAX_LEN, &n))
				cap->max_len = (uint32_t)n;
		} else if (strcmp(kv->key, "attribute") == 0) {
			get_string(ctx, kv, section, &cap->attribute);
		} else if (strcmp(kv->key, "tag") == 0) {
			if (get_string(ctx, kv, section, &cap->tag) && !is_valid_metric_name(cap->tag))
				DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col,
				        "'tag' cannot contain ':', '|', '@', '#', ',' or spaces");
		} else if (strcmp(kv->key, "metric") == 0) {
			if (get_string(ctx, kv, section, &cap->metric) && !is_valid_metric_name(cap->metric))
				DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col,
				        "'metric' cannot contain ':', '|', '@', '#', ',' or spaces");
		} else {
			unknown_key(ctx, kv, section, known);
		}
	}

	/* Rules that involve several keys; reported at the [[hook.arg]] header. */
	if (hook->ncaptures > CONFIG_MAX_CAPTURES)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col, "a hook captures at most %d values ([[hook.arg]] tables)",
		        CONFIG_MAX_CAPTURES);
	if (have_at && cap->from_return)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "'at' is for arguments: the return value is always read at return");
	if (cap->at_exit && !reads_through_memory(cap))
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "at = \"exit\" reads through the argument when the call returns, so it needs 'deref' "
		        "(the argument register itself may be reused by then)");
	if (have_index == cap->from_return)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "[[hook.arg]] needs exactly one of 'index' (argument position, from 1) or 'return = true'");
	if (!have_type)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col, "[[hook.arg]] needs a 'type'");
	if (cap->attribute == NULL && cap->tag == NULL && cap->metric == NULL)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "[[hook.arg]] needs at least one of 'attribute', 'tag' or 'metric' (where the value goes)");
	if (cap->type == CAPTURE_STR && cap->from_return)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "type \"str\" reads a (pointer, length) argument pair and cannot capture the return value");
	if (cap->type == CAPTURE_STR && cap->index == CAPTURE_MAX_ARG_INDEX)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "type \"str\" takes its length from argument %d, beyond the last supported (%d)",
		        cap->index + 1, CAPTURE_MAX_ARG_INDEX);
	if (cap->stable && cap->nderef < 2)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "'stable' keeps what lies behind the first pointer loaded, so it needs 'deref' with at least "
		        "two offsets");
	if (cap->metric != NULL && have_type && !capture_type_is_integer(cap->type))
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "'metric' adds the captured number to a counter, so 'type' must be an integer type");
}

static void parse_hook_error(struct parse_ctx *ctx, struct hook_config *hook, const struct toml_value *tab)
{
	static const char *const known[] = { "when", "value", "type", "index", "deref", NULL };
	const char *section = "[hook.error]";
	bool have_when = false, have_value = false;
	hook->error_type = CAPTURE_I64;
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		int e;
		if (strcmp(kv->key, "when") == 0) {
			if (get_enum(ctx, kv, section, error_when_names, &e)) {
				hook->error_when = (enum error_when)e;
				have_when = true;
			}
		} else if (strcmp(kv->key, "value") == 0) {
			if (get_integer(ctx, kv, section, INT64_MIN, INT64_MAX, &hook->error_value))
				have_value = true;
		} else if (strcmp(kv->key, "type") == 0) {
			if (get_enum(ctx, kv, section, capture_type_names, &e)) {
				if (capture_type_is_integer((enum capture_type)e) || e == CAPTURE_POINTER)
					hook->error_type = (enum capture_type)e;
				else
					DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col,
					        "[hook.error] 'type' must be an integer type or \"pointer\"");
			}
		} else if (strcmp(kv->key, "index") == 0) {
			int64_t n;
			if (get_integer(ctx, kv, section, 1, CAPTURE_MAX_ARG_INDEX, &n))
				hook->error_index = (int)n;
		} else if (strcmp(kv->key, "deref") == 0) {
			get_deref(ctx, kv, section, hook->error_deref, &hook->error_nderef);
		} else {
			unknown_key(ctx, kv, section, known);
		}
	}
	if (!have_when)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col, "[hook.error] needs 'when'");
	if (hook->error_index > 0 && hook->error_nderef == 0)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col,
		        "[hook.error] 'index' judges what the argument points to at return, so it needs 'deref'");
	bool needs_value = hook->error_when == ERROR_EQUAL || hook->error_when == ERROR_NOT_EQUAL;
	if (have_when && needs_value != have_value)
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col, "[hook.error] when = \"%s\" %s 'value'",
		        name_of(error_when_names, hook->error_when), needs_value ? "needs" : "takes no");
}

static void parse_hook_metrics(struct parse_ctx *ctx, struct hook_config *hook, const struct toml_value *tab)
{
	static const char *const known[] = { "duration", "count", "errors", NULL };
	const char *section = "[hook.metrics]";
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		char **slot = NULL;
		if (strcmp(kv->key, "duration") == 0)
			slot = &hook->metric_duration;
		else if (strcmp(kv->key, "count") == 0)
			slot = &hook->metric_count;
		else if (strcmp(kv->key, "errors") == 0)
			slot = &hook->metric_errors;
		if (slot == NULL) {
			unknown_key(ctx, kv, section, known);
			continue;
		}
		if (get_string(ctx, kv, section, slot) && !is_valid_metric_name(*slot))
			DIAG_AT(ctx, CONFIG_ERROR, kv->value->line, kv->value->col,
			        "metric name \"%s\" cannot contain ':', '|', '@', '#', ',' or spaces", *slot);
	}
}

static void parse_hook_attributes(struct parse_ctx *ctx, struct hook_config *hook,
                                  const struct toml_value *tab)
{
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		const struct toml_value *v = kv->value;
		if (v->type == TOML_TABLE || v->type == TOML_ARRAY) {
			DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col,
			        "attribute '%s' must be a string, integer, float or boolean (quote dotted names: \"db.system.name\" = ...)",
			        kv->key);
			continue;
		}
		struct config_attribute *attr =
			array_append(ctx, (void **)&hook->attributes, &hook->nattributes, sizeof *attr);
		if (attr == NULL)
			return;
		attr->key = dup_string(ctx, kv->key);
		switch (v->type) {
		case TOML_STRING:
			attr->type = ATTRIBUTE_STRING;
			attr->u.string = dup_string(ctx, v->u.str.ptr);
			break;
		case TOML_INTEGER:
			attr->type = ATTRIBUTE_INT;
			attr->u.integer = v->u.integer;
			break;
		case TOML_FLOAT:
			attr->type = ATTRIBUTE_DOUBLE;
			attr->u.dbl = v->u.flt;
			break;
		default:
			attr->type = ATTRIBUTE_BOOL;
			attr->u.boolean = v->u.boolean;
			break;
		}
	}
}

static void parse_hook(struct parse_ctx *ctx, struct stdbtel_config *cfg, const struct toml_value *tab)
{
	static const char *const known[] = { "symbol", "object", "span", "kind", "optional", "via",
		                              "attributes", "metrics", "error", "arg", NULL };
	const char *section = "[[hook]]";
	struct hook_config *hook = array_append(ctx, (void **)&cfg->hooks, &cfg->nhooks, sizeof *hook);
	if (hook == NULL)
		return;
	hook->kind = SPAN_KIND_INTERNAL;
	hook->line = tab->line;
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		const struct toml_value *v = kv->value;
		if (strcmp(kv->key, "symbol") == 0) {
			get_string(ctx, kv, section, &hook->symbol);
		} else if (strcmp(kv->key, "object") == 0) {
			get_string(ctx, kv, section, &hook->object);
		} else if (strcmp(kv->key, "span") == 0) {
			get_string(ctx, kv, section, &hook->span);
		} else if (strcmp(kv->key, "kind") == 0) {
			int kind;
			if (get_enum(ctx, kv, section, span_kind_names, &kind))
				hook->kind = (enum span_kind)kind;
		} else if (strcmp(kv->key, "optional") == 0) {
			get_bool(ctx, kv, section, &hook->optional);
		} else if (strcmp(kv->key, "via") == 0) {
			int via;
			if (get_enum(ctx, kv, section, hook_via_names, &via))
				hook->via = (enum hook_via)via;
		} else if (strcmp(kv->key, "attributes") == 0) {
			if (want_type(ctx, kv, section, TOML_TABLE))
				parse_hook_attributes(ctx, hook, v);
		} else if (strcmp(kv->key, "metrics") == 0) {
			if (want_type(ctx, kv, section, TOML_TABLE))
				parse_hook_metrics(ctx, hook, v);
		} else if (strcmp(kv->key, "error") == 0) {
			if (want_type(ctx, kv, section, TOML_TABLE))
				parse_hook_error(ctx, hook, v);
		} else if (strcmp(kv->key, "arg") == 0) {
			if (!want_type(ctx, kv, section, TOML_ARRAY))
				continue;
			for (size_t j = 0; j < v->u.array.count; j++) {
				if (v->u.array.items[j]->type != TOML_TABLE) {
					DIAG_AT(ctx, CONFIG_ERROR, v->u.array.items[j]->line, v->u.array.items[j]->col,
					        "'arg' must be written as [[hook.arg]] tables");
					continue;
				}
				parse_capture(ctx, hook, v->u.array.items[j]);
			}
		} else {
			unknown_key(ctx, kv, section, known);
		}
	}
	if (hook->symbol == NULL && toml_get(tab, "symbol") == NULL) /* a wrong one is reported already */
		DIAG_AT(ctx, CONFIG_ERROR, tab->line, tab->col, "[[hook]] needs a 'symbol'");
	if (hook->symbol != NULL && hook->span == NULL)
		hook->span = dup_string(ctx, hook->symbol);
}

/* [http] (config.h struct http_config); its [http.metrics] goes to the request hook. */
static void parse_http(struct parse_ctx *ctx, struct stdbtel_config *cfg, const struct toml_value *tab,
                       struct hook_config *requests)
{
	static const char *const known[] = { "ports", "routes", "params", "span", "metrics", NULL };
	const char *section = "[http]";
	struct http_config *h = &cfg->http;
	for (size_t i = 0; i < tab->u.table.count; i++) {
		const struct toml_kv *kv = &tab->u.table.kv[i];
		const struct toml_value *v = kv->value;
		if (strcmp(kv->key, "ports") == 0) {
			if (!want_type(ctx, kv, section, TOML_ARRAY))
				continue;
			for (size_t j = 0; j < v->u.array.count; j++) {
				const struct toml_value *item = v->u.array.items[j];
				if (item->type != TOML_INTEGER || item->u.integer < 1 || item->u.integer > 65535) {
					DIAG_AT(ctx, CONFIG_ERROR, item->line, item->col,
					        "'ports' must hold TCP port numbers (1 to 65535)");
					continue;
				}
				uint16_t *slot = array_append(ctx, (void **)&h->ports, &h->nports, sizeof *slot);
				if (slot != NULL)
					*slot = (uint16_t)item->u.integer;
			}
		} else if (strcmp(kv->key, "routes") == 0) {
			if (!want_type(ctx, kv, section, TOML_ARRAY))
				continue;
			for (size_t j = 0; j < v->u.array.count; j++) {
				const struct toml_value *item = v->u.array.items[j];
				char why[160];
				size_t col;
				if (item->type != TOML_STRING) {
					DIAG_AT(ctx, CONFIG_ERROR, item->line, item->col, "'routes' must hold strings");
					continue;
				}
				if ((col = http_route_check(item->u.str.ptr, why, sizeof why)) != 0) {
					DIAG_AT(ctx, CONFIG_ERROR, item->line, item->col, "route \"%s\", column %zu: %s",
					        item->u.str.ptr, col, why);
					continue;
				}
				char **slot = array_append(ctx, (void **)&h->routes, &h->nroutes, sizeof *slot);
				if (slot != NULL)
					*slot = dup_string(ctx, item->u.str.ptr);
			}
		} else if (strcmp(kv->key, "params") == 0) {
			if (!want_type(ctx, kv, section, TOML_TABLE))
				continue;
			for (size_t j = 0; j < v->u.table.count; j++) {
				const struct toml_kv *p = &v->u.table.kv[j];
				if (p->value->type != TOML_STRING) {
					DIAG_AT(ctx, CONFIG_ERROR, p->value->line, p->value->col,
					        "[http] params: '%s' must name a span attribute (a string)", p->key);
					continue;
				}
				struct config_pair *pair = array_append(ctx, (void **)&h->params, &h->nparams, sizeof *pair);
				if (pair != NULL) {
					pair->key = dup_string(ctx, p->key);
					pair->value = dup_string(ctx, p->value->u.str.ptr);
				}
			}
		} else if (strcmp(kv->key, "span") == 0) {
			free(requests->span);
			requests->span = NULL;
			get_string(ctx, kv, section, &requests->span);
		} else if (strcmp(kv->key, "metrics") == 0) {
			if (want_type(ctx, kv, section, TOML_TABLE))
				parse_hook_metrics(ctx, requests, v);
		} else {
			unknown_key(ctx, kv, section, known);
		}
	}
}

/* The [http] requests' hook, appended after the [[hook]]s when [http] names ports. */
static void add_http_hook(struct parse_ctx *ctx, struct stdbtel_config *cfg, struct hook_config *requests)
{
	if (cfg->http.nports == 0) {
		free(requests->span);
		free(requests->metric_duration);
		free(requests->metric_count);
		free(requests->metric_errors);
		return;
	}
	struct hook_config *h = array_append(ctx, (void **)&cfg->hooks, &cfg->nhooks, sizeof *h);
	if (h == NULL)
		return;
	*h = *requests;
	cfg->http_hook = (long)(cfg->nhooks - 1);
}

static void parse_document(struct parse_ctx *ctx, struct stdbtel_config *cfg, const struct toml_value *root,
                           struct hook_config *requests_out)
{
	static const char *const known[] = { "telemetry", "hook", "http", NULL };
	struct hook_config requests = *requests_out;
	for (size_t i = 0; i < root->u.table.count; i++) {
		const struct toml_kv *kv = &root->u.table.kv[i];
		const struct toml_value *v = kv->value;
		if (strcmp(kv->key, "telemetry") == 0) {
			if (want_type(ctx, kv, "", TOML_TABLE))
				parse_telemetry(ctx, cfg, v);
		} else if (strcmp(kv->key, "hook") == 0) {
			if (!want_type(ctx, kv, "", TOML_ARRAY))
				continue;
			for (size_t j = 0; j < v->u.array.count; j++) {
				if (v->u.array.items[j]->type != TOML_TABLE) {
					DIAG_AT(ctx, CONFIG_ERROR, v->line, v->col,
					        "'hook' must be written as [[hook]] tables");
					break;
				}
				parse_hook(ctx, cfg, v->u.array.items[j]);
			}
		} else if (strcmp(kv->key, "http") == 0) {
			if (want_type(ctx, kv, "", TOML_TABLE))
				parse_http(ctx, cfg, v, &requests);
		} else {
			unknown_key(ctx, kv, "the top level", known);
		}
	}
	*requests_out = requests;
}

/* STDBTEL_HTTP_PORTS=3000,3001: the [http] ports, replacing the file's ("" is unset; "none" turns them off). */
static void http_ports_from_env(struct parse_ctx *ctx, struct stdbtel_config *cfg, const char *v)
{
	free(cfg->http.ports);
	cfg->http.ports = NULL;
	cfg->http.nports = 0;
	if (strcmp(v, "none") == 0)
		return;
	for (const char *p = v; *p != '\0';) {
		char *end;
		errno = 0;
		long port = strtol(p, &end, 10);
		if (errno != 0 || end == p || port < 1 || port > 65535 || (*end != ',' && *end != '\0')) {
			diag_add(ctx, CONFIG_ERROR, "STDBTEL_HTTP_PORTS: \"%s\" is not a comma-separated list of ports", v);
			free(cfg->http.ports);
			cfg->http.ports = NULL;
			cfg->http.nports = 0;
			return;
		}
		uint16_t *slot = array_append(ctx, (void **)&cfg->http.ports, &cfg->http.nports, sizeof *slot);
		if (slot != NULL)
			*slot = (uint16_t)port;
		p = *end == ',' ? end + 1 : end;
	}
}

/* ---- environment ---------------------------------------------------------- */

struct env {
	config_getenv_fn fn;
	void *ctx;
};

/* The variable's value, or NULL when unset or empty. */
static const char *env_get(const struct env *env, const char *name)
{
	if (env->fn == NULL)
		return NULL;
	const char *v = env->fn(name, env->ctx);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool parse_bool_text(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on", NULL };
	static const char *const no[] = { "false", "0", "no", "off", NULL };
	for (const char *const *w = yes; *w; w++)
		if (strcasecmp(s, *w) == 0)
			return *out = true, true;
	for (const char *const *w = no; *w; w++)
		if (strcasecmp(s, *w) == 0)
			return *out = false, true;
	return false;
}

/* Reads a non-negative integer variable into *out; warns and keeps *out when invalid. */
static void env_uint(struct parse_ctx *ctx, const struct env *env, const char *name, uint32_t min,
                     uint32_t *out)
{
	const char *v = env_get(env, name);
	if (v == NULL)
		return;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < min || n > UINT32_MAX) {
		diag_add(ctx, CONFIG_WARNING, "%s: \"%s\" is not an integer >= %u; using %u", name, v, min, *out);
		return;
	}
	*out = (uint32_t)n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies [start, end) trimmed of blanks and percent-decoded into a new string. */
static char *decode_list_item(const char *start, const char *end)
{
	while (start < end && isblank((unsigned char)*start))
		start++;
	while (end > start && isblank((unsigned char)end[-1]))
		end--;
	char *out = malloc((size_t)(end - start) + 1);
	if (out == NULL)
		return NULL;
	size_t n = 0;
	for (const char *p = start; p < end; p++) {
		if (*p == '%' && end - p >= 3 && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
			out[n++] = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return out;
}

/*
 * Parses the W3C-baggage-like list "k1=v1,k2=v2" used by
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES; values are
 * percent-decoded. A malformed item is skipped with a warning.
 */
static void parse_pair_list(struct parse_ctx *ctx, const char *name, const char *text,
                            struct config_pair **pairs, size_t *count)
{
	const char *item = text;
	while (*item != '\0') {
		const char *comma = strchr(item, ',');
		const char *item_end = comma != NULL ? comma : item + strlen(item);
		const char *eq = memchr(item, '=', (size_t)(item_end - item));
		char *key = eq != NULL ? decode_list_item(item, eq) : NULL;
		char *value = eq != NULL ? decode_list_item(eq + 1, item_end) : NULL;
		if (key == NULL || value == NULL || key[0] == '\0') {
			if (item_end > item)
				diag_add(ctx, CONFIG_WARNING, "%s: ignoring \"%.*s\" (expected key=value)", name,
				         (int)(item_end - item), item);
			free(key);
			free(value);
		} else {
			struct config_pair *pair = array_append(ctx, (void **)pairs, count, sizeof *pair);
			if (pair != NULL) {
				pair->key = key;
				pair->value = value;
			} else {
				free(key);
				free(value);
			}
		}
		item = comma != NULL ? comma + 1 : item_end;
	}
}

static void apply_environment(struct parse_ctx *ctx, struct stdbtel_config *cfg, const struct env *env)
{
	const char *v;
	bool b;

	if ((v = env_get(env, "SPACETIMEDB_TELEMETRY_ENABLED")) != NULL) {
		if (parse_bool_text(v, &b))
			cfg->enabled = b;
		else
			diag_add(ctx, CONFIG_WARNING,
			         "SPACETIMEDB_TELEMETRY_ENABLED: \"%s\" is not true/false; ignored", v);
	}
	/* The OpenTelemetry rule: only "true" (any case) disables; it wins over everything. */
	if ((v = env_get(env, "OTEL_SDK_DISABLED")) != NULL) {
		if (strcasecmp(v, "true") == 0)
			cfg->enabled = false;
		else if (strcasecmp(v, "false") != 0)
			diag_add(ctx, CONFIG_WARNING, "OTEL_SDK_DISABLED: \"%s\" is not true/false; ignored", v);
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_ENDPOINT")) != NULL) {
		if (is_http_url(v))
			set_string(ctx, &cfg->otlp_endpoint, v), cfg->otlp_traces = cfg->otlp_metrics = true;
		else
			diag_add(ctx, CONFIG_WARNING,
			         "OTEL_EXPORTER_OTLP_ENDPOINT: \"%s\" is not an http:// or https:// URL; ignored", v);
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != NULL) {
		if (is_http_url(v))
			set_string(ctx, &cfg->otlp_traces_endpoint, v), cfg->otlp_traces = true;
		else
			diag_add(ctx, CONFIG_WARNING,
			         "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: \"%s\" is not an http:// or https:// URL; ignored", v);
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")) != NULL) {
		if (is_http_url(v))
			set_string(ctx, &cfg->otlp_metrics_endpoint, v), cfg->otlp_metrics = true;
		else
			diag_add(ctx, CONFIG_WARNING,
			         "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: \"%s\" is not an http:// or https:// URL; ignored", v);
	}
	env_uint(ctx, env, "OTEL_EXPORTER_OTLP_TIMEOUT", 1, &cfg->otlp_timeout_ms);
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_COMPRESSION")) != NULL) {
		if (strcmp(v, "gzip") == 0 || strcmp(v, "none") == 0)
			cfg->otlp_gzip = strcmp(v, "gzip") == 0;
		else
			diag_add(ctx, CONFIG_WARNING, "OTEL_EXPORTER_OTLP_COMPRESSION: \"%s\" is not gzip or none; using %s", v,
			         cfg->otlp_gzip ? "gzip" : "none");
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_CERTIFICATE")) != NULL)
		set_string(ctx, &cfg->otlp_certificate, v);
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_PROTOCOL")) != NULL && strcmp(v, "http/protobuf") != 0)
		diag_add(ctx, CONFIG_WARNING, "OTEL_EXPORTER_OTLP_PROTOCOL: \"%s\" is not supported; using http/protobuf", v);
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_HEADERS")) != NULL)
		parse_pair_list(ctx, "OTEL_EXPORTER_OTLP_HEADERS", v, &cfg->otlp_headers, &cfg->notlp_headers);

	/* service.name from OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME (which wins). */
	if ((v = env_get(env, "OTEL_RESOURCE_ATTRIBUTES")) != NULL) {
		parse_pair_list(ctx, "OTEL_RESOURCE_ATTRIBUTES", v, &cfg->resource_attributes,
		                &cfg->nresource_attributes);
		for (size_t i = 0; i < cfg->nresource_attributes; i++) {
			if (strcmp(cfg->resource_attributes[i].key, "service.name") == 0)
				set_string(ctx, &cfg->service_name, cfg->resource_attributes[i].value);
			else if (strcmp(cfg->resource_attributes[i].key, "service.version") == 0)
				set_string(ctx, &cfg->service_version, cfg->resource_attributes[i].value);
		}
	}
	if ((v = env_get(env, "OTEL_SERVICE_NAME")) != NULL)
		set_string(ctx, &cfg->service_name, v);
	if ((v = env_get(env, "OTEL_SERVICE_VERSION")) != NULL)
		set_string(ctx, &cfg->service_version, v);

	if ((v = env_get(env, "OTEL_TRACES_SAMPLER")) != NULL) {
		int s;
		if (lookup_name(sampler_names, v, &s) && s != SAMPLER_RATE_LIMIT)
			cfg->sampler = (enum sampler)s;
		else
			diag_add(ctx, CONFIG_WARNING,
			         "OTEL_TRACES_SAMPLER: \"%s\" is not supported (always_on, always_off, traceidratio, "
			         "parentbased_always_on, parentbased_always_off, parentbased_traceidratio); "
			         "keeping the config's rate limit", v);
	}
	if ((v = env_get(env, "OTEL_TRACES_SAMPLER_ARG")) != NULL &&
	    (cfg->sampler == SAMPLER_TRACEID_RATIO || cfg->sampler == SAMPLER_PARENTBASED_TRACEID_RATIO)) {
		char *end;
		errno = 0;
		double ratio = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' || !(ratio >= 0.0 && ratio <= 1.0))
			diag_add(ctx, CONFIG_WARNING,
			         "OTEL_TRACES_SAMPLER_ARG: \"%s\" is not a ratio between 0 and 1; using %g", v,
			         cfg->sampler_ratio);
		else
			cfg->sampler_ratio = ratio;
	}

	env_uint(ctx, env, "OTEL_BSP_SCHEDULE_DELAY", 0, &cfg->bsp_schedule_delay_ms);
	env_uint(ctx, env, "OTEL_BSP_EXPORT_TIMEOUT", 0, &cfg->bsp_export_timeout_ms);
	env_uint(ctx, env, "OTEL_BSP_MAX_QUEUE_SIZE", 1, &cfg->bsp_max_queue_size);
	env_uint(ctx, env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, &cfg->bsp_max_export_batch_size);
	if (cfg->bsp_max_export_batch_size > cfg->bsp_max_queue_size) {
		diag_add(ctx, CONFIG_WARNING,
		         "OTEL_BSP_MAX_EXPORT_BATCH_SIZE (%u) is larger than OTEL_BSP_MAX_QUEUE_SIZE (%u); using %u",
		         cfg->bsp_max_export_batch_size, cfg->bsp_max_queue_size, cfg->bsp_max_queue_size);
		cfg->bsp_max_export_batch_size = cfg->bsp_max_queue_size;
	}
	env_uint(ctx, env, "OTEL_METRIC_EXPORT_INTERVAL", 1, &cfg->metric_export_interval_ms);

	if ((v = env_get(env, "STATSD_HOST")) != NULL)
		set_string(ctx, &cfg->statsd_host, v), cfg->statsd_metrics = true;
	if ((v = env_get(env, "STATSD_PORT")) != NULL) {
		char *end;
		errno = 0;
		long port = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || port < 1 || port > 65535)
			diag_add(ctx, CONFIG_WARNING, "STATSD_PORT: \"%s\" is not a port number; using %u", v,
			         cfg->statsd_port);
		else
			cfg->statsd_port = (uint16_t)port, cfg->statsd_metrics = true;
	}
	if ((v = env_get(env, "OTEL_TRACES_EXPORTER")) != NULL) {
		if (strcmp(v, "none") == 0)
			cfg->otlp_traces = false;
		else if (strcmp(v, "otlp") != 0)
			diag_add(ctx, CONFIG_WARNING, "OTEL_TRACES_EXPORTER: \"%s\" is not otlp or none; ignored", v);
	}
	if ((v = env_get(env, "OTEL_METRICS_EXPORTER")) != NULL) {
		if (strcmp(v, "none") == 0)
			cfg->otlp_metrics = false;
		else if (strcmp(v, "otlp") != 0)
			diag_add(ctx, CONFIG_WARNING, "OTEL_METRICS_EXPORTER: \"%s\" is not otlp or none; ignored", v);
	}
	if ((v = env_get(env, "STDBTEL_LOG")) != NULL) {
		int level;
		if (lookup_name(log_level_names, v, &level))
			cfg->log_level = (enum log_level)level;
		else
			diag_add(ctx, CONFIG_WARNING, "STDBTEL_LOG: \"%s\" is not error, warn, info or debug; ignored", v);
	}
}

/* ---- entry points --------------------------------------------------------- */

static void set_defaults(struct parse_ctx *ctx, struct stdbtel_config *cfg, const char *source)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->source = dup_string(ctx, source);
	cfg->enabled = false;
	cfg->http_hook = -1;
	cfg->otlp_endpoint = dup_string(ctx, "http://localhost:4318");
	cfg->statsd_host = dup_string(ctx, "localhost");
	cfg->statsd_port = 8125;
	cfg->statsd_timer_budget = 1000;
	cfg->statsd_max_payload = 1432;
	cfg->service_name = dup_string(ctx, "spacetimedb");
	cfg->log_level = LOG_INFO;
	cfg->traces_per_second = 100;
	cfg->sampler = SAMPLER_RATE_LIMIT;
	cfg->sampler_ratio = 1.0;
	cfg->bsp_schedule_delay_ms = 5000;
	cfg->bsp_export_timeout_ms = 30000;
	cfg->bsp_max_queue_size = 2048;
	cfg->bsp_max_export_batch_size = 512;
	cfg->metric_export_interval_ms = 60000;
	cfg->otlp_timeout_ms = 10000;
}

size_t config_parse(struct stdbtel_config *cfg, const char *source, const char *text, size_t len,
                    config_getenv_fn getenv_fn, void *getenv_ctx, struct config_diags *diags)
{
	struct parse_ctx ctx = { .source = source != NULL ? source : "(config)", .diags = diags };
	set_defaults(&ctx, cfg, text != NULL ? ctx.source : "(defaults)");
	/* [http]'s request hook: filled by [http], appended after the environment (which may name ports) */
	struct hook_config requests = { .kind = SPAN_KIND_SERVER, .http = true, .error_when = ERROR_NEVER,
		                        .error_type = CAPTURE_I64 };
	if (text != NULL) {
		struct toml_error err;
		struct toml_value *root = toml_parse(text, len, &err);
		if (root == NULL) {
			DIAG_AT(&ctx, CONFIG_ERROR, err.line, err.col, "%s", err.msg);
		} else {
			parse_document(&ctx, cfg, root, &requests);
			toml_free(root);
		}
	}
	struct env env = { .fn = getenv_fn, .ctx = getenv_ctx };
	apply_environment(&ctx, cfg, &env);
	const char *ports = env_get(&env, "STDBTEL_HTTP_PORTS");
	if (ports != NULL)
		http_ports_from_env(&ctx, cfg, ports);
	if (requests.span == NULL)
		requests.span = dup_string(&ctx, "HTTP");
	add_http_hook(&ctx, cfg, &requests);
	return diags->errors;
}

static const char *process_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

/* Reads a whole regular file into a NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto fail;
	}
	if ((uint64_t)st.st_size > CONFIG_MAX_FILE_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", CONFIG_MAX_FILE_BYTES);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

size_t config_load(struct stdbtel_config *cfg, const char *default_path, struct config_diags *diags)
{
	const char *path = getenv("STDBTEL_CONFIG");
	if (path == NULL || path[0] == '\0')
		path = default_path;
	char err[200];
	size_t len = 0;
	char *text = read_file(path, &len, err, sizeof err);
	if (text == NULL) {
		struct parse_ctx ctx = { .source = path, .diags = diags };
		config_parse(cfg, path, NULL, 0, process_getenv, NULL, diags);
		diag_add(&ctx, CONFIG_ERROR, "%s: %s", path, err);
		return diags->errors;
	}
	config_parse(cfg, path, text, len, process_getenv, NULL, diags);
	free(text);
	return diags->errors;
}

bool config_process_matches(const struct stdbtel_config *cfg, const char *exe_basename)
{
	if (cfg->nprocesses == 0)
		return true;
	for (size_t i = 0; i < cfg->nprocesses; i++)
		if (cfg->processes[i] != NULL && glob_match(cfg->processes[i], exe_basename))
			return true;
	return false;
}

static void free_pairs(struct config_pair *pairs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(pairs[i].key);
		free(pairs[i].value);
	}
	free(pairs);
}

void config_free(struct stdbtel_config *cfg)
{
	free(cfg->source);
	free(cfg->otlp_endpoint);
	free(cfg->otlp_traces_endpoint);
	free(cfg->otlp_metrics_endpoint);
	free(cfg->otlp_certificate);
	free_pairs(cfg->otlp_headers, cfg->notlp_headers);
	free(cfg->statsd_host);
	free(cfg->service_name);
	free(cfg->service_version);
	free_pairs(cfg->resource_attributes, cfg->nresource_attributes);
	for (size_t i = 0; i < cfg->nprocesses; i++)
		free(cfg->processes[i]);
	free(cfg->processes);
	free(cfg->http.ports);
	for (size_t i = 0; i < cfg->http.nroutes; i++)
		free(cfg->http.routes[i]);
	free(cfg->http.routes);
	for (size_t i = 0; i < cfg->http.nparams; i++) {
		free(cfg->http.params[i].key);
		free(cfg->http.params[i].value);
	}
	free(cfg->http.params);
	free(cfg->traces_file);
	for (size_t i = 0; i < cfg->nhooks; i++) {
		struct hook_config *h = &cfg->hooks[i];
		free(h->symbol);
		free(h->object);
		free(h->span);
		for (size_t j = 0; j < h->nattributes; j++) {
			free(h->attributes[j].key);
			if (h->attributes[j].type == ATTRIBUTE_STRING)
				free(h->attributes[j].u.string);
		}
		free(h->attributes);
		free(h->metric_duration);
		free(h->metric_count);
		free(h->metric_errors);
		for (size_t j = 0; j < h->ncaptures; j++) {
			free(h->captures[j].attribute);
			free(h->captures[j].tag);
			free(h->captures[j].metric);
		}
		free(h->captures);
	}
	free(cfg->hooks);
	memset(cfg, 0, sizeof *cfg);
}
