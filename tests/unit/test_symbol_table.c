/* SPDX-License-Identifier: MIT */
/*
 * test_symbol_table.c: resolving names to functions in binaries built by
 * the test suite (C PIE and non-PIE, Rust with both manglings) and in
 * redis-server. Expected addresses come from nm, not from this code.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "symbol_table.h"

/* Collects matches for inspection. */
struct matches {
	const struct symbol_entry *items[64];
	size_t count;
};

static void collect(const struct symbol_entry *e, void *ctx)
{
	struct matches *m = ctx;
	if (m->count < 64)
		m->items[m->count++] = e;
}

static struct symbol_table table;

static void open_table(const char *env_name)
{
	char err[256];
	const char *path = test_env_path(env_name);
	cr_assert_eq(symbol_table_open(&table, path, err, sizeof err), ELF_OK, "%s: %s", path, err);
}

static void close_table(void)
{
	symbol_table_close(&table);
}

static size_t match(const char *pattern, enum match_mode mode, struct matches *m)
{
	memset(m, 0, sizeof *m);
	return symbol_table_match(&table, pattern, mode, collect, m);
}

/* The address nm reports for a defined symbol of binary (-D: in .dynsym), or 0. */
static unsigned long long nm_address_in(const char *binary, const char *mangled, bool dynamic)
{
	char *argv[] = { "/usr/bin/nm", "--defined-only", dynamic ? "-D" : (char *)binary, (char *)binary, NULL };
	if (!dynamic)
		argv[3] = NULL;
	struct run_result r;
	cr_assert_eq(run_program(argv, NULL, &r), 0, "cannot run nm");
	cr_assert_eq(r.status, 0, "nm failed: %s", r.err);
	unsigned long long addr = 0;
	for (char *line = strtok(r.out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		unsigned long long a;
		char type, name[4096];
		if (sscanf(line, "%llx %c %4095s", &a, &type, name) == 3 && strcmp(name, mangled) == 0)
			addr = a;
	}
	run_result_free(&r);
	return addr;
}

static unsigned long long nm_address(const char *binary, const char *mangled)
{
	return nm_address_in(binary, mangled, false);
}

TestSuite(symbol_table, .fini = close_table);

static void check_c_target(const char *env_name, uint16_t expected_type)
{
	open_table(env_name);
	cr_assert_eq(table.elf.e_type, expected_type);
	cr_assert(table.elf.has_symtab);
	struct matches m;
	const char *names[] = { "db_insert", "db_select", "row_hash", "handle_round", "main" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		cr_assert_eq(match(names[i], MATCH_EXACT, &m), 1, "%s: %zu matches", names[i], m.count);
		cr_assert_str_eq(m.items[0]->mangled, names[i]);
		cr_assert_eq(m.items[0]->scheme, DEMANGLE_NONE);
		cr_assert_gt(m.items[0]->size, 0);
		cr_assert_eq(m.items[0]->value, nm_address(test_env_path(env_name), names[i]), "%s", names[i]);
	}
	match("db_insert", MATCH_EXACT, &m);
	cr_assert_eq(m.items[0]->bind, STB_GLOBAL);
	match("row_hash", MATCH_EXACT, &m);
	cr_assert_eq(m.items[0]->bind, STB_LOCAL, "a static function is found through .symtab");
	cr_assert_eq(m.items[0]->source, ELF_FROM_SYMTAB);

	cr_assert_eq(match("db_*", MATCH_EXACT, &m), 2);
	cr_assert_lt(m.items[0]->value, m.items[1]->value, "results come in address order");
	cr_assert_eq(match("db_insrt", MATCH_EXACT, &m), 0);
	cr_assert_eq(match("insert", MATCH_SEARCH, &m), 0, "search matches whole segments, not substrings");
	cr_assert_eq(match("*insert", MATCH_SEARCH, &m), 1);

	/* Address lookup (stack traces): every byte of a body names its function, nm's addresses decide. */
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		match(names[i], MATCH_EXACT, &m);
		const struct symbol_entry *f = m.items[0];
		cr_assert_eq(symbol_table_find_address(&table, f->value), f, "%s entry", names[i]);
		cr_assert_eq(symbol_table_find_address(&table, f->value + f->size - 1), f, "%s last byte", names[i]);
		const struct symbol_entry *after = symbol_table_find_address(&table, f->value + f->size);
		cr_assert(after != f, "%s: the byte after its body is not its own", names[i]);
	}
	cr_assert_null(symbol_table_find_address(&table, 0), "below every function");
}

Test(symbol_table, c_target_pie)
{
	check_c_target("STDBTEL_TARGET_C_PIE", ET_DYN);
}

