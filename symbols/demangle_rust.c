/* SPDX-License-Identifier: MIT */
/*
 * demangle_rust.c: Rust legacy and v0 symbol names.
 *
 * Legacy ("_ZN" <len><ident>... "17h" <16 hex> "E") is printed in one pass,
 * the components joined by "::" with the "$LT$"-style escapes and ".."
 * decoded; the last component must be the hash, and its text is cut off
 * again at the end.
 *
 * v0 ("_R" <path> [<instantiating-crate>]) follows the grammar of RFC 2603
 * as extended by rustc (const generics values, fn-sig ABIs): a recursive
 * descent parser that prints as it goes, in rustc-demangle's alternate
 * form (no crate disambiguators, no integer suffixes on consts). Backrefs
 * ("B<base62>") are followed by re-parsing at the earlier position; each
 * must point before the 'B' that names it, so a chain of them always ends.
 * Once the output is full, backrefs are no longer expanded, which keeps
 * hostile inputs (nested backrefs doubling the output) linear. Punycode
 * identifiers ("u" prefix) are decoded to UTF-8; one longer than 128 code
 * points or malformed is printed as "punycode{...}".
 */
#include "demangle_internal.h"

#include <stdint.h>
#include <string.h>

static const bool lower_hex[256] = {
	['0' ... '9'] = true, ['a' ... 'f'] = true,
};

static inline bool is_lower_hex(char c)
{
	return lower_hex[(unsigned char)c];
}

/*
 * True when p[0..16) are lowercase hex digits. Without branches per digit:
 * hash digits are random, so a branch on each would mispredict half the
 * time, and this runs twice for every Rust legacy symbol.
 */
static bool hex16(const char *p)
{
	unsigned ok = 1;

	for (int i = 0; i < 16; i++)
		ok &= lower_hex[(unsigned char)p[i]];
	return ok;
}

static int hex_val(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static const bool alnum_us[256] = {
	['0' ... '9'] = true, ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['_'] = true,
};

/* Length of the [A-Za-z0-9_] prefix of s[0..n): a v0 body, before any
 * suffix. Eight bytes per step, as this runs over every v0 symbol. */
static size_t alnum_run(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i + 8 <= n && (alnum_us[u[i]] & alnum_us[u[i + 1]] & alnum_us[u[i + 2]] &
			      alnum_us[u[i + 3]] & alnum_us[u[i + 4]] & alnum_us[u[i + 5]] &
			      alnum_us[u[i + 6]] & alnum_us[u[i + 7]]))
		i += 8;
	while (i < n && alnum_us[u[i]])
		i++;
	return i;
}

