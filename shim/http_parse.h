/* SPDX-License-Identifier: MIT */
/*
 * http_parse.h: an incremental HTTP/1.x parser for one server-side TCP
 * connection, fed with the bytes the server reads (requests) and the bytes
 * it writes (responses), that reports when each request starts, when its
 * body has been read and when its response has been written, so that the
 * socket-layer wrappers can make one span per request. After a 101
 * answer to a WebSocket upgrade, it counts the frames of each direction.
 *
 * Owns: nothing but the struct http_conn the caller hands it. A struct
 * has a fixed size (HTTP_CONN_SIZE_MAX at most) so the caller can keep a
 * table of them indexed by fd. The feed functions make no allocation, no
 * system call, no library call, take no lock, do a bounded amount of work
 * per byte and never read outside the buffer they are given. Input that
 * is not HTTP/1.x (or not the parts of it followed here) puts the
 * connection into a given-up state, reported once, in which every later
 * feed returns at once, until http_conn_reset().
 *
 * Threading: the two directions of one connection may be fed from two
 * threads at once (a Tokio server can read a socket on one worker and
 * write it on another); each direction's own feeds must not overlap. The
 * directions share only the FIFO of requests awaiting their response (a
 * single-producer, single-consumer queue: the request side pushes, the
 * response side pops) and the given-up flag, all atomic. http_conn_init,
 * http_conn_reset and http_conn_close must not run concurrently with any
 * other call on the same connection. Different connections are
 * independent. Events are delivered by calling the caller's function on
 * the feeding thread, before the feed returns.
 *
 * Pairing requests and responses: each request gets a sequence number
 * (seq, from 0 per connection). Responses answer requests in order, and
 * at most HTTP_PIPELINE_MAX requests may await their response; beyond
 * that the connection is given up. So seq % HTTP_PIPELINE_MAX names a slot
 * that no other live request uses, and a caller can keep its per-request
 * data (path, route, start time, trace context) in an array of that many
 * slots per connection:
 *   - HTTP_EVENT_REQUEST_START for seq happens after the handler of the
 *     RESPONSE_COMPLETE or REQUEST_ABANDONED of seq - HTTP_PIPELINE_MAX
 *     has returned, and before any event of the response side for seq
 *     (even on another thread): what the handler writes at REQUEST_START
 *     is visible at RESPONSE_COMPLETE.
 *   - HTTP_EVENT_REQUEST_COMPLETE comes from the request side, and may come
 *     before or after the response's RESPONSE_COMPLETE (a server can
 *     answer before it has read a body). RESPONSE_COMPLETE repeats what it
 *     knows of the request body, so a caller needs no other sharing
 *     between the directions.
 *   - Every REQUEST_START is followed by exactly one RESPONSE_COMPLETE or
 *     REQUEST_ABANDONED for the same seq, provided the caller calls
 *     http_conn_close when the connection ends (that is where abandoned
 *     requests are reported, also after a give-up).
 *
 * Timestamps are opaque to the parser: each feed takes the caller's
 * clock reading, and events carry the reading of the feed that produced
 * them (and, for a request, of the feed that carried its first byte).
 *
 * What is followed: request and status lines (HTTP/1.0 and 1.1), header
 * fields with case-insensitive names (Content-Length, Transfer-Encoding,
 * Connection, Upgrade, traceparent; the others are checked and skipped),
 * bodies by Content-Length, chunked (extensions and trailers skipped) or,
 * for responses, until close; no body for responses to HEAD and for 1xx,
 * 204 and 304; interim 1xx responses; HTTP/1.0's default close. Limits
 * (exceeding one gives up): HTTP_LINE_MAX bytes per line, HTTP_FIELDS_MAX
 * fields and HTTP_HEAD_MAX bytes per header section, methods of at most
 * HTTP_METHOD_MAX - 1 bytes. Given up, as the parser cannot follow what
 * comes next: a 101 to anything but a WebSocket upgrade, a 2xx to
 * CONNECT, a request whose transfer coding does not end in chunked, a
 * response with no request to answer.
 */
