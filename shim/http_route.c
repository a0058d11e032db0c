/* SPDX-License-Identifier: MIT */
/*
 * http_route.c: route templates (http_route.h). A compiled template is its
 * list of segments; a match walks the path's segments alongside each
 * template's, so it costs at most the path's length per template, and
 * keeps the most specific of the templates that match.
 */
#include "http_route.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Segment kinds, valued by specificity: when two templates match, the
 * one with the higher kind at the first segment where they differ wins.
 * A template that has run out of segments ranks above a catch-all.
 */
enum { SEG_CATCH_ALL = 1, SEG_PARAM = 2, SEG_LITERAL = 3, SEG_ENDED = 4 };

struct segment {
	uint8_t kind;
	uint32_t off, len;   /* literal: its text within the template */
};

struct route {
	char *text;          /* the template, NUL-terminated */
	char *names;         /* the parameter names, each NUL-terminated, one after the other */
	const char *param_name[HTTP_ROUTE_MAX_PARAMS];
	size_t nparams;
	size_t nsegs;
	struct segment *segs;
};

struct http_routes {
	size_t n;
	struct route *routes;
};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	if (err == NULL || errsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static bool is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/*
 * Parses tmpl into its segments (when segs is not NULL, sized for
 * strlen(tmpl) + 1) and parameter name ranges. Returns 0 or the 1-based
 * column of the first problem, with the message in err.
 */
static size_t parse_template(const char *tmpl, struct segment *segs, size_t *nsegs,
			     struct http_route_param *names, size_t *nnames, char *err, size_t errsz)
{
	size_t n = 0, np = 0;
	if (tmpl == NULL || tmpl[0] != '/') {
		set_err(err, errsz, "a route template starts with '/'");
		return 1;
	}
	size_t i = 1;
	for (;;) {
		size_t start = i;
		while (tmpl[i] != '\0' && tmpl[i] != '/')
			i++;
		size_t len = i - start;
		bool last = tmpl[i] == '\0';
		struct segment seg = { .kind = SEG_LITERAL, .off = (uint32_t)start, .len = (uint32_t)len };
		if (len == 0 && !last) {
			set_err(err, errsz, "empty segment ('//')");
			return start + 1;
		}
		if (len > 0 && tmpl[start] == '{') {
			if (tmpl[i - 1] != '}' || len < 2) {
				set_err(err, errsz, "'{' opens a parameter that the segment does not close with '}'");
				return start + 1;
			}
			size_t name = start + 1, name_end = i - 1;
			seg.kind = SEG_PARAM;
			if (tmpl[name] == '*') {
				seg.kind = SEG_CATCH_ALL;
				name++;
				if (!last) {
					set_err(err, errsz, "a catch-all '{*...}' must be the last segment");
					return start + 1;
				}
			}
			if (name == name_end) {
				set_err(err, errsz, "a parameter needs a name");
				return name + 1;
			}
			for (size_t k = name; k < name_end; k++)
				if (!is_name_char(tmpl[k])) {
					set_err(err, errsz, "a parameter name has letters, digits and '_' only");
					return k + 1;
				}
			for (size_t q = 0; q < np; q++)
				if (names[q].len == name_end - name &&
				    memcmp(tmpl + names[q].off, tmpl + name, name_end - name) == 0) {
					set_err(err, errsz, "parameter '%.*s' appears twice", (int)(name_end - name),
						tmpl + name);
					return name + 1;
				}
			if (np == HTTP_ROUTE_MAX_PARAMS) {
				set_err(err, errsz, "more than %d parameters", HTTP_ROUTE_MAX_PARAMS);
				return start + 1;
			}
			names[np].off = (uint32_t)name;
			names[np].len = (uint32_t)(name_end - name);
			np++;
		} else {
			for (size_t k = start; k < i; k++) {
				unsigned char ch = (unsigned char)tmpl[k];
				if (ch == '{' || ch == '}') {
					set_err(err, errsz, "'%c' inside a segment: a parameter is a whole segment", ch);
					return k + 1;
				}
				if (ch == '?' || ch == '#') {
					set_err(err, errsz, "'%c': a template is a path, without query or fragment", ch);
					return k + 1;
				}
				if (ch <= 0x20 || ch == 0x7f) {
					set_err(err, errsz, "space or control character");
					return k + 1;
				}
			}
		}
		if (segs != NULL)
			segs[n] = seg;
		n++;
		if (last)
			break;
		i++; /* the '/' */
	}
	*nsegs = n;
	*nnames = np;
	return 0;
}

size_t http_route_check(const char *tmpl, char *err, size_t errsz)
{
	size_t nsegs, nnames;
	struct http_route_param names[HTTP_ROUTE_MAX_PARAMS];
	return parse_template(tmpl, NULL, &nsegs, names, &nnames, err, errsz);
}

static void route_free(struct route *r)
{
	free(r->text);
	free(r->names);
	free(r->segs);
}

void http_routes_free(struct http_routes *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->n; i++)
		route_free(&rt->routes[i]);
	free(rt->routes);
	free(rt);
}

/* Whether a and b would match exactly the same paths (and so always tie). */
static bool routes_equivalent(const struct route *a, const struct route *b)
{
	if (a->nsegs != b->nsegs)
		return false;
	for (size_t i = 0; i < a->nsegs; i++) {
		const struct segment *x = &a->segs[i], *y = &b->segs[i];
		if (x->kind != y->kind)
			return false;
		if (x->kind == SEG_LITERAL &&
		    (x->len != y->len || memcmp(a->text + x->off, b->text + y->off, x->len) != 0))
			return false;
	}
	return true;
}

