/* SPDX-License-Identifier: MIT */
/* test_hot_capture.c: the hot path's captures from registers, stack and memory, with bad pointers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hot_capture.h"
#include "safe_read.h"
#include "span_record.h"

static void setup(void)
{
	safe_read_init();
}

TestSuite(hot_capture, .init = setup);

static struct hot_capture compiled(int index, bool from_return, enum capture_type type, const int64_t *deref,
                                   int nderef, uint32_t max_len)
{
	struct hook_capture cap = { .index = index, .from_return = from_return, .type = type, .max_len = max_len,
		                    .attribute = "a" };
	for (int i = 0; i < nderef; i++)
		cap.deref[cap.nderef++] = deref[i];
	struct hot_capture c;
	hot_capture_compile(&cap, &c);
	return c;
}

/* The value of capture c for a call with these registers and stack. */
static bool read_capture(const struct hot_capture *c, const struct hook_regs *regs, const uint64_t *stack,
                         uint64_t rax, char *text, uint32_t *used, uint64_t *value, bool *truncated)
{
	uint64_t next;
	uint64_t base = hot_capture_base(c, regs, (uint64_t)(uintptr_t)stack, rax, &next);
	return hot_capture_finish(c, base, next, text, used, SPAN_TEXT_BYTES, value, truncated, NULL);
}

Test(hot_capture, integer_arguments_by_position_registers_then_stack)
{
	struct hook_regs regs = { .rdi = 11, .rsi = 22, .rdx = 33, .rcx = 44, .r8 = 55, .r9 = 66 };
	uint64_t stack[3] = { 77, 88, 99 };
	uint64_t expect[] = { 11, 22, 33, 44, 55, 66, 77, 88, 99 };
	for (int i = 1; i <= 9; i++) {
		struct hot_capture c = compiled(i, false, CAPTURE_U64, NULL, 0, 0);
		char text[SPAN_TEXT_BYTES];
		uint32_t used = 0;
		uint64_t v;
		bool cut = false;
		cr_assert(read_capture(&c, &regs, stack, 0, text, &used, &v, &cut));
		cr_assert_eq(v, expect[i - 1], "argument %d", i);
	}
	struct hot_capture r = compiled(0, true, CAPTURE_I32, NULL, 0, 0);
	cr_assert_eq(r.at_exit, 1, "the return value is read at return");
	uint64_t v;
	uint32_t used = 0;
	bool cut = false;
	cr_assert(read_capture(&r, &regs, stack, 0xfffffffeu, NULL, &used, &v, &cut));
	cr_assert_eq(v, 0xfffffffeu);
}

Test(hot_capture, deref_reads_the_last_field_at_its_width)
{
	struct inner { uint32_t a; uint16_t b; } in = { 0xdeadbeef, 0x1234 };
	struct outer { uint64_t pad; struct inner *p; } out = { 0, &in };
	struct hook_regs regs = { .rsi = (uint64_t)(uintptr_t)&out };
	int64_t path[] = { 8, 4 }; /* *(*(rsi + 8) + 4) as u16 */
	struct hot_capture c = compiled(2, false, CAPTURE_U16, path, 2, 0);
	uint64_t v;
	uint32_t used = 0;
	bool cut = false;
	cr_assert(read_capture(&c, &regs, NULL, 0, NULL, &used, &v, &cut));
	cr_assert_eq(v, 0x1234);
}

