/* SPDX-License-Identifier: MIT */
/* symbolizer.c: stack frames to function names (contract in symbolizer.h). */
#define _GNU_SOURCE
#include "symbolizer.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbol_table.h"

#define SYMBOLIZER_MAX_OBJECTS 64

struct symbolized_object {
	char *path;
	bool failed;                /* could not be read: frames in it show as addresses */
	struct symbol_table table;
};

struct symbolizer {
	struct symbolized_object objects[SYMBOLIZER_MAX_OBJECTS];
	size_t count;
	char exe[PATH_MAX];         /* /proc/self/exe: the loader names the main program "" */
};

struct symbolizer *symbolizer_new(void)
{
	struct symbolizer *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	ssize_t n = readlink("/proc/self/exe", s->exe, sizeof s->exe - 1);
	s->exe[n > 0 ? n : 0] = '\0';
	return s;
}

void symbolizer_free(struct symbolizer *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++) {
		if (!s->objects[i].failed)
			symbol_table_close(&s->objects[i].table);
		free(s->objects[i].path);
	}
	free(s);
}

/* The table of the object at path, opened on first use; NULL when it cannot be read. */
static struct symbol_table *table_for(struct symbolizer *s, const char *path)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->objects[i].path, path) == 0)
			return s->objects[i].failed ? NULL : &s->objects[i].table;
	if (s->count == SYMBOLIZER_MAX_OBJECTS)
		return NULL;
	struct symbolized_object *o = &s->objects[s->count];
	o->path = strdup(path);
	if (o->path == NULL)
		return NULL;
	char err[128];
	o->failed = symbol_table_open(&o->table, path, err, sizeof err) != ELF_OK;
	s->count++;
	return o->failed ? NULL : &o->table;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

/* Frames of the capture itself, not of the host's stack. */
static bool capture_frame(const char *object)
{
	const char *name = base_name(object);
	return strncmp(name, "libstdbtel.so", 13) == 0 || strncmp(name, "libgcc_s.so", 11) == 0 ||
	       strncmp(name, "libunwind.so", 12) == 0;
}

size_t symbolizer_format_stack(const struct span_stack *stack, char *out, size_t outsz, void *ctx)
{
	struct symbolizer *s = ctx;
	size_t used = 0;
	if (outsz == 0)
		return 0;
	out[0] = '\0';
	bool leading = true;
	uint32_t n = stack->nframes < SPAN_STACK_FRAMES ? stack->nframes : SPAN_STACK_FRAMES;
	for (uint32_t i = 0; i < n && used + 1 < outsz; i++) {
		/* a return address is just past its call: look up the call itself */
		uintptr_t pc = (uintptr_t)stack->frames[i] - (i > 0 ? 1 : 0);
		Dl_info info;
		struct link_map *lm = NULL;
		const char *object = "?";
		const struct symbol_entry *e = NULL;
		uintptr_t bias = 0;
		if (dladdr1((void *)pc, &info, (void **)&lm, RTLD_DL_LINKMAP) != 0 && lm != NULL) {
			object = lm->l_name != NULL && lm->l_name[0] != '\0' ? lm->l_name : s->exe;
			bias = lm->l_addr;
			struct symbol_table *t = table_for(s, object);
			if (t != NULL)
				e = symbol_table_find_address(t, pc - bias);
		}
		if (leading && capture_frame(object))
			continue;
		leading = false;
		if (strncmp(base_name(object), "libstdbtel.so", 13) == 0)
			continue; /* a hook's stub: the hooked function is the frame below it */
		int w = e != NULL ? snprintf(out + used, outsz - used, "%s+0x%lx (%s)\n", e->key,
		                             (unsigned long)(pc - bias - e->value), base_name(object))
		                  : snprintf(out + used, outsz - used, "0x%lx (%s+0x%lx)\n", (unsigned long)pc,
		                             base_name(object), (unsigned long)(pc - bias));
		if (w < 0)
			break;
		used += (size_t)w < outsz - used ? (size_t)w : outsz - used - 1;
	}
	if (used > 0 && out[used - 1] == '\n')
		out[--used] = '\0'; /* no trailing newline */
	return used;
}
