/* SPDX-License-Identifier: MIT */
/*
 * dlopen_search.h: where dlopen(name) would find a library when the caller
 * is a given object, so that the shim's dlopen wrapper can open it as if
 * the host had called dlopen itself.
 *
 * Why: the loader searches the DT_RPATH / DT_RUNPATH of the object that
 * called dlopen, which it finds from dlopen's return address. Through the
 * shim's wrapper that caller is libstdbtel.so, which has neither; a plugin
 * found through its host's RUNPATH would not load. The wrapper therefore
 * resolves such a name itself, with the caller's paths, and hands the real
 * dlopen a full path. Everything else (names with a '/', names an already
 * loaded object answers to, libraries the search does not find) is passed
 * through unchanged, so the loader's own rules still apply.
 *
 * Rules (dlopen(3), ld.so(8)), in order:
 *   1. DT_RPATH of the caller, when it has no DT_RUNPATH;
 *   2. LD_LIBRARY_PATH;
 *   3. DT_RUNPATH of the caller;
 *   4. the ld.so cache and default folders (left to the loader).
 * $ORIGIN (and ${ORIGIN}) in a path entry is the caller's folder; an
 * entry with another dynamic string token ($LIB, $PLATFORM) is skipped.
 * An empty entry means the current folder, as for the loader.
 *
 * Pure: no I/O but through the usable() callback; no globals.
 */
#ifndef STDBTEL_DLOPEN_SEARCH_H
#define STDBTEL_DLOPEN_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

struct dlopen_caller {
	const char *origin;          /* the caller's folder (no trailing '/'), or NULL */
	const char *rpath;           /* DT_RPATH, or NULL */
	const char *runpath;         /* DT_RUNPATH, or NULL */
	const char *ld_library_path; /* LD_LIBRARY_PATH, or NULL (ignored when the program is setuid) */
};

/* Whether path names a library the loader would take (exists, right class). */
typedef bool (*dlopen_usable_fn)(const char *path, void *ctx);

/*
 * For dlopen(name) from caller: returns true and writes the full path to
 * open into out when the caller's DT_RPATH or DT_RUNPATH decides it; false
 * when the name must be passed through unchanged (NULL, a '/' in it, found
 * first in LD_LIBRARY_PATH, or in none of the caller's folders, or the
 * path would not fit in outsz). The caller checks first whether an object
 * already loaded answers to the name (the loader would return that one).
 */
bool dlopen_search(const char *name, const struct dlopen_caller *caller, dlopen_usable_fn usable, void *ctx,
                   char *out, size_t outsz);

#endif
