/* SPDX-License-Identifier: MIT */
/*
 * hook_engine.c: installing hooks and the C side of the hot path
 * (contract in hook_engine.h, the stub and its stack layout in
 * stub_x86_64.S).
 *
 * Install, per request (single-threaded, at start-up):
 *  1. find a free slot in a near page: an existing page within +-2 GiB of
 *     the target (minus a margin), else a new page mapped into the free gap
 *     of /proc/self/maps closest to the target (MAP_FIXED_NOREPLACE, so a
 *     mapping that appeared meanwhile is never clobbered);
 *  2. plan with arch_plan_patch() for the slot's trampoline address; a
 *     refusal leaves everything untouched and returns the planner's reason;
 *  3. fill the slot (thunk, site, trampoline) while the page is writable
 *     (RWX, or RW when the kernel refuses RWX), then make it RX and flush;
 *  4. make the target's page(s) writable (RWX; RW when the kernel refuses
 *     RWX and the pages hold none of the code used for writing), write the
 *     jmp, restore each page's original protection from /proc/self/maps,
 *     flush. If the kernel refuses, the function stays untouched (the slot
 *     is simply wasted).
 *
 * Near page slot layout (HOOK_SLOT_SIZE bytes, one per hooked function):
 *     +0   thunk: ff 35 rel32  push [rip -> site_ptr]
 *          ff 25 rel32  jmp  [rip -> stub_ptr]   int3 padding
 *     +16  site_ptr: &site      +24 stub_ptr: stdbtel_hook_stub
 *     +32  struct hook_site { id, trampoline }
 *     +48  trampoline (ARCH_TRAMPOLINE_MAX bytes), int3 padding
 * Everything the thunk and stub read lives in the RX page, next to the
 * trampoline, so one page fault-free line serves each call.
 *
 * Hot path (stdbtel_hook_enter / stdbtel_hook_exit, called by the stub):
 * thread-local, initial-exec, no locks, no allocation, no syscalls (except
 * the mmap of the thread's frame stack at its first timed entry, and one
 * sigaltstack() query when a frame is about to be reaped at entry),
 * async-signal-safe. Compiled general-regs-only so that neither they nor
 * anything inlined into them can clobber vector or x87 registers.
 *
 * Frame stack: TLS holds only a pointer to it, the depth, the re-entrancy
 * guard and the counters. The HOOK_MAX_DEPTH frames themselves are one
 * anonymous MAP_NORESERVE mapping per thread, made at the thread's first
 * timed entry (which may be in a signal handler on a new thread: mmap is
 * async-signal-safe, and the guard is held, so a signal during the mmap
 * runs its hooked calls untimed), and unmapped by a thread-specific-data
 * destructor when the thread exits. A thread whose mapping fails runs its
 * calls untimed and counts them (stats.unmapped).
 * frames[0..depth) are the live hooked calls of the thread,
 * outermost first. A frame is published (depth incremented) only after it
 * is fully written, so a signal arriving at any point sees a consistent
 * stack. Dead frames (their call left by longjmp, exception or panic) are
 * reaped: at exit of F, every frame above F is dead (F is returning, so
 * everything it called has finished); at entry with caller stack pointer
 * sp, every frame whose recorded sp <= sp is dead (a live frame's stub sits
 * below its own sp, so any later call from inside it has a lower sp) --
 * unless the thread is now on its sigaltstack and the frame is not, in
 * which case the comparison means nothing and the frame is kept. An
 * exception or panic does not wait for that: the stub's personality
 * routine pops the frame while the unwinder passes it.
 */
#define _GNU_SOURCE
#include "hook_engine.h"

#include "arch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unwind.h>

/* ---- shared with the stub ---- */

struct hook_site {
	uint64_t id;
	uint64_t trampoline;
};

/* One frame; the stub reads ra at +0, rbx at +8, trampoline at +16. */
struct hook_frame {
	uint64_t ra;
	uint64_t rbx;
	uint64_t trampoline;
	uint64_t pad;
	struct hook_call call;
};
_Static_assert(__builtin_offsetof(struct hook_frame, ra) == 0, "stub layout");
_Static_assert(__builtin_offsetof(struct hook_frame, rbx) == 8, "stub layout");
_Static_assert(__builtin_offsetof(struct hook_frame, trampoline) == 16, "stub layout");
_Static_assert(sizeof(struct hook_regs) == 80, "stub layout: 10 pushes");

/* The return registers as the stub pushes them after the call. */
struct hook_ret_regs {
	uint64_t rax, rdx, rcx, rsi, rdi, r8, r9, r10, r11;
};

