/* SPDX-License-Identifier: MIT */
/*
 * test_http_parse.c: the incremental HTTP/1.x parser (http_parse.h).
 *
 * Every case is a script: pieces of the request stream and of the
 * response stream in the order the server would read and write them,
 * maybe ending with a close. The harness runs a script whole, then with
 * each piece split at every point (sampled for pieces over 4 KiB), then
 * one byte per feed, then in random splits, each byte range in its own
 * exactly-sized allocation (so that ASan sees any read past a buffer),
 * and requires the same transcript of events every time. Expectations
 * are then checked on the events of the whole run and computed from the
 * messages the test built (body lengths, frame lengths, ids), not typed
 * in. The harness also checks invariants of every run: responses answer
 * requests in order, nothing follows GAVE_UP but ABANDONED, a given-up
 * connection's feeds return false, and after a close every started
 * request has had exactly one RESPONSE_COMPLETE or REQUEST_ABANDONED.
 */
#define _GNU_SOURCE /* vasprintf */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* ---- scripts ---- */

enum step_kind { STEP_DATA, STEP_CLOSE };

struct step {
	enum step_kind kind;
	enum http_dir dir;
	uint8_t *data;
	size_t len;
};

#define MAX_STEPS 64

struct script {
	struct step steps[MAX_STEPS];
	size_t n;
};

static void add_bytes(struct script *sc, enum http_dir dir, const void *data, size_t len)
{
	cr_assert_lt(sc->n, MAX_STEPS);
	struct step *st = &sc->steps[sc->n++];
	st->kind = STEP_DATA;
	st->dir = dir;
	st->data = malloc(len ? len : 1);
	cr_assert_not_null(st->data);
	memcpy(st->data, data, len);
	st->len = len;
}

static void add_str(struct script *sc, enum http_dir dir, const char *s)
{
	add_bytes(sc, dir, s, strlen(s));
}

/* printf into a request (REQ) or response (RSP) piece. */
static void __attribute__((format(printf, 3, 4))) add_fmt(struct script *sc, enum http_dir dir, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	add_bytes(sc, dir, s, (size_t)n);
	free(s);
}

#define REQ HTTP_DIR_REQUEST
#define RSP HTTP_DIR_RESPONSE

static void add_close(struct script *sc)
{
	cr_assert_lt(sc->n, MAX_STEPS);
	sc->steps[sc->n++] = (struct step){ .kind = STEP_CLOSE };
}

static void script_free(struct script *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->steps[i].data);
	sc->n = 0;
}

/* ---- recording ---- */

/* One event, with copies of what its pointers pointed to. */
struct rec {
	struct http_event ev;
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX + 1];
	bool has_tp;
	struct http_traceparent tp;
};

#define MAX_RECS 4096

struct recorder {
	struct rec *recs;
	size_t n;
	char *text;       /* the transcript */
	size_t text_len, text_cap;
	bool gave_up;
	uint32_t next_response_seq;
	uint32_t started;  /* REQUEST_STARTs seen */
	uint8_t *answered; /* per seq: RESPONSE_COMPLETE + REQUEST_ABANDONED count */
};

static void recorder_init(struct recorder *r)
{
	memset(r, 0, sizeof *r);
	r->recs = calloc(MAX_RECS, sizeof *r->recs);
	r->answered = calloc(MAX_RECS, 1);
	cr_assert(r->recs != NULL && r->answered != NULL);
}

static void recorder_free(struct recorder *r)
{
	free(r->recs);
	free(r->answered);
	free(r->text);
}

static void __attribute__((format(printf, 2, 3))) say(struct recorder *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < sizeof line);
	if (r->text_len + (size_t)n + 1 > r->text_cap) {
		r->text_cap = (r->text_cap + (size_t)n + 1) * 2;
		r->text = realloc(r->text, r->text_cap);
		cr_assert_not_null(r->text);
	}
	memcpy(r->text + r->text_len, line, (size_t)n + 1);
	r->text_len += (size_t)n;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void on_event(void *ctx, const struct http_event *ev)
{
	struct recorder *r = ctx;
	cr_assert_lt(r->n, MAX_RECS, "too many events");
	struct rec *rec = &r->recs[r->n++];
	memset(rec, 0, sizeof *rec);
	rec->ev = *ev;
	if (ev->kind != HTTP_EVENT_REQUEST_ABANDONED)
		cr_assert(!r->gave_up, "event %d after GAVE_UP", ev->kind);
	switch (ev->kind) {
	case HTTP_EVENT_REQUEST_START: {
		cr_assert_eq(ev->seq, r->started, "request seq %u, expected %u", ev->seq, r->started);
		r->started++;
		cr_assert_leq(ev->request.path_len, HTTP_PATH_MAX);
		cr_assert_eq(ev->request.path_truncated, ev->request.path_total_len > ev->request.path_len);
		cr_assert_lt(strlen(ev->request.method_text), HTTP_METHOD_MAX);
		snprintf(rec->method, sizeof rec->method, "%s", ev->request.method_text);
		memcpy(rec->path, ev->request.path, ev->request.path_len);
		rec->path[ev->request.path_len] = '\0';
		char tp[64] = "-";
		if (ev->request.traceparent != NULL) {
			rec->has_tp = true;
			rec->tp = *ev->request.traceparent;
			hex(tp, rec->tp.trace_id, 16);
			tp[32] = '/';
			hex(tp + 33, rec->tp.parent_id, 8);
			sprintf(tp + 49, "/%02x", rec->tp.flags);
		}
		rec->ev.request.method_text = rec->method;
		rec->ev.request.path = rec->path;
		rec->ev.request.traceparent = rec->has_tp ? &rec->tp : NULL;
		say(r, "START seq=%u dir=%d now=%llu start=%llu method=%d:%s path=%s total=%llu trunc=%d "
		       "query=%d/%llu v=1.%u ka=%d ws=%d chunked=%d cl=%lld tp=%s\n",
		    ev->seq, ev->dir, (unsigned long long)ev->now_ns, (unsigned long long)ev->request.start_ns,
		    ev->request.method, rec->method, rec->path, (unsigned long long)ev->request.path_total_len,
		    ev->request.path_truncated, ev->request.has_query, (unsigned long long)ev->request.query_len,
		    ev->request.version_minor, ev->request.keep_alive, ev->request.websocket_upgrade,
		    ev->request.chunked, (long long)ev->request.content_length, tp);
		break;
	}
	case HTTP_EVENT_REQUEST_COMPLETE:
		cr_assert_lt(ev->seq, r->started, "REQUEST_COMPLETE for a request not started");
		say(r, "REQDONE seq=%u dir=%d now=%llu body=%llu\n", ev->seq, ev->dir,
		    (unsigned long long)ev->now_ns, (unsigned long long)ev->request_complete.body_bytes);
		break;
	case HTTP_EVENT_RESPONSE_COMPLETE:
		cr_assert_eq(ev->seq, r->next_response_seq, "response for seq %u, expected %u", ev->seq,
			     r->next_response_seq);
		cr_assert_lt(ev->seq, r->started, "response to a request not started");
		r->next_response_seq++;
		r->answered[ev->seq]++;
		say(r, "RESPONSE seq=%u dir=%d now=%llu status=%u method=%d body=%llu reqdone=%d reqbody=%llu ka=%d "
		       "close=%d ws=%d\n",
		    ev->seq, ev->dir, (unsigned long long)ev->now_ns, ev->response.status, ev->response.method,
		    (unsigned long long)ev->response.body_bytes, ev->response.request_complete,
		    (unsigned long long)ev->response.request_body_bytes, ev->response.keep_alive,
		    ev->response.until_close, ev->response.websocket);
		break;
	case HTTP_EVENT_REQUEST_ABANDONED:
		cr_assert_eq(ev->seq, r->next_response_seq, "abandoned seq %u, expected %u", ev->seq,
			     r->next_response_seq);
		r->next_response_seq++;
		r->answered[ev->seq]++;
		say(r, "ABANDONED seq=%u now=%llu reqdone=%d reqbody=%llu\n", ev->seq, (unsigned long long)ev->now_ns,
		    ev->abandoned.request_complete, (unsigned long long)ev->abandoned.request_body_bytes);
		break;
	case HTTP_EVENT_WS_FRAME:
		say(r, "FRAME dir=%d now=%llu op=%u fin=%d masked=%d rsv=%u len=%llu\n", ev->dir,
		    (unsigned long long)ev->now_ns, ev->ws.opcode, ev->ws.fin, ev->ws.masked, ev->ws.rsv,
		    (unsigned long long)ev->ws.payload_len);
		break;
	case HTTP_EVENT_GAVE_UP:
		r->gave_up = true;
		say(r, "GAVEUP dir=%d now=%llu reason=%d (%s) offset=%llu\n", ev->dir, (unsigned long long)ev->now_ns,
		    ev->gave_up.reason, http_giveup_text(ev->gave_up.reason),
		    (unsigned long long)ev->gave_up.offset);
		break;
	}
}

