/* SPDX-License-Identifier: MIT */
/*
 * test_toml.c: unit tests for shim/toml.c.
 *
 * Every input is copied into a heap buffer of exactly its length before
 * parsing, so under ASan a read past len is caught, and the copy is freed
 * before the tree is inspected, so the tree must not point into the input.
 */
#include <criterion/criterion.h>

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"

/*
 * LSan reports leaks when a Criterion worker exits, but Criterion still
 * counts the test as passing. Under ASan, expect_no_leaks() turns a leak
 * into an assertion failure; it runs after every expected-error parse and
 * at the end of the fuzz tests, and the suite's fini aborts on a leak left
 * by any other test (Criterion then warns and exits non-zero).
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
static bool leaked(void)
{
	return __lsan_do_recoverable_leak_check() != 0;
}
#else
static bool leaked(void)
{
	return false;
}
#endif

static void expect_no_leaks(void)
{
	cr_assert(!leaked(), "memory leaked (see the LeakSanitizer report above)");
}

static void fail_on_leaks(void)
{
	if (leaked())
		abort();
}

TestSuite(toml, .fini = fail_on_leaks);

static struct toml_value *parse_bytes(const char *text, size_t len, struct toml_error *err)
{
	char *copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	if (len > 0)
		memcpy(copy, text, len);
	struct toml_value *root = toml_parse(copy, len, err);
	free(copy);
	return root;
}

static struct toml_value *parse_ok_len(const char *text, size_t len)
{
	struct toml_error err;
	struct toml_value *root = parse_bytes(text, len, &err);
	cr_assert_not_null(root, "parse failed at %d:%d: %s", err.line, err.col, err.msg);
	cr_assert_eq(root->type, TOML_TABLE);
	return root;
}

static struct toml_value *parse_ok(const char *text)
{
	return parse_ok_len(text, strlen(text));
}

static void expect_error_len(const char *text, size_t len, int line, int col, const char *msg)
{
	struct toml_error err;
	struct toml_value *root = parse_bytes(text, len, &err);
	if (root != NULL) {
		toml_free(root);
		cr_assert_fail("parse of \"%s\" succeeded; expected %d:%d %s", text, line, col, msg);
	}
	expect_no_leaks();
	cr_assert(strstr(err.msg, msg) != NULL, "message \"%s\" lacks \"%s\"", err.msg, msg);
	cr_assert_eq(err.line, line, "line %d, want %d (%s)", err.line, line, err.msg);
	cr_assert_eq(err.col, col, "col %d, want %d (%s)", err.col, col, err.msg);
}

#define expect_error(text, line, col, msg) expect_error_len((text), sizeof(text) - 1, (line), (col), (msg))

/* Looks up a dotted path of plain keys ("a.b.c"). */
static const struct toml_value *at(const struct toml_value *table, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	const struct toml_value *v = table;
	for (char *save = NULL, *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
		v = toml_get(v, part);
	return v;
}

static const struct toml_value *typed(const struct toml_value *table, const char *path, enum toml_type type)
{
	const struct toml_value *v = at(table, path);
	cr_assert_not_null(v, "no value at %s", path);
	cr_assert_eq(v->type, type, "%s is a %s, want %s", path, toml_type_name(v->type), toml_type_name(type));
	return v;
}

static int64_t int_at(const struct toml_value *t, const char *path)
{
	return typed(t, path, TOML_INTEGER)->u.integer;
}

static double float_at(const struct toml_value *t, const char *path)
{
	return typed(t, path, TOML_FLOAT)->u.flt;
}

static bool bool_at(const struct toml_value *t, const char *path)
{
	return typed(t, path, TOML_BOOLEAN)->u.boolean;
}

static void expect_str(const struct toml_value *t, const char *path, const char *want, size_t want_len)
{
	const struct toml_value *v = typed(t, path, TOML_STRING);
	cr_assert_eq(v->u.str.len, want_len, "%s: length %zu, want %zu", path, v->u.str.len, want_len);
	cr_assert(memcmp(v->u.str.ptr, want, want_len) == 0, "%s: \"%s\" != \"%s\"", path, v->u.str.ptr, want);
	cr_assert_eq(v->u.str.ptr[want_len], '\0', "%s not NUL-terminated", path);
}

#define expect_string(t, path, lit) expect_str((t), (path), (lit), sizeof(lit) - 1)

static const struct toml_value *item(const struct toml_value *array, size_t i)
{
	cr_assert_eq(array->type, TOML_ARRAY);
	cr_assert_lt(i, array->u.array.count);
	return array->u.array.items[i];
}

static void expect_pos(const struct toml_value *v, int line, int col)
{
	cr_assert_not_null(v);
	cr_assert_eq(v->line, line, "line %d, want %d", v->line, line);
	cr_assert_eq(v->col, col, "col %d, want %d", v->col, col);
}

static const struct toml_kv *kv_at(const struct toml_value *table, size_t i)
{
	cr_assert_eq(table->type, TOML_TABLE);
	cr_assert_lt(i, table->u.table.count);
	return &table->u.table.kv[i];
}

static const char realistic[] =
	"# stdbtel config\n"
	"[telemetry]\n"
	"enabled = true\n"
	"otlp_endpoint = \"http://localhost:4318\"\n"
	"processes = [\"spacetimedb-standalone\", \"redis-*\"]\n"
	"[telemetry.sampling]\n"
	"traces_per_second = 100\n"
	"[[hook]]\n"
	"symbol = \"spacetimedb::host::instance_env::InstanceEnv::insert\"\n"
	"span = \"insert\"\n"
	"kind = \"internal\"\n"
	"attributes = { \"db.system.name\" = \"spacetimedb\", \"db.operation.name\" = \"insert\" }\n"
	"[hook.metrics]\n"
	"duration = \"spacetimedb.database.insert_duration\"\n"
	"[[hook.arg]]\n"
	"index = 2\n"
	"type = \"u32\"\n";

/* ---- basics ---- */

Test(toml, empty_input)
{
	struct toml_value *root = parse_ok("");
	cr_assert_eq(root->u.table.count, 0);
	expect_pos(root, 1, 1);
	toml_free(root);

	root = parse_ok("  \n\t\n# only a comment\n   # another\n\n");
	cr_assert_eq(root->u.table.count, 0);
	toml_free(root);

	struct toml_error err;
	root = toml_parse(NULL, 0, &err);
	cr_assert_not_null(root);
	cr_assert_eq(root->u.table.count, 0);
	toml_free(root);
	toml_free(NULL);
}

Test(toml, api_helpers)
{
	struct toml_value *root = parse_ok("a = 1\nb = 'x'\n");
	cr_assert_null(toml_get(root, "c"));
	cr_assert_null(toml_get(NULL, "a"));
	cr_assert_null(toml_get(root, NULL));
	cr_assert_null(toml_get(toml_get(root, "a"), "a"), "toml_get on a non-table is NULL");
	cr_assert_str_eq(toml_type_name(TOML_STRING), "string");
	cr_assert_str_eq(toml_type_name(TOML_INTEGER), "integer");
	cr_assert_str_eq(toml_type_name(TOML_FLOAT), "float");
	cr_assert_str_eq(toml_type_name(TOML_BOOLEAN), "boolean");
	cr_assert_str_eq(toml_type_name(TOML_ARRAY), "array");
	cr_assert_str_eq(toml_type_name(TOML_TABLE), "table");
	cr_assert_eq(root->u.table.count, 2);
	cr_assert_str_eq(root->u.table.kv[0].key, "a");
	cr_assert_str_eq(root->u.table.kv[1].key, "b");
	toml_free(root);
}

Test(toml, no_trailing_newline_and_whitespace)
{
	struct toml_value *root = parse_ok("\t a\t=\t1 \t");
	cr_assert_eq(int_at(root, "a"), 1);
	toml_free(root);
}

Test(toml, byte_order_mark_is_skipped)
{
	struct toml_value *root = parse_ok("\xef\xbb\xbf" "a = 1");
	cr_assert_eq(int_at(root, "a"), 1);
	expect_pos(toml_get(root, "a"), 1, 5);
	toml_free(root);
}

/* ---- strings ---- */

Test(toml, basic_strings_and_escapes)
{
	struct toml_value *root = parse_ok(
		"plain = \"hello world\"\n"
		"empty = \"\"\n"
		"esc = \"a\\bb\\tc\\nd\\fe\\rf\\\"g\\\\h\"\n"
		"tab = \"x\ty\"\n"
		"hash = \"not # a comment\"\n"
		"utf8 = \"caf\xc3\xa9\"\n");
	expect_string(root, "plain", "hello world");
	expect_string(root, "empty", "");
	expect_string(root, "esc", "a\bb\tc\nd\fe\rf\"g\\h");
	expect_string(root, "tab", "x\ty");
	expect_string(root, "hash", "not # a comment");
	expect_string(root, "utf8", "caf\xc3\xa9");
	toml_free(root);
}

Test(toml, unicode_escapes)
{
	struct toml_value *root = parse_ok(
		"e = \"\\u00e9\"\n"
		"euro = \"\\u20AC\"\n"
		"smile = \"\\U0001F600\"\n"
		"ascii = \"\\u0041\\U00000042\"\n"
		"max = \"\\U0010FFFF\"\n"
		"nul = \"a\\u0000b\"\n");
	expect_string(root, "e", "\xc3\xa9");
	expect_string(root, "euro", "\xe2\x82\xac");
	expect_string(root, "smile", "\xf0\x9f\x98\x80");
	expect_string(root, "ascii", "AB");
	expect_string(root, "max", "\xf4\x8f\xbf\xbf");
	expect_str(root, "nul", "a\0b", 3);
	toml_free(root);
}

Test(toml, bad_escapes)
{
	expect_error("a = \"x\\qy\"", 1, 7, "invalid escape '\\q'");
	expect_error("a = \"\\uD800\"", 1, 6, "surrogate");
	expect_error("a = \"\\uDFFF\"", 1, 6, "surrogate");
	expect_error("a = \"\\U00110000\"", 1, 6, "beyond U+10FFFF");
	expect_error("a = \"\\u12\"", 1, 6, "4 hex digits");
	expect_error("a = \"\\U1234567\"", 1, 6, "8 hex digits");
	expect_error("a = \"\\x41\"", 1, 6, "invalid escape '\\x'");
	expect_error("a = \"\\e\"", 1, 6, "invalid escape '\\e'");
	expect_error("a = \"ab\\ \"", 1, 8, "invalid escape");
	/* A line-ending backslash only exists in multi-line strings. */
	expect_error("a = \"ab\\\nc\"", 1, 8, "invalid escape: backslash followed by newline");
	expect_error("a = \"\\", 1, 5, "unterminated string");
}

Test(toml, unterminated_strings)
{
	expect_error("a = \"abc", 1, 5, "unterminated string");
	expect_error("\nkey = \"abc\nb = 1\n", 2, 7, "unterminated string");
	expect_error("a = 'abc", 1, 5, "unterminated string");
	expect_error("a = 'abc\n'", 1, 5, "unterminated string");
	expect_error("a = \"\"\"abc\n\"\"", 1, 5, "unterminated string");
	expect_error("x = 1\na = '''abc\n''", 2, 5, "unterminated string");
}

Test(toml, control_characters_in_strings)
{
	expect_error("a = \"x\x01y\"", 1, 7, "control character 0x01 in string");
	expect_error("a = 'x\x7fy'", 1, 7, "control character 0x7f");
	expect_error("a = \"\"\"x\ry\"\"\"", 1, 9, "control character 0x0d");
	expect_error("a = '''\x1b'''", 1, 8, "control character 0x1b");
	expect_error_len("a = \"x\0\"", 8, 1, 7, "control character 0x00");
}

Test(toml, multiline_basic_strings)
{
	struct toml_value *root = parse_ok(
		"a = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
		"b = \"\"\"one\\\n    two \\\n\n\t three\"\"\"\n"
		"c = \"\"\"quote \" and \"\" inside\"\"\"\n"
		"d = \"\"\"ends with quotes\"\"\"\"\"\n"
		"e = \"\"\"\"one\"\"\"\"\n"
		"f = \"\"\"\"\"\"\n"
		"g = \"\"\"tab\\tand \\u00e9\"\"\"\n"
		"h = \"\"\"\\   \n  x\"\"\"\n");
	expect_string(root, "a", "Roses are red\nViolets are blue");
	expect_string(root, "b", "onetwo three");
	expect_string(root, "c", "quote \" and \"\" inside");
	expect_string(root, "d", "ends with quotes\"\"");
	expect_string(root, "e", "\"one\"");
	expect_string(root, "f", "");
	expect_string(root, "g", "tab\tand \xc3\xa9");
	expect_string(root, "h", "x");
	toml_free(root);
	/* Six quotes in a row close the string and leave one over. */
	expect_error("a = \"\"\"x\"\"\"\"\"\"", 1, 14, "unexpected '\"' after value");
}

Test(toml, literal_strings)
{
	struct toml_value *root = parse_ok(
		"path = 'C:\\Users\\nodejs\\templates'\n"
		"quoted = 'Tom \"Dubs\" Preston-Werner'\n"
		"regex = '<\\i\\c*\\s*>'\n"
		"empty = ''\n"
		"ml = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n"
		"q = '''It's 'quoted'''''\n"
		"raw = '''\\n is not an escape'''\n");
	expect_string(root, "path", "C:\\Users\\nodejs\\templates");
	expect_string(root, "quoted", "Tom \"Dubs\" Preston-Werner");
	expect_string(root, "regex", "<\\i\\c*\\s*>");
	expect_string(root, "empty", "");
	expect_string(root, "ml",
		      "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n");
	expect_string(root, "q", "It's 'quoted''");
	expect_string(root, "raw", "\\n is not an escape");
	toml_free(root);
}

/* ---- numbers and booleans ---- */

Test(toml, integers)
{
	struct toml_value *root = parse_ok(
		"a = 99\nb = +17\nc = 0\nd = -17\ne = 1_000\nf = 5_349_221\ng = 1_2_3_4_5\n"
		"h = 0xDEADBEEF\ni = 0xdead_beef\nj = 0o755\nk = 0b11010110\nl = 0x0\n"
		"max = 9223372036854775807\nmin = -9223372036854775808\n"
		"hexmax = 0x7fffffffffffffff\nz = -0\nplus0 = +0\n");
	cr_assert_eq(int_at(root, "a"), 99);
	cr_assert_eq(int_at(root, "b"), 17);
	cr_assert_eq(int_at(root, "c"), 0);
	cr_assert_eq(int_at(root, "d"), -17);
	cr_assert_eq(int_at(root, "e"), 1000);
	cr_assert_eq(int_at(root, "f"), 5349221);
	cr_assert_eq(int_at(root, "g"), 12345);
	cr_assert_eq(int_at(root, "h"), 0xDEADBEEF);
	cr_assert_eq(int_at(root, "i"), 0xDEADBEEF);
	cr_assert_eq(int_at(root, "j"), 0755);
	cr_assert_eq(int_at(root, "k"), 214);
	cr_assert_eq(int_at(root, "l"), 0);
	cr_assert_eq(int_at(root, "max"), INT64_MAX);
	cr_assert_eq(int_at(root, "min"), INT64_MIN);
	cr_assert_eq(int_at(root, "hexmax"), INT64_MAX);
	cr_assert_eq(int_at(root, "z"), 0);
	cr_assert_eq(int_at(root, "plus0"), 0);
	toml_free(root);
}

Test(toml, integer_overflow)
{
	expect_error("a = 9223372036854775808", 1, 5, "integer out of range");
	expect_error("a = -9223372036854775809", 1, 5, "integer out of range");
	expect_error("\n  big = 99999999999999999999999", 2, 9, "integer out of range");
	expect_error("a = 0x8000000000000000", 1, 5, "integer out of range");
	expect_error("a = 0o1777777777777777777777", 1, 5, "integer out of range");
	expect_error("a = 0b1" "0000000000000000000000000000000000000000000000000000000000000000", 1, 5,
		     "integer out of range");
}

Test(toml, leading_zeros)
{
	expect_error("a = 012", 1, 5, "leading zeros");
	expect_error("a = -012", 1, 5, "leading zeros");
	expect_error("a = 00", 1, 5, "leading zeros");
	expect_error("a = 0_1", 1, 5, "leading zeros");
	expect_error("a = 01.5", 1, 5, "leading zeros");
	struct toml_value *root = parse_ok("a = 0.5\nb = 1e05\nc = 0e0\nd = 0x00ff\n");
	cr_assert_float_eq(float_at(root, "a"), 0.5, 0);
	cr_assert_float_eq(float_at(root, "b"), 1e5, 0);
	cr_assert_float_eq(float_at(root, "c"), 0.0, 0);
	cr_assert_eq(int_at(root, "d"), 255);
	toml_free(root);
}

Test(toml, floats)
{
	struct toml_value *root = parse_ok(
		"a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\nf = -2E-2\ng = 6.626e-34\n"
		"h = 224_617.445_991_228\ni = 9_224_617.445_991_228e1_0\nj = 0.0\nk = -0.0\n"
		"l = 1.7976931348623157e308\nm = 4.9e-324\nn = 1e-400\n");
	cr_assert_float_eq(float_at(root, "a"), 1.0, 0);
	cr_assert_float_eq(float_at(root, "b"), 3.1415, 0);
	cr_assert_float_eq(float_at(root, "c"), -0.01, 0);
	cr_assert_float_eq(float_at(root, "d"), 5e22, 0);
	cr_assert_float_eq(float_at(root, "e"), 1e6, 0);
	cr_assert_float_eq(float_at(root, "f"), -0.02, 0);
	cr_assert_float_eq(float_at(root, "g"), 6.626e-34, 0);
	cr_assert_float_eq(float_at(root, "h"), 224617.445991228, 0);
	cr_assert_float_eq(float_at(root, "i"), 9224617.445991228e10, 0);
	cr_assert_float_eq(float_at(root, "j"), 0.0, 0);
	cr_assert(signbit(float_at(root, "k")), "-0.0 keeps its sign");
	cr_assert_float_eq(float_at(root, "l"), 1.7976931348623157e308, 0);
	cr_assert_float_eq(float_at(root, "m"), 4.9e-324, 0);
	cr_assert_float_eq(float_at(root, "n"), 0.0, 0);
	toml_free(root);
}

Test(toml, special_floats)
{
	struct toml_value *root = parse_ok("a = inf\nb = +inf\nc = -inf\nd = nan\ne = +nan\nf = -nan\n");
	cr_assert(isinf(float_at(root, "a")) && float_at(root, "a") > 0);
	cr_assert(isinf(float_at(root, "b")) && float_at(root, "b") > 0);
	cr_assert(isinf(float_at(root, "c")) && float_at(root, "c") < 0);
	cr_assert(isnan(float_at(root, "d")));
	cr_assert(isnan(float_at(root, "e")));
	cr_assert(isnan(float_at(root, "f")) && signbit(float_at(root, "f")));
	toml_free(root);
	expect_error("a = infinity", 1, 5, "invalid value 'infinity'");
	expect_error("a = Inf", 1, 5, "invalid value 'Inf'");
	expect_error("a = NaN", 1, 5, "invalid value 'NaN'");
}

Test(toml, bad_numbers)
{
	expect_error("a = 1.2.3", 1, 8, "invalid number");
	expect_error("a = 1.", 1, 7, "invalid number");
	expect_error("a = 1.e5", 1, 7, "invalid number");
	expect_error("a = 1e", 1, 7, "invalid number");
	expect_error("a = 1e+", 1, 8, "invalid number");
	expect_error("a = .5", 1, 5, "expected a value, found '.'");
	expect_error("a = 1__2", 1, 6, "'_' in a number must be between digits");
	expect_error("a = 1_", 1, 6, "between digits");
	expect_error("a = 1_.5", 1, 6, "between digits");
	expect_error("a = 1._5", 1, 7, "between digits");
	expect_error("a = _1", 1, 5, "expected a value");
	expect_error("a = 0x", 1, 7, "invalid number");
	expect_error("a = 0xg1", 1, 7, "invalid number");
	expect_error("a = 0b102", 1, 9, "invalid number");
	expect_error("a = 0o8", 1, 7, "invalid number");
	expect_error("a = 0X1F", 1, 6, "invalid number");
	expect_error("a = +0x1F", 1, 5, "cannot have a sign");
	expect_error("a = +", 1, 6, "invalid number");
	expect_error("a = --1", 1, 6, "invalid number");
	expect_error("a = 12abc", 1, 7, "invalid number");
	expect_error("a = 1e400", 1, 5, "float out of range");
	expect_error("a = -1e400", 1, 5, "float out of range");
}

Test(toml, floats_ignore_host_locale)
{
	/* The shim lives in host processes that may have set a locale with ','
	 * as the decimal point. Try a few; the parse must not care. */
	static const char *const locales[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "ru_RU.UTF-8", "C.UTF-8" };
	for (size_t i = 0; i < sizeof locales / sizeof locales[0]; i++) {
		if (setlocale(LC_ALL, locales[i]) == NULL)
			continue;
		struct toml_value *root = parse_ok("pi = 3.25\nbig = 1_000.5e2\n");
		cr_assert_float_eq(float_at(root, "pi"), 3.25, 0);
		cr_assert_float_eq(float_at(root, "big"), 100050.0, 0);
		toml_free(root);
	}
	setlocale(LC_ALL, "C");
}

Test(toml, booleans)
{
	struct toml_value *root = parse_ok("t = true\nf = false\narr = [true,false]\n");
	cr_assert_eq(bool_at(root, "t"), true);
	cr_assert_eq(bool_at(root, "f"), false);
	cr_assert_eq(item(toml_get(root, "arr"), 0)->u.boolean, true);
	cr_assert_eq(item(toml_get(root, "arr"), 1)->u.boolean, false);
	toml_free(root);
	expect_error("a = True", 1, 5, "invalid value 'True'");
	expect_error("a = truex", 1, 5, "invalid value 'truex'");
	expect_error("a = tru", 1, 5, "invalid value 'tru'");
	expect_error("a = hello", 1, 5, "strings must be quoted");
}

Test(toml, dates_are_rejected)
{
	expect_error("d = 1979-05-27", 1, 5, "dates and times are not supported");
	expect_error("x = 1\nodt = 1979-05-27T07:32:00Z", 2, 7, "dates and times are not supported");
	expect_error("dt = 1979-05-27 07:32:00", 1, 6, "dates and times are not supported");
	expect_error("t = 07:32:00", 1, 5, "dates and times are not supported");
	expect_error("a = [1, 2024-01-01]", 1, 9, "dates and times are not supported");
}

/* ---- arrays ---- */

Test(toml, arrays)
{
	struct toml_value *root = parse_ok(
		"ints = [ 1, 2, 3 ]\n"
		"empty = []\n"
		"blank = [ \n  \n ]\n"
		"strs = [\"a\", 'b', \"\"\"c\"\"\", '''d''']\n"
		"mixed = [ 0.1, 2, \"x\", true, { k = 1 }, [] ]\n"
		"nested = [ [ 1, 2 ], [3, [4]] ]\n"
		"multi = [\n  1, # one\n  2, # two\n\n  # a comment line\n  3,\n]\n"
		"comma_first = [ 1\n , 2 ]\n");
	const struct toml_value *ints = typed(root, "ints", TOML_ARRAY);
	cr_assert_eq(ints->u.array.count, 3);
	for (int64_t i = 0; i < 3; i++)
		cr_assert_eq(item(ints, (size_t)i)->u.integer, i + 1);
	cr_assert_eq(typed(root, "empty", TOML_ARRAY)->u.array.count, 0);
	cr_assert_eq(typed(root, "blank", TOML_ARRAY)->u.array.count, 0);
	const struct toml_value *strs = typed(root, "strs", TOML_ARRAY);
	cr_assert_eq(strs->u.array.count, 4);
	cr_assert_str_eq(item(strs, 0)->u.str.ptr, "a");
	cr_assert_str_eq(item(strs, 1)->u.str.ptr, "b");
	cr_assert_str_eq(item(strs, 2)->u.str.ptr, "c");
	cr_assert_str_eq(item(strs, 3)->u.str.ptr, "d");
	const struct toml_value *mixed = typed(root, "mixed", TOML_ARRAY);
	cr_assert_eq(mixed->u.array.count, 6);
	cr_assert_eq(item(mixed, 0)->type, TOML_FLOAT);
	cr_assert_eq(item(mixed, 1)->type, TOML_INTEGER);
	cr_assert_eq(item(mixed, 2)->type, TOML_STRING);
	cr_assert_eq(item(mixed, 3)->type, TOML_BOOLEAN);
	cr_assert_eq(item(mixed, 4)->type, TOML_TABLE);
	cr_assert_eq(int_at(item(mixed, 4), "k"), 1);
	cr_assert_eq(item(mixed, 5)->type, TOML_ARRAY);
	const struct toml_value *nested = typed(root, "nested", TOML_ARRAY);
	cr_assert_eq(nested->u.array.count, 2);
	cr_assert_eq(item(item(nested, 0), 1)->u.integer, 2);
	cr_assert_eq(item(item(item(nested, 1), 1), 0)->u.integer, 4);
	const struct toml_value *multi = typed(root, "multi", TOML_ARRAY);
	cr_assert_eq(multi->u.array.count, 3);
	cr_assert_eq(item(multi, 2)->u.integer, 3);
	expect_pos(item(multi, 2), 14, 3);
	cr_assert_eq(typed(root, "comma_first", TOML_ARRAY)->u.array.count, 2);
	toml_free(root);
}

Test(toml, many_elements)
{
	/* Enough elements and keys to grow the arrays several times. */
	char text[40000];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof text - n, "a = [");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%d,", i);
	n += (size_t)snprintf(text + n, sizeof text - n, "]\n");
	for (int i = 0; i < 500; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "k%d = \"v%d\"\n", i, i);
	cr_assert_lt(n, sizeof text - 1);
	struct toml_value *root = parse_ok(text);
	const struct toml_value *a = typed(root, "a", TOML_ARRAY);
	cr_assert_eq(a->u.array.count, 2000);
	cr_assert_eq(item(a, 1999)->u.integer, 1999);
	cr_assert_eq(root->u.table.count, 501);
	expect_string(root, "k499", "v499");
	toml_free(root);
}

