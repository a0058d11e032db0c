/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c: the `stdbtel` command as a user runs it.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static struct run_result cli(const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { (char *)test_env_path("STDBTEL_CLI"), (char *)a1, (char *)a2, (char *)a3, NULL };
	char *env[] = { "-STDBTEL_CONFIG", "-SPACETIMEDB_TELEMETRY_ENABLED", "-LD_PRELOAD", NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0);
	return r;
}

Test(cli, symbols_finds_relationaldb_insert_in_both_manglings)
{
	struct {
		const char *target, *mangled_prefix;
	} cases[] = {
		{ "STDBTEL_TARGET_RUST_LEGACY", "_ZN11rust_target2db13relational_db12RelationalDB6insert17h" },
		{ "STDBTEL_TARGET_RUST_V0", "_RNvMNtNtCs" },
	};
	for (size_t i = 0; i < 2; i++) {
		struct run_result r = cli("symbols", test_env_path(cases[i].target), "RelationalDB::insert");
		cr_assert_eq(r.status, 0, "stderr: %s", r.err);
		cr_assert_eq(count_lines_containing(r.out, "rust_target::db::relational_db::RelationalDB::insert"), 1,
		             "stdout:\n%s", r.out);
		cr_assert_eq(count_lines_containing(r.out, cases[i].mangled_prefix), 1, "stdout:\n%s", r.out);
		cr_assert_eq(count_lines_containing(r.out, "local"), 1, "binding column: %s", r.out);
		run_result_free(&r);
	}
}

Test(cli, symbols_finds_redis_call)
{
	cr_assert_eq(access("/usr/bin/redis-server", R_OK), 0,
	             "/usr/bin/redis-server is missing: install redis-server (scripts/test.sh does)");
	struct run_result r = cli("symbols", "/usr/bin/redis-server", "call");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_geq(count_lines_containing(r.out, " call  call"), 1, "stdout:\n%s", r.out);
	run_result_free(&r);
}

