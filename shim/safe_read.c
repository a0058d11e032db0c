/* SPDX-License-Identifier: MIT */
/* safe_read.c: checked reads of the host's memory (contract in safe_read.h). */
#define _GNU_SOURCE
#include "safe_read.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Our pid for process_vm_readv: set at start-up and in each fork child. */
static pid_t self_pid;
/* Set once the kernel refused the call itself: no further attempts. */
static _Atomic bool reads_refused;

void safe_read_init(void)
{
	self_pid = getpid();
}

bool safe_read_unavailable(void)
{
	return __atomic_load_n(&reads_refused, __ATOMIC_RELAXED);
}

#pragma GCC push_options
#pragma GCC target("general-regs-only")

/* x86-64 user space ends below 2^47 (2^56 with 5-level paging, which Linux gives only on request). */
#define USER_ADDRESS_END (1ull << 47)
#define FIRST_PAGE 4096

size_t safe_read(void *dst, uint64_t src, size_t len)
{
	if (len == 0 || src < FIRST_PAGE || src >= USER_ADDRESS_END || len > USER_ADDRESS_END - src ||
	    self_pid == 0 || __atomic_load_n(&reads_refused, __ATOMIC_RELAXED))
		return 0;
	struct iovec local = { .iov_base = dst, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)src, .iov_len = len };
	int saved = errno;
	long n = syscall(SYS_process_vm_readv, (long)self_pid, &local, 1L, &remote, 1L, 0L);
	if (n < 0 && (errno == ENOSYS || errno == EPERM))
		__atomic_store_n(&reads_refused, true, __ATOMIC_RELAXED);
	errno = saved;
	return n > 0 ? (size_t)n : 0;
}

bool safe_read_uint(uint64_t src, size_t len, uint64_t *out)
{
	uint8_t b[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	if (len > 8 || safe_read(b, src, len) != len) {
		*out = 0;
		return false;
	}
	uint64_t v = 0;
	for (size_t i = len; i-- > 0;)
		v = v << 8 | b[i];
	*out = v;
	return true;
}

#pragma GCC pop_options