Test(toml, array_errors)
{
	expect_error("a = [1, 2", 1, 5, "unterminated array");
	expect_error("x = 1\na = [\n1,\n2,\n", 2, 5, "unterminated array");
	expect_error("a = [1 2]", 1, 8, "expected ',' or ']' in array, found '2'");
	expect_error("a = [1,,2]", 1, 8, "expected a value, found ','");
	expect_error("a = [,]", 1, 6, "expected a value");
	expect_error("a = [1, 2\nb = 3\n", 2, 1, "expected ',' or ']' in array, found 'b'");
	expect_error("a = [1, # c\x01\n]", 1, 12, "control character 0x01 in comment");
	expect_error("a = [[1], [2]", 1, 5, "unterminated array");
}

/* ---- inline tables ---- */

Test(toml, inline_tables)
{
	struct toml_value *root = parse_ok(
		"name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
		"point = {x=1,y=2}\n"
		"empty = {}\n"
		"spaced = {   }\n"
		"animal = { type.name = \"pug\", type.size = 2 }\n"
		"nested = { a = { b = { c = [1, { d = true }] } } }\n"
		"arr = { list = [\n 1,\n 2\n] }\n");
	expect_string(root, "name.first", "Tom");
	expect_string(root, "name.last", "Preston-Werner");
	cr_assert_eq(int_at(root, "point.x"), 1);
	cr_assert_eq(int_at(root, "point.y"), 2);
	cr_assert_eq(typed(root, "empty", TOML_TABLE)->u.table.count, 0);
	cr_assert_eq(typed(root, "spaced", TOML_TABLE)->u.table.count, 0);
	expect_string(root, "animal.type.name", "pug");
	cr_assert_eq(int_at(root, "animal.type.size"), 2);
	cr_assert_eq(typed(root, "animal", TOML_TABLE)->u.table.count, 1);
	const struct toml_value *c = typed(root, "nested.a.b.c", TOML_ARRAY);
	cr_assert_eq(bool_at(item(c, 1), "d"), true);
	cr_assert_eq(typed(root, "arr.list", TOML_ARRAY)->u.array.count, 2);
	expect_pos(toml_get(root, "point"), 2, 9);
	expect_pos(at(root, "point.y"), 2, 16);
	toml_free(root);
}

