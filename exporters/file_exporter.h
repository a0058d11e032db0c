/* SPDX-License-Identifier: MIT */
/*
 * file_exporter.h: the exporter thread, writing span records as OTLP/JSON
 * lines to the config's traces_file.
 *
 * Owns: one background thread (all signals blocked, excluded from timing)
 * and its encode buffer. Every EXPORT_INTERVAL_MS (and at stop) it drains
 * every thread's ring (hotpath_threads()), encodes each batch with
 * otlp_json_encode_spans() and appends the line with write(2) to
 * traces_file, opened for that drain only (file_exporter.c says why).
 *
 * Threading: start and stop are called from the constructor and the
 * destructor (one thread), after_fork_child from the atfork child
 * handler; the exporter thread only reads what the hot
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
/* Of that, the last part left after an OTLP send still waiting is aborted. */
#define FILE_EXPORTER_ABORT_MARGIN_MS 300
/* At exit, the time the last OTLP sends (spans, then metrics) may take together. */
#define FILE_EXPORTER_FINAL_SEND_MS 500

/*
 * Opens cfg->traces_file (O_APPEND, created 0644) and starts the thread.
 * If the file cannot be opened, logs one "stdbtel:" warning and starts
 * nothing (tracing goes on; the rings fill and drop). cfg, targets and
 * exe must outlive the thread. Returns true when the thread runs.
 */
bool file_exporter_start(const struct stdbtel_config *cfg, const struct target_set *targets, const char *exe);

/*
 * Makes the targets a dlopen added known by name (their ids follow the
 * ones known already, as in hotpath_add_targets). items must outlive the
 * thread. Calls serialised by the caller; does nothing when no thread was
 * started.
 */
void file_exporter_add_targets(const struct target *items, size_t n);

/*
 * Asks the thread for a final drain and joins it, waiting at most
 * FILE_EXPORTER_STOP_TIMEOUT_MS; past that the thread is left behind and
 * exit goes on. Does nothing when no thread runs, or in a process that
 * did not start the running thread (a fork child whose exporter could
 * not be restarted).
 */
void file_exporter_stop(void);

/*
 * In a fork child (the pthread_atfork child handler: the forking thread,
 * alone, signals blocked), when the parent's thread was running: resets
 * the lock, condition variable and counters, which the parent's thread may
 * have held mid-use, and starts the child's own thread, exporting under
 * the child's process.pid to the same traces_file. Returns true when the
 * child's thread runs; on failure logs one "stdbtel:" warning and the
 * child traces without a file.
 */
bool file_exporter_after_fork_child(void);

#endif
