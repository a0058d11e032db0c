/* SPDX-License-Identifier: MIT */
/* hot_capture.c: the hot path's argument and return captures (contract in hot_capture.h). */
#include "hot_capture.h"

#include <string.h>

#include "safe_read.h"

static void compile_source(int index, bool from_return, struct hot_capture *out)
{
	if (from_return || index <= 0) {
		out->source = HOT_SOURCE_RETURN;
		out->slot = 0;
		out->at_exit = 1;
	} else if (index <= 6) {
		out->source = HOT_SOURCE_REGISTER;
		out->slot = (uint8_t)(index - 1);
	} else {
		out->source = HOT_SOURCE_STACK;
		out->slot = (uint8_t)(index - 7);
	}
}

void hot_capture_compile(const struct hook_capture *cap, struct hot_capture *out)
{
	*out = (struct hot_capture){ 0 };
	compile_source(cap->index, cap->from_return, out);
	if (cap->at_exit)
		out->at_exit = 1;
	out->type = (uint8_t)cap->type;
	out->nderef = (uint8_t)(cap->nderef < HOT_CAPTURE_MAX_DEREF ? cap->nderef : HOT_CAPTURE_MAX_DEREF);
	for (int i = 0; i < out->nderef; i++)
		out->deref[i] = cap->deref[i];
	out->max_len = (uint16_t)(cap->max_len > UINT16_MAX ? UINT16_MAX : cap->max_len);
	out->stable = cap->stable; /* config: with at least two derefs */
	out->uses = (cap->attribute ? HOT_CAPTURE_ATTRIBUTE : 0) | (cap->tag ? HOT_CAPTURE_TAG : 0) |
	            (cap->metric ? HOT_CAPTURE_METRIC : 0);
}

bool hot_capture_compile_error(const struct hook_config *h, struct hot_capture *out)
{
	*out = (struct hot_capture){ 0 };
	if (h->error_index <= 0 || h->error_nderef <= 0)
		return false;
	compile_source(h->error_index, false, out);
	out->at_exit = 1;
	out->type = (uint8_t)h->error_type;
	out->nderef = (uint8_t)(h->error_nderef < HOT_CAPTURE_MAX_DEREF ? h->error_nderef : HOT_CAPTURE_MAX_DEREF);
	for (int i = 0; i < out->nderef; i++)
		out->deref[i] = h->error_deref[i];
	return true;
}

#pragma GCC push_options
#pragma GCC target("general-regs-only")

static uint64_t argument(const struct hook_regs *regs, uint64_t sp, unsigned source, unsigned slot)
{
	if (source == HOT_SOURCE_REGISTER) {
		switch (slot) {
		case 0: return regs->rdi;
		case 1: return regs->rsi;
		case 2: return regs->rdx;
		case 3: return regs->rcx;
		case 4: return regs->r8;
		default: return regs->r9;
		}
	}
	/* The caller's stack arguments are live memory of the caller: readable. */
	return hook_stack_args(sp)[slot];
}

uint64_t hot_capture_base(const struct hot_capture *c, const struct hook_regs *regs, uint64_t sp, uint64_t rax,
                          uint64_t *next)
{
	*next = 0;
	if (c->source == HOT_SOURCE_RETURN)
		return rax;
	if (c->type == CAPTURE_STR && c->nderef == 0) {
		/* the length: the next INTEGER-class argument (config limits index so it exists) */
		unsigned pos = c->source == HOT_SOURCE_REGISTER ? c->slot + 1u : c->slot + 7u;
		*next = pos < 6 ? argument(regs, sp, HOT_SOURCE_REGISTER, pos) : argument(regs, sp, HOT_SOURCE_STACK, pos - 6);
	}
	return argument(regs, sp, c->source, c->slot);
}

static unsigned type_width(unsigned type)
{
	switch (type) {
	case CAPTURE_I8: case CAPTURE_U8: case CAPTURE_BOOL: return 1;
	case CAPTURE_I16: case CAPTURE_U16: return 2;
	case CAPTURE_I32: case CAPTURE_U32: return 4;
	default: return 8;
	}
}

