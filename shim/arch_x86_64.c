/* SPDX-License-Identifier: MIT */
/*
 * arch_x86_64.c: the x86-64 patch planner (contract in arch.h).
 *
 * Approach, in one linear pass over the symbol's bytes and one short pass
 * over the stolen instructions:
 *
 *  1. Decode: every byte of [0, size) must decode (Zydis, 64-bit mode) as a
 *     sequence of whole instructions; the first failure refuses the function
 *     (ARCH_DECODE_FAILED). Bodies with data or jump tables embedded in the
 *     code usually fail here, which is the safe outcome: we could not find
 *     their branches either.
 *
 *  2. Steal: a leading endbr64 stays in place (indirect calls must still
 *     land on it), so the patch starts at patch_offset 4, else 0. Whole
 *     instructions are taken from patch_offset until at least ARCH_PATCH_LEN
 *     bytes are covered. A ret, jmp or trap that ends before those 5 bytes
 *     means the bytes after it are reached from elsewhere, so the patch
 *     would overwrite them blindly (ARCH_TOO_SHORT); the one exception is
 *     alignment padding (nop, int3), which nothing jumps into. Padding past
 *     the end of the symbol is never used.
 *
 *  3. Scan: every address-relative instruction in the body (relative branch,
 *     call, loop, xbegin, RIP-relative memory operand) is resolved to an
 *     offset in the function. Because the patch turns bytes patch_offset+1 ..
 *     patch_offset+n-1 into the middle of a jmp and int3 filler, any branch or
 *     code address (lea) landing there refuses the function
 *     (ARCH_BRANCH_INTO_PATCH), as does a memory access reading or writing the
 *     patched bytes. Landing exactly on patch_offset is allowed from the rest
 *     of the body: it reaches our jmp and re-enters the hook, exactly as a
 *     recursive call would. From the stolen instructions themselves any
 *     reference into the stolen range is refused, since the relocated copy
 *     would loop back through the hook (or into int3) instead of staying in
 *     the trampoline.
 *
 *  4. Relocate: each stolen instruction is re-emitted at its trampoline
 *     address. Position-independent instructions are copied; a RIP-relative
 *     disp32 is recomputed; rel32 branches (jmp, jcc, call, xbegin) keep their
 *     encoding with a new rel32; jmp rel8 and jcc rel8 are widened to rel32.
 *     loop/loope/loopne/jrcxz/jecxz have no rel32 form and are refused
 *     (ARCH_UNRELOCATABLE), as are rel16 branches and EIP-relative operands.
 *     A call is different: a return address inside the trampoline would have
 *     no unwind information, so an exception or panic raised in the callee
 *     could not pass, and backtraces would stop there. A call may therefore
 *     only be the last stolen instruction; it becomes "push the original
 *     return address (the first byte after the stolen ones), jmp to the
 *     callee", so the callee returns straight into the original body and the
 *     trampoline needs no jump back. The push is written flag-free (lea rsp,
 *     then two 32-bit stores). call rel32 becomes jmp rel32; an indirect
 *     call FF /2 becomes jmp FF /4 on the same operand, unless the operand
 *     uses rsp, which the push has moved. Prefixes on a
 *     rel32 branch are kept; Zydis, like Intel CPUs, ignores 66 on near
 *     branches, so "66 e9" is a rel32 jmp. Every new displacement
 *     must fit in int32 (ARCH_OUT_OF_RANGE). The trampoline ends with a jmp
 *     rel32 back to runtime_address + patch_offset + n.
 *
 * All address arithmetic is modular 64-bit; a displacement "fits" when the
 * two's-complement difference lies in [INT32_MIN, INT32_MAX]. No allocation,
 * no globals, no I/O: the decoder lives on the stack of each call.
 */
#include "arch.h"

#include <Zydis/Zydis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ENDBR64_LEN 4

static const uint8_t endbr64_bytes[ENDBR64_LEN] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* At most one stolen instruction per patch byte. */
#define STOLEN_MAX ARCH_PATCH_LEN

/* What an address-relative instruction refers to, as an offset from the
 * function start (may be negative or past the end: outside the body). */
enum ref_kind {
	REF_NONE,
	REF_BRANCH,  /* relative jmp/jcc/call/loop/xbegin target */
	REF_ADDRESS, /* lea: the address of code, a potential indirect target */
	REF_ACCESS,  /* a load or store of `bytes` bytes */
	REF_UNKNOWN, /* EIP-relative: cannot be resolved from an offset */
};

