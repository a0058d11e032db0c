/* SPDX-License-Identifier: MIT */
/*
 * preload.c: what happens when libstdbtel.so is loaded into a process.
 *
 * The constructor runs before the host's main(), while only the loading
 * thread exists. It reads the config, decides whether this process is one
 * to trace (enabled, and the executable's name matches "processes"), and
 * resolves every hook's symbol among the loaded objects. Any problem is
 * reported as "stdbtel: ..." lines and leaves the process running exactly
 * as it would without the shim: the constructor returns, nothing else.
 *
 * Then it patches every resolved function (hook_engine_install, which
 * refuses when more than one thread runs), points the hook engine at the
 * hot path (hotpath.c), and starts the traces_file exporter thread when
 * the config names a file. The destructor asks that thread for a last
 * drain and waits for it at most 2 s. Every failure leaves the functions
 * it concerns untouched and the program running as without the shim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "file_exporter.h"
#include "hook_engine.h"
#include "hotpath.h"
#include "loaded_objects.h"
#include "log.h"
#include "stdbtel_build.h"
#include "targets.h"

/*
 * Everything the constructor decided, kept for the process's lifetime.
 * Written only by the constructor; read-only afterwards.
 */
static struct shim_state {
	bool active;                 /* config valid, enabled, process selected */
	struct stdbtel_config config;
	struct loaded_objects objects;
	struct target_object *target_objects;
	struct target_set targets;
	char exe[256];               /* executable's basename (resource attribute) */
	int hooked;                  /* functions patched */
} shim;

/* Span records per thread ring: bounded so that many threads stay cheap. */
#define SHIM_RING_MAX 1024

static void report_diags(const struct config_diags *diags)
{
	for (size_t i = 0; i < diags->count; i++)
		log_write(diags->items[i].severity == CONFIG_ERROR ? LOG_ERROR : LOG_WARN, "%s",
		          diags->items[i].text);
	if (diags->total > diags->count)
		log_write(LOG_ERROR, "... and %zu more problems (run `stdbtel check` on the config)",
		          diags->total - diags->count);
}

static void report_target(enum log_level level, const char *message, void *ctx)
{
	(void)ctx;
	log_write(level, "%s", message);
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* The executable's basename, from /proc/self/exe (argv[0] can lie). */
static bool executable_name(char *out, size_t outsz)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		return false;
	path[n] = '\0';
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	if (strlen(base) >= outsz)
		return false;
	memcpy(out, base, strlen(base) + 1);
	return true;
}

/*
 * Patches every resolved target and connects the hot path. Returns the
 * number of functions hooked (0 when nothing could be). Reports each
 * refusal: a warning (a debug note for an optional hook).
 */
static int install_hooks(void)
{
	size_t n = shim.targets.count;
	if (n == 0)
		return 0;
	clock_init(false);
	size_t ring = shim.config.bsp_max_queue_size < SHIM_RING_MAX ? shim.config.bsp_max_queue_size : SHIM_RING_MAX;
	if (hotpath_init(&shim.config, &shim.targets, ring) != 0) {
		log_write(LOG_ERROR, "out of memory preparing the hot path; not tracing");
		return 0;
	}
	struct hook_request *reqs = calloc(n, sizeof *reqs);
	struct hook_result *results = calloc(n, sizeof *results);
	if (reqs == NULL || results == NULL) {
		free(reqs);
		free(results);
		log_write(LOG_ERROR, "out of memory preparing hooks; not tracing");
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct hook_request){
			.address = shim.targets.items[i].address, .size = shim.targets.items[i].size, .id = i,
		};
	hook_engine_set_handlers(hotpath_enter, hotpath_exit);
	int installed = hook_engine_install(reqs, n, results);
	if (installed < 0) {
		log_write(LOG_WARN, "cannot patch: %s; not tracing", results[0].why);
		installed = 0;
	} else {
		for (size_t i = 0; i < n; i++) {
			const struct target *t = &shim.targets.items[i];
			if (results[i].installed)
				log_write(LOG_DEBUG, "hooked %s at 0x%lx: %s", t->key, (unsigned long)t->address,
				          results[i].why);
			else
				log_write(shim.config.hooks[t->hook_index].optional ? LOG_DEBUG : LOG_WARN,
				          "cannot hook %s at 0x%lx: %s", t->key, (unsigned long)t->address,
				          results[i].why);
		}
	}
	free(reqs);
	free(results);
	return installed;
}