/* Writes code point cp as UTF-8. */
static void put_utf8(struct dm_out *o, uint32_t cp)
{
	if (cp < 0x80) {
		dm_putc(o, (char)cp);
	} else if (cp < 0x800) {
		dm_putc(o, (char)(0xc0 | (cp >> 6)));
		dm_putc(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		dm_putc(o, (char)(0xe0 | (cp >> 12)));
		dm_putc(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		dm_putc(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		dm_putc(o, (char)(0xf0 | (cp >> 18)));
		dm_putc(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		dm_putc(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		dm_putc(o, (char)(0x80 | (cp & 0x3f)));
	}
}

static bool valid_char(uint64_t cp)
{
	return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* ---- legacy ---------------------------------------------------------- */

/* Parses "<decimal length>" at s[*p]; lengths have no leading zeros. */
static bool legacy_len(const char *s, size_t len, size_t *p, size_t *n)
{
	size_t v = 0;

	if (*p >= len || !dm_is_digit(s[*p]) || s[*p] == '0')
		return false;
	while (*p < len && dm_is_digit(s[*p])) {
		v = v * 10 + (size_t)(s[*p] - '0');
		if (v > DM_MAX_SYMBOL)
			return false;
		(*p)++;
	}
	*n = v;
	return v <= len - *p;
}

static const bool legacy_chars[256] = {
	['0' ... '9'] = true, ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['_'] = true,
	['$'] = true, ['.'] = true,
};

static inline bool legacy_ident_char(char c)
{
	return legacy_chars[(unsigned char)c];
}

static bool legacy_is_hash(const char *s, size_t n)
{
	return n == 17 && s[0] == 'h' && hex16(s + 1);
}

/*
 * Decodes "$...$" at s (n bytes left) into *cp and its length; false for
 * an escape rustc does not produce (the rest is then printed verbatim).
 */
static bool legacy_escape(const char *s, size_t n, uint32_t *cp, size_t *esclen)
{
	static const struct {
		const char *code;
		char c;
	} table[] = {
		{"$SP$", '@'}, {"$BP$", '*'}, {"$RF$", '&'}, {"$LT$", '<'},
		{"$GT$", '>'}, {"$LP$", '('}, {"$RP$", ')'}, {"$C$", ','},
	};
	size_t end;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t l = strlen(table[i].code);

		if (n >= l && memcmp(s, table[i].code, l) == 0) {
			*cp = (uint32_t)table[i].c;
			*esclen = l;
			return true;
		}
	}
	if (n < 4 || s[1] != 'u')
		return false;
	{
		uint64_t v = 0;

		for (end = 2; end < n && s[end] != '$'; end++) {
			if (!is_lower_hex(s[end]) || end > 9)
				return false;
			v = v * 16 + (uint64_t)hex_val(s[end]);
		}
		if (end == 2 || end >= n || !valid_char(v) || is_control((uint32_t)v))
			return false;
		*cp = (uint32_t)v;
		*esclen = end + 1;
	}
	return true;
}

/*
 * Prints one identifier, decoding escapes; false when it holds a character
 * rustc never puts in a legacy symbol. Validation and printing are one
 * pass, plain runs found four bytes at a time.
 */
static bool legacy_print_ident(struct dm_out *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	/* rustc prefixes '_' when an escape would start the identifier */
	if (n >= 2 && s[0] == '_' && s[1] == '$')
		i = 1;
	while (i < n) {
		size_t j = i;

		while (j + 4 <= n && (alnum_us[u[j]] & alnum_us[u[j + 1]] & alnum_us[u[j + 2]] &
				      alnum_us[u[j + 3]]))
			j += 4;
		while (j < n && alnum_us[u[j]])
			j++;
		dm_putn(o, s + i, j - i);
		i = j;
		if (i >= n)
			break;
		if (s[i] == '.') {
			if (i + 1 < n && s[i + 1] == '.') {
				dm_putn(o, "::", 2);
				i += 2;
			} else {
				dm_putc(o, '.');
				i++;
			}
		} else if (s[i] == '$') {
			uint32_t cp;
			size_t l;

			if (!legacy_escape(s + i, n - i, &cp, &l)) {
				/* an escape rustc does not write: the rest verbatim */
				for (j = i; j < n; j++)
					if (!legacy_ident_char(s[j]))
						return false;
				dm_putn(o, s + i, n - i);
				return true;
			}
			put_utf8(o, cp);
			i += l;
		} else {
			return false;
		}
	}
	return true;
}

/* True when "17h<16 hex>E" occurs in s: a cheap test before parsing. */
static bool has_legacy_hash(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	while ((p = memchr(p, 'h', (size_t)(end - p))) != NULL) {
		if (p - s >= 2 && p[-2] == '1' && p[-1] == '7' && end - p >= 18 && p[17] == 'E' &&
		    hex16(p + 1))
			return true;
		p++;
	}
	return false;
}

size_t dm_rust_legacy(const char *sym, size_t len, struct dm_out *o)
{
	size_t p = 3, n = 0, count = 0, last = 0, mark = 0;
	bool over = false;

	if (len < 4 || memcmp(sym, "_ZN", 3) != 0 || !has_legacy_hash(sym, len))
		return 0;
	/* one pass: print every component; the last one (the hash) is cut */
	while (p < len && sym[p] != 'E') {
		if (!legacy_len(sym, len, &p, &n))
			return 0;
		mark = o->len;
		over = o->overflow;
		if (count > 0)
			dm_putn(o, "::", 2);
		if (!legacy_print_ident(o, sym + p, n))
			return 0;
		last = p;
		p += n;
		count++;
	}
	if (p >= len || count < 2 || !legacy_is_hash(sym + last, n))
		return 0;
	o->len = mark;
	o->overflow = over;
	return last + 17 + 1;
}

/* ---- v0 -------------------------------------------------------------- */

struct v0 {
	const char *s;        /* the symbol after "_R" */
	size_t n;             /* length of its [A-Za-z0-9_] body */
	size_t pos;
	struct dm_out *o;
	unsigned depth;
	uint64_t bound_lifetimes; /* lifetimes bound by enclosing for<...> */
	unsigned quiet;       /* > 0: parse only (impl paths, instantiating crate) */
};

struct ident {
	const char *ascii;
	size_t ascii_len;
	const char *puny; /* NULL unless the identifier is punycode */
	size_t puny_len;
};

static char peek(const struct v0 *v)
{
	return v->pos < v->n ? v->s[v->pos] : '\0';
}

static bool eat(struct v0 *v, char c)
{
	if (peek(v) != c)
		return false;
	v->pos++;
	return true;
}

static void put_n(struct v0 *v, const char *s, size_t n)
{
	if (!v->quiet)
		dm_putlit(v->o, s, n);
}

/* the length of a literal is folded at compile time */
#define put(v, s) put_n((v), (s), __builtin_strlen(s))

static void putn(struct v0 *v, const char *s, size_t n)
{
	if (!v->quiet)
		dm_putn(v->o, s, n);
}

static void put_u64(struct v0 *v, uint64_t x)
{
	if (!v->quiet)
		dm_put_uint(v->o, x);
}

/* Value of a base-62 digit plus one; 0 for other characters. */
static const uint8_t b62[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['g'] = 17, ['h'] = 18, ['i'] = 19, ['j'] = 20, ['k'] = 21, ['l'] = 22,
	['m'] = 23, ['n'] = 24, ['o'] = 25, ['p'] = 26, ['q'] = 27, ['r'] = 28,
	['s'] = 29, ['t'] = 30, ['u'] = 31, ['v'] = 32, ['w'] = 33, ['x'] = 34,
	['y'] = 35, ['z'] = 36,
	['A'] = 37, ['B'] = 38, ['C'] = 39, ['D'] = 40, ['E'] = 41, ['F'] = 42,
	['G'] = 43, ['H'] = 44, ['I'] = 45, ['J'] = 46, ['K'] = 47, ['L'] = 48,
	['M'] = 49, ['N'] = 50, ['O'] = 51, ['P'] = 52, ['Q'] = 53, ['R'] = 54,
	['S'] = 55, ['T'] = 56, ['U'] = 57, ['V'] = 58, ['W'] = 59, ['X'] = 60,
	['Y'] = 61, ['Z'] = 62,
};

/* <base-62-number> = {<0-9a-zA-Z>} "_"; "_" is 0, "0_" is 1, ... */
static bool base62(struct v0 *v, uint64_t *out)
{
	uint64_t x = 0;
	size_t start = v->pos;

	if (eat(v, '_')) {
		*out = 0;
		return true;
	}
	for (;;) {
		unsigned d = b62[(unsigned char)peek(v)];

		if (d == 0)
			break;
		/* up to 10 digits cannot overflow: 62^10 < 2^64 */
		if (v->pos - start >= 10 &&
		    (__builtin_mul_overflow(x, 62, &x) || __builtin_add_overflow(x, d - 1, &x)))
			return false;
		if (v->pos - start < 10)
			x = x * 62 + (d - 1);
		v->pos++;
	}
	if (!eat(v, '_') || x == UINT64_MAX)
		return false;
	*out = x + 1;
	return true;
}

/* A base-62 number whose value is not needed (crate disambiguators). */
static bool skip_base62(struct v0 *v)
{
	const char *u = memchr(v->s + v->pos, '_', v->n - v->pos);

	if (u == NULL)
		return false;
	v->pos = (size_t)(u - v->s) + 1; /* the body is [A-Za-z0-9_]: all digits */
	return true;
}

/* [<disambiguator>] = ["s" <base-62-number>]: absent is 0, "s_" is 1. */
static bool disambiguator(struct v0 *v, uint64_t *out)
{
	uint64_t x;

	if (!eat(v, 's')) {
		*out = 0;
		return true;
	}
	if (!base62(v, &x) || x == UINT64_MAX)
		return false;
	*out = x + 1;
	return true;
}

/* <decimal-number> = "0" | <1-9>{<0-9>} */
static bool decimal(struct v0 *v, size_t *out)
{
	const char *p = v->s + v->pos, *end = v->s + v->n;
	size_t x;

	if (p >= end || !dm_is_digit(*p))
		return false;
	x = (size_t)(*p++ - '0');
	if (x != 0) {
		while (p < end && dm_is_digit(*p)) {
			x = x * 10 + (size_t)(*p++ - '0');
			if (x > DM_MAX_SYMBOL)
				return false;
		}
	}
	v->pos = (size_t)(p - v->s);
	*out = x;
	return true;
}

/* <undisambiguated-identifier> = ["u"] <decimal-number> ["_"] <bytes> */
static bool ident(struct v0 *v, struct ident *id)
{
	bool puny = eat(v, 'u');
	size_t n;
	const char *b;

	if (!decimal(v, &n))
		return false;
	eat(v, '_');
	if (n > v->n - v->pos)
		return false;
	b = v->s + v->pos;
	v->pos += n;
	id->puny = NULL;
	id->puny_len = 0;
	id->ascii = b;
	id->ascii_len = n;
	if (puny) {
		size_t us = n;

		while (us > 0 && b[us - 1] != '_')
			us--;
		/* the last '_' separates the basic code points from the deltas */
		id->ascii_len = us > 0 ? us - 1 : 0;
		id->puny = b + us;
		id->puny_len = n - us;
		if (id->puny_len == 0)
			return false;
	}
	return true;
}

#define PUNY_MAX 128

static uint32_t puny_adapt(uint32_t delta, uint32_t numpoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / 700 : delta / 2;
	delta += delta / numpoints;
	while (delta > ((36 - 1) * 26) / 2) {
		delta /= 36 - 1;
		k += 36;
	}
	return k + (36 * delta) / (delta + 38);
}

/*
 * RFC 3492 decoding with Rust's alphabet (a-z = 0..25, 0-9 = 26..35) and
 * '_' as the delimiter; false when malformed or too long.
 */
static bool puny_decode(const struct ident *id, uint32_t *cp, size_t *ncp)
{
	uint32_t n = 128, bias = 72, i = 0;
	size_t count = 0, p = 0;

	if (id->ascii_len > PUNY_MAX)
		return false;
	for (size_t k = 0; k < id->ascii_len; k++)
		cp[count++] = (unsigned char)id->ascii[k];
	while (p < id->puny_len) {
		uint32_t old_i = i, w = 1;

		for (uint32_t k = 36;; k += 36) {
			char c;
			uint32_t digit, t;

			if (p >= id->puny_len || k > 36 * 8)
				return false;
			c = id->puny[p++];
			if (dm_is_lower(c))
				digit = (uint32_t)(c - 'a');
			else if (dm_is_digit(c))
				digit = (uint32_t)(c - '0') + 26;
			else
				return false;
			if (digit > (UINT32_MAX - i) / w)
				return false;
			i += digit * w;
			t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
			if (digit < t)
				break;
			if (w > UINT32_MAX / (36 - t))
				return false;
			w *= 36 - t;
		}
		if (count >= PUNY_MAX)
			return false;
		bias = puny_adapt(i - old_i, (uint32_t)count + 1, old_i == 0);
		if (i / (uint32_t)(count + 1) > 0x10ffff - n)
			return false;
		n += i / (uint32_t)(count + 1);
		i %= (uint32_t)(count + 1);
		if (!valid_char(n))
			return false;
		memmove(cp + i + 1, cp + i, (count - i) * sizeof(cp[0]));
		cp[i] = n;
		count++;
		i++;
	}
	*ncp = count;
	return true;
}

static void put_ident(struct v0 *v, const struct ident *id)
{
	uint32_t cp[PUNY_MAX];
	size_t ncp;

	if (v->quiet)
		return;
	if (id->puny == NULL) {
		dm_putn(v->o, id->ascii, id->ascii_len);
	} else if (puny_decode(id, cp, &ncp)) {
		for (size_t k = 0; k < ncp; k++)
			put_utf8(v->o, cp[k]);
	} else {
		dm_puts(v->o, "punycode{");
		if (id->ascii_len) {
			dm_putn(v->o, id->ascii, id->ascii_len);
			dm_putc(v->o, '-');
		}
		dm_putn(v->o, id->puny, id->puny_len);
		dm_putc(v->o, '}');
	}
}

static bool ident_empty(const struct ident *id)
{
	return id->ascii_len == 0 && id->puny_len == 0;
}

static bool path(struct v0 *v, bool in_value);
static bool type(struct v0 *v);
static bool konst(struct v0 *v, bool in_value);

/*
 * "B" <base-62-number> (the 'B' already eaten): re-parses at the earlier
 * position with fn. Skipped (number parsed only) while quiet or once the
 * output is full.
 */
static bool backref(struct v0 *v, bool (*fn)(struct v0 *, bool), bool arg)
{
	size_t start = v->pos - 1, save;
	uint64_t target;
	bool ok;

	if (!base62(v, &target) || target >= start)
		return false;
	if (v->quiet || dm_full(v->o))
		return true;
	if (++v->depth > DM_MAX_DEPTH)
		return false;
	save = v->pos;
	v->pos = (size_t)target;
	ok = fn(v, arg);
	v->pos = save;
	v->depth--;
	return ok;
}

static bool path_fn(struct v0 *v, bool in_value)
{
	return path(v, in_value);
}

static bool type_fn(struct v0 *v, bool unused)
{
	(void)unused;
	return type(v);
}

static bool konst_fn(struct v0 *v, bool in_value)
{
	return konst(v, in_value);
}

static bool skip_path(struct v0 *v)
{
	bool ok;

	v->quiet++;
	ok = path(v, false);
	v->quiet--;
	return ok;
}

static bool put_lifetime(struct v0 *v, uint64_t lt)
{
	uint64_t depth;

	if (lt == 0) {
		put(v, "'_");
		return true;
	}
	if (lt > v->bound_lifetimes)
		return false;
	depth = v->bound_lifetimes - lt;
	if (depth < 26) {
		char name[3] = {'\'', (char)('a' + depth), '\0'};

		put(v, name);
	} else {
		put(v, "'_");
		put_u64(v, depth);
	}
	return true;
}

/* <generic-arg> = <lifetime> | <type> | "K" <const> */
static bool generic_args(struct v0 *v)
{
	for (unsigned i = 0; !eat(v, 'E'); i++) {
		if (v->pos >= v->n)
			return false;
		if (i > 0)
			put(v, ", ");
		if (eat(v, 'L')) {
			uint64_t lt;

			if (!base62(v, &lt) || !put_lifetime(v, lt))
				return false;
		} else if (eat(v, 'K')) {
			if (!konst(v, false))
				return false;
		} else if (!type(v)) {
			return false;
		}
	}
	return true;
}

static bool enter(struct v0 *v)
{
	return ++v->depth <= DM_MAX_DEPTH;
}

/* The [<disambiguator>] <identifier> closing a nested path in namespace ns. */
static bool nested_ident(struct v0 *v, char ns)
{
	uint64_t dis;
	struct ident id;

	if (!disambiguator(v, &dis) || !ident(v, &id))
		return false;
	if (dm_is_upper(ns)) {
		/* special namespaces: closures, shims, ... */
		char other[2] = {ns, '\0'};

		put(v, "::{");
		if (ns == 'C')
			put(v, "closure");
		else if (ns == 'S')
			put(v, "shim");
		else
			put(v, other);
		if (!ident_empty(&id)) {
			put(v, ":");
			put_ident(v, &id);
		}
		put(v, "#");
		put_u64(v, dis);
		put(v, "}");
	} else if (!ident_empty(&id)) {
		put(v, "::");
		put_ident(v, &id);
	}
	return true;
}

static bool path_inner(struct v0 *v, bool in_value)
{
	char tag = peek(v);
	struct ident id;

	v->pos++;
	switch (tag) {
	case 'C': /* crate root; its disambiguator is not displayed */
		if ((eat(v, 's') && !skip_base62(v)) || !ident(v, &id))
			return false;
		put_ident(v, &id);
		return true;
	case 'N': { /* nested path: "N" <ns> <path> <ident>, often a chain */
		char chain[32];
		unsigned k = 0;

		/* collect the namespaces of a run of N's, then print outwards */
		do {
			char ns = peek(v);

			if (!dm_is_upper(ns) && !dm_is_lower(ns))
				return false;
			chain[k++] = ns;
			v->pos++;
		} while (k < sizeof(chain) && eat(v, 'N'));
		v->depth += k;
		if (v->depth > DM_MAX_DEPTH || !path(v, in_value))
			return false;
		v->depth -= k;
		while (k > 0) {
			if (!nested_ident(v, chain[--k]))
				return false;
		}
		return true;
	}
	case 'M': /* <T> inherent impl */
	case 'X': /* <T as Trait> trait impl */
	case 'Y': /* <T as Trait> trait definition */
		if (tag != 'Y' && ((eat(v, 's') && !skip_base62(v)) || !skip_path(v)))
			return false;
		put(v, "<");
		if (!type(v))
			return false;
		if (tag != 'M') {
			put(v, " as ");
			if (!path(v, false))
				return false;
		}
		put(v, ">");
		return true;
	case 'I': /* generic arguments */
		if (!path(v, in_value))
			return false;
		put(v, in_value ? "::<" : "<");
		if (!generic_args(v))
			return false;
		put(v, ">");
		return true;
	case 'B':
		return backref(v, path_fn, in_value);
	default:
		return false;
	}
}

static bool path(struct v0 *v, bool in_value)
{
	bool ok;

	if (!enter(v))
		return false;
	ok = path_inner(v, in_value);
	v->depth--;
	return ok;
}

static const char *basic_type(char c)
{
	switch (c) {
	case 'a': return "i8";
	case 'b': return "bool";
	case 'c': return "char";
	case 'd': return "f64";
	case 'e': return "str";
	case 'f': return "f32";
	case 'h': return "u8";
	case 'i': return "isize";
	case 'j': return "usize";
	case 'l': return "i32";
	case 'm': return "u32";
	case 'n': return "i128";
	case 'o': return "u128";
	case 's': return "i16";
	case 't': return "u16";
	case 'u': return "()";
	case 'v': return "...";
	case 'x': return "i64";
	case 'y': return "u64";
	case 'z': return "!";
	case 'p': return "_";
	default: return NULL;
	}
}

/* [<binder>] = ["G" <base-62-number>]: prints "for<'a, ...> ". */
static bool binder(struct v0 *v, uint64_t *count)
{
	uint64_t n;

	*count = 0;
	if (!eat(v, 'G'))
		return true;
	if (!base62(v, &n) || n >= 1024 - v->bound_lifetimes)
		return false;
	*count = n + 1;
	put(v, "for<");
	for (uint64_t i = 0; i < *count; i++) {
		if (i > 0)
			put(v, ", ");
		v->bound_lifetimes++;
		put_lifetime(v, 1);
	}
	put(v, "> ");
	return true;
}

/* <fn-sig> = [<binder>] ["U"] ["K" <abi>] {<type>} "E" <type> */
static bool fn_sig(struct v0 *v)
{
	uint64_t bound;
	bool ok = true;

	if (!binder(v, &bound))
		return false;
	if (eat(v, 'U'))
		put(v, "unsafe ");
	if (eat(v, 'K')) {
		put(v, "extern \"");
		if (eat(v, 'C')) {
			put(v, "C");
		} else {
			struct ident id;

			if (!ident(v, &id) || id.puny)
				ok = false;
			for (size_t i = 0; ok && i < id.ascii_len; i++)
				putn(v, id.ascii[i] == '_' ? "-" : id.ascii + i, 1);
		}
		put(v, "\" ");
	}
	put(v, "fn(");
	for (unsigned i = 0; ok && !eat(v, 'E'); i++) {
		if (v->pos >= v->n) {
			ok = false;
			break;
		}
		if (i > 0)
			put(v, ", ");
		ok = type(v);
	}
	put(v, ")");
	if (ok && !eat(v, 'u')) {
		put(v, " -> ");
		ok = type(v);
	}
	v->bound_lifetimes -= bound;
	return ok;
}

/*
 * The path of a dyn trait, leaving a generic argument list open so that
 * associated type bindings can be added: "Iterator<Item = u8>".
 */
static bool dyn_trait_path(struct v0 *v, bool *open)
{
	*open = false;
	if (eat(v, 'B')) {
		size_t start = v->pos - 1, save;
		uint64_t target;
		bool ok;

		if (!base62(v, &target) || target >= start)
			return false;
		if (v->quiet || dm_full(v->o))
			return true;
		if (!enter(v))
			return false;
		save = v->pos;
		v->pos = (size_t)target;
		ok = dyn_trait_path(v, open);
		v->pos = save;
		v->depth--;
		return ok;
	}
	if (eat(v, 'I')) {
		if (!path(v, false))
			return false;
		put(v, "<");
		*open = true;
		return generic_args(v);
	}
	return path(v, false);
}

/* <dyn-bounds> = [<binder>] {<dyn-trait>} "E", then <lifetime> */
static bool dyn_bounds(struct v0 *v)
{
	uint64_t bound, lt;
	bool ok = true;

	put(v, "dyn ");
	if (!binder(v, &bound))
		return false;
	for (unsigned i = 0; ok && !eat(v, 'E'); i++) {
		bool open;

		if (v->pos >= v->n) {
			ok = false;
			break;
		}
		if (i > 0)
			put(v, " + ");
		if (!dyn_trait_path(v, &open)) {
			ok = false;
			break;
		}
		while (ok && eat(v, 'p')) {
			struct ident id;

			put(v, open ? ", " : "<");
			open = true;
			if (!ident(v, &id)) {
				ok = false;
				break;
			}
			put_ident(v, &id);
			put(v, " = ");
			ok = type(v);
		}
		if (open)
			put(v, ">");
	}
	v->bound_lifetimes -= bound;
	if (!ok || !eat(v, 'L') || !base62(v, &lt))
		return false;
	if (lt != 0) {
		put(v, " + ");
		return put_lifetime(v, lt);
	}
	return true;
}

static bool type_inner(struct v0 *v)
{
	char tag = peek(v);
	const char *basic = basic_type(tag);

	if (basic) {
		v->pos++;
		put(v, basic);
		return true;
	}
	switch (tag) {
	case 'R':
	case 'Q':
		v->pos++;
		put(v, "&");
		if (eat(v, 'L')) {
			uint64_t lt;

			if (!base62(v, &lt))
				return false;
			if (lt != 0) {
				if (!put_lifetime(v, lt))
					return false;
				put(v, " ");
			}
		}
		if (tag == 'Q')
			put(v, "mut ");
		return type(v);
	case 'P':
		v->pos++;
		put(v, "*const ");
		return type(v);
	case 'O':
		v->pos++;
		put(v, "*mut ");
		return type(v);
	case 'A':
		v->pos++;
		put(v, "[");
		if (!type(v))
			return false;
		put(v, "; ");
		if (!konst(v, true))
			return false;
		put(v, "]");
		return true;
	case 'S':
		v->pos++;
		put(v, "[");
		if (!type(v))
			return false;
		put(v, "]");
		return true;
	case 'T': {
		unsigned i;

		v->pos++;
		put(v, "(");
		for (i = 0; !eat(v, 'E'); i++) {
			if (v->pos >= v->n)
				return false;
			if (i > 0)
				put(v, ", ");
			if (!type(v))
				return false;
		}
		put(v, i == 1 ? ",)" : ")");
		return true;
	}
	case 'F':
		v->pos++;
		return fn_sig(v);
	case 'D':
		v->pos++;
		return dyn_bounds(v);
	case 'B':
		v->pos++;
		return backref(v, type_fn, false);
	default:
		return path(v, false);
	}
}

static bool type(struct v0 *v)
{
	bool ok;

	if (!enter(v))
		return false;
	ok = type_inner(v);
	v->depth--;
	return ok;
}

/* {<hex-digit>} "_": the digits, without leading zeros. */
static bool hex_digits(struct v0 *v, const char **digits, size_t *n)
{
	size_t start = v->pos;

	while (is_lower_hex(peek(v)))
		v->pos++;
	if (!eat(v, '_'))
		return false;
	*digits = v->s + start;
	*n = v->pos - 1 - start;
	while (*n > 0 && **digits == '0') {
		(*digits)++;
		(*n)--;
	}
	return true;
}

static uint64_t hex_value(const char *d, size_t n)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++)
		x = x * 16 + (uint64_t)hex_val(d[i]);
	return x;
}

/* Prints an integer const value: decimal, or 0x... beyond 64 bits. */
static bool const_uint(struct v0 *v)
{
	const char *d;
	size_t n;

	if (!hex_digits(v, &d, &n))
		return false;
	if (n > 16) {
		put(v, "0x");
		putn(v, d, n);
	} else {
		put_u64(v, hex_value(d, n));
	}
	return true;
}

/* Rust's char::escape_debug for ASCII; other characters print as is. */
static void put_escaped(struct v0 *v, uint32_t c, char quote)
{
	char buf[16];

	if (v->quiet)
		return;
	switch (c) {
	case '\t': put(v, "\\t"); return;
	case '\r': put(v, "\\r"); return;
	case '\n': put(v, "\\n"); return;
	case '\\': put(v, "\\\\"); return;
	case '\0': put(v, "\\0"); return;
	default: break;
	}
	if (c == (uint32_t)quote) {
		buf[0] = '\\';
		buf[1] = quote;
		putn(v, buf, 2);
	} else if (is_control(c)) {
		static const char hex[] = "0123456789abcdef";
		size_t i = 0;
		int shift = 28;

		while (shift > 0 && ((c >> shift) & 0xf) == 0)
			shift -= 4;
		buf[i++] = '\\';
		buf[i++] = 'u';
		buf[i++] = '{';
		for (; shift >= 0; shift -= 4)
			buf[i++] = hex[(c >> shift) & 0xf];
		buf[i++] = '}';
		putn(v, buf, i);
	} else {
		put_utf8(v->o, c);
	}
}

/* A str const "e" <hex bytes> "_": printed as a string literal. */
static bool const_str(struct v0 *v)
{
	size_t start = v->pos, end, i;

	while (is_lower_hex(peek(v)))
		v->pos++;
	end = v->pos;
	if (!eat(v, '_') || (end - start) % 2 != 0)
		return false;
	put(v, "\"");
	for (i = start; i < end;) {
		uint32_t c = (uint32_t)(hex_val(v->s[i]) * 16 + hex_val(v->s[i + 1]));
		unsigned more = 0;

		i += 2;
		if (c >= 0x80) {
			if (c >= 0xf0 && c < 0xf5) {
				more = 3;
				c &= 0x07;
			} else if (c >= 0xe0 && c < 0xf0) {
				more = 2;
				c &= 0x0f;
			} else if (c >= 0xc2 && c < 0xe0) {
				more = 1;
				c &= 0x1f;
			} else {
				return false;
			}
			for (; more > 0; more--) {
				uint32_t b;

				if (i >= end)
					return false;
				b = (uint32_t)(hex_val(v->s[i]) * 16 + hex_val(v->s[i + 1]));
				i += 2;
				if ((b & 0xc0) != 0x80)
					return false;
				c = (c << 6) | (b & 0x3f);
			}
			if (!valid_char(c) || c < 0x80)
				return false;
		}
		put_escaped(v, c, '"');
	}
	put(v, "\"");
	return true;
}

static bool const_list(struct v0 *v, unsigned *count)
{
	unsigned i;

	for (i = 0; !eat(v, 'E'); i++) {
		if (v->pos >= v->n)
			return false;
		if (i > 0)
			put(v, ", ");
		if (!konst(v, true))
			return false;
	}
	*count = i;
	return true;
}

/*
 * <const> = <type> <const-data> | "p" | <backref>, plus rustc's structural
 * values (R/Q references, A arrays, T tuples, V variants). in_value tells
 * whether an enclosing expression is open; otherwise composite values are
 * wrapped in braces as in "f::<{&[1, 2]}>".
 */
static bool konst_inner(struct v0 *v, bool in_value)
{
	char tag = peek(v);
	bool brace = false, ok = true;
	unsigned count;

	v->pos++;
	if (!in_value && tag != '\0' && strchr("eRQATV", tag) && !(tag == 'R' && peek(v) == 'e')) {
		brace = true;
		put(v, "{");
	}
	switch (tag) {
	case 'p':
		put(v, "_");
		break;
	case 'h': case 't': case 'm': case 'y': case 'o': case 'j':
		ok = const_uint(v);
		break;
	case 'a': case 's': case 'l': case 'x': case 'n': case 'i':
		if (eat(v, 'n'))
			put(v, "-");
		ok = const_uint(v);
		break;
	case 'b': {
		const char *d;
		size_t n;

		ok = hex_digits(v, &d, &n) && (n == 0 || (n == 1 && d[0] == '1'));
		if (ok)
			put(v, n == 0 ? "false" : "true");
		break;
	}
	case 'c': {
		const char *d;
		size_t n;
		uint64_t c;

		if (!hex_digits(v, &d, &n) || n > 8)
			return false;
		c = hex_value(d, n);
		if (!valid_char(c))
			return false;
		put(v, "'");
		put_escaped(v, (uint32_t)c, '\'');
		put(v, "'");
		break;
	}
	case 'e':
		put(v, "*");
		ok = const_str(v);
		break;
	case 'R':
	case 'Q':
		if (tag == 'R' && eat(v, 'e')) {
			ok = const_str(v);
			break;
		}
		put(v, tag == 'R' ? "&" : "&mut ");
		ok = konst(v, true);
		break;
	case 'A':
		put(v, "[");
		ok = const_list(v, &count);
		put(v, "]");
		break;
	case 'T':
		put(v, "(");
		ok = const_list(v, &count);
		put(v, count == 1 ? ",)" : ")");
		break;
	case 'V':
		if (!path(v, true))
			return false;
		if (eat(v, 'U'))
			break;
		if (eat(v, 'T')) {
			put(v, "(");
			ok = const_list(v, &count);
			put(v, ")");
		} else if (eat(v, 'S')) {
			put(v, " { ");
			for (unsigned i = 0; ok && !eat(v, 'E'); i++) {
				uint64_t dis;
				struct ident id;

				if (v->pos >= v->n || !disambiguator(v, &dis) || !ident(v, &id))
					return false;
				if (i > 0)
					put(v, ", ");
				put_ident(v, &id);
				put(v, ": ");
				ok = konst(v, true);
			}
			put(v, " }");
		} else {
			return false;
		}
		break;
	case 'B':
		ok = backref(v, konst_fn, in_value);
		break;
	default:
		return false;
	}
	if (brace)
		put(v, "}");
	return ok;
}

static bool konst(struct v0 *v, bool in_value)
{
	bool ok;

	if (!enter(v))
		return false;
	ok = konst_inner(v, in_value);
	v->depth--;
	return ok;
}

size_t dm_rust_v0(const char *sym, size_t len, struct dm_out *o)
{
	struct v0 v;

	if (len < 3 || sym[0] != '_' || sym[1] != 'R' || !dm_is_upper(sym[2]))
		return 0; /* a digit here would be an encoding version: none defined */
	memset(&v, 0, sizeof(v));
	v.s = sym + 2;
	v.n = alnum_run(v.s, len - 2);
	v.o = o;
	if (!path(&v, true))
		return 0;
	if (dm_is_upper(peek(&v)) && !skip_path(&v))
		return 0; /* instantiating crate */
	return v.pos + 2;
}