struct ref {
	enum ref_kind kind;
	size_t at;          /* offset of the instruction */
	int64_t target;     /* offset of what it refers to */
	uint64_t bytes;     /* REF_ACCESS: width of the access */
	ZydisMnemonic mnemonic;
};

__attribute__((format(printf, 3, 4)))
static void say(char *why, size_t whylen, const char *fmt, ...)
{
	if (why == NULL || whylen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static const char *mnemonic_name(ZydisMnemonic mnemonic)
{
	const char *name = ZydisMnemonicGetString(mnemonic);
	return name != NULL ? name : "?";
}

static bool fits_rel32(int64_t rel)
{
	return rel >= INT32_MIN && rel <= INT32_MAX;
}

/* Two's-complement distance from `from` to `to`: exact for any pair of
 * canonical user-space addresses. */
static int64_t distance(uint64_t from, uint64_t to)
{
	return (int64_t)(to - from);
}

static void put_le32(uint8_t *p, int32_t value)
{
	uint32_t v = (uint32_t)value;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Instructions after which execution never falls through to the next byte. */
static bool ends_flow(const ZydisDecodedInstruction *insn)
{
	if (insn->meta.category == ZYDIS_CATEGORY_RET || insn->meta.category == ZYDIS_CATEGORY_UNCOND_BR)
		return true;
	switch (insn->mnemonic) {
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_IRETQ:
		return true;
	default:
		return false;
	}
}

/* Alignment filler compilers put between a jmp/ret and the next label. */
static bool is_padding(const ZydisDecodedInstruction *insn)
{
	return insn->mnemonic == ZYDIS_MNEMONIC_NOP || insn->mnemonic == ZYDIS_MNEMONIC_INT3;
}

/* Index of the relative immediate, or -1. */
static int relative_imm(const ZydisDecodedInstruction *insn)
{
	for (int i = 0; i < 2; i++)
		if (insn->raw.imm[i].is_relative)
			return i;
	return -1;
}

/* The RIP- or EIP-relative memory operand, or NULL. */
static const ZydisDecodedOperand *relative_mem(const ZydisDecodedInstruction *insn,
                                               const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < insn->operand_count; i++) {
		if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		if (ops[i].mem.base == ZYDIS_REGISTER_RIP || ops[i].mem.base == ZYDIS_REGISTER_EIP)
			return &ops[i];
	}
	return NULL;
}

/* Classifies what the instruction at `at` refers to. Operands are decoded
 * only for relative instructions, which keeps the body scan cheap. */
static struct ref resolve_ref(const ZydisDecoder *dec, const ZydisDecoderContext *ctx,
                              const ZydisDecodedInstruction *insn, size_t at)
{
	struct ref ref = { .kind = REF_NONE, .at = at, .mnemonic = insn->mnemonic };
	if (!(insn->attributes & ZYDIS_ATTRIB_IS_RELATIVE))
		return ref;
	int64_t next = (int64_t)at + insn->length;
	int imm = relative_imm(insn);
	if (imm >= 0) {
		ref.kind = REF_BRANCH;
		ref.target = next + insn->raw.imm[imm].value.s;
		return ref;
	}
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeOperands(dec, ctx, insn, ops, ZYDIS_MAX_OPERAND_COUNT))) {
		ref.kind = REF_UNKNOWN;
		return ref;
	}
	const ZydisDecodedOperand *mem = relative_mem(insn, ops);
	if (mem == NULL || mem->mem.base == ZYDIS_REGISTER_EIP) {
		ref.kind = REF_UNKNOWN;
		return ref;
	}
	ref.target = next + insn->raw.disp.value;
	if (mem->mem.type == ZYDIS_MEMOP_TYPE_AGEN) {
		ref.kind = REF_ADDRESS;
	} else {
		ref.kind = REF_ACCESS;
		ref.bytes = mem->size >= 8 ? mem->size / 8u : 1u;
	}
	return ref;
}

/* [a, a+alen) and [b, b+blen) intersect; a may be negative. */
static bool overlaps(int64_t a, uint64_t alen, int64_t b, uint64_t blen)
{
	if (a < b)
		return (uint64_t)(b - a) < alen;
	return (uint64_t)(a - b) < blen;
}

/*
 * Whether `ref` makes the patch of [po, po + n) unsafe. `stolen` marks a
 * reference made by a stolen instruction (stricter: the first byte too).
 */
