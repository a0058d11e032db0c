/* SPDX-License-Identifier: MIT */
/*
 * test_http_route.c: route templates (http_route.h): each of SpacetimeDB's
 * templates with its parameters' ranges, no match, the most specific
 * winner whatever the order, trailing slashes, catch-alls, queries, raw
 * (undecoded) bytes, and the compile errors with their columns.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http_route.h"

static const char *const spacetimedb_routes[] = {
	"/v1/database/{name_or_identity}/call/{reducer}",
	"/v1/database/{name_or_identity}/sql",
	"/v1/database/{name_or_identity}/subscribe",
	"/v1/database/{name_or_identity}/schema",
	"/v1/database/{name_or_identity}/logs",
	"/v1/database/{name_or_identity}",
	"/v1/identity",
	"/v1/metrics",
	"/v1/ping",
};
#define N_ROUTES (sizeof spacetimedb_routes / sizeof spacetimedb_routes[0])

static struct http_routes *compile_ok(const char *const *t, size_t n)
{
	char err[256] = "";
	struct http_routes *rt = http_routes_compile(t, n, err, sizeof err);
	cr_assert_not_null(rt, "compile failed: %s", err);
	return rt;
}

/* The text of parameter p of a match, for comparisons. */
static const char *param(const char *path, const struct http_route_match *m, size_t p)
{
	static char buf[256];
	cr_assert_lt(p, m->nparams);
	cr_assert_leq(m->params[p].off + m->params[p].len, strlen(path), "range past the path");
	memcpy(buf, path + m->params[p].off, m->params[p].len);
	buf[m->params[p].len] = '\0';
	return buf;
}

/* Matches path and requires template want (by text) to win. */
static struct http_route_match expect_route(const struct http_routes *rt, const char *path, const char *want)
{
	struct http_route_match m;
	memset(&m, 0xa5, sizeof m);
	long i = http_routes_match(rt, path, strlen(path), &m);
	cr_assert_geq(i, 0, "%s matched nothing, expected %s", path, want);
	cr_assert_str_eq(http_routes_template(rt, (size_t)i), want, "%s", path);
	cr_assert_eq(m.nparams, http_routes_param_count(rt, (size_t)i));
	return m;
}

static void expect_none(const struct http_routes *rt, const char *path, size_t len)
{
	struct http_route_match m;
	memset(&m, 0x5a, sizeof m);
	struct http_route_match before = m;
	cr_assert_eq(http_routes_match(rt, path, len, &m), -1, "%.*s matched", (int)len, path);
	cr_assert(memcmp(&m, &before, sizeof m) == 0, "m changed without a match");
}

Test(http_route, each_spacetimedb_template_and_its_params)
{
	struct http_routes *rt = compile_ok(spacetimedb_routes, N_ROUTES);
	cr_assert_eq(http_routes_count(rt), N_ROUTES);
	for (size_t i = 0; i < N_ROUTES; i++)
		cr_assert_str_eq(http_routes_template(rt, i), spacetimedb_routes[i]);

	const char *p = "/v1/database/quickstart-chat/call/send_message";
	struct http_route_match m = expect_route(rt, p, spacetimedb_routes[0]);
	cr_assert_eq(m.nparams, 2);
	cr_assert_str_eq(param(p, &m, 0), "quickstart-chat");
	cr_assert_str_eq(param(p, &m, 1), "send_message");
	cr_assert_eq(m.params[0].off, strlen("/v1/database/"));
	cr_assert_str_eq(http_routes_param_name(rt, 0, 0), "name_or_identity");
	cr_assert_str_eq(http_routes_param_name(rt, 0, 1), "reducer");

	const char *ident = "/v1/database/c200a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e/sql";
	m = expect_route(rt, ident, spacetimedb_routes[1]);
	cr_assert_str_eq(param(ident, &m, 0), "c200a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e");

	const char *sub = "/v1/database/chat/subscribe";
	m = expect_route(rt, sub, spacetimedb_routes[2]);
	cr_assert_str_eq(param(sub, &m, 0), "chat");
	expect_route(rt, "/v1/database/chat/schema", spacetimedb_routes[3]);
	expect_route(rt, "/v1/database/chat/logs", spacetimedb_routes[4]);
	m = expect_route(rt, "/v1/database/chat", spacetimedb_routes[5]);
	cr_assert_str_eq(param("/v1/database/chat", &m, 0), "chat");
	m = expect_route(rt, "/v1/metrics", spacetimedb_routes[7]);
	cr_assert_eq(m.nparams, 0);
	expect_route(rt, "/v1/ping", spacetimedb_routes[8]);
	expect_route(rt, "/v1/identity", spacetimedb_routes[6]);
	http_routes_free(rt);
}

