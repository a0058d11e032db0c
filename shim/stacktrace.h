/* SPDX-License-Identifier: MIT */
/*
 * stacktrace.h: the return addresses of the calling thread's stack, for
 * the code.stacktrace of a span whose call ended by an exception or panic.
 *
 * Owns: a private handle on libunwind (libunwind.so.8, loaded RTLD_LOCAL)
 * and its unw_backtrace. Why not linked: libunwind.so.8 also defines
 * _Unwind_RaiseException, _Unwind_Backtrace and a weak backtrace(); as a
 * dependency of a preloaded library it would sit early in the process's
 * search order and could take the host's C++ exceptions and Rust panics
 * away from libgcc. Loaded locally, only the shim sees it.
 *
 * Threading: stacktrace_init once, in the constructor; stacktrace_capture
 * from any thread, inside the unwinder (the hook engine's HOOK_UNWINDING
 * exit): it takes no lock of ours and allocates nothing of ours.
 */
#ifndef STDBTEL_STACKTRACE_H
#define STDBTEL_STACKTRACE_H

#include <stdbool.h>
#include <stdint.h>

/* Loads libunwind; false (stack traces then stay empty) when it is not installed. */
bool stacktrace_init(void);

/* Fills frames[0..max) with return addresses, innermost first; returns how many (0 without libunwind). */
int stacktrace_capture(uint64_t *frames, int max);

#endif