Test(cli, symbols_lists_everything_without_a_pattern)
{
	struct run_result r = cli("symbols", test_env_path("STDBTEL_TARGET_C_PIE"), NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_geq(count_lines_containing(r.out, "db_insert"), 1);
	cr_assert_geq(count_lines_containing(r.out, "row_hash"), 1);
	cr_assert_eq(count_lines_containing(r.out, "ADDRESS"), 1, "one header line");
	run_result_free(&r);
}

Test(cli, symbols_says_whether_each_function_can_be_hooked)
{
	struct run_result r = cli("symbols", test_env_path("STDBTEL_TARGET_C_PIE"), "db_insert");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines_containing(r.out, "HOOKABLE"), 1, "header: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, " yes "), 1, "db_insert is an ordinary -O2 function: %s", r.out);
	run_result_free(&r);
	/* _init has no symbol size, so its body cannot be scanned for branches. */
	r = cli("symbols", test_env_path("STDBTEL_TARGET_C_PIE"), "_init");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines_containing(r.out, "unknown size"), 1, "stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "(the symbol has no size"), 1, "the reason ends the line: %s", r.out);
	run_result_free(&r);
}

Test(cli, symbols_without_a_match_exits_1)
{
	struct run_result r = cli("symbols", test_env_path("STDBTEL_TARGET_C_PIE"), "no_such_function");
	cr_assert_eq(r.status, 1);
	cr_assert_eq(count_lines_containing(r.err, "stdbtel: no function in"), 1, "stderr: %s", r.err);
	run_result_free(&r);
}

Test(cli, symbols_on_a_bad_file_exits_2)
{
	struct run_result r = cli("symbols", "/nonexistent/binary", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert_eq(count_lines_containing(r.err, "stdbtel: /nonexistent/binary:"), 1, "stderr: %s", r.err);
	run_result_free(&r);
	char *text = write_temp_file("not an ELF file\n", ".bin");
	r = cli("symbols", text, NULL);
	unlink(text);
	free(text);
	cr_assert_eq(r.status, 2);
	cr_assert_eq(count_lines_containing(r.err, "stdbtel: "), 1, "stderr: %s", r.err);
	run_result_free(&r);
}

Test(cli, check_reports_syntax_errors_with_position)
{
	char *config = write_temp_file("[telemetry]\nenabled = true\n[[hook]\nsymbol = \"x\"\n", ".toml");
	struct run_result r = cli("check", config, NULL);
	cr_assert_eq(r.status, 1);
	char needle[4200];
	snprintf(needle, sizeof needle, "stdbtel: %s:3:", config);
	cr_assert_eq(count_lines_containing(r.err, needle), 1, "stderr: %s", r.err);
	unlink(config);
	free(config);
	run_result_free(&r);
}

Test(cli, check_resolves_hooks_in_a_binary)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/symbols/demo.toml", test_env_path("STDBTEL_SOURCE_ROOT"));
	struct run_result r = cli("check", path, test_env_path("STDBTEL_TARGET_C_PIE"));
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(count_lines_containing(r.out, ": ok: 4 hooks"), 1, "stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "4 of 4 hooks resolved to 4 functions"), 1, "stdout: %s", r.out);
	run_result_free(&r);
}

Test(cli, check_says_what_http_follows_and_counts_only_symbol_hooks)
{
	char *path = write_temp_file("[[hook]]\nsymbol = \"db_insert\"\n[http]\nports = [3000, 8080]\n"
	                             "routes = [\"/v1/ping\", \"/v1/database/{name_or_identity}/call/{reducer}\"]\n"
	                             "params = { reducer = \"spacetimedb.reducer.name\" }\n", ".toml");
	struct run_result r = cli("check", path, test_env_path("STDBTEL_TARGET_C_PIE"));
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(count_lines_containing(r.out, ": ok: 1 hooks"), 1, "stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "[http]: requests on ports 3000, 8080 timed at the socket layer, "
	                                           "2 routes, 1 path parameter kept"), 1, "stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "1 of 1 hooks resolved to 1 functions"), 1, "stdout: %s", r.out);
	run_result_free(&r);
	unlink(path);
	free(path);
}

Test(cli, check_says_how_each_function_would_be_hooked)
{
	/* In a program: its functions are patched (with the plan). In libc: a
	 * function the shim wraps is interposed unless via says patch, and a
	 * required hook that cannot be served fails the check. */
	char *program = write_temp_file("[[hook]]\nsymbol = \"db_insert\"\n", ".toml");
	struct run_result r = cli("check", program, test_env_path("STDBTEL_TARGET_C_PIE"));
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(count_lines_containing(r.out, "patched      db_insert (patch +0x0.."), 1, "stdout: %s", r.out);
	run_result_free(&r);

	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	char *library = write_temp_file("[[hook]]\nsymbol = \"write\"\nobject = \"libc.so*\"\n"
	                                "[[hook]]\nsymbol = \"read\"\nobject = \"libc.so*\"\nvia = \"patch\"\n"
	                                "[[hook]]\nsymbol = \"getpid\"\nobject = \"libc.so*\"\nvia = \"interpose\"\n",
	                                ".toml");
	r = cli("check", library, libc);
	cr_assert_eq(r.status, 1, "getpid cannot be interposed: stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "interposed   write"), 1, "stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "patched      read (patch"), 1, "stdout: %s", r.out);
	cr_assert_eq(count_lines_containing(r.out, "NOT HOOKABLE getpid (via = \"interpose\", but the shim wraps only"), 1,
	             "stdout: %s", r.out);
	run_result_free(&r);
	unlink(program);
	unlink(library);
	free(program);
	free(library);
}

Test(cli, check_fails_on_an_unresolved_symbol)
{
	char *config = write_temp_file("[[hook]]\nsymbol = \"db_insert\"\n[[hook]]\nsymbol = \"gone\"\n", ".toml");
	struct run_result r = cli("check", config, test_env_path("STDBTEL_TARGET_C_PIE"));
	cr_assert_eq(r.status, 1);
	cr_assert_eq(count_lines_containing(r.err, "no function matches symbol \"gone\""), 1, "stderr: %s", r.err);
	cr_assert_eq(count_lines_containing(r.out, "1 of 2 hooks resolved"), 1, "stdout: %s", r.out);
	unlink(config);
	free(config);
	run_result_free(&r);
}

Test(cli, help_and_usage_errors)
{
	struct run_result r = cli("--help", NULL, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_geq(count_lines_containing(r.out, "symbols BINARY [PATTERN]"), 1);
	cr_assert_geq(count_lines_containing(r.out, "check [CONFIG [BINARY]]"), 1);
	run_result_free(&r);
	r = cli("frobnicate", NULL, NULL);
	cr_assert_eq(r.status, 2);
	cr_assert_eq(count_lines_containing(r.err, "unknown command 'frobnicate'"), 1);
	run_result_free(&r);
	r = cli("version", NULL, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines_containing(r.out, "stdbtel "), 1);
	run_result_free(&r);
}

static struct run_result cli_argv(char *const args[])
{
	char *argv[16] = { (char *)test_env_path("STDBTEL_CLI") };
	size_t n = 1;
	for (; args[n - 1] != NULL && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	char *env[] = { "-STDBTEL_CONFIG", "-SPACETIMEDB_TELEMETRY_ENABLED", "-LD_PRELOAD", NULL };
	struct run_result r;
	cr_assert_eq(run_program(argv, env, &r), 0);
	return r;
}

/*
 * `stdbtel config` writes one hook per function `symbols` calls hookable
 * (counted here from its listing), refuses the entry point, and what it
 * writes is a config `check` accepts, every hook resolved and patched.
 */
Test(cli, config_hooks_every_hookable_function_and_checks_clean)
{
	const char *target = test_env_path("STDBTEL_TARGET_C_PIE");
	struct run_result list = cli("symbols", target, NULL);
	cr_assert_eq(list.status, 0);
	size_t hookable = count_lines_containing(list.out, "  yes  ");
	cr_assert_gt(hookable, 3, "symbols lists the target's functions:\n%s", list.out);
	cr_assert_eq(count_lines_containing(list.out, "  entry point        _start  _start"), 1, "_start is refused:\n%s", list.out);

	struct run_result gen = cli_argv((char *const[]){ "config", (char *)target, "--metrics", "t.fn", NULL });
	cr_assert_eq(gen.status, 0, "stderr: %s", gen.err);
	cr_assert_eq(count_lines_containing(gen.out, "[[hook]]"), hookable, "one hook per hookable function:\n%s",
	             gen.out);
	cr_assert_eq(count_lines_containing(gen.out, "count = \"t.fn.db_insert.calls\""), 1, "stdout:\n%s", gen.out);
	cr_assert_eq(count_lines_containing(gen.out, "# _start: entry point"), 1, "stdout:\n%s", gen.out);
	char summary[96];
	snprintf(summary, sizeof summary, ": %zu of ", hookable);
	cr_assert_eq(count_lines_containing(gen.err, summary), 1, "the summary counts them: %s", gen.err);

	char path[] = "/tmp/stdbtel-cli-config-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, gen.out, strlen(gen.out)), (ssize_t)strlen(gen.out));
	close(fd);
	struct run_result check = cli("check", path, target);
	unlink(path);
	cr_assert_eq(check.status, 0, "check of the generated config: %s\n%s", check.out, check.err);
	snprintf(summary, sizeof summary, ": %zu of %zu hooks resolved", hookable, hookable);
	cr_assert_eq(count_lines_containing(check.out, summary), 1, "stdout:\n%s", check.out);
	cr_assert_eq(count_lines_containing(check.out, " patched "), hookable, "stdout:\n%s", check.out);
	run_result_free(&list);
	run_result_free(&gen);
	run_result_free(&check);
}

Test(cli, config_without_a_binary_is_a_usage_error)
{
	struct run_result r = cli("config", NULL, NULL);
	cr_assert_eq(r.status, 2);
	cr_assert_eq(count_lines_containing(r.err, "config takes BINARY"), 1, "stderr: %s", r.err);
	run_result_free(&r);
}
