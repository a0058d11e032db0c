/* SPDX-License-Identifier: MIT */
/*
 * demangle_internal.h: pieces shared by demangle.c, demangle_rust.c and
 * demangle_cxx.c. Not part of the public interface.
 *
 * Every scheme writes through struct dm_out, which never writes past the
 * caller's buffer but keeps counting, so a scheme can tell "the output is
 * full, stop expanding" from "the input is malformed".
 */
#ifndef STDBTEL_DEMANGLE_INTERNAL_H
#define STDBTEL_DEMANGLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Symbols longer than this are not demangled (offsets fit in 16 bits). */
#define DM_MAX_SYMBOL 32767

/*
 * Nesting limit for every recursive descent (parse and print). Real
 * symbols stay under 110 (v0 counts each nested path). With it, demangle()
 * runs within a 64 KiB thread stack even on hostile input; the C++ node
 * arena is the largest frame (28 KiB).
 */
#define DM_MAX_DEPTH 256

struct dm_out {
	char *buf;  /* caller's buffer */
	size_t cap; /* bytes of text that fit (buffer size - 1 for the NUL) */
	size_t len; /* logical length: may exceed cap, text past cap is dropped */
	bool overflow; /* some text was dropped (sticky) */
};

/* Locals instead of o->len: buf may alias *o as far as the compiler
 * knows, and each reload after a store would stall on store forwarding. */
/* ASCII classes, locale-free: mangled names are ASCII by definition. */
static inline bool dm_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool dm_is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static inline bool dm_is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static inline void dm_putc(struct dm_out *o, char c)
{
	size_t len = o->len;

	if (len < o->cap)
		o->buf[len] = c;
	else
		o->overflow = true;
	o->len = len + 1;
}

static inline void dm_putn(struct dm_out *o, const char *s, size_t n)
{
	size_t len = o->len, cap = o->cap;
	char *buf = o->buf;
	size_t room = len < cap ? cap - len : 0;

	if (n > room) {
		o->overflow = true;
		if (room)
			memcpy(buf + len, s, room);
	} else if (n <= 16) {
		/*
		 * Names are mostly short: two overlapping fixed-size moves per
		 * size class instead of a call or a byte loop (whose exit is a
		 * mispredicted branch). Reads stay within s[0..n).
		 */
		char *d = buf + len;

		if (n >= 8) {
			memcpy(d, s, 8);
			memcpy(d + n - 8, s + n - 8, 8);
		} else if (n >= 4) {
			memcpy(d, s, 4);
			memcpy(d + n - 4, s + n - 4, 4);
		} else if (n > 0) {
			d[0] = s[0];
			d[n / 2] = s[n / 2];
			d[n - 1] = s[n - 1];
		}
	} else {
		memcpy(buf + len, s, n);
	}
	o->len = len + n;
}

/* For literals (n known at compile time, so memcpy becomes moves). */
static inline void dm_putlit(struct dm_out *o, const char *s, size_t n)
{
	if (o->len < o->cap && o->cap - o->len >= n) {
		memcpy(o->buf + o->len, s, n);
		o->len += n;
	} else {
		dm_putn(o, s, n);
	}
}

static inline void dm_puts(struct dm_out *o, const char *s)
{
	while (*s)
		dm_putc(o, *s++);
}

/* True once no more text fits: callers may stop expanding. */
static inline bool dm_full(const struct dm_out *o)
{
	return o->overflow || o->len >= o->cap;
}

/* The last character written, or 0 when none or it was dropped. */
static inline char dm_last(const struct dm_out *o)
{
	return (o->len > 0 && o->len <= o->cap) ? o->buf[o->len - 1] : 0;
}

void dm_put_uint(struct dm_out *o, unsigned long long v);

/*
 * Each scheme parser demangles the body of the symbol at the start of
 * sym[0..len) (sym starts with the scheme's prefix) and returns the number
 * of bytes the body took, or 0 when it is not well-formed in that scheme
 * (the output is then garbage and the caller discards it). What follows
 * the body is the vendor suffix, which demangle.c prints.
 */
size_t dm_rust_legacy(const char *sym, size_t len, struct dm_out *o);
size_t dm_rust_v0(const char *sym, size_t len, struct dm_out *o);
size_t dm_cxx(const char *sym, size_t len, struct dm_out *o);

/* Prefixes of C++ special names as printed ("vtable for ", ...; the last,
 * "reference temporary #", is followed by a number and " for "). Defined in
 * demangle_cxx.c; the match key keeps them verbatim. */
extern const char *const dm_cxx_specials[];
extern const size_t dm_cxx_nspecials;

#endif