/* ---- running ---- */

enum split_mode { SPLIT_WHOLE, SPLIT_AT, SPLIT_BYTES, SPLIT_RANDOM };

struct split {
	enum split_mode mode;
	size_t step, at;     /* SPLIT_AT: the step split, and where */
	uint64_t seed;       /* SPLIT_RANDOM */
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Feeds data[0..len) from an allocation of exactly len bytes. */
static bool feed_exact(struct http_conn *c, struct recorder *r, enum http_dir dir, const uint8_t *data, size_t len,
		       uint64_t now)
{
	uint8_t *copy = len ? malloc(len) : NULL;
	if (len)
		memcpy(copy, data, len);
	size_t before = r->n;
	bool was_alive = http_conn_alive(c);
	bool alive = http_conn_feed(c, dir, copy, len, now, on_event, r);
	free(copy);
	cr_assert_eq(alive, http_conn_alive(c));
	if (!was_alive)
		cr_assert_eq(r->n, before, "a dead connection reported events");
	if (r->gave_up)
		cr_assert(!alive, "feed returned true after GAVE_UP");
	return alive;
}

/* Runs sc on a fresh connection split as sp says; r gets the events and transcript. */
static void run(const struct script *sc, struct split sp, struct recorder *r, struct http_conn *c)
{
	recorder_init(r);
	http_conn_init(c);
	uint64_t rng = sp.seed;
	for (size_t i = 0; i < sc->n; i++) {
		const struct step *st = &sc->steps[i];
		uint64_t now = 1000 * (i + 1);
		if (st->kind == STEP_CLOSE) {
			http_conn_close(c, now, on_event, r);
			cr_assert(!http_conn_alive(c));
			/* every started request has been answered or abandoned, once */
			cr_assert_eq(r->next_response_seq, r->started);
			for (uint32_t q = 0; q < r->started; q++)
				cr_assert_eq(r->answered[q], 1, "seq %u answered %u times", q, r->answered[q]);
			say(r, "closed\n");
			continue;
		}
		switch (sp.mode) {
		case SPLIT_WHOLE:
			feed_exact(c, r, st->dir, st->data, st->len, now);
			break;
		case SPLIT_AT:
			if (i == sp.step) {
				feed_exact(c, r, st->dir, st->data, sp.at, now);
				feed_exact(c, r, st->dir, st->data + sp.at, st->len - sp.at, now);
			} else {
				feed_exact(c, r, st->dir, st->data, st->len, now);
			}
			break;
		case SPLIT_BYTES:
			for (size_t k = 0; k < st->len; k++)
				feed_exact(c, r, st->dir, st->data + k, 1, now);
			break;
		case SPLIT_RANDOM:
			for (size_t k = 0; k < st->len;) {
				size_t piece = 1 + rng_next(&rng) % 17;
				if (rng_next(&rng) % 8 == 0)
					piece = 0; /* empty feeds change nothing */
				if (piece > st->len - k)
					piece = st->len - k;
				feed_exact(c, r, st->dir, st->data + k, piece, now);
				k += piece;
			}
			break;
		}
		struct http_ws_counts rq = http_conn_ws_counts(c, REQ), rs = http_conn_ws_counts(c, RSP);
		say(r, "after step %zu: alive=%d ws=%d req=%llu/%llu/%d rsp=%llu/%llu/%d\n", i, http_conn_alive(c),
		    http_conn_is_websocket(c), (unsigned long long)rq.frames, (unsigned long long)rq.payload_bytes,
		    rq.close_seen, (unsigned long long)rs.frames, (unsigned long long)rs.payload_bytes, rs.close_seen);
	}
}

/*
 * Runs sc whole into out (kept for the caller's checks), then split every
 * way, and requires the same transcript each time.
 */
static void run_all_splits(const struct script *sc, struct recorder *out)
{
	static struct http_conn c;
	run(sc, (struct split){ .mode = SPLIT_WHOLE }, out, &c);
	struct recorder r;
	for (size_t i = 0; i < sc->n; i++) {
		size_t len = sc->steps[i].len;
		if (sc->steps[i].kind != STEP_DATA)
			continue;
		for (size_t at = 0; at <= len; at++) {
			/* big pieces: the first and last 300 points and every 97th */
			if (len > 4096 && at > 300 && at + 300 < len && at % 97 != 0)
				continue;
			run(sc, (struct split){ .mode = SPLIT_AT, .step = i, .at = at }, &r, &c);
			cr_assert_str_eq(r.text, out->text, "split of step %zu at %zu differs", i, at);
			recorder_free(&r);
		}
	}
	run(sc, (struct split){ .mode = SPLIT_BYTES }, &r, &c);
	cr_assert_str_eq(r.text, out->text, "one byte per feed differs");
	recorder_free(&r);
	for (uint64_t seed = 1; seed <= 8; seed++) {
		run(sc, (struct split){ .mode = SPLIT_RANDOM, .seed = seed }, &r, &c);
		cr_assert_str_eq(r.text, out->text, "random split %llu differs", (unsigned long long)seed);
		recorder_free(&r);
	}
}

/* The k-th event of a kind (0-based), or fails. */
static const struct rec *nth(const struct recorder *r, enum http_event_kind kind, size_t k)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->recs[i].ev.kind == kind && k-- == 0)
			return &r->recs[i];
	cr_assert_fail("no event %d number %zu in:\n%s", kind, k, r->text ? r->text : "");
	return NULL;
}

static size_t count(const struct recorder *r, enum http_event_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->recs[i].ev.kind == kind;
	return n;
}

/* Position of the first event of kind with seq (for ordering checks). */
static size_t index_of(const struct recorder *r, enum http_event_kind kind, uint32_t seq)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->recs[i].ev.kind == kind && r->recs[i].ev.seq == seq)
			return i;
	cr_assert_fail("no event %d for seq %u in:\n%s", kind, seq, r->text ? r->text : "");
	return 0;
}

/* Runs a script that must give up, and returns the reason. */
static enum http_giveup expect_giveup(const struct script *sc, struct recorder *r)
{
	run_all_splits(sc, r);
	cr_assert_eq(count(r, HTTP_EVENT_GAVE_UP), 1, "expected one GAVE_UP in:\n%s", r->text);
	return nth(r, HTTP_EVENT_GAVE_UP, 0)->ev.gave_up.reason;
}

/* The size of a body that a script used, for expectations. */
static const char body_a[] = "{\"args\":[1,2,3]}";
static const char body_b[] = "SELECT * FROM players WHERE score > 10";

/* ---- basic requests and responses ---- */

Test(http_parse, conn_fits_its_budget)
{
	cr_assert_leq(sizeof(struct http_conn), HTTP_CONN_SIZE_MAX);
	struct http_conn c;
	http_conn_init(&c);
	cr_assert(http_conn_alive(&c));
	cr_assert(!http_conn_is_websocket(&c));
	cr_assert(http_conn_feed(&c, REQ, NULL, 0, 1, NULL, NULL), "an empty feed keeps it alive");
}

