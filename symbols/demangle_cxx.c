/* SPDX-License-Identifier: MIT */
/*
 * demangle_cxx.c: Itanium C++ ABI symbol names, printed as GNU c++filt
 * prints them without --verbose ("std::string", not the full
 * basic_string<...> spelling).
 *
 * Two passes over a fixed-size node arena on the stack. The parser is a
 * recursive descent over the ABI grammar that builds a tree and records
 * substitution candidates (S_, S0_, ...) in the order the ABI defines;
 * substitutions and template parameters become references to earlier
 * nodes, so the tree is a DAG and nothing is copied. The printer walks the
 * tree and produces C++ declarator syntax: pointer, reference, cv and
 * pointer-to-member types are pushed on a stack of pending modifiers so a
 * function or array type underneath can print them inside its parentheses
 * ("void (*)(int)", "int (&) [3]"), the way c++filt does. Template
 * parameters (T_) are resolved at print time against the template
 * arguments of the function being printed; pack expansions repeat their
 * pattern once per element of the pack.
 *
 * Where c++filt's output has quirks, they are reproduced so the two agree
 * (the space dropped in "A<B<C>, >", the scope a reference to T_ is printed
 * in when it comes back through a substitution, "sr" names read both the
 * current and the pre-GCC-5 way).
 *
 * Limits keep it bounded: at most CX_MAX_NODES nodes (24 KiB of stack) and
 * CX_MAX_SUBS substitutions (larger symbols are not demangled), recursion
 * depth DM_MAX_DEPTH in both passes, and a step budget in each pass: the
 * parser backtracks after "cv T_ I", which nests exponentially in hostile
 * input, and shared subtrees can make the printed form exponentially
 * larger than the symbol; printing also stops once the output is full.
 */
#include "demangle_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The largest real symbols seen (2k characters) need under 300 nodes. */
#define CX_MAX_NODES 2048
#define CX_MAX_SUBS 1024
#define CX_MAX_SCOPES 32      /* remembered template scopes, see print_reference */
#define CX_MAX_SCOPE_DEPTH 16
#define CX_NONE (-1)

enum kind {
	K_NAME,      /* text (from the symbol, or static) */
	K_QUAL,      /* a::b */
	K_LOCAL,     /* a (encoding) :: b (entity) */
	K_TEMPLATE,  /* a<b> */
	K_LIST,      /* list cell: a = item (or NONE for an empty list), b = next */
	K_FUNC,      /* function encoding: a = name, b = K_FNTYPE */
	K_FNTYPE,    /* a = return type or NONE, b = parameter list, c = exception
	                spec operand; flags = F_* qualifiers */
	K_METHODQ,   /* a = nested name carrying cv/ref qualifiers (flags) */
	K_BUILTIN,   /* t = index into builtins[]; 0xffff: _Float<a..a+len> */
	K_CV,        /* a = type, flags = cv bits */
	K_PTR,       /* a = type */
	K_LREF,
	K_RREF,
	K_COMPLEX,
	K_IMAG,
	K_VENDORQ,   /* a = type, b = qualifier name */
	K_PTRMEM,    /* a = class, b = member type */
	K_ARRAY,     /* a = dimension or NONE, b = element type */
	K_VECTOR,    /* a = dimension, b = element type */
	K_TPARAM,    /* t = index */
	K_FNPARAM,   /* t = index: {parm#t+1} */
	K_CTOR,      /* a = name of the class */
	K_DTOR,
	K_OPERATOR,  /* t = index into ops[] */
	K_CAST,      /* operator <type>: a = type */
	K_LITOP,     /* operator"" <name>: a = name */
	K_VENDOROP,  /* operator <name>: a = name */
	K_SPECIAL,   /* t = index into specials[], a = what it is for */
	K_REFTEMP,   /* reference temporary #t for a */
	K_CTORVT,    /* construction vtable for a-in-b */
	K_PACKEXP,   /* a = pattern */
	K_ARGPACK,   /* a = list */
	K_ABITAG,    /* a = name, b = tag */
	K_LAMBDA,    /* a = parameter list, t = number */
	K_UNNAMED,   /* t = number */
	K_DEFARG,    /* {default arg#t}::a */
	K_DECLTYPE,  /* a = expression */
	K_BINDING,   /* structured binding: a = list of names */
	K_NULLARY,   /* t = op */
	K_UNARY,     /* t = op, a = operand */
	K_POSTFIX,   /* t = op, a = operand */
	K_BINARY,    /* t = op, a, b */
	K_TRINARY,   /* t = op, a, b, c */
	K_CASTEXPR,  /* (type)operand: a = type, b = operand */
	K_LITERAL,   /* a = type, b = K_NAME value; flags F_NEG */
	K_INITLIST,  /* a = type or NONE, b = list */
	K_NEW,       /* new: a = placement list, b = type, c = initializer */
	K_GLOBAL,    /* ::a */
	K_DTORNAME,  /* ~a in an expression */
	K_SIZEOFPACK,/* sizeof...(a) */
};

/* qualifier bits (K_CV, K_METHODQ, K_FNTYPE flags) */
enum {
	F_CONST = 1,
	F_VOLATILE = 2,
	F_RESTRICT = 4,
	F_LREF = 8,        /* ref-qualifier & */
	F_RREF = 16,       /* ref-qualifier && */
	F_NOEXCEPT = 32,   /* noexcept, or noexcept(c) when c is set */
	F_THROW = 64,      /* throw(c) */
	F_TXSAFE = 128,    /* transaction_safe */
};
/* other flags */
enum {
	F_STATIC = 1,      /* K_NAME: t indexes static_text[] */
	F_STDSUB = 2,      /* K_NAME: came from St/Sa/Ss/...: not a new candidate */
	F_NEG = 4,         /* K_LITERAL: negative */
};

struct node {
	uint8_t kind;
	uint8_t flags;
	uint16_t len;  /* K_NAME: text length */
	uint16_t t;    /* K_NAME: offset in the symbol or static index; else a number */
	int16_t a, b, c;
};

/* Pending declarator modifier (see print_function_type). */
struct pmod {
	struct pmod *next;
	const struct tctx *tmpl; /* template context to print it in */
	int node;                /* NONE: only this-qualifiers (quals) */
	unsigned quals;
	bool printed;
	bool name;               /* node is the name of a function encoding */
};

/* Stack of templates whose arguments T_ refers to, innermost first. */
struct tctx {
	const struct tctx *next;
	int tmpl; /* a K_TEMPLATE node */
};

struct cx {
	const char *s;
	size_t n, pos;
	struct node *nodes;
	int nn;
	int nsubs;
	int last_name;    /* for constructor and destructor names */
	unsigned depth;
	unsigned long psteps, max_psteps;
	bool is_conversion;
	bool is_expression;
	bool old_unresolved; /* see unresolved_name */
	/* printing */
	struct dm_out *o;
	struct pmod *mods;
	const struct tctx *tmpl;
	int cur_template;
	int pack_index;
	int lambda_arg;
	unsigned long steps, max_steps;
	size_t space_at;  /* see print_list */
	bool err;
	int nscopes;
	struct {
		int16_t tparam;
		uint8_t depth;
		int16_t tmpl[CX_MAX_SCOPE_DEPTH];
	} scopes[CX_MAX_SCOPES];
	/* not cleared per symbol: only the first nsubs / nscopes are live */
	int16_t subs[CX_MAX_SUBS];
};

/* ---- static tables --------------------------------------------------- */

static const struct {
	const char *code;
	const char *name;
	uint8_t literal; /* how a literal of the type prints: see print_literal */
} builtins[] = {
	{"a", "signed char", 0}, {"b", "bool", 8}, {"c", "char", 0},
	{"d", "double", 9}, {"e", "long double", 9}, {"f", "float", 9},
	{"g", "__float128", 9}, {"h", "unsigned char", 0}, {"i", "int", 1},
	{"j", "unsigned int", 2}, {"l", "long", 3}, {"m", "unsigned long", 4},
	{"n", "__int128", 0}, {"o", "unsigned __int128", 0}, {"s", "short", 0},
	{"t", "unsigned short", 0}, {"v", "void", 0}, {"w", "wchar_t", 0},
	{"x", "long long", 5}, {"y", "unsigned long long", 6}, {"z", "...", 0},
	{"Dd", "decimal64", 0}, {"De", "decimal128", 0}, {"Df", "decimal32", 0},
	{"Dh", "half", 9}, {"Di", "char32_t", 0}, {"Ds", "char16_t", 0},
	{"Du", "char8_t", 0}, {"Da", "auto", 0}, {"Dc", "decltype(auto)", 0},
	{"Dn", "decltype(nullptr)", 0},
};
#define BUILTIN_VOID 16
#define BUILTIN_NULLPTR 30

/* _Float<N>, _Float<N>x and std::bfloat16_t are made as static text. */

enum { OP_UNARY = 1, OP_BINARY = 2, OP_TRINARY = 3 };

static const struct {
	char code[3];
	const char *name; /* as printed in expressions */
	uint8_t args;
} ops[] = {
	{"aN", "&=", 2}, {"aS", "=", 2}, {"aa", "&&", 2}, {"ad", "&", 1},
	{"an", "&", 2}, {"at", "alignof ", 1}, {"aw", "co_await ", 1},
	{"az", "alignof ", 1}, {"cc", "const_cast", 2}, {"cl", "()", 2},
	{"cm", ",", 2}, {"co", "~", 1}, {"dV", "/=", 2}, {"dX", "[...]=", 3},
	{"da", "delete[] ", 1}, {"de", "*", 1}, {"di", "=", 2},
	{"dl", "delete ", 1}, {"ds", ".*", 2}, {"dt", ".", 2}, {"dv", "/", 2},
	{"dx", "]=", 2}, {"eO", "^=", 2}, {"eo", "^", 2}, {"eq", "==", 2},
	{"fL", "...", 3}, {"fR", "...", 3}, {"fl", "...", 2}, {"fr", "...", 2},
	{"ge", ">=", 2}, {"gs", "::", 1}, {"gt", ">", 2}, {"ix", "[]", 2},
	{"lS", "<<=", 2}, {"le", "<=", 2}, {"ls", "<<", 2}, {"lt", "<", 2},
	{"mI", "-=", 2}, {"mL", "*=", 2}, {"mi", "-", 2}, {"ml", "*", 2},
	{"mm", "--", 1}, {"na", "new[]", 3}, {"ne", "!=", 2}, {"ng", "-", 1},
	{"nt", "!", 1}, {"nw", "new", 3}, {"nx", "noexcept", 1}, {"oR", "|=", 2},
	{"oo", "||", 2}, {"or", "|", 2}, {"pL", "+=", 2}, {"pl", "+", 2},
	{"pm", "->*", 2}, {"pp", "++", 1}, {"ps", "+", 1}, {"pt", "->", 2},
	{"qu", "?", 3}, {"rM", "%=", 2}, {"rS", ">>=", 2},
	{"rc", "reinterpret_cast", 2}, {"rm", "%", 2}, {"rs", ">>", 2},
	{"sP", "sizeof...", 1}, {"sZ", "sizeof...", 1}, {"sc", "static_cast", 2},
	{"ss", "<=>", 2}, {"st", "sizeof ", 1}, {"sz", "sizeof ", 1},
	{"te", "typeid ", 1}, {"ti", "typeid ", 1}, {"tr", "throw", 0},
	{"tw", "throw ", 1}, {"dc", "dynamic_cast", 2},
};
#define NOPS ((int)(sizeof(ops) / sizeof(ops[0])))

