/* SPDX-License-Identifier: MIT */
/*
 * loaded_objects.c: dl_iterate_phdr() into a plain array. The callback only
 * copies; files are opened later by the caller, outside the loader's lock.
 */
#define _GNU_SOURCE
#include "loaded_objects.h"

#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct snapshot_ctx {
	struct loaded_objects *objs;
	int failed;
};

static int add_object(struct snapshot_ctx *ctx, const char *path, uintptr_t bias, int is_main)
{
	struct loaded_objects *objs = ctx->objs;
	struct loaded_object *grown = realloc(objs->items, (objs->count + 1) * sizeof *grown);
	char *copy = strdup(path);
	if (grown == NULL || copy == NULL) {
		if (grown != NULL)
			objs->items = grown;
		free(copy);
		ctx->failed = 1;
		return -1;
	}
	objs->items = grown;
	struct loaded_object *o = &objs->items[objs->count++];
	o->path = copy;
	const char *slash = strrchr(copy, '/');
	o->name = slash != NULL ? slash + 1 : copy;
	o->bias = bias;
	o->is_main = is_main;
	return 0;
}

static int snapshot_callback(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct snapshot_ctx *ctx = data;
	const char *name = info->dlpi_name;
	if (name == NULL || name[0] == '\0') {
		/* The main program is reported first with an empty name. */
		if (ctx->objs->count != 0)
			return 0;
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0)
			return 0;
		exe[n] = '\0';
		return add_object(ctx, exe, (uintptr_t)info->dlpi_addr, 1);
	}
	if (name[0] != '/')
		return 0; /* linux-vdso.so.1 and the like have no file */
	return add_object(ctx, name, (uintptr_t)info->dlpi_addr, 0);
}

int loaded_objects_snapshot(struct loaded_objects *objs)
{
	objs->items = NULL;
	objs->count = 0;
	struct snapshot_ctx ctx = { .objs = objs };
	dl_iterate_phdr(snapshot_callback, &ctx);
	if (ctx.failed) {
		loaded_objects_free(objs);
		return -1;
	}
	return 0;
}

void loaded_objects_free(struct loaded_objects *objs)
{
	for (size_t i = 0; i < objs->count; i++)
		free(objs->items[i].path);
	free(objs->items);
	objs->items = NULL;
	objs->count = 0;
}
