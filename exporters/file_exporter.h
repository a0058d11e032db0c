/* SPDX-License-Identifier: MIT */
/*
 * file_exporter.h: the exporter thread, writing span records as OTLP/JSON
 * lines to the config's traces_file.
 *
 * Owns: one background thread (all signals blocked, excluded from timing),
 * the open traces_file, the encode buffer. Every EXPORT_INTERVAL_MS (and
 * at stop) it drains every thread's ring (hotpath_threads()), encodes each
 * batch with otlp_json_encode_spans() and appends the line with write(2).
 *
 * Threading: start and stop are called from the constructor and the
 * destructor (one thread); the exporter thread only reads what the hot
 * path published (rings, with their own acquire/release) and the config,
 * which is read-only by then.
 */
#ifndef STDBTEL_FILE_EXPORTER_H
#define STDBTEL_FILE_EXPORTER_H

#include <stdbool.h>

#include "config.h"
#include "targets.h"

#define FILE_EXPORTER_INTERVAL_MS 200
#define FILE_EXPORTER_STOP_TIMEOUT_MS 2000

/*
 * Opens cfg->traces_file (O_APPEND, created 0644) and starts the thread.
 * If the file cannot be opened, logs one "stdbtel:" warning and starts
 * nothing (tracing goes on; the rings fill and drop). cfg, targets and
 * exe must outlive the thread. Returns true when the thread runs.
 */
bool file_exporter_start(const struct stdbtel_config *cfg, const struct target_set *targets, const char *exe);

/*
 * Asks the thread for a final drain and joins it, waiting at most
 * FILE_EXPORTER_STOP_TIMEOUT_MS; past that the thread is left behind and
 * exit goes on. Does nothing when no thread runs, or in a forked child
 * (the thread exists only in the parent).
 */
void file_exporter_stop(void);

#endif