void stdbtel_hook_stub(void);
extern const char stdbtel_hook_stub_return[]; /* the call-through's return address */
uintptr_t stdbtel_hook_enter(const struct hook_site *site, struct hook_regs *regs);
void stdbtel_hook_exit(struct hook_frame *f, const struct hook_ret_regs *ret);

struct hook_thread {
	struct hook_frame *frames; /* HOOK_MAX_DEPTH frames (FRAMES_SIZE), or NULL until mapped */
	int *errno_loc;            /* this thread's errno, or NULL until the first entry */
	uint32_t depth;
	uint32_t guard;
	struct hook_thread_stats stats;
};

#define FRAMES_SIZE ((size_t)HOOK_MAX_DEPTH * sizeof(struct hook_frame))

static __thread struct hook_thread hook_tls __attribute__((tls_model("initial-exec")));

static hook_enter_fn enter_handler;
static hook_exit_fn exit_handler;

/*
 * glibc keeps the values of the first 32 keys in the thread descriptor, so
 * setting one neither allocates nor locks, and is safe where a thread's
 * first timed entry may run: in a signal handler. With a higher key (the
 * process made 32 before us) frame stacks are never unmapped instead.
 */
#define KEYS_IN_THREAD_DESCRIPTOR 32

/* Its destructor unmaps an exiting thread's frame stack; valid when frames_key_ok. */
static pthread_key_t frames_key;
static bool frames_key_ok;
static pthread_once_t frames_key_once = PTHREAD_ONCE_INIT;

void hook_engine_reap_dead(uint64_t sp);

/* Key destructor, at thread exit: the stack goes unless a call on it is
 * still live (a stub would still read it). A hooked call made later in
 * the thread's exit maps a new one, and registers it again. */
static void unmap_frames_at_exit(void *frames)
{
	struct hook_thread *t = &hook_tls;
	/* The thread function has returned (pthread_exit's forced unwind pops
	 * frames through the stub's personality): any frame left was
	 * abandoned by longjmp and would otherwise never be reported. */
	if (t->frames == frames && t->depth != 0 && !t->guard)
		hook_engine_reap_dead(UINT64_MAX);
	if (t->frames != frames || t->depth != 0)
		return;
	t->frames = NULL; /* a signal arriving from here on maps its own */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int saved_errno = errno;
	munmap(frames, FRAMES_SIZE);
	errno = saved_errno;
}

static void create_frames_key(void)
{
	frames_key_ok = pthread_key_create(&frames_key, unmap_frames_at_exit) == 0;
	if (frames_key_ok && frames_key >= KEYS_IN_THREAD_DESCRIPTOR) {
		pthread_key_delete(frames_key);
		frames_key_ok = false;
	}
}

void hook_engine_set_handlers(hook_enter_fn enter, hook_exit_fn exit)
{
	pthread_once(&frames_key_once, create_frames_key);
	__atomic_store_n(&enter_handler, enter, __ATOMIC_RELEASE);
	__atomic_store_n(&exit_handler, exit, __ATOMIC_RELEASE);
}

void hook_engine_thread_stats(struct hook_thread_stats *out)
{
	*out = hook_tls.stats;
	out->depth = hook_tls.depth;
}

/* ---- hot path ---- */

#pragma GCC push_options
#pragma GCC target("general-regs-only")

/* Caller's rsp at its call: above the 10 saved registers, site slot and RA. */
#define REGS_TO_SP (sizeof(struct hook_regs) + 16)

/*
 * Maps the calling thread's frame stack (guard held): mmap and, with
 * frames_key_ok, a pthread_setspecific that glibc does in the thread
 * descriptor; both async-signal-safe. After a failure it is tried again
 * only when stats.unmapped is a power of two, so a passing shortage heals
 * and a lasting one costs one syscall per doubling of the untimed calls.
 */
static __attribute__((noinline, cold)) bool map_frames(struct hook_thread *t)
{
	uint64_t failed = t->stats.unmapped;
	if ((failed & (failed - 1)) == 0) {
		void *p = mmap(NULL, FRAMES_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		               -1, 0);
		if (p != MAP_FAILED) {
			if (frames_key_ok)
				pthread_setspecific(frames_key, p);
			t->frames = p;
			return true;
		}
	}
	t->stats.unmapped++;
	return false;
}

/* The thread's errno: its address is cached because from this object
 * glibc's errno is a call (__errno_location) each time. */
static inline int *thread_errno(struct hook_thread *t)
{
	if (__builtin_expect(t->errno_loc == NULL, 0))
		t->errno_loc = &errno;
	return t->errno_loc;
}

