/* SPDX-License-Identifier: MIT */
/*
 * otlp_http.c: the OTLP/HTTP transport (otlp_http.h has the contract).
 *
 * Why a multi handle for one transfer: curl_easy_perform can only be
 * interrupted from its progress callback, which libcurl calls as rarely as
 * once a second while a collector hangs; curl_multi_poll with a short
 * timeout lets the loop look at the abort flag every OTLP_HTTP_ABORT_POLL_MS
 * whatever the peer does. The multi handle also keeps the connection cache,
 * so the one easy handle reuses its connection from export to export.
 *
 * An attempt:  set URL, body, timeouts -> add to multi -> perform/poll until
 * done, deadline or abort -> remove -> classify (otlp_retry_classify).
 */
#include "otlp_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "otlp_retry.h"
#include "stdbtel_build.h"

struct otlp_http {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	uint32_t timeout_ms;
	bool gzip;
	uint32_t retry_initial_ms, retry_max_ms;
	char *ca_file, *proxy, *no_proxy;
	uint64_t random_state;      /* xorshift64* state for the jitter */

	/* per attempt, written by the callbacks */
	unsigned char *response;    /* OTLP_HTTP_MAX_RESPONSE at most */
	size_t response_len, response_cap;
	bool response_too_big;
	char retry_after[128];      /* value of the last response's Retry-After, "" if none */

	unsigned char *gzip_buf;    /* reused between exports */
	size_t gzip_cap;
};

/* ---- process-wide libcurl init ---- */

static pthread_once_t curl_init_once = PTHREAD_ONCE_INIT;
/* CURLcode of the one curl_global_init; written once under curl_init_once. */
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
	/* Never undone: curl_global_cleanup in a library can pull libcurl from under the host. */
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int64_t otlp_http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_unix_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* ---- URLs and the environment ---- */

static bool has_prefix_nocase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_http_url(const char *url)
{
	return url != NULL && (has_prefix_nocase(url, "http://") || has_prefix_nocase(url, "https://"));
}

char *otlp_http_signal_url(const char *base_url, const char *signal_url, const char *path_suffix)
{
	const char *url = signal_url != NULL && *signal_url ? signal_url : base_url;
	if (url == NULL)
		return NULL;
	const char *authority = strstr(url, "://");
	authority = authority ? authority + 3 : url;
	bool empty_path = strchr(authority, '/') == NULL;
	if (url == signal_url) {
		/* Used as given; an empty path becomes "/" (a query after the
		 * authority without a path keeps its place behind the "/"). */
		size_t n = strlen(url);
		char *out = malloc(n + 2);
		if (out == NULL)
			return NULL;
		if (!empty_path) {
			memcpy(out, url, n + 1);
			return out;
		}
		size_t host_len = strcspn(authority, "?#");
		size_t head = (size_t)(authority - url) + host_len;
		memcpy(out, url, head);
		out[head] = '/';
		memcpy(out + head + 1, url + head, n - head + 1);
		return out;
	}
	size_t n = strlen(url), m = strlen(path_suffix);
	bool slash = n > 0 && url[n - 1] == '/';
	char *out = malloc(n + m + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, url, n);
	if (!slash)
		out[n++] = '/';
	memcpy(out + n, path_suffix, m + 1);
	return out;
}

void otlp_http_proxy_from_env(const char *url, config_getenv_fn getenv_fn, void *ctx,
                              const char **proxy, const char **no_proxy)
{
	const char *p = NULL;
	*proxy = NULL;
	*no_proxy = NULL;
	if (url != NULL && has_prefix_nocase(url, "https://")) {
		p = getenv_fn("https_proxy", ctx);
		if (p == NULL || !*p)
			p = getenv_fn("HTTPS_PROXY", ctx);
	} else if (url != NULL && has_prefix_nocase(url, "http://")) {
		p = getenv_fn("http_proxy", ctx);
	}
	if (p == NULL || !*p)
		p = getenv_fn("all_proxy", ctx);
	if (p == NULL || !*p)
		p = getenv_fn("ALL_PROXY", ctx);
	*proxy = p != NULL && *p ? p : NULL;
	const char *np = getenv_fn("no_proxy", ctx);
	if (np == NULL || !*np)
		np = getenv_fn("NO_PROXY", ctx);
	*no_proxy = np != NULL && *np ? np : NULL;
}