/*
 * Every prefix the printer puts before a special name, in SP_ order. The
 * match key (demangle.c) keeps exactly these verbatim, so the two can never
 * drift apart.
 */
const char *const dm_cxx_specials[] = {
	"vtable for ", "VTT for ", "typeinfo for ", "typeinfo name for ",
	"typeinfo fn for ", "non-virtual thunk to ", "virtual thunk to ",
	"covariant return thunk to ", "guard variable for ",
	"TLS init function for ", "TLS wrapper function for ",
	"transaction clone for ", "non-transaction clone for ",
	"hidden alias for ", "java Class for ", "template parameter object for ",
	"construction vtable for ", "reference temporary #",
};
const size_t dm_cxx_nspecials = sizeof dm_cxx_specials / sizeof dm_cxx_specials[0];
#define specials dm_cxx_specials
enum {
	SP_VTABLE, SP_VTT, SP_TYPEINFO, SP_TYPEINFO_NAME, SP_TYPEINFO_FN,
	SP_NV_THUNK, SP_V_THUNK, SP_COV_THUNK, SP_GUARD, SP_TLS_INIT,
	SP_TLS_WRAPPER, SP_TX_CLONE, SP_NONTX_CLONE, SP_HIDDEN_ALIAS,
	SP_JAVA_CLASS, SP_TPARAM_OBJ, SP_CTOR_VTABLE, SP_REF_TEMP,
};

static const char *const static_text[] = {
	"std",
	"std::allocator",
	"std::basic_string",
	"std::string",
	"std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
	"std::istream",
	"std::basic_istream<char, std::char_traits<char> >",
	"std::ostream",
	"std::basic_ostream<char, std::char_traits<char> >",
	"std::iostream",
	"std::basic_iostream<char, std::char_traits<char> >",
	"allocator",
	"basic_string",
	"basic_istream",
	"basic_ostream",
	"basic_iostream",
	"(anonymous namespace)",
	"string literal",
	"std::bfloat16_t",
	"this",
};
enum {
	ST_STD, ST_ALLOCATOR, ST_BASIC_STRING, ST_STRING, ST_STRING_FULL,
	ST_ISTREAM, ST_ISTREAM_FULL, ST_OSTREAM, ST_OSTREAM_FULL, ST_IOSTREAM,
	ST_IOSTREAM_FULL, ST_N_ALLOCATOR, ST_N_BASIC_STRING, ST_N_BASIC_ISTREAM,
	ST_N_BASIC_OSTREAM, ST_N_BASIC_IOSTREAM, ST_ANON_NS, ST_STRING_LITERAL,
	ST_BFLOAT16, ST_THIS,
};

/* Standard abbreviations: code, non-verbose text, full text, class name. */
static const struct {
	char code;
	uint8_t simple, full;
	int8_t last;
} std_subs[] = {
	{'t', ST_STD, ST_STD, -1},
	{'a', ST_ALLOCATOR, ST_ALLOCATOR, ST_N_ALLOCATOR},
	{'b', ST_BASIC_STRING, ST_BASIC_STRING, ST_N_BASIC_STRING},
	{'s', ST_STRING, ST_STRING_FULL, ST_N_BASIC_STRING},
	{'i', ST_ISTREAM, ST_ISTREAM_FULL, ST_N_BASIC_ISTREAM},
	{'o', ST_OSTREAM, ST_OSTREAM_FULL, ST_N_BASIC_OSTREAM},
	{'d', ST_IOSTREAM, ST_IOSTREAM_FULL, ST_N_BASIC_IOSTREAM},
};

/* ---- parser helpers -------------------------------------------------- */

static char peek(const struct cx *c)
{
	return c->pos < c->n ? c->s[c->pos] : '\0';
}

static char peek2(const struct cx *c)
{
	return c->pos + 1 < c->n ? c->s[c->pos + 1] : '\0';
}

static bool eat(struct cx *c, char ch)
{
	if (peek(c) != ch)
		return false;
	c->pos++;
	return true;
}

static int mk(struct cx *c, int kind, int a, int b)
{
	struct node *nd;

	if (c->nn >= CX_MAX_NODES)
		return CX_NONE;
	nd = &c->nodes[c->nn];
	memset(nd, 0, sizeof(*nd));
	nd->kind = (uint8_t)kind;
	nd->a = (int16_t)a;
	nd->b = (int16_t)b;
	nd->c = CX_NONE;
	return c->nn++;
}

static struct node *N(struct cx *c, int i)
{
	return &c->nodes[i];
}

static int mk_name(struct cx *c, size_t off, size_t len)
{
	int i = mk(c, K_NAME, CX_NONE, CX_NONE);

	if (i != CX_NONE) {
		N(c, i)->t = (uint16_t)off;
		N(c, i)->len = (uint16_t)len;
	}
	return i;
}

static int mk_static(struct cx *c, int text)
{
	int i = mk(c, K_NAME, CX_NONE, CX_NONE);

	if (i != CX_NONE) {
		N(c, i)->flags = F_STATIC;
		N(c, i)->t = (uint16_t)text;
	}
	return i;
}

static int mk_num(struct cx *c, int kind, unsigned t, int a, int b)
{
	int i = mk(c, kind, a, b);

	if (i != CX_NONE)
		N(c, i)->t = (uint16_t)t;
	return i;
}

static bool add_sub(struct cx *c, int node)
{
	if (node == CX_NONE || c->nsubs >= CX_MAX_SUBS)
		return false;
	c->subs[c->nsubs++] = (int16_t)node;
	return true;
}

/* <number> ::= [n] <non-negative decimal>; bounded so it fits a uint16. */
static bool number(struct cx *c, long *out)
{
	bool neg = eat(c, 'n');
	long v = 0;

	if (!dm_is_digit(peek(c)))
		return false;
	while (dm_is_digit(peek(c))) {
		v = v * 10 + (peek(c) - '0');
		if (v > 0xffff)
			return false;
		c->pos++;
	}
	*out = neg ? -v : v;
	return true;
}

/* "_" is 0, "<number>_" is number + 1 (discriminators, lambda numbers). */
static bool compact_number(struct cx *c, long *out)
{
	long v = 0;

	if (eat(c, '_')) {
		*out = 0;
		return true;
	}
	if (!number(c, &v) || v < 0 || !eat(c, '_'))
		return false;
	*out = v + 1;
	return true;
}

/* A list under construction. */
struct list {
	int head, tail;
};

static bool list_add(struct cx *c, struct list *l, int item)
{
	int cell;

	if (item == CX_NONE)
		return false;
	cell = mk(c, K_LIST, item, CX_NONE);
	if (cell == CX_NONE)
		return false;
	if (l->head == CX_NONE)
		l->head = cell;
	else
		N(c, l->tail)->b = (int16_t)cell;
	l->tail = cell;
	return true;
}

/* An empty list prints nothing (empty packs, "()" parameter lists). */
static int list_done(struct cx *c, struct list *l)
{
	if (l->head == CX_NONE)
		return mk(c, K_LIST, CX_NONE, CX_NONE);
	return l->head;
}

static int type(struct cx *c);
static int name(struct cx *c);
static int encoding(struct cx *c);
static int expression(struct cx *c);
static int template_args(struct cx *c);
static int unqualified_name(struct cx *c);

/*
 * Every recursive parse step goes through here. Besides the depth, the
 * number of steps is bounded: backtracking after "cv T_ I" can reparse
 * nested template arguments, which hostile input can nest exponentially.
 */
static bool enter(struct cx *c)
{
	return ++c->depth <= DM_MAX_DEPTH && ++c->psteps <= c->max_psteps;
}

/* ---- names ----------------------------------------------------------- */

static int source_name(struct cx *c)
{
	size_t len = 0, off = c->pos;
	int r;

	while (off < c->n && dm_is_digit(c->s[off])) {
		len = len * 10 + (size_t)(c->s[off++] - '0');
		if (len > c->n)
			return CX_NONE;
	}
	if (len == 0 || len > c->n - off)
		return CX_NONE;
	c->pos = off + len;
	if (len >= 10 && memcmp(c->s + off, "_GLOBAL_", 8) == 0 &&
	    strchr("._$", c->s[off + 8]) && c->s[off + 9] == 'N')
		r = mk_static(c, ST_ANON_NS);
	else
		r = mk_name(c, off, len);
	c->last_name = r;
	return r;
}

/* Trailing "B <source-name>" ABI tags; they do not change last_name. */
static int abi_tags(struct cx *c, int r)
{
	int hold = c->last_name;

	while (r != CX_NONE && peek(c) == 'B') {
		int tag;

		c->pos++;
		tag = source_name(c);
		r = tag == CX_NONE ? CX_NONE : mk(c, K_ABITAG, r, tag);
	}
	c->last_name = hold;
	return r;
}

static int find_op(const char *code)
{
	for (int i = 0; i < NOPS; i++)
		if (ops[i].code[0] == code[0] && ops[i].code[1] == code[1])
			return i;
	return CX_NONE;
}

static int operator_name(struct cx *c)
{
	char code[2] = {peek(c), peek2(c)};
	int op;

	if (code[0] == 'c' && code[1] == 'v') {
		bool was = c->is_conversion;
		int t;

		c->pos += 2;
		c->is_conversion = !c->is_expression;
		t = type(c);
		c->is_conversion = was;
		return t == CX_NONE ? CX_NONE : mk(c, K_CAST, t, CX_NONE);
	}
	if (code[0] == 'l' && code[1] == 'i') {
		int nm;

		c->pos += 2;
		nm = source_name(c);
		return nm == CX_NONE ? CX_NONE : mk(c, K_LITOP, nm, CX_NONE);
	}
	if (code[0] == 'v' && dm_is_digit(code[1])) {
		int nm;

		c->pos += 2;
		nm = source_name(c);
		return nm == CX_NONE ? CX_NONE : mk(c, K_VENDOROP, nm, CX_NONE);
	}
	op = find_op(code);
	if (op == CX_NONE)
		return CX_NONE;
	c->pos += 2;
	return mk_num(c, K_OPERATOR, (unsigned)op, CX_NONE, CX_NONE);
}

static int ctor_dtor_name(struct cx *c)
{
	int kind = peek(c) == 'C' ? K_CTOR : K_DTOR;

	if (c->last_name == CX_NONE)
		return CX_NONE;
	c->pos++;
	if (kind == K_CTOR) {
		bool inheriting = eat(c, 'I');

		if (!strchr("12345", peek(c)) || peek(c) == '\0')
			return CX_NONE;
		c->pos++;
		if (inheriting && type(c) == CX_NONE)
			return CX_NONE;
	} else {
		if (!strchr("01245", peek(c)) || peek(c) == '\0')
			return CX_NONE;
		c->pos++;
	}
	return mk(c, kind, c->last_name, CX_NONE);
}

/*
 * Parameter types up to 'E', '.', the end, or a ref-qualifier ("RE"/"OE");
 * a lone "v" means no parameters. At least one type is required.
 */
static int parmlist(struct cx *c)
{
	struct list l = {CX_NONE, CX_NONE};

	for (;;) {
		char ch = peek(c);

		if (ch == '\0' || ch == 'E' || ch == '.' || ch == '@')
			break;
		if ((ch == 'R' || ch == 'O') && peek2(c) == 'E')
			break;
		if (!list_add(c, &l, type(c)))
			return CX_NONE;
	}
	if (l.head == CX_NONE)
		return CX_NONE;
	if (l.head == l.tail) {
		struct node *item = N(c, N(c, l.head)->a);

		if (item->kind == K_BUILTIN && item->t == BUILTIN_VOID)
			N(c, l.head)->a = CX_NONE;
	}
	return l.head;
}