/* True when an entry may take frames[depth] (guard held); else counts why not. */
static inline bool frame_available(struct hook_thread *t)
{
	if (__builtin_expect(t->depth >= HOOK_MAX_DEPTH, 0)) {
		t->stats.overflows++;
		return false;
	}
	return __builtin_expect(t->frames != NULL, 1) || map_frames(t);
}

static void report_unwound(struct hook_thread *t, struct hook_frame *f, hook_exit_fn ex, enum hook_end end)
{
	t->stats.reaped++;
	if (ex)
		ex(&f->call, 0, 0, end);
}

/* Reports the top frame as left (HOOK_ABANDONED) and pops it. */
static void abandon_top(struct hook_thread *t, hook_exit_fn ex)
{
	report_unwound(t, &t->frames[t->depth - 1], ex, HOOK_ABANDONED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->depth--;
}

/* True when sp lies in the alternate signal stack the thread runs on now. */
static bool on_alt_stack(uint64_t sp, bool *known, stack_t *ss)
{
	if (!*known) {
		*known = true;
		if (sigaltstack(NULL, ss) != 0 || !(ss->ss_flags & SS_ONSTACK))
			ss->ss_size = 0;
	}
	return ss->ss_size && sp >= (uintptr_t)ss->ss_sp && sp - (uintptr_t)ss->ss_sp <= ss->ss_size;
}

/*
 * Pops the dead frames at an entry whose caller's stack pointer is sp,
 * with return address ra (0: unknown). A frame at or below sp was left
 * (longjmp, an unwinder that stopped) and its stack reused. Except one:
 * entered at top's own sp with the stub's call-through return address,
 * this function was jumped to from top's (a tail call), and top is live:
 * reaped, its slot would be reused and the stub would return into itself.
 */
static void reap_at_entry(struct hook_thread *t, uint64_t sp, uint64_t ra)
{
	hook_exit_fn ex = __atomic_load_n(&exit_handler, __ATOMIC_RELAXED);
	bool known = false;
	stack_t ss;
	while (t->depth > 0) {
		struct hook_frame *top = &t->frames[t->depth - 1];
		if (top->call.sp > sp)
			break;
		if (top->call.sp == sp && ra == (uintptr_t)stdbtel_hook_stub_return)
			break;
		/* On the sigaltstack, frames of the interrupted stack look dead. */
		if (on_alt_stack(sp, &known, &ss) && !on_alt_stack(top->call.sp, &known, &ss))
			break;
		abandon_top(t, ex);
	}
}

void hook_engine_reap_dead(uint64_t sp)
{
	struct hook_thread *t = &hook_tls;
	if (t->guard || t->frames == NULL || t->depth == 0)
		return;
	t->guard = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int saved_errno = errno;
	reap_at_entry(t, sp, 0);
	errno = saved_errno;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->guard = 0;
}

/*
 * The entry of a timed call, shared by the stub (stdbtel_hook_enter) and
 * the C wrappers (hook_engine_call_begin): under the guard, reaps the dead
 * frames below sp, fills the next frame (ra, rbx and trampoline are the
 * stub's; a wrapper passes 0) and publishes it if the enter handler times
 * the call. Returns the frame, or NULL when the call runs untimed.
 */
static inline __attribute__((always_inline)) struct hook_frame *
push_frame(struct hook_thread *t, uint64_t id, uint64_t sp, const struct hook_regs *regs, uint64_t ra,
           uint64_t rbx, uint64_t trampoline)
{
	if (t->guard) {
		t->stats.reentries++;
		return NULL;
	}
	t->guard = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int *errno_loc = thread_errno(t);
	int saved_errno = *errno_loc;
	if (t->depth > 0 && t->frames[t->depth - 1].call.sp <= sp)
		reap_at_entry(t, sp, *(const uint64_t *)(uintptr_t)(sp - 8)); /* the entry's return address */
	hook_enter_fn en = __atomic_load_n(&enter_handler, __ATOMIC_ACQUIRE);
	struct hook_frame *f = NULL;
	if (en && frame_available(t)) { /* else untimed (frame_available counts a missing stack) */
		f = &t->frames[t->depth];
		f->ra = ra;
		f->rbx = rbx;
		f->trampoline = trampoline;
		f->call.id = id;
		f->call.sp = sp;
		f->call.return_address = ra;
		f->call.depth = t->depth;
		if (en(&f->call, regs)) {
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			t->depth++; /* published */
		} else {
			f = NULL;
		}
	}
	*errno_loc = saved_errno;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->guard = 0;
	return f;
}

__attribute__((used)) uintptr_t stdbtel_hook_enter(const struct hook_site *site, struct hook_regs *regs)
{
	uint64_t sp = (uintptr_t)regs + REGS_TO_SP;
	uint64_t ra = *(const uint64_t *)(uintptr_t)(sp - 8);
	struct hook_frame *f = push_frame(&hook_tls, site->id, sp, regs, ra, regs->rbx, site->trampoline);
	if (f)
		return (uintptr_t)f;
	/* Untimed: the stub jumps to the address left in the site slot. */
	*(uint64_t *)(uintptr_t)(sp - 16) = site->trampoline;
	return 0;
}

__attribute__((used)) void stdbtel_hook_exit(struct hook_frame *f, const struct hook_ret_regs *ret)
{
	struct hook_thread *t = &hook_tls;
	uint32_t idx = (uint32_t)(f - t->frames);
	if (idx >= t->depth)
		return; /* already reaped: nothing to report twice */
	uint32_t guard = t->guard;
	t->guard = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int *errno_loc = thread_errno(t);
	int saved_errno = *errno_loc;
	hook_exit_fn ex = __atomic_load_n(&exit_handler, __ATOMIC_ACQUIRE);
	while (t->depth > idx + 1) { /* frames F called that never returned */
		report_unwound(t, &t->frames[t->depth - 1], ex, HOOK_ABANDONED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t->depth--;
	}
	if (ex)
		ex(&f->call, ret->rax, ret->rdx, HOOK_RETURNED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->depth = idx;
	*errno_loc = saved_errno;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->guard = guard;
}

/*
 * For C wrappers (interpose.c): the frame push of stdbtel_hook_enter and
 * the pop of stdbtel_hook_exit, without a stub. The frame's ra/rbx and
 * trampoline are unused (no stub reads them, and no CFI points at them:
 * the wrapper is an ordinary C frame to unwinders).
 */
__attribute__((used)) struct hook_call *hook_engine_call_begin(uint64_t id, uint64_t sp, const struct hook_regs *regs)
{
	struct hook_frame *f = push_frame(&hook_tls, id, sp, regs, 0, 0, 0);
	return f != NULL ? &f->call : NULL;
}

__attribute__((used)) void hook_engine_call_end(struct hook_call *call, uint64_t rax)
{
	struct hook_frame *f = (struct hook_frame *)((char *)call - __builtin_offsetof(struct hook_frame, call));
	struct hook_ret_regs ret = { .rax = rax };
	stdbtel_hook_exit(f, &ret);
}

bool hook_engine_guard_try(void)
{
	struct hook_thread *t = &hook_tls;
	if (t->guard) {
		t->stats.reentries++;
		return false;
	}
	t->guard = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return true;
}

void hook_engine_guard_release(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	hook_tls.guard = 0;
}

#pragma GCC pop_options

bool hook_engine_stub_frame(uint64_t ip, uint64_t rbx, uint64_t *caller_ip, uint64_t *caller_rbx)
{
	if (ip != (uintptr_t)stdbtel_hook_stub_return || rbx == 0)
		return false;
	const struct hook_frame *f = (const struct hook_frame *)(uintptr_t)rbx;
	*caller_ip = f->ra;
	*caller_rbx = f->rbx;
	return true;
}

/* What the unwinder found on the exiting thread's stack (hook_engine_reap_dead_at_exit). */
struct exit_walk {
	const struct hook_thread *t;
	uint8_t live[HOOK_MAX_DEPTH / 8]; /* bit i: frames[i] is a call the stack still holds */
	uint64_t reached;  /* the highest CFA the unwinder got to */
};

static _Unwind_Reason_Code note_live_call(struct _Unwind_Context *ctx, void *arg)
{
	struct exit_walk *w = arg;
	uint64_t cfa = _Unwind_GetCFA(ctx);
	if (cfa > w->reached)
		w->reached = cfa;
	if (_Unwind_GetIP(ctx) == (uintptr_t)stdbtel_hook_stub_return) {
		const struct hook_frame *f = (const struct hook_frame *)_Unwind_GetGR(ctx, 3 /* rbx */);
		if (f >= w->t->frames && f < w->t->frames + w->t->depth)
			w->live[(f - w->t->frames) / 8] |= (uint8_t)(1u << ((f - w->t->frames) % 8));
	}
	return _URC_NO_REASON;
}

void hook_engine_reap_dead_at_exit(uint64_t sp)
{
	hook_engine_reap_dead(sp);
	struct hook_thread *t = &hook_tls;
	if (t->guard || t->frames == NULL || t->depth == 0)
		return;
	struct exit_walk w = { .t = t };
	t->guard = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int saved_errno = errno;
	_Unwind_Backtrace(note_live_call, &w);
	/* Within the stack the unwinder walked, every call in progress showed
	 * up as a stub frame: the others there were left. Beyond it (code
	 * without unwind tables stops the walk) nothing is judged. */
	hook_exit_fn ex = __atomic_load_n(&exit_handler, __ATOMIC_RELAXED);
	while (t->depth > 0) {
		struct hook_frame *top = &t->frames[t->depth - 1];
		uint32_t i = t->depth - 1;
		if ((w.live[i / 8] >> (i % 8) & 1) || top->trampoline == 0 || top->call.sp >= w.reached)
			break;
		abandon_top(t, ex);
	}
	errno = saved_errno;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->guard = 0;
}

/*
 * The stub's personality routine (see stub_x86_64.S): in the cleanup phase
 * of an exception, panic or forced unwind leaving the call-through window,
 * the frame in rbx (and any left above it) is reported unwound and popped.
 * Never stops the unwind; the search phase passes straight through.
 */
_Unwind_Reason_Code stdbtel_hook_personality(int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
                                             struct _Unwind_Exception *exc, struct _Unwind_Context *ctx);
__attribute__((used)) _Unwind_Reason_Code stdbtel_hook_personality(int version, _Unwind_Action actions,
                                                                   _Unwind_Exception_Class cls,
                                                                   struct _Unwind_Exception *exc,
                                                                   struct _Unwind_Context *ctx)
{
	(void)cls, (void)exc;
	if (version != 1)
		return _URC_FATAL_PHASE1_ERROR;
	if (!(actions & _UA_CLEANUP_PHASE) || _Unwind_GetIP(ctx) != (uintptr_t)stdbtel_hook_stub_return)
		return _URC_CONTINUE_UNWIND;
	struct hook_thread *t = &hook_tls;
	struct hook_frame *f = (struct hook_frame *)_Unwind_GetGR(ctx, 3 /* rbx */);
	if (t->frames == NULL || f < t->frames || f >= t->frames + t->depth)
		return _URC_CONTINUE_UNWIND; /* already reaped */
	uint32_t idx = (uint32_t)(f - t->frames);
	uint32_t guard = t->guard;
	t->guard = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int saved_errno = errno;
	hook_exit_fn ex = __atomic_load_n(&exit_handler, __ATOMIC_ACQUIRE);
	while (t->depth > idx) {
		/* idx is the frame being unwound; any above it were abandoned before */
		report_unwound(t, &t->frames[t->depth - 1], ex,
		               t->depth - 1 == idx ? HOOK_UNWINDING : HOOK_ABANDONED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t->depth--;
	}
	errno = saved_errno;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->guard = guard;
	return _URC_CONTINUE_UNWIND;
}

/* ---- install ---- */

#define HOOK_SLOT_SIZE 160
#define SLOT_THUNK 0
#define SLOT_SITE_PTR 16
#define SLOT_STUB_PTR 24
#define SLOT_SITE 32
#define SLOT_TRAMPOLINE 48
_Static_assert(SLOT_TRAMPOLINE + ARCH_TRAMPOLINE_MAX <= HOOK_SLOT_SIZE, "slot fits the trampoline");

/* Keep every slot byte within rel32 of the target, with room for the
 * function body (relocated prologue displacements and the jmp back). */
#define NEAR_LIMIT ((int64_t)2147483647 - (64 << 20))

struct near_page {
	uintptr_t base;
	size_t size;
	size_t used; /* slots */
};

#define MAX_INSTALLED 16384 /* TARGETS_MAX (targets.h): all one process can resolve */

/* Enough 4 KiB pages for MAX_INSTALLED slots, all near one object (a
 * server's .dynsym: 9,500 functions in PostgreSQL 15). */
#define MAX_NEAR_PAGES 1024
_Static_assert(MAX_NEAR_PAGES * (4096 / HOOK_SLOT_SIZE) >= MAX_INSTALLED, "near pages hold every hook");
static struct near_page near_pages[MAX_NEAR_PAGES];
static size_t near_page_count;
static uintptr_t installed_addresses[MAX_INSTALLED];
static size_t installed_count;

static bool within(uintptr_t a, uintptr_t b)
{
	int64_t d = (int64_t)(a - b);
	return d > -NEAR_LIMIT && d < NEAR_LIMIT;
}

/* Calls fn(start, end, prot, ctx) for each line of /proc/self/maps until it
 * returns true. Returns -1 when the file cannot be read. */
typedef bool (*maps_fn)(uintptr_t start, uintptr_t end, int prot, void *ctx);

static int for_each_mapping(maps_fn fn, void *ctx)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[8192];
	size_t have = 0;
	bool stop = false;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		char *line = buf;
		char *nl;
		while (!stop && (nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = 0;
			unsigned long s, e;
			char perms[8];
			if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3) {
				int prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
				           (perms[2] == 'x' ? PROT_EXEC : 0);
				stop = fn(s, e, prot, ctx);
			}
			line = nl + 1;
		}
		if (stop)
			break;
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	}
	close(fd);
	return 0;
}

struct gap_search {
	uintptr_t target;
	size_t size;
	uintptr_t prev_end;
	uintptr_t best;
	uint64_t best_dist;
	uintptr_t skip_below; /* candidates already tried and lost */
	uintptr_t skip_above;
};

static void consider_gap(struct gap_search *g, uintptr_t lo, uintptr_t hi)
{
	if (lo < 0x10000) /* below vm.mmap_min_addr */
		lo = 0x10000;
	if (hi > 0x7ffffffff000ull) /* end of the user half */
		hi = 0x7ffffffff000ull;
	if (hi <= lo || hi - lo < g->size)
		return;
	uintptr_t cand;
	if (g->target < lo)
		cand = lo;
	else if (g->target >= hi - g->size)
		cand = hi - g->size;
	else
		cand = g->target & ~(uintptr_t)(g->size - 1);
	if (cand < lo)
		cand = lo;
	if (cand >= g->skip_below && cand <= g->skip_above)
		return;
	if (!within(cand, g->target) || !within(cand + g->size, g->target))
		return;
	uint64_t dist = cand > g->target ? cand - g->target : g->target - cand;
	if (dist < g->best_dist) {
		g->best_dist = dist;
		g->best = cand;
	}
}

static bool gap_cb(uintptr_t start, uintptr_t end, int prot, void *ctx)
{
	(void)prot;
	struct gap_search *g = ctx;
	consider_gap(g, g->prev_end, start);
	g->prev_end = end;
	return false;
}

/* Maps one RW page (later RX) within reach of target; 0 on failure. */
static uintptr_t map_near(uintptr_t target, size_t size)
{
	uintptr_t skip_below = 1, skip_above = 0;
	for (int attempt = 0; attempt < 16; attempt++) {
		struct gap_search g = { .target = target, .size = size, .best_dist = UINT64_MAX,
		                        .skip_below = skip_below, .skip_above = skip_above };
		if (for_each_mapping(gap_cb, &g) != 0)
			return 0;
		consider_gap(&g, g.prev_end, (uintptr_t)0x7ffffffff000ull);
		if (g.best_dist == UINT64_MAX)
			return 0;
		void *p = mmap((void *)g.best, size, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != MAP_FAILED && (uintptr_t)p == g.best)
			return g.best;
		if (p != MAP_FAILED)
			munmap(p, size); /* an old kernel ignored MAP_FIXED_NOREPLACE */
		skip_below = g.best;
		skip_above = g.best;
	}
	return 0;
}

static struct near_page *page_for(uintptr_t target, char *why)
{
	size_t pagesize = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < near_page_count; i++) {
		struct near_page *p = &near_pages[i];
		if ((p->used + 1) * HOOK_SLOT_SIZE <= p->size && within(p->base, target) &&
		    within(p->base + p->size, target))
			return p;
	}
	if (near_page_count == MAX_NEAR_PAGES) {
		snprintf(why, HOOK_WHY_LEN, "no near page left (%d in use)", MAX_NEAR_PAGES);
		return NULL;
	}
	uintptr_t base = map_near(target, pagesize);
	if (!base) {
		snprintf(why, HOOK_WHY_LEN, "no free memory within +-2 GiB of 0x%lx for the trampoline",
		         (unsigned long)target);
		return NULL;
	}
	struct near_page *p = &near_pages[near_page_count++];
	p->base = base;
	p->size = pagesize;
	p->used = 0;
	return p;
}

/* Thunk bytes for a slot at address slot. */
static void write_thunk(uint8_t *slot, uintptr_t slot_addr)
{
	int32_t d_site = (int32_t)(SLOT_SITE_PTR - (SLOT_THUNK + 6));
	int32_t d_stub = (int32_t)(SLOT_STUB_PTR - (SLOT_THUNK + 12));
	uint8_t *t = slot + SLOT_THUNK;
	t[0] = 0xff, t[1] = 0x35; /* push qword [rip + d_site] */
	memcpy(t + 2, &d_site, 4);
	t[6] = 0xff, t[7] = 0x25; /* jmp qword [rip + d_stub] */
	memcpy(t + 8, &d_stub, 4);
	memset(t + 12, 0xcc, 4);
	uint64_t site_ptr = slot_addr + SLOT_SITE;
	uint64_t stub_ptr = (uintptr_t)&stdbtel_hook_stub;
	memcpy(slot + SLOT_SITE_PTR, &site_ptr, 8);
	memcpy(slot + SLOT_STUB_PTR, &stub_ptr, 8);
}

struct prot_lookup {
	uintptr_t addr;
	uintptr_t start, end; /* the mapping that holds addr */
	int prot;
	bool found;
};

static bool prot_cb(uintptr_t start, uintptr_t end, int prot, void *ctx)
{
	struct prot_lookup *l = ctx;
	if (l->addr >= start && l->addr < end) {
		l->start = start;
		l->end = end;
		l->prot = prot;
		l->found = true;
		return true;
	}
	return false;
}

/*
 * The last mapping found by page_protection, for one install_all: the
 * functions of an object lie in one text mapping, and each would read
 * /proc/self/maps again, which grows by a line per near page (reading it
 * for each of PostgreSQL's 9,514 functions took most of a second). The
 * patches restore every protection they change, so it stays right.
 */
static struct prot_lookup last_mapping;

/* The protection of the page at pg, from /proc/self/maps; false if unmapped. */
static bool page_protection(uintptr_t pg, int *prot)
{
	if (!(last_mapping.found && pg >= last_mapping.start && pg < last_mapping.end)) {
		last_mapping = (struct prot_lookup){ .addr = pg };
		if (for_each_mapping(prot_cb, &last_mapping) != 0)
			last_mapping.found = false;
		if (!last_mapping.found)
			return false;
	}
	*prot = last_mapping.prot;
	return true;
}

/* Writes len bytes at dst in code pages, restoring their protection. */
__attribute__((noinline)) static void copy_bytes(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		((volatile uint8_t *)dst)[i] = src[i];
}

static bool pages_overlap(uintptr_t first, uintptr_t last, uintptr_t code, size_t pagesize)
{
	uintptr_t page = code & ~(uintptr_t)(pagesize - 1);
	return page >= first && page <= last;
}

static int write_code(uintptr_t addr, const uint8_t *bytes, size_t len, char *why)
{
	size_t pagesize = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t first = addr & ~(uintptr_t)(pagesize - 1);
	uintptr_t last = (addr + len - 1) & ~(uintptr_t)(pagesize - 1);
	int prots[2];
	for (uintptr_t pg = first, i = 0; pg <= last; pg += pagesize, i++) {
		if (!page_protection(pg, &prots[i])) {
			snprintf(why, HOOK_WHY_LEN, "page 0x%lx is not in /proc/self/maps", (unsigned long)pg);
			return -1;
		}
	}
	size_t span = last + pagesize - first;
	if (mprotect((void *)first, span, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
		int e = errno;
		/* RW makes the pages non-executable: only if our writing code is elsewhere. */
		if (pages_overlap(first, last, (uintptr_t)&copy_bytes, pagesize) ||
		    pages_overlap(first, last, (uintptr_t)&write_code, pagesize) ||
		    pages_overlap(first, last, (uintptr_t)&mprotect, pagesize) ||
		    mprotect((void *)first, span, PROT_READ | PROT_WRITE) != 0) {
			snprintf(why, HOOK_WHY_LEN, "mprotect(0x%lx, %zu, RWX) refused: %s; left untouched",
			         (unsigned long)first, span, strerror(e));
			return -1;
		}
	}
	copy_bytes((uint8_t *)addr, bytes, len);
	int rc = 0;
	for (uintptr_t pg = first, i = 0; pg <= last; pg += pagesize, i++) {
		if (mprotect((void *)pg, pagesize, prots[i]) != 0 && rc == 0) {
			snprintf(why, HOOK_WHY_LEN, "patched, but restoring the protection of 0x%lx failed: %s",
			         (unsigned long)pg, strerror(errno));
			rc = 1;
		}
	}
	__builtin___clear_cache((char *)addr, (char *)addr + len);
	return rc;
}

/* Number of threads of this process, or -1. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool already_installed(uintptr_t addr)
{
	for (size_t i = 0; i < installed_count; i++)
		if (installed_addresses[i] == addr)
			return true;
	return false;
}

/* others_run: other threads may be executing thunks of this near page. */
static bool install_one(const struct hook_request *r, struct hook_result *res, bool others_run)
{
	char *why = res->why;
	if (already_installed(r->address)) {
		snprintf(why, HOOK_WHY_LEN, "0x%lx is already hooked", (unsigned long)r->address);
		return false;
	}
	if (installed_count == MAX_INSTALLED) {
		snprintf(why, HOOK_WHY_LEN, "more than %d hooks", MAX_INSTALLED);
		return false;
	}
	struct near_page *page = page_for(r->address, why);
	if (!page)
		return false;
	uintptr_t slot_addr = page->base + page->used * HOOK_SLOT_SIZE;
	uintptr_t tramp_addr = slot_addr + SLOT_TRAMPOLINE;
	struct arch_patch_plan plan;
	enum arch_refusal refusal = arch_plan_patch((const uint8_t *)r->address, r->size, r->address, tramp_addr,
	                                            &plan, why, HOOK_WHY_LEN);
	if (refusal != ARCH_HOOKABLE)
		return false;
	uint8_t patch[ARCH_TRAMPOLINE_MAX];
	if (plan.stolen_len > sizeof patch ||
	    arch_encode_patch(&plan, r->address, slot_addr + SLOT_THUNK, patch) != ARCH_HOOKABLE) {
		snprintf(why, HOOK_WHY_LEN, "the thunk at 0x%lx is out of jmp rel32 range", (unsigned long)slot_addr);
		return false;
	}

	/* Fill the slot while the page is writable, then seal it. The page
	 * stays executable when the kernel allows it: the other slots in it
	 * may be reached meanwhile (a hooked libc function that install
	 * itself calls). */
	if (mprotect((void *)page->base, page->size, PROT_READ | PROT_WRITE | PROT_EXEC) != 0 &&
	    ((others_run && page->used > 0) || mprotect((void *)page->base, page->size, PROT_READ | PROT_WRITE) != 0)) {
		/* RW would fault a thread running one of the page's other thunks */
		snprintf(why, HOOK_WHY_LEN, "mprotect of the near page failed: %s", strerror(errno));
		return false;
	}
	uint8_t *slot = (uint8_t *)slot_addr;
	memset(slot, 0xcc, HOOK_SLOT_SIZE);
	write_thunk(slot, slot_addr);
	struct hook_site site = { .id = r->id, .trampoline = tramp_addr };
	memcpy(slot + SLOT_SITE, &site, sizeof site);
	memcpy(slot + SLOT_TRAMPOLINE, plan.trampoline, plan.trampoline_len);
	if (mprotect((void *)page->base, page->size, PROT_READ | PROT_EXEC) != 0) {
		snprintf(why, HOOK_WHY_LEN, "mprotect(RX) of the near page failed: %s", strerror(errno));
		return false;
	}
	__builtin___clear_cache((char *)slot, (char *)slot + HOOK_SLOT_SIZE);
	page->used++; /* the slot is consumed even if the patch below fails */

	char plan_summary[HOOK_WHY_LEN];
	memcpy(plan_summary, why, HOOK_WHY_LEN);
	int rc = write_code(r->address + plan.patch_offset, patch, plan.stolen_len, why);
	if (rc < 0)
		return false;
	if (rc == 0)
		memcpy(why, plan_summary, HOOK_WHY_LEN);
	installed_addresses[installed_count++] = r->address;
	return true;
}

static int install_all(const struct hook_request *reqs, size_t n, struct hook_result *results, bool others_run)
{
	int ok = 0;
	last_mapping.found = false; /* a dlopen since the last call may have remapped anything */
	for (size_t i = 0; i < n; i++) {
		results[i].why[0] = 0;
		results[i].installed = install_one(&reqs[i], &results[i], others_run);
		ok += results[i].installed;
	}
	return ok;
}

int hook_engine_install(const struct hook_request *reqs, size_t n, struct hook_result *results)
{
	int saved_errno = errno;
	int threads = thread_count();
	if (threads != 1) {
		for (size_t i = 0; i < n; i++) {
			results[i].installed = false;
			if (threads < 0)
				snprintf(results[i].why, HOOK_WHY_LEN, "cannot read /proc/self/task: not patching");
			else
				snprintf(results[i].why, HOOK_WHY_LEN,
				         "%d threads run: patching is only safe while one does", threads);
		}
		errno = saved_errno;
		return -1;
	}
	int ok = install_all(reqs, n, results, false);
	errno = saved_errno;
	return ok;
}

int hook_engine_install_fresh(const struct hook_request *reqs, size_t n, struct hook_result *results)
{
	int saved_errno = errno;
	int ok = install_all(reqs, n, results, true);
	errno = saved_errno;
	return ok;
}