#ifndef STDBTEL_HTTP_PARSE_H
#define STDBTEL_HTTP_PARSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_PATH_MAX 128      /* bytes of the request path kept (the rest is counted) */
#define HTTP_METHOD_MAX 16     /* method bytes kept, NUL included; longer gives up */
#define HTTP_PIPELINE_MAX 8    /* requests awaiting a response; a power of two */
#define HTTP_LINE_MAX 8192     /* bytes per start line, header line or chunk-size line */
#define HTTP_FIELDS_MAX 100    /* header (or trailer) fields per section */
#define HTTP_HEAD_MAX 65536    /* bytes of start line plus header section */
#define HTTP_CONN_SIZE_MAX 512 /* sizeof(struct http_conn) is at most this */

/* Which way the bytes go, seen from the server. */
enum http_dir {
	HTTP_DIR_REQUEST = 0,  /* client to server: what the server reads */
	HTTP_DIR_RESPONSE = 1, /* server to client: what the server writes */
};

/* Methods the parser recognises (case-sensitive, as RFC 9110 says). */
enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_TRACE,
	HTTP_METHOD_PATCH,
};

/* Why a connection was given up. */
enum http_giveup {
	HTTP_GIVEUP_NONE = 0,
	HTTP_GIVEUP_START_LINE,        /* request or status line malformed */
	HTTP_GIVEUP_METHOD_TOO_LONG,
	HTTP_GIVEUP_VERSION,           /* not HTTP/1.x */
	HTTP_GIVEUP_STATUS,            /* status code outside 100-599 */
	HTTP_GIVEUP_LINE_TOO_LONG,
	HTTP_GIVEUP_TOO_MANY_FIELDS,
	HTTP_GIVEUP_HEAD_TOO_LONG,
	HTTP_GIVEUP_HEADER,            /* header line malformed (obs-fold, control byte, bad name) */
	HTTP_GIVEUP_CONTENT_LENGTH,    /* not a number, too large, or conflicting values */
	HTTP_GIVEUP_TRANSFER_ENCODING, /* a request whose codings do not end in chunked */
	HTTP_GIVEUP_CHUNK,             /* chunk size line or chunk framing malformed */
	HTTP_GIVEUP_PIPELINE_FULL,     /* more than HTTP_PIPELINE_MAX requests awaiting responses */
	HTTP_GIVEUP_NO_REQUEST,        /* a response with no request to answer */
	HTTP_GIVEUP_UPGRADE,           /* 101 to something other than a WebSocket upgrade */
	HTTP_GIVEUP_TUNNEL,            /* 2xx to CONNECT: the bytes are no longer HTTP */
	HTTP_GIVEUP_WS_FRAME,          /* reserved opcode, bad control frame, length over 2^63 */
};

enum http_event_kind {
	HTTP_EVENT_REQUEST_START,     /* a request's header section has been read */
	HTTP_EVENT_REQUEST_COMPLETE,  /* its body too */
	HTTP_EVENT_RESPONSE_COMPLETE, /* its (final) response has been written in full */
	HTTP_EVENT_REQUEST_ABANDONED, /* at close: a started request whose response never came */
	HTTP_EVENT_WS_FRAME,          /* a WebSocket frame has passed, its payload included */
	HTTP_EVENT_GAVE_UP,           /* once per connection; no events follow from this direction */
};

/* A valid W3C traceparent (version 00), decoded. */
struct http_traceparent {
	uint8_t trace_id[16]; /* never all zero */
	uint8_t parent_id[8]; /* never all zero */
	uint8_t flags;        /* trace-flags; bit 0 is "sampled" */
};

/*
 * One event. Pointers in it point into the struct http_conn and are valid
 * only until the handler returns.
 */
