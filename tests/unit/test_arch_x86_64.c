/* SPDX-License-Identifier: MIT */
/*
 * test_arch_x86_64.c: tests for shim/arch_x86_64.c (contract in arch.h).
 *
 * Four kinds of evidence:
 *  - hand-assembled byte sequences, one rule each, checked byte by byte;
 *  - execution: small assembly functions defined below are planned, their
 *    trampolines copied to a page within rel32 reach and called in place of
 *    the originals (the originals are never patched);
 *  - real code: every function symbol of this binary and of libc is planned,
 *    and each hookable plan is re-decoded with Zydis and compared against
 *    the original instructions (same mnemonics, same absolute targets);
 *  - a fixed-seed fuzz loop over random and mutated prologues, with every
 *    buffer sized exactly so that AddressSanitizer sees any overrun.
 *
 * check_trampoline() is the independent oracle used by all of them: it does
 * not share code with the planner, only the decoder.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr, MAP_FIXED_NOREPLACE */
#endif
#include "arch.h"
#include "elf_file.h"

#include <Zydis/Zydis.h>
#include <criterion/criterion.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WHY_LEN 256

/* Synthetic addresses for hand-assembled bodies: a PIE-like text address and
 * a trampoline page 64 KiB above it. */
#define RT 0x555555554000ull
#define TR (RT + 0x10000ull)

#define ENDBR64 0xf3, 0x0f, 0x1e, 0xfa
#define REL32(v) (uint8_t)((uint32_t)(v)), (uint8_t)((uint32_t)(v) >> 8), \
	(uint8_t)((uint32_t)(v) >> 16), (uint8_t)((uint32_t)(v) >> 24)

/* ---- the oracle ---- */

static int32_t get_le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	                 (uint32_t)p[3] << 24);
}

struct decoded {
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint64_t address;
	size_t offset; /* within the decoded buffer */
};

/* Decodes [buf, buf+len) at address into out (at most max); false when a
 * byte does not decode or max is exceeded. */
static bool decode_all(const uint8_t *buf, size_t len, uint64_t address, struct decoded *out,
                       size_t max, size_t *count)
{
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	size_t k = 0;
	for (size_t off = 0; off < len; k++) {
		if (k == max)
			return false;
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, buf + off, len - off, &out[k].insn,
		                                       out[k].ops)))
			return false;
		out[k].address = address + off;
		out[k].offset = off;
		off += out[k].insn.length;
	}
	*count = k;
	return true;
}

/* The absolute address a relative instruction refers to. */
static bool rel_target(const struct decoded *d, uint64_t *target)
{
	for (unsigned i = 0; i < d->insn.operand_count; i++) {
		const ZydisDecodedOperand *op = &d->ops[i];
		bool rel = (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative) ||
		           (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.base == ZYDIS_REGISTER_RIP);
		if (rel) {
			ZyanU64 t;
			if (ZYAN_FAILED(ZydisCalcAbsoluteAddress(&d->insn, op, d->address, &t)))
				return false;
			*target = t;
			return true;
		}
	}
	return false;
}

/*
 * Checks a hookable plan of code (size bytes at rt, trampoline at tr): the
 * trampoline decodes into the stolen instructions, in order, with identical
 * bytes for position-independent ones and the same absolute targets for
 * relative ones, followed by jmp rel32 to rt + patch_offset + stolen_len.
 */
static void check_trampoline(const uint8_t *code, size_t size, uint64_t rt, uint64_t tr,
                             const struct arch_patch_plan *p)
{
	struct decoded orig[ARCH_PATCH_LEN + 1], tramp[ARCH_PATCH_LEN + 5];
	size_t norig = 0, ntramp = 0;
	size_t po = p->patch_offset, n = p->stolen_len;

	if (!(po == 0 || (po == 4 && size >= 4 && memcmp(code, (uint8_t[]){ ENDBR64 }, 4) == 0)))
		cr_assert_fail("patch_offset %zu", po);
	if (n < ARCH_PATCH_LEN || po + n > size)
		cr_assert_fail("stolen_len %zu for size %zu at offset %zu", n, size, po);
	if (p->trampoline_len < ARCH_PATCH_LEN || p->trampoline_len > ARCH_TRAMPOLINE_MAX)
		cr_assert_fail("trampoline_len %zu", p->trampoline_len);
	if (!decode_all(code + po, n, rt + po, orig, ARCH_PATCH_LEN + 1, &norig))
		cr_assert_fail("stolen bytes do not decode as whole instructions");
	/* The last stolen instruction is the first to reach the patch end. */
	if (orig[norig - 1].offset >= ARCH_PATCH_LEN)
		cr_assert_fail("stole more instructions than needed");
	if (!decode_all(p->trampoline, p->trampoline_len, tr, tramp, ARCH_PATCH_LEN + 5, &ntramp))
		cr_assert_fail("trampoline does not decode");

	/*
	 * A final call is relocated as lea rsp,[rsp-8]; mov [rsp],lo; mov [rsp+4],hi;
	 * jmp <same target>, and the callee returns into the original body.
	 */
	const struct decoded *last = &orig[norig - 1];
	if (last->insn.meta.category == ZYDIS_CATEGORY_CALL) {
		if (ntramp != norig - 1 + 4)
			cr_assert_fail("trampoline has %zu instructions for %zu stolen ending in a call", ntramp, norig);
		const struct decoded *j = &tramp[ntramp - 1];
		uint64_t ret = rt + po + n;
		if (tramp[ntramp - 4].insn.mnemonic != ZYDIS_MNEMONIC_LEA ||
		    (uint32_t)get_le32(p->trampoline + tramp[ntramp - 3].offset + 3) != (uint32_t)ret ||
		    (uint32_t)get_le32(p->trampoline + tramp[ntramp - 2].offset + 4) != (uint32_t)(ret >> 32))
			cr_assert_fail("the call's original return address %#llx is not pushed", (unsigned long long)ret);
		if (j->insn.mnemonic != ZYDIS_MNEMONIC_JMP)
			cr_assert_fail("the call became %s, not jmp", ZydisMnemonicGetString(j->insn.mnemonic));
		uint64_t ot = 0, tt = 0;
		if (last->insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
			if (!rel_target(last, &ot) || !rel_target(j, &tt) || ot != tt)
				cr_assert_fail("call target %#llx became %#llx", (unsigned long long)ot, (unsigned long long)tt);
		} else if (last->ops[0].type != j->ops[0].type ||
		           (last->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && last->ops[0].reg.value != j->ops[0].reg.value)) {
			cr_assert_fail("indirect call operand changed");
		}
		norig--; /* the rest are checked like any other instruction below */
	} else {
		if (ntramp != norig + 1)
			cr_assert_fail("trampoline has %zu instructions for %zu stolen", ntramp, norig);
		const struct decoded *back = &tramp[ntramp - 1];
		uint64_t back_target = 0;
		if (p->trampoline[back->offset] != 0xe9 || back->insn.length != 5 || !rel_target(back, &back_target))
			cr_assert_fail("trampoline does not end with jmp rel32");
		if (back_target != rt + po + n)
			cr_assert_fail("jump back to %#llx, expected %#llx", (unsigned long long)back_target,
			               (unsigned long long)(rt + po + n));
	}

	for (size_t i = 0; i < norig; i++) {
		const struct decoded *o = &orig[i], *t = &tramp[i];
		if (o->insn.mnemonic != t->insn.mnemonic)
			cr_assert_fail("instruction %zu: %s became %s", i,
			               ZydisMnemonicGetString(o->insn.mnemonic),
			               ZydisMnemonicGetString(t->insn.mnemonic));
		if (o->insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
			uint64_t ot = 0, tt = 0;
			if (!rel_target(o, &ot) || !rel_target(t, &tt) || ot != tt)
				cr_assert_fail("instruction %zu (%s): target %#llx became %#llx", i,
				               ZydisMnemonicGetString(o->insn.mnemonic),
				               (unsigned long long)ot, (unsigned long long)tt);
		} else if (o->insn.length != t->insn.length ||
		           memcmp(code + po + o->offset, p->trampoline + t->offset, o->insn.length) != 0) {
			cr_assert_fail("instruction %zu (%s) not copied verbatim", i,
			               ZydisMnemonicGetString(o->insn.mnemonic));
		}
	}
}