static bool ref_hits_patch(const struct ref *ref, bool stolen, size_t po, size_t n)
{
	int64_t lo = (int64_t)po;
	switch (ref->kind) {
	case REF_BRANCH:
	case REF_ADDRESS:
		if (stolen)
			return ref->target >= lo && ref->target < lo + (int64_t)n;
		return ref->target > lo && ref->target < lo + (int64_t)n;
	case REF_ACCESS:
		return overlaps(ref->target, ref->bytes, lo, n);
	case REF_NONE:
	case REF_UNKNOWN:
		break;
	}
	return false;
}

static enum arch_refusal refuse_ref(const struct ref *ref, size_t po, size_t n, char *why,
                                    size_t whylen)
{
	const char *verb = ref->kind == REF_BRANCH    ? "branches to"
	                   : ref->kind == REF_ADDRESS ? "takes the address"
	                                              : "accesses";
	const char *sign = ref->target < 0 ? "-" : "+";
	uint64_t mag = ref->target < 0 ? (uint64_t)0 - (uint64_t)ref->target : (uint64_t)ref->target;
	say(why, whylen, "%s at +0x%zx %s %s0x%llx, inside the patched bytes +0x%zx..+0x%zx",
	    mnemonic_name(ref->mnemonic), ref->at, verb, sign, (unsigned long long)mag, po, po + n);
	return ARCH_BRANCH_INTO_PATCH;
}

/* Output cursor over plan->trampoline; every write is bounds-checked. */
struct emitter {
	uint8_t *buf;
	size_t len;
};

static bool room(const struct emitter *out, size_t bytes)
{
	/* Keep space for the final jmp back. */
	return out->len + bytes + ARCH_PATCH_LEN <= ARCH_TRAMPOLINE_MAX;
}

/*
 * Emits a call's replacement (see "Relocate" above): the original return
 * address is pushed, then a jmp to the same callee. Only for the last stolen
 * instruction; returns ARCH_HOOKABLE or the refusal.
 */
static enum arch_refusal relocate_call(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops,
                                       const uint8_t *bytes, size_t at, uint64_t src, uint64_t dst,
                                       struct emitter *out, char *why, size_t whylen)
{
	enum { PUSH_LEN = 5 + 7 + 8 };
	uint64_t ret = src + insn->length;
	size_t len = insn->length;
	if (!room(out, PUSH_LEN + (len > 5 ? len : 5)))
		goto too_long;
	bool rel32 = insn->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && insn->opcode == 0xe8 &&
	             relative_imm(insn) >= 0;
	bool indirect = insn->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && insn->opcode == 0xff &&
	                insn->raw.modrm.reg == 2;
	if (indirect && (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? ops[0].reg.value == ZYDIS_REGISTER_RSP
	                                                            : ops[0].mem.base == ZYDIS_REGISTER_RSP)) {
		say(why, whylen, "call at +0x%zx takes its target through rsp, which the relocated push moves", at);
		return ARCH_UNRELOCATABLE;
	}
	if (!rel32 && !indirect) {
		say(why, whylen, "%s at +0x%zx is a call of a form that cannot be relocated",
		    mnemonic_name(insn->mnemonic), at);
		return ARCH_UNRELOCATABLE;
	}

