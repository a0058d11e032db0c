/* SPDX-License-Identifier: MIT */
/*
 * config.h: stdbtel's configuration: the TOML file, the environment
 * variables that override it, and the defaults.
 *
 * Owns: struct stdbtel_config and the rules for filling it. One loader is
 * shared by the preloaded shim and the `stdbtel` command, so `stdbtel check`
 * reports exactly what the shim would.
 *
 * Precedence, highest first: environment, file, defaults. An environment
 * variable set to the empty string counts as unset (the OpenTelemetry rule).
 *
 * Problems are collected, not printed: config_parse() returns every
 * problem it found as a list of diagnostics ("file:line:col: message"),
 * and the caller reports them at its edge. A diagnostic of severity
 * CONFIG_ERROR makes the whole config unusable (the shim then stays
 * inactive); CONFIG_WARNING means a value was ignored and its default used.
 *
 * Threading: a config is built once, before any hooked code runs, and is
 * read-only afterwards.
 */
#ifndef STDBTEL_CONFIG_H
#define STDBTEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Log levels, in order of verbosity. */
enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* OpenTelemetry span kinds, numbered as in OTLP's Span.SpanKind. */
enum span_kind {
	SPAN_KIND_INTERNAL = 1,
	SPAN_KIND_SERVER = 2,
	SPAN_KIND_CLIENT = 3,
	SPAN_KIND_PRODUCER = 4,
	SPAN_KIND_CONSUMER = 5,
};

/* OTEL_TRACES_SAMPLER values; SAMPLER_RATE_LIMIT is the config's default. */
enum sampler {
	SAMPLER_RATE_LIMIT,       /* [telemetry.sampling] traces_per_second */
	SAMPLER_ALWAYS_ON,
	SAMPLER_ALWAYS_OFF,
	SAMPLER_TRACEID_RATIO,
	SAMPLER_PARENTBASED_ALWAYS_ON,
	SAMPLER_PARENTBASED_ALWAYS_OFF,
	SAMPLER_PARENTBASED_TRACEID_RATIO,
};

/* How a captured value is read from its register or memory. */
enum capture_type {
	CAPTURE_I8, CAPTURE_I16, CAPTURE_I32, CAPTURE_I64,
	CAPTURE_U8, CAPTURE_U16, CAPTURE_U32, CAPTURE_U64,
	CAPTURE_BOOL,
	CAPTURE_POINTER, /* printed as 0x... */
	CAPTURE_CSTRING, /* NUL-terminated char*, up to max_len bytes */
	CAPTURE_STR,     /* Rust &str / &[u8]: pointer in this argument, length in the next */
	CAPTURE_CHARS,   /* a char array in place (C's char name[64]): read at the last deref address
	                    itself, up to a NUL or max_len bytes */
};

/* Whether a capture of type t is text (kept in the span's text area), not a number. */
static inline bool capture_type_is_text(enum capture_type t)
{
	return t == CAPTURE_CSTRING || t == CAPTURE_STR || t == CAPTURE_CHARS;
}

/* When a call counts as an error, judged on the integer return value. */
enum error_when {
	ERROR_NEVER,     /* no [hook.error] table: only unwinding marks an error */
	ERROR_NONZERO,
	ERROR_ZERO,
	ERROR_NEGATIVE,
	ERROR_EQUAL,     /* return == value */
	ERROR_NOT_EQUAL, /* return != value */
};

/* A key = value string pair (resource attributes, headers). */
struct config_pair {
	char *key;
	char *value;
};

/* A static span attribute: OTLP keeps the value's type, so the config does too. */
enum attribute_type {
	ATTRIBUTE_STRING,
	ATTRIBUTE_INT,
	ATTRIBUTE_DOUBLE,
	ATTRIBUTE_BOOL,
};

struct config_attribute {
	char *key;
	enum attribute_type type;
	union {
		char *string;
		int64_t integer;
		double dbl;
		bool boolean;
	} u;
};