struct http_event {
	enum http_event_kind kind;
	enum http_dir dir;   /* the direction whose feed produced it; HTTP_DIR_RESPONSE from close */
	uint32_t seq;        /* the request's number; not set for WS_FRAME and GAVE_UP */
	uint64_t now_ns;     /* the timestamp given with that feed (or close) */
	union {
		struct {     /* REQUEST_START */
			uint64_t start_ns;       /* timestamp of the feed with the request's first byte */
			enum http_method method;
			const char *method_text; /* NUL-terminated, as sent */
			const char *path;        /* the target's path, without query; not NUL-terminated */
			size_t path_len;         /* bytes at path, at most HTTP_PATH_MAX */
			uint64_t path_total_len; /* bytes the path had */
			bool path_truncated;     /* path_total_len > path_len */
			bool has_query;          /* the target had a '?' */
			uint64_t query_len;      /* bytes after the '?' */
			uint8_t version_minor;   /* HTTP/1.x */
			bool keep_alive;         /* the request lets the connection persist */
			bool websocket_upgrade;  /* Upgrade: websocket and Connection: upgrade */
			bool chunked;            /* body framing */
			int64_t content_length;  /* -1 when chunked or absent (no body) */
			const struct http_traceparent *traceparent; /* NULL when absent or invalid */
		} request;
		struct {     /* REQUEST_COMPLETE */
			uint64_t body_bytes; /* decoded body bytes (chunk framing not counted) */
		} request_complete;
		struct {     /* RESPONSE_COMPLETE */
			uint16_t status;
			enum http_method method;     /* of the request it answers */
			uint64_t body_bytes;         /* decoded body bytes */
			bool request_complete;       /* the request's body had been read */
			uint64_t request_body_bytes; /* when request_complete */
			bool keep_alive;             /* neither side asked to close after it */
			bool until_close;            /* body ended by the close (http_conn_close) */
			bool websocket;              /* 101: WebSocket frames follow, both ways */
		} response;
		struct {     /* REQUEST_ABANDONED */
			bool request_complete;
			uint64_t request_body_bytes; /* when request_complete */
		} abandoned;
		struct {     /* WS_FRAME */
			uint8_t opcode;       /* 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong */
			bool fin;
			bool masked;          /* client frames are, server frames are not */
			uint8_t rsv;          /* RSV1-3 as bits 2..0 (RSV1 = 4: compressed by permessage-deflate) */
			uint64_t payload_len;
		} ws;
		struct {     /* GAVE_UP */
			enum http_giveup reason;
			uint64_t offset;      /* byte offset in dir's stream of the byte that decided */
		} gave_up;
	};
};

/*
 * The caller's event handler. It runs on the feeding thread; it must not
 * feed, reset or close the same connection.
 */
typedef void (*http_event_fn)(void *ctx, const struct http_event *ev);

/* WebSocket totals of one direction. */
struct http_ws_counts {
	uint64_t frames;
	uint64_t payload_bytes; /* counted as they pass, also of an unfinished frame */
	bool close_seen;        /* a close frame has passed */
};

/* ---- the state; private to http_parse.c, declared for its size ---- */

/* One direction's parser: start line, header section, body, WebSocket. */
struct http_side {
	uint64_t offset;       /* bytes fed so far */
	uint64_t remaining;    /* body or payload bytes left; chunk size being read */
	uint64_t body_bytes;   /* decoded body bytes of the current message */
	uint64_t cl_cur;       /* Content-Length element being read */
	uint64_t cl_value;     /* Content-Length of this message */
	uint64_t ws_len;       /* payload length of the current frame */
	uint64_t ws_frames, ws_payload_bytes;
	uint32_t line_len;     /* bytes of the current line */
	uint32_t head_len;     /* bytes of the current start line + header section */
	uint16_t fields;       /* fields of the current section */
	uint16_t msg;          /* MSG_* flags of the current message */
	uint16_t status;       /* response: status code */
	uint8_t state;         /* S_*: where in the message */
	uint8_t sub;           /* within the start line or a WebSocket frame header */
	uint8_t pos;           /* position in "HTTP/1.x", digits read, or a frame's mask bit */
	uint8_t hstate;        /* within a header line */
	uint8_t name_pos;      /* bytes of the field name read (saturates) */
	uint8_t name_cands;    /* known names still matching */
	uint8_t field;         /* the known field whose value is being read */
	uint8_t el;            /* within one element of a list value */
	uint8_t tok_pos;       /* bytes of the element's token (saturates) */
	uint8_t tok_cands;     /* tokens still matching */
	uint8_t version_minor;
	uint8_t ws_b0;         /* the frame's first byte */
	uint8_t ws_need;       /* length or mask bytes still to come */
	bool ws_close;
};