Test(toml, inline_table_errors)
{
	expect_error("a = { b = 1", 1, 5, "unterminated inline table");
	expect_error("a = { b = 1,", 1, 5, "unterminated inline table");
	expect_error("a = {", 1, 5, "unterminated inline table");
	expect_error("a = { b = 1,\n c = 2 }", 1, 13, "newline inside inline table");
	expect_error("a = {\n}", 1, 6, "newline inside inline table");
	expect_error("a = { b = 1\n}", 1, 12, "newline inside inline table");
	expect_error("a = { b = 1, }", 1, 14, "trailing comma in inline table");
	expect_error("a = { b = 1 c = 2 }", 1, 13, "expected ',' or '}' in inline table, found 'c'");
	expect_error("a = { b = 1, b = 2 }", 1, 14, "duplicate key 'b'");
	expect_error("a = { b = 1 # no\n}", 1, 13, "expected ',' or '}'");
	expect_error("a = { b.c = 1, b = 2 }", 1, 16, "duplicate key 'b'");
	expect_error("a = { b = {}, b.c = 2 }", 1, 15, "cannot extend inline table 'b'");
}

Test(toml, inline_tables_are_closed)
{
	expect_error("a = { b = 1 }\na.c = 2\n", 2, 1, "cannot extend inline table 'a'");
	expect_error("a = { b = 1 }\n[a]\n", 2, 2, "cannot extend inline table 'a'");
	expect_error("a = { b = 1 }\n[a.c]\n", 2, 2, "cannot extend inline table 'a'");
	expect_error("a = { b = { c = 1 } }\n[a.b.d]\n", 2, 2, "cannot extend inline table 'a'");
	expect_error("[t]\na = { b = 1 }\n[t.a]\n", 3, 4, "cannot extend inline table 't.a'");
	expect_error("a = [{ b = 1 }]\n[[a]]\n", 2, 3, "cannot append to static array 'a'");
	expect_error("a = [{ b = 1 }]\n[a.c]\n", 2, 2, "cannot extend static array 'a'");
}

