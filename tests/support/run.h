/* SPDX-License-Identifier: MIT */
/*
 * run.h: test support: run a program and capture what it did.
 */
#ifndef STDBTEL_TEST_RUN_H
#define STDBTEL_TEST_RUN_H

#include <stddef.h>

struct run_result {
	char *out;      /* everything written to stdout, NUL-terminated */
	char *err;      /* everything written to stderr */
	int status;     /* exit status, or 128 + signal number */
};

/*
 * Runs argv[0] (a path) with argv, in the current environment plus env
 * (NULL-terminated "NAME=value" strings, or "-NAME" to remove NAME). Returns 0, or -1 when the program could not be started.
 */
int run_program(char *const argv[], char *const env[], struct run_result *r);

void run_result_free(struct run_result *r);

/* Reads a required environment variable set by tests/meson.build; aborts the test if missing. */
const char *test_env_path(const char *name);

/*
 * The environment entry that preloads libstdbtel.so (STDBTEL_LIBRARY) into a
 * program started by run_program: "LD_PRELOAD=<library>", or in a sanitizer
 * build "LD_PRELOAD=<runtime>:<library>", the runtime named by
 * STDBTEL_PRELOAD_FIRST (tests/meson.build), because the ASan runtime must be
 * the first object loaded. Every test that preloads the shim uses this.
 * The string is static; aborts the test if STDBTEL_LIBRARY is missing.
 */
const char *test_preload_value(void);

/* Writes text to a new file under /tmp named with suffix; returns its path (free() it, unlink() it). */
char *write_temp_file(const char *text, const char *suffix);

/* Number of lines of text containing needle. */
size_t count_lines_containing(const char *text, const char *needle);

#endif
