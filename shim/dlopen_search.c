/* SPDX-License-Identifier: MIT */
/* dlopen_search.c: the caller's library search path (contract in dlopen_search.h). */
#include "dlopen_search.h"

#include <string.h>

/*
 * Writes folder entry [dir, dir + len) joined with name into out, with
 * $ORIGIN expanded. Returns false when the entry has another token, needs
 * an origin we do not have, or does not fit.
 */
static bool join_entry(const char *dir, size_t len, const char *origin, const char *name, char *out,
                       size_t outsz)
{
	size_t used = 0;
	for (size_t i = 0; i < len;) {
		const char *piece;
		size_t piece_len, skip;
		if (dir[i] == '$') {
			const char *rest = dir + i + 1;
			size_t left = len - i - 1;
			if (left >= 6 && memcmp(rest, "ORIGIN", 6) == 0 &&
			    (left == 6 || !(rest[6] == '_' || (rest[6] >= 'A' && rest[6] <= 'Z') ||
			                    (rest[6] >= 'a' && rest[6] <= 'z') || (rest[6] >= '0' && rest[6] <= '9'))))
				skip = 7;
			else if (left >= 8 && memcmp(rest, "{ORIGIN}", 8) == 0)
				skip = 9;
			else
				return false; /* $LIB, $PLATFORM, ...: the loader's to expand */
			if (origin == NULL)
				return false;
			piece = origin;
			piece_len = strlen(origin);
		} else {
			piece = dir + i;
			piece_len = 1;
			skip = 1;
		}
		if (used + piece_len >= outsz)
			return false;
		memcpy(out + used, piece, piece_len);
		used += piece_len;
		i += skip;
	}
	if (used == 0) { /* an empty entry is the current folder */
		if (outsz < 2)
			return false;
		out[used++] = '.';
	}
	size_t name_len = strlen(name);
	if (used + 1 + name_len >= outsz)
		return false;
	out[used++] = '/';
	memcpy(out + used, name, name_len + 1);
	return true;
}

/* First usable entry of a ':'-separated list; true with its path in out. */
static bool search_list(const char *list, const char *origin, const char *name, dlopen_usable_fn usable,
                        void *ctx, char *out, size_t outsz)
{
	if (list == NULL)
		return false;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (join_entry(p, len, origin, name, out, outsz) && usable(out, ctx))
			return true;
		if (end == NULL)
			return false;
		p = end + 1;
	}
}

bool dlopen_search(const char *name, const struct dlopen_caller *caller, dlopen_usable_fn usable, void *ctx,
                   char *out, size_t outsz)
{
	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL)
		return false;
	bool has_runpath = caller->runpath != NULL;
	if (!has_runpath && caller->rpath != NULL &&
	    search_list(caller->rpath, caller->origin, name, usable, ctx, out, outsz))
		return true;
	/* Found in LD_LIBRARY_PATH: the loader finds it there by itself. */
	if (search_list(caller->ld_library_path, caller->origin, name, usable, ctx, out, outsz))
		return false;
	if (has_runpath && search_list(caller->runpath, caller->origin, name, usable, ctx, out, outsz))
		return true;
	return false;
}