Test(http_parse, get_with_content_length_response)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.1\r\nHost: localhost:3000\r\nUser-Agent: t\r\n\r\n");
	add_fmt(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		strlen(body_a), body_a);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	const struct rec *st = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert_eq(st->ev.seq, 0);
	cr_assert_eq(st->ev.request.method, HTTP_METHOD_GET);
	cr_assert_str_eq(st->method, "GET");
	cr_assert_str_eq(st->path, "/v1/ping");
	cr_assert(!st->ev.request.has_query);
	cr_assert_eq(st->ev.request.version_minor, 1);
	cr_assert(st->ev.request.keep_alive);
	cr_assert_eq(st->ev.request.content_length, -1);
	cr_assert_null(st->ev.request.traceparent);
	cr_assert_eq(st->ev.request.start_ns, 1000);
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_COMPLETE, 0)->ev.request_complete.body_bytes, 0);
	const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert_eq(rs->ev.seq, 0);
	cr_assert_eq(rs->ev.response.status, 200);
	cr_assert_eq(rs->ev.response.body_bytes, strlen(body_a));
	cr_assert_eq(rs->ev.response.method, HTTP_METHOD_GET);
	cr_assert(rs->ev.response.request_complete);
	cr_assert(rs->ev.response.keep_alive);
	cr_assert(!rs->ev.response.until_close);
	cr_assert_eq(rs->ev.now_ns, 2000, "the response ends with the feed of its last byte");
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_ABANDONED), 0);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, start_time_is_the_first_bytes_feed)
{
	/* The request line arrives at t=1000, the rest of the header at 2000. */
	struct script sc = { 0 };
	add_str(&sc, REQ, "POST /v1/database/db/sql HT");
	add_fmt(&sc, REQ, "TP/1.1\r\nContent-Length: %zu\r\n\r\n", strlen(body_b));
	add_str(&sc, REQ, body_b);
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	struct recorder r;
	run_all_splits(&sc, &r);
	const struct rec *st = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert_eq(st->ev.request.start_ns, 1000);
	cr_assert_eq(st->ev.now_ns, 2000);
	cr_assert_eq(st->ev.request.content_length, (int64_t)strlen(body_b));
	const struct rec *done = nth(&r, HTTP_EVENT_REQUEST_COMPLETE, 0);
	cr_assert_eq(done->ev.now_ns, 3000);
	cr_assert_eq(done->ev.request_complete.body_bytes, strlen(body_b));
	const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert_eq(rs->ev.response.request_body_bytes, strlen(body_b));
	cr_assert_eq(rs->ev.response.body_bytes, 0);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, pipelined_get_and_post_pairs)
{
	struct script sc = { 0 };
	char reqs[2048], rsps[2048];
	int n = snprintf(reqs, sizeof reqs,
			 "GET /v1/database/a/schema?version=9 HTTP/1.1\r\nHost: x\r\n\r\n"
			 "POST /v1/database/a/call/add HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s"
			 "GET /v1/metrics HTTP/1.1\r\n\r\n"
			 "POST /v1/database/a/sql HTTP/1.1\r\ncontent-length: %zu\r\n\r\n%s",
			 strlen(body_a), body_a, strlen(body_b), body_b);
	add_bytes(&sc, REQ, reqs, (size_t)n);
	n = snprintf(rsps, sizeof rsps,
		     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s"
		     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s"
		     "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\n\r\n%s",
		     strlen(body_b), body_b, strlen(body_a), body_a, strlen(body_b), body_b);
	add_bytes(&sc, RSP, rsps, (size_t)n);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_START), 4);
	cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), 4);
	const char *paths[] = { "/v1/database/a/schema", "/v1/database/a/call/add", "/v1/metrics",
				"/v1/database/a/sql" };
	const enum http_method methods[] = { HTTP_METHOD_GET, HTTP_METHOD_POST, HTTP_METHOD_GET, HTTP_METHOD_POST };
	const size_t req_bodies[] = { 0, strlen(body_a), 0, strlen(body_b) };
	const size_t rsp_bodies[] = { strlen(body_b), 0, strlen(body_a), strlen(body_b) };
	const unsigned statuses[] = { 200, 200, 200, 400 };
	for (uint32_t i = 0; i < 4; i++) {
		const struct rec *st = nth(&r, HTTP_EVENT_REQUEST_START, i);
		cr_assert_eq(st->ev.seq, i);
		cr_assert_str_eq(st->path, paths[i]);
		cr_assert_eq(st->ev.request.method, methods[i]);
		cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_COMPLETE, i)->ev.request_complete.body_bytes, req_bodies[i]);
		const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, i);
		cr_assert_eq(rs->ev.seq, i);
		cr_assert_eq(rs->ev.response.status, statuses[i]);
		cr_assert_eq(rs->ev.response.body_bytes, rsp_bodies[i]);
		cr_assert_eq(rs->ev.response.method, methods[i]);
		cr_assert_eq(rs->ev.response.request_body_bytes, req_bodies[i]);
	}
	const struct rec *q = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert(q->ev.request.has_query);
	cr_assert_eq(q->ev.request.query_len, strlen("version=9"));
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, head_response_has_no_body)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, "HEAD /v1/ping HTTP/1.1\r\n\r\nGET /v1/ping HTTP/1.1\r\n\r\n");
	/* The HEAD answer announces a length but carries nothing; the next
	 * response must start right after its header. */
	add_fmt(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n"
			  "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body_a), body_a);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	const struct rec *h = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert_eq(h->ev.response.method, HTTP_METHOD_HEAD);
	cr_assert_eq(h->ev.response.body_bytes, 0);
	const struct rec *g = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 1);
	cr_assert_eq(g->ev.response.body_bytes, strlen(body_a));
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_ABANDONED), 0);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, no_body_for_204_and_304)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, "DELETE /v1/database/a HTTP/1.1\r\n\r\nGET /v1/identity HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n"
			  "GET /v1/ping HTTP/1.1\r\n\r\n");
	add_fmt(&sc, RSP, "HTTP/1.1 204 No Content\r\nContent-Length: 12\r\n\r\n"
			  "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n"
			  "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body_b), body_b);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0)->ev.response.status, 204);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0)->ev.response.body_bytes, 0);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 1)->ev.response.status, 304);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 1)->ev.response.body_bytes, 0);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 2)->ev.response.body_bytes, strlen(body_b));
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.method, HTTP_METHOD_DELETE);
	recorder_free(&r);
	script_free(&sc);
}

/* Appends body as chunks of the given sizes (with an extension on some) to buf. */
static size_t chunked(char *buf, size_t cap, const char *body, const size_t *sizes, size_t nsizes,
		      const char *trailer)
{
	size_t n = 0, off = 0, total = strlen(body);
	for (size_t i = 0; i < nsizes && off < total; i++) {
		size_t k = sizes[i] < total - off ? sizes[i] : total - off;
		n += (size_t)snprintf(buf + n, cap - n, i % 2 ? "%zX;name=\"q;v\"\r\n" : "%zx\r\n", k);
		memcpy(buf + n, body + off, k);
		n += k;
		off += k;
		n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	}
	cr_assert_eq(off, total, "sizes must cover the body");
	n += (size_t)snprintf(buf + n, cap - n, "0;last\r\n%s\r\n", trailer);
	cr_assert_lt(n, cap);
	return n;
}

