/* SPDX-License-Identifier: MIT */
/*
 * c_target.c: a tiny in-memory "database" with known functions, built as
 * PIE and non-PIE at -O2: static (local) and global functions of several
 * shapes, for the resolver tests, the preload tests and the demo.
 *
 * Usage: c_target [N]   runs N rounds of inserts and selects (default 3),
 * prints a summary line, and exits with status 0.
 * With C_TARGET_PRINT_ADDRESSES=1 it also prints its functions' addresses,
 * so a test can compare them with what the shim resolved. With
 * C_TARGET_SELF_CHECK=1 it prints the first bytes of db_insert and how many
 * threads it has, so a test sees whether anything patched or started.
 * With C_TARGET_DAEMON_FILE=path it first behaves like a daemon that
 * closes every descriptor above 2 and then opens its own data file at
 * path, and writes its summary line there too. With C_TARGET_PEAK_RSS=1
 * it prints its peak resident memory (VmHWM) on stderr last, so stdout
 * stays the same with and without it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TABLES 4
#define ROWS 64

struct table {
	uint64_t hashes[ROWS];
	size_t rows;
};

static struct table tables[TABLES];

/* Local symbol: the resolver must find it through .symtab. */
__attribute__((noinline)) static uint64_t row_hash(const char *row, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)row[i]) * 1099511628211ull;
	return h;
}

/* Returns 0 on success, -1 when the table is full or does not exist. */
__attribute__((noinline)) int db_insert(uint32_t table, const char *row, size_t len)
{
	if (table >= TABLES || tables[table].rows == ROWS)
		return -1;
	tables[table].hashes[tables[table].rows++] = row_hash(row, len);
	return 0;
}

/* Returns how many rows of table have a hash with the given low bit. */
__attribute__((noinline)) size_t db_select(uint32_t table, unsigned low_bit)
{
	size_t n = 0;
	if (table >= TABLES)
		return 0;
	for (size_t i = 0; i < tables[table].rows; i++)
		n += (tables[table].hashes[i] & 1) == low_bit;
	return n;
}

__attribute__((noinline)) static size_t handle_round(unsigned round)
{
	char row[32];
	int len = snprintf(row, sizeof row, "row-%u", round);
	db_insert(round % TABLES, row, (size_t)len);
	return db_select(round % TABLES, round & 1);
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 3;
	const char *daemon_file = getenv("C_TARGET_DAEMON_FILE");
	int data_fd = -1;
	if (daemon_file != NULL) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		data_fd = open(daemon_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (data_fd < 0) {
			perror(daemon_file);
			return 1;
		}
	}
	size_t selected = 0;
	for (unsigned r = 0; r < rounds; r++)
		selected += handle_round(r);
	const char *print = getenv("C_TARGET_PRINT_ADDRESSES");
	if (print != NULL && strcmp(print, "1") == 0)
		printf("db_insert=%p db_select=%p row_hash=%p\n", (void *)db_insert, (void *)db_select,
		       (void *)row_hash);
	const char *check = getenv("C_TARGET_SELF_CHECK");
	if (check != NULL && strcmp(check, "1") == 0) {
		const unsigned char *code = (const unsigned char *)(void *)db_insert;
		int threads = 0;
		DIR *d = opendir("/proc/self/task");
		for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
			threads += e->d_name[0] != '.';
		if (d != NULL)
			closedir(d);
		printf("db_insert starts %02x %02x %02x %02x %02x %02x %02x %02x %02x; %d threads\n", code[0], code[1],
		       code[2], code[3], code[4], code[5], code[6], code[7], code[8], threads);
	}
	printf("c_target: %u rounds, %zu rows selected\n", rounds, selected);
	const char *peak = getenv("C_TARGET_PEAK_RSS");
	if (peak != NULL && strcmp(peak, "1") == 0) {
		FILE *st = fopen("/proc/self/status", "r");
		char line[256];
		while (st != NULL && fgets(line, sizeof line, st) != NULL)
			if (strncmp(line, "VmHWM:", 6) == 0)
				fprintf(stderr, "c_target peak rss:%s", line + 6);
		if (st != NULL)
			fclose(st);
	}
	if (data_fd >= 0) {
		/* the exporter runs on meanwhile: give it a drain or two while our file is open */
		struct timespec nap = { 1, 500 * 1000000L }; /* 1.5 s: room for a loaded machine */
		nanosleep(&nap, NULL);
		dprintf(data_fd, "c_target: %u rounds, %zu rows selected\n", rounds, selected);
		close(data_fd);
	}
	return 0;
}
