/* SPDX-License-Identifier: MIT */
/*
 * hot_capture.h: reading a hook's [[hook.arg]] values and its [hook.error]
 * operand on the hot path, from the saved argument registers, the stack
 * arguments, the return register, and (checked, through safe_read.h)
 * memory they point to.
 *
 * Owns: struct hot_capture, one capture compiled from the config into
 * what the hot path needs (which register or stack slot, when to read,
 * how to follow pointers, what the value is used for), and the reads.
 *
 * Value sources, by the config's 1-based `index` (the x86-64 SysV
 * position among INTEGER-class arguments: rdi rsi rdx rcx r8 r9, then the
 * stack slots from the caller's rsp at the call; floating-point arguments
 * do not count, a hidden struct-return pointer is argument 1):
 *   - an argument, read at entry (default), or at_exit: the argument's
 *     entry value kept and the derefs done at return (an out-parameter);
 *   - the return value (rax), at return.
 * Then `deref` offsets o1..ok: v = load64(v + o1), ..., except that the
 * last load reads the type's width (an u32 field reads 4 bytes). For
 * "str", the first argument register holds the pointer and the next one
 * the length; with deref, the (pointer, length) pair is read from memory
 * at the last address (pointer at +0, length at +8, the layout of a
 * &str / &[u8] stored in memory). For "cstring", the value is a char *;
 * for "chars", the characters are at the last address itself (an array
 * inside a struct), with no load there.
 * Strings are copied into a caller text area, at most max_len bytes.
 *
 * A read that fails (bad pointer) yields value 0 and returns false; the
 * caller counts it. Pure apart from safe_read; general-regs-only.
 */
#ifndef STDBTEL_HOT_CAPTURE_H
#define STDBTEL_HOT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hook_engine.h"

enum hot_capture_use {
	HOT_CAPTURE_ATTRIBUTE = 1u << 0, /* a span attribute: read only for sampled calls */
	HOT_CAPTURE_TAG = 1u << 1,       /* a metrics tag: read on every call */
	HOT_CAPTURE_METRIC = 1u << 2,    /* added to a counter: read on every call */
};

enum hot_capture_source {
	HOT_SOURCE_REGISTER, /* slot = 0..5: rdi rsi rdx rcx r8 r9 */
	HOT_SOURCE_STACK,    /* slot = 8-byte stack argument index from the caller's rsp */
	HOT_SOURCE_RETURN,   /* rax */
};

#define HOT_CAPTURE_MAX_DEREF 4

struct hot_capture {
	uint8_t source;      /* enum hot_capture_source */
	uint8_t slot;
	uint8_t type;        /* enum capture_type */
	uint8_t nderef;
	uint8_t at_exit;     /* read at return (return value, or an argument's out-parameter) */
	uint8_t uses;        /* enum hot_capture_use */
	uint16_t max_len;    /* strings: bytes kept */
	uint8_t stable;      /* remember the value per first pointer loaded (struct capture_memo) */
	int64_t deref[HOT_CAPTURE_MAX_DEREF];
};

/*
 * A thread's memory of `stable` captures: the value found behind a first
 * pointer (a command table entry, say), so that the next call through the
 * same pointer costs one checked read, not one per deref. Direct-mapped;
 * a string longer than CAPTURE_MEMO_TEXT is not kept. Only the owning
 * thread touches it; zeroed memory is empty.
 */
#define CAPTURE_MEMO_SLOTS 64
#define CAPTURE_MEMO_TEXT 48

struct capture_memo_slot {
	const struct hot_capture *capture; /* NULL: empty */
	uint64_t pointer;                  /* the first pointer loaded */
	uint64_t value;                    /* integers: the value */
	uint8_t len, truncated;            /* strings */
	char text[CAPTURE_MEMO_TEXT];
};

struct capture_memo {
	struct capture_memo_slot slots[CAPTURE_MEMO_SLOTS];
};

/* The capture cap as the hot path runs it (uses from its attribute/tag/metric keys). */
void hot_capture_compile(const struct hook_capture *cap, struct hot_capture *out);

/* The [hook.error] operand of h: the return value (false: judge rax as
 * before) or an argument read through memory at return. */
bool hot_capture_compile_error(const struct hook_config *h, struct hot_capture *out);

/* The raw argument (or the return value, rax) the capture starts from;
 * for "str" without deref, *next gets the following argument (the length). */
uint64_t hot_capture_base(const struct hot_capture *c, const struct hook_regs *regs, uint64_t sp, uint64_t rax,
                          uint64_t *next);

/*
 * Finishes a capture from its base value: follows the derefs and, for
 * strings, copies the bytes into text[*text_used .. text_cap), advancing
 * *text_used. *value is the integer (raw, see capture_value.h for the
 * type's reading) or, for strings, offset << 32 | length into text.
 * *truncated is set when a string was cut. Returns false when memory
 * could not be read (then *value is 0 and no text is used). memo (may be
 * NULL) serves and keeps the values of a `stable` capture.
 */
bool hot_capture_finish(const struct hot_capture *c, uint64_t base, uint64_t next, char *text, uint32_t *text_used,
                        uint32_t text_cap, uint64_t *value, bool *truncated, struct capture_memo *memo);

#endif
