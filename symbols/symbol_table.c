/* SPDX-License-Identifier: MIT */
/*
 * symbol_table.c: demangle every function symbol once, then answer
 * pattern queries from up to four chained hash indexes:
 *
 *   heads[k][hash % n] -> entry -> entry.next[k] -> ... -> NO_ENTRY
 *
 * for k in INDEX_KEY (built at open), INDEX_MANGLED, INDEX_LAST and
 * INDEX_FIRST (built by the first pattern that needs them). Results are
 * sorted by address so that they come out in a stable, readable order.
 */
#define _GNU_SOURCE
#include "symbol_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

#define NO_ENTRY UINT32_MAX
/* Longest demangled name kept; longer ones are truncated by demangle(). */
#define DEMANGLED_MAX 4096

/*
 * A fast string hash, 8 bytes at a time (start-up hashes every symbol name
 * three times). Quality only needs to spread chains; strings are compared
 * on lookup anyway.
 */
static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, s, len);
	h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* The text after the last "::" of key (len bytes), and its length. */
static const char *last_segment(const char *key, size_t len, size_t *seglen)
{
	const char *p = key + len;
	while (p - key >= 2 && !(p[-1] == ':' && p[-2] == ':'))
		p--;
	if (p - key < 2)
		p = key;
	*seglen = len - (size_t)(p - key);
	return p;
}

/* The text before the first "::" (a Rust crate or C++ namespace), and its length. */
static const char *first_segment(const char *key, size_t *seglen)
{
	const char *colons = strstr(key, "::");
	*seglen = colons != NULL ? (size_t)(colons - key) : strlen(key);
	return key;
}

/*
 * Points at "h<16 hex>" in a legacy Rust symbol "...17h<16 hex>E", or NULL.
 * The hash ends the path, so only a suffix (".llvm.123") can follow it. The
 * demangler has already checked the hex digits of a DEMANGLE_RUST_LEGACY name.
 */
static const char *legacy_hash(const char *mangled, size_t len)
{
	for (size_t end = len; end >= 20 && len - end <= 64; end--) {
		const char *p = mangled + end - 20; /* "17h" + 16 hex + "E" */
		if (p[19] == 'E' && p[0] == '1' && p[1] == '7' && p[2] == 'h')
			return p + 2;
	}
	return NULL;
}

/* The text index k is keyed on for entry e, and its length. */
static const char *index_text(const struct symbol_entry *e, enum symbol_index k, size_t *len)
{
	switch (k) {
	case INDEX_MANGLED:
		*len = strlen(e->mangled);
		return e->mangled;
	case INDEX_LAST:
		return last_segment(e->key, strlen(e->key), len);
	case INDEX_FIRST:
		return first_segment(e->key, len);
	default:
		*len = strlen(e->key);
		return e->key;
	}
}

/*
 * Links every entry into index k's chains, given each entry's hash. Linking
 * is one random access per entry; knowing every hash up front lets the loop
 * prefetch the heads it will touch a few entries ahead, which halves the
 * time on a 300k-symbol binary. Returns false when out of memory.
 */
static bool link_index(struct symbol_table *t, enum symbol_index k, const uint64_t *hashes)
{
	enum { PREFETCH_AHEAD = 16 };
	uint32_t *heads = malloc(t->nbuckets * sizeof *heads);
	if (heads == NULL)
		return false;
	memset(heads, 0xff, t->nbuckets * sizeof *heads);
	size_t mask = t->nbuckets - 1;
	for (size_t i = t->count; i-- > 0;) {
		if (i >= PREFETCH_AHEAD)
			__builtin_prefetch(&heads[hashes[i - PREFETCH_AHEAD] & mask], 1);
		uint32_t *head = &heads[hashes[i] & mask];
		t->entries[i].next[k] = *head;
		*head = (uint32_t)i;
	}
	t->heads[k] = heads;
	return true;
}

/* Builds index k on first use. False when out of memory: callers then scan. */
static bool ensure_index(struct symbol_table *t, enum symbol_index k)
{
	if (t->heads[k] != NULL)
		return true;
	uint64_t *hashes = calloc(t->count ? t->count : 1, sizeof *hashes);
	if (hashes == NULL)
		return false;
	for (size_t i = 0; i < t->count; i++) {
		size_t len;
		const char *text = index_text(&t->entries[i], k, &len);
		hashes[i] = hash_bytes(text, len);
	}
	bool ok = link_index(t, k, hashes);
	free(hashes);
	return ok;
}

