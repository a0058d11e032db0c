/* SPDX-License-Identifier: MIT */
/*
 * spans.c: test support: traces_file configs and reading their spans
 * (contract in spans.h).
 */
#define _GNU_SOURCE
#include "spans.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

/* Debian's python3 when there is one: a version manager's shim on PATH may take seconds to start. */
static const char *python3(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

struct span_line *read_spans(const char *path, size_t *n)
{
	char *cmd = NULL;
	cr_assert_geq(asprintf(&cmd, "%s '%s/tests/support/otlp_json_summary.py' < '%s'", python3(),
	                       test_env_path("STDBTEL_SOURCE_ROOT"), path), 0);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "cannot run %s", cmd);
	size_t cap = 64, count = 0;
	struct span_line *spans = calloc(cap, sizeof *spans);
	cr_assert_not_null(spans);
	char line[2048];
	while (fgets(line, sizeof line, p) != NULL) {
		if (strncmp(line, "span ", 5) != 0)
			continue;
		if (count == cap) {
			spans = realloc(spans, (cap *= 2) * sizeof *spans);
			cr_assert_not_null(spans);
		}
		struct span_line *s = &spans[count];
		int kind, at = 0;
		/* span TRACE SPAN PARENT 'name' KIND START END status=N [attrs]; the name is Python's repr,
		 * and may hold spaces ('GET /v1/ping') */
		cr_assert_eq(sscanf(line, "span %32s %16s %16s '%n", s->trace, s->span, s->parent, &at), 3, "%s", line);
		cr_assert_gt(at, 0, "%s", line);
		const char *close = strstr(line + at, "' ");
		cr_assert_not_null(close, "%s", line);
		snprintf(s->name, sizeof s->name, "%.*s", (int)(close - (line + at)), line + at);
		cr_assert_eq(sscanf(close + 2, "%d %" SCNu64 " %" SCNu64, &kind, &s->start_ns, &s->end_ns), 3, "%s", line);
		const char *st = strstr(line, "status=");
		s->status = st ? atoi(st + 7) : -1;
		count++;
	}
	int rc = pclose(p);
	cr_assert_eq(rc, 0, "%s failed (the file is not valid OTLP/JSON lines)", cmd);
	free(cmd);
	*n = count;
	return spans;
}

size_t count_named(const struct span_line *spans, size_t n, const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += strcmp(spans[i].name, name) == 0;
	return c;
}

const struct span_line *find_span(const struct span_line *spans, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(spans[i].span, id) == 0)
			return &spans[i];
	return NULL;
}

void traces_setup_begin(struct traces_setup *ts, const char *hooks)
{
	snprintf(ts->dir, sizeof ts->dir, "/tmp/stdbtel-traces-XXXXXX");
	cr_assert_not_null(mkdtemp(ts->dir));
	snprintf(ts->traces, sizeof ts->traces, "%s/traces.jsonl", ts->dir);
	char *text = NULL;
	cr_assert_geq(asprintf(&text,
		"[telemetry]\nenabled = true\nservice_name = \"c-target\"\ntraces_file = \"%s\"\n"
		"[telemetry.sampling]\ntraces_per_second = 100000\n%s", ts->traces, hooks), 0);
	ts->config = write_temp_file(text, ".toml");
	free(text);
}

void traces_setup_end(struct traces_setup *ts)
{
	unlink(ts->traces);
	rmdir(ts->dir);
	unlink(ts->config);
	free(ts->config);
}

struct span_attribute *read_span_attribute(const char *path, const char *key, size_t *n)
{
	char *cmd = NULL;
	cr_assert_geq(asprintf(&cmd, "%s '%s/tests/support/otlp_json_summary.py' --attribute '%s' < '%s'", python3(),
	                       test_env_path("STDBTEL_SOURCE_ROOT"), key, path), 0);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "cannot run %s", cmd);
	size_t cap = 16, count = 0;
	struct span_attribute *attrs = calloc(cap, sizeof *attrs);
	cr_assert_not_null(attrs);
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	while ((len = getline(&line, &linecap, p)) > 0) {
		if (strncmp(line, "attr ", 5) != 0 || len < 5 + 16 + 1)
			continue;
		if (count == cap) {
			attrs = realloc(attrs, (cap *= 2) * sizeof *attrs);
			cr_assert_not_null(attrs);
		}
		struct span_attribute *a = &attrs[count++];
		memcpy(a->span, line + 5, 16);
		a->span[16] = '\0';
		const char *v = line + 5 + 16 + (line[5 + 16] == ' ');
		a->value = malloc(strlen(v) + 1);
		cr_assert_not_null(a->value);
		size_t o = 0;
		for (; *v != '\0' && *v != '\n'; v++) {
			if (*v == '\\' && v[1] == 'n')
				a->value[o++] = '\n', v++;
			else if (*v == '\\' && v[1] == '\\')
				a->value[o++] = '\\', v++;
			else
				a->value[o++] = *v;
		}
		a->value[o] = '\0';
	}
	free(line);
	int rc = pclose(p);
	cr_assert_eq(rc, 0, "%s failed (the file is not valid OTLP/JSON lines)", cmd);
	free(cmd);
	*n = count;
	return attrs;
}

const char *span_attribute_of(const struct span_attribute *attrs, size_t n, const char *span_id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(attrs[i].span, span_id) == 0)
			return attrs[i].value;
	return NULL;
}

void span_attributes_free(struct span_attribute *attrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(attrs[i].value);
	free(attrs);
}
