/* SPDX-License-Identifier: MIT */
/*
 * toml.h: a parser for the subset of TOML 1.0 that stdbtel's configs use.
 *
 * Owns: turning config text into a tree of values. Pure: no I/O, no
 * globals; the caller reads the file and reports errors.
 *
 * Supported: comments; bare, quoted and dotted keys; [tables];
 * [[arrays of tables]]; inline tables { k = v }; basic strings with
 * escapes (\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX), literal strings,
 * multi-line basic and literal strings; decimal, hex (0x), octal (0o) and
 * binary (0b) integers with underscores; floats (incl. inf, nan, exponents);
 * booleans; arrays (mixed types, trailing comma, newlines and comments
 * inside). Not supported (rejected with an error): dates and times.
 * Redefining a key or a table is an error, as TOML requires.
 *
 * Every value and key carries the 1-based line and column where it starts,
 * so that the config layer can say "file:line:col: wrong type" later.
 * Columns count characters (a UTF-8 sequence or a tab is one). In a dotted
 * key a.b.c each part's kv carries the position of that part. Keys cannot
 * hold NUL (rejected), so they are plain C strings.
 */
#ifndef STDBTEL_TOML_H
#define STDBTEL_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOLEAN,
	TOML_ARRAY,
	TOML_TABLE,
};

struct toml_value;

/* One key = value pair of a table, in the order they appeared. */
struct toml_kv {
	const char *key;          /* unescaped key, NUL-terminated */
	int line, col;            /* where the key was written (1-based) */
	struct toml_value *value;
};

struct toml_value {
	enum toml_type type;
	int line, col; /* where the value starts; for [table] headers, the header */
	union {
		struct {
			const char *ptr; /* NUL-terminated; may hold embedded NULs */
			size_t len;
		} str;
		int64_t integer;
		double flt;
		bool boolean;
		struct {
			struct toml_value **items;
			size_t count;
		} array; /* an [[array of tables]] is an array of TOML_TABLE values */
		struct {
			struct toml_kv *kv;
			size_t count;
		} table;
	} u;
};

/* A parse error: 1-based position and a message without the position. */
struct toml_error {
	int line, col;
	char msg[160];
};

/*
 * Parses len bytes of text. Returns the root table, or NULL with *err
 * filled in (always, on failure). The result owns all its memory and is
 * released with toml_free(). Safe on any input: never reads past len,
 * never recurses without bound (nesting deeper than 64 is an error).
 */
struct toml_value *toml_parse(const char *text, size_t len, struct toml_error *err);

/* Releases a tree: root must be a pointer returned by toml_parse(), or NULL. */
void toml_free(struct toml_value *root);

/* Returns the value for key in table, or NULL (also when table is not a table). */
const struct toml_value *toml_get(const struct toml_value *table, const char *key);

/* "string", "integer", ...: for error messages. */
const char *toml_type_name(enum toml_type type);

#endif
