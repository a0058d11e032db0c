/* SPDX-License-Identifier: MIT */
/*
 * hook_engine.h: patch function entries so that every call runs an entry
 * handler before the function and an exit handler after it (x86-64).
 *
 * Owns: the near pages (thunks + relocated prologues), the patches written
 * into the targets, the handler pointers, and the per-thread frame stack.
 *
 * How a hooked call runs (call-through; details in stub_x86_64.S):
 *
 *   caller --call--> target: jmp thunk --> thunk: push site; jmp stub
 *   stub: save argument registers, enter handler, stash the caller's return
 *         address in a thread-local frame, call the trampoline (relocated
 *         prologue + jmp back into the body), exit handler, put the return
 *         address back, ret to the caller.
 *
 * Stack arguments stay where the caller put them; calls and returns stay
 * balanced; hand-written CFI lets C++ exceptions, Rust panics and
 * backtraces pass through a hooked frame.
 *
 * Why call-through, not return-address replacement. The other known way
 * to see a function's exit (uftrace -P, Frida's Interceptor, uretprobes)
 * lets the original return to a trampoline by overwriting the return
 * address on the stack and keeping the real one on a shadow stack. Then
 * the stack no longer says where the call returns: an unwinder walking it
 * finds the trampoline instead of the caller, which is why uftrace 0.13
 * crashes on a Rust panic through a hooked function (measured here,
 * ../shared/research/hooking.md), C++ needs its __cxa_* functions
 * interposed, and backtraces end at the first hooked frame; and each call
 * costs two mispredicted returns (about 12 ns more, measured on this VM).
 * Calling through keeps every return address where the hardware and the
 * unwinders expect it, at the price of an exact CFI description of the
 * stub (one extra frame in a backtrace) and of a thread-local frame for
 * the caller's return address. A server's code panics and throws; the
 * shim must not change what happens then.
 *
 * Handler contract (both handlers and everything they call):
 *  - must not touch SSE/AVX/x87 registers: the stub saves only general
 *    registers, so floating-point arguments (xmm0-7) and floating-point
 *    return values (xmm0/xmm1, st0 for long double) pass through the
 *    handlers untouched. Build them with -mgeneral-regs-only (or the
 *    `#pragma GCC target("general-regs-only")` used in hook_engine.c), and
 *    call no libc function that may use vector registers (memcpy, printf).
 *  - must be async-signal-safe: a hooked function may run in a signal
 *    handler, on any thread.
 *  - must not unwind or longjmp.
 *  - calls they make to hooked functions are not timed (re-entrancy guard).
 *  - errno is saved and restored around them by the engine.
 */
#ifndef STDBTEL_HOOK_ENGINE_H
#define STDBTEL_HOOK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames per thread; deeper calls run untimed (but correctly). Each
 * thread's frames live in a mapping of HOOK_MAX_DEPTH frames (~1.5 MiB of
 * address space) made at its first hooked entry; only the pages its
 * deepest call reached are ever backed. */
#define HOOK_MAX_DEPTH 16384

/* Argument registers at entry, as the caller left them. Layout is shared
 * with stub_x86_64.S: do not reorder. */
struct hook_regs {
	uint64_t rdi, rsi, rdx, rcx, r8, r9;
	uint64_t rax;        /* number of vector registers used by a varargs call */
	uint64_t r10, r11;
	uint64_t rbx;
};

/* Stack arguments of a hooked call: the 7th integer argument and onwards
 * (and memory-class arguments) start here. */
static inline const uint64_t *hook_stack_args(uint64_t sp)
{
	return (const uint64_t *)(uintptr_t)sp;
}

/*
 * One hooked call in progress, from a successful entry to its exit. Lives in
 * the thread's frame stack; valid only inside the handlers. data[] belongs to
 * the handlers: entry writes what exit needs (start timestamp, span id,
 * sampling decision, ...); the engine never reads it.
 */
struct hook_call {
	uint64_t id;             /* the request's user id */
	uint64_t sp;             /* caller's rsp at the call: stack arguments start here */
	uint64_t return_address; /* where the call returns to */
	uint32_t depth;          /* 0 for the outermost hooked call on this thread */
	uint32_t reserved;
	uint64_t data[4];
};

/* How a timed call ended, as told to the exit handler. */
enum hook_end {
	HOOK_RETURNED,  /* returned normally: rax/rdx are its return registers */
	HOOK_UNWINDING, /* a C++ exception, Rust panic or forced unwind is passing the
	                 * frame right now (exit runs inside the unwinder, in the
	                 * throwing thread): the throwing stack is still intact */
	HOOK_ABANDONED, /* left by longjmp/siglongjmp (or an exception the engine did
	                 * not see): found dead later, so the stack is gone */
};

/*
 * Entry: return true to time the call (exit will be called exactly once
 * with the same *call), false to run it untimed (no exit).
 * Exit: rax/rdx are the integer return registers (undefined for void and
 * floating-point calls, 0 unless end is HOOK_RETURNED). For HOOK_UNWINDING,
 * exit runs while the unwinder passes the frame; for HOOK_ABANDONED, at the
 * thread's next hooked entry at or above the dead frame's stack position,
 * or the exit of a hooked call below it, so the call ended at or before
 * that moment.
 */