Test(http_parse, chunked_both_ways_with_extensions_and_trailers)
{
	struct script sc = { 0 };
	char buf[4096];
	const size_t sizes_a[] = { 3, 1, 7, 100 };
	int h = snprintf(buf, sizeof buf, "POST /v1/database/a/call/add HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	size_t n = (size_t)h + chunked(buf + h, sizeof buf - (size_t)h, body_a, sizes_a, 4, "X-Checksum: 1\r\n");
	add_bytes(&sc, REQ, buf, n);
	/* Transfer-Encoding listing codings, in odd case, across two fields. */
	const size_t sizes_b[] = { 16, 5, 1, 200 };
	h = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTRANSFER-ENCODING:  ChunKed \r\n\r\n");
	n = (size_t)h + chunked(buf + h, sizeof buf - (size_t)h, body_b, sizes_b, 4, "");
	add_bytes(&sc, RSP, buf, n);
	/* a second exchange with no trailer fields and no extensions */
	add_str(&sc, REQ, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	const struct rec *st = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert(st->ev.request.chunked);
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_COMPLETE, 0)->ev.request_complete.body_bytes, strlen(body_a));
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0)->ev.response.body_bytes, strlen(body_b));
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_COMPLETE, 1)->ev.request_complete.body_bytes, strlen("hello"));
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 1)->ev.response.status, 201);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 1)->ev.response.body_bytes, 0);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, http10_closes_unless_keep_alive)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.0\r\n\r\n");
	add_fmt(&sc, RSP, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body_a), body_a);
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.1\r\nConnection: foo, close\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.1\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	const bool req_ka[] = { false, true, false, true };
	const bool rsp_ka[] = { false, true, false, false };
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, i)->ev.request.keep_alive, req_ka[i], "request %zu", i);
		cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, i)->ev.response.keep_alive, rsp_ka[i],
			     "response %zu", i);
	}
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.version_minor, 0);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, response_without_length_ends_at_close)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, "GET /stream HTTP/1.1\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	add_str(&sc, RSP, body_a);
	add_str(&sc, RSP, body_b);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), 1);
	const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert(rs->ev.response.until_close);
	cr_assert(!rs->ev.response.keep_alive);
	cr_assert_eq(rs->ev.response.body_bytes, strlen(body_a) + strlen(body_b));
	cr_assert_eq(rs->ev.now_ns, 5000, "completed by the close (step 5)");
	/* Nothing completes before the close. */
	cr_assert_gt(index_of(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0), 0);
	cr_assert_not_null(strstr(r.text, "after step 3: alive=1"));
	cr_assert_null(strstr(r.text, "RESPONSE seq=0 dir=1 now=4000"));
	recorder_free(&r);
	script_free(&sc);

	/* Transfer-Encoding not ending in chunked: also until close (RFC 9112 6.3). */
	add_str(&sc, REQ, "GET /gz HTTP/1.1\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n");
	add_str(&sc, RSP, body_b);
	add_close(&sc);
	run_all_splits(&sc, &r);
	rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert(rs->ev.response.until_close);
	cr_assert_eq(rs->ev.response.body_bytes, strlen(body_b));
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, interim_100_continue_then_final)
{
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "PUT /v1/database/a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
		strlen(body_b));
	add_str(&sc, RSP, "HTTP/1.1 100 Continue\r\n\r\n");
	add_str(&sc, REQ, body_b);
	add_str(&sc, RSP, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), 1);
	const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert_eq(rs->ev.response.status, 200);
	cr_assert_eq(rs->ev.response.body_bytes, 2);
	cr_assert(rs->ev.response.request_complete);
	cr_assert_eq(rs->ev.response.request_body_bytes, strlen(body_b));
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.method, HTTP_METHOD_PUT);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, early_response_before_the_body_is_read)
{
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "POST /upload HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%.5s", strlen(body_b), body_b);
	add_str(&sc, RSP, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
	add_str(&sc, REQ, body_b + 5);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert_eq(rs->ev.response.status, 413);
	cr_assert(!rs->ev.response.request_complete);
	cr_assert_lt(index_of(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0), index_of(&r, HTTP_EVENT_REQUEST_COMPLETE, 0));
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_COMPLETE, 0)->ev.request_complete.body_bytes, strlen(body_b));
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, close_abandons_unanswered_requests)
{
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%.3s",
		strlen(body_a), body_a);
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), 0);
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_ABANDONED), 3);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_ABANDONED, i)->ev.seq, i);
	cr_assert(nth(&r, HTTP_EVENT_REQUEST_ABANDONED, 1)->ev.abandoned.request_complete);
	cr_assert(!nth(&r, HTTP_EVENT_REQUEST_ABANDONED, 2)->ev.abandoned.request_complete);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, path_truncation_query_and_target_forms)
{
	char longpath[400];
	size_t n = (size_t)snprintf(longpath, sizeof longpath, "/v1/database/");
	for (; n < 300; n++)
		longpath[n] = (char)('a' + n % 26);
	longpath[n] = '\0';
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "GET %s?x=1&y=2 HTTP/1.1\r\n\r\n", longpath);
	add_str(&sc, REQ, "GET http://example.com:3000/v1/ping?q HTTP/1.1\r\n\r\n");
	add_str(&sc, REQ, "OPTIONS * HTTP/1.1\r\n\r\n");
	add_str(&sc, REQ, "GET /? HTTP/1.1\r\n\r\n");
	add_str(&sc, REQ, "\r\n\r\nGET /after-blank-lines HTTP/1.1\r\n\r\n");
	add_str(&sc, REQ, "M-SEARCH /%e2%82%ac/\xe2\x82\xac HTTP/1.1\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	const struct rec *a = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert(a->ev.request.path_truncated);
	cr_assert_eq(a->ev.request.path_len, HTTP_PATH_MAX);
	cr_assert_eq(a->ev.request.path_total_len, strlen(longpath));
	cr_assert(memcmp(a->path, longpath, HTTP_PATH_MAX) == 0);
	cr_assert_eq(a->ev.request.query_len, strlen("x=1&y=2"));
	const struct rec *b = nth(&r, HTTP_EVENT_REQUEST_START, 1);
	cr_assert_str_eq(b->path, "/v1/ping");
	cr_assert(b->ev.request.has_query);
	cr_assert_eq(b->ev.request.query_len, 1);
	cr_assert_str_eq(nth(&r, HTTP_EVENT_REQUEST_START, 2)->path, "*");
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 2)->ev.request.method, HTTP_METHOD_OPTIONS);
	const struct rec *d = nth(&r, HTTP_EVENT_REQUEST_START, 3);
	cr_assert_str_eq(d->path, "/");
	cr_assert(d->ev.request.has_query);
	cr_assert_eq(d->ev.request.query_len, 0);
	cr_assert_str_eq(nth(&r, HTTP_EVENT_REQUEST_START, 4)->path, "/after-blank-lines");
	const struct rec *e = nth(&r, HTTP_EVENT_REQUEST_START, 5);
	cr_assert_eq(e->ev.request.method, HTTP_METHOD_OTHER);
	cr_assert_str_eq(e->method, "M-SEARCH");
	cr_assert_str_eq(http_method_name(e->ev.request.method), "_OTHER");
	cr_assert_str_eq(e->path, "/%e2%82%ac/\xe2\x82\xac", "bytes as sent, not decoded");
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, method_names)
{
	const char *names[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct script sc = { 0 };
		add_fmt(&sc, REQ, "%s /m HTTP/1.1\r\n\r\n", names[i]);
		struct recorder r;
		struct http_conn c;
		run(&sc, (struct split){ .mode = SPLIT_WHOLE }, &r, &c);
		enum http_method m = nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.method;
		cr_assert_neq(m, HTTP_METHOD_OTHER, "%s", names[i]);
		cr_assert_str_eq(http_method_name(m), names[i]);
		recorder_free(&r);
		script_free(&sc);
	}
	/* case matters: "get" is an unknown method, not GET */
	struct script sc = { 0 };
	add_str(&sc, REQ, "get /m HTTP/1.1\r\n\r\n");
	struct recorder r;
	struct http_conn c;
	run(&sc, (struct split){ .mode = SPLIT_WHOLE }, &r, &c);
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.method, HTTP_METHOD_OTHER);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, header_names_and_values_are_case_insensitive)
{
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "POST /a HTTP/1.1\r\ncOnTeNt-LeNgTh:%zu   \r\nCONNECTION: CLOSE\r\n\r\n%s", strlen(body_a), body_a);
	add_fmt(&sc, RSP, "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: %zu, %zu\r\nContent-Length: %zu\r\n\r\n%s",
		strlen(body_b), strlen(body_b), strlen(body_b), body_b);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_COMPLETE, 0)->ev.request_complete.body_bytes, strlen(body_a));
	cr_assert(!nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.keep_alive);
	cr_assert_eq(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0)->ev.response.body_bytes, strlen(body_b));
	recorder_free(&r);
	script_free(&sc);
}

/* ---- traceparent ---- */

