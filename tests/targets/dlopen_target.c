/* SPDX-License-Identifier: MIT */
/*
 * dlopen_target.c: loads libdlopen_plugin.so by its bare name after main
 * starts (so the shim's constructor cannot have seen it), calls its
 * plugin_work N times, and writes N short records to /dev/null with
 * write(2) from inside the hooked local function emit_record (a write the
 * shim interposes, as a child span of emit_record's).
 *
 * Usage: dlopen_target N. Prints one line per 10 calls and a summary, so a
 * wrong return value changes the output. Exits 1 with a message when the
 * plugin cannot be loaded (which the shim's dlopen must never cause).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) static int emit_record(int fd, unsigned i)
{
	char rec[16];
	int len = snprintf(rec, sizeof rec, "rec %u\n", i);
	return (int)write(fd, rec, (size_t)len) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 3;
	void *lib = dlopen("libdlopen_plugin.so", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		printf("dlopen failed: %s\n", dlerror());
		return 1;
	}
	uint64_t (*work)(uint64_t, unsigned) = (uint64_t (*)(uint64_t, unsigned))dlsym(lib, "plugin_work");
	if (work == NULL) {
		printf("dlsym failed: %s\n", dlerror());
		return 1;
	}
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	uint64_t acc = 0;
	int write_errors = 0;
	for (unsigned i = 0; i < n; i++) {
		acc ^= work(i, 5 + i % 7);
		write_errors += emit_record(devnull, i) != 0;
		if (i % 10 == 9)
			printf("after %u calls: %016llx\n", i + 1, (unsigned long long)acc);
	}
	close(devnull);
	printf("dlopen_target: %u calls, %d write errors, %016llx\n", n, write_errors, (unsigned long long)acc);
	return 0;
}