/* ---- keys ---- */

Test(toml, key_forms)
{
	struct toml_value *root = parse_ok(
		"bare_key = 1\n"
		"bare-key = 2\n"
		"1234 = 3\n"
		"\"127.0.0.1\" = 4\n"
		"\"character encoding\" = 5\n"
		"'key2' = 6\n"
		"'quoted \"value\"' = 7\n"
		"\"\" = 8\n"
		"true = 9\n"
		"\"\\u00e9t\\u00e9\" = 10\n"
		"-_- = 11\n");
	cr_assert_eq(int_at(root, "bare_key"), 1);
	cr_assert_eq(int_at(root, "bare-key"), 2);
	cr_assert_eq(int_at(root, "1234"), 3);
	cr_assert_eq(toml_get(root, "127.0.0.1")->u.integer, 4, "a quoted key may contain dots");
	cr_assert_eq(toml_get(root, "character encoding")->u.integer, 5);
	cr_assert_eq(toml_get(root, "key2")->u.integer, 6);
	cr_assert_eq(toml_get(root, "quoted \"value\"")->u.integer, 7);
	cr_assert_eq(toml_get(root, "")->u.integer, 8);
	cr_assert_eq(toml_get(root, "true")->u.integer, 9);
	cr_assert_eq(toml_get(root, "\xc3\xa9t\xc3\xa9")->u.integer, 10);
	cr_assert_eq(toml_get(root, "-_-")->u.integer, 11);
	cr_assert_eq(root->u.table.count, 11);
	toml_free(root);
}