static int unnamed_type_name(struct cx *c)
{
	long num;
	int r;

	if (peek2(c) == 't') {
		c->pos += 2;
		if (!compact_number(c, &num))
			return CX_NONE;
		r = mk_num(c, K_UNNAMED, (unsigned)num, CX_NONE, CX_NONE);
		if (!add_sub(c, r))
			return CX_NONE;
		return r;
	}
	if (peek2(c) == 'l') {
		int params;

		c->pos += 2;
		params = parmlist(c);
		if (params == CX_NONE || !eat(c, 'E') || !compact_number(c, &num))
			return CX_NONE;
		return mk_num(c, K_LAMBDA, (unsigned)num, params, CX_NONE);
	}
	return CX_NONE;
}

/*
 * <discriminator> ::= _ <digit> | __ <number> _. Like c++filt, a lone "_"
 * is accepted too (an empty number), which matters for "_ZGRL1x_".
 */
static bool discriminator(struct cx *c)
{
	long v = 0;
	bool two;

	if (!eat(c, '_'))
		return true;
	two = eat(c, '_');
	if (dm_is_digit(peek(c)) && (!number(c, &v) || v < 0))
		return false;
	if (two && v >= 10 && !eat(c, '_'))
		return false;
	return true;
}

static int unqualified_name(struct cx *c)
{
	char ch = peek(c);
	int r;

	if (dm_is_digit(ch)) {
		r = source_name(c);
	} else if (dm_is_lower(ch)) {
		r = operator_name(c);
	} else if (ch == 'D' && peek2(c) == 'C') {
		struct list l = {CX_NONE, CX_NONE};

		c->pos += 2;
		while (!eat(c, 'E'))
			if (!list_add(c, &l, source_name(c)))
				return CX_NONE;
		r = mk(c, K_BINDING, list_done(c, &l), CX_NONE);
	} else if (ch == 'C' || ch == 'D') {
		r = ctor_dtor_name(c);
	} else if (ch == 'L') {
		c->pos++;
		r = source_name(c);
		if (r != CX_NONE && !discriminator(c))
			return CX_NONE;
	} else if (ch == 'U') {
		r = unnamed_type_name(c);
	} else {
		return CX_NONE;
	}
	return abi_tags(c, r);
}

static unsigned cv_qualifiers(struct cx *c)
{
	unsigned q = 0;

	for (;;) {
		if (eat(c, 'r'))
			q |= F_RESTRICT;
		else if (eat(c, 'V'))
			q |= F_VOLATILE;
		else if (eat(c, 'K'))
			q |= F_CONST;
		else
			return q;
	}
}

/*
 * <substitution> after its 'S'. In a prefix followed by a constructor or
 * destructor, std::string and friends take their full spelling (that is
 * what c++filt prints, and it names the constructor).
 */
static int substitution(struct cx *c, bool prefix)
{
	char ch;

	c->pos++; /* 'S' */
	ch = peek(c);
	if (ch == '_' || dm_is_digit(ch) || dm_is_upper(ch)) {
		unsigned long id = 0;

		if (!eat(c, '_')) {
			while (!eat(c, '_')) {
				ch = peek(c);
				if (dm_is_digit(ch))
					id = id * 36 + (unsigned long)(ch - '0');
				else if (dm_is_upper(ch))
					id = id * 36 + (unsigned long)(ch - 'A' + 10);
				else
					return CX_NONE;
				if (id > CX_MAX_SUBS)
					return CX_NONE;
				c->pos++;
			}
			id++;
		}
		if (id >= (unsigned long)c->nsubs)
			return CX_NONE;
		return c->subs[id];
	}
	for (size_t i = 0; i < sizeof(std_subs) / sizeof(std_subs[0]); i++) {
		if (std_subs[i].code == ch) {
			bool full;
			int r;

			c->pos++;
			full = prefix && (peek(c) == 'C' || peek(c) == 'D');
			if (std_subs[i].last >= 0)
				c->last_name = mk_static(c, std_subs[i].last);
			r = mk_static(c, full ? std_subs[i].full : std_subs[i].simple);
			if (r == CX_NONE)
				return CX_NONE;
			N(c, r)->flags |= F_STDSUB;
			if (peek(c) == 'B') {
				r = abi_tags(c, r);
				if (!add_sub(c, r))
					return CX_NONE;
			}
			return r;
		}
	}
	return CX_NONE;
}

static int template_param(struct cx *c)
{
	long v = 0;

	c->pos++; /* 'T' */
	if (!eat(c, '_')) {
		if (!number(c, &v) || v < 0 || !eat(c, '_'))
			return CX_NONE;
		v++;
	}
	return mk_num(c, K_TPARAM, (unsigned)v, CX_NONE, CX_NONE);
}

static int decltype_(struct cx *c)
{
	int e;

	c->pos += 2; /* Dt / DT */
	e = expression(c);
	if (e == CX_NONE || !eat(c, 'E'))
		return CX_NONE;
	return mk(c, K_DECLTYPE, e, CX_NONE);
}

/* <nested-name> ::= N [<CV-qualifiers>] [<ref-qualifier>] <prefix> E */
static int nested_name(struct cx *c)
{
	unsigned q;
	int r = CX_NONE;

	c->pos++; /* 'N' */
	q = cv_qualifiers(c);
	if (eat(c, 'R'))
		q |= F_LREF;
	else if (eat(c, 'O'))
		q |= F_RREF;
	for (;;) {
		char ch = peek(c), ch2 = peek2(c);
		int comp;
		bool from_sub = false;

		if (ch == 'E') {
			c->pos++;
			break;
		}
		if (ch == 'D' && (ch2 == 't' || ch2 == 'T')) {
			comp = decltype_(c);
		} else if (ch == 'S') {
			if (ch2 == 't') {
				c->pos += 2;
				comp = mk_static(c, ST_STD);
				if (comp != CX_NONE)
					N(c, comp)->flags |= F_STDSUB;
			} else {
				comp = substitution(c, true);
			}
			from_sub = true;
		} else if (ch == 'I') {
			int args;

			if (r == CX_NONE)
				return CX_NONE;
			args = template_args(c);
			if (args == CX_NONE)
				return CX_NONE;
			r = mk(c, K_TEMPLATE, r, args);
			if (r == CX_NONE)
				return CX_NONE;
			if (peek(c) != 'E' && !add_sub(c, r))
				return CX_NONE;
			continue;
		} else if (ch == 'T') {
			comp = template_param(c);
		} else if (ch == 'M') {
			/* initializer scope of a lambda: nothing to print */
			if (r == CX_NONE)
				return CX_NONE;
			c->pos++;
			continue;
		} else if (dm_is_digit(ch) || dm_is_lower(ch) || ch == 'C' || ch == 'D' ||
			   ch == 'U' || ch == 'L') {
			comp = unqualified_name(c);
		} else {
			return CX_NONE;
		}
		if (comp == CX_NONE)
			return CX_NONE;
		r = r == CX_NONE ? comp : mk(c, K_QUAL, r, comp);
		if (r == CX_NONE)
			return CX_NONE;
		if (!from_sub && peek(c) != 'E' && !add_sub(c, r))
			return CX_NONE;
	}
	if (r == CX_NONE)
		return CX_NONE;
	if (q) {
		r = mk(c, K_METHODQ, r, CX_NONE);
		if (r != CX_NONE)
			N(c, r)->flags = (uint8_t)q;
	}
	return r;
}

/* <local-name> ::= Z <encoding> E <entity> [<discriminator>] | ... s | ... d */
static int local_name(struct cx *c)
{
	int enc, ent;

	c->pos++; /* 'Z' */
	enc = encoding(c);
	if (enc == CX_NONE || !eat(c, 'E'))
		return CX_NONE;
	if (eat(c, 's')) {
		if (!discriminator(c))
			return CX_NONE;
		ent = mk_static(c, ST_STRING_LITERAL);
	} else {
		long num = -1;
		int k;

		if (eat(c, 'd') && !compact_number(c, &num))
			return CX_NONE;
		ent = name(c);
		if (ent == CX_NONE)
			return CX_NONE;
		k = N(c, ent)->kind;
		if (k != K_LAMBDA && k != K_UNNAMED && !discriminator(c))
			return CX_NONE;
		if (num >= 0)
			ent = mk_num(c, K_DEFARG, (unsigned)num, ent, CX_NONE);
	}
	if (ent == CX_NONE)
		return CX_NONE;
	/* c++filt leaves out the return type of the enclosing function */
	if (N(c, enc)->kind == K_FUNC)
		N(c, N(c, enc)->b)->a = CX_NONE;
	return mk(c, K_LOCAL, enc, ent);
}

static int name_inner(struct cx *c)
{
	char ch = peek(c);
	int r;

	if (ch == 'N')
		return nested_name(c);
	if (ch == 'Z')
		return local_name(c);
	if (ch == 'S' && peek2(c) != 't') {
		r = substitution(c, false);
		if (r != CX_NONE && peek(c) == 'I') {
			int args = template_args(c);

			r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
		}
		return r;
	}
	if (ch == 'S') {
		int std;

		c->pos += 2;
		std = mk_static(c, ST_STD);
		r = unqualified_name(c);
		if (std == CX_NONE || r == CX_NONE)
			return CX_NONE;
		r = mk(c, K_QUAL, std, r);
	} else {
		r = unqualified_name(c);
	}
	if (r != CX_NONE && peek(c) == 'I') {
		int args;

		if (!add_sub(c, r))
			return CX_NONE;
		args = template_args(c);
		r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
	}
	return r;
}

static int name(struct cx *c)
{
	int r;

	if (!enter(c))
		return CX_NONE;
	r = name_inner(c);
	c->depth--;
	return r;
}

/* ---- types ----------------------------------------------------------- */

static int builtin(struct cx *c)
{
	char a = peek(c), b = peek2(c);

	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		const char *code = builtins[i].code;

		if (code[0] == a && (code[1] == '\0' || code[1] == b)) {
			c->pos += code[1] ? 2 : 1;
			return mk_num(c, K_BUILTIN, (unsigned)i, CX_NONE, CX_NONE);
		}
	}
	return CX_NONE;
}

static int function_type(struct cx *c)
{
	int ret, params, r;
	unsigned q = 0;

	c->pos++; /* 'F' */
	eat(c, 'Y');
	ret = type(c);
	if (ret == CX_NONE)
		return CX_NONE;
	params = parmlist(c);
	if (params == CX_NONE)
		return CX_NONE;
	if (eat(c, 'R'))
		q = F_LREF;
	else if (eat(c, 'O'))
		q = F_RREF;
	if (!eat(c, 'E'))
		return CX_NONE;
	r = mk(c, K_FNTYPE, ret, params);
	if (r != CX_NONE)
		N(c, r)->flags = (uint8_t)q;
	return r;
}

/*
 * Exception specifications and transaction_safe before a function type:
 * Do, DO <expr> E, Dw <type>* E, Dx. Returns the function type.
 */
