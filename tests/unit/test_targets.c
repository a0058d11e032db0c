/* SPDX-License-Identifier: MIT */
/*
 * test_targets.c: which objects a hook looks in, and what is reported.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "targets.h"

static char libc_path[4096];

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	const char *slash = strrchr(info->dlpi_name, '/');
	if (slash != NULL && strncmp(slash + 1, "libc.so", 7) == 0)
		snprintf(libc_path, sizeof libc_path, "%s", info->dlpi_name);
	return 0;
}

struct notes {
	char text[16][600];
	enum log_level level[16];
	size_t count;
};

static void note(enum log_level level, const char *message, void *ctx)
{
	struct notes *n = ctx;
	if (n->count < 16) {
		n->level[n->count] = level;
		snprintf(n->text[n->count++], sizeof n->text[0], "%s", message);
	}
}

static const char *note_with(const struct notes *n, const char *needle, enum log_level *level)
{
	for (size_t i = 0; i < n->count; i++)
		if (strstr(n->text[i], needle) != NULL) {
			*level = n->level[i];
			return n->text[i];
		}
	return NULL;
}

Test(targets, object_globs_select_where_a_hook_looks)
{
	dl_iterate_phdr(find_libc, NULL);
	cr_assert_neq(libc_path[0], '\0', "libc not found among loaded objects");
	const char *target = getenv("STDBTEL_TARGET_C_PIE");
	cr_assert_not_null(target, "STDBTEL_TARGET_C_PIE is not set: run through meson test");

	static const char text[] =
		"[[hook]]\nsymbol = \"db_insert\"\n"                       /* main program: found */
		"[[hook]]\nsymbol = \"malloc\"\n"                          /* not in the main program */
		"[[hook]]\nsymbol = \"malloc\"\nobject = \"libc.so*\"\n"   /* in libc */
		"[[hook]]\nsymbol = \"f\"\nobject = \"libnotloaded*\"\n";  /* pending */
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	cr_assert_eq(config_parse(&cfg, "t.toml", text, strlen(text), NULL, NULL, &diags), 0);

	struct target_object objects[2] = {
		{ .path = target, .name = "c_target_pie", .bias = 0x1000, .is_main = true },
		{ .path = libc_path, .name = strrchr(libc_path, '/') + 1, .bias = 0x7000000, .is_main = false },
	};
	struct target_set set;
	struct notes notes = { 0 };
	cr_assert_eq(targets_resolve(&cfg, objects, 2, &set, note, &notes), 0);

	cr_assert_eq(set.hooks_resolved, 2);
	cr_assert_eq(set.hooks_missing, 1);
	cr_assert_eq(set.hooks_pending, 1);
	cr_assert_geq(set.count, 2);
	cr_assert_eq(set.items[0].hook_index, 0);
	cr_assert_eq(set.items[0].object_index, 0);
	cr_assert_eq(set.items[0].address, 0x1000 + set.items[0].link_address, "bias is added");
	bool found_malloc = false;
	for (size_t i = 0; i < set.count; i++)
		if (set.items[i].hook_index == 2) {
			cr_assert_eq(set.items[i].object_index, 1);
			cr_assert_str_eq(set.items[i].mangled, "malloc");
			found_malloc = true;
		}
	cr_assert(found_malloc);

	enum log_level level;
	cr_assert_not_null(note_with(&notes, "t.toml:3: no function matches symbol \"malloc\" in the main program", &level));
	cr_assert_eq(level, LOG_WARN);
	cr_assert_not_null(note_with(&notes, "no loaded object matches object \"libnotloaded*\"", &level));
	cr_assert_eq(level, LOG_DEBUG);
	cr_assert_not_null(note_with(&notes, "-> db_insert at", &level));
	cr_assert_eq(level, LOG_DEBUG);

	target_objects_close(objects, 2);
	cr_assert_not(objects[0].opened);
	cr_assert_str_eq(set.items[0].key, "db_insert", "targets outlive the tables");
	targets_free(&set);
	config_free(&cfg);
}