/* Appends s to the key block; returns its offset or SIZE_MAX when out of memory. */
static size_t keys_append(char **block, size_t *used, size_t *cap, const char *s)
{
	size_t len = strlen(s) + 1;
	if (*used + len > *cap) {
		size_t ncap = *cap ? *cap * 2 : 1 << 16;
		while (ncap < *used + len)
			ncap *= 2;
		char *grown = realloc(*block, ncap);
		if (grown == NULL)
			return SIZE_MAX;
		*block = grown;
		*cap = ncap;
	}
	memcpy(*block + *used, s, len);
	*used += len;
	return *used - len;
}

/*
 * Demangles every function symbol and builds the key index. The other
 * indexes wait for a pattern that needs them (ensure_index()).
 */
static enum elf_status build_index(struct symbol_table *t, char *err, size_t errlen)
{
	const struct elf_file *ef = &t->elf;
	uint64_t *key_hashes = NULL;
	t->entries = calloc(ef->nsymbols ? ef->nsymbols : 1, sizeof *t->entries);
	key_hashes = malloc((ef->nsymbols ? ef->nsymbols : 1) * sizeof *key_hashes);
	if (t->entries == NULL || key_hashes == NULL)
		goto oom;

	/* Keys that differ from the mangled name go in one block; until it
	 * stops moving, entries hold offsets (+1, 0 = none). */
	char demangled[DEMANGLED_MAX], key[DEMANGLED_MAX];
	size_t used = 0, cap = 0;
	for (size_t i = 0; i < ef->nsymbols; i++) {
		const struct elf_symbol *sym = &ef->symbols[i];
		if (!elf_symbol_is_function(sym))
			continue;
		size_t n = t->count++;
		struct symbol_entry *e = &t->entries[n];
		e->mangled = sym->name;
		e->value = sym->value;
		e->size = sym->size;
		e->bind = sym->bind;
		e->source = sym->source;
		e->scheme = demangle(sym->name, demangled, sizeof demangled);
		e->key = NULL;
		if (e->scheme == DEMANGLE_NONE) {
			key_hashes[n] = hash_bytes(sym->name, strlen(sym->name));
			continue;
		}
		if (e->scheme == DEMANGLE_RUST_LEGACY)
			e->hash = legacy_hash(sym->name, strlen(sym->name));
		demangle_match_key(demangled, key, sizeof key);
		key_hashes[n] = hash_bytes(key, strlen(key));
		if (strcmp(key, sym->name) == 0)
			continue;
		size_t off = keys_append(&t->keys, &used, &cap, key);
		if (off == SIZE_MAX)
			goto oom;
		e->key = (const char *)(uintptr_t)(off + 1);
	}
	for (size_t i = 0; i < t->count; i++) {
		struct symbol_entry *e = &t->entries[i];
		uintptr_t off = (uintptr_t)e->key;
		e->key = off ? t->keys + (off - 1) : e->mangled;
	}

	/* Power-of-two chain tables, at most half full. */
	t->nbuckets = 16;
	while (t->nbuckets < t->count * 2)
		t->nbuckets *= 2;
	if (!link_index(t, INDEX_KEY, key_hashes))
		goto oom;
	free(key_hashes);
	return ELF_OK;
oom:
	free(key_hashes);
	snprintf(err, errlen, "out of memory indexing %zu symbols", ef->nsymbols);
	symbol_table_close(t);
	return ELF_ERR_IO;
}

enum elf_status symbol_table_open(struct symbol_table *t, const char *path, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	enum elf_status rc = elf_open(&t->elf, path, err, errlen);
	if (rc != ELF_OK)
		return rc;
	return build_index(t, err, errlen);
}

enum elf_status symbol_table_open_mem(struct symbol_table *t, const void *data, size_t size,
                                      char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	enum elf_status rc = elf_open_mem(&t->elf, data, size, err, errlen);
	if (rc != ELF_OK)
		return rc;
	return build_index(t, err, errlen);
}

void symbol_table_close(struct symbol_table *t)
{
	free(t->entries);
	free(t->keys);
	for (int k = 0; k < INDEX_COUNT; k++)
		free(t->heads[k]);
	free(t->by_address);
	elf_close(&t->elf);
	memset(t, 0, sizeof *t);
}

/* Orders entry indexes by address (qsort_r context: the table). */
static int compare_entry_values(const void *a, const void *b, void *ctx)
{
	const struct symbol_table *t = ctx;
	uint64_t va = t->entries[*(const uint32_t *)a].value, vb = t->entries[*(const uint32_t *)b].value;
	return va < vb ? -1 : va > vb;
}