static void unhex(uint8_t *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		cr_assert_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

Test(http_parse, traceparent_valid_is_decoded)
{
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "POST /v1/database/a/call/r HTTP/1.1\r\nTraceParent: \t%s \r\nContent-Length: 0\r\n\r\n", tp);
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	const struct rec *st = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert(st->has_tp, "%s", r.text);
	struct http_traceparent want;
	unhex(want.trace_id, tp + 3, 16);
	unhex(want.parent_id, tp + 36, 8);
	unhex(&want.flags, tp + 53, 1);
	cr_assert(memcmp(st->tp.trace_id, want.trace_id, 16) == 0);
	cr_assert(memcmp(st->tp.parent_id, want.parent_id, 8) == 0);
	cr_assert_eq(st->tp.flags, want.flags);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, traceparent_invalid_is_ignored)
{
	const char *good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	const char *bad[] = {
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", /* upper case */
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",  /* short */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",/* long */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 x",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* separator */
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", /* not hex */
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct script sc = { 0 };
		add_fmt(&sc, REQ, "GET / HTTP/1.1\r\ntraceparent: %s\r\n\r\n", bad[i]);
		struct recorder r;
		run_all_splits(&sc, &r);
		cr_assert(!nth(&r, HTTP_EVENT_REQUEST_START, 0)->has_tp, "accepted %s", bad[i]);
		cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "a bad traceparent is no reason to give up");
		recorder_free(&r);
		script_free(&sc);
	}
	/* Two traceparent fields, even equal ones: ambiguous, none is used. */
	struct script sc = { 0 };
	add_fmt(&sc, REQ, "GET / HTTP/1.1\r\ntraceparent: %s\r\ntraceparent: %s\r\n\r\n", good, good);
	/* ... and the next request on the connection starts afresh */
	add_fmt(&sc, REQ, "GET / HTTP/1.1\r\ntraceparent: %s\r\n\r\nGET / HTTP/1.1\r\n\r\n", good);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert(!nth(&r, HTTP_EVENT_REQUEST_START, 0)->has_tp);
	cr_assert(nth(&r, HTTP_EVENT_REQUEST_START, 1)->has_tp);
	cr_assert(!nth(&r, HTTP_EVENT_REQUEST_START, 2)->has_tp);
	recorder_free(&r);
	script_free(&sc);
}

/* ---- WebSocket ---- */

struct frame_spec {
	uint8_t b0;       /* FIN | RSV | opcode */
	int form;         /* 7, 16 or 64: the length encoding */
	size_t len;
};

/* Appends one frame (masked when mask) to *buf (grown). */
static void put_frame(uint8_t **buf, size_t *n, const struct frame_spec *f, bool mask, uint64_t *rng)
{
	*buf = realloc(*buf, *n + 14 + f->len);
	cr_assert_not_null(*buf);
	uint8_t *p = *buf + *n;
	size_t k = 0;
	p[k++] = f->b0;
	uint8_t m = mask ? 0x80 : 0;
	if (f->form == 7) {
		cr_assert_lt(f->len, 126);
		p[k++] = (uint8_t)(m | f->len);
	} else if (f->form == 16) {
		cr_assert_lt(f->len, 65536);
		p[k++] = m | 126;
		p[k++] = (uint8_t)(f->len >> 8);
		p[k++] = (uint8_t)f->len;
	} else {
		p[k++] = m | 127;
		for (int s = 56; s >= 0; s -= 8)
			p[k++] = (uint8_t)((uint64_t)f->len >> s);
	}
	if (mask)
		for (int i = 0; i < 4; i++)
			p[k++] = (uint8_t)rng_next(rng);
	/* Payload bytes that look like HTTP and like frame headers: skipped all the same. */
	static const char lure[] = "HTTP/1.1 200 OK\r\n\x88\x80GET / HTTP/1.1\r\n\r\n";
	for (size_t i = 0; i < f->len; i++)
		p[k++] = (i & 64) ? (uint8_t)lure[i % (sizeof lure - 1)] : (uint8_t)rng_next(rng);
	*n += k;
}

static const char ws_request[] = "GET /v1/database/a/subscribe HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
				 "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				 "Sec-WebSocket-Version: 13\r\n\r\n";
static const char ws_101[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kK8YzHs9ZOo=\r\n\r\n";

/* Checks the recorded frames of dir against specs, in order. */
static void expect_frames(const struct recorder *r, enum http_dir dir, const struct frame_spec *specs, size_t n,
			  bool masked)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct http_event *ev = &r->recs[i].ev;
		if (ev->kind != HTTP_EVENT_WS_FRAME || ev->dir != dir)
			continue;
		cr_assert_lt(k, n, "more frames than sent:\n%s", r->text);
		cr_assert_eq(ev->ws.opcode, specs[k].b0 & 0x0f, "frame %zu", k);
		cr_assert_eq(ev->ws.fin, (specs[k].b0 & 0x80) != 0);
		cr_assert_eq(ev->ws.rsv, (specs[k].b0 >> 4) & 7);
		cr_assert_eq(ev->ws.masked, masked);
		cr_assert_eq(ev->ws.payload_len, specs[k].len, "frame %zu", k);
		k++;
	}
	cr_assert_eq(k, n, "frames of dir %d: %zu of %zu\n%s", dir, k, n, r->text);
}

static uint64_t payload_sum(const struct frame_spec *specs, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += specs[i].len;
	return s;
}

Test(http_parse, websocket_upgrade_then_frames_both_ways)
{
	/* client frames: masked; text, a fragmented binary message (RSV1 set
	 * on its first fragment, as permessage-deflate does), ping, close */
	const struct frame_spec client[] = {
		{ 0x81, 7, 5 }, { 0x42, 16, 300 }, { 0x00, 7, 0 }, { 0x80, 64, 1000 },
		{ 0x89, 7, 4 }, { 0x81, 16, 126 }, { 0x88, 7, 2 },
	};
	const struct frame_spec server[] = {
		{ 0x82, 7, 125 }, { 0x81, 16, 65535 }, { 0x82, 64, 70000 }, { 0x8a, 7, 4 }, { 0x88, 7, 0 },
	};
	uint64_t rng = 42;
	struct script sc = { 0 };
	add_str(&sc, REQ, ws_request);
	add_str(&sc, RSP, ws_101);
	uint8_t *buf = NULL;
	size_t n = 0;
	for (size_t i = 0; i < 4; i++)
		put_frame(&buf, &n, &client[i], true, &rng);
	add_bytes(&sc, REQ, buf, n);
	n = 0;
	for (size_t i = 0; i < sizeof server / sizeof server[0]; i++)
		put_frame(&buf, &n, &server[i], false, &rng);
	add_bytes(&sc, RSP, buf, n);
	n = 0;
	for (size_t i = 4; i < sizeof client / sizeof client[0]; i++)
		put_frame(&buf, &n, &client[i], true, &rng);
	add_bytes(&sc, REQ, buf, n);
	free(buf);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	const struct rec *st = nth(&r, HTTP_EVENT_REQUEST_START, 0);
	cr_assert(st->ev.request.websocket_upgrade);
	const struct rec *rs = nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0);
	cr_assert_eq(rs->ev.response.status, 101);
	cr_assert(rs->ev.response.websocket);
	expect_frames(&r, REQ, client, sizeof client / sizeof client[0], true);
	expect_frames(&r, RSP, server, sizeof server / sizeof server[0], false);
	/* The totals as the last step left them (printed by the harness). */
	char want[256];
	snprintf(want, sizeof want, "after step 4: alive=1 ws=1 req=%zu/%llu/1 rsp=%zu/%llu/1",
		 sizeof client / sizeof client[0],
		 (unsigned long long)payload_sum(client, sizeof client / sizeof client[0]),
		 sizeof server / sizeof server[0],
		 (unsigned long long)payload_sum(server, sizeof server / sizeof server[0]));
	cr_assert_not_null(strstr(r.text, want), "want %s in\n%s", want, r.text);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, websocket_frames_read_before_the_101_is_seen)
{
	/*
	 * With reads and writes on two threads, the client's first frames can
	 * be fed before the 101 that let the client send them. First frame
	 * here starts with 'A' (0x41: RSV1, text, not final), so only its
	 * mask bit tells it from a request line.
	 */
	const struct frame_spec client[] = { { 0x41, 7, 10 }, { 0x80, 16, 200 }, { 0x88, 7, 2 } };
	uint64_t rng = 7;
	struct script sc = { 0 };
	add_str(&sc, REQ, ws_request);
	uint8_t *buf = NULL;
	size_t n = 0;
	for (size_t i = 0; i < 3; i++)
		put_frame(&buf, &n, &client[i], true, &rng);
	add_bytes(&sc, REQ, buf, n);
	free(buf);
	add_str(&sc, RSP, ws_101);
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	expect_frames(&r, REQ, client, 3, true);
	cr_assert(nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0)->ev.response.websocket);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, websocket_upgrade_declined_stays_http)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, ws_request);
	add_str(&sc, RSP, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nno\n");
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.1\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* the next request read before the refusal is seen: the bytes tell too */
	add_str(&sc, REQ, ws_request);
	add_str(&sc, REQ, "GET /v1/ping HTTP/1.1\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"
			  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), 4);
	cr_assert_eq(count(&r, HTTP_EVENT_WS_FRAME), 0);
	cr_assert_str_eq(nth(&r, HTTP_EVENT_REQUEST_START, 1)->path, "/v1/ping");
	cr_assert_str_eq(nth(&r, HTTP_EVENT_REQUEST_START, 3)->path, "/v1/ping");
	cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 3)->ev.request.start_ns, 6000);
	cr_assert(!nth(&r, HTTP_EVENT_RESPONSE_COMPLETE, 0)->ev.response.websocket);
	recorder_free(&r);
	script_free(&sc);
}

