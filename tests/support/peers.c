/* SPDX-License-Identifier: MIT */
/*
 * peers.c: test support: starting, reading and stopping the OTLP receiver
 * and the statsd daemon (contract in peers.h).
 */
#define _GNU_SOURCE
#include "peers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- shared helpers ---- */

uint64_t peers_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *peers_read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	cr_assert_not_null(buf);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

uint16_t peers_free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- the OTLP receiver ---- */

/* Debian's python3 when there is one: a version manager's shim on PATH may take seconds to start. */
static const char *python3(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

pid_t peer_start(char *const argv[], char *const env[], const char *what, char *line, size_t linesz)
{
	/* stdout goes to a file, not a pipe: a peer that prints after its first line must not die of EPIPE */
	char out_path[] = "/tmp/stdbtel-peer-out-XXXXXX";
	int out = mkstemp(out_path);
	cr_assert(out >= 0, "mkstemp: %s", strerror(errno));
	unlink(out_path);
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		dup2(out, STDOUT_FILENO);
		if (env != NULL)
			execve(argv[0], argv, env);
		else
			execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s (needed for %s)\n", argv[0], strerror(errno), what);
		_exit(127);
	}
	memset(line, 0, linesz);
	for (int waited_ms = 0;; waited_ms += 10) {
		ssize_t n = pread(out, line, linesz - 1, 0);
		if (n > 0 && memchr(line, '\n', (size_t)n) != NULL) {
			*strchr(line, '\n') = '\0';
			break;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			close(out);
			cr_assert_fail("%s exited before printing its first line", what);
		}
		if (waited_ms >= 10000) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(out);
			cr_assert_fail("%s printed no first line within 10 s", what);
		}
		poll(NULL, 0, 10);
	}
	close(out);
	return pid;
}

void otlp_receiver_start(struct otlp_receiver *rcv, const char *script, const char *cert, const char *key)
{
	const char *root = getenv("STDBTEL_SOURCE_ROOT");
	cr_assert(root != NULL && *root, "STDBTEL_SOURCE_ROOT is not set (tests/meson.build test_env sets it)");
	char path[512];
	snprintf(path, sizeof path, "%s/tests/support/otlp_receiver.py", root);
	cr_assert(access(path, R_OK) == 0, "missing %s", path);
	snprintf(rcv->dir, sizeof rcv->dir, "/tmp/stdbtel-otlp-rcv-XXXXXX");
	cr_assert(mkdtemp(rcv->dir) != NULL, "mkdtemp: %s", strerror(errno));
	char *argv[] = { (char *)python3(), path, rcv->dir, (char *)script, (char *)cert, (char *)key, NULL };
	if (cert == NULL)
		argv[4] = NULL;
	char line[32];
	rcv->pid = peer_start(argv, NULL, "the OTLP receiver (python3)", line, sizeof line);
	rcv->port = atoi(line);
	cr_assert(rcv->port > 0 && rcv->port < 65536, "bad port line \"%s\"", line);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void otlp_receiver_stop(struct otlp_receiver *rcv)
{
	if (rcv->pid > 0) {
		kill(rcv->pid, SIGTERM);
		waitpid(rcv->pid, NULL, 0);
		rcv->pid = 0;
	}
	if (rcv->dir[0]) {
		nftw(rcv->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
		rcv->dir[0] = '\0';
	}
}

size_t otlp_receiver_count(const struct otlp_receiver *rcv)
{
	size_t n = 0;
	char path[300];
	for (;;) {
		snprintf(path, sizeof path, "%s/%04zu.meta", rcv->dir, n);
		if (access(path, F_OK) != 0)
			return n;
		n++;
	}
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc((size_t)n + 1);
	cr_assert(buf != NULL);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void otlp_receiver_request(const struct otlp_receiver *rcv, size_t index, struct otlp_request *r)
{
	memset(r, 0, sizeof *r);
	char path[300];
	snprintf(path, sizeof path, "%s/%04zu.meta", rcv->dir, index);
	FILE *f = fopen(path, "r");
	cr_assert(f != NULL, "request %zu was not recorded", index);
	char line[512];
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "method ", 7) == 0)
			copy_text(r->method, sizeof r->method, line + 7);
		else if (strncmp(line, "path ", 5) == 0)
			copy_text(r->path, sizeof r->path, line + 5);
		else if (strncmp(line, "time ", 5) == 0)
			r->time = strtod(line + 5, NULL);
		else if (strncmp(line, "client_port ", 12) == 0)
			r->client_port = atoi(line + 12);
		else if (strncmp(line, "gzip_error ", 11) == 0)
			copy_text(r->gzip_error, sizeof r->gzip_error, line + 11);
		else if (strncmp(line, "header ", 7) == 0 && r->nheaders < 32)
			copy_text(r->headers[r->nheaders++], sizeof r->headers[0], line + 7);
	}
	fclose(f);
	snprintf(r->body_path, sizeof r->body_path, "%s/%04zu.body", rcv->dir, index);
	r->body = read_all(r->body_path, &r->body_len);
	snprintf(path, sizeof path, "%s/%04zu.raw", rcv->dir, index);
	r->raw = read_all(path, &r->raw_len);
}