Test(http_route, no_match)
{
	struct http_routes *rt = compile_ok(spacetimedb_routes, N_ROUTES);
	const char *paths[] = {
		"/", "/v1", "/v1/", "/v2/ping", "/v1/pings", "/v1/pin", "/V1/ping", "/v1/database",
		"/v1/database/", "/v1/database//sql", "/v1/database/a/call", "/v1/database/a/call/",
		"/v1/database/a/call/r/extra", "/v1/database/a/sql/x", "v1/ping", "*", "",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		expect_none(rt, paths[i], strlen(paths[i]));
	expect_none(rt, NULL, 0);
	http_routes_free(rt);

	/* an empty table matches nothing */
	rt = compile_ok(NULL, 0);
	cr_assert_eq(http_routes_count(rt), 0);
	expect_none(rt, "/v1/ping", 8);
	http_routes_free(rt);
}

Test(http_route, trailing_slash_is_significant)
{
	const char *t[] = { "/v1/ping", "/v1/dir/" };
	struct http_routes *rt = compile_ok(t, 2);
	expect_route(rt, "/v1/ping", "/v1/ping");
	expect_none(rt, "/v1/ping/", 9);
	expect_route(rt, "/v1/dir/", "/v1/dir/");
	expect_none(rt, "/v1/dir", 7);
	http_routes_free(rt);

	/* a parameter never matches the empty segment a trailing slash makes */
	const char *u[] = { "/v1/database/{db}" };
	rt = compile_ok(u, 1);
	expect_none(rt, "/v1/database/", 13);
	expect_none(rt, "/v1/database/a/", 15);
	http_routes_free(rt);
}

Test(http_route, query_is_excluded)
{
	struct http_routes *rt = compile_ok(spacetimedb_routes, N_ROUTES);
	const char *p = "/v1/database/chat/call/send?x=/v1/ping&y={z}";
	struct http_route_match m = expect_route(rt, p, spacetimedb_routes[0]);
	cr_assert_str_eq(param(p, &m, 1), "send", "the parameter stops at '?'");
	expect_route(rt, "/v1/ping?", spacetimedb_routes[8]);
	expect_none(rt, "/v1/ping/?a", 11);
	/* len bounds the path too: a NUL is not needed, bytes after len are not read */
	const char buf[] = "/v1/pingXXXX";
	cr_assert_eq(http_routes_match(rt, buf, 8, NULL), 8);
	expect_none(rt, buf, 9);
	http_routes_free(rt);
}

Test(http_route, most_specific_wins_in_any_order)
{
	const char *t[] = {
		"/v1/{*rest}",
		"/v1/database/{db}/{action}",
		"/v1/database/{db}/sql",
		"/v1/{kind}/{db}/sql",
		"/v1/database/{*rest}",
	};
	const struct {
		const char *path;
		const char *want;
	} cases[] = {
		{ "/v1/database/a/sql", "/v1/database/{db}/sql" },
		{ "/v1/database/a/logs", "/v1/database/{db}/{action}" },
		{ "/v1/other/a/sql", "/v1/{kind}/{db}/sql" },
		{ "/v1/database/a/b/c", "/v1/database/{*rest}" },
		{ "/v1/database", "/v1/database/{*rest}" },
		{ "/v1/x", "/v1/{*rest}" },
		{ "/v1/", "/v1/{*rest}" },
		{ "/v1", "/v1/{*rest}" },
	};
	/* every rotation of the list gives the same winners */
	for (size_t rot = 0; rot < 5; rot++) {
		const char *order[5];
		for (size_t i = 0; i < 5; i++)
			order[i] = t[(i + rot) % 5];
		struct http_routes *rt = compile_ok(order, 5);
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
			expect_route(rt, cases[c].path, cases[c].want);
		http_routes_free(rt);
	}
	/* an exact template beats a catch-all that matches nothing more */
	const char *u[] = { "/files/{*rest}", "/files" };
	struct http_routes *rt = compile_ok(u, 2);
	expect_route(rt, "/files", "/files");
	expect_route(rt, "/files/", "/files/{*rest}");
	http_routes_free(rt);
}

Test(http_route, catch_all_ranges)
{
	const char *t[] = { "/static/{*path}", "/v1/database/{db}/{*rest}" };
	struct http_routes *rt = compile_ok(t, 2);
	const char *p = "/static/css/site.css";
	struct http_route_match m = expect_route(rt, p, t[0]);
	cr_assert_str_eq(param(p, &m, 0), "css/site.css");
	cr_assert_str_eq(http_routes_param_name(rt, 0, 0), "path");
	m = expect_route(rt, "/static/", t[0]);
	cr_assert_eq(m.params[0].off, strlen("/static/"));
	cr_assert_eq(m.params[0].len, 0);
	m = expect_route(rt, "/static", t[0]);
	cr_assert_eq(m.params[0].off, strlen("/static"), "empty, at the end of the path");
	cr_assert_eq(m.params[0].len, 0);
	const char *q = "/v1/database/chat/a//b/?x";
	m = expect_route(rt, q, t[1]);
	cr_assert_eq(m.nparams, 2);
	cr_assert_str_eq(param(q, &m, 0), "chat");
	cr_assert_str_eq(param(q, &m, 1), "a//b/");
	http_routes_free(rt);
}

Test(http_route, bytes_are_not_decoded)
{
	const char *t[] = { "/v1/database/{db}/sql", "/a%20b" };
	struct http_routes *rt = compile_ok(t, 2);
	const char *p = "/v1/database/my%20db/sql";
	struct http_route_match m = expect_route(rt, p, t[0]);
	cr_assert_str_eq(param(p, &m, 0), "my%20db");
	expect_route(rt, "/a%20b", "/a%20b");
	expect_none(rt, "/a b", 4);
	expect_none(rt, "/A%20B", 6);
	/* an encoded '/' is not a separator */
	expect_route(rt, "/v1/database/a%2Fb/sql", t[0]);
	http_routes_free(rt);
}

/* A template that http_route_check and compile must both reject at col. */
static void expect_bad(const char *tmpl, size_t col, const char *needle)
{
	char err[256] = "";
	cr_assert_eq(http_route_check(tmpl, err, sizeof err), col, "%s: column (%s)", tmpl ? tmpl : "NULL", err);
	cr_assert_not_null(strstr(err, needle), "%s: message '%s' lacks '%s'", tmpl, err, needle);
	const char *list[] = { "/ok", tmpl };
	char cerr[512] = "";
	cr_assert_null(http_routes_compile(list, 2, cerr, sizeof cerr));
	char where[64];
	snprintf(where, sizeof where, "route template 2 ");
	cr_assert_not_null(strstr(cerr, where), "%s", cerr);
	snprintf(where, sizeof where, "column %zu: ", col);
	cr_assert_not_null(strstr(cerr, where), "%s", cerr);
	cr_assert_not_null(strstr(cerr, err), "compile's message '%s' lacks '%s'", cerr, err);
}

Test(http_route, bad_templates)
{
	expect_bad("", 1, "starts with '/'");
	expect_bad("v1/ping", 1, "starts with '/'");
	expect_bad(NULL, 1, "starts with '/'");
	expect_bad("/v1//ping", 5, "empty segment");
	expect_bad("/v1/{db", 5, "does not close");
	expect_bad("/v1/{db}x", 5, "does not close");
	expect_bad("/v1/{}", 6, "needs a name");
	expect_bad("/v1/{*}", 7, "needs a name");
	expect_bad("/v1/x{db}", 6, "whole segment");
	expect_bad("/v1/db}", 7, "whole segment");
	expect_bad("/v1/{d-b}", 7, "letters, digits and '_'");
	expect_bad("/v1/{*rest}/x", 5, "last segment");
	expect_bad("/v1/{a}/{a}", 10, "appears twice");
	expect_bad("/v1/ping?x=1", 9, "without query");
	expect_bad("/v1/ping#top", 9, "without query");
	expect_bad("/v1/p ing", 6, "space");
	expect_bad("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", 34, "more than 8");
	cr_assert_eq(http_route_check("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{*h}", NULL, 0), 0, "8 parameters are fine");
	cr_assert_eq(http_route_check("/", NULL, 0), 0);
	cr_assert_eq(http_route_check("/{*all}", NULL, 0), 0);
}

Test(http_route, templates_that_always_tie_are_rejected)
{
	const char *t[] = { "/v1/database/{db}/sql", "/v1/ping", "/v1/database/{name}/sql" };
	char err[512] = "";
	cr_assert_null(http_routes_compile(t, 3, err, sizeof err));
	cr_assert_not_null(strstr(err, "template 3"), "%s", err);
	cr_assert_not_null(strstr(err, "template 1"), "%s", err);
	const char *u[] = { "/v1/ping", "/v1/ping" };
	cr_assert_null(http_routes_compile(u, 2, err, sizeof err));
	/* a literal and a parameter in the same place do not tie */
	const char *v[] = { "/v1/{x}", "/v1/ping", "/v1/{*x}" };
	struct http_routes *rt = compile_ok(v, 3);
	expect_route(rt, "/v1/ping", "/v1/ping");
	expect_route(rt, "/v1/pong", "/v1/{x}");
	http_routes_free(rt);
	http_routes_free(NULL);
}

Test(http_route, match_output_is_optional)
{
	struct http_routes *rt = compile_ok(spacetimedb_routes, N_ROUTES);
	const char *p = "/v1/database/a/call/b";
	cr_assert_eq(http_routes_match(rt, p, strlen(p), NULL), 0);
	http_routes_free(rt);
}
