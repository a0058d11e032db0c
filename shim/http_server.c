/* SPDX-License-Identifier: MIT */
/* http_server.c: request spans from the socket layer (contract in http_server.h). */
#define _GNU_SOURCE
#include "http_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "clock.h"
#include "hotpath.h"
#include "http_parse.h"
#include "http_route.h"
#include "span_record.h"

/* What a request keeps from its start to its response (one slot per pipelined request). */
struct request_slot {
	uint64_t start_ticks;
	bool has_parent;
	struct http_traceparent parent;
	struct span_record payload;        /* text = path, http = route, method, params */
	struct hotpath_series_key series;  /* tags: method, route, status, params */
};

struct http_connection {
	_Atomic int in_use;
	struct http_conn parser;
	struct request_slot slots[HTTP_PIPELINE_MAX];
	uint64_t upgrade_ticks;            /* the 101's time, for the WebSocket session span */
	struct request_slot websocket;     /* the upgrade request, when the connection switched */
	bool upgraded;
};

/* Listening sockets, by fd: is its port one of [http] ports? */
enum { LISTEN_UNKNOWN = 0, LISTEN_HTTP = 1, LISTEN_OTHER = 2 };

bool http_server_armed;

static struct {
	const struct stdbtel_config *cfg;
	uint32_t hook;
	struct http_routes *routes;
	_Atomic(struct http_connection *) *by_fd; /* HTTP_SERVER_MAX_FDS */
	_Atomic uint8_t *listen_state;           /* HTTP_SERVER_MAX_FDS */
	struct http_connection *pool;            /* HTTP_SERVER_MAX_CONNS */
	_Atomic unsigned next_free;              /* where the next pool search starts */
	_Atomic unsigned long untracked;
} hs;

static void *map_zeroed(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int http_server_init(const struct stdbtel_config *cfg, char *err, size_t errlen)
{
	if (cfg->http_hook < 0 || cfg->http.nports == 0)
		return 0;
	hs.cfg = cfg;
	hs.hook = (uint32_t)cfg->http_hook;
	hs.routes = http_routes_compile((const char *const *)cfg->http.routes, cfg->http.nroutes, err, errlen);
	if (hs.routes == NULL)
		return -1;
	hs.by_fd = map_zeroed(HTTP_SERVER_MAX_FDS * sizeof *hs.by_fd);
	hs.listen_state = map_zeroed(HTTP_SERVER_MAX_FDS);
	hs.pool = map_zeroed(HTTP_SERVER_MAX_CONNS * sizeof *hs.pool);
	if (hs.by_fd == NULL || hs.listen_state == NULL || hs.pool == NULL) {
		snprintf(err, errlen, "cannot map the connection table: %s", strerror(errno));
		return -1;
	}
	__atomic_store_n(&http_server_armed, true, __ATOMIC_RELEASE);
	return 0;
}

unsigned long http_server_untracked(void)
{
	return atomic_load_explicit(&hs.untracked, memory_order_relaxed);
}

static bool port_is_http(uint16_t port)
{
	for (size_t i = 0; i < hs.cfg->http.nports; i++)
		if (hs.cfg->http.ports[i] == port)
			return true;
	return false;
}

static bool listener_is_http(int listen_fd)
{
	uint8_t st = atomic_load_explicit(&hs.listen_state[listen_fd], memory_order_relaxed);
	if (st == LISTEN_UNKNOWN) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		uint16_t port = 0;
		if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) == 0) {
			if (ss.ss_family == AF_INET)
				port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
		st = port != 0 && port_is_http(port) ? LISTEN_HTTP : LISTEN_OTHER;
		atomic_store_explicit(&hs.listen_state[listen_fd], st, memory_order_relaxed);
	}
	return st == LISTEN_HTTP;
}

