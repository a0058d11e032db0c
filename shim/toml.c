/* SPDX-License-Identifier: MIT */
/*
 * toml.c: the TOML parser declared in toml.h.
 *
 * A recursive-descent parser over a byte cursor that tracks the 1-based
 * line and column as it advances (a tab is one column; a UTF-8 sequence is
 * one column, since continuation bytes do not advance it). The tree is
 * built while parsing: every key is resolved against the tables as soon as
 * it has been read, so the first error in text order is the one reported.
 * Recursion happens only for arrays and inline tables and is bounded by
 * MAX_DEPTH, checked before a container is created.
 *
 * Memory: every node, key, string and array of one parse comes from an
 * arena of malloc'd blocks. The document header (first allocation) keeps
 * the block list, so toml_free() needs only the root; a failed parse frees
 * the blocks before returning. Strings and keys are decoded into one
 * malloc'd scratch buffer that is freed when toml_parse() returns.
 *
 * Each toml_value is the first member of a struct node that records how a
 * table or array came to be (its origin); TOML's rules on redefinition and
 * on extending tables depend on that and nothing else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif
#include "toml.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Containers (tables, arrays) may sit at most this many levels below the root. */
#define MAX_DEPTH 64
#define ARENA_BLOCK_SIZE 16384
/* Longest key path quoted in an error message before it is cut with "...". */
#define KEY_DISPLAY_MAX 96

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[]; /* aligned for any node or array */
};

/* How a table or array came to be; decides what later text may do with it. */
enum origin {
	ORIGIN_VALUE,           /* scalar, or [static array] written as a value */
	ORIGIN_INLINE,          /* { inline table }: closed once written */
	ORIGIN_IMPLICIT,        /* a parent named in a [x.y] header; [x] may still define it */
	ORIGIN_HEADER,          /* defined by [header], an element of [[header]], or the root */
	ORIGIN_DOTTED,          /* created by a dotted key a.b = v; only dotted keys extend it */
	ORIGIN_ARRAY_OF_TABLES, /* array created by [[header]]; only [[header]] appends */
};

struct node {
	struct toml_value value; /* first, so a toml_value * is also a struct node * */
	enum origin origin;
	int depth;               /* root is 0; a container's children are depth + 1 */
	size_t capacity;         /* allocated kv or items slots */
};

struct document {
	struct node root; /* first, so the root toml_value * is the document */
	struct arena_block *blocks;
};

/* A place in the text. */
struct mark {
	size_t pos;
	int line, col;
};

/* One decoded component of a dotted key; name lives in the scratch buffer. */
struct key_part {
	const char *name; /* NUL-terminated, no embedded NUL; valid until the next decode */
	size_t len;
	int line, col;
	size_t end;       /* offset just past the component in the text */
};

struct parser {
	const char *src;
	size_t len, pos;
	int line, col;
	struct arena_block *arena;
	char *scratch; /* decoded string or key being built */
	size_t scratch_len, scratch_cap;
	locale_t c_locale; /* created on the first float, freed by toml_parse() */
	struct toml_error *err;
	bool failed;
	struct node *root;
	struct node *current; /* table that key = value lines go into */
};

/* ---- arena ---- */

/* Returns size bytes aligned for any type, or NULL when out of memory. */
static void *arena_alloc(struct arena_block **head, size_t size)
{
	const size_t align = alignof(max_align_t);
	if (size > SIZE_MAX / 2)
		return NULL;
	size = size ? (size + align - 1) & ~(align - 1) : align;
	struct arena_block *block = *head;
	if (block != NULL && block->size - block->used >= size) {
		void *mem = (char *)block->data + block->used;
		block->used += size;
		return mem;
	}
	/* Large requests get a block of their own behind the head, so the
	 * head's free space is not abandoned. */
	bool dedicated = size > ARENA_BLOCK_SIZE / 4;
	size_t capacity = dedicated ? size : ARENA_BLOCK_SIZE;
	struct arena_block *fresh = malloc(sizeof *fresh + capacity);
	if (fresh == NULL)
		return NULL;
	fresh->size = capacity;
	fresh->used = size;
	if (dedicated && block != NULL) {
		fresh->next = block->next;
		block->next = fresh;
	} else {
		fresh->next = block;
		*head = fresh;
	}
	return fresh->data;
}

static void arena_release(struct arena_block *block)
{
	while (block != NULL) {
		struct arena_block *next = block->next;
		free(block);
		block = next;
	}
}

/* ---- errors ---- */

/* Records the first error only; always returns false so callers can
 * `return fail_at(...)`. */
__attribute__((format(printf, 4, 5)))
static bool fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	if (p->failed)
		return false;
	p->failed = true;
	p->err->line = line;
	p->err->col = col;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
	va_end(ap);
	return false;
}

#define fail_here(p, ...) fail_at((p), (p)->line, (p)->col, __VA_ARGS__)
#define fail_mark(p, m, ...) fail_at((p), (m).line, (m).col, __VA_ARGS__)

static bool fail_oom(struct parser *p)
{
	return fail_here(p, "out of memory");
}

