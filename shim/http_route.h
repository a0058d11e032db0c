/* SPDX-License-Identifier: MIT */
/*
 * http_route.h: route templates such as
 * "/v1/database/{name_or_identity}/call/{reducer}", compiled once from the
 * config, and the match of a request path against them, which gives the
 * route (OpenTelemetry's http.route is the template's text) and where each
 * parameter's value lies in the path.
 *
 * Template syntax: a '/' and then segments separated by '/'. A segment is
 * literal text, a parameter "{name}" (the whole segment), or, as the last
 * segment only, a catch-all "{*name}". Names are letters, digits and '_',
 * unique within a template; at most HTTP_ROUTE_MAX_PARAMS per template.
 * No '?', '#', '{', '}' in literals, no spaces or control bytes, no empty
 * segment except a trailing one (a template that ends in '/').
 *
 * Matching rules:
 *   - Bytes are compared as they are: case-sensitive, and with no
 *     percent-decoding (a parameter's range holds "my%20db" as sent; a
 *     literal "a b" can never be written, "a%20b" matches only itself).
 *   - A parameter matches one non-empty segment.
 *   - A catch-all matches the rest of the path, '/'s included, possibly
 *     empty: "/files/{*rest}" matches "/files/a/b" (rest "a/b"),
 *     "/files/" and "/files" (rest empty, at the end of the path).
 *   - Trailing slash: significant. "/v1/ping" does not match "/v1/ping/"
 *     and "/v1/ping/" does not match "/v1/ping"; list both to take both.
 *   - The path ends at the first '?' (a query never takes part).
 *   - When several templates match, the most specific wins: compared
 *     segment by segment from the left, at the first segment where they
 *     differ a literal beats a parameter, a parameter beats a catch-all,
 *     and a template that has ended beats a catch-all (so "/v1/{x}/sql"
 *     beats "/v1/{x}/{y}", which beats "/v1/{*rest}", whatever the
 *     order). Templates that would always tie (same literals and same
 *     kinds in the same places) are rejected by compile, so the winner
 *     never depends on the order of the list.
 *   - A path cut short by the HTTP parser (http_parse.h, path_truncated)
 *     is only a prefix: the caller should not look up its route, or
 *     should accept that only a catch-all can match it.
 *
 * Owns: the compiled table (one allocation per template, made by
 * http_routes_compile, released by http_routes_free). Threading: compile
 * and free on one thread, while nothing matches; http_routes_match and
 * the accessors only read the table, from any number of threads at once,
 * and neither allocate nor lock.
 */
#ifndef STDBTEL_HTTP_ROUTE_H
#define STDBTEL_HTTP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_ROUTE_MAX_PARAMS 8

/* A parameter's value: path[off .. off + len). */
struct http_route_param {
	uint32_t off, len;
};

struct http_route_match {
	size_t nparams;   /* the template's parameters, catch-all included */
	struct http_route_param params[HTTP_ROUTE_MAX_PARAMS]; /* in template order */
};

struct http_routes;

/*
 * Checks one template's syntax. Returns 0 when it is valid, else the
 * 1-based column of the first problem, with a message (no position in
 * it) in err (truncated to errsz; err may be NULL when errsz is 0).
 * For a config checker that reports file:line:col.
 */
size_t http_route_check(const char *tmpl, char *err, size_t errsz);

/*
 * Compiles n templates (in the order given; the index of each is its
 * route number). Returns the table, or NULL with a message in err naming
 * the template and the column (bad syntax, two templates that always
 * tie, no memory). n may be 0: nothing then matches.
 */
struct http_routes *http_routes_compile(const char *const *templates, size_t n, char *err, size_t errsz);

/* Releases a table from http_routes_compile (NULL is fine). */
void http_routes_free(struct http_routes *rt);

/* The number of templates. */
size_t http_routes_count(const struct http_routes *rt);

/* Template i's text, as given (the value for http.route). i < count. */
const char *http_routes_template(const struct http_routes *rt, size_t i);

/* Template i's number of parameters, and the name of parameter p (without braces or '*'). */
size_t http_routes_param_count(const struct http_routes *rt, size_t i);
const char *http_routes_param_name(const struct http_routes *rt, size_t i, size_t p);

/*
 * Matches path[0 .. len) (NUL not needed; stops at the first '?').
 * Returns the index of the most specific matching template and fills m
 * (m may be NULL), or -1 when none matches (m is then untouched). A path
 * must start with '/' to match anything.
 */
long http_routes_match(const struct http_routes *rt, const char *path, size_t len, struct http_route_match *m);

#endif
