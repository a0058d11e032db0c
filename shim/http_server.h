/* SPDX-License-Identifier: MIT */
/*
 * http_server.h: HTTP request spans without symbols. The interposed
 * socket calls (interpose.c) report what the server accepts, reads,
 * writes and closes; connections accepted on a configured listening port
 * ([http] ports) are parsed (http_parse.h) and every request becomes one
 * SERVER span, from its first byte read to the last byte of its response
 * written, with method, path, route (http_route.h), path parameters,
 * status and body sizes, and the hook's metrics with the tags method,
 * path (the route) and status plus the configured parameters. A request
 * carrying a W3C traceparent continues the caller's trace.
 *
 * Owns: a table indexed by fd (one atomic pointer per fd below
 * HTTP_SERVER_MAX_FDS) and a pool of connection states, both mapped once
 * at init and never freed; the compiled routes.
 *
 * Cost: a descriptor that is not an accepted HTTP connection costs one
 * load in the table per call. A followed connection costs the parser's
 * work per byte and, per request, a route match and one span. No
 * allocation, no lock, no system call after init, except getsockname()
 * once per listening socket at its first accept. errno is preserved.
 *
 * Threading: any thread; the two directions of one connection may run on
 * two threads (http_parse.h). A descriptor closed by other means than
 * close() (dup2 over it, close_range) keeps its state until the number is
 * accepted again, which resets it. A span is emitted under the hook
 * engine's guard, so a signal handler's socket calls cannot interleave
 * with it on one thread (such a span is dropped, not corrupted).
 */
#ifndef STDBTEL_HTTP_SERVER_H
#define STDBTEL_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"

#define HTTP_SERVER_MAX_FDS 65536   /* descriptors at or above are not followed */
#define HTTP_SERVER_MAX_CONNS 4096  /* connections followed at once; more are counted, not followed */

/* Prepares the table, the pool and the routes from cfg (its [http]). Returns 0, or -1 with err. Once. */
int http_server_init(const struct stdbtel_config *cfg, char *err, size_t errlen);

/* Whether init armed anything (an [http] hook and ports). */
extern bool http_server_armed;

void http_server_accepted(int listen_fd, int fd);
void http_server_read(int fd, const void *buf, size_t n);
void http_server_read_iov(int fd, const struct iovec *iov, size_t iovcnt, size_t n);
void http_server_wrote(int fd, const void *buf, size_t n);
void http_server_wrote_iov(int fd, const struct iovec *iov, size_t iovcnt, size_t n);
void http_server_closing(int fd);

/* Connections not followed because the pool was full, since start. */
unsigned long http_server_untracked(void);

#endif