const char *otlp_request_header(const struct otlp_request *r, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':') {
			cr_assert(found == NULL, "header %s sent twice", name);
			found = r->headers[i] + n + 2;
		}
	}
	return found;
}

void otlp_request_free(struct otlp_request *r)
{
	free(r->body);
	free(r->raw);
	r->body = r->raw = NULL;
}

/* ---- the statsd daemon ---- */

static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	if (path == NULL)
		return NULL;
	char *copy = strdup(path), *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		char full[4096];
		snprintf(full, sizeof(full), "%s/%s", dir, name);
		if (access(full, X_OK) == 0) {
			free(copy);
			return strdup(full);
		}
	}
	free(copy);
	return NULL;
}

/* Flush k (1-based) of the flush file, without its "flush" line, or NULL while it is not complete. */
static char *flush_block(const char *text, size_t k)
{
	const char *start = text;
	size_t seen = 0;
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		if (end == NULL)
			return NULL; /* a partial line: the flush is still being written */
		if (strncmp(line, "flush\t", 6) == 0) {
			if (++seen == k)
				return strndup(start, (size_t)(line - start));
			start = end + 1;
		}
		line = end + 1;
	}
	return NULL;
}

static size_t flushes_in(const char *text)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "flush\t")) != NULL; p++)
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

static bool daemon_alive(const struct statsd_daemon *d)
{
	int status;
	return d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == 0;
}

void statsd_daemon_stop(struct statsd_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		uint64_t deadline = peers_now_ms() + 2000;
		int status;
		while (waitpid(d->pid, &status, WNOHANG) == 0) {
			if (peers_now_ms() > deadline) {
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &status, 0);
				break;
			}
			usleep(10000);
		}
	}
	d->pid = -1;
	if (d->dir[0] != '\0') {
		unlink(d->config_path);
		unlink(d->flush_path);
		unlink(d->log_path);
		rmdir(d->dir);
		d->dir[0] = '\0';
	}
}