static int fn_spec_type(struct cx *c, unsigned q)
{
	unsigned extra = 0;
	int operand = CX_NONE, r;

	for (;;) {
		if (peek(c) != 'D')
			break;
		if (peek2(c) == 'o') {
			c->pos += 2;
			extra |= F_NOEXCEPT;
		} else if (peek2(c) == 'O') {
			c->pos += 2;
			extra |= F_NOEXCEPT;
			operand = expression(c);
			if (operand == CX_NONE || !eat(c, 'E'))
				return CX_NONE;
		} else if (peek2(c) == 'w') {
			struct list l = {CX_NONE, CX_NONE};

			c->pos += 2;
			extra |= F_THROW;
			while (!eat(c, 'E'))
				if (!list_add(c, &l, type(c)))
					return CX_NONE;
			operand = list_done(c, &l);
		} else if (peek2(c) == 'x') {
			c->pos += 2;
			extra |= F_TXSAFE;
		} else {
			break;
		}
	}
	if (peek(c) != 'F')
		return CX_NONE;
	r = function_type(c);
	if (r == CX_NONE)
		return CX_NONE;
	N(c, r)->flags |= (uint8_t)(q | extra);
	N(c, r)->c = (int16_t)operand;
	return r;
}

static int array_type(struct cx *c)
{
	int dim = CX_NONE, elem;

	c->pos++; /* 'A' */
	if (dm_is_digit(peek(c))) {
		size_t start = c->pos;

		while (dm_is_digit(peek(c)))
			c->pos++;
		dim = mk_name(c, start, c->pos - start);
	} else if (peek(c) != '_') {
		dim = expression(c);
	}
	if ((dim == CX_NONE && peek(c) != '_') || !eat(c, '_'))
		return CX_NONE;
	elem = type(c);
	return elem == CX_NONE ? CX_NONE : mk(c, K_ARRAY, dim, elem);
}

static int vector_type(struct cx *c)
{
	int dim, elem;

	c->pos += 2; /* Dv */
	if (eat(c, '_')) {
		dim = expression(c);
	} else {
		size_t start = c->pos;

		while (dm_is_digit(peek(c)))
			c->pos++;
		dim = c->pos > start ? mk_name(c, start, c->pos - start) : CX_NONE;
	}
	if (dim == CX_NONE || !eat(c, '_'))
		return CX_NONE;
	elem = type(c);
	return elem == CX_NONE ? CX_NONE : mk(c, K_VECTOR, dim, elem);
}

static int type_inner(struct cx *c)
{
	char ch = peek(c), ch2 = peek2(c);
	int r, inner;

	if (ch == 'r' || ch == 'V' || ch == 'K') {
		unsigned q = cv_qualifiers(c);

		if (peek(c) == 'F' || (peek(c) == 'D' && strchr("oOwx", peek2(c)) && peek2(c))) {
			/* qualifiers of a function type apply to "this" */
			r = fn_spec_type(c, q);
		} else {
			inner = type(c);
			r = inner == CX_NONE ? CX_NONE : mk(c, K_CV, inner, CX_NONE);
			if (r != CX_NONE)
				N(c, r)->flags = (uint8_t)q;
		}
		return add_sub(c, r) ? r : CX_NONE;
	}
	switch (ch) {
	case 'P':
	case 'R':
	case 'O':
	case 'C':
	case 'G':
		c->pos++;
		inner = type(c);
		if (inner == CX_NONE)
			return CX_NONE;
		r = mk(c, ch == 'P' ? K_PTR : ch == 'R' ? K_LREF : ch == 'O' ? K_RREF :
			  ch == 'C' ? K_COMPLEX : K_IMAG, inner, CX_NONE);
		return add_sub(c, r) ? r : CX_NONE;
	case 'F':
		r = function_type(c);
		return add_sub(c, r) ? r : CX_NONE;
	case 'A':
		r = array_type(c);
		return add_sub(c, r) ? r : CX_NONE;
	case 'M': {
		int cls, mem;

		c->pos++;
		cls = type(c);
		mem = cls == CX_NONE ? CX_NONE : type(c);
		r = mem == CX_NONE ? CX_NONE : mk(c, K_PTRMEM, cls, mem);
		return add_sub(c, r) ? r : CX_NONE;
	}
	case 'T': {
		if (ch2 == 's' || ch2 == 'u' || ch2 == 'e') {
			/* elaborated type specifier: struct/union/enum name */
			c->pos += 2;
			r = name(c);
			return add_sub(c, r) ? r : CX_NONE;
		}
		r = template_param(c);
		if (r == CX_NONE || !add_sub(c, r))
			return CX_NONE;
		if (peek(c) == 'I') {
			int args;

			if (!c->is_conversion) {
				args = template_args(c);
				r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
				return add_sub(c, r) ? r : CX_NONE;
			} else {
				/*
				 * In "cv T_ I...E" the arguments belong to the
				 * operator unless a second list follows.
				 */
				size_t pos = c->pos;
				int nn = c->nn, nsubs = c->nsubs, last = c->last_name;

				args = template_args(c);
				if (args != CX_NONE && peek(c) == 'I') {
					r = mk(c, K_TEMPLATE, r, args);
					return add_sub(c, r) ? r : CX_NONE;
				}
				c->pos = pos;
				c->nn = nn;
				c->nsubs = nsubs;
				c->last_name = last;
			}
		}
		return r;
	}
	case 'S':
		if (dm_is_digit(ch2) || ch2 == '_' || dm_is_upper(ch2)) {
			r = substitution(c, false);
			if (r != CX_NONE && peek(c) == 'I') {
				int args = template_args(c);

				r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
				return add_sub(c, r) ? r : CX_NONE;
			}
			return r;
		}
		r = name(c);
		if (r != CX_NONE && N(c, r)->kind == K_NAME && (N(c, r)->flags & F_STDSUB))
			return r;
		return add_sub(c, r) ? r : CX_NONE;
	case 'U': {
		int q, args;

		c->pos++;
		q = source_name(c);
		if (q != CX_NONE && peek(c) == 'I') {
			args = template_args(c);
			q = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, q, args);
		}
		inner = q == CX_NONE ? CX_NONE : type(c);
		r = inner == CX_NONE ? CX_NONE : mk(c, K_VENDORQ, inner, q);
		return add_sub(c, r) ? r : CX_NONE;
	}
	case 'u': {
		c->pos++;
		r = source_name(c);
		if (r != CX_NONE && peek(c) == 'I') {
			int args = template_args(c);

			r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
		}
		return add_sub(c, r) ? r : CX_NONE;
	}
	case 'D':
		switch (ch2) {
		case 't':
		case 'T':
			r = decltype_(c);
			return add_sub(c, r) ? r : CX_NONE;
		case 'p':
			c->pos += 2;
			inner = type(c);
			r = inner == CX_NONE ? CX_NONE : mk(c, K_PACKEXP, inner, CX_NONE);
			return add_sub(c, r) ? r : CX_NONE;
		case 'v':
			r = vector_type(c);
			return add_sub(c, r) ? r : CX_NONE;
		case 'o':
		case 'O':
		case 'w':
		case 'x':
			r = fn_spec_type(c, 0);
			return add_sub(c, r) ? r : CX_NONE;
		case 'F': {
			/* DF <N> _ (_FloatN), DF <N> x (_FloatNx), DF16b */
			size_t start;

			c->pos += 2;
			start = c->pos;
			while (dm_is_digit(peek(c)))
				c->pos++;
			if (c->pos == start)
				return CX_NONE;
			if (c->pos - start == 2 && memcmp(c->s + start, "16", 2) == 0 &&
			    peek(c) == 'b') {
				c->pos++;
				return mk_static(c, ST_BFLOAT16);
			}
			if (peek(c) != '_' && peek(c) != 'x')
				return CX_NONE;
			/* printed from the symbol text: "_Float" + digits [+ "x"] */
			r = mk_num(c, K_BUILTIN, 0xffff, CX_NONE, CX_NONE);
			if (r != CX_NONE) {
				N(c, r)->len = (uint16_t)(c->pos - start + (peek(c) == 'x'));
				N(c, r)->a = (int16_t)start;
			}
			c->pos++;
			return r;
		}
		default:
			r = builtin(c);
			return r;
		}
	default:
		break;
	}
	if (dm_is_digit(ch) || ch == 'N' || ch == 'Z') {
		r = name(c);
		return add_sub(c, r) ? r : CX_NONE;
	}
	return builtin(c);
}

static int type(struct cx *c)
{
	int r;

	if (!enter(c))
		return CX_NONE;
	r = type_inner(c);
	c->depth--;
	return r;
}

/* ---- template arguments and expressions ------------------------------ */

static int expr_primary(struct cx *c);

static int template_arg(struct cx *c)
{
	int r;

	switch (peek(c)) {
	case 'X':
		c->pos++;
		r = expression(c);
		return r != CX_NONE && eat(c, 'E') ? r : CX_NONE;
	case 'L':
		return expr_primary(c);
	case 'J': {
		struct list l = {CX_NONE, CX_NONE};

		c->pos++;
		while (!eat(c, 'E')) {
			if (peek(c) == '\0' || !list_add(c, &l, template_arg(c)))
				return CX_NONE;
		}
		return mk(c, K_ARGPACK, list_done(c, &l), CX_NONE);
	}
	default:
		return type(c);
	}
}

/* <template-args> ::= I <template-arg>* E; they do not change last_name. */
static int template_args(struct cx *c)
{
	struct list l = {CX_NONE, CX_NONE};
	int hold = c->last_name;

	if (!enter(c))
		return CX_NONE;
	c->pos++; /* 'I' */
	while (!eat(c, 'E')) {
		if (peek(c) == '\0' || !list_add(c, &l, template_arg(c))) {
			c->depth--;
			return CX_NONE;
		}
	}
	c->last_name = hold;
	c->depth--;
	return list_done(c, &l);
}

static int expr_primary(struct cx *c)
{
	int t, r, v;
	bool neg;
	size_t start;

	c->pos++; /* 'L' */
	if (peek(c) == '_' || peek(c) == 'Z') {
		if (peek(c) == '_' && peek2(c) != 'Z')
			return CX_NONE;
		c->pos += peek(c) == '_' ? 2 : 1;
		r = encoding(c);
		return r != CX_NONE && eat(c, 'E') ? r : CX_NONE;
	}
	t = type(c);
	if (t == CX_NONE)
		return CX_NONE;
	if (N(c, t)->kind == K_BUILTIN && N(c, t)->t == BUILTIN_NULLPTR && eat(c, 'E'))
		return t;
	neg = eat(c, 'n');
	start = c->pos;
	while (peek(c) != 'E') {
		if (peek(c) == '\0')
			return CX_NONE;
		c->pos++;
	}
	v = mk_name(c, start, c->pos - start);
	c->pos++;
	r = v == CX_NONE ? CX_NONE : mk(c, K_LITERAL, t, v);
	if (r != CX_NONE && neg)
		N(c, r)->flags = F_NEG;
	return r;
}

static int exprlist(struct cx *c, char end)
{
	struct list l = {CX_NONE, CX_NONE};

	while (!eat(c, end)) {
		if (peek(c) == '\0' || !list_add(c, &l, expression(c)))
			return CX_NONE;
	}
	return list_done(c, &l);
}

/*
 * <unresolved-name> after "sr". The current mangling is
 *   <simple-id>+ E <base-unresolved-name>        ("sr1AE1x" for A::x)
 *   <unresolved-type> <base-unresolved-name>     (T_, decltype, S_, N...E)
 * but GCC before 5 wrote "sr1A1x" (a type, then the name), which reads the
 * same way up to the missing E; like c++filt, dm_cxx() tries the current
 * form first and reparses with old_unresolved set when the symbol fails.
 * The base name is qualified before its template arguments are applied,
 * so "std::declval<T>" prints in parentheses when called.
 */