static struct capture_memo_slot *memo_slot(struct capture_memo *memo, const struct hot_capture *c, uint64_t pointer)
{
	uint64_t h = (pointer ^ (uint64_t)(uintptr_t)c) * 0x9e3779b97f4a7c15ull;
	return &memo->slots[h >> 58]; /* 64 slots */
}

_Static_assert(CAPTURE_MEMO_SLOTS == 64, "memo_slot takes 6 bits");

/* The remembered value, as if read again: strings copied into the text area. */
static bool memo_replay(const struct capture_memo_slot *s, bool string, char *text, uint32_t *text_used,
                        uint32_t text_cap, uint64_t *value, bool *truncated)
{
	if (!string) {
		*value = s->value;
		return true;
	}
	uint32_t used = *text_used <= text_cap ? *text_used : text_cap;
	uint32_t n = s->len <= text_cap - used ? s->len : text_cap - used;
	memcpy(text + used, s->text, n);
	*truncated |= s->truncated || n < s->len;
	*value = (uint64_t)used << 32 | n;
	*text_used = used + n;
	return true;
}

static void memo_keep(struct capture_memo_slot *s, const struct hot_capture *c, uint64_t pointer, bool string,
                      const char *text, uint64_t value, bool truncated)
{
	uint32_t len = (uint32_t)value;
	if (string && len > CAPTURE_MEMO_TEXT) {
		s->capture = NULL;
		return;
	}
	s->capture = c;
	s->pointer = pointer;
	s->value = value;
	s->truncated = truncated;
	if (string) {
		s->len = (uint8_t)len;
		memcpy(s->text, text + (value >> 32), len);
	}
}

bool hot_capture_finish(const struct hot_capture *c, uint64_t base, uint64_t next, char *text, uint32_t *text_used,
                        uint32_t text_cap, uint64_t *value, bool *truncated, struct capture_memo *memo)
{
	uint64_t v = base;
	bool string = capture_type_is_text((enum capture_type)c->type);
	uint64_t len = next;
	struct capture_memo_slot *slot = NULL;
	uint64_t pointer = 0;
	*value = 0;
	for (unsigned i = 0; i < c->nderef; i++) {
		uint64_t at = v + (uint64_t)c->deref[i];
		bool last = i + 1 == c->nderef;
		if (!last) {
			if (!safe_read_uint(at, 8, &v))
				return false;
			if (i == 0 && c->stable && memo != NULL) {
				pointer = v;
				slot = memo_slot(memo, c, v);
				if (slot->capture == c && slot->pointer == v)
					return memo_replay(slot, string, text, text_used, text_cap, value, truncated);
			}
		} else if (c->type == CAPTURE_CHARS) {
			v = at; /* the characters are here, not behind a pointer */
		} else if (c->type == CAPTURE_STR) {
			if (!safe_read_uint(at, 8, &v) || !safe_read_uint(at + 8, 8, &len))
				return false;
		} else if (!safe_read_uint(at, string ? 8 : type_width(c->type), &v)) {
			return false;
		}
	}
	if (!string) {
		*value = v;
		if (slot != NULL)
			memo_keep(slot, c, pointer, false, NULL, v, false);
		return true;
	}

	uint32_t used = *text_used <= text_cap ? *text_used : text_cap;
	uint64_t room = text_cap - used;
	bool until_nul = c->type == CAPTURE_CSTRING || c->type == CAPTURE_CHARS;
	if (until_nul)
		len = c->max_len; /* up to the NUL, found below */
	uint64_t want = len < c->max_len ? len : c->max_len;
	if (want > room)
		want = room;
	size_t got = want ? safe_read(text + used, v, (size_t)want) : 0;
	if (want > 0 && got == 0)
		return false;
	if (until_nul) {
		size_t n = 0;
		while (n < got && text[used + n] != '\0')
			n++;
		if (n == got)
			*truncated = true; /* no NUL within what could be kept */
		got = n;
	} else if (got < len) {
		*truncated = true;
	}
	*value = (uint64_t)used << 32 | (uint32_t)got;
	*text_used = used + (uint32_t)got;
	if (slot != NULL)
		memo_keep(slot, c, pointer, true, text, *value, *truncated);
	return true;
}

#pragma GCC pop_options
