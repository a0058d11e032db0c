/* SPDX-License-Identifier: MIT */
/*
 * exporter.c: the exporter thread and its traces_file backend (contract in
 * exporter.h).
 *
 * Design, and why:
 *  - One thread, created with every signal blocked (the mask is set around
 *    pthread_create, so there is no window where a host's signal lands on
 *    it) and excluded from timing first thing (hotpath_exclude_this_thread),
 *    so a hooked libc function called by the exporter is never traced.
 *  - It sleeps on a condition variable (CLOCK_MONOTONIC) for
 *    EXPORTER_INTERVAL_MS or until stop, drains every ring in
 *    batches of bsp_max_export_batch_size records, encodes each batch as
 *    one OTLP/JSON line and appends it with write(2) (O_APPEND: each line
 *    lands whole even when several processes share the file).
 *  - The file is opened for each drain that has spans, and closed after
 *    it. A descriptor kept open could be closed by the host (daemons close
 *    every descriptor they did not open, closefrom() included) and its
 *    number given to one of the host's own files, which the exporter would
 *    then fill with JSON: never the host's data. A few opens a second cost
 *    nothing, and a traces_file removed or rotated meanwhile is created
 *    again.
 *  - Stop (from the library's destructor, at exit) sets a flag, signals,
 *    and joins with pthread_timedjoin_np: a stuck write (full disk, NFS)
 *    can hold exit back by at most EXPORTER_STOP_TIMEOUT_MS.
 *  - Memory: the batch array and the JSON buffer are allocated by this
 *    thread (malloc is fine here: it is not the hot path).
 *  - fork: the child has no exporter thread, only copies of its state.
 *    exporter_after_fork_child() (from the atfork child handler in
 *    preload.c) starts the child's own, under the child's pid, appending
 *    to the same path. The parent's thread's buffers stay
 *    behind in the child, untouched (fx.work.inherited): a one-off cost
 *    per child, in pages still shared with the parent.
 */
#define _GNU_SOURCE
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hotpath.h"
#include "log.h"
#include "otlp_exporter.h"
#include "otlp_http.h"
#include "otlp_json.h"
#include "statsd_exporter.h"
#include "symbolizer.h"
#include "stdbtel_build.h"

/*
 * What an exporter thread allocates for itself, kept in fx rather than on
 * its stack so that it stays reachable in a fork child, which inherits it
 * from a thread it does not have (exporter_after_fork_child).
 */
struct exporter_work {
	size_t max;                /* records per batch */
	struct span_record *batch;
	struct symbolizer *symbols;
	struct json_buf buf;
	struct exporter_work *inherited; /* the fork ancestors' threads', never used again */
};

static struct {
	const struct stdbtel_config *cfg;
	struct otlp_target *targets;
	size_t ntargets;
	struct otlp_resource resource;
	char host_name[256];
	pid_t pid;              /* the process that started the thread (a fork child restarts it) */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;   /* guards stop + cond */
	pthread_cond_t cond;
	bool stop;
	bool stopped;           /* set by the thread when its final drain is done */
	uint64_t lines, spans, write_errors;
	/* the other backends, each NULL when off (otlp_exporter.h, statsd_exporter.h) */
	struct otlp_exporter *otlp;
	struct statsd_exporter *statsd;
	atomic_bool abort;          /* shutdown: an OTLP send in progress gives up */
	bool file_on;               /* traces_file is written */
	struct otlp_stack_formatter stacks; /* the running thread's symbolizer, for OTLP's code.stacktrace */
	uint64_t start_unix_ns;     /* metrics are cumulative from here */
	struct exporter_work work; /* the running thread's: set by start_thread, then only that thread touches it */
} fx = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * Opens traces_file for appending, or -1 with errno set. O_NONBLOCK: the
 * open of a FIFO nobody reads fails (ENXIO) instead of blocking; writes
 * then block only this thread (stop is bounded), so the flag is cleared.
 */
static int open_traces_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	return fd;
}

static const char *open_error(int err)
{
	return err == ENXIO ? "a FIFO with no reader" : strerror(err);
}

