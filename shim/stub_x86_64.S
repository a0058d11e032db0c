/* SPDX-License-Identifier: MIT */
/*
 * stub_x86_64.S: the shared entry/exit stub of the hook engine (call-through
 * design, see hook_engine.h and DESIGN.md "The hook engine").
 *
 * Reached from a per-site thunk in a near page:
 *     thunk:  push [rip + site_ptr]   ; struct hook_site * (no register clobbered)
 *             jmp  [rip + stub_ptr]   ; here
 * The thunk clobbers no register: with -fipa-ra, GCC may keep values in
 * call-clobbered registers across a call to a local function whose body
 * does not touch them, so the stub restores every register the original
 * function does not itself write: all argument registers, rax, r10, r11
 * before the call, and every caller-saved general register except the
 * return pair after it (the original's own writes are what the caller
 * expects).
 *
 * Vector and x87 registers are never saved: the C handlers are compiled
 * general-regs-only (hook_engine.h), so xmm0-7 (float arguments),
 * xmm0/xmm1 (float returns) and st0/st1 (long double returns) cannot be
 * touched between the caller and the callee or between the callee's ret
 * and ours. Saving them instead would cost ~16 movdqu and still not cover
 * ymm/zmm upper halves nor the x87 stack without an xsave.
 *
 * S0 = the caller's rsp just before its call instruction (16-aligned).
 * CFA of this stub's frame, as declared at each step, is on the right.
 *
 * 1. entry (from the thunk)                      CFA = rsp+16, RA at CFA-8
 *        S0-8   caller RA
 *        S0-16  site          <- rsp
 * 2. after pushing rbx, r11, r10, rax, r9, r8, rcx, rdx, rsi, rdi
 *        S0-24  rbx ... S0-96 rdi   <- rsp = struct hook_regs, 16-aligned
 *                                                CFA = rsp+96, RA at CFA-8
 *    call stdbtel_hook_enter(site, regs) -> frame F (TLS) or 0.
 *    It copied the RA into F->ra and rbx into F->rbx, and set F->trampoline.
 *    0 means untimed: it stored the trampoline address over the site slot.
 * 3. timed: mov F -> rbx                         CFA = rsp+96,
 *                                                RA  = [rbx+0]  (DW_CFA_expression)
 *                                                rbx = [rbx+8]  (DW_CFA_expression)
 *    pop the argument registers, drop rbx/site/RA slots: rsp = S0.
 * 4. call [rbx+16] (the trampoline): the original runs with rsp = S0-8 and
 *    its stack arguments at S0, exactly as if called directly. Its return
 *    address is label 1 below. From the lea before the call until the push
 *    after it, the stub declares a fake 8-byte frame:
 *                                                CFA = rsp+8 (= S0+8)
 *                                                rsp = CFA-8 (DW_CFA_val_offset)
 *                                                RA  = [rbx+0], rbx = [rbx+8]
 *    A zero-size frame would share its CFA (S0) with the original's frame;
 *    libgcc identifies frames by CFA and aborts in phase 2 of an exception
 *    when two adjacent frames have the same one. The caller's frame has
 *    CFA >= S0+16 (it is 16-aligned at the call), so S0+8 is unique, and
 *    the val_offset rule still gives the caller's exact rsp.
 * 5. back from the original (rsp = S0, rbx = F, callee-saved):
 *        push [rbx]    S0-8  caller RA               CFA = rsp+8, RA at CFA-8
 *        push [rbx+8]  S0-16 caller rbx              rbx at CFA-16
 *        pad, push r11 .. rax                        rsp = hook_ret_regs, 16-aligned
 *    call stdbtel_hook_exit(F, regs): pops F (and reports frames above it
 *    as unwound); F is not read after this call by the stub.
 *    pop the return registers, pop rbx, ret.
 * Untimed (rax = 0 after step 2): pop everything, rsp = S0-8 with the
 * trampoline address in the red zone at S0-16; jmp [rsp-8]. The red zone
 * is the callee's and untouched by signals; no ret is used as a jump, so
 * the return stack buffer stays balanced.
 *
 * Every instruction has an exact CFI row: signal handlers, profilers and
 * debuggers may unwind from any PC inside the stub.
 *
 * The FDE names a personality routine (stdbtel_hook_personality): when a
 * C++ exception or Rust panic unwinds through the call-through window, its
 * cleanup phase reports the call as unwound and pops F right then; the
 * unwinder reads F->ra/F->rbx immediately after, before any user code can
 * reuse the slot. longjmp runs no personality: its frames are reaped later
 * by stack position (hook_engine.c).
 */

#define DW_CFA_expression 0x10
#define DW_OP_breg3 0x73
#define RA_COLUMN 0x10
#define RBX_COLUMN 0x03

