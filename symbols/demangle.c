/* SPDX-License-Identifier: MIT */
/*
 * demangle.c: scheme dispatch, vendor suffixes and match keys.
 *
 * demangle() picks the scheme from the prefix: "_R" is Rust v0; "_ZN" is
 * first tried as Rust legacy (which requires the "17h<16 hex>E" hash
 * component) and otherwise as C++; any other "_Z" is C++. The scheme
 * parser reports how long the mangled body was; whatever follows is a
 * vendor suffix (".cold", ".isra.0", ".llvm.123") and is printed as
 * c++filt does, " [clone .cold]", one trailer per clone step. A symbol
 * version after that ("@GLIBCXX_3.4", "@@V1", as .symtab and nm show
 * them) is appended unchanged, as c++filt does. Symbols longer than
 * DM_MAX_SYMBOL are not demangled.
 *
 * demangle_match_key() rewrites a display name with a single left-to-right
 * scan that tracks bracket nesting; see the comment on key_seq().
 */
#include "demangle.h"
#include "demangle_internal.h"

#include <string.h>

void dm_put_uint(struct dm_out *o, unsigned long long v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		dm_putc(o, tmp[--n]);
}

static bool is_lower_digit_us(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * A vendor suffix starts with '.' (or '$' for Rust v0) and holds printable
 * ASCII without spaces; anything else means the symbol is not one name.
 */
static bool suffix_ok(const char *s, size_t n, bool allow_dollar)
{
	if (n == 0)
		return true;
	if (s[0] != '.' && !(allow_dollar && s[0] == '$'))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/*
 * Prints the suffix as c++filt does: each ".name" optionally followed by
 * ".<digits>" groups is one " [clone ...]" (".constprop.0.isra.0" gives
 * two). Text that does not fit that shape (".llvm.1A2B", "$x") is kept
 * whole in one last trailer instead of failing as c++filt would.
 */
static void put_suffix(struct dm_out *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t end = i + 1;

		if (s[i] == '.' && end < n && is_lower_digit_us(s[end])) {
			while (end < n && is_lower_digit_us(s[end]))
				end++;
			while (end + 1 < n && s[end] == '.' && dm_is_digit(s[end + 1])) {
				end += 2;
				while (end < n && dm_is_digit(s[end]))
					end++;
			}
			if (end < n && s[end] != '.')
				end = n;
		} else {
			end = n;
		}
		dm_putn(o, " [clone ", 8);
		dm_putn(o, s + i, end - i);
		dm_putc(o, ']');
		i = end;
	}
}

/*
 * NUL-terminates the output; when text was dropped, the kept text ends in
 * "..." (cut at a UTF-8 character boundary).
 */
static void finish(struct dm_out *o)
{
	size_t end = o->len;

	if (o->overflow || end > o->cap) {
		end = o->cap;
		if (end >= 3) {
			end -= 3;
			while (end > 0 && ((unsigned char)o->buf[end] & 0xc0) == 0x80)
				end--;
			memcpy(o->buf + end, "...", 3);
			end += 3;
		}
	}
	o->buf[end] = '\0';
}

enum demangle_scheme demangle(const char *sym, char *out, size_t outsz)
{
	char dummy[1];
	struct dm_out o;
	enum demangle_scheme scheme = DEMANGLE_NONE;
	const char *at;
	size_t len, full, body = 0;

	if (out == NULL || outsz == 0) {
		out = dummy;
		outsz = 1;
	}
	out[0] = '\0';
	if (sym == NULL || sym[0] != '_')
		return DEMANGLE_NONE;
	len = strnlen(sym, DM_MAX_SYMBOL + 1);
	if (len > DM_MAX_SYMBOL)
		return DEMANGLE_NONE;

	o.buf = out;
	o.cap = outsz - 1;
	o.len = 0;
	o.overflow = false;
	if (sym[1] == 'R') {
		scheme = DEMANGLE_RUST_V0;
		body = dm_rust_v0(sym, len, &o);
	} else if (sym[1] == 'Z') {
		if (sym[2] == 'N') {
			scheme = DEMANGLE_RUST_LEGACY;
			body = dm_rust_legacy(sym, len, &o);
		}
		if (body == 0) {
			o.len = 0;
			o.overflow = false;
			scheme = DEMANGLE_CXX;
			body = dm_cxx(sym, len, &o);
		}
	}
	/* "name@VERSION" / "name@@VERSION" as in .symtab: version kept verbatim */
	at = body ? memchr(sym + body, '@', len - body) : NULL;
	full = len;
	if (at)
		len = (size_t)(at - sym);
	if (body == 0 || !suffix_ok(sym + body, len - body, scheme == DEMANGLE_RUST_V0)) {
		out[0] = '\0';
		return DEMANGLE_NONE;
	}
	put_suffix(&o, sym + body, len - body);
	dm_putn(&o, sym + len, full - len);
	finish(&o);
	return scheme;
}

const char *demangle_scheme_name(enum demangle_scheme scheme)
{
	switch (scheme) {
	case DEMANGLE_NONE:
		return "none";
	case DEMANGLE_RUST_LEGACY:
		return "rust-legacy";
	case DEMANGLE_RUST_V0:
		return "rust-v0";
	case DEMANGLE_CXX:
		return "c++";
	}
	return "unknown";
}

/* ---- match keys ------------------------------------------------------ */

struct key {
	const char *s;
	struct dm_out *o;
};

/* Character classes for the key scanner: IDENT_CH is part of a name,
 * GROUP_CH must be looked at by skip_group(). */
enum { IDENT_CH = 1, GROUP_CH = 2 };

static const unsigned char char_class[256] = {
	['0' ... '9'] = IDENT_CH, ['a' ... 'z'] = IDENT_CH, ['A' ... 'Z'] = IDENT_CH,
	['_'] = IDENT_CH, ['$'] = IDENT_CH, [0x80 ... 0xff] = IDENT_CH,
	['('] = GROUP_CH, [')'] = GROUP_CH, ['['] = GROUP_CH, [']'] = GROUP_CH,
	['{'] = GROUP_CH, ['}'] = GROUP_CH, ['<'] = GROUP_CH, ['>'] = GROUP_CH,
};

static inline bool is_ident(char c)
{
	return char_class[(unsigned char)c] & IDENT_CH;
}

static inline bool is_group_char(char c)
{
	return char_class[(unsigned char)c] & GROUP_CH;
}

static inline bool starts(const char *s, size_t i, size_t e, const char *lit)
{
	for (; *lit; lit++, i++)
		if (i >= e || s[i] != *lit)
			return false;
	return true;
}

static inline bool is_op_char(char c)
{
	switch (c) {
	case '+': case '-': case '*': case '/': case '%': case '^': case '&':
	case '|': case '~': case '!': case '=': case '<': case '>': case ',':
		return true;
	default:
		return false;
	}
}

/* Length of "operator<punct>" at i (as a C++ operator name), or 0. */
static size_t operator_len(const char *s, size_t i, size_t e)
{
	size_t j;

	if (s[i] != 'o' || !starts(s, i, e, "operator") || (i > 0 && is_ident(s[i - 1])))
		return 0;
	j = i + 8;
	if (starts(s, j, e, "()") || starts(s, j, e, "[]"))
		return 10;
	if (j >= e || !is_op_char(s[j]))
		return 0;
	while (j < e && is_op_char(s[j]))
		j++;
	return j - i;
}

/*
 * True when the bracket at s[i] is part of an operator name such as
 * "operator<", "operator()" or "operator->": the text before it is
 * "operator" followed only by operator characters.
 */
static bool in_operator_name(const char *s, size_t i)
{
	size_t j = i;

	while (j > 0 && is_op_char(s[j - 1]))
		j--;
	if (j == i && i > 0 && ((s[i] == ')' && s[i - 1] == '(') || (s[i] == ']' && s[i - 1] == '[')))
		j = i - 1; /* the second bracket of "operator()" / "operator[]" */
	if (j < 8 || memcmp(s + j - 8, "operator", 8) != 0)
		return false;
	return j == 8 || !is_ident(s[j - 9]);
}

/*
 * Index just past the bracket group opened at s[i], or e when unbalanced.
 * Inside (), [] and {} angle brackets are not counted (c++filt wraps
 * "a > b" in parentheses); "->" and operator names are not brackets.
 */
static size_t skip_group(const char *s, size_t i, size_t e)
{
	char stack[64];
	size_t depth = 0;

	while (i < e) {
		char c = s[i];
		bool angles;

		if (!is_group_char(c)) {
			/* gaps between brackets are mostly short; for long ones
			 * let libc's SIMD strcspn jump (s is NUL-terminated) */
			size_t k = i + 1, stop = e - i > 16 ? i + 16 : e;

			while (k < stop && !is_group_char(s[k]))
				k++;
			i = k < stop || k >= e ? k : k + strcspn(s + k, "()[]{}<>");
			continue;
		}
		if (depth > 0 && in_operator_name(s, i)) {
			i++;
			continue;
		}
		angles = depth == 0 || stack[depth - 1] == '>';
		if (c == '(' || c == '[' || c == '{' || (c == '<' && angles)) {
			if (depth == sizeof(stack))
				return e;
			stack[depth++] = c == '(' ? ')' : c == '[' ? ']' : c == '{' ? '}' : '>';
		} else if ((c == ')' || c == ']' || c == '}' || (c == '>' && angles)) &&
			   !(c == '>' && i > 0 && s[i - 1] == '-')) {
			if (depth == 0 || stack[depth - 1] != c)
				return e;
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return e;
}


static const char *const method_quals[] = {
	" const", " volatile", " restrict", " &&", " &", " noexcept", " transaction_safe",
};

/* Where key_seq() runs: the whole name, or inside "<...>" before or after
 * " as ". */
enum key_mode { KEY_TOP, KEY_SELF, KEY_TRAIT };

/* Qualified paths nested deeper than this are copied verbatim. */
#define KEY_MAX_NESTING 32

/*
 * Writes the key of the name at s[i..e) and returns where it stopped: e,
 * or inside "<...>" the closing '>' (or " as " in KEY_SELF mode). One pass:
 * generic and template argument lists directly after a name ("Vec<T>",
 * "f::<T>", "vector<int>") are skipped; a segment "<T>" (inherent impl)
 * becomes "T", "<A as B>" is kept with the keys of A and B;
 * "{closure#0}", "(anonymous namespace)" and "<impl ...>" segments are
 * kept verbatim; "[abi:...]" tags are dropped. At the top level the text
 * also is C++ display syntax: a parameter list with the qualifiers after
 * it is dropped wherever it follows a name ("f(int)::x" -> "f::x"), and a
 * space outside brackets ends a return type ("void f<int>(int)" -> "f").
 * Inside "<A as B>" spaces are part of types such as "&mut T" and
 * parentheses are tuples, so both are kept.
 */
static size_t key_seq(struct key *k, size_t i, size_t e, enum key_mode mode, unsigned nesting)
{
	const char *s = k->s;
	struct dm_out *o = k->o;
	size_t start = o->len;
	bool seg_start = true, top = mode == KEY_TOP;

	while (i < e) {
		char c = s[i];
		size_t oplen, j;

		if (is_ident(c) && !(seg_start && c == 'o')) {
			/* the common case: a run of identifier characters */
			j = i + 1;
			while (j < e && is_ident(s[j]))
				j++;
			dm_putn(o, s + i, j - i);
			i = j;
			seg_start = false;
			continue;
		}
		if (!top && c == '>' && s[i - 1] != '-')
			return i;
		if (mode == KEY_SELF && c == ' ' && starts(s, i, e, " as "))
			return i;
		if (seg_start && c == '<') {
			size_t mark = o->len;

			if (starts(s, i, e, "<impl ") || nesting >= KEY_MAX_NESTING) {
				j = skip_group(s, i, e);
				dm_putn(o, s + i, j - i);
				i = j;
				seg_start = false;
				continue;
			}
			dm_putc(o, '<');
			j = key_seq(k, i + 1, e, KEY_SELF, nesting + 1);
			if (starts(s, j, e, " as ")) {
				dm_putn(o, " as ", 4);
				j = key_seq(k, j + 4, e, KEY_TRAIT, nesting + 1);
				dm_putc(o, '>');
			} else if (!o->overflow) {
				/* inherent impl "<T>": the key is T */
				memmove(o->buf + mark, o->buf + mark + 1, o->len - mark - 1);
				o->len--;
			}
			i = j < e ? j + 1 : e;
			seg_start = false;
			continue;
		}
		if (c == '{' || (seg_start && (c == '(' || c == '['))) {
			j = skip_group(s, i, e);
			dm_putn(o, s + i, j - i);
			i = j;
			seg_start = false;
			continue;
		}
		if (c == ':' && starts(s, i, e, "::")) {
			if (starts(s, i + 2, e, "<") && !starts(s, i + 2, e, "<impl ")) {
				i = skip_group(s, i + 2, e); /* turbofish */
				continue;
			}
			dm_putn(o, "::", 2);
			i += 2;
			seg_start = true;
			continue;
		}
		if (seg_start && (oplen = operator_len(s, i, e)) > 0) {
			dm_putn(o, s + i, oplen);
			i += oplen;
			if (starts(s, i, e, " <"))
				i++; /* "operator< <int>": the space separates args */
			seg_start = false;
			continue;
		}
		if (seg_start && starts(s, i, e, "operator") && i + 8 < e &&
		    (s[i + 8] == ' ' || s[i + 8] == '"')) {
			/* operator new, operator delete[], operator int, operator"" _x */
			j = i + 8;
			while (j < e && s[j] != '(' && !starts(s, j, e, "::")) {
				if (s[j] == '<' || s[j] == '[')
					j = skip_group(s, j, e);
				else
					j++;
			}
			dm_putn(o, s + i, j - i);
			i = j;
			seg_start = false;
			continue;
		}
		if (c == '<') {
			i = skip_group(s, i, e);
			continue;
		}
		if (c == '[' && starts(s, i, e, "[abi:")) {
			i = skip_group(s, i, e);
			continue;
		}
		if (top && c == '(') {
			i = skip_group(s, i, e);
			for (;;) {
				size_t q;

				for (q = 0; q < sizeof(method_quals) / sizeof(method_quals[0]); q++)
					if (starts(s, i, e, method_quals[q]))
						break;
				if (q == sizeof(method_quals) / sizeof(method_quals[0]))
					break;
				i += strlen(method_quals[q]);
			}
			continue;
		}
		if (c == '(' || c == '[') {
			j = skip_group(s, i, e);
			dm_putn(o, s + i, j - i);
			i = j;
			continue;
		}
		if (top && c == ' ') {
			o->len = start; /* what came before was a return type */
			i++;
			seg_start = true;
			continue;
		}
		dm_putc(o, c);
		seg_start = false;
		i++;
	}
	return i;
}

void demangle_match_key(const char *demangled, char *out, size_t outsz)
{
	char dummy[1];
	struct dm_out o;
	struct key k;
	const char *t;
	size_t i = 0, e;

	if (out == NULL || outsz == 0) {
		out = dummy;
		outsz = 1;
	}
	out[0] = '\0';
	if (demangled == NULL)
		return;
	o.buf = out;
	o.cap = outsz - 1;
	o.len = 0;
	o.overflow = false;
	k.s = demangled;
	k.o = &o;

	e = strlen(demangled);
	/* trailers only ever end a name */
	t = e > 0 && demangled[e - 1] == ']' ? strstr(demangled, " [clone ") : NULL;
	if (t)
		e = (size_t)(t - demangled);

	/* every special prefix has a space within its first 30 characters */
	while (memchr(demangled + i, ' ', e - i < 30 ? e - i : 30) != NULL) {
		size_t p;

		for (p = 0; p < dm_cxx_nspecials; p++)
			if (starts(demangled, i, e, dm_cxx_specials[p]))
				break;
		if (p == dm_cxx_nspecials)
			break;
		i += strlen(dm_cxx_specials[p]);
		if (dm_cxx_specials[p][strlen(dm_cxx_specials[p]) - 1] == '#') {
			/* "reference temporary #<n> for " */
			while (i < e && dm_is_digit(demangled[i]))
				i++;
			if (starts(demangled, i, e, " for "))
				i += 5;
		}
	}
	dm_putn(&o, demangled, i);
	key_seq(&k, i, e, KEY_TOP, 0);
	/*
	 * Trailers stay, so "f" never matches a fragment such as "f [clone .cold]",
	 * except " [clone .llvm.<n>]": ThinLTO's renamed copy is the function itself.
	 */
	while (t != NULL && *t != '\0') {
		const char *next = strstr(t + 1, " [clone ");
		size_t len = next != NULL ? (size_t)(next - t) : strlen(t);
		if (strncmp(t, " [clone .llvm.", 14) != 0)
			dm_putn(&o, t, len);
		t += len;
	}
	finish(&o);
}
