/* SPDX-License-Identifier: MIT */
/*
 * test_many_symbols.c: resolution at scale. A generated binary holds 300k
 * functions with Rust legacy and v0 names; each of the config's 50 hooks
 * (exact paths and globs, so every index is used) must match exactly as
 * many functions as Python's fnmatch counted over the generated paths.
 *
 * Paths come from STDBTEL_MANY_SYMBOLS_{BINARY,CONFIG,EXPECTED}.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "targets.h"

/* Paths from tests/bench/meson.build; Criterion runs each test in its own process. */
static const char *required_env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v != NULL && v[0] != '\0', "%s is not set: run through meson test", name);
	return v;
}

Test(many_symbols, every_hook_matches_what_fnmatch_counted)
{
	const char *binary = required_env("STDBTEL_MANY_SYMBOLS_BINARY");
	const char *expected_path = required_env("STDBTEL_MANY_SYMBOLS_EXPECTED");
	setenv("STDBTEL_CONFIG", required_env("STDBTEL_MANY_SYMBOLS_CONFIG"), 1);
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	cr_assert_eq(config_load(&cfg, "/nonexistent", &diags), 0, "%s", diags.count ? diags.items[0].text : "");
	cr_assert_eq(cfg.nhooks, 50);

	size_t expected[50];
	FILE *f = fopen(expected_path, "r");
	cr_assert_not_null(f, "cannot open %s", expected_path);
	for (size_t i = 0; i < 50; i++)
		cr_assert_eq(fscanf(f, "%zu", &expected[i]), 1, "%s: line %zu", expected_path, i + 1);
	fclose(f);

	struct target_object object = { .path = binary, .name = "many_symbols", .is_main = true };
	struct target_set set;
	cr_assert_eq(targets_resolve(&cfg, &object, 1, &set, NULL, NULL), 0);
	cr_assert(object.opened);
	cr_assert_geq(object.table.count, 300000);

	size_t got[50] = { 0 };
	for (size_t i = 0; i < set.count; i++)
		got[set.items[i].hook_index]++;
	for (size_t h = 0; h < 50; h++)
		cr_expect_eq(got[h], expected[h], "hook %zu \"%s\": %zu functions, fnmatch counted %zu", h,
		             cfg.hooks[h].symbol, got[h], expected[h]);
	for (size_t h = 0; h < 40; h++)
		cr_assert_eq(expected[h], 1, "the generator's exact paths are unique");
	targets_free(&set);
	target_objects_close(&object, 1);
	config_free(&cfg);
}
