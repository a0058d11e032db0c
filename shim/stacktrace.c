/* SPDX-License-Identifier: MIT */
/*
 * stacktrace.c: libunwind's cursor, loaded privately (contract in
 * stacktrace.h), with one correction of our own.
 *
 * libunwind takes a caller's stack pointer to be the frame's CFA. The hook
 * engine's stub declares a CFA 8 bytes above the caller's stack pointer
 * during the call-through (stub_x86_64.S says why libgcc needs that), so
 * libunwind's step past a stub frame would leave every frame above it 8
 * bytes off. At a stub frame this walk therefore steps by hand, with the
 * engine's own record of the caller (hook_engine_stub_frame), and restarts
 * libunwind from the caller's registers.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "stacktrace.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#include "hook_engine.h"

/* libunwind's local-unwinding entry points; set once by stacktrace_init. */
static struct {
	int (*getcontext)(unw_context_t *uc);
	int (*init_local)(unw_cursor_t *c, unw_context_t *uc);
	int (*step)(unw_cursor_t *c);
	int (*get_reg)(unw_cursor_t *c, unw_regnum_t reg, unw_word_t *value);
	bool ready;
} unw;

bool stacktrace_init(void)
{
	if (__atomic_load_n(&unw.ready, __ATOMIC_ACQUIRE))
		return true;
	void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		return false;
	/* the names behind unw_getcontext, unw_init_local, ... with UNW_LOCAL_ONLY on x86-64 */
	unw.getcontext = (int (*)(unw_context_t *))dlsym(lib, "_Ux86_64_getcontext");
	unw.init_local = (int (*)(unw_cursor_t *, unw_context_t *))dlsym(lib, "_ULx86_64_init_local");
	unw.step = (int (*)(unw_cursor_t *))dlsym(lib, "_ULx86_64_step");
	unw.get_reg = (int (*)(unw_cursor_t *, unw_regnum_t, unw_word_t *))dlsym(lib, "_ULx86_64_get_reg");
	if (unw.getcontext == NULL || unw.init_local == NULL || unw.step == NULL || unw.get_reg == NULL) {
		dlclose(lib);
		return false;
	}
	__atomic_store_n(&unw.ready, true, __ATOMIC_RELEASE);
	return true;
}

/* Restarts c at a hooked call's caller: stub frame registers, with the caller's rip and rbx. */
static bool step_over_stub(unw_cursor_t *c, uint64_t caller_ip, uint64_t caller_rbx)
{
	static const struct { unw_regnum_t unw; int greg; } kept[] = {
		{ UNW_X86_64_RSP, REG_RSP }, { UNW_X86_64_RBP, REG_RBP }, { UNW_X86_64_R12, REG_R12 },
		{ UNW_X86_64_R13, REG_R13 }, { UNW_X86_64_R14, REG_R14 }, { UNW_X86_64_R15, REG_R15 },
	};
	unw_context_t uc;
	memset(&uc, 0, sizeof uc);
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		unw_word_t v;
		if (unw.get_reg(c, kept[i].unw, &v) != 0)
			return false;
		uc.uc_mcontext.gregs[kept[i].greg] = (greg_t)v;
	}
	uc.uc_mcontext.gregs[REG_RIP] = (greg_t)caller_ip;
	uc.uc_mcontext.gregs[REG_RBX] = (greg_t)caller_rbx;
	return unw.init_local(c, &uc) == 0;
}

int stacktrace_capture(uint64_t *frames, int max)
{
	if (!__atomic_load_n(&unw.ready, __ATOMIC_ACQUIRE) || max <= 0)
		return 0;
	unw_context_t uc;
	unw_cursor_t c;
	if (unw.getcontext(&uc) != 0 || unw.init_local(&c, &uc) != 0)
		return 0;
	int n = 0;
	while (n < max) {
		unw_word_t ip, rbx;
		if (unw.get_reg(&c, UNW_REG_IP, &ip) != 0 || ip == 0)
			break;
		frames[n++] = ip;
		uint64_t caller_ip, caller_rbx;
		if (unw.get_reg(&c, UNW_X86_64_RBX, &rbx) == 0 &&
		    hook_engine_stub_frame(ip, rbx, &caller_ip, &caller_rbx)) {
			if (!step_over_stub(&c, caller_ip, caller_rbx))
				break;
			continue;
		}
		if (unw.step(&c) <= 0)
			break;
	}
	return n;
}