/*
 * Appends all of buf to fd; false on an error other than EINTR. Each line
 * goes out in one write(2): Linux appends an O_APPEND write to a regular
 * file whole, under the inode lock, so the lines of a parent and its fork
 * children sharing the file never interleave. The loop only finishes a
 * write the kernel cut short (a full disk, the file size limit; not a
 * signal, all are blocked in this thread), when the file is damaged
 * anyway. NFS gives no such guarantee.
 */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		len -= (size_t)w;
	}
	return true;
}

/* Hands batch[0..n) to OTLP (when on) and writes it as one line to *fd (opened here on first use); returns the number of spans written. */
static size_t write_batch(int *fd, const struct span_record *batch, size_t n, struct json_buf *buf,
                          const struct otlp_stack_formatter *stacks)
{
	if (fx.otlp != NULL && fx.cfg->otlp_traces)
		otlp_exporter_add_spans(fx.otlp, batch, n);
	if (!fx.file_on)
		return span_records_count_spans(batch, n);
	buf->len = 0;
	long w = otlp_json_encode_spans(buf, &fx.resource, STDBTEL_VERSION, fx.cfg, fx.targets,
	                                __atomic_load_n(&fx.ntargets, __ATOMIC_ACQUIRE), batch, n,
	                                clock_ticks_to_unix_ns, stacks);
	if (w < 0 || buf->failed) {
		json_buf_free(buf);
		*buf = (struct json_buf){ 0 };
		return 0; /* out of memory: this batch is lost */
	}
	if (w == 0)
		return 0;
	if (*fd < 0 && (*fd = open_traces_file(fx.cfg->traces_file)) < 0) {
		if (fx.write_errors++ == 0)
			log_write(LOG_WARN, "cannot open %s: %s; spans are lost", fx.cfg->traces_file, open_error(errno));
		return 0;
	}
	if (!write_all(*fd, buf->data, buf->len)) {
		if (fx.write_errors++ == 0)
			log_write(LOG_WARN, "cannot write to %s: %s; spans are lost", fx.cfg->traces_file, strerror(errno));
		return 0;
	}
	fx.lines++;
	return (size_t)w;
}

/*
 * Drains every ring once; returns the number of spans written. max >= 2.
 * A span's stack record and the span are published together, but a batch
 * may end between them: the stack then waits for the next batch.
 */
static size_t drain(struct span_record *batch, size_t max, struct json_buf *buf,
                    const struct otlp_stack_formatter *stacks)
{
	size_t total = 0;
	int fd = -1;
	for (struct hotpath_thread *t = hotpath_threads(); t != NULL; t = hotpath_thread_next(t)) {
		struct span_record pending;
		bool have_pending = false;
		for (;;) {
			size_t off = 0;
			if (have_pending) {
				batch[0] = pending;
				off = 1;
				have_pending = false;
			}
			size_t got = ring_consume(hotpath_thread_ring(t), batch + off, max - off);
			if (got == 0)
				break; /* a lone stack left (its span cannot follow): nothing to write */
			size_t n = off + got;
			if (n > 1 && (batch[n - 1].flags & SPAN_STACK)) {
				pending = batch[--n];
				have_pending = true;
			}
			total += write_batch(&fd, batch, n, buf, stacks);
		}
	}
	if (fd >= 0)
		close(fd);
	fx.spans += total;
	return total;
}

