/* SPDX-License-Identifier: MIT */
/*
 * statsd_exporter.h: the StatsD backend of the exporter thread: once per
 * metric interval, each hook's calls, errors and durations since the
 * previous interval, under the hook's [hook.metrics] names, over UDP.
 *
 * Owns: the socket (statsd_udp.h), one datagram buffer, and per hook the
 * totals sent so far (a histogram copy), from which each interval's
 * deltas come: counters are exact deltas (`name:N|c`, left out when 0),
 * durations are timer lines drawn from the delta histogram with
 * power-of-two sample rates within statsd_timer_budget (statsd_format.h).
 * Hooks without [hook.metrics] names send nothing. A daemon that is down
 * costs a counter and at most one stdbtel: line per interval.
 *
 * Threading: the exporter thread only; open may block on a DNS lookup, so
 * it is called there too, never from the host's threads.
 */
#ifndef STDBTEL_STATSD_EXPORTER_H
#define STDBTEL_STATSD_EXPORTER_H

#include "config.h"

struct statsd_exporter;

/* NULL (reason in err) when the address cannot be resolved or memory runs out. */
struct statsd_exporter *statsd_exporter_open(const struct stdbtel_config *cfg, char *err, size_t errlen);

/* Sends the interval's deltas of every hook (hotpath_hook_totals). */
void statsd_exporter_flush(struct statsd_exporter *s);

void statsd_exporter_close(struct statsd_exporter *s);

#endif
