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
 * Once anything is hooked, a pthread_atfork child handler makes a fork
 * child's copy of that state its own (after_fork_child); a process not
 * traced registers none, so its children stay inert too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "exporter.h"
#include "hook_engine.h"
#include "hotpath.h"
#include "http_server.h"
#include "interpose.h"
#include "loaded_objects.h"
#include "log.h"
#include "stacktrace.h"
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
	int hooked;                  /* functions patched or interposed */
	size_t next_id;              /* the id the next target gets (targets from dlopen follow) */
	struct target_set *dlopen_sets; /* targets found after each dlopen: the exporter names spans from their keys */
	size_t ndlopen_sets;
	unsigned long long loader_adds; /* the loader's count of objects ever mapped, at the last look */
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

/* Span records per thread ring: see SHIM_RING_MAX. Sets up the clock and
 * the hot path and points the hook engine at it; false when out of memory. */
static bool start_hot_path(void)
{
	clock_init(false);
	size_t ring = shim.config.bsp_max_queue_size < SHIM_RING_MAX ? shim.config.bsp_max_queue_size : SHIM_RING_MAX;
	if (hotpath_init(&shim.config, &shim.targets, ring) != 0) {
		log_write(LOG_ERROR, "out of memory preparing the hot path; not tracing");
		return false;
	}
	shim.next_id = shim.targets.count;
	hook_engine_set_handlers(hotpath_enter, hotpath_exit);
	char err[256];
	if (http_server_init(&shim.config, err, sizeof err) != 0)
		log_write(LOG_ERROR, "[http]: %s; no HTTP request spans", err);
	return true;
}

/* The C name a wrapper would answer to: the match key without a version. */
static bool wants_interposition(const struct target *t, bool in_main, char *name, size_t namesz)
{
	const struct hook_config *h = &shim.config.hooks[t->hook_index];
	snprintf(name, namesz, "%.*s", (int)strcspn(t->key, "@"), t->key);
	switch (h->via) {
	case HOOK_VIA_PATCH: return false;
	case HOOK_VIA_INTERPOSE: return true;
	default: return !in_main && interpose_has(name);
	}
}

/*
 * Hooks items[0..n), the targets with ids first_id.. (already known to
 * the hot path): interposes each one a wrapper serves (wants_interposition)
 * and patches the others (hook_engine_install, or _install_fresh for the
 * objects a dlopen has just mapped). objects are the ones the items'
 * object_index refers to. Reports each refusal once: a warning, or a debug
 * note for an optional hook. Returns the number hooked.
 */
static int hook_targets(const struct target *items, size_t n, size_t first_id,
                        const struct target_object *objects, bool fresh)
{
	if (n == 0)
		return 0;
	struct hook_request *reqs = calloc(n, sizeof *reqs);
	struct hook_result *results = calloc(n, sizeof *results);
	size_t *req_of = calloc(n, sizeof *req_of); /* item -> request, or SIZE_MAX when interposed */
	if (reqs == NULL || results == NULL || req_of == NULL) {
		free(reqs);
		free(results);
		free(req_of);
		log_write(LOG_ERROR, "out of memory preparing hooks; not tracing them");
		return 0;
	}
	int hooked = 0;
	size_t nreqs = 0;
	for (size_t i = 0; i < n; i++) {
		const struct target *t = &items[i];
		const struct hook_config *h = &shim.config.hooks[t->hook_index];
		char name[128], why[HOOK_WHY_LEN];
		req_of[i] = SIZE_MAX;
		if (t->entry_point) {
			log_write(h->optional ? LOG_DEBUG : LOG_WARN, "cannot hook %s at 0x%lx: %s", t->key,
			          (unsigned long)t->address, TARGETS_ENTRY_POINT_WHY);
		} else if (!wants_interposition(t, objects[t->object_index].is_main, name, sizeof name)) {
			req_of[i] = nreqs;
			reqs[nreqs++] = (struct hook_request){ .address = t->address, .size = t->size, .id = first_id + i };
		} else if (interpose_arm(name, first_id + i, why, sizeof why) == 0) {
			hooked++;
			log_write(LOG_DEBUG, "hooked %s: %s", t->key, why);
		} else {
			log_write(h->optional ? LOG_DEBUG : LOG_WARN, "cannot interpose %s: %s", t->key, why);
		}
	}
	int installed = fresh ? hook_engine_install_fresh(reqs, nreqs, results)
	                      : hook_engine_install(reqs, nreqs, results);
	if (installed < 0) {
		log_write(LOG_WARN, "cannot patch: %s; %zu functions not traced", results[0].why, nreqs);
		installed = 0;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (req_of[i] == SIZE_MAX)
				continue;
			const struct target *t = &items[i];
			const struct hook_result *r = &results[req_of[i]];
			if (r->installed)
				log_write(LOG_DEBUG, "hooked %s at 0x%lx: %s", t->key, (unsigned long)t->address, r->why);
			else
				log_write(shim.config.hooks[t->hook_index].optional ? LOG_DEBUG : LOG_WARN,
				          "cannot hook %s at 0x%lx: %s", t->key, (unsigned long)t->address, r->why);
		}
	}
	free(reqs);
	free(results);
	free(req_of);
	return hooked + installed;
}