static void *exporter_main(void *arg)
{
	(void)arg;
	hotpath_exclude_this_thread();
	struct exporter_work *w = &fx.work; /* allocated by start_thread */
	size_t max = w->max;
	struct span_record *batch = w->batch;
	struct symbolizer *symbols = w->symbols;
	struct otlp_stack_formatter stacks = { symbolizer_format_stack, symbols };
	if (fx.cfg->statsd_metrics) {
		/* here, not at start: resolving the daemon's name may block on DNS */
		char err[256];
		fx.statsd = statsd_exporter_open(fx.cfg, err, sizeof err);
		if (fx.statsd == NULL)
			log_write(LOG_WARN, "StatsD to %s:%u is off: %s", fx.cfg->statsd_host, fx.cfg->statsd_port, err);
	}
	bool metrics = (fx.otlp != NULL && fx.cfg->otlp_metrics) || fx.statsd != NULL;
	uint64_t interval_ms = fx.cfg->metric_export_interval_ms ? fx.cfg->metric_export_interval_ms : 60000;
	struct timespec next_metrics;
	clock_gettime(CLOCK_MONOTONIC, &next_metrics);
	next_metrics.tv_sec += (time_t)(interval_ms / 1000);
	next_metrics.tv_nsec += (long)(interval_ms % 1000) * 1000000L;
	if (next_metrics.tv_nsec >= 1000000000L)
		next_metrics.tv_sec++, next_metrics.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&fx.lock);
	for (;;) {
		bool stop = fx.stop;
		if (!stop) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += EXPORTER_INTERVAL_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			while (!fx.stop && pthread_cond_timedwait(&fx.cond, &fx.lock, &until) != ETIMEDOUT)
				;
			stop = fx.stop;
		}
		pthread_mutex_unlock(&fx.lock);
		if (stop && fx.otlp != NULL)
			otlp_exporter_set_deadline_cap(fx.otlp, otlp_http_now_ms() + EXPORTER_FINAL_SEND_MS);
		if (batch != NULL)
			drain(batch, max, &w->buf, symbols != NULL ? &stacks : NULL);
		if (fx.otlp != NULL)
			otlp_exporter_flush_spans(fx.otlp, stop);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (metrics && (stop || now.tv_sec > next_metrics.tv_sec ||
		                (now.tv_sec == next_metrics.tv_sec && now.tv_nsec >= next_metrics.tv_nsec))) {
			uint64_t unix_now = clock_ticks_to_unix_ns(clock_now());
			if (fx.otlp != NULL && fx.cfg->otlp_metrics)
				otlp_exporter_send_metrics(fx.otlp, fx.start_unix_ns, unix_now);
			if (fx.statsd != NULL)
				statsd_exporter_flush(fx.statsd);
			next_metrics = now;
			next_metrics.tv_sec += (time_t)(interval_ms / 1000);
			next_metrics.tv_nsec += (long)(interval_ms % 1000) * 1000000L;
			if (next_metrics.tv_nsec >= 1000000000L)
				next_metrics.tv_sec++, next_metrics.tv_nsec -= 1000000000L;
		}
		clock_recalibrate();
		pthread_mutex_lock(&fx.lock);
		if (stop)
			break;
	}
	fx.stopped = true;
	pthread_mutex_unlock(&fx.lock);
	json_buf_free(&w->buf);
	free(batch);
	symbolizer_free(symbols);
	statsd_exporter_close(fx.statsd);
	fx.statsd = NULL;
	*w = (struct exporter_work){ .inherited = w->inherited };
	return NULL;
}

/*
 * Starts exporter_main for the calling process, under its pid, with a new
 * condition variable and every signal blocked in the thread. Returns 0 or
 * pthread_create's error. fx.cfg, fx.targets and fx.resource must be set.
 */
static struct otlp_exporter *open_otlp(void);

static int start_thread_with_otlp(bool with_otlp)
{
	fx.pid = getpid();
	fx.resource.pid = (int64_t)fx.pid;
	fx.stop = false;
	fx.stopped = false;

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fx.cond, &ca);
	pthread_condattr_destroy(&ca);

	/* The thread's buffers are allocated here, not by the thread, so
	 * that a fork cannot catch them held only in its registers. */
	struct exporter_work *w = &fx.work;
	w->max = fx.cfg->bsp_max_export_batch_size ? fx.cfg->bsp_max_export_batch_size : 512;
	if (w->max < 2)
		w->max = 2; /* a stack and its span */
	w->batch = malloc(w->max * sizeof *w->batch);
	/* error spans' code.stacktrace; tables are opened only when one comes */
	w->symbols = symbolizer_new();
	w->buf = (struct json_buf){ 0 };
	fx.stacks = (struct otlp_stack_formatter){ symbolizer_format_stack, w->symbols };

	if (with_otlp)
		fx.otlp = open_otlp();

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&fx.thread, NULL, exporter_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		pthread_setname_np(fx.thread, "stdbtel-export");
	} else {
		free(w->batch);
		symbolizer_free(w->symbols);
		*w = (struct exporter_work){ .inherited = w->inherited };
	}
	return rc;
}

