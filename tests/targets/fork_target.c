/* SPDX-License-Identifier: MIT */
/*
 * fork_target.c: a program that forks while calling a hooked function, for
 * the fork tests (tests/preload/test_fork.c).
 *
 * Usage: fork_target P C Q G MODE [W]
 *   With W > 0, a second thread of the parent first calls work() W times
 *   and ends, leaving its records in its ring. The parent's main thread
 *   calls work() P times and forks at once (well inside the
 *   exporter's first interval, so its records are still in the rings).
 *   The child calls work() C times; when G > 0 it then forks a grandchild
 *   that calls work() G times and exits, and waits for it. The parent
 *   waits for the child and calls work() Q more times. MODE "main" forks
 *   from main(); MODE "hook" forks inside the hooked fork_in_hook(), and
 *   the child makes its C calls before that call returns in the child.
 *
 * The child also calls name_child() once with "child <pid>" in memory it
 * allocated after the fork, which only the child has there: a capture
 * that read the parent's memory would see something else.
 *
 * Each process prints one line on stdout when it is done (grandchild,
 * child, parent, in that order, since each waits for its own child) and
 * "fork_target: ROLE pid=N" on stderr, so a test can tell whose spans are
 * whose. Every process exits through exit(): with status 0 when it and its
 * descendants did what they were asked, 1 otherwise.
 *
 * Before each fork it waits (at most ~2 s) until its other threads (the
 * shim's exporter) are asleep: GCC 12's AddressSanitizer runtime does not
 * lock its allocator around fork, so a child forked while another thread
 * is inside it (a new thread's start-up allocates there) deadlocks at its
 * first allocation. glibc's own fork makes malloc safe, so without ASan
 * the wait changes nothing; the exporter's first drain comes 200 ms after
 * it starts, so its records are still undrained at fork either way.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The function the tests hook: local, never inlined or cloned. */
__attribute__((noipa)) static uint64_t work(uint64_t x)
{
	uint64_t h = 1469598103934665603ull ^ x;
	for (int i = 0; i < 8; i++)
		h = (h ^ (h >> 29)) * 1099511628211ull;
	return h;
}

/* Hooked with a cstring capture by one test. */
__attribute__((noipa)) static size_t name_child(const char *text)
{
	return strlen(text);
}

static uint64_t call_work(unsigned times)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < times; i++)
		sum += work(i);
	return sum;
}

static void *worker(void *times)
{
	return (void *)(uintptr_t)call_work((unsigned)(uintptr_t)times);
}

/* Waits until every other thread is asleep (state S), polling; gives up after ~2 s. */
static void wait_for_other_threads_to_sleep(void)
{
	for (int tries = 0; tries < 4000; tries++) {
		bool asleep = true;
		DIR *dir = opendir("/proc/self/task");
		if (dir == NULL)
			return;
		for (struct dirent *e; (e = readdir(dir)) != NULL;) {
			if (e->d_name[0] == '.' || atoi(e->d_name) == gettid())
				continue;
			char path[300], stat[512];
			snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue; /* gone */
			ssize_t n = read(fd, stat, sizeof stat - 1);
			close(fd);
			stat[n > 0 ? n : 0] = '\0';
			const char *paren = strrchr(stat, ')'); /* "tid (comm) S ..." */
			if (paren != NULL && paren[1] == ' ' && paren[2] != 'S')
				asleep = false;
		}
		closedir(dir);
		if (asleep)
			return;
		usleep(500);
	}
}

/* Waits for pid; true when it exited with status 0. */
static bool exited_cleanly(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void say_pid(const char *role)
{
	fprintf(stderr, "fork_target: %s pid=%d\n", role, (int)getpid());
}

/* The child's part (C calls, then the grandchild); returns its exit status. */
static int child_part(unsigned c, unsigned g)
{
	say_pid("child");
	uint64_t sum = call_work(c);
	char *text = malloc(32);
	bool ok = text != NULL;
	if (ok) {
		snprintf(text, 32, "child %d", (int)getpid());
		ok = name_child(text) == strlen(text);
		free(text);
	}
	if (g > 0) {
		fflush(stdout);
		wait_for_other_threads_to_sleep();
		pid_t pid = fork();
		if (pid == 0) {
			say_pid("grandchild");
			uint64_t gsum = call_work(g);
			printf("fork_target: grandchild %u calls, sum %llu\n", g, (unsigned long long)gsum);
			exit(0);
		}
		ok = exited_cleanly(pid);
	}
	printf("fork_target: child %u calls, sum %llu%s\n", c, (unsigned long long)sum, ok ? "" : ", grandchild failed");
	return ok ? 0 : 1;
}

/* fork(); in the child, runs child_part. Returns fork's result. */
__attribute__((noipa)) static pid_t fork_and_run_child(unsigned c, unsigned g, int *child_status)
{
	fflush(stdout);
	wait_for_other_threads_to_sleep();
	pid_t pid = fork();
	if (pid == 0)
		*child_status = child_part(c, g);
	return pid;
}

/* Hooked in MODE "hook": the fork happens inside this call. */
__attribute__((noipa)) static pid_t fork_in_hook(unsigned c, unsigned g, int *child_status)
{
	return fork_and_run_child(c, g, child_status);
}

int main(int argc, char **argv)
{
	if ((argc != 6 && argc != 7) || (strcmp(argv[5], "main") != 0 && strcmp(argv[5], "hook") != 0)) {
		fprintf(stderr, "usage: fork_target P C Q G main|hook [W]\n");
		return 2;
	}
	unsigned p = (unsigned)strtoul(argv[1], NULL, 10), c = (unsigned)strtoul(argv[2], NULL, 10);
	unsigned q = (unsigned)strtoul(argv[3], NULL, 10), g = (unsigned)strtoul(argv[4], NULL, 10);
	bool in_hook = strcmp(argv[5], "hook") == 0;
	unsigned w = argc == 7 ? (unsigned)strtoul(argv[6], NULL, 10) : 0;

	say_pid("parent");
	uint64_t sum = 0;
	if (w > 0) {
		pthread_t thread;
		void *worker_sum;
		if (pthread_create(&thread, NULL, worker, (void *)(uintptr_t)w) != 0 ||
		    pthread_join(thread, &worker_sum) != 0) {
			fprintf(stderr, "fork_target: cannot run the worker thread\n");
			return 1;
		}
		sum += (uint64_t)(uintptr_t)worker_sum;
	}
	sum += call_work(p);
	int child_status = 1;
	pid_t pid = in_hook ? fork_in_hook(c, g, &child_status) : fork_and_run_child(c, g, &child_status);
	if (pid == 0)
		exit(child_status);
	if (pid < 0) {
		perror("fork_target: fork");
		return 1;
	}
	bool ok = exited_cleanly(pid);
	sum += call_work(q);
	printf("fork_target: parent %u calls, sum %llu%s\n", w + p + q, (unsigned long long)sum, ok ? "" : ", child failed");
	exit(ok ? 0 : 1);
}
