/* SPDX-License-Identifier: MIT */
/*
 * arch.h: what the hook engine needs from the CPU, implemented once per
 * architecture (arch_x86_64.c; later arch_aarch64.c) and chosen by the build.
 *
 * Owns: deciding whether a function's entry can be patched, and producing
 * the relocated copy of the instructions the patch overwrites. Pure: works
 * on bytes the caller provides, at addresses the caller names; it reads no
 * memory on its own, writes none, and calls nothing that can block, so the
 * CLI can run it over a file and the shim over the live process.
 *
 * x86-64 layout of a patched function (n = stolen_len):
 *
 *   target:   [endbr64]  jmp rel32 -> thunk   int3 ... int3   rest of body
 *             ^ patch_offset          ^ +5     ^ up to patch_offset + n
 *
 *   trampoline (at trampoline_address, within +-2 GiB of the target):
 *             relocated copies of the n stolen bytes' instructions
 *             jmp rel32 -> target + patch_offset + n
 */
#ifndef STDBTEL_ARCH_H
#define STDBTEL_ARCH_H

#include <stddef.h>
#include <stdint.h>

/* Why a function cannot be patched; ARCH_HOOKABLE when it can. */
enum arch_refusal {
	ARCH_HOOKABLE = 0,
	ARCH_TOO_SHORT,           /* body shorter than the patch */
	ARCH_UNKNOWN_SIZE,        /* no symbol size: the body cannot be scanned */
	ARCH_DECODE_FAILED,       /* an instruction in the body does not decode */
	ARCH_BRANCH_INTO_PATCH,   /* a branch in the body lands inside the stolen bytes */
	ARCH_UNRELOCATABLE,       /* a stolen instruction cannot run elsewhere */
	ARCH_OUT_OF_RANGE,        /* a relocated displacement does not fit in 32 bits */
};

/* The longest relocated copy: each stolen instruction may grow (rel8 -> rel32). */
#define ARCH_TRAMPOLINE_MAX 96
/* Bytes the patch itself takes (x86-64: jmp rel32). */
#define ARCH_PATCH_LEN 5

struct arch_patch_plan {
	size_t patch_offset;      /* where the jump is written: after endbr64, else 0 */
	size_t stolen_len;        /* whole instructions overwritten, >= ARCH_PATCH_LEN */
	uint8_t trampoline[ARCH_TRAMPOLINE_MAX];
	size_t trampoline_len;    /* relocated instructions plus the jump back */
};

/*
 * Plans a patch of the function whose size bytes are at code, which runs at
 * runtime_address, with its trampoline to be placed at trampoline_address.
 * Scans the whole body (size bytes) for branches into the stolen bytes.
 * Returns ARCH_HOOKABLE with *plan filled, or the refusal with a one-line
 * reason in why (e.g. "jne at +0x2c branches to +0x3, inside the 7 patched
 * bytes"). Thread-safe; no allocation.
 *
 * A branch from the body to exactly patch_offset is accepted: it reaches the
 * jmp and re-enters the hook, as a recursive call would. On ARCH_HOOKABLE,
 * why holds a one-line summary of the plan; on a refusal the trampoline
 * contents are unspecified and trampoline_len is 0. why may be NULL when
 * whylen is 0.
 */
enum arch_refusal arch_plan_patch(const uint8_t *code, size_t size, uint64_t runtime_address,
                                  uint64_t trampoline_address, struct arch_patch_plan *plan, char *why,
                                  size_t whylen);

/* The bytes to write at runtime_address + plan->patch_offset: jmp rel32 to dest,
 * then int3 up to stolen_len. Returns ARCH_OUT_OF_RANGE when dest is beyond rel32. */
enum arch_refusal arch_encode_patch(const struct arch_patch_plan *plan, uint64_t runtime_address,
                                    uint64_t dest, uint8_t *out /* stolen_len bytes */);

/* "too short", "branch into patch", ...: for listings. */
const char *arch_refusal_name(enum arch_refusal refusal);

#endif
