/* SPDX-License-Identifier: MIT */
/*
 * http_parse.c: the incremental HTTP/1.x and WebSocket-framing parser of
 * http_parse.h.
 *
 * Each direction is one byte-at-a-time state machine (struct http_side),
 * except where bytes are only counted (bodies, chunk data, WebSocket
 * payloads): those are skipped a run at a time. Nothing is buffered: a
 * header field is recognised by narrowing a bitmask of candidate names
 * as its bytes arrive, and the few values that matter (Content-Length,
 * the tokens of Transfer-Encoding, Connection and Upgrade, traceparent)
 * are decoded the same way. So a message split anywhere, one byte per
 * feed included, gives the same events as the whole of it at once.
 *
 * The feed path calls no library function (the compiler may turn a
 * struct initialiser into memset, which neither allocates nor locks): it
 * touches only the struct and the caller's buffer, which keeps it safe
 * inside read/write wrappers that may run in signal handlers or under
 * the host's allocator.
 */
#include "http_parse.h"

#include <string.h>

_Static_assert(sizeof(struct http_conn) <= HTTP_CONN_SIZE_MAX, "struct http_conn outgrew HTTP_CONN_SIZE_MAX");
_Static_assert(HTTP_PATH_MAX <= 255, "path_len is a uint8_t");
_Static_assert(HTTP_METHOD_MAX <= 255, "method_len is a uint8_t");
_Static_assert((HTTP_PIPELINE_MAX & (HTTP_PIPELINE_MAX - 1)) == 0, "seq % HTTP_PIPELINE_MAX must survive wraparound");

/* Where a side is in its stream (http_side.state). */
enum {
	S_IDLE,          /* between messages */
	S_START,         /* in the request or status line (sub: RL_* / SL_*) */
	S_HEAD,          /* in the header section (hstate) */
	S_BODY,          /* Content-Length body: remaining bytes */
	S_CHUNK_SIZE,    /* hex digits of a chunk size (remaining accumulates, pos counts) */
	S_CHUNK_EXT,     /* chunk extensions, skipped to the line end */
	S_CHUNK_SIZE_LF, /* CR seen at the end of the chunk size line */
	S_CHUNK_DATA,    /* remaining bytes of chunk data */
	S_CHUNK_DATA_CR, /* the CRLF after chunk data */
	S_CHUNK_DATA_LF,
	S_TRAILER,       /* the trailer section after the last chunk (hstate) */
	S_UNTIL_CLOSE,   /* response body that ends with the connection */
	S_AWAIT,         /* request side after a WebSocket upgrade request */
	S_AWAIT_HELD,    /* ... one byte held (held_byte) to tell HTTP from a frame */
	S_WS,            /* WebSocket frames (sub: WS_*) */
	S_DEAD,          /* given up */
};

/* Request line (sub in S_START on the request side). */
enum { RL_METHOD, RL_TARGET, RL_VERSION, RL_CR };
/* Status line (sub in S_START on the response side). */
enum { SL_VERSION, SL_CODE, SL_REASON, SL_CR };
/* Request-target (http_conn.target). */
enum {
	T_FIRST,     /* nothing read yet */
	T_PATH,      /* origin-form path, copied */
	T_QUERY,     /* after '?', counted */
	T_ASTERISK,  /* "*" (OPTIONS) */
	T_SCHEME,    /* absolute-form scheme, or authority-form host */
	T_SLASH1,    /* "scheme:" */
	T_SLASH2,    /* "scheme:/" */
	T_AUTHORITY, /* "scheme://" host[:port] */
	T_SKIP,      /* authority-form remainder: no path */
};
/* Within a header line (hstate). */
enum { HL_START, HL_NAME, HL_VALUE, HL_CR, HL_END_CR };
/* Within a WebSocket frame header (sub in S_WS). */
enum { WS_H0, WS_H1, WS_LEN, WS_MASK, WS_PAYLOAD };
/* Within one element of a list-valued field, or Content-Length, or traceparent (el). */
enum { EL_LEAD, EL_TOKEN, EL_TAIL, EL_SUFFIX, EL_JUNK };

/* Header fields the parser reads (field); bit (id - 1) in name_cands. */
enum { F_NONE, F_CONTENT_LENGTH, F_TRANSFER_ENCODING, F_CONNECTION, F_UPGRADE, F_TRACEPARENT, F_COUNT };
static const char *const field_names[F_COUNT] = {
	[F_CONTENT_LENGTH] = "content-length",
	[F_TRANSFER_ENCODING] = "transfer-encoding",
	[F_CONNECTION] = "connection",
	[F_UPGRADE] = "upgrade",
	[F_TRACEPARENT] = "traceparent",
};
/* Their lengths are all different, so at most one name survives the ':'. */
static const uint8_t field_name_len[F_COUNT] = { 0, 14, 17, 10, 7, 11 };
#define FIELD_BIT(f) (1u << ((f) - 1))
#define REQUEST_FIELDS (FIELD_BIT(F_CONTENT_LENGTH) | FIELD_BIT(F_TRANSFER_ENCODING) | \
	FIELD_BIT(F_CONNECTION) | FIELD_BIT(F_UPGRADE) | FIELD_BIT(F_TRACEPARENT))
/* A response's Upgrade and traceparent change nothing here. */
#define RESPONSE_FIELDS (FIELD_BIT(F_CONTENT_LENGTH) | FIELD_BIT(F_TRANSFER_ENCODING) | FIELD_BIT(F_CONNECTION))

/* The tokens that matter in list-valued fields, lower case, up to 3 per field. */
enum { TOK_CHUNKED = 0, TOK_CLOSE = 0, TOK_KEEP_ALIVE = 1, TOK_UPGRADE = 2, TOK_WEBSOCKET = 0 };
static const char *const field_tokens[F_COUNT][3] = {
	[F_TRANSFER_ENCODING] = { "chunked" },
	[F_CONNECTION] = { "close", "keep-alive", "upgrade" },
	[F_UPGRADE] = { "websocket" },
};
static const uint8_t field_token_len[F_COUNT][3] = {
	[F_TRANSFER_ENCODING] = { 7 },
	[F_CONNECTION] = { 5, 10, 7 },
	[F_UPGRADE] = { 9 },
};
static const uint8_t field_token_mask[F_COUNT] = {
	[F_TRANSFER_ENCODING] = 1, [F_CONNECTION] = 7, [F_UPGRADE] = 1,
};