/* A byte (or -1 for end of input) as an error message shows it. */
static const char *describe(int c, char *buf, size_t size)
{
	switch (c) {
	case -1: return "end of input";
	case 0: return "NUL byte";
	case '\n': return "newline";
	case '\r': return "carriage return";
	case '\t': return "tab";
	case ' ': return "space";
	}
	if (c > ' ' && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", (unsigned)c);
	return buf;
}

static const char *with_article(enum toml_type type)
{
	switch (type) {
	case TOML_STRING: return "a string";
	case TOML_INTEGER: return "an integer";
	case TOML_FLOAT: return "a float";
	case TOML_BOOLEAN: return "a boolean";
	case TOML_ARRAY: return "an array";
	case TOML_TABLE: return "a table";
	}
	return "a value";
}

/*
 * The key text in [start, end) as written, minus whitespace outside quotes:
 * `a . "b c"` shows as a."b c". Cut with "..." when longer than the buffer.
 */
static const char *key_display(const struct parser *p, size_t start, size_t end, char *buf, size_t size)
{
	size_t n = 0;
	char quote = 0;
	bool cut = false;
	for (size_t i = start; i < end && i < p->len; i++) {
		char c = p->src[i];
		bool escaped = false;
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			else if (c == '\\' && quote == '"')
				escaped = true;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == ' ' || c == '\t') {
			continue;
		}
		if (n + (escaped ? 2 : 1) > size - 4) {
			cut = true;
			break;
		}
		buf[n++] = c;
		if (escaped && i + 1 < end)
			buf[n++] = p->src[++i];
	}
	if (cut) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- cursor ---- */

/* The byte ahead bytes past the cursor, or -1 past the end of input. */
static int peek_at(const struct parser *p, size_t ahead)
{
	if (ahead >= p->len - p->pos)
		return -1;
	return (unsigned char)p->src[p->pos + ahead];
}

static int peek(const struct parser *p)
{
	return peek_at(p, 0);
}

/* Moves past one byte, keeping line and column (which saturate at INT_MAX). */
static void advance(struct parser *p)
{
	if (p->pos >= p->len)
		return;
	unsigned char c = (unsigned char)p->src[p->pos++];
	if (c == '\n') {
		if (p->line < INT_MAX)
			p->line++;
		p->col = 1;
	} else if ((c & 0xc0) != 0x80 && p->col < INT_MAX) {
		p->col++;
	}
}

static void advance_by(struct parser *p, size_t n)
{
	while (n-- > 0)
		advance(p);
}

static struct mark mark(const struct parser *p)
{
	return (struct mark){ p->pos, p->line, p->col };
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int digit_value(int c, int base)
{
	int v;
	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return v < base ? v : -1;
}

static bool at_newline(const struct parser *p)
{
	int c = peek(p);
	return c == '\n' || (c == '\r' && peek_at(p, 1) == '\n');
}

/* Call only when at_newline(). */
static void skip_newline(struct parser *p)
{
	if (peek(p) == '\r')
		advance(p);
	advance(p);
}

static void skip_ws(struct parser *p)
{
	for (int c = peek(p); c == ' ' || c == '\t'; c = peek(p))
		advance(p);
}

/* At '#': moves to the line end (not past it). Control characters other
 * than tab are not allowed in comments. */
static bool skip_comment(struct parser *p)
{
	advance(p);
	for (;;) {
		int c = peek(p);
		if (c < 0 || at_newline(p))
			return true;
		if (is_control(c))
			return fail_here(p, "control character 0x%02x in comment", (unsigned)c);
		advance(p);
	}
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static bool skip_blank(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (peek(p) == '#') {
			if (!skip_comment(p))
				return false;
		} else if (at_newline(p)) {
			skip_newline(p);
		} else {
			return true;
		}
	}
}

/* After a key/value pair or a header: optional comment, then a newline or the end. */
static bool expect_line_end(struct parser *p, const char *after)
{
	skip_ws(p);
	if (peek(p) == '#' && !skip_comment(p))
		return false;
	if (peek(p) < 0)
		return true;
	if (at_newline(p)) {
		skip_newline(p);
		return true;
	}
	char buf[16];
	return fail_here(p, "unexpected %s after %s", describe(peek(p), buf, sizeof buf), after);
}

/* ---- scratch buffer ---- */

static bool scratch_push(struct parser *p, const char *bytes, size_t n)
{
	if (n > p->scratch_cap - p->scratch_len) {
		size_t need = p->scratch_len + n;
		size_t capacity = p->scratch_cap ? p->scratch_cap : 64;
		while (capacity < need) {
			if (capacity > SIZE_MAX / 2)
				return fail_oom(p);
			capacity *= 2;
		}
		char *grown = realloc(p->scratch, capacity);
		if (grown == NULL)
			return fail_oom(p);
		p->scratch = grown;
		p->scratch_cap = capacity;
	}
	memcpy(p->scratch + p->scratch_len, bytes, n);
	p->scratch_len += n;
	return true;
}

static bool scratch_byte(struct parser *p, char c)
{
	return scratch_push(p, &c, 1);
}

/* NUL-terminates the scratch contents without counting the NUL. */
static bool scratch_terminate(struct parser *p)
{
	if (!scratch_byte(p, '\0'))
		return false;
	p->scratch_len--;
	return true;
}

/* An arena copy of the scratch contents, NUL-terminated. */
static char *scratch_copy(struct parser *p)
{
	char *copy = arena_alloc(&p->arena, p->scratch_len + 1);
	if (copy == NULL) {
		fail_oom(p);
		return NULL;
	}
	if (p->scratch_len > 0)
		memcpy(copy, p->scratch, p->scratch_len);
	copy[p->scratch_len] = '\0';
	return copy;
}

/* ---- nodes ---- */

static struct node *node_of(struct toml_value *value)
{
	return (struct node *)value;
}

static struct node *new_node(struct parser *p, enum toml_type type, enum origin origin, int line, int col)
{
	struct node *n = arena_alloc(&p->arena, sizeof *n);
	if (n == NULL) {
		fail_oom(p);
		return NULL;
	}
	memset(n, 0, sizeof *n);
	n->value.type = type;
	n->value.line = line;
	n->value.col = col;
	n->origin = origin;
	return n;
}

/* A table or array at depth; more than MAX_DEPTH levels is an error at (line, col). */
static struct node *new_container(struct parser *p, enum toml_type type, enum origin origin, int depth,
				  int line, int col)
{
	if (depth > MAX_DEPTH) {
		fail_at(p, line, col, "nesting deeper than %d levels", MAX_DEPTH);
		return NULL;
	}
	struct node *n = new_node(p, type, origin, line, col);
	if (n != NULL)
		n->depth = depth;
	return n;
}

/* Makes room for one more slot of elem_size in *slots (count used, n->capacity allocated). */
static bool grow_slots(struct parser *p, struct node *n, void **slots, size_t count, size_t elem_size)
{
	if (count < n->capacity)
		return true;
	size_t capacity = n->capacity ? n->capacity * 2 : 4;
	if (capacity > SIZE_MAX / elem_size)
		return fail_oom(p);
	void *grown = arena_alloc(&p->arena, capacity * elem_size);
	if (grown == NULL)
		return fail_oom(p);
	if (count > 0)
		memcpy(grown, *slots, count * elem_size);
	*slots = grown;
	n->capacity = capacity;
	return true;
}

static bool append_kv(struct parser *p, struct node *table, const char *key, int line, int col,
		      struct toml_value *value)
{
	void *slots = table->value.u.table.kv;
	if (!grow_slots(p, table, &slots, table->value.u.table.count, sizeof(struct toml_kv)))
		return false;
	table->value.u.table.kv = slots;
	table->value.u.table.kv[table->value.u.table.count++] = (struct toml_kv){ key, line, col, value };
	return true;
}

static bool append_item(struct parser *p, struct node *array, struct toml_value *item)
{
	void *slots = array->value.u.array.items;
	if (!grow_slots(p, array, &slots, array->value.u.array.count, sizeof(struct toml_value *)))
		return false;
	array->value.u.array.items = slots;
	array->value.u.array.items[array->value.u.array.count++] = item;
	return true;
}

static struct toml_kv *find_kv(struct node *table, const char *key)
{
	for (size_t i = 0; i < table->value.u.table.count; i++) {
		if (strcmp(table->value.u.table.kv[i].key, key) == 0)
			return &table->value.u.table.kv[i];
	}
	return NULL;
}

/* Adds key (from the scratch buffer) to table with a fresh container as its value. */
static struct node *add_container(struct parser *p, struct node *table, const struct key_part *key,
				  enum toml_type type, enum origin origin, int line, int col)
{
	struct node *n = new_container(p, type, origin, table->depth + 1, key->line, key->col);
	if (n == NULL)
		return NULL;
	n->value.line = line;
	n->value.col = col;
	char *name = scratch_copy(p);
	if (name == NULL || !append_kv(p, table, name, key->line, key->col, &n->value))
		return NULL;
	return n;
}

/* ---- strings ---- */

/* Appends code point cp (a Unicode scalar value) as UTF-8. */
static bool push_utf8(struct parser *p, uint32_t cp)
{
	char out[4];
	size_t n;
	if (cp < 0x80) {
		out[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return scratch_push(p, out, n);
}

/* At a backslash inside a basic string opened at open. Errors point at the backslash. */
static bool parse_escape(struct parser *p, bool multiline, struct mark open)
{
	struct mark at = mark(p);
	advance(p);
	int c = peek(p);
	char simple;
	switch (c) {
	case -1: return fail_mark(p, open, "unterminated string");
	case 'b': simple = '\b'; break;
	case 't': simple = '\t'; break;
	case 'n': simple = '\n'; break;
	case 'f': simple = '\f'; break;
	case 'r': simple = '\r'; break;
	case '"': simple = '"'; break;
	case '\\': simple = '\\'; break;
	case 'u':
	case 'U': {
		int digits = c == 'u' ? 4 : 8;
		advance(p);
		uint32_t cp = 0;
		for (int i = 0; i < digits; i++) {
			int v = digit_value(peek(p), 16);
			if (v < 0)
				return fail_mark(p, at, "\\%c escape needs %d hex digits", c, digits);
			cp = cp * 16 + (uint32_t)v;
			advance(p);
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			return fail_mark(p, at, "surrogate U+%04X in escape", (unsigned)cp);
		if (cp > 0x10ffff)
			return fail_mark(p, at, "escape U+%X is beyond U+10FFFF", (unsigned)cp);
		return push_utf8(p, cp);
	}
	default:
		/* Line-ending backslash: "\", optional blanks, newline; the newline
		 * and all whitespace and newlines after it are dropped. */
		if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			size_t i = 0;
			while (peek_at(p, i) == ' ' || peek_at(p, i) == '\t')
				i++;
			int end = peek_at(p, i);
			if (end == '\n' || (end == '\r' && peek_at(p, i + 1) == '\n')) {
				for (;;) {
					int w = peek(p);
					if (w == ' ' || w == '\t')
						advance(p);
					else if (at_newline(p))
						skip_newline(p);
					else
						return true;
				}
			}
		}
		if (c > ' ' && c < 0x7f)
			return fail_mark(p, at, "invalid escape '\\%c'", c);
		char buf[16];
		return fail_mark(p, at, "invalid escape: backslash followed by %s", describe(c, buf, sizeof buf));
	}
	advance(p);
	return scratch_byte(p, simple);
}

/*
 * At the opening quote of a basic ('"') or literal ('\'') string, single
 * or multi-line; decodes the contents into the scratch buffer (NUL-terminated)
 * and stops past the closing quote. Multi-line strings drop a newline right
 * after the opening delimiter and turn CRLF into LF.
 */
static bool parse_string(struct parser *p, char quote, bool multiline)
{
	struct mark open = mark(p);
	bool escapes = quote == '"';
	advance_by(p, multiline ? 3 : 1);
	p->scratch_len = 0;
	if (multiline && at_newline(p))
		skip_newline(p);
	for (;;) {
		int c = peek(p);
		if (c < 0)
			return fail_mark(p, open, "unterminated string");
		if (c == quote) {
			if (!multiline) {
				advance(p);
				return scratch_terminate(p);
			}
			/* Up to two quotes may directly precede the closing three. */
			size_t run = 0;
			while (run < 5 && peek_at(p, run) == quote)
				run++;
			const char *quotes = quote == '"' ? "\"\"" : "''";
			if (run < 3) {
				advance_by(p, run);
				if (!scratch_push(p, quotes, run))
					return false;
				continue;
			}
			if (!scratch_push(p, quotes, run - 3))
				return false;
			advance_by(p, run);
			return scratch_terminate(p);
		}
		if (c == '\\' && escapes) {
			if (!parse_escape(p, multiline, open))
				return false;
			continue;
		}
		if (at_newline(p)) {
			if (!multiline)
				return fail_mark(p, open, "unterminated string");
			skip_newline(p);
			if (!scratch_byte(p, '\n'))
				return false;
			continue;
		}
		if (is_control(c))
			return fail_here(p, "control character 0x%02x in string", (unsigned)c);
		if (!scratch_byte(p, (char)c))
			return false;
		advance(p);
	}
}

/* ---- keys ---- */

/* One bare or quoted key component, decoded into the scratch buffer. */
static bool parse_key_part(struct parser *p, struct key_part *key)
{
	key->line = p->line;
	key->col = p->col;
	int c = peek(p);
	char buf[16];
	if (c == '"' || c == '\'') {
		if (peek_at(p, 1) == c && peek_at(p, 2) == c)
			return fail_here(p, "multi-line strings cannot be keys");
		if (!parse_string(p, (char)c, false))
			return false;
		/* Keys are NUL-terminated in the tree, so a NUL would cut them short. */
		if (memchr(p->scratch, '\0', p->scratch_len) != NULL)
			return fail_at(p, key->line, key->col, "key contains a NUL character");
	} else if (is_bare_key_char(c)) {
		p->scratch_len = 0;
		while (is_bare_key_char(peek(p))) {
			if (!scratch_byte(p, (char)peek(p)))
				return false;
			advance(p);
		}
		if (!scratch_terminate(p))
			return false;
		c = peek(p);
		if (c >= 0x80)
			return fail_here(p, "invalid byte 0x%02x in bare key (quote non-ASCII keys)", (unsigned)c);
		if (c > ' ' && c < 0x7f && strchr(".=]#,}", c) == NULL)
			return fail_here(p, "invalid character '%c' in bare key", c);
	} else {
		return fail_here(p, "expected a key, found %s", describe(c, buf, sizeof buf));
	}
	key->name = p->scratch;
	key->len = p->scratch_len;
	key->end = p->pos;
	return true;
}

/* ---- values ---- */

static bool parse_value(struct parser *p, int depth, struct toml_value **out);

/* Scans digits of base with single underscores between them from s[*i]; false if none. */
static bool scan_digits(const char *s, size_t n, size_t *i, int base)
{
	if (*i >= n || digit_value(s[*i], base) < 0)
		return false;
	(*i)++;
	while (*i < n) {
		if (digit_value(s[*i], base) >= 0)
			(*i)++;
		else if (s[*i] == '_' && *i + 1 < n && digit_value(s[*i + 1], base) >= 0)
			*i += 2;
		else
			break;
	}
	return true;
}

/* Error for the number token s[0..n) at (line, col), broken at s[i]. */
static bool fail_number(struct parser *p, const char *s, size_t n, size_t i, int line, int col)
{
	int at = i < (size_t)(INT_MAX - col) ? col + (int)i : col;
	if (i < n && s[i] == '_')
		return fail_at(p, line, at, "'_' in a number must be between digits");
	return fail_at(p, line, at, "invalid number");
}

/* Accumulates the digits of s[from..n) (underscores skipped) in base; false if above limit. */
static bool accumulate(const char *s, size_t from, size_t n, int base, uint64_t limit, uint64_t *out)
{
	uint64_t value = 0;
	for (size_t i = from; i < n; i++) {
		if (s[i] == '_')
			continue;
		uint64_t d = (uint64_t)digit_value(s[i], base);
		if (value > (limit - d) / (uint64_t)base)
			return false;
		value = value * (uint64_t)base + d;
	}
	*out = value;
	return true;
}

/*
 * The number token s[0..n) (ASCII, one line) starting at (line, col):
 * integer in any notation or float. Grammar is checked here in full, so
 * the float conversion only ever sees [+-]digits[.digits][e[+-]digits].
 */
static bool parse_number(struct parser *p, const char *s, size_t n, int line, int col,
			 struct toml_value **out)
{
	if ((n >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-') ||
	    (n >= 3 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':'))
		return fail_at(p, line, col, "dates and times are not supported");

	size_t i = 0;
	bool negative = false;
	if (s[0] == '+' || s[0] == '-') {
		negative = s[0] == '-';
		i = 1;
	}
	if (n - i == 3 && (memcmp(s + i, "inf", 3) == 0 || memcmp(s + i, "nan", 3) == 0)) {
		struct node *v = new_node(p, TOML_FLOAT, ORIGIN_VALUE, line, col);
		if (v == NULL)
			return false;
		double magnitude = s[i] == 'i' ? (double)INFINITY : (double)NAN;
		v->value.u.flt = negative ? -magnitude : magnitude;
		*out = &v->value;
		return true;
	}

	if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
		if (i > 0)
			return fail_at(p, line, col, "hex, octal and binary integers cannot have a sign");
		int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		i = 2;
		if (!scan_digits(s, n, &i, base) || i != n)
			return fail_number(p, s, n, i, line, col);
		uint64_t magnitude;
		if (!accumulate(s, 2, n, base, INT64_MAX, &magnitude))
			return fail_at(p, line, col, "integer out of range");
		struct node *v = new_node(p, TOML_INTEGER, ORIGIN_VALUE, line, col);
		if (v == NULL)
			return false;
		v->value.u.integer = (int64_t)magnitude;
		*out = &v->value;
		return true;
	}

	size_t int_start = i;
	if (!scan_digits(s, n, &i, 10))
		return fail_number(p, s, n, i, line, col);
	if (s[int_start] == '0' && i - int_start > 1)
		return fail_at(p, line, col, "leading zeros are not allowed");
	bool is_float = false;
	if (i < n && s[i] == '.') {
		i++;
		if (!scan_digits(s, n, &i, 10))
			return fail_number(p, s, n, i, line, col);
		is_float = true;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!scan_digits(s, n, &i, 10))
			return fail_number(p, s, n, i, line, col);
		is_float = true;
	}
	if (i != n)
		return fail_number(p, s, n, i, line, col);

	if (!is_float) {
		uint64_t magnitude;
		uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		if (!accumulate(s, int_start, n, 10, limit, &magnitude))
			return fail_at(p, line, col, "integer out of range");
		struct node *v = new_node(p, TOML_INTEGER, ORIGIN_VALUE, line, col);
		if (v == NULL)
			return false;
		if (!negative)
			v->value.u.integer = (int64_t)magnitude;
		else if (magnitude == (uint64_t)INT64_MAX + 1)
			v->value.u.integer = INT64_MIN;
		else
			v->value.u.integer = -(int64_t)magnitude;
		*out = &v->value;
		return true;
	}

	/* strtod_l with the "C" locale: the host process may have called
	 * setlocale() and changed the decimal point. */
	p->scratch_len = 0;
	for (size_t k = 0; k < n; k++) {
		if (s[k] != '_' && !scratch_byte(p, s[k]))
			return false;
	}
	if (!scratch_terminate(p))
		return false;
	if (p->c_locale == (locale_t)0) {
		p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
		if (p->c_locale == (locale_t)0)
			return fail_oom(p);
	}
	char *end;
	double d = strtod_l(p->scratch, &end, p->c_locale);
	if (end != p->scratch + p->scratch_len)
		return fail_at(p, line, col, "invalid number");
	if (isinf(d))
		return fail_at(p, line, col, "float out of range");
	struct node *v = new_node(p, TOML_FLOAT, ORIGIN_VALUE, line, col);
	if (v == NULL)
		return false;
	v->value.u.flt = d;
	*out = &v->value;
	return true;
}

/* Characters that can make up a number, boolean or (invalid) bare word value. */
static bool is_word_char(int c)
{
	return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

/* A bare word: true, false, or a number (inf and nan included). */
static bool parse_word(struct parser *p, struct toml_value **out)
{
	struct mark start = mark(p);
	while (is_word_char(peek(p)))
		advance(p);
	const char *s = p->src + start.pos;
	size_t n = p->pos - start.pos;
	bool is_true = n == 4 && memcmp(s, "true", 4) == 0;
	if (is_true || (n == 5 && memcmp(s, "false", 5) == 0)) {
		struct node *v = new_node(p, TOML_BOOLEAN, ORIGIN_VALUE, start.line, start.col);
		if (v == NULL)
			return false;
		v->value.u.boolean = is_true;
		*out = &v->value;
		return true;
	}
	if (is_digit(s[0]) || s[0] == '+' || s[0] == '-' ||
	    (n == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)))
		return parse_number(p, s, n, start.line, start.col, out);
	return fail_mark(p, start, "invalid value '%.*s' (strings must be quoted)", n > 40 ? 40 : (int)n, s);
}

/* At '['. Elements are at depth + 1. */
static bool parse_array(struct parser *p, int depth, struct toml_value **out)
{
	struct mark open = mark(p);
	struct node *array = new_container(p, TOML_ARRAY, ORIGIN_VALUE, depth, open.line, open.col);
	if (array == NULL)
		return false;
	advance(p);
	char buf[16];
	for (;;) {
		if (!skip_blank(p))
			return false;
		int c = peek(p);
		if (c < 0)
			return fail_mark(p, open, "unterminated array");
		if (c == ']')
			break;
		struct toml_value *item;
		if (!parse_value(p, depth + 1, &item) || !append_item(p, array, item) || !skip_blank(p))
			return false;
		c = peek(p);
		if (c == ']')
			break;
		if (c < 0)
			return fail_mark(p, open, "unterminated array");
		if (c != ',')
			return fail_here(p, "expected ',' or ']' in array, found %s", describe(c, buf, sizeof buf));
		advance(p);
	}
	advance(p);
	*out = &array->value;
	return true;
}

static bool parse_keyval(struct parser *p, struct node *table);

/* At '{'. The table is closed afterwards: nothing may add to it. */
static bool parse_inline_table(struct parser *p, int depth, struct toml_value **out)
{
	struct mark open = mark(p);
	struct node *table = new_container(p, TOML_TABLE, ORIGIN_INLINE, depth, open.line, open.col);
	if (table == NULL)
		return false;
	advance(p);
	skip_ws(p);
	char buf[16];
	if (peek(p) == '}') {
		advance(p);
		*out = &table->value;
		return true;
	}
	for (;;) {
		if (peek(p) < 0)
			return fail_mark(p, open, "unterminated inline table");
		if (at_newline(p))
			return fail_here(p, "newline inside inline table");
		if (!parse_keyval(p, table))
			return false;
		skip_ws(p);
		int c = peek(p);
		if (c == '}')
			break;
		if (c < 0)
			return fail_mark(p, open, "unterminated inline table");
		if (at_newline(p))
			return fail_here(p, "newline inside inline table");
		if (c != ',')
			return fail_here(p, "expected ',' or '}' in inline table, found %s", describe(c, buf, sizeof buf));
		advance(p);
		skip_ws(p);
		if (peek(p) == '}')
			return fail_here(p, "trailing comma in inline table");
	}
	advance(p);
	*out = &table->value;
	return true;
}

/* A value whose containers, if any, are at depth. */
static bool parse_value(struct parser *p, int depth, struct toml_value **out)
{
	int c = peek(p);
	struct mark start = mark(p);
	char buf[16];
	if (c == '"' || c == '\'') {
		bool multiline = peek_at(p, 1) == c && peek_at(p, 2) == c;
		if (!parse_string(p, (char)c, multiline))
			return false;
		struct node *v = new_node(p, TOML_STRING, ORIGIN_VALUE, start.line, start.col);
		char *text = v ? scratch_copy(p) : NULL;
		if (text == NULL)
			return false;
		v->value.u.str.ptr = text;
		v->value.u.str.len = p->scratch_len;
		*out = &v->value;
		return true;
	}
	if (c == '[')
		return parse_array(p, depth, out);
	if (c == '{')
		return parse_inline_table(p, depth, out);
	if (is_word_char(c) && c != '.' && c != ':' && c != '_')
		return parse_word(p, out);
	return fail_here(p, "expected a value, found %s", describe(c, buf, sizeof buf));
}

/*
 * key = value into table. Intermediate components of a dotted key create
 * tables or walk into tables that dotted keys created; anything else
 * (a [header] table, an inline table, a non-table) cannot be extended.
 * That includes a table only named as a parent by a header ([a.b.c], then
 * b.x = 1 under [a]): a dotted-key table must get all its keys under one
 * header (TOML clarification, toml-lang/toml#846). Some parsers accept it.
 */
static bool parse_keyval(struct parser *p, struct node *table)
{
	size_t key_start = p->pos;
	struct key_part key;
	char path[KEY_DISPLAY_MAX];
	for (;;) {
		if (!parse_key_part(p, &key))
			return false;
		skip_ws(p);
		if (peek(p) != '.')
			break;
		advance(p);
		skip_ws(p);
		struct toml_kv *kv = find_kv(table, key.name);
		if (kv == NULL) {
			table = add_container(p, table, &key, TOML_TABLE, ORIGIN_DOTTED, key.line, key.col);
			if (table == NULL)
				return false;
			continue;
		}
		struct node *n = node_of(kv->value);
		if (n->value.type == TOML_TABLE && n->origin == ORIGIN_DOTTED) {
			table = n;
			continue;
		}
		key_display(p, key_start, key.end, path, sizeof path);
		if (n->value.type != TOML_TABLE)
			return fail_at(p, key.line, key.col, "key '%s' is %s, not a table", path,
				       with_article(n->value.type));
		if (n->origin == ORIGIN_INLINE)
			return fail_at(p, key.line, key.col, "cannot extend inline table '%s'", path);
		return fail_at(p, key.line, key.col, "cannot extend table '%s' with dotted keys", path);
	}
	if (peek(p) != '=')
		return fail_here(p, "expected '=' after key");
	if (find_kv(table, key.name) != NULL) {
		key_display(p, key_start, key.end, path, sizeof path);
		return fail_at(p, key.line, key.col, "duplicate key '%s'", path);
	}
	char *name = scratch_copy(p);
	if (name == NULL)
		return false;
	advance(p);
	skip_ws(p);
	struct toml_value *value;
	if (!parse_value(p, table->depth + 1, &value))
		return false;
	return append_kv(p, table, name, key.line, key.col, value);
}

/* [key]: the last component of the header names table's child key. */
static bool define_table(struct parser *p, struct node *table, const struct key_part *key, const char *path,
			 struct mark bracket)
{
	struct toml_kv *kv = find_kv(table, key->name);
	if (kv == NULL) {
		p->current = add_container(p, table, key, TOML_TABLE, ORIGIN_HEADER, bracket.line, bracket.col);
		return p->current != NULL;
	}
	struct node *n = node_of(kv->value);
	if (n->value.type == TOML_TABLE) {
		switch (n->origin) {
		case ORIGIN_IMPLICIT:
			/* Named before as a parent of another header; this defines it. */
			n->origin = ORIGIN_HEADER;
			n->value.line = bracket.line;
			n->value.col = bracket.col;
			kv->line = key->line;
			kv->col = key->col;
			p->current = n;
			return true;
		case ORIGIN_DOTTED:
			return fail_at(p, key->line, key->col, "table '%s' already defined by dotted keys", path);
		case ORIGIN_INLINE:
			return fail_at(p, key->line, key->col, "cannot extend inline table '%s'", path);
		default:
			return fail_at(p, key->line, key->col, "table '%s' defined twice", path);
		}
	}
	if (n->origin == ORIGIN_ARRAY_OF_TABLES)
		return fail_at(p, key->line, key->col, "'%s' is an array of tables; use [[%s]]", path, path);
	return fail_at(p, key->line, key->col, "key '%s' is %s, not a table", path, with_article(n->value.type));
}

/* [[key]]: appends a table to the array of tables key in table. */
static bool define_array_element(struct parser *p, struct node *table, const struct key_part *key,
				 const char *path, struct mark bracket)
{
	struct toml_kv *kv = find_kv(table, key->name);
	struct node *array;
	if (kv == NULL) {
		array = add_container(p, table, key, TOML_ARRAY, ORIGIN_ARRAY_OF_TABLES, bracket.line, bracket.col);
		if (array == NULL)
			return false;
	} else {
		array = node_of(kv->value);
		if (array->value.type == TOML_ARRAY && array->origin != ORIGIN_ARRAY_OF_TABLES)
			return fail_at(p, key->line, key->col, "cannot append to static array '%s'", path);
		if (array->value.type != TOML_ARRAY)
			return fail_at(p, key->line, key->col, "key '%s' is %s, not an array of tables", path,
				       with_article(array->value.type));
	}
	struct node *element = new_container(p, TOML_TABLE, ORIGIN_HEADER, array->depth + 1, key->line, key->col);
	if (element == NULL)
		return false;
	element->value.line = bracket.line;
	element->value.col = bracket.col;
	if (!append_item(p, array, &element->value))
		return false;
	p->current = element;
	return true;
}

/*
 * At '[': [a.b.c] or [[a.b.c]], always from the root. Parents are walked
 * or created (implicitly); an array of tables stands for its last element.
 */
static bool parse_header(struct parser *p)
{
	struct mark bracket = mark(p);
	advance(p);
	bool is_array = peek(p) == '[';
	if (is_array)
		advance(p);
	skip_ws(p);
	size_t key_start = p->pos;
	struct node *table = p->root;
	struct key_part key;
	char path[KEY_DISPLAY_MAX];
	for (;;) {
		if (!parse_key_part(p, &key))
			return false;
		skip_ws(p);
		if (peek(p) != '.')
			break;
		advance(p);
		skip_ws(p);
		struct toml_kv *kv = find_kv(table, key.name);
		if (kv == NULL) {
			table = add_container(p, table, &key, TOML_TABLE, ORIGIN_IMPLICIT, bracket.line, bracket.col);
			if (table == NULL)
				return false;
			continue;
		}
		struct node *n = node_of(kv->value);
		if (n->value.type == TOML_TABLE && n->origin != ORIGIN_INLINE) {
			table = n;
			continue;
		}
		if (n->value.type == TOML_ARRAY && n->origin == ORIGIN_ARRAY_OF_TABLES) {
			/* Never empty: [[x]] creates the array with its first element. */
			table = node_of(n->value.u.array.items[n->value.u.array.count - 1]);
			continue;
		}
		key_display(p, key_start, key.end, path, sizeof path);
		if (n->value.type == TOML_TABLE)
			return fail_at(p, key.line, key.col, "cannot extend inline table '%s'", path);
		if (n->value.type == TOML_ARRAY)
			return fail_at(p, key.line, key.col, "cannot extend static array '%s'", path);
		return fail_at(p, key.line, key.col, "key '%s' is %s, not a table", path, with_article(n->value.type));
	}
	if (peek(p) != ']' || (is_array && peek_at(p, 1) != ']')) {
		if (is_array && peek(p) == ']')
			advance(p);
		return fail_here(p, "%s", is_array ? "expected ']]' after array of tables name"
						   : "expected ']' after table name");
	}
	advance_by(p, is_array ? 2 : 1);
	key_display(p, key_start, key.end, path, sizeof path);
	if (is_array)
		return define_array_element(p, table, &key, path, bracket);
	return define_table(p, table, &key, path, bracket);
}

static bool parse_document(struct parser *p)
{
	/* A UTF-8 byte order mark is invisible in editors: skip it without a column. */
	if (p->len >= 3 && memcmp(p->src, "\xef\xbb\xbf", 3) == 0)
		p->pos = 3;
	for (;;) {
		skip_ws(p);
		int c = peek(p);
		if (c < 0)
			return true;
		if (c == '#') {
			if (!skip_comment(p))
				return false;
		} else if (at_newline(p)) {
			skip_newline(p);
		} else if (c == '[') {
			if (!parse_header(p) || !expect_line_end(p, "table header"))
				return false;
		} else {
			if (!parse_keyval(p, p->current) || !expect_line_end(p, "value"))
				return false;
		}
	}
}

/* ---- public ---- */

struct toml_value *toml_parse(const char *text, size_t len, struct toml_error *err)
{
	struct toml_error unused;
	if (err == NULL)
		err = &unused;
	memset(err, 0, sizeof *err);
	struct parser p = {
		.src = text != NULL ? text : "",
		.len = text != NULL ? len : 0,
		.line = 1,
		.col = 1,
		.err = err,
	};
	if (text == NULL && len > 0) {
		fail_here(&p, "no input text");
		return NULL;
	}
	bool ok = false;
	struct document *doc = arena_alloc(&p.arena, sizeof *doc);
	if (doc == NULL) {
		fail_oom(&p);
	} else {
		memset(doc, 0, sizeof *doc);
		doc->root.value.type = TOML_TABLE;
		doc->root.value.line = 1;
		doc->root.value.col = 1;
		doc->root.origin = ORIGIN_HEADER;
		p.root = p.current = &doc->root;
		ok = parse_document(&p);
	}
	free(p.scratch);
	if (p.c_locale != (locale_t)0)
		freelocale(p.c_locale);
	if (!ok) {
		arena_release(p.arena);
		return NULL;
	}
	doc->blocks = p.arena;
	return &doc->root.value;
}

void toml_free(struct toml_value *root)
{
	if (root == NULL)
		return;
	/* Only roots from toml_parse() come here: root is the document's first member. */
	struct document *doc = (struct document *)(void *)root;
	arena_release(doc->blocks);
}

const struct toml_value *toml_get(const struct toml_value *table, const char *key)
{
	if (table == NULL || key == NULL || table->type != TOML_TABLE)
		return NULL;
	for (size_t i = 0; i < table->u.table.count; i++) {
		if (strcmp(table->u.table.kv[i].key, key) == 0)
			return table->u.table.kv[i].value;
	}
	return NULL;
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING: return "string";
	case TOML_INTEGER: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOLEAN: return "boolean";
	case TOML_ARRAY: return "array";
	case TOML_TABLE: return "table";
	}
	return "unknown";
}