/* ---- giving up ---- */

Test(http_parse, garbage_gives_up_and_stays_given_up)
{
	struct script sc = { 0 };
	uint8_t bin[512];
	uint64_t rng = 99;
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)rng_next(&rng);
	bin[0] = 0x16; /* a TLS ClientHello starts so */
	add_bytes(&sc, REQ, bin, sizeof bin);
	add_str(&sc, REQ, "GET / HTTP/1.1\r\n\r\n");
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	cr_assert_eq(expect_giveup(&sc, &r), HTTP_GIVEUP_START_LINE);
	cr_assert_eq(nth(&r, HTTP_EVENT_GAVE_UP, 0)->ev.gave_up.offset, 0);
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_START), 0, "nothing after the give-up");
	cr_assert_not_null(strstr(r.text, "after step 1: alive=0"));
	recorder_free(&r);
	script_free(&sc);
}

/* One request-side header that must give up with reason. */
static void expect_request_giveup(const char *text, enum http_giveup reason)
{
	struct script sc = { 0 };
	add_str(&sc, REQ, text);
	add_str(&sc, REQ, "GET / HTTP/1.1\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	enum http_giveup got = expect_giveup(&sc, &r);
	cr_assert_eq(got, reason, "%s: gave up for %s, not %s", text, http_giveup_text(got), http_giveup_text(reason));
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, malformed_requests_give_up)
{
	expect_request_giveup("GET /\r\n\r\n", HTTP_GIVEUP_START_LINE);          /* HTTP/0.9 */
	expect_request_giveup("GET  / HTTP/1.1\r\n\r\n", HTTP_GIVEUP_START_LINE); /* empty target */
	expect_request_giveup(" GET / HTTP/1.1\r\n\r\n", HTTP_GIVEUP_START_LINE);
	expect_request_giveup("GET / HTTP/1.1 \r\n\r\n", HTTP_GIVEUP_START_LINE);
	expect_request_giveup("GET /a\tb HTTP/1.1\r\n\r\n", HTTP_GIVEUP_START_LINE);
	expect_request_giveup("GET / HTTP/1.1\rX\n\r\n", HTTP_GIVEUP_START_LINE);
	expect_request_giveup("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_GIVEUP_VERSION);
	expect_request_giveup("GET / HTTP/1.x\r\n\r\n", HTTP_GIVEUP_VERSION);
	expect_request_giveup("GET / FTP/1.1\r\n\r\n", HTTP_GIVEUP_START_LINE);
	expect_request_giveup("ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n\r\n", HTTP_GIVEUP_METHOD_TOO_LONG);
	expect_request_giveup("GET / HTTP/1.1\r\n folded: x\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\nA: b\r\n\tfolded\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\nName : x\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\nNoColon\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", HTTP_GIVEUP_HEADER);
	expect_request_giveup("GET / HTTP/1.1\r\n\rX", HTTP_GIVEUP_HEADER);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
			      HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			      HTTP_GIVEUP_CONTENT_LENGTH);
	expect_request_giveup("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP_GIVEUP_TRANSFER_ENCODING);
	expect_request_giveup("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
			      HTTP_GIVEUP_TRANSFER_ENCODING);
	expect_request_giveup("POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
			      HTTP_GIVEUP_TRANSFER_ENCODING);
}

Test(http_parse, bad_chunks_give_up)
{
	const char *bodies[] = {
		"zz\r\n",                       /* not hex */
		"\r\n",                         /* no digits */
		";ext\r\n",                     /* extension without size */
		"4000000000000000\r\n",         /* 2^62: over the limit */
		"5\r\nhelloX\r\n0\r\n\r\n",     /* no CRLF after the data */
		"5\r\nhello\r\r\n",
		"5\x01\r\nhello\r\n",           /* control byte in the size line */
		"5;a=\x7f\r\nhello\r\n",        /* ... in an extension */
		"5\rX",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct script sc = { 0 };
		add_fmt(&sc, REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%s", bodies[i]);
		add_close(&sc);
		struct recorder r;
		enum http_giveup got = expect_giveup(&sc, &r);
		cr_assert_eq(got, HTTP_GIVEUP_CHUNK, "body %zu: %s", i, http_giveup_text(got));
		cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_ABANDONED), 1, "the started request is abandoned at close");
		recorder_free(&r);
		script_free(&sc);
	}
	/* the largest size accepted, 2^62 - 1, then cut short by the close */
	struct script sc = { 0 };
	add_str(&sc, REQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3fffffffffffffff\r\nabc");
	add_close(&sc);
	struct recorder r;
	run_all_splits(&sc, &r);
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "%s", r.text);
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_ABANDONED), 1);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, limits_give_up)
{
	/* a request line one byte over, and one exactly at the limit */
	for (size_t extra = 0; extra < 2; extra++) {
		const char *tail = " HTTP/1.1\r\n";
		size_t len = HTTP_LINE_MAX + extra; /* the line, CRLF included */
		char *line = malloc(len + 3);
		size_t k = (size_t)sprintf(line, "GET /");
		while (k < len - strlen(tail))
			line[k++] = 'p';
		strcpy(line + k, tail);
		cr_assert_eq(strlen(line), len);
		strcat(line, "\r\n");
		struct script sc = { 0 };
		add_str(&sc, REQ, line);
		add_close(&sc);
		struct recorder r;
		run_all_splits(&sc, &r);
		if (extra == 0) {
			cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 0, "a line of HTTP_LINE_MAX bytes is fine");
			cr_assert_eq(nth(&r, HTTP_EVENT_REQUEST_START, 0)->ev.request.path_total_len,
				     len - strlen("GET ") - strlen(tail));
		} else {
			cr_assert_eq(nth(&r, HTTP_EVENT_GAVE_UP, 0)->ev.gave_up.reason, HTTP_GIVEUP_LINE_TOO_LONG);
			cr_assert_eq(nth(&r, HTTP_EVENT_GAVE_UP, 0)->ev.gave_up.offset, HTTP_LINE_MAX);
		}
		recorder_free(&r);
		script_free(&sc);
		free(line);
	}

	/* a header line over the limit */
	{
		char *hdr = malloc(HTTP_LINE_MAX + 64);
		size_t k = (size_t)sprintf(hdr, "GET / HTTP/1.1\r\nX-Big: ");
		while (k < HTTP_LINE_MAX + 40)
			hdr[k++] = 'v';
		strcpy(hdr + k, "\r\n\r\n");
		struct script sc = { 0 };
		add_str(&sc, REQ, hdr);
		struct recorder r;
		cr_assert_eq(expect_giveup(&sc, &r), HTTP_GIVEUP_LINE_TOO_LONG);
		recorder_free(&r);
		script_free(&sc);
		free(hdr);
	}

	/* HTTP_FIELDS_MAX fields are fine, one more is not */
	for (size_t extra = 0; extra < 2; extra++) {
		char *req = malloc(32 * (HTTP_FIELDS_MAX + 2) + 64);
		size_t k = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
		for (size_t i = 0; i < HTTP_FIELDS_MAX + extra; i++)
			k += (size_t)sprintf(req + k, "X-F%zu: %zu\r\n", i, i);
		strcpy(req + k, "\r\n");
		struct script sc = { 0 };
		add_str(&sc, REQ, req);
		struct recorder r;
		run_all_splits(&sc, &r);
		if (extra == 0)
			cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_START), 1);
		else
			cr_assert_eq(nth(&r, HTTP_EVENT_GAVE_UP, 0)->ev.gave_up.reason, HTTP_GIVEUP_TOO_MANY_FIELDS);
		recorder_free(&r);
		script_free(&sc);
		free(req);
	}

	/* a header section over HTTP_HEAD_MAX in lines each under the line limit */
	{
		size_t cap = HTTP_HEAD_MAX + 16384;
		char *req = malloc(cap);
		size_t k = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
		for (size_t i = 0; k < HTTP_HEAD_MAX + 100; i++) {
			k += (size_t)sprintf(req + k, "X-%zu: ", i);
			for (size_t j = 0; j < 4000; j++)
				req[k++] = 'h';
			k += (size_t)sprintf(req + k, "\r\n");
		}
		strcpy(req + k, "\r\n");
		struct script sc = { 0 };
		add_str(&sc, REQ, req);
		struct recorder r;
		cr_assert_eq(expect_giveup(&sc, &r), HTTP_GIVEUP_HEAD_TOO_LONG);
		recorder_free(&r);
		script_free(&sc);
		free(req);
	}

	/* trailers obey the same limits */
	{
		char *req = malloc(HTTP_LINE_MAX + 256);
		size_t k = (size_t)sprintf(req, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ");
		while (k < HTTP_LINE_MAX + 200)
			req[k++] = 't';
		strcpy(req + k, "\r\n\r\n");
		struct script sc = { 0 };
		add_str(&sc, REQ, req);
		struct recorder r;
		cr_assert_eq(expect_giveup(&sc, &r), HTTP_GIVEUP_LINE_TOO_LONG);
		recorder_free(&r);
		script_free(&sc);
		free(req);
	}
}