Test(toml, key_errors)
{
	expect_error("name \"x\"", 1, 6, "expected '=' after key");
	expect_error("name", 1, 5, "expected '=' after key");
	expect_error("\n\nname\n= 1", 3, 5, "expected '=' after key");
	expect_error("a.b 1", 1, 5, "expected '=' after key");
	expect_error("na$me = 1", 1, 3, "invalid character '$' in bare key");
	expect_error("key! = 1", 1, 4, "invalid character '!' in bare key");
	expect_error("caf\xc3\xa9 = 1", 1, 4, "invalid byte 0xc3 in bare key");
	expect_error("$ = 1", 1, 1, "expected a key, found '$'");
	expect_error("= 1", 1, 1, "expected a key, found '='");
	expect_error("a. = 1", 1, 4, "expected a key, found '='");
	expect_error(".a = 1", 1, 1, "expected a key");
	expect_error("a..b = 1", 1, 3, "expected a key, found '.'");
	expect_error("\"\"\"k\"\"\" = 1", 1, 1, "multi-line strings cannot be keys");
	expect_error("\"a\\u0000b\" = 1", 1, 1, "key contains a NUL character");
	expect_error("\"a\" \"b\" = 1", 1, 5, "expected '=' after key");
	expect_error("a = ", 1, 5, "expected a value, found end of input");
	expect_error("a =\nb = 1", 1, 4, "expected a value, found newline");
	expect_error("a = 1 b = 2", 1, 7, "unexpected 'b' after value");
	expect_error("a = \"x\" \"y\"", 1, 9, "unexpected '\"' after value");
}

Test(toml, duplicate_keys)
{
	expect_error("name = 1\nname = 2", 2, 1, "duplicate key 'name'");
	expect_error("name = 1\n\"name\" = 2", 2, 1, "duplicate key '\"name\"'");
	expect_error("a.b = 1\na.b = 2", 2, 3, "duplicate key 'a.b'");
	expect_error("[t]\nx = 1\n  x = 'again'", 3, 3, "duplicate key 'x'");
	expect_error("a = 1\na.b = 2", 2, 1, "key 'a' is an integer, not a table");
	expect_error("a.b = 1\na.b.c = 2", 2, 3, "key 'a.b' is an integer, not a table");
	expect_error("a = [1]\na.b = 2", 2, 1, "key 'a' is an array, not a table");
	expect_error("a = {}\na = 2", 2, 1, "duplicate key 'a'");
	/* A table created by a header cannot be assigned to or hold a value of the same name. */
	expect_error("[a.b]\n[a]\nb = 1", 3, 1, "duplicate key 'b'");
}

Test(toml, dotted_keys)
{
	struct toml_value *root = parse_ok(
		"name = \"Orange\"\n"
		"physical.color = \"orange\"\n"
		"physical.shape = \"round\"\n"
		"site.\"google.com\" = true\n"
		"a . b\t.  c = 1\n"
		"a.b.d = 2\n"
		"a.e = 3\n"
		"'x'.\"y\".z = 4\n");
	expect_string(root, "physical.color", "orange");
	expect_string(root, "physical.shape", "round");
	cr_assert_eq(typed(root, "physical", TOML_TABLE)->u.table.count, 2);
	cr_assert_eq(toml_get(toml_get(root, "site"), "google.com")->u.boolean, true);
	cr_assert_eq(int_at(root, "a.b.c"), 1);
	cr_assert_eq(int_at(root, "a.b.d"), 2);
	cr_assert_eq(int_at(root, "a.e"), 3);
	cr_assert_eq(int_at(root, "x.y.z"), 4);
	cr_assert_eq(root->u.table.count, 5);
	/* Dotted-key tables start where their key is written. */
	expect_pos(toml_get(root, "physical"), 2, 1);
	expect_pos(at(root, "a.b"), 5, 5);
	cr_assert_eq(kv_at(at(root, "a"), 0)->line, 5);
	cr_assert_eq(kv_at(at(root, "a"), 0)->col, 5);
	expect_pos(at(root, "a.b.c"), 5, 14);
	toml_free(root);
}