/* What the current message's header said (http_side.msg). */
enum {
	MSG_HAS_CL = 1 << 0,      /* a Content-Length value was read (cl_value) */
	MSG_TE = 1 << 1,          /* Transfer-Encoding named a coding */
	MSG_TE_CHUNKED = 1 << 2,  /* ... and the last one is chunked */
	MSG_CLOSE = 1 << 3,       /* Connection: close */
	MSG_KEEP_ALIVE = 1 << 4,  /* Connection: keep-alive */
	MSG_CONN_UPGRADE = 1 << 5,/* Connection: upgrade */
	MSG_UPGRADE_WS = 1 << 6,  /* Upgrade: websocket */
	MSG_CL_ELEMENT = 1 << 7,  /* the current Content-Length line had an element */
	MSG_QUERY = 1 << 8,       /* request target had a '?' */
};

/* traceparent (http_conn.tp_flags). */
enum { TP_SEEN = 1, TP_BAD = 2 };
#define TP_LEN 55

/* Per request in the FIFO (fifo_flags). */
enum { FF_WEBSOCKET = 1, FF_KEEP_ALIVE = 2 };
/* fifo_body: the request has been read; the low bits hold its body bytes. */
#define REQ_DONE (UINT64_C(1) << 63)

/* 2^62: any real body is shorter; keeps the arithmetic far from overflow. */
#define LENGTH_LIMIT (UINT64_C(1) << 62)

/* One feed call's context. */
struct feed {
	struct http_conn *c;
	struct http_side *s;
	enum http_dir dir;
	uint64_t now;
	http_event_fn fn;
	void *ctx;
};

/* ---- character classes (RFC 9110 5.6.2) ---- */

