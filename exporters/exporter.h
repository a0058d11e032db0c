/* SPDX-License-Identifier: MIT */
/*
 * exporter.h: the exporter thread: span records to traces_file (OTLP/JSON
 * lines) and to the OTLP backend (otlp_exporter.h), and the hooks'
 * aggregates to OTLP metrics and StatsD (statsd_exporter.h), each where
 * the config turns it on.
 *
 * Owns: one background thread (all signals blocked, excluded from timing)
 * and its buffers. Every EXPORTER_INTERVAL_MS (and at stop) it drains
 * every thread's ring (hotpath_threads()); each batch is appended to
 * traces_file with write(2) (opened for that drain only, exporter.c says
 * why) and handed to OTLP; every metric interval, the aggregates go out.
 *
 * Threading: start and stop are called from the constructor and the
 * destructor (one thread), after_fork_child from the atfork child
 * handler; the exporter thread only reads what the hot
 * path published (rings, with their own acquire/release) and the config,
 * which is read-only by then.
 */
#ifndef STDBTEL_EXPORTER_H
#define STDBTEL_EXPORTER_H

#include <stdbool.h>

#include "config.h"
#include "targets.h"

#define EXPORTER_INTERVAL_MS 200
#define EXPORTER_STOP_TIMEOUT_MS 2000
/* Of that, the last part left after an OTLP send still waiting is aborted. */
#define EXPORTER_ABORT_MARGIN_MS 300
/* At exit, the time the last OTLP sends (spans, then metrics) may take together. */
#define EXPORTER_FINAL_SEND_MS 500

/*
 * Starts the thread when the config sets any exporter: traces_file (opened
 * once here to create it and report a problem: one "stdbtel:" warning, and
 * the file stays off), OTLP (the transport is made here, before the
 * thread), StatsD (opened by the thread: a name lookup may block). cfg,
 * targets and exe must outlive the thread. Returns true when it runs.
 */
bool exporter_start(const struct stdbtel_config *cfg, const struct target_set *targets, const char *exe);

/*
 * Makes the targets a dlopen added known by name (their ids follow the
 * ones known already, as in hotpath_add_targets). items must outlive the
 * thread. Calls serialised by the caller; does nothing when no thread was
 * started.
 */
void exporter_add_targets(const struct target *items, size_t n);

/*
 * Asks the thread for a final drain and joins it, waiting at most
 * EXPORTER_STOP_TIMEOUT_MS; past that the thread is left behind and
 * exit goes on. Does nothing when no thread runs, or in a process that
 * did not start the running thread (a fork child whose exporter could
 * not be restarted).
 */
void exporter_stop(void);

/*
 * In a fork child (the pthread_atfork child handler: the forking thread,
 * alone, signals blocked), when the parent's thread was running: resets
 * the lock, condition variable and counters, which the parent's thread may
 * have held mid-use, and starts the child's own thread, exporting under
 * the child's process.pid to the same traces_file. Returns true when the
 * child's thread runs; on failure logs one "stdbtel:" warning and the
 * child traces without a file.
 */
bool exporter_after_fork_child(void);

#endif