static enum arch_refusal plan(const uint8_t *code, size_t size, uint64_t rt, uint64_t tr,
                              struct arch_patch_plan *p, char *why)
{
	enum arch_refusal r = arch_plan_patch(code, size, rt, tr, p, why, WHY_LEN);
	cr_assert(strnlen(why, WHY_LEN) < WHY_LEN);
	if (r == ARCH_HOOKABLE)
		check_trampoline(code, size, rt, tr, p);
	return r;
}

/* ---- hand-assembled: the rules one by one ---- */

Test(arch_rules, plain_prologue_copied_verbatim)
{
	/* push rbp; mov rbp,rsp; sub rsp,0x10; leave; ret */
	const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xc9, 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.patch_offset, 0);
	cr_assert_eq(p.stolen_len, 8); /* 1 + 3 + 4: the sub is the first to reach byte 5 */
	cr_assert_eq(p.trampoline_len, 8 + 5);
	cr_assert_arr_eq(p.trampoline, code, 8);
	cr_assert_eq(p.trampoline[8], 0xe9);
	cr_assert_eq(TR + 13 + (uint64_t)(int64_t)get_le32(p.trampoline + 9), RT + 8);
}

Test(arch_rules, endbr64_stays_in_place)
{
	/* endbr64; push rbp; mov rbp,rsp; push r15; ...; ret */
	const uint8_t code[] = { ENDBR64, 0x55, 0x48, 0x89, 0xe5, 0x41, 0x57, 0x41, 0x5f, 0x5d, 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.patch_offset, 4);
	cr_assert_eq(p.stolen_len, 6);
	cr_assert_arr_eq(p.trampoline, code + 4, 6);
	cr_assert_eq(TR + 11 + (uint64_t)(int64_t)get_le32(p.trampoline + 7), RT + 10);

	uint8_t patch[6];
	uint64_t thunk = RT - 0x123456;
	cr_assert_eq(arch_encode_patch(&p, RT, thunk, patch), ARCH_HOOKABLE);
	cr_assert_eq(patch[0], 0xe9);
	cr_assert_eq(RT + 4 + 5 + (uint64_t)(int64_t)get_le32(patch + 1), thunk);
	cr_assert_eq(patch[5], 0xcc);
}

Test(arch_rules, endbr64_alone_is_too_short)
{
	/* endbr64; xor eax,eax; ret: 3 bytes after the endbr64 */
	const uint8_t code[] = { ENDBR64, 0x31, 0xc0, 0xc3, 0xcc };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_TOO_SHORT);
	cr_assert(strstr(why, "+0x4..+0x9") != NULL, "%s", why);
}