/* The OTLP backend for the current process (NULL with a warning when it cannot be made). */
static struct otlp_exporter *open_otlp(void)
{
	struct otlp_exporter_context ctx = {
		.cfg = fx.cfg,
		.resource = &fx.resource,
		.targets = fx.targets,
		.ntargets = &fx.ntargets,
		.stacks = fx.stacks.ctx != NULL ? &fx.stacks : NULL,
		.abort = &fx.abort,
	};
	char err[256];
	struct otlp_exporter *e = otlp_exporter_open(&ctx, err, sizeof err);
	if (e == NULL)
		log_write(LOG_WARN, "OTLP export to %s is off: %s", fx.cfg->otlp_endpoint, err);
	return e;
}

bool exporter_start(const struct stdbtel_config *cfg, const struct target_set *targets, const char *exe)
{
	bool otlp_on = cfg->otlp_traces || cfg->otlp_metrics;
	if (fx.running || (cfg->traces_file == NULL && !otlp_on && !cfg->statsd_metrics))
		return false;
	bool file_on = cfg->traces_file != NULL;
	if (file_on) {
		/* Opened once here to report a problem at start (and create the
		 * file); each drain opens it again (see the top of this file). */
		int fd = open_traces_file(cfg->traces_file);
		if (fd < 0) {
			log_write(LOG_WARN, "cannot open traces_file %s: %s; tracing without a file", cfg->traces_file,
			          open_error(errno));
			file_on = false;
			if (!otlp_on && !cfg->statsd_metrics)
				return false;
		} else {
			close(fd);
		}
	}
	/* Room for every target the process may hook: dlopen appends while the
	 * thread reads (exporter_add_targets), so the array never moves. */
	struct otlp_target *ot = calloc(TARGETS_MAX, sizeof *ot);
	if (ot == NULL) {
		log_write(LOG_ERROR, "out of memory starting the exporter");
		return false;
	}
	fx.cfg = cfg;
	fx.file_on = file_on;
	fx.targets = ot;
	fx.ntargets = 0;
	exporter_add_targets(targets->items, targets->count);
	if (gethostname(fx.host_name, sizeof fx.host_name - 1) != 0)
		fx.host_name[0] = '\0';
	fx.host_name[sizeof fx.host_name - 1] = '\0';
	fx.resource = (struct otlp_resource){
		.service_name = cfg->service_name,
		.service_version = cfg->service_version,
		.pid = (int64_t)getpid(),
		.executable_name = exe,
		.host_name = fx.host_name[0] ? fx.host_name : NULL,
		.extra = cfg->resource_attributes,
		.nextra = cfg->nresource_attributes,
	};
	fx.start_unix_ns = clock_ticks_to_unix_ns(clock_now());
	atomic_store(&fx.abort, false);
	/* the stacks formatter comes with the thread's symbolizer: made by start_thread */
	fx.otlp = NULL;
	int rc = start_thread_with_otlp(otlp_on);
	if (rc != 0) {
		log_write(LOG_WARN, "cannot start the exporter thread: %s; not exporting", strerror(rc));
		free(ot);
		fx.targets = NULL;
		return false;
	}
	fx.running = true;
	return true;
}

/*
 * The child appends to the same traces_file path (a relative path is
 * taken from the child's working directory at each drain, as the
 * parent's is). A child that execs right away pays this one thread creation for nothing;
 * posix_spawn and vfork run no atfork handlers, so they cost nothing.
 * Known limit: pthread_create takes the loader's dl_load_tls_lock, which
 * glibc's fork reinitialises in the child only in recent releases (the
 * older fork.c resets dl_load_lock alone); with such a glibc, a fork
 * made while another thread holds that lock (inside dlopen or dlclose)
 * leaves the child hung here, as it would any child that creates a thread.
 */
