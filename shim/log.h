/* SPDX-License-Identifier: MIT */
/*
 * log.h: the shim's only voice: one line per message on stderr, prefixed
 * "stdbtel: ". It never exits, never allocates, and keeps errno, so it can
 * be called anywhere outside the hot path. Messages above the level set by
 * log_set_level() (default warn, until the config is read) are dropped.
 */
#ifndef STDBTEL_LOG_H
#define STDBTEL_LOG_H

#include <stdbool.h>

#include "config.h"

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