/* ---- create and destroy ---- */

static bool is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static char *dup_or_null(const char *s)
{
	return s != NULL && *s ? strdup(s) : NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct otlp_http *t = userdata;
	size_t n = size * nmemb;
	if (n > OTLP_HTTP_MAX_RESPONSE - t->response_len) {
		t->response_too_big = true;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	if (t->response_len + n > t->response_cap) {
		size_t cap = t->response_cap ? t->response_cap : 4096;
		while (cap < t->response_len + n)
			cap *= 2;
		if (cap > OTLP_HTTP_MAX_RESPONSE)
			cap = OTLP_HTTP_MAX_RESPONSE;
		unsigned char *grown = realloc(t->response, cap);
		if (grown == NULL)
			return 0;
		t->response = grown;
		t->response_cap = cap;
	}
	memcpy(t->response + t->response_len, data, n);
	t->response_len += n;
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct otlp_http *t = userdata;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		t->retry_after[0] = '\0'; /* a new response (after a 100 Continue, say) */
	} else if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
		size_t vlen = n - (sizeof name - 1);
		if (vlen >= sizeof t->retry_after)
			vlen = sizeof t->retry_after - 1; /* longer than any valid value: parses as invalid */
		memcpy(t->retry_after, data + sizeof name - 1, vlen);
		t->retry_after[vlen] = '\0';
	}
	return n;
}

static void seed_random(struct otlp_http *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
	             (uint64_t)(uintptr_t)t;
	t->random_state = s ? s : 0x9e3779b97f4a7c15u;
}

/* xorshift64*: a uniform [0, 1) for the jitter; no need for more. */
static double next_random(void *ctx)
{
	struct otlp_http *t = ctx;
	uint64_t x = t->random_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->random_state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

static bool is_reserved_header(const char *name)
{
	static const char *const reserved[] = {"content-type", "content-encoding", "content-length",
	                                       "transfer-encoding", "expect"};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	return false;
}

static bool append_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = curl_slist_append(*list, line);
	if (grown == NULL)
		return false;
	*list = grown;
	return true;
}

static bool build_headers(struct otlp_http *t, const struct otlp_http_config *cfg, char *err, size_t errlen)
{
	if (!append_header(&t->headers, "Content-Type: application/x-protobuf") ||
	    (cfg->gzip && !append_header(&t->headers, "Content-Encoding: gzip")) ||
	    !append_header(&t->headers, "Expect:")) { /* no 100-continue round trip */
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < cfg->nheaders; i++) {
		const char *key = cfg->headers[i].key, *value = cfg->headers[i].value ? cfg->headers[i].value : "";
		if (key == NULL || !*key) {
			snprintf(err, errlen, "OTLP header %zu has an empty name", i + 1);
			return false;
		}
		for (const char *c = key; *c; c++) {
			if (!is_token_char((unsigned char)*c)) {
				snprintf(err, errlen, "OTLP header name \"%s\" is not an HTTP token", key);
				return false;
			}
		}
		if (strpbrk(value, "\r\n") != NULL) {
			snprintf(err, errlen, "OTLP header \"%s\" has a line break in its value", key);
			return false;
		}
		if (is_reserved_header(key)) {
			log_write(LOG_WARN, "OTLP header \"%s\" ignored: the exporter sets it itself", key);
			continue;
		}
		/* "Name:" alone would make libcurl remove a header; "Name;" sends it empty. */
		size_t len = strlen(key) + strlen(value) + 3;
		char *line = malloc(len);
		if (line == NULL) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
		if (*value)
			snprintf(line, len, "%s: %s", key, value);
		else
			snprintf(line, len, "%s;", key);
		bool ok = append_header(&t->headers, line);
		free(line);
		if (!ok) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	return true;
}

/* The options that stay the same for every request of this transport. */
static bool set_fixed_options(struct otlp_http *t, char *err, size_t errlen)
{
	CURL *e = t->easy;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                      \
	do {                                                   \
		if (rc == CURLE_OK)                                \
			rc = curl_easy_setopt(e, opt, val);            \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);               /* the host owns its signals */
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);         /* a 3xx is a permanent answer, as the spec says */
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_HTTPHEADER, t->headers);
	SET(CURLOPT_USERAGENT, "stdbtel/" STDBTEL_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->ca_file != NULL)
		SET(CURLOPT_CAINFO, t->ca_file);
	/* Set both, always: with them set libcurl reads no proxy variable itself. */
	SET(CURLOPT_PROXY, t->proxy != NULL ? t->proxy : "");
	SET(CURLOPT_NOPROXY, t->no_proxy != NULL ? t->no_proxy : "");
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
#undef SET
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl refused an option: %s", curl_easy_strerror(rc));
		return false;
	}
	return true;
}