/* True when some hook names objects by glob: only those can match what dlopen maps. */
static bool any_hook_names_objects(void)
{
	for (size_t i = 0; i < shim.config.nhooks; i++)
		if (shim.config.hooks[i].object != NULL)
			return true;
	return false;
}

static bool known_object(const struct loaded_object *o)
{
	for (size_t i = 0; i < shim.objects.count; i++)
		if (shim.objects.items[i].bias == o->bias && strcmp(shim.objects.items[i].path, o->path) == 0)
			return true;
	return false;
}

/*
 * The dlopen observer (interpose.h): on the thread that called dlopen,
 * before dlopen returns. Resolves the hooks in the objects mapped since the
 * last look, gives the new targets their ids (hot path first, then the
 * exporter), and patches them: no thread can be running their code yet.
 * Serialised by dlopen_lock, which nothing else takes. A library closed
 * and opened again at the same address is not seen as new: its hooks are
 * lost (dlclose is not interposed).
 */
static pthread_mutex_t dlopen_lock = PTHREAD_MUTEX_INITIALIZER;

/* dl_iterate_phdr callback: the loader's count of objects mapped so far (dlpi_adds). */
static int read_loader_adds(struct dl_phdr_info *info, size_t size, void *data)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
		*(unsigned long long *)data = info->dlpi_adds;
	return 1;
}

static void hook_new_objects(void)
{
	pthread_mutex_lock(&dlopen_lock);
	/* Most dlopen calls find their library loaded already: nothing new, no snapshot. */
	unsigned long long adds = 0;
	dl_iterate_phdr(read_loader_adds, &adds);
	if (adds != 0 && adds == shim.loader_adds) {
		pthread_mutex_unlock(&dlopen_lock);
		return;
	}
	shim.loader_adds = adds;
	struct loaded_objects now;
	if (loaded_objects_snapshot(&now) != 0) {
		pthread_mutex_unlock(&dlopen_lock);
		return;
	}
	size_t nfresh = 0;
	struct target_object *fresh = calloc(now.count ? now.count : 1, sizeof *fresh);
	for (size_t i = 0; fresh != NULL && i < now.count; i++) {
		const struct loaded_object *o = &now.items[i];
		if (!o->is_main && !known_object(o))
			fresh[nfresh++] = (struct target_object){ .path = o->path, .name = o->name, .bias = o->bias };
	}
	struct target_set set = { 0 };
	if (nfresh > 0 && targets_resolve(&shim.config, fresh, nfresh, &set, report_target, NULL) != 0)
		log_write(LOG_ERROR, "out of memory resolving symbols after dlopen");
	target_objects_close(fresh, nfresh);
	struct target_set *kept = set.count > 0 ? realloc(shim.dlopen_sets, (shim.ndlopen_sets + 1) * sizeof *kept)
	                                        : NULL;
	if (kept != NULL)
		shim.dlopen_sets = kept;
	if (kept == NULL && set.count > 0) {
		log_write(LOG_ERROR, "out of memory after dlopen; not hooking the %zu functions it brought", set.count);
		targets_free(&set);
	} else if (set.count > 0 && hotpath_add_targets(&shim.config, set.items, set.count) == 0) {
		/* kept for the process's life: the exporter names spans from their keys */
		shim.dlopen_sets[shim.ndlopen_sets++] = set;
		exporter_add_targets(set.items, set.count);
		int hooked = hook_targets(set.items, set.count, shim.next_id, fresh, true);
		shim.next_id += set.count;
		shim.hooked += hooked;
		log_write(LOG_INFO, "dlopen mapped %zu new object%s: %zu functions resolved, %d hooked", nfresh,
		          nfresh == 1 ? "" : "s", set.count, hooked);
	} else if (set.count > 0) {
		log_write(LOG_WARN, "more than %d functions to hook; not hooking the %zu in objects just loaded",
		          TARGETS_MAX, set.count);
		targets_free(&set);
	}
	free(fresh);
	loaded_objects_free(&shim.objects);
	shim.objects = now;
	pthread_mutex_unlock(&dlopen_lock);
}

