/* SPDX-License-Identifier: MIT */
/*
 * spans.h: test support: a traces_file config in a fresh folder, and the
 * spans of that file read back through Python's json parser
 * (otlp_json_summary.py), so tests check what stdbtel wrote with a parser
 * that is not stdbtel's. Failures abort the calling Criterion test.
 */
#ifndef STDBTEL_TEST_SPANS_H
#define STDBTEL_TEST_SPANS_H

#include <stddef.h>
#include <stdint.h>

/* One span of the file. parent is "-" for a root. */
struct span_line {
	char trace[33], span[17], parent[17];
	char name[72];
	int status;                   /* OTLP status code: 0 unset, 2 error */
	uint64_t start_ns, end_ns;    /* Unix nanoseconds */
};

/* Reads path; returns the spans (count in *n; free() the array). */
struct span_line *read_spans(const char *path, size_t *n);

/* Number of spans called name. */
size_t count_named(const struct span_line *spans, size_t n, const char *name);

/* The span with span id id, or NULL. */
const struct span_line *find_span(const struct span_line *spans, size_t n, const char *id);

/* One span's value of a string attribute. */
struct span_attribute {
	char span[17];
	char *value;
};

/* Reads the string attribute key of every span of path that has it (count in *n). */
struct span_attribute *read_span_attribute(const char *path, const char *key, size_t *n);

/* The value for span id span_id, or NULL when that span has none. */
const char *span_attribute_of(const struct span_attribute *attrs, size_t n, const char *span_id);

void span_attributes_free(struct span_attribute *attrs, size_t n);

/*
 * A config that sends spans to a traces_file in a fresh temporary folder,
 * with every trace sampled; hooks is the [[hook]] part. Undone by
 * traces_setup_end(), which removes the folder, the file and the config.
 */
struct traces_setup {
	char dir[32];
	char traces[64];
	char *config;
};

void traces_setup_begin(struct traces_setup *ts, const char *hooks);
void traces_setup_end(struct traces_setup *ts);

#endif
