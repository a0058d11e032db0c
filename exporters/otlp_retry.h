/* SPDX-License-Identifier: MIT */
/*
 * otlp_retry.h: the OTLP/HTTP retry rules, as pure functions: which
 * responses are final and which are retried, Retry-After in both of its
 * forms, the jittered exponential backoff, and the export deadline. No I/O,
 * no clock, no globals: "now" and the random source are passed in, so the
 * tests drive every branch. exporters/otlp_http.c is the one user.
 *
 * The rules (OTLP specification, "OTLP/HTTP Response"; research notes
 * otlp-statsd.md 1.2):
 *   - 2xx is final success, partial_success or not: never retried.
 *   - 429, 502, 503, 504 are retried; so is a request that got no response
 *     at all (could not resolve or connect, connection reset, timed out).
 *   - every other status is permanent: the batch is dropped.
 *   - Retry-After (delay-seconds or HTTP-date) replaces the backoff.
 *   - the whole sequence, waits included, ends at the export deadline: a
 *     retry whose wait would end at or past it is not made.
 *
 * Backoff: equal jitter over a doubling base. The n-th retry (n = 1, 2, ...)
 * waits  base/2 + U[0, base/2]  with  base = min(initial * 2^(n-1), max),
 * i.e. between 0.5 and 1 s, 1 and 2 s, 2 and 4 s, ..., at most 32 s.
 * Why equal and not full jitter (U[0, base]): full jitter may retry at once,
 * and the one client we are is better served by a floor that lets a
 * collector that just said 503 breathe; the spread of the upper half is
 * enough to de-synchronise many shims restarted together. Why 1 s and 32 s:
 * 1 s is what the OTel Java and C++ SDKs start from; with the default 10 s
 * export timeout the cap is never reached (retries at about 0.75, 2.25,
 * 5.25 s, then the deadline), and 32 s keeps a long OTEL_EXPORTER_OTLP_TIMEOUT
 * from probing a down collector more than twice a minute.
 */
#ifndef STDBTEL_OTLP_RETRY_H
#define STDBTEL_OTLP_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define OTLP_RETRY_INITIAL_MS 1000
#define OTLP_RETRY_MAX_MS 32000
/* A Retry-After below this is raised to it: "0" must not become a spin. */
#define OTLP_RETRY_AFTER_FLOOR_MS 100

enum otlp_response_class {
	OTLP_RESPONSE_SUCCESS,   /* 2xx: delivered (maybe partially: see the body) */
	OTLP_RESPONSE_RETRYABLE, /* 429/502/503/504, or no response at all */
	OTLP_RESPONSE_PERMANENT, /* anything else: drop */
};

/*
 * Classifies one attempt. curl_code is the CURLcode of the transfer (0 =
 * CURLE_OK, a response was read); http_status is the response status (0 if
 * none). A transfer error with no response is retryable when it is one of
 * the "no answer" kinds (resolve, connect, timeout, send/receive failure,
 * empty reply, HTTP/2 stream error); other transfer errors (bad URL,
 * unsupported protocol, TLS certificate problems, the 4 MiB response cap
 * hit) are permanent, since repeating them cannot help.
 */
enum otlp_response_class otlp_retry_classify(long http_status, int curl_code);

/*
 * Parses a Retry-After header value (without the name; surrounding blanks
 * allowed) into a delay in milliseconds, >= 0. Accepts delay-seconds
 * (1*DIGIT; huge values saturate at one day) and the three HTTP-date forms
 * of RFC 9110 (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete
 * RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37
 * 1994"). now_unix_s is the current wall-clock time in Unix seconds; a date
 * in the past gives 0. Returns false (and leaves *delay_ms) when the value
 * is neither form.
 */
bool otlp_retry_parse_retry_after(const char *value, int64_t now_unix_s, int64_t *delay_ms);

/* A uniform random value in [0, 1). */
typedef double (*otlp_random_fn)(void *ctx);

/*
 * The backoff before retry number retry (1 for the first retry), without
 * Retry-After: base/2 + random() * base/2, base = min(initial_ms *
 * 2^(retry-1), max_ms). initial_ms and max_ms of 0 mean the defaults above.
 */
int64_t otlp_retry_backoff_ms(uint32_t retry, uint32_t initial_ms, uint32_t max_ms,
                              otlp_random_fn random, void *random_ctx);

/*
 * Decides the wait before retry number retry. retry_after_ms is the parsed
 * Retry-After, or < 0 when there was none; when given it replaces the
 * backoff (raised to OTLP_RETRY_AFTER_FLOOR_MS). now_ms and deadline_ms are
 * on one monotonic clock. Returns true and sets *delay_ms when the retry
 * starts before the deadline (now + delay < deadline); false when the
 * deadline forbids it (the caller drops the batch now rather than sleeping
 * into a certain failure).
 */
bool otlp_retry_next_delay(uint32_t retry, int64_t retry_after_ms, int64_t now_ms, int64_t deadline_ms,
                           uint32_t initial_ms, uint32_t max_ms, otlp_random_fn random, void *random_ctx,
                           int64_t *delay_ms);

/*
 * The export deadline: now + timeout_ms, or no deadline (INT64_MAX) when
 * timeout_ms is 0 ("no limit", the specification's meaning of a 0 timeout);
 * then the earlier of that and the caller's own limit (INT64_MAX: none).
 */
int64_t otlp_retry_deadline(int64_t now_ms, uint32_t timeout_ms, int64_t caller_deadline_ms);

/*
 * What is left of the budget: deadline - now, or 0 when the deadline has
 * passed; INT64_MAX (no deadline) stays INT64_MAX.
 */
int64_t otlp_retry_remaining_ms(int64_t now_ms, int64_t deadline_ms);

#endif
