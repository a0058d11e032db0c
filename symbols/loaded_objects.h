/* SPDX-License-Identifier: MIT */
/*
 * loaded_objects.h: the ELF objects mapped into this process and where.
 *
 * Owns: a snapshot of dl_iterate_phdr() taken at one moment: the main
 * program (its path read from /proc/self/exe, since the loader reports it
 * as ""), then each shared library in load order, with the load bias to
 * add to a symbol's link-time address. Objects without a file (the vDSO)
 * are left out. Call only while the set of loaded objects cannot change
 * under you (the shim's constructor, or with the loader's lock held).
 */
#ifndef STDBTEL_LOADED_OBJECTS_H
#define STDBTEL_LOADED_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

struct loaded_object {
	char *path;        /* absolute path of the file */
	const char *name;  /* basename, inside path */
	uintptr_t bias;    /* runtime address = bias + st_value */
	int is_main;       /* 1 for the executable */
};

struct loaded_objects {
	struct loaded_object *items;
	size_t count;
};

/* Fills objs; returns 0, or -1 when out of memory (objs is then empty). */
int loaded_objects_snapshot(struct loaded_objects *objs);

void loaded_objects_free(struct loaded_objects *objs);

#endif
