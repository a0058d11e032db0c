/* SPDX-License-Identifier: MIT */
/*
 * symbolizer.h: return addresses to the text of a span's code.stacktrace,
 * with the shim's own symbol tables (symbols/: .symtab and .dynsym, Rust
 * and C++ names demangled to their match keys), not libc's backtrace_symbols
 * (which sees only .dynsym) and not a debugger.
 *
 * Owns: the symbol tables of the objects stack frames fell in, opened on
 * first use and kept (a big server's table is tens of MiB; it is read
 * only once some call has ended by an exception or panic).
 *
 * Threading: one symbolizer per exporter thread; not thread-safe.
 */
#ifndef STDBTEL_SYMBOLIZER_H
#define STDBTEL_SYMBOLIZER_H

#include <stddef.h>

#include "span_record.h"

struct symbolizer;

/* NULL when out of memory. */
struct symbolizer *symbolizer_new(void);
void symbolizer_free(struct symbolizer *s);

/*
 * Writes one line per frame of stack into out, innermost first:
 * "function+0xoffset (object)", or "0xaddress (object+0xoffset)" when no
 * symbol covers it. Leading frames of the capture itself (libstdbtel.so,
 * the unwinder in libgcc_s/libunwind) and the hooks' stub frames are left
 * out. Returns the length
 * written (out is always NUL-terminated when outsz > 0). Usable as an
 * otlp_stack_formatter's format with ctx = the symbolizer.
 */
size_t symbolizer_format_stack(const struct span_stack *stack, char *out, size_t outsz, void *symbolizer);

#endif