struct otlp_http *otlp_http_create(const struct otlp_http_config *cfg, char *err, size_t errlen)
{
	pthread_once(&curl_init_once, curl_init);
	if (curl_init_result != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(curl_init_result));
		return NULL;
	}
	struct otlp_http *t = calloc(1, sizeof *t);
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->timeout_ms = cfg->timeout_ms;
	t->gzip = cfg->gzip;
	t->retry_initial_ms = cfg->retry_initial_ms;
	t->retry_max_ms = cfg->retry_max_ms;
	t->ca_file = dup_or_null(cfg->ca_file);
	t->proxy = dup_or_null(cfg->proxy);
	t->no_proxy = dup_or_null(cfg->no_proxy);
	seed_random(t);
	if ((cfg->ca_file && *cfg->ca_file && !t->ca_file) || (cfg->proxy && *cfg->proxy && !t->proxy) ||
	    (cfg->no_proxy && *cfg->no_proxy && !t->no_proxy)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!build_headers(t, cfg, err, errlen))
		goto fail;
	t->multi = curl_multi_init();
	t->easy = curl_easy_init();
	if (t->multi == NULL || t->easy == NULL) {
		snprintf(err, errlen, "libcurl could not create its handles");
		goto fail;
	}
	if (!set_fixed_options(t, err, errlen))
		goto fail;
	return t;
fail:
	otlp_http_destroy(t);
	return NULL;
}

void otlp_http_destroy(struct otlp_http *t)
{
	if (t == NULL)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	if (t->multi)
		curl_multi_cleanup(t->multi);
	curl_slist_free_all(t->headers);
	free(t->ca_file);
	free(t->proxy);
	free(t->no_proxy);
	free(t->response);
	free(t->gzip_buf);
	free(t);
}

/* ---- export ---- */

/* gzips body into t->gzip_buf; returns its length, or 0 on failure (reason set). */
static size_t gzip_body(struct otlp_http *t, const void *body, size_t len, char *reason, size_t reasonlen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 16 + MAX_WBITS: a gzip header and trailer around the deflate stream. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		snprintf(reason, reasonlen, "gzip: deflateInit2 failed");
		return 0;
	}
	size_t need = deflateBound(&z, (uLong)len);
	if (need > t->gzip_cap) {
		unsigned char *grown = realloc(t->gzip_buf, need);
		if (grown == NULL) {
			deflateEnd(&z);
			snprintf(reason, reasonlen, "gzip: out of memory for %zu bytes", need);
			return 0;
		}
		t->gzip_buf = grown;
		t->gzip_cap = need;
	}
	z.next_in = (Bytef *)(uintptr_t)body;
	z.avail_in = (uInt)len;
	z.next_out = t->gzip_buf;
	z.avail_out = (uInt)t->gzip_cap;
	int zr = deflate(&z, Z_FINISH);
	size_t out = z.total_out;
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		snprintf(reason, reasonlen, "gzip: deflate failed (%d)", zr);
		return 0;
	}
	return out;
}

static bool aborted(const atomic_bool *flag)
{
	return flag != NULL && atomic_load_explicit(flag, memory_order_acquire);
}