Test(toml, dotted_keys_and_headers)
{
	/* From the TOML spec: dotted keys define tables, which headers may
	 * add sub-tables to but may not define again. */
	struct toml_value *root = parse_ok(
		"[fruit]\n"
		"apple.color = \"red\"\n"
		"apple.taste.sweet = true\n"
		"[fruit.apple.texture]\n"
		"smooth = true\n");
	expect_string(root, "fruit.apple.color", "red");
	cr_assert_eq(bool_at(root, "fruit.apple.taste.sweet"), true);
	cr_assert_eq(bool_at(root, "fruit.apple.texture.smooth"), true);
	toml_free(root);
	expect_error("[fruit]\napple.color = \"red\"\n[fruit.apple]\n", 3, 8,
		     "table 'fruit.apple' already defined by dotted keys");
	expect_error("[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]\n", 3, 14,
		     "table 'fruit.apple.taste' already defined by dotted keys");
	expect_error("a.b = 1\n[a]\n", 2, 2, "table 'a' already defined by dotted keys");
	/* ...and dotted keys may not add to tables that headers made. */
	expect_error("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4, 1, "cannot extend table 'b' with dotted keys");
	expect_error("[a.b.c.d]\n[a]\nb.x = 1\n", 3, 1, "cannot extend table 'b' with dotted keys");
}

/* ---- tables ---- */

Test(toml, tables)
{
	struct toml_value *root = parse_ok(
		"top = 0\n"
		"[table-1]\n"
		"key1 = \"some string\"\n"
		"key2 = 123\n"
		"\n"
		"[table-2]\n"
		"key1 = \"another string\"\n"
		"[ dog . \"tater.man\" ]\n"
		"type.name = \"pug\"\n"
		"[empty]\n");
	cr_assert_eq(int_at(root, "top"), 0);
	expect_string(root, "table-1.key1", "some string");
	cr_assert_eq(int_at(root, "table-1.key2"), 123);
	expect_string(root, "table-2.key1", "another string");
	expect_string(toml_get(toml_get(root, "dog"), "tater.man"), "type.name", "pug");
	cr_assert_eq(typed(root, "empty", TOML_TABLE)->u.table.count, 0);
	cr_assert_eq(root->u.table.count, 5);
	cr_assert_str_eq(kv_at(root, 1)->key, "table-1");
	cr_assert_str_eq(kv_at(root, 4)->key, "empty");
	/* A [header] table starts at its '['; its key at the name. */
	expect_pos(toml_get(root, "table-2"), 6, 1);
	cr_assert_eq(kv_at(root, 2)->line, 6);
	cr_assert_eq(kv_at(root, 2)->col, 2);
	expect_pos(toml_get(toml_get(root, "dog"), "tater.man"), 8, 1);
	cr_assert_eq(kv_at(toml_get(root, "dog"), 0)->col, 9);
	toml_free(root);
}

Test(toml, implicit_parent_tables)
{
	struct toml_value *root = parse_ok(
		"[x.y.z.w]\n"
		"a = 1\n"
		"[x]\n"
		"b = 2\n"
		"[x.y.v]\n"
		"c = 3\n");
	cr_assert_eq(int_at(root, "x.y.z.w.a"), 1);
	cr_assert_eq(int_at(root, "x.b"), 2);
	cr_assert_eq(int_at(root, "x.y.v.c"), 3);
	cr_assert_eq(typed(root, "x.y", TOML_TABLE)->u.table.count, 2);
	/* x was named first on line 1 but defined by its own header on line 3. */
	expect_pos(toml_get(root, "x"), 3, 1);
	expect_pos(at(root, "x.y"), 1, 1);
	toml_free(root);
}

Test(toml, table_redefinition_errors)
{
	expect_error("[telemetry]\na = 1\n[telemetry]\n", 3, 2, "table 'telemetry' defined twice");
	expect_error("[a.b]\n[a]\n[a]\n", 3, 2, "table 'a' defined twice");
	expect_error("[a]\n[a.b]\n[ a . b ]\n", 3, 7, "table 'a.b' defined twice");
	expect_error("[a]\nb = 1\n[a.b]\n", 3, 4, "key 'a.b' is an integer, not a table");
	expect_error("a = 1\n[a]\n", 2, 2, "key 'a' is an integer, not a table");
	expect_error("a = \"s\"\n[a.b]\n", 2, 2, "key 'a' is a string, not a table");
	expect_error("a = [1]\n[a]\n", 2, 2, "key 'a' is an array, not a table");
	expect_error("[[a]]\n[a]\n", 2, 2, "'a' is an array of tables; use [[a]]");
	expect_error("[a]\n[[a]]\n", 2, 3, "key 'a' is a table, not an array of tables");
	expect_error("[a.b]\n[[a]]\n", 2, 3, "key 'a' is a table, not an array of tables");
	expect_error("a = []\n[[a]]\n", 2, 3, "cannot append to static array 'a'");
	expect_error("a = 1\n[[a]]\n", 2, 3, "key 'a' is an integer, not an array of tables");
}

Test(toml, header_syntax_errors)
{
	expect_error("[a", 1, 3, "expected ']' after table name");
	expect_error("[a\n", 1, 3, "expected ']' after table name");
	expect_error("[a b]", 1, 4, "expected ']' after table name");
	expect_error("[]", 1, 2, "expected a key, found ']'");
	expect_error("[[a]", 1, 5, "expected ']]'");
	expect_error("[[a] ]", 1, 5, "expected ']]'");
	expect_error("[a]x", 1, 4, "unexpected 'x' after table header");
	expect_error("[a]]", 1, 4, "unexpected ']' after table header");
	expect_error("[a] = 1", 1, 5, "unexpected '=' after table header");
	expect_error("[a.]", 1, 4, "expected a key, found ']'");
}

/* ---- arrays of tables ---- */

Test(toml, arrays_of_tables)
{
	struct toml_value *root = parse_ok(
		"[[products]]\n"
		"name = \"Hammer\"\n"
		"sku = 738594937\n"
		"\n"
		"[[products]]  # empty table within the array\n"
		"\n"
		"[[products]]\n"
		"name = \"Nail\"\n"
		"color = \"gray\"\n");
	const struct toml_value *products = typed(root, "products", TOML_ARRAY);
	cr_assert_eq(products->u.array.count, 3);
	expect_string(item(products, 0), "name", "Hammer");
	cr_assert_eq(int_at(item(products, 0), "sku"), 738594937);
	cr_assert_eq(item(products, 1)->type, TOML_TABLE);
	cr_assert_eq(item(products, 1)->u.table.count, 0);
	expect_string(item(products, 2), "color", "gray");
	expect_pos(products, 1, 1);
	expect_pos(item(products, 0), 1, 1);
	expect_pos(item(products, 1), 5, 1);
	expect_pos(item(products, 2), 7, 1);
	cr_assert_eq(kv_at(root, 0)->col, 3);
	toml_free(root);
}

Test(toml, hook_subtables_bind_to_last_element)
{
	struct toml_value *root = parse_ok(
		"[[hook]]\n"
		"symbol = \"a\"\n"
		"[hook.metrics]\n"
		"duration = \"a.duration\"\n"
		"[[hook.arg]]\n"
		"index = 1\n"
		"[[hook.arg]]\n"
		"index = 2\n"
		"[hook.arg.extra]\n"
		"note = \"second arg\"\n"
		"[[hook]]\n"
		"symbol = \"b\"\n"
		"[[hook.arg]]\n"
		"index = 3\n"
		"[hook.metrics]\n"
		"duration = \"b.duration\"\n"
		"[[hook]]\n"
		"symbol = \"c\"\n");
	cr_assert_eq(root->u.table.count, 1);
	const struct toml_value *hooks = typed(root, "hook", TOML_ARRAY);
	cr_assert_eq(hooks->u.array.count, 3);

	const struct toml_value *a = item(hooks, 0);
	cr_assert_eq(a->u.table.count, 3);
	expect_string(a, "symbol", "a");
	expect_string(a, "metrics.duration", "a.duration");
	const struct toml_value *a_args = typed(a, "arg", TOML_ARRAY);
	cr_assert_eq(a_args->u.array.count, 2);
	cr_assert_eq(int_at(item(a_args, 0), "index"), 1);
	cr_assert_eq(int_at(item(a_args, 1), "index"), 2);
	cr_assert_null(toml_get(item(a_args, 0), "extra"));
	expect_string(item(a_args, 1), "extra.note", "second arg");
	expect_pos(toml_get(a, "metrics"), 3, 1);
	expect_pos(item(a_args, 1), 7, 1);

	const struct toml_value *b = item(hooks, 1);
	expect_string(b, "symbol", "b");
	expect_string(b, "metrics.duration", "b.duration");
	const struct toml_value *b_args = typed(b, "arg", TOML_ARRAY);
	cr_assert_eq(b_args->u.array.count, 1);
	cr_assert_eq(int_at(item(b_args, 0), "index"), 3);

	const struct toml_value *c = item(hooks, 2);
	cr_assert_eq(c->u.table.count, 1);
	expect_string(c, "symbol", "c");
	toml_free(root);

	/* Per element, [hook.metrics] may appear once. */
	expect_error("[[hook]]\n[hook.metrics]\n[hook.metrics]\n", 3, 7, "table 'hook.metrics' defined twice");
	expect_error("[[hook]]\nmetrics = 1\n[hook.metrics]\n", 3, 7, "key 'hook.metrics' is an integer");
}

Test(toml, nested_arrays_of_tables)
{
	struct toml_value *root = parse_ok(
		"[[fruits]]\n"
		"name = \"apple\"\n"
		"[fruits.physical]\n"
		"color = \"red\"\n"
		"[[fruits.varieties]]\n"
		"name = \"red delicious\"\n"
		"[[fruits.varieties]]\n"
		"name = \"granny smith\"\n"
		"[[fruits]]\n"
		"name = \"banana\"\n"
		"[[fruits.varieties]]\n"
		"name = \"plantain\"\n"
		"[[fruits.varieties.seasons]]\n"
		"month = 7\n"
		"[[fruits.varieties.seasons]]\n"
		"month = 8\n");
	const struct toml_value *fruits = typed(root, "fruits", TOML_ARRAY);
	cr_assert_eq(fruits->u.array.count, 2);
	expect_string(item(fruits, 0), "physical.color", "red");
	const struct toml_value *v0 = typed(item(fruits, 0), "varieties", TOML_ARRAY);
	cr_assert_eq(v0->u.array.count, 2);
	expect_string(item(v0, 1), "name", "granny smith");
	const struct toml_value *v1 = typed(item(fruits, 1), "varieties", TOML_ARRAY);
	cr_assert_eq(v1->u.array.count, 1);
	expect_string(item(v1, 0), "name", "plantain");
	const struct toml_value *seasons = typed(item(v1, 0), "seasons", TOML_ARRAY);
	cr_assert_eq(seasons->u.array.count, 2);
	cr_assert_eq(int_at(item(seasons, 1), "month"), 8);
	cr_assert_null(toml_get(item(fruits, 1), "physical"));
	toml_free(root);
}

Test(toml, arrays_of_tables_with_dotted_keys)
{
	struct toml_value *root = parse_ok(
		"[[a]]\nx.y = 1\n[a.x.z]\nw = 2\n[[a]]\nx.y = 3\n");
	const struct toml_value *a = typed(root, "a", TOML_ARRAY);
	cr_assert_eq(a->u.array.count, 2);
	cr_assert_eq(int_at(item(a, 0), "x.y"), 1);
	cr_assert_eq(int_at(item(a, 0), "x.z.w"), 2);
	cr_assert_eq(int_at(item(a, 1), "x.y"), 3);
	toml_free(root);
}

/* ---- comments, line endings, odd bytes ---- */

Test(toml, comments_everywhere)
{
	struct toml_value *root = parse_ok(
		"# leading comment\n"
		"a = 1 # after a value\n"
		"b = \"# not a comment\" # but this is\n"
		"[t] # after a header\n"
		"  # indented comment\n"
		"c = [ # after the bracket\n"
		"  1, # after an element\n"
		"  # between elements\n"
		"  2 # before the comma\n"
		"  , 3\n"
		"] # after the array\n"
		"[[arr]]# no space\n"
		"d = 'x'#tight\n"
		"#\n"
		"# utf-8 in comments: \xc3\xa9\xe2\x82\xac and a tab\there\n"
		"# last line without newline");
	cr_assert_eq(int_at(root, "a"), 1);
	expect_string(root, "b", "# not a comment");
	const struct toml_value *c = typed(root, "t.c", TOML_ARRAY);
	cr_assert_eq(c->u.array.count, 3);
	cr_assert_eq(item(c, 2)->u.integer, 3);
	expect_string(item(typed(root, "arr", TOML_ARRAY), 0), "d", "x");
	toml_free(root);
	expect_error("a = 1 # bell \x07 here\n", 1, 14, "control character 0x07 in comment");
	expect_error("# del \x7f\n", 1, 7, "control character 0x7f in comment");
}

Test(toml, crlf_line_endings)
{
	struct toml_value *root = parse_ok(
		"# comment\r\n"
		"[t]\r\n"
		"a = 1\r\n"
		"b = [\r\n  1,\r\n  2,\r\n]\r\n"
		"c = \"\"\"\r\nline one\r\nline two \\\r\n   three\"\"\"\r\n"
		"d = '''\r\nraw\r\n'''\r\n"
		"\r\n"
		"e = 'last'\r\n");
	cr_assert_eq(int_at(root, "t.a"), 1);
	cr_assert_eq(typed(root, "t.b", TOML_ARRAY)->u.array.count, 2);
	expect_string(root, "t.c", "line one\nline two three");
	expect_string(root, "t.d", "raw\n");
	expect_string(root, "t.e", "last");
	expect_pos(at(root, "t.e"), 16, 5);
	toml_free(root);
	expect_error("a = 1\rb = 2\n", 1, 6, "unexpected carriage return after value");
	expect_error("a = 1\r\nb = \"x\r\n\"", 2, 5, "unterminated string");
	expect_error("# comment\r\r\n", 1, 10, "control character 0x0d in comment");
}

Test(toml, nul_bytes)
{
	expect_error_len("a = 1\0\n", 7, 1, 6, "unexpected NUL byte after value");
	expect_error_len("a = 1\n\0 = 2\n", 12, 2, 1, "expected a key, found NUL byte");
	expect_error_len("a = [1,\0]\n", 10, 1, 8, "expected a value, found NUL byte");
	expect_error_len("# x\0y\n", 6, 1, 4, "control character 0x00 in comment");
	expect_error_len("k\0 = 1", 6, 1, 2, "expected '=' after key");
	/* The parse stops at len: bytes after it never matter. */
	struct toml_error err;
	struct toml_value *root = toml_parse("a = 1\0garbage", 5, &err);
	cr_assert_not_null(root);
	cr_assert_eq(int_at(root, "a"), 1);
	toml_free(root);
}

Test(toml, error_positions_count_characters)
{
	/* A tab is one column; a multi-byte UTF-8 character is one column. */
	expect_error("\ta\t= \t\"x\\q\"", 1, 9, "invalid escape '\\q'");
	expect_error("s = \"\xc3\xa9\xe2\x82\xac\\q\"", 1, 8, "invalid escape '\\q'");
	expect_error("a = 1\n\n\n    b = 012", 4, 9, "leading zeros");
	struct toml_value *root = parse_ok("\t\tk = 'v'\n\"\xc3\xa9\" = \"\xe2\x82\xac\" # \xc3\xa9\n x = 1");
	cr_assert_eq(kv_at(root, 0)->col, 3);
	expect_pos(toml_get(root, "k"), 1, 7);
	expect_pos(toml_get(root, "\xc3\xa9"), 2, 7);
	cr_assert_eq(kv_at(root, 2)->col, 2);
	toml_free(root);
}

/* ---- realistic config ---- */

Test(toml, realistic_config)
{
	struct toml_value *root = parse_ok(realistic);
	cr_assert_eq(root->u.table.count, 2);
	cr_assert_str_eq(kv_at(root, 0)->key, "telemetry");
	cr_assert_str_eq(kv_at(root, 1)->key, "hook");

	const struct toml_value *telemetry = typed(root, "telemetry", TOML_TABLE);
	expect_pos(telemetry, 2, 1);
	cr_assert_eq(telemetry->u.table.count, 4);
	cr_assert_eq(bool_at(root, "telemetry.enabled"), true);
	expect_string(root, "telemetry.otlp_endpoint", "http://localhost:4318");
	const struct toml_value *processes = typed(root, "telemetry.processes", TOML_ARRAY);
	cr_assert_eq(processes->u.array.count, 2);
	cr_assert_str_eq(item(processes, 0)->u.str.ptr, "spacetimedb-standalone");
	cr_assert_str_eq(item(processes, 1)->u.str.ptr, "redis-*");
	expect_pos(processes, 5, 13);
	expect_pos(item(processes, 1), 5, 40);
	cr_assert_eq(int_at(root, "telemetry.sampling.traces_per_second"), 100);
	expect_pos(at(root, "telemetry.sampling"), 6, 1);
	const struct toml_kv *enabled = kv_at(telemetry, 0);
	cr_assert_str_eq(enabled->key, "enabled");
	cr_assert_eq(enabled->line, 3);
	cr_assert_eq(enabled->col, 1);
	expect_pos(enabled->value, 3, 11);

	const struct toml_value *hooks = typed(root, "hook", TOML_ARRAY);
	cr_assert_eq(hooks->u.array.count, 1);
	const struct toml_value *hook = item(hooks, 0);
	expect_pos(hook, 8, 1);
	cr_assert_eq(hook->u.table.count, 6);
	expect_string(hook, "symbol", "spacetimedb::host::instance_env::InstanceEnv::insert");
	expect_string(hook, "span", "insert");
	expect_string(hook, "kind", "internal");
	const struct toml_value *attributes = typed(hook, "attributes", TOML_TABLE);
	cr_assert_eq(attributes->u.table.count, 2);
	cr_assert_str_eq(attributes->u.table.kv[0].key, "db.system.name");
	cr_assert_str_eq(attributes->u.table.kv[0].value->u.str.ptr, "spacetimedb");
	cr_assert_str_eq(attributes->u.table.kv[1].key, "db.operation.name");
	cr_assert_str_eq(attributes->u.table.kv[1].value->u.str.ptr, "insert");
	cr_assert_eq(attributes->u.table.kv[1].line, 12);
	cr_assert_eq(attributes->u.table.kv[1].col, 50);
	expect_string(hook, "metrics.duration", "spacetimedb.database.insert_duration");
	const struct toml_value *args = typed(hook, "arg", TOML_ARRAY);
	cr_assert_eq(args->u.array.count, 1);
	cr_assert_eq(int_at(item(args, 0), "index"), 2);
	expect_string(item(args, 0), "type", "u32");
	expect_pos(item(args, 0), 15, 1);
	toml_free(root);
}

/* ---- nesting limits ---- */

static char *repeat_around(const char *prefix, char open, char close, int depth, const char *middle)
{
	size_t n = strlen(prefix) + strlen(middle) + 2 * (size_t)depth + 1;
	char *text = malloc(n);
	cr_assert_not_null(text);
	size_t k = 0;
	memcpy(text + k, prefix, strlen(prefix));
	k += strlen(prefix);
	for (int i = 0; i < depth; i++)
		text[k++] = open;
	memcpy(text + k, middle, strlen(middle));
	k += strlen(middle);
	for (int i = 0; i < depth; i++)
		text[k++] = close;
	text[k] = '\0';
	return text;
}

Test(toml, nesting_limit_arrays)
{
	char *ok = repeat_around("a = ", '[', ']', 64, "1");
	struct toml_value *root = parse_ok(ok);
	const struct toml_value *v = toml_get(root, "a");
	for (int i = 0; i < 63; i++)
		v = item(v, 0);
	cr_assert_eq(item(v, 0)->u.integer, 1);
	toml_free(root);
	free(ok);

	char *deep = repeat_around("a = ", '[', ']', 65, "1");
	expect_error_len(deep, strlen(deep), 1, 5 + 64, "nesting deeper than 64 levels");
	free(deep);

	/* Far deeper than any stack would take if recursion were unbounded. */
	char *huge = repeat_around("a = ", '[', ']', 200000, "");
	expect_error_len(huge, strlen(huge), 1, 5 + 64, "nesting deeper than 64 levels");
	free(huge);
}

Test(toml, nesting_limit_inline_tables)
{
	char text[1024];
	size_t n = (size_t)snprintf(text, sizeof text, "a = ");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "{ k = ");
	n += (size_t)snprintf(text + n, sizeof text - n, "1");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, " }");
	expect_error_len(text, n, 1, 5 + 64 * 6, "nesting deeper than 64 levels");
}

