/* SPDX-License-Identifier: MIT */
/* http_span.c: [http] request records as spans (contract in http_span.h). */
#include "http_span.h"

#include <stdio.h>
#include <string.h>

#include "http_parse.h"

bool http_span_is(const struct stdbtel_config *cfg, const struct span_record *rec)
{
	return cfg->http_hook >= 0 && rec->hook_index == (uint32_t)cfg->http_hook && rec->target_index == UINT32_MAX;
}

bool http_span_param_name(const char *tmpl, size_t p, char *buf, size_t bufsz)
{
	size_t seen = 0;
	for (const char *c = tmpl; *c != '\0'; c++) {
		if (*c != '{')
			continue;
		const char *start = c + 1 + (c[1] == '*');
		const char *end = strchr(start, '}');
		if (end == NULL)
			return false;
		if (seen++ == p) {
			snprintf(buf, bufsz, "%.*s", (int)(end - start), start);
			return true;
		}
		c = end;
	}
	return false;
}

static void add_string(struct http_span_view *v, const char *key, char *value)
{
	v->attrs[v->nattrs++] = (struct config_attribute){ .key = (char *)key, .type = ATTRIBUTE_STRING, .u.string = value };
}

static void add_int(struct http_span_view *v, const char *key, int64_t value)
{
	v->attrs[v->nattrs++] = (struct config_attribute){ .key = (char *)key, .type = ATTRIBUTE_INT, .u.integer = value };
}

void http_span_describe(const struct stdbtel_config *cfg, const struct span_record *rec, struct http_span_view *out)
{
	const struct span_http *h = &rec->http;
	out->nattrs = 0;
	out->status_message = NULL;
	out->remote_parent = false;
	for (size_t i = 0; i < 8; i++)
		out->remote_parent = out->remote_parent || rec->parent_span_id[i] != 0;
	size_t used = rec->text_used < SPAN_TEXT_BYTES ? rec->text_used : SPAN_TEXT_BYTES;
	memcpy(out->text, rec->text, used);
	out->text[used] = '\0';
	const char *method = http_method_name((enum http_method)h->method);
	const char *route = h->route > 0 && (size_t)h->route <= cfg->http.nroutes ? cfg->http.routes[h->route - 1] : NULL;
	uint64_t status = rec->captures[0];

	if (h->websocket) {
		snprintf(out->name, sizeof out->name, "%s websocket", route != NULL ? route : out->text);
		add_string(out, "url.path", out->text);
		if (route != NULL)
			add_string(out, "http.route", (char *)route);
		add_int(out, "stdbtel.websocket.frames_received", (int64_t)h->ws_frames_in);
		add_int(out, "stdbtel.websocket.frames_sent", (int64_t)h->ws_frames_out);
		add_int(out, "stdbtel.websocket.bytes_received", (int64_t)rec->captures[1]);
		add_int(out, "stdbtel.websocket.bytes_sent", (int64_t)rec->captures[2]);
		return;
	}
	if (route != NULL)
		snprintf(out->name, sizeof out->name, "%s %s", method, route);
	else
		snprintf(out->name, sizeof out->name, "%s", method);
	add_string(out, "http.request.method", (char *)method);
	add_string(out, "url.path", out->text);
	if (route != NULL)
		add_string(out, "http.route", (char *)route);
	if (status > 0)
		add_int(out, "http.response.status_code", (int64_t)status);
	add_int(out, "http.request.body.size", (int64_t)rec->captures[1]);
	if (status > 0)
		add_int(out, "http.response.body.size", (int64_t)rec->captures[2]);
	if (status == 0 || status >= 500) {
		if (status == 0)
			snprintf(out->error_type, sizeof out->error_type, "incomplete");
		else
			snprintf(out->error_type, sizeof out->error_type, "%u", (unsigned)status);
		add_string(out, "error.type", out->error_type);
		out->status_message = status == 0 ? "the connection closed before the response was complete" : "";
	}
	for (size_t p = 0; route != NULL && p < h->nparams && p < SPAN_HTTP_PARAMS; p++) {
		char name[64];
		if (!http_span_param_name(route, p, name, sizeof name))
			break;
		for (size_t k = 0; k < cfg->http.nparams; k++) {
			if (strcmp(cfg->http.params[k].key, name) != 0)
				continue;
			size_t off = h->param_off[p], len = h->param_len[p];
			if (off > used || len > used - off)
				len = off = 0;
			memcpy(out->params[p], rec->text + off, len);
			out->params[p][len] = '\0';
			add_string(out, cfg->http.params[k].value, out->params[p]);
		}
	}
}
