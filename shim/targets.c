/* SPDX-License-Identifier: MIT */
/*
 * targets.c: match each hook against the objects it names; see targets.h.
 */
#define _GNU_SOURCE
#include "targets.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

struct collect_ctx {
	struct target_set *set;
	size_t hook_index, object_index;
	uintptr_t bias;
	const struct elf_file *elf;
	bool failed;
};

static void collect_target(const struct symbol_entry *entry, void *data)
{
	struct collect_ctx *ctx = data;
	struct target_set *set = ctx->set;
	struct target *grown = realloc(set->items, (set->count + 1) * sizeof *grown);
	if (grown == NULL) {
		ctx->failed = true;
		return;
	}
	set->items = grown;
	struct target *t = &set->items[set->count];
	*t = (struct target){
		.hook_index = ctx->hook_index,
		.object_index = ctx->object_index,
		.address = ctx->bias + (uintptr_t)entry->value,
		.link_address = entry->value,
		.size = entry->size,
		.key = strdup(entry->key),
		.mangled = strdup(entry->mangled),
		.entry_point = elf_is_entry_point(ctx->elf, entry->value),
	};
	if (t->key == NULL || t->mangled == NULL) {
		free(t->key);
		free(t->mangled);
		ctx->failed = true;
		return;
	}
	set->count++;
}

static void reportf(targets_report_fn report, void *ctx, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reportf(targets_report_fn report, void *ctx, enum log_level level, const char *fmt, ...)
{
	if (report == NULL)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	report(level, msg, ctx);
}

static bool object_selected(const struct hook_config *hook, const struct target_object *obj)
{
	if (hook->object == NULL)
		return obj->is_main;
	return glob_match(hook->object, obj->name) || glob_match(hook->object, obj->path);
}

/* Opens obj's table on first use; false (reported once) when it cannot be read. */
static bool object_table(struct target_object *obj, targets_report_fn report, void *report_ctx)
{
	if (!obj->opened && !obj->failed) {
		char err[256];
		if (symbol_table_open(&obj->table, obj->path, err, sizeof err) == ELF_OK) {
			obj->opened = true;
		} else {
			obj->failed = true;
			reportf(report, report_ctx, LOG_WARN, "cannot read symbols of %s: %s", obj->path, err);
		}
	}
	return obj->opened;
}

int targets_resolve(const struct stdbtel_config *cfg, struct target_object *objects, size_t nobjects,
                    struct target_set *out, targets_report_fn report, void *report_ctx)
{
	memset(out, 0, sizeof *out);
	for (size_t h = 0; h < cfg->nhooks; h++) {
		const struct hook_config *hook = &cfg->hooks[h];
		if (hook->symbol == NULL)
			continue;
		size_t before = out->count;
		bool any_selected = false;
		for (size_t o = 0; o < nobjects; o++) {
			struct target_object *obj = &objects[o];
			if (!object_selected(hook, obj))
				continue;
			any_selected = true;
			if (!object_table(obj, report, report_ctx))
				continue;
			struct collect_ctx ctx = { .set = out, .hook_index = h, .object_index = o, .bias = obj->bias,
			                           .elf = &obj->table.elf };
			symbol_table_match(&obj->table, hook->symbol, MATCH_EXACT, collect_target, &ctx);
			if (ctx.failed)
				return -1;
		}
		size_t found = out->count - before;
		if (!any_selected) {
			out->hooks_pending++;
			reportf(report, report_ctx, LOG_DEBUG, "%s:%d: no loaded object matches object \"%s\" of \"%s\"",
			        cfg->source, hook->line, hook->object ? hook->object : "(main program)", hook->symbol);
			continue;
		}
		if (found == 0) {
			out->hooks_missing++;
			reportf(report, report_ctx, hook->optional ? LOG_DEBUG : LOG_WARN,
			        "%s:%d: no function matches symbol \"%s\"%s%s%s", cfg->source, hook->line, hook->symbol,
			        hook->object ? " in objects \"" : " in the main program",
			        hook->object ? hook->object : "", hook->object ? "\"" : "");
			continue;
		}
		out->hooks_resolved++;
		for (size_t i = before; i < out->count; i++) {
			const struct target *t = &out->items[i];
			reportf(report, report_ctx, LOG_DEBUG, "%s:%d: \"%s\" -> %s at %#lx (%s, %llu bytes)",
			        cfg->source, hook->line, hook->symbol, t->key, (unsigned long)t->address,
			        objects[t->object_index].name, (unsigned long long)t->size);
		}
	}
	return 0;
}

void targets_free(struct target_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		free(set->items[i].key);
		free(set->items[i].mangled);
	}
	free(set->items);
	memset(set, 0, sizeof *set);
}

void target_objects_close(struct target_object *objects, size_t nobjects)
{
	for (size_t o = 0; o < nobjects; o++) {
		if (objects[o].opened)
			symbol_table_close(&objects[o].table);
		objects[o].opened = false;
		objects[o].failed = false;
	}
}