Test(toml, nesting_limit_keys)
{
	/* 64 dotted components is the deepest table path; the 65th is refused. */
	char text[1024];
	size_t n = 0;
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "k.");
	n += (size_t)snprintf(text + n, sizeof text - n, "v = 1");
	struct toml_value *root = parse_ok(text);
	toml_free(root);

	n = 0;
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "k.");
	n += (size_t)snprintf(text + n, sizeof text - n, "v = 1");
	expect_error_len(text, n, 1, 1 + 64 * 2, "nesting deeper than 64 levels");

	n = (size_t)snprintf(text, sizeof text, "[");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%sk", i ? "." : "");
	n += (size_t)snprintf(text + n, sizeof text - n, "]");
	expect_error_len(text, n, 1, 2 + 64 * 2, "nesting deeper than 64 levels");

	/* The limit counts containers from the root: a header plus values. */
	n = (size_t)snprintf(text, sizeof text, "[t]\na = ");
	for (int i = 0; i < 64; i++)
		text[n++] = '[';
	for (int i = 0; i < 64; i++)
		text[n++] = ']';
	expect_error_len(text, n, 2, 5 + 63, "nesting deeper than 64 levels");
}

/* ---- robustness ---- */

/* Checks what a successful parse must always satisfy. */
static void check_tree(const struct toml_value *v, int depth)
{
	cr_assert_leq(depth, 66);
	cr_assert_geq(v->line, 1);
	cr_assert_geq(v->col, 1);
	switch (v->type) {
	case TOML_STRING:
		cr_assert_not_null(v->u.str.ptr);
		cr_assert_eq(v->u.str.ptr[v->u.str.len], '\0');
		break;
	case TOML_ARRAY:
		for (size_t i = 0; i < v->u.array.count; i++)
			check_tree(v->u.array.items[i], depth + 1);
		break;
	case TOML_TABLE:
		for (size_t i = 0; i < v->u.table.count; i++) {
			cr_assert_not_null(v->u.table.kv[i].key);
			cr_assert_geq(v->u.table.kv[i].line, 1);
			cr_assert_geq(v->u.table.kv[i].col, 1);
			cr_assert_eq(toml_get(v, v->u.table.kv[i].key), v->u.table.kv[i].value,
				     "keys of a table are unique");
			check_tree(v->u.table.kv[i].value, depth + 1);
		}
		break;
	case TOML_INTEGER:
	case TOML_FLOAT:
	case TOML_BOOLEAN:
		break;
	default:
		cr_assert_fail("bad type %d", (int)v->type);
	}
}