static inline bool is_tchar(uint8_t ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	switch (ch) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

/* field-vchar, SP, HTAB, obs-text: what a field value may hold. */
static inline bool is_field_byte(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static inline uint8_t to_lower(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch | 0x20) : ch;
}

/* 0-15, or -1 when ch is not a hex digit (either case: chunk sizes). */
static inline int hex_value(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* ---- events ---- */

/* Delivers ev unless the connection has died meanwhile (the other side). */
static void emit(struct feed *f, struct http_event *ev)
{
	ev->dir = f->dir;
	ev->now_ns = f->now;
	if (f->fn != NULL && atomic_load_explicit(&f->c->dead, memory_order_relaxed) == 0)
		f->fn(f->ctx, ev);
}

/*
 * Stops this side for good and, if the connection was alive, marks it
 * given up and says so (the CAS makes it once, whichever side is first).
 */
static void give_up(struct feed *f, enum http_giveup reason)
{
	f->s->state = S_DEAD;
	uint8_t alive = 0;
	if (atomic_compare_exchange_strong_explicit(&f->c->dead, &alive, 1, memory_order_relaxed,
						    memory_order_relaxed) && f->fn != NULL) {
		struct http_event ev = { .kind = HTTP_EVENT_GAVE_UP, .dir = f->dir, .now_ns = f->now };
		ev.gave_up.reason = reason;
		ev.gave_up.offset = f->s->offset;
		f->fn(f->ctx, &ev);
	}
}

/* ---- messages ---- */

/* Clears what one message's parse accumulates, for a new message on s. */
static void side_begin_message(struct http_side *s)
{
	s->remaining = 0;
	s->body_bytes = 0;
	s->cl_cur = 0;
	s->cl_value = 0;
	s->line_len = 0;
	s->head_len = 0;
	s->fields = 0;
	s->msg = 0;
	s->status = 0;
	s->sub = 0;
	s->pos = 0;
	s->hstate = HL_START;
	s->version_minor = 0;
	s->state = S_START;
}

static void request_begin(struct feed *f)
{
	struct http_conn *c = f->c;
	side_begin_message(&c->rq);
	c->start_ns = f->now;
	c->path_total = 0;
	c->query_len = 0;
	c->tp_pos = 0;
	c->tp_flags = 0;
	c->method_len = 0;
	c->path_len = 0;
	c->target = T_FIRST;
}

static enum http_method method_of(const char *m, size_t len)
{
	static const char *const names[] = {
		[HTTP_METHOD_GET] = "GET", [HTTP_METHOD_HEAD] = "HEAD", [HTTP_METHOD_POST] = "POST",
		[HTTP_METHOD_PUT] = "PUT", [HTTP_METHOD_DELETE] = "DELETE", [HTTP_METHOD_CONNECT] = "CONNECT",
		[HTTP_METHOD_OPTIONS] = "OPTIONS", [HTTP_METHOD_TRACE] = "TRACE", [HTTP_METHOD_PATCH] = "PATCH",
	};
	for (size_t i = 1; i < sizeof names / sizeof names[0]; i++) {
		const char *n = names[i];
		size_t k = 0;
		while (k < len && n[k] != '\0' && n[k] == m[k])
			k++;
		if (k == len && n[k] == '\0')
			return (enum http_method)i;
	}
	return HTTP_METHOD_OTHER;
}

/* Whether the message on s lets the connection persist (RFC 9112 9.3). */
static bool side_keep_alive(const struct http_side *s)
{
	if (s->msg & MSG_CLOSE)
		return false;
	return s->version_minor >= 1 || (s->msg & MSG_KEEP_ALIVE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The request has been read in full: tell both the caller and the response side. */
static void request_complete(struct feed *f)
{
	struct http_conn *c = f->c;
	struct http_side *s = f->s;
	uint32_t seq = atomic_load_explicit(&c->fifo_head, memory_order_relaxed) - 1;
	uint32_t slot = seq % HTTP_PIPELINE_MAX;
	atomic_store_explicit(&c->fifo_body[slot], s->body_bytes | REQ_DONE, memory_order_release);
	struct http_event ev = { .kind = HTTP_EVENT_REQUEST_COMPLETE, .seq = seq };
	ev.request_complete.body_bytes = s->body_bytes;
	emit(f, &ev);
	/* After a WebSocket upgrade request the next bytes may be frames:
	 * S_AWAIT decides from their shape. */
	s->state = (c->fifo_flags[slot] & FF_WEBSOCKET) ? S_AWAIT : S_IDLE;
	s->line_len = 0;
}

/* The response side has written the answer to the oldest pending request. */
static void response_complete(struct feed *f, bool until_close, bool websocket)
{
	struct http_conn *c = f->c;
	struct http_side *s = &c->rs;
	uint32_t seq = atomic_load_explicit(&c->fifo_tail, memory_order_relaxed);
	uint32_t slot = seq % HTTP_PIPELINE_MAX;
	uint64_t req = atomic_load_explicit(&c->fifo_body[slot], memory_order_acquire);
	struct http_event ev = { .kind = HTTP_EVENT_RESPONSE_COMPLETE, .seq = seq };
	ev.response.status = s->status;
	ev.response.method = (enum http_method)c->fifo_method[slot];
	ev.response.body_bytes = s->body_bytes;
	ev.response.request_complete = (req & REQ_DONE) != 0;
	ev.response.request_body_bytes = req & ~REQ_DONE;
	ev.response.keep_alive = !until_close && side_keep_alive(s) && (c->fifo_flags[slot] & FF_KEEP_ALIVE);
	ev.response.until_close = until_close;
	ev.response.websocket = websocket;
	emit(f, &ev);
	/* Popped only after the handler returned, so that the request side
	 * cannot start the request that reuses this slot while the caller
	 * still reads its data (see the pairing contract). */
	atomic_store_explicit(&c->fifo_tail, seq + 1, memory_order_release);
	s->state = websocket ? S_WS : S_IDLE;
	s->sub = WS_H0;
}

/* The last byte of a message's body (or of its header, when it has none). */
static void message_complete(struct feed *f)
{
	if (f->dir == HTTP_DIR_REQUEST)
		request_complete(f);
	else
		response_complete(f, false, false);
}

/* The blank line after a request's header section. */
static void request_head_done(struct feed *f)
{
	struct http_conn *c = f->c;
	struct http_side *s = f->s;
	bool chunked = false;
	int64_t content_length = -1;
	if (s->msg & MSG_TE) {
		/* RFC 9112 6.3: a request must end its codings with chunked, or
		 * its length cannot be known. */
		if (!(s->msg & MSG_TE_CHUNKED)) {
			give_up(f, HTTP_GIVEUP_TRANSFER_ENCODING);
			return;
		}
		chunked = true;
	} else if (s->msg & MSG_HAS_CL) {
		content_length = (int64_t)s->cl_value;
	}
	uint32_t head = atomic_load_explicit(&c->fifo_head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&c->fifo_tail, memory_order_acquire);
	if (head - tail >= HTTP_PIPELINE_MAX) {
		give_up(f, HTTP_GIVEUP_PIPELINE_FULL);
		return;
	}
	uint32_t slot = head % HTTP_PIPELINE_MAX;
	enum http_method method = method_of(c->method, c->method_len);
	bool keep_alive = side_keep_alive(s);
	bool websocket = (s->msg & MSG_UPGRADE_WS) && (s->msg & MSG_CONN_UPGRADE);
	bool tp_ok = c->tp_flags == TP_SEEN;

	struct http_event ev = { .kind = HTTP_EVENT_REQUEST_START, .seq = head };
	ev.request.start_ns = c->start_ns;
	ev.request.method = method;
	ev.request.method_text = c->method;
	ev.request.path = c->path;
	ev.request.path_len = c->path_len;
	ev.request.path_total_len = c->path_total;
	ev.request.path_truncated = c->path_total > c->path_len;
	ev.request.has_query = (s->msg & MSG_QUERY) != 0;
	ev.request.query_len = c->query_len;
	ev.request.version_minor = s->version_minor;
	ev.request.keep_alive = keep_alive;
	ev.request.websocket_upgrade = websocket;
	ev.request.chunked = chunked;
	ev.request.content_length = content_length;
	ev.request.traceparent = tp_ok ? &c->tp : NULL;
	emit(f, &ev);

	/* Published after the handler returned: whatever it stored for this
	 * seq is visible to the response side once it sees the entry. */
	c->fifo_method[slot] = (uint8_t)method;
	c->fifo_flags[slot] = (uint8_t)((websocket ? FF_WEBSOCKET : 0) | (keep_alive ? FF_KEEP_ALIVE : 0));
	atomic_store_explicit(&c->fifo_body[slot], 0, memory_order_relaxed);
	atomic_store_explicit(&c->fifo_head, head + 1, memory_order_release);

	if (chunked) {
		s->state = S_CHUNK_SIZE;
		s->remaining = 0;
		s->pos = 0;
		s->line_len = 0;
	} else if (content_length > 0) {
		s->state = S_BODY;
		s->remaining = (uint64_t)content_length;
	} else {
		request_complete(f);
	}
}

/* The blank line after a response's header section (RFC 9112 6.3). */
static void response_head_done(struct feed *f)
{
	struct http_conn *c = f->c;
	struct http_side *s = f->s;
	uint32_t tail = atomic_load_explicit(&c->fifo_tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&c->fifo_head, memory_order_acquire);
	if (tail == head) {
		give_up(f, HTTP_GIVEUP_NO_REQUEST);
		return;
	}
	uint32_t slot = tail % HTTP_PIPELINE_MAX;
	enum http_method method = (enum http_method)c->fifo_method[slot];
	uint16_t status = s->status;
	if (status < 200) {
		if (status != 101) {
			/* Interim (100 Continue, 103 Early Hints): the final
			 * response to the same request follows. */
			s->state = S_IDLE;
			return;
		}
		if (c->fifo_flags[slot] & FF_WEBSOCKET) {
			response_complete(f, false, true);
		} else {
			response_complete(f, false, false);
			give_up(f, HTTP_GIVEUP_UPGRADE);
		}
		return;
	}
	if (method == HTTP_METHOD_HEAD || status == 204 || status == 304) {
		response_complete(f, false, false);
	} else if (method == HTTP_METHOD_CONNECT && status < 300) {
		response_complete(f, false, false);
		give_up(f, HTTP_GIVEUP_TUNNEL);
	} else if (s->msg & MSG_TE) {
		if (s->msg & MSG_TE_CHUNKED) {
			s->state = S_CHUNK_SIZE;
			s->remaining = 0;
			s->pos = 0;
			s->line_len = 0;
		} else {
			s->state = S_UNTIL_CLOSE;
		}
	} else if (s->msg & MSG_HAS_CL) {
		if (s->cl_value == 0) {
			response_complete(f, false, false);
		} else {
			s->state = S_BODY;
			s->remaining = s->cl_value;
		}
	} else {
		s->state = S_UNTIL_CLOSE;
	}
}

/* ---- header fields ---- */

/* The Content-Length element just ended (at ',' or the line end). */
static bool content_length_element(struct http_side *s)
{
	if (s->el == EL_LEAD)
		return true; /* empty list element: ignored (RFC 9110 5.6.1) */
	/* "Content-Length: 5, 5" and repeated fields are one length when they agree. */
	if ((s->msg & MSG_HAS_CL) && s->cl_value != s->cl_cur)
		return false;
	s->cl_value = s->cl_cur;
	s->msg |= MSG_HAS_CL | MSG_CL_ELEMENT;
	s->cl_cur = 0;
	s->el = EL_LEAD;
	return true;
}

/* A list element of Transfer-Encoding, Connection or Upgrade just ended. */
static void token_element(struct http_side *s)
{
	if (s->el == EL_LEAD)
		return; /* empty element */
	int matched = -1;
	if (s->el != EL_JUNK)
		for (int t = 0; t < 3; t++)
			if ((s->tok_cands & (1u << t)) && field_token_len[s->field][t] == s->tok_pos)
				matched = t;
	switch (s->field) {
	case F_TRANSFER_ENCODING:
		/* Only the last coding decides the framing. */
		s->msg |= MSG_TE;
		if (matched == TOK_CHUNKED)
			s->msg |= MSG_TE_CHUNKED;
		else
			s->msg &= (uint16_t)~MSG_TE_CHUNKED;
		break;
	case F_CONNECTION:
		if (matched == TOK_CLOSE)
			s->msg |= MSG_CLOSE;
		else if (matched == TOK_KEEP_ALIVE)
			s->msg |= MSG_KEEP_ALIVE;
		else if (matched == TOK_UPGRADE)
			s->msg |= MSG_CONN_UPGRADE;
		break;
	case F_UPGRADE:
		if (matched == TOK_WEBSOCKET)
			s->msg |= MSG_UPGRADE_WS;
		break;
	}
	s->el = EL_LEAD;
	s->tok_pos = 0;
	s->tok_cands = field_token_mask[s->field];
}

/*
 * One byte of a traceparent value (W3C Trace Context, version 00):
 * "00-" 32 hex "-" 16 hex "-" 2 hex, lower case, decoded straight into
 * c->tp. Anything else marks it bad; it is then just not used.
 */
static void traceparent_byte(struct http_conn *c, struct http_side *s, uint8_t ch)
{
	if (c->tp_flags & TP_BAD)
		return;
	if (ch == ' ' || ch == '\t') {
		if (s->el == EL_TOKEN)
			s->el = EL_TAIL; /* OWS after the value */
		return;
	}
	if (s->el == EL_TAIL || c->tp_pos >= TP_LEN) {
		c->tp_flags |= TP_BAD;
		return;
	}
	s->el = EL_TOKEN;
	unsigned p = c->tp_pos++;
	if (p == 2 || p == 35 || p == 52) {
		if (ch != '-')
			c->tp_flags |= TP_BAD;
		return;
	}
	int v = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
	if (v < 0 || (p < 2 && v != 0)) {
		c->tp_flags |= TP_BAD;
		return;
	}
	uint8_t *byte;
	if (p < 2)
		return;
	else if (p < 35)
		byte = &c->tp.trace_id[(p - 3) / 2];
	else if (p < 52)
		byte = &c->tp.parent_id[(p - 36) / 2];
	else
		byte = &c->tp.flags;
	*byte = (uint8_t)((*byte << 4) | v);
}

/* The ':' after a field name: which field, and prepare its value. */
static void value_begin(struct http_conn *c, struct http_side *s)
{
	s->field = F_NONE;
	for (int f = 1; f < F_COUNT; f++)
		if ((s->name_cands & FIELD_BIT(f)) && field_name_len[f] == s->name_pos)
			s->field = (uint8_t)f;
	s->el = EL_LEAD;
	s->tok_pos = 0;
	s->tok_cands = field_token_mask[s->field];
	s->msg &= (uint16_t)~MSG_CL_ELEMENT;
	s->cl_cur = 0;
	if (s->field == F_TRACEPARENT) {
		/* A second traceparent makes the context ambiguous: none is used. */
		c->tp_flags |= (c->tp_flags & TP_SEEN) ? TP_BAD : TP_SEEN;
		c->tp_pos = 0;
		for (size_t i = 0; i < sizeof c->tp.trace_id; i++)
			c->tp.trace_id[i] = 0;
		for (size_t i = 0; i < sizeof c->tp.parent_id; i++)
			c->tp.parent_id[i] = 0;
		c->tp.flags = 0;
	}
}

/* One byte of a field value (not CR or LF). Returns false for a fatal value. */
static bool value_byte(struct http_conn *c, struct http_side *s, uint8_t ch)
{
	switch (s->field) {
	case F_CONTENT_LENGTH:
		if (ch >= '0' && ch <= '9') {
			if (s->el == EL_TAIL)
				return false; /* "1 2" */
			s->el = EL_TOKEN;
			if (s->cl_cur >= LENGTH_LIMIT / 10)
				return false; /* checked before multiplying: no overflow */
			s->cl_cur = s->cl_cur * 10 + (uint64_t)(ch - '0');
			return s->cl_cur < LENGTH_LIMIT;
		}
		if (ch == ' ' || ch == '\t') {
			if (s->el == EL_TOKEN)
				s->el = EL_TAIL;
			return true;
		}
		if (ch == ',')
			return content_length_element(s);
		return false;
	case F_TRANSFER_ENCODING:
	case F_CONNECTION:
	case F_UPGRADE:
		if (ch == ',') {
			token_element(s);
		} else if (ch == ' ' || ch == '\t') {
			if (s->el == EL_TOKEN || s->el == EL_SUFFIX)
				s->el = EL_TAIL;
		} else if (s->el == EL_LEAD || s->el == EL_TOKEN) {
			if (is_tchar(ch)) {
				s->el = EL_TOKEN;
				uint8_t lc = to_lower(ch);
				for (int t = 0; t < 3; t++)
					if ((s->tok_cands & (1u << t)) &&
					    (s->tok_pos >= field_token_len[s->field][t] ||
					     (uint8_t)field_tokens[s->field][t][s->tok_pos] != lc))
						s->tok_cands &= (uint8_t)~(1u << t);
				if (s->tok_pos < 255)
					s->tok_pos++;
			} else if (ch == '/' && s->field == F_UPGRADE && s->el == EL_TOKEN) {
				s->el = EL_SUFFIX; /* "websocket/13": the version does not matter */
			} else {
				s->el = EL_JUNK; /* parameters, quotes: not one of our tokens */
			}
		} else if (s->el == EL_SUFFIX) {
			if (!is_tchar(ch))
				s->el = EL_JUNK;
		} else if (s->el == EL_TAIL) {
			s->el = EL_JUNK; /* "chunked x" */
		}
		return true;
	case F_TRACEPARENT:
		traceparent_byte(c, s, ch);
		return true;
	default:
		return true;
	}
}

/* The end of a field's line. Returns false for a fatal value. */
static bool value_end(struct http_conn *c, struct http_side *s)
{
	switch (s->field) {
	case F_CONTENT_LENGTH:
		if (!content_length_element(s))
			return false;
		return (s->msg & MSG_CL_ELEMENT) != 0; /* "Content-Length:" alone */
	case F_TRANSFER_ENCODING:
	case F_CONNECTION:
	case F_UPGRADE:
		token_element(s);
		return true;
	case F_TRACEPARENT:
		if (c->tp_pos != TP_LEN || all_zero(c->tp.trace_id, sizeof c->tp.trace_id) ||
		    all_zero(c->tp.parent_id, sizeof c->tp.parent_id))
			c->tp_flags |= TP_BAD;
		return true;
	default:
		return true;
	}
}

/* Counts a byte of the start line or header section against the limits. */
static bool head_limits(struct feed *f)
{
	struct http_side *s = f->s;
	if (++s->line_len > HTTP_LINE_MAX) {
		give_up(f, HTTP_GIVEUP_LINE_TOO_LONG);
		return false;
	}
	if (++s->head_len > HTTP_HEAD_MAX) {
		give_up(f, HTTP_GIVEUP_HEAD_TOO_LONG);
		return false;
	}
	return true;
}

/*
 * One byte of a header or trailer section (RFC 9112 5). Returns true
 * when it was the section's last (the LF of the blank line). Fields of a
 * trailer section are checked, not interpreted.
 */
static bool head_byte(struct feed *f, uint8_t ch, bool trailer)
{
	struct http_conn *c = f->c;
	struct http_side *s = f->s;
	if (!head_limits(f))
		return false;
	switch (s->hstate) {
	case HL_START:
		if (ch == '\r') {
			s->hstate = HL_END_CR;
			return false;
		}
		if (ch == '\n')
			return true;
		/* A leading SP or HTAB is obs-fold, which RFC 9112 5.2 lets a
		 * recipient reject; anything else is not a field name. */
		if (!is_tchar(ch))
			break;
		if (++s->fields > HTTP_FIELDS_MAX) {
			give_up(f, HTTP_GIVEUP_TOO_MANY_FIELDS);
			return false;
		}
		s->name_pos = 0;
		s->name_cands = trailer ? 0 : (f->dir == HTTP_DIR_REQUEST ? REQUEST_FIELDS : RESPONSE_FIELDS);
		s->hstate = HL_NAME;
		/* the byte is the name's first */
		__attribute__((fallthrough));
	case HL_NAME:
		if (ch == ':') {
			value_begin(c, s);
			s->hstate = HL_VALUE;
			return false;
		}
		if (!is_tchar(ch))
			break; /* includes whitespace before the colon (RFC 9112 5.1) */
		{
			uint8_t lc = to_lower(ch);
			for (int i = 1; i < F_COUNT; i++)
				if ((s->name_cands & FIELD_BIT(i)) &&
				    (s->name_pos >= field_name_len[i] || (uint8_t)field_names[i][s->name_pos] != lc))
					s->name_cands &= (uint8_t)~FIELD_BIT(i);
			if (s->name_pos < 255)
				s->name_pos++;
		}
		return false;
	case HL_VALUE:
		if (ch == '\r') {
			s->hstate = HL_CR;
			return false;
		}
		if (ch == '\n')
			goto line_end;
		if (!is_field_byte(ch))
			break;
		if (!value_byte(c, s, ch)) {
			give_up(f, HTTP_GIVEUP_CONTENT_LENGTH);
			return false;
		}
		return false;
	case HL_CR:
		if (ch != '\n')
			break; /* a bare CR */
		goto line_end;
	case HL_END_CR:
		if (ch != '\n')
			break;
		return true;
	}
	give_up(f, HTTP_GIVEUP_HEADER);
	return false;

line_end:
	if (!value_end(c, s)) {
		give_up(f, HTTP_GIVEUP_CONTENT_LENGTH);
		return false;
	}
	s->hstate = HL_START;
	s->line_len = 0;
	return false;
}

/* ---- start lines ---- */

/*
 * One byte of "HTTP/1.x" at s->pos (0..7). Returns false (and gives up)
 * when the byte does not fit.
 */
static bool version_byte(struct feed *f, uint8_t ch)
{
	static const char prefix[] = "HTTP/1.";
	struct http_side *s = f->s;
	if (s->pos < 7) {
		if ((uint8_t)prefix[s->pos] == ch) {
			s->pos++;
			return true;
		}
		/* "HTTP/2.0" is a version we do not speak; "XTTP" is no HTTP at all. */
		give_up(f, s->pos >= 5 ? HTTP_GIVEUP_VERSION : HTTP_GIVEUP_START_LINE);
		return false;
	}
	if (ch >= '0' && ch <= '9') {
		s->version_minor = (uint8_t)(ch - '0');
		s->pos++;
		return true;
	}
	give_up(f, HTTP_GIVEUP_VERSION);
	return false;
}

static void path_byte(struct http_conn *c, uint8_t ch)
{
	if (c->path_len < HTTP_PATH_MAX)
		c->path[c->path_len++] = (char)ch;
	c->path_total++;
}

/* One byte of the request-target (not SP): copies the path, counts the query. */
static void target_byte(struct feed *f, uint8_t ch)
{
	struct http_conn *c = f->c;
	switch (c->target) {
	case T_FIRST:
		if (ch == '/') {
			path_byte(c, ch);
			c->target = T_PATH;
		} else if (ch == '*') {
			path_byte(c, ch);
			c->target = T_ASTERISK;
		} else {
			c->target = T_SCHEME;
		}
		break;
	case T_PATH:
		if (ch == '?') {
			c->rq.msg |= MSG_QUERY;
			c->target = T_QUERY;
		} else {
			path_byte(c, ch);
		}
		break;
	case T_QUERY:
		c->query_len++;
		break;
	case T_ASTERISK:
		give_up(f, HTTP_GIVEUP_START_LINE);
		break;
	case T_SCHEME:
		if (ch == ':')
			c->target = T_SLASH1;
		else if (ch == '/' || ch == '?')
			c->target = T_SKIP;
		break;
	case T_SLASH1:
		c->target = ch == '/' ? T_SLASH2 : T_SKIP; /* "host:443" (CONNECT) */
		break;
	case T_SLASH2:
		c->target = ch == '/' ? T_AUTHORITY : T_SKIP;
		break;
	case T_AUTHORITY:
		/* absolute-form: the path starts after scheme://authority */
		if (ch == '/') {
			path_byte(c, ch);
			c->target = T_PATH;
		} else if (ch == '?') {
			c->rq.msg |= MSG_QUERY;
			c->target = T_QUERY;
		}
		break;
	default:
		break;
	}
}

/* One byte of the request line: method SP request-target SP HTTP-version CRLF. */
static void request_line_byte(struct feed *f, uint8_t ch)
{
	struct http_conn *c = f->c;
	struct http_side *s = f->s;
	if (!head_limits(f))
		return;
	switch (s->sub) {
	case RL_METHOD:
		if (is_tchar(ch)) {
			if (c->method_len >= HTTP_METHOD_MAX - 1) {
				give_up(f, HTTP_GIVEUP_METHOD_TOO_LONG);
				return;
			}
			c->method[c->method_len++] = (char)ch;
			return;
		}
		if (ch == ' ' && c->method_len > 0) {
			c->method[c->method_len] = '\0';
			s->sub = RL_TARGET;
			return;
		}
		break;
	case RL_TARGET:
		if (ch == ' ') {
			if (c->target == T_FIRST)
				break; /* empty target */
			s->sub = RL_VERSION;
			s->pos = 0;
			return;
		}
		if (ch < 0x21 || ch == 0x7f)
			break; /* control bytes; CR or LF here would be HTTP/0.9 */
		target_byte(f, ch);
		return;
	case RL_VERSION:
		if (s->pos < 8) {
			version_byte(f, ch);
			return;
		}
		if (ch == '\r') {
			s->sub = RL_CR;
			return;
		}
		if (ch == '\n')
			goto line_end;
		break;
	case RL_CR:
		if (ch == '\n')
			goto line_end;
		break;
	}
	give_up(f, HTTP_GIVEUP_START_LINE);
	return;

line_end:
	s->state = S_HEAD;
	s->hstate = HL_START;
	s->line_len = 0;
}

/* One byte of the status line: HTTP-version SP 3DIGIT [SP reason] CRLF. */
static void status_line_byte(struct feed *f, uint8_t ch)
{
	struct http_side *s = f->s;
	if (!head_limits(f))
		return;
	switch (s->sub) {
	case SL_VERSION:
		if (s->pos < 8) {
			version_byte(f, ch);
			return;
		}
		if (ch == ' ') {
			s->sub = SL_CODE;
			s->pos = 0;
			return;
		}
		break;
	case SL_CODE:
		if (s->pos < 3) {
			if (ch < '0' || ch > '9')
				break;
			s->status = (uint16_t)(s->status * 10 + (ch - '0'));
			s->pos++;
			return;
		}
		if (s->status < 100 || s->status > 599) {
			give_up(f, HTTP_GIVEUP_STATUS);
			return;
		}
		/* The reason phrase may be missing altogether: be lenient. */
		if (ch == ' ') {
			s->sub = SL_REASON;
			return;
		}
		if (ch == '\r') {
			s->sub = SL_CR;
			return;
		}
		if (ch == '\n')
			goto line_end;
		break;
	case SL_REASON:
		if (ch == '\r') {
			s->sub = SL_CR;
			return;
		}
		if (ch == '\n')
			goto line_end;
		if (is_field_byte(ch))
			return;
		break;
	case SL_CR:
		if (ch == '\n')
			goto line_end;
		break;
	}
	give_up(f, HTTP_GIVEUP_START_LINE);
	return;

line_end:
	s->state = S_HEAD;
	s->hstate = HL_START;
	s->line_len = 0;
}

/* ---- chunked bodies (RFC 9112 7.1) ---- */

/* One byte of a chunk-size line, or the CRLF after chunk data. */
static void chunk_byte(struct feed *f, uint8_t ch)
{
	struct http_side *s = f->s;
	switch (s->state) {
	case S_CHUNK_SIZE:
	case S_CHUNK_EXT:
		if (++s->line_len > HTTP_LINE_MAX) {
			give_up(f, HTTP_GIVEUP_LINE_TOO_LONG);
			return;
		}
		if (s->state == S_CHUNK_SIZE) {
			int v = hex_value(ch);
			if (v >= 0) {
				if (s->remaining >= LENGTH_LIMIT >> 4) {
					give_up(f, HTTP_GIVEUP_CHUNK);
					return;
				}
				s->remaining = (s->remaining << 4) | (uint64_t)v;
				s->pos = 1; /* at least one digit */
				return;
			}
			if (s->pos == 0)
				break;
			/* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) */
			if (ch == ';' || ch == ' ' || ch == '\t') {
				s->state = S_CHUNK_EXT;
				return;
			}
		} else if (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) {
			return; /* extensions are skipped, quoted strings included */
		}
		if (ch == '\r') {
			s->state = S_CHUNK_SIZE_LF;
			return;
		}
		if (ch == '\n')
			goto size_line_end;
		break;
	case S_CHUNK_SIZE_LF:
		if (ch == '\n')
			goto size_line_end;
		break;
	case S_CHUNK_DATA_CR:
		if (ch == '\r') {
			s->state = S_CHUNK_DATA_LF;
			return;
		}
		if (ch == '\n')
			goto next_chunk;
		break;
	case S_CHUNK_DATA_LF:
		if (ch == '\n')
			goto next_chunk;
		break;
	}
	give_up(f, HTTP_GIVEUP_CHUNK);
	return;

size_line_end:
	s->line_len = 0;
	if (s->remaining == 0) {
		/* last-chunk: the trailer section, ended by a blank line */
		s->state = S_TRAILER;
		s->hstate = HL_START;
		s->fields = 0;
		s->head_len = 0;
	} else {
		s->state = S_CHUNK_DATA;
	}
	return;

next_chunk:
	s->state = S_CHUNK_SIZE;
	s->remaining = 0;
	s->pos = 0;
	s->line_len = 0;
}

/* ---- WebSocket frames (RFC 6455 5.2) ---- */

static void ws_frame_done(struct feed *f)
{
	struct http_side *s = f->s;
	uint8_t opcode = s->ws_b0 & 0x0f;
	s->ws_frames++;
	if (opcode == 8)
		s->ws_close = true;
	struct http_event ev = { .kind = HTTP_EVENT_WS_FRAME };
	ev.ws.opcode = opcode;
	ev.ws.fin = (s->ws_b0 & 0x80) != 0;
	ev.ws.rsv = (uint8_t)((s->ws_b0 >> 4) & 7);
	ev.ws.masked = s->pos != 0;
	ev.ws.payload_len = s->ws_len;
	emit(f, &ev);
	s->sub = WS_H0;
}

/* The frame's length and mask key (if any) have been read: the payload. */
static void ws_payload_begin(struct feed *f)
{
	struct http_side *s = f->s;
	s->remaining = s->ws_len;
	s->sub = WS_PAYLOAD;
	if (s->ws_len == 0)
		ws_frame_done(f);
}

/* The frame's length is known: the mask key, if any, then the payload. */
static void ws_length_done(struct feed *f)
{
	struct http_side *s = f->s;
	if (s->pos != 0) {
		s->ws_need = 4;
		s->sub = WS_MASK;
	} else {
		ws_payload_begin(f);
	}
}

/* One byte of a frame header (sub is not WS_PAYLOAD). */
static void ws_byte(struct feed *f, uint8_t ch)
{
	struct http_side *s = f->s;
	switch (s->sub) {
	case WS_H0: {
		uint8_t opcode = ch & 0x0f;
		if ((opcode > 2 && opcode < 8) || opcode > 10)
			break; /* reserved opcodes */
		s->ws_b0 = ch;
		s->sub = WS_H1;
		return;
	}
	case WS_H1: {
		uint8_t len7 = ch & 0x7f;
		/* Control frames are never fragmented and carry at most 125 bytes. */
		if ((s->ws_b0 & 0x08) && (len7 > 125 || !(s->ws_b0 & 0x80)))
			break;
		s->ws_len = 0;
		s->pos = (ch & 0x80) ? 1 : 0; /* the mask bit, kept for the whole frame */
		if (len7 == 126 || len7 == 127) {
			s->ws_need = len7 == 126 ? 2 : 8;
			s->sub = WS_LEN;
			return;
		}
		s->ws_len = len7;
		ws_length_done(f);
		return;
	}
	case WS_LEN:
		if (s->ws_need == 8 && (ch & 0x80))
			break; /* RFC 6455: the most significant bit must be 0 */
		s->ws_len = (s->ws_len << 8) | ch;
		if (--s->ws_need == 0)
			ws_length_done(f);
		return;
	case WS_MASK:
		/* The key is not kept: payloads are skipped, never unmasked. */
		if (--s->ws_need == 0)
			ws_payload_begin(f);
		return;
	}
	give_up(f, HTTP_GIVEUP_WS_FRAME);
}

/* ---- the byte loop ---- */

static void request_byte(struct feed *f, uint8_t ch);

/*
 * After a WebSocket upgrade request the client sends frames once it has
 * the 101, or another request if the server declined; the response that
 * says which may be fed later, from another thread. The bytes tell: a
 * request starts with a method (tchar bytes, then tchar or SP), a frame
 * from a client starts with a byte that is no tchar (FIN set) or, when it
 * is one (a first fragment with RSV1), a second byte with the mask bit.
 */
static void await_byte(struct feed *f, uint8_t ch)
{
	struct http_conn *c = f->c;
	struct http_side *s = f->s;
	if (s->state == S_AWAIT) {
		if (ch == '\r' || ch == '\n') {
			s->state = S_IDLE;
			request_byte(f, ch);
		} else if (is_tchar(ch)) {
			c->held_byte = ch;
			c->held_ns = f->now;
			s->state = S_AWAIT_HELD;
		} else {
			s->state = S_WS;
			s->sub = WS_H0;
			ws_byte(f, ch);
		}
		return;
	}
	if (ch & 0x80) {
		s->state = S_WS;
		s->sub = WS_H0;
		ws_byte(f, c->held_byte);
		if (s->state == S_WS)
			ws_byte(f, ch);
	} else {
		s->state = S_IDLE;
		request_byte(f, c->held_byte);
		c->start_ns = c->held_ns; /* the request began with the held byte */
		if (s->state != S_DEAD)
			request_byte(f, ch);
	}
}

/* One byte on the request side, in any byte-wise state. */
static void request_byte(struct feed *f, uint8_t ch)
{
	struct http_side *s = f->s;
	switch (s->state) {
	case S_IDLE:
		/* RFC 9112 2.2: empty lines before a request line are ignored. */
		if (ch == '\r' || ch == '\n') {
			if (++s->line_len > HTTP_LINE_MAX)
				give_up(f, HTTP_GIVEUP_LINE_TOO_LONG);
			return;
		}
		request_begin(f);
		__attribute__((fallthrough));
	case S_START:
		request_line_byte(f, ch);
		return;
	case S_HEAD:
		if (head_byte(f, ch, false))
			request_head_done(f);
		return;
	case S_TRAILER:
		if (head_byte(f, ch, true))
			request_complete(f);
		return;
	case S_AWAIT:
	case S_AWAIT_HELD:
		await_byte(f, ch);
		return;
	case S_WS:
		ws_byte(f, ch);
		return;
	default:
		chunk_byte(f, ch);
		return;
	}
}

/* One byte on the response side, in any byte-wise state. */
static void response_byte(struct feed *f, uint8_t ch)
{
	struct http_side *s = f->s;
	switch (s->state) {
	case S_IDLE:
		side_begin_message(s);
		__attribute__((fallthrough));
	case S_START:
		status_line_byte(f, ch);
		return;
	case S_HEAD:
		if (head_byte(f, ch, false))
			response_head_done(f);
		return;
	case S_TRAILER:
		if (head_byte(f, ch, true))
			response_complete(f, false, false);
		return;
	case S_WS:
		ws_byte(f, ch);
		return;
	default:
		chunk_byte(f, ch);
		return;
	}
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

bool http_conn_feed(struct http_conn *c, enum http_dir dir, const void *buf, size_t len, uint64_t now_ns,
                    http_event_fn fn, void *ctx)
{
	if (atomic_load_explicit(&c->dead, memory_order_relaxed) != 0)
		return false;
	struct feed f = {
		.c = c, .s = dir == HTTP_DIR_REQUEST ? &c->rq : &c->rs, .dir = dir,
		.now = now_ns, .fn = fn, .ctx = ctx,
	};
	struct http_side *s = f.s;
	const uint8_t *p = buf;
	size_t i = 0;
	while (i < len) {
		/* The other side may have given up meanwhile: then stop too. */
		if (s->state == S_DEAD || atomic_load_explicit(&c->dead, memory_order_relaxed) != 0)
			break;
		uint64_t run;
		switch (s->state) {
		case S_BODY:
		case S_CHUNK_DATA:
			/* Counted, not looked at: a whole run per step. */
			run = min_u64(s->remaining, len - i);
			s->remaining -= run;
			s->body_bytes += run;
			i += run;
			s->offset += run;
			if (s->remaining == 0) {
				if (s->state == S_CHUNK_DATA)
					s->state = S_CHUNK_DATA_CR;
				else
					message_complete(&f);
			}
			continue;
		case S_UNTIL_CLOSE:
			run = len - i;
			s->body_bytes += run;
			s->offset += run;
			i = len;
			continue;
		case S_WS:
			if (s->sub == WS_PAYLOAD) {
				run = min_u64(s->remaining, len - i);
				s->remaining -= run;
				s->ws_payload_bytes += run;
				i += run;
				s->offset += run;
				if (s->remaining == 0)
					ws_frame_done(&f);
				continue;
			}
			break;
		default:
			break;
		}
		if (dir == HTTP_DIR_REQUEST)
			request_byte(&f, p[i]);
		else
			response_byte(&f, p[i]);
		i++;
		s->offset++;
	}
	return atomic_load_explicit(&c->dead, memory_order_relaxed) == 0;
}

/* ---- lifetime ---- */

void http_conn_init(struct http_conn *c)
{
	memset(c, 0, sizeof *c);
	c->rq.state = S_IDLE;
	c->rs.state = S_IDLE;
	atomic_init(&c->fifo_head, 0);
	atomic_init(&c->fifo_tail, 0);
	for (size_t i = 0; i < HTTP_PIPELINE_MAX; i++)
		atomic_init(&c->fifo_body[i], 0);
	atomic_init(&c->dead, 0);
}

void http_conn_reset(struct http_conn *c)
{
	http_conn_init(c);
}

void http_conn_close(struct http_conn *c, uint64_t now_ns, http_event_fn fn, void *ctx)
{
	if (atomic_load_explicit(&c->dead, memory_order_relaxed) == 2)
		return;
	struct feed f = { .c = c, .s = &c->rs, .dir = HTTP_DIR_RESPONSE, .now = now_ns, .fn = fn, .ctx = ctx };
	if (atomic_load_explicit(&c->dead, memory_order_relaxed) == 0 && c->rs.state == S_UNTIL_CLOSE)
		response_complete(&f, true, false);
	/* Reported even after a give-up: the caller may hold data for them. */
	uint32_t head = atomic_load_explicit(&c->fifo_head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&c->fifo_tail, memory_order_relaxed);
	for (uint32_t seq = tail; seq != head; seq++) {
		uint64_t req = atomic_load_explicit(&c->fifo_body[seq % HTTP_PIPELINE_MAX], memory_order_acquire);
		struct http_event ev = { .kind = HTTP_EVENT_REQUEST_ABANDONED, .dir = HTTP_DIR_RESPONSE,
					 .seq = seq, .now_ns = now_ns };
		ev.abandoned.request_complete = (req & REQ_DONE) != 0;
		ev.abandoned.request_body_bytes = req & ~REQ_DONE;
		if (fn != NULL)
			fn(ctx, &ev);
	}
	atomic_store_explicit(&c->fifo_tail, head, memory_order_relaxed);
	c->rq.state = S_DEAD;
	c->rs.state = S_DEAD;
	atomic_store_explicit(&c->dead, 2, memory_order_relaxed);
}

bool http_conn_alive(const struct http_conn *c)
{
	return atomic_load_explicit(&c->dead, memory_order_relaxed) == 0;
}

bool http_conn_is_websocket(const struct http_conn *c)
{
	return c->rs.state == S_WS;
}

struct http_ws_counts http_conn_ws_counts(const struct http_conn *c, enum http_dir dir)
{
	const struct http_side *s = dir == HTTP_DIR_REQUEST ? &c->rq : &c->rs;
	return (struct http_ws_counts){
		.frames = s->ws_frames, .payload_bytes = s->ws_payload_bytes, .close_seen = s->ws_close,
	};
}

const char *http_giveup_text(enum http_giveup reason)
{
	switch (reason) {
	case HTTP_GIVEUP_NONE: return "not given up";
	case HTTP_GIVEUP_START_LINE: return "malformed request or status line";
	case HTTP_GIVEUP_METHOD_TOO_LONG: return "method too long";
	case HTTP_GIVEUP_VERSION: return "not HTTP/1.x";
	case HTTP_GIVEUP_STATUS: return "status code outside 100-599";
	case HTTP_GIVEUP_LINE_TOO_LONG: return "line too long";
	case HTTP_GIVEUP_TOO_MANY_FIELDS: return "too many header fields";
	case HTTP_GIVEUP_HEAD_TOO_LONG: return "header section too long";
	case HTTP_GIVEUP_HEADER: return "malformed header line";
	case HTTP_GIVEUP_CONTENT_LENGTH: return "invalid Content-Length";
	case HTTP_GIVEUP_TRANSFER_ENCODING: return "request transfer coding not ending in chunked";
	case HTTP_GIVEUP_CHUNK: return "malformed chunk framing";
	case HTTP_GIVEUP_PIPELINE_FULL: return "too many pipelined requests";
	case HTTP_GIVEUP_NO_REQUEST: return "response without a request";
	case HTTP_GIVEUP_UPGRADE: return "switched to a protocol other than WebSocket";
	case HTTP_GIVEUP_TUNNEL: return "CONNECT tunnel";
	case HTTP_GIVEUP_WS_FRAME: return "malformed WebSocket frame";
	}
	return "unknown reason";
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_METHOD_GET: return "GET";
	case HTTP_METHOD_HEAD: return "HEAD";
	case HTTP_METHOD_POST: return "POST";
	case HTTP_METHOD_PUT: return "PUT";
	case HTTP_METHOD_DELETE: return "DELETE";
	case HTTP_METHOD_CONNECT: return "CONNECT";
	case HTTP_METHOD_OPTIONS: return "OPTIONS";
	case HTTP_METHOD_TRACE: return "TRACE";
	case HTTP_METHOD_PATCH: return "PATCH";
	case HTTP_METHOD_OTHER: break;
	}
	return "_OTHER";
}