static int unresolved_name(struct cx *c)
{
	char ch;
	int r = CX_NONE, nm;

	c->pos += 2; /* sr */
	ch = peek(c);
	if (!c->old_unresolved &&
	    (dm_is_digit(ch) || dm_is_lower(ch) || ch == 'C' || ch == 'U' || ch == 'L')) {
		for (;;) {
			ch = peek(c);
			if (ch == 'I') {
				int args;

				if (r == CX_NONE)
					return CX_NONE;
				args = template_args(c);
				r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
			} else if (dm_is_digit(ch) || dm_is_lower(ch) || ch == 'C' || ch == 'U' ||
				   ch == 'L') {
				nm = unqualified_name(c);
				r = nm == CX_NONE ? CX_NONE : r == CX_NONE ? nm : mk(c, K_QUAL, r, nm);
			} else {
				break;
			}
			if (r == CX_NONE)
				return CX_NONE;
		}
		eat(c, 'E');
	} else {
		r = type(c);
	}
	if (r == CX_NONE)
		return CX_NONE;
	if (peek(c) == 'd' && peek2(c) == 'n') {
		c->pos += 2;
		nm = dm_is_digit(peek(c)) ? source_name(c) : type(c);
		nm = nm == CX_NONE ? CX_NONE : mk(c, K_DTORNAME, nm, CX_NONE);
	} else {
		if (peek(c) == 'o' && peek2(c) == 'n')
			c->pos += 2;
		nm = unqualified_name(c);
	}
	r = nm == CX_NONE ? CX_NONE : mk(c, K_QUAL, r, nm);
	if (r != CX_NONE && peek(c) == 'I') {
		int args = template_args(c);

		r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
	}
	return r;
}

static int expression_inner(struct cx *c)
{
	char ch = peek(c), ch2 = peek2(c);
	int op, r, a, b, t;

	if (ch == 'L')
		return expr_primary(c);
	if (ch == 'T')
		return template_param(c);
	if (ch == 's' && ch2 == 'r')
		return unresolved_name(c);
	if (ch == 's' && ch2 == 'p') {
		c->pos += 2;
		a = expression(c);
		return a == CX_NONE ? CX_NONE : mk(c, K_PACKEXP, a, CX_NONE);
	}
	if (ch == 'f' && ch2 == 'p') {
		long idx = 0;

		c->pos += 2;
		if (eat(c, 'T'))
			return mk_static(c, ST_THIS);
		cv_qualifiers(c);
		if (!compact_number(c, &idx))
			return CX_NONE;
		return mk_num(c, K_FNPARAM, (unsigned)idx, CX_NONE, CX_NONE);
	}
	if (ch == 'f' && ch2 == 'L') {
		long lvl, idx = 0;

		c->pos += 2;
		if (!number(c, &lvl) || !eat(c, 'p'))
			return CX_NONE;
		cv_qualifiers(c);
		if (!compact_number(c, &idx))
			return CX_NONE;
		return mk_num(c, K_FNPARAM, (unsigned)idx, CX_NONE, CX_NONE);
	}
	if (dm_is_digit(ch) || (ch == 'o' && ch2 == 'n')) {
		if (ch == 'o')
			c->pos += 2;
		r = unqualified_name(c);
		if (r != CX_NONE && peek(c) == 'I') {
			int args = template_args(c);

			r = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, r, args);
		}
		return r;
	}
	if (ch == 'd' && ch2 == 'n') {
		c->pos += 2;
		a = dm_is_digit(peek(c)) ? unqualified_name(c) : type(c);
		return a == CX_NONE ? CX_NONE : mk(c, K_DTORNAME, a, CX_NONE);
	}
	if ((ch == 'i' || ch == 't') && ch2 == 'l') {
		c->pos += 2;
		t = CX_NONE;
		if (ch == 't' && (t = type(c)) == CX_NONE)
			return CX_NONE;
		a = exprlist(c, 'E');
		return a == CX_NONE ? CX_NONE : mk(c, K_INITLIST, t, a);
	}
	if (ch == 'g' && ch2 == 's') {
		c->pos += 2;
		a = expression(c);
		return a == CX_NONE ? CX_NONE : mk(c, K_GLOBAL, a, CX_NONE);
	}
	if (ch == 's' && (ch2 == 'Z' || ch2 == 'P')) {
		c->pos += 2;
		if (ch2 == 'Z') {
			a = expression(c);
		} else {
			struct list l = {CX_NONE, CX_NONE};

			while (!eat(c, 'E'))
				if (peek(c) == '\0' || !list_add(c, &l, template_arg(c)))
					return CX_NONE;
			a = mk(c, K_ARGPACK, list_done(c, &l), CX_NONE);
		}
		return a == CX_NONE ? CX_NONE : mk(c, K_SIZEOFPACK, a, CX_NONE);
	}
	if (ch == 'c' && ch2 == 'v') {
		c->pos += 2;
		t = type(c);
		if (t == CX_NONE)
			return CX_NONE;
		if (eat(c, '_'))
			a = exprlist(c, 'E');
		else
			a = expression(c);
		return a == CX_NONE ? CX_NONE : mk(c, K_CASTEXPR, t, a);
	}

	op = find_op((char[2]){ch, ch2});
	if (op == CX_NONE)
		return CX_NONE;
	c->pos += 2;
	switch (ops[op].args) {
	case 0:
		return mk_num(c, K_NULLARY, (unsigned)op, CX_NONE, CX_NONE);
	case 1:
		if (!strcmp(ops[op].code, "st") || !strcmp(ops[op].code, "at") ||
		    !strcmp(ops[op].code, "ti"))
			a = type(c);
		else if ((ch == 'p' || ch == 'm') && ch2 == ch && !eat(c, '_'))
			return (a = expression(c)) == CX_NONE ? CX_NONE :
			       mk_num(c, K_POSTFIX, (unsigned)op, a, CX_NONE);
		else
			a = expression(c);
		return a == CX_NONE ? CX_NONE : mk_num(c, K_UNARY, (unsigned)op, a, CX_NONE);
	case 2:
		if (!strcmp(ops[op].code, "dc") || !strcmp(ops[op].code, "sc") ||
		    !strcmp(ops[op].code, "cc") || !strcmp(ops[op].code, "rc"))
			a = type(c);
		else if (ch == 'f')
			a = operator_name(c);
		else
			a = expression(c);
		if (a == CX_NONE)
			return CX_NONE;
		if (!strcmp(ops[op].code, "cl")) {
			b = exprlist(c, 'E');
		} else if (!strcmp(ops[op].code, "dt") || !strcmp(ops[op].code, "pt")) {
			if ((peek(c) == 'g' && peek2(c) == 's') || (peek(c) == 's' && peek2(c) == 'r')) {
				b = expression(c);
			} else {
				b = unqualified_name(c);
				if (b != CX_NONE && peek(c) == 'I') {
					int args = template_args(c);

					b = args == CX_NONE ? CX_NONE : mk(c, K_TEMPLATE, b, args);
				}
			}
		} else {
			b = expression(c);
		}
		return b == CX_NONE ? CX_NONE : mk_num(c, K_BINARY, (unsigned)op, a, b);
	case 3:
		if (ch == 'n') {
			int init = CX_NONE;

			a = exprlist(c, '_');
			b = a == CX_NONE ? CX_NONE : type(c);
			if (b == CX_NONE)
				return CX_NONE;
			if (eat(c, 'E')) {
				init = CX_NONE;
			} else if (peek(c) == 'p' && peek2(c) == 'i') {
				c->pos += 2;
				if ((init = exprlist(c, 'E')) == CX_NONE)
					return CX_NONE;
			} else if (peek(c) == 'i' && peek2(c) == 'l') {
				if ((init = expression(c)) == CX_NONE)
					return CX_NONE;
			} else {
				return CX_NONE;
			}
			r = mk_num(c, K_NEW, (unsigned)op, a, b);
			if (r != CX_NONE)
				N(c, r)->c = (int16_t)init;
			return r;
		}
		a = ch == 'f' ? operator_name(c) : expression(c);
		b = a == CX_NONE ? CX_NONE : expression(c);
		t = b == CX_NONE ? CX_NONE : expression(c);
		r = t == CX_NONE ? CX_NONE : mk_num(c, K_TRINARY, (unsigned)op, a, b);
		if (r != CX_NONE)
			N(c, r)->c = (int16_t)t;
		return r;
	default:
		return CX_NONE;
	}
}

static int expression(struct cx *c)
{
	bool was = c->is_expression;
	int r;

	if (!enter(c))
		return CX_NONE;
	c->is_expression = true;
	r = expression_inner(c);
	c->is_expression = was;
	c->depth--;
	return r;
}

/* ---- encodings and special names ------------------------------------- */

static bool call_offset(struct cx *c, char kind)
{
	long v;

	if (kind == 'h')
		return number(c, &v) && eat(c, '_');
	return number(c, &v) && eat(c, '_') && number(c, &v) && eat(c, '_');
}

static int special(struct cx *c, int what, int a)
{
	return a == CX_NONE ? CX_NONE : mk_num(c, K_SPECIAL, (unsigned)what, a, CX_NONE);
}

static int special_name(struct cx *c)
{
	char ch = peek(c), ch2 = peek2(c);

	c->pos += 2;
	if (ch == 'T') {
		switch (ch2) {
		case 'V': return special(c, SP_VTABLE, type(c));
		case 'T': return special(c, SP_VTT, type(c));
		case 'I': return special(c, SP_TYPEINFO, type(c));
		case 'S': return special(c, SP_TYPEINFO_NAME, type(c));
		case 'F': return special(c, SP_TYPEINFO_FN, type(c));
		case 'J': return special(c, SP_JAVA_CLASS, type(c));
		case 'H': return special(c, SP_TLS_INIT, name(c));
		case 'W': return special(c, SP_TLS_WRAPPER, name(c));
		case 'A': return special(c, SP_TPARAM_OBJ, template_arg(c));
		case 'h':
			if (!call_offset(c, 'h'))
				return CX_NONE;
			return special(c, SP_NV_THUNK, encoding(c));
		case 'v':
			if (!call_offset(c, 'v'))
				return CX_NONE;
			return special(c, SP_V_THUNK, encoding(c));
		case 'c': {
			char k = peek(c);

			c->pos++;
			if ((k != 'h' && k != 'v') || !call_offset(c, k))
				return CX_NONE;
			k = peek(c);
			c->pos++;
			if ((k != 'h' && k != 'v') || !call_offset(c, k))
				return CX_NONE;
			return special(c, SP_COV_THUNK, encoding(c));
		}
		case 'C': {
			int derived = type(c), base;
			long off;

			if (derived == CX_NONE || !number(c, &off) || !eat(c, '_'))
				return CX_NONE;
			base = type(c);
			return base == CX_NONE ? CX_NONE : mk(c, K_CTORVT, base, derived);
		}
		default:
			return CX_NONE;
		}
	}
	/* 'G' */
	switch (ch2) {
	case 'V':
		return special(c, SP_GUARD, name(c));
	case 'R': {
		/*
		 * GR <name> [<seq-id>] _ in the ABI; c++filt reads a decimal
		 * number after the name instead and prints it, so do the same
		 * and accept the closing '_' when it is there.
		 */
		int nm = name(c);
		long num = 0;

		if (nm == CX_NONE || (dm_is_digit(peek(c)) && !number(c, &num)))
			return CX_NONE;
		eat(c, '_');
		return mk_num(c, K_REFTEMP, (unsigned)num, nm, CX_NONE);
	}
	case 'A':
		return special(c, SP_HIDDEN_ALIAS, encoding(c));
	case 'T':
		if (eat(c, 't'))
			return special(c, SP_TX_CLONE, encoding(c));
		if (eat(c, 'n'))
			return special(c, SP_NONTX_CLONE, encoding(c));
		return CX_NONE;
	default:
		return CX_NONE;
	}
}

