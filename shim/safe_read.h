/* SPDX-License-Identifier: MIT */
/*
 * safe_read.h: reading the host's memory at an address a config computed,
 * without trusting it. A wrong offset in a [[hook.arg]] deref must cost a
 * placeholder value, never a SIGSEGV in someone's database.
 *
 * How: process_vm_readv(2) on our own pid. The kernel copies what is
 * mapped readable and stops at the first page that is not, returning
 * what it copied; nothing faults in user space. One system call, about
 * a microsecond, paid only by captures that read memory (strings and
 * derefs; register values need none). Addresses that cannot be user
 * memory (the first page, non-canonical ones) fail without the call.
 *
 * Why not a SIGSEGV handler with a recovery point: the host owns its
 * signal handlers (Rust's stack-overflow guard, wasmtime's trap handler
 * both rely on SIGSEGV), and an installed-first handler changes what
 * they install or chain to.
 *
 * Threading: any thread, signal handlers included; errno is preserved.
 * Compiled general-regs-only (called from the hot path).
 */
#ifndef STDBTEL_SAFE_READ_H
#define STDBTEL_SAFE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records this process's pid (process_vm_readv needs it): at start-up and in a fork child. */
void safe_read_init(void);

/* Copies up to len bytes from the host address src into dst. Returns the
 * bytes copied (a prefix: reading stops at the first unreadable page), 0
 * when nothing at src is readable or reads are unavailable. */
size_t safe_read(void *dst, uint64_t src, size_t len);

/* Exactly len (<= 8) bytes as a little-endian integer, zero-extended; false when not all readable. */
bool safe_read_uint(uint64_t src, size_t len, uint64_t *out);

/* Whether the kernel refused process_vm_readv itself (seccomp, ENOSYS): every read then fails. */
bool safe_read_unavailable(void);

#endif