struct http_routes *http_routes_compile(const char *const *templates, size_t n, char *err, size_t errsz)
{
	struct http_routes *rt = calloc(1, sizeof *rt);
	if (rt == NULL || (n > 0 && (rt->routes = calloc(n, sizeof *rt->routes)) == NULL)) {
		free(rt);
		set_err(err, errsz, "out of memory for %zu route templates", n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *t = templates[i];
		struct route *r = &rt->routes[i];
		rt->n = i + 1; /* so that free releases what this one holds so far */
		char why[160];
		struct http_route_param names[HTTP_ROUTE_MAX_PARAMS];
		size_t col = parse_template(t, NULL, &r->nsegs, names, &r->nparams, why, sizeof why);
		if (col != 0) {
			set_err(err, errsz, "route template %zu \"%s\": column %zu: %s", i + 1, t ? t : "(null)", col,
				why);
			goto fail;
		}
		size_t tlen = strlen(t);
		size_t names_len = 0;
		for (size_t p = 0; p < r->nparams; p++)
			names_len += names[p].len + 1;
		r->text = malloc(tlen + 1);
		r->segs = malloc(r->nsegs * sizeof *r->segs);
		r->names = malloc(names_len + 1);
		if (r->text == NULL || r->segs == NULL || r->names == NULL) {
			set_err(err, errsz, "out of memory for route template \"%s\"", t);
			goto fail;
		}
		memcpy(r->text, t, tlen + 1);
		parse_template(r->text, r->segs, &r->nsegs, names, &r->nparams, NULL, 0);
		char *w = r->names;
		for (size_t p = 0; p < r->nparams; p++) {
			memcpy(w, t + names[p].off, names[p].len);
			w[names[p].len] = '\0';
			r->param_name[p] = w;
			w += names[p].len + 1;
		}
		for (size_t j = 0; j < i; j++)
			if (routes_equivalent(&rt->routes[j], r)) {
				set_err(err, errsz,
					"route template %zu \"%s\" matches the same paths as template %zu \"%s\"",
					i + 1, t, j + 1, rt->routes[j].text);
				goto fail;
			}
	}
	return rt;

fail:
	http_routes_free(rt);
	return NULL;
}

size_t http_routes_count(const struct http_routes *rt)
{
	return rt->n;
}

const char *http_routes_template(const struct http_routes *rt, size_t i)
{
	return rt->routes[i].text;
}

size_t http_routes_param_count(const struct http_routes *rt, size_t i)
{
	return rt->routes[i].nparams;
}

const char *http_routes_param_name(const struct http_routes *rt, size_t i, size_t p)
{
	return rt->routes[i].param_name[p];
}

/* Whether r matches path[0 .. len) (len stops before any '?'); fills m. */
static bool route_match(const struct route *r, const char *path, uint32_t len, struct http_route_match *m)
{
	uint32_t pos = 1; /* after the leading '/' */
	bool more = true; /* the path has a segment at pos (possibly empty) */
	size_t np = 0;
	for (size_t i = 0; i < r->nsegs; i++) {
		const struct segment *seg = &r->segs[i];
		if (seg->kind == SEG_CATCH_ALL) {
			/* the rest, possibly empty; at the end of the path if none */
			m->params[np].off = more ? pos : len;
			m->params[np].len = more ? len - pos : 0;
			np++;
			m->nparams = np;
			return true;
		}
		if (!more)
			return false;
		uint32_t end = pos;
		while (end < len && path[end] != '/')
			end++;
		uint32_t seglen = end - pos;
		if (seg->kind == SEG_PARAM) {
			if (seglen == 0)
				return false;
			m->params[np].off = pos;
			m->params[np].len = seglen;
			np++;
		} else {
			if (seglen != seg->len)
				return false;
			const char *lit = r->text + seg->off;
			for (uint32_t k = 0; k < seglen; k++)
				if (path[pos + k] != lit[k])
					return false;
		}
		more = end < len; /* a '/' follows: another segment */
		pos = end + 1;
	}
	if (more)
		return false;
	m->nparams = np;
	return true;
}

static uint8_t kind_at(const struct route *r, size_t i)
{
	return i < r->nsegs ? r->segs[i].kind : SEG_ENDED;
}

/* Whether a is more specific than b (both having matched one path). */
static bool more_specific(const struct route *a, const struct route *b)
{
	size_t n = a->nsegs > b->nsegs ? a->nsegs : b->nsegs;
	for (size_t i = 0; i < n; i++) {
		uint8_t ka = kind_at(a, i), kb = kind_at(b, i);
		if (ka != kb)
			return ka > kb;
	}
	return false;
}

long http_routes_match(const struct http_routes *rt, const char *path, size_t len, struct http_route_match *m)
{
	if (rt == NULL || path == NULL || len == 0 || path[0] != '/' || len > UINT32_MAX)
		return -1;
	size_t plen = 0;
	while (plen < len && path[plen] != '?')
		plen++;
	long best = -1;
	struct http_route_match cur, won;
	for (size_t i = 0; i < rt->n; i++) {
		const struct route *r = &rt->routes[i];
		if (!route_match(r, path, (uint32_t)plen, &cur))
			continue;
		if (best < 0 || more_specific(r, &rt->routes[best])) {
			best = (long)i;
			won = cur;
		}
	}
	if (best >= 0 && m != NULL)
		*m = won;
	return best;
}