static bool is_ctor_dtor_conv(struct cx *c, int i)
{
	while (i != CX_NONE) {
		struct node *nd = N(c, i);

		switch (nd->kind) {
		case K_QUAL:
		case K_LOCAL:
			i = nd->b;
			break;
		case K_METHODQ:
		case K_ABITAG:
			i = nd->a;
			break;
		case K_CTOR:
		case K_DTOR:
		case K_CAST:
			return true;
		default:
			return false;
		}
	}
	return false;
}

/* Function templates other than constructors encode their return type. */
static bool has_return_type(struct cx *c, int i)
{
	while (i != CX_NONE) {
		struct node *nd = N(c, i);

		switch (nd->kind) {
		case K_LOCAL:
			i = nd->b;
			break;
		case K_METHODQ:
			i = nd->a;
			break;
		case K_TEMPLATE:
			return !is_ctor_dtor_conv(c, nd->a);
		default:
			return false;
		}
	}
	return false;
}

static int encoding_inner(struct cx *c)
{
	char ch = peek(c);
	int nm, ret = CX_NONE, params, ft;

	if (ch == 'T' || ch == 'G')
		return special_name(c);
	nm = name(c);
	if (nm == CX_NONE)
		return CX_NONE;
	ch = peek(c);
	if (ch == '\0' || ch == 'E' || ch == '.' || ch == '@')
		return nm;
	if (has_return_type(c, nm)) {
		ret = type(c);
		if (ret == CX_NONE)
			return CX_NONE;
	}
	params = parmlist(c);
	if (params == CX_NONE)
		return CX_NONE;
	ft = mk(c, K_FNTYPE, ret, params);
	return ft == CX_NONE ? CX_NONE : mk(c, K_FUNC, nm, ft);
}

static int encoding(struct cx *c)
{
	int r;

	if (!enter(c))
		return CX_NONE;
	r = encoding_inner(c);
	c->depth--;
	return r;
}

/* ---- printer --------------------------------------------------------- */

static void print(struct cx *c, int i);

static void put_n(struct cx *c, const char *s, size_t n)
{
	dm_putlit(c->o, s, n);
}

/* the length of a literal is folded at compile time */
#define put(c, s) put_n((c), (s), __builtin_strlen(s))

static void putch(struct cx *c, char ch)
{
	dm_putc(c->o, ch);
}

static char last(const struct cx *c)
{
	if (c->o->len == c->space_at)
		return ' ';
	return dm_last(c->o);
}

static void put_name(struct cx *c, const struct node *nd)
{
	if (nd->flags & F_STATIC)
		put(c, static_text[nd->t]);
	else
		dm_putn(c->o, c->s + nd->t, nd->len);
}

/* The index-th template argument in scope, or NONE. */
static int template_arg_at(struct cx *c, unsigned index)
{
	int cell;

	if (c->tmpl == NULL)
		return CX_NONE;
	cell = N(c, c->tmpl->tmpl)->b;
	while (cell != CX_NONE && index > 0) {
		cell = N(c, cell)->b;
		index--;
	}
	return cell == CX_NONE ? CX_NONE : N(c, cell)->a;
}

static int list_length(struct cx *c, int cell)
{
	int n = 0;

	for (; cell != CX_NONE; cell = N(c, cell)->b)
		if (N(c, cell)->a != CX_NONE)
			n++;
	return n;
}

static int list_item(struct cx *c, int cell, int index)
{
	for (; cell != CX_NONE; cell = N(c, cell)->b) {
		if (N(c, cell)->a == CX_NONE)
			continue;
		if (index-- == 0)
			return N(c, cell)->a;
	}
	return CX_NONE;
}

static bool budget(struct cx *c)
{
	if (++c->steps > c->max_steps) {
		c->err = true;
		return false;
	}
	return true;
}

/* The argument pack a pack expansion's pattern refers to, or NONE. */
static int find_pack(struct cx *c, int i, unsigned depth)
{
	struct node *nd;
	int r;

	if (i == CX_NONE || depth > DM_MAX_DEPTH || !budget(c))
		return CX_NONE;
	nd = N(c, i);
	switch (nd->kind) {
	case K_TPARAM:
		r = template_arg_at(c, nd->t);
		return r != CX_NONE && N(c, r)->kind == K_ARGPACK ? r : CX_NONE;
	case K_PACKEXP:
	case K_LAMBDA:
	case K_NAME:
	case K_OPERATOR:
	case K_BUILTIN:
	case K_FNPARAM:
	case K_UNNAMED:
	case K_DEFARG:
		return CX_NONE;
	case K_CTOR:
	case K_DTOR:
		return find_pack(c, nd->a, depth + 1);
	default:
		r = find_pack(c, nd->a, depth + 1);
		if (r == CX_NONE)
			r = find_pack(c, nd->b, depth + 1);
		if (r == CX_NONE && (nd->kind == K_TRINARY || nd->kind == K_FNTYPE ||
				     nd->kind == K_NEW))
			r = find_pack(c, nd->c, depth + 1);
		return r;
	}
}

/*
 * Prints a list separated by ", ". Like c++filt, a separator is dropped
 * only when everything after it printed nothing (empty packs at the end),
 * and afterwards the last character still reads as the dropped space, so
 * "A<B<C>, >" prints as "A<B<C>>" rather than "A<B<C> >".
 */
static void print_list(struct cx *c, int cell)
{
	size_t pending = SIZE_MAX;
	bool first = true;

	for (; cell != CX_NONE && !c->err; cell = N(c, cell)->b) {
		size_t before;

		if (N(c, cell)->a == CX_NONE)
			continue;
		if (first) {
			print(c, N(c, cell)->a);
			first = false;
			continue;
		}
		before = c->o->len;
		put(c, ", ");
		print(c, N(c, cell)->a);
		if (c->o->len == before + 2) {
			if (pending == SIZE_MAX)
				pending = before;
		} else {
			pending = SIZE_MAX;
		}
	}
	if (pending != SIZE_MAX && !c->o->overflow) {
		c->o->len = pending;
		c->space_at = pending;
	}
}

static void print_quals(struct cx *c, unsigned q, bool reverse)
{
	if ((q & (F_CONST | F_VOLATILE | F_RESTRICT | F_LREF | F_RREF)) == 0)
		return;
	if (reverse) {
		if (q & F_RESTRICT)
			put(c, " restrict");
		if (q & F_VOLATILE)
			put(c, " volatile");
		if (q & F_CONST)
			put(c, " const");
		return;
	}
	if (q & F_CONST)
		put(c, " const");
	if (q & F_VOLATILE)
		put(c, " volatile");
	if (q & F_RESTRICT)
		put(c, " restrict");
	if (q & F_LREF)
		put(c, " &");
	if (q & F_RREF)
		put(c, " &&");
}

static bool is_fnqual_mod(const struct pmod *p)
{
	return p->node == CX_NONE;
}

static void print_function_type(struct cx *c, int ft, struct pmod *mods);
static void print_array_type(struct cx *c, int arr, struct pmod *mods);

static void print_mod(struct cx *c, struct pmod *p)
{
	struct node *nd;

	if (is_fnqual_mod(p)) {
		print_quals(c, p->quals, false);
		return;
	}
	nd = N(c, p->node);
	if (p->name) {
		struct pmod *hold = c->mods;

		c->mods = NULL;
		print(c, p->node);
		c->mods = hold;
		return;
	}
	switch (nd->kind) {
	case K_CV:
		print_quals(c, p->quals, false);
		break;
	case K_PTR:
		putch(c, '*');
		break;
	case K_LREF:
		putch(c, '&');
		break;
	case K_RREF:
		put(c, "&&");
		break;
	case K_COMPLEX:
		put(c, " _Complex");
		break;
	case K_IMAG:
		put(c, " _Imaginary");
		break;
	case K_VENDORQ:
		putch(c, ' ');
		print(c, nd->b);
		break;
	case K_PTRMEM:
		if (last(c) != '(')
			putch(c, ' ');
		print(c, nd->a);
		put(c, "::*");
		break;
	case K_VECTOR:
		put(c, " __vector(");
		print(c, nd->a);
		putch(c, ')');
		break;
	default:
		print(c, p->node);
		break;
	}
}

/* Prints pending modifiers, innermost first; the suffix pass prints only
 * this-qualifiers, which go after a parameter list. */
static void print_mod_list(struct cx *c, struct pmod *p, bool suffix)
{
	for (; p != NULL && !c->err; p = p->next) {
		const struct tctx *hold;

		if (p->printed || (!suffix && is_fnqual_mod(p)))
			continue;
		p->printed = true;
		hold = c->tmpl;
		c->tmpl = p->tmpl;
		if (!p->name && !is_fnqual_mod(p) && N(c, p->node)->kind == K_FNTYPE) {
			print_function_type(c, p->node, p->next);
			c->tmpl = hold;
			return;
		}
		if (!p->name && !is_fnqual_mod(p) && N(c, p->node)->kind == K_ARRAY) {
			print_array_type(c, p->node, p->next);
			c->tmpl = hold;
			return;
		}
		print_mod(c, p);
		c->tmpl = hold;
	}
}

static void print_function_type(struct cx *c, int ft, struct pmod *mods)
{
	struct node *nd = N(c, ft);
	bool need_paren = false, need_space = false;
	struct pmod *hold;

	for (struct pmod *p = mods; p != NULL; p = p->next) {
		if (p->printed)
			break;
		if (!p->name && !is_fnqual_mod(p)) {
			switch (N(c, p->node)->kind) {
			case K_PTR:
			case K_LREF:
			case K_RREF:
				need_paren = true;
				break;
			case K_CV:
			case K_VENDORQ:
			case K_COMPLEX:
			case K_IMAG:
			case K_PTRMEM:
				need_space = true;
				need_paren = true;
				break;
			default:
				break;
			}
		}
		if (need_paren)
			break;
	}
	if (need_paren) {
		if (!need_space && last(c) != '(' && last(c) != '*')
			need_space = true;
		if (need_space && last(c) != ' ')
			putch(c, ' ');
		putch(c, '(');
	}
	hold = c->mods;
	c->mods = NULL;
	print_mod_list(c, mods, false);
	if (need_paren)
		putch(c, ')');
	putch(c, '(');
	print_list(c, nd->b);
	putch(c, ')');
	print_quals(c, nd->flags, false);
	if (nd->flags & F_TXSAFE)
		put(c, " transaction_safe");
	if (nd->flags & F_NOEXCEPT) {
		put(c, " noexcept");
		if (nd->c != CX_NONE) {
			putch(c, '(');
			print(c, nd->c);
			putch(c, ')');
		}
	}
	if (nd->flags & F_THROW) {
		put(c, " throw(");
		print_list(c, nd->c);
		putch(c, ')');
	}
	print_mod_list(c, mods, true);
	c->mods = hold;
}