Test(hot_capture, str_pair_from_registers_and_from_memory)
{
	const char *sql = "SELECT * FROM person WHERE id = 3";
	struct hook_regs regs = { .rdi = 1, .rsi = (uint64_t)(uintptr_t)sql, .rdx = strlen(sql) };
	struct hot_capture c = compiled(2, false, CAPTURE_STR, NULL, 0, 128);
	char text[SPAN_TEXT_BYTES];
	uint32_t used = 0;
	uint64_t v;
	bool cut = false;
	cr_assert(read_capture(&c, &regs, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq((uint32_t)v, strlen(sql));
	cr_assert_eq(memcmp(text + (v >> 32), sql, strlen(sql)), 0);
	cr_assert_not(cut);

	/* a &str stored in memory: (pointer, length) at the last address; max_len cuts it */
	struct { const char *p; size_t len; } stored = { sql, strlen(sql) };
	struct hook_regs r2 = { .rdi = (uint64_t)(uintptr_t)&stored };
	int64_t path[] = { 0 };
	struct hot_capture c2 = compiled(1, false, CAPTURE_STR, path, 1, 6);
	uint32_t before = used;
	cr_assert(read_capture(&c2, &r2, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq(v >> 32, before, "appended after the first string");
	cr_assert_eq((uint32_t)v, 6);
	cr_assert_eq(memcmp(text + before, "SELECT", 6), 0);
	cr_assert(cut, "cut at max_len");
}

Test(hot_capture, cstring_stops_at_nul_and_at_the_text_area)
{
	struct hook_regs regs = { .rdi = (uint64_t)(uintptr_t)"person" };
	struct hot_capture c = compiled(1, false, CAPTURE_CSTRING, NULL, 0, 128);
	char text[SPAN_TEXT_BYTES];
	uint32_t used = SPAN_TEXT_BYTES - 4; /* only 4 bytes left */
	uint64_t v;
	bool cut = false;
	cr_assert(read_capture(&c, &regs, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq((uint32_t)v, 4);
	cr_assert_eq(memcmp(text + SPAN_TEXT_BYTES - 4, "pers", 4), 0);
	cr_assert(cut);
	used = 0;
	cut = false;
	cr_assert(read_capture(&c, &regs, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq((uint32_t)v, 6);
	cr_assert_not(cut);
}

/* A char array inside a struct, as PostgreSQL's NameData in pg_class: read in place, not through a pointer. */
Test(hot_capture, chars_are_read_in_place_at_the_last_address)
{
	struct form { unsigned oid; char name[64]; } row = { 16384, "pgbench_history" };
	struct rel { long pad[7]; struct form *rd_rel; } rel = { .rd_rel = &row };
	struct hook_regs regs = { .rdi = (uint64_t)(uintptr_t)&rel };
	int64_t path[] = { 56, 4 }; /* rel->rd_rel, then &rd_rel->name */
	struct hot_capture c = compiled(1, false, CAPTURE_CHARS, path, 2, 64);
	char text[SPAN_TEXT_BYTES];
	uint32_t used = 0;
	uint64_t v;
	bool cut = false;
	cr_assert(read_capture(&c, &regs, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq((uint32_t)v, strlen("pgbench_history"));
	cr_assert_eq(memcmp(text + (v >> 32), "pgbench_history", (uint32_t)v), 0);
	cr_assert_not(cut);
	/* the same path as a cstring would load a pointer from the name's bytes */
	struct hot_capture p = compiled(1, false, CAPTURE_CSTRING, path, 2, 64);
	used = 0;
	cr_assert_not(read_capture(&p, &regs, NULL, 0, text, &used, &v, &cut), "the name's bytes are no pointer");
	/* without deref, the register holds the array's address: like cstring */
	struct hook_regs direct = { .rdi = (uint64_t)(uintptr_t)row.name };
	struct hot_capture d = compiled(1, false, CAPTURE_CHARS, NULL, 0, 8);
	used = 0;
	cr_assert(read_capture(&d, &direct, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq((uint32_t)v, 8);
	cr_assert(cut, "cut at max_len");
}

/* A stable capture reads what lies behind its first pointer once per pointer, per memo. */
Test(hot_capture, stable_captures_are_read_once_per_first_pointer)
{
	struct command { char pad[16]; const char *name; } set = { .name = "set" }, get = { .name = "get" };
	struct client { char pad[8]; struct command *cmd; } c = { .cmd = &set };
	struct hook_regs regs = { .rdi = (uint64_t)(uintptr_t)&c };
	struct hook_capture cap = { .index = 1, .type = CAPTURE_CSTRING, .max_len = 32, .tag = "command",
		                    .stable = true, .deref = { 8, 16 }, .nderef = 2 };
	struct hot_capture hc;
	hot_capture_compile(&cap, &hc);
	cr_assert(hc.stable);
	static struct capture_memo memo; /* zeroed: empty */
	char text[SPAN_TEXT_BYTES];
	uint32_t used = 0;
	uint64_t v, next;
	bool cut = false;
	uint64_t base = hot_capture_base(&hc, &regs, 0, 0, &next);
	cr_assert(hot_capture_finish(&hc, base, next, text, &used, SPAN_TEXT_BYTES, &v, &cut, &memo));
	cr_assert_eq(memcmp(text + (v >> 32), "set", 3), 0);
	/* the command's name changes behind the same pointer: the memo still says "set" */
	set.name = "xyz";
	used = 10;
	cr_assert(hot_capture_finish(&hc, base, next, text, &used, SPAN_TEXT_BYTES, &v, &cut, &memo));
	cr_assert_eq((uint32_t)v, 3);
	cr_assert_eq(v >> 32, 10, "replayed into the text area where the caller is");
	cr_assert_eq(memcmp(text + 10, "set", 3), 0, "from the memo, not read again");
	cr_assert_eq(used, 13);
	/* another pointer is read afresh; without a memo, every call reads */
	c.cmd = &get;
	used = 0;
	cr_assert(hot_capture_finish(&hc, base, next, text, &used, SPAN_TEXT_BYTES, &v, &cut, &memo));
	cr_assert_eq(memcmp(text + (v >> 32), "get", 3), 0);
	c.cmd = &set;
	used = 0;
	cr_assert(hot_capture_finish(&hc, base, next, text, &used, SPAN_TEXT_BYTES, &v, &cut, NULL));
	cr_assert_eq(memcmp(text + (v >> 32), "xyz", 3), 0);
	/* a bad first pointer is never remembered as a value */
	c.cmd = (struct command *)8;
	used = 0;
	cr_assert_not(hot_capture_finish(&hc, base, next, text, &used, SPAN_TEXT_BYTES, &v, &cut, &memo));
}

Test(hot_capture, bad_pointers_give_false_never_a_fault)
{
	long page = sysconf(_SC_PAGESIZE);
	char *guard = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(guard, MAP_FAILED);
	cr_assert_eq(munmap(guard + page, (size_t)page), 0); /* the second page is gone */
	uint64_t unmapped = (uint64_t)(uintptr_t)(guard + page);
	uint64_t cases[] = { 0, 8, 4095, unmapped, 0x0000800000000000ull, ~0ull - 3 };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hook_regs regs = { .rdi = cases[i] };
		int64_t path[] = { 0 };
		struct hot_capture c = compiled(1, false, CAPTURE_U64, path, 1, 0);
		uint64_t v = 1;
		uint32_t used = 0;
		bool cut = false;
		cr_assert_not(read_capture(&c, &regs, NULL, 0, NULL, &used, &v, &cut), "address %#lx read", cases[i]);
		cr_assert_eq(v, 0);
		struct hot_capture s = compiled(1, false, CAPTURE_CSTRING, NULL, 0, 64);
		char text[SPAN_TEXT_BYTES];
		cr_assert_not(read_capture(&s, &regs, NULL, 0, text, &used, &v, &cut), "string at %#lx", cases[i]);
		cr_assert_eq(used, 0, "no text used by a failed read");
	}
	/* a string running into the unmapped page: the readable prefix, marked cut */
	memset(guard + page - 3, 'x', 3);
	struct hook_regs regs = { .rdi = (uint64_t)(uintptr_t)(guard + page - 3) };
	struct hot_capture s = compiled(1, false, CAPTURE_CSTRING, NULL, 0, 64);
	char text[SPAN_TEXT_BYTES];
	uint32_t used = 0;
	uint64_t v;
	bool cut = false;
	cr_assert(read_capture(&s, &regs, NULL, 0, text, &used, &v, &cut));
	cr_assert_eq((uint32_t)v, 3);
	cr_assert(cut);
	munmap(guard, (size_t)page);
}

Test(hot_capture, errno_survives_a_failed_read)
{
	errno = 1234;
	uint64_t v;
	cr_assert_not(safe_read_uint(0x10000, 8, &v)); /* low, most likely unmapped: the system call runs */
	cr_assert_eq(errno, 1234);
}

Test(hot_capture, error_operand_from_an_argument_at_return)
{
	struct hook_config h = { .error_index = 1, .error_nderef = 1, .error_deref = { 0 }, .error_type = CAPTURE_U8 };
	struct hot_capture c;
	cr_assert(hot_capture_compile_error(&h, &c));
	cr_assert_eq(c.at_exit, 1);
	uint8_t result[16] = { 1 }; /* a Result's discriminant: Err */
	struct hook_regs regs = { .rdi = (uint64_t)(uintptr_t)result };
	uint64_t v;
	uint32_t used = 0;
	bool cut = false;
	cr_assert(read_capture(&c, &regs, NULL, 0, NULL, &used, &v, &cut));
	cr_assert_eq(v, 1);
	struct hook_config none = { .error_type = CAPTURE_I64 };
	cr_assert_not(hot_capture_compile_error(&none, &c), "no index: judged on the return register");
}
