/* SPDX-License-Identifier: MIT */
/*
 * utf8.h: UTF-8 validation for the encoders, which must never put invalid
 * text on the wire whatever a capture read from the host's memory. Pure.
 */
#ifndef STDBTEL_UTF8_H
#define STDBTEL_UTF8_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), or 0
 * when it is not one: a stray continuation byte, a truncated or overlong
 * sequence, a surrogate or a code point past U+10FFFF. A NUL byte is a
 * valid one-byte sequence here; encoders that cannot carry NUL check it.
 */
size_t utf8_sequence_length(const unsigned char *s, size_t n);

#endif