/* [[hook.arg]]: one value captured per call (at most CONFIG_MAX_CAPTURES per hook). */
#define CONFIG_MAX_CAPTURES 4
struct hook_capture {
	int index;              /* 1-based ABI argument position; 0 with from_return */
	bool from_return;       /* capture the return value instead of an argument */
	bool at_exit;           /* "at" = "exit": the argument saved at entry, its derefs read at return
	                         * (an out-parameter, a struct-return slot); the return value always is */
	enum capture_type type;
	int64_t deref[4];       /* follow pointers: value = *(arg + deref[0]) ... */
	int nderef;
	uint32_t max_len;       /* strings: bytes kept (default 128) */
	bool stable;            /* what the first pointer loaded points to never changes: the rest of
	                         * the chain is read once per distinct pointer (hot_capture.h) */
	char *attribute;        /* span attribute name, or NULL */
	char *tag;              /* StatsD tag name, or NULL */
	char *metric;           /* StatsD counter incremented by the value, or NULL */
};

/* How a hook reaches its function (see shim/interpose.h). */
enum hook_via {
	HOOK_VIA_AUTO,      /* interpose when the shim has a wrapper and the function is in a shared library */
	HOOK_VIA_INTERPOSE, /* the shim's exported wrapper, forwarding with dlsym(RTLD_NEXT) */
	HOOK_VIA_PATCH,     /* an inline patch at the function's entry */
};

/*
 * [http]: request spans timed at the socket layer (shim/http_server.h).
 * Connections accepted on one of ports are parsed as HTTP/1.x; each
 * request becomes one SERVER span of the hook at http_hook (a hook of its
 * own, without a symbol, appended after the [[hook]]s).
 */
struct http_config {
	uint16_t *ports;          /* listening ports; none = HTTP spans off */
	size_t nports;
	char **routes;            /* http.route templates (shim/http_route.h) */
	size_t nroutes;
	struct config_pair *params; /* path parameter name -> span attribute (also a tag of that name) */
	size_t nparams;
};

/* [[hook]]: one function (or glob of functions) to time. */
struct hook_config {
	char *symbol;            /* demangled path, mangled name, or glob */
	char *object;            /* glob on the basename of the ELF object; NULL = main program */
	char *span;              /* span name; defaults to the symbol */
	enum span_kind kind;
	bool optional;           /* a missing symbol is a debug note, not a warning */
	enum hook_via via;       /* "via": auto | interpose | patch (default auto) */
	struct config_attribute *attributes;
	size_t nattributes;
	char *metric_duration;   /* [hook.metrics] duration (StatsD timer, ms) */
	char *metric_count;      /* [hook.metrics] count (StatsD counter) */
	char *metric_errors;     /* [hook.metrics] errors (StatsD counter) */
	enum error_when error_when;   /* [hook.error] when */
	int64_t error_value;          /* [hook.error] value */
	enum capture_type error_type; /* [hook.error] type: width/sign of the value judged */
	int error_index;              /* [hook.error] index: judge this argument at return, not the
	                               * return register (0), e.g. a Result's struct-return slot */
	int64_t error_deref[4];       /* [hook.error] deref, read at return */
	int error_nderef;
	struct hook_capture *captures;
	size_t ncaptures;
	bool http;               /* the [http] requests' hook: no symbol, spans from the socket layer */
	int line;                /* where the [[hook]] header is, for messages */
};

struct stdbtel_config {
	char *source;             /* file the config came from, or "(defaults)" */

	/* [telemetry] */
	bool enabled;
	char *otlp_endpoint;        /* base URL; /v1/traces, /v1/metrics appended */
	char *otlp_traces_endpoint; /* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, used as given */
	char *otlp_metrics_endpoint;/* OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, used as given */
	struct config_pair *otlp_headers; /* OTEL_EXPORTER_OTLP_HEADERS */
	size_t notlp_headers;
	uint32_t otlp_timeout_ms;   /* OTEL_EXPORTER_OTLP_TIMEOUT: one export, retries included (default 10000) */
	bool otlp_gzip;             /* OTEL_EXPORTER_OTLP_COMPRESSION = gzip (default none) */
	char *otlp_certificate;     /* OTEL_EXPORTER_OTLP_CERTIFICATE: CA file for https, NULL = system CAs */
	char *statsd_host;
	uint16_t statsd_port;
	bool statsd_plain;           /* statsd_tags = "none": plain StatsD, tags dropped (default dogstatsd) */
	uint32_t statsd_timer_budget;/* timer lines per metric per interval (default 1000, at least 64) */
	uint32_t statsd_max_payload; /* bytes per datagram (default 1432) */
	char *service_name;
	char *service_version;
	struct config_pair *resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES */
	size_t nresource_attributes;
	enum log_level log_level;
	char **processes;           /* globs on the executable's basename; none = any */
	size_t nprocesses;
	char *traces_file;          /* OTLP-JSON lines file, NULL = off */

