/* SPDX-License-Identifier: MIT */
/*
 * otlp_http.h: the OTLP/HTTP transport. POSTs already-encoded protobuf
 * bodies (ExportTraceServiceRequest, ExportMetricsServiceRequest) to a
 * collector with libcurl and applies the specification's retry rules
 * (otlp_retry.h) until the batch is delivered, dropped or the caller
 * aborts. It knows nothing of spans: the caller encodes, and decodes the
 * response body (partial_success) with the generated code.
 *
 * Owns: one libcurl multi handle driving one easy handle, reused for every
 * request so the connection is kept alive; the gzip buffer; the response
 * buffer (capped at OTLP_HTTP_MAX_RESPONSE, the specification's 4 MiB).
 * At most one request is in flight: otlp_http_export() returns only when
 * the whole retry sequence is over.
 *
 * Threading: a transport is used by one thread, the exporter thread, from
 * create to destroy. The abort flag given to otlp_http_export() may be set
 * from any thread; the transport looks at it at least every
 * OTLP_HTTP_ABORT_POLL_MS, in the middle of a transfer and of a backoff
 * wait alike. libcurl is used with CURLOPT_NOSIGNAL (no SIGALRM, no
 * SIGPIPE handlers of ours in the host) and never calls getenv after
 * create: the proxy is resolved once, by the caller (otlp_http_proxy_from_env).
 */
#ifndef STDBTEL_OTLP_HTTP_H
#define STDBTEL_OTLP_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define OTLP_HTTP_DEFAULT_TIMEOUT_MS 10000
#define OTLP_HTTP_MAX_RESPONSE (4u << 20)  /* response bytes read at most (spec) */
#define OTLP_HTTP_MAX_REQUEST (64u << 20)  /* request bytes before compression (spec) */
#define OTLP_HTTP_ABORT_POLL_MS 50         /* longest time the abort flag goes unseen */

struct otlp_http_config {
	const struct config_pair *headers; /* extra request headers, e.g. cfg->otlp_headers */
	size_t nheaders;
	uint32_t timeout_ms;       /* whole export, retries included; 0 = no limit (spec) */
	bool gzip;                 /* OTEL_EXPORTER_OTLP_COMPRESSION=gzip */
	const char *ca_file;       /* OTEL_EXPORTER_OTLP_CERTIFICATE, NULL = system CAs */
	const char *proxy;         /* proxy URL, NULL or "" = none (otlp_http_proxy_from_env) */
	const char *no_proxy;      /* hosts that bypass the proxy, NULL = none */
	uint32_t retry_initial_ms; /* backoff base, 0 = OTLP_RETRY_INITIAL_MS */
	uint32_t retry_max_ms;     /* backoff cap, 0 = OTLP_RETRY_MAX_MS */
};

enum otlp_http_outcome {
	OTLP_HTTP_DELIVERED, /* a 2xx: done (result.body may hold a partial_success) */
	OTLP_HTTP_DROPPED,   /* permanent error, or the deadline ended the retries */
	OTLP_HTTP_ABORTED,   /* the abort flag was seen */
};

struct otlp_http_result {
	enum otlp_http_outcome outcome;
	long http_status;            /* status of the last response, 0 if none came */
	uint32_t attempts;           /* requests started */
	const unsigned char *body;   /* last response body; valid until the next export or destroy */
	size_t body_len;
	char reason[200];            /* DROPPED/ABORTED: why, for a log line; "" when delivered */
};

struct otlp_http;

/*
 * Builds the URL of one signal by the specification's rule: signal_url
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and the like) is used as given, only
 * an empty path becoming "/"; otherwise base_url (OTEL_EXPORTER_OTLP_ENDPOINT)
 * gets a "/" if it lacks one and then path_suffix ("v1/traces", "v1/metrics").
 * Returns a malloc'd string, or NULL when out of memory or both are NULL.
 */
char *otlp_http_signal_url(const char *base_url, const char *signal_url, const char *path_suffix);

/*
 * The proxy libcurl would pick from the environment for url, looked up once
 * here so that libcurl never calls getenv on the exporter thread (racing the
 * host's setenv): "http_proxy" (lower case only, as libcurl: an upper-case
 * HTTP_PROXY can be set by a CGI request header) for http://,
 * "https_proxy"/"HTTPS_PROXY" for https://, then "all_proxy"/"ALL_PROXY";
 * and "no_proxy"/"NO_PROXY". Results point into the environment (or are
 * NULL): pass them straight to otlp_http_create, which copies them.
 */
void otlp_http_proxy_from_env(const char *url, config_getenv_fn getenv_fn, void *ctx,
                              const char **proxy, const char **no_proxy);

/*
 * Creates a transport (curl_global_init once per process, the handles, the
 * header list). Copies every string of cfg. Headers whose name is not an
 * HTTP token or whose value holds a CR, LF or NUL make it fail; headers the
 * transport sets itself (Content-Type, Content-Encoding, Content-Length,
 * Transfer-Encoding, Expect) are skipped with one warning. Returns NULL and
 * a message in err on failure. Nothing is sent yet. One transport serves
 * every signal: the URL is given per export, and a connection to the same
 * collector is reused.
 */
struct otlp_http *otlp_http_create(const struct otlp_http_config *cfg, char *err, size_t errlen);

/*
 * Exports one encoded body to url (http:// or https://; build it with
 * otlp_http_signal_url once): POSTs it (gzipped when configured) and retries
 * per otlp_retry.h until delivered, dropped or aborted. The sequence ends
 * by the earlier of now + timeout_ms and deadline_ms (CLOCK_MONOTONIC
 * milliseconds, see otlp_http_now_ms; INT64_MAX = only the timeout); a
 * request in flight at that moment is cut off. abort_flag (may be NULL) is
 * checked every OTLP_HTTP_ABORT_POLL_MS: once true, the request in flight
 * is cut off and the call returns ABORTED within about that bound. Logs
 * one "stdbtel:" warning when the batch is dropped, retries at debug level.
 * Returns result->outcome.
 */
enum otlp_http_outcome otlp_http_export(struct otlp_http *t, const char *url, const void *body, size_t len,
                                        int64_t deadline_ms, const atomic_bool *abort_flag,
                                        struct otlp_http_result *result);

/* CLOCK_MONOTONIC in milliseconds: the clock of export deadlines. */
int64_t otlp_http_now_ms(void);

/* Frees the transport and closes its connection. NULL is ignored. */
void otlp_http_destroy(struct otlp_http *t);

#endif