Test(symbol_table, c_target_non_pie)
{
	check_c_target("STDBTEL_TARGET_C_NOPIE", ET_EXEC);
}

static void check_rust_target(const char *env_name, enum demangle_scheme scheme)
{
	open_table(env_name);
	struct matches m;
	const char *path = "rust_target::db::relational_db::RelationalDB::insert";

	cr_assert_eq(match("RelationalDB::insert", MATCH_SEARCH, &m), 1);
	const struct symbol_entry *insert = m.items[0];
	cr_assert_eq(insert->scheme, scheme);
	cr_assert_str_eq(insert->key, path);
	cr_assert_gt(insert->size, 0);
	cr_assert_eq(insert->value, nm_address(test_env_path(env_name), insert->mangled));

	cr_assert_eq(match(path, MATCH_EXACT, &m), 1, "the full path matches exactly");
	cr_assert_eq(m.items[0], insert);
	cr_assert_eq(match("RelationalDB::insert", MATCH_EXACT, &m), 0, "the config needs the full path");
	cr_assert_eq(match(insert->mangled, MATCH_EXACT, &m), 1, "the mangled name matches");
	cr_assert_eq(m.items[0], insert);
	cr_assert_eq(match("rust_target::db::*::insert", MATCH_EXACT, &m), 1);
	cr_assert_eq(match("rust_target::*Relational*", MATCH_EXACT, &m), 1, "a glob with no literal last segment");

	/* A generic function: one symbol per instance, one path, all found. */
	cr_assert_eq(match("rust_target::scan_chunks", MATCH_EXACT, &m), 2);
	cr_assert_neq(m.items[0]->value, m.items[1]->value);

	/* A trait method. */
	cr_assert_eq(match("<rust_target::WasmtimeInstance as rust_target::WasmInstance>::call_reducer",
	                   MATCH_EXACT, &m), 1);
	cr_assert_eq(match("call_reducer", MATCH_SEARCH, &m), 1);
}

Test(symbol_table, rust_legacy_mangling)
{
	check_rust_target("STDBTEL_TARGET_RUST_LEGACY", DEMANGLE_RUST_LEGACY);
	struct matches m;
	match("RelationalDB::insert", MATCH_SEARCH, &m);
	const struct symbol_entry *insert = m.items[0];
	cr_assert_not_null(insert->hash);

	/* With the hash, as rustc-demangle prints it without {:#}. */
	char with_hash[512];
	snprintf(with_hash, sizeof with_hash, "%s::%.17s", insert->key, insert->hash);
	cr_assert_eq(match(with_hash, MATCH_EXACT, &m), 1, "%s", with_hash);
	with_hash[strlen(with_hash) - 1] ^= 1; /* a different hash */
	cr_assert_eq(match(with_hash, MATCH_EXACT, &m), 0);
}

Test(symbol_table, rust_v0_mangling)
{
	check_rust_target("STDBTEL_TARGET_RUST_V0", DEMANGLE_RUST_V0);
	struct matches m;
	cr_assert_eq(match("<rust_target::db::relational_db::RelationalDB>::insert", MATCH_EXACT, &m), 0,
	             "v0's display form is normalised to the path form");
}

Test(symbol_table, redis_server_exports_its_internals)
{
	const char *redis = "/usr/bin/redis-server";
	cr_assert_eq(access(redis, R_OK), 0, "%s is missing: install redis-server (scripts/test.sh does)", redis);
	char err[256];
	cr_assert_eq(symbol_table_open(&table, redis, err, sizeof err), ELF_OK, "%s", err);
	struct matches m;
	cr_assert_geq(match("call", MATCH_EXACT, &m), 1);
	cr_assert_str_eq(m.items[0]->mangled, "call");
	/* Debian strips redis-server: its functions come from .dynsym. */
	cr_assert_eq(m.items[0]->value, nm_address_in(redis, "call", !table.elf.has_symtab));
	cr_assert_eq(match("processCommand", MATCH_EXACT, &m), 1);
	cr_assert_gt(m.items[0]->size, 0);
}

Test(symbol_table, corrupt_file_is_an_error_not_a_crash)
{
	static const char garbage[] = "\x7f" "ELF\x02\x01\x01 this is not really an ELF file at all";
	char err[256];
	cr_assert_neq(symbol_table_open_mem(&table, garbage, sizeof garbage, err, sizeof err), ELF_OK);
	cr_assert_gt(strlen(err), 0);
	cr_assert_neq(symbol_table_open(&table, "/nonexistent", err, sizeof err), ELF_OK);
}