/* Parses and, on success, checks and frees; on failure checks the error. */
static bool parse_any(const char *text, size_t len)
{
	struct toml_error err;
	struct toml_value *root = parse_bytes(text, len, &err);
	if (root == NULL) {
		cr_assert_geq(err.line, 1);
		cr_assert_geq(err.col, 1);
		cr_assert_neq(err.msg[0], '\0');
		cr_assert_lt(strlen(err.msg), sizeof err.msg);
		return false;
	}
	check_tree(root, 0);
	toml_free(root);
	return true;
}

Test(toml, truncated_at_every_offset)
{
	size_t len = sizeof realistic - 1;
	size_t parsed = 0;
	for (size_t cut = 0; cut <= len; cut++)
		parsed += parse_any(realistic, cut);
	/* Cuts at line ends (and a few elsewhere) leave a valid config. */
	cr_assert_gt(parsed, 10);
	expect_no_leaks();
	cr_assert(parse_any(realistic, len));
	/* A cut in the middle of a string reports where the string starts. */
	size_t in_string = (size_t)(strstr(realistic, "http://") - realistic);
	expect_error_len(realistic, in_string + 3, 4, 17, "unterminated string");
}

static uint64_t rng_next(uint64_t *state)
{
	/* xorshift64*: fixed seed, so failures reproduce. */
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

Test(toml, random_mutations)
{
	static const char interesting[] = "[]{}\"'=.,#\n\r\t\\ 0_+-eEx:uU\x00\x7f\xc3\xff";
	size_t base_len = sizeof realistic - 1;
	char *buf = malloc(base_len + 64);
	cr_assert_not_null(buf);
	uint64_t state = 0x5eed5eed5eed5eedull;
	size_t parsed = 0;
	for (int round = 0; round < 4000; round++) {
		memcpy(buf, realistic, base_len);
		size_t len = base_len;
		int mutations = 1 + (int)(rng_next(&state) % 4);
		for (int m = 0; m < mutations; m++) {
			uint64_t r = rng_next(&state);
			size_t pos = len ? (size_t)(r >> 8) % len : 0;
			char byte = (r & 1) ? (char)(r >> 40) : interesting[(r >> 40) % (sizeof interesting - 1)];
			switch (r % 3) {
			case 0: /* replace */
				if (len > 0)
					buf[pos] = byte;
				break;
			case 1: /* insert */
				if (len < base_len + 60) {
					memmove(buf + pos + 1, buf + pos, len - pos);
					buf[pos] = byte;
					len++;
				}
				break;
			default: /* delete */
				if (len > 0) {
					memmove(buf + pos, buf + pos + 1, len - pos - 1);
					len--;
				}
				break;
			}
		}
		parsed += parse_any(buf, len);
	}
	free(buf);
	expect_no_leaks();
	/* Some mutations land harmlessly (in strings or comments). */
	cr_assert_gt(parsed, 50);
}

Test(toml, random_garbage)
{
	uint64_t state = 42;
	char buf[256];
	for (int round = 0; round < 3000; round++) {
		size_t len = (size_t)(rng_next(&state) % sizeof buf);
		for (size_t i = 0; i < len; i++) {
			uint64_t r = rng_next(&state);
			/* Mostly TOML punctuation and key bytes, so the parser gets past line 1. */
			static const char alphabet[] = "ab1 =.[]{}\"',#\n\t\\x";
			buf[i] = (r & 3) ? alphabet[(r >> 8) % (sizeof alphabet - 1)] : (char)(r >> 16);
		}
		parse_any(buf, len);
	}
	expect_no_leaks();
}
