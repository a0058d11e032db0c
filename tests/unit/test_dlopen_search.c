/* SPDX-License-Identifier: MIT */
/* test_dlopen_search.c: the caller's library search order (dlopen_search.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "dlopen_search.h"

/* A pretend file system: the paths that exist, NULL-terminated. */
static bool exists_in(const char *path, void *ctx)
{
	for (const char *const *p = ctx; *p != NULL; p++)
		if (strcmp(*p, path) == 0)
			return true;
	return false;
}

static const char *search(const char *name, struct dlopen_caller c, const char *const *files)
{
	static char out[256];
	return dlopen_search(name, &c, exists_in, (void *)files, out, sizeof out) ? out : NULL;
}

Test(dlopen_search, runpath_with_origin)
{
	const char *files[] = { "/opt/app/bin/plugins/libp.so", NULL };
	struct dlopen_caller c = { .origin = "/opt/app/bin", .runpath = "/nowhere:$ORIGIN/plugins" };
	cr_assert_str_eq(search("libp.so", c, files), "/opt/app/bin/plugins/libp.so");
	c.runpath = "${ORIGIN}/plugins";
	cr_assert_str_eq(search("libp.so", c, files), "/opt/app/bin/plugins/libp.so");
}

Test(dlopen_search, rpath_only_without_runpath)
{
	const char *files[] = { "/r/libp.so", "/u/libp.so", NULL };
	struct dlopen_caller c = { .origin = "/o", .rpath = "/r" };
	cr_assert_str_eq(search("libp.so", c, files), "/r/libp.so");
	/* DT_RUNPATH present: DT_RPATH is ignored (ld.so(8)) */
	c.runpath = "/u";
	cr_assert_str_eq(search("libp.so", c, files), "/u/libp.so");
}

Test(dlopen_search, rpath_before_ld_library_path_before_runpath)
{
	const char *files[] = { "/r/libp.so", "/l/libp.so", "/u/libp.so", NULL };
	struct dlopen_caller rpath = { .origin = "/o", .rpath = "/r", .ld_library_path = "/l" };
	cr_assert_str_eq(search("libp.so", rpath, files), "/r/libp.so");
	/* with RUNPATH, LD_LIBRARY_PATH wins: passed through to the loader, which finds it there */
	struct dlopen_caller runpath = { .origin = "/o", .runpath = "/u", .ld_library_path = "/l" };
	cr_assert_null(search("libp.so", runpath, files));
	const char *only_runpath[] = { "/u/libp.so", NULL };
	cr_assert_str_eq(search("libp.so", runpath, only_runpath), "/u/libp.so");
}

Test(dlopen_search, passed_through)
{
	const char *files[] = { "/r/libp.so", NULL };
	struct dlopen_caller c = { .origin = "/o", .rpath = "/r" };
	cr_assert_null(search(NULL, c, files), "dlopen(NULL) is the program itself");
	cr_assert_null(search("./libp.so", c, files), "a name with '/' is a path");
	cr_assert_null(search("libq.so", c, files), "not in the caller's folders: the loader's cache decides");
	struct dlopen_caller none = { .origin = "/o" };
	cr_assert_null(search("libp.so", none, files), "no paths of its own");
}

Test(dlopen_search, other_tokens_and_empty_entries)
{
	const char *files[] = { "/x/lib/libp.so", "./libp.so", NULL };
	struct dlopen_caller c = { .origin = "/x", .runpath = "$LIB/libp:$ORIGINAL/lib" };
	cr_assert_null(search("libp.so", c, files), "$LIB is the loader's; $ORIGINAL is not $ORIGIN");
	c.runpath = "::/nowhere";
	cr_assert_str_eq(search("libp.so", c, files), "./libp.so", "an empty entry is the current folder");
	struct dlopen_caller no_origin = { .runpath = "$ORIGIN/lib" };
	cr_assert_null(search("libp.so", no_origin, files));
}

Test(dlopen_search, too_long_for_the_buffer)
{
	char dir[300];
	memset(dir, 'd', sizeof dir - 1);
	dir[0] = '/';
	dir[sizeof dir - 1] = '\0';
	const char *files[] = { NULL };
	struct dlopen_caller c = { .origin = "/o", .runpath = dir };
	cr_assert_null(search("libp.so", c, files));
}