	uint8_t *p = out->buf + out->len;
	/* lea rsp, [rsp-8]; mov dword [rsp], lo; mov dword [rsp+4], hi */
	const uint8_t lea[] = { 0x48, 0x8d, 0x64, 0x24, 0xf8 };
	memcpy(p, lea, sizeof lea);
	p[5] = 0xc7, p[6] = 0x04, p[7] = 0x24;
	put_le32(p + 8, (int32_t)(uint32_t)ret);
	p[12] = 0xc7, p[13] = 0x44, p[14] = 0x24, p[15] = 0x04;
	put_le32(p + 16, (int32_t)(uint32_t)(ret >> 32));
	uint8_t *j = p + PUSH_LEN;
	uint64_t jdst = dst + PUSH_LEN;
	size_t jlen;
	if (rel32) {
		uint64_t target = ret + (uint64_t)insn->raw.imm[relative_imm(insn)].value.s;
		int64_t rel = distance(jdst + 5, target);
		if (!fits_rel32(rel)) {
			say(why, whylen, "call at +0x%zx targets 0x%llx, beyond rel32 from the trampoline at 0x%llx",
			    at, (unsigned long long)target, (unsigned long long)dst);
			return ARCH_OUT_OF_RANGE;
		}
		j[0] = 0xe9;
		put_le32(j + 1, (int32_t)rel);
		jlen = 5;
	} else {
		memcpy(j, bytes, len);
		j[insn->raw.modrm.offset] = (uint8_t)((j[insn->raw.modrm.offset] & ~0x38) | (4 << 3));
		jlen = len;
		if (insn->attributes & ZYDIS_ATTRIB_IS_RELATIVE) { /* call [rip + disp32] */
			const ZydisDecodedOperand *mem = relative_mem(insn, ops);
			if (mem == NULL || mem->mem.base != ZYDIS_REGISTER_RIP || insn->raw.disp.size != 32) {
				say(why, whylen, "call at +0x%zx depends on its address in a way that cannot be moved", at);
				return ARCH_UNRELOCATABLE;
			}
			uint64_t target = ret + (uint64_t)insn->raw.disp.value;
			int64_t disp = distance(jdst + len, target);
			if (!fits_rel32(disp)) {
				say(why, whylen, "call at +0x%zx refers to 0x%llx, beyond rel32 from the trampoline at 0x%llx",
				    at, (unsigned long long)target, (unsigned long long)dst);
				return ARCH_OUT_OF_RANGE;
			}
			put_le32(j + insn->raw.disp.offset, (int32_t)disp);
		}
	}
	out->len += PUSH_LEN + jlen;
	return ARCH_HOOKABLE;
too_long:
	say(why, whylen, "the relocated call at +0x%zx does not fit the %d-byte trampoline", at, ARCH_TRAMPOLINE_MAX);
	return ARCH_UNRELOCATABLE;
}

/*
 * Emits the relocated copy of one stolen instruction found at offset `at`
 * (runtime address src) into out, whose next byte runs at dst.
 */
static enum arch_refusal relocate(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops,
                                  const uint8_t *bytes, size_t at, uint64_t src, uint64_t dst,
                                  struct emitter *out, char *why, size_t whylen)
{
	const char *name = mnemonic_name(insn->mnemonic);
	size_t len = insn->length;

	if (!(insn->attributes & ZYDIS_ATTRIB_IS_RELATIVE)) {
		if (!room(out, len))
			goto too_long;
		memcpy(out->buf + out->len, bytes, len);
		out->len += len;
		return ARCH_HOOKABLE;
	}

	int imm = relative_imm(insn);
	if (imm >= 0) {
		uint64_t target = src + len + (uint64_t)insn->raw.imm[imm].value.s;
		unsigned bits = insn->raw.imm[imm].size;
		uint8_t *p = out->buf + out->len;
		size_t newlen;
		size_t rel_at;
		if (bits == 32) {
			/* jmp/jcc/call/xbegin rel32: same encoding, prefixes kept. */
			if (!room(out, len))
				goto too_long;
			memcpy(p, bytes, len);
			newlen = len;
			rel_at = insn->raw.imm[imm].offset;
		} else if (bits == 8 && insn->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
		           insn->opcode == 0xeb) {
			if (!room(out, 5))
				goto too_long;
			p[0] = 0xe9;
			newlen = 5;
			rel_at = 1;
		} else if (bits == 8 && insn->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
		           insn->opcode >= 0x70 && insn->opcode <= 0x7f) {
			/* jcc rel8 (7x cc) -> jcc rel32 (0F 8x cc); branch-hint and
			 * bnd prefixes are dropped, they do not change semantics. */
			if (!room(out, 6))
				goto too_long;
			p[0] = 0x0f;
			p[1] = (uint8_t)(0x80 | (insn->opcode & 0x0f));
			newlen = 6;
			rel_at = 2;
		} else {
			say(why, whylen, "%s at +0x%zx has a %u-bit relative target with no rel32 form",
			    name, at, bits);
			return ARCH_UNRELOCATABLE;
		}
		int64_t rel = distance(dst + newlen, target);
		if (!fits_rel32(rel)) {
			say(why, whylen,
			    "%s at +0x%zx targets 0x%llx, beyond rel32 from the trampoline at 0x%llx",
			    name, at, (unsigned long long)target, (unsigned long long)dst);
			return ARCH_OUT_OF_RANGE;
		}
		put_le32(p + rel_at, (int32_t)rel);
		out->len += newlen;
		return ARCH_HOOKABLE;
	}

