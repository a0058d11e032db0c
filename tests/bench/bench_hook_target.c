/* SPDX-License-Identifier: MIT */
/*
 * bench_hook_target.c: calls a trivial function in a loop and prints the
 * time per call. scripts/bench.sh runs it with and without libstdbtel.so
 * hooking bench_work, alternately, so the difference is the cost of a
 * hooked call (unsampled: the rate limit admits 100 traces a second).
 *
 * The loop is timed in this thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * not wall time: on a busy machine, time spent descheduled (other
 * processes, the shim's own exporter thread on the other core) would
 * otherwise be counted as the cost of the calls.
 *
 * usage: bench_hook_target CALLS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) uint64_t bench_work(uint64_t x)
{
	__asm__ volatile("" : "+r"(x)); /* keep the call and its argument */
	return x * 3 + 1;
}

int main(int argc, char **argv)
{
	uint64_t calls = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	struct timespec a, b;
	uint64_t acc = 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (uint64_t i = 0; i < calls; i++)
		acc += bench_work(i);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)calls;
	printf("%.2f ns/call (checksum %llu)\n", ns, (unsigned long long)acc);
	return 0;
}