Test(arch_rules, rip_relative_mov_and_lea)
{
	/* mov rax,[rip+0x2000]; lea rdi,[rip-0x40]; ret */
	const uint8_t code[] = { 0x48, 0x8b, 0x05, REL32(0x2000), 0x48, 0x8d, 0x3d, REL32(-0x40), 0xc3 };
	uint64_t trs[] = { TR, RT - 0x7000000, RT + 0x7ffe0000 };
	char why[WHY_LEN];

	for (size_t i = 0; i < sizeof trs / sizeof trs[0]; i++) {
		struct arch_patch_plan p;
		uint64_t tr = trs[i];
		cr_assert_eq(plan(code, sizeof code, RT, tr, &p, why), ARCH_HOOKABLE, "%s", why);
		/* The mov alone covers 7 bytes. */
		cr_assert_eq(p.stolen_len, 7);
		cr_assert_arr_eq(p.trampoline, code, 3);
		uint64_t old_target = RT + 7 + 0x2000;
		int64_t disp = get_le32(p.trampoline + 3);
		cr_assert_eq((int64_t)(old_target - (tr + 7)), disp);
	}

	/* Same with the lea first: 2 instructions are not needed either. */
	const uint8_t lea[] = { 0x48, 0x8d, 0x3d, REL32(-0x40), 0xc3 };
	struct arch_patch_plan p;
	cr_assert_eq(plan(lea, sizeof lea, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(get_le32(p.trampoline + 3), (int64_t)(RT + 7 - 0x40 - (TR + 7)));
}

Test(arch_rules, rip_relative_with_immediate_after_disp)
{
	/* mov dword [rip+0x100],0x11223344 (disp at +2, imm at +6); cmp dword [rip+8],5; ret */
	const uint8_t code[] = { 0xc7, 0x05, REL32(0x100), 0x44, 0x33, 0x22, 0x11,
		                 0x83, 0x3d, REL32(8), 0x05, 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.stolen_len, 10);
	cr_assert_eq(get_le32(p.trampoline + 2), (int64_t)(RT + 10 + 0x100 - (TR + 10)));
	cr_assert_eq(get_le32(p.trampoline + 6), 0x11223344); /* the immediate is untouched */
}

Test(arch_rules, jmp_rel8_widened)
{
	/* push rbp; mov rbp,rsp; jmp +0x10 (last stolen); ... */
	uint8_t code[0x20] = { 0x55, 0x48, 0x89, 0xe5, 0xeb, 0x10 };
	memset(code + 6, 0x90, sizeof code - 7);
	code[sizeof code - 1] = 0xc3;
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.stolen_len, 6);
	cr_assert_eq(p.trampoline[4], 0xe9);
	cr_assert_eq(TR + 4 + 5 + (uint64_t)(int64_t)get_le32(p.trampoline + 5), RT + 6 + 0x10);
	cr_assert_eq(p.trampoline_len, 4 + 5 + 5);
}

Test(arch_rules, jmp_or_ret_before_patch_end_is_too_short)
{
	/* jmp +0x10; mov rbp,rsp: the 5 bytes would cover code reached from elsewhere */
	uint8_t jmp[0x20] = { 0xeb, 0x10, 0x48, 0x89, 0xe5 };
	memset(jmp + 5, 0x90, sizeof jmp - 5);
	/* xor eax,eax; pop rbp; ret; push rbp; mov rbp,rsp; ret: the ret ends at byte 4 */
	const uint8_t ret[] = { 0x31, 0xc0, 0x5d, 0xc3, 0x55, 0x48, 0x89, 0xe5, 0xc3 };
	/* xor eax,eax; inc eax; ret: ends exactly at byte 5, fine */
	const uint8_t ok[] = { 0x31, 0xc0, 0xff, 0xc0, 0xc3 };
	/* xor ecx,ecx; jmp +0x15; nopl 0(%rax); ... (libc's __wcscpy_chk): only
	 * alignment padding follows the jmp inside the patch, nothing lands there */
	uint8_t padded[0x20] = { 0x31, 0xc9, 0xeb, 0x15, 0x0f, 0x1f, 0x40, 0x00 };
	memset(padded + 8, 0x90, sizeof padded - 9);
	padded[sizeof padded - 1] = 0xc3;
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(jmp, sizeof jmp, RT, TR, &p, why), ARCH_TOO_SHORT);
	cr_assert_str_eq(why, "jmp at +0x0 ends the code path before the patch end +0x5");
	cr_assert_eq(plan(ret, sizeof ret, RT, TR, &p, why), ARCH_TOO_SHORT);
	cr_assert(strstr(why, "ret at +0x3") != NULL, "%s", why);
	cr_assert_eq(plan(ok, sizeof ok, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.stolen_len, 5);
	cr_assert_eq(plan(padded, sizeof padded, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.stolen_len, 8);
	cr_assert_eq(TR + 2 + 5 + (uint64_t)(int64_t)get_le32(p.trampoline + 3), RT + 4 + 0x15);
	/* ... but a branch to the padding's end inside the patch still refuses. */
	padded[0x1a] = 0x75;
	padded[0x1b] = (uint8_t)(6 - 0x1c);
	cr_assert_eq(plan(padded, sizeof padded, RT, TR, &p, why), ARCH_BRANCH_INTO_PATCH);
}

Test(arch_rules, jcc_rel8_widened)
{
	/* test edi,edi; je +0x10; push rbp; ... ; and a backward jl out of the function */
	uint8_t code[0x20] = { 0x85, 0xff, 0x74, 0x10, 0x55 };
	memset(code + 5, 0x90, sizeof code - 5);
	code[sizeof code - 1] = 0xc3;
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.stolen_len, 5);
	cr_assert_arr_eq(p.trampoline, code, 2);
	cr_assert_eq(p.trampoline[2], 0x0f);
	cr_assert_eq(p.trampoline[3], 0x84);
	cr_assert_eq(TR + 2 + 6 + (uint64_t)(int64_t)get_le32(p.trampoline + 4), RT + 4 + 0x10);
	cr_assert_eq(p.trampoline[8], 0x55);
	cr_assert_eq(p.trampoline_len, 2 + 6 + 1 + 5);

	/* Every condition code keeps its code: jo (70) .. jg (7f). */
	for (uint8_t cc = 0; cc < 16; cc++) {
		uint8_t c[] = { (uint8_t)(0x70 | cc), (uint8_t)-0x22, 0x48, 0x89, 0xe5, 0xc3 };
		cr_assert_eq(plan(c, sizeof c, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
		cr_assert_eq(p.trampoline[1], 0x80 | cc);
		cr_assert_eq(TR + 6 + (uint64_t)(int64_t)get_le32(p.trampoline + 2), RT + 2 - 0x22);
	}
}

/* The first 20 trampoline bytes push ret: lea rsp,[rsp-8]; mov dword [rsp],lo; mov dword [rsp+4],hi. */
static void check_pushed_return(const struct arch_patch_plan *p, uint64_t ret)
{
	const uint8_t lea[] = { 0x48, 0x8d, 0x64, 0x24, 0xf8 };
	cr_assert_arr_eq(p->trampoline, lea, sizeof lea);
	cr_assert_eq(p->trampoline[5], 0xc7);
	cr_assert_eq((uint32_t)get_le32(p->trampoline + 8), (uint32_t)ret);
	cr_assert_eq(p->trampoline[12], 0xc7);
	cr_assert_eq((uint32_t)get_le32(p->trampoline + 16), (uint32_t)(ret >> 32));
}

Test(arch_rules, calls_return_into_the_original_body)
{
	struct arch_patch_plan p;
	char why[WHY_LEN];

	/* call [rip+0x100]; ret: jmp [rip+d'] with d' aimed at the same slot */
	const uint8_t callmem[] = { 0xff, 0x15, REL32(0x100), 0xc3 };
	cr_assert_eq(plan(callmem, sizeof callmem, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	check_pushed_return(&p, RT + 6);
	cr_assert_eq(p.trampoline[20], 0xff);
	cr_assert_eq(p.trampoline[21], 0x25, "FF /2 became FF /4");
	cr_assert_eq(TR + 26 + (uint64_t)(int64_t)get_le32(p.trampoline + 22), RT + 6 + 0x100);
	cr_assert_eq(p.trampoline_len, 26);

	/* push rbp; mov rbp,rsp; call rax; ... : call rax is the last stolen, at +4 */
	const uint8_t callreg[] = { 0x55, 0x48, 0x89, 0xe5, 0xff, 0xd0, 0x5d, 0xc3 };
	cr_assert_eq(plan(callreg, sizeof callreg, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.stolen_len, 6);
	cr_assert_arr_eq(p.trampoline, callreg, 4);
	cr_assert_eq(p.trampoline[4], 0x48, "then the push");
	cr_assert_eq((uint32_t)get_le32(p.trampoline + 4 + 8), (uint32_t)(RT + 6));
	cr_assert_eq(p.trampoline[24], 0xff);
	cr_assert_eq(p.trampoline[25], 0xe0, "jmp rax");

	/* call rax; mov rbp,rsp; ...: the call is followed by stolen bytes */
	const uint8_t notlast[] = { 0xff, 0xd0, 0x48, 0x89, 0xe5, 0xc3 };
	cr_assert_eq(plan(notlast, sizeof notlast, RT, TR, &p, why), ARCH_UNRELOCATABLE);
	cr_assert(strstr(why, "call at +0x0 is followed by more patched bytes") != NULL, "%s", why);

	/* call [rsp+8]: the push would move the operand */
	const uint8_t viarsp[] = { 0x90, 0x90, 0xff, 0x54, 0x24, 0x08, 0xc3 };
	cr_assert_eq(plan(viarsp, sizeof viarsp, RT, TR, &p, why), ARCH_UNRELOCATABLE);
	cr_assert(strstr(why, "through rsp") != NULL, "%s", why);
}

Test(arch_rules, rel32_branches_retargeted)
{
	/* call rel32; jne rel32; xbegin rel32; ret */
	const uint8_t call[] = { 0xe8, REL32(0x12345), 0xc3 };
	const uint8_t jne[] = { 0x0f, 0x85, REL32(-0x5000), 0xc3 };
	const uint8_t xbegin[] = { 0xc7, 0xf8, REL32(0x40), 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	/* A call becomes: push the original return address, jmp to the callee. */
	cr_assert_eq(plan(call, sizeof call, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	check_pushed_return(&p, RT + 5);
	cr_assert_eq(p.trampoline[20], 0xe9);
	cr_assert_eq(TR + 25 + (uint64_t)(int64_t)get_le32(p.trampoline + 21), RT + 5 + 0x12345);
	cr_assert_eq(p.trampoline_len, 25, "no jump back: the callee returns into the original");

	cr_assert_eq(plan(jne, sizeof jne, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_arr_eq(p.trampoline, jne, 2);
	cr_assert_eq(TR + 6 + (uint64_t)(int64_t)get_le32(p.trampoline + 2), RT + 6 - 0x5000);

	cr_assert_eq(plan(xbegin, sizeof xbegin, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_arr_eq(p.trampoline, xbegin, 2);
	cr_assert_eq(TR + 6 + (uint64_t)(int64_t)get_le32(p.trampoline + 2), RT + 6 + 0x40);

	/* Prefixes: bnd jmp rel32 keeps its f2; ds-hinted jz rel8 is widened without it. */
	const uint8_t bnd[] = { 0xf2, 0xe9, REL32(0x777), 0xc3 };
	const uint8_t hinted[] = { 0x3e, 0x74, 0x05, 0x48, 0x89, 0xe5, 0xc3 };
	cr_assert_eq(plan(bnd, sizeof bnd, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_arr_eq(p.trampoline, bnd, 2);
	cr_assert_eq(TR + 6 + (uint64_t)(int64_t)get_le32(p.trampoline + 2), RT + 6 + 0x777);
	cr_assert_eq(plan(hinted, sizeof hinted, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(p.trampoline[0], 0x0f);
	cr_assert_eq(p.trampoline[1], 0x84);
	cr_assert_eq(TR + 6 + (uint64_t)(int64_t)get_le32(p.trampoline + 2), RT + 3 + 5);
}

Test(arch_rules, too_short_and_unknown_size)
{
	const uint8_t code[] = { 0x31, 0xc0, 0xc3 }; /* xor eax,eax; ret */
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_TOO_SHORT);
	cr_assert(strstr(why, "3 bytes") != NULL, "%s", why);
	cr_assert_eq(plan(code, 0, RT, TR, &p, why), ARCH_UNKNOWN_SIZE);
	/* Four bytes are one short even when they decode. */
	const uint8_t four[] = { 0x31, 0xc0, 0x90, 0xc3 };
	cr_assert_eq(plan(four, sizeof four, RT, TR, &p, why), ARCH_TOO_SHORT);
}

Test(arch_rules, loop_and_jrcxz_refused)
{
	struct {
		uint8_t code[8];
		size_t len;
		const char *mnemonic;
	} cases[] = {
		{ { 0xe2, 0x04, 0x48, 0x89, 0xe5, 0xc3 }, 6, "loop" },
		{ { 0xe1, 0x04, 0x48, 0x89, 0xe5, 0xc3 }, 6, "loope" },
		{ { 0xe0, 0x04, 0x48, 0x89, 0xe5, 0xc3 }, 6, "loopne" },
		{ { 0xe3, 0x04, 0x48, 0x89, 0xe5, 0xc3 }, 6, "jrcxz" },
		{ { 0x67, 0xe3, 0x03, 0x48, 0x89, 0xe5, 0xc3 }, 7, "jecxz" },
		{ { 0x55, 0x48, 0x89, 0xe5, 0xe2, 0x00, 0xc3 }, 7, "loop" },
	};
	struct arch_patch_plan p;
	char why[WHY_LEN];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(plan(cases[i].code, cases[i].len, RT, TR, &p, why), ARCH_UNRELOCATABLE,
		             "case %zu: %s", i, why);
		cr_assert_eq(strncmp(why, cases[i].mnemonic, strlen(cases[i].mnemonic)), 0, "%s", why);
		cr_assert_eq(why[strlen(cases[i].mnemonic)], ' ', "%s", why);
	}
	/* A loop outside the stolen bytes does not matter. */
	const uint8_t later[] = { 0x55, 0x48, 0x89, 0xe5, 0x90, 0xe2, 0xfe, 0xc3 };
	cr_assert_eq(plan(later, sizeof later, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
}

Test(arch_rules, branch_into_stolen_bytes)
{
	/* 0: xor eax,eax; 2: inc eax; 4: cmp eax,10; 7: jl +2; 9: ret
	 * The jl at +7 is outside the 7 stolen bytes and lands on +2. */
	const uint8_t code[] = { 0x31, 0xc0, 0xff, 0xc0, 0x83, 0xf8, 0x0a, 0x7c, 0xf9, 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_BRANCH_INTO_PATCH);
	cr_assert_str_eq(why, "jl at +0x7 branches to +0x2, inside the patched bytes +0x0..+0x7");

	/* Same after endbr64, with a jne rel32 from further away. */
	uint8_t far[0x40] = { ENDBR64, 0x31, 0xc0, 0xff, 0xc0, 0x83, 0xf8, 0x0a };
	memset(far + 11, 0x90, sizeof far - 11);
	far[0x30] = 0x0f;
	far[0x31] = 0x85;
	int32_t rel = 6 - 0x36; /* to +0x6 */
	memcpy(far + 0x32, (uint8_t[]){ REL32(rel) }, 4);
	far[sizeof far - 1] = 0xc3;
	cr_assert_eq(plan(far, sizeof far, RT, TR, &p, why), ARCH_BRANCH_INTO_PATCH);
	cr_assert_str_eq(why, "jnz at +0x30 branches to +0x6, inside the patched bytes +0x4..+0xb");

	/* The first patched byte itself is fine: the branch re-enters the hook. */
	far[0x32] = (uint8_t)(4 - 0x36);
	cr_assert_eq(plan(far, sizeof far, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	/* ... and so is the first byte after the patch. */
	far[0x32] = (uint8_t)(0xb - 0x36);
	cr_assert_eq(plan(far, sizeof far, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	/* ... but the last patched byte is not. */
	far[0x32] = (uint8_t)(0xa - 0x36);
	cr_assert_eq(plan(far, sizeof far, RT, TR, &p, why), ARCH_BRANCH_INTO_PATCH);
}

Test(arch_rules, loop_within_stolen_bytes)
{
	/* 0: dec eax; 2: jnz 0; 4: push rbp; 5: ret: the prologue loops on itself. */
	const uint8_t code[] = { 0xff, 0xc8, 0x75, 0xfc, 0x55, 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_BRANCH_INTO_PATCH);
	cr_assert_str_eq(why, "jnz at +0x2 branches to +0x0, inside the patched bytes +0x0..+0x5");
}

Test(arch_rules, code_address_into_stolen_bytes)
{
	/* 0: push rbp; 1: mov rbp,rsp; 4: sub rsp,8; 8: lea rax,[rip-0xe] (= +1); 15: ret */
	const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x08,
		                 0x48, 0x8d, 0x05, REL32(-0xe), 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_BRANCH_INTO_PATCH);
	cr_assert(strstr(why, "lea at +0x8 takes the address +0x1") != NULL, "%s", why);
	/* The function's own entry is a normal thing to take the address of. */
	uint8_t entry[sizeof code];
	memcpy(entry, code, sizeof code);
	memcpy(entry + 11, (uint8_t[]){ REL32(-0xf) }, 4);
	cr_assert_eq(plan(entry, sizeof entry, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
}

Test(arch_rules, decode_failure)
{
	/* push rbp; mov rbp,rsp; nop; (06 is invalid in 64-bit mode) */
	const uint8_t invalid[] = { 0x55, 0x48, 0x89, 0xe5, 0x90, 0x06, 0xc3 };
	/* a valid prologue, then a truncated mov rax,[rip+d] */
	const uint8_t truncated[] = { 0x55, 0x48, 0x89, 0xe5, 0x90, 0xc3, 0x48, 0x8b, 0x05, 0x00 };
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(invalid, sizeof invalid, RT, TR, &p, why), ARCH_DECODE_FAILED);
	cr_assert(strstr(why, "+0x5") != NULL, "%s", why);
	cr_assert_eq(plan(truncated, sizeof truncated, RT, TR, &p, why), ARCH_DECODE_FAILED);
	cr_assert(strstr(why, "+0x6") != NULL, "%s", why);
}

Test(arch_rules, out_of_range)
{
	/* mov rax,[rip+0x2000]; ret */
	const uint8_t rip[] = { 0x48, 0x8b, 0x05, REL32(0x2000), 0xc3 };
	const uint8_t call[] = { 0xe8, REL32(0x12345), 0xc3 };
	const uint8_t plain[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xc9, 0xc3 };
	uint64_t far = RT + (4ull << 30);
	struct arch_patch_plan p;
	char why[WHY_LEN];

	cr_assert_eq(plan(rip, sizeof rip, RT, far, &p, why), ARCH_OUT_OF_RANGE);
	cr_assert(strncmp(why, "mov at +0x0", 11) == 0, "%s", why);
	cr_assert_eq(plan(call, sizeof call, RT, far, &p, why), ARCH_OUT_OF_RANGE);
	cr_assert(strncmp(why, "call at +0x0", 12) == 0, "%s", why);
	cr_assert_eq(plan(plain, sizeof plain, RT, far, &p, why), ARCH_OUT_OF_RANGE);
	cr_assert(strstr(why, "jump back") != NULL, "%s", why);

	/* The exact edge of the jump back: rel = RT - tr - 5 must be >= INT32_MIN. */
	uint64_t edge = RT + (1ull << 31) - 5;
	cr_assert_eq(plan(plain, sizeof plain, RT, edge, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(get_le32(p.trampoline + 9), INT32_MIN);
	cr_assert_eq(plan(plain, sizeof plain, RT, edge + 1, &p, why), ARCH_OUT_OF_RANGE);
	/* The other direction: rel = RT - tr - 5 <= INT32_MAX. */
	uint64_t low = RT - (1ull << 31) - 4;
	cr_assert_eq(plan(plain, sizeof plain, RT, low, &p, why), ARCH_HOOKABLE, "%s", why);
	cr_assert_eq(get_le32(p.trampoline + 9), INT32_MAX);
	cr_assert_eq(plan(plain, sizeof plain, RT, low - 1, &p, why), ARCH_OUT_OF_RANGE);

	/* Addresses near the ends of the 64-bit space wrap without false refusals. */
	cr_assert_eq(plan(plain, sizeof plain, 0x100, (uint64_t)0 - 0x1000, &p, why), ARCH_HOOKABLE,
	             "%s", why);
}

Test(arch_rules, encode_patch)
{
	const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xc9, 0xc3 };
	struct arch_patch_plan p;
	char why[WHY_LEN];
	uint8_t out[8];

	cr_assert_eq(plan(code, sizeof code, RT, TR, &p, why), ARCH_HOOKABLE, "%s", why);
	memset(out, 0, sizeof out);
	cr_assert_eq(arch_encode_patch(&p, RT, RT + 0x80000000ull + 4, out), ARCH_HOOKABLE);
	cr_assert_eq(get_le32(out + 1), INT32_MAX);
	cr_assert_eq(out[0], 0xe9);
	for (size_t i = 5; i < 8; i++)
		cr_assert_eq(out[i], 0xcc);
	cr_assert_eq(arch_encode_patch(&p, RT, RT + 0x80000000ull + 5, out), ARCH_OUT_OF_RANGE);
	cr_assert_eq(arch_encode_patch(&p, RT, RT - 0x80000000ull + 5, out), ARCH_HOOKABLE);
	cr_assert_eq(get_le32(out + 1), INT32_MIN);
	cr_assert_eq(arch_encode_patch(&p, RT, RT - 0x80000000ull + 4, out), ARCH_OUT_OF_RANGE);
}

Test(arch_rules, refusal_names)
{
	cr_assert_str_eq(arch_refusal_name(ARCH_HOOKABLE), "hookable");
	cr_assert_str_eq(arch_refusal_name(ARCH_TOO_SHORT), "too short");
	cr_assert_str_eq(arch_refusal_name(ARCH_UNKNOWN_SIZE), "unknown size");
	cr_assert_str_eq(arch_refusal_name(ARCH_DECODE_FAILED), "decode failed");
	cr_assert_str_eq(arch_refusal_name(ARCH_BRANCH_INTO_PATCH), "branch into patch");
	cr_assert_str_eq(arch_refusal_name(ARCH_UNRELOCATABLE), "unrelocatable");
	cr_assert_str_eq(arch_refusal_name(ARCH_OUT_OF_RANGE), "out of range");
	cr_assert_not_null(arch_refusal_name((enum arch_refusal)99));
}

Test(arch_rules, small_why_buffers)
{
	const uint8_t code[] = { 0x31, 0xc0, 0xff, 0xc0, 0x83, 0xf8, 0x0a, 0x7c, 0xf9, 0xc3 };
	struct arch_patch_plan p;

	cr_assert_eq(arch_plan_patch(code, sizeof code, RT, TR, &p, NULL, 0), ARCH_BRANCH_INTO_PATCH);
	for (size_t len = 1; len < 12; len++) {
		char *why = malloc(len); /* exact size: ASan sees an overrun */
		cr_assert_eq(arch_plan_patch(code, sizeof code, RT, TR, &p, why, len),
		             ARCH_BRANCH_INTO_PATCH);
		cr_assert_eq(strnlen(why, len), len - 1);
		free(why);
	}
}

/* ---- execution: trampolines run in place of the originals ---- */

/*
 * Each function takes an int in edi and returns an int in eax. Their
 * prologues hold, respectively: a RIP-relative load of a global; a jcc rel8
 * in the first 5 bytes; a call rel32; endbr64 + push/mov + RIP-relative load
 * with a jcc after the patch; a jmp rel8 as the last stolen instruction; and
 * a jcc rel32.
 */
__asm__(
	".pushsection .data\n"
	".p2align 2\n"
	"arch_exec_value: .long 1000\n"
	".popsection\n"
	".pushsection .text\n"

	".p2align 4\n"
	".globl arch_exec_rip\n"
	".type arch_exec_rip, @function\n"
	"arch_exec_rip:\n"
	"	movl arch_exec_value(%rip), %eax\n"
	"	addl %edi, %eax\n"
	"	ret\n"
	".size arch_exec_rip, .-arch_exec_rip\n"
	"arch_exec_rip_end:\n"

	".p2align 4\n"
	".globl arch_exec_jcc\n"
	".type arch_exec_jcc, @function\n"
	"arch_exec_jcc:\n"
	"	testl %edi, %edi\n"
	"	js 1f\n"
	"	leal 1(%rdi), %eax\n"
	"	ret\n"
	"1:	leal (%rdi,%rdi), %eax\n"
	"	negl %eax\n"
	"	ret\n"
	".size arch_exec_jcc, .-arch_exec_jcc\n"
	"arch_exec_jcc_end:\n"

	".p2align 4\n"
	".type arch_exec_helper, @function\n"
	"arch_exec_helper:\n"
	"	leal 7(%rdi,%rdi), %eax\n"
	"	ret\n"
	".size arch_exec_helper, .-arch_exec_helper\n"

	".p2align 4\n"
	".globl arch_exec_call\n"
	".type arch_exec_call, @function\n"
	"arch_exec_call:\n"
	"	call arch_exec_helper\n"
	"	addl %edi, %eax\n"
	"	ret\n"
	".size arch_exec_call, .-arch_exec_call\n"
	"arch_exec_call_end:\n"

	".p2align 4\n"
	".globl arch_exec_endbr\n"
	".type arch_exec_endbr, @function\n"
	"arch_exec_endbr:\n"
	"	endbr64\n"
	"	pushq %rbp\n"
	"	movq %rsp, %rbp\n"
	"	movl arch_exec_value(%rip), %eax\n"
	"	cmpl %eax, %edi\n"
	"	jl 1f\n"
	"	subl %eax, %edi\n"
	"	movl %edi, %eax\n"
	"	popq %rbp\n"
	"	ret\n"
	"1:	addl %edi, %eax\n"
	"	popq %rbp\n"
	"	ret\n"
	".size arch_exec_endbr, .-arch_exec_endbr\n"
	"arch_exec_endbr_end:\n"

	".p2align 4\n"
	".globl arch_exec_jmp\n"
	".type arch_exec_jmp, @function\n"
	"arch_exec_jmp:\n"
	"	movl %edi, %eax\n"
	"	incl %eax\n"
	"	jmp 1f\n"
	"	ud2\n"
	"1:	shll $1, %eax\n"
	"	ret\n"
	".size arch_exec_jmp, .-arch_exec_jmp\n"
	"arch_exec_jmp_end:\n"

	".p2align 4\n"
	".globl arch_exec_jcc32\n"
	".type arch_exec_jcc32, @function\n"
	"arch_exec_jcc32:\n"
	"	cmpl $10, %edi\n"
	"	{disp32} jg 1f\n"
	"	movl $-1, %eax\n"
	"	ret\n"
	"1:	leal -10(%rdi), %eax\n"
	"	ret\n"
	".size arch_exec_jcc32, .-arch_exec_jcc32\n"
	"arch_exec_jcc32_end:\n"

	".popsection\n");

#define EXEC_FN(name)                                                                   \
	int name(int);                                                                  \
	extern const uint8_t name##_end[] __attribute__((visibility("hidden")));
EXEC_FN(arch_exec_rip)
EXEC_FN(arch_exec_jcc)
EXEC_FN(arch_exec_call)
EXEC_FN(arch_exec_endbr)
EXEC_FN(arch_exec_jmp)
EXEC_FN(arch_exec_jcc32)

/* An anonymous page within rel32 reach of addr, or NULL. */
static uint8_t *map_near(uintptr_t addr, size_t len)
{
	const uintptr_t step = 1u << 20;
	uintptr_t base = addr & ~(step - 1);

	for (uintptr_t k = 1; k < 1024; k++) {
		for (int dir = -1; dir <= 1; dir += 2) {
			uintptr_t want = dir < 0 ? base - k * step : base + k * step;
			void *got = mmap((void *)want, len, PROT_READ | PROT_WRITE,
			                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (got == MAP_FAILED)
				continue;
			if ((uintptr_t)got == want)
				return got;
			munmap(got, len); /* a kernel that ignored the flag */
		}
	}
	return NULL;
}

struct exec_case {
	const char *name;
	int (*fn)(int);
	const uint8_t *end;
};

Test(arch_exec, trampolines_behave_like_originals)
{
	const struct exec_case cases[] = {
		{ "rip", arch_exec_rip, arch_exec_rip_end },
		{ "jcc", arch_exec_jcc, arch_exec_jcc_end },
		{ "call", arch_exec_call, arch_exec_call_end },
		{ "endbr", arch_exec_endbr, arch_exec_endbr_end },
		{ "jmp", arch_exec_jmp, arch_exec_jmp_end },
		{ "jcc32", arch_exec_jcc32, arch_exec_jcc32_end },
	};
	const size_t ncases = sizeof cases / sizeof cases[0];
	const size_t slot = 128;
	size_t pagesize = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *page = map_near((uintptr_t)arch_exec_rip, pagesize);
	const int inputs[] = { -12345, -1001, -7, -1, 0, 1, 7, 10, 11, 999, 1000, 1001, 123456 };

	cr_assert_not_null(page, "no page within rel32 reach of the test binary's text");
	cr_assert_geq(pagesize, ncases * slot);
	memset(page, 0xcc, pagesize);

	struct arch_patch_plan plans[sizeof cases / sizeof cases[0]];
	for (size_t i = 0; i < ncases; i++) {
		const uint8_t *code = (const uint8_t *)(uintptr_t)cases[i].fn;
		size_t size = (size_t)(cases[i].end - code);
		uint64_t tr = (uint64_t)(uintptr_t)(page + i * slot);
		char why[WHY_LEN];

		cr_assert_eq(plan(code, size, (uintptr_t)code, tr, &plans[i], why), ARCH_HOOKABLE,
		             "%s: %s", cases[i].name, why);
		memcpy(page + i * slot, plans[i].trampoline, plans[i].trampoline_len);
	}
	/* What each prologue was meant to exercise really is in the stolen bytes. */
	cr_assert_eq(plans[0].trampoline[0], 0x8b);                   /* mov eax,[rip+d] */
	cr_assert_eq(plans[1].trampoline[2], 0x0f);                   /* js widened */
	cr_assert_eq(plans[1].trampoline[3], 0x88);
	cr_assert_eq(plans[2].trampoline[0], 0x48);                   /* call: push ret */
	cr_assert_eq(plans[2].trampoline[20], 0xe9);                  /* ... jmp callee */
	cr_assert_eq(plans[3].patch_offset, 4);                       /* endbr64 kept */
	cr_assert_eq(plans[3].stolen_len, 1 + 3 + 6);
	cr_assert_eq(plans[4].trampoline[4], 0xe9);                   /* jmp widened */
	cr_assert_eq(plans[5].trampoline[3], 0x0f);                   /* jg rel32 */
	cr_assert_eq(plans[5].trampoline[4], 0x8f);

	cr_assert_eq(mprotect(page, pagesize, PROT_READ | PROT_EXEC), 0);
	for (size_t i = 0; i < ncases; i++) {
		int (*tramp)(int) = (int (*)(int))(uintptr_t)(page + i * slot);
		for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
			int want = cases[i].fn(inputs[k]);
			int got = tramp(inputs[k]);
			cr_assert_eq(got, want, "%s(%d): trampoline %d, original %d", cases[i].name,
			             inputs[k], got, want);
		}
	}
	/* Spot values, so a wrong original would not hide a wrong trampoline. */
	cr_assert_eq(arch_exec_rip(5), 1005);
	cr_assert_eq(arch_exec_jcc(-3), 6);
	cr_assert_eq(arch_exec_call(2), 13);
	cr_assert_eq(arch_exec_endbr(1500), 500);
	cr_assert_eq(arch_exec_jmp(4), 10);
	cr_assert_eq(arch_exec_jcc32(15), 5);
	munmap(page, pagesize);
}

/* ---- real code: this binary and libc ---- */

struct loaded {
	const char *suffix; /* "" for the main program */
	uintptr_t bias;
	char path[PATH_MAX];
	const ElfW(Phdr) *phdr;
	size_t phnum;
	bool found;
};

static int find_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct loaded *l = arg;
	const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
	size_t len = strlen(name), slen = strlen(l->suffix);

	(void)size;
	if (slen == 0 ? len != 0 : (len < slen || strcmp(name + len - slen, l->suffix) != 0))
		return 0;
	l->bias = info->dlpi_addr;
	l->phdr = info->dlpi_phdr;
	l->phnum = info->dlpi_phnum;
	if (slen == 0) {
		ssize_t n = readlink("/proc/self/exe", l->path, sizeof l->path - 1);
		l->path[n > 0 ? n : 0] = '\0';
	} else {
		snprintf(l->path, sizeof l->path, "%s", name);
	}
	l->found = true;
	return 1;
}

/* [vaddr, vaddr+size) lies inside one executable PT_LOAD. */
static bool in_text(const struct loaded *l, uint64_t vaddr, uint64_t size)
{
	for (size_t i = 0; i < l->phnum; i++) {
		const ElfW(Phdr) *ph = &l->phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && vaddr >= ph->p_vaddr &&
		    vaddr + size <= ph->p_vaddr + ph->p_memsz)
			return true;
	}
	return false;
}

#define NREFUSALS (ARCH_OUT_OF_RANGE + 1)

struct tally {
	size_t by_reason[NREFUSALS];
	size_t big, big_hookable; /* size >= 16 */
	size_t after_endbr;       /* hookable plans patching after an endbr64 */
	size_t outside_text;
};

static void plan_object(const char *suffix, const char *label, struct tally *t)
{
	struct loaded l = { .suffix = suffix };
	struct elf_file ef;
	char err[256];

	dl_iterate_phdr(find_loaded, &l);
	cr_assert(l.found, "%s is not loaded", label);
	cr_assert_eq(elf_open(&ef, l.path, err, sizeof err), ELF_OK, "%s: %s", l.path, err);
	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < ef.nsymbols; i++) {
		const struct elf_symbol *s = &ef.symbols[i];
		if (!elf_symbol_is_function(s))
			continue;
		if (!in_text(&l, s->value, s->size ? s->size : 1)) {
			t->outside_text++;
			continue;
		}
		const uint8_t *code = (const uint8_t *)(l.bias + s->value);
		uint64_t rt = (uint64_t)(uintptr_t)code, tr = rt + 4096;
		struct arch_patch_plan p;
		char why[WHY_LEN];
		enum arch_refusal r = arch_plan_patch(code, s->size, rt, tr, &p, why, WHY_LEN);
		if ((unsigned)r >= NREFUSALS)
			cr_assert_fail("%s: %s returned %d", label, s->name, (int)r);
		if (strnlen(why, WHY_LEN) == WHY_LEN || (r != ARCH_HOOKABLE && why[0] == '\0'))
			cr_assert_fail("%s: %s: bad reason", label, s->name);
		t->by_reason[r]++;
		if (s->size >= 16) {
			t->big++;
			t->big_hookable += r == ARCH_HOOKABLE;
		}
		if (r == ARCH_HOOKABLE) {
			check_trampoline(code, s->size, rt, tr, &p);
			t->after_endbr += p.patch_offset == 4;
		}
	}
	fprintf(stderr, "[arch] %s (%s): %zu hookable", label, l.path, t->by_reason[ARCH_HOOKABLE]);
	for (int r = 1; r < NREFUSALS; r++)
		fprintf(stderr, ", %zu %s", t->by_reason[r], arch_refusal_name((enum arch_refusal)r));
	fprintf(stderr, "; size >= 16: %zu of %zu hookable (%.1f%%); %zu after endbr64; %zu outside text\n",
	        t->big_hookable, t->big, t->big ? 100.0 * (double)t->big_hookable / (double)t->big : 0.0,
	        t->after_endbr, t->outside_text);
	elf_close(&ef);
}

Test(arch_real, libc_functions)
{
	struct tally t;

	plan_object("libc.so.6", "libc", &t);
	cr_assert_gt(t.big, 1000);
	cr_assert_geq(t.big_hookable * 100, t.big * 80, "%zu of %zu libc functions (size >= 16) hookable",
	              t.big_hookable, t.big);
}

Test(arch_real, test_binary_functions)
{
	struct tally t;

	plan_object("", "test binary", &t);
	/* Our own assembly functions are in the listing and hookable. */
	cr_assert_gt(t.by_reason[ARCH_HOOKABLE], 6);
	cr_assert_geq(t.big_hookable * 100, t.big * 50);
}

/* ---- fuzz ---- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* One planning run over exactly-sized heap copies of code, plan and why. */
static void fuzz_one(const uint8_t *bytes, size_t size, uint64_t rt, uint64_t tr, size_t whylen,
                     size_t *by_reason)
{
	uint8_t *code = malloc(size ? size : 1);
	struct arch_patch_plan *p = malloc(sizeof *p);
	char *why = whylen ? malloc(whylen) : NULL;

	cr_assert(code != NULL && p != NULL);
	memcpy(code, bytes, size);
	enum arch_refusal r = arch_plan_patch(code, size, rt, tr, p, why, whylen);
	if ((unsigned)r >= NREFUSALS)
		cr_assert_fail("returned %d", (int)r);
	if (whylen && strnlen(why, whylen) == whylen)
		cr_assert_fail("why not terminated");
	by_reason[r]++;
	if (r == ARCH_HOOKABLE) {
		check_trampoline(code, size, rt, tr, p);
		uint8_t *patch = malloc(p->stolen_len);
		cr_assert_not_null(patch);
		cr_assert_eq(arch_encode_patch(p, rt, tr, patch), ARCH_HOOKABLE);
		free(patch);
	} else {
		cr_assert_eq(p->trampoline_len, 0);
	}
	free(why);
	free(p);
	free(code);
}

static void print_fuzz(const char *label, const size_t *by_reason)
{
	fprintf(stderr, "[arch] fuzz %s:", label);
	for (int r = 0; r < NREFUSALS; r++)
		fprintf(stderr, "%s %zu %s", r ? "," : "", by_reason[r], arch_refusal_name((enum arch_refusal)r));
	fprintf(stderr, "\n");
}

static uint64_t fuzz_trampoline(uint64_t *seed, uint64_t rt)
{
	switch (xorshift(seed) % 4) {
	case 0:
		return rt + 4096;
	case 1:
		return rt - (xorshift(seed) % (1ull << 31));
	case 2:
		return rt + (xorshift(seed) % (1ull << 31));
	default:
		return xorshift(seed); /* mostly out of range */
	}
}

Test(arch_fuzz, random_bytes)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t by_reason[NREFUSALS] = { 0 };
	/* Opcodes that exercise the interesting paths more often than chance. */
	const uint8_t hot[] = { 0xeb, 0xe9, 0xe8, 0x74, 0x75, 0x7c, 0xe2, 0xe3, 0x0f, 0x85,
		                0x48, 0x8b, 0x05, 0x8d, 0x3d, 0x66, 0x67, 0xf2, 0xf3, 0xc3,
		                0x55, 0x90, 0xc7, 0xf8, 0xff, 0x25, 0x1e, 0xfa, 0x62, 0xc4 };

	for (int iter = 0; iter < 40000; iter++) {
		uint8_t buf[48];
		size_t size = (size_t)(xorshift(&seed) % (iter % 4 == 0 ? 48 : 16));
		for (size_t i = 0; i < size; i++) {
			uint64_t v = xorshift(&seed);
			buf[i] = (v & 1) ? hot[(v >> 8) % sizeof hot] : (uint8_t)(v >> 16);
		}
		if (iter % 8 == 0 && size >= 4)
			memcpy(buf, (uint8_t[]){ ENDBR64 }, 4);
		uint64_t rt = iter % 16 == 0 ? xorshift(&seed) : RT + (xorshift(&seed) % (1u << 20));
		fuzz_one(buf, size, rt, fuzz_trampoline(&seed, rt), (size_t)(xorshift(&seed) % 80), by_reason);
	}
	print_fuzz("random bytes", by_reason);
	/* Every outcome is reached, so every path ran under the sanitizers. */
	for (int r = 0; r < NREFUSALS; r++)
		cr_assert_gt(by_reason[r], 10, "%s: %zu", arch_refusal_name((enum arch_refusal)r), by_reason[r]);
}

Test(arch_fuzz, mutated_libc_prologues)
{
	struct loaded l = { .suffix = "libc.so.6" };
	struct elf_file ef;
	char err[256];
	uint64_t seed = 0x243f6a8885a308d3ull;
	size_t by_reason[NREFUSALS] = { 0 }, runs = 0;
	const uint8_t inserts[] = { 0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x3e, 0x48, 0xeb, 0xe3, 0xe2, 0x74, 0xc3 };

	dl_iterate_phdr(find_loaded, &l);
	cr_assert(l.found);
	cr_assert_eq(elf_open(&ef, l.path, err, sizeof err), ELF_OK, "%s", err);
	for (size_t i = 0; i < ef.nsymbols && runs < 60000; i++) {
		const struct elf_symbol *s = &ef.symbols[i];
		if (!elf_symbol_is_function(s) || s->size < 8 || !in_text(&l, s->value, s->size))
			continue;
		const uint8_t *orig = (const uint8_t *)(l.bias + s->value);
		size_t base = s->size < 64 ? (size_t)s->size : 64;
		for (int m = 0; m < 8; m++, runs++) {
			uint8_t buf[72];
			size_t size = base;
			memcpy(buf, orig, base);
			int edits = 1 + (int)(xorshift(&seed) % 3);
			for (int e = 0; e < edits && size > 0; e++) {
				uint64_t v = xorshift(&seed);
				size_t at = (size_t)((v >> 8) % (size < 24 ? size : 24)); /* near the entry */
				switch (v % 4) {
				case 0:
					buf[at] ^= (uint8_t)(1u << ((v >> 32) % 8));
					break;
				case 1:
					buf[at] = (uint8_t)(v >> 40);
					break;
				case 2:
					if (size < sizeof buf) {
						memmove(buf + at + 1, buf + at, size - at);
						buf[at] = inserts[(v >> 32) % sizeof inserts];
						size++;
					}
					break;
				default:
					size = at;
					break;
				}
			}
			uint64_t rt = (uint64_t)(uintptr_t)orig;
			fuzz_one(buf, size, rt, fuzz_trampoline(&seed, rt), (size_t)(xorshift(&seed) % 80),
			         by_reason);
		}
	}
	print_fuzz("mutated libc prologues", by_reason);
	cr_assert_gt(runs, 5000);
	cr_assert_gt(by_reason[ARCH_HOOKABLE], runs / 20);
	elf_close(&ef);
}