	const ZydisDecodedOperand *mem = relative_mem(insn, ops);
	if (mem == NULL || mem->mem.base != ZYDIS_REGISTER_RIP || insn->raw.disp.size != 32) {
		say(why, whylen, "%s at +0x%zx depends on its address in a way that cannot be moved",
		    name, at);
		return ARCH_UNRELOCATABLE;
	}
	uint64_t target = src + len + (uint64_t)insn->raw.disp.value;
	int64_t disp = distance(dst + len, target);
	if (!fits_rel32(disp)) {
		say(why, whylen,
		    "%s at +0x%zx refers to 0x%llx, beyond rel32 from the trampoline at 0x%llx", name,
		    at, (unsigned long long)target, (unsigned long long)dst);
		return ARCH_OUT_OF_RANGE;
	}
	if (!room(out, len))
		goto too_long;
	memcpy(out->buf + out->len, bytes, len);
	put_le32(out->buf + out->len + insn->raw.disp.offset, (int32_t)disp);
	out->len += len;
	return ARCH_HOOKABLE;

too_long:
	say(why, whylen, "%s at +0x%zx would grow the trampoline past %d bytes", name, at,
	    ARCH_TRAMPOLINE_MAX);
	return ARCH_UNRELOCATABLE;
}

enum arch_refusal arch_plan_patch(const uint8_t *code, size_t size, uint64_t runtime_address,
                                  uint64_t trampoline_address, struct arch_patch_plan *plan, char *why,
                                  size_t whylen)
{
	memset(plan, 0, sizeof *plan);
	say(why, whylen, "%s", "");

	if (size == 0) {
		say(why, whylen, "the symbol has no size, its body cannot be scanned");
		return ARCH_UNKNOWN_SIZE;
	}
	size_t po = size >= ENDBR64_LEN && memcmp(code, endbr64_bytes, ENDBR64_LEN) == 0 ? ENDBR64_LEN : 0;
	if (size < po + ARCH_PATCH_LEN) {
		say(why, whylen, "the body is %zu bytes, the patch needs +0x%zx..+0x%zx", size, po,
		    po + ARCH_PATCH_LEN);
		return ARCH_TOO_SHORT;
	}

	ZydisDecoder dec;
	if (ZYAN_FAILED(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64))) {
		say(why, whylen, "the decoder cannot be initialised");
		return ARCH_DECODE_FAILED;
	}

	/* Pass 1: decode the whole body; find n; check every reference. References
	 * made by stolen instructions wait until n is known. */
	size_t n = 0;
	bool ended = false; /* a stolen instruction ended the code path */
	size_t ended_at = 0;
	ZydisMnemonic ended_mnemonic = ZYDIS_MNEMONIC_INVALID;
	struct ref pending[STOLEN_MAX];
	size_t npending = 0;
	for (size_t off = 0; off < size;) {
		ZydisDecoderContext ctx;
		ZydisDecodedInstruction insn;
		if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, &ctx, code + off, size - off, &insn))) {
			say(why, whylen, "no instruction decodes at +0x%zx (byte 0x%02x)", off, code[off]);
			return ARCH_DECODE_FAILED;
		}
		size_t next = off + insn.length;
		bool stolen = off >= po && n == 0;
		if (stolen) {
			/* After a jmp/ret/trap, only padding may still be stolen: the
			 * next real instruction is reached from elsewhere (and a branch
			 * to it from this body would be refused below anyway). */
			if (ended && !is_padding(&insn)) {
				say(why, whylen,
				    "%s at +0x%zx ends the code path before the patch end +0x%zx",
				    mnemonic_name(ended_mnemonic), ended_at, po + ARCH_PATCH_LEN);
				return ARCH_TOO_SHORT;
			}
			if (!ended && ends_flow(&insn)) {
				ended = true;
				ended_at = off;
				ended_mnemonic = insn.mnemonic;
			}
			if (next >= po + ARCH_PATCH_LEN)
				n = next - po;
		}
		struct ref ref = resolve_ref(&dec, &ctx, &insn, off);
		if (stolen) {
			if (npending < STOLEN_MAX)
				pending[npending++] = ref;
			if (n != 0)
				for (size_t i = 0; i < npending; i++)
					if (ref_hits_patch(&pending[i], true, po, n))
						return refuse_ref(&pending[i], po, n, why, whylen);
		} else if (n != 0 && ref_hits_patch(&ref, false, po, n)) {
			return refuse_ref(&ref, po, n, why, whylen);
		}
		off = next;
	}

	if (n == 0) { /* unreachable: size >= po + 5 and the body decoded whole */
		say(why, whylen, "the body ends before the patch end +0x%zx", po + ARCH_PATCH_LEN);
		return ARCH_TOO_SHORT;
	}

	/* Pass 2: relocate the stolen instructions (they decoded in pass 1). */
	struct emitter out = { .buf = plan->trampoline, .len = 0 };
	bool ends_with_call = false;
	for (size_t off = po; off < po + n;) {
		ZydisDecodedInstruction insn;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, code + off, size - off, &insn, ops))) {
			say(why, whylen, "no instruction decodes at +0x%zx (byte 0x%02x)", off, code[off]);
			return ARCH_DECODE_FAILED;
		}
		enum arch_refusal r;
		if (insn.meta.category == ZYDIS_CATEGORY_CALL) {
			if (off + insn.length != po + n) {
				say(why, whylen,
				    "call at +0x%zx is followed by more patched bytes: its return address would be inside the patch",
				    off);
				return ARCH_UNRELOCATABLE;
			}
			r = relocate_call(&insn, ops, code + off, off, runtime_address + off,
			                  trampoline_address + out.len, &out, why, whylen);
			if (r != ARCH_HOOKABLE)
				return r;
			ends_with_call = true;
		} else {
			r = relocate(&insn, ops, code + off, off, runtime_address + off,
			             trampoline_address + out.len, &out, why, whylen);
			if (r != ARCH_HOOKABLE)
				return r;
		}
		off += insn.length;
	}
	if (ends_with_call) { /* the callee returns into the original body: no jump back */
		/* The contract still holds: the trampoline is within rel32 of the target. */
		if (!fits_rel32(distance(runtime_address + po + ARCH_PATCH_LEN, trampoline_address))) {
			say(why, whylen, "the trampoline at 0x%llx is beyond rel32 from the function",
			    (unsigned long long)trampoline_address);
			return ARCH_OUT_OF_RANGE;
		}
		plan->patch_offset = po;
		plan->stolen_len = n;
		plan->trampoline_len = out.len;
		say(why, whylen, "patch +0x%zx..+0x%zx, %zu-byte trampoline ending in the relocated call", po, po + n,
		    out.len);
		return ARCH_HOOKABLE;
	}

	uint64_t back = runtime_address + po + n;
	int64_t rel = distance(trampoline_address + out.len + ARCH_PATCH_LEN, back);
	if (!fits_rel32(rel)) {
		say(why, whylen,
		    "the jump back to +0x%zx (0x%llx) is beyond rel32 from the trampoline at 0x%llx",
		    po + n, (unsigned long long)back, (unsigned long long)trampoline_address);
		return ARCH_OUT_OF_RANGE;
	}
	/* room() reserved these bytes. */
	out.buf[out.len] = 0xe9;
	put_le32(out.buf + out.len + 1, (int32_t)rel);
	out.len += ARCH_PATCH_LEN;

	plan->patch_offset = po;
	plan->stolen_len = n;
	plan->trampoline_len = out.len;
	say(why, whylen, "patch +0x%zx..+0x%zx, %zu-byte trampoline", po, po + n, out.len);
	return ARCH_HOOKABLE;
}