static void resolve_hooks(const char *exe)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (loaded_objects_snapshot(&shim.objects) != 0) {
		log_write(LOG_ERROR, "out of memory listing loaded objects; not tracing");
		return;
	}
	shim.target_objects = calloc(shim.objects.count ? shim.objects.count : 1, sizeof *shim.target_objects);
	if (shim.target_objects == NULL) {
		log_write(LOG_ERROR, "out of memory; not tracing");
		return;
	}
	for (size_t i = 0; i < shim.objects.count; i++) {
		const struct loaded_object *o = &shim.objects.items[i];
		shim.target_objects[i] = (struct target_object){
			.path = o->path, .name = o->name, .bias = o->bias, .is_main = o->is_main != 0,
		};
	}
	int rc = targets_resolve(&shim.config, shim.target_objects, shim.objects.count, &shim.targets,
	                         report_target, NULL);
	/* The tables of a big server hold tens of MiB; targets keep what they need. */
	target_objects_close(shim.target_objects, shim.objects.count);
	if (rc != 0) {
		log_write(LOG_ERROR, "out of memory resolving symbols; not tracing");
		return;
	}
	shim.active = true;
	/* Only traces_file can receive spans in this version: without it,
	 * patching would cost the host time for nothing. */
	shim.hooked = shim.config.traces_file != NULL ? install_hooks() : 0;
	bool exporting = shim.hooked > 0 && file_exporter_start(&shim.config, &shim.targets, exe);
	log_write(LOG_INFO,
	          "%s (pid %d): %zu of %zu hooks resolved to %zu functions, %d hooked, in %.2f ms (config %s); "
	          "%s%s",
	          exe, (int)getpid(), shim.targets.hooks_resolved, shim.config.nhooks, shim.targets.count,
	          shim.hooked, elapsed_ms(&start), shim.config.source, exporting ? "spans to " : "",
	          exporting ? shim.config.traces_file
	                    : "nothing patched: set traces_file (the OTLP and StatsD exporters come next)");
}

__attribute__((constructor)) static void stdbtel_start(void)
{
	int saved_errno = errno;
	struct config_diags diags = { 0 };
	size_t errors = config_load(&shim.config, STDBTEL_DEFAULT_CONFIG, &diags);
	log_set_level(errors ? LOG_WARN : shim.config.log_level);
	if (errors) {
		report_diags(&diags);
		log_write(LOG_ERROR, "config has %zu error%s; not tracing", errors, errors == 1 ? "" : "s");
		goto out;
	}
	if (!shim.config.enabled) {
		log_write(LOG_DEBUG, "telemetry is disabled (config %s); not tracing", shim.config.source);
		goto out;
	}
	char *exe = shim.exe;
	if (!executable_name(exe, sizeof shim.exe)) {
		log_write(LOG_WARN, "cannot read /proc/self/exe; not tracing");
		goto out;
	}
	if (!config_process_matches(&shim.config, exe)) {
		log_write(LOG_DEBUG, "%s is not in \"processes\"; not tracing", exe);
		goto out;
	}
	report_diags(&diags); /* warnings only, shown where we trace */
	resolve_hooks(exe);
out:
	errno = saved_errno;
}

/* At exit: the exporter's last drain, bounded (file_exporter_stop). */
__attribute__((destructor)) static void stdbtel_stop(void)
{
	int saved_errno = errno;
	file_exporter_stop();
	errno = saved_errno;
}