struct http_conn {
	struct http_side rq;   /* requests (the server's reads) */
	struct http_side rs;   /* responses (the server's writes) */
	/* Request side only: the request being read. */
	uint64_t start_ns;     /* timestamp of its first byte */
	uint64_t path_total;
	uint64_t query_len;
	uint64_t held_ns;      /* timestamp of held_byte */
	struct http_traceparent tp;
	uint8_t tp_pos;        /* characters of the traceparent value read */
	uint8_t tp_flags;      /* seen, bad */
	uint8_t method_len;
	uint8_t target;        /* T_*: where in the request-target */
	uint8_t held_byte;     /* after an upgrade request: the first byte, kept to decide */
	uint8_t path_len;
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	/*
	 * The requests awaiting a response: head is written by the request
	 * side (release), tail by the response side (release); both are free
	 * running and equal the seq of the next request pushed / popped.
	 */
	_Atomic uint32_t fifo_head, fifo_tail;
	uint8_t fifo_method[HTTP_PIPELINE_MAX];
	uint8_t fifo_flags[HTTP_PIPELINE_MAX];
	/* body bytes | REQ_DONE once the request has been read (request side writes) */
	_Atomic uint64_t fifo_body[HTTP_PIPELINE_MAX];
	_Atomic uint8_t dead; /* 0 live, 1 given up, 2 closed */
};

/* ---- the API ---- */

/* Makes c a fresh connection: nothing read, nothing written. */
void http_conn_init(struct http_conn *c);

/* Same as http_conn_init: for an fd number that is reused. Forgets any
 * pending request without reporting it (see http_conn_close). */
void http_conn_reset(struct http_conn *c);

/*
 * Feeds len bytes of direction dir (buf may be NULL when len is 0),
 * which the caller read or wrote at now_ns, and calls fn(ctx, event) for
 * each event they complete, in stream order (fn may be NULL). Returns
 * true while the connection is followed, false once it has been given
 * up or closed: the caller may then stop feeding it (further feeds do
 * nothing). See the threading contract above.
 */
bool http_conn_feed(struct http_conn *c, enum http_dir dir, const void *buf, size_t len, uint64_t now_ns,
                    http_event_fn fn, void *ctx);

/*
 * The connection has ended (the server closed it). A response whose body
 * runs until close completes here (RESPONSE_COMPLETE with until_close),
 * then every request that was started and not answered is reported as
 * REQUEST_ABANDONED, oldest first, also when the connection had been
 * given up. Afterwards feeds do nothing until http_conn_reset. Not
 * concurrently with any other call on c.
 */
void http_conn_close(struct http_conn *c, uint64_t now_ns, http_event_fn fn, void *ctx);

/* Whether the connection is still followed (not given up, not closed). */
bool http_conn_alive(const struct http_conn *c);

/*
 * Whether a 101 has switched the connection's responses to WebSocket.
 * From the response side's feeding thread, or while no feed runs.
 */
bool http_conn_is_websocket(const struct http_conn *c);

/*
 * The WebSocket totals of direction dir so far (zero before an upgrade).
 * From dir's feeding thread (its handler included), or while no feed runs.
 */
struct http_ws_counts http_conn_ws_counts(const struct http_conn *c, enum http_dir dir);

/* A short static English phrase for a reason ("chunk framing", ...). */
const char *http_giveup_text(enum http_giveup reason);

/* The method's name ("GET"), "_OTHER" for HTTP_METHOD_OTHER (OpenTelemetry's spelling). */
const char *http_method_name(enum http_method m);

#endif