/* Sleeps until now + delay_ms in slices, returning false early when aborted. */
static bool wait_ms(int64_t delay_ms, const atomic_bool *abort_flag)
{
	int64_t until = otlp_http_now_ms() + delay_ms;
	for (;;) {
		if (aborted(abort_flag))
			return false;
		int64_t left = until - otlp_http_now_ms();
		if (left <= 0)
			return true;
		if (left > OTLP_HTTP_ABORT_POLL_MS)
			left = OTLP_HTTP_ABORT_POLL_MS;
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

enum attempt_end {
	ATTEMPT_DONE,     /* the transfer ended: see curl code and status */
	ATTEMPT_ABORTED,
	ATTEMPT_DEADLINE, /* cut off by our own deadline check */
	ATTEMPT_FAILED,   /* libcurl's multi interface failed */
};

/* One request: runs the easy handle through the multi handle. */
static enum attempt_end run_attempt(struct otlp_http *t, int64_t deadline_ms, const atomic_bool *abort_flag,
                                    CURLcode *curl_code, long *status)
{
	*curl_code = CURLE_OK;
	*status = 0;
	t->response_len = 0;
	t->response_too_big = false;
	t->retry_after[0] = '\0';
	if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK)
		return ATTEMPT_FAILED;
	enum attempt_end end = ATTEMPT_DONE;
	for (;;) {
		int running = 0;
		if (curl_multi_perform(t->multi, &running) != CURLM_OK) {
			end = ATTEMPT_FAILED;
			break;
		}
		if (running == 0)
			break;
		if (aborted(abort_flag)) {
			end = ATTEMPT_ABORTED;
			break;
		}
		/* libcurl's own timeout ends the transfer first; this is the backstop. */
		if (deadline_ms != INT64_MAX && otlp_http_now_ms() >= deadline_ms + OTLP_HTTP_ABORT_POLL_MS) {
			end = ATTEMPT_DEADLINE;
			break;
		}
		if (curl_multi_poll(t->multi, NULL, 0, OTLP_HTTP_ABORT_POLL_MS, NULL) != CURLM_OK) {
			end = ATTEMPT_FAILED;
			break;
		}
	}
	if (end == ATTEMPT_DONE) {
		int left;
		CURLMsg *msg;
		*curl_code = CURLE_GOT_NOTHING;
		while ((msg = curl_multi_info_read(t->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == t->easy)
				*curl_code = msg->data.result;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, status);
	}
	/* Removing a handle mid-transfer closes that connection: never reused half-read. */
	curl_multi_remove_handle(t->multi, t->easy);
	return end;
}

static enum otlp_http_outcome finish(struct otlp_http *t, const char *url, struct otlp_http_result *r,
                                     enum otlp_http_outcome outcome)
{
	r->outcome = outcome;
	r->body = t->response;
	r->body_len = t->response_len;
	/* The caller decides what a user sees (otlp_exporter.c rate-limits it). */
	if (outcome == OTLP_HTTP_DROPPED)
		log_write(LOG_DEBUG, "OTLP export to %s dropped after %u attempt%s: %s", url, r->attempts,
		          r->attempts == 1 ? "" : "s", r->reason);
	return outcome;
}

enum otlp_http_outcome otlp_http_export(struct otlp_http *t, const char *url, const void *body, size_t len,
                                        int64_t deadline_ms, const atomic_bool *abort_flag,
                                        struct otlp_http_result *result)
{
	memset(result, 0, sizeof *result);
	t->response_len = 0;
	int64_t deadline = otlp_retry_deadline(otlp_http_now_ms(), t->timeout_ms, deadline_ms);
	if (!is_http_url(url)) {
		snprintf(result->reason, sizeof result->reason, "the URL \"%s\" is not http:// or https://",
		         url ? url : "(null)");
		return finish(t, url ? url : "(null)", result, OTLP_HTTP_DROPPED);
	}
	if (len > OTLP_HTTP_MAX_REQUEST) {
		snprintf(result->reason, sizeof result->reason, "the request is %zu bytes, over the %u-byte limit",
		         len, OTLP_HTTP_MAX_REQUEST);
		return finish(t, url, result, OTLP_HTTP_DROPPED);
	}
	const void *payload = body;
	size_t payload_len = len;
	if (t->gzip) {
		payload_len = gzip_body(t, body, len, result->reason, sizeof result->reason);
		if (payload_len == 0)
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		payload = t->gzip_buf;
	}
	CURLcode rc = curl_easy_setopt(t->easy, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, payload);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len);
	if (rc != CURLE_OK) {
		snprintf(result->reason, sizeof result->reason, "libcurl: %s", curl_easy_strerror(rc));
		return finish(t, url, result, OTLP_HTTP_DROPPED);
	}

	for (uint32_t retry = 1;; retry++) {
		int64_t now = otlp_http_now_ms();
		int64_t remaining = otlp_retry_remaining_ms(now, deadline);
		if (remaining == 0) {
			snprintf(result->reason, sizeof result->reason, "export timeout reached");
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		}
		/* The transfer may take what is left; connecting, at most half the timeout,
		 * so that a black-holed collector still leaves room for a retry. */
		long transfer_ms = remaining == INT64_MAX ? 0 : (long)remaining;
		long connect_ms = t->timeout_ms ? (long)(t->timeout_ms / 2) : 0;
		if (connect_ms == 0 || (transfer_ms != 0 && connect_ms > transfer_ms))
			connect_ms = transfer_ms;
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, transfer_ms);
		curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);

		CURLcode code;
		long status;
		result->attempts++;
		enum attempt_end end = run_attempt(t, deadline, abort_flag, &code, &status);
		result->http_status = status;
		if (end == ATTEMPT_ABORTED) {
			snprintf(result->reason, sizeof result->reason, "aborted (shutdown) during attempt %u",
			         result->attempts);
			t->response_len = 0;
			return finish(t, url, result, OTLP_HTTP_ABORTED);
		}
		if (end == ATTEMPT_DEADLINE) {
			snprintf(result->reason, sizeof result->reason, "export timeout reached during a request");
			t->response_len = 0;
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		}
		if (end == ATTEMPT_FAILED) {
			snprintf(result->reason, sizeof result->reason, "libcurl's multi interface failed");
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		}

		enum otlp_response_class cls = otlp_retry_classify(status, code);
		if (code == CURLE_WRITE_ERROR && t->response_too_big) {
			snprintf(result->reason, sizeof result->reason, "HTTP %ld with a response over %u bytes",
			         status, OTLP_HTTP_MAX_RESPONSE);
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		}
		if (cls == OTLP_RESPONSE_SUCCESS)
			return finish(t, url, result, OTLP_HTTP_DELIVERED);
		char what[96];
		if (code != CURLE_OK)
			snprintf(what, sizeof what, "%s", curl_easy_strerror(code));
		else
			snprintf(what, sizeof what, "HTTP %ld", status);
		if (cls == OTLP_RESPONSE_PERMANENT) {
			snprintf(result->reason, sizeof result->reason, "%s (not retryable)", what);
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		}
		int64_t retry_after = -1;
		if (code == CURLE_OK && t->retry_after[0] &&
		    !otlp_retry_parse_retry_after(t->retry_after, now_unix_s(), &retry_after)) {
			log_write(LOG_DEBUG, "OTLP: unparseable Retry-After \"%s\"; backing off instead", t->retry_after);
			retry_after = -1;
		}
		int64_t delay;
		if (!otlp_retry_next_delay(retry, retry_after, otlp_http_now_ms(), deadline, t->retry_initial_ms,
		                           t->retry_max_ms, next_random, t, &delay)) {
			snprintf(result->reason, sizeof result->reason, "%s, and no time left to retry before the "
			         "export timeout", what);
			return finish(t, url, result, OTLP_HTTP_DROPPED);
		}
		log_write(LOG_DEBUG, "OTLP export to %s: %s; retry %u in %lld ms", url, what, retry, (long long)delay);
		if (!wait_ms(delay, abort_flag)) {
			snprintf(result->reason, sizeof result->reason, "aborted (shutdown) while waiting to retry");
			t->response_len = 0;
			return finish(t, url, result, OTLP_HTTP_ABORTED);
		}
	}
}
