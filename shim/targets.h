/* SPDX-License-Identifier: MIT */
/*
 * targets.h: from the config's [[hook]] symbol patterns to the functions
 * they name in a set of ELF objects.
 *
 * Owns: one symbol_table per object, opened on first use (an object that
 * no hook looks at is never read) and closed by target_objects_close(),
 * and the list of resolved targets, which outlives the tables. Used
 * by the shim at start-up (objects from loaded_objects, with load biases)
 * and by `stdbtel check` (one file, bias 0), so both see the same matches.
 * Not thread-safe.
 */
#ifndef STDBTEL_TARGETS_H
#define STDBTEL_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "symbol_table.h"

struct target_object {
	const char *path;     /* borrowed */
	const char *name;     /* basename, borrowed */
	uintptr_t bias;
	bool is_main;
	bool opened, failed;  /* table state: opened on first use */
	struct symbol_table table;
};

/*
 * One function a hook will time. Names are copies: a symbol table of a big
 * server holds tens of MiB, and the shim closes it once hooks are resolved.
 */
struct target {
	size_t hook_index;
	size_t object_index;
	uintptr_t address;    /* bias + link-time address */
	uint64_t link_address;/* the symbol's st_value */
	uint64_t size;        /* st_size (0 if unknown) */
	char *key;            /* match key, e.g. "crate::Type::method" */
	char *mangled;        /* the linker's name */
	bool entry_point;     /* the object's ELF entry point: never hooked (TARGETS_ENTRY_POINT_WHY) */
};

/*
 * Why the entry point (_start) is refused, whatever its bytes: the kernel
 * and ld.so jump there with argc on top of the stack, after the shim's
 * constructor has run; through a hook it would be called, and read the
 * stub's return address as argc.
 */
#define TARGETS_ENTRY_POINT_WHY "the entry point: jumped to with argc on the stack, never called"

/* The most functions one process hooks, at start-up and through dlopen together. */
#define TARGETS_MAX 16384

struct target_set {
	struct target *items;
	size_t count;
	size_t hooks_resolved;   /* hooks with at least one target */
	size_t hooks_missing;    /* hooks with none, though an object they name is loaded */
	size_t hooks_pending;    /* hooks whose "object" glob matches no loaded object */
};

/* Receives each problem and note: severity as in config, plus debug notes. */
typedef void (*targets_report_fn)(enum log_level level, const char *message, void *ctx);

/*
 * Resolves every hook of cfg among objects. A hook without "object" looks
 * at the main program only; with "object" it looks at every object whose
 * basename matches that glob. Reports: an object that cannot be read
 * (warning, once), a hook that matches nothing (warning, or debug when the
 * hook is optional), a hook whose objects are not loaded (debug: pending,
 * a later dlopen may bring them), each match (debug). Returns 0, or -1 when out of
 * memory. Release with targets_free(); close the tables (at any time after)
 * with target_objects_close().
 */
int targets_resolve(const struct stdbtel_config *cfg, struct target_object *objects, size_t nobjects,
                    struct target_set *out, targets_report_fn report, void *report_ctx);

void targets_free(struct target_set *set);

/* Closes every table targets_resolve() opened; objects can be resolved again. */
void target_objects_close(struct target_object *objects, size_t nobjects);

#endif