Test(http_parse, pipeline_bound)
{
	/* HTTP_PIPELINE_MAX unanswered requests are fine; one more gives up */
	struct script sc = { 0 };
	for (int i = 0; i < HTTP_PIPELINE_MAX; i++)
		add_fmt(&sc, REQ, "GET /r%d HTTP/1.1\r\n\r\n", i);
	add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	add_str(&sc, REQ, "GET /fits HTTP/1.1\r\n\r\n");
	add_str(&sc, REQ, "GET /too-many HTTP/1.1\r\n\r\n");
	add_close(&sc);
	struct recorder r;
	cr_assert_eq(expect_giveup(&sc, &r), HTTP_GIVEUP_PIPELINE_FULL);
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_START), HTTP_PIPELINE_MAX + 1);
	cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), 1);
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_ABANDONED), HTTP_PIPELINE_MAX);
	recorder_free(&r);
	script_free(&sc);
}

Test(http_parse, response_side_give_ups)
{
	struct {
		const char *req, *rsp;
		enum http_giveup reason;
		size_t responses; /* completed before giving up */
	} cases[] = {
		{ NULL, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n", HTTP_GIVEUP_NO_REQUEST, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 999 What\r\n\r\n", HTTP_GIVEUP_STATUS, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 099 What\r\n\r\n", HTTP_GIVEUP_STATUS, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", HTTP_GIVEUP_START_LINE, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", HTTP_GIVEUP_START_LINE, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/2 200\r\n\r\n", HTTP_GIVEUP_VERSION, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n", HTTP_GIVEUP_START_LINE, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_GIVEUP_START_LINE, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", HTTP_GIVEUP_CONTENT_LENGTH, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n",
		  HTTP_GIVEUP_CHUNK, 0 },
		/* h2c: a 101 to an upgrade that is not WebSocket */
		{ "GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
		  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", HTTP_GIVEUP_UPGRADE, 1 },
		/* Upgrade: websocket without Connection: upgrade is no upgrade request */
		{ "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n",
		  HTTP_GIVEUP_UPGRADE, 1 },
		{ "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		  "HTTP/1.1 200 Connection Established\r\n\r\n", HTTP_GIVEUP_TUNNEL, 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct script sc = { 0 };
		if (cases[i].req != NULL)
			add_str(&sc, REQ, cases[i].req);
		add_str(&sc, RSP, cases[i].rsp);
		add_str(&sc, RSP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		add_close(&sc);
		struct recorder r;
		enum http_giveup got = expect_giveup(&sc, &r);
		cr_assert_eq(got, cases[i].reason, "case %zu: %s", i, http_giveup_text(got));
		cr_assert_eq(nth(&r, HTTP_EVENT_GAVE_UP, 0)->ev.dir, RSP);
		cr_assert_eq(count(&r, HTTP_EVENT_RESPONSE_COMPLETE), cases[i].responses, "case %zu", i);
		recorder_free(&r);
		script_free(&sc);
	}
}

Test(http_parse, bad_websocket_frames_give_up)
{
	const uint8_t frames[][3] = {
		{ 0x83, 0x80, 0 }, /* reserved data opcode 3 */
		{ 0x8b, 0x80, 0 }, /* reserved control opcode 11 */
		{ 0x09, 0x80, 0 }, /* fragmented ping */
		{ 0x89, 0xfe, 0 }, /* ping with a 16-bit length */
		{ 0x82, 0xff, 0x80 }, /* 64-bit length with the top bit set */
	};
	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		struct script sc = { 0 };
		add_str(&sc, REQ, ws_request);
		add_str(&sc, RSP, ws_101);
		add_bytes(&sc, REQ, frames[i], 3);
		add_close(&sc);
		struct recorder r;
		enum http_giveup got = expect_giveup(&sc, &r);
		cr_assert_eq(got, HTTP_GIVEUP_WS_FRAME, "frame %zu: %s", i, http_giveup_text(got));
		recorder_free(&r);
		script_free(&sc);
	}
}

Test(http_parse, reset_revives_and_text_covers_every_reason)
{
	struct http_conn c;
	struct recorder r;
	recorder_init(&r);
	http_conn_init(&c);
	cr_assert(!http_conn_feed(&c, REQ, "\x00", 1, 1, on_event, &r));
	cr_assert_eq(count(&r, HTTP_EVENT_GAVE_UP), 1);
	cr_assert(!http_conn_feed(&c, RSP, "HTTP/1.1 200 OK\r\n", 17, 2, on_event, &r), "the other side stops too");
	cr_assert_eq(r.n, 1);
	http_conn_reset(&c);
	r.gave_up = false;
	const char req[] = "GET / HTTP/1.1\r\n\r\n";
	cr_assert(http_conn_feed(&c, REQ, req, strlen(req), 3, on_event, &r));
	cr_assert_eq(count(&r, HTTP_EVENT_REQUEST_START), 1);
	recorder_free(&r);

	for (int reason = HTTP_GIVEUP_NONE; reason <= HTTP_GIVEUP_WS_FRAME; reason++)
		cr_assert_str_neq(http_giveup_text((enum http_giveup)reason), "unknown reason", "reason %d", reason);
}

/* ---- randomized: mutated and random streams, random splits ---- */

Test(http_parse, randomized_split_invariance)
{
	static const char *const req_pool[] = {
		"GET /v1/ping HTTP/1.1\r\n\r\n",
		"POST /v1/database/d/call/r HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
		"POST /v1/database/d/sql HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"HEAD /v1/metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /x?y HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
	};
	static const char *const rsp_pool[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
	};
	uint64_t rng = 2024;
	size_t gave_up = 0, clean = 0;
	for (int round = 0; round < 300; round++) {
		struct script sc = { 0 };
		int pairs = 1 + (int)(rng_next(&rng) % 4);
		for (int p = 0; p < pairs; p++) {
			const char *q = req_pool[rng_next(&rng) % 5];
			const char *s = rsp_pool[rng_next(&rng) % 4];
			/* HEAD answered with a body-less response only */
			if (q[0] == 'H')
				s = "HTTP/1.1 200 OK\r\nContent-Length: 77\r\n\r\n";
			add_str(&sc, REQ, q);
			add_str(&sc, RSP, s);
		}
		/* mutate a few bytes in a third of the rounds, or add noise */
		int kind = round % 3;
		if (kind == 1) {
			for (int m = 0; m < 3; m++) {
				struct step *st = &sc.steps[rng_next(&rng) % sc.n];
				if (st->len)
					st->data[rng_next(&rng) % st->len] = (uint8_t)rng_next(&rng);
			}
		} else if (kind == 2) {
			uint8_t noise[64];
			for (size_t i = 0; i < sizeof noise; i++)
				noise[i] = (uint8_t)rng_next(&rng);
			add_bytes(&sc, (rng_next(&rng) & 1) ? REQ : RSP, noise, sizeof noise);
		}
		add_close(&sc);
		struct recorder whole, r;
		struct http_conn c;
		run(&sc, (struct split){ .mode = SPLIT_WHOLE }, &whole, &c);
		for (uint64_t seed = 1; seed <= 6; seed++) {
			run(&sc, (struct split){ .mode = SPLIT_RANDOM, .seed = seed * 7919 + (uint64_t)round }, &r, &c);
			cr_assert_str_eq(r.text, whole.text, "round %d seed %llu", round, (unsigned long long)seed);
			recorder_free(&r);
		}
		run(&sc, (struct split){ .mode = SPLIT_BYTES }, &r, &c);
		cr_assert_str_eq(r.text, whole.text, "round %d, bytes", round);
		recorder_free(&r);
		if (count(&whole, HTTP_EVENT_GAVE_UP))
			gave_up++;
		if (kind == 0) {
			cr_assert_eq(count(&whole, HTTP_EVENT_GAVE_UP), 0, "a valid stream gave up:\n%s", whole.text);
			cr_assert_eq(count(&whole, HTTP_EVENT_RESPONSE_COMPLETE), (size_t)pairs);
			clean++;
		}
		recorder_free(&whole);
		script_free(&sc);
	}
	cr_assert_eq(clean, 100);
	cr_assert_gt(gave_up, 0, "the mutations and noise never made it give up");
}

Test(http_parse, random_bytes_never_escape_the_buffer)
{
	/* Random streams, both directions, a byte class at a time. Under
	 * ASan a read past any piece shows; here: it ends and stays dead. */
	uint64_t rng = 5;
	for (int round = 0; round < 2000; round++) {
		struct http_conn c;
		struct recorder r;
		recorder_init(&r);
		http_conn_init(&c);
		size_t len = 1 + rng_next(&rng) % 200;
		uint8_t *buf = malloc(len);
		for (size_t i = 0; i < len; i++) {
			uint64_t v = rng_next(&rng);
			/* mostly printable with line ends, so that parsing goes deep */
			buf[i] = (v & 3) ? (uint8_t)" :/\r\nHTTP1.0GETpost-ChunkedContent-Length0123456789abcdef"[v % 56]
					 : (uint8_t)(v >> 8);
		}
		if (round % 2)
			memcpy(buf, "GET / HTTP/1.1\r\n", len < 16 ? len : 16);
		enum http_dir dir = (round % 4 < 2) ? REQ : RSP;
		for (size_t k = 0; k < len;) {
			size_t piece = 1 + rng_next(&rng) % 9;
			if (piece > len - k)
				piece = len - k;
			feed_exact(&c, &r, dir, buf + k, piece, (uint64_t)k);
			k += piece;
		}
		http_conn_close(&c, 9999, on_event, &r);
		cr_assert(!http_conn_alive(&c));
		cr_assert(!http_conn_feed(&c, dir, buf, len, 1, on_event, &r));
		cr_assert_leq(count(&r, HTTP_EVENT_GAVE_UP), 1);
		free(buf);
		recorder_free(&r);
	}
}

/* ---- the two directions on two threads ---- */

#define THREAD_REQUESTS 20000

struct two_threads {
	struct http_conn c;
	_Atomic uint32_t started;    /* requests whose feed has returned (request thread) */
	_Atomic uint32_t responded;  /* RESPONSE_COMPLETEs seen (response thread) */
	uint32_t seen_starts;        /* request thread: REQUEST_STARTs */
	uint32_t slot_seq[HTTP_PIPELINE_MAX]; /* the caller's per-request slots */
	uint32_t bad;                /* response thread: slot held another seq */
	_Atomic uint32_t gave_up;
};

static void on_request_thread(void *ctx, const struct http_event *ev)
{
	struct two_threads *t = ctx;
	if (ev->kind == HTTP_EVENT_REQUEST_START) {
		t->slot_seq[ev->seq % HTTP_PIPELINE_MAX] = ev->seq; /* plain store: the parser orders it */
		t->seen_starts++;
	} else if (ev->kind == HTTP_EVENT_GAVE_UP) {
		atomic_fetch_add(&t->gave_up, 1);
	}
}

static void on_response_thread(void *ctx, const struct http_event *ev)
{
	struct two_threads *t = ctx;
	if (ev->kind == HTTP_EVENT_RESPONSE_COMPLETE) {
		if (t->slot_seq[ev->seq % HTTP_PIPELINE_MAX] != ev->seq)
			t->bad++;
		atomic_fetch_add(&t->responded, 1);
	} else if (ev->kind == HTTP_EVENT_GAVE_UP) {
		atomic_fetch_add(&t->gave_up, 1);
	}
}

static void *request_thread(void *arg)
{
	struct two_threads *t = arg;
	const char req[] = "POST /v1/database/d/call/r HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
	for (uint32_t i = 0; i < THREAD_REQUESTS && http_conn_alive(&t->c); i++) {
		/* at most HTTP_PIPELINE_MAX - 1 ahead, as a client could pipeline */
		while (i - atomic_load(&t->responded) >= HTTP_PIPELINE_MAX - 1 && http_conn_alive(&t->c))
			sched_yield();
		size_t half = i % sizeof req;
		http_conn_feed(&t->c, REQ, req, half, i, on_request_thread, t);
		http_conn_feed(&t->c, REQ, req + half, sizeof req - 1 - half, i, on_request_thread, t);
		/* as the host's read() returns only now, the server answers only now */
		atomic_store(&t->started, t->seen_starts);
	}
	return NULL;
}

static void *response_thread(void *arg)
{
	struct two_threads *t = arg;
	const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	for (uint32_t i = 0; i < THREAD_REQUESTS && http_conn_alive(&t->c); i++) {
		/* a server answers only what it has read */
		while (atomic_load(&t->started) <= i && http_conn_alive(&t->c))
			sched_yield();
		http_conn_feed(&t->c, RSP, rsp, sizeof rsp - 1, i, on_response_thread, t);
	}
	return NULL;
}

Test(http_parse, directions_on_two_threads)
{
	struct two_threads *t = calloc(1, sizeof *t);
	http_conn_init(&t->c);
	pthread_t a, b;
	cr_assert_eq(pthread_create(&a, NULL, request_thread, t), 0);
	cr_assert_eq(pthread_create(&b, NULL, response_thread, t), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	cr_assert_eq(atomic_load(&t->gave_up), 0);
	cr_assert_eq(atomic_load(&t->started), THREAD_REQUESTS);
	cr_assert_eq(atomic_load(&t->responded), THREAD_REQUESTS);
	cr_assert_eq(t->bad, 0, "a response saw a slot of another request %u times", t->bad);
	cr_assert(http_conn_alive(&t->c));
	free(t);
}