static struct http_connection *pool_take(void)
{
	unsigned start = atomic_fetch_add_explicit(&hs.next_free, 1, memory_order_relaxed);
	for (unsigned k = 0; k < HTTP_SERVER_MAX_CONNS; k++) {
		struct http_connection *c = &hs.pool[(start + k) % HTTP_SERVER_MAX_CONNS];
		int expect = 0;
		if (atomic_load_explicit(&c->in_use, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(&c->in_use, &expect, 1, memory_order_acquire,
		                                            memory_order_relaxed))
			return c;
	}
	return NULL;
}

void http_server_accepted(int listen_fd, int fd)
{
	if (listen_fd < 0 || fd < 0 || listen_fd >= HTTP_SERVER_MAX_FDS || fd >= HTTP_SERVER_MAX_FDS)
		return;
	int saved = errno;
	if (listener_is_http(listen_fd)) {
		struct http_connection *c = atomic_load_explicit(&hs.by_fd[fd], memory_order_acquire);
		if (c == NULL)
			c = pool_take(); /* else: an fd closed behind our back (dup2, close_range), reused */
		if (c == NULL) {
			atomic_fetch_add_explicit(&hs.untracked, 1, memory_order_relaxed);
		} else {
			http_conn_init(&c->parser);
			c->upgraded = false;
			atomic_store_explicit(&hs.by_fd[fd], c, memory_order_release);
		}
	}
	errno = saved;
}

static inline struct http_connection *followed(int fd)
{
	if ((unsigned)fd >= HTTP_SERVER_MAX_FDS)
		return NULL;
	return atomic_load_explicit(&hs.by_fd[fd], memory_order_acquire);
}

/* ---- events to spans ---- */

/*
 * The [http] hook's series key: tag values in the capture positions that
 * series_totals.c reads for an [http] hook: values[0] the method (enum
 * http_method), values[1] the route (index + 1, 0 none), values[2] the
 * status, values[3] the configured parameters' text (offset << 32 | length
 * in key text: "name=value" pairs separated by NUL).
 */
static void request_started(struct http_connection *c, const struct http_event *ev)
{
	struct request_slot *s = &c->slots[ev->seq % HTTP_PIPELINE_MAX];
	memset(&s->payload, 0, sizeof s->payload);
	memset(&s->series, 0, sizeof s->series);
	s->start_ticks = ev->request.start_ns;
	s->has_parent = ev->request.traceparent != NULL;
	if (s->has_parent)
		s->parent = *ev->request.traceparent;
	struct span_record *p = &s->payload;
	size_t len = ev->request.path_len < SPAN_TEXT_BYTES ? ev->request.path_len : SPAN_TEXT_BYTES;
	memcpy(p->text, ev->request.path, len);
	p->text_used = (uint8_t)len;
	p->http.method = (uint8_t)ev->request.method;
	p->http.path_total_len = ev->request.path_total_len;
	p->http.path_truncated = ev->request.path_truncated || len < ev->request.path_len;
	if (p->http.path_truncated)
		p->flags |= SPAN_TRUNCATED;
	s->series.values[0] = (uint64_t)ev->request.method;

	struct http_route_match m;
	long route = ev->request.path_truncated ? -1
	                                        : http_routes_match(hs.routes, ev->request.path, ev->request.path_len, &m);
	if (route < 0)
		return;
	p->http.route = (uint16_t)(route + 1);
	s->series.values[1] = (uint64_t)route + 1;
	size_t n = m.nparams < SPAN_HTTP_PARAMS ? m.nparams : SPAN_HTTP_PARAMS;
	for (size_t i = 0; i < n; i++) {
		uint32_t off = m.params[i].off, plen = m.params[i].len;
		if (off >= len)
			break;
		if (plen > len - off)
			plen = (uint32_t)(len - off);
		p->http.param_off[i] = (uint8_t)off;
		p->http.param_len[i] = (uint8_t)plen;
		p->http.nparams = (uint8_t)(i + 1);
		/* a configured parameter is also a tag: "name=value" into the key's text */
		const char *name = http_routes_param_name(hs.routes, (size_t)route, i);
		bool tagged = false;
		for (size_t k = 0; k < hs.cfg->http.nparams && !tagged; k++)
			tagged = strcmp(hs.cfg->http.params[k].key, name) == 0;
		size_t nl = strlen(name);
		struct hotpath_series_key *key = &s->series;
		if (tagged && key->text_used + nl + 1 + plen + 1 <= HOTPATH_SERIES_TEXT) {
			memcpy(key->text + key->text_used, name, nl);
			key->text[key->text_used + nl] = '=';
			memcpy(key->text + key->text_used + nl + 1, ev->request.path + off, plen);
			key->text_used = (uint16_t)(key->text_used + nl + 1 + plen + 1); /* NUL-separated */
		}
	}
	s->series.values[3] = s->series.text_used;
}

/* One span for slot s; with its metrics unless span_only (a WebSocket session is no request). */
static void emit(struct request_slot *s, uint64_t end_ticks, uint16_t status, uint64_t request_body,
                 uint64_t response_body, bool span_only)
{
	struct span_record *p = &s->payload;
	p->captures[0] = status;
	p->captures[1] = request_body;
	p->captures[2] = response_body;
	p->ncaptures = 3;
	s->series.values[2] = status;
	struct hotpath_span_in in = {
		.hook_index = hs.hook,
		.start_ticks = s->start_ticks,
		.end_ticks = end_ticks,
		.parent_trace_id = s->has_parent ? s->parent.trace_id : NULL,
		.parent_span_id = s->has_parent ? s->parent.parent_id : NULL,
		.parent_sampled = s->has_parent && (s->parent.flags & 1),
		.error = status == 0 || status >= 500, /* OpenTelemetry: server spans err on 5xx (0: no response) */
		.payload = p,
		.series = &s->series,
		.span_only = span_only,
	};
	hotpath_emit_span(&in);
}

static void on_event(void *ctx, const struct http_event *ev)
{
	struct http_connection *c = ctx;
	switch (ev->kind) {
	case HTTP_EVENT_REQUEST_START:
		request_started(c, ev);
		break;
	case HTTP_EVENT_RESPONSE_COMPLETE: {
		struct request_slot *s = &c->slots[ev->seq % HTTP_PIPELINE_MAX];
		if (ev->response.websocket) {
			c->websocket = *s;
			c->upgrade_ticks = ev->now_ns;
			c->upgraded = true;
		}
		emit(s, ev->now_ns, ev->response.status, ev->response.request_complete ? ev->response.request_body_bytes : 0,
		     ev->response.body_bytes, false);
		break;
	}
	case HTTP_EVENT_REQUEST_ABANDONED: {
		struct request_slot *s = &c->slots[ev->seq % HTTP_PIPELINE_MAX];
		emit(s, ev->now_ns, 0, ev->abandoned.request_complete ? ev->abandoned.request_body_bytes : 0, 0, false);
		break;
	}
	default:
		break;
	}
}

/* One observed call's bytes in direction dir: fed when fd is a followed connection, errno kept. */
static void observe(int fd, enum http_dir dir, const struct iovec *iov, size_t iovcnt, size_t n)
{
	struct http_connection *c = followed(fd);
	if (c == NULL || n == 0 || iov == NULL)
		return;
	int saved = errno;
	uint64_t now = clock_now();
	for (size_t i = 0; i < iovcnt && n > 0; i++) {
		size_t len = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (len > 0 && !http_conn_feed(&c->parser, dir, iov[i].iov_base, len, now, on_event, c))
			break;
		n -= len;
	}
	errno = saved;
}

void http_server_read(int fd, const void *buf, size_t n)
{
	struct iovec one = { (void *)buf, n };
	observe(fd, HTTP_DIR_REQUEST, &one, 1, n);
}

void http_server_wrote(int fd, const void *buf, size_t n)
{
	struct iovec one = { (void *)buf, n };
	observe(fd, HTTP_DIR_RESPONSE, &one, 1, n);
}

void http_server_read_iov(int fd, const struct iovec *iov, size_t iovcnt, size_t n)
{
	observe(fd, HTTP_DIR_REQUEST, iov, iovcnt, n);
}

void http_server_wrote_iov(int fd, const struct iovec *iov, size_t iovcnt, size_t n)
{
	observe(fd, HTTP_DIR_RESPONSE, iov, iovcnt, n);
}

void http_server_closing(int fd)
{
	if ((unsigned)fd >= HTTP_SERVER_MAX_FDS || !http_server_armed)
		return;
	atomic_store_explicit(&hs.listen_state[fd], LISTEN_UNKNOWN, memory_order_relaxed);
	struct http_connection *c = atomic_exchange_explicit(&hs.by_fd[fd], NULL, memory_order_acq_rel);
	if (c == NULL)
		return;
	int saved = errno;
	uint64_t now = clock_now();
	http_conn_close(&c->parser, now, on_event, c);
	if (c->upgraded) {
		/* The WebSocket session: from the 101 to the close, with its frame counts. */
		struct request_slot *s = &c->websocket;
		struct http_ws_counts in = http_conn_ws_counts(&c->parser, HTTP_DIR_REQUEST);
		struct http_ws_counts out = http_conn_ws_counts(&c->parser, HTTP_DIR_RESPONSE);
		s->payload.http.websocket = 1;
		s->payload.http.ws_frames_in = in.frames;
		s->payload.http.ws_frames_out = out.frames;
		s->start_ticks = c->upgrade_ticks;
		emit(s, now, 101, in.payload_bytes, out.payload_bytes, true);
	}
	atomic_store_explicit(&c->in_use, 0, memory_order_release);
	errno = saved;
}