static void print_array_type(struct cx *c, int arr, struct pmod *mods)
{
	bool need_space = true;

	if (mods != NULL) {
		bool need_paren = false;

		for (struct pmod *p = mods; p != NULL; p = p->next) {
			if (p->printed)
				continue;
			if (!p->name && !is_fnqual_mod(p) && N(c, p->node)->kind == K_ARRAY) {
				need_space = false;
			} else {
				need_paren = true;
				need_space = true;
			}
			break;
		}
		if (need_paren)
			put(c, " (");
		print_mod_list(c, mods, false);
		if (need_paren)
			putch(c, ')');
	}
	if (need_space)
		putch(c, ' ');
	putch(c, '[');
	if (N(c, arr)->a != CX_NONE)
		print(c, N(c, arr)->a);
	putch(c, ']');
}

/* Names and builtin types: printing them never consumes modifiers. */
static bool is_plain(struct cx *c, int i)
{
	switch (N(c, i)->kind) {
	case K_NAME:
	case K_BUILTIN:
	case K_TEMPLATE:
		return true;
	case K_QUAL:
		return N(c, N(c, i)->b)->kind != K_TPARAM;
	default:
		return false;
	}
}

/* Prints a type with modifiers: push, print what it modifies, and print
 * the modifier afterwards unless a function or array type took it. */
static void print_modifier(struct cx *c, int i, int inner)
{
	struct pmod m = {c->mods, c->tmpl, i, 0, false, false};

	if (N(c, i)->kind == K_CV) {
		/* "T const" with T = "char const" prints one const, as c++filt */
		m.quals = N(c, i)->flags;
		for (struct pmod *p = c->mods; p != NULL; p = p->next) {
			if (p->printed)
				continue;
			if (p->name || is_fnqual_mod(p) || N(c, p->node)->kind != K_CV)
				break;
			m.quals &= ~p->quals;
		}
		if (m.quals == 0) {
			print(c, inner);
			return;
		}
	}
	if (is_plain(c, inner)) {
		/* nothing in a name can take the modifier: skip the stack */
		print(c, inner);
		print_mod(c, &m);
		return;
	}
	c->mods = &m;
	print(c, inner);
	if (!m.printed)
		print_mod(c, &m);
	c->mods = m.next;
}

static void print_fntype(struct cx *c, int i)
{
	struct node *nd = N(c, i);

	if (nd->a != CX_NONE) {
		struct pmod m = {c->mods, c->tmpl, i, 0, false, false};

		c->mods = &m;
		print(c, nd->a);
		c->mods = m.next;
		if (m.printed)
			return;
		putch(c, ' ');
	}
	print_function_type(c, i, c->mods);
}

static void print_array(struct cx *c, int i)
{
	struct pmod m = {c->mods, c->tmpl, i, 0, false, false};
	struct pmod *hold = c->mods;
	unsigned cvq[4];
	int ncv = 0;

	/* cv-qualifiers right above an array qualify its elements */
	c->mods = &m;
	for (struct pmod *p = hold; p != NULL; p = p->next) {
		if (p->name || is_fnqual_mod(p) || N(c, p->node)->kind != K_CV)
			break;
		if (!p->printed) {
			if (ncv == 4) {
				c->err = true;
				return;
			}
			cvq[ncv++] = p->quals;
			p->printed = true;
		}
	}
	print(c, N(c, i)->b);
	c->mods = hold;
	if (m.printed)
		return;
	while (ncv > 0)
		print_quals(c, cvq[--ncv], true);
	print_array_type(c, i, c->mods);
}

/* Function encoding: the name is a modifier of its function type. */
static void print_encoding(struct cx *c, int i)
{
	struct node *nd = N(c, i);
	int tn = nd->a;
	unsigned q = 0;
	struct tctx ctx;
	const struct tctx *hold = c->tmpl;
	struct pmod quals, nm;

	while (N(c, tn)->kind == K_METHODQ) {
		q |= N(c, tn)->flags;
		tn = N(c, tn)->a;
	}
	if (N(c, tn)->kind == K_LOCAL) {
		tn = N(c, tn)->b;
		if (N(c, tn)->kind == K_DEFARG)
			tn = N(c, tn)->a;
		while (N(c, tn)->kind == K_METHODQ) {
			q |= N(c, tn)->flags;
			tn = N(c, tn)->a;
		}
	}
	if (N(c, tn)->kind == K_TEMPLATE) {
		ctx.next = c->tmpl;
		ctx.tmpl = tn;
		c->tmpl = &ctx;
	}
	quals = (struct pmod){c->mods, hold, CX_NONE, q, q == 0, false};
	nm = (struct pmod){&quals, hold, nd->a, 0, false, true};
	c->mods = &nm;
	print_fntype(c, nd->b);
	c->mods = quals.next;
	if (!nm.printed) {
		putch(c, ' ');
		print_mod(c, &nm);
	}
	if (!quals.printed)
		print_quals(c, q, false);
	c->tmpl = hold;
}

static void print_template(struct cx *c, int i)
{
	struct node *nd = N(c, i);
	int hold_cur = c->cur_template;
	struct pmod *hold = c->mods;

	c->cur_template = i;
	c->mods = NULL;
	print(c, nd->a);
	if (last(c) == '<')
		putch(c, ' ');
	putch(c, '<');
	print_list(c, nd->b);
	if (last(c) == '>')
		putch(c, ' ');
	putch(c, '>');
	c->mods = hold;
	c->cur_template = hold_cur;
}

/* "operator T": the type sees the template parameters of the enclosing
 * template; a templated conversion prints its own arguments after. */
static void print_conversion(struct cx *c, int t)
{
	struct tctx ctx;
	const struct tctx *hold = c->tmpl;

	if (c->cur_template != CX_NONE) {
		ctx.next = c->tmpl;
		ctx.tmpl = c->cur_template;
		c->tmpl = &ctx;
	}
	if (N(c, t)->kind != K_TEMPLATE) {
		print(c, t);
		c->tmpl = hold;
		return;
	}
	print(c, N(c, t)->a);
	c->tmpl = hold;
	if (last(c) == '<')
		putch(c, ' ');
	putch(c, '<');
	print_list(c, N(c, t)->b);
	if (last(c) == '>')
		putch(c, ' ');
	putch(c, '>');
}

static void print_tparam(struct cx *c, int i)
{
	int a;
	const struct tctx *hold = c->tmpl;

	if (c->lambda_arg) {
		put(c, "auto:");
		dm_put_uint(c->o, (unsigned long long)N(c, i)->t + 1);
		return;
	}
	a = template_arg_at(c, N(c, i)->t);
	if (a != CX_NONE && N(c, a)->kind == K_ARGPACK)
		a = list_item(c, N(c, a)->a, c->pack_index);
	if (a == CX_NONE) {
		c->err = true;
		return;
	}
	/* the argument itself belongs to the enclosing template */
	c->tmpl = c->tmpl->next;
	print(c, a);
	c->tmpl = hold;
}

/*
 * Template scope for a reference to a template parameter. Like c++filt,
 * the first time a given T_ node is printed under a reference, the scope
 * is remembered; when the same node comes back through a substitution it
 * is printed in that remembered scope (set as c->tmpl, built in chain).
 * Returns false when the table is full.
 */
static bool reference_scope(struct cx *c, int tparam, struct tctx *chain)
{
	int k, d = 0;
	const struct tctx *t;

	for (k = 0; k < c->nscopes; k++)
		if (c->scopes[k].tparam == tparam)
			break;
	if (k == c->nscopes) {
		if (c->nscopes == CX_MAX_SCOPES)
			return false;
		for (t = c->tmpl; t != NULL; t = t->next) {
			if (d == CX_MAX_SCOPE_DEPTH)
				return false;
			c->scopes[k].tmpl[d++] = (int16_t)t->tmpl;
		}
		c->scopes[k].tparam = (int16_t)tparam;
		c->scopes[k].depth = (uint8_t)d;
		c->nscopes++;
		return true;
	}
	d = c->scopes[k].depth;
	for (int j = d - 1; j >= 0; j--) {
		chain[j].tmpl = c->scopes[k].tmpl[j];
		chain[j].next = j + 1 < d ? &chain[j + 1] : NULL;
	}
	c->tmpl = d > 0 ? &chain[0] : NULL;
	return true;
}

/* Reference collapsing when the referenced type is a template parameter:
 * & + & = &, & + && = &, && + && = &&. */
static void print_reference(struct cx *c, int i)
{
	int sub = N(c, i)->a;
	int kind = N(c, i)->kind;
	const struct tctx *saved = c->tmpl;
	struct tctx chain[CX_MAX_SCOPE_DEPTH];

	if (!c->lambda_arg && N(c, sub)->kind == K_TPARAM) {
		int a;

		if (!reference_scope(c, sub, chain)) {
			c->err = true;
			return;
		}
		a = template_arg_at(c, N(c, sub)->t);
		if (a != CX_NONE && N(c, a)->kind == K_ARGPACK)
			a = list_item(c, N(c, a)->a, c->pack_index);
		if (a == CX_NONE) {
			c->err = true;
			c->tmpl = saved;
			return;
		}
		if (N(c, a)->kind == K_LREF || N(c, a)->kind == kind) {
			const struct tctx *hold = c->tmpl;

			c->tmpl = c->tmpl->next;
			print(c, a);
			c->tmpl = hold;
			c->tmpl = saved;
			return;
		}
		if (N(c, a)->kind == K_RREF) {
			/* & applied to T&& : print T& with T from the outer scope */
			struct pmod m = {c->mods, c->tmpl, i, 0, false, false};
			const struct tctx *hold = c->tmpl;

			c->mods = &m;
			c->tmpl = c->tmpl->next;
			print(c, N(c, a)->a);
			c->tmpl = hold;
			if (!m.printed)
				print_mod(c, &m);
			c->mods = m.next;
			c->tmpl = saved;
			return;
		}
	}
	print_modifier(c, i, sub);
	c->tmpl = saved;
}

static bool is_simple_expr(struct cx *c, int i)
{
	int k = N(c, i)->kind;

	return k == K_NAME || k == K_QUAL || k == K_INITLIST || k == K_FNPARAM;
}

static void print_subexpr(struct cx *c, int i)
{
	bool simple = is_simple_expr(c, i);

	if (!simple)
		putch(c, '(');
	print(c, i);
	if (!simple)
		putch(c, ')');
}

static void print_literal(struct cx *c, int i)
{
	struct node *nd = N(c, i);
	struct node *t = N(c, nd->a);
	bool neg = nd->flags & F_NEG;
	unsigned style = 0;

	if (t->kind == K_BUILTIN && t->t < sizeof(builtins) / sizeof(builtins[0]))
		style = builtins[t->t].literal;
	if (style >= 1 && style <= 6) {
		static const char *const suffix[] = {"", "", "u", "l", "ul", "ll", "ull"};

		if (neg)
			putch(c, '-');
		print(c, nd->b);
		put(c, suffix[style]);
		return;
	}
	if (style == 8 && !neg && N(c, nd->b)->len == 1) {
		char v = c->s[N(c, nd->b)->t];

		if (v == '0' || v == '1') {
			put(c, v == '1' ? "true" : "false");
			return;
		}
	}
	putch(c, '(');
	print(c, nd->a);
	putch(c, ')');
	if (neg)
		putch(c, '-');
	if (style == 9)
		putch(c, '[');
	print(c, nd->b);
	if (style == 9)
		putch(c, ']');
}

static void print_expr_op(struct cx *c, unsigned op)
{
	put(c, ops[op].name);
}

