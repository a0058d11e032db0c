/* SPDX-License-Identifier: MIT */
/*
 * log.c: format on the stack, then one write(2) so that concurrent lines
 * from several threads do not interleave mid-line.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Most verbose level printed; written at start-up, read by any thread. */
static enum log_level log_threshold = LOG_WARN;

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

bool log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	int saved_errno = errno;
	char line[1024];
	static const char prefix[] = "stdbtel: ";
	memcpy(line, prefix, sizeof prefix - 1);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + sizeof prefix - 1, sizeof line - sizeof prefix, fmt, ap);
	va_end(ap);
	size_t len = sizeof prefix - 1 + (n < 0 ? 0 : (size_t)n);
	if (len > sizeof line - 2)
		len = sizeof line - 2; /* truncated: still end the line */
	line[len++] = '\n';
	for (size_t done = 0; done < len;) {
		ssize_t w = write(STDERR_FILENO, line + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	errno = saved_errno;
}