bool exporter_after_fork_child(void)
{
	if (!fx.running)
		return false;
	fx.running = false;
	/* The parent's thread may have held the lock or waited on the
	 * condition variable at fork; that thread does not exist here, so
	 * both are made anew (start_thread makes the condition variable). */
	pthread_mutex_init(&fx.lock, NULL);
	fx.lines = fx.spans = fx.write_errors = 0;
	/* The parent's thread may have been using its buffers at fork (a
	 * json_buf mid-growth), so they are neither reused nor freed: they
	 * stay, reachable, in a list the new thread never reads. */
	struct exporter_work *inherited = malloc(sizeof *inherited);
	if (inherited != NULL)
		*inherited = fx.work;
	fx.work = (struct exporter_work){ .inherited = inherited };
	/* The parent's OTLP transport holds the parent's connection (a TLS
	 * session too): left alone, not closed, and a new one made; the
	 * StatsD backend is reopened by the new thread (its totals were the
	 * parent's). */
	bool with_otlp = fx.otlp != NULL;
	fx.otlp = NULL;
	fx.statsd = NULL;
	atomic_store(&fx.abort, false);
	fx.start_unix_ns = clock_ticks_to_unix_ns(clock_now());
	int rc = start_thread_with_otlp(with_otlp);
	if (rc != 0) {
		log_write(LOG_WARN, "cannot start the exporter thread in fork child %d: %s; tracing without a file",
		          (int)getpid(), strerror(rc));
		return false;
	}
	fx.running = true;
	return true;
}

void exporter_add_targets(const struct target *items, size_t n)
{
	if (fx.targets == NULL)
		return;
	size_t have = fx.ntargets;
	if (n > TARGETS_MAX - have)
		n = TARGETS_MAX - have;
	for (size_t i = 0; i < n; i++)
		fx.targets[have + i] = (struct otlp_target){ .function_name = items[i].key,
		                                             .hook_index = items[i].hook_index };
	__atomic_store_n(&fx.ntargets, have + n, __ATOMIC_RELEASE);
}

/* pthread_timedjoin_np on the exporter thread, waiting at most ms. */
static int join_within(long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until); /* pthread_timedjoin_np measures CLOCK_REALTIME */
	until.tv_nsec += (ms % 1000) * 1000000L;
	until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	return pthread_timedjoin_np(fx.thread, NULL, &until);
}

void exporter_stop(void)
{
	if (!fx.running || getpid() != fx.pid)
		return;
	fx.running = false;
	pthread_mutex_lock(&fx.lock);
	fx.stop = true;
	pthread_cond_signal(&fx.cond);
	pthread_mutex_unlock(&fx.lock);
	/* Most of the bound for the last drain and sends; then an OTLP send
	 * still waiting on the collector is aborted (it notices within 50 ms)
	 * so that the rest (the file, StatsD) still gets done. */
	int rc = join_within(EXPORTER_STOP_TIMEOUT_MS - EXPORTER_ABORT_MARGIN_MS);
	if (rc != 0) {
		atomic_store(&fx.abort, true);
		rc = join_within(EXPORTER_ABORT_MARGIN_MS);
		if (rc == 0)
			log_write(LOG_WARN, "exiting: the last OTLP export was cut short at %d ms", EXPORTER_STOP_TIMEOUT_MS);
	}
	if (rc != 0) {
		log_write(LOG_WARN, "exporter did not finish within %d ms; exiting without its last spans",
		          EXPORTER_STOP_TIMEOUT_MS);
		return; /* the thread keeps its memory; the process is exiting anyway */
	}
	struct hotpath_totals tot;
	hotpath_totals(&tot);
	log_write(LOG_DEBUG, "exported %llu spans in %llu lines to %s (%llu calls timed, %llu dropped)",
	          (unsigned long long)fx.spans, (unsigned long long)fx.lines, fx.cfg->traces_file,
	          (unsigned long long)tot.calls, (unsigned long long)tot.dropped);
	/* Metrics stay exact either way; said once, at exit, so that a trace
	 * with holes is not a mystery (stdbtel.spans.dropped counts them too). */
	if (tot.dropped > 0)
		log_write(LOG_WARN, "%llu of %llu sampled spans were dropped: a thread's ring (OTEL_BSP_MAX_QUEUE_SIZE, "
		          "at most 1024) filled between two drains; lower traces_per_second to keep them",
		          (unsigned long long)tot.dropped, (unsigned long long)tot.sampled);
	if (fx.otlp != NULL) {
		uint64_t sent, dropped;
		otlp_exporter_counts(fx.otlp, &sent, &dropped);
		log_write(LOG_DEBUG, "OTLP: %llu spans sent, %llu dropped", (unsigned long long)sent,
		          (unsigned long long)dropped);
		otlp_exporter_close(fx.otlp);
		fx.otlp = NULL;
	}
}
