/* SPDX-License-Identifier: MIT */
/* run.c: fork/exec with both output streams captured through pipes. */
#define _GNU_SOURCE
#include "run.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct buffer {
	char *data;
	size_t len;
};

static void buffer_read(struct buffer *b, int fd, int *open_flag)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		*open_flag = 0;
		return;
	}
	b->data = realloc(b->data, b->len + (size_t)n + 1);
	memcpy(b->data + b->len, chunk, (size_t)n);
	b->len += (size_t)n;
	b->data[b->len] = '\0';
}

int run_program(char *const argv[], char *const env[], struct run_result *r)
{
	int out_pipe[2], err_pipe[2];
	memset(r, 0, sizeof *r);
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(out_pipe[1], STDOUT_FILENO);
		dup2(err_pipe[1], STDERR_FILENO);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
			if (env[i][0] == '-') {
				unsetenv(env[i] + 1);
				continue;
			}
			const char *eq = strchr(env[i], '=');
			if (eq == NULL)
				continue;
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
			setenv(name, eq + 1, 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	struct buffer out = { 0 }, err = { 0 };
	int out_open = 1, err_open = 1;
	while (out_open || err_open) {
		struct pollfd fds[2] = { { out_pipe[0], POLLIN, 0 }, { err_pipe[0], POLLIN, 0 } };
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (out_open && (fds[0].revents & (POLLIN | POLLHUP)))
			buffer_read(&out, out_pipe[0], &out_open);
		if (err_open && (fds[1].revents & (POLLIN | POLLHUP)))
			buffer_read(&err, err_pipe[0], &err_open);
	}
	close(out_pipe[0]);
	close(err_pipe[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = out.data ? out.data : strdup("");
	r->err = err.data ? err.data : strdup("");
	return 0;
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

const char *test_env_path(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v != NULL && v[0] != '\0', "%s is not set: run the tests with `meson test` (scripts/test.sh)", name);
	return v;
}

const char *test_preload_value(void)
{
	static char value[8192];
	const char *library = test_env_path("STDBTEL_LIBRARY");
	const char *first = getenv("STDBTEL_PRELOAD_FIRST");
	int n = first != NULL && first[0] != '\0'
	                ? snprintf(value, sizeof value, "LD_PRELOAD=%s:%s", first, library)
	                : snprintf(value, sizeof value, "LD_PRELOAD=%s", library);
	cr_assert(n > 0 && (size_t)n < sizeof value, "LD_PRELOAD value too long");
	return value;
}

size_t count_lines_containing(const char *text, const char *needle)
{
	size_t n = 0;
	const char *line = text;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (memmem(line, len, needle, strlen(needle)) != NULL)
			n++;
		line += len + (nl ? 1 : 0);
	}
	return n;
}

char *write_temp_file(const char *text, const char *suffix)
{
	char *path = NULL;
	cr_assert_geq(asprintf(&path, "/tmp/stdbtel-test-XXXXXX%s", suffix), 0);
	int fd = mkstemps(path, (int)strlen(suffix));
	cr_assert_geq(fd, 0, "cannot create %s", path);
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}