	/* Which exporters run. OTLP needs an endpoint named somewhere (the
	 * file's otlp_endpoint or an OTEL_EXPORTER_OTLP_*ENDPOINT variable): a
	 * shim inside someone's server sends nothing to a default address
	 * nobody asked for. OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER = none
	 * turn either signal off. StatsD needs statsd_endpoint or STATSD_HOST /
	 * STATSD_PORT. */
	bool otlp_traces;
	bool otlp_metrics;
	bool statsd_metrics;

	/* sampling */
	double traces_per_second;   /* [telemetry.sampling]; 0 = no new traces */
	enum sampler sampler;
	double sampler_ratio;       /* OTEL_TRACES_SAMPLER_ARG for *traceidratio */

	/* batching (OTEL_BSP_*) and metric export, in milliseconds / items */
	uint32_t bsp_schedule_delay_ms;
	uint32_t bsp_export_timeout_ms;
	uint32_t bsp_max_queue_size;
	uint32_t bsp_max_export_batch_size;
	uint32_t metric_export_interval_ms;

	struct hook_config *hooks;
	size_t nhooks;

	struct http_config http;
	long http_hook;             /* index of the [http] hook in hooks, -1 without [http] ports */
};

enum config_severity {
	CONFIG_WARNING,
	CONFIG_ERROR,
};

struct config_diag {
	enum config_severity severity;
	char text[320]; /* "file:line:col: message" or "NAME: message" for the environment */
};

/* Diagnostics collected by config_parse(); the first CONFIG_MAX_DIAGS are kept. */
#define CONFIG_MAX_DIAGS 32
struct config_diags {
	struct config_diag items[CONFIG_MAX_DIAGS];
	size_t count;   /* kept */
	size_t total;   /* found, including those not kept */
	size_t errors;  /* of severity CONFIG_ERROR */
};

/* Reads an environment variable; returns NULL when unset. */
typedef const char *(*config_getenv_fn)(const char *name, void *ctx);

/*
 * Builds cfg from defaults, then the TOML text (when text is not NULL),
 * then the environment (when getenv_fn is not NULL). source names the text
 * in diagnostics. Returns the number of errors (diags->errors); cfg is
 * always fully initialised and must be released with config_free().
 * Pure apart from getenv_fn: no I/O.
 */
size_t config_parse(struct stdbtel_config *cfg, const char *source, const char *text, size_t len,
                    config_getenv_fn getenv_fn, void *getenv_ctx, struct config_diags *diags);

/*
 * The edge: picks the file (STDBTEL_CONFIG, else default_path), reads it,
 * and calls config_parse() with the process environment. A missing or
 * unreadable file is a CONFIG_ERROR diagnostic. Returns the error count.
 */
size_t config_load(struct stdbtel_config *cfg, const char *default_path, struct config_diags *diags);

/* Releases everything config_parse() allocated. Safe on a zeroed cfg. */
void config_free(struct stdbtel_config *cfg);

/* True when the executable's basename matches cfg->processes (or the list is empty). */
bool config_process_matches(const struct stdbtel_config *cfg, const char *exe_basename);

const char *config_span_kind_name(enum span_kind kind);
const char *config_hook_via_name(enum hook_via via);
const char *config_log_level_name(enum log_level level);
const char *config_sampler_name(enum sampler sampler);
const char *config_capture_type_name(enum capture_type type);

#endif
