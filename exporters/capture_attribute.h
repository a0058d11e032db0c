/* SPDX-License-Identifier: MIT */
/*
 * capture_attribute.h: what a span record's captured value is as an OTLP
 * attribute, one decision for the JSON and the protobuf encoders: the
 * capture type's integer reading, a bool, a pointer as 0x... text, a u64
 * beyond int64 as decimal text (OTLP integers are int64), or a string
 * from the record's text area (bounds checked: a damaged record gives an
 * empty string, never a read outside the record). A value the hot path
 * could not read (a bad pointer) is the string CAPTURE_UNREADABLE; one
 * read at return of a call that did not return is no attribute. Pure.
 */
#ifndef STDBTEL_CAPTURE_ATTRIBUTE_H
#define STDBTEL_CAPTURE_ATTRIBUTE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "span_record.h"

#define CAPTURE_UNREADABLE "<unreadable>"

enum capture_attribute_kind {
	CAPTURE_ATTRIBUTE_NONE,   /* no value: leave the attribute out */
	CAPTURE_ATTRIBUTE_INT,
	CAPTURE_ATTRIBUTE_BOOL,
	CAPTURE_ATTRIBUTE_STRING,
};

struct capture_attribute {
	enum capture_attribute_kind kind;
	int64_t integer;      /* INT; BOOL: 0 or 1 */
	const char *text;     /* STRING: len bytes, not NUL-terminated (points into rec or buf) */
	size_t len;
	char buf[24];         /* room for the formatted numbers */
};

/* Types rec's capture number index, captured as cap says; out->text may point into out->buf or rec. */
void capture_attribute_of(const struct hook_capture *cap, const struct span_record *rec, size_t index,
                          struct capture_attribute *out);

#endif
