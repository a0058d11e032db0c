/* SPDX-License-Identifier: MIT */
/*
 * bench_resolve.c: how long start-up resolution takes, the way the shim
 * does it (read symbols, demangle, index, match every hook of a config).
 *
 * usage: bench_resolve BINARY CONFIG [RUNS]
 * Prints the median and range over RUNS (default 7) of the whole resolve,
 * and of the part spent matching once the table is built.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "targets.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_resolve BINARY CONFIG [RUNS]\n");
		return 2;
	}
	int runs = argc > 3 ? atoi(argv[3]) : 7;
	if (runs < 1 || runs > 1000)
		runs = 7;
	setenv("STDBTEL_CONFIG", argv[2], 1);
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	if (config_load(&cfg, "/nonexistent", &diags) != 0) {
		for (size_t i = 0; i < diags.count; i++)
			fprintf(stderr, "%s\n", diags.items[i].text);
		return 1;
	}
	double total[1000], matching[1000];
	size_t symbols = 0, functions = 0, resolved = 0;
	for (int r = 0; r < runs; r++) {
		struct target_object object = { .path = argv[1], .name = argv[1], .is_main = true };
		double t0 = now_ms();
		/* Open first so the two phases can be told apart; targets_resolve reuses it. */
		char err[256];
		if (symbol_table_open(&object.table, argv[1], err, sizeof err) != ELF_OK) {
			fprintf(stderr, "%s: %s\n", argv[1], err);
			return 1;
		}
		object.opened = true;
		double t1 = now_ms();
		struct target_set set;
		if (targets_resolve(&cfg, &object, 1, &set, NULL, NULL) != 0)
			return 1;
		double t2 = now_ms();
		total[r] = t2 - t0;
		matching[r] = t2 - t1;
		symbols = object.table.elf.nsymbols;
		functions = object.table.count;
		resolved = set.hooks_resolved;
		targets_free(&set);
		target_objects_close(&object, 1);
	}
	qsort(total, (size_t)runs, sizeof total[0], compare_double);
	qsort(matching, (size_t)runs, sizeof matching[0], compare_double);
	printf("%s: %zu symbols, %zu functions; %zu of %zu hooks resolved\n", argv[1], symbols, functions,
	       resolved, cfg.nhooks);
	printf("resolve (read + demangle + index + match): median %.1f ms (min %.1f, max %.1f) over %d runs\n",
	       total[runs / 2], total[0], total[runs - 1], runs);
	printf("match only:                                median %.2f ms (min %.2f, max %.2f)\n",
	       matching[runs / 2], matching[0], matching[runs - 1]);
	config_free(&cfg);
	return 0;
}