typedef bool (*hook_enter_fn)(struct hook_call *call, const struct hook_regs *regs);
typedef void (*hook_exit_fn)(struct hook_call *call, uint64_t rax, uint64_t rdx, enum hook_end end);

/* Sets both handlers; call before hook_engine_install(), once. NULL enter
 * means every call runs untimed. */
void hook_engine_set_handlers(hook_enter_fn enter, hook_exit_fn exit);

struct hook_request {
	uintptr_t address;   /* runtime address of the function */
	uint64_t size;       /* symbol size (0 refuses: the body cannot be scanned) */
	uint64_t id;         /* handed to the handlers as call->id */
};

#define HOOK_WHY_LEN 160

struct hook_result {
	bool installed;
	char why[HOOK_WHY_LEN];  /* plan summary, or the reason for refusing */
};

/*
 * Patches each requested function; results[i] says what happened to
 * reqs[i]. A refused function is left untouched. Must run while the process
 * has a single thread (checked through /proc/self/task: with more threads
 * every request is refused), e.g. from the preload constructor. The same
 * address twice is refused the second time. Not thread-safe; not
 * async-signal-safe. Returns the number installed, or -1 when nothing was
 * attempted (more than one thread, or /proc unreadable).
 */
int hook_engine_install(const struct hook_request *reqs, size_t n, struct hook_result *results);

/*
 * The same, for functions no thread can be running yet: those of an object
 * that dlopen has just mapped, before dlopen returns to its caller (its
 * constructors ran on this thread and have returned). Other threads may
 * run elsewhere meanwhile. Calls must not overlap (the caller serialises
 * them); not async-signal-safe. Returns the number installed.
 */
int hook_engine_install_fresh(const struct hook_request *reqs, size_t n, struct hook_result *results);

/*
 * For wrappers written in C (the interposed functions, interpose.c): one
 * timed call on the same per-thread frame stack and handlers as a patched
 * one, so the two kinds nest as parent and child. hook_engine_call_begin
 * returns the call to hand to hook_engine_call_end after the wrapped
 * function returned with rax, or NULL when the call runs untimed (inside a
 * handler, stack full, no handler, or the enter handler declined). sp is
 * the wrapper's caller's stack pointer at its call instruction; a wrapper
 * left by unwinding or longjmp is reaped by it like a patched frame (as
 * HOOK_ABANDONED). Hot path rules as for the stub: async-signal-safe, no
 * locks, keeps errno.
 */
struct hook_call *hook_engine_call_begin(uint64_t id, uint64_t sp, const struct hook_regs *regs);
void hook_engine_call_end(struct hook_call *call, uint64_t rax);

/*
 * Runs other hot-path work under the engine's per-thread guard, so that a
 * signal handler's hooked call cannot interleave with it on this thread
 * (the handlers share the thread's ring and stacks). try returns false,
 * counting a re-entry, when the guard is held already (the caller then
 * skips its work); after true, call release. Async-signal-safe.
 */
bool hook_engine_guard_try(void);
void hook_engine_guard_release(void);

/*
 * For stack walkers that take the caller's stack pointer to be the CFA
 * (libunwind does; libgcc and gdb follow the stub's CFI exactly): when ip
 * is the stub's call-through return address, the frame is a hooked call's
 * stub, rbx (as unwound for that frame) points at its thread-local frame,
 * and this gives the caller's return address and rbx; the caller's rsp is
 * the stub frame's own rsp. Returns false for any other ip.
 */
bool hook_engine_stub_frame(uint64_t ip, uint64_t rbx, uint64_t *caller_ip, uint64_t *caller_rbx);

/*
 * Reports (HOOK_ABANDONED) and pops every frame of the calling thread whose
 * caller's stack pointer is at or below sp: calls left by longjmp that no
 * later hooked call on the thread has found yet. For the end of a thread
 * (sp = UINT64_MAX: everything left is dead; the engine does this itself
 * when a thread exits) and of the process (sp = the destructor's own stack
 * pointer: frames above it are calls still in progress, left alone).
 */
void hook_engine_reap_dead(uint64_t sp);

/*
 * At the end of the process (sp: the destructor's stack pointer): as
 * hook_engine_reap_dead, and also pops the frames above sp whose call was
 * left all the same: exit() runs below the calls still in progress, but
 * also below the place a longjmp went back to. The stack is walked with
 * the unwinder (_Unwind_Backtrace); a call still in progress shows up as
 * a stub frame. Not async-signal-safe (the unwinder is not).
 */
void hook_engine_reap_dead_at_exit(uint64_t sp);

/* Per-thread counters (the calling thread). */
struct hook_thread_stats {
	uint64_t overflows;     /* entries run untimed: frame stack full */
	uint64_t unmapped;      /* entries run untimed: the frame stack could not be mapped */
	uint64_t reentries;     /* entries run untimed: inside a handler */
	uint64_t reaped;        /* frames reported unwinding or abandoned */
	uint32_t depth;         /* frames live now */
};
void hook_engine_thread_stats(struct hook_thread_stats *out);

#endif