/*
 * The pthread_atfork child handler, registered once the hot path runs.
 * glibc calls it in the child, on the thread that called fork() (the
 * child's only thread), before fork() returns there, after it has made
 * malloc and its thread list usable again. Every other thread's state was
 * copied mid-flight (the exporter may have held its lock or the clock's
 * seqlock, the rings hold records the parent is about to write) and is
 * made the child's own here, in dependency order: clock, hot path (rings
 * emptied, metrics zeroed, ids reseeded), then the exporter's new thread.
 * Signals stay blocked meanwhile, so a handler's hooked call on this
 * thread cannot see half-reset state. vfork and posix_spawn run no
 * atfork handlers: their child shares the parent's memory until exec,
 * and there is nothing to do.
 */
static void after_fork_child(void)
{
	int saved_errno = errno;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* a thread of the parent may have held it: the child's is new */
	pthread_mutex_init(&dlopen_lock, NULL);
	clock_after_fork_child();
	size_t discarded = hotpath_after_fork_child();
	bool exporting = exporter_after_fork_child();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_write(LOG_DEBUG, "fork child (pid %d): %zu records left to the parent to export; %s", (int)getpid(),
	          discarded, exporting ? "exporting under this pid" : "no exporter");
	errno = saved_errno;
}

static void resolve_hooks(const char *exe)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Before the snapshot: what it maps is then known, not taken for a dlopen of the host's. */
	const struct stdbtel_config *c = &shim.config;
	bool any_exporter = c->traces_file != NULL || c->otlp_traces || c->otlp_metrics || c->statsd_metrics;
	if (any_exporter && !stacktrace_init())
		log_write(LOG_DEBUG, "libunwind.so.8 not found: error spans will have no code.stacktrace");
	dl_iterate_phdr(read_loader_adds, &shim.loader_adds);
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
	/* Without an exporter (traces_file, OTLP, StatsD), patching would
	 * cost the host time for nothing. A hook whose object is not loaded
	 * yet may still be met by a dlopen. */
	bool http_requests = c->http_hook >= 0; /* [http] ports: spans from the socket layer, no symbol needed */
	bool may_hook = any_exporter && (shim.targets.count > 0 || http_requests ||
	                                 (shim.targets.hooks_pending > 0 && any_hook_names_objects()));
	bool hot_path = may_hook && start_hot_path();
	if (hot_path)
		shim.hooked = hook_targets(shim.targets.items, shim.targets.count, 0, shim.target_objects, false);
	bool exporting = (shim.hooked > 0 || (hot_path && http_server_armed) ||
	                  (may_hook && shim.targets.hooks_pending > 0)) &&
	                 exporter_start(&shim.config, &shim.targets, exe);
	if (exporting && any_hook_names_objects())
		interpose_set_dlopen_observer(hook_new_objects);
	if ((shim.hooked > 0 || exporting) && pthread_atfork(NULL, NULL, after_fork_child) != 0)
		log_write(LOG_WARN, "cannot register the fork handler; a fork child would export nothing");
	char where[512] = "";
	if (exporting) {
		int n = 0;
		if (c->traces_file != NULL)
			n += snprintf(where + n, sizeof where - (size_t)n, "spans to %s", c->traces_file);
		if ((c->otlp_traces || c->otlp_metrics) && n < (int)sizeof where)
			n += snprintf(where + n, sizeof where - (size_t)n, "%sOTLP %s to %s", n ? ", " : "",
			              c->otlp_traces && c->otlp_metrics ? "traces and metrics" : c->otlp_traces ? "traces" : "metrics",
			              c->otlp_endpoint);
		if (c->statsd_metrics && n < (int)sizeof where)
			snprintf(where + n, sizeof where - (size_t)n, "%sStatsD to %s:%u", n ? ", " : "", c->statsd_host,
			         c->statsd_port);
	}
	log_write(LOG_INFO,
	          "%s (pid %d): %zu of %zu hooks resolved to %zu functions, %d hooked, in %.2f ms (config %s); %s",
	          exe, (int)getpid(), shim.targets.hooks_resolved, shim.config.nhooks - (c->http_hook >= 0),
	          shim.targets.count,
	          shim.hooked, elapsed_ms(&start), shim.config.source,
	          exporting ? where
	          : any_exporter ? "nothing patched: no function to hook"
	                         : "nothing patched: no exporter is set (traces_file, otlp_endpoint or statsd_endpoint)");
}

__attribute__((constructor)) static void stdbtel_start(void)
{
	int saved_errno = errno;
	/* The wrappers are live in every process, traced or not. */
	interpose_resolve_all();
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

/* At exit: the exporter's last drain, bounded (exporter_stop). */
__attribute__((destructor)) static void stdbtel_stop(void)
{
	int saved_errno = errno;
	/* calls this thread left by longjmp and never found dead (a
	 * PostgreSQL backend whose last statement failed) */
	if (shim.hooked > 0)
		hook_engine_reap_dead_at_exit((uintptr_t)__builtin_frame_address(0));
	exporter_stop();
	errno = saved_errno;
}