/* An operator named inside an expression (fold expressions). */
static void print_op_node(struct cx *c, int i)
{
	if (N(c, i)->kind == K_OPERATOR)
		print_expr_op(c, N(c, i)->t);
	else
		print(c, i);
}

static void print_unary(struct cx *c, int i)
{
	struct node *nd = N(c, i);
	const char *code = ops[nd->t].code;
	int operand = nd->a;

	if (!strcmp(code, "ad") && N(c, operand)->kind == K_FUNC &&
	    N(c, N(c, operand)->a)->kind == K_QUAL)
		operand = N(c, operand)->a; /* &A::f, not &A::f(int) */
	print_expr_op(c, nd->t);
	if (!strcmp(code, "gs")) {
		print(c, operand);
	} else if (!strcmp(code, "st") || !strcmp(code, "nx")) {
		putch(c, '(');
		print(c, operand);
		putch(c, ')');
	} else {
		print_subexpr(c, operand);
	}
}

static void print_binary(struct cx *c, int i)
{
	struct node *nd = N(c, i);
	const char *code = ops[nd->t].code;
	bool gt = !strcmp(ops[nd->t].name, ">");

	if (!strcmp(code, "dc") || !strcmp(code, "sc") || !strcmp(code, "cc") ||
	    !strcmp(code, "rc")) {
		print_expr_op(c, nd->t);
		putch(c, '<');
		print(c, nd->a);
		put(c, ">(");
		print(c, nd->b);
		putch(c, ')');
		return;
	}
	if (code[0] == 'f') {
		/* unary folds: (... op x), (x op ...) */
		putch(c, '(');
		if (code[1] == 'l') {
			put(c, "...");
			print_op_node(c, nd->a);
			print_subexpr(c, nd->b);
		} else {
			print_subexpr(c, nd->b);
			print_op_node(c, nd->a);
			put(c, "...");
		}
		putch(c, ')');
		return;
	}
	if (gt)
		putch(c, '(');
	if (!strcmp(code, "cl") && N(c, nd->a)->kind == K_FUNC)
		print_subexpr(c, N(c, nd->a)->a);
	else
		print_subexpr(c, nd->a);
	if (!strcmp(code, "ix")) {
		putch(c, '[');
		print(c, nd->b);
		putch(c, ']');
	} else {
		if (strcmp(code, "cl") != 0)
			print_expr_op(c, nd->t);
		print_subexpr(c, nd->b);
	}
	if (gt)
		putch(c, ')');
}

static void print_trinary(struct cx *c, int i)
{
	struct node *nd = N(c, i);

	if (ops[nd->t].code[0] == 'f') {
		/* binary folds: (a op ... op b) */
		putch(c, '(');
		print_subexpr(c, nd->b);
		print_op_node(c, nd->a);
		put(c, "...");
		print_op_node(c, nd->a);
		print_subexpr(c, nd->c);
		putch(c, ')');
		return;
	}
	print_subexpr(c, nd->a);
	print_expr_op(c, nd->t);
	print_subexpr(c, nd->b);
	put(c, " : ");
	print_subexpr(c, nd->c);
}

static void print_inner(struct cx *c, int i)
{
	struct node *nd = N(c, i);

	switch (nd->kind) {
	case K_NAME:
		put_name(c, nd);
		break;
	case K_QUAL: {
		/* a::b::c is QUAL(QUAL(a, b), c): walk the left spine, no recursion */
		int16_t right[16];
		int k = 0, left = i;

		while (N(c, left)->kind == K_QUAL && k < 16) {
			right[k++] = N(c, left)->b;
			left = N(c, left)->a;
		}
		print(c, left);
		while (k > 0) {
			put(c, "::");
			print(c, right[--k]);
		}
		break;
	}
	case K_LOCAL: {
		struct pmod *hold = c->mods;
		int ent = nd->b;

		c->mods = NULL;
		print(c, nd->a);
		c->mods = hold;
		put(c, "::");
		if (N(c, ent)->kind == K_DEFARG) {
			put(c, "{default arg#");
			dm_put_uint(c->o, (unsigned long long)N(c, ent)->t + 1);
			put(c, "}::");
			ent = N(c, ent)->a;
		}
		while (N(c, ent)->kind == K_METHODQ)
			ent = N(c, ent)->a;
		print(c, ent);
		break;
	}
	case K_TEMPLATE:
		print_template(c, i);
		break;
	case K_LIST:
		print_list(c, i);
		break;
	case K_ARGPACK:
		print_list(c, nd->a);
		break;
	case K_FUNC:
		print_encoding(c, i);
		break;
	case K_FNTYPE:
		print_fntype(c, i);
		break;
	case K_METHODQ:
		print(c, nd->a);
		break;
	case K_BUILTIN:
		if (nd->t == 0xffff) {
			put(c, "_Float");
			dm_putn(c->o, c->s + nd->a, nd->len);
		} else {
			put(c, builtins[nd->t].name);
		}
		break;
	case K_CV:
	case K_PTR:
	case K_COMPLEX:
	case K_IMAG:
	case K_VENDORQ:
		print_modifier(c, i, nd->a);
		break;
	case K_LREF:
	case K_RREF:
		print_reference(c, i);
		break;
	case K_PTRMEM:
	case K_VECTOR:
		print_modifier(c, i, nd->b);
		break;
	case K_ARRAY:
		print_array(c, i);
		break;
	case K_TPARAM:
		print_tparam(c, i);
		break;
	case K_FNPARAM:
		put(c, "{parm#");
		dm_put_uint(c->o, (unsigned long long)nd->t + 1);
		putch(c, '}');
		break;
	case K_CTOR:
		print(c, nd->a);
		break;
	case K_DTOR:
		putch(c, '~');
		print(c, nd->a);
		break;
	case K_OPERATOR: {
		const char *nm = ops[nd->t].name;
		size_t len = strlen(nm);

		put(c, "operator");
		if (dm_is_lower(nm[0]))
			putch(c, ' ');
		while (len > 0 && nm[len - 1] == ' ')
			len--;
		dm_putn(c->o, nm, len);
		break;
	}
	case K_CAST:
		put(c, "operator ");
		print_conversion(c, nd->a);
		break;
	case K_LITOP:
		put(c, "operator\"\" ");
		print(c, nd->a);
		break;
	case K_VENDOROP:
		put(c, "operator ");
		print(c, nd->a);
		break;
	case K_SPECIAL:
		put(c, specials[nd->t]);
		print(c, nd->a);
		break;
	case K_REFTEMP:
		put(c, specials[SP_REF_TEMP]);
		dm_put_uint(c->o, nd->t);
		put(c, " for ");
		print(c, nd->a);
		break;
	case K_CTORVT:
		put(c, specials[SP_CTOR_VTABLE]);
		print(c, nd->a);
		put(c, "-in-");
		print(c, nd->b);
		break;
	case K_PACKEXP: {
		int pack = find_pack(c, nd->a, 0);
		int hold = c->pack_index;
		int len;

		if (pack == CX_NONE) {
			print_subexpr(c, nd->a);
			put(c, "...");
			break;
		}
		len = list_length(c, N(c, pack)->a);
		for (int k = 0; k < len && !c->err; k++) {
			c->pack_index = k;
			print(c, nd->a);
			if (k < len - 1)
				put(c, ", ");
		}
		c->pack_index = hold;
		break;
	}
	case K_ABITAG:
		print(c, nd->a);
		put(c, "[abi:");
		print(c, nd->b);
		putch(c, ']');
		break;
	case K_LAMBDA:
		put(c, "{lambda(");
		c->lambda_arg++;
		print_list(c, nd->a);
		c->lambda_arg--;
		put(c, ")#");
		dm_put_uint(c->o, (unsigned long long)nd->t + 1);
		putch(c, '}');
		break;
	case K_UNNAMED:
		put(c, "{unnamed type#");
		dm_put_uint(c->o, (unsigned long long)nd->t + 1);
		putch(c, '}');
		break;
	case K_DEFARG:
		put(c, "{default arg#");
		dm_put_uint(c->o, (unsigned long long)nd->t + 1);
		put(c, "}::");
		print(c, nd->a);
		break;
	case K_DECLTYPE:
		put(c, "decltype (");
		print(c, nd->a);
		putch(c, ')');
		break;
	case K_BINDING:
		putch(c, '[');
		print_list(c, nd->a);
		putch(c, ']');
		break;
	case K_NULLARY:
		print_expr_op(c, nd->t);
		break;
	case K_UNARY:
		print_unary(c, i);
		break;
	case K_POSTFIX:
		print_subexpr(c, nd->a);
		print_expr_op(c, nd->t);
		break;
	case K_BINARY:
		print_binary(c, i);
		break;
	case K_TRINARY:
		print_trinary(c, i);
		break;
	case K_CASTEXPR:
		putch(c, '(');
		print(c, nd->a);
		putch(c, ')');
		print_subexpr(c, nd->b);
		break;
	case K_LITERAL:
		print_literal(c, i);
		break;
	case K_INITLIST:
		if (nd->a != CX_NONE)
			print(c, nd->a);
		putch(c, '{');
		print_list(c, nd->b);
		putch(c, '}');
		break;
	case K_NEW:
		put(c, "new ");
		if (N(c, nd->a)->a != CX_NONE) {
			print_subexpr(c, nd->a);
			putch(c, ' ');
		}
		print(c, nd->b);
		if (nd->c != CX_NONE)
			print_subexpr(c, nd->c);
		break;
	case K_GLOBAL:
		put(c, "::");
		print(c, nd->a);
		break;
	case K_DTORNAME:
		putch(c, '~');
		print(c, nd->a);
		break;
	case K_SIZEOFPACK: {
		int pack = N(c, nd->a)->kind == K_ARGPACK ? nd->a : find_pack(c, nd->a, 0);

		dm_put_uint(c->o, pack == CX_NONE ? 0u : (unsigned)list_length(c, N(c, pack)->a));
		break;
	}
	default:
		c->err = true;
		break;
	}
}

static void print(struct cx *c, int i)
{
	if (c->err | c->o->overflow)
		return;
	if (i != CX_NONE && N(c, i)->kind == K_NAME) {
		put_name(c, N(c, i)); /* the most common leaf */
		return;
	}
	if (i == CX_NONE || c->depth >= DM_MAX_DEPTH || !budget(c)) {
		c->err = true;
		return;
	}
	c->depth++;
	print_inner(c, i);
	c->depth--;
}

static bool has_sr(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == 's' && s[i + 1] == 'r')
			return true;
	return false;
}

size_t dm_cxx(const char *sym, size_t len, struct dm_out *o)
{
	struct node nodes[CX_MAX_NODES];
	struct cx c;
	int root;
	bool old = false;

	if (len < 3 || sym[0] != '_' || sym[1] != 'Z')
		return 0;
	for (;;) {
		memset(&c, 0, offsetof(struct cx, scopes));
		c.s = sym;
		c.n = len;
		c.pos = 2;
		c.nodes = nodes;
		c.last_name = CX_NONE;
		c.cur_template = CX_NONE;
		c.old_unresolved = old;
		c.max_psteps = 8ul * len + 1024;
		root = encoding(&c);
		if (root != CX_NONE || old || !has_sr(sym, len))
			break;
		old = true;
	}
	if (root == CX_NONE)
		return 0;
	c.o = o;
	c.depth = 0;
	c.max_steps = 16ul * (len + o->cap) + 4096;
	c.space_at = SIZE_MAX;
	print(&c, root);
	if (c.err)
		return 0;
	return c.pos;
}
