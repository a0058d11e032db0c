/* SPDX-License-Identifier: MIT */
/*
 * http_span.h: what an [http] request record (shim/http_server.h, the
 * record layout in span_record.h's struct span_http) is as a span, one
 * decision for the JSON and the protobuf encoders, following the
 * OpenTelemetry HTTP server conventions: the name "{method} {route}"
 * ("{method}" when no route matched), and the attributes
 * http.request.method, url.path, http.route, http.response.status_code,
 * http.request.body.size, http.response.body.size, error.type (the status
 * code for 5xx, "incomplete" for a request the connection dropped), and
 * each configured path parameter under its attribute name. A WebSocket
 * session (the connection after its 101, to its close) is a span of its
 * own, "{route} websocket", with stdbtel.websocket.* frame and byte
 * counts. Pure.
 */
#ifndef STDBTEL_HTTP_SPAN_H
#define STDBTEL_HTTP_SPAN_H

#include <stdbool.h>

#include "config.h"
#include "span_record.h"

struct http_span_view {
	char name[160];
	struct config_attribute attrs[10 + SPAN_HTTP_PARAMS];
	size_t nattrs;
	const char *status_message;  /* NULL: status unset */
	bool remote_parent;          /* the parent came in a traceparent header */
	char text[SPAN_TEXT_BYTES + 1];
	char params[SPAN_HTTP_PARAMS][SPAN_TEXT_BYTES + 1];
	char error_type[16];
};

/* Whether rec is an [http] request span of cfg (not a hooked function's). */
bool http_span_is(const struct stdbtel_config *cfg, const struct span_record *rec);

/* The span view of rec (http_span_is). Pointers in out point into out, cfg or static strings. */
void http_span_describe(const struct stdbtel_config *cfg, const struct span_record *rec, struct http_span_view *out);

/* The name of parameter p of a route template ("{name}" or "{*name}"), into buf; false when it has no such. */
bool http_span_param_name(const char *tmpl, size_t p, char *buf, size_t bufsz);

#endif