enum arch_refusal arch_encode_patch(const struct arch_patch_plan *plan, uint64_t runtime_address,
                                    uint64_t dest, uint8_t *out)
{
	/* A plan that did not come from a successful arch_plan_patch. */
	if (plan->stolen_len < ARCH_PATCH_LEN)
		return ARCH_TOO_SHORT;
	int64_t rel = distance(runtime_address + plan->patch_offset + ARCH_PATCH_LEN, dest);
	if (!fits_rel32(rel))
		return ARCH_OUT_OF_RANGE;
	out[0] = 0xe9;
	put_le32(out + 1, (int32_t)rel);
	memset(out + ARCH_PATCH_LEN, 0xcc, plan->stolen_len - ARCH_PATCH_LEN);
	return ARCH_HOOKABLE;
}

const char *arch_refusal_name(enum arch_refusal refusal)
{
	switch (refusal) {
	case ARCH_HOOKABLE:
		return "hookable";
	case ARCH_TOO_SHORT:
		return "too short";
	case ARCH_UNKNOWN_SIZE:
		return "unknown size";
	case ARCH_DECODE_FAILED:
		return "decode failed";
	case ARCH_BRANCH_INTO_PATCH:
		return "branch into patch";
	case ARCH_UNRELOCATABLE:
		return "unrelocatable";
	case ARCH_OUT_OF_RANGE:
		return "out of range";
	}
	return "invalid refusal";
}
