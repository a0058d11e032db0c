/* SPDX-License-Identifier: MIT */
/* capture_attribute.c: a captured value as an attribute (contract in capture_attribute.h). */
#include "capture_attribute.h"

#include <inttypes.h>
#include <stdio.h>

#include "capture_value.h"

static void as_text(struct capture_attribute *out, const char *fmt, uint64_t v)
{
	int n = snprintf(out->buf, sizeof out->buf, fmt, v);
	out->kind = CAPTURE_ATTRIBUTE_STRING;
	out->text = out->buf;
	out->len = n > 0 ? (size_t)n : 0;
}

void capture_attribute_of(const struct hook_capture *cap, const struct span_record *rec, size_t index,
                          struct capture_attribute *out)
{
	if (index >= SPAN_MAX_CAPTURES || (rec->capture_absent & (1u << index))) {
		out->kind = CAPTURE_ATTRIBUTE_NONE;
		return;
	}
	if (rec->capture_unreadable & (1u << index)) {
		out->kind = CAPTURE_ATTRIBUTE_STRING;
		out->text = CAPTURE_UNREADABLE;
		out->len = sizeof CAPTURE_UNREADABLE - 1;
		return;
	}
	uint64_t raw = rec->captures[index];
	switch (cap->type) {
	case CAPTURE_U64:
		if (raw > INT64_MAX) {
			as_text(out, "%" PRIu64, raw);
			return;
		}
		break;
	case CAPTURE_BOOL:
		out->kind = CAPTURE_ATTRIBUTE_BOOL;
		out->integer = capture_as_int64(CAPTURE_BOOL, raw) != 0;
		return;
	case CAPTURE_POINTER:
		as_text(out, "0x%" PRIx64, raw);
		return;
	case CAPTURE_CSTRING:
	case CAPTURE_CHARS:
	case CAPTURE_STR: { /* offset << 32 | length into rec->text */
		size_t off = (size_t)(raw >> 32), len = (size_t)(uint32_t)raw;
		size_t used = rec->text_used < SPAN_TEXT_BYTES ? rec->text_used : SPAN_TEXT_BYTES;
		if (off > used || len > used - off)
			off = len = 0;
		out->kind = CAPTURE_ATTRIBUTE_STRING;
		out->text = rec->text + off;
		out->len = len;
		return;
	}
	default: /* the other integer types */
		break;
	}
	out->kind = CAPTURE_ATTRIBUTE_INT;
	out->integer = capture_as_int64(cap->type, raw);
}
