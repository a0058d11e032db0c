/* SPDX-License-Identifier: MIT */
/*
 * glob.c: iterative matching with a single backtrack point: on a mismatch,
 * retry from the last '*' one character further. This is linear in practice
 * and never recurses, whatever the pattern.
 */
#include "glob.h"

#include <stddef.h>

/*
 * Matches the bracket expression at *pp ("[...]") against c. Advances *pp
 * past it and returns 1 or 0; returns -1 (and leaves *pp) when there is no
 * closing ']', so that the '[' is taken literally.
 */
static int match_bracket(const char **pp, unsigned char c)
{
	const char *p = *pp + 1;
	bool negate = *p == '!' || *p == '^';
	if (negate)
		p++;
	bool matched = false;
	bool first = true;
	while (*p != '\0' && (*p != ']' || first)) {
		unsigned char lo = (unsigned char)*p, hi = lo;
		if (lo == '\\' && p[1] != '\0')
			lo = hi = (unsigned char)*++p;
		if (p[1] == '-' && p[2] != '\0' && p[2] != ']') {
			hi = (unsigned char)p[2];
			p += 2;
		}
		if (c >= lo && c <= hi)
			matched = true;
		p++;
		first = false;
	}
	if (*p != ']')
		return -1;
	*pp = p + 1;
	return matched != negate;
}

bool glob_match(const char *pattern, const char *text)
{
	const char *p = pattern, *t = text;
	const char *star_p = NULL, *star_t = NULL; /* backtrack point */
	while (*t != '\0') {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return true;
			star_p = p;
			star_t = t;
			continue;
		}
		if (*p == '[') {
			const char *after = p;
			int r = match_bracket(&after, (unsigned char)*t);
			if (r == 1) {
				p = after;
				t++;
				continue;
			}
			if (r == -1 && *t == '[') {
				p++;
				t++;
				continue;
			}
		} else if (*p == '?' || (*p == '\\' && p[1] != '\0' && p[1] == *t) ||
		           (*p != '\\' && *p != '\0' && *p == *t)) {
			p += *p == '\\' ? 2 : 1;
			t++;
			continue;
		}
		if (star_p == NULL)
			return false;
		p = star_p;
		t = ++star_t;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