/* RA = [rbx + 0], caller's rbx = [rbx + 8] */
#define CFI_RA_IN_FRAME  .cfi_escape DW_CFA_expression, RA_COLUMN, 0x02, DW_OP_breg3, 0x00
#define CFI_RBX_IN_FRAME .cfi_escape DW_CFA_expression, RBX_COLUMN, 0x02, DW_OP_breg3, 0x08

#define PUSH(r) push r; .cfi_adjust_cfa_offset 8
#define POP(r)  pop r; .cfi_adjust_cfa_offset -8

	.text
	.p2align 4
	.globl stdbtel_hook_stub
	.hidden stdbtel_hook_stub
	.type stdbtel_hook_stub, @function
stdbtel_hook_stub:
	.cfi_startproc
	/* Phase 2 of an exception or panic through the call-through window
	 * pops this call's frame at once (hook_engine.c) */
	.cfi_personality 0x1b, stdbtel_hook_personality /* pcrel sdata4, hidden */
	.cfi_def_cfa_offset 16          /* site slot + caller RA */
	endbr64                         /* reached by an indirect jmp */
	PUSH(%rbx)
	PUSH(%r11)
	PUSH(%r10)
	PUSH(%rax)
	PUSH(%r9)
	PUSH(%r8)
	PUSH(%rcx)
	PUSH(%rdx)
	PUSH(%rsi)
	PUSH(%rdi)                      /* CFA = rsp+96; rsp = struct hook_regs */
	movq 80(%rsp), %rdi             /* site */
	movq %rsp, %rsi                 /* regs */
	call stdbtel_hook_enter
	testq %rax, %rax
	jz .Luntimed
	movq %rax, %rbx                 /* F: callee-saved for the whole call */
	CFI_RA_IN_FRAME
	CFI_RBX_IN_FRAME
	POP(%rdi)
	POP(%rsi)
	POP(%rdx)
	POP(%rcx)
	POP(%r8)
	POP(%r9)
	POP(%rax)
	POP(%r10)
	POP(%r11)                       /* CFA = rsp+24: old rbx, site, RA slots */
	leaq 24(%rsp), %rsp             /* rsp = S0 */
	.cfi_def_cfa_offset 8           /* the fake 8-byte frame */
	.cfi_val_offset %rsp, -8
	call *16(%rbx)                  /* the trampoline = the original function */
1:	/* rsp = S0, rbx = F; same rules as before the call */
	pushq (%rbx)                    /* caller RA back at S0-8 */
	.cfi_def_cfa_offset 8
	.cfi_restore %rsp
	.cfi_offset %rip, -8
	pushq 8(%rbx)                   /* caller rbx at S0-16 */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbx, -16
	subq $8, %rsp                   /* alignment pad */
	.cfi_adjust_cfa_offset 8
	PUSH(%r11)
	PUSH(%r10)
	PUSH(%r9)
	PUSH(%r8)
	PUSH(%rdi)
	PUSH(%rsi)
	PUSH(%rcx)
	PUSH(%rdx)
	PUSH(%rax)                      /* CFA = rsp+96; rsp = return registers */
	movq %rbx, %rdi                 /* F */
	movq %rsp, %rsi
	call stdbtel_hook_exit
	POP(%rax)
	POP(%rdx)
	POP(%rcx)
	POP(%rsi)
	POP(%rdi)
	POP(%r8)
	POP(%r9)
	POP(%r10)
	POP(%r11)
	addq $8, %rsp
	.cfi_adjust_cfa_offset -8
	POP(%rbx)
	.cfi_restore %rbx
	ret

.Luntimed:
	/* CFA = rsp+96, RA at CFA-8, rbx never changed; rax = 0 */
	.cfi_def_cfa_offset 96
	POP(%rdi)
	POP(%rsi)
	POP(%rdx)
	POP(%rcx)
	POP(%r8)
	POP(%r9)
	POP(%rax)
	POP(%r10)
	POP(%r11)
	POP(%rbx)                       /* CFA = rsp+16: trampoline address, RA */
	leaq 8(%rsp), %rsp              /* rsp = S0-8: the original's entry state */
	.cfi_def_cfa_offset 8
	jmp *-8(%rsp)                   /* trampoline, read from the red zone */
	.globl stdbtel_hook_stub_end    /* for tests that step through the stub */
	.hidden stdbtel_hook_stub_end
stdbtel_hook_stub_end:
	.cfi_endproc
	.size stdbtel_hook_stub, .-stdbtel_hook_stub

	/* The return address of the call-through, for tests and unwinders. */
	.globl stdbtel_hook_stub_return
	.hidden stdbtel_hook_stub_return
	.set stdbtel_hook_stub_return, 1b

	.section .note.GNU-stack,"",@progbits