const struct symbol_entry *symbol_table_find_address(struct symbol_table *t, uint64_t addr)
{
	if (t->count == 0)
		return NULL;
	if (t->by_address == NULL) {
		t->by_address = malloc(t->count * sizeof *t->by_address);
		if (t->by_address == NULL)
			return NULL;
		for (size_t i = 0; i < t->count; i++)
			t->by_address[i] = (uint32_t)i;
		qsort_r(t->by_address, t->count, sizeof *t->by_address, compare_entry_values, t);
	}
	/* the last entry with value <= addr */
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->entries[t->by_address[mid]].value <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* several symbols may share an address: prefer one whose size covers addr */
	for (size_t i = lo; i-- > 0;) {
		const struct symbol_entry *e = &t->entries[t->by_address[i]];
		if (e->value != t->entries[t->by_address[lo - 1]].value)
			break;
		if (addr - e->value < e->size)
			return e;
	}
	const struct symbol_entry *e = &t->entries[t->by_address[lo - 1]];
	return e->size == 0 ? e : NULL;
}

bool symbol_pattern_is_glob(const char *pattern)
{
	return strpbrk(pattern, "*?[") != NULL;
}

/* ---- matching ------------------------------------------------------------- */

/* The set of matched entry indexes, deduplicated and sorted before reporting. */
struct match_set {
	uint32_t *items;
	size_t count, cap;
	bool failed;
};

static void match_set_add(struct match_set *set, uint32_t index)
{
	if (set->count == set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 16;
		uint32_t *grown = realloc(set->items, ncap * sizeof *grown);
		if (grown == NULL) {
			set->failed = true;
			return;
		}
		set->items = grown;
		set->cap = ncap;
	}
	set->items[set->count++] = index;
}

/* Orders matched entry indexes by address, then name (qsort_r context: the table). */
static int compare_by_address(const void *a, const void *b, void *table)
{
	const struct symbol_entry *entries = ((const struct symbol_table *)table)->entries;
	const struct symbol_entry *x = &entries[*(const uint32_t *)a], *y = &entries[*(const uint32_t *)b];
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	int c = strcmp(x->mangled, y->mangled);
	return c != 0 ? c : (*(const uint32_t *)a > *(const uint32_t *)b) - (*(const uint32_t *)a < *(const uint32_t *)b);
}

/* key == path + "::" + hash, for legacy symbols written with their hash. */
static bool matches_with_hash(const struct symbol_entry *e, const char *pattern)
{
	if (e->hash == NULL)
		return false;
	size_t klen = strlen(e->key), plen = strlen(pattern);
	return plen == klen + 2 + 17 && strncmp(pattern, e->key, klen) == 0 &&
	       pattern[klen] == ':' && pattern[klen + 1] == ':' && strncmp(pattern + klen + 2, e->hash, 17) == 0;
}

/* key ends with "::" + suffix (MATCH_SEARCH). */
static bool key_has_segment_suffix(const char *key, const char *suffix)
{
	size_t klen = strlen(key), slen = strlen(suffix);
	return klen > slen + 2 && strcmp(key + klen - slen, suffix) == 0 && key[klen - slen - 1] == ':' &&
	       key[klen - slen - 2] == ':';
}

static bool glob_matches(const struct symbol_entry *e, const char *pattern, const char *search_glob)
{
	if (glob_match(pattern, e->key) || glob_match(pattern, e->mangled))
		return true;
	return search_glob != NULL && glob_match(search_glob, e->key);
}

/* The longest run of characters in pattern with no glob meaning, for a strstr prefilter. */
static size_t longest_literal(const char *pattern, const char **start)
{
	size_t best = 0;
	*start = pattern;
	const char *run = pattern;
	for (const char *p = pattern;; p++) {
		if (*p == '\0' || *p == '*' || *p == '?' || *p == '[' || *p == ']' || *p == '\\') {
			if ((size_t)(p - run) > best) {
				best = (size_t)(p - run);
				*start = run;
			}
			if (*p == '\0')
				break;
			run = p + 1;
		}
	}
	return best;
}

/*
 * Adds the entries that accept() takes among those whose index-k text hashes
 * like text; scans every entry instead if the index cannot be built.
 */
typedef bool (*accept_fn)(const struct symbol_entry *e, const char *pattern, const void *arg);

static void match_chain(struct symbol_table *t, enum symbol_index k, const char *text, size_t len,
                        accept_fn accept, const char *pattern, const void *arg, struct match_set *set)
{
	if (!ensure_index(t, k)) {
		for (size_t i = 0; i < t->count; i++)
			if (accept(&t->entries[i], pattern, arg))
				match_set_add(set, (uint32_t)i);
		return;
	}
	for (uint32_t i = t->heads[k][hash_bytes(text, len) & (t->nbuckets - 1)]; i != NO_ENTRY;
	     i = t->entries[i].next[k])
		if (accept(&t->entries[i], pattern, arg))
			match_set_add(set, i);
}

