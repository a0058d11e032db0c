/* SPDX-License-Identifier: MIT */
/*
 * peers.h: test support: the real peers the exporter tests talk to,
 * started by the test on 127.0.0.1 and stopped by pid:
 *
 *  - the scripted OTLP/HTTP receiver, tests/support/otlp_receiver.py
 *    (python3), and its record of every request (path, headers, body);
 *  - the Etsy statsd 0.9 daemon (node $STDBTEL_NODE_MODULES/statsd/stats.js)
 *    with tests/support/statsd_flush_backend.js writing every flush to a
 *    file, and readers of those flushes.
 *
 * Each peer dies with the test process too (PR_SET_PDEATHSIG), but a test
 * stops it explicitly (in its suite's .fini, so also on failure). Every
 * failure to start or read aborts the calling Criterion test with a
 * message naming what is missing.
 */
#ifndef STDBTEL_TEST_PEERS_H
#define STDBTEL_TEST_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Starts argv (env: the whole environment, or NULL for the test's own)
 * with its stdout on a pipe; returns its pid once it printed a first line,
 * which goes into line. what names it in failures. The child dies with
 * the test (PR_SET_PDEATHSIG); stop it by its pid.
 */
pid_t peer_start(char *const argv[], char *const env[], const char *what, char *line, size_t linesz);

/* ---- the OTLP receiver ---- */

struct otlp_receiver {
	pid_t pid;       /* 0: not running */
	int port;
	char dir[256];   /* the record folder; "" when none */
};

/*
 * Starts the receiver with script (otlp_receiver.py's answer list), over
 * TLS with cert/key when they are not NULL; returns once it printed its
 * port (fails the test after 10 s).
 */
void otlp_receiver_start(struct otlp_receiver *r, const char *script, const char *cert, const char *key);

/* Stops it (SIGTERM, waited for) and removes its record. Safe to call twice or before start. */
void otlp_receiver_stop(struct otlp_receiver *r);

/* Number of requests recorded so far (in arrival order 0..n-1). */
size_t otlp_receiver_count(const struct otlp_receiver *r);

/* One recorded request. */
struct otlp_request {
	char method[16];
	char path[256];
	double time;          /* Unix seconds when the body was read */
	int client_port;
	char headers[32][256];
	size_t nheaders;
	unsigned char *body;  /* gunzipped when sent gzipped */
	size_t body_len;
	unsigned char *raw;   /* as sent */
	size_t raw_len;
	char gzip_error[128]; /* "-" when none */
	char body_path[300];  /* the file holding body */
};

/* Reads request index of the record into *q (free with otlp_request_free). */
void otlp_receiver_request(const struct otlp_receiver *r, size_t index, struct otlp_request *q);

/* The value of header name (case-insensitive), NULL when absent; fails the test if it is there twice. */
const char *otlp_request_header(const struct otlp_request *q, const char *name);

void otlp_request_free(struct otlp_request *q);

/* ---- the statsd daemon ---- */

struct statsd_daemon {
	pid_t pid;       /* -1: not running */
	uint16_t port;   /* its UDP port */
	int flush_ms;
	char dir[64];
	char config_path[128], flush_path[128], log_path[128];
};

/*
 * Starts statsd flushing every flush_ms on fresh ports (retried when
 * another process takes one first); returns after its first flush.
 */
void statsd_daemon_start(struct statsd_daemon *d, int flush_ms);

/* Stops it (SIGTERM, SIGKILL after 2 s) and removes its files. Safe to call twice or before start. */
void statsd_daemon_stop(struct statsd_daemon *d);

/* Number of complete flushes written so far. */
size_t statsd_daemon_flushes(const struct statsd_daemon *d);

/* Waits for a flush after every flush seen so far; returns its number. */
size_t statsd_daemon_next_flush(const struct statsd_daemon *d);

/* The text of flush k (1-based), waiting for it; free() it. */
char *statsd_daemon_flush(const struct statsd_daemon *d, size_t k);

/* The value of "kind key [field]" in a flush, or NAN when absent. */
double statsd_flush_value(const char *block, const char *kind, const char *key, const char *field);

/* The sum over flushes from..to (1-based, inclusive) of "kind key [field]"; absent counts 0. */
double statsd_flushes_total(const struct statsd_daemon *d, size_t from, size_t to, const char *kind, const char *key,
                            const char *field);

/* Number of "kind" keys of a flush starting with prefix. */
size_t statsd_flush_keys_with_prefix(const char *block, const char *kind, const char *prefix);

/* ---- shared helpers ---- */

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t peers_now_ms(void);

/* A port on 127.0.0.1 free a moment ago for type (SOCK_DGRAM / SOCK_STREAM): bound to 0, read back, closed. */
uint16_t peers_free_port(int type);

/* The whole file as a NUL-terminated string, or NULL when it cannot be read; free() it. */
char *peers_read_text(const char *path);

#endif