/* Starts statsd on fresh ports; true once its first flush is written, false if it exited first (a port taken). */
static bool daemon_try_start(struct statsd_daemon *d, const char *node, const char *stats_js, const char *backend)
{
	d->port = peers_free_port(SOCK_DGRAM);
	uint16_t mgmt_port = peers_free_port(SOCK_STREAM);
	FILE *f = fopen(d->config_path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "{\n  address: \"127.0.0.1\", port: %u,\n  mgmt_address: \"127.0.0.1\", mgmt_port: %u,\n"
	        "  flushInterval: %d, deleteIdleStats: true, percentThreshold: [90],\n"
	        "  backends: [\"%s\"],\n  stdbtelFlushFile: \"%s\"\n}\n",
	        d->port, mgmt_port, d->flush_ms, backend, d->flush_path);
	fclose(f);
	unlink(d->flush_path);

	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int log = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		execl(node, node, stats_js, d->config_path, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	uint64_t deadline = peers_now_ms() + 20000;
	while (peers_now_ms() < deadline) {
		if (statsd_daemon_flushes(d) > 0)
			return true;
		if (!daemon_alive(d)) {
			d->pid = -1;
			return false;
		}
		usleep(10000);
	}
	char *output = peers_read_text(d->log_path);
	cr_assert_fail("statsd wrote no flush within 20 s; its output:\n%s", output ? output : "(none)");
	free(output);
	return false;
}

void statsd_daemon_start(struct statsd_daemon *d, int flush_ms)
{
	d->pid = -1;
	d->flush_ms = flush_ms;
	const char *modules = getenv("STDBTEL_NODE_MODULES");
	cr_assert(modules != NULL && modules[0] != '\0',
	          "STDBTEL_NODE_MODULES is not set: scripts/test.sh installs statsd@0.9.0 and sets it "
	          "(by hand: export STDBTEL_NODE_MODULES=<repo>/build-npm/node_modules)");
	char stats_js[4096];
	snprintf(stats_js, sizeof(stats_js), "%s/statsd/stats.js", modules);
	cr_assert_eq(access(stats_js, R_OK), 0, "%s is missing: npm package statsd@0.9.0 not installed", stats_js);
	char *node = find_in_path("node");
	cr_assert_not_null(node, "node is not in PATH: the statsd daemon needs it (Debian package nodejs)");
	const char *root = getenv("STDBTEL_SOURCE_ROOT");
	cr_assert_not_null(root, "STDBTEL_SOURCE_ROOT is not set (tests/meson.build sets it)");
	char backend[4096];
	snprintf(backend, sizeof(backend), "%s/tests/support/statsd_flush_backend.js", root);
	cr_assert_eq(access(backend, R_OK), 0, "%s is missing", backend);

	snprintf(d->dir, sizeof(d->dir), "/tmp/stdbtel-statsd-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir));
	snprintf(d->config_path, sizeof(d->config_path), "%s/config.js", d->dir);
	snprintf(d->flush_path, sizeof(d->flush_path), "%s/flushes.tsv", d->dir);
	snprintf(d->log_path, sizeof(d->log_path), "%s/statsd.log", d->dir);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (daemon_try_start(d, node, stats_js, backend)) {
			free(node);
			return;
		}
	}
	free(node);
	char *output = peers_read_text(d->log_path);
	cr_assert_fail("statsd exited before its first flush, three times; its output:\n%s", output ? output : "(none)");
	free(output);
}

size_t statsd_daemon_flushes(const struct statsd_daemon *d)
{
	char *text = peers_read_text(d->flush_path);
	size_t n = text ? flushes_in(text) : 0;
	free(text);
	return n;
}

size_t statsd_daemon_next_flush(const struct statsd_daemon *d)
{
	size_t seen = statsd_daemon_flushes(d);
	uint64_t deadline = peers_now_ms() + 10 * (uint64_t)d->flush_ms + 5000;
	while (peers_now_ms() < deadline) {
		size_t n = statsd_daemon_flushes(d);
		if (n > seen)
			return n;
		cr_assert(daemon_alive(d), "statsd exited");
		usleep(2000);
	}
	cr_assert_fail("statsd stopped flushing");
	return 0;
}

char *statsd_daemon_flush(const struct statsd_daemon *d, size_t k)
{
	uint64_t deadline = peers_now_ms() + 10 * (uint64_t)d->flush_ms + 5000;
	while (peers_now_ms() < deadline) {
		char *text = peers_read_text(d->flush_path);
		char *block = text ? flush_block(text, k) : NULL;
		free(text);
		if (block != NULL)
			return block;
		cr_assert(daemon_alive(d), "statsd exited");
		usleep(5000);
	}
	cr_assert_fail("no flush %zu from statsd", k);
	return NULL;
}

double statsd_flush_value(const char *block, const char *kind, const char *key, const char *field)
{
	char want[1024];
	if (field != NULL)
		snprintf(want, sizeof(want), "%s\t%s\t%s\t", kind, key, field);
	else
		snprintf(want, sizeof(want), "%s\t%s\t", kind, key);
	size_t n = strlen(want);
	for (const char *line = block; *line != '\0';) {
		if (strncmp(line, want, n) == 0)
			return strtod(line + n, NULL);
		const char *end = strchr(line, '\n');
		if (end == NULL)
			break;
		line = end + 1;
	}
	return NAN;
}

size_t statsd_flush_keys_with_prefix(const char *block, const char *kind, const char *prefix)
{
	char want[1024];
	snprintf(want, sizeof(want), "\n%s\t%s", kind, prefix);
	size_t count = 0;
	char *copy = malloc(strlen(block) + 2);
	cr_assert_not_null(copy);
	copy[0] = '\n';
	strcpy(copy + 1, block);
	for (const char *p = copy; (p = strstr(p, want)) != NULL; p++)
		count++;
	free(copy);
	return count;
}

double statsd_flushes_total(const struct statsd_daemon *d, size_t from, size_t to, const char *kind, const char *key,
                            const char *field)
{
	double total = 0;
	for (size_t k = from; k <= to; k++) {
		char *block = statsd_daemon_flush(d, k);
		double v = statsd_flush_value(block, kind, key, field);
		if (!isnan(v))
			total += v;
		free(block);
	}
	return total;
}