static bool key_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return strcmp(e->key, pattern) == 0;
}

static bool mangled_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return strcmp(e->mangled, pattern) == 0;
}

static bool hash_form_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return matches_with_hash(e, pattern);
}

static bool suffix_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return key_has_segment_suffix(e->key, pattern);
}

static bool glob_accepts(const struct symbol_entry *e, const char *pattern, const void *search_glob)
{
	return glob_matches(e, pattern, search_glob);
}

static void match_exact(struct symbol_table *t, const char *pattern, enum match_mode mode,
                        struct match_set *set)
{
	size_t plen = strlen(pattern);
	match_chain(t, INDEX_KEY, pattern, plen, key_equals, pattern, NULL, set);
	match_chain(t, INDEX_MANGLED, pattern, plen, mangled_equals, pattern, NULL, set);
	/* "path::h<hash>": look the path up, then compare the hash. */
	if (plen > 19 && pattern[plen - 19] == ':' && pattern[plen - 18] == ':' && pattern[plen - 17] == 'h')
		match_chain(t, INDEX_KEY, pattern, plen - 19, hash_form_equals, pattern, NULL, set);
	/* Search mode: the pattern's last segment finds the candidates. */
	if (mode == MATCH_SEARCH) {
		size_t seglen;
		const char *seg = last_segment(pattern, plen, &seglen);
		match_chain(t, INDEX_LAST, seg, seglen, suffix_equals, pattern, NULL, set);
	}
}

static void match_glob(struct symbol_table *t, const char *pattern, enum match_mode mode,
                       struct match_set *set)
{
	char *search_glob = NULL;
	if (mode == MATCH_SEARCH && asprintf(&search_glob, "*::%s", pattern) < 0) {
		set->failed = true;
		return;
	}

	/*
	 * A literal last segment ("a::*::insert") or first segment ("crate::*")
	 * selects candidates by hash. A glob over mangled names has no "::", so
	 * it never takes these paths and nothing is missed. Search mode may
	 * match any trailing segments, so only the last segment is usable.
	 */
	size_t plen = strlen(pattern), seglen;
	const char *last = last_segment(pattern, plen, &seglen);
	if (last != pattern && !symbol_pattern_is_glob(last)) {
		match_chain(t, INDEX_LAST, last, seglen, glob_accepts, pattern, search_glob, set);
		free(search_glob);
		return;
	}
	const char *first = first_segment(pattern, &seglen);
	if (mode == MATCH_EXACT && seglen < plen && memchr(first, '*', seglen) == NULL &&
	    memchr(first, '?', seglen) == NULL && memchr(first, '[', seglen) == NULL) {
		match_chain(t, INDEX_FIRST, first, seglen, glob_accepts, pattern, NULL, set);
		free(search_glob);
		return;
	}

	/* Otherwise scan, skipping entries that lack the pattern's longest literal run. */
	const char *lit;
	size_t litlen = longest_literal(pattern, &lit);
	char literal[256];
	if (litlen >= sizeof literal)
		litlen = sizeof literal - 1;
	memcpy(literal, lit, litlen);
	literal[litlen] = '\0';
	for (size_t i = 0; i < t->count; i++) {
		const struct symbol_entry *e = &t->entries[i];
		if (litlen > 0 && strstr(e->key, literal) == NULL && strstr(e->mangled, literal) == NULL)
			continue;
		if (glob_matches(e, pattern, search_glob))
			match_set_add(set, (uint32_t)i);
	}
	free(search_glob);
}

size_t symbol_table_match(struct symbol_table *t, const char *pattern, enum match_mode mode,
                          symbol_match_fn fn, void *ctx)
{
	if (t->count == 0 || pattern[0] == '\0')
		return 0;
	struct match_set set = { 0 };
	if (symbol_pattern_is_glob(pattern))
		match_glob(t, pattern, mode, &set);
	else
		match_exact(t, pattern, mode, &set);

	if (set.count > 1) /* items is NULL when nothing matched; qsort_r's base must not be */
		qsort_r(set.items, set.count, sizeof *set.items, compare_by_address, t);
	size_t reported = 0;
	for (size_t i = 0; i < set.count; i++) {
		if (i > 0 && set.items[i] == set.items[i - 1])
			continue;
		if (fn != NULL)
			fn(&t->entries[set.items[i]], ctx);
		reported++;
	}
	free(set.items);
	return reported;
}
