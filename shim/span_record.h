/* SPDX-License-Identifier: MIT */
/*
 * span_record.h: what the hot path writes for one sampled call, and what
 * the exporter thread reads back. Fixed size, no pointers into the
 * hooked thread's memory (captured strings are copied in), so a record
 * can be read long after the call returned.
 */
#ifndef STDBTEL_SPAN_RECORD_H
#define STDBTEL_SPAN_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Per-record flags. */
enum span_flags {
	SPAN_ERROR = 1u << 0,    /* the hook's error rule matched the return value */
	SPAN_UNWOUND = 1u << 1,  /* the call ended by unwinding or longjmp (error status) */
	SPAN_TRUNCATED = 1u << 2,/* a captured string did not fit */
	SPAN_STACK = 1u << 3,    /* not a span: a struct span_stack, for the record that follows */
};

#define SPAN_MAX_CAPTURES 4
#define SPAN_TEXT_BYTES 96 /* captured string bytes per record, shared by all captures */
#define SPAN_RECORD_TAIL (256 - 16 - 8 - 8 - 8 - 8 - 4 - 4 - 4 - 4 - 8 - 8 * SPAN_MAX_CAPTURES - 8 - SPAN_TEXT_BYTES)

/*
 * An HTTP request timed at the socket layer (shim/http_server.h): the
 * record's text holds the request path (without query, cut at
 * SPAN_TEXT_BYTES), captures[0..2] the status code, request and response
 * body bytes, and this part the rest.
 */
#define SPAN_HTTP_PARAMS 8
struct span_http {
	uint16_t route;            /* template index + 1; 0: no template matched */
	uint8_t method;            /* enum http_method */
	uint8_t nparams;
	uint8_t param_off[SPAN_HTTP_PARAMS]; /* path parameters' values in text */
	uint8_t param_len[SPAN_HTTP_PARAMS];
	uint8_t path_truncated;    /* the path was longer than text holds */
	uint8_t websocket;         /* the request upgraded to WebSocket (101) */
	uint8_t pad[2];
	uint64_t path_total_len;
	uint64_t ws_frames_in, ws_frames_out; /* WebSocket frames read / written, when websocket */
};
_Static_assert(sizeof(struct span_http) <= SPAN_RECORD_TAIL, "span_http fits a record's tail");

/*
 * One finished span. 256 bytes, so that a ring slot is four cache lines and
 * a record is written with plain stores.
 *
 * Ids follow W3C trace context: a 16-byte trace id and 8-byte span ids,
 * never all zero; parent_span_id all zero means a root span.
 */
struct span_record {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	uint64_t start_ticks;      /* clock_now() at entry (see clock.h) */
	uint64_t end_ticks;        /* clock_now() at exit */
	uint32_t hook_index;       /* index into the config's hooks */
	uint32_t flags;            /* enum span_flags */
	uint32_t target_index;     /* which of the hook's resolved functions ran (index into the targets) */
	uint32_t reserved32;
	uint64_t return_value;     /* rax at exit (when not unwound) */
	uint64_t captures[SPAN_MAX_CAPTURES];     /* integers, or offset<<32|len into text */
	uint8_t ncaptures;
	uint8_t text_used;
	uint8_t capture_unreadable; /* bit per capture: its memory could not be read (placeholder value) */
	uint8_t capture_absent;     /* bit per capture: read at return, and the call did not return */
	uint8_t pad[4];
	char text[SPAN_TEXT_BYTES];
	union {
		uint8_t reserved[SPAN_RECORD_TAIL];
		struct span_http http; /* the [http] hook's requests (then text holds the path) */
	};
};

_Static_assert(sizeof(struct span_record) == 256, "span_record is 256 bytes");

/*
 * The stack of a call that ended by unwinding (SPAN_UNWOUND), captured
 * while the exception or panic was passing it. Written into a ring slot
 * just before that call's span_record, whose span_id it repeats; the
 * exporter pairs the two and drops a stack whose span did not follow (the
 * ring was full). flags sits where span_record's does, so a reader tells
 * the two apart from either view.
 */
#define SPAN_STACK_FRAMES 25
struct span_stack {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint32_t nframes;
	uint32_t pad0;
	uint64_t pad1[2];
	uint32_t pad2;
	uint32_t flags;            /* SPAN_STACK */
	uint64_t frames[SPAN_STACK_FRAMES]; /* return addresses, innermost first */
};

_Static_assert(sizeof(struct span_stack) == sizeof(struct span_record), "one ring slot");
_Static_assert(__builtin_offsetof(struct span_stack, flags) == __builtin_offsetof(struct span_record, flags),
               "flags tell a stack from a span");
_Static_assert(__builtin_offsetof(struct span_stack, span_id) == __builtin_offsetof(struct span_record, span_id),
               "the pairing key");

/* Span records among records[0..n) (the SPAN_STACK ones are not spans). */
static inline size_t span_records_count_spans(const struct span_record *records, size_t n)
{
	size_t spans = 0;
	for (size_t i = 0; i < n; i++)
		spans += !(records[i].flags & SPAN_STACK);
	return spans;
}

#endif
